"""The pipeline end to end against the demo store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import CheckRun, Event, Listing, Observation, Source
from tracker.config import Config, parse_text
from tracker.demo import DemoStore, ManualClock, demo_config_text
from tracker.fetch import Fetcher
from tracker.pipeline import Pipeline, RunSummary

BOUTIQUE, BRAND = "Demo Boutique", "Demo Brand Store"


@pytest.fixture
def demo() -> Iterator[tuple[DemoStore, ManualClock]]:
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    store.start()
    try:
        yield store, clock
    finally:
        store.stop()


def demo_config(base: str, db_url: str, extra: str = "") -> Config:
    text = demo_config_text(base, data_dir="unused")
    text = text.replace('database_url = "sqlite:///unused/tracker.db"', f'database_url = "{db_url}"')
    return parse_text(text + extra)


async def check_all(config: Config, engine: sa.Engine) -> dict[str, RunSummary]:
    async with Fetcher(config.defaults) as fetcher:
        pipeline = Pipeline(config, engine, fetcher)
        results = await asyncio.gather(*(pipeline.check(s.name) for s in config.sources))
    return {r.source: r for r in results}


def events(engine: sa.Engine) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).order_by(Event.id)).all())  # type: ignore[arg-type]


def count(engine: sa.Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(model)).one())


def test_demo_timeline_end_to_end(demo: tuple[DemoStore, ManualClock], db_url: str) -> None:
    store, clock = demo
    config = demo_config(store.base_url, db_url)
    engine = make_engine(db_url)

    # Baseline: every 2002R listing recorded, nothing announced as "new".
    first = asyncio.run(check_all(config, engine))
    assert {r.status for r in first.values()} == {"ok"}, first
    listings = count(engine, Listing)
    assert listings == first[BOUTIQUE].listings + first[BRAND].listings
    assert first[BRAND].listings == len(store.brand_urls())
    assert count(engine, Observation) == listings
    assert events(engine) == []
    with Session(engine) as session:
        titles = session.exec(select(Listing.title)).all()
        assert not any("990" in (t or "") for t in titles), "non-2002R products must be filtered out"
        matched = session.exec(select(Listing).where(Listing.colorway_id.is_not(None))).all()  # type: ignore[union-attr]
        assert {m.style_code for m in matched} >= {"M2002RDA", "M2002RDB", "M2002RDC"}

    # Nothing changed: no new rows, the pages cost 304s, listings keep their check time.
    second = asyncio.run(check_all(config, engine))
    assert count(engine, Observation) == listings
    assert second[BRAND].not_modified == len(store.brand_urls())
    assert second[BOUTIQUE].status in ("ok", "not_modified")

    # Step 1: markdown of Phantom at the boutique, below list and below the target.
    clock.set_step(1)
    asyncio.run(check_all(config, engine))
    (drop,) = events(engine)
    assert drop.kind == "price_drop"
    assert drop.data["style_code"] == "M2002RDB"
    assert Decimal(drop.data["old_price"]) == Decimal("150") and Decimal(drop.data["price"]) == Decimal(
        "119.99"
    )
    assert drop.data["currency"] == "USD"
    assert drop.data["crossed_list"] is True and drop.data["crossed_target"] is True
    assert count(engine, Observation) == listings + 1
    with Session(engine) as session:
        obs = session.get(Observation, drop.observation_id)
        assert obs is not None
        assert obs.price == Decimal("119.99") and obs.compare_at == Decimal("150")

    # Step 2: Sea Salt sells out at the brand store.
    clock.set_step(2)
    asyncio.run(check_all(config, engine))
    sold = events(engine)[-1]
    assert (sold.kind, sold.data["style_code"], sold.data["shop"]) == ("sold_out", "M2002RDC", BRAND)

    # Step 3: one size back.
    clock.set_step(3)
    asyncio.run(check_all(config, engine))
    back = events(engine)[-1]
    assert back.kind == "restock"
    assert back.data["sizes_restocked"] == ["10"] and back.data["my_sizes_restocked"] == ["10"]

    # Step 4: a colorway nobody configured appears: a discovery, not noise.
    clock.set_step(4)
    asyncio.run(check_all(config, engine))
    new = events(engine)[-1]
    assert new.kind == "new_colorway"
    assert new.data["style_code"] == "M2002RFB"
    with Session(engine) as session:
        listing = session.get(Listing, new.listing_id)
        assert listing is not None and listing.discovered and listing.colorway_id is None
    assert [e.kind for e in events(engine)] == ["price_drop", "sold_out", "restock", "new_colorway"]
    assert count(engine, Observation) == listings + 4


def test_unchanged_checks_write_no_rows(demo: tuple[DemoStore, ManualClock], tmp_path: Path) -> None:
    store, _ = demo
    url = f"sqlite:///{tmp_path}/t.db"
    config = demo_config(store.base_url, url)
    engine = make_engine(url)
    for _ in range(5):
        asyncio.run(check_all(config, engine))
    with Session(engine) as session:
        rows = session.exec(select(Listing)).all()
        assert count(engine, Observation) == len(rows)
        runs = session.exec(select(CheckRun)).all()
        assert len(runs) == 10 and all(r.status in ("ok", "not_modified") for r in runs)
        checked = {r.last_checked_at for r in rows}
        assert max(checked) > min(r.first_seen_at for r in rows)


class _Stall(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        self.release.wait(10)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_timeout_does_not_stop_other_sources(demo: tuple[DemoStore, ManualClock], tmp_path: Path) -> None:
    store, _ = demo
    _Stall.release.clear()  # stall again, even when an earlier test in this process released it
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stall)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        extra = f"""
[[sources]]
name = "Slow Shop"
kind = "page"
url = "http://127.0.0.1:{port}/p/m2002rda.html"
timeout = "1s"
respect_robots = false
"""
        url = f"sqlite:///{tmp_path}/t.db"
        config = demo_config(store.base_url, url, extra)
        config = config.model_copy(update={"defaults": config.defaults.model_copy(update={"retries": 0})})
        engine = make_engine(url)
        results = asyncio.run(check_all(config, engine))
        assert results["Slow Shop"].status == "timeout"
        assert "127.0.0.1" in (results["Slow Shop"].error or "")
        assert results[BOUTIQUE].status == "ok" and results[BRAND].status == "ok"
        with Session(engine) as session:
            slow = session.exec(select(Source).where(Source.name == "Slow Shop")).one()
            assert slow.consecutive_failures == 1 and slow.last_status == "timeout"
            run = session.exec(select(CheckRun).where(CheckRun.source_id == slow.id)).one()
            assert run.status == "timeout" and run.finished_at is not None
            assert session.exec(select(Listing).where(Listing.source_id == slow.id)).all() == []
    finally:
        _Stall.release.set()
        server.shutdown()
        time.sleep(0)


def test_a_database_url_with_percent_escapes_migrates(pg_url: str) -> None:
    # A schema chosen through libpq options, as hosted PostgreSQL users often must.
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE SCHEMA tracker"))
    admin.dispose()
    engine = make_engine(pg_url + "?options=-csearch_path%3Dtracker")
    with engine.connect() as conn:
        tables = (
            conn.execute(
                sa.text("select table_name from information_schema.tables where table_schema = 'tracker'")
            )
            .scalars()
            .all()
        )
    assert {"listings", "observations", "alembic_version"} <= set(tables)
    engine.dispose()


class _Catalogue:
    """A Shopify shop whose products.json holds `total` 2002R products, 250 a page; with `overlap`,
    each later page starts with the previous page's last products again (a catalogue that shifted
    while it was being paged through)."""

    def __init__(self, total: int, overlap: int = 0) -> None:
        self.total = total
        self.pages: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                page = int(parse_qs(parts.query).get("page", ["1"])[0])
                outer.pages.append(page)
                first = (page - 1) * 250 - (overlap if page > 1 else 0)
                products = [
                    {
                        "id": i,
                        "title": f"New Balance 2002R test colorway {i}",
                        "handle": f"m2002r-{i}",
                        "tags": ["2002R"],
                        "variants": [{"id": i * 10, "title": "9", "price": "130.00", "available": True}],
                    }
                    for i in range(first, min((page - 1) * 250 + 250, outer.total))
                ]
                body = json.dumps({"products": products}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_catalogue_cut_short_by_max_pages_marks_nothing_gone(tmp_path: Path) -> None:
    shop = _Catalogue(total=300)
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    text = f"""
[defaults]
respect_robots = false
per_host_delay = "0s"

[[sources]]
name = "Boutique"
kind = "shopify"
url = "{shop.base}"
currency = "USD"
max_pages = MAX
"""
    try:
        asyncio.run(check_all(parse_text(text.replace("MAX", "2")), engine))
        with Session(engine) as session:
            assert len(session.exec(select(Listing).where(Listing.gone == False)).all()) == 300  # noqa: E712
        summaries = asyncio.run(check_all(parse_text(text.replace("MAX", "1")), engine))
        assert summaries["Boutique"].status == "ok" and shop.pages == [1, 2, 1]
        with Session(engine) as session:
            gone = session.exec(select(Listing).where(Listing.gone == True)).all()  # noqa: E712
        assert gone == [], "products past max_pages were not read: they are not gone"
        # A complete read (the last page is short) does mark what the shop dropped.
        shop.total = 260
        asyncio.run(check_all(parse_text(text.replace("MAX", "5")), engine))
        with Session(engine) as session:
            gone = session.exec(select(Listing).where(Listing.gone == True)).all()  # noqa: E712
        assert len(gone) == 40
    finally:
        shop.server.shutdown()
        shop.server.server_close()
        engine.dispose()


def _statements_per_check(total: int, db_path: Path) -> tuple[list[int], Engine]:
    """SQL statements of three checks of a catalogue of `total` products: new, then unchanged twice."""
    shop = _Catalogue(total=total)
    engine = make_engine(f"sqlite:///{db_path}")
    text = (
        '[defaults]\nrespect_robots = false\nper_host_delay = "0s"\n'
        f'[[sources]]\nname = "Boutique"\nkind = "shopify"\nurl = "{shop.base}"\ncurrency = "USD"\n'
    )
    statements = [0]  # the pipeline's start (the catalogue's sync), then one count per check

    def counted(*args: object) -> None:
        statements[-1] += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        config = parse_text(text)

        async def checks() -> None:
            async with Fetcher(config.defaults) as fetcher:
                pipeline = Pipeline(config, engine, fetcher)
                for _ in range(3):
                    statements.append(0)
                    summary = await pipeline.check("Boutique")
                    assert summary.status == "ok" and summary.listings == total, summary

        asyncio.run(checks())
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
        shop.server.shutdown()
        shop.server.server_close()
    return statements[1:], engine


def test_a_product_listed_twice_in_one_check_is_one_listing_and_one_observation(tmp_path: Path) -> None:
    """A catalogue that shifted while being paged through lists three products on both pages: each
    is one listing with one observation, and the next check writes nothing."""
    shop = _Catalogue(total=260, overlap=3)
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    config = parse_text(
        '[defaults]\nrespect_robots = false\nper_host_delay = "0s"\n'
        f'[[sources]]\nname = "Boutique"\nkind = "shopify"\nurl = "{shop.base}"\ncurrency = "USD"\n'
    )

    async def checks() -> list[int]:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher)
            return [(await pipeline.check("Boutique")).observations for _ in range(2)]

    try:
        written = asyncio.run(checks())
    finally:
        shop.server.shutdown()
        shop.server.server_close()
    assert shop.pages == [1, 2, 1, 2]
    with Session(engine) as session:
        listings = session.exec(select(Listing)).all()
        observations = {o.id: o for o in session.exec(select(Observation)).all()}
    engine.dispose()
    assert written == [260, 0]
    assert len(listings) == 260 and len(observations) == 260
    assert all(observations[lst.last_observation_id].listing_id == lst.id for lst in listings)  # type: ignore[index]


def test_a_catalogue_checks_statements_do_not_grow_with_its_listings(tmp_path: Path) -> None:
    """An unchanged listing is not written at all (every listing seen gets last_checked_at in one
    UPDATE): an unchanged check sends the same SQL for 5 products as for 200. A new listing costs
    its two rows' INSERTs and nothing more (SQLite cannot say which id went to which row of a
    multi-row INSERT, so those stay one a row); their last observations are set in one UPDATE."""
    few, small = _statements_per_check(5, tmp_path / "few.db")
    many, large = _statements_per_check(200, tmp_path / "many.db")
    assert many[0] - 2 * 200 == few[0] - 2 * 5, (few, many)
    assert many[1:] == few[1:] and many[1] == many[2] <= 10, (few, many)
    with Session(large) as session:
        listings = session.exec(select(Listing)).all()
        observations = {o.id: o for o in session.exec(select(Observation)).all()}
        runs = session.exec(select(CheckRun).order_by(CheckRun.id)).all()  # type: ignore[arg-type]
    assert len(listings) == 200 and len(observations) == 200
    # Each listing points at its own observation, and the unchanged checks touched every one.
    assert all(observations[lst.last_observation_id].listing_id == lst.id for lst in listings)  # type: ignore[index]
    (checked,) = {lst.last_checked_at for lst in listings}
    assert checked is not None and checked >= runs[-1].started_at
    assert [r.observations_written for r in runs] == [200, 0, 0]
    small.dispose()
    large.dispose()
