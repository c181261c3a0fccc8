#!/usr/bin/env python3
"""Import cost of ``import alembic_git_revisions``: ours against the reference.

Every ``alembic`` command imports the package, so its import time is paid even
when no chain is built. Alternating between the two sides, ``--rounds`` times:

* ``python -X importtime -c "import alembic_git_revisions"``: the cumulative
  time of the package's own line (everything it imports, stdlib included);
* the whole process ``python -c "import alembic_git_revisions"`` against
  ``python -c pass`` on the same interpreter (start-up excluded by difference).

Medians are reported, with issue 9's target (ours at most half the reference's
cumulative import time) and, per side, the modules that cost the most under
the package (self time, median over the rounds).

A second figure is what every migration file runs,
``from alembic_git_revisions import get_down_revision``: the cumulative time of
every module of the package that this statement imports (ours loads its modules
on first use, so the package's own line is not the whole cost there).

    python benches/startup.py --ours-wheel target/wheels/*.whl --rounds 21
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # benches/ is not a package: its dir is put on sys.path above
import dirs as dirs_mod

PACKAGE = "alembic_git_revisions"
FIRST_USE = f"from {PACKAGE} import get_down_revision"
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def parse_importtime(stderr: str, package: str = PACKAGE) -> dict:
    """The package's cumulative µs and the self µs of every module it pulled in."""
    entries = []
    for line in stderr.splitlines():
        m = LINE.match(line)
        if m:
            entries.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    # importtime prints children before their parent; the package's top-level line
    # (depth 1) closes the block of modules imported while importing it.
    end = next((i for i, e in enumerate(entries) if e[3] == package and e[2] == 1), None)
    if end is None:
        raise ValueError(f"no import time line for {package}")
    start = end
    while start > 0 and entries[start - 1][2] > 1:
        start -= 1
    block = entries[start : end + 1]
    return {
        "cumulative_us": entries[end][1],
        "self_us": {name: self_us for self_us, _c, _d, name in block},
        "cumulative_by_module_us": {name: cum for _s, cum, _d, name in block},
        # Nesting level under the package: 1 for its submodules, 2 for what they import
        # first. importtime indents by two spaces a level.
        "level": {name: (depth - 1) // 2 for _s, _c, depth, name in block},
    }


def statement_cost_us(stderr: str, package: str = PACKAGE) -> int:
    """Cumulative µs of the package's modules imported at top level by one statement:
    the package itself and any submodule imported after it (on first use)."""
    total = 0
    for line in stderr.splitlines():
        m = LINE.match(line)
        if m and len(m.group(3)) == 1:
            name = m.group(4)
            if name == package or name.startswith(package + "."):
                total += int(m.group(2))
    return total


def _env(side: compare.Side) -> dict:
    env = dict(os.environ)
    if side.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (side.pythonpath, env.get("PYTHONPATH")) if p
        )
    return env


def sample(side: compare.Side) -> dict:
    cwd = compare.WORK if compare.WORK.is_dir() else None
    env = _env(side)
    proc = subprocess.run(
        [side.python, "-X", "importtime", "-c", f"import {PACKAGE}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    out = parse_importtime(proc.stderr)
    first_use = subprocess.run(
        [side.python, "-X", "importtime", "-c", FIRST_USE],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    out["first_use_us"] = statement_cost_us(first_use.stderr)
    out["process_import_s"] = dirs_mod._spawn_timed(
        [side.python, "-c", f"import {PACKAGE}"], env, cwd
    ).wall_s
    out["process_pass_s"] = dirs_mod._spawn_timed([side.python, "-c", "pass"], env, cwd).wall_s
    return out


def run(reference: compare.Side, ours: compare.Side, rounds: int) -> dict:
    reference, ours = compare._absolute(reference), compare._absolute(ours)
    sides = (reference, ours)
    got: dict[str, list[dict]] = {"reference": [], "ours": []}
    for r in range(rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            got[side.label].append(sample(side))
    summary = {}
    for label, samples in got.items():
        modules = {m for s in samples for m in s["self_us"]}
        self_med = {m: dirs_mod.median(s["self_us"].get(m, 0) for s in samples) for m in modules}
        cum_med = {
            m: dirs_mod.median(s["cumulative_by_module_us"].get(m, 0) for s in samples)
            for m in modules
        }
        levels = {m: lv for s in samples for m, lv in s["level"].items()}
        summary[label] = {
            "heaviest_imports_ms": sorted(
                (
                    (m, v / 1e3)
                    for m, v in cum_med.items()
                    if 1 <= levels.get(m, 9) <= 2 and v >= 1000
                ),
                key=lambda kv: -kv[1],
            ),
            "cumulative_ms": dirs_mod.median(s["cumulative_us"] for s in samples) / 1e3,
            "first_use_ms": dirs_mod.median(s["first_use_us"] for s in samples) / 1e3,
            "process_import_ms": dirs_mod.median(s["process_import_s"] for s in samples) * 1e3,
            "process_pass_ms": dirs_mod.median(s["process_pass_s"] for s in samples) * 1e3,
            "top_self_ms": sorted(
                ((m, v / 1e3) for m, v in self_med.items()), key=lambda kv: -kv[1]
            )[:12],
            "cumulative_by_module_ms": {m: v / 1e3 for m, v in cum_med.items()},
        }
    return {"summary": summary, "samples": got, "rounds": rounds}


def markdown(result: dict) -> str:
    s = result["summary"]
    ref, ours = s["reference"], s["ours"]
    ratio = ours["cumulative_ms"] / ref["cumulative_ms"]
    lines = [
        f"Median of {result['rounds']}, sides alternating.",
        "",
        "| | reference | ours | ours / reference |",
        "|---|---:|---:|---:|",
        f"| `-X importtime` cumulative, `{PACKAGE}` | {ref['cumulative_ms']:.1f} ms "
        f"| {ours['cumulative_ms']:.1f} ms | {ratio:.2f} |",
        f"| `-X importtime`, modules of the package `{FIRST_USE}` imports "
        f"| {ref['first_use_ms']:.1f} ms | {ours['first_use_ms']:.1f} ms "
        f"| {ours['first_use_ms'] / ref['first_use_ms']:.2f} |",
        f"| process `import {PACKAGE}` | {ref['process_import_ms']:.1f} ms "
        f"| {ours['process_import_ms']:.1f} ms | "
        f"{ours['process_import_ms'] / ref['process_import_ms']:.2f} |",
        f"| process `pass` (same interpreter) | {ref['process_pass_ms']:.1f} ms "
        f"| {ours['process_pass_ms']:.1f} ms | |",
        "",
        f"Issue 9 target (ours ≤ half the reference's cumulative import): "
        f"**{'pass' if ratio <= 0.5 else 'fail'}** ({ratio:.2f}).",
        "",
    ]
    for label in ("ours", "reference"):
        heavy = ", ".join(f"`{m}` {v:.1f}" for m, v in s[label]["heaviest_imports_ms"][:12])
        lines.append(
            f"- {label}: the package's modules and what they import first, cumulative "
            f"≥ 1 ms (a module shared by both is charged to whichever imports it first): "
            f"{heavy}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", type=Path)
    dirs_mod.add_side_options(parser)
    args = parser.parse_args(argv)
    reference, ours = dirs_mod.sides_from_args(args)
    t = time.perf_counter()
    result = run(reference, ours, args.rounds)
    result["elapsed_s"] = time.perf_counter() - t
    text = markdown(result)
    if args.json:
        args.json.write_text(json.dumps({**result, "markdown": text}, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
