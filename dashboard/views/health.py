"""Health: per source, the last check and how the last 24 hours went."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.format import plain, run_status, when

ctx = ui.page_context()
tz = ctx.config.tz()
st.title("Source health")
rows = data.health(ctx.url)
if not rows:
    ui.no_data("checks")
    st.stop()

broken = [h.name for h in rows if h.broken]
if broken:
    st.error("Broken: " + plain(", ".join(broken)) + ". Their checks keep failing; see the last error below.")
else:
    st.success("Every source is working.", icon=":material/check_circle:")

stuck = data.interrupted(ctx.url)
if stuck:
    st.warning(
        "Checks left unfinished (the tracker stopped in the middle of them): "
        + plain(", ".join(f"{name} ({n})" for name, n in sorted(stuck.items())))
        + ". Nothing half-done was written; the next check starts afresh."
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


frame = pd.DataFrame(
    [
        {
            "source": h.name,
            "kind": h.kind,
            "enabled": h.enabled,
            "broken": h.broken,
            "last check": when(h.last_checked_at, tz),
            "status": run_status(h.last_status),
            "checks (24 h)": h.runs,
            "error rate %": _pct(h.error_rate),
            "blocked": h.blocked,
            "not modified %": _pct(h.not_modified_rate),
            "mean ms": None if h.mean_duration_ms is None else round(h.mean_duration_ms),
            "last error": h.last_error or "",
        }
        for h in rows
    ]
)
st.dataframe(
    frame,
    hide_index=True,
    width="stretch",
    key="health_table",
    # What tells a working shop from a failing one first; a phone scrolls to the rest.
    column_order=[
        "source",
        "status",
        "error rate %",
        "last check",
        "checks (24 h)",
        "blocked",
        "not modified %",
        "last error",
        "mean ms",
        "broken",
        "enabled",
        "kind",
    ],
    column_config={
        "last check": st.column_config.TextColumn("Last check"),
        "checks (24 h)": st.column_config.NumberColumn("Checks (24 h)", format="localized"),
        "error rate %": st.column_config.NumberColumn("Error rate", format="%.1f%%"),
        "not modified %": st.column_config.NumberColumn("Not modified", format="%.1f%%"),
        "blocked": st.column_config.NumberColumn("Blocked / challenge", help="Checks answered by a bot wall"),
        "mean ms": st.column_config.NumberColumn("Mean duration", format="%d ms"),
    },
)
st.caption(
    "Rates over the last 24 hours. Errors are checks that failed (blocked counts as one, and never marks "
    "a product sold out); a 304 Not Modified is a healthy answer and counts under Not modified."
)

sizes = data.size_health(ctx.url, ctx.config.size_system)
if sizes:
    st.subheader("Sizes")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "source": s.source_name,
                    "unplaced": ", ".join(s.unplaced),
                    "guessed": (f"{s.guessed_count} as {', '.join(s.guessed)}" if s.guessed_count else ""),
                }
                for s in sizes
            ]
        ),
        hide_index=True,
        width="stretch",
        key="size_health",
        column_config={
            "unplaced": st.column_config.TextColumn(
                "Sizes not placed", help="Never matched to your sizes until the source says its system"
            ),
            "guessed": st.column_config.TextColumn(
                "Sizes placed by a guess", help="System guessed from the shop's country or the number"
            ),
        },
    )
    st.caption(
        "A size the tracker cannot place in a size system (US men's, US women's, UK, EU, cm) is kept as "
        "the shop wrote it and never counts as yours. Set the source's size_system in config.toml "
        '(e.g. size_system = "uk") to place its bare numbers, or size_chart for a shop with its own chart.'
    )

cluster = data.cluster(ctx.url)
if cluster is not None:
    st.subheader("Workers")
    lag = (
        f"scheduling lag p50 {cluster.lag_p50_s:.1f} s, p95 {cluster.lag_p95_s:.1f} s"
        if cluster.lag_p50_s is not None and cluster.lag_p95_s is not None
        else "no checks in the last minutes"
    )
    clock = plain(cluster.leader) if cluster.leader_alive else "none leading"
    st.caption(
        f"Clock: {clock}. {lag} ({cluster.lag_checks} checks, last {cluster.lag_window_s / 60:.0f} min);"
        f" {cluster.behind} sources behind schedule."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "worker": w.name,
                    "alive": w.alive,
                    "queues": ", ".join(w.queues),
                    "jobs done": w.jobs_done,
                    "failed": w.jobs_failed,
                    "last seen": when(w.last_seen, tz),
                }
                for w in cluster.workers
            ],
            columns=["worker", "alive", "queues", "jobs done", "failed", "last seen"],
        ),
        hide_index=True,
        width="stretch",
        key="workers_table",
        column_config={"last seen": st.column_config.TextColumn("Last seen")},
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "queue": q.queue,
                    "waiting": q.waiting,
                    "running": q.running,
                    "retry later": q.later,
                    "given up": q.failed,
                }
                for q in cluster.queues
            ],
            columns=["queue", "waiting", "running", "retry later", "given up"],
        ),
        hide_index=True,
        width="stretch",
        key="queues_table",
    )
