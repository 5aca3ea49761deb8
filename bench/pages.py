"""Every dashboard page in Chromium, as a person sees it: screenshots at desktop and phone sizes, what
the price chart draws, whether the phone has to scroll sideways, and how long each page takes.

Used by the browser tests (tests/test_browser*.py: seeded, demo and 25-shop databases) and by
bench/bench_dashboard.py (on a year of data). Chromium is Debian's (/usr/bin/chromium), driven by Playwright.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": (1400, 1000), "phone": (390, 844)}
# What shows that a page has finished: its own content, not just the app's frame.
READY = {
    "overview": ".ov-row[data-style], [data-testid=stAlert]",
    "colorway": ".pc-chart svg .pc-x text, [data-testid=stAlert]",
    "releases": "[data-testid=stDataFrame], [data-testid=stAlert]",
    "watchlist": "[data-testid=stForm]",
    "shops": "h1",
    "inbox": "h1",
    "alerts": "[data-testid=stMetric]",
    "health": "[data-testid=stDataFrame], [data-testid=stAlert]",
    "baseline": "h1",
}


# The pages' headings, to tell the page reached from the one left (the colorway's is its name).
TITLES = {
    "overview": "2002R overview",
    "releases": "Releases",
    "watchlist": "Watchlist",
    "shops": "Shops",
    "inbox": "Inbox",
    "alerts": "Alerts",
    "health": "Source health",
}


def page_paths(style: str | None = None, range_param: str = "30d") -> dict[str, str]:
    """Page name -> path (the colorway page on one colorway and range when given)."""
    colorway = f"colorway?style={style}&range={range_param}" if style else "colorway"
    return {
        "overview": "overview",
        "colorway": colorway,
        "releases": "releases",
        "watchlist": "watchlist",
        "shops": "shops",
        "inbox": "inbox",
        "alerts": "alerts",
        "health": "health",
    }


def _stat(pid: int | str) -> list[str] | None:
    """A process's /proc stat fields after its name (state, ppid, ...); None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def cpu_of(pid: int | str) -> float:
    """A process's own CPU seconds so far (utime + stime); 0 once it is gone."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        fields = _stat(entry) if entry.isdigit() else None
        if fields is not None:
            out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def descendants_cpu(root: int, exclude: int) -> float:
    """CPU seconds of root's live descendants (not exclude's), with what their reaped children used:
    from the bench's own process, the browser and its driver, without the server it measures."""
    children = _children()
    total = 0
    stack = [pid for pid in children.get(root, []) if pid != exclude]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's browser object)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def load(page: Any, url: str, name: str, *, timeout: float = 90.0) -> float:
    """Open a page and wait for its own content; seconds from navigation to ready."""
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    # Streamlit keeps rendering until the script ends: its content there and its status quiet, looked
    # at on every frame. (A locator's wait looks again only every 500 ms once it has waited 0.3 s,
    # which added up to half a second to a page's time: the overview's p50 read 1.25 s, not 0.72 s.)
    page.wait_for_function(
        "(ready) => document.querySelector(ready) && !document.querySelector('[data-testid=stStatusWidget]')",
        arg=READY[name],
        polling="raf",
        timeout=timeout * 1000,
    )
    return time.perf_counter() - started


def switch(page: Any, name: str, *, timeout: float = 90.0) -> float:
    """Go to a page by its link in the navigation, as a person moves around the running app (no new
    session, no reload); seconds from the click to its content."""
    # The overview is the default page: its link is the app's root.
    path = "" if name == "overview" else page_paths()[name]
    link = page.locator(f'[data-testid=stSidebarNav] a[href$="/{path}"]').first
    started = time.perf_counter()
    link.click()
    page.wait_for_url(f"**/{path}" if not path else f"**/{path}**", timeout=timeout * 1000)
    page.wait_for_function(
        "([sel, title]) => { const h = document.querySelector('h1');"
        " return h && (!title || h.textContent.trim() === title) && document.querySelector(sel)"
        " && !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-stale=true]'); }",
        arg=[READY[name], TITLES.get(name, "")],
        timeout=timeout * 1000,
    )
    return time.perf_counter() - started


@dataclass
class ChartFacts:
    """What the colorway chart draws, read from its SVG and its tooltip."""

    lowest_width: float = 0.0  # stroke width of the bold lowest line (0: none)
    shop_widths: list[float] = field(default_factory=list)
    rule_colors: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # texts drawn in the plot (rules, markers)
    x_ticks: list[str] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    tooltip: str = ""
    scrolled_by_wheel: float = 0.0  # how far the page moved when the wheel turned over the chart
    ticks_after_wheel: list[str] = field(default_factory=list)
    ticks_after_zoom: list[str] = field(default_factory=list)  # shift + wheel towards the screen
    ticks_after_pan: list[str] = field(default_factory=list)  # then shift + drag to the right
    ticks_after_reset: list[str] = field(default_factory=list)  # then a double click
    # The chart script's tick labels for spans (in days) ending 2026-03-01 12:00 on the wall clock.
    tick_spans: dict[str, list[str]] = field(default_factory=dict)


_CHART_JS = """(lowest) => {
  const svg = document.querySelector('.pc-chart svg');
  const widths = (sel) => Array.from(svg.querySelectorAll(sel)).map(p => [p.getAttribute('stroke'),
      parseFloat(p.getAttribute('stroke-width') || '0')]);
  const lines = widths('path.pc-lowest, path.pc-shop');
  return {
    lowest: lines.filter(([c]) => (c || '').toUpperCase() === lowest).map(([, w]) => w),
    shops: lines.filter(([c]) => (c || '').toUpperCase() !== lowest).map(([, w]) => w),
    rules: Array.from(svg.querySelectorAll('line.pc-rule')).map(l => l.getAttribute('stroke')),
    labels: Array.from(svg.querySelectorAll('text.pc-label')).map(t => t.textContent),
    ticks: Array.from(svg.querySelectorAll('g.pc-x text')).map(t => t.textContent),
    legend: Array.from(document.querySelectorAll('.pc-chart .pc-key')).map(k => k.textContent),
  };
}"""


_TICKS_READY = "() => !!document.querySelector('.pc-chart svg g.pc-x text')"

_TICK_SPANS_JS = """(days) => {
  const end = Date.UTC(2026, 2, 1, 12, 0) / 60000;
  return Object.fromEntries(days.map(d => [String(d),
      window.__priceChart.ticks(end - Math.round(d * 1440), end).map(t => t[1])]));
}"""
TICK_SPANS = (0.05, 0.125, 0.8, 2, 7, 30, 90, 365, 800, 1500)


def _scroll_top(page: Any) -> float:
    return float(
        page.evaluate(
            "() => (document.querySelector('[data-testid=stMain]') || document.scrollingElement).scrollTop"
        )
    )


def chart_facts(page: Any, lowest_color: str) -> ChartFacts:
    """Read the chart, hover its middle for the crosshair tooltip, turn the wheel over it."""
    page.wait_for_function(_TICKS_READY, timeout=60_000)
    raw = page.evaluate(_CHART_JS, lowest_color.upper())
    facts = ChartFacts(
        lowest_width=max(raw["lowest"], default=0.0),
        shop_widths=raw["shops"],
        rule_colors=[c.upper() for c in raw["rules"] if c],
        labels=raw["labels"],
        x_ticks=raw["ticks"],
        legend=raw["legend"],
    )
    # The crosshair's own hit area covers the plot and nothing else.
    box = page.locator(".pc-chart svg rect.pc-hit").first.bounding_box()
    if box:
        x, y = box["x"] + box["width"] * 0.55, box["y"] + min(box["height"], 300) * 0.5
        page.mouse.move(x, y)
        from playwright.sync_api import TimeoutError as NoTooltip

        tooltip = page.locator(".pc-chart .pc-tip")
        try:
            tooltip.wait_for(state="visible", timeout=5000)
            facts.tooltip = tooltip.inner_text()
        except NoTooltip:  # no tooltip is a fact the caller asserts on
            facts.tooltip = ""
        before = _scroll_top(page)
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(600)
        facts.scrolled_by_wheel = _scroll_top(page) - before
        facts.ticks_after_wheel = page.evaluate(_CHART_JS, lowest_color.upper())["ticks"]
        hit = page.locator(".pc-chart svg rect.pc-hit").first
        hit.scroll_into_view_if_needed()
        box = hit.bounding_box() or box
        x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
        page.mouse.move(x, y)
        page.keyboard.down("Shift")
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(300)
        facts.ticks_after_zoom = page.evaluate(_CHART_JS, lowest_color.upper())["ticks"]
        page.mouse.down()
        page.mouse.move(x + box["width"] * 0.3, y, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        facts.ticks_after_pan = page.evaluate(_CHART_JS, lowest_color.upper())["ticks"]
        page.mouse.dblclick(x, y)
        page.wait_for_timeout(300)
        facts.ticks_after_reset = page.evaluate(_CHART_JS, lowest_color.upper())["ticks"]
    facts.tick_spans = page.evaluate(_TICK_SPANS_JS, list(TICK_SPANS))
    return facts


_OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const main = document.querySelector('[data-testid=stMain]') || document.scrollingElement;
  const rows = Array.from(document.querySelectorAll('.ov-row[data-style]'));
  const beyond = rows.filter(r => r.getBoundingClientRect().right > width + 1).length;
  return {doc: document.scrollingElement.scrollWidth, main: main.scrollWidth, width,
          rows: rows.length, beyond};
}"""


def sideways(page: Any) -> dict[str, int]:
    """How wide the page is against the window, and overview rows reaching past its right edge."""
    return dict(page.evaluate(_OVERFLOW_JS))


@dataclass
class Visit:
    """One page at one viewport: where its screenshot is and how long it took."""

    name: str
    viewport: str
    seconds: float
    screenshot: Path
    exceptions: int
    overflow: dict[str, int]


def screenshot_all(browser: Any, base: str, out: Path, paths: dict[str, str], prefix: str) -> list[Visit]:
    """Every page at desktop and phone size, full-page screenshots under out/PREFIX-PAGE-VIEWPORT.png."""
    out.mkdir(parents=True, exist_ok=True)
    visits = []
    for viewport, (width, height) in VIEWPORTS.items():
        page = browser.new_page(viewport={"width": width, "height": height})
        for name, path in paths.items():
            seconds = load(page, f"{base}/{path}", name)
            page.wait_for_timeout(800)  # images and the chart's last frame
            shot = out / f"{prefix}-{name}-{viewport}.png"
            page.screenshot(path=str(shot), full_page=True)
            visits.append(
                Visit(name, viewport, seconds, shot, page.locator(".stException").count(), sideways(page))
            )
        page.close()
    return visits
