"""What a check produces: the statuses a run can end in, what was collected, and the run's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracker.errors import FetchError
from tracker.extract.model import Product

if TYPE_CHECKING:
    from tracker.extract.model import ReleaseInfo

# What a finished check run records (CheckRun.status): it read the shop, or why it could not.
# A run still in flight is "running"; one stopped by shutdown before writing is "cancelled".
RUN_STATUSES = frozenset(
    {
        "ok",
        "partial",
        "not_modified",
        "blocked",
        "timeout",
        "rate_limited",
        "server_error",
        "http_error",
        "too_large",
        "redirect_loop",
        "connection",
        "robots",
        "not_product",
        "extract_error",
        "unsupported",
        "cancelled",
        # The database could not be written (full, read-only, unreachable): kept where it can be.
        "storage_error",
    }
)
# Statuses of a check that read the shop; every other one is a failure.
HEALTHY_STATUSES = frozenset({"ok", "not_modified"})


@dataclass
class Fetched:
    """One product read from one response, with the validators to send next time."""

    product: Product
    key: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Collected:
    """Everything a source's collect stage produced, before anything is written."""

    items: list[Fetched] = field(default_factory=list)
    releases: list[ReleaseInfo] = field(default_factory=list)
    not_modified: list[str] = field(default_factory=list)
    errors: list[tuple[str, FetchError]] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    not_product: list[str] = field(default_factory=list)
    answered: int = 0  # URLs read into something to record (even an empty catalogue page)
    requests: int = 0
    nbytes: int = 0
    complete: bool = False
    http_cache: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """URLs that could not be read (errors, bot challenges, pages that are no product)."""
        return len(self.errors) + len(self.blocked) + len(self.not_product)

    @property
    def read_anything(self) -> bool:
        """Whether any URL was read (a product, a catalogue page, a calendar page) or answered 304."""
        return self.answered > 0 or bool(self.not_modified)


@dataclass(frozen=True)
class Failure:
    """Why a check could not read its source: the run's status, its error, the HTTP status."""

    status: str
    error: str
    http_status: int | None = None


@dataclass(frozen=True)
class RunSummary:
    """What one check of one source did (for the CLI's table and the scheduler's log)."""

    source: str
    status: str
    duration_ms: int
    requests: int = 0
    not_modified: int = 0
    listings: int = 0
    observations: int = 0
    events: int = 0
    error: str | None = None
    event_kinds: tuple[str, ...] = ()
