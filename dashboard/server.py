"""The dashboard's server: Streamlit's pages and, on the same host and port, the release calendar,
the feeds and the JSON API (dashboard.routes). Served by `streamlit run dashboard/server.py`
(see dashboard.serve), which finds this ASGI app and runs it with uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/server.py` puts dashboard/ on the path, not the project root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import asyncio.base_events  # noqa: E402
import socket  # noqa: E402

from streamlit.starlette import App  # noqa: E402

from dashboard.routes import routes  # noqa: E402

PAGES = Path(__file__).resolve().parent / "app.py"


def _nodelay(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# Streamlit binds its listening socket with protocol number 0, so asyncio does not turn Nagle's
# algorithm off on the connections it accepts (it checks for IPPROTO_TCP). Every answer after the
# first on a kept-alive connection then waited ~40 ms for the client's delayed ACK between the
# headers and the body. The accepted sockets get TCP_NODELAY here instead.
if hasattr(asyncio.base_events, "_set_nodelay"):
    asyncio.base_events._set_nodelay = _nodelay

app = App(str(PAGES), routes=routes())
