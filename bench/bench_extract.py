"""Time extract_page against the lexbor parse alone: a ~400 KB product page with JSON-LD, and labelled pages.

Usage: python bench/bench_extract.py [FOLDER] [--runs N] [--page-runs N]

Without FOLDER: the built page, extract_page against the lexbor and BeautifulSoup parses of it. With a
folder of labelled pages (labels.json and html/<id>.html.gz, as bench/extraction_eval.py reads), also
each page's median extract_page time, parse time and depth-guard time (taken in turns), and the median
over the pages of each with its ratio to the parse. The guard (tracker.extract.limits.bound_depth) is
part of extract_page: it reads the page's tags before the parser does, so no page can nest deep
enough to make the parse slow.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bs4 import BeautifulSoup
from selectolax.lexbor import LexborHTMLParser

from tracker.extract import extract_page
from tracker.extract.limits import bound_depth

SIZES = ["7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13"]


def build_page(target_kb: int = 400) -> str:
    """A product page shaped like a real shop's: menus, product block, carousel, reviews, scripts."""
    ld = {
        "@context": "https://schema.org",
        "@type": "ProductGroup",
        "name": "New Balance 2002R Protection Pack Rain Cloud",
        "productGroupID": "M2002RDA",
        "brand": {"@type": "Brand", "name": "New Balance"},
        "image": ["https://cdn.shop.example/m2002rda-1.jpg"],
        "hasVariant": [
            {
                "@type": "Product",
                "sku": f"M2002RDA-{s}",
                "size": s,
                "offers": {
                    "@type": "Offer",
                    "price": "150.00",
                    "priceCurrency": "USD",
                    "availability": "https://schema.org/" + ("InStock" if i % 3 else "OutOfStock"),
                    "url": f"https://shop.example/products/m2002rda?variant={1000 + i}",
                },
            }
            for i, s in enumerate(SIZES)
        ],
    }
    menu = "".join(
        f'<li class="menu__item"><a class="menu__link" href="/collections/c{i}">Category {i}</a>'
        '<ul class="submenu">'
        + "".join(f"<li><a href=/c{i}/{j}>Sub {j}</a></li>" for j in range(12))
        + "</ul></li>"
        for i in range(30)
    )
    sizes = "".join(
        f'<button class="size-picker__option{" is-disabled" if i % 3 == 0 else ""}" data-size="{s}"'
        f"{' disabled' if i % 3 == 0 else ''}>US {s}</button>"
        for i, s in enumerate(SIZES)
    )
    card = (
        '<div class="product-card swiper-slide"><a href="/products/p{n}">'
        '<img src="/img/p{n}.jpg" alt="Sneaker {n}">'
        '<h3 class="product-card__title">Running shoe model {n}</h3></a>'
        '<div class="product-card__price"><span class="price">${p}.00</span></div>'
        '<button class="quick-add">Add to cart</button></div>'
    )
    carousel = "".join(card.format(n=n, p=90 + n) for n in range(40))
    review = (
        '<article class="review"><div class="review__stars" aria-label="5 stars"></div>'
        "<h4>Great everyday sneaker</h4><p>The 2002R fits true to size, the suede is soft and the "
        "ABZORB midsole is comfortable for long walks. Colour matches the photos.</p>"
        '<span class="review__author">Customer {n}</span></article>'
    )
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>New Balance 2002R Protection Pack Rain Cloud | Shop</title>"
        '<meta property="og:title" content="New Balance 2002R Protection Pack Rain Cloud">'
        '<meta property="og:image" content="https://cdn.shop.example/m2002rda-1.jpg">'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        "<style>" + ".c{color:#123456;margin:0 auto;padding:4px 8px}" * 400 + "</style></head>"
    )
    body = (
        f'<body><header class="site-header"><nav><ul class="menu">{menu}</ul></nav></header>'
        '<main><section class="product" id="product-main"><h1 class="product__title">'
        "New Balance 2002R Protection Pack Rain Cloud</h1>"
        '<div class="product__price"><span class="price price--sale">$150.00</span></div>'
        f'<div class="size-picker">{sizes}</div>'
        '<button type="submit" name="add" class="product-form__submit">Add to cart</button>'
        "</section>"
        f'<section class="related-products"><div class="swiper-wrapper">{carousel}</div></section>'
        '<section class="reviews">'
    )
    tail = '</section></main><footer class="site-footer"><p>© Shop</p></footer></body></html>'
    reviews = []
    n = 0
    size = len(head) + len(body) + len(tail)
    script = "<script>window.__STATE__=" + json.dumps({"k": list(range(300))}) + ";</script>"
    while size < target_kb * 1024:
        chunk = review.format(n=n) if n % 10 else script
        reviews.append(chunk)
        size += len(chunk)
        n += 1
    return head + body + "".join(reviews) + tail


def _median_ms(fn: object, runs: int, clock: object = time.perf_counter) -> float:
    """Median milliseconds of fn over runs, by wall clock or (clock=time.process_time) CPU time."""
    times = []
    for _ in range(runs):
        start = clock()  # type: ignore[operator]
        fn()  # type: ignore[operator]
        times.append((clock() - start) * 1000)  # type: ignore[operator]
    return statistics.median(times)


def _in_turns(*fns: object, runs: int) -> tuple[float, ...]:
    """Median wall milliseconds of each function, timed in turns so a busy moment weighs on all."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, taken in zip(fns, times, strict=True):
            taken.append(_median_ms(fn, 1))
    return tuple(statistics.median(taken) for taken in times)


def folder_medians(folder: Path, runs: int) -> tuple[int, float, float, float]:
    """(pages, median extract_page ms, median lexbor parse ms, median depth-guard ms) over a folder."""
    labels = json.loads((folder / "labels.json").read_text())
    extract_times: list[float] = []
    parse_times: list[float] = []
    guard_times: list[float] = []
    for page_id, label in sorted(labels.items()):
        body = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        url = label.get("url")
        text = body.decode("utf-8", "replace")
        extract_page(body, url)  # warm: the first read of a page fills per-key memos
        extract_ms, parse_ms, guard_ms = _in_turns(
            lambda: extract_page(body, url),  # noqa: B023
            lambda: LexborHTMLParser(text),  # noqa: B023
            lambda: bound_depth(text),  # noqa: B023
            runs=runs,
        )
        extract_times.append(extract_ms)
        parse_times.append(parse_ms)
        guard_times.append(guard_ms)
    median = statistics.median
    return len(labels), median(extract_times), median(parse_times), median(guard_times)


def main(argv: list[str] | None = None) -> int:
    """Print page size, extract_page median ms, the parses' median ms and the ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", help="folder of labelled pages (labels.json, html/*.html.gz)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--page-runs", type=int, default=5, help="runs per labelled page (default 5)")
    parser.add_argument("--kb", type=int, default=400)
    args = parser.parse_args(argv)
    page = build_page(args.kb).encode()
    url = "https://shop.example/products/m2002rda"
    product = extract_page(page, url)
    assert product.price is not None and str(product.price) == "150.00", product
    text = page.decode()
    extract_ms, lexbor_ms, guard_ms = _in_turns(
        lambda: extract_page(page, url),
        lambda: LexborHTMLParser(text),
        lambda: bound_depth(text),
        runs=args.runs,
    )
    # CPU time too: on a shared machine the wall clock also counts time spent waiting for a core.
    extract_cpu_ms = _median_ms(lambda: extract_page(page, url), args.runs, time.process_time)
    bs4_runs = max(5, args.runs // 10)
    bs4_ms = _median_ms(lambda: BeautifulSoup(text, "html.parser"), bs4_runs)
    print(f"page: {len(page) / 1024:.0f} KB, {len(product.sizes)} sizes, method {product.method}")
    print(f"extract_page median: {extract_ms:.2f} ms wall, {extract_cpu_ms:.2f} ms CPU over {args.runs} runs")
    share = extract_ms / lexbor_ms
    print(f"lexbor parse alone median: {lexbor_ms:.2f} ms (extract_page = {share:.1f}x the parse)")
    print(
        f"depth guard (bound_depth, before the parse) alone median: {guard_ms:.2f} ms"
        f" ({guard_ms / lexbor_ms:.1f}x the parse)"
    )
    print(f"bs4 html.parser parse alone median: {bs4_ms:.1f} ms over {bs4_runs} runs")
    print(f"ratio: extract_page is {bs4_ms / extract_ms:.0f}x faster than the bs4 parse alone")
    if args.folder:
        pages, extract_median, parse_median, guard_median = folder_medians(Path(args.folder), args.page_runs)
        print(
            f"{pages} pages of {args.folder}: median extract_page {extract_median:.2f} ms, median lexbor"
            f" parse {parse_median:.2f} ms (extract_page = {extract_median / parse_median:.1f}x the parse),"
            f" median depth guard {guard_median:.2f} ms ({guard_median / parse_median:.1f}x the parse)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
