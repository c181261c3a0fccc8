"""``parse_versions_dir`` and the record of one migration file it returns: a
dataclass, as the reference's is. Apart from the chain module, so that
``get_down_revision``'s import does not pay for ``dataclasses``.
"""

from __future__ import annotations

import dataclasses

from alembic_git_revisions import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pathlib

    from alembic_git_revisions._native import Scope, StrPath

__all__ = ["MigrationFile", "parse_versions_dir"]


@dataclasses.dataclass(frozen=True)
class MigrationFile:
    """One migration file of a versions directory, classified.

    * dynamic: ``down_revision = get_down_revision(revision)``; its parent comes
      from git history.
    * static: a hardcoded ``down_revision`` (several parents for a merge migration).
    * hybrid: a static migration whose parent is a dynamic revision; it joins the
      dynamic order right after that parent.

    ``git_sequence`` is the file's index in its directory's git add order, within one
    call of :func:`parse_versions_dir`; files that git has never seen share the index
    one past the last.
    """

    revision: str
    filename: str
    git_sequence: int
    is_dynamic: bool
    static_down_revisions: tuple[str, ...]

    @classmethod
    def from_file(cls, path: pathlib.Path, git_sequence: int) -> MigrationFile:
        """Parse and classify one migration file with a given ``git_sequence``.

        Kept for compatibility with the reference; :func:`parse_versions_dir` is the
        way to get a directory's migrations with their real add order.
        """
        import pathlib

        path = pathlib.Path(path)
        declaration = _native.declare_file(path)
        return cls(
            revision=declaration.revision,
            filename=path.name,
            git_sequence=git_sequence,
            is_dynamic=declaration.is_dynamic,
            static_down_revisions=declaration.static_down_revisions,
        )


def parse_versions_dir(versions_dir: StrPath, *, scope: Scope = "flat") -> list[MigrationFile]:
    """Every migration of *versions_dir*, classified, in git add order.

    Sorted by ``(git_sequence, filename)``: the order files were first added to git,
    which is not the chain's order when hybrids are present (see :func:`build_chain`).
    Git history is always read (never ``revision_chain.json``) and nothing is cached.
    With ``scope="recursive"``, the migrations of every directory below it too (Alembic's
    ``recursive_version_locations``); their ``filename`` is then the path relative to
    *versions_dir*.
    """
    (analysis,) = _native.analyze([versions_dir], scope=scope)
    return [
        MigrationFile(
            revision=record.revision,
            filename=record.filename,
            git_sequence=record.git_sequence,
            is_dynamic=record.is_dynamic,
            static_down_revisions=record.static_down_revisions,
        )
        for record in analysis.files
    ]
