"""Check-pass benchmarks: 1,000 product URLs over a slow local store, and change-only storage.

    .venv/bin/python bench/bench_check.py [--urls 1000] [--latency 0.05] [--connections 8]

Prints: wall time of one pass (cold, then warm with ETags -> 304s), CPU per check in this
process (the store runs in a separate process), the ideal wall time for that latency and
concurrency (urls / connections x latency) as the baseline ratio, and observation rows written
by 10,000 unchanged checks of one listing, with the time and SQL statements each took.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.engine import make_engine  # noqa: E402
from db.models import Observation  # noqa: E402
from tracker.config import parse_text  # noqa: E402
from tracker.fetch import Fetcher  # noqa: E402
from tracker.pipeline import Pipeline  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_store(latency: float, products: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker.demo",
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--bench-products",
            str(products),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/bench/p/0.html", timeout=2)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the demo store did not start")


def config_text(db_url: str, urls: list[str], connections: int) -> str:
    listed = ",\n".join(f'  "{u}"' for u in urls)
    return f"""
database_url = "{db_url}"
[defaults]
timeout = "30s"
retries = 0
per_host_concurrency = {connections}
per_host_delay = "0s"
respect_robots = false

[[colorways]]
name = "Bench"
style_code = "M2002RDA"
list_price = {{ USD = 150 }}

[[sources]]
name = "Bench"
kind = "page"
currency = "USD"
urls = [
{listed}
]
"""


async def one_pass(pipeline: Pipeline) -> tuple[float, float, object]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = await pipeline.check("Bench")
    return time.perf_counter() - wall0, time.process_time() - cpu0, summary


async def run_passes(config_text_: str, db_url: str) -> list[tuple[float, float, object]]:
    config = parse_text(config_text_)
    engine = make_engine(db_url)
    out = []
    async with Fetcher(config.defaults) as fetcher:
        pipeline = Pipeline(config, engine, fetcher)
        for _ in range(2):
            out.append(await one_pass(pipeline))
    return out


async def unchanged_checks(base: str, db_url: str, n: int) -> tuple[int, float, float]:
    """Observation rows after n checks of one unchanged listing, seconds, and SQL statements per check."""
    config = parse_text(config_text(db_url, [base + "/bench/p/1.html"], 1))
    engine = make_engine(db_url)
    statements = [0]

    def count(*args: object) -> None:
        statements[0] += 1

    async with Fetcher(config.defaults) as fetcher:
        pipeline = Pipeline(config, engine, fetcher)
        await pipeline.check("Bench")  # the first check writes the listing; the others find it unchanged
        sa.event.listen(engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        for _ in range(n):
            await pipeline.check("Bench")
        elapsed = time.perf_counter() - t0
        sa.event.remove(engine, "before_cursor_execute", count)
    with Session(engine) as session:
        rows = int(session.exec(select(sa.func.count()).select_from(Observation)).one())
    return rows, elapsed, statements[0] / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--unchanged", type=int, default=10_000)
    args = parser.parse_args()
    proc, base = start_store(args.latency, args.urls)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db_url = f"sqlite:///{tmp}/bench.db"
            urls = [f"{base}/bench/p/{i}.html" for i in range(args.urls)]
            passes = asyncio.run(run_passes(config_text(db_url, urls, args.connections), db_url))
            ideal = args.urls / args.connections * args.latency
            for label, (wall, cpu, summary) in zip(("cold (200s)", "warm (304s)"), passes, strict=True):
                print(
                    f"{label}: {args.urls} URLs, {args.connections} connections/host, "
                    f"{args.latency * 1000:.0f} ms latency: wall {wall:.2f} s (target <= 10 s; "
                    f"ideal {ideal:.2f} s, ratio {wall / ideal:.2f}x), CPU {cpu / args.urls * 1000:.2f} ms "
                    f"per check (target <= 3 ms); {summary}"
                )
        proc.kill()
        proc.wait()
        proc, base = start_store(0.0, 2)
        with tempfile.TemporaryDirectory() as tmp:
            rows, elapsed, statements = asyncio.run(
                unchanged_checks(base, f"sqlite:///{tmp}/u.db", args.unchanged)
            )
            print(
                f"{args.unchanged} unchanged checks of one listing: {rows} observation row(s) "
                f"(target 1), {elapsed / args.unchanged * 1000:.2f} ms and {statements:.0f} SQL "
                "statements per check"
            )
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
