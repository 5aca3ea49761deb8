"""Finish: the one place a check run is completed, failed or cancelled, with its summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from db import store
from db.models import Event
from db.models import Source as SourceRow
from tracker.check.summary import Collected, Failure, RunSummary
from tracker.check.triage import partial_error

# Alert planning, injected: turns new events into outbox rows in the check's transaction.
PlanAlerts = Callable[[Session, Sequence[Event], datetime], object]


class Recorded(Protocol):
    events: list[Event]
    written: int
    listings: int
    suspects: list[str]


def ms_since(started: float) -> int:
    """Milliseconds from a perf_counter() reading to now."""
    return int((time.perf_counter() - started) * 1000)


def complete(
    session: Session,
    run_id: int,
    source: SourceRow,
    got: Collected,
    recorded: Recorded,
    *,
    now: datetime,
    finished_at: datetime,
    started: float,
) -> RunSummary:
    """Finish a run that read its source, in the check's transaction (ok, partial or not_modified).

    A broken source answering again adds its source_recovered event to recorded.events.
    """
    partial = got.failures > 0
    status = "partial" if partial else ("not_modified" if got.not_modified and not recorded.written else "ok")
    error = partial_error(got, recorded.suspects)
    duration = ms_since(started)
    recovered = store.complete_run(
        session,
        run_id,
        source,
        status=status,
        now=now,
        finished_at=finished_at,
        duration_ms=duration,
        healthy=not partial,
        requests=got.requests,
        nbytes=got.nbytes,
        not_modified=len(got.not_modified),
        listings_seen=recorded.listings,
        observations_written=recorded.written,
        events_created=len(recorded.events),
        error=error,
    )
    if recovered is not None:
        recorded.events.append(recovered)
    return RunSummary(
        source.name,
        status,
        duration,
        requests=got.requests,
        not_modified=len(got.not_modified),
        listings=recorded.listings,
        observations=recorded.written,
        events=len(recorded.events),
        error=error,
        event_kinds=tuple(e.kind for e in recorded.events),
    )


def fail(
    engine: Engine,
    name: str,
    run_id: int,
    failure: Failure,
    *,
    now: datetime,
    started: float,
    broken_after: int,
    plan: PlanAlerts | None,
    got: Collected | None = None,
) -> RunSummary:
    """Record a run that could not read its source; the source_broken event is planned with it."""
    duration = ms_since(started)

    def on_broken(session: Session, event: Event) -> None:
        if plan is not None:
            plan(session, [event], now)

    broken, _src = store.fail_run(
        engine,
        run_id,
        status=failure.status,
        error=failure.error,
        now=now,
        duration_ms=duration,
        requests=got.requests if got else 0,
        nbytes=got.nbytes if got else 0,
        http_status=failure.http_status,
        broken_after=broken_after,
        on_broken=on_broken,
    )
    kinds = ("source_broken",) if broken else ()
    return RunSummary(name, failure.status, duration, error=failure.error, event_kinds=kinds)


def cancel(engine: Engine, run_id: int, *, now: datetime, started: float) -> None:
    """Shutdown while collecting: nothing was written; say so on the run."""
    store.cancel_run(engine, run_id, now=now, duration_ms=ms_since(started))
