"""The alert outbox end to end: real database, real JSON webhook and SMTP receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db import queries
from db.engine import make_engine
from db.models import Delivery, Event
from tests.procs import Tracker
from tests.servers import PageServer
from tests.servers import product_page as server_page
from tests.test_alerts_support import (
    NOW,
    Hook,
    World,
    json_receiver,
    mail_text,
    make_event,
    seed,
    smtp_receiver,
    wait_for,
)
from tracker.config import Config, parse_config
from tracker.errors import ConfigError
from tracker.notify.outbox import deliver_due, send_test
from tracker.notify.plan import plan_deliveries

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def hook() -> Iterator[Hook]:
    with json_receiver() as receiver:
        yield receiver


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def make_config(channels: dict[str, str], rules: list[dict[str, Any]], **alerts: Any) -> Config:
    """A Config with the Rain Cloud colorway, these channels and rules."""
    colorway: dict[str, Any] = {"name": 'Protection Pack "Rain Cloud"', "style_code": "M2002RDA"}
    colorway.update(alerts.pop("colorway", {}))
    return parse_config(
        {
            "colorways": [colorway],
            "alerts": {
                "channels": [{"name": n, "url": u} for n, u in channels.items()],
                "rules": rules,
                **alerts,
            },
        }
    )


def record(world: World, config: Config, events: list[Event], now: datetime) -> list[Delivery]:
    """What the pipeline does: insert events, flush, plan, commit in one transaction."""
    with Session(world.engine) as session:
        for event in events:
            event.created_at = now
            session.add(event)
        session.flush()
        planned = plan_deliveries(session, events, config, now=now)
        session.commit()
        for obj in [*events, *planned]:
            session.refresh(obj)
        session.expunge_all()
    return planned


def rows(engine: sa.Engine) -> list[Delivery]:
    with Session(engine) as session:
        found = list(session.exec(select(Delivery).order_by(Delivery.id)).all())  # type: ignore[arg-type]
        session.expunge_all()
    return found


def deliver(engine: sa.Engine, config: Config, now: datetime) -> Any:
    return asyncio.run(deliver_due(engine, config, now=now))


def test_message_reaches_webhook_and_email_with_title_facts_image_and_key(
    engine: sa.Engine, hook: Hook
) -> None:
    hook.images["rain-cloud.png"] = PNG
    world = seed(engine, sizes=["9"], image=None)
    with smtp_receiver() as (smtp_port, mails):
        config = make_config(
            {
                "hook": hook.url(),
                "mail": f"mailto://127.0.0.1:{smtp_port}?from=tracker@example.org&to=me@example.org",
            },
            [{"on": ["price_drop"]}],
        )
        event = make_event(
            world,
            "price_drop",
            message="Price drop at Kith: Rain Cloud now $120 (was $150)",
            price="120",
            old_price="150",
            list_price="150",
            sizes_in_stock=["9", "10"],
            image=hook.http("rain-cloud.png"),
        )
        planned = record(world, config, [event], NOW)
        assert sorted(d.channel for d in planned) == ["hook", "mail"]
        stats = deliver(engine, config, NOW)
        assert (stats.sent, stats.failed, stats.retried) == (2, 0, 0)

        [posted] = hook.received
        body = posted["json"]
        assert body["title"] == 'Price drop: Protection Pack "Rain Cloud" (M2002RDA)'
        lines = body["message"].splitlines()
        assert lines[0] == "Price drop at Kith: Rain Cloud now $120 (was $150)"
        for expected in (
            'Colorway: Protection Pack "Rain Cloud" (M2002RDA)',
            "Shop: Kith",
            "Price: $120.00 (was $150.00, -$30.00 / -20%)",
            "List price: $150.00 ($30.00 below list, -20%)",
            "Sizes in stock: 9, 10",
            "Link: https://shop.example/products/rain-cloud",
        ):
            assert expected in lines
        [attachment] = body["attachments"]
        assert base64.b64decode(attachment["base64"]) == PNG
        assert posted["headers"]["idempotency-key"] == f"{event.id}:hook"

        [mail] = mails
        assert mail["to"] == ["me@example.org"]
        assert mail["message"]["Subject"] == body["title"]
        assert mail["message"]["X-Idempotency-Key"] == f"{event.id}:mail"
        text = mail_text(mail["message"])
        assert "Price: $120.00 (was $150.00, -$30.00 / -20%)" in text
        assert "Link: https://shop.example/products/rain-cloud" in text

        # Delivered once: another pass sends nothing.
        again = deliver(engine, config, NOW + timedelta(hours=1))
        assert again.sent == 0
        assert len(hook.received) == 1 and len(mails) == 1
    assert {d.status for d in rows(engine)} == {"sent"}


def test_failing_channel_retries_with_backoff_then_fails_without_blocking_or_leaking(
    engine: sa.Engine, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token-value-42")
    hook.fail.add("broken/s3cr3t-token-value-42")
    world = seed(engine)
    config = make_config(
        {"good": hook.url("good"), "bad": hook.url("broken/${HOOK_TOKEN}"), "dead": "json://127.0.0.1:9/x"},
        [{"on": ["restock"]}],
        max_attempts=3,
        retry_base="10s",
    )
    record(world, config, [make_event(world, "restock", sizes_in_stock=["9"])], NOW)

    first = deliver(engine, config, NOW)
    assert (first.sent, first.retried, first.failed) == (1, 2, 0)
    assert len(hook.bodies("good")) == 1
    by_channel = {d.channel: d for d in rows(engine)}
    bad = by_channel["bad"]
    assert bad.status == "pending" and bad.attempts == 1
    assert bad.next_attempt_at == NOW + timedelta(seconds=10)
    assert bad.last_error and "s3cr3t-token-value-42" not in bad.last_error
    assert by_channel["dead"].last_error and "127.0.0.1" in by_channel["dead"].last_error

    assert deliver(engine, config, NOW + timedelta(seconds=5)).retried == 0  # not due yet
    second = deliver(engine, config, NOW + timedelta(seconds=10))
    assert second.retried == 2
    assert rows(engine)[1].next_attempt_at == NOW + timedelta(seconds=30)  # 10 s, then 20 s
    third = deliver(engine, config, NOW + timedelta(seconds=30))
    assert third.failed == 2
    final = {d.channel: d for d in rows(engine)}
    assert final["good"].status == "sent"
    assert final["bad"].status == "failed" and final["bad"].attempts == 3
    assert len(hook.bodies("broken/s3cr3t-token-value-42")) == 3
    assert len(hook.bodies("good")) == 1
    listed = {r.channel: r for r in queries.deliveries(engine)}
    assert listed["bad"].status == "failed" and listed["bad"].last_error
    assert "s3cr3t" not in str(listed)


# Debounce scenarios: (minute, event kind, data); the counts are what the channel receives in total.
IN = {"availability": "InStock", "sizes_in_stock": ["9", "10"]}
OUT = {"availability": "OutOfStock"}
DEBOUNCE = [
    pytest.param(
        [(0, "restock", IN), (2, "sold_out", OUT), (4, "restock", IN)],
        ["restock", "sold_out"],
        ["restock"],
        id="in-out-in-within-minutes-sends-one",
    ),
    pytest.param(
        [(0, "restock", IN), (2, "sold_out", OUT), (4, "restock", IN)],
        ["restock"],
        ["restock"],
        id="in-out-in-without-sold-out-rule-sends-one",
    ),
    pytest.param(
        [(0, "restock", IN), (2, "sold_out", OUT)],
        ["restock", "sold_out"],
        ["restock", "sold_out"],
        id="sold-out-that-stays-goes-out-after-the-window",
    ),
    pytest.param(
        [(0, "sold_out", OUT), (3, "restock", IN), (5, "sold_out", OUT), (7, "restock", IN)],
        ["restock", "sold_out"],
        [],
        id="out-in-out-in-ends-where-it-started-sends-nothing",
    ),
    pytest.param(
        [(0, "restock", IN), (30, "sold_out", OUT), (45, "restock", IN)],
        ["restock", "sold_out"],
        ["restock", "sold_out", "restock"],
        id="slow-changes-all-go-out",
    ),
    pytest.param(
        [
            (0, "size_restock", {"sizes_restocked": ["9"]}),
            (1, "size_restock", {"sizes_restocked": ["9"]}),
            (2, "size_restock", {"sizes_restocked": ["11"]}),
        ],
        ["size_restock"],
        ["size_restock", "size_restock"],
        id="size-back-twice-once-new-size-again",
    ),
    pytest.param(
        [
            (0, "price_drop", {"price": "120", "old_price": "150"}),
            (1, "price_drop", {"price": "120", "old_price": "150"}),
            (2, "price_drop", {"price": "110", "old_price": "150"}),
        ],
        ["price_drop"],
        ["price_drop", "price_drop"],
        id="price-flapping-to-the-same-price-once-lower-again",
    ),
]


@pytest.mark.parametrize(("steps", "kinds", "expected"), DEBOUNCE)
def test_debounce(
    engine: sa.Engine,
    hook: Hook,
    steps: list[tuple[int, str, dict[str, Any]]],
    kinds: list[str],
    expected: list[str],
) -> None:
    world = seed(engine)
    config = make_config({"hook": hook.url()}, [{"on": kinds}], debounce="10m")
    end = NOW
    for minute, kind, data in steps:
        now = NOW + timedelta(minutes=minute)
        deliver(engine, config, now)  # the sender polls all along: whatever fell due went out
        record(world, config, [make_event(world, kind, **data)], now)
        deliver(engine, config, now)
        end = now
    # Long after every window: whatever was waiting has gone out.
    deliver(engine, config, end + timedelta(hours=2))
    received = [b["title"].split(":")[0] for b in hook.bodies()]
    labels = {
        "restock": "Restock",
        "sold_out": "Sold out",
        "size_restock": "Sizes back",
        "price_drop": "Price drop",
    }
    assert received == [labels[k] for k in expected]
    superseded = [d for d in rows(engine) if d.status == "superseded"]
    assert all(d.last_error for d in superseded)


def test_quiet_hours_hold_alerts_then_send_one_digest_per_channel(engine: sa.Engine, hook: Hook) -> None:
    world = seed(engine)
    config = make_config(
        {"a": hook.url("a"), "b": hook.url("b")},
        [{"on": ["price_drop", "restock"]}],
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    night = NOW.replace(hour=23)
    planned = record(
        world,
        config,
        [
            make_event(world, "price_drop", message="Rain Cloud down to $120", price="120", old_price="150"),
            make_event(world, "restock", message="Rain Cloud back at Kith", **IN),
        ],
        night,
    )
    morning = (NOW + timedelta(days=1)).replace(hour=7)
    assert {(d.status, d.next_attempt_at) for d in planned} == {("held", morning)}
    assert deliver(engine, config, night + timedelta(hours=3)).sent == 0
    assert hook.received == []
    stats = deliver(engine, config, morning)
    assert stats.sent == 4
    for path in ("a", "b"):
        [digest] = hook.bodies(path)
        assert digest["title"] == "2002R tracker: 2 alerts during quiet hours"
        assert "- Rain Cloud down to $120 https://shop.example/products/rain-cloud" in digest["message"]
        assert "- Rain Cloud back at Kith" in digest["message"]
    # Outside quiet hours the same kind of event goes out alone, at once.
    record(world, config, [make_event(world, "price_drop", price="100", old_price="120")], morning)
    assert deliver(engine, config, morning).sent == 2


def test_a_digest_caught_in_flight_by_a_dead_sender_goes_out_again_as_one_digest(
    engine: sa.Engine, hook: Hook
) -> None:
    world = seed(engine)
    config = make_config({"a": hook.url("a")}, [{"on": ["price_drop", "restock"]}], claim_lease=120)
    events = [
        make_event(world, "price_drop", message="Rain Cloud down to $120", price="120", old_price="150"),
        make_event(world, "restock", message="Rain Cloud back at Kith", **IN),
    ]
    planned = record(world, config, events, NOW)
    # A sender claimed both held rows as one digest, then died before confirming.
    with Session(engine) as session:
        for delivery in session.exec(select(Delivery)).all():
            delivery.status, delivery.claim_token = "sending", "digest:dead-sender"
            delivery.claimed_at, delivery.attempts = NOW, 1
            session.add(delivery)
        session.commit()
    assert len(planned) == 2
    assert deliver(engine, config, NOW + timedelta(seconds=60)).sent == 0, "still within the lease"
    stats = deliver(engine, config, NOW + timedelta(seconds=121))
    assert stats.recovered == 2 and stats.sent == 2
    [digest] = hook.bodies("a")  # one message, as the digest it was: not two single alerts
    assert digest["title"] == "2002R tracker: 2 alerts during quiet hours"
    assert {d.status for d in rows(engine)} == {"sent"}


@pytest.mark.parametrize(
    ("count", "messages"), [(3, 3), (12, 1)], ids=["few-each-alone", "flood-one-summary"]
)
def test_many_new_listings_from_one_source_become_one_summary(
    engine: sa.Engine, hook: Hook, count: int, messages: int
) -> None:
    world = seed(engine)
    config = make_config({"hook": hook.url()}, [{"on": ["new_listing"]}], flood_cap=5)
    events = [
        make_event(
            world, "new_listing", discovered=True, message=f"New 2002R at Kith: pair {i}", title=f"pair {i}"
        )
        for i in range(count)
    ]
    record(world, config, events, NOW)
    assert deliver(engine, config, NOW).sent == count
    bodies = hook.bodies()
    assert len(bodies) == messages
    if messages == 1:
        assert bodies[0]["title"] == f"2002R tracker: {count} alerts new listings found at once"
        assert all(f"pair {i}" in bodies[0]["message"] for i in range(count))


def test_snoozed_colorway_sends_nothing_until_the_snooze_ends(engine: sa.Engine, hook: Hook) -> None:
    world = seed(engine)
    config = make_config(
        {"hook": hook.url()}, [{"on": ["restock"]}], colorway={"snooze_until": NOW.date().isoformat()}
    )
    [snoozed] = record(world, config, [make_event(world, "restock", **IN)], NOW)
    assert snoozed.status == "superseded" and "snoozed" in (snoozed.last_error or "")
    deliver(engine, config, NOW)
    assert hook.received == []
    tomorrow = NOW + timedelta(days=1)
    [live] = record(world, config, [make_event(world, "restock", **IN)], tomorrow)
    assert live.status == "pending"
    assert deliver(engine, config, tomorrow).sent == 1


def test_two_senders_at_once_send_each_alert_exactly_once(db_url: str, hook: Hook) -> None:
    engines = [make_engine(db_url) for _ in range(3)]
    world = seed(engines[0])
    config = make_config({"a": hook.url("a"), "b": hook.url("b")}, [{"on": ["new_listing"]}], flood_cap=100)
    events = [make_event(world, "new_listing", discovered=True, title=f"pair {i}") for i in range(30)]
    record(world, config, events, NOW)
    start = threading.Barrier(len(engines))

    def sender(eng: sa.Engine) -> None:
        start.wait()
        for _ in range(4):
            asyncio.run(deliver_due(eng, config, now=NOW, limit=10))

    threads = [threading.Thread(target=sender, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    deliver(engines[0], config, NOW)
    keys = [r["headers"]["idempotency-key"] for r in hook.received]
    assert len(keys) == 60 and len(set(keys)) == 60
    assert {d.status for d in rows(engines[0])} == {"sent"}
    for e in engines:
        e.dispose()


def test_stale_claim_is_taken_back_after_the_lease(engine: sa.Engine, hook: Hook) -> None:
    world = seed(engine)
    config = make_config({"hook": hook.url()}, [{"on": ["restock"]}], claim_lease="2m")
    [planned] = record(world, config, [make_event(world, "restock", **IN)], NOW)
    with engine.begin() as conn:  # a sender claimed it and died
        conn.execute(
            sa.update(Delivery)
            .where(Delivery.id == planned.id)  # type: ignore[arg-type]
            .values(status="sending", claim_token="single:dead", claimed_at=NOW, attempts=1)
        )
    assert deliver(engine, config, NOW + timedelta(minutes=1)).sent == 0  # lease still running
    stats = deliver(engine, config, NOW + timedelta(minutes=3))
    assert (stats.recovered, stats.sent) == (1, 1)
    [row] = rows(engine)
    assert row.status == "sent" and row.attempts == 2
    assert len(hook.received) == 1


def test_a_pass_with_nothing_due_only_reads(engine: sa.Engine, hook: Hook) -> None:
    """The sender runs every few seconds in a tracker that is idle most of the time: such a pass
    reads, and writes nothing (no claim, no recovery), until something is due."""
    world = seed(engine)
    config = make_config({"hook": hook.url()}, [{"on": ["restock"]}])
    [planned] = record(world, config, [make_event(world, "restock", **IN)], NOW)
    with engine.begin() as conn:  # its next attempt is in an hour (a retry's backoff)
        conn.execute(
            sa.update(Delivery)
            .where(Delivery.id == planned.id)  # type: ignore[arg-type]
            .values(next_attempt_at=NOW + timedelta(hours=1))
        )
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        assert deliver(engine, config, NOW + timedelta(minutes=59)).sent == 0
        idle = list(statements)
        assert deliver(engine, config, NOW + timedelta(hours=1)).sent == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert idle and set(idle) == {"SELECT"}, idle
    assert "UPDATE" in statements[len(idle) :]
    assert len(hook.received) == 1


def test_channel_removed_from_config_fails_its_rows(engine: sa.Engine, hook: Hook) -> None:
    world = seed(engine)
    config = make_config({"hook": hook.url(), "old": hook.url("old")}, [{"on": ["restock"]}])
    record(world, config, [make_event(world, "restock", **IN)], NOW)
    later = make_config({"hook": hook.url()}, [{"on": ["restock"]}])
    stats = deliver(engine, later, NOW)
    assert (stats.sent, stats.failed) == (1, 1)
    failed = next(d for d in rows(engine) if d.channel == "old")
    assert failed.status == "failed" and "no longer in config" in (failed.last_error or "")


def test_send_test_reaches_each_channel_and_reports_failures(hook: Hook) -> None:
    hook.fail.add("down")
    with smtp_receiver() as (port, mails):
        config = make_config(
            {
                "hook": hook.url(),
                "mail": f"mailto://127.0.0.1:{port}?from=t@example.org&to=me@example.org",
                "down": hook.url("down"),
            },
            [],
        )
        results = {name: (ok, error) for name, ok, error in send_test(config)}
        assert results["hook"] == (True, None) and results["mail"] == (True, None)
        assert results["down"][0] is False and results["down"][1]
        assert hook.bodies("hook")[0]["title"] == "2002R tracker: test alert"
        assert mails[0]["message"]["Subject"] == "2002R tracker: test alert"
        assert send_test(config, "hook") == [("hook", True, None)]
        assert len(hook.bodies("hook")) == 2
    with pytest.raises(ConfigError, match="no channel named 'nope'"):
        send_test(config, "nope")


def test_recent_deliveries_lists_newest_first_with_the_event(engine: sa.Engine, hook: Hook) -> None:
    world = seed(engine)
    config = make_config({"hook": hook.url()}, [{"on": ["restock", "price_drop"]}])
    record(world, config, [make_event(world, "restock", message="back", **IN)], NOW)
    record(
        world,
        config,
        [make_event(world, "price_drop", message="cheaper", price="99", old_price="150")],
        NOW + timedelta(minutes=1),
    )
    deliver(engine, config, NOW + timedelta(minutes=1))
    listed = queries.deliveries(engine, limit=10)
    assert [(r.event_kind, r.event_message, r.status) for r in listed] == [
        ("price_drop", "cheaper", "sent"),
        ("restock", "back", "sent"),
    ]
    assert queries.deliveries(engine, limit=1)[0].event_message == "cheaper"


def test_a_receiver_slower_than_the_channel_timeout_is_sent_again_later_with_the_same_key(
    engine: sa.Engine, hook: Hook
) -> None:
    hook.delay = 2.0  # every answer takes two seconds
    world = seed(engine)
    config = parse_config(
        {
            "colorways": [{"name": 'Protection Pack "Rain Cloud"', "style_code": "M2002RDA"}],
            "alerts": {
                "channels": [
                    {"name": "impatient", "url": hook.url("impatient"), "timeout": "1s"},
                    {"name": "patient", "url": hook.url("patient"), "timeout": "10s"},
                ],
                "rules": [{"on": ["restock"]}],
                "max_attempts": 3,
                "retry_base": "1m",
            },
        }
    )
    record(world, config, [make_event(world, "restock", sizes_in_stock=["9"])], NOW)
    first = deliver(engine, config, NOW)
    assert (first.sent, first.retried) == (1, 1)
    assert first.errors == [
        "impatient: A Connection error occurred sending JSON notification to 127.0.0.1.;"
        " no answer within 1 s (the channel's timeout); sent again later"
    ]
    # Not sent again at once: the next try waits its backoff, then the one after longer still.
    assert deliver(engine, config, NOW + timedelta(seconds=30)).retried == 0
    assert deliver(engine, config, NOW + timedelta(minutes=1)).retried == 1
    assert deliver(engine, config, NOW + timedelta(minutes=2)).retried == 0
    assert deliver(engine, config, NOW + timedelta(minutes=3)).failed == 1
    impatient = [r for r in hook.received if r["path"] == "/impatient"]
    patient = [r for r in hook.received if r["path"] == "/patient"]
    # The slow receiver saw the alert once per attempt (3 = max_attempts, each with the same key);
    # the channel whose timeout is longer than the receiver's answer saw it once.
    assert len(impatient) == 3 and len(patient) == 1
    keys = {r["headers"]["idempotency-key"] for r in impatient}
    assert keys == {patient[0]["headers"]["idempotency-key"].replace("patient", "impatient")}
    status = {d.channel: d.status for d in rows(engine)}
    assert status == {"impatient": "failed", "patient": "sent"}


def test_ctrl_c_while_a_slow_receiver_is_answering_stops_cleanly_and_sends_once(tmp_path: Path) -> None:
    with PageServer() as shop, json_receiver() as slow, json_receiver() as fast:
        slow.delay = 4.0
        page = shop.set("/p/m2002rda", server_page("150.00"))
        failing = shop.set("/p/m2002rdb", "<h1>Internal Server Error</h1>", status=500)
        config = tmp_path / "config.toml"
        config.write_text(
            f"""database_url = "sqlite:///data/tracker.db"
[defaults]
interval = "1s"
jitter = "0s"
per_host_delay = "0s"
respect_robots = false
retries = 0
broken_after = 1

[[colorways]]
name = "Rain Cloud"
style_code = "M2002RDA"
line = "Protection Pack"
watched = true

[[sources]]
name = "Rain Cloud shop"
kind = "page"
url = "{page}"

[[sources]]
name = "Kith"
kind = "page"
url = "{failing}"
interval = "1h"

[alerts]
channels = [
    {{ name = "slow", url = "{slow.url()}", timeout = "10s" }},
    {{ name = "fast", url = "{fast.url()}" }},
]
rules = [{{ on = ["price_drop"], channels = ["slow"] }}, {{ on = ["source_broken"], channels = ["fast"] }}]
""",
            encoding="utf-8",
        )
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "run.log") as tracker:
            tracker.wait_for("Rain Cloud shop: ok")
            shop.set("/p/m2002rda", server_page("119.99"))
            wait_for(lambda: len(slow.received) >= 1, timeout=60, what="the slow receiver to get the alert")
            code = tracker.stop()  # while the receiver has not answered yet
            text = tracker.text()
        assert code == 0, text
        assert "Traceback" not in text and "CancelledError" not in text, text
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'tracker.db'}", migrate=False)
        try:
            status = {(d.channel, d.status) for d in rows(engine)}
        finally:
            engine.dispose()
        # The message in flight was finished and recorded: a restart will not send it again.
        assert ("slow", "sent") in status, status
        assert len(slow.received) == 1
        # The broken shop's alert names the shop, not the shoe.
        titles = [body["title"] for body in fast.bodies()]
        assert titles == ["Shop check failing: Kith"], titles
