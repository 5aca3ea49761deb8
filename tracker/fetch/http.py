"""Polite HTTP fetching: per-host limits, retries with backoff, conditional requests, robots.txt, caps."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from tracker.blocks import detect_block
from tracker.config import Defaults, Render, Source
from tracker.errors import FetchError
from tracker.fetch.politeness import (
    HostGate,
    HostState,
    backoff_wait,
    host_key,
    retry_after_seconds,
    start_wait,
)
from tracker.fetch.robots import ROBOTS_MAX_BYTES, Robots, parse_robots

T = TypeVar("T")
MAX_REDIRECTS = 5
_ERROR_BODY_BYTES = 65_536  # enough of an error page to recognise a challenge
_DECODE_STEP = 65_536  # decompress in slices so a bomb is stopped after one slice past the cap

DEFAULT_ACCEPT = "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"
_REDIRECTS = {301, 302, 303, 307, 308}
# What a fetcher keeps of its waits: at least the latest RECENT (a process that runs for months
# must not keep every wait it ever made).
RECENT = 1000
# The per-host memory (politeness, robots.txt, long pauses) is swept of the hosts that no longer
# need it once it holds this many entries, then each time it has doubled since the last sweep.
HOST_MEMORY = 512


class Recent(list[T]):
    """A list of the latest values: past twice `keep`, the oldest are dropped down to `keep`."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def append(self, value: T, /) -> None:
        """Add value; the oldest go once the list holds twice `keep` (amortised: no copy per value)."""
        super().append(value)
        if len(self) >= 2 * self.keep:
            del self[: -self.keep]


@dataclass(frozen=True)
class FetchResult:
    """One fetched URL: the final response after redirects and retries."""

    url: str
    final_url: str
    status_code: int
    body: bytes
    headers: dict[str, str]
    content_type: str | None
    not_modified: bool
    elapsed_ms: float
    attempts: int
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Settings:
    timeout: float
    retries: int
    max_body: int
    concurrency: int
    delay: float
    respect_robots: bool
    user_agent: str
    headers: dict[str, str]
    proxy: str | None


@dataclass(frozen=True)
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


class _Retry(Exception):
    """An attempt failed in a way worth retrying (connection trouble, 429, 5xx)."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Fetcher:
    """Fetch shop pages politely; one instance per process, shared by every source."""

    def __init__(
        self,
        defaults: Defaults,
        *,
        render: Render | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_retry_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        gate: HostGate | None = None,
    ) -> None:
        self.defaults = defaults
        self.render_settings = render or Render()
        # The headless browser pool (tracker.fetch.render), made by the first rendered page.
        self.renderer: Any = None
        # None: politeness is this process's memory (one process per database); a gate shares it.
        self.gate = gate
        self.max_retry_after = max_retry_after
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._clients: dict[str | None, httpx.AsyncClient] = {}
        self._hosts: dict[str, HostState] = {}
        self._robots: dict[str, Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Observable for tests, benchmarks and the health page.
        self.waits: Recent[float] = Recent(RECENT)  # retry backoff / Retry-After waits (the latest)
        self.delays: Recent[float] = Recent(RECENT)  # per-host politeness waits (the latest)
        self.robots_notes: dict[str, str] = {}  # host -> why its robots.txt was not used
        self.requests = 0  # HTTP requests sent, robots.txt included
        # host -> clock time before which it asked not to be asked again (a long Retry-After).
        self.not_before: dict[str, float] = {}
        self._sweep_at = HOST_MEMORY

    def reconfigure(self, defaults: Defaults) -> None:
        """Apply edited [defaults]: timeouts, retries, caps, robots and user agent at once; per-host
        concurrency and delay from each host's next request (when it last started is kept)."""
        self.defaults = defaults
        limit, delay = defaults.per_host_concurrency, defaults.per_host_delay
        for key, host in self._hosts.items():
            self._hosts[key] = HostState(asyncio.Semaphore(limit), delay, limit, last_start=host.last_start)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the browser (when one was started) and every HTTP client (one per proxy)."""
        if self.renderer is not None:
            renderer, self.renderer = self.renderer, None
            await renderer.aclose()
        clients, self._clients = list(self._clients.values()), {}
        if self._loop is not asyncio.get_running_loop():
            return  # made in a loop that has finished: nothing left to close from here
        for client in clients:
            await client.aclose()

    # -- public -------------------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        source: Source | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET url politely; raises FetchError(kind=...) naming the URL when it cannot be read."""
        started = time.perf_counter()
        self._bind_loop()
        settings = self._settings(source)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: not an http(s) URL", kind="connection")
        client = self._client(settings.proxy)
        headers = {"Accept": accept or DEFAULT_ACCEPT, "Accept-Encoding": "gzip, deflate"}
        headers.update(settings.headers)
        headers["User-Agent"] = settings.user_agent
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        current = url
        seen = {url}
        attempts = 0
        for _hop in range(MAX_REDIRECTS + 1):
            wait = await self._paused_for(host_key(current))
            if wait > 0:
                # The shop asked for a pause longer than we wait in a check: no request until then.
                raise FetchError(
                    f"{url}: rate limited, the shop asked for a pause; not asking again for {wait:.0f}s",
                    kind="rate_limited",
                )
            if settings.respect_robots:
                await self._check_robots(current, client, settings)
            response, used = await self._with_retries(current, client, settings, headers)
            attempts += used
            location = response.headers.get("location")
            if response.status in _REDIRECTS and location:
                target = urljoin(current, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    raise FetchError(f"{url}: redirected to a non-http URL {target}", kind="http_error")
                if target in seen:
                    raise FetchError(f"{url}: redirect loop through {target}", kind="redirect_loop")
                seen.add(target)
                if host_key(target) != host_key(current):
                    # Credentials meant for one shop are not handed to whatever host it redirects to.
                    for name in [h for h in headers if h.lower() in ("authorization", "cookie")]:
                        del headers[name]
                current = target
                continue
            return self._result(url, response, settings, attempts, started)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", kind="redirect_loop")

    def settings_for(self, source: Source | None) -> Settings:
        """The timeout, retries, caps and politeness that apply to a source."""
        self._bind_loop()
        return self._settings(source)

    async def admit(self, url: str, settings: Settings) -> None:
        """Raise FetchError unless url may be asked now: an http(s) URL, no long Retry-After pending,
        and allowed by robots.txt (when the source respects it)."""
        self._bind_loop()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: not an http(s) URL", kind="connection")
        wait = await self._paused_for(host_key(url))
        if wait > 0:
            raise FetchError(
                f"{url}: rate limited, the shop asked for a pause; not asking again for {wait:.0f}s",
                kind="rate_limited",
            )
        if settings.respect_robots:
            await self._check_robots(url, self._client(settings.proxy), settings)

    @asynccontextmanager
    async def host_slot(self, url: str, settings: Settings) -> AsyncIterator[None]:
        """Hold one of the host's concurrent slots, started no sooner than its delay allows."""
        async with self._turn(url, settings):
            self.requests += 1
            yield

    async def long_pause(self, url: str, retry_after: float | None) -> bool:
        """Remember a Retry-After longer than a check waits (the host is not asked before it ends):
        in this process, and for every worker when a gate shares politeness."""
        if retry_after is None or retry_after <= self.max_retry_after:
            return False
        self.not_before[host_key(url)] = self._clock() + retry_after
        self._sweep_if_large()
        if self.gate is not None:
            await self.gate.pause(host_key(url), retry_after)
        return True

    async def pause(self, wait: float) -> None:
        """Wait before a retry (recorded in waits, like the fetcher's own retries)."""
        self.waits.append(wait)
        await self._sleep(wait)

    # -- settings and clients -----------------------------------------------------------------

    def _bind_loop(self) -> None:
        """Start fresh clients and gates when called from a new event loop (asyncio.run per job).

        Connection pools and asyncio locks belong to the loop that made them; the politeness
        memory (when each host was last asked, robots.txt) is plain data and is kept.
        """
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            self._clients = {}  # their pools belong to a finished loop and cannot be closed from here
            self._robots_locks = {}
            for key, host in self._hosts.items():
                self._hosts[key] = HostState(
                    asyncio.Semaphore(host.limit), host.delay, host.limit, last_start=host.last_start
                )
        self._loop = loop

    def _settings(self, source: Source | None) -> Settings:
        d = self.defaults
        if source is None:
            return Settings(
                d.timeout,
                d.retries,
                d.max_body_bytes,
                d.per_host_concurrency,
                d.per_host_delay,
                d.respect_robots,
                d.user_agent,
                {},
                None,
            )
        return Settings(
            timeout=d.timeout if source.timeout is None else source.timeout,
            retries=d.retries,
            max_body=d.max_body_bytes,
            concurrency=source.per_host_concurrency or d.per_host_concurrency,
            delay=d.per_host_delay if source.per_host_delay is None else source.per_host_delay,
            respect_robots=d.respect_robots if source.respect_robots is None else source.respect_robots,
            user_agent=d.user_agent,
            headers=dict(source.headers),
            proxy=source.proxy,
        )

    def _client(self, proxy: str | None) -> httpx.AsyncClient:
        client = self._clients.get(proxy)
        if client is None:
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            if self._transport is not None and proxy is None:
                client = httpx.AsyncClient(transport=self._transport, follow_redirects=False, limits=limits)
            else:
                # A separate client per proxy: httpx binds the proxy to the client's pool.
                client = httpx.AsyncClient(proxy=proxy, follow_redirects=False, limits=limits)
            self._clients[proxy] = client
        return client

    def _host(self, url: str, settings: Settings) -> HostState:
        key = host_key(url)
        host = self._hosts.get(key)
        if host is None:
            self._sweep_if_large()  # before adding: a new host is forgettable until it is used
            # The first source to reach a host sets its limits; sources sharing a host share them.
            host = HostState(asyncio.Semaphore(settings.concurrency), settings.delay, settings.concurrency)
            self._hosts[key] = host
        return host

    def _sweep_if_large(self) -> None:
        """Forget the hosts whose memory no longer changes anything, once that memory has grown.

        A host is forgotten when a fresh start would behave the same: its politeness state when no
        request holds or waits for a slot and its delay has passed, its robots.txt once stale (it
        would be fetched again anyway), its long pause once over. So a tracker that meets new hosts
        for months (shops added and removed, redirects) keeps about the hosts of the last day.
        """
        size = len(self._hosts) + len(self._robots) + len(self.not_before)
        if size < self._sweep_at:
            return
        now = self._clock()
        self._hosts = {k: h for k, h in self._hosts.items() if not h.forgettable(now)}
        self._robots = {k: r for k, r in self._robots.items() if not r.stale(now)}
        # A lock just released may still have a waiter: its origin's robots.txt is fresh then.
        self._robots_locks = {
            k: lock for k, lock in self._robots_locks.items() if lock.locked() or k in self._robots
        }
        self.robots_notes = {k: note for k, note in self.robots_notes.items() if k in self._robots}
        self.not_before = {k: until for k, until in self.not_before.items() if until > now}
        kept = len(self._hosts) + len(self._robots) + len(self.not_before)
        self._sweep_at = max(HOST_MEMORY, 2 * kept)

    async def _paused_for(self, key: str) -> float:
        if self.gate is not None:
            return await self.gate.paused_for(key)
        return self.not_before.get(key, 0.0) - self._clock()

    @asynccontextmanager
    async def _turn(self, url: str, settings: Settings) -> AsyncIterator[None]:
        """Hold one of the host's request slots, starting no sooner than its delay allows."""
        if self.gate is None:
            host = self._host(url, settings)
            host.active += 1  # before any wait: a sweep never forgets a host a request is using
            try:
                async with host.semaphore:
                    await self._keep_distance(host)
                    yield
            finally:
                host.active -= 1
            return
        key = host_key(url)
        ticket, waited = await self.gate.enter(
            key, concurrency=settings.concurrency, delay=settings.delay, hold=settings.timeout * 2 + 30
        )
        if waited > 0:
            self.delays.append(waited)
        try:
            yield
        finally:
            await self.gate.leave(key, ticket)

    # -- one request, with retries ------------------------------------------------------------

    async def _with_retries(
        self, url: str, client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
    ) -> tuple[_Response, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(url, client, settings, headers), attempt
            except _Retry as retry:
                if attempt > settings.retries:
                    raise retry.error from None
                await self.pause(backoff_wait(attempt, retry.retry_after))

    async def _attempt(
        self, url: str, client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
    ) -> _Response:
        async with self._turn(url, settings):
            try:
                # A whole-request deadline, because httpx's timeout is per read and a shop that
                # trickles one byte at a time would never trip it.
                async with asyncio.timeout(settings.timeout * 2):
                    return await self._send(url, client, settings, headers)
            except TimeoutError:
                raise FetchError(
                    f"{url}: no complete answer within {settings.timeout * 2:g}s", kind="timeout"
                ) from None
            except httpx.ConnectTimeout:
                raise _Retry(
                    FetchError(f"{url}: connecting timed out after {settings.timeout:g}s", kind="timeout")
                ) from None
            except httpx.TimeoutException:
                raise FetchError(f"{url}: timed out after {settings.timeout:g}s", kind="timeout") from None
            except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
                raise _Retry(
                    FetchError(f"{url}: connection failed: {_reason(exc)}", kind="connection")
                ) from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: request failed: {_reason(exc)}", kind="connection") from None

    async def _keep_distance(self, host: HostState) -> None:
        """Wait until the host's minimum delay since the previous request start has passed."""
        async with host.lock:
            now = self._clock()
            wait = start_wait(host.last_start, host.delay, now)
            if wait > 0:
                self.delays.append(wait)
                await self._sleep(wait)
                now = self._clock()
            host.last_start = now

    async def _send(
        self, url: str, client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
    ) -> _Response:
        self.requests += 1
        request = client.build_request("GET", url, headers=headers, timeout=settings.timeout)
        response = await client.send(request, stream=True)
        try:
            status = response.status_code
            resp_headers = _headers(response)
            if status == 429 or status >= 500:
                body = await _read_capped(response, _ERROR_BODY_BYTES, url, truncate=True)
                if is_challenge(resp_headers, body):
                    raise FetchError(
                        f"{url}: blocked by a bot challenge (HTTP {status})",
                        kind="blocked",
                        status_code=status,
                    )
                retry_after = retry_after_seconds(resp_headers.get("retry-after"))
                if await self.long_pause(url, retry_after):
                    assert retry_after is not None
                    raise FetchError(
                        f"{url}: rate limited, the shop asks to wait {retry_after:.0f}s"
                        f" (more than {self.max_retry_after:.0f}s)",
                        kind="rate_limited",
                        status_code=status,
                    )
                if status == 429:
                    error = FetchError(
                        f"{url}: rate limited (HTTP 429)", kind="rate_limited", status_code=429
                    )
                else:
                    error = FetchError(
                        f"{url}: server error (HTTP {status})", kind="server_error", status_code=status
                    )
                raise _Retry(error, retry_after)
            if status >= 400:
                body = await _read_capped(response, _ERROR_BODY_BYTES, url, truncate=True)
                if status in (401, 403, 406, 451) and is_challenge(resp_headers, body):
                    raise FetchError(
                        f"{url}: blocked (HTTP {status}, access denied or a challenge page)",
                        kind="blocked",
                        status_code=status,
                    )
                raise FetchError(f"{url}: HTTP {status}", kind="http_error", status_code=status)
            if status == 304 or status in _REDIRECTS:
                # Read the (empty or tiny) body: a response closed unread costs the kept-alive connection.
                await _read_capped(response, _ERROR_BODY_BYTES, url, truncate=True)
                return _Response(status, resp_headers, b"", str(response.url))
            body = await _read_capped(response, settings.max_body, url)
            return _Response(status, resp_headers, body, str(response.url))
        finally:
            await response.aclose()

    def _result(
        self, url: str, response: _Response, settings: Settings, attempts: int, started: float
    ) -> FetchResult:
        headers = response.headers
        return FetchResult(
            url=url,
            final_url=response.url,
            status_code=response.status,
            body=response.body,
            headers=headers,
            content_type=headers.get("content-type"),
            not_modified=response.status == 304,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            attempts=attempts,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )

    # -- robots.txt ---------------------------------------------------------------------------

    async def _check_robots(self, url: str, client: httpx.AsyncClient, settings: Settings) -> None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:
            robots = self._robots.get(key)
            if robots is None or robots.stale(self._clock()):
                robots = Robots(await self._load_robots(key, client, settings), self._clock())
                self._robots[key] = robots
                self._sweep_if_large()
        if not robots.allows(url, settings.user_agent):
            raise FetchError(f"{url}: disallowed by {key}/robots.txt", kind="robots")

    async def _load_robots(
        self, origin: str, client: httpx.AsyncClient, settings: Settings
    ) -> Protego | None:
        url = origin + "/robots.txt"
        headers = {"User-Agent": settings.user_agent, "Accept": "text/plain,*/*;q=0.5"}
        seen = {url}
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                async with self._turn(url, settings):
                    async with asyncio.timeout(settings.timeout * 2):
                        self.requests += 1
                        request = client.build_request("GET", url, headers=headers, timeout=settings.timeout)
                        response = await client.send(request, stream=True)
                        try:
                            status = response.status_code
                            location = response.headers.get("location")
                            body = await _read_capped(response, ROBOTS_MAX_BYTES, url, truncate=True)
                        finally:
                            await response.aclose()
                if status in _REDIRECTS and location:
                    url = urljoin(url, location)
                    if url in seen:
                        break
                    seen.add(url)
                    continue
                if 200 <= status < 300:
                    self.robots_notes.pop(origin, None)
                    return parse_robots(body)
                if 400 <= status < 500:
                    # RFC 9309: an unavailable robots.txt (any 4xx) means no restrictions.
                    self.robots_notes.pop(origin, None)
                    return None
                self.robots_notes[origin] = f"robots.txt answered HTTP {status}; checking as if allowed"
                return None
            self.robots_notes[origin] = "robots.txt redirects in a loop; checking as if allowed"
        except FetchError as exc:
            if exc.kind == "rate_limited":
                raise  # the host asked for a pause (from another worker): not a reason to allow all
            self.robots_notes[origin] = f"robots.txt unreachable ({_reason(exc)}); checking as if allowed"
        except (httpx.HTTPError, TimeoutError) as exc:
            self.robots_notes[origin] = f"robots.txt unreachable ({_reason(exc)}); checking as if allowed"
        return None


# -- helpers ----------------------------------------------------------------------------------


def _headers(response: httpx.Response) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_challenge(headers: dict[str, str], body: bytes) -> bool:
    """A refusal page (challenge, captcha, access denied) rather than a plain error."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    return detect_block(body[:_ERROR_BODY_BYTES].decode("utf-8", errors="replace")) is not None


async def _read_capped(response: httpx.Response, cap: int, url: str, *, truncate: bool = False) -> bytes:
    """The decoded body, stopping past `cap` bytes: FetchError(too_large), or cut if truncate."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    length = response.headers.get("content-length", "")
    if not truncate and encoding in ("", "identity") and length.isdigit() and int(length) > cap:
        raise FetchError(f"{url}: body of {int(length)} bytes is over the {cap}-byte cap", kind="too_large")
    out = bytearray()
    async for chunk in _decoded(response, encoding, cap):
        out += chunk
        if len(out) > cap:
            if truncate:
                return bytes(out[:cap])
            raise FetchError(f"{url}: body is over the {cap}-byte cap", kind="too_large")
    return bytes(out)


async def _decoded(response: httpx.Response, encoding: str, cap: int) -> AsyncIterator[bytes]:
    """Decode gzip/deflate ourselves, in bounded slices, so the cap applies to decoded bytes."""
    if encoding in ("", "identity"):
        async for chunk in response.aiter_raw():
            yield chunk
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        # We only ask for gzip and deflate; anything else is left to httpx (still capped per chunk).
        async for chunk in response.aiter_bytes():
            yield chunk
        return
    # 47 = 32 + 15: accept a gzip or zlib header; raw deflate (no header) is tried on failure.
    decoder = zlib.decompressobj(47)
    first = True
    produced = 0
    async for raw in response.aiter_raw():
        data = raw
        while data:
            try:
                piece = decoder.decompress(data, _DECODE_STEP)
            except zlib.error:
                if not first or encoding == "gzip":
                    raise httpx.DecodingError("invalid compressed body") from None
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                piece = decoder.decompress(data, _DECODE_STEP)
            first = False
            produced += len(piece)
            if piece:
                yield piece
            if produced > cap:
                return
            data = decoder.unconsumed_tail
            if decoder.eof and decoder.unused_data:
                # Concatenated gzip members: start the next one.
                data = decoder.unused_data
                decoder = zlib.decompressobj(47)
    tail = decoder.flush()
    if tail:
        yield tail
