"""Release calendar pages: every release a page gives, from JSON-LD, a release-box layout or article text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from tracker.errors import ExtractError
from tracker.extract.dates import parse_when
from tracker.extract.jsonld import iter_nodes, loads_lenient, type_names
from tracker.extract.limits import bound_depth
from tracker.extract.model import GLOBAL, ReleaseInfo
from tracker.extract.page import decode
from tracker.extract.prices import parse_price
from tracker.stylecode import find_style_code

if TYPE_CHECKING:
    from tracker.config import Selectors  # read only; extraction never builds the config's schema

# The Sneaker News /release-dates/ layout; a source's selectors (release_item, release_date,
# title, price) override each part.
RELEASE_ITEM = "div.releases-box"
RELEASE_NAME = "h2 a"
RELEASE_PRICE = "span.release-price"
RELEASE_DATE = "span.release-date"
RELEASE_REGION = "span.release-region"

_RELEASE_TEXT_RE = re.compile(r"release\s+date\s*:\s*(?P<when>[^/|\n]+)", re.I)
_PRICE_LABEL = re.compile(r"price\s*:", re.I)
_PRICE_TEXT_RE = re.compile(r"price\s*:\s*(?P<price>[^/|\n]+)", re.I)


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


def release_date_text(text: str) -> str | None:
    """What follows "Release Date:" up to a "/", "|", line end or "Price:" (its spaces cut off)."""
    # The run up to "/", "|" or a line end, then a "Price:" in it looked for once: a lazy pattern
    # with a lookahead tried the rest of a run of spaces at each one (50,000 spaces took 39 s).
    m = _RELEASE_TEXT_RE.search(text)
    if m is None:
        return None
    start, end = m.span("when")
    label = _PRICE_LABEL.search(text, start + 1)
    cut = label.start() if label is not None and label.start() < end else end
    return text[start:cut].rstrip() or None


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
        said = release_date_text(text)
        if said is None:
            continue
        when = parse_when(said, page_date=page_date, default_tz=default_tz)
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
    html = bound_depth(decode(body, content_type))
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
