"""The inbox channel: inbox:// through Apprise and the outbox into the database, exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db import queries
from db.engine import make_engine
from db.inbox import NewMessage, mark_read, mark_unread, store_message
from db.models import Delivery, Event, InboxMessage
from tests.test_alerts_support import NOW, json_receiver, make_event, seed
from tracker.config import Config, parse_config
from tracker.notify.inbox import InboxDelivery
from tracker.notify.outbox import deliver_due
from tracker.notify.plan import plan_deliveries
from tracker.notify.send import send_via_apprise

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _config(channels: dict[str, str], **alerts: Any) -> Config:
    return parse_config(
        {
            "colorways": [{"name": 'Protection Pack "Rain Cloud"', "style_code": "M2002RDA"}],
            "alerts": {
                "channels": [{"name": n, "url": u} for n, u in channels.items()],
                "rules": [{"on": ["price_drop", "restock", "sold_out"]}],
                **alerts,
            },
        }
    )


def _record(engine: sa.Engine, config: Config, events: list[Event]) -> list[int]:
    with Session(engine) as session:
        session.add_all(events)
        session.flush()
        plan_deliveries(session, events, config, now=NOW)
        session.commit()
        return [e.id for e in events if e.id is not None]


def _messages(engine: sa.Engine) -> list[InboxMessage]:
    with Session(engine) as session:
        found = list(session.exec(select(InboxMessage).order_by(InboxMessage.id)).all())  # type: ignore[arg-type]
        session.expunge_all()
    return found


def _deliveries(engine: sa.Engine) -> list[Delivery]:
    with Session(engine) as session:
        found = list(session.exec(select(Delivery).order_by(Delivery.id)).all())  # type: ignore[arg-type]
        session.expunge_all()
    return found


def test_an_alert_lands_in_the_inbox_like_on_any_other_channel(engine: sa.Engine) -> None:
    world = seed(engine, image="https://img.example/rain-cloud.jpg")
    with json_receiver() as hook:
        config = _config({"inbox": "inbox://", "hook": hook.url()})
        event = make_event(
            world,
            "price_drop",
            message="Rain Cloud dropped to $119.99 at Kith (was $150.00) (now below list price)",
            price="119.99",
            old_price="150",
            list_price="150",
            image="https://img.example/rain-cloud.jpg",
        )
        [event_id] = _record(engine, config, [event])
        stats = asyncio.run(deliver_due(engine, config, now=NOW))
        assert (stats.sent, stats.failed, stats.retried) == (2, 0, 0)
        [posted] = hook.bodies()
    [message] = _messages(engine)
    # The same rendered alert as the webhook got, stored with what the dashboard links to.
    assert message.title == posted["title"] == 'Price drop: Protection Pack "Rain Cloud" (M2002RDA)'
    assert message.body == posted["message"]
    assert message.body.splitlines()[0].startswith("Rain Cloud dropped to $119.99")
    assert message.key == f"{event_id}:inbox" and message.channel == "inbox"
    assert message.kind == "price_drop" and message.event_id == event_id and message.event_ids == [event_id]
    assert message.link == "https://shop.example/products/rain-cloud"
    assert message.image == "https://img.example/rain-cloud.jpg"
    assert message.read_at is None
    assert {(d.channel, d.status) for d in _deliveries(engine)} == {("inbox", "sent"), ("hook", "sent")}
    # Another pass finds nothing to send and stores nothing.
    assert asyncio.run(deliver_due(engine, config, now=NOW + timedelta(minutes=5))).sent == 0
    assert len(_messages(engine)) == 1


def test_a_resend_after_a_crash_is_stored_once(engine: sa.Engine) -> None:
    """A sender that stored the message and died before confirming: the outbox takes the delivery
    back after the lease and sends it again; the inbox keeps one message under its key."""
    world = seed(engine)
    config = _config({"inbox": "inbox://"}, claim_lease="1m")
    _record(engine, config, [make_event(world, "restock", message="Rain Cloud is back at Kith")])
    assert asyncio.run(deliver_due(engine, config, now=NOW)).sent == 1
    with engine.begin() as conn:
        conn.execute(
            sa.update(Delivery.__table__).values(  # type: ignore[attr-defined]
                status="sending", claim_token="single:dead", claimed_at=NOW, sent_at=None
            )
        )
    later = NOW + timedelta(minutes=5)
    stats = asyncio.run(deliver_due(engine, config, now=later))
    assert (stats.recovered, stats.sent) == (1, 1)
    [delivery] = _deliveries(engine)
    assert delivery.status == "sent" and delivery.attempts == 2
    assert len(_messages(engine)) == 1


def test_a_digest_of_held_alerts_is_one_inbox_message(engine: sa.Engine) -> None:
    world = seed(engine)
    config = _config(
        {"inbox": "inbox://"}, quiet_hours={"start": "11:00:00", "end": "13:00:00"}, debounce="0s"
    )
    ids = _record(
        engine,
        config,
        [
            make_event(world, "sold_out", message="Rain Cloud sold out at Kith"),
            make_event(world, "restock", message="Rain Cloud is back at Kith", sizes_in_stock=["9"]),
        ],
    )
    assert asyncio.run(deliver_due(engine, config, now=NOW)).sent == 0  # held until 13:00
    assert asyncio.run(deliver_due(engine, config, now=NOW + timedelta(hours=2))).sent == 2
    [message] = _messages(engine)
    assert message.kind == "digest" and message.event_ids == ids and message.event_id is None
    assert message.title == "2002R tracker: 2 alerts during quiet hours"
    assert "Rain Cloud sold out at Kith" in message.body and "Rain Cloud is back at Kith" in message.body


def test_a_database_error_is_retried_with_the_reason(tmp_path: Path) -> None:
    """Storing can fail like any send: the delivery goes back with the database's reason."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = make_engine(url)
    world = seed(engine)
    config = _config({"inbox": "inbox://"})
    _record(engine, config, [make_event(world, "restock", message="Rain Cloud is back at Kith")])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE inbox_messages"))
    stats = asyncio.run(deliver_due(engine, config, now=NOW))
    assert (stats.sent, stats.retried) == (0, 1)
    [delivery] = _deliveries(engine)
    assert delivery.status == "pending"
    assert "inbox: could not store the message: no such table: inbox_messages" in (delivery.last_error or "")
    engine.dispose()


def test_outside_the_tracker_the_inbox_says_what_it_needs() -> None:
    error = send_via_apprise("inbox://", "title", "body")
    assert error is not None and "inbox channel stores into the tracker's database" in error


def test_store_once_per_key_then_read_and_unread(engine: sa.Engine) -> None:
    def message(key: str) -> NewMessage:
        return NewMessage(
            key=key, channel="inbox", kind="test", title="t", body=f"{key}\nmore", created_at=NOW
        )

    assert store_message(engine, message("a")) is True
    assert store_message(engine, message("a")) is False
    assert store_message(engine, message("b")) is True
    assert store_message(engine, message("c")) is True
    newest = queries.inbox_messages(engine)
    assert [m.key for m in newest] == ["c", "b", "a"] and newest[0].headline == "c"
    ids = {m.key: m.id for m in newest}
    counts = queries.inbox_counts(engine)
    assert (counts.unread, counts.newest_id) == (3, ids["c"])
    assert [m.key for m in queries.inbox_after(engine, ids["a"])] == ["b", "c"]
    assert mark_read(engine, NOW, [ids["b"]]) == 1
    assert queries.inbox_counts(engine).unread == 2
    assert [m.key for m in queries.inbox_messages(engine, unread_only=True)] == ["c", "a"]
    assert mark_read(engine, NOW) == 2
    assert queries.inbox_counts(engine).unread == 0
    assert mark_unread(engine, [ids["a"]]) == 1
    assert [m.key for m in queries.inbox_messages(engine, unread_only=True)] == ["a"]


def test_the_delivery_context_is_what_gets_stored(engine: sa.Engine) -> None:
    delivery = InboxDelivery(
        engine=engine, key="k:inbox", channel="inbox", kind="restock", link="https://x.example/p"
    )
    assert send_via_apprise("inbox://", "Restock: Phantom", "Phantom is back", inbox=delivery) is None
    [stored] = _messages(engine)
    assert (stored.key, stored.kind, stored.title, stored.body, stored.link) == (
        "k:inbox",
        "restock",
        "Restock: Phantom",
        "Phantom is back",
        "https://x.example/p",
    )


def test_alerts_test_command_stores_a_test_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    config = tmp_path / "config.toml"
    config.write_text(
        f'database_url = "{url}"\n\n[[alerts.channels]]\nname = "inbox"\nurl = "inbox://"\n', encoding="utf-8"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracker.cli",
            "--config",
            str(config),
            "alerts",
            "test",
            "--channel",
            "inbox",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "inbox: sent" in proc.stdout
    engine = make_engine(url)
    [message] = _messages(engine)
    assert message.kind == "test" and message.title == "2002R tracker: test alert"
    engine.dispose()
