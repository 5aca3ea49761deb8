"""HTML for what Streamlit's own elements cannot lay out: the overview's rows (cards on a phone),
the size tiles, the compact statistics and the sparklines. Every text is escaped here."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from dashboard.format import ago, day, money, percent, safe_url, short_when, signed_money, when
from db import queries
from db.queries import OverviewRow, SizeTile, Stats, Step

LIST_COLOR = "#E4572E"
GOOD = "#1B7F3B"
BAD = "#C62828"
WARN = "#A15C00"
MUTED = "rgba(128,128,128,0.9)"

# Rows on a wide screen, cards where the page is narrow (a phone): one markup, a container query.
OVERVIEW_CSS = """
<style>
.ov{container-type:inline-size;font-size:14px;line-height:1.35}
.ov-row{display:grid;grid-template-columns:52px minmax(140px,1.3fr) minmax(150px,1.15fr)
 minmax(120px,1fr) minmax(120px,1fr) 172px minmax(112px,.9fr);
 grid-template-areas:"img name mine any vs spark stock";column-gap:12px;align-items:center;
 padding:8px 6px;border-bottom:1px solid rgba(128,128,128,.22);position:relative}
.ov-row:hover{background:rgba(128,128,128,.07)}
.ov-head{font-size:12px;color:rgba(128,128,128,1);font-weight:600;padding-top:2px;padding-bottom:4px}
.ov-head:hover{background:none}
.c-img{grid-area:img}.c-name{grid-area:name;min-width:0}.c-mine{grid-area:mine}.c-any{grid-area:any}
.c-vs{grid-area:vs}.c-spark{grid-area:spark}.c-stock{grid-area:stock}
.c-img img,.c-img .ph{width:52px;height:52px;object-fit:contain;border-radius:8px;
 background:rgba(128,128,128,.1);display:block}
.ov a.open{font-weight:600;color:inherit;text-decoration:none}
.ov a.open::after{content:"";position:absolute;inset:0;z-index:1}
.ov a.open:hover{text-decoration:underline}
.ov a.buy{position:relative;z-index:2;white-space:nowrap}
.sub{font-size:12px;color:rgba(128,128,128,1)}
.price{font-size:17px;font-weight:700;white-space:nowrap}
.lbl{display:none;font-size:11px;color:rgba(128,128,128,1);text-transform:uppercase;letter-spacing:.03em}
.good{color:#1B7F3B}.bad{color:#C62828}.warn{color:#A15C00}.muted{color:rgba(128,128,128,1)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 white-space:nowrap}
.badge.good{background:rgba(27,127,59,.12)}.badge.bad{background:rgba(198,40,40,.12)}
.badge.warn{background:rgba(161,92,0,.12)}.badge.muted{background:rgba(128,128,128,.14)}
.c-spark img{display:block;width:168px;height:44px}
@container (max-width:820px){
 .ov-head{display:none}
 .ov-row{grid-template-columns:56px 1fr auto;grid-template-areas:"img name name" "mine mine vs"
  "any any any" "stock stock spark";row-gap:6px;border:1px solid rgba(128,128,128,.3);
  border-radius:12px;margin:0 0 10px 0;padding:10px}
 .lbl{display:block}
 .c-any .lbl,.c-any div.sub{display:inline;margin-right:6px}
 .c-vs{text-align:right}
 .c-spark{justify-self:end}.c-spark img{width:132px;height:40px}
}
</style>
"""

TILES_CSS = """
<style>
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(104px,1fr));gap:8px}
.tile{border:1px solid rgba(128,128,128,.3);border-radius:10px;padding:8px 10px;line-height:1.3;min-width:0}
.tile.mine{border:2px solid #1B7F3B;background:rgba(27,127,59,.07)}
.tile.out{opacity:.6}
.tile .sz{font-weight:700;font-size:15px}
.tile .pr{font-weight:700;font-size:15px;white-space:nowrap}
.tile .at{font-size:12px;color:rgba(128,128,128,1);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tile .you{font-size:11px;color:#1B7F3B;font-weight:700;text-transform:uppercase}
.stats{display:flex;flex-wrap:wrap;gap:6px 22px;font-size:14px;line-height:1.3;margin:2px 0 4px}
.stats div{min-width:0}.stats b{font-size:17px;white-space:nowrap}
.stats .sub{font-size:12px;color:rgba(128,128,128,1)}
</style>
"""


def _line(x1: float, x2: float, y1: float, y2: float, colour: str, *, width: float, extra: str = "") -> str:
    return (
        f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{colour}" '
        f'stroke-width="{width}" {extra}/>'
    )


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def sparkline(
    steps: Sequence[Step], list_price: Decimal | None, until: datetime, *, width: int = 168, height: int = 44
) -> str:
    """A data: URI of an SVG step line over its span with the list price as a dashed baseline: below
    list in green, above in red, sold-out spans as grey bars at the bottom ("" without steps)."""
    if not steps:
        return ""
    t0, t1 = steps[0].start.timestamp(), max(until.timestamp(), steps[0].start.timestamp() + 1)
    values = [float(s.price) for s in steps if s.price is not None]
    if list_price is not None:
        values.append(float(list_price))
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * 0.15, 0.5)
    low, high = low - pad, high + pad
    plot_w, top, bottom = width - 2, 3, height - 5

    def x(moment: datetime) -> float:
        return 1 + (moment.timestamp() - t0) / (t1 - t0) * plot_w

    def y(value: Decimal) -> float:
        return top + (high - float(value)) / (high - low) * (bottom - top)

    parts = []
    if list_price is not None:
        ly = y(list_price)
        parts.append(_line(0, width, ly, ly, LIST_COLOR, width=1, extra='stroke-dasharray="3 2"'))
    previous: tuple[float, float] | None = None
    for step in steps:
        x0, x1 = x(step.start), x(step.end)
        if step.price is None:
            if step.listed:
                width_ = max(x1 - x0, 1)
                parts.append(
                    f'<rect x="{x0:.1f}" y="{height - 3}" width="{width_:.1f}" height="3" fill="#9E9E9E"/>'
                )
            previous = None
            continue
        yy = y(step.price)
        colour = (
            "#555"
            if list_price is None or step.price == list_price
            else GOOD
            if step.price < list_price
            else BAD
        )
        if previous is not None and abs(previous[0] - x0) < 0.01:
            parts.append(_line(x0, x0, previous[1], yy, "#888", width=1))
        parts.append(_line(x0, max(x1, x0 + 1), yy, yy, colour, width=2.2, extra='stroke-linecap="round"'))
        previous = (x1, yy)
    last = steps[-1]
    if last.price is not None:
        parts.append(f'<circle cx="{x(last.end) - 1.5:.1f}" cy="{y(last.price):.1f}" r="2.6" fill="#222"/>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )
    return _svg_uri(svg)


# Streamlit reads markdown (links, emphasis, $math$) even around HTML: a shop's text must not become
# a link or formatting, so these characters are written as entities too.
_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "[]()*_`$~\\"})


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True).translate(_MARKDOWN)


def colorway_href(style_code: str) -> str:
    """The colorway page's address for a style code (relative, so it works under any base path)."""
    return f"colorway?style={quote(style_code)}"


def _buy_link(cheapest: queries.Cheapest | None) -> str:
    url = safe_url(cheapest.offer.url) if cheapest else None
    return f' <a class="buy" href="{_e(url)}" target="_blank">buy ↗</a>' if url else ""


def _stock_cell(row: OverviewRow) -> str:
    if row.stock == queries.NOT_LISTED:
        release = f'<div class="sub">release {_e(day(row.next_release))}</div>' if row.next_release else ""
        return f'<span class="badge muted">Not listed yet</span>{release}'
    if row.stock == queries.SOLD_OUT_EVERYWHERE:
        return '<span class="badge bad">Sold out everywhere</span>'
    if row.stock == queries.STOCK_UNKNOWN:
        return '<span class="badge warn">Stock unknown</span>'
    shops = f"{row.shops} shop{'s' if row.shops != 1 else ''}"
    sizes = ""
    if row.colorway.sizes:
        have = len(row.my_sizes_available)
        cls = "good" if have else "warn"
        sizes = f'<div class="sub {cls}">your sizes {have}/{len(row.colorway.sizes)}</div>'
    return f'<span class="badge good">In stock</span> <span class="sub">{shops}</span>{sizes}'


def _mine_cell(row: OverviewRow) -> str:
    label = '<div class="lbl">In your sizes</div>'
    if not row.colorway.sizes:
        return f'{label}<span class="muted">—</span><div class="sub">no sizes set (Watchlist)</div>'
    mine = row.mine
    if mine is None:
        if row.stock == queries.SOLD_OUT_EVERYWHERE:
            return f'{label}<span class="bad"><b>Sold out everywhere</b></span>'
        if row.stock == queries.NOT_LISTED:
            return f'{label}<span class="muted">Not listed yet</span>'
        sizes = _e(", ".join(row.colorway.sizes))
        return f'{label}<span class="warn"><b>Not in your sizes</b></span><div class="sub">{sizes}</div>'
    cls = "good" if row.below_target or row.below_list else ""
    sizes = f" ({_e(', '.join(mine.sizes))})" if mine.sizes else ""
    return (
        f'{label}<span class="price {cls}">{_e(money(mine.price, mine.offer.currency))}</span>'
        f'<div class="sub">at {_e(mine.source_name)}{sizes}{_buy_link(mine)}</div>'
    )


def _any_cell(row: OverviewRow) -> str:
    label = '<div class="lbl">Any size</div>'
    best = row.best
    if best is None:
        text = {queries.SOLD_OUT_EVERYWHERE: "Sold out everywhere", queries.NOT_LISTED: "Not listed yet"}.get(
            row.stock, "—"
        )
        cls = "bad" if row.stock == queries.SOLD_OUT_EVERYWHERE else "muted"
        return f'{label}<span class="{cls}">{_e(text)}</span>'
    return (
        f"{label}<b>{_e(money(best.price, best.offer.currency))}</b>"
        f'<div class="sub">at {_e(best.source_name)}{_buy_link(best)}</div>'
    )


def _vs_cell(row: OverviewRow) -> str:
    currency = row.currency
    parts = []
    if row.difference is not None:
        cls = "good" if row.difference < 0 else "bad" if row.difference > 0 else ""
        diff = f"{signed_money(row.difference, currency)} ({percent(row.difference_percent)})"
        parts.append(f'<b class="{cls}">{_e(diff)}</b>')
    facts = [f"list {money(row.list_price, currency)}"] if row.list_price is not None else []
    if row.target_price is not None:
        facts.append(f"target {money(row.target_price, currency)}" + (" ✓" if row.below_target else ""))
    if facts:
        cls = " good" if row.below_target else ""
        parts.append(f'<div class="sub{cls}">{_e(" · ".join(facts))}</div>')
    return "".join(parts) or '<span class="muted">—</span>'


def _name_cell(row: OverviewRow, tz: ZoneInfo, now: datetime) -> str:
    c = row.colorway
    changed = ""
    if row.last_changed:
        exact = _e(when(row.last_changed, tz))
        changed = f' · <span title="{exact}">changed {_e(ago(row.last_changed, now))}</span>'
    suspect = "".join(
        f'<div class="sub warn">⚠ {_e(money(o.price, o.currency))} at {_e(o.source_name)} held as suspect'
        "</div>"
        for o in row.suspect
    )
    link = f'<a class="open" href="{_e(colorway_href(c.style_code))}" target="_self">{_e(c.name)}</a>'
    return f'{link}<div class="sub">{_e(c.style_code)}{changed}</div>{suspect}'


def _spark_cell(row: OverviewRow, tz: ZoneInfo, now: datetime) -> str:
    uri = sparkline(row.sparkline, row.list_price, now)
    if not uri:
        return '<span class="sub">no prices in 30 days</span>'
    prices = [s.price for s in row.sparkline if s.price is not None]
    alt = f"Lowest price since {short_when(row.sparkline[0].start, tz, now)}: " + (
        f"from {money(prices[0], row.currency)} to {money(prices[-1], row.currency)}, "
        f"low {money(min(prices), row.currency)}"
        if prices
        else "none in stock"
    )
    return f'<img src="{uri}" alt="{_e(alt)}" title="{_e(alt)}"/>'


def overview_html(rows: Sequence[OverviewRow], *, image: dict[str, str], tz: ZoneInfo, now: datetime) -> str:
    """The overview: one row per colorway (a card on a narrow screen), each opening its colorway page."""
    head = (
        '<div class="ov-row ov-head"><div class="c-img"></div><div class="c-name">Colorway</div>'
        '<div class="c-mine">Cheapest in your sizes</div><div class="c-any">Cheapest, any size</div>'
        '<div class="c-vs">vs list price</div><div class="c-spark">Lowest price, 30 days</div>'
        '<div class="c-stock">Stock</div></div>'
    )
    body = []
    for row in rows:
        code = row.colorway.style_code
        src = image.get(code)
        img = f'<img src="{_e(src)}" alt="" loading="lazy"/>' if src else '<div class="ph"></div>'
        body.append(
            f'<div class="ov-row" data-style="{_e(code)}">'
            f'<div class="c-img">{img}</div>'
            f'<div class="c-name">{_name_cell(row, tz, now)}</div>'
            f'<div class="c-mine">{_mine_cell(row)}</div>'
            f'<div class="c-any">{_any_cell(row)}</div>'
            f'<div class="c-vs">{_vs_cell(row)}</div>'
            f'<div class="c-spark">{_spark_cell(row, tz, now)}</div>'
            f'<div class="c-stock">{_stock_cell(row)}</div>'
            "</div>"
        )
    return OVERVIEW_CSS + f'<div class="ov">{head}{"".join(body)}</div>'


def size_tiles_html(tiles: Sequence[SizeTile]) -> str:
    """One tile per size: the size, its lowest in-stock price and where; the collector's sizes outlined."""
    out = []
    for tile in tiles:
        classes = "tile" + (" mine" if tile.mine else "") + ("" if tile.price is not None else " out")
        you = '<div class="you">your size</div>' if tile.mine else ""
        if tile.price is not None:
            more = f" +{tile.shops_in_stock - 1}" if tile.shops_in_stock > 1 else ""
            shop = _e(tile.source_name)
            price = (
                f'<div class="pr">{_e(money(tile.price, tile.currency))}</div>'
                f'<div class="at" title="{shop}">{shop}{_e(more)}</div>'
            )
        else:
            price = '<div class="pr muted">Sold out</div><div class="at">&nbsp;</div>'
        size = _e(tile.size)
        out.append(
            f'<div class="{classes}" data-size="{size}">{you}<div class="sz">{size}</div>{price}</div>'
        )
    return TILES_CSS + f'<div class="tiles">{"".join(out)}</div>'


def stats_html(
    stats: Stats, *, list_price: Decimal | None, target: Decimal | None, tz: ZoneInfo, now: datetime
) -> str:
    """The range's statistics in one wrapping line: now, lowest and highest (where, when), average, list
    price and target."""
    cur = stats.currency

    def item(name: str, value: Decimal | None, sub: str = "", cls: str = "") -> str:
        shown = money(value, cur) or "—"
        return (
            f'<div data-stat="{_e(name)}"><span class="sub">{_e(name)}</span><br>'
            f'<b class="{cls}">{_e(shown)}</b> <span class="sub">{_e(sub)}</span></div>'
        )

    def where(shop: str | None, at: datetime | None) -> str:
        return " · ".join(x for x in (shop or "", short_when(at, tz, now)) if x)

    good = (
        "good" if stats.current is not None and list_price is not None and stats.current < list_price else ""
    )
    items = [
        item("Now", stats.current, stats.current_source or "", good),
        item("Lowest", stats.lowest, where(stats.lowest_source, stats.lowest_at)),
        item("Highest", stats.highest, where(stats.highest_source, stats.highest_at)),
        item("Average", stats.average, "time-weighted"),
        item("List price", list_price),
    ]
    if target is not None:
        items.append(item("Your target", target))
    return TILES_CSS + f'<div class="stats">{"".join(items)}</div>'
