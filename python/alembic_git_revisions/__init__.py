"""Alembic migration chaining derived from git history, computed in Rust.

A drop-in replacement for ``alembic-git-revisions``: migrations stop hardcoding
their parent and write::

    from alembic_git_revisions import get_down_revision

    revision = "5c9eb899ede0"
    down_revision = get_down_revision(revision)

The parent is the migration whose file was added to git just before, so two
branches that each add a migration no longer leave Alembic with two heads.
Where git is absent (Docker images, shallow clones), ship the chain as a file::

    alembic-git-revisions path/to/versions
"""

from __future__ import annotations

from alembic_git_revisions._chain import (
    CHAIN_FILENAME,
    MigrationFile,
    StaleChainFileWarning,
    build_chain,
    generate_chain_file,
    get_down_revision,
    parse_versions_dir,
)
from alembic_git_revisions._check import CheckResult, Finding, check_append_only, check_graph
from alembic_git_revisions._decide import DownRevisionChoice
from alembic_git_revisions._native import VERSION as __version__
from alembic_git_revisions._native import (
    ChainError,
    ChainFileError,
    GitHistoryError,
    InternalError,
    MigrationFileError,
    MigrationFileReadError,
    NotAGitRepositoryError,
    RevisionNotFoundError,
    ShallowCloneError,
)
from alembic_git_revisions._pins import PINS_FILENAME, Pin, PinResult, pin_chain, read_pins
from alembic_git_revisions._state import ChainState, Migration, build_chain_at, chain_state
from alembic_git_revisions._template import (
    install_template,
    rewrite_migration,
    template_down_revision,
)


def _cli() -> None:
    """Console entry point kept under the reference's name."""
    from alembic_git_revisions.cli import main

    raise SystemExit(main())


__all__ = [
    "CHAIN_FILENAME",
    "PINS_FILENAME",
    "ChainError",
    "ChainFileError",
    "ChainState",
    "CheckResult",
    "DownRevisionChoice",
    "Finding",
    "GitHistoryError",
    "InternalError",
    "Migration",
    "MigrationFile",
    "MigrationFileError",
    "MigrationFileReadError",
    "NotAGitRepositoryError",
    "Pin",
    "PinResult",
    "RevisionNotFoundError",
    "ShallowCloneError",
    "StaleChainFileWarning",
    "__version__",
    "build_chain",
    "build_chain_at",
    "chain_state",
    "check_append_only",
    "check_graph",
    "generate_chain_file",
    "get_down_revision",
    "install_template",
    "parse_versions_dir",
    "pin_chain",
    "read_pins",
    "rewrite_migration",
    "template_down_revision",
]
