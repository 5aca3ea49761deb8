"""Releases: upcoming and past release dates per colorway, and a countdown to the next drop."""

from __future__ import annotations

import base64
from datetime import datetime, time

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.format import countdown, local, money, plain, safe_url
from db.queries import ReleaseRow
from tracker.calendar import build_ics

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


# The file travels inside the page (a data: link), never as a /media/... URL: Streamlit serves
# those to anyone who has the address, password or not, and keeps them after the browser closes.
ics = base64.b64encode(build_ics(data.engine(ctx.url), ctx.config)).decode("ascii")
st.markdown(
    f'<a download="2002r-releases.ics" href="data:text/calendar;base64,{ics}">'
    "Download the calendar (.ics)</a>",
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
        help=plain(f"{nxt.style_code}, {nxt.release_date} ({nxt.region})"),
    )
else:
    st.caption("No upcoming release date is known.")


def _frame(items: list[ReleaseRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "date": r.release_date,
                "time": local(r.release_at, tz),
                "colorway": r.name,
                "style code": r.style_code,
                "region": r.region,
                "price": money(r.price, r.currency),
                "countdown": countdown(m, now) if (m := _moment(r)) and m > now else "",
                "source": r.source_name or "",
                "link": safe_url(r.url),
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
            "link",
        ],
    )


config = {
    "date": st.column_config.DateColumn("Date"),
    "time": st.column_config.DatetimeColumn("Opens", format="HH:mm"),
    "link": st.column_config.LinkColumn("Link", display_text="open ↗"),
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
