"""Safety and workflow: chains at any revision, append-only checks, graphs, templates.

A derived chain depends on the shape of history, so a later merge can slot a new
migration *before* migrations that are already deployed. :func:`check_append_only`
catches that before it ships; :func:`build_chain_at` computes the chain of any
commit from git objects, without a checkout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re

from alembic_git_revisions import _chain, _core

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class Migration:
    """One migration as derived at some revision, with where it was first added."""

    revision: str
    filename: str
    git_sequence: int
    is_dynamic: bool
    static_down_revisions: tuple[str, ...]
    #: The derived (dynamic) or hardcoded (static) parents.
    parents: tuple[str, ...]
    #: Full id of the commit that first added the file, or None if never committed.
    commit: str | None


@dataclasses.dataclass(frozen=True)
class ChainState:
    """Everything derived for one versions directory at one revision."""

    versions_dir: pathlib.Path
    ref: str | None
    #: Migrations in add order.
    migrations: list[Migration]
    #: ``build_chain``'s mapping.
    chain: dict[str, str | None]

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {m.revision: m.parents for m in self.migrations}

    def by_revision(self) -> dict[str, Migration]:
        return {m.revision: m for m in self.migrations}


def _state(versions_dir: pathlib.Path, ref: str | None, row: tuple) -> ChainState:
    files, links, _unchained = row
    chain = dict(links)
    migrations = []
    for revision, filename, sequence, dynamic, statics, commit in files:
        if dynamic:
            parent = chain.get(revision)
            parents: tuple[str, ...] = (parent,) if parent else ()
        else:
            parents = tuple(statics)
        migrations.append(
            Migration(
                revision=revision,
                filename=os.fspath(filename),
                git_sequence=sequence,
                is_dynamic=dynamic,
                static_down_revisions=tuple(statics),
                parents=parents,
                commit=commit,
            )
        )
    return ChainState(versions_dir, ref, migrations, chain)


def chain_state(versions_dir: StrPath, ref: str | None = None) -> ChainState:
    """The derived state of *versions_dir* in the working tree, or at commit *ref*.

    With *ref*, files are read from the tree at that commit and history is cut at it;
    nothing is checked out. ``revision_chain.json`` is never consulted.
    """
    path = pathlib.Path(versions_dir)
    if ref is None:
        (row,) = _core.analyze([os.fspath(path)], _chain._python_fallback)
    else:
        row = _core.analyze_at(os.fspath(path), ref, _chain._python_fallback)
    return _state(path, ref, row)


def build_chain_at(versions_dir: StrPath, ref: str) -> dict[str, str | None]:
    """``build_chain`` as it would be at commit *ref*, computed from git objects."""
    return chain_state(versions_dir, ref).chain


def describe(versions_dir: StrPath, commits: list[str]) -> dict[str, tuple[str, str, str]]:
    """``{commit: (short id, author date, author)}`` for display."""
    unique = sorted(set(commits))
    described = _core.describe_commits(os.fspath(versions_dir), unique)
    return dict(zip(unique, described, strict=True))


# --------------------------------------------------------------------------- checks


@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason a chain is unsafe to deploy."""

    #: ``parent-changed``, ``removed``, ``stale-chain-file``, ``dangling-parent`` or
    #: ``multiple-heads``.
    kind: str
    message: str
    revision: str | None = None
    old_parents: tuple[str, ...] = ()
    new_parents: tuple[str, ...] = ()
    #: The new migration slotted in before ``revision``, if that is what happened.
    inserted: str | None = None
    #: The commit that first added ``inserted``.
    commit: str | None = None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check_append_only`."""

    findings: list[Finding]
    summary: str

    @property
    def ok(self) -> bool:
        return not self.findings


def _fmt(parents: tuple[str, ...]) -> str:
    return ", ".join(parents) if parents else "(root)"


def _load_previous(chain_file: pathlib.Path) -> dict[str, tuple[str, ...]]:
    data = _chain._load_chain_file(chain_file)
    return {rev: (parent,) if parent else () for rev, parent in data.items()}


def check_append_only(
    versions_dir: StrPath,
    *,
    base: str | None = None,
    previous_chain: StrPath | None = None,
) -> CheckResult:
    """Check that the chain at HEAD only appends to the chain at *base* (a commit) or
    in *previous_chain* (a generated ``revision_chain.json``).

    Append-only: every revision that existed there keeps its parents, and new
    revisions only come after them. Also flags a stale ``revision_chain.json``
    beside the directory, hardcoded parents that exist nowhere, and several heads.
    Raises (``ShallowCloneError``, ``ChainError``...) where no chain can be derived.
    """
    path = pathlib.Path(versions_dir)
    head = chain_state(path)
    head_parents = head.parents()
    by_rev = head.by_revision()
    findings: list[Finding] = []

    if previous_chain is not None:
        old = _load_previous(pathlib.Path(previous_chain))
        against = f"{previous_chain}"
    elif base is not None:
        old = chain_state(path, base).parents()
        against = f"{base}"
    else:
        old = {}
        against = ""

    commits = [m.commit for m in head.migrations if m.commit]
    info = describe(path, commits) if commits else {}

    for revision, old_parents in old.items():
        if revision not in head_parents:
            findings.append(
                Finding(
                    kind="removed",
                    revision=revision,
                    old_parents=old_parents,
                    message=f"{revision} existed at {against} but is gone from {path}: a "
                    "deployed migration must never be removed or renamed.",
                )
            )
            continue
        new_parents = head_parents[revision]
        if new_parents == old_parents:
            continue
        inserted = next((p for p in new_parents if p not in old), None)
        commit = by_rev[inserted].commit if inserted in by_rev else None
        where = ""
        if commit:
            short, date, author = info.get(commit, (commit[:10], "", ""))
            where = f" {inserted} was first added in commit {short} ({date}, {author})."
        advice = (
            f" Fix: make {inserted} static with down_revision pointing at the current head, "
            "or merge the branch the other way round (target branch as first parent) so "
            "that it lands after the deployed migrations."
            if inserted
            else " Fix: restore the previous order before deploying."
        )
        findings.append(
            Finding(
                kind="parent-changed",
                revision=revision,
                old_parents=old_parents,
                new_parents=new_parents,
                inserted=inserted,
                commit=commit,
                message=(
                    f"{revision} ({by_rev[revision].filename}): parent changed "
                    f"{_fmt(old_parents)} -> {_fmt(new_parents)}"
                    + (f"; new migration {inserted} was inserted before it." if inserted else ".")
                    + where
                    + advice
                ),
            )
        )

    chain_file = path.parent / _chain.CHAIN_FILENAME
    if chain_file.exists():
        shipped = _chain._load_chain_file(chain_file)
        if shipped != head.chain:
            changed = sorted(
                set(shipped) ^ set(head.chain)
                | {r for r in set(shipped) & set(head.chain) if shipped[r] != head.chain[r]}
            )
            findings.append(
                Finding(
                    kind="stale-chain-file",
                    message=f"{chain_file} disagrees with git history on {len(changed)} "
                    f"revision(s) (first: {changed[0]}); regenerate it with: "
                    f"alembic-git-revisions {path}",
                )
            )

    known = set(head_parents)
    for migration in head.migrations:
        for parent in migration.static_down_revisions:
            if parent not in known:
                findings.append(
                    Finding(
                        kind="dangling-parent",
                        revision=migration.revision,
                        message=f"{migration.filename}: down_revision {parent!r} is not a "
                        f"revision in {path}.",
                    )
                )
    used = {p for parents in head_parents.values() for p in parents}
    heads = sorted(r for r in head_parents if r not in used)
    if len(heads) > 1:
        findings.append(
            Finding(
                kind="multiple-heads",
                message=f"{path} has {len(heads)} heads ({', '.join(heads[:5])}"
                f"{', ...' if len(heads) > 5 else ''}); Alembic will refuse to upgrade.",
            )
        )

    if findings:
        summary = f"{path}: {len(findings)} problem(s) found"
    else:
        tail = f", append-only over {against}" if against else ""
        summary = f"{path}: OK, {len(head.migrations)} migrations, 1 head{tail}"
    return CheckResult(findings, summary)


# --------------------------------------------------------------------------- output


def format_chain_text(state: ChainState) -> str:
    """Migrations in chain order with their first-add commits."""
    commits = [m.commit for m in state.migrations if m.commit]
    info = describe(state.versions_dir, commits) if commits else {}
    lines = []
    for index, migration in enumerate(chain_order(state), 1):
        short, date, author = info.get(migration.commit or "", ("uncommitted", "", ""))
        kind = "dynamic" if migration.is_dynamic else "static"
        lines.append(
            f"{index:4d}. {migration.revision} <- {_fmt(migration.parents)}  [{kind}]  "
            f"{short} {date} {author}  {migration.filename}".rstrip()
        )
    return "\n".join(lines)


def chain_order(state: ChainState) -> list[Migration]:
    """Migrations parents-first (a topological order of the derived parents)."""
    by_rev = state.by_revision()
    children: dict[str, list[str]] = {}
    for m in state.migrations:
        for p in m.parents:
            children.setdefault(p, []).append(m.revision)
    pending = {m.revision: sum(1 for p in m.parents if p in by_rev) for m in state.migrations}
    ready = [m.revision for m in state.migrations if pending[m.revision] == 0]
    ordered: list[Migration] = []
    while ready:
        revision = ready.pop(0)
        ordered.append(by_rev[revision])
        for child in children.get(revision, []):
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    seen = {m.revision for m in ordered}
    ordered.extend(m for m in state.migrations if m.revision not in seen)
    return ordered


def _node_id(revision: str) -> str:
    return "r_" + re.sub(r"[^A-Za-z0-9_]", "_", revision)


def format_graph(state: ChainState, fmt: str = "mermaid", base: ChainState | None = None) -> str:
    """Draw the derived chain (Mermaid or Graphviz dot).

    Derived (dynamic) parents are solid arrows, hardcoded ones bold/thick. With
    *base*, a parent that differs there is drawn as a dashed arrow labelled "base".
    """
    base_parents = base.parents() if base else {}
    edges: list[tuple[str, str, str]] = []
    for m in chain_order(state):
        style = "derived" if m.is_dynamic else "hardcoded"
        for parent in m.parents:
            edges.append((m.revision, parent, style))
        old = base_parents.get(m.revision)
        if old is not None and old != m.parents:
            for parent in old:
                edges.append((m.revision, parent, "base"))
    if fmt == "dot":
        out = ["digraph migrations {", "  rankdir=BT;"]
        for m in state.migrations:
            out.append(f'  {_node_id(m.revision)} [label="{m.revision}\\n{m.filename}"];')
        attrs = {
            "derived": "",
            "hardcoded": " [penwidth=2]",
            "base": ' [style=dashed,label="base"]',
        }
        for child, parent, style in edges:
            out.append(f"  {_node_id(child)} -> {_node_id(parent)}{attrs[style]};")
        out.append("}")
        return "\n".join(out)
    out = ["flowchart BT"]
    for m in state.migrations:
        out.append(f'    {_node_id(m.revision)}["{m.revision}<br/>{m.filename}"]')
    arrows = {"derived": "-->", "hardcoded": "==>", "base": "-.->|base|"}
    for child, parent, style in edges:
        out.append(f"    {_node_id(child)} {arrows[style]} {_node_id(parent)}")
    return "\n".join(out)


def chain_json(state: ChainState) -> str:
    return json.dumps(state.chain, indent=2, sort_keys=True)


# --------------------------------------------------------------------------- templates

_IMPORT = "from alembic_git_revisions import get_down_revision"
_DOWN_LINE = re.compile(r"^down_revision(\s*:\s*[^=]+?)?\s*=.*$", re.MULTILINE)


def _rewrite_down_revision(text: str, replacement: str) -> tuple[str, list[str]]:
    changes = []
    match = _DOWN_LINE.search(text)
    if match and "get_down_revision(" not in match.group(0):
        annotation = match.group(1) or ""
        text = text[: match.start()] + f"down_revision{annotation} = {replacement}" + text[
            match.end() :
        ]
        changes.append(f"down_revision now reads: down_revision{annotation} = {replacement}")
    if _IMPORT not in text:
        anchor = re.search(r"^from alembic import op\s*$", text, re.MULTILINE)
        if anchor:
            text = text[: anchor.end()] + "\n" + _IMPORT + text[anchor.end() :]
        else:
            doc = re.match(r'\s*(""".*?"""|\'\'\'.*?\'\'\')\s*\n', text, re.DOTALL)
            at = doc.end() if doc else 0
            text = text[:at] + _IMPORT + "\n" + text[at:]
        changes.append(f"added: {_IMPORT}")
    return text, changes


def install_template(alembic_dir: StrPath) -> list[str]:
    """Make an Alembic project's ``script.py.mako`` generate self-chaining migrations.

    A missing template gets ours; a customised one only has its ``down_revision``
    line and import changed. Returns what was changed.
    """
    target = pathlib.Path(alembic_dir) / "script.py.mako"
    ours = pathlib.Path(__file__).parent / "templates" / "script.py.mako"
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a directory (expected an Alembic dir)")
    if not target.exists():
        target.write_text(ours.read_text(encoding="utf-8"), encoding="utf-8")
        return [f"wrote {target}"]
    text = target.read_text(encoding="utf-8")
    new, changes = _rewrite_down_revision(text, "get_down_revision(revision)")
    if changes:
        target.write_text(new, encoding="utf-8")
    return [f"{target}: {c}" for c in changes]


def rewrite_migration(path: StrPath) -> list[str]:
    """Rewrite a freshly generated migration to use ``get_down_revision``.

    Meant as an Alembic ``post_write_hooks`` step (see the README).
    """
    target = pathlib.Path(path)
    text = target.read_text(encoding="utf-8")
    new, changes = _rewrite_down_revision(text, "get_down_revision(revision)")
    if changes:
        target.write_text(new, encoding="utf-8")
    return [f"{target}: {c}" for c in changes]
