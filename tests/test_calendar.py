"""The .ics feed parses back with the icalendar package and its events equal the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import icalendar
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import Listing, Release, ReleaseChange, Source
from tracker.calendar import build_ics, release_uid
from tracker.cli import main
from tracker.config import parse_text

CONFIG = """
database_url = "{db}"
timezone = "Europe/London"

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "M2002RDA"
list_price = {{ USD = 150 }}

[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = {{ USD = 150 }}

[[sources]]
name = "Boutique"
kind = "shopify"
url = "https://boutique.example"
"""

STAMP = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def _seed(tmp_path: Path) -> tuple[Path, str]:
    db = f"sqlite:///{tmp_path}/t.db"
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=db), encoding="utf-8")
    engine = make_engine(db)
    config = parse_text(path.read_text(encoding="utf-8"))
    from db import store

    with Session(engine) as session, session.begin():
        store.sync_catalogue(session, config.colorways, config.sources)
        shop = session.exec(select(Source)).one()
        assert shop.id is not None
        session.add(
            Listing(
                source_id=shop.id,
                external_id="a",
                url="https://boutique.example/products/rda",
                style_code="M2002RDA",
            )
        )
        all_day = Release(
            style_code="M2002RDA",
            name="Protection Pack Rain Cloud",
            region="global",
            release_date=date(2024, 3, 15),
            price=Decimal("150"),
            currency="USD",
            source_name="Calendar",
            url="https://calendar.example/rda",
            updated_at=STAMP,
        )
        timed = Release(
            style_code="M2002RDB",
            name="Protection Pack Phantom",
            region="US",
            release_date=date(2024, 3, 22),
            release_at=datetime(2024, 3, 22, 14, 0, tzinfo=UTC),
            timezone="America/New_York",
            source_name="Calendar",
            updated_at=STAMP,
        )
        utc_only = Release(
            style_code="M2002RDC",
            name="Sea Salt",
            region="Japan / Tokyo",
            release_date=date(2024, 4, 5),
            release_at=datetime(2024, 4, 5, 0, 0, tzinfo=UTC),
            updated_at=STAMP,
        )
        tbc = Release(style_code="M2002RXA", name="GORE-TEX", region="global", updated_at=STAMP)
        session.add_all([all_day, timed, utc_only, tbc])
        session.flush()
        assert timed.id is not None
        session.add_all(
            [
                ReleaseChange(
                    release_id=timed.id, old_date=None, new_date=date(2024, 3, 29), changed_at=STAMP
                ),
                ReleaseChange(
                    release_id=timed.id,
                    old_date=date(2024, 3, 29),
                    new_date=date(2024, 3, 22),
                    changed_at=STAMP,
                ),
            ]
        )
    return path, db


def test_ics_events_equal_the_database(tmp_path: Path) -> None:
    path, db = _seed(tmp_path)
    config = parse_text(path.read_text(encoding="utf-8"))
    engine = make_engine(db)
    data = build_ics(engine, config)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["version"]) == "2.0" and cal["prodid"]
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    with Session(engine) as session:
        rows = session.exec(select(Release)).all()
    dated = [r for r in rows if r.release_date is not None]
    assert set(events) == {release_uid(r.style_code, r.region) for r in dated}, "TBC has no event"
    for row in dated:
        event = events[release_uid(row.style_code, row.region)]
        assert event.decoded("dtstamp") == row.updated_at
        start = event.decoded("dtstart")
        if row.release_at is None:
            # All-day: a DATE, not a DATE-TIME, ending the next day.
            assert type(start) is date and start == row.release_date
            assert event.decoded("dtend") == row.release_date + timedelta(days=1)
        else:
            assert isinstance(start, datetime) and start == row.release_at
            zone = event["dtstart"].params.get("TZID")
            assert zone == row.timezone if row.timezone else start.utcoffset() == timedelta(0)
    rain = events[release_uid("M2002RDA", "global")]
    description = str(rain["description"])
    assert "List price: 150 USD" in description
    assert "Boutique: https://boutique.example/products/rda" in description
    assert str(rain["url"]) == "https://calendar.example/rda"
    assert "Protection Pack Rain Cloud" in str(rain["summary"])
    phantom = events[release_uid("M2002RDB", "US")]
    assert int(phantom["sequence"]) == 1, "a moved date is a new revision"
    assert "List price: 150 USD" in str(phantom["description"]), "from the catalogue when the page gave none"
    # Clients need the zone's definition to place a TZID time.
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert b"TZID=America/New_York:20240322T100000" in data


def test_uids_are_stable_per_style_code_and_region() -> None:
    assert release_uid("M2002RDA", "global") == release_uid("M2002RDA", "global")
    assert release_uid("M2002RDA", "US") != release_uid("M2002RDA", "global")
    assert release_uid("M2002RDC", "Japan / Tokyo") == "m2002rdc-japan-tokyo@2002r-tracker"


def test_cli_writes_the_feed(tmp_path: Path) -> None:
    path, _ = _seed(tmp_path)
    out = tmp_path / "releases.ics"
    assert main(["--config", str(path), "calendar", "--ics", str(out)]) == 0
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    assert len(cal.walk("VEVENT")) == 3
