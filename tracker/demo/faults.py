"""A fault-injection store: a real local shop whose product pages misbehave the way real shops do.

Every fault has its own product URL, /p/<fault>/new-balance-2002r-m2002rdb. While a fault is
healthy (the default) its URL serves an ordinary product page; once broken it serves the fault:
rate limits, server errors, a connection reset, a body that stops early, a stall, a 20 MB body,
a gzip bomb, redirect loops, a redirect to another host, bot challenges, a captcha served with
200, a legacy charset, conflicting prices, a price of 0 or 100x the list price, a search page;
and pages built to be slow or deep to read (150,000 nested elements, JSON-LD nested 100,000
deep, a page past its time limit) or whose price text is no price ("1e308", "-150.00").
/healthy/<slug> always serves the healthy page: a neighbour whose checks must stay on time.
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
import zlib
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STYLE_CODE = "M2002RDB"
SLUG = "new-balance-2002r-m2002rdb"
LIST_PRICE = "150.00"  # the colorway's list price in USD (the healthy page's price)
EUR_PRICE = "139,95"  # the legacy-charset page's price, as its page writes it
CONFLICT_PRICE = "119.99"  # what the conflicting page shows (its JSON-LD still says LIST_PRICE)
HUGE_BYTES = 20_000_000
BOMB_BYTES = 200_000_000  # decoded size of the gzip bomb (about 200 kB on the wire)


@dataclass(frozen=True)
class Fault:
    """One way a shop misbehaves, and what the tracker must record for it."""

    name: str
    description: str
    status: str  # the CheckRun.status the tracker must record
    observes: bool = False  # True only where the page does show a correct product
    suspect: bool = False  # the price is held as suspect rather than recorded


FAULTS: tuple[Fault, ...] = (
    Fault("rate_limited_retry_after", "429 with Retry-After: 2", "rate_limited"),
    Fault("rate_limited", "429 without Retry-After", "rate_limited"),
    Fault("rate_limited_long", "429 with Retry-After: 3600 (longer than we wait)", "rate_limited"),
    Fault("http_500", "500 Internal Server Error", "server_error"),
    Fault("http_502", "502 Bad Gateway", "server_error"),
    Fault("http_503", "503 Service Unavailable with Retry-After: 1", "server_error"),
    Fault("reset", "connection reset in the middle of the body", "connection"),
    Fault("short_body", "body stops before its Content-Length", "connection"),
    Fault("stall", "no answer for longer than the timeout", "timeout"),
    Fault("huge", "a 20 MB body (no Content-Length)", "too_large"),
    Fault("gzip_bomb", "gzip body decoding to 200 MB", "too_large"),
    Fault("redirect_loop", "redirects a -> b -> a", "redirect_loop"),
    Fault("redirect_other_host", "redirect to another host's region picker", "not_product"),
    Fault("cloudflare", 'Cloudflare "Just a moment..." challenge (503)', "blocked"),
    Fault("akamai", 'Akamai "Access Denied" (403)', "blocked"),
    Fault("captcha_200", "captcha page served with 200", "blocked"),
    Fault("legacy_charset", "windows-1252 page, charset only in a meta tag", "ok", observes=True),
    Fault("jsonld_conflict", "JSON-LD says 150.00, the page shows 119.99", "ok", observes=True),
    Fault("price_zero", "price of 0.00 in JSON-LD and on the page", "extract_error"),
    Fault("price_100x", "price 100x the list price", "ok", suspect=True),
    Fault("search_page", "product URL now serves search results", "not_product"),
    Fault("nested_divs", "1.6 MB page: the product inside 150,000 nested <div>s", "ok", observes=True),
    Fault("deep_jsonld", "a JSON-LD block nested 100,000 [ deep beside the real one", "ok", observes=True),
    Fault("slow_page", "7.7 MB of nested <div>s, longer to read than its 1 s limit", "extract_error"),
    Fault("price_exponent", 'JSON-LD price "1e308", no price shown', "extract_error"),
    Fault("price_negative", 'JSON-LD price "-150.00", no price shown', "extract_error"),
)
BY_NAME = {f.name: f for f in FAULTS}


def product_page(
    price: str = LIST_PRICE, *, availability: str = "InStock", jsonld_price: str | None = None
) -> str:
    """A healthy product page: JSON-LD with per-size offers and a matching visible price."""
    structured = jsonld_price or price
    offers = ",".join(
        f'{{"@type": "Offer", "sku": "{STYLE_CODE}-{size}", "name": "{size}", "price": "{structured}",'
        f' "priceCurrency": "USD", "availability": "https://schema.org/{availability}"}}'
        for size in ("9", "9.5", "10", "10.5")
    )
    meta = f'<meta property="product:price:amount" content="{price}">' if jsonld_price else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>New Balance 2002R Protection Pack Phantom | Fault Store</title>{meta}
<meta property="product:price:currency" content="USD">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Product",
"name": "New Balance 2002R Protection Pack Phantom", "sku": "{STYLE_CODE}", "mpn": "{STYLE_CODE}",
"brand": {{"@type": "Brand", "name": "New Balance"}}, "offers": [{offers}]}}</script></head>
<body><main class="product"><h1>New Balance 2002R Protection Pack Phantom</h1>
<div class="product-price"><span class="price">${price}</span></div>
<button class="add-to-cart" type="button">Add to Cart</button></main></body></html>"""


@functools.cache
def nested_page(levels: int) -> bytes:
    """The healthy product page with its product block inside `levels` nested <div>s."""
    page = product_page().replace('<main class="product">', '<main class="product">' + "<div>" * levels)
    return page.replace("</main>", "</div>" * levels + "</main>").encode()


@functools.cache
def _deep_jsonld_page() -> bytes:
    tag = '<script type="application/ld+json">'
    deep = "[" * 100_000 + "]" * 100_000
    return product_page().replace(tag, f"{tag}{deep}</script>{tag}", 1).encode()


def _unusable_price_page(price: str) -> bytes:
    # The JSON-LD offers carry the text; the visible page shows no amount.
    page = product_page().replace('"price": "150.00"', f'"price": "{price}"')
    return page.replace('<span class="price">$150.00</span>', "").encode()


def _legacy_page() -> bytes:
    # Visible price only, with a euro sign that is byte 0x80 in windows-1252 (invalid UTF-8).
    text = f"""<!doctype html><html lang="de"><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>New Balance 2002R \u201eProtection Pack\u201c Phantom \u2013 Gr\u00f6\u00dfen</title></head>
<body><main class="product"><h1>New Balance 2002R \u201eProtection Pack\u201c Phantom {STYLE_CODE}</h1>
<p class="desc">Gr\u00f6\u00dfen 40\u201346 \u2013 Obermaterial: Wildleder &amp; Mesh</p>
<div class="product-price"><span class="price">{EUR_PRICE}\u00a0\u20ac</span></div>
<button class="add-to-cart" type="button">In den Warenkorb</button></main></body></html>"""
    return text.encode("windows-1252")


def _search_page() -> str:
    tiles = "".join(
        f'<li class="product-tile"><a href="/p/x/new-balance-2002r-{code.lower()}">'
        f'<h3 class="product-name">New Balance 2002R {code}</h3></a>'
        f'<span class="price">${price}</span><button class="add-to-cart">Add to Cart</button></li>'
        for code, price in (("M2002RDA", "149.99"), ("M2002RDC", "159.99"), ("M2002RHO", "129.99"))
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Search results for "2002r" | Fault Store</title></head><body>
<h1>Search results for "2002r"</h1><p>We could not find that product. Showing 3 results.</p>
<ul class="search-results product-grid">{tiles}</ul></body></html>"""


_CLOUDFLARE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper" role="main">
<div class="main-content"><h1 class="zone-name-title h1">shop.example</h1>
<h2 class="h2">Checking if the site connection is secure</h2><noscript>Enable JavaScript and cookies
to continue</noscript></div></div><script>(function(){window._cf_chl_opt={cvId: '3',cType: 'managed'};
var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1';
document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>"""

_AKAMAI = """<HTML><HEAD>
<TITLE>Access Denied</TITLE>
</HEAD><BODY>
<H1>Access Denied</H1>

You don't have permission to access "http&#58;&#47;&#47;shop&#46;example&#47;p&#47;2002r" on this server.<P>
Reference&#32;&#35;18&#46;5e2a3b17&#46;1711111111&#46;2b3c4d5e
</BODY>
</HTML>"""

_CAPTCHA = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shop.example</title>
<script src="https://www.google.com/recaptcha/api.js" async defer></script></head>
<body><main><h1>Please verify you are human</h1><p>As you were browsing something about your browser
made us think you were a bot. Out of stock? No: complete the check below to continue.</p>
<form method="post"><div class="g-recaptcha" data-sitekey="6Lc_fake"></div>
<button type="submit">Continue</button></form></main></body></html>"""

_REGION_PICKER = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Choose your country | Fault Store</title></head><body><h1>Choose your country or region</h1>
<ul><li><a href="/us">United States</a></li><li><a href="/uk">United Kingdom</a></li>
<li><a href="/de">Deutschland</a></li></ul></body></html>"""


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip body of BOMB_BYTES zero bytes (compressed once, then reused)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * 1_000_000
    parts = [comp.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    parts.append(comp.flush())
    return b"".join(parts)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up on a fault (a cap, a timeout, a reset) are the point, not an error.
        return


class FaultStore:
    """Serves /p/<fault>/<slug> on 127.0.0.1 (plus a second 'other host' for cross-host redirects)."""

    def __init__(self, *, stall_seconds: float = 30.0) -> None:
        self.stall_seconds = stall_seconds
        self.broken: set[str] = set()
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.base_url = ""
        self.other_url = ""

    # -- control ------------------------------------------------------------------------------

    def url(self, fault: str) -> str:
        """The product URL of a fault."""
        if fault not in BY_NAME:
            raise KeyError(f"no fault named {fault!r}")
        return f"{self.base_url}/p/{fault}/{SLUG}"

    def break_(self, *faults: str) -> None:
        """Start serving these faults instead of the healthy page."""
        with self._lock:
            self.broken.update(faults)

    def heal(self, *faults: str) -> None:
        """Serve the healthy page again for these faults (all when none are named)."""
        with self._lock:
            if faults:
                self.broken.difference_update(faults)
            else:
                self.broken.clear()

    def is_broken(self, fault: str) -> bool:
        """Whether a fault is being served now."""
        with self._lock:
            return fault in self.broken

    def count(self, path: str) -> None:
        """Record one request for a path."""
        with self._lock:
            self.hits[path] += 1

    # -- server -------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in background threads; returns the base URL."""
        if self._servers:
            return self.base_url
        store = self
        for _ in range(2):

            class Handler(_Handler):
                fault_store = store

            server = _QuietServer(("127.0.0.1", 0), Handler)
            thread = threading.Thread(target=server.serve_forever, name="fault-store", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        ports = [s.server_address[1] for s in self._servers]
        self.base_url = f"http://127.0.0.1:{ports[0]}"
        self.other_url = f"http://127.0.0.1:{ports[1]}"  # another host: another host:port key
        return self.base_url

    def stop(self) -> None:
        """Stop serving (stalled answers are released at once)."""
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []
        self._stopping.clear()

    def __enter__(self) -> FaultStore:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    fault_store: FaultStore
    protocol_version = "HTTP/1.1"
    server_version = "FaultStore/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read the store's counters instead

    def do_GET(self) -> None:
        store = self.fault_store
        path = self.path.split("?", 1)[0]
        store.count(path)
        try:
            self._route(store, path)
        except OSError:
            # The client gave up (a cap, a timeout): nothing more to send.
            self.close_connection = True

    def _send(
        self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, store: FaultStore, path: str) -> None:
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            return
        if path == "/loop/a":
            self._send(302, b"", Location="/loop/b")
            return
        if path == "/loop/b":
            self._send(302, b"", Location="/loop/a")
            return
        if path == "/region":
            self._send(200, _REGION_PICKER.encode())
            return
        parts = path.strip("/").split("/")
        if parts == ["healthy", SLUG]:
            self._send(200, product_page().encode())
            return
        if len(parts) != 3 or parts[0] != "p" or parts[1] not in BY_NAME or parts[2] != SLUG:
            self._send(404, b"not found", "text/plain")
            return
        fault = parts[1]
        if not store.is_broken(fault):
            self._send(200, product_page().encode())
            return
        self._fault(store, fault)

    def _fault(self, store: FaultStore, fault: str) -> None:
        if fault == "rate_limited_retry_after":
            self._send(429, b"Too Many Requests", "text/plain", Retry_After="2")
        elif fault == "rate_limited":
            self._send(429, b"Too Many Requests", "text/plain")
        elif fault == "rate_limited_long":
            self._send(429, b"Too Many Requests", "text/plain", Retry_After="3600")
        elif fault == "http_500":
            self._send(500, b"<h1>Internal Server Error</h1>")
        elif fault == "http_502":
            self._send(502, b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>")
        elif fault == "http_503":
            self._send(503, b"<h1>Service Unavailable</h1><p>Back soon.</p>", Retry_After="1")
        elif fault in ("reset", "short_body"):
            body = product_page().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body) + 50_000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if fault == "reset":
                # SO_LINGER with a zero timeout: close() sends a TCP RST instead of a FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "stall":
            store._stopping.wait(store.stall_seconds)
            self.close_connection = True
        elif fault == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<p>" + b"2002R " * 10_000 + b"</p>\n"
            sent = 0
            while sent < HUGE_BYTES:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.close_connection = True
        elif fault == "gzip_bomb":
            self._send(200, gzip_bomb(), Content_Encoding="gzip")
        elif fault == "redirect_loop":
            self._send(302, b"", Location="/loop/a")
        elif fault == "redirect_other_host":
            self._send(302, b"", Location=f"{store.other_url}/region")
        elif fault == "cloudflare":
            self._send(503, _CLOUDFLARE.encode(), Server="cloudflare", cf_mitigated="challenge")
        elif fault == "akamai":
            self._send(403, _AKAMAI.encode(), Server="AkamaiGHost")
        elif fault == "captcha_200":
            self._send(200, _CAPTCHA.encode())
        elif fault == "legacy_charset":
            self._send(200, _legacy_page(), "text/html")
        elif fault == "jsonld_conflict":
            self._send(200, product_page(CONFLICT_PRICE, jsonld_price=LIST_PRICE).encode())
        elif fault == "price_zero":
            self._send(200, product_page("0.00").encode())
        elif fault == "price_100x":
            self._send(200, product_page("15000.00").encode())
        elif fault == "search_page":
            self._send(200, _search_page().encode())
        elif fault == "nested_divs":
            self._send(200, nested_page(150_000))
        elif fault == "deep_jsonld":
            self._send(200, _deep_jsonld_page())
        elif fault == "slow_page":
            self._send(200, nested_page(700_000))
        elif fault == "price_exponent":
            self._send(200, _unusable_price_page("1e308"))
        elif fault == "price_negative":
            self._send(200, _unusable_price_page("-150.00"))


# -- running every fault through the real pipeline --------------------------------------------------

ALERT_KINDS = (
    "new_listing",
    "new_colorway",
    "restock",
    "size_restock",
    "price_below_target",
    "price_below_list",
    "price_drop",
    "sold_out",
    "source_broken",
)


# Per-source settings some faults need: a short timeout to give up a stall, a short time limit.
_SOURCE_EXTRA = {"stall": 'timeout = "0.5s"\n', "slow_page": 'extract_timeout = "1s"\n'}
HEARTBEAT = "heartbeat"


def fault_config_text(
    store: FaultStore, db_url: str, faults: tuple[Fault, ...] = FAULTS, *, heartbeat: bool = False
) -> str:
    """A config.toml with one page source per fault and an alert rule matching every event kind.

    heartbeat adds a source on the always-healthy page, to measure how late other checks get.
    """
    kinds = ", ".join(f'"{k}"' for k in ALERT_KINDS)
    sources = "".join(
        f'\n[[sources]]\nname = "{f.name}"\nkind = "page"\nurl = "{store.url(f.name)}"\n'
        + _SOURCE_EXTRA.get(f.name, "")
        for f in faults
    )
    if heartbeat:
        url = f"{store.base_url}/healthy/{SLUG}"
        sources += f'\n[[sources]]\nname = "{HEARTBEAT}"\nkind = "page"\nurl = "{url}"\n'

    return f"""database_url = "{db_url}"

[defaults]
interval = "1h"
# Generous: the gzip bomb is compressed as it is sent, slowly on a busy machine (the stall has 0.5 s).
timeout = "15s"
retries = 2
per_host_concurrency = 8
per_host_delay = "0s"
respect_robots = true
broken_after = 3

[[colorways]]
name = "Protection Pack Phantom"
style_code = "{STYLE_CODE}"
line = "2002R Protection Pack"
list_price = {{ USD = 150, EUR = 160 }}
target_price = {{ USD = 125 }}
sizes = ["10"]
watched = true

[alerts]
channels = [{{ name = "hook", url = "json://127.0.0.1:9/never-sent" }}]
rules = [{{ on = [{kinds}] }}]
{sources}"""


@dataclass
class Outcome:
    """What the tracker recorded when a fault was served once (after a healthy baseline check)."""

    fault: Fault
    status: str
    error: str | None
    waits: list[float]
    observations: int  # confirmed observations written by the fault's check
    suspect: int  # observations held as suspect by it
    prices: list[str]  # the prices of the observations it wrote
    events: list[str]
    deliveries: int
    availability: list[str]
    lag: float = 0.0  # how late, at most, a healthy neighbour's checks started meanwhile (seconds)


async def _with_heartbeat(pipeline: Any, check: Any, every: float = 0.25) -> float:
    """Run check while a healthy neighbour is checked every `every` s; how late it started, at most."""
    import asyncio
    import time

    task = asyncio.ensure_future(check)
    late = 0.0
    while not task.done():
        planned = time.monotonic() + every
        await asyncio.wait({task}, timeout=every)
        if task.done():
            break
        # Woken late means the event loop was busy: the neighbour's check would have waited too.
        late = max(late, time.monotonic() - planned)
        await pipeline.check(HEARTBEAT)
    await task
    return late


def measure(db_url: str, faults: tuple[Fault, ...] = FAULTS) -> list[Outcome]:
    """Serve each fault once to a real Pipeline (real HTTP, real database); report what it recorded.

    Faults whose page is wrong are first checked healthy (a baseline observation exists, so a
    fault that turned into "out of stock" or a new price would show); the two faults whose page is
    right are checked fresh, so the correct price is their first observation and raises no alert.
    """
    import asyncio

    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import CheckRun, Delivery, Event, Listing, Observation, Source
    from tracker.config import parse_text
    from tracker.fetch import Fetcher
    from tracker.notify.plan import plan_deliveries
    from tracker.pipeline import Pipeline

    async def no_wait(seconds: float) -> None:
        # The fetcher records every wait in Fetcher.waits; the report does not need to sit through them.
        await asyncio.sleep(0)

    outcomes: list[Outcome] = []
    with FaultStore(stall_seconds=5.0) as store:
        config = parse_text(fault_config_text(store, db_url, faults, heartbeat=True))
        engine = make_engine(db_url)
        try:

            async def check(pipeline: Pipeline, name: str) -> str:
                return (await pipeline.check(name)).status

            async def run() -> None:
                async with Fetcher(config.defaults, sleep=no_wait) as fetcher:
                    pipeline = Pipeline(config, engine, fetcher, planner=plan_deliveries)
                    baseline = [f.name for f in faults if not f.observes]
                    await asyncio.gather(*(check(pipeline, n) for n in baseline))
                    store.break_(*(f.name for f in faults))
                    for fault in faults:
                        with Session(engine) as session:
                            src = session.exec(select(Source).where(Source.name == fault.name)).one()
                            before_obs = {
                                o.id
                                for o in session.exec(
                                    select(Observation).join(Listing).where(Listing.source_id == src.id)
                                ).all()
                            }
                            before_events = {e.id for e in session.exec(select(Event)).all()}
                            before_deliveries = len(session.exec(select(Delivery)).all())
                        # Each fault is its own shop: a fresh fetcher, so a pause one of them asked
                        # for (they all share the fault store's host) does not spill onto the next.
                        async with Fetcher(config.defaults, sleep=no_wait) as own:
                            faulty = Pipeline(config, engine, own, planner=plan_deliveries)
                            lag = await _with_heartbeat(pipeline, faulty.check(fault.name))
                        waits = [round(w, 2) for w in own.waits]
                        with Session(engine) as session:
                            run_row = session.exec(
                                select(CheckRun)
                                .where(CheckRun.source_id == src.id)
                                .order_by(CheckRun.id.desc())  # type: ignore[union-attr]
                            ).first()
                            assert run_row is not None
                            new_obs = [
                                o
                                for o in session.exec(
                                    select(Observation).join(Listing).where(Listing.source_id == src.id)
                                ).all()
                                if o.id not in before_obs
                            ]
                            new_events = [
                                e.kind for e in session.exec(select(Event)).all() if e.id not in before_events
                            ]
                            deliveries = len(session.exec(select(Delivery)).all()) - before_deliveries
                        outcomes.append(
                            Outcome(
                                fault=fault,
                                status=run_row.status,
                                error=run_row.error,
                                waits=waits,
                                observations=sum(1 for o in new_obs if not o.suspect),
                                suspect=sum(1 for o in new_obs if o.suspect),
                                prices=[f"{o.price} {o.currency}" for o in new_obs],
                                events=new_events,
                                deliveries=deliveries,
                                availability=[o.availability for o in new_obs],
                                lag=lag,
                            )
                        )

            asyncio.run(run())
        finally:
            engine.dispose()
    return outcomes
