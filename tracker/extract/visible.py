"""Heuristics over the visible page: the main price, struck-through prices, stock words, buy buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from tracker.extract.model import Availability
from tracker.extract.prices import parse_price

# Class / id words that mark a price as the old, struck-through one.
_OLD_WORDS = re.compile(
    r"old|was|regular|compare|strike|crossed|before|original|list-?price|listprice|rrp|uvp|msrp|"
    r"reference|retail|prev|initial|full-?price|base-?price|oldprice|price--del|discount-amount|saving|save",
    re.I,
)
# Words that mark the price a buyer pays now.
_NOW_WORDS = re.compile(r"sale|special|current|final|now|our|actual|deal|promo|selling|buybox|main", re.I)
# Containers of other products (recommendations, carousels, bundles) whose prices are not ours.
_OTHER_WORDS = re.compile(
    r"related|recommend|similar|carousel|upsell|up-sell|cross-?sell|recently|viewed|bundle|sponsored|"
    r"also-|-also|swiper-slide|slick-slide|owl-item|glide__slide|accessor|installment|instalment|klarna|"
    r"afterpay|per-?month|monthly|unit-?price|minicart|mini-cart|cart-drawer|basket-?summary|"
    r"shipping-?(cost|price|fee)|delivery-?(cost|price|fee)|other-?(offers?|sellers?)|more-?(offers|sellers)",
    re.I,
)
# Page chrome: prices and badges there belong to the shop, not the product. (<header> and <nav>
# are not chrome: shops put the product's own title bar and sticky buy bar in them.)
_CHROME_TAGS = frozenset({"footer", "aside"})
# Delivery costs, instalments and savings are prices of something else.
_SHIPPING = re.compile(
    r"shipping|delivery|postage|versand|lieferung|livraison|envío|envio|spedizione|verzending|frakt|"
    r"fragt|toimitus|dostawa|doprava|доставка|kargo|save|saving|you save|économisez|sparen|ahorra|risparmi",
    re.I,
)
# Words before a list price in the text itself ("UVP € 149,99", "Was £60").
_OLD_TEXT = re.compile(
    r"\b(uvp|rrp|msrp|statt|was|before|regular|list\s+price|original|antes|prima|avant|vorher|"
    r"normalpris|ordinarie|tidligere|voorheen|ovh|ord\.|era)\b",
    re.I,
)
_PER_VARIANT = re.compile(r"variant|swatch|size-?(list|select|option|picker)|option-?value", re.I)
_NET_WORDS = re.compile(r"net|excl|without-?tax|ex-?vat|notax|no-tax", re.I)
_FROM_TEXT = re.compile(r"^\s*(from|ab|dès|desde|da|vanaf|fra|från|od|от|起)\b", re.I)
# A conversion into the buyer's currency is an estimate, not the shop's price.
_APPROX = re.compile(r"\b(approx|approximately|about|circa|ca\.|environ|ungefähr|etwa|aprox)", re.I)
_PER_UNIT = re.compile(
    r"/\s*(kg|g|l|ml|m|m²|m2|100\s*g|100\s*ml|st|pc|pcs|stk|unit)\b|per\s+(kg|l|m)\b", re.I
)
# Currency codes count when written against the digits too ("EUR15.99"), never inside a word. Every
# alternative starts with a currency sign or a letter: the lookahead spares the engine trying each
# of them at every digit, space and dot of a price.
_MONEY = re.compile(
    r"(?=[$€£¥₽₹₩₺₪₫฿₱₴]|[^\W\d_])(?:"
    r"[$€£¥₽₹₩₺₪₫฿₱₴]|(?<![^\W\d_])(USD|EUR|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|CAD|AUD|NZD|RON|HUF|BRL|ZAR|"
    r"AED|SAR|QAR|KWD|ILS|INR|MXN|CLP|COP|ARS|PEN|TRY|RUB|UAH|KZT|SGD|HKD|MYR|THB|PHP|IDR|"
    r"kr|zł|Kč|Kn|kn|lei|Lei|Ft|Rs|руб|грн|лв|тг|TL|RM)(?![^\W\d_])|円|원|р\.|zl\b|ر\.س|د\.إ|ريال|درهم)",
    re.I,
)

SOLD_OUT = re.compile(
    r"\b(sold\s*out|out\s*of\s*stock|currently\s*unavailable|no\s+longer\s+available|not\s+available|"
    r"unavailable|temporarily\s+out|ausverkauft|nicht\s+(mehr\s+)?verf[üu]gbar|derzeit\s+nicht|"
    r"nicht\s+auf\s+lager|[ée]puis[ée]|rupture\s+de\s+stock|actuellement\s+indisponible|indisponible|"
    r"agotado|sin\s+stock|no\s+disponible|esaurito|non\s+disponibile|uitverkocht|niet\s+(meer\s+)?"
    r"(leverbaar|beschikbaar)|slutsåld|slut\s+i\s+lager|utsolgt|udsolgt|ikke\s+på\s+lager|"
    r"loppuunmyyty|ei\s+saatavilla|wyprzedan|brak\s+w\s+magazynie|niedostępn|vyprodáno|nedostupn|"
    r"esgotado|indispon[ií]vel|нет\s+в\s+наличии|распродан|немає\s+в\s+наявності|stokta\s+yok|"
    r"tükendi|epuizat|stoc\s+epuizat|elfogyott|nincs\s+készleten)",
    re.I,
)
SOLD_OUT_CJK = re.compile(r"在庫切れ|売り切れ|完売|品切れ|缺货|售罄|已售完|품절|재고\s*없음")
IN_STOCK_TEXT = re.compile(
    r"\b(in\s*stock|available\s+now|ready\s+to\s+ship|auf\s+lager|lieferbar|sofort\s+verf[üu]gbar|"
    r"en\s+stock|disponible|en\s+existencia|disponibile|op\s+voorraad|i\s+lager|på\s+lager|varastossa|"
    r"dostępny|skladem|na\s+skladě|em\s+estoque|в\s+наличии|є\s+в\s+наявності|stokta|în\s+stoc|"
    r"raktáron)\b|在庫あり|有货|재고\s*있음",
    re.I,
)
_SOLD_OUT_CLASS = re.compile(r"\bsold-?out\b|\bout-?of-?stock\b|\bunavailable\b", re.I)
_STOCK_ATTR = re.compile(r"stock|availab|inventory|sold|lager|dispon", re.I)
# Read against every button's class and id: the lookahead lets the engine skip the letters no word
# starts with, instead of trying each word there.
_CART_ATTR = re.compile(
    r"(?=[abcp])(?:add-?to-?(cart|bag|basket|trolley)|addto(cart|bag|basket)|add_to_(cart|bag|basket)|buy-?now|"
    r"buy-?button|btn-?cart|cart-?button|atc|add-?cart|addcart|purchase|buybox|product-form__submit)",
    re.I,
)
_CART_TEXT = re.compile(
    r"add\s+to\s+(cart|bag|basket|trolley)|buy\s+now|in\s+den\s+(warenkorb|einkaufswagen)|"
    r"ajouter\s+au\s+panier|añadir\s+al\s+carrito|añadir\s+a\s+la\s+cesta|agregar\s+al\s+carrito|"
    r"aggiungi\s+al\s+carrello|in\s+winkelwagen|toevoegen\s+aan|lägg\s+i\s+varukorg|legg\s+i\s+handlekurv|"
    r"læg\s+i\s+kurv|lisää\s+ostoskoriin|do\s+koszyka|do\s+košíku|adicionar\s+ao\s+carrinho|"
    r"в\s+корзину|купить|sepete\s+ekle|adaugă\s+în\s+coș|kosárba|カートに入れる|加入购物车|장바구니",
    re.I,
)


@dataclass
class PriceCandidate:
    """A price seen on the page, with what its markup says about it."""

    amount: Decimal
    currency: str | None
    score: float
    old: bool
    order: int
    text: str
    machine: bool = False
    # How far above the main heading the candidate's nearest shared ancestor is (None: not shared).
    near: int | None = None


_MARK_ATTRS = frozenset({"class", "id", "data-testid", "data-test", "data-qa", "data-auto", "itemprop"})


def _attrs_text(node: Any, attrs: dict[str, str | None] | None = None) -> str:
    """The element's class, id and test-attribute values in one text (attrs: its attributes, if read)."""
    attrs = node.attributes if attrs is None else attrs
    return " ".join(v for k, v in attrs.items() if k in _MARK_ATTRS and v)


# Utility classes that hide an element outright (not "visually-hidden", which screen readers read,
# nor "hidden-xs", which hides it on small screens only).
_HIDDEN_CLASSES = frozenset({"hidden", "d-none", "is-hidden", "hide", "invisible", "display-none"})


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    """Whether the element's own markup hides it (hidden attribute, inline display:none, a class
    that only hides)."""
    if "hidden" in attrs:
        return True
    cls = attrs.get("class")
    if (
        cls
        and ("hid" in cls or "none" in cls or "invis" in cls)
        and not _HIDDEN_CLASSES.isdisjoint(cls.lower().split())
    ):
        return True
    style = attrs.get("style")
    return bool(style) and "none" in str(style) and "display:none" in str(style).replace(" ", "").lower()


# The main product's prices come early in the document; past this many priced elements the rest are
# carousels, footers and other products, and reading them costs milliseconds on long pages.
_MAX_CANDIDATES = 30
_AMOUNT = re.compile(r"\d[\d.,'\u00a0\u202f ]*\d|\d")


def _amounts(text: str, currency_hint: str | None, lang: str | None) -> list[tuple[Decimal, str | None]]:
    """Every amount in a text holding several prices, each read in the text's currency."""
    _, currency = parse_price(text, currency_hint=currency_hint, page_lang=lang)
    out: list[tuple[Decimal, str | None]] = []
    symbols = [(m.start(), m.end()) for m in _MONEY.finditer(text)]
    for match in _AMOUNT.finditer(text):
        # Only numbers written next to a currency: "+ 448 bonus points" is no price.
        if not any(
            -3 <= start - match.end() <= 2 or -3 <= match.start() - end <= 2 for start, end in symbols
        ):
            continue
        amount, _ = parse_price(match.group(0).strip(), currency_hint=currency, page_lang=lang)
        if amount is not None:
            out.append((amount, currency))
    return out


# One lower-case pass over an ancestor's class / id text finds every kind of word it holds.
_ANCESTOR_WORDS = re.compile(
    "|".join(
        f"(?P<{name}>{pattern.pattern.lower()})"
        for name, pattern in (
            ("other", _OTHER_WORDS),
            ("shipping", _SHIPPING),
            ("net", _NET_WORDS),
            ("old", _OLD_WORDS),
        )
    )
)


class _Ancestor(NamedTuple):
    """An ancestor's tag and what its class / id say, read once per page (candidates share them)."""

    # A named tuple, not a frozen dataclass: hundreds are made per page, and a frozen dataclass sets
    # each field through object.__setattr__ (eight times the cost of the tuple).

    tag: str
    attrs: str
    parent: Any
    other: bool
    shipping: bool
    net: bool
    old: bool
    hidden: bool = False


class Cache(dict[int, _Ancestor]):
    """One page's ancestors as read, by node identity, and the kinds of words each class / id text
    holds, by the text: the cards of a carousel repeat theirs."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: dict[str, set[str | None]] = {}


def _ancestor(node: Any, cache: Cache) -> _Ancestor:
    """What one element's tag and class / id say, memoised by node identity."""
    key = node.mem_id
    hit = cache.get(key)
    if hit is None:
        attributes = node.attributes  # a new dict at every read: read once
        attrs = _attrs_text(node, attributes)
        kinds = cache.kinds.get(attrs)
        if kinds is None:
            # One pass over the class / id text finds every kind of word it holds.
            kinds = {m.lastgroup for m in _ANCESTOR_WORDS.finditer(attrs.lower())} if attrs else set()
            cache.kinds[attrs] = kinds
        tag = node.tag
        hit = _Ancestor(
            tag=tag,
            attrs=attrs,
            parent=node.parent,
            other="other" in kinds or tag in _CHROME_TAGS,
            shipping="shipping" in kinds,
            net="net" in kinds,
            old="old" in kinds,
            hidden=_is_hidden(attributes),
        )
        cache[key] = hit
    return hit


def _chain(node: Any, cache: Cache, limit: int = 10) -> list[_Ancestor]:
    """The node's ancestors up to <body>, memoised by node identity."""
    out: list[_Ancestor] = []
    parent = node.parent
    while parent is not None and len(out) < limit:
        hit = _ancestor(parent, cache)
        if hit.tag in ("body", "html"):
            break
        out.append(hit)
        parent = hit.parent
    return out


def in_other_product(node: Any, depth: int = 12, cache: Cache | None = None) -> bool:
    """Whether the node sits in a block of other products (carousel, recommendations, cart) or chrome."""
    return any(a.other for a in _chain(node, Cache() if cache is None else cache, depth))


# Elements a page marks as prices: class / id words in the languages shops use, and the test /
# automation attributes of component frameworks whose class names are hashes.
_PRICE_SELECTOR = '[class*="price" i], [id*="price" i], [itemprop="price"], [data-price]'
# Component frameworks with hashed class names mark prices for their tests instead; looked for
# only when the class / id words found nothing, since each selector costs a walk over the page.
_TEST_PRICE_SELECTOR = '[data-testid*="price" i], [data-qa*="price" i], [data-auto*="price" i]'
# Class words in the page's own language; each selector costs a walk over the page, so a page in
# another language skips them (a page that does not say its language gets them all).
_LOCAL_PRICE_SELECTORS = {
    "de": '[class*="preis" i]',
    "fr": '[class*="prix" i]',
    "es": '[class*="precio" i]',
    "it": '[class*="prezzo" i]',
    "pt": '[class*="preco" i]',
}


def _price_selector(lang: str | None) -> str:
    """The CSS selector of the elements a page in this language marks as prices."""
    code = (lang or "").lower()[:2]
    if code in _LOCAL_PRICE_SELECTORS:
        return f"{_PRICE_SELECTOR}, {_LOCAL_PRICE_SELECTORS[code]}"
    if code and code.isalpha():
        return _PRICE_SELECTOR
    return ", ".join([_PRICE_SELECTOR, *_LOCAL_PRICE_SELECTORS.values()])


_TITLE_WORDS = re.compile(r"\w+")


def _title_words(text: str) -> set[str]:
    return {w for w in _TITLE_WORDS.findall(text.lower()) if len(w) > 2}


def main_heading(tree: Any, cache: Cache | None = None) -> Any:
    """The product's heading: the visible <h1> (outside chrome) sharing most words with the page
    title, the first such <h1> on a tie; None when the page has none."""
    # tags() is the elements by name, as css("h1") finds them, in a third of the time.
    heads = [h for h in tree.tags("h1")[:8] if not _is_hidden(h.attributes)]
    if len(heads) <= 1:
        return heads[0] if heads else None
    title = tree.css_first("title")
    words = _title_words(title.text(strip=True)) if title is not None else set()
    best, best_overlap = heads[0], -1
    for head in heads:
        if in_other_product(head, 8, cache):
            continue
        overlap = len(_title_words(head.text(strip=True)) & words)
        if overlap > best_overlap:
            best, best_overlap = head, overlap
    return best


def _levels(node: Any, limit: int = 40) -> dict[int, int]:
    """Ancestors of the node by identity, each with how many levels above the node it is."""
    out: dict[int, int] = {}
    parent = node.parent if node is not None else None
    level = 1
    while parent is not None and level <= limit and parent.tag not in ("body", "html"):
        out[parent.mem_id] = level
        parent = parent.parent
        level += 1
    return out


def _shared_level(node: Any, heading: dict[int, int], cache: Cache) -> int | None:
    """Levels above the heading of the nearest ancestor the node shares with it, or None."""
    if not heading:
        return None
    hit = heading.get(node.mem_id)
    if hit is not None:
        return hit
    for ancestor_id in _chain_ids(node, cache):
        hit = heading.get(ancestor_id)
        if hit is not None:
            return hit
    return None


def _chain_ids(node: Any, cache: Cache, limit: int = 40) -> list[int]:
    """Identities of the node's ancestors up to <body>, read through the shared cache."""
    out: list[int] = []
    parent = node.parent
    while parent is not None and len(out) < limit:
        hit = _ancestor(parent, cache)
        if hit.tag in ("body", "html"):
            break
        out.append(parent.mem_id)
        parent = hit.parent
    return out


def _visible_text(node: Any) -> str:
    """The element's text without the parts its markup hides (duplicates for machines, templates)."""
    text: str = node.text(deep=True, separator=" ", strip=True)
    if node.child is None or (node.child.next is None and node.child.tag == "-text"):
        return text
    for hidden in node.css('[style*="none" i], [hidden], [class~="hidden"], [class~="d-none"]'):
        if _is_hidden(hidden.attributes):
            part = hidden.text(deep=True, separator=" ", strip=True)
            if part:
                text = text.replace(part, " ", 1)
    return " ".join(text.split())


def price_candidates(
    tree: Any,
    *,
    currency_hint: str | None,
    lang: str | None,
    cache: Cache | None = None,
) -> list[PriceCandidate]:
    """Prices in elements the page marks as prices, scored for being the main, current price."""
    out: list[PriceCandidate] = []
    seen: set[int] = set()
    cache = Cache() if cache is None else cache
    # Carousels repeat the same class text on every card: what it says is read once per page.
    own_words: dict[str, tuple[bool, bool, bool, bool, bool]] = {}
    per_variant: dict[str, bool] = {}
    heading = main_heading(tree, cache)
    heading_levels = _levels(heading)
    nodes = tree.css(_price_selector(lang)) or tree.css(_TEST_PRICE_SELECTOR)
    for order, node in enumerate(nodes):
        if len(out) >= _MAX_CANDIDATES:
            break
        tag = node.tag  # each read of a node's tag or attributes builds a new object: read once
        attributes = node.attributes
        if tag in ("script", "style", "link", "input", "option", "select", "template"):
            continue
        if tag == "meta":
            # <meta itemprop="price" content="259.00"> states the price for machines; keep it.
            content = attributes.get("content")
            if attributes.get("itemprop") != "price" or not content:
                continue
            text = content + " " + (currency_hint or "")
        else:
            if _is_hidden(attributes):
                continue
            # Cents in a <sup> read as "229 99"; parse_price joins them back.
            text = _visible_text(node)
        if not text or len(text) > 60 or not any(ch.isdigit() for ch in text):
            continue
        if _PER_UNIT.search(text):
            continue
        approx = _APPROX.search(text)
        if approx is not None and approx.start() > 0 and _MONEY.search(text, 0, approx.start()):
            # "GBP 1.99 Approximately US $2.66": the shop's price, then an estimate in another currency.
            text, approx = text[: approx.start()].strip(), None
        elif approx is None and node.parent is not None:
            # "Approximately <span>US $2.66</span>": the word sits just before the element.
            before = node.parent.text(deep=True, separator=" ", strip=True)
            at = before.find(text)
            approx = _APPROX.search(before, max(0, at - 20), max(0, at)) if at > 0 else None
        # A container of several prices ("49 890 тг. 44 890 тг."): its children are candidates of
        # their own; the container only counts, weakly, for its lowest amount (the sale price).
        money = _MONEY.findall(text)
        several = len(money) > 1
        key = hash((tag == "meta", text))
        if key in seen:
            continue
        seen.add(key)
        amount: Decimal | None
        if several:
            priced = _amounts(text, currency_hint, lang)
            if len(priced) < 2:
                continue
            amount, currency = min(priced)
        else:
            amount, currency = parse_price(text, currency_hint=currency_hint, page_lang=lang)
        if amount is None:
            continue
        own = _attrs_text(node, attributes)
        chain = _chain(node, cache)
        if any(a.hidden for a in chain[:4]) and tag != "meta":
            continue
        says = own_words.get(own)
        if says is None:
            says = own_words[own] = _own_words(own)
        own_old, own_now, own_other, own_net, own_shipping = says
        old = (
            own_old
            or tag in ("del", "s", "strike")
            or any(a.tag in ("del", "s", "strike") for a in chain[:3])
            or any(a.old for a in chain[:2])
        )
        score = 1.0
        if money:
            score += 1.0
        if attributes.get("itemprop") == "price":
            score += 1.5
        if own_now:
            score += 0.5
        if "price" in (attributes.get("id") or "").lower():
            score += 0.5
        other = any(a.other for a in chain) or own_other
        if other:
            score -= 2.5
        if own_net or any(a.net for a in chain[:4]):
            score -= 1.0
        if _SHIPPING.search(text) or own_shipping or any(a.shipping for a in chain[:5]):
            score -= 2.0
        if _FROM_TEXT.search(text):
            score -= 0.5
        if text.lstrip().startswith("+"):
            # "+20.00€": the surcharge of an option or accessory.
            score -= 2.0
        if _OLD_TEXT.search(text):
            old = True
        if several:
            score -= 0.7
        if approx is not None:
            score -= 2.0
        # A price on a size / colour swatch is that variant's, shown beside the product's own.
        if any(a.attrs and _variant_words(a.attrs, per_variant) for a in chain[:8]):
            score -= 1.5
            other = True
        near = None if other or tag == "meta" else _shared_level(node, heading_levels, cache)
        out.append(
            PriceCandidate(amount, currency, score - order * 0.002, old, order, text, tag == "meta", near)
        )
    _score_nearness(out)
    return out


def _own_words(own: str) -> tuple[bool, bool, bool, bool, bool]:
    """What a candidate's own class / id text says: (old, now, other product, net, shipping)."""
    return (
        bool(_OLD_WORDS.search(own)),
        bool(_NOW_WORDS.search(own)),
        bool(_OTHER_WORDS.search(own)),
        bool(_NET_WORDS.search(own)),
        bool(_SHIPPING.search(own)),
    )


def _variant_words(attrs: str, seen: dict[str, bool]) -> bool:
    """Whether an ancestor's class / id text marks a size or colour swatch (memoised per page)."""
    found = seen.get(attrs)
    if found is None:
        found = seen[attrs] = bool(_PER_VARIANT.search(attrs))
    return found


def _score_nearness(cands: list[PriceCandidate]) -> None:
    """Raise the prices nearest the main heading: the product's own box shares the smallest
    container with its title, while carousels and lists of other products hang further up."""
    levels = [c.near for c in cands if c.near is not None and not c.old]
    if not levels:
        return
    closest = min(levels)
    for c in cands:
        if c.near is None:
            continue
        if c.near == closest:
            c.score += 1.5
        elif c.near == closest + 1:
            c.score += 0.75


def near_title_price(
    tree: Any, *, currency_hint: str | None, lang: str | None, cache: Cache | None = None
) -> PriceCandidate | None:
    """For pages with no price markup: the first amount with a currency in the title's block."""
    h1 = main_heading(tree, cache)
    if h1 is None:
        return None
    container = h1
    for _level in range(6):
        parent = container.parent
        if parent is None or parent.tag in ("body", "html"):
            break
        container = parent
        seen_title = False
        for node in container.traverse(include_text=False):
            if node.mem_id == h1.mem_id:
                seen_title = True
                continue
            if not seen_title or node.tag in ("script", "style", "template", "del", "s", "strike", "option"):
                continue
            if node.tag in ("h2", "h3"):
                # The next section ("Customers also bought", "Description"): the buy box is over.
                break
            if node.child is not None and node.child.tag != "-text" and node.child.next is not None:
                continue
            text = node.text(deep=True, separator=" ", strip=True)
            if not text or len(text) > 40 or not _MONEY.search(text) or _PER_UNIT.search(text):
                continue
            if _SHIPPING.search(text) or _OLD_TEXT.search(text) or text.lstrip().startswith("+"):
                continue
            if in_other_product(node, 8, cache):
                continue
            amount, currency = parse_price(text, currency_hint=currency_hint, page_lang=lang)
            if amount is not None:
                return PriceCandidate(amount, currency, 1.6, False, 0, text)
    return None


# "$60 · 1970s Surfer Skateboard" or "Skateboard | 60 €": a price written into the heading itself.
_HEADING_PRICE = re.compile(
    r"^\s*(?P<lead>[^\w\s]{0,3}\s?\d[\d.,]*\s?[^\w\s]{0,3})\s*[·|•–—:-]\s+\S"
    r"|\S\s+[·|•–—:-]\s*(?P<tail>[^\w\s]{0,3}\s?\d[\d.,]*\s?[^\w\s]{0,3})\s*$"
)


def heading_price(tree: Any, *, currency_hint: str | None, lang: str | None) -> PriceCandidate | None:
    """A price with a currency written at the start or end of the main heading, set off by a separator."""
    h1 = main_heading(tree)
    if h1 is None:
        return None
    # The heading's own text first: icons and links inside it ("Save", "Log in") are not its words.
    for text in (h1.text(deep=False, strip=True), h1.text(deep=True, separator=" ", strip=True)):
        match = _HEADING_PRICE.search(text.replace("\u00a0", " "))
        if match is not None:
            break
    if match is None:
        return None
    part = match.group("lead") or match.group("tail") or ""
    if not _MONEY.search(part):
        return None
    amount, currency = parse_price(part, currency_hint=currency_hint, page_lang=lang)
    return None if amount is None else PriceCandidate(amount, currency, 1.6, False, 0, part)


def best_price(cands: list[PriceCandidate]) -> tuple[PriceCandidate | None, PriceCandidate | None]:
    """(current price, struck-through price) chosen from the candidates, or Nones."""
    current = [c for c in cands if not c.old]
    old = [c for c in cands if c.old]
    best = max(current, key=lambda c: c.score, default=None)
    if best is None or best.score < 1.5:
        return None, None
    strike = None
    for c in sorted(old, key=lambda c: abs(c.order - best.order)):
        if c.amount > best.amount and abs(c.order - best.order) < 12:
            strike = c
            break
    return best, strike


def buy_button(tree: Any, cache: Cache | None = None) -> Availability:
    """InStock for an enabled add-to-cart control, OutOfStock for one that says sold out, else unknown.

    A disabled add-to-cart that does not say why is no evidence: many shops disable it until a size
    is chosen. Quick-add buttons of other products (carousels) are ignored.
    """
    enabled = sold_out = 0
    for node in tree.css("button, input[type=submit], input[type=button], a[class*=cart i], a[id*=cart i]"):
        attrs = node.attributes
        label = (
            node.text(deep=True, separator=" ", strip=True)[:80]
            if node.tag != "input"
            else (attrs.get("value") or "")
        )
        hint = " ".join(
            v for k, v in attrs.items() if v and k in ("class", "id", "name", "data-action", "title")
        )
        if not (_CART_TEXT.search(label) or _CART_ATTR.search(hint) or attrs.get("name") == "add"):
            continue
        hidden = "hidden" in attrs or "display:none" in (attrs.get("style") or "").replace(" ", "")
        if hidden:
            continue
        says_sold_out = bool(
            SOLD_OUT.search(label)
            or SOLD_OUT_CJK.search(label)
            or _SOLD_OUT_CLASS.search(attrs.get("class") or "")
        )
        is_enabled = not says_sold_out and not ("disabled" in attrs or attrs.get("aria-disabled") == "true")
        if not (says_sold_out or is_enabled) or in_other_product(node, 8, cache):
            continue
        if is_enabled:
            # The product's own buy button comes before any carousel's: no need to read further.
            enabled += 1
            break
        sold_out += 1
    if enabled:
        return Availability.IN_STOCK
    if sold_out:
        return Availability.OUT_OF_STOCK
    return Availability.UNKNOWN


def stock_text(tree: Any, cache: Cache | None = None) -> Availability:
    """What the page's stock / availability elements say, in the page's language."""
    saw_in = saw_out = False
    nodes = tree.css(
        '[class*="stock" i], [id*="stock" i], [class*="availab" i], [id*="availab" i], '
        '[class*="sold-out" i], [class*="soldout" i], [itemprop="availability"], [class*="inventory" i]'
    )
    for node in nodes:
        if node.tag in ("script", "style", "template", "meta", "link", "option"):
            continue
        attrs = node.attributes
        if "hidden" in attrs or "display:none" in (attrs.get("style") or "").replace(" ", ""):
            continue
        chain = _chain(node, Cache() if cache is None else cache, 12)
        context = " ".join(a.attrs for a in chain[:6])
        # Other products' badges, per-variant rows and labels a cart button toggles with CSS say
        # nothing about the product as a whole.
        if any(a.other for a in chain) or _PER_VARIANT.search(context) or _CART_ATTR.search(context):
            continue
        if node.tag in ("tr", "li", "a", "button"):
            continue
        text = node.text(deep=True, separator=" ", strip=True)
        if not text or len(text) > 120:
            continue
        if SOLD_OUT.search(text) or SOLD_OUT_CJK.search(text):
            saw_out = True
        elif IN_STOCK_TEXT.search(text):
            saw_in = True
    if saw_out and not saw_in:
        return Availability.OUT_OF_STOCK
    if saw_in and not saw_out:
        return Availability.IN_STOCK
    return Availability.UNKNOWN


def is_stock_attr(name: str) -> bool:
    """Whether an attribute or class name speaks about stock."""
    return bool(_STOCK_ATTR.search(name))
