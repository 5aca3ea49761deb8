"""Sign-in rules (dashboard/auth.py): waits that double per client address, a lockout, a clean slate."""

from __future__ import annotations

import logging

import pytest

from dashboard.auth import Attempts, Verdict

RIGHT = "open sesame"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_wait_longer_each_time_then_the_right_one_after_the_wait_works() -> None:
    clock = Clock()
    attempts = Attempts(lockout_after=10, lockout=900, clock=clock)
    waits = []
    for _ in range(6):
        verdict = attempts.attempt("203.0.113.9", "guess", RIGHT)
        assert verdict.reason == "wrong"
        waits.append(verdict.retry_after)
        clock.now += verdict.retry_after
    assert waits == [0, 0, 1, 2, 4, 8]
    # Trying again before the wait is over is refused without looking at the password.
    assert attempts.attempt("203.0.113.9", "guess", RIGHT) == Verdict(False, "wrong", 16)
    early = attempts.attempt("203.0.113.9", RIGHT, RIGHT)
    assert (early.ok, early.reason, early.retry_after) == (False, "wait", 16)
    assert early.message() == "Too many wrong passwords: try again in 16 s."
    clock.now += 16
    assert attempts.attempt("203.0.113.9", RIGHT, RIGHT).ok
    # Signed in: the slate is clean.
    assert attempts.attempt("203.0.113.9", "guess", RIGHT).retry_after == 0


def test_lockout_refuses_even_the_right_password_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    attempts = Attempts(lockout_after=5, lockout=600, clock=clock)
    with caplog.at_level(logging.WARNING, logger="dashboard.auth"):
        for _ in range(5):
            verdict = attempts.attempt("198.51.100.7", "guess", RIGHT)
            clock.now += verdict.retry_after if verdict.reason == "wrong" else 0
    assert verdict == Verdict(False, "locked", 600)
    assert verdict.message() == "Too many wrong passwords from your address: locked for 10 min."
    assert caplog.messages == [
        "dashboard sign-in locked for 198.51.100.7 for 10 min after 5 wrong passwords in a row"
    ]
    clock.now += 599
    assert attempts.attempt("198.51.100.7", RIGHT, RIGHT).reason == "locked"
    clock.now += 1
    assert attempts.attempt("198.51.100.7", RIGHT, RIGHT).ok


def test_addresses_are_counted_apart() -> None:
    clock = Clock()
    attempts = Attempts(lockout_after=4, lockout=600, clock=clock)
    for _ in range(3):
        attempts.attempt("198.51.100.7", "guess", RIGHT)
    assert attempts.retry_after("198.51.100.7") == 1
    assert attempts.retry_after("203.0.113.9") == 0
    assert attempts.attempt("203.0.113.9", RIGHT, RIGHT).ok


def test_thirty_tries_in_a_row_cannot_reach_the_right_password() -> None:
    # What a script did before: thirty guesses in a few seconds, then the right password worked.
    clock = Clock()
    attempts = Attempts(clock=clock)
    for _ in range(30):
        attempts.attempt("192.0.2.1", "guess", RIGHT)
        clock.now += 0.1
    assert not attempts.attempt("192.0.2.1", RIGHT, RIGHT).ok
