"""Feed, calendar and API response times on the dashboard benchmark's year of data, over HTTP from
the real dashboard server.

Builds the same database as bench_dashboard (30 colorways x 25 shops, a year of five-minute checks),
serves it with `dashboard.serve`, and times each address: the first answer, the median and p95 of
the following full answers, and the median of a revalidation that ends in 304. The server's own
health check is the baseline measured in the same run (the cost of an HTTP round trip here).

    python -m bench.bench_feeds [--days 365] [--repeat 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.bench_dashboard import generate
from db.engine import make_engine

PATHS = [
    "/_stcore/health",
    "/calendar.ics",
    "/feed.atom",
    "/feed.json",
    "/feed.atom?colorway=M2002RAA&kind=restock",
    "/feed.json?limit=500",
    "/api/v1/colorways",
    "/api/v1/colorways/M2002RAA",
    "/api/v1/colorways/M2002RAA/prices",
    "/api/v1/colorways/M2002RAA/prices?since=all",
    "/api/v1/events?limit=200",
    "/api/v1/events?since=2000-01-01&limit=1000",
    "/api/v1/releases",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    """Milliseconds: first answer, median and p95 of full answers, median of 304 revalidations."""
    t0 = time.perf_counter()
    first = client.get(path)
    first_ms = (time.perf_counter() - t0) * 1000
    first.raise_for_status()
    full: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(path).raise_for_status()
        full.append((time.perf_counter() - t0) * 1000)
    revalidate: list[float] = []
    etag = first.headers.get("etag")
    if etag:
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = client.get(path, headers={"If-None-Match": etag})
            revalidate.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 304:
                raise AssertionError(f"{path}: {r.status_code} on revalidation, expected 304")
    return {
        "first": first_ms,
        "median": statistics.median(full),
        "p95": _p95(full),
        "304": statistics.median(revalidate) if revalidate else float("nan"),
        "bytes": float(len(first.content)),
    }


def main() -> None:
    """Generate, serve, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", help="an empty database to fill (default: a temporary SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    t0 = time.perf_counter()
    counts = generate(engine, datetime.now(UTC), args.days)
    engine.dispose()
    print(
        f"generated in {time.perf_counter() - t0:.0f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    config = tmp / "config.toml"
    config.write_text(f'database_url = "{url}"\n', encoding="utf-8")

    from dashboard.serve import serve

    port = _free_port()
    proc = serve(config, "127.0.0.1", port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            results = {path: measure(client, path, args.repeat) for path in PATHS}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    base = results["/_stcore/health"]["median"]
    print(f"{'address':<46}{'KB':>8}{'first ms':>10}{'median':>9}{'p95':>8}{'304 ms':>9}{'x health':>10}")
    for path, r in results.items():
        print(
            f"{path:<46}{r['bytes'] / 1024:>8.1f}{r['first']:>10.1f}{r['median']:>9.1f}{r['p95']:>8.1f}"
            f"{r['304']:>9.1f}{r['median'] / base:>10.1f}"
        )


if __name__ == "__main__":
    main()
