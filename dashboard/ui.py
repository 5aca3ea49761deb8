"""Small page helpers shared by every page: the password guard and the empty-database message."""

from __future__ import annotations

import streamlit as st

from dashboard import access, data
from dashboard.auth import Verdict, attempts_for
from tracker.config import Dashboard
from tracker.errors import ConfigError

AUTH_KEY = "tracker_authenticated"


def password(ctx: data.Context | None) -> str | None:
    """The dashboard password from the environment variable the config names, if set."""
    return access.password(ctx.config if ctx else None)


def authenticated(ctx: data.Context | None) -> bool:
    """True when no password is set, or it was entered in this session."""
    return password(ctx) is None or bool(st.session_state.get(AUTH_KEY))


def client_address() -> str:
    """The browser's address as the server sees it (behind a proxy: the proxy's).

    Streamlit gives no address for 127.0.0.1 and ::1: those are this machine, counted as one.
    """
    return st.context.ip_address or "localhost"


def check_password(ctx: data.Context | None, entered: str) -> Verdict:
    """One sign-in attempt, counted per client address (see dashboard.auth); success is remembered."""
    expected = password(ctx)
    if expected is None:
        return Verdict(True)
    settings = ctx.config.dashboard if ctx else Dashboard()
    attempts = attempts_for(settings.lockout_after, settings.lockout)
    verdict = attempts.attempt(client_address(), entered, expected)
    if verdict.ok:
        st.session_state[AUTH_KEY] = True
    return verdict


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
