"""Matching: style code first (SKU, title, URL), name similarity only without a code."""

from __future__ import annotations

import pytest

from tracker.extract.model import Product, SizeOffer
from tracker.match import CatalogueEntry, match_product
from tracker.stylecode import find_style_code, mentions_2002r

CATALOGUE = [
    CatalogueEntry(1, "M2002RDA", "Protection Pack Rain Cloud"),
    CatalogueEntry(2, "M2002RDB", "Protection Pack Phantom"),
    CatalogueEntry(3, "M2002RDC", "Protection Pack Sea Salt"),
    CatalogueEntry(4, "M2002RHO", "2002R Grey", aliases=("M2002RHO2",)),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("M2002RDA", "M2002RDA"),
        ("new-balance-2002r-protection-pack-rain-cloud-m2002rda", "M2002RDA"),
        ("M2002RDB-095", "M2002RDB"),
        ("New Balance ML2002R1 Peace Be the Journey", "ML2002R1"),
        ("u2002rhc", "U2002RHC"),
        ("New Balance 2002R Protection Pack", None),
        ("M2002RDAX12", None),
        ("XM2002RDA", None),
    ],
)
def test_find_style_code(text: str, code: str | None) -> None:
    assert find_style_code(text) == code


def test_mentions_2002r() -> None:
    assert mentions_2002r("New Balance 2002R 'Rain Cloud'")
    assert mentions_2002r("NB 2002 R Sea Salt")
    assert not mentions_2002r("New Balance 990v6 Grey")


@pytest.mark.parametrize(
    ("product", "colorway_id", "method"),
    [
        pytest.param(
            Product(title="Whatever", sizes=(SizeOffer("9", sku="M2002RDB-090"),)),
            2,
            "style_code",
            id="variant-sku",
        ),
        pytest.param(Product(title="2002R", sku="M2002RDC"), 3, "style_code", id="product-sku"),
        pytest.param(Product(title="New Balance M2002RDA Protection Pack"), 1, "style_code", id="title"),
        pytest.param(
            Product(title="2002R", url="https://s.example/products/nb-2002r-m2002rdb"),
            2,
            "style_code",
            id="url",
        ),
        pytest.param(
            Product(title="New Balance 2002R Protection Pack Phantom"), 2, "name", id="name-fallback"
        ),
        pytest.param(
            Product(title="NB 2002R 'Rain Cloud' M2002RFB"),
            None,
            "unmatched",
            id="unknown-code-is-not-name-matched",
        ),
        pytest.param(Product(title="New Balance 2002R Black Cat"), None, "unmatched", id="unknown-name"),
        pytest.param(Product(title="2002R", sku="M2002RHO2"), 4, "style_code", id="alias-code"),
    ],
)
def test_match_product(product: Product, colorway_id: int | None, method: str) -> None:
    match = match_product(product, CATALOGUE)
    assert (match.colorway_id, match.method) == (colorway_id, method)


def test_unknown_code_is_a_discovered_2002r() -> None:
    match = match_product(Product(title="New Balance 2002R", sku="M2002RFB-100"), CATALOGUE)
    assert match.colorway_id is None
    assert match.style_code == "M2002RFB"
    assert match.is_2002r


def test_other_models_are_not_2002r() -> None:
    match = match_product(Product(title="New Balance 990v6 Made in USA Grey"), CATALOGUE)
    assert not match.is_2002r
    assert match.colorway_id is None
