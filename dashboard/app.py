"""Entry point: page setup, the optional password, and navigation over the pages."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on the path, not the project root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import access, data, live, ui  # noqa: E402
from tracker.errors import ConfigError  # noqa: E402

st.set_page_config(page_title="2002R tracker", page_icon="👟", layout="wide")

ctx: data.Context | None
config_error: str | None = None
try:
    ctx = data.context()
except ConfigError as exc:
    ctx, config_error = None, str(exc)


def sign_in() -> None:
    """The only page shown until the password is entered."""
    st.title("2002R tracker")
    with st.form("sign-in"):
        entered = st.text_input("Password", type="password", key="password_input")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        verdict = ui.check_password(ctx, entered)
        if verdict.ok:
            st.rerun()
        st.error(verdict.message())


def broken_config() -> None:
    """Shown when config.toml does not load: the one-line error names the key."""
    st.title("2002R tracker")
    st.error(f"The configuration could not be loaded:\n\n{config_error}", icon=":material/error:")
    st.caption(f"Fix {data.config_path()} (or set TRACKER_CONFIG to its path) and reload this page.")


# The pages' addresses: a bookmarked page opens the sign-in or error page in its place, not a
# blank one. (The pages live in views/, not pages/: Streamlit would serve a pages/ folder's
# scripts directly to a fresh server's first visitor, before this script chose what to show.)
PAGE_PATHS = ("overview", "colorway", "releases", "watchlist", "shops", "alerts", "inbox", "health")


def gate(view: Callable[[], None], title: str, url_path: str) -> None:
    """Show only this page, whatever page the address asks for."""
    pages = [st.Page(view, title=title, url_path=url_path, default=True)]
    pages += [st.Page(view, title=title, url_path=path) for path in PAGE_PATHS]
    st.navigation(pages, position="hidden").run()


if not ui.authenticated(ctx):
    gate(sign_in, "Sign in", "signin")
elif ctx is None:
    gate(broken_config, "Configuration", "config")
else:
    # New alerts: toasts now, the unread count in the navigation, and a watcher for the next ones.
    unread = live.start(ctx.url)
    with st.sidebar:
        live.watch(unread, access.token_query(ctx.config))
    st.navigation(
        [
            st.Page(
                "views/overview.py", title="Overview", icon=":material/dashboard:", default=True, url_path=""
            ),
            st.Page("views/colorway.py", title="Colorway", icon=":material/show_chart:"),
            st.Page("views/releases.py", title="Releases", icon=":material/event:"),
            st.Page("views/watchlist.py", title="Watchlist", icon=":material/edit_note:"),
            st.Page("views/shops.py", title="Shops", icon=":material/storefront:"),
            st.Page(
                "views/inbox.py",
                title=f"Inbox ({unread})" if unread else "Inbox",
                icon=":material/inbox:",
                url_path="inbox",
            ),
            st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
            st.Page("views/health.py", title="Health", icon=":material/monitor_heart:"),
            # /overview, bookmarked or typed, is the overview too (the default page's own address is /).
            st.Page("views/overview.py", title="Overview", url_path="overview", visibility="hidden"),
        ]
    ).run()
