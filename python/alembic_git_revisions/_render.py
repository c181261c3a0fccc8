"""Renderers of derived chains: text listing, JSON, Mermaid and Graphviz graphs."""

from __future__ import annotations

import json
import re

from alembic_git_revisions._state import ChainState, Migration, describe, fmt_parents


def format_chain_text(state: ChainState) -> str:
    """Migrations in chain order with their first-add commits."""
    commits = [m.commit for m in state.migrations if m.commit]
    info = describe(state.versions_dir, commits) if commits else {}
    lines = []
    for index, migration in enumerate(chain_order(state), 1):
        short, date, author = info.get(migration.commit or "", ("uncommitted", "", ""))
        kind = "dynamic" if migration.is_dynamic else "static"
        lines.append(
            f"{index:4d}. {migration.revision} <- {fmt_parents(migration.parents)}  [{kind}]  "
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
