"""Watchlist: add, edit and remove colorways."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st

from dashboard import ui, watchlist
from dashboard.format import money, plain
from tracker.config import Colorway

NEW = "__new__"

ctx = ui.page_context()
st.title("Watchlist")
st.caption(
    f"Changes are checked with the same rules as at start-up, then written to {ctx.path.name} "
    "(comments and order kept). A running tracker applies them within seconds."
)

notice = st.session_state.pop("watchlist_notice", None)  # (form, message): shown by that form


def _show_notice(form: str) -> None:
    """The outcome of a save, under the button that saved it (and as a toast, wherever the user is)."""
    if notice and notice[0] == form:
        st.success(plain(notice[1]), icon=":material/check:")
        st.toast(plain(notice[1]), icon=":material/check:")


colorways = list(ctx.config.colorways)
if colorways:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "watched": c.watched,
                    "colorway": c.name,
                    "style code": c.style_code,
                    "line": c.line,
                    "list price": ", ".join(money(v, k) for k, v in c.list_price.items()),
                    "target": ", ".join(money(v, k) for k, v in c.target_price.items()),
                    "sizes": ", ".join(c.sizes),
                    "release": c.release_date.isoformat() if c.release_date else "",
                }
                for c in colorways
            ]
        ),
        hide_index=True,
        width="stretch",
        key="watchlist_table",
    )
else:
    st.info("The catalogue is empty: add the first colorway below.", icon=":material/add:")


def _key(code: str, name: str) -> str:
    return f"cw_{name}_{code}"


def _form_from_state(code: str) -> watchlist.ColorwayForm:
    s = st.session_state
    return watchlist.ColorwayForm(
        name=s.get(_key(code, "name"), ""),
        style_code=s.get(_key(code, "style_code"), ""),
        line=s.get(_key(code, "line"), "2002R"),
        list_price=s.get(_key(code, "list_price"), ""),
        target_price=s.get(_key(code, "target_price"), ""),
        currency=s.get(_key(code, "currency"), "USD"),
        sizes=s.get(_key(code, "sizes"), ""),
        watched=bool(s.get(_key(code, "watched"), True)),
        image=s.get(_key(code, "image"), ""),
        release_date=s.get(_key(code, "release_date")),
    )


def _save_colorway(code: str) -> None:
    text = ctx.path.read_text(encoding="utf-8")
    form = _form_from_state(code)
    try:
        new_text = watchlist.upsert_colorway(text, form, None if code == NEW else code)
    except Exception as exc:  # tomlkit's own errors on a hand-broken file: show them, keep the page
        st.session_state["cw_errors"] = {"": str(exc)}
        return
    outcome = watchlist.save(ctx.path, text, new_text)
    st.session_state["cw_errors"] = outcome.errors
    if not outcome.errors:
        if code == NEW:  # an empty form for the next new colorway
            for key in [k for k in st.session_state if str(k).startswith("cw_") and str(k).endswith(NEW)]:
                del st.session_state[key]
        st.session_state["watchlist_notice"] = ("colorway", f"Saved {form.name} ({form.style_code.upper()}).")
        st.session_state["cw_choice"] = form.style_code.strip().upper()


def _remove_colorway(code: str) -> None:
    text = ctx.path.read_text(encoding="utf-8")
    outcome = watchlist.save(ctx.path, text, watchlist.remove_colorway(text, code))
    st.session_state["cw_errors"] = outcome.errors
    if not outcome.errors:
        st.session_state["watchlist_notice"] = ("colorway", f"Removed {code}.")
        st.session_state["cw_choice"] = NEW


st.subheader("Add or edit a colorway")
by_code = {c.style_code: c for c in colorways}
options = [NEW, *by_code]
if st.session_state.get("cw_choice") not in options:
    st.session_state["cw_choice"] = NEW
choice = st.selectbox(
    "Colorway",
    options,
    format_func=lambda code: "New colorway…" if code == NEW else f"{by_code[code].name} ({code})",
    key="cw_choice",
)
current: Colorway | None = by_code.get(choice)
errors: dict[str, str] = st.session_state.get("cw_errors", {})


def _show_error(name: str) -> None:
    if name in errors:
        st.error(plain(errors[name]), icon=":material/error:")


def _amount(prices: dict[str, Decimal], currency: str) -> str:
    value = prices.get(currency)
    return "" if value is None else str(value)


currency = next(iter(current.list_price), "USD") if current else "USD"
with st.form(f"colorway-{choice}", border=True):
    left, right = st.columns(2)
    with left:
        st.text_input("Name", value=current.name if current else "", key=_key(choice, "name"))
        _show_error("name")
        st.text_input(
            "Style code",
            value=current.style_code if current else "",
            key=_key(choice, "style_code"),
            help="The key: e.g. M2002RDA. Names collide, style codes do not.",
        )
        _show_error("style_code")
        st.text_input("Line", value=current.line if current else "2002R", key=_key(choice, "line"))
        _show_error("line")
        st.text_input(
            "Your sizes",
            value=", ".join(current.sizes) if current else "",
            key=_key(choice, "sizes"),
            help="Comma separated, as the shops write them: 9, 9.5, 10",
        )
        _show_error("sizes")
        st.checkbox("Watched", value=current.watched if current else True, key=_key(choice, "watched"))
    with right:
        st.text_input(
            "Currency",
            value=currency,
            key=_key(choice, "currency"),
            help="ISO 4217 code: USD, EUR, GBP, JPY",
        )
        st.text_input(
            "List price",
            value=_amount(current.list_price, currency) if current else "",
            key=_key(choice, "list_price"),
            help="Empty: $130 for the 2002R, $150 for the Protection Pack (in dollars only)",
        )
        _show_error("list_price")
        st.text_input(
            "Target price",
            value=_amount(current.target_price, currency) if current else "",
            key=_key(choice, "target_price"),
            help="You are alerted when a price falls to or below it",
        )
        _show_error("target_price")
        st.date_input(
            "Release date",
            value=current.release_date if current else None,
            min_value=date(2010, 1, 1),
            key=_key(choice, "release_date"),
            help="Your date wins over what calendars and shops say, and drop mode opens around it. "
            "A time (`release_at`) and a region (`region`) are set in config.toml.",
        )
        _show_error("release_date")
        st.text_input("Image URL", value=current.image or "" if current else "", key=_key(choice, "image"))
        _show_error("image")
    _show_error("")
    st.form_submit_button("Save colorway", type="primary", on_click=_save_colorway, args=(choice,))
_show_notice("colorway")

if current is not None:
    with st.expander(f"Remove {current.name}"):
        st.caption("Its price history stays in the database; the tracker stops matching it.")
        st.button("Remove from config.toml", key="cw_remove", on_click=_remove_colorway, args=(choice,))


st.caption("Shops are added, edited and disabled on the Shops page.")
