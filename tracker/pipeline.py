"""The one check path, for every source kind: collect -> triage -> record -> detect -> plan -> finish.

Collect fetches and reads (writing nothing); triage decides whether anything was read; record
writes listings and observations (or releases) and detects their events; the release hook turns
products' launch dates into releases; the planner adds alert deliveries; finish completes the
run. Everything after collect happens in one transaction, so a crash never leaves half a check.

A database that cannot be written (full, read-only, unreachable) ends the check as storage_error:
one line, the run marked where that still works, and the shop not asked when the run cannot even
be started; the next check opens fresh connections, so the tracker recovers once it can write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db import store
from db.engine import is_storage_error, storage_reason
from db.models import Event
from db.models import Source as SourceRow
from tracker.check import finish
from tracker.check.collect import Prior, Reader, collector_for
from tracker.check.pool import PagePool, shared_pool
from tracker.check.record import (
    ProductRecorder,
    Recorded,
    load_catalogue,
    record_releases,
    rematch_discovered,
)
from tracker.check.summary import RUN_STATUSES, Collected, Failure, RunSummary
from tracker.check.triage import failure_from, failure_of
from tracker.config import Config
from tracker.config import Source as SourceConfig
from tracker.errors import ExtractError, FetchError
from tracker.fetch import Fetcher
from tracker.releases.configured import sync_config_releases
from tracker.releases.records import after_products

__all__ = ["RUN_STATUSES", "Pipeline", "Planner", "RunSummary"]
log = logging.getLogger(__name__)

T = TypeVar("T")


class Planner(Protocol):
    """Turns new events into outbox deliveries inside the same transaction."""

    def __call__(
        self, session: Session, events: Sequence[Event], config: Config, *, now: datetime
    ) -> Sequence[Any]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """Runs checks: the stages in order, with the engine, fetcher, clock, planner and page pool passed in.

    Without a pool, pages are read in the process's shared one (tracker.check.pool.shared_pool).
    """

    def __init__(
        self,
        config: Config,
        engine: Engine,
        fetcher: Fetcher,
        *,
        clock: Callable[[], datetime] = utcnow,
        planner: Planner | None = None,
        pool: PagePool | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.fetcher = fetcher
        self.clock = clock
        self.planner = planner
        self.pool = pool if pool is not None else shared_pool(config.defaults.extract_workers)
        # Set while the catalogue could not be written (at start or on a config reload): the next
        # check writes it first.
        self.needs_sync = False
        try:
            self.sync()
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            self.needs_sync = True

    def reader(self, src: SourceConfig) -> Reader:
        """Reads the source's bodies in the page pool, each with the source's time limit."""
        limit = self.config.defaults.extract_timeout if src.extract_timeout is None else src.extract_timeout
        pool = self.pool

        async def read(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
            return await pool.run(fn, *args, time_limit=limit, **kwargs)

        return read

    def sync(self) -> None:
        """Bring colorway, source and config-dated release rows in line with the config, connect
        discovered listings to colorways the config now names, and plan the alerts of the release
        events that raises, in one transaction."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            store.sync_catalogue(session, self.config.colorways, self.config.sources)
            matched = rematch_discovered(session, load_catalogue(session, self.config))
            if matched:
                log.info("%d discovered listing(s) matched to the catalogue", len(matched))
            events = sync_config_releases(session, self.config, now)
            session.add_all(events)
            self._plan(session, events, now)

    async def check(self, name: str, *, on_start: Callable[[int], object] | None = None) -> RunSummary:
        """One check of one source; every failure is recorded on its run, never raised.

        on_start(run_id) is called once the run is recorded as started, before anything is fetched
        (a worker ties its job to the run, so that a retried job knows whether the run finished).
        """
        src = self.config.source(name)
        if src is None:
            raise LookupError(f"no source named {name!r} in the config")
        started = time.perf_counter()
        run_id: int | None = None
        try:
            if self.needs_sync:
                self.sync()
                self.needs_sync = False
            source_id, prior = self._prior(src)
            run_id = store.start_run(self.engine, source_id, self.clock())
            if on_start is not None:
                on_start(run_id)
            return await self._check(src, run_id, prior, started)
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            return self._unwritten(src, run_id, exc, started)

    async def _check(self, src: SourceConfig, run_id: int, prior: Prior, started: float) -> RunSummary:
        try:
            got = await collector_for(src.kind)(src, self.fetcher, prior, self.reader(src))
        except (FetchError, ExtractError) as exc:
            return self._fail(src, run_id, failure_from(exc), started)
        except asyncio.CancelledError:
            # When the database is down too, the run stays 'running' and is shown as cut off.
            with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
                finish.cancel(self.engine, run_id, now=self.clock(), started=started)
            raise
        failure = failure_of(got)
        if failure is not None:
            return self._fail(src, run_id, failure, started, got)
        return self._write(src, run_id, got, started)

    def _unwritten(
        self, src: SourceConfig, run_id: int | None, exc: BaseException, started: float
    ) -> RunSummary:
        """A check the database could not take: said in one line, the run marked if it can be."""
        error = f"storage error: {storage_reason(exc)}"
        # Connections opened while it failed (SQLite falls back to read-only ones) are not reused.
        self.engine.dispose()
        # Still unwritable: the run stays 'running', and the health page shows it cut off.
        with contextlib.suppress(sa.exc.SQLAlchemyError, OSError):
            if run_id is not None:
                now, duration = self.clock(), finish.ms_since(started)
                store.end_run_unwritten(self.engine, run_id, error=error, now=now, duration_ms=duration)
        return RunSummary(src.name, "storage_error", finish.ms_since(started), error=error)

    def _prior(self, src: SourceConfig) -> tuple[int, Prior]:
        """The source's id and the validators earlier checks left for conditional requests."""
        with Session(self.engine) as session:
            row = store.source_row(session, src.name)
            assert row.id is not None
            validators: dict[str, tuple[str | None, str | None]] = {}
            if src.kind in ("page", "shopify_product"):
                for key, listing in store.listings_of(session, row.id).items():
                    validators[key] = (listing.etag, listing.last_modified)
            return row.id, Prior(dict(row.http_cache or {}), validators, self.config.timezone)

    def _fail(
        self, src: SourceConfig, run_id: int, failure: Failure, started: float, got: Collected | None = None
    ) -> RunSummary:
        return finish.fail(
            self.engine,
            src.name,
            run_id,
            failure,
            now=self.clock(),
            started=started,
            broken_after=self.config.defaults.broken_after,
            plan=self._plan,
            got=got,
        )

    def _write(self, src: SourceConfig, run_id: int, got: Collected, started: float) -> RunSummary:
        """Record, detect, plan and finish in one transaction."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            source = store.source_row(session, src.name)
            recorded = self._record(session, src, source, run_id=run_id, got=got, now=now)
            summary = finish.complete(
                session, run_id, source, got, recorded, now=now, finished_at=self.clock(), started=started
            )
            if src.kind == "shopify":
                source.http_cache = got.http_cache
            self._plan(session, recorded.events, now)
        return summary

    def _record(
        self,
        session: Session,
        src: SourceConfig,
        source: SourceRow,
        *,
        run_id: int,
        got: Collected,
        now: datetime,
    ) -> Recorded:
        catalogue = load_catalogue(session, self.config)
        if src.kind == "release_calendar":
            recorded = record_releases(
                session, src, source, got, catalogue=catalogue, config=self.config, now=now
            )
        else:
            recorded = ProductRecorder(
                session,
                src,
                source,
                run_id=run_id,
                catalogue=catalogue,
                now=now,
                locale=self.config.locale,
                size_system=self.config.size_system,
            ).record(got)
            # Products' launch dates and coming-soon tags, and releases going live.
            offered = recorded.offered
            recorded.events.extend(
                after_products(
                    session, self.config, source_name=src.name, source_id=source.id, offered=offered, now=now
                )
            )
        session.add_all(recorded.events)
        session.flush()
        return recorded

    def _plan(self, session: Session, events: Sequence[Event], now: datetime) -> None:
        if events and self.planner is not None:
            session.flush()
            self.planner(session, events, self.config, now=now)
