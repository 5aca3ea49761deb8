"""Release calendars: date formats and zones, the JSON-LD, release-box and article layouts, history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.engine import make_engine
from db.models import CheckRun, Event, Release, ReleaseChange
from tests.servers import PageServer
from tracker.config import Config, Selectors, parse_text
from tracker.extract.calendar import extract_releases
from tracker.extract.dates import When, parse_when
from tracker.extract.model import Availability, Product, SizeOffer
from tracker.fetch import Fetcher
from tracker.pipeline import Pipeline, RunSummary
from tracker.releases.records import coming_soon

DATA = Path(__file__).parent / "data" / "releases"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

CATALOGUE = """
timezone = "Europe/London"

[defaults]
respect_robots = false
retries = 0
per_host_delay = "0s"

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "M2002RDA"
list_price = { USD = 150 }

[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = { USD = 150 }

[[colorways]]
name = "Protection Pack Sea Salt"
style_code = "M2002RDC"
list_price = { USD = 150 }
"""


@pytest.mark.parametrize(
    ("text", "page_date", "day", "at", "zone"),
    [
        ("2024-03-15", None, date(2024, 3, 15), None, None),
        (
            "2024-03-15T10:00:00-04:00",
            None,
            date(2024, 3, 15),
            datetime(2024, 3, 15, 14, 0, tzinfo=UTC),
            None,
        ),
        ("2024-03-15T10:00:00Z", None, date(2024, 3, 15), datetime(2024, 3, 15, 10, 0, tzinfo=UTC), "UTC"),
        # A time with no zone is in the default zone (Europe/London: GMT in March before the 31st).
        (
            "2024-03-15 08:00",
            None,
            date(2024, 3, 15),
            datetime(2024, 3, 15, 8, 0, tzinfo=UTC),
            "Europe/London",
        ),
        ("March 15, 2024", None, date(2024, 3, 15), None, None),
        ("Sat, Mar 16th 2024", None, date(2024, 3, 16), None, None),
        ("15 March 2024", None, date(2024, 3, 15), None, None),
        ("03/22/2024", None, date(2024, 3, 22), None, None),
        ("22.03.2024", None, date(2024, 3, 22), None, None),
        # EDT in summer, EST in winter: the named zone gets daylight saving right.
        (
            "July 4, 2024 10:00 AM ET",
            None,
            date(2024, 7, 4),
            datetime(2024, 7, 4, 14, 0, tzinfo=UTC),
            "America/New_York",
        ),
        (
            "January 4, 2024 10am EST",
            None,
            date(2024, 1, 4),
            datetime(2024, 1, 4, 15, 0, tzinfo=UTC),
            "America/New_York",
        ),
        (
            "April 6th 2024 10:00 AM PT",
            None,
            date(2024, 4, 6),
            datetime(2024, 4, 6, 17, 0, tzinfo=UTC),
            "America/Los_Angeles",
        ),
        (
            "2024/05/01 is wrong but 1 May 2024 19:30 Asia/Tokyo",
            None,
            date(2024, 5, 1),
            datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
            "Asia/Tokyo",
        ),
        # No year: the page's year; an article from December about "January 5" means next year.
        ("February 18", date(2024, 1, 30), date(2024, 2, 18), None, None),
        ("January 5", date(2023, 12, 20), date(2024, 1, 5), None, None),
    ],
)
def test_dates_in_several_formats_and_zones(
    text: str, page_date: date | None, day: date, at: datetime | None, zone: str | None
) -> None:
    when = parse_when(text, page_date=page_date, default_tz="Europe/London")
    assert when is not None
    assert (when.day, when.at, when.timezone) == (day, at, zone)


@pytest.mark.parametrize("text", ["TBC", "TBA", "tbd", "Coming Soon", "To be confirmed"])
def test_tbc_is_unknown_not_a_guess(text: str) -> None:
    assert parse_when(text) == When()


def test_a_date_without_year_and_no_page_date_is_not_guessed() -> None:
    assert parse_when("February 18") is None
    assert parse_when("soon-ish") is None


def _summary(body: bytes, url: str, **kw: object) -> list[tuple[object, ...]]:
    return [
        (r.style_code, r.region, r.when.day, r.when.at, r.when.timezone, r.price, r.currency, r.url)
        for r in extract_releases(body, url, default_tz="Europe/London", **kw)  # type: ignore[arg-type]
    ]


def test_jsonld_calendar() -> None:
    body = (DATA / "jsonld_calendar.html").read_bytes()
    url = "https://calendar.example/upcoming"
    got = _summary(body, url)
    assert got == [
        (
            "M2002RDA",
            "global",
            date(2024, 3, 15),
            None,
            None,
            Decimal("150.00"),
            "USD",
            "https://calendar.example/releases/m2002rda",
        ),
        (
            "M2002RDB",
            "US",
            date(2024, 3, 22),
            datetime(2024, 3, 22, 14, 0, tzinfo=UTC),
            "America/New_York",
            Decimal("150"),
            "USD",
            "https://calendar.example/releases/m2002rdb",
        ),
        (
            "M2002RDC",
            "JP",
            date(2024, 4, 5),
            datetime(2024, 4, 5, 0, 0, tzinfo=UTC),
            None,
            Decimal("16500"),
            "JPY",
            url,
        ),
        ("M2002RXA", "global", None, None, None, None, None, url),
        (None, "global", date(2024, 3, 9), None, None, None, None, url),
    ]


def test_release_box_layout() -> None:
    body = (DATA / "release_boxes.html").read_bytes()
    base = "https://news.example/release-dates/"
    got = _summary(body, base, currency="USD")
    assert got == [
        (
            None,
            "global",
            date(2024, 3, 15),
            None,
            None,
            Decimal("150"),
            "USD",
            "https://news.example/2024/03/new-balance-2002r-protection-pack-rain-cloud/",
        ),
        (
            None,
            "global",
            date(2024, 3, 16),
            None,
            None,
            Decimal("120"),
            "USD",
            "https://news.example/2024/03/running-shoe-release/",
        ),
        (
            "M2002RDB",
            "UK",
            date(2024, 3, 22),
            None,
            None,
            Decimal("130"),
            "GBP",
            "https://news.example/2024/03/nb-2002r-phantom/",
        ),
        (
            "M2002RDC",
            "global",
            date(2024, 4, 6),
            datetime(2024, 4, 6, 17, 0, tzinfo=UTC),
            "America/Los_Angeles",
            Decimal("150"),
            "USD",
            "https://news.example/2024/04/nb-2002r-sea-salt/",
        ),
        ("M2002RXA", "global", None, None, None, None, "USD", "https://news.example/2024/nb-2002r-gore-tex/"),
    ]


def test_configured_selectors_read_another_calendar_layout() -> None:
    body = b"""<html><body><ul class="drops">
      <li class="drop"><h3>New Balance 2002R Protection Pack Phantom M2002RDB</h3>
        <em class="when">Saturday, March 23, 2024</em><b class="cost">$150</b></li>
      <li class="drop"><h3>New Balance 2002R Sea Salt M2002RDC</h3><em class="when">TBC</em></li>
    </ul></body></html>"""
    selectors = Selectors(release_item="li.drop", release_date="em.when", title="h3", price="b.cost")
    got = _summary(body, "https://drops.example/", selectors=selectors, currency="USD")
    assert [(code, day, price) for code, _, day, _, _, price, _, _ in got] == [
        ("M2002RDB", date(2024, 3, 23), Decimal("150")),
        ("M2002RDC", None, None),
    ]
    # Without the selectors the built-in rules find no release in this layout.
    assert _summary(body, "https://drops.example/") == []


def test_article_dates_take_the_article_year() -> None:
    body = (DATA / "article_no_year.html").read_bytes()
    url = "https://mag.example/new-balance-2002r-protection-pack"
    got = [(r.style_code, r.when.day, r.price) for r in extract_releases(body, url, currency="USD")]
    assert got == [
        ("M2002RDB", date(2024, 2, 18), None),
        ("M2002RDC", date(2024, 3, 15), Decimal("150")),
        ("M2002RHO", None, Decimal("130")),
    ]


def test_coming_soon_products() -> None:
    sold_out = (SizeOffer("9", Availability.OUT_OF_STOCK), SizeOffer("10", Availability.OUT_OF_STOCK))
    tagged = Product(
        title="2002R", availability=Availability.OUT_OF_STOCK, sizes=sold_out, tags=("Coming Soon",)
    )
    dated = Product(
        title="2002R",
        availability=Availability.OUT_OF_STOCK,
        sizes=sold_out,
        tags=("2002R", "release:2024-03-15"),
    )
    buyable = Product(title="2002R", availability=Availability.IN_STOCK, tags=("coming soon",))
    plain = Product(title="2002R", availability=Availability.OUT_OF_STOCK, sizes=sold_out, tags=("2002R",))
    assert coming_soon(tagged, default_tz="UTC") == When()
    dated_when = coming_soon(dated, default_tz="UTC")
    assert dated_when is not None and dated_when.day == date(2024, 3, 15)
    assert coming_soon(buyable, default_tz="UTC") is None
    assert coming_soon(plain, default_tz="UTC") is None


# ------------------------------------------------------------------ through the pipeline


class Clock:
    """The pipeline's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def _config(urls: list[str], db_url: str) -> Config:
    quoted = ", ".join(f'"{u}"' for u in urls)
    text = (
        f'database_url = "{db_url}"\n'
        + CATALOGUE
        + '\n[[sources]]\nname = "Calendar"\nkind = "release_calendar"\n'
        + f'urls = [{quoted}]\ncurrency = "USD"\n'
    )
    return parse_text(text)


def _check(config: Config, engine: sa.Engine, clock: Clock) -> RunSummary:
    async def run() -> RunSummary:
        async with Fetcher(config.defaults) as fetcher:
            return await Pipeline(config, engine, fetcher, clock=clock).check("Calendar")

    return asyncio.run(run())


def _releases(engine: sa.Engine) -> dict[tuple[str, str], Release]:
    with Session(engine) as session:
        return {(r.style_code, r.region): r for r in session.exec(select(Release)).all()}


def _events(engine: sa.Engine) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).order_by(col(Event.id))).all())


def test_calendar_check_records_releases_and_history(pages: PageServer, db_url: str) -> None:
    boxes = (DATA / "release_boxes.html").read_text(encoding="utf-8")
    urls = [
        pages.set("/release-dates/", boxes),
        pages.set("/upcoming", (DATA / "jsonld_calendar.html").read_bytes()),
    ]
    config = _config(urls, db_url)
    engine = make_engine(db_url)
    clock = Clock(NOW)

    first = _check(config, engine, clock)
    assert first.status == "ok", first
    rows = _releases(engine)
    # Matched by name (Rain Cloud has no code on the box page) or by code; runner shoes filtered out.
    assert set(rows) == {
        ("M2002RDA", "global"),
        ("M2002RDB", "UK"),
        ("M2002RDC", "global"),
        ("M2002RXA", "global"),
        ("M2002RDB", "US"),
        ("M2002RDC", "JP"),
    }
    assert rows[("M2002RDB", "US")].release_at == datetime(2024, 3, 22, 14, 0, tzinfo=UTC)
    assert rows[("M2002RDB", "US")].timezone == "America/New_York"
    assert rows[("M2002RDC", "global")].timezone == "America/Los_Angeles"
    assert rows[("M2002RXA", "global")].release_date is None, "TBA stays unknown"
    assert rows[("M2002RDA", "global")].colorway_id is not None
    assert rows[("M2002RDA", "global")].source_name == "Calendar"
    announced = [e for e in _events(engine) if e.kind == "release_announced"]
    assert sorted((e.data["style_code"], e.data["region"]) for e in announced) == sorted(
        k for k, r in rows.items() if r.release_date is not None
    )
    one = next(e for e in announced if e.data["region"] == "UK")
    assert one.data["release_date"] == "2024-03-22" and one.data["shop"] == "Calendar"
    assert one.data["price"] == "130" and one.data["currency"] == "GBP"
    assert one.data["url"] == "https://news.example/2024/03/nb-2002r-phantom/"
    assert "M2002RDB" not in one.message or "Phantom" in one.message

    # Nothing changed: no events, no history.
    clock.now = NOW.replace(hour=13)
    again = _check(config, engine, clock)
    assert again.events == 0
    with Session(engine) as session:
        history = session.exec(select(ReleaseChange)).all()
        assert len(history) == 5

    # The box page moves Rain Cloud later and gives GORE-TEX a date, and says TBA for Phantom UK.
    moved = (
        boxes.replace("March 15, 2024", "March 29, 2024")
        .replace('<span class="release-date">TBA</span>', '<span class="release-date">May 2, 2024</span>')
        .replace("03/22/2024", "TBA")
    )
    pages.set("/release-dates/", moved)
    clock.now = NOW.replace(day=2)
    third = _check(config, engine, clock)
    assert third.status == "ok"
    new = [e for e in _events(engine) if e.created_at == clock.now]
    kinds = sorted((e.kind, e.data["style_code"]) for e in new)
    assert kinds == [("release_announced", "M2002RXA"), ("release_changed", "M2002RDA")]
    change = next(e for e in new if e.kind == "release_changed")
    assert change.data["direction"] == "later"
    assert (change.data["old_release_date"], change.data["release_date"]) == ("2024-03-15", "2024-03-29")
    rows = _releases(engine)
    assert rows[("M2002RDB", "UK")].release_date == date(2024, 3, 22), "TBA never replaces a known date"
    with Session(engine) as session:
        rain = rows[("M2002RDA", "global")]
        dates = session.exec(
            select(ReleaseChange.old_date, ReleaseChange.new_date)
            .where(ReleaseChange.release_id == rain.id)
            .order_by(col(ReleaseChange.id))
        ).all()
        assert [tuple(d) for d in dates] == [
            (None, date(2024, 3, 15)),
            (date(2024, 3, 15), date(2024, 3, 29)),
        ]
        runs = session.exec(select(CheckRun).order_by(col(CheckRun.id))).all()
        assert [r.status for r in runs] == ["ok", "ok", "ok"]
        assert runs[-1].events_created == 2


def test_a_failing_calendar_is_recorded_not_raised(pages: PageServer, tmp_path: Path) -> None:
    url = pages.set("/gone", "not here", status=404)
    db_url = f"sqlite:///{tmp_path}/t.db"
    config = _config([url], db_url)
    engine = make_engine(db_url)
    summary = _check(config, engine, Clock(NOW))
    assert summary.status not in ("ok", "partial")
    with Session(engine) as session:
        run = session.exec(select(CheckRun)).one()
        assert run.status == summary.status and run.finished_at is not None
        assert session.exec(select(Release)).all() == []


def test_past_releases_are_recorded_without_announcing(pages: PageServer, tmp_path: Path) -> None:
    url = pages.set("/article", (DATA / "article_no_year.html").read_bytes())
    db_url = f"sqlite:///{tmp_path}/t.db"
    config = _config([url], db_url)
    engine = make_engine(db_url)
    # On 1 March the 18 February date is history; 15 March is news.
    _check(config, engine, Clock(NOW))
    rows = _releases(engine)
    assert rows[("M2002RDB", "global")].release_date == date(2024, 2, 18)
    assert [(e.kind, e.data["style_code"]) for e in _events(engine)] == [("release_announced", "M2002RDC")]


def test_a_coming_soon_shopify_product_creates_a_release(pages: PageServer, tmp_path: Path) -> None:
    import json

    variants = [
        {
            "id": i,
            "title": size,
            "option1": size,
            "sku": f"M2002RDA-{i:03d}",
            "price": "150.00",
            "available": False,
        }
        for i, size in enumerate(["9", "9.5", "10"], start=90)
    ]
    product = {
        "id": 1,
        "title": 'New Balance 2002R Protection Pack "Rain Cloud"',
        "handle": "nb-2002r-m2002rda",
        "vendor": "New Balance",
        "tags": ["2002R", "release:2024-03-20"],
        "variants": variants,
        "options": [{"name": "Size", "values": ["9", "9.5", "10"]}],
        "published_at": "2024-02-01T10:00:00Z",
    }
    pages.set("/products.json", json.dumps({"products": [product]}), **{"Content-Type": "application/json"})
    db_url = f"sqlite:///{tmp_path}/t.db"
    text = f'database_url = "{db_url}"\n' + CATALOGUE
    text += f'\n[[sources]]\nname = "Shop"\nkind = "shopify"\nurl = "{pages.base}"\ncurrency = "USD"\n'
    config = parse_text(text)
    engine = make_engine(db_url)

    async def run() -> RunSummary:
        async with Fetcher(config.defaults) as fetcher:
            return await Pipeline(config, engine, fetcher, clock=Clock(NOW)).check("Shop")

    summary = asyncio.run(run())
    assert summary.status == "ok", summary
    rows = _releases(engine)
    assert rows[("M2002RDA", "global")].release_date == date(2024, 3, 20)
    assert rows[("M2002RDA", "global")].source_name == "Shop"
    assert [(e.kind, e.data["shop"]) for e in _events(engine)] == [("release_announced", "Shop")]


def test_a_brand_store_page_with_a_launch_date_creates_a_release(pages: PageServer, tmp_path: Path) -> None:
    page = """<html lang="en"><head><title>2002R Protection Pack Phantom</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
 "name": "New Balance 2002R Protection Pack Phantom", "sku": "M2002RDB", "releaseDate": "2024-03-22",
 "offers": {"@type": "Offer", "price": "150.00", "priceCurrency": "USD",
            "availability": "https://schema.org/PreOrder"}}</script></head>
<body><h1>2002R Protection Pack Phantom</h1><p class="price">$150.00</p><p>Coming soon</p></body></html>"""
    url = pages.set("/pd/m2002rdb.html", page)
    db_url = f"sqlite:///{tmp_path}/t.db"
    text = f'database_url = "{db_url}"\n' + CATALOGUE
    text += f'\n[[sources]]\nname = "Brand"\nkind = "page"\nurl = "{url}"\ncurrency = "USD"\n'
    config = parse_text(text)
    engine = make_engine(db_url)

    async def run() -> RunSummary:
        async with Fetcher(config.defaults) as fetcher:
            return await Pipeline(config, engine, fetcher, clock=Clock(NOW)).check("Brand")

    summary = asyncio.run(run())
    assert summary.status == "ok", summary
    rows = _releases(engine)
    assert rows[("M2002RDB", "global")].release_date == date(2024, 3, 22)
    assert rows[("M2002RDB", "global")].source_name == "Brand"
    assert [(e.kind, e.data["style_code"]) for e in _events(engine)] == [("release_announced", "M2002RDB")]


def test_two_sources_that_disagree_do_not_flip_the_date_back_and_forth(
    pages: PageServer, tmp_path: Path
) -> None:
    def page(day: str) -> str:
        return (
            '<html><head><script type="application/ld+json">{"@type": "Product", "name": '
            '"New Balance 2002R Protection Pack Phantom", "sku": "M2002RDB", "releaseDate": "'
            + day
            + '"}</script></head><body><h1>Phantom</h1></body></html>'
        )

    a = pages.set("/a", page("2024-03-15"))
    b = pages.set("/b", page("2024-03-29"))
    db_url = f"sqlite:///{tmp_path}/t.db"
    text = f'database_url = "{db_url}"\n' + CATALOGUE
    for name, url in (("Old blog", a), ("New blog", b)):
        text += f'\n[[sources]]\nname = "{name}"\nkind = "release_calendar"\nurl = "{url}"\n'
    config = parse_text(text)
    engine = make_engine(db_url)

    def check(name: str) -> None:
        async def run() -> RunSummary:
            async with Fetcher(config.defaults) as fetcher:
                return await Pipeline(config, engine, fetcher, clock=Clock(NOW)).check(name)

        assert asyncio.run(run()).status == "ok"

    def kinds() -> list[str]:
        return [e.kind for e in _events(engine)]

    check("Old blog")
    check("New blog")
    assert kinds() == ["release_announced", "release_changed"]
    for _ in range(3):  # the old blog keeps its stale date: no flip, no alert
        check("Old blog")
        check("New blog")
    assert kinds() == ["release_announced", "release_changed"]
    assert _releases(engine)[("M2002RDB", "global")].release_date == date(2024, 3, 29)
    # Real news from either source still moves it.
    pages.set("/a", page("2024-04-05"))
    check("Old blog")
    assert kinds() == ["release_announced", "release_changed", "release_changed"]
    assert _releases(engine)[("M2002RDB", "global")].release_date == date(2024, 4, 5)


@pytest.mark.parametrize(
    ("first_heard", "news"),
    [
        (datetime(2024, 2, 20, 9, 0, tzinfo=UTC), True),  # known well before the drop: going live is news
        (datetime(2024, 3, 14, 9, 0, tzinfo=UTC), True),  # learnt the day before: still news
        (datetime(2024, 3, 15, 12, 0, tzinfo=UTC), True),  # learnt on the day, hours after it opened
        (datetime(2024, 3, 25, 9, 0, tzinfo=UTC), False),  # learnt ten days after it dropped: history
    ],
    ids=["known-before", "learnt-the-day-before", "learnt-on-the-day", "learnt-after-it-dropped"],
)
def test_going_live_is_news_only_for_a_release_known_before_it_dropped(
    tmp_path: Path, first_heard: datetime, news: bool
) -> None:
    from db.models import Colorway, Listing, Observation, Source
    from tracker.releases.records import going_live

    config = parse_text(CATALOGUE)
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    now = datetime(2024, 3, 26, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        colorway = Colorway(style_code="M2002RDA", name="Protection Pack Rain Cloud")
        shop = Source(name="Kith", kind="page", url="https://kith.example")
        session.add_all([colorway, shop])
        session.flush()
        release = Release(
            style_code="M2002RDA",
            colorway_id=colorway.id,
            release_date=date(2024, 3, 15),
            updated_at=first_heard,
        )
        session.add(release)
        session.flush()
        assert release.id is not None and shop.id is not None
        session.add(ReleaseChange(release_id=release.id, changed_at=first_heard, new_date=date(2024, 3, 15)))
        listing = Listing(
            source_id=shop.id,
            colorway_id=colorway.id,
            style_code="M2002RDA",
            external_id="https://kith.example/p/rda",
            url="https://kith.example/p/rda",
            first_seen_at=now,
            last_checked_at=now,
        )
        session.add(listing)
        session.flush()
        assert listing.id is not None
        obs = Observation(
            listing_id=listing.id, observed_at=now, price=Decimal(150), currency="USD", availability="InStock"
        )
        session.add(obs)
        session.flush()
        listing.last_observation_id = obs.id
        session.add(listing)
        session.flush()
        events = going_live(session, config, now)
        assert [e.kind for e in events] == (["going_live"] if news else [])
        assert release.live, "marked live either way, so it is never announced later"
        assert going_live(session, config, now + timedelta(hours=1)) == []
    engine.dispose()
