"""Money: ISO 4217 codes, amounts from stored text, and one formatter (CLDR, through Babel).

Alerts, the dashboard and the command line all format prices with format_money, in the locale
config.toml names (``locale``, default en_US): $130.00, £99.99, ¥16,000, CHF 149.95, 170,00 €.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

DEFAULT_LOCALE = "en_US"
_LETTER_SYMBOL = re.compile(r"^(-?)([^\W\d_]+)(\d)")


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def is_currency(code: str | None) -> bool:
    """Whether code is an ISO 4217 currency code CLDR knows (USD, EUR, JPY...; not XYZ)."""
    return bool(code) and str(code) in _currencies()


def minor_digits(currency: str | None) -> int:
    """Digits after the decimal point in a currency's amounts: 2 for USD, 0 for JPY, 3 for KWD."""
    if not is_currency(currency):
        return 2
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(str(currency)))


@lru_cache(maxsize=512)
def currency_of_territory(territory: str) -> str | None:
    """The currency a country uses today (HR -> EUR, GB -> GBP), or None for an unknown code."""
    from babel.numbers import get_territory_currencies

    try:
        found = get_territory_currencies(territory.upper(), date.today(), tender=True)
    except Exception:  # Babel raises several kinds for codes it does not know
        return None
    return str(found[0]) if found else None


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal from a decimal string or number (stored data, event data); None when absent or not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


@lru_cache(maxsize=64)
def _locale(name: str | None) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(name or DEFAULT_LOCALE)
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def format_money(amount: Decimal | None, currency: str | None, locale: str | None = None) -> str:
    """A price as the locale writes it ($130.00, £99.99, ¥16,000, CHF 149.95); "" for no amount.

    A code CLDR does not know is written after the number ("130.00 XYZ"), never guessed.
    """
    if amount is None:
        return ""
    code = (currency or "").upper()
    if not is_currency(code):
        text = f"{amount.quantize(Decimal('0.01')):,}"
        return f"{text} {code}".strip()
    from babel.numbers import format_currency

    text = str(format_currency(amount, code, locale=_locale(locale)))
    # CLDR writes "CHF149.95" in English; a letter symbol reads better apart from its digits.
    return _LETTER_SYMBOL.sub(r"\1\2 \3", text)


def format_signed_money(amount: Decimal | None, currency: str | None, locale: str | None = None) -> str:
    """+$10.00 / -$30.00, for differences."""
    if amount is None:
        return ""
    return ("+" if amount > 0 else "") + format_money(amount, currency, locale)
