"""Shared fixtures and options of the test suite.

* Git is isolated from the user's and the system's configuration for the whole
  process (see ``gitrepo.ISOLATED_GIT_ENV``): the repositories the tests build, the
  reference package's ``git`` subprocesses and the package under test all see the
  same, default, configuration.
* ``--run-slow`` runs the tests marked ``slow`` (long differential campaigns).
* ``alembic_envs`` provides ``newest_alembic``, ``oldest_alembic`` and ``alembic_env``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator

import gitrepo
import pytest
from reference import load_reference_chain

# The Alembic environments (newest, oldest declared) as session fixtures.
pytest_plugins = ["alembic_envs"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (long differential campaigns)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _isolated_git() -> Iterator[None]:
    """Every git run in this process (ours, the reference's, the tests') is isolated."""
    with pytest.MonkeyPatch.context() as patch:
        for name in gitrepo.LEAKY_GIT_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in gitrepo.ISOLATED_GIT_ENV.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def reference() -> types.ModuleType:
    """alembic-git-revisions 13's ``_chain`` module (the oracle), see ``reference.py``."""
    return load_reference_chain()
