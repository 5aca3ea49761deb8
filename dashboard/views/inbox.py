"""Inbox: the alerts the inbox channel delivered, newest first, to read and mark read; browser
notifications; the addresses of the calendar, the feeds and the API to subscribe to."""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from dashboard import access, data, live, ui
from dashboard.format import safe_url, when
from db import queries
from db.inbox import mark_read, mark_unread

ctx = ui.page_context()
tz = ctx.config.tz()
engine = data.engine(ctx.url)


def _read(ids: list[int] | None) -> None:
    mark_read(engine, data.now(), ids)


def _unread(message_id: int) -> None:
    mark_unread(engine, [message_id])


st.title("Inbox")
counts = queries.inbox_counts(engine)
inbox_channels = [c.name for c in ctx.config.alerts.channels if c.url.strip().lower().startswith("inbox://")]
if not inbox_channels:
    st.info(
        "No inbox channel is configured. Add one to config.toml to see alerts here and as pop-ups: "
        '`[[alerts.channels]]` with `name = "inbox"` and `url = "inbox://"`.',
        icon=":material/inbox:",
    )

top = st.columns([3, 2, 2])
top[0].metric("Unread", counts.unread)
only_unread = top[1].toggle("Unread only", key="inbox_unread_only")
top[2].button(
    "Mark all read", key="inbox_mark_all", on_click=_read, args=(None,), disabled=counts.unread == 0
)

messages = queries.inbox_messages(engine, unread_only=only_unread, limit=100)
if not messages:
    st.caption("Nothing here yet: alerts appear as they are sent." if not only_unread else "All read.")
for message in messages:
    with st.container(border=True, key=f"inbox_message_{message.id}"):
        cols = st.columns([1, 6, 2])
        image = safe_url(message.image)
        if image:
            cols[0].image(image, width=72)
        unread = message.read_at is None
        cols[1].markdown(("**New** · " if unread else "") + live.inert(message.headline))
        cols[1].caption(live.inert(f"{message.title} · {when(message.created_at, tz)}"))
        with cols[1].expander("Details"):
            # A code block shows the alert's text as it was sent, never as Markdown.
            st.code(message.body, language=None, wrap_lines=True)
        link = safe_url(message.link)
        if link:
            host = urlsplit(link).hostname or "the shop"
            cols[2].link_button(f"Open at {host}", link, width="stretch")
        if unread:
            cols[2].button(
                "Mark read",
                key=f"inbox_read_{message.id}",
                on_click=_read,
                args=([message.id],),
                width="stretch",
            )
        else:
            cols[2].button(
                "Mark unread",
                key=f"inbox_unread_{message.id}",
                on_click=_unread,
                args=(message.id,),
                width="stretch",
            )

st.subheader("Browser notifications")
st.caption(
    "New alerts always pop up on the open dashboard page. Allow notifications to see them as the "
    "browser's own too (while a dashboard tab is open)."
)
live.allow_button()

st.subheader("Subscribe")
base = (st.context.url or "http://127.0.0.1:8501/").split("?", 1)[0].rsplit("/", 1)[0]
suffix = access.token_query(ctx.config)
st.caption(
    "The release calendar for Google, Apple or Outlook calendars, feeds for a reader or Home "
    "Assistant, and a read-only JSON API, served by this dashboard."
    + (
        " With a password set, they need it: HTTP Basic (any user name), or the token in these "
        "addresses for apps that cannot send one. Keep them private; changing the password "
        "changes the token."
        if suffix
        else ""
    )
)
for label, path in (
    ("Release calendar (iCalendar)", "/calendar.ics"),
    ("Alerts and events (Atom)", "/feed.atom"),
    ("Alerts and events (JSON Feed)", "/feed.json"),
    ("JSON API", "/api/v1"),
):
    st.text_input(label, value=f"{base}{path}{suffix}", key=f"subscribe_{path}", disabled=False)
