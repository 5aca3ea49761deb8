"""Colorway: the price chart first, its statistics, the sizes StockX-style, the shops now and events."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, render, ui
from dashboard.format import event_kind, money, plain, safe_url, short_when, stock, when, zone_label
from db import queries

ctx = ui.page_context()
tz = ctx.config.tz()
now = data.now()
all_colorways = data.colorways(ctx.url)
if not all_colorways:
    st.title("Colorway")
    ui.no_data("colorways")
    st.stop()

codes = [c.style_code for c in all_colorways]
by_code = {c.style_code: c for c in all_colorways}
wanted = st.query_params.get("style")
# Without a choice in the URL, open on the first watched colorway.
first_watched = next((i for i, c in enumerate(all_colorways) if c.watched), 0)
if st.session_state.get("colorway_choice") not in codes or (
    wanted in codes and wanted != st.session_state.get("colorway_seen")
):
    # The address wins when it changes (a link from the overview); the select box otherwise.
    st.session_state["colorway_choice"] = wanted if wanted in codes else codes[first_watched]
    st.session_state["colorway_seen"] = wanted
params = {v: k for k, v in data.RANGE_PARAMS.items()}
if st.session_state.get("range") not in data.RANGES:
    st.session_state["range"] = params.get(st.query_params.get("range", ""), data.DEFAULT_RANGE)

# The chart comes first on a phone: the colorway choice lives in the sidebar, the range beside the title.
choice = st.sidebar.selectbox(
    "Colorway", codes, format_func=lambda code: f"{by_code[code].name} ({code})", key="colorway_choice"
)
colorway = by_code[choice]
st.html("<style>@media (max-width: 640px){h1{font-size:1.9rem !important}}</style>")
st.title(plain(colorway.name))
controls = st.columns([3, 1], vertical_alignment="center")
range_label = (
    controls[0].segmented_control("Range", list(data.RANGES), key="range", label_visibility="collapsed")
    or data.DEFAULT_RANGE
)
st.query_params["style"] = choice
st.query_params["range"] = data.RANGE_PARAMS[range_label]
st.session_state["colorway_seen"] = choice

stamp = data.stamp(ctx.url)  # one stamp for the chart and its statistics: the same data
history = data.history(
    ctx.url,
    colorway.id,
    data.RANGES[range_label],
    currency=st.session_state.get("currency"),
    preferred=tuple(colorway.list_prices),
    sizes=colorway.sizes,
    size_system=ctx.config.size_system,
    stamped=stamp,
)
currency = history.currency
if len(history.currencies) > 1:
    currency = st.radio("Currency", list(history.currencies), horizontal=True, key="currency") or currency
list_price = queries.list_price(colorway, currency)
target = colorway.target_prices.get(currency)
facts = [colorway.style_code, colorway.line]
if colorway.sizes:
    facts.append("your sizes " + ", ".join(colorway.sizes))
st.caption(plain(" · ".join(facts)) + " · other colorways in the sidebar")

if not history.observed:
    ui.no_data(f"prices for {plain(colorway.name)}")
else:
    shop_names = list(history.shops)
    shown = shop_names
    if len(shop_names) > 1:
        with controls[1].popover(f"Shops: {len(shop_names)}", width="content"):
            shown = (
                st.multiselect(
                    "Shops on the chart",
                    shop_names,
                    default=shop_names,
                    key="chart_shops",
                    help="Every shop is drawn thin; click one in the legend to bring it forward.",
                )
                or shop_names
            )
    chart = data.price_chart(
        ctx.url,
        colorway.id,
        data.RANGES[range_label],
        currency=currency,
        preferred=tuple(colorway.list_prices),
        sizes=colorway.sizes,
        size_system=ctx.config.size_system,
        shown=tuple(shown),
        list_price=list_price,
        target=target,
        timezone=ctx.config.timezone,
        stamped=stamp,
    )
    st.html(chart, unsafe_allow_javascript=True)
    lowest = charts.lowest_title(colorway.sizes)
    st.html(render.stats_html(history.stats, list_price=list_price, target=target, tz=tz, now=now))
    st.caption(
        f"Bold: {lowest.lower()} across shops; thin lines: each shop in any size "
        "(click a "
        "shop in the legend to bring it forward with its sold-out spans). Grey: nothing in stock. Hover for "
        f"every shop's price; times in {ctx.config.timezone} ({zone_label(tz)}). The wheel scrolls the page: "
        "shift + wheel zooms, shift + drag pans, a double click resets."
    )

offers = [o for o in history.offers if not o.gone]
st.subheader("Sizes")
tiles = queries.size_tiles(offers, colorway.sizes, ctx.config.size_system, currency)
system_name = queries.size_system_name(ctx.config.size_system)
if not tiles:
    st.caption("No shop has listed sizes for this colorway yet.")
else:
    st.html(render.size_tiles_html(tiles))
    st.caption(
        f"Sizes in {system_name} (config size_system): each size's lowest in-stock price and the shop asking "
        "it (+N: more shops have it). Your sizes are outlined in green."
    )

st.subheader("Shops now")
if not offers:
    st.caption("No shop lists this colorway yet.")
else:
    rows = queries.shops_now(offers, colorway.sizes, ctx.config.size_system)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "shop": r.offer.source_name,
                    "price": money(r.offer.price, r.offer.currency)
                    + (" ⚠ suspect" if r.offer.suspect else ""),
                    "your sizes": (
                        f"{money(r.my_price, r.offer.currency)} ({', '.join(r.my_sizes)})"
                        if r.my_sizes
                        else ""
                    ),
                    "stock": stock(r.offer.availability),
                    "checked": short_when(r.offer.last_checked_at, tz, now),
                    "title": r.offer.title or "",
                    "link": safe_url(r.offer.url),
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        key="offers_table",
        column_config={
            "link": st.column_config.LinkColumn("Link", display_text="open ↗", width="small"),
            "your sizes": st.column_config.TextColumn(
                "In your sizes", help="Lowest price of your sizes in stock there"
            ),
        },
    )
    with st.expander("Every shop's sizes"):
        grid = queries.size_grid(offers, colorway.sizes, ctx.config.size_system)
        marks = {queries.IN_STOCK: "✓", queries.OUT_OF_STOCK: "✗"}

        def _cell(cells: tuple[queries.GridCell, ...]) -> str:
            shown_cells = []
            for c in cells:
                mark = (
                    marks.get(c.availability, "?")
                    + (f" {c.label}" if c.label else "")
                    + ("~" if c.guessed else "")
                )
                if c.price is not None and c.availability == queries.IN_STOCK:
                    mark += f" {money(c.price, c.currency)}"
                shown_cells.append(mark)
            return " · ".join(shown_cells)

        frame = pd.DataFrame(
            [{shop: _cell(cells) for shop, cells in row.cells.items()} for row in grid],
            index=[row.size if row.placed else f"{row.size} (unplaced)" for row in grid],
        ).fillna("")
        frame.index.name = f"size ({system_name})"
        st.dataframe(frame, width="stretch", key="size_grid")
        st.caption(
            "✓ in stock · ✗ sold out · ? unknown; each shop's own label beside its mark where it writes the "
            "size another way; ~ the shop's size system was guessed from its country. Unplaced sizes match "
            "none of yours: see Health."
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
                    "when": when(e.created_at, tz),
                    "what": event_kind(e.kind),
                    "shop": e.source_name or "",
                    "details": e.message,
                }
                for e in evs
            ]
        ),
        hide_index=True,
        width="stretch",
        key="events_table",
    )
