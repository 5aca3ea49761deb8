"""Per-host politeness kept in PostgreSQL, so that every worker on every machine shares it.

Each host has a row with the earliest start of its next request and how long it asked to be
left alone (a long Retry-After), and one row per concurrency slot with a lease. A request takes a
free slot and reserves its start time in one statement; the wait is computed on PostgreSQL's
clock, so a machine whose clock is wrong still keeps the delay. A worker killed while holding a
slot frees it when its lease runs out.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable

from psycopg_pool import AsyncConnectionPool

_TAKE = """
WITH free AS (
    SELECT slot FROM host_slots
    WHERE host = %(host)s AND slot < %(k)s AND held_until < clock_timestamp()
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE host_slots AS s
SET held_until = clock_timestamp() + make_interval(secs => %(hold)s), holder = %(holder)s
FROM free WHERE s.host = %(host)s AND s.slot = free.slot
RETURNING s.slot
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
INSERT INTO host_gates (host) VALUES (%(host)s) ON CONFLICT (host) DO NOTHING;
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
_PAUSED = (
    "SELECT EXTRACT(EPOCH FROM (paused_until - clock_timestamp()))::float8 FROM host_gates WHERE host = %s"
)
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

    async def _ensure(self, host: str, concurrency: int) -> None:
        if self._slots.get(host, 0) >= concurrency:
            return
        async with self.pool.connection() as conn:
            await conn.execute(_ENSURE, {"host": host})
            await conn.execute(_ENSURE_SLOTS, {"host": host, "k": concurrency})
        self._slots[host] = concurrency

    async def enter(self, host: str, *, concurrency: int, delay: float, hold: float) -> tuple[object, float]:
        """Take a slot (polling while all are taken), then wait for the host's delay since the last
        request start and claim this start; returns (ticket, seconds waited for the delay).

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
                row = await (await conn.execute(_TAKE, params)).fetchone()
            if row is not None:
                break
            await self._sleep(poll + random.uniform(0, poll))
            poll = min(poll * 2, MAX_POLL)
        ticket = (int(row[0]), holder)
        waited = 0.0
        try:
            while True:
                async with self.pool.connection() as conn:
                    claimed, wait = await (await conn.execute(_PACE, params)).fetchone() or (False, 0.0)
                if claimed:
                    return ticket, waited
                wait = max(0.005, float(wait or 0.0))
                waited += wait
                await self._sleep(wait)
        except BaseException:
            await self.leave(host, ticket)
            raise

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
        """Seconds left of the host's requested pause, or 0."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_PAUSED, (host,))
            row = await cur.fetchone()
        return max(0.0, float(row[0])) if row is not None and row[0] is not None else 0.0

    async def pause(self, host: str, seconds: float) -> None:
        """Nobody asks the host again for `seconds`."""
        async with self.pool.connection() as conn:
            await conn.execute(_PAUSE, {"host": host, "secs": seconds})
