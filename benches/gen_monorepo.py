#!/usr/bin/env python3
"""Generate a synthetic monorepo with Alembic versions dirs, for benchmarks.

The history is written as one ``git fast-import`` stream piped into a fresh
``git init`` repository, so 60,000 commits take seconds rather than the hours
``git commit`` would. Everything is derived from ``--seed``: paths, contents,
revision ids and commit dates, so two runs with the same parameters build
byte-identical repositories (same commit ids).

Shape of the history:

* one initial commit with most unrelated files and each service's Alembic
  skeleton (``services/<name>/alembic.ini``, ``alembic/env.py``,
  ``alembic/script.py.mako``, ``alembic/versions/``);
* feature branches forked from ``main``; each commit touches a few unrelated
  files of the feature's area, sometimes adds a new file, and some add a
  migration. Depending on ``--merge-style`` a feature lands as a ``--no-ff``
  merge (``noff``; sometimes ``main`` is merged into the feature first), is
  replayed linearly onto ``main`` keeping its author dates (``rebase``), either
  of the two (``mixed``), or as ``noff`` with occasional octopus merges of
  several features (``octopus``);
* a few direct commits on ``main``, some of which rename a migration (new
  slug, same revision) or delete one that a later commit re-adds;
* early on, the first service's whole Alembic directory is moved
  (``db/<name>/`` to ``services/<name>/alembic/``, what ``git mv`` records);
* dates come from one clock that only moves forward, except that a few
  feature commits are dated days before their parents (skewed clocks) and
  rebased commits keep their older author dates;
* at the end every feature is merged, so every migration is on ``HEAD``, and
  two unmerged ``feature/*`` branches are left, one with a migration that
  ``HEAD`` must not see.

The first ``--static-prefix`` migrations of each service hardcode
``down_revision`` (the root has ``None``, and when the prefix is long enough a
branch in it is joined by a merge migration with a tuple ``down_revision``);
later ones call ``get_down_revision(revision)``, except an occasional hybrid
that hardcodes a dynamic revision.

Usable as a script (see ``--help``) or as a module: ``generate(out_dir, ...)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import subprocess
import sys
import time
from pathlib import Path

MERGE_STYLES = ("noff", "rebase", "mixed", "octopus")
LAYOUTS = ("monorepo", "deep")

WORDS = (
    "account address agent alert api archive asset audit batch billing bucket "
    "cache campaign cart catalog channel charge checkout client cluster comment "
    "config contact content coupon credit customer dashboard delivery device "
    "discount document domain draft email event export feature feed file filter "
    "flag gateway grant group history import inbox index invoice item job key "
    "label ledger license limit link locale log mailbox member message metric "
    "note notice order owner package page partner payment payout permission "
    "plan policy post price product profile project promo quota rate receipt "
    "record refund region release report request review role rule schedule "
    "scope search segment session setting shipment sku slot source stock store "
    "subscription supplier tag task team template tenant ticket token topic "
    "transfer upload usage user vendor version warehouse webhook widget workflow "
    "zone"
).split()
VERBS = (
    "add fix refactor update remove rename simplify document tune speed-up "
    "harden clean-up extract inline test bump"
).split()
SERVICE_NAMES = (
    "billing accounts inventory shipping search notifications analytics "
    "identity catalog payments reporting scheduler"
).split()
AREAS = ("libs", "docs", "frontend", "infra", "tools")
EXTENSIONS = {
    "services": (".py",) * 6 + (".json", ".md", ".txt", ".cfg"),
    "libs": (".py",) * 6 + (".md", ".json", ".toml"),
    "docs": (".md",) * 5 + (".txt", ".json", ".rst"),
    "frontend": (".ts", ".tsx", ".ts", ".json", ".css", ".md"),
    "infra": (".yaml", ".yaml", ".tf", ".json", ".sh", ".md"),
    "tools": (".py", ".py", ".sh", ".md", ".json"),
}
AUTHORS = [
    (f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com", tz)
    for first, last, tz in (
        ("Alice", "Martin", "+0100"),
        ("Bob", "Nguyen", "-0500"),
        ("Chloe", "Dubois", "+0200"),
        ("Dmitri", "Ivanov", "+0300"),
        ("Emma", "Schulz", "+0100"),
        ("Farid", "Haddad", "+0400"),
        ("Grace", "Okafor", "+0000"),
        ("Hiro", "Tanaka", "+0900"),
        ("Ines", "Garcia", "+0100"),
        ("Jamal", "Brown", "-0800"),
        ("Kaori", "Sato", "+0900"),
        ("Liam", "Walsh", "+0000"),
        ("Maya", "Patel", "+0530"),
        ("Nora", "Lindqvist", "+0100"),
        ("Omar", "Khan", "+0500"),
        ("Paula", "Rossi", "+0100"),
        ("Quentin", "Leroy", "+0100"),
        ("Rosa", "Silva", "-0300"),
        ("Sam", "Cohen", "-0400"),
        ("Tariq", "Aziz", "+0300"),
    )
]
ALEMBIC_INI = """[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
version_path_separator = os
sqlalchemy.url = driver://user:pass@localhost/{name}

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""
ENV_PY = '''"""Alembic environment for the {name} service."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from {name}.models import metadata

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {{}}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''
SCRIPT_MAKO = '''"""${message}

Revision ID: ${up_revision}
Create Date: ${create_date}

"""
from alembic import op
from alembic_git_revisions import get_down_revision
import sqlalchemy as sa
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = get_down_revision(revision)
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''
COLUMN_TYPES = (
    "sa.Integer()",
    "sa.BigInteger()",
    "sa.String(length=255)",
    "sa.Text()",
    "sa.Boolean()",
    "sa.DateTime(timezone=True)",
    "sa.Numeric(precision=12, scale=2)",
    "sa.JSON()",
)


@dataclasses.dataclass
class Service:
    name: str
    versions: str  # where new migrations go on main right now
    files: dict[str, int]  # every Alembic file of the service on main -> blob mark
    landed: list[str]  # migration paths on main that may be renamed or deleted
    landed_dynamic: list[str]  # dynamic revisions on main, targets for hybrids
    remaining: int
    next_index: int = 0
    static_prev: str | None = None
    static_branch: tuple[str, ...] = ()  # pending branch in the static prefix


@dataclasses.dataclass
class NewMigration:
    service: Service
    path: str
    mark: int
    revision: str
    dynamic: bool


@dataclasses.dataclass
class Feature:
    name: str
    style: str  # "noff" or "rebase"
    area: str
    left: int
    fork: int  # main commit it branched from or last merged
    fork_log: int  # len(main_log) at that point
    slot: int = -1
    tip: int | None = None
    changes: dict[str, int | None] = dataclasses.field(default_factory=dict)
    migrations: list[NewMigration] = dataclasses.field(default_factory=list)
    buffered: list[tuple] = dataclasses.field(default_factory=list)  # rebase commits
    service: Service | None = None


class _Stream:
    """Buffered writer of fast-import commands; owns the mark counter."""

    def __init__(self, sink) -> None:
        self._sink = sink
        self._parts: list[str] = []
        self._size = 0
        self.mark = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._sink.write("".join(self._parts).encode("ascii"))
            self._parts = []
            self._size = 0

    def blob(self, content: str) -> int:
        self.mark += 1
        self.write(f"blob\nmark :{self.mark}\ndata {len(content)}\n{content}\n")
        return self.mark

    def commit(
        self,
        ref: str,
        author: tuple[str, str, str],
        author_ts: int,
        committer_ts: int,
        message: str,
        parent: int | None,
        merges: list[int],
        changes,
    ) -> int:
        self.mark += 1
        name, email, tz = author
        parts = [
            f"commit {ref}\nmark :{self.mark}\n"
            f"author {name} <{email}> {author_ts} {tz}\n"
            f"committer {name} <{email}> {committer_ts} {tz}\n"
            f"data {len(message)}\n{message}\n"
        ]
        if parent is not None:
            parts.append(f"from :{parent}\n")
        parts.extend(f"merge :{m}\n" for m in merges)
        parts.extend(
            f"M 100644 :{mark} {path}\n" if mark is not None else f"D {path}\n"
            for path, mark in changes
        )
        parts.append("\n")
        self.write("".join(parts))
        return self.mark


class _Generator:
    def __init__(
        self,
        stream: _Stream,
        *,
        commits: int,
        migrations: int,
        services: int,
        unrelated_files: int,
        merge_style: str,
        seed: int,
        static_prefix: int,
        layout: str = "monorepo",
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        if merge_style not in MERGE_STYLES:
            raise ValueError(f"merge_style must be one of {MERGE_STYLES}, not {merge_style!r}")
        if services < 1 or commits < 10 or migrations < 0 or unrelated_files < 0:
            raise ValueError("need services >= 1, commits >= 10, non-negative counts")
        self.s = stream
        self.rng = random.Random(seed)
        self.target = commits
        self.style = merge_style
        self.static_prefix = static_prefix
        self.planned = 0  # commits emitted, plus rebase commits buffered for later
        self.now = 1_500_000_000 + (seed % 1000) * 86_400
        self.main_tip: int | None = None
        self.main_log: list[tuple[str, int | None]] = []
        self.main_commits_since_tag = 0
        self.tags = 0
        self.open: list[Feature] = []
        self.free_slots: list[int] = []
        self.slot_tips: list[int | None] = []
        self.feature_counter = 0
        self.pr_counter = 100
        self.pending_readds: list[list] = []  # [countdown, service, path, mark]
        self.stats = {
            "commits": 0,
            "merges": 0,
            "octopus_merges": 0,
            "sync_merges": 0,
            "rebased_features": 0,
            "merged_features": 0,
            "renamed_migrations": 0,
            "readded_migrations": 0,
            "hybrid_migrations": 0,
            "static_merge_migrations": 0,
        }
        names = [
            SERVICE_NAMES[i % len(SERVICE_NAMES)]
            + (str(i // len(SERVICE_NAMES) + 1) if i >= len(SERVICE_NAMES) else "")
            for i in range(services)
        ]
        self.services = [
            Service(
                name=n,
                versions=f"services/{n}/alembic/versions",
                files={},
                landed=[],
                landed_dynamic=[],
                remaining=migrations,
            )
            for n in names
        ]
        # The first service starts in a legacy layout and is moved early on.
        first = self.services[0]
        first.versions = f"db/{first.name}/versions"
        self.moved = False
        self.move_at = max(5, commits // 50)
        self.migrations_left = migrations * services
        self.layout = layout
        if layout == "deep":
            self._build_deep_tree(unrelated_files)
        else:
            self._build_tree(unrelated_files)
        self._line_pools = {
            ext: [self._pool_line(ext, i) for i in range(400)]
            for ext in dict.fromkeys(e for exts in EXTENSIONS.values() for e in exts)
        }
        self.versions_of: dict[str, int] = {}

    # -- synthetic content -------------------------------------------------

    def _build_tree(self, n_files: int) -> None:
        """Lay out unrelated files over nested directories, grouped in areas."""
        rng = self.rng
        roots = [f"services/{s.name}/app" for s in self.services] + [
            f"libs/{w}" for w in rng.sample(WORDS, 4)
        ]
        roots += [a for a in AREAS if a != "libs"]
        dirs_of: dict[str, list[str]] = {r: [r] for r in roots}
        taken = set(roots)
        for _ in range(max(len(roots), n_files // 12)):
            root = rng.choice(roots)
            parent = rng.choice(dirs_of[root])
            if parent.count("/") >= 6:
                parent = root
            child = f"{parent}/{rng.choice(WORDS)}"
            if child not in taken:
                taken.add(child)
                dirs_of[root].append(child)
        self.area_files: dict[str, list[str]] = {r: [] for r in roots}
        self.unadded: list[tuple[str, str]] = []
        all_paths = set()
        initial = int(n_files * 0.6)
        for i in range(n_files):
            root = rng.choice(roots)
            exts = EXTENSIONS[root.split("/", 1)[0]]
            while True:
                d = rng.choice(dirs_of[root])
                stem = rng.choice(WORDS)
                if rng.random() < 0.5:
                    stem = f"{stem}_{rng.choice(WORDS)}"
                path = f"{d}/{stem}{rng.choice(exts)}"
                if path not in all_paths:
                    break
            all_paths.add(path)
            if i < initial:
                self.area_files[root].append(path)
            else:
                self.unadded.append((root, path))
        self.roots = roots

    def _build_deep_tree(self, n_files: int) -> None:
        """Thousands of directories, up to 10 levels, file counts skewed per directory.

        About one directory per 8 files, as in large Python projects (nova: 4,800
        files in 580 dirs, depth 8), spread over the same top-level areas as the
        ``monorepo`` layout plus a ``vendor`` tree; every directory knows its files,
        so that commits can touch several directories (``_deep_changes``).
        """
        rng = self.rng
        roots = [f"services/{s.name}/app" for s in self.services]
        roots += [f"services/{s.name}/tests" for s in self.services]
        roots += [f"libs/{w}" for w in rng.sample(WORDS, 6)]
        roots += [a for a in AREAS if a != "libs"] + ["vendor"]
        dirs_of: dict[str, list[str]] = {r: [r] for r in roots}
        taken = set(roots)
        for _ in range(max(len(roots), n_files // 8) * 2):
            if len(taken) >= max(len(roots), n_files // 8):
                break
            root = rng.choice(roots)
            # Prefer recent (deeper) dirs as parents: real trees grow down, not only out.
            pool = dirs_of[root]
            parent = pool[-1 - min(len(pool) - 1, int(rng.expovariate(1 / 6)))]
            if parent.count("/") >= 9 or rng.random() < 0.15:
                parent = rng.choice(pool)
            if parent.count("/") >= 9:
                parent = root
            child = f"{parent}/{rng.choice(WORDS)}"
            if rng.random() < 0.3:
                child += f"_{rng.choice(WORDS)}"
            if child not in taken:
                taken.add(child)
                pool.append(child)
        self.dirs_of = dirs_of
        self.dir_files: dict[str, list[str]] = {d: [] for ds in dirs_of.values() for d in ds}
        self.area_files = {r: [] for r in roots}
        self.unadded = []
        all_paths: set[str] = set()
        initial = int(n_files * 0.6)
        # Pareto weights: most directories hold a few files, some hold hundreds.
        weights = {r: [rng.paretovariate(1.2) for _ in dirs_of[r]] for r in roots}
        for i in range(n_files):
            root = rng.choice(roots)
            exts = EXTENSIONS.get(root.split("/", 1)[0], EXTENSIONS["libs"])
            while True:
                d = rng.choices(dirs_of[root], weights=weights[root])[0]
                stem = rng.choice(WORDS)
                if rng.random() < 0.6:
                    stem = f"{stem}_{rng.choice(WORDS)}"
                path = f"{d}/{stem}{rng.choice(exts)}"
                if path not in all_paths:
                    break
            all_paths.add(path)
            if i < initial:
                self.area_files[root].append(path)
                self.dir_files[d].append(path)
            else:
                self.unadded.append((root, path))
        self.roots = roots

    def _deep_changes(self, area: str) -> list[tuple[str, int | None]]:
        """Edits of one ordinary commit in the ``deep`` layout: several files in several dirs.

        Files per commit: median 2, mean about 5, a tail to 60; directories per
        commit: mean about 3, often across two top-level areas (code and tests);
        the distributions measured on nova, prefect, warehouse and CTFd.
        """
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            n = 1
        elif r < 0.55:
            n = 2
        elif r < 0.67:
            n = 3
        elif r < 0.85:
            n = rng.randint(4, 6)
        elif r < 0.97:
            n = rng.randint(7, 15)
        else:
            n = rng.randint(16, 60)
        k = 1
        while k < n and rng.random() < 0.55:
            k += 1
        dirs: list[str] = []
        for i in range(k):
            root = area if i == 0 or rng.random() < 0.6 else rng.choice(self.roots)
            candidates = [d for d in self.dirs_of[root] if self.dir_files[d]]
            if candidates:
                dirs.append(rng.choice(candidates))
        changes: dict[str, int | None] = {}
        for j in range(n):
            if not dirs:
                break
            files = self.dir_files[dirs[j % len(dirs)]]
            path = rng.choice(files)
            if path not in changes:
                changes[path] = self._unrelated_blob(path)
        return list(changes.items())

    def _pool_line(self, ext: str, i: int) -> str:
        rng = self.rng
        a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
        if ext == ".py":
            return rng.choice(
                (
                    f"def {a}_{b}({c}):\n    return {c}.{a}_id + {i}\n\n\n",
                    f"{a.upper()}_{b.upper()}_LIMIT = {i * 7}\n",
                    f"class {a.title()}{b.title()}:\n    {c}: str = '{a}-{i}'\n\n\n",
                    f"from .{a} import {b}_{c}\n",
                )
            )
        if ext in (".md", ".txt", ".rst"):
            return f"The {a} {b} keeps the {c} in sync ({i}).\n"
        if ext in (".ts", ".tsx"):
            return f"export const {a}{b.title()} = (x: number) => x * {i}; // {c}\n"
        if ext == ".json":
            return f'  "{a}_{b}": {i},\n'
        if ext in (".yaml",):
            return f"{a}_{b}: {c}-{i}\n"
        if ext == ".tf":
            return f'resource "{a}_{b}" "{c}{i}" {{ count = {i % 5} }}\n'
        if ext == ".sh":
            return f"echo '{a} {b}' && ./{c}.sh --step {i}\n"
        if ext == ".css":
            return f".{a}-{b} {{ margin: {i % 40}px; }}\n"
        return f"{a}_{b} = {c}{i}\n"

    def _unrelated_blob(self, path: str) -> int:
        version = self.versions_of.get(path, 0) + 1
        self.versions_of[path] = version
        ext = path[path.rfind(".") :]
        rng = self.rng
        body = "".join(rng.choices(self._line_pools[ext], k=rng.randint(4, 18)))
        if ext == ".json":
            content = f'{{\n  "path": "{path}",\n  "version": {version},\n{body}  "end": true\n}}\n'
        elif ext == ".py":
            content = f'"""{path} (revision {version})."""\n\n{body}'
        elif ext in (".md", ".txt", ".rst"):
            content = f"# {path}\n\nRevision {version}.\n\n{body}"
        else:
            content = f"// {path} r{version}\n{body}"
        return self.s.blob(content)

    def _message(self, area: str) -> str:
        rng = self.rng
        verb = rng.choice(VERBS).replace("-", " ")
        return (
            f"{verb.capitalize()} {rng.choice(WORDS)} {rng.choice(WORDS)} "
            f"in {area.rsplit('/', 1)[-1]}\n"
        )

    def _author(self) -> tuple[str, str, str]:
        return self.rng.choice(AUTHORS)

    def _tick(self) -> int:
        self.now += self.rng.randint(60, 1700)
        return self.now

    # -- migrations ----------------------------------------------------------

    def _new_migration(self, svc: Service, extra_targets: list[str]) -> NewMigration:
        rng = self.rng
        index = svc.next_index
        svc.next_index += 1
        svc.remaining -= 1
        self.migrations_left -= 1
        rev = f"{rng.getrandbits(48):012x}"
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 4))]
        verb = rng.choice(("add", "create", "alter", "drop", "backfill", "index"))
        slug = "_".join([verb, *words])[:40]
        dynamic = True
        down: str | tuple[str, ...] | None = None
        if index < self.static_prefix:
            dynamic = False
            if svc.static_branch and len(svc.static_branch) == 1:
                # Second head of a branch in the static prefix.
                down = svc.static_branch[0]
                svc.static_branch = (svc.static_prev, rev)
            elif svc.static_branch:
                down = svc.static_branch
                svc.static_branch = ()
                self.stats["static_merge_migrations"] += 1
            else:
                down = svc.static_prev
                if 2 <= index <= self.static_prefix - 3 and rng.random() < 0.02:
                    svc.static_branch = (svc.static_prev,)
            svc.static_prev = rev
        elif rng.random() < 0.006:
            targets = svc.landed_dynamic[-10:] + extra_targets
            if targets:
                dynamic = False
                down = rng.choice(targets)
                self.stats["hybrid_migrations"] += 1
        date = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.now))
        content = _migration_source(rng, rev, slug, words, dynamic, down, date)
        mark = self.s.blob(content)
        path = f"{svc.versions}/{rev}_{slug}.py"
        return NewMigration(svc, path, mark, rev, dynamic)

    def _migrations_due(self) -> int:
        if self.migrations_left <= 0:
            return 0
        horizon = int(self.target * 0.9) - self.planned
        if horizon <= 1:
            return max(1, -(-self.migrations_left // max(1, self.target - self.planned)))
        p = self.migrations_left / horizon
        n = int(p)
        return n + (1 if self.rng.random() < p - n else 0)

    def _pick_service(self, preferred: Service | None) -> Service:
        if preferred is not None and preferred.remaining > 0 and self.rng.random() < 0.8:
            return preferred
        live = [s for s in self.services if s.remaining > 0]
        return self.rng.choices(live, weights=[s.remaining for s in live])[0]

    def _land(self, migrations: list[NewMigration]) -> None:
        for m in migrations:
            m.service.files[m.path] = m.mark
            m.service.landed.append(m.path)
            if m.dynamic:
                m.service.landed_dynamic.append(m.revision)

    # -- commits -------------------------------------------------------------

    def _work_changes(self, area: str, feature: Feature | None):
        """File changes for one ordinary commit: unrelated edits, maybe migrations."""
        rng = self.rng
        changes: list[tuple[str, int | None]] = []
        if self.layout == "deep":
            changes = self._deep_changes(area)
        else:
            r = rng.random()
            n = 1 if r < 0.4 else 2 if r < 0.7 else 3 if r < 0.85 else rng.randint(4, 6)
            if r > 0.97:
                n = rng.randint(10, 40)
            files = self.area_files[area] if rng.random() < 0.8 else None
            if not files:
                files = self.area_files[rng.choice(self.roots)] or self.area_files[area]
            if files:
                for path in dict.fromkeys(rng.choice(files) for _ in range(n)):  # determinism
                    changes.append((path, self._unrelated_blob(path)))
        if self.unadded and rng.random() < len(self.unadded) / max(1, self.target - self.planned):
            root, path = self.unadded.pop(rng.randrange(len(self.unadded)))
            self.area_files[root].append(path)
            if self.layout == "deep":
                self.dir_files[path.rsplit("/", 1)[0]].append(path)
            changes.append((path, self._unrelated_blob(path)))
        new: list[NewMigration] = []
        due = self._migrations_due()
        for _ in range(due):
            svc = self._pick_service(feature.service if feature else None)
            extra = []
            if feature is not None:
                feature.service = svc
                extra = [m.revision for m in feature.migrations if m.service is svc and m.dynamic]
            m = self._new_migration(svc, extra)
            new.append(m)
            changes.append((m.path, m.mark))
        return changes, new

    def _main_commit(self, author, author_ts, committer_ts, message, changes, merges=()) -> int:
        self.main_tip = self.s.commit(
            "refs/heads/main",
            author,
            author_ts,
            committer_ts,
            message,
            None,
            list(merges),
            changes,
        )
        self.main_log.extend(changes)
        self.stats["commits"] += 1
        self.main_commits_since_tag += 1
        if self.main_commits_since_tag >= 400:
            self.main_commits_since_tag = 0
            self.tags += 1
            self.s.write(f"reset refs/tags/v1.{self.tags}.0\nfrom :{self.main_tip}\n\n")
        return self.main_tip

    def _slot_commit(self, f: Feature, author, ts, message, changes, merges=()) -> int:
        parent = f.tip if f.tip is not None else f.fork
        from_ = parent if self.slot_tips[f.slot] != parent else None
        mark = self.s.commit(
            f"refs/heads/_gen/slot{f.slot}", author, ts, ts, message, from_, list(merges), changes
        )
        self.slot_tips[f.slot] = mark
        f.tip = mark
        self.stats["commits"] += 1
        return mark

    def _direct_main(self) -> None:
        rng = self.rng
        ts = self._tick()
        author = self._author()
        for item in self.pending_readds:
            item[0] -= 1
        due = [p for p in self.pending_readds if p[0] <= 0]
        if due:
            self.pending_readds = [p for p in self.pending_readds if p[0] > 0]
            changes = []
            for _, svc, path, mark in due:
                svc.files[path] = mark
                svc.landed.append(path)
                changes.append((path, mark))
                self.stats["readded_migrations"] += 1
            self.planned += 1
            self._main_commit(author, ts, ts, "Restore migrations removed by mistake\n", changes)
            return
        x = rng.random()
        candidates = [s for s in self.services if len(s.landed) > 3]
        if x < 0.012 and candidates:
            svc = rng.choice(candidates)
            i = rng.randrange(len(svc.landed))
            old = svc.landed[i]
            head, name = old.rsplit("/", 1)
            rev = name.split("_", 1)[0]
            new = f"{head}/{rev}_{rng.choice(WORDS)}_{rng.choice(WORDS)}.py"
            if new in svc.files:
                return
            mark = svc.files.pop(old)
            svc.files[new] = mark
            svc.landed[i] = new
            self.stats["renamed_migrations"] += 1
            self.planned += 1
            self._main_commit(
                author, ts, ts, f"Rename migration {rev}\n", [(old, None), (new, mark)]
            )
            return
        if x < 0.024 and candidates:
            svc = rng.choice(candidates)
            path = svc.landed.pop(rng.randrange(len(svc.landed)))
            mark = svc.files.pop(path)
            self.pending_readds.append([rng.randint(2, 12), svc, path, mark])
            self.planned += 1
            self._main_commit(author, ts, ts, "Remove obsolete migration\n", [(path, None)])
            return
        area = rng.choice(self.roots)
        self.planned += 1
        changes, new = self._work_changes(area, None)
        self._main_commit(author, ts, ts, self._message(area), changes)
        self._land(new)

    def _open_feature(self) -> None:
        rng = self.rng
        if self.style == "rebase":
            style = "rebase"
        elif self.style == "mixed":
            style = "rebase" if rng.random() < 0.4 else "noff"
        else:
            style = "noff"
        left = 1 + int(rng.expovariate(1 / 4))
        if rng.random() < 0.05:
            left = rng.randint(10, 80)
        area = rng.choices(self.roots, weights=[len(f) + 1 for f in self.area_files.values()])[0]
        self.feature_counter += 1
        f = Feature(
            name=f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{self.feature_counter}",
            style=style,
            area=area,
            left=min(left, 80),
            fork=self.main_tip,
            fork_log=len(self.main_log),
        )
        if style == "noff":
            if self.free_slots:
                f.slot = self.free_slots.pop()
            else:
                f.slot = len(self.slot_tips)
                self.slot_tips.append(None)
        self.open.append(f)

    def _feature_commit(self, f: Feature) -> None:
        rng = self.rng
        ts = self._tick()
        if rng.random() < 0.03:
            ts -= rng.randint(3_600, 30 * 86_400)  # a skewed clock
        author = self._author()
        self.planned += 1
        changes, new = self._work_changes(f.area, f)
        message = self._message(f.area)
        for path, mark in changes:
            f.changes[path] = mark
        f.migrations.extend(new)
        if f.style == "rebase":
            f.buffered.append((author, ts, message, changes))
        else:
            if f.tip is not None and len(self.main_log) > f.fork_log and rng.random() < 0.03:
                self._sync(f)
            self._slot_commit(f, author, ts, message, changes)
        f.left -= 1
        if f.left <= 0:
            self._finish(f)

    def _sync(self, f: Feature) -> None:
        """Merge main into the feature (``git merge main`` on the branch)."""
        main_changes: dict[str, int | None] = {}
        for path, mark in self.main_log[f.fork_log :]:
            main_changes[path] = mark
        changes = [(p, m) for p, m in main_changes.items() if p not in f.changes]
        ts = self._tick()
        self.planned += 1
        self._slot_commit(
            f,
            self._author(),
            ts,
            f"Merge branch 'main' into {f.name}\n",
            changes,
            merges=[self.main_tip],
        )
        f.fork = self.main_tip
        f.fork_log = len(self.main_log)
        self.stats["merges"] += 1
        self.stats["sync_merges"] += 1

    def _finish(self, f: Feature) -> None:
        rng = self.rng
        self.open.remove(f)
        if f.style == "rebase":
            for author, author_ts, message, changes in f.buffered:
                self._main_commit(author, author_ts, self._tick(), message, changes)
            self._land(f.migrations)
            self.stats["rebased_features"] += 1
            return
        if f.tip is None:
            self.free_slots.append(f.slot)
            return
        if len(self.main_log) > f.fork_log and rng.random() < 0.1:
            self._sync(f)
        group = [f]
        if self.style == "octopus" and rng.random() < 0.08:
            others = [g for g in self.open if g.style == "noff" and g.tip is not None]
            for g in rng.sample(others, min(len(others), rng.randint(1, 4))):
                self.open.remove(g)
                group.append(g)
        changes: dict[str, int | None] = {}
        for g in group:
            changes.update(g.changes)
        ts = self._tick()
        self.planned += 1
        if len(group) == 1:
            self.pr_counter += 1
            message = f"Merge pull request #{self.pr_counter} from acme/{f.name}\n\n{f.name}\n"
        else:
            message = "Merge branches " + ", ".join(f"'{g.name}'" for g in group) + "\n"
            self.stats["octopus_merges"] += 1
        self._main_commit(
            self._author(), ts, ts, message, list(changes.items()), merges=[g.tip for g in group]
        )
        self.stats["merges"] += 1
        for g in group:
            self._land(g.migrations)
            self.free_slots.append(g.slot)
            self.stats["merged_features"] += 1

    def _move_first_service(self) -> None:
        """``git mv db/<name> services/<name>/alembic`` (and the ini beside it)."""
        for f in list(self.open):
            f.left = 0
            self._finish(f)
        svc = self.services[0]
        old_root, new_root = f"db/{svc.name}", f"services/{svc.name}/alembic"
        changes: list[tuple[str, int | None]] = []
        moved: dict[str, int] = {}
        for path, mark in svc.files.items():
            if path == f"{old_root}/alembic.ini":
                new = f"services/{svc.name}/alembic.ini"
            else:
                new = new_root + path[len(old_root) :]
            changes.append((path, None))
            changes.append((new, mark))
            moved[new] = mark
        prefix = len(old_root)
        svc.landed = [new_root + p[prefix:] for p in svc.landed]
        for item in self.pending_readds:
            if item[1] is svc:
                item[2] = new_root + item[2][prefix:]
        svc.files = moved
        svc.versions = f"{new_root}/versions"
        ts = self._tick()
        self.planned += 1
        self._main_commit(
            self._author(), ts, ts, f"Move {svc.name} migrations under services/\n", changes
        )
        self.moved = True

    # -- the whole history ---------------------------------------------------

    def run(self) -> None:
        rng = self.rng
        s = self.s
        s.write("feature done\n")
        changes: list[tuple[str, int | None]] = []
        for root in self.roots:
            for path in self.area_files[root]:
                changes.append((path, self._unrelated_blob(path)))
        for i, svc in enumerate(self.services):
            if i == 0:
                base, ini = f"db/{svc.name}", f"db/{svc.name}/alembic.ini"
            else:
                base, ini = f"services/{svc.name}/alembic", f"services/{svc.name}/alembic.ini"
            for path, text in (
                (ini, ALEMBIC_INI.format(name=svc.name)),
                (f"{base}/env.py", ENV_PY.format(name=svc.name)),
                (f"{base}/script.py.mako", SCRIPT_MAKO),
                (f"{base}/README", "Generic single-database configuration.\n"),
            ):
                mark = s.blob(text)
                svc.files[path] = mark
                changes.append((path, mark))
        for path, text in (
            ("README.md", "# acme monorepo\n\nServices, libraries and tooling.\n"),
            (".gitignore", "__pycache__/\n*.pyc\n.venv/\nnode_modules/\n"),
            ("pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
        ):
            changes.append((path, s.blob(text)))
        self.planned += 1
        ts = self._tick()
        self._main_commit(AUTHORS[0], ts, ts, "Initial import\n", changes)

        want_open = 5
        p_direct = {"noff": 0.04, "octopus": 0.04, "mixed": 0.08, "rebase": 0.1}[self.style]
        step = 0
        while self.planned < self.target:
            step += 1
            if step % 500 == 0:
                want_open = rng.randint(2, 10)
            if not self.moved and self.planned >= self.move_at and self.services[0].landed:
                self._move_first_service()
                continue
            if len(self.open) < want_open and rng.random() < 0.25:
                self._open_feature()
                continue
            if not self.open or rng.random() < p_direct:
                self._direct_main()
            else:
                self._feature_commit(rng.choice(self.open))
        for f in list(self.open):
            self._finish(f)
        while self.pending_readds or self.migrations_left > 0:
            for item in self.pending_readds:
                item[0] = 0
            self._direct_main()
        if not self.moved:
            self._move_first_service()
        for n in range(2):
            ts = self._tick()
            ref = f"refs/heads/feature/unmerged-{rng.choice(WORDS)}-{n}"
            area = rng.choice(self.roots)
            path = rng.choice(self.area_files[area] or self.area_files[self.roots[0]])
            parent = self.main_tip
            for k in range(2):
                ch = [(path, self._unrelated_blob(path))]
                if n == 0 and k == 1:
                    svc = self.services[-1]
                    svc.remaining += 1
                    self.migrations_left += 1
                    m = self._new_migration(svc, [])
                    ch.append((m.path, m.mark))
                parent = s.commit(ref, self._author(), ts, ts, self._message(area), parent, [], ch)
                self.stats["commits"] += 1
                ts += 600
        s.write("done\n")
        s.flush()


def _migration_source(
    rng: random.Random,
    rev: str,
    slug: str,
    words: list[str],
    dynamic: bool,
    down: str | tuple[str, ...] | None,
    date: str,
) -> str:
    """Source of one migration module, in the shapes real projects have."""
    title = slug.replace("_", " ").capitalize()
    table = "_".join(words[:2]) + "s"
    annotated = rng.random() < 0.25
    imports = ["from alembic import op", "import sqlalchemy as sa"]
    if annotated:
        imports.insert(0, "from typing import Sequence, Union\n")
    form = "plain"
    if dynamic:
        form = "attr" if rng.random() < 0.05 else "plain"
        if form == "attr":
            imports.append("\nimport alembic_git_revisions as agr")
        else:
            imports.append("\nfrom alembic_git_revisions import get_down_revision")
        down_src = "get_down_revision(revision)"
        if form == "attr":
            down_src = "agr." + down_src
        revises = ""
    else:
        down_src = repr(down)
        if isinstance(down, tuple):
            revises = f"Revises: {', '.join(down)}\n"
        else:
            revises = f"Revises: {down or ''}\n"
    if annotated:
        assigns = (
            f'revision: str = "{rev}"\n'
            f"down_revision: Union[str, Sequence[str], None] = {down_src}\n"
            "branch_labels: Union[str, Sequence[str], None] = None\n"
            "depends_on: Union[str, Sequence[str], None] = None\n"
        )
    else:
        assigns = (
            f'revision = "{rev}"\n'
            f"down_revision = {down_src}\n"
            "branch_labels = None\n"
            "depends_on = None\n"
        )
    kind = rng.randrange(5)
    if kind == 0:
        cols = [
            f'        sa.Column("{w}_{i}", {rng.choice(COLUMN_TYPES)}, '
            f"nullable={rng.random() < 0.5}),"
            for i, w in enumerate(rng.sample(words * 3, min(len(words) * 3, rng.randint(2, 6))))
        ]
        upgrade = (
            "    op.create_table(\n"
            f'        "{table}",\n'
            '        sa.Column("id", sa.BigInteger(), nullable=False),\n' + "\n".join(cols) + "\n"
            '        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),\n'
            '        sa.PrimaryKeyConstraint("id"),\n'
            "    )\n"
            f'    op.create_index("ix_{table}_created_at", "{table}", ["created_at"])\n'
        )
        downgrade = (
            f'    op.drop_index("ix_{table}_created_at", table_name="{table}")\n'
            f'    op.drop_table("{table}")\n'
        )
    elif kind == 1:
        col = f"{words[-1]}_id"
        upgrade = (
            f'    op.add_column("{table}", sa.Column("{col}", sa.BigInteger(), nullable=True))\n'
            f'    op.create_foreign_key(None, "{table}", "{words[-1]}s", ["{col}"], ["id"])\n'
        )
        downgrade = f'    op.drop_column("{table}", "{col}")\n'
    elif kind == 2:
        upgrade = (
            f'    op.alter_column("{table}", "{words[0]}", existing_type=sa.Text(), '
            "nullable=False)\n"
        )
        downgrade = (
            f'    op.alter_column("{table}", "{words[0]}", existing_type=sa.Text(), '
            "nullable=True)\n"
        )
    elif kind == 3:
        upgrade = (
            f'    op.create_index(\n        "ix_{table}_{words[-1]}", "{table}", '
            f'["{words[-1]}"], unique=False\n    )\n'
        )
        downgrade = f'    op.drop_index("ix_{table}_{words[-1]}", table_name="{table}")\n'
    else:
        upgrade = (
            "    op.execute(\n"
            f"        \"UPDATE {table} SET {words[0]} = 'default' WHERE {words[0]} IS NULL\"\n"
            "    )\n"
        )
        downgrade = "    pass\n"
    return (
        f'"""{title}\n\nRevision ID: {rev}\n{revises}Create Date: {date}.000000\n\n"""\n'
        + "\n".join(imports)
        + "\n\n# revision identifiers, used by Alembic.\n"
        + assigns
        + "\n\ndef upgrade() -> None:\n"
        + upgrade
        + "\n\ndef downgrade() -> None:\n"
        + downgrade
    )


def _git(repo: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, **kwargs)


def generate(
    out_dir: str | Path,
    *,
    commits: int = 60_000,
    migrations: int = 2000,
    services: int = 3,
    unrelated_files: int = 20_000,
    merge_style: str = "mixed",
    seed: int = 0,
    static_prefix: int = 100,
    commit_graph: bool = False,
    layout: str = "monorepo",
    verbose: bool = False,
) -> dict:
    """Build the repository in *out_dir* (created; must not exist or be empty).

    Returns a summary: commit and merge counts, migrations per versions dir
    (counted on disk after checkout) and timings.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    t0 = time.perf_counter()
    _git(out, "init", "-q", "-b", "main")
    _git(out, "config", "gc.auto", "0")
    proc = subprocess.Popen(
        ["git", "-C", str(out), "fast-import", "--quiet", "--active-branches=64"],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    stream = _Stream(proc.stdin)
    gen = _Generator(
        stream,
        commits=commits,
        migrations=migrations,
        services=services,
        unrelated_files=unrelated_files,
        merge_style=merge_style,
        seed=seed,
        static_prefix=static_prefix,
        layout=layout,
    )
    try:
        gen.run()
    finally:
        proc.stdin.close()
        rc = proc.wait()
    if rc:
        raise RuntimeError(f"git fast-import failed with exit code {rc}")
    t_import = time.perf_counter() - t0
    scratch = "".join(f"delete refs/heads/_gen/slot{i}\n" for i in range(len(gen.slot_tips)))
    _git(out, "update-ref", "--stdin", input=scratch.encode())
    _git(out, "reset", "-q", "--hard")
    t_checkout = time.perf_counter() - t0 - t_import
    if commit_graph:
        _git(out, "commit-graph", "write", "--reachable")
    per_dir = {}
    for svc in gen.services:
        vdir = out / svc.versions
        per_dir[svc.versions] = sum(1 for p in vdir.glob("*.py")) if vdir.is_dir() else 0
    summary = {
        **gen.stats,
        "tags": gen.tags,
        "migrations_per_dir": per_dir,
        "versions_dirs": [svc.versions for svc in gen.services],
        "import_s": round(t_import, 2),
        "checkout_s": round(t_checkout, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    expected = migrations
    for d, n in per_dir.items():
        if n != expected:
            raise RuntimeError(f"{d} has {n} migrations on HEAD, expected {expected}")
    if verbose:
        _print_summary(out, summary)
    return summary


def _print_summary(out: Path, summary: dict) -> None:
    print(f"repository: {out}")
    for key, value in summary.items():
        if key == "migrations_per_dir":
            for d, n in value.items():
                print(f"  {d}: {n} migrations")
        elif key != "versions_dirs":
            print(f"{key}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="new repository directory")
    parser.add_argument("--commits", type=int, default=60_000)
    parser.add_argument("--migrations", type=int, default=2000, help="per service")
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--unrelated-files", type=int, default=20_000)
    parser.add_argument("--merge-style", choices=MERGE_STYLES, default="mixed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--static-prefix",
        type=int,
        default=100,
        help="the first N migrations of each service hardcode down_revision",
    )
    parser.add_argument(
        "--commit-graph", action="store_true", help="run git commit-graph write --reachable"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="monorepo",
        help="deep: thousands of dirs up to 10 levels, commits across several dirs",
    )
    args = parser.parse_args(argv)
    generate(
        args.out,
        commits=args.commits,
        migrations=args.migrations,
        services=args.services,
        unrelated_files=args.unrelated_files,
        merge_style=args.merge_style,
        seed=args.seed,
        static_prefix=args.static_prefix,
        commit_graph=args.commit_graph,
        layout=args.layout,
        verbose=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
