"""Extraction: turning a fetched body (product page, Shopify JSON, JSON endpoint) into Products.

The readers (and the parsers they need: selectolax, BeautifulSoup, lxml, price-parser) load on first
use: a `tracker check` reads its pages in worker processes that have them loaded already, and its
main process, which only records what they read, never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tracker.extract.model import Availability, Product, ReleaseInfo, SizeOffer

if TYPE_CHECKING:
    from tracker.blocks import detect_block
    from tracker.config import Selectors  # read only; extraction never builds the config's schema
    from tracker.extract.jsonpath import extract_json
    from tracker.extract.page import extract_page
    from tracker.extract.prices import parse_price
    from tracker.extract.shopify import extract_shopify_catalogue, extract_shopify_product_js

__all__ = [
    "Availability",
    "Product",
    "SizeOffer",
    "detect_block",
    "extract_body",
    "extract_json",
    "extract_page",
    "extract_shopify_catalogue",
    "extract_shopify_product_js",
    "parse_price",
    "read_page_and_releases",
]

# Where each reader lives, loaded when first asked for (PEP 562).
_LAZY = {
    "detect_block": "tracker.blocks",
    "extract_json": "tracker.extract.jsonpath",
    "extract_page": "tracker.extract.page",
    "parse_price": "tracker.extract.prices",
    "extract_shopify_catalogue": "tracker.extract.shopify",
    "extract_shopify_product_js": "tracker.extract.shopify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _looks_json(text: str, content_type: str | None) -> bool:
    if content_type and ("json" in content_type.lower() or "javascript" in content_type.lower()):
        return True
    return text.lstrip()[:1] in ("{", "[")


def _base_url(url: str | None) -> str:
    """The shop's origin, used to build /products/<handle> links from a catalogue."""
    if not url:
        return ""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.netloc else url


def extract_body(
    body: bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    selectors: Selectors | None = None,
    currency: str | None = None,
    query: str | None = "2002R",
) -> list[Product]:
    """Read any fetched body: Shopify catalogue, Shopify product JSON, JSON endpoint or HTML page."""
    from tracker.errors import ExtractError
    from tracker.extract.jsonpath import extract_json
    from tracker.extract.limits import parse_json
    from tracker.extract.page import decode, extract_page
    from tracker.extract.shopify import extract_shopify_catalogue, extract_shopify_product_js

    text = decode(body, content_type)
    if _looks_json(text, content_type):
        try:
            data: Any = parse_json(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("products"), list):
                return extract_shopify_catalogue(
                    data, base_url=_base_url(url), currency=currency, query=query
                )
            is_product_json = isinstance(data.get("product"), dict) and "variants" in data["product"]
            if is_product_json or ("variants" in data and "handle" in data):
                return [extract_shopify_product_js(data, url=url or "", currency=currency)]
            if selectors is not None:
                return [extract_json(data, url=url, selectors=selectors, currency=currency)]
            raise ExtractError("JSON body with no Shopify shape and no JSON-path selectors to read it")
        if data is not None:
            if selectors is not None:
                return [extract_json({"$": data}, url=url, selectors=_rebase(selectors), currency=currency)]
            raise ExtractError("JSON body with no Shopify shape and no JSON-path selectors to read it")
    return [extract_page(text, url, selectors=selectors, currency=currency, content_type=content_type)]


def read_page_and_releases(
    body: bytes, url: str, content_type: str | None, default_tz: str | None
) -> tuple[Product | None, list[ReleaseInfo]]:
    """A page as `tracker add` reads it: its first product (None when there is none to read) and the
    releases it lists (none looked for when default_tz is None). Module-level, so a page reader
    process can run it under a time limit."""
    from tracker.errors import ExtractError
    from tracker.extract.calendar import extract_releases

    try:
        products = extract_body(body, url=url, content_type=content_type)
    except (ExtractError, ValueError):
        products = []
    if default_tz is None:
        return (products[0] if products else None), []
    try:
        releases = extract_releases(body, url, default_tz=default_tz, content_type=content_type)
    except (ExtractError, ValueError):
        releases = []
    return (products[0] if products else None), releases


def _rebase(selectors: Selectors) -> Selectors:
    """Selectors whose paths point into a top-level list wrapped as {"$": [...]}."""
    changes = {
        name: "$.$" + value[1:] if value.startswith("$") else "$.$." + value
        for name, value in selectors.model_dump().items()
        if isinstance(value, str) and name not in ("in_stock_text", "size_available_attr")
    }
    return selectors.model_copy(update=changes)
