"""Heuristics over the visible page: the main price, struck-through prices, stock words, buy buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
    r"shipping-?(cost|price|fee)|delivery-?(cost|price|fee)",
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
_PER_UNIT = re.compile(
    r"/\s*(kg|g|l|ml|m|m²|m2|100\s*g|100\s*ml|st|pc|pcs|stk|unit)\b|per\s+(kg|l|m)\b", re.I
)
_MONEY = re.compile(
    r"[$€£¥₽₹₩₺₪₫฿₱]|\b(USD|EUR|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|CAD|AUD|NZD|RON|HUF|BRL|ZAR|AED|SAR|"
    r"kr|zł|Kč|Kn|kn|lei|Lei|Ft|Rs|руб|грн|лв|тг|TL|RM)\b|円|원|р\.|zl\b",
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
_CART_ATTR = re.compile(
    r"add-?to-?(cart|bag|basket|trolley)|addto(cart|bag|basket)|add_to_(cart|bag|basket)|buy-?now|"
    r"buy-?button|btn-?cart|cart-?button|atc|add-?cart|addcart|purchase|buybox|product-form__submit",
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


def _attrs_text(node: Any) -> str:
    attrs = node.attributes
    return " ".join(v for k, v in attrs.items() if k in ("class", "id", "data-testid", "itemprop") and v)


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


@dataclass(frozen=True)
class _Ancestor:
    """An ancestor's tag and what its class / id say, read once per page (candidates share them)."""

    tag: str
    attrs: str
    parent: Any
    other: bool
    shipping: bool
    net: bool
    old: bool


def _chain(node: Any, cache: dict[int, _Ancestor], limit: int = 10) -> list[_Ancestor]:
    """The node's ancestors up to <body>, memoised by node identity."""
    out: list[_Ancestor] = []
    parent = node.parent
    while parent is not None and len(out) < limit:
        key = parent.mem_id
        hit = cache.get(key)
        if hit is None:
            attrs = _attrs_text(parent)
            # One pass over the class / id text finds every kind of word it holds.
            kinds = {m.lastgroup for m in _ANCESTOR_WORDS.finditer(attrs.lower())} if attrs else set()
            hit = _Ancestor(
                tag=parent.tag,
                attrs=attrs,
                parent=parent.parent,
                other="other" in kinds or parent.tag in _CHROME_TAGS,
                shipping="shipping" in kinds,
                net="net" in kinds,
                old="old" in kinds,
            )
            cache[key] = hit
        if hit.tag in ("body", "html"):
            break
        out.append(hit)
        parent = hit.parent
    return out


Cache = dict[int, _Ancestor]


def in_other_product(node: Any, depth: int = 12, cache: Cache | None = None) -> bool:
    """Whether the node sits in a block of other products (carousel, recommendations, cart) or chrome."""
    return any(a.other for a in _chain(node, {} if cache is None else cache, depth))


def price_candidates(
    tree: Any, *, currency_hint: str | None, lang: str | None, cache: Cache | None = None
) -> list[PriceCandidate]:
    """Prices in elements the page marks as prices, scored for being the main, current price."""
    out: list[PriceCandidate] = []
    seen: set[int] = set()
    cache = {} if cache is None else cache
    nodes = tree.css('[class*="price" i], [id*="price" i], [itemprop="price"], [data-price]')
    for order, node in enumerate(nodes):
        if len(out) >= _MAX_CANDIDATES:
            break
        if node.tag in ("script", "style", "link", "input", "option", "select", "template"):
            continue
        if node.tag == "meta":
            # <meta itemprop="price" content="259.00"> states the price for machines; keep it.
            content = node.attributes.get("content")
            if node.attributes.get("itemprop") != "price" or not content:
                continue
            text = content + " " + (currency_hint or "")
        else:
            # Cents in a <sup> read as "229 99"; parse_price joins them back.
            text = node.text(deep=True, separator=" ", strip=True)
        if not text or len(text) > 60 or not any(ch.isdigit() for ch in text):
            continue
        if _PER_UNIT.search(text):
            continue
        # A container of several prices ("49 890 тг. 44 890 тг."): its children are candidates of
        # their own; the container only counts, weakly, for its lowest amount (the sale price).
        several = len(_MONEY.findall(text)) > 1
        key = hash((node.tag == "meta", text))
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
        own = _attrs_text(node)
        chain = _chain(node, cache)
        old = (
            bool(_OLD_WORDS.search(own))
            or node.tag in ("del", "s", "strike")
            or any(a.tag in ("del", "s", "strike") for a in chain[:3])
            or any(a.old for a in chain[:2])
        )
        score = 1.0
        if _MONEY.search(text):
            score += 1.0
        if node.attributes.get("itemprop") == "price":
            score += 1.5
        if _NOW_WORDS.search(own):
            score += 0.5
        if "price" in (node.attributes.get("id") or "").lower():
            score += 0.5
        if any(a.other for a in chain) or _OTHER_WORDS.search(own):
            score -= 2.5
        if _NET_WORDS.search(own) or any(a.net for a in chain[:4]):
            score -= 1.0
        if _SHIPPING.search(text) or _SHIPPING.search(own) or any(a.shipping for a in chain[:5]):
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
        out.append(
            PriceCandidate(amount, currency, score - order * 0.002, old, order, text, node.tag == "meta")
        )
    return out


def near_title_price(
    tree: Any, *, currency_hint: str | None, lang: str | None, cache: Cache | None = None
) -> PriceCandidate | None:
    """For pages with no price markup: the first amount with a currency in the title's block."""
    h1 = tree.css_first("h1")
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
        chain = _chain(node, {} if cache is None else cache, 12)
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
