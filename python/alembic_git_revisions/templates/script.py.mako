"""${message}

Revision ID: ${up_revision}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from alembic_git_revisions import get_down_revision
${imports if imports else ""}

# revision identifiers, used by Alembic. down_revision is derived from git history:
# the migration added just before this one (see alembic-git-revisions-rs).
revision: str = ${repr(up_revision)}
down_revision: Union[str, None] = get_down_revision(revision)
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
