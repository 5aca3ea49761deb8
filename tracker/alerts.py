"""Drop alerts: rules turn events into an outbox of (event, channel) rows; a sender delivers each once.

Rules (config ``[[alerts.rules]]``)
    A rule names alert kinds (``on``), the channels to use (empty: every enabled channel) and the
    colorways it covers (style codes; empty: every colorway and every discovered listing). An event
    goes to the union of the channels of every rule it matches, one row per channel. Kinds:

    - ``new_listing`` / ``new_colorway``: the pipeline found a new product / a new 2002R colorway.
    - ``restock``: the listing came back in stock; with ``only_my_sizes`` it must be in one of your
      sizes, and then a single size of yours coming back (a ``size_restock`` event) counts too.
    - ``size_restock``: sizes came back while others were already in stock (yours only with
      ``only_my_sizes``). A colorway with no sizes set counts every size as yours.
    - ``price_below_target`` / ``price_below_list``: a price drop that crosses your target (at or
      below it) / the list price (strictly below), or a new listing or restock already under it.
      Prices compare in the event's currency only.
    - ``price_drop``: any drop, or only drops of at least ``min_drop_percent`` percent or
      ``min_drop_amount`` units (when both are set, either is enough).
    - ``release_announced``, ``release_changed``, ``going_live``, ``sold_out``: the event of that name.
    - ``source_broken``: a shop check starts failing, and when it works again.

    A colorway with ``snooze_until`` (a date in the config's timezone) sends nothing through that day.

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

Exactly once, as far as it goes
    plan_deliveries adds the rows in the pipeline's transaction, unique on (event_id, channel): an
    event is committed with its outbox rows or not at all, and cannot be planned twice for a channel.
    deliver_due claims rows with one conditional UPDATE (pending/held -> sending, a fresh
    claim_token, claimed_at, attempts + 1) that only one sender can win on SQLite and PostgreSQL,
    sends, and confirms in the same worker thread right after the channel answers
    (UPDATE ... WHERE claim_token = ours, so a sender whose lease ran out cannot overwrite a newer
    claim). A failure goes back to pending with exponential backoff, or to failed after
    ``alerts.max_attempts``; the error is kept with secrets removed. A sender that dies between claim
    and confirm leaves the row 'sending'; after ``alerts.claim_lease`` the next sender takes it back.
    Nothing is lost: a row leaves 'sending' only as sent after the channel accepted it, or to be
    tried again. The residual window is the send itself: a message the channel accepted just before
    the sender died, unconfirmed, is sent a second time. Every message carries a stable key
    (``<event id>:<channel>``, or the digest's rows) as an ``Idempotency-Key`` header on JSON, form
    and XML webhooks and ``X-Idempotency-Key`` on email, so a receiver can drop that copy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from db.models import Colorway as DbColorway
from db.models import Delivery, Event
from tracker.config import Config, Rule, load_config
from tracker.errors import ConfigError
from tracker.notify.render import render_digest, render_message, to_decimal
from tracker.notify.send import Image, fetch_image, send_via_apprise, warm_up

__all__ = [
    "DeliveryStats",
    "deliver_due",
    "plan_deliveries",
    "quiet_until",
    "recent_deliveries",
    "render_message",
    "rule_matches",
    "send_test",
    "warm_up_channels",
]

LISTING_KINDS = ("new_listing", "new_colorway")
RESTOCK_KINDS = ("restock", "size_restock")
# Kinds whose value is buying now: a price threshold reached by one of these is worth an alert too.
BUYABLE_KINDS = ("new_listing", "new_colorway", "restock", "size_restock")
LIVE_STATUSES = ("pending", "held", "sending", "sent")
WAITING_STATUSES = ("pending", "held")
SEND_CONCURRENCY = 8
_DIGEST = "digest:"
_SINGLE = "single:"

_D = SQLModel.metadata.tables["deliveries"]
_E = SQLModel.metadata.tables["events"]


@dataclass
class DeliveryStats:
    """What one deliver_due call did, counted in outbox rows."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    superseded: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Facts:
    style_code: str | None
    currency: str | None
    price: Decimal | None
    old_price: Decimal | None
    list_price: Decimal | None
    target_price: Decimal | None
    my_sizes: frozenset[str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pass an aware UTC time")
    return moment.astimezone(UTC)


def _str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _facts(event: Event, colorway: DbColorway | None, config: Config | None) -> _Facts:
    data = event.data or {}
    style = colorway.style_code if colorway is not None else data.get("style_code")
    style = str(style).upper() if style else None
    currency = str(data["currency"]).upper() if data.get("currency") else None
    list_price = to_decimal(data.get("list_price"))
    target = to_decimal(data.get("target_price"))
    sizes: list[str] = []
    if colorway is not None:
        sizes = list(colorway.sizes)
        if currency and list_price is None:
            list_price = to_decimal(colorway.list_prices.get(currency))
        if currency and target is None:
            target = to_decimal(colorway.target_prices.get(currency))
    configured = config.colorway(style) if config is not None and style else None
    if configured is not None:
        sizes = sizes or list(configured.sizes)
        if currency and list_price is None and currency in configured.list_price:
            list_price = configured.list_price[currency]
        if currency and target is None and currency in configured.target_price:
            target = configured.target_price[currency]
    return _Facts(
        style_code=style,
        currency=currency,
        price=to_decimal(data.get("price")),
        old_price=to_decimal(data.get("old_price")),
        list_price=list_price,
        target_price=target,
        my_sizes=frozenset(s.strip() for s in sizes),
    )


def _mine(sizes: list[str], facts: _Facts) -> bool:
    # With no sizes set there is nothing to filter on: every size counts as yours.
    return not facts.my_sizes or bool(facts.my_sizes & {s.strip() for s in sizes})


def _crossed(event: Event, facts: _Facts, threshold: Decimal | None, flag: str, *, strict: bool) -> bool:
    if threshold is None or facts.price is None:
        return False
    under = facts.price < threshold if strict else facts.price <= threshold
    if not under:
        return False
    if event.kind in BUYABLE_KINDS:
        return True
    if event.kind != "price_drop":
        return False
    explicit = (event.data or {}).get(flag)
    if isinstance(explicit, bool):
        return explicit
    if facts.old_price is None:
        return False
    return facts.old_price >= threshold if strict else facts.old_price > threshold


def _drop_big_enough(rule: Rule, facts: _Facts) -> bool:
    if rule.min_drop_percent is None and rule.min_drop_amount is None:
        return True
    if facts.price is None or facts.old_price is None or facts.old_price <= 0:
        return False
    drop = facts.old_price - facts.price
    by_amount = rule.min_drop_amount is not None and drop >= rule.min_drop_amount
    by_percent = rule.min_drop_percent is not None and drop * 100 / facts.old_price >= rule.min_drop_percent
    return by_amount or by_percent


def _kind_matches(kind: str, rule: Rule, event: Event, facts: _Facts) -> bool:
    data = event.data or {}
    if kind in LISTING_KINDS:
        return event.kind == kind
    if kind == "restock":
        if event.kind == "restock":
            in_stock = _str_list(data.get("sizes_in_stock"))
            return not rule.only_my_sizes or not in_stock or _mine(in_stock, facts)
        if event.kind == "size_restock" and rule.only_my_sizes:
            back = _str_list(data.get("my_sizes_restocked")) or _str_list(data.get("sizes_restocked"))
            return bool(back) and _mine(back, facts)
        return False
    if kind == "size_restock":
        if event.kind != "size_restock":
            return False
        back = _str_list(data.get("my_sizes_restocked")) or _str_list(data.get("sizes_restocked"))
        return not rule.only_my_sizes or (bool(back) and _mine(back, facts))
    if kind == "price_below_target":
        return _crossed(event, facts, facts.target_price, "crossed_target", strict=False)
    if kind == "price_below_list":
        return _crossed(event, facts, facts.list_price, "crossed_list", strict=True)
    if kind == "price_drop":
        return event.kind == "price_drop" and _drop_big_enough(rule, facts)
    if kind == "source_broken":
        return event.kind in ("source_broken", "source_recovered")
    return event.kind == kind


def rule_matches(rule: Rule, event: Event, colorway: DbColorway | None, config: Config | None = None) -> bool:
    """Whether one rule fires for one event (colorway filter, kinds, sizes and price thresholds)."""
    facts = _facts(event, colorway, config)
    if rule.colorways and facts.style_code not in rule.colorways:
        return False
    return any(_kind_matches(kind, rule, event, facts) for kind in rule.on)


def matching_channels(event: Event, colorway: DbColorway | None, config: Config) -> list[str]:
    """The enabled channels any rule sends this event to, sorted."""
    enabled = [c.name for c in config.alerts.channels if c.enabled]
    chosen: set[str] = set()
    for rule in config.alerts.rules:
        if rule_matches(rule, event, colorway, config):
            chosen.update(rule.channels or enabled)
    return sorted(name for name in chosen if name in enabled)


def snoozed_until(config: Config, style_code: str | None, now: datetime) -> str | None:
    """The snooze date (ISO) when the colorway is snoozed at now, else None."""
    configured = config.colorway(style_code) if style_code else None
    if configured is None or configured.snooze_until is None:
        return None
    if now.astimezone(config.tz()).date() <= configured.snooze_until:
        return configured.snooze_until.isoformat()
    return None


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


def _recent(
    session: Session, event: Event, channel: str, since: datetime
) -> list[tuple[Delivery, Event]]:
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
    session: Session, event: Event, facts: _Facts, channel: str, config: Config, *, now: datetime
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
                told = (told or set()) | set(_str_list((earlier.data or {}).get(key)))
        if told is not None:
            if event.kind == "restock":
                return "already announced back in stock within the debounce window", now
            back = set(_str_list((event.data or {}).get("sizes_restocked")))
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


def plan_deliveries(
    session: Session, events: Sequence[Event], config: Config, *, now: datetime
) -> list[Delivery]:
    """Add outbox rows for events (after flush, in the pipeline's transaction); returns the rows added."""
    now = _as_utc(now)
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
        targets = matching_channels(event, colorway, config)
        if not targets:
            continue
        facts = _facts(event, colorway, config)
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


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: int
    channel: str
    attempts: int
    token: str


@dataclass
class _Job:
    channel: str
    url: str
    token: str
    rows: list[_Claimed]
    title: str
    body: str
    image_url: str | None
    key: str
    restore: str


def _recover_stale(engine: sa.Engine, config: Config, now: datetime) -> int:
    """Rows left 'sending' by a sender that died go back to be sent again (or fail when out of tries)."""
    cutoff = now - timedelta(seconds=config.alerts.claim_lease)
    stale = sa.and_(_D.c.status == "sending", _D.c.claimed_at < cutoff)
    note = "the sender stopped before confirming; sending again (the channel may see it twice)"
    with engine.begin() as conn:
        failed = conn.execute(
            sa.update(_D)
            .where(stale, _D.c.attempts >= config.alerts.max_attempts)
            .values(status="failed", claim_token=None, last_error="the sender stopped while sending, "
                    f"{config.alerts.max_attempts} times: giving up")
        )
        held = conn.execute(
            sa.update(_D)
            .where(stale, _D.c.claim_token.like(_DIGEST + "%"))
            .values(status="held", claim_token=None, last_error=note)
        )
        pending = conn.execute(
            sa.update(_D).where(stale).values(status="pending", claim_token=None, last_error=note)
        )
    return sum(cast(sa.CursorResult[Any], r).rowcount for r in (failed, held, pending))


def _claim(engine: sa.Engine, now: datetime, limit: int) -> list[_Claimed]:
    """Atomically take due rows: the conditional UPDATE lets one sender win each row."""
    claimed: list[_Claimed] = []
    with engine.begin() as conn:
        due = conn.execute(
            sa.select(_D.c.id, _D.c.status)
            .where(_D.c.status.in_(WAITING_STATUSES), _D.c.next_attempt_at <= now)
            .order_by(_D.c.next_attempt_at, _D.c.id)
            .limit(limit)
        ).all()
        for status, prefix in (("pending", _SINGLE), ("held", _DIGEST)):
            ids = [row.id for row in due if row.status == status]
            if not ids:
                continue
            token = prefix + uuid.uuid4().hex
            result = conn.execute(
                sa.update(_D)
                .where(_D.c.id.in_(ids), _D.c.status == status)
                .values(status="sending", claim_token=token, claimed_at=now, attempts=_D.c.attempts + 1)
                .returning(_D.c.id, _D.c.event_id, _D.c.channel, _D.c.attempts)
            )
            claimed.extend(_Claimed(r.id, r.event_id, r.channel, r.attempts, token) for r in result.all())
    claimed.sort(key=lambda c: c.id)
    return claimed


def _finish(engine: sa.Engine, rows: list[_Claimed], token: str, **values: Any) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(_D)
            .where(_D.c.id.in_([r.id for r in rows]), _D.c.claim_token == token, _D.c.status == "sending")
            .values(**values)
        )
    return cast(sa.CursorResult[Any], result).rowcount


def _key(rows: list[_Claimed], channel: str) -> str:
    if len(rows) == 1:
        return f"{rows[0].event_id}:{channel}"
    digest = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    return f"digest-{digest}:{channel}"


def _jobs(
    engine: sa.Engine, config: Config, claimed: list[_Claimed], now: datetime, stats: DeliveryStats
) -> list[_Job]:
    channels = {c.name: c for c in config.alerts.channels}
    with Session(engine) as session:
        events = {
            e.id: e
            for e in session.exec(select(Event).where(col(Event.id).in_({c.event_id for c in claimed}))).all()
        }
        cw_ids = {e.colorway_id for e in events.values() if e.colorway_id is not None}
        colorways = {
            c.id: c for c in session.exec(select(DbColorway).where(col(DbColorway.id).in_(cw_ids))).all()
        }
    groups: dict[tuple[str, str], list[_Claimed]] = defaultdict(list)
    for row in claimed:
        event = events[row.event_id]
        colorway = colorways.get(event.colorway_id) if event.colorway_id is not None else None
        channel = channels.get(row.channel)
        if channel is None or not channel.enabled:
            why = "no longer in config.toml" if channel is None else "disabled in config.toml"
            stats.failed += _finish(engine, [row], row.token, status="failed", last_error=f"channel {why}")
            continue
        snooze = snoozed_until(config, _facts(event, colorway, config).style_code, now)
        if snooze is not None:
            stats.superseded += _finish(
                engine, [row], row.token, status="superseded", last_error=f"colorway snoozed until {snooze}"
            )
            continue
        groups[(row.channel, row.token)].append(row)
    jobs: list[_Job] = []
    for (name, token), rows in groups.items():
        items = [
            (events[r.event_id], colorways.get(events[r.event_id].colorway_id or -1)) for r in rows
        ]
        if token.startswith(_DIGEST) and len(rows) > 1:
            listings_only = all(e.kind in LISTING_KINDS for e, _ in items)
            reason = "new listings found at once" if listings_only else "during quiet hours"
            title, body, image = render_digest(items, reason)
            job_rows = [rows]
        else:
            job_rows = [[r] for r in rows]
        for part in job_rows:
            if len(part) == 1:
                event, colorway = events[part[0].event_id], colorways.get(
                    events[part[0].event_id].colorway_id or -1
                )
                title, body, image = render_message(event, colorway)
            jobs.append(
                _Job(
                    channel=name,
                    url=channels[name].url,
                    token=token,
                    rows=part,
                    title=title,
                    body=body,
                    image_url=image,
                    key=_key(part, name),
                    restore="held" if token.startswith(_DIGEST) else "pending",
                )
            )
    return jobs


class _ImageCache:
    """One download per image URL per deliver_due call, shared by the channels sending it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, Image | None] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def get(self, url: str) -> Image | None:
        with self._lock:
            lock = self._locks[url]
        with lock:
            if url not in self._images:
                self._images[url] = fetch_image(url)
            return self._images[url]


def _backoff(config: Config, attempts: int) -> float:
    return float(min(config.alerts.retry_base * 2 ** max(attempts - 1, 0), config.alerts.retry_max))


def _send_and_record(
    engine: sa.Engine, config: Config, job: _Job, now: datetime, images: _ImageCache
) -> tuple[str, int, str | None]:
    """Send one job and confirm at once (runs in a worker thread): (outcome, rows, error)."""
    image = images.get(job.image_url) if job.image_url else None
    error = send_via_apprise(job.url, job.title, job.body, image=image, idempotency_key=job.key)
    if error is None:
        done = _finish(engine, job.rows, job.token, status="sent", sent_at=_utcnow(), last_error=None)
        return "sent", done, None
    failed: list[_Claimed] = []
    retried: list[_Claimed] = []
    for row in job.rows:
        (failed if row.attempts >= config.alerts.max_attempts else retried).append(row)
    count = 0
    if failed:
        count += _finish(engine, failed, job.token, status="failed", claim_token=None, last_error=error)
    for row in retried:
        count += _finish(
            engine,
            [row],
            job.token,
            status=job.restore,
            claim_token=None,
            last_error=error,
            next_attempt_at=now + timedelta(seconds=_backoff(config, row.attempts)),
        )
    return ("failed" if failed and not retried else "retried"), count, f"{job.channel}: {error}"


async def deliver_due(
    engine: sa.Engine, config: Config, *, now: datetime | None = None, limit: int = 50
) -> DeliveryStats:
    """Claim due outbox rows, send each through Apprise (channels in parallel), confirm or reschedule."""
    now = _as_utc(now) if now is not None else _utcnow()
    stats = DeliveryStats()
    stats.recovered = _recover_stale(engine, config, now)
    claimed = _claim(engine, now, limit)
    if not claimed:
        return stats
    jobs = _jobs(engine, config, claimed, now, stats)
    images = _ImageCache()
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def run(job: _Job) -> tuple[str, int, str | None]:
        async with gate:
            return await asyncio.to_thread(_send_and_record, engine, config, job, now, images)

    for outcome, count, error in await asyncio.gather(*(run(job) for job in jobs)):
        if outcome == "sent":
            stats.sent += count
        elif outcome == "failed":
            stats.failed += count
        else:
            stats.retried += count
        if error:
            stats.errors.append(error)
    return stats


def warm_up_channels(config: Config) -> None:
    """Load what the enabled channels need before the first alert (call once when a service starts)."""
    warm_up([c.url for c in config.alerts.channels if c.enabled])


def send_test(config: Config, channel: str | None = None) -> list[tuple[str, bool, str | None]]:
    """Send a test message to every enabled channel (or the one named): (channel, ok, error)."""
    if channel is not None:
        chosen = [c for c in config.alerts.channels if c.name == channel]
        if not chosen:
            names = ", ".join(c.name for c in config.alerts.channels) or "none configured"
            raise ConfigError(f"alerts.channels: no channel named {channel!r} (channels: {names})")
    else:
        chosen = [c for c in config.alerts.channels if c.enabled]
        if not chosen:
            raise ConfigError("alerts.channels: no enabled channel to test")
    title = "2002R tracker: test alert"
    body = (
        "This is a test message from your 2002R tracker.\n\n"
        "If you can read this, drop alerts will reach you here."
    )
    results: list[tuple[str, bool, str | None]] = []
    for ch in chosen:
        error = send_via_apprise(ch.url, title, body, idempotency_key=f"test-{uuid.uuid4().hex}:{ch.name}")
        results.append((ch.name, error is None, error))
    return results


def recent_deliveries(engine: sa.Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The newest outbox rows with their event: what was sent, what waits, what failed and why."""
    stmt = (
        sa.select(
            _D.c.id,
            _D.c.event_id,
            _D.c.channel,
            _D.c.status,
            _D.c.attempts,
            _D.c.created_at,
            _D.c.next_attempt_at,
            _D.c.sent_at,
            _D.c.last_error,
            _E.c.kind,
            _E.c.message,
        )
        .join(_E, _E.c.id == _D.c.event_id)
        .order_by(_D.c.created_at.desc(), _D.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


# ---------------------------------------------------------------- command line (for the scheduler-less)


def _engine_for(config_path: Path, config: Config) -> sa.Engine:
    from db.engine import make_engine

    return make_engine(config.effective_database_url(base=config_path.resolve().parent))


def _unfinished(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(_D).where(_D.c.status.in_(("pending", "held", "sending")))
        ).scalar_one()
    return int(count)


def main(argv: Sequence[str] | None = None) -> int:
    """python -m tracker.alerts deliver|test|list: run the outbox sender, send a test, list rows."""
    parser = argparse.ArgumentParser(prog="python -m tracker.alerts")
    parser.add_argument("--config", default="config.toml")
    sub = parser.add_subparsers(dest="command", required=True)
    deliver = sub.add_parser("deliver", help="send due alerts, every --interval seconds")
    deliver.add_argument("--interval", type=float, default=2.0)
    deliver.add_argument("--once", action="store_true", help="one pass, then exit")
    deliver.add_argument("--until-done", action="store_true", help="exit when nothing is left to send")
    deliver.add_argument("--max-seconds", type=float, default=None)
    test = sub.add_parser("test", help="send a test message")
    test.add_argument("--channel", default=None)
    listing = sub.add_parser("list", help="show recent deliveries")
    listing.add_argument("--limit", type=int, default=50)
    args = parser.parse_args(argv)
    path = Path(args.config)
    try:
        config = load_config(path)
        if args.command == "test":
            ok = True
            for name, sent, error in send_test(config, args.channel):
                print(f"{name}: {'sent' if sent else 'FAILED: ' + (error or '')}")
                ok = ok and sent
            return 0 if ok else 1
        engine = _engine_for(path, config)
        if args.command == "list":
            for row in recent_deliveries(engine, args.limit):
                when = row["sent_at"] or row["next_attempt_at"]
                print(
                    f"#{row['id']} {row['status']:<10} {row['channel']:<12} {row['kind']:<16}"
                    f" {when:%Y-%m-%d %H:%M:%S} {row['message']}"
                    + (f"  [{row['last_error']}]" if row["last_error"] else "")
                )
            return 0
        warm_up_channels(config)
        deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
        while True:
            stats = asyncio.run(deliver_due(engine, config))
            if stats.sent or stats.failed or stats.retried:
                print(f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}", flush=True)
            if args.once or (args.until_done and not _unfinished(engine)):
                return 0
            if deadline is not None and time.monotonic() > deadline:
                return 1
            time.sleep(args.interval)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
