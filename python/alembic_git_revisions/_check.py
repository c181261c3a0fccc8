"""Append-only checks: catch a history that reorders deployed migrations.

A derived chain depends on the shape of history, so a later merge can slot a new
migration *before* migrations that are already deployed. :func:`check_append_only`
catches that before it ships, and says how it happened in the history at hand (which
merge put the new migration first, through which workflow) and which fixes work for
that history. It also flags migrations whose order only file names decide (several
first added in one commit) and renames that moved a migration. :func:`check_graph`
checks that the version locations of one Alembic configuration form one revision
graph with one head per branch label.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Sequence

from alembic_git_revisions import _chain, _native, _pyparse
from alembic_git_revisions._render import chain_order
from alembic_git_revisions._state import (
    ChainState,
    Migration,
    chain_state,
    describe,
    fmt_parents,
    plural,
)

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason a chain is unsafe to deploy.

    Every field is a string, a tuple of strings or None, so a finding renders as JSON
    field by field.
    """

    #: ``parent-changed``, ``renamed``, ``removed``, ``same-commit``,
    #: ``stale-chain-file``, ``dangling-parent``, ``multiple-heads``, and from
    #: :func:`check_graph`: ``graph-heads``, ``duplicate-revision``.
    kind: str
    message: str
    revision: str | None = None
    old_parents: tuple[str, ...] = ()
    new_parents: tuple[str, ...] = ()
    #: The new migration slotted in before ``revision``, if that is what happened.
    inserted: str | None = None
    #: The commit that first added ``inserted`` (``same-commit``: the shared commit;
    #: ``renamed``: the commit that added the new name).
    commit: str | None = None
    #: Every revision concerned: the migrations sharing one commit (in chain order),
    #: or the heads of one branch label.
    revisions: tuple[str, ...] = ()
    #: The migration's file name (``renamed``: the new one).
    filename: str | None = None
    #: ``renamed``: the file name at the base.
    old_filename: str | None = None
    #: How it happened: ``merge-on-target-line`` (a merge on HEAD's first-parent line,
    #: such as a fast-forward onto a feature branch that merged the target branch in),
    #: ``merged-into-feature`` (the target branch was merged into a feature branch,
    #: which a later merge brought in), ``rename``, ``ancestor``, or None if unknown.
    cause: str | None = None
    #: The merge whose parent order put ``inserted`` first.
    merge: str | None = None
    #: The commit of HEAD's first-parent line that brought ``merge`` in (``merge``
    #: itself when it is on that line).
    merged_by: str | None = None
    #: Fixes that work for this history, one sentence each (also in ``message``).
    fixes: tuple[str, ...] = ()
    #: ``graph-heads``: the branch label, or None for heads without one.
    branch_label: str | None = None
    #: ``graph-heads``, ``duplicate-revision``: the versions directories involved.
    versions_dirs: tuple[str, ...] = ()


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


def _with_fixes(text: str, fixes: Sequence[str]) -> str:
    if not fixes:
        return text
    if len(fixes) == 1:
        return f"{text} Fix: {fixes[0]}."
    numbered = "; ".join(f"({i}) {fix}" for i, fix in enumerate(fixes, 1))
    return f"{text} Fixes that work here: {numbered}."


class _Context:
    """What every finding's message draws on: HEAD's state, the base, commit details."""

    def __init__(
        self,
        path: pathlib.Path,
        head: ChainState,
        old: dict[str, tuple[str, ...]],
        against: str,
        base: str | None,
    ) -> None:
        self.path = path
        self.head = head
        self.old = old
        self.against = against
        self.base = base
        self.by_rev = head.by_revision()
        self.order = [m.revision for m in chain_order(head)]
        self.position = {revision: index for index, revision in enumerate(self.order)}
        self._info: dict[str, tuple[str, str, str]] = {}

    def describe(self, commits: Sequence[str | None]) -> None:
        wanted = [c for c in commits if c and c not in self._info]
        if wanted:
            self._info.update(describe(self.path, wanted))

    def commit_text(self, commit: str) -> str:
        self.describe([commit])
        short, date, author = self._info.get(commit, (commit[:10], "", ""))
        details = ", ".join(x for x in (date, author) if x)
        return f"{short} ({details})" if details else short

    def merge_text(self, commit: str, subject: str) -> str:
        self.describe([commit])
        short, date, _ = self._info.get(commit, (commit[:10], "", ""))
        details = ", ".join(x for x in (f'"{subject}"' if subject else "", date) if x)
        return f"{short} ({details})" if details else short

    def pin_fix(self) -> str:
        at = self.base if self.base is not None else "<the deployed commit>"
        recursive = " --recursive" if self.head.scope == "recursive" else ""
        return (
            f"pin the deployed chain: `alembic-git-revisions pin{recursive} {self.path} --at "
            f"{at}`, and "
            "commit revision_pins.json: deployed migrations then keep their parents whatever "
            "the history, and newer ones are chained after them (pin at every deploy to "
            "prevent this for good)"
        )

    def hardcode_fix(self) -> str | None:
        """Hardcode the one new migration that git put before deployed ones to follow
        the last deployed migration; None where that would not work."""
        deployed = [r for r in self.order if r in self.old]
        if not deployed:
            return None
        last = deployed[-1]
        early = [
            r
            for r in self.order[: self.position[last]]
            if r not in self.old and self.by_rev[r].is_dynamic
        ]
        # Hardcoding works through the hybrid rule (a static migration whose parent is
        # dynamic goes right after it). A static parent instead makes the migration a
        # second static head, and two hybrids on one parent make two heads: with
        # several new migrations, or a static last one, only pins keep the chain.
        if len(early) != 1 or not self.by_rev[last].is_dynamic:
            return None
        return (
            f"hardcode down_revision = {last!r} in {early[0]} (instead of "
            f"get_down_revision): it then follows {last}, the last deployed migration"
        )


def check_append_only(
    versions_dir: StrPath,
    *,
    base: str | None = None,
    previous_chain: StrPath | None = None,
    locations: Sequence[ChainState] | None = None,
    scope: _native.Scope = "flat",
) -> CheckResult:
    """Check that the chain at HEAD only appends to the chain at *base* (a commit) or
    in *previous_chain* (a generated ``revision_chain.json``).

    Append-only: every revision that existed there keeps its parents, and new
    revisions only come after them. A revision that got another parent is explained
    (the merge that put a new migration first, or a rename) with fixes that work for
    that history. Also flags dynamic migrations first added in one commit (ordered by
    file name only; with a base, only groups holding a new migration; pinned ones are
    fixed), a stale ``revision_chain.json`` beside the directory, hardcoded parents
    that exist nowhere, and several heads. ``revision_pins.json`` is honoured on both
    sides. Raises (``ShallowCloneError``, ``ChainError``...) where no chain can be
    derived.

    *locations*: when the directory is one version location of an Alembic
    configuration, the :func:`chain_state` of the others (an empty sequence when it is
    the only one). A hardcoded parent that lives in one of them is then not dangling,
    and the heads are left to :func:`check_graph`, which judges them over all
    locations and branch labels. *scope*: ``"recursive"`` for a recursive version
    location (one chain over it and every directory below it).
    """
    return check_state(
        chain_state(versions_dir, scope=scope),
        base=base,
        previous_chain=previous_chain,
        locations=locations,
    )


def check_state(
    head: ChainState,
    *,
    base: str | None = None,
    previous_chain: StrPath | None = None,
    locations: Sequence[ChainState] | None = None,
) -> CheckResult:
    """:func:`check_append_only` for a working-tree state already computed (*head*,
    from :func:`chain_state` without a ref)."""
    path = head.versions_dir
    head_parents = head.parents()
    findings: list[Finding] = []

    old_state: ChainState | None = None
    if previous_chain is not None:
        old = _load_previous(pathlib.Path(previous_chain))
        against = f"{previous_chain}"
    elif base is not None:
        old_state = chain_state(path, base, scope=head.scope)
        old = old_state.parents()
        against = f"{base}"
    else:
        old = {}
        against = ""
    context = _Context(path, head, old, against, base)

    findings += _reorder_findings(context, old_state)
    findings += _same_commit_findings(context, since_base=previous_chain is not None or bool(base))

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
                    message=f"{chain_file} disagrees with git history on "
                    f"{plural(len(changed), 'revision')} (first: {changed[0]}); regenerate "
                    f"it with: {_chain.regenerate_command(path, head.scope)}",
                )
            )

    known = set(head_parents)
    for location in locations or ():
        known.update(m.revision for m in location.migrations)
    for migration in head.migrations:
        for parent in migration.static_down_revisions:
            if parent not in known:
                findings.append(
                    Finding(
                        kind="dangling-parent",
                        revision=migration.revision,
                        filename=migration.filename,
                        message=f"{migration.filename}: down_revision {parent!r} is not a "
                        f"revision in {path}"
                        + (" nor in the other version locations." if locations else "."),
                    )
                )
    used = {p for parents in head_parents.values() for p in parents}
    heads = sorted(r for r in head_parents if r not in used)
    if locations is None and len(heads) > 1:
        findings.append(
            Finding(
                kind="multiple-heads",
                revisions=tuple(heads),
                message=f"{path} has {len(heads)} heads ({', '.join(heads[:5])}"
                f"{', ...' if len(heads) > 5 else ''}); Alembic will refuse to upgrade.",
            )
        )

    if findings:
        summary = f"{path}: {plural(len(findings), 'problem')} found"
    else:
        tail = f", append-only over {against}" if against else ""
        shape = "" if locations is not None else ", 1 head"
        summary = f"{path}: OK, {plural(len(head.migrations), 'migration')}{shape}{tail}"
    return CheckResult(findings, summary)


# ------------------------------------------------------------------ reordering


def _reorder_findings(context: _Context, old_state: ChainState | None) -> list[Finding]:
    head_parents = context.head.parents()
    by_rev = context.by_rev
    renamed: dict[str, str] = {}
    if old_state is not None:
        old_files = {m.revision: m.filename for m in old_state.migrations}
        renamed = {
            m.revision: old_files[m.revision]
            for m in context.head.migrations
            if m.revision in old_files and old_files[m.revision] != m.filename
        }

    changed: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    findings: list[Finding] = []
    for revision, old_parents in context.old.items():
        if revision not in head_parents:
            findings.append(
                Finding(
                    kind="removed",
                    revision=revision,
                    old_parents=old_parents,
                    message=f"{revision} existed at {context.against} but is gone from "
                    f"{context.path}: a deployed migration must never be removed or renamed.",
                )
            )
        elif head_parents[revision] != old_parents:
            changed.append((revision, old_parents, head_parents[revision]))

    # Which merge put each inserted migration first: one history query for all.
    pairs: list[tuple[str, str]] = []
    for revision, _, new_parents in changed:
        inserted = _inserted(context, new_parents)
        first = by_rev[inserted].commit if inserted else None
        second = by_rev[revision].commit
        if revision not in renamed and first and second and first != second:
            pairs.append((first, second))
    # Loading the commit graph costs a walk of every commit: only when needed.
    explained = _native.explain_order(context.path, None, pairs) if pairs else []
    causes = dict(zip(pairs, explained, strict=True))

    for revision, old_parents, new_parents in changed:
        migration = by_rev[revision]
        if revision in renamed and migration.is_dynamic:
            findings.append(_renamed(context, migration, renamed[revision], old_parents))
            continue
        inserted = _inserted(context, new_parents)
        commit = by_rev[inserted].commit if inserted else None
        cause = causes.get((commit, migration.commit)) if commit and migration.commit else None
        findings.append(
            _parent_changed(context, migration, old_parents, inserted, commit, cause, renamed)
        )
    return findings


def _inserted(context: _Context, new_parents: tuple[str, ...]) -> str | None:
    return next((p for p in new_parents if p not in context.old), None)


def _parent_changed(
    context: _Context,
    migration: Migration,
    old_parents: tuple[str, ...],
    inserted: str | None,
    commit: str | None,
    cause: _native.OrderCause | None,
    renamed: dict[str, str],
) -> Finding:
    revision = migration.revision
    text = (
        f"{revision} ({migration.filename}): parent changed {fmt_parents(old_parents)} -> "
        f"{fmt_parents(migration.parents)}"
        + (f"; new migration {inserted} was inserted before it." if inserted else ".")
    )
    if commit:
        text += f" {inserted} was first added in commit {context.commit_text(commit)}."
    fixes: list[str] = []
    kind_of_cause: str | None = None
    merge: str | None = None
    merged_by: str | None = None
    moved = [p for p in old_parents if p in renamed]
    if inserted is None and moved:
        kind_of_cause = "rename"
        text += (
            f" How: its old parent {moved[0]} moved away, because {moved[0]}'s file was renamed "
            f"{renamed[moved[0]]} -> {context.by_rev[moved[0]].filename} (see the renamed "
            "finding)."
        )
        fixes.append(
            f"rename it back: `git mv {context.by_rev[moved[0]].filename} {renamed[moved[0]]}`"
        )
        fixes.append(context.pin_fix())
    elif inserted is not None and cause is not None and cause.merge is not None:
        order = cause.merge
        merge, merged_by = order.merge, order.landing
        on_line = order.landing == order.merge
        kind_of_cause = "merge-on-target-line" if on_line else "merged-into-feature"
        text += (
            f" How: {inserted} and the deployed {revision} were added on two lines of history, "
            f"joined by merge {context.merge_text(order.merge, order.merge_subject)} with "
            f"{inserted}'s side as parent {order.first_side + 1} and {revision}'s as parent "
            f"{order.second_side + 1}; git's topological order, which the chain follows, lists "
            "the side of a merge's earlier parent first."
        )
        if on_line:
            text += (
                " That merge is on HEAD's first-parent line: the branch was fast-forwarded "
                "onto a merge made on the feature branch (the target branch merged into it), "
                "or a `git pull` merged the target branch into local commits."
            )
            fixes.append(
                "if it is not deployed from here yet, replace that merge: rebase the feature "
                "branch onto the target branch (`git rebase`, `git pull --rebase`) and "
                "fast-forward, or merge it into the target branch with a merge commit (`git "
                "merge --no-ff` on the target branch, which puts the target first) without "
                "merging the target branch into it first; squash and rebase merges work too"
            )
        else:
            text += (
                " That merge is not on HEAD's first-parent line: it merged the target branch "
                'into the feature branch (GitHub\'s "Update branch", or `git merge` / `git '
                "pull` on the feature branch), and merge "
                f"{context.merge_text(order.landing, order.landing_subject)} brought it in. "
                "Merging the other way round does not help: that merge already has the target "
                f"branch as first parent, and {revision} had reached the feature branch "
                "through the earlier merge."
            )
            fixes.append(
                "before merging, update the feature branch with a rebase instead of a merge "
                '(GitHub\'s "Update with rebase", or `git rebase` onto the target branch and '
                'force-push), or merge it with "Squash and merge" or "Rebase and merge" (also '
                f"as a merge queue's merge method): {inserted} is then re-created after the "
                "deployed migrations"
            )
    elif inserted is not None and cause is not None:
        kind_of_cause = "ancestor"
        text += (
            f" How: {inserted}'s commit is an ancestor of {revision}'s, so {inserted} was in "
            f"the history before {revision} but not in the chain at {context.against} (was "
            "its file deleted and added back?)."
        )
    if inserted is not None:
        hardcode = context.hardcode_fix()
        if hardcode:
            fixes.append(f"once merged, {hardcode}" if fixes else hardcode)
        fixes.append(context.pin_fix())
    if not fixes:
        fixes.append("restore the previous order before deploying")
    return Finding(
        kind="parent-changed",
        revision=revision,
        old_parents=old_parents,
        new_parents=migration.parents,
        inserted=inserted,
        commit=commit,
        filename=migration.filename,
        cause=kind_of_cause,
        merge=merge,
        merged_by=merged_by,
        fixes=tuple(fixes),
        message=_with_fixes(text, fixes),
    )


def _renamed(
    context: _Context, migration: Migration, old_name: str, old_parents: tuple[str, ...]
) -> Finding:
    revision = migration.revision
    where = f" in commit {context.commit_text(migration.commit)}" if migration.commit else ""
    fixes = (
        f"rename it back: `git mv {migration.filename} {old_name}` (a file name keeps the "
        "place of its first add)",
        context.pin_fix(),
    )
    text = (
        f"{revision}: its file was renamed {old_name} -> {migration.filename} since "
        f"{context.against}{where}. Git records a rename as a delete plus an add (the order "
        f"follows `git log --no-renames`), so the rename moved {revision} to where "
        f"{migration.filename} was first added: its parent changed {fmt_parents(old_parents)} "
        f"-> {fmt_parents(migration.parents)}."
    )
    return Finding(
        kind="renamed",
        revision=revision,
        old_parents=old_parents,
        new_parents=migration.parents,
        commit=migration.commit,
        filename=migration.filename,
        old_filename=old_name,
        cause="rename",
        fixes=fixes,
        message=_with_fixes(text, fixes),
    )


# ------------------------------------------------------------------ same commit


def _same_commit_findings(context: _Context, *, since_base: bool) -> list[Finding]:
    pinned = {pin.revision for pin in _pinned(context.path)}
    groups: dict[str, list[Migration]] = {}
    for migration in context.head.migrations:
        if migration.is_dynamic and migration.commit and migration.revision not in pinned:
            groups.setdefault(migration.commit, []).append(migration)
    findings = []
    for commit, members in groups.items():
        if len(members) < 2:
            continue
        if since_base and all(m.revision in context.old for m in members):
            # Deployed together already: that order is the one that ran.
            continue
        members.sort(key=lambda m: context.position.get(m.revision, len(context.order)))
        names = ", ".join(m.filename for m in members)
        chained = " -> ".join(m.revision for m in members)
        fixes = (
            "if that is not the order they were written in, hardcode the down_revision of "
            "each one that must come later to the one it follows (it is then placed right "
            "after it)",
            "add migrations one commit at a time, and use a date-prefixed file_template so "
            "that file names sort in creation order",
            "once the order is right and deployed, pin it (`alembic-git-revisions pin`)",
        )
        text = (
            f"{len(members)} dynamic migrations were first added in the same commit "
            f"{context.commit_text(commit)}: {names}. Git gives them one position, so only "
            f"their file names order them: {chained}. Random revision ids sort randomly, so "
            "a migration may run before one it depends on."
        )
        findings.append(
            Finding(
                kind="same-commit",
                commit=commit,
                revisions=tuple(m.revision for m in members),
                fixes=fixes,
                message=_with_fixes(text, fixes),
            )
        )
    return findings


def _pinned(versions_dir: pathlib.Path) -> tuple[_native.Pin, ...]:
    found = _native.read_pins(versions_dir)
    return () if found is None else found.pins


# ------------------------------------------------------------------ several locations


def _branch_labels(path: pathlib.Path) -> tuple[str, ...]:
    """A migration's ``branch_labels``, read without importing it (none if unreadable)."""
    try:
        return _pyparse.read_branch_labels(path.read_bytes())
    except OSError:
        return ()


def check_graph(states: Sequence[ChainState]) -> list[Finding]:
    """Check that the version locations of one Alembic configuration form one
    revision graph with exactly one head per branch label.

    *states* are the locations' :func:`chain_state` results (one per versions
    directory). Alembic loads every location into one graph: a migration's parent may
    live in another location, a revision id may appear only once, and ``alembic
    upgrade head`` needs a single head, as ``<label>@head`` needs one per branch
    label. A head's labels are those declared (``branch_labels``) on it or on any of
    its ancestors, read from the files in the working tree. Findings:
    ``duplicate-revision`` (one id in two locations) and ``graph-heads`` (several heads
    for one branch label, or several without any).
    """
    findings: list[Finding] = []
    owner: dict[str, tuple[ChainState, Migration]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    for state in states:
        for migration in state.migrations:
            previous = owner.get(migration.revision)
            if previous is not None and previous[0].versions_dir != state.versions_dir:
                first = previous[0].versions_dir / previous[1].filename
                second = state.versions_dir / migration.filename
                findings.append(
                    Finding(
                        kind="duplicate-revision",
                        revision=migration.revision,
                        versions_dirs=(str(previous[0].versions_dir), str(state.versions_dir)),
                        message=f"revision {migration.revision} is declared by both {first} "
                        f"and {second}; Alembic loads all version locations into one graph "
                        "and keeps only one of the two (it merely warns), so the other never "
                        "runs. Give one of them a new id.",
                    )
                )
                continue
            owner[migration.revision] = (state, migration)
            parents[migration.revision] = migration.parents

    declared: dict[str, tuple[str, ...]] = {}
    for revision, (state, migration) in owner.items():
        if state.ref is None:
            declared[revision] = _branch_labels(state.versions_dir / migration.filename)

    def labels_of(head: str) -> frozenset[str]:
        found: set[str] = set()
        seen: set[str] = set()
        stack = [head]
        while stack:
            revision = stack.pop()
            if revision in seen:
                continue
            seen.add(revision)
            found.update(declared.get(revision, ()))
            stack.extend(p for p in parents.get(revision, ()) if p in parents)
        return frozenset(found)

    used = {p for ps in parents.values() for p in ps}
    heads = sorted(r for r in parents if r not in used)
    by_label: dict[str | None, list[str]] = {}
    for head in heads:
        labels = labels_of(head)
        for label in sorted(labels) or [None]:
            by_label.setdefault(label, []).append(head)
    for label, members in sorted(by_label.items(), key=lambda item: item[0] or ""):
        if len(members) < 2:
            continue
        listed = ", ".join(
            f"{h} ({owner[h][0].versions_dir / owner[h][1].filename})" for h in members
        )
        which = f"branch label {label!r}" if label else "no branch label"
        consequence = (
            f"`alembic upgrade {label}@head` is ambiguous"
            if label
            else "`alembic upgrade head` refuses to run"
        )
        fixes = (
            "join them with a merge migration (`alembic merge heads`)",
            "if they are meant to be independent lines, give each its own branch_labels "
            "and upgrade with `alembic upgrade heads`",
        )
        findings.append(
            Finding(
                kind="graph-heads",
                revisions=tuple(members),
                branch_label=label,
                versions_dirs=tuple(dict.fromkeys(str(owner[h][0].versions_dir) for h in members)),
                fixes=fixes,
                message=_with_fixes(
                    f"{_locations_text(len(states))} one revision graph with "
                    f"{len(members)} heads for {which}: {listed}; {consequence}.",
                    fixes,
                ),
            )
        )
    return findings


def _locations_text(count: int) -> str:
    if count == 1:
        return "the version location forms"
    return f"the {count} version locations form"


def graph_summary(states: Sequence[ChainState], findings: Sequence[Finding]) -> str:
    """One line on the revision graph :func:`check_graph` judged."""
    where = f"revision graph of {plural(len(states), 'version location')}"
    if findings:
        return f"{where}: {plural(len(findings), 'problem')} found"
    used = {p for state in states for m in state.migrations for p in m.parents}
    heads = sum(1 for state in states for m in state.migrations if m.revision not in used)
    return f"{where}: OK, {plural(heads, 'head')}" + (", one per branch label" if heads > 1 else "")
