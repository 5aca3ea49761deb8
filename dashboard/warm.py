"""Warming a freshly started dashboard: run its pages once, as a browser would, before anyone asks.

    python -m dashboard.warm http://127.0.0.1:8501 [--clear-cache] [PAGE...]


A new Streamlit server imports the pages' libraries (pandas, SQLAlchemy, Babel), opens and
migrates the database and fills the read caches on its first visitor's page: seconds on a small
machine. Running the pages once over Streamlit's own websocket when the server is up moves that
cost out of the first visitor's way. The same session can clear the read caches, which is how the
benchmark measures a cold page.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import websockets
from google.protobuf.message import DecodeError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

log = logging.getLogger(__name__)
PAGES = ("", "colorway")  # the overview (the default page) and the colorway page (its chart's data)


def _stream_url(base_url: str) -> str:
    return (
        base_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        + "/_stcore/stream"
    )


async def _run(base_url: str, page: str, *, clear_cache: bool, timeout: float) -> float:
    """Open a session, optionally clear the caches, run one page to its end; seconds it took."""
    started = time.perf_counter()
    async with websockets.connect(_stream_url(base_url), subprotocols=["streamlit"], max_size=None) as ws:  # type: ignore[list-item]
        if clear_cache:
            msg = BackMsg()
            msg.clear_cache = True
            await ws.send(msg.SerializeToString())
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        await ws.send(msg.SerializeToString())
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            forward = ForwardMsg()
            forward.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            if forward.WhichOneof("type") == "script_finished":
                return time.perf_counter() - started


def run_page(base_url: str, page: str = "", *, clear_cache: bool = False, timeout: float = 120.0) -> float:
    """Run one page of the dashboard at base_url to its end (its caches cleared first when asked).

    The session runs on a thread of its own, so a caller already inside an event loop (a browser
    driver, a test) can use it too."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, _run(base_url, page, clear_cache=clear_cache, timeout=timeout)
        ).result()


def warm(base_url: str, pages: tuple[str, ...] = PAGES) -> bool:
    """Run each page once so the first visitor finds libraries loaded and caches full; False (logged)
    when the server could not be warmed, which only means the first page is slower."""
    try:
        for page in pages:
            seconds = run_page(base_url, page)
            log.debug("dashboard page %r warmed in %.1f s", page or "overview", seconds)
    except (OSError, TimeoutError, websockets.WebSocketException, DecodeError) as exc:
        log.info("the dashboard was not warmed up (%s): its first page will be slower", exc)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Warm the dashboard at a URL (serve() starts this in the background); 0 when every page ran."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("pages", nargs="*", default=list(PAGES))
    parser.add_argument("--clear-cache", action="store_true", help="clear the read caches first")
    args = parser.parse_args(argv)
    if args.clear_cache:
        run_page(args.url, args.pages[0], clear_cache=True)
    return 0 if warm(args.url, tuple(args.pages)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
