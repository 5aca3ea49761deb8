"""Fetching: polite HTTP (http.py) with robots.txt per RFC 9309 (robots.py)."""

from tracker.fetch.http import Fetcher, FetchResult

__all__ = ["FetchResult", "Fetcher"]
