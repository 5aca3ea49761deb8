"""A new SQLite database gets head's schema from one script (db/sqlite_schema.sql), not from Alembic
running every migration: the script is what the migrations leave, written whole or not at all, once
when several processes open one new file, and a database that already holds tables is migrated."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from db.engine import (
    HEAD,
    SQLITE_SCHEMA,
    _create_new_sqlite,
    alembic_upgrade,
    at_head,
    make_engine,
    sqlite_statements,
)
from db.migrations.sqlite_schema import catalogue, from_migrations
from tracker.errors import StorageError

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(query).fetchall()


def _migrated(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}", migrate=False)
    try:
        alembic_upgrade(engine)
    finally:
        engine.dispose()
    return path


def test_the_script_is_what_the_migrations_leave() -> None:
    assert SQLITE_SCHEMA.read_text(encoding="utf-8") == from_migrations(), (
        "db/sqlite_schema.sql is not head's schema: run python -m db.migrations.sqlite_schema"
    )


def test_a_new_database_from_the_script_is_the_migrated_one(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{new}")
    try:
        assert at_head(engine)
    finally:
        engine.dispose()
    migrated = _migrated(tmp_path / "migrated.db")
    assert _rows(new, CATALOGUE) == _rows(migrated, CATALOGUE)
    assert len(catalogue(new)) > 30  # tables and indexes, not an empty file
    assert _rows(new, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    # The file is set up as any other: WAL, and foreign keys enforced on the tracker's connections.
    assert _rows(new, "PRAGMA journal_mode") == [("wal",)]


def test_a_database_with_tables_of_its_own_is_migrated_and_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('mine')")
        conn.commit()
    probe = (
        "import sys\nfrom db.engine import make_engine\n"
        "make_engine(sys.argv[1]).dispose()\nprint('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.strip() == "True"  # Alembic ran: the script is for an empty file only
    assert _rows(path, "SELECT body FROM notes") == [("mine",)]
    migrated = _rows(_migrated(tmp_path / "migrated.db"), CATALOGUE)
    assert [row for row in _rows(path, CATALOGUE) if row[2] != "notes"] == migrated


def test_a_script_that_fails_part_way_leaves_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "schema.sql"
    script.write_text(
        "CREATE TABLE first_one (id INTEGER);\n"
        "CREATE INDEX ix_first ON first_one (id);\n"
        "CREATE TABLE broken (id INTEGER REFERENCES);\n"
        "CREATE TABLE never (id INTEGER);\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("db.engine.SQLITE_SCHEMA", script)
    path = tmp_path / "tracker.db"
    with pytest.raises(StorageError) as error:
        make_engine(f"sqlite:///{path}")
    assert "cannot open the database" in str(error.value)
    assert "syntax error" in str(error.value), error.value
    assert _rows(path, "SELECT name FROM sqlite_master") == []  # the first table went with the rest
    monkeypatch.undo()
    make_engine(f"sqlite:///{path}").dispose()  # and the next start writes the whole schema
    assert _rows(path, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_processes_opening_one_new_file_at_once_write_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    probe = (
        "import sys\nfrom db.engine import make_engine\n"
        "sys.stdin.readline()\nmake_engine(sys.argv[1]).dispose()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", probe, f"sqlite:///{path}"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    for proc in procs:  # all imported and waiting: let them go together
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert _rows(path, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert _rows(path, CATALOGUE) == _rows(_migrated(tmp_path / "migrated.db"), CATALOGUE)
    # What a process that lost the race does once it holds the lock: finds the tables, writes nothing.
    before = _rows(path, CATALOGUE)
    engine = make_engine(f"sqlite:///{path}", migrate=False)
    try:
        assert _create_new_sqlite(engine) is False
    finally:
        engine.dispose()
    assert _rows(path, CATALOGUE) == before


def test_statements_are_cut_whole() -> None:
    script = "-- a comment\n\nCREATE TABLE a (t TEXT DEFAULT 'x;y');\nINSERT INTO a VALUES ('1;\n2');\n"
    assert sqlite_statements(script) == [
        "CREATE TABLE a (t TEXT DEFAULT 'x;y');",
        "INSERT INTO a VALUES ('1;\n2');",
    ]
    with pytest.raises(ValueError, match="unfinished"):
        sqlite_statements("CREATE TABLE a (t TEXT")
