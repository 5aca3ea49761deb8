"""Fetch politeness in numbers: backoff between retries, a shop's Retry-After, the delay between
request starts to one host, and which URLs share a host."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tracker.fetch.politeness import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    backoff_wait,
    host_key,
    retry_after_seconds,
    start_wait,
)


@pytest.mark.parametrize(
    ("attempt", "base"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]
)
def test_backoff_doubles_from_one_second_up_to_a_minute_with_a_quarter_of_jitter(
    attempt: int, base: float
) -> None:
    assert (BACKOFF_BASE, BACKOFF_MAX) == (1.0, 60.0)
    waits = [backoff_wait(attempt, None) for _ in range(400)]
    assert min(waits) >= base
    assert max(waits) <= base * 1.25
    # The jitter is real: retries of many checks do not all land on the same instant.
    assert max(waits) - min(waits) > base * 0.1


def test_jitter_draws_from_the_upper_quarter_only() -> None:
    random.seed(7)
    assert all(4.0 <= backoff_wait(3, None) <= 5.0 for _ in range(200))


@pytest.mark.parametrize("retry_after", [0.0, 3.0, 120.0])
def test_the_shops_retry_after_wins_over_backoff(retry_after: float) -> None:
    assert backoff_wait(5, retry_after) == retry_after


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Tue, 01 Dec 2026 12:01:30 GMT", 90.0),
        ("Tue, 01 Dec 2026 11:59:00 GMT", 0.0),  # a date in the past: go now, never a negative wait
        ("Tuesday, 01-Dec-26 12:00:10 GMT", 10.0),  # RFC 850, which HTTP still allows
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_retry_after_dates_without_a_zone_are_utc() -> None:
    assert retry_after_seconds("Tue, 01 Dec 2026 12:00:30", NOW) == 30.0


@pytest.mark.parametrize(
    ("last", "delay", "now", "wait"),
    [
        (None, 2.0, 100.0, 0.0),  # the host was never asked
        (100.0, 0.0, 100.0, 0.0),  # no delay asked for
        (100.0, -1.0, 100.0, 0.0),
        (100.0, 2.0, 100.5, 1.5),
        (100.0, 2.0, 102.0, 0.0),  # exactly the delay later
        (100.0, 2.0, 105.0, 0.0),
    ],
)
def test_a_request_starts_the_delay_after_the_previous_one(
    last: float | None, delay: float, now: float, wait: float
) -> None:
    assert start_wait(last, delay, now) == pytest.approx(wait)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://shop.example/products/x", "shop.example"),
        ("https://SHOP.example/a", "shop.example"),
        ("http://127.0.0.2:8080/p", "127.0.0.2:8080"),
        ("https://shop.example:443/p", "shop.example"),
        ("http://shop.example:80/p", "shop.example"),
        ("http://shop.example:443/p", "shop.example:443"),
        ("https://shop.example:8443/p", "shop.example:8443"),
        ("https://user:pw@shop.example/p", "shop.example"),
    ],
)
def test_urls_share_a_host_by_name_and_port(url: str, key: str) -> None:
    assert host_key(url) == key
