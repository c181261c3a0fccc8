"""Adding one ``from module import name`` line where ruff's (and isort's) defaults want it.

``rewrite`` adds ``from alembic_git_revisions import get_down_revision`` to a migration
Alembic just generated. The line joins the third-party group (the one that imports
``alembic`` or ``sqlalchemy``), which is then sorted as ruff's ``I001`` rule sorts with
its default settings: ``import x`` statements before ``from x import y`` ones, each by
module name, case-insensitively, numbers in natural order; a comment above an import
moves with it. The blank lines after the import block become what ruff expects (two
before a ``def`` or ``class``, one otherwise). Nothing else moves: the module docstring,
licence headers, a shebang or an encoding line, ``from __future__`` imports and the
other import groups keep their place, so ``alembic history`` still shows the message.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import re
import sys

#: Top-level modules whose group is the third-party one in an Alembic migration.
_THIRD_PARTY = frozenset({"alembic", "sqlalchemy"})


def _natural(text: str) -> tuple[str | int, ...]:
    """Natural order (``m2`` before ``m10``), case-insensitive, then case-sensitive."""
    parts: list[str | int] = []
    for index, part in enumerate(re.split(r"(\d+)", text.lower())):
        parts.append(int(part) if index % 2 else part)
    return tuple(parts)


def _sort_key(node: ast.stmt) -> tuple[object, ...]:
    if isinstance(node, ast.Import):
        name = node.names[0]
        return (0, _natural(name.name), name.name, name.asname or "")
    assert isinstance(node, ast.ImportFrom)
    module = node.module or ""
    first = node.names[0]
    return (1, node.level, _natural(module), module, first.name.lower(), first.name)


def line_sort_key(line: str) -> tuple[object, ...]:
    """The sort key of a one-line import statement (ruff's default order)."""
    return _sort_key(ast.parse(line.strip()).body[0])


def _section(node: ast.stmt) -> str:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return "local"
        if node.module == "__future__":
            return "future"
        top = (node.module or "").split(".")[0]
    else:
        assert isinstance(node, ast.Import)
        top = node.names[0].name.split(".")[0]
    if top in _THIRD_PARTY:
        return "third-party"
    if top in sys.stdlib_module_names:
        return "stdlib"
    return "other"


def _standard(group: list[_Unit]) -> bool:
    """Whether every import of *group* is ``__future__`` or the standard library."""
    return all(_section(u.node) in ("future", "stdlib") for u in group if u.node)


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


@dataclasses.dataclass
class _Unit:
    """An import statement with the comment lines directly above it (0-based lines)."""

    first: int
    last: int
    node: ast.stmt | None
    text: str


def _units(lines: list[str], run: list[ast.stmt]) -> list[_Unit]:
    units: list[_Unit] = []
    previous_end = run[0].lineno - 1  # lines before the run's first statement stay put
    for node in run:
        first = node.lineno - 1
        end = node.end_lineno or node.lineno
        if units:
            while first - 1 >= previous_end and _is_comment(lines[first - 1]):
                first -= 1
        units.append(_Unit(first, end - 1, node, "".join(lines[first:end])))
        previous_end = end
    return units


def _groups(lines: list[str], units: list[_Unit]) -> list[list[_Unit]]:
    """Units split wherever a blank line separates two of them."""
    groups: list[list[_Unit]] = [[units[0]]]
    for before, unit in itertools.pairwise(units):
        gap = lines[before.last + 1 : unit.first]
        if any(not line.strip() for line in gap):
            groups.append([unit])
        else:
            groups[-1].append(unit)
    return groups


def _sortable(units: list[_Unit], lines: list[str], body: list[ast.stmt]) -> bool:
    """Each statement alone on its lines (at column 0, at most a comment after it), so
    whole lines can move."""
    starts = [node.lineno for node in body]
    for unit in units:
        node = unit.node
        if node is None:
            continue
        end = node.end_lineno or node.lineno
        tail = lines[end - 1][node.end_col_offset or 0 :].strip()
        if node.col_offset != 0 or (tail and not tail.startswith("#")):
            return False
        if starts.count(node.lineno) > 1 or (end != node.lineno and end in starts):
            return False
    return True


def _render(units: list[_Unit]) -> str:
    out = []
    for index, unit in enumerate(units):
        text = unit.text if unit.text.endswith("\n") else unit.text + "\n"
        # ruff separates an import that carries comment lines from the one before it.
        if index and _is_comment(text.splitlines()[0]):
            out.append("\n")
        out.append(text)
    return "".join(out)


def _first_run(body: list[ast.stmt]) -> tuple[int, list[ast.stmt]]:
    """Index of the first statement after the docstring, and the imports starting there."""
    start = 1 if body and _is_docstring(body[0]) else 0
    run: list[ast.stmt] = []
    for node in body[start:]:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            break
        run.append(node)
    return start, run


def _leading_comments_end(lines: list[str]) -> int:
    """The first line after a shebang, encoding line or licence header at the top."""
    index = 0
    while index < len(lines) and (_is_comment(lines[index]) or not lines[index].strip()):
        index += 1
    while index > 0 and not lines[index - 1].strip():
        index -= 1
    return index


def add_import(source: str, statement: str) -> str:
    """*source* with the import *statement* (one line) added where ruff wants it.

    Raises ``SyntaxError`` when *source* is not valid Python.
    """
    body = ast.parse(source).body
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    mine = _Unit(-1, -1, ast.parse(statement).body[0], statement + "\n")
    start, run = _first_run(body)
    if not run:
        if start:  # after the docstring
            at = body[0].end_lineno or body[0].lineno
        elif body:
            at = max(_leading_comments_end(lines), 0)
            at = min(at, body[0].lineno - 1)
        else:
            at = _leading_comments_end(lines)
        lines[at:at] = [mine.text]
        return _fix_blank_lines("".join(lines), statement)
    units = _units(lines, run)
    groups = _groups(lines, units)
    target = next(
        (g for g in groups if any(_section(u.node) == "third-party" for u in g if u.node)),
        None,
    )
    if target is not None:
        first, last = target[0].first, target[-1].last
        if _sortable(target, lines, body):
            ordered = sorted([*target, mine], key=lambda u: _sort_key(u.node))  # type: ignore[arg-type]
        else:
            ordered = [*target, mine]
        lines[first : last + 1] = [_render(ordered)]
    else:
        # A group of its own, after __future__ and the standard library, before the rest.
        later = next((g for g in groups if not _standard(g)), None)
        if later is not None:
            at = later[0].first
            lines[at:at] = [mine.text, "\n"]
        else:
            at = groups[-1][-1].last + 1
            lines[at:at] = ["\n", mine.text]
    return _fix_blank_lines("".join(lines), statement)


def _fix_blank_lines(source: str, statement: str) -> str:
    """Exactly the blank lines ruff wants after the import block holding *statement*."""
    body = ast.parse(source).body
    lines = source.splitlines(keepends=True)
    wanted = ast.dump(ast.parse(statement).body[0])
    index = next(i for i, node in enumerate(body) if ast.dump(node) == wanted)
    while index + 1 < len(body) and isinstance(body[index + 1], (ast.Import, ast.ImportFrom)):
        index += 1
    if index + 1 >= len(body):
        return source
    end = body[index].end_lineno or body[index].lineno
    following = body[index + 1]
    count = 2 if isinstance(following, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else 1
    after = end
    while after < len(lines) and not lines[after].strip():
        after += 1
    lines[end:after] = ["\n"] * count
    return "".join(lines)
