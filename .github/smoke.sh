#!/bin/sh
# Smoke test of a built wheel on a clean machine: a fresh venv with nothing but the
# wheel and its dependencies (from PyPI), the import, both command forms, and one real
# chain on a repository made here. POSIX sh, so that Alpine's busybox runs it too.
#
#   DIST=dir-with-one-wheel PYTHON=python3 [FREE_THREADED=true] sh .github/smoke.sh
#
# Run by .github/workflows/wheels.yml (every released wheel) and ci.yml (macOS and
# Windows on pull requests); tests/test_workflow.py runs it on the wheel under test.
set -eu
wheel=$(ls "$DIST"/*.whl)
work=$(mktemp -d)
# A clean venv outside the checkout: nothing but the wheel and its dependencies.
"$PYTHON" -m venv "$work/venv"
if [ -d "$work/venv/Scripts" ]; then bin="$work/venv/Scripts"; else bin="$work/venv/bin"; fi
"$bin/python" -m pip install --disable-pip-version-check --quiet "$wheel"
cd "$work"

"$bin/python" -c 'import alembic_git_revisions as m; print(m.__version__, m.__file__)'
"$bin/alembic-git-revisions" --help
"$bin/python" -m alembic_git_revisions --help
if [ "${FREE_THREADED:-}" = true ]; then
  "$bin/python" -c 'import sys, alembic_git_revisions._core; assert not sys._is_gil_enabled(), "importing _core enabled the GIL"'
fi

# One real chain. git only builds the fixture: the package reads the
# repository itself. b_feature is added before a_feature, so a chain that
# follows git history (not file names) puts a_feature last.
mkdir -p repo/migrations/versions
cd repo
git init --quiet
git config user.name ci
git config user.email ci@example.invalid
write_migration() {  # file revision down_revision
  {
    echo "from alembic_git_revisions import get_down_revision"
    echo "revision = \"$2\""
    echo "down_revision = $3"
  } > "migrations/versions/$1"
  git add "migrations/versions/$1"
  git commit --quiet -m "add $1"
}
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
write_migration 0001_base.py 0001 None
export GIT_AUTHOR_DATE="2024-01-02T00:00:00Z" GIT_COMMITTER_DATE="2024-01-02T00:00:00Z"
write_migration b_feature.py bbbb "get_down_revision(revision)"
export GIT_AUTHOR_DATE="2024-01-03T00:00:00Z" GIT_COMMITTER_DATE="2024-01-03T00:00:00Z"
write_migration a_feature.py aaaa "get_down_revision(revision)"
"$bin/alembic-git-revisions" check migrations/versions
"$bin/alembic-git-revisions" migrations/versions
cat migrations/revision_chain.json
"$bin/python" -c 'import json; chain = json.load(open("migrations/revision_chain.json")); assert chain == {"bbbb": "0001", "aaaa": "bbbb"}, chain'
echo "smoke test passed: $(basename "$wheel")"
