"""Time reading hostile pages: nested elements, before (the parser alone) and after the depth bound.

Usage: python bench/bench_hostile.py [--max-raw LEVELS]

Prints, per nesting depth, the seconds the HTML parser alone takes on the page (what reading cost
before the bound: it grows with the square of the depth) and what extract_page takes now (the bound,
then the parse, then every rule), with the ratio; then the bound's cost on an ordinary 400 KB page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selectolax.lexbor import LexborHTMLParser

from bench.bench_extract import build_page
from tracker.demo.faults import product_page
from tracker.extract import extract_page
from tracker.extract.limits import bound_depth

URL = "https://shop.example/p/new-balance-2002r-m2002rdb"


def nested(levels: int) -> str:
    """The fault store's product page with its product block wrapped in `levels` nested <div>s."""
    page = product_page()
    page = page.replace('<main class="product">', '<main class="product">' + "<div>" * levels)
    return page.replace("</main>", "</div>" * levels + "</main>")


def seconds(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-raw", type=int, default=40_000, help="deepest page given to the bare parser")
    args = parser.parse_args()
    print("| nested <div>s | page size | parser alone (before) | extract_page (now) | ratio |")
    print("|---|---|---|---|---|")
    for levels in (10_000, 20_000, 40_000, 80_000, 150_000, 300_000):
        page = nested(levels)
        raw = seconds(LexborHTMLParser, page) if levels <= args.max_raw else None
        now = seconds(extract_page, page, URL)
        raw_text = f"{raw:.2f} s" if raw is not None else "not run (quadratic)"
        ratio = f"{raw / now:.1f}x" if raw is not None else ""
        print(f"| {levels:,} | {len(page) / 1e6:.1f} MB | {raw_text} | {now:.2f} s | {ratio} |")
    # Tags a quick scan would misread; each repeat nests one more element in the parser's tree.
    tricks = {
        "<div></div.>": "<div></div.>",
        '<div a="</div>">': '<div a="</div>">',
        "<!--> then <div>s": None,
        "<div>s then </body>": None,
    }
    print("\n| 20,000 repeats of | parser alone | extract_page (now) | ratio |")
    print("|---|---|---|---|")
    for label, piece in tricks.items():
        if piece is not None:
            body = piece * 20_000
        elif label.startswith("<!-->"):
            body = "<!-->" + "<div>" * 20_000 + "-->"
        else:
            body = ("<div>" * 200 + "</body>") * 100
        page = product_page().replace("</body>", body + "</body>")
        raw = seconds(LexborHTMLParser, page)
        now = seconds(extract_page, page, URL)
        print(f"| `{label}` | {raw:.2f} s | {now:.2f} s | {raw / now:.1f}x |")
    ordinary = build_page(400)
    bound = statistics.median(seconds(bound_depth, ordinary) for _ in range(30))
    whole = statistics.median(seconds(extract_page, ordinary, URL) for _ in range(30))
    print(
        f"\nordinary {len(ordinary) / 1e3:.0f} KB page: the bound costs {bound * 1e3:.1f} ms"
        f" of extract_page's {whole * 1e3:.1f} ms (median of 30)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
