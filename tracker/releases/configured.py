"""The collector's own release dates (a colorway's release_date in config.toml) as releases.

Such a release is pinned: it has the date config.toml gives, and calendars or shops giving
another date only add to its history (see records.record_release). Removing the date hands the
release back to the latest date a source gave, or removes it when no source ever gave one.
Synced with the catalogue, in its transaction, so a config edit applies like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from db.models import CONFIG_SOURCE, Colorway, Event, Release, ReleaseChange
from tracker.config import Colorway as ConfigColorway
from tracker.config import Config
from tracker.extract.dates import When
from tracker.extract.model import ReleaseInfo
from tracker.releases.records import create_release, move_release
from tracker.zones import zone_named


def config_when(colorway: ConfigColorway, config: Config) -> When:
    """The moment config.toml gives a colorway: its day, and its time in its zone (else `timezone`)."""
    if colorway.release_at is None:
        # A bare date is a day in the collector's own zone, whatever zone a source used before.
        return When(day=colorway.release_date, timezone=config.timezone)
    assert colorway.release_date is not None  # the config refuses a time without a date
    name = colorway.release_at.zone or config.timezone
    zone = zone_named(name) or config.tz()
    at = datetime.combine(colorway.release_date, colorway.release_at.at, zone).astimezone(UTC)
    return When(day=colorway.release_date, at=at, timezone=name)


def sync_config_releases(session: Session, config: Config, now: datetime) -> list[Event]:
    """Bring pinned releases in line with config.toml's release dates; returns the events raised."""
    colorways = {c.style_code: c for c in session.exec(select(Colorway)).all()}
    rows = {(r.style_code, r.region): r for r in session.exec(select(Release)).all()}
    wanted = {(c.style_code, c.region): c for c in config.colorways if c.release_date is not None}
    events: list[Event] = []
    for key, cfg in wanted.items():
        colorway = colorways.get(cfg.style_code)
        events.extend(_pin(session, rows.get(key), cfg, colorway=colorway, config=config, now=now))
    for key, row in rows.items():
        if row.pinned and key not in wanted:
            events.extend(_unpin(session, row, config, now))
    session.flush()
    return events


def _pin(
    session: Session,
    row: Release | None,
    cfg: ConfigColorway,
    *,
    colorway: Colorway | None,
    config: Config,
    now: datetime,
) -> list[Event]:
    when = config_when(cfg, config)
    if row is None:
        info = ReleaseInfo(name=cfg.name, when=when, style_code=cfg.style_code, region=cfg.region)
        return create_release(
            session,
            info,
            style_code=cfg.style_code,
            colorway=colorway,
            source_name=CONFIG_SOURCE,
            source_id=None,
            config=config,
            now=now,
            pinned=True,
        )[1]
    row.colorway_id = colorway.id if colorway is not None else row.colorway_id
    row.name = cfg.name
    if row.pinned and (row.release_date, row.release_at, row.timezone) == (when.day, when.at, when.timezone):
        session.add(row)
        return []
    newly = not row.pinned
    row.pinned = True
    moved_time = row.release_at is not None and when.at is not None and row.release_at != when.at
    if row.release_date != when.day or moved_time:
        return [
            move_release(
                session,
                row,
                when,
                source_name=CONFIG_SOURCE,
                url=None,
                source_id=None,
                config=config,
                now=now,
            )
        ]
    # The same day: a time given, dropped or put in another zone is no news.
    assert row.id is not None
    if newly:
        session.add(
            ReleaseChange(
                release_id=row.id,
                changed_at=now,
                old_date=row.release_date,
                new_date=when.day,
                source_name=CONFIG_SOURCE,
            )
        )
    row.release_at, row.timezone, row.source_name, row.updated_at = when.at, when.timezone, CONFIG_SOURCE, now
    session.add(row)
    return []


def _unpin(session: Session, row: Release, config: Config, now: datetime) -> list[Event]:
    """The collector removed their date: the latest date a source gave takes over."""
    assert row.id is not None
    history = session.exec(
        select(ReleaseChange).where(ReleaseChange.release_id == row.id).order_by(col(ReleaseChange.id))
    ).all()
    theirs = next(
        (h for h in reversed(history) if h.source_name != CONFIG_SOURCE and h.new_date is not None), None
    )
    if theirs is None or theirs.source_name is None:
        # Only config.toml ever dated it: the release goes with the date.
        for change in history:
            session.delete(change)
        session.flush()
        session.delete(row)
        return []
    row.pinned = False
    if theirs.new_date == row.release_date:
        # The source's own time (if any) comes back with its next check.
        row.release_at, row.timezone = None, None
        row.source_name, row.updated_at = theirs.source_name, now
        session.add(row)
        return []
    event = move_release(
        session,
        row,
        When(day=theirs.new_date),
        source_name=theirs.source_name,
        url=None,
        source_id=None,
        config=config,
        now=now,
    )
    row.timezone = None
    event.message += "; the config.toml date was removed"
    return [event]
