"""Every dashboard page through Streamlit's AppTest on a seeded database (SQLite; PostgreSQL too)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import serve as serve_module
from dashboard.charts import LIST_PRICE_COLOR, LOWEST_COLOR, TARGET_COLOR
from db.engine import make_engine
from tests.browser_support import free_port, stop
from tests.dashboard_html import overview_rows, size_tiles, stats
from tests.seed import CONFIG_TEMPLATE, EXPECTED, postgres_url, seed, sqlite_engine, write_config

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = [
    "views/overview.py",
    "views/colorway.py",
    "views/releases.py",
    "views/watchlist.py",
    "views/shops.py",
    "views/alerts.py",
    "views/health.py",
]


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


@pytest.fixture
def seeded_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config.toml (with comments) over a seeded SQLite file; TRACKER_CONFIG points at it."""
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)
    monkeypatch.setenv("TRACKER_CONFIG", str(config))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    return config


@pytest.fixture
def empty_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config.toml over an empty database."""
    config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("TRACKER_CONFIG", str(config))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    return config


def _chart(at: AppTest) -> dict[str, Any]:
    """The colorway chart's data, as its page's script hands it to pricechart.js."""
    bodies = [h.proto.body for h in at.get("html") if 'class="pc-chart"' in h.proto.body]
    assert len(bodies) == 1
    body = bodies[0]
    start = body.index("previousElementSibling,") + len("previousElementSibling,")
    data, _ = json.JSONDecoder().raw_decode(body[start:])
    assert isinstance(data, dict)
    return data


def _visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _all_text(at: AppTest) -> str:
    """Everything a page shows as text, tables included."""
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "info",
        "error",
        "warning",
        "success",
        "title",
        "subheader",
        "text",
    ):
        parts.extend(str(e.value) for e in at.get(kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    parts.extend(df.value.to_string() for df in at.dataframe)
    return "\n".join(parts)


def _check_seeded_pages(at: AppTest) -> None:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    rows = overview_rows(at)
    # Below your target first; Sea Salt, never listed, last; the unwatched Grey not at all.
    assert list(rows) == ["M2002RDA", "M2002RDB", "M2002RDC"]
    rda = rows["M2002RDA"]
    assert rda["mine"] == "In your sizes $120.00 at Kith (9) buy ↗"
    assert rda["any"] == "Any size $120.00 at Kith buy ↗"
    assert rda["vs"] == "-$30.00 (-20.0%) list $150.00 · target $125.00 ✓"
    assert rda["stock"] == "In stock 3 shops your sizes 1/2"
    assert "⚠ $99.00 at Concepts held as suspect" in rda["name"]  # marked, never the best price
    assert "changed 1 d ago" in rda["name"] or "changed 24 h ago" in rda["name"]
    assert rda["href"] == "colorway?style=M2002RDA"
    assert rda["spark"].endswith("from $150.00 to $120.00, low $120.00")
    assert rows["M2002RDB"]["vs"] == "+$10.00 (+6.7%) list $150.00"
    assert rows["M2002RDB"]["mine"] == "In your sizes — no sizes set (Watchlist)"
    assert rows["M2002RDC"]["stock"].startswith("Not listed yet release ")
    assert rows["M2002RDC"]["vs"] == "list $150.00"
    assert "times in Europe/Paris" in _all_text(at)
    discovered = at.dataframe[0].value
    assert discovered["title"].tolist() == ["New Balance 2002R <b>Mystery</b> [click](https://evil.example)"]
    assert discovered["stock"].tolist() == ["In stock"]

    _visit(at, "views/colorway.py")
    assert at.sidebar.selectbox(key="colorway_choice").value == "M2002RDB"  # the first watched, by name
    at.sidebar.selectbox(key="colorway_choice").select("M2002RDA").run()
    assert at.query_params["style"] == "M2002RDA" and at.query_params["range"] == "30d"
    shown = stats(at)
    assert shown["Now"] == "Now $120.00 Kith"
    assert shown["Lowest"].startswith("Lowest $120.00 Kith · ")
    assert shown["Highest"].startswith("Highest $150.00 ")
    # Time-weighted over 30 days; the clock moves a little between seeding and rendering.
    average = float(shown["Average"].split("$")[1].split()[0])
    assert abs(average - float(EXPECTED["rda_30d_average"])) <= 0.02
    assert shown["List price"] == "List price $150.00" and shown["Your target"] == "Your target $125.00"
    chart = _chart(at)
    rules = {r["label"]: r["color"] for r in chart["rules"]}
    assert rules == {"List $150.00": LIST_PRICE_COLOR, "Your target $125.00": TARGET_COLOR}
    assert [r["price"] for r in chart["rules"]] == [150.0, 125.0]
    lowest = chart["lowest"]
    assert lowest["color"] == LOWEST_COLOR and lowest["width"] >= 3
    assert lowest["name"] == "Lowest in your sizes (9, 10)"
    assert [s[2] for s in lowest["steps"] if s[2] is not None] == [150.0, 135.0, 120.0]
    # One step runs into the next, from the range's start to its end (minutes on the wall clock).
    assert lowest["steps"][0][0] == 0 and lowest["steps"][-1][1] == chart["span"]
    assert all(a[1] == b[0] for a, b in zip(lowest["steps"], lowest["steps"][1:], strict=False))
    assert 30 * 1440 - 5 <= chart["span"] <= 30 * 1440 + 5
    texts = chart["texts"]
    assert [texts[s[3]] for s in lowest["steps"]][-1] == "$120.00 at Kith"
    shops = {s["name"]: s for s in chart["shops"]}
    assert list(shops) == ["Concepts", "Kith", "New Balance"]  # shown in the order of every shop
    assert len({s["color"] for s in chart["shops"]} | {LOWEST_COLOR}) == 4
    kith = [s[2] for s in shops["Kith"]["steps"] if s[2] is not None]
    assert kith == [150.0, 135.0, 120.0]
    assert [texts[s[3]] for s in shops["Kith"]["steps"]][-1] == "$120.00"
    # Concepts sold out ten days ago: a step says so, without a price, marked for its sold-out span.
    concepts = shops["Concepts"]["steps"]
    assert any(texts[s[3]] == "sold out" and s[4] == 1 and s[2] is None for s in concepts)
    # The tooltip writes times in the collector's zone: CET / CEST from the range's start on.
    assert chart["zones"][0][0] == 0 and {z[1] for z in chart["zones"]} <= {"CET", "CEST"}
    markers = {m["label"].split(" ")[0]: m for m in chart["markers"]}
    assert markers["Lowest"]["label"].startswith("Lowest $120.00 · Kith · ")
    assert markers["Highest"]["label"].startswith("Highest $150.00 · ")
    assert chart["y"][0] < 120 and chart["y"][1] > 150
    tiles = size_tiles(at)
    assert tiles["US 9"] == {"text": "your size US 9 $120.00 Kith", "mine": "True"}
    assert tiles["US 10"] == {"text": "your size US 10 Sold out", "mine": "True"}
    assert tiles["US 11"] == {"text": "US 11 $125.00 Kith", "mine": "False"}
    offers = at.dataframe[0].value
    assert offers["shop"].tolist()[0] == "Kith" and offers["your sizes"].tolist()[0] == "$120.00 (9)"
    assert set(offers["stock"]) <= {"In stock", "Sold out", "Unknown"}
    grid = at.dataframe[1].value
    # Rows are sizes in the collector's system (US men's by default).
    assert grid.loc["US 9", "Kith"] == "✓ $120.00" and grid.loc["US 10", "Kith"] == "✗"
    assert grid.loc["US 11", "Kith"] == "✓ $125.00"
    events = at.dataframe[2].value
    assert events["what"].tolist() == ["Price drop", "Sold out"]
    assert events["when"].str.endswith(("CET", "CEST")).all()

    at.segmented_control(key="range").set_value("7 d").run()
    assert stats(at)["Highest"].startswith("Highest $135.00 Kith")
    assert at.query_params["range"] == "7d"

    _visit(at, "views/releases.py")
    upcoming = at.dataframe[0].value
    assert upcoming["style code"].tolist() == ["M2002RDC"]
    assert at.metric[0].label == "Next drop: Protection Pack Sea Salt"
    assert at.metric[0].value.startswith("in ")
    # The calendar is the dashboard's own /calendar.ics: nothing is left under /media/.
    assert not at.get("download_button")
    links = [m.value for m in at.markdown if 'download="2002r-releases.ics"' in m.value]
    assert len(links) == 1 and "Download the calendar (.ics)" in links[0]
    assert 'href="calendar.ics"' in links[0]  # the dashboard's own route (no password here)

    _visit(at, "views/alerts.py")
    text = _all_text(at)
    assert "secret-token" not in text and "ntfy.example" not in text
    deliveries = at.dataframe[0].value.set_index("status")
    assert deliveries.loc["Failed", "attempts"] == 8
    assert deliveries.loc["Failed", "channel"] == "phone"
    assert at.dataframe[1].value["kind"].tolist() == ["Shop broken", "Price drop", "Sold out"]
    assert {m.label: m.value for m in at.metric}["Failed"] == "1"

    _visit(at, "views/health.py")
    health = at.dataframe[0].value.set_index("source")
    assert health.loc["Kith", "checks (24 h)"] == EXPECTED["kith_runs"]
    assert health.loc["Kith", "not modified %"] == 50.0
    assert health.loc["Kith", "mean ms"] == 190
    assert health.loc["New Balance", "blocked"] == EXPECTED["nb_blocked"]
    assert health.loc["New Balance", "error rate %"] == 100.0
    assert health.loc["New Balance", "status"] == "Blocked"
    assert bool(health.loc["New Balance", "broken"])
    assert "Broken: New Balance" in at.error[0].value
    # Shown in the config's zone (Europe/Paris), with its name, not in UTC.
    assert health.loc["Kith", "last check"].endswith(("CET", "CEST"))

    _visit(at, "views/watchlist.py")
    assert at.dataframe[0].value["style code"].tolist() == [
        "M2002RDA",
        "M2002RDB",
        "M2002RDC",
        "M2002RHO",
    ]


def test_pages_show_the_seeded_numbers(seeded_config: Path) -> None:
    _check_seeded_pages(_app())


@pytest.mark.postgres
def test_pages_show_the_seeded_numbers_on_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set (scripts/test.sh starts a PostgreSQL and sets it)")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    with postgres_url() as url:
        engine = make_engine(url)
        seed(engine)
        engine.dispose()
        config = write_config(tmp_path / "config.toml", url)
        monkeypatch.setenv("TRACKER_CONFIG", str(config))
        _check_seeded_pages(_app())
        from dashboard import data

        data.engine(url).dispose()  # so the database can be dropped


def test_a_new_price_is_on_the_next_run_of_a_page(seeded_config: Path) -> None:
    """The pages' read caches are keyed on the database's change stamp: a price written since the last
    run is on the next one, with nothing to wait for."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    import sqlalchemy as sa
    from sqlmodel import Session

    from db.models import Listing, Observation, Source

    at = _app()
    at.run()
    assert overview_rows(at)["M2002RDA"]["any"] == "Any size $120.00 at Kith buy ↗"
    _visit(at, "views/colorway.py")
    at.sidebar.selectbox(key="colorway_choice").select("M2002RDA").run()
    assert stats(at)["Now"] == "Now $120.00 Kith"
    url = "sqlite:///" + str(seeded_config.parent / "tracker.db")
    engine = make_engine(url)
    with Session(engine) as s:
        listing = s.exec(
            sa.select(Listing)
            .join(Source, Source.id == Listing.source_id)  # type: ignore[arg-type]
            .where(Source.name == "Concepts", Listing.external_id == "m2002rda")
        ).scalar_one()
        sizes = [{"size": z, "availability": "InStock", "price": "110"} for z in ("9", "10")]
        obs = Observation(
            listing_id=listing.id,
            observed_at=datetime.now(UTC) - timedelta(minutes=1),
            price=Decimal(110),
            currency="USD",
            availability="InStock",
            sizes=sizes,
        )
        s.add(obs)
        s.flush()
        listing.last_observation_id = obs.id
        s.commit()
    engine.dispose()
    at.run()
    assert stats(at)["Now"] == "Now $110.00 Concepts"
    _visit(at, "views/overview.py")
    assert overview_rows(at)["M2002RDA"]["any"] == "Any size $110.00 at Concepts buy ↗"


def test_empty_database_shows_helpful_messages(empty_config: Path) -> None:
    at = _app()
    at.run()
    assert not at.exception
    assert "No prices yet" in _all_text(at)
    assert "No 2002R listing outside your catalogue" in _all_text(at)
    expected = {
        "views/colorway.py": "No colorways yet",
        "views/releases.py": "No release dates yet",
        "views/alerts.py": "No alert has been sent yet",
        "views/health.py": "No checks yet",
    }
    for page, message in expected.items():
        _visit(at, page)
        assert message in _all_text(at), page
    _visit(at, "views/watchlist.py")


def test_password_hides_everything_until_entered(
    seeded_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "s3cret-pass")
    at = _app()
    at.run()
    assert not at.exception
    assert not at.dataframe and not at.metric
    assert "Protection Pack" not in _all_text(at)
    for page in PAGES:
        with pytest.raises(Exception):  # noqa: B017 (no page is even registered before sign-in)
            at.switch_page(page).run()
    at = _app()
    at.run()
    at.text_input(key="password_input").input("wrong")
    at.button[0].click().run()
    assert "Wrong password." in [e.value for e in at.error]
    assert not at.dataframe
    at.text_input(key="password_input").input("s3cret-pass")
    at.button[0].click().run()
    assert not at.exception
    assert "M2002RDA" in overview_rows(at)


def test_broken_config_shows_the_keyed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('timezone = "Mars/Olympus"\n', encoding="utf-8")
    monkeypatch.setenv("TRACKER_CONFIG", str(config))
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    at = _app()
    at.run()
    assert not at.exception
    assert "timezone" in at.error[0].value and "Mars/Olympus" in at.error[0].value


def _form_button(at: AppTest, label: str) -> object:
    return next(b for b in at.button if b.label == label)


def test_watchlist_adds_a_colorway_and_keeps_comments(seeded_config: Path) -> None:
    at = _visit(_app(), "views/watchlist.py")
    key = "cw_{}___new__"
    at.text_input(key=key.format("name")).input("2002R Mystery")
    at.text_input(key=key.format("style_code")).input("m2002rzz")
    at.text_input(key=key.format("list_price")).input("130")
    at.text_input(key=key.format("target_price")).input("99.5")
    at.text_input(key=key.format("sizes")).input("9, 9.5")
    _form_button(at, "Save colorway").click().run()  # type: ignore[attr-defined]
    assert not at.exception
    text = seeded_config.read_text(encoding="utf-8")
    assert "# 2002R tracker configuration (test copy)" in text
    assert "# the grey one" in text and "# --- shops ---" in text
    assert 'name = "2002R Mystery"\nstyle_code = "M2002RZZ"\nlist_price = {USD = 130}' in text
    assert 'sizes = ["9", "9.5"]' in text and "target_price = {USD = 99.5}" in text
    assert text.index("M2002RZZ") < text.index("# --- shops ---")  # the section comment still heads shops
    assert at.success and "Saved 2002R Mystery" in at.success[0].value
    assert "M2002RZZ" in at.dataframe[0].value["style code"].tolist()


def test_watchlist_refuses_invalid_input_and_shows_it_by_the_field(seeded_config: Path) -> None:
    before = seeded_config.read_text(encoding="utf-8")
    at = _visit(_app(), "views/watchlist.py")
    key = "cw_{}___new__"
    at.text_input(key=key.format("name")).input("Bad")
    at.text_input(key=key.format("style_code")).input("not a code!")
    at.text_input(key=key.format("list_price")).input("cheap")
    _form_button(at, "Save colorway").click().run()  # type: ignore[attr-defined]
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("is not a style code" in e for e in errors)
    assert any("'cheap' is not an amount" in e for e in errors)
    assert seeded_config.read_text(encoding="utf-8") == before
    # A duplicate style code is refused the same way.
    at.text_input(key=key.format("style_code")).input("M2002RDA")
    at.text_input(key=key.format("list_price")).input("")
    _form_button(at, "Save colorway").click().run()  # type: ignore[attr-defined]
    assert any("duplicate style code M2002RDA" in e.value for e in at.error)
    assert seeded_config.read_text(encoding="utf-8") == before


def test_watchlist_edits_and_removes_a_colorway(seeded_config: Path) -> None:
    at = _visit(_app(), "views/watchlist.py")
    at.selectbox(key="cw_choice").select("M2002RDB").run()
    at.text_input(key="cw_target_price_M2002RDB").input("120")
    at.text_input(key="cw_sizes_M2002RDB").input("10.5")
    _form_button(at, "Save colorway").click().run()  # type: ignore[attr-defined]
    assert not at.exception and not at.error
    text = seeded_config.read_text(encoding="utf-8")
    block = text[text.index('style_code = "M2002RDB"') :].split("[[", 1)[0]
    assert "target_price = {USD = 120}" in block and 'sizes = ["10.5"]' in block
    assert "# the grey one" in text
    at.selectbox(key="cw_choice").select("M2002RHO").run()
    at.button(key="cw_remove").click().run()
    assert "M2002RHO" not in seeded_config.read_text(encoding="utf-8")
    assert "# --- shops ---" in seeded_config.read_text(encoding="utf-8")


PRODUCT_PAGE = b"""<!doctype html><html><head><title>2002R Rain Cloud</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
"name": "New Balance 2002R Protection Pack Rain Cloud", "sku": "M2002RDA",
"offers": {"@type": "Offer", "price": "149.99", "priceCurrency": "USD",
"availability": "https://schema.org/InStock"}}</script></head>
<body><h1>New Balance 2002R Protection Pack Rain Cloud</h1></body></html>"""


@pytest.fixture
def shop() -> Iterator[str]:
    """A product page on 127.0.0.1."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PRODUCT_PAGE)))
            self.end_headers()
            self.wfile.write(PRODUCT_PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/products/2002r-rain-cloud"
    finally:
        server.shutdown()
        server.server_close()


def test_add_a_shop_by_url_with_a_preview(seeded_config: Path, shop: str) -> None:
    at = _visit(_app(), "views/shops.py")
    at.text_input(key="shop_url").input("ftp://127.0.0.1/x")
    at.button(key="shop_probe").click().run()
    assert any("Only http" in e.value and "can be added" in e.value for e in at.error)
    assert "shop_save" not in [b.key for b in at.button]

    at.text_input(key="shop_url").input(shop)
    at.text_input(key="shop_name").input("Local shop")
    at.button(key="shop_probe").click().run()
    assert not at.exception
    preview = at.dataframe[-1].value
    assert preview["title"].tolist() == ["New Balance 2002R Protection Pack Rain Cloud"]
    assert preview["price"].tolist() == ["$149.99"]
    assert preview["stock"].tolist() == ["InStock"]
    assert preview["colorway"].tolist() == ["Protection Pack Rain Cloud"]
    at.button(key="shop_save").click().run()
    assert not at.error
    text = seeded_config.read_text(encoding="utf-8")
    assert f'name = "Local shop"\nkind = "page"\nurl = "{shop}"\ncurrency = "USD"' in text
    assert "# --- shops ---" in text
    assert "Local shop" in at.dataframe[0].value["shop"].tolist()

    # The same URL again: the probe says a shop already checks it, and saving is refused.
    at.text_input(key="shop_name").input("Local shop again")
    at.button(key="shop_probe").click().run()
    assert any("already checks this URL" in w.value for w in at.warning)
    at.button(key="shop_save").click().run()
    assert any("already checks this URL" in e.value for e in at.error)
    assert seeded_config.read_text(encoding="utf-8") == text


def test_edit_and_disable_a_shop(seeded_config: Path) -> None:
    at = _visit(_app(), "views/shops.py")
    name = at.selectbox(key="shop_edit_choice").value
    at.checkbox(key=f"shop_edit_enabled_{name}").uncheck()
    at.text_input(key=f"shop_edit_interval_{name}").input("2h")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert not at.exception
    text = seeded_config.read_text(encoding="utf-8")
    assert "enabled = false" in text and 'interval = "2h"' in text
    assert "# --- shops ---" in text
    health = at.dataframe[0].value
    assert health.loc[health["shop"] == name, "health"].tolist() == ["disabled"]

    # A bad value is refused with the key named, the file untouched.
    at.text_input(key=f"shop_edit_interval_{name}").input("5 parsecs")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert any("parsecs" in e.value for e in at.error)
    assert seeded_config.read_text(encoding="utf-8") == text


def test_discovered_listing_can_be_watched(seeded_config: Path) -> None:
    at = _app()
    at.run()
    at.button(key=next(b.key for b in at.button if b.label == "Watch M2002RZZ")).click().run()
    assert not at.exception
    text = seeded_config.read_text(encoding="utf-8")
    assert 'style_code = "M2002RZZ"' in text and "watched = true" in text
    # Said where the button is; the row appears once the tracker has synced the catalogue.
    assert any("M2002RZZ added to your watchlist" in e.value for e in at.success)


def test_serve_command_binds_localhost_by_default(tmp_path: Path) -> None:
    argv = serve_module.command(tmp_path / "config.toml")
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("server.py")
    assert "--server.address=127.0.0.1" in argv and "--server.port=8501" in argv
    assert "--server.headless=true" in argv and "--browser.gatherUsageStats=false" in argv
    assert "--server.fileWatcherType=none" in argv
    assert "--server.address=0.0.0.0" in serve_module.command(tmp_path / "c.toml", "0.0.0.0", 9000)


def test_config_template_is_valid() -> None:
    from tracker.config import parse_text

    config = parse_text(CONFIG_TEMPLATE.format(database_url="sqlite:///x.db"))
    assert [c.style_code for c in config.colorways if c.watched] == [
        "M2002RDA",
        "M2002RDB",
        "M2002RDC",
    ]


def test_scraped_names_are_shown_as_text_not_markdown(seeded_config: Path) -> None:
    from sqlmodel import Session

    from db.models import Colorway

    url = f"sqlite:///{seeded_config.parent / 'tracker.db'}"
    engine = make_engine(url)
    with Session(engine) as session:
        session.add(
            Colorway(style_code="M2002RXX", name="[win](https://evil.example) **now**", in_config=False)
        )
        session.commit()
    engine.dispose()
    at = _visit(_app(), "views/colorway.py")
    at.sidebar.selectbox(key="colorway_choice").select("M2002RXX").run()
    assert not at.exception
    title = at.title[0].value
    assert title == "\\[win\\]\\(https\\://evil\\.example\\) \\*\\*now\\*\\*"


def test_serve_starts_the_dashboard_and_waits_for_health(seeded_config: Path) -> None:
    import httpx

    port = free_port()
    proc = serve_module.serve(seeded_config, "127.0.0.1", port)
    try:
        # serve() returns only once the server answers, so no waiting here.
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).text == "ok"
        assert proc.poll() is None
    finally:
        stop(proc)


def test_the_server_does_not_collect_all_its_garbage_after_every_page_run(
    seeded_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection after each run walks every cached price while the server answers nothing."""
    from dashboard.warm import run_page

    # Every full collection in a process started with this on its path is written to a file.
    hook = tmp_path / "hook"
    hook.mkdir()
    log = tmp_path / "full-collections.log"
    (hook / "sitecustomize.py").write_text(
        "import gc, os\n"
        "def _note(phase, info):\n"
        "    if phase == 'stop' and info['generation'] == 2:\n"
        f"        with open({str(log)!r}, 'a') as f:\n"
        "            f.write(f'{os.getpid()}\\n')\n"
        "gc.callbacks.append(_note)\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", str(hook))
    port = free_port()
    proc = serve_module.serve(seeded_config, "127.0.0.1", port, wait_warm=True)
    try:

        def server_collections() -> int:
            lines = log.read_text(encoding="utf-8").split() if log.exists() else []
            return lines.count(str(proc.pid))

        base = f"http://127.0.0.1:{port}"
        run_page(base, "overview")
        before = server_collections()
        for _ in range(3):
            for page in ("overview", "colorway", "health"):
                run_page(base, page)
        # Nine runs; Python's own collector may well go through everything once meanwhile.
        assert server_collections() - before <= 1
        assert proc.poll() is None
    finally:
        stop(proc)
