"""The sanity guard: a price far from the list price or the last price is held until confirmed.

Thresholds (documented in the README):
- against the colorway's list price in the same currency: below 30 % or above 300 % of it;
- against the listing's last confirmed price in the same currency: a fall of more than 60 %
  (new < 40 % of old) or a rise of more than 150 % (new > 250 % of old).
A suspect price is stored marked as suspect (the dashboard shows it as such), fires no event,
and becomes an ordinary observation only when the next check sees the same price again.
"""

from __future__ import annotations

from decimal import Decimal

LIST_LOW = Decimal("0.30")
LIST_HIGH = Decimal("3.00")
LAST_LOW = Decimal("0.40")
LAST_HIGH = Decimal("2.50")


def suspicious(
    price: Decimal | None,
    currency: str | None,
    *,
    list_prices: dict[str, str],
    last_price: Decimal | None = None,
    last_currency: str | None = None,
) -> str | None:
    """Why a price should be held as suspect, or None when it looks plausible."""
    if price is None or currency is None:
        return None
    if currency in list_prices:
        list_price = Decimal(list_prices[currency])
        if price < list_price * LIST_LOW:
            return f"{price} {currency} is under {LIST_LOW:.0%} of the list price {list_price}"
        if price > list_price * LIST_HIGH:
            return f"{price} {currency} is over {LIST_HIGH:.0%} of the list price {list_price}"
    if last_price is not None and last_currency == currency and last_price > 0:
        ratio = price / last_price
        if ratio < LAST_LOW:
            return f"{price} {currency} is a fall of more than {1 - LAST_LOW:.0%} from {last_price}"
        if ratio > LAST_HIGH:
            return f"{price} {currency} is over {LAST_HIGH:.0%} of the last price {last_price}"
    return None
