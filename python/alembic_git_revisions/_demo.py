"""``alembic-git-revisions demo``: the multiple-heads problem and its fix, end to end.

Builds a throwaway repository where two branches each add a migration from the same
head, merges them, and runs real Alembic on SQLite: first with hardcoded parents
(Alembic refuses: multiple heads), then with ``get_down_revision`` (a linear chain).
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import sys
import tempfile
from collections.abc import Iterator

from alembic_git_revisions import _chain, _records
from alembic_git_revisions._gitwrite import DemoRepo

_ENV_PY = """\
from alembic import context
from sqlalchemy import create_engine

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

_INI = """\
[alembic]
script_location = %(here)s/migrations
sqlalchemy.url = sqlite:///%(here)s/demo.db
"""


def _migration(revision: str, table: str, parent: str | None, dynamic: bool) -> str:
    if dynamic:
        head = "from alembic_git_revisions import get_down_revision\n\n"
        down = "get_down_revision(revision)"
    else:
        head = ""
        down = repr(parent)
    return (
        f'"""create {table}"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        f"{head}"
        f"revision = {revision!r}\n"
        f"down_revision = {down}\n\n\n"
        "def upgrade() -> None:\n"
        f"    op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))\n\n\n"
        "def downgrade() -> None:\n"
        f"    op.drop_table({table!r})\n"
    )


def _project(dynamic: bool, extra: dict[str, str]) -> dict[str, str]:
    files = {
        "alembic.ini": _INI,
        "migrations/env.py": _ENV_PY,
        "migrations/versions/1a2b3c4d5e6f_create_users.py": _migration(
            "1a2b3c4d5e6f", "users", None, dynamic=False
        ),
    }
    files.update(extra)
    return files


def _branches(root: pathlib.Path, dynamic: bool) -> tuple[DemoRepo, dict[str, str]]:
    """main gets a root migration; feature-a and feature-b each add one from it."""
    repo = DemoRepo(root)
    base = _project(dynamic, {})
    repo.commit("main", base, "Create users")
    fork = repo.branch_tip("main")
    assert fork is not None
    a_file = {
        "migrations/versions/aaaa00000001_add_orders.py": _migration(
            "aaaa00000001", "orders", "1a2b3c4d5e6f", dynamic
        )
    }
    b_file = {
        "migrations/versions/bbbb00000002_add_invoices.py": _migration(
            "bbbb00000002", "invoices", "1a2b3c4d5e6f", dynamic
        )
    }
    a_tip = repo.commit("feature-a", {**base, **a_file}, "Add orders", parents=[fork])
    b_tip = repo.commit("feature-b", {**base, **b_file}, "Add invoices", parents=[fork])
    # feature-a lands first (fast-forward), then feature-b is merged with --no-ff.
    repo.set_branch("main", a_tip)
    merged = {**base, **a_file, **b_file}
    repo.commit("main", merged, "Merge branch 'feature-b'", parents=[a_tip, b_tip])
    repo.checkout("main", merged)
    return repo, merged


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield


def _alembic(root: pathlib.Path, action: str) -> str:
    from alembic import command
    from alembic.config import Config

    out = io.StringIO()
    config = Config(str(root / "alembic.ini"), stdout=out)
    with _quiet_alembic():
        if action == "upgrade":
            command.upgrade(config, "head")
        else:
            command.heads(config)
    return out.getvalue()


def _heading(text: str) -> None:
    print(f"\n=== {text} ===")


def run() -> int:
    """Run the demo; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="agr-demo-") as tmp:
        plain = pathlib.Path(tmp, "plain")
        _branches(plain, dynamic=False)
        _heading("1. Plain Alembic: two branches each add a migration from the same head")
        print("main: create users; feature-a adds orders; feature-b adds invoices;")
        print("both hardcode down_revision = '1a2b3c4d5e6f'. After merging both:")
        try:
            _alembic(plain, "upgrade")
        except Exception as exc:  # alembic raises CommandError
            print(f"$ alembic upgrade head\nFAILED: {exc}")
        else:
            print("unexpected: plain Alembic accepted two heads", file=sys.stderr)
            return 1

        derived = pathlib.Path(tmp, "derived")
        _branches(derived, dynamic=True)
        versions = derived / "migrations" / "versions"
        _heading("2. The same history with down_revision = get_down_revision(revision)")
        chain = _chain.build_chain(versions)
        files = _records.parse_versions_dir(versions)
        print("migrations in git add order:")
        for migration in files:
            kind = "dynamic" if migration.is_dynamic else "static"
            print(f"  {migration.git_sequence}: {migration.filename} ({kind})")
        print("derived chain (revision -> down_revision):")
        for revision, parent in chain.items():
            print(f"  {revision} -> {parent}")
        from alembic_git_revisions import _render, _state

        print("graph (mermaid):")
        print(_render.format_graph(_state.chain_state(versions), "mermaid"))
        print(f"$ alembic heads\n{_alembic(derived, 'heads').rstrip()}")
        _alembic(derived, "upgrade")
        print("$ alembic upgrade head\nOK: upgraded to a single head on SQLite")
        _chain.build_chain.cache_clear()

        _heading("3. check: catching a merge that reorders deployed migrations")
        status = _unsafe_fast_forward(pathlib.Path(tmp))
    return status


def _unsafe_fast_forward(tmp: pathlib.Path) -> int:
    """main has A and B (B deployed); a feature forked before A adds F and merges
    main into itself; main fast-forwards onto that merge. F now sorts before A."""
    from alembic_git_revisions._check import check_append_only

    results = {}
    for label, feature_first in (("unsafe", True), ("safe", False)):
        repo = DemoRepo(tmp / label)
        base = _project(True, {})
        root = repo.commit("main", base, "Create users")
        a = {
            "migrations/versions/aaaa00000001_add_orders.py": _migration(
                "aaaa00000001", "orders", None, dynamic=True
            )
        }
        b = {
            "migrations/versions/bbbb00000002_add_invoices.py": _migration(
                "bbbb00000002", "invoices", None, dynamic=True
            )
        }
        f = {
            "migrations/versions/ffff00000003_add_refunds.py": _migration(
                "ffff00000003", "refunds", None, dynamic=True
            )
        }
        repo.commit("main", {**base, **a}, "Add orders")
        deployed = repo.commit("main", {**base, **a, **b}, "Add invoices")
        repo.tag("deployed", deployed)
        feature = repo.commit("feature", {**base, **f}, "Add refunds", parents=[root])
        parents = [feature, deployed] if feature_first else [deployed, feature]
        merged = {**base, **a, **b, **f}
        message = "Merge main into feature" if feature_first else "Merge feature"
        repo.commit("main", merged, message, parents=parents)
        repo.checkout("main", merged)
        versions = tmp / label / "migrations" / "versions"
        result = check_append_only(versions, base="deployed")
        results[label] = result
        how = (
            "feature merged main (feature first), main fast-forwarded"
            if feature_first
            else "feature merged into main with --no-ff (main first)"
        )
        print(f"$ alembic-git-revisions check {label}/migrations/versions --base deployed")
        print(f"  ({how})")
        print(f"  {result.summary}")
        for finding in result.findings:
            print(f"  - [{finding.kind}] {finding.message}")
    if results["unsafe"].ok or not results["safe"].ok:
        print("unexpected check outcome", file=sys.stderr)
        return 1
    return 0
