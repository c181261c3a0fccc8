#!/usr/bin/env python3
"""Cold time and peak memory against history length, as a picture.

One history of the largest size is generated once with ``gen_monorepo.py``
(the ``deep`` shape of ``shapes.py``, written by ``git fast-import``, cached under
``benches/.work/scaling/``). Each smaller size is a prefix of it: the ``main``
commit whose history holds about that many commits. Every size is then cloned
with ``git clone --no-local --single-branch`` (one pack written by
``upload-pack``, no commit-graph: a plain CI clone), so all sizes share one
shape and differ in history length only.

For each size, alternating from round to round, medians of ``--rounds``:

* raw ``git log``: the reference's command, as a whole process (wall time, peak RSS);
* the reference: ``parse_versions_dir`` of the first versions dir in a fresh
  interpreter (call time; peak RSS of the process tree, ``git`` included);
* ours: the same, persistent cache off.

Answers must be identical (exit 1 otherwise). The growth of each series is fitted
as a power law (``time ∝ commits^b``, least squares in log-log) and as a line
(time per 100k commits). ``--svg`` writes the two plots (time, peak RSS) as one
SVG with no dependency.

    python benches/scaling.py --ours-wheel target/wheels/*.whl \\
        --sizes 10000,25000,50000,100000,250000 --svg benches/scaling.svg --json scaling.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # benches/ is not a package: its dir is put on sys.path above
import dirs as dirs_mod
import shapes

SIZES = (10_000, 25_000, 50_000, 100_000, 250_000)
SERIES = ("git log", "reference", "ours")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def shape_params(largest: int) -> dict:
    params = dict(shapes.SHAPES["deep"])
    params["commits"] = largest
    return params


def prefix_commit(source: Path, size: int, first_parent: list[str]) -> tuple[str, int]:
    """The ``main`` commit whose history is closest to *size* commits (bisection)."""
    lo, hi = 0, len(first_parent) - 1
    count = {}

    def n(i: int) -> int:
        if i not in count:
            count[i] = int(_git(source, "rev-list", "--count", first_parent[i]))
        return count[i]

    while lo < hi:
        mid = (lo + hi) // 2
        if n(mid) < size:
            lo = mid + 1
        else:
            hi = mid
    best = min((i for i in (lo - 1, lo) if i >= 0), key=lambda i: abs(n(i) - size))
    return first_parent[best], n(best)


def ensure_clones(
    sizes: list[int], work: Path, log: Callable[[str], None], params: dict | None = None
) -> dict[int, dict]:
    """Source history plus one plain clone per size; returns ``{size: facts}``."""
    params = params or shape_params(max(sizes))
    base = work / "scaling" / shapes.shape_key("deep", params)
    source = base / "source"
    if not (source / ".complete").exists():
        shutil.rmtree(source, ignore_errors=True)
        log(f"generating {params['commits']} commits (fast-import)")
        t = time.perf_counter()
        shapes.gen_monorepo.generate(source, **params)
        log(f"  {time.perf_counter() - t:.0f} s")
        (source / ".complete").write_text("")
        shapes._exclude_marker(source)
    versions = [d.relative_to(source) for d in compare.discover_versions_dirs(source)]
    first_parent = _git(source, "rev-list", "--first-parent", "--reverse", "main").split()
    out = {}
    for size in sizes:
        clone = base / f"n{size}"
        if not (clone / ".complete").exists():
            shutil.rmtree(clone, ignore_errors=True)
            commit, count = prefix_commit(source, size, first_parent)
            _git(source, "update-ref", f"refs/heads/scale-{size}", commit)
            log(f"cloning a {count}-commit prefix for {size}")
            subprocess.run(
                [
                    "git",
                    "clone",
                    "-q",
                    "--no-local",
                    "--single-branch",
                    "--branch",
                    f"scale-{size}",
                    str(source),
                    str(clone),
                ],
                check=True,
            )
            (clone / ".complete").write_text("")
            shapes._exclude_marker(clone)
        if not (clone / versions[0]).is_dir():
            raise RuntimeError(f"{clone}: no {versions[0]} in this prefix; use larger sizes")
        out[size] = {
            "repo": clone,
            "commits": int(_git(clone, "rev-list", "--count", "HEAD")),
            "dir": clone / versions[0],
        }
    return out


def _time_git_log(cwd: Path) -> dict:
    run = dirs_mod._spawn_timed(list(compare.GIT_LOG), dict(os.environ), cwd)
    if run.status:
        raise RuntimeError(f"git log failed in {cwd}")
    return {
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "rss_kb": run.rss_kb,
        "lines": run.out.count(b"\n"),
    }


def measure(
    clones: dict[int, dict],
    reference: compare.Side,
    ours: compare.Side,
    rounds: int,
    log: Callable[[str], None],
) -> dict[int, dict[str, list[dict]]]:
    samples: dict[int, dict[str, list[dict]]] = {}
    for size, facts in clones.items():
        spec = {"call": "parse_versions_dir", "dir": str(facts["dir"])}
        got: dict[str, list[dict]] = {s: [] for s in SERIES}
        expected = None
        t = time.perf_counter()
        for r in range(rounds):
            order = SERIES if r % 2 == 0 else SERIES[::-1]
            for series in order:
                if series == "git log":
                    got[series].append(_time_git_log(facts["dir"].parent))
                    continue
                side = reference if series == "reference" else ours
                res = dirs_mod.child(side, spec)
                if res["error"]:
                    raise RuntimeError(f"{series} failed on {facts['dir']}: {res['error']}")
                if expected is None:
                    expected = res["result"]
                elif res["result"] != expected:
                    raise compare.ChainMismatch(
                        f"{facts['dir']}: {dirs_mod._diff(expected, res['result'])}"
                    )
                got[series].append(
                    {
                        "wall_s": res["call_s"],
                        "cpu_s": res["call_cpu_s"],
                        "process_s": res["wall_s"],
                        "rss_kb": res["tree_rss_kb"],
                    }
                )
        log(f"{facts['commits']} commits: {time.perf_counter() - t:.0f} s")
        samples[size] = got
    return samples


def fit(xs: list[float], ys: list[float]) -> dict:
    """Power law (log-log least squares) and straight line fits of ys against xs."""
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return {"exponent": None, "per_100k": None, "intercept": None}
    lx = [math.log(x) for x, _ in pts]
    ly = [math.log(y) for _, y in pts]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    b = sum((a - mx) * (c - my) for a, c in zip(lx, ly, strict=True)) / sxx if sxx else None
    X = [x for x, _ in pts]
    Y = [y for _, y in pts]
    mX, mY = sum(X) / len(X), sum(Y) / len(Y)
    sXX = sum((a - mX) ** 2 for a in X)
    slope = sum((a - mX) * (c - mY) for a, c in zip(X, Y, strict=True)) / sXX if sXX else None
    return {
        "exponent": b,
        "per_100k": slope * 100_000 if slope is not None else None,
        "intercept": mY - slope * mX if slope is not None else None,
    }


def summarize(clones: dict[int, dict], samples: dict[int, dict[str, list[dict]]]) -> dict:
    points = []
    for size, got in samples.items():
        row = {"size": size, "commits": clones[size]["commits"]}
        for series in SERIES:
            row[f"{series}_s"] = dirs_mod.median(s["wall_s"] for s in got[series])
            row[f"{series}_cpu_s"] = dirs_mod.median(s["cpu_s"] for s in got[series])
            row[f"{series}_rss_kb"] = dirs_mod.median(s["rss_kb"] for s in got[series])
        points.append(row)
    xs = [p["commits"] for p in points]
    fits = {
        series: {
            "time": fit(xs, [p[f"{series}_s"] for p in points]),
            "rss": fit(xs, [p[f"{series}_rss_kb"] / 1024 for p in points]),
        }
        for series in SERIES
    }
    return {"points": points, "fits": fits}


def markdown(summary: dict, meta: dict) -> str:
    t = compare._fmt_time
    lines = [
        f"{meta['date']}, {meta['machine']}, {meta['git']}, Python {meta['python']}; "
        f"`deep` shape, plain clones of prefixes of one history; cold, median of "
        f"{meta['rounds']}, alternating. Reference and ours: the `parse_versions_dir` call; "
        "`git log`: the whole process. Peak RSS: the process tree.",
        "",
        "| commits | `git log` | reference | ours | ref / ours | `git log` RSS | reference RSS "
        "| ours RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in summary["points"]:
        ratio = p["reference_s"] / p["ours_s"] if p["reference_s"] and p["ours_s"] else None
        lines.append(
            dirs_mod._row(
                p["commits"],
                t(p["git log_s"]),
                t(p["reference_s"]),
                t(p["ours_s"]),
                dirs_mod._x(ratio),
                dirs_mod._mib(p["git log_rss_kb"]),
                dirs_mod._mib(p["reference_rss_kb"]),
                dirs_mod._mib(p["ours_rss_kb"]),
            )
        )
    lines += [
        "",
        "| series | time ∝ commits^b | time per 100k commits | RSS ∝ commits^b "
        "| RSS per 100k commits |",
        "|---|---:|---:|---:|---:|",
    ]
    for series, f in summary["fits"].items():
        tf, rf = f["time"], f["rss"]
        lines.append(
            dirs_mod._row(
                series,
                f"b = {tf['exponent']:.2f}" if tf["exponent"] is not None else "n/a",
                t(tf["per_100k"]),
                f"b = {rf['exponent']:.2f}" if rf["exponent"] is not None else "n/a",
                f"{rf['per_100k']:.0f} MiB" if rf["per_100k"] is not None else "n/a",
            )
        )
    return "\n".join(lines) + "\n"


# -- SVG ----------------------------------------------------------------------------

COLORS = {"git log": "#7f7f7f", "reference": "#d62728", "ours": "#1f77b4"}
MARKERS = {"git log": "square", "reference": "triangle", "ours": "circle"}


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _marker(kind: str, x: float, y: float, color: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{color}"/>'
    if kind == "triangle":
        pts = f"{x:.1f},{y - 4.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f}"
        return f'<polygon points="{pts}" fill="{color}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>'


def svg(summary: dict, title: str) -> str:
    """Two panels, time and peak RSS against commits; plain SVG, no dependency."""
    points = summary["points"]
    width, height = 960, 420
    panel_w, panel_h = 380, 290
    left0, top = 80, 70
    xs = [p["commits"] for p in points]
    x_max = _nice_max(max(xs))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>',
    ]
    for i, (key, label, scale) in enumerate(
        (("_s", "cold time (s)", 1.0), ("_rss_kb", "peak RSS (MiB)", 1 / 1024))
    ):
        left = left0 + i * (panel_w + 100)
        values = [p[f"{s}{key}"] * scale for p in points for s in SERIES if p[f"{s}{key}"]]
        y_max = _nice_max(max(values) if values else 1)

        def px(x: float, left: int = left) -> float:
            return left + x / x_max * panel_w

        def py(y: float, y_max: float = y_max) -> float:
            return top + panel_h - y / y_max * panel_h

        parts.append(
            f'<rect x="{left}" y="{top}" width="{panel_w}" height="{panel_h}" '
            'fill="none" stroke="#333"/>'
        )
        for k in range(6):
            yv = y_max * k / 5
            y = py(yv)
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + panel_w}" y2="{y:.1f}" stroke="#ddd"/>'
            )
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{yv:g}</text>')
            xv = x_max * k / 5
            x = px(xv)
            parts.append(
                f'<text x="{x:.1f}" y="{top + panel_h + 18}" text-anchor="middle">'
                f"{xv / 1000:g}k</text>"
            )
        parts.append(
            f'<text x="{left + panel_w / 2}" y="{top + panel_h + 40}" text-anchor="middle">'
            "commits in history</text>"
        )
        parts.append(
            f'<text x="{left - 50}" y="{top + panel_h / 2}" text-anchor="middle" '
            f'transform="rotate(-90 {left - 50} {top + panel_h / 2})">{label}</text>'
        )
        for s in SERIES:
            pts = [(px(p["commits"]), py(p[f"{s}{key}"] * scale)) for p in points if p[f"{s}{key}"]]
            if not pts:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{COLORS[s]}" stroke-width="2"/>'
            )
            parts.extend(_marker(MARKERS[s], x, y, COLORS[s]) for x, y in pts)
    lx = left0 + 10
    for j, s in enumerate(SERIES):
        x = lx + j * 150
        parts.append(_marker(MARKERS[s], x, 48, COLORS[s]))
        name = {"git log": "reference's raw git log", "reference": "reference (13)", "ours": "ours"}
        parts.append(f'<text x="{x + 10}" y="52">{name[s]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--svg", type=Path, help="write the plots here")
    parser.add_argument("--json", type=Path)
    dirs_mod.add_side_options(parser)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    reference, ours = dirs_mod.sides_from_args(args)
    reference, ours = compare._absolute(reference), compare._absolute(ours)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    import platform

    clones = ensure_clones(sizes, compare.WORK, log)
    started = time.perf_counter()
    try:
        samples = measure(clones, reference, ours, args.rounds, log)
    except compare.ChainMismatch as exc:
        print(f"CHAIN MISMATCH: {exc}", file=sys.stderr)
        return 1
    summary = summarize(clones, samples)
    meta = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "git": _git(next(iter(clones.values()))["repo"], "--version"),
        "python": platform.python_version(),
        "rounds": args.rounds,
        "elapsed_s": time.perf_counter() - started,
        "loadavg_end": os.getloadavg(),
    }
    text = markdown(summary, meta)
    if args.svg:
        args.svg.write_text(svg(summary, "Cold parse_versions_dir against history length"))
    if args.json:
        out = {"meta": meta, "summary": summary, "samples": samples, "markdown": text}
        args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
