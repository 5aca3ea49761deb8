"""New alerts as they arrive: a toast on whichever page is open, the browser's own notification when
the user allowed it, and the unread count in the navigation.

A fragment in the sidebar looks at the inbox every WATCH_EVERY seconds (one indexed query). When a
message arrived, or the unread count changed (read in another tab), it reruns the whole app once:
the navigation is drawn again with the new count and the new messages are shown as toasts.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.format import plain, safe_url
from db import queries

WATCH_EVERY = 2.0
MAX_TOASTS = 3
_SEEN = "inbox_seen_id"
_SHOWN_UNREAD = "inbox_shown_unread"
_PENDING = "inbox_pending"
_ICONS = {
    "price_drop": ":material/trending_down:",
    "price_rise": ":material/trending_up:",
    "price_below_target": ":material/sell:",
    "restock": ":material/inventory_2:",
    "size_restock": ":material/inventory_2:",
    "sold_out": ":material/remove_shopping_cart:",
    "new_listing": ":material/fiber_new:",
    "new_colorway": ":material/fiber_new:",
    "release_announced": ":material/event:",
    "release_changed": ":material/event:",
    "going_live": ":material/rocket_launch:",
}


def inert(text: str) -> str:
    """Scraped text for Markdown (toasts, the inbox): every mark escaped, and angle brackets as
    entities, so no tag is ever spelled out in what reaches the page."""
    return plain(text).replace("\\<", "&lt;").replace("\\>", "&gt;")


def start(url: str) -> int:
    """Called once per run of the app: shows what the watcher found, returns the unread count."""
    counts = queries.inbox_counts(data.engine(url))
    # A page opened now starts from here: what was already in the inbox is not announced again.
    st.session_state.setdefault(_SEEN, counts.newest_id)
    st.session_state[_SHOWN_UNREAD] = counts.unread
    pending: list[queries.InboxRow] = st.session_state.pop(_PENDING, [])
    for row in pending[-MAX_TOASTS:]:
        st.toast(inert(row.headline), icon=_ICONS.get(row.kind, ":material/notifications:"), duration="long")
    if len(pending) > MAX_TOASTS:
        st.toast(f"and {len(pending) - MAX_TOASTS} more in the Inbox", icon=":material/inbox:")
    if pending:
        with st.sidebar:
            browser_notifications(pending)
    return counts.unread


@st.fragment(run_every=WATCH_EVERY)
def watch(url: str) -> None:
    """Look at the inbox; rerun the app when something arrived or the unread count changed."""
    engine = data.engine(url)
    counts = queries.inbox_counts(engine)
    seen = int(st.session_state.get(_SEEN, counts.newest_id))
    changed = counts.unread != st.session_state.get(_SHOWN_UNREAD)
    if counts.newest_id > seen:
        st.session_state[_PENDING] = [
            *st.session_state.get(_PENDING, []),
            *queries.inbox_after(engine, seen, limit=50),
        ]
        st.session_state[_SEEN] = counts.newest_id
        changed = True
    if changed:
        st.rerun(scope="app")


def _script_json(value: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in scraped text must not end or alter the block.
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def browser_notifications(rows: list[queries.InboxRow]) -> None:
    """The browser's own notification for each new message, when the user has allowed them."""
    notes = [
        {
            "title": row.title or "2002R tracker",
            "body": row.headline,
            "tag": row.key,
            "icon": safe_url(row.image),
        }
        for row in rows[-MAX_TOASTS:]
    ]
    st.html(
        "<script>(function(notes){"
        "if(!('Notification' in window)||Notification.permission!=='granted')return;"
        "notes.forEach(function(n){var o={body:n.body,tag:n.tag};if(n.icon)o.icon=n.icon;"
        "try{new Notification(n.title,o);}catch(e){}});"
        f"}})({_script_json(notes)});</script>",
        unsafe_allow_javascript=True,
    )


def allow_button() -> None:
    """A button that asks the browser for permission to show notifications (it must be a click)."""
    st.html(
        '<button id="allow-notifications" style="padding:.4rem .8rem;border-radius:.5rem;'
        'border:1px solid #bbb;background:transparent;cursor:pointer">Allow browser notifications</button>'
        '<span id="notification-state" style="margin-left:.8rem"></span>'
        "<script>(function(){var b=document.getElementById('allow-notifications');"
        "var s=document.getElementById('notification-state');"
        "function show(){if(!('Notification' in window)){s.textContent='This browser has no notifications.';"
        "b.disabled=true;return;}"
        "s.textContent={granted:'Allowed: new alerts also appear outside this tab.',"
        "denied:'Blocked in this browser\\'s site settings.',default:''}[Notification.permission]||'';}"
        "b.addEventListener('click',function(){if('Notification' in window)"
        "Notification.requestPermission().then(show);});show();})();</script>",
        unsafe_allow_javascript=True,
    )
