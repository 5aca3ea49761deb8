"""Alerts: recent events and the delivery of each to its channels."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.format import count, delivery_status, event_kind, when

ctx = ui.page_context()
tz = ctx.config.tz()
st.title("Alerts")
channel_names = {c.name for c in ctx.config.alerts.channels}
counts = data.delivery_counts(ctx.url)
cols = st.columns(5)
for col, status in zip(cols, ["pending", "sending", "sent", "failed", "superseded"], strict=True):
    col.metric(delivery_status(status), count(counts.get(status, 0)))

st.subheader("Deliveries")
rows = data.deliveries(ctx.url)
if not rows:
    st.caption("No alert has been sent yet. Add channels and rules under [alerts] in config.toml.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "created": when(d.created_at, tz),
                    # Only configured names are shown: a stored value that is not one may be a URL.
                    "channel": d.channel if d.channel in channel_names else "(unnamed channel)",
                    "status": delivery_status(d.status),
                    "attempts": d.attempts,
                    "sent": when(d.sent_at, tz),
                    "event": event_kind(d.event_kind),
                    "message": d.event_message,
                    "last error": d.last_error or "",
                }
                for d in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        key="deliveries_table",
        column_config={"attempts": st.column_config.NumberColumn("Attempts", format="localized")},
    )

st.subheader("Events")
evs = data.events(ctx.url)
if not evs:
    ui.no_data("events")
else:
    kinds = sorted({e.kind for e in evs})
    chosen = st.multiselect("Kinds", kinds, default=kinds, format_func=event_kind, key="event_kinds")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": when(e.created_at, tz),
                    "kind": event_kind(e.kind),
                    "colorway": e.colorway_name or "",
                    "shop": e.source_name or "",
                    "what": e.message,
                }
                for e in evs
                if e.kind in chosen
            ],
            columns=["when", "kind", "colorway", "shop", "what"],
        ),
        hide_index=True,
        width="stretch",
        key="events_table",
    )
