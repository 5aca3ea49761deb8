"""Visible size pickers: one hand-written page per picker shape; labels kept as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from tracker.extract import extract_page
from tracker.extract.pickers import looks_like_size, size_picker

DATA = Path(__file__).parent / "data" / "pickers"
IN, OUT = "InStock", "OutOfStock"

# (fixture, sizes read: (label as written, availability)).
CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # Buttons in a list: `disabled`, an `unselectable` class, an `unavailable` wrapper; the
    # recommendations' quick-add buttons are another product's.
    ("sfcc_buttons.html", [("9", IN), ("9.5", OUT), ("10", IN), ("10.5", OUT)]),
    # Radio inputs with <label for>: a disabled input, a label with an is-disabled class; the
    # colour choice is no size.
    ("radio_inputs.html", [("US 9", IN), ("US 9.5", OUT), ("US 10", OUT), ("US 10.5", IN)]),
    # <select> options in German: disabled, "Ausverkauft", "(nicht verfügbar)"; the quantity
    # select (1, 2, 3) is no size picker.
    ("select_options.html", [("EU 42", IN), ("EU 42.5", OUT), ("EU 43", OUT), ("EU 44", IN)]),
    # A swatch list of links: a sold-out class and data-available="false" on the wrapper; the size
    # guide's list is no picker.
    ("swatch_links.html", [("UK 8", IN), ("UK 8.5", OUT), ("UK 9", OUT), ("UK 9½", IN)]),
    # role="radio" elements: aria-disabled, data-stock="0"; a size chart table and page numbers
    # are ignored.
    ("aria_disabled.html", [("9", IN), ("9½", OUT), ("10", OUT), ("M 10.5 / W 12", IN)]),
    # Japanese: 在庫切れ in the button marks the size sold out.
    ("cjk_sold_out.html", [("27.0cm", IN), ("27.5cm", OUT), ("28.0cm", IN)]),
    # Page numbers, a quantity select and sizes named in prose: no picker.
    ("no_picker.html", []),
]


@pytest.mark.parametrize(("fixture", "want"), CASES, ids=[c[0] for c in CASES])
def test_picker_shapes(fixture: str, want: list[tuple[str, str]]) -> None:
    tree = LexborHTMLParser((DATA / fixture).read_text(encoding="utf-8"))
    assert [(s.size, s.availability.value) for s in size_picker(tree)] == want


@pytest.mark.parametrize(("fixture", "want"), CASES, ids=[c[0] for c in CASES])
def test_picker_sizes_fill_the_product_when_structured_data_gives_none(
    fixture: str, want: list[tuple[str, str]]
) -> None:
    product = extract_page((DATA / fixture).read_bytes(), "https://shop.example/p/2002r")
    assert [(s.size, s.availability.value) for s in product.sizes] == want
    assert product.extra.get("sizes_from") == ("picker" if want else None)


@pytest.mark.parametrize(
    ("label", "size"),
    [
        ("9", True), ("9.5", True), ("US 9.5", True), ("9½", True), ("EU 44 2/3", True), ("28.0cm", True),
        ("UK 8,5", True), ("M 10.5 / W 12", True), ("Größe 42", True), ("275", True),
        ("2002R", False), ("$150", False), ("Grey", False), ("Select size", False), ("150", False),
        ("99", False), ("", False), ("One size", False),
    ],
)  # fmt: skip
def test_size_labels(label: str, size: bool) -> None:
    assert looks_like_size(label) is size
