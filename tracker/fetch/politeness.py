"""Fetch politeness: how long to wait before asking a host again, per host and across machines.

The numbers here decide whether a shop is asked too often (and blocks the tracker) or a retry
comes too late: backoff between retries, a shop's Retry-After, the per-host delay between
request starts, and the host key that sources sharing a shop share.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit

BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def backoff_wait(attempt: int, retry_after: float | None) -> float:
    """Seconds before retry number `attempt`: the shop's Retry-After, else exponential with jitter."""
    if retry_after is not None:
        return retry_after
    backoff = min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (attempt - 1))
    # Jitter spreads retries from many checks so they do not hit the shop together.
    return backoff + random.uniform(0, backoff * 0.25)


def start_wait(last_start: float | None, delay: float, now: float) -> float:
    """Seconds to wait so that a request starts `delay` after the host's previous one (0: go now)."""
    if last_start is None or delay <= 0:
        return 0.0
    return max(0.0, last_start + delay - now)


@dataclass
class HostState:
    """Politeness state for one host: a concurrency gate and when the last request started."""

    semaphore: asyncio.Semaphore
    delay: float
    limit: int = 1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float | None = None
    # Requests holding or waiting for one of the host's slots.
    active: int = 0

    def forgettable(self, now: float) -> bool:
        """Whether a fresh state would do the same: nobody holds or waits for a slot, and the delay
        since the last request start has passed."""
        return self.active == 0 and start_wait(self.last_start, self.delay, now) == 0.0


class HostGate(Protocol):
    """Per-host politeness kept outside this process, so that workers on several machines share it.

    Hosts are keys such as ``shop.example`` or ``127.0.0.2:8080``; every wait is a duration
    measured on the gate's own clock, so a machine whose clock is wrong still waits right.
    """

    async def enter(self, host: str, *, concurrency: int, delay: float, hold: float) -> tuple[object, float]:
        """Take one of the host's `concurrency` slots (waiting for one to be free), then wait until
        `delay` has passed since the previous request start to the host, from any process; returns
        (ticket, seconds waited for the delay) when the request may be sent. A slot not given back
        is free again after `hold` seconds at most (its holder died)."""
        ...

    async def leave(self, host: str, ticket: object) -> None:
        """Give the slot back."""
        ...

    async def paused_for(self, host: str) -> float:
        """Seconds the host asked not to be asked again for (a long Retry-After), as far as known
        here without asking (enter() raises FetchError(rate_limited) for a pause set elsewhere)."""
        ...

    async def pause(self, host: str, seconds: float) -> None:
        """Nobody asks the host again for `seconds`."""
        ...


def host_key(url: str) -> str:
    """The politeness key of a URL: its host, with the port unless it is the scheme's own (an
    address written with :443 is the same shop as one without)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    port = parts.port
    return (parts.hostname or "") + (f":{port}" if port and port != default else "")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
