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


def _size_of(variant: dict[str, Any], options: list[Any]) -> str:
    """The variant's size: the option named Size, else option1, else the variant title."""
    for index, option in enumerate(_list(options)):
        name = option.get("name") if isinstance(option, dict) else None
        if isinstance(name, str) and name.strip().lower() in (
            "size",
            "größe",
            "groesse",
            "taille",
            "talla",
            "taglia",
            "maat",
            "storlek",
            "shoe size",
            "us size",
        ):
            position = option.get("position") or index + 1
            value = variant.get(f"option{position}")
            if value:
                return str(value)
    value = variant.get("option1") or variant.get("title")
    return str(value) if value else ""


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

    sizes = []
    for variant in variants:
        available = variant.get("available")
        state = (
            Availability.UNKNOWN
            if available is None
            else (Availability.IN_STOCK if available else Availability.OUT_OF_STOCK)
        )
        sizes.append(
            SizeOffer(
                size=_size_of(variant, options),
                availability=state,
                price=money(variant.get("price")),
                sku=str(variant["sku"]) if variant.get("sku") else None,
            )
        )
    chosen = next((i for i, v in enumerate(variants) if v.get("available")), 0 if variants else None)
    price = sizes[chosen].price if chosen is not None else money(raw.get("price"))
    compare_raw = (
        variants[chosen].get("compare_at_price") if chosen is not None else raw.get("compare_at_price")
    )
    compare_at = money(compare_raw)
    if compare_at is not None and (price is None or compare_at <= price):
        compare_at = None
    states = {s.availability for s in sizes}
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
        image = first.get("src") if isinstance(first, dict) else str(first)
    elif isinstance(raw.get("featured_image"), str):
        image = raw["featured_image"]
    elif isinstance(raw.get("image"), dict):
        image = raw["image"].get("src")
    if isinstance(image, str) and image.startswith("//"):
        image = "https:" + image
    tags_raw = raw.get("tags") or []
    tags = tuple(
        t.strip() for t in (tags_raw if isinstance(tags_raw, list) else str(tags_raw).split(",")) if t.strip()
    )
    title = raw.get("title")
    handle = raw.get("handle")
    style = find_style_code(*(s.sku for s in sizes), title, handle, " ".join(tags))
    return Product(
        title=str(title) if title else None,
        url=url,
        sku=sizes[chosen].sku if chosen is not None else None,
        style_code=style,
        price=price,
        currency=currency.upper() if currency else None,
        compare_at=compare_at,
        availability=availability,
        sizes=tuple(sizes),
        image=image,
        external_id=str(handle) if handle else None,
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
