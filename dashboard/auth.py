"""Sign-in attempts, counted per client address: waits that double after wrong passwords, then a lockout.

No Streamlit here: the dashboard's sign-in page and any HTTP route of the dashboard's server use the
same rules. After ``FREE_TRIES`` wrong passwords an address waits 1 s before it may try again, then
2, 4, 8... (at most a minute); after ``lockout_after`` wrong passwords in a row it is locked out for
``lockout`` (the log says so), and even the right password is refused until then. A try made while
the address must wait is refused without looking at the password, so waiting cannot be skipped by
guessing faster. The right password clears the address's count.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("dashboard.auth")

FREE_TRIES = 3
FIRST_WAIT = 1.0
LONGEST_WAIT = 60.0
# Addresses remembered at once: the oldest is forgotten past this (an attacker cycling addresses
# cannot make the dashboard keep unbounded state).
MAX_ADDRESSES = 10_000


@dataclass(frozen=True)
class Verdict:
    """The answer to one sign-in attempt: signed in, or why not and for how long."""

    ok: bool
    reason: str = ""  # "wrong", "wait" or "locked" when not ok
    retry_after: float = 0.0  # seconds until this address may try again

    def message(self) -> str:
        """What the sign-in page says."""
        if self.ok:
            return "Signed in."
        if self.reason == "locked":
            minutes = max(1, round(self.retry_after / 60))
            return f"Too many wrong passwords from your address: locked for {minutes} min."
        if self.reason == "wait":
            return f"Too many wrong passwords: try again in {max(1, round(self.retry_after))} s."
        return "Wrong password."


@dataclass
class _Address:
    failures: int = 0
    not_before: float = 0.0
    locked: bool = False


class Attempts:
    """Counts wrong passwords per client address, in memory, shared by every session of the server."""

    def __init__(
        self,
        *,
        lockout_after: int = 10,
        lockout: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lockout_after = lockout_after
        self.lockout = lockout
        self._clock = clock
        self._lock = threading.Lock()
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds until this address may try a password (0 when it may now)."""
        with self._lock:
            record = self._addresses.get(address)
            return max(0.0, record.not_before - self._clock()) if record else 0.0

    def attempt(self, address: str, entered: str, expected: str) -> Verdict:
        """Check one password from one address: compared in constant time, counted, maybe refused."""
        with self._lock:
            now = self._clock()
            record = self._addresses.get(address)
            if record is not None and record.not_before > now:
                reason = "locked" if record.locked else "wait"
                return Verdict(False, reason, record.not_before - now)
            if hmac.compare_digest(entered.encode(), expected.encode()):
                self._addresses.pop(address, None)
                return Verdict(True)
            return self._wrong(address, record, now)

    def _wrong(self, address: str, record: _Address | None, now: float) -> Verdict:
        if record is None:
            record = self._addresses[address] = _Address()
            while len(self._addresses) > MAX_ADDRESSES:
                self._addresses.popitem(last=False)
        self._addresses.move_to_end(address)
        record.failures += 1
        if record.failures >= self.lockout_after:
            record.locked = True
            record.not_before = now + self.lockout
            log.warning(
                "dashboard sign-in locked for %s for %d min after %d wrong passwords in a row",
                address,
                max(1, round(self.lockout / 60)),
                record.failures,
            )
            return Verdict(False, "locked", self.lockout)
        record.locked = False
        extra = record.failures - FREE_TRIES
        wait = 0.0 if extra < 0 else min(FIRST_WAIT * 2.0**extra, LONGEST_WAIT)
        record.not_before = now + wait
        return Verdict(False, "wrong", wait)


_SHARED: dict[tuple[int, float], Attempts] = {}
_SHARED_LOCK = threading.Lock()


def attempts_for(lockout_after: int, lockout: float) -> Attempts:
    """The server's one counter for these settings (every session of the process shares it)."""
    with _SHARED_LOCK:
        key = (lockout_after, lockout)
        if key not in _SHARED:
            _SHARED[key] = Attempts(lockout_after=lockout_after, lockout=lockout)
        return _SHARED[key]
