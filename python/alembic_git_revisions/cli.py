"""The ``alembic-git-revisions`` command.

``alembic-git-revisions VERSIONS_DIR`` writes ``revision_chain.json``, exactly as the
reference package's command does; ``generate`` is its explicit name.

Exit status, for every subcommand: 0 success, 1 ``check`` found problems, 2 a usage
error or a tool error (a directory that does not exist or holds no migrations, an
unreadable configuration, a git or chain error), 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

PROG = "alembic-git-revisions"

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_COMMANDS = ("generate", "check", "chain", "graph", "pin", "demo", "init", "rewrite")


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised instead of exiting (``main`` returns codes)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _version() -> str:
    from alembic_git_revisions._native import VERSION

    return f"{PROG} {VERSION}"


def _dirs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "versions_dirs",
        type=pathlib.Path,
        nargs="*",
        metavar="VERSIONS_DIR",
        help="versions directories (several allowed)",
    )
    parser.add_argument(
        "-c",
        "--config",
        type=pathlib.Path,
        action="append",
        metavar="FILE",
        help=(
            "read the version locations from an Alembic configuration: alembic.ini and/or "
            "pyproject.toml ([tool.alembic], Alembic >= 1.16); give it twice for both. The "
            "other file, if it lies beside the one given, is read too"
        ),
    )
    parser.add_argument(
        "-n",
        "--name",
        action="append",
        metavar="SECTION",
        help=(
            "the ini section to read, as 'alembic -n' (default: alembic); repeat it for "
            "several sections"
        ),
    )
    parser.add_argument(
        "--recursive",
        action="store_true",
        help=(
            "read each VERSIONS_DIR given as a recursive version location (Alembic's "
            "recursive_version_locations = true): one chain over it and every directory "
            "below it. With --config, the configuration says so"
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Derive Alembic down_revision chains from git history. "
            f"'{PROG} VERSIONS_DIR' is short for 'generate VERSIONS_DIR'."
        ),
        epilog=(
            "Exit status: 0 success, 1 check found problems, 2 usage or tool error "
            "(for every command)."
        ),
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    generate = sub.add_parser(
        "generate",
        help="write revision_chain.json beside each VERSIONS_DIR (for environments without "
        "git); beside each version location with --config",
    )
    _dirs_arguments(generate)

    check = sub.add_parser(
        "check",
        help="fail (exit 1) if the chain at HEAD is not an append-only extension of a "
        "deployed one, has several heads or a stale revision_chain.json; with --config "
        "or several directories, also if they do not form one revision graph",
        epilog="Exit status: 0 OK, 1 problems found, 2 usage or tool error.",
    )
    _dirs_arguments(check)
    against = check.add_mutually_exclusive_group()
    against.add_argument("--base", metavar="REF", help="the deployed commit, tag or branch")
    against.add_argument(
        "--previous-chain",
        type=pathlib.Path,
        metavar="FILE",
        help="a revision_chain.json generated for the deployed version (works without git)",
    )
    check.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one document for all directories, every field of every finding",
    )

    chain = sub.add_parser("chain", help="print the derived chain (text or JSON)")
    _dirs_arguments(chain)
    chain.add_argument("--at", metavar="REF", help="compute it at this commit (no checkout)")
    chain.add_argument(
        "--format",
        choices=("text", "json", "revision-chain"),
        default="text",
        help=(
            "json: one document for all directories (see README); revision-chain: one "
            "directory's {revision: down_revision}, as revision_chain.json holds it"
        ),
    )

    graph = sub.add_parser("graph", help="draw the derived chains as one Mermaid or Graphviz graph")
    _dirs_arguments(graph)
    graph.add_argument("--at", metavar="REF", help="draw it at this commit (no checkout)")
    graph.add_argument("--base", metavar="REF", help="mark where the chain at REF differs")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")

    pin = sub.add_parser(
        "pin",
        help="record the derived parent of every migration of the chain at REF in "
        "revision_pins.json beside each directory (append-only; run it at each deploy "
        "and commit the file)",
        epilog="Exit status: 0 pinned (or nothing new to pin), 2 usage or tool error, "
        "including a re-pin that would change or drop a pin.",
    )
    _dirs_arguments(pin)
    pin.add_argument(
        "--at",
        metavar="REF",
        default="HEAD",
        help="the deployed commit, tag or branch (default: HEAD)",
    )

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


def _route(args: list[str]) -> list[str]:
    """Resolve the reference's ``alembic-git-revisions VERSIONS_DIR`` shorthand.

    A first word that is neither a command nor an option is a directory to generate
    the chain file for, if it exists; otherwise it is most likely a mistyped command.
    """
    if not args or args[0] in _COMMANDS or args[0].startswith("-"):
        return args
    first = args[0]
    if pathlib.Path(first).exists():
        return ["generate", *args]
    close = difflib.get_close_matches(first, _COMMANDS, n=1, cutoff=0.6)
    if close:
        raise UsageError(f"unknown command {first!r}; did you mean {close[0]!r}?")
    if "/" in first or "\\" in first:
        return ["generate", *args]
    raise UsageError(f"{first!r} is neither a command ({', '.join(_COMMANDS)}) nor a directory")


# ------------------------------------------------------------------ directories


def _directories(options: argparse.Namespace, *, at: str | None = None) -> list[Any]:
    """The version locations to work on (``_config.VersionLocation``: a directory and
    whether it is recursive): those given, then the configuration's.

    Each must exist and hold migrations, except with ``--at`` (a directory may be
    absent from the working tree but present at the ref; checked once computed).
    """
    found: dict[Any, None] = {}
    for _, locations in _graphs(options, at=at):
        found.update(dict.fromkeys(locations))
    return list(found)


def _graphs(
    options: argparse.Namespace, *, at: str | None = None
) -> list[tuple[str | None, list[Any]]]:
    """The version locations by the revision graph Alembic loads them into: those
    given on the command line form one (labelled None), each configuration section
    another (labelled with its files and section). A recursive location is one
    location, with one chain, however many directories below it hold migrations.
    Checked as :func:`_directories` says."""
    from alembic_git_revisions import _config

    if options.name and not options.config:
        raise UsageError("--name selects a section of --config; give --config too")
    groups: list[tuple[str | None, list[_config.VersionLocation]]] = []
    if options.versions_dirs:
        groups.append(
            (
                None,
                [_config.VersionLocation(p, options.recursive) for p in options.versions_dirs],
            )
        )
    if options.config:
        for config in _config.read_config(
            options.config, sections=options.name or [_config.DEFAULT_SECTION]
        ):
            files = " + ".join(str(file) for file in config.files)
            ini = any(file.suffix.lower() != ".toml" for file in config.files)
            groups.append((f"{files} [{config.section}]" if ini else files, list(config.locations)))
    if not groups:
        raise UsageError("give at least one VERSIONS_DIR, or --config alembic.ini")
    graphs = []
    for label, locations in groups:
        found: dict[_config.VersionLocation, None] = {}
        for location in locations:
            if at is None:
                _require_directory(location.path)
                if not _config.holds_migrations(location):
                    below = ", nor does any directory below it" if location.recursive else ""
                    raise _config.ConfigError(f"{location.path} holds no migrations{below}")
            found.setdefault(location)
        graphs.append((label, list(found)))
    return graphs


def _require_directory(path: pathlib.Path) -> None:
    from alembic_git_revisions._config import ConfigError

    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory")


def _state_at(location: Any, ref: str | None) -> Any:
    """``chain_state`` of a version location, refusing a directory that is nowhere
    (typo) even at *ref*."""
    from alembic_git_revisions._config import ConfigError
    from alembic_git_revisions._state import chain_state

    state = chain_state(location.path, ref, scope=location.scope)
    if ref is not None and not state.migrations and not location.path.is_dir():
        raise ConfigError(f"{location.path} does not exist, and held no migrations at {ref}")
    return state


def _note_chain_files(states: Sequence[Any]) -> None:
    """Say on stderr which chains were read from a chain file (no git history)."""
    for state in states:
        if state.chain_file is not None:
            print(
                f"{PROG}: note: no git history for {state.versions_dir}; read its chain "
                f"from {state.chain_file}",
                file=sys.stderr,
            )


# ---------------------------------------------------------------------- commands


def _generate(options: argparse.Namespace) -> int:
    from alembic_git_revisions._chain import generate_chain_file

    # The API answers an empty chain for an empty directory, as the reference does; a
    # chain file written for a mistyped or empty path would only fail later, in
    # production: _directories refuses those. A recursive location's chain file goes
    # beside the location, where get_down_revision reads it.
    for location in _directories(options):
        generate_chain_file(location.path, scope=location.scope)
    return EXIT_OK


def _check(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _render
    from alembic_git_revisions._check import check_graph, check_state, graph_summary
    from alembic_git_revisions._state import ChainState, chain_state

    # Alembic loads the version locations of one configuration section into one
    # revision graph: heads and parents are judged over all of them together. Several
    # directories given on the command line are taken as one such graph too.
    graphs = [
        (label, members)
        for label, members in _graphs(options)
        if label is not None or len(members) > 1
    ]
    directories = _directories(options)
    heads: dict[Any, ChainState] = {}
    failures: dict[Any, Exception] = {}
    for directory in directories:
        try:
            heads[directory] = chain_state(directory.path, scope=directory.scope)
        except (RuntimeError, ValueError, OSError) as exc:
            failures[directory] = exc

    entries: list[dict[str, Any]] = []
    status = EXIT_OK
    for directory in directories:
        entry: dict[str, Any] = {"path": str(directory.path), "scope": directory.scope}
        head = heads.get(directory)
        try:
            if head is None:
                raise failures[directory]
            result = check_state(
                head,
                base=options.base,
                previous_chain=options.previous_chain,
                locations=_other_locations(directory, graphs, heads),
            )
        except (RuntimeError, ValueError, OSError) as exc:
            status = EXIT_ERROR
            entry.update(ok=False, source=None, chain_file=None, summary=None)
            entry.update(error=str(exc), findings=[])
            if options.format == "text":
                print(f"{PROG}: error: {exc}", file=sys.stderr)
            entries.append(entry)
            continue
        entry.update(
            ok=result.ok,
            source=_render.source_of(head),
            chain_file=None if head.chain_file is None else str(head.chain_file),
            summary=result.summary,
            error=None,
            findings=[_render.finding_dict(f) for f in result.findings],
        )
        entries.append(entry)
        if not result.ok and status == EXIT_OK:
            status = EXIT_FINDINGS
        if options.format == "json":
            continue
        _note_chain_files([head])
        _print_result(result.summary, result.findings)

    graph_entries: list[dict[str, Any]] = []
    for label, members in graphs:
        prefix = f"{label}: " if label is not None else ""
        graph: dict[str, Any] = {"config": label, "paths": [str(m.path) for m in members]}
        unread = [m for m in members if m not in heads]
        if unread:
            error = f"not checked: {_plural(len(unread), 'version location')} could not be read"
            graph.update(ok=False, summary=None, error=error, findings=[])
            if options.format == "text":
                print(f"{PROG}: {prefix}revision graph {error}", file=sys.stderr)
        else:
            states = [heads[m] for m in members]
            findings = check_graph(states)
            summary = prefix + graph_summary(states, findings)
            graph.update(
                ok=not findings,
                summary=summary,
                error=None,
                findings=[_render.finding_dict(f) for f in findings],
            )
            if findings and status == EXIT_OK:
                status = EXIT_FINDINGS
            if options.format == "text":
                _print_result(summary, findings)
        graph_entries.append(graph)
    if options.format == "json":
        document = {
            "version": _render.JSON_SCHEMA_VERSION,
            "ok": status == EXIT_OK,
            "status": status,
            "base": options.base,
            "previous_chain": None
            if options.previous_chain is None
            else str(options.previous_chain),
            "directories": entries,
            "graphs": graph_entries,
        }
        print(json.dumps(document, indent=2))
    return status


def _other_locations(
    directory: Any,
    graphs: Sequence[tuple[str | None, list[Any]]],
    heads: dict[Any, Any],
) -> list[Any] | None:
    """The states of the locations that share a revision graph with *directory*; None
    when it is in no graph (a single directory checked alone)."""
    others: dict[Any, None] | None = None
    for _, members in graphs:
        if directory in members:
            others = others or {}
            others.update(dict.fromkeys(m for m in members if m != directory and m in heads))
    return None if others is None else [heads[m] for m in others]


def _print_result(summary: str, findings: Sequence[Any]) -> None:
    """A check's summary on stdout when OK; else it and its findings on stderr."""
    if not findings:
        print(summary)
        return
    print(summary, file=sys.stderr)
    for finding in findings:
        print(f"  - [{finding.kind}] {finding.message}", file=sys.stderr)


def _plural(count: int, noun: str) -> str:
    from alembic_git_revisions._state import plural

    return plural(count, noun)


def _chain(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _render

    dirs = _directories(options, at=options.at)
    if options.format == "revision-chain" and len(dirs) > 1:
        raise UsageError(
            f"--format revision-chain prints one directory's chain, not {len(dirs)}; "
            "use --format json for several"
        )
    states = [_state_at(directory, options.at) for directory in dirs]
    _note_chain_files(states)
    if options.format == "json":
        print(_render.chain_document(states))
    elif options.format == "revision-chain":
        print(_render.revision_chain_json(states[0]))
    else:
        for state in states:
            if len(states) > 1:
                print(f"# {state.versions_dir}")
            text = _render.format_chain_text(state)
            if text:
                print(text)
    return EXIT_OK


def _graph(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _render
    from alembic_git_revisions._state import chain_state

    dirs = _directories(options, at=options.at)
    states = [_state_at(directory, options.at) for directory in dirs]
    bases = [
        chain_state(d.path, options.base, scope=d.scope) if options.base else None for d in dirs
    ]
    _note_chain_files(states)
    print(_render.format_graph(states, options.format, bases))
    return EXIT_OK


def _pin(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _pins

    # Every directory is planned before any file is written: a refusal for one
    # leaves all pin files as they were.
    plans = [
        _pins.plan(location.path, options.at, scope=location.scope)
        for location in _directories(options)
    ]
    for planned in plans:
        result = _pins.write_plan(planned)
        at = f"{options.at} ({result.commit[:10]})"
        if result.added:
            print(
                f"{result.pin_file}: pinned {_plural(len(result.added), 'migration')} at {at}, "
                f"{len(result.pins)} in all"
            )
        else:
            print(f"{result.pin_file}: nothing new to pin at {at}, {len(result.pins)} pinned")
    return EXIT_OK


def _init(options: argparse.Namespace) -> int:
    from alembic_git_revisions._template import install_template

    changes = install_template(options.alembic_dir)
    print("\n".join(changes) if changes else "script.py.mako already uses it")
    return EXIT_OK


def _rewrite(options: argparse.Namespace) -> int:
    from alembic_git_revisions._template import rewrite_migration

    for path in options.paths:
        for change in rewrite_migration(path):
            print(change)
    return EXIT_OK


def _demo(options: argparse.Namespace) -> int:
    from alembic_git_revisions import _demo

    return _demo.run()


_HANDLERS = {
    "generate": _generate,
    "check": _check,
    "chain": _chain,
    "graph": _graph,
    "pin": _pin,
    "init": _init,
    "rewrite": _rewrite,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module doc)."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        options = parser.parse_args(_route(args))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if options.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return _HANDLERS[options.command](options)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
