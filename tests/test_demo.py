"""The demo store: real HTTP on 127.0.0.1, Shopify shapes, the scripted timeline, ETags, its config."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tracker.config import parse_text
from tracker.demo import DemoClock, DemoStore, ManualClock, demo_config_text

PHANTOM = "new-balance-2002r-protection-pack-phantom-m2002rdb"
SEA_SALT_PAGE = "/brand/pd/2002r-protection-pack-sea-salt/M2002RDC.html"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[DemoStore]:
    demo = DemoStore(clock=clock, step_seconds=60.0, bench_products=5)
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture
def client(store: DemoStore) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=store.base_url, timeout=10) as c:
        yield c


def _products(
    client: httpx.Client, path: str = "/boutique/products.json", **params: Any
) -> list[dict[str, Any]]:
    r = client.get(path, params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    products: list[dict[str, Any]] = r.json()["products"]
    return products


def _all_products(client: httpx.Client, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in range(1, 50):
        chunk = _products(client, limit=limit, page=page)
        if not chunk:
            return out
        out.extend(chunk)
    raise AssertionError("pagination never ended")


def _jsonld(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD on the page"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def _brand_stock(client: httpx.Client, path: str) -> dict[str, bool]:
    data = _jsonld(client.get(path).text)
    if data["@type"] == "ProductGroup":
        return {v["size"]: v["offers"]["availability"].endswith("InStock") for v in data["hasVariant"]}
    return {o["name"]: o["availability"].endswith("InStock") for o in data["offers"]}


def _variant_by_code(products: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [p for p in products if code.lower() in p["handle"]]


def test_start_returns_a_local_base_url_and_stop_frees_it() -> None:
    demo = DemoStore(clock=ManualClock())
    base = demo.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
    assert httpx.get(base + "/robots.txt").status_code == 200
    demo.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/robots.txt", timeout=2)


def test_products_json_has_shopify_shape(client: httpx.Client) -> None:
    products = _products(client, limit=250, page=1)
    phantom = next(p for p in products if p["handle"] == PHANTOM)
    for key in (
        "id",
        "title",
        "handle",
        "vendor",
        "product_type",
        "tags",
        "published_at",
        "images",
        "options",
    ):
        assert key in phantom, key
    assert phantom["options"][0]["name"] == "Size"
    assert phantom["images"][0]["src"].startswith(client.base_url.scheme + "://")
    variant = next(v for v in phantom["variants"] if v["option1"] == "9.5")
    assert variant["sku"] == "M2002RDB-095"
    assert variant["price"] == "150.00"
    assert variant["compare_at_price"] is None
    assert isinstance(variant["available"], bool)
    # Filtering matters: the boutique also sells other models.
    titles = " ".join(p["title"] for p in products)
    assert "990v6" in titles and "550" in titles
    assert sum("2002R" in p["title"] for p in products) == 4


def test_pagination_stops_with_an_empty_page(client: httpx.Client) -> None:
    everything = _products(client, limit=250, page=1)
    assert _products(client, limit=250, page=2) == []
    paged = _all_products(client, limit=2)
    assert [p["id"] for p in paged] == [p["id"] for p in everything]
    assert len(_products(client, limit=2, page=1)) == 2


def test_collection_products_json_filters(client: httpx.Client) -> None:
    only = _products(client, "/boutique/collections/2002r/products.json", limit=250)
    assert only and all("2002R" in p["title"] for p in only)
    assert client.get("/boutique/collections/no-such/products.json").status_code == 404


def test_product_js_prices_are_integer_cents(client: httpx.Client) -> None:
    data = client.get(f"/boutique/products/{PHANTOM}.js").json()
    assert data["price"] == 15000
    assert all(v["price"] == 15000 and isinstance(v["price"], int) for v in data["variants"])
    assert data["variants"][0]["options"] == [data["variants"][0]["option1"]]
    assert "currency" not in data
    assert data["images"][0].startswith("//")


def test_boutique_html_page_has_json_ld_offers(client: httpx.Client) -> None:
    page = client.get(f"/boutique/products/{PHANTOM}").text
    data = _jsonld(page)
    assert data["@type"] == "Product" and data["sku"] == "M2002RDB"
    assert {o["priceCurrency"] for o in data["offers"]} == {"USD"}
    assert "Add to cart" in page


def test_brand_pages_use_both_json_ld_layouts(store: DemoStore, client: httpx.Client) -> None:
    kinds = set()
    for url in store.brand_urls():
        r = client.get(url)
        assert r.status_code == 200
        data = _jsonld(r.text)
        kinds.add(data["@type"])
        assert "$150.00" in r.text or "$130.00" in r.text
        assert 'class="add-to-cart"' in r.text
    assert kinds == {"ProductGroup", "Product"}
    assert client.get("/brand/pd/2002r/M2002RXX.html").status_code == 404


def test_timeline_changes_exactly_what_it_should(
    store: DemoStore, clock: ManualClock, client: httpx.Client
) -> None:
    def snapshot() -> tuple[dict[str, Any], dict[str, dict[str, bool]]]:
        boutique = {
            p["handle"]: [
                (v["option1"], v["price"], v["compare_at_price"], v["available"]) for v in p["variants"]
            ]
            for p in _products(client, limit=250)
        }
        brand = {url: _brand_stock(client, url) for url in store.brand_urls()}
        return boutique, brand

    assert store.current_step == 0
    b0, s0 = snapshot()
    assert not any(v[2] for vs in b0.values() for v in vs), "no markdown at baseline"
    sea = store.base_url + SEA_SALT_PAGE
    assert any(s0[sea].values())

    clock.set_step(1)
    assert store.current_step == 1
    b1, s1 = snapshot()
    assert {v[1:3] for v in b1[PHANTOM]} == {("119.99", "150.00")}
    assert {k: v for k, v in b1.items() if k != PHANTOM} == {k: v for k, v in b0.items() if k != PHANTOM}
    assert s1 == s0

    clock.set_step(2)
    b2, s2 = snapshot()
    assert b2 == b1
    assert not any(s2[sea].values()), "Sea Salt sold out in every size"
    assert {k: v for k, v in s2.items() if k != sea} == {k: v for k, v in s0.items() if k != sea}

    clock.advance(60)
    assert store.current_step == 3
    b3, s3 = snapshot()
    assert b3 == b1
    assert [size for size, ok in s3[sea].items() if ok] == ["10"]

    clock.set_step(4)
    b4, s4 = snapshot()
    assert s4 == s3
    new = set(b4) - set(b3)
    assert new == {"new-balance-2002r-black-castlerock-m2002rfb"}
    assert {k: b4[k] for k in b3} == b3

    clock.advance(10_000)
    assert store.current_step == 4, "the last step stays in effect"
    assert [s.index for s in store.steps] == [0, 1, 2, 3, 4]
    assert all(s.description for s in store.steps)


def test_new_colorway_is_not_in_the_demo_config(store: DemoStore) -> None:
    config = parse_text(demo_config_text(store.base_url))
    assert config.colorway("M2002RFB") is None
    assert {c.style_code for c in config.colorways} >= {"M2002RDA", "M2002RDB", "M2002RDC"}


@pytest.mark.parametrize(
    "path",
    [
        "/boutique/products.json?limit=250&page=1",
        f"/boutique/products/{PHANTOM}.js",
        f"/boutique/products/{PHANTOM}",
        SEA_SALT_PAGE,
        "/bench/p/3.html",
    ],
    ids=["products-json", "product-js", "boutique-page", "brand-page", "bench-page"],
)
def test_etag_answers_304_until_the_content_changes(
    path: str, store: DemoStore, clock: ManualClock, client: httpx.Client
) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    assert store.not_modified[path.split("?", maxsplit=1)[0]] == 2
    clock.set_step(4)
    changed = client.get(path, headers={"If-None-Match": etag})
    if changed.status_code == 200:
        assert changed.headers["etag"] != etag
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_markdown_changes_the_etag(store: DemoStore, clock: ManualClock, client: httpx.Client) -> None:
    path = f"/boutique/products/{PHANTOM}.js"
    etag = client.get(path).headers["etag"]
    clock.set_step(1)
    r = client.get(path, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["price"] == 11999


def test_requests_are_counted_per_path(store: DemoStore, client: httpx.Client) -> None:
    for _ in range(3):
        client.get("/boutique/products.json", params={"page": 1})
    client.get("/robots.txt")
    assert store.requests["/boutique/products.json"] == 3
    assert store.requests["/robots.txt"] == 1


def test_robots_txt_allows_product_pages(client: httpx.Client) -> None:
    from urllib.robotparser import RobotFileParser

    parser = RobotFileParser()
    parser.parse(client.get("/robots.txt").text.splitlines())
    assert parser.can_fetch("2002r-tracker", "http://x/boutique/products.json")
    assert parser.can_fetch("2002r-tracker", "http://x" + SEA_SALT_PAGE)


def test_bench_pages_are_distinct_and_about_30_kb(client: httpx.Client) -> None:
    bodies = [client.get(f"/bench/p/{i}.html") for i in range(5)]
    assert all(b.status_code == 200 for b in bodies)
    assert all(28_000 <= len(b.content) <= 34_000 for b in bodies)
    codes = {_jsonld(b.text)["sku"] for b in bodies}
    assert len(codes) == 5
    assert client.get("/bench/p/5.html").status_code == 404


def test_latency_is_served_in_parallel() -> None:
    """Eight concurrent requests with added latency are all in flight at once, not queued."""
    demo = DemoStore(clock=ManualClock(), latency=2.0, bench_products=8)
    base = demo.start()
    results: list[int] = []
    # The clients are made first (each loads its TLS settings: tens of ms on a busy machine) and the
    # requests leave together, so a queued one is the server's doing: with each client made in its
    # thread, the first answer could come back before the last request was sent.
    clients = [httpx.Client(timeout=30) for _ in range(8)]
    start = threading.Barrier(8)

    def get(i: int) -> None:
        start.wait(timeout=30)
        results.append(clients[i].get(f"{base}/bench/p/{i}.html").status_code)

    threads = [threading.Thread(target=get, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while demo.peak_in_flight < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert demo.peak_in_flight == 8, f"only {demo.peak_in_flight} requests were served at once"
        for t in threads:
            t.join(timeout=30)
        assert results == [200] * 8
    finally:
        for client in clients:
            client.close()
        demo.stop()


def test_demo_clock_speeds_up_time() -> None:
    clock = DemoClock(speed=1000.0)
    demo = DemoStore(clock=clock, step_seconds=60.0)
    demo.start()
    try:
        deadline = time.monotonic() + 5
        while demo.current_step < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert demo.current_step >= 1
    finally:
        demo.stop()


def test_demo_config_text_parses(store: DemoStore) -> None:
    text = demo_config_text(store.base_url, data_dir="/tmp/somewhere", interval="15s")
    config = parse_text(text)
    assert config.database_url == "sqlite:////tmp/somewhere/tracker.db"
    assert config.defaults.interval == 15.0
    assert config.defaults.respect_robots is True
    boutique = config.source("Demo Boutique")
    brand = config.source("Demo Brand Store")
    assert boutique is not None and brand is not None
    assert boutique.kind == "shopify" and boutique.url == store.base_url + "/boutique"
    assert brand.kind == "page" and brand.urls == store.brand_urls()
    assert boutique.currency == brand.currency == "USD"
    watched = [c for c in config.colorways if c.watched]
    assert watched and all(c.sizes and c.target_price for c in watched)
    phantom = config.colorway("M2002RDB")
    assert phantom is not None and phantom.list_price == {"USD": Decimal("150")}
    # Every brand URL in the config is served.
    with httpx.Client(timeout=10) as c:
        assert all(c.get(u).status_code == 200 for u in brand.urls)


def test_fetcher_gets_304_from_the_demo_store(store: DemoStore, clock: ManualClock) -> None:
    """The demo store and the fetcher agree on conditional requests and robots.txt."""
    import asyncio

    from tracker.config import Defaults
    from tracker.fetch import Fetcher

    url = store.brand_urls()[2]

    async def go() -> list[tuple[int, bool]]:
        async with Fetcher(Defaults(per_host_delay=0)) as fetcher:
            first = await fetcher.fetch(url)
            again = await fetcher.fetch(url, etag=first.etag)
            clock.set_step(2)
            changed = await fetcher.fetch(url, etag=first.etag)
            return [(r.status_code, r.not_modified) for r in (first, again, changed)]

    assert asyncio.run(go()) == [(200, False), (304, True), (200, False)]
    assert store.requests["/robots.txt"] == 1
