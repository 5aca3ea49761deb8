"""The normalised product every extractor returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Availability(StrEnum):
    """Three states: 'unknown' (blocked, challenge page, nothing found) is never out of stock."""

    IN_STOCK = "InStock"
    OUT_OF_STOCK = "OutOfStock"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SizeOffer:
    """One size (a Shopify variant, a per-size Offer) with its own stock and price."""

    size: str
    availability: Availability = Availability.UNKNOWN
    price: Decimal | None = None
    sku: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "availability": self.availability.value,
            "price": None if self.price is None else str(self.price),
            "sku": self.sku,
        }


@dataclass(frozen=True)
class Product:
    """A product as read from one page or catalogue entry.

    ``price`` is the price a buyer pays now (sale over struck-through); ``compare_at`` the
    struck-through one. ``blocked`` names a bot challenge / captcha / access-denied page, in
    which case availability is unknown and no price is given.
    """

    title: str | None = None
    url: str | None = None
    sku: str | None = None
    style_code: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    compare_at: Decimal | None = None
    availability: Availability = Availability.UNKNOWN
    sizes: tuple[SizeOffer, ...] = ()
    image: str | None = None
    external_id: str | None = None
    brand: str | None = None
    tags: tuple[str, ...] = ()
    published_at: str | None = None
    blocked: str | None = None
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_(self, **changes: Any) -> Product:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape `tracker extract` prints."""
        return {
            "title": self.title,
            "sku": self.sku,
            "style_code": self.style_code,
            "price": None if self.price is None else str(self.price),
            "currency": self.currency,
            "compare_at": None if self.compare_at is None else str(self.compare_at),
            "availability": self.availability.value,
            "sizes": [s.to_json() for s in self.sizes],
            "image": self.image,
            "url": self.url,
            "external_id": self.external_id,
            "brand": self.brand,
            "blocked": self.blocked,
            "method": self.method,
            # Which row of the availability table (tracker.extract.evidence) decided the stock.
            "availability_rule": self.extra.get("availability_rule"),
        }
