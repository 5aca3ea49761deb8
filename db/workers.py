"""Writes of the multi-machine mode (PostgreSQL only): the schedule, check tickets, workers, the clock.

Every time here is PostgreSQL's ``now()``, never a machine's own clock, so a worker or a clock
whose clock is wrong cannot reorder anything. The tables are created by the workers migration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

CHECK_TASK = "tracker.check_source"
QUEUEING_LOCK_PREFIX = "check:"


def is_postgres(engine: Engine) -> bool:
    """Whether the engine is PostgreSQL (the only database the multi-machine mode runs on)."""
    return engine.dialect.name == "postgresql"


def db_now(conn: Connection) -> datetime:
    """PostgreSQL's clock: the one time every process agrees on."""
    return conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]


# -- the schedule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """How a source should be scheduled now: its queue, interval and jitter (seconds)."""

    source: str
    queue: str
    interval: float
    jitter: float
    drop_mode: bool = False


@dataclass(frozen=True)
class Due:
    """A source whose check is due: the job to defer for it."""

    source: str
    queue: str
    due_at: datetime
    interval: float
    jitter: float
    failures: int = 0  # refusals in a row so far (the worker backs off from them)


def sync_schedule(conn: Connection, planned: Sequence[Planned], *, stagger: float) -> dict[str, int]:
    """Bring the schedule in line with the wanted sources; returns counts of what changed.

    A new source is first due `stagger` seconds after the one before it (spreading a first start
    over the interval instead of asking every shop at once); a source whose queue, interval or
    jitter changed is due now, as an edit of config.toml does in one process; a removed or
    disabled source leaves the schedule.
    """
    rows = conn.execute(
        sa.text("SELECT source, queue, interval_s, jitter_s, drop_mode FROM check_schedule")
    ).all()
    have = {r.source: r for r in rows}
    wanted = {p.source: p for p in planned}
    gone = sorted(have.keys() - wanted.keys())
    if gone:
        conn.execute(sa.text("DELETE FROM check_schedule WHERE source = ANY(:names)"), {"names": gone})
    added = [p for p in planned if p.source not in have]
    if added:
        conn.execute(
            sa.text(
                "INSERT INTO check_schedule (source, queue, next_due, interval_s, jitter_s, drop_mode)"
                " SELECT s, q, clock_timestamp() + make_interval(secs => o), i, j, d FROM unnest("
                " CAST(:s AS text[]), CAST(:q AS text[]), CAST(:o AS float8[]), CAST(:i AS float8[]),"
                " CAST(:j AS float8[]), CAST(:d AS boolean[])) AS u(s, q, o, i, j, d)"
                " ON CONFLICT (source) DO NOTHING"
            ),
            {
                "s": [p.source for p in added],
                "q": [p.queue for p in added],
                "o": [i * stagger for i in range(len(added))],
                "i": [p.interval for p in added],
                "j": [p.jitter for p in added],
                "d": [p.drop_mode for p in added],
            },
        )
    changed = 0
    for p in planned:
        row = have.get(p.source)
        if row is None or (row.queue, row.interval_s, row.jitter_s, row.drop_mode) == (
            p.queue,
            p.interval,
            p.jitter,
            p.drop_mode,
        ):
            continue
        # Entering drop mode or an edited schedule: check now; leaving drop mode keeps the slot.
        now_due = p.drop_mode or not row.drop_mode
        conn.execute(
            sa.text(
                "UPDATE check_schedule SET queue = :q, interval_s = :i, jitter_s = :j, drop_mode = :d,"
                " next_due = CASE WHEN :now_due THEN LEAST(next_due, clock_timestamp())"
                " ELSE LEAST(next_due, clock_timestamp() + make_interval(secs => :i)) END"
                " WHERE source = :s"
            ),
            {
                "s": p.source,
                "q": p.queue,
                "i": p.interval,
                "j": p.jitter,
                "d": p.drop_mode,
                "now_due": now_due,
            },
        )
        changed += 1
    return {"added": len(added), "removed": len(gone), "changed": changed}


def due_checks(conn: Connection, *, limit: int = 1000) -> tuple[list[Due], list[Due]]:
    """Sources due now: (ready, busy). Busy ones' previous check is still queued or running: their
    slot is skipped (never two checks of a source at once; a slow source never piles up)."""
    busy = {
        str(r[0])[len(QUEUEING_LOCK_PREFIX) :]
        for r in conn.execute(
            sa.text(
                "SELECT queueing_lock FROM procrastinate_jobs"
                " WHERE task_name = :task AND status IN ('todo', 'doing')"
            ),
            {"task": CHECK_TASK},
        )
        if r[0]
    }
    rows = conn.execute(
        sa.text(
            "SELECT source, queue, next_due, interval_s, jitter_s, failures FROM check_schedule"
            " WHERE next_due <= clock_timestamp() ORDER BY next_due LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    due = [Due(r.source, r.queue, r.next_due, r.interval_s, r.jitter_s, r.failures) for r in rows]
    return [d for d in due if d.source not in busy], [d for d in due if d.source in busy]


def advance(conn: Connection, slots: Sequence[tuple[str, datetime, float]]) -> int:
    """Move each (source, due_at, jitter) to its next slot: due_at + interval + jitter, or from now
    when more than an interval behind (a backlog becomes one check). Only a row still at due_at
    moves, so two clocks, or a worker's backoff, never move it twice."""
    if not slots:
        return 0
    result = conn.execute(
        sa.text(
            "UPDATE check_schedule AS s SET last_deferred = clock_timestamp(), next_due = CASE"
            " WHEN s.next_due + make_interval(secs => s.interval_s) > clock_timestamp()"
            " THEN s.next_due + make_interval(secs => s.interval_s + u.jit)"
            " ELSE clock_timestamp() + make_interval(secs => s.interval_s + u.jit) END"
            " FROM unnest(CAST(:names AS text[]), CAST(:dues AS timestamptz[]), CAST(:jits AS float8[]))"
            " AS u(source, due, jit)"
            " WHERE s.source = u.source AND s.next_due = u.due"
        ),
        {"names": [s[0] for s in slots], "dues": [s[1] for s in slots], "jits": [s[2] for s in slots]},
    )
    return int(result.rowcount)


def note_result(conn: Connection, source: str, *, refused: bool, backoff: float | None = None) -> None:
    """After a check: a refusing shop waits `backoff` seconds from now; a healthy answer resets it."""
    if refused:
        conn.execute(
            sa.text(
                "UPDATE check_schedule SET failures = failures + 1,"
                " next_due = GREATEST(next_due, clock_timestamp() + make_interval(secs => :delay))"
                " WHERE source = :s"
            ),
            {"s": source, "delay": backoff or 0.0},
        )
    else:
        conn.execute(
            sa.text("UPDATE check_schedule SET failures = 0 WHERE source = :s AND failures > 0"),
            {"s": source},
        )


# -- tickets: one per due check, so that a check is done once whatever happens to its job --------


@dataclass(frozen=True)
class Ticket:
    """A due check taken by a worker: fresh, or taken before (its run finished or was cut off)."""

    fresh: bool
    run_id: int | None
    run_status: str | None
    attempts: int

    @property
    def done(self) -> bool:
        """The check of this slot already finished (its writes committed): do nothing."""
        return self.run_status is not None and self.run_status not in ("running", "cancelled")


def take_ticket(conn: Connection, source: str, due_at: datetime, job_id: int, worker: str) -> Ticket:
    """Record that this job starts the check of (source, due_at); say if it was started before."""
    row = conn.execute(
        sa.text(
            "INSERT INTO check_jobs AS t (source, due_at, job_id, worker) VALUES (:s, :due, :job, :worker)"
            " ON CONFLICT (source, due_at) DO UPDATE SET attempts = t.attempts + 1,"
            " job_id = EXCLUDED.job_id, worker = EXCLUDED.worker"
            " RETURNING (xmax = 0) AS fresh, run_id, attempts,"
            " (SELECT status FROM check_runs WHERE id = t.run_id) AS status"
        ),
        {"s": source, "due": due_at, "job": job_id, "worker": worker},
    ).one()
    return Ticket(bool(row.fresh), row.run_id, row.status, int(row.attempts))


def link_run(conn: Connection, source: str, due_at: datetime, run_id: int) -> None:
    """Tie the ticket to its check run: the run's status tells a retry whether it finished."""
    conn.execute(
        sa.text("UPDATE check_jobs SET run_id = :run WHERE source = :s AND due_at = :due"),
        {"run": run_id, "s": source, "due": due_at},
    )


def abandon_run(conn: Connection, run_id: int) -> bool:
    """Mark a run whose worker died mid-check as cancelled (it wrote nothing); True if it was running."""
    result = conn.execute(
        sa.text(
            "UPDATE check_runs SET status = 'cancelled', finished_at = clock_timestamp(),"
            " error = 'its worker stopped in the middle of the check; nothing was written; checked again'"
            " WHERE id = :id AND status = 'running'"
        ),
        {"id": run_id},
    )
    return bool(result.rowcount)


def prune_tickets(conn: Connection, *, keep_hours: float = 24.0) -> int:
    """Forget tickets older than a day (the lag statistics read the last minutes)."""
    result = conn.execute(
        sa.text(
            "DELETE FROM check_jobs WHERE started_at < clock_timestamp() - make_interval(secs => :h * 3600)"
        ),
        {"h": keep_hours},
    )
    return int(result.rowcount)


# -- workers' registry ----------------------------------------------------------------------------


def register_worker(conn: Connection, name: str, queues: Sequence[str], concurrency: int) -> None:
    """Add (or revive) a worker in the registry shown by `tracker status` and the health page."""
    conn.execute(
        sa.text(
            "INSERT INTO workers (name, queues, concurrency) VALUES (:n, :q, :c)"
            " ON CONFLICT (name) DO UPDATE SET queues = EXCLUDED.queues, concurrency = EXCLUDED.concurrency,"
            " last_seen = clock_timestamp(), stopped_at = NULL"
        ),
        {"n": name, "q": ",".join(queues), "c": concurrency},
    )


def heartbeat(conn: Connection, name: str, *, done: int, failed: int, offset_ms: float | None) -> datetime:
    """The worker is alive: store its counters; returns the database's time."""
    return conn.execute(
        sa.text(
            "UPDATE workers SET last_seen = clock_timestamp(), jobs_done = :done, jobs_failed = :failed,"
            " clock_offset_ms = :offset, stopped_at = NULL WHERE name = :n RETURNING last_seen"
        ),
        {"n": name, "done": done, "failed": failed, "offset": offset_ms},
    ).scalar_one_or_none() or db_now(conn)


def unregister_worker(conn: Connection, name: str, *, done: int, failed: int) -> None:
    """A worker that stops cleanly says so, with its last counts (listed as stopped for an hour)."""
    conn.execute(
        sa.text(
            "UPDATE workers SET stopped_at = clock_timestamp(), last_seen = clock_timestamp(),"
            " jobs_done = :done, jobs_failed = :failed WHERE name = :n"
        ),
        {"n": name, "done": done, "failed": failed},
    )


def forget_workers(conn: Connection, *, after_hours: float = 1.0) -> int:
    """Drop workers stopped or silent for over an hour from the registry."""
    result = conn.execute(
        sa.text(
            "DELETE FROM workers WHERE COALESCE(stopped_at, last_seen)"
            " < clock_timestamp() - make_interval(secs => :h * 3600)"
        ),
        {"h": after_hours},
    )
    return int(result.rowcount)


# -- the leading clock ----------------------------------------------------------------------------


def lead(conn: Connection, name: str, *, config_version: int, deferred: int = 0, new: bool = False) -> None:
    """Record which clock leads, that it just made a pass (and how many checks it deferred), and
    the config version whose catalogue and schedule it has applied (workers follow up to it)."""
    conn.execute(
        sa.text(
            "INSERT INTO clock_leader (id, name, since, last_pass, deferred, config_version)"
            " VALUES (1, :n, clock_timestamp(), clock_timestamp(), :d, :v)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, last_pass = EXCLUDED.last_pass,"
            " config_version = EXCLUDED.config_version,"
            " since = CASE WHEN :new OR clock_leader.name <> EXCLUDED.name THEN EXCLUDED.since"
            " ELSE clock_leader.since END,"
            " deferred = CASE WHEN :new OR clock_leader.name <> EXCLUDED.name THEN :d"
            " ELSE clock_leader.deferred + :d END"
        ),
        {"n": name, "d": deferred, "new": new, "v": config_version},
    )


def applied_config_version(conn: Connection) -> int:
    """The config version the leading clock has applied (0 before any clock ran)."""
    value = conn.execute(sa.text("SELECT config_version FROM clock_leader WHERE id = 1")).scalar_one_or_none()
    return int(value or 0)


# -- the shared config ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigVersion:
    """A config.toml published for every worker and clock."""

    version: int
    digest: str
    body: str
    origin: str
    published_at: datetime


def digest(body: str) -> str:
    """The config text's fingerprint (SHA-256)."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _version(row: Any) -> ConfigVersion:
    return ConfigVersion(int(row.version), row.digest, row.body, row.origin, row.published_at)


def latest_config(conn: Connection, *, upto: int | None = None) -> ConfigVersion | None:
    """The config every process acts on: the last one published (or the last up to a version)."""
    row = conn.execute(
        sa.text(
            "SELECT version, digest, body, origin, published_at FROM config_versions"
            " WHERE CAST(:upto AS bigint) IS NULL OR version <= :upto ORDER BY version DESC LIMIT 1"
        ),
        {"upto": upto},
    ).first()
    return None if row is None else _version(row)


def latest_config_version(conn: Connection) -> int:
    """The number of the last published config (0 when none): a cheap poll."""
    return int(conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM config_versions")).scalar_one())


def publish_config(conn: Connection, body: str, origin: str) -> ConfigVersion:
    """Publish config text (already validated); the same text as the last one is not published twice."""
    conn.execute(sa.text("LOCK TABLE config_versions IN SHARE ROW EXCLUSIVE MODE"))
    last = latest_config(conn)
    if last is not None and last.digest == digest(body):
        return last
    row = conn.execute(
        sa.text(
            "INSERT INTO config_versions (digest, body, origin) VALUES (:d, :b, :o)"
            " RETURNING version, digest, body, origin, published_at"
        ),
        {"d": digest(body), "b": body, "o": origin},
    ).one()
    conn.execute(sa.text("DELETE FROM config_versions WHERE version < :v - 50"), {"v": row.version})
    return _version(row)
