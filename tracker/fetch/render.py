"""Rendering pages in headless Chromium (Playwright) for sources with render = true.

One browser serves every rendering source; each check gets a fresh context (no cookies or storage
carried between checks) with images, fonts and media blocked. A render waits for the product to
appear (JSON-LD offers, a microdata price, or a price element with digits), or for the source's
``wait_for`` selector, within ``[render] timeout``; a page that shows no product is read as it is
once it has been quiet for QUIET_SECONDS (no request in flight, its document unchanged). At most
``max_open_pages`` pages are open at once; the browser is replaced after ``recycle_after`` pages
or when its memory passes ``memory_cap_mb``, and closed after ``idle_close`` without renders.
Politeness is the fetcher's: robots.txt, a long Retry-After, the host's concurrency slots and
delay (a page load is one request to the host, the requests its scripts make while it loads are
part of that visit), and retries with backoff on 429, 5xx and connection failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.config import Render, Source
from tracker.errors import FetchError
from tracker.fetch.http import Fetcher, FetchResult, Recent, Settings, is_challenge
from tracker.fetch.politeness import backoff_wait, retry_after_seconds

log = logging.getLogger("tracker.render")

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
)
# Marks the browser's main process with the tracker's process id, so a leftover can be found.
OWNER_ENV = "TRACKER_RENDER_OWNER"
BLOCKED_TYPES = frozenset({"image", "font", "media", "ping", "manifest", "texttrack"})
CLOSE_TIMEOUT = 10.0
# A page showing no product is read as it is once it has been quiet this long: no request of its own
# in flight and nothing added to or changed in its document. A page that is never quiet (a ticker, a
# long poll) is read at the timeout, as before.
QUIET_SECONDS = 2.0
# Installed before the page's own scripts: the page time of the document's last change.
_WATCH_CHANGES = """(() => {
  window.__trackerChanged = 0;
  try {
    new MutationObserver(() => { window.__trackerChanged = performance.now(); })
      .observe(document, {subtree: true, childList: true, characterData: true});
  } catch (e) {}
})();"""

# True once the page shows a product: JSON-LD offers, a microdata price, or a visible price with digits.
PRODUCT_READY = """() => {
  if (document.querySelector('[itemprop="price"], [itemprop="offers"]')) return true;
  for (const s of document.querySelectorAll('script[type*="ld+json" i]'))
    if (/"(offers|price)"/i.test(s.textContent || "")) return true;
  for (const e of document.querySelectorAll(
      '[class*="price" i], [id*="price" i], [data-testid*="price" i], [data-price]'))
    if (/\\d/.test(e.textContent || "") && e.getClientRects().length) return true;
  return false;
}"""


class _Network:
    """A page's own requests in flight, and when the last one started or ended."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()

    def started(self, _request: Any) -> None:
        self.in_flight += 1
        self.last = time.monotonic()

    def ended(self, _request: Any) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last = time.monotonic()


_READY_AND_QUIET = "() => [(" + PRODUCT_READY + ")(), performance.now() - (window.__trackerChanged || 0)]"


async def _product_or_quiet(page: Any, network: _Network, deadline: float) -> str:
    """Wait until the page shows a product ("product"), or has been quiet for QUIET_SECONDS without
    one ("quiet"), or the render's time is up ("timeout")."""
    from playwright.async_api import Error as PlaywrightError

    while True:
        try:
            ready, unchanged_ms = await page.evaluate(_READY_AND_QUIET)
        except PlaywrightError:
            # The page navigated while asked (a script sent it elsewhere): that is activity.
            ready, unchanged_ms = False, 0.0
            network.last = time.monotonic()
        if ready:
            return "product"
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if (
            network.in_flight == 0
            and now - network.last >= QUIET_SECONDS
            and unchanged_ms >= QUIET_SECONDS * 1000
        ):
            return "quiet"
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class _Job:
    """One render attempt: what to load, under which settings, and since when."""

    url: str
    source: Source | None
    settings: Settings
    attempt: int
    started: float


class _Retry(Exception):
    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass
class RenderStats:
    """What the browser pool has done: for the bench, the tests and the logs."""

    pages: int = 0
    launches: int = 0
    recycles: int = 0
    peak_memory: int = 0  # bytes (proportional set size of the browser's processes)
    last_memory: int = 0
    open_peak: int = 0
    blocked_requests: int = 0
    quiet_reads: int = 0  # pages read with no product shown, once quiet (not at the timeout)
    # The latest browsers' process groups: enough to tell a new browser from one still retiring,
    # and no list that grows with every launch of a tracker running for months.
    browser_pids: Recent[int] = field(default_factory=lambda: Recent(32))


def _proc_stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, process group) of a process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def process_group(pgid: int) -> list[int]:
    """The pids of a process group (a browser and its renderers, zygotes and helpers)."""
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(entry)
            if stat is not None and stat[1] == pgid:
                out.append(int(entry))
    return out


def owned_browsers(owner: int) -> list[int]:
    """Main pids of the browsers a tracker process started (they carry its pid in OWNER_ENV)."""
    marker = f"{OWNER_ENV}={owner}".encode()
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker in env.split(b"\0"):
            out.append(int(entry))
    return out


def group_memory(pgid: int) -> int:
    """Bytes the process group uses: proportional set size (shared pages counted once), else RSS."""
    total = 0
    for pid in process_group(pgid):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            try:
                pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, ValueError, IndexError):
                continue
            total += pages * os.sysconf("SC_PAGE_SIZE")
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def kill_group(pgid: int) -> None:
    """SIGKILL a browser's process group (a browser that does not close when asked)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def render(fetcher: Fetcher, url: str, *, source: Source | None = None) -> FetchResult:
    """GET url through the fetcher's headless browser (started on first use, closed with the fetcher),
    with the same politeness, robots and backoff as a plain fetch; FetchError when it cannot be read."""
    if fetcher.renderer is None:
        fetcher.renderer = Renderer(fetcher, fetcher.render_settings)
    result: FetchResult = await fetcher.renderer.render(url, source=source)
    return result


class Renderer:
    """The shared headless browser: fresh context per check, page cap, recycling, idle close."""

    def __init__(self, fetcher: Fetcher, settings: Render) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.stats = RenderStats()
        self._playwright: Any = None
        self._browser: Any = None
        self._pgid: int | None = None
        self._on_browser = 0  # pages rendered by the current browser
        self._open = 0
        self._retiring = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None
        self._pages: asyncio.Semaphore | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task[None] | None = None

    # -- public -------------------------------------------------------------------------------

    async def render(self, url: str, *, source: Source | None = None) -> FetchResult:
        """The page at url after its JavaScript ran, as a FetchResult (status of the page load)."""
        started = time.perf_counter()
        self._bind_loop()
        settings = self.fetcher.settings_for(source)
        assert self._pages is not None
        attempt = 0
        while True:
            attempt += 1
            await self.fetcher.admit(url, settings)
            try:
                async with self._pages, self.fetcher.host_slot(url, settings):
                    browser = await self._acquire()
                    try:
                        job = _Job(url, source, settings, attempt, started)
                        return await self._render_once(browser, job)
                    finally:
                        await self._release()
            except _Retry as retry:
                if attempt > settings.retries:
                    raise retry.error from None
                await self.fetcher.pause(backoff_wait(attempt, retry.retry_after))

    async def aclose(self) -> None:
        """Close the browser and the Playwright driver; kill them if they do not close in time."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        with contextlib.suppress(RuntimeError):  # the loop that made them is gone: nothing to await
            if self._loop is not asyncio.get_running_loop():
                self._abandon()
                return
        await self._close_browser()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):  # the driver may already be gone
                await asyncio.wait_for(playwright.stop(), CLOSE_TIMEOUT)

    # -- the browser --------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        """Browser handles belong to the event loop that launched them: a new loop starts afresh."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            self._abandon()
        self._loop = loop
        self._cond = asyncio.Condition()
        self._pages = asyncio.Semaphore(self.settings.max_open_pages)

    def _abandon(self) -> None:
        """Kill a browser left by a finished event loop (its handles can no longer close it)."""
        if self._pgid is not None:
            kill_group(self._pgid)
        self._browser, self._playwright, self._pgid = None, None, None
        self._on_browser, self._open, self._retiring = 0, 0, False

    async def _launch(self) -> None:
        from playwright.async_api import async_playwright

        if self._playwright is None:
            self._playwright = await async_playwright().start()
        path = Path(self.settings.browser)
        if not path.exists():
            raise FetchError(
                f"render.browser: no browser at {path} (install Chromium, e.g. apt-get install chromium)",
                kind="connection",
            )
        env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}
        env[OWNER_ENV] = str(os.getpid())
        self._browser = await self._playwright.chromium.launch(
            executable_path=str(path), headless=True, args=list(CHROMIUM_ARGS), env=env
        )
        self._on_browser = 0
        self.stats.launches += 1
        known = set(self.stats.browser_pids)
        fresh = [pid for pid in owned_browsers(os.getpid()) if pid not in known]
        # Playwright starts the browser in its own process group: its pid is the group's id.
        self._pgid = fresh[0] if fresh else None
        if self._pgid is not None:
            self.stats.browser_pids.append(self._pgid)

    async def _close_browser(self) -> None:
        browser, pgid = self._browser, self._pgid
        self._browser, self._pgid = None, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT)
            except Exception:  # a hung or crashed browser: make sure it is gone
                log.warning("the browser did not close in %ss; killing it", CLOSE_TIMEOUT)
        if pgid is not None:
            if process_group(pgid):
                await asyncio.sleep(0.2)
            kill_group(pgid)

    async def _acquire(self) -> Any:
        """The current browser for one more page; waits while a retiring browser drains."""
        assert self._cond is not None
        async with self._cond:
            while self._retiring:
                await self._cond.wait()
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._browser is None or not self._browser.is_connected():
                if self._browser is not None:
                    await self._close_browser()
                await self._launch()
            self._open += 1
            self.stats.open_peak = max(self.stats.open_peak, self._open)
            return self._browser

    async def _release(self) -> None:
        """One page done: count it, measure the browser, recycle or schedule the idle close."""
        assert self._cond is not None
        async with self._cond:
            self._open -= 1
            self._on_browser += 1
            self.stats.pages += 1
            if self._pgid is not None:
                memory = await asyncio.to_thread(group_memory, self._pgid)
                self.stats.last_memory = memory
                self.stats.peak_memory = max(self.stats.peak_memory, memory)
                if memory > self.settings.memory_cap_mb * 1024 * 1024:
                    log.info(
                        "browser uses %d MB (cap %d MB): recycling it",
                        memory >> 20,
                        self.settings.memory_cap_mb,
                    )
                    self._retiring = True
            if self._on_browser >= self.settings.recycle_after:
                self._retiring = True
            if self._retiring and self._open == 0:
                await self._close_browser()
                self.stats.recycles += 1
                self._retiring = False
                self._cond.notify_all()
            if self._open == 0 and self._browser is not None and self._loop is not None:
                self._idle = self._loop.call_later(self.settings.idle_close, self._idle_close)

    def _idle_close(self) -> None:
        self._idle = None
        self._idle_task = asyncio.ensure_future(self._close_if_idle())

    async def _close_if_idle(self) -> None:
        assert self._cond is not None
        async with self._cond:
            if self._open == 0 and self._browser is not None:
                await self._close_browser()

    # -- one page -----------------------------------------------------------------------------

    async def _route(self, route: Any) -> None:
        if route.request.resource_type in BLOCKED_TYPES:
            self.stats.blocked_requests += 1
            await route.abort()
        else:
            await route.continue_()

    async def _render_once(self, browser: Any, job: _Job) -> FetchResult:
        from playwright.async_api import Error as PlaywrightError

        url, settings = job.url, job.settings

        budget = self.settings.timeout
        try:
            context = await browser.new_context(
                user_agent=settings.user_agent,
                extra_http_headers=settings.headers or None,
                proxy={"server": settings.proxy} if settings.proxy else None,
                service_workers="block",
            )
        except PlaywrightError as exc:
            raise _Retry(
                FetchError(f"{url}: the browser failed: {_first_line(exc)}", kind="connection")
            ) from None
        try:
            async with asyncio.timeout(budget * 2):  # a safety net over Playwright's own timeouts
                return await self._load(context, job)
        except TimeoutError:
            raise FetchError(
                f"{url}: the page did not finish within {budget * 2:g}s", kind="timeout"
            ) from None
        finally:
            try:
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)
            except Exception:  # a context that will not close: replace the whole browser
                self._retiring = True

    async def _load(self, context: Any, job: _Job) -> FetchResult:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        url, source, settings = job.url, job.source, job.settings

        deadline = time.monotonic() + self.settings.timeout
        await context.route("**/*", self._route)
        await context.add_init_script(_WATCH_CHANGES)
        page = await context.new_page()
        network = _Network()
        page.on("request", network.started)
        page.on("requestfinished", network.ended)
        page.on("requestfailed", network.ended)
        try:
            response = await page.goto(
                url, wait_until="domcontentloaded", timeout=self.settings.timeout * 1000
            )
        except PlaywrightTimeout:
            raise FetchError(
                f"{url}: the page did not load within {self.settings.timeout:g}s", kind="timeout"
            ) from None
        except PlaywrightError as exc:
            raise _Retry(
                FetchError(f"{url}: connection failed: {_first_line(exc)}", kind="connection")
            ) from None
        status = response.status if response is not None else 200
        headers = {k.lower(): v for k, v in (await response.all_headers()).items()} if response else {}
        if status >= 400:
            await self._refuse(page, url, status, headers)
        remaining = max(0.5, deadline - time.monotonic()) * 1000
        wait_for = source.wait_for if source is not None else None
        try:
            if wait_for:
                await page.wait_for_selector(wait_for, state="attached", timeout=remaining)
            elif await _product_or_quiet(page, network, deadline) == "quiet":
                self.stats.quiet_reads += 1
        except PlaywrightTimeout:
            if wait_for:
                raise FetchError(
                    f"{url}: wait_for {wait_for!r} did not appear within {self.settings.timeout:g}s",
                    kind="timeout",
                ) from None
            # No product appeared: read the page as it is; extraction says what it is.
        html = await page.content()
        body = html.encode("utf-8")
        if len(body) > settings.max_body:
            raise FetchError(
                f"{url}: rendered page is over the {settings.max_body}-byte cap", kind="too_large"
            )
        return FetchResult(
            url=url,
            final_url=page.url,
            status_code=status,
            body=body,
            headers=headers,
            content_type="text/html; charset=utf-8",
            not_modified=False,
            elapsed_ms=(time.perf_counter() - job.started) * 1000,
            attempts=job.attempt,
            etag=None,
            last_modified=None,
        )

    async def _refuse(self, page: Any, url: str, status: int, headers: dict[str, str]) -> None:
        """Turn an error answer into the fetcher's failure kinds (blocked, rate limited, retried)."""
        body = (await page.content()).encode("utf-8", "replace")
        if (status in (401, 403, 406, 429, 451, 503) or status >= 500) and is_challenge(headers, body):
            raise FetchError(
                f"{url}: blocked (HTTP {status}, a challenge page)", kind="blocked", status_code=status
            )
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(headers.get("retry-after"))
            if await self.fetcher.long_pause(url, retry_after):
                assert retry_after is not None
                raise FetchError(
                    f"{url}: rate limited, the shop asks to wait {retry_after:.0f}s",
                    kind="rate_limited",
                    status_code=status,
                )
            kind = "rate_limited" if status == 429 else "server_error"
            raise _Retry(FetchError(f"{url}: HTTP {status}", kind=kind, status_code=status), retry_after)
        raise FetchError(f"{url}: HTTP {status}", kind="http_error", status_code=status)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
