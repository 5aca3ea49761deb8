"""Small page helpers shared by every page: the password guard and the empty-database message."""

from __future__ import annotations

import hmac
import os

import streamlit as st

from dashboard import data
from tracker.errors import ConfigError

AUTH_KEY = "tracker_authenticated"


def password(ctx: data.Context | None) -> str | None:
    """The dashboard password from the environment variable the config names, if set."""
    name = ctx.config.dashboard.password_env if ctx else "TRACKER_DASHBOARD_PASSWORD"
    return os.environ.get(name) or None


def authenticated(ctx: data.Context | None) -> bool:
    """True when no password is set, or it was entered in this session."""
    return password(ctx) is None or bool(st.session_state.get(AUTH_KEY))


def check_password(ctx: data.Context | None, entered: str) -> bool:
    """Compare in constant time; remember success for this session."""
    expected = password(ctx)
    ok = expected is not None and hmac.compare_digest(entered.encode(), expected.encode())
    if ok:
        st.session_state[AUTH_KEY] = True
    return ok


def page_context() -> data.Context:
    """The context for a page; stops the page when the config is broken or no one has signed in."""
    try:
        ctx = data.context()
    except ConfigError:  # the app shows the error; a page only refuses to render
        st.stop()
    if not authenticated(ctx):
        st.stop()
    return ctx


def no_data(what: str) -> None:
    """The message shown where the database has nothing yet."""
    st.info(
        f"No {what} yet. The tracker fills this in as it checks your shops: start it with "
        "`tracker run` (or `tracker demo` to see it work against the local demo store).",
        icon=":material/hourglass_empty:",
    )
