"""JSON endpoints read with the per-source JSON paths ($.price.sales.value, $.variants[*].size)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tracker.errors import ExtractError
from tracker.extract.jsonld import availability_of
from tracker.extract.model import Availability, Product, SizeOffer
from tracker.extract.prices import parse_amount, parse_price
from tracker.extract.shopify import load_json

if TYPE_CHECKING:
    from tracker.config import Selectors  # read only; extraction never builds the config's schema

_SIZE_KEYS = ("size", "displayValue", "label", "name", "value", "title")
_TOKEN = re.compile(r"\.([A-Za-z_$@*][\w$@-]*)|\[(\d+|\*)\]|\[['\"]([^'\"]+)['\"]\]")


def _tokens(path: str) -> list[str | int | None]:
    """A JSON path as keys, indexes and None for [*]; ExtractError for what it cannot read."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    if text and not text.startswith((".", "[")):
        text = "." + text
    out: list[str | int | None] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExtractError(f"cannot read JSON path {path!r} at {text[pos:]!r}")
        key, index, quoted = match.groups()
        if key is not None:
            out.append(None if key == "*" else key)
        elif quoted is not None:
            out.append(quoted)
        else:
            out.append(None if index == "*" else int(index))
        pos = match.end()
    return out


def find_all(data: Any, path: str) -> list[Any]:
    """Every value the JSON path reaches (dots, [n], ['key'] and [*])."""
    current = [data]
    for token in _tokens(path):
        nxt: list[Any] = []
        for value in current:
            if token is None:
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, dict):
                    nxt.extend(value.values())
            elif isinstance(token, int):
                if isinstance(value, list) and -len(value) <= token < len(value):
                    nxt.append(value[token])
            elif isinstance(value, dict) and token in value:
                nxt.append(value[token])
        current = nxt
    return current


def _first(data: Any, path: str | None) -> Any:
    if not path:
        return None
    found = find_all(data, path)
    return found[0] if found else None


def _money(value: Any, currency: str | None) -> tuple[Any, str | None]:
    if isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return parse_price(value, currency_hint=currency)
    return parse_amount(value), None


def extract_json(
    payload: bytes | dict[str, Any], *, url: str | None, selectors: Selectors, currency: str | None
) -> Product:
    """One product from a JSON endpoint, each field read with the selectors' JSON paths."""
    data = load_json(payload)
    misses: list[str] = []

    def pick(name: str) -> Any:
        path = getattr(selectors, name)
        if not path:
            return None
        value = _first(data, path)
        if value is None:
            misses.append(name)
        return value

    cur_raw = pick("currency")
    cur = str(cur_raw).upper() if isinstance(cur_raw, str) and len(cur_raw.strip()) == 3 else currency
    price, code = _money(pick("price"), cur)
    compare_at, _ = _money(pick("compare_at"), cur)
    title_raw = pick("title")
    availability = Availability.UNKNOWN
    avail_raw = pick("availability")
    if avail_raw is not None:
        if selectors.in_stock_text and isinstance(avail_raw, str):
            in_stock = selectors.in_stock_text.lower() in avail_raw.lower()
            availability = Availability.IN_STOCK if in_stock else Availability.OUT_OF_STOCK
        else:
            availability = availability_of(avail_raw)
    sizes: list[SizeOffer] = []
    if selectors.sizes:
        for item in find_all(data, selectors.sizes):
            if isinstance(item, dict):
                label = next((item[k] for k in _SIZE_KEYS if item.get(k) not in (None, "")), None)
                state = Availability.UNKNOWN
                attr = selectors.size_available_attr
                if attr and attr in item:
                    state = availability_of(item[attr])
                elif "available" in item:
                    state = availability_of(item["available"])
                elif "availability" in item:
                    state = availability_of(item["availability"])
                sizes.append(
                    SizeOffer(size=str(label), availability=state, price=parse_amount(item.get("price")))
                )
            elif item is not None:
                sizes.append(SizeOffer(size=str(item)))
        if not sizes:
            misses.append("sizes")
    if availability == Availability.UNKNOWN and sizes:
        states = {s.availability for s in sizes}
        if Availability.IN_STOCK in states:
            availability = Availability.IN_STOCK
        elif Availability.OUT_OF_STOCK in states:
            availability = Availability.OUT_OF_STOCK
    extra: dict[str, Any] = {"selector_misses": misses} if misses else {}
    return Product(
        title=str(title_raw) if title_raw is not None else None,
        url=url,
        price=price,
        currency=code or cur,
        compare_at=compare_at
        if compare_at is not None and price is not None and compare_at > price
        else None,
        availability=availability,
        sizes=tuple(sizes),
        method="json",
        extra=extra,
    )
