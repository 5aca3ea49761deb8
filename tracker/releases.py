"""Release dates: reading release calendars, coming-soon products, release history, going live, drop mode."""

from __future__ import annotations

import asyncio
import re
import time as _time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from sqlmodel import Session, col, select

from db import store
from db.models import Colorway, Event, Listing, Observation, Release, ReleaseChange
from db.models import Source as SourceRow
from tracker.config import Config, Selectors, zone_named
from tracker.config import Source as SourceConfig
from tracker.errors import ExtractError, FetchError
from tracker.extract.jsonld import iter_nodes, loads_lenient, type_names
from tracker.extract.model import Availability, Product
from tracker.extract.page import decode
from tracker.extract.prices import parse_price
from tracker.match import CatalogueEntry, match_product
from tracker.stylecode import find_style_code, mentions_2002r

if TYPE_CHECKING:
    from tracker.pipeline import Pipeline, RunSummary

GLOBAL = "global"

# The Sneaker News /release-dates/ layout; a source's selectors (release_item, release_date,
# title, price) override each part.
RELEASE_ITEM = "div.releases-box"
RELEASE_NAME = "h2 a"
RELEASE_PRICE = "span.release-price"
RELEASE_DATE = "span.release-date"
RELEASE_REGION = "span.release-region"

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
_RELEASE_TEXT_RE = re.compile(r"release\s+date\s*:\s*(?P<when>[^/|\n]+?)\s*(?=/|\||\n|price\s*:|$)", re.I)
_PRICE_TEXT_RE = re.compile(r"price\s*:\s*(?P<price>[^/|\n]+)", re.I)
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


@dataclass(frozen=True)
class ReleaseInfo:
    """One release as read from a page, before it is matched and stored."""

    name: str | None
    when: When
    style_code: str | None = None
    region: str = GLOBAL
    price: Decimal | None = None
    currency: str | None = None
    url: str | None = None


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    from datetime import timezone as fixed

    return fixed(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


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


# ----------------------------------------------------------------------------- reading pages


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@id"))
    if isinstance(value, list) and value:
        return _text(value[0])
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def _page_date(soup: BeautifulSoup, blocks: Sequence[Any]) -> date | None:
    """The article's date: meta article:published_time, JSON-LD datePublished, or a <time>."""
    candidates: list[str] = []
    for attrs in (
        {"property": "article:published_time"},
        {"name": "article:published_time"},
        {"itemprop": "datePublished"},
        {"name": "date"},
    ):
        tag = soup.find("meta", attrs=dict(attrs))
        if isinstance(tag, Tag) and tag.get("content"):
            candidates.append(str(tag["content"]))
    for node in iter_nodes(list(blocks)):
        for key in ("datePublished", "dateCreated", "dateModified"):
            if isinstance(node.get(key), str):
                candidates.append(node[key])
    tag = soup.find("time")
    if isinstance(tag, Tag):
        candidates.append(str(tag.get("datetime") or tag.get_text(" ", strip=True)))
    for candidate in candidates:
        when = parse_when(candidate)
        if when is not None and when.day is not None:
            return when.day
    return None


def _jsonld(soup: BeautifulSoup) -> list[Any]:
    blocks = []
    for script in soup.find_all("script", attrs={"type": re.compile("ld\\+json", re.I)}):
        data = loads_lenient(script.string or script.get_text() or "")
        if data is not None:
            blocks.append(data)
    return blocks


def _offer_of(node: dict[str, Any]) -> dict[str, Any]:
    offers = node.get("offers")
    if isinstance(offers, list):
        offers = next((o for o in offers if isinstance(o, dict)), None)
    if isinstance(offers, dict) and "offers" in offers and not offers.get("price"):
        inner = offers["offers"]
        offers = inner[0] if isinstance(inner, list) and inner else inner
    return offers if isinstance(offers, dict) else {}


def _region_of(node: dict[str, Any], offer: dict[str, Any]) -> str:
    for value in (
        offer.get("eligibleRegion"),
        offer.get("areaServed"),
        node.get("areaServed"),
        (node.get("location") or {}).get("address", {}).get("addressCountry")
        if isinstance(node.get("location"), dict) and isinstance(node["location"].get("address"), dict)
        else None,
    ):
        region = _text(value)
        if region:
            return region
    return GLOBAL


def _money(value: Any, currency: str | None) -> tuple[Decimal | None, str | None]:
    if value is None:
        return None, currency
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        amount = Decimal(value)
        return (amount if amount > 0 else None), currency
    return parse_price(str(value), currency_hint=currency)


def _from_jsonld(
    blocks: Sequence[Any], url: str, *, page_date: date | None, default_tz: str | None, currency: str | None
) -> list[ReleaseInfo]:
    out: list[ReleaseInfo] = []
    for node in iter_nodes(list(blocks)):
        types = type_names(node)
        if not types & {"product", "productgroup", "event", "saleevent", "individualproduct", "productmodel"}:
            continue
        offer = _offer_of(node)
        raw_when = node.get("releaseDate") or node.get("startDate") or offer.get("availabilityStarts")
        if raw_when is None:
            continue
        schedule = node.get("eventSchedule")
        zone = _text(schedule.get("scheduleTimezone")) if isinstance(schedule, dict) else None
        when = parse_when(raw_when, page_date=page_date, default_tz=zone or default_tz)
        if when is None:
            continue
        if zone and when.timezone is None:
            when = replace(when, timezone=zone)
        spec = offer.get("priceSpecification")
        price_raw = offer.get("price")
        cur = _text(offer.get("priceCurrency")) or currency
        if price_raw is None and isinstance(spec, dict):
            price_raw = spec.get("price")
            cur = _text(spec.get("priceCurrency")) or cur
        price, cur = _money(price_raw, cur)
        name = _text(node.get("name"))
        code = find_style_code(
            _text(node.get("sku")),
            _text(node.get("mpn")),
            _text(node.get("productID")),
            name,
            _text(node.get("url")),
            _text(node.get("description")),
        )
        link = _text(node.get("url")) or _text(offer.get("url")) or url
        out.append(
            ReleaseInfo(
                name=name,
                when=when,
                style_code=code,
                region=_region_of(node, offer),
                price=price,
                currency=cur if price is not None else (cur or None),
                url=urljoin(url, link) if link else url,
            )
        )
    return out


def _select(scope: Tag, selector: str) -> Tag | None:
    try:
        found = scope.select_one(selector)
    except (ValueError, NotImplementedError) as exc:
        raise ExtractError(f"selector {selector!r} is not valid CSS: {exc}") from None
    return found


def _from_boxes(
    soup: BeautifulSoup,
    url: str,
    selectors: Selectors | None,
    *,
    page_date: date | None,
    default_tz: str | None,
    currency: str | None,
) -> list[ReleaseInfo]:
    name_sel = (selectors.title if selectors and selectors.title else None) or RELEASE_NAME
    price_sel = (selectors.price if selectors and selectors.price else None) or RELEASE_PRICE
    item_sel = (selectors.release_item if selectors and selectors.release_item else None) or RELEASE_ITEM
    date_sel = (selectors.release_date if selectors and selectors.release_date else None) or RELEASE_DATE
    out: list[ReleaseInfo] = []
    for box in soup.select(item_sel):
        name_el = _select(box, name_sel)
        date_el = _select(box, date_sel)
        if name_el is None or date_el is None:
            continue
        when = parse_when(date_el.get_text(" ", strip=True), page_date=page_date, default_tz=default_tz)
        if when is None:
            continue
        price_el = _select(box, price_sel)
        price, cur = (None, currency)
        if price_el is not None:
            price, cur = parse_price(price_el.get_text(" ", strip=True), currency_hint=currency)
        region_el = _select(box, RELEASE_REGION)
        region = (region_el.get_text(" ", strip=True) if region_el else None) or str(
            box.get("data-region") or GLOBAL
        )
        name = name_el.get_text(" ", strip=True)
        href = name_el.get("href")
        link = urljoin(url, str(href)) if href else url
        code = find_style_code(
            name, str(box.get("data-style-code") or ""), box.get_text(" ", strip=True), link
        )
        out.append(ReleaseInfo(name, when, code, region, price, cur, link))
    return out


def _from_text(
    soup: BeautifulSoup, url: str, *, page_date: date | None, default_tz: str | None, currency: str | None
) -> list[ReleaseInfo]:
    """Article layout: "Release Date: February 18 / Price: TBC" under the product's heading."""
    out: list[ReleaseInfo] = []
    title_el = soup.find("h1") or soup.find("title")
    page_title = title_el.get_text(" ", strip=True) if isinstance(title_el, Tag) else None
    for el in soup.find_all(["p", "li", "div", "span", "strong"]):
        if el.find(["p", "li", "div"]) is not None:
            continue  # the innermost block holds the line
        text = el.get_text(" ", strip=True)
        m = _RELEASE_TEXT_RE.search(text)
        if m is None:
            continue
        when = parse_when(m.group("when"), page_date=page_date, default_tz=default_tz)
        if when is None:
            continue
        heading = el.find_previous(["h2", "h3"])
        name = heading.get_text(" ", strip=True) if isinstance(heading, Tag) else page_title
        price, cur = (None, currency)
        if pm := _PRICE_TEXT_RE.search(text):
            price, cur = parse_price(pm.group("price"), currency_hint=currency)
        code = find_style_code(text, name, page_title, url)
        out.append(ReleaseInfo(name, when, code, GLOBAL, price, cur, url))
    return out


def extract_releases(
    body: bytes | str,
    url: str,
    *,
    selectors: Selectors | None = None,
    currency: str | None = None,
    default_tz: str | None = None,
    content_type: str | None = None,
) -> list[ReleaseInfo]:
    """Every release a calendar page gives: JSON-LD first, then the release-box layout, then text."""
    html = decode(body, content_type)
    soup = BeautifulSoup(html, "lxml")
    blocks = _jsonld(soup)
    page_date = _page_date(soup, blocks)
    kw: dict[str, Any] = {"page_date": page_date, "default_tz": default_tz, "currency": currency}
    found = _from_jsonld(blocks, url, **kw)
    if not found:
        found = _from_boxes(soup, url, selectors, **kw)
    if not found:
        found = _from_text(soup, url, **kw)
    return found


# ----------------------------------------------------------------------------- storing


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
    quietly. "TBC" never replaces a known date: it is no news.
    """
    region = info.region or GLOBAL
    row = session.exec(
        select(Release).where(Release.style_code == style_code, Release.region == region)
    ).one_or_none()
    events: list[Event] = []
    name = colorway.name if colorway is not None else info.name
    today = now.astimezone(zone_named(info.when.timezone) or config.tz()).date()
    if row is None:
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
            updated_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        if info.when.known:
            session.add(
                ReleaseChange(
                    release_id=row.id,
                    changed_at=now,
                    old_date=None,
                    new_date=info.when.day,
                    source_name=source_name,
                )
            )
            if info.when.day is not None and info.when.day >= today:
                events.append(
                    _event(
                        "release_announced",
                        row,
                        f"{name or style_code} ({region}) releases {_describe(row, config.timezone)}"
                        f" (from {source_name})",
                        source_id=source_id,
                        now=now,
                    )
                )
        return events
    changed = False
    if colorway is not None and row.colorway_id != colorway.id:
        row.colorway_id, changed = colorway.id, True
    if name and row.name != name:
        row.name, changed = name, True
    if info.price is not None and (row.price != info.price or row.currency != info.currency):
        row.price, row.currency, changed = info.price, info.currency, True
    if info.url and row.url != info.url and row.source_name in (None, source_name):
        row.url, changed = info.url, True
    if info.when.known:
        old_day, old_at = row.release_date, row.release_at
        new_at = info.when.at
        moved_day = old_day != info.when.day
        moved_time = old_at is not None and new_at is not None and old_at != new_at
        if moved_day and row.source_name not in (None, source_name):
            # Another source still giving a date this release has already moved away from is
            # stale, not news: without this, two sources that disagree flip the date (and the
            # user's phone) back and forth on every check.
            assert row.id is not None
            history = session.exec(select(ReleaseChange).where(ReleaseChange.release_id == row.id)).all()
            if info.when.day in {h.old_date for h in history if h.old_date is not None}:
                moved_day = moved_time = False
        if moved_day or moved_time:
            assert row.id is not None
            old_copy = Release.model_validate(row.model_dump())
            row.release_date, row.release_at = info.when.day, new_at
            row.timezone = info.when.timezone or row.timezone
            row.source_name, row.url = source_name, info.url or row.url
            row.live = False if (info.when.day and old_day and info.when.day > old_day) else row.live
            session.add(
                ReleaseChange(
                    release_id=row.id,
                    changed_at=now,
                    old_date=old_day,
                    new_date=info.when.day,
                    source_name=source_name,
                )
            )
            if old_day is None:
                kind, direction = "release_announced", None
                text = f"{row.name or style_code} ({region}) releases {_describe(row, config.timezone)}"
            else:
                old_start = release_start(old_copy, config.timezone)
                new_start = release_start(row, config.timezone)
                direction = "earlier" if (new_start and old_start and new_start < old_start) else "later"
                kind = "release_changed"
                text = (
                    f"{row.name or style_code} ({region}) moved {direction}: "
                    f"{_describe(row, config.timezone)}, was {_describe(old_copy, config.timezone)}"
                )
            events.append(
                _event(
                    kind,
                    row,
                    f"{text} (from {source_name})",
                    source_id=source_id,
                    now=now,
                    old_release_date=old_day.isoformat() if old_day else None,
                    old_release_at=old_at.isoformat() if old_at else None,
                    direction=direction,
                )
            )
            changed = True
        elif new_at is not None and old_at is None:
            row.release_at, row.timezone, changed = new_at, info.when.timezone or row.timezone, True
    if changed:
        row.updated_at = now
        session.add(row)
    return events


def _catalogue(session: Session, config: Config) -> tuple[list[CatalogueEntry], dict[str, Colorway]]:
    rows = session.exec(select(Colorway)).all()
    aliases = {c.style_code: tuple(a.upper() for a in c.aliases) for c in config.colorways}
    entries = [
        CatalogueEntry(r.id, r.style_code, r.name, aliases.get(r.style_code, ())) for r in rows if r.id
    ]
    return entries, {r.style_code: r for r in rows}


def _wanted(info: ReleaseInfo, src: SourceConfig) -> bool:
    if info.style_code or mentions_2002r(info.name, info.url):
        return True
    query = (src.query or "").strip().lower()
    return bool(query) and query in (info.name or "").lower()


def resolve(
    info: ReleaseInfo, catalogue: Sequence[CatalogueEntry], by_code: dict[str, Colorway]
) -> tuple[str | None, Colorway | None]:
    """The style code and catalogue colorway of a release (by code, else by name)."""
    product = Product(title=info.name, url=info.url, style_code=info.style_code)
    match = match_product(product, catalogue)
    code = match.style_code or info.style_code
    return code, by_code.get(code) if code else None


@dataclass
class _Read:
    infos: list[ReleaseInfo]
    requests: int = 0
    nbytes: int = 0
    errors: list[tuple[str, FetchError]] | None = None


async def _read_calendar(src: SourceConfig, pipeline: Pipeline, default_tz: str) -> _Read:
    out = _Read([], errors=[])
    assert out.errors is not None

    async def one(url: str) -> list[ReleaseInfo]:
        assert out.errors is not None
        try:
            res = await pipeline.fetcher.fetch(url, source=src)
        except FetchError as exc:
            out.errors.append((url, exc))
            return []
        out.requests += res.attempts
        out.nbytes += len(res.body)
        try:
            found = extract_releases(
                res.body,
                res.final_url,
                selectors=src.selectors,
                currency=src.currency,
                default_tz=default_tz,
                content_type=res.content_type,
            )
        except (ExtractError, ValueError) as exc:
            out.errors.append((url, FetchError(f"{url}: cannot read the page: {exc}", kind="extract_error")))
            return []
        return found

    # Pages are fetched together but read in the config's order, and a dated entry comes before
    # a "TBC" one: when two pages give the same colorway and region, the result never depends on
    # which answered first.
    pages = await asyncio.gather(*(one(u) for u in src.all_urls()))
    infos = [info for found in pages for info in found]
    out.infos.extend(sorted(infos, key=lambda info: info.when.day is None))
    return out


async def check_calendar(
    pipeline: Pipeline, src: SourceConfig, source_id: int, run_id: int, started: float
) -> RunSummary:
    """One check of a release_calendar source: fetch its pages, then write everything in one transaction."""
    from tracker.pipeline import RunSummary

    got = await _read_calendar(src, pipeline, pipeline.config.timezone)
    errors = got.errors or []
    if errors and not got.infos and len(errors) == len(src.all_urls()):
        raise errors[0][1]
    now = pipeline.clock()
    config = pipeline.config
    with Session(pipeline.engine) as session, session.begin():
        catalogue, by_code = _catalogue(session, config)
        new_events: list[Event] = []
        kept = 0
        seen: set[tuple[str, str]] = set()
        for info in got.infos:
            if not _wanted(info, src):
                continue
            code, colorway = resolve(info, catalogue, by_code)
            if code is None or (code, info.region) in seen:
                continue  # a 2002R with no style code and no catalogue name cannot be keyed
            seen.add((code, info.region))
            kept += 1
            new_events.extend(
                record_release(
                    session,
                    info,
                    style_code=code,
                    colorway=colorway,
                    source_name=src.name,
                    source_id=source_id,
                    config=config,
                    now=now,
                )
            )
        session.add_all(new_events)
        session.flush()
        if new_events and pipeline.planner is not None:
            pipeline.planner(session, new_events, config, now=now)
        status = "partial" if errors else "ok"
        error = str(errors[0][1]) if errors else None
        duration = int((_time.perf_counter() - started) * 1000)
        store.complete_run(
            session,
            run_id,
            store.source_row(session, src.name),
            status=status,
            now=now,
            finished_at=pipeline.clock(),
            duration_ms=duration,
            healthy=not errors,
            requests=got.requests,
            nbytes=got.nbytes,
            listings_seen=kept,
            events_created=len(new_events),
            error=error,
        )
        kinds = tuple(e.kind for e in new_events)
    return RunSummary(
        src.name,
        status,
        duration,
        requests=got.requests,
        listings=kept,
        events=len(kinds),
        error=error,
        event_kinds=kinds,
    )


# ----------------------------------------------------------------------------- shops


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
    source_id: int,
    offered: Iterable[tuple[Listing, Product]],
    now: datetime,
) -> list[Event]:
    """Pipeline hook, inside its transaction: coming-soon products create or confirm releases,
    and a release whose moment has come goes live the first time any shop has it in stock."""
    events: list[Event] = []
    colorways = {c.id: c for c in session.exec(select(Colorway)).all()}
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


# ----------------------------------------------------------------------------- drop mode


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
