"""Altair charts: a colorway's price history as Keepa draws it.

One bold line is the lowest in-stock price across shops (in the collector's sizes when they gave
any); every shop is a thin, muted line that a click on its legend entry brings forward (with its
sold-out spans). List price and target are labelled rules drawn over the lines. One crosshair
tooltip lists every shown shop's price at that moment, with currency and local time. The wheel
scrolls the page; zooming is shift + wheel, panning shift + drag, a double click resets.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from dashboard.format import money, short_date
from db.queries import Stats, Step

LIST_PRICE_COLOR = "#E4572E"  # one colour for the list price everywhere (the browser test looks for it)
TARGET_COLOR = "#0B7A75"
LOWEST_COLOR = "#14142B"
SOLD_OUT_COLOR = "#9E9E9E"
LOWEST_WIDTH = 3.5
SHOP_WIDTH = 1.3
SHOP_OPACITY = 0.4
# Hues shop lines never take, so no shop is mistaken for a rule: list price (red-orange), target (teal).
_FORBIDDEN_HUES = ((345.0, 360.0), (0.0, 38.0), (165.0, 190.0))
_LIGHTNESS = (0.42, 0.58, 0.32)


def palette(n: int) -> list[str]:
    """n distinct colours for shop lines (no repeat for any n), none near the list-price or target hue.

    Hues step by the golden angle, so neighbours in the list are far apart on the wheel; lightness
    cycles so that hues that end up close are still told apart."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        hue = (210.0 + i * 137.508) % 360.0
        i += 1
        if any(low <= hue < high for low, high in _FORBIDDEN_HUES):
            continue
        lightness = _LIGHTNESS[len(out) % len(_LIGHTNESS)]
        red, green, blue = colorsys.hls_to_rgb(hue / 360.0, lightness, 0.62)
        colour = f"#{round(red * 255):02X}{round(green * 255):02X}{round(blue * 255):02X}"
        if colour not in out:
            out.append(colour)
    return out


@dataclass(frozen=True)
class PriceChart:
    """What the chart draws: the lowest line, the shown shops' lines, the rules and the markers."""

    currency: str
    tz: ZoneInfo
    since: datetime
    until: datetime
    lowest: Sequence[Step]
    shops: Mapping[str, Sequence[Step]]  # the shown shops
    all_shops: Sequence[str]  # every shop of the colorway, so a shop keeps its colour when others hide
    stats: Stats
    list_price: Decimal | None = None
    target: Decimal | None = None
    mine: tuple[str, ...] = field(default=())  # the collector's sizes the lowest line is in


class _Datasets:
    """The chart's data, kept apart from its spec: the spec names each dataset, and Streamlit sends
    the frames as Arrow."""

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}

    def __call__(self, frame: pd.DataFrame) -> dict[str, str]:
        name = f"prices_{len(self.frames)}"  # Vega names its own data data_0, data_1...: never those
        self.frames[name] = frame
        return {"name": name}


def lowest_title(sizes: Sequence[str]) -> str:
    """What the bold line is: 'Lowest in your sizes (9.5, 10)' or 'Lowest in any size'."""
    return f"Lowest in your sizes ({', '.join(sizes)})" if sizes else "Lowest in any size"


def _local(frame: pd.DataFrame, tz: ZoneInfo, *columns: str) -> pd.DataFrame:
    """The frame with its UTC time columns as naive wall-clock times in tz, converted in one go (a year of
    25 shops is tens of thousands of times; one by one, zone conversion alone costs a second)."""
    for column in columns:
        local = pd.to_datetime(frame[column], utc=True).dt.tz_convert(tz).dt.tz_localize(None)
        # Nanoseconds: the browser reads microsecond Arrow timestamps as if they were milliseconds.
        frame[column] = local.astype("datetime64[ns]")
    return frame


def _line_rows(steps: Sequence[Step], **extra: object) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for step in steps:
        price = None if step.price is None else float(step.price)
        # A point at each end keeps the step flat until the next change; None breaks the line.
        rows.append({"time": step.start, "price": price, **extra})
        rows.append({"time": step.end, "price": price, **extra})
    return rows


def time_axis(since: datetime, until: datetime) -> tuple[str, dict[str, Any]]:
    """(label format, tick count) for a span: ticks one interval apart, in a format that names each
    interval once, so no two ticks read the same ("Nov 24" twice, or "all" without a year)."""
    span = until - since
    hours = span.total_seconds() / 3600
    if span <= timedelta(hours=20):
        return "%H:%M", {"interval": "hour", "step": max(1, round(hours / 8))}
    if span <= timedelta(days=4):
        return "%a %H:%M", {"interval": "hour", "step": 6 * max(1, round(hours / 48))}
    if span <= timedelta(days=21):
        return "%b %-d", {"interval": "day", "step": max(1, round(span.days / 8))}
    if span <= timedelta(days=120):
        return "%b %-d", {"interval": "week", "step": max(1, round(span.days / 56))}
    if span <= timedelta(days=800):
        return "%b %Y", {"interval": "month", "step": max(1, round(span.days / 240))}
    return "%b %Y", {"interval": "month", "step": 3 * max(1, round(span.days / 720))}


# At most this many crosshair stops: about one per two pixels of a desktop chart. A year of 25 shops
# changes thousands of times; stops closer than a pixel cannot be told apart by a pointer, and each one
# is a row the browser decodes and a cell of the crosshair's hit area.
HOVER_STOPS = 600


def _hover_moments(chart: PriceChart) -> list[datetime]:
    """The moments the crosshair stops at: every change of the lowest line, then changes of the shown
    shops' lines, at most one per slice of the range beside them (HOVER_STOPS)."""
    since, until = chart.since, chart.until
    lowest = {s.start for s in chart.lowest if since <= s.start < until} | {since}
    others = sorted(
        {s.start for steps in chart.shops.values() for s in steps if since <= s.start < until} - lowest
    )
    if len(lowest) + len(others) <= HOVER_STOPS:
        return sorted(lowest | set(others))
    span = (until - since).total_seconds() or 1.0
    slices = max(1, HOVER_STOPS - len(lowest))
    taken: dict[int, datetime] = {}
    for moment in others:
        taken.setdefault(int((moment - since).total_seconds() / span * slices), moment)
    return sorted(lowest | set(taken.values()))


def _hover_rows(chart: PriceChart, shown: Sequence[str]) -> pd.DataFrame:
    """(time, tip) per crosshair stop: tip is the tooltip itself, {title: text} for the time, the lowest
    price and every shown shop's. One record per stop (an Arrow struct) keeps the browser from
    evaluating one expression per shop per stop: the tooltip of a row is read only when it is shown."""
    lowest = lowest_title(chart.mine)
    # Titles are the record's keys: a shop named like another title gets a distinct one.
    titles = {shop: shop if shop not in ("When", lowest) else f"{shop} (shop)" for shop in shown}
    lines: list[tuple[str, Sequence[Step]]] = [(lowest, chart.lowest)]
    lines += [(titles[shop], chart.shops[shop]) for shop in shown]
    moments = _hover_moments(chart)
    cursors = [0] * len(lines)
    tips = []
    for moment in moments:
        tip: dict[str, str] = {"When": ""}
        for n, (title, steps) in enumerate(lines):
            i = cursors[n]
            while i + 1 < len(steps) and steps[i + 1].start <= moment:
                i += 1
            cursors[n] = i
            step = steps[i] if steps and steps[i].start <= moment < steps[i].end else None
            tip[title] = _describe(step, chart.currency, with_shop=n == 0)
        tips.append(tip)
    local = pd.to_datetime(pd.Series(moments), utc=True).dt.tz_convert(chart.tz)
    for tip, when in zip(tips, local.dt.strftime("%Y-%m-%d %H:%M %Z"), strict=True):
        tip["When"] = when
    return pd.DataFrame({"time": local.dt.tz_localize(None).astype("datetime64[ns]"), "tip": tips})


def _describe(step: Step | None, currency: str, *, with_shop: bool) -> str:
    if step is None or not step.listed:
        return "not listed"
    if step.price is not None:
        return (
            f"{money(step.price, currency)} at {step.source_name}"
            if with_shop
            else money(step.price, currency)
        )
    return "sold out" if step.sold_out else "not in stock" if with_shop else "no price"


def _y_domain(chart: PriceChart, height: int) -> tuple[list[float], float]:
    values = [
        float(s.price)
        for steps in (chart.lowest, *chart.shops.values())
        for s in steps
        if s.price is not None
    ]
    values += [float(v) for v in (chart.list_price, chart.target) if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * 0.12, high * 0.04, 1.0)
    domain = [max(0.0, low - pad), high + pad * 1.6]  # room above for the highest marker's label
    return domain, height / (domain[1] - domain[0])


def chart_height(chart: PriceChart, plot: int = 340) -> int:
    """The chart's whole height (plot, axis, legend) for Streamlit, with the legend's rows as a phone
    shows them."""
    rows = -(-len(chart.shops) // 3)
    return plot + 60 + 24 * rows


# The spec is written as the Vega-Lite JSON it is, not built through Altair's objects: Altair's copies
# and schema checks were most of a cold colorway page (half a second on a small machine), for a shape
# that never changes. The names of the views the selections live in:
_LINES_VIEW, _CROSSHAIR_VIEW = "shop_lines", "crosshair"


def _layer(
    data: dict[str, str], mark: dict[str, Any], encoding: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {"data": data, "mark": mark, "encoding": encoding, **more}


def _when(param: str, picked: float, otherwise: float) -> dict[str, Any]:
    """An encoding value that depends on a selection (empty: not picked)."""
    return {"condition": {"param": param, "value": picked, "empty": False}, "value": otherwise}


def _kind_is(kind: str) -> list[dict[str, str]]:
    return [{"filter": f"(datum.kind === '{kind}')"}]


def price_history(chart: PriceChart, *, height: int = 380) -> dict[str, Any]:
    """The chart as a Vega-Lite spec (for st.vega_lite_chart; its "datasets" are DataFrames): shop lines,
    the bold lowest line, sold-out spans, rules, markers and the crosshair."""
    ds = _Datasets()
    tz = chart.tz
    colours = dict(zip(chart.all_shops, palette(len(chart.all_shops)), strict=True))
    shown = [s for s in chart.all_shops if s in chart.shops]
    fmt, ticks = time_axis(chart.since, chart.until)
    # The lowest line runs from since to until, so the data's extent is the range (no empty future).
    x = {
        "axis": {"format": fmt, "grid": True, "labelAngle": 0, "labelOverlap": "greedy", "tickCount": ticks},
        "field": "time",
        "scale": {"nice": False, "type": "utc"},
        "title": None,
        "type": "temporal",
    }
    domain, px_per_unit = _y_domain(chart, height)
    # The currency above the axis, not beside it: a rotated title eats a phone's plot width.
    axis = {"title": chart.currency, "titleAlign": "right", "titleAnchor": "end", "titleAngle": 0}
    y = {
        "axis": {**axis, "titleX": -4, "titleY": -8},
        "field": "price",
        "scale": {"domain": domain, "nice": False, "zero": False},
        "type": "quantitative",
    }
    legend = {
        # As many columns as the plot's width holds: a few rows on a desktop, three columns on a phone.
        "columns": {"expr": "max(2, floor(width / 105))"},
        "labelLimit": 110,
        "orient": "bottom",
        "symbolLimit": 0,
        "title": "Shops (click one to bring it forward)",
    }
    colour = {
        "field": "shop",
        "legend": legend,
        "scale": {"domain": shown, "range": [colours[s] for s in shown]},
        "type": "nominal",
    }
    layers = _sold_out_layers(chart, colour, x, ds)
    shop_rows = [r for shop in shown for r in _line_rows(chart.shops[shop], shop=shop)]
    lines = _local(pd.DataFrame(shop_rows, columns=["time", "price", "shop"]), tz, "time")
    shop_lines = {
        "color": colour,
        "opacity": _when("shop_pick", 1.0, SHOP_OPACITY),
        "strokeWidth": _when("shop_pick", 2.6, SHOP_WIDTH),
        "x": x,
        "y": y,
    }
    mark = {"type": "line", "interpolate": "step-after", "strokeCap": "round"}
    layers.append(_layer(ds(lines), mark, shop_lines, name=_LINES_VIEW))
    lowest_rows = _line_rows(chart.lowest, line=lowest_title(chart.mine))
    lowest = _local(pd.DataFrame(lowest_rows, columns=["time", "price", "line"]), tz, "time")
    mark = {
        "type": "line",
        "color": LOWEST_COLOR,
        "interpolate": "step-after",
        "strokeJoin": "round",
        "strokeWidth": LOWEST_WIDTH,
    }
    layers.append(_layer(ds(lowest), mark, {"x": x, "y": y}))
    layers += _marker_layers(chart, x, y, ds, px_per_unit)
    layers += _rule_layers(chart, y, px_per_unit, ds)
    crosshair = {
        "opacity": _when("hover", 0.55, 0.0),
        "tooltip": {"field": "tip", "type": "nominal"},
        "x": x,
    }
    mark = {"type": "rule", "color": "#444", "strokeWidth": 1}
    layers.append(_layer(ds(_hover_rows(chart, shown)), mark, crosshair, name=_CROSSHAIR_VIEW))
    # Shift + wheel zooms and shift + drag pans the time axis; the wheel alone scrolls the page.
    zoom = {
        "type": "interval",
        "encodings": ["x"],
        "translate": "[pointerdown[event.shiftKey], window:pointerup] > window:pointermove!",
        "zoom": "wheel![event.shiftKey]",
    }
    hover = {"type": "point", "clear": "pointerout", "encodings": ["x"], "nearest": True, "on": "pointerover"}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json",
        "config": {
            "view": {"continuousWidth": 300, "continuousHeight": 300},
            "legend": {"labelFontSize": 12, "symbolOpacity": 1, "symbolStrokeWidth": 3, "titleFontSize": 12},
        },
        "height": height,
        "layer": layers,
        "params": [
            {
                "name": "shop_pick",
                "select": {"type": "point", "fields": ["shop"]},
                "bind": "legend",
                "views": [_LINES_VIEW],
            },
            {"name": "zoom", "select": zoom, "bind": "scales", "views": [_LINES_VIEW]},
            {"name": "hover", "select": hover, "views": [_CROSSHAIR_VIEW]},
        ],
        "usermeta": {"embedOptions": {"renderer": "svg", "actions": False}},
        "datasets": ds.frames,
    }


def _sold_out_layers(
    chart: PriceChart, colour: dict[str, Any], x: dict[str, Any], ds: _Datasets
) -> list[dict[str, Any]]:
    """Grey where nothing was in stock anywhere (in the collector's sizes); a shop's own sold-out spans
    only while its legend entry is picked, so 25 shops never pile into a grey wash."""
    tz = chart.tz
    layers = []
    nowhere = pd.DataFrame(
        [{"time": s.start, "end": s.end} for s in chart.lowest if s.price is None and s.listed],
        columns=["time", "end"],
    )
    nowhere = _local(nowhere, tz, "time", "end")
    if not nowhere.empty:
        mark = {"type": "rect", "color": SOLD_OUT_COLOR, "opacity": 0.22}
        layers.append(_layer(ds(nowhere), mark, {"x": x, "x2": {"field": "end"}}))
    spans = pd.DataFrame(
        [
            {"time": s.start, "end": s.end, "shop": shop}
            for shop, steps in chart.shops.items()
            for s in steps
            if s.sold_out
        ],
        columns=["time", "end", "shop"],
    )
    spans = _local(spans, tz, "time", "end")
    if not spans.empty:
        # The lines' colour encoding, legend and all: a layer without it would hide the merged legend.
        encoding = {"color": colour, "x": x, "x2": {"field": "end"}}
        picked = [{"filter": {"param": "shop_pick", "empty": False}}]
        layers.append(_layer(ds(spans), {"type": "rect", "opacity": 0.16}, encoding, transform=picked))
    return layers


def _marker_layers(
    chart: PriceChart, x: dict[str, Any], y: dict[str, Any], ds: _Datasets, px_per_unit: float
) -> list[dict[str, Any]]:
    """Lowest and highest of the bold line, each with its price, shop and date; a label that would sit
    on a rule's label (the highest on the list price, say) goes to the marker's other side."""
    stats, tz = chart.stats, chart.tz
    marks = []
    span = (chart.until - chart.since).total_seconds() or 1.0
    rules = [float(v) for v in (chart.list_price, chart.target) if v is not None]
    for name, price, at, shop, side in (
        ("Lowest", stats.lowest, stats.lowest_at, stats.lowest_source, 16),
        ("Highest", stats.highest, stats.highest_at, stats.highest_source, -12),
    ):
        if price is None or at is None or (name == "Highest" and price == stats.lowest):
            continue
        dy = side
        if any(abs(float(price) - r) * px_per_unit < 18 for r in rules):
            dy = 16 if side < 0 else -12
        label = f"{name} {money(price, chart.currency)} · {shop} · {short_date(at, tz, chart.until)}"
        right = (at - chart.since).total_seconds() / span > 0.6
        marks.append(
            {
                "time": at,
                "price": float(price),
                "label": label,
                "dy": dy,
                "align": "right" if right else "left",
                "kind": name,
            }
        )
    if not marks:
        return []
    # One dataset for the markers and their labels, each label layer filtered to its marker: every
    # dataset is one more Arrow table for the browser to decode.
    data = ds(_local(pd.DataFrame(marks), tz, "time"))
    shape = {
        "field": "kind",
        "legend": None,
        "scale": {"domain": ["Lowest", "Highest"], "range": ["triangle-up", "triangle-down"]},
        "type": "nominal",
    }
    point = {"type": "point", "color": LOWEST_COLOR, "filled": True, "size": 80, "stroke": "white"}
    out = [_layer(data, {**point, "strokeWidth": 1.5}, {"shape": shape, "x": x, "y": y})]
    text = {"field": "label", "type": "nominal"}
    for mark in marks:
        base = {
            "type": "text",
            "align": mark["align"],
            "dx": -6 if mark["align"] == "right" else 6,
            "dy": mark["dy"],
            "fontSize": 11,
            "fontWeight": "bold",
        }
        encoding = {"text": text, "x": x, "y": y}
        halo = {**base, "stroke": "white", "strokeJoin": "round", "strokeWidth": 4}
        out.append(_layer(data, halo, encoding, transform=_kind_is(str(mark["kind"]))))
        out.append(
            _layer(data, {**base, "color": LOWEST_COLOR}, encoding, transform=_kind_is(str(mark["kind"])))
        )
    return out


def _rule_layers(
    chart: PriceChart, y: dict[str, Any], px_per_unit: float, ds: _Datasets
) -> list[dict[str, Any]]:
    """List price and target: dashed rules over every line, labelled at the right edge on a white halo."""
    rules = []
    if chart.list_price is not None:
        rules.append(
            (
                "list",
                chart.list_price,
                f"List {money(chart.list_price, chart.currency)}",
                LIST_PRICE_COLOR,
                [7, 4],
            )
        )
    if chart.target is not None:
        rules.append(
            (
                "target",
                chart.target,
                f"Your target {money(chart.target, chart.currency)}",
                TARGET_COLOR,
                [2, 3],
            )
        )
    layers: list[dict[str, Any]] = []
    if not rules:
        return layers
    # One dataset for both rules, each layer filtered to its own (see _marker_layers).
    data = ds(
        pd.DataFrame(
            [{"price": float(price), "label": label, "kind": kind} for kind, price, label, *_ in rules]
        )
    )
    text = {"field": "label", "type": "nominal"}
    for kind, _, _, colour, dash in rules:
        rule = {"type": "rule", "color": colour, "size": 2, "strokeDash": dash}
        layers.append(_layer(data, rule, {"y": y}, transform=_kind_is(kind)))
        # Labels sit above their rule; a target close under the list price gets its label below.
        close = (
            chart.list_price is not None
            and chart.target is not None
            and abs(float(chart.list_price - chart.target)) * px_per_unit < 16
        )
        dy = 12 if kind == "target" and close and chart.target <= chart.list_price else -8  # type: ignore[operator]
        base = {"type": "text", "align": "right", "dx": -6, "dy": dy, "fontSize": 12, "fontWeight": "bold"}
        base["x"] = "width"
        halo = {**base, "stroke": "white", "strokeJoin": "round", "strokeWidth": 5}
        layers.append(_layer(data, halo, {"text": text, "y": y}, transform=_kind_is(kind)))
        layers.append(
            _layer(data, {**base, "color": colour}, {"text": text, "y": y}, transform=_kind_is(kind))
        )
    return layers
