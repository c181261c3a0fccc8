"""A tiny git object writer for the demo: loose objects and refs, no git binary.

It writes just enough of a repository (blobs, trees, commits, branch refs, HEAD)
for the demo to build a history with branches and merges on any machine.
"""

from __future__ import annotations

import hashlib
import pathlib
import zlib


class DemoRepo:
    """A repository created from scratch at *root* (working tree and ``.git``)."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.git_dir = root / ".git"
        for sub in ("objects", "refs/heads", "refs/tags"):
            (self.git_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.git_dir / "config").write_text(
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n", encoding="utf-8"
        )
        (self.git_dir / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
        self._clock = 1_700_000_000

    def _write(self, kind: str, data: bytes) -> str:
        full = f"{kind} {len(data)}\0".encode() + data
        oid = hashlib.sha1(full).hexdigest()
        path = self.git_dir / "objects" / oid[:2] / oid[2:]
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(zlib.compress(full))
        return oid

    def _tree(self, files: dict[str, bytes]) -> str:
        blobs: dict[str, tuple[str, str]] = {}
        subdirs: dict[str, dict[str, bytes]] = {}
        for path, content in files.items():
            head, _, rest = path.partition("/")
            if rest:
                subdirs.setdefault(head, {})[rest] = content
            else:
                blobs[head] = ("100644", self._write("blob", content))
        entries = dict(blobs)
        for name, sub in subdirs.items():
            entries[name] = ("40000", self._tree(sub))
        # git sorts tree entries bytewise, a subtree as if its name ended in "/".
        ordered = sorted(entries, key=lambda n: n + "/" if entries[n][0] == "40000" else n)
        data = b"".join(
            f"{entries[n][0]} {n}".encode() + b"\0" + bytes.fromhex(entries[n][1]) for n in ordered
        )
        return self._write("tree", data)

    def branch_tip(self, branch: str) -> str | None:
        ref = self.git_dir / "refs" / "heads" / branch
        return ref.read_text(encoding="utf-8").strip() if ref.exists() else None

    def set_branch(self, branch: str, oid: str) -> None:
        (self.git_dir / "refs" / "heads" / branch).write_text(oid + "\n", encoding="utf-8")

    def tag(self, name: str, oid: str) -> None:
        (self.git_dir / "refs" / "tags" / name).write_text(oid + "\n", encoding="utf-8")

    def commit(
        self, branch: str, files: dict[str, str], message: str, parents: list[str] | None = None
    ) -> str:
        """Commit the complete snapshot *files* on *branch* (parents default to its tip)."""
        if parents is None:
            tip = self.branch_tip(branch)
            parents = [tip] if tip else []
        tree = self._tree({path: text.encode("utf-8") for path, text in files.items()})
        self._clock += 60
        who = f"Demo <demo@example.com> {self._clock} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [f"author {who}", f"committer {who}", "", message, ""]
        oid = self._write("commit", "\n".join(lines).encode("utf-8"))
        self.set_branch(branch, oid)
        return oid

    def checkout(self, branch: str, files: dict[str, str]) -> None:
        """Point HEAD at *branch* and write *files* (its snapshot) to the working tree."""
        (self.git_dir / "HEAD").write_text(f"ref: refs/heads/{branch}\n", encoding="utf-8")
        for path, text in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
