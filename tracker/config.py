"""config.toml: load, validate (errors name the key), and save back without losing comments."""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tracker import DEFAULT_CONFIG, DEFAULT_MAX_BODY_BYTES
from tracker.errors import ConfigError
from tracker.money import is_currency
from tracker.sizes import SYSTEMS, Chart, collector_size, system_named
from tracker.zones import zone_named

DEFAULT_USER_AGENT = (
    "2002r-tracker/0.1 (+self-hosted price and release tracker; checks at most every few minutes)"
)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_DURATION = 366 * 86400.0
# No shoe costs this much in any currency (the extractor's bound too, see tracker.extract.prices).
MAX_MONEY = Decimal("100000000")
STYLE_CODE_RE = re.compile(r"^[A-Z0-9]{4,20}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_QUEUE = "default"


def parse_duration(value: Any) -> float:
    """Seconds from 90, 90.0, "90s", "15m", "1h", "1d", "250ms"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 1h or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 1h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 15m, 1h or a number of seconds")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 1h, 1d)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than a year")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as config.toml writes it: 250ms, 30s, 15m, 1h, 2d."""
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"


def _within(low: float, high: float) -> AfterValidator:
    def check(seconds: float) -> float:
        if not low <= seconds <= high:
            raise ValueError(
                f"{format_duration(seconds)} is out of range: use {format_duration(low)}"
                f" to {format_duration(high)}"
            )
        return seconds

    return AfterValidator(check)


def parse_money(value: Any) -> Decimal:
    """A Decimal from "130", 130 or 130.0; never from a float's binary noise."""
    if isinstance(value, bool):
        raise ValueError('expected an amount such as 130 or "129.99"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{value!r} is not a positive amount")
    if amount >= MAX_MONEY:
        raise ValueError(f"{value!r} is not a plausible price (at most {MAX_MONEY - 1:,})")
    return amount


def _prices(value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise ValueError("expected a table of currency = amount, e.g. { USD = 130, GBP = 100 }")
    out: dict[str, Decimal] = {}
    for currency, amount in value.items():
        code = str(currency).upper()
        if not is_currency(code):
            raise ValueError(f"{currency!r} is not an ISO 4217 currency code such as USD")
        out[code] = parse_money(amount)
    return out


def _size_system(value: Any) -> str:
    system = system_named(str(value)) if isinstance(value, str) else None
    if system is None:
        raise ValueError(f"{value!r} is not a size system (use one of: {', '.join(SYSTEMS)}; jp = cm)")
    return system


Duration = Annotated[float, BeforeValidator(parse_duration)]
SizeSystem = Annotated[str, BeforeValidator(_size_system)]
# Durations with the bounds each key states (README): a typo such as 1e300 or 0 fails at load.
Interval = Annotated[Duration, _within(1.0, 30 * 86400.0)]
Jitter = Annotated[Duration, _within(0.0, 86400.0)]
Timeout = Annotated[Duration, _within(0.1, 600.0)]
HostDelay = Annotated[Duration, _within(0.0, 3600.0)]
LongWait = Annotated[Duration, _within(0.0, 30 * 86400.0)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]
Prices = Annotated[dict[str, Decimal], BeforeValidator(_prices)]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, BeforeValidator(lambda v: _check_http_url(str(v)))]


class _Strict(BaseModel):
    # The validator is built when a config is first validated, not for each section as the module
    # loads: one build of the whole tree instead of one per section and the tree again (a quarter
    # of the time loading a config takes).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Defaults(_Strict):
    """Schedule and politeness every source inherits."""

    interval: Interval = 1800.0
    jitter: Jitter = 60.0
    timeout: Timeout = 20.0
    retries: int = Field(default=2, ge=0, le=10, strict=True)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=10_000, le=200_000_000, strict=True)
    per_host_concurrency: int = Field(default=2, ge=1, le=64, strict=True)
    per_host_delay: HostDelay = 1.0
    user_agent: str = DEFAULT_USER_AGENT
    respect_robots: StrictBool = True
    broken_after: int = Field(default=5, ge=1, le=1000, strict=True)
    # Reading a page: how long it may take, and how many are read at once (in worker processes).
    extract_timeout: Timeout = 10.0
    extract_workers: int = Field(default=2, ge=1, le=16, strict=True)


class Selectors(_Strict):
    """Per-source override: CSS selectors (pages) or JSON paths like $.price.sales.value."""

    price: str | None = None
    compare_at: str | None = None
    availability: str | None = None
    in_stock_text: str | None = None
    sizes: str | None = None
    size_available_attr: str | None = None
    title: str | None = None
    currency: str | None = None
    # Release calendars: one element per release, and the date inside it.
    release_item: str | None = None
    release_date: str | None = None


SourceKind = Literal["shopify", "shopify_product", "page", "release_calendar"]


class Source(_Strict):
    """A shop (or calendar) the tracker checks."""

    name: str = Field(min_length=1)
    kind: SourceKind
    url: HttpUrl | None = None
    urls: list[HttpUrl] = Field(default_factory=list)
    enabled: StrictBool = True
    interval: Interval | None = None
    jitter: Jitter | None = None
    timeout: Timeout | None = None
    extract_timeout: Timeout | None = None
    currency: str | None = None
    query: str = "2002R"
    collection: str | None = None
    max_pages: int = Field(default=20, ge=1, le=200, strict=True)
    respect_robots: StrictBool | None = None
    proxy: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    per_host_concurrency: int | None = Field(default=None, ge=1, le=64, strict=True)
    per_host_delay: HostDelay | None = None
    selectors: Selectors | None = None
    # The system the shop's bare size numbers are in, and its own size chart when it has one.
    size_system: SizeSystem | None = None
    size_chart: dict[str, list[str | int | float]] | None = None

    @field_validator("size_chart")
    @classmethod
    def _chart(
        cls, v: dict[str, list[str | int | float]] | None
    ) -> dict[str, list[str | int | float]] | None:
        if v is not None:
            Chart.from_columns(v)
        return v

    def chart(self) -> Chart | None:
        """The shop's own size chart (size_chart), tried before New Balance's."""
        return Chart.from_columns(self.size_chart) if self.size_chart else None

    # Fetch through headless Chromium (pages whose price or sizes only appear after their JavaScript
    # runs), and optionally wait for this CSS selector before reading.
    render: StrictBool = False
    wait_for: str | None = None

    @field_validator("render")
    @classmethod
    def _render(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("kind") not in (None, "page"):
            kind = info.data.get("kind")
            raise ValueError(f'render = true works for kind = "page" sources, not {kind!r}')
        return v

    @field_validator("wait_for")
    @classmethod
    def _wait_for(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not info.data.get("render"):
            raise ValueError("wait_for needs render = true (a plain fetch runs no JavaScript to wait for)")
        if not v.strip() or not _css_ok(v):
            raise ValueError(f"{v!r} is not a CSS selector")
        return v

    # Workers on several machines: only workers started with `--queue NAME` check this source.
    queue: str = DEFAULT_QUEUE

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        if v is not None and not is_currency(v):
            raise ValueError(f"{v!r} is not an ISO 4217 currency code such as USD")
        return v

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https", "socks5", "socks5h"):
            raise ValueError(f"{v!r} is not a proxy URL (http://, https:// or socks5://)")
        return v

    @field_validator("queue")
    @classmethod
    def _queue(cls, v: str) -> str:
        if not QUEUE_RE.match(v):
            raise ValueError(f"{v!r} is not a queue name (letters, digits, '_', '.', '-'; at most 64)")
        return v

    @model_validator(mode="after")
    def _has_url(self) -> Source:
        if not self.url and not self.urls:
            raise ValueError("a source needs url (or urls for several product pages)")
        return self

    def all_urls(self) -> list[str]:
        """Every URL this source checks, url first."""
        return ([self.url] if self.url else []) + [u for u in self.urls if u != self.url]


_RELEASE_TIME_RE = re.compile(
    r"^\s*(?P<H>[01]?\d|2[0-3]):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?:\s+(?P<zone>\S+))?\s*$"
)
GLOBAL_REGION = "global"


@dataclass(frozen=True)
class ReleaseTime:
    """A release's time of day, and its IANA zone (None: the config's `timezone`)."""

    at: time
    zone: str | None = None


def _release_time(value: Any) -> Any:
    if isinstance(value, ReleaseTime):
        return value
    if isinstance(value, time):
        return ReleaseTime(at=value.replace(tzinfo=None))
    match = _RELEASE_TIME_RE.match(value) if isinstance(value, str) else None
    if match is None:
        given = f"{value!r} is not" if isinstance(value, str) else "expected"
        raise ValueError(
            f'{given} a time such as "10:00" or "10:00 America/New_York" (the day is release_date)'
        )
    zone = match.group("zone")
    if zone is not None and zone_named(zone) is None:
        raise ValueError(f"{zone!r} is not a time zone such as America/New_York")
    at = time(int(match.group("H")), int(match.group("M")), int(match.group("S") or 0))
    return ReleaseTime(at=at, zone=zone)


def _css_ok(selector: str) -> bool:
    """Whether a CSS selector parses (the same parser the extractor uses)."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError:
        return False
    return True


class Render(_Strict):
    """Headless Chromium for sources with render = true: one browser shared by all of them."""

    browser: str = "/usr/bin/chromium"
    max_open_pages: int = Field(default=2, ge=1, le=16, strict=True)
    recycle_after: int = Field(default=100, ge=1, le=100_000, strict=True)
    memory_cap_mb: int = Field(default=1024, ge=128, le=65_536, strict=True)
    timeout: Timeout = 30.0
    idle_close: LongWait = 60.0


class Colorway(_Strict):
    """A 2002R colorway in the catalogue, keyed by its style code."""

    name: str = Field(min_length=1)
    style_code: str
    line: str = "2002R"
    list_price: Prices = Field(default_factory=dict)
    # The collector's own release date: a release like a calendar's, and it wins over theirs.
    release_date: date | None = None
    release_at: Annotated[ReleaseTime, BeforeValidator(_release_time)] | None = None
    region: str = GLOBAL_REGION
    watched: StrictBool = False
    sizes: list[str] = Field(default_factory=list)
    target_price: Prices = Field(default_factory=dict)
    image: HttpUrl | None = None
    aliases: list[str] = Field(default_factory=list)
    snooze_until: date | None = None

    @field_validator("style_code", mode="before")
    @classmethod
    def _style(cls, v: Any) -> str:
        code = str(v).strip().upper()
        if not STYLE_CODE_RE.match(code):
            raise ValueError(f"{v!r} is not a style code such as M2002RDA")
        return code

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes(cls, v: Any) -> list[str]:
        if not isinstance(v, list):
            raise ValueError('expected a list of sizes, e.g. ["9", "9.5"]')
        return [str(s).strip() for s in v]

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, v: Any) -> str:
        region = str(v).strip()
        if not region:
            raise ValueError('expected a region such as "US" (or leave it out for every region)')
        return GLOBAL_REGION if region.lower() == GLOBAL_REGION else region

    @model_validator(mode="after")
    def _release_needs_date(self) -> Colorway:
        if self.release_date is None and self.release_at is not None:
            raise ValueError("release_at needs release_date (the day of the release)")
        return self


class QuietHours(_Strict):
    """Local times (config timezone) when alerts are held; they go out as one digest at the end."""

    start: time
    end: time


class Channel(_Strict):
    """An alert channel: an Apprise URL; ${VAR} is read from the environment when sending."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=3)
    enabled: StrictBool = True
    # How long a send may take before it counts as failed (and is retried with the same key).
    timeout: Timeout = 20.0


AlertKind = Literal[
    "new_listing",
    "new_colorway",
    "restock",
    "size_restock",
    "price_below_target",
    "price_below_list",
    "price_drop",
    "price_rise",
    "release_announced",
    "release_changed",
    "going_live",
    "sold_out",
    "source_broken",
]


class Rule(_Strict):
    """Which events go to which channels (empty: all), globally or for some colorways (style codes)."""

    on: list[AlertKind] = Field(min_length=1)
    channels: list[str] = Field(default_factory=list)
    colorways: list[str] = Field(default_factory=list)
    only_my_sizes: StrictBool = False
    min_drop_percent: Decimal | None = Field(default=None, gt=0, le=100)
    min_drop_amount: Decimal | None = Field(default=None, gt=0)
    # Only when the price is at or below the lowest buyable price of the colorway (same currency,
    # any shop) over the last N days: Keepa's "lowest price in N days".
    lowest_in_days: int | None = Field(default=None, ge=1, le=3650, strict=True)

    @field_validator("colorways", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> list[str]:
        if not isinstance(v, list):
            raise ValueError('expected a list of style codes, e.g. ["M2002RDA"]')
        return [str(code).strip().upper() for code in v]


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class WeeklyDigest(_Strict):
    """One summary a week per channel, at a day and hour in the config's timezone."""

    day: str = "monday"
    hour: int = Field(default=9, ge=0, le=23, strict=True)
    # Channel names; empty: every enabled channel.
    channels: list[str] = Field(default_factory=list)

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, v: Any) -> str:
        text = str(v).strip().lower()
        found = [d for d in WEEKDAYS if len(text) >= 3 and d.startswith(text)]
        if len(found) != 1:
            raise ValueError(f"{v!r} is not a day of the week such as monday or sun")
        return found[0]

    def weekday(self) -> int:
        """Monday is 0, as datetime.weekday() counts."""
        return WEEKDAYS.index(self.day)


class Alerts(_Strict):
    """Channels, rules, quiet hours, debounce and the outbox's retry policy."""

    channels: list[Channel] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    # A stock flip-flop within this window sends at most one alert (see tracker.notify.plan).
    debounce: Annotated[Duration, _within(0.0, 7 * 86400.0)] = 600.0
    max_attempts: int = Field(default=8, ge=1, le=100, strict=True)
    # First retry after retry_base, doubling up to retry_max.
    retry_base: Annotated[Duration, _within(1.0, 86400.0)] = 30.0
    retry_max: Annotated[Duration, _within(1.0, 7 * 86400.0)] = 3600.0
    # A delivery claimed longer ago than this by a sender that died is sent again.
    claim_lease: Annotated[Duration, _within(1.0, 86400.0)] = 120.0
    # More new listings than this from one source in one check become one summary per channel.
    flood_cap: int = Field(default=5, ge=1, le=1000, strict=True)
    weekly_digest: WeeklyDigest | None = None

    @model_validator(mode="after")
    def _unique_channels(self) -> Alerts:
        names: set[str] = set()
        for i, channel in enumerate(self.channels):
            if channel.name in names:
                raise _KeyedError(f"alerts.channels[{i}].name", f"duplicate channel name {channel.name!r}")
            names.add(channel.name)
        return self


class Dashboard(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535, strict=True)
    password_env: str = "TRACKER_DASHBOARD_PASSWORD"  # noqa: S105 (a variable name, not a secret)
    # Wrong passwords in a row from one address before it is locked out, and for how long.
    lockout_after: int = Field(default=10, ge=4, le=1000, strict=True)
    lockout: Annotated[Duration, _within(60.0, 86400.0)] = 900.0


class Drops(_Strict):
    """Faster polling around an announced release."""

    before: LongWait = 3600.0
    after: LongWait = 7200.0
    interval: Annotated[Duration, _within(1.0, 86400.0)] = 60.0


class Config(_Strict):
    """The whole of config.toml."""

    database_url: str = "sqlite:///data/tracker.db"
    timezone: str = "UTC"
    locale: str = "en_US"
    # The system your sizes are in when you write a bare number (colorways' sizes = ["10"]).
    size_system: SizeSystem = "us_men"
    defaults: Defaults = Field(default_factory=Defaults)
    colorways: list[Colorway] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    alerts: Alerts = Field(default_factory=Alerts)
    dashboard: Dashboard = Field(default_factory=Dashboard)
    drops: Drops = Field(default_factory=Drops)
    render: Render = Field(default_factory=Render)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not a time zone such as Europe/London") from exc
        return v

    @model_validator(mode="after")
    def _unique(self) -> Config:
        seen: dict[str, int] = {}
        for i, colorway in enumerate(self.colorways):
            if colorway.style_code in seen:
                raise _KeyedError(
                    f"colorways[{i}].style_code",
                    f"duplicate style code {colorway.style_code}"
                    f" (also colorways[{seen[colorway.style_code]}])",
                )
            seen[colorway.style_code] = i
            for size in colorway.sizes:
                if not collector_size(size, self.size_system).placed:
                    raise _KeyedError(
                        f"colorways[{i}].sizes",
                        f'{size!r} is not a shoe size in {self.size_system} (write e.g. "10", "9.5",'
                        ' "UK 9.5", "EU 44" or "28cm")',
                    )
        names: dict[str, int] = {}
        for i, source in enumerate(self.sources):
            if source.name in names:
                raise _KeyedError(f"sources[{i}].name", f"duplicate source name {source.name!r}")
            names[source.name] = i
        self._rules_name_what_exists()
        return self

    def _rules_name_what_exists(self) -> None:
        channels = {c.name for c in self.alerts.channels}
        codes = {c.style_code for c in self.colorways} | {
            alias.strip().upper() for c in self.colorways for alias in c.aliases
        }
        for i, rule in enumerate(self.alerts.rules):
            for name in rule.channels:
                if name not in channels:
                    known = ", ".join(sorted(channels)) or "none configured"
                    raise _KeyedError(f"alerts.rules[{i}].channels", f"no channel named {name!r} ({known})")
            for code in rule.colorways:
                if code not in codes:
                    raise _KeyedError(
                        f"alerts.rules[{i}].colorways", f"no colorway with style code {code} in [[colorways]]"
                    )
        digest = self.alerts.weekly_digest
        for name in digest.channels if digest is not None else []:
            if name not in channels:
                raise _KeyedError("alerts.weekly_digest.channels", f"no channel named {name!r}")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        problem = database_url_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(v.replace("-", "_"))
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"{v!r} is not a locale such as en_US, en_GB or de_DE") from exc
        return v.replace("-", "_")

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def effective_database_url(self, base: Path | None = None) -> str:
        """DATABASE_URL from the environment wins; a relative SQLite path is under base."""
        url = os.environ.get("DATABASE_URL") or self.database_url
        if os.environ.get("DATABASE_URL"):
            problem = database_url_problem(url)
            if problem is not None:
                raise ConfigError(f"DATABASE_URL (environment): {problem}")
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and base is not None:
            path = url[len(prefix) :]
            if path and path != ":memory:":
                url = prefix + str((base / path).resolve())
        return url

    def colorway(self, style_code: str) -> Colorway | None:
        return next((c for c in self.colorways if c.style_code == style_code), None)

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


_DRIVERS = {"sqlite": "sqlite:///data/tracker.db", "postgresql": "postgresql+psycopg://user@host/tracker"}


def _stdlib_sqlite() -> bool:
    """Whether Python's own SQLite driver loads (the one SQLAlchemy uses for sqlite:// URLs)."""
    try:
        from sqlite3 import dbapi2  # noqa: F401
    except ImportError:
        return False
    return True


def database_url_problem(url: str) -> str | None:
    """Why url is not a database the tracker can use (the URL shown without its password), or None."""
    if url.startswith("sqlite:///") and _stdlib_sqlite():
        # Whatever follows is the file's path (and options): SQLAlchemy reads every such URL, and its
        # driver is the standard library's. Said without importing SQLAlchemy (a tenth of a second of
        # the start of every command whose config names its database).
        return None
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return "not a database URL (use e.g. sqlite:///data/tracker.db or postgresql+psycopg://...)"
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in _DRIVERS:
        return f"{shown}: only SQLite and PostgreSQL are supported (e.g. {_DRIVERS['sqlite']})"
    try:
        dialect = parsed.get_dialect()
        dialect.import_dbapi()
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        example = _DRIVERS[parsed.get_backend_name()]
        driver = parsed.get_driver_name()
        return f"{shown}: the driver {driver!r} is not available ({exc}); use e.g. {example}"
    return None


def missing_secrets(config: Config) -> list[str]:
    """One line per enabled channel whose ${VARIABLE} is not set in the environment, naming both."""
    problems: list[str] = []
    for i, channel in enumerate(config.alerts.channels):
        if not channel.enabled:
            continue
        unset = [name for name in _ENV_RE.findall(channel.url) if name not in os.environ]
        if unset:
            names = ", ".join(dict.fromkeys(unset))
            where = f"alerts.channels[{i}].url (channel {channel.name!r})"
            problems.append(f"{where}: environment variable {names} is not set")
    return problems


class _KeyedError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # pydantic adds validator names like "function-after[...]" to the path.
            if ("[" in part and "(" in part) or part.startswith("function-"):
                continue
            out += ("." if out else "") + part
    return out


def format_validation_error(exc: ValidationError, source: str = "config.toml") -> str:
    """One line: the file, the key, what is wrong."""
    errors = exc.errors()
    problems = []
    for err in errors[:3]:
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _KeyedError):
            problems.append(f"{ctx_error.key}: {ctx_error.message}")
            continue
        key = _loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "literal_error":
            msg = f"{err.get('input')!r} is not one of: " + msg.removeprefix("Input should be ")
        elif err["type"] in ("bool_type", "int_type"):
            value = err.get("input")
            msg = f"{value!r} is not " + ("true or false" if err["type"] == "bool_type" else "a whole number")
            msg += " (write it without quotes)" if isinstance(value, str) else ""
        problems.append(f"{key}: {msg}" if key else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{source}: " + "; ".join(problems) + more


def parse_config(data: dict[str, Any], source: str = "config.toml") -> Config:
    """Validate an already-parsed TOML document."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    """Read and validate config.toml; any problem is one ConfigError naming the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (copy the project's config.toml or pass --config)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_text(text, str(path))


def parse_text(text: str, source: str = "config.toml") -> Config:
    """Validate TOML text (used by the watchlist editor before it saves)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source)


def expand_env(value: str) -> str:
    """${VAR} replaced from the environment; a missing variable is a ConfigError."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"environment variable {name} is not set (used in an alert channel URL)")
        return os.environ[name]

    return _ENV_RE.sub(sub, value)


def save_text(path: Path | str, text: str) -> Config:
    """Validate then atomically replace config.toml with text (same folder, rename)."""
    path = Path(path)
    config = parse_text(text, str(path))
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return config
