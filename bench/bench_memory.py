"""Memory and idle CPU of a long `tracker run`: 1,000 sources checked for 24 simulated hours.

    .venv/bin/python bench/bench_memory.py [--sources 1000] [--hosts 200] [--hours 24]
        [--interval 1800] [--step 5] [--idle 60] [--workers 2] [--delay 0.1] [--progress]
        [--log FILE] [--keep DIR]

The shops: one child process serving --hosts loopback addresses (127.77.0.1...), each host the
home of several shops: half Shopify catalogues (`/s<N>/products.json`), half product pages read
from JSON-LD (two pages a source), with robots.txt, ETags and 304s. Prices and stock change now
and then (each product's state is redrawn every few simulated hours), so observations, events and
inbox alerts are written; one colorway is released at hour 13 at ten of the shops (drop mode).

The tracker: what `tracker run` builds on SQLite (page pool, alert channels warmed, fetcher,
pipeline with the alert planner, the Service with its delivery, config-watch, drop-mode and
digest jobs, the summary log), with its clock simulated: APScheduler, the Service and the
pipeline read one simulated clock, moved --step seconds at a time; after each step the due jobs
run to their end before the clock moves on. Every simulated hour the process's resident memory
is sampled (RSS, and PSS / USS from /proc/self/smaps_rollup), with that of its helpers (the page
readers, the fork server and the resource tracker), the sizes of what a long run could keep
growing and the Python object types that grew (PSS / USS of one process move when a helper that
shares its libraries is replaced; RSS and the objects do not). After the last hour, the clock
follows real time again and the CPU used by the tracker (this process and its helpers) during
--idle real seconds without a check due is measured, scaled to a minute.

Prints: RSS / PSS / USS at hours 1, 12 and 24, growth from hour 12 to 24 (target <= 200 MB and
flat), the helpers' memory and the PSS of both, checks done, observations / events / deliveries
written, CPU per check, and the CPU seconds of an idle minute (target near zero) with the jobs that
ran in it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# A Monday: the weekly digest's default hour (09:00) falls inside the simulated day.
SIM_START = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
RELEASE_HOUR = 13
RELEASE_CODE = "M2002RDQ"
# Every hundredth source (a Shopify one) sells the released colorway: ten shops in drop mode.
RELEASE_EVERY = 100


def host_of(h: int) -> str:
    """The loopback address of shop host h."""
    return f"127.77.{h // 250}.{h % 250 + 1}"


# -- the shops: one asyncio process on many loopback addresses ------------------------------------


def shop_state(product: Any, source: int, hour: int) -> Any:
    """The product as shop `source` lists it at simulated `hour`: redrawn every 6 hours (at an
    offset per shop and product), at list price with every size half the time, else marked down
    with some sizes sold out."""
    from tracker.demo.catalogue import SIZES

    block = (hour + 7 * source + product.id) // 6
    rnd = random.Random(f"{source}:{product.id}:{block}")
    if rnd.random() < 0.5:
        return replace(product, stock=dict.fromkeys(SIZES, True))
    factor = rnd.choice((Decimal("0.90"), Decimal("0.85"), Decimal("0.80")))
    price = (product.price * factor).quantize(Decimal("0.01"))
    stock = {size: rnd.random() > 0.2 for size in SIZES}
    return replace(product, price=price, compare_at=product.price, stock=stock)


def released(hour: int) -> Any:
    """The colorway released at RELEASE_HOUR, as the shops that sell it list it."""
    from tracker.demo.catalogue import SIZES, DemoProduct

    return DemoProduct(
        id=7100,
        handle="new-balance-2002r-protection-pack-ripstop-grey-m2002rdq",
        title='New Balance 2002R Protection Pack "Ripstop Grey"',
        style_code=RELEASE_CODE,
        price=Decimal("170.00"),
        colour="Ripstop Grey",
        tags=("2002R", "Protection Pack"),
        stock=dict.fromkeys(SIZES, hour >= RELEASE_HOUR),
    )


def shop_body(path: str, hour: int, host: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET of path at simulated hour."""
    from tracker.demo import pages
    from tracker.demo.catalogue import boutique_products, brand_products

    if path == "/robots.txt":
        return 200, b"User-agent: *\nDisallow: /cart\n", "text/plain"
    parts = path.split("/")
    if len(parts) < 3 or not parts[1].startswith("s") or not parts[1][1:].isdigit():
        return 404, b"not found\n", "text/plain"
    source = int(parts[1][1:])
    base = f"http://{host}/s{source}"
    if parts[2].startswith("products.json"):
        if "page=1" not in path:
            return 200, b'{"products": []}', "application/json"
        products = [shop_state(p, source, hour) for p in boutique_products(0)]
        if source % RELEASE_EVERY == 0:
            products.append(released(hour))
        data = {"products": [pages.shopify_product(p, base) for p in products]}
        return 200, json.dumps(data).encode(), "application/json"
    for product in brand_products(0):
        if path.split("?", maxsplit=1)[0] == pages.brand_url(f"/s{source}", product):
            page = pages.brand_page(shop_state(product, source, hour), base)
            return 200, page.encode(), "text/html; charset=utf-8"
    return 404, b"not found\n", "text/plain"


def serve_shops(hosts: int, port: int, control: int) -> None:
    """Serve every shop; GET /_hour/<h> on the control port moves the shops to simulated hour h,
    GET /_stats returns the request and 304 counts."""
    state = {"hour": 0, "requests": 0, "not_modified": 0}

    async def shop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                lines = head.split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                }
                status, body, kind = shop_body(path, state["hour"], headers.get("host", ""))
                state["requests"] += 1
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                extra = f"ETag: {etag}\r\n" if status == 200 else ""
                if status == 200 and headers.get("if-none-match") == etag:
                    state["not_modified"] += 1
                    status, body = 304, b""
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n{extra}"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        path = head.split(" ", 2)[1]
        if path.startswith("/_hour/"):
            state["hour"] = int(path.rsplit("/", 1)[1])
        data = json.dumps(state).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + str(len(data)).encode())
        writer.write(b"\r\n\r\n" + data)
        await writer.drain()
        writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(shop, host_of(h), port) for h in range(hosts)]
        servers.append(await asyncio.start_server(command, "127.0.0.1", control))
        print("ready", flush=True)
        await asyncio.Event().wait()
        del servers

    asyncio.run(main())


def shops_say(control: int, path: str) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{control}{path}", timeout=30) as answer:
        return dict(json.loads(answer.read()))


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- the config -----------------------------------------------------------------------------------


def config_text(
    folder: Path, sources: int, hosts: int, port: int, *, interval: int, workers: int, delay: float
) -> str:
    """A config.toml of `sources` shops over `hosts` hosts, the demo colorways and an inbox."""
    from tracker.demo import pages
    from tracker.demo.catalogue import brand_products

    brand = brand_products(0)
    release_day = SIM_START.date().isoformat()
    lines = [
        f'database_url = "sqlite:///{folder}/tracker.db"',
        'timezone = "UTC"',
        "",
        "[defaults]",
        f'interval = "{interval}s"',
        'jitter = "1m"',
        'timeout = "10s"',
        f"extract_workers = {workers}",
        "# The shops are on this machine: gentler than with a real shop, but a delay all the same.",
        f'per_host_delay = "{delay * 1000:g}ms"',
        "",
    ]
    for code, name, watched, sizes in (
        ("M2002RDA", "Protection Pack Rain Cloud", "true", '["9.5", "10"]'),
        ("M2002RDB", "Protection Pack Phantom", "true", '["10"]'),
        ("M2002RDC", "Protection Pack Sea Salt", "true", '["9.5"]'),
        ("M2002RHO", "Grey", "false", "[]"),
        ("M2002RCC", "Sea Salt/White", "false", "[]"),
    ):
        lines += [
            "[[colorways]]",
            f'name = "{name}"',
            f'style_code = "{code}"',
            f"watched = {watched}",
            f"sizes = {sizes}",
            "target_price = { USD = 125 }" if watched == "true" else "",
            "",
        ]
    lines += [
        "[[colorways]]",
        'name = "Protection Pack Ripstop Grey"',
        f'style_code = "{RELEASE_CODE}"',
        'line = "2002R Protection Pack"',
        "list_price = { USD = 170 }",
        "watched = true",
        'sizes = ["10"]',
        f'release_date = "{release_day}"',
        f'release_at = "{RELEASE_HOUR:02d}:00 UTC"',
        "",
    ]
    for i in range(sources):
        base = f"http://{host_of(i % hosts)}:{port}/s{i}"
        lines += ["[[sources]]", f'name = "shop-{i:04d}"', 'currency = "USD"']
        if i % 2 == 0:
            lines += ['kind = "shopify"', f'url = "{base}"', ""]
        else:
            urls = [pages.brand_url(base, brand[(i + k) % len(brand)]) for k in range(2)]
            lines += ['kind = "page"', f"urls = {json.dumps(urls)}", ""]
    lines += [
        "[alerts]",
        "[[alerts.channels]]",
        'name = "inbox"',
        'url = "inbox://"',
        "",
        "[[alerts.rules]]",
        'on = ["new_listing", "restock", "size_restock", "price_below_target", "price_drop", "sold_out",',
        '      "release_announced", "release_changed", "going_live"]',
        "",
        "[alerts.weekly_digest]",
        'day = "monday"',
        "hour = 9",
        "",
        "[drops]",
        'before = "1h"',
        'after = "2h"',
        'interval = "1m"',
    ]
    return "\n".join(lines) + "\n"


# -- the simulated clock --------------------------------------------------------------------------


class SimClock:
    """The tracker's one clock: moved by the bench, or following real time from where it stands."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._real_from: tuple[datetime, float] | None = None

    def __call__(self) -> datetime:
        if self._real_from is not None:
            at, t0 = self._real_from
            return at + timedelta(seconds=time.monotonic() - t0)
        return self.now

    def follow_real_time(self) -> None:
        self._real_from = (self.now, time.monotonic())


def simulate_time(clock: SimClock) -> None:
    """Make APScheduler and the Service read `clock` for "now" (the pipeline is given it directly)."""
    import apscheduler.executors.base
    import apscheduler.schedulers.base
    import apscheduler.triggers.interval

    import tracker.scheduler

    class SimDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return clock().astimezone(tz) if tz is not None else clock().replace(tzinfo=None)

    for module in (
        apscheduler.schedulers.base,
        apscheduler.executors.base,
        apscheduler.triggers.interval,
        tracker.scheduler,
    ):
        module.datetime = SimDatetime  # type: ignore[attr-defined]


# -- measuring ------------------------------------------------------------------------------------


def _kb_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(":")
            if key in names:
                out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


@dataclass(frozen=True)
class Memory:
    """One process's memory in MB: resident, proportional and unique set sizes."""

    rss: float
    pss: float | None
    uss: float | None

    @staticmethod
    def of(pid: int | str = "self") -> Memory:
        status = _kb_fields(Path(f"/proc/{pid}/status"), ("VmRSS",))
        rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup"), ("Pss", "Private_Clean", "Private_Dirty"))
        pss = rollup.get("Pss")
        uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0) if rollup else None
        return Memory(
            status.get("VmRSS", 0) / 1024,
            pss / 1024 if pss is not None else None,
            uss / 1024 if uss else None,
        )

    def __add__(self, other: Memory) -> Memory:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Memory(self.rss + other.rss, add(self.pss, other.pss), add(self.uss, other.uss))

    def text(self) -> str:
        extra = "" if self.pss is None else f", PSS {self.pss:.1f}, USS {self.uss or 0:.1f}"
        return f"RSS {self.rss:.1f} MB{extra}"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(root: int, skip: set[int]) -> list[int]:
    """Living processes below root (the fork server, the page readers), skipping `skip` and theirs."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parent[int(entry.name)] = int(fields[1])
    found: list[int] = []

    def below(pid: int) -> Iterator[int]:
        return (child for child, ppid in parent.items() if ppid == pid and child not in skip)

    todo = [root]
    while todo:
        for child in below(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _schedstat_ns(pid: int | str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


# Nanoseconds on the CPU, where the kernel counts them (this process has run, so it is not 0).
SCHEDSTAT = bool(_schedstat_ns("self"))


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes so far (0 for one that is gone): from /proc/PID/schedstat in
    nanoseconds where the kernel has it, else user + system time in clock ticks."""
    total = 0.0
    for pid in pids:
        if SCHEDSTAT and (ns := _schedstat_ns(pid)) is not None:
            total += ns / 1e9
            continue
        fields = _stat(pid)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


@dataclass(frozen=True)
class Sample:
    hour: int
    tracker: Memory
    readers: Memory
    reader_count: int
    objects: int
    blocks: int
    sizes: dict[str, int]
    types: Counter[str]


# -- the run --------------------------------------------------------------------------------------


def internals(service: Any, fetcher: Any) -> dict[str, int]:
    """Sizes of what a long run could keep growing (for finding a leak, not for the verdict)."""
    return {
        "jobs": len(service.scheduler.get_jobs()),
        "summaries": len(service.summaries),
        "failures": len(service.failures),
        "hosts": len(fetcher._hosts),
        "robots": len(fetcher._robots),
        "waits": len(fetcher.waits),
        "delays": len(fetcher.delays),
        "open_files": len(os.listdir("/proc/self/fd")),
    }


async def settle(executor: Any) -> None:
    """Wait until every job the scheduler started has finished."""
    for _ in range(3):
        await asyncio.sleep(0)
    while executor._pending_futures:
        await asyncio.wait(set(executor._pending_futures))


@dataclass
class Outcome:
    samples: list[Sample]
    checks: Counter[str]
    sim_cpu: float
    idle_cpu: float
    idle_tracker_cpu: float
    idle_seconds: float
    idle_jobs: Counter[str]
    wall: float


async def run(config_path: Path, args: argparse.Namespace, shop_pid: int, control: int) -> Outcome:
    from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent

    from tracker.check.pool import PagePool
    from tracker.commands import _log_summary, _planner
    from tracker.config import load_config
    from tracker.fetch import Fetcher
    from tracker.notify.outbox import deliver_due, warm_up_channels
    from tracker.pipeline import Pipeline
    from tracker.scheduler import Service

    clock = SimClock(SIM_START)
    simulate_time(clock)
    config = load_config(config_path)
    me = os.getpid()
    checks: Counter[str] = Counter()
    samples: list[Sample] = []

    def on_summary(summary: Any) -> None:
        checks[summary.status] += 1
        _log_summary(summary)

    def sample(hour: int, service: Any, fetcher: Any) -> None:
        # A full collection first: what is counted is what the process keeps, not cycles (a closed
        # connection's socket and transport) waiting for the collector's next pass over the oldest
        # generation.
        gc.collect()
        readers = descendants(me, {shop_pid})
        total = Memory(0.0, 0.0, 0.0)
        for pid in readers:
            total = total + Memory.of(pid)
        samples.append(
            Sample(
                hour,
                Memory.of(),
                total,
                len(readers),
                len(objects := gc.get_objects()),
                sys.getallocatedblocks(),
                internals(service, fetcher),
                Counter(type(o).__qualname__ for o in objects),
            )
        )
        if args.progress:
            print(
                f"  hour {hour:2d}: {samples[-1].tracker.text()}; checks {sum(checks.values())}", flush=True
            )

    with PagePool(config.defaults.extract_workers) as pool:
        await asyncio.gather(asyncio.to_thread(warm_up_channels, config), asyncio.to_thread(pool.start))
        async with Fetcher(config.defaults, render=config.render) as fetcher:
            from db.engine import make_engine

            engine = make_engine(config.effective_database_url(base=config_path.parent))
            pipeline = Pipeline(config, engine, fetcher, clock=clock, planner=_planner(), pool=pool)

            async def deliver() -> object:
                return await deliver_due(pipeline.engine, pipeline.config, now=clock())

            service = Service(
                config, pipeline, deliver=deliver, on_summary=on_summary, config_path=config_path
            )
            ran: Counter[str] = Counter()

            def count_job(event: JobExecutionEvent) -> None:
                ran[event.job_id.split(":")[0] if event.job_id.startswith("source:") else event.job_id] += 1

            service.scheduler.add_listener(count_job, EVENT_JOB_EXECUTED)
            serving = asyncio.create_task(service.serve(install_signals=False))
            await asyncio.sleep(0)
            executor = service.scheduler._lookup_executor("default")
            await settle(executor)  # the first checks, delivery and planning, at the start
            started = time.monotonic()
            cpu0 = cpu_seconds([me, *descendants(me, {shop_pid})])
            sample(0, service, fetcher)
            step = timedelta(seconds=args.step)
            for hour in range(1, args.hours + 1):
                shops_say(control, f"/_hour/{hour - 1}")
                end = SIM_START + timedelta(hours=hour)
                while clock.now < end:
                    clock.now = min(clock.now + step, end)
                    service.scheduler.wakeup()
                    await settle(executor)
                sample(hour, service, fetcher)
            sim_cpu = cpu_seconds([me, *descendants(me, {shop_pid})]) - cpu0
            wall = time.monotonic() - started
            # An idle stretch: move on until no check is due within the idle window.
            quiet = timedelta(seconds=args.idle + 30)
            while any(
                job.next_run_time is not None and job.next_run_time <= clock.now + quiet
                for job in service.scheduler.get_jobs()
                if job.id.startswith("source:")
            ):
                clock.now += step
                service.scheduler.wakeup()
                await settle(executor)
            clock.follow_real_time()
            service.scheduler.wakeup()
            await settle(executor)
            ran.clear()
            pids = [me, *descendants(me, {shop_pid})]
            own0, helpers0, t0 = cpu_seconds([me]), cpu_seconds(pids[1:]), time.monotonic()
            await asyncio.sleep(args.idle)
            idle_own, idle_seconds = cpu_seconds([me]) - own0, time.monotonic() - t0
            idle_cpu = idle_own + cpu_seconds(pids[1:]) - helpers0
            idle_jobs = Counter(ran)
            service.stop()
            await serving
            engine.dispose()
    return Outcome(samples, checks, sim_cpu, idle_cpu, idle_own, idle_seconds, idle_jobs, wall)


def database_counts(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("check_runs", "observations", "events", "deliveries", "inbox_messages")
        }


def both(s: Sample) -> str:
    """The tracker's and its helpers' proportional set sizes added up (shared pages counted once)."""
    if s.tracker.pss is None or s.readers.pss is None:
        return "unknown"
    return f"{s.tracker.pss + s.readers.pss:.1f} MB"


def report(outcome: Outcome, counts: dict[str, int], shops: dict[str, int], args: argparse.Namespace) -> None:
    by_hour = {s.hour: s for s in outcome.samples}
    last = max(by_hour)
    mid = min(12, last)
    print(
        f"{args.sources} sources over {args.hosts} hosts, every {args.interval} s, {args.hours} simulated "
        f"hours in {outcome.wall:.0f} s real ({args.step} s steps), {args.workers} page readers"
    )
    for hour in sorted({0, 1, mid, last}):
        s = by_hour[hour]
        print(
            f"  hour {hour:2d}: tracker {s.tracker.text()}; page readers, fork server and resource tracker "
            f"({s.reader_count} processes) {s.readers.text()}; together PSS {both(s)}; "
            f"{s.objects} Python objects, {s.blocks} allocated blocks"
        )
    a, b = by_hour[mid], by_hour[last]
    growth = b.tracker.rss - a.tracker.rss
    share = growth / max(a.tracker.rss, 1) * 100
    uss = (b.tracker.uss or 0) - (a.tracker.uss or 0)
    print(
        f"  growth hour {mid} -> {last}: RSS {growth:+.1f} MB ({share:+.1f} %), USS {uss:+.1f} MB, "
        f"Python objects {b.objects - a.objects:+d}, allocated blocks {b.blocks - a.blocks:+d}"
    )
    grown = (b.types - a.types).most_common(8)
    print(f"  Python objects (tracked by the collector) that grew from hour {mid} to {last}: {grown}")
    peak = max(s.tracker.rss for s in outcome.samples)
    print(f"  peak tracker RSS {peak:.1f} MB (target <= 200 MB); kept structures at hour {last}: {b.sizes}")
    total = sum(outcome.checks.values())
    print(
        f"  checks: {total} ({dict(outcome.checks)}), shop requests {shops['requests']} "
        f"({shops['not_modified']} answered 304); written: {counts}"
    )
    print(
        f"  CPU during the simulation (tracker + page readers): {outcome.sim_cpu:.1f} s, "
        f"{outcome.sim_cpu / max(total, 1) * 1000:.1f} ms per check"
    )
    per_minute = outcome.idle_cpu / outcome.idle_seconds * 60
    print(
        f"  idle: {outcome.idle_cpu:.3f} CPU s ({outcome.idle_tracker_cpu:.3f} in the tracker's process) "
        f"over {outcome.idle_seconds:.1f} s real without a check due "
        f"= {per_minute:.3f} CPU s per idle minute ({per_minute / 60 * 100:.2f} % of one core; "
        f"= {per_minute / (outcome.sim_cpu / max(total, 1)):.1f} checks' worth); "
        f"jobs that ran: {dict(outcome.idle_jobs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--interval", type=int, default=1800, help="check interval, seconds")
    parser.add_argument("--step", type=float, default=5.0, help="simulated seconds per step")
    parser.add_argument("--idle", type=float, default=60.0, help="real seconds of the idle window")
    parser.add_argument("--workers", type=int, default=2, help="extract_workers")
    parser.add_argument("--delay", type=float, default=0.1, help="per_host_delay, seconds")
    parser.add_argument("--keep", type=Path, help="copy the database and config here at the end")
    parser.add_argument("--log", type=Path, help="keep the tracker's log here (default: discarded)")
    parser.add_argument("--progress", action="store_true", help="print each hour's sample as it is taken")
    parser.add_argument("--serve", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_shops(*args.serve)
        return
    port, control = free_port(), free_port()
    shops = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.hosts), str(port), str(control)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert shops.stdout is not None
        if shops.stdout.readline().strip() != b"ready":
            sys.exit("the shops did not start")
        with tempfile.TemporaryDirectory(prefix="bench-memory.") as tmp:
            folder = Path(tmp)
            config_path = folder / "config.toml"
            config_path.write_text(
                config_text(
                    folder,
                    args.sources,
                    args.hosts,
                    port,
                    interval=args.interval,
                    workers=args.workers,
                    delay=args.delay,
                )
            )
            logging.basicConfig(
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(message)s",
                filename=str(args.log or folder / "tracker.log"),
            )
            for noisy in ("httpx", "httpcore", "apscheduler", "alembic"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            outcome = asyncio.run(run(config_path, args, shops.pid, control))
            report(outcome, database_counts(folder / "tracker.db"), shops_say(control, "/_stats"), args)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for name in ("tracker.db", "config.toml"):
                    shutil.copy2(folder / name, args.keep / name)
    finally:
        shops.kill()
        shops.wait()


if __name__ == "__main__":
    main()
