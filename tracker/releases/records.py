"""Release records: one row per (style code, region), its history, and the events it raises.

A release is created or moved by a calendar page, a product page's launch date or a coming-soon
product, or by the collector's own date in config.toml (configured.py), which then no source moves;
it goes live the first time a shop has it in stock on or after its moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from db.models import CONFIG_SOURCE, Colorway, Event, Listing, Observation, Release, ReleaseChange
from db.models import Source as SourceRow
from tracker.config import Config
from tracker.extract.dates import When, parse_when
from tracker.extract.model import GLOBAL, Availability, Product, ReleaseInfo
from tracker.match import CatalogueEntry, match_product
from tracker.zones import zone_named

_COMING_SOON_TAGS = (
    "coming soon",
    "coming-soon",
    "coming_soon",
    "upcoming",
    "launch",
    "pre-launch",
    "raffle",
)
_DATED_TAG_RE = re.compile(r"^(?:release|launch|drop|release-date|launch-date)[:_ -]*(?P<when>.+)$", re.I)


def release_start(release: Release, default_tz: str) -> datetime | None:
    """When a release starts: its time, or the start of its day in its zone (else default_tz)."""
    if release.release_at is not None:
        return release.release_at
    if release.release_date is None:
        return None
    zone = zone_named(release.timezone) or zone_named(default_tz) or UTC
    return datetime.combine(release.release_date, time(0), zone).astimezone(UTC)


def release_end(release: Release, default_tz: str) -> datetime | None:
    """The end of a release's moment: its time, or the end of its day."""
    if release.release_at is not None:
        return release.release_at
    start = release_start(release, default_tz)
    return None if start is None else start + timedelta(days=1)


def _event(
    kind: str, release: Release, message: str, *, source_id: int | None, now: datetime, **extra: Any
) -> Event:
    data: dict[str, Any] = {
        "style_code": release.style_code,
        "colorway": release.name,
        "region": release.region,
        "release_date": release.release_date.isoformat() if release.release_date else None,
        "release_at": release.release_at.isoformat() if release.release_at else None,
        "timezone": release.timezone,
        "url": release.url,
        "shop": release.source_name,
        "price": str(release.price) if release.price is not None else None,
        "currency": release.currency,
    }
    data.update(extra)
    return Event(
        created_at=now,
        kind=kind,
        source_id=source_id,
        colorway_id=release.colorway_id,
        message=message,
        data={k: v for k, v in data.items() if v is not None},
    )


def _describe(release: Release, tz: str) -> str:
    if release.release_date is None:
        return "date TBC"
    if release.release_at is not None:
        zone = zone_named(release.timezone) or zone_named(tz) or UTC
        local = release.release_at.astimezone(zone)
        return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or "")
    return release.release_date.strftime("%a %d %b %Y")


def _history(session: Session, release_id: int) -> list[ReleaseChange]:
    query = select(ReleaseChange).where(ReleaseChange.release_id == release_id)
    return list(session.exec(query.order_by(col(ReleaseChange.id))).all())


def create_release(
    session: Session,
    info: ReleaseInfo,
    *,
    style_code: str,
    colorway: Colorway | None,
    source_name: str,
    source_id: int | None,
    config: Config,
    now: datetime,
    pinned: bool = False,
) -> tuple[Release, list[Event]]:
    """A new release row with its first history entry; release_announced when its date is today or later."""
    region = info.region or GLOBAL
    name = colorway.name if colorway is not None else info.name
    row = Release(
        style_code=style_code,
        region=region,
        colorway_id=colorway.id if colorway else None,
        name=name,
        release_date=info.when.day,
        release_at=info.when.at,
        timezone=info.when.timezone,
        price=info.price,
        currency=info.currency if info.price is not None else None,
        source_name=source_name,
        url=info.url,
        pinned=pinned,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    if not info.when.known:
        return row, []
    session.add(
        ReleaseChange(
            release_id=row.id, changed_at=now, old_date=None, new_date=info.when.day, source_name=source_name
        )
    )
    today = now.astimezone(zone_named(info.when.timezone) or config.tz()).date()
    if info.when.day is None or info.when.day < today:
        return row, []
    text = f"{name or style_code} ({region}) releases {_describe(row, config.timezone)} (from {source_name})"
    return row, [_event("release_announced", row, text, source_id=source_id, now=now)]


def move_release(
    session: Session,
    row: Release,
    when: When,
    *,
    source_name: str,
    url: str | None,
    source_id: int | None,
    config: Config,
    now: datetime,
) -> Event:
    """Give a release a new moment, record the change, and return its release_announced (it had
    no date) or release_changed (earlier / later) event."""
    assert row.id is not None
    old_day, old_at = row.release_date, row.release_at
    old_copy = Release.model_validate(row.model_dump())
    row.release_date, row.release_at = when.day, when.at
    row.timezone = when.timezone or row.timezone
    row.source_name, row.url = source_name, url or row.url
    row.live = False if (when.day and old_day and when.day > old_day) else row.live
    row.updated_at = now
    session.add(row)
    session.add(
        ReleaseChange(
            release_id=row.id, changed_at=now, old_date=old_day, new_date=when.day, source_name=source_name
        )
    )
    name, region = row.name or row.style_code, row.region
    direction = None
    if old_day is None:
        kind, text = "release_announced", f"{name} ({region}) releases {_describe(row, config.timezone)}"
    else:
        old_start = release_start(old_copy, config.timezone)
        new_start = release_start(row, config.timezone)
        direction = "earlier" if (new_start and old_start and new_start < old_start) else "later"
        kind = "release_changed"
        text = (
            f"{name} ({region}) moved {direction}: "
            f"{_describe(row, config.timezone)}, was {_describe(old_copy, config.timezone)}"
        )
    return _event(
        kind,
        row,
        f"{text} (from {source_name})",
        source_id=source_id,
        now=now,
        old_release_date=old_day.isoformat() if old_day else None,
        old_release_at=old_at.isoformat() if old_at else None,
        direction=direction,
    )


def _against_config(
    session: Session,
    row: Release,
    when: When,
    *,
    source_name: str,
    source_id: int | None,
    config: Config,
    now: datetime,
) -> list[Event]:
    """A source's date for a release config.toml pins: kept in the history (once per config date
    and source date), with a release_changed event when it disagrees; the release keeps its date."""
    assert row.id is not None
    history = _history(session, row.id)
    since = max((i for i, h in enumerate(history) if h.source_name == CONFIG_SOURCE), default=-1)
    said = [h for h in history[since + 1 :] if h.source_name == source_name]
    if said and said[-1].new_date == when.day:
        return []  # this source said so already since config.toml's date was set
    agrees = when.day == row.release_date
    session.add(
        ReleaseChange(
            release_id=row.id,
            changed_at=now,
            old_date=row.release_date,
            new_date=when.day,
            source_name=source_name,
            applied=agrees,
        )
    )
    if agrees:
        return []
    tz = config.timezone
    theirs = Release(
        style_code=row.style_code, release_date=when.day, release_at=when.at, timezone=when.timezone
    )
    ours, given = release_start(row, tz), release_start(theirs, tz)
    direction = "earlier" if (given and ours and given < ours) else "later"
    text = (
        f"{row.name or row.style_code} ({row.region}): {source_name} gives {_describe(theirs, tz)},"
        f" config.toml says {_describe(row, tz)}; the tracker keeps the config.toml date"
    )
    return [
        _event(
            "release_changed",
            row,
            text,
            source_id=source_id,
            now=now,
            shop=source_name,
            source_release_date=when.day.isoformat() if when.day else None,
            source_release_at=when.at.isoformat() if when.at else None,
            disagrees_with=CONFIG_SOURCE,
            direction=direction,
        )
    ]


def record_release(
    session: Session,
    info: ReleaseInfo,
    *,
    style_code: str,
    colorway: Colorway | None,
    source_name: str,
    source_id: int | None,
    config: Config,
    now: datetime,
) -> list[Event]:
    """Create or update the release row for (style code, region); returns the events it raised.

    A new date raises release_announced (only when the date is today or later), a different date
    raises release_changed (earlier / later), a time set where only a day was known updates
    quietly. "TBC" never replaces a known date: it is no news. A release whose date config.toml
    gives keeps it: the source's date goes to the history, and release_changed says it disagrees.
    """
    region = info.region or GLOBAL
    row = session.exec(
        select(Release).where(Release.style_code == style_code, Release.region == region)
    ).one_or_none()
    if row is None:
        return create_release(
            session,
            info,
            style_code=style_code,
            colorway=colorway,
            source_name=source_name,
            source_id=source_id,
            config=config,
            now=now,
        )[1]
    events: list[Event] = []
    name = colorway.name if colorway is not None else info.name
    changed = False
    if colorway is not None and row.colorway_id != colorway.id:
        row.colorway_id, changed = colorway.id, True
    if name and row.name != name:
        row.name, changed = name, True
    if info.price is not None and (row.price != info.price or row.currency != info.currency):
        row.price, row.currency, changed = info.price, info.currency, True
    if info.url and row.url != info.url and row.source_name in (None, source_name):
        row.url, changed = info.url, True
    if info.when.known and row.pinned:
        events.extend(
            _against_config(
                session, row, info.when, source_name=source_name, source_id=source_id, config=config, now=now
            )
        )
    elif info.when.known:
        old_day, old_at = row.release_date, row.release_at
        new_at = info.when.at
        moved_day = old_day != info.when.day
        moved_time = old_at is not None and new_at is not None and old_at != new_at
        if moved_day and row.source_name not in (None, source_name):
            # Another source still giving a date this release has already moved away from is
            # stale, not news: without this, two sources that disagree flip the date (and the
            # user's phone) back and forth on every check.
            assert row.id is not None
            history = _history(session, row.id)
            if info.when.day in {h.old_date for h in history if h.old_date is not None and h.applied}:
                moved_day = moved_time = False
        if moved_day or moved_time:
            events.append(
                move_release(
                    session,
                    row,
                    info.when,
                    source_name=source_name,
                    url=info.url,
                    source_id=source_id,
                    config=config,
                    now=now,
                )
            )
            changed = True
        elif new_at is not None and old_at is None:
            row.release_at, row.timezone, changed = new_at, info.when.timezone or row.timezone, True
    if changed:
        row.updated_at = now
        session.add(row)
    return events


def resolve(
    info: ReleaseInfo, catalogue: Sequence[CatalogueEntry], by_code: dict[str, Colorway]
) -> tuple[str | None, Colorway | None]:
    """The style code and catalogue colorway of a release (by code, else by name)."""
    product = Product(title=info.name, url=info.url, style_code=info.style_code)
    match = match_product(product, catalogue)
    code = match.style_code or info.style_code
    return code, by_code.get(code) if code else None


def coming_soon(product: Product, *, default_tz: str) -> When | None:
    """A release a product announces: a launch date in its structured data (releaseDate or an
    offer's availabilityStarts, pre-orders included), or, for a product published before it can
    be bought, a dated release tag or a "coming soon" tag. Returns its date (an unknown When when
    only tagged), else None."""
    release = product.extra.get("release_date")
    if release:
        when = parse_when(release, default_tz=default_tz)
        if when is not None and when.known:
            return when
    if product.availability is Availability.IN_STOCK:
        return None
    if any(s.availability is Availability.IN_STOCK for s in product.sizes):
        return None
    tagged = False
    for tag in product.tags:
        low = tag.strip().lower()
        if m := _DATED_TAG_RE.match(tag.strip()):
            when = parse_when(m.group("when"), default_tz=default_tz)
            if when is not None and when.known:
                return when
        if low in _COMING_SOON_TAGS:
            tagged = True
    return When() if tagged else None


def after_products(
    session: Session,
    config: Config,
    *,
    source_name: str,
    source_id: int | None,
    offered: Iterable[tuple[Listing, Product]],
    now: datetime,
) -> list[Event]:
    """Pipeline hook, inside its transaction: coming-soon products create or confirm releases,
    and a release whose moment has come goes live the first time any shop has it in stock."""
    events: list[Event] = []
    colorways: dict[int | None, Colorway] | None = None  # read when a product first needs them
    for listing, product in offered:
        code = listing.style_code
        if not code:
            continue
        when = coming_soon(product, default_tz=config.timezone)
        if when is None:
            continue
        info = ReleaseInfo(
            name=product.title,
            when=when,
            style_code=code,
            price=product.price,
            currency=product.currency,
            url=listing.url,
        )
        known = session.exec(select(Release).where(Release.style_code == code)).all()
        if known and (not when.known or any(r.release_date == when.day for r in known)):
            continue  # the shop confirms what a calendar said (in some region); nothing new
        if colorways is None:
            colorways = {c.id: c for c in session.exec(select(Colorway)).all()}
        colorway = colorways.get(listing.colorway_id) if listing.colorway_id is not None else None
        events.extend(
            record_release(
                session,
                info,
                style_code=code,
                colorway=colorway,
                source_name=source_name,
                source_id=source_id,
                config=config,
                now=now,
            )
        )
    events.extend(going_live(session, config, now))
    return events


def going_live(session: Session, config: Config, now: datetime) -> list[Event]:
    """Releases whose moment has passed that some shop now has in stock: mark live, one event each."""
    events: list[Event] = []
    pending = session.exec(
        select(Release).where(col(Release.live).is_(False), col(Release.release_date).is_not(None))
    ).all()
    for release in pending:
        start = release_start(release, config.timezone)
        if start is None or start > now:
            continue
        first_known = session.exec(
            select(ReleaseChange.changed_at)
            .where(ReleaseChange.release_id == release.id)
            .order_by(col(ReleaseChange.changed_at))
            .limit(1)
        ).first()
        if first_known is not None and start < first_known - timedelta(days=1):
            # We learnt of it well after it dropped: history, not news.
            release.live = True
            session.add(release)
            continue
        cond = Listing.style_code == release.style_code
        if release.colorway_id is not None:
            cond = cond | (Listing.colorway_id == release.colorway_id)
        rows = session.exec(
            select(Listing, Observation, SourceRow)
            .join(Observation, col(Observation.id) == col(Listing.last_observation_id))
            .join(SourceRow, col(SourceRow.id) == col(Listing.source_id))
            .where(cond, col(Listing.gone).is_(False), col(Listing.last_checked_at) >= start)
            .where(Observation.availability == Availability.IN_STOCK.value)
            .order_by(col(Observation.observed_at))
        ).all()
        if not rows:
            continue
        listing, obs, shop = rows[0]
        release.live = True
        release.updated_at = now
        session.add(release)
        sizes = [s.get("size") for s in obs.sizes if s.get("availability") == Availability.IN_STOCK.value]
        event = _event(
            "going_live",
            release,
            f"{release.name or release.style_code} is live at {shop.name}"
            + (f": {obs.price} {obs.currency}" if obs.price is not None else ""),
            source_id=shop.id,
            now=now,
            shop=shop.name,
            url=listing.url,
            title=listing.title,
            price=str(obs.price) if obs.price is not None else None,
            currency=obs.currency,
            sizes_in_stock=sizes,
            availability=obs.availability,
        )
        event.listing_id = listing.id
        event.observation_id = obs.id
        events.append(event)
    return events
