"""Keeping secrets out of logs, errors and pages: one redactor for every place text is shown."""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://([^\s'\"<>]+)")
_USERINFO = re.compile(r"^[^/@]*@")
_PASSWORD = re.compile(r"^([^/@:]*):[^/@]*@")
_DATABASES = ("sqlite", "postgresql", "postgres")


def redact(text: str, secrets: Iterable[str] = (), *, web: bool = True) -> str:
    """text with known secrets replaced by ***, and URLs made safe to show.

    Alert channel URLs (Apprise: json://, mailto://, discord://...) carry tokens and passwords
    anywhere in them, so they are reduced to their scheme. A shop's http(s) address stays readable
    without any user:password@ part, unless web=False (text about alert channels, whose webhooks
    are http(s) URLs too), where it is reduced to its scheme like the others. A database URL keeps
    its host and path (which database could not be opened) without its password.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")

    def one(match: re.Match[str]) -> str:
        scheme, rest = match.group(1), match.group(2)
        if web and scheme.lower() in ("http", "https"):
            return f"{scheme}://" + _USERINFO.sub("", rest)
        if scheme.lower().split("+", 1)[0] in _DATABASES:
            return f"{scheme}://" + _PASSWORD.sub(r"\1:***@", rest)
        return f"{scheme}://…"

    return _URL.sub(one, text)
