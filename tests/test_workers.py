"""More than one machine: a clock and worker processes on one PostgreSQL, against real local shops.

Every process here is a real `tracker` process; shops are real HTTP servers on 127.0.0.2-4 that
record each request; assertions count requests at the shops and rows in the database.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from db.engine import make_engine
from tests.cluster import Processes, Shop, config_text, rows, shop, wait_until
from tests.test_alerts_support import json_receiver
from tracker.cli import main

pytestmark = pytest.mark.postgres

INTERVAL = 6.0
LEADING = "SELECT 1 FROM clock_leader WHERE name = :n AND last_pass > clock_timestamp() - interval '2s'"


@pytest.fixture
def procs(tmp_path: Path, pg_url: str) -> Iterator[Processes]:
    make_engine(pg_url).dispose()  # migrated before the processes start and the test reads it
    p = Processes(tmp_path / "config.toml", pg_url)
    try:
        yield p
    finally:
        p.stop_all()


def _source(name: str, url: str, **extra: object) -> dict[str, object]:
    return {"name": name, "kind": "page", "url": url, **extra}


def _completed(url: str) -> dict[str, list[tuple[Any, object, str, Any]]]:
    """Per source, its tickets (due time, worker, run status, when its check ended) in due order."""
    out: dict[str, list[tuple[Any, object, str, Any]]] = defaultdict(list)
    for r in rows(
        url,
        "SELECT t.source, t.due_at, t.worker, r.status, r.finished_at FROM check_jobs t"
        " LEFT JOIN check_runs r ON r.id = t.run_id ORDER BY t.source, t.due_at",
    ):
        out[str(r.source)].append((r.due_at, r.worker, str(r.status), r.finished_at))
    return out


def _drained(url: str) -> bool:
    return not rows(url, "SELECT 1 FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")


def _assert_slots_in_step(tickets: list[tuple[Any, object, str, Any]], interval: float, name: str) -> None:
    """Due times go up by whole intervals: none taken twice, none off the grid, and every slot skipped
    was due while the source's previous check was still queued or running.

    That skip is by design (a slow source never piles up): a check waiting for a free worker on a busy
    machine, or held by a killed worker until it is retried, costs the slots due meanwhile. A slot
    skipped after the previous check had ended is a lost one. The first slot is left out (a worker
    still importing its modules on a busy machine may take longer than an interval over it).
    """
    kept = tickets[1:]
    step = timedelta(seconds=interval)
    steps = [b[0] - a[0] for a, b in pairwise(kept)]
    assert all(s >= step and s % step == timedelta(0) for s in steps), f"{name}: slots {[t[0] for t in kept]}"
    lost = [
        a[0] + k * step
        for a, b in pairwise(kept)
        for k in range(1, (b[0] - a[0]) // step)
        # The check's run ends a little before its job does (the worker then marks the job done, and
        # only then does the clock see the source free): 2 s of grace, a third of an interval.
        if a[3] is None or a[3] < a[0] + k * step - timedelta(seconds=2)
    ]
    assert not lost, f"{name}: slots skipped after the check before them had ended: {lost} ({kept})"


def test_one_clock_three_workers_check_each_due_slot_once_politely_on_their_queues(
    procs: Processes, pg_url: str
) -> None:
    with (
        shop("127.0.0.2") as paced,
        shop("127.0.0.3", latency=0.3) as slow,
        shop("127.0.0.4") as routed,
    ):
        sources = [_source(f"paced{i}", f"{paced.base}/p{i}", per_host_delay="1s") for i in range(3)]
        sources += [
            _source(f"slow{i}", f"{slow.base}/p{i}", per_host_delay=0, per_host_concurrency=1)
            for i in range(4)
        ]
        sources += [
            _source(f"eu{i}", f"{routed.base}/p{i}", per_host_delay="1s", queue="eu") for i in range(3)
        ]
        procs.config.write_text(config_text(sources, interval=f"{INTERVAL}s"), encoding="utf-8")
        procs.start("clock", "scheduler")
        procs.start("w1", "worker", "--name", "w1")
        procs.start("w2", "worker", "--name", "w2")
        procs.start("w3", "worker", "--name", "w3", "--queue", "eu")

        def enough() -> bool:
            done = _completed(pg_url)
            return len(done) == len(sources) and all(
                sum(1 for t in done[str(s["name"])] if t[2] == "ok") >= 4 for s in sources
            )

        wait_until(enough, timeout=90, what="four checks of every source")
        procs.kill("clock", signal.SIGTERM)
        wait_until(lambda: _drained(pg_url), timeout=30, what="the queue to drain")
        for name in ("w1", "w2", "w3"):
            procs.kill(name, signal.SIGTERM)

        done = _completed(pg_url)
        by_shop: dict[str, Shop] = {"paced": paced, "slow": slow, "eu": routed}
        for src in sources:
            name = str(src["name"])
            tickets = done[name]
            assert all(t[2] == "ok" for t in tickets), f"{name}: {tickets}"
            _assert_slots_in_step(tickets, INTERVAL, name)
            path = "/p" + name[-1]
            prefix = name.rstrip("0123456789")
            # One request per due slot at the shop: nothing checked twice, nothing skipped.
            assert by_shop[prefix].count(path) == len(tickets), name
            workers = {t[1] for t in tickets}
            assert workers == {"w3"} if prefix == "eu" else workers <= {"w1", "w2"}, (name, workers)
        both = {t[1] for s in sources if s.get("queue") is None for t in done[str(s["name"])]}
        assert both == {"w1", "w2"}, "the default queue's work is shared"

        # Per-host delay held across workers: turns 1 s apart, taken on PostgreSQL's clock. A request
        # reaching the shop late (its sender waiting for a core on a busy machine) shortens one gap
        # and lengthens the next, so every two turns are held to their 2 s less a lateness of up to
        # 1.5 s (one pair was seen 1.005 s late under a full parallel test run), and the whole run to
        # its delays less one; without the shared gate, requests come back to back.
        for host in (paced, routed):
            starts = sorted(h.start for h in host.hits)
            two = [c - a for a, c in zip(starts, starts[2:], strict=False)]
            assert min(two) >= 0.5, (host.host, sorted(two)[:3], starts)
            assert starts[-1] - starts[0] >= (len(starts) - 1) * 1.0 - 1.0, (host.host, starts)
        # Per-host concurrency 1 across workers: no two requests in flight at once at the slow shop.
        spans = sorted((h.start, h.end) for h in slow.hits)
        for (_, end), (start, _) in pairwise(spans):
            assert start >= end - 0.01, "two requests to a concurrency-1 host overlapped"

        assert "error" not in procs.log("w1").lower()


def _start_clock(procs: Processes, name: str) -> None:
    """Start a clock and wait until it runs (a standby that is still starting cannot take over)."""
    line = f"clock {name} started"
    before = procs.log(name).count(line) if name in procs.logs else 0
    procs.start(name, "scheduler", "--name", name, "--stalled-after", "10")
    wait_until(lambda: procs.log(name).count(line) > before, timeout=60, what=f"clock {name} to start")


def test_kill_a_worker_mid_check_and_the_leading_clock_nothing_lost_nothing_twice(
    procs: Processes, pg_url: str
) -> None:
    rng = random.Random(13)
    with shop("127.0.0.2") as a, shop("127.0.0.3") as b:
        sources = [_source(f"a{i}", f"{a.base}/p{i}") for i in range(3)]
        sources += [_source(f"b{i}", f"{b.base}/p{i}") for i in range(3)]
        sources.append(_source("stuck", f"{b.base}/stuck", timeout="60s"))
        procs.config.write_text(
            config_text(sources, interval=f"{INTERVAL}s", per_host_delay=0), encoding="utf-8"
        )
        b.stall.add("/stuck")
        for name in ("c1", "c2"):
            _start_clock(procs, name)
        procs.start("w1", "worker", "--name", "w1")
        procs.start("w2", "worker", "--name", "w2")

        # The stuck shop holds its request: the worker that took it is mid-check. Kill it.
        wait_until(lambda: b.held.get("/stuck"), timeout=60, what="a check of 'stuck' in flight")
        holder = rows(pg_url, "SELECT worker FROM check_jobs WHERE source = 'stuck'")[0].worker
        procs.kill(str(holder))
        b.released.set()
        survivor = "w2" if holder == "w1" else "w1"
        # Its job goes back to the queue once the worker is silent for --stalled-after (10 s).
        retried = wait_until(
            lambda: rows(
                pg_url,
                "SELECT t.worker, t.attempts, r.status FROM check_jobs t JOIN check_runs r ON r.id = t.run_id"
                " WHERE t.source = 'stuck' AND r.status = 'ok' AND t.attempts = 2",
            ),
            timeout=60,
            what="the killed worker's check to be done by the other worker",
        )
        assert retried[0].worker == survivor  # type: ignore[index]
        procs.start(str(holder), "worker", "--name", str(holder))

        # Kill the leading clock three times at random moments; a standby takes over each time.
        for _ in range(3):
            leader = str(rows(pg_url, "SELECT name FROM clock_leader")[0].name)
            standby = "c2" if leader == "c1" else "c1"
            wait_until(
                lambda: rows(
                    pg_url, "SELECT 1 FROM check_jobs WHERE started_at > clock_timestamp() - interval '2s'"
                ),
                timeout=30,
                what="a check started",
                every=0.05,
            )
            time.sleep(rng.uniform(0, 0.5))
            procs.kill(leader)
            wait_until(
                lambda name=standby: rows(pg_url, LEADING, n=name),  # type: ignore[misc]
                timeout=15,
                what=f"{standby} to take over from {leader}",
            )
            _start_clock(procs, leader)

        wait_until(
            lambda: all(
                sum(1 for t in _completed(pg_url)[str(s["name"])] if t[2] == "ok") >= 8 for s in sources
            ),
            timeout=90,
            what="more checks after the kills",
        )
        for name in ("c1", "c2"):
            procs.kill(name, signal.SIGTERM)
        wait_until(lambda: _drained(pg_url), timeout=30, what="the queue to drain")
        procs.stop_all()

        done = _completed(pg_url)
        shops = {"a": a, "b": b}
        for src in sources:
            name = str(src["name"])
            tickets = done[name]
            assert all(t[2] == "ok" for t in tickets), (name, tickets)
            if name != "stuck":
                retried = rows(
                    pg_url,
                    "SELECT coalesce(sum(attempts - 1), 0) AS n FROM check_jobs WHERE source = :s",
                    s=name,
                )[0].n
                # A check the killed worker held is retried after --stalled-after (10 s): the source's
                # slots due meanwhile are skipped, as its check still runs.
                _assert_slots_in_step(tickets, INTERVAL, name)
                # Each slot was asked once, or once more when a killed worker held it mid-check.
                asked = shops[name[0]].count("/p" + name[-1])
                assert len(tickets) <= asked <= len(tickets) + int(retried), (
                    name,
                    asked,
                    len(tickets),
                    retried,
                )
        # 'stuck': its first slot was asked twice (the killed attempt, then the retry), then once per slot.
        assert b.count("/stuck") == len(done["stuck"]) + 1
        runs = rows(
            pg_url,
            "SELECT r.status, r.error FROM check_runs r JOIN sources s ON s.id = r.source_id"
            " WHERE s.name = 'stuck' AND r.status <> 'ok'",
        )
        assert [r.status for r in runs] == ["cancelled"]
        assert "its worker stopped" in str(runs[0].error)
        # No observation twice: the page never changed, so each listing has one observation row.
        dup = rows(
            pg_url,
            "SELECT listing_id, COUNT(*) AS n FROM observations GROUP BY listing_id HAVING COUNT(*) > 1",
        )
        assert dup == []


def test_three_workers_drain_alerts_once_per_event_and_channel(procs: Processes, pg_url: str) -> None:
    with shop("127.0.0.2") as a, shop("127.0.0.3") as b, json_receiver() as hook:
        sources = [_source(f"a{i}", f"{a.base}/p{i}") for i in range(4)]
        sources += [_source(f"b{i}", f"{b.base}/p{i}") for i in range(4)]
        alerts = (
            "[[alerts.channels]]\n"
            f'name = "one"\nurl = "{hook.url("one")}"\n\n'
            "[[alerts.channels]]\n"
            f'name = "two"\nurl = "{hook.url("two")}"\n\n'
            '[[alerts.rules]]\non = ["price_drop", "price_below_list"]\n'
        )
        procs.config.write_text(
            config_text(sources, interval="3s", per_host_delay=0, extra=alerts), encoding="utf-8"
        )
        procs.start("clock", "scheduler")
        for name in ("w1", "w2", "w3"):
            procs.start(name, "worker", "--name", name)
        wait_until(
            lambda: len(rows(pg_url, "SELECT 1 FROM sources WHERE baseline_done")) == len(sources),
            timeout=90,
            what="a first check of every source",
        )
        for i in range(4):  # every shop marks every product down: one price drop per listing
            a.prices[f"/p{i}"] = "129.00"
            b.prices[f"/p{i}"] = "129.00"
        wait_until(
            lambda: len(rows(pg_url, "SELECT 1 FROM events WHERE kind = 'price_drop'")) == len(sources),
            timeout=60,
            what="a price drop event per listing",
        )
        wait_until(
            lambda: not rows(pg_url, "SELECT 1 FROM deliveries WHERE status <> 'sent'"),
            timeout=60,
            what="every delivery sent",
        )
        time.sleep(2)  # a duplicate, if any, would arrive now
        procs.stop_all()

        deliveries = rows(pg_url, "SELECT event_id, channel FROM deliveries")
        events = rows(pg_url, "SELECT id FROM events WHERE kind IN ('price_drop', 'price_below_list')")
        assert len(deliveries) == 2 * len(events) >= 2 * len(sources)
        with hook.lock:
            received = Counter(r["headers"]["idempotency-key"] for r in hook.received)
        assert set(received) == {f"{d.event_id}:{d.channel}" for d in deliveries}
        assert set(received.values()) == {1}, "an alert went out twice"


def test_run_on_postgresql_shares_checks_with_a_worker_and_config_edits_reach_both(
    procs: Processes, pg_url: str
) -> None:
    with shop("127.0.0.2") as a:
        sources = [_source(f"s{i}", f"{a.base}/p{i}") for i in range(4)]
        procs.config.write_text(config_text(sources, interval="2s", per_host_delay=0), encoding="utf-8")
        procs.start("run", "run", "--no-dashboard")
        procs.start("w", "worker", "--name", "beside")

        def workers_used() -> set[str]:
            return {str(r.worker) for r in rows(pg_url, "SELECT DISTINCT worker FROM check_jobs")}

        wait_until(lambda: len(workers_used()) == 2, timeout=90, what="both processes to run checks")
        assert "beside" in workers_used()

        # An edit of config.toml: one source disabled, one added; both processes act on it.
        edited = [{**sources[0], "enabled": False}, *sources[1:], _source("new", f"{a.base}/new")]
        procs.config.write_text(config_text(edited, interval="2s", per_host_delay=0), encoding="utf-8")
        wait_until(lambda: a.count("/new") >= 4, timeout=60, what="the added source to be checked")
        before = a.count("/p0")
        time.sleep(5)  # over two intervals: a source still scheduled would be asked again
        assert a.count("/p0") == before
        assert {
            str(r.worker) for r in rows(pg_url, "SELECT worker FROM check_jobs WHERE source = 'new'")
        } <= {
            "beside",
            *workers_used(),
        }
        version = rows(pg_url, "SELECT MAX(version) AS v FROM config_versions")[0].v
        assert version == 2


def test_worker_and_scheduler_refuse_sqlite_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text([_source("s", "http://127.0.0.1:9/p")]), encoding="utf-8")
    for command in ("worker", "scheduler"):
        assert main(["--config", str(config), command]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].startswith(f"error: `tracker {command}` needs PostgreSQL")


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A PostgreSQL cluster of this test's own (it gets restarted); (URL, restart)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not bins or os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.skip("needs Debian's postgresql and root, as scripts/test.sh provides")
    pgbin = bins[-1]
    folder = Path(tempfile.mkdtemp(prefix="pg.", dir="/tmp"))
    shutil.chown(folder, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_pg,
            str(pgbin / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_pg, str(pgbin / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w"]

    def start() -> None:
        subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)

    def restart() -> None:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True)
        time.sleep(3)  # down for several clock ticks and worker heartbeats
        start()

    start()
    subprocess.run(
        [*as_pg, str(pgbin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "tracker"], check=True
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/tracker", restart
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_database_restart_is_ridden_out_by_the_clock_and_the_workers(
    tmp_path: Path, own_postgres: tuple[str, Callable[[], None]]
) -> None:
    url, restart = own_postgres
    make_engine(url).dispose()
    procs = Processes(tmp_path / "config.toml", url)
    try:
        with shop("127.0.0.2") as a:
            sources = [_source(f"s{i}", f"{a.base}/p{i}") for i in range(3)]
            procs.config.write_text(config_text(sources, interval="2s", per_host_delay=0), encoding="utf-8")
            procs.start("clock", "scheduler", "--stalled-after", "10")
            procs.start("w1", "worker", "--name", "w1")
            procs.start("w2", "worker", "--name", "w2")

            def ok_runs() -> int:
                return len(rows(url, "SELECT 1 FROM check_runs WHERE status = 'ok'"))

            wait_until(lambda: ok_runs() >= 6, timeout=90, what="checks before the restart")
            restart()
            after = ok_runs()
            wait_until(lambda: ok_runs() >= after + 9, timeout=90, what="checks after the restart")
            assert all(p.poll() is None for p in procs.procs.values()), "a process died with the database"
            assert "database unreachable" in procs.log("clock") + procs.log("w1") + procs.log("w2")
            served = {str(r.worker) for r in rows(url, "SELECT DISTINCT worker FROM check_jobs")}
            assert served == {"w1", "w2"}
    finally:
        procs.stop_all()
