"""Job summary and annotations for the GitHub Action (``action.yml``).

Usage: ``python report.py --status N --output FILE [--report JSON] --command TEXT``

Run by the action's check step after ``alembic-git-revisions check``: *status* is its
exit code (0 OK, 1 findings, anything else an error), *output* what it printed (with
``--format json``: its stderr), *report* the JSON document it wrote to stdout.

Annotations are GitHub workflow commands printed to stdout (``::error title=...::``).
With a JSON report, every finding in it (any object with a string ``kind`` and
``message``, wherever it sits in the document) becomes one annotation; otherwise the
whole output becomes one. The Markdown summary is appended to ``$GITHUB_STEP_SUMMARY``.
Only the standard library: this runs on whatever Python the job has.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from collections.abc import Iterator

TITLE = "alembic-git-revisions"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF are escaped (runner's rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, title: str, message: str) -> str:
    return f"::{level} title={escape_property(title)}::{escape_data(message)}"


def findings(document: object) -> Iterator[dict[str, object]]:
    """Every object with a string ``kind`` and ``message``, depth first, in order."""
    if isinstance(document, dict):
        if isinstance(document.get("kind"), str) and isinstance(document.get("message"), str):
            yield document
            return
        for value in document.values():
            yield from findings(value)
    elif isinstance(document, list):
        for value in document:
            yield from findings(value)


def fence(text: str) -> str:
    """A Markdown code block that the text itself cannot close."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def cell(text: str) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def render(status: int, output: str, report: str | None, command: str) -> tuple[list[str], str]:
    """The annotation lines and the Markdown summary."""
    found: list[dict[str, object]] = []
    unreadable = None
    if report is not None:
        try:
            found = list(findings(json.loads(report)))
        except ValueError as exc:
            unreadable = f"the JSON report could not be read ({exc})"

    if status == 0:
        heading, level = "OK", "warning"
    elif status == 1:
        count = len(found)
        heading = f"{count} finding{'' if count == 1 else 's'}" if found else "findings"
        level = "error"
    else:
        heading, level = f"error (exit {status})", "error"

    annotations = []
    if found and status in (0, 1):
        for finding in found:
            kind = str(finding["kind"])
            annotations.append(annotation(level, f"{TITLE}: {kind}", str(finding["message"])))
    elif status != 0:
        text = output.strip() or (report or "").strip() or f"{command} exited {status}"
        annotations.append(annotation("error", TITLE, text))

    lines = [f"### {TITLE} check: {heading}", "", f"`{command}`", ""]
    if found:
        lines += ["| kind | finding |", "| --- | --- |"]
        lines += [f"| {cell(str(f['kind']))} | {cell(str(f['message']))} |" for f in found]
        lines.append("")
    if unreadable:
        lines += [unreadable, ""]
    if output.strip():
        lines += [fence(output), ""]
    if report is not None and (unreadable or not found):
        lines += ["<details><summary>JSON report</summary>", "", fence(report), "", "</details>"]
        lines.append("")
    return annotations, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", type=int, required=True)
    parser.add_argument("--output", type=pathlib.Path, required=True)
    parser.add_argument("--report", type=pathlib.Path)
    parser.add_argument("--command", required=True)
    options = parser.parse_args(argv)

    def read(path: pathlib.Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    report = read(options.report) if options.report is not None else None
    annotations, summary = render(options.status, read(options.output), report, options.command)
    for line in annotations:
        print(line)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as out:
            out.write(summary + "\n")
    else:
        print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
