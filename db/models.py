"""Tables: colorways, sources, listings, observations, check runs, events, deliveries, releases, inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig


def utcnow() -> datetime:
    """Now, UTC-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc_from_db(value)


def utc_from_db(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime: the driver's datetime, or SQLite's stored text
    ("2026-12-01 16:39:19.520392") read without SQLAlchemy's per-row parsing (fast reads)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Decimal money; stored as NUMERIC on PostgreSQL and as exact text-backed NUMERIC on SQLite."""

    impl = sa.Numeric(14, 4, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.Numeric(14, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return money_from_db(value)


def money_from_db(value: Any) -> Decimal | None:
    """A stored amount (SQLite's text, PostgreSQL's NUMERIC) as the Decimal it was written as."""
    if value is None:
        return None
    amount = Decimal(str(value))
    # NUMERIC(14, 4) pads with zeros: give back 150 and 119.99, never 1.5E+2.
    return amount.quantize(Decimal(1)) if amount == amount.to_integral() else amount.normalize()


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime(), **kw)


def _money(**kw: Any) -> Any:
    return Field(default=None, sa_type=Money(), **kw)


def _json(**kw: Any) -> Any:
    return Field(sa_type=sa.JSON(), **kw)


class _Table(SQLModel):
    """What every table shares: its validator is built on first use, not at import. Rows read from
    the database and rows made in code are never validated (SQLModel constructs table rows as
    given), so most commands never build one: a third of this module's import time."""

    model_config = SQLModelConfig(defer_build=True)


class Colorway(_Table, table=True):
    """A colorway from the catalogue in config.toml (synced on start) or added from discoveries."""

    __tablename__ = "colorways"
    id: int | None = Field(default=None, primary_key=True)
    style_code: str = Field(unique=True, index=True, max_length=32)
    name: str
    line: str = "2002R"
    list_prices: dict[str, str] = _json(default_factory=dict)
    target_prices: dict[str, str] = _json(default_factory=dict)
    sizes: list[str] = _json(default_factory=list)
    release_date: date | None = None
    watched: bool = False
    image: str | None = None
    in_config: bool = True


class Source(_Table, table=True):
    """A shop or calendar from config.toml, with its health."""

    __tablename__ = "sources"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    kind: str
    url: str
    enabled: bool = True
    consecutive_failures: int = 0
    broken: bool = False
    last_checked_at: datetime | None = _ts(default=None)
    last_status: str | None = None
    baseline_done: bool = False
    # Validators (ETag / Last-Modified) of catalogue pages, by URL, for conditional requests.
    http_cache: dict[str, dict[str, str]] = _json(default_factory=dict)


class Listing(_Table, table=True):
    """A product at a shop: matched to a colorway, or discovered (a 2002R matching none)."""

    __tablename__ = "listings"
    __table_args__ = (sa.UniqueConstraint("source_id", "external_id", name="uq_listing_source_external"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="sources.id", index=True)
    colorway_id: int | None = Field(default=None, foreign_key="colorways.id", index=True)
    external_id: str = Field(max_length=512)
    url: str
    title: str | None = None
    style_code: str | None = Field(default=None, index=True, max_length=32)
    image: str | None = None
    match_method: str | None = None
    discovered: bool = False
    first_seen_at: datetime = _ts(default_factory=utcnow)
    last_checked_at: datetime = _ts(default_factory=utcnow)
    last_observation_id: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    gone: bool = False


class Observation(_Table, table=True):
    """What a listing showed, written only when price, currency, stock or sizes changed."""

    __tablename__ = "observations"
    # A listing's prices over a range, its latest observation, and the one held when a chart's range
    # starts are read from this index alone: the rows themselves carry the sizes (most of their bytes).
    # Suspect observations are few and some are confirmed later (the flag is cleared): counting them is
    # how a reader notices that (see queries.change_stamp).
    __table_args__ = (
        sa.Index(
            "ix_observations_prices",
            "listing_id",
            "observed_at",
            "id",
            "price",
            "currency",
            "availability",
            "suspect",
        ),
        sa.Index(
            "ix_observations_suspect",
            "id",
            "listing_id",
            "suspect",  # SQLite reads a partial index alone only when it holds the column it filters on
            sqlite_where=sa.text("suspect = 1"),
            postgresql_where=sa.text("suspect"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="check_runs.id")
    observed_at: datetime = _ts(default_factory=utcnow, index=True)
    price: Decimal | None = _money()
    currency: str | None = Field(default=None, max_length=3)
    compare_at: Decimal | None = _money()
    availability: str = "unknown"
    sizes: list[dict[str, Any]] = _json(default_factory=list)
    suspect: bool = False


class CheckRun(_Table, table=True):
    """One check of one source: status, duration, bytes, what it wrote."""

    __tablename__ = "check_runs"
    # The health page reads each source's last 24 hours out of a year of five-minute runs.
    __table_args__ = (sa.Index("ix_check_runs_source_started", "source_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="sources.id", index=True)
    started_at: datetime = _ts(default_factory=utcnow, index=True)
    finished_at: datetime | None = _ts(default=None)
    status: str = "running"
    duration_ms: int | None = None
    bytes: int = 0
    requests: int = 0
    not_modified: int = 0
    http_status: int | None = None
    listings_seen: int = 0
    observations_written: int = 0
    events_created: int = 0
    error: str | None = None


class Event(_Table, table=True):
    """Something that happened: new listing, price drop, sold out, restock, release news..."""

    __tablename__ = "events"
    # A colorway's events, newest first, read from the index alone (the colorway page's table).
    __table_args__ = (sa.Index("ix_events_colorway_created", "colorway_id", "created_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts(default_factory=utcnow, index=True)
    kind: str = Field(index=True)
    source_id: int | None = Field(default=None, foreign_key="sources.id")
    listing_id: int | None = Field(default=None, foreign_key="listings.id", index=True)
    colorway_id: int | None = Field(default=None, foreign_key="colorways.id", index=True)
    observation_id: int | None = Field(default=None, foreign_key="observations.id")
    message: str = ""
    data: dict[str, Any] = _json(default_factory=dict)


class Delivery(_Table, table=True):
    """Outbox row: one (event, channel) pair, delivered exactly once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "channel", name="uq_delivery_event_channel"),
        # The newest deliveries first (the Alerts page) without sorting a year of them.
        sa.Index("ix_deliveries_created", "created_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    channel: str
    status: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: datetime = _ts(default_factory=utcnow)
    claimed_at: datetime | None = _ts(default=None)
    claim_token: str | None = None
    sent_at: datetime | None = _ts(default=None)
    last_error: str | None = None
    created_at: datetime = _ts(default_factory=utcnow)


# The source name of a release date the collector wrote in config.toml.
CONFIG_SOURCE = "config"


class Release(_Table, table=True):
    """A release date per colorway and region: the collector's own (config.toml), else the last
    one a calendar or shop gave."""

    __tablename__ = "releases"
    __table_args__ = (sa.UniqueConstraint("style_code", "region", name="uq_release_style_region"),)
    id: int | None = Field(default=None, primary_key=True)
    colorway_id: int | None = Field(default=None, foreign_key="colorways.id")
    style_code: str = Field(index=True, max_length=32)
    name: str | None = None
    region: str = "global"
    release_date: date | None = None
    release_at: datetime | None = _ts(default=None)
    timezone: str | None = None
    price: Decimal | None = _money()
    currency: str | None = None
    source_name: str | None = None
    url: str | None = None
    live: bool = False
    # The date is the collector's (config.toml): sources' dates are recorded but never move it.
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    updated_at: datetime = _ts(default_factory=utcnow)


class ReleaseChange(_Table, table=True):
    """History: each date a release was given, in order, and whether the tracker acted on it."""

    __tablename__ = "release_changes"
    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="releases.id", index=True)
    changed_at: datetime = _ts(default_factory=utcnow)
    old_date: date | None = None
    new_date: date | None = None
    source_name: str | None = None
    # False: a source gave this date while config.toml's date was kept.
    applied: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})


class InboxMessage(_Table, table=True):
    """An alert delivered to the dashboard's inbox channel; unique per delivery key, so never twice."""

    __tablename__ = "inbox_messages"
    id: int | None = Field(default=None, primary_key=True)
    # The outbox's idempotency key (<event id>:<channel>, or a digest's): a resend after a crash
    # finds the row already there.
    key: str = Field(unique=True, max_length=200)
    channel: str
    kind: str
    event_id: int | None = Field(default=None, foreign_key="events.id")
    event_ids: list[int] = _json(default_factory=list)
    title: str
    body: str
    link: str | None = None
    image: str | None = None
    created_at: datetime = _ts(default_factory=utcnow, index=True)
    read_at: datetime | None = _ts(default=None, index=True)


class DigestRun(_Table, table=True):
    """A weekly digest planned for one period (its local scheduled date): at most one per week."""

    __tablename__ = "digest_runs"
    id: int | None = Field(default=None, primary_key=True)
    period: date = Field(unique=True)
    event_id: int | None = Field(default=None, foreign_key="events.id")
    created_at: datetime = _ts(default_factory=utcnow)
