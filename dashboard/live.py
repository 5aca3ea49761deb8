"""New alerts as they arrive: a toast on whichever page is open, the browser's own notification when
the user allowed it, and the unread count in the navigation.

A small script in the page asks the dashboard's /api/v1/inbox every WATCH_EVERY seconds for the
unread count and the newest message's id (one indexed query, a 304 when nothing changed). When a
message arrived, or the unread count changed (read in another tab), it presses a hidden button: the
whole app runs again once, start() finds the new messages and shows them as toasts, and the
navigation is drawn again with the new count. Between alerts an open tab costs nothing but that
request: no script run on the server, nothing drawn in the browser.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.format import plain, safe_url, script_json
from db import queries

WATCH_EVERY = 1.0
MAX_TOASTS = 3
MAX_NEW = 50  # messages read at once after the last one shown (the toasts show the last MAX_TOASTS)
POKE = "inbox_poke"  # the hidden button's key: Streamlit marks its element with class st-key-<key>
_SEEN = "inbox_seen_id"
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
    """Called once per run of the app: shows what arrived since the last run, returns the unread count."""
    engine = data.engine(url)
    counts = queries.inbox_counts(engine)
    # A page opened now starts from here: what was already in the inbox is not announced again.
    seen = int(st.session_state.setdefault(_SEEN, counts.newest_id))
    st.session_state[_SEEN] = counts.newest_id
    if counts.newest_id <= seen:
        return counts.unread
    new = queries.inbox_after(engine, seen, limit=MAX_NEW)
    for row in new[-MAX_TOASTS:]:
        st.toast(inert(row.headline), icon=_ICONS.get(row.kind, ":material/notifications:"), duration="long")
    if len(new) > MAX_TOASTS:
        st.toast(f"and {len(new) - MAX_TOASTS} more in the Inbox", icon=":material/inbox:")
    if new:
        with st.sidebar:
            browser_notifications(new)
    return counts.unread


def watch(unread: int, token_query: str) -> None:
    """The watcher: the hidden button it presses and the script that asks the inbox (with the read-only
    token's query when a password is set: the page is already signed in, the API knows no session)."""
    st.button("Show new alerts", key=POKE)
    watching = {
        "path": "api/v1/inbox" + token_query,
        "seen": int(st.session_state.get(_SEEN, 0)),
        "unread": unread,
        "every": round(WATCH_EVERY * 1000),
    }
    st.html(
        f"<style>.st-key-{POKE}{{display:none}}</style>"
        "<script>(function(cfg){"
        "var w=window.__inboxWatch||(window.__inboxWatch={});w.cfg=cfg;if(w.timer)return;"
        "function look(){if(w.busy)return;w.busy=true;"
        "fetch(new URL(w.cfg.path,window.location.href),{cache:'no-cache',credentials:'same-origin'})"
        ".then(function(r){return r.ok?r.json():null;})"
        ".then(function(c){if(!c||(c.newest_id<=w.cfg.seen&&c.unread===w.cfg.unread))return;"
        f"var b=document.querySelector('.st-key-{POKE} button');if(!b)return;"
        "w.cfg=Object.assign({},w.cfg,{seen:c.newest_id,unread:c.unread});b.click();})"
        ".catch(function(){}).then(function(){w.busy=false;});}"
        "w.timer=setInterval(look,cfg.every);"
        f"}})({script_json(watching)});</script>",
        unsafe_allow_javascript=True,
    )


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
        f"}})({script_json(notes)});</script>",
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
