#!/usr/bin/env python3
"""Compare alembic-git-revisions 13 (the reference) with this package (ours).

Both install the import name ``alembic_git_revisions``, so every measurement runs
in a fresh child process of the side's interpreter. The child times only the
calls, with ``time.perf_counter`` (interpreter start and import are excluded),
and reports its peak RSS (``RUSAGE_SELF``) and that of its waited-for children
(``RUSAGE_CHILDREN``: the reference's ``git`` processes).

Scenarios (``--scenarios``, all by default):

cold-one
    ``build_chain`` of the first versions dir in a fresh process; our
    persistent cache is disabled (``ALEMBIC_GIT_REVISIONS_CACHE=off``).
cold-all
    ``build_chain`` of every versions dir, one after the other, in one fresh
    process, cache disabled. Per-dir times come from this scenario.
warm
    Like cold-all with our persistent cache valid: one unmeasured run fills a
    cache folder under ``benches/.work/``, then each round reads it. The
    reference has no persistent cache, so its numbers are a cold run.
incremental
    ``git clone --shared`` of the repo into ``benches/.work/`` (the repo
    itself is never written to); our cache is filled at its ``HEAD``, then one
    commit adding a dynamic migration to the first versions dir is made in the
    clone. Each round copies the cache as it was before that commit and runs
    cold-all in the clone.
per-call
    ``get_down_revision(revision)`` with auto-discovery, called from code
    compiled with a filename inside the first versions dir (no file is
    created there). Reports the first call (which builds the chain) and the
    mean of the following calls.
git
    The reference's ``git log --reverse --diff-filter=A --no-renames
    --topo-order --format= --name-only`` and ``git rev-list --topo-order HEAD``,
    each timed as a whole process (wall time, peak RSS via ``wait4``).

Sides alternate order from round to round; the table shows medians. Every
chain ours returns is checked against the reference's; a mismatch raises
``ChainMismatch`` (exit status 1 from the command line).

Usage::

    python benches/compare.py --repo /tmp/monorepo [--versions-dir DIR ...]
        [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
REFERENCE_REQUIREMENT = "alembic-git-revisions==13"
CACHE_ENV = "ALEMBIC_GIT_REVISIONS_CACHE"
SCENARIOS = ("cold-one", "cold-all", "warm", "incremental", "per-call", "git")
GIT_LOG = (
    "git",
    "log",
    "--reverse",
    "--diff-filter=A",
    "--no-renames",
    "--topo-order",
    "--format=",
    "--name-only",
)
GIT_REV_LIST = ("git", "rev-list", "--topo-order", "HEAD")
# Niceness of every measured process (the runners' ``--nice``; 0: left alone). On a
# shared machine other work takes CPU from the measured processes, and it costs a
# program on two threads more than one on a single thread (the reference's ``git``),
# so wall-time ratios drift with the load; a negative value (as root) gives them
# priority. See _nicer.
NICE = 0
_MIGRATION_RE = re.compile(r"^(down_)?revision\s*(:[^=\n]*)?=", re.MULTILINE)

# Runs in the child interpreter. Prints one JSON object as its last line.
CHILD = r"""
import json
import resource
import sys
import time
from pathlib import Path

perf = time.perf_counter
spec = json.loads(sys.argv[1])
t0 = perf()
import alembic_git_revisions as agr

# Part of the import: ours loads each public name's module on first use (the
# reference all of them with the package), so the calls timed below start after it.
agr.build_chain, agr.get_down_revision
out = {"import_s": perf() - t0, "file": agr.__file__}
try:
    from importlib import metadata

    names = metadata.packages_distributions().get("alembic_git_revisions", [])
    out["dists"] = sorted({f"{n} {metadata.version(n)}" for n in names})
except Exception as exc:  # identification only: never fail a measurement on it
    out["dists"] = [repr(exc)]
out["rss_before_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
dirs = [Path(d) for d in spec["dirs"]]
if spec["mode"] == "chains":
    per_dir = []
    chains = {}
    t_all = perf()
    for d in dirs:
        t = perf()
        chains[str(d)] = agr.build_chain(d)
        per_dir.append(perf() - t)
    out["total_s"] = perf() - t_all
    out["per_dir_s"] = per_dir
    out["chains"] = {k: dict(v) for k, v in chains.items()}
elif spec["mode"] == "per-call":
    revisions = spec["revisions"]
    n = spec["calls"]
    seq = (revisions * (n // len(revisions) + 1))[:n]
    # A filename inside the versions dir, as a migration module has: the
    # auto-discovery reads it from the caller's frame. The file need not exist.
    caller = str(dirs[0] / "_agr_bench_caller.py")
    code = compile(
        "for _r in _revs:\n    _results.append(get_down_revision(_r))\n", caller, "exec"
    )
    ns = {"get_down_revision": agr.get_down_revision, "_revs": seq[:1], "_results": []}
    t = perf()
    exec(code, ns)
    out["first_call_s"] = perf() - t
    results = []
    ns["_revs"] = seq
    ns["_results"] = results
    t = perf()
    exec(code, ns)
    out["per_call_s"] = (perf() - t) / n
    out["calls"] = n
    out["answers"] = dict(zip(seq, results))
else:
    raise SystemExit(f"unknown mode {spec['mode']!r}")
out["rss_peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["children_rss_peak_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(out))
"""


class ChainMismatch(AssertionError):
    """Our chain differs from the reference's for some versions dir."""


@dataclass(frozen=True)
class Side:
    """One implementation: an interpreter that imports ``alembic_git_revisions``.

    ``pythonpath`` is prepended to ``PYTHONPATH`` in the child, for a package
    installed with ``pip install --target`` rather than into the interpreter.
    """

    label: str
    python: str
    pythonpath: str | None = None


def _interpreter(path: str) -> str:
    """Absolute path of an interpreter: children run with another cwd."""
    found = os.path.abspath(path) if os.sep in path else shutil.which(path)
    if not found or not os.path.exists(found):
        raise FileNotFoundError(f"interpreter not found: {path}")
    return found


def _absolute(side: Side) -> Side:
    return Side(
        side.label,
        _interpreter(side.python),
        os.path.abspath(side.pythonpath) if side.pythonpath else None,
    )


def ensure_reference_python(work: Path = WORK) -> str:
    """Interpreter of a virtualenv under *work* with the reference installed."""
    venv = work / f"ref-venv-py{sys.version_info[0]}{sys.version_info[1]}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != REFERENCE_REQUIREMENT:
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", REFERENCE_REQUIREMENT], check=True
        )
        marker.write_text(REFERENCE_REQUIREMENT)
    return str(python)


def ensure_ours_python(wheel: str | Path, work: Path = WORK) -> str:
    """Interpreter of a virtualenv under *work* with our *wheel* installed (``--no-deps``).

    Made like the reference's (``python -m venv`` plus one package), so that both
    sides start the same interpreter with the same ``site`` set-up; one venv per
    wheel content, so a rebuilt wheel never changes what an earlier run measured.
    """
    wheel = Path(wheel).resolve()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    venv = work / f"ours-venv-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != wheel.name:
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True
        )
        marker.write_text(wheel.name)
    return str(python)


def discover_versions_dirs(repo: Path) -> list[Path]:
    """Every ``*/versions`` dir under *repo* holding Alembic migration modules."""
    found = []
    skip = {".git", "node_modules", ".venv", "__pycache__", ".tox"}
    for root, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        if Path(root).name != "versions":
            continue
        for name in sorted(f for f in filenames if f.endswith(".py"))[:5]:
            text = (Path(root) / name).read_text(encoding="utf-8", errors="replace")
            if _MIGRATION_RE.search(text):
                found.append(Path(root))
                break
    return found


def _median(values: Iterable[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Runner:
    """Runs the scenarios and collects samples; see the module docstring."""

    def __init__(
        self,
        repo: Path,
        dirs: list[Path],
        reference: Side,
        ours: Side | None,
        *,
        rounds: int,
        per_call_n: int,
        work: Path,
        log: Callable[[str], None],
        warm_reference: bool = True,
    ) -> None:
        self.repo = repo
        # The reference has no cache: its warm samples repeat cold-all. Campaigns
        # that run cold-all anyway may skip them (warm_reference=False).
        self.warm_reference = warm_reference
        self.dirs = dirs
        self.sides = (reference, ours) if ours is not None else (reference,)
        self.reference, self.ours = reference, ours
        self.rounds = rounds
        self.per_call_n = per_call_n
        self.work = work
        self.log = log
        self.samples: dict[str, dict[str, list[dict]]] = {}
        self.identity: dict[str, dict] = {}
        self._ref_chains: dict[str, dict[str, str]] | None = None

    # -- processes -------------------------------------------------------------

    def child(self, side: Side, spec: dict, cache: str | None) -> dict:
        env = dict(os.environ)
        env.pop(CACHE_ENV, None)
        if cache is not None:
            env[CACHE_ENV] = cache
        if side.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (side.pythonpath, env.get("PYTHONPATH")) if p
            )
        proc = subprocess.run(
            [side.python, "-c", CHILD, json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.work,  # keeps the project checkout off the child's sys.path
            preexec_fn=_nicer(),
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{side.label} child failed ({proc.returncode}) for {spec['mode']}:\n"
                f"{proc.stderr[-4000:]}"
            )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        self.identity.setdefault(side.label, {"file": result["file"], "dists": result["dists"]})
        return result

    def chains(self, side: Side, dirs: list[Path], cache: str | None) -> dict:
        return self.child(side, {"mode": "chains", "dirs": [str(d) for d in dirs]}, cache)

    def _order(self, round_: int) -> tuple[Side, ...]:
        return self.sides if round_ % 2 == 0 else self.sides[::-1]

    def _add(self, scenario: str, side: Side, sample: dict) -> None:
        sample = {k: v for k, v in sample.items() if k not in ("chains", "answers")}
        self.samples.setdefault(scenario, {}).setdefault(side.label, []).append(sample)

    # -- correctness -------------------------------------------------------------

    def reference_chains(self) -> dict[str, dict[str, str]]:
        if self._ref_chains is None:
            self._ref_chains = self.chains(self.reference, self.dirs, "off")["chains"]
        return self._ref_chains

    def check(self, what: str, expected: dict, got: dict) -> None:
        problems = []
        for d, want in expected.items():
            have = got.get(d)
            if have == want:
                continue
            if have is None:
                problems.append(f"{d}: no chain returned")
                continue
            keys = sorted(set(want) | set(have))
            diff = [k for k in keys if want.get(k) != have.get(k)]
            shown = ", ".join(f"{k}: ref={want.get(k)} ours={have.get(k)}" for k in diff[:5])
            problems.append(f"{d}: {len(diff)} of {len(keys)} entries differ ({shown})")
        if problems:
            raise ChainMismatch(f"{what}: ours differs from the reference\n" + "\n".join(problems))

    # -- scenarios -----------------------------------------------------------------

    def run_cold(self, scenario: str, dirs: list[Path]) -> None:
        for r in range(self.rounds):
            for side in self._order(r):
                result = self.chains(side, dirs, "off")
                if side is self.reference and self._ref_chains is None and dirs == self.dirs:
                    self._ref_chains = result["chains"]
                expected = {
                    k: v for k, v in self.reference_chains().items() if k in result["chains"]
                }
                self.check(f"{scenario} ({side.label})", expected, result["chains"])
                self._add(scenario, side, result)

    def run_warm(self) -> None:
        cache = Path(tempfile.mkdtemp(prefix="cache-warm-", dir=self.work))
        try:
            if self.ours is not None:
                self.log("  filling our cache")
                self.check(
                    "warm fill",
                    self.reference_chains(),
                    self.chains(self.ours, self.dirs, str(cache))["chains"],
                )
            for r in range(self.rounds):
                sides = self._order(r) if self.warm_reference else (self.ours,)
                for side in sides:
                    if side is None:
                        continue
                    result = self.chains(side, self.dirs, str(cache))
                    self.check(f"warm ({side.label})", self.reference_chains(), result["chains"])
                    self._add("warm", side, result)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    def run_incremental(self) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="incremental-", dir=self.work))
        try:
            clone = scratch / "repo"
            self.log("  cloning (--shared) into a scratch dir")
            subprocess.run(
                ["git", "clone", "-q", "--shared", str(self.repo), str(clone)], check=True
            )
            dirs = [clone / d.relative_to(self.repo) for d in self.dirs]
            before = scratch / "cache-before"
            before.mkdir()
            if self.ours is not None:
                self.chains(self.ours, dirs, str(before))
            _commit_new_migration(clone, dirs[0])
            expected = self.chains(self.reference, dirs, "off")["chains"]
            if not expected.get(str(dirs[0])):
                raise RuntimeError("the incremental commit produced no chain entry")
            cache = scratch / "cache-round"
            for r in range(self.rounds):
                for side in self._order(r):
                    shutil.rmtree(cache, ignore_errors=True)
                    shutil.copytree(before, cache)
                    result = self.chains(side, dirs, str(cache))
                    self.check(f"incremental ({side.label})", expected, result["chains"])
                    self._add("incremental", side, result)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def run_per_call(self) -> None:
        d = self.dirs[0]
        chain = self.reference_chains()[str(d)]
        if not chain:
            self.log(f"  skipped: {d} has no dynamic migrations")
            return
        spec = {
            "mode": "per-call",
            "dirs": [str(d)],
            "revisions": sorted(chain),
            "calls": self.per_call_n,
        }
        for r in range(self.rounds):
            for side in self._order(r):
                result = self.child(side, spec, "off")
                wrong = {k: v for k, v in result["answers"].items() if chain[k] != v}
                if wrong:
                    raise ChainMismatch(f"get_down_revision ({side.label}) differs: {wrong}")
                self._add("per-call", side, result)

    def run_git(self) -> None:
        for _ in range(self.rounds):
            for label, cmd, cwd in (
                ("git log", GIT_LOG, self.dirs[0].parent),
                ("git rev-list", GIT_REV_LIST, self.repo),
            ):
                self.samples.setdefault("git", {}).setdefault(label, []).append(
                    _time_process(cmd, cwd)
                )

    def run(self, scenarios: Iterable[str]) -> None:
        for scenario in scenarios:
            self.log(f"{scenario}: {self.rounds} round(s)")
            t = time.perf_counter()
            if scenario == "cold-one":
                self.run_cold("cold-one", self.dirs[:1])
            elif scenario == "cold-all":
                self.run_cold("cold-all", self.dirs)
            elif scenario == "warm":
                self.run_warm()
            elif scenario == "incremental":
                self.run_incremental()
            elif scenario == "per-call":
                self.run_per_call()
            elif scenario == "git":
                self.run_git()
            else:
                raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
            self.log(f"  done in {time.perf_counter() - t:.1f} s")

    # -- report ------------------------------------------------------------------

    def summary(self) -> dict:
        """Medians per scenario and side (seconds, KiB), plus the raw samples."""
        med: dict[str, dict] = {}
        for scenario, by_side in self.samples.items():
            med[scenario] = {}
            for label, samples in by_side.items():
                keys = {k for s in samples for k, v in s.items() if isinstance(v, (int, float))}
                m = {k: _median(s.get(k) for s in samples) for k in sorted(keys)}
                if samples and "per_dir_s" in samples[0]:
                    m["per_dir_s"] = [
                        _median(s["per_dir_s"][i] for s in samples)
                        for i in range(len(samples[0]["per_dir_s"]))
                    ]
                med[scenario][label] = m
        return {"medians": med, "samples": self.samples, "identity": self.identity}


def _time_process(cmd: tuple[str, ...], cwd: Path) -> dict:
    """Wall time, output size and peak RSS of one process (its own rusage)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, preexec_fn=_nicer())
    assert proc.stdout is not None
    data = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
    return {"total_s": elapsed, "rss_peak_kb": usage.ru_maxrss, "lines": data.count(b"\n")}


# A dynamic migration added by the incremental scenarios ({rev}: its revision id).
MIGRATION_TEMPLATE = (
    '"""Incremental benchmark migration."""\n'
    "from alembic import op\n"
    "from alembic_git_revisions import get_down_revision\n\n"
    'revision = "{rev}"\n'
    "down_revision = get_down_revision(revision)\n\n\n"
    "def upgrade() -> None:\n    op.execute('SELECT 1')\n\n\n"
    "def downgrade() -> None:\n    pass\n"
)


def _nicer() -> Callable[[], None] | None:
    """``preexec_fn`` applying :data:`NICE` to a measured child (and its children), or None.

    With the scheduler's autogroups (Linux's default), niceness only orders processes
    within one session, and every session gets an equal share: the child therefore
    starts its own session and sets that session's niceness
    (``/proc/self/autogroup``) as well as its own.
    """
    nice = NICE
    if not nice:
        return None

    def apply() -> None:
        os.setsid()
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
        except OSError:
            pass  # no autogroups here: os.nice alone does it
        os.nice(nice)

    return apply


def _commit_new_migration(clone: Path, versions_dir: Path) -> None:
    """Add one dynamic migration in a new commit with fixed dates and identity."""
    rev = "feedc0ffee00"
    (versions_dir / f"{rev}_incremental_bench.py").write_text(
        MIGRATION_TEMPLATE.format(rev=rev), encoding="utf-8"
    )
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_AUTHOR_DATE="2040-01-01T00:00:00+0000",
        GIT_COMMITTER_DATE="2040-01-01T00:00:00+0000",
    )
    subprocess.run(["git", "-C", str(clone), "add", "-A", str(versions_dir)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(clone), "commit", "-q", "--no-verify", "-m", "Add migration"],
        check=True,
        env=env,
    )


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.2f} µs"


def _fmt_rss(m: dict | None) -> str:
    if not m or m.get("rss_peak_kb") is None:
        return "n/a"
    text = f"{m['rss_peak_kb'] / 1024:.0f} MiB"
    if m.get("children_rss_peak_kb"):
        text += f" (+git {m['children_rss_peak_kb'] / 1024:.0f} MiB)"
    return text


def _ratio(ref: float | None, ours: float | None) -> str:
    if not ref or not ours:
        return "n/a"
    return f"{ref / ours:.1f}x"


def markdown(summary: dict, meta: dict) -> str:
    med = summary["medians"]
    ident = summary["identity"]
    lines = [
        f"Repository: `{meta['repo']}` at {meta['head'][:12]}: {meta['commits']} commits "
        f"({meta['merges']} merges), {len(meta['dirs'])} versions dir(s); "
        f"{meta['rounds']} round(s), medians.",
        "",
    ]
    for label in ("reference", "ours"):
        if label in ident:
            dists = ", ".join(ident[label]["dists"]) or "?"
            lines.append(f"- {label}: {dists} (`{ident[label]['file']}`)")
    if ident.get("reference", {}).get("file") == ident.get("ours", {}).get("file"):
        lines.append("- note: both sides imported the same package")
    lines += [
        "",
        "| Scenario | Reference | Ours | Speedup | Reference peak RSS | Ours peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, scenario: str, key: str, index: int | None = None) -> None:
        ref = med.get(scenario, {}).get("reference")
        ours = med.get(scenario, {}).get("ours")
        if ref is None and ours is None:
            return

        def get(m: dict | None) -> float | None:
            if m is None:
                return None
            return m[key][index] if index is not None else m.get(key)

        r, o = get(ref), get(ours)
        rss = (_fmt_rss(ref), _fmt_rss(ours)) if index is None else ("", "")
        lines.append(
            f"| {name} | {_fmt_time(r)} | {_fmt_time(o)} | {_ratio(r, o)} | {rss[0]} | {rss[1]} |"
        )

    dirs = meta["dirs"]
    row(f"cold, one dir (`{dirs[0]}`)", "cold-one", "total_s")
    row(f"cold, all {len(dirs)} dirs in one process", "cold-all", "total_s")
    if "cold-all" in med and len(dirs) > 1:
        for i, d in enumerate(dirs):
            row(f"&nbsp;&nbsp;↳ `{d}` ({meta['migrations'][d]} files)", "cold-all", "per_dir_s", i)
    row("warm: all dirs, persistent cache valid", "warm", "total_s")
    row("incremental: all dirs, 1 new commit since cache", "incremental", "total_s")
    row("`get_down_revision` per call (auto-discovery)", "per-call", "per_call_s")
    row("`get_down_revision` first call (builds the chain)", "per-call", "first_call_s")
    git = med.get("git", {})
    for label, name in (
        ("git log", "raw `git log` (reference command)"),
        ("git rev-list", "raw `git rev-list --topo-order HEAD`"),
    ):
        if label in git:
            m = git[label]
            lines.append(
                f"| {name} | {_fmt_time(m['total_s'])} | | | {m['rss_peak_kb'] / 1024:.0f} MiB | |"
            )
    lines += [
        "",
        "The reference has no persistent cache: its warm and incremental rows are cold runs.",
        "Times exclude interpreter start-up and import; peak RSS is the whole child process.",
    ]
    return "\n".join(lines) + "\n"


def _git_out(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def run(
    repo: str | Path,
    versions_dirs: Iterable[str | Path] | None = None,
    *,
    rounds: int = 5,
    scenarios: Iterable[str] = SCENARIOS,
    reference: Side | None = None,
    ours: Side | None = None,
    reference_only: bool = False,
    per_call_n: int = 20_000,
    work: Path = WORK,
    log: Callable[[str], None] | None = None,
    warm_reference: bool = True,
) -> dict:
    """Run the comparison; returns ``{"meta", "medians", "samples", "identity", "markdown"}``.

    Raises :class:`ChainMismatch` when any chain of ours differs from the
    reference's.
    """
    if log is None:

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    repo = Path(repo).resolve()
    if versions_dirs:
        dirs = [
            (repo / d).resolve() if not Path(d).is_absolute() else Path(d) for d in versions_dirs
        ]
    else:
        dirs = discover_versions_dirs(repo)
    if not dirs:
        raise SystemExit(f"no versions dir with migrations found under {repo}")
    for d in dirs:
        if (d.parent / "revision_chain.json").exists():
            log(f"warning: {d.parent}/revision_chain.json exists: both sides read it, not git")
    work.mkdir(parents=True, exist_ok=True)
    if reference is None:
        reference = Side("reference", ensure_reference_python())
    if reference_only:
        ours = None
    elif ours is None:
        ours = Side("ours", sys.executable)
    # Children run in another cwd: make interpreter and path absolute.
    reference = _absolute(reference)
    ours = _absolute(ours) if ours is not None else None
    scenarios = list(scenarios)
    if ours is None:
        # Without ours these would only repeat cold-all: the reference has no cache.
        scenarios = [s for s in scenarios if s not in ("warm", "incremental")]
    runner = Runner(
        repo,
        dirs,
        reference,
        ours,
        rounds=rounds,
        per_call_n=per_call_n,
        work=work,
        log=log,
        warm_reference=warm_reference,
    )
    runner.run(scenarios)
    rel = [str(d.relative_to(repo)) if d.is_relative_to(repo) else str(d) for d in dirs]
    meta = {
        "repo": str(repo),
        "head": _git_out(repo, "rev-parse", "HEAD"),
        "commits": int(_git_out(repo, "rev-list", "--count", "HEAD")),
        "merges": int(_git_out(repo, "rev-list", "--count", "--merges", "HEAD")),
        "dirs": rel,
        "migrations": {r: sum(1 for _ in d.glob("*.py")) for r, d in zip(rel, dirs, strict=True)},
        "rounds": rounds,
        "scenarios": scenarios,
        "git": _git_out(repo, "--version"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    result = {"meta": meta, **runner.summary()}
    result["markdown"] = markdown(result, meta)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument(
        "--versions-dir",
        action="append",
        default=[],
        help="relative to --repo or absolute; repeatable (default: discover */versions)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the measured processes (see NICE)"
    )
    parser.add_argument("--json", type=Path, help="write medians and raw samples here")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}"
    )
    parser.add_argument("--per-call-n", type=int, default=20_000, help="calls in per-call")
    parser.add_argument(
        "--ours-python", default=sys.executable, help="interpreter with our package (default: this)"
    )
    parser.add_argument(
        "--ours-wheel",
        help="our wheel, installed into a venv under benches/.work/ (overrides --ours-python)",
    )
    parser.add_argument(
        "--ours-path",
        help="dir prepended to PYTHONPATH for our side (e.g. a copy of the installed package)",
    )
    parser.add_argument("--reference-only", action="store_true", help="measure the reference alone")
    parser.add_argument(
        "--reference-python",
        help=f"interpreter with {REFERENCE_REQUIREMENT} (default: a venv under benches/.work/)",
    )
    parser.add_argument(
        "--reference-path", help="dir prepended to PYTHONPATH for the reference side"
    )
    args = parser.parse_args(argv)
    global NICE
    NICE = args.nice
    reference = Side(
        "reference",
        _interpreter(
            args.reference_python
            or (sys.executable if args.reference_path else ensure_reference_python())
        ),
        os.path.abspath(args.reference_path) if args.reference_path else None,
    )
    try:
        result = run(
            args.repo,
            args.versions_dir,
            rounds=args.rounds,
            scenarios=[s for s in args.scenarios.split(",") if s],
            reference=reference,
            ours=Side(
                "ours",
                _interpreter(
                    ensure_ours_python(args.ours_wheel) if args.ours_wheel else args.ours_python
                ),
                os.path.abspath(args.ours_path) if args.ours_path else None,
            ),
            reference_only=args.reference_only,
            per_call_n=args.per_call_n,
        )
    except ChainMismatch as exc:
        print(f"CHAIN MISMATCH: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
