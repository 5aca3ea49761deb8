"""Dashboard benchmark: a year of five-minute checks for 30 colorways x 25 shops, then page timings.

Prints the time of each page's queries (target <= 200 ms) and the time to first render of the
colorway chart in Chromium (target <= 2 s).

    python -m bench.bench_dashboard [--days 365] [--no-browser] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

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
                    "style_code": f"M2002R{chr(65 + i // 26)}{chr(65 + i % 26)}",
                    "name": f"2002R colorway {i:02d}",
                    "line": "Protection Pack" if i < 6 else "2002R",
                    "list_prices": {"USD": "150" if i < 6 else "130"},
                    "target_prices": {},
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
            price = Decimal(150 if (lid - 1) // SHOPS < 6 else 130)
            while moment < now:
                in_stock = rnd.random() > 0.25
                sizes = [
                    {
                        "size": z,
                        "availability": "InStock"
                        if in_stock and rnd.random() > 0.4
                        else "OutOfStock",
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
                price = max(Decimal(60), price + Decimal(rnd.choice([-15, -10, -5, 5, 10])))
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
                    "style_code": f"M2002R{chr(65 + c // 26)}{chr(65 + c % 26)}",
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


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, float]:
    """(first call, median of the following) in milliseconds."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(runs)


def page_queries(engine: Engine, now: datetime) -> dict[str, Callable[[], Any]]:
    """The db.queries calls each page makes on a cache miss."""
    codes = [c.style_code for c in queries.colorways(engine, watched_only=True)]

    def overview() -> None:
        queries.overview(engine, now, style_codes=codes)
        queries.discovered_listings(engine)
        queries.table_counts(engine)

    def colorway(days: int | None) -> Callable[[], None]:
        def run() -> None:
            since = None if days is None else now - timedelta(days=days)
            points = queries.price_points(engine, [1], since)
            segs = queries.segments(points, since or min(p.observed_at for p in points), now)
            queries.range_stats(segs, "USD", now)
            queries.latest_offers(engine, [1])
            queries.events(engine, colorway_id=1)

        return run

    return {
        "overview": overview,
        "colorway 30 d": colorway(30),
        "colorway all": colorway(None),
        "releases": lambda: queries.releases(engine),
        "alerts": lambda: (
            queries.deliveries(engine),
            queries.delivery_counts(engine),
            queries.events(engine),
        ),
        "health": lambda: queries.source_health(engine, now),
    }


def browser_render(config: Path, runs: int = 3) -> list[float]:
    """Seconds from navigation to the colorway chart's canvas, in Chromium."""
    from playwright.sync_api import sync_playwright

    from dashboard.serve import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = serve(config, "127.0.0.1", port)
    out = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page.goto(
                    f"http://127.0.0.1:{port}/colorway?style=M2002RAA",
                    wait_until="domcontentloaded",
                )
                page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)
                out.append(time.perf_counter() - t0)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def main() -> None:
    """Generate, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--database-url", help="an empty database to fill (default: a temporary SQLite file)"
    )
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    counts = generate(engine, now, args.days)
    print(
        f"generated in {time.perf_counter() - t0:.0f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    print(f"{'page':<16}{'first ms':>10}{'median ms':>11}")
    for name, fn in page_queries(engine, now).items():
        first, median = timed(fn)
        flag = "" if median <= 200 else "  (over the 200 ms target)"
        print(f"{name:<16}{first:>10.1f}{median:>11.1f}{flag}")
    if not args.no_browser:
        config = tmp / "config.toml"
        config.write_text(f'database_url = "{url}"\n', encoding="utf-8")
        renders = browser_render(config)
        print(
            "colorway page, navigation to chart: "
            + ", ".join(f"{r:.2f} s" for r in renders)
            + f" (median {statistics.median(renders):.2f} s; first one includes the server's cold start)"
        )


if __name__ == "__main__":
    main()
