"""Serve every fault of the fault store once to the tracker and print what it recorded, as a table.

Usage: python bench/faults_report.py [DATABASE_URL]   (default: a temporary SQLite file)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.demo.faults import measure

HEADER = (
    "| fault | what the shop did | status recorded | backoff waits (s) | observations"
    " | held as suspect | events | alerts |"
)


def main(argv: list[str]) -> int:
    """Run every fault once and print a Markdown table; exit 1 if a status is not the expected one."""
    with tempfile.TemporaryDirectory() as tmp:
        url = argv[0] if argv else f"sqlite:///{tmp}/faults.db"
        outcomes = measure(url)
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|")
    for o in outcomes:
        waits = ", ".join(f"{w:g}" for w in o.waits) or "none"
        prices = f" ({', '.join(o.prices)})" if o.prices else ""
        observed = f"{o.observations}{prices if o.observations else ''}"
        held = f"{o.suspect}{prices if o.suspect else ''}"
        print(
            f"| {o.fault.name} | {o.fault.description} | {o.status} | {waits} | {observed} | {held}"
            f" | {len(o.events)} | {o.deliveries} |"
        )
    wrong = [o.fault.name for o in outcomes if o.status != o.fault.status]
    if wrong:
        print(f"\nunexpected status for: {', '.join(wrong)}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
