"""Hostile shops: every fault of the fault store through the real pipeline, fetcher and database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.models import CheckRun, Delivery, Event, Listing, Observation, Source
from tests.dashboard_html import overview_rows
from tracker.config import Config, parse_text
from tracker.demo.faults import BY_NAME, FAULTS, FaultStore, fault_config_text, measure
from tracker.fetch import Fetcher
from tracker.notify.plan import plan_deliveries
from tracker.pipeline import Pipeline
from tracker.scheduler import Service

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def store() -> Iterator[FaultStore]:
    with FaultStore(stall_seconds=20.0) as s:
        yield s


def test_every_fault_is_recorded_with_its_status(db_url: str) -> None:
    outcomes = {o.fault.name: o for o in measure(db_url)}
    assert set(outcomes) == {f.name for f in FAULTS}
    for name, got in outcomes.items():
        fault = BY_NAME[name]
        assert got.status == fault.status, (name, got.status, got.error)
        # Nothing is announced because a shop misbehaved.
        assert got.events == [], (name, got.events)
        assert got.deliveries == 0, name
        assert "OutOfStock" not in got.availability, name
        if fault.observes:
            assert got.observations == 1 and got.suspect == 0, name
        elif fault.suspect:
            assert got.observations == 0 and got.suspect == 1, name
        else:
            assert got.observations == 0 and got.suspect == 0, (name, got.prices)
        if got.status not in ("ok", "partial"):
            assert got.error, name
    # The pages that are right are read right.
    assert outcomes["legacy_charset"].prices == ["139.95 EUR"]
    assert outcomes["jsonld_conflict"].prices == ["119.99 USD"]
    # Backoff: Retry-After honoured, exponential backoff with jitter otherwise, no retry where a
    # retry cannot help (a challenge, a cap, a timeout, a wait longer than we accept).
    assert outcomes["rate_limited_retry_after"].waits == [2.0, 2.0]
    assert outcomes["http_503"].waits == [1.0, 1.0]
    for name in ("rate_limited", "http_500", "http_502", "reset", "short_body"):
        first, second = outcomes[name].waits
        assert 1.0 <= first <= 1.25 and 2.0 <= second <= 2.5, (name, outcomes[name].waits)
    for name in ("rate_limited_long", "stall", "huge", "gzip_bomb", "redirect_loop", "cloudflare", "akamai"):
        assert outcomes[name].waits == [], name

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            # The baseline observation is still each broken listing's latest: 150 USD, in stock.
            for fault in FAULTS:
                if fault.observes or fault.suspect:
                    continue
                src = session.exec(select(Source).where(Source.name == fault.name)).one()
                listing = session.exec(select(Listing).where(Listing.source_id == src.id)).one()
                last = session.get(Observation, listing.last_observation_id)
                assert last is not None
                assert (last.price, last.availability) == (Decimal("150.00"), "InStock"), fault.name
                runs = session.exec(select(CheckRun).where(CheckRun.source_id == src.id)).all()
                assert [r.status for r in runs] == ["ok", fault.status], fault.name
                assert all(r.finished_at is not None for r in runs)
    finally:
        engine.dispose()


def _config(store: FaultStore, db: str, *names: str) -> Config:
    return parse_text(fault_config_text(store, db, tuple(BY_NAME[n] for n in names)))


def _count(engine: sa.Engine, model: type, *where: object) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]


def test_suspect_price_is_held_shown_and_never_alerted(
    store: FaultStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'tracker.db'}"
    config_text = fault_config_text(store, db, (BY_NAME["price_100x"],))
    config = parse_text(config_text)
    engine = make_engine(db)

    async def checks(n: int) -> list[str]:
        async with Fetcher(config.defaults, sleep=no_wait) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
            return [(await pipeline.check("price_100x")).status for _ in range(n)]

    assert asyncio.run(checks(1)) == ["ok"]
    store.break_("price_100x")
    assert asyncio.run(checks(1)) == ["ok"]
    with Session(engine) as session:
        held = session.exec(select(Observation).order_by(Observation.id.desc())).first()  # type: ignore[union-attr]
        assert held is not None and held.suspect and held.price == Decimal("15000.00")
    assert _count(engine, Event) == 0 and _count(engine, Delivery) == 0

    # The dashboard shows it as suspect, never as the best price.
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_text, encoding="utf-8")
    monkeypatch.setenv("TRACKER_CONFIG", str(config_file))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    row = overview_rows(at)["M2002RDB"]
    assert "$15,000.00" not in row["any"] + row["mine"] + row["vs"], row  # never the held price
    assert "⚠ $15,000.00 at price_100x held as suspect" in row["name"], row["name"]

    # The shop fixes its page: the held price is never confirmed, nothing was ever announced.
    store.heal("price_100x")
    assert asyncio.run(checks(1)) == ["ok"]
    assert _count(engine, Event) == 0 and _count(engine, Delivery) == 0
    with Session(engine) as session:
        latest = session.exec(select(Observation).order_by(Observation.id.desc())).first()  # type: ignore[union-attr]
        assert latest is not None and latest.price == Decimal("150.00") and not latest.suspect

    # Served twice in a row, the price is confirmed: the held row becomes an ordinary observation.
    store.break_("price_100x")
    asyncio.run(checks(2))
    with Session(engine) as session:
        rows = session.exec(select(Observation).where(Observation.price == Decimal("15000.00"))).all()
        assert [r.suspect for r in rows] == [True, False]
    engine.dispose()


def test_failing_source_is_broken_once_then_recovers(store: FaultStore, db_url: str) -> None:
    config = _config(store, db_url, "akamai")
    assert config.defaults.broken_after == 3
    engine = make_engine(db_url)

    async def checks(n: int) -> list[str]:
        async with Fetcher(config.defaults, sleep=no_wait) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
            return [(await pipeline.check("akamai")).status for _ in range(n)]

    assert asyncio.run(checks(1)) == ["ok"]
    store.break_("akamai")
    assert asyncio.run(checks(7)) == ["blocked"] * 7
    with Session(engine) as session:
        src = session.exec(select(Source)).one()
        assert src.broken and src.consecutive_failures == 7 and src.last_status == "blocked"
        broken = session.exec(select(Event).where(Event.kind == "source_broken")).all()
        assert len(broken) == 1, "one event when the source breaks, not one per failed check"
        assert "akamai" in broken[0].message
        deliveries = session.exec(select(Delivery)).all()
        assert [(d.event_id, d.channel) for d in deliveries] == [(broken[0].id, "hook")]
        assert _count(engine, Observation) == 1, "blocked is never recorded as a state of the shoe"

    # The health page says so.
    from datetime import UTC, datetime

    from db.queries import source_health

    health = {h.name: h for h in source_health(engine, datetime.now(UTC))}
    assert health["akamai"].broken and health["akamai"].blocked >= 7

    store.heal("akamai")
    assert asyncio.run(checks(1)) == ["ok"]
    with Session(engine) as session:
        src = session.exec(select(Source)).one()
        assert not src.broken and src.consecutive_failures == 0
        kinds = [e.kind for e in session.exec(select(Event).order_by(Event.id)).all()]  # type: ignore[arg-type]
        assert kinds == ["source_broken", "source_recovered"]
    engine.dispose()


def test_a_stalled_or_rate_limited_shop_does_not_hold_up_the_others(
    store: FaultStore, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tracker.db'}"
    text = fault_config_text(store, db, (BY_NAME["stall"], BY_NAME["rate_limited"], BY_NAME["http_500"]))
    # The healthy source is checked every second; the stalled one waits up to its timeout.
    text = text.replace('timeout = "0.5s"', 'timeout = "15s"')
    healthy = store.url("search_page")  # served healthy all along
    text += '\n[[sources]]\nname = "healthy"\nkind = "page"\ninterval = "1s"\njitter = "0s"\n'
    text += f'url = "{healthy}"\n'
    config = parse_text(text)
    store.break_("stall", "rate_limited", "http_500")
    engine = make_engine(db)

    def runs(name: str, status: str | None = None) -> list[CheckRun]:
        with Session(engine) as session:
            src = session.exec(select(Source).where(Source.name == name)).one()
            stmt = select(CheckRun).where(CheckRun.source_id == src.id)
            if status:
                stmt = stmt.where(CheckRun.status == status)
            return list(session.exec(stmt).all())

    async def scenario() -> tuple[list[str], int]:
        # Real sleeps here: the rate-limited and failing sources really back off meanwhile.
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
            service = Service(config, pipeline)
            task = asyncio.create_task(service.serve(install_signals=False))
            deadline = time.monotonic() + 30
            while len(runs("healthy", "ok")) < 4:
                assert time.monotonic() < deadline, "the healthy source was held up"
                await asyncio.sleep(0.05)
            stalled = [r.status for r in runs("stall")]
            service.stop()
            await task
            return stalled, len(fetcher.waits)

    stalled, waits = asyncio.run(scenario())
    # Four checks of the healthy shop went through while the stalled shop's first check was still
    # waiting for an answer: one slow shop never delays another's schedule.
    assert stalled == ["running"]
    assert waits >= 2  # the rate-limited and failing shops backed off in the meantime
    assert runs("stall")[0].status == "cancelled"  # stopped cleanly at shutdown
    engine.dispose()


def test_a_long_retry_after_is_honoured_across_checks(store: FaultStore, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tracker.db'}"
    config = _config(store, db, "rate_limited_long", "akamai")
    engine = make_engine(db)
    now = [1000.0]
    path = store.url("rate_limited_long").removeprefix(store.base_url)

    async def scenario() -> list[str]:
        # The fetcher's clock is injected: the hour the shop asked for passes without waiting it.
        async with Fetcher(config.defaults, sleep=no_wait, clock=lambda: now[0]) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
            statuses = [(await pipeline.check("rate_limited_long")).status]
            store.break_("rate_limited_long")
            statuses.append((await pipeline.check("rate_limited_long")).status)
            asked = store.hits[path]
            now[0] += 1800  # half of the asked-for hour: still not a single request
            statuses.append((await pipeline.check("rate_limited_long")).status)
            assert store.hits[path] == asked
            now[0] += 1801  # the hour is over: the shop is asked again
            store.heal("rate_limited_long")
            statuses.append((await pipeline.check("rate_limited_long")).status)
            assert store.hits[path] == asked + 1
            return statuses

    assert asyncio.run(scenario()) == ["ok", "rate_limited", "rate_limited", "ok"]
    assert _count(engine, Observation) == 1 and _count(engine, Event) == 0
    engine.dispose()
