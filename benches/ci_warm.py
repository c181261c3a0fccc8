#!/usr/bin/env python3
"""A CI that keeps our persistent cache folder between runs, measured.

What a CI job with a cache step does (``ALEMBIC_GIT_REVISIONS_CACHE=<folder>``,
the folder saved after a run and restored before the next one), replayed on a
repository:

1. A "server" (``git clone --bare --shared`` of ``--repo``) gets a ``base``
   branch at ``--repo``'s ``HEAD`` and, for each N in ``--new-commits``, a branch
   ``pr-N``: N commits on top of ``base`` (the first adds a migration to the
   versions dir, every commit edits 1-4 existing files), and ``pr-N-merge``, a
   merge commit of ``pr-N`` into ``base``; written with ``git fast-import`` at
   fixed dates.
2. One CI clone of the server (``git clone --no-local``: one pack made by
   ``upload-pack``, every branch, no commit-graph), always at the same path:
   our cache folder is keyed by the repository's path, and a CI's checkout path
   does not change between runs.
3. Scenarios, each round starting from a fresh checkout of the versions dir
   (new inodes and times, as a fresh clone has: parse results cached by file
   stamp do not carry over, exactly as in CI):

   ``cold, empty cache``
       ``base`` checked out, an empty cache folder, which the run fills; its
       content is then kept as "the cache saved by the main branch's run";
   ``restored, same HEAD``
       that cache restored (copied) and the run repeated at ``base``;
   ``restored, PR head``
       ``pr-N`` checked out, the same cache restored;
   ``restored, PR merge commit``
       ``pr-N-merge`` checked out (a merge of ``pr-N`` into ``base``: what
       ``actions/checkout`` checks out for a pull request), the same cache restored.

   Every scenario also runs the reference and ours with the cache off, in the
   same checkout, alternating; answers must be identical (exit 1 otherwise).

Times: the ``parse_versions_dir`` call and the whole process, medians of ``--rounds``.

    python benches/ci_warm.py --repo ../bench-clones/openstack+nova/plain \\
        --versions-dir nova/db/main/migrations/versions --ours-wheel target/wheels/*.whl
    python benches/ci_warm.py --shape deep/server --ours-wheel target/wheels/*.whl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # benches/ is not a package: its dir is put on sys.path above
import dirs as dirs_mod
import real_repos
import shapes

NEW_COMMITS = (1, 10, 100)
KINDS = ("reference", "ours, cache off", "ours, restored cache")


def _git(repo: Path, *args: str) -> str:
    return real_repos._git("-C", repo, *args, quiet=True)


def _pr_stream(
    base: str, base_ts: int, n: int, branch: str, files: list[str], read, versions_dir: str
) -> bytes:
    """A fast-import stream of *n* commits on *branch* from *base*, and ``<branch>-merge``.

    ``<branch>-merge`` is what a CI checks out for a pull request by default
    (``refs/pull/<id>/merge`` with ``actions/checkout``): a merge commit whose first
    parent is *base* and second the branch's tip, with the branch's changes.
    """
    rng = random.Random(f"{branch}-{n}")
    out: list[bytes] = []

    def data(blob: bytes) -> None:
        out.append(b"data %d\n" % len(blob) + blob + b"\n")

    edited: dict[str, bytes] = {}
    mig_path, mig = "", b""
    for i in range(n):
        out.append(f"commit refs/heads/{branch}\n".encode())
        out.append(f"mark :{i + 1}\n".encode())
        ts = base_ts + 3600 * (i + 1)
        out.append(f"committer CI bench <ci@example.com> {ts} +0000\n".encode())
        data(f"PR {branch}: change {i + 1} of {n}\n".encode())
        if i == 0:
            out.append(f"from {base}\n".encode())
            rev = f"c1{n:04d}{i:06d}"[:12]
            mig = compare.MIGRATION_TEMPLATE.format(rev=rev).encode()
            mig_path = f"{versions_dir}/{rev}_ci_warm_bench.py"
            out.append(f"M 100644 inline {mig_path}\n".encode())
            data(mig)
        for path in rng.sample(files, rng.randint(1, 4)):
            content = edited.get(path)
            if content is None:
                content = read(path)
            content += f"\n# ci-warm edit {branch} {i}\n".encode()
            edited[path] = content
            out.append(f"M 100644 inline {path}\n".encode())
            data(content)
        out.append(b"\n")
    out.append(f"commit refs/heads/{branch}-merge\n".encode())
    out.append(f"committer CI bench <ci@example.com> {base_ts + 3600 * (n + 1)} +0000\n".encode())
    data(f"Merge {branch} into base\n".encode())
    out.append(f"from {base}\nmerge :{n}\n".encode())
    for path, content in [(mig_path, mig), *edited.items()]:
        out.append(f"M 100644 inline {path}\n".encode())
        data(content)
    out.append(b"\n")
    out.append(b"done\n")
    return b"".join(out)


def prepare(
    repo: Path, versions_dir: str, work: Path, new_commits: list[int], log: Callable[[str], None]
) -> tuple[Path, dict[str, str]]:
    """Server with ``base``, ``pr-N`` and ``pr-N-merge`` branches, and the CI clone."""
    server, clone = work / "server.git", work / "clone"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = _git(repo, "rev-parse", "HEAD")
    base_ts = int(_git(repo, "log", "-1", "--format=%ct", "HEAD"))
    _git(work, "clone", "-q", "--bare", "--shared", str(repo), str(server))
    _git(server, "update-ref", "refs/heads/base", base)
    _git(server, "symbolic-ref", "HEAD", "refs/heads/base")
    listing = _git(server, "ls-tree", "-r", "-l", base).splitlines()
    files = []
    for line in listing:
        meta, path = line.split("\t", 1)
        mode, kind, _oid, size = meta.split()
        if kind == "blob" and mode == "100644" and size != "-" and int(size) < 65536:
            if not path.startswith(versions_dir + "/") and path.endswith((".py", ".rst", ".md")):
                files.append(path)
    if not files:
        raise RuntimeError(f"{repo}: no text file to edit at HEAD")
    files.sort()

    def read(path: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(server), "cat-file", "blob", f"{base}:{path}"],
            check=True,
            capture_output=True,
        ).stdout

    for n in new_commits:
        stream = _pr_stream(base, base_ts, n, f"pr-{n}", files, read, versions_dir)
        subprocess.run(
            ["git", "-C", str(server), "fast-import", "--quiet"], input=stream, check=True
        )
    log("cloning the server (one pack from upload-pack)")
    real_repos.server_clone(server, clone)
    refs = {"base": base}
    for n in new_commits:
        for ref in (f"pr-{n}", f"pr-{n}-merge"):
            refs[ref] = _git(clone, "rev-parse", f"refs/remotes/origin/{ref}")
    return clone, refs


def fresh_checkout(clone: Path, ref: str, versions_dir: str) -> None:
    """Check *ref* out; rewrite the versions dir's files as a fresh clone would."""
    _git(clone, "-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", ref)
    target = clone / versions_dir
    for entry in target.iterdir():
        if entry.is_file():
            entry.unlink()
    _git(clone, "checkout", "-q", "-f", ref, "--", versions_dir)


def run(
    repo: Path,
    versions_dir: str,
    *,
    reference: compare.Side,
    ours: compare.Side,
    rounds: int = 3,
    new_commits: list[int] | tuple[int, ...] = NEW_COMMITS,
    work: Path,
    log: Callable[[str], None] | None = None,
    keep: bool = False,
    label: str | None = None,
) -> dict:
    if log is None:

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    reference, ours = compare._absolute(reference), compare._absolute(ours)
    work = work.resolve()
    clone, refs = prepare(repo, versions_dir, work, list(new_commits), log)
    cache, saved = work / "cache", work / "cache-saved"
    target = str(clone / versions_dir)
    spec = {"call": "parse_versions_dir", "dir": target}
    scenarios: list[tuple[str, str]] = [("cold, empty cache (fills it)", "base")]
    scenarios.append(("restored cache, same HEAD", "base"))
    for n in new_commits:
        commits = f"{n} new commit{'s' * (n > 1)}"
        scenarios.append((f"restored cache, PR head: +{commits}", f"pr-{n}"))
        scenarios.append(
            (f"restored cache, PR merge commit: +{commits} and a merge", f"pr-{n}-merge")
        )
    samples: dict[str, dict[str, list[dict]]] = {}
    try:
        for name, ref in scenarios:
            got: dict[str, list[dict]] = {k: [] for k in KINDS}
            expected = None
            t = time.perf_counter()
            for r in range(rounds):
                kinds = KINDS if r % 2 == 0 else KINDS[::-1]
                for kind in kinds:
                    fresh_checkout(clone, refs[ref], versions_dir)
                    env = {compare.CACHE_ENV: "off"}
                    if kind == "ours, restored cache":
                        shutil.rmtree(cache, ignore_errors=True)
                        if name.startswith("cold"):
                            cache.mkdir()
                        else:
                            shutil.copytree(saved, cache)
                        env[compare.CACHE_ENV] = str(cache)
                    side = reference if kind == "reference" else ours
                    res = dirs_mod.child(side, spec, env)
                    if res["error"]:
                        raise RuntimeError(f"{kind} failed at {ref}: {res['error']}")
                    if expected is None:
                        expected = res["result"]
                    elif res["result"] != expected:
                        raise compare.ChainMismatch(
                            f"{name} ({kind}): {dirs_mod._diff(expected, res['result'])}"
                        )
                    sample = {k: res[k] for k in ("call_s", "call_cpu_s", "wall_s", "tree_rss_kb")}
                    if kind == "ours, restored cache":
                        sample["cache_bytes"] = sum(
                            f.stat().st_size for f in cache.rglob("*") if f.is_file()
                        )
                        if name.startswith("cold") and r == 0:
                            shutil.rmtree(saved, ignore_errors=True)
                            shutil.copytree(cache, saved)
                    got[kind].append(sample)
            log(f"{name}: {time.perf_counter() - t:.0f} s")
            samples[name] = got
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = []
    for name, got in samples.items():
        row: dict = {"scenario": name}
        for kind in KINDS:
            row[kind] = {
                key: dirs_mod.median(s[key] for s in got[kind])
                for key in ("call_s", "call_cpu_s", "wall_s", "tree_rss_kb")
            }
        row["cache_bytes"] = dirs_mod.median(s["cache_bytes"] for s in got[KINDS[2]])
        rows.append(row)
    facts = dirs_mod.repo_facts(repo)
    if label:
        facts["label"] = label
    return {"repo": facts, "dir": versions_dir, "rows": rows, "samples": samples}


def markdown(results: list[dict], rounds: int) -> str:
    t = compare._fmt_time
    lines = [
        f"`parse_versions_dir` in a fresh interpreter, median of {rounds}, alternating; "
        "call time (whole process in brackets).",
        "",
        "| repository | run | reference | ours, cache off | ours, restored cache "
        "| speedup vs reference | vs ours cold | cache folder |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        label = f"{res['repo']['label']} ({res['repo']['commits']} commits)"
        for row in res["rows"]:
            ref, cold, warm = (row[k] for k in KINDS)
            lines.append(
                dirs_mod._row(
                    label,
                    row["scenario"],
                    f"{t(ref['call_s'])} ({t(ref['wall_s'])})",
                    f"{t(cold['call_s'])} ({t(cold['wall_s'])})",
                    f"{t(warm['call_s'])} ({t(warm['wall_s'])})",
                    dirs_mod._x(dirs_mod._safe_ratio(ref["call_s"], warm["call_s"])),
                    dirs_mod._x(dirs_mod._safe_ratio(cold["call_s"], warm["call_s"])),
                    f"{row['cache_bytes'] / 2**20:.1f} MiB" if row["cache_bytes"] else "n/a",
                )
            )
            label = ""
    return "\n".join(lines) + "\n"


def resolve_shape(spec: str) -> tuple[Path, str]:
    """``shape/variant`` of ``shapes.py`` (generated if missing): repo, first versions dir."""
    name, _, variant = spec.partition("/")
    if name not in shapes.SHAPES:
        raise SystemExit(f"unknown shape {name!r}")
    repo = shapes.ensure_variants(
        name,
        shapes.SHAPES[name],
        compare.WORK,
        [variant or "server"],
        lambda m: print(m, file=sys.stderr),
    )[variant or "server"]
    first = compare.discover_versions_dirs(repo)[0]
    return repo, str(first.relative_to(repo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, action="append", default=[])
    parser.add_argument(
        "--versions-dir", action="append", default=[], help="one per --repo, relative to it"
    )
    parser.add_argument("--shape", action="append", default=[], help="e.g. deep/server")
    parser.add_argument("--new-commits", default=",".join(map(str, NEW_COMMITS)))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the scratch clones")
    dirs_mod.add_side_options(parser)
    args = parser.parse_args(argv)
    if len(args.repo) != len(args.versions_dir):
        raise SystemExit("give one --versions-dir per --repo")
    targets = [(r.resolve(), d, None) for r, d in zip(args.repo, args.versions_dir, strict=True)]
    targets += [(*resolve_shape(s), f"synthetic `{s}`") for s in args.shape]
    if not targets:
        raise SystemExit("nothing to measure: give --repo/--versions-dir or --shape")
    reference, ours = dirs_mod.sides_from_args(args)
    results = []
    try:
        for i, (repo, vdir, label) in enumerate(targets):
            results.append(
                run(
                    repo,
                    vdir,
                    reference=reference,
                    ours=ours,
                    rounds=args.rounds,
                    new_commits=[int(n) for n in args.new_commits.split(",") if n],
                    work=compare.WORK / f"ci-warm-{i}",
                    keep=args.keep,
                    label=label,
                )
            )
    except compare.ChainMismatch as exc:
        print(f"CHAIN MISMATCH: {exc}", file=sys.stderr)
        return 1
    text = markdown(results, args.rounds)
    if args.json:
        out = {"results": results, "markdown": text, "loadavg_end": os.getloadavg()}
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
