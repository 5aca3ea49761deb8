"""Atom and JSON Feed 1.1 of the tracker's events, newest first, each with its image, its price
against the list price and the shop's link.

Scraped text (titles, shop names) only ever becomes text: feedgen escapes it in the XML, the HTML
content is built element by element with lxml (never by pasting strings), and a link or an image
is kept only when it is a plain http(s) address.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree
from lxml.html import builder as E
from lxml.html import tostring

from dashboard.format import safe_url
from db.queries import ColorwayInfo, EventRow
from tracker.money import format_money, to_decimal
from tracker.pricing import list_price as list_price_of

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_ATOM = "{http://www.w3.org/2005/Atom}"
ID_PREFIX = "tag:2002r-tracker.local,2024:"
_EPOCH = datetime(2020, 9, 1, tzinfo=UTC)  # the 2002R's launch: "updated" of an empty feed


@dataclass(frozen=True)
class FeedItem:
    """One event as a feed shows it."""

    id: int
    kind: str
    title: str
    created_at: datetime
    colorway: str | None
    style_code: str | None
    shop: str | None
    link: str | None
    image: str | None
    price: Decimal | None
    currency: str | None
    list_price: Decimal | None
    lines: tuple[str, ...]

    @property
    def difference(self) -> Decimal | None:
        """Price minus list price (negative: below list)."""
        if self.price is None or self.list_price is None:
            return None
        return self.price - self.list_price


def _label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def _price_line(price: Decimal, currency: str | None, list_price: Decimal | None, locale: str) -> str:
    line = f"Price: {format_money(price, currency, locale)}"
    if list_price is None:
        return line
    diff = price - list_price
    listed = format_money(list_price, currency, locale)
    if diff == 0:
        return line + f" (at list price {listed})"
    where = "below" if diff < 0 else "above"
    percent = (abs(diff) * 100 / list_price).quantize(Decimal("0.1"))
    return line + f" ({format_money(abs(diff), currency, locale)} {where} list {listed}, {percent}%)"


def _sizes(value: Any) -> list[str]:
    return [str(s) for s in value] if isinstance(value, list) else []


def feed_item(event: EventRow, colorway: ColorwayInfo | None, locale: str) -> FeedItem:
    """An event with its colorway's image and list price filled in where the event has none."""
    data = event.data
    currency = str(data["currency"]).upper() if data.get("currency") else None
    price = to_decimal(data.get("price"))
    list_price = to_decimal(data.get("list_price"))
    if list_price is None and colorway is not None:
        list_price = list_price_of(colorway.list_prices, colorway.line, currency)
    lines: list[str] = []
    if event.kind == "weekly_digest":
        lines.extend(str(line).strip() for line in data.get("lines", []) if str(line).strip())
    if price is not None:
        lines.append(_price_line(price, currency, list_price, locale))
    if event.source_name:
        lines.append(f"Shop: {event.source_name}")
    for key, label in (("sizes_restocked", "Sizes back"), ("sizes_in_stock", "Sizes in stock")):
        if _sizes(data.get(key)):
            lines.append(f"{label}: " + ", ".join(_sizes(data.get(key))))
    if data.get("release_date"):
        lines.append(f"Release date: {data['release_date']}")
    image = safe_url(data.get("image")) or (safe_url(colorway.image) if colorway is not None else None)
    return FeedItem(
        id=event.id,
        kind=event.kind,
        title=" ".join(event.message.split()) or f"{_label(event.kind)}: {event.colorway_name or ''}".strip(),
        created_at=event.created_at,
        colorway=event.colorway_name,
        style_code=event.style_code,
        shop=event.source_name,
        link=safe_url(data.get("url")),
        image=image,
        price=price,
        currency=currency,
        list_price=list_price,
        lines=tuple(lines),
    )


def feed_items(
    events: Sequence[EventRow], colorways: Mapping[str, ColorwayInfo], locale: str
) -> list[FeedItem]:
    """Feed items for events (in the order given), colorways by style code."""
    return [feed_item(e, colorways.get(e.style_code or ""), locale) for e in events]


def item_html(item: FeedItem) -> str:
    """The item's content as HTML, built from elements so scraped text stays text."""
    parts: list[Any] = [E.P(item.title)]
    if item.image:
        parts.append(E.P(E.IMG(src=item.image, alt=item.colorway or item.style_code or "2002R")))
    if item.lines:
        parts.append(E.UL(*[E.LI(line) for line in item.lines]))
    if item.link:
        parts.append(
            E.P(E.A(f"Open at {item.shop}" if item.shop else "Open the shop's page", href=item.link))
        )
    return "".join(tostring(part, encoding="unicode") for part in parts)


def item_text(item: FeedItem) -> str:
    """The item's content as plain text."""
    return "\n".join([item.title, *item.lines, *([item.link] if item.link else [])])


@dataclass(frozen=True)
class FeedMeta:
    """What the feed is: its title, its own address and the dashboard's."""

    title: str
    self_url: str
    home_url: str
    feed_id: str


def _updated(items: Sequence[FeedItem], fallback: datetime | None) -> datetime:
    return max((i.created_at for i in items), default=fallback or _EPOCH)


def atom(items: Sequence[FeedItem], meta: FeedMeta, *, modified: datetime | None = None) -> bytes:
    """An Atom 1.0 document (feedgen), newest item first."""
    fg = FeedGenerator()
    fg.id(ID_PREFIX + meta.feed_id)
    fg.title(meta.title)
    fg.subtitle("Price moves, stock and release news from your 2002R tracker")
    fg.author({"name": "2002R tracker"})
    fg.link(href=meta.self_url, rel="self", type="application/atom+xml")
    fg.link(href=meta.home_url, rel="alternate", type="text/html")
    fg.updated(_updated(items, modified))
    fg.language("en")
    for item in items:
        entry = fg.add_entry(order="append")
        entry.id(f"{ID_PREFIX}event-{item.id}")
        entry.title(item.title)
        entry.published(item.created_at)
        entry.updated(item.created_at)
        entry.category(term=item.kind, label=_label(item.kind))
        if item.style_code:
            entry.category(term=item.style_code, label=item.colorway or item.style_code)
        entry.summary(item_text(item))
        entry.content(item_html(item), type="html")
    return _with_entry_links(fg.atom_str(pretty=False), items)


def _with_entry_links(document: bytes, items: Sequence[FeedItem]) -> bytes:
    """Add each entry's shop link and image enclosure: feedgen 1.0 writes entry links without
    their rel and type, which would make two "alternate" links (invalid Atom)."""
    root = etree.fromstring(document)
    for element, item in zip(root.findall(f"{_ATOM}entry"), items, strict=True):
        if item.link:
            etree.SubElement(element, f"{_ATOM}link", href=item.link, rel="alternate", type="text/html")
        if item.image:
            kind = mimetypes.guess_type(item.image.split("?", 1)[0])[0] or "image/jpeg"
            etree.SubElement(element, f"{_ATOM}link", href=item.image, rel="enclosure", type=kind)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def _money_text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def json_feed(items: Sequence[FeedItem], meta: FeedMeta) -> dict[str, Any]:
    """A JSON Feed 1.1 document, newest item first; tracker fields under the "_2002r" extension."""
    out_items = []
    for item in items:
        entry: dict[str, Any] = {
            "id": f"{ID_PREFIX}event-{item.id}",
            "title": item.title,
            "content_text": item_text(item),
            "content_html": item_html(item),
            "date_published": item.created_at.astimezone(UTC).isoformat(),
            "tags": [t for t in (item.kind, item.style_code) if t],
        }
        if item.link:
            entry["url"] = item.link
        if item.image:
            entry["image"] = item.image
        diff = item.difference
        entry["_2002r"] = {
            "event_id": item.id,
            "kind": item.kind,
            "style_code": item.style_code,
            "colorway": item.colorway,
            "shop": item.shop,
            "price": _money_text(item.price),
            "currency": item.currency,
            "list_price": _money_text(item.list_price),
            "difference_from_list": _money_text(diff),
        }
        out_items.append(entry)
    return {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.self_url,
        "description": "Price moves, stock and release news from your 2002R tracker",
        "authors": [{"name": "2002R tracker"}],
        "language": "en",
        "items": out_items,
    }
