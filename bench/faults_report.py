"""Serve every fault once to the tracker and print what it recorded, as one table.

Usage: python bench/faults_report.py [DATABASE_URL] [--pages-only]   (default: a temporary SQLite file)

First every page fault of the fault store through the real pipeline (with a healthy neighbour
checked every 0.25 s meanwhile: how late its checks started is "other sources' lag"); then the
faults that are not a page (bench/sick.py): bad config, a sick database, a second instance, a slow
alert receiver, Ctrl+C during a send, wrong dashboard passwords, each with real processes. The
disk-full and read-only rows need root and setpriv; elsewhere they say they were not run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sick import Row, run_all
from tracker.demo.faults import SLUG, FaultStore, Outcome, measure

HEADER = "| fault | what was recorded | backoff | observations written | alerts sent | other sources' lag |"


def _page_row(o: Outcome) -> Row:
    prices = f" ({', '.join(o.prices)})" if o.prices else ""
    if o.suspect:
        observed = f"{o.suspect} held as suspect{prices}"
    else:
        observed = f"{o.observations}{prices if o.observations else ''}"
    error = f": {o.error[:110]}" if o.error and o.status not in ("ok",) else ""
    waits = ", ".join(f"{w:g} s" for w in o.waits) or "none"
    return Row(
        f"page: {o.fault.description}",
        f"`{o.status}`{error}",
        backoff=f"retries after {waits}",
        observations=observed,
        alerts=str(o.deliveries),
        lag=f"{o.lag:.2f} s",
    )


def _print(rows: list[Row]) -> None:
    print(HEADER)
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = [r.fault, r.recorded, r.backoff, r.observations, r.alerts, r.lag]
        print("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")


def main(argv: list[str]) -> int:
    """Run every fault once and print a Markdown table; exit 1 if a page status is not the expected one."""
    pages_only = "--pages-only" in argv
    args = [a for a in argv if a != "--pages-only"]
    with tempfile.TemporaryDirectory() as tmp:
        url = args[0] if args else f"sqlite:///{tmp}/faults.db"
        outcomes = measure(url)
    rows = [_page_row(o) for o in outcomes]
    if not pages_only:
        with FaultStore(stall_seconds=5.0) as store:
            page = f"{store.base_url}/healthy/{SLUG}"
            rows.extend(run_all(store, page, lambda: store.hits[f"/healthy/{SLUG}"]))
    _print(rows)
    wrong = [o.fault.name for o in outcomes if o.status != o.fault.status]
    if wrong:
        print(f"\nunexpected status for: {', '.join(wrong)}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
