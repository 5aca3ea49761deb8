"""Shared parts for the alert tests: real receivers on 127.0.0.1 and a real database with a listing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session

from db.models import Colorway, Event, Listing, Source

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll until condition() holds, failing after a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Hook:
    """A JSON webhook receiver: records each POST; paths in `fail` answer 500; `block` holds answers."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)
    block: threading.Event | None = None
    delay: float = 0.0  # seconds every answer to a POST waits (a slow receiver)
    block_images: threading.Event | None = None
    image_requests: int = 0
    images: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r["json"] for r in self.received if path is None or r["path"] == "/" + path]


@contextmanager
def json_receiver() -> Iterator[Hook]:
    """A real HTTP server on 127.0.0.1 taking Apprise's json:// format (and serving test images)."""
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            with hook.lock:
                hook.image_requests += 1
            if hook.block_images is not None:
                hook.block_images.wait(60)
            if name not in hook.images:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(hook.images[name])))
            self.end_headers()
            self.wfile.write(hook.images[name])

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record = {
                "path": self.path.split("?")[0],
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "json": json.loads(raw),
                "at": time.perf_counter(),
            }
            with hook.lock:
                hook.received.append(record)
            if hook.block is not None:
                hook.block.wait(60)
            time.sleep(hook.delay)
            status = 500 if record["path"].lstrip("/") in hook.fail else 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the sender was killed while waiting for this answer

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # Several senders at once open more connections than the default backlog of 5.
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        for gate in (hook.block, hook.block_images):
            if gate is not None:
                gate.set()
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.original_content, policy=policy.default),
            }
        )
        return "250 OK"


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (port, received messages)."""
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box.messages
    finally:
        controller.stop()


def mail_text(message: Any) -> str:
    """The plain-text body of a received email."""
    part = message.get_body(preferencelist=("plain", "html"))
    return str(part.get_content()) if part is not None else ""


@dataclass
class World:
    """A source, a colorway and one listing in the database, to hang events on."""

    engine: sa.Engine
    source_id: int
    colorway_id: int
    listing_id: int


def seed(
    engine: sa.Engine,
    *,
    sizes: list[str] | None = None,
    targets: dict[str, str] | None = None,
    image: str | None = None,
) -> World:
    """One shop, the Rain Cloud colorway (M2002RDA, $150 list) and its listing at that shop."""
    with Session(engine) as session:
        source = Source(name="Kith", kind="shopify", url="https://shop.example/")
        colorway = Colorway(
            style_code="M2002RDA",
            name='Protection Pack "Rain Cloud"',
            line="Protection Pack",
            list_prices={"USD": "150"},
            target_prices=targets or {},
            sizes=sizes or [],
            watched=True,
            image=image,
        )
        session.add(source)
        session.add(colorway)
        session.flush()
        assert source.id is not None and colorway.id is not None
        listing = Listing(
            source_id=source.id,
            colorway_id=colorway.id,
            external_id="rain-cloud",
            url="https://shop.example/products/rain-cloud",
            title="New Balance 2002R Protection Pack Rain Cloud",
            style_code="M2002RDA",
        )
        session.add(listing)
        session.commit()
        assert listing.id is not None
        return World(engine, source.id, colorway.id, listing.id)


def event_data(**extra: Any) -> dict[str, Any]:
    """Event data as the pipeline writes it for the Rain Cloud listing at Kith."""
    data: dict[str, Any] = {
        "shop": "Kith",
        "title": "New Balance 2002R Protection Pack Rain Cloud",
        "url": "https://shop.example/products/rain-cloud",
        "style_code": "M2002RDA",
        "colorway": 'Protection Pack "Rain Cloud"',
        "currency": "USD",
    }
    data.update(extra)
    return data


def make_event(world: World, kind: str, *, message: str = "", discovered: bool = False, **data: Any) -> Event:
    """An unsaved Event row on the world's listing (or a discovered listing with no colorway)."""
    return Event(
        kind=kind,
        source_id=world.source_id,
        listing_id=world.listing_id,
        colorway_id=None if discovered else world.colorway_id,
        message=message,
        data=event_data(**data),
        created_at=NOW,
    )
