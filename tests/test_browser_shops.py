"""The dashboard on 30 colorways x 25 shops in Chromium: every page at both sizes, a chart that
keeps 25 shops apart by colour, and the legend bringing one forward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.bench_dashboard import config_text, generate, style_code
from bench.pages import chromium, load, page_paths
from dashboard.charts import LOWEST_COLOR, palette
from db.engine import make_engine
from tests.browser_support import BROWSER, OUT, check_chart, check_pages, served

pytestmark = BROWSER


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
    yield from served(config)


def test_every_page_with_25_shops(shops_server: str) -> None:
    check_pages(shops_server, page_paths(style_code(1), "all"), "shops25")
    check_chart(shops_server, f"colorway?style={style_code(1)}&range=all", shops=25)


def test_25_shops_get_25_colours_and_the_legend_brings_one_forward(shops_server: str) -> None:
    assert len(set(palette(25))) == 25
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"{shops_server}/colorway?style={style_code(2)}&range=30d", "colorway")
        lines = """() => Array.from(document.querySelectorAll('.pc-chart path.pc-shop, path.pc-lowest'))
            .map(p => [p.dataset.shop || '', p.getAttribute('stroke'),
                       parseFloat(p.getAttribute('stroke-width')),
                       parseFloat(p.getAttribute('stroke-opacity') || '1')])"""
        strokes = page.evaluate(lines)
        colours = {c.upper() for _, c, _, _ in strokes} - {LOWEST_COLOR.upper()}
        assert len(colours) == 25
        assert page.locator(".pc-chart rect.pc-sold-out").count() == 0  # no shop's spans until picked
        page.locator(".pc-chart .pc-key", has_text="Shop 07").click()
        after = {shop: (width, opacity) for shop, _, width, opacity in page.evaluate(lines)}
        assert after.pop("Shop 07") == (2.6, 1.0)  # forward: bolder and opaque, under the bold lowest line
        assert after.pop("") == (3.5, 1.0)
        assert set(after.values()) == {(1.3, 0.4)}
        # Its sold-out spans come with it, in its colour (the seed has every shop sell out now and then).
        spans = page.evaluate(
            "() => Array.from(document.querySelectorAll('.pc-chart rect.pc-sold-out'))"
            ".map(r => r.getAttribute('fill'))"
        )
        seven = next(c for shop, c, _, _ in strokes if shop == "Shop 07")
        assert spans and set(spans) == {seven}
        assert page.locator(".pc-chart .pc-key[aria-pressed=true]").all_inner_texts() == ["Shop 07"]
        page.screenshot(path=str(OUT / "shops25-colorway-legend-pick.png"))
        page.locator(".pc-chart .pc-key", has_text="Shop 07").click()  # a second click puts it back
        widths = {w for _, _, w, _ in page.evaluate(lines)}
        assert widths == {1.3, 3.5}
        assert page.locator(".pc-chart rect.pc-sold-out").count() == 0
