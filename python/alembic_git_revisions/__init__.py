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

# Every `alembic` command imports this package, most of them without building a
# chain: each public name is imported from its module on first use (PEP 562), so
# `import alembic_git_revisions` costs next to nothing and
# `from alembic_git_revisions import get_down_revision` loads only that path.
_LAZY = {
    "CHAIN_FILENAME": "_chain",
    "MigrationFile": "_records",
    "StaleChainFileWarning": "_chain",
    "build_chain": "_chain",
    "generate_chain_file": "_chain",
    "get_down_revision": "_chain",
    "parse_versions_dir": "_records",
    "CheckResult": "_check",
    "Finding": "_check",
    "check_append_only": "_check",
    "check_graph": "_check",
    "DownRevisionChoice": "_decide",
    "ChainError": "_native",
    "ChainFileError": "_native",
    "GitHistoryError": "_native",
    "InternalError": "_native",
    "MigrationFileError": "_native",
    "MigrationFileReadError": "_native",
    "NotAGitRepositoryError": "_native",
    "RevisionNotFoundError": "_native",
    "ShallowCloneError": "_native",
    "PINS_FILENAME": "_pins",
    "Pin": "_pins",
    "PinResult": "_pins",
    "pin_chain": "_pins",
    "read_pins": "_pins",
    "ChainState": "_state",
    "Migration": "_state",
    "build_chain_at": "_state",
    "chain_state": "_state",
    "install_template": "_template",
    "rewrite_migration": "_template",
    "template_down_revision": "_template",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        from alembic_git_revisions._native import VERSION

        value: object = VERSION
    elif name in _LAZY:
        # `__import__` with a fromlist returns the submodule itself (and, unlike
        # `importlib.import_module`, imports nothing more).
        value = getattr(__import__(f"{__name__}.{_LAZY[name]}", fromlist=[name]), name)
    else:
        # Submodules (`from alembic_git_revisions import cli`) are then imported by
        # the import system itself.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# `typing` itself costs milliseconds to import; type checkers read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from alembic_git_revisions._chain import (
        CHAIN_FILENAME,
        StaleChainFileWarning,
        build_chain,
        generate_chain_file,
        get_down_revision,
    )
    from alembic_git_revisions._check import (
        CheckResult,
        Finding,
        check_append_only,
        check_graph,
    )
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
    from alembic_git_revisions._records import MigrationFile, parse_versions_dir
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
