"""Rules that read price history: "lowest price in N days" against the stored observations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from db.engine import make_engine
from db.models import Listing, Observation, Source
from tests.test_alerts_support import NOW, World, make_event, seed
from tracker.config import Config, parse_config
from tracker.notify.plan import plan_deliveries

T = NOW


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    """Rain Cloud at Kith and Concepts, with a price history (newest last):

    Concepts: $110 at T-45 d, $140 at T-35 d, $90 suspect at T-5 d, $100 out of stock at T-3 d.
    Kith:     $150 at T-60 d, $130 at T-20 d, $150 at T-10 d.
    Over 30 days the lowest buyable price is $130; over 40 days $110 (Concepts held it when the
    window opened); over 90 days $110.
    """
    engine = make_engine(db_url)
    w = seed(engine)
    with Session(engine) as session:
        shop = Source(name="Concepts", kind="shopify", url="https://concepts.example/")
        session.add(shop)
        session.flush()
        assert shop.id is not None
        other = Listing(
            source_id=shop.id, colorway_id=w.colorway_id, external_id="rc", url="https://concepts.example/rc"
        )
        session.add(other)
        session.flush()
        assert other.id is not None
        history: list[tuple[int, int, str, dict[str, Any]]] = [
            (other.id, 45, "110", {}),
            (other.id, 35, "140", {}),
            (other.id, 5, "90", {"suspect": True}),
            (other.id, 3, "100", {"availability": "OutOfStock"}),
            (w.listing_id, 60, "150", {}),
            (w.listing_id, 20, "130", {}),
            (w.listing_id, 10, "150", {}),
        ]
        for listing_id, days, price, extra in history:
            session.add(
                Observation(
                    listing_id=listing_id,
                    observed_at=T - timedelta(days=days),
                    price=Decimal(price),
                    currency="USD",
                    availability=extra.get("availability", "InStock"),
                    suspect=extra.get("suspect", False),
                )
            )
        session.commit()
    yield w
    engine.dispose()


def _config(**rule: Any) -> Config:
    return parse_config(
        {
            "colorways": [{"name": 'Protection Pack "Rain Cloud"', "style_code": "M2002RDA"}],
            "alerts": {
                "channels": [
                    {"name": "month", "url": "json://127.0.0.1:9/a"},
                    {"name": "quarter", "url": "json://127.0.0.1:9/b"},
                ],
                "debounce": "0s",
                "rules": [
                    {
                        "on": ["price_drop", "restock", "sold_out"],
                        "lowest_in_days": 30,
                        "channels": ["month"],
                        **rule,
                    },
                    {"on": ["price_drop"], "lowest_in_days": 90, "channels": ["quarter"]},
                ],
            },
        }
    )


def _channels(
    world: World,
    kind: str,
    price: str | None,
    *,
    currency: str = "USD",
    discovered: bool = False,
    rule: dict[str, Any] | None = None,
) -> list[str]:
    """Record the check's observation and event as the pipeline does, plan, and return the channels."""
    with Session(world.engine) as session:
        if price is not None:
            session.add(
                Observation(
                    listing_id=world.listing_id,
                    observed_at=T,
                    price=Decimal(price),
                    currency=currency,
                    availability="InStock",
                )
            )
        event = make_event(world, kind, price=price, currency=currency, discovered=discovered)
        session.add(event)
        session.flush()
        planned = plan_deliveries(session, [event], _config(**(rule or {})), now=T)
        channels = sorted(d.channel for d in planned)
        session.rollback()  # each case starts from the same history
    return channels


@pytest.mark.parametrize(
    ("kind", "price", "extra", "expected"),
    [
        ("price_drop", "129", {}, ["month"]),
        ("price_drop", "130", {}, ["month"]),  # equal to the 30-day low counts, as Keepa's does
        ("price_drop", "131", {}, []),
        ("price_drop", "109.99", {}, ["month", "quarter"]),
        ("price_drop", "200", {"currency": "EUR"}, ["month", "quarter"]),  # the first EUR price is the lowest
        ("restock", "125", {}, ["month"]),
        ("sold_out", None, {}, []),  # no price: not a low
        ("price_drop", "100", {"discovered": True}, []),  # no colorway: no history to compare with
        ("price_drop", "129", {"rule": {"lowest_in_days": 40}}, []),  # $110 held when 40 days began
    ],
    ids=[
        "below",
        "equal",
        "above",
        "below-both",
        "other-currency",
        "restock",
        "no-price",
        "discovered",
        "held-at-start",
    ],
)
def test_lowest_price_in_n_days(
    world: World, kind: str, price: str | None, extra: dict[str, Any], expected: list[str]
) -> None:
    assert _channels(world, kind, price, **extra) == expected


def test_without_the_option_history_is_not_read(world: World) -> None:
    config = parse_config(
        {
            "alerts": {
                "channels": [{"name": "all", "url": "json://127.0.0.1:9/a"}],
                "rules": [{"on": ["price_drop"]}],
            }
        }
    )
    with Session(world.engine) as session:
        event = make_event(world, "price_drop", price="999")
        session.add(event)
        session.flush()
        statements: list[str] = []
        sa.event.listen(world.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        planned = plan_deliveries(session, [event], config, now=T)
        assert [d.channel for d in planned] == ["all"]
        assert not any("observations" in s for s in statements)
        session.rollback()
