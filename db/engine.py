"""The database engine: SQLite (WAL) or PostgreSQL, migrated to head on open; storage errors in one line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from tracker.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# Head's schema for a new SQLite database, as the migrations leave it: one script in one transaction
# instead of loading Alembic and running every migration (python -m db.migrations.sqlite_schema
# writes it; tests/test_sqlite_schema.py checks it against the migrations).
SQLITE_SCHEMA = Path(__file__).parent / "sqlite_schema.sql"
_migrate_lock = threading.Lock()
# Several processes (workers, clocks, the dashboard) may start at once against one PostgreSQL:
# one migrates while the others wait on this transaction-scoped advisory lock, then find head.
MIGRATION_LOCK_KEY = 0x2002_0001


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def shown_url(url: str | sa.URL) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a database URL)"


def storage_reason(exc: BaseException) -> str:
    """What the database said, on one line: "database or disk is full", "Connection refused"..."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split("\n", 1)[0].split()) or type(orig).__name__
    return text[:300]


def is_storage_error(exc: BaseException) -> bool:
    """Whether exc says the database itself is unusable (full, read-only, locked, gone), not a bug."""
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(exc, sa.exc.DatabaseError) and "readonly" in storage_reason(exc).lower()
    )


def make_engine(url: str, *, migrate: bool = True, pre_ping: bool = True) -> Engine:
    """An engine for url; SQLite gets WAL, foreign keys and a busy timeout; migrations applied.

    A database that cannot be opened or migrated is one StorageError naming the URL (no password).
    pre_ping=False saves a round trip per checkout (workers, the clock): a connection a restarted
    server dropped then fails once, SQLAlchemy discards the pool, and the caller's retry reconnects.
    """
    try:
        return _make_engine(url, migrate=migrate, pre_ping=pre_ping)
    except (sa.exc.DBAPIError, OSError) as exc:
        raise StorageError(f"cannot open the database {shown_url(url)}: {storage_reason(exc)}") from None


def _make_engine(url: str, *, migrate: bool, pre_ping: bool) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
        if path in ("", ":memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = pre_ping
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
    return engine


# The newest migration. A database already there opens without loading Alembic and reading every
# migration script (half a second of each command's start); tests/test_cli_imports.py keeps it in step.
HEAD = "f4c1a9e2b7d3"


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at HEAD (False when it has no version table yet)."""
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except sa.exc.OperationalError:
        return False
    except sa.exc.ProgrammingError:  # PostgreSQL: no such table yet
        return False
    return version == HEAD


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        # Alembic's config interpolates %: a URL such as ?options=-csearch_path%3Dx must be escaped.
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to head: nothing to load when it is there, head's schema in one script for
    a new SQLite database, else every Alembic migration still to run."""
    if at_head(engine):
        return
    # (A database another process has just written the schema into is at head too.)
    if engine.dialect.name == "sqlite" and (_create_new_sqlite(engine) or at_head(engine)):
        return
    alembic_upgrade(engine)


def sqlite_statements(script: str) -> list[str]:
    """The statements of a SQL script, each whole (a ";" inside a quoted text does not end one)."""
    import sqlite3

    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"an unfinished statement at the end of the script: {pending.strip()[:80]}")
    return statements


def _create_new_sqlite(engine: Engine) -> bool:
    """Head's schema (SQLITE_SCHEMA) written into a SQLite database that holds no table yet, all of it
    or nothing in one transaction; False, with nothing done, when the database already has tables.

    The write lock is taken first (BEGIN IMMEDIATE), so of several processes opening one new file at
    once, one writes the schema and the others, after waiting on it, find the tables there.
    """
    import sqlite3

    statements = sqlite_statements(SQLITE_SCHEMA.read_text(encoding="utf-8"))
    # Connected through SQLAlchemy (a file that cannot be opened is its OperationalError, as anywhere
    # else), the script run on the driver's own connection, in a transaction of its own.
    with _migrate_lock, engine.connect() as conn:
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        statement = "BEGIN IMMEDIATE"
        try:
            cursor = raw.cursor()
            cursor.execute(statement)
            try:
                if cursor.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raw.rollback()
                    return False
                for statement in statements:  # the one that fails is named in the error
                    cursor.execute(statement)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
        except sqlite3.Error as exc:
            # As SQLAlchemy's own errors are: make_engine says it in one line (disk full, read-only).
            raise sa.exc.OperationalError(statement[:200], None, exc) from exc
    return True


def alembic_upgrade(engine: Engine) -> None:
    """Run every Alembic migration the database has not had yet."""
    from alembic import command

    with _migrate_lock, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
