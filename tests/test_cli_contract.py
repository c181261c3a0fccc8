"""The command line's contract: exit codes, parseable output, and its small courtesies.

* Exit status for every subcommand: 0 success, 1 ``check`` findings, 2 usage or tool
  errors: a directory that does not exist or holds no migrations, ``--base`` together
  with ``--previous-chain``, a ref that does not exist, a broken chain.
* One document for any number of directories: ``chain --format json`` and ``check
  --format json`` parse with ``json.loads``; ``graph`` is one Mermaid flowchart with a
  subgraph per directory (checked structurally) or one dot graph (rendered by
  Graphviz's ``dot`` where it is installed, and checked structurally everywhere).
* ``--version``, correct plurals, and "did you mean" for mistyped commands.

Histories are built with real git at fixed dates (``gitrepo``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from alembic_git_revisions import Finding, __version__, build_chain
from alembic_git_revisions.cli import main as agr_main
from gitrepo import Dynamic, Repo, migration_source

AGR = pathlib.Path(sys.executable).parent / "alembic-git-revisions"

ROOT = "1a2b3c4d5e6f"
A = "aaaa00000001"
B = "bbbb00000002"
F = "ffff00000003"
X = "cccc00000004"
Y = "dddd00000005"


@pytest.fixture(autouse=True)
def _fresh_chains() -> None:
    build_chain.cache_clear()


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: int
    out: str
    err: str


def agr(*args: str | os.PathLike[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = agr_main([os.fspath(a) for a in args])
    return Outcome(status, out.getvalue(), err.getvalue())


def error_of(outcome: Outcome) -> str:
    """The message of a command that failed with exit 2, one line, no traceback."""
    assert outcome.status == 2, outcome
    assert outcome.out == ""
    assert "Traceback" not in outcome.err
    (line,) = [x for x in outcome.err.splitlines() if x.startswith("alembic-git-revisions:")]
    return line.removeprefix("alembic-git-revisions: error: ")


def two_dirs(path: pathlib.Path) -> tuple[Repo, pathlib.Path, pathlib.Path]:
    """``one/versions`` (root, A, B) and ``two/versions`` (X, then Y hardcoded to X);
    tag ``deployed`` before B; then the fast-forward onto a feature-first merge that
    slots F before A in ``one``."""
    repo = Repo(path)
    repo.commit(
        {
            f"one/versions/{ROOT}_root.py": migration_source(ROOT, None),
            f"two/versions/{X}_x.py": migration_source(X, None),
            f"two/versions/{Y}_y.py": migration_source(Y, X),
        }
    )
    repo.branch("feature")
    repo.commit({f"one/versions/{A}_a.py": migration_source(A, Dynamic())})
    deployed = repo.commit({f"one/versions/{B}_b.py": migration_source(B, Dynamic())})
    repo.checkout("feature")
    repo.commit({f"one/versions/{F}_f.py": migration_source(F, Dynamic())})
    repo.merge("main")
    repo.checkout("main")
    repo.fast_forward("feature")
    repo.flush()
    repo.git("tag", "deployed", repo.sha(deployed))
    return repo, path / "one" / "versions", path / "two" / "versions"


# ------------------------------------------------------------------ courtesies


def test_version() -> None:
    proc = subprocess.run([AGR, "--version"], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0,
        f"alembic-git-revisions {__version__}\n",
        "",
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("chek", "check"),
        ("chian", "chain"),
        ("grpah", "graph"),
        ("genrate", "generate"),
        ("pni", "pin"),
    ],
)
def test_mistyped_commands_get_a_suggestion(tmp_path: pathlib.Path, typed: str, meant: str) -> None:
    (tmp_path / "dir").mkdir()
    outcome = agr(typed, tmp_path / "dir")
    assert error_of(outcome) == f"unknown command {typed!r}; did you mean {meant!r}?"


def test_a_word_that_is_neither_command_nor_directory(tmp_path: pathlib.Path) -> None:
    message = error_of(agr("versions"))
    assert message == (
        "'versions' is neither a command (generate, check, chain, graph, pin, demo, init, "
        "rewrite) nor a directory"
    )


def test_an_existing_directory_is_the_reference_shorthand(tmp_path: pathlib.Path) -> None:
    """A directory named like a mistyped command is still a directory to generate for."""
    repo = Repo(tmp_path / "repo")
    repo.commit({f"chek/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.commit({f"chek/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    cwd = os.getcwd()
    os.chdir(repo.path)
    try:
        outcome = agr("chek")
    finally:
        os.chdir(cwd)
    assert outcome.status == 0, outcome.err
    chain_file = pathlib.Path("chek").parent / "revision_chain.json"
    assert outcome.out == f"Generated {chain_file} with 1 revision\n"
    assert json.loads((repo.path / "revision_chain.json").read_text()) == {A: ROOT}


def test_plural_counts(tmp_path: pathlib.Path) -> None:
    _repo, one, two = two_dirs(tmp_path / "repo")
    outcome = agr("generate", one)
    assert outcome.out == f"Generated {one.parent / 'revision_chain.json'} with 3 revisions\n"
    outcome = agr("generate", two)
    # Y is hardcoded, X is the root: no dynamic revision.
    assert outcome.out == f"Generated {two.parent / 'revision_chain.json'} with 0 revisions\n"


# ------------------------------------------------------------------- exit codes


@pytest.mark.parametrize("command", ["check", "chain", "graph", "generate", "pin"])
def test_missing_and_empty_directories_are_errors(tmp_path: pathlib.Path, command: str) -> None:
    _repo, one, _ = two_dirs(tmp_path / "repo")
    missing = one.parent / "versionz"
    assert error_of(agr(command, missing)) == f"{missing} does not exist"
    empty = one.parent / "empty"
    empty.mkdir()
    (empty / "__init__.py").write_text("")
    assert error_of(agr(command, empty)) == f"{empty} holds no migrations"
    a_file = one / f"{A}_a.py"
    assert error_of(agr(command, a_file)) == f"{a_file} is not a directory"


def test_usage_errors_exit_2(tmp_path: pathlib.Path) -> None:
    _, one, _ = two_dirs(tmp_path / "repo")
    both = agr("check", one, "--base", "deployed", "--previous-chain", "x.json")
    assert error_of(both) == "argument --previous-chain: not allowed with argument --base"
    assert "usage: alembic-git-revisions check" in both.err
    assert error_of(agr("check")) == "give at least one VERSIONS_DIR, or --config alembic.ini"
    assert error_of(agr("chain", one, "--format", "yaml")).startswith("argument --format")
    nothing = agr()
    assert (nothing.status, nothing.out) == (2, "")
    assert "usage: alembic-git-revisions" in nothing.err
    assert agr("--help").status == 0


def test_tool_errors_exit_2(tmp_path: pathlib.Path) -> None:
    _, one, _two = two_dirs(tmp_path / "repo")
    for args in (
        ("check", one, "--base", "no-such-ref"),
        ("chain", one, "--at", "no-such-ref"),
        ("graph", one, "--base", "no-such-ref"),
        ("check", one, "--previous-chain", tmp_path / "absent.json"),
    ):
        message = error_of(agr(*args))
        assert "no-such-ref" in message or "absent.json" in message, message
    (one.parent / "revision_chain.json").write_text("[1, 2]")
    assert "must hold a JSON object" in error_of(
        agr("check", one, "--previous-chain", one.parent / "revision_chain.json")
    )


def test_check_exit_codes_0_and_1(tmp_path: pathlib.Path) -> None:
    _, one, two = two_dirs(tmp_path / "repo")
    ok = agr("check", two, "--base", "deployed")
    assert (ok.status, ok.err) == (0, "")
    found = agr("check", one, "--base", "deployed")
    assert found.status == 1
    assert f"[parent-changed] {A} " in found.err
    # Findings in one directory and none in the other: still 1.
    assert agr("check", two, one, "--base", "deployed").status == 1


# ------------------------------------------------------------------------ JSON


def test_chain_json_is_one_document(tmp_path: pathlib.Path) -> None:
    repo, one, two = two_dirs(tmp_path / "repo")
    outcome = agr("chain", one, two, "--format", "json")
    assert outcome.status == 0, outcome.err
    document = json.loads(outcome.out)
    assert document["version"] == 1
    first, second = document["directories"]
    assert first["path"] == str(one) and second["path"] == str(two)
    assert first["ref"] is None and first["source"] == "git" and first["chain_file"] is None
    assert first["chain"] == {F: ROOT, A: F, B: A} == build_chain(one)
    assert list(first["chain"]) == [F, A, B], "chain order"
    assert first["heads"] == [B]
    assert [m["revision"] for m in first["migrations"]] == [ROOT, F, A, B]
    by_rev = {m["revision"]: m for m in first["migrations"]}
    assert by_rev[A] == {
        "revision": A,
        "filename": f"{A}_a.py",
        "kind": "dynamic",
        "parents": [F],
        "commit": repo.git(
            "log", "--format=%H", "--diff-filter=A", "--", f"one/versions/{A}_a.py"
        ).strip(),
    }
    assert by_rev[ROOT]["kind"] == "static" and by_rev[ROOT]["parents"] == []
    assert second["chain"] == {} and second["heads"] == [Y]
    assert {m["revision"]: m["parents"] for m in second["migrations"]} == {X: [], Y: [X]}

    at = json.loads(agr("chain", one, "--at", "deployed", "--format", "json").out)
    assert at["directories"][0]["ref"] == "deployed"
    assert at["directories"][0]["chain"] == {A: ROOT, B: A}

    single = agr("chain", one, "--format", "revision-chain")
    assert single.out == json.dumps(build_chain(one), indent=2, sort_keys=True) + "\n"
    assert "not 2" in error_of(agr("chain", one, two, "--format", "revision-chain"))


def test_check_json_is_one_document_with_every_finding_field(tmp_path: pathlib.Path) -> None:
    _repo, one, two = two_dirs(tmp_path / "repo")
    dupes = tmp_path / "repo" / "three" / "versions"
    dupes.mkdir(parents=True)
    (dupes / f"{X}_x.py").write_bytes(migration_source(X, None))
    (dupes / f"{X}_again.py").write_bytes(migration_source(X, None))

    outcome = agr("check", two, one, "--base", "deployed", "--format", "json")
    assert outcome.status == 1
    assert outcome.err == ""
    document = json.loads(outcome.out)
    assert (document["version"], document["ok"], document["status"]) == (1, False, 1)
    assert (document["base"], document["previous_chain"]) == ("deployed", None)
    good, bad = document["directories"]
    assert good == {
        "path": str(two),
        "scope": "flat",
        "ok": True,
        "source": "git",
        "chain_file": None,
        "summary": good["summary"],
        "error": None,
        "findings": [],
    }
    assert good["summary"].startswith(f"{two}: OK")
    assert bad["ok"] is False and bad["error"] is None
    (finding,) = bad["findings"]
    assert set(finding) == {f.name for f in dataclasses.fields(Finding)}
    assert finding["kind"] == "parent-changed"
    assert (finding["revision"], finding["old_parents"], finding["new_parents"]) == (A, [ROOT], [F])
    assert finding["inserted"] == F and len(finding["commit"]) == 40

    # A tool error in one directory: reported in the document, the others still checked.
    outcome = agr("check", two, dupes, "--format", "json")
    assert outcome.status == 2
    document = json.loads(outcome.out)
    assert (document["ok"], document["status"]) == (False, 2)
    good, broken = document["directories"]
    assert good["ok"] is True
    assert broken["ok"] is False and broken["findings"] == []
    assert f"{X}_again.py" in broken["error"] and f"{X}_x.py" in broken["error"]


# ----------------------------------------------------------------------- graphs

MERMAID_NODE = re.compile(r'^ {8}(r_\w+)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r"^ {4}(r_\w+) (-->|==>|-\.->\|base\|) (r_\w+)$")
MERMAID_SUBGRAPH = re.compile(r'^ {4}subgraph (d\d+)\["([^"]*)"\]$')


def parse_mermaid(text: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    """``({subgraph title: [node ids]}, edges)``; fails on any line that is not one
    flowchart's header, a subgraph, a node inside one, ``end`` or an edge."""
    lines = text.splitlines()
    assert lines[0] == "flowchart BT"
    groups: dict[str, list[str]] = {}
    edges = []
    current: str | None = None
    for line in lines[1:]:
        if m := MERMAID_SUBGRAPH.match(line):
            assert current is None, "nested subgraph"
            current = m[2]
            groups[current] = []
        elif line == "    end":
            assert current is not None
            current = None
        elif m := MERMAID_NODE.match(line):
            assert current is not None, "node outside a subgraph"
            groups[current].append(m[1])
        elif m := MERMAID_EDGE.match(line):
            assert current is None
            edges.append((m[1], m[2], m[3]))
        else:
            raise AssertionError(f"not a line of our Mermaid: {line!r}")
    assert current is None, "unterminated subgraph"
    nodes = {n for ids in groups.values() for n in ids}
    assert len(nodes) == sum(len(ids) for ids in groups.values()), "a node drawn twice"
    for child, _, _parent in edges:
        assert child in nodes, child
    return groups, edges


def test_graph_mermaid_is_one_diagram_with_a_subgraph_per_directory(
    tmp_path: pathlib.Path,
) -> None:
    _, one, two = two_dirs(tmp_path / "repo")
    outcome = agr("graph", one, two, "--base", "deployed")
    assert outcome.status == 0, outcome.err
    assert outcome.out.count("flowchart") == 1
    groups, edges = parse_mermaid(outcome.out)
    assert groups == {
        str(one): [f"r_{r}" for r in (ROOT, F, A, B)],  # add order
        str(two): [f"r_{X}", f"r_{Y}"],
    }
    assert sorted(edges) == sorted(
        [
            (f"r_{F}", "-->", f"r_{ROOT}"),
            (f"r_{A}", "-->", f"r_{F}"),
            (f"r_{B}", "-->", f"r_{A}"),
            (f"r_{A}", "-.->|base|", f"r_{ROOT}"),
            (f"r_{Y}", "==>", f"r_{X}"),
        ]
    )


DOT_STATEMENT = re.compile(
    r'^(digraph migrations \{|  rankdir=BT;|  subgraph cluster_\d+ \{|    label="[^"]*";'
    r'|    r_\w+ \[label="[^"]*"\];|  \}|  r_\w+ -> r_\w+( \[[^\]]*\])?;|\})$'
)


def test_graph_dot_is_one_graph(tmp_path: pathlib.Path) -> None:
    _, one, two = two_dirs(tmp_path / "repo")
    outcome = agr("graph", one, two, "--format", "dot", "--base", "deployed")
    assert outcome.status == 0, outcome.err
    lines = outcome.out.splitlines()
    assert lines[0] == "digraph migrations {" and lines[-1] == "}"
    assert outcome.out.count("digraph") == 1
    for line in lines:
        assert DOT_STATEMENT.match(line), line
    assert sum(line.startswith("  subgraph cluster_") for line in lines) == 2
    assert f'    label="{one}";' in lines and f'    label="{two}";' in lines
    assert f'  r_{A} -> r_{ROOT} [style=dashed,label="base"];' in lines
    assert f"  r_{Y} -> r_{X} [penwidth=2];" in lines
    if shutil.which("dot"):
        # Graphviz itself is the parser where it is installed.
        svg = subprocess.run(
            ["dot", "-Tsvg"], input=outcome.out, capture_output=True, text=True, check=True
        ).stdout
        assert svg.count('<g id="clust') == 2
        for revision in (ROOT, A, B, F, X, Y):
            assert f"<title>r_{revision}</title>" in svg


def test_graph_labels_with_quotes_stay_valid(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    odd = 'm "q" \\ versions'
    repo.commit({f"{odd}/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.commit({f"{odd}/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    versions = repo.path / odd
    mermaid = agr("graph", versions).out
    groups, _ = parse_mermaid(mermaid)
    assert list(groups) == [str(versions).replace('"', "#quot;")]
    dot = agr("graph", versions, "--format", "dot").out
    assert 'label="' + str(versions).replace("\\", "\\\\").replace('"', '\\"') + '";' in dot
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
