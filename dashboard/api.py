"""The read-only JSON API (/api/v1/...): colorways with their best price and stock now, one colorway's
price history, events since a time, releases. Money is a decimal string with its currency; times
are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from dashboard.format import safe_url
from db import queries

DEFAULT_HISTORY_DAYS = 90
MAX_EVENTS = 1000


class ApiError(Exception):
    """A request the API cannot answer: the status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _offer(offer: queries.Offer) -> dict[str, Any]:
    return {
        "shop": offer.source_name,
        "url": safe_url(offer.url),
        "title": offer.title,
        "price": _money(offer.price),
        "currency": offer.currency,
        "compare_at": _money(offer.compare_at),
        "availability": offer.availability,
        "sizes_in_stock": offer.sizes_in_stock(),
        "suspect": offer.suspect,
        "since": _time(offer.observed_at),
    }


def _cheapest(found: queries.Cheapest | None) -> dict[str, Any] | None:
    """A cheapest offer: the shop's offer at the price it asks in the sizes that made it cheapest."""
    if found is None:
        return None
    return {**_offer(found.offer), "price": _money(found.price), "my_sizes": list(found.sizes)}


def _summary(row: queries.OverviewRow) -> dict[str, Any]:
    colorway = row.colorway
    return {
        "style_code": colorway.style_code,
        "name": colorway.name,
        "line": colorway.line,
        "watched": colorway.watched,
        "image": safe_url(colorway.image),
        "sizes": list(colorway.sizes),
        "list_price": {cur: str(amount) for cur, amount in colorway.list_prices.items()},
        "target_price": {cur: str(amount) for cur, amount in colorway.target_prices.items()},
        "currency": row.currency,
        "list_price_in_currency": _money(row.list_price),
        "best": _cheapest(row.best),
        "best_in_my_sizes": _cheapest(row.mine),
        "difference_from_list": _money(row.difference),
        "difference_percent": _money(row.difference_percent),
        "in_stock": row.in_stock,
        "my_sizes_in_stock": list(row.my_sizes_available),
        "next_release": _day(row.next_release),
    }


def colorways(engine: Engine, now: datetime, *, watched_only: bool = False) -> dict[str, Any]:
    """Every colorway (or the watched ones) with its best price, stock and next release now."""
    codes = [c.style_code for c in queries.colorways(engine, watched_only=watched_only)]
    rows = queries.overview(engine, now, days=1, style_codes=codes) if codes else []
    return {"colorways": [_summary(r) for r in rows]}


def _one(engine: Engine, style_code: str) -> queries.ColorwayInfo:
    found = queries.colorway_by_style(engine, style_code.strip().upper())
    if found is None:
        raise ApiError(404, f"no colorway with style code {style_code!r}")
    return found


def colorway(engine: Engine, now: datetime, style_code: str) -> dict[str, Any]:
    """One colorway's summary and every shop's latest offer."""
    info = _one(engine, style_code)
    rows = queries.overview(engine, now, days=1, style_codes=[info.style_code])
    offers = [o for o in queries.latest_offers(engine, [info.id]) if not o.gone]
    return {**_summary(rows[0]), "offers": [_offer(o) for o in offers]}


def price_history(
    engine: Engine, now: datetime, style_code: str, since: datetime | None, *, all_time: bool = False
) -> dict[str, Any]:
    """Every stored observation of the colorway's listings since a time (90 days by default), with
    the one each listing held when the range starts, and Keepa-style statistics per currency."""
    info = _one(engine, style_code)
    if since is None and not all_time:
        since = now - timedelta(days=DEFAULT_HISTORY_DAYS)
    points = queries.price_points(engine, [info.id], since)
    start = since or min((p.observed_at for p in points), default=now)
    stats = {}
    for currency in queries.currencies(points, info.list_prices):
        s = queries.step_stats(queries.price_steps(points, currency, start, now), currency, now)
        stats[currency] = {
            "lowest": _money(s.lowest),
            "lowest_at": _time(s.lowest_at),
            "lowest_shop": s.lowest_source,
            "highest": _money(s.highest),
            "highest_at": _time(s.highest_at),
            "highest_shop": s.highest_source,
            "average": _money(s.average),
            "current": _money(s.current),
            "list_price": _money(queries.list_price(info, currency)),
        }
    return {
        "style_code": info.style_code,
        "name": info.name,
        "since": _time(start),
        "until": _time(now),
        "points": [
            {
                "shop": p.source_name,
                "listing_id": p.listing_id,
                "observed_at": _time(p.observed_at),
                "price": _money(p.price),
                "currency": p.currency,
                "availability": p.availability,
                "suspect": p.suspect,
            }
            for p in points
        ],
        "stats": stats,
    }


def events(
    engine: Engine,
    *,
    since: datetime | None,
    after_id: int | None,
    kinds: list[str],
    style_code: str | None,
    limit: int,
) -> dict[str, Any]:
    """Events from a time and after an id, in the order they were written, and the cursor (the last
    id) to ask for the next ones."""
    colorway_id = _one(engine, style_code).id if style_code else None
    rows = queries.events_since(
        engine, since=since, after_id=after_id, kinds=kinds, colorway_id=colorway_id, limit=limit
    )
    out = []
    for e in rows:
        data = e.data
        out.append(
            {
                "id": e.id,
                "created_at": _time(e.created_at),
                "kind": e.kind,
                "message": e.message,
                "style_code": e.style_code,
                "colorway": e.colorway_name,
                "shop": e.source_name,
                "price": data.get("price"),
                "currency": data.get("currency"),
                "list_price": data.get("list_price"),
                "url": safe_url(data.get("url")),
                "image": safe_url(data.get("image")),
                "data": data,
            }
        )
    last = rows[-1].id if rows else after_id
    return {"events": out, "next": {"after_id": last, "more": len(rows) == limit}}


def releases(engine: Engine, today: date) -> dict[str, Any]:
    """Known release dates, soonest first, with whether each is still to come."""
    return {
        "releases": [
            {
                "style_code": r.style_code,
                "name": r.name,
                "region": r.region,
                "date": _day(r.release_date),
                "time": _time(r.release_at),
                "price": _money(r.price),
                "currency": r.currency,
                "source": r.source_name,
                "url": safe_url(r.url),
                "live": r.live,
                "upcoming": r.release_date is not None and r.release_date >= today,
            }
            for r in queries.releases(engine)
        ]
    }
