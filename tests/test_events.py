"""Event detection between two states of a listing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.events import Context, State, detect, detect_new
from tracker.extract.model import Availability, Product, SizeOffer

CTX = Context(
    shop="Boutique",
    title="New Balance 2002R Protection Pack Phantom",
    url="http://127.0.0.1/p",
    style_code="M2002RDB",
    colorway="Protection Pack Phantom",
    list_prices={"USD": "150"},
    target_prices={"USD": "125"},
    my_sizes=("10",),
)


def state(
    price: str | None,
    availability: str = "InStock",
    sizes: dict[str, str] | None = None,
    *,
    currency: str = "USD",
    system: str | None = None,
) -> State:
    """A state as a check records it: the sizes placed the way the collect stage places them."""
    rows = size_rows(price, sizes or {}, currency=currency, system=system)
    return State.of(Decimal(price) if price else None, currency, None, availability, rows)


def size_rows(
    price: str | None, sizes: dict[str, str], *, currency: str = "USD", system: str | None = None
) -> list[dict[str, object]]:
    offers = tuple(SizeOffer(s, Availability(a), Decimal(price) if price else None) for s, a in sizes.items())
    product = Product(url="http://127.0.0.1/p", currency=currency, sizes=offers).placed_sizes(system=system)
    return [s.to_json() for s in product.sizes]


def kinds(old: State, new: State) -> list[str]:
    return [d.kind for d in detect(CTX, old, new)]


def test_price_drop_below_list_and_target() -> None:
    (draft,) = detect(CTX, state("150"), state("119.99"))
    assert draft.kind == "price_drop"
    assert draft.data["old_price"] == "150" and draft.data["price"] == "119.99"
    assert draft.data["crossed_list"] is True and draft.data["below_list"] is True
    assert draft.data["crossed_target"] is True and draft.data["below_target"] is True
    assert draft.data["change_percent"] == "-20.0"
    assert "below list price" in draft.message and "target" in draft.message


def test_price_rise_not_crossing() -> None:
    (draft,) = detect(CTX, state("160"), state("170"))
    assert draft.kind == "price_rise"
    assert draft.data["crossed_list"] is False


def test_no_price_event_across_currencies_or_missing_price() -> None:
    eur = State.of(Decimal("170"), "EUR", None, "InStock", [])
    assert kinds(state("150"), eur) == []
    assert kinds(state(None), state("150")) == []


def test_sold_out_and_restock() -> None:
    assert kinds(state("150"), state("150", "OutOfStock")) == ["sold_out"]
    assert kinds(state("150", "OutOfStock"), state("150")) == ["restock"]


def test_unknown_is_not_sold_out() -> None:
    assert kinds(state("150"), state("150", "unknown")) == []


def test_size_back_in_stock_marks_my_sizes() -> None:
    old = state("150", sizes={"9": "InStock", "10": "OutOfStock", "11": "OutOfStock"})
    new = state("150", sizes={"9": "InStock", "10": "InStock", "11": "OutOfStock"})
    (draft,) = detect(CTX, old, new)
    assert draft.kind == "size_restock"
    assert draft.data["sizes_restocked"] == ["10"]
    assert draft.data["my_sizes_restocked"] == ["10"]


def test_restock_lists_sizes() -> None:
    old = state("150", "OutOfStock", sizes={"9": "OutOfStock", "10": "OutOfStock"})
    new = state("150", "InStock", sizes={"9": "OutOfStock", "10": "InStock"})
    (draft,) = detect(CTX, old, new)
    assert draft.kind == "restock"
    assert draft.data["sizes_restocked"] == ["10"] and draft.data["my_sizes_restocked"] == ["10"]


def test_new_listing_and_new_colorway() -> None:
    (listing,) = detect_new(CTX, state("150"), discovered_code=False)
    assert listing.kind == "new_listing" and "Boutique" in listing.message
    (colorway,) = detect_new(CTX, state("150"), discovered_code=True)
    assert colorway.kind == "new_colorway"


def test_equal_states_compare_equal_whatever_size_order() -> None:
    a = state("150", sizes={"9": "InStock", "10": "OutOfStock"})
    rows = size_rows("150", {"9": "InStock", "10": "OutOfStock"})
    b = State.of(Decimal("150.00"), "USD", None, "InStock", list(reversed(rows)))
    assert a == b


def test_uk_shop_sizes_compare_as_sizes_not_strings() -> None:
    # The collector watches US 10 (CTX.my_sizes). A UK shop's "UK 10" is a US 10.5; its "UK 9.5" is
    # the collector's 10.
    old = state(
        "130", sizes={"UK 8": "InStock", "UK 9.5": "OutOfStock", "UK 10": "OutOfStock"}, currency="GBP"
    )
    new = state("130", sizes={"UK 8": "InStock", "UK 9.5": "InStock", "UK 10": "InStock"}, currency="GBP")
    (draft,) = detect(CTX, old, new)
    assert draft.kind == "size_restock"
    assert draft.data["sizes_restocked"] == ["UK 10", "UK 9.5"]
    assert draft.data["my_sizes_restocked"] == ["UK 9.5"]
    assert draft.data["my_sizes_as"] == {"UK 9.5": "US 10"}
    assert "UK 9.5 (= US 10)" in draft.message and "UK 10 (=" not in draft.message
    assert draft.data["sizes_placed"]["UK 10"]["us"] == "10.5"


def test_uk_10_alone_is_not_my_size() -> None:
    old = state("130", sizes={"UK 8": "InStock", "UK 10": "OutOfStock"}, currency="GBP")
    new = state("130", sizes={"UK 8": "InStock", "UK 10": "InStock"}, currency="GBP")
    (draft,) = detect(CTX, old, new)
    assert draft.data["sizes_restocked"] == ["UK 10"] and draft.data["my_sizes_restocked"] == []


def test_eu_shop_bare_numbers_are_placed_by_its_currency() -> None:
    old = state("170", "OutOfStock", sizes={"43": "OutOfStock", "44": "OutOfStock"}, currency="EUR")
    new = state("170", "InStock", sizes={"43": "OutOfStock", "44": "InStock"}, currency="EUR")
    (draft,) = detect(CTX, old, new)
    assert draft.kind == "restock"
    assert draft.data["my_sizes_restocked"] == ["44"]
    assert "44 (= US 10)" in draft.message


def test_a_size_that_cannot_be_placed_is_never_mine() -> None:
    # A shop paying in a currency with no one size system, without size_system: "10" is unplaced.
    old = state("200", sizes={"9": "InStock", "10": "OutOfStock"}, currency="AUD")
    new = state("200", sizes={"9": "InStock", "10": "InStock"}, currency="AUD")
    (draft,) = detect(CTX, old, new)
    assert draft.data["sizes_restocked"] == ["10"] and draft.data["my_sizes_restocked"] == []
    # The source's size_system places them.
    old = state("200", sizes={"9": "InStock", "10": "OutOfStock"}, currency="AUD", system="us_men")
    new = state("200", sizes={"9": "InStock", "10": "InStock"}, currency="AUD", system="us_men")
    (draft,) = detect(CTX, old, new)
    assert draft.data["my_sizes_restocked"] == ["10"]


def test_a_size_placed_differently_is_a_new_state_but_not_a_restock() -> None:
    # Setting a source's size_system changes where its sizes are placed: a new observation, no event.
    guessed = state("150", sizes={"10": "InStock"}, currency="USD")
    configured = state("150", sizes={"10": "InStock"}, currency="USD", system="us_men")
    assert guessed != configured
    assert detect(CTX, guessed, configured) == []


def test_collector_in_uk_sizes() -> None:
    uk_ctx = Context(shop="Kith", title=None, url="http://127.0.0.1/p", my_sizes=("9.5",), size_system="uk")
    old = state("150", sizes={"9": "InStock", "10": "OutOfStock", "10.5": "OutOfStock"})
    new = state("150", sizes={"9": "InStock", "10": "InStock", "10.5": "InStock"})
    (draft,) = detect(uk_ctx, old, new)
    assert draft.data["my_sizes_restocked"] == ["10"]
    assert draft.data["my_sizes_as"] == {"10": "UK 9.5"}


# -- every field of every event, exactly: messages and data are what alerts and rules read ---------

PHANTOM = Context(
    shop="Kith",
    title="New Balance 2002R Phantom",
    url="https://kith.example/p/rdb",
    image="https://img.example/rdb.png",
    style_code="M2002RDB",
    colorway="Phantom",
    line="Protection Pack",
    list_prices={"USD": "150"},
    target_prices={"USD": "125"},
)
FACTS = {
    "shop": "Kith",
    "title": "New Balance 2002R Phantom",
    "url": "https://kith.example/p/rdb",
    "image": "https://img.example/rdb.png",
    "style_code": "M2002RDB",
    "colorway": "Phantom",
    "line": "Protection Pack",
    "currency": "USD",
    "list_price": "150",
    "target_price": "125",
}
UNPLACED = {"systems": {}, "us": None, "via": None, "guessed": False}


def raw(price: str | None, availability: str = "InStock", sizes: tuple[tuple[str, str], ...] = ()) -> State:
    """A state with sizes as written, unplaced (so no size is the collector's)."""
    rows = [{"size": s, "availability": a} for s, a in sizes]
    return State.of(Decimal(price) if price else None, "USD", None, availability, rows)


def priced(price: str, availability: str = "InStock") -> dict[str, object]:
    """The facts every event of the Phantom listing carries at this price."""
    amount = Decimal(price)
    return dict(
        FACTS,
        price=price,
        availability=availability,
        sizes_in_stock=[],
        below_list=amount < 150,
        diff_from_list=str(amount - 150),
        below_target=amount <= 125,
    )


@pytest.mark.parametrize(
    ("old", "new", "message", "extra"),
    [
        pytest.param(
            "150",
            "119.99",
            "Phantom (M2002RDB) dropped to $119.99 at Kith (was $150.00)"
            " (now below list price, at or below your target)",
            {"change": "-30.01", "change_percent": "-20.0", "crossed_list": True, "crossed_target": True},
            id="drop-through-list-and-target",
        ),
        pytest.param(
            "119.99",
            "150",
            "Phantom (M2002RDB) rose to $150.00 at Kith (was $119.99) (now above list price)",
            {"change": "30.01", "change_percent": "25.0", "crossed_list": True, "crossed_target": True},
            id="rise-back-to-list",
        ),
        pytest.param(
            "130",
            "125",
            "Phantom (M2002RDB) dropped to $125.00 at Kith (was $130.00) (at or below your target)",
            {"change": "-5", "change_percent": "-3.8", "crossed_list": False, "crossed_target": True},
            id="drop-onto-the-target-exactly",
        ),
        pytest.param(
            "125",
            "120",
            "Phantom (M2002RDB) dropped to $120.00 at Kith (was $125.00)",
            {"change": "-5", "change_percent": "-4.0", "crossed_list": False, "crossed_target": False},
            id="already-at-the-target",
        ),
        pytest.param(
            "160",
            "150",
            "Phantom (M2002RDB) dropped to $150.00 at Kith (was $160.00)",
            {"change": "-10", "change_percent": "-6.2", "crossed_list": False, "crossed_target": False},
            id="drop-onto-the-list-price-is-not-below-it",
        ),
        pytest.param(
            "150",
            "149.99",
            "Phantom (M2002RDB) dropped to $149.99 at Kith (was $150.00) (now below list price)",
            {"change": "-0.01", "change_percent": "-0.0", "crossed_list": True, "crossed_target": False},
            id="a-cent-below-list",
        ),
        pytest.param(
            "120",
            "120.50",
            "Phantom (M2002RDB) rose to $120.50 at Kith (was $120.00)",
            {"change": "0.50", "change_percent": "0.4", "crossed_list": False, "crossed_target": False},
            id="a-rise-under-one-unit",
        ),
    ],
)
def test_price_moves_carry_exact_messages_and_facts(
    old: str, new: str, message: str, extra: dict[str, object]
) -> None:
    [draft] = detect(PHANTOM, raw(old), raw(new))
    assert draft.kind == ("price_drop" if Decimal(new) < Decimal(old) else "price_rise")
    assert draft.message == message
    assert draft.data == dict(priced(new), old_price=old, **extra)


def test_no_event_without_a_change_or_across_currencies() -> None:
    assert detect(PHANTOM, raw("150"), raw("150")) == []
    euros = State.of(Decimal("120"), "EUR", None, "InStock", [])
    assert detect(PHANTOM, raw("150"), euros) == [], "a price in another currency is no drop"


def test_sold_out_restock_and_size_restock_exactly() -> None:
    sold = detect(PHANTOM, raw("150"), raw("150", "OutOfStock"))
    assert [(d.kind, d.message) for d in sold] == [("sold_out", "Phantom (M2002RDB) sold out at Kith")]
    assert sold[0].data == dict(priced("150", "OutOfStock"), old_availability="InStock")

    sizes_out = (("9", "OutOfStock"), ("10", "OutOfStock"))
    nine_back = (("9", "InStock"), ("10", "OutOfStock"))
    [back] = detect(PHANTOM, raw("150", "OutOfStock", sizes_out), raw("150", "InStock", nine_back))
    assert (back.kind, back.message) == ("restock", "Phantom (M2002RDB) is back in stock at Kith: sizes 9")
    assert back.data == dict(
        priced("150"),
        sizes_in_stock=["9"],
        sizes_placed={"9": UNPLACED},
        sizes_restocked=["9"],
        my_sizes_restocked=[],
        old_availability="OutOfStock",
    )

    [more] = detect(
        PHANTOM,
        raw("150", "InStock", (("9", "InStock"), ("10", "OutOfStock"))),
        raw("150", "InStock", (("9", "InStock"), ("10", "InStock"))),
    )
    assert (more.kind, more.message) == ("size_restock", "Phantom (M2002RDB): size 10 back in stock at Kith")
    assert more.data == dict(
        priced("150"),
        sizes_in_stock=["10", "9"],
        sizes_placed={"10": UNPLACED, "9": UNPLACED},
        sizes_restocked=["10"],
        my_sizes_restocked=[],
    )
    # Spacing and case in a shop's own label are no restock.
    before = raw("150", "InStock", (("US 9", "InStock"),))
    assert detect(PHANTOM, before, raw("150", "InStock", (("us  9", "InStock"),))) == []


@pytest.mark.parametrize(
    ("availability", "discovered", "kind", "message"),
    [
        ("InStock", False, "new_listing", "New listing at Kith: Phantom (M2002RDB), $150.00, in stock"),
        (
            "OutOfStock",
            False,
            "new_listing",
            "New listing at Kith: Phantom (M2002RDB), $150.00, not in stock yet",
        ),
        (
            "InStock",
            True,
            "new_colorway",
            "New 2002R colorway discovered at Kith: New Balance 2002R Phantom (M2002RDB), $150.00",
        ),
    ],
)
def test_first_sight_exactly(availability: str, discovered: bool, kind: str, message: str) -> None:
    [draft] = detect_new(PHANTOM, raw("150", availability), discovered_code=discovered)
    assert (draft.kind, draft.message) == (kind, message)
    assert draft.data == priced("150", availability)


def test_messages_name_what_is_known() -> None:
    unnamed = Context(shop="Kith", title=None, url="https://kith.example/p", style_code="M2002RXX")
    [new] = detect_new(unnamed, raw(None, "InStock"), discovered_code=True)
    assert new.message == "New 2002R colorway discovered at Kith: M2002RXX (M2002RXX), no price"
    [listing] = detect_new(unnamed, raw(None, "InStock"), discovered_code=False)
    assert listing.message == "New listing at Kith: listing, no price, in stock"
    assert "list_price" not in listing.data and "below_target" not in listing.data
    in_yen = Context(shop="Atmos", title="2002R", url="https://atmos.example/p", locale="ja_JP")
    yen = State.of(Decimal("16500"), "JPY", None, "InStock", [])
    [drop] = detect(in_yen, State.of(Decimal("19800"), "JPY", None, "InStock", []), yen)
    assert drop.message == "2002R dropped to ￥16,500 at Atmos (was ￥19,800)"
