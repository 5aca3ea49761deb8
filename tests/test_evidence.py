"""The availability table: every row has a fixture page it decides, and README.md shows the same rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker.extract import extract_page
from tracker.extract.evidence import RULES, Evidence, decide
from tracker.extract.model import Availability, SizeOffer

DATA = Path(__file__).parent / "data" / "evidence"
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
IN, OUT, UNKNOWN = Availability.IN_STOCK, Availability.OUT_OF_STOCK, Availability.UNKNOWN

# (fixture named after its row, availability the page gets). One page per row.
ROWS: list[tuple[str, Availability]] = [
    # A Cloudflare challenge: never a sell-out.
    ("challenge", UNKNOWN),
    # Top-level OutOfStock (a cached offer) and "Sold out" text, but size 9.5's offer is InStock.
    ("size_available", IN),
    # ProductGroup offers say InStock, every size variant says OutOfStock; an enabled cart too.
    ("sizes_sold_out", OUT),
    # A bare OutOfStock, while the add-to-cart is enabled and sizes 9 and 9.5 can be chosen.
    ("cart_and_sizes", IN),
    # InStock in the template, but "Currently unavailable", a disabled cart and no size to choose.
    ("stale_in_stock", OUT),
    # OutOfStock, an enabled cart but no size picker: nothing more specific, the structured value stands.
    ("structured", OUT),
    # No structured data: an enabled add-to-cart.
    ("cart", IN),
    # No structured data: the buy button says "Sold out".
    ("cart_sold_out", OUT),
    # No structured data: every size in the picker is disabled or marked sold out.
    ("picker_sold_out", OUT),
    # No structured data: "In stock, ready to ship" in the stock element.
    ("stock_text", IN),
    # No structured data: only a disabled add-to-cart, which shops show until a size is chosen.
    ("unknown", UNKNOWN),
]


def test_every_row_has_a_fixture() -> None:
    assert [name for name, _ in ROWS] == [row.name for row in RULES]


@pytest.mark.parametrize(("row", "want"), ROWS, ids=[r[0] for r in ROWS])
def test_each_row_decides_its_page(row: str, want: Availability) -> None:
    product = extract_page((DATA / f"{row}.html").read_bytes(), "https://shop.example/products/m2002rda")
    assert product.availability == want
    assert product.extra.get("availability_rule") == row


def test_the_readme_shows_the_same_table() -> None:
    section = README.split("### When the evidence about stock disagrees", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    names = [line.split("|")[2].strip().strip("`") for line in rows]
    assert names == [row.name for row in RULES]
    for line, row in zip(rows, RULES, strict=True):
        assert row.when in line and row.outcome in line, f"README row {row.name} differs from the code"


def test_unknown_stays_unknown_and_order_matters() -> None:
    sizes_in = (SizeOffer("9", IN), SizeOffer("10", OUT))
    sizes_out = (SizeOffer("9", OUT), SizeOffer("10", OUT))
    assert decide(Evidence()) == (UNKNOWN, "unknown")
    # A challenge beats everything, even sizes in stock.
    assert decide(Evidence(blocked=True, size_data=sizes_in)) == (UNKNOWN, "challenge")
    # Sizes of unknown stock say nothing: the top-level value decides.
    unknown_sizes = (SizeOffer("9"), SizeOffer("10"))
    assert decide(Evidence(structured=OUT, size_data=unknown_sizes)) == (OUT, "structured")
    # Selectable sizes without an enabled cart do not beat a top-level OutOfStock.
    assert decide(Evidence(structured=OUT, picker=sizes_in)) == (OUT, "structured")
    # An all-sold-out picker with structured InStock and no sold-out text: structured stands.
    assert decide(Evidence(structured=IN, picker=sizes_out)) == (IN, "structured")
