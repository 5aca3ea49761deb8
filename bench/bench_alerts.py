"""Alert latency: from a change being recorded to the channel being called, on a real SQLite and receivers.

Run: python bench/bench_alerts.py [--runs 50] [--warm]
Each run does what the pipeline and the scheduler do: insert an event, flush, plan_deliveries,
commit, then call deliver_due right away. The clock starts before the insert and stops when the
JSON webhook receiver (a real HTTP server on 127.0.0.1) has the request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from sqlmodel import Session

from db.engine import make_engine
from db.models import Colorway, Event, Listing, Source
from tracker.config import parse_config
from tracker.notify.outbox import deliver_due, warm_up_channels
from tracker.notify.plan import plan_deliveries

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(40_000)


def receiver() -> tuple[ThreadingHTTPServer, list[float]]:
    arrivals: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE)

        def do_POST(self) -> None:
            json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arrivals.append(time.perf_counter())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


class Mailbox:
    def __init__(self) -> None:
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrivals.append(time.perf_counter())
        return "250 OK"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(label: str, runs: int, *, image: bool, email: bool, warm: bool = False) -> None:
    server, arrivals = receiver()
    port = server.server_address[1]
    box = Mailbox()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    channels = [{"name": "hook", "url": f"json://127.0.0.1:{port}/hook"}]
    if email:
        channels.append(
            {"name": "mail", "url": f"mailto://127.0.0.1:{smtp_port}?from=a@example.org&to=b@example.org"}
        )
    config = parse_config(
        {"alerts": {"channels": channels, "rules": [{"on": ["price_drop"]}], "debounce": 0}}
    )
    if warm:
        began = time.perf_counter()
        warm_up_channels(config)
        print(f"warm_up_channels: {(time.perf_counter() - began) * 1000:.0f} ms (once, at service start)")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        with Session(engine) as session:
            source = Source(name="Kith", kind="shopify", url="https://shop.example/")
            colorway = Colorway(style_code="M2002RDA", name="Rain Cloud", list_prices={"USD": "150"})
            session.add_all([source, colorway])
            session.flush()
            listing = Listing(
                source_id=source.id or 0, colorway_id=colorway.id, external_id="x", url="https://x"
            )
            session.add(listing)
            session.commit()
            ids = (source.id, colorway.id, listing.id)
        latencies: list[float] = []
        mail_latencies: list[float] = []
        plan_ms: list[float] = []
        for i in range(runs):
            data = {
                "shop": "Kith",
                "price": str(149 - i % 100),
                "old_price": "150",
                "currency": "USD",
                "url": "https://shop.example/p",
                "sizes_in_stock": ["9", "10"],
            }
            if image:
                data["image"] = f"http://127.0.0.1:{port}/img{i}.png"
            start = time.perf_counter()
            with Session(engine) as session:
                event = Event(
                    kind="price_drop",
                    source_id=ids[0],
                    colorway_id=ids[1],
                    listing_id=ids[2],
                    message=f"Price drop {i}",
                    data=data,
                )
                session.add(event)
                session.flush()
                plan_deliveries(session, [event], config, now=event.created_at)
                session.commit()
            planned = time.perf_counter()
            before_hook, before_mail = len(arrivals), len(box.arrivals)
            stats = asyncio.run(deliver_due(engine, config))
            assert stats.sent == len(channels), stats
            plan_ms.append((planned - start) * 1000)
            latencies.append((arrivals[before_hook] - start) * 1000)
            if email:
                mail_latencies.append((box.arrivals[before_mail] - start) * 1000)
        engine.dispose()
    controller.stop()
    server.shutdown()
    cold, warm = latencies[0], latencies[1:]
    print(
        f"{label:<34} webhook: first {cold:7.1f} ms | median {statistics.median(warm):6.1f} ms"
        f" | p95 {pct(warm, 0.95):6.1f} ms | max {max(warm):6.1f} ms | insert+plan+commit median"
        f" {statistics.median(plan_ms):5.1f} ms"
        + (f" | email median {statistics.median(mail_latencies[1:]):6.1f} ms" if email else "")
    )


def bench_plan(batch: int) -> None:
    config = parse_config(
        {
            "alerts": {
                "channels": [{"name": n, "url": f"json://127.0.0.1:9/{n}"} for n in ("a", "b", "c")],
                "rules": [{"on": ["restock", "sold_out", "price_drop"]}],
            }
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/plan.db")
        with Session(engine) as session:
            source = Source(name="Kith", kind="shopify", url="https://shop.example/")
            session.add(source)
            session.flush()
            listings = [
                Listing(source_id=source.id or 0, external_id=str(i), url="https://x") for i in range(batch)
            ]
            session.add_all(listings)
            session.commit()
            lids = [listing.id for listing in listings]
        kinds = ["restock", "sold_out", "price_drop"]
        start = time.perf_counter()
        with Session(engine) as session:
            events = [
                Event(
                    kind=kinds[i % 3],
                    source_id=1,
                    listing_id=lids[i],
                    data={"price": "100", "old_price": "150"},
                )
                for i in range(batch)
            ]
            session.add_all(events)
            session.flush()
            rows = plan_deliveries(session, events, config, now=events[0].created_at)
            session.commit()
        elapsed = (time.perf_counter() - start) * 1000
        engine.dispose()
    print(
        f"plan_deliveries: {batch} events x 3 channels = {len(rows)} rows in {elapsed:.0f} ms"
        f" ({elapsed / len(rows):.2f} ms per row, debounce queries included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warm", action="store_true", help="call warm_up_channels first, as a service does")
    args = parser.parse_args()
    run("json webhook", args.runs, image=False, email=False, warm=args.warm)
    run("json webhook + image attachment", args.runs, image=True, email=False)
    run("json webhook + email (2 channels)", args.runs, image=False, email=True)
    bench_plan(200)


if __name__ == "__main__":
    main()
