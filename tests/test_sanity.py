"""The sanity guard: implausible prices are held as suspect until the next check confirms them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from db.engine import make_engine
from db.models import Event, Observation
from tests.servers import PageServer, product_page
from tracker.check.sanity import suspicious
from tracker.config import parse_text
from tracker.fetch import Fetcher
from tracker.pipeline import Pipeline

LIST = {"USD": "150"}


@pytest.mark.parametrize(
    ("price", "last", "held"),
    [
        ("119.99", "150", False),
        ("45", None, False),
        ("44", None, True),  # under 30 % of list
        ("15000", None, True),  # 100x the list price
        ("451", None, True),
        ("60", "150", False),
        ("59", "150", True),  # a fall of more than 60 % from the last price
        ("375", "150", False),
        ("376", "150", True),
    ],
)
def test_thresholds(price: str, last: str | None, held: bool) -> None:
    reason = suspicious(
        Decimal(price),
        "USD",
        list_prices=LIST,
        last_price=Decimal(last) if last else None,
        last_currency="USD",
    )
    assert (reason is not None) == held


def test_other_currency_is_not_judged_by_a_usd_list_price() -> None:
    assert suspicious(Decimal("16000"), "JPY", list_prices=LIST) is None


def _config(url: str, db: str) -> str:
    return f"""
database_url = "{db}"
[defaults]
retries = 0
per_host_delay = "0s"
respect_robots = false
[[colorways]]
name = "Phantom"
style_code = "M2002RDB"
list_price = {{ USD = 150 }}
target_price = {{ USD = 140 }}
[[sources]]
name = "Shop"
kind = "page"
url = "{url}"
"""


def test_a_suspect_price_is_held_then_confirmed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(db)
    with PageServer() as server:
        url = server.set("/p", product_page("150.00"))
        config = parse_text(_config(url, db))

        async def check() -> str:
            async with Fetcher(config.defaults) as fetcher:
                summary = await Pipeline(config, engine, fetcher).check("Shop")
                return summary.status

        def observations() -> list[Observation]:
            with Session(engine) as s:
                return list(s.exec(select(Observation).order_by(col(Observation.id))).all())

        def events() -> list[Event]:
            with Session(engine) as s:
                return list(s.exec(select(Event).order_by(col(Event.id))).all())

        assert asyncio.run(check()) == "ok"
        # A price of 1.50: a typo or a broken page. Held, no alert-worthy event.
        server.set("/p", product_page("1.50"))
        asyncio.run(check())
        rows = observations()
        assert [(o.price, o.suspect) for o in rows] == [(Decimal("150"), False), (Decimal("1.50"), True)]
        assert events() == []
        # The shop fixes it: the suspect row stays marked, the state is back, still no event.
        server.set("/p", product_page("150.00"))
        asyncio.run(check())
        rows = observations()
        assert [(o.price, o.suspect) for o in rows] == [
            (Decimal("150"), False),
            (Decimal("1.50"), True),
            (Decimal("150"), False),
        ]
        assert events() == []
        # A real, large markdown seen twice in a row is confirmed and only then announced.
        server.set("/p", product_page("39.00"))
        asyncio.run(check())
        assert observations()[-1].suspect is True
        assert events() == []
        asyncio.run(check())
        rows = observations()
        assert rows[-1].price == Decimal("39") and rows[-1].suspect is False
        assert len(rows) == 4
        (drop,) = events()
        assert drop.kind == "price_drop"
        assert Decimal(drop.data["old_price"]) == Decimal("150") and Decimal(drop.data["price"]) == Decimal(
            "39"
        )
        assert drop.observation_id == rows[-1].id
