"""The weekly digest: sent once when a fake clock crosses the configured hour in the user's zone,
one message per channel, never twice after a restart, again the next week."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import Delivery, DigestRun, Event, InboxMessage, Listing, Observation, Release, Source
from tests.test_alerts_support import Hook, json_receiver, seed
from tracker.config import Config, parse_config
from tracker.errors import ConfigError
from tracker.notify.digest import build_digest, current_slot, plan_weekly_digest
from tracker.notify.outbox import deliver_due
from tracker.scheduler import Service

# Monday 3 March 2025, 09:00 in New York (EST, UTC-5) is 14:00 UTC.
DUE = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


def _config(hook: Hook, **digest: Any) -> Config:
    return parse_config(
        {
            "timezone": "America/New_York",
            "colorways": [{"name": 'Protection Pack "Rain Cloud"', "style_code": "M2002RDA"}],
            "alerts": {
                "channels": [{"name": "hook", "url": hook.url()}, {"name": "inbox", "url": "inbox://"}],
                "weekly_digest": {"day": "mon", "hour": 9, **digest},
            },
        }
    )


def _history(engine: sa.Engine) -> None:
    """Rain Cloud ($150 list, your size 9): $150 ten days ago, $119.99 three days ago, $135 now in
    sizes 9 and 10 at Kith; out of stock at Concepts; the Ripstop Grey release in three days."""
    world = seed(engine, sizes=["9"])
    with Session(engine) as session:
        kith = session.get(Listing, world.listing_id)
        assert kith is not None
        concepts_source = Source(name="Concepts", kind="shopify", url="https://concepts.example/")
        session.add(concepts_source)
        session.flush()
        assert concepts_source.id is not None
        concepts = Listing(
            source_id=concepts_source.id,
            colorway_id=world.colorway_id,
            external_id="rc",
            url="https://concepts.example/p/rc",
            style_code="M2002RDA",
        )
        session.add(concepts)
        session.flush()
        sizes = [{"size": "9", "availability": "InStock"}, {"size": "10", "availability": "InStock"}]
        for days, price in ((10, "150"), (3, "119.99"), (1, "135")):
            session.add(
                Observation(
                    listing_id=world.listing_id,
                    observed_at=DUE - timedelta(days=days),
                    price=Decimal(price),
                    currency="USD",
                    availability="InStock",
                    sizes=sizes,
                )
            )
        session.add(
            Observation(
                listing_id=concepts.id,
                observed_at=DUE - timedelta(days=2),
                price=Decimal("110"),
                currency="USD",
                availability="OutOfStock",
                sizes=[{"size": "9", "availability": "OutOfStock"}],
            )
        )
        session.add(
            Release(style_code="M2002RDQ", name="Protection Pack Ripstop Grey", release_date=date(2025, 3, 6))
        )
        session.add(Release(style_code="M2002RXX", name="Long gone", release_date=date(2024, 1, 1)))
        session.commit()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with json_receiver() as receiver:
        yield receiver


def _count(engine: sa.Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(model)).one())


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _Pipeline:
    """What the scheduler's digest job uses of a pipeline: the database and the clock."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock


def _service(engine: sa.Engine, config: Config, clock: _Clock) -> Service:
    async def deliver() -> object:
        return await deliver_due(engine, config, now=clock.now)

    return Service(config, _Pipeline(engine, clock), deliver=deliver)  # type: ignore[arg-type]


def test_the_clock_crossing_the_hour_sends_one_digest_per_channel_and_none_after_a_restart(
    db_url: str, hook: Hook
) -> None:
    engine = make_engine(db_url)
    _history(engine)
    config = _config(hook)
    clock = _Clock(DUE - timedelta(hours=2))
    service = _service(engine, config, clock)

    planned: list[tuple[datetime, int | None]] = []

    async def tick_until(end: datetime, svc: Service) -> None:
        while clock.now <= end:
            planned.append((clock.now, await svc.run_weekly_digest()))
            clock.now += timedelta(minutes=5)

    asyncio.run(tick_until(DUE + timedelta(hours=2), service))
    sent = [(at, event_id) for at, event_id in planned if event_id is not None]
    assert [at for at, _ in sent] == [DUE], "planned once, at the first tick at 09:00 New York time"
    assert _count(engine, Event) == 1 and _count(engine, DigestRun) == 1
    with Session(engine) as session:
        deliveries = session.exec(select(Delivery)).all()
        assert sorted((d.channel, d.status) for d in deliveries) == [("hook", "sent"), ("inbox", "sent")]
        [message] = session.exec(select(InboxMessage)).all()
        assert message.kind == "weekly_digest"
    [posted] = hook.bodies()
    assert posted["title"] == message.title == "2002R weekly digest: 1 watched colorways, 1 releases coming"
    assert posted["message"] == message.body
    assert posted["message"].splitlines() == [
        'Protection Pack "Rain Cloud" (M2002RDA)',
        "  Lowest this week: $119.99 at Kith ($30.01 below list $150.00)",
        "  In stock in your sizes (9): Kith $135.00",
        "Releases coming:",
        "  2025-03-06: Protection Pack Ripstop Grey (M2002RDQ)",
    ]

    # A restart: a new engine and a new service on the same database, the clock still past the hour.
    engine.dispose()
    engine = make_engine(db_url)
    clock.now = DUE + timedelta(minutes=30)
    asyncio.run(tick_until(DUE + timedelta(hours=6), _service(engine, config, clock)))
    assert _count(engine, Event) == 1 and _count(engine, Delivery) == 2
    assert len(hook.bodies()) == 1

    # The next Monday brings the next one.
    clock.now = DUE + timedelta(days=7) - timedelta(minutes=10)
    asyncio.run(tick_until(DUE + timedelta(days=7, minutes=10), _service(engine, config, clock)))
    assert _count(engine, DigestRun) == 2 and len(hook.bodies()) == 2
    with Session(engine) as session:
        periods = sorted(r.period for r in session.exec(select(DigestRun)).all())
    assert periods == [date(2025, 3, 3), date(2025, 3, 10)]
    engine.dispose()


def test_two_trackers_racing_plan_one_digest(tmp_path: Any, hook: Hook) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    first, second = make_engine(url), make_engine(url)
    _history(first)
    config = _config(hook)
    ids = [plan_weekly_digest(e, config, DUE + timedelta(minutes=1)) for e in (first, second, first)]
    assert ids[0] is not None and ids[1:] == [None, None]
    assert _count(first, Delivery) == 2


def test_a_digest_more_than_a_day_late_is_skipped(tmp_path: Any, hook: Hook) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    _history(engine)
    config = _config(hook)
    assert plan_weekly_digest(engine, config, DUE + timedelta(days=1, minutes=1)) is None
    assert plan_weekly_digest(engine, config, DUE + timedelta(hours=23)) is not None


def test_channels_and_slots(hook: Hook) -> None:
    config = _config(hook, channels=["inbox"], day="sunday", hour=18)
    # Sunday 18:00 in New York in March 2025: before the DST change (9 March) EST, after it EDT.
    slot = current_slot(config, datetime(2025, 3, 3, 12, 0, tzinfo=UTC))
    assert (
        slot is not None
        and slot.period == date(2025, 3, 2)
        and slot.due == datetime(2025, 3, 2, 23, 0, tzinfo=UTC)
    )
    slot = current_slot(config, datetime(2025, 3, 10, 12, 0, tzinfo=UTC))
    assert slot is not None and slot.due == datetime(2025, 3, 9, 22, 0, tzinfo=UTC)
    assert current_slot(parse_config({}), DUE) is None


def test_an_empty_week_says_so(tmp_path: Any, hook: Hook) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    seed(engine, sizes=["9"])
    title, lines = build_digest(engine, _config(hook), DUE)
    assert title == "2002R weekly digest: 1 watched colorways, 0 releases coming"
    assert lines == [
        'Protection Pack "Rain Cloud" (M2002RDA)',
        "  No buyable price seen this week",
        "  In stock in your sizes (9): nowhere right now",
        "Releases coming: none announced",
    ]


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ({"day": "someday"}, "alerts.weekly_digest.day: 'someday' is not a day of the week"),
        ({"hour": 24}, "alerts.weekly_digest.hour:"),
        ({"channels": ["pager"]}, "alerts.weekly_digest.channels: no channel named 'pager'"),
        ({"when": "monday"}, "alerts.weekly_digest.when: unknown key"),
    ],
    ids=["day", "hour", "channel", "unknown-key"],
)
def test_digest_config_errors_name_the_key(digest: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"alerts": {"channels": [{"name": "inbox", "url": "inbox://"}], "weekly_digest": digest}}
        )
    assert message in str(err.value)
