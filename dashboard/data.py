"""Cached reads for the pages: the config, the engine (one per process) and db.queries results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.engine import Engine

from dashboard import format
from db import queries
from db.engine import make_engine
from tracker.config import Config, load_config

# The read caches below that hold prices are keyed on the database's change stamp, computed on every
# call (queries.change_stamp, about a millisecond): new data is a new key, so no cache ever answers with
# a price the database no longer says. Their TTL only bounds how far an answer's "now" (the end of a
# chart, a 30-day window) lags the clock while nothing changes.
STAMPED_TTL = 120
TTL = 30  # seconds: reads that are not prices (deliveries, check health), fresh enough at half a minute
# A check finishes within minutes; one still 'running' after an hour was cut off (a crash, a kill).
INTERRUPTED_AFTER = timedelta(hours=1)
# The chart's ranges, as the page shows them and as the URL keeps them (?range=1y).
RANGES = {"7 d": 7, "30 d": 30, "90 d": 90, "1 y": 365, "all": None}
RANGE_PARAMS = {label: label.replace(" ", "") for label in RANGES}
DEFAULT_RANGE = "30 d"


@dataclass(frozen=True)
class Context:
    """What every page needs: the config, where it lives, and the database URL."""

    path: Path
    config: Config
    url: str


def config_path() -> Path:
    """config.toml from TRACKER_CONFIG, else ./config.toml."""
    return Path(os.environ.get("TRACKER_CONFIG") or "config.toml")


def context() -> Context:
    """Load the config afresh (it is small, and the watchlist editor changes it)."""
    path = config_path()
    config = load_config(path)
    format.use_locale(config.locale)
    return Context(path=path, config=config, url=config.effective_database_url(base=path.resolve().parent))


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """One engine per database URL for the whole server process."""
    return make_engine(url)


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def stamp(url: str) -> str:
    """The database's change stamp now (see STAMPED_TTL)."""
    return queries.change_stamp(engine(url)).token


def overview(
    url: str, style_codes: tuple[str, ...], size_system: str | None = None
) -> list[queries.OverviewRow]:
    """The overview rows for the watched style codes; your sizes in your size_system (config's)."""
    system = size_system or context().config.size_system
    return _overview(url, stamp(url), style_codes, system)


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=16)
def _overview(
    url: str, stamp: str, style_codes: tuple[str, ...], size_system: str
) -> list[queries.OverviewRow]:
    return queries.overview(engine(url), now(), style_codes=list(style_codes), size_system=size_system)


def forget_overview() -> None:
    """Drop the cached overview rows (after the watchlist changed from a page)."""
    _overview.clear()


def last_checked(url: str) -> datetime | None:
    """When any source was last checked (one indexed maximum: not worth a cache)."""
    return queries.last_checked(engine(url))


def discovered(url: str) -> list[queries.Offer]:
    """Discovered 2002R listings matching no colorway."""
    return _discovered(url, stamp(url))


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=8)
def _discovered(url: str, stamp: str) -> list[queries.Offer]:
    return queries.discovered_listings(engine(url))


def colorways(url: str) -> list[queries.ColorwayInfo]:
    """Every colorway in the database."""
    return _colorways(url, stamp(url))


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=8)
def _colorways(url: str, stamp: str) -> list[queries.ColorwayInfo]:
    return queries.colorways(engine(url))


@dataclass(frozen=True)
class History:
    """A colorway's prices over a range, ready for the chart and the statistics: the lowest line (in
    the collector's sizes when they gave any), each shop's own line, and the shops' offers now."""

    since: datetime
    until: datetime
    currency: str
    currencies: tuple[str, ...]
    lowest: list[queries.Step]
    shops: dict[str, list[queries.Step]]
    stats: queries.Stats
    offers: list[queries.Offer]
    observed: bool  # any price was ever recorded in the range


def history(
    url: str,
    colorway_id: int,
    days: int | None,
    *,
    currency: str | None = None,
    preferred: tuple[str, ...] = (),
    sizes: tuple[str, ...] = (),
    size_system: str = "us_men",
    stamped: str | None = None,
) -> History:
    """Prices of one colorway over the last days (None: all), in currency (None: the first of the
    preferred ones seen), the lowest line in sizes (the collector's; empty: any size); stamped: the
    change stamp the caller already has."""
    key = stamped or stamp(url)
    return _history(
        url,
        key,
        colorway_id=colorway_id,
        days=days,
        currency=currency,
        preferred=preferred,
        sizes=sizes,
        size_system=size_system,
    )


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=64)
def _history(
    url: str,
    stamp: str,
    *,
    colorway_id: int,
    days: int | None,
    currency: str | None,
    preferred: tuple[str, ...],
    sizes: tuple[str, ...],
    size_system: str,
) -> History:
    until = now()
    since = None if days is None else until - timedelta(days=days)
    eng = engine(url)
    lines = queries.price_lines(
        eng,
        colorway_id,
        since,
        until,
        currency=currency,
        preferred=preferred,
        sizes=queries.SizeMatcher(sizes, size_system),
    )
    return History(
        since=lines.since,
        until=until,
        currency=lines.currency,
        currencies=lines.currencies,
        lowest=lines.lowest,
        shops=lines.shops,
        stats=lines.stats,
        offers=queries.latest_offers(eng, [colorway_id]),
        observed=lines.observed,
    )


def price_chart(
    url: str,
    colorway_id: int,
    days: int | None,
    *,
    currency: str,
    preferred: tuple[str, ...],
    sizes: tuple[str, ...],
    size_system: str,
    shown: tuple[str, ...],
    list_price: Decimal | None,
    target: Decimal | None,
    timezone: str,
    stamped: str | None = None,
) -> str:
    """The colorway chart as HTML for st.html (its data and the script that draws it), built once per
    range and shops shown (and data: see stamp): building it is most of the colorway page's time."""
    return _price_chart(
        url,
        stamped or stamp(url),
        colorway_id=colorway_id,
        days=days,
        currency=currency,
        preferred=preferred,
        sizes=sizes,
        size_system=size_system,
        shown=shown,
        list_price=list_price,
        target=target,
        timezone=timezone,
    )


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=32)
def _price_chart(
    url: str,
    stamp: str,
    *,
    colorway_id: int,
    days: int | None,
    currency: str,
    preferred: tuple[str, ...],
    sizes: tuple[str, ...],
    size_system: str,
    shown: tuple[str, ...],
    list_price: Decimal | None,
    target: Decimal | None,
    timezone: str,
) -> str:
    from dashboard import charts  # only this page draws it

    # The page asked for this history with the currency it chose: the same call, the same cache entry.
    found = history(
        url,
        colorway_id,
        days,
        currency=currency,
        preferred=preferred,
        sizes=sizes,
        size_system=size_system,
        stamped=stamp,
    )
    chart = charts.PriceChart(
        currency=found.currency,
        tz=ZoneInfo(timezone),
        since=found.since,
        until=found.until,
        lowest=found.lowest,
        shops={s: found.shops[s] for s in shown if s in found.shops},
        all_shops=list(found.shops),
        stats=found.stats,
        list_price=list_price,
        target=target,
        mine=sizes,
    )
    return charts.chart_html(charts.chart_data(chart))


def events(url: str, colorway_id: int | None = None, limit: int = 200) -> list[queries.EventRow]:
    """Events, newest first."""
    return _events(url, stamp(url), colorway_id, limit)


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=64)
def _events(url: str, stamp: str, colorway_id: int | None, limit: int) -> list[queries.EventRow]:
    return queries.events(engine(url), colorway_id=colorway_id, limit=limit)


@st.cache_data(ttl=TTL, show_spinner=False)
def deliveries(url: str, limit: int = 200) -> list[queries.DeliveryRow]:
    """Deliveries, newest first."""
    return queries.deliveries(engine(url), limit=limit)


@st.cache_data(ttl=TTL, show_spinner=False)
def delivery_counts(url: str) -> dict[str, int]:
    """Deliveries per status."""
    return queries.delivery_counts(engine(url))


def releases(url: str) -> list[queries.ReleaseRow]:
    """Release dates."""
    return _releases(url, stamp(url))


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=8)
def _releases(url: str, stamp: str) -> list[queries.ReleaseRow]:
    return queries.releases(engine(url))


def release_history(url: str) -> list[queries.ReleaseChangeRow]:
    """Every date releases were given, newest first."""
    return _release_history(url, stamp(url))


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=8)
def _release_history(url: str, stamp: str) -> list[queries.ReleaseChangeRow]:
    return queries.release_history(engine(url))


@st.cache_data(ttl=TTL, show_spinner=False)
def health(url: str) -> list[queries.SourceHealth]:
    """Per-source health over the last 24 hours."""
    return queries.source_health(engine(url), now())


def size_health(url: str, size_system: str) -> list[queries.SourceSizes]:
    """Per source, sizes that could not be placed in a size system, and sizes placed by a guess."""
    return _size_health(url, stamp(url), size_system)


@st.cache_data(ttl=STAMPED_TTL, show_spinner=False, max_entries=8)
def _size_health(url: str, stamp: str, size_system: str) -> list[queries.SourceSizes]:
    return queries.size_health(engine(url), size_system)


@st.cache_data(ttl=TTL, show_spinner=False)
def interrupted(url: str) -> dict[str, int]:
    """Per source, checks left 'running' for over an hour: the tracker stopped in the middle of them."""
    import sqlalchemy as sa

    from db.models import CheckRun, Source

    cutoff = now() - INTERRUPTED_AFTER
    runs, sources = CheckRun.__table__.c, Source.__table__.c  # type: ignore[attr-defined]
    query = (
        sa.select(sources.name, sa.func.count(runs.id))
        .join_from(CheckRun.__table__, Source.__table__, sources.id == runs.source_id)  # type: ignore[attr-defined]
        .where(runs.status == "running", runs.started_at < cutoff)
        .group_by(sources.name)
    )
    with engine(url).connect() as conn:
        return {str(name): int(n) for name, n in conn.execute(query)}


def has_prices(url: str) -> bool:
    """Whether any price was recorded, to tell an empty database from a quiet one (one row read)."""
    return queries.has_observations(engine(url))


@st.cache_data(ttl=5, show_spinner=False)
def cluster(url: str) -> queries.ClusterHealth | None:
    """Workers, queue depth and scheduling lag on PostgreSQL (None in one-process mode)."""
    return queries.cluster_health(engine(url))
