"""Shared fixtures: real SQLite files and fresh databases on the test command's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL")


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
