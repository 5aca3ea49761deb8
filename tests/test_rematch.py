"""A colorway added to the catalogue connects the listings discovered before it, at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import watchlist
from db import queries
from db.engine import make_engine
from db.models import Listing
from tracker.config import Config, load_config, parse_text
from tracker.demo import DemoStore, ManualClock, demo_config_text
from tracker.fetch import Fetcher
from tracker.pipeline import Pipeline
from tracker.scheduler import Service

NEW_CODE = "M2002RFB"  # the demo's colorway that appears at the boutique at step 4, in no config


@pytest.fixture
def demo() -> Iterator[DemoStore]:
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    clock.set_step(4)
    store.start()
    try:
        yield store
    finally:
        store.stop()


def _config_text(store: DemoStore, db_url: str) -> str:
    text = demo_config_text(store.base_url, data_dir="unused", interval="1h")
    return text.replace('database_url = "sqlite:///unused/tracker.db"', f'database_url = "{db_url}"')


def _check_all(config: Config, engine: Engine) -> None:
    async def run() -> None:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher)
            for src in config.sources:
                await pipeline.check(src.name)

    asyncio.run(run())


def _listing(engine: Engine, code: str) -> Listing:
    with Session(engine) as session:
        return session.exec(select(Listing).where(Listing.style_code == code)).one()


def test_watching_a_discovered_colorway_matches_its_listing_at_sync(demo: DemoStore, db_url: str) -> None:
    text = _config_text(demo, db_url)
    engine = make_engine(db_url)
    try:
        _check_all(parse_text(text), engine)
        found = _listing(engine, NEW_CODE)
        assert found.colorway_id is None and found.discovered
        assert NEW_CODE in [o.style_code for o in queries.discovered_listings(engine)]

        # The overview's "Watch" button writes this; the tracker's catalogue sync does the rest.
        watched = parse_text(watchlist.watch(text, NEW_CODE, 'New Balance 2002R "Black Castlerock"'))
        Pipeline(watched, engine, fetcher=None)  # type: ignore[arg-type]  # constructing it syncs

        listing = _listing(engine, NEW_CODE)
        assert listing.colorway_id is not None and not listing.discovered
        assert listing.match_method == "style_code"
        assert NEW_CODE not in [o.style_code for o in queries.discovered_listings(engine)]
        (row,) = queries.overview(engine, datetime.now(UTC), style_codes=[NEW_CODE])
        assert row.best is not None and row.best.price == Decimal("130.00")
        assert row.best.source_name == "Demo Boutique"
    finally:
        engine.dispose()


def test_an_alias_added_to_a_colorway_connects_listings_sold_under_it(
    demo: DemoStore, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    text = _config_text(demo, db_url)
    engine = make_engine(db_url)
    _check_all(parse_text(text), engine)
    assert _listing(engine, NEW_CODE).colorway_id is None
    # The Grey colorway is also sold under the new code: an alias, not a new colorway.
    edited = text.replace(
        'name = "Grey"\nstyle_code = "M2002RHO"',
        f'name = "Grey"\nstyle_code = "M2002RHO"\naliases = ["{NEW_CODE}"]',
    )
    assert edited != text
    Pipeline(parse_text(edited), engine, fetcher=None)  # type: ignore[arg-type]
    grey = next(c for c in queries.colorways(engine) if c.style_code == "M2002RHO")
    assert _listing(engine, NEW_CODE).colorway_id == grey.id
    engine.dispose()


def test_a_running_tracker_connects_a_colorway_watched_from_the_dashboard(
    demo: DemoStore, tmp_path: Path
) -> None:
    """The tracker reloads the edited config.toml and matches the listing without checking the shop again."""
    path = tmp_path / "config.toml"
    db_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    path.write_text(_config_text(demo, db_url), encoding="utf-8")
    config = load_config(path)
    engine = make_engine(db_url)

    async def main() -> int:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher)
            service = Service(config, pipeline, config_path=path, watch_every=0.1)
            task = asyncio.create_task(service.serve(install_signals=False))
            deadline = time.monotonic() + 30
            while len(service.summaries) < len(config.sources) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert _listing(engine, NEW_CODE).colorway_id is None
            checks = len(service.summaries)
            text = path.read_text(encoding="utf-8")
            outcome = watchlist.save(path, text, watchlist.watch(text, NEW_CODE, "Black Castlerock"))
            assert not outcome.errors
            deadline = time.monotonic() + 30
            while _listing(engine, NEW_CODE).colorway_id is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            service.stop()
            await asyncio.wait_for(task, 10)
            return len(service.summaries) - checks

    checks_after_edit = asyncio.run(main())
    assert _listing(engine, NEW_CODE).colorway_id is not None
    assert checks_after_edit == 0  # matched by the reload's catalogue sync, not by a new check
    engine.dispose()
