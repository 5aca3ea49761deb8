"""The weekly digest: one message per channel a week, at the configured day and hour (config timezone).

For each watched colorway: the lowest buyable price of the last seven days against its list price,
the shops that have it in stock in your sizes now, and the releases coming. ``[alerts.weekly_digest]``
sets the day, the hour and the channels (empty: every enabled channel).

Once a week, even across restarts, is a database property: the digest of a week is a row in
``digest_runs`` unique on its period (the local date it was scheduled for), written in the same
transaction as its event and one outbox row per channel. A tracker that was stopped at the hour sends
it when it starts again, up to a day late; later than that the week is skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db import queries
from db.models import Delivery, DigestRun, Event
from tracker.config import Config
from tracker.money import format_money
from tracker.notify.plan import as_utc

log = logging.getLogger("tracker")

KIND = "weekly_digest"
WEEK = timedelta(days=7)
CATCH_UP = timedelta(days=1)


@dataclass(frozen=True)
class Slot:
    """This week's digest: the local date it belongs to and the moment it is due (UTC)."""

    period: date
    due: datetime


def current_slot(config: Config, now: datetime) -> Slot | None:
    """The latest scheduled moment at or before now, or None when no digest is configured."""
    digest = config.alerts.weekly_digest
    if digest is None:
        return None
    tz = config.tz()
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - digest.weekday()) % 7)
    due = datetime.combine(day, time(digest.hour), tzinfo=tz)
    if due > now:
        day -= WEEK
        due = datetime.combine(day, time(digest.hour), tzinfo=tz)
    return Slot(period=day, due=as_utc(due))


def digest_channels(config: Config) -> list[str]:
    """The enabled channels the digest goes to."""
    digest = config.alerts.weekly_digest
    enabled = [c.name for c in config.alerts.channels if c.enabled]
    if digest is None:
        return []
    return [name for name in (digest.channels or enabled) if name in enabled]


def _norm(size: str) -> str:
    return size.strip().upper().removeprefix("US").removeprefix("UK").removeprefix("EU").strip()


def _colorway_lines(engine: Engine, colorway: queries.ColorwayInfo, now: datetime, locale: str) -> list[str]:
    since = now - WEEK
    points = queries.price_points(engine, [colorway.id], since)
    offers = queries.latest_stock(engine, [colorway.id])
    currency = next(iter(queries.currencies([*points, *offers], colorway.list_prices)), None)
    lines = [f"{colorway.name} ({colorway.style_code})"]
    stats = None
    if currency is not None:
        stats = queries.step_stats(queries.price_steps(points, currency, since, now), currency, now)
    if stats is not None and stats.lowest is not None:
        line = f"  Lowest this week: {format_money(stats.lowest, currency, locale)}"
        line += f" at {stats.lowest_source}" if stats.lowest_source else ""
        list_price = queries.list_price(colorway, currency)
        if list_price is not None:
            diff = stats.lowest - list_price
            gap = format_money(abs(diff), currency, locale)
            listed = format_money(list_price, currency, locale)
            where = "below" if diff < 0 else "above" if diff > 0 else "at"
            line += f" (list {listed})" if diff == 0 else f" ({gap} {where} list {listed})"
        lines.append(line)
    else:
        lines.append("  No buyable price seen this week")
    mine = {_norm(s) for s in colorway.sizes}
    shops = []
    for offer in sorted(offers, key=lambda o: (o.price is None, o.price or 0, o.source_name)):
        if offer.availability != "InStock" or offer.suspect:
            continue
        # A shop that lists no sizes is counted: in stock is all it says.
        if mine and offer.sizes_listed and not {_norm(s) for s in offer.in_stock} & mine:
            continue
        price = format_money(offer.price, offer.currency, locale)
        shops.append(f"{offer.source_name} {price}".strip())
    label = f"In stock in your sizes ({', '.join(colorway.sizes)})" if colorway.sizes else "In stock"
    lines.append(f"  {label}: " + (", ".join(shops) if shops else "nowhere right now"))
    return lines


def build_digest(engine: Engine, config: Config, now: datetime) -> tuple[str, list[str]]:
    """The digest's title and lines, from what the database holds at now."""
    watched = queries.colorways(engine, watched_only=True)
    lines: list[str] = []
    for colorway in watched:
        lines.extend(_colorway_lines(engine, colorway, now, config.locale))
    today = now.astimezone(config.tz()).date()
    coming = [r for r in queries.releases(engine) if r.release_date is not None and r.release_date >= today]
    lines.append("Releases coming:" if coming else "Releases coming: none announced")
    for release in coming:
        region = "" if release.region == "global" else f", {release.region}"
        lines.append(f"  {release.release_date}: {release.name} ({release.style_code}{region})")
    title = f"2002R weekly digest: {len(watched)} watched colorways, {len(coming)} releases coming"
    return title, lines


def plan_weekly_digest(engine: Engine, config: Config, now: datetime) -> int | None:
    """Plan this week's digest when it is due and not planned yet: its event id, else None."""
    now = as_utc(now)
    slot = current_slot(config, now)
    channels = digest_channels(config)
    if slot is None or not channels or now - slot.due > CATCH_UP:
        return None
    with Session(engine) as session:
        if session.exec(select(DigestRun).where(DigestRun.period == slot.period)).first() is not None:
            return None
    title, lines = build_digest(engine, config, now)
    try:
        with Session(engine) as session, session.begin():
            run = DigestRun(period=slot.period, created_at=now)
            session.add(run)
            session.flush()  # a second tracker (or a restart) planning the same week stops here
            event = Event(
                created_at=now,
                kind=KIND,
                message=title,
                data={"title": title, "lines": lines, "period": slot.period.isoformat()},
            )
            session.add(event)
            session.flush()
            assert event.id is not None
            run.event_id = event.id
            for channel in channels:
                session.add(Delivery(event_id=event.id, channel=channel, next_attempt_at=now, created_at=now))
            event_id = event.id
    except IntegrityError:
        return None
    log.info("weekly digest for %s planned to %s", slot.period, ", ".join(channels))
    return event_id
