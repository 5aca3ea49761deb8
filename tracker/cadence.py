"""How often a source is checked: its interval and jitter, and the backoff of a refusing shop.

Shared by the one-process scheduler and the clock of the multi-machine mode, so both keep the
same schedule.
"""

from __future__ import annotations

from tracker.config import Config
from tracker.config import Source as SourceConfig

# Statuses that say the shop is down or does not want us now (or our database cannot take what it
# says): wait longer before asking again.
BACKOFF_STATUSES = frozenset(
    {"rate_limited", "server_error", "blocked", "timeout", "connection", "storage_error"}
)
MAX_BACKOFF = 6 * 3600.0
# A database that cannot be written is tried again sooner: checking it costs the shops nothing, and
# the tracker should record again soon after space or permissions come back.
MAX_STORAGE_BACKOFF = 600.0


def backoff_delay(interval: float, failures: int, *, longest: float = MAX_BACKOFF) -> float:
    """Seconds until the next check after `failures` such failures in a row: the interval doubled
    per failure (2x, 4x, 8x...), at most six hours (or the interval, when that is longer)."""
    return min(interval * 2.0**failures, max(interval, longest))


def source_interval(config: Config, src: SourceConfig) -> tuple[float, float]:
    """(interval, jitter) in seconds for a source, falling back to the defaults."""
    interval = src.interval if src.interval is not None else config.defaults.interval
    jitter = src.jitter if src.jitter is not None else config.defaults.jitter
    return interval, min(jitter, interval / 2)


def drop_jitter(jitter: float, fast: float) -> float:
    """The jitter of a source in drop mode: at most a tenth of its fast interval."""
    return min(jitter, fast / 10)
