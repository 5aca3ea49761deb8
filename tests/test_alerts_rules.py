"""Rules matrix: each alert kind fires exactly when it should; quiet hours, snooze, message text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from db.models import Colorway, Event
from tracker.config import Rule, parse_config
from tracker.money import format_money
from tracker.notify.plan import quiet_until
from tracker.notify.render import render_message
from tracker.notify.rules import matching_channels, rule_matches, snoozed_until

RAIN_CLOUD = Colorway(
    id=1,
    style_code="M2002RDA",
    name='Protection Pack "Rain Cloud"',
    list_prices={"USD": "150"},
    target_prices={"USD": "120"},
    sizes=["9", "9.5"],
)
NO_SIZES = Colorway(id=2, style_code="M2002RDB", name="Phantom", list_prices={"USD": "150"})


def ev(kind: str, **data: Any) -> Event:
    return Event(kind=kind, colorway_id=1, listing_id=1, data={"currency": "USD", **data})


# (rule, event, colorway, fires)
MATRIX = [
    ({"on": ["new_listing"]}, ev("new_listing", price="150"), RAIN_CLOUD, True),
    ({"on": ["new_listing"]}, ev("new_colorway"), None, False),
    ({"on": ["new_colorway"]}, ev("new_colorway", style_code="M2002RZZ"), None, True),
    ({"on": ["restock"]}, ev("restock", sizes_in_stock=["11"]), RAIN_CLOUD, True),
    ({"on": ["restock"], "only_my_sizes": True}, ev("restock", sizes_in_stock=["11"]), RAIN_CLOUD, False),
    (
        {"on": ["restock"], "only_my_sizes": True},
        ev("restock", sizes_in_stock=["9.5", "11"]),
        RAIN_CLOUD,
        True,
    ),
    ({"on": ["restock"], "only_my_sizes": True}, ev("restock", sizes_in_stock=["11"]), NO_SIZES, True),
    ({"on": ["restock"]}, ev("size_restock", sizes_restocked=["9"]), RAIN_CLOUD, False),
    (
        {"on": ["restock"], "only_my_sizes": True},
        ev("size_restock", sizes_restocked=["9"], my_sizes_restocked=["9"]),
        RAIN_CLOUD,
        True,
    ),
    (
        {"on": ["restock"], "only_my_sizes": True},
        ev("size_restock", sizes_restocked=["12"]),
        RAIN_CLOUD,
        False,
    ),
    ({"on": ["size_restock"]}, ev("size_restock", sizes_restocked=["12"]), RAIN_CLOUD, True),
    (
        {"on": ["size_restock"], "only_my_sizes": True},
        ev("size_restock", sizes_restocked=["12"]),
        RAIN_CLOUD,
        False,
    ),
    (
        {"on": ["size_restock"], "only_my_sizes": True},
        ev("size_restock", sizes_restocked=["9"]),
        RAIN_CLOUD,
        True,
    ),
    ({"on": ["size_restock"]}, ev("restock"), RAIN_CLOUD, False),
    # Sizes compare as sizes: a UK shop's "UK 9" is a US 9.5 (yours), its "UK 9.5" a US 10 (not).
    (
        {"on": ["size_restock"], "only_my_sizes": True},
        ev(
            "size_restock",
            sizes_restocked=["UK 9"],
            sizes_placed={"UK 9": {"systems": {"uk": "9"}, "us": "9.5"}},
        ),
        RAIN_CLOUD,
        True,
    ),
    (
        {"on": ["size_restock"], "only_my_sizes": True},
        ev(
            "size_restock",
            sizes_restocked=["UK 9.5"],
            sizes_placed={"UK 9.5": {"systems": {"uk": "9.5"}, "us": "10"}},
        ),
        RAIN_CLOUD,
        False,
    ),
    (
        {"on": ["restock"], "only_my_sizes": True},
        ev("restock", sizes_in_stock=["43"], sizes_placed={"43": {"systems": {"eu": "43"}, "us": "9.5"}}),
        RAIN_CLOUD,
        True,
    ),
    # A size that could not be placed is never yours, even when its label reads like one.
    (
        {"on": ["restock"], "only_my_sizes": True},
        ev("restock", sizes_in_stock=["9"], sizes_placed={"9": {"systems": {}, "us": None}}),
        RAIN_CLOUD,
        False,
    ),
    ({"on": ["price_drop"]}, ev("price_drop", price="149", old_price="150"), RAIN_CLOUD, True),
    ({"on": ["price_drop"]}, ev("price_rise", price="160", old_price="150"), RAIN_CLOUD, False),
    (
        {"on": ["price_drop"], "min_drop_percent": 10},
        ev("price_drop", price="140", old_price="150"),
        RAIN_CLOUD,
        False,
    ),
    (
        {"on": ["price_drop"], "min_drop_percent": 10},
        ev("price_drop", price="135", old_price="150"),
        RAIN_CLOUD,
        True,
    ),
    (
        {"on": ["price_drop"], "min_drop_amount": 20},
        ev("price_drop", price="135", old_price="150"),
        RAIN_CLOUD,
        False,
    ),
    (
        {"on": ["price_drop"], "min_drop_amount": 20},
        ev("price_drop", price="130", old_price="150"),
        RAIN_CLOUD,
        True,
    ),
    (
        {"on": ["price_drop"], "min_drop_amount": 20, "min_drop_percent": 5},
        ev("price_drop", price="140", old_price="150"),
        RAIN_CLOUD,
        True,
    ),
    ({"on": ["price_drop"], "min_drop_percent": 5}, ev("price_drop", price="100"), RAIN_CLOUD, False),
    # A drop from nothing (an old price of 0) is no drop of any size, never a division by zero.
    (
        {"on": ["price_drop"], "min_drop_percent": 5},
        ev("price_drop", price="100", old_price="0"),
        RAIN_CLOUD,
        False,
    ),
    ({"on": ["price_rise"]}, ev("price_rise", price="160", old_price="150"), RAIN_CLOUD, True),
    ({"on": ["price_rise"]}, ev("price_drop", price="140", old_price="150"), RAIN_CLOUD, False),
    ({"on": ["price_rise"]}, ev("restock", price="160"), RAIN_CLOUD, False),
    ({"on": ["price_rise"], "colorways": ["M2002RDB"]}, ev("price_rise", price="160"), RAIN_CLOUD, False),
    ({"on": ["price_below_target"]}, ev("price_drop", price="120", old_price="130"), RAIN_CLOUD, True),
    ({"on": ["price_below_target"]}, ev("price_drop", price="110", old_price="118"), RAIN_CLOUD, False),
    ({"on": ["price_below_target"]}, ev("price_drop", price="125", old_price="140"), RAIN_CLOUD, False),
    (
        {"on": ["price_below_target"]},
        ev("price_drop", price="110", old_price="118", crossed_target=True),
        RAIN_CLOUD,
        True,
    ),
    ({"on": ["price_below_target"]}, ev("price_drop", price="110", currency="EUR"), RAIN_CLOUD, False),
    ({"on": ["price_below_target"]}, ev("new_listing", price="115"), RAIN_CLOUD, True),
    ({"on": ["price_below_target"]}, ev("restock", price="115"), RAIN_CLOUD, True),
    ({"on": ["price_below_target"]}, ev("price_drop", price="100", old_price="130"), NO_SIZES, False),
    ({"on": ["price_below_list"]}, ev("price_drop", price="149", old_price="150"), RAIN_CLOUD, True),
    ({"on": ["price_below_list"]}, ev("price_drop", price="150", old_price="160"), RAIN_CLOUD, False),
    ({"on": ["price_below_list"]}, ev("price_drop", price="130", old_price="140"), RAIN_CLOUD, False),
    (
        {"on": ["price_below_list"]},
        ev("price_drop", price="100", old_price="120", list_price="110"),
        None,
        True,
    ),
    ({"on": ["release_announced"]}, ev("release_announced", release_date="2025-04-01"), RAIN_CLOUD, True),
    ({"on": ["release_announced"]}, ev("release_changed"), RAIN_CLOUD, False),
    ({"on": ["release_changed"]}, ev("release_changed"), RAIN_CLOUD, True),
    ({"on": ["going_live"]}, ev("going_live"), RAIN_CLOUD, True),
    ({"on": ["sold_out"]}, ev("sold_out"), RAIN_CLOUD, True),
    ({"on": ["sold_out"]}, ev("restock"), RAIN_CLOUD, False),
    ({"on": ["source_broken"]}, ev("source_broken"), None, True),
    ({"on": ["source_broken"]}, ev("source_recovered"), None, True),
    ({"on": ["restock"], "colorways": ["M2002RDA"]}, ev("restock"), RAIN_CLOUD, True),
    ({"on": ["restock"], "colorways": ["m2002rdb"]}, ev("restock"), RAIN_CLOUD, False),
    ({"on": ["new_listing"], "colorways": ["M2002RDA"]}, ev("new_listing"), None, False),
    (
        {"on": ["new_listing"], "colorways": ["M2002RDA"]},
        ev("new_listing", style_code="M2002RDA"),
        None,
        True,
    ),
    ({"on": ["sold_out", "restock"]}, ev("restock"), RAIN_CLOUD, True),
    # Thresholds are news for drops and for what can be bought, not for other kinds under them.
    ({"on": ["price_below_target"]}, ev("sold_out", price="100"), RAIN_CLOUD, False),
    ({"on": ["price_below_target"]}, ev("price_rise", price="110", old_price="100"), RAIN_CLOUD, False),
    # A drop with no earlier price says nothing about crossing.
    ({"on": ["price_below_target"]}, ev("price_drop", price="110"), RAIN_CLOUD, False),
    # Already at the target before the drop (no crossing flag stored): not crossed again.
    ({"on": ["price_below_target"]}, ev("price_drop", price="110", old_price="120"), RAIN_CLOUD, False),
    ({"on": ["price_below_target"]}, ev("price_drop", price="110", old_price="120.01"), RAIN_CLOUD, True),
    ({"on": ["price_below_list"]}, ev("price_drop", price="140", old_price="150"), RAIN_CLOUD, True),
    ({"on": ["price_below_list"]}, ev("price_drop", price="140", old_price="149.99"), RAIN_CLOUD, False),
    # Percent drops at the boundary, and a tiny earlier price is still a price.
    (
        {"on": ["price_drop"], "min_drop_percent": 10},
        ev("price_drop", price="900.5", old_price="1000"),
        RAIN_CLOUD,
        False,
    ),
    (
        {"on": ["price_drop"], "min_drop_percent": 10},
        ev("price_drop", price="900", old_price="1000"),
        RAIN_CLOUD,
        True,
    ),
    (
        {"on": ["price_drop"], "min_drop_percent": 40},
        ev("price_drop", price="0.5", old_price="1"),
        RAIN_CLOUD,
        True,
    ),
]


def _id(case: tuple[dict[str, Any], Event, Colorway | None, bool]) -> str:
    rule, event, colorway, fires = case
    extras = ",".join(f"{k}={v}" for k, v in rule.items() if k != "on")
    data = ",".join(f"{k}={v}" for k, v in (event.data or {}).items() if k != "currency")
    who = colorway.style_code if colorway else "no-colorway"
    return f"{'+'.join(rule['on'])}[{extras}]-{event.kind}({data})-{who}-{'fires' if fires else 'quiet'}"


@pytest.mark.parametrize("case", MATRIX, ids=[_id(c) for c in MATRIX])
def test_rule_fires_exactly_when_it_should(case: tuple[dict[str, Any], Event, Colorway | None, bool]) -> None:
    rule, event, colorway, fires = case
    if colorway is None and event.colorway_id is not None:
        event = Event(kind=event.kind, colorway_id=None, data=event.data)
    assert rule_matches(Rule.model_validate(rule), event, colorway) is fires


def test_channels_are_the_union_of_matching_rules_and_skip_disabled_ones() -> None:
    config = parse_config(
        {
            "alerts": {
                "channels": [
                    {"name": "mail", "url": "mailto://x"},
                    {"name": "phone", "url": "ntfy://topic"},
                    {"name": "off", "url": "json://x", "enabled": False},
                ],
                "rules": [
                    {"on": ["restock"], "channels": ["phone"]},
                    {"on": ["restock", "price_drop"], "channels": ["mail", "off"]},
                    {"on": ["sold_out"]},
                ],
            }
        }
    )
    assert matching_channels(ev("restock"), RAIN_CLOUD, config) == ["mail", "phone"]
    assert matching_channels(ev("price_drop", price="1", old_price="2"), RAIN_CLOUD, config) == ["mail"]
    assert matching_channels(ev("sold_out"), RAIN_CLOUD, config) == ["mail", "phone"]
    assert matching_channels(ev("going_live"), RAIN_CLOUD, config) == []


def test_config_colorway_sizes_and_targets_count_when_the_database_has_none() -> None:
    config = parse_config(
        {
            "colorways": [
                {"name": "Phantom", "style_code": "M2002RDB", "sizes": ["10"], "target_price": {"USD": 100}}
            ]
        }
    )
    event = Event(
        kind="restock", colorway_id=2, data={"sizes_in_stock": ["10"], "price": "99", "currency": "USD"}
    )
    mine = Rule(on=["restock"], only_my_sizes=True)
    size_8 = Event(kind="restock", colorway_id=2, data={"sizes_in_stock": ["8"]})
    assert not rule_matches(mine, size_8, NO_SIZES, config)  # config.toml says size 10
    assert rule_matches(mine, event, NO_SIZES, config)
    assert rule_matches(mine, size_8, NO_SIZES, None)  # no sizes anywhere: every size counts
    assert rule_matches(Rule(on=["price_below_target"]), event, NO_SIZES, config)
    assert not rule_matches(Rule(on=["price_below_target"]), event, NO_SIZES, None)


QUIET = [
    ("22:00", "07:00", "2025-03-01T23:30", "2025-03-02T07:00"),
    ("22:00", "07:00", "2025-03-02T03:00", "2025-03-02T07:00"),
    ("22:00", "07:00", "2025-03-02T07:00", None),
    ("22:00", "07:00", "2025-03-01T21:59", None),
    ("12:00", "14:00", "2025-03-01T12:00", "2025-03-01T14:00"),
    ("12:00", "14:00", "2025-03-01T14:30", None),
]


@pytest.mark.parametrize(("start", "end", "now", "until"), QUIET)
def test_quiet_hours_in_the_configured_timezone(start: str, end: str, now: str, until: str | None) -> None:
    # Local times in New York: the end comes back in UTC (EST is UTC-5 in March before the switch).
    config = parse_config(
        {"timezone": "America/New_York", "alerts": {"quiet_hours": {"start": start, "end": end}}}
    )
    tz = config.tz()
    local = datetime.fromisoformat(now).replace(tzinfo=tz)
    expected = datetime.fromisoformat(until).replace(tzinfo=tz).astimezone(UTC) if until else None
    assert quiet_until(config, local.astimezone(UTC)) == expected


def test_snooze_lasts_through_its_day_in_the_configured_timezone() -> None:
    config = parse_config(
        {
            "timezone": "Asia/Tokyo",
            "colorways": [{"name": "Rain Cloud", "style_code": "M2002RDA", "snooze_until": "2025-03-01"}],
        }
    )
    assert snoozed_until(config, "M2002RDA", datetime(2025, 3, 1, 14, 59, tzinfo=UTC)) == "2025-03-01"
    assert (
        snoozed_until(config, "M2002RDA", datetime(2025, 3, 1, 15, 0, tzinfo=UTC)) is None
    )  # midnight in Tokyo
    assert snoozed_until(config, "M2002RDB", datetime(2025, 2, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        ("130", "USD", None, "$130.00"),
        ("129.5", "GBP", None, "£129.50"),
        ("16000", "JPY", None, "¥16,000"),
        ("149.95", "CHF", None, "CHF 149.95"),
        ("1.234", "KWD", None, "KWD 1.234"),
        ("170", "EUR", "de_DE", "170,00\xa0€"),
        ("130", "USD", "en_GB", "US$130.00"),
        ("130", "XYZ", None, "130.00 XYZ"),
    ],
)
def test_money_reads_like_a_price_tag(amount: str, currency: str, locale: str | None, text: str) -> None:
    from decimal import Decimal

    assert format_money(Decimal(amount), currency, locale) == text


def test_message_for_a_discovered_listing_and_for_a_release_change() -> None:
    found = Event(
        kind="new_colorway",
        data={
            "shop": "Concepts",
            "title": "2002R Protection Pack Vintage Orange",
            "style_code": "M2002RDQ",
            "price": "170",
            "currency": "EUR",
            "url": "https://concepts.example/p/rdq",
        },
    )
    title, body, image = render_message(found, None)
    assert title == "New colorway: 2002R Protection Pack Vintage Orange (M2002RDQ)"
    lines = body.splitlines()
    assert lines[0] == "New colorway: 2002R Protection Pack Vintage Orange at Concepts"
    assert "Colorway: (unnamed) (M2002RDQ)" in lines and "Price: €170.00" in lines
    assert "Link: https://concepts.example/p/rdq" in lines and image is None

    moved = Event(
        kind="release_changed",
        colorway_id=1,
        message="Rain Cloud release moved to 2025-04-12",
        data={"release_date": "2025-04-12", "old_release_date": "2025-04-05"},
    )
    title, body, _ = render_message(
        moved, RAIN_CLOUD.model_copy(update={"image": "https://img.example/rc.png"})
    )
    assert title == 'Release date changed: Protection Pack "Rain Cloud" (M2002RDA)'
    assert body.splitlines()[0] == "Rain Cloud release moved to 2025-04-12"
    assert "Release date: 2025-04-12 (was 2025-04-05)" in body.splitlines()

    restock = ev(
        "restock",
        price="160",
        availability="InStock",
        old_availability="OutOfStock",
        sizes_in_stock=["9", "10"],
        my_sizes_restocked=["9"],
        image="https://img.example/x.jpg",
    )
    _, body, image = render_message(restock, RAIN_CLOUD)
    assert "List price: $150.00 ($10.00 above list, +7%)" in body.splitlines()
    assert "Your target: $120.00" in body.splitlines()
    assert "Availability: in stock (was out of stock)" in body.splitlines()
    assert "Your sizes back: 9" in body.splitlines()
    assert image == "https://img.example/x.jpg"
