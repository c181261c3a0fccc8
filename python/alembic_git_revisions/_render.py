"""Renderers of derived chains and check results: text, JSON, Mermaid and Graphviz.

Every renderer takes any number of versions directories and produces ONE document:
one JSON value, one Mermaid flowchart (a subgraph per directory), one dot digraph (a
cluster per directory), so that the output of ``--config`` with several version
locations can be parsed as a whole.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from alembic_git_revisions._state import ChainState, Migration, describe, fmt_parents

#: Version of the JSON documents ``chain --format json`` and ``check --format json``
#: print; raised on any change that is not a pure addition.
JSON_SCHEMA_VERSION = 1


def format_chain_text(state: ChainState) -> str:
    """Migrations in chain order with their first-add commits."""
    commits = [m.commit for m in state.migrations if m.commit]
    info = describe(state.versions_dir, commits) if commits else {}
    lines = []
    for index, migration in enumerate(chain_order(state), 1):
        kind = "dynamic" if migration.is_dynamic else "static"
        if state.chain_file is not None:
            # Read from a chain file: no history to show ("uncommitted" would be false).
            added = ""
        else:
            short, date, author = info.get(migration.commit or "", ("uncommitted", "", ""))
            added = f"{short} {date} {author}".rstrip() + "  "
        lines.append(
            f"{index:4d}. {migration.revision} <- {fmt_parents(migration.parents)}  [{kind}]  "
            f"{added}{migration.filename}"
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


def heads(state: ChainState) -> list[str]:
    """Revisions no migration of the directory names as a parent, in chain order."""
    used = {p for m in state.migrations for p in m.parents}
    return [m.revision for m in chain_order(state) if m.revision not in used]


# ------------------------------------------------------------------------- JSON


def source_of(state: ChainState) -> str:
    """``"git"`` or ``"chain-file"``: where the parents of dynamic migrations came from."""
    return "git" if state.chain_file is None else "chain-file"


def chain_entry(state: ChainState) -> dict[str, Any]:
    """One directory of ``chain --format json``."""
    return {
        "path": str(state.versions_dir),
        "scope": state.scope,
        "ref": state.ref,
        "source": source_of(state),
        "chain_file": None if state.chain_file is None else str(state.chain_file),
        "chain": _chain_in_order(state),
        "heads": heads(state),
        "migrations": [
            {
                "revision": m.revision,
                "filename": m.filename,
                "kind": "dynamic" if m.is_dynamic else "static",
                "parents": list(m.parents),
                "commit": m.commit,
            }
            for m in chain_order(state)
        ],
    }


def _chain_in_order(state: ChainState) -> dict[str, str | None]:
    """``build_chain``'s mapping, parents first; entries of a chain file whose migration
    is gone from the directory come last (they are still what the file says)."""
    ordered = {
        m.revision: state.chain[m.revision] for m in chain_order(state) if m.revision in state.chain
    }
    ordered.update((rev, parent) for rev, parent in state.chain.items() if rev not in ordered)
    return ordered


def chain_document(states: Sequence[ChainState]) -> str:
    """``chain --format json``: one JSON document for any number of directories."""
    document = {
        "version": JSON_SCHEMA_VERSION,
        "directories": [chain_entry(state) for state in states],
    }
    return json.dumps(document, indent=2)


def revision_chain_json(state: ChainState) -> str:
    """The chain exactly as ``revision_chain.json`` holds it (without the final newline)."""
    return json.dumps(state.chain, indent=2, sort_keys=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def finding_dict(finding: Any) -> dict[str, Any]:
    """Every field of a ``Finding``, whatever fields it has, as JSON values."""
    return {
        field.name: _jsonable(getattr(finding, field.name)) for field in dataclasses.fields(finding)
    }


# ----------------------------------------------------------------------- graphs


def _node_id(revision: str) -> str:
    return "r_" + re.sub(r"[^A-Za-z0-9_]", "_", revision)


def _edges(state: ChainState, base: ChainState | None) -> list[tuple[str, str, str]]:
    """``(child, parent, style)``: derived, hardcoded, and where *base* differs."""
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
    return edges


def _mermaid_text(text: str) -> str:
    # Mermaid labels are quoted strings with entity codes for quotes.
    return text.replace('"', "#quot;")


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def format_graph(
    states: Sequence[ChainState],
    fmt: str = "mermaid",
    bases: Sequence[ChainState | None] | None = None,
) -> str:
    """Draw the derived chains of *states* as one graph (Mermaid or Graphviz dot).

    Each directory is a subgraph (a cluster in dot) titled with its path. Derived
    (dynamic) parents are solid arrows, hardcoded ones bold/thick. With *bases* (one
    per state, or None), a parent that differs there is drawn as a dashed arrow
    labelled "base". A revision present in several directories is drawn once, in the
    first.
    """
    bases = list(bases) if bases is not None else [None] * len(states)
    drawn: set[str] = set()
    groups: list[tuple[ChainState, list[Migration]]] = []
    edges: list[tuple[str, str, str]] = []
    for state, base in zip(states, bases, strict=True):
        own = [m for m in state.migrations if m.revision not in drawn]
        drawn.update(m.revision for m in own)
        groups.append((state, own))
        edges.extend(_edges(state, base))
    if fmt == "dot":
        out = ["digraph migrations {", "  rankdir=BT;"]
        for index, (state, migrations) in enumerate(groups):
            out.append(f"  subgraph cluster_{index} {{")
            out.append(f'    label="{_dot_text(str(state.versions_dir))}";')
            for m in migrations:
                label = _dot_text(f"{m.revision}\n{m.filename}").replace("\n", "\\n")
                out.append(f'    {_node_id(m.revision)} [label="{label}"];')
            out.append("  }")
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
    for index, (state, migrations) in enumerate(groups):
        out.append(f'    subgraph d{index}["{_mermaid_text(str(state.versions_dir))}"]')
        for m in migrations:
            label = _mermaid_text(f"{m.revision}<br/>{m.filename}")
            out.append(f'        {_node_id(m.revision)}["{label}"]')
        out.append("    end")
    arrows = {"derived": "-->", "hardcoded": "==>", "base": "-.->|base|"}
    for child, parent, style in edges:
        out.append(f"    {_node_id(child)} {arrows[style]} {_node_id(parent)}")
    return "\n".join(out)
