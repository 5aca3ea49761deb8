"""A release on the demo store end to end: announced, moved, drop-mode polling, live, and the alerts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.engine import make_engine
from db.models import CheckRun, Delivery, Event, Listing, Release, ReleaseChange, Source
from tracker.config import Config, Drops, parse_text
from tracker.demo import DemoStore, ManualClock, demo_config_text
from tracker.demo.catalogue import Launch
from tracker.fetch import Fetcher
from tracker.notify.plan import plan_deliveries
from tracker.pipeline import Pipeline
from tracker.releases.drops import drop_plan
from tracker.scheduler import Service

RELEASE_AT = datetime(2024, 3, 15, 14, 0, tzinfo=UTC)  # 10:00 in New York
CODE = "M2002RDQ"


class Clock:
    """The pipeline's (and so the drop-mode decision's) clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def demo() -> Iterator[DemoStore]:
    launch = Launch(announced=date(2024, 3, 22), moved_to=RELEASE_AT, phase=0)
    store = DemoStore(clock=ManualClock(), step_seconds=60, launch=launch)
    store.start()
    try:
        yield store
    finally:
        store.stop()


def _config(base: str, db_url: str) -> Config:
    text = demo_config_text(base, data_dir="unused", interval="30m", releases=True)
    text = text.replace('database_url = "sqlite:///unused/tracker.db"', f'database_url = "{db_url}"')
    text += '\n[[alerts.channels]]\nname = "hook"\nurl = "json://127.0.0.1:9/hook"\n'
    config = parse_text(text)
    return config.model_copy(update={"drops": Drops(before=7200, after=3600, interval=300)})


def _events(engine: sa.Engine, since: int = 0) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(col(Event.id) > since).order_by(col(Event.id))).all())


def _deliveries(engine: sa.Engine, kind: str) -> list[Delivery]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Delivery)
                .join(Event, col(Event.id) == col(Delivery.event_id))
                .where(Event.kind == kind)
            ).all()
        )


def test_announced_moved_drop_mode_live(demo: DemoStore, db_url: str) -> None:
    assert demo.launch is not None
    config = _config(demo.base_url, db_url)
    engine = make_engine(db_url)
    clock = Clock(datetime(2024, 3, 10, 12, 0, tzinfo=UTC))

    async def scenario() -> Counter[str]:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, clock=clock, planner=plan_deliveries)
            service = Service(config, pipeline)
            service.schedule()  # jobs are added, the scheduler is never started: we drive time

            async def check_all() -> None:
                await asyncio.gather(*(pipeline.check(s.name) for s in config.sources))

            assert demo.launch is not None
            # Baseline: nothing announced.
            await check_all()
            assert [e.kind for e in _events(engine)] == []

            # Announced: a date, no time yet.
            demo.launch.phase = 1
            clock.now += timedelta(hours=1)
            await check_all()
            (announced,) = _events(engine)
            assert announced.kind == "release_announced"
            assert announced.data["style_code"] == CODE and announced.data["region"] == "US"
            assert announced.data["release_date"] == "2024-03-22"
            assert announced.data["shop"] == "Demo Calendar" and announced.data["price"] == "170"
            assert announced.data["currency"] == "USD" and announced.data["url"].startswith(demo.base_url)
            assert announced.colorway_id is not None

            # Moved earlier, with a time in New York.
            demo.launch.phase = 2
            clock.now += timedelta(hours=1)
            last = announced.id or 0
            await check_all()
            (moved,) = _events(engine, last)
            assert moved.kind == "release_changed" and moved.data["direction"] == "earlier"
            assert (moved.data["old_release_date"], moved.data["release_date"]) == (
                "2024-03-22",
                "2024-03-15",
            )
            assert moved.data["timezone"] == "America/New_York"
            with Session(engine) as session:
                release = session.exec(select(Release).where(Release.style_code == CODE)).one()
                assert release.release_at == RELEASE_AT and not release.live
                history = session.exec(
                    select(ReleaseChange.new_date).where(ReleaseChange.release_id == release.id)
                ).all()
                assert sorted(history, key=str) == [date(2024, 3, 15), date(2024, 3, 22)]

            # Coming soon at the boutique: a new listing, no size to buy, the date confirmed.
            demo.launch.phase = 3
            clock.now = RELEASE_AT - timedelta(hours=3)
            last = moved.id or 0
            await check_all()
            kinds = [e.kind for e in _events(engine, last)]
            assert "release_changed" not in kinds and "going_live" not in kinds
            with Session(engine) as session:
                listing = session.exec(select(Listing).where(Listing.style_code == CODE)).one()
                assert listing.colorway_id is not None

            # Drop mode, driven through the service's decision with the injected clock: every
            # minute from three hours before to two hours after, a source is checked when its job's
            # interval (as the service set it) has passed.
            start, end = RELEASE_AT - timedelta(hours=3), RELEASE_AT + timedelta(hours=2)
            next_due = {s.name: start for s in config.sources}
            checks: Counter[str] = Counter()
            fast_at: dict[str, list[datetime]] = {s.name: [] for s in config.sources}
            clock.now = start
            while clock.now < end:
                plan = service.apply_drop_mode()
                if clock.now >= RELEASE_AT:
                    demo.launch.phase = 4  # on sale from the announced time
                for src in config.sources:
                    job = service.scheduler.get_job(f"source:{src.name}")
                    assert job is not None
                    interval = job.trigger.interval.total_seconds()
                    assert interval == plan.get(src.name, 1800.0)
                    if src.name in plan:
                        fast_at[src.name].append(clock.now)
                    if clock.now >= next_due[src.name]:
                        await pipeline.check(src.name)
                        checks[src.name] += 1
                        next_due[src.name] = clock.now + timedelta(seconds=interval)
                clock.now += timedelta(minutes=1)
            service.apply_drop_mode()
            return checks, fast_at  # type: ignore[return-value]

    checks, fast_at = asyncio.run(scenario())  # type: ignore[misc]

    # Only the boutique carries the colorway: it alone went fast, for exactly the window.
    window = fast_at["Demo Boutique"]
    assert window[0] == RELEASE_AT - timedelta(hours=2)
    assert window[-1] == RELEASE_AT + timedelta(hours=1)
    assert fast_at["Demo Brand Store"] == [] and fast_at["Demo Calendar"] == []
    # 5 hours: 1 hour at 30 minutes (2 checks), 3 hours at 5 minutes (36 + 1), 1 hour at 30 min.
    assert 38 <= checks["Demo Boutique"] <= 42, checks
    assert checks["Demo Brand Store"] == checks["Demo Calendar"] == 10, checks
    with Session(engine) as session:
        boutique = session.exec(select(Source).where(Source.name == "Demo Boutique")).one()
        runs = session.exec(select(CheckRun).where(CheckRun.source_id == boutique.id)).all()
        in_window = [
            r
            for r in runs
            if RELEASE_AT - timedelta(hours=2) <= r.started_at <= RELEASE_AT + timedelta(hours=1)
        ]
        assert len(in_window) == 37, len(in_window)

    # Live: the first boutique check at or after the release time with stock.
    live = [e for e in _events(engine) if e.kind == "going_live"]
    assert len(live) == 1
    assert live[0].created_at == RELEASE_AT
    assert live[0].data["shop"] == "Demo Boutique" and live[0].data["style_code"] == CODE
    assert Decimal(live[0].data["price"]) == Decimal("170") and live[0].listing_id is not None
    with Session(engine) as session:
        assert session.exec(select(Release).where(Release.style_code == CODE)).one().live

    # The alerts that follow: one outbox row per release event on the demo rule's channel.
    for kind in ("release_announced", "release_changed", "going_live"):
        rows = _deliveries(engine, kind)
        assert [(r.channel, r.status) for r in rows] == [("hook", "pending")], kind


def test_drop_mode_is_bounded_per_host(demo: DemoStore, tmp_path: object) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    config = _config(demo.base_url, db_url)
    engine = make_engine(db_url)
    Pipeline(config, engine, fetcher=None)  # type: ignore[arg-type]  # syncs the catalogue only
    with Session(engine) as session, session.begin():
        sources = {s.name: s for s in session.exec(select(Source)).all()}
        session.add(
            Release(style_code=CODE, region="US", release_date=RELEASE_AT.date(), release_at=RELEASE_AT)
        )
        for name in ("Demo Boutique", "Demo Brand Store"):
            source_id = sources[name].id
            assert source_id is not None
            session.add(
                Listing(source_id=source_id, external_id=f"x-{name}", url="http://x", style_code=CODE)
            )
    with Session(engine) as session:
        inside = drop_plan(session, config, RELEASE_AT - timedelta(minutes=30))
        before = drop_plan(session, config, RELEASE_AT - timedelta(hours=2, minutes=1))
        after = drop_plan(session, config, RELEASE_AT + timedelta(hours=1, minutes=1))
    # Both shops are on the demo store's host: they share the drop interval.
    assert inside == {"Demo Boutique": 600.0, "Demo Brand Store": 600.0}
    assert before == {} and after == {}


def test_drop_mode_never_asks_a_page_source_faster_than_its_per_host_delay_allows(tmp_path: object) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    urls = ", ".join(f'"https://brand.example/p/{i}"' for i in range(5))
    config = parse_text(
        f"""
[drops]
interval = "10s"

[[colorways]]
name = "Fall 2023 pack"
style_code = "{CODE}"

[[sources]]
name = "Brand"
kind = "page"
urls = [{urls}]
interval = "1h"
per_host_delay = "30s"

[[sources]]
name = "Quick"
kind = "page"
url = "https://quick.example/p/1"
interval = "1h"
per_host_delay = "1s"
"""
    )
    engine = make_engine(db_url)
    Pipeline(config, engine, fetcher=None)  # type: ignore[arg-type]  # syncs the catalogue only
    with Session(engine) as session, session.begin():
        session.add(Release(style_code=CODE, release_date=RELEASE_AT.date(), release_at=RELEASE_AT))
        for source in session.exec(select(Source)).all():
            assert source.id is not None
            key = f"x-{source.name}"
            session.add(Listing(source_id=source.id, external_id=key, url="http://x", style_code=CODE))
    with Session(engine) as session:
        plan = drop_plan(session, config, RELEASE_AT)
    # Five URLs 30 s apart take 150 s: asking every 10 s would only pile up waits on that host.
    assert plan == {"Brand": 150.0, "Quick": 10.0}
    engine.dispose()


def test_drop_windows_open_around_the_day_in_the_collectors_zone_for_the_shops_that_carry_it(
    tmp_path: object,
) -> None:
    from tracker.releases.drops import DropWindow, drop_windows

    db_url = f"sqlite:///{tmp_path}/t.db"
    config = parse_text(
        """
timezone = "Asia/Tokyo"
[drops]
before = "1h"
after = "2h"
[[colorways]]
name = "Rain Cloud"
style_code = "M2002RDA"
[[colorways]]
name = "Phantom"
style_code = "M2002RDB"
[[sources]]
name = "Tokyo"
kind = "page"
url = "https://tokyo.example/p/rda"
[[sources]]
name = "Gone"
kind = "page"
url = "https://gone.example/p/rda"
[[sources]]
name = "Osaka"
kind = "page"
url = "https://osaka.example/p/rdb"
"""
    )
    engine = make_engine(db_url)
    Pipeline(config, engine, fetcher=None)  # type: ignore[arg-type]  # syncs the catalogue only
    with Session(engine) as session, session.begin():
        ids = {s.name: s.id for s in session.exec(select(Source)).all()}
        # A release long past comes first: it must not end the search for open windows.
        session.add(Release(style_code="M2002RDB", release_date=date(2024, 1, 5)))
        session.add(Release(style_code="M2002RDA", region="JP", release_date=date(2024, 3, 15)))
        carried = (("Tokyo", "M2002RDA", False), ("Gone", "M2002RDA", True), ("Osaka", "M2002RDB", False))
        for name, code, gone in carried:
            source_id = ids[name]
            assert source_id is not None
            session.add(Listing(source_id=source_id, external_id=name, url="/", style_code=code, gone=gone))
    # The day is Tokyo's: 15 March 00:00 JST is 14 March 15:00 UTC.
    opens = datetime(2024, 3, 14, 14, 0, tzinfo=UTC)  # an hour before
    closes = datetime(2024, 3, 15, 17, 0, tzinfo=UTC)  # two hours after the day ends
    expected = [DropWindow("M2002RDA", "JP", opens, closes, ("Tokyo",))]
    with Session(engine) as session:
        assert drop_windows(session, config, opens) == expected
        assert drop_windows(session, config, closes) == expected
        assert drop_windows(session, config, opens - timedelta(seconds=1)) == []
        assert drop_windows(session, config, closes + timedelta(seconds=1)) == []
    engine.dispose()
