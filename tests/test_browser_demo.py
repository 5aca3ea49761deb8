"""The dashboard on the demo's timeline in Chromium: every page at both sizes, the price chart of a
markdown, and a sold-out colorway said in words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.pages import chromium, load, page_paths
from tests.browser_support import BROWSER, OUT, check_chart, check_pages, served
from tests.seed import seed_demo
from tracker.demo import DemoStore, ManualClock

pytestmark = BROWSER


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
        yield from served(config)
    finally:
        store.stop()


def test_every_page_on_the_demo(demo_server: str) -> None:
    check_pages(demo_server, page_paths("M2002RDB"), "demo")
    # Phantom's markdown: the lowest line, the shops, the list price and the collector's target.
    check_chart(demo_server, "colorway?style=M2002RDB&range=30d", shops=2)


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
        for base in served(config):
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
