"""add a column

Revision ID: 3bd0d12c4e8f
"""
from alembic import op
import sqlalchemy as sa

from alembic_git_revisions import get_down_revision

revision: str = "3bd0d12c4e8f"
down_revision = get_down_revision(revision)
branch_labels: str | None = None


def upgrade():
    op.add_column("account", sa.Column("c0", sa.DateTime))


def downgrade():
    op.drop_column("account", "c0")
