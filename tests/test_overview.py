"""The overview's answer: the cheapest offer in one of the collector's sizes, beside the cheapest in any
size. Table-driven, on db.queries and on the page itself (AppTest over a real SQLite file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import queries
from tests.dashboard_html import overview_rows
from tests.seed import ShopOffer, seed_offers, sqlite_engine, write_offers_config

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Case:
    """Shops' offers, the collector's sizes, and the two answers the overview must give."""

    id: str
    offers: tuple[ShopOffer, ...]
    mine: tuple[str, ...]
    want_mine: tuple[str, str] | None  # (price, shop) in one of my sizes; None: not in my sizes
    want_any: tuple[str, str] | None  # (price, shop) in any size
    mine_text: str = ""  # what the cell says when there is no price in my sizes


CASES = (
    Case(
        "cheapest-shop-lacks-my-sizes",
        (
            ShopOffer("Shop 07", "60", in_stock=("8", "11")),
            ShopOffer("Shop 22", "60", in_stock=("9", "10")),
            ShopOffer("Shop 03", "80", in_stock=("9",)),
        ),
        ("9", "10"),
        ("60", "Shop 22"),
        ("60", "Shop 07"),
    ),
    Case(
        "only-a-dearer-shop-has-my-size",
        (ShopOffer("Cheap", "99", in_stock=("8", "11")), ShopOffer("Dear", "140", in_stock=("10",))),
        ("10",),
        ("140", "Dear"),
        ("99", "Cheap"),
    ),
    Case(
        "my-size-has-its-own-price",
        (
            ShopOffer("A", "120", in_stock=("9", "10"), size_prices=(("10", "135"), ("9", "110"))),
            ShopOffer("B", "115", in_stock=("10",)),
        ),
        ("10",),
        ("115", "B"),
        ("115", "B"),
    ),
    Case(
        "a-shop-writing-uk-sizes",
        (ShopOffer("UK shop", "100", in_stock=("UK 9.5",)), ShopOffer("US shop", "130", in_stock=("10",))),
        ("10",),  # US 10 is UK 9.5 on New Balance's chart
        ("100", "UK shop"),
        ("100", "UK shop"),
    ),
    Case(
        "suspect-price-and-other-currency-never-count",
        (
            ShopOffer("Glitch", "15", in_stock=("9",), suspect=True),
            ShopOffer("Euro shop", "90", in_stock=("9",), currency="EUR"),
            ShopOffer("Honest", "150", in_stock=("9",)),
        ),
        ("9",),
        ("150", "Honest"),
        ("150", "Honest"),
    ),
    Case(
        "in-stock-but-not-in-my-sizes",
        (ShopOffer("A", "70", in_stock=("8",)), ShopOffer("B", "75", in_stock=("11",))),
        ("9", "10"),
        None,
        ("70", "A"),
        mine_text="Not in your sizes",
    ),
    Case(
        "sold-out-everywhere",
        (
            ShopOffer("A", "120", availability="OutOfStock"),
            ShopOffer("B", "110", in_stock=("9",), availability="OutOfStock"),  # stale size, page says no
        ),
        ("9",),
        None,
        None,
        mine_text="Sold out everywhere",
    ),
)


def _offer(i: int, spec: ShopOffer) -> queries.Offer:
    own = dict(spec.size_prices)
    sizes = tuple(
        {
            "size": label,
            "availability": "InStock" if label in spec.in_stock else "OutOfStock",
            **({"price": own[label]} if label in own else {}),
        }
        for label in spec.sizes
    )
    return queries.Offer(
        listing_id=i,
        colorway_id=1,
        source_name=spec.shop,
        url=f"https://shop{i}.example/p",
        title=None,
        style_code=None,
        image=None,
        price=Decimal(spec.price),
        currency=spec.currency,
        compare_at=None,
        availability=spec.availability,
        sizes=sizes,
        suspect=spec.suspect,
        observed_at=NOW,
        last_checked_at=NOW,
        gone=False,
    )


def _answer(found: queries.Cheapest | None) -> tuple[str, str] | None:
    return None if found is None else (f"{found.price:f}", found.source_name)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cheapest_in_my_sizes(case: Case) -> None:
    offers = [_offer(i, o) for i, o in enumerate(case.offers)]
    mine = queries.cheapest(offers, "USD", queries.SizeMatcher(case.mine))
    assert _answer(mine) == case.want_mine
    assert _answer(queries.cheapest(offers, "USD")) == case.want_any


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_overview_page_answers_in_my_sizes(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = sqlite_engine(tmp_path)
    seed_offers(engine, case.offers, case.mine, NOW)
    engine.dispose()
    config = write_offers_config(tmp_path / "config.toml", url, case.mine)
    monkeypatch.setenv("TRACKER_CONFIG", str(config))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    row = overview_rows(at)["M2002RDA"]
    assert row["href"] == "colorway?style=M2002RDA"
    if case.want_mine:
        price, shop = case.want_mine
        assert row["mine"].startswith(f"In your sizes ${price}.00 at {shop}"), row["mine"]
        shop_index = next(i for i, o in enumerate(case.offers) if o.shop == shop)
        assert f"https://shop{shop_index}.example/products/rda" in row["buy"]
    else:
        assert case.mine_text in row["mine"], row["mine"]
    if case.want_any:
        price, shop = case.want_any
        assert row["any"] == f"Any size ${price}.00 at {shop} buy ↗", row["any"]
    else:
        assert "Sold out everywhere" in row["any"] and "Sold out everywhere" in row["stock"]
