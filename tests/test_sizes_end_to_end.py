"""A UK shop restocks: the collector's US 10 is its UK 9.5, not its UK 10. Real shop, database, webhook."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db import queries
from db.engine import make_engine
from db.models import Delivery, Event
from tests.servers import PageServer
from tests.test_alerts_support import json_receiver
from tracker.config import Config, parse_config
from tracker.fetch import Fetcher
from tracker.notify.outbox import deliver_due
from tracker.notify.plan import plan_deliveries
from tracker.pipeline import Pipeline

KIDS = "UK 3.5 (Kids)"  # a size no adult system has: kept, never matched, listed on the health page


def catalogue(labels: dict[str, str], in_stock: set[str]) -> str:
    """A Shopify products.json with one 2002R whose Size option has these labels (size -> label)."""
    sizes = [*labels.values(), KIDS]
    variants = [
        {
            "id": 500 + i,
            "title": label,
            "option1": label,
            "sku": f"M2002RDA-{i}",
            "price": "130.00",
            "available": label in in_stock or label == KIDS,
        }
        for i, label in enumerate(sizes)
    ]
    product = {
        "id": 5,
        "title": "New Balance 2002R Protection Pack Rain Cloud",
        "handle": "new-balance-2002r-rain-cloud",
        "vendor": "New Balance",
        "tags": [],
        "options": [{"name": "Size", "position": 1, "values": sizes}],
        "variants": variants,
    }
    return json.dumps({"products": [product]})


def make_config(shop: str, hook_url: str, db_url: str, **source: Any) -> Config:
    return parse_config(
        {
            "database_url": db_url,
            "defaults": {"per_host_delay": 0, "retries": 0},
            "colorways": [{"name": "Rain Cloud", "style_code": "M2002RDA", "sizes": ["10"], "watched": True}],
            "sources": [
                {"name": "UK Boutique", "kind": "shopify", "url": shop, "respect_robots": False, **source}
            ],
            "alerts": {
                "channels": [{"name": "hook", "url": hook_url}],
                "rules": [{"on": ["restock", "size_restock"], "only_my_sizes": True}],
            },
        }
    )


async def _check(config: Config, engine: sa.Engine) -> None:
    async with Fetcher(config.defaults) as fetcher:
        summary = await Pipeline(config, engine, fetcher, planner=plan_deliveries).check("UK Boutique")
    assert summary.status == "ok", summary


def _restock_and_deliver(
    db_url: str, labels: dict[str, str], source: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[Event], list[Delivery], sa.Engine]:
    """Baseline with UK 8 in stock, then UK 10 and UK 9.5 back in one check; deliver what was planned."""
    engine = make_engine(db_url)
    with PageServer() as shop, json_receiver() as hook:
        config = make_config(shop.base, hook.url(), db_url, **source)
        shop.set("/products.json", catalogue(labels, {labels["8"]}), **{"Content-Type": "application/json"})
        asyncio.run(_check(config, engine))
        back = {labels["8"], labels["9.5"], labels["10"]}
        shop.set("/products.json", catalogue(labels, back), **{"Content-Type": "application/json"})
        asyncio.run(_check(config, engine))
        stats = asyncio.run(deliver_due(engine, config, now=datetime.now(UTC)))
        assert stats.failed == 0
        posted = hook.bodies()
    with Session(engine) as session:
        events = list(session.exec(select(Event)).all())
        deliveries = list(session.exec(select(Delivery)).all())
        session.expunge_all()
    return posted, events, deliveries, engine


UK_LABELS = {"8": "UK 8", "9.5": "UK 9.5", "10": "UK 10"}


def test_uk_shop_restock_sends_one_alert_naming_uk_9_5(db_url: str) -> None:
    posted, events, deliveries, engine = _restock_and_deliver(db_url, UK_LABELS, {"currency": "GBP"})
    # The size restock is one event (UK 10 and UK 9.5 back), sent once, because UK 9.5 is a US 10.
    assert [e.kind for e in events] == ["size_restock"]
    (event,) = events
    assert event.data["sizes_restocked"] == ["UK 10", "UK 9.5"]
    assert event.data["my_sizes_restocked"] == ["UK 9.5"]
    assert [d.status for d in deliveries] == ["sent"]
    (body,) = posted
    lines = body["message"].splitlines()
    assert "size UK 10, UK 9.5 (= US 10) back in stock at UK Boutique" in lines[0]
    assert "Your sizes back: UK 9.5 (= US 10)" in lines
    assert "UK 10 (=" not in body["message"]

    # The dashboard's reads: the grid's rows are US sizes with the shop's own label beside them.
    offers = queries.latest_offers(engine)
    grid = {row.size: row for row in queries.size_grid(offers, ["10"], "us_men")}
    ten = grid["US 10"]
    assert ten.mine and ten.placed
    (cell,) = ten.cells["UK Boutique"]
    assert (cell.label, cell.availability, cell.guessed) == ("UK 9.5", "InStock", False)
    assert not grid["US 10.5"].mine and grid["US 10.5"].cells["UK Boutique"][0].label == "UK 10"
    assert not grid[KIDS].placed and not grid[KIDS].mine
    assert list(grid)[-1] == KIDS  # unplaced sizes come last
    # The overview's "my sizes" and the health page's list of sizes no system was found for.
    (row,) = queries.overview(engine, datetime.now(UTC), size_system="us_men")
    assert row.my_sizes_available == ("10",)
    (health,) = queries.size_health(engine)
    assert (health.source_name, health.unplaced, health.guessed_count) == ("UK Boutique", (KIDS,), 0)
    engine.dispose()


@pytest.mark.parametrize(
    ("source", "guessed"),
    [
        ({"currency": "GBP"}, True),  # bare numbers, a shop paying in pounds: UK, marked as a guess
        ({"currency": "USD", "size_system": "uk"}, False),  # the source's size_system beats its currency
    ],
    ids=["country-guess", "size-system"],
)
def test_bare_numbers_from_a_uk_shop(tmp_path: Any, source: dict[str, Any], guessed: bool) -> None:
    labels = {"8": "8", "9.5": "9.5", "10": "10"}
    posted, events, _, engine = _restock_and_deliver(f"sqlite:///{tmp_path}/t.db", labels, source)
    (event,) = events
    assert event.data["my_sizes_restocked"] == ["9.5"]
    (body,) = posted
    assert "Your sizes back: 9.5 (= US 10)" in body["message"].splitlines()
    grid = {row.size: row for row in queries.size_grid(queries.latest_offers(engine), ["10"], "us_men")}
    assert grid["US 10"].mine and grid["US 10"].cells["UK Boutique"][0].label == "9.5"
    assert grid["US 10"].cells["UK Boutique"][0].guessed is guessed
    (health,) = queries.size_health(engine)
    assert health.guessed_count == (3 if guessed else 0)
    assert health.unplaced == (KIDS,)
    engine.dispose()
