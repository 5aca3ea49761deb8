"""Drop mode: which sources to check faster around a release, and how fast, politely per host."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from db.models import Listing, Release
from db.models import Source as SourceRow
from tracker.config import Config
from tracker.config import Source as SourceConfig
from tracker.releases.records import release_end, release_start


@dataclass(frozen=True)
class DropWindow:
    """Fast polling for one release: from `start` to `end`, for the sources that carry it."""

    style_code: str
    region: str
    start: datetime
    end: datetime
    sources: tuple[str, ...]


def drop_windows(session: Session, config: Config, now: datetime) -> list[DropWindow]:
    """The drop windows open at `now` ([drops] before the release's start to after its end)."""
    before = timedelta(seconds=config.drops.before)
    after = timedelta(seconds=config.drops.after)
    out: list[DropWindow] = []
    rows = session.exec(select(Release).where(col(Release.release_date).is_not(None))).all()
    for release in rows:
        start, end = release_start(release, config.timezone), release_end(release, config.timezone)
        if start is None or end is None or not (start - before <= now <= end + after):
            continue
        cond = Listing.style_code == release.style_code
        if release.colorway_id is not None:
            cond = cond | (Listing.colorway_id == release.colorway_id)
        names = session.exec(
            select(SourceRow.name)
            .join(Listing, col(Listing.source_id) == col(SourceRow.id))
            .where(cond, col(Listing.gone).is_(False))
            .distinct()
        ).all()
        out.append(
            DropWindow(release.style_code, release.region, start - before, end + after, tuple(sorted(names)))
        )
    return out


def _host(src: SourceConfig) -> str:
    return (urlsplit(src.all_urls()[0]).hostname or "").lower()


def drop_plan(session: Session, config: Config, now: datetime) -> dict[str, float]:
    """Source name -> check interval (seconds) for the sources in drop mode at `now`.

    Politeness: one host gets one drop-mode check per [drops] interval in all, so k sources on
    the same host are each checked every k intervals; a source never asks faster than its
    per-host delay allows for its URLs, and never slower than its normal interval.
    """
    carrying = {name for w in drop_windows(session, config, now) for name in w.sources}
    sources = [s for s in config.sources if s.enabled and s.name in carrying and s.kind != "release_calendar"]
    per_host: dict[str, int] = defaultdict(int)
    for src in sources:
        per_host[_host(src)] += 1
    plan: dict[str, float] = {}
    for src in sources:
        normal = src.interval if src.interval is not None else config.defaults.interval
        delay = src.per_host_delay if src.per_host_delay is not None else config.defaults.per_host_delay
        fast = max(config.drops.interval * per_host[_host(src)], delay * len(src.all_urls()))
        if fast < normal:
            plan[src.name] = fast
    return plan
