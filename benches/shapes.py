#!/usr/bin/env python3
"""Issue 4's scenarios on several synthetic shapes, packs and commit-graph states.

Each shape is a history written by ``gen_monorepo.py`` (cached under
``benches/.work/shapes/``, keyed by its parameters) in four variants:

``fast-import``
    the pack exactly as ``git fast-import`` leaves it;
``fast-import+graph``
    the same plus ``git commit-graph write --reachable``;
``server``
    a copy repacked as a server does (``git repack -adf --depth=50 --window=250``);
``server+graph``
    that plus a commit-graph.

On every variant ``compare.py`` runs ``cold-one``, ``cold-all``, ``warm`` and
``per-call`` (chains checked against the reference's; a mismatch exits 1), and
the table shows issue 4's targets as pass/fail columns: cold one dir ≥ 3x, all
dirs in one process ≥ 8x, warm ≥ 100x, ``get_down_revision`` ≤ 2 µs a call.
The reference has no persistent cache, so its ``warm`` figure is its
``cold-all`` run of the same variant (not run twice).

Shapes (``--shapes``):

``monorepo``
    ``gen_monorepo``'s defaults (issue 4's repository): 60,000 commits, 20,000
    files in about 1,700 dirs, mixed merges and rebases, 3 x 2,000 migrations;
``deep``
    ``--layout deep``: 40,000 commits, 40,000 files in about 5,000 dirs up to 10
    levels, commits touching several files in several directories, ``--no-ff``
    merges of short branches (as Gerrit-merged projects such as nova have),
    3 x 1,000 migrations.

    python benches/shapes.py --ours-wheel target/wheels/*.whl --json shapes.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # benches/ is not a package: its dir is put on sys.path above
import dirs as dirs_mod
import gen_monorepo

SHAPES: dict[str, dict] = {
    # gen_monorepo's defaults: with a commit-graph, issue 4's benchmark repository.
    "monorepo": {
        "layout": "monorepo",
        "commits": 60_000,
        "migrations": 2000,
        "services": 3,
        "unrelated_files": 20_000,
        "merge_style": "mixed",
        "seed": 0,
    },
    "deep": {
        "layout": "deep",
        "commits": 40_000,
        "migrations": 1000,
        "services": 3,
        "unrelated_files": 40_000,
        "merge_style": "noff",
        "seed": 1,
    },
}
VARIANTS = ("fast-import", "fast-import+graph", "server", "server+graph")
SCENARIOS = ("cold-one", "cold-all", "warm", "per-call")
SERVER_REPACK = ("repack", "-q", "-adf", "--depth=50", "--window=250")
# Issue 4's targets.
TARGET_COLD_ONE = 3.0
TARGET_COLD_ALL = 8.0
TARGET_WARM = 100.0
TARGET_PER_CALL_S = 2e-6


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True)


def shape_key(name: str, params: dict) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{params['commits']}-{digest}"


def ensure_variants(
    name: str, params: dict, work: Path, variants: Iterable[str], log: Callable[[str], None]
) -> dict[str, Path]:
    """The variant repositories of a shape, generated on first use."""
    base = work / "shapes" / shape_key(name, params)
    out: dict[str, Path] = {}
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        path = base / variant
        out[variant] = path
        if (path / ".complete").exists():
            continue
        shutil.rmtree(path, ignore_errors=True)
        pack, graph = variant.partition("+")[::2]
        source = base / pack
        if pack == "fast-import" and not (source / ".complete").exists():
            shutil.rmtree(source, ignore_errors=True)
            log(f"{name}: generating {params['commits']} commits with fast-import")
            t = time.perf_counter()
            gen_monorepo.generate(source, **params)
            log(f"  {time.perf_counter() - t:.0f} s")
            (source / ".complete").write_text("")
            _exclude_marker(source)
        elif pack == "server" and not (source / ".complete").exists():
            fast = ensure_variants(name, params, work, ["fast-import"], log)["fast-import"]
            shutil.rmtree(source, ignore_errors=True)
            log(f"{name}: git {' '.join(SERVER_REPACK)}")
            t = time.perf_counter()
            shutil.copytree(fast, source, symlinks=True)
            _git(source, *SERVER_REPACK)
            log(f"  {time.perf_counter() - t:.0f} s")
        if graph:
            shutil.copytree(source, path, symlinks=True)
            (path / ".complete").unlink(missing_ok=True)
            _git(path, "commit-graph", "write", "--reachable")
        (path / ".complete").write_text("")
        _exclude_marker(path)
    return out


def _exclude_marker(repo: Path) -> None:
    """Keep ``.complete`` out of ``git status`` (the work tree must stay clean)."""
    exclude = repo / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text() if exclude.exists() else ""
    if "/.complete" not in text.splitlines():
        exclude.write_text(text + "/.complete\n")


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**FAIL**")


def summarize(name: str, variant: str, result: dict) -> dict:
    med = result["medians"]

    def get(scenario: str, side: str, key: str = "total_s") -> float | None:
        return med.get(scenario, {}).get(side, {}).get(key)

    ref_one, ours_one = get("cold-one", "reference"), get("cold-one", "ours")
    ref_all, ours_all = get("cold-all", "reference"), get("cold-all", "ours")
    ours_warm = get("warm", "ours")
    per_call = get("per-call", "ours", "per_call_s")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    row = {
        "shape": name,
        "variant": variant,
        "commits": result["meta"]["commits"],
        "merges": result["meta"]["merges"],
        "dirs": len(result["meta"]["dirs"]),
        "reference_cold_one_s": ref_one,
        "ours_cold_one_s": ours_one,
        "cold_one_x": ratio(ref_one, ours_one),
        "reference_cold_all_s": ref_all,
        "ours_cold_all_s": ours_all,
        "cold_all_x": ratio(ref_all, ours_all),
        "ours_warm_s": ours_warm,
        "warm_x": ratio(ref_all, ours_warm),
        "reference_per_call_s": get("per-call", "reference", "per_call_s"),
        "ours_per_call_s": per_call,
        "ours_cold_one_rss_kb": get("cold-one", "ours", "rss_peak_kb"),
        "reference_cold_one_rss_kb": max(
            get("cold-one", "reference", "rss_peak_kb") or 0,
            get("cold-one", "reference", "children_rss_peak_kb") or 0,
        )
        or None,
    }
    row["pass"] = {
        "cold_one": None if row["cold_one_x"] is None else row["cold_one_x"] >= TARGET_COLD_ONE,
        "cold_all": None if row["cold_all_x"] is None else row["cold_all_x"] >= TARGET_COLD_ALL,
        "warm": None if row["warm_x"] is None else row["warm_x"] >= TARGET_WARM,
        "per_call": None if per_call is None else per_call <= TARGET_PER_CALL_S,
    }
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    t, x = compare._fmt_time, dirs_mod._x
    lines = [
        f"{meta['date']}, {meta['machine']}, {meta['git']}, Python {meta['python']}; "
        f"`compare.py` scenarios, median of {meta['rounds']}, sides alternating; "
        "times are the calls' (interpreter start-up and import excluded).",
        "",
        "| shape | pack | graph | commits | cold one dir: ref / ours | x | ≥ 3x "
        "| all dirs: ref / ours | x | ≥ 8x | warm: ours | x | ≥ 100x | per call | ≤ 2 µs "
        "| peak RSS ref (tree) / ours |",
        "|---|---|:-:|---:|---:|---:|:-:|---:|---:|:-:|---:|---:|:-:|---:|:-:|---:|",
    ]
    for r in rows:
        pack, _, graph = r["variant"].partition("+")
        p = r["pass"]
        lines.append(
            dirs_mod._row(
                r["shape"],
                pack,
                "yes" if graph else "no",
                r["commits"],
                f"{t(r['reference_cold_one_s'])} / {t(r['ours_cold_one_s'])}",
                x(r["cold_one_x"]),
                _mark(p["cold_one"]),
                f"{t(r['reference_cold_all_s'])} / {t(r['ours_cold_all_s'])}",
                x(r["cold_all_x"]),
                _mark(p["cold_all"]),
                t(r["ours_warm_s"]),
                x(r["warm_x"]),
                _mark(p["warm"]),
                t(r["ours_per_call_s"]),
                _mark(p["per_call"]),
                f"{dirs_mod._mib(r['reference_cold_one_rss_kb'])} / "
                f"{dirs_mod._mib(r['ours_cold_one_rss_kb'])}",
            )
        )
    return "\n".join(lines) + "\n"


def run_campaign(
    shapes: dict[str, dict],
    *,
    variants: Iterable[str] = VARIANTS,
    rounds: int = 3,
    reference: compare.Side,
    ours: compare.Side,
    work: Path = compare.WORK,
    per_call_n: int = 20_000,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Generate (or reuse) every variant and run the scenarios; returns rows and Markdown."""
    if log is None:

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    import os
    import platform

    variants = list(variants)
    rows, details = [], {}
    started = time.perf_counter()
    for name, params in shapes.items():
        repos = ensure_variants(name, params, work, variants, log)
        for variant in variants:
            log(f"{name} / {variant}")
            result = compare.run(
                repos[variant],
                rounds=rounds,
                scenarios=SCENARIOS,
                reference=reference,
                ours=ours,
                per_call_n=per_call_n,
                work=work,
                log=lambda msg: log(f"  {msg}"),
                warm_reference=False,
            )
            rows.append(summarize(name, variant, result))
            details[f"{name}/{variant}"] = {
                k: v for k, v in result.items() if k in ("meta", "medians", "samples")
            }
    first = next(iter(details.values()))["meta"]
    meta = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": first["machine"],
        "git": first["git"],
        "python": first["python"],
        "rounds": rounds,
        "shapes": shapes,
        "elapsed_s": time.perf_counter() - started,
        "loadavg_end": os.getloadavg(),
        "platform": platform.platform(),
    }
    return {"meta": meta, "rows": rows, "details": details, "markdown": markdown(rows, meta)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"subset of {list(SHAPES)}")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {VARIANTS}")
    parser.add_argument("--commits", type=int, help="override every shape's commit count")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-call-n", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    dirs_mod.add_side_options(parser)
    args = parser.parse_args(argv)
    shapes = {}
    for name in filter(None, args.shapes.split(",")):
        if name not in SHAPES:
            raise SystemExit(f"unknown shape {name!r}; known: {', '.join(SHAPES)}")
        shapes[name] = dict(SHAPES[name])
        if args.commits:
            shapes[name]["commits"] = args.commits
    reference, ours = dirs_mod.sides_from_args(args)
    try:
        result = run_campaign(
            shapes,
            variants=[v for v in args.variants.split(",") if v],
            rounds=args.rounds,
            reference=reference,
            ours=ours,
            per_call_n=args.per_call_n,
        )
    except compare.ChainMismatch as exc:
        print(f"CHAIN MISMATCH: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    print(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
