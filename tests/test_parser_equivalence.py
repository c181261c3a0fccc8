"""The migration-module parsers against the reference's own reading of a module.

Two differential properties, both on generated migration modules:

* ``test_oracle_*``: the pure-Python fallback ``_pyparse.read_module_source`` agrees
  with alembic-git-revisions 13's ``_chain`` functions (pure Python, runs anywhere:
  ``pytest -k oracle``).
* ``test_native_*``: the Rust parser, through ``_core.parse_module_source``, either
  answers exactly as the reference does, or delegates, in which case the fallback must
  answer as the reference does (or fail as it fails).
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from alembic_git_revisions import _pyparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import load_reference_chain

Reading = tuple[str | None, bool, tuple[str, ...]]
Outcome = tuple[str, Any]


# --------------------------------------------------------------------------- oracles


def oracle_read(source: str) -> Reading:
    """What the reference reads from *source*: revision, dynamic flag, static parents."""
    chain = load_reference_chain()
    assignments = chain._module_level_assignments(source)
    revision = chain._string_value(assignments.get("revision"))
    down_revision = assignments.get("down_revision")
    if chain._is_get_down_revision_call(down_revision):
        return revision, True, ()
    return revision, False, chain._down_revision_values(down_revision)


def outcome(read: Callable[[], Reading]) -> Outcome:
    """A reading, or the type and message of the exception it raised."""
    try:
        return ("ok", read())
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return ("raised", (type(exc).__name__, _message(exc)))


def _message(exc: BaseException) -> str:
    # A SyntaxError's str() names the file; the reference parses without a filename.
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})"
    return str(exc)


def native_parse(source: str, version: tuple[int, int] | None = None) -> Reading | str:
    """The native parser's reading of *source*, or why it delegates (a ``str``)."""
    # Imported here, not at module level, so that ``-k oracle`` runs without the binding;
    # the native tests fail (not skip) when it is missing.
    from alembic_git_revisions import _core

    major, minor = version or sys.version_info[:2]
    result = _core.parse_module_source(source, major, minor)
    if isinstance(result, _core.DelegatedModule):
        return result.reason
    assert isinstance(result, _core.ParsedModule), result
    assert isinstance(result.static_down_revisions, tuple), result
    return result.revision, result.is_dynamic, result.static_down_revisions


def assert_native_agrees(source: str) -> Reading | str:
    result = native_parse(source)
    if isinstance(result, tuple):
        # A parsed module must also be one CPython reads without a warning: under
        # ``-W error`` a warning would be a SyntaxError in the reference.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expected = oracle_read(source)
        assert result == expected
    else:
        assert result, "a delegation says why"
        assert_pyparse_agrees(source)
    return result


def assert_pyparse_agrees(source: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = outcome(lambda: oracle_read(source))
        actual = outcome(lambda: _pyparse.read_module_source(source, "<unknown>"))
    assert actual == expected


# ------------------------------------------------------------------------ generators

IDENTIFIER = st.sampled_from(["abc123", "ae1027a6acf", "0001", "head", "x", "base_2024_01_01"])

LITERAL_PIECES = st.sampled_from(
    [
        "a",
        "b1",
        "ae1027a6acf",
        " ",
        "-",
        "é",
        "中文",
        "😀",
        "{x}",
        "{{",
        "}}",
        "\\x41",
        "\\N{EM DASH}",
        "\\N{DASH}",
        "\\n",
        "\\t",
        "\\\\",
        "\\'",
        '\\"',
        "\\u00e9",
        "\\U0001F600",
        "\\101",
        "\\777",
        "\\q",
        "\\d",
        "\\8",
        "\\\n",
        "\t",
    ]
)


@st.composite
def string_literal(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["", "", "", "u", "U", "r", "R", "b", "f", "rb", "F", "Rb"]))
    quote = draw(st.sampled_from(['"', "'", '"""', "'''"]))
    body = "".join(draw(st.lists(LITERAL_PIECES | IDENTIFIER, max_size=4)))
    return f"{prefix}{quote}{body}{quote}"


@st.composite
def string_expression(draw: st.DrawFn) -> str:
    """A plain literal most of the time; sometimes concatenated, parenthesised or added."""
    kind = draw(st.sampled_from(["plain", "plain", "plain", "implicit", "paren", "plus"]))
    if kind == "plain":
        return f'"{draw(IDENTIFIER)}"'
    if kind == "implicit":
        parts = draw(st.lists(string_literal(), min_size=2, max_size=3))
        separator = draw(st.sampled_from([" ", "", "\n    "]))
        joined = separator.join(parts)
        return f"({joined})" if "\n" in separator else joined
    if kind == "paren":
        return f"({draw(string_literal())})"
    return f"{draw(string_literal())} + {draw(string_literal())}"


ANY_STRING = string_expression() | string_literal()

OTHER_VALUE = st.sampled_from(
    [
        "None",
        "1",
        "revision",
        "other_revision",
        "REVISIONS[0]",
        "str(1)",
        "(None,)",
        "()",
        "[]",
        "...",
        "-1",
        "{'a': 1}",
        "lambda: 'abc'",
    ]
)

DYNAMIC_CALL = st.sampled_from(
    [
        "get_down_revision(revision)",
        "get_down_revision()",
        "get_down_revision(revision, extra=1)",
        "agr.get_down_revision(revision)",
        "alembic_git_revisions.get_down_revision(revision)",
        "a.b.c.get_down_revision(revision)",
        "get_down_revision",
        "agr.get_down_revision",
        "get_down_revision(revision)(1)",
        "other(revision)",
        "get_down_revisions(revision)",
        "\uff47et_down_revision(revision)",
        "agr.\uff47et_down_revision(revision)",
    ]
)


@st.composite
def sequence_value(draw: st.DrawFn) -> str:
    elements = draw(
        st.lists(
            ANY_STRING
            | OTHER_VALUE
            | st.just("*rest")
            | st.just("('nested', 'tuple')")
            | st.just("f'{x}'"),
            max_size=4,
        )
    )
    opening, closing = draw(st.sampled_from([("(", ")"), ("[", "]"), ("", "")]))
    inner = ", ".join(elements)
    if opening == "(" and len(elements) == 1 and draw(st.booleans()):
        inner += ","
    if opening == "":
        if not elements:
            return "()"
        inner += "," if len(elements) == 1 else ""
    return f"{opening}{inner}{closing}"


DOWN_REVISION_VALUE = ANY_STRING | OTHER_VALUE | DYNAMIC_CALL | sequence_value()
REVISION_VALUE = ANY_STRING | OTHER_VALUE
ANNOTATION = st.sampled_from(
    ["", ": str", ": Union[str, None]", ": str | None", ": Union[str, Sequence[str], None]"]
)


@st.composite
def assignment(draw: st.DrawFn, name: str, value: st.SearchStrategy[str]) -> str:
    style = draw(st.sampled_from(["plain", "plain", "annotated", "chained", "paren", "tuple"]))
    rendered = draw(value)
    if style == "annotated":
        return f"{name}{draw(ANNOTATION) or ': str'} = {rendered}"
    if style == "chained":
        return f"other = {name} = {rendered}"
    if style == "paren":
        return f"({name}) = {rendered}"
    if style == "tuple":
        return f"{name}, other = {rendered}, 1"
    return f"{name} = {rendered}"


def indent(block: str) -> str:
    return "\n".join("    " + line if line else line for line in block.split("\n"))


@st.composite
def nested(draw: st.DrawFn, statement: str) -> str:
    header = draw(
        st.sampled_from(
            ["if True:", "def upgrade() -> None:", "class Config:", "with ctx:", "for x in y:"]
        )
    )
    return f"{header}\n{indent(statement)}"


OTHER_STATEMENTS = st.sampled_from(
    [
        "branch_labels = None",
        "depends_on: Union[str, Sequence[str], None] = None",
        "x = 1",
        "revision: str",
        "down_revision: str",
        "revision += 'x'",
        "del revision",
        "import sqlalchemy as sa",
        "from alembic import op",
        "import alembic_git_revisions as agr",
        "from alembic_git_revisions import get_down_revision",
        "from typing import Sequence, Union",
        "def upgrade() -> None:\n    op.add_column('t', sa.Column('c', sa.String(32)))",
        "def downgrade() -> None:\n    pass",
        "op.execute('SELECT 1')",
        "\uff52evision = 'nfkc'",
        "\uff44own_revision = ('nfkc-a', 'nfkc-b')",
        "if x:\n    pass\nelse:\n    revision = 'in-else'",
        "try:\n    import foo\nexcept ImportError:\n    foo = None",
        "x = [i for i in range(3) if (j := i)]",
        "match x:\n    case [1, *rest]:\n        pass",
        "type Alias = int",
        "def f[T](x: T) -> T:\n    return x",
        "x = f'{a!r:>10}'",
        'x = f"{d["key"]}"',
        "x = 1if y else 2",
        "x = 0x1for_ = 1",
        "x = b'\\N{DASH}'",
        "async def f():\n    await g()",
        "print(*args, **kwargs)",
        "x = (yield)",
        "@decorator\nclass C:\n    revision = 'in-class'",
        "x = 1 # comment with ' quote",
        "\f",
        "lambda: (yield)",
        "def g():\n    x = yield\n    yield x\n    x += yield from y",
        "x = [*(a or b), *c]",
        "x = {**(a or b), **c}",
        "x = f'{a:{b}}' f'{c!r:>10}'",
        "x = rf'{x:\\d}'",
        "x = rf'\\d{x}'",
        "x = f'\\{6*7}'",
        "x = '\\N{EM DASH}'",
        "x = '\\x41\\u00e9\\n'",
        "def g():\n    try:\n        pass\n    finally:\n        return",
        "if x:\n\tif y:\n\t\tpass",
        "if x:\n\ty = 1",
        "if x:\n\f    pass",
        "if x:\n    y = 1\n\f    z = 2",
        "if x:\n  \f\ty = 1",
        "x = ('''\n\tindented string''')",
    ]
)

SYNTAX_ERRORS = st.sampled_from(
    [
        "revision = ",
        "def (",
        ")",
        "revision = 'unterminated",
        "  indented = 1",
        "if x:\nno_indent = 1",
        "x = '\\x4'",
        "x = '\\N{NOT A REAL NAME}'",
        "x = b'é'",
        "x = b'a' 'b'",
        "f(x for x in y, 1)",
        "def f(a=1, b): pass",
        "del f()",
        "print 'x'",
        "x = 0777",
        "x = 1__0",
        "x = 1abc",
        "x = 1 \x0b",
        "x\u200b = 1",
        "if x:\n\tif y:\n        pass",
        "if x:\n        y = 1\n\tz = 2",
        "if x:\n    \fy = 1\n    z = 2",
        "(a, b) += 1",
        "x = " + "(" * 201 + ")" * 201,
        # Accepted by ruff, refused by CPython: the native side must notice.
        "try:\n    pass\nelse:\n    pass\nfinally:\n    pass",
        "def g():\n    yield % x",
        "def g():\n    x = yield a, @ b",
        "f(yield)",
        "x = [*(a) or b]",
        "x = 1, *(a) in b",
        "x = {**(a) or b}",
        "x = ((a) := 1)",
        "match x:\n    case C((a)=1):\n        pass",
        "x = f'{a!r :}'",
        "x = f'{*a}'",
        "x = f'{a:{b:{c}}}'",
    ]
)

DOCSTRING = st.sampled_from(
    [
        '"""Add a column.\n\nRevision ID: ae1027a6acf\nRevises: 1975ea83b712\n"""',
        "'''One line.'''",
        '"""With an escape: \\n and a path C:\\\\temp."""',
        '"""Invalid escape \\d in a docstring."""',
        'r"""Raw \\d docstring."""',
    ]
)

COMMENT = st.sampled_from(
    ["# comment", "# -*- coding: utf-8 -*-", "#", "# revision = 'commented'", "# é 😀"]
)


@st.composite
def migration_module(draw: st.DrawFn) -> str:
    statements: list[str] = []
    if draw(st.booleans()):
        statements.append(draw(DOCSTRING))
    body = st.one_of(
        assignment("revision", REVISION_VALUE),
        assignment("down_revision", DOWN_REVISION_VALUE),
        OTHER_STATEMENTS,
        COMMENT,
        st.just(""),
        assignment("revision", REVISION_VALUE).flatmap(nested),
        assignment("down_revision", DOWN_REVISION_VALUE).flatmap(nested),
    )
    statements.extend(draw(st.lists(body, max_size=8)))
    if draw(st.integers(0, 5)) == 0:
        position = draw(st.integers(0, len(statements)))
        statements.insert(position, draw(SYNTAX_ERRORS))
    newline = draw(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"]))
    source = "\n".join(statements)
    if draw(st.booleans()):
        source += "\n"
    return source.replace("\n", newline)


GENERATED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------- hand examples

EXAMPLES = [
    "revision = 'abc'\ndown_revision = 'def'\n",
    "revision: str = 'abc'\ndown_revision: Union[str, None] = None\n",
    "revision = 'a'\nrevision = 'b'\n",
    "a = revision = 'x'\n",
    "revision, b = 'x', 'y'\n",
    "if True:\n    revision = 'x'\n",
    "revision = 'a' 'b' u'c'\n",
    "revision = b'x'\n",
    "revision = f'x'\n",
    "revision = ('x')\n",
    "down_revision = ('a', None, 1, ('b',), *c, 'd')\n",
    "down_revision = ['a', 'b']\n",
    "down_revision = agr.get_down_revision(revision)\n",
    "down_revision = get_down_revision\n",
    "revision = 'x'\r\ndown_revision = '''a\r\nb'''\r\n",
    "revision = '''a\rb'''\r",
    "\ufeffrevision = 'x'\n",
    "revision = 'x'\0\n",
    "revision = 'a\\x41'\n",
    "revision = '\\N{EM DASH}'\n",
    "revision = 'a\\\nb'\n",
    "type X = int\nrevision = 'x'\n",
    "x = '\\d'\nrevision = 'x'\n",
    "x = 1if y else 2\nrevision = 'x'\n",
    "revision = 'x'\ndown_revision = 'y'\n" + "x = " + "(" * 150 + ")" * 150 + "\n",
    "x = " + "-" * 3000 + "1\n",
    "\uff52evision = 'nfkc'\n",
    "",
    "# only a comment",
    "try:\n    pass\nelse:\n    pass\nfinally:\n    pass\nrevision = 'x'\n",
    "def g():\n    yield % x\nrevision = 'x'\n",
    "x = [*(a) or b]\nrevision = 'x'\n",
    "x = ((a) := 1)\nrevision = 'x'\n",
    "x = f'{a!r :}'\nrevision = 'x'\n",
    "x = rf'{x:\\d}'\nrevision = 'x'\n",
    "if x:\n\tif y:\n        pass\nrevision = 'x'\n",
    "def",
]


@pytest.mark.parametrize("source", EXAMPLES)
def test_oracle_pyparse_examples(source: str) -> None:
    assert_pyparse_agrees(source)


@GENERATED
@given(migration_module())
def test_oracle_pyparse_generated(source: str) -> None:
    assert_pyparse_agrees(source)


def test_oracle_pyparse_reads_a_realistic_module() -> None:
    source = (
        '"""Add users.\n\nRevision ID: ae1027a6acf\n"""\n'
        "from alembic_git_revisions import get_down_revision\n\n"
        "revision: str = 'ae1027a6acf'\n"
        "down_revision: Union[str, None] = get_down_revision(revision)\n"
    )
    assert _pyparse.read_module_source(source, "x.py") == ("ae1027a6acf", True, ())
    assert oracle_read(source) == ("ae1027a6acf", True, ())


def test_oracle_pyparse_raises_syntax_error_with_filename() -> None:
    with pytest.raises(SyntaxError) as info:
        _pyparse.read_module_source("revision = \n", "versions/abc_x.py")
    assert info.value.filename == "versions/abc_x.py"


@pytest.mark.parametrize("source", EXAMPLES)
def test_native_examples(source: str) -> None:
    assert_native_agrees(source)


@GENERATED
@given(migration_module())
def test_native_generated(source: str) -> None:
    assert_native_agrees(source)


def test_native_parses_plain_modules() -> None:
    source = "revision = 'abc'\ndown_revision = ('a', 'b')\n"
    assert native_parse(source) == ("abc", False, ("a", "b"))
    dynamic = "revision = 'abc'\ndown_revision = agr.get_down_revision(revision)\n"
    assert native_parse(dynamic) == ("abc", True, ())


@pytest.mark.parametrize(
    "source",
    [
        "revision = \n",
        "revision = 'a\\x41'\n",
        "x = " + "(" * 150 + ")" * 150 + "\n",
        "x = " + "-" * 200_000 + "1\n",
        "x = 1\n" * 50_000,
        "x = '\\q'\n",
        "\ufeffx = 1\n",
    ],
    ids=["syntax-error", "escape", "brackets", "unary", "large", "warned-escape", "bom"],
)
def test_native_delegates(source: str) -> None:
    assert isinstance(native_parse(source), str)
    assert_native_agrees(source)


def test_native_version_gated_syntax() -> None:
    source = "type X = int\nrevision = 'x'\n"
    assert isinstance(native_parse(source), tuple) == (sys.version_info >= (3, 12))
    assert isinstance(native_parse(source, (3, 11)), str)
    assert native_parse(source, (3, 12)) == ("x", False, ())


def test_examples_are_valid_python_where_expected() -> None:
    # Guards the hand examples themselves: the first one must parse, the last must not.
    ast.parse(EXAMPLES[0])
    with pytest.raises(SyntaxError):
        ast.parse(EXAMPLES[-1])
