"""A local shop whose product page is an empty shell its JavaScript fills from a JSON API.

A plain fetch of /products/<slug> finds no product (no price, no sizes, no structured data); a
browser running the page's script shows the title, the price, one button per size (disabled when
sold out) and an enabled add-to-cart. /ssr/products/<slug> serves the same product filled in on
the server, for comparing a plain fetch with a rendered one. The page also asks for an image and
a font, so a test can see that rendering blocks them, and the API can be slowed or stalled to test
timeouts.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLUG = "new-balance-2002r-rain-cloud"
STYLE_CODE = "M2002RDA"
TITLE = "New Balance 2002R Protection Pack Rain Cloud M2002RDA"

SHELL = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Loading...</title>
<link rel="preload" href="/fonts/brand.woff2" as="font" type="font/woff2" crossorigin>
<style>@font-face {{ font-family: Brand; src: url(/fonts/brand.woff2); }}
body {{ font-family: Brand; }}</style>
</head><body><main id="app" data-slug="{slug}">
<h1 id="title"></h1><div class="price-box"><span class="product-price"></span></div>
<div class="size-picker" aria-label="Size"></div>
<button id="add-to-cart" class="add-to-cart" disabled>Add to cart</button>
<p class="visits">Visit <span id="visits"></span></p>
<img src="/img/{slug}.jpg" alt="">
</main><script src="/static/app.js"></script></body></html>"""

# A page with no product whose script still writes into it a moment after it loads (the shop's story).
ABOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>About us</title></head>
<body><h1>About us</h1><div id="story"></div>
<script>setTimeout(() => {{ document.getElementById("story").textContent = "{story}"; }}, 300);</script>
</body></html>"""
ABOUT_STORY = "Sneakers since 1998."
# An old address whose script sends the visitor on to the product a moment after it loads.
MOVED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Moved</title></head>
<body><p>This product has moved.</p>
<script>setTimeout(() => {{ location.replace("/products/{slug}"); }}, 300);</script></body></html>"""

APP_JS = r"""(async () => {
  const app = document.getElementById("app");
  const res = await fetch("/api/products/" + app.dataset.slug + ".json");
  const p = await res.json();
  document.title = p.title;
  document.getElementById("title").textContent = p.title;
  document.querySelector(".product-price").textContent = "$" + p.price;
  const picker = document.querySelector(".size-picker");
  for (const s of p.sizes) {
    const b = document.createElement("button");
    b.className = "size" + (s.available ? "" : " sold-out");
    b.textContent = s.label;
    if (!s.available) b.disabled = true;
    picker.appendChild(b);
  }
  document.getElementById("add-to-cart").disabled = !p.sizes.some((s) => s.available);
  const seen = Number((document.cookie.match(/visits=(\d+)/) || [0, 0])[1]) + 1;
  document.cookie = "visits=" + seen + "; path=/";
  document.getElementById("visits").textContent = String(seen);
})();"""


@dataclass
class ShopState:
    """What the API answers, and how: changed by tests and benchmarks while the shop runs."""

    price: str = "150.00"
    sizes: list[tuple[str, bool]] = field(
        default_factory=lambda: [("9", True), ("9.5", False), ("10", True), ("10.5", True)]
    )
    api_delay: float = 0.0  # seconds before the API answers
    fail_page: int = 0  # the next this many page loads answer 503 with Retry-After: 1
    robots: str = "User-agent: *\nDisallow: /checkout\n"


class JSShop:
    """The shop on 127.0.0.1 (any free port); counts requests per path."""

    def __init__(self) -> None:
        self.state = ShopState()
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                shop._serve(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.product_url = f"{self.base}/products/{SLUG}"
        self.about_url = f"{self.base}/pages/about"
        self.moved_url = f"{self.base}/p/old-rain-cloud"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> JSShop:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> JSShop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.hits[path] += 1
            state = self.state
        if path == f"/products/{SLUG}" and state.fail_page > 0:
            with self._lock:
                state.fail_page -= 1
            self._send(handler, 503, "text/plain", b"busy", {"Retry-After": "1"})
        elif path == f"/products/{SLUG}":
            self._send(handler, 200, "text/html; charset=utf-8", SHELL.format(slug=SLUG).encode())
        elif path == f"/ssr/products/{SLUG}":
            self._send(handler, 200, "text/html; charset=utf-8", self.server_rendered().encode())
        elif path == "/pages/about":
            self._send(handler, 200, "text/html; charset=utf-8", ABOUT.format(story=ABOUT_STORY).encode())
        elif path == "/p/old-rain-cloud":
            self._send(handler, 200, "text/html; charset=utf-8", MOVED.format(slug=SLUG).encode())
        elif path == "/static/app.js":
            self._send(handler, 200, "application/javascript", APP_JS.encode())
        elif path == f"/api/products/{SLUG}.json":
            if state.api_delay:
                time.sleep(state.api_delay)
            self._send(handler, 200, "application/json", json.dumps(self.payload()).encode())
        elif path == "/robots.txt":
            self._send(handler, 200, "text/plain", state.robots.encode())
        elif path.startswith(("/img/", "/fonts/")):
            self._send(handler, 200, "application/octet-stream", b"\0" * 1024)
        else:
            self._send(handler, 404, "text/plain", b"not found")

    def server_rendered(self) -> str:
        """The product page as the browser shows it after the script ran, made on the server."""
        data = self.payload()
        buttons = "".join(
            f'<button class="size">{s["label"]}</button>'
            if s["available"]
            else f'<button class="size sold-out" disabled>{s["label"]}</button>'
            for s in data["sizes"]
        )
        in_stock = any(s["available"] for s in data["sizes"])
        return (
            SHELL.format(slug=SLUG)
            .replace('<h1 id="title"></h1>', f'<h1 id="title">{data["title"]}</h1>')
            .replace(
                '<span class="product-price"></span>', f'<span class="product-price">${data["price"]}</span>'
            )
            .replace('aria-label="Size"></div>', f'aria-label="Size">{buttons}</div>')
            .replace(" disabled>Add to cart", ">Add to cart" if in_stock else " disabled>Add to cart")
            .replace('<script src="/static/app.js"></script>', "")
        )

    def payload(self) -> dict[str, Any]:
        """The API's answer: title, style code, price and sizes."""
        return {
            "title": TITLE,
            "style_code": STYLE_CODE,
            "price": self.state.price,
            "currency": "USD",
            "sizes": [{"label": label, "available": ok} for label, ok in self.state.sizes],
        }

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser gave up on this request (a timeout, a closed page)
