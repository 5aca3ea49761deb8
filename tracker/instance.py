"""One running tracker per database: `tracker run` holds a lock, a second one refuses to start.

Two schedulers on one database would ask every shop twice. On SQLite the lock is an exclusive
flock on a file beside the database (``tracker.db.lock``) holding who took it (host, process id,
since when); when that file cannot be made (a read-only folder) the database file itself is locked.
On PostgreSQL it is a session-level advisory lock held on a connection of its own, whose holder is
found in pg_stat_activity by its application_name. The operating system or the server frees the
lock when the process ends, however it ends.

acquire() takes the lock for a named purpose (``tracker run``); processes that share a database on
purpose take their own purposes' locks, or none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from db.engine import shown_url, storage_reason
from tracker.errors import StorageError, TrackerError

DEFAULT_PURPOSE = "tracker run"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: the host, its process id, and since when (any may be unknown)."""

    host: str | None
    pid: int | None
    since: datetime | None

    def describe(self) -> str:
        """'host nb-pi, pid 4242, since 2026-12-01 09:30 UTC' (what is known of it)."""
        parts = [f"host {self.host}" if self.host else None, f"pid {self.pid}" if self.pid else None]
        if self.since is not None:
            parts.append(f"since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        return ", ".join(p for p in parts if p) or "a process that did not say who it is"


class InstanceBusy(TrackerError):
    """Another process holds the lock; the message names it."""

    def __init__(self, message: str, holder: Holder) -> None:
        super().__init__(message)
        self.holder = holder


def me(purpose: str = DEFAULT_PURPOSE) -> dict[str, Any]:
    """What this process writes about itself in a lock."""
    return {
        "purpose": purpose,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class InstanceLock:
    """A held lock; release() (or leaving the with block, or the process ending) frees it."""

    def __init__(self, release: Any = None) -> None:
        self._release = release

    def release(self) -> None:
        """Free the lock (once)."""
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(url: str, *, purpose: str = DEFAULT_PURPOSE) -> InstanceLock:
    """Take the one-instance lock of the database at url, or raise InstanceBusy naming its holder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            return InstanceLock()  # a private in-memory database: nobody else can share it
        return _lock_file(Path(path), purpose)
    return _advisory_lock(url, purpose)


# -- SQLite: a lock file beside the database ----------------------------------------------------


def _open_for_lock(db: Path) -> tuple[int, bool]:
    """A descriptor to flock: the lock file (True), else the database itself (False)."""
    try:
        return os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o644), True
    except OSError:
        pass
    try:
        return os.open(db, os.O_RDONLY), False
    except OSError as exc:
        raise StorageError(f"cannot lock the database {db}: {exc.strerror}") from None


def _lock_file(db: Path, purpose: str) -> InstanceLock:
    fd, own_file = _open_for_lock(db)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _holder_from_file(Path(f"{db}.lock"))
        message = f"another {purpose} is using {db} ({holder.describe()}): stop it first"
        raise InstanceBusy(message, holder) from None
    if own_file:
        # Who holds it, for the one refused next; a full disk may refuse the note, not the lock.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me(purpose)).encode(), 0)

    def release() -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return InstanceLock(release)


def _holder_from_file(path: Path) -> Holder:
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
        since = datetime.fromisoformat(note["since"]) if note.get("since") else None
        return Holder(note.get("host"), int(note["pid"]) if note.get("pid") else None, since)
    except (OSError, ValueError, KeyError, TypeError):
        return Holder(None, None, None)


# -- PostgreSQL: a session-level advisory lock ---------------------------------------------------


def lock_key(purpose: str) -> int:
    """The advisory lock key of a purpose: a signed 64-bit number, the same in every process."""
    digest = hashlib.sha256(f"2002r-tracker:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_HOLDER = sa.text(
    "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database()) AND l.classid::bigint = :classid AND l.objid::bigint = :objid"
)


def _application_name(purpose: str) -> str:
    note = me(purpose)
    return f"{purpose} {note['host']}:{note['pid']}"[:63]


def _advisory_lock(url: str, purpose: str) -> InstanceLock:
    engine = sa.create_engine(
        url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"application_name": _application_name(purpose)},
    )
    key = lock_key(purpose)
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise StorageError(f"cannot open the database {shown_url(url)}: {storage_reason(exc)}") from None
    if conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():

        def release() -> None:
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.close()
            engine.dispose()

        return InstanceLock(release)
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(_HOLDER, {"classid": unsigned >> 32, "objid": unsigned & 0xFFFFFFFF}).first()
    conn.close()
    engine.dispose()
    holder = _holder_from_row(row, purpose)
    raise InstanceBusy(
        f"another {purpose} is using {shown_url(url)} ({holder.describe()}): stop it first", holder
    )


def _holder_from_row(row: Any, purpose: str) -> Holder:
    if row is None:
        return Holder(None, None, None)
    name, since = row
    where = str(name or "").removeprefix(purpose).strip()
    host, _, pid = where.rpartition(":")
    return Holder(host or None, int(pid) if pid.isdigit() else None, since)
