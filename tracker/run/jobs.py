"""The job queue: a Procrastinate app on the tracker's PostgreSQL, and its task, one source's check.

A check of a source is one job on the source's queue with the queueing lock ``check:<source>``,
so a source is never waiting in the queue twice; its arguments are the source, the due time of
its slot and the config version the clock deferred it under.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import procrastinate
import psycopg
import sqlalchemy as sa
from procrastinate.jobs import Job

from db.workers import CHECK_TASK, QUEUEING_LOCK_PREFIX, Due

# A job that raised (the database went away mid-check, say) is tried again: 5 s, 10 s, 15 s...
CHECK_RETRY = procrastinate.RetryStrategy(max_attempts=6, linear_wait=5)
# libpq keepalives: a database host that vanished is noticed in ~15 s, not after the TCP timeout.
KEEPALIVES: dict[str, str | int] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 5,
}


def conninfo(url: str) -> str:
    """A libpq URI from the tracker's SQLAlchemy URL (postgresql+psycopg://... -> postgresql://...)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{parsed.get_backend_name()} is not PostgreSQL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class CheckJob:
    """What a worker is asked to do: check `source` for its slot due at `due_at`."""

    job_id: int
    attempts: int
    source: str
    due_at: datetime
    config_version: int
    interval: float = 0.0  # the source's interval when deferred (drop mode included)
    failures: int = 0  # its refusals in a row when deferred


class RunsChecks(Protocol):
    """The worker side of the check task."""

    async def run_check(self, job: CheckJob) -> str: ...


async def _autocommit(conn: psycopg.AsyncConnection[object]) -> None:
    # Procrastinate's queries are single statements (its SQL functions): without a transaction
    # around each, a job costs two round trips fewer (no COMMIT after fetch and after finish).
    await conn.set_autocommit(True)


def make_app(url: str, *, pool_size: int = 4) -> procrastinate.App:
    """A Procrastinate app on the database at url, with the check task registered."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(url),
        min_size=1,
        max_size=pool_size,
        kwargs=dict(KEEPALIVES),
        configure=_autocommit,
    )
    app = procrastinate.App(connector=connector)
    app.task(name=CHECK_TASK, pass_context=True, retry=CHECK_RETRY)(check_source)
    return app


async def check_source(
    context: procrastinate.JobContext,
    *,
    source: str,
    due_at: str,
    config_version: int,
    interval: float = 0.0,
    failures: int = 0,
) -> str:
    """The task: hand the job to the worker that fetched it (the app is shared by clock and worker)."""
    worker: RunsChecks = context.additional_context["worker"]
    job = context.job
    assert job.id is not None
    return await worker.run_check(
        CheckJob(
            job.id,
            job.attempts,
            source,
            datetime.fromisoformat(due_at),
            int(config_version),
            float(interval),
            int(failures),
        )
    )


def check_job(due: Due, config_version: int) -> Job:
    """The job that checks a due source."""
    return Job(
        queue=due.queue,
        lock=None,
        queueing_lock=QUEUEING_LOCK_PREFIX + due.source,
        task_name=CHECK_TASK,
        task_kwargs={
            "source": due.source,
            "due_at": due.due_at.isoformat(),
            "config_version": config_version,
            "interval": due.interval,
            "failures": due.failures,
        },
    )


async def defer_checks(app: procrastinate.App, due: Sequence[Due], config_version: int) -> list[Due]:
    """Queue one job per due source; returns those queued (one already waiting is left alone)."""
    if not due:
        return []
    manager = app.job_manager
    try:
        await manager.batch_defer_jobs_async([check_job(d, config_version) for d in due])
        return list(due)
    except procrastinate.exceptions.AlreadyEnqueued:
        pass  # another clock was quicker for one of them: go one by one
    queued: list[Due] = []
    for d in due:
        try:
            await manager.defer_job_async(check_job(d, config_version))
        except procrastinate.exceptions.AlreadyEnqueued:
            continue
        queued.append(d)
    return queued


async def retry_stalled(app: procrastinate.App, *, stalled_after: float) -> list[int]:
    """Put back in the queue the jobs of workers silent for `stalled_after` seconds (killed, cut off)."""
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    retried: list[int] = []
    for job in stalled:
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.ConnectorException:
            continue  # finished or taken back between the two statements
        assert job.id is not None
        retried.append(job.id)
    await manager.prune_stalled_workers(stalled_after)
    return retried
