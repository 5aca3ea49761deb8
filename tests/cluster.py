"""Real shops on several 127.0.0.x addresses and real tracker processes, for the multi-machine tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

from tests.servers import product_page

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Hit:
    """One request as the shop saw it: path, when it arrived and when it was answered (monotonic)."""

    path: str
    start: float
    end: float


@dataclass
class Shop:
    """A shop on one loopback address: product pages at /p<N>, each request recorded."""

    host: str
    latency: float = 0.0
    prices: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    stall: set[str] = field(default_factory=set)
    held: dict[str, int] = field(default_factory=dict)  # requests waiting on a stalled path
    answers: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # path -> status, headers
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""

    def count(self, path: str) -> int:
        """Requests seen for a path (answered or still held)."""
        with self.lock:
            return sum(1 for h in self.hits if h.path == path) + self.held.get(path, 0)


@contextmanager
def shop(host: str, *, latency: float = 0.0, code: str = "M2002RDB") -> Iterator[Shop]:
    """Serve a shop on host (any free port) until the block ends."""
    state = Shop(host, latency)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            start = time.monotonic()
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path in state.stall:
                with state.lock:
                    state.held[path] = state.held.get(path, 0) + 1
                state.released.wait(120)
                with state.lock:
                    state.held[path] -= 1
            if state.latency:
                time.sleep(state.latency)
            price = state.prices.get(path, "150.00")
            body = product_page(price, code=code).encode()
            status, headers = state.answers.get(path, (200, {}))
            # Recorded before the answer goes out: recorded after it, a client that has read the
            # answer could look at the hits before this thread had added its own.
            with state.lock:
                state.hits.append(Hit(path, start, time.monotonic()))
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the worker that asked was killed

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    state.base = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()


class Processes:
    """Tracker processes started with one config and database; all stopped at the end."""

    def __init__(self, config: Path, db_url: str) -> None:
        self.config = config
        self.db_url = db_url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start `tracker --config CONFIG ARGS...` with its log in the config's folder."""
        log = self.config.parent / f"{name}.log"
        self.logs[name] = log
        env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=self.db_url)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tracker.cli", "--config", str(self.config), *args],
                cwd=self.config.parent,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal and wait for the process to end."""
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(60)

    def stop_all(self) -> None:
        """SIGTERM every process still running, SIGKILL the ones that do not stop."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def log(self, name: str) -> str:
        """What a process printed so far."""
        return self.logs[name].read_text(encoding="utf-8", errors="replace")


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.2) -> object:
    """Poll until condition() is truthy; fail naming what was awaited when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def rows(url: str, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    """Run a read on the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def config_text(sources: list[dict[str, object]], *, extra: str = "", **defaults: object) -> str:
    """A config.toml with the Phantom colorway and these sources ([defaults] from keyword args)."""
    lines = ["[defaults]", 'jitter = "0s"', "respect_robots = false"]
    lines += [f"{k} = {_toml(v)}" for k, v in defaults.items()]
    lines += [
        "",
        "[[colorways]]",
        'name = "Protection Pack Phantom"',
        'style_code = "M2002RDB"',
        'line = "Protection Pack"',
        "list_price = { USD = 150 }",
        "watched = true",
        "",
    ]
    for src in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {_toml(v)}" for k, v in src.items()]
        lines.append("")
    return "\n".join(lines) + extra


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace('"', '\\"') + '"'
