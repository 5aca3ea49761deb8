"""Shopify catalogue JSON: /products.json (and a collection's) and /products/<handle>.js."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from tracker.errors import ExtractError
from tracker.extract.limits import parse_json
from tracker.extract.model import Availability, Product, SizeOffer
from tracker.extract.prices import parse_amount
from tracker.sizes import is_size_name, is_width_name, looks_like_size, looks_like_width, system_in_name
from tracker.stylecode import find_style_code


def load_json(payload: bytes | str | dict[str, Any]) -> Any:
    """A JSON payload (bytes, text or already parsed) as Python data; ExtractError when not JSON."""
    if isinstance(payload, dict):
        return payload
    try:
        return parse_json(payload, what="the product JSON")
    except ValueError as exc:
        raise ExtractError(f"not JSON: {exc}") from exc


def _query_pattern(query: str) -> re.Pattern[str]:
    """A case-insensitive pattern where spaces and hyphens inside the query are optional."""
    parts = [re.escape(ch) for ch in re.sub(r"[\s\-]+", "", query)]
    return re.compile(r"[\s\-]?".join(parts), re.I)


def _list(value: Any) -> list[Any]:
    """A JSON field that should be a list, or [] when a shop sends anything else there."""
    return value if isinstance(value, list) else []


def matches_query(product: dict[str, Any], query: str | None) -> bool:
    """Whether a Shopify product matches the query in title, handle, tags, type or vendor + title."""
    if not query:
        return True
    pattern = _query_pattern(query)
    tags = product.get("tags")
    tag_text = " ".join(tags) if isinstance(tags, list) else str(tags or "")
    skus = " ".join(str(v.get("sku") or "") for v in _list(product.get("variants")) if isinstance(v, dict))
    fields = [
        str(product.get("title") or ""),
        str(product.get("handle") or ""),
        tag_text,
        str(product.get("product_type") or ""),
        f"{product.get('vendor') or ''} {product.get('title') or ''}",
        skus,
    ]
    return any(pattern.search(f) for f in fields)


_NO_OPTION = {"title", "default title", "default"}


def _option_names(options: list[Any]) -> list[str]:
    """Option names by position (option1..3): products.json gives {"name", "position"}, .js strings."""
    names = ["", "", ""]
    for index, option in enumerate(options[:3]):
        name = option.get("name") if isinstance(option, dict) else option
        position = option.get("position") if isinstance(option, dict) else None
        slot = position - 1 if isinstance(position, int) and 1 <= position <= 3 else index
        names[slot] = str(name).strip() if isinstance(name, str | int) else ""
    while names and not names[-1]:
        names.pop()
    return names


def _values(variants: list[dict[str, Any]], index: int) -> list[str]:
    key = f"option{index + 1}"
    return [str(v[key]) for v in variants if v.get(key) not in (None, "")]


def _size_option(names: list[str], variants: list[dict[str, Any]]) -> int | None:
    """The index of the size option: the one named like a size, else the one whose values look like
    sizes (and not widths); None when no option is a size."""
    for index, name in enumerate(names[:3]):
        if is_size_name(name):
            return index
    best: tuple[float, int] | None = None
    for index, name in enumerate(names[:3]):
        values = _values(variants, index)
        if not values or is_width_name(name) or name.lower() in _NO_OPTION:
            continue
        if any(looks_like_width(v) for v in values):
            continue
        share = sum(looks_like_size(v) for v in values) / len(values)
        if share >= 0.8 and (best is None or share > best[0]):
            best = (share, index)
    return None if best is None else best[1]


def _variant_size(
    variant: dict[str, Any], names: list[str], size_index: int | None
) -> tuple[str, tuple[tuple[str, str], ...], str | None]:
    """(size label, the other options as attributes, the system the option's name gives)."""
    attributes = []
    size = ""
    for index, name in enumerate(names[:3] or ["Title"]):
        value = variant.get(f"option{index + 1}")
        if value in (None, ""):
            continue
        if index == size_index:
            size = str(value)
        elif str(value).strip().lower() not in _NO_OPTION:
            attributes.append((name or f"option{index + 1}", str(value)))
    # An option called "UK Size" or "EU" says which system its bare numbers are in.
    system = system_in_name(names[size_index]) if size_index is not None and size_index < len(names) else None
    return size, tuple(attributes), system


def _text(value: Any) -> str | None:
    """A text field as text: shops' JSON may hold numbers (or worse) where a string belongs."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _product(raw: dict[str, Any], *, url: str, currency: str | None, cents: bool) -> Product:
    variants = [v for v in _list(raw.get("variants")) if isinstance(v, dict)]
    options = _list(raw.get("options"))

    def money(value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        if cents and isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return None
            return parse_amount(Decimal(int(value)) / 100)
        return parse_amount(value)

    names = _option_names(options)
    size_index = _size_option(names, variants)
    offers = []
    for variant in variants:
        available = variant.get("available")
        state = (
            Availability.UNKNOWN
            if available is None
            else (Availability.IN_STOCK if available else Availability.OUT_OF_STOCK)
        )
        size, attributes, system = _variant_size(variant, names, size_index)
        offers.append(
            SizeOffer(
                size=size,
                availability=state,
                price=money(variant.get("price")),
                sku=str(variant["sku"]) if variant.get("sku") else None,
                attributes=attributes,
                system=system,
            )
        )
    # A product with no size option (one variant, or colours only) has stock but no sizes.
    sizes = [o for o in offers if o.size]
    chosen = next((i for i, v in enumerate(variants) if v.get("available")), 0 if variants else None)
    price = offers[chosen].price if chosen is not None else money(raw.get("price"))
    compare_raw = (
        variants[chosen].get("compare_at_price") if chosen is not None else raw.get("compare_at_price")
    )
    compare_at = money(compare_raw)
    if compare_at is not None and (price is None or compare_at <= price):
        compare_at = None
    states = {s.availability for s in offers}
    if Availability.IN_STOCK in states:
        availability = Availability.IN_STOCK
    elif Availability.OUT_OF_STOCK in states:
        availability = Availability.OUT_OF_STOCK
    elif isinstance(raw.get("available"), bool):
        availability = Availability.IN_STOCK if raw["available"] else Availability.OUT_OF_STOCK
    else:
        availability = Availability.UNKNOWN
    images = _list(raw.get("images"))
    image = None
    if images:
        first = images[0]
        image = _text(first.get("src")) if isinstance(first, dict) else _text(first)
    elif isinstance(raw.get("featured_image"), str):
        image = raw["featured_image"]
    elif isinstance(raw.get("image"), dict):
        image = _text(raw["image"].get("src"))
    if isinstance(image, str) and image.startswith("//"):
        image = "https:" + image
    tags_raw = raw.get("tags") or []
    tag_items = tags_raw if isinstance(tags_raw, list) else str(tags_raw).split(",")
    tags = tuple(t.strip() for t in tag_items if isinstance(t, str) and t.strip())
    title = _text(raw.get("title"))
    handle = _text(raw.get("handle"))
    style = find_style_code(*(s.sku for s in offers), title, handle, " ".join(tags))
    return Product(
        title=title,
        url=url,
        sku=offers[chosen].sku if chosen is not None else None,
        style_code=style,
        price=price,
        currency=currency.upper() if currency else None,
        compare_at=compare_at,
        availability=availability,
        sizes=tuple(sizes),
        image=image,
        external_id=handle,
        brand=str(raw["vendor"]) if raw.get("vendor") else None,
        tags=tags,
        published_at=str(raw["published_at"]) if raw.get("published_at") else None,
        method="shopify_js" if cents else "shopify",
    )


def extract_shopify_catalogue(
    payload: bytes | dict[str, Any],
    *,
    base_url: str,
    currency: str | None = None,
    query: str | None = "2002R",
) -> list[Product]:
    """Products of a Shopify /products.json page matching the query, one Product per product."""
    data = load_json(payload)
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise ExtractError("not a Shopify products.json payload (no 'products' list)")
    base = base_url.rstrip("/")
    out = []
    for raw in data["products"]:
        if not isinstance(raw, dict) or not matches_query(raw, query):
            continue
        handle = raw.get("handle") or ""
        out.append(_product(raw, url=f"{base}/products/{handle}", currency=currency, cents=False))
    return out


def extract_shopify_product_js(
    payload: bytes | dict[str, Any], *, url: str, currency: str | None = None
) -> Product:
    """One product from /products/<handle>.js, where prices are integer cents."""
    data = load_json(payload)
    if isinstance(data, dict) and isinstance(data.get("product"), dict):
        # /products/<handle>.json wraps the product and writes decimal strings.
        return _product(data["product"], url=url, currency=currency, cents=False)
    if not isinstance(data, dict) or "variants" not in data:
        raise ExtractError("not a Shopify product (.js) payload (no 'variants')")
    return _product(data, url=url, currency=currency, cents=True)
