"""Overview: per watched colorway, where to buy it in your sizes and for how much; discoveries below."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, render, ui, watchlist
from dashboard.format import count, money, plain, safe_url, short_when, stock, zone_label

ctx = ui.page_context()
tz = ctx.config.tz()
now = data.now()
st.title("2002R overview")
watched = [c for c in ctx.config.colorways if c.watched]
if not watched:
    st.info(
        "You watch no colorway yet. Add one on the Watchlist page (or set `watched = true` on a "
        "colorway in config.toml).",
        icon=":material/visibility:",
    )
rows = data.overview(ctx.url, tuple(c.style_code for c in watched)) if watched else []
if watched and not data.has_prices(ctx.url):
    ui.no_data("prices")

if rows:
    images = {}
    for c in watched:
        row = next((r for r in rows if r.colorway.style_code == c.style_code), None)
        shop_image = row.best.offer.image if row and row.best else None
        # The catalogue's image, else the picture of the shop offering the best price.
        src = safe_url(c.image or (row.colorway.image if row else None) or shop_image)
        if src:
            images[c.style_code] = src
    checked = data.last_checked(ctx.url)
    st.caption(
        f"Prices as of {short_when(checked, tz, now) or 'no check yet'} · times in {ctx.config.timezone} "
        f"({zone_label(tz)}) · best answers first: at or below your target, then below list price. "
        "Open a colorway for its price history and sizes."
    )
    st.html(render.overview_html(rows, image=images, tz=tz, now=now))
missing = [c for c in watched if c.style_code not in {r.colorway.style_code for r in rows}]
if missing:
    st.caption(
        "Not in the database yet (the tracker adds them within seconds of a config change): "
        + plain(", ".join(f"{c.name} ({c.style_code})" for c in missing))
    )

st.subheader("Discovered 2002R listings")
found = data.discovered(ctx.url)
notice = st.empty()  # the outcome of a Watch button, shown where the button is
if not found:
    st.caption("No 2002R listing outside your catalogue has turned up. New colorways appear here first.")
else:
    known = {c.style_code for c in ctx.config.colorways if c.watched}
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "title": o.title or "",
                    "style code": o.style_code or "",
                    "shop": o.source_name,
                    "price": money(o.price, o.currency),
                    "stock": stock(o.availability),
                    "link": safe_url(o.url),
                }
                for o in found
            ]
        ),
        hide_index=True,
        width="stretch",
        key="discovered_table",
        column_config={"link": st.column_config.LinkColumn("Link", display_text="open ↗")},
    )
    st.caption(
        f"{count(len(found))} listing(s). Watching one adds it to config.toml; the tracker connects its "
        "listings as soon as it reloads the file (within seconds)."
    )
    for offer in found[:20]:
        code = offer.style_code
        if not code or code in known:
            continue
        if st.button(f"Watch {code}", key=f"watch-{offer.listing_id}", help=f"Add {code} to config.toml"):
            text = ctx.path.read_text(encoding="utf-8")
            outcome = watchlist.save(ctx.path, text, watchlist.watch(text, code, offer.title or code))
            if outcome.errors:
                st.session_state["overview_notice"] = (
                    "error",
                    "; ".join(f"{k or 'config'}: {v}" for k, v in outcome.errors.items()),
                )
            else:
                known.add(code)
                st.session_state["overview_notice"] = (
                    "success",
                    f"{code} added to your watchlist: its row appears above once the tracker has reloaded "
                    "config.toml (within seconds).",
                )
                data.forget_overview()
            st.rerun()
if shown := st.session_state.pop("overview_notice", None):
    kind, message = shown
    (notice.error if kind == "error" else notice.success)(plain(message))
    st.toast(plain(message))
