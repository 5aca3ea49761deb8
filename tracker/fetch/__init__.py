"""Fetching: polite HTTP (http.py) with robots.txt per RFC 9309 (robots.py)."""

import sys

# httpx imports its command-line tool (click, pygments, rich's syntax highlighter: ~50 ms, a twentieth
# of a `tracker check`) whenever those are installed, as other tools here need them; the fetcher never
# runs it. Marked absent before httpx loads, httpx puts a stub in its place (`python -m httpx`, in its
# own process, still works).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from tracker.fetch.http import Fetcher, FetchResult  # noqa: E402

__all__ = ["FetchResult", "Fetcher"]
