"""Crash safety: a real tracker process SIGKILLed at random points of a check pass, then restarted.

After every kill and every restart the database must be intact: integrity check passes, every
observation is complete and belongs to a finished run, no listing has two identical observations
in a row, runs are finished or visibly left 'running', events are not repeated, every event a
rule matches has exactly one delivery per channel, and once drained every alert went out once.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db.models import CheckRun, Delivery, Event, Observation
from db.models import Colorway as DbColorway
from tests.test_alerts_support import Hook, json_receiver
from tracker.config import Config, load_config
from tracker.demo import DemoStore, ManualClock, demo_config_text
from tracker.notify.rules import matching_channels
from tracker.pipeline import RUN_STATUSES

ROOT = Path(__file__).resolve().parent.parent
DELIVER = [sys.executable, "-m", "tracker.cli"]
DRAIN = ["--until-done", "--max-seconds", "60"]
SEED = 2002  # fixed: the same kill points on every run of the suite
KILLS = 7
FINISHED = RUN_STATUSES
AVAILABILITY = {"InStock", "OutOfStock", "unknown"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[DemoStore, ManualClock, Hook, Path]]:
    clock = ManualClock()
    # A little latency per response spreads a check pass over about a second of fetching.
    store = DemoStore(clock=clock, step_seconds=60, latency=0.1)
    base = store.start()
    with json_receiver() as hook:
        config = tmp_path / "config.toml"
        config.write_text(
            demo_config_text(base, data_dir="data")
            + f'\n[alerts]\nclaim_lease = "1s"\n\n[[alerts.channels]]\nname = "hook"\nurl = "{hook.url()}"\n',
            encoding="utf-8",
        )
        try:
            yield store, clock, hook, config
        finally:
            store.stop()


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=db_url)
    return env


def _start(args: list[str], config: Path, db_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), *args],
        cwd=config.parent,
        env=_env(db_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _check_to_completion(config: Path, db_url: str) -> None:
    proc = _start(["check", "--quiet", "--json"], config, db_url)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), err.decode()
    assert b"Traceback" not in err, err.decode()


def _rows(engine: sa.Engine, model: type) -> list[Any]:
    with Session(engine) as session:
        rows = list(session.exec(select(model).order_by(model.id)).all())  # type: ignore[attr-defined]
        for row in rows:
            session.expunge(row)
        return rows


def check_consistency(engine: sa.Engine, config: Config, *, sqlite: bool) -> dict[str, int]:
    """Assert every crash-safety invariant; returns counts for the test's own assertions."""
    if sqlite:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    runs = {r.id: r for r in _rows(engine, CheckRun)}
    for run in runs.values():
        assert run.status in FINISHED | {"running"}, run.status
        # A run is either finished (with its end time) or visibly left running by a crash.
        assert (run.status == "running") == (run.finished_at is None), (run.id, run.status)

    observations = _rows(engine, Observation)
    by_listing: dict[int, list[Observation]] = defaultdict(list)
    for obs in observations:
        assert obs.listing_id is not None and obs.run_id is not None and obs.observed_at is not None
        assert obs.availability in AVAILABILITY
        assert isinstance(obs.sizes, list)
        for size in obs.sizes:
            assert {"size", "availability", "price"} <= set(size) and size["availability"] in AVAILABILITY
        assert obs.price is None or obs.price > 0
        assert (obs.price is None) == (obs.currency is None) or obs.currency is not None
        # Observations are written in the same transaction that finishes their run.
        assert runs[obs.run_id].status in ("ok", "partial", "not_modified"), runs[obs.run_id].status
        by_listing[obs.listing_id].append(obs)
    for rows in by_listing.values():
        for before, after in itertools.pairwise(rows):
            if before.suspect or after.suspect:
                continue
            same = (before.price, before.currency, before.compare_at, before.availability, before.sizes) == (
                after.price,
                after.currency,
                after.compare_at,
                after.availability,
                after.sizes,
            )
            assert not same, f"listing {after.listing_id}: observation {after.id} repeats {before.id}"

    events = _rows(engine, Event)
    obs_ids = {o.id for o in observations}
    keys = Counter((e.kind, e.listing_id, e.observation_id) for e in events if e.observation_id is not None)
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
    assert all(e.observation_id in obs_ids for e in events if e.observation_id is not None)

    deliveries = _rows(engine, Delivery)
    pairs = Counter((d.event_id, d.channel) for d in deliveries)
    assert all(n == 1 for n in pairs.values()), "one delivery per (event, channel)"
    colorways = {c.id: c for c in _rows(engine, DbColorway)}
    matched = 0
    for event in events:
        wanted = set(matching_channels(event, colorways.get(event.colorway_id), config))
        have = {channel for (event_id, channel) in pairs if event_id == event.id}
        assert wanted == have, (event.kind, event.message, wanted, have)
        matched += bool(wanted)
    return {
        "running": sum(r.status == "running" for r in runs.values()),
        "observations": len(observations),
        "events": len(events),
        "matched": matched,
        "deliveries": len(deliveries),
    }


def test_sigkill_at_random_points_of_a_check_pass(
    world: tuple[DemoStore, ManualClock, Hook, Path], db_url: str
) -> None:
    store, clock, hook, config_path = world
    config = load_config(config_path)
    sqlite = db_url.startswith("sqlite")
    rng = random.Random(SEED)
    killed = 0
    left_running = running_before = 0
    from db.engine import make_engine

    engine = make_engine(db_url)  # migrated up front, so a kill never lands inside a migration
    try:
        for i in range(KILLS):
            # A new timeline step each time, so the pass has prices, stock and listings to write.
            clock.set_step(i % len(store.steps))
            args = ["run", "--no-dashboard"] if i % 3 == 2 else ["check", "--quiet"]
            before = sum(store.requests.values())
            proc = _start(args, config_path, db_url)
            # Start the clock at the pass's first request (interpreter start-up is not the point),
            # then kill at a random moment of fetching, extracting or writing.
            deadline = time.monotonic() + 60
            while sum(store.requests.values()) == before and proc.poll() is None:
                assert time.monotonic() < deadline, "the tracker never reached the shop"
                time.sleep(0.01)
            try:
                # Stratified: kill i lands somewhere in the i-th slice of the pass's first 0.4 s
                # (fetching 304s and writing take about that long here).
                proc.wait((i + rng.random()) / KILLS * 0.4)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                killed += 1
            else:
                assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")
            if proc.stderr:
                proc.stderr.close()
            left_running += check_consistency(engine, config, sqlite=sqlite)["running"] > running_before
            running_before = check_consistency(engine, config, sqlite=sqlite)["running"]
            _check_to_completion(config_path, db_url)  # the restart finishes the pass
            check_consistency(engine, config, sqlite=sqlite)
        assert killed >= KILLS - 2, "most passes must really be killed part-way"
        assert left_running >= 3, "kills must land inside check passes, leaving their runs 'running'"

        # Drain the outbox (a kill may have left deliveries claimed): every alert goes out once.
        drain = subprocess.run(
            [*DELIVER, "--config", str(config_path), "alerts", "deliver", *DRAIN],
            cwd=config_path.parent,
            env=_env(db_url),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert drain.returncode == 0, drain.stderr.decode()
        counts = check_consistency(engine, config, sqlite=sqlite)
        assert counts["matched"] >= 3, counts  # the timeline did raise alerts to lose
        statuses = Counter(d.status for d in _rows(engine, Delivery))
        assert set(statuses) <= {"sent", "superseded", "held"}, statuses
        received = Counter(r["headers"]["idempotency-key"] for r in hook.received)
        sent = {f"{d.event_id}:{d.channel}" for d in _rows(engine, Delivery) if d.status == "sent"}
        # A held delivery goes out inside a summary; a sent one reached the receiver under its key.
        assert sent <= set(received), sent - set(received)
        # A resend after a kill mid-request carries the same key, so the receiver can drop it.
        assert all(n <= 2 for n in received.values()), received
    finally:
        engine.dispose()
    print(json.dumps({"kills": killed, "passes_cut_mid_run": left_running, **counts}))


def test_runs_cut_off_by_a_crash_are_shown_on_the_health_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from streamlit.testing.v1 import AppTest

    from db.engine import make_engine
    from db.models import Source
    from tests.seed import seed, write_config

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = make_engine(url)
    seed(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        kith = session.exec(select(Source).where(Source.name == "Kith")).one()
        concepts = session.exec(select(Source).where(Source.name == "Concepts")).one()
        # Kith's check was killed two hours ago; Concepts' check is simply in progress now.
        session.add(CheckRun(source_id=kith.id, started_at=now - timedelta(hours=2)))
        session.add(CheckRun(source_id=concepts.id, started_at=now - timedelta(seconds=5)))
        session.commit()
    engine.dispose()
    monkeypatch.setenv("TRACKER_CONFIG", str(write_config(tmp_path / "config.toml", url)))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning if "unfinished" in w.value]
    assert len(warnings) == 1 and "Kith \\(1\\)" in warnings[0], warnings  # Markdown-escaped
    assert "Concepts" not in warnings[0]
