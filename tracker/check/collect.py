"""Collect: fetch a source's URLs and read each body into products or releases, writing nothing.

One collector per source kind, in COLLECTORS; each takes the source, the fetcher, what earlier
checks left (validators for conditional requests) and the reader that parses bodies off the event
loop with a time limit (tracker.check.pool), and returns a Collected.

The readers (module-level functions, so a worker process can run them) import the extraction stack
when they run: the page pool's fork server has it loaded already (tracker.check.pool), and the
process that fetches and records never loads the HTML parsers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tracker.check.summary import Collected, Fetched
from tracker.config import Source as SourceConfig
from tracker.errors import ExtractError, FetchError
from tracker.extract.limits import parse_json
from tracker.extract.model import Availability, Product, ReleaseInfo
from tracker.fetch import Fetcher, FetchResult
from tracker.fetch.render import render

SHOPIFY_PAGE_SIZE = 250
T = TypeVar("T")


@dataclass(frozen=True)
class Prior:
    """What earlier checks left for this one: validators to send, the zone for dates without one."""

    http_cache: dict[str, dict[str, str]] = field(default_factory=dict)
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    timezone: str = "UTC"


class Reader(Protocol):
    """Runs a reader function (a module-level one: it may run in another process) on a body."""

    async def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


async def read_here(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """A Reader that reads in this process, on the event loop (for tools and tests without a pool)."""
    return fn(*args, **kwargs)


Collector = Callable[[SourceConfig, Fetcher, Prior, Reader], Awaitable[Collected]]


def has_information(product: Product) -> bool:
    """Whether a product says anything worth recording: a price, a stock state or sizes."""
    return (
        product.price is not None or product.availability is not Availability.UNKNOWN or bool(product.sizes)
    )


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _account(out: Collected, res: FetchResult) -> None:
    out.requests += res.attempts
    out.nbytes += len(res.body)


def _unreadable(url: str, exc: BaseException) -> FetchError:
    """Whatever a shop sends must end in a recorded failure, never a crash."""
    if isinstance(exc, ExtractError | ValueError):
        return FetchError(f"{url}: cannot read the page: {exc}", kind="extract_error")
    return FetchError(f"{url}: cannot read the page ({type(exc).__name__}: {exc})", kind="extract_error")


def _catalogue_page(src: SourceConfig, url: str, base: str, body: bytes) -> tuple[list[Product], int]:
    """The tracked products of one products.json page, and how many products the page held."""
    try:
        payload = parse_json(body, what=f"{url}: the catalogue")
        raw = payload["products"]
        if not isinstance(raw, list):
            raise TypeError("products is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise ExtractError(f"{url}: not a Shopify products.json ({exc})") from None
    from tracker.extract.shopify import extract_shopify_catalogue

    try:
        products = extract_shopify_catalogue(payload, base_url=base, currency=src.currency, query=src.query)
        products = place_sizes(src, *products)
    except ExtractError:
        raise
    except Exception as exc:  # whatever a shop sends must end in a recorded failure
        raise ExtractError(f"{url}: cannot read the catalogue ({type(exc).__name__}: {exc})") from None
    return products, len(raw)


async def collect_shopify(src: SourceConfig, fetcher: Fetcher, prior: Prior, read: Reader) -> Collected:
    """Page through a Shopify catalogue's products.json (conditional requests per page)."""
    out = Collected(http_cache=dict(prior.http_cache))
    base = (src.url or src.all_urls()[0]).rstrip("/")
    path = f"/collections/{src.collection}/products.json" if src.collection else "/products.json"
    complete = False
    for page in range(1, src.max_pages + 1):
        url = f"{base}{path}?limit={SHOPIFY_PAGE_SIZE}&page={page}"
        cached = prior.http_cache.get(url, {})
        res = await fetcher.fetch(
            url,
            source=src,
            etag=cached.get("etag"),
            last_modified=cached.get("last_modified"),
            accept="application/json",
        )
        _account(out, res)
        if res.not_modified:
            out.not_modified.append(url)
            count = int(cached.get("count", str(SHOPIFY_PAGE_SIZE)))
        else:
            products, count = await read(_catalogue_page, src, url, base, res.body)
            out.answered += 1
            out.items.extend(Fetched(p, p.external_id or p.url or "") for p in products)
            out.http_cache[url] = _validators(res, count)
        if count < SHOPIFY_PAGE_SIZE:
            complete = True
            break
    # max_pages reached (complete stays False): a listing missing from what we read is not gone.
    out.complete = complete and not out.not_modified
    return out


def _validators(res: FetchResult, count: int) -> dict[str, str]:
    validators = {"count": str(count)}
    if res.etag:
        validators["etag"] = res.etag
    if res.last_modified:
        validators["last_modified"] = res.last_modified
    return validators


def place_sizes(src: SourceConfig, *products: Product) -> list[Product]:
    """The products with their sizes placed in size systems: the label, the source's size_system and
    size_chart, else the shop's country."""
    chart = src.chart()
    return [p.placed_sizes(system=src.size_system, chart=chart) for p in products]


def read_product(src: SourceConfig, url: str, res: FetchResult) -> Product:
    """Read one product body: a Shopify product's .js for shopify_product sources, else a page."""
    from tracker.extract.page import extract_page
    from tracker.extract.shopify import extract_shopify_product_js

    if src.kind == "shopify_product":
        product = extract_shopify_product_js(res.body, url=_strip_query(url), currency=src.currency)
    else:
        product = extract_page(
            res.body,
            res.final_url,
            selectors=src.selectors,
            currency=src.currency,
            content_type=res.content_type,
        )
    return place_sizes(src, product)[0]


def read_releases(body: bytes, url: str, **options: Any) -> list[ReleaseInfo]:
    """Every release a calendar page gives (tracker.extract.calendar.extract_releases)."""
    from tracker.extract.calendar import extract_releases

    return extract_releases(body, url, **options)


def _sort_product(src: SourceConfig, url: str, res: FetchResult, product: Product, out: Collected) -> None:
    """File one read product: blocked, no product, a placeholder price, or an item to record."""
    if product.blocked:
        out.blocked.append((url, product.blocked))
    elif product.extra.get("not_product") or (src.kind != "shopify_product" and not has_information(product)):
        # A page with no price, stock or sizes (a region picker, a home page) is no product page.
        out.not_product.append(url)
    elif product.extra.get("zero_price"):
        # A price of 0 is a placeholder: recording the page would replace the real price with none.
        out.errors.append((url, FetchError(f"{url}: the page gives a price of 0", kind="extract_error")))
    elif product.extra.get("unusable_price"):
        # "-150.00" or "1e308" is no price; recording the page would replace the real one with none.
        why = f"{url}: the page gives a price that is no price ({product.extra['unusable_price']!r})"
        out.errors.append((url, FetchError(why, kind="extract_error")))
    else:
        out.answered += 1
        out.items.append(Fetched(product.with_(external_id=url), url, res.etag, res.last_modified))


async def _collect_one(
    src: SourceConfig, fetcher: Fetcher, url: str, prior: Prior, *, read: Reader, out: Collected
) -> None:
    as_js = src.kind == "shopify_product"
    etag, last_modified = prior.validators.get(url, (None, None))
    try:
        if src.render:  # the page after its JavaScript ran, in the shared headless browser
            res = await render(fetcher, url, source=src)
        else:
            res = await fetcher.fetch(
                _strip_query(url) + ".js" if as_js else url,
                source=src,
                etag=etag,
                last_modified=last_modified,
                accept="application/json" if as_js else None,
            )
    except FetchError as exc:
        out.errors.append((url, exc))
        return
    _account(out, res)
    if res.not_modified:
        out.not_modified.append(url)
        return
    try:
        product = await read(read_product, src, url, res)
    except Exception as exc:  # whatever a shop sends must end in a recorded failure, not a crash
        out.errors.append((url, _unreadable(url, exc)))
        return
    _sort_product(src, url, res, product, out)


async def collect_pages(src: SourceConfig, fetcher: Fetcher, prior: Prior, read: Reader) -> Collected:
    """Fetch every product URL of a source concurrently (the fetcher enforces per-host limits)."""
    out = Collected()
    urls = src.all_urls()
    await asyncio.gather(*(_collect_one(src, fetcher, url, prior, read=read, out=out) for url in urls))
    out.complete = True
    return out


async def collect_calendar(src: SourceConfig, fetcher: Fetcher, prior: Prior, read: Reader) -> Collected:
    """Fetch a release calendar's pages and read every release they give."""
    out = Collected()

    async def one(url: str) -> list[ReleaseInfo]:
        try:
            res = await fetcher.fetch(url, source=src)
        except FetchError as exc:
            out.errors.append((url, exc))
            return []
        _account(out, res)
        try:
            found = await read(
                read_releases,
                res.body,
                res.final_url,
                selectors=src.selectors,
                currency=src.currency,
                default_tz=prior.timezone,
                content_type=res.content_type,
            )
        except Exception as exc:  # whatever a calendar sends must end in a recorded failure
            out.errors.append((url, _unreadable(url, exc)))
            return []
        out.answered += 1
        return found

    # Pages are fetched together but read in the config's order, and a dated entry comes before
    # a "TBC" one: when two pages give the same colorway and region, the result never depends on
    # which answered first.
    pages = await asyncio.gather(*(one(u) for u in src.all_urls()))
    infos = [info for found in pages for info in found]
    out.releases.extend(sorted(infos, key=lambda info: info.when.day is None))
    out.complete = True
    return out


async def collect_unsupported(src: SourceConfig, fetcher: Fetcher, prior: Prior, read: Reader) -> Collected:
    """A kind this version cannot check: recorded as such on the run."""
    raise FetchError(f"{src.name}: sources of kind {src.kind!r} are not checked yet", kind="unsupported")


COLLECTORS: dict[str, Collector] = {
    "shopify": collect_shopify,
    "shopify_product": collect_pages,
    "page": collect_pages,
    "release_calendar": collect_calendar,
}


def collector_for(kind: str) -> Collector:
    """The collector of a source kind (every kind the config accepts has one)."""
    return COLLECTORS.get(kind, collect_unsupported)
