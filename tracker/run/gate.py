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

_ENTER = """
WITH free AS (
    SELECT slot FROM host_slots
    WHERE host = %(host)s AND slot < %(k)s AND held_until < clock_timestamp()
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
), took AS (
    UPDATE host_slots AS s
    SET held_until = clock_timestamp() + make_interval(secs => %(hold)s), holder = %(holder)s
    FROM free WHERE s.host = %(host)s AND s.slot = free.slot
    RETURNING s.slot
), paced AS (
    UPDATE host_gates AS g
    SET next_start = GREATEST(g.next_start, clock_timestamp()) + make_interval(secs => %(delay)s)
    WHERE g.host = %(host)s AND EXISTS (SELECT 1 FROM took)
    RETURNING g.next_start - make_interval(secs => %(delay)s) AS start_at
)
SELECT took.slot, EXTRACT(EPOCH FROM (paced.start_at - clock_timestamp()))::float8 AS wait
FROM took, paced
"""

_ENSURE = """
INSERT INTO host_gates (host) VALUES (%(host)s) ON CONFLICT (host) DO NOTHING;
"""
_ENSURE_SLOTS = """
INSERT INTO host_slots (host, slot) SELECT %(host)s, s FROM generate_series(0, %(k)s - 1) AS s
ON CONFLICT (host, slot) DO NOTHING
"""
_LEAVE = """
UPDATE host_slots SET held_until = '-infinity', holder = NULL
WHERE host = %(host)s AND slot = %(slot)s AND holder = %(holder)s
"""
_EXTEND = """
UPDATE host_slots SET held_until = held_until + make_interval(secs => %(secs)s)
WHERE host = %(host)s AND slot = %(slot)s AND holder = %(holder)s
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


class SharedHostGate:
    """The fetcher's HostGate on PostgreSQL: delay, concurrency and pauses across all workers."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        worker: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pool = pool
        self.worker = worker
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
        """Take a slot (polling while all are taken) and reserve a start; (ticket, wait seconds)."""
        await self._ensure(host, concurrency)
        holder = f"{self.worker}:{uuid.uuid4().hex[:12]}"
        poll = 0.02
        while True:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    _ENTER, {"host": host, "k": concurrency, "hold": hold, "holder": holder, "delay": delay}
                )
                row = await cur.fetchone()
                if row is not None:
                    slot, wait = int(row[0]), max(0.0, float(row[1]))
                    if wait > 0:
                        # The lease must outlast the wait for our turn as well as the request.
                        await conn.execute(
                            _EXTEND, {"host": host, "slot": slot, "holder": holder, "secs": wait}
                        )
                    return (slot, holder), wait
            await self._sleep(poll + random.uniform(0, poll))
            poll = min(poll * 2, MAX_POLL)

    async def leave(self, host: str, ticket: object) -> None:
        """Give the slot back at once (its lease would free it anyway)."""
        assert isinstance(ticket, tuple)
        slot, holder = ticket
        async with self.pool.connection() as conn:
            await conn.execute(_LEAVE, {"host": host, "slot": slot, "holder": holder})

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
