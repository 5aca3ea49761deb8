"""Display helpers: money in the user's locale, times in the user's zone, safe links."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tracker.money import DEFAULT_LOCALE, format_money, format_signed_money

_LOCALE: list[str | None] = [None]


def use_locale(locale: str | None) -> None:
    """Format money as config.toml's locale writes it (set once the config is loaded)."""
    _LOCALE[0] = locale


def money(amount: Decimal | None, currency: str | None) -> str:
    """$130.00, €170.00, ¥16,000 (tracker.money's one formatter); an empty string for no price."""
    return _money(amount, currency, _LOCALE[0])


@lru_cache(maxsize=8192)
def _money(amount: Decimal | None, currency: str | None, locale: str | None) -> str:
    # A chart's tooltip writes tens of thousands of prices, a few dozen distinct ones; CLDR formatting
    # costs ~0.1 ms each.
    return format_money(amount, currency, locale)


def signed_money(amount: Decimal | None, currency: str | None) -> str:
    """+$10.00 / -$30.00 for differences."""
    return format_signed_money(amount, currency, _LOCALE[0])


def percent(value: Decimal | float | None) -> str:
    """+6.7% / -20.0% (the locale's decimal sign)."""
    if value is None:
        return ""
    from babel.numbers import format_decimal

    text = format_decimal(abs(float(value)), format="0.0", locale=_babel_locale())
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}{text}%"


def count(value: int | None) -> str:
    """A count with the locale's thousands separator: 62,212 (en_US), 62.212 (de_DE)."""
    if value is None:
        return ""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=_babel_locale()))


def _babel_locale() -> str:
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(_LOCALE[0] or DEFAULT_LOCALE))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def zone_label(tz: ZoneInfo, moment: datetime | None = None) -> str:
    """The zone as people read it beside a time: CET, EST, UTC (the abbreviation in force then)."""
    return (moment or datetime.now(tz)).astimezone(tz).strftime("%Z")


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    """A time in the user's zone, to the minute, with the zone's abbreviation: 2026-03-01 14:05 CET."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %Z")


def short_when(moment: datetime | None, tz: ZoneInfo, now: datetime | None = None) -> str:
    """A time to the minute, shorter when it is close: 14:05 CET today, Mar 3 14:05 CET, 2025-03-03."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    today = (now or datetime.now(tz)).astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M %Z")
    if abs((today - local.date()).days) < 300:
        return local.strftime("%b %d %H:%M %Z").replace(" 0", " ", 1)
    return local.strftime("%Y-%m-%d")


def short_date(moment: datetime | None, tz: ZoneInfo, now: datetime | None = None) -> str:
    """A day in the user's zone: Mar 3, or Mar 3, 2025 when it is not this year."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    year = (now or datetime.now(tz)).astimezone(tz).year
    return local.strftime("%b %-d" if local.year == year else "%b %-d, %Y")


def ago(moment: datetime | None, now: datetime) -> str:
    """How long ago: 'just now', '5 min ago', '3 h ago', '4 d ago'."""
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


STOCK_LABELS = {"InStock": "In stock", "OutOfStock": "Sold out", "unknown": "Unknown"}


def stock(availability: str | None) -> str:
    """InStock -> In stock, OutOfStock -> Sold out; anything else is 'Unknown' (never a raw code)."""
    return STOCK_LABELS.get(availability or "unknown", "Unknown")


EVENT_LABELS = {
    "new_listing": "New listing",
    "new_colorway": "New colorway",
    "restock": "Restock",
    "size_restock": "Size back",
    "price_below_target": "Below your target",
    "price_below_list": "Below list price",
    "price_drop": "Price drop",
    "price_rise": "Price rise",
    "release_announced": "Release announced",
    "release_changed": "Release moved",
    "going_live": "Live",
    "sold_out": "Sold out",
    "source_broken": "Shop broken",
    "source_recovered": "Shop back",
    "summary": "Summary",
}


def event_kind(kind: str | None) -> str:
    """An event kind as words: price_drop -> Price drop (an unknown kind is spelled out the same way)."""
    if not kind:
        return ""
    return EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize())


DELIVERY_LABELS = {"pending": "Pending", "sending": "Sending", "sent": "Sent", "failed": "Failed"}


def delivery_status(status: str | None) -> str:
    """A delivery's status as words."""
    if not status:
        return ""
    return DELIVERY_LABELS.get(status, status.replace("_", " ").capitalize())


RUN_LABELS = {"ok": "OK", "not_modified": "Not modified (304)", "running": "Running"}


def run_status(status: str | None) -> str:
    """A check run's status as words: not_modified -> Not modified (304), rate_limited -> Rate limited."""
    if not status:
        return ""
    return RUN_LABELS.get(status, status.replace("_", " ").capitalize())


def local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """The same instant in the user's zone (for tables and charts)."""
    return None if moment is None else moment.astimezone(tz)


def day(value: date | None) -> str:
    """A date as 2026-03-01; an empty string for none (never "None")."""
    return "" if value is None else value.isoformat()


def text(value: object) -> str:
    """Any value for a table cell: an empty string for None, never the word "None"."""
    return "" if value is None else str(value)


def safe_url(url: str | None) -> str | None:
    """The URL if it is plain http(s) with a host, else None (never link anything else)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(c in url for c in "\"'<> \n\r\t"):
        return None
    return url.strip()


def countdown(target: datetime, now: datetime) -> str:
    """'in 9 d 23 h', 'in 5 h 10 min', 'now'."""
    seconds = int((target - now).total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {minutes} min"


_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")


def plain(text: str | None) -> str:
    """Text made inert for Streamlit's Markdown (titles, labels, messages): every mark escaped."""
    if not text:
        return ""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text)


def script_json(value: Any) -> str:
    """value as JSON to write inside a <script>: "</script>" or "<!--" in scraped text (a title, a shop's
    name) must not end or alter the block."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
