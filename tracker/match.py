"""Matching a product to a colorway: style code first, then name similarity."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from tracker.extract.model import Product
from tracker.stylecode import find_style_code, mentions_2002r

# Words that every 2002R title carries and that say nothing about the colorway.
_NOISE = {
    "new",
    "balance",
    "nb",
    "2002r",
    "2002",
    "r",
    "mens",
    "men",
    "womens",
    "women",
    "unisex",
    "shoe",
    "shoes",
    "sneaker",
    "sneakers",
    "trainer",
    "trainers",
    "the",
    "and",
    "x",
    "in",
    "m",
}
NAME_THRESHOLD = 0.82


@dataclass(frozen=True)
class CatalogueEntry:
    """What matching needs to know of a colorway."""

    id: int
    style_code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """The outcome: a colorway id (or None), how it was found, and whether it is a 2002R at all."""

    colorway_id: int | None
    method: str
    style_code: str | None
    is_2002r: bool


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [t for t in re.split(r"[^a-z0-9]+", text) if t and t not in _NOISE]


def name_similarity(colorway_name: str, title: str) -> float:
    """How well a title names a colorway: share of the name's words found, blended with order."""
    name_tokens = _tokens(colorway_name)
    title_tokens = _tokens(title)
    if not name_tokens or not title_tokens:
        return 0.0
    found = sum(1 for t in name_tokens if t in title_tokens)
    coverage = found / len(name_tokens)
    order = SequenceMatcher(None, " ".join(name_tokens), " ".join(title_tokens)).ratio()
    return 0.8 * coverage + 0.2 * order


def product_style_code(product: Product) -> str | None:
    """The style code a product carries: its own field, variant SKUs, SKU, title, URL."""
    return find_style_code(
        product.style_code,
        *(s.sku for s in product.sizes),
        product.sku,
        product.title,
        product.external_id,
        product.url,
    )


def match_product(product: Product, catalogue: Sequence[CatalogueEntry]) -> Match:
    """Match by style code (exact), else by name when the product carries no style code."""
    code = product_style_code(product)
    is_2002r = bool(code) or mentions_2002r(product.title, product.external_id, product.url, *product.tags)
    return match_code_or_title(code, product.title, is_2002r, catalogue)


def match_listing(
    style_code: str | None, title: str | None, url: str | None, catalogue: Sequence[CatalogueEntry]
) -> Match:
    """Match a listing already stored (its style code, title and URL) as its product was matched: what a
    catalogue edit needs to connect listings discovered before their colorway was added."""
    code = find_style_code(style_code, title, url)
    return match_code_or_title(code, title, bool(code) or mentions_2002r(title, url), catalogue)


def match_code_or_title(
    code: str | None, title: str | None, is_2002r: bool, catalogue: Sequence[CatalogueEntry]
) -> Match:
    """The rule itself: the style code (or an alias) exactly, else the name when there is no code."""
    if code:
        for entry in catalogue:
            if entry.style_code == code or code in entry.aliases:
                return Match(entry.id, "style_code", code, True)
        # A style code we do not know is a discovery; never fall back to a name for it, since
        # names collide across colorways (two different "Rain Cloud" 2002Rs exist).
        return Match(None, "unmatched", code, is_2002r)
    if title and is_2002r:
        best: tuple[float, CatalogueEntry | None] = (0.0, None)
        for entry in catalogue:
            for name in (entry.name, *entry.aliases):
                score = name_similarity(name, title)
                if score > best[0]:
                    best = (score, entry)
        if best[1] is not None and best[0] >= NAME_THRESHOLD:
            return Match(best[1].id, "name", best[1].style_code, True)
    return Match(None, "unmatched", None, is_2002r)


def catalogue_from(rows: Iterable[tuple[int, str, str, Sequence[str]]]) -> list[CatalogueEntry]:
    """Build entries from (id, style_code, name, aliases) rows."""
    return [
        CatalogueEntry(i, code, name, tuple(a.upper() for a in aliases)) for i, code, name, aliases in rows
    ]
