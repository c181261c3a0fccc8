"""The boundary between the package and its native core.

* The core's results are typed objects with the attribute names and types the rest of
  the package codes against (``_native.DirAnalysis``, ``MigrationRecord``,
  ``Unchained``, ``Pin``, ``PinFile``, ``PinPlan``, ``OrderCause``, ``MergeOrder``),
  frozen; ``build_chain_from`` is the product's chain builder on plain data.
* Exceptions carry the facts they are about as attributes (the file, the revision,
  the git directory, the object id) and show their public names.
* ``MigrationFile.from_file`` reads a file with the core's own pipeline, and agrees
  with alembic-git-revisions 13's ``from_file``.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import sys
import traceback
import types

import alembic_git_revisions
import gitrepo
import pytest
from alembic_git_revisions import (
    ChainError,
    ChainFileError,
    GitHistoryError,
    MigrationFile,
    MigrationFileError,
    MigrationFileReadError,
    NotAGitRepositoryError,
    ShallowCloneError,
    _native,
    build_chain,
    chain_state,
    parse_versions_dir,
)
from gitrepo import Dynamic, migration_filename, migration_source

VERSIONS = "app/versions"

EXCEPTIONS = [
    "ChainError",
    "ChainFileError",
    "GitHistoryError",
    "InternalError",
    "MigrationFileError",
    "MigrationFileReadError",
    "NotAGitRepositoryError",
    "RevisionNotFoundError",
    "ShallowCloneError",
]


def committed(tmp_path: pathlib.Path, files: dict[str, bytes | str]) -> gitrepo.Repo:
    repo = gitrepo.Repo(tmp_path / "repo")
    repo.commit({f"{VERSIONS}/{name}": content for name, content in files.items()})
    repo.flush()
    return repo


# --------------------------------------------------------------------------- results


def test_results_are_typed_and_frozen(tmp_path: pathlib.Path) -> None:
    odd = os.fsdecode(b"c3_\xff.py") if sys.platform != "win32" else "c3_odd.py"
    repo = committed(
        tmp_path,
        {
            "a1_m.py": migration_source("a1", None),
            "b2_m.py": migration_source("b2", Dynamic()),
            "m9_m.py": migration_source("m9", ("a1", "x0")),
        },
    )
    repo.write_worktree({f"{VERSIONS}/{odd}": migration_source("c3", Dynamic())})
    versions = repo.path / VERSIONS
    (analysis,) = _native.analyze([versions])
    assert isinstance(analysis, _native.DirAnalysis)
    assert analysis.versions_dir == os.fspath(versions)
    assert analysis.chain == {"b2": "a1", "c3": "b2"}
    assert list(analysis.chain) == ["b2", "c3"]
    assert analysis.unchained is None
    records = {record.revision: record for record in analysis.files}
    assert all(isinstance(r, _native.MigrationRecord) for r in analysis.files)
    assert records["c3"].filename == odd
    assert records["c3"].commit is None
    assert records["c3"].git_sequence == 3
    head = repo.sha()
    assert {records[r].commit for r in ("a1", "b2", "m9")} == {head}
    assert records["m9"].static_down_revisions == ("a1", "x0")
    assert records["b2"].static_down_revisions == ()
    assert records["b2"].is_dynamic and not records["a1"].is_dynamic
    with pytest.raises(AttributeError):
        analysis.chain = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        records["a1"].revision = "x"  # type: ignore[misc]
    # Equal records are equal and hash alike; a record can be rebuilt from its fields.
    again = _native.MigrationRecord(
        revision="a1",
        filename="a1_m.py",
        git_sequence=records["a1"].git_sequence,
        is_dynamic=False,
        static_down_revisions=(),
        commit=head,
    )
    assert again == records["a1"] and hash(again) == hash(records["a1"])
    assert "MigrationRecord(revision='a1'" in repr(records["a1"])
    (without_files,) = _native.analyze([versions], with_files=False)
    assert without_files.files == [] and without_files.chain == analysis.chain


def test_unchained_says_why(tmp_path: pathlib.Path) -> None:
    repo = committed(
        tmp_path,
        {
            "a1_m.py": migration_source("a1", None),
            "b2_m.py": migration_source("b2", None),
            "c3_m.py": migration_source("c3", Dynamic()),
        },
    )
    (analysis,) = _native.analyze([repo.path / VERSIONS])
    assert analysis.unchained == _native.Unchained(
        revision="c3", reason="multiple-static-heads", heads=("a1", "b2")
    )
    assert analysis.unchained.heads == ("a1", "b2")
    with pytest.raises(ValueError, match="reason must be"):
        _native.Unchained(revision="c3", reason="other", heads=())


def test_pin_results_are_typed_and_frozen(tmp_path: pathlib.Path) -> None:
    repo = committed(
        tmp_path,
        {"a1_m.py": migration_source("a1", None), "b2_m.py": migration_source("b2", Dynamic())},
    )
    versions = repo.path / VERSIONS
    assert _native.read_pins(versions) is None
    plan = _native.plan_pins(versions, "HEAD")
    assert isinstance(plan, _native.PinPlan)
    pin = _native.Pin(revision="b2", down_revision="a1", file="b2_m.py", pinned_at=repo.sha())
    assert plan.pins == (pin,) and hash(plan.pins[0]) == hash(pin)
    assert (plan.pin_file, plan.commit, plan.added, plan.exists) == (
        str(versions.parent / "revision_pins.json"),
        repo.sha(),
        1,
        False,
    )
    assert "Pin(revision='b2', down_revision='a1'" in repr(pin)
    with pytest.raises(AttributeError):
        pin.revision = "x"  # type: ignore[misc]
    (versions.parent / "revision_pins.json").write_text(plan.text, encoding="utf-8")
    found = _native.read_pins(versions)
    assert found == _native.PinFile(str(versions.parent / "revision_pins.json"), [pin])
    assert isinstance(found, _native.PinFile) and found.pins == (pin,)

    first = repo.sha()
    repo.commit({f"{VERSIONS}/c3_m.py": migration_source("c3", Dynamic())})
    repo.flush()
    (cause, none) = _native.explain_order(versions, None, [(first, repo.sha()), ("x", "y")])
    assert none is None
    assert cause == _native.explain_order(versions, "HEAD", [(first, repo.sha())])[0]
    assert isinstance(cause, _native.OrderCause)
    assert (cause.kind, cause.merge) == ("ancestor", None)


def test_build_chain_from_is_the_cores_builder(tmp_path: pathlib.Path) -> None:
    repo = committed(
        tmp_path,
        {
            "a1_m.py": migration_source("a1", None),
            "b2_m.py": migration_source("b2", Dynamic()),
            "h5_m.py": migration_source("h5", "b2"),
        },
    )
    repo.commit({f"{VERSIONS}/c3_m.py": migration_source("c3", Dynamic())})
    repo.flush()
    versions = repo.path / VERSIONS
    (analysis,) = _native.analyze([versions])
    built = _native.build_chain_from(versions, list(reversed(analysis.files)))
    assert built == analysis, "the records in any order give the analysis back"

    # Pins fix parents in advance, as a pin file beside the directory does.
    pins = _native.PinFile("p/revision_pins.json", [_native.Pin("c3", "a1", "c3_m.py", "0" * 40)])
    pinned = _native.build_chain_from(versions, analysis.files, pins)
    assert pinned.chain == {"c3": "a1", "b2": "c3"}
    with pytest.raises(ChainError, match="no migration declares it any more") as gone:
        _native.build_chain_from(versions, analysis.files[:1], pins)
    assert (gone.value.path, gone.value.revision) == (str(versions), "c3")
    assert gone.value.pin_file == "p/revision_pins.json"
    twice = [*analysis.files, analysis.files[0]]
    with pytest.raises(ChainError) as duplicate:
        _native.build_chain_from(versions, twice)
    assert duplicate.value.revision == "a1"


def test_one_declaration_pipeline() -> None:
    # The core reads every file; Python keeps only the CPython fallback it calls.
    assert not hasattr(_native, "declare_source")
    assert not hasattr(sys.modules["alembic_git_revisions._chain"], "_revision_from_filename")


# --------------------------------------------------------------------------- from_file

FROM_FILE_CASES = {
    "static-root": (migration_filename("a1b2c3"), migration_source("a1b2c3", None)),
    "static": (migration_filename("b2"), migration_source("b2", "a1")),
    "merge": (migration_filename("m3"), migration_source("m3", ("a1", "b2"))),
    "dynamic": (migration_filename("d4"), migration_source("d4", Dynamic())),
    "alias": (migration_filename("e5"), migration_source("e5", Dynamic("alias"))),
    "annotated": (migration_filename("f6"), migration_source("f6", "e5", annotated=True)),
    "crlf": (migration_filename("a7"), migration_source("a7", Dynamic(), crlf=True)),
    "name-only": (migration_filename("0ab1", "x"), migration_source(None, Dynamic())),
    "dated": (
        migration_filename("c8", date_prefix="2024_01_01_0000"),
        migration_source("c8", "b2"),
    ),
    # Left to CPython by the native parser (tab indentation).
    "delegated": ("d9_tabs.py", b"revision = 'd9'\nif True:\n\tdown_revision = 'c8'\n"),
}


@pytest.mark.parametrize("case", sorted(FROM_FILE_CASES))
def test_from_file_agrees_with_the_reference(
    tmp_path: pathlib.Path, reference: types.ModuleType, case: str
) -> None:
    name, source = FROM_FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(source)
    ours = MigrationFile.from_file(path, 7)
    theirs = reference.MigrationFile.from_file(path, 7)
    assert (
        ours.revision,
        ours.filename,
        ours.git_sequence,
        ours.is_dynamic,
        ours.static_down_revisions,
    ) == (
        theirs.revision,
        theirs.filename,
        theirs.git_sequence,
        theirs.is_dynamic,
        tuple(theirs.static_down_revisions),
    )


def test_from_file_errors_name_the_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "a1_missing.py"
    with pytest.raises(MigrationFileReadError) as read:
        MigrationFile.from_file(missing, 0)
    assert read.value.path == str(missing)
    assert read.value.errno == 2
    folder = tmp_path / "b2_folder.py"
    folder.mkdir()
    with pytest.raises(MigrationFileReadError, match="is a directory") as directory:
        MigrationFile.from_file(folder, 0)
    assert directory.value.path == str(folder)
    cases = {
        "c3_bad.py": (b"revision = '\xff'\n", "UTF-8"),
        "d4_bad.py": (b"revision = \n", "Cannot parse migration file"),
        "nohex.py": (b"down_revision = None\n", "Cannot extract revision from filename"),
    }
    for name, (content, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(MigrationFileError, match=words) as bad:
            MigrationFile.from_file(path, 0)
        assert bad.value.path == str(path)
        assert str(path) in str(bad.value)


# --------------------------------------------------------------------------- exceptions


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_exceptions_show_their_public_names(name: str) -> None:
    cls = getattr(alembic_git_revisions, name)
    assert cls is getattr(_native, name)
    assert cls.__module__ == "alembic_git_revisions"
    assert repr(cls) == f"<class 'alembic_git_revisions.{name}'>"
    shown = traceback.format_exception_only(cls("boom"))
    assert shown == [f"alembic_git_revisions.{name}: boom\n"]


def test_not_a_repository_names_the_directory(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "app"
    outside.mkdir()
    with pytest.raises(NotAGitRepositoryError) as info:
        parse_versions_dir(outside / "versions")
    assert info.value.path == str(outside.resolve())
    assert info.value.git_dir is None
    # build_chain adds the chain-file advice and keeps the attributes.
    with pytest.raises(NotAGitRepositoryError) as amended:
        build_chain(outside / "versions")
    assert "revision_chain.json does not exist" in str(amended.value)
    assert amended.value.path == str(outside.resolve())
    # Pickling keeps them too (as multiprocessing does).
    copy = pickle.loads(pickle.dumps(amended.value))
    assert type(copy) is NotAGitRepositoryError and copy.path == amended.value.path


def test_amended_messages_keep_the_attributes(tmp_path: pathlib.Path) -> None:
    """_state and _chain add advice to core exceptions without losing their facts."""
    outside = tmp_path / "app"
    (outside / "versions").mkdir(parents=True)
    with pytest.raises(NotAGitRepositoryError) as state:
        chain_state(outside / "versions")
    assert "revision_chain.json does not exist to read the chain from" in str(state.value)
    assert state.value.path == str(outside.resolve())
    chain_file = outside / "revision_chain.json"
    chain_file.write_text("[]", encoding="utf-8")
    with pytest.raises(ChainFileError) as malformed:
        build_chain(outside / "versions")
    assert malformed.value.path == str(chain_file)
    chain_file.unlink()
    chain_file.mkdir()
    with pytest.raises(MigrationFileReadError) as unreadable:
        build_chain(outside / "versions")
    assert (unreadable.value.path, unreadable.value.errno) == (str(chain_file), 21)
    amended = _native.amended(unreadable.value, "other words")
    assert (str(amended), amended.path, amended.errno) == ("other words", str(chain_file), 21)


def test_shallow_clone_names_its_git_dir(tmp_path: pathlib.Path) -> None:
    repo = committed(tmp_path, {"a1_m.py": migration_source("a1", None)})
    repo.commit({f"{VERSIONS}/b2_m.py": migration_source("b2", Dynamic())})
    repo.flush()
    clone = tmp_path / "clone"
    gitrepo.run_git(tmp_path, "clone", "-q", "--depth=1", f"file://{repo.path}", str(clone))
    with pytest.raises(ShallowCloneError) as info:
        build_chain(clone / VERSIONS)
    assert info.value.git_dir is not None
    assert pathlib.Path(info.value.git_dir).resolve() == (clone / ".git").resolve()


def test_missing_object_names_it(tmp_path: pathlib.Path) -> None:
    repo = committed(tmp_path, {"a1_m.py": migration_source("a1", None)})
    repo.commit({f"{VERSIONS}/b2_m.py": migration_source("b2", Dynamic())})
    repo.flush()
    # Every object loose, then the first commit's root tree gone.
    pack_dir = repo.git_dir / "objects" / "pack"
    for pack in list(pack_dir.glob("*.pack")):
        data = pack.read_bytes()
        for part in pack_dir.glob(f"{pack.stem}.*"):
            part.unlink()
        gitrepo.run_git(repo.path, "unpack-objects", "-q", input=data)
    tree = repo.git("rev-parse", "HEAD~1^{tree}").strip()
    (repo.git_dir / "objects" / tree[:2] / tree[2:]).unlink()
    with pytest.raises(GitHistoryError) as info:
        parse_versions_dir(repo.path / VERSIONS)
    error = info.value
    assert error.oid == tree
    assert error.oid in str(error)
    assert error.git_dir is not None
    assert pathlib.Path(error.git_dir).resolve() == repo.git_dir.resolve()
    assert error.rev is None


def test_bad_revision_names_it(tmp_path: pathlib.Path) -> None:
    repo = committed(tmp_path, {"a1_m.py": migration_source("a1", None)})
    with pytest.raises(GitHistoryError) as info:
        chain_state(repo.path / VERSIONS, "no-such-ref")
    assert info.value.rev == "no-such-ref"
    assert info.value.oid is None


def test_chain_errors_name_the_files_and_revisions(tmp_path: pathlib.Path) -> None:
    repo = committed(
        tmp_path,
        {
            "a1_first.py": migration_source("a1", None),
            "a1_second.py": migration_source("a1", Dynamic()),
        },
    )
    versions = repo.path / VERSIONS
    with pytest.raises(ChainError) as duplicate:
        parse_versions_dir(versions)
    assert duplicate.value.path == str(versions)
    assert duplicate.value.revision == "a1"
    assert duplicate.value.files == ("a1_first.py", "a1_second.py")
    assert duplicate.value.cycle == ()
    cyclic = committed(
        tmp_path / "cyclic",
        {"a1_m.py": migration_source("a1", "b2"), "b2_m.py": migration_source("b2", "a1")},
    )
    with pytest.raises(ChainError) as cycle:
        parse_versions_dir(cyclic.path / VERSIONS)
    assert cycle.value.cycle == ("a1", "b2", "a1")
    assert cycle.value.revision is None


def test_bad_migration_file_is_named(tmp_path: pathlib.Path) -> None:
    repo = committed(tmp_path, {"a1_m.py": b"revision = \n"})
    path = repo.path / VERSIONS / "a1_m.py"
    with pytest.raises(MigrationFileError) as info:
        parse_versions_dir(repo.path / VERSIONS)
    assert info.value.path == str(path)
