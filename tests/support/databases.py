"""Real PostgreSQL and MariaDB for the tests (.ci/run installs and starts them and sets the URLs)."""

from __future__ import annotations

import os

import pytest

# Real databases: .ci/run installs and starts them and sets these variables. Outside CI, tests that need a
# database nobody configured are skipped by these marks (in CI, with CI set, they run and fail loudly instead).
needs_postgres = pytest.mark.skipif(
    not (os.environ.get("CASEHUB_TEST_POSTGRES_URL") or os.environ.get("CI")),
    reason="no PostgreSQL configured (set CASEHUB_TEST_POSTGRES_URL; .ci/run does)",
)
needs_mariadb = pytest.mark.skipif(
    not (os.environ.get("CASEHUB_TEST_MARIADB_URL") or os.environ.get("CI")),
    reason="no MariaDB configured (set CASEHUB_TEST_MARIADB_URL; .ci/run does)",
)


def _database_url(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"{variable} is not set: .ci/run must install and start {what}")
    return url


@pytest.fixture
def postgres_url():
    """A real PostgreSQL (CASEHUB_TEST_POSTGRES_URL); use with @needs_postgres."""
    return _database_url("CASEHUB_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture
def mariadb_url():
    """A real MariaDB (CASEHUB_TEST_MARIADB_URL); use with @needs_mariadb."""
    return _database_url("CASEHUB_TEST_MARIADB_URL", "MariaDB")
