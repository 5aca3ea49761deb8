"""Release dates and times as pages write them: ISO 8601, "March 15, 2024 10:00 AM ET", "15.03.2024", TBC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as fixed_offset
from typing import Any

from tracker.zones import zone_named

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_ISO_RE = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\.\d+)?\s*(?P<off>Z|[+-]\d{2}:?\d{2})?)?"
)
_MONTH_FIRST_RE = re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s*{_YEAR})?", re.I)
_DAY_FIRST_RE = re.compile(rf"\b{_DAY}\.?\s+(?:of\s+)?{_MONTH}(?:,?\s*{_YEAR})?", re.I)
_US_NUMERIC_RE = re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2}|\d{4})\b")
_EU_NUMERIC_RE = re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b")
_TIME_12_RE = re.compile(r"\b(?P<H>\d{1,2})(?::(?P<M>\d{2}))?\s*(?P<ampm>[ap])\.?\s?m\.?(?![a-z])", re.I)
_TIME_24_RE = re.compile(r"(?<![\d:/.-])(?P<H>[01]?\d|2[0-3])[:h](?P<M>[0-5]\d)(?![\d:])")
_TBC_RE = re.compile(r"\b(tbc|tba|tbd|coming soon|to be (?:confirmed|announced|determined)|unknown)\b", re.I)
_IANA_RE = re.compile(r"\b([A-Z][A-Za-z_]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?)\b")
# Zone abbreviations as calendars write them; the named zone gets daylight saving right.
_ZONES = {
    "ET": "America/New_York",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CT": "America/Chicago",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MT": "America/Denver",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PT": "America/Los_Angeles",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "GMT": "Europe/London",
    "BST": "Europe/London",
    "UK": "Europe/London",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "UTC": "UTC",
}
_ZONE_RE = re.compile(r"\b(" + "|".join(sorted(_ZONES, key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class When:
    """A release moment as a page gives it: a date, and the time and zone when known."""

    day: date | None = None
    at: datetime | None = None  # aware UTC, only when a time of day is given
    timezone: str | None = None

    @property
    def known(self) -> bool:
        """Whether a date is known (TBC is not)."""
        return self.day is not None


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return fixed_offset(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


def _year_for(month: int, day: int, page_date: date | None) -> int | None:
    if page_date is None:
        return None
    try:
        guess = date(page_date.year, month, day)
    except ValueError:
        return None
    # An article from December announcing "January 5" means next January.
    return page_date.year + 1 if (page_date - guess).days > 60 else page_date.year


def _time_of(text: str) -> time | None:
    if m := _TIME_12_RE.search(text):
        hour = int(m.group("H")) % 12 + (12 if m.group("ampm").lower() == "p" else 0)
        return time(hour, int(m.group("M") or 0))
    if m := _TIME_24_RE.search(text):
        return time(int(m.group("H")), int(m.group("M")))
    return None


def _zone_in(text: str) -> str | None:
    if (m := _IANA_RE.search(text)) and zone_named(m.group(1)) is not None:
        return m.group(1)
    if m := _ZONE_RE.search(text):
        return _ZONES[m.group(1)]
    return None


def parse_when(text: Any, *, page_date: date | None = None, default_tz: str | None = None) -> When | None:
    """Read a release date, time and zone from text: None when unreadable, an unknown When for TBC.

    ISO 8601 (with or without a time and offset), "March 15, 2024 10:00 AM ET", "15 March 2024",
    "Sat, Mar 15th", "03/15/2024" (US order), "15.03.2024"; a date without a year takes the
    page's year (page_date). A time with no zone uses default_tz, a named zone wins over both.
    """
    if text is None:
        return None
    raw = str(text).strip()
    if not raw:
        return None
    if _TBC_RE.search(raw) and not any(ch.isdigit() for ch in raw):
        return When()
    named = _zone_in(raw)
    if m := _ISO_RE.search(raw):
        day = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        if m.group("H") is None:
            return When(day, None, named)
        clock = time(int(m.group("H")), int(m.group("M")), int(m.group("S") or 0))
        if m.group("off"):
            local = datetime.combine(day, clock, _offset(m.group("off")))
            zone_name = named or ("UTC" if m.group("off") == "Z" else None)
            return When(local.date(), local.astimezone(UTC), zone_name)
        zone_name = named or default_tz
        zone = zone_named(zone_name) or UTC
        return When(day, datetime.combine(day, clock, zone).astimezone(UTC), zone_name)
    day_found: date | None = None
    for regex in (_MONTH_FIRST_RE, _DAY_FIRST_RE):
        if m := regex.search(raw):
            month, dom = _MONTHS[m.group("month").lower()], int(m.group("day"))
            year = int(m.group("year")) if m.group("year") else _year_for(month, dom, page_date)
            if year is None:
                return None
            try:
                day_found = date(year, month, dom)
            except ValueError:
                continue
            break
    if day_found is None:
        for regex, short in ((_US_NUMERIC_RE, True), (_EU_NUMERIC_RE, False)):
            if m := regex.search(raw):
                year = int(m.group("y"))
                year = year + 2000 if short and year < 100 else year
                try:
                    day_found = date(year, int(m.group("m")), int(m.group("d")))
                except ValueError:
                    continue
                break
    if day_found is None:
        return When() if _TBC_RE.search(raw) else None
    clock_found = _time_of(raw)
    if clock_found is None:
        return When(day_found, None, named)
    zone_name = named or default_tz
    zone = zone_named(zone_name) or UTC
    return When(day_found, datetime.combine(day_found, clock_found, zone).astimezone(UTC), zone_name)
