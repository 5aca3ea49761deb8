"""Workers on one PostgreSQL: 10,000 sources over 100 local hosts, each due every 5 minutes.

    .venv/bin/python bench/bench_workers.py [--sources 10000] [--hosts 100] [--interval 300]
        [--latency 0.05] [--window 90] [--workers 1,2] [--saturation-interval 60]
        [--saturation-window 45] [--skip-saturation] [--skip-queue]

Needs root and Debian's postgresql (it starts a PostgreSQL cluster of its own, so the database's
CPU is measured alone). Shops: one process serving 100 addresses 127.0.0.10-109, each answer
delayed by --latency. For 1 and 2 `tracker worker` processes beside one `tracker scheduler`:

- target: the 10,000 sources every --interval (33 checks/s at 5 minutes), measured over --window
  seconds of the steady state (the clock spreads first checks over the interval, so the rate is
  the full one from the start): checks/s, scheduling lag p50/p95 (due time to start, on
  PostgreSQL's clock), CPU per check of the clock, the workers and PostgreSQL together, and
  duplicates (requests at the shops beyond one per finished check; target 0);
- saturation: the same sources every --saturation-interval (more than the setup can do): the
  checks per minute it sustains;
- queue only: the clock and a worker whose job does everything but the check (ticket, backoff
  bookkeeping, Procrastinate's fetch and finish, the clock's defer and slot update): CPU per job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICK = os.sysconf("SC_CLK_TCK")
PAGE = (
    '<!doctype html><html><head><title>New Balance 2002R {code}</title><script type="application/ld+json">'
    '{{"@context": "https://schema.org", "@type": "Product", "name": "New Balance 2002R {code}",'
    ' "sku": "{code}",'
    ' "offers": {{"@type": "Offer", "price": "150.00", "priceCurrency": "USD",'
    ' "availability": "https://schema.org/InStock"}}}}</script></head><body><h1>New Balance 2002R</h1>'
    '<span class="price">$150.00</span></body></html>'
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- the shops: one asyncio process on 100 loopback addresses ------------------------------------


def serve_shops(hosts: int, port: int, latency: float, control: int) -> None:
    """Answer every GET /p<N> after `latency` with a small product page; GET /_stats on the control
    port returns the request count per path."""
    counts: dict[str, int] = {}
    body = PAGE.format(code="M2002RDB").encode()

    async def shop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                counts[path] = counts.get(path, 0) + 1
                await asyncio.sleep(latency)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stats(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        data = json.dumps(counts).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + str(len(data)).encode())
        writer.write(b"\r\n\r\n" + data)
        await writer.drain()
        writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(shop, f"127.0.0.{10 + h}", port) for h in range(hosts)]
        servers.append(await asyncio.start_server(stats, "127.0.0.1", control))
        print("ready", flush=True)
        await asyncio.Event().wait()
        del servers

    asyncio.run(main())


def shop_counts(control: int) -> dict[str, int]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{control}/_stats", timeout=30).json())


# -- PostgreSQL of its own, and CPU accounting ---------------------------------------------------


@contextmanager
def own_postgres() -> Iterator[tuple[str, int]]:
    """A throwaway cluster; yields (admin URL base, postmaster pid)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not bins or os.geteuid() != 0:
        sys.exit("needs root and Debian's postgresql (apt-get install -y postgresql)")
    pgbin = bins[-1]
    folder = Path(tempfile.mkdtemp(prefix="pgbench.", dir="/tmp"))
    shutil.chown(folder, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    data = str(folder / "data")
    subprocess.run(
        [*as_pg, str(pgbin / "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    ctl = [*as_pg, str(pgbin / "pg_ctl"), "-D", data, "-l", str(folder / "log"), "-w"]
    subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)
    pid = int((Path(data) / "postmaster.pid").read_text().split()[0])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}", pid
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time of a process (and, with children, of its reaped children and living ones)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                rest = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(rest[1]) == pid:
                total += int(rest[11]) + int(rest[12])
    return total / TICK


def machine_idle() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[3] + values[4], sum(values[:8])


# -- the baseline: the same checks in one process, measured in the same run --------------------


def baseline(admin: str, port: int, hosts: int, checks: int = 300) -> float:
    """CPU ms per check of `tracker run`'s own check path on this PostgreSQL (no queue, no shared
    politeness): unchanged single-page checks, the steady state of the runs below."""
    from db.engine import make_engine
    from tracker.config import parse_text
    from tracker.fetch import Fetcher
    from tracker.notify.plan import plan_deliveries
    from tracker.pipeline import Pipeline

    url = fresh_database(admin, "baseline")
    engine = make_engine(url, pre_ping=False)
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    config = parse_text(write_config(folder, checks, hosts, port, 300, 0).read_text(encoding="utf-8"))
    names = [s.name for s in config.sources]

    async def run() -> float:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
            for name in names:  # first checks: new listings
                await pipeline.check(name)
            started = time.process_time()
            for name in names:
                await pipeline.check(name)
            return 1000 * (time.process_time() - started) / len(names)

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


# -- one configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    workers: int
    offered_per_s: float
    window_s: float
    checks: int
    lag_p50: float | None
    lag_p95: float | None
    cpu_clock: float
    cpu_workers: float
    cpu_db: float
    duplicates: int | None
    idle: float  # share of the machine's CPU left idle during the window (others' work included)

    @property
    def per_s(self) -> float:
        return self.checks / self.window_s

    @property
    def cpu_ms_per_check(self) -> float:
        return 1000 * (self.cpu_clock + self.cpu_workers + self.cpu_db) / max(1, self.checks)


def write_config(folder: Path, sources: int, hosts: int, port: int, interval: float, delay: float) -> Path:
    lines = [
        "[defaults]",
        f'interval = "{interval}s"',
        f'per_host_delay = "{delay}s"',
        'jitter = "0s"',
        "respect_robots = false",
        "",
        "[[colorways]]",
        'name = "Protection Pack Phantom"',
        'style_code = "M2002RDB"',
        "list_price = { USD = 150 }",
        "watched = true",
        "",
    ]
    for i in range(sources):
        lines += ["[[sources]]", f'name = "shop{i:05d}"', 'kind = "page"']
        lines += [f'url = "http://127.0.0.{10 + i % hosts}:{port}/p{i}"', ""]
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fresh_database(admin: str, name: str) -> str:
    engine = sa.create_engine(f"{admin}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    from db.engine import make_engine

    url = f"{admin}/{name}"
    make_engine(url).dispose()
    return url


def start(folder: Path, url: str, config: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=url)
    with open(folder / f"{name}.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tracker.cli", "--config", str(config), *args],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def one_run(
    admin: str,
    pg_pid: int,
    *,
    name: str,
    workers: int,
    sources: int,
    hosts: int,
    port: int,
    control: int,
    interval: float,
    window: float,
    warm_up: float,
    delay: float = 1.0,
    queue_only: bool = False,
) -> Result:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    url = fresh_database(admin, name.replace("-", "_"))
    config = write_config(folder, sources, hosts, port, interval, delay)
    before_counts = shop_counts(control)
    clock = start(folder, url, config, "clock", "scheduler")
    if queue_only:
        env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=url)
        with open(folder / "q.log", "ab") as out:
            ws = [
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "--queue-only-process", f"q{i}"],
                    env=env,
                    cwd=folder,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                for i in range(workers)
            ]
    else:
        ws = [start(folder, url, config, f"w{i}", "worker", "--name", f"w{i}") for i in range(workers)]
    procs = [clock, *ws]
    clock_pids, worker_pids = [clock.pid], [w.pid for w in ws]
    engine = sa.create_engine(url)
    try:
        deadline = time.monotonic() + 120
        while True:  # started: the first checks are done
            with engine.connect() as conn:
                done = conn.execute(sa.text("SELECT COUNT(*) FROM check_jobs")).scalar_one()
            if done >= 20 or time.monotonic() > deadline:
                break
            time.sleep(1)
        time.sleep(warm_up)
        idle0 = machine_idle()
        cpu0 = (
            sum(cpu_seconds(p) for p in clock_pids),
            sum(cpu_seconds(p) for p in worker_pids),
            cpu_seconds(pg_pid, children=True),
        )
        with engine.connect() as conn:
            t0 = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        time.sleep(window)
        with engine.connect() as conn:
            t1 = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        idle1 = machine_idle()
        cpu1 = (
            sum(cpu_seconds(p) for p in clock_pids),
            sum(cpu_seconds(p) for p in worker_pids),
            cpu_seconds(pg_pid, children=True),
        )
        with engine.connect() as conn:
            stats = conn.execute(
                sa.text(
                    "SELECT COUNT(*) AS n,"
                    " percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at))"
                    "   AS p50,"
                    " percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at))"
                    "   AS p95"
                    " FROM check_jobs WHERE started_at >= :t0 AND started_at < :t1"
                ),
                {"t0": t0, "t1": t1},
            ).one()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    duplicates = None
    if not queue_only:
        counts = shop_counts(control)
        requests = sum(counts.values()) - sum(before_counts.values())
        with engine.connect() as conn:
            finished = conn.execute(
                sa.text("SELECT COUNT(*) FROM check_runs WHERE status NOT IN ('running', 'cancelled')")
            ).scalar_one()
            twice = conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM (SELECT run_id FROM check_jobs GROUP BY source, due_at, run_id"
                    " HAVING COUNT(*) > 1) d"
                )
            ).scalar_one()
        duplicates = max(0, requests - finished) + twice
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return Result(
        name=name,
        workers=workers,
        offered_per_s=sources / interval,
        window_s=(t1 - t0).total_seconds(),
        checks=int(stats.n),
        lag_p50=None if stats.p50 is None else float(stats.p50),
        lag_p95=None if stats.p95 is None else float(stats.p95),
        cpu_clock=cpu1[0] - cpu0[0],
        cpu_workers=cpu1[1] - cpu0[1],
        cpu_db=cpu1[2] - cpu0[2],
        duplicates=duplicates,
        idle=(idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1]),
    )


# -- queue only: the clock and a worker whose job skips the check -------------------------------


def queue_only_process(name: str) -> None:
    """A worker whose job does the queue's share of a check and no check: the ticket, the link to
    a run, Procrastinate's fetch and finish (the clock beside it is a real `tracker scheduler`)."""
    import logging

    from db import workers as wdb
    from db.engine import make_engine
    from tracker.run.jobs import CheckJob, make_app
    from tracker.run.shared import SharedConfig
    from tracker.run.workers import Worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = os.environ["DATABASE_URL"]
    engine = make_engine(url, pre_ping=False)

    class QueueOnly(Worker):
        async def run_check(self, job: CheckJob) -> str:
            with self.auto.connect() as conn:
                ticket = wdb.take_ticket(conn, job.source, job.due_at, job.job_id, self.name)
                # What tying the ticket to its run costs (there is no run to tie it to here).
                conn.execute(
                    sa.text("UPDATE check_jobs SET run_id = NULL WHERE source = :s AND due_at = :d"),
                    {"s": job.source, "d": job.due_at},
                )
            self.done += 1
            return "queue only" if ticket.fresh else "again"

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        worker = QueueOnly(
            engine, make_app(url), SharedConfig(engine), name=name, concurrency=20, deliver=False
        )
        await worker.serve(stop)

    asyncio.run(main())


# -- report -----------------------------------------------------------------------------------


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_results(results: list[Result]) -> None:
    head = (
        f"{'run':<22}{'workers':>8}{'offered/s':>10}{'checks/s':>9}{'per min':>9}{'lag p50 s':>10}"
        f"{'lag p95 s':>10}{'CPU ms/check':>13}{'(clock':>8}{'workers':>9}{'db)':>7}{'dups':>6}{'idle %':>8}"
    )
    print(head)
    for r in results:
        n = max(1, r.checks)
        print(
            f"{r.name:<22}{r.workers:>8}{r.offered_per_s:>10.1f}{r.per_s:>9.1f}{r.per_s * 60:>9.0f}"
            f"{_secs(r.lag_p50):>10}{_secs(r.lag_p95):>10}{r.cpu_ms_per_check:>13.2f}"
            f"{1000 * r.cpu_clock / n:>8.2f}{1000 * r.cpu_workers / n:>9.2f}{1000 * r.cpu_db / n:>7.2f}"
            f"{'-' if r.duplicates is None else r.duplicates:>6}{100 * r.idle:>8.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--window", type=float, default=90.0)
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--saturation-interval", type=float, default=60.0)
    parser.add_argument("--saturation-window", type=float, default=45.0)
    # Lower than the default 1 s, so that the machine, not politeness (hosts / delay), is the limit.
    parser.add_argument("--saturation-delay", type=float, default=0.25)
    parser.add_argument("--skip-saturation", action="store_true")
    parser.add_argument("--skip-queue", action="store_true")
    parser.add_argument("--queue-only-process", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.queue_only_process:
        queue_only_process(args.queue_only_process)
        return
    port, control = free_port("127.0.0.10"), free_port()
    shops = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); from bench_workers import serve_shops;"
            f" serve_shops({args.hosts}, {port}, {args.latency}, {control})",
        ],
        stdout=subprocess.PIPE,
    )
    assert shops.stdout is not None and shops.stdout.readline().strip() == b"ready"
    print(
        f"{args.sources} sources over {args.hosts} hosts (127.0.0.10-{9 + args.hosts}),"
        f" {args.latency * 1000:.0f} ms per answer, each due every {args.interval:g} s;"
        f" {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    results: list[Result] = []
    common = {"sources": args.sources, "hosts": args.hosts, "port": port, "control": control}
    base = None
    try:
        with own_postgres() as (admin, pg_pid):
            base = baseline(admin, port, args.hosts)
            print(
                f"baseline: one process, the same checks without the queue: {base:.2f} ms CPU per check"
                " in the checking process",
                flush=True,
            )
            for n in [int(w) for w in args.workers.split(",")]:
                results.append(
                    one_run(
                        admin,
                        pg_pid,
                        name=f"target-{n}w",
                        workers=n,
                        interval=args.interval,
                        window=args.window,
                        warm_up=args.warm_up,
                        **common,
                    )
                )
                print_results(results[-1:])
            if not args.skip_saturation:
                for n in [int(w) for w in args.workers.split(",")]:
                    results.append(
                        one_run(
                            admin,
                            pg_pid,
                            name=f"saturation-{n}w",
                            workers=n,
                            interval=args.saturation_interval,
                            window=args.saturation_window,
                            warm_up=args.warm_up,
                            delay=args.saturation_delay,
                            **common,
                        )
                    )
                    print_results(results[-1:])
            if not args.skip_queue:
                results.append(
                    one_run(
                        admin,
                        pg_pid,
                        name="queue-only",
                        workers=1,
                        interval=args.saturation_interval,
                        window=args.saturation_window,
                        warm_up=args.warm_up,
                        queue_only=True,
                        **common,
                    )
                )
    finally:
        shops.terminate()
        shops.wait(10)
    print()
    print_results(results)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    cores = os.cpu_count() or 1
    for r in results:
        if r.name.startswith("target") and base:
            print(
                f"{r.name}: workers' CPU per check {1000 * r.cpu_workers / max(1, r.checks):.2f} ms ="
                f" {1000 * r.cpu_workers / max(1, r.checks) / base:.2f}x the one-process check path;"
                f" all-in {r.cpu_ms_per_check:.2f} ms -> {cores} idle cores would sustain"
                f" ~{cores * 1000 / r.cpu_ms_per_check * 60:.0f} checks/min"
            )


if __name__ == "__main__":
    main()
