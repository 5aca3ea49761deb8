"""The multi-machine mode's parts on the real PostgreSQL, in one process: the shared host gate, a
clock killed between deferring and moving a slot on, a worker whose clock is wrong, the status,
and copying a SQLite database to PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg_pool import AsyncConnectionPool
from streamlit.testing.v1 import AppTest

from db import queries
from db import workers as wdb
from db.engine import make_engine
from tests.cluster import Shop, config_text, rows, shop
from tests.seed import seed, sqlite_engine, write_config
from tracker.cli import main
from tracker.config import parse_text
from tracker.errors import FetchError
from tracker.fetch import Fetcher
from tracker.run.clock import Clock
from tracker.run.gate import SharedHostGate
from tracker.run.jobs import conninfo, defer_checks, make_app
from tracker.run.shared import DbClock, SharedConfig
from tracker.run.status import lines
from tracker.run.workers import Worker

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def _gate(url: str, name: str, *, lease: float = 30.0) -> AsyncIterator[SharedHostGate]:
    pool = AsyncConnectionPool(conninfo(url), min_size=1, max_size=4, kwargs={"autocommit": True}, open=False)
    await pool.open()
    try:
        yield SharedHostGate(pool, name, lease=lease)
    finally:
        await pool.close()


def _fetcher(gate: SharedHostGate, **kw: object) -> Fetcher:
    text = "[defaults]\nrespect_robots = false\n" + "".join(f"{k} = {v!r}\n" for k, v in kw.items())
    return Fetcher(parse_text(text.replace("'", '"')).defaults, gate=gate)


def _max_in_flight(host: Shop) -> int:
    edges = sorted([(h.start, 1) for h in host.hits] + [(h.end, -1) for h in host.hits])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_two_workers_share_a_hosts_concurrency_delay_and_pause(pg_url: str) -> None:
    make_engine(pg_url).dispose()

    async def go(host: Shop) -> None:
        async with _gate(pg_url, "one") as g1, _gate(pg_url, "two") as g2:
            # Six requests at once from two "workers": never more than two in flight at the shop.
            pair = [_fetcher(g, per_host_concurrency=2, per_host_delay=0) for g in (g1, g2)]
            await asyncio.gather(*(f.fetch(f"{host.base}/c{i}") for i in range(3) for f in pair))
            assert _max_in_flight(host) == 2
            # A delay of 0.5 s between request starts holds across the two (turns are claimed on
            # PostgreSQL's clock; the margin is this process's own scheduling on a busy machine).
            host.hits.clear()
            host.latency = 0.0
            pair = [_fetcher(g, per_host_delay="0.5s") for g in (g1, g2)]
            await asyncio.gather(*(f.fetch(f"{host.base}/d{i}") for i in range(2) for f in pair))
            starts = sorted(h.start for h in host.hits)
            # One request reaching the shop late (a busy machine; the first also opens its connection)
            # shortens one gap and lengthens the next: every two turns still take their delays less
            # 0.4 s (a full parallel run once saw the first request 0.2 s late), the whole run less
            # 0.2 s. Without the shared gate the two would ask together: two turns 0.5 s apart, the
            # whole run 0.5 s.
            assert all(c - a >= 2 * 0.5 - 0.4 for a, c in zip(starts, starts[2:], strict=False)), starts
            assert starts[-1] - starts[0] >= 3 * 0.5 - 0.2, starts
            # A long Retry-After told to one worker stops the other from asking.
            host.answers["/busy"] = (429, {"Retry-After": "600"})
            with pytest.raises(FetchError) as first:
                await pair[0].fetch(f"{host.base}/busy")
            asked = len(host.hits)
            with pytest.raises(FetchError) as second:
                await pair[1].fetch(f"{host.base}/other")
            assert first.value.kind == second.value.kind == "rate_limited"
            assert len(host.hits) == asked

    with shop("127.0.0.5", latency=0.2) as host:
        asyncio.run(go(host))


def test_a_killed_workers_slot_is_free_again_after_its_lease(pg_url: str) -> None:
    make_engine(pg_url).dispose()

    async def go() -> float:
        async with _gate(pg_url, "dead", lease=1.0) as dead, _gate(pg_url, "alive") as alive:
            await dead.enter("shop.test", concurrency=1, delay=0, hold=60)  # never left: it "died"
            started = time.monotonic()
            ticket, _ = await alive.enter("shop.test", concurrency=1, delay=0, hold=60)
            await alive.leave("shop.test", ticket)
            return time.monotonic() - started

    assert asyncio.run(go()) >= 0.5  # it had to wait for the lease, then got the slot


async def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _with_worker(worker: Worker, body: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.serve(stop))
    try:
        await body()
    finally:
        stop.set()
        await task


def _setup(tmp_path: Path, url: str, base: str, **defaults: object) -> tuple[sa.Engine, Path]:
    config = tmp_path / "config.toml"
    config.write_text(
        config_text([{"name": "only", "kind": "page", "url": f"{base}/p"}], **defaults), encoding="utf-8"
    )
    return make_engine(url), config


def test_a_clock_killed_between_deferring_and_moving_the_slot_on_checks_once(
    tmp_path: Path, pg_url: str
) -> None:
    with shop("127.0.0.6") as host:
        engine, config = _setup(tmp_path, pg_url, host.base, interval="1h")

        async def go() -> None:
            shared = SharedConfig(engine, path=config, origin="first")
            shared.publish_at_start()
            first = Clock(engine, make_app(pg_url), shared, name="first")
            assert shared.config is not None
            first.apply_config(shared.config)
            with engine.begin() as conn:
                wdb.lead(conn, "first", config_version=shared.version, new=True)
                due, _busy = wdb.due_checks(conn)
            async with first.app.open_async():
                await defer_checks(first.app, due, shared.version)  # ...and the clock dies here
            worker = Worker(engine, make_app(pg_url), SharedConfig(engine), name="w", concurrency=2)

            async def body() -> None:
                await _until(lambda: worker.done == 1, "the first job")
                second = Clock(
                    engine,
                    make_app(pg_url),
                    SharedConfig(engine, path=config, origin="second"),
                    name="second",
                )
                second.shared.publish_at_start()
                await second.step()  # the new leader finds the slot still due and defers it again
                await _until(lambda: worker.skipped == 1, "the second job of the same slot")
                await second._step_down()
                await second.app.close_async()

            await _with_worker(worker, body)

        asyncio.run(go())
        assert host.count("/p") == 1, "the slot was checked twice"
        assert [r.n for r in rows(pg_url, "SELECT COUNT(*) AS n FROM check_runs")] == [1]
        slot = rows(pg_url, "SELECT attempts FROM check_jobs")
        assert [r.attempts for r in slot] == [2]
        nxt = rows(pg_url, "SELECT next_due - clock_timestamp() AS left FROM check_schedule")[0].left
        assert timedelta(minutes=50) < nxt <= timedelta(hours=1)  # moved on once, by one interval


def test_a_worker_with_a_wrong_clock_writes_the_databases_time_and_shows_in_status(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with shop("127.0.0.7") as host:
        engine, config = _setup(tmp_path, pg_url, host.base, interval="1h")

        async def go() -> None:
            shared = SharedConfig(engine, path=config, origin="clock")
            shared.publish_at_start()
            clock = Clock(engine, make_app(pg_url), shared, name="clock")
            worker = Worker(engine, make_app(pg_url), SharedConfig(engine), name="ahead", concurrency=2)
            worker.clock = DbClock(local=lambda: time.time() + 7200)  # two hours ahead

            async def body() -> None:
                await clock.step()
                await _until(lambda: worker.done == 1, "a check")
                await clock._step_down()
                await clock.app.close_async()

            await _with_worker(worker, body)
            assert worker.clock.offset < -timedelta(hours=1, minutes=59)

        asyncio.run(go())
        with engine.connect() as conn:
            db_now = wdb.db_now(conn)
        written = rows(
            pg_url,
            "SELECT r.started_at, r.finished_at, o.observed_at FROM check_runs r"
            " JOIN observations o ON o.run_id = r.id",
        )[0]
        for stamp in written:
            assert abs(stamp - db_now) < timedelta(minutes=1)

        health = queries.cluster_health(engine)
        assert health is not None
        [info] = health.workers
        assert (info.name, info.stopped, info.jobs_done) == ("ahead", True, 1)
        assert info.clock_offset_ms is not None and info.clock_offset_ms < -7_000_000
        assert health.leader == "clock" and health.lag_checks == 1
        text = "\n".join(lines(health, parse_text(config.read_text())))
        assert "ahead" in text and "stopped" in text and "p95" in text
        monkeypatch.setenv("DATABASE_URL", pg_url)
        assert main(["--config", str(config), "status"]) == 0
        out = capsys.readouterr().out
        assert "clock: clock" in out and "ahead" in out

        # The dashboard's health page shows the same.
        monkeypatch.setenv("TRACKER_CONFIG", str(config))
        monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
        at = AppTest.from_file(
            str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=60
        )
        at.run()
        at.switch_page("views/health.py")
        at.run()
        assert not at.exception
        table = at.dataframe[1].value
        assert list(table["worker"]) == ["ahead"] and list(table["jobs done"]) == [1]
        assert any("scheduling lag p50" in c.value for c in at.caption)
        from dashboard import data

        data.engine(pg_url).dispose()


def test_status_on_sqlite_says_one_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert main(["--config", str(config), "status"]) == 0
    assert "one process on SQLite" in capsys.readouterr().out


def test_migrate_db_copies_a_sqlite_history_to_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url, source = sqlite_engine(tmp_path)
    now = datetime.now(UTC)
    seed(source, now)
    config = write_config(tmp_path / "config.toml", url)
    assert main(["--config", str(config), "migrate-db", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "observations:" in out and "done" in out
    target = make_engine(pg_url)
    assert queries.table_counts(target) == queries.table_counts(source)
    assert queries.overview(target, now) == queries.overview(source, now)
    assert queries.events(target) == queries.events(source)
    with target.begin() as conn:  # ids go on after the copied ones
        top = conn.execute(sa.text("SELECT MAX(id) FROM events")).scalar_one()
        new = conn.execute(
            sa.text(
                "INSERT INTO events (created_at, kind, message, data)"
                " VALUES (now(), 'x', '', '{}') RETURNING id"
            )
        ).scalar_one()
    assert new == top + 1
    # A second copy into a database with data is refused, in one line, and changes nothing.
    assert main(["--config", str(config), "migrate-db", "--to", pg_url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already has data" in err[0]
