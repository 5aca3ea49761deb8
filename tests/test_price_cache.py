"""The dashboard's price reads keep rows, lines and sizes in memory between calls: a new price, a
suspect price confirmed later or a transaction committed after a higher id is served on the next
read; a line cut from memory is the line computed afresh; the crosshair keeps every change of the
lowest line. On a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import charts
from db import pricerows, queries
from db.engine import make_engine
from db.models import Colorway, Listing, Observation, Source
from tests.seed import EXPECTED, Seeded, fresh_engine, seed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINE = ("9", "10")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated database: a SQLite file, or a new PostgreSQL database."""
    with fresh_engine(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    return seed(engine, NOW)


def _write(
    engine: Engine,
    listing: int,
    at: datetime,
    price: str,
    *,
    suspect: bool = False,
    oid: int | None = None,
    latest: bool = True,
) -> int:
    """One observation as a check writes it (sizes 9 and 10 in stock), the listing's latest with it
    in the same transaction unless latest is False; oid: its id, chosen."""
    sizes = [{"size": z, "availability": "InStock", "price": price} for z in MINE]
    with Session(engine) as s:
        obs = Observation(
            id=oid,
            listing_id=listing,
            observed_at=at,
            price=Decimal(price),
            currency="USD",
            availability="InStock",
            sizes=sizes,
            suspect=suspect,
        )
        s.add(obs)
        s.flush()
        assert obs.id is not None
        if latest:
            row = s.get(Listing, listing)
            assert row is not None
            row.last_observation_id = obs.id
        s.commit()
        return obs.id


def _now_prices(engine: Engine, seeded: Seeded) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(the overview's cheapest in any size, its sparkline's last price, the chart's lowest now in my
    sizes) for Rain Cloud."""
    row = next(r for r in queries.overview(engine, NOW) if r.colorway.id == seeded.rain_cloud)
    lines = queries.price_lines(
        engine,
        seeded.rain_cloud,
        NOW - timedelta(days=30),
        NOW,
        preferred=("USD",),
        sizes=queries.SizeMatcher(MINE),
    )
    return (row.best.price if row.best else None, row.sparkline[-1].price, lines.stats.current)


def test_a_new_price_is_served_on_the_next_read(engine: Engine, seeded: Seeded) -> None:
    before = queries.change_stamp(engine).token
    assert _now_prices(engine, seeded) == (EXPECTED["rda_best"], EXPECTED["rda_best"], EXPECTED["rda_best"])
    assert _now_prices(engine, seeded) == (Decimal(120), Decimal(120), Decimal(120))  # from memory
    _write(engine, seeded.concepts_rda, NOW - timedelta(hours=1), "110")
    assert _now_prices(engine, seeded) == (Decimal(110), Decimal(110), Decimal(110))
    assert queries.change_stamp(engine).token != before
    # The same through the points the digest and the API read.
    points = queries.price_points(engine, [seeded.rain_cloud], NOW - timedelta(days=30))
    assert queries.step_stats(queries.price_steps(points, "USD", None, NOW), "USD", NOW).current == 110


def test_a_suspect_price_confirmed_later_is_served(engine: Engine, seeded: Seeded) -> None:
    # Concepts' $99 (no sizes listed) is held as suspect: not the best price, not on the sparkline.
    assert _now_prices(engine, seeded)[:2] == (Decimal(120), Decimal(120))
    before = queries.change_stamp(engine).token
    # The next check sees it again and confirms it: only its flag changes, no row is written.
    with engine.begin() as conn:
        conn.execute(
            sa.update(Observation.__table__)  # type: ignore[attr-defined]
            .where(Observation.__table__.c.price == Decimal(99))  # type: ignore[attr-defined]
            .values(suspect=False)
        )
    assert _now_prices(engine, seeded)[:2] == (Decimal(99), Decimal(99))
    assert queries.change_stamp(engine).token != before


def test_a_transaction_committed_after_a_higher_id_is_read(engine: Engine, seeded: Seeded) -> None:
    # On PostgreSQL two workers' transactions commit in either order: an id lower than one already
    # read can appear later. The check writes the listing's latest observation with it.
    assert _now_prices(engine, seeded)[2] == Decimal(120)
    with engine.connect() as conn:
        top = int(conn.execute(sa.select(sa.func.max(Observation.__table__.c.id))).scalar_one())  # type: ignore[attr-defined]
    _write(engine, seeded.kith_rda, NOW - timedelta(hours=2), "119", oid=top + 100)
    before = queries.change_stamp(engine).token
    assert _now_prices(engine, seeded) == (Decimal(119), Decimal(119), Decimal(119))
    # Earlier than the newest row too: only the listing's latest observation says it is there.
    _write(engine, seeded.concepts_rda, NOW - timedelta(hours=3), "105", oid=top + 50)
    assert _now_prices(engine, seeded) == (Decimal(105), Decimal(105), Decimal(105))
    assert queries.change_stamp(engine).token != before


def test_a_row_written_without_its_listing_is_read_when_its_id_is_new(engine: Engine, seeded: Seeded) -> None:
    # A writer that does not keep the listing's latest observation (an import): a new highest id, at a
    # time before the newest row's (another listing's, a day ago).
    assert _now_prices(engine, seeded)[0] == Decimal(120)
    _write(engine, seeded.kith_rda, NOW - timedelta(days=1, hours=1), "111", latest=False)
    assert _now_prices(engine, seeded) == (Decimal(111), Decimal(111), Decimal(111))


def _random_history(engine: Engine, rnd: random.Random, days: int = 120) -> int:
    """One colorway at four shops (one listing twice), prices moving every few hours, some sold out,
    some suspect, some in another currency."""
    with Session(engine) as s:
        cw = Colorway(
            style_code="M2002RXX", name="Random", line="2002R", list_prices={"USD": "130"}, sizes=list(MINE)
        )
        s.add(cw)
        shops = [Source(name=f"Shop {i}", kind="shopify", url=f"https://s{i}.example/") for i in range(4)]
        s.add_all(shops)
        s.flush()
        listings = [
            Listing(source_id=shops[i % 4].id, colorway_id=cw.id, external_id=f"x{i}", url=f"https://s{i}/x")
            for i in range(5)
        ]
        s.add_all(listings)
        s.flush()
        for lst in listings:
            moment = NOW - timedelta(days=days)
            while moment < NOW:
                sold_out = rnd.random() < 0.2
                price = Decimal(rnd.choice([95, 105, 110, 120, 130, 150]))
                sizes = [
                    {
                        "size": z,
                        "availability": "InStock" if rnd.random() < 0.6 else "OutOfStock",
                        "price": str(price),
                    }
                    for z in ("8", "9", "10", "11")
                ]
                s.add(
                    Observation(
                        listing_id=lst.id,
                        observed_at=moment,
                        price=price,
                        currency="EUR" if rnd.random() < 0.05 else "USD",
                        availability="OutOfStock" if sold_out else "InStock",
                        sizes=sizes,
                        suspect=rnd.random() < 0.05,
                    )
                )
                moment += timedelta(hours=rnd.uniform(2, 40))
        s.commit()
        assert cw.id is not None
        return cw.id


def _afresh(
    engine: Engine, colorway: int, since: datetime | None, until: datetime
) -> tuple[list[queries.Step], dict[str, list[queries.Step]]]:
    """The chart's lines from the rows as stored, through PricePoints and price_steps: no memory."""
    with Session(engine) as s:
        rows = s.exec(
            select(Observation, Listing, Source)
            .join(Listing, Listing.id == Observation.listing_id)  # type: ignore[arg-type]
            .join(Source, Source.id == Listing.source_id)  # type: ignore[arg-type]
            .where(Listing.colorway_id == colorway)
        ).all()
        points = [
            queries.PricePoint(
                o.listing_id,
                colorway,
                src.name,
                o.observed_at,
                o.price,
                o.currency,
                o.availability,
                o.suspect,
                tuple(o.sizes),
                o.id or 0,
            )
            for o, _, src in rows
        ]
    # What the range shows: each listing's rows from since on, with the one it held then.
    kept = []
    for lid in {p.listing_id for p in points}:
        own = sorted(
            (p for p in points if p.listing_id == lid), key=lambda p: (p.observed_at, p.observation_id)
        )
        before = [p for p in own if since is not None and p.observed_at < since]
        kept += before[-1:] + [p for p in own if since is None or p.observed_at >= since]
    first = min(p.observed_at for p in kept)
    start = max(since, first) if since else first
    lowest = queries.price_steps(kept, "USD", start, until, queries.SizeMatcher(MINE))
    return lowest, queries.shop_steps(kept, "USD", start, until)


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_lines_from_memory_are_the_lines_computed_afresh(engine: Engine, seed_value: int) -> None:
    rnd = random.Random(seed_value)
    colorway = _random_history(engine, rnd)
    for round_ in range(3):
        for days in (7, 30, 90, None):
            until = NOW - timedelta(hours=rnd.uniform(0, 30))
            since = None if days is None else until - timedelta(days=days, hours=rnd.uniform(0, 5))
            for _ in range(2):  # the second time from memory
                got = queries.price_lines(
                    engine, colorway, since, until, preferred=("USD",), sizes=queries.SizeMatcher(MINE)
                )
                lowest, shops = _afresh(engine, colorway, since, until)
                assert got.lowest == lowest, (round_, days)
                assert got.shops == shops, (round_, days)
                # Every low and high of the lowest line is there, where and when it was.
                stats = queries.step_stats(lowest, "USD", until)
                assert (got.stats.lowest, got.stats.lowest_at, got.stats.highest, got.stats.highest_at) == (
                    stats.lowest,
                    stats.lowest_at,
                    stats.highest,
                    stats.highest_at,
                )
        # New prices between rounds: the lines move with them.
        with Session(engine) as s:
            lst = s.exec(select(Listing).where(Listing.colorway_id == colorway)).first()
            assert lst is not None and lst.id is not None
            lid = lst.id
        _write(engine, lid, NOW - timedelta(hours=rnd.uniform(0, 20)), rnd.choice(["90", "101", "160"]))


def test_lines_cut_from_an_earlier_start_are_the_lines_from_that_start() -> None:
    # The arithmetic under the cached lines: computed once from the day's anchor to any time, then cut
    # to each range, they are what price_steps gives from the range's start.
    rnd = random.Random(7)
    for _ in range(200):
        anchor = NOW - timedelta(days=3)
        moves: list[queries.Move] = []
        for lid in range(rnd.randint(1, 4)):
            at = anchor - timedelta(hours=rnd.uniform(0, 30))
            while at < NOW + timedelta(hours=5):
                value = None if rnd.random() < 0.25 else Decimal(rnd.choice([100, 110, 120]))
                moves.append((at, lid, value, f"S{lid}", value is None and rnd.random() < 0.5))
                at += timedelta(hours=rnd.choice([0, 1, 3, 7]))  # 0: two rows at one moment
        moves.sort(key=lambda m: (m[0], m[1]))
        since = anchor + timedelta(hours=rnd.choice([0, 0.5, 7, 30]))
        until = NOW - timedelta(hours=rnd.choice([0, 2]))
        spanned = _from(moves, anchor)
        cut = queries._clip(queries._steps(spanned, anchor, queries._FOREVER), since, until)
        assert cut == queries._steps(_from(moves, since), since, until)


def _from(moves: list[queries.Move], since: datetime) -> list[queries.Move]:
    """The moves a range from since reads: each listing's last before since, then every later one."""
    held: dict[int, queries.Move] = {}
    for move in moves:
        if move[0] < since:
            held[move[1]] = move
    out = sorted(held.values(), key=lambda m: (m[0], m[1])) + [m for m in moves if m[0] >= since]
    return sorted(out, key=lambda m: (m[0], m[1]))


def test_a_year_of_25_shops_is_drawn_whole_on_the_wall_clock() -> None:
    # A year of 25 shops changing every few hours: every step of every line goes to the browser (the
    # crosshair finds its stops there), times as minutes on the collector's clock, texts written once.
    rnd = random.Random(3)
    since, until = NOW - timedelta(days=365), NOW
    shops: dict[str, list[queries.Step]] = {}
    for i in range(25):
        steps, at = [], since
        while at < until:
            end = min(until, at + timedelta(hours=rnd.uniform(1, 30)))
            steps.append(queries.Step(at, end, Decimal(rnd.randint(90, 160)), f"Shop {i:02d}"))
            at = end
        shops[f"Shop {i:02d}"] = steps
    lowest, at = [], since
    while at < until:
        end = min(until, at + timedelta(hours=rnd.uniform(5, 60)))
        lowest.append(queries.Step(at, end, Decimal(rnd.randint(80, 120)), "Shop 00"))
        at = end
    stats = queries.step_stats(lowest, "USD", until)
    paris = ZoneInfo("Europe/Paris")
    chart = charts.PriceChart(
        currency="USD",
        tz=paris,
        since=since,
        until=until,
        lowest=lowest,
        shops=shops,
        all_shops=list(shops),
        stats=stats,
    )
    data = charts.chart_data(chart)

    def wall(moment: datetime) -> int:  # minutes after the range's start on the Paris wall clock
        local = moment.astimezone(paris).replace(tzinfo=None)
        return int((local - since.astimezone(paris).replace(tzinfo=None)).total_seconds() // 60)

    drawn = {line["name"]: line["steps"] for line in data["shops"]}
    assert list(drawn) == list(shops)
    for name, steps in shops.items():
        assert [(s[0], s[1], s[2]) for s in drawn[name]] == [
            (wall(s.start), wall(s.end), float(s.price)) for s in steps
        ]
    assert [data["texts"][s[3]] for s in data["lowest"]["steps"]] == [
        f"${s.price}.00 at Shop 00" for s in lowest
    ]
    assert len(data["texts"]) < 200  # prices repeat: each text is written once
    assert data["span"] == wall(until)
    # A year in Paris changes zone twice; the tooltip names the zone from the minute it changed.
    changes = [z for z in data["zones"] if z[0] > 0]
    assert [z[1] for z in changes] in (["CEST", "CET"], ["CET", "CEST"])
    hour = since.replace(minute=0, second=0, microsecond=0)
    expected = []
    while hour < until:
        after = hour + timedelta(hours=1)
        if after.astimezone(paris).tzname() != hour.astimezone(paris).tzname():
            expected.append([wall(after), after.astimezone(paris).tzname()])
        hour = after
    assert changes == expected
    assert [m["at"] for m in data["markers"]] == [wall(stats.lowest_at), wall(stats.highest_at)]


def test_memory_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricerows, "MAX_ROWS", 5)
    eng = make_engine(f"sqlite:///{tmp_path / 'small.db'}")
    found = seed(eng, NOW)
    for _ in range(2):
        queries.price_lines(
            eng, found.rain_cloud, NOW - timedelta(days=30), NOW, sizes=queries.SizeMatcher(MINE)
        )
    seen = pricerows._DATABASES[str(eng.url)]
    assert seen.size <= 5
    eng.dispose()
