#!/usr/bin/env python3
"""Public repositories that use Alembic, cloned the way CI clones them.

The benchmarks of issue 9 run on plain clones: one pack written by the server's
``upload-pack`` and no commit-graph file, which is what ``git clone`` (and
``actions/checkout`` with ``fetch-depth: 0``) leaves. Each repository is cloned
twice under ``--root``:

``<root>/<owner>+<name>/plain``
    the clone, checked out (detached) at the pinned commit; checked to hold no
    commit-graph file;
``<root>/<owner>+<name>/graph``
    a copy of it after ``git commit-graph write --reachable``.

``clone`` also writes ``<root>/plain.txt`` and ``<root>/graph.txt``: the
``repo:versions_dir`` lists that ``benches/dirs.py --list`` reads.

Sources:

* by default ``https://github.com/<owner>/<name>`` (needs the network; a clone
  from GitHub is one server-made pack already);
* ``--mirrors DIR``: local snapshots ``DIR/<owner>+<name>/repo`` (git dirs),
  cloned with ``git clone --no-local``, so that a local ``upload-pack`` writes
  the pack as a server would. Such snapshots may be partial clones that lack a
  few large blobs of old history (never a commit or a tree); ``upload-pack`` is
  then told to skip what is missing (``--missing=allow-any`` through
  ``uploadpack.packObjectsHook``) and the clone is made as a partial clone, whose
  markers are removed afterwards. Neither implementation reads old blobs.

Every clone's ``origin`` is set to the GitHub URL, so nothing refers to this
machine. ``list`` prints the lists without cloning anything.

    python benches/real_repos.py clone --root ../bench-clones [--mirrors DIR] [--only nova]
    python benches/real_repos.py list --root ../bench-clones --variant plain
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

VARIANTS = ("plain", "graph")


@dataclass(frozen=True)
class RealRepo:
    """A public repository, the commit benchmarked and its versions dirs."""

    slug: str  # owner/name on GitHub
    commit: str  # full id of the commit checked out
    dirs: tuple[str, ...]  # versions dirs, relative to the work tree

    @property
    def url(self) -> str:
        return f"https://github.com/{self.slug}"

    @property
    def key(self) -> str:
        """Directory name under the clones root (and in mirrors)."""
        return self.slug.replace("/", "+")


# Largest history first. neutron and keystone keep their migrations in nested
# ``<release>/{expand,contract}`` dirs: the flat dir plus two subdirs are measured.
REPOS: tuple[RealRepo, ...] = (
    RealRepo(
        "openstack/nova",
        "00a030403f672b975364c855b7d25b40ef83e757",
        ("nova/db/main/migrations/versions", "nova/db/api/migrations/versions"),
    ),
    RealRepo(
        "openstack/neutron",
        "2131d26f73262ec89a5d3e3e0d65521df4908e65",
        (
            "neutron/db/migration/alembic_migrations/versions",
            "neutron/db/migration/alembic_migrations/versions/newton/expand",
            "neutron/db/migration/alembic_migrations/versions/mitaka/expand",
        ),
    ),
    RealRepo(
        "PrefectHQ/prefect",
        "ce79dd3d6cfa2b7337265498210dbc4d25bcdc98",
        (
            "src/prefect/server/database/_migrations/versions/postgresql",
            "src/prefect/server/database/_migrations/versions/sqlite",
        ),
    ),
    RealRepo(
        "openstack/keystone",
        "30ef2ffa65a3486ef882f00538e20f2253c57d4c",
        (
            "keystone/common/sql/migrations/versions",
            "keystone/common/sql/migrations/versions/bobcat/expand",
            "keystone/common/sql/migrations/versions/bobcat/contract",
        ),
    ),
    RealRepo(
        "openstack/ironic",
        "7bc6aba7dda0b8a863d0310af6f06925d30c9563",
        ("ironic/db/sqlalchemy/alembic/versions",),
    ),
    RealRepo(
        "pypi/warehouse",
        "6b62157124ab7865029afeeadf282bce27d601d9",
        ("warehouse/migrations/versions",),
    ),
    RealRepo(
        "getredash/redash",
        "ca79fe988d81cdac9675b412f3dfcab107bc1fbc",
        ("migrations/versions",),
    ),
    RealRepo(
        "Netflix/lemur",
        "3a3c2c201d42db0eed06e79297eb8dc252c39288",
        ("lemur/migrations/versions",),
    ),
    RealRepo(
        "Netflix/dispatch",
        "dd2837e82a0bf5565b1b4b4b91ea30b7262d4061",
        (
            "src/dispatch/database/revisions/tenant/versions",
            "src/dispatch/database/revisions/core/versions",
        ),
    ),
    RealRepo(
        "openstack/octavia",
        "0e6ea11c2992ce2746bb0cf0fb5cb3e81d5b94ba",
        ("octavia/db/migration/alembic_migrations/versions",),
    ),
    RealRepo(
        "CTFd/CTFd",
        "91ced62d44d3ec3142a0948ee96ed19947cfc979",
        ("migrations/versions",),
    ),
)

# Run by upload-pack in place of ``git pack-objects``: the pack is the one a server
# would write, minus objects a partial snapshot does not have.
_PACK_OBJECTS_HOOK = '#!/bin/sh\nexec "$@" --missing=allow-any\n'


def _git(*args: str | Path, env: dict | None = None, quiet: bool = False) -> str:
    proc = subprocess.run(
        ["git", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(map(str, args))} failed:\n{proc.stderr.strip()}")
    if not quiet and proc.stderr.strip():
        print(proc.stderr.strip(), file=sys.stderr)
    return proc.stdout.strip()


def commit_graph_files(repo: Path) -> list[Path]:
    """The commit-graph files of *repo* (single file or split chain)."""
    info = Path(_git("-C", repo, "rev-parse", "--path-format=absolute", "--git-path", "objects"))
    info = info / "info"
    found = []
    if (info / "commit-graph").exists():
        found.append(info / "commit-graph")
    if (info / "commit-graphs").is_dir():
        found += sorted((info / "commit-graphs").iterdir())
    return found


def pack_files(repo: Path) -> list[Path]:
    objects = Path(_git("-C", repo, "rev-parse", "--path-format=absolute", "--git-path", "objects"))
    return sorted((objects / "pack").glob("*.pack"))


def server_clone(source: Path, dest: Path, *args: str) -> None:
    """``git clone --no-local --no-checkout [args] source dest``, tolerating a partial source.

    ``upload-pack`` writes the pack as a server would, skipping objects *source*
    lacks (``--missing=allow-any`` through ``uploadpack.packObjectsHook``); the
    clone is made as a partial clone so that it accepts that pack, then its
    partial-clone markers are removed: the result looks like a plain clone.
    """
    with tempfile.TemporaryDirectory(prefix="agr-clone-") as tmp:
        hook = Path(tmp) / "pack-objects-hook"
        hook.write_text(_PACK_OBJECTS_HOOK)
        hook.chmod(0o755)
        config = Path(tmp) / "gitconfig"
        # packObjectsHook is honoured from protected (global/system) config only.
        config.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n\tallowFilter = true\n")
        env = dict(os.environ, GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
        # A blob size limit no blob reaches: nothing is filtered, but the clone is a
        # partial clone, so the blobs missing from the snapshot are allowed.
        _git(
            "clone",
            "-q",
            "--no-local",
            "--no-checkout",
            "--filter=blob:limit=4g",
            *args,
            source,
            dest,
            env=env,
        )
    for marker in (dest / ".git" / "objects" / "pack").glob("*.promisor"):
        marker.unlink()
    for key in ("remote.origin.promisor", "remote.origin.partialclonefilter"):
        _git("-C", dest, "config", "--unset", key)


def clone(repo: RealRepo, root: Path, mirrors: Path | None, log=print) -> dict:
    """Make ``<root>/<key>/plain`` and ``graph``; returns facts about them."""
    base = root / repo.key
    plain, graph = base / "plain", base / "graph"
    if plain.exists() or graph.exists():
        raise FileExistsError(f"{base} exists: remove it to clone again")
    base.mkdir(parents=True)
    if mirrors is not None:
        source = mirrors / repo.key / "repo"
        if (source / ".git").is_dir():
            source = source / ".git"
        log(f"{repo.slug}: git clone --no-local {source}")
        server_clone(source, plain)
    else:
        log(f"{repo.slug}: git clone {repo.url}")
        _git("clone", "-q", "--no-checkout", repo.url, plain)
    _git("-C", plain, "remote", "set-url", "origin", repo.url)
    _git("-C", plain, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", repo.commit)
    return _verify_and_copy(repo, plain, graph, log)


def _verify_and_copy(repo: RealRepo, plain: Path, graph: Path, log) -> dict:
    head = _git("-C", plain, "rev-parse", "HEAD")
    if head != repo.commit:
        raise RuntimeError(f"{plain}: HEAD is {head}, expected {repo.commit}")
    if commit_graph_files(plain):
        raise RuntimeError(f"{plain}: a commit-graph file exists after cloning")
    packs = pack_files(plain)
    if len(packs) != 1:
        raise RuntimeError(f"{plain}: {len(packs)} packs, expected the server's one")
    for d in repo.dirs:
        if not (plain / d).is_dir():
            raise RuntimeError(f"{plain}: versions dir {d} missing at {repo.commit}")
    log(f"{repo.slug}: copying to {graph.name} and writing a commit-graph")
    shutil.copytree(plain, graph, symlinks=True)
    _git("-C", graph, "commit-graph", "write", "--reachable", quiet=True)
    if not commit_graph_files(graph):
        raise RuntimeError(f"{graph}: git commit-graph write left no file")
    return {
        "repo": repo.slug,
        "commits": int(_git("-C", plain, "rev-list", "--count", "HEAD")),
        "pack_mib": round(packs[0].stat().st_size / 2**20, 1),
    }


def list_lines(root: Path, variant: str, repos: Iterable[RealRepo]) -> list[str]:
    """``repo:versions_dir`` lines, repos relative to *root*."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    return [f"{repo.key}/{variant}:{d}" for repo in repos for d in repo.dirs]


def select(only: list[str] | None) -> list[RealRepo]:
    if not only:
        return list(REPOS)
    wanted = [o.lower() for o in only]
    chosen = [r for r in REPOS if any(w in r.slug.lower() for w in wanted)]
    if not chosen:
        raise SystemExit(f"no repository matches {only}")
    return chosen


def write_lists(root: Path, repos: Iterable[RealRepo] = REPOS) -> None:
    """Write ``<root>/plain.txt`` and ``graph.txt`` for every repository cloned there."""
    present = [r for r in repos if (root / r.key / "plain").is_dir()]
    for variant in VARIANTS:
        lines = list_lines(root, variant, present)
        (root / f"{variant}.txt").write_text(
            "# repo:versions_dir, repos relative to this file\n" + "\n".join(lines) + "\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_clone = sub.add_parser("clone", help="clone the repositories (plain and graph)")
    p_clone.add_argument("--root", type=Path, required=True, help="outside every repository")
    p_clone.add_argument("--mirrors", type=Path, help="local snapshots <owner>+<name>/repo")
    p_clone.add_argument("--only", action="append", help="substring of owner/name; repeatable")
    p_list = sub.add_parser("list", help="print repo:versions_dir lines")
    p_list.add_argument("--root", type=Path, required=True)
    p_list.add_argument("--variant", choices=VARIANTS, default="plain")
    p_list.add_argument("--only", action="append")
    sub.add_parser("table", help="print the Markdown table of repositories")
    args = parser.parse_args(argv)
    if args.command == "clone":
        root = args.root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        for repo in select(args.only):
            facts = clone(repo, root, args.mirrors.resolve() if args.mirrors else None)
            print(f"{facts['repo']}: {facts['commits']} commits, pack {facts['pack_mib']} MiB")
        write_lists(root)
    elif args.command == "list":
        for line in list_lines(args.root, args.variant, select(args.only)):
            print(f"{args.root / line.split(':', 1)[0]}:{line.split(':', 1)[1]}")
    else:
        print("| repository | commit | versions dirs |")
        print("|---|---|---|")
        for repo in REPOS:
            dirs = "<br>".join(f"`{d}`" for d in repo.dirs)
            print(f"| [{repo.slug}]({repo.url}) | `{repo.commit}` | {dirs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
