"""config.toml: load, validate (errors name the key), and save back without losing comments."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tracker.errors import ConfigError
from tracker.money import is_currency

DEFAULT_CONFIG = Path("config.toml")
DEFAULT_USER_AGENT = (
    "2002r-tracker/0.1 (+self-hosted price and release tracker; checks at most every few minutes)"
)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
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
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def zone_named(name: str | None) -> ZoneInfo | None:
    """The time zone of that IANA name, or None for no name or an unknown one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_money(value: Any) -> Decimal:
    """A Decimal from "130", 130 or 130.0; never from a float's binary noise."""
    if isinstance(value, bool):
        raise ValueError("expected an amount such as 130 or \"129.99\"")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{value!r} is not a positive amount")
    return amount


def _prices(value: Any) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of currency = amount, e.g. { USD = 130, GBP = 100 }')
    out: dict[str, Decimal] = {}
    for currency, amount in value.items():
        code = str(currency).upper()
        if not is_currency(code):
            raise ValueError(f"{currency!r} is not an ISO 4217 currency code such as USD")
        out[code] = parse_money(amount)
    return out


Duration = Annotated[float, BeforeValidator(parse_duration)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]
Prices = Annotated[dict[str, Decimal], BeforeValidator(_prices)]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, BeforeValidator(lambda v: _check_http_url(str(v)))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Schedule and politeness every source inherits."""

    interval: Duration = 1800.0
    jitter: Duration = 60.0
    timeout: Duration = 20.0
    retries: int = Field(default=2, ge=0, le=10)
    max_body_bytes: int = Field(default=8_000_000, ge=10_000)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    per_host_delay: Duration = 1.0
    user_agent: str = DEFAULT_USER_AGENT
    respect_robots: bool = True
    broken_after: int = Field(default=5, ge=1)

    @field_validator("interval")
    @classmethod
    def _interval_floor(cls, v: float) -> float:
        if v < 1:
            raise ValueError("interval must be at least 1 second")
        return v


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
    enabled: bool = True
    interval: Duration | None = None
    jitter: Duration | None = None
    timeout: Duration | None = None
    currency: str | None = None
    query: str = "2002R"
    collection: str | None = None
    max_pages: int = Field(default=20, ge=1, le=200)
    respect_robots: bool | None = None
    proxy: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    per_host_concurrency: int | None = Field(default=None, ge=1, le=64)
    per_host_delay: Duration | None = None
    selectors: Selectors | None = None
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
        if self.interval is not None and self.interval < 1:
            raise ValueError("interval must be at least 1 second")
        return self

    def all_urls(self) -> list[str]:
        """Every URL this source checks, url first."""
        return ([self.url] if self.url else []) + [u for u in self.urls if u != self.url]


class Colorway(_Strict):
    """A 2002R colorway in the catalogue, keyed by its style code."""

    name: str = Field(min_length=1)
    style_code: str
    line: str = "2002R"
    list_price: Prices = Field(default_factory=dict)
    release_date: date | None = None
    watched: bool = False
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


class QuietHours(_Strict):
    """Local times (config timezone) when alerts are held; they go out as one digest at the end."""

    start: time
    end: time


class Channel(_Strict):
    """An alert channel: an Apprise URL; ${VAR} is read from the environment when sending."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=3)
    enabled: bool = True


AlertKind = Literal[
    "new_listing",
    "new_colorway",
    "restock",
    "size_restock",
    "price_below_target",
    "price_below_list",
    "price_drop",
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
    only_my_sizes: bool = False
    min_drop_percent: Decimal | None = Field(default=None, gt=0, le=100)
    min_drop_amount: Decimal | None = Field(default=None, gt=0)

    @field_validator("colorways", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> list[str]:
        if not isinstance(v, list):
            raise ValueError('expected a list of style codes, e.g. ["M2002RDA"]')
        return [str(code).strip().upper() for code in v]


class Alerts(_Strict):
    """Channels, rules, quiet hours, debounce and the outbox's retry policy."""

    channels: list[Channel] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    # A stock flip-flop within this window sends at most one alert (see tracker.notify.plan).
    debounce: Duration = 600.0
    max_attempts: int = Field(default=8, ge=1)
    # First retry after retry_base, doubling up to retry_max.
    retry_base: Duration = 30.0
    retry_max: Duration = 3600.0
    # A delivery claimed longer ago than this by a sender that died is sent again.
    claim_lease: Duration = 120.0
    # More new listings than this from one source in one check become one summary per channel.
    flood_cap: int = Field(default=5, ge=1)

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
    port: int = Field(default=8501, ge=1, le=65535)
    password_env: str = "TRACKER_DASHBOARD_PASSWORD"  # noqa: S105 (a variable name, not a secret)


class Drops(_Strict):
    """Faster polling around an announced release."""

    before: Duration = 3600.0
    after: Duration = 7200.0
    interval: Duration = 60.0


class Config(_Strict):
    """The whole of config.toml."""

    database_url: str = "sqlite:///data/tracker.db"
    timezone: str = "UTC"
    locale: str = "en_US"
    defaults: Defaults = Field(default_factory=Defaults)
    colorways: list[Colorway] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    alerts: Alerts = Field(default_factory=Alerts)
    dashboard: Dashboard = Field(default_factory=Dashboard)
    drops: Drops = Field(default_factory=Drops)

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
        names: dict[str, int] = {}
        for i, source in enumerate(self.sources):
            if source.name in names:
                raise _KeyedError(f"sources[{i}].name", f"duplicate source name {source.name!r}")
            names[source.name] = i
        channels = {c.name for c in self.alerts.channels}
        for i, rule in enumerate(self.alerts.rules):
            for name in rule.channels:
                if name not in channels:
                    raise _KeyedError(f"alerts.rules[{i}].channels", f"no channel named {name!r}")
        return self

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
