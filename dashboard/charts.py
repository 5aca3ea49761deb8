"""Altair charts: price history as step lines with the list-price rule and sold-out spans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd

from dashboard.format import money
from db.queries import OUT_OF_STOCK, Segment, buyable

LIST_PRICE_COLOR = "#E4572E"  # one colour for the list price everywhere (the browser test looks for it)
SOLD_OUT_COLOR = "#9E9E9E"
SUSPECT_COLOR = "#F2A900"


def _naive_local(moment: datetime, tz: ZoneInfo) -> pd.Timestamp:
    # Vega-Lite reads naive times as wall-clock times, so they show in the user's zone as is.
    return pd.Timestamp(moment.astimezone(tz).replace(tzinfo=None))


def price_history(
    segments: Sequence[Segment],
    *,
    currency: str,
    list_price: Decimal | None,
    tz: ZoneInfo,
    height: int = 360,
) -> alt.LayerChart:
    """Per-shop step lines of buyable prices, sold-out spans shaded, suspect prices marked."""
    mine = sorted((s for s in segments if s.currency == currency or s.price is None), key=lambda s: s.start)
    line_rows: list[dict[str, object]] = []
    # Shops that never showed a price (blocked, unknown) would only add an empty legend entry.
    for shop in sorted({s.source_name for s in mine if s.price is not None}):
        shop_segs = [s for s in mine if s.source_name == shop]
        for seg in shop_segs:
            price = float(seg.price) if buyable(seg) and seg.price is not None else None
            line_rows.append({"time": _naive_local(seg.start, tz), "price": price, "shop": shop})
            # A point at the end of each segment keeps the step flat until the next change.
            line_rows.append({"time": _naive_local(seg.end, tz), "price": price, "shop": shop})
    lines = pd.DataFrame(line_rows, columns=["time", "price", "shop"])
    spans = pd.DataFrame(
        [
            {
                "start": _naive_local(s.start, tz),
                "end": _naive_local(s.end, tz),
                "shop": s.source_name,
            }
            for s in mine
            if s.availability == OUT_OF_STOCK
        ],
        columns=["start", "end", "shop"],
    )
    suspects = pd.DataFrame(
        [
            {
                "time": _naive_local(s.start, tz),
                "price": float(s.price),
                "shop": s.source_name,
                "label": f"suspect {money(s.price, currency)}",
            }
            for s in mine
            if s.suspect and s.price is not None
        ],
        columns=["time", "price", "shop", "label"],
    )
    times = lines["time"].dropna()
    short = len(times) > 0 and (times.max() - times.min()) < pd.Timedelta(days=2)
    # Days on a long history; hours when everything happened within a day or two (a new install).
    x = alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M" if short else "%b %d", labelAngle=0))
    y_values = [v for v in lines["price"].dropna().tolist()] + suspects["price"].tolist()
    if list_price is not None:
        y_values.append(float(list_price))
    low, high = (min(y_values), max(y_values)) if y_values else (0.0, 1.0)
    pad = max((high - low) * 0.15, high * 0.05, 1.0)
    y_scale = alt.Scale(domain=[max(0.0, low - pad), high + pad], zero=False)
    y = alt.Y("price:Q", title=f"Price ({currency})", scale=y_scale)
    layers: list[alt.Chart] = []
    if not spans.empty:
        layers.append(
            alt.Chart(spans)
            .mark_rect(opacity=0.18, color=SOLD_OUT_COLOR)
            .encode(
                x=alt.X("start:T"),
                x2="end:T",
                tooltip=[
                    alt.Tooltip("shop:N", title="sold out at"),
                    alt.Tooltip("start:T", format="%b %d %H:%M"),
                ],
            )
        )
    layers.append(
        alt.Chart(lines)
        .mark_line(interpolate="step-after", strokeWidth=2)
        .encode(
            x=x,
            y=y,
            color=alt.Color("shop:N", title="Shop", scale=alt.Scale(scheme="tableau10")),
            tooltip=[
                alt.Tooltip("shop:N"),
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("price:Q", format=",.2f"),
            ],
        )
    )
    if not suspects.empty:
        layers.append(
            alt.Chart(suspects)
            .mark_point(shape="triangle-up", filled=True, size=90, color=SUSPECT_COLOR)
            .encode(x=x, y=y, tooltip=["shop:N", "label:N"])
        )
    if list_price is not None:
        rule = pd.DataFrame([{"price": float(list_price), "label": f"List {money(list_price, currency)}"}])
        layers.append(
            alt.Chart(rule).mark_rule(color=LIST_PRICE_COLOR, strokeDash=[6, 4], size=2).encode(y=y)
        )
        layers.append(
            alt.Chart(rule)
            .mark_text(align="left", dx=4, dy=-7, color=LIST_PRICE_COLOR, fontWeight="bold")
            .encode(y=y, x=alt.value(0), text="label:N")
        )
    return alt.layer(*layers).properties(height=height).interactive(bind_y=False)
