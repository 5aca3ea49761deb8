"""Who may read the calendar, the feeds and the API: the dashboard's password, two ways.

- HTTP Basic (any user name, the dashboard password): for curl, scripts, Home Assistant and feed
  readers. The password travels in a header, never in an address that ends up in logs or history.
- ``?token=...`` in the address: for calendar apps (Google Calendar subscribes to a bare URL and
  cannot send a header) and readers without Basic. The token is an HMAC of the password, so it
  reveals nothing about it, opens only these read-only addresses (never the pages), and stops
  working when the password changes. The signed-in dashboard shows it on the Inbox page.

With no password set, everything is open, as the pages are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from tracker.config import Config

DEFAULT_PASSWORD_ENV = "TRACKER_DASHBOARD_PASSWORD"  # noqa: S105 (a variable name, not a secret)
_TOKEN_PURPOSE = b"2002r-tracker: calendar, feeds and API, read only"


def password(config: Config | None) -> str | None:
    """The dashboard password from the environment variable the config names, if set."""
    name = config.dashboard.password_env if config is not None else DEFAULT_PASSWORD_ENV
    return os.environ.get(name) or None


def feed_token(secret: str) -> str:
    """The URL token derived from the password."""
    return hmac.new(secret.encode(), _TOKEN_PURPOSE, hashlib.sha256).hexdigest()[:32]


def token_query(config: Config | None) -> str:
    """The "?token=..." query for the dashboard's own addresses a signed-in page links or asks (the
    calendar, the feeds, the inbox API); "" when no password is set."""
    secret = password(config)
    return f"?token={feed_token(secret)}" if secret else ""


def _basic_password(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, given = decoded.partition(":")
    return given if sep else None


def allowed(secret: str | None, authorization: str | None, token: str | None) -> bool:
    """Whether a request may read: no password set, the password by Basic, or the URL token."""
    if secret is None:
        return True
    given = _basic_password(authorization)
    if given is not None and hmac.compare_digest(given.encode(), secret.encode()):
        return True
    return token is not None and hmac.compare_digest(token.encode(), feed_token(secret).encode())
