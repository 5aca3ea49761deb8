"""Alert rules: which channels an event goes to.

Rules (config ``[[alerts.rules]]``)
    A rule names alert kinds (``on``), the channels to use (empty: every enabled channel) and the
    colorways it covers (style codes; empty: every colorway and every discovered listing). An event
    goes to the union of the channels of every rule it matches, one row per channel. Kinds:

    - ``new_listing`` / ``new_colorway``: the pipeline found a new product / a new 2002R colorway.
    - ``restock``: the listing came back in stock; with ``only_my_sizes`` it must be in one of your
      sizes, and then a single size of yours coming back (a ``size_restock`` event) counts too.
    - ``size_restock``: sizes came back while others were already in stock (yours only with
      ``only_my_sizes``). A colorway with no sizes set counts every size as yours. Sizes compare as
      sizes, not strings (tracker.sizes): a shop's "UK 9.5" is your "10" in US men's, its "UK 10"
      is not, and a size the tracker could not place in a system is never yours.
    - ``price_below_target`` / ``price_below_list``: a price drop that crosses your target (at or
      below it) / the list price (strictly below), or a new listing or restock already under it.
      Prices compare in the event's currency only.
    - ``price_drop``: any drop, or only drops of at least ``min_drop_percent`` percent or
      ``min_drop_amount`` units (when both are set, either is enough).
    - ``price_rise``: any rise (a markdown ending, a resale price climbing).
    - ``release_announced``, ``release_changed``, ``going_live``, ``sold_out``: the event of that name.
    - ``source_broken``: a shop check starts failing, and when it works again.

    ``lowest_in_days = N`` narrows a rule to events whose price is at or below every buyable price
    (in stock or unknown, not suspect, same currency) the colorway had at any shop over the last N
    days, the price held when the window opened included: Keepa's "lowest price in N days". Events
    without a price, and listings matching no colorway, never pass it.

    A colorway with ``snooze_until`` (a date in the config's timezone) sends nothing through that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db.models import Colorway as DbColorway
from db.models import Event
from tracker.config import Config, Rule
from tracker.money import to_decimal
from tracker.pricing import list_price as list_price_of
from tracker.sizes import US_MEN, Size, collector_size

LISTING_KINDS = ("new_listing", "new_colorway")
RESTOCK_KINDS = ("restock", "size_restock")
# Kinds whose value is buying now: a price threshold reached by one of these is worth an alert too.
BUYABLE_KINDS = ("new_listing", "new_colorway", "restock", "size_restock")


@dataclass(frozen=True)
class Facts:
    style_code: str | None
    currency: str | None
    price: Decimal | None
    old_price: Decimal | None
    list_price: Decimal | None
    target_price: Decimal | None
    my_sizes: tuple[Size, ...]
    size_system: str = US_MEN


def str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def facts_of(event: Event, colorway: DbColorway | None, config: Config | None) -> Facts:
    data = event.data or {}
    style = colorway.style_code if colorway is not None else data.get("style_code")
    style = str(style).upper() if style else None
    currency = str(data["currency"]).upper() if data.get("currency") else None
    list_price = to_decimal(data.get("list_price"))
    target = to_decimal(data.get("target_price"))
    sizes: list[str] = []
    system = config.size_system if config is not None else US_MEN
    if colorway is not None:
        sizes = list(colorway.sizes)
        if currency and list_price is None:
            list_price = list_price_of(colorway.list_prices, colorway.line, currency)
        if currency and target is None:
            target = to_decimal(colorway.target_prices.get(currency))
    configured = config.colorway(style) if config is not None and style else None
    if configured is not None:
        sizes = sizes or list(configured.sizes)
        if currency and list_price is None:
            list_price = list_price_of(configured.list_price, configured.line, currency)
        if currency and target is None and currency in configured.target_price:
            target = configured.target_price[currency]
    return Facts(
        style_code=style,
        currency=currency,
        price=to_decimal(data.get("price")),
        old_price=to_decimal(data.get("old_price")),
        list_price=list_price,
        target_price=target,
        my_sizes=tuple(collector_size(s, system) for s in sizes),
        size_system=system,
    )


def _mine(sizes: list[str], facts: Facts, data: dict[str, Any]) -> bool:
    """Whether any of the event's sizes is one of yours, compared as placed sizes."""
    # With no sizes set there is nothing to filter on: every size counts as yours.
    if not facts.my_sizes:
        return True
    placed = data.get("sizes_placed")
    placed = placed if isinstance(placed, dict) else {}
    for label in sizes:
        stored = placed.get(label)
        # An event written before sizes were placed: its labels are read as the collector wrote theirs.
        size = (
            Size.from_json({"size": label, **stored})
            if isinstance(stored, dict)
            else collector_size(label, facts.size_system)
        )
        if any(size.matches(own) for own in facts.my_sizes):
            return True
    return False


def _crossed(event: Event, facts: Facts, threshold: Decimal | None, flag: str, *, strict: bool) -> bool:
    if threshold is None or facts.price is None:
        return False
    under = facts.price < threshold if strict else facts.price <= threshold
    if not under:
        return False
    if event.kind in BUYABLE_KINDS:
        return True
    if event.kind != "price_drop":
        return False
    explicit = (event.data or {}).get(flag)
    if isinstance(explicit, bool):
        return explicit
    if facts.old_price is None:
        return False
    return facts.old_price >= threshold if strict else facts.old_price > threshold


def _drop_big_enough(rule: Rule, facts: Facts) -> bool:
    if rule.min_drop_percent is None and rule.min_drop_amount is None:
        return True
    if facts.price is None or facts.old_price is None or facts.old_price <= 0:
        return False
    drop = facts.old_price - facts.price
    by_amount = rule.min_drop_amount is not None and drop >= rule.min_drop_amount
    by_percent = rule.min_drop_percent is not None and drop * 100 / facts.old_price >= rule.min_drop_percent
    return by_amount or by_percent


def _kind_matches(kind: str, rule: Rule, event: Event, facts: Facts) -> bool:
    data = event.data or {}
    if kind in LISTING_KINDS:
        return event.kind == kind
    if kind == "restock":
        if event.kind == "restock":
            in_stock = str_list(data.get("sizes_in_stock"))
            return not rule.only_my_sizes or not in_stock or _mine(in_stock, facts, data)
        if event.kind == "size_restock" and rule.only_my_sizes:
            back = str_list(data.get("my_sizes_restocked")) or str_list(data.get("sizes_restocked"))
            return bool(back) and _mine(back, facts, data)
        return False
    if kind == "size_restock":
        if event.kind != "size_restock":
            return False
        back = str_list(data.get("my_sizes_restocked")) or str_list(data.get("sizes_restocked"))
        return not rule.only_my_sizes or (bool(back) and _mine(back, facts, data))
    if kind == "price_below_target":
        return _crossed(event, facts, facts.target_price, "crossed_target", strict=False)
    if kind == "price_below_list":
        return _crossed(event, facts, facts.list_price, "crossed_list", strict=True)
    if kind == "price_drop":
        return event.kind == "price_drop" and _drop_big_enough(rule, facts)
    if kind == "price_rise":
        return event.kind == "price_rise"
    if kind == "source_broken":
        return event.kind in ("source_broken", "source_recovered")
    return event.kind == kind


def _lowest_enough(rule: Rule, facts: Facts, lows: Mapping[int, Decimal | None] | None) -> bool:
    if rule.lowest_in_days is None:
        return True
    if facts.price is None or lows is None or rule.lowest_in_days not in lows:
        return False
    low = lows[rule.lowest_in_days]
    return low is None or facts.price <= low


def rule_matches(
    rule: Rule,
    event: Event,
    colorway: DbColorway | None,
    config: Config | None = None,
    lows: Mapping[int, Decimal | None] | None = None,
) -> bool:
    """Whether one rule fires for one event (colorway filter, kinds, sizes and price thresholds).

    lows maps a number of days to the lowest buyable price of the event's colorway over that
    window (None: no price in it), for rules with lowest_in_days.
    """
    facts = facts_of(event, colorway, config)
    if rule.colorways and facts.style_code not in rule.colorways:
        return False
    if not any(_kind_matches(kind, rule, event, facts) for kind in rule.on):
        return False
    return _lowest_enough(rule, facts, lows)


def matching_channels(
    event: Event,
    colorway: DbColorway | None,
    config: Config,
    lows: Mapping[int, Decimal | None] | None = None,
) -> list[str]:
    """The enabled channels any rule sends this event to, sorted."""
    enabled = [c.name for c in config.alerts.channels if c.enabled]
    chosen: set[str] = set()
    for rule in config.alerts.rules:
        if rule_matches(rule, event, colorway, config, lows):
            chosen.update(rule.channels or enabled)
    return sorted(name for name in chosen if name in enabled)


def snoozed_until(config: Config, style_code: str | None, now: datetime) -> str | None:
    """The snooze date (ISO) when the colorway is snoozed at now, else None."""
    configured = config.colorway(style_code) if style_code else None
    if configured is None or configured.snooze_until is None:
        return None
    if now.astimezone(config.tz()).date() <= configured.snooze_until:
        return configured.snooze_until.isoformat()
    return None
