"""Append-only checks: catch a history that reorders deployed migrations.

A derived chain depends on the shape of history, so a later merge can slot a new
migration *before* migrations that are already deployed. :func:`check_append_only`
catches that before it ships.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from alembic_git_revisions import _chain
from alembic_git_revisions._state import chain_state, describe, fmt_parents

StrPath = str | os.PathLike[str]


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
                    f"{fmt_parents(old_parents)} -> {fmt_parents(new_parents)}"
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
