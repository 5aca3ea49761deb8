"""Triage: what a check that read nothing failed of, and what a partly failed check says."""

from __future__ import annotations

from tracker.check.summary import Collected, Failure
from tracker.errors import ExtractError, FetchError


def failure_from(exc: FetchError | ExtractError) -> Failure:
    """The failure a collector raised for the whole source (a catalogue page, robots, a pause)."""
    if isinstance(exc, FetchError):
        return Failure(exc.kind, str(exc), exc.status_code)
    return Failure("extract_error", str(exc))


def failure_of(got: Collected) -> Failure | None:
    """The failure of a check that read nothing at all, or None when something was read.

    A bot challenge wins when it is at least as common as other errors (the shop refuses us);
    pages that are no product pages come next; else the first error, as the shop gave it.
    """
    if got.read_anything or not got.failures:
        return None
    if got.blocked and len(got.blocked) >= len(got.errors):
        url, why = got.blocked[0]
        return Failure("blocked", f"{url}: {why} page (bot protection)")
    if got.not_product and not got.errors:
        return Failure("not_product", f"{got.not_product[0]}: not a product page")
    _url, exc = got.errors[0]
    return Failure(exc.kind, str(exc), exc.status_code)


def partial_error(got: Collected, suspects: list[str]) -> str | None:
    """The one line a check that wrote something keeps as its error: a failed URL, else a suspect price."""
    if got.errors:
        return str(got.errors[0][1])
    if got.blocked:
        return f"{got.blocked[0][0]}: {got.blocked[0][1]} page (bot protection)"
    if got.not_product:
        return f"{got.not_product[0]}: not a product page"
    if suspects:
        return f"held as suspect until the next check confirms it: {suspects[0]}"
    return None
