"""db.queries on a seeded SQLite file and on PostgreSQL: the numbers the dashboard shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from db import queries
from db.engine import make_engine
from tests.seed import EXPECTED, Seeded, fresh_engine, seed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated database: a SQLite file, or a new PostgreSQL database."""
    with fresh_engine(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    return seed(engine, NOW)


def test_empty_database_reads_return_nothing(engine: Engine) -> None:
    assert queries.colorways(engine) == []
    assert queries.overview(engine, NOW) == []
    assert queries.latest_offers(engine) == []
    assert queries.discovered_listings(engine) == []
    assert queries.events(engine) == []
    assert queries.deliveries(engine) == []
    assert queries.releases(engine) == []
    assert queries.source_health(engine, NOW) == []
    assert set(queries.table_counts(engine).values()) == {0}
    assert not queries.has_observations(engine)


def test_overview_answers_in_my_sizes_and_ignores_suspect_prices(engine: Engine, seeded: Seeded) -> None:
    rows = queries.overview(engine, NOW)
    # Best answers first: at or below target (Rain Cloud), then the rest, never-listed last.
    assert [r.colorway.style_code for r in rows] == ["M2002RDA", "M2002RDB", "M2002RDC"]
    rda, rdb, rdc = rows
    assert rda.mine is not None and rda.mine.price == EXPECTED["rda_best"]
    assert rda.mine.source_name == EXPECTED["rda_best_shop"] and rda.mine.sizes == ("9",)
    assert rda.best is not None and rda.best.price == EXPECTED["rda_best"]
    assert rda.list_price == Decimal(150) and rda.target_price == Decimal(125)
    assert rda.difference == EXPECTED["rda_diff"]
    assert rda.difference_percent == EXPECTED["rda_diff_pct"]
    assert rda.below_target and rda.below_list
    assert rda.my_sizes_available == EXPECTED["rda_my_sizes"]
    assert [o.price for o in rda.suspect] == [EXPECTED["rda_suspect"]]
    assert rda.stock == queries.IN_STOCK_NOW and rda.shops == 3
    assert rda.last_changed == NOW - timedelta(days=1)  # New Balance's unknown-stock observation
    # The lowest price in any size over 30 days, as steps: Concepts' suspect 99 never counts.
    assert [s.price for s in rda.sparkline] == [Decimal(150), Decimal(135), Decimal(120)]
    assert rda.sparkline[0].start == NOW - timedelta(days=30) and rda.sparkline[-1].end == NOW
    assert rdb.mine is None  # no sizes given: the answer is the cheapest in any size
    assert rdb.headline is not None and rdb.headline.price == EXPECTED["rdb_best"]
    assert rdb.difference_percent == EXPECTED["rdb_diff_pct"]
    assert rdc.best is None and rdc.stock == queries.NOT_LISTED and not rdc.in_stock
    assert rdc.next_release == (NOW + timedelta(days=10)).date()
    # No own list price: the Protection Pack default in dollars.
    assert rdc.list_price == Decimal(150)


def test_overview_for_given_style_codes(engine: Engine, seeded: Seeded) -> None:
    assert queries.has_observations(engine)
    rows = queries.overview(engine, NOW, style_codes=["M2002RHO"])
    assert [r.colorway.style_code for r in rows] == ["M2002RHO"]
    assert rows[0].list_price == Decimal(130)


def test_statistics_of_the_lowest_price_in_my_sizes_over_thirty_days(engine: Engine, seeded: Seeded) -> None:
    since = NOW - timedelta(days=30)
    points = queries.price_points(engine, [seeded.rain_cloud], since, with_sizes=True)
    steps = queries.price_steps(points, "USD", since, NOW, queries.SizeMatcher(["9", "10"]))
    stats = queries.step_stats(steps, "USD", NOW)
    assert stats.lowest == EXPECTED["rda_30d_lowest"] and stats.lowest_source == "Kith"
    assert stats.lowest_at == NOW - timedelta(days=5)
    assert stats.highest == EXPECTED["rda_30d_highest"] and stats.highest_at == since
    assert stats.average == EXPECTED["rda_30d_average"]
    assert stats.current == Decimal(120) and stats.current_source == "Kith"


def test_price_points_include_the_price_held_when_the_range_starts(engine: Engine, seeded: Seeded) -> None:
    since = NOW - timedelta(days=7)
    points = queries.price_points(engine, [seeded.rain_cloud], since)
    kith = [p for p in points if p.listing_id == seeded.kith_rda]
    assert [p.price for p in kith] == [Decimal(135), Decimal(120)]
    steps = queries.shop_steps(points, "USD", since, NOW)["Kith"]
    assert [(s.start, s.end, s.price) for s in steps] == [
        (since, NOW - timedelta(days=5), Decimal(135)),
        (NOW - timedelta(days=5), NOW, Decimal(120)),
    ]


def test_discovered_listings_keep_scraped_text_as_is(engine: Engine, seeded: Seeded) -> None:
    found = queries.discovered_listings(engine)
    assert [o.style_code for o in found] == ["M2002RZZ"]
    assert found[0].title is not None and "<b>Mystery</b>" in found[0].title
    assert found[0].price == Decimal(140)


def test_events_and_deliveries_hide_channel_urls(engine: Engine, seeded: Seeded) -> None:
    evs = queries.events(engine, colorway_id=seeded.rain_cloud)
    assert [e.kind for e in evs] == ["price_drop", "sold_out"]
    assert evs[0].source_name == "Kith"
    dels = queries.deliveries(engine)
    assert {d.status for d in dels} == {"sent", "failed"}
    failed = next(d for d in dels if d.status == "failed")
    assert failed.attempts == 8
    assert failed.last_error is not None and "secret-token" not in failed.last_error
    assert queries.delivery_counts(engine) == {"sent": 1, "failed": 1}


def test_releases_merge_rows_and_colorway_dates(engine: Engine, seeded: Seeded) -> None:
    rows = queries.releases(engine)
    by_code = {r.style_code: r for r in rows}
    assert by_code["M2002RDC"].release_date == (NOW + timedelta(days=10)).date()
    assert by_code["M2002RDC"].name == "Protection Pack Sea Salt"
    assert by_code["M2002RDB"].source_name == "config"


def test_source_health_over_24_hours(engine: Engine, seeded: Seeded) -> None:
    health = {h.name: h for h in queries.source_health(engine, NOW)}
    kith = health["Kith"]
    assert kith.runs == EXPECTED["kith_runs"]
    assert kith.error_rate == 0
    assert kith.not_modified_rate == 0.5
    assert kith.mean_duration_ms == pytest.approx(190.0)
    nb = health["New Balance"]
    assert nb.runs == EXPECTED["nb_runs"]  # the run three days ago is outside the window
    assert nb.blocked == EXPECTED["nb_blocked"]
    assert nb.error_rate == 1.0
    assert nb.broken
    assert health["Concepts"].runs == 0 and health["Concepts"].error_rate is None


def test_redact_removes_urls() -> None:
    assert queries.redact("failed json://u:p@h/x?t=1 now") == "failed json://… now"
    assert queries.redact(None) is None


def _point(
    listing: int, shop: str, hours_ago: float, price: str | None, avail: str = "InStock", **kw: object
) -> queries.PricePoint:
    return queries.PricePoint(
        listing,
        1,
        shop,
        NOW - timedelta(hours=hours_ago),
        None if price is None else Decimal(price),
        "USD",
        avail,
        bool(kw.get("suspect")),
        tuple(kw.get("sizes", ())),  # type: ignore[arg-type]
    )


def test_price_steps_follow_the_lowest_shop_and_say_when_nothing_is_in_stock() -> None:
    since = NOW - timedelta(hours=10)
    points = [
        _point(1, "A", 12, "100"),
        _point(2, "B", 8, "90"),
        _point(2, "B", 6, "90", "OutOfStock"),
        _point(1, "A", 4, "100", "OutOfStock"),
        _point(1, "A", 2, "95"),
        _point(2, "B", 1, "50", suspect=True),  # held, never the lowest
    ]
    steps = queries.price_steps(points, "USD", since, NOW)
    assert [
        (round((NOW - s.start).total_seconds() / 3600), s.price, s.source_name, s.sold_out) for s in steps
    ] == [
        (10, Decimal(100), "A", False),
        (8, Decimal(90), "B", False),
        (6, Decimal(100), "A", False),
        (4, None, None, True),
        (2, Decimal(95), "A", False),
    ]
    assert steps[-1].end == NOW
    # Before the first observation nothing is drawn; a shop not yet listed is not "sold out".
    assert queries.price_steps(points[1:2], "USD", since, NOW)[0].start == NOW - timedelta(hours=8)


def test_price_steps_in_my_sizes_use_each_size_s_own_price() -> None:
    nine_in = {"size": "9", "availability": "InStock", "price": "120"}
    ten_in = {"size": "10", "availability": "InStock", "price": "140"}
    eleven_in = {"size": "11", "availability": "InStock", "price": "60"}
    points = [
        _point(1, "A", 5, "60", sizes=[eleven_in, {"size": "9", "availability": "OutOfStock"}]),
        _point(2, "B", 5, "120", sizes=[nine_in, ten_in]),
        _point(2, "B", 3, "120", sizes=[{"size": "9", "availability": "OutOfStock"}, ten_in]),
        _point(2, "B", 1, "120", sizes=[{"size": "9", "availability": "OutOfStock"}]),
    ]
    mine = queries.SizeMatcher(["9", "10"])
    steps = queries.price_steps(points, "USD", None, NOW, mine)
    # Shop A's $60 is in size 11 only; B's size 9 is $120, its size 10 $140.
    assert [(s.price, s.source_name) for s in steps] == [
        (Decimal(120), "B"),
        (Decimal(140), "B"),
        (None, None),
    ]
    assert not steps[-1].sold_out  # in stock, just not in these sizes
    assert [s.price for s in queries.price_steps(points, "USD", None, NOW)] == [Decimal(60)]


def test_health_counts_only_failures_as_errors(engine: Engine, seeded: Seeded) -> None:
    from sqlmodel import Session, select

    from db.models import CheckRun, Source

    with Session(engine) as session:
        concepts = session.exec(select(Source).where(Source.name == "Concepts")).one()
        for i, status in enumerate(["not_modified"] * 6 + ["ok", "cancelled", "timeout", "blocked"]):
            session.add(
                CheckRun(source_id=concepts.id, started_at=NOW - timedelta(hours=i + 1), status=status)
            )
        session.commit()
    concepts_health = next(h for h in queries.source_health(engine, NOW) if h.name == "Concepts")
    assert concepts_health.runs == 10 and concepts_health.errors == 2 and concepts_health.error_rate == 0.2


def test_the_size_memo_stays_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dashboard up for months: watchlists edited, shops writing ever new size labels."""
    monkeypatch.setattr(queries, "_SIZE_MEMO", {})
    monkeypatch.setattr(queries, "SIZE_MEMO_ENTRIES", 50)
    for n in range(40):  # forty edits of the watchlist's sizes
        queries.SizeMatcher([str(7 + n % 7), f"{8 + n // 7}.5"])
    assert len(queries._SIZE_MEMO) == queries.SIZE_MEMO_SETS
    mine = queries.SizeMatcher(["9.5", "10"])
    for n in range(500):  # labels the memo has never seen, as a shop might write them
        assert mine.of({"size": f"Kids {n}"}) == ()
        assert len(mine._memo) <= 50
    # Still right once it started over: a UK 9.5 is a US 10, a US 9.5 is itself.
    assert mine.of({"size": "UK 9.5", "us": "10", "systems": {"uk": "9.5", "us_men": "10"}}) == ("10",)
    assert mine.of({"size": "9.5", "us": "9.5", "systems": {"us_men": "9.5"}}) == ("9.5",)


def _many_shops(engine: Engine, shops: int) -> int:
    """One colorway listed by `shops` shops, each with twelve sizes (a few sold out), one gone."""
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    t = SQLModel.metadata.tables
    sizes = [str(s / 2) for s in range(14, 26)]
    with engine.begin() as conn:
        colorway = conn.execute(
            t["colorways"]
            .insert()
            .values(style_code="M2002RDA", name="Rain Cloud")
            .returning(t["colorways"].c.id)
        ).scalar_one()
        conn.execute(
            t["sources"].insert(),
            [
                {"name": f"Shop {i:03d}", "kind": "page", "url": f"https://s{i}.example/"}
                for i in range(shops)
            ],
        )
        ids = dict(conn.execute(sa.select(t["sources"].c.name, t["sources"].c.id)).all())
        conn.execute(
            t["listings"].insert(),
            [
                {
                    "source_id": ids[f"Shop {i:03d}"],
                    "colorway_id": colorway,
                    "external_id": "rc",
                    "url": f"https://s{i}.example/rc",
                    "gone": i == 0,
                }
                for i in range(shops)
            ],
        )
        listings = dict(conn.execute(sa.select(t["listings"].c.source_id, t["listings"].c.id)).all())
        conn.execute(
            t["observations"].insert(),
            [
                {
                    "listing_id": listings[ids[f"Shop {i:03d}"]],
                    "observed_at": NOW - timedelta(hours=1),
                    "price": Decimal(150 - i % 30),
                    "currency": "USD",
                    "availability": "InStock",
                    "sizes": [
                        {
                            "size": z,
                            "us": z,
                            "systems": {"us_men": z, "uk": str(float(z) - 0.5), "eu": "44", "cm": "28"},
                            "availability": "OutOfStock" if (i + k) % 5 == 0 else "InStock",
                            "price": str(150 - i % 30),
                        }
                        for k, z in enumerate(sizes)
                    ],
                }
                for i in range(shops)
            ],
        )
    return int(colorway)


def test_latest_stock_is_latest_offers_in_brief_in_a_fraction_of_the_memory(engine: Engine) -> None:
    """The weekly digest reads every shop's stock of a colorway: row by row, without holding every
    size of every shop at once (a tracker keeps its memory's high-water mark)."""
    import tracemalloc

    colorway = _many_shops(engine, 400)
    queries.latest_stock(engine, [colorway])  # statements compiled and cached before measuring
    queries.latest_offers(engine, [colorway])
    queries.forget_decoded_sizes()  # as a process that has not decoded these sizes before
    tracemalloc.start()
    try:
        offers = queries.latest_offers(engine, [colorway])
        full = tracemalloc.get_traced_memory()[1]
        del offers
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        brief = queries.latest_stock(engine, [colorway])
        lean = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    offers = [o for o in queries.latest_offers(engine, [colorway]) if not o.gone]
    assert [(b.source_name, b.price, b.currency, b.availability, b.in_stock) for b in brief] == [
        (o.source_name, o.price, o.currency, o.availability, tuple(o.sizes_in_stock())) for o in offers
    ]
    assert len(brief) == 399 and all(b.sizes_listed for b in brief)
    assert lean < full / 2, (lean, full)


def test_lowest_in_my_sizes_is_the_same_when_placed_sizes_are_remembered(
    engine: Engine, seeded: Seeded
) -> None:
    # Given the matcher, price_points hands over what each observation offers in those sizes instead of
    # the sizes, and reads sizes only for observations not placed before: the line must not change.
    since = NOW - timedelta(days=30)
    mine = queries.SizeMatcher(["9", "10"])
    read = queries.price_points(engine, [seeded.rain_cloud], since, with_sizes=True)
    expected = queries.price_steps(read, "USD", since, NOW, mine)
    assert any(p.sizes for p in read)
    for _ in range(2):  # the second time from what the first placed
        placed = queries.price_points(engine, [seeded.rain_cloud], since, with_sizes=mine)
        assert all(p.mine is not None and p.sizes == () for p in placed)
        assert queries.price_steps(placed, "USD", since, NOW, mine) == expected
    assert queries.step_stats(expected, "USD", NOW).lowest == EXPECTED["rda_30d_lowest"]


def test_remembered_sizes_do_not_answer_for_a_database_replaced_at_the_same_address(tmp_path: Path) -> None:
    # A restore puts other rows under the same ids at the same URL: what was placed for the old rows
    # must not be taken for the new ones (here: the same shops, later, with no size in stock at all).
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'same.db'}"
    mine = queries.SizeMatcher(["9", "10"])
    lowest = []
    for now, sizes in ((NOW, None), (NOW + timedelta(hours=5), [])):
        (tmp_path / "same.db").unlink(missing_ok=True)
        eng = make_engine(url)
        found = seed(eng, now)
        if sizes is not None:
            with eng.begin() as conn:
                conn.execute(sa.text("UPDATE observations SET sizes = :s"), {"s": "[]"})
        since = now - timedelta(days=30)
        placed = queries.price_points(eng, [found.rain_cloud], since, with_sizes=mine)
        lowest.append(
            queries.step_stats(queries.price_steps(placed, "USD", since, now, mine), "USD", now).lowest
        )
        eng.dispose()
    assert lowest == [EXPECTED["rda_30d_lowest"], None]
