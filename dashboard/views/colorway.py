"""Colorway: price history per shop, statistics over a range, size grid and events."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from dashboard.format import local, money, plain, safe_url, when
from db import queries

ctx = ui.page_context()
tz = ctx.config.tz()
all_colorways = data.colorways(ctx.url)
if not all_colorways:
    st.title("Colorway")
    ui.no_data("colorways")
    st.stop()

codes = [c.style_code for c in all_colorways]
wanted = st.query_params.get("style")
# Without a choice in the URL, open on the first watched colorway.
first_watched = next((i for i, c in enumerate(all_colorways) if c.watched), 0)
start = codes.index(wanted) if wanted in codes else first_watched
by_code = {c.style_code: c for c in all_colorways}
choice = st.selectbox(
    "Colorway",
    codes,
    index=start,
    format_func=lambda code: f"{by_code[code].name} ({code})",
    key="colorway_choice",
)
st.query_params["style"] = choice
colorway = by_code[choice]
st.title(plain(colorway.name))
st.caption(plain(f"{colorway.style_code} · {colorway.line}"))

range_label = st.segmented_control("Range", list(data.RANGES), default="30 d", key="range") or "30 d"
history = data.history(ctx.url, colorway.id, data.RANGES[range_label])
currency_list = (
    queries.currencies(history.points, colorway.list_prices) or list(colorway.list_prices) or ["USD"]
)
currency = currency_list[0]
if len(currency_list) > 1:
    currency = st.radio("Currency", currency_list, horizontal=True, key="currency") or currency
list_price = queries.list_price(colorway, currency)

if not history.points:
    ui.no_data(f"prices for {plain(colorway.name)}")
else:
    stats = queries.range_stats(history.segments, currency, history.until)
    cols = st.columns(5)
    cols[0].metric("Now (lowest)", money(stats.current, currency) or "—")
    cols[1].metric(
        "Lowest",
        money(stats.lowest, currency) or "—",
        help=plain(f"{stats.lowest_source} on {when(stats.lowest_at, tz)}") if stats.lowest_source else None,
    )
    cols[2].metric("Highest", money(stats.highest, currency) or "—")
    cols[3].metric("Average", money(stats.average, currency) or "—", help="Time-weighted over the range")
    cols[4].metric("List price", money(list_price, currency) or "—")
    st.altair_chart(
        charts.price_history(history.segments, currency=currency, list_price=list_price, tz=tz),
        width="stretch",
        key="price_chart",
    )
    st.caption(
        "Prices hold until they change. Grey bands: sold out at that shop. Triangles: prices held as "
        "suspect (not counted). Dashed line: list price."
    )

st.subheader("Shops now")
offers = [o for o in history.offers if not o.gone]
if not offers:
    st.caption("No shop lists this colorway yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "shop": o.source_name,
                    "title": o.title or "",
                    "price": money(o.price, o.currency) + (" ⚠ suspect" if o.suspect else ""),
                    "stock": o.availability,
                    "checked": local(o.last_checked_at, tz),
                    "link": safe_url(o.url),
                }
                for o in offers
            ]
        ),
        hide_index=True,
        width="stretch",
        key="offers_table",
        column_config={
            "link": st.column_config.LinkColumn("Link", display_text="open ↗"),
            "checked": st.column_config.DatetimeColumn("Last checked", format="YYYY-MM-DD HH:mm"),
        },
    )

st.subheader("Sizes")
system = ctx.config.size_system
grid_rows = queries.size_grid(offers, colorway.sizes, system)
if not grid_rows:
    st.caption("No shop has listed sizes for this colorway yet.")
else:
    marks = {queries.IN_STOCK: "✓", queries.OUT_OF_STOCK: "✗"}

    def _cell(cells: tuple[queries.GridCell, ...]) -> str:
        shown = []
        for c in cells:
            mark = (
                marks.get(c.availability, "?")
                + (f" {c.label}" if c.label else "")
                + ("~" if c.guessed else "")
            )
            if c.price is not None and c.availability == queries.IN_STOCK:
                mark += f" {money(c.price, c.currency)}"
            shown.append(mark)
        return " · ".join(shown)

    frame = pd.DataFrame(
        [{shop: _cell(cells) for shop, cells in row.cells.items()} for row in grid_rows],
        index=[row.size if row.placed else f"{row.size} (unplaced)" for row in grid_rows],
    ).fillna("")
    frame.index.name = f"size ({queries.size_system_name(system)})"
    mine = {row.size for row in grid_rows if row.mine}
    st.dataframe(
        frame.style.apply(
            lambda r: ["background-color: #FFF4D6" if r.name in mine else "" for _ in r], axis=1
        ),
        width="stretch",
        key="size_grid",
    )
    st.caption(
        f"Rows are sizes in your system ({queries.size_system_name(system)}, config size_system), with"
        " each shop's own label beside its mark where it writes it another way. ✓ in stock · ✗ sold"
        " out · ? unknown; ~ the shop's size system was guessed from its country; your sizes are"
        " highlighted; prices shown where sizes differ. Unplaced sizes match none of yours: see Health."
    )

st.subheader("Events")
evs = data.events(ctx.url, colorway.id)
if not evs:
    st.caption("Nothing has happened to this colorway yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": local(e.created_at, tz),
                    "kind": e.kind,
                    "shop": e.source_name or "",
                    "what": e.message,
                }
                for e in evs
            ]
        ),
        hide_index=True,
        width="stretch",
        key="events_table",
        column_config={"when": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm")},
    )
