"""The persistent cache never changes an answer.

A repository evolves step by step (linear commits, merges in both parent orders,
fast-forwards, re-added basenames, edits of committed files, uncommitted files,
history rewrites); after every step the chain computed with the persistent cache
(carried over from the previous steps) must equal the one computed without it, and
the reference's. The cache paths exercised: the per-directory final result for an
unchanged ``HEAD``, the first-add index extended along single-parent commits, and the
history cache reused by a full walk after a merge.
"""

from __future__ import annotations

import os
import pathlib
import types

import alembic_git_revisions as ours
import pytest
from gitrepo import Dynamic, Repo, migration_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VERSIONS = "app/versions"
STEPS = (
    "add",
    "add_two",
    "readd",
    "edit",
    "merge_main_first",
    "merge_feature_first",
    "fast_forward",
    "unrelated",
    "uncommitted",
    "amend",
    "commit_graph",
)


def _chain_without_cache(versions: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setenv("ALEMBIC_GIT_REVISIONS_CACHE", "off")
        ours.build_chain.cache_clear()
        return ours.build_chain(versions)


class History:
    """A repository plus the names used so far."""

    def __init__(self, root: pathlib.Path) -> None:
        self.repo = Repo(root)
        self.counter = 0
        self.deleted: list[str] = []
        self.repo.commit({f"{VERSIONS}/000000000000_root.py": migration_source("root", None)})
        self.repo.flush()

    def name(self) -> tuple[str, str]:
        self.counter += 1
        revision = f"{self.counter:04x}abcd{self.counter:04x}"
        return revision, f"{VERSIONS}/{revision}_m.py"

    def dynamic(self) -> dict[str, bytes | None]:
        revision, path = self.name()
        return {path: migration_source(revision, Dynamic())}

    def apply(self, step: str) -> None:
        repo = self.repo
        if step == "add":
            repo.commit(self.dynamic())
        elif step == "add_two":
            repo.commit({**self.dynamic(), **self.dynamic()})
        elif step == "readd":
            # Delete a migration, then add it back later: its first add stays early.
            if self.deleted:
                path = self.deleted.pop()
                revision = pathlib.Path(path).name.split("_")[0]
                repo.commit({path: migration_source(revision, Dynamic())})
            else:
                files = sorted(p for p in repo.files() if p.startswith(VERSIONS + "/0"))
                victim = files[-1]
                if victim.endswith("000000000000_root.py"):
                    repo.commit(self.dynamic())
                    return
                repo.commit({victim: None})
                self.deleted.append(victim)
        elif step == "edit":
            files = sorted(p for p in repo.files() if p.startswith(VERSIONS))
            revision = pathlib.Path(files[-1]).name.split("_")[0]
            root = revision == "000000000000"
            source = migration_source(
                "root" if root else revision, None if root else Dynamic(), message="edited"
            )
            repo.commit({files[-1]: source})
        elif step in ("merge_main_first", "merge_feature_first", "fast_forward"):
            base = repo.tip()
            repo.branch("feature", base)
            repo.checkout("feature")
            repo.commit(self.dynamic())
            repo.checkout("main")
            repo.commit(self.dynamic())
            if step == "fast_forward":
                # The feature merges main into itself; main fast-forwards onto it.
                repo.checkout("feature")
                repo.merge("main", no_ff=True)
                repo.checkout("main")
                repo.fast_forward("feature")
            else:
                order = "ours-first" if step == "merge_main_first" else "theirs-first"
                repo.merge("feature", no_ff=True, order=order)
            del repo.branches["feature"]
        elif step == "unrelated":
            repo.commit({f"docs/{self.counter}.md": b"notes\n", "lib/x.py": f"{self.counter}\n"})
        elif step == "uncommitted":
            revision, path = self.name()
            repo.flush()
            repo.write_worktree({path: migration_source(revision, Dynamic())})
            return
        elif step == "amend":
            # Rewrite the last commit: HEAD moves sideways, not forward.
            tip = repo.tip()
            parents = repo.commits[tip].parents
            if len(parents) == 1:
                repo.commit(self.dynamic(), parents=[parents[0]])
        elif step == "commit_graph":
            repo.flush()
            repo.commit_graph(write=True)
            return
        repo.flush()


@settings(
    max_examples=int(os.environ.get("AGR_CACHE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.sampled_from(STEPS), min_size=2, max_size=10))
def test_cache_never_changes_the_chain(
    steps: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    reference: types.ModuleType,
) -> None:
    history = History(tmp_path_factory.mktemp("cache"))
    versions = history.repo.path / VERSIONS
    monkeypatch.delenv("ALEMBIC_GIT_REVISIONS_CACHE", raising=False)
    for step in steps:
        history.apply(step)
        ours.build_chain.cache_clear()
        cached = ours.build_chain(versions)
        files_cached = [
            (f.revision, f.filename, f.git_sequence) for f in ours.parse_versions_dir(versions)
        ]
        uncached = _chain_without_cache(versions, monkeypatch)
        assert cached == uncached, f"after {step}"
        reference.build_chain.cache_clear()
        expected = reference.build_chain(versions)
        # Difference 1: ours maps a first dynamic migration with no static one to None.
        assert {k: v for k, v in cached.items() if v is not None} == expected, f"after {step}"
        expected_files = [
            (f.revision, f.filename, f.git_sequence) for f in reference.parse_versions_dir(versions)
        ]
        assert files_cached == expected_files, f"after {step}"
    assert (history.repo.git_dir / "alembic-git-revisions").is_dir()
