"""``revision_chain.json`` helps instead of blocking.

* A stale chain file in a developer checkout (it lacks a revision git knows): git
  history is used and a :class:`StaleChainFileWarning` is issued once per file and
  process, naming the file and how to regenerate it. The issue's sequence runs on
  real Alembic: ``alembic-git-revisions migrations/versions``, ``alembic revision -m b``,
  ``alembic heads``, ``alembic upgrade head``.
* Git may only stand in where it agrees with the file on every revision the file holds;
  otherwise the file's answers already given would mix with git's, and the stale file
  is an error, as before.
* Without git (a Docker image without ``.git``, a shallow clone), ``chain``, ``graph``
  and ``check --previous-chain`` read the chain file and say so.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import warnings

import gitrepo
import pytest
from alembic_git_revisions import (
    RevisionNotFoundError,
    StaleChainFileWarning,
    build_chain,
    get_down_revision,
)
from gitrepo import Dynamic, Repo, migration_source
from test_workflow_cli import (
    AGR,
    ALEMBIC,
    PROJECT_VERSIONS,
    ROOT,
    A,
    B,
    F,
    agr,
    alembic,
    alembic_project,
    db_version,
    generated,
    migration_file,
    run,
    stock_project,
    tables,
)


@pytest.fixture(autouse=True)
def _fresh_chains() -> None:
    build_chain.cache_clear()


def _quiet_generate(versions: pathlib.Path) -> pathlib.Path:
    outcome = agr("generate", versions)
    assert outcome.status == 0, outcome.err
    return versions.parent / "revision_chain.json"


# --------------------------------------------------------------- stale, with git


def test_the_issue_sequence_with_real_alembic(tmp_path: pathlib.Path) -> None:
    work = stock_project(tmp_path / "proj")
    assert agr("init", work.path / "migrations").status == 0
    alembic(work.path, "revision", "-m", "a")
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "a")
    a_rev = generated(work.path, "a").name.split("_")[0]

    made = run(work.path, AGR, PROJECT_VERSIONS)
    assert made.status == 0, made.err
    chain_file = work.path / "migrations" / "revision_chain.json"
    assert json.loads(chain_file.read_text()) == {a_rev: None}

    revision = run(work.path, ALEMBIC, "revision", "-m", "b")
    assert revision.status == 0, revision.err
    b_rev = generated(work.path, "b").name.split("_")[0]
    for outcome in (revision, run(work.path, ALEMBIC, "heads")):
        # One warning per process, naming the file and the way out.
        assert outcome.err.count("StaleChainFileWarning") == 1, outcome.err
        assert f"{chain_file} is stale: it lacks revision {b_rev!r}" in outcome.err
        assert f"alembic-git-revisions {work.path / PROJECT_VERSIONS}" in outcome.err
        assert "Traceback" not in outcome.err
    heads = run(work.path, ALEMBIC, "heads")
    assert heads.out.split() == [b_rev, "(head)"]
    alembic(work.path, "upgrade", "head")
    assert db_version(work.path / "app.db") == [b_rev]

    # Regenerated, the warning is gone.
    assert run(work.path, AGR, PROJECT_VERSIONS).status == 0
    quiet = run(work.path, ALEMBIC, "heads")
    assert (quiet.status, quiet.err) == (0, "")
    assert json.loads(chain_file.read_text()) == {a_rev: None, b_rev: a_rev}


def _stale_repo(path: pathlib.Path) -> pathlib.Path:
    """root, A committed; the chain file generated; then B committed."""
    repo = Repo(path)
    repo.commit({f"m/versions/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.commit({f"m/versions/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    versions = repo.path / "m" / "versions"
    _quiet_generate(versions)
    repo.commit({f"m/versions/{B}_b.py": migration_source(B, Dynamic())})
    repo.flush()
    return versions


def test_stale_file_warns_once_and_uses_git(tmp_path: pathlib.Path) -> None:
    versions = _stale_repo(tmp_path / "repo")
    chain_file = versions.parent / "revision_chain.json"
    assert build_chain(versions) == {A: ROOT}, "the file wins while it has the answers"
    assert get_down_revision(A, versions) == ROOT
    with pytest.warns(StaleChainFileWarning) as caught:
        assert get_down_revision(B, versions) == A
    (warning,) = caught
    assert str(warning.message) == (
        f"{chain_file} is stale: it lacks revision {B!r}, so the chain of {versions} comes "
        "from git history instead (it agrees with the file on every revision the file "
        f"holds). Regenerate the file with: alembic-git-revisions {versions}, or delete it "
        "(it is meant for environments without git; keep it out of version control)"
    )
    assert warning.filename == __file__, "the warning points at the caller"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_down_revision(B, versions) == A
        build_chain.cache_clear()
        # Once per file and process, even after the cache is cleared.
        assert get_down_revision(B, versions) == A


def test_stale_file_as_an_error_when_asked(tmp_path: pathlib.Path) -> None:
    versions = _stale_repo(tmp_path / "repo")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleChainFileWarning)
        with pytest.raises(StaleChainFileWarning, match="is stale"):
            get_down_revision(B, versions)


def test_stale_file_that_git_contradicts_is_an_error(tmp_path: pathlib.Path) -> None:
    """The file says A's parent is the root, git (after a feature-first fast-forward)
    says F: answering B from git would mix two chains in one Alembic graph."""
    repo = Repo(tmp_path / "repo")
    repo.commit({f"m/versions/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.branch("feature")
    repo.commit({f"m/versions/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    versions = repo.path / "m" / "versions"
    chain_file = _quiet_generate(versions)
    repo.checkout("feature")
    repo.commit({f"m/versions/{F}_f.py": migration_source(F, Dynamic())})
    repo.merge("main")
    repo.commit({f"m/versions/{B}_b.py": migration_source(B, Dynamic())})
    repo.checkout("main")
    repo.fast_forward("feature")
    repo.flush()
    (versions.parent / "revision_chain.json").write_text(json.dumps({A: ROOT}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RevisionNotFoundError) as raised:
            get_down_revision(B, versions)
    message = str(raised.value)
    assert (
        f"Revision {B!r} is not in {chain_file}, which holds 1 revision: the file is stale"
        in message
    )
    assert f"it gives {A!r} the parent {F!r} where the file says {ROOT!r}" in message


# ------------------------------------------------------------------- no git


def _image(work_tree: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """A copy of *work_tree* without ``.git``, as a Docker image ships it."""
    shutil.copytree(work_tree, target, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    return target


def test_without_git_the_commands_read_the_chain_file(tmp_path: pathlib.Path) -> None:
    work = alembic_project(tmp_path / "proj")
    work.commit(migration_file(A, "a"), "Add a")
    deployed = tmp_path / "deployed.json"
    previous = _quiet_generate(work.path / PROJECT_VERSIONS)
    shutil.copy(previous, deployed)
    work.commit(migration_file(B, "b"), "Add b")
    _quiet_generate(work.path / PROJECT_VERSIONS)
    image = _image(work.path, tmp_path / "image")
    versions = image / PROJECT_VERSIONS
    chain_file = image / "migrations" / "revision_chain.json"
    note = f"note: no git history for {versions}; read its chain from {chain_file}\n"

    chain = agr("chain", versions, "--format", "json")
    assert chain.status == 0, chain.err
    assert chain.err == f"alembic-git-revisions: {note}"
    (entry,) = json.loads(chain.out)["directories"]
    assert (entry["source"], entry["chain_file"]) == ("chain-file", str(chain_file))
    assert entry["chain"] == {A: ROOT, B: A}
    assert [(m["revision"], m["parents"], m["commit"]) for m in entry["migrations"]] == [
        (ROOT, [], None),
        (A, [ROOT], None),
        (B, [A], None),
    ]
    text = agr("chain", versions)
    assert text.status == 0 and note in text.err
    assert f"   3. {B} <- {A}  [dynamic]  {B}_create_b.py" in text.out.splitlines()

    graph = agr("graph", versions)
    assert graph.status == 0 and note in graph.err
    assert f"    r_{B} --> r_{A}" in graph.out

    check = agr("check", versions, "--previous-chain", deployed)
    assert check.status == 0, check.err
    assert check.out.startswith(f"{versions}: OK")
    assert note in check.err
    as_json = json.loads(
        agr("check", versions, "--previous-chain", deployed, "--format", "json").out
    )
    assert as_json["directories"][0]["source"] == "chain-file"

    # A deployed chain this one does not extend: a finding, exit 1.
    deployed.write_text(json.dumps({A: None}))
    moved = agr("check", versions, "--previous-chain", deployed)
    assert moved.status == 1
    assert f"[parent-changed] {A} ({A}_create_a.py): parent changed (root) -> {ROOT}" in moved.err

    # What needs history still says that it does.
    base = agr("check", versions, "--base", "deployed")
    assert base.status == 2 and "is not inside a git repository" in base.err
    chain_file.unlink()
    bare = agr("chain", versions)
    assert bare.status == 2 and "revision_chain.json" in bare.err

    # Alembic itself, in the image, with the file restored.
    _quiet_generate(work.path / PROJECT_VERSIONS)
    shutil.copy(work.path / "migrations" / "revision_chain.json", chain_file)
    alembic(image, "upgrade", "head")
    assert db_version(image / "app.db") == [B]
    assert tables(image / "app.db") == {"root", "a", "b"}


def test_a_stale_chain_file_without_git_is_an_error(tmp_path: pathlib.Path) -> None:
    work = alembic_project(tmp_path / "proj")
    work.commit(migration_file(A, "a"), "Add a")
    _quiet_generate(work.path / PROJECT_VERSIONS)
    work.commit(migration_file(B, "b"), "Add b")
    image = _image(work.path, tmp_path / "image")
    outcome = agr("chain", image / PROJECT_VERSIONS)
    assert outcome.status == 2
    assert f"Revision {B!r} ({B}_create_b.py) is not in" in outcome.err
    assert "there is no git history to derive it from: the file is stale" in outcome.err


def test_a_shallow_clone_reads_the_chain_file(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "full")
    repo.commit({f"m/versions/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.commit({f"m/versions/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    clone = tmp_path / "shallow"
    gitrepo.run_git(tmp_path, "clone", "-q", "--depth", "1", repo.path.as_uri(), clone)
    versions = clone / "m" / "versions"
    assert agr("chain", versions).status == 2
    _quiet_generate(repo.path / "m" / "versions")
    shutil.copy(repo.path / "m" / "revision_chain.json", clone / "m" / "revision_chain.json")
    outcome = agr("chain", versions, "--format", "revision-chain")
    assert outcome.status == 0
    assert json.loads(outcome.out) == {A: ROOT}
    assert "note: no git history for" in outcome.err
    # With history, chain files are never read by chain/graph/check: git wins.
    with_git = agr("chain", repo.path / "m" / "versions")
    assert with_git.err == ""
