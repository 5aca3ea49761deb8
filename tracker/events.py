"""Detecting events: compare a listing's new state with its previous one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tracker.extract.model import Availability
from tracker.money import format_money

IN = Availability.IN_STOCK.value
OUT = Availability.OUT_OF_STOCK.value


@dataclass(frozen=True)
class State:
    """What an observation says, in comparable form."""

    price: Decimal | None
    currency: str | None
    compare_at: Decimal | None
    availability: str
    sizes: tuple[tuple[str, str, str | None], ...]

    @staticmethod
    def of(
        price: Decimal | None,
        currency: str | None,
        compare_at: Decimal | None,
        availability: str,
        sizes: Sequence[dict[str, Any]],
    ) -> State:
        return State(
            price,
            currency,
            compare_at,
            availability,
            tuple(
                sorted(
                    (str(s["size"]), str(s.get("availability") or "unknown"), s.get("price")) for s in sizes
                )
            ),
        )

    def sizes_in_stock(self) -> list[str]:
        return [size for size, avail, _ in self.sizes if avail == IN]


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


def _norm_size(size: str) -> str:
    return size.strip().upper().removeprefix("US").removeprefix("UK").removeprefix("EU").strip()


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
    old_in = {_norm_size(s) for s in old.sizes_in_stock()}
    back = [s for s in new.sizes_in_stock() if _norm_size(s) not in old_in] if old.sizes else []
    mine = {_norm_size(s) for s in ctx.my_sizes}
    my_back = [s for s in back if _norm_size(s) in mine]
    if new.availability == IN and old_avail == OUT:
        sizes = f": sizes {', '.join(new.sizes_in_stock())}" if new.sizes else ""
        drafts.append(
            Draft(
                "restock",
                f"{label} is back in stock at {ctx.shop}{sizes}",
                dict(base, old_availability=old_avail, sizes_restocked=back, my_sizes_restocked=my_back),
            )
        )
    elif back and new.availability == IN and old_avail == IN:
        drafts.append(
            Draft(
                "size_restock",
                f"{label}: size {', '.join(back)} back in stock at {ctx.shop}",
                dict(base, sizes_restocked=back, my_sizes_restocked=my_back),
            )
        )
    return drafts
