"""Copying a whole tracker database to another one (SQLite to PostgreSQL, typically), history included.

Every table of the models is copied with its ids, in foreign-key order, in one transaction on the
target: it ends with everything or nothing. The target must be empty (freshly migrated). The
multi-machine mode's own tables (schedule, queue) are not copied: they are rebuilt by the clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from db import models  # noqa: F401 (registers the tables)
from tracker.errors import TrackerError

BATCH = 2000


def _not_empty(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [
            t.name
            for t in SQLModel.metadata.sorted_tables
            if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None
        ]


def copy_database(source: Engine, target: Engine) -> Iterator[tuple[str, int]]:
    """Copy every table from source to target; yields (table, rows copied) as each one is done."""
    filled = _not_empty(target)
    if filled:
        raise TrackerError(
            f"the target database already has data ({', '.join(filled)}): copy into a new, empty database"
        )
    with source.connect() as src, target.begin() as dst:
        for table in SQLModel.metadata.sorted_tables:
            copied = 0
            result = src.execution_options(yield_per=BATCH).execute(
                sa.select(table).order_by(*table.primary_key.columns)
            )
            for rows in result.partitions(BATCH):
                dst.execute(table.insert(), [dict(r._mapping) for r in rows])
                copied += len(rows)
            if dst.dialect.name == "postgresql" and "id" in table.c:
                # Ids were copied as they were: the next insert continues after the largest.
                dst.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"  # noqa: S608
                        f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table.name}"
                    )
                )
            yield table.name, copied
