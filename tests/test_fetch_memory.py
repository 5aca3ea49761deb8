"""What a long-running fetcher keeps: bounded however many hosts it meets and waits it makes, and
never at the cost of politeness (a host in use, a fresh robots.txt, a running pause are kept)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import tracker.fetch.http as http
from tracker.config import Defaults, Source
from tracker.errors import FetchError
from tracker.fetch import Fetcher
from tracker.fetch.politeness import HostState

HOUR = 3600.0


class Shops:
    """Many small shops, each its own host (a port of its own on 127.0.0.1), in the test's loop."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[int, str]] = Counter()
        self.servers: list[asyncio.Server] = []
        self.ports: list[int] = []
        self.release = asyncio.Event()  # /hold answers once it is set

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                self.hits[port, path] += 1
                if path == "/robots.txt":
                    status, extra, body = "200 OK", "", b"User-agent: *\nDisallow: /private/\n"
                elif path == "/hold":
                    await self.release.wait()
                    status, extra, body = "200 OK", "", b"held"
                elif path == "/busy":
                    status, extra, body = "429 Too Many Requests", "Retry-After: 600\r\n", b"slow down"
                else:
                    status, extra, body = "200 OK", "", b"<html><body>2002R</body></html>"
                writer.write(
                    f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, count: int) -> None:
        for _ in range(count):
            server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
            self.servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def url(self, i: int, path: str = "/page") -> str:
        return f"http://127.0.0.1:{self.ports[i]}{path}"

    async def stop(self) -> None:
        for server in self.servers:
            server.close()


@asynccontextmanager
async def shops(count: int) -> AsyncIterator[Shops]:
    s = Shops()
    await s.start(count)
    try:
        yield s
    finally:
        await s.stop()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def fetcher(fake: FakeTime, **defaults: Any) -> Fetcher:
    values: dict[str, Any] = {"per_host_delay": 0, "timeout": 5, "retries": 0}
    values.update(defaults)
    return Fetcher(Defaults(**values), sleep=fake.sleep, clock=fake.clock)


def src(**kw: Any) -> Source:
    values: dict[str, Any] = {"name": "Shop", "kind": "page", "url": "http://127.0.0.1/"}
    values.update(kw)
    return Source(**values)


def remembered(f: Fetcher) -> int:
    return len(f._hosts) + len(f._robots) + len(f.not_before) + len(f._robots_locks) + len(f.robots_notes)


def test_host_memory_stays_bounded_over_many_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host a day: what is kept is about the last day's hosts, not every host ever met."""
    monkeypatch.setattr(http, "HOST_MEMORY", 8)
    fake = FakeTime()

    async def go() -> tuple[list[int], Counter[tuple[int, str]], list[int]]:
        sizes: list[int] = []
        async with shops(120) as s, fetcher(fake) as f:
            for i in range(120):
                await f.fetch(s.url(i))
                sizes.append(remembered(f))
                fake.now += HOUR
            # The last day's hosts again, within their robots.txt's day: not asked for it again.
            for i in range(100, 120):
                await f.fetch(s.url(i))
            kept = sorted(s.ports.index(int(k.rsplit(":", 1)[1])) for k in f._robots)
            return sizes, s.hits, kept

    sizes, hits, kept = asyncio.run(go())
    # 25 fresh robots.txt at most (a day of hosts, one an hour), each with its lock: one sweep's
    # survivors, doubled, is the most ever held. Without forgetting, 120 hosts x 3 entries.
    assert max(sizes) <= 2 * 2 * 26, sizes
    assert kept and min(kept) >= 120 - 25, "only robots.txt of the last day is kept"
    assert all(hits[port, "/robots.txt"] == 1 for port in [p for (p, _) in hits]), "none read twice"
    assert sum(n for (_, path), n in hits.items() if path == "/page") == 140


def test_a_host_inside_its_delay_is_never_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps in between do not let a host be asked again before its per_host_delay."""
    monkeypatch.setattr(http, "HOST_MEMORY", 4)
    fake = FakeTime()
    slow = src(per_host_delay="5s", respect_robots=False)
    other = src(respect_robots=False)

    async def go() -> tuple[list[float], int]:
        async with shops(20) as s, fetcher(fake) as f:
            await f.fetch(s.url(0), source=slow)
            for i in range(1, 20):  # many new hosts at the same moment: several sweeps
                await f.fetch(s.url(i), source=other)
            hosts = len(f._hosts)
            await f.fetch(s.url(0), source=slow)
            return list(f.delays), hosts

    delays, hosts = asyncio.run(go())
    assert delays == [5.0], "the second request to the slow host still waited its 5 s"
    assert hosts < 12, "hosts past their delay were forgotten"


def test_a_host_with_a_request_in_flight_is_kept_through_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forgetting it would hand a second request a fresh slot: two at once to a one-at-a-time shop."""
    monkeypatch.setattr(http, "HOST_MEMORY", 4)
    fake = FakeTime()
    one_at_a_time = src(per_host_concurrency=1, respect_robots=False)
    other = src(respect_robots=False)

    async def go() -> tuple[bool, int]:
        async with shops(20) as s, fetcher(fake) as f:
            held = asyncio.create_task(f.fetch(s.url(0, "/hold"), source=one_at_a_time))
            for _ in range(1000):
                if s.hits[s.ports[0], "/hold"]:
                    break
                await asyncio.sleep(0.01)
            state = f._hosts[f"127.0.0.1:{s.ports[0]}"]
            for i in range(1, 20):
                await f.fetch(s.url(i), source=other)
            kept = f._hosts.get(f"127.0.0.1:{s.ports[0]}") is state
            s.release.set()
            await held
            return kept, len(f._hosts)

    kept, hosts = asyncio.run(go())
    assert kept, "the host in use kept its slots"
    assert hosts < 12


def test_a_host_holding_a_slot_is_not_forgettable() -> None:
    async def go() -> list[bool]:
        host = HostState(asyncio.Semaphore(1), delay=0.0)
        free = host.forgettable(10.0)
        host.active = 1
        busy = host.forgettable(10.0)
        host.active, host.last_start, host.delay = 0, 9.0, 5.0
        return [free, busy, host.forgettable(10.0), host.forgettable(14.0)]

    assert asyncio.run(go()) == [True, False, False, True]


def test_a_long_pause_is_kept_while_it_runs_and_forgotten_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry-After: 600 (beyond what a check waits): the host is not asked before the 600 s are over,
    sweeps or not; pauses that ended are not kept."""
    monkeypatch.setattr(http, "HOST_MEMORY", 8)
    fake = FakeTime()
    quiet = src(respect_robots=False)

    async def go() -> tuple[list[str], list[int], Counter[tuple[int, str]]]:
        kinds: list[str] = []
        pauses: list[int] = []
        async with shops(40) as s, fetcher(fake) as f:
            for i in range(40):
                with pytest.raises(FetchError) as info:
                    await f.fetch(s.url(i, "/busy"), source=quiet)
                kinds.append(info.value.kind)
                pauses.append(len(f.not_before))
                fake.now += 60  # a minute per host: eleven pauses running at any time
            for i in range(31, 40):  # still paused: refused here, the shop is not asked
                with pytest.raises(FetchError) as again:
                    await f.fetch(s.url(i, "/busy"), source=quiet)
                kinds.append(again.value.kind)
            return kinds, pauses, s.hits

    kinds, pauses, hits = asyncio.run(go())
    assert set(kinds) == {"rate_limited"}
    assert sum(hits.values()) == 40, "each host asked once: the running pauses were kept"
    assert max(pauses) <= 2 * 11, pauses


def test_the_latest_waits_are_kept_not_every_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "RECENT", 5)
    fake = FakeTime()
    slow = src(per_host_delay="5s", respect_robots=False)

    async def go() -> list[float]:
        async with shops(1) as s, fetcher(fake) as f:
            for i in range(40):
                fake.now += 0.01 * i  # request i waits 5 - 0.01 i seconds
                await f.fetch(s.url(0), source=slow)
            return f.delays

    delays = asyncio.run(go())
    assert 5 <= len(delays) < 10
    assert delays == pytest.approx([5 - 0.01 * i for i in range(40 - len(delays), 40)])


def test_recent_keeps_between_keep_and_twice_keep_of_the_latest() -> None:
    kept = http.Recent(100)
    for i in range(10_000):
        kept.append(float(i))
        assert len(kept) < 200
    assert kept[-1] == 9999.0 and len(kept) >= 100
    assert kept == [float(i) for i in range(10_000 - len(kept), 10_000)]
    assert http.Recent(3) == [], "compares as the list it is"


def test_the_browser_pool_keeps_only_its_latest_browsers() -> None:
    from tracker.fetch.render import RenderStats

    stats = RenderStats()
    for pid in range(10_000):
        stats.browser_pids.append(pid)
    assert 32 <= len(stats.browser_pids) < 64 and stats.browser_pids[-1] == 9999
