"""Pages are read off the event loop, in worker processes, each with a time limit.

The real-process test runs `tracker run` with a hostile page source beside a healthy one: the
hostile page is given up after its time limit, recorded as extract_error, and the healthy source
goes on being checked on its schedule meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import CheckRun, Source
from tests.readers import loaded, pid, recurse, sleepy
from tests.servers import PageServer, product_page
from tracker.check.pool import PagePool, preload_for, start_fork_server, stop_fork_server
from tracker.errors import ExtractError, TooSlow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pool() -> Iterator[PagePool]:
    with PagePool(workers=2) as p:
        yield p


def test_a_page_over_its_time_limit_is_given_up_and_its_worker_replaced(pool: PagePool) -> None:
    async def main() -> tuple[int, int]:
        first = await pool.run(pid, time_limit=10)
        with pytest.raises(TooSlow, match=r"took longer than 0\.3 s"):
            await pool.run(sleepy, 60, time_limit=0.3)
        # The pool still reads, in a fresh worker where the slow one was killed.
        assert await pool.run(sleepy, 0, time_limit=10) == "done"
        return first, await pool.run(pid, time_limit=10)

    first, second = asyncio.run(main())
    assert first != os.getpid() and second != os.getpid()


def test_the_event_loop_keeps_running_while_a_page_is_read(pool: PagePool) -> None:
    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await pool.run(sleepy, 1.0, time_limit=10)
        ticker.cancel()
        return ticks

    # A second of reading in a worker; the loop ticked all along (it would tick 0 times if blocked).
    assert asyncio.run(main()) >= 20


def test_what_a_reader_raises_comes_back_as_one_extract_error(pool: PagePool) -> None:
    with pytest.raises(ExtractError, match="RecursionError: maximum recursion depth"):
        asyncio.run(pool.run(recurse, time_limit=10))


def test_a_closed_pool_refuses_at_once() -> None:
    pool = PagePool(workers=1)
    pool.close()
    with pytest.raises(ExtractError, match="stopping"):
        asyncio.run(pool.run(sleepy, 0, time_limit=10))


PARSERS = ["bs4", "lxml", "selectolax", "soupsieve", "tracker.extract.page", "tracker.extract.calendar"]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ({"shopify"}, []),
        ({"shopify", "release_calendar"}, PARSERS),
        ({"shopify_product"}, ["selectolax", "tracker.extract.page"]),
        (None, PARSERS),
    ],
)
def test_the_fork_server_loads_the_html_parsers_only_for_sources_that_read_pages(
    kinds: set[str] | None, expected: list[str]
) -> None:
    """A Shopify catalogue is JSON: its readers start without BeautifulSoup, lxml or selectolax (a
    tenth of a second of CPU on every `tracker check`); a kind that reads pages has them preloaded,
    and an unknown config (None) gets every reader."""
    stop_fork_server()  # one left by an earlier test would keep its own preload
    start_fork_server(kinds)
    try:
        with PagePool(1) as pool:
            got = asyncio.run(pool.run(loaded, PARSERS, time_limit=60))
            assert "tracker.extract.shopify" in asyncio.run(
                pool.run(loaded, ["tracker.extract.shopify"], time_limit=60)
            )
    finally:
        stop_fork_server()
    assert sorted(set(got) & set(PARSERS)) == sorted(expected), got
    if kinds is not None:
        assert preload_for(kinds)[0] == "tracker.check.collect"


def test_check_knows_its_sources_kinds_before_loading_the_config(tmp_path: Path) -> None:
    from tracker.commands import _source_kinds

    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "A"\nkind = "shopify"\nurl = "https://a.example"\n'
        '[[sources]]\nname = "B"\nkind = "page"\nurls = ["https://b.example/p"]\n',
        encoding="utf-8",
    )
    assert _source_kinds(config) == {"shopify", "page"}
    # What the full load will reject (with its own message) leaves the preload whole.
    for broken in ('[[sources]]\nname = "A"\n', "sources = 3\n", 'sources = ["a"]\n', "sources = ["):
        config.write_text(broken, encoding="utf-8")
        assert _source_kinds(config) is None, broken
        assert preload_for(_source_kinds(config)) == preload_for(None)
    assert _source_kinds(tmp_path / "missing.toml") is None
    config.write_text("", encoding="utf-8")
    assert _source_kinds(config) == set()  # no sources: the check says so before reading anything


def deep_page(levels: int) -> bytes:
    """A product page wrapped in `levels` nested <div>s: slow to read however it is read."""
    page = product_page("150.00")
    page = page.replace("<main>", "<main>" + "<div>" * levels)
    return page.replace("</main>", "</div>" * levels + "</main>").encode()


def _runs(engine: sa.Engine, name: str) -> list[CheckRun]:
    with Session(engine) as session:
        source = session.exec(select(Source).where(Source.name == name)).one_or_none()
        if source is None:
            return []
        rows = session.exec(select(CheckRun).where(CheckRun.source_id == source.id)).all()
        for row in rows:
            session.expunge(row)
        return sorted(rows, key=lambda r: r.id or 0)


def test_tracker_run_gives_up_a_hostile_page_while_a_healthy_shop_stays_on_schedule(tmp_path: Path) -> None:
    with PageServer() as server:
        healthy = server.set("/p/m2002rdb", product_page("150.00"))
        # 700,000 nested <div>s (7.7 MB, under the body cap): seconds of reading on any machine.
        hostile = server.set("/p/m2002rda", deep_page(700_000))
        db = tmp_path / "tracker.db"
        config = tmp_path / "config.toml"
        config.write_text(
            f"""database_url = "sqlite:///{db}"
[defaults]
interval = "1s"
jitter = "0s"
per_host_delay = "0s"
respect_robots = false
extract_timeout = "0.5s"

[[colorways]]
name = "Phantom"
style_code = "M2002RDB"
line = "Protection Pack"

[[sources]]
name = "Healthy"
kind = "page"
url = "{healthy}"

[[sources]]
name = "Hostile"
kind = "page"
url = "{hostile}"
""",
            encoding="utf-8",
        )
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tracker.cli", "--config", str(config), "run", "--no-dashboard"],
                cwd=tmp_path,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            engine = _wait_for_engine(db, proc)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                failed = [r for r in _runs(engine, "Hostile") if r.status == "extract_error"]
                if len(failed) >= 5:
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = log.read_text(encoding="utf-8", errors="replace")
        hostile_runs = [r for r in _runs(engine, "Hostile") if r.finished_at is not None]
        healthy_runs = [r for r in _runs(engine, "Healthy") if r.status in ("ok", "not_modified")]
        engine.dispose()
    failed = [r for r in hostile_runs if r.status == "extract_error"]
    assert len(failed) >= 5, text
    assert all("took longer than 0.5 s" in (r.error or "") for r in failed), [r.error for r in failed]
    # While the hostile page was being read, again and again, the healthy shop checked every second
    # went on being checked.
    start, end = failed[0].started_at, failed[4].finished_at
    assert end is not None
    during = [r for r in healthy_runs if start <= r.started_at <= end]
    assert len(during) >= 3, (start, end, [r.started_at for r in healthy_runs])
    assert "was missed by" not in text, text
    assert "Traceback" not in text, text


def _wait_for_engine(db: Path, proc: subprocess.Popen[bytes]) -> sa.Engine:
    """An engine on the database tracker run made, once its tables are there."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tracker run exited with {proc.returncode}")
        if db.exists():
            engine = make_engine(f"sqlite:///{db}", migrate=False)
            try:
                _runs(engine, "Healthy")
                return engine
            except sa.exc.OperationalError:
                engine.dispose()
        time.sleep(0.1)
    raise AssertionError("tracker run never created its database")
