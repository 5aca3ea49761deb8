"""The outbox sender: claims due (event, channel) rows, sends each through Apprise once, confirms.

Exactly once, as far as it goes
    plan_deliveries adds the rows in the pipeline's transaction, unique on (event_id, channel): an
    event is committed with its outbox rows or not at all, and cannot be planned twice for a channel.
    deliver_due claims rows with one conditional UPDATE (pending/held -> sending, a fresh
    claim_token, claimed_at, attempts + 1) that only one sender can win on SQLite and PostgreSQL,
    sends, and confirms in the same worker thread right after the channel answers
    (UPDATE ... WHERE claim_token = ours, so a sender whose lease ran out cannot overwrite a newer
    claim). A failure goes back to pending with exponential backoff, or to failed after
    ``alerts.max_attempts``; the error is kept with secrets removed. A sender that dies between claim
    and confirm leaves the row 'sending'; after ``alerts.claim_lease`` the next sender takes it back.
    Nothing is lost: a row leaves 'sending' only as sent after the channel accepted it, or to be
    tried again. The residual window is the send itself: a message the channel accepted just before
    the sender died, unconfirmed, is sent a second time. Every message carries a stable key
    (``<event id>:<channel>``, or the digest's rows) as an ``Idempotency-Key`` header on JSON, form
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from db.models import Colorway as DbColorway
from db.models import Event
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.notify.inbox import InboxDelivery, is_inbox_url
from tracker.notify.plan import WAITING_STATUSES, as_utc
from tracker.notify.render import render_digest, render_message
from tracker.notify.rules import LISTING_KINDS, facts_of, snoozed_until
from tracker.notify.send import Image, fetch_image, send_via_apprise, warm_up

SEND_CONCURRENCY = 8
_DIGEST = "digest:"
_SINGLE = "single:"

_D = SQLModel.metadata.tables["deliveries"]
_E = SQLModel.metadata.tables["events"]


@dataclass
class DeliveryStats:
    """What one deliver_due call did, counted in outbox rows."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    superseded: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: int
    channel: str
    attempts: int
    token: str


@dataclass
class _Job:
    channel: str
    url: str
    token: str
    rows: list[_Claimed]
    title: str
    body: str
    image_url: str | None
    key: str
    restore: str
    kind: str
    link: str | None
    timeout: float


def _anything_to_do(engine: sa.Engine, config: Config, now: datetime) -> bool:
    """Whether a row is due, or left 'sending' past its lease: one read through the status index.

    Most passes of a running tracker find nothing; they end here, without a write transaction.
    """
    cutoff = now - timedelta(seconds=config.alerts.claim_lease)
    due = sa.exists().where(_D.c.status.in_(WAITING_STATUSES), _D.c.next_attempt_at <= now)
    stale = sa.exists().where(_D.c.status == "sending", _D.c.claimed_at < cutoff)
    with engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.or_(due, stale))).scalar())


def _recover_stale(engine: sa.Engine, config: Config, now: datetime) -> int:
    """Rows left 'sending' by a sender that died go back to be sent again (or fail when out of tries)."""
    cutoff = now - timedelta(seconds=config.alerts.claim_lease)
    stale = sa.and_(_D.c.status == "sending", _D.c.claimed_at < cutoff)
    note = "the sender stopped before confirming; sending again (the channel may see it twice)"
    with engine.begin() as conn:
        failed = conn.execute(
            sa.update(_D)
            .where(stale, _D.c.attempts >= config.alerts.max_attempts)
            .values(
                status="failed",
                claim_token=None,
                last_error=f"the sender stopped while sending, {config.alerts.max_attempts} times: giving up",
            )
        )
        held = conn.execute(
            sa.update(_D)
            .where(stale, _D.c.claim_token.like(_DIGEST + "%"))
            .values(status="held", claim_token=None, last_error=note)
        )
        pending = conn.execute(
            sa.update(_D).where(stale).values(status="pending", claim_token=None, last_error=note)
        )
    return sum(cast(sa.CursorResult[Any], r).rowcount for r in (failed, held, pending))


def _claim(engine: sa.Engine, now: datetime, limit: int) -> list[_Claimed]:
    """Atomically take due rows: the conditional UPDATE lets one sender win each row."""
    claimed: list[_Claimed] = []
    with engine.begin() as conn:
        due = conn.execute(
            sa.select(_D.c.id, _D.c.status)
            .where(_D.c.status.in_(WAITING_STATUSES), _D.c.next_attempt_at <= now)
            .order_by(_D.c.next_attempt_at, _D.c.id)
            .limit(limit)
        ).all()
        for status, prefix in (("pending", _SINGLE), ("held", _DIGEST)):
            ids = [row.id for row in due if row.status == status]
            if not ids:
                continue
            token = prefix + uuid.uuid4().hex
            result = conn.execute(
                sa.update(_D)
                .where(_D.c.id.in_(ids), _D.c.status == status)
                .values(status="sending", claim_token=token, claimed_at=now, attempts=_D.c.attempts + 1)
                .returning(_D.c.id, _D.c.event_id, _D.c.channel, _D.c.attempts)
            )
            claimed.extend(_Claimed(r.id, r.event_id, r.channel, r.attempts, token) for r in result.all())
    claimed.sort(key=lambda c: c.id)
    return claimed


def _finish(engine: sa.Engine, rows: list[_Claimed], token: str, **values: Any) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(_D)
            .where(_D.c.id.in_([r.id for r in rows]), _D.c.claim_token == token, _D.c.status == "sending")
            .values(**values)
        )
    return cast(sa.CursorResult[Any], result).rowcount


def _key(rows: list[_Claimed], channel: str) -> str:
    if len(rows) == 1:
        return f"{rows[0].event_id}:{channel}"
    digest = hashlib.sha256(",".join(str(r.id) for r in rows).encode()).hexdigest()[:16]
    return f"digest-{digest}:{channel}"


def _jobs(
    engine: sa.Engine, config: Config, claimed: list[_Claimed], now: datetime, stats: DeliveryStats
) -> list[_Job]:
    channels = {c.name: c for c in config.alerts.channels}
    with Session(engine) as session:
        events = {
            e.id: e
            for e in session.exec(select(Event).where(col(Event.id).in_({c.event_id for c in claimed}))).all()
        }
        cw_ids = {e.colorway_id for e in events.values() if e.colorway_id is not None}
        colorways = {
            c.id: c for c in session.exec(select(DbColorway).where(col(DbColorway.id).in_(cw_ids))).all()
        }
    groups: dict[tuple[str, str], list[_Claimed]] = defaultdict(list)
    for row in claimed:
        event = events[row.event_id]
        colorway = colorways.get(event.colorway_id) if event.colorway_id is not None else None
        channel = channels.get(row.channel)
        if channel is None or not channel.enabled:
            why = "no longer in config.toml" if channel is None else "disabled in config.toml"
            stats.failed += _finish(engine, [row], row.token, status="failed", last_error=f"channel {why}")
            continue
        snooze = snoozed_until(config, facts_of(event, colorway, config).style_code, now)
        if snooze is not None:
            stats.superseded += _finish(
                engine, [row], row.token, status="superseded", last_error=f"colorway snoozed until {snooze}"
            )
            continue
        groups[(row.channel, row.token)].append(row)
    jobs: list[_Job] = []
    for (name, token), rows in groups.items():
        items = [(events[r.event_id], colorways.get(events[r.event_id].colorway_id or -1)) for r in rows]
        if token.startswith(_DIGEST) and len(rows) > 1:
            listings_only = all(e.kind in LISTING_KINDS for e, _ in items)
            reason = "new listings found at once" if listings_only else "during quiet hours"
            title, body, image = render_digest(items, reason, config.locale)
            kind, link = "digest", None
            job_rows = [rows]
        else:
            job_rows = [[r] for r in rows]
        for part in job_rows:
            if len(part) == 1:
                event, colorway = (
                    events[part[0].event_id],
                    colorways.get(events[part[0].event_id].colorway_id or -1),
                )
                title, body, image = render_message(event, colorway, config.locale)
                kind, link = event.kind, (event.data or {}).get("url")
            jobs.append(
                _Job(
                    channel=name,
                    url=channels[name].url,
                    token=token,
                    rows=part,
                    title=title,
                    body=body,
                    image_url=image,
                    key=_key(part, name),
                    restore="held" if token.startswith(_DIGEST) else "pending",
                    kind=kind,
                    link=str(link) if link else None,
                    timeout=channels[name].timeout,
                )
            )
    return jobs


class _ImageCache:
    """One download per image URL per deliver_due call, shared by the channels sending it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, Image | None] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def get(self, url: str) -> Image | None:
        with self._lock:
            lock = self._locks[url]
        with lock:
            if url not in self._images:
                self._images[url] = fetch_image(url)
            return self._images[url]


def _backoff(config: Config, attempts: int) -> float:
    return float(min(config.alerts.retry_base * 2 ** max(attempts - 1, 0), config.alerts.retry_max))


def _send_and_record(
    engine: sa.Engine, config: Config, job: _Job, now: datetime, images: _ImageCache
) -> tuple[str, int, str | None]:
    """Send one job and confirm at once (runs in a worker thread): (outcome, rows, error)."""
    inbox = is_inbox_url(job.url)
    # The inbox keeps the image's address, not its bytes: no download for it.
    image = images.get(job.image_url) if job.image_url and not inbox else None
    delivery = InboxDelivery(
        engine=engine,
        key=job.key,
        channel=job.channel,
        kind=job.kind,
        event_ids=tuple(r.event_id for r in job.rows),
        link=job.link,
        image=job.image_url,
    )
    error = send_via_apprise(
        job.url,
        job.title,
        job.body,
        image=image,
        idempotency_key=job.key,
        inbox=delivery if inbox else None,
        timeout=job.timeout,
    )
    if error is None:
        done = _finish(engine, job.rows, job.token, status="sent", sent_at=_utcnow(), last_error=None)
        return "sent", done, None
    failed: list[_Claimed] = []
    retried: list[_Claimed] = []
    for row in job.rows:
        (failed if row.attempts >= config.alerts.max_attempts else retried).append(row)
    count = 0
    if failed:
        count += _finish(engine, failed, job.token, status="failed", claim_token=None, last_error=error)
    for row in retried:
        count += _finish(
            engine,
            [row],
            job.token,
            status=job.restore,
            claim_token=None,
            last_error=error,
            next_attempt_at=now + timedelta(seconds=_backoff(config, row.attempts)),
        )
    return ("failed" if failed and not retried else "retried"), count, f"{job.channel}: {error}"


async def deliver_due(
    engine: sa.Engine, config: Config, *, now: datetime | None = None, limit: int = 50
) -> DeliveryStats:
    """Claim due outbox rows, send each through Apprise (channels in parallel), confirm or reschedule."""
    now = as_utc(now) if now is not None else _utcnow()
    stats = DeliveryStats()
    if not _anything_to_do(engine, config, now):
        return stats
    stats.recovered = _recover_stale(engine, config, now)
    claimed = _claim(engine, now, limit)
    if not claimed:
        return stats
    jobs = _jobs(engine, config, claimed, now, stats)
    images = _ImageCache()
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def run(job: _Job) -> tuple[str, int, str | None]:
        async with gate:
            return await asyncio.to_thread(_send_and_record, engine, config, job, now, images)

    for outcome, count, error in await asyncio.gather(*(run(job) for job in jobs)):
        if outcome == "sent":
            stats.sent += count
        elif outcome == "failed":
            stats.failed += count
        else:
            stats.retried += count
        if error:
            stats.errors.append(error)
    return stats


def warm_up_channels(config: Config) -> None:
    """Load what the enabled channels need before the first alert (call once when a service starts)."""
    warm_up([c.url for c in config.alerts.channels if c.enabled])


def send_test(
    config: Config, channel: str | None = None, *, engine: sa.Engine | None = None
) -> list[tuple[str, bool, str | None]]:
    """Send a test message to every enabled channel (or the one named): (channel, ok, error).

    The inbox channel stores its test message in engine's database (it fails without one).
    """
    if channel is not None:
        chosen = [c for c in config.alerts.channels if c.name == channel]
        if not chosen:
            names = ", ".join(c.name for c in config.alerts.channels) or "none configured"
            raise ConfigError(f"alerts.channels: no channel named {channel!r} (channels: {names})")
    else:
        chosen = [c for c in config.alerts.channels if c.enabled]
        if not chosen:
            raise ConfigError("alerts.channels: no enabled channel to test")
    title = "2002R tracker: test alert"
    body = (
        "This is a test message from your 2002R tracker.\n\n"
        "If you can read this, drop alerts will reach you here."
    )
    results: list[tuple[str, bool, str | None]] = []
    for ch in chosen:
        key = f"test-{uuid.uuid4().hex}:{ch.name}"
        inbox = None
        if engine is not None and is_inbox_url(ch.url):
            inbox = InboxDelivery(engine=engine, key=key, channel=ch.name, kind="test")
        error = send_via_apprise(ch.url, title, body, idempotency_key=key, inbox=inbox, timeout=ch.timeout)
        results.append((ch.name, error is None, error))
    return results


def unfinished(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(_D).where(_D.c.status.in_(("pending", "held", "sending")))
        ).scalar_one()
    return int(count)
