"""When the evidence about stock disagrees: one written rule, a table read top to bottom.

A product page can say four things about stock: the top-level structured availability (JSON-LD,
microdata, app state, OpenGraph), per-size data (structured offers or app-state variants, or a
visible size picker), the add-to-cart control, and sold-out / in-stock text. Shops leave stale
values in each of them, so the first row below that applies decides; README.md shows the same
table (tests/test_evidence.py checks that they match, and has a fixture page for every row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from tracker.extract.model import Availability, SizeOffer

IN, OUT, UNKNOWN = Availability.IN_STOCK, Availability.OUT_OF_STOCK, Availability.UNKNOWN


@dataclass(frozen=True)
class Evidence:
    """Everything a page says about stock, each part read on its own."""

    blocked: bool = False
    structured: Availability = UNKNOWN  # top-level: JSON-LD / microdata / app state / OpenGraph
    size_data: tuple[SizeOffer, ...] = ()  # per size, from structured data or app state
    picker: tuple[SizeOffer, ...] = ()  # per size, from the visible size picker
    cart: Availability = UNKNOWN  # IN: an enabled add-to-cart; OUT: a buy control saying sold out
    words: Availability = UNKNOWN  # the page's own stock text near the product

    def sizes_available(self, sizes: tuple[SizeOffer, ...]) -> bool:
        return any(s.availability == IN for s in sizes)

    def all_sold_out(self, sizes: tuple[SizeOffer, ...]) -> bool:
        return bool(sizes) and all(s.availability == OUT for s in sizes)


@dataclass(frozen=True)
class Row:
    """One row of the table: its name, when it applies, and what it decides."""

    name: str
    when: str
    outcome: str
    applies: Callable[[Evidence], bool]
    decide: Callable[[Evidence], Availability]
    # The parts of the evidence the row looks at (tests/test_evidence.py checks them).
    reads: frozenset[str] = field(default_factory=frozenset)


RULES: tuple[Row, ...] = (
    Row(
        "challenge",
        "The page is a bot challenge, captcha or access-denied page",
        "unknown (never sold out)",
        lambda e: e.blocked,
        lambda e: UNKNOWN,
        frozenset({"blocked"}),
    ),
    Row(
        "size_available",
        "Per-size structured or app-state data shows a size available to order",
        "in stock (beats a stale top-level OutOfStock and sold-out text)",
        lambda e: e.sizes_available(e.size_data),
        lambda e: IN,
        frozenset({"size_data"}),
    ),
    Row(
        "sizes_sold_out",
        "Per-size structured or app-state data lists sizes and every one is sold out",
        "out of stock (beats a top-level InStock)",
        lambda e: e.all_sold_out(e.size_data),
        lambda e: OUT,
        frozenset({"size_data"}),
    ),
    Row(
        "cart_and_sizes",
        "An enabled add-to-cart, and the size picker has sizes that can be chosen",
        "in stock (beats a bare top-level OutOfStock)",
        lambda e: e.cart == IN and e.sizes_available(e.picker),
        lambda e: IN,
        frozenset({"cart", "picker"}),
    ),
    Row(
        "stale_in_stock",
        "Top-level InStock, but sold-out text near the product, no enabled add-to-cart and no size "
        "that can be chosen",
        "out of stock",
        # The add-to-cart is looked at before the stock text: with an enabled one, the text is not read.
        lambda e: e.structured == IN and e.cart != IN and e.words == OUT and not e.sizes_available(e.picker),
        lambda e: OUT,
        frozenset({"structured", "words", "cart", "picker"}),
    ),
    Row(
        "structured",
        "Top-level structured availability (JSON-LD, microdata, app state, OpenGraph)",
        "what it says",
        lambda e: e.structured != UNKNOWN,
        lambda e: e.structured,
        frozenset({"structured"}),
    ),
    Row(
        "cart",
        "No structured availability; an enabled add-to-cart",
        "in stock",
        lambda e: e.cart == IN,
        lambda e: IN,
        frozenset({"cart"}),
    ),
    Row(
        "cart_sold_out",
        "No structured availability; the buy control says sold out",
        "out of stock",
        lambda e: e.cart == OUT,
        lambda e: OUT,
        frozenset({"cart"}),
    ),
    Row(
        "picker_sold_out",
        "No structured availability; every size in the picker is marked unavailable",
        "out of stock",
        lambda e: e.all_sold_out(e.picker),
        lambda e: OUT,
        frozenset({"picker"}),
    ),
    Row(
        "stock_text",
        "No structured availability; the page's stock text says in or out of stock",
        "what it says",
        lambda e: e.words != UNKNOWN,
        lambda e: e.words,
        frozenset({"words"}),
    ),
    Row(
        "unknown",
        "Anything else, a disabled add-to-cart alone included (shops disable it until a size is chosen)",
        "unknown",
        lambda e: True,
        lambda e: UNKNOWN,
        frozenset(),
    ),
)


# The parts read from the visible page, each only when a row first looks at it (decide_reading).
VISIBLE_PARTS = ("picker", "cart", "words")


def decide(evidence: Evidence) -> tuple[Availability, str]:
    """The availability the first applicable row gives, and that row's name."""
    for row in RULES:
        if row.applies(evidence):
            return row.decide(evidence), row.name
    raise AssertionError("the last row always applies")  # pragma: no cover


class _OnDemand:
    """An Evidence whose visible parts are read from the page the first time a row looks at them."""

    def __init__(self, known: Evidence, readers: dict[str, Callable[[], Any]]) -> None:
        self.known = known
        self.readers = readers
        self.read: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        reader = self.readers.get(name)
        if reader is None:
            return getattr(self.known, name)
        if name not in self.read:
            self.read[name] = reader()
        return self.read[name]


def decide_reading(
    known: Evidence, readers: dict[str, Callable[[], Any]]
) -> tuple[Availability, str, Evidence]:
    """decide(), with the visible parts (picker, cart, words) read through readers only when a row
    looks at them; also the evidence as read (a part never looked at keeps its default)."""
    lazy = _OnDemand(known, readers)
    availability, rule = decide(cast(Evidence, lazy))
    return availability, rule, replace(known, **lazy.read)
