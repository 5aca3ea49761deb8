"""The availability table: every row has a fixture page it decides, and README.md shows the same rows."""

from __future__ import annotations

import itertools
import re
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

import tracker.extract.page
from tracker.extract import extract_page
from tracker.extract.evidence import RULES, VISIBLE_PARTS, Evidence, decide, decide_reading
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


_SIZES = (
    (),
    (SizeOffer("9", IN), SizeOffer("10", OUT)),
    (SizeOffer("9", OUT),),
    (SizeOffer("9"), SizeOffer("10")),
)


def _every_evidence() -> list[Evidence]:
    states = (IN, OUT, UNKNOWN)
    return [
        Evidence(blocked=b, structured=s, size_data=d, picker=p, cart=c, words=w)
        for b, s, d, p, c, w in itertools.product((False, True), states, _SIZES, _SIZES, states, states)
    ]


class _Recorder:
    """An Evidence that notes which of its parts a row looks at."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self.evidence, name)


def test_each_row_reads_the_parts_it_says_it_reads() -> None:
    parts = {f.name for f in fields(Evidence)}
    for row in RULES:
        read: set[str] = set()
        for evidence in _every_evidence():
            recorder = _Recorder(evidence)
            row.applies(recorder)
            read |= recorder.read & parts
        assert read == row.reads, row.name


def test_reading_the_visible_parts_on_demand_decides_as_reading_them_all() -> None:
    untouched = {"picker": 0, "cart": 0, "words": 0}
    for evidence in _every_evidence():
        known = Evidence(
            blocked=evidence.blocked, structured=evidence.structured, size_data=evidence.size_data
        )
        calls: list[str] = []

        def reader(name: str, evidence: Evidence = evidence, calls: list[str] = calls) -> Any:
            calls.append(name)
            return getattr(evidence, name)

        readers = {name: (lambda name=name: reader(name)) for name in VISIBLE_PARTS}
        availability, rule, read = decide_reading(known, readers)
        assert (availability, rule) == decide(evidence), evidence
        assert len(calls) == len(set(calls))  # each part is read at most once
        for name in VISIBLE_PARTS:
            assert getattr(read, name) == (getattr(evidence, name) if name in calls else getattr(known, name))
            untouched[name] += name not in calls
    # Per-size data that settles stock leaves all three unread; an enabled cart leaves the text unread.
    assert all(untouched.values()), untouched


def test_an_enabled_cart_with_sizes_to_choose_leaves_the_stock_text_unread() -> None:
    known = Evidence(structured=IN)
    calls: list[str] = []
    parts = {"picker": (SizeOffer("9", IN),), "cart": IN, "words": OUT}
    readers = {name: (lambda name=name: calls.append(name) or parts[name]) for name in VISIBLE_PARTS}
    assert decide_reading(known, readers)[:2] == (IN, "cart_and_sizes")
    assert calls == ["cart", "picker"]


def _every_fixture() -> list[Path]:
    folders = ("evidence", "extract", "sizes", "pickers", "state")
    return sorted(p for folder in folders for p in (DATA.parent / folder).glob("*.htm*"))


def _read_everything(known: Evidence, readers: dict[str, Any]) -> tuple[Availability, str, Evidence]:
    evidence = replace(known, **{name: read() for name, read in readers.items()})
    return (*decide(evidence), evidence)


def test_leaving_the_visible_page_unread_changes_no_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://shop.example/products/m2002rda"
    pages = [(path, path.read_bytes()) for path in _every_fixture()]
    quick = [extract_page(body, url) for _, body in pages]
    monkeypatch.setattr(tracker.extract.page, "decide_reading", _read_everything)
    for (path, body), product in zip(pages, quick, strict=True):
        assert extract_page(body, url) == product, path.name


def test_stale_structured_data_with_sizes_of_unknown_stock_still_reads_the_visible_page() -> None:
    # Sizes listed without their stock settle nothing: the top-level InStock is stale, and the page
    # says so (sold-out text, a disabled cart, no size to choose).
    page = (DATA / "stale_in_stock.html").read_text(encoding="utf-8")
    group = (
        '{"@context":"https://schema.org","@type":"ProductGroup","name":"New Balance 2002R Rain Cloud",'
        '"productGroupID":"M2002RDA","offers":{"@type":"Offer","price":"150.00","priceCurrency":"USD",'
        '"availability":"https://schema.org/InStock"},"hasVariant":['
        '{"@type":"Product","sku":"M2002RDA-9","size":"9","offers":{"@type":"Offer","price":"150.00"}},'
        '{"@type":"Product","sku":"M2002RDA-95","size":"9.5","offers":{"@type":"Offer","price":"150.00"}}]}'
    )
    page = re.sub(r"(<script type=\"application/ld\+json\">).*?(</script>)", rf"\g<1>{group}\g<2>", page)
    product = extract_page(page, "https://shop.example/products/m2002rda")
    assert [s.size for s in product.sizes] == ["9", "9.5"]
    assert {s.availability for s in product.sizes} == {UNKNOWN}
    assert product.availability == OUT
    assert product.extra["availability_rule"] == "stale_in_stock"
    # With a size in stock the same page is in stock by its size data, whatever the visible page says.
    in_stock = page.replace(
        '"size":"9","offers":{"@type":"Offer","price":"150.00"}',
        (
            '"size":"9","offers":{"@type":"Offer","price":"150.00","availability":"https://schema.org/InStock"}'
        ),
    )
    product = extract_page(in_stock, "https://shop.example/products/m2002rda")
    assert (product.availability, product.extra["availability_rule"]) == (IN, "size_available")
    assert product.sizes[0].availability == IN
