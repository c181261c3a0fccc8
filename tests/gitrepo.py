"""Git repositories for tests, built fast and reproducibly.

:class:`Repo` keeps a model of the history it builds (each commit's parents, date and
full tree) and writes it with a single ``git fast-import`` run per :meth:`Repo.flush`,
so a generated history of thousands of commits costs one subprocess. Operations are
named after the git commands whose result they reproduce (``merge --no-ff``, ``merge
--ff-only``, octopus merges, rebase-and-merge, ``--allow-unrelated-histories``,
``mv``); they produce the same commit graph and trees those commands would, with
conflicts resolved in favour of the current branch.

Everything is deterministic: fixed names, e-mails and dates, ``main`` as the initial
branch, and git isolated from the user's and the system's configuration
(:data:`ISOLATED_GIT_ENV`). ``tests/conftest.py`` applies the same isolation to the
whole test process, so the reference package's own ``git`` subprocesses see it too.

:func:`git_log_order` runs the exact command alembic-git-revisions 13 runs and filters
its output the same way; it is the oracle the order tests compare against.

The second half of the module writes migration modules in the shapes real projects
have: static, dynamic, hybrid, merge migrations, annotated assignments, CRLF line
endings, a revision id only in the file name.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess
from collections.abc import Mapping, Sequence

DEFAULT_BRANCH = "main"
#: 2023-11-14T22:13:20Z: arbitrary, but fixed.
EPOCH = 1_700_000_000

AUTHOR = ("A U Thor", "author@example.com")
COMMITTER = ("C O Mitter", "committer@example.com")

#: Variables that make git ignore the user's and the system's configuration and
#: behave the same on every machine.
ISOLATED_GIT_ENV: Mapping[str, str] = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": AUTHOR[0],
    "GIT_AUTHOR_EMAIL": AUTHOR[1],
    "GIT_COMMITTER_NAME": COMMITTER[0],
    "GIT_COMMITTER_EMAIL": COMMITTER[1],
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}

#: Variables that point git at another repository, index or configuration; set by git
#: hooks and some CI systems, they would leak into the repositories tests build.
LEAKY_GIT_VARIABLES: tuple[str, ...] = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_SYSTEM",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_QUARANTINE_PATH",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
)

#: The command alembic-git-revisions 13 runs (with ``cwd=versions_dir.parent``).
REFERENCE_LOG_COMMAND: tuple[str, ...] = (
    "git",
    "log",
    "--reverse",
    "--diff-filter=A",
    "--no-renames",
    "--topo-order",
    "--format=",
    "--name-only",
)


def git_env(**extra: str) -> dict[str, str]:
    """The process environment with git isolated (see :data:`ISOLATED_GIT_ENV`)."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_GIT_VARIABLES}
    env.update(ISOLATED_GIT_ENV)
    env.update(extra)
    return env


def run_git(
    cwd: pathlib.Path | str, *args: str | os.PathLike[str], input: bytes | None = None
) -> bytes:
    """Run ``git args`` in *cwd* with the isolated environment; its stdout.

    Raises ``subprocess.CalledProcessError`` (with git's stderr in the message) on
    failure.
    """
    result = subprocess.run(
        ["git", *map(os.fspath, args)],
        cwd=cwd,
        env=git_env(),
        input=input,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode,
            result.args,
            result.stdout,
            result.stderr.decode(errors="replace"),
        )
    return result.stdout


# ------------------------------------------------------------------------------ model


@dataclasses.dataclass(frozen=True)
class Symlink:
    """A symbolic link entry of a tree (mode 120000) pointing at *target*."""

    target: str


Content = str | bytes | Symlink
#: A tree as the model keeps it: path -> (mode, data), paths ``/``-separated.
Tree = dict[str, tuple[str, bytes]]

_FILE_MODE = "100644"
_LINK_MODE = "120000"


def _entry(content: Content) -> tuple[str, bytes]:
    if isinstance(content, Symlink):
        return _LINK_MODE, os.fsencode(content.target)
    if isinstance(content, str):
        return _FILE_MODE, content.encode()
    return _FILE_MODE, bytes(content)


def apply_changes(
    tree: Mapping[str, tuple[str, bytes]], files: Mapping[str, Content | None]
) -> Tree:
    """*tree* with *files* written (``None`` deletes a file or a whole directory).

    Writing ``a/b`` over a file ``a`` replaces the file by the directory, and writing
    a file ``a`` over a directory replaces the directory, as ``git add`` would.
    """
    new = dict(tree)
    for path, content in files.items():
        path = path.strip("/")
        prefix = path + "/"
        for existing in [p for p in new if p.startswith(prefix)]:
            del new[existing]
        new.pop(path, None)
        if content is None:
            continue
        parts = path.split("/")
        for depth in range(1, len(parts)):
            new.pop("/".join(parts[:depth]), None)
        new[path] = _entry(content)
    return new


def three_way_merge(
    base: Mapping[str, tuple[str, bytes]],
    ours: Mapping[str, tuple[str, bytes]],
    theirs: Mapping[str, tuple[str, bytes]],
) -> Tree:
    """Merge trees path by path: a side that changed a path wins; if both did, ours.

    A path that ends up both a file and a directory keeps whichever ours has.
    """
    merged: Tree = {}
    for path in base.keys() | ours.keys() | theirs.keys():
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        pick = t if o == b else o
        if pick is not None:
            merged[path] = pick
    for path in sorted(merged):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in merged:
                if path in ours:
                    del merged[parent]
                else:
                    del merged[path]
                break
    return merged


@dataclasses.dataclass(frozen=True)
class Commit:
    """One commit of the model. ``mark`` is its fast-import mark, and its identity."""

    mark: int
    parents: tuple[int, ...]
    tree: Mapping[str, tuple[str, bytes]]
    date: int
    message: str


def _quote_path(path: str) -> bytes:
    """A path as fast-import reads it: C-style quoted, so any byte is allowed."""
    out = bytearray(b'"')
    for byte in os.fsencode(path):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


class Repo:
    """A git repository at *path*, built from a model of its history.

    Branch tips and commits are identified by fast-import marks (``int``), which
    :meth:`sha` turns into object ids once :meth:`flush` has written them. Nothing
    reaches disk before :meth:`flush`; after it the working tree holds the checked-out
    ``HEAD``, and :meth:`write_worktree` can add uncommitted changes.

    Commands run directly with :meth:`git` are not seen by the model: use them only
    after the model's last :meth:`flush`.
    """

    def __init__(
        self,
        path: pathlib.Path | str,
        *,
        branch: str = DEFAULT_BRANCH,
        start: int = EPOCH,
    ) -> None:
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        run_git(self.path, "-c", f"init.defaultBranch={branch}", "init", "-q")
        self.git_dir = self.path / ".git"
        # Appended rather than set with `git config`: one process instead of four.
        with (self.git_dir / "config").open("a") as config:
            config.write(
                "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
                "[core]\n\tautocrlf = false\n[gc]\n\tauto = 0\n"
            )
        self.commits: dict[int, Commit] = {}
        #: branch name -> tip mark (``None``: unborn, as after ``git switch --orphan``)
        self.branches: dict[str, int | None] = {branch: None}
        #: The checked-out branch, or a mark for a detached ``HEAD``.
        self.head: str | int = branch
        #: The date the next commit gets when none is given; every commit advances it.
        self.clock = start
        self._stream: list[bytes] = []
        self._marks_file = self.git_dir / "agr-test-marks"
        self._shas: dict[int, str] = {}
        self._ancestors: dict[int, frozenset[int]] = {}

    # ----------------------------------------------------------------- queries

    def tip(self, ref: str | int | None = None) -> int | None:
        """The commit *ref* names: a branch, a mark, or ``HEAD`` when ``None``."""
        if ref is None:
            ref = self.head
        if isinstance(ref, int):
            return ref
        return self.branches[ref]

    @property
    def head_branch(self) -> str | None:
        """The checked-out branch, ``None`` when ``HEAD`` is detached."""
        return self.head if isinstance(self.head, str) else None

    def tree(self, ref: str | int | None = None) -> Tree:
        """A copy of the tree of *ref* (empty for an unborn branch)."""
        mark = self.tip(ref)
        return {} if mark is None else dict(self.commits[mark].tree)

    def files(self, ref: str | int | None = None) -> dict[str, bytes | Symlink]:
        """The tree of *ref* as contents: bytes for files, :class:`Symlink` for links."""
        return {
            path: Symlink(os.fsdecode(data)) if mode == _LINK_MODE else data
            for path, (mode, data) in self.tree(ref).items()
        }

    def ancestors(self, mark: int) -> frozenset[int]:
        """Every commit reachable from *mark*, itself included."""
        known = self._ancestors.get(mark)
        if known is not None:
            return known
        seen: set[int] = set()
        stack = [mark]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.commits[current].parents)
        result = frozenset(seen)
        if len(self._ancestors) >= 64:
            # Bounded: a cache per commit of a long history would hold O(n^2) marks.
            self._ancestors.clear()
        self._ancestors[mark] = result
        return result

    def is_ancestor(self, ancestor: int | None, descendant: int | None) -> bool:
        """``git merge-base --is-ancestor``; an unborn side is an ancestor of anything."""
        if ancestor is None:
            return True
        if descendant is None:
            return False
        return ancestor in self.ancestors(descendant)

    def merge_base(self, a: int, b: int) -> int | None:
        """A best common ancestor of *a* and *b* (the newest one, if there are several).

        Marks grow along every edge, so the greatest common mark is an ancestor of no
        other common commit: a best common ancestor.
        """
        return max(self.ancestors(a) & self.ancestors(b), default=None)

    def merged_tree(self, ours: int, theirs: int) -> Tree:
        """The three-way merge of two commits' trees; a conflict keeps ours.

        Without a common ancestor (``--allow-unrelated-histories``) the base is empty.
        """
        return self._merge_trees(ours, self.commits[ours].tree, theirs)

    def _merge_trees(
        self, ours: int, ours_tree: Mapping[str, tuple[str, bytes]], theirs: int
    ) -> Tree:
        base_mark = self.merge_base(ours, theirs)
        base = {} if base_mark is None else self.commits[base_mark].tree
        return three_way_merge(base, ours_tree, self.commits[theirs].tree)

    # ---------------------------------------------------------------- commands

    def _next_date(self, date: int | None) -> int:
        if date is None:
            self.clock += 60
            return self.clock
        self.clock = max(self.clock, date)
        return date

    def _set_head_tip(self, mark: int) -> None:
        if isinstance(self.head, str):
            self.branches[self.head] = mark
        else:
            self.head = mark

    def commit(
        self,
        files: Mapping[str, Content | None] | None = None,
        message: str | None = None,
        *,
        date: int | None = None,
        parents: Sequence[str | int] | None = None,
        tree: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> int:
        """Commit *files* (``None`` deletes) on ``HEAD``; the new commit's mark.

        *parents* defaults to ``HEAD``'s tip (none on an unborn branch); giving them
        creates any commit, ``HEAD`` then moves to it (``git commit-tree`` plus
        ``git reset``). The tree starts from *tree*, else from the first parent's.
        *date* is an epoch second used as both author and committer date; by default
        the repository clock advances a minute.
        """
        if parents is None:
            tip = self.tip()
            parent_marks: tuple[int, ...] = () if tip is None else (tip,)
        else:
            resolved = [self.tip(p) for p in parents]
            if any(p is None for p in resolved):
                raise ValueError(f"unborn branch among parents {parents!r}")
            parent_marks = tuple(p for p in resolved if p is not None)
            if len(set(parent_marks)) != len(parent_marks):
                raise ValueError(f"duplicate parents {parents!r}")
        if tree is None:
            tree = self.commits[parent_marks[0]].tree if parent_marks else {}
        new_tree = apply_changes(tree, files or {})
        mark = len(self.commits) + 1
        commit = Commit(
            mark=mark,
            parents=parent_marks,
            tree=new_tree,
            date=self._next_date(date),
            message=message if message is not None else f"commit {mark}",
        )
        self.commits[mark] = commit
        self._stream.append(self._fast_import_commit(commit))
        self._set_head_tip(mark)
        return mark

    def _fast_import_commit(self, commit: Commit) -> bytes:
        out = bytearray()
        if not commit.parents:
            out += b"reset refs/agr/build\n"
        out += b"commit refs/agr/build\nmark :%d\n" % commit.mark
        out += b"author %s <%s> %d +0000\n" % (*(s.encode() for s in AUTHOR), commit.date)
        out += b"committer %s <%s> %d +0000\n" % (*(s.encode() for s in COMMITTER), commit.date)
        out += _data(commit.message.encode())
        if commit.parents:
            out += b"from :%d\n" % commit.parents[0]
            for parent in commit.parents[1:]:
                out += b"merge :%d\n" % parent
        base = self.commits[commit.parents[0]].tree if commit.parents else {}
        for path in sorted(base.keys() - commit.tree.keys(), reverse=True):
            out += b"D %s\n" % _quote_path(path)
        for path, entry in sorted(commit.tree.items()):
            if base.get(path) != entry:
                mode, data = entry
                out += b"M %s inline %s\n" % (mode.encode(), _quote_path(path))
                out += _data(data)
        out += b"\n"
        return bytes(out)

    def branch(self, name: str, start: str | int | None = None) -> None:
        """``git branch name start`` (start defaults to ``HEAD``)."""
        self.branches[name] = self.tip(start)

    def checkout(self, ref: str | int, *, create: bool = False) -> None:
        """``git checkout ref`` (``-b`` with *create*); a mark detaches ``HEAD``."""
        if create:
            self.branch(str(ref))
        if isinstance(ref, str) and ref not in self.branches:
            raise KeyError(f"no branch {ref!r}")
        self.head = ref

    def orphan(self, name: str) -> None:
        """``git switch --orphan name``: the next commit starts an unrelated history."""
        self.branches[name] = None
        self.head = name

    def merge(
        self,
        other: str | int,
        *,
        no_ff: bool = True,
        order: str = "ours-first",
        message: str | None = None,
        date: int | None = None,
        files: Mapping[str, Content | None] | None = None,
        tree: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> int | None:
        """Merge *other* into ``HEAD``; the mark ``HEAD`` ends at (``None`` if unborn).

        ``order="ours-first"`` is ``git merge [--no-ff] other``: the merge's first
        parent is ``HEAD``. ``order="theirs-first"`` is ``git checkout other; git merge
        HEAD-branch; git checkout HEAD-branch; git merge --ff-only other``: the first
        parent is *other*, which (a branch) moves to the merge too. Like git, nothing
        happens when *other* is already merged, and without *no_ff* a possible
        fast-forward is done. Unrelated histories merge as with
        ``--allow-unrelated-histories``. *files* are extra changes in the merge commit
        (an "evil" merge); *tree* replaces the computed merged tree.
        """
        ours, theirs = self.tip(), self.tip(other)
        if theirs is None:
            raise ValueError(f"cannot merge unborn {other!r}")
        if ours is None or self.is_ancestor(theirs, ours):
            if ours is None:
                self._set_head_tip(theirs)
                return theirs
            return ours
        if not no_ff and self.is_ancestor(ours, theirs):
            self._set_head_tip(theirs)
            return theirs
        merged = self.merged_tree(ours, theirs) if tree is None else tree
        if message is None:
            message = f"Merge {other!r}"
        if order == "ours-first":
            return self.commit(files, message, date=date, parents=[ours, theirs], tree=merged)
        if order != "theirs-first":
            raise ValueError(f"unknown merge order {order!r}")
        mark = self.commit(files, message, date=date, parents=[theirs, ours], tree=merged)
        if isinstance(other, str):
            self.branches[other] = mark
        return mark

    def octopus(
        self,
        others: Sequence[str | int],
        *,
        parent_order: Sequence[int] | None = None,
        message: str | None = None,
        date: int | None = None,
        files: Mapping[str, Content | None] | None = None,
        tree: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> int:
        """``git merge other1 other2 ...``: one commit whose parents are ``HEAD`` and
        *others*, permuted by *parent_order* (indexes into ``[HEAD, *others]``).

        The tree is the successive three-way merge of the parents in their final order,
        unless *tree* is given.
        """
        ours = self.tip()
        if ours is None:
            raise ValueError("octopus merge on an unborn branch")
        marks: list[int] = [ours]
        for other in others:
            mark = self.tip(other)
            if mark is None or mark in marks:
                raise ValueError(f"bad octopus parent {other!r}")
            marks.append(mark)
        if parent_order is not None:
            if sorted(parent_order) != list(range(len(marks))):
                raise ValueError(f"{parent_order!r} is not a permutation")
            marks = [marks[i] for i in parent_order]
        if tree is None:
            tree = self.commits[marks[0]].tree
            for mark in marks[1:]:
                tree = self._merge_trees(marks[0], tree, mark)
        return self.commit(files, message or "Octopus merge", date=date, parents=marks, tree=tree)

    def fast_forward(self, other: str | int) -> int:
        """``git merge --ff-only other``; raises ``ValueError`` when it is not possible."""
        ours, theirs = self.tip(), self.tip(other)
        if theirs is None or not self.is_ancestor(ours, theirs):
            raise ValueError(f"cannot fast-forward to {other!r}")
        self._set_head_tip(theirs)
        return theirs

    def rebase_and_merge(
        self,
        other: str,
        *,
        date: int | None = None,
        update_branch: bool = True,
    ) -> int | None:
        """GitHub's "rebase and merge": replay *other*'s commits onto ``HEAD``.

        Each non-merge commit reachable from *other* but not from ``HEAD`` is applied,
        oldest first, as its change against its first parent, with a new committer
        date (``cherry-pick`` style, linear). With *update_branch* the branch *other*
        is reset to the result, as after ``git rebase``. Returns ``HEAD``'s new tip.
        """
        ours, theirs = self.tip(), self.tip(other)
        if theirs is None:
            return ours
        done = self.ancestors(ours) if ours is not None else frozenset()
        replay = sorted(
            m for m in self.ancestors(theirs) if m not in done and len(self.commits[m].parents) == 1
        )
        for mark in replay:
            commit = self.commits[mark]
            before = self.commits[commit.parents[0]].tree
            changes: dict[str, Content | None] = {
                path: None for path in before.keys() - commit.tree.keys()
            }
            for path, entry in commit.tree.items():
                if before.get(path) != entry:
                    mode, data = entry
                    changes[path] = Symlink(os.fsdecode(data)) if mode == _LINK_MODE else data
            self.commit(changes, commit.message, date=date)
            date = None if date is None else date + 1
        if update_branch:
            self.branches[other] = self.tip()
        return self.tip()

    def mv(
        self,
        source: str,
        destination: str,
        *,
        message: str | None = None,
        date: int | None = None,
    ) -> int:
        """``git mv source destination && git commit`` for a file or a directory."""
        tree = self.tree()
        changes: dict[str, Content | None] = {}
        source = source.strip("/")
        destination = destination.strip("/")
        for path, (mode, data) in tree.items():
            if path == source or path.startswith(source + "/"):
                changes[path] = None
                target = destination + path[len(source) :]
                changes[target] = Symlink(os.fsdecode(data)) if mode == _LINK_MODE else data
        if not changes:
            raise FileNotFoundError(source)
        # Deletions first so a destination inside the source is not deleted again.
        ordered = {p: c for p, c in changes.items() if c is None}
        ordered.update({p: c for p, c in changes.items() if c is not None})
        return self.commit(ordered, message or f"Move {source} to {destination}", date=date)

    # ------------------------------------------------------------------ output

    def flush(self, *, checkout: bool = True) -> None:
        """Write pending commits and all refs; check ``HEAD`` out into the working tree.

        Branch refs are set to the model's tips and ``HEAD`` to the model's head. The
        working tree and index become ``HEAD``'s tree (``git reset --hard``); untracked
        files are left alone.
        """
        stream = bytearray().join(self._stream)
        for name, mark in self.branches.items():
            if mark is not None:
                stream += b"reset refs/heads/%s\nfrom :%d\n\n" % (name.encode(), mark)
        stream += b"reset refs/agr/build\nfrom %s\n\n" % (b"0" * 40)
        run_git(
            self.path,
            "fast-import",
            "--quiet",
            "--force",
            "--done",
            f"--import-marks-if-exists={self._marks_file}",
            f"--export-marks={self._marks_file}",
            input=bytes(stream) + b"done\n",
        )
        self._stream.clear()
        self._shas.clear()
        for name, mark in self.branches.items():
            if mark is None:
                run_git(self.path, "update-ref", "-d", f"refs/heads/{name}")
        if isinstance(self.head, str):
            run_git(self.path, "symbolic-ref", "HEAD", f"refs/heads/{self.head}")
        else:
            run_git(self.path, "update-ref", "--no-deref", "HEAD", self.sha(self.head))
        if checkout and self.tip() is not None:
            run_git(self.path, "reset", "-q", "--hard")

    def sha(self, ref: str | int | None = None) -> str:
        """The object id of a written commit."""
        mark = self.tip(ref)
        if mark is None:
            raise ValueError(f"{ref!r} is unborn")
        if not self._shas:
            for line in self._marks_file.read_text().splitlines():
                key, sha = line.split()
                self._shas[int(key[1:])] = sha
        return self._shas[mark]

    def write_worktree(self, files: Mapping[str, Content | None]) -> None:
        """Change the working tree without committing (``None`` deletes)."""
        for rel, content in files.items():
            path = self.path / rel
            if content is None:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.is_file():
                path.unlink()
            if isinstance(content, Symlink):
                path.symlink_to(content.target)
            else:
                path.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit_graph(self, *, write: bool = True, split: bool = False) -> None:
        """``git commit-graph write --reachable [--split]``, or remove every graph file."""
        if write:
            run_git(self.path, "commit-graph", "write", "--reachable", *(["--split"] * split))
            return
        info = self.git_dir / "objects" / "info"
        (info / "commit-graph").unlink(missing_ok=True)
        shutil.rmtree(info / "commit-graphs", ignore_errors=True)

    def git(self, *args: str | os.PathLike[str]) -> str:
        """Run a git command in the repository; its stdout as text."""
        return run_git(self.path, *args).decode(errors="surrogateescape")


# ----------------------------------------------------------------- the git oracle


def would_quote(path: bytes) -> bool:
    """Whether git prints *path* C-quoted (``core.quotePath`` at its default)."""
    return any(b < 0x20 or b in (0x22, 0x5C, 0x7F) or b >= 0x80 for b in path)


def git_log_order(versions_dir: pathlib.Path, *, unquoted: bool = False) -> list[str]:
    """File names of *versions_dir* in the order alembic-git-revisions 13 reads them.

    Runs the reference's exact command (:data:`REFERENCE_LOG_COMMAND`) in
    ``versions_dir.parent`` and filters as it does: strip each line, keep ``.py``
    lines whose basename is a ``*.py`` entry of *versions_dir*, first occurrence wins.

    With *unquoted*, the paths git would print C-quoted are read unquoted (``-z``) and
    kept unstripped: the order this project documents for such paths (the reference
    never matches a quoted line, so it treats those files as uncommitted).
    """
    existing = {f.name for f in versions_dir.glob("*.py")}
    command = [*REFERENCE_LOG_COMMAND, *(["-z"] if unquoted else [])]
    result = subprocess.run(
        command, cwd=versions_dir.parent, capture_output=True, check=True, env=git_env()
    )
    if unquoted:
        raw_lines = result.stdout.split(b"\0")
        lines = [os.fsdecode(r) if would_quote(r) else os.fsdecode(r).strip() for r in raw_lines]
    else:
        lines = [line.strip() for line in result.stdout.decode().splitlines()]
    order: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if not line or not line.endswith(".py"):
            continue
        name = pathlib.PurePosixPath(line).name
        if name in existing and name not in seen:
            seen.add(name)
            order.append(name)
    return order


# ------------------------------------------------------------- migration modules


@dataclasses.dataclass(frozen=True)
class Dynamic:
    """``down_revision`` derived by ``get_down_revision(revision)``.

    Styles: ``"plain"`` (``from alembic_git_revisions import get_down_revision``),
    ``"annotated"`` (``down_revision: Union[str, None] = ...``, as recent
    ``alembic init`` templates write), ``"alias"`` (``import alembic_git_revisions as
    agr`` and ``agr.get_down_revision(revision)``).
    """

    style: str = "plain"


DownRevision = None | str | tuple[str, ...] | list[str] | Dynamic


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" and c not in '\\"' else "?" for c in text)


def migration_source(
    revision: str | None,
    down_revision: DownRevision,
    *,
    message: str = "change the schema",
    crlf: bool = False,
    bom: bool = False,
    annotated: bool = False,
    omit_down_revision: bool = False,
) -> bytes:
    """The text of an Alembic migration module, encoded as UTF-8.

    *revision* ``None`` leaves ``revision`` unassigned, so the id comes from the file
    name. A tuple or list *down_revision* is a merge migration; a static one pointing
    at a dynamic revision is a hybrid. *annotated* writes ``name: type = value``
    assignments; *omit_down_revision* leaves ``down_revision`` out entirely.
    """
    style = down_revision.style if isinstance(down_revision, Dynamic) else None
    imports = [
        "from typing import Sequence, Union",
        "",
        "import sqlalchemy as sa",
        "from alembic import op",
    ]
    if style == "alias":
        imports.append("import alembic_git_revisions as agr")
    elif style is not None:
        imports.append("from alembic_git_revisions import get_down_revision")
    rev_text = "(from the file name)" if revision is None else revision
    # The docstring shows ids in printable ASCII only: any id stays valid source there.
    shown, shown_down = _printable(rev_text), _printable(repr(down_revision))
    lines = [
        f'"""{message}',
        "",
        f"Revision ID: {shown}",
        f"Revises: {'git history' if style else shown_down}",
        "Create Date: 2024-01-01 00:00:00.000000",
        "",
        '"""',
        *imports,
        "",
        "# revision identifiers, used by Alembic.",
    ]
    if revision is not None:
        lines.append(f"revision: str = {revision!r}" if annotated else f"revision = {revision!r}")
    if not omit_down_revision:
        if style == "alias":
            value = "agr.get_down_revision(revision)"
        elif style is not None:
            value = "get_down_revision(revision)"
        else:
            value = repr(down_revision)
        if annotated or style == "annotated":
            lines.append(f"down_revision: Union[str, Sequence[str], None] = {value}")
        else:
            lines.append(f"down_revision = {value}")
    lines += [
        "branch_labels: Union[str, Sequence[str], None] = None",
        "depends_on: Union[str, Sequence[str], None] = None",
        "",
        "",
        "def upgrade() -> None:",
        f"    op.execute({('-- ' + rev_text)!r})",
        "",
        "",
        "def downgrade() -> None:",
        "    pass",
        "",
    ]
    text = "\n".join(lines)
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode()
    return b"\xef\xbb\xbf" + data if bom else data


def migration_filename(
    revision: str, slug: str = "change", *, date_prefix: str | None = None
) -> str:
    """``<revision>_<slug>.py``, or with Alembic's ``%%(year)d_%%(month)..`` template
    ``<date_prefix>-<revision>_<slug>.py``."""
    if date_prefix is not None:
        return f"{date_prefix}-{revision}_{slug}.py"
    return f"{revision}_{slug}.py"
