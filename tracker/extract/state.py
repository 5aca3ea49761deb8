"""Embedded app state: the product a page's own app carries in Next.js, Nuxt, Redux, Apollo or JSON blobs.

Where: ``<script id="__NEXT_DATA__">``, Nuxt 3's ``__NUXT_DATA__`` payload, ``window.__NUXT__``,
``window.__INITIAL_STATE__`` / ``__PRELOADED_STATE__`` / ``__APOLLO_STATE__`` (and other
``window.__X__ = ...`` state assignments), and plain ``type="application/json"`` blobs. Apollo's
normalised references (``{"__ref": "Product:1"}``) are followed.

Which product: an object with a name and a price, variants or a SKU that agrees with the page
(its style code or SKU is in the URL or the heading, its URL or slug is the page's or the canonical
link's, or its name is the page's heading). Objects under related / recommended / recently viewed /
cart keys are never this page's product, and no agreement means no product.

What: the price a buyer pays (sale before regular; ``{"centAmount": 15000}``, ``priceInCents`` and
other minor-unit amounts divided by the currency's exponent, so JPY stays whole), the struck-through
price, the currency, and per-variant size and stock (``IN_STOCK`` / ``LOW_STOCK``, ``available:
true``, ``availableToOrder``, ``orderable``, a quantity above 0...). Sizes are kept as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from tracker.extract.jsonld import OfferData, ProductData, availability_of
from tracker.extract.jsvalue import read_js_value
from tracker.extract.model import Availability
from tracker.extract.pickers import looks_like_size
from tracker.extract.prices import MAX_AMOUNT, parse_amount, parse_price
from tracker.money import is_currency, minor_digits
from tracker.stylecode import find_style_code

MAX_BLOB = 5_000_000  # characters; a bigger script is a bundle, not state
MAX_NODES = 60_000  # objects visited per page
MAX_DEPTH = 40

# window.__X__ = ..., window["__X__"] = ..., self.__X__ = ...: assignments of app state.
_ASSIGN = re.compile(
    r"""(?:window|self|globalThis)\s*(?:\.\s*|\[\s*["'])(?P<name>[A-Za-z_$][\w$]*)(?:["']\s*\])?\s*=(?!=)\s*"""
)
_STATE_NAME = re.compile(r"^__\w+__$|state|store|data|props|product", re.I)

# Keys, compared lower-case without _ and -.
_NAME_KEYS = ("name", "title", "productname", "displayname", "producttitle", "productdisplayname")
_CURRENT_PRICE_KEYS = (
    "saleprice", "salesprice", "currentprice", "finalprice", "sellingprice", "specialprice", "promoprice",
    "offerprice", "nowprice", "actualprice", "discountedprice", "displayprice", "price", "prices",
    "pricing", "priceinfo", "pricedata", "pricerange", "pricevalue", "priceincents", "pricecents",
    "amount", "minprice", "lowprice", "frompricevalue",
)  # fmt: skip
_OLD_PRICE_KEYS = (
    "listprice", "originalprice", "regularprice", "compareatprice", "compareprice", "wasprice", "rrp",
    "msrp", "baseprice", "fullprice", "oldprice", "strikeprice", "strikethroughprice", "initialprice",
    "beforeprice", "retailprice", "recommendedretailprice",
)  # fmt: skip
# Inside a price object: the amount a buyer pays now first, then a plain value; never the old one.
_PRICE_PARTS = (
    "sales", "sale", "current", "final", "selling", "special", "promo", "now", "offer", "discounted",
    "value", "amount", "centamount", "price", "raw", "numeric", "decimal", "amountincents", "cents",
    "minvariantprice", "min", "minimum", "lowest", "from", "regular", "base", "formatted", "display",
    "formattedvalue", "formattedprice", "text",
)  # fmt: skip
_OLD_PARTS = (
    "list", "original", "was", "compareat", "strikethrough", "strike", "old", "rrp", "msrp", "before",
)  # fmt: skip
_CURRENCY_KEYS = ("currency", "currencycode", "currencyiso", "pricecurrency", "currencyid", "isocode")
_DIGITS_KEYS = ("fractiondigits", "precision", "exponent", "decimals", "decimalplaces")
_ID_KEYS = (
    "sku", "style", "stylecode", "stylenumber", "styleid", "productid", "productcode", "id", "masterid",
    "articlenumber", "article", "model", "modelnumber", "mpn", "code", "itemid", "itemnumber", "handle",
    "slug",
)  # fmt: skip
_SKU_KEYS = ("sku", "stylecode", "style", "stylenumber", "articlenumber", "mpn", "productid", "id")
_URL_KEYS = (
    "url", "href", "link", "path", "canonicalurl", "pdpurl", "producturl", "permalink", "uri", "slug",
)  # fmt: skip
_SIZE_KEYS = (
    "size", "sizelabel", "sizename", "sizevalue", "displaysize", "shoesize", "sizeus", "ussize", "sizecode",
    "sizetext", "localizedsize",
)  # fmt: skip
_LABEL_KEYS = ("label", "value", "displayvalue", "name", "title", "option1", "option2", "option3", "text")
_BOOL_STOCK = (
    "available", "isavailable", "availableforsale", "availabletoorder", "orderable", "isorderable",
    "instock", "isinstock", "purchasable", "ispurchasable", "buyable", "isbuyable", "sellable",
    "canaddtocart", "addtocartenabled", "hasstock", "selectable",
)  # fmt: skip
_NEGATED_STOCK = ("soldout", "issoldout", "outofstock", "isoutofstock", "unavailable", "disabled")
_STATUS_STOCK = (
    "availability", "stockstatus", "stockstate", "inventorystatus", "availabilitystatus", "status",
    "stock", "stocklevel", "stocklevelstatus", "state", "availabilitytype",
)  # fmt: skip
_QUANTITY_STOCK = (
    "quantity", "qty", "inventoryquantity", "stockquantity", "stocklevel", "inventorylevel", "ats",
    "availablequantity", "quantityavailable", "stock", "inventory", "stockcount", "available",
)  # fmt: skip
_STOCK_WORDS_IN = re.compile(
    r"^(in_?stock|available|low_?stock|limited|few_?left|last_?items?|pre_?order|back_?order|orderable|"
    r"high|medium|low|yes|ok|buyable|purchasable|on_?sale)$",
    re.I,
)
_STOCK_WORDS_OUT = re.compile(
    r"^(out_?of_?stock|sold_?out|unavailable|not_?available|no_?stock|none|oos|discontinued|no|"
    r"not_?orderable|coming_?soon|notify_?me)$",
    re.I,
)
# Keys whose contents are other products, never this page's.
_OTHER = re.compile(
    r"related|recommend|similar|upsell|crosssell|recent|alsobought|alsoviewed|alsolike|youmay|mightlike|"
    r"completethelook|shopthelook|bundle|accessor|suggest|carousel|cart|basket|bag|wishlist|favorite|"
    r"compare|bestseller|trending|sponsored|reco",
    re.I,
)
_WORD = re.compile(r"\w+")
_NAME_SET = frozenset(_NAME_KEYS)
_PRODUCT_SET = frozenset((*_CURRENT_PRICE_KEYS, "variants", "variations", "skus", "sizes", "sku", "items"))
_OTHER_KEYS: dict[str, bool] = {}


def _other_key(key: Any) -> bool:
    """Whether a key holds other products (memoised per key)."""
    if not isinstance(key, str):
        return False
    found = _OTHER_KEYS.get(key)
    if found is None:
        found = bool(_OTHER.search(_norm(key)))
        if len(_OTHER_KEYS) < 50_000:
            _OTHER_KEYS[key] = found
    return found


_NORMAL: dict[str, str] = {}


def _norm(key: str) -> str:
    """A key lower-cased without _ and - (memoised: state blobs repeat the same keys thousands of times)."""
    found = _NORMAL.get(key)
    if found is None:
        found = key.replace("_", "").replace("-", "").lower()
        if len(_NORMAL) < 50_000:
            _NORMAL[key] = found
    return found


@dataclass(frozen=True)
class PageIdentity:
    """What names this page's product: its URL, canonical link, heading and style codes."""

    paths: tuple[str, ...]
    heading: str
    codes: frozenset[str]
    tokens: frozenset[str]

    def needles(self) -> set[str]:
        """Lower-case words one of which a blob naming this product must contain."""
        words = {w for w in _WORD.findall(self.heading.lower()) if len(w) >= 5}
        return {c.lower() for c in self.codes} | {t for t in self.tokens if len(t) >= 5} | words


def page_identity(url: str | None, canonical: str | None, heading: str | None) -> PageIdentity:
    """The page's identity from its URL, canonical link and main heading."""
    paths = tuple(
        {urlparse(u).path.rstrip("/").lower() for u in (url, canonical) if u and urlparse(u).path.strip("/")}
    )
    codes = {c for c in (find_style_code(url), find_style_code(canonical), find_style_code(heading)) if c}
    tokens = {t for p in paths for t in re.split(r"[/\-_.,;=&?+]+", p) if len(t) >= 4}
    return PageIdentity(paths, heading or "", frozenset(codes), frozenset(tokens))


# -- finding the blobs --------------------------------------------------------------------------


def _unflatten(payload: list[Any]) -> Any:
    """Nuxt 3's payload (devalue): a flat list whose numbers point at other entries; entry 0 is the root."""
    memo: dict[int, Any] = {}

    def resolve(index: Any, depth: int = 0) -> Any:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or index >= len(payload):
            return None
        if index in memo or depth > MAX_DEPTH:
            return memo.get(index)
        value = payload[index]
        if isinstance(value, list):
            if value and isinstance(value[0], str) and value[0] in (
                "Reactive", "ShallowReactive", "Ref", "ShallowRef", "EmptyRef", "EmptyShallowRef", "NuxtError"
            ):  # fmt: skip
                memo[index] = None
                memo[index] = resolve(value[1], depth + 1) if len(value) > 1 else None
                return memo[index]
            if value and isinstance(value[0], str):
                memo[index] = None  # Date, Set, Map and friends: not product data
                return None
            out_list: list[Any] = []
            memo[index] = out_list
            out_list.extend(resolve(i, depth + 1) for i in value)
            return out_list
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            memo[index] = out
            for key, ref in value.items():
                out[key] = resolve(ref, depth + 1)
            return out
        memo[index] = value
        return value

    return resolve(0)


def state_blobs(tree: Any, needles: set[str] | None = None) -> Iterator[tuple[str, Any]]:
    """(where, data) for every app-state blob in the page's scripts (with needles: only blobs whose
    text contains one of them, so a page's unrelated scripts are never parsed)."""
    for node in tree.tags("script"):  # css("script")'s elements, found three times faster
        attrs = node.attributes
        kind = (attrs.get("type") or "").lower()
        if "ld+json" in kind or attrs.get("src"):
            continue
        text = node.text(deep=False) or ""
        if len(text) > MAX_BLOB or len(text) < 20:
            continue
        ident = attrs.get("id") or ""
        if needles is not None:
            lowered = text.lower()
            if not any(n in lowered for n in needles):
                continue
        if "json" in kind:
            try:
                data = json.loads(text, parse_float=Decimal)
            except ValueError:
                continue
            if ident == "__NUXT_DATA__" or "data-nuxt-data" in attrs:
                data = _unflatten(data) if isinstance(data, list) else data
            yield ident or "application/json", data
            continue
        if kind and "javascript" not in kind and "module" not in kind:
            continue
        for match in _ASSIGN.finditer(text):
            name = match.group("name")
            if not _STATE_NAME.search(name):
                continue
            try:
                data = read_js_value(text[match.end() :].split("</script", 1)[0])
            except (ValueError, IndexError, RecursionError, OverflowError):
                continue
            if isinstance(data, dict | list):
                yield f"window.{name}", data


# -- walking ------------------------------------------------------------------------------------


@dataclass
class _Walk:
    root: Any
    visited: int = 0
    seen: set[int] = field(default_factory=set)

    def deref(self, value: Any) -> Any:
        """Follow an Apollo reference to the object it names."""
        if isinstance(value, dict) and isinstance(self.root, dict) and len(value) <= 3:
            ref = value.get("__ref")
            if ref is None and value.get("type") == "id":
                ref = value.get("id")
            if isinstance(ref, str) and isinstance(self.root.get(ref), dict):
                return self.root[ref]
        return value

    def objects(
        self, value: Any, path: tuple[str, ...] = (), depth: int = 0
    ) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
        """Every object under value with the keys leading to it (references followed once); objects
        under related / recommended / cart keys are skipped with everything below them."""
        # Depth first, children in order, as recursion would go; a stack of its own because a chain
        # of 40 nested generators hands every object up 40 times.
        stack: list[tuple[Any, tuple[str, ...], int]] = [(value, path, depth)]
        while stack:
            value, path, depth = stack.pop()
            if isinstance(value, dict) and len(value) <= 3:  # only a small object can be a reference
                value = self.deref(value)
            if depth > MAX_DEPTH or self.visited > MAX_NODES:
                continue
            if isinstance(value, dict):
                if id(value) in self.seen:
                    continue
                self.seen.add(id(value))
                self.visited += 1
                yield value, path
                children = [
                    (child, (*path, str(key)), depth + 1)
                    for key, child in value.items()
                    if isinstance(child, dict | list) and not _other_key(key)
                ]
            elif isinstance(value, list):
                children = [(child, path, depth + 1) for child in value if isinstance(child, dict | list)]
            else:
                continue
            stack.extend(reversed(children))


def _get(obj: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    """The first (normalised key, value) of obj whose key is one of keys, in keys' order."""
    normal = {_norm(k): v for k, v in obj.items() if isinstance(k, str)}
    for key in keys:
        if key in normal and normal[key] not in (None, "", [], {}):
            return key, normal[key]
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        found = _get(value, ("value", "label", "name", "displayvalue", "text", "en", "default"))
        return _text(found[1]) if found else None
    return None


# -- price --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Money:
    amount: Decimal | None = None
    currency: str | None = None
    minor: bool = False  # the amount is in minor units (cents)


def _currency_in(obj: dict[str, Any]) -> str | None:
    found = _get(obj, _CURRENCY_KEYS)
    if found is None:
        return None
    code = _text(found[1])
    return code.upper() if code and is_currency(code.upper()) else None


def _scale(amount: Decimal, digits: int) -> Decimal:
    return amount / (Decimal(10) ** digits) if digits else amount


def _money(value: Any, key: str, currency: str | None, walk: _Walk, depth: int = 0) -> _Money:
    """An amount from a price value: a number, a formatted string or a price object."""
    value = walk.deref(value)
    minor = "cent" in key or "minor" in key
    if isinstance(value, bool) or value is None or depth > 4:
        return _Money()
    if isinstance(value, int | Decimal | float):
        amount = parse_amount(value)
        return _Money(amount, currency, minor)
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            return _Money(parse_amount(value), currency, minor)
        amount, cur = parse_price(value, currency_hint=currency)
        return _Money(amount, cur if cur and is_currency(cur) else currency)
    if isinstance(value, list):
        for item in value[:3]:
            found = _money(item, key, currency, walk, depth + 1)
            if found.amount is not None:
                return found
        return _Money()
    if not isinstance(value, dict):
        return _Money()
    cur = _currency_in(value) or currency
    digits_found = _get(value, _DIGITS_KEYS)
    normal = {_norm(k): v for k, v in value.items() if isinstance(k, str)}
    for part in _PRICE_PARTS:
        if part not in normal or normal[part] in (None, "", {}):
            continue
        found = _money(normal[part], part, cur, walk, depth + 1)
        if found.amount is None:
            continue
        digits = digits_found[1] if digits_found is not None else None
        if isinstance(digits, int) and found.amount == found.amount.to_integral():
            return _Money(_scale(found.amount, digits), found.currency or cur, False)
        return _Money(found.amount, found.currency or cur, found.minor or minor)
    return _Money()


def _old_money(value: Any, currency: str | None, walk: _Walk) -> _Money:
    """The struck-through amount inside a price object ({"list": ..., "sales": ...})."""
    value = walk.deref(value)
    if not isinstance(value, dict):
        return _Money()
    normal = {_norm(k): v for k, v in value.items() if isinstance(k, str)}
    cur = _currency_in(value) or currency
    for part in _OLD_PARTS:
        for key, child in normal.items():
            if key.startswith(part) and child not in (None, "", {}):
                found = _money(child, key, cur, walk, 1)
                if found.amount is not None:
                    return found
    return _Money()


def _in_major(money: _Money, currency: str | None, shown: set[Decimal]) -> Decimal | None:
    """The amount in major units: minor-unit amounts divided by the currency's exponent, and a whole
    number the page only shows divided (15000 where the page shows 150.00) taken as cents too."""
    amount = money.amount
    if amount is None:
        return None
    digits = minor_digits(money.currency or currency)
    whole = amount == amount.to_integral()
    only_divided_shown = bool(digits) and amount not in shown and _scale(amount, digits) in shown
    if whole and (money.minor or only_divided_shown):
        amount = _scale(amount, digits)
    if amount <= 0 or amount >= MAX_AMOUNT:
        return None
    return amount


# -- stock --------------------------------------------------------------------------------------


def _stock_word(value: Any) -> Availability:
    if isinstance(value, bool):
        return Availability.IN_STOCK if value else Availability.OUT_OF_STOCK
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Availability.IN_STOCK if value > 0 else Availability.OUT_OF_STOCK
    if isinstance(value, str):
        word = value.strip().rsplit("/", 1)[-1].replace(" ", "_").replace("-", "_")
        if _STOCK_WORDS_OUT.match(word):
            return Availability.OUT_OF_STOCK
        if _STOCK_WORDS_IN.match(word):
            return Availability.IN_STOCK
        if word.isdigit():
            return Availability.IN_STOCK if int(word) > 0 else Availability.OUT_OF_STOCK
        return availability_of(value)
    return Availability.UNKNOWN


def stock_of(obj: dict[str, Any], walk: _Walk | None = None, depth: int = 0) -> Availability:
    """What an object says about its stock: flags, a status word or a quantity; unknown otherwise."""
    normal = {_norm(k): v for k, v in obj.items() if isinstance(k, str)}
    for key in _BOOL_STOCK:
        if isinstance(normal.get(key), bool):
            return _stock_word(normal[key])
    for key in _NEGATED_STOCK:
        if isinstance(normal.get(key), bool):
            return Availability.OUT_OF_STOCK if normal[key] else Availability.IN_STOCK
    for key in _STATUS_STOCK:
        value = normal.get(key)
        if isinstance(value, str):
            state = _stock_word(value)
            if state != Availability.UNKNOWN:
                return state
        elif isinstance(value, dict) and depth < 2:
            state = stock_of(walk.deref(value) if walk else value, walk, depth + 1)
            if state != Availability.UNKNOWN:
                return state
    for key in _QUANTITY_STOCK:
        value = normal.get(key)
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return _stock_word(value)
    return Availability.UNKNOWN


# -- variants -----------------------------------------------------------------------------------


def _text_at(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The text of the first of keys that obj holds."""
    found = _get(obj, keys)
    return _text(found[1]) if found else None


def _size_attribute(attrs: Any) -> str | None:
    """The size among a variant's attributes: {"size": "9"} or [{"name": "Size", "value": "9"}]."""
    if isinstance(attrs, dict):
        for name, value in attrs.items():
            if "size" in _norm(str(name)) and looks_like_size(_text(value)):
                return _text(value)
    if isinstance(attrs, list):
        for item in attrs:
            if not isinstance(item, dict):
                continue
            kind = _text_at(item, ("name", "key", "type", "id", "attributeid", "code"))
            value = _text_at(item, ("value", "label", "displayvalue", "text"))
            if kind and "size" in kind.lower() and looks_like_size(value):
                return value
    return None


def _size_label(obj: dict[str, Any]) -> str | None:
    """A variant's size as written: a size key, a size attribute, else a label that reads as a size."""
    label = _text_at(obj, _SIZE_KEYS)
    if label and looks_like_size(label):
        return label
    normal = {_norm(k): v for k, v in obj.items() if isinstance(k, str)}
    for key in ("attributes", "selectedoptions", "options", "variationattributes", "variationvalues"):
        label = _size_attribute(normal.get(key))
        if label:
            return label
    for key in _LABEL_KEYS:
        label = _text_at(obj, (key,))
        if looks_like_size(label):
            return label
    return None


@dataclass(frozen=True)
class _Variant:
    size: str
    availability: Availability
    money: _Money
    sku: str | None


def _variant_lists(product: dict[str, Any], walk: _Walk) -> Iterator[list[Any]]:
    """Lists (and id-keyed maps) of objects under the product: where variants and sizes live."""
    for obj, _path in _Walk(walk.root).objects(product):
        for key, value in obj.items():
            if _other_key(key):
                continue
            target = walk.deref(value)
            if isinstance(target, list) and len(target) >= 1 and isinstance(walk.deref(target[0]), dict):
                yield [walk.deref(v) for v in target]
            elif (
                isinstance(target, dict)
                and len(target) >= 2
                and all(isinstance(walk.deref(v), dict) for v in target.values())
            ):
                yield [walk.deref(v) for v in target.values()]


def _variants(product: dict[str, Any], currency: str | None, walk: _Walk) -> list[_Variant]:
    """The product's sizes with their stock: the list of objects with the most size labels."""
    best: list[_Variant] = []
    for items in _variant_lists(product, walk):
        found: list[_Variant] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            label = _size_label(item)
            if label is None:
                continue
            price_key = _get(item, _CURRENT_PRICE_KEYS)
            money = _money(price_key[1], price_key[0], currency, walk) if price_key else _Money()
            sku = _text_at(item, ("sku", "id", "variantid", "code", "ean", "upc", "gtin"))
            found.append(_Variant(label, stock_of(item, walk), money, sku))
        if len(found) > len(best):
            best = found
    return best


# -- the page's product -------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1}


def _agreement(normal: dict[str, Any], name: str, page: PageIdentity, heading: set[str]) -> float:
    """How surely an object (its keys normalised) is the page's product: style code / SKU, URL or
    slug, then name."""
    score = 0.0
    for key in _ID_KEYS:
        raw = normal.get(key)
        if raw is None:  # most keys are absent: _text(None) is None
            continue
        value = _text(raw)
        if not value or len(value) < 4:
            continue
        lowered = value.lower()
        if (
            lowered in page.tokens
            or any(lowered == p.rsplit("/", 1)[-1] for p in page.paths)
            or (page.codes and find_style_code(value) in page.codes)
        ):
            return 3.0
    for key in _URL_KEYS:
        raw = normal.get(key)
        if raw is None:
            continue
        value = _text(raw)
        if not value:
            continue
        path = urlparse(value).path.rstrip("/").lower()
        if path and any(p == path or (len(path) > 8 and p.endswith(path)) for p in page.paths):
            return 3.0
    own = _words(name)
    if heading and own:
        share = len(own & heading) / len(own)
        if own == heading:
            score = 3.0
        elif share >= 0.6 and len(own & heading) >= 2:
            score = 2.0 * share
    return score


@dataclass(frozen=True)
class _Candidate:
    obj: dict[str, Any]
    name: str
    score: float
    depth: int
    has_price: bool
    where: str


# Whether objects with these keys, in this order, can be a product (a name, and a price or sizes):
# a blob holds thousands of objects of a few shapes, so each shape's keys are normalised once.
_SHAPES: dict[tuple[Any, ...], bool] = {}


def _may_be_product(obj: dict[Any, Any]) -> bool:
    shape = tuple(obj)
    found = _SHAPES.get(shape)
    if found is None:
        keys = [_norm(k) for k in shape if isinstance(k, str)]
        found = not (_NAME_SET.isdisjoint(keys) or _PRODUCT_SET.isdisjoint(keys))
        if len(shape) <= 64 and len(_SHAPES) < 20_000:  # an id-keyed map of 10,000 entries is no shape
            _SHAPES[shape] = found
    return found


def _candidates(where: str, data: Any, page: PageIdentity) -> Iterator[_Candidate]:
    walk = _Walk(data)
    heading = _words(page.heading)
    for obj, path in walk.objects(data):
        if not _may_be_product(obj):
            continue  # most objects in a state blob are not products: two set checks say so
        normal = {_norm(k): v for k, v in obj.items() if isinstance(k, str)}
        name = next((_text(normal[k]) for k in _NAME_KEYS if normal.get(k) not in (None, "")), None)
        if not name or len(name) > 300:
            continue
        has_price = any(normal.get(k) not in (None, "", [], {}) for k in _CURRENT_PRICE_KEYS)
        score = _agreement(normal, name, page, heading)
        if score > 0:
            yield _Candidate(obj, name, score, len(path), has_price, where)


def read_state(
    tree: Any,
    *,
    url: str | None,
    canonical: str | None,
    heading: str | None,
    currency_hint: str | None,
    shown: set[Decimal],
) -> ProductData | None:
    """This page's product from its embedded app state, or None when no blob names it."""
    page = page_identity(url, canonical, heading)
    best: _Candidate | None = None
    best_root: Any = None
    for where, data in state_blobs(tree, page.needles()):
        for cand in _candidates(where, data, page):
            key = (cand.score, cand.has_price, -cand.depth)
            if best is None or key > (best.score, best.has_price, -best.depth):
                best, best_root = cand, data
    if best is None:
        return None
    return _product(best, _Walk(best_root), currency_hint, shown)


def _product(cand: _Candidate, walk: _Walk, hint: str | None, shown: set[Decimal]) -> ProductData:
    obj = cand.obj
    currency = _currency_in(obj) or _root_currency(walk.root) or hint
    price_key = _get(obj, _CURRENT_PRICE_KEYS)
    money = _money(price_key[1], price_key[0], currency, walk) if price_key else _Money()
    currency = money.currency or currency
    price = _in_major(money, currency, shown)
    old = _old_money(price_key[1], currency, walk) if price_key else _Money()
    if old.amount is None:
        old_key = _get(obj, _OLD_PRICE_KEYS)
        old = _money(old_key[1], old_key[0], currency, walk) if old_key else _Money()
    compare_at = _in_major(old, currency, shown)
    image = _get(obj, ("image", "imageurl", "images", "thumbnail", "primaryimage"))
    product = ProductData(
        title=cand.name,
        sku=_text_at(obj, _SKU_KEYS),
        image=_image(image[1]) if image else None,
        brand=_text_at(obj, ("brand", "brandname", "vendor")),
        offers=[
            OfferData(
                price=price,
                currency=currency,
                compare_at=compare_at if compare_at and price and compare_at > price else None,
                availability=stock_of(obj, walk),
            )
        ],
        source=f"app-state ({cand.where})",
    )
    for variant in _variants(obj, currency, walk):
        amount = _in_major(variant.money, currency, shown) if variant.money.amount is not None else None
        product.variants.append(
            ProductData(
                sku=variant.sku,
                size=variant.size,
                offers=[
                    OfferData(
                        price=amount or price,
                        currency=currency,
                        # A variant with no price of its own has the product's, struck-through one too.
                        compare_at=product.offers[0].compare_at if amount is None else None,
                        availability=variant.availability,
                    )
                ],
                source=product.source,
            )
        )
    return product


def _root_currency(root: Any) -> str | None:
    """A currency the state names for the whole shop (store settings, locale), when the product does not."""
    for obj, _path in _Walk(root).objects(root):
        found = _currency_in(obj)
        if found:
            return found
    return None


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        found = _get(value, ("url", "src", "href", "large", "original"))
        value = found[1] if found else None
    return value if isinstance(value, str) and value.startswith(("http", "//", "/")) else None
