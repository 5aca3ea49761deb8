"""The dashboard server's own addresses beside its pages: /calendar.ics, /feed.atom, /feed.json and
the read-only JSON API under /api/v1.

Every answer is gated by the dashboard password when one is set (see dashboard.access) and carries
an ETag and a Last-Modified computed from a cheap fingerprint of the database (db.queries.change_stamp),
the config file and the day: a poller that sends them back gets 304 Not Modified without the answer
being built (/api/v1/inbox, which an open page asks every second, is fingerprinted by its own
answer: the unread count and the newest message's id, one indexed query). Handlers are plain
functions: Starlette runs them in its thread pool, so a database read never holds up the pages'
websockets.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dashboard import access, api, feeds
from db import queries
from db.engine import make_engine
from tracker.calendar import build_ics
from tracker.config import Config, load_config
from tracker.errors import ConfigError

# Bump when an answer's shape changes, so cached copies are not taken for the new ones.
FORMAT_VERSION = "1"
FEED_LIMIT = 50
MAX_FEED_LIMIT = 500
JSON_TYPE = "application/json"


class Site:
    """The config (read again when its file changes) and one engine per database URL."""

    def __init__(self, config_path: Path | None = None) -> None:
        self.config_path = config_path or Path(os.environ.get("TRACKER_CONFIG") or "config.toml")
        self._lock = threading.Lock()
        self._config: tuple[tuple[int, int], Config] | None = None
        self._engines: dict[str, Engine] = {}

    def file_stamp(self) -> tuple[int, int]:
        """The config file's modification time and size (0, 0 when it cannot be read)."""
        try:
            st = self.config_path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def config(self) -> Config:
        """The current config; a ConfigError naming the key when the file is broken."""
        stamp = self.file_stamp()
        with self._lock:
            if self._config is not None and self._config[0] == stamp:
                return self._config[1]
        config = load_config(self.config_path)
        with self._lock:
            self._config = (stamp, config)
        return config

    def engine(self, config: Config) -> Engine:
        """One engine per database URL for the server's life."""
        url = config.effective_database_url(base=self.config_path.resolve().parent)
        with self._lock:
            if url not in self._engines:
                self._engines[url] = make_engine(url)
            return self._engines[url]


@dataclass(frozen=True)
class Ask:
    """What a handler gets: the request, the config, the engine and the time."""

    request: Request
    config: Config
    engine: Engine
    now: datetime

    @property
    def today(self) -> date:
        """Today in the config's time zone."""
        return self.now.astimezone(self.config.tz()).date()


Builder = Callable[[Ask], tuple[bytes, str]]
# What an answer's validators come from: a fingerprint of what the answer is built of, and its time.
Stamper = Callable[[Ask], tuple[str, datetime | None]]


def _data_stamp(ask: Ask) -> tuple[str, datetime | None]:
    stamp = queries.change_stamp(ask.engine)
    return stamp.token, stamp.modified


def _inbox_stamp(ask: Ask) -> tuple[str, datetime | None]:
    # The fingerprint is the answer: kept on the request, so an answer that changed is not read twice.
    counts = ask.request.state.inbox_counts = queries.inbox_counts(ask.engine)
    return f"{counts.unread}/{counts.newest_id}", None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _unauthorized() -> Response:
    return Response(
        "The dashboard password is needed: HTTP Basic (any user name) or ?token= from the Inbox page.\n",
        status_code=401,
        media_type="text/plain",
        headers={"WWW-Authenticate": 'Basic realm="2002R tracker", charset="UTF-8"'},
    )


def _etag(request: Request, parts: list[str]) -> str:
    query = sorted((k, v) for k, v in request.query_params.multi_items() if k != "token")
    text = "|".join([FORMAT_VERSION, request.url.path, urlencode(query), *parts])
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str, modified: datetime | None) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since is None or modified is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return modified.replace(microsecond=0) <= when


def endpoint(build: Builder, stamper: Stamper = _data_stamp) -> Callable[[Request], Response]:
    """A route handler: password, then 304 when nothing changed, else the answer with its validators."""

    def handle(request: Request) -> Response:
        site = SITE
        authorization = request.headers.get("authorization")
        token = request.query_params.get("token")
        try:
            config = site.config()
        except ConfigError as exc:
            if not access.allowed(access.password(None), authorization, token):
                return _unauthorized()
            return _error(503, str(exc))
        if not access.allowed(access.password(config), authorization, token):
            return _unauthorized()
        ask = Ask(request=request, config=config, engine=site.engine(config), now=datetime.now(UTC))
        fingerprint, modified = stamper(ask)
        etag = _etag(request, [fingerprint, repr(site.file_stamp()), ask.today.isoformat()])
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
        if modified is not None:
            headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
        if _not_modified(request, etag, modified):
            return Response(status_code=304, headers=headers)
        try:
            body, media_type = build(ask)
        except api.ApiError as exc:
            return _error(exc.status, exc.message)
        return Response(body, media_type=media_type, headers=headers)

    return handle


def _json(data: Any) -> tuple[bytes, str]:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), JSON_TYPE


def _int(ask: Ask, name: str, default: int, low: int, high: int) -> int:
    raw = ask.request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise api.ApiError(400, f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise api.ApiError(400, f"{name}: must be between {low} and {high}")
    return value


def _since(ask: Ask) -> datetime | None:
    raw = ask.request.query_params.get("since")
    if raw is None or raw == "all":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise api.ApiError(
            400, f"since: {raw!r} is not an ISO 8601 time such as 2026-11-01T09:00:00Z"
        ) from None
    if moment.tzinfo is None:  # a bare date or time is in the user's zone, as on the dashboard
        moment = moment.replace(tzinfo=ask.config.tz())
    return moment.astimezone(UTC)


def _kinds(ask: Ask) -> list[str]:
    values = ask.request.query_params.getlist("kind")
    return [k.strip() for v in values for k in v.split(",") if k.strip()]


def _feed(ask: Ask) -> tuple[list[feeds.FeedItem], feeds.FeedMeta]:
    style = (ask.request.query_params.get("colorway") or "").strip().upper() or None
    limit = _int(ask, "limit", FEED_LIMIT, 1, MAX_FEED_LIMIT)
    kinds = _kinds(ask)
    colorway_id = None
    if style is not None:
        found = queries.colorway_by_style(ask.engine, style)
        if found is None:
            raise api.ApiError(404, f"colorway: no colorway with style code {style!r}")
        colorway_id = found.id
    rows = queries.events(ask.engine, colorway_id=colorway_id, kinds=kinds or None, limit=limit)
    colorways = {c.style_code: c for c in queries.colorways(ask.engine)}
    items = feeds.feed_items(rows, colorways, ask.config.locale)
    url = ask.request.url
    query = [(k, v) for k, v in ask.request.query_params.multi_items() if k != "token"]
    self_url = str(url.replace(query=urlencode(query)))
    title = "2002R tracker: " + (", ".join([*([style] if style else []), *kinds]) or "alerts and events")
    meta = feeds.FeedMeta(
        title=title,
        self_url=self_url,
        home_url=str(ask.request.base_url),
        feed_id="feed?" + urlencode(sorted(q for q in query if q[0] in ("colorway", "kind"))),
    )
    return items, meta


def atom_feed(ask: Ask) -> tuple[bytes, str]:
    """/feed.atom"""
    items, meta = _feed(ask)
    return feeds.atom(items, meta), "application/atom+xml; charset=utf-8"


def json_feed(ask: Ask) -> tuple[bytes, str]:
    """/feed.json"""
    items, meta = _feed(ask)
    body, _ = _json(feeds.json_feed(items, meta))
    return body, "application/feed+json; charset=utf-8"


def calendar(ask: Ask) -> tuple[bytes, str]:
    """/calendar.ics"""
    return build_ics(ask.engine, ask.config), "text/calendar; charset=utf-8"


def api_index(ask: Ask) -> tuple[bytes, str]:
    """/api/v1: what there is."""
    return _json(
        {
            "endpoints": {
                "/api/v1/colorways": "every colorway with its best price and stock now (?watched=true)",
                "/api/v1/colorways/{style_code}": "one colorway and every shop's latest offer",
                "/api/v1/colorways/{style_code}/prices": "price history (?since=ISO time or all)",
                "/api/v1/events": "events as written (?since=, ?after_id=, ?kind=, ?colorway=, ?limit=)",
                "/api/v1/releases": "release dates",
                "/api/v1/inbox": "unread messages in the dashboard's inbox and the newest one's id",
            }
        }
    )


def api_colorways(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/colorways"""
    watched = ask.request.query_params.get("watched", "").lower() in ("1", "true", "yes")
    return _json(api.colorways(ask.engine, ask.now, watched_only=watched))


def api_colorway(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/colorways/{style_code}"""
    return _json(api.colorway(ask.engine, ask.now, ask.request.path_params["style_code"]))


def api_prices(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/colorways/{style_code}/prices"""
    all_time = ask.request.query_params.get("since") == "all"
    code = ask.request.path_params["style_code"]
    return _json(api.price_history(ask.engine, ask.now, code, _since(ask), all_time=all_time))


def api_events(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/events"""
    after = ask.request.query_params.get("after_id")
    return _json(
        api.events(
            ask.engine,
            since=_since(ask),
            after_id=None if after is None else _int(ask, "after_id", 0, 0, 2**62),
            kinds=_kinds(ask),
            style_code=ask.request.query_params.get("colorway"),
            limit=_int(ask, "limit", 200, 1, api.MAX_EVENTS),
        )
    )


def api_releases(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/releases"""
    return _json(api.releases(ask.engine, ask.today))


def api_inbox(ask: Ask) -> tuple[bytes, str]:
    """/api/v1/inbox: what an open dashboard page asks every second (and a home-automation sensor
    may too), one indexed query; its ETag is the answer itself, so a repeated ask is a 304."""
    counts: queries.InboxCounts = ask.request.state.inbox_counts  # read by _inbox_stamp
    return _json({"unread": counts.unread, "newest_id": counts.newest_id})


def chart_script(request: Request) -> Response:
    """The colorway chart's script. No data is in it, so it is not behind the password; asked for with
    its version (?v=hash), a browser keeps it until the file changes."""
    from dashboard import charts

    body, version = charts.script()
    current = request.query_params.get("v") == version
    etag = f'"{version}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if current else "no-cache",
    }
    if _not_modified(request, etag, None):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript", headers=headers)


SITE = Site()


def routes() -> list[Route]:
    """The extra routes the dashboard's server answers beside its pages."""
    table: list[tuple[str, Builder]] = [
        ("/calendar.ics", calendar),
        ("/feed.atom", atom_feed),
        ("/feed.json", json_feed),
        ("/api/v1", api_index),
        ("/api/v1/colorways", api_colorways),
        ("/api/v1/colorways/{style_code}", api_colorway),
        ("/api/v1/colorways/{style_code}/prices", api_prices),
        ("/api/v1/events", api_events),
        ("/api/v1/releases", api_releases),
    ]
    found = [Route(path, endpoint(build), methods=["GET", "HEAD"]) for path, build in table]
    found.append(Route("/api/v1/inbox", endpoint(api_inbox, _inbox_stamp), methods=["GET", "HEAD"]))
    found.append(Route("/assets/pricechart.js", chart_script, methods=["GET", "HEAD"]))
    return found
