"""Display helpers: money in the user's locale, times in the user's zone, safe links."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tracker.money import format_money, format_signed_money

_LOCALE: list[str | None] = [None]


def use_locale(locale: str | None) -> None:
    """Format money as config.toml's locale writes it (set once the config is loaded)."""
    _LOCALE[0] = locale


def money(amount: Decimal | None, currency: str | None) -> str:
    """$130.00, €170.00, ¥16,000 (tracker.money's one formatter); an empty string for no price."""
    return format_money(amount, currency, _LOCALE[0])


def signed_money(amount: Decimal | None, currency: str | None) -> str:
    """+$10.00 / -$30.00 for differences."""
    return format_signed_money(amount, currency, _LOCALE[0])


def percent(value: Decimal | float | None) -> str:
    """+6.7% / -20.0%."""
    if value is None:
        return ""
    return f"{float(value):+.1f}%"


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    """A time in the user's zone, to the minute, with the zone's abbreviation."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %Z")


def local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """The same instant in the user's zone (for tables and charts)."""
    return None if moment is None else moment.astimezone(tz)


def day(value: date | None) -> str:
    """A date as 2026-03-01."""
    return "" if value is None else value.isoformat()


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
