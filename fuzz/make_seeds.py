"""Regenerate the seed corpora in fuzz/seeds/ from a scratch git repository.

    .venv/bin/python fuzz/make_seeds.py

Needs git and the installed package (for real cache files). The repository is built
with fixed dates and identities, so the seeds come out the same each time.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Fuzz",
    "GIT_AUTHOR_EMAIL": "fuzz@example.com",
    "GIT_COMMITTER_NAME": "Fuzz",
    "GIT_COMMITTER_EMAIL": "fuzz@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

ROOT = '''"""create account table

Revision ID: 1975ea83b712
Revises:
Create Date: 2011-11-08 11:40:27.089406
"""
from alembic import op
import sqlalchemy as sa

revision = "1975ea83b712"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("description", sa.Unicode(200)),
    )


def downgrade() -> None:
    op.drop_table("account")
'''

DYNAMIC = '''"""add a column

Revision ID: {rev}
"""
from alembic import op
import sqlalchemy as sa

from alembic_git_revisions import get_down_revision

revision: str = "{rev}"
down_revision = get_down_revision(revision)
branch_labels: str | None = None


def upgrade():
    op.add_column("account", sa.Column("{col}", sa.DateTime))


def downgrade():
    op.drop_column("account", "{col}")
'''

MERGE = """revision = 'ae1027a6acf'
down_revision = ('1975ea83b712', "27c6a30d7c24",)
# f-strings, annotations and a match statement, which the parser must not trip over
label = f"{revision!r:>{10}} {'nested'}"
match label:
    case "x" | "y":
        pass
    case _:
        x: int = 1
"""

# A hybrid: static, but its parent is a dynamic revision. CRLF line endings and a BOM.
HYBRID = (
    "\ufeffrevision = '27c6a30d7c24'\r\ndown_revision = '3bd0d12c4e8f'\r\n"
    "def upgrade():\r\n    pass\r\n"
).encode("utf-8")

EXTRA_PARSER_SEEDS = {
    "escapes.py": b"revision = 'a\\x41\\u00e9\\N{BULLET}' 'b'\ndown_revision = r'\\d'\n",
    "nested.py": b"x = " + b"(" * 120 + b"1" + b")" * 120 + b"\nrevision = 'n'\n",
    "binop.py": b"x = " + b"a+" * 3000 + b"a\nrevision = 'b'\n",
    "tabs.py": b"if x:\n\tdown_revision = 'a'\nrevision = 't'\n",
    "syntax_error.py": b"revision = 'x'\ndef f(:\n",
    "walrus.py": b"revision = (y := 'w')\ndown_revision = ['a', 'b']\n",
    "latin1.py": b"revision = '\xe9'\n",
}


def git(repo: pathlib.Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True).stdout


def commit(repo: pathlib.Path, message: str, when: int) -> None:
    git(repo, "add", "-A")
    env_date = f"{when} +0000"
    subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo,
        env={**ENV, "GIT_AUTHOR_DATE": env_date, "GIT_COMMITTER_DATE": env_date},
        check=True,
    )


def varint_header(data: bytes, at: int) -> tuple[int, int]:
    """A pack entry's type and the offset just past its size header."""
    byte = data[at]
    kind = (byte >> 4) & 7
    at += 1
    while byte & 0x80:
        byte = data[at]
        at += 1
    return kind, at


def ofs_delta_bytes(pack: bytes, offset: int) -> bytes:
    """The inflated delta of the OFS_DELTA entry at `offset`."""
    kind, at = varint_header(pack, offset)
    assert kind == 6, kind
    byte = pack[at]
    at += 1
    while byte & 0x80:
        byte = pack[at]
        at += 1
    return zlib.decompressobj().decompress(pack[at:])


def write(folder: pathlib.Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main() -> None:
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    with tempfile.TemporaryDirectory() as scratch:
        repo = pathlib.Path(scratch) / "repo"
        versions = repo / "alembic" / "versions"
        versions.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        files = {"1975ea83b712_create_account.py": ROOT.encode()}
        # Enough files that later trees are stored as deltas of earlier ones.
        for i in range(12):
            rev = f"{0x3BD0D12C4E8F + i:012x}"
            files[f"{rev}_add_column_{i}.py"] = DYNAMIC.format(rev=rev, col=f"c{i}").encode()
        files["ae1027a6acf_merge.py"] = MERGE.encode()
        files["27c6a30d7c24_hybrid.py"] = HYBRID
        for n, (name, data) in enumerate(files.items()):
            (versions / name).write_bytes(data)
            commit(repo, f"add {name}", 1_300_000_000 + 3600 * n)
        git(repo, "repack", "-adq", "--window=50", "--depth=50")

        parser_seeds = SEEDS / "parse_module"
        for name in [
            "1975ea83b712_create_account.py",
            "ae1027a6acf_merge.py",
            "27c6a30d7c24_hybrid.py",
            next(n for n in files if "add_column_0" in n),
        ]:
            write(parser_seeds, name, files[name])
        for name, data in EXTRA_PARSER_SEEDS.items():
            write(parser_seeds, name, data)

        # Trees and tree deltas, from the real pack.
        pack_path = next((repo / ".git" / "objects" / "pack").glob("*.pack"))
        pack = pack_path.read_bytes()
        listing = git(repo, "verify-pack", "-v", str(pack_path.with_suffix(".idx"))).decode()
        tree_seeds = SEEDS / "tree_and_delta"
        deltas = 0
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) == 7 and fields[1] == "tree" and deltas < 3:
                oid, offset, base = fields[0], int(fields[4]), fields[6]
                base_bytes = git(repo, "cat-file", "tree", base)
                delta = ofs_delta_bytes(pack, offset)
                target = git(repo, "cat-file", "tree", oid)
                split = struct.pack("<H", len(base_bytes))
                write(tree_seeds, f"tree-delta-{deltas}", split + base_bytes + delta)
                write(tree_seeds, f"tree-{deltas}", struct.pack("<H", len(target)) + target)
                deltas += 1
        assert deltas, "no tree was stored as a delta; add more commits"
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) == 7 and fields[1] == "blob":
                base_bytes = git(repo, "cat-file", "blob", fields[6])
                delta = ofs_delta_bytes(pack, int(fields[4]))
                write(
                    tree_seeds,
                    "blob-delta",
                    struct.pack("<H", len(base_bytes)) + base_bytes + delta,
                )
                break

        # The whole pack with its index, for the pack reader.
        idx = pack_path.with_suffix(".idx").read_bytes()
        write(SEEDS / "pack_read", "pack", struct.pack("<I", len(idx)) + idx + pack)

        # Real cache files, written by the library; the fuzz target frames bodies
        # itself (mode byte 1 = history, 2 = directory), and mode 0 is the raw file.
        cache = pathlib.Path(scratch) / "cache"
        # The directory cache leaves out files changed in the last two seconds.
        time.sleep(3)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, alembic_git_revisions as a; a.parse_versions_dir(sys.argv[1]); "
                "a.build_chain(sys.argv[1])",
                str(versions),
            ],
            env={**ENV, "ALEMBIC_GIT_REVISIONS_CACHE": str(cache)},
            check=True,
        )
        cache_seeds = SEEDS / "cache_decode"
        written = sorted(cache.rglob("*.bin"))
        assert written, "the library wrote no cache file"
        for path in written:
            raw = path.read_bytes()
            kind, mode = (
                ("history", b"\x01") if path.name.startswith("history") else ("dir", b"\x02")
            )
            write(cache_seeds, f"raw-{kind}.bin", b"\x00" + raw)
            write(cache_seeds, f"body-{kind}.bin", mode + raw[12:-8])


if __name__ == "__main__":
    main()
