"""Reading JSON-LD product data: tolerant JSON, @graph, lists, ProductGroup and every Offer shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tracker.extract.limits import embedded_json_problem
from tracker.extract.model import Availability
from tracker.extract.prices import parse_amount, parse_price
from tracker.sizes import is_size_name, strip_size_words, system_in_name

_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_IN_STOCK = (
    "instock",
    "in_stock",
    "in stock",
    "limitedavailability",
    "onlineonly",
    "instoreonly",
    "preorder",
    "presale",
    "backorder",
    "available",
    "true",
)
_OUT_OF_STOCK = (
    "outofstock",
    "out_of_stock",
    "out of stock",
    "soldout",
    "sold_out",
    "sold out",
    "discontinued",
    "unavailable",
    "false",
)


def loads_lenient(text: str) -> Any:
    """JSON as shops write it: trailing commas, comments, raw newlines and CDATA tolerated; None when
    it holds no data to read (too large or nested too deeply included)."""
    try:
        return _loads_lenient(text)
    except RecursionError:
        # Nested deeper than the decoder follows, which the depth check did not see: it reads the
        # block as written, and a repair can change what is quoted (a "//" line holding a quote taken
        # out lets the brackets after it be read as data).
        return None


def _loads_lenient(text: str) -> Any:
    text = text.strip()
    if embedded_json_problem(text) is not None:
        return None  # read as no structured data; the rest of the page still counts
    if text.startswith("<!--"):
        text = text[4:]
    if text.endswith("-->"):
        text = text[:-3]
    text = text.replace("<![CDATA[", "").replace("]]>", "").strip().rstrip(";")
    try:
        return json.loads(text, strict=False, parse_float=Decimal)
    except ValueError:
        pass
    fixed = _TRAILING_COMMA.sub(r"\1", _LINE_COMMENT.sub("", _CONTROL.sub(" ", text)))
    try:
        return json.loads(fixed, strict=False, parse_float=Decimal)
    except ValueError:
        pass
    # Several objects pasted in one script, or garbage after the first object.
    decoder = json.JSONDecoder(strict=False, parse_float=Decimal)
    items: list[Any] = []
    pos = 0
    while pos < len(fixed):
        while pos < len(fixed) and fixed[pos] in " \t\r\n,;":
            pos += 1
        if pos >= len(fixed):
            break
        try:
            obj, pos = decoder.raw_decode(fixed, pos)
        except ValueError:
            break
        items.append(obj)
    return items or None


# The schema.org properties read here; shops also write them "Offers", "Price", "SKU".
_KEYS = {
    key.lower(): key
    for key in (
        "@type",
        "@graph",
        "@id",
        "type",
        "offers",
        "price",
        "priceCurrency",
        "priceSpecification",
        "priceType",
        "valueAddedTaxIncluded",
        "lowPrice",
        "highPrice",
        "availability",
        "availabilityStarts",
        "sku",
        "mpn",
        "productID",
        "name",
        "size",
        "sizeSystem",
        "itemOffered",
        "additionalProperty",
        "propertyID",
        "value",
        "hasVariant",
        "url",
        "image",
        "brand",
        "releaseDate",
        "contentUrl",
        "@value",
    )
}


def canonical_keys(data: Any, depth: int = 0) -> Any:
    """The data with schema.org property names in their canonical case ("Offers" -> "offers")."""
    if depth > 14:
        return data
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = _KEYS.get(key.lower(), key) if isinstance(key, str) else key
            if name not in out or name == key:
                out[name] = canonical_keys(value, depth + 1)
        return out
    if isinstance(data, list):
        return [canonical_keys(item, depth + 1) for item in data]
    return data


def type_names(node: dict[str, Any]) -> set[str]:
    """The node's @type(s), lower-cased and without a schema.org prefix."""
    raw = node.get("@type") or node.get("type")
    names = raw if isinstance(raw, list) else [raw]
    out: set[str] = set()
    for name in names:
        if isinstance(name, str):
            out.add(name.rsplit("/", 1)[-1].rsplit("#", 1)[-1].strip().lower())
    return out


def iter_nodes(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict in the data, depth first, so nested Products in @graph and lists are seen."""
    if depth > 12:
        return
    if isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, dict | list):
                yield from iter_nodes(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from iter_nodes(item, depth + 1)


def availability_of(value: Any) -> Availability:
    """A schema.org availability (URL, bare name or shop-specific word) as one of three states."""
    if isinstance(value, list):
        states = [availability_of(v) for v in value]
        if Availability.IN_STOCK in states:
            return Availability.IN_STOCK
        return Availability.OUT_OF_STOCK if Availability.OUT_OF_STOCK in states else Availability.UNKNOWN
    if isinstance(value, bool):
        return Availability.IN_STOCK if value else Availability.OUT_OF_STOCK
    if not isinstance(value, str) or not value.strip():
        return Availability.UNKNOWN
    word = value.strip().rsplit("/", 1)[-1].lower()
    if word.startswith(_OUT_OF_STOCK) or word in _OUT_OF_STOCK:
        return Availability.OUT_OF_STOCK
    if word.startswith(_IN_STOCK) or word in _IN_STOCK:
        return Availability.IN_STOCK
    return Availability.UNKNOWN


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@value") or value.get("value"))
    if isinstance(value, list) and value:
        return _text(value[0])
    return None


@dataclass
class OfferData:
    """One offer read from structured data (a size, a variant or the whole product)."""

    price: Decimal | None = None
    currency: str | None = None
    compare_at: Decimal | None = None
    availability: Availability = Availability.UNKNOWN
    sku: str | None = None
    url: str | None = None
    size: str | None = None
    low: bool = False
    name: str | None = None  # an offer's own name ("Size 9", "2002R - UK 10"): a size when it has one
    system: str | None = None  # the size system the markup names (sizeSystem, a "UK Size" property)


@dataclass
class ProductData:
    """A Product node and its offers, as read from JSON-LD or microdata."""

    title: str | None = None
    sku: str | None = None
    image: str | None = None
    brand: str | None = None
    url: str | None = None
    size: str | None = None
    system: str | None = None
    offers: list[OfferData] = field(default_factory=list)
    variants: list[ProductData] = field(default_factory=list)
    source: str = "json-ld"
    release_date: str | None = None  # releaseDate, or an offer's availabilityStarts (a launch)


def _price_spec(spec: Any, currency: str | None) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(price, struck-through price, currency) from a priceSpecification (dict or list)."""
    specs = spec if isinstance(spec, list) else [spec]
    price: Decimal | None = None
    strike: Decimal | None = None
    for item in specs:
        if not isinstance(item, dict):
            continue
        cur = _text(item.get("priceCurrency")) or currency
        if "priceSpecification" in item and "price" not in item:
            p, s, cur = _price_spec(item["priceSpecification"], cur)
        else:
            p, s = _amount(item.get("price"), cur), None
        kind = (_text(item.get("priceType")) or "").lower()
        if any(k in kind for k in ("strikethrough", "listprice", "msrp", "srp")):
            strike = strike or p
            continue
        # Gross over net: skip a specification that says VAT is not included when another is.
        if item.get("valueAddedTaxIncluded") in (False, "false", "False") and price is not None:
            continue
        if p is not None and (price is None or item.get("valueAddedTaxIncluded") in (True, "true", "True")):
            price, currency = p, cur
        strike = strike or s
    return price, strike, currency


def _amount(value: Any, currency: str | None) -> Decimal | None:
    if isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        amount, _ = parse_price(value, currency_hint=currency)
        return amount
    return parse_amount(value)


_SIZE_SYSTEMS = {
    "wearablesizesystemus": "us_men",
    "wearablesizesystemuk": "uk",
    "wearablesizesystemgb": "uk",
    "wearablesizesystemeurope": "eu",
    "wearablesizesystemen13402": "eu",
    "wearablesizesystemde": "eu",
    "wearablesizesystemfr": "eu",
    "wearablesizesystemit": "eu",
    "wearablesizesystemjp": "cm",
    "wearablesizesystemmondopoint": "cm",
}


def _size_field(value: Any) -> tuple[str | None, str | None]:
    """(label, system) from a size property: text, or a SizeSpecification with its sizeSystem."""
    if isinstance(value, dict):
        system = _text(value.get("sizeSystem"))
        key = (system or "").rsplit("/", 1)[-1].lower()
        return _text(value.get("name") or value.get("value")), _SIZE_SYSTEMS.get(key) or system_in_name(
            system
        )
    return _text(value), None


def _property_size(node: dict[str, Any]) -> tuple[str | None, str | None]:
    """(label, system) from additionalProperty entries named like a size ("Size", "UK Size", "Taglia")."""
    props = node.get("additionalProperty")
    for prop in props if isinstance(props, list) else [props]:
        if not isinstance(prop, dict):
            continue
        name = _text(prop.get("name")) or _text(prop.get("propertyID")) or ""
        if is_size_name(name):
            value = _text(prop.get("value"))
            if value:
                return value, system_in_name(name)
    return None, None


def size_of(node: dict[str, Any]) -> tuple[str | None, str | None]:
    """(label, system) a Product, Offer or itemOffered node gives: size, then additionalProperty."""
    label, system = _size_field(node.get("size"))
    if label:
        return label, system
    return _property_size(node)


def _offers(value: Any, inherited_currency: str | None = None) -> list[OfferData]:
    """Every concrete offer under an ``offers`` value: Offer, AggregateOffer, lists, nesting."""
    out: list[OfferData] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        types = type_names(item)
        currency = _text(item.get("priceCurrency")) or inherited_currency
        nested = item.get("offers")
        if nested and ("aggregateoffer" in types or not item.get("price")):
            inner = _offers(nested, currency)
            if inner:
                out.extend(inner)
                continue
        price = _amount(item.get("price"), currency)
        compare_at = None
        if price is None and item.get("priceSpecification") is not None:
            price, compare_at, currency = _price_spec(item["priceSpecification"], currency)
        elif item.get("priceSpecification") is not None:
            _, compare_at, _ = _price_spec(item["priceSpecification"], currency)
        low = False
        if price is None and "lowPrice" in item:
            price, low = _amount(item.get("lowPrice"), currency), True
        if "highPrice" in item and price is None:
            price = _amount(item.get("highPrice"), currency)
        item_offered = item.get("itemOffered")
        size, system = size_of(item)
        name = _text(item.get("name"))
        if isinstance(item_offered, dict):
            if not size:
                size, system = size_of(item_offered)
            name = name or _text(item_offered.get("name"))
        elif isinstance(item_offered, str) and not name:
            name = item_offered
        out.append(
            OfferData(
                price=price,
                currency=currency.upper() if currency and len(currency) == 3 else currency,
                compare_at=compare_at,
                availability=availability_of(item.get("availability")),
                sku=_text(item.get("sku"))
                or (_text(item_offered.get("sku")) if isinstance(item_offered, dict) else None),
                url=_text(item.get("url")),
                size=size,
                low=low,
                name=name,
                system=system,
            )
        )
    return out


def _availability_starts(offers: Any) -> str | None:
    for offer in offers if isinstance(offers, list) else [offers]:
        if isinstance(offer, dict) and (starts := _text(offer.get("availabilityStarts"))):
            return starts
    return None


def _named_sizes(offers: list[OfferData], title: str | None) -> list[OfferData]:
    """Offers whose names give their size ("Size 9", "<title> - UK 10") get it."""
    for offer in offers:
        if not offer.size and offer.name:
            offer.size = strip_size_words(offer.name, title)
    return offers


def _product(node: dict[str, Any]) -> ProductData:
    image = node.get("image")
    if isinstance(image, list):
        image = image[0] if image else None
    if isinstance(image, dict):
        image = image.get("url") or image.get("contentUrl")
    size, system = size_of(node)
    title = _text(node.get("name"))
    product = ProductData(
        title=title,
        sku=_text(node.get("sku")) or _text(node.get("mpn")) or _text(node.get("productID")),
        image=image if isinstance(image, str) else None,
        brand=_text(node.get("brand")),
        url=_text(node.get("url")),
        size=size,
        system=system,
        offers=_named_sizes(_offers(node.get("offers")), title),
        release_date=_text(node.get("releaseDate")) or _availability_starts(node.get("offers")),
    )
    for variant in node.get("hasVariant") or []:
        if isinstance(variant, dict):
            product.variants.append(_product(variant))
    return product


def products_from(blocks: list[Any]) -> list[ProductData]:
    """Every Product / ProductGroup in the JSON-LD blocks, outermost first."""
    out: list[ProductData] = []
    seen: set[int] = set()
    for block in canonical_keys(blocks):
        for node in iter_nodes(block):
            if id(node) in seen:
                continue
            types = type_names(node)
            if types & {
                "product",
                "productgroup",
                "individualproduct",
                "productmodel",
                "vehicle",
                "car",
                "book",
                "sizeproduct",
            } or (
                "offers" in node
                and "name" in node
                and not types & {"offer", "aggregateoffer", "event", "organization", "website", "webpage"}
            ):
                for variant in node.get("hasVariant") or []:
                    seen.add(id(variant))
                out.append(_product(node))
    return out
