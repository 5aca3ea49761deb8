"""Listings' price rows over a range, read through a cache that asks the database what changed on
every read: a chart or a sparkline re-reads only the listings whose rows changed since.

A price row is (listing id, observed at, observation id, price, currency, availability, suspect), read
from the ix_observations_prices index alone. A stored row never changes except for `suspect`, which a
later check clears when it confirms a held price. So before serving anything, each read asks the
database three cheap questions and forgets the listings they name:

- which listings have rows newer than the newest id seen (an index range on the primary key);
- which listings' last_observation_id moved (the check writes it with every observation, in the same
  transaction, so a PostgreSQL transaction that commits after one holding a higher id is caught too);
- which observations are suspect now (a partial index of the few there are): one confirmed since, or a
  new one, names its listing.

A database whose newest id went down (a restore at the same address) is forgotten whole. What the
database no longer says is never served.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from db import models  # noqa: F401 (registers the tables)
from db.models import money_from_db, utc_from_db

Row = tuple[int, datetime, int, Decimal | None, str | None, str, bool]

_O = SQLModel.metadata.tables["observations"]
_L = SQLModel.metadata.tables["listings"]
# At most this many rows are kept per database (about 200 bytes each), the least recently read spans
# dropped first.
MAX_ROWS = 250_000
_SERIALS = itertools.count(1)  # numbers every span read (itertools.count is safe across threads)
_CHUNK = 500  # listing ids per IN (...) list: well under every database's limit on bound values
# Read as the driver gives them and converted once per distinct value: SQLAlchemy's per-row type
# processing of a year of observations costs more than reading them.
_AS_STORED = sa.String()
_COLUMNS = ("listing_id", "observed_at", "id", "price", "currency", "availability", "suspect")
_CONVERTED = ("observed_at", "price", "suspect")


@dataclass(frozen=True)
class _Span:
    """One listing's rows from an anchor on and the row it held at the anchor, as read at a version."""

    rows: list[Row]
    held: Row | None
    version: int
    serial: int = field(default_factory=lambda: next(_SERIALS))


@dataclass
class _Seen:
    """What one database looked like at its latest version, and when each listing last changed."""

    version: int = 0
    newest: int = -1  # the highest observation id
    last: Any = None  # the latest observation time, as stored
    latest: dict[int, int | None] = field(default_factory=dict)  # listing -> last_observation_id
    suspects: dict[int, int] = field(default_factory=dict)  # suspect observation id -> its listing
    changed: dict[int, int] = field(default_factory=dict)  # listing -> version it last changed at
    spans: OrderedDict[tuple[int, datetime | None], _Span] = field(default_factory=OrderedDict)
    size: int = 0  # rows held by spans


_DATABASES: OrderedDict[str, _Seen] = OrderedDict()
_LOCK = threading.Lock()
DATABASES = 4  # databases remembered at once (a test run opens hundreds), the least recently read dropped


def anchor(since: datetime | None) -> datetime | None:
    """Where the cached span of a range starting at since begins: the UTC midnight before it, so the
    ranges read within a day share their spans."""
    if since is None:
        return None
    return since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@lru_cache(maxsize=8192)
def amount(stored: Any) -> Decimal | None:
    """A stored amount as its Decimal (models.money_from_db), once per distinct stored value."""
    return money_from_db(stored)


def _convert(raw: Sequence[Any]) -> Row:
    return (raw[0], utc_from_db(raw[1]), raw[2], amount(raw[3]), raw[4], raw[5] or "unknown", bool(raw[6]))


def _state(
    conn: sa.Connection, newest: int
) -> tuple[int, Any, dict[int, int | None], dict[int, int], set[int]]:
    """(highest observation id, latest observation time, listing -> last_observation_id, suspect id ->
    listing, listings with rows above newest)."""
    # Two scalar subqueries, each one index seek: SQLite reads a lone max() from the end of an index,
    # but two aggregates in one SELECT scan the table.
    top, last = conn.execute(
        sa.select(
            sa.select(sa.func.max(_O.c.id)).scalar_subquery(),
            sa.select(sa.func.max(_O.c.observed_at)).scalar_subquery(),
        )
    ).one()
    latest = {lid: last for lid, last in conn.execute(sa.select(_L.c.id, _L.c.last_observation_id))}
    # The partial index ix_observations_suspect holds these few rows.
    query = sa.select(_O.c.id, _O.c.listing_id).where(_O.c.suspect == sa.true())
    suspects = {oid: lid for oid, lid in conn.execute(query)}
    above: set[int] = set()
    # On the first read every listing counts as changed (nothing is cached yet): no need to ask.
    if top is not None and top > newest >= 0:
        # No DISTINCT: SQLite would answer it by scanning a listing_id index, not the few new ids.
        above = set(conn.execute(sa.select(_O.c.listing_id).where(_O.c.id > newest)).scalars())
    return (-1 if top is None else int(top)), last, latest, suspects, above


def _refresh(conn: sa.Connection, database: str) -> tuple[_Seen, int]:
    """The database's record brought up to date (the listings changed since marked); its version."""
    with _LOCK:
        seen = _DATABASES.setdefault(database, _Seen())
        _DATABASES.move_to_end(database)
        while len(_DATABASES) > DATABASES:
            _DATABASES.popitem(last=False)
        newest = seen.newest
    top, last, latest, suspects, above = _state(conn, newest)
    with _LOCK:
        moved = {lid for lid, obs in latest.items() if seen.latest.get(lid) != obs}
        flipped = {
            suspects.get(oid, seen.suspects.get(oid)) for oid in suspects.keys() ^ seen.suspects.keys()
        }
        changed = (above | moved | flipped) - {None}
        # Rows gone, or the latest time moved with no listing to say why: another database at this
        # address (a restore), of which nothing cached can be trusted.
        if top < seen.newest or (last != seen.last and not changed and seen.newest >= 0):
            seen = _DATABASES[database] = _Seen(version=seen.version)
            changed = set(latest)
        if changed or top != seen.newest or last != seen.last:
            seen.version += 1
            for lid in changed:
                seen.changed[lid] = seen.version  # type: ignore[index]
            seen.newest, seen.last, seen.latest, seen.suspects = max(top, seen.newest), last, latest, suspects
        return seen, seen.version


def _read(
    conn: sa.Connection, listing_ids: list[int], start: datetime | None, version: int
) -> dict[int, _Span]:
    """The spans of these listings from start on, read from the database."""
    cols = [sa.type_coerce(_O.c[name], _AS_STORED) if name in _CONVERTED else _O.c[name] for name in _COLUMNS]
    rows: dict[int, list[Row]] = {lid: [] for lid in listing_ids}
    held: dict[int, Row] = {}
    for i in range(0, len(listing_ids), _CHUNK):
        chunk = listing_ids[i : i + _CHUNK]
        query = sa.select(*cols).where(_O.c.listing_id.in_(chunk))
        if start is not None:
            query = query.where(_O.c.observed_at >= start)
            for raw in conn.execute(_held_query(chunk, start, cols)):
                held[raw[0]] = _convert(raw)
        query = query.order_by(_O.c.listing_id, _O.c.observed_at, _O.c.id)
        for raw in conn.execute(query):
            rows[raw[0]].append(_convert(raw))
    return {lid: _Span(r, held.get(lid), version) for lid, r in rows.items()}


def held_id(at: datetime) -> Any:
    """The id of the listing's (the outer query's listings row) last observation before at, by time
    then id: one index seek per listing."""
    o2 = _O.alias("o_held")
    return (
        sa.select(o2.c.id)
        .where(o2.c.listing_id == _L.c.id, o2.c.observed_at < at)
        .order_by(o2.c.observed_at.desc(), o2.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .correlate(_L)
    )


def _held_query(listing_ids: list[int], at: datetime, columns: Sequence[Any]) -> Any:
    """Per listing, the given columns of its last row before at."""
    joined = _L.join(_O, _O.c.id == held_id(at))
    return sa.select(*columns).select_from(joined).where(_L.c.id.in_(listing_ids))


@dataclass(frozen=True)
class Spans:
    """Listings' rows from a range's anchor on, as read for one range (see spans)."""

    anchor: datetime | None
    by_listing: dict[int, _Span]

    def listings(self) -> list[int]:
        """The listings with rows, by id."""
        return sorted(self.by_listing)

    def rows(self, listing: int, since: datetime | None) -> list[Row]:
        """The listing's rows from since on (all with None), led by the last row before since; since
        is not before the anchor."""
        span = self.by_listing[listing]
        rows = span.rows
        if since is None:
            return list(rows)
        i = 0
        while i < len(rows) and rows[i][1] < since:
            i += 1  # a span starts at most a day before the range: few rows to pass
        held = rows[i - 1] if i else span.held
        return ([held] if held is not None else []) + rows[i:]

    def mark(self, listings: Sequence[int]) -> tuple[int, ...]:
        """What these listings' rows are: the same mark, the same rows (each span read is numbered)."""
        return tuple(self.by_listing[lid].serial for lid in listings)


def spans(conn: sa.Connection, database: str, listing_ids: Sequence[int], since: datetime | None) -> Spans:
    """These listings' rows from the anchor of since on (listings without any left out): from memory
    for the listings the database says did not change, read again for the others."""
    start = anchor(since)
    seen, version = _refresh(conn, database)
    found: dict[int, _Span] = {}
    with _LOCK:
        for lid in set(listing_ids):
            span = seen.spans.get((lid, start))
            if span is not None and span.version >= seen.changed.get(lid, 0):
                seen.spans.move_to_end((lid, start))
                found[lid] = span
    stale = sorted(set(listing_ids) - found.keys())
    if stale:
        # Read after the version was taken: a change made meanwhile is in these rows, and the next
        # read, seeing it, marks the listing at a newer version and reads it again.
        fresh = _read(conn, stale, start, version)
        found.update(fresh)
        _keep(seen, start, fresh)
    return Spans(start, {lid: span for lid, span in found.items() if span.rows or span.held})


def listing_rows(
    conn: sa.Connection, database: str, listing_ids: Sequence[int], since: datetime | None
) -> dict[int, list[Row]]:
    """Each listing's rows from since on (all with None), led by the last row before since, by time
    and id; listings without any such row are left out."""
    got = spans(conn, database, listing_ids, since)
    return {lid: rows for lid in got.listings() if (rows := got.rows(lid, since))}


def _keep(seen: _Seen, start: datetime | None, spans: dict[int, _Span]) -> None:
    with _LOCK:
        for lid, span in spans.items():
            old = seen.spans.pop((lid, start), None)
            seen.size += len(span.rows) - (len(old.rows) if old else 0)
            seen.spans[(lid, start)] = span
        while seen.size > MAX_ROWS and seen.spans:
            _, dropped = seen.spans.popitem(last=False)
            seen.size -= len(dropped.rows)


def clear() -> None:
    """Forget every cached row (tests; a long-running process never needs to)."""
    with _LOCK:
        _DATABASES.clear()
