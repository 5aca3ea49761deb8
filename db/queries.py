"""Reads for the dashboard: plain frozen records built from the tables, no writes."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from heapq import heappop, heappush
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from db import (
    models,  # noqa: F401 (registers the tables)
    pricerows,
)
from db.models import CONFIG_SOURCE, utc_from_db
from tracker.money import to_decimal
from tracker.pricing import list_price as list_price_of
from tracker.redact import redact as redact_text
from tracker.sizes import SYSTEM_NAMES, US_MEN, Size, collector_size, display, fmt, label_with_attributes

_TABLES = SQLModel.metadata.tables
# Check runs that are not failures of the shop (tracker.check.summary.HEALTHY_STATUSES, plus a check
# stopped by shutdown).
HEALTHY_RUN_STATUSES = ("ok", "not_modified", "cancelled")
IN_STOCK = "InStock"
OUT_OF_STOCK = "OutOfStock"

_O = _TABLES["observations"]
_L = _TABLES["listings"]
_S = _TABLES["sources"]
_C = _TABLES["colorways"]
_E = _TABLES["events"]
_D = _TABLES["deliveries"]
_R = _TABLES["releases"]
_RC = _TABLES["release_changes"]
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
    observation_id: int | None = None  # the latest observation's (None: never observed)

    def sizes_in_stock(self) -> list[str]:
        """Sizes this listing shows as in stock."""
        return [str(s.get("size")) for s in self.sizes if s.get("availability") == IN_STOCK]

    def placed_in_stock(self, size_system: str = US_MEN) -> list[Size]:
        """The sizes in stock, placed in size systems (see tracker.sizes); one stored before sizes were
        placed is read as a size in the collector's size_system."""
        return [
            Size.from_json(s, system=size_system) for s in self.sizes if s.get("availability") == IN_STOCK
        ]


@dataclass(frozen=True)
class StockBrief:
    """A listing's latest observation in brief: its price and stock, and which sizes are in stock."""

    source_name: str
    price: Decimal | None
    currency: str | None
    availability: str
    suspect: bool
    sizes_listed: bool
    in_stock: tuple[str, ...]


# What an observation holds in the collector's sizes: (which of their sizes, that size's own price or
# None) per size in stock that is one of theirs (SizeMatcher.held).
Held = tuple[tuple[tuple[str, ...], Decimal | None], ...]


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
    sizes: tuple[dict[str, Any], ...] = ()  # read only when asked (price_points(with_sizes=True))
    observation_id: int = 0  # 0: not from the database (a point made in a test)
    # in_stock of these sizes for the SizeMatcher given to price_points (None: not asked)
    mine: tuple[Decimal | None, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Stats:
    """A price line's lowest and highest (when and where), time-weighted average and price now."""

    currency: str
    lowest: Decimal | None
    lowest_at: datetime | None
    lowest_source: str | None
    highest: Decimal | None
    average: Decimal | None
    current: Decimal | None
    highest_at: datetime | None = None
    highest_source: str | None = None
    current_source: str | None = None


@dataclass(frozen=True)
class Cheapest:
    """The cheapest in-stock offer: where, at what price, and in which of the collector's sizes."""

    offer: Offer
    price: Decimal
    sizes: tuple[str, ...] = ()  # the collector's sizes in stock there, as they wrote them (empty: any)

    @property
    def source_name(self) -> str:
        """The shop."""
        return self.offer.source_name


@dataclass(frozen=True)
class Step:
    """A price held from start to end: the lowest buyable one among some listings (None: none)."""

    start: datetime
    end: datetime
    price: Decimal | None
    source_name: str | None
    listed: bool = True  # some listing was there
    sold_out: bool = False  # every listing there said out of stock


# What the overview says of a colorway's stock.
IN_STOCK_NOW, SOLD_OUT_EVERYWHERE, STOCK_UNKNOWN, NOT_LISTED = "in_stock", "sold_out", "unknown", "not_listed"


@dataclass(frozen=True)
class OverviewRow:
    """One watched colorway on the overview: the answer to "where do I buy it, in my size, for how much"."""

    colorway: ColorwayInfo
    currency: str | None
    list_price: Decimal | None
    best: Cheapest | None  # the cheapest in stock in any size
    mine: Cheapest | None  # the cheapest in stock in one of the collector's sizes (None without sizes)
    stock: str  # IN_STOCK_NOW, SOLD_OUT_EVERYWHERE, STOCK_UNKNOWN or NOT_LISTED
    my_sizes_available: tuple[str, ...]
    next_release: date | None
    sparkline: tuple[Step, ...] = ()  # the lowest price in any size over the last 30 days
    suspect: tuple[Offer, ...] = field(default=())
    target_price: Decimal | None = None
    last_changed: datetime | None = None
    shops: int = 0  # shops listing it now

    @property
    def in_stock(self) -> bool:
        """In stock at some shop, in some size."""
        return self.stock == IN_STOCK_NOW

    @property
    def headline(self) -> Cheapest | None:
        """The price that answers the collector: in their sizes when they gave sizes, else any size."""
        return self.mine if self.colorway.sizes else self.best

    @property
    def difference(self) -> Decimal | None:
        """Headline price minus list price (negative is a markdown)."""
        if self.headline is None or self.list_price is None:
            return None
        return self.headline.price - self.list_price

    @property
    def difference_percent(self) -> Decimal | None:
        """The difference as a percentage of list price, one decimal."""
        diff = self.difference
        if diff is None or not self.list_price:
            return None
        return (diff * 100 / self.list_price).quantize(Decimal("0.1"))

    @property
    def below_target(self) -> bool:
        """The headline price is at or below the collector's target."""
        return (
            self.headline is not None
            and self.target_price is not None
            and self.headline.price <= self.target_price
        )

    @property
    def below_list(self) -> bool:
        """The headline price is under the list price."""
        diff = self.difference
        return diff is not None and diff < 0

    def rank(self) -> tuple[int, Decimal, str]:
        """Sort key: at or below target, then below list, then buyable, then the rest; cheapest first."""
        if self.below_target:
            group = 0
        elif self.below_list:
            group = 1
        elif self.headline is not None:
            group = 2
        elif self.stock in (IN_STOCK_NOW, STOCK_UNKNOWN):
            group = 3  # in stock, not in the collector's sizes (or stock not known)
        elif self.stock == SOLD_OUT_EVERYWHERE:
            group = 4
        else:
            group = 5
        return (
            group,
            self.difference_percent if self.difference_percent is not None else Decimal(0),
            self.colorway.name,
        )


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
    # The date is config.toml's; `disputed` holds the other dates sources give, not followed.
    pinned: bool = False
    disputed: tuple[tuple[str, date], ...] = ()


@dataclass(frozen=True)
class ReleaseChangeRow:
    """One entry of a release's history: a date given, by whom, and whether the tracker acts on it."""

    style_code: str
    name: str
    region: str
    changed_at: datetime
    old_date: date | None
    new_date: date | None
    source_name: str | None
    applied: bool


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
        """Share of runs in the window that failed (blocked counts as one; a 304 does not)."""
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


# Sizes are read as the driver gives them: SQLite's JSON text is decoded once per distinct text (the
# latest observations of hundreds of listings on every overview), PostgreSQL's driver decodes its own.
_AS_STORED = sa.String()
# As text on PostgreSQL too, where the driver would decode every row's JSON itself.
_SIZES_TEXT = sa.type_coerce(sa.cast(_O.c.sizes, sa.Text), _AS_STORED)


def stored_sizes(stored: Any) -> tuple[dict[str, Any], ...]:
    """An observation's stored sizes, decoded (the dicts are shared: read them, never change them)."""
    if isinstance(stored, str):
        return _decoded_sizes(stored)
    return tuple(stored or ())


@lru_cache(maxsize=2048)
def _decoded_sizes(text: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(text) or ())


def forget_decoded_sizes() -> None:
    """Drop the decoded sizes kept by stored_sizes (tests measuring memory)."""
    _decoded_sizes.cache_clear()


def _offers(engine: Engine, where: Iterable[Any]) -> list[Offer]:
    # Times, amounts and sizes as the driver gives them, converted once per distinct value (see
    # stored_sizes): SQLAlchemy's per-row processing of hundreds of listings costs more than reading them.
    query = (
        sa.select(
            _L.c.id,
            _L.c.colorway_id,
            _S.c.name,
            _L.c.url,
            _L.c.title,
            _L.c.style_code,
            _L.c.image,
            sa.type_coerce(_L.c.last_checked_at, _AS_STORED),
            _L.c.gone,
            sa.type_coerce(_O.c.price, _AS_STORED),
            _O.c.currency,
            sa.type_coerce(_O.c.compare_at, _AS_STORED),
            _O.c.availability,
            _SIZES_TEXT,
            _O.c.suspect,
            sa.type_coerce(_O.c.observed_at, _AS_STORED),
            _O.c.id,
        )
        .select_from(
            _L.join(_S, _S.c.id == _L.c.source_id).outerjoin(_O, _O.c.id == _latest_observation_ids())
        )
        .where(*where)
    )
    with engine.connect() as conn:
        # By shop, then listing: sorted here, where the database would sort whole rows, sizes and all.
        rows = sorted(conn.execute(query), key=lambda r: (r[2], r[0]))
    amount = pricerows.amount
    return [
        Offer(
            listing_id=lid,
            colorway_id=cid,
            source_name=shop,
            url=url,
            title=title,
            style_code=code,
            image=image,
            price=amount(price),
            currency=currency,
            compare_at=amount(compare_at),
            availability=availability or "unknown",
            sizes=stored_sizes(sizes),
            suspect=bool(suspect),
            observed_at=None if observed is None else utc_from_db(observed),
            last_checked_at=utc_from_db(checked),
            gone=bool(gone),
            observation_id=oid,
        )
        for (
            lid,
            cid,
            shop,
            url,
            title,
            code,
            image,
            checked,
            gone,
            price,
            currency,
            compare_at,
            availability,
            sizes,
            suspect,
            observed,
            oid,
        ) in rows
    ]


def latest_stock(engine: Engine, colorway_ids: Sequence[int]) -> list[StockBrief]:
    """Each listing of these colorways still listed, its latest observation in brief, by shop.

    Read a few rows at a time and reduced as they come: a colorway a thousand shops list does not
    hold every size of every shop at once (what the weekly digest needs, in a fraction of the memory
    latest_offers takes, which a long-running tracker would keep as its high-water mark).
    """
    query = (
        sa.select(
            _S.c.name.label("source_name"),
            _O.c.price,
            _O.c.currency,
            _O.c.availability,
            _SIZES_TEXT.label("sizes"),
            _O.c.suspect,
        )
        .select_from(
            _L.join(_S, _S.c.id == _L.c.source_id).outerjoin(_O, _O.c.id == _latest_observation_ids())
        )
        .where(_L.c.colorway_id.in_(list(colorway_ids)), _L.c.gone.is_(False))
        .order_by(_S.c.name, _L.c.id)
    )
    out: list[StockBrief] = []
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=100).execute(query):
            # Decoded one row at a time, never kept (stored_sizes keeps what it decodes).
            sizes = (json.loads(r.sizes) if isinstance(r.sizes, str) else r.sizes) or ()
            out.append(
                StockBrief(
                    source_name=r.source_name,
                    price=r.price,
                    currency=r.currency,
                    availability=r.availability or "unknown",
                    suspect=bool(r.suspect),
                    sizes_listed=bool(sizes),
                    in_stock=tuple(str(z.get("size")) for z in sizes if z.get("availability") == IN_STOCK),
                )
            )
    return out


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
    engine: Engine,
    colorway_ids: Sequence[int],
    since: datetime | None = None,
    *,
    with_sizes: bool | SizeMatcher = False,
) -> list[PricePoint]:
    """Observations of these colorways' listings since a time, plus the one held at that time (with
    each observation's sizes when asked: what "in your sizes" needs), by listing and time.

    Given the SizeMatcher that price_steps will use instead, each point comes with what it offers in
    those sizes (PricePoint.mine) and no sizes: they are read and decoded only for observations not
    placed before (an observation's sizes and price never change; decoding a year of sizes is most of
    a long range's time)."""
    matcher = with_sizes if isinstance(with_sizes, SizeMatcher) and with_sizes else None
    with engine.connect() as conn:
        shops = _listing_shops(conn, list(colorway_ids))
        by_listing = pricerows.listing_rows(conn, str(engine.url), list(shops), since)
        rows = [r for lid in sorted(by_listing) for r in by_listing[lid]]
        mine = _placed(conn, rows, matcher, str(engine.url)) if matcher is not None else {}
        sizes = _sizes_of(conn, [r[2] for r in rows]) if with_sizes and matcher is None else {}
    return [
        PricePoint(lid, *shops[lid], at, price, cur, avail, suspect, sizes.get(oid, ()), oid, mine.get(oid))
        for lid, at, oid, price, cur, avail, suspect in rows
    ]


def _listing_shops(conn: sa.Connection, colorway_ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """Listing id -> (colorway id, shop name) for these colorways' listings."""
    query = (
        sa.select(_L.c.id, _L.c.colorway_id, _S.c.name)
        .select_from(_L.join(_S, _S.c.id == _L.c.source_id))
        .where(_L.c.colorway_id.in_(colorway_ids))
    )
    return {lid: (cid, name) for lid, cid, name in conn.execute(query)}


def _sizes_of(conn: sa.Connection, observation_ids: list[int]) -> dict[int, tuple[dict[str, Any], ...]]:
    """Observation id -> its stored sizes."""
    out: dict[int, tuple[dict[str, Any], ...]] = {}
    for i in range(0, len(observation_ids), _SIZES_CHUNK):
        query = sa.select(_O.c.id, _O.c.sizes).where(_O.c.id.in_(observation_ids[i : i + _SIZES_CHUNK]))
        out.update((oid, tuple(sizes or ())) for oid, sizes in conn.execute(query))
    return out


_SIZES_CHUNK = 500  # ids per IN (...) list: well under every database's limit on bound values


def _placed(
    conn: sa.Connection, rows: list[Any], matcher: SizeMatcher, database: str
) -> dict[int, tuple[Decimal | None, tuple[str, ...]]]:
    """Observation id -> what it offers in the matcher's sizes; sizes read only for those not known."""
    out: dict[int, tuple[Decimal | None, tuple[str, ...]]] = {}
    missing: dict[int, tuple[int, datetime, Decimal | None]] = {}
    memo = _held_memo(matcher, database)
    offered = matcher.offered
    for lid, at, oid, price, *_ in rows:
        known = memo.get(oid)
        # The same listing and time: the same observation (see HELD_MEMO_ENTRIES).
        if known is not None and known[0] == lid and known[1] == at:
            out[oid] = offered(known[2], price)
        else:
            missing[oid] = (lid, at, price)
    ids = list(missing)
    for i in range(0, len(ids), _SIZES_CHUNK):
        query = sa.select(_O.c.id, _SIZES_TEXT)
        for oid, sizes in conn.execute(query.where(_O.c.id.in_(ids[i : i + _SIZES_CHUNK]))):
            lid, at, price = missing[oid]
            held = matcher.held(stored_sizes(sizes))
            out[oid] = offered(held, price)
            _remember(memo, oid, (lid, at, held))
    return out


def held_sizes(offers: Iterable[Offer], matcher: SizeMatcher, database: str) -> dict[int, Held]:
    """Listing id -> what its offer holds in the matcher's sizes (SizeMatcher.held), remembered per
    observation: an overview asks it of hundreds of listings' latest sizes, which seldom change."""
    memo = _held_memo(matcher, database)
    out: dict[int, Held] = {}
    for offer in offers:
        oid = offer.observation_id
        known = memo.get(oid) if oid is not None else None
        if known is not None and known[0] == offer.listing_id and known[1] == offer.observed_at:
            out[offer.listing_id] = known[2]
            continue
        held = out[offer.listing_id] = matcher.held(offer.sizes)
        if oid is not None:
            _remember(memo, oid, (offer.listing_id, offer.observed_at, held))
    return out


def _remember(memo: dict[int, tuple[Any, ...]], oid: int, entry: tuple[Any, ...]) -> None:
    if len(memo) >= HELD_MEMO_ENTRIES:
        memo.clear()
    memo[oid] = entry


def _held_memo(matcher: SizeMatcher, database: str) -> dict[int, tuple[Any, ...]]:
    """The held memo of these sizes in this database: observation id -> (listing, time, held)."""
    key = (matcher.key, database)
    with _SIZE_MEMO_LOCK:
        memo = _HELD_MEMO.pop(key, None)
        while len(_HELD_MEMO) >= SIZE_MEMO_SETS:
            del _HELD_MEMO[next(iter(_HELD_MEMO))]  # the least recently used sizes and database
        memo = _HELD_MEMO[key] = {} if memo is None else memo
    return memo


def buyable(segment: Offer | PricePoint) -> bool:
    """A price someone could pay: present, not suspect, not out of stock."""
    return segment.price is not None and not segment.suspect and segment.availability != OUT_OF_STOCK


def currencies(points: Iterable[PricePoint | Offer | StockBrief], preferred: Iterable[str] = ()) -> list[str]:
    """Currencies seen, the preferred ones (a colorway's list-price currencies) first."""
    seen: dict[str, int] = defaultdict(int)
    for point in points:
        if point.currency:
            seen[point.currency] += 1
    ordered = [c for c in preferred if c in seen]
    ordered += sorted((c for c in seen if c not in ordered), key=lambda c: -seen[c])
    return ordered


_SIZE_MEMO: dict[tuple[tuple[str, ...], str], dict[tuple[Any, ...], tuple[str, ...]]] = {}
_SIZE_MEMO_LOCK = threading.Lock()
# Bounds of the memo in a dashboard that runs for months: the latest SIZE_MEMO_SETS sets of the
# collector's sizes (an edited watchlist leaves its old sizes behind), each remembering at most
# SIZE_MEMO_ENTRIES stored sizes before it starts over. A memo entry never goes stale: it depends
# only on the stored size and the collector's sizes.
SIZE_MEMO_SETS = 8
SIZE_MEMO_ENTRIES = 4096
# What each stored observation holds in the collector's sizes (SizeMatcher.held), for every matcher:
# an observation's sizes never change, so a long range reads and decodes only the sizes of
# observations not seen before. Kept per set of sizes and database, by observation id, and used only
# when the observation's listing and time are the ones remembered, so a database replaced at the same
# address (a restore) cannot answer from another's rows. At most HELD_MEMO_ENTRIES (about 200 bytes
# each) per set of sizes before it starts over.
HELD_MEMO_ENTRIES = 60_000
_HELD_MEMO: dict[tuple[Any, ...], dict[int, tuple[Any, ...]]] = {}


class SizeMatcher:
    """Which of the collector's sizes a shop's stored size is; memoised, since a year of observations
    repeats the same few dozen sizes."""

    def __init__(self, my_sizes: Sequence[str], size_system: str = US_MEN) -> None:
        self.system = size_system
        self.mine = [(own, collector_size(own, size_system)) for own in my_sizes]
        # Shared by every matcher for the same sizes: placing and comparing a size costs ~0.3 ms.
        key = (tuple(my_sizes), size_system)
        with _SIZE_MEMO_LOCK:
            memo = _SIZE_MEMO.pop(key, None)
            while len(_SIZE_MEMO) >= SIZE_MEMO_SETS:
                del _SIZE_MEMO[next(iter(_SIZE_MEMO))]  # the least recently made matcher's sizes
            self._memo = _SIZE_MEMO[key] = {} if memo is None else memo
        self._key = key

    def __bool__(self) -> bool:
        return bool(self.mine)

    @property
    def key(self) -> tuple[tuple[str, ...], str]:
        """These sizes and their size system."""
        return self._key

    def of(self, stored: dict[str, Any]) -> tuple[str, ...]:
        """The collector's sizes (as they wrote them) that this stored size is."""
        systems = stored.get("systems")
        placed = tuple(sorted(systems.items())) if isinstance(systems, dict) else None
        key = (str(stored.get("size")), str(stored.get("us")), placed)
        found = self._memo.get(key)
        if found is None:
            size = Size.from_json(stored, system=self.system)
            found = tuple(own for own, wanted in self.mine if size.matches(wanted))
            if len(self._memo) >= SIZE_MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = found
        return found

    def held(self, sizes: Iterable[dict[str, Any]]) -> Held:
        """(the collector's sizes it is, its own price or None) of each size in stock among these that is
        one of theirs."""
        return tuple(
            (own, to_decimal(stored.get("price")))
            for stored in sizes
            if stored.get("availability") == IN_STOCK and (own := self.of(stored))
        )

    @staticmethod
    def offered(held: Held, price: Decimal | None) -> tuple[Decimal | None, tuple[str, ...]]:
        """The lowest price of the held sizes (a size's own price, else the listing's price) and those
        sizes; (None, ()) when none of them has a price."""
        best: Decimal | None = None
        found: list[str] = []
        for own, own_price in held:
            size_price = own_price or price
            if size_price is None or size_price <= 0:
                continue
            found.extend(o for o in own if o not in found)
            best = size_price if best is None else min(best, size_price)
        return best, tuple(found)

    def in_stock(
        self, sizes: Iterable[dict[str, Any]], price: Decimal | None
    ) -> tuple[Decimal | None, tuple[str, ...]]:
        """The lowest price of the collector's sizes in stock among these (a size's own price, else the
        listing's) and those sizes; (None, ()) when none of them is in stock."""
        return self.offered(self.held(sizes), price)


def cheapest(
    offers: Iterable[Offer],
    currency: str | None,
    sizes: SizeMatcher | None = None,
    held: Mapping[int, Held] | None = None,
) -> Cheapest | None:
    """The cheapest buyable in-stock offer in a currency; with the collector's sizes, only shops that have
    one of them in stock, at that size's own price (ties go to the shop first by name). held: what
    each listing's offer holds in those sizes, when known (see held_sizes)."""
    found: list[Cheapest] = []
    for offer in offers:
        if offer.gone or offer.currency != currency or not buyable(offer) or offer.price is None:
            continue
        if sizes:
            mine = held[offer.listing_id] if held is not None else sizes.held(offer.sizes)
            price, own = sizes.offered(mine, offer.price)
            if price is not None:
                found.append(Cheapest(offer, price, own))
        elif offer.availability == IN_STOCK:
            found.append(Cheapest(offer, offer.price))
    return min(found, key=lambda c: (c.price, c.offer.source_name, c.offer.listing_id), default=None)


# What one observation does to a price line: (when, listing, its buyable price or None, shop, sold out).
Move = tuple[datetime, int, Decimal | None, str, bool]
_MOVE_ORDER = itemgetter(0, 1)


def price_steps(
    points: Sequence[PricePoint],
    currency: str,
    since: datetime | None,
    until: datetime,
    sizes: SizeMatcher | None = None,
) -> list[Step]:
    """The lowest buyable price among the points' listings as it moved from since (None: the first
    observation) to until, one step per change; in the collector's sizes when sizes are given."""
    moves: list[Move] = []
    for p in points:
        out = p.availability == OUT_OF_STOCK
        if p.currency != currency or p.price is None or p.suspect or out:
            value = None  # not buyable (see buyable)
        elif sizes:
            # Placed already by price_points when it was given this matcher.
            value = (p.mine if p.mine is not None else sizes.in_stock(p.sizes, p.price))[0]
        else:
            value = p.price
        moves.append((p.observed_at, p.listing_id, value, p.source_name, out))
    moves.sort(key=_MOVE_ORDER)
    return _steps(moves, since, until)


def _moves(
    rows: Iterable[pricerows.Row],
    shop: str,
    currency: str,
    mine: dict[int, tuple[Decimal | None, tuple[str, ...]]] | None = None,
) -> list[Move]:
    """One shop's price rows as moves, in any size (or at the lowest of the collector's sizes in stock,
    from mine: observation id -> SizeMatcher.in_stock)."""
    out: list[Move] = []
    for lid, at, oid, price, cur, avail, suspect in rows:
        sold_out = avail == OUT_OF_STOCK
        if cur != currency or price is None or suspect or sold_out:
            out.append((at, lid, None, shop, sold_out))
        else:
            out.append((at, lid, price if mine is None else mine[oid][0], shop, sold_out))
    return out


def _sorted_moves(
    listings: Iterable[tuple[str, list[pricerows.Row]]],
    currency: str,
    mine: dict[int, tuple[Decimal | None, tuple[str, ...]]] | None = None,
) -> list[Move]:
    """The moves of these (shop, price rows) listings in time order (see _moves)."""
    moves = [m for shop, rows in listings for m in _moves(rows, shop, currency, mine)]
    moves.sort(key=_MOVE_ORDER)
    return moves


# Price lines computed from a range's anchor on (see pricerows.anchor), by what they were computed
# from: the database, anchor, currency, sizes, listings, shop names and the spans of rows read. A
# listing whose rows change is read again as a new span, so a line is never answered from rows the
# database no longer holds; ranges ending later are the same line cut at another time (_clip).
_LINES: OrderedDict[tuple[Any, ...], list[Step]] = OrderedDict()
_LINES_LOCK = threading.Lock()
LINES_KEPT = 1024  # lines kept at once, the least recently used dropped first
_FOREVER = datetime.max.replace(tzinfo=UTC)


def _line(
    key: tuple[Any, ...],
    moves: Callable[[], list[Move]],
    anchor: datetime | None,
    since: datetime | None,
    until: datetime,
) -> list[Step]:
    """The line of these moves from since to until, computed once from the anchor on."""
    with _LINES_LOCK:
        line = _LINES.get(key)
        if line is not None:
            _LINES.move_to_end(key)
    if line is None:
        line = _steps(moves(), anchor, _FOREVER)
        with _LINES_LOCK:
            _LINES[key] = line
            while len(_LINES) > LINES_KEPT:
                _LINES.popitem(last=False)
    return _clip(line, since, until)


def _clip(line: Sequence[Step], since: datetime | None, until: datetime) -> list[Step]:
    """A line computed from an earlier start to any time, as _steps gives it from since to until: the
    step holding at since starts there, the one holding at until ends there."""
    out: list[Step] = []
    for step in line:
        if step.start >= until:
            break
        if since is not None and step.end <= since:
            continue
        start = since if since is not None and step.start < since else step.start
        end = until if step.end > until else step.end
        out.append(step if start == step.start and end == step.end else replace(step, start=start, end=end))
    return out


def _steps(moves: Sequence[Move], since: datetime | None, until: datetime) -> list[Step]:
    """The lowest price the moves' listings offered, one step per change (see price_steps); moves in
    time order, then by listing."""
    if not moves:
        return []
    first = moves[0][0]
    start = first if since is None or since < first else since
    if all(m[1] == moves[0][1] for m in moves):
        return _one_steps(moves, start, until)
    # What each listing holds, how many hold "sold out", and every price held as a heap of (price, shop,
    # listing): the lowest is its top once the tops no listing holds any more are dropped. Kept in
    # locals, not an object: this loop runs for every observation.
    held: dict[int, tuple[Decimal | None, str, bool]] = {}
    outs = 0
    prices: list[tuple[Decimal, str, int]] = []
    steps: list[Step] = []
    state: tuple[Decimal | None, str | None, bool, bool] | None = None
    began = start
    i, n = 0, len(moves)
    while i < n:
        at = moves[i][0]
        if at >= until:
            break
        moment = at if at > start else start
        while True:  # every move of this moment
            _, lid, value, shop, out = moves[i]
            before = held.get(lid)
            outs += out - (before[2] if before is not None else False)
            held[lid] = (value, shop, out)
            if value is not None:
                heappush(prices, (value, shop, lid))
            i += 1
            if i == n:
                break
            at = moves[i][0]
            if (at if at > start else start) != moment:
                break
        while prices and held[prices[0][2]][0] != prices[0][0]:
            heappop(prices)  # a price its listing no longer holds
        low = prices[0] if prices else None
        sold_out = outs == len(held)  # every listing there holds "sold out"
        now = (low[0], low[1], True, sold_out) if low else (None, None, True, sold_out)
        if now != state:
            if state is not None and moment > began:
                steps.append(Step(began, moment, *state))
            state, began = now, moment
    if state is not None and began < until:
        steps.append(Step(began, until, *state))
    return steps


def _one_steps(moves: Sequence[Move], start: datetime, until: datetime) -> list[Step]:
    """_steps of one listing's moves (most shops' lines): its state is what it holds, no lowest to keep."""
    steps: list[Step] = []
    state: tuple[Decimal | None, str | None, bool, bool] | None = None
    began = start
    i, n = 0, len(moves)
    while i < n:
        at = moves[i][0]
        if at >= until:
            break
        moment = at if at > start else start
        i += 1
        while i < n and (moves[i][0] if moves[i][0] > start else start) == moment:
            i += 1  # the last move of a moment is what the listing holds
        _, _, value, shop, out = moves[i - 1]
        now = (value, shop, True, out) if value is not None else (None, None, True, out)
        if now != state:
            if state is not None and moment > began:
                steps.append(Step(began, moment, *state))
            state, began = now, moment
    if state is not None and began < until:
        steps.append(Step(began, until, *state))
    return steps


def step_stats(steps: Sequence[Step], currency: str, until: datetime) -> Stats:
    """Keepa-style statistics of a price line: lowest and highest (when and where), time-weighted
    average, and the price now."""
    priced = [s for s in steps if s.price is not None]
    if not priced:
        return Stats(currency, None, None, None, None, None, None)
    low = min(priced, key=lambda s: (s.price, s.start))
    high = max(priced, key=lambda s: (s.price, -s.start.timestamp()))
    seconds = sum((Decimal((s.end - s.start).total_seconds()) for s in priced), Decimal(0))
    weighted = sum(
        (s.price * Decimal((s.end - s.start).total_seconds()) for s in priced if s.price), Decimal(0)
    )
    last = steps[-1]
    current = last if last.end >= until and last.price is not None else None
    return Stats(
        currency=currency,
        lowest=low.price,
        lowest_at=low.start,
        lowest_source=low.source_name,
        highest=high.price,
        average=(weighted / seconds).quantize(Decimal("0.01")) if seconds else None,
        current=current.price if current else None,
        highest_at=high.start,
        highest_source=high.source_name,
        current_source=current.source_name if current else None,
    )


def shop_steps(
    points: Sequence[PricePoint], currency: str, since: datetime | None, until: datetime
) -> dict[str, list[Step]]:
    """Each shop's own line: its lowest buyable price in any size (a shop may list a colorway twice)."""
    by_shop: dict[str, list[PricePoint]] = defaultdict(list)
    for point in points:
        by_shop[point.source_name].append(point)
    return {shop: price_steps(pts, currency, since, until) for shop, pts in sorted(by_shop.items())}


@dataclass(frozen=True)
class PriceLines:
    """A colorway's prices over a range, ready for its chart and statistics: the lowest line (in the
    collector's sizes when they gave any) and each shop's own line in any size."""

    since: datetime  # where the lines start: the range's start, or the first price when it came later
    until: datetime
    currency: str
    currencies: tuple[str, ...]  # every currency seen, the preferred ones first
    lowest: list[Step]
    shops: dict[str, list[Step]]
    stats: Stats
    observed: bool  # any price was ever recorded in the range


def price_lines(
    engine: Engine,
    colorway_id: int,
    since: datetime | None,
    until: datetime,
    *,
    currency: str | None = None,
    preferred: Sequence[str] = (),
    sizes: SizeMatcher | None = None,
) -> PriceLines:
    """One colorway's price lines from since (None: its first price) to until, in currency (None, or
    one never seen: the first of the preferred ones seen); what price_points, price_steps, shop_steps
    and step_stats give, read and computed without a PricePoint per observation (a year is thousands)."""
    matcher = sizes if sizes else None
    database = str(engine.url)
    with engine.connect() as conn:
        shops = _listing_shops(conn, [colorway_id])
        got = pricerows.spans(conn, database, list(shops), since)
        lids = got.listings()
        rows = {lid: got.rows(lid, since) for lid in lids}
        # What the lowest line needs of every row from the anchor on, in the collector's sizes.
        spanned = [r for lid in lids for r in got.rows(lid, got.anchor)] if matcher is not None else []
        mine = _placed(conn, spanned, matcher, database) if matcher is not None else {}
    seen: dict[str, int] = defaultdict(int)
    for lid in lids:
        for row in rows[lid]:
            if row[4]:
                seen[row[4]] += 1
    found = [c for c in preferred if c in seen]
    found += sorted((c for c in seen if c not in found), key=lambda c: -seen[c])
    ordered = tuple(found) or tuple(preferred) or ("USD",)
    chosen = currency if currency in ordered else ordered[0]
    # A range longer than the history starts where the history does, so young data is not a sliver.
    first = min((rows[lid][0][1] for lid in lids if rows[lid]), default=None)
    start = max(since, first) if since and first else since or first or until - timedelta(days=1)
    start = min(start, until - timedelta(minutes=10))
    by_shop: dict[str, list[int]] = defaultdict(list)
    for lid in lids:
        by_shop[shops[lid][1]].append(lid)

    def line(listings: list[int], placed: bool) -> list[Step]:
        names = tuple(shops[lid][1] for lid in listings)
        sized = matcher.key if placed and matcher else None
        key = (database, got.anchor, chosen, sized, tuple(listings), names, got.mark(listings))
        return _line(
            key,
            lambda: _sorted_moves(
                ((shops[lid][1], got.rows(lid, got.anchor)) for lid in listings),
                chosen,
                mine if placed and matcher else None,
            ),
            got.anchor,
            start,
            until,
        )

    lowest = line(lids, True)
    lines = {shop: line(listed, False) for shop, listed in sorted(by_shop.items())}
    observed = any(rows[lid] for lid in lids)
    return PriceLines(
        since=start,
        until=until,
        currency=chosen,
        currencies=ordered,
        lowest=lowest,
        shops=lines,
        stats=step_stats(lowest, chosen, until),
        observed=observed,
    )


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


def _stock_state(offers: Sequence[Offer]) -> str:
    if not offers:
        return NOT_LISTED
    if any(o.availability == IN_STOCK for o in offers):
        return IN_STOCK_NOW
    if all(o.availability == OUT_OF_STOCK for o in offers):
        return SOLD_OUT_EVERYWHERE
    return STOCK_UNKNOWN


def overview(
    engine: Engine,
    now: datetime,
    *,
    days: int = 30,
    today: date | None = None,
    style_codes: Sequence[str] | None = None,
    size_system: str = US_MEN,
) -> list[OverviewRow]:
    """One row per watched colorway (or per given style code), best answers first (see OverviewRow.rank):
    the cheapest in stock in the collector's sizes and in any size, stock, last change, sparkline."""
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
    # The sparkline is the lowest price in any size: reading every observation's sizes for 30 days of
    # 30 colorways would cost the page seconds on a year of data.
    with engine.connect() as conn:
        shops = _listing_shops(conn, ids)
        got = pricerows.spans(conn, str(engine.url), list(shops), since)
    listings_by: dict[int, list[int]] = defaultdict(list)
    for lid in got.listings():
        cid = shops[lid][0]
        if cid is not None:
            listings_by[cid].append(lid)

    def sparkline(colorway_id: int, currency: str) -> list[Step]:
        """The lowest price in any size from since to now."""
        listings = listings_by.get(colorway_id, [])
        names = tuple(shops[lid][1] for lid in listings)
        key = (str(engine.url), got.anchor, currency, None, tuple(listings), names, got.mark(listings))
        moves = [(shops[lid][1], got.rows(lid, got.anchor)) for lid in listings]
        return _line(key, lambda: _sorted_moves(moves, currency), got.anchor, since, now)

    release_dates = _releases_by_colorway(engine)
    today = today or now.date()
    rows = [
        _overview_row(
            c,
            offers_by.get(c.id, []),
            sparkline,
            release_dates=release_dates,
            since=since,
            now=now,
            today=today,
            size_system=size_system,
            database=str(engine.url),
        )
        for c in watched
    ]
    return sorted(rows, key=OverviewRow.rank)


def _overview_row(
    colorway: ColorwayInfo,
    offers: list[Offer],
    sparkline: Callable[[int, str], list[Step]],
    *,
    release_dates: dict[str, list[date]],
    since: datetime,
    now: datetime,
    today: date,
    size_system: str,
    database: str,
) -> OverviewRow:
    currency = next(iter(currencies(offers, colorway.list_prices)), None) or next(
        iter(colorway.list_prices), "USD"
    )
    sizes = SizeMatcher(colorway.sizes, size_system)
    held = held_sizes(offers, sizes, database) if sizes else {}
    in_stock = [held.get(o.listing_id, ()) for o in offers if o.availability == IN_STOCK]
    found = {own for mine in in_stock for owns, _ in mine for own in owns}
    dates = [d for d in [*release_dates.get(colorway.style_code, []), colorway.release_date] if d]
    return OverviewRow(
        colorway=colorway,
        currency=currency,
        list_price=list_price(colorway, currency),
        best=cheapest(offers, currency),
        mine=cheapest(offers, currency, sizes, held) if sizes else None,
        stock=_stock_state(offers),
        my_sizes_available=tuple(own for own in colorway.sizes if own in found),
        next_release=min((d for d in dates if d >= today), default=None),
        sparkline=tuple(sparkline(colorway.id, currency)),
        suspect=tuple(o for o in offers if o.suspect and o.price is not None),
        target_price=colorway.target_prices.get(currency),
        last_changed=max((o.observed_at for o in offers if o.observed_at), default=None),
        shops=len({o.source_name for o in offers}),
    )


def size_system_name(system: str) -> str:
    """A size system as people say it: US men's, UK, EU, cm (JP)."""
    return SYSTEM_NAMES.get(system, system)


@dataclass(frozen=True)
class GridCell:
    """One shop's size in a size-grid row: its own label (None when the row already says it), and its
    price when that shop's sizes are not all one price."""

    label: str | None
    availability: str
    price: Decimal | None
    currency: str | None
    guessed: bool


@dataclass(frozen=True)
class GridRow:
    """One size of the size grid, in the collector's system, with each shop's size of that foot."""

    size: str
    mine: bool
    placed: bool  # False: a size no system could be found for, shown as the shop wrote it
    cells: dict[str, tuple[GridCell, ...]]


def _row_key(size: Size, system: str) -> tuple[tuple[int, float, str], str, str]:
    """(sort key, row name, bare value) of a shop size: in the collector's system, else in the size's
    own, else as the shop wrote it."""
    converted = size.value_in(system)
    if converted is not None:
        return (0, float(converted), ""), display(system, converted), fmt(converted)
    if size.placed:
        own, value = size.systems[0]
        return (1, float(value), own), display(own, value), fmt(value)
    return (2, 0.0, size.label.casefold()), size.label, size.label


def size_grid(offers: Sequence[Offer], my_sizes: Sequence[str], size_system: str = US_MEN) -> list[GridRow]:
    """The sizes shops list, one row per foot in the collector's system (a UK shop's "UK 9.5" and a US
    shop's "10" share the row US 10), with each shop's own label beside its stock."""
    mine = [collector_size(s, size_system) for s in my_sizes]
    rows: dict[str, tuple[tuple[int, float, str], Size, dict[str, list[GridCell]]]] = {}
    for offer in offers:
        differ = len({s.get("price") for s in offer.sizes if s.get("price") is not None}) > 1
        for stored in offer.sizes:
            size = Size.from_json(stored, system=size_system)
            order, name, bare = _row_key(size, size_system)
            label = label_with_attributes(stored)
            shown = None if label.casefold() in (name.casefold(), bare.casefold()) else label
            cell = GridCell(
                shown,
                str(stored.get("availability") or "unknown"),
                to_decimal(stored.get("price")) if differ else None,
                offer.currency,
                size.guessed,
            )
            rows.setdefault(name, (order, size, {}))[2].setdefault(offer.source_name, []).append(cell)
    return [
        GridRow(
            name, any(size.matches(m) for m in mine), size.placed, {k: tuple(v) for k, v in cells.items()}
        )
        for name, (_, size, cells) in sorted(rows.items(), key=lambda item: (item[1][0], item[0]))
    ]


@dataclass(frozen=True)
class SizeTile:
    """One size in the collector's system, as StockX shows it: its lowest in-stock price and where."""

    size: str  # "US 10", or the shop's label when no system could be found for it
    mine: bool
    placed: bool
    price: Decimal | None  # None: sold out at every shop that lists the size
    currency: str | None
    source_name: str | None
    url: str | None
    shops_in_stock: int
    shops_listing: int


def size_tiles(
    offers: Sequence[Offer], my_sizes: Sequence[str], size_system: str = US_MEN, currency: str | None = None
) -> list[SizeTile]:
    """Every size any shop lists, in the collector's system and in size order, with the lowest in-stock
    price in the currency (a size's own price, else its listing's) and the shop that asks it."""
    mine = [collector_size(s, size_system) for s in my_sizes]
    found: dict[str, dict[str, Any]] = {}
    for offer in offers:
        if offer.gone:
            continue
        for stored in offer.sizes:
            size = Size.from_json(stored, system=size_system)
            order, name, _ = _row_key(size, size_system)
            tile = found.setdefault(
                name, {"order": order, "size": size, "best": None, "in": set(), "all": set()}
            )
            tile["all"].add(offer.source_name)
            if stored.get("availability") != IN_STOCK or not buyable(offer) or offer.currency != currency:
                continue
            tile["in"].add(offer.source_name)
            price = to_decimal(stored.get("price")) or offer.price
            if price is not None and (tile["best"] is None or (price, offer.source_name) < tile["best"][:2]):
                tile["best"] = (price, offer.source_name, offer.url)
    return [
        SizeTile(
            size=name,
            mine=any(t["size"].matches(m) for m in mine),
            placed=t["size"].placed,
            price=t["best"][0] if t["best"] else None,
            currency=currency,
            source_name=t["best"][1] if t["best"] else None,
            url=t["best"][2] if t["best"] else None,
            shops_in_stock=len(t["in"]),
            shops_listing=len(t["all"]),
        )
        for name, t in sorted(found.items(), key=lambda item: (item[1]["order"], item[0]))
    ]


@dataclass(frozen=True)
class ShopOffer:
    """A shop's offer now, with the collector's sizes it has in stock and their lowest price."""

    offer: Offer
    my_price: Decimal | None
    my_sizes: tuple[str, ...]


def shops_now(offers: Sequence[Offer], my_sizes: Sequence[str], size_system: str = US_MEN) -> list[ShopOffer]:
    """Shops listing a colorway now, cheapest first: in stock in the collector's sizes, then in stock,
    then the rest (sold out, unknown, suspect)."""
    sizes = SizeMatcher(my_sizes, size_system)
    rows = []
    for offer in offers:
        if offer.gone:
            continue
        price, own = sizes.in_stock(offer.sizes, offer.price) if sizes and buyable(offer) else (None, ())
        rows.append(ShopOffer(offer, price, own))

    def order(row: ShopOffer) -> tuple[int, Decimal, str]:
        o = row.offer
        group = 0 if row.my_price is not None else 1 if o.availability == IN_STOCK and buyable(o) else 2
        return group, row.my_price or o.price or Decimal("Infinity"), o.source_name

    return sorted(rows, key=order)


@dataclass(frozen=True)
class SourceSizes:
    """A source's sizes the tracker could not place in a size system, and those it placed by a guess."""

    source_name: str
    unplaced: tuple[str, ...]
    guessed: tuple[str, ...]  # the systems guessed (from the shop's country, or the number's range)
    guessed_count: int


def size_health(engine: Engine, size_system: str = US_MEN) -> list[SourceSizes]:
    """Per source with unplaced or guessed sizes in its listings' latest observations: what to fix
    with the source's size_system (sizes stored before they were placed read as size_system's)."""
    unplaced: dict[str, set[str]] = defaultdict(set)
    guessed: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for offer in _offers(engine, [_L.c.gone.is_(False)]):
        for stored in offer.sizes:
            size = Size.from_json(stored, system=size_system)
            if not size.placed:
                unplaced[offer.source_name].add(size.label)
            elif size.guessed:
                guessed[offer.source_name].add(size.systems[0][0])
                counts[offer.source_name] += 1
    return [
        SourceSizes(name, tuple(sorted(unplaced[name])), tuple(sorted(guessed[name])), counts[name])
        for name in sorted(set(unplaced) | set(guessed))
    ]


def _event_rows(
    engine: Engine,
    order: Sequence[Any],
    limit: int,
    *,
    colorway_id: int | None,
    kinds: Sequence[str] | None,
    since: datetime | None,
    after_id: int | None = None,
) -> list[EventRow]:
    """Events with their shop and colorway names (the event's own data where those rows are gone)."""
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
        .select_from(_E.outerjoin(_S, _S.c.id == _E.c.source_id).outerjoin(_C, _C.c.id == _E.c.colorway_id))
        .order_by(*order)
        .limit(limit)
    )
    if colorway_id is not None:
        query = query.where(_E.c.colorway_id == colorway_id)
    if kinds:
        query = query.where(_E.c.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(_E.c.created_at >= since)
    if after_id is not None:
        query = query.where(_E.c.id > after_id)
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


def events(
    engine: Engine,
    *,
    colorway_id: int | None = None,
    kinds: Sequence[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[EventRow]:
    """Events, newest first, with their shop and colorway names."""
    order = (_E.c.created_at.desc(), _E.c.id.desc())
    return _event_rows(engine, order, limit, colorway_id=colorway_id, kinds=kinds, since=since)


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


def _disputes(conn: sa.Connection) -> dict[int, tuple[tuple[str, date], ...]]:
    """Per pinned release: the sources whose latest date since config.toml's last differs from it."""
    query = (
        sa.select(_RC.c.release_id, _RC.c.source_name, _RC.c.new_date, _RC.c.applied)
        .select_from(_RC.join(_R, _R.c.id == _RC.c.release_id))
        .where(_R.c.pinned.is_(True))
        .order_by(_RC.c.release_id, _RC.c.id)
    )
    said: dict[int, dict[str, tuple[date | None, bool]]] = defaultdict(dict)
    for r in conn.execute(query):
        if r.source_name == CONFIG_SOURCE:
            said[r.release_id] = {}  # a new date of the collector's: what sources said before is moot
        elif r.source_name:
            said[r.release_id][r.source_name] = (r.new_date, bool(r.applied))
    return {
        rid: tuple((src, day) for src, (day, ok) in sorted(by.items()) if day is not None and not ok)
        for rid, by in said.items()
    }


def releases(engine: Engine) -> list[ReleaseRow]:
    """Release rows and colorways' own release dates (those not already given by a row)."""
    query = sa.select(_R, _C.c.name.label("colorway_name")).select_from(
        _R.outerjoin(_C, sa.or_(_C.c.id == _R.c.colorway_id, _C.c.style_code == _R.c.style_code))
    )
    out: list[ReleaseRow] = []
    seen: set[tuple[str, date | None]] = set()
    with engine.connect() as conn:
        disputes = _disputes(conn)
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
                    pinned=bool(r.pinned),
                    disputed=disputes.get(r.id, ()),
                )
            )
        # Colorways the tracker has not synced yet (it pins their dates when it does).
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
                    source_name=CONFIG_SOURCE,
                    url=None,
                    live=False,
                    pinned=True,
                )
            )
    out.sort(key=lambda r: (r.release_date or date.max, r.name))
    return out


def release_disputes(engine: Engine) -> dict[tuple[str, str], tuple[tuple[str, date], ...]]:
    """(style code, region) of each release config.toml pins -> the other dates sources give."""
    with engine.connect() as conn:
        disputes = _disputes(conn)
        rows = conn.execute(sa.select(_R.c.id, _R.c.style_code, _R.c.region).where(_R.c.pinned.is_(True)))
        return {(r.style_code, r.region): disputes[r.id] for r in rows if disputes.get(r.id)}


def release_history(engine: Engine, *, limit: int = 500) -> list[ReleaseChangeRow]:
    """Every date releases were given, newest first, with whether the tracker acts on it."""
    query = (
        sa.select(_RC, _R.c.style_code, _R.c.region, sa.func.coalesce(_C.c.name, _R.c.name).label("name"))
        .select_from(_RC.join(_R, _R.c.id == _RC.c.release_id).outerjoin(_C, _C.c.id == _R.c.colorway_id))
        .order_by(_RC.c.changed_at.desc(), _RC.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            ReleaseChangeRow(
                style_code=r.style_code,
                name=r.name or r.style_code,
                region=r.region,
                changed_at=r.changed_at,
                old_date=r.old_date,
                new_date=r.new_date,
                source_name=r.source_name,
                applied=bool(r.applied),
            )
            for r in conn.execute(query)
        ]


def source_health(
    engine: Engine, now: datetime, *, window: timedelta = timedelta(hours=24)
) -> list[SourceHealth]:
    """Per source: last check, status, and over the window error, blocked and not-modified counts."""
    since = now - window
    # A 304 is a shop answering "nothing changed" and a cancelled check was stopped by shutdown:
    # neither is the shop failing.
    not_ok = sa.case((_RUN.c.status.not_in(HEALTHY_RUN_STATUSES), 1), else_=0)
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
    window_runs = sa.and_(_RUN.c.source_id == _S.c.id, _RUN.c.started_at >= since, _RUN.c.status != "running")
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


def has_observations(engine: Engine) -> bool:
    """Whether any price was ever recorded (one row read, where counting them reads them all)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(_O.c.id).limit(1)).first() is not None


_I = _TABLES["inbox_messages"]
_RC = _TABLES["release_changes"]


@dataclass(frozen=True)
class InboxRow:
    """A message the inbox channel stored, read or not."""

    id: int
    key: str
    channel: str
    kind: str
    title: str
    body: str
    link: str | None
    image: str | None
    created_at: datetime
    read_at: datetime | None
    event_id: int | None

    @property
    def headline(self) -> str:
        """The message's first line: what happened, in one sentence."""
        first = next((line for line in self.body.splitlines() if line.strip()), "")
        return first.strip() or self.title


@dataclass(frozen=True)
class InboxCounts:
    """How many messages are unread, and the newest message's id (0 when there is none)."""

    unread: int
    newest_id: int


def _inbox_row(r: Any) -> InboxRow:
    return InboxRow(
        id=r.id,
        key=r.key,
        channel=r.channel,
        kind=r.kind,
        title=r.title,
        body=r.body,
        link=r.link,
        image=r.image,
        created_at=r.created_at,
        read_at=r.read_at,
        event_id=r.event_id,
    )


def inbox_messages(engine: Engine, *, unread_only: bool = False, limit: int = 100) -> list[InboxRow]:
    """Inbox messages, newest first."""
    query = sa.select(_I).order_by(_I.c.id.desc()).limit(limit)
    if unread_only:
        query = query.where(_I.c.read_at.is_(None))
    with engine.connect() as conn:
        return [_inbox_row(r) for r in conn.execute(query)]


def inbox_after(engine: Engine, after_id: int, *, limit: int = 20) -> list[InboxRow]:
    """Messages stored after the one with this id, oldest first (what a watching page has not shown)."""
    query = sa.select(_I).where(_I.c.id > after_id).order_by(_I.c.id).limit(limit)
    with engine.connect() as conn:
        return [_inbox_row(r) for r in conn.execute(query)]


def inbox_counts(engine: Engine) -> InboxCounts:
    """Unread messages and the newest id, in one query."""
    query = sa.select(
        sa.select(sa.func.count()).select_from(_I).where(_I.c.read_at.is_(None)).scalar_subquery(),
        sa.select(sa.func.max(_I.c.id)).scalar_subquery(),
    )
    with engine.connect() as conn:
        unread, newest = conn.execute(query).one()
    return InboxCounts(unread=int(unread or 0), newest_id=int(newest or 0))


def events_since(
    engine: Engine,
    *,
    since: datetime | None = None,
    after_id: int | None = None,
    kinds: Sequence[str] | None = None,
    colorway_id: int | None = None,
    limit: int = 500,
) -> list[EventRow]:
    """Events from a time (inclusive) and after an event id, in the order they were written: what a
    poller has not seen yet."""
    # Ids grow as events are written: an id cursor never skips or repeats one, times can tie.
    return _event_rows(
        engine, (_E.c.id,), limit, colorway_id=colorway_id, kinds=kinds, since=since, after_id=after_id
    )


def buyable_prices_since(
    bind: Engine | sa.Connection, colorway_id: int, currency: str, since: datetime
) -> list[Decimal]:
    """Every buyable price a colorway's listings held in a currency from since on (the one held at
    since included): what "the lowest price in N days" is measured against."""
    held_id = pricerows.held_id(since)
    cols = (_O.c.price, _O.c.currency, _O.c.availability, _O.c.suspect)
    held = (
        sa.select(*cols).select_from(_L.join(_O, _O.c.id == held_id)).where(_L.c.colorway_id == colorway_id)
    )
    recent = (
        sa.select(*cols)
        .select_from(_O.join(_L, _L.c.id == _O.c.listing_id))
        .where(_L.c.colorway_id == colorway_id, _O.c.observed_at >= since)
    )

    def run(conn: sa.Connection) -> list[Decimal]:
        out: list[Decimal] = []
        for query in (held, recent):
            for price, cur, availability, suspect in conn.execute(query):
                if price is not None and cur == currency and not suspect and availability != OUT_OF_STOCK:
                    out.append(price)
        return out

    if isinstance(bind, sa.Connection):
        return run(bind)
    with bind.connect() as conn:
        return run(conn)


@dataclass(frozen=True)
class ChangeStamp:
    """A fingerprint of everything feeds and the API show, and when it last changed."""

    token: str
    modified: datetime | None


def _stamp_queries() -> tuple[Any, Any, Any]:
    scalar = sa.func.max
    query = sa.select(
        sa.select(scalar(_E.c.id)).scalar_subquery(),
        sa.select(scalar(_E.c.created_at)).scalar_subquery(),
        sa.select(scalar(_O.c.id)).scalar_subquery(),
        sa.select(scalar(_O.c.observed_at)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(_L).scalar_subquery(),
        sa.select(sa.func.count()).select_from(_L).where(_L.c.gone.is_(True)).scalar_subquery(),
        sa.select(scalar(_R.c.updated_at)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(_R).scalar_subquery(),
        sa.select(scalar(_RC.c.id)).scalar_subquery(),
        # A check sets its listings' last observation in the transaction that writes them: the sum
        # moves even when a PostgreSQL transaction commits after one holding a higher id.
        sa.select(sa.func.sum(_L.c.last_observation_id)).scalar_subquery(),
        # Which colorway each listing counts for (a config edit matches listings again).
        sa.select(sa.func.sum(_L.c.id * sa.func.coalesce(_L.c.colorway_id, 0))).scalar_subquery(),
        # A held suspect price confirmed by a later check changes only its flag (ix_observations_suspect).
        sa.select(sa.func.count()).select_from(_O).where(_O.c.suspect == sa.true()).scalar_subquery(),
    )
    # Colorway rows change when config.toml is edited (name, list price, watched): all of them, as
    # stored; the shops' names too (a renamed shop is another line on a chart).
    colorway_rows = sa.select(*(sa.type_coerce(c, _AS_STORED) for c in _C.c)).order_by(_C.c.id)
    return query, colorway_rows, sa.select(_S.c.id, _S.c.name).order_by(_S.c.id)


_STAMP_QUERIES = _stamp_queries()  # built once: the dashboard asks for a stamp on every page


def change_stamp(engine: Engine) -> ChangeStamp:
    """Cheap to compute (maxima on indexed columns, counts and sums over small tables and the few
    suspect observations), so a poller that already has the answer gets a 304 without the answer being
    built again, and the dashboard's read caches, keyed on it, never answer with a price the database
    no longer says."""
    query, colorway_rows, shop_names = _STAMP_QUERIES
    with engine.connect() as conn:
        values = list(conn.execute(query).one())
        values.extend(tuple(r) for r in conn.execute(colorway_rows))
        values.extend(tuple(r) for r in conn.execute(shop_names))
    moments = [v for v in (values[1], values[3], values[6]) if isinstance(v, datetime)]
    token = hashlib.sha256(repr(values).encode()).hexdigest()[:32]
    return ChangeStamp(token=token, modified=max(moments) if moments else None)


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
                r.queue_name,
                int(r.waiting),
                int(r.later),
                int(r.running),
                int(r.failed),
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


def last_checked(engine: Engine) -> datetime | None:
    """When the tracker last checked any source (what the overview's prices are as of)."""
    with engine.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(_S.c.last_checked_at))).scalar_one_or_none()
    return value if isinstance(value, datetime) else None
