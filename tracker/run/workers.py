"""A worker: takes check jobs from its queues, runs the one check path, drains the alert outbox.

A job is one due slot of one source. The worker first takes the slot's ticket (``check_jobs``,
keyed by source and due time): a slot whose check run already finished is not checked again
(its job was retried after the check committed, or deferred twice by two clocks); a run left
'running' by a worker that died is marked cancelled (it wrote nothing) and the check is done now.
The check writes in one transaction at its end, as in one process; politeness per host goes
through PostgreSQL (tracker/run/gate.py), and every time written is the database's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

# httpcore imports anyio on the first request (~0.3 s): done at start, so that a worker's first
# request to a shop is not sent late after its turn at the host came (see tracker/run/gate.py).
import anyio._backends._asyncio  # noqa: F401
import procrastinate
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import Engine

from db import workers as wdb
from tracker.cadence import BACKOFF_STATUSES, backoff_delay, source_interval
from tracker.config import DEFAULT_QUEUE, Config
from tracker.extract import extract_body
from tracker.fetch import Fetcher
from tracker.notify.outbox import deliver_due, warm_up_channels
from tracker.notify.plan import plan_deliveries
from tracker.pipeline import Pipeline, RunSummary
from tracker.run.clock import DB_ERRORS, first_line
from tracker.run.gate import SharedHostGate
from tracker.run.jobs import KEEPALIVES, CheckJob, conninfo
from tracker.run.shared import REFRESH_EVERY, DbClock, SharedConfig, nap

log = logging.getLogger("tracker")

HEARTBEAT_EVERY = 5.0  # seconds: the registry's last_seen, and Procrastinate's own heartbeat
DELIVER_EVERY = 5.0  # seconds between two passes over the alert outbox
GRACEFUL_STOP = 10.0  # seconds a stopping worker lets its checks finish before abandoning them
_WARM_UP_PAGE = b"""<html><head><script type="application/ld+json">{"@type": "Product",
"name": "New Balance 2002R", "sku": "M2002RDA", "offers": {"price": "150.00", "priceCurrency": "USD",
"availability": "https://schema.org/InStock"}}</script></head><body><h1>2002R</h1>
<span class="price">$150.00</span></body></html>"""


def warm_up() -> None:
    """Run the extractor once before taking jobs: first-use costs (parsers, locale data) would
    otherwise block the worker's event loop during its first checks, just after their turn at a
    host came (see tracker/run/gate.py)."""
    extract_body(_WARM_UP_PAGE, url="https://warm.up/p", content_type="text/html")


class WorkerPipeline(Pipeline):
    """The check path as a worker runs it: the leading clock writes the catalogue, not workers."""

    def sync(self) -> None:
        """Nothing: catalogue rows are the leading clock's to write (see tracker/run/clock.py)."""


class Worker:
    """Runs check jobs from `queues` with up to `concurrency` at once; delivers due alerts."""

    def __init__(
        self,
        engine: Engine,
        app: procrastinate.App,
        shared: SharedConfig,
        *,
        name: str,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        concurrency: int = 20,
        deliver: bool = True,
        on_summary: Callable[[RunSummary], object] | None = None,
    ) -> None:
        self.engine = engine
        self.auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.app = app
        self.shared = shared
        self.name = name
        self.queues = list(queues)
        self.concurrency = concurrency
        self.deliver = deliver
        self.on_summary = on_summary
        self.clock = DbClock()
        self.done = 0
        self.failed = 0
        self.skipped = 0  # jobs whose slot was already checked
        self.summaries: list[RunSummary] = []
        self.pipeline: WorkerPipeline | None = None
        self._pool: AsyncConnectionPool | None = None
        self.gate: SharedHostGate | None = None
        self._kick = asyncio.Event()

    # -- the task ------------------------------------------------------------------------------

    async def run_check(self, job: CheckJob) -> str:
        """Check one source for one slot, once; returns what happened (Procrastinate logs it)."""
        if self.shared.ensure(job.config_version):
            self._apply_config()
        config, pipeline = self.shared.config, self.pipeline
        assert config is not None and pipeline is not None
        src = config.source(job.source)
        if src is None or not src.enabled:
            return f"skipped: {job.source} is no longer an enabled source"
        # Single statements, each atomic by itself: no BEGIN / COMMIT round trips.
        with self.auto.connect() as conn:
            ticket = wdb.take_ticket(conn, job.source, job.due_at, job.job_id, self.name)
            if ticket.done:
                self.skipped += 1
                return f"skipped: the check of {job.source} due {job.due_at.isoformat()} already ran"
            if ticket.run_id is not None and wdb.abandon_run(conn, ticket.run_id):
                log.warning(
                    "%s: run %d was cut off with its worker; checking again", job.source, ticket.run_id
                )

        def started(run_id: int) -> None:
            with self.auto.connect() as conn:
                wdb.link_run(conn, job.source, job.due_at, run_id)

        try:
            summary = await pipeline.check(job.source, on_start=started)
        except Exception:
            # Not the shop's doing (the database went away, a bug): the job is retried.
            self.failed += 1
            log.exception("%s: the check stopped unexpectedly; its job will be retried", job.source)
            raise
        self._after(config, job, summary)
        return summary.status

    def _after(self, config: Config, job: CheckJob, summary: RunSummary) -> None:
        """Backoff of a refusing shop (kept in the schedule, so every clock and worker sees it)."""
        refused = summary.status in BACKOFF_STATUSES
        if refused or job.failures:
            backoff = None
            if refused:
                src = config.source(summary.source)
                interval = job.interval or (source_interval(config, src)[0] if src is not None else 60.0)
                backoff = backoff_delay(interval, job.failures + 1)
                log.warning(
                    "%s: %s %d time(s) in a row, next check in %d s",
                    summary.source,
                    summary.status,
                    job.failures + 1,
                    int(backoff),
                )
            with self.auto.connect() as conn:
                wdb.note_result(conn, summary.source, refused=refused, backoff=backoff)
        self.done += 1
        self.summaries.append(summary)
        del self.summaries[:-1000]
        if summary.events:
            self._kick.set()
        if self.on_summary is not None:
            self.on_summary(summary)

    # -- set-up --------------------------------------------------------------------------------

    def _apply_config(self) -> None:
        config = self.shared.config
        assert config is not None
        if self.pipeline is not None:
            self.pipeline.config = config
            self.pipeline.fetcher.defaults = config.defaults

    async def _wait_for_config(self, stop: asyncio.Event) -> bool:
        said = False
        while not stop.is_set():
            try:
                if self.shared.follow() or self.shared.config is not None:
                    return True
            except DB_ERRORS as exc:
                log.warning("worker: database unreachable (%s); retrying", first_line(exc))
            if not said:
                log.info("waiting for a clock (`tracker scheduler` or `tracker run`) to publish the config")
                said = True
            await nap(stop, 0.5)
        return False

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Registry heartbeat, clock offset, config follow-ups and alert delivery, until stop."""
        last_deliver = 0.0
        last_beat = 0.0
        while not stop.is_set():
            now = time.monotonic()
            try:
                if now - last_beat >= min(HEARTBEAT_EVERY, REFRESH_EVERY):
                    last_beat = now
                    offset = self.clock.measure(self.engine)
                    with self.auto.connect() as conn:
                        wdb.heartbeat(conn, self.name, done=self.done, failed=self.failed, offset_ms=offset)
                    if self.gate is not None:
                        await self.gate.renew()
                    if self.shared.follow():
                        self._apply_config()
                if self.deliver and (self._kick.is_set() or now - last_deliver >= DELIVER_EVERY):
                    self._kick.clear()
                    last_deliver = now
                    config = self.shared.config
                    if config is not None:
                        stats = await deliver_due(self.engine, config, now=self.clock())
                        if stats.sent or stats.failed or stats.retried:
                            log.info(
                                "alerts: %d sent, %d retried, %d failed",
                                stats.sent,
                                stats.retried,
                                stats.failed,
                            )
            except DB_ERRORS as exc:
                log.warning("worker: database unreachable (%s); retrying", first_line(exc))
            except Exception:  # a failed delivery pass is logged; the next one retries
                log.exception("worker housekeeping failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick_or(stop), timeout=1.0)

    async def _kick_or(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._kick.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _run_queue(self) -> None:
        async with self.app.open_async():
            await self.app.run_worker_async(
                queues=self.queues,
                name=self.name,
                concurrency=self.concurrency,
                install_signal_handlers=False,
                fetch_job_polling_interval=1.0,
                delete_jobs=procrastinate.jobs.DeleteJobCondition.SUCCESSFUL,
                additional_context={"worker": self},
                update_heartbeat_interval=HEARTBEAT_EVERY,
                stalled_worker_timeout=30.0,
                shutdown_graceful_timeout=GRACEFUL_STOP,
            )

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until `stop`; the job loop is restarted after the database comes back."""
        if not await self._wait_for_config(stop):
            return
        config = self.shared.config
        assert config is not None
        warm_up()
        if self.deliver:
            await asyncio.to_thread(warm_up_channels, config)
        url = self.engine.url.render_as_string(hide_password=False)
        self._pool = AsyncConnectionPool(
            conninfo(url),
            min_size=1,
            max_size=max(2, min(self.concurrency, 10)),
            kwargs={**KEEPALIVES, "autocommit": True},
            check=AsyncConnectionPool.check_connection,
            open=False,
        )
        await self._pool.open(wait=False)
        gate = self.gate = SharedHostGate(self._pool, self.name)
        self.clock.measure(self.engine)
        async with Fetcher(config.defaults, gate=gate, render=config.render) as fetcher:
            self.pipeline = WorkerPipeline(
                config, self.engine, fetcher, clock=self.clock, planner=plan_deliveries
            )
            with self.auto.connect() as conn:
                wdb.register_worker(conn, self.name, self.queues, self.concurrency)
            log.info(
                "worker %s on queue(s) %s, %d checks at once",
                self.name,
                ", ".join(self.queues),
                self.concurrency,
            )
            side = asyncio.create_task(self._heartbeat(stop), name="worker heartbeat")
            try:
                await self._jobs_until(stop)
            finally:
                stop.set()
                await side
                try:
                    with self.auto.connect() as conn:
                        wdb.unregister_worker(conn, self.name, done=self.done, failed=self.failed)
                except DB_ERRORS:
                    pass
        await self._pool.close()

    async def _jobs_until(self, stop: asyncio.Event) -> None:
        pause = 1.0
        while not stop.is_set():
            queue_task = asyncio.create_task(self._run_queue(), name="procrastinate worker")
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([queue_task, stopper], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set() and not queue_task.done():
                queue_task.cancel()  # Procrastinate stops gracefully: running checks get GRACEFUL_STOP
            stopper.cancel()
            try:
                await queue_task
                pause = 1.0
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
            except DB_ERRORS as exc:
                log.warning(
                    "worker: database unreachable (%s); reconnecting in %.0fs", first_line(exc), pause
                )
            except Exception:  # Procrastinate stops when a side task fails (its heartbeat, its listener)
                log.exception("worker: the job loop stopped; restarting in %.0fs", pause)
            if stop.is_set():
                return
            await nap(stop, pause)
            pause = min(pause * 2, 10.0)
