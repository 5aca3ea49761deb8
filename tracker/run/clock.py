"""The clock: one leader among the running clocks defers each due check as a job, once.

Leadership is a PostgreSQL advisory lock held by one session: the leader's process dying (or
its connection) releases it, and a standby, trying every ``tick`` seconds, takes over at once.
The schedule lives in the database (``check_schedule``): intervals with jitter, the backoff a
worker sets after a refusing shop, drop mode and config edits survive a change of leader, and a
standby continues the very slots the old leader was at.

Nothing twice, nothing lost: the leader defers a due source's job with the queueing lock
``check:<source>`` (never two waiting), skips a source whose previous check is still queued or
running, then moves the slot on with a conditional UPDATE (only a row still at that due time
moves). A leader killed between the two leaves the slot due: the next leader defers it again,
and the worker's ticket on (source, due time) runs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass

import procrastinate
import psycopg
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db import store
from db import workers as wdb
from tracker.cadence import drop_jitter, source_interval
from tracker.config import Config
from tracker.releases.drops import drop_plan
from tracker.run.jobs import KEEPALIVES, conninfo, defer_checks, retry_stalled
from tracker.run.shared import WATCH_EVERY, DbClock, SharedConfig, nap

log = logging.getLogger("tracker")

LEADER_LOCK_KEY = 0x2002_0002
STALLED_AFTER = 30.0  # seconds without a worker's heartbeat before its jobs are retried elsewhere
FIRST_RUN_STAGGER = 0.2  # seconds between the first checks of new sources (at most)
# Errors of a database that went away (restart, network): wait, reconnect, carry on.
DB_ERRORS = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    psycopg.OperationalError,
    OSError,
    procrastinate.exceptions.ConnectorException,
)


def planned(config: Config, drops: dict[str, float]) -> list[wdb.Planned]:
    """How each enabled source is scheduled now: its queue, interval and jitter, drop mode included."""
    out = []
    for src in config.sources:
        if not src.enabled:
            continue
        interval, jitter = source_interval(config, src)
        fast = drops.get(src.name)
        if fast is not None:
            out.append(wdb.Planned(src.name, src.queue, fast, drop_jitter(jitter, fast), True))
        else:
            out.append(wdb.Planned(src.name, src.queue, interval, jitter))
    return out


@dataclass
class _Timers:
    """Monotonic times of the clock's periodic duties."""

    watch: float = 0.0
    refresh: float = 0.0
    drops: float = 0.0
    stalled: float = 0.0
    prune: float = 0.0


class Clock:
    """Elects itself leader (or waits as a standby) and, while leading, defers due checks."""

    def __init__(
        self,
        engine: Engine,
        app: procrastinate.App,
        shared: SharedConfig,
        *,
        name: str,
        tick: float = 0.5,
        stalled_after: float = STALLED_AFTER,
    ) -> None:
        self.engine = engine
        self.auto = engine.execution_options(isolation_level="AUTOCOMMIT")  # single statements
        self.app = app
        self.shared = shared
        self.name = name
        self.tick = tick
        self.stalled_after = stalled_after
        self.clock = DbClock()
        self.leading = False
        self.deferred = 0
        self.drops: dict[str, float] = {}
        self._applied_version = 0
        self._lock_conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._app_open = False
        self._timers = _Timers()

    # -- leadership -------------------------------------------------------------------------

    async def _connect_lock(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._lock_conn is None or self._lock_conn.closed:
            url = self.engine.url.render_as_string(hide_password=False)
            info = make_conninfo(conninfo(url), **KEEPALIVES)
            conn = await psycopg.AsyncConnection.connect(info, autocommit=True)
            # The server notices a vanished leader machine in ~15 s instead of hours.
            await conn.execute(
                "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 5"
            )
            self._lock_conn = conn
        return self._lock_conn

    async def _hold_lead(self) -> bool:
        """Become leader if nobody is, or check we still are (our session is alive)."""
        conn = await self._connect_lock()
        async with asyncio.timeout(10):
            if self.leading:
                await conn.execute("SELECT 1")
                return True
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,))
            row = await cur.fetchone()
        return bool(row and row[0])

    async def _step_down(self, *, quiet: bool = False) -> None:
        was, self.leading = self.leading, False
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
        if was:
            log.log(logging.INFO if quiet else logging.WARNING, "clock %s is no longer leading", self.name)

    # -- one pass ----------------------------------------------------------------------------

    def apply_config(self, config: Config) -> dict[str, int]:
        """Catalogue rows and the schedule in line with the config (and drop mode)."""
        with Session(self.engine) as session, session.begin():
            store.sync_catalogue(session, config.colorways, config.sources)
        return self._sync_schedule(config)

    def _sync_schedule(self, config: Config) -> dict[str, int]:
        plan = planned(config, self.drops)
        shortest = min((p.interval for p in plan), default=1.0)
        stagger = min(FIRST_RUN_STAGGER, shortest / max(1, len(plan)))
        with self.engine.begin() as conn:
            changes = wdb.sync_schedule(conn, plan, stagger=stagger)
        if any(changes.values()):
            log.info(
                "schedule: %d sources added, %d removed, %d changed",
                changes["added"],
                changes["removed"],
                changes["changed"],
            )
        return changes

    def apply_drop_mode(self, config: Config) -> dict[str, float]:
        """Check the sources carrying a colorway faster around its release, then go back to normal."""
        with Session(self.engine) as session:
            plan = drop_plan(session, config, self.clock())
        if plan != self.drops:
            for name in plan.keys() - self.drops.keys():
                log.info("drop mode: %s checked every %ss", name, int(plan[name]))
            for name in self.drops.keys() - plan.keys():
                log.info("drop mode over: %s back to its interval", name)
            self.drops = plan
            self._sync_schedule(config)
        return plan

    async def defer_due(self) -> int:
        """Queue a job for every due source; move every due slot on. Returns how many were queued."""
        with self.auto.connect() as conn:
            due, busy = wdb.due_checks(conn)
        queued = await defer_checks(self.app, due, self.shared.version)
        slots = [(d.source, d.due_at, random.uniform(0, d.jitter)) for d in [*queued, *busy]]
        if slots:
            with self.auto.connect() as conn:
                wdb.advance(conn, slots)
        return len(queued)

    async def lead_pass(self) -> int:
        """One pass of the leader: config, drop mode, due checks, stalled jobs, housekeeping."""
        now = time.monotonic()
        t = self._timers
        new_config = self.shared.version != self._applied_version
        if now - t.refresh >= 1.0:
            t.refresh = now
            new_config = self.shared.refresh() or new_config
        config = self.shared.config
        if config is None:
            return 0
        if new_config:
            self.apply_config(config)
            self._applied_version = self.shared.version
        if now - t.drops >= min(60.0, config.drops.interval):
            t.drops = now
            self.apply_drop_mode(config)
        queued = await self.defer_due()
        self.deferred += queued
        with self.auto.connect() as conn:
            wdb.lead(conn, self.name, deferred=queued, config_version=self._applied_version)
        if now - t.stalled >= 5.0:
            t.stalled = now
            retried = await retry_stalled(self.app, stalled_after=self.stalled_after)
            if retried:
                log.warning("%d jobs of silent workers put back in the queue: %s", len(retried), retried)
        if now - t.prune >= 600.0:
            t.prune = now
            with self.engine.begin() as conn:
                wdb.prune_tickets(conn)
                wdb.forget_workers(conn)
        return queued

    async def step(self) -> None:
        """One tick: publish an edited config, hold or seek the lead, and lead a pass."""
        now = time.monotonic()
        if now - self._timers.watch >= WATCH_EVERY:
            self._timers.watch = now
            self.shared.publish_if_edited()
            self.clock.measure(self.engine)
        leading = await self._hold_lead()
        if leading and not self._app_open:
            await self.app.open_async()  # its pool replaces connections a restarted database dropped
            self._app_open = True
        if leading and not self.leading:
            self.leading = True
            self._applied_version = 0  # a new leader applies the config and schedule afresh
            self.drops = {}
            self._timers = _Timers(watch=self._timers.watch)
            with self.engine.begin() as conn:
                wdb.lead(conn, self.name, new=True, config_version=0)
            log.info("clock %s is leading", self.name)
        if self.leading:
            await self.lead_pass()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; a database that goes away is waited for and reconnected to."""
        log.info("clock %s started (standby until it holds the lead)", self.name)
        pause = self.tick
        try:
            while not stop.is_set():
                try:
                    await self.step()
                    pause = self.tick
                except DB_ERRORS as exc:
                    await self._step_down()
                    pause = min(max(pause * 2, 1.0), 10.0)
                    log.warning("clock: database unreachable (%s); retrying in %.0fs", first_line(exc), pause)
                except Exception:  # a bug in one pass must not stop the schedule: log, try again
                    log.exception("clock: the pass failed; trying again")
                    pause = min(max(pause * 2, 1.0), 10.0)
                await nap(stop, pause)
        finally:
            await self._step_down(quiet=True)
            if self._app_open:
                await self.app.close_async()


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (a database error's first line says what happened)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
