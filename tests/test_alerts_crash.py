"""Outbox crash test: a real sender process SIGKILLed between claiming and confirming, then restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import Delivery
from tests.test_alerts_support import NOW, Hook, json_receiver, make_event, seed, wait_for
from tracker.config import load_config
from tracker.notify.plan import plan_deliveries

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 5


def _setup(tmp_path: Path, hook: Hook, *, image: bool) -> tuple[Path, sa.Engine, list[str]]:
    db = tmp_path / "tracker.db"
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f"""
database_url = "sqlite:///{db}"

[alerts]
claim_lease = "1s"
flood_cap = 100
channels = [{{ name = "hook", url = "{hook.url()}" }}]
rules = [{{ on = ["new_listing"] }}]
""",
        encoding="utf-8",
    )
    config = load_config(config_path)
    engine = make_engine(f"sqlite:///{db}")
    world = seed(engine)
    hook.images["shoe.png"] = b"\x89PNG\r\n\x1a\n"
    extra = {"image": hook.http("shoe.png")} if image else {}
    events = [
        make_event(world, "new_listing", discovered=True, title=f"pair {i}", **extra) for i in range(EVENTS)
    ]
    with Session(engine) as session:
        session.add_all(events)
        session.flush()
        plan_deliveries(session, events, config, now=NOW)
        session.commit()
        keys = [f"{e.id}:hook" for e in events]
    return config_path, engine, keys


def _sender(config_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker.cli",
            "--config",
            str(config_path),
            "alerts",
            "deliver",
            "--interval",
            "0.1",
            "--until-done",
            "--max-seconds",
            "60",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _statuses(engine: sa.Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(d.status for d in session.exec(select(Delivery)).all())


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def _restart_until_done(config_path: Path) -> None:
    again = _sender(config_path)
    _out, err = again.communicate(timeout=90)
    assert again.returncode == 0, err.decode()


def test_kill_after_claim_before_send_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    with json_receiver() as hook:
        # The sender fetches the product image before it sends: holding that answer keeps it
        # between claiming the rows and calling the channel.
        hook.block_images = threading.Event()
        config_path, engine, keys = _setup(tmp_path, hook, image=True)
        proc = _sender(config_path)
        wait_for(lambda: hook.image_requests >= 1, what="the sender to claim and start preparing")
        assert _statuses(engine)["sending"] == EVENTS
        _kill(proc)
        assert hook.received == []
        hook.block_images.set()

        _restart_until_done(config_path)
        got = Counter(r["headers"]["idempotency-key"] for r in hook.received)
        assert got == Counter({k: 1 for k in keys})
        assert _statuses(engine) == Counter({"sent": EVENTS})
        # And once more: nothing is left to send twice.
        _restart_until_done(config_path)
        assert len(hook.received) == EVENTS
        engine.dispose()


def test_kill_while_the_channel_holds_the_request_sends_again_with_the_same_key(tmp_path: Path) -> None:
    with json_receiver() as hook:
        hook.block = threading.Event()
        config_path, engine, keys = _setup(tmp_path, hook, image=False)
        proc = _sender(config_path)
        wait_for(lambda: len(hook.received) == EVENTS, what="every request to reach the receiver")
        _kill(proc)
        in_flight = {r["headers"]["idempotency-key"] for r in hook.received}
        assert _statuses(engine) == Counter({"sending": EVENTS})  # claimed, never confirmed
        hook.block.set()

        _restart_until_done(config_path)
        got = Counter(r["headers"]["idempotency-key"] for r in hook.received)
        # Nothing lost; the only repeats are the documented residual window (in flight at the
        # kill), and they carry the same key so the receiver can drop them.
        assert set(got) == set(keys)
        assert all(got[k] == (2 if k in in_flight else 1) for k in keys)
        assert _statuses(engine) == Counter({"sent": EVENTS})
        _restart_until_done(config_path)
        assert sum(got.values()) == len(hook.received)
        engine.dispose()
