"""Inbox writes: store a delivered alert once per delivery key, and mark messages read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from db import models  # noqa: F401 (registers the tables)

_I = SQLModel.metadata.tables["inbox_messages"]


@dataclass(frozen=True)
class NewMessage:
    """What the inbox channel received: the rendered alert and where it came from."""

    key: str
    channel: str
    kind: str
    title: str
    body: str
    created_at: datetime
    event_ids: tuple[int, ...] = field(default=())
    link: str | None = None
    image: str | None = None


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    # The key is unique: a message resent after a crash between store and confirm is a no-op.
    if conn.dialect.name == "postgresql":
        return postgresql.insert(_I).on_conflict_do_nothing(index_elements=["key"])
    if conn.dialect.name == "sqlite":
        return sqlite.insert(_I).on_conflict_do_nothing(index_elements=["key"])
    raise NotImplementedError(f"the inbox does not support {conn.dialect.name}")


def store_message(engine: Engine, message: NewMessage) -> bool:
    """Add the message unless its key is already there; True when it was added."""
    row = {
        "key": message.key,
        "channel": message.channel,
        "kind": message.kind,
        "event_id": message.event_ids[0] if len(message.event_ids) == 1 else None,
        "event_ids": list(message.event_ids),
        "title": message.title,
        "body": message.body,
        "link": message.link,
        "image": message.image,
        "created_at": message.created_at,
        "read_at": None,
    }
    with engine.begin() as conn:
        added = conn.execute(_insert_ignoring_duplicates(conn).values(**row).returning(_I.c.id)).first()
    return added is not None


def mark_read(engine: Engine, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Mark these messages (all unread ones when ids is None) read at now; returns how many changed."""
    query = sa.update(_I).where(_I.c.read_at.is_(None)).values(read_at=now)
    if ids is not None:
        query = query.where(_I.c.id.in_(list(ids)))
    with engine.begin() as conn:
        result = conn.execute(query)
    return cast(sa.CursorResult[Any], result).rowcount


def mark_unread(engine: Engine, ids: Sequence[int]) -> int:
    """Mark these messages unread again."""
    with engine.begin() as conn:
        result = conn.execute(sa.update(_I).where(_I.c.id.in_(list(ids))).values(read_at=None))
    return cast(sa.CursorResult[Any], result).rowcount
