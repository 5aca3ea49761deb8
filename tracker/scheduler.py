"""The long-running tracker: one APScheduler job per source, alert delivery, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from db.engine import is_storage_error, storage_reason
from tracker.cadence import (
    BACKOFF_STATUSES,
    MAX_BACKOFF,
    MAX_STORAGE_BACKOFF,
    backoff_delay,
    drop_jitter,
    source_interval,
)
from tracker.config import Config, load_config, missing_secrets
from tracker.config import Source as SourceConfig
from tracker.errors import ConfigError
from tracker.notify.digest import plan_weekly_digest
from tracker.pipeline import Pipeline, RunSummary
from tracker.releases.drops import drop_plan

log = logging.getLogger("tracker")

Deliver = Callable[[], Awaitable[object]]

__all__ = ["BACKOFF_STATUSES", "MAX_BACKOFF", "Service", "backoff_delay", "source_interval"]

# How often the weekly digest's hour is looked for: a digest goes out within a minute of it.
DIGEST_EVERY = 60.0


def restart_keys(old: Config, new: Config) -> list[str]:
    """The changed keys a running tracker cannot apply: the database, the dashboard's address, workers."""
    keys = []
    if new.database_url != old.database_url:
        keys.append("database_url")
    for key in ("host", "port"):
        if getattr(new.dashboard, key) != getattr(old.dashboard, key):
            keys.append(f"dashboard.{key}")
    if new.defaults.extract_workers != old.defaults.extract_workers:
        keys.append("defaults.extract_workers")
    return keys


class Service:
    """Schedules every enabled source; a failing source is recorded and never stops another."""

    def __init__(
        self,
        config: Config,
        pipeline: Pipeline,
        *,
        deliver: Deliver | None = None,
        deliver_every: float = 5.0,
        on_summary: Callable[[RunSummary], None] | None = None,
        config_path: Path | None = None,
        watch_every: float = 5.0,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.watch_every = watch_every
        self._config_stamp = self._stamp()
        self.pipeline = pipeline
        self.deliver = deliver
        self.deliver_every = deliver_every
        self.on_summary = on_summary
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.summaries: list[RunSummary] = []
        self._stop = asyncio.Event()
        self._delivering = asyncio.Lock()
        self._running: set[asyncio.Task[object]] = set()
        self.failures: dict[str, int] = {}
        # Sources in drop mode now, with their fast interval (see apply_drop_mode).
        self.drop_intervals: dict[str, float] = {}
        # Why the database cannot be written, while it cannot (logged once when it starts and ends).
        self.storage_down: str | None = None

    def _track(self) -> asyncio.Task[object] | None:
        """Remember the running task, so that a shutdown can cancel it."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        return task

    async def run_source(self, name: str) -> None:
        """Job body: one check; anything unexpected is logged with the source, not raised."""
        task = self._track()
        try:
            summary = await self.pipeline.check(name)
        except asyncio.CancelledError:
            if self._stop.is_set():
                return  # stopped by shutdown: the run says "cancelled"; nothing to report
            raise
        except Exception:  # one broken source must never stop the scheduler
            log.exception("check of %s failed unexpectedly", name)
            return
        finally:
            if task is not None:
                self._running.discard(task)
        self.summaries.append(summary)
        del self.summaries[:-1000]
        self._note_storage(summary)
        self._back_off(name, summary.status)
        if self.on_summary:
            self.on_summary(summary)
        if summary.events and self.deliver is not None:
            await self.run_delivery()

    def _note_storage(self, summary: RunSummary) -> None:
        """Say once that the database cannot be written, and once that it can again."""
        if summary.status == "storage_error":
            if self.storage_down is None:
                self.storage_down = summary.error or "storage error"
                log.error("%s: checks wait and try again (nothing is recorded meanwhile)", self.storage_down)
        elif self.storage_down is not None and summary.status != "cancelled":
            log.info("the database can be written again: checks are recorded as before")
            self.storage_down = None

    def _back_off(self, name: str, status: str) -> None:
        if status not in BACKOFF_STATUSES:
            self.failures.pop(name, None)
            return
        failures = self.failures[name] = self.failures.get(name, 0) + 1
        job = self.scheduler.get_job(f"source:{name}")
        src = self.config.source(name)
        if job is None or src is None:
            return
        interval = self.drop_intervals.get(name) or source_interval(self.config, src)[0]
        longest = MAX_STORAGE_BACKOFF if status == "storage_error" else MAX_BACKOFF
        delay = backoff_delay(interval, failures, longest=longest)
        job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))
        level = logging.DEBUG if status == "storage_error" else logging.WARNING
        log.log(level, "%s: %s %d time(s) in a row, next check in %d s", name, status, failures, int(delay))

    async def run_delivery(self) -> None:
        """Deliver due alerts; one delivery pass at a time."""
        if self.deliver is None:
            return
        task = self._track()
        try:
            async with self._delivering:
                await self.deliver()
        except asyncio.CancelledError:
            if self._stop.is_set():
                # A message being sent finishes and is recorded (its thread is waited for); the
                # rest stay in the outbox for the next start.
                log.info("alert delivery stopped by shutdown; unsent alerts wait in the outbox")
                return
            raise
        except Exception as exc:
            if not is_storage_error(exc):
                log.exception("alert delivery failed")
            elif self.storage_down is None:
                log.error("alert delivery waits: storage error: %s", storage_reason(exc))
        finally:
            if task is not None:
                self._running.discard(task)

    def _add_source_job(self, src: SourceConfig, first_run: datetime) -> None:
        interval, jitter = source_interval(self.config, src)
        self.scheduler.add_job(
            self.run_source,
            IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC),
            args=[src.name],
            id=f"source:{src.name}",
            name=src.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(30, int(interval)),
            next_run_time=first_run,
            replace_existing=True,
        )

    def schedule(self) -> None:
        """Add one job per enabled source (first run now), drop-mode planning, delivery, config watch."""
        now = datetime.now(UTC)
        for i, src in enumerate(s for s in self.config.sources if s.enabled):
            self._add_source_job(src, now + timedelta(seconds=0.2 * i))
        if self.config_path is not None:
            self.scheduler.add_job(
                self.reload_if_changed,
                IntervalTrigger(seconds=self.watch_every, timezone=UTC),
                id="config:watch",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.add_job(
            self._drop_mode_job,
            IntervalTrigger(seconds=min(60.0, self.config.drops.interval), timezone=UTC),
            id="drops:plan",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )
        self.scheduler.add_job(
            self.run_weekly_digest,
            IntervalTrigger(seconds=DIGEST_EVERY, timezone=UTC),
            id="alerts:weekly_digest",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )
        if self.deliver is not None:
            self.scheduler.add_job(
                self.run_delivery,
                IntervalTrigger(seconds=self.deliver_every, timezone=UTC),
                id="alerts:deliver",
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )

    async def run_weekly_digest(self) -> int | None:
        """Plan the weekly digest when its hour has come (on the pipeline's clock), then deliver it."""
        engine = getattr(self.pipeline, "engine", None)
        if engine is None or self.config.alerts.weekly_digest is None:
            return None
        try:
            event_id = await asyncio.to_thread(plan_weekly_digest, engine, self.config, self.pipeline.clock())
        except Exception:  # a failed digest is logged; checks and alerts go on
            log.exception("weekly digest failed")
            return None
        if event_id is not None:
            await self.run_delivery()
        return event_id

    def _drop_mode_job(self) -> None:
        try:
            self.apply_drop_mode()
        except Exception as exc:  # a failed decision keeps the current schedule; checks go on
            if not is_storage_error(exc):
                log.exception("drop mode decision failed")
            elif self.storage_down is None:
                log.warning("drop mode decision waits: storage error: %s", storage_reason(exc))

    def apply_drop_mode(self) -> dict[str, float]:
        """Check the sources carrying a colorway faster around its release, then go back to normal.

        The decision uses the pipeline's clock, so tests can drive it with their own time.
        """
        engine = getattr(self.pipeline, "engine", None)
        if engine is None:  # a pipeline without a database has no releases to watch
            return {}
        with Session(engine) as session:
            plan = drop_plan(session, self.config, self.pipeline.clock())
        for src in self.config.sources:
            if not src.enabled or plan.get(src.name) == self.drop_intervals.get(src.name):
                continue
            job = self.scheduler.get_job(f"source:{src.name}")
            if job is None:
                continue
            interval, jitter = source_interval(self.config, src)
            fast = plan.get(src.name)
            if fast is not None:
                interval, jitter = fast, drop_jitter(jitter, fast)
                log.info("drop mode: %s checked every %ss", src.name, int(fast))
            else:
                log.info("drop mode over: %s back to every %ss", src.name, int(interval))
            job.reschedule(IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC))
            if fast is not None:
                job.modify(next_run_time=datetime.now(UTC))
        self.drop_intervals = plan
        return plan

    def _stamp(self) -> tuple[int, int] | None:
        if self.config_path is None:
            return None
        try:
            st = self.config_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload_if_changed(self) -> bool:
        """Apply an edited config.toml (e.g. from the dashboard's watchlist) without a restart.

        Every key applies at once (colorways, sources, schedules, [defaults] politeness and time
        limits, alert rules and channels, drops), except the ones restart_keys names, which the log
        says need a restart. An invalid file, or a channel whose ${VARIABLE} is not set, is logged
        and the running config kept.
        """
        stamp = self._stamp()
        if stamp is None or stamp == self._config_stamp or self.config_path is None:
            return False
        self._config_stamp = stamp
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config not reloaded, the running one is kept: %s", exc)
            return False
        unset = missing_secrets(new)
        if unset:
            log.error("config not reloaded, the running one is kept: %s", unset[0])
            return False
        old = self.config
        for key in restart_keys(old, new):
            log.warning("%s changed in %s: restart the tracker to apply it", key, self.config_path)
        self.config = new
        self.pipeline.config = new
        fetcher = getattr(self.pipeline, "fetcher", None)
        if fetcher is not None and new.defaults != old.defaults:
            fetcher.reconfigure(new.defaults)
        self._sync_catalogue()
        self._reschedule(old, new)
        log.info("config reloaded from %s", self.config_path)
        self._drop_mode_job()
        return True

    def _sync_catalogue(self) -> None:
        sync = getattr(self.pipeline, "sync", None)
        if sync is None:
            return
        try:
            sync()
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            # The next check writes the catalogue first, once the database takes writes again.
            self.pipeline.needs_sync = True
            log.warning("catalogue not written yet: storage error: %s", storage_reason(exc))

    def _reschedule(self, old: Config, new: Config) -> None:
        """Jobs for added, removed and changed sources; a [defaults] change reschedules those using it."""
        now = datetime.now(UTC)
        before = {s.name: (s, source_interval(old, s)) for s in old.sources if s.enabled}
        wanted = {s.name: (s, source_interval(new, s)) for s in new.sources if s.enabled}
        for name in before.keys() - wanted.keys():
            self.scheduler.remove_job(f"source:{name}")
            self.failures.pop(name, None)  # nothing of a removed source is kept
            log.info("source %s removed from the schedule", name)
        for name, (src, timing) in wanted.items():
            if before.get(name) != (src, timing):
                self._add_source_job(src, now)
                log.info("source %s %s", name, "rescheduled" if name in before else "added")
        # A re-added job is back at its normal interval; the others keep what drop mode set, so
        # that a release moved out of its window (say, by a watchlist edit) slows them down again.
        self.drop_intervals = {
            name: fast
            for name, fast in self.drop_intervals.items()
            if name in wanted and before.get(name) == wanted[name]
        }

    def stop(self) -> None:
        self._stop.set()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Run until stop() or SIGINT/SIGTERM; running checks are cancelled before writing."""
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        self.schedule()
        self.scheduler.start()
        try:
            await self._stop.wait()
        finally:
            self.scheduler.shutdown(wait=False)
            # Checks write in one transaction at their end, synchronously: cancelling a task
            # can interrupt its fetches but never a half-done write.
            pending = [t for t in self._running if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
