"""Overview: one row per watched colorway, and discovered listings that match none."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from dashboard import data, ui, watchlist
from dashboard.format import day, money, percent, plain, safe_url, signed_money

GREEN = "color: #1B8A3A; font-weight: 600"
RED = "color: #C62828; font-weight: 600"

ctx = ui.page_context()
st.title("2002R overview")
watched = [c for c in ctx.config.colorways if c.watched]
if not watched:
    st.info(
        "You watch no colorway yet. Add one on the Watchlist page (or set `watched = true` on a "
        "colorway in config.toml).",
        icon=":material/visibility:",
    )
rows = data.overview(ctx.url, tuple(c.style_code for c in watched)) if watched else []
by_code = {r.colorway.style_code: r for r in rows}
if watched and data.counts(ctx.url)["observations"] == 0:
    ui.no_data("prices")

table: list[dict[str, object]] = []
diffs: list[Decimal | None] = []
for colorway in watched:
    row = by_code.get(colorway.style_code)
    best = row.best if row else None
    currency = row.currency if row else next(iter(colorway.list_price), "USD")
    suspect = (
        ", ".join(f"{money(o.price, o.currency)} at {o.source_name}" for o in row.suspect) if row else ""
    )
    sizes = f"{len(row.my_sizes_available)} / {len(colorway.sizes)}" if row and colorway.sizes else ""
    table.append(
        {
            # The catalogue's image, else the picture of the shop offering the best price.
            "image": safe_url(
                colorway.image or (row.colorway.image if row else None) or (best.image if best else None)
            )
            or "",
            "colorway": colorway.name,
            "style code": colorway.style_code,
            "list": money(row.list_price if row else colorway.list_price.get(currency), currency),
            "best": money(best.price, best.currency) if best else "",
            "where": best.source_name if best else "",
            "link": (safe_url(best.url) or "") if best else "",
            "vs list": (
                f"{signed_money(row.difference, currency)} ({percent(row.difference_percent)})"
                if row and row.difference is not None
                else ""
            ),
            "stock": ("In stock" if row.in_stock else "Sold out") if row and row.best else "—",
            "my sizes": sizes,
            "next release": day(row.next_release if row else colorway.release_date),
            "last 30 days": list(row.sparkline) if row else [],
            "suspect": f"⚠ {suspect}" if suspect else "",
        }
    )
    diffs.append(row.difference if row else None)

if table:
    frame = pd.DataFrame(table)

    def _colour(_: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for i, diff in enumerate(diffs):
            if diff is not None and diff != 0:
                styles.loc[i, "vs list"] = GREEN if diff < 0 else RED
        styles.loc[frame["stock"] == "In stock", "stock"] = GREEN
        styles.loc[frame["stock"] == "Sold out", "stock"] = RED
        return styles

    st.dataframe(
        frame.style.apply(_colour, axis=None),
        hide_index=True,
        width="stretch",
        row_height=64,
        key="overview_table",
        # What people scan for first: the price, its gap to list, the trend, then the details.
        column_order=[
            "image",
            "colorway",
            "best",
            "where",
            "vs list",
            "last 30 days",
            "stock",
            "my sizes",
            "link",
            "list",
            "style code",
            "next release",
            "suspect",
        ],
        column_config={
            "image": st.column_config.ImageColumn("", width="small"),
            "colorway": st.column_config.TextColumn("Colorway"),
            "style code": st.column_config.TextColumn("Style code", width="small"),
            "list": st.column_config.TextColumn("List price", width="small"),
            "best": st.column_config.TextColumn("Best price", width="small"),
            "where": st.column_config.TextColumn("At", width="small"),
            "link": st.column_config.LinkColumn("Link", display_text="open ↗", width="small"),
            "vs list": st.column_config.TextColumn("vs list price"),
            "stock": st.column_config.TextColumn("Stock", width="small"),
            "my sizes": st.column_config.TextColumn(
                "My sizes", help="Your sizes in stock somewhere / sizes you watch"
            ),
            "next release": st.column_config.TextColumn("Next release"),
            "last 30 days": st.column_config.LineChartColumn("Best price, 30 days", width="medium"),
            "suspect": st.column_config.TextColumn(
                "Held as suspect", help="Prices that look wrong are never the best price"
            ),
        },
    )
    st.caption(
        "Best price: the lowest in-stock price in the list-price currency. Green is below list, red above."
    )

st.subheader("Discovered 2002R listings")
found = data.discovered(ctx.url)
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
                    "stock": o.availability,
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
    for offer in found[:20]:
        code = offer.style_code
        if not code or code in known:
            continue
        if st.button(f"Watch {code}", key=f"watch-{offer.listing_id}", help=f"Add {code} to config.toml"):
            text = ctx.path.read_text(encoding="utf-8")
            outcome = watchlist.save(ctx.path, text, watchlist.watch(text, code, offer.title or code))
            if outcome.errors:
                st.error(plain("; ".join(f"{k or 'config'}: {v}" for k, v in outcome.errors.items())))
            else:
                known.add(code)
                st.success(f"{code} added to your watchlist.")
                st.rerun()
