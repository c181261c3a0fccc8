"""``check`` explains a reordering for the history at hand, and its fixes work.

Every scenario is a real Alembic project on SQLite in a real git repository (fixed
dates): ``main`` has the static root, then A and B (dynamic), tagged ``deployed`` with
a database upgraded to B; a ``feature`` branch forked before A adds F. How F reaches
``main`` decides whether the chain stays append-only:

* GitHub's "Update branch" (``main`` merged into the feature, feature first), then a
  merge commit into ``main``: F lands before A although the final merge has ``main``
  first. ``check`` names the "Update branch" merge as the cause and does not offer
  "merge the other way round", which cannot help there.
* A GitHub-style merge queue (a merge commit of ``main`` and the pull request on a
  temporary branch, ``main`` fast-forwarded to it): the same, and a queue alone (no
  "Update branch") is safe.
* Squash merges, rebase merges and "Update with rebase": safe, F lands last.
* A fast-forward onto a feature-first merge: the merge is on ``main``'s own line.

Each fix ``check`` offers for a history is applied to that history and verified: the
check passes and ``alembic upgrade head`` on the deployed database creates F's table.
Also: migrations first added in one commit (ordered by file name only), renames that
moved a migration, and several version locations forming one revision graph, with
``alembic heads`` as the oracle, through ``check_graph`` and ``check --config`` (text and
JSON; one graph per configuration section).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil

import pytest
from alembic_git_revisions import (
    Finding,
    build_chain,
    chain_state,
    check_append_only,
    check_graph,
)
from test_workflow_cli import (
    AGR,
    ALEMBIC,
    ENV_PY,
    PROJECT_VERSIONS,
    ROOT,
    A,
    B,
    F,
    GitWorkdir,
    X,
    Y,
    alembic,
    db_version,
    deployed_project,
    migration_file,
    run,
    table_migration,
    tables,
)


def sha(work: GitWorkdir, ref: str) -> str:
    return work.git("rev-parse", ref).strip()


def feature_with_update_branch(work: GitWorkdir) -> tuple[str, str]:
    """The feature adds F, then merges ``main`` into itself, feature first (GitHub's
    "Update branch"); the commits adding F and the merge. Leaves ``main`` checked out."""
    work.git("checkout", "-q", "feature")
    f_commit = work.commit(migration_file(F, "f"), "Add f")
    work.git("merge", "-q", "--no-edit", "-m", "Merge branch 'main' into feature", "main")
    update = sha(work, "HEAD")
    work.git("checkout", "-q", "main")
    return f_commit, update


def assert_upgrade_runs_f(work: GitWorkdir, database: pathlib.Path) -> None:
    """The deployed database (at B) gets F's table from ``alembic upgrade head``."""
    assert db_version(database) == [B]
    alembic(work.path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b", "f"}
    assert db_version(database) == [F]


def assert_safe(work: GitWorkdir, database: pathlib.Path) -> None:
    """``check --base deployed`` passes, F is chained after B, and upgrading runs it."""
    versions = work.path / PROJECT_VERSIONS
    result = check_append_only(versions, base="deployed")
    assert result.ok, result.findings
    parents = chain_state(versions).parents()
    assert (parents[A], parents[B], parents[F]) == ((ROOT,), (A,), (B,))
    assert_upgrade_runs_f(work, database)


def only(result_findings: list[Finding]) -> Finding:
    assert len(result_findings) == 1, result_findings
    return result_findings[0]


def hardcode_f_after_b(work: GitWorkdir) -> None:
    """The "hardcode" fix as the finding spells it: F's down_revision = B, committed."""
    path = f"{PROJECT_VERSIONS}/{F}_create_f.py"
    work.commit({path: table_migration(F, "f", B, dynamic=False)}, "Hardcode f after b")


# ------------------------------------------------------------ Update branch


def test_update_branch_then_merge_commit(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    f_commit, update = feature_with_update_branch(work)
    work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1 from feature", "feature")
    pr = sha(work, "HEAD")

    # main is the PR merge's first parent, yet F comes before A.
    assert build_chain(versions) == {F: ROOT, A: F, B: A}

    finding = only(check_append_only(versions, base="deployed").findings)
    assert (finding.kind, finding.revision, finding.old_parents, finding.new_parents) == (
        "parent-changed",
        A,
        (ROOT,),
        (F,),
    )
    assert (finding.inserted, finding.commit) == (F, f_commit)
    assert (finding.cause, finding.merge, finding.merged_by) == ("merged-into-feature", update, pr)
    message = finding.message
    assert f"joined by merge {update[:10]} (\"Merge branch 'main' into feature\"" in message
    assert f"{F}'s side as parent 1 and {A}'s as parent 2" in message
    assert "Update branch" in message
    assert f'merge {pr[:10]} ("Merge pull request #1 from feature"' in message
    assert "Merging the other way round does not help" in message
    # The fixes offered: each one is verified below or in the tests that follow.
    assert len(finding.fixes) == 3
    assert '"Update with rebase"' in finding.fixes[0]
    assert '"Squash and merge" or "Rebase and merge"' in finding.fixes[0]
    assert finding.fixes[1].startswith(f"once merged, hardcode down_revision = '{B}' in {F} ")
    assert f"alembic-git-revisions pin {versions} --at deployed" in finding.fixes[2]
    assert not any("other way round" in fix or "first parent" in fix for fix in finding.fixes)
    for fix in finding.fixes:
        assert fix in message

    cli = run(work.path, AGR, "check", "--base", "deployed", PROJECT_VERSIONS)
    assert cli.status == 1, cli
    assert f"[parent-changed] {A} ({A}_create_a.py)" in cli.err
    assert "Merging the other way round does not help" in cli.err

    # The danger: the database at B believes F already ran.
    database_copy = tmp_path / "danger.db"
    shutil.copy(database, database_copy)
    alembic(work.path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b"}, "F never runs: the bug check prevents"
    shutil.copy(database_copy, database)

    # Once merged: the hardcode fix, exactly as offered.
    hardcode_f_after_b(work)
    assert_safe(work, database)


@pytest.mark.parametrize("strategy", ["update-with-rebase", "squash-merge", "rebase-merge"])
def test_update_branch_fixes_before_merging(tmp_path: pathlib.Path, strategy: str) -> None:
    """The fixes offered for a branch that merged ``main`` in: each puts F last."""
    work, database = deployed_project(tmp_path / "proj")
    if strategy == "update-with-rebase":
        # GitHub's "Update with rebase": F re-created on top of main, then a merge commit.
        work.git("checkout", "-q", "feature")
        work.commit(migration_file(F, "f"), "Add f")
        work.git("rebase", "-q", "main")
        work.git("checkout", "-q", "main")
        work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    elif strategy == "squash-merge":
        feature_with_update_branch(work)
        work.git("merge", "-q", "--squash", "feature")
        work.git("commit", "-q", "-m", "Add f (#1)")
    else:
        # "Rebase and merge": the feature's own commits replayed on main (the
        # "Update branch" merge is dropped, as git rebase does), then a fast-forward.
        feature_with_update_branch(work)
        work.git("checkout", "-q", "feature")
        work.git("rebase", "-q", "main")
        work.git("checkout", "-q", "main")
        work.git("merge", "-q", "--ff-only", "feature")
    assert_safe(work, database)


# ------------------------------------------------------------ merge queue


def merge_queue(work: GitWorkdir, pr_branch: str) -> str:
    """GitHub's merge queue: a merge commit of main and the PR on a temporary branch,
    main then fast-forwarded to it; the queue's merge commit."""
    head = sha(work, pr_branch)
    queue = f"gh-readonly-queue/main/pr-1-{sha(work, 'main')}"
    work.git("checkout", "-q", "-b", queue, "main")
    work.git("merge", "-q", "--no-ff", "-m", f"Merge pull request #1 ({head[:7]})", pr_branch)
    merged = sha(work, "HEAD")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--ff-only", queue)
    work.git("branch", "-q", "-D", queue)
    return merged


def test_merge_queue_after_update_branch(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    f_commit, update = feature_with_update_branch(work)
    queued = merge_queue(work, "feature")

    assert build_chain(versions) == {F: ROOT, A: F, B: A}
    finding = only(check_append_only(versions, base="deployed").findings)
    assert (finding.kind, finding.revision, finding.inserted, finding.commit) == (
        "parent-changed",
        A,
        F,
        f_commit,
    )
    assert (finding.cause, finding.merge, finding.merged_by) == (
        "merged-into-feature",
        update,
        queued,
    )
    assert "merge queue's merge method" in finding.fixes[0]

    # The hardcode fix works here too.
    hardcode_f_after_b(work)
    assert_safe(work, database)


def test_merge_queue_alone_is_safe(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    work.git("checkout", "-q", "feature")
    work.commit(migration_file(F, "f"), "Add f")
    work.git("checkout", "-q", "main")
    merge_queue(work, "feature")
    assert_safe(work, database)


# ------------------------------------------------------------ fast-forward


def test_fast_forward_onto_a_feature_first_merge(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    f_commit, update = feature_with_update_branch(work)
    work.git("merge", "-q", "--ff-only", "feature")

    finding = only(check_append_only(versions, base="deployed").findings)
    assert (finding.revision, finding.inserted, finding.commit) == (A, F, f_commit)
    # The deciding merge is main's own history now.
    assert (finding.cause, finding.merge, finding.merged_by) == (
        "merge-on-target-line",
        update,
        update,
    )
    assert "is on HEAD's first-parent line" in finding.message
    assert "fast-forwarded onto a merge made on the feature branch" in finding.message
    assert finding.fixes[0].startswith("if it is not deployed from here yet, replace that merge")
    assert finding.fixes[1].startswith(f"once merged, hardcode down_revision = '{B}' in {F}")

    hardcode_f_after_b(work)
    assert_safe(work, database)


def test_fast_forward_fix_merge_commit_without_update(tmp_path: pathlib.Path) -> None:
    """The first fix for that history: a merge commit into main, main first, without
    merging main into the feature first."""
    work, database = deployed_project(tmp_path / "proj")
    work.git("checkout", "-q", "feature")
    work.commit(migration_file(F, "f"), "Add f")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    assert_safe(work, database)


def test_several_new_migrations_before_deployed_ones_need_pins(tmp_path: pathlib.Path) -> None:
    """Hardcoding cannot place two new migrations (a static parent makes a second
    static head, two hybrids on one parent two heads): the finding offers pins, and
    they work."""
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    work.git("checkout", "-q", "feature")
    work.commit(migration_file(F, "f"), "Add f")
    work.commit(migration_file(X, "x"), "Add x")
    work.git("merge", "-q", "--no-edit", "main")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    assert build_chain(versions) == {F: ROOT, X: F, A: X, B: A}

    finding = only(check_append_only(versions, base="deployed").findings)
    assert finding.inserted == X
    assert len(finding.fixes) == 2
    assert not any("hardcode" in fix for fix in finding.fixes)
    assert "alembic-git-revisions pin" in finding.fixes[1]

    assert run(work.path, AGR, "pin", PROJECT_VERSIONS, "--at", "deployed").status == 0
    assert check_append_only(versions, base="deployed").ok
    build_chain.cache_clear()
    assert build_chain(versions) == {A: ROOT, B: A, F: B, X: F}
    alembic(work.path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b", "f", "x"}
    assert db_version(database) == [X]


# ------------------------------------------------------------ same commit


def test_migrations_added_in_one_commit(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    # Y's file name sorts before X's: git gives them one position, names decide.
    both = work.commit(
        {
            f"{PROJECT_VERSIONS}/{Y}_create_y.py": table_migration(Y, "y"),
            f"{PROJECT_VERSIONS}/{X}_create_x.py": table_migration(X, "x"),
        },
        "Add x and y",
    )
    assert sorted([f"{X}_create_x.py", f"{Y}_create_y.py"]) == [
        f"{X}_create_x.py",
        f"{Y}_create_y.py",
    ]
    assert build_chain(versions) == {A: ROOT, B: A, X: B, Y: X}

    for base in (None, "deployed"):
        finding = only(check_append_only(versions, base=base).findings)
        assert (finding.kind, finding.commit, finding.revisions) == ("same-commit", both, (X, Y))
        assert f"first added in the same commit {both[:10]} (" in finding.message
        assert f"{X}_create_x.py, {Y}_create_y.py" in finding.message
        assert f"only their file names order them: {X} -> {Y}" in finding.message
        assert "date-prefixed file_template" in finding.message

    cli = run(work.path, AGR, "check", PROJECT_VERSIONS)
    assert cli.status == 1
    assert "[same-commit] 2 dynamic migrations were first added in the same commit" in cli.err

    # Once deployed together, that order is the one that ran: no finding against it.
    alembic(work.path, "upgrade", "head")
    work.git("tag", "deployed-2")
    assert check_append_only(versions, base="deployed-2").ok
    # Pinned, the order is fixed whatever the names: no finding either.
    assert run(work.path, AGR, "pin", PROJECT_VERSIONS).status == 0
    assert check_append_only(versions).ok
    assert db_version(database) == [Y]


# ------------------------------------------------------------------ renames


def test_a_rename_that_moved_a_deployed_migration(tmp_path: pathlib.Path) -> None:
    work, _ = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    old_name, new_name = f"{A}_create_a.py", f"{A}_a_renamed.py"
    work.git("mv", f"{PROJECT_VERSIONS}/{old_name}", f"{PROJECT_VERSIONS}/{new_name}")
    work.git("commit", "-q", "-m", "Rename a")
    rename = sha(work, "HEAD")
    # A rename is a delete plus an add: A moves after B.
    assert build_chain(versions) == {B: ROOT, A: B}

    result = check_append_only(versions, base="deployed")
    by_kind = {f.kind: f for f in result.findings}
    assert sorted(by_kind) == ["parent-changed", "renamed"]
    renamed = by_kind["renamed"]
    assert (renamed.revision, renamed.old_filename, renamed.filename, renamed.commit) == (
        A,
        old_name,
        new_name,
        rename,
    )
    assert (renamed.old_parents, renamed.new_parents, renamed.cause) == ((ROOT,), (B,), "rename")
    assert f"its file was renamed {old_name} -> {new_name} since deployed" in renamed.message
    assert "Git records a rename as a delete plus an add" in renamed.message
    assert renamed.fixes[0].startswith(f"rename it back: `git mv {new_name} {old_name}`")
    moved = by_kind["parent-changed"]
    assert (moved.revision, moved.inserted, moved.cause) == (B, None, "rename")
    assert f"its old parent {A} moved away, because {A}'s file was renamed" in moved.message

    # The fix offered: renaming back restores the place of the first add.
    work.git("mv", f"{PROJECT_VERSIONS}/{new_name}", f"{PROJECT_VERSIONS}/{old_name}")
    work.git("commit", "-q", "-m", "Rename a back")
    build_chain.cache_clear()
    assert build_chain(versions) == {A: ROOT, B: A}
    assert check_append_only(versions, base="deployed").ok


# ------------------------------------------------------------ several locations


def locations_project(path: pathlib.Path, second: dict[str, str]) -> GitWorkdir:
    """An Alembic project with two version locations: ``migrations/versions`` (static
    root, then A and B dynamic) and ``extra/versions`` holding *second*."""
    work = GitWorkdir(path)
    work.commit(
        {
            ".gitignore": "*.db\n__pycache__/\n",
            "alembic.ini": (
                "[alembic]\n"
                "script_location = %(here)s/migrations\n"
                "path_separator = os\n"
                f"version_locations = %(here)s/migrations/versions{os.pathsep}"
                "%(here)s/extra/versions\n"
                "sqlalchemy.url = sqlite:///%(here)s/app.db\n"
            ),
            "migrations/env.py": ENV_PY,
            f"{PROJECT_VERSIONS}/{ROOT}_create_root.py": table_migration(
                ROOT, "root", None, dynamic=False
            ),
        },
        "Initial schema",
    )
    work.commit(migration_file(A, "a"), "Add a")
    work.commit(migration_file(B, "b"), "Add b")
    work.commit(second, "Second location")
    return work


def alembic_heads(work: GitWorkdir) -> list[str]:
    out = alembic(work.path, "heads")
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def graph_findings(work: GitWorkdir) -> list[Finding]:
    states = [chain_state(work.path / d) for d in (PROJECT_VERSIONS, "extra/versions")]
    return check_graph(states)


def extra(revision: str, parent: str | None, labels: str = "None") -> dict[str, str]:
    """A static migration in the second location, with ``branch_labels``."""
    text = table_migration(revision, f"t{revision[:4]}", parent, dynamic=False)
    text = text.replace(
        f"down_revision = {parent!r}\n", f"down_revision = {parent!r}\nbranch_labels = {labels}\n"
    )
    return {f"extra/versions/{revision}_extra.py": text}


def test_two_locations_with_two_unlabelled_heads(tmp_path: pathlib.Path) -> None:
    work = locations_project(tmp_path / "proj", extra(X, None))
    assert alembic_heads(work) == sorted([B, X])
    finding = only(graph_findings(work))
    assert (finding.kind, finding.revisions, finding.branch_label) == (
        "graph-heads",
        (B, X),
        None,
    )
    assert finding.versions_dirs == (
        str(work.path / PROJECT_VERSIONS),
        str(work.path / "extra/versions"),
    )
    assert "2 heads for no branch label" in finding.message
    assert "`alembic upgrade head` refuses to run" in finding.message
    assert "alembic merge heads" in finding.message


def test_two_locations_with_a_labelled_branch(tmp_path: pathlib.Path) -> None:
    work = locations_project(tmp_path / "proj", {**extra(X, None, "('extra',)"), **extra(Y, X)})
    assert alembic_heads(work) == sorted([B, Y])
    assert graph_findings(work) == []
    alembic(work.path, "upgrade", "heads")
    alembic(work.path, "upgrade", "extra@head")


def test_two_heads_under_one_label(tmp_path: pathlib.Path) -> None:
    # The labelled line splits: extra@head is ambiguous.
    second = {**extra(X, None, "'extra'"), **extra(Y, X)}
    second.update({f"extra/versions/{F}_other.py": table_migration(F, "o", X, dynamic=False)})
    work = locations_project(tmp_path / "proj", second)
    assert alembic_heads(work) == sorted([B, F, Y])
    finding = only(graph_findings(work))
    assert (finding.revisions, finding.branch_label) == (tuple(sorted([F, Y])), "extra")
    assert "`alembic upgrade extra@head` is ambiguous" in finding.message
    result = run(work.path, ALEMBIC, "upgrade", "extra@head")
    assert result.status != 0


def test_a_location_continuing_another_is_one_line(tmp_path: pathlib.Path) -> None:
    work = locations_project(tmp_path / "proj", {**extra(X, B), **extra(Y, X)})
    assert alembic_heads(work) == [Y]
    assert graph_findings(work) == []


def test_one_revision_in_two_locations(tmp_path: pathlib.Path) -> None:
    second = {f"extra/versions/{A}_again.py": table_migration(A, "again", ROOT, dynamic=False)}
    work = locations_project(tmp_path / "proj", second)
    findings = graph_findings(work)
    assert [(f.kind, f.revision) for f in findings] == [("duplicate-revision", A)]
    assert f"{A}_create_a.py and " in findings[0].message
    assert f"{A}_again.py" in findings[0].message
    # Alembic only warns, and loads one of the two: the other never runs.
    assert f"Revision {A} is present more than once" in run(work.path, ALEMBIC, "heads").err


# ------------------------------------------------- check --config: one graph


def check_json(work: GitWorkdir, *args: str) -> tuple[int, dict]:
    outcome = run(work.path, AGR, "check", *args, "--format", "json")
    assert outcome.err == "", outcome
    return outcome.status, json.loads(outcome.out)


def test_check_config_judges_the_locations_as_one_graph(tmp_path: pathlib.Path) -> None:
    """extra/versions continues migrations/versions: one line, one head. Checked alone,
    extra/versions has a parent that is nowhere in it; checked as a location of the
    configuration (or together with the other directory), it is not dangling."""
    work = locations_project(tmp_path / "proj", {**extra(X, B), **extra(Y, X)})
    main, second = work.path / PROJECT_VERSIONS, work.path / "extra/versions"
    assert alembic_heads(work) == [Y]

    alone = run(work.path, AGR, "check", "extra/versions")
    assert alone.status == 1
    assert f"[dangling-parent] {X}_extra.py: down_revision '{B}' is not a revision in" in alone.err

    text = run(work.path, AGR, "check", "--config", "alembic.ini")
    assert (text.status, text.err) == (0, ""), text
    assert text.out.splitlines() == [
        f"{main}: OK, 3 migrations",
        f"{second}: OK, 2 migrations",
        "alembic.ini [alembic]: revision graph of 2 version locations: OK, 1 head",
    ]
    status, document = check_json(work, "--config", "alembic.ini")
    assert (status, document["ok"]) == (0, True)
    assert [d["findings"] for d in document["directories"]] == [[], []]
    (graph,) = document["graphs"]
    assert graph == {
        "config": "alembic.ini [alembic]",
        "paths": [str(main), str(second)],
        "ok": True,
        "summary": "alembic.ini [alembic]: revision graph of 2 version locations: OK, 1 head",
        "error": None,
        "findings": [],
    }
    # The same two directories named on the command line: one graph too.
    status, document = check_json(work, PROJECT_VERSIONS, "extra/versions")
    assert status == 0
    assert [g["config"] for g in document["graphs"]] == [None]
    # One directory alone is no graph.
    status, document = check_json(work, PROJECT_VERSIONS)
    assert (status, document["graphs"]) == (0, [])


def test_check_config_reports_two_unlabelled_heads(tmp_path: pathlib.Path) -> None:
    work = locations_project(tmp_path / "proj", extra(X, None))
    assert alembic_heads(work) == sorted([B, X])
    status, document = check_json(work, "-c", "alembic.ini")
    assert (status, document["ok"], document["status"]) == (1, False, 1)
    assert [d["ok"] for d in document["directories"]] == [True, True]
    (graph,) = document["graphs"]
    (finding,) = graph["findings"]
    assert set(finding) == {f.name for f in dataclasses.fields(Finding)}
    assert (finding["kind"], finding["revisions"], finding["branch_label"]) == (
        "graph-heads",
        [B, X],
        None,
    )
    assert graph["summary"].endswith("revision graph of 2 version locations: 1 problem found")
    text = run(work.path, AGR, "check", "-c", "alembic.ini")
    assert text.status == 1
    assert "  - [graph-heads] the 2 version locations form one revision graph with 2 heads" in (
        text.err
    )


def test_check_config_with_a_labelled_branch(tmp_path: pathlib.Path) -> None:
    work = locations_project(tmp_path / "proj", {**extra(X, None, "('extra',)"), **extra(Y, X)})
    text = run(work.path, AGR, "check", "-c", "alembic.ini")
    assert (text.status, text.err) == (0, ""), text
    assert text.out.splitlines()[-1] == (
        "alembic.ini [alembic]: revision graph of 2 version locations: OK, 2 heads, one per "
        "branch label"
    )


def test_each_configuration_section_is_its_own_graph(tmp_path: pathlib.Path) -> None:
    """Two ini sections (two Alembic environments, ``alembic -n``): each location has
    its own head, which is right for each section; no graph joins them."""
    work = locations_project(tmp_path / "proj", extra(X, None))
    work.write(
        {
            "multi.ini": "[main]\nscript_location = %(here)s/migrations\n"
            "version_locations = %(here)s/migrations/versions\n\n"
            "[second]\nscript_location = %(here)s/migrations\n"
            "version_locations = %(here)s/extra/versions\n"
        }
    )
    status, document = check_json(work, "-c", "multi.ini", "-n", "main", "-n", "second")
    assert status == 0, document
    assert [(g["config"], g["ok"]) for g in document["graphs"]] == [
        ("multi.ini [main]", True),
        ("multi.ini [second]", True),
    ]
    # The same sections as one configuration's locations would be two heads.
    assert run(work.path, AGR, "check", "-c", "alembic.ini").status == 1


def test_an_unreadable_location_leaves_its_graph_unchecked(tmp_path: pathlib.Path) -> None:
    second = {
        f"extra/versions/{X}_one.py": table_migration(X, "one", B, dynamic=False),
        f"extra/versions/{X}_two.py": table_migration(X, "two", B, dynamic=False),
    }
    work = locations_project(tmp_path / "proj", second)
    outcome = run(work.path, AGR, "check", "-c", "alembic.ini", "--format", "json")
    assert outcome.status == 2
    document = json.loads(outcome.out)
    assert [d["error"] is None for d in document["directories"]] == [True, False]
    (graph,) = document["graphs"]
    assert (graph["ok"], graph["summary"], graph["findings"]) == (False, None, [])
    assert graph["error"] == "not checked: 1 version location could not be read"
    text = run(work.path, AGR, "check", "-c", "alembic.ini")
    assert text.status == 2
    assert "revision graph not checked: 1 version location could not be read" in text.err
