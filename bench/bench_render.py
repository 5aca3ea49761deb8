"""Rendered-check benchmark: the local JS shop checked through headless Chromium, beside a plain fetch.

    .venv/bin/python bench/bench_render.py [--checks 100]

Runs full checks (fetch or render, extract, record into SQLite) of one product: --checks times as
a plain fetch of the server-rendered page, then --checks times rendered in Chromium (render =
true). The shop runs in its own process, so its work is not counted. Prints per check the median
and p95 wall time and CPU time (this process, and the browser's and its driver's processes), the
ratio of rendered to plain, and the peak memory of the Chromium processes (proportional set size,
sampled every 20 ms while they run) and of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import descendants_cpu  # noqa: E402
from db.engine import make_engine  # noqa: E402
from tracker.config import parse_text  # noqa: E402
from tracker.demo.jsshop import SLUG, STYLE_CODE  # noqa: E402
from tracker.fetch import Fetcher  # noqa: E402
from tracker.fetch.render import group_memory  # noqa: E402
from tracker.pipeline import Pipeline  # noqa: E402

SHOP = (
    "import sys, time\n"
    "from tracker.demo.jsshop import JSShop\n"
    "shop = JSShop().start()\n"
    "print(shop.base, flush=True)\n"
    "time.sleep(10 ** 6)\n"
)


class MemorySampler(threading.Thread):
    """Samples the browser's memory every 20 ms while rendered checks run."""

    def __init__(self, fetcher: Fetcher) -> None:
        super().__init__(daemon=True)
        self.fetcher = fetcher
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            renderer = self.fetcher.renderer
            pids = renderer.stats.browser_pids if renderer is not None else []
            if pids:
                self.peak = max(self.peak, group_memory(pids[-1]))


def _config(base: str, db: Path) -> str:
    return f"""database_url = "sqlite:///{db}"
[defaults]
per_host_delay = "0s"
respect_robots = true

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "{STYLE_CODE}"

[[sources]]
name = "plain"
kind = "page"
url = "{base}/ssr/products/{SLUG}"
currency = "USD"

[[sources]]
name = "rendered"
kind = "page"
url = "{base}/products/{SLUG}"
currency = "USD"
render = true
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(base: str, checks: int, db: Path, shop: int) -> dict[str, dict[str, list[float]]]:
    config = parse_text(_config(base, db))
    out: dict[str, dict[str, list[float]]] = {}
    async with Fetcher(config.defaults, render=config.render) as fetcher:
        pipeline = Pipeline(config, make_engine(config.database_url), fetcher)
        sampler = MemorySampler(fetcher)
        sampler.start()
        for name in ("plain", "rendered"):
            walls, own, others = [], [], []
            for _ in range(checks):
                kids0 = descendants_cpu(os.getpid(), shop)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                summary = await pipeline.check(name)
                walls.append(time.perf_counter() - wall0)
                own.append(time.process_time() - cpu0)
                others.append(max(0.0, descendants_cpu(os.getpid(), shop) - kids0))
                if summary.status not in ("ok", "not_modified"):
                    raise SystemExit(f"{name}: check failed: {summary.status} {summary.error}")
            out[name] = {"wall": walls, "cpu": own, "browser_cpu": others}
        sampler.stop.set()
        stats = fetcher.renderer.stats
        out["memory"] = {
            "peak_sampled": [float(sampler.peak)],
            "peak_after_pages": [float(stats.peak_memory)],
            "launches": [float(stats.launches)],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=100, help="checks of each kind (default 100)")
    args = parser.parse_args(argv)
    shop = subprocess.Popen(
        [sys.executable, "-c", SHOP], cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert shop.stdout is not None
        base = shop.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(_run(base, args.checks, Path(tmp) / "bench.db", shop.pid))
    finally:
        shop.terminate()
        shop.wait(10)
    print(f"{args.checks} checks each of one product (fetch or render, extract, record in SQLite)")
    print(f"{'':<10}{'wall ms':>22}{'CPU ms, tracker':>22}{'CPU ms, browser':>22}{'CPU ms, total':>22}")
    print(f"{'':<10}" + f"{'median':>11}{'p95':>11}" * 4)
    rows = {}
    for name in ("plain", "rendered"):
        r = result[name]
        total = [a + b for a, b in zip(r["cpu"], r["browser_cpu"], strict=True)]
        cols = [r["wall"], r["cpu"], r["browser_cpu"], total]
        rows[name] = [statistics.median(c) * 1000 for c in cols]
        cells = "".join(f"{statistics.median(c) * 1000:>11.1f}{_pct(c, 0.95) * 1000:>11.1f}" for c in cols)
        print(f"{name:<10}{cells}")
    plain, rendered = rows["plain"], rows["rendered"]
    print(
        f"rendered / plain (medians): wall x{rendered[0] / plain[0]:.0f}, "
        f"total CPU x{rendered[3] / max(plain[3], 1e-6):.0f}"
    )
    memory = result["memory"]
    print(
        f"Chromium memory (PSS of its processes): peak {memory['peak_sampled'][0] / 2**20:.0f} MB while "
        f"rendering, {memory['peak_after_pages'][0] / 2**20:.0f} MB after a page; "
        f"{memory['launches'][0]:.0f} browser launch(es)"
    )
    print(f"this process: max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
