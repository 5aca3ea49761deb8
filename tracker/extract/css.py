"""Per-source CSS selector overrides for pages: a selector that matches wins over automatic rules."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bs4 import BeautifulSoup, Tag

from tracker.extract.jsonld import availability_of
from tracker.extract.model import Availability, Product, SizeOffer
from tracker.extract.prices import parse_amount, parse_price
from tracker.extract.visible import IN_STOCK_TEXT, SOLD_OUT, SOLD_OUT_CJK

if TYPE_CHECKING:
    from tracker.config import Selectors  # read only; extraction never builds the config's schema

# Attributes whose presence (or a true value) means the size cannot be bought.
_NEGATIVE_ATTRS = frozenset(
    {"disabled", "aria-disabled", "data-soldout", "data-sold-out", "data-unavailable"}
)
_FALSE = frozenset({"false", "0", "no", "off", "none", ""})


def _value(el: Tag) -> str:
    for attr in ("content", "data-price", "value"):
        val = el.get(attr)
        if isinstance(val, str) and val.strip():
            return val.strip()
    return el.get_text(" ", strip=True)


def _select_one(soup: BeautifulSoup, selector: str) -> Tag | None:
    try:
        found = soup.select_one(selector)
    except Exception as exc:  # soupsieve raises its own SelectorSyntaxError subclasses
        from tracker.errors import ExtractError

        raise ExtractError(f"invalid CSS selector {selector!r}: {exc}") from exc
    return found


def _price_of(el: Tag, currency: str | None, lang: str | None) -> tuple[Decimal | None, str | None]:
    raw = _value(el)
    amount = parse_amount(raw) if raw.replace(".", "", 1).isdigit() else None
    if amount is not None:
        return amount, None
    return parse_price(raw, currency_hint=currency, page_lang=lang)


def _availability_text(text: str) -> Availability:
    state = availability_of(text.replace(" ", ""))
    if state != Availability.UNKNOWN and len(text) < 40:
        return state
    if SOLD_OUT.search(text) or SOLD_OUT_CJK.search(text):
        return Availability.OUT_OF_STOCK
    if IN_STOCK_TEXT.search(text):
        return Availability.IN_STOCK
    return Availability.UNKNOWN


def _size_state(el: Tag, attr: str | None) -> Availability:
    if attr:
        val = el.get(attr)
        if attr.lower() in _NEGATIVE_ATTRS:
            if val is None or (isinstance(val, str) and val.lower() in ("false", "0")):
                return Availability.IN_STOCK
            return Availability.OUT_OF_STOCK
        if val is None:
            return Availability.OUT_OF_STOCK
        text = " ".join(val) if isinstance(val, list) else val
        return Availability.OUT_OF_STOCK if text.strip().lower() in _FALSE else Availability.IN_STOCK
    classes = " ".join(el.get("class") or []).lower()
    if el.has_attr("disabled") or any(
        w in classes for w in ("disabled", "sold-out", "soldout", "unavailable")
    ):
        return Availability.OUT_OF_STOCK
    return Availability.IN_STOCK


def apply_selectors(
    product: Product, html: str, selectors: Selectors, *, currency: str | None, lang: str | None
) -> Product:
    """The product with every matching selector's value put over the automatic one."""
    soup = BeautifulSoup(html, "lxml")
    misses: list[str] = []
    changes: dict[str, Any] = {}
    hint = currency
    if selectors.currency:
        el = _select_one(soup, selectors.currency)
        if el is None:
            misses.append("currency")
        else:
            _, code = parse_price(_value(el) + " 1", currency_hint=currency, page_lang=lang)
            raw = _value(el).strip().upper()
            code = raw if len(raw) == 3 and raw.isalpha() else code
            if code:
                changes["currency"] = hint = code
    for name in ("price", "compare_at"):
        selector = getattr(selectors, name)
        if not selector:
            continue
        el = _select_one(soup, selector)
        amount, code = _price_of(el, hint, lang) if el is not None else (None, None)
        if amount is None:
            misses.append(name)
            continue
        changes[name] = amount
        if name == "price" and code and "currency" not in changes:
            changes["currency"] = code
    if selectors.title:
        el = _select_one(soup, selectors.title)
        if el is None or not el.get_text(strip=True):
            misses.append("title")
        else:
            changes["title"] = el.get_text(" ", strip=True)
    sizes: tuple[SizeOffer, ...] | None = None
    if selectors.sizes:
        try:
            found = soup.select(selectors.sizes)
        except Exception as exc:  # soupsieve's syntax errors
            from tracker.errors import ExtractError

            raise ExtractError(f"invalid CSS selector {selectors.sizes!r}: {exc}") from exc
        if not found:
            misses.append("sizes")
        else:
            sizes = tuple(
                SizeOffer(size=label, availability=_size_state(el, selectors.size_available_attr))
                for el in found
                if (label := (el.get("data-size") or el.get("value") or el.get_text(" ", strip=True)))
                and isinstance(label, str)
            )
            changes["sizes"] = sizes
    availability: Availability | None = None
    if selectors.availability:
        el = _select_one(soup, selectors.availability)
        if el is None:
            misses.append("availability")
        else:
            text = _value(el)
            if selectors.in_stock_text:
                in_stock = selectors.in_stock_text.lower() in text.lower()
                availability = Availability.IN_STOCK if in_stock else Availability.OUT_OF_STOCK
            else:
                href = el.get("href")
                state = _availability_text(href) if isinstance(href, str) else Availability.UNKNOWN
                availability = state if state != Availability.UNKNOWN else _availability_text(text)
    elif selectors.in_stock_text:
        body = soup.body.get_text(" ", strip=True) if soup.body else soup.get_text(" ", strip=True)
        found_text = selectors.in_stock_text.lower() in body.lower()
        availability = Availability.IN_STOCK if found_text else Availability.OUT_OF_STOCK
    if availability is None and sizes:
        any_in = any(s.availability == Availability.IN_STOCK for s in sizes)
        availability = Availability.IN_STOCK if any_in else Availability.OUT_OF_STOCK
    if availability is not None and availability != Availability.UNKNOWN:
        changes["availability"] = availability
    if changes:
        changes["method"] = "selectors" if not misses else f"selectors+{product.method or 'auto'}"
    result = product.with_(**changes)
    extra = dict(product.extra)
    if misses:
        extra["selector_misses"] = misses
    return result.with_(extra=extra)
