"""``python -m alembic_git_revisions``: the same as the console script."""

from alembic_git_revisions.cli import main

raise SystemExit(main())
