"""What the browser tests share: the dashboard served for real, every page looked at in Chromium at
1400x1000 and 390x844, and what the price chart must draw.

The browser tests are split by the database they serve (the demo's timeline, the seeded database,
25 shops, sign-in), one file each, so the parallel test run spreads them over its processes.
Screenshots go to test-output/ (git-ignored)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pages import CHROMIUM, chart_facts, chromium, load, screenshot_all
from dashboard.charts import LIST_PRICE_COLOR, LOWEST_COLOR, TARGET_COLOR
from dashboard.serve import serve

OUT = Path(__file__).resolve().parent.parent / "test-output"

# Every browser test module: marked, and skipped with the reason when Chromium is missing.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)",
    ),
]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process: asked to end, killed if it has not within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def served(config: Path) -> Iterator[str]:
    """The dashboard on a free port, warmed up, stopped when the caller is done."""
    port = free_port()
    proc = serve(config, "127.0.0.1", port, wait_warm=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def check_chart(base: str, path: str, *, shops: int, target: bool = True) -> None:
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
    # Shift + wheel zooms in (ticks closer in time, never repeating), shift + drag to the right shows
    # earlier times, a double click shows the whole range again.
    zoomed = facts.ticks_after_zoom
    assert zoomed and zoomed != facts.x_ticks and len(zoomed) == len(set(zoomed)), zoomed
    assert facts.ticks_after_pan and facts.ticks_after_pan != zoomed, facts.ticks_after_pan
    assert facts.ticks_after_reset == facts.x_ticks
    # Ticks for any span in view: some, never two alike, and the year named from four months on.
    for days, labels in facts.tick_spans.items():
        assert labels and len(labels) == len(set(labels)), (days, labels)
        if float(days) > 120:
            assert all(label[-4:].isdigit() for label in labels), (days, labels)


def check_pages(base: str, paths: dict[str, str], prefix: str) -> None:
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
