"""Alert text: one line saying what happened, then the facts (colorway, shop, prices, sizes, link)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from db.models import Colorway, Event
from tracker.money import format_money, to_decimal
from tracker.pricing import list_price as list_price_of

KIND_LABELS = {
    "new_listing": "New listing",
    "new_colorway": "New colorway",
    "price_drop": "Price drop",
    "price_rise": "Price rise",
    "sold_out": "Sold out",
    "restock": "Restock",
    "size_restock": "Sizes back",
    "release_announced": "Release date announced",
    "release_changed": "Release date changed",
    "going_live": "Going live",
    "source_broken": "Shop check failing",
    "source_recovered": "Shop check working again",
    "weekly_digest": "Weekly digest",
}
_AVAILABILITY = {"InStock": "in stock", "OutOfStock": "out of stock", "unknown": "unknown"}
DIGEST_LINES = 40


def _percent(part: Decimal, whole: Decimal) -> str:
    if whole == 0:
        return ""
    pct = (part / whole * 100).quantize(Decimal(1))
    return f"{pct}%"


def _sizes(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(s) for s in value]


def _subject(event: Event, colorway: Colorway | None) -> str:
    data = event.data or {}
    if event.kind in ("source_broken", "source_recovered") and data.get("shop"):
        return str(data["shop"])  # a shop's health, not a shoe
    if colorway is not None:
        return colorway.name
    return str(data.get("colorway") or data.get("title") or data.get("style_code") or "2002R")


def headline(event: Event, colorway: Colorway | None) -> str:
    """The one line saying what happened (the pipeline's message when it wrote one)."""
    if event.message.strip():
        return " ".join(event.message.split())
    data = event.data or {}
    label = KIND_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    shop = data.get("shop")
    return f"{label}: {_subject(event, colorway)}" + (f" at {shop}" if shop else "")


def _price_lines(data: dict[str, Any], colorway: Colorway | None, locale: str | None) -> list[str]:
    lines: list[str] = []
    currency = data.get("currency")

    def fmt(amount: Decimal) -> str:
        return format_money(amount, currency, locale)

    price = to_decimal(data.get("price"))
    old = to_decimal(data.get("old_price"))
    if price is not None:
        line = f"Price: {fmt(price)}"
        if old is not None and old != price:
            diff = price - old
            sign = "-" if diff < 0 else "+"
            line += f" (was {fmt(old)}, {sign}{fmt(abs(diff))} / {sign}{_percent(abs(diff), old)})"
        lines.append(line)
    list_price = to_decimal(data.get("list_price"))
    if list_price is None and colorway is not None and currency:
        list_price = list_price_of(colorway.list_prices, colorway.line, str(currency))
    if list_price is not None:
        line = f"List price: {fmt(list_price)}"
        if price is not None:
            diff = price - list_price
            if diff < 0:
                line += f" ({fmt(-diff)} below list, -{_percent(-diff, list_price)})"
            elif diff > 0:
                line += f" ({fmt(diff)} above list, +{_percent(diff, list_price)})"
            else:
                line += " (at list price)"
        lines.append(line)
    target = to_decimal(data.get("target_price"))
    if target is None and colorway is not None and currency:
        target = to_decimal(colorway.target_prices.get(str(currency)))
    if target is not None:
        reached = price is not None and price <= target
        lines.append(f"Your target: {fmt(target)}" + (" (reached)" if reached else ""))
    return lines


def _fact_lines(event: Event, colorway: Colorway | None, locale: str | None) -> list[str]:
    data = event.data or {}
    lines: list[str] = []
    style = colorway.style_code if colorway is not None else data.get("style_code")
    name = colorway.name if colorway is not None else data.get("colorway")
    if name or style:
        lines.append(f"Colorway: {name or '(unnamed)'}" + (f" ({style})" if style else ""))
    title = data.get("title")
    if title and title != name:
        lines.append(f"Product: {title}")
    if data.get("shop"):
        lines.append(f"Shop: {data['shop']}")
    lines.extend(_price_lines(data, colorway, locale))
    availability = data.get("availability")
    if availability:
        line = f"Availability: {_AVAILABILITY.get(str(availability), str(availability))}"
        old_availability = data.get("old_availability")
        if old_availability and old_availability != availability:
            line += f" (was {_AVAILABILITY.get(str(old_availability), str(old_availability))})"
        lines.append(line)
    mine = _sizes(data.get("my_sizes_restocked"))
    yours = data.get("my_sizes_as")
    yours = yours if isinstance(yours, dict) else {}
    if mine:
        # The shop's label, and your size when the shop writes it another way: "UK 9.5 (= US 10)".
        shown = [f"{s} (= {yours[s]})" if yours.get(s) and str(yours[s]) != s else s for s in mine]
        lines.append("Your sizes back: " + ", ".join(shown))
    restocked = _sizes(data.get("sizes_restocked"))
    if restocked:
        lines.append("Sizes back: " + ", ".join(restocked))
    in_stock = _sizes(data.get("sizes_in_stock"))
    if in_stock:
        lines.append("Sizes in stock: " + ", ".join(in_stock))
    if data.get("release_date") or data.get("old_release_date"):
        line = f"Release date: {data.get('release_date') or 'to be announced'}"
        if data.get("old_release_date"):
            line += f" (was {data['old_release_date']})"
        lines.append(line)
    if data.get("source_release_date"):
        lines.append(f"{data.get('shop') or 'A source'} gives: {data['source_release_date']} (not followed)")
    if data.get("url"):
        lines.append(f"Link: {data['url']}")
    return lines


def render_message(
    event: Event, colorway: Colorway | None, locale: str | None = None
) -> tuple[str, str, str | None]:
    """Title, body (headline then one fact per line) and image URL for one event."""
    data = event.data or {}
    if event.kind == "weekly_digest":
        return str(data.get("title") or event.message), "\n".join(str(x) for x in data.get("lines", [])), None
    label = KIND_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    subject = _subject(event, colorway)
    style = colorway.style_code if colorway is not None else data.get("style_code")
    title = f"{label}: {subject}" + (f" ({style})" if style and style not in subject else "")
    body = "\n".join([headline(event, colorway), "", *_fact_lines(event, colorway, locale)]).rstrip()
    image = data.get("image") or (colorway.image if colorway is not None else None)
    return title, body, str(image) if image else None


def render_digest(
    items: Sequence[tuple[Event, Colorway | None]], reason: str, locale: str | None = None
) -> tuple[str, str, str | None]:
    """One message for several events (quiet hours ended, or a flood of new listings)."""
    count = len(items)
    title = f"2002R tracker: {count} alerts {reason}"
    lines = [f"{count} things happened {reason}:", ""]
    for event, colorway in items[:DIGEST_LINES]:
        data = event.data or {}
        line = "- " + headline(event, colorway)
        price = to_decimal(data.get("price"))
        if price is not None and event.kind not in ("price_drop", "price_rise"):
            line += f" ({format_money(price, data.get('currency'), locale)})"
        if data.get("url"):
            line += f" {data['url']}"
        lines.append(line)
    if count > DIGEST_LINES:
        lines.append(f"... and {count - DIGEST_LINES} more (see the dashboard)")
    image = next((str(e.data["image"]) for e, _ in items if (e.data or {}).get("image")), None)
    return title, "\n".join(lines), image
