"""Writes: catalogue sync, check runs, listings, change-only observations, events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.models import CheckRun, Colorway, Event, Listing, Observation, Source


def _prices(prices: dict[str, Decimal]) -> dict[str, str]:
    return {cur: str(amount) for cur, amount in prices.items()}


def sync_catalogue(session: Session, colorways: Iterable[Any], sources: Iterable[Any]) -> None:
    """Upsert colorway and source rows from config (config.Colorway / config.Source objects)."""
    existing = {c.style_code: c for c in session.exec(select(Colorway)).all()}
    seen: set[str] = set()
    for cfg in colorways:
        row = existing.get(cfg.style_code) or Colorway(style_code=cfg.style_code, name=cfg.name)
        row.name = cfg.name
        row.line = cfg.line
        row.list_prices = _prices(cfg.list_price)
        row.target_prices = _prices(cfg.target_price)
        row.sizes = list(cfg.sizes)
        row.release_date = cfg.release_date
        row.watched = cfg.watched
        row.image = cfg.image or row.image
        row.in_config = True
        session.add(row)
        seen.add(cfg.style_code)
    for code, row in existing.items():
        if code not in seen and row.in_config:
            row.in_config = False
            row.watched = False
            session.add(row)
    known = {s.name: s for s in session.exec(select(Source)).all()}
    for cfg in sources:
        src = known.get(cfg.name) or Source(name=cfg.name, kind=cfg.kind, url=cfg.all_urls()[0])
        src.kind = cfg.kind
        src.url = cfg.all_urls()[0]
        src.enabled = cfg.enabled
        session.add(src)
    session.flush()


def rematch_discovered(session: Session, match: Callable[[Listing], tuple[int, str] | None]) -> list[Listing]:
    """Give listings that match no colorway the one match(listing) finds now, as (colorway id, method):
    a colorway just added to the catalogue (or given an alias) gets its listings at once, not when the
    shop next changes the page (an unchanged page is a 304 and is never matched again)."""
    matched = []
    for listing in session.exec(select(Listing).where(col(Listing.colorway_id).is_(None))).all():
        found = match(listing)
        if found is None:
            continue
        listing.colorway_id, listing.match_method = found
        listing.discovered = False
        session.add(listing)
        matched.append(listing)
    session.flush()
    return matched


def source_row(session: Session, name: str) -> Source:
    """The source row by name (it exists once sync_catalogue ran)."""
    row = session.exec(select(Source).where(Source.name == name)).one_or_none()
    if row is None:
        raise LookupError(f"source {name!r} is not in the database; sync the catalogue first")
    return row


def start_run(engine: Engine, source_id: int, now: datetime) -> int:
    """Insert a 'running' check run and return its id (committed at once, so a crash shows)."""
    with Session(engine) as session:
        run = CheckRun(source_id=source_id, started_at=now)
        session.add(run)
        session.flush()
        run_id = run.id  # read before the commit, which expires the row (reading it after is a SELECT)
        session.commit()
        assert run_id is not None
        return run_id


def fail_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    error: str,
    now: datetime,
    duration_ms: int,
    requests: int = 0,
    nbytes: int = 0,
    http_status: int | None = None,
    broken_after: int = 5,
    on_broken: Callable[[Session, Event], object] | None = None,
) -> tuple[bool, Source]:
    """Record a failed run; count consecutive failures. True when the source just became broken.

    on_broken(session, event) runs in the same transaction as the source_broken event, so its
    alert deliveries are planned with it or not at all (a crash cannot split them).
    """
    with Session(engine) as session, session.begin():
        run = session.get(CheckRun, run_id)
        assert run is not None
        run.status = status
        run.error = error[:2000]
        run.finished_at = now
        run.duration_ms = duration_ms
        run.requests = requests
        run.bytes = nbytes
        run.http_status = http_status
        src = session.get(Source, run.source_id)
        assert src is not None
        src.consecutive_failures += 1
        src.last_status = status
        src.last_checked_at = now
        became_broken = not src.broken and src.consecutive_failures >= broken_after
        if became_broken:
            src.broken = True
            event = Event(
                created_at=now,
                kind="source_broken",
                source_id=src.id,
                message=f"{src.name} failed {src.consecutive_failures} checks in a row: {error[:200]}",
                data={"shop": src.name, "status": status, "error": error[:500]},
            )
            session.add(event)
            if on_broken is not None:
                session.flush()
                on_broken(session, event)
        session.add_all([run, src])
        session.flush()
        session.expunge(src)
        return became_broken, src


def complete_run(
    session: Session,
    run_id: int,
    source: Source,
    *,
    status: str,
    now: datetime,
    finished_at: datetime,
    duration_ms: int,
    healthy: bool,
    requests: int = 0,
    nbytes: int = 0,
    not_modified: int = 0,
    listings_seen: int = 0,
    observations_written: int = 0,
    events_created: int = 0,
    error: str | None = None,
) -> Event | None:
    """Finish a run that reached the shop, in the check's transaction; a healthy one clears failures.

    A source marked broken that answers again gets one source_recovered event, returned (flushed)
    so that its alerts are planned in the same transaction.
    """
    # One UPDATE, without reading the row first (nor keeping it in the session).
    finished = session.connection().execute(
        sa.update(CheckRun)
        .where(col(CheckRun.id) == run_id)
        .values(
            status=status,
            finished_at=finished_at,
            duration_ms=duration_ms,
            requests=requests,
            bytes=nbytes,
            not_modified=not_modified,
            listings_seen=listings_seen,
            observations_written=observations_written,
            events_created=events_created,
            error=error,
        )
    )
    assert finished.rowcount == 1, f"no check run {run_id}"
    source.baseline_done = True
    source.last_status = status
    source.last_checked_at = now
    recovered = None
    if healthy:
        source.consecutive_failures = 0
        if source.broken:
            source.broken = False
            recovered = Event(
                created_at=now,
                kind="source_recovered",
                source_id=source.id,
                message=f"{source.name} is answering again",
                data={"shop": source.name},
            )
            session.add(recovered)
    session.add(source)
    session.flush()
    return recovered


def end_run_unwritten(engine: Engine, run_id: int, *, error: str, now: datetime, duration_ms: int) -> None:
    """Mark a run whose results could not be written (a storage error): not the shop's failure."""
    with Session(engine) as session, session.begin():
        run = session.get(CheckRun, run_id)
        if run is not None and run.status == "running":
            run.status = "storage_error"
            run.finished_at = now
            run.duration_ms = duration_ms
            run.error = error[:2000]
            session.add(run)


def cancel_run(engine: Engine, run_id: int, *, now: datetime, duration_ms: int) -> None:
    """Mark a run stopped by shutdown before it wrote anything (not a failure of the shop)."""
    with Session(engine) as session, session.begin():
        run = session.get(CheckRun, run_id)
        if run is not None and run.status == "running":
            run.status = "cancelled"
            run.finished_at = now
            run.duration_ms = duration_ms
            run.error = "stopped by shutdown before anything was written"
            session.add(run)


def listings_of(session: Session, source_id: int) -> dict[str, Listing]:
    """The source's listings by external id."""
    rows = session.exec(select(Listing).where(Listing.source_id == source_id)).all()
    return {row.external_id: row for row in rows}


def observations_by_id(session: Session, ids: Sequence[int]) -> dict[int, Observation]:
    """Observations by id, fetched in chunks."""
    out: dict[int, Observation] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for obs in session.exec(select(Observation).where(col(Observation.id).in_(chunk))).all():
            assert obs.id is not None
            out[obs.id] = obs
    return out


def touch_listings(session: Session, listing_ids: Sequence[int], now: datetime) -> None:
    """Set last_checked_at (and clear gone) on the listings a check saw (one UPDATE per chunk)."""
    for i in range(0, len(listing_ids), 500):
        chunk = list(listing_ids[i : i + 500])
        session.execute(
            sa.update(Listing).where(col(Listing.id).in_(chunk)).values(last_checked_at=now, gone=False)
        )


def mark_gone(session: Session, listings: Iterable[Listing], seen_ids: set[int]) -> int:
    """Of a catalogue's listings (all of its source's), mark those no longer offered by the shop;
    returns how many."""
    gone = 0
    for listing in listings:
        if listing.id not in seen_ids and not listing.gone:
            listing.gone = True
            session.add(listing)
            gone += 1
    return gone


def last_confirmed(session: Session, listing_id: int, *, before_id: int | None) -> Observation | None:
    """The listing's latest observation not held as suspect (before an id, when given)."""
    stmt = select(Observation).where(
        Observation.listing_id == listing_id, col(Observation.suspect).is_(False)
    )
    if before_id is not None:
        stmt = stmt.where(col(Observation.id) < before_id)
    return session.exec(stmt.order_by(col(Observation.id).desc()).limit(1)).first()
