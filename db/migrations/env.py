"""Alembic environment: runs on the connection the engine hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata
# Tables written as SQL by the PostgreSQL-only workers migration (Procrastinate's and the shared
# schedule's) have no model: autogenerate must not offer to drop them.
SQL_ONLY_TABLES = frozenset(
    {"check_schedule", "check_jobs", "workers", "clock_leader", "config_versions", "host_gates", "host_slots"}
)


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave the SQL-only tables out of autogenerate's comparison."""
    if type_ != "table" or name is None:
        return True
    return name not in SQL_ONLY_TABLES and not name.startswith("procrastinate_")


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as conn:
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                render_as_batch=True,
                include_name=include_name,
            )
            context.run_migrations()
        return
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    context.run_migrations()


run()
