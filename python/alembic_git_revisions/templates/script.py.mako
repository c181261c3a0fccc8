<%!
    # alembic-git-revisions: a new migration that simply extends its directory's line
    # derives its parent from git history; anything else Alembic asks for (a merge, a
    # branch label, --head on an older revision, --splice) keeps Alembic's parents,
    # hardcoded. See template_down_revision and the README ("Alembic features").
    try:
        from alembic_git_revisions import template_down_revision
    except Exception as error:  # never fail `alembic revision`: keep Alembic's parents
        import types

        _failure = f"alembic-git-revisions cannot be imported ({error!r})"

        def template_down_revision(down_revision, **_):
            return types.SimpleNamespace(
                dynamic=False, comment=f"# down_revision is hardcoded: {_failure}"
            )
%>\
<% agr = template_down_revision(down_revision, revision=up_revision, branch_labels=branch_labels) %>\
"""${message}

Revision ID: ${up_revision}
% if not agr.dynamic:
Revises: ${down_revision | comma,n}
% endif
Create Date: ${create_date}

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
% if agr.dynamic:
from alembic_git_revisions import get_down_revision
% endif
% if imports:
${imports}
% endif

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
% if agr.dynamic:
# down_revision is derived from git history: the migration added just before this one.
down_revision: Union[str, Sequence[str], None] = get_down_revision(revision)
% else:
${agr.comment}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
% endif
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
