"""Visible size pickers: buttons, radio inputs, <select> options and swatch lists whose labels are sizes.

Each size keeps its label as the page writes it ("US 9.5", "9½", "EU 44 2/3", "28.0cm"); placing it
in a size system is left to the size module. A size is unavailable when its control is disabled
(``disabled``, ``aria-disabled``), carries an unavailable class (unselectable, sold-out,
out-of-stock, unavailable, disabled...), a data attribute that says so (``data-available="false"``,
``data-stock="0"``), or "sold out" / "notify me" text in the page's language; otherwise it can be
chosen, which is what the page says about it.
"""

from __future__ import annotations

import re
from typing import Any

from tracker.extract.model import Availability, SizeOffer
from tracker.extract.visible import SOLD_OUT, SOLD_OUT_CJK, Cache, in_other_product

# A shoe size as shops label it: an optional system or gender word, a number with halves or thirds,
# an optional unit, and optionally more systems after a slash ("US 9.5 / UK 9 / EU 43").
_SIZE = re.compile(
    r"""^\s*
    (?:(?:US|UK|EU|EUR|FR|IT|DE|JP|JPN|CM|MX|KR|CN|BR|AU|M|W|Y|C|Men'?s|Women'?s|Mens|Womens|
        Herren|Damen|Homme|Femme|Size|Gr(?:ö|oe?)(?:ss|ß)e|Taille|Talla|Taglia|Maat|Storlek)\s*[:.]?\s*)?
    (?P<num>\d{3}|\d{1,2}(?:[.,]\d{1,2})?)(?:\s*(?:½|⅓|⅔|1/2|1/3|2/3))?|^\s*(?P<half>½)
    """,
    re.I | re.X,
)
_SIZE_TAIL = re.compile(r"^\s*(?:cm|mm|us|uk|eu|m|w|d|2e|4e|b|y|c)?\.?\s*(?:[/|,–-]\s*\S.*)?$", re.I)
# Words that mark an element or its container as the size choice, in the languages shops use.
_SIZE_WORDS = re.compile(
    r"size|sizing|gr(?:ö|oe?)(?:ss|ß)e|taille|talla|taglia|maat|storlek|st(?:ø|o)rrelse|koko|rozmiar|"
    r"velikost|tamanho|m(?:é|e)ret|beden|m(?:ă|a)rime|размер|サイズ|尺码|尺碼|사이즈",
    re.I,
)
# Containers that list sizes without offering them: size guides, conversion charts, listing filters.
_NOT_A_PICKER = re.compile(
    r"guide|chart|conversion|filter|facet|refine|fit-?finder|size-?help|quantit|qty|menge|anzahl|"
    r"cantidad|aantal|antal|ilo(?:ś|s)(?:ć|c)|pagination|pager|paging|page-?num|dots|rating|stars|review",
    re.I,
)
_UNAVAILABLE_CLASS = re.compile(
    r"(?<![a-z])(?:unselectable|not-?selectable|unavailable|not-?available|notavailable|sold-?out|"
    r"out-?of-?stock|outofstock|oos|disabled|is-disabled|inactive|no-?stock|nostock|crossed-?out|"
    r"strike(?:-?through)?)(?![a-z])",
    re.I,
)
_NOTIFY = re.compile(
    r"notify\s+me|email\s+me|benachrichtig|me\s+pr[ée]venir|av[ií]same|avvisami|waitlist|wait\s+list", re.I
)
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_OPTION_LIKE = 'button, input[type="radio"], [role="radio"], [role="option"], [data-size], [data-value]'
_MAX_GROUPS = 60


def size_number(label: str) -> float | None:
    """The number a size label states (9.5 for "US 9½"), or None when the label is no size."""
    match = _SIZE.match(label)
    if match is None:
        return None
    if match.group("half"):
        rest = label[match.end() :]
        return 0.5 if _SIZE_TAIL.match(rest) else None
    if not _SIZE_TAIL.match(label[match.end() :]):
        return None
    number = float(match.group("num").replace(",", "."))
    # Shoe sizes in any system (kids' 1 to EU 52) or in millimetres (220-330).
    return number if 1 <= number <= 52 or 200 <= number <= 330 else None


def looks_like_size(label: str | None) -> bool:
    """Whether a label reads as a shoe size ("9.5", "US 9½", "EU 44 2/3", "28.0cm")."""
    return bool(label) and len(label or "") <= 40 and size_number(label or "") is not None


def clean_label(text: str) -> str:
    """The size label without sold-out / notify words and the separators around them."""
    if not any(c.isdigit() or c == "½" for c in text):
        return text.strip()  # no number, no size: nothing worth cleaning
    text = " ".join(text.split())
    for pattern in (SOLD_OUT, SOLD_OUT_CJK, _NOTIFY):
        text = pattern.sub(" ", text)
    text = re.sub(r"[(\[]\s*[)\]]", " ", text)
    return " ".join(text.split()).strip(" -–—:|,()[]")


def _says_unavailable(text: str) -> bool:
    return bool(SOLD_OUT.search(text) or SOLD_OUT_CJK.search(text) or _NOTIFY.search(text))


def _attr_unavailable(node: Any) -> bool:
    """Whether one element's own markup marks it unavailable."""
    attrs = node.attributes
    if "disabled" in attrs or (attrs.get("aria-disabled") or "").lower() == "true":
        return True
    if _UNAVAILABLE_CLASS.search(attrs.get("class") or ""):
        return True
    for name, value in attrs.items():
        if not name.startswith("data-") or value is None:
            continue
        key, val = name[5:].lower(), value.strip().lower()
        if key in ("available", "in-stock", "instock", "orderable", "selectable", "is-available"):
            if val in _FALSE:
                return True
        elif (key in ("stock", "quantity", "qty", "inventory", "stock-level") and val in ("0", "0.0")) or (
            key in ("availability", "stock-status", "status") and re.search(r"out|sold|unavail|not", val)
        ):
            return True
    title = (attrs.get("title") or "") + " " + (attrs.get("aria-label") or "")
    return bool(title.strip()) and _says_unavailable(title)


def _label_of(node: Any, tree_labels: dict[str, Any]) -> tuple[str, list[Any]]:
    """A control's label text and the elements that carry it (the control, its <label>)."""
    attrs = node.attributes
    carriers = [node]
    text = ""
    if node.tag == "input":
        label = tree_labels.get(attrs.get("id") or "")
        parent = node.parent
        if label is None and parent is not None and parent.tag == "label":
            label = parent
        if label is None and node.next is not None and node.next.tag == "label":
            label = node.next
        if label is not None:
            carriers.append(label)
            text = label.text(deep=True, separator=" ", strip=True)
        text = text or attrs.get("aria-label") or attrs.get("value") or ""
    else:
        text = node.text(deep=True, separator=" ", strip=True)
        for name in ("aria-label", "data-size", "data-value", "data-attr-value", "title", "value"):
            candidate = attrs.get(name)
            if (
                candidate
                and not looks_like_size(clean_label(text))
                and looks_like_size(clean_label(candidate))
            ):
                text = candidate
    return clean_label(text), carriers


def _read_items(items: list[Any], labels: dict[str, Any], container: Any) -> list[SizeOffer]:
    """SizeOffers for the items whose labels are sizes, unavailable ones marked."""
    out: list[SizeOffer] = []
    stop = container.mem_id if container is not None else None
    for item in items:
        label, carriers = _label_of(item, labels)
        if not looks_like_size(label):
            continue
        raw = " ".join(c.text(deep=True, separator=" ", strip=True) for c in carriers)
        unavailable = _says_unavailable(raw) or any(_attr_unavailable(c) for c in carriers)
        parent, hops = item.parent, 0
        while not unavailable and parent is not None and hops < 2 and parent.mem_id != stop:
            # <li class="unavailable"><button>9</button></li>: the wrapper says it.
            if parent.tag in ("li", "div", "span", "label"):
                unavailable = _attr_unavailable(parent)
            parent, hops = parent.parent, hops + 1
        state = Availability.OUT_OF_STOCK if unavailable else Availability.IN_STOCK
        out.append(SizeOffer(size=label, availability=state))
    return out


def _from_select(node: Any) -> list[SizeOffer]:
    out: list[SizeOffer] = []
    for option in node.css("option"):
        text = option.text(deep=True, separator=" ", strip=True)
        label = clean_label(text)
        if not looks_like_size(label):
            continue
        unavailable = _says_unavailable(text) or _attr_unavailable(option)
        state = Availability.OUT_OF_STOCK if unavailable else Availability.IN_STOCK
        out.append(SizeOffer(size=label, availability=state))
    return out


def _container_words(node: Any) -> str:
    attrs = node.attributes
    return " ".join(
        v
        for k, v in attrs.items()
        if v and (k in ("class", "id", "name", "aria-label", "title") or k.startswith("data-"))
    )


def _acceptable(node: Any, cache: Cache) -> bool:
    """Not a size guide or filter, not hidden, not in another product's block."""
    probe, hops = node, 0
    while probe is not None and hops < 4 and probe.tag not in ("body", "html"):
        words = _container_words(probe)
        if words and _NOT_A_PICKER.search(words):
            return False
        if probe.tag == "template" or "hidden" in probe.attributes:
            return False
        probe, hops = probe.parent, hops + 1
    return not in_other_product(node, 12, cache)


def _counting(offers: list[SizeOffer]) -> bool:
    """Whether the labels are 1, 2, 3...: page numbers or quantities, not sizes."""
    return [o.size for o in offers] == [str(i) for i in range(1, len(offers) + 1)]


def _dedupe(offers: list[SizeOffer]) -> tuple[SizeOffer, ...]:
    seen: dict[str, SizeOffer] = {}
    for offer in offers:
        known = seen.get(offer.size)
        # The same size twice (a desktop and a mobile picker): available if either says so.
        if known is None or offer.availability == Availability.IN_STOCK:
            seen[offer.size] = offer
    return tuple(seen.values())


def _candidate_groups(tree: Any) -> list[tuple[Any, list[Any]]]:
    """(container, option elements) groups: option-like siblings, and lists under size containers."""
    groups: dict[int, tuple[Any, list[Any]]] = {}
    for node in tree.css(_OPTION_LIKE):
        parent = node.parent
        if parent is not None and parent.tag in ("label", "li") and parent.parent is not None:
            parent = parent.parent  # <li><button>9</button></li>: the list is the group
        if parent is None:
            continue
        entry = groups.setdefault(parent.mem_id, (parent, []))
        entry[1].append(node)
        if len(groups) > _MAX_GROUPS * 4:
            break
    for container in tree.css('[class*="size" i], [id*="size" i], [data-attribute*="size" i]'):
        if container.tag in ("select", "option", "button", "input", "script", "style", "body", "html"):
            continue
        items = [c for c in container.css("li, a") if c.parent is not None]
        if len(items) >= 2 and container.mem_id not in groups:
            groups[container.mem_id] = (container, items)
        if len(groups) > _MAX_GROUPS * 5:
            break
    return list(groups.values())


def size_picker(tree: Any, cache: Cache | None = None) -> tuple[SizeOffer, ...]:
    """The page's size picker read as sizes with their availability; () when there is none."""
    cache = Cache() if cache is None else cache
    # tags() finds the elements css() would by name, three times faster; the "for" test is label[for]'s.
    labels = {
        (lab.attributes.get("for") or ""): lab for lab in tree.tags("label") if lab.attributes.get("for")
    }
    best: list[SizeOffer] = []
    best_named = False
    for select in tree.tags("select"):
        offers = _from_select(select)
        options = [o for o in select.css("option") if (o.attributes.get("value") or "").strip()]
        if len(offers) < 2 or len(offers) < 0.6 * len(options) or not _acceptable(select, cache):
            continue
        named = bool(_SIZE_WORDS.search(_container_words(select)))
        if not named and _counting(offers):
            continue
        if (named, len(offers)) > (best_named, len(best)):
            best, best_named = offers, named
    for container, items in _candidate_groups(tree):
        if len(items) < 2:
            continue
        offers = _read_items(items, labels, container)
        if len(offers) < 2 or len(offers) < 0.6 * len(items) or not _acceptable(container, cache):
            continue
        around = _container_words(container.parent) if container.parent is not None else ""
        named = bool(_SIZE_WORDS.search(_container_words(container) + " " + around))
        if not named and _counting(offers):
            continue
        if (named, len(offers)) > (best_named, len(best)):
            best, best_named = offers, named
    return _dedupe(best)
