"""JS-rendered pages through real headless Chromium, against a local shop whose page its JavaScript fills.

The shop's product page is an empty shell; its script asks a JSON API for the price and sizes. A
plain fetch reads "no product"; render = true reads the product. The browser is shared, each
check gets a fresh context, images and fonts are never asked for, pages open at once are capped,
the browser is recycled and closed when idle, robots.txt and backoff apply, and no Chromium
process is left after a check, a timeout or SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tracker.config import Defaults, Render, Source, parse_text
from tracker.demo.jsshop import ABOUT_STORY, STYLE_CODE, JSShop
from tracker.errors import FetchError
from tracker.extract import extract_page
from tracker.fetch import Fetcher
from tracker.fetch.render import QUIET_SECONDS, owned_browsers, process_group, render

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
TRACKER = [sys.executable, "-m", "tracker.cli"]


@pytest.fixture
def shop() -> Iterator[JSShop]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    with JSShop() as running:
        yield running


def _source(url: str, **extra: Any) -> Source:
    return Source(name="js", kind="page", url=url, render=True, currency="USD", **extra)


def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with_fetcher(
    body: Callable[[Fetcher], Awaitable[Any]], *, render: Render | None = None, **defaults: Any
) -> Any:
    settings = {"per_host_delay": 0.0, "per_host_concurrency": 8, **defaults}
    async with Fetcher(Defaults(**settings), render=render or Render()) as fetcher:
        return await body(fetcher)


def _no_browser_left(groups: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(process_group(g) for g in groups) and not owned_browsers(os.getpid()):
            return
        time.sleep(0.1)
    pytest.fail(f"Chromium processes left over: {[process_group(g) for g in groups]}")


def test_rendered_page_is_read_and_the_plain_one_is_not(shop: JSShop) -> None:
    async def body(fetcher: Fetcher) -> tuple[Any, ...]:
        src = _source(shop.product_url)
        plain = await fetcher.fetch(shop.product_url, source=src)
        first = await render(fetcher, shop.product_url, source=src)
        second = await render(fetcher, shop.product_url, source=src)
        return plain, first, second, list(fetcher.renderer.stats.browser_pids)

    plain, first, second, groups = _run(_with_fetcher(body))
    unread = extract_page(plain.body, plain.final_url, currency="USD")
    assert unread.price is None and not unread.sizes
    product = extract_page(first.body, first.final_url, currency="USD")
    assert (product.price, product.currency, product.style_code) == (Decimal("150.00"), "USD", STYLE_CODE)
    assert product.availability.value == "InStock"
    assert [(s.size, s.availability.value) for s in product.sizes] == [
        ("9", "InStock"), ("9.5", "OutOfStock"), ("10", "InStock"), ("10.5", "InStock"),
    ]  # fmt: skip
    # A fresh context per check: the cookie the first visit set is not sent on the second.
    assert 'id="visits">1<' in first.body.decode() and 'id="visits">1<' in second.body.decode()
    # Images and fonts are never requested; one browser served both checks.
    assert not any(path.startswith(("/img/", "/fonts/")) for path in shop.hits)
    assert len(groups) == 1
    _no_browser_left(groups)


def test_a_page_without_a_product_is_read_once_quiet_and_a_slow_or_moved_product_is_waited_for(
    shop: JSShop,
) -> None:
    # The about page shows no product: it is read once quiet (no request in flight, its document
    # unchanged for QUIET_SECONDS), with what its script wrote, not at the 30 s timeout. The product
    # page's price comes from an API answering after longer than that quiet: a request in flight is
    # not quiet, so the product is waited for.
    shop.state.api_delay = QUIET_SECONDS + 1.5

    async def body(fetcher: Fetcher) -> tuple[Any, ...]:
        about = await render(fetcher, shop.about_url, source=_source(shop.about_url))
        quiet = fetcher.renderer.stats.quiet_reads
        product = await render(fetcher, shop.product_url, source=_source(shop.product_url))
        # An old address whose script sends the browser on to the product: followed, not an error.
        moved = await render(fetcher, shop.moved_url, source=_source(shop.moved_url))
        stats = fetcher.renderer.stats
        return about, quiet, product, moved, stats.quiet_reads, list(stats.browser_pids)

    about, quiet, product, moved, quiet_after, groups = _run(_with_fetcher(body, render=Render(timeout=30)))
    assert ABOUT_STORY in about.body.decode()
    assert quiet == 1
    read = extract_page(product.body, product.final_url, currency="USD")
    assert read.price == Decimal("150.00")
    followed = extract_page(moved.body, moved.final_url, currency="USD")
    assert moved.final_url == shop.product_url and followed.price == Decimal("150.00")
    assert quiet_after == 1  # both product pages ended on their product, not on quiet
    _no_browser_left(groups)


def test_pages_open_at_once_are_capped(shop: JSShop) -> None:
    shop.state.api_delay = 0.4

    async def body(fetcher: Fetcher) -> Any:
        src = _source(shop.product_url)
        await asyncio.gather(*(render(fetcher, shop.product_url, source=src) for _ in range(5)))
        return fetcher.renderer.stats

    stats = _run(_with_fetcher(body, render=Render(max_open_pages=2)))
    assert stats.pages == 5
    assert stats.open_peak == 2


def test_the_browser_is_recycled_after_n_pages_and_over_the_memory_cap(shop: JSShop) -> None:
    async def body(fetcher: Fetcher) -> Any:
        src = _source(shop.product_url)
        for _ in range(5):
            await render(fetcher, shop.product_url, source=src)
        return fetcher.renderer.stats

    stats = _run(_with_fetcher(body, render=Render(recycle_after=2)))
    assert (stats.pages, stats.launches, stats.recycles) == (5, 3, 2)
    _no_browser_left(stats.browser_pids)

    # Chromium uses well over 128 MB: with that cap every page retires its browser.
    stats = _run(_with_fetcher(body, render=Render(memory_cap_mb=128)))
    assert stats.peak_memory > 128 * 1024 * 1024
    assert stats.launches == 5
    _no_browser_left(stats.browser_pids)


def test_an_idle_browser_is_closed(shop: JSShop) -> None:
    async def body(fetcher: Fetcher) -> list[int]:
        await render(fetcher, shop.product_url, source=_source(shop.product_url))
        groups = list(fetcher.renderer.stats.browser_pids)
        assert process_group(groups[0])
        deadline = time.monotonic() + 15
        while process_group(groups[0]) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not process_group(groups[0]), "the idle browser is still running"
        # The next check starts a new one.
        await render(fetcher, shop.product_url, source=_source(shop.product_url))
        return list(fetcher.renderer.stats.browser_pids)

    groups = _run(_with_fetcher(body, render=Render(idle_close=0.5)))
    assert len(groups) == 2
    _no_browser_left(groups)


def test_robots_and_backoff_apply_to_rendering(shop: JSShop) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async def body(fetcher: Fetcher) -> Any:
        shop.state.fail_page = 1
        result = await render(fetcher, shop.product_url, source=_source(shop.product_url))
        shop.state.robots = "User-agent: *\nDisallow: /products/\n"
        fetcher._robots.clear()  # robots.txt is cached for a day; read the new one now
        with pytest.raises(FetchError) as refused:
            await render(fetcher, shop.product_url, source=_source(shop.product_url))
        return result, refused.value

    async def run() -> Any:
        settings = Defaults(per_host_delay=0.0)
        async with Fetcher(settings, render=Render(), sleep=no_wait) as fetcher:
            return await body(fetcher), list(fetcher.waits)

    (result, refused), fetcher_waits = _run(run())
    # 503 with Retry-After: 1, then the page: one retry after the shop's wait.
    assert result.status_code == 200 and result.attempts == 2
    assert fetcher_waits == [1.0]
    assert refused.kind == "robots"
    assert shop.hits["/products/new-balance-2002r-rain-cloud"] == 2  # the refused render asked nothing


def test_per_host_delay_spaces_rendered_page_loads(shop: JSShop) -> None:
    async def body(fetcher: Fetcher) -> list[float]:
        src = _source(shop.product_url, per_host_delay=0.5)
        await asyncio.gather(*(render(fetcher, shop.product_url, source=src) for _ in range(3)))
        return list(fetcher.delays)

    delays = _run(_with_fetcher(body))
    assert len(delays) >= 2 and all(d > 0 for d in delays)


def test_wait_for_selector_timeout_is_a_timeout(shop: JSShop) -> None:
    shop.state.api_delay = 30

    async def body(fetcher: Fetcher) -> Any:
        src = _source(shop.product_url, wait_for=".product-price:not(:empty)")
        with pytest.raises(FetchError) as failed:
            await render(fetcher, shop.product_url, source=src)
        return failed.value, list(fetcher.renderer.stats.browser_pids)

    error, groups = _run(_with_fetcher(body, render=Render(timeout=2)))
    assert error.kind == "timeout" and "wait_for" in str(error)
    _no_browser_left(groups)


# -- the tracker as a real process -----------------------------------------------------------------


def _config(tmp_path: Path, shop: JSShop, *, timeout: str = "20s", wait_for: str | None = None) -> Path:
    wait = f'wait_for = "{wait_for}"\n' if wait_for else ""
    text = f"""database_url = "sqlite:///tracker.db"

[defaults]
per_host_delay = "0s"

[render]
timeout = "{timeout}"

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "{STYLE_CODE}"
list_price = {{ USD = 150 }}

[[sources]]
name = "JS shop plain"
kind = "page"
url = "{shop.product_url}"
currency = "USD"

[[sources]]
name = "JS shop rendered"
kind = "page"
url = "{shop.product_url}?rendered"
currency = "USD"
render = true
{wait}"""
    parse_text(text)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _start(config: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [*TRACKER, "--config", str(config), *args],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _watch_browsers(proc: subprocess.Popen[str], until: Callable[[], bool], seconds: float = 60) -> list[int]:
    """The browsers (process groups) the tracker process starts, until the condition holds."""
    groups: set[int] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        groups.update(owned_browsers(proc.pid))
        if until() and groups:
            break
        time.sleep(0.05)
    return sorted(groups)


def _gone(proc_pid: int, groups: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not owned_browsers(proc_pid) and not any(process_group(g) for g in groups):
            return
        time.sleep(0.1)
    pytest.fail(f"Chromium left after the tracker ended: {[process_group(g) for g in groups]}")


def _runs(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select s.name, r.status from check_runs r join sources s on s.id = r.source_id order by r.id"
        ).fetchall()
    return dict(rows)


def test_tracker_check_reads_the_js_shop_only_when_rendering(shop: JSShop, tmp_path: Path) -> None:
    shop.state.api_delay = 0.5  # long enough to see the browser while it works
    config = _config(tmp_path, shop)
    proc = _start(config, "check", "--json", "--quiet")
    groups = _watch_browsers(proc, lambda: False)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summaries = {s["source"]: s for s in json.loads(out)}
    assert summaries["JS shop plain"]["status"] == "not_product"
    assert summaries["JS shop rendered"]["status"] == "ok"
    with sqlite3.connect(tmp_path / "tracker.db") as conn:
        price, currency, sizes = conn.execute(
            "select o.price, o.currency, o.sizes from observations o join listings l on l.id = o.listing_id"
        ).fetchone()
    assert (Decimal(str(price)), currency) == (Decimal("150"), "USD")
    assert [s["size"] for s in json.loads(sizes)] == ["9", "9.5", "10", "10.5"]
    assert groups, "no browser was seen while the check rendered"
    _gone(proc.pid, groups)


def test_no_chromium_left_after_a_timeout(shop: JSShop, tmp_path: Path) -> None:
    shop.state.api_delay = 30
    config = _config(tmp_path, shop, timeout="2s", wait_for=".product-price:not(:empty)")
    proc = _start(config, "check", "--json", "--quiet", "--source", "JS shop rendered")
    groups = _watch_browsers(proc, lambda: False)
    out, err = proc.communicate(timeout=120)
    assert json.loads(out)[0]["status"] == "timeout", err
    _gone(proc.pid, groups)


@pytest.mark.parametrize("command", [["check", "--quiet"], ["run", "--no-dashboard"]])
def test_no_chromium_left_after_sigterm(shop: JSShop, tmp_path: Path, command: list[str]) -> None:
    shop.state.api_delay = 60  # the render is still waiting when the signal comes
    config = _config(tmp_path, shop)
    proc = _start(config, *command)
    try:
        groups = _watch_browsers(
            proc, lambda: shop.hits["/api/products/new-balance-2002r-rain-cloud.json"] > 0
        )
        assert groups, "the tracker never started a browser"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 143), err
    _gone(proc.pid, groups)
    assert _runs(tmp_path / "tracker.db")["JS shop rendered"] == "cancelled"
