"""The ``alembic-git-revisions`` command.

``alembic-git-revisions VERSIONS_DIR`` writes ``revision_chain.json``, exactly as the
reference package's command does; ``generate`` is its explicit name.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

_COMMANDS = ("generate", "check", "chain", "graph", "pin", "demo", "init", "rewrite")


def _dirs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "versions_dirs",
        type=pathlib.Path,
        nargs="*",
        metavar="VERSIONS_DIR",
        help="versions directories (several allowed)",
    )
    parser.add_argument(
        "--config",
        type=pathlib.Path,
        metavar="ALEMBIC_INI",
        help="read the versions directories from an Alembic configuration",
    )


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

    check = sub.add_parser(
        "check",
        help="fail if the chain at HEAD is not an append-only extension of a deployed one",
    )
    _dirs_arguments(check)
    check.add_argument("--base", metavar="REF", help="the deployed commit, tag or branch")
    check.add_argument(
        "--previous-chain",
        type=pathlib.Path,
        metavar="FILE",
        help="a revision_chain.json generated for the deployed version",
    )

    chain = sub.add_parser("chain", help="print the derived chain")
    _dirs_arguments(chain)
    chain.add_argument("--at", metavar="REF", help="compute it at this commit (no checkout)")
    chain.add_argument("--format", choices=("text", "json"), default="text")

    graph = sub.add_parser("graph", help="draw the derived chain (Mermaid or Graphviz)")
    _dirs_arguments(graph)
    graph.add_argument("--at", metavar="REF", help="draw it at this commit (no checkout)")
    graph.add_argument("--base", metavar="REF", help="mark where the chain at REF differs")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")

    _pin_parser(sub)

    sub.add_parser(
        "demo",
        help="show the multiple-heads problem and the derived chain on a throwaway repo",
    )
    init = sub.add_parser(
        "init", help="install the get_down_revision template into an Alembic project"
    )
    init.add_argument("alembic_dir", type=pathlib.Path, metavar="ALEMBIC_DIR")
    rewrite = sub.add_parser(
        "rewrite",
        help="rewrite a new migration to use get_down_revision (an Alembic post-write hook)",
    )
    rewrite.add_argument("paths", type=pathlib.Path, nargs="+", metavar="MIGRATION")
    return parser


def _versions_dirs(options: argparse.Namespace) -> list[pathlib.Path]:
    dirs = list(options.versions_dirs)
    if options.config is not None:
        dirs.extend(_dirs_from_config(options.config))
    if not dirs:
        raise ValueError("give at least one VERSIONS_DIR, or --config alembic.ini")
    return dirs


def _dirs_from_config(ini: pathlib.Path) -> list[pathlib.Path]:
    """Versions directories of an Alembic configuration.

    Each directory keeps the per-directory semantics; with
    ``recursive_version_locations``, every subdirectory holding migrations counts as
    a versions directory of its own.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    if not ini.is_file():
        raise FileNotFoundError(f"{ini} does not exist")
    script = ScriptDirectory.from_config(Config(str(ini)))
    locations = [pathlib.Path(p) for p in script._version_locations]
    if not script.recursive_version_locations:
        return locations
    found: list[pathlib.Path] = []
    for root in locations:
        for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            if "__pycache__" not in candidate.parts and any(candidate.glob("*.py")):
                found.append(candidate)
    return found


def _check(options: argparse.Namespace) -> int:
    from alembic_git_revisions._check import check_append_only

    status = 0
    for versions_dir in _versions_dirs(options):
        result = check_append_only(
            versions_dir, base=options.base, previous_chain=options.previous_chain
        )
        if result.ok:
            print(result.summary)
            continue
        status = 1
        print(result.summary, file=sys.stderr)
        for finding in result.findings:
            print(f"  - [{finding.kind}] {finding.message}", file=sys.stderr)
    return status


def _chain(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _render
    from alembic_git_revisions._state import chain_state

    dirs = _versions_dirs(options)
    for versions_dir in dirs:
        state = chain_state(versions_dir, options.at)
        if len(dirs) > 1:
            print(f"# {versions_dir}")
        if options.format == "json":
            print(_render.chain_json(state))
        else:
            print(_render.format_chain_text(state))
    return 0


def _graph(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _render
    from alembic_git_revisions._state import chain_state

    for versions_dir in _versions_dirs(options):
        state = chain_state(versions_dir, options.at)
        base = chain_state(versions_dir, options.base) if options.base else None
        print(_render.format_graph(state, options.format, base))
    return 0


# --------------------------------------------------------------------------- pin


def _pin_parser(sub: argparse._SubParsersAction) -> None:
    pin = sub.add_parser(
        "pin",
        help="record the derived parents of the chain at REF in revision_pins.json "
        "(append-only; run it at each deploy and commit the file)",
    )
    _dirs_arguments(pin)
    pin.add_argument(
        "--at", metavar="REF", default="HEAD", help="the deployed commit, tag or branch"
    )


def _pin(options: argparse.Namespace) -> int:
    from alembic_git_revisions._pins import pin_chain

    for versions_dir in _versions_dirs(options):
        result = pin_chain(versions_dir, options.at)
        at = f"{options.at} ({result.commit[:10]})"
        if result.added:
            print(
                f"{result.pin_file}: pinned {len(result.added)} migration(s) at {at}, "
                f"{len(result.pins)} in all"
            )
        else:
            print(f"{result.pin_file}: nothing new to pin at {at}, {len(result.pins)} pinned")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in _COMMANDS and not args[0].startswith("-"):
        args.insert(0, "generate")
    parser = _parser()
    options = parser.parse_args(args)
    if options.command is None:
        parser.print_help(sys.stderr)
        return 1
    try:
        if options.command == "generate":
            from alembic_git_revisions._chain import generate_chain_file

            if not options.versions_dir.is_dir():
                # The API answers an empty chain here, as the reference does; a chain
                # file written for a mistyped path would only fail later, in production.
                raise FileNotFoundError(f"{options.versions_dir} is not a directory")
            generate_chain_file(options.versions_dir)
            return 0
        if options.command == "check":
            return _check(options)
        if options.command == "chain":
            return _chain(options)
        if options.command == "graph":
            return _graph(options)
        if options.command == "pin":
            return _pin(options)
        if options.command == "init":
            from alembic_git_revisions._template import install_template

            changes = install_template(options.alembic_dir)
            print("\n".join(changes) if changes else "script.py.mako already uses it")
            return 0
        if options.command == "rewrite":
            from alembic_git_revisions._template import rewrite_migration

            for path in options.paths:
                for change in rewrite_migration(path):
                    print(change)
            return 0
        from alembic_git_revisions import _demo

        return _demo.run()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"alembic-git-revisions: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("alembic-git-revisions: interrupted", file=sys.stderr)
        return 130
