"""Dashboard benchmark: a year of five-minute checks for 30 colorways x 25 shops, then page timings.

Prints each page's queries on a cache miss, p50 / p95 over --query-runs runs (target: p95 <= 100 ms),
then in Chromium: the first page after a server start (target <= 3 s), and each page warm and cold,
p50 / p95 over --loads loads (targets: warm p95 <= 1 s, cold p95 <= 2 s). A cold load comes after
Streamlit's caches (st.cache_data and st.cache_resource) were cleared, as a change of the data leaves
them. Last, the CPU of the server and of Chromium while one colorway tab stays open and untouched
for 30 s (the inbox watcher's cost to someone who keeps a tab open all day). The generated
database is kept: pass its URL back with --database-url to reuse it.
--screenshots DIR saves every page at 1400x1000 and 390x844.

    python -m bench.bench_dashboard [--days 365] [--database-url URL] [--no-browser] [--loads 10]
                                    [--query-runs 20] [--screenshots test-output]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from db import queries
from db.engine import make_engine

COLORWAYS = 30
SHOPS = 25
CHECK_EVERY = timedelta(minutes=5)
SIZES = ["7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13"]


def _tables() -> dict[str, Any]:
    return dict(SQLModel.metadata.tables)


def _next_price(rnd: random.Random, price: Decimal, list_price: Decimal) -> Decimal:
    """A shop's next price: small moves around the list price, now and then a markdown or its end."""
    if rnd.random() < 0.04:
        return (list_price * Decimal(rnd.choice(["0.7", "0.75", "0.8"]))).quantize(Decimal("1"))
    if price < list_price and rnd.random() < 0.15:
        return list_price  # the sale ends
    step = Decimal(rnd.choice([-10, -5, -5, 0, 5, 5, 10]))
    return min(max(price + step, list_price * Decimal("0.6")), list_price * Decimal("1.25")).quantize(
        Decimal("1")
    )


def config_text(database_url: str, timezone: str = "America/New_York") -> str:
    """A config.toml for the generated catalogue: every colorway watched, in sizes 9 and 10."""
    lines = [f'database_url = "{database_url}"', f'timezone = "{timezone}"', ""]
    for i in range(COLORWAYS):
        pack = i < 6
        lines += [
            "[[colorways]]",
            f'name = "2002R colorway {i:02d}"',
            f'style_code = "{style_code(i)}"',
            f'line = "{"Protection Pack" if pack else "2002R"}"',
            f"list_price = {{ USD = {150 if pack else 130} }}",
            f"target_price = {{ USD = {120 if pack else 105} }}",
            'sizes = ["9", "10"]',
            "watched = true",
            "",
        ]
    return "\n".join(lines)


def style_code(i: int) -> str:
    """The generated colorway's style code: M2002RAA, M2002RAB..."""
    return f"M2002R{chr(65 + i // 26)}{chr(65 + i % 26)}"


def generate(engine: Engine, now: datetime, days: int, seed: int = 2002) -> dict[str, int]:
    """Fill the database the way the pipeline would: change-only observations, a run per check."""
    rnd = random.Random(seed)
    t = _tables()
    start = now - timedelta(days=days)
    counts = {"observations": 0, "check_runs": 0, "events": 0, "deliveries": 0}
    with engine.begin() as conn:
        conn.execute(
            t["colorways"].insert(),
            [
                {
                    "style_code": style_code(i),
                    "name": f"2002R colorway {i:02d}",
                    "line": "Protection Pack" if i < 6 else "2002R",
                    "list_prices": {"USD": "150" if i < 6 else "130"},
                    "target_prices": {"USD": "120" if i < 6 else "105"},
                    "sizes": ["9", "10"],
                    "watched": True,
                    "in_config": True,
                    "release_date": (now + timedelta(days=rnd.randint(-300, 60))).date(),
                }
                for i in range(COLORWAYS)
            ],
        )
        conn.execute(
            t["sources"].insert(),
            [
                {
                    "name": f"Shop {i:02d}",
                    "kind": "shopify" if i % 3 else "page",
                    "url": f"https://shop{i}.example/",
                    "enabled": True,
                    "consecutive_failures": 0,
                    "broken": i == 7,
                    "last_checked_at": now,
                    "last_status": "ok",
                    "baseline_done": True,
                }
                for i in range(SHOPS)
            ],
        )
        listings = []
        for c in range(COLORWAYS):
            for s in range(SHOPS):
                listings.append(
                    {
                        "source_id": s + 1,
                        "colorway_id": c + 1,
                        "external_id": f"p{c}-{s}",
                        "url": f"https://shop{s}.example/products/p{c}",
                        "title": f"New Balance 2002R colorway {c:02d}",
                        "style_code": None,
                        "discovered": False,
                        "first_seen_at": start,
                        "last_checked_at": now,
                        "gone": False,
                    }
                )
        conn.execute(t["listings"].insert(), listings)
        # Change-only observations: a few changes per listing per week.
        obs: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for lid in range(1, len(listings) + 1):
            moment = start
            list_price = Decimal(150 if (lid - 1) // SHOPS < 6 else 130)
            price = list_price
            while moment < now:
                in_stock = rnd.random() > 0.25
                sizes = [
                    {
                        "size": z,
                        "availability": "InStock" if in_stock and rnd.random() > 0.4 else "OutOfStock",
                        "price": str(price),
                    }
                    for z in SIZES
                ]
                obs.append(
                    {
                        "listing_id": lid,
                        "observed_at": moment,
                        "price": price,
                        "currency": "USD",
                        "availability": "InStock" if in_stock else "OutOfStock",
                        "sizes": sizes,
                        "suspect": rnd.random() < 0.01,
                    }
                )
                if rnd.random() < 0.5:
                    events.append(
                        {
                            "created_at": moment,
                            "kind": rnd.choice(["price_drop", "price_rise", "restock", "sold_out"]),
                            "source_id": (lid - 1) % SHOPS + 1,
                            "listing_id": lid,
                            "colorway_id": (lid - 1) // SHOPS + 1,
                            "message": f"listing {lid} changed",
                            "data": {"price": str(price)},
                        }
                    )
                price = _next_price(rnd, price, list_price)
                moment += timedelta(hours=rnd.uniform(24, 80))  # about 3 changes a week
        for i in range(0, len(obs), 20_000):
            conn.execute(t["observations"].insert(), obs[i : i + 20_000])
        counts["observations"] = len(obs)
        for i in range(0, len(events), 20_000):
            conn.execute(t["events"].insert(), events[i : i + 20_000])
        counts["events"] = len(events)
        deliveries = [
            {
                "event_id": i + 1,
                "channel": "phone",
                "status": "sent" if i % 50 else "failed",
                "attempts": 1,
                "next_attempt_at": e["created_at"],
                "created_at": e["created_at"],
                "sent_at": e["created_at"] if i % 50 else None,
            }
            for i, e in enumerate(events)
        ]
        for i in range(0, len(deliveries), 20_000):
            conn.execute(t["deliveries"].insert(), deliveries[i : i + 20_000])
        counts["deliveries"] = len(deliveries)
        conn.execute(
            t["releases"].insert(),
            [
                {
                    "colorway_id": c + 1,
                    "style_code": style_code(c),
                    "region": "global",
                    "release_date": (now + timedelta(days=c - 10)).date(),
                    "live": False,
                    "updated_at": now,
                }
                for c in range(COLORWAYS)
            ],
        )
    # A run record for every five-minute check of every shop.
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        moment = start
        while moment < now:
            for s in range(SHOPS):
                status = "ok" if rnd.random() > 0.03 else rnd.choice(["blocked", "error"])
                batch.append(
                    {
                        "source_id": s + 1,
                        "started_at": moment,
                        "finished_at": moment,
                        "status": status,
                        "duration_ms": rnd.randint(80, 900),
                        "bytes": 0,
                        "requests": 2,
                        "not_modified": rnd.randint(0, 2),
                        "listings_seen": COLORWAYS,
                        "observations_written": 0,
                        "events_created": 0,
                        "error": None if status == "ok" else "challenge page",
                    }
                )
            if len(batch) >= 50_000:
                conn.execute(t["check_runs"].insert(), batch)
                counts["check_runs"] += len(batch)
                batch = []
            moment += CHECK_EVERY
        if batch:
            conn.execute(t["check_runs"].insert(), batch)
            counts["check_runs"] += len(batch)
    return counts


QUERY_TARGET_MS = 100.0


def timed(fn: Callable[[], Any], repeat: int = 20) -> tuple[float, float, float]:
    """(first call, p50 and p95 of the following repeat calls) in milliseconds."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return first, _pct(runs, 0.5), _pct(runs, 0.95)


def page_queries(engine: Engine, now: datetime) -> dict[str, Callable[[], Any]]:
    """The db.queries calls each page makes on a cache miss."""
    codes = [c.style_code for c in queries.colorways(engine, watched_only=True)]

    def overview() -> None:
        queries.overview(engine, now, style_codes=codes)
        queries.discovered_listings(engine)
        queries.has_observations(engine)

    def colorway(days: int | None) -> Callable[[], None]:
        def run() -> None:
            since = None if days is None else now - timedelta(days=days)
            mine = queries.SizeMatcher(["9", "10"])
            queries.price_lines(engine, 1, since, now, preferred=("USD",), sizes=mine)
            queries.latest_offers(engine, [1])
            queries.events(engine, colorway_id=1)

        return run

    return {
        "overview": overview,
        "colorway 30 d": colorway(30),
        "colorway 1 y": colorway(365),
        "colorway all": colorway(None),
        "releases": lambda: queries.releases(engine),
        "alerts": lambda: (
            queries.deliveries(engine),
            queries.delivery_counts(engine),
            queries.events(engine),
        ),
        "health": lambda: queries.source_health(engine, now),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def first_page(config: Path, browser: Any, *, warmed: bool) -> tuple[float, float]:
    """(seconds from launching the server to the overview shown, of which the server's own start):
    the visitor arrives as soon as the server answers, or once its warm-up is done."""
    from bench.pages import load
    from dashboard.serve import serve

    port = _free_port()
    started = time.perf_counter()
    proc = serve(config, "127.0.0.1", port, wait_warm=warmed)
    up = time.perf_counter() - started
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        load(page, f"http://127.0.0.1:{port}/", "overview")
        page.close()
        return time.perf_counter() - t0, up
    finally:
        _stop(proc)


@dataclass
class Loads:
    """Seconds of one page's loads: opened by its address with full caches and with cleared ones, and
    reached from the navigation of the running app."""

    warm: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    switch: list[float] = field(default_factory=list)
    runs: tuple[float, float] = (0.0, 0.0)  # the page's script alone, p50 with full and cleared caches


def page_loads(config: Path, browser: Any, loads: int, style: str) -> dict[str, Loads]:
    """Per page, `loads` warm loads (caches full), cold ones (caches cleared first) and switches."""
    from bench.pages import load, page_paths, switch
    from dashboard.serve import serve
    from dashboard.warm import run_page

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(config, "127.0.0.1", port, wait_warm=True)
    out: dict[str, Loads] = {}
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, path in page_paths(style).items():
            got = out[name] = Loads()
            load(page, f"{base}/{path}", name)  # fills this page's caches
            got.warm = [load(page, f"{base}/{path}", name) for _ in range(loads)]
            for _ in range(loads):
                run_page(base, "health", clear_cache=True)  # a cheap page, run only to clear the caches
                got.cold.append(load(page, f"{base}/{path}", name))
            # The script's own time over the websocket, to show the clearing reaches the caches: a
            # cleared run must pay for the queries again.
            script = path.split("?")[0]
            full = [run_page(base, script) for _ in range(3)]
            cleared = [run_page(base, script, clear_cache=True) for _ in range(3)]
            got.runs = (_pct(full, 0.5), _pct(cleared, 0.5))
            other = "health" if name != "health" else "alerts"
            for _ in range(loads):
                switch(page, other)
                got.switch.append(switch(page, name))
        page.close()
    finally:
        _stop(proc)
    return out


def baseline_loads(browser: Any, loads: int) -> list[float]:
    """Seconds to load a Streamlit page that only writes a title, served the same way: the floor every
    page stands on (the app's shell, its websocket, one script run)."""
    from bench.pages import load

    script = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "baseline.py"
    script.write_text('import streamlit as st\n\nst.title("Baseline")\n', encoding="utf-8")
    port = _free_port()
    argv = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true"]
    argv += [f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)  # polling the server's health with a deadline
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"http://127.0.0.1:{port}/", "baseline")
        times = [load(page, f"http://127.0.0.1:{port}/", "baseline") for _ in range(loads)]
        page.close()
        return times
    finally:
        _stop(proc)


def idle_cpu(config: Path, browser: Any, seconds: float) -> tuple[float, float]:
    """CPU seconds the dashboard's server, and the browser showing it, spend while one colorway page
    stays open and untouched (its inbox watcher asks the server every second)."""
    from bench.pages import cpu_of, descendants_cpu, load, page_paths
    from dashboard.serve import serve

    port = _free_port()
    proc = serve(config, "127.0.0.1", port, wait_warm=True)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load(page, f"http://127.0.0.1:{port}/{page_paths(style_code(1))['colorway']}", "colorway")
        time.sleep(2)  # what the page's own loading left to do
        # The browser and its driver are this process's other children.
        before, browser_before = cpu_of(proc.pid), descendants_cpu(os.getpid(), proc.pid)
        time.sleep(seconds)  # the tab stays open, untouched
        spent = cpu_of(proc.pid) - before
        browser_spent = descendants_cpu(os.getpid(), proc.pid) - browser_before
        page.close()
        return spent, browser_spent
    finally:
        _stop(proc)


def browser_bench(config: Path, loads: int, screenshots: Path | None) -> None:
    """First page after a server start, then each page warm and cold, p50 / p95; screenshots."""
    from bench.pages import chromium, page_paths, screenshot_all
    from dashboard.serve import serve

    style = style_code(1)
    with chromium() as browser:
        for warmed in (False, True):
            seconds, up = first_page(config, browser, warmed=warmed)
            when = "after its warm-up" if warmed else "as soon as it answers"
            print(
                f"first page, visitor arriving {when}: {seconds:.2f} s "
                f"(server up in {up:.1f} s; target <= 3 s)"
            )
        base = baseline_loads(browser, loads)
        floor = _pct(base, 0.5)
        print(
            f"baseline (a Streamlit page with only a title): p50 {floor:.2f} s, p95 {_pct(base, 0.95):.2f} s"
        )
        print(
            f"{'page':<12}{'warm p50':>10}{'warm p95':>10}{'cold p50':>10}{'cold p95':>10}"
            f"{'switch p50':>12}{'switch p95':>12}{'warm/base':>11}{'run':>8}{'run cold':>9}"
            f"   ({loads} loads each, s; run: the page's script alone, p50 of 3)"
        )
        for name, got in page_loads(config, browser, loads, style).items():
            over = [
                f"{what} p95 over the {limit:.0f} s target"
                for what, values, limit in (("warm", got.warm, 1.0), ("cold", got.cold, 2.0))
                if _pct(values, 0.95) > limit
            ]
            flag = f"  ({'; '.join(over)})" if over else ""
            print(
                f"{name:<12}{_pct(got.warm, 0.5):>10.2f}{_pct(got.warm, 0.95):>10.2f}"
                f"{_pct(got.cold, 0.5):>10.2f}{_pct(got.cold, 0.95):>10.2f}"
                f"{_pct(got.switch, 0.5):>12.2f}{_pct(got.switch, 0.95):>12.2f}"
                f"{_pct(got.warm, 0.5) / floor:>10.1f}x{got.runs[0]:>8.2f}{got.runs[1]:>8.2f}{flag}"
            )
        idle = 30.0
        spent, browser_spent = idle_cpu(config, browser, idle)
        print(
            f"CPU with one colorway tab open and idle for {idle:.0f} s: server {spent:.2f} s "
            f"({100 * spent / idle:.1f} % of a core), Chromium {browser_spent:.2f} s "
            f"({100 * browser_spent / idle:.1f} %)"
        )
        if screenshots is not None:
            port = _free_port()
            proc = serve(config, "127.0.0.1", port, wait_warm=True)
            try:
                paths = page_paths(style, "1y")
                for visit in screenshot_all(browser, f"http://127.0.0.1:{port}", screenshots, paths, "year"):
                    print(f"screenshot {visit.screenshot} ({visit.seconds:.1f} s)")
            finally:
                _stop(proc)


def main() -> None:
    """Generate (or reuse), time the queries, then the pages in Chromium."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--database-url",
        help="a database to fill (default: a temporary SQLite file); one already filled is reused",
    )
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--loads", type=int, default=10, help="page loads per measure (default 10)")
    parser.add_argument("--query-runs", type=int, default=20, help="runs of each page's queries (default 20)")
    parser.add_argument(
        "--screenshots", type=Path, help="save every page of the year of data under this folder"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    if queries.table_counts(engine)["colorways"]:
        newest = queries.last_checked(engine)
        now = newest or now
        print(f"reusing {url}: " + ", ".join(f"{k} {v:,}" for k, v in queries.table_counts(engine).items()))
    else:
        t0 = time.perf_counter()
        counts = generate(engine, now, args.days)
        print(
            f"generated in {time.perf_counter() - t0:.0f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        print(f"kept: pass --database-url {url} to reuse it")
    print(f"{'queries':<16}{'first ms':>10}{'p50 ms':>9}{'p95 ms':>9}   ({args.query_runs} runs each)")
    for name, fn in page_queries(engine, now).items():
        first, p50, p95 = timed(fn, args.query_runs)
        flag = "" if p95 <= QUERY_TARGET_MS else f"  (p95 over the {QUERY_TARGET_MS:.0f} ms target)"
        print(f"{name:<16}{first:>10.1f}{p50:>9.1f}{p95:>9.1f}{flag}")
    if not args.no_browser:
        config = tmp / "config.toml"
        config.write_text(config_text(url), encoding="utf-8")
        browser_bench(config, args.loads, args.screenshots)


if __name__ == "__main__":
    main()
