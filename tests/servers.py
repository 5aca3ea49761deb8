"""A small real HTTP server on 127.0.0.1 whose routes a test sets while it runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})


class PageServer:
    """Serves whatever the test put at a path; counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with outer._lock:
                    outer.hits[path] = outer.hits.get(path, 0) + 1
                    route = outer.routes.get(path)
                if route is None:
                    route = Route(b"not found", 404)
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, path: str, body: str | bytes, status: int = 200, **headers: str) -> str:
        """Serve body at path from now on; returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self.routes[path] = Route(data, status, headers or {"Content-Type": "text/html; charset=utf-8"})
        return self.base + path


def product_page(
    price: str, *, availability: str = "InStock", code: str = "M2002RDB", currency: str = "USD"
) -> str:
    """A minimal product page with JSON-LD and a matching visible price."""
    return f"""<!doctype html><html lang="en"><head><title>New Balance 2002R {code}</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Product",
"name": "New Balance 2002R Protection Pack {code}", "sku": "{code}",
"offers": {{"@type": "Offer", "price": "{price}", "priceCurrency": "{currency}",
"availability": "https://schema.org/{availability}"}}}}</script></head>
<body><main><h1>New Balance 2002R Protection Pack</h1><span class="price">${price}</span>
<button>Add to cart</button></main></body></html>"""
