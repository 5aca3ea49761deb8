"""The demo store: a real HTTP server on 127.0.0.1 imitating a Shopify boutique and a brand store."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tracker.demo import pages
from tracker.demo.catalogue import (
    LAUNCH_PHASES,
    DemoProduct,
    Launch,
    Step,
    boutique_products,
    brand_products,
    steps,
)


class Clock(Protocol):
    """Store time: seconds elapsed since the store started."""

    def elapsed(self) -> float: ...


class DemoClock:
    """Real time, sped up: `speed` store seconds pass per real second."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._t0 = time.monotonic()

    def restart(self) -> None:
        """Start counting from now (the store calls this when it starts)."""
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        """Store seconds since the clock (re)started."""
        return (time.monotonic() - self._t0) * self.speed


class ManualClock:
    """Store time that moves only when told to, so a test sees each step deterministically."""

    def __init__(self, step_seconds: float = 60.0) -> None:
        self.step_seconds = step_seconds
        self._t = 0.0
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Store seconds since the start."""
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        """Move store time forward."""
        with self._lock:
            self._t += seconds

    def set_step(self, n: int) -> None:
        """Jump to the start of timeline step n."""
        with self._lock:
            self._t = n * self.step_seconds


# Last-Modified of step n: a fixed date plus n hours, so it changes exactly when content does.
_EPOCH = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)

_PRODUCTS_JSON = re.compile(r"^/boutique(?:/collections/([a-z0-9-]+))?/products\.json$")
_PRODUCT = re.compile(r"^/boutique/products/([a-z0-9-]+?)(\.js|\.json)?$")
_BRAND = re.compile(r"^/brand/pd/([a-z0-9-]+)/([A-Za-z0-9]+)\.html$")
_BENCH = re.compile(r"^/bench/p/(\d+)\.html$")
_STATIC = re.compile(r"^/static/([a-z0-9]+)\.svg$")

_COLLECTIONS: dict[str, Callable[[DemoProduct], bool]] = {
    "all": lambda p: True,
    "new-balance": lambda p: p.vendor == "New Balance",
    "footwear": lambda p: p.product_type == "Footwear",
    "2002r": lambda p: p.is_2002r(),
    "new-arrivals": lambda p: "New Arrival" in p.tags,
}


class _Response:
    def __init__(self, status: int, body: bytes, content_type: str, *, cacheable: bool = True) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.cacheable = cacheable


def _json(data: Any) -> _Response:
    return _Response(200, json.dumps(data).encode(), "application/json; charset=utf-8")


def _html(text: str) -> _Response:
    return _Response(200, text.encode(), "text/html; charset=utf-8")


def _not_found(what: str) -> _Response:
    return _Response(404, f"Not found: {what}\n".encode(), "text/plain; charset=utf-8", cacheable=False)


class DemoStore:
    """Two demo shops on one port (/boutique: Shopify, /brand: JSON-LD pages) following a timeline."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        step_seconds: float = 60.0,
        latency: float = 0.0,
        bench_products: int = 0,
        launch: Launch | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else DemoClock()
        if isinstance(self.clock, ManualClock):
            self.clock.step_seconds = step_seconds
        self.step_seconds = step_seconds
        self.latency = latency
        self.bench_products = bench_products
        # A scripted release served at /calendar/release-dates (None: the page lists no 2002R).
        self.launch = launch
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self._count_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- timeline -----------------------------------------------------------------------------

    @property
    def steps(self) -> list[Step]:
        """The scripted timeline (index, offset in store seconds, description)."""
        return steps(self.step_seconds)

    @property
    def current_step(self) -> int:
        """The timeline step in effect now (the last one stays in effect)."""
        elapsed = self.clock.elapsed()
        current = 0
        for step in self.steps:
            if elapsed >= step.offset:
                current = step.index
        return current

    @property
    def launch_phase(self) -> int:
        """The scripted release's phase now (0: nothing announced; see LAUNCH_PHASES)."""
        if self.launch is None:
            return 0
        if self.launch.phase is not None:
            return self.launch.phase
        after = int(self.clock.elapsed() // self.step_seconds) - (len(self.steps) - 1)
        return min(max(after, 0), len(LAUNCH_PHASES) - 1)

    def boutique(self) -> list[DemoProduct]:
        """The boutique's products now."""
        out = boutique_products(self.current_step)
        extra = self.launch.boutique_product(self.launch_phase) if self.launch else None
        return [extra, *out] if extra is not None else out

    def brand(self) -> list[DemoProduct]:
        """The brand store's products now."""
        return brand_products(self.current_step)

    def brand_urls(self, base: str | None = None) -> list[str]:
        """Every brand store product page URL."""
        return [pages.brand_url(base or self.base_url, p) for p in brand_products(0)]

    # -- server -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL, e.g. http://127.0.0.1:PORT."""
        if self._server is not None:
            return self.base_url
        store = self

        class Handler(_Handler):
            demo = store

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        if isinstance(self.clock, DemoClock):
            self.clock.restart()
        bound_host, bound_port = server.server_address[:2]
        self.base_url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(target=server.serve_forever, name="demo-store", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> DemoStore:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enter(self) -> None:
        """A request started (tracked so tests can see requests served in parallel)."""
        with self._count_lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        """A request finished."""
        with self._count_lock:
            self.in_flight -= 1

    def count(self, path: str, *, not_modified: bool = False) -> None:
        """Record one request for a path (thread-safe)."""
        with self._count_lock:
            self.requests[path] += 1
            if not_modified:
                self.not_modified[path] += 1

    # -- routing ------------------------------------------------------------------------------

    def respond(self, path: str, query: dict[str, list[str]], base: str) -> _Response:
        """The response for a GET of path (without conditional handling)."""
        if path == "/robots.txt" or path in ("/brand/robots.txt", "/boutique/robots.txt"):
            return _Response(200, pages.ROBOTS_TXT.encode(), "text/plain; charset=utf-8")
        if path in ("/", "/boutique", "/brand"):
            return _html(self._index(base))
        if match := _PRODUCTS_JSON.match(path):
            return self._products_json(match.group(1), query, base)
        if match := _PRODUCT.match(path):
            handle, ext = match.group(1), match.group(2)
            product = next((p for p in self.boutique() if p.handle == handle), None)
            if product is None:
                return _not_found(path)
            if ext == ".js":
                data = pages.shopify_js(product, base)
                return _Response(200, json.dumps(data).encode(), "application/javascript; charset=utf-8")
            if ext == ".json":
                return _json({"product": pages.shopify_product(product, base)})
            return _html(pages.boutique_page(product, base))
        if match := _BRAND.match(path):
            slug, code = match.group(1), match.group(2).upper()
            product = next((p for p in self.brand() if p.style_code == code and p.slug == slug), None)
            if product is None:
                return _not_found(path)
            return _html(pages.brand_page(product, base))
        if path == "/calendar/release-dates":
            rows = self.launch.calendar_products(self.launch_phase) if self.launch else []
            return _html(pages.release_dates_page(rows, base))
        if match := _BENCH.match(path):
            i = int(match.group(1))
            if i >= self.bench_products:
                return _not_found(path)
            return _html(pages.bench_page(i, base))
        if match := _STATIC.match(path):
            body = pages.image_svg(match.group(1)).encode()
            return _Response(200, body, "image/svg+xml")
        return _not_found(path)

    def _products_json(self, collection: str | None, query: dict[str, list[str]], base: str) -> _Response:
        products = self.boutique()
        if collection is not None:
            keep = _COLLECTIONS.get(collection)
            if keep is None:
                return _not_found(f"collection {collection}")
            products = [p for p in products if keep(p)]
        try:
            limit = int(query.get("limit", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            return _Response(400, b'{"errors":"bad limit or page"}', "application/json")
        # Shopify clamps limit to 1..250 and treats page < 1 as page 1.
        limit = min(max(limit, 1), 250)
        page = max(page, 1)
        chunk = products[(page - 1) * limit : page * limit]
        return _json({"products": [pages.shopify_product(p, base) for p in chunk]})

    def _index(self, base: str) -> str:
        items = "".join(
            f'<li><a href="{base}/boutique/products/{p.handle}">{p.title}</a></li>' for p in self.boutique()
        )
        brand = "".join(
            f'<li><a href="{pages.brand_url(base, p)}">{p.title} {p.colour}</a></li>' for p in self.brand()
        )
        step = self.steps[self.current_step]
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>2002R demo store</title></head><body>'
            f"<h1>2002R demo store</h1><p>Step {step.index}: {step.description}</p>"
            f"<h2>Demo Boutique</h2><ul>{items}</ul><h2>Demo Brand Store</h2><ul>{brand}</ul></body></html>"
        )

    def last_modified(self) -> datetime:
        """When the current step's content appeared (a fixed date plus one hour per step)."""
        return _EPOCH + timedelta(hours=self.current_step + self.launch_phase)


def etag_for(body: bytes) -> str:
    """A strong ETag from the body's hash, so identical content always gets the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


class _Handler(BaseHTTPRequestHandler):
    demo: DemoStore
    protocol_version = "HTTP/1.1"
    server_version = "DemoStore/1.0"
    # Headers and body go out in two writes; with Nagle on, the body's last segment waits for
    # the client's delayed ACK (~40 ms per response), which would swamp any benchmark.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        self.demo.enter()
        try:
            self._answer(head=head)
        finally:
            self.demo.leave()

    def _answer(self, *, head: bool) -> None:
        demo = self.demo
        if demo.latency > 0:
            time.sleep(demo.latency)
        parts = urlsplit(self.path)
        path = parts.path
        base = "http://" + (self.headers.get("Host") or demo.base_url.removeprefix("http://"))
        try:
            response = demo.respond(path, parse_qs(parts.query), base)
        except Exception as exc:  # a bug in the demo must still answer, as a real shop's 500 would
            response = _Response(500, f"demo store error: {exc!r}\n".encode(), "text/plain", cacheable=False)
        headers: dict[str, str] = {"Content-Type": response.content_type}
        status, body = response.status, response.body
        not_modified = False
        if response.cacheable and status == 200:
            etag = etag_for(body)
            modified = demo.last_modified()
            headers["ETag"] = etag
            headers["Last-Modified"] = format_datetime(modified, usegmt=True)
            headers["Cache-Control"] = "max-age=0, must-revalidate"
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if inm is not None:
                not_modified = _etag_matches(inm, etag)
            elif ims is not None:
                not_modified = _not_modified_since(ims, modified)
        demo.count(path, not_modified=not_modified)
        if not_modified:
            status, body = 304, b""
            del headers["Content-Type"]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: the demo prints its own banner; request lines would drown it.
        return


def _not_modified_since(header: str, modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return modified <= since
