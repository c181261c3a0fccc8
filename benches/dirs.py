#!/usr/bin/env python3
"""Cold comparison, one versions directory at a time, over many repositories.

Takes ``repo:versions_dir`` pairs (arguments, or ``--list`` files with one pair
a line; a relative repo is relative to the list file) and measures, for each
directory, the reference (alembic-git-revisions 13) and ours:

* cold: a fresh interpreter per sample, our persistent cache off
  (``ALEMBIC_GIT_REVISIONS_CACHE=off``); the reference has none;
* the two sides alternate which goes first from round to round; medians of
  ``--rounds`` samples (3 by default);
* two times per sample: the call alone (``parse_versions_dir`` by default,
  ``time.perf_counter`` around it in the child, once the function is imported:
  ours imports each public name's module on first use, which counts as import)
  and the whole process, from
  spawning the interpreter to reaping it (start-up, import, call, exit);
* the peak RSS of the process tree (for the reference, its ``git`` child);
* every result of ours must equal the reference's (the full ordered list of
  migrations for ``parse_versions_dir``): any difference stops the run with
  ``ChainMismatch``, exit status 1. A directory the reference refuses (it raises)
  is reported and left out of the geometric means.

The geometric mean of the per-directory speedups (call and process) ends the
table. A second table, per repository, shows commit loading against
``git rev-list --topo-order HEAD`` on the same clone, from our
``ALEMBIC_GIT_REVISIONS_TRACE=1`` phase timings (separate, unmeasured-for-speed
runs of the first directory, alternating with ``rev-list``), and the part of the
call spent outside the history walk.

Nothing here uses the network once the clones and the two virtualenvs exist.

    python benches/dirs.py --list ../bench-clones/plain.txt --ours-wheel target/wheels/*.whl \\
        --rounds 3 --json plain.json
    python benches/dirs.py /path/to/repo:migrations/versions
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # benches/ is not a package: its dir is put on sys.path above

CALLS = ("parse_versions_dir", "build_chain")
TRACE_ENV = "ALEMBIC_GIT_REVISIONS_TRACE"
TRACE_LINE = re.compile(r"^alembic-git-revisions: (.+?): ([0-9.]+) ms\s*$")
# The trace phase that reads commits (ids, parents, trees) before ordering them.
LOADING_PHASE = re.compile(r"load commit", re.IGNORECASE)
TOPO_PHASE = re.compile(r"topolog", re.IGNORECASE)
DIFF_PHASE = re.compile(r"tree comparison|diff", re.IGNORECASE)

# Runs in the child interpreter; prints one JSON object as its last line. Only
# what the harness needs is imported before the package, identically on both sides.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
perf = time.perf_counter
def cpu():  # this process's threads and its waited-for children (git)
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
spec = json.loads(sys.argv[1])
t0 = perf()
import alembic_git_revisions as agr
# Part of the import: ours loads each public name's module on first use, the
# reference all of them with the package; either way the call starts after it.
call = getattr(agr, spec["call"])
t1 = perf()
error = None
c1 = cpu()
try:
    result = call(Path(spec["dir"]))
except Exception as exc:
    result = None
    error = f"{type(exc).__name__}: {exc}"
t2 = perf()
c2 = cpu()
if spec["call"] == "parse_versions_dir" and result is not None:
    result = [
        [m.revision, m.filename, m.git_sequence, m.is_dynamic, list(m.static_down_revisions)]
        for m in result
    ]
elif result is not None:
    result = dict(result)
print(json.dumps({
    "import_s": t1 - t0,
    "call_s": t2 - t1,
    "call_cpu_s": c2 - c1,
    "error": error,
    "result": result,
    "self_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""

IDENTIFY = r"""
import json, alembic_git_revisions as agr
from importlib import metadata
names = metadata.packages_distributions().get("alembic_git_revisions", [])
print(json.dumps({"file": agr.__file__,
                  "dists": sorted(f"{n} {metadata.version(n)}" for n in set(names))}))
"""


class ChainMismatch(compare.ChainMismatch):
    """Ours returned something else than the reference for a directory."""


@dataclass
class Target:
    """One ``repo:versions_dir`` pair and what the run learnt about it."""

    repo: Path
    rel: str
    samples: dict[str, list[dict]] = field(default_factory=dict)
    expected: object = None
    reference_error: str | None = None

    @property
    def dir(self) -> Path:
        return self.repo / self.rel


def parse_pairs(pairs: Iterable[str], lists: Iterable[Path]) -> list[Target]:
    """Targets from ``repo:dir`` arguments and list files (``#`` starts a comment)."""
    out: list[Target] = []

    def add(text: str, base: Path | None) -> None:
        repo, sep, rel = text.partition(":")
        if not sep or not repo or not rel:
            raise SystemExit(f"expected repo:versions_dir, got {text!r}")
        path = Path(repo).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        path = path.resolve()
        if not (path / rel).is_dir():
            raise SystemExit(f"not a directory: {path / rel} (from {text!r})")
        out.append(Target(path, rel.rstrip("/")))

    for pair in pairs:
        add(pair, None)
    for file in lists:
        for line in Path(file).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                add(line, Path(file).resolve().parent)
    if not out:
        raise SystemExit("no repo:versions_dir given")
    return out


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def repo_facts(repo: Path) -> dict:
    """What identifies a repository in the tables; no path of this machine."""
    try:
        url = git_out(repo, "config", "remote.origin.url")
    except subprocess.CalledProcessError:
        url = ""
    m = re.match(r"^(?:https://github\.com/|git@github\.com:)([^/]+/[^/]+?)(?:\.git)?/?$", url)
    label = m.group(1) if m else repo.name
    if not m and repo.name in ("plain", "graph"):
        label = f"{repo.parent.name}/{repo.name}"
    objects = Path(git_out(repo, "rev-parse", "--path-format=absolute", "--git-path", "objects"))
    graph = (objects / "info" / "commit-graph").exists() or (
        objects / "info" / "commit-graphs"
    ).is_dir()
    return {
        "label": label,
        "url": url if m else None,
        "head": git_out(repo, "rev-parse", "HEAD"),
        "commits": int(git_out(repo, "rev-list", "--count", "HEAD")),
        "merges": int(git_out(repo, "rev-list", "--count", "--merges", "HEAD")),
        "commit_graph": graph,
        "packs": len(list((objects / "pack").glob("*.pack"))),
    }


def parse_trace(stderr: str) -> dict[str, float]:
    """Phase -> seconds from ``ALEMBIC_GIT_REVISIONS_TRACE`` lines (repeated phases add)."""
    phases: dict[str, float] = {}
    for line in stderr.splitlines():
        m = TRACE_LINE.match(line.strip())
        if m:
            phases[m.group(1)] = phases.get(m.group(1), 0.0) + float(m.group(2)) / 1e3
    return phases


class Spawned(NamedTuple):
    """One finished process: wall time, peak RSS and CPU time of its tree, output."""

    wall_s: float
    rss_kb: int
    cpu_s: float
    out: bytes
    err: bytes
    status: int


def _spawn_timed(argv: list[str], env: dict, cwd: Path | None) -> Spawned:
    """Run *argv* to completion; its wall time and, from ``wait4``, its tree's rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        preexec_fn=compare._nicer(),
    )
    out, err = _drain(proc)  # to EOF, without reaping: wait4 reaps and gives the rusage
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Spawned(wall, usage.ru_maxrss, cpu, out, err, proc.returncode)


def _drain(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Read stdout and stderr to EOF without reaping the process."""
    import selectors

    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        sel.register(f, selectors.EVENT_READ)
    while sel.get_map():
        for key, _ in sel.select():
            data = os.read(key.fd, 1 << 16)
            if data:
                chunks[key.fd].append(data)
            else:
                sel.unregister(key.fileobj)
    return b"".join(chunks[proc.stdout.fileno()]), b"".join(chunks[proc.stderr.fileno()])


def child(side: compare.Side, spec: dict, env_extra: dict | None = None) -> dict:
    """One fresh interpreter running CHILD: its figures, wall time and tree peak RSS."""
    env = dict(os.environ)
    env[compare.CACHE_ENV] = "off"
    env.pop(TRACE_ENV, None)
    env.update(env_extra or {})
    if side.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (side.pythonpath, env.get("PYTHONPATH")) if p
        )
    cwd = compare.WORK if compare.WORK.is_dir() else None  # off the project checkout
    run = _spawn_timed([side.python, "-c", CHILD, json.dumps(spec)], env, cwd)
    if run.status != 0:
        raise RuntimeError(
            f"{side.label} child failed ({run.status}) on {spec['dir']}:\n"
            f"{run.err.decode(errors='replace')[-4000:]}"
        )
    result = json.loads(run.out.decode().strip().splitlines()[-1])
    result.update(
        wall_s=run.wall_s,
        tree_rss_kb=run.rss_kb,
        cpu_s=run.cpu_s,
        stderr=run.err.decode(errors="replace"),
        loadavg=os.getloadavg()[0],
    )
    return result


def identify(side: compare.Side) -> dict:
    env = dict(os.environ)
    if side.pythonpath:
        env["PYTHONPATH"] = side.pythonpath
    proc = subprocess.run(
        [side.python, "-c", IDENTIFY], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(proc.stdout)


def median(values: Iterable[float | None]) -> float | None:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def geomean(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None


def _describe(result: object, call: str) -> str:
    if call == "parse_versions_dir" and isinstance(result, list):
        return f"{len(result)} migration{'' if len(result) == 1 else 's'}"
    if isinstance(result, dict):
        return f"{len(result)} chain entr{'y' if len(result) == 1 else 'ies'}"
    return repr(result)[:80]


def _diff(expected: object, got: object) -> str:
    if isinstance(expected, list) and isinstance(got, list):
        for i, (a, b) in enumerate(zip(expected, got, strict=False)):
            if a != b:
                return f"first difference at position {i}: reference {a}, ours {b}"
        return f"reference has {len(expected)} migrations, ours {len(got)}"
    if isinstance(expected, dict) and isinstance(got, dict):
        keys = sorted(set(expected) | set(got))
        bad = [k for k in keys if expected.get(k) != got.get(k)]
        return ", ".join(f"{k}: ref={expected.get(k)} ours={got.get(k)}" for k in bad[:5])
    return f"reference {expected!r:.200}, ours {got!r:.200}"


class DirsRunner:
    """Measures every target; see the module docstring."""

    def __init__(
        self,
        targets: list[Target],
        reference: compare.Side,
        ours: compare.Side,
        *,
        rounds: int,
        loading_rounds: int,
        call: str,
        warmup: int = 1,
        log: Callable[[str], None],
    ) -> None:
        if call not in CALLS:
            raise ValueError(f"call must be one of {CALLS}")
        self.targets = targets
        self.reference, self.ours = reference, ours
        self.rounds, self.loading_rounds, self.call = rounds, loading_rounds, call
        self.warmup = warmup
        self.log = log
        self.repos: dict[Path, dict] = {}
        self.loading: dict[Path, dict[str, list]] = {}

    def _order(self, r: int) -> tuple[compare.Side, compare.Side]:
        return (self.reference, self.ours) if r % 2 == 0 else (self.ours, self.reference)

    def measure_dir(self, t: Target) -> None:
        spec = {"call": self.call, "dir": str(t.dir)}
        for r in range(self.rounds):
            for side in self._order(r):
                res = child(side, spec)
                label = side.label
                if label == "reference":
                    if t.expected is None and t.reference_error is None:
                        t.expected, t.reference_error = res["result"], res["error"]
                    elif (res["result"], res["error"]) != (t.expected, t.reference_error):
                        raise RuntimeError(f"{t.dir}: the reference's answer changed between runs")
                else:
                    self._check(t, res)
                res.pop("result", None)
                res.pop("stderr", None)
                t.samples.setdefault(label, []).append(res)

    def _check(self, t: Target, res: dict) -> None:
        if t.expected is None and t.reference_error is None:
            ref = child(self.reference, {"call": self.call, "dir": str(t.dir)})
            t.expected, t.reference_error = ref["result"], ref["error"]
        if t.reference_error is not None:
            return  # reported; not comparable
        if res["error"] is not None:
            raise ChainMismatch(f"{t.dir}: ours raised {res['error']}; the reference did not")
        if res["result"] != t.expected:
            raise ChainMismatch(f"{t.dir}: ours differs: {_diff(t.expected, res['result'])}")

    def measure_loading(self, repo: Path, first: Target) -> None:
        """Our traced phases vs ``git rev-list --topo-order HEAD``, alternating."""
        spec = {"call": self.call, "dir": str(first.dir)}
        got: dict[str, list] = {"rev_list_s": [], "phases": [], "call_s": []}
        for r in range(self.loading_rounds):
            for which in ("rev-list", "ours") if r % 2 == 0 else ("ours", "rev-list"):
                if which == "rev-list":
                    run = _spawn_timed(list(compare.GIT_REV_LIST), dict(os.environ), repo)
                    if run.status:
                        raise RuntimeError(f"git rev-list failed in {repo}")
                    got["rev_list_s"].append(run.wall_s)
                else:
                    res = child(self.ours, spec, {TRACE_ENV: "1"})
                    self._check(first, res)
                    got["phases"].append(parse_trace(res["stderr"]))
                    got["call_s"].append(res["call_s"])
        self.loading[repo] = got

    def run(self) -> None:
        by_repo: dict[Path, list[Target]] = {}
        for t in self.targets:
            by_repo.setdefault(t.repo, []).append(t)
        for repo, targets in by_repo.items():
            self.repos[repo] = repo_facts(repo)
            facts = self.repos[repo]
            self.log(
                f"{facts['label']} ({facts['commits']} commits, "
                f"commit-graph {'yes' if facts['commit_graph'] else 'no'})"
            )
            for _ in range(self.warmup):  # page cache: the first sample is not special
                child(self.ours, {"call": self.call, "dir": str(targets[0].dir)})
            for t in targets:
                start = time.perf_counter()
                self.measure_dir(t)
                self.log(f"  {t.rel}: {time.perf_counter() - start:.1f} s")
            if self.loading_rounds:
                self.measure_loading(repo, targets[0])

    # -- report ---------------------------------------------------------------------

    def summary(self) -> dict:
        rows = []
        for t in self.targets:
            facts = self.repos[t.repo]
            row = {
                "repo": facts["label"],
                "dir": t.rel,
                "commits": facts["commits"],
                "commit_graph": facts["commit_graph"],
                "result": _describe(t.expected, self.call),
                "reference_error": t.reference_error,
            }
            for label in ("reference", "ours"):
                samples = t.samples.get(label, [])
                for key in (
                    "call_s",
                    "wall_s",
                    "call_cpu_s",
                    "cpu_s",
                    "import_s",
                    "tree_rss_kb",
                    "self_rss_kb",
                    "loadavg",
                ):
                    row[f"{label}_{key}"] = median(s.get(key) for s in samples)
            ok = t.reference_error is None
            row["call_ratio"] = (
                _safe_ratio(row["reference_call_s"], row["ours_call_s"]) if ok else None
            )
            row["wall_ratio"] = (
                _safe_ratio(row["reference_wall_s"], row["ours_wall_s"]) if ok else None
            )
            row["cpu_ratio"] = (
                _safe_ratio(row["reference_call_cpu_s"], row["ours_call_cpu_s"]) if ok else None
            )
            row["samples"] = t.samples
            rows.append(row)
        loading = []
        for repo, got in self.loading.items():
            phases: dict[str, float | None] = {}
            names = [n for p in got["phases"] for n in p]
            for name in dict.fromkeys(names):
                phases[name] = median(p.get(name, 0.0) for p in got["phases"])
            walk = [sum(p.values()) for p in got["phases"]]
            beyond = [c - w for c, w in zip(got["call_s"], walk, strict=True)]
            loading_s = median(
                sum(v for k, v in p.items() if LOADING_PHASE.search(k)) for p in got["phases"]
            )
            rev_list = median(got["rev_list_s"])
            loading.append(
                {
                    "repo": self.repos[repo]["label"],
                    "commits": self.repos[repo]["commits"],
                    "commit_graph": self.repos[repo]["commit_graph"],
                    "rev_list_s": rev_list,
                    "loading_s": loading_s,
                    "loading_over_rev_list": (loading_s / rev_list)
                    if loading_s and rev_list
                    else None,
                    "phases_s": phases,
                    "walk_s": median(walk),
                    "call_s": median(got["call_s"]),
                    "beyond_walk_s": median(beyond),
                    "samples": got,
                }
            )
        ok_rows = [r for r in rows if r["call_ratio"]]
        return {
            "rows": rows,
            "loading": loading,
            "geomean_call": geomean(r["call_ratio"] for r in ok_rows),
            "geomean_wall": geomean(r["wall_ratio"] for r in ok_rows),
            "geomean_cpu": geomean(r["cpu_ratio"] for r in ok_rows),
            "min_call": min((r["call_ratio"] for r in ok_rows), default=None),
            "min_wall": min((r["wall_ratio"] for r in ok_rows), default=None),
            "min_cpu": min((r["cpu_ratio"] for r in ok_rows if r["cpu_ratio"]), default=None),
            "compared": len(ok_rows),
        }


def _safe_ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _t(s: float | None) -> str:
    return compare._fmt_time(s)


def _x(r: float | None) -> str:
    return f"{r:.2f}x" if r else "n/a"


def _mib(kb: float | None) -> str:
    return f"{kb / 1024:.0f} MiB" if kb else "n/a"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _result(r: dict) -> str:
    error = r["reference_error"]
    return f"reference raised: {error[:60]}" if error else r["result"]


def markdown(summary: dict, meta: dict) -> str:
    lines = [
        f"{meta['date']}, {meta['machine']}, {meta['git']}, Python {meta['python']}; "
        f"`{meta['call']}`, cold (`ALEMBIC_GIT_REVISIONS_CACHE=off`), fresh interpreter per "
        f"sample, sides alternating, median of {meta['rounds']}.",
        "",
    ]
    for label, ident in meta["identity"].items():
        lines.append(f"- {label}: {', '.join(ident['dists']) or '?'}")
    columns = [
        ("repository", "---", lambda r: r["repo"]),
        ("versions dir", "---", lambda r: f"`{r['dir']}`"),
        ("commits", "---:", lambda r: r["commits"]),
        ("graph", ":-:", lambda r: _yes(r["commit_graph"])),
        ("result", "---", _result),
        ("reference call", "---:", lambda r: _t(r["reference_call_s"])),
        ("ours call", "---:", lambda r: _t(r["ours_call_s"])),
        ("speedup", "---:", lambda r: _x(r["call_ratio"])),
        ("CPU speedup", "---:", lambda r: _x(r["cpu_ratio"])),
        ("reference process", "---:", lambda r: _t(r["reference_wall_s"])),
        ("ours process", "---:", lambda r: _t(r["ours_wall_s"])),
        ("speedup", "---:", lambda r: _x(r["wall_ratio"])),
        ("peak RSS ref (tree)", "---:", lambda r: _mib(r["reference_tree_rss_kb"])),
        ("ours", "---:", lambda r: _mib(r["ours_tree_rss_kb"])),
        ("load", "---:", lambda r: f"{r['ours_loadavg']:.1f}" if r["ours_loadavg"] else ""),
    ]
    lines += ["", _row(*(c[0] for c in columns)), _row(*(c[1] for c in columns))]
    lines += [_row(*(c[2](r) for c in columns)) for r in summary["rows"]]
    for label, how, key in (("**geomean**", "**{}**", "geomean"), ("lowest", "{}", "min")):
        cells = [""] * len(columns)
        cells[0] = label if key == "min" else f"{label} ({summary['compared']} dirs)"
        cells[7] = how.format(_x(summary[f"{key}_call"]))
        cells[8] = how.format(_x(summary[f"{key}_cpu"]))
        cells[11] = how.format(_x(summary[f"{key}_wall"]))
        lines.append(_row(*cells))
    lines += [
        "",
        "Call: the `parse_versions_dir` call's wall time in the child; CPU speedup: the "
        "call's CPU time (all threads and the reference's `git` child), less sensitive to "
        "other load than wall time; process: spawn to reap; load: the 1-minute load "
        "average during ours (median).",
    ]
    graphs = {r["commit_graph"] for r in summary["rows"]}
    if summary["geomean_call"]:
        with_graph = graphs == {True}
        goal = 4.0 if with_graph else 3.0
        ok = summary["geomean_call"] >= goal and (with_graph or (summary["min_call"] or 0) >= 2)
        lines += [
            "",
            f"Issue 9 target for these clones ({'' if with_graph else 'no '}commit-graph): "
            f"geomean ≥ {goal:g}x{'' if with_graph else ', no dir below 2x'} (call times): "
            f"**{'pass' if ok else 'fail'}**.",
        ]
    if summary["loading"]:
        lines += [
            "",
            "Commit loading (ours, `ALEMBIC_GIT_REVISIONS_TRACE=1`, first dir of each repository) "
            "against `git rev-list --topo-order HEAD` (whole process) on the same clone; "
            "issue 9 target: ≤ 1/3.",
            "",
            "| repository | commits | graph | `git rev-list` | ours: load commits | / rev-list "
            "| topo order | tree comparisons | walk (all phases) | call | call beyond the walk |",
            "|---|---:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for g in summary["loading"]:
            ratio = g["loading_over_rev_list"]
            lines.append(
                _row(
                    g["repo"],
                    g["commits"],
                    _yes(g["commit_graph"]),
                    _t(g["rev_list_s"]),
                    _t(g["loading_s"]),
                    f"{ratio:.2f}" if ratio else "n/a",
                    _t(_phase(g["phases_s"], TOPO_PHASE)),
                    _t(_phase(g["phases_s"], DIFF_PHASE)),
                    _t(g["walk_s"]),
                    _t(g["call_s"]),
                    _t(g["beyond_walk_s"]),
                )
            )
    return "\n".join(lines) + "\n"


def _phase(phases: dict[str, float | None], rx: re.Pattern) -> float | None:
    vals = [v for k, v in phases.items() if rx.search(k) and v is not None]
    return sum(vals) if vals else None


def run(
    targets: list[Target],
    *,
    reference: compare.Side,
    ours: compare.Side,
    rounds: int = 3,
    loading_rounds: int | None = None,
    call: str = "parse_versions_dir",
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Measure *targets*; returns ``{"meta", "summary", "markdown"}``.

    Raises :class:`ChainMismatch` when ours differs from the reference anywhere.
    """
    if log is None:

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    reference, ours = compare._absolute(reference), compare._absolute(ours)
    runner = DirsRunner(
        targets,
        reference,
        ours,
        rounds=rounds,
        loading_rounds=rounds if loading_rounds is None else loading_rounds,
        call=call,
        warmup=warmup,
        log=log,
    )
    started = time.perf_counter()
    runner.run()
    import platform

    meta = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "git": git_out(targets[0].repo, "--version"),
        "python": platform.python_version(),
        "call": call,
        "rounds": rounds,
        "identity": {"reference": identify(reference), "ours": identify(ours)},
        "repos": {str(k): v for k, v in runner.repos.items()},
        "elapsed_s": time.perf_counter() - started,
        "loadavg": os.getloadavg(),
    }
    summary = runner.summary()
    return {"meta": meta, "summary": summary, "markdown": markdown(summary, meta)}


def sides_from_args(args: argparse.Namespace) -> tuple[compare.Side, compare.Side]:
    """The reference and ours from the common ``--reference-*`` / ``--ours-*`` options."""
    if args.reference_python:
        reference = compare.Side("reference", args.reference_python)
    elif args.reference_path:
        reference = compare.Side("reference", sys.executable, args.reference_path)
    else:
        reference = compare.Side("reference", compare.ensure_reference_python())
    if args.ours_wheel:
        ours = compare.Side("ours", compare.ensure_ours_python(args.ours_wheel))
    else:
        ours = compare.Side("ours", args.ours_python, args.ours_path)
    compare.NICE = args.nice
    return reference, ours


def add_side_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ours-wheel", help="our wheel, installed into its own venv (recommended)")
    parser.add_argument("--ours-python", default=sys.executable, help="interpreter with ours")
    parser.add_argument("--ours-path", help="dir prepended to PYTHONPATH for ours")
    parser.add_argument(
        "--reference-python",
        help=f"interpreter with {compare.REFERENCE_REQUIREMENT} (default: a venv under .work/)",
    )
    parser.add_argument("--reference-path", help="dir prepended to PYTHONPATH for the reference")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the measured processes (negative, as root: less disturbed by other "
        "load on a shared machine; see compare.NICE)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pairs", nargs="*", metavar="REPO:VERSIONS_DIR")
    parser.add_argument("--list", action="append", default=[], type=Path, help="file of pairs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--loading-rounds", type=int, help="traced runs per repository (default: --rounds; 0: none)"
    )
    parser.add_argument("--call", choices=CALLS, default="parse_versions_dir")
    parser.add_argument("--json", type=Path, help="write medians and raw samples here")
    add_side_options(parser)
    args = parser.parse_args(argv)
    targets = parse_pairs(args.pairs, args.list)
    reference, ours = sides_from_args(args)
    try:
        result = run(
            targets,
            reference=reference,
            ours=ours,
            rounds=args.rounds,
            loading_rounds=args.loading_rounds,
            call=args.call,
        )
    except ChainMismatch as exc:
        print(f"CHAIN MISMATCH: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    print(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
