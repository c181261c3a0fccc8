"""The benchmark tooling runs end to end on a small repository (timings unchecked).

``benches/smoke.py`` generates a 300-commit monorepo with ``gen_monorepo`` and runs
every scenario of ``compare`` once; ``compare`` raises if any chain or
``get_down_revision`` answer of ours differs from the reference's. The reference is
imported straight from its wheel (``tests/reference.py`` fetches it).
"""

from __future__ import annotations

import importlib.util
import pathlib

from reference import reference_wheel

BENCHES = pathlib.Path(__file__).resolve().parent.parent / "benches"


def test_benchmark_code_paths_on_a_small_repo(tmp_path: pathlib.Path) -> None:
    spec = importlib.util.spec_from_file_location("_agr_bench_smoke", BENCHES / "smoke.py")
    assert spec is not None and spec.loader is not None
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    smoke.run_smoke(tmp_path, reference_path=str(reference_wheel()))
    assert (tmp_path / "monorepo" / ".git").is_dir()
