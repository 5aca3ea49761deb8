"""Releases: upcoming and past release dates per colorway, and a countdown to the next drop."""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from dashboard import access, data, ui
from dashboard.format import countdown, day, money, plain, safe_url, when
from db.models import CONFIG_SOURCE
from db.queries import ReleaseChangeRow, ReleaseRow

ctx = ui.page_context()
tz = ctx.config.tz()
st.title("Releases")
rows = data.releases(ctx.url)
if not rows:
    ui.no_data("release dates")
    st.stop()

now = data.now()
today = now.astimezone(tz).date()


def _moment(row: ReleaseRow) -> datetime | None:
    if row.release_at is not None:
        return row.release_at
    # A bare date: the drop is taken to open at midnight in the user's zone.
    return None if row.release_date is None else datetime.combine(row.release_date, time(0), tz)


# The dashboard's own /calendar.ics (behind the password, with the read-only token this signed-in
# page may carry), never a /media/... URL: Streamlit serves those to anyone who has the address,
# password or not. Not the file inside the page either: 60 kB of base64 through the markdown
# renderer on every visit, and the calendar built on every run of the page.
href = "calendar.ics" + access.token_query(ctx.config)
st.markdown(
    f'<a download="2002r-releases.ics" href="{href}">Download the calendar (.ics)</a>',
    unsafe_allow_html=True,
)
st.caption(
    "One event per release, with the list price and the shops that list it. Import it into Google, "
    "Apple or Outlook calendars, or serve the file that `tracker calendar --ics FILE` writes and "
    "subscribe to it."
)

upcoming = [r for r in rows if r.release_date is not None and r.release_date >= today]
past = [r for r in rows if r.release_date is not None and r.release_date < today]
if upcoming:
    nxt = upcoming[0]
    moment = _moment(nxt)
    st.metric(
        f"Next drop: {plain(nxt.name)}",
        countdown(moment, now) if moment else "date to be confirmed",
        help=plain(f"{nxt.style_code}, {day(nxt.release_date)} ({nxt.region})"),
    )
else:
    st.caption("No upcoming release date is known.")


def _source(row: ReleaseRow) -> str:
    return "your config.toml" if row.pinned else row.source_name or ""


def _frame(items: list[ReleaseRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "date": day(r.release_date),
                # A bare date opens at midnight in your zone; a time is shown with its zone.
                "time": r.release_at.astimezone(tz).strftime("%H:%M %Z") if r.release_at else "",
                "colorway": r.name,
                "style code": r.style_code,
                "region": r.region,
                "price": money(r.price, r.currency),
                "countdown": countdown(m, now) if (m := _moment(r)) and m > now else "",
                "source": _source(r),
                "other dates": "; ".join(f"{src}: {day.isoformat()}" for src, day in r.disputed),
                "link": safe_url(r.url) or "",
            }
            for r in items
        ],
        columns=[
            "date",
            "time",
            "colorway",
            "style code",
            "region",
            "price",
            "countdown",
            "source",
            "other dates",
            "link",
        ],
    )


config = {
    "date": st.column_config.TextColumn("Date"),
    "time": st.column_config.TextColumn("Opens"),
    "link": st.column_config.LinkColumn("Link", display_text="open ↗"),
    "other dates": st.column_config.TextColumn(
        "Other dates", help="Dates calendars or shops give that the tracker does not follow: yours wins"
    ),
}
st.subheader("Upcoming")
if upcoming:
    st.dataframe(
        _frame(list(upcoming)),
        hide_index=True,
        width="stretch",
        column_config=config,
        key="upcoming",
    )
else:
    st.caption("Nothing announced.")
st.subheader("Past")
if past:
    st.dataframe(
        _frame(list(reversed(past))),
        hide_index=True,
        width="stretch",
        column_config=config,
        key="past",
    )
else:
    st.caption("No past release recorded.")


def _verdict(change: ReleaseChangeRow) -> str:
    if change.applied:
        return "acted on"
    return "not followed: your config.toml date wins"


history = data.release_history(ctx.url)
st.subheader("History")
st.caption(
    "Every date a release was given. A date you write in config.toml (or here, in the watchlist) "
    "is the one the tracker acts on until you remove it; then the latest date a calendar or shop "
    "gave takes over."
)
if history:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": when(h.changed_at, tz),
                    "colorway": h.name,
                    "region": h.region,
                    "date": day(h.new_date) or "to be confirmed",
                    "was": day(h.old_date) if h.applied and h.old_date != h.new_date else "",
                    "from": "your config.toml" if h.source_name == CONFIG_SOURCE else h.source_name or "",
                    "tracker": _verdict(h),
                }
                for h in history
            ],
            columns=["when", "colorway", "region", "date", "was", "from", "tracker"],
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "when": st.column_config.TextColumn("When"),
            "date": st.column_config.TextColumn("Date given"),
            "was": st.column_config.TextColumn("Was"),
        },
        key="history",
    )
else:
    st.caption("No release date recorded yet.")
