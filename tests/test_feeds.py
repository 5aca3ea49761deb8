"""The dashboard server's calendar, feeds and JSON API, fetched over HTTP from the real server process:
valid iCalendar, Atom and JSON Feed, filters, 304 on a repeat, 401 without the password, inert markup."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import icalendar
import lxml.etree
import lxml.html
import pytest
from sqlmodel import Session, select

from dashboard.access import feed_token
from dashboard.serve import serve
from db.engine import make_engine
from db.models import Colorway, Event, InboxMessage, Listing, Release, Source
from tests.seed import seed, write_config

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "<img src=x onerror=alert(1)>[click](javascript:alert(1))"
PASSWORD = "correct horse 2002R"
ROUTES = [
    "/calendar.ics",
    "/feed.atom",
    "/feed.json",
    "/api/v1",
    "/api/v1/colorways",
    "/api/v1/colorways/M2002RDA",
    "/api/v1/colorways/M2002RDA/prices",
    "/api/v1/events",
    "/api/v1/releases",
    "/api/v1/inbox",
]


@dataclass(frozen=True)
class Site:
    base: str
    url: str  # the database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _extra_rows(url: str) -> None:
    """A restock with an image and a shop link, a hostile scraped title, and a timed release."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        kith = session.exec(select(Source).where(Source.name == "Kith")).one()
        rda = session.exec(select(Colorway).where(Colorway.style_code == "M2002RDA")).one()
        rdb = session.exec(select(Colorway).where(Colorway.style_code == "M2002RDB")).one()
        listing = session.exec(select(Listing).where(Listing.external_id == "rdb")).one()
        session.add(
            Event(
                created_at=now - timedelta(hours=2),
                kind="restock",
                source_id=kith.id,
                listing_id=listing.id,
                colorway_id=rdb.id,
                message="Protection Pack Phantom (M2002RDB) is back in stock at Kith: sizes 9",
                data={
                    "shop": "Kith",
                    "price": "119.99",
                    "currency": "USD",
                    "url": "https://kith.example/products/rdb",
                    "image": "https://img.example/rdb.png",
                    "sizes_in_stock": ["9"],
                },
            )
        )
        session.add(
            Event(
                created_at=now - timedelta(hours=1),
                kind="new_listing",
                source_id=kith.id,
                colorway_id=rda.id,
                message=f"New listing at Kith: {HOSTILE}",
                data={
                    "shop": "Kith",
                    "url": "javascript:alert(2)",
                    "image": "javascript:alert(3)",
                    "price": "150",
                    "currency": "USD",
                },
            )
        )
        session.add(
            Release(
                style_code="M2002RDQ",
                name="Protection Pack Ripstop Grey",
                region="US",
                release_date=(now + timedelta(days=3)).date(),
                release_at=(now + timedelta(days=3)).replace(microsecond=0),
                timezone="America/New_York",
                price=None,
            )
        )
        session.commit()
    engine.dispose()


def _start(tmp: Path, password: str | None) -> Iterator[Site]:
    url = f"sqlite:///{tmp / 'tracker.db'}"
    engine = make_engine(url)
    seed(engine)
    engine.dispose()
    _extra_rows(url)
    config = write_config(tmp / "config.toml", url)
    saved = os.environ.pop("TRACKER_DASHBOARD_PASSWORD", None)
    if password is not None:
        os.environ["TRACKER_DASHBOARD_PASSWORD"] = password
    try:
        port = _free_port()
        proc = serve(config, "127.0.0.1", port)
    finally:
        os.environ.pop("TRACKER_DASHBOARD_PASSWORD", None)
        if saved is not None:
            os.environ["TRACKER_DASHBOARD_PASSWORD"] = saved
    try:
        yield Site(f"http://127.0.0.1:{port}", url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _start(tmp_path_factory.mktemp("open"), None)


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _start(tmp_path_factory.mktemp("locked"), PASSWORD)


def get(site: Site, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(site.base + path, timeout=30, **kw)


def test_calendar_parses_back_and_repeats_cost_a_304(site: Site) -> None:
    r = get(site, "/calendar.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        "2002R release: Protection Pack Sea Salt",
        "2002R release: Protection Pack Ripstop Grey (US)",
    }
    timed = events["2002R release: Protection Pack Ripstop Grey (US)"]
    assert str(timed["dtstart"].dt.tzinfo) == "America/New_York"
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    again = get(site, "/calendar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    since = get(site, "/calendar.ics", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    older = parsedate_to_datetime(modified) - timedelta(seconds=1)
    assert (
        get(
            site, "/calendar.ics", headers={"If-Modified-Since": older.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        ).status_code
        == 200
    )
    assert get(site, "/calendar.ics", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_atom_is_valid_newest_first_with_image_price_against_list_and_link(site: Site) -> None:
    r = get(site, "/feed.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    # Atom's required elements, read with lxml straight from the document.
    root = lxml.etree.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    for node in [root, *root.findall(f"{ATOM}entry")]:
        for child in ("id", "title", "updated"):
            assert node.find(f"{ATOM}{child}") is not None, (node.tag, child)
    published = [e.published_parsed for e in parsed.entries]
    assert published == sorted(published, reverse=True) and len(published) == 5
    restock = next(e for e in parsed.entries if e.title.startswith("Protection Pack Phantom"))
    assert restock.link == "https://kith.example/products/rdb"
    assert [link.href for link in restock.links if link.rel == "enclosure"] == ["https://img.example/rdb.png"]
    html = restock.content[0].value
    assert "$119.99 ($30.01 below list $150.00, 20.0%)" in html
    assert (
        'src="https://img.example/rdb.png"' in html
        and 'href="https://kith.example/products/rdb"' in html
    )
    assert {t.term for t in restock.tags} == {"restock", "M2002RDB"}


def test_feed_filters(site: Site) -> None:
    only = feedparser.parse(get(site, "/feed.atom?colorway=M2002RDA&kind=price_drop").content)
    assert [e.title for e in only.entries] == ["Rain Cloud at Kith: $135 -> $120"]
    assert only.feed.title == "2002R tracker: M2002RDA, price_drop"
    two = get(site, "/feed.json?kind=restock,sold_out").json()
    assert [i["_2002r"]["kind"] for i in two["items"]] == ["restock", "sold_out"]
    assert len(get(site, "/feed.json?limit=2").json()["items"]) == 2
    missing = get(site, "/feed.atom?colorway=M2002RXX")
    assert missing.status_code == 404 and "M2002RXX" in missing.json()["error"]
    assert get(site, "/feed.json?limit=0").status_code == 400


def test_json_feed_has_the_keys_readers_need(site: Site) -> None:
    r = get(site, "/feed.json")
    assert r.headers["content-type"].startswith("application/feed+json")
    feed = r.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["home_page_url"] == site.base + "/"
    assert feed["feed_url"] == site.base + "/feed.json"
    items = feed["items"]
    dates = [datetime.fromisoformat(i["date_published"]) for i in items]
    assert dates == sorted(dates, reverse=True)
    for item in items:
        assert item["id"] and (item.get("content_html") or item.get("content_text"))
    restock = next(i for i in items if i["_2002r"]["kind"] == "restock")
    assert (
        restock["url"] == "https://kith.example/products/rdb"
        and restock["image"] == "https://img.example/rdb.png"
    )
    assert restock["_2002r"] == {
        "event_id": restock["_2002r"]["event_id"],
        "kind": "restock",
        "style_code": "M2002RDB",
        "colorway": "Protection Pack Phantom",
        "shop": "Kith",
        "price": "119.99",
        "currency": "USD",
        "list_price": "150",
        "difference_from_list": "-30.01",
    }
    etag = r.headers["etag"]
    assert get(site, "/feed.json", headers={"If-None-Match": etag}).status_code == 304


def _inert(html: str) -> None:
    doc = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in doc.iter():
        assert not any(name.lower().startswith("on") for name in element.attrib), lxml.html.tostring(element)
        for attr in ("href", "src"):
            assert not element.get(attr, "").lower().startswith("javascript"), element.get(attr)
    assert HOSTILE in doc.text_content()


def test_scraped_markup_stays_text(site: Site) -> None:
    atom = get(site, "/feed.atom").content
    parsed = feedparser.parse(atom)
    hostile = next(e for e in parsed.entries if "onerror" in e.title)
    assert hostile.title == f"New listing at Kith: {HOSTILE}"
    assert hostile.title_detail.type == "text/plain"
    # The raw document: the title is escaped text, the content escaped HTML with no live markup.
    entry = next(
        e
        for e in lxml.etree.fromstring(atom).findall(f"{ATOM}entry")
        if "onerror" in e.findtext(f"{ATOM}title")
    )
    assert entry.find(f"{ATOM}title").get("type", "text") == "text"
    _inert(entry.findtext(f"{ATOM}content"))
    assert not [link for link in entry.findall(f"{ATOM}link") if "javascript" in link.get("href", "")]
    item = next(i for i in get(site, "/feed.json").json()["items"] if "onerror" in i["title"])
    _inert(item["content_html"])
    # The javascript: link is dropped; the image falls back to the colorway's own.
    assert "url" not in item and item["image"] == "https://img.example/rda.jpg"
    events = get(site, "/api/v1/events?kind=new_listing").json()["events"]
    assert events[0]["url"] is None and events[0]["image"] is None


def test_api_colorways_and_one_colorway(site: Site) -> None:
    everything = get(site, "/api/v1/colorways").json()["colorways"]
    assert {c["style_code"] for c in everything} == {"M2002RDA", "M2002RDB", "M2002RDC", "M2002RHO"}
    watched = get(site, "/api/v1/colorways?watched=true").json()["colorways"]
    assert {c["style_code"] for c in watched} == {"M2002RDA", "M2002RDB", "M2002RDC"}
    rda = next(c for c in watched if c["style_code"] == "M2002RDA")
    assert (
        rda["best"]["price"] == "120" and rda["best"]["shop"] == "Kith" and rda["best"]["currency"] == "USD"
    )
    assert rda["difference_from_list"] == "-30" and rda["difference_percent"] == "-20.0"
    assert rda["in_stock"] is True and rda["my_sizes_in_stock"] == ["9"]
    one = get(site, "/api/v1/colorways/m2002rda").json()
    assert one["style_code"] == "M2002RDA"
    assert {(o["shop"], o["price"], o["availability"]) for o in one["offers"]} >= {
        ("Kith", "120", "InStock"),
        ("Concepts", "99", "InStock"),
    }
    assert next(o for o in one["offers"] if o["shop"] == "Concepts")["suspect"] is True
    missing = get(site, "/api/v1/colorways/M2002RXX")
    assert missing.status_code == 404 and missing.json() == {
        "error": "no colorway with style code 'M2002RXX'"
    }


def test_api_price_history(site: Site) -> None:
    month = get(site, "/api/v1/colorways/M2002RDA/prices").json()
    kith = [(p["price"], p["availability"]) for p in month["points"] if p["shop"] == "Kith"]
    assert kith == [("150", "InStock"), ("135", "InStock"), ("120", "InStock")]
    stats = month["stats"]["USD"]
    assert (stats["lowest"], stats["lowest_shop"], stats["list_price"]) == ("120", "Kith", "150")
    recent = get(
        site,
        "/api/v1/colorways/M2002RDA/prices",
        params={"since": (datetime.now(UTC) - timedelta(days=7)).isoformat()},
    ).json()
    assert [p["price"] for p in recent["points"] if p["shop"] == "Kith"] == ["135", "120"]
    bad = get(site, "/api/v1/colorways/M2002RDA/prices?since=last-tuesday")
    assert bad.status_code == 400 and bad.json()["error"].startswith(
        "since: 'last-tuesday' is not an ISO 8601 time"
    )


def test_api_inbox_says_when_a_message_arrives_or_is_read(site: Site) -> None:
    """What an open dashboard page asks every second: a 304 while nothing changed, the new
    count and newest id as soon as a message is stored or read."""
    first = get(site, "/api/v1/inbox")
    assert first.json() == {"unread": 0, "newest_id": 0}
    assert get(site, "/api/v1/inbox", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    engine = make_engine(site.url)
    try:
        with Session(engine) as session:
            for n in (1, 2):
                session.add(
                    InboxMessage(key=f"test:{n}", channel="inbox", kind="restock", title="t", body="b")
                )
            session.commit()
            newest = max(m.id or 0 for m in session.exec(select(InboxMessage)).all())
        arrived = get(site, "/api/v1/inbox", headers={"If-None-Match": first.headers["etag"]})
        assert arrived.status_code == 200 and arrived.json() == {"unread": 2, "newest_id": newest}
        assert arrived.headers["etag"] != first.headers["etag"]
        same = get(site, "/api/v1/inbox", headers={"If-None-Match": arrived.headers["etag"]})
        assert same.status_code == 304
        with Session(engine) as session:
            message = session.exec(select(InboxMessage).where(InboxMessage.key == "test:1")).one()
            message.read_at = datetime.now(UTC)
            session.add(message)
            session.commit()
        read = get(site, "/api/v1/inbox", headers={"If-None-Match": arrived.headers["etag"]})
        assert read.status_code == 200 and read.json() == {"unread": 1, "newest_id": newest}
        assert "/api/v1/inbox" in get(site, "/api/v1").json()["endpoints"]
    finally:
        with Session(engine) as session:
            for message in session.exec(select(InboxMessage)).all():
                session.delete(message)
            session.commit()
        engine.dispose()


def test_api_events_since_a_time_with_a_cursor(site: Site) -> None:
    first = get(site, "/api/v1/events?limit=2").json()
    assert [e["kind"] for e in first["events"]] == ["price_drop", "sold_out"]
    assert first["next"]["more"] is True
    rest = get(site, f"/api/v1/events?after_id={first['next']['after_id']}&limit=100").json()
    assert [e["kind"] for e in rest["events"]] == ["source_broken", "restock", "new_listing"]
    assert rest["next"] == {"after_id": rest["events"][-1]["id"], "more": False}
    since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    recent = get(site, "/api/v1/events", params={"since": since}).json()["events"]
    assert [e["kind"] for e in recent] == ["restock", "new_listing"]
    assert recent[0]["price"] == "119.99" and recent[0]["url"] == "https://kith.example/products/rdb"
    only = get(site, "/api/v1/events?colorway=M2002RDA&kind=price_drop").json()["events"]
    assert [e["message"] for e in only] == ["Rain Cloud at Kith: $135 -> $120"]


def test_api_releases(site: Site) -> None:
    releases = get(site, "/api/v1/releases").json()["releases"]
    by_code = {r["style_code"]: r for r in releases}
    assert by_code["M2002RDC"]["upcoming"] is True and by_code["M2002RDC"]["source"] == "Sneaker News"
    assert by_code["M2002RDB"]["upcoming"] is False  # the config's date, 400 days ago
    assert by_code["M2002RDQ"]["time"] is not None and by_code["M2002RDQ"]["region"] == "US"


def test_a_change_in_the_database_changes_the_etag(site: Site) -> None:
    first = get(site, "/feed.atom?kind=sold_out")
    etag = first.headers["etag"]
    assert get(site, "/feed.atom?kind=sold_out", headers={"If-None-Match": etag}).status_code == 304
    engine = make_engine(site.url)
    with Session(engine) as session:
        session.add(Event(kind="sold_out", message="Phantom sold out at Kith", data={"shop": "Kith"}))
        session.commit()
    engine.dispose()
    changed = get(site, "/feed.atom?kind=sold_out", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert feedparser.parse(changed.content).entries[0].title == "Phantom sold out at Kith"


def _basic(password: str, user: str = "me") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", ROUTES)
def test_password_gates_every_route(locked: Site, path: str) -> None:
    refused = get(locked, path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="2002R tracker"')
    assert "Rain Cloud" not in refused.text and "M2002RDA" not in refused.text
    assert get(locked, path, headers=_basic("wrong")).status_code == 401
    assert get(locked, path, params={"token": feed_token("wrong")}).status_code == 401
    assert get(locked, path, params={"token": PASSWORD}).status_code == 401  # the password is not the token
    ok = get(locked, path, headers=_basic(PASSWORD))
    assert ok.status_code == 200
    by_token = get(locked, path, params={"token": feed_token(PASSWORD)})
    assert by_token.status_code == 200
    # The token is not part of what is cached: the same answer, the same ETag.
    assert by_token.headers["etag"] == ok.headers["etag"]
    assert (
        get(locked, path, headers={**_basic(PASSWORD), "If-None-Match": ok.headers["etag"]}).status_code
        == 304
    )
    # Without the password, a known ETag reveals nothing either.
    assert get(locked, path, headers={"If-None-Match": ok.headers["etag"]}).status_code == 401


def test_the_chart_script_is_served_without_the_password_and_kept_by_its_version(locked: Site) -> None:
    from dashboard import charts

    body, version = charts.script()
    # Code, no data: it loads before a signed-in page's chart can be drawn, with no token to give.
    r = get(locked, "/assets/pricechart.js", params={"v": version})
    assert r.status_code == 200 and r.content == body
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "Rain Cloud" not in r.text and "M2002RDA" not in r.text
    again = get(locked, "/assets/pricechart.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    # Asked for with an older version, it is the current file, and not kept: the next ask checks again.
    old = get(locked, "/assets/pricechart.js", params={"v": "0123456789ab"})
    assert old.content == body and old.headers["cache-control"] == "no-cache"
    # The page asks for exactly this version.
    assert f"assets/pricechart.js?v={version}" in charts.chart_html(
        {"height": 340, "lowest": {}, "shops": []}
    )


def test_the_pages_still_answer_beside_the_routes(site: Site) -> None:
    assert get(site, "/_stcore/health").text.strip() == "ok"
    page = get(site, "/")
    assert page.status_code == 200 and '<div id="root">' in page.text
