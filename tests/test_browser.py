"""The dashboard served for real and looked at in Chromium, at 1400x1000 and 390x844: every page on the
demo's timeline, on the seeded database and on 25 shops x 30 colorways; what the chart draws, what its
tooltip lists, that the wheel scrolls the page, and that a phone never scrolls sideways.

Screenshots go to test-output/ (git-ignored)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.bench_dashboard import config_text, generate, style_code
from bench.pages import ARGS, CHROMIUM, chart_facts, chromium, load, page_paths, screenshot_all, sideways
from dashboard.charts import LIST_PRICE_COLOR, LOWEST_COLOR, TARGET_COLOR, palette
from dashboard.serve import serve
from db.engine import make_engine
from tests.seed import seed, seed_demo, sqlite_engine, write_config
from tracker.demo import DemoStore, ManualClock

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parent.parent / "test-output"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")


def _serve(config: Path) -> Iterator[str]:
    port = _free_port()
    proc = serve(config, "127.0.0.1", port, wait_warm=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's timeline (markdown, sell-out, a size back, a new colorway) over ten days."""
    tmp = tmp_path_factory.mktemp("demo")
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    store.start()
    try:
        config = seed_demo(
            store, clock, f"sqlite:///{tmp / 'tracker.db'}", tmp / "config.toml", datetime.now(UTC)
        )
        yield from _serve(config)
    finally:
        store.stop()


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hand-checkable seeded database (tests/seed.py)."""
    tmp = tmp_path_factory.mktemp("seeded")
    url, engine = sqlite_engine(tmp)
    seed(engine)
    engine.dispose()
    yield from _serve(write_config(tmp / "config.toml", url))


@pytest.fixture(scope="module")
def shops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """30 colorways x 25 shops, three weeks of checks (bench/bench_dashboard.py builds a year of it)."""
    tmp = tmp_path_factory.mktemp("shops")
    url = f"sqlite:///{tmp / 'tracker.db'}"
    engine = make_engine(url)
    generate(engine, datetime.now(UTC), days=21)
    engine.dispose()
    config = tmp / "config.toml"
    config.write_text(config_text(url), encoding="utf-8")
    yield from _serve(config)


def _check_chart(base: str, path: str, *, shops: int, target: bool = True) -> None:
    """The chart on a desktop: bold lowest line over thin shop lines, labelled rules, ticks that never
    repeat, a tooltip naming every shown shop, and a wheel that scrolls the page, not the chart."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"{base}/{path}", "colorway")
        facts = chart_facts(page, LOWEST_COLOR)
        page.screenshot(path=str(OUT / f"chart-{path.split('=')[1].split('&', maxsplit=1)[0]}-hover.png"))
    assert facts.lowest_width >= 3, facts
    assert facts.shop_widths and max(facts.shop_widths) < facts.lowest_width
    assert LIST_PRICE_COLOR.upper() in facts.rule_colors
    assert any(label.startswith("List $") for label in facts.labels)
    if target:
        assert TARGET_COLOR.upper() in facts.rule_colors
        assert any(label.startswith("Your target $") for label in facts.labels)
    assert any(label.startswith("Lowest $") for label in facts.labels)
    assert len(facts.legend) == shops
    assert facts.x_ticks and len(facts.x_ticks) == len(set(facts.x_ticks)), facts.x_ticks
    for shop in facts.legend:
        assert shop in facts.tooltip, (shop, facts.tooltip)
    assert "When" in facts.tooltip and (
        "CET" in facts.tooltip or "EST" in facts.tooltip or "UTC" in facts.tooltip
    )
    assert "$" in facts.tooltip
    assert facts.scrolled_by_wheel > 0, "the wheel over the chart must scroll the page"
    assert facts.ticks_after_wheel == facts.x_ticks, "the wheel alone must not zoom the chart"


def _check_pages(base: str, paths: dict[str, str], prefix: str) -> None:
    """Every page at both sizes: no error, and on a phone nothing wider than the screen."""
    OUT.mkdir(exist_ok=True)
    with chromium() as browser:
        visits = screenshot_all(browser, base, OUT, paths, prefix)
    for visit in visits:
        print(f"{visit.screenshot} ({visit.seconds:.1f} s)")
        assert visit.exceptions == 0, visit
        if visit.viewport == "phone":
            assert visit.overflow["doc"] <= visit.overflow["width"], visit
            assert visit.overflow["main"] <= visit.overflow["width"], visit
            assert visit.overflow["beyond"] == 0, visit
    phone_overview = next(v for v in visits if v.name == "overview" and v.viewport == "phone")
    assert phone_overview.overflow["rows"] > 0


def test_every_page_on_the_demo(demo_server: str) -> None:
    _check_pages(demo_server, page_paths("M2002RDB"), "demo")
    # Phantom's markdown: the lowest line, the shops, the list price and the collector's target.
    _check_chart(demo_server, "colorway?style=M2002RDB&range=30d", shops=2)


def test_a_sold_out_colorway_says_so_on_the_demo(tmp_path: Path) -> None:
    """During the demo's sell-out, Sea Salt is "Sold out everywhere", in red, not a blank price."""
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    store.start()
    try:
        config = seed_demo(
            store,
            clock,
            f"sqlite:///{tmp_path / 'tracker.db'}",
            tmp_path / "config.toml",
            datetime.now(UTC),
            last_step=2,
        )
        for base in _serve(config):
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                load(page, f"{base}/overview", "overview")
                row = page.locator('.ov-row[data-style="M2002RDC"]')
                badge = row.locator(".c-stock .badge")
                assert badge.inner_text() == "Sold out everywhere"
                assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(198, 40, 40)"
                assert "Not listed" not in row.inner_text()
                OUT.mkdir(exist_ok=True)
                page.screenshot(path=str(OUT / "demo-sold-out-overview-phone.png"), full_page=True)
    finally:
        store.stop()


def test_every_page_on_the_seeded_database(seeded_server: str) -> None:
    _check_pages(seeded_server, page_paths("M2002RDA"), "seeded")
    _check_chart(seeded_server, "colorway?style=M2002RDA&range=30d", shops=3)


def test_every_page_with_25_shops(shops_server: str) -> None:
    _check_pages(shops_server, page_paths(style_code(1), "all"), "shops25")
    _check_chart(shops_server, f"colorway?style={style_code(1)}&range=all", shops=25)


def test_25_shops_get_25_colours_and_the_legend_brings_one_forward(shops_server: str) -> None:
    assert len(set(palette(25))) == 25
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"{shops_server}/colorway?style={style_code(2)}&range=30d", "colorway")
        strokes = page.evaluate(
            "() => Array.from(document.querySelectorAll('.vega-embed svg g.mark-line path'))"
            ".map(p => [p.getAttribute('stroke'), p.getAttribute('stroke-width')])"
        )
        colours = {c.upper() for c, _ in strokes} - {LOWEST_COLOR.upper()}
        assert len(colours) == 25
        page.locator(".vega-embed svg .role-legend-label text", has_text="Shop 07").click()
        page.wait_for_timeout(600)
        widths = page.evaluate(
            "() => Array.from(document.querySelectorAll('.vega-embed svg g.mark-line path'))"
            ".map(p => parseFloat(p.getAttribute('stroke-width')))"
        )
        assert sorted(widths)[-2:] == [2.6, 3.5]  # Shop 07 forward, under the bold lowest line
        page.screenshot(path=str(OUT / "shops25-colorway-legend-pick.png"))


def test_overview_opened_by_its_address_and_a_row_opens_its_colorway(seeded_server: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"{seeded_server}/overview", "overview")
        page.wait_for_timeout(800)
        assert not page.get_by_text("Page not found").count()
        # Anywhere on the row opens the colorway page (the link stretches over it).
        row = page.locator('.ov-row[data-style="M2002RDA"]')
        box = row.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
        page.wait_for_url("**/colorway?style=M2002RDA**", timeout=30_000)
        page.locator(".vega-embed svg .role-axis").first.wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="Protection Pack Rain Cloud").is_visible()
        assert sideways(page)["doc"] <= 1400


def test_a_bookmarked_page_shows_the_sign_in_or_the_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deep link to a fresh server never lands on a blank page: the password form, or the error
    naming the config key (unauthenticated visitors see only the form, never the error)."""
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)

    def first_visit(path: str, wanted: str) -> str:
        for base in _serve(config):
            with chromium() as browser:
                page = browser.new_page()
                page.goto(f"{base}/{path}")
                page.locator(wanted).first.wait_for(timeout=30_000)
                return str(page.content())
        raise AssertionError("the server did not start")

    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    html = first_visit("colorway", "input[type=password]")
    assert "Protection Pack" not in html

    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD")
    config.write_text("colour = 'grey'\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    html = first_visit("health", "text=colour: unknown key")
    assert "Protection Pack" not in html


def _serve_logged(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The dashboard server as `tracker dashboard` starts it, with its log kept in a file."""
    import os

    from dashboard.serve import command

    env = dict(os.environ, TRACKER_CONFIG=str(config), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(config, "127.0.0.1", port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text.strip() == "ok":
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the dashboard did not start: {log.read_text()}")


def test_wrong_passwords_back_off_then_lock_the_address_out_even_for_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[dashboard]\nlockout_after = 4\nlockout = "1m"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    port = _free_port()
    log = tmp_path / "dashboard.log"
    proc = _serve_logged(config, port, log)
    requests: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")

            def submit(password: str) -> str:
                """Type a password, press Sign in, return the message the page then shows."""
                field = page.locator("input[type=password]")
                field.wait_for(timeout=30_000)
                field.fill(password)
                page.get_by_role("button", name="Sign in").click()
                alert = page.locator("[data-testid=stAlertContentError]").last
                alert.wait_for(timeout=30_000)
                text = alert.inner_text()
                # Wait for the next answer to replace this one before the next try.
                page.wait_for_function(
                    "t => !document.querySelector('[data-testid=stStatusWidget]')", arg=None, timeout=30_000
                )
                return text

            seen = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                seen.append(submit("wrong guess"))
                if "locked" in seen[-1]:
                    break
            assert seen[0] == "Wrong password.", seen
            assert "locked for 1 min" in seen[-1], seen
            # Locked: the right password is refused too, and nothing of the dashboard is shown.
            assert "locked" in submit("open sesame")
            assert page.locator("input[type=password]").is_visible()
            assert "Protection Pack" not in page.content()
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "dashboard sign-in locked for localhost for 1 min after 4 wrong passwords in a row" in text, text
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")]


def test_the_calendar_downloads_from_the_page_itself_never_from_media(seeded_server: str) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{seeded_server}/releases", wait_until="domcontentloaded")
            link = page.get_by_text("Download the calendar (.ics)")
            link.wait_for(timeout=30_000)
            with page.expect_download(timeout=30_000) as download:
                link.click()
            saved = download.value.path()
            assert download.value.suggested_filename == "2002r-releases.ics"
            text = Path(saved).read_text(encoding="utf-8")
        finally:
            browser.close()
    assert text.startswith("BEGIN:VCALENDAR") and "END:VCALENDAR" in text
    # Streamlit serves /media/... to anyone with the address: the calendar never goes there.
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")], requests
