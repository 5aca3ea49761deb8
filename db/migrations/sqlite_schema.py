"""Head's schema for a new SQLite database, written from the migrations: python -m db.migrations.sqlite_schema

A new SQLite database gets this one script (db/sqlite_schema.sql) in one transaction instead of
Alembic running every migration (db.engine.upgrade). The script is what the migrations leave in
SQLite's catalogue, in order; tests/test_sqlite_schema.py fails when it is not, and says to run this.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from db.engine import HEAD, SQLITE_SCHEMA, alembic_upgrade, make_engine

# Tables before the indexes, triggers and views that name them.
_KINDS = ("table", "index", "trigger", "view")


def catalogue(path: Path) -> list[str]:
    """The SQL of everything a SQLite database holds (its own objects left out), tables first."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"
        ).fetchall()
    return [sql for kind in _KINDS for (found, sql) in rows if found == kind]


def from_migrations() -> str:
    """The script: a new database migrated to head by Alembic, read back from its catalogue."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head.db"
        engine = make_engine(f"sqlite:///{path}", migrate=False)
        try:
            alembic_upgrade(engine)
        finally:
            engine.dispose()
        statements = catalogue(path)
    lines = [
        "-- Head's schema for a new SQLite database, as the migrations leave it.",
        "-- Written by: python -m db.migrations.sqlite_schema (do not edit by hand).",
        "",
    ]
    lines += [f"{sql};\n" for sql in statements]
    # HEAD is the newest migration's own id (hex), not outside text.
    lines.append(f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD}');")  # noqa: S608
    return "\n".join(lines) + "\n"


def main() -> None:
    SQLITE_SCHEMA.write_text(from_migrations(), encoding="utf-8")
    print(f"wrote {SQLITE_SCHEMA}")


if __name__ == "__main__":
    main()
