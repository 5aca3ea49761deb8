"""db.queries on a seeded SQLite file and on PostgreSQL: the numbers the dashboard shows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from db import queries
from db.engine import make_engine
from tests.seed import EXPECTED, Seeded, postgres_url, seed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated database: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
        yield eng
        eng.dispose()
        return
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set (scripts/test.sh starts a PostgreSQL and sets it)")
    with postgres_url() as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


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


def test_overview_best_price_ignores_suspect_and_counts_my_sizes(engine: Engine, seeded: Seeded) -> None:
    rows = {r.colorway.style_code: r for r in queries.overview(engine, NOW)}
    assert set(rows) == {"M2002RDA", "M2002RDB", "M2002RDC"}  # the unwatched one is not shown
    rda = rows["M2002RDA"]
    assert rda.best is not None
    assert rda.best.price == EXPECTED["rda_best"]
    assert rda.best.source_name == EXPECTED["rda_best_shop"]
    assert rda.list_price == Decimal(150)
    assert rda.difference == EXPECTED["rda_diff"]
    assert rda.difference_percent == EXPECTED["rda_diff_pct"]
    assert rda.my_sizes_available == EXPECTED["rda_my_sizes"]
    assert [o.price for o in rda.suspect] == [EXPECTED["rda_suspect"]]
    assert rda.in_stock
    # One value per day; the last one is today's best.
    assert len(rda.sparkline) == 30
    assert rda.sparkline[-1] == 120.0
    assert rda.sparkline[0] == 135.0 or rda.sparkline[0] == 150.0
    rdb = rows["M2002RDB"]
    assert rdb.best is not None and rdb.best.price == EXPECTED["rdb_best"]
    assert rdb.difference_percent == EXPECTED["rdb_diff_pct"]
    rdc = rows["M2002RDC"]
    assert rdc.best is None and not rdc.in_stock
    assert rdc.next_release == (NOW + timedelta(days=10)).date()
    # No own list price: the Protection Pack default in dollars.
    assert rdc.list_price == Decimal(150)


def test_overview_for_given_style_codes(engine: Engine, seeded: Seeded) -> None:
    rows = queries.overview(engine, NOW, style_codes=["M2002RHO"])
    assert [r.colorway.style_code for r in rows] == ["M2002RHO"]
    assert rows[0].list_price == Decimal(130)


def test_range_statistics_over_thirty_days(engine: Engine, seeded: Seeded) -> None:
    since = NOW - timedelta(days=30)
    points = queries.price_points(engine, [seeded.rain_cloud], since)
    segs = queries.segments(points, since, NOW)
    stats = queries.range_stats(segs, "USD", NOW)
    assert stats.lowest == EXPECTED["rda_30d_lowest"]
    assert stats.lowest_source == "Kith"
    assert stats.highest == EXPECTED["rda_30d_highest"]
    assert stats.average == EXPECTED["rda_30d_average"]
    assert stats.current == Decimal(120)


def test_price_points_include_the_price_held_when_the_range_starts(
    engine: Engine, seeded: Seeded
) -> None:
    since = NOW - timedelta(days=7)
    points = queries.price_points(engine, [seeded.rain_cloud], since)
    kith = [p for p in points if p.listing_id == seeded.kith_rda]
    assert [p.price for p in kith] == [Decimal(135), Decimal(120)]
    segs = [s for s in queries.segments(points, since, NOW) if s.listing_id == seeded.kith_rda]
    assert segs[0].start == since and segs[0].end == NOW - timedelta(days=5)


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


def test_daily_best_is_empty_before_the_first_price() -> None:
    since = NOW - timedelta(days=3)
    point = queries.PricePoint(1, 1, "A", NOW - timedelta(hours=20), Decimal(100), "USD", "InStock", False)
    sold_out = queries.PricePoint(2, 1, "B", since, Decimal(50), "USD", "OutOfStock", False)
    assert queries.daily_best([point, sold_out], "USD", since, NOW) == [None, None, Decimal(100)]
