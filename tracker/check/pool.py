"""Reading pages off the event loop: a few worker processes, and a time limit on every page.

Parsing is CPU work a hostile page can stretch (a huge catalogue, a page built to be slow): done on
the event loop, it would stop every other source's checks for as long. Here each body is read in
one of ``extract_workers`` processes; a page still being read after ``extract_timeout`` is given up
(the worker is killed and replaced) and its URL recorded as extract_error, "took longer than N s".
The waiting happens in threads, so the loop goes on checking the other sources meanwhile.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from tracker.errors import ExtractError, TooSlow

T = TypeVar("T")
# A worker that has read this many pages is replaced: memory a large page left behind goes with it.
MAX_PAGES_PER_WORKER = 500
# Imported once in the fork server, so a new worker starts in milliseconds: the collectors and the
# extraction modules their readers import when they run.
_PRELOAD = [
    "tracker.check.collect",
    "tracker.extract.shopify",
    "tracker.extract.page",
    "tracker.extract.calendar",
]
# The extraction modules each kind of source is read with (tracker.check.collect's readers).
_READ_WITH = {
    "shopify": ("tracker.extract.shopify",),
    "shopify_product": ("tracker.extract.shopify", "tracker.extract.page"),
    "page": ("tracker.extract.page",),
    "release_calendar": ("tracker.extract.calendar",),
}


def preload_for(kinds: Iterable[str] | None, *, collectors: bool = True) -> list[str]:
    """What the fork server imports for sources of these kinds (every reader when not known). A
    Shopify catalogue needs no HTML parser: the page modules (BeautifulSoup, lxml, selectolax, about
    a tenth of a second of CPU) load only for the kinds that read pages. A module left out still
    loads, in a worker, the first time a page needs it. Without collectors, the readers alone (what
    `tracker add` runs: the collectors are twice their import time)."""
    if kinds is None:
        wanted = set(_PRELOAD)
    else:
        wanted = {name for kind in kinds for name in _READ_WITH.get(kind, _PRELOAD)}
    return [name for name in _PRELOAD if (name == _PRELOAD[0] and collectors) or name in wanted]


def start_fork_server(kinds: Iterable[str] | None = None, *, collectors: bool = True) -> None:
    """Start the fork server now: it imports the readers the sources' kinds need (up to a second
    of CPU) on another core while this process goes on loading the config and the database layer."""
    from multiprocessing import forkserver

    preload = preload_for(kinds, collectors=collectors)
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    forkserver.ensure_running()


def stop_fork_server() -> None:
    """End the fork server now, when no page reader starts again soon (a later one starts a new
    server): left to the process's exit, it would first unload all it imported, and whoever reads
    the command's output waits for that too, as the server holds it open."""
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)  # it has no handler for it: gone at once, unloading nothing
    with contextlib.suppress(OSError):
        server._stop()  # reaps it and forgets it, so that the next reader starts a new one


def _serve(conn: Connection) -> None:
    """The worker's loop: read (function, args) and send back ("ok", result) or ("error", text)."""
    # Ctrl+C reaches the whole process group: the tracker decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except ExtractError as exc:
            reply = ("extract_error", str(exc))
        except Exception as exc:  # whatever a page makes a reader raise ends as a recorded failure
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (OSError, ValueError) as exc:  # an unpicklable result is a reader bug: say so
            conn.send(("error", f"cannot return the result ({type(exc).__name__}: {exc})"))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        parent, child = context.Pipe()
        self.conn = parent
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child,), name="tracker-page-reader", daemon=True
        )
        self.process.start()
        child.close()
        self.pages = 0

    def stop(self) -> None:
        """Kill the process (it may be in the middle of a page) and close the pipe."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class PagePool:
    """Runs readers (module-level functions) in worker processes, each call with a time limit."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._context = multiprocessing.get_context("forkserver")
        # Before the fork server starts: it imports the readers once, so a new worker starts fast.
        self._context.set_forkserver_preload(_PRELOAD)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self.closed = False
        # One thread per worker: a call waits on its worker in a thread, never on the event loop.
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page-reader")

    def start(self) -> None:
        """Start every worker now (the first one starts the fork server: about a second)."""
        started = [self._take() for _ in range(self.workers)]
        for worker in started:
            self._give_back(worker, healthy=True)

    async def run(self, fn: Callable[..., T], /, *args: Any, time_limit: float, **kwargs: Any) -> T:
        """fn(*args, **kwargs) in a worker; TooSlow past time_limit seconds, ExtractError if it fails."""
        if self.closed:
            raise ExtractError("the tracker is stopping: the page was not read")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._call, fn, args, kwargs, time_limit)

    def _take(self) -> _Worker:
        with self._lock:
            if self.closed:
                raise ExtractError("the tracker is stopping: the page was not read")
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                worker.stop()
            worker = _Worker(self._context)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker, *, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = healthy and not self.closed and worker.pages < MAX_PAGES_PER_WORKER
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.stop()

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], limit: float) -> T:
        worker = self._take()
        healthy = False
        try:
            worker.conn.send((fn, args, kwargs))
            worker.pages += 1
            if not worker.conn.poll(limit):
                raise TooSlow(f"took longer than {limit:g} s to read")
            reply = worker.conn.recv()
            healthy = True
        except (EOFError, OSError, BrokenPipeError):
            code = worker.process.exitcode
            raise ExtractError(f"the page reader stopped while reading it (exit code {code})") from None
        finally:
            self._give_back(worker, healthy=healthy)
        status, value = reply
        if status == "ok":
            return value  # type: ignore[no-any-return]
        raise ExtractError(value)

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (pages being read are abandoned); later calls fail at once."""
        with self._lock:
            self.closed = True
            workers = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
        for worker in workers:
            worker.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)


_SHARED: dict[str, PagePool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(workers: int = 2) -> PagePool:
    """The process's page pool (workers start on first use), stopped when the process exits."""
    with _SHARED_LOCK:
        pool = _SHARED.get("pool")
        if pool is None or pool.closed:
            pool = _SHARED["pool"] = PagePool(workers)
            atexit.register(pool.close)
        return pool
