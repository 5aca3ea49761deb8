"""Shared fixtures: real SQLite files and fresh databases on the test command's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL")

# The test files that take longest (seconds in a 4-process run on 2 cores) go first, so the parallel
# run (scripts/test.sh: one file per process at a time, --no-loadscope-reorder) never ends waiting on
# one of them started last. A file not listed counts as short and keeps its place.
LONG_FILES = {
    "test_crash.py": 233,
    "test_workers.py": 219,
    "test_render.py": 160,
    "test_browser_shops.py": 127,
    "test_browser.py": 107,
    "test_browser_demo.py": 106,
    "test_live.py": 95,
    "test_instance.py": 79,
    "test_add.py": 78,
    "test_storage.py": 78,
    "test_shops_browser.py": 65,
    "test_fuzz.py": 65,
    "test_browser_access.py": 58,
    "test_faults.py": 52,
    "test_cli.py": 40,
    "test_alerts_crash.py": 35,
    "test_config_releases.py": 33,
    "test_dashboard_security.py": 32,
    "test_dashboard.py": 28,
    "test_drops.py": 23,
    "test_cli_imports.py": 20,
    "test_pool.py": 19,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: each file's tests keep their order)."""
    items.sort(key=lambda item: -LONG_FILES.get(item.path.name, 0))


def _fresh_pg_database() -> Iterator[str]:
    if not PG_ADMIN:
        pytest.skip("PostgreSQL tests need TEST_PG_ADMIN_URL (scripts/test.sh starts a server)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a new, empty PostgreSQL database, dropped after the test."""
    yield from _fresh_pg_database()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """The same test on a real SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/tracker.db"
    else:
        yield from _fresh_pg_database()
