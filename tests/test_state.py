"""Embedded app state: one hand-written page per blob shape, read by the general rules (no per-shop code)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.extract import extract_page
from tracker.extract.jsvalue import read_js_value

DATA = Path(__file__).parent / "data" / "state"

IN, OUT = "InStock", "OutOfStock"

# (fixture, page URL, what must be read). Sizes are (label as written, availability).
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        # __NEXT_DATA__: a nested current / original price object; the recommendation's lower
        # price is never taken.
        "next_data.html",
        "https://shop.example/products/m2002rda-rain-cloud",
        {
            "price": "119.99",
            "currency": "USD",
            "compare_at": "150.00",
            "availability": IN,
            "sizes": [("9", IN), ("9.5", OUT), ("10", IN)],
            "style_code": "M2002RDA",
        },
    ),
    (
        # window.__NUXT__ wrapped in a function: names bound to its arguments, centAmount with
        # fractionDigits, a cross-sell product skipped, a 44 2/3 size kept as written.
        "nuxt2_wrapped.html",
        "https://shop.example/de/p/m2002rda",
        {
            "price": "130",
            "currency": "EUR",
            "compare_at": "150",
            "availability": IN,
            "sizes": [("EU 42", IN), ("EU 42.5", OUT), ("EU 43", IN), ("EU 44 2/3", OUT)],
        },
    ),
    (
        # Nuxt 3's flattened payload (__NUXT_DATA__): every value an index into the list.
        "nuxt3_payload.html",
        "https://shop.example/uk/2002r-rain-cloud",
        {
            "price": "139.95",
            "currency": "GBP",
            "availability": IN,
            "sizes": [("UK 8", IN), ("UK 8.5", OUT)],
        },
    ),
    (
        # window.__INITIAL_STATE__ = JSON.parse("..."): priceInCents, quantities per size; the page
        # has no heading, so the OpenGraph title names the product.
        "initial_state_json_parse.html",
        "https://shop.example/p/m2002rdb",
        {
            "price": "150.00",
            "currency": "USD",
            "availability": IN,
            "sizes": [("US 8", IN), ("US 8.5", OUT), ("US 9", IN)],
            "style_code": "M2002RDB",
        },
    ),
    (
        # window.__PRELOADED_STATE__: products keyed by id, sizes keyed by id, the shop's currency
        # in the session; a recently-viewed copy at 49.00 is never this page's price. The stale
        # top-level OUT_OF_STOCK loses to a size available to order.
        "preloaded_state.html",
        "https://shop.example/p/sea-salt",
        {
            "price": "129.99",
            "currency": "USD",
            "compare_at": "150.00",
            "availability": IN,
            "sizes": [("US 10", IN), ("US 10.5", OUT)],
            "availability_rule": "size_available",
        },
    ),
    (
        # window.__APOLLO_STATE__: references followed; the product agrees with the URL's slug.
        "apollo_state.html",
        "https://shop.example/uk/p/2002r-rain-cloud",
        {
            "price": "140.00",
            "currency": "GBP",
            "availability": IN,
            "sizes": [("UK 7", IN), ("UK 7.5", OUT)],
        },
    ),
    (
        # A theme's product JSON with prices in cents and no cent key: the page shows $150.00, so
        # 15000 is read as cents.
        "theme_json_cents.html",
        "https://shop.example/products/new-balance-2002r-rain-cloud",
        {
            "price": "150.00",
            "currency": "USD",
            "availability": IN,
            "sizes": [("9", IN), ("9.5", OUT), ("10", IN)],
        },
    ),
    (
        # centAmount in yen: the currency has no minor unit, so 19800 stays 19800.
        "jpy_minor_units.html",
        "https://shop.example/jp/m2002rda",
        {
            "price": "19800",
            "currency": "JPY",
            "availability": IN,
            "sizes": [("27.0cm", IN), ("27.5cm", OUT)],
        },
    ),
    (
        # Only other products in the state: nothing agrees with the page, so nothing is read.
        "related_only.html",
        "https://shop.example/products/new-balance-2002r-rain-cloud",
        {"price": None, "currency": None, "availability": "unknown", "sizes": []},
    ),
]


@pytest.mark.parametrize(("fixture", "url", "want"), CASES, ids=[c[0] for c in CASES])
def test_state_blob_shapes(fixture: str, url: str, want: dict[str, Any]) -> None:
    product = extract_page((DATA / fixture).read_bytes(), url)
    got: dict[str, Any] = {
        "price": None if product.price is None else product.price,
        "currency": product.currency,
        "compare_at": product.compare_at,
        "availability": product.availability.value,
        "sizes": [(s.size, s.availability.value) for s in product.sizes],
        "style_code": product.style_code,
        "availability_rule": product.extra.get("availability_rule"),
    }
    for key, value in want.items():
        expected = Decimal(value) if key in ("price", "compare_at") and value is not None else value
        assert got[key] == expected, f"{fixture}: {key} is {got[key]!r}, expected {expected!r}"
    if want["price"] is not None:
        assert (product.method or "").startswith("app-state"), product.method


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{a: 1, \'b\': "x\\"y", c: [1, 2, , 3],}', {"a": 1, "b": 'x"y', "c": [1, 2, None, 3]}),
        (
            "{d: !0, e: !1, f: void 0, g: new Date(1700000000000), h: Object.create(null)}",
            {"d": True, "e": False, "f": None, "g": None, "h": None},
        ),
        ('(function(a,b){return {x:a,y:[b,a]}}("q",null))', {"x": "q", "y": [None, "q"]}),
        ("(function(a){a.z=1;return {x:a}})({})", {"x": {}}),
        ('JSON.parse("{\\"a\\": [1, 2.5]}")', {"a": [1, Decimal("2.5")]}),
        ('/* state */ {"s": "\\ud83d\\udc5f \\u00e9"}', {"s": "👟 é"}),
        ("{'k': 'it\\'s', n: -1.5e2, h: 0x1f}", {"k": "it's", "n": Decimal("-1.5e2"), "h": 31}),
    ],
)
def test_javascript_values_are_read_as_data(text: str, value: Any) -> None:
    assert read_js_value(text) == value


@pytest.mark.parametrize("text", ["alert(1)", "{a: 1", "'unterminated", "{a b}", ""])
def test_what_is_not_data_is_refused(text: str) -> None:
    if text == "alert(1)":
        assert read_js_value(text) is None  # a call reads as nothing, and nothing is run
        return
    with pytest.raises(ValueError):
        read_js_value(text)


KEYS = st.sampled_from(
    ["name", "title", "price", "sku", "size", "variants", "available", "currency", "centAmount", "__ref",
     "related", "quantity", "stock", "label", "amount"]
) | st.text(max_size=6)  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.floats(allow_nan=False)
    | st.just("New Balance 2002R Rain Cloud")
    | st.sampled_from(["IN_STOCK", "9.5", "USD", "$150.00"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(JSON, st.text(max_size=80))
def test_any_state_blob_reads_without_error(data: Any, script: str) -> None:
    """Whatever a shop puts in its state, the page is read (never a traceback), and nothing is taken
    from a blob that does not name this page's product."""
    page = (
        "<html><head><title>x</title></head><body><h1>New Balance 2002R Rain Cloud</h1>"
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>'
        f"<script>window.__INITIAL_STATE__ = {script}</script></body></html>"
    )
    product = extract_page(page, "https://shop.example/p/1")
    assert product.price is None or product.price > 0
