"""Sizes: reading labels, placing them in a system, New Balance's chart, and every structured shape."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tracker.config import parse_config
from tracker.errors import ConfigError
from tracker.extract import extract_body
from tracker.sizes import (
    CM,
    EU,
    NB_CHART,
    SYSTEMS,
    UK,
    US_MEN,
    US_WOMEN,
    Chart,
    Size,
    collector_size,
    country_system,
    display,
    from_us,
    parse_size_label,
    place,
    to_us,
)

DATA = Path(__file__).parent / "data" / "sizes"

# (label, readings as (system, value), width, letter, kids). One form per row.
LABELS: list[tuple[str, list[tuple[str | None, str]], str | None, bool, bool]] = [
    ("10", [(None, "10")], None, False, False),
    ("9,5", [(None, "9.5")], None, False, False),
    ("US 9½", [(US_MEN, "9.5")], None, False, False),
    ("9 1/2", [(None, "9.5")], None, False, False),
    ("9-1/2", [(None, "9.5")], None, False, False),
    ("43 1/3", [(None, "130/3")], None, False, False),
    ("EU 44⅔", [(EU, "134/3")], None, False, False),
    ("M9.5 / W11", [(US_MEN, "9.5"), (US_WOMEN, "11")], None, False, False),
    ("UK 9 - EU 43", [(UK, "9"), (EU, "43")], None, False, False),
    ("UK9-EU43", [(UK, "9"), (EU, "43")], None, False, False),
    (
        "US 10 / UK 9.5 / EU 44 / 28 cm",
        [(US_MEN, "10"), (UK, "9.5"), (EU, "44"), (CM, "28")],
        None,
        False,
        False,
    ),
    ("28.0cm", [(CM, "28")], None, False, False),
    ("２８．０ｃｍ", [(CM, "28")], None, False, False),
    ("27.5センチ", [(CM, "27.5")], None, False, False),
    ("280mm", [(CM, "28")], None, False, False),
    ("EU-44", [(EU, "44")], None, False, False),
    ("44 EU", [(EU, "44")], None, False, False),
    ("10US", [(US_MEN, "10")], None, False, False),
    ("U.S. 10", [(US_MEN, "10")], None, False, False),
    ("US Men's 10", [(US_MEN, "10")], None, False, False),
    ("Women's 11.5", [(US_WOMEN, "11.5")], None, False, False),
    ("W11", [(US_WOMEN, "11")], None, False, False),
    ("Size 10", [(None, "10")], None, False, False),
    ("Taglia 44", [(None, "44")], None, False, False),
    ("Größe 44,5", [(None, "44.5")], None, False, False),
    ("サイズ 27.5", [(None, "27.5")], None, False, False),
    ("10 (UK 9.5)", [(None, "10"), (UK, "9.5")], None, False, False),
    # Widths are beside the size, never the size.
    ("10 2E", [(None, "10")], "2E", False, False),
    ("US 9 / 2E", [(US_MEN, "9")], "2E", False, False),
    ("10 D(M) US", [(US_MEN, "10")], "D", False, False),
    ("10.5 Wide", [(None, "10.5")], "WIDE", False, False),
    # Not an adult shoe size.
    ("10.5C", [(None, "10.5")], None, False, True),
    ("3.5Y", [(None, "3.5")], None, False, True),
    ("XL", [], None, True, False),
    ("M", [], None, True, False),
    ("One Size", [], None, True, False),
    ("9-10", [], None, False, False),
    ("10 / Black", [], None, False, False),
    ("Default Title", [], None, False, False),
    ("UK 44", [], None, False, False),  # a UK size of 44 is nonsense, not a reading
]


@pytest.mark.parametrize(("text", "readings", "width", "letter", "kids"), LABELS, ids=[r[0] for r in LABELS])
def test_parse_size_label(
    text: str, readings: list[tuple[str | None, str]], width: str | None, letter: bool, kids: bool
) -> None:
    label = parse_size_label(text)
    assert [(r.system, r.value) for r in label.readings] == [(s, Fraction(v)) for s, v in readings]
    assert (label.width, label.letter, label.kids) == (width, letter, kids)
    assert label.text == text


# (label, place() keywords, systems, US men's equivalent, via). Where the system comes from, in order.
PLACES: list[tuple[str, dict[str, Any], dict[str, str], str | None, str | None]] = [
    ("UK 9.5", {"config_system": US_MEN, "country": EU}, {UK: "9.5"}, "10", "label"),
    ("UK 10", {}, {UK: "10"}, "10.5", "label"),
    ("EU 44", {}, {EU: "44"}, "10", "label"),
    ("W 11.5", {}, {US_WOMEN: "11.5"}, "10", "label"),
    ("28.0cm", {}, {CM: "28"}, "10", "label"),
    ("UK 9 - EU 43", {}, {UK: "9", EU: "43"}, "9.5", "label"),
    ("M9.5 / W11", {}, {US_MEN: "9.5", US_WOMEN: "11"}, "9.5", "label"),
    ("9.5", {"hint": UK, "config_system": EU, "country": US_MEN}, {UK: "9.5"}, "10", "markup"),
    ("9.5", {"config_system": UK, "country": US_MEN}, {UK: "9.5"}, "10", "config"),
    ("9.5", {"country": UK}, {UK: "9.5"}, "10", "country"),
    ("280", {"country": CM}, {CM: "28"}, "10", "country"),  # Korean shops write millimetres
    ("28", {"config_system": CM}, {CM: "28"}, "10", "config"),
    ("44", {"country": US_MEN}, {EU: "44"}, "10", "range"),  # no US 44: only EU has it
    ("44", {}, {EU: "44"}, "10", "range"),
    ("27.5", {}, {CM: "27.5"}, "9.5", "range"),
    ("43 1/3", {"country": EU}, {EU: "43 1/3"}, None, "country"),  # placed, off New Balance's chart
    ("US 15", {}, {US_MEN: "15"}, "15", "label"),  # off the chart, still US
    ("10 (UK 9.5)", {}, {UK: "9.5"}, "10", "label"),  # the bare 10 of an unknown shop is left out
    # Never placed: no system to be had, or a system the number cannot be in.
    ("10", {}, {}, None, None),
    ("10", {"config_system": EU}, {}, None, None),
    ("10.5C", {"country": US_MEN}, {}, None, None),
    ("XL", {"country": US_MEN}, {}, None, None),
    ("US 9 / US 10", {}, {}, None, None),
]


@pytest.mark.parametrize(
    ("label", "kwargs", "systems", "us", "via"),
    PLACES,
    ids=[f"{p[0]}-{p[4]}-{i}" for i, p in enumerate(PLACES)],
)
def test_place(
    label: str, kwargs: dict[str, Any], systems: dict[str, str], us: str | None, via: str | None
) -> None:
    size = place(label, **kwargs)
    stored = size.to_json()
    assert stored["systems"] == systems
    assert stored["us"] == us
    assert stored["via"] == via
    assert size.placed is bool(systems)
    assert size.guessed is (via in ("country", "range"))
    assert size.label == label


CHART_ROWS = [dict(row) for row in NB_CHART.rows]


@pytest.mark.parametrize("row", CHART_ROWS, ids=[f"US{r[US_MEN]}" for r in CHART_ROWS])
def test_chart_round_trips_through_every_system(row: dict[str, Fraction]) -> None:
    us = row[US_MEN]
    for system in SYSTEMS:
        value = row[system]
        assert to_us(system, value) == us
        assert from_us(us, system) == value
        # Written the way the dashboard writes it, read back, and placed: the same foot.
        written = display(system, value)
        placed = place(written)
        assert placed.us == us, written
        assert placed.value_in(system) == value
        for other in SYSTEMS:
            assert placed.value_in(other) == row[other], (written, other)


def test_the_chart_is_new_balances() -> None:
    # DOMAIN.md: "UK 10" is a US 10.5, not a US 10; "EU 44" is a US 10; W 11.5 = M 10.
    assert place("UK 10").us == Fraction(21, 2)
    assert place("EU 44").us == 10
    assert place("W11.5").us == 10
    assert place("28.0cm").us == 10
    assert len(NB_CHART.rows) == 14


def test_a_shops_own_chart_comes_first() -> None:
    # A shop whose UK 9 is a US 10 (not New Balance's 9.5).
    own = Chart.from_columns({"uk": [8.5, 9, "9½"], "us_men": [9.5, 10, 10.5]})
    assert to_us(UK, Fraction(9), own) == 10
    assert place("UK 9", chart=own).us == 10
    assert place("UK 9").us == Fraction(19, 2)
    # A chart without US sizes goes through New Balance's chart from another system it gives.
    euro = Chart.from_columns({"uk": [9], "eu": [44]})
    assert to_us(UK, Fraction(9), euro) == 10
    # A size the shop's chart does not list falls back to New Balance's.
    assert place("UK 10", chart=own).us == Fraction(21, 2)


def test_sizes_match_as_feet_not_strings() -> None:
    ten = collector_size("10", US_MEN)
    assert place("UK 9.5").matches(ten)
    assert not place("UK 10").matches(ten)  # the old prefix-stripping read this as "10"
    assert place("44", country=EU).matches(ten)
    assert place("280", country=CM).matches(ten)
    assert place("10", country=US_MEN).matches(ten)
    assert not place("10").matches(ten)  # not placed: never anyone's size
    assert not place("XL").matches(ten)
    # A label naming the collector's system is taken at its word.
    assert not place("M9.5 / W11").matches(ten)
    assert place("M9.5 / W11").matches(collector_size("W11", US_MEN))
    assert place("UK 9 / US 10").matches(ten)  # the shop's own conversion, not the chart's
    # Off the chart: only the same value in the same system.
    third = place("EU 43 1/3")
    assert third.matches(collector_size("EU 43 1/3", US_MEN))
    assert not third.matches(collector_size("EU 43", US_MEN)) and not third.matches(ten)
    # A collector in UK sizes: "9.5" is their UK 9.5.
    assert place("10", country=US_MEN).matches(collector_size("9.5", UK))


def test_stored_sizes_come_back() -> None:
    size = place("UK 9 - EU 43", chart=None)
    again = Size.from_json({"size": "UK 9 - EU 43", **size.to_json()})
    assert again == size
    # A size stored before sizes were placed is read as the collector wrote theirs.
    assert Size.from_json({"size": "10"}, system=UK).systems == ((UK, Fraction(10)),)
    assert not Size.from_json({"size": "10"}).placed


COUNTRIES = [
    ("https://www.kicks.co.uk/products/x", None, UK),
    ("https://sneakers.ie/p/x", "EUR", UK),  # Ireland pays in euros and sizes in UK
    ("https://shop.de/p/x", None, EU),
    ("https://www.zara.com/be/en/p.html", None, EU),
    ("https://shop.example/en-gb/p/x", "EUR", UK),
    ("https://uk.shop.example/p/x", None, UK),
    ("https://shop.example/p/x", "GBP", UK),
    ("https://shop.example/p/x", "JPY", CM),
    ("https://shop.example/p/x", "KRW", CM),
    ("https://shop.example/p/x", "CHF", EU),
    ("https://shop.example/p/x", "USD", US_MEN),
    ("https://shop.example/p/x", "AUD", None),  # no one system: left to size_system
    (None, None, None),
]


@pytest.mark.parametrize(("url", "currency", "system"), COUNTRIES)
def test_country_system(url: str | None, currency: str | None, system: str | None) -> None:
    assert country_system(url, currency) == system


def test_config_sizes_and_systems() -> None:
    config = parse_config(
        {
            "size_system": "UK",
            "colorways": [
                {"name": "Rain Cloud", "style_code": "M2002RDA", "sizes": ["9.5", "EU 44", "28cm"]}
            ],
            "sources": [
                {
                    "name": "Shop",
                    "kind": "page",
                    "url": "https://shop.example/p",
                    "size_system": "jp",
                    "size_chart": {"uk": [9, "9½"], "us_men": [10, 10.5]},
                }
            ],
        }
    )
    assert config.size_system == UK
    assert config.sources[0].size_system == CM
    chart = config.sources[0].chart()
    assert chart is not None and chart.row(UK, Fraction(19, 2)) == {
        UK: Fraction(19, 2),
        US_MEN: Fraction(21, 2),
    }
    assert parse_config({}).size_system == US_MEN


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"size_system": "mars"}, "size_system: 'mars' is not a size system"),
        (
            {"colorways": [{"name": "A", "style_code": "M2002RDA", "sizes": ["10", "XL"]}]},
            "colorways[0].sizes: 'XL' is not a shoe size in us_men",
        ),
        (
            {"size_system": "eu", "colorways": [{"name": "A", "style_code": "M2002RDA", "sizes": ["10"]}]},
            "colorways[0].sizes: '10' is not a shoe size in eu",
        ),
        (
            {"sources": [{"name": "S", "kind": "page", "url": "https://s.example/", "size_system": "mm"}]},
            "sources[0].size_system: 'mm' is not a size system",
        ),
        (
            {
                "sources": [
                    {"name": "S", "kind": "page", "url": "https://s.example/", "size_chart": {"uk": [9]}}
                ]
            },
            "sources[0].size_chart: a size chart needs at least two systems",
        ),
        (
            {
                "sources": [
                    {
                        "name": "S",
                        "kind": "page",
                        "url": "https://s.example/",
                        "size_chart": {"uk": [9], "us": [9, 10]},
                    }
                ]
            },
            "sources[0].size_chart: every system of a size chart needs the same number of sizes",
        ),
        (
            {
                "sources": [
                    {
                        "name": "S",
                        "kind": "page",
                        "url": "https://s.example/",
                        "size_chart": {"uk": ["L"], "us": [9]},
                    }
                ]
            },
            "sources[0].size_chart: 'L' is not a size value",
        ),
    ],
)
def test_bad_size_config_is_one_line_naming_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = str(err.value)
    assert message in text and "\n" not in text


# (fixture, page URL, shop currency, source size_system, expected sizes as
#  (label, availability, systems, US men's, via, attributes)). One structured shape per row.
Expected = list[tuple[str, str, dict[str, str], str | None, str | None, dict[str, str] | None]]
SHAPES: list[tuple[str, str, str | None, str | None, Expected]] = [
    (
        "jsonld_offers_named_with_title.html",
        "https://kicks.example/products/2002r-rain-cloud",
        None,
        None,
        [
            ("9", "OutOfStock", {US_MEN: "9"}, "9", "country", None),
            ("9.5", "InStock", {US_MEN: "9.5"}, "9.5", "country", None),
            ("10", "InStock", {US_MEN: "10"}, "10", "country", None),
        ],
    ),
    (
        "jsonld_offers_named_size.html",
        "https://www.kicks.co.uk/p/2002r-phantom",
        None,
        None,
        [
            ("8", "OutOfStock", {UK: "8"}, "8.5", "country", None),
            ("9.5", "InStock", {UK: "9.5"}, "10", "country", None),
            ("10", "InStock", {UK: "10"}, "10.5", "country", None),
        ],
    ),
    (
        "jsonld_offer_size_property.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("UK 9", "InStock", {UK: "9"}, "9.5", "label", None),
            ("UK 9.5", "OutOfStock", {UK: "9.5"}, "10", "label", None),
            ("UK 10", "InStock", {UK: "10"}, "10.5", "label", None),
        ],
    ),
    (
        "jsonld_offer_sku_suffix.html",
        "https://sneaker.example.de/p/2002r",
        None,
        None,
        [
            ("40", "InStock", {EU: "40"}, "7", "country", None),
            ("41.5", "OutOfStock", {EU: "41.5"}, "8", "country", None),
            ("44", "InStock", {EU: "44"}, "10", "country", None),
        ],
    ),
    (
        "jsonld_offer_item_offered.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("US 9.5", "OutOfStock", {US_MEN: "9.5"}, "9.5", "label", None),
            ("US 10", "InStock", {US_MEN: "10"}, "10", "label", None),
            ("US 10.5", "InStock", {US_MEN: "10.5"}, "10.5", "label", None),
        ],
    ),
    (
        # The property is named "Pointure EU": its bare numbers are EU sizes, from the markup.
        "jsonld_offer_additional_property.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("43", "InStock", {EU: "43"}, "9.5", "markup", None),
            ("44", "OutOfStock", {EU: "44"}, "10", "markup", None),
        ],
    ),
    (
        "jsonld_size_specification.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("9", "InStock", {UK: "9"}, "9.5", "markup", None),
            ("9.5", "OutOfStock", {UK: "9.5"}, "10", "markup", None),
        ],
    ),
    (
        "jsonld_products_named_per_size.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("UK 9", "OutOfStock", {UK: "9"}, "9.5", "label", None),
            ("UK 9.5", "InStock", {UK: "9.5"}, "10", "label", None),
            ("UK 10", "InStock", {UK: "10"}, "10.5", "label", None),
        ],
    ),
    (
        "jsonld_capitalised_keys.html",
        "https://shop.example/p",
        None,
        None,
        [
            ("9.5", "InStock", {US_MEN: "9.5"}, "9.5", "country", None),
            ("10", "OutOfStock", {US_MEN: "10"}, "10", "country", None),
        ],
    ),
    (
        # A source's size_system places bare numbers; labels that say their system keep it.
        "jsonld_label_forms.html",
        "https://shop.example/p",
        None,
        "us_men",
        [
            ("US 9½", "InStock", {US_MEN: "9.5"}, "9.5", "label", None),
            ("M9.5 / W11", "InStock", {US_MEN: "9.5", US_WOMEN: "11"}, "9.5", "label", None),
            ("UK 9 - EU 43", "InStock", {UK: "9", EU: "43"}, "9.5", "label", None),
            ("43 1/3", "InStock", {}, None, None, None),  # no US 43 1/3, and the source says US
            ("28.0cm", "InStock", {CM: "28"}, "10", "label", None),
            ("W 11.5", "InStock", {US_WOMEN: "11.5"}, "10", "label", None),
            ("10 2E", "InStock", {US_MEN: "10"}, "10", "config", None),
            ("10.5C", "InStock", {}, None, None, None),
            ("XL", "InStock", {}, None, None, None),
        ],
    ),
    (
        "shopify_taglia.json",
        "https://negozio.example",
        "EUR",
        None,
        [
            ("42", "OutOfStock", {EU: "42"}, "8.5", "country", {"Colore": "Grigio"}),
            ("42.5", "InStock", {EU: "42.5"}, "9", "country", {"Colore": "Grigio"}),
            ("44", "InStock", {EU: "44"}, "10", "country", {"Colore": "Grigio"}),
        ],
    ),
    (
        # Width 2E is a variant attribute, not a size.
        "shopify_size_and_width.json",
        "https://kicks.example",
        "USD",
        None,
        [
            ("10", "InStock", {US_MEN: "10"}, "10", "country", {"Width": "D"}),
            ("10", "OutOfStock", {US_MEN: "10"}, "10", "country", {"Width": "2E"}),
            ("10.5", "InStock", {US_MEN: "10.5"}, "10.5", "country", {"Width": "D"}),
        ],
    ),
    (
        # An option with an unknown name whose values look like sizes is the size.
        "shopify_option_found_by_values.json",
        "https://kicks.example",
        "GBP",
        None,
        [
            ("UK 8", "InStock", {UK: "8"}, "8.5", "label", {"Colour": "Sea Salt"}),
            ("UK 9.5", "OutOfStock", {UK: "9.5"}, "10", "label", {"Colour": "Sea Salt"}),
        ],
    ),
    (
        "shopify_colour_voltage_size.json",
        "https://kicks.example",
        "USD",
        None,
        [
            ("US 9", "InStock", {US_MEN: "9"}, "9", "label", {"Colour": "Grey", "Voltage": "5V"}),
            ("US 10", "OutOfStock", {US_MEN: "10"}, "10", "label", {"Colour": "Grey", "Voltage": "5V"}),
        ],
    ),
    (
        # An option named "UK Size": its bare numbers are UK sizes even in a shop paying in dollars.
        "shopify_uk_size_option.json",
        "https://kicks.example",
        "USD",
        None,
        [
            ("9", "InStock", {UK: "9"}, "9.5", "markup", None),
            ("9.5", "InStock", {UK: "9.5"}, "10", "markup", None),
            ("10", "OutOfStock", {UK: "10"}, "10.5", "markup", None),
        ],
    ),
    (
        "shopify_german_thirds.json",
        "https://laden.example",
        "EUR",
        None,
        [
            ("42", "InStock", {EU: "42"}, "8.5", "country", None),
            ("42 2/3", "InStock", {EU: "42 2/3"}, None, "country", None),
            ("43 1/3", "OutOfStock", {EU: "43 1/3"}, None, "country", None),
            ("44", "InStock", {EU: "44"}, "10", "country", None),
        ],
    ),
    (
        "shopify_korean_mm.json",
        "https://shop.example",
        "KRW",
        None,
        [
            ("270", "OutOfStock", {CM: "27"}, "9", "country", None),
            ("275", "InStock", {CM: "27.5"}, "9.5", "country", None),
            ("280", "InStock", {CM: "28"}, "10", "country", None),
        ],
    ),
    (
        "shopify_product_japanese.js",
        "https://shop.example/products/m2002rda",
        "JPY",
        None,
        [
            ("27.0", "InStock", {CM: "27"}, "9", "country", None),
            ("27.5", "OutOfStock", {CM: "27.5"}, "9.5", "country", None),
            ("28.0", "InStock", {CM: "28"}, "10", "country", None),
        ],
    ),
    # A product with one "Default Title" variant has stock but no sizes.
    ("shopify_single_variant.json", "https://kicks.example", "USD", None, []),
]


@pytest.mark.parametrize(
    ("fixture", "url", "currency", "system", "expected"), SHAPES, ids=[s[0] for s in SHAPES]
)
def test_every_structured_shape_yields_placed_sizes(
    fixture: str, url: str, currency: str | None, system: str | None, expected: Expected
) -> None:
    body = (DATA / fixture).read_bytes()
    content_type = "application/json" if fixture.endswith((".json", ".js")) else None
    (product,) = extract_body(body, url=url, content_type=content_type, currency=currency, query=None)
    assert product.availability.value == "InStock"
    got = [s.to_json() for s in product.placed_sizes(system=system).sizes]
    assert [
        (s["size"], s["availability"], s["systems"], s["us"], s["via"], s.get("attributes")) for s in got
    ] == expected


def test_capitalised_keys_give_the_price_too() -> None:
    (product,) = extract_body(
        (DATA / "jsonld_capitalised_keys.html").read_bytes(), url="https://shop.example/p"
    )
    assert (str(product.price), product.currency, product.sku) == ("150.00", "USD", "M2002RDA")
