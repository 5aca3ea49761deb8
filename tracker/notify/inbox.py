"""The inbox channel: an Apprise custom notification (``inbox://``) that stores alerts for the dashboard.

A channel like any other (``[[alerts.channels]]`` with ``url = "inbox://"``): rules route events to
it, the outbox claims, sends and confirms its deliveries. Sending stores the rendered alert in the
tracker's own database (``inbox_messages``), keyed by the delivery's idempotency key, so a message
resent after a crash between storing and confirming is not stored twice. The dashboard shows new
messages as toasts and lists them on its Inbox page.

Apprise hands a custom notification only the title and the body; the delivery's identity (its key,
the events it carries, the shop link and the image) and the database come from
:func:`delivering`, which the sender wraps around each send.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from db.inbox import NewMessage, store_message

SCHEME = "inbox"
# Apprise collects its logger's warnings as the send's error text (see tracker.notify.send).
_APPRISE_LOG = logging.getLogger("apprise")


@dataclass(frozen=True)
class InboxDelivery:
    """What the inbox stores besides the text: where, under which key, about which events."""

    engine: Engine
    key: str
    channel: str
    kind: str
    event_ids: tuple[int, ...] = field(default=())
    link: str | None = None
    image: str | None = None


_CURRENT: ContextVar[InboxDelivery | None] = ContextVar("inbox_delivery", default=None)


@contextmanager
def delivering(delivery: InboxDelivery | None) -> Iterator[None]:
    """Make this delivery the one an inbox:// send inside the block stores."""
    token = _CURRENT.set(delivery)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def is_inbox_url(url: str) -> bool:
    """Whether an Apprise URL is the inbox channel."""
    return url.strip().lower().startswith(SCHEME + "://")


def store(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    """The Apprise hook: store the alert; False (an error the outbox retries) when it cannot."""
    delivery = _CURRENT.get()
    if delivery is None:
        _APPRISE_LOG.warning(
            "inbox: the inbox channel stores into the tracker's database; send "
            "through the tracker (tracker run, alerts deliver or alerts test)"
        )
        return False
    message = NewMessage(
        key=delivery.key,
        channel=delivery.channel,
        kind=delivery.kind,
        title=title or "",
        body=body or "",
        created_at=datetime.now(UTC),
        event_ids=delivery.event_ids,
        link=delivery.link,
        image=delivery.image,
    )
    try:
        store_message(delivery.engine, message)
    except SQLAlchemyError as exc:
        # The driver's own message ("database is locked"), not the statement and its parameters.
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        _APPRISE_LOG.warning("inbox: could not store the message: %s", reason)
        return False
    return True


def register() -> None:
    """Make inbox:// a scheme Apprise knows. tracker.notify.send calls it once, when it first loads
    Apprise (a process that sends nothing never imports Apprise, which takes ~0.2 s)."""
    from apprise.decorators import notify

    # Apprise's decorator is untyped: registering by calling it keeps store() typed.
    notify(on=SCHEME, name="2002R tracker inbox")(store)  # type: ignore[no-untyped-call]
