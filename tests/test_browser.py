"""The dashboard on the seeded database in Chromium: every page at both sizes, the overview's rows
opening their colorway, and the calendar downloaded from the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.pages import ARGS, CHROMIUM, chromium, load, page_paths, sideways
from tests.browser_support import BROWSER, OUT, check_chart, check_pages, served
from tests.seed import seed, sqlite_engine, write_config

pytestmark = BROWSER


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hand-checkable seeded database (tests/seed.py)."""
    tmp = tmp_path_factory.mktemp("seeded")
    url, engine = sqlite_engine(tmp)
    seed(engine)
    engine.dispose()
    yield from served(write_config(tmp / "config.toml", url))


def test_every_page_on_the_seeded_database(seeded_server: str) -> None:
    check_pages(seeded_server, page_paths("M2002RDA"), "seeded")
    check_chart(seeded_server, "colorway?style=M2002RDA&range=30d", shops=3)


_DARK_JS = """() => {
  const svg = document.querySelector('.pc-chart svg');
  const light = (c) => { const [r, g, b] = (c.match(/[\\d.]+/g) || []).map(Number);
                         return (0.299 * r + 0.587 * g + 0.114 * b) / 255; };
  return {
    paper: light(getComputedStyle(document.querySelector('.stApp')).backgroundColor),
    tick: light(getComputedStyle(svg.querySelector('g.pc-x text')).fill),
    lowest: light(getComputedStyle(svg.querySelector('path.pc-lowest')).stroke),
    halo: getComputedStyle(svg.querySelector('text.pc-label')).stroke,
    app: getComputedStyle(document.querySelector('.stApp')).backgroundColor,
    legend: light(getComputedStyle(document.querySelector('.pc-chart .pc-key')).color),
  };
}"""


def test_the_chart_reads_on_a_dark_page_and_answers_a_tap_on_a_phone(seeded_server: str) -> None:
    # Streamlit follows the system's dark theme: the chart takes the page's colours, so its axis, its
    # bold line and its legend stay readable, and its labels' halos are the page's own background.
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
        load(page, f"{seeded_server}/colorway?style=M2002RDA&range=30d", "colorway")
        page.locator(".pc-chart svg g.pc-x text").first.wait_for(timeout=60_000)
        seen = page.evaluate(_DARK_JS)
        page.locator(".pc-chart").screenshot(path=str(OUT / "chart-dark.png"))
        # On a phone a tap shows the tooltip, and it stays after the finger is lifted.
        phone = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        load(phone, f"{seeded_server}/colorway?style=M2002RDA&range=30d", "colorway")
        hit = phone.locator(".pc-chart svg rect.pc-hit")
        hit.first.scroll_into_view_if_needed()
        box = hit.first.bounding_box()
        assert box is not None
        phone.touchscreen.tap(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5)
        phone.wait_for_timeout(300)
        tapped = (
            phone.locator(".pc-chart .pc-tip").inner_text() if phone.locator(".pc-tip").is_visible() else ""
        )
    assert seen["paper"] < 0.3, seen  # the page is dark
    assert seen["tick"] > 0.6 and seen["lowest"] > 0.6 and seen["legend"] > 0.6, seen
    assert seen["halo"] == seen["app"], seen
    assert "When" in tapped and "Kith" in tapped and "$" in tapped, tapped


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
        page.locator(".pc-chart svg .pc-x text").first.wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="Protection Pack Rain Cloud").is_visible()
        assert sideways(page)["doc"] <= 1400


def test_the_calendar_downloads_from_the_dashboards_own_route_never_from_media(seeded_server: str) -> None:
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
            url = download.value.url
            text = Path(saved).read_text(encoding="utf-8")
        finally:
            browser.close()
    assert text.startswith("BEGIN:VCALENDAR") and "END:VCALENDAR" in text
    assert urlsplit(url).path == "/calendar.ics", url
    # Streamlit serves /media/... to anyone with the address: the calendar never goes there.
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")], requests
