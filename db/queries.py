"""Reads for the dashboard: plain frozen records built from the tables, no writes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from db import models  # noqa: F401 (registers the tables)
from tracker.money import to_decimal
from tracker.pricing import list_price as list_price_of
from tracker.redact import redact as redact_text

_TABLES = SQLModel.metadata.tables
IN_STOCK = "InStock"
OUT_OF_STOCK = "OutOfStock"

_O = _TABLES["observations"]
_L = _TABLES["listings"]
_S = _TABLES["sources"]
_C = _TABLES["colorways"]
_E = _TABLES["events"]
_D = _TABLES["deliveries"]
_R = _TABLES["releases"]
_RUN = _TABLES["check_runs"]





@dataclass(frozen=True)
class ColorwayInfo:
    """A colorway as the dashboard shows it."""

    id: int
    style_code: str
    name: str
    line: str
    list_prices: dict[str, Decimal]
    target_prices: dict[str, Decimal]
    sizes: tuple[str, ...]
    release_date: date | None
    watched: bool
    image: str | None
    in_config: bool


@dataclass(frozen=True)
class Offer:
    """A listing with its latest observation."""

    listing_id: int
    colorway_id: int | None
    source_name: str
    url: str
    title: str | None
    style_code: str | None
    image: str | None
    price: Decimal | None
    currency: str | None
    compare_at: Decimal | None
    availability: str
    sizes: tuple[dict[str, Any], ...]
    suspect: bool
    observed_at: datetime | None
    last_checked_at: datetime
    gone: bool

    def sizes_in_stock(self) -> list[str]:
        """Sizes this listing shows as in stock."""
        return [str(s.get("size")) for s in self.sizes if s.get("availability") == IN_STOCK]


@dataclass(frozen=True)
class PricePoint:
    """One stored observation, reduced to what charts and statistics need."""

    listing_id: int
    colorway_id: int | None
    source_name: str
    observed_at: datetime
    price: Decimal | None
    currency: str | None
    availability: str
    suspect: bool


@dataclass(frozen=True)
class Segment:
    """A price held by one listing from start to end (observations are change-only)."""

    listing_id: int
    source_name: str
    start: datetime
    end: datetime
    price: Decimal | None
    currency: str | None
    availability: str
    suspect: bool


@dataclass(frozen=True)
class Stats:
    """Lowest, highest and time-weighted average of buyable prices over a range."""

    currency: str
    lowest: Decimal | None
    lowest_at: datetime | None
    lowest_source: str | None
    highest: Decimal | None
    average: Decimal | None
    current: Decimal | None


@dataclass(frozen=True)
class OverviewRow:
    """One watched colorway on the overview."""

    colorway: ColorwayInfo
    currency: str | None
    list_price: Decimal | None
    best: Offer | None
    in_stock: bool
    my_sizes_available: tuple[str, ...]
    next_release: date | None
    sparkline: tuple[float, ...]
    suspect: tuple[Offer, ...] = field(default=())

    @property
    def difference(self) -> Decimal | None:
        """Best price minus list price (negative is a markdown)."""
        if self.best is None or self.best.price is None or self.list_price is None:
            return None
        return self.best.price - self.list_price

    @property
    def difference_percent(self) -> Decimal | None:
        """The difference as a percentage of list price, one decimal."""
        diff = self.difference
        if diff is None or not self.list_price:
            return None
        return (diff * 100 / self.list_price).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class EventRow:
    """An event with its shop and colorway names."""

    id: int
    created_at: datetime
    kind: str
    message: str
    source_name: str | None
    colorway_name: str | None
    style_code: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class DeliveryRow:
    """An outbox row; the error text has any URL redacted."""

    id: int
    event_id: int
    event_kind: str
    event_message: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class ReleaseRow:
    """A release date for a colorway, from a calendar row or from config."""

    style_code: str
    name: str
    region: str
    release_date: date | None
    release_at: datetime | None
    price: Decimal | None
    currency: str | None
    source_name: str | None
    url: str | None
    live: bool


@dataclass(frozen=True)
class SourceHealth:
    """How one source has been doing."""

    name: str
    kind: str
    enabled: bool
    broken: bool
    consecutive_failures: int
    last_checked_at: datetime | None
    last_status: str | None
    last_error: str | None
    runs: int
    errors: int
    blocked: int
    requests: int
    not_modified: int
    mean_duration_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """Share of runs in the window that did not end ok (blocked counts as an error)."""
        return None if not self.runs else self.errors / self.runs

    @property
    def not_modified_rate(self) -> float | None:
        """Share of requests answered 304 Not Modified."""
        return None if not self.requests else self.not_modified / self.requests


def redact(text: str | None) -> str | None:
    """Text with every URL replaced by its scheme, since URLs may hold tokens (None stays None)."""
    return None if text is None else redact_text(text, web=False)


def _colorway(row: Any) -> ColorwayInfo:
    prices = {k: d for k, v in (row.list_prices or {}).items() if (d := to_decimal(v)) is not None}
    targets = {k: d for k, v in (row.target_prices or {}).items() if (d := to_decimal(v)) is not None}
    return ColorwayInfo(
        id=row.id,
        style_code=row.style_code,
        name=row.name,
        line=row.line,
        list_prices=prices,
        target_prices=targets,
        sizes=tuple(str(s) for s in (row.sizes or [])),
        release_date=row.release_date,
        watched=bool(row.watched),
        image=row.image,
        in_config=bool(row.in_config),
    )


def colorways(engine: Engine, *, watched_only: bool = False) -> list[ColorwayInfo]:
    """Colorways by name; only the watched ones when asked."""
    query = sa.select(_C).order_by(_C.c.name, _C.c.style_code)
    if watched_only:
        query = query.where(_C.c.watched.is_(True))
    with engine.connect() as conn:
        return [_colorway(r) for r in conn.execute(query)]


def colorway_by_style(engine: Engine, style_code: str) -> ColorwayInfo | None:
    """One colorway by its style code."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(_C).where(_C.c.style_code == style_code)).first()
    return None if row is None else _colorway(row)


def _latest_observation_ids() -> Any:
    # The latest observation per listing; the (listing_id, observed_at) index makes this a seek.
    o2 = _O.alias("o_latest")
    inner = sa.select(o2.c.id).where(o2.c.listing_id == _L.c.id)
    inner = inner.order_by(o2.c.observed_at.desc(), o2.c.id.desc()).limit(1)
    return inner.scalar_subquery().correlate(_L)


def _offers(engine: Engine, where: Iterable[Any]) -> list[Offer]:
    query = (
        sa.select(
            _L.c.id.label("listing_id"),
            _L.c.colorway_id,
            _S.c.name.label("source_name"),
            _L.c.url,
            _L.c.title,
            _L.c.style_code,
            _L.c.image,
            _L.c.last_checked_at,
            _L.c.gone,
            _O.c.price,
            _O.c.currency,
            _O.c.compare_at,
            _O.c.availability,
            _O.c.sizes,
            _O.c.suspect,
            _O.c.observed_at,
        )
        .select_from(
            _L.join(_S, _S.c.id == _L.c.source_id).outerjoin(_O, _O.c.id == _latest_observation_ids())
        )
        .where(*where)
        .order_by(_S.c.name, _L.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Offer(
            listing_id=r.listing_id,
            colorway_id=r.colorway_id,
            source_name=r.source_name,
            url=r.url,
            title=r.title,
            style_code=r.style_code,
            image=r.image,
            price=r.price,
            currency=r.currency,
            compare_at=r.compare_at,
            availability=r.availability or "unknown",
            sizes=tuple(r.sizes or ()),
            suspect=bool(r.suspect),
            observed_at=r.observed_at,
            last_checked_at=r.last_checked_at,
            gone=bool(r.gone),
        )
        for r in rows
    ]


def latest_offers(engine: Engine, colorway_ids: Sequence[int] | None = None) -> list[Offer]:
    """Every matched listing (of the given colorways) with its latest observation."""
    where: list[Any] = [_L.c.colorway_id.is_not(None)]
    if colorway_ids is not None:
        where.append(_L.c.colorway_id.in_(list(colorway_ids)))
    return _offers(engine, where)


def discovered_listings(engine: Engine) -> list[Offer]:
    """2002R listings that match no colorway, newest first."""
    offers = _offers(engine, [_L.c.colorway_id.is_(None), _L.c.gone.is_(False)])
    return sorted(offers, key=lambda o: o.last_checked_at, reverse=True)


def price_points(
    engine: Engine, colorway_ids: Sequence[int], since: datetime | None = None
) -> list[PricePoint]:
    """Observations of these colorways' listings since a time, plus the one held at that time."""
    cols = [
        _O.c.listing_id,
        _L.c.colorway_id,
        _S.c.name.label("source_name"),
        _O.c.observed_at,
        _O.c.price,
        _O.c.currency,
        _O.c.availability,
        _O.c.suspect,
    ]
    base = _O.join(_L, _L.c.id == _O.c.listing_id).join(_S, _S.c.id == _L.c.source_id)
    ids = list(colorway_ids)
    queries = []
    recent = sa.select(*cols).select_from(base).where(_L.c.colorway_id.in_(ids))
    if since is not None:
        recent = recent.where(_O.c.observed_at >= since)
        # What each listing showed when the range began: its last observation before it.
        o2 = _O.alias("o_before")
        before = (
            sa.select(o2.c.id)
            .where(o2.c.listing_id == _L.c.id, o2.c.observed_at < since)
            .order_by(o2.c.observed_at.desc(), o2.c.id.desc())
            .limit(1)
            .scalar_subquery()
            .correlate(_L)
        )
        held = (
            sa.select(*cols)
            .select_from(_L.join(_S, _S.c.id == _L.c.source_id).join(_O, _O.c.id == before))
            .where(_L.c.colorway_id.in_(ids))
        )
        queries.append(held)
    queries.append(recent)
    out: list[PricePoint] = []
    with engine.connect() as conn:
        for query in queries:
            # Positional rows: attribute access by name costs more than the query on big ranges.
            out.extend(
                PricePoint(lid, cid, shop, at, price, cur, avail or "unknown", bool(suspect))
                for lid, cid, shop, at, price, cur, avail, suspect in conn.execute(query)
            )
    out.sort(key=lambda p: (p.listing_id, p.observed_at))
    return out


def segments(points: Sequence[PricePoint], since: datetime | None, until: datetime) -> list[Segment]:
    """Step segments: each observation holds until the next one of its listing (or until)."""
    by_listing: dict[int, list[PricePoint]] = defaultdict(list)
    for point in points:
        by_listing[point.listing_id].append(point)
    out: list[Segment] = []
    for listing_points in by_listing.values():
        listing_points.sort(key=lambda p: p.observed_at)
        for i, point in enumerate(listing_points):
            end = listing_points[i + 1].observed_at if i + 1 < len(listing_points) else until
            start = point.observed_at if since is None else max(point.observed_at, since)
            if end <= start:
                continue
            out.append(
                Segment(
                    listing_id=point.listing_id,
                    source_name=point.source_name,
                    start=start,
                    end=min(end, until),
                    price=point.price,
                    currency=point.currency,
                    availability=point.availability,
                    suspect=point.suspect,
                )
            )
    return out


def buyable(segment: Segment | Offer | PricePoint) -> bool:
    """A price someone could pay: present, not suspect, not out of stock."""
    return segment.price is not None and not segment.suspect and segment.availability != OUT_OF_STOCK


def currencies(points: Iterable[PricePoint | Offer], preferred: Iterable[str] = ()) -> list[str]:
    """Currencies seen, the preferred ones (a colorway's list-price currencies) first."""
    seen: dict[str, int] = defaultdict(int)
    for point in points:
        if point.currency:
            seen[point.currency] += 1
    ordered = [c for c in preferred if c in seen]
    ordered += sorted((c for c in seen if c not in ordered), key=lambda c: -seen[c])
    return ordered


def range_stats(segs: Sequence[Segment], currency: str, until: datetime) -> Stats:
    """Keepa-style statistics of buyable prices in one currency over the given segments."""
    usable = [s for s in segs if s.currency == currency and buyable(s)]
    if not usable:
        return Stats(currency, None, None, None, None, None, None)
    low = min(usable, key=lambda s: (s.price, s.start))
    prices = [s.price for s in usable if s.price is not None]
    weighted = sum(
        (s.price * Decimal((s.end - s.start).total_seconds()) for s in usable if s.price is not None),
        Decimal(0),
    )
    seconds = sum((Decimal((s.end - s.start).total_seconds()) for s in usable), Decimal(0))
    average = (weighted / seconds).quantize(Decimal("0.01")) if seconds else None
    now_prices = [s.price for s in usable if s.end >= until and s.price is not None]
    return Stats(
        currency=currency,
        lowest=low.price,
        lowest_at=low.start,
        lowest_source=low.source_name,
        highest=max(prices),
        average=average,
        current=min(now_prices) if now_prices else None,
    )


def daily_best(
    points: Sequence[PricePoint], currency: str, since: datetime, until: datetime
) -> list[Decimal | None]:
    """The lowest buyable price held at the end of each day from since to until."""
    moments: list[datetime] = []
    moment = since
    while moment < until:
        moment = min(moment + timedelta(days=1), until)
        moments.append(moment)
    best: list[Decimal | None] = [None] * len(moments)
    by_listing: dict[int, list[PricePoint]] = defaultdict(list)
    for point in points:
        by_listing[point.listing_id].append(point)
    # One pass per listing: walk its observations and the day ends together.
    for listing_points in by_listing.values():
        listing_points.sort(key=lambda p: p.observed_at)
        j = 0
        for k, moment in enumerate(moments):
            while j < len(listing_points) and listing_points[j].observed_at <= moment:
                j += 1
            if j == 0:
                continue
            held = listing_points[j - 1]
            if held.currency == currency and buyable(held) and held.price is not None:
                current = best[k]
                best[k] = held.price if current is None else min(current, held.price)
    return best


def _releases_by_colorway(engine: Engine) -> dict[str, list[date]]:
    query = sa.select(_R.c.style_code, _R.c.release_date, _R.c.release_at).where(
        sa.or_(_R.c.release_date.is_not(None), _R.c.release_at.is_not(None))
    )
    out: dict[str, list[date]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(query):
            when = row.release_date or row.release_at.date()
            out[row.style_code].append(when)
    return out


def list_price(colorway: ColorwayInfo, currency: str | None) -> Decimal | None:
    """The colorway's own list price in a currency, else its line's default (tracker.pricing)."""
    return list_price_of(colorway.list_prices, colorway.line, currency)


def overview(
    engine: Engine,
    now: datetime,
    *,
    days: int = 30,
    today: date | None = None,
    style_codes: Sequence[str] | None = None,
) -> list[OverviewRow]:
    """One row per watched colorway (or per given style code): best price, stock, sizes, sparkline."""
    if style_codes is None:
        watched = colorways(engine, watched_only=True)
    else:
        wanted = set(style_codes)
        watched = [c for c in colorways(engine) if c.style_code in wanted]
    if not watched:
        return []
    ids = [c.id for c in watched]
    offers_by: dict[int, list[Offer]] = defaultdict(list)
    for offer in latest_offers(engine, ids):
        if offer.colorway_id is not None and not offer.gone:
            offers_by[offer.colorway_id].append(offer)
    since = now - timedelta(days=days)
    points_by: dict[int, list[PricePoint]] = defaultdict(list)
    for point in price_points(engine, ids, since):
        if point.colorway_id is not None:
            points_by[point.colorway_id].append(point)
    release_dates = _releases_by_colorway(engine)
    today = today or now.date()
    rows = []
    for colorway in watched:
        offers = offers_by.get(colorway.id, [])
        currency = next(iter(currencies(offers, colorway.list_prices)), None)
        if currency is None:
            currency = next(iter(colorway.list_prices), "USD")
        candidates = [o for o in offers if o.currency == currency and buyable(o)]
        in_stock_offers = [o for o in candidates if o.availability == IN_STOCK]
        best = min(in_stock_offers or candidates, key=lambda o: (o.price, o.source_name), default=None)
        suspect = tuple(o for o in offers if o.suspect and o.price is not None)
        available = {s for o in offers if o.availability == IN_STOCK for s in o.sizes_in_stock()}
        dates = [d for d in [*release_dates.get(colorway.style_code, []), colorway.release_date] if d]
        upcoming = min((d for d in dates if d >= today), default=None)
        spark: tuple[float, ...] = ()
        if currency is not None:
            daily = daily_best(points_by.get(colorway.id, []), currency, since, now)
            spark = tuple(float(p) for p in _forward_fill(daily))
        rows.append(
            OverviewRow(
                colorway=colorway,
                currency=currency,
                list_price=list_price(colorway, currency),
                best=best,
                in_stock=any(o.availability == IN_STOCK for o in offers),
                my_sizes_available=tuple(s for s in colorway.sizes if s in available),
                next_release=upcoming,
                sparkline=spark,
                suspect=suspect,
            )
        )
    return rows


def _forward_fill(values: Sequence[Decimal | None]) -> list[Decimal]:
    out: list[Decimal] = []
    last: Decimal | None = None
    for value in values:
        last = value if value is not None else last
        if last is not None:
            out.append(last)
    return out


def events(
    engine: Engine,
    *,
    colorway_id: int | None = None,
    kinds: Sequence[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[EventRow]:
    """Events, newest first, with their shop and colorway names."""
    query = (
        sa.select(
            _E.c.id,
            _E.c.created_at,
            _E.c.kind,
            _E.c.message,
            _E.c.data,
            _S.c.name.label("source_name"),
            _C.c.name.label("colorway_name"),
            _C.c.style_code,
        )
        .select_from(
            _E.outerjoin(_S, _S.c.id == _E.c.source_id).outerjoin(_C, _C.c.id == _E.c.colorway_id)
        )
        .order_by(_E.c.created_at.desc(), _E.c.id.desc())
        .limit(limit)
    )
    if colorway_id is not None:
        query = query.where(_E.c.colorway_id == colorway_id)
    if kinds:
        query = query.where(_E.c.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(_E.c.created_at >= since)
    with engine.connect() as conn:
        return [
            EventRow(
                id=r.id,
                created_at=r.created_at,
                kind=r.kind,
                message=r.message or "",
                source_name=r.source_name or (r.data or {}).get("shop"),
                colorway_name=r.colorway_name or (r.data or {}).get("colorway"),
                style_code=r.style_code or (r.data or {}).get("style_code"),
                data=dict(r.data or {}),
            )
            for r in conn.execute(query)
        ]


def deliveries(engine: Engine, *, status: str | None = None, limit: int = 200) -> list[DeliveryRow]:
    """Outbox rows, newest first, with the event they carry; errors redacted."""
    query = (
        sa.select(_D, _E.c.kind.label("event_kind"), _E.c.message.label("event_message"))
        .select_from(_D.join(_E, _E.c.id == _D.c.event_id))
        .order_by(_D.c.created_at.desc(), _D.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(_D.c.status == status)
    with engine.connect() as conn:
        return [
            DeliveryRow(
                id=r.id,
                event_id=r.event_id,
                event_kind=r.event_kind,
                event_message=r.event_message or "",
                channel=r.channel,
                status=r.status,
                attempts=r.attempts,
                last_error=redact(r.last_error),
                sent_at=r.sent_at,
                next_attempt_at=r.next_attempt_at,
                created_at=r.created_at,
            )
            for r in conn.execute(query)
        ]


def delivery_counts(engine: Engine) -> dict[str, int]:
    """How many deliveries are in each status."""
    query = sa.select(_D.c.status, sa.func.count()).group_by(_D.c.status)
    with engine.connect() as conn:
        return {r[0]: int(r[1]) for r in conn.execute(query)}


def releases(engine: Engine) -> list[ReleaseRow]:
    """Release rows and colorways' own release dates (those not already given by a row)."""
    query = sa.select(_R, _C.c.name.label("colorway_name")).select_from(
        _R.outerjoin(_C, sa.or_(_C.c.id == _R.c.colorway_id, _C.c.style_code == _R.c.style_code))
    )
    out: list[ReleaseRow] = []
    seen: set[tuple[str, date | None]] = set()
    with engine.connect() as conn:
        for r in conn.execute(query):
            when = r.release_date or (r.release_at.date() if r.release_at else None)
            key = (r.style_code, when)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                ReleaseRow(
                    style_code=r.style_code,
                    name=r.colorway_name or r.name or r.style_code,
                    region=r.region,
                    release_date=when,
                    release_at=r.release_at,
                    price=r.price,
                    currency=r.currency,
                    source_name=r.source_name,
                    url=r.url,
                    live=bool(r.live),
                )
            )
        for c in conn.execute(sa.select(_C).where(_C.c.release_date.is_not(None))):
            if (c.style_code, c.release_date) in seen:
                continue
            out.append(
                ReleaseRow(
                    style_code=c.style_code,
                    name=c.name,
                    region="global",
                    release_date=c.release_date,
                    release_at=None,
                    price=None,
                    currency=None,
                    source_name="config",
                    url=None,
                    live=False,
                )
            )
    out.sort(key=lambda r: (r.release_date or date.max, r.name))
    return out


def source_health(
    engine: Engine, now: datetime, *, window: timedelta = timedelta(hours=24)
) -> list[SourceHealth]:
    """Per source: last check, status, and over the window error, blocked and not-modified counts."""
    since = now - window
    not_ok = sa.case((_RUN.c.status != "ok", 1), else_=0)
    blocked = sa.case((_RUN.c.status == "blocked", 1), else_=0)
    last_error = (
        sa.select(_RUN.c.error)
        .where(_RUN.c.source_id == _S.c.id, _RUN.c.error.is_not(None), _RUN.c.started_at >= since)
        .order_by(_RUN.c.started_at.desc())
        .limit(1)
        .scalar_subquery()
        .correlate(_S)
    )
    # Joining from the few sources into the (source_id, started_at) index reads only the window,
    # not a year of runs.
    window_runs = sa.and_(
        _RUN.c.source_id == _S.c.id, _RUN.c.started_at >= since, _RUN.c.status != "running"
    )
    query = (
        sa.select(
            *_S.c,
            sa.func.count(_RUN.c.id).label("runs"),
            sa.func.sum(not_ok).label("errors"),
            sa.func.sum(blocked).label("blocked"),
            sa.func.sum(_RUN.c.requests).label("requests"),
            sa.func.sum(_RUN.c.not_modified).label("not_modified"),
            sa.func.avg(_RUN.c.duration_ms).label("mean_ms"),
            last_error.label("last_error"),
        )
        .select_from(_S.outerjoin(_RUN, window_runs))
        .group_by(_S.c.id)  # the key decides the other source columns (PostgreSQL accepts it)
        .order_by(_S.c.name)
    )
    with engine.connect() as conn:
        return [
            SourceHealth(
                name=r.name,
                kind=r.kind,
                enabled=bool(r.enabled),
                broken=bool(r.broken),
                consecutive_failures=r.consecutive_failures,
                last_checked_at=r.last_checked_at,
                last_status=r.last_status,
                last_error=redact(r.last_error),
                runs=int(r.runs or 0),
                errors=int(r.errors or 0),
                blocked=int(r.blocked or 0),
                requests=int(r.requests or 0),
                not_modified=int(r.not_modified or 0),
                mean_duration_ms=None if r.mean_ms is None else float(r.mean_ms),
            )
            for r in conn.execute(query)
        ]


def table_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the main tables (to tell an empty database from a quiet one)."""
    tables = {"colorways": _C, "sources": _S, "listings": _L, "observations": _O, "events": _E}
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for name, t in tables.items()
        }


# -- workers on several machines (PostgreSQL only) -----------------------------------------------

ALIVE_WITHIN = timedelta(seconds=20)  # a worker or clock silent for longer is shown as not alive


@dataclass(frozen=True)
class WorkerInfo:
    """A worker in the registry: its queues, whether it is alive, what it did, when last heard of."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    alive: bool
    stopped: bool
    jobs_done: int
    jobs_failed: int
    started_at: datetime
    last_seen: datetime
    seconds_since_seen: float
    clock_offset_ms: float | None


@dataclass(frozen=True)
class QueueDepth:
    """Check jobs on one queue: due and waiting, waiting to be retried later, running, given up."""

    queue: str
    waiting: int
    later: int
    running: int
    failed: int
    oldest_wait_s: float | None


@dataclass(frozen=True)
class ClusterHealth:
    """The multi-machine view: the leading clock, the workers, queue depth and scheduling lag."""

    leader: str | None
    leader_since: datetime | None
    leader_alive: bool
    seconds_since_pass: float | None
    config_version: int
    scheduled: int
    behind: int  # sources due for over a minute and not queued (no clock, or workers too few)
    workers: list[WorkerInfo]
    queues: list[QueueDepth]
    lag_checks: int
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_window_s: float


def _has_table(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one())


def cluster_health(engine: Engine, *, window: timedelta = timedelta(minutes=15)) -> ClusterHealth | None:
    """Workers, queue depth and scheduling lag (due time to start), or None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    alive = ALIVE_WITHIN.total_seconds()
    with engine.connect() as conn:
        if not _has_table(conn, "workers"):
            return None
        leader = conn.execute(
            sa.text(
                "SELECT name, since, config_version,"
                " EXTRACT(EPOCH FROM clock_timestamp() - last_pass)::float8 AS ago FROM clock_leader"
            )
        ).first()
        workers = [
            WorkerInfo(
                name=r.name,
                queues=tuple(q for q in r.queues.split(",") if q),
                concurrency=int(r.concurrency),
                alive=r.stopped_at is None and r.ago < alive,
                stopped=r.stopped_at is not None,
                jobs_done=int(r.jobs_done),
                jobs_failed=int(r.jobs_failed),
                started_at=r.started_at,
                last_seen=r.last_seen,
                seconds_since_seen=float(r.ago),
                clock_offset_ms=r.clock_offset_ms,
            )
            for r in conn.execute(
                sa.text(
                    "SELECT *, EXTRACT(EPOCH FROM clock_timestamp() - last_seen)::float8 AS ago"
                    " FROM workers ORDER BY name"
                )
            )
        ]
        queues = [
            QueueDepth(
                r.queue_name, int(r.waiting), int(r.later), int(r.running), int(r.failed),
                None if r.oldest is None else float(r.oldest),
            )
            for r in conn.execute(
                sa.text(
                    "SELECT queue_name,"
                    " COUNT(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL"
                    "   OR scheduled_at <= clock_timestamp())) AS waiting,"
                    " COUNT(*) FILTER (WHERE status = 'todo'"
                    "   AND scheduled_at > clock_timestamp()) AS later,"
                    " COUNT(*) FILTER (WHERE status = 'doing') AS running,"
                    " COUNT(*) FILTER (WHERE status = 'failed') AS failed,"
                    " EXTRACT(EPOCH FROM clock_timestamp()"
                    "   - MIN(e.at) FILTER (WHERE status = 'todo'))::float8 AS oldest"
                    " FROM procrastinate_jobs j LEFT JOIN LATERAL (SELECT at FROM procrastinate_events"
                    "   WHERE job_id = j.id AND type = 'deferred' LIMIT 1) e ON true"
                    " WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name ORDER BY queue_name"
                )
            )
        ]
        sched = conn.execute(
            sa.text(
                "SELECT COUNT(*) AS n, COUNT(*) FILTER ("
                "   WHERE next_due < clock_timestamp() - interval '1 minute' AND NOT EXISTS ("
                "   SELECT 1 FROM procrastinate_jobs j WHERE j.queueing_lock = 'check:' || source"
                "   AND j.status IN ('todo', 'doing'))) AS behind FROM check_schedule"
            )
        ).one()
        lag = conn.execute(
            sa.text(
                "SELECT COUNT(*) AS n,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at))"
                "   AS p50,"
                " percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at))"
                "   AS p95"
                " FROM check_jobs WHERE started_at > clock_timestamp() - make_interval(secs => :w)"
            ),
            {"w": window.total_seconds()},
        ).one()
    return ClusterHealth(
        leader=leader.name if leader else None,
        leader_since=leader.since if leader else None,
        leader_alive=bool(leader and leader.ago < alive),
        seconds_since_pass=float(leader.ago) if leader else None,
        config_version=int(leader.config_version) if leader else 0,
        scheduled=int(sched.n),
        behind=int(sched.behind),
        workers=workers,
        queues=queues,
        lag_checks=int(lag.n),
        lag_p50_s=None if lag.p50 is None else float(lag.p50),
        lag_p95_s=None if lag.p95 is None else float(lag.p95),
        lag_window_s=window.total_seconds(),
    )
