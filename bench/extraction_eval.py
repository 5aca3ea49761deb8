"""Score extract_page on labelled product pages (peb format): price and availability P/R/F1.

With --strip-structured, every page first loses its structured data (JSON-LD, microdata
attributes, OpenGraph / product / twitter price and stock tags, data-layer scripts holding prices),
so the score measures the visible-page rules alone: what shops without structured data get.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selectolax.lexbor import LexborHTMLParser

from tracker.extract.page import decode, extract_page

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "peb-dev"


_MICRODATA_ATTRS = ("itemprop", "itemscope", "itemtype", "itemid", "itemref")
# Meta tags that state a price, currency or stock for machines (og:price:amount,
# product:availability, twitter:label1 / twitter:data1 ...).
_META_KEY = re.compile(r"price|amount|currency|availab|stock|twitter:(label|data)", re.I)
# Scripts that carry product data for analytics or the page's own app (dataLayer, window.__STATE__,
# Shopify's meta, gtag items): a price written as a key / value.
_DATA_SCRIPT = re.compile(r"""["']?\b(price|amount|sale_?price|final_?price)\b["']?\s*[:=]""", re.I)


def strip_structured(body: bytes) -> str:
    """The page without JSON-LD, microdata, price / stock meta tags and data scripts with prices."""
    tree = LexborHTMLParser(decode(body))
    for node in tree.css("script"):
        kind = (node.attributes.get("type") or "").lower()
        text = node.text(deep=False) or ""
        if "ld+json" in kind or _DATA_SCRIPT.search(text):
            node.decompose()
    for node in tree.css("meta"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or ""
        if _META_KEY.search(key):
            node.decompose()
    for node in tree.css(",".join(f"[{a}]" for a in _MICRODATA_ATTRS)):
        for attr in _MICRODATA_ATTRS:
            if attr in node.attributes:
                del node.attrs[attr]
    return tree.html or ""


def _dec(value: str) -> Decimal | None:
    try:
        return Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None


class Score:
    """True positives, false positives and false negatives for one attribute."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, predicted: object, labels: list[object]) -> bool:
        """Count one page by the benchmark's rules; True when the prediction is correct."""
        if predicted is None:
            if labels:
                self.fn += 1
                return False
            return True
        if predicted in labels:
            self.tp += 1
            return True
        self.fp += 1
        if labels:
            self.fn += 1
        return False

    def prf(self) -> tuple[float, float, float]:
        """Precision, recall, F1."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the table (and the per-page errors with --errors)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "folder", nargs="?", default=str(DEFAULT_DIR), help="folder with labels.json and html/"
    )
    parser.add_argument("--errors", action="store_true", help="print every page the extractor got wrong")
    parser.add_argument(
        "--strip-structured",
        action="store_true",
        help="remove JSON-LD, microdata, price / stock meta tags and data scripts first (visible rules only)",
    )
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    labels = json.loads((folder / "labels.json").read_text())
    price, avail, oos = Score(), Score(), Score()
    times: list[float] = []
    errors: list[str] = []
    for page_id, label in sorted(labels.items()):
        path = folder / "html" / f"{page_id}.html.gz"
        body: bytes | str = gzip.decompress(path.read_bytes())
        if args.strip_structured:
            body = strip_structured(body)  # type: ignore[arg-type]
        start = time.perf_counter()
        product = extract_page(body, label.get("url"))
        times.append((time.perf_counter() - start) * 1000)
        want_prices = [d for d in (_dec(v) for v in label.get("price", [])) if d is not None]
        ok_price = price.add(product.price, want_prices)
        # The benchmark has two classes; no prediction (unknown) counts as InStock.
        got_avail = "OutOfStock" if product.availability.value == "OutOfStock" else "InStock"
        want_avail = label.get("availability", [])
        ok_avail = avail.add(got_avail, want_avail)
        oos.add(
            got_avail if got_avail == "OutOfStock" else None, [v for v in want_avail if v == "OutOfStock"]
        )
        if not (ok_price and ok_avail):
            errors.append(
                f"{page_id[:10]} price {product.price} want {label.get('price')} [{product.method}] "
                f"avail {got_avail} want {want_avail} {label.get('url', '')[:70]}"
            )
    mode = "structured data stripped (visible rules only)" if args.strip_structured else "as served"
    print(f"pages: {len(labels)}, {mode}")
    print(f"{'attribute':<14}{'precision':>10}{'recall':>10}{'F1':>10}")
    for name, score in (("price", price), ("availability", avail), ("OutOfStock", oos)):
        p, r, f = score.prf()
        counts = f"({score.tp} right, {score.fp} wrong, {score.fn} missed)"
        print(f"{name:<14}{p:>10.3f}{r:>10.3f}{f:>10.3f}   {counts}")
    print(f"median extraction time: {statistics.median(times):.1f} ms (max {max(times):.0f} ms)")
    if args.errors:
        print("\nerrors:")
        for line in errors:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
