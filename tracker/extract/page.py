"""Reading one product page: structured data first, then the visible page, with user selectors on top.

Which product: the JSON-LD / microdata Product at the page's URL, else the one the page title (h1)
names, else the first with offers. Prices and badges inside other-product blocks (recommendations,
carousels, mini-carts, footers) never count.

Price rule: a per-source selector wins; else the main product's structured offer (the variant the
URL selects, else the one whose price the page shows, else the first in stock, else the first;
an amount the page only shows struck through is the old price); else OpenGraph / twitter card
prices (a sale price first); else the best visible price (elements marked as prices by class, id,
test attributes or a price word in the page's language, scored: the current over the
struck-through one, gross over net, the one sharing the smallest container with the main heading,
the <h1> the page title names, over those further away; never a delivery cost, saving, option
surcharge, conversion estimate ("Approximately US $..."), swatch or other seller's price, hidden
element, or "from" price when another is shown); else the first amount after the title before
the next section; else a "Price: ..." in the page description. A structured price the visible
page contradicts (never shown, while another statement the page shows, or a strong visible price,
says otherwise) gives way; the disagreement is recorded in ``extra["conflict"]``. No price is an
answer: 0 is never a price.

Embedded app state (tracker.extract.state) fills what structured data leaves out: the product
when the page has no JSON-LD or microdata, the price when they give none, the sizes when they list
none. A visible size picker (tracker.extract.pickers) fills the sizes when neither gives any.

Availability rule: a selector wins; else the table in tracker.extract.evidence decides between the
top-level structured availability, per-size data, the add-to-cart control and sold-out text (stale
structured values lose to more specific evidence; a challenge page is never a sell-out; unknown
stays unknown).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from selectolax.lexbor import LexborHTMLParser

from tracker.blocks import detect_block
from tracker.extract.evidence import Evidence, decide, decide_reading
from tracker.extract.jsonld import (
    OfferData,
    ProductData,
    availability_of,
    loads_lenient,
    products_from,
)
from tracker.extract.limits import bound_depth, tag_scanner
from tracker.extract.model import Availability, Product, SizeOffer
from tracker.extract.pickers import size_picker
from tracker.extract.prices import currency_from_lang, currency_from_url, parse_amount, parse_price
from tracker.extract.state import read_state
from tracker.extract.visible import (
    Cache,
    PriceCandidate,
    best_price,
    buy_button,
    heading_price,
    in_other_product,
    near_title_price,
    price_candidates,
    stock_text,
)
from tracker.sizes import looks_like_size, split_title_size
from tracker.stylecode import find_style_code

tag_scanner()  # the nesting scan compiled at import: a page reader's fork server does it once for all

if TYPE_CHECKING:
    from tracker.config import Selectors  # read only; extraction never builds the config's schema

_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.I)
_LISTING_HINT = re.compile(
    r"/(search|collections?|category|categories|catalog|shop)(/|\?|$)|[?&](q|query|search)=", re.I
)
# A product URL that now answers with search results or a "not found" listing says so in its
# title or main heading; its tiles' prices belong to other products.
_RESULTS_HEADING = re.compile(
    r"search results|results for\b|\b\d+ results\b|no results|(could|can)(no|'|’)t find|page not found",
    re.I,
)
# A price of zero in the page's structured data: a placeholder, never a price to record. Two
# patterns that each start with a character that has no case ('"', '='), so the engine can skip to
# it; one alternation ignoring case tried every position of the page (5 parses' worth on 400 KB).
_ZERO_JSON_PRICE = re.compile(r"\"price\"\s*:\s*\"?0+(?:[.,]0+)?\"?\s*[,}]", re.I)
_PRICE_VALUE = re.compile(r"=\"price\"", re.I)
_ITEMPROP = re.compile("itemprop", re.I)
_ZERO_CONTENT = re.compile(r"content=\"0+(?:[.,]0+)?\"", re.I)


def _zero_price(text: str) -> bool:
    """Whether the page states a price of 0 in JSON ("price": "0.00") or microdata (content="0")."""
    if _ZERO_JSON_PRICE.search(text):
        return True
    # itemprop="price" and then content="0" before the tag's ">": each stretch up to a ">" is read
    # once, however many itemprop="price" it holds (a lookahead from each would read it once for
    # every one: 10,000 of them in one tag took 4 s).
    pos = 0
    while (found := _PRICE_VALUE.search(text, pos)) is not None:
        if not _ITEMPROP.fullmatch(text, found.start() - 8, found.start()):
            pos = found.end()
            continue
        end = text.find(">", found.end())
        end = len(text) if end < 0 else end
        if _ZERO_CONTENT.search(text, found.end(), end):
            return True
        pos = end
    return False


def decode(body: str | bytes, content_type: str | None = None) -> str:
    """Bytes to text by the Content-Type charset, the page's meta charset, then UTF-8."""
    return _decoded(body, content_type)[0]


def _decoded(body: str | bytes, content_type: str | None = None) -> tuple[str, bool]:
    """decode()'s text, and whether the bytes are exactly that text's UTF-8 (read strictly as UTF-8)."""
    if isinstance(body, str):
        return body, False
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"')
    if charset is None:
        match = _CHARSET.search(body[:4096])
        if match:
            charset = match.group(1).decode("ascii", "replace")
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return body.decode(candidate), codecs.lookup(candidate).name == "utf-8"
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace"), False


def _meta(tree: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.tags("meta"):  # css("meta")'s elements, found three times faster
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = attrs.get("content")
        if key and content is not None and key.lower() not in out:
            out[key.lower()] = content.strip()
    return out


def _microdata(tree: Any, currency_hint: str | None, lang: str | None) -> ProductData | None:
    """The first schema.org Product in microdata, with the offers inside it."""
    # Prices of other products (recommendations, "bought together") carry microdata too.
    price_nodes = [
        n for n in tree.css('[itemprop="price"], [itemprop="lowPrice"]') if not in_other_product(n)
    ]
    if not price_nodes:
        avail = tree.css_first('[itemprop="availability"]')
        if avail is None or in_other_product(avail):
            return None
    root = None
    if price_nodes:
        parent = price_nodes[0].parent
        while parent is not None and root is None:
            if "product" in (parent.attributes.get("itemtype") or "").lower():
                root = parent
            parent = parent.parent
    if root is None:
        root = tree.css_first('[itemtype*="schema.org/Product" i]') or tree.body or tree.root
    product = ProductData(source="microdata")
    offers: list[OfferData] = []
    for node in price_nodes or root.css('[itemprop="price"]'):
        raw = node.attributes.get("content")
        text = raw if raw is not None else node.text(deep=True, separator=" ", strip=True)
        if raw is not None:
            amount = parse_amount(raw)
            currency = None
        else:
            amount, currency = parse_price(text or "", currency_hint=currency_hint, page_lang=lang)
        offer_scope = node.parent
        depth = 0
        while offer_scope is not None and "itemscope" not in offer_scope.attributes and depth < 8:
            offer_scope = offer_scope.parent
            depth += 1
        cur_node = offer_scope.css_first('[itemprop="priceCurrency"]') if offer_scope is not None else None
        if cur_node is not None:
            cur = cur_node.attributes.get("content") or cur_node.text(strip=True)
            currency = cur.strip().upper() if cur and len(cur.strip()) == 3 else currency
        avail_node = offer_scope.css_first('[itemprop="availability"]') if offer_scope is not None else None
        availability = Availability.UNKNOWN
        if avail_node is not None:
            attrs = avail_node.attributes
            availability = availability_of(
                attrs.get("href") or attrs.get("content") or avail_node.text(strip=True)
            )
        offers.append(OfferData(price=amount, currency=currency, availability=availability))
    if not offers:
        avail_node = root.css_first('[itemprop="availability"]')
        if avail_node is not None:
            attrs = avail_node.attributes
            offers.append(OfferData(availability=availability_of(attrs.get("href") or attrs.get("content"))))
    product.offers = offers
    name = root.css_first('[itemprop="name"]')
    if name is not None:
        product.title = name.attributes.get("content") or name.text(strip=True) or None
    sku = root.css_first('[itemprop="sku"]')
    if sku is not None:
        product.sku = sku.attributes.get("content") or sku.text(strip=True) or None
    return product if product.offers else None


def _jsonld_blocks(tree: Any) -> list[Any]:
    blocks: list[Any] = []
    # The scripts whose type holds "ld+json" in any case (script[type*="ld+json" i]): a page has a few
    # dozen scripts, and reading their types costs less than a selector's walk over every element.
    for node in tree.tags("script"):
        if "ld+json" not in (node.attributes.get("type") or "").lower():
            continue
        data = loads_lenient(node.text(deep=False) or "")
        if data is not None:
            blocks.append(data)
    return blocks


def _url_keys(url: str | None) -> set[str]:
    """Variant ids and SKUs named in the page URL (?variant=123, ?sku=..., #variationId=...)."""
    if not url:
        return set()
    parsed = urlparse(url)
    keys: set[str] = set()
    for part in (parsed.query, parsed.fragment):
        for name, values in parse_qs(part).items():
            if any(w in name.lower() for w in ("variant", "sku", "size", "variation", "pid", "child")):
                keys.update(v for v in values if v)
    return keys


def _choose_offer(
    offers: list[OfferData], url: str | None, visible: list[PriceCandidate]
) -> OfferData | None:
    """The offer of the selected / default variant among a product's offers."""
    priced = [o for o in offers if o.price is not None]
    if not priced:
        return offers[0] if offers else None
    # An offer whose amount the page only shows struck through is the old price, not the offer.
    struck = {c.amount for c in visible if c.old} - {c.amount for c in visible if not c.old and not c.machine}
    if len({o.price for o in priced} - struck) >= 1 and len({o.price for o in priced}) > 1:
        priced = [o for o in priced if o.price not in struck]
    keys = _url_keys(url)
    if keys:
        for offer in priced:
            if (offer.sku and offer.sku in keys) or (offer.url and any(k in offer.url for k in keys)):
                return offer
    if url:
        for offer in priced:
            if offer.url and offer.url.rstrip("/") == url.rstrip("/"):
                return offer
    if len({o.price for o in priced}) == 1:
        in_stock = [o for o in priced if o.availability == Availability.IN_STOCK]
        return in_stock[0] if in_stock else priced[0]
    shown = sorted((c for c in visible if not c.old), key=lambda c: -c.score)
    for cand in shown:
        for offer in priced:
            if offer.price == cand.amount:
                return offer
    in_stock = [o for o in priced if o.availability == Availability.IN_STOCK]
    return in_stock[0] if in_stock else priced[0]


def _words(text: str | None) -> set[str]:
    return {w for w in re.findall(r"\w+", (text or "").lower()) if len(w) > 1}


def _main_product(products: list[ProductData], url: str | None, title: str | None) -> ProductData | None:
    """The page's own product: the one at this URL, else the one named like the page's title, else
    the first with offers (pages also describe related products and lists)."""
    if not products:
        return None
    with_offers = [p for p in products if p.offers or p.variants]
    if url:
        path = urlparse(url).path.rstrip("/")
        for p in with_offers:
            if p.url and path and urlparse(p.url).path.rstrip("/") == path:
                return p
    if len({p.title for p in with_offers}) > 1 and title:
        page_words = _words(title)

        def overlap(p: ProductData) -> float:
            words = _words(p.title)
            return len(words & page_words) / len(words) if words else 0.0

        best = max(with_offers, key=overlap)
        if overlap(best) >= 0.5 and overlap(best) > overlap(with_offers[0]):
            return best
    return with_offers[0] if with_offers else products[0]


def _inherited(offer: OfferData, holder: ProductData | None, *, url: str | None = None) -> OfferData:
    """An offer with the SKU, URL and size it lacks taken from the product that holds it (None: none)."""
    if holder is None:
        return replace(offer)
    size, system = offer.size, offer.system
    if not size and holder.size:
        size, system = holder.size, holder.system
    return replace(offer, sku=offer.sku or holder.sku, url=offer.url or url, size=size, system=system)


def _one_size_of(p: ProductData, main: ProductData, base: str | None) -> ProductData | None:
    """A Product that is one size of the page's product (named like it, or like it plus a size), with
    that size; None for another product."""
    if p is main or not p.offers or not p.title:
        return None
    if p.title == main.title:
        return p
    name, size = split_title_size(p.title)
    return replace(p, size=p.size or size) if size and name == base else None


def _merge_size_products(products: list[ProductData], main: ProductData) -> list[OfferData]:
    """Offers of the main product, plus its variants and sibling Products that are one size each."""
    base, own_size = split_title_size(main.title) if main.title else (None, None)
    siblings = [s for p in products if (s := _one_size_of(p, main, base)) is not None]
    if own_size and not main.size and any(s.title != main.title for s in siblings):
        main = replace(main, size=own_size)  # "2002R Phantom - UK 9" beside "... - UK 9.5"
    single = len(main.offers) == 1
    offers = [_inherited(o, main if single else None) for o in main.offers]
    for variant in main.variants:
        offers.extend(_inherited(o, variant, url=variant.url) for o in variant.offers)
    # One Product per size: siblings named like the main product, with their own size or SKU.
    for sibling in siblings:
        offers.extend(_inherited(o, sibling, url=sibling.url) for o in sibling.offers)
    return _sku_sizes(offers)


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    for index, char in enumerate(first):
        if char != last[index]:
            return first[:index]
    return first


def _sku_sizes(offers: list[OfferData]) -> list[OfferData]:
    """Offers with no size of their own take it from their SKUs' last part when the SKUs differ only
    there and every such part looks like a size (84518927-040-35, -36, -37...)."""
    bare = [o for o in offers if not o.size and o.sku]
    if len(bare) < 2:
        return offers
    skus = [o.sku or "" for o in bare]
    prefix = _common_prefix(skus)
    cut = max(prefix.rfind(sep) for sep in "-_/ ") + 1  # not ".": 9.5 and 9.0 share "9."
    suffixes = [sku[cut:] for sku in skus]
    if cut == 0 or len(set(suffixes)) != len(suffixes) or not all(looks_like_size(x) for x in suffixes):
        return offers
    found = dict(zip(map(id, bare), suffixes, strict=True))
    return [replace(o, size=found[id(o)]) if id(o) in found else o for o in offers]


def _any_in_stock(offers: list[OfferData]) -> Availability:
    states = {o.availability for o in offers}
    if Availability.IN_STOCK in states:
        return Availability.IN_STOCK
    if Availability.OUT_OF_STOCK in states:
        return Availability.OUT_OF_STOCK
    return Availability.UNKNOWN


def _sizes(offers: list[OfferData]) -> tuple[SizeOffer, ...]:
    out: list[SizeOffer] = []
    seen: set[str] = set()
    for o in offers:
        if o.size and o.size not in seen:
            seen.add(o.size)
            out.append(
                SizeOffer(size=o.size, availability=o.availability, price=o.price, sku=o.sku, system=o.system)
            )
    return tuple(out)


_PRICE_LABELS = ("price", "preis", "prix", "precio", "prezzo", "prijs", "pris", "cena", "цена", "preço")


_DESCRIBED_PRICE = re.compile(
    r"(?:price|prix|preis|precio|prezzo|prijs|pris|cena|цена|preço|價|价|価格)[^\d$€£¥]{0,6}"
    r"([$€£¥]?\s?\d[\d.,\s]*(?:\s?(?:[€£¥元円]|[A-Z]{3}|kr|zł))?)",
    re.I,
)


def _described_price(
    meta: dict[str, str], hint: str | None, lang: str | None
) -> tuple[Decimal | None, str | None]:
    """A price the page's description states after a price word, or (None, None)."""
    for key in ("og:description", "description", "twitter:description"):
        found = _DESCRIBED_PRICE.search(meta.get(key) or "")
        if found:
            amount, cur = parse_price(found.group(1), currency_hint=hint, page_lang=lang)
            if amount is not None:
                return amount, cur
    return None, None


def _meta_prices(
    meta: dict[str, str], hint: str | None, lang: str | None
) -> list[tuple[Decimal, str | None, str]]:
    """(amount, currency, method) from OpenGraph then twitter cards; a sale price before the regular."""
    out: list[tuple[Decimal, str | None, str]] = []
    og_cur = meta.get("product:price:currency") or meta.get("og:price:currency")
    for key in ("product:sale_price:amount", "product:price:amount", "og:price:amount", "og:price"):
        raw = meta.get(key)
        if raw:
            amount = parse_amount(raw) or parse_price(raw, currency_hint=hint, page_lang=lang)[0]
            if amount is not None:
                out.append((amount, og_cur or meta.get("product:sale_price:currency"), "opengraph"))
    for i in ("1", "2"):
        if (meta.get(f"twitter:label{i}") or "").strip().lower() in _PRICE_LABELS:
            amount, cur = parse_price(meta.get(f"twitter:data{i}", ""), currency_hint=hint, page_lang=lang)
            if amount is not None:
                out.append((amount, cur, "twitter"))
    return out


# A price the structured data states as text: "1e308", "-150.00", "NaN" are read as no price at all.
_PRICE_TEXT = re.compile(r"\"price\"\s*:\s*\"([^\"]{1,40})\"", re.I)


def _unusable_price(text: str) -> str | None:
    """The first structured price the page states that is no price ("-150.00", "1e308"), if any."""
    for found in _PRICE_TEXT.finditer(text):
        value = found.group(1).strip()
        if any(ch.isdigit() for ch in value) and parse_amount(value) is None:
            return value
    return None


def _results_page(tree: Any) -> bool:
    """True when the page's title or main heading says it lists search results, not one product."""
    parts = [
        node.text(strip=True) for node in (tree.css_first("title"), tree.css_first("h1")) if node is not None
    ]
    return bool(_RESULTS_HEADING.search(" ".join(parts)))


def extract_page(
    body: str | bytes,
    url: str | None = None,
    *,
    selectors: Selectors | None = None,
    currency: str | None = None,
    content_type: str | None = None,
) -> Product:
    """Read a product page (HTML) into a Product; blocked pages say so and carry no price."""
    decoded, utf8 = _decoded(body, content_type)
    text = bound_depth(decoded)
    blocked = detect_block(text)
    if blocked:
        availability, rule = decide(Evidence(blocked=True))
        why = {"availability_rule": rule}
        return Product(url=url, blocked=blocked, availability=availability, method="blocked", extra=why)
    # The parser reads UTF-8 and would encode the text back to it: given the fetched bytes when they
    # are that UTF-8 already (a fifth of the parse's time on a 400 KB page).
    tree = LexborHTMLParser(body if utf8 and text is decoded else text)
    html_node = tree.css_first("html")
    lang = html_node.attributes.get("lang") if html_node is not None else None
    extra: dict[str, Any] = {}
    meta = _meta(tree)
    hint = currency or currency_from_url(url) or currency_from_lang(lang)
    cache = Cache()
    visible = price_candidates(tree, currency_hint=hint, lang=lang, cache=cache)

    title: str | None = None
    sku: str | None = None
    image: str | None = None
    brand: str | None = None
    price: Decimal | None = None
    cur: str | None = None
    compare_at: Decimal | None = None
    availability = Availability.UNKNOWN
    sizes: tuple[SizeOffer, ...] = ()
    method: str | None = None

    products = products_from(_jsonld_blocks(tree))
    h1 = tree.css_first("h1")
    page_title = h1.text(strip=True) if h1 is not None else None
    main = _main_product(products, url, page_title or meta.get("og:title"))
    if main is None or not (main.offers or main.variants):
        md = _microdata(tree, hint, lang)
        if md is not None:
            main = (
                md
                if main is None
                else ProductData(
                    title=main.title or md.title,
                    sku=main.sku or md.sku,
                    image=main.image,
                    brand=main.brand,
                    url=main.url,
                    offers=md.offers,
                    source="microdata",
                )
            )
            products = [main]
    shown = {c.amount for c in visible if not c.old and not c.machine}
    state = None
    if main is None or not (main.offers or main.variants) or not _sizes(_merge_size_products(products, main)):
        # The page's own app state: the product itself when structured data has none, else its sizes.
        canonical = tree.css_first('link[rel="canonical"]')
        try:
            state = read_state(
                tree,
                url=url,
                canonical=canonical.attributes.get("href") if canonical is not None else None,
                heading=page_title or meta.get("og:title"),
                currency_hint=hint,
                shown=shown,
            )
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, ArithmeticError):
            state = None  # a state blob of a shape nobody foresaw: the rest of the page still counts
        if state is not None and (main is None or not (main.offers or main.variants)):
            main, products, state = state, [state], None
    if main is not None:
        offers = _merge_size_products(products, main)
        chosen = _choose_offer(offers, url, visible)
        title, sku, image, brand = main.title, main.sku, main.image, main.brand
        if chosen is not None and chosen.price is not None:
            price, cur, compare_at = chosen.price, chosen.currency, chosen.compare_at
            sku = sku or chosen.sku
            method = main.source
        availability = _any_in_stock(offers)
        sizes = _sizes(offers)
        if main.release_date:
            # A launch date on a brand-store page: the release hook creates or confirms a release.
            extra["release_date"] = main.release_date
    if state is not None:
        state_offers = _merge_size_products([state], state)
        if price is None:
            chosen = _choose_offer(state_offers, url, visible)
            if chosen is not None and chosen.price is not None:
                price, cur, compare_at = chosen.price, chosen.currency, chosen.compare_at
                method = state.source
        if not sizes and _sizes(state_offers):
            sizes = _sizes(state_offers)
            extra["sizes_from"] = state.source
        if availability == Availability.UNKNOWN:
            availability = _any_in_stock([o for o in state_offers if o.size is None])

    # OpenGraph and twitter cards: prices the page states about itself.
    meta_prices = _meta_prices(meta, hint, lang)
    if price is None and meta_prices:
        price, cur, method = meta_prices[0]
    if availability == Availability.UNKNOWN:
        availability = availability_of(meta.get("product:availability") or meta.get("og:availability"))

    if price is None and not visible:
        # Last resort for pages with no price markup at all: "Price: $294" in the page description.
        price, cur = _described_price(meta, hint, lang)
        method = "description" if price is not None else method

    best, strike = best_price(visible)
    if price is None and best is None:
        best = near_title_price(tree, currency_hint=hint, lang=lang, cache=cache) or heading_price(
            tree, currency_hint=hint, lang=lang
        )
    if price is None and best is not None:
        price, cur, method = best.amount, best.currency, "visible"
        if strike is not None:
            compare_at = strike.amount
    elif price is not None and shown and price not in shown:
        # The structured price is nowhere on the page: trust another statement the page shows.
        confirmed = [m for m in meta_prices if m[0] in shown and m[0] != price]
        if confirmed:
            extra["conflict"] = {"structured": str(price), "shown": str(confirmed[0][0])}
            price, cur, method = confirmed[0][0], confirmed[0][1] or cur, f"{method}+{confirmed[0][2]}"
        elif best is not None and best.score >= 3.0:
            extra["conflict"] = {"structured": str(price), "visible": str(best.amount)}
            price, cur = best.amount, best.currency or cur
            method = f"{method}+visible"
    if price is not None and compare_at is None and strike is not None and strike.amount > price:
        near = [c for c in visible if c.amount == price and not c.old]
        if near:
            compare_at = strike.amount

    # The picker, cart and stock text are read only when a row of the table looks at them (per-size
    # data that settles stock makes all three moot); the picker also when there are no sizes yet.
    picked: list[tuple[SizeOffer, ...]] = []

    def read_picker() -> tuple[SizeOffer, ...]:
        if not picked:
            picked.append(size_picker(tree, cache))
        return picked[0]

    readers: dict[str, Callable[[], Any]] = {
        "picker": read_picker,
        "cart": lambda: buy_button(tree, cache),
        "words": lambda: stock_text(tree, cache),
    }
    availability, rule, _ = decide_reading(Evidence(structured=availability, size_data=sizes), readers)
    picker = read_picker() if not sizes else ()
    extra["availability_rule"] = rule
    if rule == "stale_in_stock":
        extra["conflict_availability"] = {"structured": "InStock", "visible": "OutOfStock"}
    if not sizes and picker:
        sizes = picker
        extra["sizes_from"] = "picker"

    if title is None:
        h1 = tree.css_first("h1")
        title = (meta.get("og:title") or (h1.text(strip=True) if h1 is not None else None)) or None
    if image is None:
        image = meta.get("og:image")
    if cur is None and price is not None:
        # A structured amount without a currency: the one the page writes next to that amount.
        same = [c.currency for c in visible if c.amount == price and c.currency and not c.old]
        cur = meta.get("product:price:currency") or hint or (same[0] if same else None)
    if cur is not None and len(cur) != 3:
        cur = parse_price(cur + " 1", currency_hint=hint, page_lang=lang)[1]

    product = Product(
        title=title,
        url=url,
        sku=sku,
        style_code=find_style_code(sku, title, url),
        price=price,
        currency=cur.upper() if cur else cur,
        compare_at=compare_at
        if compare_at is not None and price is not None and compare_at > price
        else None,
        availability=availability,
        sizes=sizes,
        image=image,
        brand=brand,
        method=method,
        extra=extra,
    )
    if selectors is not None:
        from tracker.extract.css import apply_selectors

        product = apply_selectors(product, text, selectors, currency=hint, lang=lang)
    if product.price is None and main is None and url and _LISTING_HINT.search(url):
        product.extra["not_product"] = True
        product = product.with_(method=product.method or "not_product")
    elif main is None and _results_page(tree):
        product.extra["not_product"] = True
        product = product.with_(price=None, currency=None, compare_at=None, method="not_product")
    if product.price is None and _zero_price(text):
        product.extra["zero_price"] = True
    elif product.price is None and (unusable := _unusable_price(text)) is not None:
        product.extra["unusable_price"] = unusable
    if product.method is None:
        product = product.with_(method="none")
    return product
