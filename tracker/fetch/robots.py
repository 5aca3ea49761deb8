"""robots.txt per RFC 9309 (Protego: `*` and `$` wildcards, the longest matching rule wins)."""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB
ROBOTS_TTL = 86_400.0  # RFC 9309: do not cache robots.txt for more than a day


@dataclass(frozen=True)
class Robots:
    """One origin's rules as fetched at `fetched_at` (a monotonic clock reading)."""

    rules: Protego | None  # None: no usable robots.txt, everything allowed
    fetched_at: float

    def allows(self, url: str, user_agent: str) -> bool:
        """Whether the rules let this user agent fetch url."""
        return self.rules is None or bool(self.rules.can_fetch(url, user_agent))

    def stale(self, now: float) -> bool:
        """Older than a day: fetch robots.txt again before the next request."""
        return now - self.fetched_at > ROBOTS_TTL


def parse_robots(body: bytes) -> Protego:
    """The rules of a robots.txt body (undecodable bytes replaced, as RFC 9309 allows)."""
    return Protego.parse(body.decode("utf-8", errors="replace"))
