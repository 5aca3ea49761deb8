"""A release date written in config.toml: a release like any other, which wins over the sources' dates."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from dashboard.watchlist import ColorwayForm, save, upsert_colorway
from db import queries
from db.engine import make_engine
from db.models import Delivery, Event, Listing, Release, ReleaseChange
from db.models import Source as SourceRow
from tests.servers import PageServer
from tracker.calendar import build_calendar
from tracker.config import Config, parse_text
from tracker.errors import ConfigError
from tracker.fetch import Fetcher
from tracker.notify.plan import plan_deliveries
from tracker.notify.render import render_message
from tracker.pipeline import Pipeline
from tracker.scheduler import Service

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CODE = "M2002RDB"

CONFIG = """
database_url = "{db}"
timezone = "Europe/London"

[defaults]
respect_robots = false
retries = 0
per_host_delay = "0s"
interval = "30m"
jitter = "0s"

[drops]
before = "1h"
after = "2h"
interval = "1m"

[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = {{ USD = 150 }}
{release}

[[sources]]
name = "Calendar"
kind = "release_calendar"
url = "{base}/release-dates/"
currency = "USD"

[[sources]]
name = "Shop"
kind = "page"
url = "{base}/products/phantom"
currency = "USD"

[[alerts.channels]]
name = "hook"
url = "json://127.0.0.1:9/hook"

[[alerts.rules]]
on = ["release_announced", "release_changed"]
"""

PRODUCT = """<!doctype html><html><head><title>New Balance 2002R Phantom M2002RDB</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
"name": "New Balance 2002R Protection Pack Phantom M2002RDB", "sku": "M2002RDB",
"offers": {"@type": "Offer", "price": "150", "priceCurrency": "USD",
"availability": "https://schema.org/OutOfStock"}}</script></head>
<body><h1>New Balance 2002R Protection Pack Phantom</h1><span class="price">$150</span></body></html>"""


def calendar_page(when: str) -> str:
    """A release-dates page giving Phantom the date `when`."""
    return f"""<!doctype html><html><body><h1>Release dates</h1>
<div class="releases-box">
<h2><a href="/2026/12/nb-2002r-phantom/">New Balance 2002R "Phantom" M2002RDB</a></h2>
<span class="release-price">$150</span><span class="release-date">{when}</span></div></body></html>"""


class Clock:
    """The pipeline's (and so drop mode's) clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        server.set("/products/phantom", PRODUCT)
        yield server


def _config(db_url: str, base: str, release: str) -> Config:
    return parse_text(CONFIG.format(db=db_url, base=base, release=release))


def _pipeline(config: Config, engine: sa.Engine, clock: Clock, fetcher: Fetcher | None = None) -> Pipeline:
    return Pipeline(config, engine, fetcher, clock=clock, planner=plan_deliveries)  # type: ignore[arg-type]


def _check(config: Config, engine: sa.Engine, clock: Clock, name: str) -> list[Event]:
    """One check of one source through a new pipeline (which syncs the config first, as a start does)."""
    before = _last_event_id(engine)

    async def run() -> None:
        async with Fetcher(config.defaults) as fetcher:
            summary = await _pipeline(config, engine, clock, fetcher).check(name)
            assert summary.status == "ok", summary

    asyncio.run(run())
    return _events(engine, before)


def _last_event_id(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(sa.func.max(Event.id))).one() or 0


def _events(engine: sa.Engine, since: int = 0) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(col(Event.id) > since).order_by(col(Event.id))).all())


def _release(engine: sa.Engine, region: str = "global") -> Release | None:
    with Session(engine) as session:
        return session.exec(
            select(Release).where(Release.style_code == CODE, Release.region == region)
        ).one_or_none()


def _history(engine: sa.Engine) -> list[tuple[str | None, date | None, date | None, bool]]:
    with Session(engine) as session:
        rows = session.exec(select(ReleaseChange).order_by(col(ReleaseChange.id))).all()
        return [(h.source_name, h.old_date, h.new_date, h.applied) for h in rows]


def _sync(config: Config, engine: sa.Engine, clock: Clock) -> list[Event]:
    before = _last_event_id(engine)
    _pipeline(config, engine, clock)
    return _events(engine, before)


def test_the_config_date_is_a_release_and_wins_until_removed(pages: PageServer, db_url: str) -> None:
    engine = make_engine(db_url)
    clock = Clock(NOW)
    timed = 'release_date = 2026-12-08\nrelease_at = "10:00 America/New_York"'
    config = _config(db_url, pages.base, timed)

    # Start-up: the collector's date is a release, announced like a calendar's.
    (announced,) = _sync(config, engine, clock)
    assert announced.kind == "release_announced" and announced.colorway_id is not None
    assert announced.data["shop"] == "config" and announced.data["release_date"] == "2026-12-08"
    assert announced.data["timezone"] == "America/New_York"
    assert "(from config)" in announced.message
    release = _release(engine)
    assert release is not None and release.pinned and release.source_name == "config"
    assert release.release_at == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    with Session(engine) as session:
        planned = session.exec(select(Delivery).where(Delivery.event_id == announced.id)).all()
        assert [d.channel for d in planned] == ["hook"], "its alert is planned with it"
    assert _sync(config, engine, clock) == [], "a second start changes nothing"

    # A calendar gives another date: kept in the history, announced once as a disagreement.
    pages.set("/release-dates/", calendar_page("December 12, 2026"))
    clock.now += timedelta(hours=1)
    (disagrees,) = _check(config, engine, clock, "Calendar")
    assert disagrees.kind == "release_changed"
    assert disagrees.data["disagrees_with"] == "config" and disagrees.data["shop"] == "Calendar"
    assert disagrees.data["source_release_date"] == "2026-12-12"
    assert disagrees.data["release_date"] == "2026-12-08" and disagrees.data["direction"] == "later"
    assert "keeps the config.toml date" in disagrees.message
    _, body, _ = render_message(disagrees, None)
    assert "Calendar gives: 2026-12-12 (not followed)" in body
    release = _release(engine)
    assert release is not None and release.release_date == date(2026, 12, 8) and release.pinned
    clock.now += timedelta(hours=1)
    assert _check(config, engine, clock, "Calendar") == [], "the same disagreement is said once"
    assert _history(engine) == [
        ("config", None, date(2026, 12, 8), True),
        ("Calendar", date(2026, 12, 8), date(2026, 12, 12), False),
    ]

    # What the dashboard and the calendar feed show: the config date, and the other one.
    (row,) = queries.releases(engine)
    assert row.pinned and row.disputed == (("Calendar", date(2026, 12, 12)),)
    history = queries.release_history(engine)
    assert [(h.source_name, h.new_date, h.applied) for h in history] == [
        ("Calendar", date(2026, 12, 12), False),
        ("config", date(2026, 12, 8), True),
    ]
    (vevent,) = build_calendar(engine, config).walk("VEVENT")
    start = vevent.decoded("dtstart")
    assert start == datetime(2026, 12, 8, 15, 0, tzinfo=UTC) and str(start.tzinfo) == "America/New_York"
    description = str(vevent.get("description"))
    assert "Date from: your config.toml" in description
    assert "Calendar gives Sat 12 Dec 2026 (not followed" in description

    # The collector moves their date: a change like any other; the calendar is heard again.
    config = _config(db_url, pages.base, timed.replace("2026-12-08", "2026-12-10"))
    clock.now += timedelta(hours=1)
    (moved,) = _sync(config, engine, clock)
    assert moved.kind == "release_changed" and moved.data["direction"] == "later"
    assert (moved.data["old_release_date"], moved.data["release_date"]) == ("2026-12-08", "2026-12-10")
    assert queries.releases(engine)[0].disputed == ()
    (again,) = _check(config, engine, clock, "Calendar")
    assert again.data["release_date"] == "2026-12-10" and again.data["source_release_date"] == "2026-12-12"

    # The collector removes their date: the calendar's takes over, and says so once.
    config = _config(db_url, pages.base, "")
    clock.now += timedelta(hours=1)
    (handed,) = _sync(config, engine, clock)
    assert handed.kind == "release_changed" and handed.message.endswith("the config.toml date was removed")
    assert (handed.data["old_release_date"], handed.data["release_date"]) == ("2026-12-10", "2026-12-12")
    release = _release(engine)
    assert release is not None and not release.pinned and release.source_name == "Calendar"
    assert (release.release_date, release.release_at) == (date(2026, 12, 12), None)
    assert _check(config, engine, clock, "Calendar") == []
    latest = queries.release_history(engine)[0]
    assert (latest.source_name, latest.new_date, latest.applied) == ("Calendar", date(2026, 12, 12), True)


def test_a_config_date_alone_goes_with_it_and_regions_are_separate(pages: PageServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(db_url)
    clock = Clock(NOW)
    config = _config(db_url, pages.base, 'release_date = 2026-12-08\nregion = "JP"')
    (announced,) = _sync(config, engine, clock)
    assert announced.data["region"] == "JP"
    assert _release(engine, "global") is None
    jp = _release(engine, "JP")
    assert jp is not None and jp.pinned and jp.timezone == "Europe/London"

    # A date for another region is another release: the calendar's global one is its own.
    pages.set("/release-dates/", calendar_page("December 12, 2026"))
    (other,) = _check(config, engine, clock, "Calendar")
    assert other.kind == "release_announced" and other.data["region"] == "global"
    glob = _release(engine, "global")
    assert glob is not None and not glob.pinned and glob.release_date == date(2026, 12, 12)

    # Removing the only date the JP release ever had removes the release and its history.
    config = _config(db_url, pages.base, "")
    assert _sync(config, engine, clock) == []
    assert _release(engine, "JP") is None
    assert [h[0] for h in _history(engine)] == ["Calendar"]

    # A past date is history: recorded, not announced.
    config = _config(db_url, pages.base, 'release_date = 2023-09-21\nregion = "US"')
    assert _sync(config, engine, clock) == []
    past = _release(engine, "US")
    assert past is not None and past.release_date == date(2023, 9, 21) and past.pinned


def test_pinning_a_date_a_calendar_gave_first(pages: PageServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(db_url)
    clock = Clock(NOW)
    pages.set("/release-dates/", calendar_page("December 12, 2026 10:00 AM ET"))
    config = _config(db_url, pages.base, "")
    (announced,) = _check(config, engine, clock, "Calendar")
    assert announced.data["shop"] == "Calendar"

    # The collector writes the same day: no news, but the date is theirs now (and so its time).
    config = _config(db_url, pages.base, "release_date = 2026-12-12")
    assert _sync(config, engine, clock) == []
    release = _release(engine)
    assert release is not None and release.pinned and release.release_at is None
    assert _check(config, engine, clock, "Calendar") == [], "a calendar agreeing is no news"
    assert queries.releases(engine)[0].disputed == ()
    assert _history(engine)[-1] == ("Calendar", date(2026, 12, 12), date(2026, 12, 12), True)

    # Removing it again hands the release back to the calendar, whose time comes back next check.
    config = _config(db_url, pages.base, "")
    assert _sync(config, engine, clock) == []
    release = _release(engine)
    assert release is not None and not release.pinned and release.source_name == "Calendar"
    assert _check(config, engine, clock, "Calendar") == []
    release = _release(engine)
    assert release is not None and release.release_at == datetime(2026, 12, 12, 15, 0, tzinfo=UTC)


def _interval(service: Service, name: str) -> float:
    job = service.scheduler.get_job(f"source:{name}")
    assert job is not None
    return float(job.trigger.interval.total_seconds())


def test_drop_mode_opens_around_the_config_date_and_follows_a_watchlist_edit(
    pages: PageServer, tmp_path: Path
) -> None:
    """The drop-mode decision on the pipeline's clock: the window's edges, then an edit moving it."""
    db_url = f"sqlite:///{tmp_path}/t.db"
    path = tmp_path / "config.toml"
    release_at = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # 10:00 in New York
    path.write_text(
        CONFIG.format(
            db=db_url,
            base=pages.base,
            release='release_date = 2026-12-08\nrelease_at = "10:00 America/New_York"',
        ),
        encoding="utf-8",
    )
    config = parse_text(path.read_text(encoding="utf-8"))
    engine = make_engine(db_url)
    clock = Clock(NOW)

    async def scenario() -> list[tuple[datetime, float, float]]:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = _pipeline(config, engine, clock, fetcher)
            service = Service(config, pipeline, config_path=path)
            service.schedule()  # jobs are added, never started: the test moves the clock
            assert (await pipeline.check("Shop")).status == "ok"  # the shop lists the colorway
            seen = []
            for minutes in (-61, -60, 0, 120, 121):
                clock.now = release_at + timedelta(minutes=minutes)
                service.apply_drop_mode()
                seen.append((clock.now, _interval(service, "Shop"), _interval(service, "Calendar")))
            # Inside the window again, then the watchlist moves the date a week on.
            clock.now = release_at
            service.apply_drop_mode()
            assert _interval(service, "Shop") == 60.0
            text = path.read_text(encoding="utf-8")
            edited = upsert_colorway(
                text,
                ColorwayForm(
                    name="Protection Pack Phantom",
                    style_code=CODE,
                    list_price="150",
                    release_date=date(2026, 12, 15),
                ),
                original=CODE,
            )
            path.write_text(edited, encoding="utf-8")
            assert service.reload_if_changed()
            seen.append((clock.now, _interval(service, "Shop"), _interval(service, "Calendar")))
            clock.now = release_at + timedelta(days=7)
            service.apply_drop_mode()
            seen.append((clock.now, _interval(service, "Shop"), _interval(service, "Calendar")))
            return seen

    seen = asyncio.run(scenario())
    assert [(when - release_at, shop, cal) for when, shop, cal in seen] == [
        (timedelta(minutes=-61), 1800.0, 1800.0),
        (timedelta(minutes=-60), 60.0, 1800.0),  # [drops] before = 1h
        (timedelta(0), 60.0, 1800.0),
        (timedelta(minutes=120), 60.0, 1800.0),  # after = 2h
        (timedelta(minutes=121), 1800.0, 1800.0),
        (timedelta(0), 1800.0, 1800.0),  # the edit moved the release out of today's window
        (timedelta(days=7), 60.0, 1800.0),  # and it kept the time of day written in release_at
    ]
    release = _release(engine)
    assert release is not None and release.release_at == release_at + timedelta(days=7)
    with Session(engine) as session:
        shop = session.exec(select(SourceRow).where(SourceRow.name == "Shop")).one()
        assert session.exec(select(Listing).where(Listing.source_id == shop.id)).one().style_code == CODE


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ('release_at = "10:00"', "colorways[0]: release_at needs release_date"),
        ('release_date = 2026-12-08\nrelease_at = "10am"', "colorways[0].release_at: '10am' is not a time"),
        (
            'release_date = 2026-12-08\nrelease_at = "10:00 Moon/Base"',
            "colorways[0].release_at: 'Moon/Base' is not a time zone",
        ),
        (
            "release_date = 2026-12-08\nrelease_at = 2026-12-08T10:00:00Z",
            'colorways[0].release_at: expected a time such as "10:00"',
        ),
        ('release_date = 2026-12-08\nregion = " "', "colorways[0].region: expected a region"),
    ],
)
def test_release_keys_are_checked_with_the_key_named(release: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config("sqlite:///unused.db", "http://127.0.0.1:9", release)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_release_keys_read_as_written() -> None:
    config = _config(
        "sqlite:///unused.db",
        "http://127.0.0.1:9",
        'release_date = 2026-12-08\nrelease_at = 18:30:00\nregion = "Global"',
    )
    (colorway,) = config.colorways
    assert colorway.release_at is not None and colorway.release_at.zone is None  # config timezone
    assert colorway.release_at.at.hour == 18 and colorway.region == "global"


def test_watchlist_clearing_the_date_drops_its_time_and_region() -> None:
    text = CONFIG.format(
        db="sqlite:///unused.db",
        base="http://127.0.0.1:9",
        release='release_date = 2026-12-08\nrelease_at = "10:00 America/New_York"\nregion = "US"',
    )
    form = ColorwayForm(name="Protection Pack Phantom", style_code=CODE, list_price="150")
    moved = parse_text(upsert_colorway(text, replace(form, release_date=date(2026, 12, 9)), CODE))
    (colorway,) = moved.colorways
    assert colorway.release_date == date(2026, 12, 9) and colorway.region == "US"
    assert colorway.release_at is not None and colorway.release_at.zone == "America/New_York"
    cleared = parse_text(upsert_colorway(text, form, CODE))
    (colorway,) = cleared.colorways
    assert (colorway.release_date, colorway.release_at, colorway.region) == (None, None, "global")


def test_icalendar_parses_the_feed(pages: PageServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(db_url)
    config = _config(db_url, pages.base, "release_date = 2026-12-08")
    _sync(config, engine, Clock(NOW))
    feed = icalendar.Calendar.from_ical(build_calendar(engine, config).to_ical())
    (vevent,) = feed.walk("VEVENT")
    assert vevent.decoded("dtstart") == date(2026, 12, 8)
    assert "Date from: your config.toml" in str(vevent.get("description"))


# ------------------------------------------------------------------ a real `tracker run`

ROOT = Path(__file__).resolve().parent.parent

RUN_CONFIG = """
database_url = "sqlite:///data/tracker.db"
timezone = "UTC"

[defaults]
respect_robots = false
retries = 0
per_host_delay = "0s"
jitter = "0s"

[drops]
before = "1h"
after = "1h"
interval = "1s"

[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = {{ USD = 150 }}
release_date = {day}

[[sources]]
name = "Shop"
kind = "page"
url = "{base}/products/phantom"
currency = "USD"
interval = "1h"

# Another shop, checked every second: the test's measure of time passing in the tracker.
[[sources]]
name = "Pulse"
kind = "page"
url = "{base}/products/other"
currency = "USD"
interval = "1s"
"""


class Tracker:
    """`tracker run --no-dashboard` in its own process, its log lines collected as they come."""

    def __init__(self, config: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracker.cli", "--config", str(config), "run", "--no-dashboard"],
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        return self.proc.returncode


def _until(what: str, condition: Callable[[], bool], tracker: Tracker, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if tracker.proc.poll() is not None:
            pytest.fail(f"the tracker exited while waiting for {what}:\n{tracker.log()}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{tracker.log()}")


def _db_release(db: Path) -> tuple[str, bool, str] | None:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("select release_date, pinned, source_name from releases where style_code = :c"),
                {"c": CODE},
            ).first()
    except sa.exc.OperationalError:  # not created or not migrated yet
        return None
    finally:
        engine.dispose()
    return None if row is None else (str(row[0]), bool(row[1]), str(row[2]))


def _ics_start(config: Path) -> object:
    out = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "calendar", "--ics", "-"],
        cwd=config.parent,
        env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
        check=True,
    )
    (vevent,) = icalendar.Calendar.from_ical(out.stdout).walk("VEVENT")
    assert "Date from: your config.toml" in str(vevent.get("description"))
    return vevent.decoded("dtstart")


def test_tracker_run_polls_a_config_release_fast_today_and_follows_a_watchlist_edit(
    pages: PageServer, tmp_path: Path
) -> None:
    other = PRODUCT.replace("M2002RDB", "M2002RDA").replace("Phantom", "Rain Cloud")
    pages.set("/products/other", other)
    today = datetime.now(UTC).date()
    later = today + timedelta(days=30)
    path = tmp_path / "config.toml"
    path.write_text(RUN_CONFIG.format(day=today.isoformat(), base=pages.base), encoding="utf-8")
    db = tmp_path / "data" / "tracker.db"

    def hits(page: str) -> int:
        return pages.hits.get(f"/products/{page}", 0)

    tracker = Tracker(path)
    try:
        # Released today per config.toml: in drop mode, the 1 h shop is checked every second.
        _until("the config release", lambda: _db_release(db) == (today.isoformat(), True, "config"), tracker)
        _until("drop mode", lambda: "drop mode: Shop checked every 1s" in tracker.log(), tracker)
        _until("five checks of the shop in drop mode", lambda: hits("phantom") >= 6, tracker)
        assert "drop mode: Pulse" not in tracker.log(), "only the shop carrying the colorway goes fast"
        assert _ics_start(path) == today

        # The watchlist moves the date a month on; the running tracker applies it like any edit.
        text = path.read_text(encoding="utf-8")
        form = ColorwayForm(
            name="Protection Pack Phantom", style_code=CODE, list_price="150", release_date=later
        )
        outcome = save(path, text, upsert_colorway(text, form, original=CODE))
        assert outcome.config is not None, outcome.errors
        _until("the reload", lambda: "drop mode over: Shop back to every 3600s" in tracker.log(), tracker)
        assert _db_release(db) == (later.isoformat(), True, "config")
        # Outside the window the shop is back at its hour: while the tracker checks the other
        # shop five more times (every second), the shop is not asked again (one check may have
        # been in flight when the edit landed).
        shop, pulse = hits("phantom"), hits("other")
        _until("five more checks of the other shop", lambda: hits("other") >= pulse + 5, tracker)
        assert hits("phantom") <= shop + 1, (shop, hits("phantom"))
        assert _ics_start(path) == later
    finally:
        code = tracker.stop()
    assert code == 0, tracker.log()
    assert "Traceback" not in tracker.log(), tracker.log()


def test_releases_page_says_which_date_the_tracker_acts_on(
    pages: PageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(db_url)
    clock = Clock(datetime.now(UTC))
    day = clock.now.date() + timedelta(days=7)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=db_url, base=pages.base, release=f"release_date = {day}"), "utf-8")
    config = parse_text(path.read_text(encoding="utf-8"))
    pages.set("/release-dates/", calendar_page((day + timedelta(days=2)).strftime("%B %d, %Y")))
    _check(config, engine, clock, "Calendar")
    engine.dispose()
    monkeypatch.setenv("TRACKER_CONFIG", str(path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.switch_page("views/releases.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.metric[0].label == "Next drop: Protection Pack Phantom"
    upcoming = at.dataframe[0].value
    assert upcoming["source"].tolist() == ["your config.toml"]
    assert upcoming["other dates"].tolist() == [f"Calendar: {day + timedelta(days=2)}"]
    history = at.dataframe[-1].value
    assert history["from"].tolist() == ["Calendar", "your config.toml"]
    assert history["tracker"].tolist() == ["not followed: your config.toml date wins", "acted on"]
    assert history["date"].tolist() == [str(day + timedelta(days=2)), str(day)]
