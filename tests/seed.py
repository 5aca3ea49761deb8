"""A small, hand-checkable database and config.toml for dashboard and query tests.

Times are relative to ``now`` so pages that read the clock see the same picture; the numbers
each test expects are spelled out in ``EXPECTED``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.engine import make_engine
from db.models import CheckRun, Colorway, Delivery, Event, Listing, Observation, Release, Source

CONFIG_TEMPLATE = """\
# 2002R tracker configuration (test copy)
database_url = "{database_url}"
timezone = "Europe/Paris"  # times on the dashboard are shown in this zone

[defaults]
interval = "15m"

# --- the watchlist ---
[[colorways]]
name = "Protection Pack Rain Cloud"  # the grey one
style_code = "M2002RDA"
line = "Protection Pack"
list_price = {{ USD = 150 }}
watched = true
sizes = ["9", "10"]
target_price = {{ USD = 125 }}

[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
line = "Protection Pack"
list_price = {{ USD = 150 }}
watched = true

[[colorways]]
name = "Protection Pack Sea Salt"
style_code = "M2002RDC"
line = "Protection Pack"
watched = true

[[colorways]]
name = "2002R Grey"
style_code = "M2002RHO"

# --- shops ---
[[sources]]
name = "Kith"
kind = "shopify"
url = "https://kith.example/collections/new-balance"

[[sources]]
name = "Concepts"
kind = "shopify"
url = "https://concepts.example/"

[[alerts.channels]]
name = "phone"
url = "ntfy://secret-token@ntfy.example/topic"
"""


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded rows."""

    now: datetime
    rain_cloud: int
    phantom: int
    sea_salt: int
    grey: int
    kith_rda: int
    concepts_rda: int


# What the pages must show for the seeded data (USD).
EXPECTED = {
    "rda_best": Decimal("120"),
    "rda_best_shop": "Kith",
    "rda_diff": Decimal("-30"),
    "rda_diff_pct": Decimal("-20.0"),
    "rda_my_sizes": ("9",),
    "rda_suspect": Decimal("99"),
    "rdb_best": Decimal("160"),
    "rdb_diff_pct": Decimal("6.7"),
    # 30 days of Rain Cloud's lowest price in sizes 9 / 10: 150 (10 d, Concepts and Kith), 135 at Kith
    # (15 d: Concepts sells out 10 days ago), 120 at Kith (5 d); Concepts' 99 is held as suspect.
    "rda_30d_lowest": Decimal("120"),
    "rda_30d_highest": Decimal("150"),
    "rda_30d_average": Decimal("137.50"),
    "kith_runs": 10,
    "nb_blocked": 3,
    "nb_runs": 4,
}


def write_config(path: Path, database_url: str) -> Path:
    """Write the test config.toml (with comments) pointing at database_url."""
    path.write_text(CONFIG_TEMPLATE.format(database_url=database_url), encoding="utf-8")
    return path


def _obs(listing: int, at: datetime, price: str | None, avail: str, **kw: Any) -> Observation:
    return Observation(
        listing_id=listing,
        observed_at=at,
        price=None if price is None else Decimal(price),
        currency=None if price is None else "USD",
        availability=avail,
        **kw,
    )


def seed(engine: Engine, now: datetime | None = None) -> Seeded:
    """Fill an empty, migrated database with the picture EXPECTED describes."""
    now = now or datetime.now(UTC)
    day = timedelta(days=1)
    with Session(engine) as s:
        rda = Colorway(
            style_code="M2002RDA",
            name="Protection Pack Rain Cloud",
            line="Protection Pack",
            list_prices={"USD": "150"},
            target_prices={"USD": "125"},
            sizes=["9", "10"],
            watched=True,
            image="https://img.example/rda.jpg",
        )
        rdb = Colorway(
            style_code="M2002RDB",
            name="Protection Pack Phantom",
            line="Protection Pack",
            list_prices={"USD": "150"},
            watched=True,
            release_date=(now - 400 * day).date(),
        )
        rdc = Colorway(
            style_code="M2002RDC", name="Protection Pack Sea Salt", line="Protection Pack", watched=True
        )
        rho = Colorway(style_code="M2002RHO", name="2002R Grey", line="2002R", watched=False)
        kith = Source(name="Kith", kind="shopify", url="https://kith.example/", last_status="ok")
        concepts = Source(name="Concepts", kind="shopify", url="https://concepts.example/", last_status="ok")
        nb = Source(
            name="New Balance",
            kind="page",
            url="https://nb.example/",
            broken=True,
            consecutive_failures=4,
            last_status="blocked",
            last_checked_at=now - timedelta(minutes=5),
        )
        s.add_all([rda, rdb, rdc, rho, kith, concepts, nb])
        s.flush()
        assert rda.id and rdb.id and rdc.id and rho.id and kith.id and concepts.id and nb.id
        kith.last_checked_at = now - timedelta(minutes=3)
        concepts.last_checked_at = now - timedelta(minutes=4)

        def listing(source: Source, colorway: Colorway | None, ext: str, title: str, **kw: Any) -> Listing:
            assert source.id
            row = Listing(
                source_id=source.id,
                colorway_id=None if colorway is None else colorway.id,
                external_id=ext,
                url=f"{source.url}products/{ext}",
                title=title,
                first_seen_at=now - 40 * day,
                last_checked_at=now - timedelta(minutes=3),
                **kw,
            )
            s.add(row)
            return row

        k_rda = listing(
            kith, rda, "rda", "New Balance 2002R Protection Pack Rain Cloud", style_code="M2002RDA"
        )
        c_rda = listing(concepts, rda, "m2002rda", "NB 2002R 'Rain Cloud'", style_code="M2002RDA")
        k_rdb = listing(kith, rdb, "rdb", "New Balance 2002R Phantom", style_code="M2002RDB")
        n_rda = listing(nb, rda, "nb-rda", "2002R Rain Cloud", style_code="M2002RDA")
        found = listing(
            concepts,
            None,
            "mystery",
            "New Balance 2002R <b>Mystery</b> [click](https://evil.example)",
            style_code="M2002RZZ",
            discovered=True,
            image="https://img.example/zz.jpg",
        )
        s.flush()
        assert k_rda.id and c_rda.id and k_rdb.id and n_rda.id and found.id
        sizes_now = [
            {"size": "9", "availability": "InStock", "price": "120"},
            {"size": "10", "availability": "OutOfStock", "price": "120"},
            {"size": "11", "availability": "InStock", "price": "125"},
        ]
        both = [
            {"size": "9", "availability": "InStock"},
            {"size": "10", "availability": "InStock"},
        ]
        nine = [{"size": "9", "availability": "InStock"}, {"size": "10", "availability": "OutOfStock"}]
        none_left = [{"size": "9", "availability": "OutOfStock"}]
        s.add_all(
            [
                _obs(k_rda.id, now - 40 * day, "150", "InStock", sizes=both),
                _obs(k_rda.id, now - 20 * day, "135", "InStock", sizes=nine),
                _obs(k_rda.id, now - 5 * day, "120", "InStock", sizes=sizes_now),
                _obs(c_rda.id, now - 40 * day, "150", "InStock", sizes=nine),
                _obs(c_rda.id, now - 10 * day, "150", "OutOfStock", sizes=none_left),
                _obs(c_rda.id, now - 2 * day, "99", "InStock", suspect=True),
                _obs(
                    k_rdb.id,
                    now - 3 * day,
                    "160",
                    "InStock",
                    sizes=[{"size": "9", "availability": "InStock"}],
                ),
                _obs(n_rda.id, now - 1 * day, None, "unknown"),
                _obs(found.id, now - 1 * day, "140", "InStock"),
            ]
        )
        s.add(
            Release(
                colorway_id=rdc.id,
                style_code="M2002RDC",
                name="Sea Salt",
                release_date=(now + 10 * day).date(),
                source_name="Sneaker News",
                url="https://releases.example/sea-salt",
            )
        )
        for i in range(10):
            s.add(
                CheckRun(
                    source_id=kith.id,
                    started_at=now - timedelta(hours=2 * i + 1),
                    status="ok",
                    duration_ms=100 + 20 * i,
                    requests=2,
                    not_modified=1,
                )
            )
        for i, status in enumerate(["blocked", "blocked", "blocked", "error"]):
            s.add(
                CheckRun(
                    source_id=nb.id,
                    started_at=now - timedelta(hours=i + 1),
                    status=status,
                    duration_ms=400,
                    requests=1,
                    error="challenge page (Akamai)" if status == "blocked" else "timeout",
                )
            )
        # An old run outside the 24 h window must not count.
        s.add(CheckRun(source_id=nb.id, started_at=now - 3 * day, status="ok", duration_ms=1, requests=1))
        ev1 = Event(
            created_at=now - 5 * day,
            kind="price_drop",
            source_id=kith.id,
            listing_id=k_rda.id,
            colorway_id=rda.id,
            message="Rain Cloud at Kith: $135 -> $120",
            data={"shop": "Kith", "price": "120", "old_price": "135", "currency": "USD"},
        )
        ev2 = Event(
            created_at=now - 10 * day,
            kind="sold_out",
            source_id=concepts.id,
            listing_id=c_rda.id,
            colorway_id=rda.id,
            message="Rain Cloud sold out at Concepts",
            data={"shop": "Concepts"},
        )
        ev3 = Event(
            created_at=now - 1 * day,
            kind="source_broken",
            source_id=nb.id,
            message="New Balance looks broken: 4 failures",
            data={"shop": "New Balance"},
        )
        s.add_all([ev1, ev2, ev3])
        s.flush()
        assert ev1.id and ev3.id
        s.add_all(
            [
                Delivery(event_id=ev1.id, channel="phone", status="sent", attempts=1, sent_at=now - 5 * day),
                Delivery(
                    event_id=ev3.id,
                    channel="phone",
                    status="failed",
                    attempts=8,
                    last_error="POST ntfy://secret-token@ntfy.example/topic failed: 401",
                ),
            ]
        )
        s.commit()
        return Seeded(
            now=now,
            rain_cloud=rda.id,
            phantom=rdb.id,
            sea_salt=rdc.id,
            grey=rho.id,
            kith_rda=k_rda.id,
            concepts_rda=c_rda.id,
        )


@contextmanager
def postgres_url() -> Iterator[str]:
    """A URL to a fresh database on TEST_DATABASE_URL's server, dropped afterwards."""
    base = sa.make_url(os.environ["TEST_DATABASE_URL"])
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_engine(kind: str, tmp: Path) -> Iterator[Engine]:
    """A fresh migrated database of kind "sqlite" (a file under tmp) or "postgres" (a new database on
    TEST_DATABASE_URL's server, skipped when it is not set), disposed afterwards."""
    import pytest

    if kind == "sqlite":
        eng = make_engine(f"sqlite:///{tmp / 'fresh.db'}")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set (scripts/test.sh starts a PostgreSQL and sets it)")
    with postgres_url() as url:
        eng = make_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


def sqlite_engine(tmp: Path) -> tuple[str, Engine]:
    """A migrated SQLite database file under tmp."""
    url = f"sqlite:///{tmp / 'tracker.db'}"
    return url, make_engine(url)


@dataclass(frozen=True)
class ShopOffer:
    """One shop's listing of a colorway as a test lays it out: price, stock and sizes in stock."""

    shop: str
    price: str
    in_stock: tuple[str, ...] = ()  # size labels in stock (the rest of SIZES are sold out)
    availability: str = "InStock"
    currency: str = "USD"
    suspect: bool = False
    size_prices: tuple[tuple[str, str], ...] = ()  # sizes with their own price
    sizes: tuple[str, ...] = ("8", "9", "9.5", "10", "11", "UK 9.5")


OFFERS_CONFIG = """\
database_url = "{database_url}"
timezone = "Europe/Paris"

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "M2002RDA"
line = "Protection Pack"
list_price = {{ USD = 150 }}
target_price = {{ USD = 125 }}
watched = true
sizes = [{sizes}]
"""


def seed_offers(engine: Engine, offers: Sequence[ShopOffer], my_sizes: Sequence[str], now: datetime) -> None:
    """One watched colorway (Rain Cloud, list $150, target $125) and each shop's offer of it now."""
    with Session(engine) as s:
        colorway = Colorway(
            style_code="M2002RDA",
            name="Protection Pack Rain Cloud",
            line="Protection Pack",
            list_prices={"USD": "150"},
            target_prices={"USD": "125"},
            sizes=list(my_sizes),
            watched=True,
        )
        s.add(colorway)
        s.flush()
        for i, offer in enumerate(offers):
            source = Source(
                name=offer.shop, kind="shopify", url=f"https://shop{i}.example/", last_status="ok"
            )
            s.add(source)
            s.flush()
            assert source.id and colorway.id
            listing = Listing(
                source_id=source.id,
                colorway_id=colorway.id,
                external_id=f"rda-{i}",
                url=f"https://shop{i}.example/products/rda",
                title="2002R Rain Cloud",
                first_seen_at=now - timedelta(days=3),
                last_checked_at=now,
            )
            s.add(listing)
            s.flush()
            assert listing.id
            own = dict(offer.size_prices)
            sizes = [
                {
                    "size": label,
                    "availability": "InStock" if label in offer.in_stock else "OutOfStock",
                    **({"price": own[label]} if label in own else {}),
                }
                for label in offer.sizes
            ]
            s.add(
                Observation(
                    listing_id=listing.id,
                    observed_at=now - timedelta(hours=i + 1),
                    price=Decimal(offer.price),
                    currency=offer.currency,
                    availability=offer.availability,
                    sizes=sizes,
                    suspect=offer.suspect,
                )
            )
        s.commit()


def write_offers_config(path: Path, database_url: str, my_sizes: Sequence[str]) -> Path:
    """The config.toml for seed_offers' colorway, in the collector's sizes."""
    sizes = ", ".join(f'"{s}"' for s in my_sizes)
    path.write_text(OFFERS_CONFIG.format(database_url=database_url, sizes=sizes), encoding="utf-8")
    return path


def seed_demo(
    store: Any, clock: Any, db_url: str, config_path: Path, now: datetime, *, last_step: int | None = None
) -> Path:
    """The demo's timeline (markdown, sell-out, one size back, a new colorway) played through the real
    pipeline against the demo store, one step every two days up to now (stopping after last_step when
    given); returns its config.toml."""
    import asyncio

    from tracker.config import parse_text
    from tracker.demo import demo_config_text
    from tracker.fetch import Fetcher
    from tracker.notify.plan import plan_deliveries
    from tracker.pipeline import Pipeline

    text = demo_config_text(store.base_url, data_dir="unused", timezone="Europe/Paris")
    text = text.replace('database_url = "sqlite:///unused/tracker.db"', f'database_url = "{db_url}"')
    config_path.write_text(text, encoding="utf-8")
    config = parse_text(text)
    engine = make_engine(db_url)
    steps = len(store.steps) if last_step is None else last_step + 1
    moments = [
        now - timedelta(days=2 * (steps - step) - 1, hours=h) for step in range(steps) for h in (12, 0)
    ]

    async def play() -> None:
        async with Fetcher(config.defaults) as fetcher:
            for i, moment in enumerate(moments):
                clock.set_step(i // 2)
                pipeline = Pipeline(
                    config, engine, fetcher, clock=lambda m=moment: m, planner=plan_deliveries
                )
                for src in config.sources:
                    await pipeline.check(src.name)

    asyncio.run(play())
    engine.dispose()
    return config_path
