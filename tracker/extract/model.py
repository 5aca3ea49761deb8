"""The normalised product every extractor returns, and the release a calendar page gives."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tracker.sizes import Chart, Placer, Size, country_system

if TYPE_CHECKING:
    from tracker.extract.dates import When

# A release's region when the page names none.
GLOBAL = "global"


class Availability(StrEnum):
    """Three states: 'unknown' (blocked, challenge page, nothing found) is never out of stock."""

    IN_STOCK = "InStock"
    OUT_OF_STOCK = "OutOfStock"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SizeOffer:
    """One size (a Shopify variant, a per-size Offer) with its own stock and price.

    ``size`` is the label as the shop wrote it; ``attributes`` the variant's other options (a width,
    a colour); ``system`` the size system the markup names for it (an option called "UK Size");
    ``placed`` the label placed in size systems (see tracker.sizes), set by Product.placed_sizes.
    """

    size: str
    availability: Availability = Availability.UNKNOWN
    price: Decimal | None = None
    sku: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    system: str | None = None
    placed: Size | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "size": self.size,
            "availability": self.availability.value,
            "price": None if self.price is None else str(self.price),
            "sku": self.sku,
        }
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        if self.placed is not None:
            out.update(self.placed.to_json())
        return out


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

    def placed_sizes(self, *, system: str | None = None, chart: Chart | None = None) -> Product:
        """A copy whose sizes are placed in size systems: the label's own words, the markup's, the
        source's ``size_system`` (system), else a guess from the shop's domain or currency."""
        if not self.sizes:
            return self
        placer = Placer(system, chart, country_system(self.url, self.currency))
        return self.with_(sizes=tuple(replace(s, placed=placer.place(s.size, s.system)) for s in self.sizes))

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


@dataclass(frozen=True)
class ReleaseInfo:
    """One release as read from a page, before it is matched and stored."""

    name: str | None
    when: When
    style_code: str | None = None
    region: str = GLOBAL
    price: Decimal | None = None
    currency: str | None = None
    url: str | None = None
