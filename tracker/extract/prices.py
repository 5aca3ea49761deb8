"""Where prices are parsed: amounts as Decimal, currencies as ISO 4217 codes."""

from __future__ import annotations

import re
import string
from decimal import Decimal, InvalidOperation

from price_parser.parser import extract_price_text, parse_number

from tracker.money import currency_of_territory

# Currencies whose shops write "2.449" for two thousand four hundred and forty-nine: no minor
# unit in everyday prices, and a dot (or comma) grouping thousands.
_NO_DECIMALS = frozenset(
    {"JPY", "KRW", "CLP", "ARS", "COP", "IDR", "VND", "HUF", "ISK", "PYG", "UGX", "KZT", "TWD"}
)
# No shoe costs this much in any currency (¥ 19,800 and ₩ 239,000 are far below); a larger number
# is a page's bug or an attack, and the database keeps amounts below 10^10 (NUMERIC(14, 4)).
MAX_AMOUNT = Decimal("100000000")
_THREE_DECIMALS = frozenset({"KWD", "BHD", "OMR", "JOD", "TND", "IQD", "LYD"})
_DOLLARS = frozenset(
    {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD", "BRL", "UYU"}
)
_KRONOR = {"sv": "SEK", "no": "NOK", "nb": "NOK", "nn": "NOK", "da": "DKK", "is": "ISK"}

# Symbols and words that name exactly one currency, longest first so "R$" beats "$".
_SYMBOLS: list[tuple[str, str]] = [
    ("R$", "BRL"),
    ("A$", "AUD"),
    ("AU$", "AUD"),
    ("C$", "CAD"),
    ("CA$", "CAD"),
    ("NZ$", "NZD"),
    ("HK$", "HKD"),
    ("S$", "SGD"),
    ("US$", "USD"),
    ("MX$", "MXN"),
    ("NT$", "TWD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
    ("円", "JPY"),
    ("￥", "JPY"),
    ("元", "CNY"),
    ("₩", "KRW"),
    ("원", "KRW"),
    ("₽", "RUB"),
    ("руб", "RUB"),
    ("₴", "UAH"),
    ("грн", "UAH"),
    ("zł", "PLN"),
    ("zl", "PLN"),
    ("Kč", "CZK"),
    ("₹", "INR"),
    ("Rs.", "INR"),
    ("₺", "TRY"),
    ("₪", "ILS"),
    ("₫", "VND"),
    ("฿", "THB"),
    ("₱", "PHP"),
    ("lei", "RON"),
    ("Lei", "RON"),
    ("Ft", "HUF"),
    ("лв", "BGN"),
    ("Rp", "IDR"),
    ("RM", "MYR"),
    ("د.إ", "AED"),
    ("Fr.", "CHF"),
    ("kn", "HRK"),
    ("Kn", "HRK"),
    ("тг", "KZT"),
    ("₸", "KZT"),
    ("NT$", "TWD"),
    ("ر.س", "SAR"),
]
_SYMBOLS.sort(key=lambda pair: -len(pair[0]))
# Letter symbols ("kn", "lei", "Ft") only count as whole words: "unknown" names no currency.
_SYMBOL_CODE = dict(_SYMBOLS)


def _starting_with(chars: set[str]) -> str:
    """A lookahead for the characters a pattern's alternatives start with: the engine tries each
    alternative at every position of a text, and this fails at once where none can start."""
    return "(?=[" + "".join(re.escape(char) for char in sorted(chars)) + "])"


# One pass finds the leftmost symbol; at one position the longest wins ("R$" before "$").
_SYMBOL_ALTERNATIVES = "|".join(
    r"(?<![^\W\d_])" + re.escape(sym) + r"(?![^\W\d_])" if sym[-1].isalpha() else re.escape(sym)
    for sym, _ in _SYMBOLS
)
_SYMBOL_STARTS = {sym[0] for sym, _ in _SYMBOLS}
_SYMBOL_ANY = re.compile(_starting_with(_SYMBOL_STARTS) + "(?:" + _SYMBOL_ALTERNATIVES + ")")
_ISO_RE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])")
_KNOWN_ISO = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "ISK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "BGN",
        "RUB",
        "UAH",
        "TRY",
        "ILS",
        "INR",
        "CNY",
        "HKD",
        "SGD",
        "KRW",
        "TWD",
        "THB",
        "VND",
        "IDR",
        "MYR",
        "PHP",
        "MXN",
        "BRL",
        "ARS",
        "CLP",
        "COP",
        "PEN",
        "UYU",
        "ZAR",
        "AED",
        "SAR",
        "QAR",
        "KWD",
        "BHD",
        "OMR",
        "JOD",
        "LBP",
        "EGP",
        "MAD",
        "NGN",
        "KES",
        "GHS",
        "TND",
        "IQD",
        "LYD",
        "PKR",
        "BDT",
        "LKR",
        "KZT",
        "BYN",
        "RSD",
        "HRK",
        "GEL",
        "AMD",
        "AZN",
        "PYG",
        "UGX",
    ]
)
_KR_RE = re.compile(r"(?<![A-Za-z])(kr|Kr|KR|kr\.)(?![A-Za-z])")
_NUMBER_RE = re.compile(r"\d[\d.,'\u00a0\u202f\u2009 ]*")


def _currency_of(text: str, currency_hint: str | None, page_lang: str | None) -> str | None:
    """The ISO code the text names, read with the source's hint and the page language."""
    hint = currency_hint.upper() if currency_hint else None
    for match in _ISO_RE.finditer(text):
        if match.group(1) in _KNOWN_ISO:
            return match.group(1)
    found = _SYMBOL_ANY.search(text)
    if found is not None:
        symbol = found.group(0)
        code = _SYMBOL_CODE[symbol]
        # "¥" is also the yuan; trust a CNY hint over the more common yen.
        if code == "JPY" and hint == "CNY" and symbol != "円":
            return "CNY"
        # "元" is the unit word for the yuan and the New Taiwan / Hong Kong dollar alike.
        if symbol == "元" and hint in ("TWD", "HKD", "MOP"):
            return hint
        return code
    if _KR_RE.search(text):
        if hint in ("SEK", "NOK", "DKK", "ISK"):
            return hint
        lang = (page_lang or "").lower()[:2]
        return _KRONOR.get(lang, "SEK")
    if "$" in text:
        return hint if hint in _DOLLARS else "USD"
    return hint


_DIGITS = re.compile(r"\d*")


def _decimal_separator(text: str, currency: str | None) -> str | None:
    """The decimal separator to force, when the currency settles what a lone separator means."""
    numbers = _NUMBER_RE.findall(text)
    if not numbers:
        return None
    digits = numbers[0].strip()
    seps = [c for c in digits if c in ".,"]
    if len(seps) != 1:
        return None
    tail = digits.rsplit(seps[0], 1)[1]
    tail_digits = _DIGITS.match(tail)
    n_tail = len(tail_digits.group(0)) if tail_digits else 0
    if n_tail != 3:
        return None
    if currency in _NO_DECIMALS:
        # "$2.449" or "3,500円": the lone separator groups thousands.
        return "," if seps[0] == "." else "."
    if currency in _THREE_DECIMALS:
        return str(seps[0])
    return None


# Country-code domains that shops worldwide register for their look, not their country: a ".co"
# or ".io" shop is no more Colombian or British Indian Ocean than any other.
_VANITY_TLDS = frozenset(
    {"io", "ai", "me", "tv", "ly", "fm", "gg", "to", "la", "cc", "ws", "nu", "sh", "ac", "so", "vc", "gl"}
    | {"am", "im", "ms", "tk", "ml", "ga", "cf", "gq", "st", "cx", "mu", "sc", "bz"}
)
_TLD_TERRITORY = {"uk": "GB"}


def _territory_currency(code: str) -> str | None:
    """The currency a country uses today (CLDR, through Babel): HR -> EUR since 2023."""
    return currency_of_territory(_TLD_TERRITORY.get(code, code).upper()) if len(code) == 2 else None


def currency_from_url(url: str | None) -> str | None:
    """The currency a shop's country domain suggests (www.shop.cl -> CLP, .hr -> EUR), or None."""
    if not url:
        return None
    from urllib.parse import urlparse

    tld = (urlparse(url).hostname or "").rsplit(".", 1)[-1].lower()
    return None if tld in _VANITY_TLDS else _territory_currency(tld)


def currency_from_lang(lang: str | None) -> str | None:
    """The currency a page language's region suggests (en-CA -> CAD, de-CH -> CHF), or None."""
    if not lang or len(lang) < 5:
        return None
    region = lang.replace("_", "-").split("-")[1].lower()
    return _territory_currency(region)


_NUMBER_TOKEN = re.compile(r"\d(?:[\d.,\u00a0\u202f\u2009 ]*\d)?")
_ANY_CURRENCY = re.compile(
    _starting_with(_SYMBOL_STARTS | {"$", "k", "K"} | set(string.ascii_uppercase))
    + "(?:"
    + _SYMBOL_ALTERNATIVES
    + r"|\$|(?<![A-Za-z])(?:[A-Z]{3}|kr|Kr)(?![A-Za-z]))"
)
# A currency written right before a number: "$" in "-$150", "USD" in "USD-150".
_ANY_CURRENCY_TAIL = re.compile(r"(?:" + _ANY_CURRENCY.pattern + r")\s?$")
_SPLIT_CENTS = re.compile(r"(?<![\d\s])(\d+)\s(\d{2})(?![\d])")
_MAX_GAP = 2  # spaces allowed between a number and its currency ("99 €", "CHF  149")
# Written amounts no shop means as a price: an exponent ("1e308" is not 1) or a sign ("-150.00"
# is not 150). JSON numbers are read as numbers; these rules are for text.
_EXPONENT = re.compile(r"\d[eE][+-]?\d")
_SIGNS = ("-", "+", "\u2212")


def _signed_or_exponent(text: str, *, signs: bool = True) -> bool:
    """Whether the first number in text carries a sign or an exponent ("-$150", "USD -150", "1e3")."""
    number = _NUMBER_TOKEN.search(text)
    if number is None:
        return False
    if _EXPONENT.match(text, number.end() - 1):
        return True
    if not signs:
        return False
    before = text[: number.start()]
    if before.endswith(_SIGNS):
        return True
    symbol = _ANY_CURRENCY_TAIL.search(before)
    return symbol is not None and before[: symbol.start()].endswith(_SIGNS)


def parse_amount(value: object) -> Decimal | None:
    """A machine-written amount (JSON number or "129.99" in a content attribute) as Decimal."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if not text or _signed_or_exponent(text):
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            parsed, _ = parse_price(value)
            return parsed
    else:
        return None
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        return None
    return amount


def _near_symbol(text: str) -> str:
    """The part of text holding the number written closest to a currency ("Buy 2, $99" -> "$99").

    A number and a currency belong together when only spaces (at most two) stand between them;
    the tightest pair wins ("Size 9 $150" is $150), and of equally tight pairs the first.
    """
    numbers = list(_NUMBER_TOKEN.finditer(text))
    if len(numbers) < 2:
        return text
    symbols = [(m.start(), m.end()) for m in _ANY_CURRENCY.finditer(text)]
    if not symbols:
        return text
    best: tuple[int, int, int] | None = None  # (gap, start, end) of the part to keep
    for number in numbers:
        for start, end in symbols:
            if number.end() <= start:  # "99 €"
                between, part = text[number.end() : start], (number.start(), end)
            elif end <= number.start():  # "$99"
                between, part = text[end : number.start()], (start, number.end())
            else:
                continue
            gap = len(between)
            if gap <= _MAX_GAP and not between.strip() and (best is None or gap < best[0]):
                best = (gap, *part)
    return text if best is None else text[best[1] : best[2]]


_APOSTROPHE_GROUP = re.compile(r"(?<=\d)['’](?=\d{3})")
_DECIMAL_MARK = re.compile(r"\d[.,]\d")


def parse_price(
    text: str, *, currency_hint: str | None = None, page_lang: str | None = None
) -> tuple[Decimal | None, str | None]:
    """The first amount in text and its ISO 4217 currency; (None, currency) when no price."""
    if not text:
        return None, currency_hint
    text = text.strip()
    currency = _currency_of(text, currency_hint, page_lang)
    if not any(ch.isdigit() for ch in text):
        return None, currency
    # "CHF 1'049,95": price-parser does not know the Swiss apostrophe.
    cleaned = _APOSTROPHE_GROUP.sub("", text) if "'" in text or "’" in text else text
    if _signed_or_exponent(cleaned, signs=False):
        return None, currency  # "1.5E2 EUR": the symbol is next to the exponent, not a price
    cleaned = _near_symbol(cleaned)
    # "$229 99": cents set apart (a <sup>) read as a space; thousands groups have three digits.
    cleaned = _SPLIT_CENTS.sub(r"\1.\2", cleaned) if not _DECIMAL_MARK.search(cleaned) else cleaned
    if _signed_or_exponent(cleaned):
        return None, currency
    sep = _decimal_separator(cleaned, currency)
    # price-parser's Price.fromstring without its currency guess (the currency is read above).
    amount_text = extract_price_text(cleaned)
    amount = parse_number(amount_text, sep) if amount_text is not None else None
    if amount is None or not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        return None, currency
    return amount, currency
