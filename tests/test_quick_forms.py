"""The quicker forms of page reading find exactly what the plain forms find.

Each plain form below is the pattern, code or selector as first written; the module's form is
written for speed (a lookahead that fails at once where no alternative can start, price-parser
without its currency guess, elements by name instead of a selector's walk over every element).
Both read the same texts and pages and must agree on every match, result and element.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from price_parser import Price
from selectolax.lexbor import LexborHTMLParser

from tracker.extract import prices, visible
from tracker.extract.jsonld import loads_lenient
from tracker.extract.page import _jsonld_blocks, extract_page
from tracker.extract.prices import parse_price

DATA = Path(__file__).parent / "data"

_PLAIN_SYMBOL_ANY = re.compile(
    "|".join(
        r"(?<![^\W\d_])" + re.escape(sym) + r"(?![^\W\d_])" if sym[-1].isalpha() else re.escape(sym)
        for sym, _ in prices._SYMBOLS
    )
)
_PLAIN_ANY_CURRENCY = re.compile(
    _PLAIN_SYMBOL_ANY.pattern + r"|\$|(?<![A-Za-z])(?:[A-Z]{3}|kr|Kr)(?![A-Za-z])"
)
_PLAIN_ANY_CURRENCY_TAIL = re.compile(r"(?:" + _PLAIN_ANY_CURRENCY.pattern + r")\s?$")
_PLAIN_MONEY = re.compile(
    r"[$€£¥₽₹₩₺₪₫฿₱₴]|(?<![^\W\d_])(USD|EUR|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|CAD|AUD|NZD|RON|HUF|BRL|ZAR|"
    r"AED|SAR|QAR|KWD|ILS|INR|MXN|CLP|COP|ARS|PEN|TRY|RUB|UAH|KZT|SGD|HKD|MYR|THB|PHP|IDR|"
    r"kr|zł|Kč|Kn|kn|lei|Lei|Ft|Rs|руб|грн|лв|тг|TL|RM)(?![^\W\d_])|円|원|р\.|zl\b|ر\.س|د\.إ|ريال|درهم",
    re.I,
)


_PLAIN_CART_ATTR = re.compile(
    r"add-?to-?(cart|bag|basket|trolley)|addto(cart|bag|basket)|add_to_(cart|bag|basket)|buy-?now|"
    r"buy-?button|btn-?cart|cart-?button|atc|add-?cart|addcart|purchase|buybox|product-form__submit",
    re.I,
)


def _plain_parse_price(
    text: str, *, currency_hint: str | None = None, page_lang: str | None = None
) -> tuple[Decimal | None, str | None]:
    """parse_price as first written: Price.fromstring, and the patterns compiled at each call."""
    if not text:
        return None, currency_hint
    text = text.strip()
    currency = prices._currency_of(text, currency_hint, page_lang)
    if not any(ch.isdigit() for ch in text):
        return None, currency
    cleaned = re.sub(r"(?<=\d)['’](?=\d{3})", "", text)
    if prices._signed_or_exponent(cleaned, signs=False):
        return None, currency
    cleaned = prices._near_symbol(cleaned)
    cleaned = prices._SPLIT_CENTS.sub(r"\1.\2", cleaned) if not re.search(r"\d[.,]\d", cleaned) else cleaned
    if prices._signed_or_exponent(cleaned):
        return None, currency
    sep = prices._decimal_separator(cleaned, currency)
    amount = Price.fromstring(cleaned, decimal_separator=sep).amount
    if amount is None or not amount.is_finite() or amount <= 0 or amount >= prices.MAX_AMOUNT:
        return None, currency
    return amount, currency


# Pieces of price texts: signs and symbols of every kind, the letters that fold onto others when
# case is ignored ("ſ" is an "s", "K" the Kelvin sign a "k"), separators, words around prices.
_PIECES = [
    *(sym for sym, _ in prices._SYMBOLS),
    *"$€£¥₽₹₩₺₪₫฿₱₴円원",
    "USD", "usd", "EUR", "Eur", "GBP", "CHF", "SEK", "kr", "Kr", "KR", "kr.", "zł", "zl", "Kč", "KČ", "Kn",
    "lei", "Ft", "Rs", "Rs.", "руб", "РУБ", "грн", "лв", "тг", "TL", "RM", "р.", "ر.س", "د.إ", "ريال", "درهم",
    "ABC", "XYZ", "ſ", "K", "İ", "ı", "é", "a", "B", "ok",
    "0", "1", "9", "12", "150", "1.5", "229", "99", "1 049", "3,500", "2.449", "0.00", "1e308", "1E3",
    ".", ",", "'", "’", " ", "  ", "\u00a0", "\u202f", "\u2009", "-", "+", "\u2212", "%", "/", ":", "·",
    "from", "Free", "Was", "Approximately", "Price:", "\n",
    "add", "ADD", "-to-", "to", "_to_", "cart", "Cart", "bag", "basket", "trolley", "buy", "now", "btn",
    "button", "atc", "ATC", "purchase", "buybox", "product-form__submit", "ſ", "K", "product", "card",
]  # fmt: skip


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 9))) for _ in range(count)]


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(found.span(), found.groups()) for found in pattern.finditer(text)]


_CHARS = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001d42c", "\U0001f600"]
_MONEY_STARTS = "$€£¥₽₹₩₺₪₫฿₱₴UEGCSNDPJAZRHBQKIMTkzLFrрглт円원ر"
_CURRENCY_STARTS = {sym[0] for sym, _ in prices._SYMBOLS} | set("$kKABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.mark.parametrize(
    ("plain", "quick", "starts"),
    [
        (_PLAIN_SYMBOL_ANY, prices._SYMBOL_ANY, {sym[0] for sym, _ in prices._SYMBOLS}),
        (_PLAIN_ANY_CURRENCY, prices._ANY_CURRENCY, _CURRENCY_STARTS),
        (_PLAIN_ANY_CURRENCY_TAIL, prices._ANY_CURRENCY_TAIL, _CURRENCY_STARTS),
        (_PLAIN_MONEY, visible._MONEY, set(_MONEY_STARTS + "د")),
        (_PLAIN_CART_ATTR, visible._CART_ATTR, set("abcp")),
    ],
    ids=["symbol", "any-currency", "currency-tail", "money", "cart-attr"],
)
def test_the_quick_pattern_matches_what_the_plain_one_matches(
    plain: re.Pattern[str], quick: re.Pattern[str], starts: set[str]
) -> None:
    for text in _texts(15, 20_000):
        assert _matches(quick, text) == _matches(plain, text), text
    # Every character that the plain pattern (ignoring case, if it does) could start a match with,
    # in the first plane and a few beyond, gets past the quick one's lookahead.
    lookahead = quick.pattern.index("(?=")
    guard = re.compile(quick.pattern[lookahead : quick.pattern.index("])", lookahead) + 2], quick.flags)
    first = re.compile("[" + "".join(map(re.escape, sorted(starts))) + "]", plain.flags)
    for char in _CHARS:
        assert not first.match(char) or guard.match(char), hex(ord(char))


def test_parse_price_reads_what_it_read_with_price_parser_whole() -> None:
    hints = [None, "USD", "usd", "EUR", "JPY", "CNY", "SEK", "NOK", "KWD", "HKD", "CHF"]
    langs = [None, "en", "sv", "da", "nb", "de-CH"]
    rng = random.Random(1515)
    priced = 0
    for text in _texts(1516, 30_000):
        hint, lang = rng.choice(hints), rng.choice(langs)
        expected = _plain_parse_price(text, currency_hint=hint, page_lang=lang)
        assert parse_price(text, currency_hint=hint, page_lang=lang) == expected, (text, hint, lang)
        priced += expected[0] is not None
    assert priced > 5_000  # the texts hold prices, not only noise


_TRICKY = (
    '<html><head><script type="application/LD+JSON">{"@type": "Product", "name": "a"}</script>'
    '<script type="text/ld+json; charset=utf-8">{"name": "b"}</script><script type="application/json">'
    '{"name": "c"}</script><script>{"name": "d"}</script><script type>{"name": "e"}</script>'
    '<META name="x" content="1"></head><body><svg><title>icon</title><script>1</script></svg>'
    "<template><h1>template</h1><meta name=y><select></select></template><H1>Title</H1>"
    '<math><mi>x</mi></math><x:h1>ns</x:h1><label for="s">Size</label><label>no for</label>'
    '<SELECT id="s"><option>9</option></SELECT></body></html>'
)


def _pages() -> list[str]:
    paths = sorted((DATA / "extract").glob("*.htm*")) + sorted((DATA / "releases").glob("*.htm*"))
    return [_TRICKY, *(path.read_bytes().decode("utf-8", "replace") for path in paths)]


@pytest.mark.parametrize("name", ["h1", "meta", "script", "select", "label"])
def test_elements_by_name_are_the_elements_the_selector_finds(name: str) -> None:
    for page in _pages():
        tree = LexborHTMLParser(page)
        assert [n.mem_id for n in tree.tags(name)] == [n.mem_id for n in tree.css(name)]


def test_the_json_ld_blocks_are_those_the_type_selector_finds() -> None:
    for page in _pages():
        tree = LexborHTMLParser(page)
        plain = [loads_lenient(n.text(deep=False) or "") for n in tree.css('script[type*="ld+json" i]')]
        assert _jsonld_blocks(tree) == [data for data in plain if data is not None]
    assert [block["name"] for block in _jsonld_blocks(LexborHTMLParser(_TRICKY))] == ["a", "b"]


_LD = (
    '{"@type": "Product", "name": "Кроссовки 2002R «Rain Cloud»", '
    '"offers": {"price": "150.00", "priceCurrency": "EUR"}}'
)
_ENCODED_PAGE = (
    '<html><head><meta charset="{charset}"><script type="application/ld+json">' + _LD + "</script></head>"
    "<body><h1>Кроссовки 2002R «Rain Cloud»</h1><p class=price>150,00 €</p></body></html>"
)


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "windows-1251"])
def test_the_page_is_parsed_as_the_text_its_charset_gives(charset: str) -> None:
    page = _ENCODED_PAGE.replace("{charset}", charset)
    body = page.encode(charset)
    product = extract_page(body, "https://shop.example/p/2002r")
    # Bytes in another encoding than UTF-8 would read as noise if handed to the parser as they are.
    assert product.title == "Кроссовки 2002R «Rain Cloud»"
    assert (product.price, product.currency) == (Decimal("150.00"), "EUR")
    if charset == "utf-8":  # a byte-order mark is kept as the text's first character, as decode() reads it
        with_bom = b"\xef\xbb\xbf" + body
        assert extract_page(with_bom, "https://shop.example/p/2002r").title == product.title


def test_utf8_bytes_and_their_text_are_read_alike() -> None:
    for path in sorted((DATA / "extract").glob("*.htm*")):
        body = path.read_bytes()
        from_bytes = extract_page(body, "https://shop.example/products/x")
        from_text = extract_page(body.decode("utf-8"), "https://shop.example/products/x")
        assert (from_bytes, from_bytes.extra) == (from_text, from_text.extra), path
