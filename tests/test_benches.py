"""The benchmark tooling runs end to end on small repositories (timings unchecked).

``benches/smoke.py`` generates a 300-commit monorepo with ``gen_monorepo`` and runs
every scenario of ``compare`` once; the other tests run each of the issue-9 runners
(``dirs``, ``real_repos``, ``shapes``, ``scaling``, ``ci_warm``, ``startup``) once on
repositories of a few hundred commits. The runners raise if any answer of ours differs
from the reference's; a stand-in package that answers wrongly shows that they do. The
reference is imported straight from its wheel (``tests/reference.py`` fetches it).
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import pytest
from reference import reference_wheel

BENCHES = pathlib.Path(__file__).resolve().parent.parent / "benches"

# Small versions of the campaigns' shapes: a few hundred commits, a few seconds each.
TINY_DEEP = {
    "layout": "deep",
    "commits": 400,
    "migrations": 20,
    "services": 2,
    "unrelated_files": 400,
    "merge_style": "noff",
    "seed": 3,
    "static_prefix": 5,
}


def _load(name: str) -> types.ModuleType:
    """A benches/ script as a module (benches/ is not a package)."""
    module_name = f"_agr_bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCHES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sides() -> tuple:
    compare = _load("compare")
    return (
        compare.Side("reference", sys.executable, str(reference_wheel())),
        compare.Side("ours", sys.executable),
    )


@pytest.fixture(scope="module")
def deep_repo(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    gen = _load("gen_monorepo")
    repo = tmp_path_factory.mktemp("deep") / "repo"
    summary = gen.generate(repo, **TINY_DEEP)
    assert summary["commits"] >= 400 and summary["merges"] > 0, summary
    return repo


def _git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_benchmark_code_paths_on_a_small_repo(tmp_path: pathlib.Path) -> None:
    smoke = _load("smoke")
    smoke.run_smoke(tmp_path, reference_path=str(reference_wheel()))
    assert (tmp_path / "monorepo" / ".git").is_dir()


def test_deep_layout_spreads_commits_over_many_directories(deep_repo: pathlib.Path) -> None:
    files = _git(deep_repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    dirs = {f.rsplit("/", 1)[0] for f in files}
    assert len(dirs) > 40 and max(f.count("/") for f in files) >= 5
    log = _git(deep_repo, "log", "--no-merges", "--format=tformat:@", "--name-only", "-n", "300")
    per_commit = [c.split() for c in log.split("@")[1:]]
    multi_dir = [c for c in per_commit if len({p.rsplit("/", 1)[0] for p in c}) >= 2]
    assert len(multi_dir) > len(per_commit) // 5, "commits should touch several directories"


def test_dirs_runner_compares_every_directory(deep_repo: pathlib.Path, sides: tuple) -> None:
    dirs = _load("dirs")
    versions = ["services/accounts/alembic/versions", "services/billing/alembic/versions"]
    listing = deep_repo.parent / "pairs.txt"
    listing.write_text(f"# comment\nrepo:{versions[1]}\n")
    targets = dirs.parse_pairs([f"{deep_repo}:{versions[0]}"], [listing])
    result = dirs.run(
        targets, reference=sides[0], ours=sides[1], rounds=1, loading_rounds=1, log=lambda m: None
    )
    summary = result["summary"]
    assert [r["dir"] for r in summary["rows"]] == versions
    assert summary["compared"] == 2 and summary["geomean_call"] > 0
    assert all(r["result"] == "20 migrations" for r in summary["rows"])
    (loading,) = summary["loading"]
    assert loading["rev_list_s"] > 0 and loading["phases_s"], loading
    assert "**geomean** (2 dirs)" in result["markdown"]


def test_dirs_runner_stops_on_a_different_answer(
    deep_repo: pathlib.Path, sides: tuple, tmp_path: pathlib.Path
) -> None:
    dirs, compare = _load("dirs"), _load("compare")
    fake = tmp_path / "fake" / "alembic_git_revisions"
    fake.mkdir(parents=True)
    # A stand-in that finds no migration at all.
    (fake / "__init__.py").write_text("def parse_versions_dir(d):\n    return []\n")
    wrong = compare.Side("ours", sys.executable, str(fake.parent))
    targets = dirs.parse_pairs([f"{deep_repo}:services/accounts/alembic/versions"], [])
    with pytest.raises(dirs.ChainMismatch, match="reference has 20 migrations, ours 0"):
        dirs.run(targets, reference=sides[0], ours=wrong, rounds=1, log=lambda m: None)


def test_real_repos_clone_plain_and_graph(deep_repo: pathlib.Path, tmp_path: pathlib.Path) -> None:
    real = _load("real_repos")
    mirrors = tmp_path / "mirrors"
    (mirrors / "acme+tiny").mkdir(parents=True)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(deep_repo), str(mirrors / "acme+tiny" / "repo")],
        check=True,
    )
    head = _git(deep_repo, "rev-parse", "HEAD")
    repo = real.RealRepo("acme/tiny", head, ("services/accounts/alembic/versions",))
    root = tmp_path / "clones"
    facts = real.clone(repo, root, mirrors, log=lambda m: None)
    plain, graph = root / "acme+tiny" / "plain", root / "acme+tiny" / "graph"
    assert facts["commits"] == int(_git(deep_repo, "rev-list", "--count", "HEAD"))
    assert real.commit_graph_files(plain) == [] and real.commit_graph_files(graph)
    assert len(real.pack_files(plain)) == 1
    assert _git(plain, "config", "remote.origin.url") == "https://github.com/acme/tiny"
    assert not list((plain / ".git" / "objects" / "pack").glob("*.promisor"))
    assert _git(graph, "rev-parse", "HEAD") == head
    real.write_lists(root, [repo])
    assert (root / "graph.txt").read_text().splitlines()[1:] == [
        "acme+tiny/graph:services/accounts/alembic/versions"
    ]
    for r in real.REPOS:
        assert len(r.commit) == 40 and all(c in "0123456789abcdef" for c in r.commit), r
    assert len({r.key for r in real.REPOS}) == len(real.REPOS) >= 6


def test_shapes_campaign_marks_every_target(tmp_path: pathlib.Path, sides: tuple) -> None:
    shapes = _load("shapes")
    result = shapes.run_campaign(
        {"deep": TINY_DEEP},
        rounds=1,
        reference=sides[0],
        ours=sides[1],
        work=tmp_path,
        per_call_n=200,
        log=lambda m: None,
    )
    assert [r["variant"] for r in result["rows"]] == list(shapes.VARIANTS)
    for row in result["rows"]:
        assert set(row["pass"]) == {"cold_one", "cold_all", "warm", "per_call"}
        assert all(v is not None for v in row["pass"].values()), row
    base = tmp_path / "shapes" / shapes.shape_key("deep", TINY_DEEP)
    assert len(list((base / "server" / ".git" / "objects" / "pack").glob("*.pack"))) == 1
    assert (base / "server+graph" / ".git" / "objects" / "info" / "commit-graph").exists()
    assert not (base / "fast-import" / ".git" / "objects" / "info" / "commit-graph").exists()
    assert result["markdown"].count("| deep |") == 4


def test_scaling_clones_prefixes_and_draws_svg(tmp_path: pathlib.Path, sides: tuple) -> None:
    scaling = _load("scaling")
    clones = scaling.ensure_clones([150, 400], tmp_path, lambda m: None, params=TINY_DEEP)
    assert clones[150]["commits"] < clones[400]["commits"]
    assert abs(clones[150]["commits"] - 150) < 60
    samples = scaling.measure(clones, sides[0], sides[1], 1, lambda m: None)
    summary = scaling.summarize(clones, samples)
    assert {f["time"]["exponent"] is not None for f in summary["fits"].values()} == {True}
    root = ET.fromstring(scaling.svg(summary, "test"))
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 6  # 3 series x 2 plots


def test_ci_warm_replays_a_cached_ci(deep_repo: pathlib.Path, sides: tuple, tmp_path) -> None:
    ci_warm = _load("ci_warm")
    result = ci_warm.run(
        deep_repo,
        "services/accounts/alembic/versions",
        reference=sides[0],
        ours=sides[1],
        rounds=1,
        new_commits=[1, 3],
        work=tmp_path / "ci",
        log=lambda m: None,
    )
    names = [r["scenario"] for r in result["rows"]]
    assert names == [
        "cold, empty cache (fills it)",
        "restored cache, same HEAD",
        "restored cache, PR head: +1 new commit",
        "restored cache, PR merge commit: +1 new commit and a merge",
        "restored cache, PR head: +3 new commits",
        "restored cache, PR merge commit: +3 new commits and a merge",
    ]
    assert all(r["cache_bytes"] > 0 for r in result["rows"])
    assert "PR merge commit: +3 new commits" in ci_warm.markdown([result], 1)
    assert not (tmp_path / "ci").exists()


def test_startup_reads_importtime(sides: tuple) -> None:
    startup = _load("startup")
    parsed = startup.parse_importtime(
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     json.decoder\n"
        "import time:       200 |        300 |   json\n"
        "import time:        50 |         50 |   alembic_git_revisions._x\n"
        "import time:        10 |        360 | alembic_git_revisions\n"
        "import time:         5 |          5 | other\n"
    )
    assert parsed["cumulative_us"] == 360
    assert parsed["level"] == {
        "json.decoder": 2,
        "json": 1,
        "alembic_git_revisions._x": 1,
        "alembic_git_revisions": 0,
    }
    assert parsed["self_us"] == {
        "json.decoder": 100,
        "json": 200,
        "alembic_git_revisions._x": 50,
        "alembic_git_revisions": 10,
    }
    # What `from alembic_git_revisions import get_down_revision` imports: the package
    # and the submodules it loads on first use, not unrelated top-level imports.
    assert (
        startup.statement_cost_us(
            "import time:        10 |         10 | alembic_git_revisions\n"
            "import time:         5 |          5 | other\n"
            "import time:        20 |         70 | alembic_git_revisions._chain\n"
            "import time:        50 |         50 |   alembic_git_revisions._native\n"
        )
        == 80
    )
    result = startup.run(sides[0], sides[1], 1)
    assert result["summary"]["ours"]["cumulative_ms"] > 0
    assert result["summary"]["ours"]["first_use_ms"] > 0
    assert "ours / reference" in startup.markdown(result)
