"""Prices read exactly: the currency a unit word or "kr" means with the shop's hint, amounts at the
edges of what a price can be, and text that holds digits but no price. (Cases found by mutation
testing: each would read a wrong price or crash if the rule it pins were changed.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.extract.prices import MAX_AMOUNT, currency_from_lang, parse_amount, parse_price


@pytest.mark.parametrize(
    ("hint", "currency"),
    [
        (None, "CNY"),
        ("TWD", "TWD"),
        ("HKD", "HKD"),
        ("hkd", "HKD"),
        ("MOP", "MOP"),
        ("mop", "MOP"),
        ("JPY", "CNY"),
    ],
)
def test_the_yuan_unit_word_is_the_hinted_dollar_where_it_is_written_so(
    hint: str | None, currency: str
) -> None:
    assert parse_price("100 元", currency_hint=hint) == (Decimal("100"), currency)


@pytest.mark.parametrize(
    ("hint", "lang", "currency"),
    [
        (None, None, "SEK"),
        (None, "nb", "NOK"),
        (None, "da", "DKK"),
        ("SEK", "nb", "SEK"),  # the shop's word beats the page's language
        ("sek", "da", "SEK"),
        ("NOK", "sv", "NOK"),
        ("DKK", "sv", "DKK"),
        ("dkk", "nb", "DKK"),
        ("ISK", "sv", "ISK"),
        ("EUR", "nb", "NOK"),  # a hint that is no krona does not make "kr" a euro
    ],
)
def test_kronor_by_the_shops_hint_then_the_page_language(
    hint: str | None, lang: str | None, currency: str
) -> None:
    assert parse_price("kr 999", currency_hint=hint, page_lang=lang) == (Decimal("999"), currency)


@pytest.mark.parametrize(
    ("lang", "currency"), [("en-UK", "GBP"), ("en-uk", "GBP"), ("en_GB", "GBP"), ("de-CH", "CHF")]
)
def test_a_page_language_region_names_its_currency(lang: str, currency: str) -> None:
    assert currency_from_lang(lang) == currency


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("1,299.00", Decimal("1299.00")),  # not a plain decimal: read as a written price
        ("$150", Decimal("150")),
        ("1", Decimal("1")),
        ("0.5", Decimal("0.5")),
        (1, Decimal("1")),
        (0, None),
        ("0.00", None),
        (-5, None),
        (MAX_AMOUNT - 1, MAX_AMOUNT - 1),
        (MAX_AMOUNT, None),
        (str(MAX_AMOUNT), None),
        (True, None),
        ("", None),
    ],
)
def test_machine_written_amounts_at_the_edges(value: object, amount: Decimal | None) -> None:
    assert parse_amount(value) == amount


@pytest.mark.parametrize("text", ["¹²", "²", "Size ²"])
def test_digits_that_are_no_number_give_no_price(text: str) -> None:
    assert parse_price(text) == (None, None)


def test_numbers_far_from_their_currency_read_the_first_number() -> None:
    # No number stands next to "USD" (a dash is between): the text is read as written.
    assert parse_price("Was 150, now 120 - see USD rates") == (Decimal("150"), "USD")
