"""Per-host politeness kept in PostgreSQL, so that every worker on every machine shares it.

Each host has a row with the earliest start of its next request and how long it asked to be
left alone (a long Retry-After), and one row per concurrency slot with a lease. A request takes a
free slot and, when the host's delay has passed, claims its start in the same statement (one
round trip); otherwise it waits the time left, measured on PostgreSQL's clock, and claims again,
so a machine whose clock is wrong still keeps the delay. A worker killed while holding a slot
frees it when its lease runs out (renewed by the worker's heartbeat while it lives).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable

from psycopg_pool import AsyncConnectionPool

from tracker.errors import FetchError

_ENTER = """
WITH gate AS (
    SELECT next_start, paused_until FROM host_gates WHERE host = %(host)s FOR UPDATE
), free AS (
    SELECT s.slot FROM host_slots AS s, gate
    WHERE s.host = %(host)s AND s.slot < %(k)s AND s.held_until < clock_timestamp()
      AND gate.paused_until <= clock_timestamp()
    ORDER BY s.slot LIMIT 1 FOR UPDATE OF s SKIP LOCKED
), took AS (
    UPDATE host_slots AS s
    SET held_until = clock_timestamp() + make_interval(secs => %(hold)s), holder = %(holder)s
    FROM free WHERE s.host = %(host)s AND s.slot = free.slot
    RETURNING s.slot
), claim AS (
    UPDATE host_gates AS g SET next_start = clock_timestamp() + make_interval(secs => %(delay)s)
    WHERE g.host = %(host)s AND g.next_start <= clock_timestamp() AND EXISTS (SELECT 1 FROM took)
    RETURNING 1
)
SELECT (SELECT slot FROM took), EXISTS (SELECT 1 FROM claim),
       EXTRACT(EPOCH FROM (gate.next_start - clock_timestamp()))::float8,
       EXTRACT(EPOCH FROM (gate.paused_until - clock_timestamp()))::float8
FROM gate
"""
# The start is claimed at the moment of sending, not reserved ahead: a worker that stalls after
# its turn came cannot send closer to the next request than the delay.
_PACE = """
WITH claim AS (
    UPDATE host_gates SET next_start = clock_timestamp() + make_interval(secs => %(delay)s)
    WHERE host = %(host)s AND next_start <= clock_timestamp()
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM claim),
       (SELECT EXTRACT(EPOCH FROM (next_start - clock_timestamp()))::float8
        FROM host_gates WHERE host = %(host)s)
"""
_ENSURE = """
INSERT INTO host_gates (host) VALUES (%(host)s) ON CONFLICT (host) DO NOTHING
"""
_ENSURE_SLOTS = """
INSERT INTO host_slots (host, slot) SELECT %(host)s, s FROM generate_series(0, %(k)s - 1) AS s
ON CONFLICT (host, slot) DO NOTHING
"""
_LEAVE = """
UPDATE host_slots SET held_until = 'epoch', holder = NULL
WHERE host = %(host)s AND slot = %(slot)s AND holder = %(holder)s
"""
_RENEW = """
UPDATE host_slots SET held_until = clock_timestamp() + make_interval(secs => %(secs)s)
WHERE starts_with(holder, %(prefix)s) AND held_until > clock_timestamp()
"""
_PAUSE = """
INSERT INTO host_gates (host, paused_until)
VALUES (%(host)s, clock_timestamp() + make_interval(secs => %(secs)s))
ON CONFLICT (host) DO UPDATE SET paused_until = GREATEST(host_gates.paused_until, EXCLUDED.paused_until)
"""

MAX_POLL = 0.5  # seconds between two tries for a slot while every slot of a host is taken
LEASE = 30.0  # seconds a slot stays taken without its worker's heartbeat renewing it


class SharedHostGate:
    """The fetcher's HostGate on PostgreSQL: delay, concurrency and pauses across all workers."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        worker: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lease: float = LEASE,
    ) -> None:
        self.pool = pool
        self.worker = worker
        self.lease = lease
        self._sleep = sleep
        self._slots: dict[str, int] = {}  # host -> slots known to exist
        self._paused: dict[str, float] = {}  # host -> monotonic time its known pause ends

    async def _ensure(self, host: str, concurrency: int) -> None:
        if self._slots.get(host, 0) >= concurrency:
            return
        async with self.pool.connection() as conn:
            await conn.execute(_ENSURE, {"host": host})
            await conn.execute(_ENSURE_SLOTS, {"host": host, "k": concurrency})
        self._slots[host] = concurrency

    def _refuse(self, host: str, seconds: float) -> FetchError:
        self._paused[host] = time.monotonic() + seconds
        return FetchError(
            f"{host}: rate limited, the shop asked for a pause; not asking again for {seconds:.0f}s",
            kind="rate_limited",
        )

    async def enter(self, host: str, *, concurrency: int, delay: float, hold: float) -> tuple[object, float]:
        """Take a slot (polling while all are taken), then wait for the host's delay since the last
        request start and claim this start; returns (ticket, seconds waited for the delay). One
        round trip when a slot is free and the delay has passed; FetchError(rate_limited) while the
        host is paused.

        The slot is leased for `lease` seconds (or `hold`, when shorter), renewed by renew() from
        the worker's heartbeat: a killed worker's slots are free again within a lease.
        """
        await self._ensure(host, concurrency)
        holder = f"{self.worker}:{uuid.uuid4().hex[:12]}"
        params = {
            "host": host,
            "k": concurrency,
            "hold": min(hold, self.lease),
            "holder": holder,
            "delay": delay,
        }
        poll = 0.02
        while True:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(_ENTER, params)).fetchone()
            assert row is not None  # _ensure made the host's row
            slot, claimed, wait, paused = row
            if paused is not None and paused > 0:
                raise self._refuse(host, paused)
            if slot is not None:
                break
            await self._sleep(poll + random.uniform(0, poll))
            poll = min(poll * 2, MAX_POLL)
        ticket = (int(slot), holder)
        waited = 0.0
        try:
            while not claimed:
                wait = max(0.005, float(wait or 0.0))
                waited += wait
                await self._sleep(wait)
                async with self.pool.connection() as conn:
                    claimed, wait = await (await conn.execute(_PACE, params)).fetchone() or (False, 0.0)
        except BaseException:
            await self.leave(host, ticket)
            raise
        return ticket, waited

    async def leave(self, host: str, ticket: object) -> None:
        """Give the slot back at once (its lease would free it anyway)."""
        assert isinstance(ticket, tuple)
        slot, holder = ticket
        async with self.pool.connection() as conn:
            await conn.execute(_LEAVE, {"host": host, "slot": slot, "holder": holder})

    async def renew(self) -> None:
        """Extend the leases of the slots this worker holds (called from its heartbeat)."""
        async with self.pool.connection() as conn:
            await conn.execute(_RENEW, {"prefix": self.worker + ":", "secs": self.lease})

    async def paused_for(self, host: str) -> float:
        """Seconds left of a pause this worker knows of (no round trip: enter() sees the others')."""
        left = self._paused.get(host, 0.0) - time.monotonic()
        return max(0.0, left)

    async def pause(self, host: str, seconds: float) -> None:
        """Nobody asks the host again for `seconds`."""
        self._paused[host] = time.monotonic() + seconds
        async with self.pool.connection() as conn:
            await conn.execute(_PAUSE, {"host": host, "secs": seconds})
