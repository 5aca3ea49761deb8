"""Detecting events: compare a listing's new state with its previous one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tracker.extract.model import Availability
from tracker.money import format_money
from tracker.sizes import US_MEN, Size, collector_size, display, label_with_attributes

IN = Availability.IN_STOCK.value
OUT = Availability.OUT_OF_STOCK.value


@dataclass(frozen=True)
class SizeState:
    """One size of an observation: the shop's label, its stock and price, and where it was placed."""

    label: str
    availability: str
    price: str | None
    placed: Size

    @staticmethod
    def of(size: dict[str, Any]) -> SizeState:
        price = size.get("price")
        return SizeState(
            label_with_attributes(size),
            str(size.get("availability") or "unknown"),
            None if price is None else str(price),
            Size.from_json(size),
        )

    def key(self) -> tuple[str, str, str]:
        return (self.label, self.availability, self.price or "")


@dataclass(frozen=True)
class State:
    """What an observation says, in comparable form (a size placed differently is a change too)."""

    price: Decimal | None
    currency: str | None
    compare_at: Decimal | None
    availability: str
    sizes: tuple[SizeState, ...]

    @staticmethod
    def of(
        price: Decimal | None,
        currency: str | None,
        compare_at: Decimal | None,
        availability: str,
        sizes: Sequence[dict[str, Any]],
    ) -> State:
        rows = sorted((SizeState.of(s) for s in sizes), key=SizeState.key)
        return State(price, currency, compare_at, availability, tuple(rows))

    def sizes_in_stock(self) -> list[str]:
        return [s.label for s in self.sizes if s.availability == IN]

    def placed(self, label: str) -> Size:
        """The placement of one of this state's sizes, by label."""
        return next((s.placed for s in self.sizes if s.label == label), Size(label))


@dataclass(frozen=True)
class Context:
    """What detection needs besides the two states."""

    shop: str
    title: str | None
    url: str
    image: str | None = None
    style_code: str | None = None
    colorway: str | None = None
    line: str | None = None
    list_prices: dict[str, str] = field(default_factory=dict)
    target_prices: dict[str, str] = field(default_factory=dict)
    my_sizes: tuple[str, ...] = ()
    locale: str | None = None  # for prices in messages (config.toml's locale)
    size_system: str = US_MEN  # the collector's size system: what a bare number in my_sizes means

    def mine(self) -> tuple[Size, ...]:
        """The collector's sizes, placed in their system."""
        return tuple(collector_size(s, self.size_system) for s in self.my_sizes)


@dataclass(frozen=True)
class Draft:
    """An event before it is a row."""

    kind: str
    message: str
    data: dict[str, Any]


def _money(amount: Decimal | None, currency: str | None, locale: str | None) -> str:
    if amount is None:
        return "no price"
    return format_money(amount, currency, locale)


def _same_label(label: str) -> str:
    """A shop's size label compared with its own earlier labels: case and spacing aside."""
    return " ".join(label.split()).casefold()


def your_size(size: Size, mine: Sequence[Size]) -> str | None:
    """The collector's size this shop size is ("US 10"), or None when it is none of theirs."""
    for own in mine:
        if size.matches(own):
            system, value = own.systems[0]
            return display(system, value)
    return None


def _shown(label: str, yours: dict[str, str]) -> str:
    """A size as a message names it: the shop's label, with the collector's size when it is theirs."""
    own = yours.get(label)
    return f"{label} (= {own})" if own and _same_label(own) != _same_label(label) else label


def _base(ctx: Context, new: State) -> dict[str, Any]:
    data: dict[str, Any] = {
        "shop": ctx.shop,
        "title": ctx.title,
        "url": ctx.url,
        "image": ctx.image,
        "style_code": ctx.style_code,
        "colorway": ctx.colorway,
        "line": ctx.line,
        "currency": new.currency,
        "price": None if new.price is None else str(new.price),
        "availability": new.availability,
        "sizes_in_stock": new.sizes_in_stock(),
    }
    placed = {s.label: s.placed.to_json() for s in new.sizes if s.availability == IN}
    if placed:
        # Where each size in stock was placed, so alert rules compare sizes, not strings.
        data["sizes_placed"] = placed
    if new.currency and new.currency in ctx.list_prices:
        list_price = Decimal(ctx.list_prices[new.currency])
        data["list_price"] = str(list_price)
        if new.price is not None:
            data["below_list"] = new.price < list_price
            data["diff_from_list"] = str(new.price - list_price)
    if new.currency and new.currency in ctx.target_prices:
        data["target_price"] = ctx.target_prices[new.currency]
        if new.price is not None:
            data["below_target"] = new.price <= Decimal(ctx.target_prices[new.currency])
    return data


def _label(ctx: Context) -> str:
    name = ctx.colorway or ctx.title or "listing"
    return f"{name} ({ctx.style_code})" if ctx.style_code and ctx.colorway else name


def detect_new(ctx: Context, new: State, *, discovered_code: bool) -> list[Draft]:
    """Events for a listing seen for the first time (not on a source's baseline check)."""
    data = _base(ctx, new)
    where = f"at {ctx.shop}"
    if discovered_code:
        return [
            Draft(
                "new_colorway",
                f"New 2002R colorway discovered {where}: {ctx.title or ctx.style_code}"
                f" ({ctx.style_code}), {_money(new.price, new.currency, ctx.locale)}",
                data,
            )
        ]
    state = "in stock" if new.availability == IN else "not in stock yet"
    return [
        Draft(
            "new_listing",
            f"New listing {where}: {_label(ctx)}, {_money(new.price, new.currency, ctx.locale)}, {state}",
            data,
        )
    ]


def detect(ctx: Context, old: State, new: State) -> list[Draft]:
    """Events between two states of one listing: price moves, sold out, restock, sizes back."""
    drafts: list[Draft] = []
    label = _label(ctx)
    base = _base(ctx, new)

    if (
        old.price is not None
        and new.price is not None
        and old.currency == new.currency
        and old.price != new.price
    ):
        data = dict(base, old_price=str(old.price))
        change = new.price - old.price
        data["change"] = str(change)
        data["change_percent"] = str(round(change / old.price * 100, 1))
        notes = []
        if "list_price" in data:
            lp = Decimal(data["list_price"])
            crossed = (old.price >= lp) != (new.price >= lp)
            data["crossed_list"] = crossed
            if crossed:
                notes.append("now below list price" if new.price < lp else "now above list price")
        if "target_price" in data:
            tp = Decimal(data["target_price"])
            crossed_target = (old.price <= tp) != (new.price <= tp)
            data["crossed_target"] = crossed_target
            if crossed_target and new.price <= tp:
                notes.append("at or below your target")
        kind = "price_drop" if change < 0 else "price_rise"
        verb = "dropped" if change < 0 else "rose"
        suffix = f" ({', '.join(notes)})" if notes else ""
        drafts.append(
            Draft(
                kind,
                f"{label} {verb} to {_money(new.price, new.currency, ctx.locale)} at {ctx.shop}"
                f" (was {_money(old.price, old.currency, ctx.locale)}){suffix}",
                data,
            )
        )

    old_avail = old.availability
    if new.availability == OUT and old_avail == IN:
        drafts.append(
            Draft("sold_out", f"{label} sold out at {ctx.shop}", dict(base, old_availability=old_avail))
        )
    drafts.extend(_restocks(ctx, old, new, label, base))
    return drafts


def _restocks(ctx: Context, old: State, new: State, label: str, base: dict[str, Any]) -> list[Draft]:
    """A restock (the listing back in stock) or a size restock (sizes back while others were in)."""
    # A size is "back" by the shop's own label; whether it is the collector's is a size comparison.
    old_in = {_same_label(s) for s in old.sizes_in_stock()}
    back = [s for s in new.sizes_in_stock() if _same_label(s) not in old_in] if old.sizes else []
    mine = ctx.mine()
    yours = {s: own for s in new.sizes_in_stock() if (own := your_size(new.placed(s), mine))}
    my_back = [s for s in back if s in yours]
    facts = dict(base, sizes_restocked=back, my_sizes_restocked=my_back)
    if yours:
        facts["my_sizes_as"] = yours
    if new.availability == IN and old.availability == OUT:
        in_stock = new.sizes_in_stock()
        sizes = f": sizes {', '.join(_shown(s, yours) for s in in_stock)}" if new.sizes else ""
        facts["old_availability"] = old.availability
        return [Draft("restock", f"{label} is back in stock at {ctx.shop}{sizes}", facts)]
    if back and new.availability == IN and old.availability == IN:
        sizes = ", ".join(_shown(s, yours) for s in back)
        return [Draft("size_restock", f"{label}: size {sizes} back in stock at {ctx.shop}", facts)]
    return []
