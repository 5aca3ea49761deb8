"""The list-price rule, in one place: a colorway's own list price per currency, else its line's.

New Balance lists the 2002R at $130 and the Protection Pack at $150. Only those US prices are
defaults: a list price is per currency and is never converted, so a colorway sold in euros or
yen has a list price there only when config.toml gives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

PROTECTION_PACK_USD = Decimal(150)
STANDARD_USD = Decimal(130)


def line_list_prices(line: str | None) -> dict[str, Decimal]:
    """The default list prices of a line: $150 for the Protection Pack, $130 for any other 2002R."""
    if line and "protection" in line.lower():
        return {"USD": PROTECTION_PACK_USD}
    return {"USD": STANDARD_USD}


def _amount(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def effective_list_prices(own: Mapping[str, object], line: str | None) -> dict[str, str]:
    """Currency -> list price (as a decimal string): the colorway's own, over its line's defaults."""
    out = {cur: str(amount) for cur, amount in line_list_prices(line).items()}
    for currency, value in own.items():
        amount = _amount(value)
        if amount is not None:
            out[str(currency).upper()] = str(amount)
    return out


def list_price(own: Mapping[str, object], line: str | None, currency: str | None) -> Decimal | None:
    """The list price in one currency (the colorway's own, else its line's default), or None."""
    if not currency:
        return None
    return _amount(effective_list_prices(own, line).get(currency.upper()))
