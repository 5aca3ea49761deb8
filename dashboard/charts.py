"""The colorway's price history as Keepa draws it, drawn by a small script in the page (no chart library).

One bold line is the lowest in-stock price across shops (in the collector's sizes when they gave
any); every shop is a thin, muted line that a click on its legend entry brings forward (with its
sold-out spans). List price and target are labelled rules drawn over the lines. One crosshair
tooltip lists every shown shop's price at that moment, with currency and local time. The wheel
scrolls the page; zooming is shift + wheel, panning shift + drag, a double click resets.

This module writes what the chart shows as plain data (`chart_data`): every time as minutes after
the range's start on the collector's wall clock, every tooltip text already formatted (money in
the dashboard's locale, "sold out", "not listed"). `pricechart.js` only lays it out: axes, ticks
for the span in view, lines, the crosshair, the legend. A Vega-Lite chart did this before; loading
and running Vega was about half of a warm colorway page.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.format import money, script_json, short_date
from db.queries import Stats, Step

LIST_PRICE_COLOR = "#E4572E"  # one colour for the list price everywhere (the browser test looks for it)
TARGET_COLOR = "#0B7A75"
LOWEST_COLOR = "#14142B"
SOLD_OUT_COLOR = "#9E9E9E"
LOWEST_WIDTH = 3.5
SHOP_WIDTH = 1.3
SHOP_OPACITY = 0.4
PICKED_WIDTH = 2.6  # a shop brought forward from the legend: bolder than the others, under the lowest
PLOT_HEIGHT = 340
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


def lowest_title(sizes: Sequence[str]) -> str:
    """What the bold line is: 'Lowest in your sizes (9.5, 10)' or 'Lowest in any size'."""
    return f"Lowest in your sizes ({', '.join(sizes)})" if sizes else "Lowest in any size"


class _Clock:
    """UTC moments as whole minutes after the range's start on the collector's wall clock (what the
    axis reads), and the zone's abbreviation from each change of it on (what the tooltip writes)."""

    def __init__(self, tz: ZoneInfo, since: datetime, until: datetime) -> None:
        self.tz = tz
        # UTC quarter hour -> offset in minutes: a zone changes on a quarter hour of UTC (Adelaide at
        # :30, Chatham at :45), so one lookup serves every moment of a quarter.
        self._offsets: dict[int, int] = {}
        self.origin = self._wall(since)
        self.zones: list[list[Any]] = []
        day, last = since, None
        while True:
            moment = min(day, until)
            name = moment.astimezone(tz).tzname() or "UTC"
            if name != last and last is not None:
                # Find the minute it changed.
                low, high = moment - timedelta(days=1), moment
                while high - low > timedelta(minutes=1):
                    mid = low + (high - low) / 2
                    if (mid.astimezone(tz).tzname() or "UTC") == name:
                        high = mid
                    else:
                        low = mid
                self.zones.append([self.minutes(high), name])
            elif last is None:
                self.zones.append([0, name])
            last = name
            if moment >= until:
                break
            day += timedelta(days=1)

    def _wall(self, moment: datetime) -> int:
        """Minutes since 1970 on the wall clock in tz (the local time read as if it were UTC)."""
        seconds = int(moment.timestamp())
        quarter = seconds // 900
        offset = self._offsets.get(quarter)
        if offset is None:
            delta = moment.astimezone(self.tz).utcoffset()
            offset = self._offsets[quarter] = int(delta.total_seconds()) // 60 if delta else 0
        return seconds // 60 + offset

    def minutes(self, moment: datetime) -> int:
        return self._wall(moment) - self.origin


def _describe(step: Step | None, currency: str, *, with_shop: bool) -> str:
    """A line's tooltip text for one step: its price (with the shop for the lowest line) or why none."""
    if step is None or not step.listed:
        return "not listed"
    if step.price is not None:
        return (
            f"{money(step.price, currency)} at {step.source_name}"
            if with_shop
            else money(step.price, currency)
        )
    return "sold out" if step.sold_out else "not in stock" if with_shop else "no price"


class _Texts:
    """Tooltip texts, each written once: a year of 25 shops has thousands of steps, a few dozen texts."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        return self.index.setdefault(text, len(self.index))

    def table(self) -> list[str]:
        return list(self.index)


def _steps(steps: Sequence[Step], clock: _Clock, texts: _Texts, currency: str, *, lowest: bool) -> list[Any]:
    """[start, end, price or None, text, sold out] per step, times in clock minutes."""
    return [
        [
            clock.minutes(s.start),
            clock.minutes(s.end),
            None if s.price is None else float(s.price),
            texts(_describe(s, currency, with_shop=lowest)),
            1 if s.sold_out else 0,
        ]
        for s in steps
    ]


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


def chart_data(chart: PriceChart, *, height: int = PLOT_HEIGHT) -> dict[str, Any]:
    """Everything the chart draws, as JSON-ready data for pricechart.js: lines, spans, rules, markers,
    the legend and the tooltip's texts. Times are clock minutes after the range's start."""
    clock = _Clock(chart.tz, chart.since, chart.until)
    texts = _Texts()
    colours = dict(zip(chart.all_shops, palette(len(chart.all_shops)), strict=True))
    shown = [s for s in chart.all_shops if s in chart.shops]
    domain, px_per_unit = _y_domain(chart, height)
    title = lowest_title(chart.mine)
    # Tooltip titles: a shop named like another title gets a distinct one.
    names = {shop: shop if shop not in ("When", title) else f"{shop} (shop)" for shop in shown}
    return {
        "origin": clock.origin,
        "span": max(1, clock.minutes(chart.until)),  # a history that began this minute still has a width
        "zones": clock.zones,
        "currency": chart.currency,
        "y": domain,
        "height": height,
        "lowest": {
            "name": title,
            "color": LOWEST_COLOR,
            "width": LOWEST_WIDTH,
            "steps": _steps(chart.lowest, clock, texts, chart.currency, lowest=True),
        },
        "shops": [
            {
                "name": names[shop],
                "color": colours[shop],
                "steps": _steps(chart.shops[shop], clock, texts, chart.currency, lowest=False),
            }
            for shop in shown
        ],
        "texts": texts.table(),
        "shop": {"width": SHOP_WIDTH, "opacity": SHOP_OPACITY, "picked": PICKED_WIDTH},
        # Grey where nothing was in stock anywhere (in the collector's sizes).
        "nowhere": [
            [clock.minutes(s.start), clock.minutes(s.end)]
            for s in chart.lowest
            if s.price is None and s.listed
        ],
        "sold_out_color": SOLD_OUT_COLOR,
        "rules": _rules(chart, px_per_unit),
        "markers": _markers(chart, clock, px_per_unit),
        "legend": "Shops (click one to bring it forward)",
        "label": f"Price history in {chart.currency}: {title.lower()} and {len(shown)} shops",
    }


def _markers(chart: PriceChart, clock: _Clock, px_per_unit: float) -> list[dict[str, Any]]:
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
                "at": clock.minutes(at),
                "price": float(price),
                "label": label,
                "dy": dy,
                "align": "right" if right else "left",
                "shape": "up" if name == "Lowest" else "down",
            }
        )
    return marks


def _rules(chart: PriceChart, px_per_unit: float) -> list[dict[str, Any]]:
    """List price and target: dashed rules over every line, labelled at the right edge on a white halo;
    a target close under the list price gets its label below its rule."""
    close = (
        chart.list_price is not None
        and chart.target is not None
        and abs(float(chart.list_price - chart.target)) * px_per_unit < 16
    )
    rules = []
    if chart.list_price is not None:
        rules.append(
            {
                "price": float(chart.list_price),
                "label": f"List {money(chart.list_price, chart.currency)}",
                "color": LIST_PRICE_COLOR,
                "dash": [7, 4],
                "dy": -8,
            }
        )
    if chart.target is not None:
        below = close and chart.list_price is not None and chart.target <= chart.list_price
        rules.append(
            {
                "price": float(chart.target),
                "label": f"Your target {money(chart.target, chart.currency)}",
                "color": TARGET_COLOR,
                "dash": [2, 3],
                "dy": 12 if below else -8,
            }
        )
    return rules


# The script is served by the dashboard's server (dashboard/routes.py), not written into each page: the
# page's HTML goes through a sanitiser that drops any script whose text looks like markup, and a browser
# keeps a file it has once fetched. The address carries the file's hash, so a new version is fetched.
SCRIPT_ROUTE = "/assets/pricechart.js"


@cache
def script() -> tuple[bytes, str]:
    """pricechart.js and a short hash of it (its version)."""
    body = Path(__file__).with_name("pricechart.js").read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


def chart_html(data: Mapping[str, Any]) -> str:
    """The chart for st.html: a box of the chart's height (so the page does not jump when it is drawn)
    and a script that draws it there, loading pricechart.js first when the page has not yet."""
    box = int(data["height"]) + 48
    source = f"{SCRIPT_ROUTE.lstrip('/')}?v={script()[1]}"  # relative: the server may sit under a path
    return (
        f'<div class="pc-chart" role="figure" style="min-height:{box}px"></div>'
        "<script>(function(box,data,src){var w=window;"
        "if(w.__priceChart){w.__priceChart.draw(box,data);return;}"
        "(w.__priceChartQueue=w.__priceChartQueue||[]).push([box,data]);"
        "if(w.__priceChartLoading)return;w.__priceChartLoading=true;"
        "var s=document.createElement('script');s.src=new URL(src,w.location.href).href;"
        "s.onerror=function(){w.__priceChartLoading=false;};document.head.appendChild(s);"
        f"}})(document.currentScript.previousElementSibling,{script_json(data)},{script_json(source)});"
        "</script>"
    )
