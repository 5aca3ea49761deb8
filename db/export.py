"""Reads for `tracker export`: every observation with its colorway, shop and listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.models import Colorway, Listing, Observation, Source


def observation_rows(engine: Engine, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Observations oldest first, as flat dicts (money as decimal strings, times ISO 8601 UTC)."""
    stmt = (
        select(Observation, Listing, Source, Colorway)
        .join(Listing, col(Listing.id) == Observation.listing_id)
        .join(Source, col(Source.id) == Listing.source_id)
        .join(Colorway, col(Colorway.id) == Listing.colorway_id, isouter=True)
        .order_by(col(Observation.observed_at), col(Observation.id))
    )
    if since is not None:
        stmt = stmt.where(col(Observation.observed_at) >= since)
    with Session(engine) as session:
        for obs, listing, source, colorway in session.exec(stmt):
            yield {
                "observed_at": obs.observed_at.isoformat(),
                "colorway": colorway.name if colorway else None,
                "style_code": colorway.style_code if colorway else listing.style_code,
                "shop": source.name,
                "title": listing.title,
                "url": listing.url,
                "price": None if obs.price is None else str(obs.price),
                "currency": obs.currency,
                "compare_at": None if obs.compare_at is None else str(obs.compare_at),
                "availability": obs.availability,
                "sizes": obs.sizes,
                "suspect": obs.suspect,
            }
