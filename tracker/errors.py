"""The project's exceptions: one base, a few leaves the CLI and scheduler know how to report."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error the tracker reports to the user as one line."""


class ConfigError(TrackerError):
    """config.toml is missing, malformed or fails validation; the message names the key."""


class FetchError(TrackerError):
    """A request failed; ``kind`` is the status recorded on the check run."""

    def __init__(self, message: str, *, kind: str = "error", status_code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code


class ExtractError(TrackerError):
    """A body could not be read as a product or a catalogue."""


class TooSlow(ExtractError):
    """A page was still being read when its time limit ran out."""


class StorageError(TrackerError):
    """The database cannot be opened or written (full, read-only, unreachable); one line says why."""
