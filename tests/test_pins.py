"""``revision_pins.json``: pinned migrations keep their parents whatever the history.

Real git and real Alembic on SQLite: ``main`` has the static root, then A and B
(dynamic), tagged ``deployed`` with a database upgraded to B; a ``feature`` branch
forked before A adds F, merges ``main`` into itself (GitHub's "Update branch") and is
merged back, which without pins puts F before A (see ``test_check_findings``). Pinned
at ``deployed``, A and B keep their parents and F follows B: ``alembic upgrade head``
runs it. Also: every entry point honours the pins (``get_down_revision`` through
Alembic, ``build_chain``, ``generate_chain_file``, ``chain``, ``graph``, ``check``,
``chain --at`` and ``check --base`` with the pins as they were at that commit, and the
template's decision for a new migration); re-pinning only appends (the file's diff
adds lines only) and refuses anything else; a deleted or re-parented pinned migration
and malformed pin files are errors naming the file (exit 2 from the command line,
exception attributes from the API). Hypothesis feeds hostile pin files (arbitrary
bytes, JSON of every shape, near-valid documents) against an independent statement of
the format's rules.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib

import pytest
from alembic_git_revisions import (
    PINS_FILENAME,
    ChainError,
    ChainFileError,
    DownRevisionChoice,
    MigrationFileReadError,
    Pin,
    build_chain,
    build_chain_at,
    check_append_only,
    generate_chain_file,
    pin_chain,
    read_pins,
    template_down_revision,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_check_findings import feature_with_update_branch, merge_queue, sha
from test_workflow_cli import (
    AGR,
    PROJECT_VERSIONS,
    ROOT,
    A,
    B,
    F,
    GitWorkdir,
    Outcome,
    X,
    agr,
    alembic,
    alembic_project,
    db_version,
    deployed_project,
    mermaid_edges,
    migration_file,
    run,
    table_migration,
    tables,
)

PIN_FILE = f"migrations/{PINS_FILENAME}"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def committed_project(path: pathlib.Path) -> GitWorkdir:
    """The deployed project's history without its database (no Alembic run), for the
    tests that only look at chains."""
    work = alembic_project(path)
    work.git("branch", "feature")
    work.commit(migration_file(A, "a"), "Add a")
    work.commit(migration_file(B, "b"), "Add b")
    work.git("tag", "deployed")
    return work


def assert_error(outcome: Outcome, *needles: str) -> None:
    """A clean command-line error (exit 2, no traceback) whose message holds *needles*."""
    assert outcome.status == 2, outcome
    assert outcome.out == ""
    assert outcome.err.startswith("alembic-git-revisions: error: "), outcome.err
    assert "Traceback" not in outcome.err
    for needle in needles:
        assert needle in outcome.err, (needle, outcome.err)


def pinned_at_deployed(tmp_path: pathlib.Path, *, database: bool = False) -> GitWorkdir:
    """The deployed project with its chain pinned at ``deployed`` and committed (what a
    release job does); its database upgraded to ``deployed`` if *database*."""
    if database:
        work, _ = deployed_project(tmp_path / "proj")
    else:
        work = committed_project(tmp_path / "proj")
    result = run(work.path, AGR, "pin", PROJECT_VERSIONS, "--at", "deployed")
    deployed = sha(work, "deployed")
    assert (result.status, result.err) == (0, ""), result
    assert result.out == (
        f"{PIN_FILE}: pinned 2 migrations at deployed ({deployed[:10]}), 2 in all\n"
    )
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "Pin the deployed chain")
    return work


# --------------------------------------------------------------- the scenarios


@pytest.mark.parametrize("merge", ["merge-commit", "merge-queue"])
def test_update_branch_pinned_at_deployed_runs_the_feature_migration(
    tmp_path: pathlib.Path, merge: str
) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    feature_with_update_branch(work)
    if merge == "merge-commit":
        work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    else:
        merge_queue(work, "feature")
    assert build_chain(versions) == {F: ROOT, A: F, B: A}, "unsafe without pins"

    # Pinned after the fact, at the deployed tag, from main's checkout.
    result = pin_chain(versions, at="deployed")
    deployed = sha(work, "deployed")
    assert result.pin_file == versions.parent / PINS_FILENAME
    assert result.commit == deployed
    expected = (
        Pin(A, ROOT, f"{A}_create_a.py", deployed),
        Pin(B, A, f"{B}_create_b.py", deployed),
    )
    assert (result.added, result.pins) == (expected, expected)
    assert read_pins(versions) == expected

    build_chain.cache_clear()
    assert build_chain(versions) == {A: ROOT, B: A, F: B}
    assert check_append_only(versions, base="deployed").ok
    # get_down_revision, through Alembic: F runs on the deployed database.
    alembic(work.path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b", "f"}
    assert db_version(database) == [F]


def test_pin_file_layout(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    deployed = sha(work, "deployed")
    text = (work.path / PIN_FILE).read_text(encoding="utf-8")
    assert text == (
        "{\n"
        '  "format": "alembic-git-revisions pins",\n'
        '  "version": 1,\n'
        '  "pins": [\n'
        f'    {{"revision": "{A}", "down_revision": "{ROOT}", "file": "{A}_create_a.py", '
        f'"pinned_at": "{deployed}"}}\n'
        f'  , {{"revision": "{B}", "down_revision": "{A}", "file": "{B}_create_b.py", '
        f'"pinned_at": "{deployed}"}}\n'
        "  ]\n"
        "}\n"
    )
    assert json.loads(text)["pins"][1]["down_revision"] == A


def test_every_entry_point_honours_the_pins(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path, database=True)
    database = work.path / "app.db"
    versions = work.path / PROJECT_VERSIONS
    feature_with_update_branch(work)
    work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    pinned = {A: ROOT, B: A, F: B}

    assert build_chain(versions) == pinned
    assert build_chain_at(versions, "HEAD") == pinned
    assert check_append_only(versions, base="deployed").ok
    chain = agr("chain", versions, "--format", "revision-chain")
    assert (chain.status, json.loads(chain.out)) == (0, pinned)
    document = json.loads(agr("chain", versions, "--format", "json").out)
    assert document["directories"][0]["chain"] == pinned
    text = agr("chain", versions)
    assert [line.split()[1:4] for line in text.out.splitlines()] == [
        [ROOT, "<-", "(root)"],
        [A, "<-", ROOT],
        [B, "<-", A],
        [F, "<-", B],
    ]
    graph = agr("graph", versions, "--base", "deployed")
    assert sorted(mermaid_edges(graph.out)) == sorted(
        [(A, "-->", ROOT), (B, "-->", A), (F, "-->", B)]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        generate_chain_file(versions)
    assert json.loads((versions.parent / "revision_chain.json").read_text()) == pinned
    (versions.parent / "revision_chain.json").unlink()

    assert db_version(database) == [B]
    alembic(work.path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b", "f"}
    assert db_version(database) == [F]


def test_the_template_decides_on_the_pinned_chain(tmp_path: pathlib.Path) -> None:
    """The template's prediction runs the core's chain builder with the pins: a new
    migration after the pinned line's end (F) derives its parent, which it could not if
    the prediction ignored the pins (git's order alone ends at B)."""
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    feature_with_update_branch(work)
    work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    assert build_chain(versions) == {A: ROOT, B: A, F: B}
    new = "eeee00000006"
    target = versions / f"{new}_new.py"
    assert template_down_revision(F, revision=new, path=target) == DownRevisionChoice(True)
    target.write_text(table_migration(new, "new"), encoding="utf-8")
    build_chain.cache_clear()
    assert build_chain(versions)[new] == F
    assert alembic(work.path, "heads").split()[0] == new


def test_chain_at_and_check_base_read_the_pins_of_that_commit(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    pinned_commit = sha(work, "HEAD")
    feature_with_update_branch(work)
    work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    unpinned = {F: ROOT, A: F, B: A}

    # Without the pin file in the working tree the order is git's again...
    (work.path / PIN_FILE).unlink()
    assert build_chain(versions) == unpinned
    # ...but at a commit, the pins committed there count.
    for ref in ("HEAD", pinned_commit):
        at = agr("chain", versions, "--at", ref, "--format", "revision-chain")
        assert json.loads(at.out) == ({A: ROOT, B: A, F: B} if ref == "HEAD" else {A: ROOT, B: A})
    # The deployed tag predates the pin file: its own chain, unpinned (the same there).
    assert build_chain_at(versions, "deployed") == {A: ROOT, B: A}
    # check --base: the base is read with its pins, HEAD's working tree without.
    result = check_append_only(versions, base=pinned_commit)
    assert [(f.kind, f.revision, f.new_parents) for f in result.findings] == [
        ("parent-changed", A, (F,))
    ]
    work.git("checkout", "--", PIN_FILE)
    assert check_append_only(versions, base=pinned_commit).ok


# ------------------------------------------------------------------ re-pinning


def test_re_pinning_only_appends(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    before = (work.path / PIN_FILE).read_text(encoding="utf-8")
    work.commit(migration_file(X, "x"), "Add x")
    work.git("tag", "deployed-2")

    result = agr("pin", versions, "--at", "deployed-2")
    assert result.status == 0, result.err
    assert result.out.endswith(
        ": pinned 1 migration at deployed-2 (" + sha(work, "HEAD")[:10] + "), 3 in all\n"
    )
    # The diff of the file only adds a line.
    numstat = work.git("diff", "--numstat", "--", PIN_FILE).split()
    assert numstat[:2] == ["1", "0"], numstat
    after = (work.path / PIN_FILE).read_text(encoding="utf-8")
    assert after.startswith(before.removesuffix("  ]\n}\n"))
    assert read_pins(versions)[-1] == Pin(X, B, f"{X}_create_x.py", sha(work, "deployed-2"))

    again = agr("pin", versions, "--at", "deployed-2")
    assert again.status == 0
    assert ": nothing new to pin at deployed-2 (" in again.out
    assert (work.path / PIN_FILE).read_text(encoding="utf-8") == after


def test_re_pinning_refuses_to_change_a_pin(tmp_path: pathlib.Path) -> None:
    work = committed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    feature_with_update_branch(work)
    work.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    assert agr("pin", versions, "--at", "deployed").status == 0
    before = (work.path / PIN_FILE).read_bytes()

    # HEAD has no pin file committed, and its own history puts F before A.
    refused = agr("pin", versions)
    assert_error(
        refused,
        f"refusing to re-pin {versions.parent / PINS_FILENAME}: it pins {A!r} to {ROOT!r}".replace(
            "'", '"'
        ),
        f'but at HEAD its parent is "{F}"',
        "Pins are append-only",
    )
    with pytest.raises(ChainError, match="refusing to re-pin") as raised:
        pin_chain(versions)
    assert raised.value.pin_file == str(versions.parent / PINS_FILENAME)
    assert raised.value.revision == A
    assert (work.path / PIN_FILE).read_bytes() == before


def test_re_pinning_at_an_older_commit_is_refused(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    refused = agr("pin", versions, "--at", "deployed~1")
    assert_error(refused, f'it pins "{B}" ({B}_create_b.py), which does not exist at deployed~1')


def test_pin_refuses_a_missing_directory(tmp_path: pathlib.Path) -> None:
    work = committed_project(tmp_path / "proj")
    assert_error(agr("pin", work.path / "migrations" / "versionz"), "versionz does not exist")
    with pytest.raises(FileNotFoundError, match="versionz does not exist"):
        pin_chain(work.path / "migrations" / "versionz")
    assert not (work.path / PIN_FILE).exists()


# ------------------------------------------------------- pins contradicted


def test_a_deleted_pinned_migration_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    work.git("rm", "-q", f"{PROJECT_VERSIONS}/{B}_create_b.py")
    work.git("commit", "-q", "-m", "Drop b")
    pin_file = versions.parent / PINS_FILENAME
    message = (
        f'{pin_file} pins migration "{B}" ({B}_create_b.py, pinned at commit '
        f"{sha(work, 'deployed')[:10]}), but no migration declares it any more"
    )
    with pytest.raises(ChainError) as raised:
        build_chain(versions)
    assert message in str(raised.value)
    assert (raised.value.path, raised.value.revision) == (str(versions), B)
    assert raised.value.pin_file == str(pin_file)
    assert_error(agr("chain", versions), message)
    assert_error(agr("check", versions), message)
    with pytest.raises(ChainError, match=r"HEAD:migrations/revision_pins\.json pins migration"):
        build_chain_at(versions, "HEAD")


def test_a_changed_pinned_parent_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    work = pinned_at_deployed(tmp_path)
    versions = work.path / PROJECT_VERSIONS
    # Made static with another parent: refused. Made static with its pinned parent: fine.
    work.write(
        {f"{PROJECT_VERSIONS}/{B}_create_b.py": table_migration(B, "b", ROOT, dynamic=False)}
    )
    message = (
        f'{B}_create_b.py now hardcodes down_revision "{ROOT}", but '
        f'{versions.parent / PINS_FILENAME} pins "{B}" to "{A}"'
    )
    with pytest.raises(ChainError) as raised:
        build_chain(versions)
    assert message in str(raised.value)
    assert raised.value.revision == B
    assert_error(agr("check", versions, "--base", "deployed"), message)

    build_chain.cache_clear()
    work.write({f"{PROJECT_VERSIONS}/{B}_create_b.py": table_migration(B, "b", A, dynamic=False)})
    assert build_chain(versions) == {A: ROOT}
    assert check_append_only(versions, base="deployed").ok


MALFORMED = {
    "empty": ("", "it is empty"),
    "truncated": (
        '{"format": "alembic-git-revisions pins", "version": 1, "pins": [',
        "not valid JSON",
    ),
    "not an object": ("[]", "must hold a JSON object, not an array"),
    "other format": ('{"format": "x", "version": 1, "pins": []}', 'its format is "x"'),
    "newer version": (
        '{"format": "alembic-git-revisions pins", "version": 2, "pins": []}',
        "layout version 2",
    ),
    "missing field": (
        '{"format": "alembic-git-revisions pins", "version": 1, "pins": [{"revision": "a", '
        '"file": "a.py", "pinned_at": "' + "0" * 40 + '"}]}',
        "missing field `down_revision`",
    ),
    "unknown field": (
        '{"format": "alembic-git-revisions pins", "version": 1, "pins": [], "extra": 1}',
        "unknown field `extra`",
    ),
    "short commit": (
        '{"format": "alembic-git-revisions pins", "version": 1, "pins": [{"revision": "a", '
        '"down_revision": null, "file": "a.py", "pinned_at": "abc"}]}',
        "is not a full commit id",
    ),
    "duplicate": (
        '{"format": "alembic-git-revisions pins", "version": 1, "pins": ['
        + ", ".join(
            [
                '{"revision": "a", "down_revision": null, "file": "a.py", "pinned_at": "'
                + "0" * 40
                + '"}'
            ]
            * 2
        )
        + "]}",
        'pins 1 and 2 both pin "a"',
    ),
    "merge conflict": (
        '{\n  "format": "alembic-git-revisions pins",\n  "version": 1,\n  "pins": [\n'
        "<<<<<<< HEAD\n=======\n>>>>>>> release\n  ]\n}\n",
        "unresolved merge conflict markers",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_pin_files_are_errors_naming_the_file(tmp_path: pathlib.Path, case: str) -> None:
    work = committed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    text, detail = MALFORMED[case]
    pin_file = versions.parent / PINS_FILENAME
    pin_file.write_text(text, encoding="utf-8")
    prefix = f"{pin_file} is not a valid pin file: "
    with pytest.raises(ChainFileError) as raised:
        build_chain(versions)
    assert str(raised.value).startswith(prefix) and detail in str(raised.value)
    assert raised.value.path == str(pin_file)
    with pytest.raises(ChainFileError, match="is not a valid pin file"):
        read_pins(versions)
    assert_error(agr("chain", versions), prefix, detail)
    assert_error(agr("pin", versions), prefix, detail)
    # At a commit, the file in that commit's tree is the one judged.
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "A bad pin file")
    assert_error(agr("chain", versions, "--at", "HEAD"), f"HEAD:{PIN_FILE} is not a valid pin")


def test_an_unreadable_pin_file_is_an_os_error(tmp_path: pathlib.Path) -> None:
    work = committed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    (versions.parent / PINS_FILENAME).mkdir()
    with pytest.raises(MigrationFileReadError, match="cannot read pin file") as raised:
        build_chain(versions)
    assert raised.value.path == str(versions.parent / PINS_FILENAME)
    assert raised.value.errno is not None


# ------------------------------------------------------------- hostile files

HEX = "0123456789abcdef"
PIN_KEYS = ("revision", "down_revision", "file", "pinned_at")


def _valid_pin_file(data: object) -> bool:
    """The format's rules, restated independently of the core (the oracle)."""
    if not isinstance(data, dict) or set(data) != {"format", "version", "pins"}:
        return False
    version, pins = data["version"], data["pins"]
    if data["format"] != "alembic-git-revisions pins" or type(version) is not int:
        return False
    if version != 1 or not isinstance(pins, list):
        return False
    seen: dict[str, int] = {}
    for index, pin in enumerate(pins):
        if not isinstance(pin, dict) or set(pin) != set(PIN_KEYS):
            return False
        revision, parent, file, at = (pin[k] for k in PIN_KEYS)
        if not (isinstance(revision, str) and revision and isinstance(file, str) and file):
            return False
        if not (parent is None or (isinstance(parent, str) and parent)):
            return False
        if not (isinstance(at, str) and len(at) == 40 and set(at) <= set(HEX)):
            return False
        if revision in seen:
            return False
        seen[revision] = index
    return all(
        pin["down_revision"] not in seen or seen[pin["down_revision"]] < index
        for index, pin in enumerate(pins)
    )


_text = st.sampled_from(["r", "a", "b", "", "a.py", "0" * 40, "f" * 40, "A" * 40])
_value = st.one_of(st.none(), _text, st.integers(-2, 2), st.booleans(), st.floats(0, 2))
_good_pin = st.fixed_dictionaries(
    {
        "revision": st.sampled_from(["a", "r", "b"]),
        "down_revision": st.sampled_from([None, "r", "a", "b"]),
        "file": st.sampled_from(["a_a.py", "x.py"]),
        "pinned_at": st.sampled_from(["0" * 40, "f" * 40]),
    }
)
_any_pin = st.one_of(
    _good_pin.map(lambda pin: {**pin, "extra": 1}),
    st.dictionaries(st.sampled_from([*PIN_KEYS, "extra"]), _value, min_size=3, max_size=5),
)
_document = st.one_of(
    # Well-formed but for duplicates, pin order and contradictions with the directory.
    st.fixed_dictionaries(
        {
            "format": st.just("alembic-git-revisions pins"),
            "version": st.just(1),
            "pins": st.lists(_good_pin, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            "format": st.sampled_from(["alembic-git-revisions pins", "x"]),
            "version": st.sampled_from([1, 2, 1.0, True, "1"]),
            "pins": st.lists(st.one_of(_good_pin, _any_pin), max_size=3),
        },
        optional={"extra": _value},
    ),
    st.lists(_value, max_size=3),
    _value,
)


@pytest.fixture(scope="module")
def unborn_project(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A versions directory (static root r, dynamic a) in a repository with no commits."""
    root = tmp_path_factory.mktemp("hostile")
    GitWorkdir(root / "repo")
    versions = root / "repo" / "m" / "versions"
    versions.mkdir(parents=True)
    (versions / "r_root.py").write_text("revision = 'r'\ndown_revision = None\n")
    (versions / "a_a.py").write_text(
        "from alembic_git_revisions import get_down_revision\n"
        "revision = 'a'\ndown_revision = get_down_revision(revision)\n"
    )
    return versions


def _judge(versions: pathlib.Path, raw: bytes) -> None:
    pin_file = versions.parent / PINS_FILENAME
    pin_file.write_bytes(raw)
    build_chain.cache_clear()
    try:
        data: object = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        data = None
        valid = False
    else:
        valid = _valid_pin_file(data)
    try:
        chain = build_chain(versions)
    except ChainFileError as error:
        assert not valid, (raw, error)
        assert str(error).startswith(f"{pin_file} is not a valid pin file: "), error
    except ChainError as error:
        # The file is fine but pins something the directory contradicts.
        assert valid, (raw, error)
        assert str(pin_file) in str(error)
        assert error.pin_file == str(pin_file)
    else:
        assert valid, raw
        assert isinstance(data, dict)
        pinned = {p["revision"]: p["down_revision"] for p in data["pins"]}
        assert chain == {"a": pinned.get("a", "r")}


@SETTINGS
@given(document=_document)
def test_structured_pin_files(unborn_project: pathlib.Path, document: object) -> None:
    _judge(unborn_project, json.dumps(document).encode())


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_as_a_pin_file(unborn_project: pathlib.Path, raw: bytes) -> None:
    _judge(unborn_project, raw)


def test_a_valid_hostile_example(unborn_project: pathlib.Path) -> None:
    pins = [
        {"revision": "a", "down_revision": "r", "file": "a_a.py", "pinned_at": "0" * 40},
    ]
    document = {"format": "alembic-git-revisions pins", "version": 1, "pins": pins}
    assert _valid_pin_file(document)
    _judge(unborn_project, json.dumps(document).encode())
