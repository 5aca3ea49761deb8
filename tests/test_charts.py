"""The chart's and the sparkline's rules that hold without a browser: colours, the markdown. (The
chart's ticks are drawn by its script: tests/browser_support.check_chart reads them in Chromium.)"""

from __future__ import annotations

import base64
import colorsys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dashboard import render
from dashboard.charts import LIST_PRICE_COLOR, TARGET_COLOR, _Clock, palette
from db.queries import Step

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _hue(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)[0] * 360


@pytest.mark.parametrize("n", [1, 2, 10, 11, 20, 21, 25, 40])
def test_palette_never_repeats_and_keeps_clear_of_the_rules(n: int) -> None:
    colours = palette(n)
    assert len(colours) == n and len(set(colours)) == n
    for rule in (LIST_PRICE_COLOR, TARGET_COLOR):
        for colour in colours:
            distance = abs(_hue(colour) - _hue(rule)) % 360
            assert min(distance, 360 - distance) > 10, (colour, rule)


def test_the_sparkline_shows_the_markdown_against_the_list_price() -> None:
    steps = [
        Step(NOW - timedelta(days=30), NOW - timedelta(days=10), Decimal(150), "A"),
        Step(NOW - timedelta(days=10), NOW - timedelta(days=5), None, None, sold_out=True),
        Step(NOW - timedelta(days=5), NOW, Decimal(120), "B"),
    ]
    uri = render.sparkline(steps, Decimal(150), NOW)
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert f'stroke="{LIST_PRICE_COLOR}"' in svg and "stroke-dasharray" in svg  # the baseline
    assert f'stroke="{render.GOOD}"' in svg  # $120 under list, in green
    assert 'fill="#9E9E9E"' in svg  # the sold-out days
    # The markdown sits lower than the list price (SVG y grows downwards).
    ys = [float(part.split('"')[1]) for part in svg.split("y1=")[1:]]
    assert max(ys) > ys[0]
    assert render.sparkline([], Decimal(150), NOW) == ""


@pytest.mark.parametrize("zone", ["Australia/Adelaide", "Pacific/Chatham", "America/New_York"])
def test_the_charts_clock_is_the_wall_clock_through_every_change_of_zone(zone: str) -> None:
    # Adelaide changes at :30 past a UTC hour, Chatham at a whole hour with a :45 offset: every moment
    # of a year, seven minutes apart, reads as the wall clock there, and the tooltip's zone names
    # change at the minute they do.
    tz = ZoneInfo(zone)
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    clock = _Clock(tz, since, until)
    start = since.astimezone(tz).replace(tzinfo=None)
    moment, names = since, []
    while moment < until:
        wall = int((moment.astimezone(tz).replace(tzinfo=None) - start).total_seconds() // 60)
        assert clock.minutes(moment) == wall, moment
        name = moment.astimezone(tz).tzname()
        if not names or names[-1][1] != name:
            names.append([wall, name])
        moment += timedelta(minutes=7)
    # The sampled changes land within the seven minutes after the true ones.
    assert [z[1] for z in clock.zones] == [n[1] for n in names]
    assert all(0 <= n[0] - z[0] < 7 for z, n in zip(clock.zones[1:], names[1:], strict=True))
