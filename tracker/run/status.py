"""`tracker status`: the leading clock, the workers, queue depth and scheduling lag, as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from db.queries import ClusterHealth
    from tracker.config import Config


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _when(value: datetime | None, config: Config) -> str:
    return "-" if value is None else value.astimezone(config.tz()).strftime("%Y-%m-%d %H:%M:%S %Z")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def lines(health: ClusterHealth, config: Config) -> list[str]:
    """The status as lines of text, in the config's time zone."""
    out: list[str] = []
    if health.leader is None:
        out.append("clock: none has run yet (start `tracker scheduler` or `tracker run`)")
    else:
        state = "leading" if health.leader_alive else "SILENT (no clock is deferring checks)"
        out.append(
            f"clock: {health.leader} {state}, since {_when(health.leader_since, config)},"
            f" last pass {_ago(health.seconds_since_pass)}, config version {health.config_version}"
        )
    out.append(f"sources scheduled: {health.scheduled}; behind schedule by over a minute: {health.behind}")
    out.append("workers:")
    if not health.workers:
        out.append("  none (start `tracker worker`)")
    width = max([len(w.name) for w in health.workers] + [4])
    for w in health.workers:
        state = "stopped" if w.stopped else ("alive" if w.alive else "SILENT")
        offset = "" if w.clock_offset_ms is None else f", clock {w.clock_offset_ms:+.0f} ms"
        out.append(
            f"  {w.name:<{width}}  {state:<7}  queues {','.join(w.queues):<12}  {w.jobs_done:>8} done"
            f"  {w.jobs_failed:>4} failed  last seen {_ago(w.seconds_since_seen)}{offset}"
        )
    out.append("queues:")
    if not health.queues:
        out.append("  empty")
    for q in health.queues:
        oldest = "" if q.oldest_wait_s is None else f", oldest waiting {_secs(q.oldest_wait_s)}"
        out.append(
            f"  {q.queue}: {q.waiting} waiting, {q.running} running, {q.later} to retry later,"
            f" {q.failed} given up{oldest}"
        )
    out.append(
        f"scheduling lag (due to started, last {health.lag_window_s / 60:.0f} min,"
        f" {health.lag_checks} checks): p50 {_secs(health.lag_p50_s)}, p95 {_secs(health.lag_p95_s)}"
    )
    return out


def print_status(health: ClusterHealth | None, config: Config, *, as_json: bool = False) -> int:
    """Print the status; on SQLite say there is one process and no queue."""
    if health is None:
        message = (
            "one process on SQLite (`tracker run`): no workers, no queue; see the dashboard's Health page"
        )
        print(json.dumps({"mode": "single", "message": message}) if as_json else message)
        return 0
    if as_json:
        print(json.dumps({"mode": "workers", **asdict(health)}, default=str, indent=2))
    else:
        print("\n".join(lines(health, config)))
    return 0
