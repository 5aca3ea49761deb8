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

from streamlit.starlette import App  # noqa: E402

from dashboard.routes import routes  # noqa: E402

PAGES = Path(__file__).resolve().parent / "app.py"

app = App(str(PAGES), routes=routes())
