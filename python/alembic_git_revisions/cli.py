"""The ``alembic-git-revisions`` command.

``alembic-git-revisions VERSIONS_DIR`` writes ``revision_chain.json``, exactly as the
reference package's command does; ``generate`` is its explicit name.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

_COMMANDS = ("generate", "demo")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alembic-git-revisions",
        description=(
            "Derive Alembic down_revision chains from git history. "
            "'alembic-git-revisions VERSIONS_DIR' is short for 'generate VERSIONS_DIR'."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    generate = sub.add_parser(
        "generate",
        help="write revision_chain.json beside VERSIONS_DIR (for environments without git)",
    )
    generate.add_argument("versions_dir", type=pathlib.Path, metavar="VERSIONS_DIR")
    sub.add_parser(
        "demo",
        help="show the multiple-heads problem and the derived chain on a throwaway repo",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in _COMMANDS and not args[0].startswith("-"):
        args.insert(0, "generate")
    options = _parser().parse_args(args)
    if options.command is None:
        _parser().print_help(sys.stderr)
        return 1
    try:
        if options.command == "generate":
            from alembic_git_revisions._chain import generate_chain_file

            generate_chain_file(options.versions_dir)
            return 0
        from alembic_git_revisions import _demo

        return _demo.run()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"alembic-git-revisions: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("alembic-git-revisions: interrupted", file=sys.stderr)
        return 130
