#!/usr/bin/env python3
"""Fast end-to-end check of the benchmark tooling, for the test suite.

``run_smoke(tmpdir)`` generates a tiny monorepo (300 commits, 2 services x 30
migrations) with ``gen_monorepo`` and runs every scenario of ``compare`` once on
it, which raises ``ChainMismatch`` if any chain of ours differs from the
reference's. Takes a few seconds; the reference's virtualenv is created under
``benches/.work/`` on first use (or pass ``reference_python`` /
``reference_path``). Timings are not checked: benchmarks are not tests.

    python benches/smoke.py        # the same, in a temporary directory
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def _load(name: str) -> ModuleType:
    """Import a sibling script by path: ``benches/`` is not a package."""
    module_name = f"_agr_benches_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, _HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def run_smoke(
    tmpdir: str | Path,
    *,
    reference_python: str | None = None,
    reference_path: str | None = None,
    ours_python: str | None = None,
    merge_style: str = "mixed",
) -> None:
    """Generate a tiny repo in *tmpdir* and compare ours with the reference on it.

    Ours is ``ours_python`` (default: this interpreter). The reference is
    ``reference_python``, or this interpreter with ``reference_path`` prepended
    to ``PYTHONPATH``, or else the cached virtualenv under ``benches/.work/``.
    """
    gen = _load("gen_monorepo")
    compare = _load("compare")
    tmp = Path(tmpdir)
    repo = tmp / "monorepo"
    summary = gen.generate(
        repo,
        commits=300,
        migrations=30,
        services=2,
        unrelated_files=300,
        static_prefix=10,
        merge_style=merge_style,
        seed=7,
    )
    assert summary["commits"] >= 300, summary
    assert summary["merges"] > 0 or merge_style == "rebase", summary
    assert set(summary["migrations_per_dir"].values()) == {30}, summary
    if reference_python is None:
        reference_python = sys.executable if reference_path else compare.ensure_reference_python()
    result = compare.run(
        repo,
        rounds=1,
        per_call_n=500,
        reference=compare.Side("reference", reference_python, reference_path),
        ours=compare.Side("ours", ours_python or sys.executable),
        work=tmp / "work",
        log=lambda _msg: None,
    )
    assert sorted(result["meta"]["dirs"]) == sorted(summary["versions_dirs"]), result["meta"]
    for scenario in compare.SCENARIOS:
        by_side = result["medians"].get(scenario)
        assert by_side, f"scenario {scenario} produced no samples"
        if scenario != "git":
            assert set(by_side) == {"reference", "ours"}, (scenario, by_side)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="agr-smoke-") as d:
        run_smoke(d, ours_python=sys.argv[1] if len(sys.argv) > 1 else None)
    print("smoke: OK")
