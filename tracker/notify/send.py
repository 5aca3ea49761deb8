"""One message through one Apprise URL: secrets expanded only in memory, errors kept without them."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tracker.config import expand_env
from tracker.errors import ConfigError
from tracker.notify.inbox import InboxDelivery, delivering, register
from tracker.redact import redact

IMAGE_TIMEOUT = 3.0
IMAGE_MAX_BYTES = 5_000_000
ERROR_MAX_CHARS = 500
# Tokens shorter than this in a channel URL (paths like "hook", ports) are not worth hiding.
_SECRET_MIN_LEN = 8
_URL_SPLIT_RE = re.compile(r"[/:@?&=#,]+")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_APPRISE_LOCK = threading.Lock()
_ASSET: list[Any] = []  # the tracker's AppriseAsset, once Apprise is loaded


def _apprise() -> tuple[Any, Any]:
    """Apprise and the tracker's asset for it, loaded on first use (by a process that sends, or warms
    up its channels): the CLI's other commands and a service without channels never import it."""
    import apprise

    with _APPRISE_LOCK:
        if not _ASSET:
            register()
            # The tracker never lets Apprise keep state on disk: the URLs it would key that state by
            # hold secrets.
            _ASSET.append(apprise.AppriseAsset(storage_mode="memory"))
    return apprise, _ASSET[0]


@dataclass(frozen=True)
class Image:
    """An image downloaded for attaching (channels without attachments get the link only)."""

    content: bytes
    mimetype: str
    name: str


class _ThreadLog(logging.Handler):
    """Collects Apprise's warnings per thread, so concurrent sends do not mix their errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def start(self) -> None:
        self._local.lines = []

    def stop(self) -> list[str]:
        lines: list[str] = getattr(self._local, "lines", None) or []
        self._local.lines = None
        return lines

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())


_LOG = _ThreadLog()
logging.getLogger("apprise").addHandler(_LOG)


def secrets_of(url_template: str) -> list[str]:
    """Strings to hide from error text: environment values, the password, long URL tokens."""
    found: list[str] = []
    for name in _ENV_RE.findall(url_template):
        value = os.environ.get(name)
        if value:
            found.append(value)
    try:
        url = expand_env(url_template)
    except ConfigError:
        url = url_template
    found.append(url)
    parts = urlsplit(url)
    if parts.password:
        found.append(parts.password)
    tokens = _URL_SPLIT_RE.split(parts.path) + [v for _, v in parse_qsl(parts.query)]
    found.extend(t for t in tokens if len(t) >= _SECRET_MIN_LEN)
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _clean(text: str, secrets: list[str]) -> str:
    """An error without secrets or channel URLs, on one line of readable length."""
    return " ".join(redact(text, secrets, web=False).split())[:ERROR_MAX_CHARS]


def warm_up(url_templates: list[str]) -> None:
    """Load the Apprise plugins these URLs need now (about 0.6 s once), not on the first alert."""
    if not url_templates:
        return
    apprise, asset = _apprise()
    for template in url_templates:
        try:
            apprise.Apprise.instantiate(expand_env(template), asset=asset)
        except ConfigError:
            continue


def fetch_image(url: str, *, timeout: float = IMAGE_TIMEOUT) -> Image | None:
    """The product image, or None when it cannot be had quickly (an alert never waits on it)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    try:
        client = httpx.Client(timeout=timeout, follow_redirects=True)
        with client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                return None
            mimetype = resp.headers.get("content-type", "").split(";")[0].strip()
            if not mimetype.startswith("image/"):
                return None
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > IMAGE_MAX_BYTES:
                    return None
                chunks.append(chunk)
    except httpx.HTTPError:
        return None
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "image"
    return Image(content=b"".join(chunks), mimetype=mimetype, name=name)


def send_via_apprise(
    url_template: str,
    title: str,
    body: str,
    *,
    image: Image | None = None,
    idempotency_key: str | None = None,
    inbox: InboxDelivery | None = None,
    timeout: float | None = None,
) -> str | None:
    """Send one message; None when the channel accepted it, else the error without secrets.

    inbox says where and under which key an inbox:// channel stores the message. timeout bounds
    connecting and waiting for the answer (the channel's ``timeout``); a receiver slower than that
    counts as failed, and the outbox sends again later with the same key.
    """
    secrets = secrets_of(url_template)
    try:
        url = expand_env(url_template)
    except ConfigError as exc:
        return _clean(str(exc), secrets)
    apprise, asset = _apprise()
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"not a usable Apprise URL (scheme {scheme}://)"
    if timeout is not None:
        # Apprise's own defaults (4 s) are too short for some webhooks: the channel's setting wins.
        plugin.socket_connect_timeout = timeout
        plugin.socket_read_timeout = timeout
    headers = getattr(plugin, "headers", None)
    if idempotency_key and isinstance(headers, dict):
        # Receivers that see the same key twice can drop the copy (see tracker.notify.outbox).
        is_email = type(plugin).__module__.startswith("apprise.plugins.email")
        headers["X-Idempotency-Key" if is_email else "Idempotency-Key"] = idempotency_key
    attach = None
    if image is not None and getattr(plugin, "attachment_support", False):
        from apprise.attachment.memory import AttachMemory

        memory = AttachMemory(content=image.content, name=image.name, mimetype=image.mimetype)  # type: ignore[no-untyped-call]
        attach = [memory]
    _LOG.start()
    started = time.monotonic()
    try:
        with delivering(inbox):
            ok = bool(plugin.notify(body=body, title=title, attach=attach))
    except Exception as exc:  # a plugin may raise anything; the error is kept on the row
        ok = False
        lines = [*_LOG.stop(), f"{type(exc).__name__}: {exc}"]
    else:
        lines = _LOG.stop()
    if ok:
        return None
    if timeout is not None and time.monotonic() - started >= timeout * 0.9:
        # Apprise says "connection error"; what happened is that the receiver took too long.
        lines.append(f"no answer within {timeout:g} s (the channel's timeout); sent again later")
    detail = "; ".join(dict.fromkeys(lines)) or "the channel did not accept the message"
    return _clean(detail, secrets)
