"""Planning alerts: outbox rows for new events, with debounce, quiet hours and flood summaries.

Debounce (``alerts.debounce``, 10 minutes by default), per listing and channel
    1. A sold-out alert waits for the window before it goes out. If the listing comes back in stock
       meanwhile, the waiting sold-out alert is dropped and so is the restock alert: nothing changed
       for you. In stock, out, in again within minutes therefore sends one alert, not three.
    2. A restock alert within the window after a restock alert already sent or queued (since the
       last sold-out alert that went out) is dropped; a size restock only when it brings back no size
       that was not already announced.
    3. A price drop within the window to a price not below one already announced is dropped.
    Everything else goes out at once. Dropped rows stay in the outbox as ``superseded`` with the
    reason in ``last_error``, so ``tracker alerts list`` shows why nothing was sent.

Quiet hours and floods
    During ``alerts.quiet_hours`` rows are ``held`` until the end; then each channel gets one digest
    of everything held for it. More than ``alerts.flood_cap`` new listings from one source in one
    check are held too, due at once, and so become one summary per channel rather than a flood.

plan_deliveries adds the rows in the check's transaction, unique on (event_id, channel): an event
is committed with its outbox rows or not at all, and cannot be planned twice for a channel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from db.models import Colorway as DbColorway
from db.models import Delivery, Event
from tracker.config import Config
from tracker.money import to_decimal
from tracker.notify.rules import (
    LISTING_KINDS,
    RESTOCK_KINDS,
    Facts,
    facts_of,
    matching_channels,
    snoozed_until,
    str_list,
)

LIVE_STATUSES = ("pending", "held", "sending", "sent")
WAITING_STATUSES = ("pending", "held")

_D = SQLModel.metadata.tables["deliveries"]


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pass an aware UTC time")
    return moment.astimezone(UTC)


def quiet_until(config: Config, now: datetime) -> datetime | None:
    """When the current quiet hours end (UTC), or None when now is not inside them."""
    quiet = config.alerts.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return None
    tz = config.tz()
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if quiet.start < quiet.end:
        inside = quiet.start <= clock < quiet.end
        end_day = today
    else:  # overnight, e.g. 22:00 to 07:00
        inside = clock >= quiet.start or clock < quiet.end
        end_day = today if clock < quiet.end else today + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_day, quiet.end, tzinfo=tz).astimezone(UTC)


def _recent(session: Session, event: Event, channel: str, since: datetime) -> list[tuple[Delivery, Event]]:
    stmt = (
        select(Delivery, Event)
        .join(Event, col(Event.id) == col(Delivery.event_id))
        .where(
            col(Event.listing_id) == event.listing_id,
            col(Delivery.channel) == channel,
            col(Delivery.event_id) != event.id,
            col(Event.kind).in_(("sold_out", "price_drop", *RESTOCK_KINDS)),
            sa.or_(
                col(Delivery.status).in_(WAITING_STATUSES),
                sa.and_(col(Delivery.status).in_(LIVE_STATUSES), col(Delivery.created_at) >= since),
            ),
        )
        .order_by(col(Delivery.id))
    )
    return [(d, e) for d, e in session.exec(stmt).all()]


def _debounce(
    session: Session, event: Event, facts: Facts, channel: str, config: Config, *, now: datetime
) -> tuple[str | None, datetime]:
    """(reason to drop this delivery or None, when it is due) under the rules in the module doc."""
    window = timedelta(seconds=config.alerts.debounce)
    if event.listing_id is None or window <= timedelta(0):
        return None, now
    if event.kind == "sold_out":
        return None, now + window
    if event.kind not in (*RESTOCK_KINDS, "price_drop"):
        return None, now
    rows = _recent(session, event, channel, now - window)
    if event.kind in RESTOCK_KINDS:
        waiting = [d for d, e in rows if e.kind == "sold_out" and d.status in WAITING_STATUSES]
        if waiting:
            # Conditional, so a row a sender has just claimed is left alone (it was told).
            result = session.execute(
                sa.update(_D)
                .where(_D.c.id.in_([d.id for d in waiting]), _D.c.status.in_(WAITING_STATUSES))
                .values(
                    status="superseded",
                    last_error=f"back in stock within the debounce window (event {event.id})",
                )
            )
            for delivery in waiting:
                session.expire(delivery)
            if cast(sa.CursorResult[Any], result).rowcount:
                return "back in stock before the sold-out alert went out: nothing changed", now
        told: set[str] | None = None
        for delivery, earlier in rows:
            if delivery.created_at < now - window or delivery.status not in LIVE_STATUSES:
                continue
            if earlier.kind == "sold_out" and delivery.status in ("sending", "sent"):
                told = None
            elif earlier.kind in RESTOCK_KINDS:
                key = "sizes_in_stock" if earlier.kind == "restock" else "sizes_restocked"
                told = (told or set()) | set(str_list((earlier.data or {}).get(key)))
        if told is not None:
            if event.kind == "restock":
                return "already announced back in stock within the debounce window", now
            back = set(str_list((event.data or {}).get("sizes_restocked")))
            if not back or back <= told:
                return "these sizes were already announced within the debounce window", now
        return None, now
    # price_drop
    if facts.price is None:
        return None, now
    for delivery, earlier in rows:
        if earlier.kind != "price_drop" or delivery.created_at < now - window:
            continue
        data = earlier.data or {}
        announced = to_decimal(data.get("price"))
        same_currency = str(data.get("currency") or "").upper() == (facts.currency or "")
        if announced is not None and same_currency and announced <= facts.price:
            return f"a price of {announced} was already announced within the debounce window", now
    return None, now


def window_lows(
    session: Session, event: Event, config: Config, *, now: datetime
) -> dict[int, Decimal | None] | None:
    """For rules with lowest_in_days: days -> the colorway's lowest buyable price in that window
    (this check's own prices included, so a price equal to itself passes); None when not needed."""
    windows = {r.lowest_in_days for r in config.alerts.rules if r.lowest_in_days is not None}
    data = event.data or {}
    price, currency = to_decimal(data.get("price")), data.get("currency")
    if not windows or event.colorway_id is None or price is None or not currency:
        return None
    # The dashboard's read module is large: loaded only when a rule needs a window's low.
    from db.queries import buyable_prices_since

    conn = session.connection()
    lows: dict[int, Decimal | None] = {}
    for days in sorted(windows):
        prices = buyable_prices_since(conn, event.colorway_id, str(currency), now - timedelta(days=days))
        lows[days] = min(prices, default=None)
    return lows


def plan_deliveries(
    session: Session, events: Sequence[Event], config: Config, *, now: datetime
) -> list[Delivery]:
    """Add outbox rows for events (after flush, in the pipeline's transaction); returns the rows added."""
    now = as_utc(now)
    channels = {c.name for c in config.alerts.channels if c.enabled}
    if not channels or not config.alerts.rules or not events:
        return []
    ids = {e.colorway_id for e in events if e.colorway_id is not None}
    colorways: dict[int, DbColorway] = {}
    if ids:
        for row in session.exec(select(DbColorway).where(col(DbColorway.id).in_(ids))).all():
            if row.id is not None:
                colorways[row.id] = row
    per_source: dict[int | None, int] = defaultdict(int)
    for event in events:
        if event.kind in LISTING_KINDS:
            per_source[event.source_id] += 1
    flooded = {source for source, n in per_source.items() if n > config.alerts.flood_cap}
    quiet_end = quiet_until(config, now)
    added: list[Delivery] = []
    for event in sorted(events, key=lambda e: e.id or 0):
        if event.id is None:
            raise ValueError("plan_deliveries needs events with ids: flush the session first")
        colorway = colorways.get(event.colorway_id) if event.colorway_id is not None else None
        targets = matching_channels(event, colorway, config, window_lows(session, event, config, now=now))
        if not targets:
            continue
        facts = facts_of(event, colorway, config)
        snooze = snoozed_until(config, facts.style_code, now)
        for channel in targets:
            status, due, note = "pending", now, None
            if snooze is not None:
                status, note = "superseded", f"colorway snoozed until {snooze}"
            else:
                reason, due = _debounce(session, event, facts, channel, config, now=now)
                if reason is not None:
                    status, note = "superseded", reason
                elif event.kind in LISTING_KINDS and event.source_id in flooded:
                    status, note = "held", "many new listings at once: sent as one summary"
                if status != "superseded" and quiet_end is not None:
                    status, due = "held", max(due, quiet_end)
            delivery = Delivery(
                event_id=event.id,
                channel=channel,
                status=status,
                next_attempt_at=due,
                created_at=now,
                last_error=note,
            )
            session.add(delivery)
            # Later events in this same plan must see this row in their debounce queries.
            session.flush()
            added.append(delivery)
    return added
