"""What a shop URL is, and what the tracker would read there: the probe behind `tracker add`.

In order: a Shopify shop (its catalogue's products.json answers, and a product URL's
/products/<handle>.js); else the page itself, politely fetched: a bot challenge, a page robots.txt
disallows or a page that does not answer is unreadable (and says why); a page of release dates is
a release calendar; a page with a product (structured data, app state or the visible page) is a
product page; a page with no product is loaded in headless Chromium, and when the product appears
there the source gets render = true. Nothing is written; the probe proposes a [[sources]] table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from tracker.config import Config
from tracker.configedit import source_for_url, unique_name
from tracker.errors import ExtractError, FetchError, TooSlow
from tracker.extract import (
    extract_shopify_catalogue,
    extract_shopify_product_js,
    read_page_and_releases,
)
from tracker.extract.model import Availability, Product
from tracker.extract.prices import currency_from_url
from tracker.fetch import Fetcher
from tracker.fetch.render import render
from tracker.match import CatalogueEntry, match_product
from tracker.money import is_currency
from tracker.stylecode import mentions_2002r

PREVIEW_PAGES = 4  # catalogue pages of 250 products read for the preview
_PRODUCT_PATH = re.compile(r"^(?:/[a-z]{2}(?:-[a-z]{2})?)?(?:/collections/[^/]+)?/products/([^/?#.]+)", re.I)
_COLLECTION_PATH = re.compile(r"^(?:/[a-z]{2}(?:-[a-z]{2})?)?/collections/([^/?#]+)/?$", re.I)


@dataclass(frozen=True)
class Found:
    """One product the probe read, and the colorway it matches."""

    title: str | None
    style_code: str | None
    price: str | None
    currency: str | None
    availability: str
    sizes: list[dict[str, Any]]
    url: str | None
    colorway: str | None  # the catalogue's name for it; None for a 2002R the catalogue lacks
    is_2002r: bool
    read_by: str | None


@dataclass(frozen=True)
class Release:
    """A release date the probe read on a calendar page."""

    name: str | None
    style_code: str | None
    date: str | None
    region: str


@dataclass(frozen=True)
class Probe:
    """The probe's verdict: the kind of source (or why none), what it read, and the source it proposes."""

    url: str
    kind: str | None  # shopify, shopify_product, page, release_calendar; None when unreadable
    render: bool = False
    problem: str | None = None  # blocked, robots, unreachable, unreadable, no_product, invalid
    reason: str | None = None
    products: list[Found] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    source: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    existing: str | None = None  # a source that already checks this URL

    @property
    def readable(self) -> bool:
        """Whether the tracker can check this URL."""
        return self.kind is not None

    def to_json(self) -> dict[str, Any]:
        """The probe as JSON (what `tracker add --json` prints and the dashboard shows)."""
        return {
            "url": self.url,
            "kind": self.kind,
            "render": self.render,
            "problem": self.problem,
            "reason": self.reason,
            "products": [f.__dict__ for f in self.products],
            "releases": [r.__dict__ for r in self.releases],
            "source": self.source,
            "notes": self.notes,
            "existing": self.existing,
        }


def _catalogue(config: Config) -> list[CatalogueEntry]:
    return [
        CatalogueEntry(i, c.style_code, c.name, tuple(a.upper() for a in c.aliases))
        for i, c in enumerate(config.colorways)
    ]


def _found(products: list[Product], config: Config) -> list[Found]:
    catalogue = _catalogue(config)
    out: list[Found] = []
    for product in products:
        match = match_product(product, catalogue)
        colorway = config.colorways[match.colorway_id].name if match.colorway_id is not None else None
        out.append(
            Found(
                title=product.title,
                style_code=match.style_code or product.style_code,
                price=None if product.price is None else str(product.price),
                currency=product.currency,
                availability=product.availability.value,
                sizes=[s.to_json() for s in product.sizes],
                url=product.url,
                colorway=colorway,
                is_2002r=match.is_2002r,
                read_by=product.method,
            )
        )
    return out


def _name_for(url: str) -> str:
    host = (urlsplit(url).hostname or "shop").removeprefix("www.")
    return host


def _currency(products: list[Product], url: str) -> str | None:
    codes = {p.currency for p in products if p.currency and is_currency(p.currency)}
    if len(codes) == 1:
        return codes.pop()
    return currency_from_url(url)


def _has_product(product: Product) -> bool:
    informative = product.price is not None or product.availability is not Availability.UNKNOWN
    return informative and not product.blocked and not product.extra.get("not_product")


async def _json(fetcher: Fetcher, url: str) -> Any:
    """The JSON at url, or None when it does not answer with JSON (robots, errors and all)."""
    try:
        res = await fetcher.fetch(url, accept="application/json")
    except FetchError:
        return None
    try:
        return json.loads(res.body)
    except ValueError:
        return None


async def _shopify(url: str, config: Config, fetcher: Fetcher) -> Probe | None:
    """A Shopify shop's product or catalogue, or None when the URL is not on a Shopify shop."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    first = await _json(fetcher, f"{origin}/products.json?limit=250&page=1")
    if not isinstance(first, dict) or not isinstance(first.get("products"), list):
        return None
    cart = await _json(fetcher, f"{origin}/cart.js")
    shop_currency = cart.get("currency") if isinstance(cart, dict) else None
    currency = shop_currency if is_currency(shop_currency) else currency_from_url(url)
    handle = _PRODUCT_PATH.match(parts.path)
    if handle:
        data = await _json(fetcher, f"{origin}/products/{handle.group(1)}.js")
        if isinstance(data, dict) and "variants" in data:
            product_url = f"{origin}/products/{handle.group(1)}"
            product = extract_shopify_product_js(data, url=product_url, currency=currency)
            source = {"kind": "shopify_product", "url": product_url, "currency": currency}
            return Probe(url, "shopify_product", products=_found([product], config), source=source)
    collection = _COLLECTION_PATH.match(parts.path)
    source = {"kind": "shopify", "url": origin, "currency": currency}
    path = "/products.json"
    if collection:
        source["collection"] = collection.group(1)
        path = f"/collections/{collection.group(1)}/products.json"
    products: list[Product] = []
    for page in range(1, PREVIEW_PAGES + 1):
        payload = (
            first
            if page == 1 and not collection
            else await _json(fetcher, f"{origin}{path}?limit=250&page={page}")
        )
        if not isinstance(payload, dict) or not isinstance(payload.get("products"), list):
            break
        products += extract_shopify_catalogue(payload, base_url=origin, currency=currency, query="2002R")
        if len(payload["products"]) < 250:
            break
    probe = Probe(url, "shopify", products=_found(products, config), source=source)
    if not products:
        probe.notes.append(
            "No 2002R in the catalogue yet: the source records new ones as soon as the shop lists them."
        )
    return probe


# Reads a body with a module-level function: in the calling process, or (tracker add) in a page
# reader process with a time limit, so no page can hold the probe for longer (tracker.check.pool).
Read = Callable[..., Awaitable[Any]]


async def read_here(fn: Callable[..., Any], /, *args: Any) -> Any:
    """A Read that runs the function in this process (tools and tests without a page pool)."""
    return fn(*args)


async def _read(
    read: Read, body: bytes, url: str, content_type: str | None, config: Config, *, releases: bool = True
) -> tuple[Product | None, list[Release]]:
    """The page's product (None when it has none) and the 2002R releases it lists (when asked)."""
    tz = config.timezone if releases else None
    product, found = await read(read_page_and_releases, body, url, content_type, tz)
    listed = [
        Release(r.name, r.style_code, r.when.day.isoformat() if r.when.day else None, r.region)
        for r in found
        if mentions_2002r(r.name, r.style_code)
    ]
    return product, listed


def _unreadable(url: str, exc: ExtractError, config: Config) -> Probe:
    reason = f"{url}: the page cannot be read: {exc}"
    if isinstance(exc, TooSlow):
        limit = config.defaults.extract_timeout
        reason = f"{url}: reading the page took longer than {limit:g} s ([defaults] extract_timeout)"
    return Probe(url, None, problem="unreadable", reason=reason)


async def _page(url: str, config: Config, fetcher: Fetcher, read: Read) -> Probe:
    """A product page (plain or rendered), a release calendar, or why the URL cannot be read."""
    try:
        res = await fetcher.fetch(url)
    except FetchError as exc:
        problem = {"blocked": "blocked", "robots": "robots"}.get(exc.kind, "unreachable")
        return Probe(url, None, problem=problem, reason=str(exc))
    try:
        product, releases = await _read(read, res.body, res.final_url, res.content_type, config)
    except ExtractError as exc:
        return _unreadable(url, exc, config)
    if product is not None and product.blocked:
        reason = (
            f"{url}: the shop answers with a bot challenge ({product.blocked}); "
            "the tracker does not get past those"
        )
        return Probe(url, None, problem="blocked", reason=reason)
    # A page of several releases is a calendar (their prices are no product's); one release is a
    # calendar only when the page sells nothing.
    if len(releases) > 1 or (releases and (product is None or product.price is None)):
        calendar = {"kind": "release_calendar", "url": url}
        return Probe(url, "release_calendar", releases=releases, source=calendar)
    source: dict[str, Any]
    if product is not None and _has_product(product):
        source = {"kind": "page", "url": url, "currency": _currency([product], url)}
        return Probe(url, "page", products=_found([product], config), source=source)
    try:
        rendered = await render(fetcher, url)
    except FetchError as exc:
        reason = f"{url}: no product in the page's HTML, and rendering it failed: {exc}"
        return Probe(url, None, problem="no_product", reason=reason)
    try:
        body, final, kind = rendered.body, rendered.final_url, rendered.content_type
        product, _ = await _read(read, body, final, kind, config, releases=False)
    except ExtractError as exc:
        return _unreadable(url, exc, config)
    if product is None or not _has_product(product):
        reason = f"{url}: no price or stock on the page, neither in its HTML nor after its JavaScript ran"
        return Probe(url, None, problem="no_product", reason=reason)
    source = {"kind": "page", "url": url, "currency": _currency([product], url), "render": True}
    probe = Probe(url, "page", render=True, products=_found([product], config), source=source)
    probe.notes.append(
        "The product only appears after the page's JavaScript runs: the source renders it in headless "
        "Chromium (about a hundred times the cost of a plain fetch)."
    )
    return probe


async def probe(
    url: str, config: Config, fetcher: Fetcher, *, name: str | None = None, read: Read = read_here
) -> Probe:
    """Work out what url is and what the tracker would read there; nothing is written. Pages are read
    with read: `tracker add` passes a page pool's, so a page built to be slow is given up on in time."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Probe(url, None, problem="invalid", reason=f"{url!r} is not an http(s) URL")
    found = await _shopify(url, config, fetcher) or await _page(url, config, fetcher, read)
    if found.source is not None:
        values = {k: v for k, v in found.source.items() if v not in (None, "")}
        source = {"name": unique_name(config, name or _name_for(url)), **values}
        found = replace(found, source=source, existing=source_for_url(config, source["url"]))
        if "currency" not in source and found.kind in ("shopify", "shopify_product"):
            found.notes.append('The shop\'s currency is unknown: add currency = "..." to the source.')
    products = found.products
    if found.readable and products and not any(p.is_2002r for p in products):
        found.notes.append("What the page shows is not a 2002R: the tracker records it only if it is one.")
    return found
