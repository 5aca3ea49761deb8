"""Starting the multi-machine processes: `tracker worker`, `tracker scheduler`, and `tracker run` on
PostgreSQL (a clock and a worker in one process, which other workers share the work with)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from db.engine import make_engine
from tracker.config import DEFAULT_QUEUE
from tracker.errors import TrackerError
from tracker.pipeline import RunSummary
from tracker.run.clock import STALLED_AFTER, Clock
from tracker.run.jobs import make_app
from tracker.run.shared import SharedConfig, process_name
from tracker.run.workers import Worker

log = logging.getLogger("tracker")


def require_postgres(url: str, command: str) -> None:
    """Workers and clocks share PostgreSQL; on SQLite, say so in one line."""
    if not url.startswith("postgresql"):
        raise TrackerError(
            f"`tracker {command}` needs PostgreSQL (set DATABASE_URL=postgresql+psycopg://...):"
            " SQLite is one process's database; use `tracker run`"
        )


async def _until_signal(*tasks: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines until SIGINT/SIGTERM (or until they all end)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.gather(*(task(stop) for task in tasks))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _engine(url: str) -> Engine:
    # Migrates to head: one command applies Procrastinate's schema too. No ping per checkout: a
    # connection dropped by a database restart fails once, and every caller here retries.
    return make_engine(url, pre_ping=False)


def run_worker(
    url: str,
    *,
    queues: Sequence[str] = (DEFAULT_QUEUE,),
    concurrency: int = 20,
    name: str | None = None,
    on_summary: Callable[[RunSummary], object] | None = None,
) -> None:
    """`tracker worker`: check jobs from these queues until stopped."""
    engine = _engine(url)
    worker = Worker(
        engine,
        make_app(url, pool_size=4),
        SharedConfig(engine, origin=process_name(name)),
        name=process_name(name),
        queues=queues,
        concurrency=concurrency,
        on_summary=on_summary,
    )
    asyncio.run(_until_signal(worker.serve))


def _clock(url: str, engine: Engine, config_path: Path, name: str, stalled_after: float) -> Clock:
    shared = SharedConfig(engine, path=config_path, origin=name)
    shared.publish_at_start()
    return Clock(engine, make_app(url, pool_size=2), shared, name=name, stalled_after=stalled_after)


def run_clock(
    url: str, config_path: Path, *, name: str | None = None, stalled_after: float = STALLED_AFTER
) -> None:
    """`tracker scheduler`: lead (or stand by) and defer due checks until stopped."""
    engine = _engine(url)
    clock = _clock(url, engine, config_path, process_name(name), stalled_after)
    asyncio.run(_until_signal(clock.serve))


def run_together(
    url: str,
    config_path: Path,
    *,
    concurrency: int = 20,
    on_summary: Callable[[RunSummary], object] | None = None,
) -> None:
    """`tracker run` on PostgreSQL: a clock and a worker on the default queue, in one process."""
    engine = _engine(url)
    name = process_name()
    clock = _clock(url, engine, config_path, name, STALLED_AFTER)
    worker = Worker(
        engine,
        make_app(url, pool_size=4),
        SharedConfig(engine, origin=name),
        name=name,
        queues=(DEFAULT_QUEUE,),
        concurrency=concurrency,
        on_summary=on_summary,
    )
    asyncio.run(_until_signal(clock.serve, worker.serve))
