"""The fetcher against a real local HTTP server: 304s, retries, caps, robots.txt, per-host limits."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tracker.config import Defaults, Source
from tracker.errors import FetchError
from tracker.extract.page import decode
from tracker.fetch import Fetcher, FetchResult

T = TypeVar("T")

ETAG = '"v1-abc"'
LAST_MODIFIED = "Fri, 01 Mar 2024 15:00:00 GMT"
BOMB = gzip.compress(b"\0" * 40_000_000, compresslevel=9)
GZIPPED_PAGE = "<html><body>" + "2002R Protection Pack " * 500 + "</body></html>"


class Server:
    """A threaded HTTP server whose routes each misbehave in one known way."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.headers_seen: dict[str, dict[str, str]] = {}
        self.connections: set[tuple[str, int]] = set()
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.release = threading.Event()  # lets stalled handlers finish at teardown
        self.robots = b"User-agent: *\nDisallow: /private/\n"
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server.lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                try:
                    server.handle(self)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # The fetcher hangs up on bombs and oversized bodies on purpose: not an error here.
                return

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        host = h.headers.get("Host", "")
        # Absolute-form request lines are what a client sends to a forward proxy.
        path = ("proxy:" + parts.path) if h.path.startswith("http://") else parts.path
        with self.lock:
            self.hits[path] += 1
            n = self.hits[path]
            self.connections.add(h.client_address)
        self.headers_seen[path] = {k.lower(): v for k, v in h.headers.items()}

        def send(status: int, body: bytes = b"", ctype: str = "text/html", **headers: str) -> None:
            h.send_response(status)
            if status != 304:
                h.send_header("Content-Type", ctype)
                h.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                h.send_header(name.replace("_", "-"), value)
            h.end_headers()
            if status != 304:
                h.wfile.write(body)

        if path == "/robots.txt":
            if host.startswith("localhost"):
                send(503, b"down")
            else:
                send(200, self.robots, "text/plain")
        elif path == "/page":
            if h.headers.get("If-None-Match") == ETAG or h.headers.get("If-Modified-Since") == LAST_MODIFIED:
                send(304, ETag=ETAG)
            else:
                send(200, b"<html><body>Phantom $150</body></html>", ETag=ETAG, Last_Modified=LAST_MODIFIED)
        elif path == "/ratelimited":
            if n == 1:
                send(429, b"slow down", Retry_After="7")
            else:
                send(200, b"ok after 429")
        elif path == "/ratelimited-date":
            later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
            send(429, b"come back in an hour", Retry_After=later)
        elif path == "/flaky":
            if n <= 2:
                send(503, b"busy")
            else:
                send(200, b"ok after 503s")
        elif path == "/down":
            send(500, b"broken")
        elif path == "/stall":
            self.release.wait(10)
            send(200, b"too late")
        elif path == "/big":
            send(200, b"x" * 200_000)
        elif path == "/big-chunked":
            # No Content-Length: the cap must be enforced while streaming.
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Connection", "close")
            h.end_headers()
            for _ in range(50):
                h.wfile.write(b"y" * 10_000)
            h.close_connection = True
        elif path == "/bomb":
            send(200, BOMB, Content_Encoding="gzip")
        elif path == "/gzipped":
            send(200, gzip.compress(GZIPPED_PAGE.encode()), Content_Encoding="gzip")
        elif path == "/deflated":
            send(200, zlib.compress(GZIPPED_PAGE.encode()), Content_Encoding="deflate")
        elif path == "/loop-a":
            send(302, b"", Location="/loop-b")
        elif path == "/loop-b":
            send(301, b"", Location=self.base + "/loop-a")
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                send(200, b"end of chain")
            else:
                send(302, b"", Location=f"/chain/{left - 1}")
        elif path == "/to-other-host":
            send(302, b"", Location=f"http://localhost:{self.port}/headers")
        elif path.startswith("/private/"):
            send(200, b"should never be fetched")
        elif path == "/slow":
            time.sleep(0.2)
            send(200, b"slow")
        elif path == "/blocked":
            send(403, b"<html><title>Access Denied</title>You don't have permission</html>")
        elif path == "/forbidden":
            send(403, b"<html>Members only</html>")
        elif path == "/latin1":
            send(200, "<p>Caf\u00e9 \u00a3100</p>".encode("latin-1"), "text/html; charset=iso-8859-1")
        elif path == "/meta-charset":
            send(200, '<meta charset="windows-1252"><p>\u20ac170</p>'.encode("cp1252"), "text/html")
        elif path == "/headers":
            send(200, json.dumps(dict(h.headers.items())).encode(), "application/json")
        elif path == "proxy:/proxied":
            send(200, f"via proxy for {h.path}".encode(), "text/plain")
        else:
            send(404, b"not found")


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


class FakeTime:
    """A clock that moves only when the fetcher sleeps, so waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def defaults(**overrides: Any) -> Defaults:
    values: dict[str, Any] = {"per_host_delay": 0, "timeout": 5, "retries": 2, "max_body_bytes": 100_000}
    values.update(overrides)
    return Defaults(**values)


def fetch_one(
    url: str, *, fake: FakeTime | None = None, source: Source | None = None, **kw: Any
) -> FetchResult:
    fake = fake or FakeTime()

    async def go() -> FetchResult:
        async with Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            return await f.fetch(url, source=source, **kw)

    return run(go)


def fetch_error(
    url: str, *, d: Defaults | None = None, source: Source | None = None
) -> tuple[FetchError, Fetcher]:
    fake = FakeTime()

    async def go() -> tuple[FetchError, Fetcher]:
        async with Fetcher(d or defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            with pytest.raises(FetchError) as info:
                await f.fetch(url, source=source)
            return info.value, f

    return run(go)


def src(**kw: Any) -> Source:
    values: dict[str, Any] = {"name": "Shop", "kind": "page", "url": "http://127.0.0.1/"}
    values.update(kw)
    return Source(**values)


def test_plain_fetch_returns_body_headers_and_validators(server: Server) -> None:
    result = fetch_one(server.base + "/page")
    assert result.status_code == 200
    assert result.body == b"<html><body>Phantom $150</body></html>"
    assert result.etag == ETAG and result.last_modified == LAST_MODIFIED
    assert result.content_type == "text/html"
    assert result.not_modified is False and result.attempts == 1
    assert result.final_url == result.url == server.base + "/page"
    assert result.elapsed_ms > 0


@pytest.mark.parametrize(
    ("validators"),
    [{"etag": ETAG}, {"last_modified": LAST_MODIFIED}, {"etag": ETAG, "last_modified": LAST_MODIFIED}],
    ids=["etag", "last-modified", "both"],
)
def test_conditional_request_costs_a_304(server: Server, validators: dict[str, str]) -> None:
    result = fetch_one(server.base + "/page", **validators)
    assert result.status_code == 304
    assert result.not_modified is True
    assert result.body == b""
    sent = server.headers_seen["/page"]
    if "etag" in validators:
        assert sent["if-none-match"] == ETAG
    if "last_modified" in validators:
        assert sent["if-modified-since"] == LAST_MODIFIED


def test_304_and_redirects_keep_the_connection_alive(server: Server) -> None:
    async def go() -> None:
        async with Fetcher(defaults()) as f:
            for _ in range(3):
                assert (await f.fetch(server.base + "/page", etag=ETAG)).not_modified
            assert (await f.fetch(server.base + "/chain/2")).body == b"end of chain"

    run(go)
    assert server.hits["/page"] == 3 and server.hits["/chain/0"] == 1
    assert len(server.connections) == 1, "every response reused one kept-alive connection"


def test_429_waits_for_retry_after_then_succeeds(server: Server) -> None:
    fake = FakeTime()

    async def go() -> tuple[FetchResult, list[float]]:
        async with Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            return await f.fetch(server.base + "/ratelimited"), f.waits

    result, waits = run(go)
    assert result.status_code == 200 and result.body == b"ok after 429"
    assert result.attempts == 2
    assert waits == [7.0]
    assert fake.sleeps == [7.0]


def test_retry_after_beyond_the_cap_gives_up_without_sleeping(server: Server) -> None:
    error, fetcher = fetch_error(server.base + "/ratelimited-date")
    assert error.kind == "rate_limited" and error.status_code == 429
    assert server.base + "/ratelimited-date" in str(error)
    assert fetcher.waits == []
    assert server.hits["/ratelimited-date"] == 1


def test_503_twice_then_200_with_exponential_backoff(server: Server) -> None:
    fake = FakeTime()

    async def go() -> tuple[FetchResult, list[float]]:
        async with Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            return await f.fetch(server.base + "/flaky"), f.waits

    result, waits = run(go)
    assert result.body == b"ok after 503s" and result.attempts == 3
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.25 and 2.0 <= waits[1] <= 2.5, waits


def test_persistent_5xx_is_a_server_error_after_the_retries(server: Server) -> None:
    error, fetcher = fetch_error(server.base + "/down", d=defaults(retries=3))
    assert error.kind == "server_error" and error.status_code == 500
    assert server.hits["/down"] == 4
    assert len(fetcher.waits) == 3
    assert all(b <= w <= b * 1.25 for w, b in zip(fetcher.waits, (1, 2, 4), strict=True)), fetcher.waits


def test_connection_refused_is_retried_then_reported() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    error, fetcher = fetch_error(f"http://127.0.0.1:{port}/x", source=src(respect_robots=False))
    assert error.kind == "connection"
    assert f"127.0.0.1:{port}/x" in str(error)
    assert len(fetcher.waits) == 2


def test_stall_longer_than_the_timeout_is_a_timeout(server: Server) -> None:
    error, fetcher = fetch_error(server.base + "/stall", source=src(timeout="300ms"))
    assert error.kind == "timeout"
    assert "/stall" in str(error)
    assert fetcher.waits == []  # a stalled shop is not hammered again at once


@pytest.mark.parametrize("path", ["/big", "/big-chunked"], ids=["content-length", "streamed"])
def test_body_over_the_cap_is_too_large(server: Server, path: str) -> None:
    error, _ = fetch_error(server.base + path)
    assert error.kind == "too_large"
    assert path in str(error)


def test_gzip_bomb_is_stopped_at_the_cap_on_decoded_bytes(server: Server) -> None:
    assert len(BOMB) < 100_000  # the compressed body alone is under the cap
    error, _ = fetch_error(server.base + "/bomb")
    assert error.kind == "too_large"


@pytest.mark.parametrize("path", ["/gzipped", "/deflated"])
def test_compressed_bodies_are_decoded(server: Server, path: str) -> None:
    result = fetch_one(server.base + path)
    assert decode(result.body, result.content_type) == GZIPPED_PAGE
    assert server.headers_seen[path]["accept-encoding"] == "gzip, deflate"


def test_redirect_loop_is_detected(server: Server) -> None:
    error, _ = fetch_error(server.base + "/loop-a")
    assert error.kind == "redirect_loop"
    assert server.hits["/loop-a"] == 1 and server.hits["/loop-b"] == 1


def test_redirects_are_followed_up_to_five(server: Server) -> None:
    result = fetch_one(server.base + "/chain/5")
    assert result.body == b"end of chain"
    assert result.final_url == server.base + "/chain/0"
    assert result.url == server.base + "/chain/5"
    error, _ = fetch_error(server.base + "/chain/6")
    assert error.kind == "redirect_loop"


def test_robots_txt_disallow_is_honoured_and_cached(server: Server) -> None:
    fake = FakeTime()

    async def go() -> FetchError:
        async with Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            await f.fetch(server.base + "/page")
            with pytest.raises(FetchError) as info:
                await f.fetch(server.base + "/private/drop.html")
            await f.fetch(server.base + "/page")
            return info.value

    error = run(go)
    assert error.kind == "robots"
    assert "/private/drop.html" in str(error)
    assert server.hits["/private/drop.html"] == 0
    assert server.hits["/robots.txt"] == 1  # cached per host


def _robots_verdicts(server: Server, paths: list[str], fake: FakeTime) -> dict[str, bool]:
    async def go() -> dict[str, bool]:
        out: dict[str, bool] = {}
        async with Fetcher(defaults(retries=0), sleep=fake.sleep, clock=fake.clock) as f:
            for path in paths:
                try:
                    await f.fetch(server.base + path)
                    out[path] = True
                except FetchError as exc:
                    out[path] = exc.kind != "robots"
        return out

    return run(go)


def test_robots_txt_follows_rfc9309_wildcards_and_longest_match(server: Server) -> None:
    server.robots = (
        b"User-agent: *\n"
        b"Disallow: /*.json$\n"  # a catalogue's JSON, but not with a query after it
        b"Disallow: /shop/\n"
        b"Allow: /shop/products/\n"  # longer than /shop/: wins, wherever it is written
        b"Disallow: /*/secret\n"
    )
    verdicts = _robots_verdicts(
        server,
        ["/products.json", "/products.json?page=2", "/shop/cart", "/shop/products/m2002rda", "/a/secret"],
        FakeTime(),
    )
    assert verdicts == {
        "/products.json": False,
        "/products.json?page=2": True,
        "/shop/cart": False,
        "/shop/products/m2002rda": True,
        "/a/secret": False,
    }


def test_robots_txt_is_read_again_after_a_day(server: Server) -> None:
    fake = FakeTime()

    async def go() -> list[bool]:
        allowed: list[bool] = []
        async with Fetcher(defaults(retries=0), sleep=fake.sleep, clock=fake.clock) as f:
            for step in (0.0, 86_000.0, 500.0):  # a day minus 400 s, then past the day
                fake.now += step
                if step == 500.0:
                    server.robots = b"User-agent: *\nDisallow: /page\n"
                try:
                    await f.fetch(server.base + "/page")
                    allowed.append(True)
                except FetchError as exc:
                    assert exc.kind == "robots"
                    allowed.append(False)
        return allowed

    assert run(go) == [True, True, False]
    assert server.hits["/robots.txt"] == 2, "cached for a day (RFC 9309), then read again"


def test_source_can_opt_out_of_robots(server: Server) -> None:
    result = fetch_one(server.base + "/private/drop.html", source=src(respect_robots=False))
    assert result.body == b"should never be fetched"
    assert server.hits["/robots.txt"] == 0


def test_robots_404_allows_and_5xx_allows_with_a_note(server: Server) -> None:
    fake = FakeTime()

    async def go() -> dict[str, str]:
        async with Fetcher(defaults(retries=0), sleep=fake.sleep, clock=fake.clock) as f:
            await f.fetch(f"http://localhost:{server.port}/private/x")  # robots.txt answers 503 there
            return dict(f.robots_notes)

    notes = run(go)
    assert server.hits["/private/x"] == 1
    assert any("503" in note for note in notes.values())


def test_403_challenge_is_blocked_and_plain_403_is_http_error(server: Server) -> None:
    blocked, _ = fetch_error(server.base + "/blocked")
    assert blocked.kind == "blocked" and blocked.status_code == 403
    plain, _ = fetch_error(server.base + "/forbidden")
    assert plain.kind == "http_error" and plain.status_code == 403
    missing, fetcher = fetch_error(server.base + "/nope")
    assert missing.kind == "http_error" and missing.status_code == 404
    assert fetcher.waits == []


def test_user_agent_and_source_headers_are_sent(server: Server) -> None:
    source = src(headers={"Accept-Language": "en-GB", "X-Shop-Token": "abc"})
    result = fetch_one(server.base + "/headers", source=source, accept="application/json")
    sent = {k.lower(): v for k, v in json.loads(result.body).items()}
    assert sent["user-agent"] == Defaults().user_agent
    assert sent["accept-language"] == "en-GB" and sent["x-shop-token"] == "abc"
    assert sent["accept"] == "application/json"


def test_credentials_are_not_forwarded_to_another_host(server: Server) -> None:
    source = src(headers={"Authorization": "Bearer secret", "X-Shop": "1"}, respect_robots=False)
    result = fetch_one(server.base + "/to-other-host", source=source)
    sent = {k.lower(): v for k, v in json.loads(result.body).items()}
    assert sent["host"].startswith("localhost") and sent["x-shop"] == "1"
    assert "authorization" not in sent
    assert server.headers_seen["/to-other-host"]["authorization"] == "Bearer secret"


def test_proxy_per_source(server: Server) -> None:
    source = src(proxy=server.base, respect_robots=False)
    result = fetch_one("http://shop.invalid/proxied", source=source)
    assert decode(result.body, result.content_type) == "via proxy for http://shop.invalid/proxied"
    assert server.hits["proxy:/proxied"] == 1


def test_text_uses_declared_then_meta_charset(server: Server) -> None:
    # The one decoder (extraction's) reads what the fetcher returns: declared charset, then meta.
    latin1 = fetch_one(server.base + "/latin1")
    assert decode(latin1.body, latin1.content_type) == "<p>Caf\u00e9 \u00a3100</p>"
    meta = fetch_one(server.base + "/meta-charset")
    assert "\u20ac170" in decode(meta.body, meta.content_type)


def test_per_host_concurrency_is_limited(server: Server) -> None:
    async def go() -> None:
        async with Fetcher(defaults(per_host_concurrency=2)) as f:
            results = await asyncio.gather(*(f.fetch(server.base + "/slow") for _ in range(6)))
            assert all(r.body == b"slow" for r in results)

    run(go)
    assert server.hits["/slow"] == 6
    assert server.peak == 2, f"{server.peak} requests were in flight at once"


def test_source_concurrency_overrides_defaults(server: Server) -> None:
    source = src(per_host_concurrency=4, respect_robots=False)

    async def go() -> None:
        async with Fetcher(defaults(per_host_concurrency=1)) as f:
            await asyncio.gather(*(f.fetch(server.base + "/slow", source=source) for _ in range(8)))

    run(go)
    assert 1 < server.peak <= 4


def test_minimum_delay_between_requests_to_one_host(server: Server) -> None:
    fake = FakeTime()
    source = src(per_host_delay="5s", respect_robots=False)

    async def go() -> list[float]:
        async with Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock) as f:
            for _ in range(3):
                await f.fetch(server.base + "/page", source=source)
            fake.now += 3  # three seconds pass before the next check
            await f.fetch(server.base + "/page", source=source)
            fake.now += 60
            await f.fetch(server.base + "/page", source=source)
            return f.delays

    delays = run(go)
    assert delays == [5.0, 5.0, 2.0]
    assert fake.sleeps == [5.0, 5.0, 2.0]
    assert server.hits["/page"] == 5


def test_one_fetcher_survives_several_event_loops(server: Server) -> None:
    """A scheduler may run each check in its own asyncio.run: clients renew, politeness memory stays."""
    fake = FakeTime()
    source = src(per_host_delay="5s")
    fetcher = Fetcher(defaults(), sleep=fake.sleep, clock=fake.clock)

    async def check() -> FetchResult:
        return await fetcher.fetch(server.base + "/page", source=source)

    first = asyncio.run(check())
    second = asyncio.run(check())
    asyncio.run(fetcher.aclose())
    assert first.status_code == second.status_code == 200
    assert server.hits["/page"] == 2
    assert server.hits["/robots.txt"] == 1, "robots.txt stays cached across loops"
    # robots.txt at t=1000, page 1 waits 5 s, page 2 (new loop) still waits 5 s after it.
    assert fetcher.delays == [5.0, 5.0]
