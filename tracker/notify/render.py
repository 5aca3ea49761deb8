"""Alert text: one line saying what happened, then the facts (colorway, shop, prices, sizes, link)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from db.models import Colorway, Event

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
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
# Currencies whose prices have no minor unit, so "¥16,000" rather than "¥16,000.00".
_NO_DECIMALS = {"JPY", "KRW"}
_AVAILABILITY = {"InStock": "in stock", "OutOfStock": "out of stock", "unknown": "unknown"}
DIGEST_LINES = 40


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal from a decimal string or number in event data; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def format_money(amount: Decimal, currency: str | None) -> str:
    """$130, £99.99, ¥16,000, CHF 149.95: symbol for common currencies, the ISO code otherwise."""
    code = (currency or "").upper()
    if code in _NO_DECIMALS or amount == amount.to_integral_value():
        text = f"{amount.quantize(Decimal(1)):,}"
    else:
        text = f"{amount.quantize(Decimal('0.01')):,}"
    if code in _SYMBOLS:
        return _SYMBOLS[code] + text
    return f"{code} {text}".strip()


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


def _price_lines(data: dict[str, Any], colorway: Colorway | None) -> list[str]:
    lines: list[str] = []
    currency = data.get("currency")
    price = to_decimal(data.get("price"))
    old = to_decimal(data.get("old_price"))
    if price is not None:
        line = f"Price: {format_money(price, currency)}"
        if old is not None and old != price:
            diff = price - old
            sign = "-" if diff < 0 else "+"
            line += (
                f" (was {format_money(old, currency)}, {sign}{format_money(abs(diff), currency)}"
                f" / {sign}{_percent(abs(diff), old)})"
            )
        lines.append(line)
    list_price = to_decimal(data.get("list_price"))
    if list_price is None and colorway is not None and currency:
        list_price = to_decimal(colorway.list_prices.get(str(currency)))
    if list_price is not None:
        line = f"List price: {format_money(list_price, currency)}"
        if price is not None:
            diff = price - list_price
            if diff < 0:
                line += f" ({format_money(-diff, currency)} below list, -{_percent(-diff, list_price)})"
            elif diff > 0:
                line += f" ({format_money(diff, currency)} above list, +{_percent(diff, list_price)})"
            else:
                line += " (at list price)"
        lines.append(line)
    target = to_decimal(data.get("target_price"))
    if target is None and colorway is not None and currency:
        target = to_decimal(colorway.target_prices.get(str(currency)))
    if target is not None:
        reached = price is not None and price <= target
        lines.append(f"Your target: {format_money(target, currency)}" + (" (reached)" if reached else ""))
    return lines


def _fact_lines(event: Event, colorway: Colorway | None) -> list[str]:
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
    lines.extend(_price_lines(data, colorway))
    availability = data.get("availability")
    if availability:
        line = f"Availability: {_AVAILABILITY.get(str(availability), str(availability))}"
        old_availability = data.get("old_availability")
        if old_availability and old_availability != availability:
            line += f" (was {_AVAILABILITY.get(str(old_availability), str(old_availability))})"
        lines.append(line)
    mine = _sizes(data.get("my_sizes_restocked"))
    if mine:
        lines.append("Your sizes back: " + ", ".join(mine))
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
    if data.get("url"):
        lines.append(f"Link: {data['url']}")
    return lines


def render_message(event: Event, colorway: Colorway | None) -> tuple[str, str, str | None]:
    """Title, body (headline then one fact per line) and image URL for one event."""
    data = event.data or {}
    label = KIND_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    subject = _subject(event, colorway)
    style = colorway.style_code if colorway is not None else data.get("style_code")
    title = f"{label}: {subject}" + (f" ({style})" if style and style not in subject else "")
    body = "\n".join([headline(event, colorway), "", *_fact_lines(event, colorway)]).rstrip()
    image = data.get("image") or (colorway.image if colorway is not None else None)
    return title, body, str(image) if image else None


def render_digest(
    items: Sequence[tuple[Event, Colorway | None]], reason: str
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
            line += f" ({format_money(price, data.get('currency'))})"
        if data.get("url"):
            line += f" {data['url']}"
        lines.append(line)
    if count > DIGEST_LINES:
        lines.append(f"... and {count - DIGEST_LINES} more (see the dashboard)")
    image = next((str(e.data["image"]) for e, _ in items if (e.data or {}).get("image")), None)
    return title, "\n".join(lines), image
