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
    "test_workers.py": 194,
    "test_crash.py": 147,
    "test_render.py": 145,
    "test_live.py": 88,
    "test_browser_shops.py": 87,
    "test_browser.py": 81,
    "test_browser_demo.py": 75,
    "test_alerts.py": 60,
    "test_browser_access.py": 50,
    "test_faults.py": 43,
    "test_fuzz.py": 41,
    "test_instance.py": 37,
    "test_add.py": 35,
    "test_storage.py": 34,
    "test_shops_browser.py": 28,
    "test_dashboard.py": 28,
    "test_config_releases.py": 27,
    "test_price_cache.py": 24,
    "test_dashboard_security.py": 22,
    "test_limits.py": 21,
    "test_fetch.py": 20,
    "test_cli.py": 20,
    "test_alerts_crash.py": 18,
    "test_demo.py": 16,
    "test_cli_imports.py": 16,
    "test_pool.py": 15,
    "test_pipeline.py": 13,
    "test_workers_parts.py": 13,
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
