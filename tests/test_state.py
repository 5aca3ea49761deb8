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


_UNDEFINED = "\x01undefined"  # stands for JavaScript's undefined in the generated data
STATE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    # Strings that hold the word, quotes and backslashes: only a bare undefined is a value.
    | st.sampled_from(["undefined", 'say "undefined"', "a\\", '\\"undefined\\"', "x undefined,"])
    | st.just(_UNDEFINED),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.just("undefined"), inner, max_size=4)
    ),
    max_leaves=30,
)


def _as_read(data: Any) -> Any:
    """The generated data as a reader returns it: undefined as None, floats as written (Decimal)."""
    if data == _UNDEFINED:
        return None
    if isinstance(data, float):
        return Decimal(repr(data))
    if isinstance(data, list):
        return [_as_read(item) for item in data]
    if isinstance(data, dict):
        return {key: _as_read(value) for key, value in data.items()}
    return data


@FUZZ
@given(st.dictionaries(KEYS, STATE_VALUES, min_size=1, max_size=5) | st.lists(STATE_VALUES, min_size=1))
def test_json_written_with_undefined_reads_as_the_javascript_reader_reads_it(data: Any) -> None:
    """A state blob in JSON but for JavaScript's undefined ({"loaded":undefined}) is decoded as JSON
    (a quicker way): the same data as the JavaScript reader finds, the word inside strings kept."""
    from tracker.extract.jsvalue import _NOT_JSON, _json_with_undefined, _Parser

    undefined = json.dumps(_UNDEFINED)
    # As written (escapes read by the JavaScript reader too), and with every character as \uXXXX.
    text = json.dumps(data, ensure_ascii=False).replace(undefined, "undefined")
    assert read_js_value(text) == _Parser(text).value() == _as_read(data)
    escaped = json.dumps(data).replace(undefined, "undefined")
    assert read_js_value(escaped) == _as_read(data)
    if undefined in json.dumps(data, ensure_ascii=False):
        assert _json_with_undefined(text) is not _NOT_JSON  # the quick way did read it


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{a: undefined, 'b': [undefined]}", {"a": None, "b": [None]}),  # not JSON: the reader's
        ('{"a": undefined, "b": \'x"y\'}', {"a": None, "b": 'x"y'}),
        ('{"a": undefined, "b": [1, 2,]}', {"a": None, "b": [1, 2]}),
        ('["undefined", undefined, "\\"undefined"]', ["undefined", None, '"undefined']),
        ('{"a": undefinedness}', {"a": None}),  # a name, not undefined: unbound names read as None
    ],
)
def test_json_with_undefined_that_is_not_json_is_read_by_the_javascript_reader(text: str, value: Any) -> None:
    from tracker.extract.jsvalue import _Parser

    assert read_js_value(text) == _Parser(text).value() == value


@pytest.mark.parametrize("run", ['"\\', '"\\\n', "x\\", '"'])
def test_a_long_run_of_quotes_and_backslashes_is_read_in_one_pass(run: str) -> None:
    """A blob that starts as JSON with undefined and goes on with a million-character run that never
    closes its strings is refused, in one pass (a string that failed instead of running to the end
    had every later quote tried to the end again: hours for this much)."""
    text = '{"a": undefined, "b": "' + run * (1_000_000 // len(run))
    with pytest.raises(ValueError):
        read_js_value(text)
