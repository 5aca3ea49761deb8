"""The release calendar as an iCalendar feed that Google, Apple and Outlook calendars can subscribe to."""

from __future__ import annotations

import os
import re
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from db.models import Colorway, Listing, Release, ReleaseChange
from db.models import Source as SourceRow
from db.queries import release_disputes
from tracker.config import Config
from tracker.zones import zone_named

PRODID = "-//2002R tracker//release calendar//EN"
UID_DOMAIN = "2002r-tracker"
# A timed release is shown as one hour: long enough to see, short enough not to block a day.
TIMED_LENGTH = timedelta(hours=1)


def release_uid(style_code: str, region: str) -> str:
    """The event's UID: stable per style code and region, so a moved date updates the same event."""
    slug = re.sub(r"[^a-z0-9]+", "-", region.lower()).strip("-") or "global"
    return f"{style_code.lower()}-{slug}@{UID_DOMAIN}"


def _shops(session: Session) -> dict[str, list[tuple[str, str]]]:
    """(shop, url) pairs per style code, from listings still offered."""
    rows = session.exec(
        select(Listing.style_code, Listing.colorway_id, Listing.url, SourceRow.name)
        .join(SourceRow, col(SourceRow.id) == col(Listing.source_id))
        .where(col(Listing.gone).is_(False))
        .order_by(SourceRow.name, Listing.url)
    ).all()
    codes = {c.id: c.style_code for c in session.exec(select(Colorway)).all()}
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, colorway_id, url, shop in rows:
        key = codes.get(colorway_id) if colorway_id is not None else code
        if key and (shop, url) not in out[key]:
            out[key].append((shop, url))
    return out


def build_calendar(engine: Engine, config: Config, *, now: datetime | None = None) -> icalendar.Calendar:
    """One VEVENT per release with a known date (TBC releases have no place in a calendar yet)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "2002R releases")
    cal.add("x-wr-caldesc", "New Balance 2002R release dates from the tracker")
    cal.add("x-published-ttl", "PT1H")
    stamp_default = (now or datetime.now(UTC)).astimezone(UTC)
    with Session(engine) as session:
        releases = session.exec(
            select(Release)
            .where(col(Release.release_date).is_not(None))
            .order_by(col(Release.release_date), Release.style_code, Release.region)
        ).all()
        changes = dict(
            session.exec(
                select(ReleaseChange.release_id, func.count())
                .where(col(ReleaseChange.applied).is_(True))
                .group_by(col(ReleaseChange.release_id))
            ).all()
        )
        colorways = {c.style_code: c for c in session.exec(select(Colorway)).all()}
        shops = _shops(session)
    disputes = release_disputes(engine)
    for release in releases:
        assert release.release_date is not None
        colorway = colorways.get(release.style_code)
        name = (colorway.name if colorway else None) or release.name or release.style_code
        event = icalendar.Event()
        event.add("uid", release_uid(release.style_code, release.region))
        stamp = release.updated_at.astimezone(UTC) if release.updated_at else stamp_default
        event.add("dtstamp", stamp)
        event.add("last-modified", stamp)
        # Each date change the tracker acted on is a new revision, so calendars replace the old date.
        event.add("sequence", max(0, int(changes.get(release.id or -1, 1)) - 1))
        region = "" if release.region == "global" else f" ({release.region})"
        event.add("summary", f"2002R release: {name}{region}")
        if release.release_at is not None:
            zone = zone_named(release.timezone)
            start = release.release_at.astimezone(zone) if zone else release.release_at.astimezone(UTC)
            event.add("dtstart", start)
            event.add("dtend", start + TIMED_LENGTH)
        else:
            event.add("dtstart", release.release_date)
            event.add("dtend", release.release_date + timedelta(days=1))
            event.add("transp", "TRANSPARENT")
        lines = [f"Style code: {release.style_code}"]
        price, currency = release.price, release.currency
        if price is None and colorway is not None and colorway.list_prices:
            currency, amount = next(iter(sorted(colorway.list_prices.items())))
            lines.append(f"List price: {amount} {currency}")
        elif price is not None:
            lines.append(f"List price: {price} {currency or ''}".rstrip())
        else:
            lines.append("List price: TBC")
        if release.pinned:
            lines.append("Date from: your config.toml")
            lines.extend(
                f"{shop} gives {day:%a %d %b %Y} (not followed: your date wins)"
                for shop, day in disputes.get((release.style_code, release.region), ())
            )
        elif release.source_name:
            lines.append(f"Date from: {release.source_name}" + (f" ({release.url})" if release.url else ""))
        links = shops.get(release.style_code, [])
        if links:
            lines.append("Shops:")
            lines.extend(f"- {shop}: {url}" for shop, url in links)
        event.add("description", "\n".join(lines))
        if release.url:
            event.add("url", release.url)
        event.add("categories", ["2002R", "release"])
        cal.add_component(event)
    # Timed events carry TZID: ship the VTIMEZONE definitions clients need to read them.
    cal.add_missing_timezones()
    return cal


def build_ics(engine: Engine, config: Config) -> bytes:
    """The release calendar as iCalendar bytes (what `tracker calendar --ics` writes)."""
    data: bytes = build_calendar(engine, config).to_ical()
    return data


def write_ics(engine: Engine, config: Config, path: Path | str) -> int:
    """Write the feed atomically (a subscribed client never reads half a file); returns the event count."""
    data = build_ics(engine, config)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".calendar-", suffix=".ics", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data.count(b"BEGIN:VEVENT")
