"""Shoe sizes: reading a size label, placing it in a size system, converting on New Balance's chart.

A shop writes a size its own way ("US 9½", "UK 9 - EU 43", "M9.5 / W11", "28.0cm", a bare "44");
a collector thinks in one system. Every size is kept as written and, when it can be placed, as
values in known systems (US men's, US women's, UK, EU, cm / JP) plus its US men's equivalent, the
key sizes are compared on. A label's own system words win; a bare number takes the system the
markup names (an option called "UK Size"), else the source's ``size_system``, else the one the
shop's country uses (marked as a guess). A size that cannot be placed is never anyone's size.

Conversion uses New Balance's men's chart (the 2002R is sized on it), kept here as data; a source
can give its own chart (``size_chart``), which is tried first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

US_MEN, US_WOMEN, UK, EU, CM = "us_men", "us_women", "uk", "eu", "cm"
SYSTEMS: tuple[str, ...] = (US_MEN, US_WOMEN, UK, EU, CM)
# How each system is written in front of a value on the dashboard and in alerts.
PREFIX = {US_MEN: "US", US_WOMEN: "US W", UK: "UK", EU: "EU", CM: ""}
SYSTEM_NAMES = {US_MEN: "US men's", US_WOMEN: "US women's", UK: "UK", EU: "EU", CM: "cm (JP)"}
_NAMES = {
    **dict.fromkeys(("us", "us_men", "us_m", "us_mens", "men", "mens"), US_MEN),
    **dict.fromkeys(("us_women", "us_w", "us_womens", "women", "womens"), US_WOMEN),
    **dict.fromkeys(("uk", "gb"), UK),
    **dict.fromkeys(("eu", "eur"), EU),
    **dict.fromkeys(("cm", "jp", "mondopoint"), CM),
}

# New Balance's men's chart, as the brand publishes it: US men's, UK, EU, cm (JP).
_NB_MEN: tuple[tuple[str, str, str, str], ...] = (
    ("7", "6.5", "40", "25"),
    ("7.5", "7", "40.5", "25.5"),
    ("8", "7.5", "41.5", "26"),
    ("8.5", "8", "42", "26.5"),
    ("9", "8.5", "42.5", "27"),
    ("9.5", "9", "43", "27.5"),
    ("10", "9.5", "44", "28"),
    ("10.5", "10", "44.5", "28.5"),
    ("11", "10.5", "45", "29"),
    ("11.5", "11", "45.5", "29.5"),
    ("12", "11.5", "46.5", "30"),
    ("12.5", "12", "47", "30.5"),
    ("13", "12.5", "47.5", "31"),
    ("14", "13.5", "49", "32"),
)
# On New Balance's chart US women's is US men's plus one and a half (W 11.5 = M 10).
WOMEN_OFFSET = Fraction(3, 2)

# Values a bare number can take when its system comes from context (config, country, markup):
# a number outside them is not that system's size.
_PLAUSIBLE = {
    US_MEN: (Fraction(3), Fraction(18)),
    US_WOMEN: (Fraction(4), Fraction(16)),
    UK: (Fraction(2), Fraction(17)),
    EU: (Fraction(33), Fraction(53)),
    CM: (Fraction(19), Fraction(35)),
}
# A label that names its system may be a kids' or an odd size, but never a nonsense number.
_SANE = {
    US_MEN: (Fraction(0), Fraction(22)),
    US_WOMEN: (Fraction(0), Fraction(22)),
    UK: (Fraction(0), Fraction(21)),
    EU: (Fraction(15), Fraction(60)),
    CM: (Fraction(9), Fraction(36)),
}
# Bare numbers only one system can mean (adult shoes): 33-53 is EU, 19-32.5 is cm, 190-325 is mm.
_UNAMBIGUOUS = ((EU, Fraction(33), Fraction(53)), (CM, Fraction(19), Fraction(65, 2)))


def system_named(name: str | None) -> str | None:
    """The system a config name means ("us", "us_men", "us_women", "uk", "eu", "cm", "jp"), or None."""
    if not name:
        return None
    return _NAMES.get(re.sub(r"[\s\-']+", "_", str(name).strip().lower()))


def fmt(value: Fraction) -> str:
    """A size value as people write it: 10, 9.5, 9.25, 43 1/3."""
    if value.denominator == 1:
        return str(value.numerator)
    if value.denominator in (2, 4, 5, 10, 20, 100):
        return f"{float(value):g}"
    whole, rest = divmod(value.numerator, value.denominator)
    return f"{whole} {rest}/{value.denominator}" if whole else f"{rest}/{value.denominator}"


def parse_value(text: str) -> Fraction | None:
    """A stored value ("9.5", "43 1/3", "10") back to a Fraction, or None."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)(?:\s+(\d+)/(\d+))?\s*", str(text))
    if not match:
        return None
    value = Fraction(match.group(1))
    if match.group(2):
        value += Fraction(int(match.group(2)), int(match.group(3)))
    return value


def display(system: str, value: Fraction) -> str:
    """A value written in its system: US 10, US W 11.5, UK 9.5, EU 44, 28 cm."""
    if system == CM:
        return f"{fmt(value)} cm"
    return f"{PREFIX[system]} {fmt(value)}"


# --- the chart ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """A size chart: rows of equal sizes, each a {system: value} mapping."""

    rows: tuple[tuple[tuple[str, Fraction], ...], ...]

    @staticmethod
    def from_columns(columns: Mapping[str, Sequence[Any]]) -> Chart:
        """A chart from equal-length columns keyed by system name ({"uk": [6, 6.5], "us_men": [7, 7.5]})."""
        keyed: dict[str, list[Fraction]] = {}
        for name, values in columns.items():
            system = system_named(name)
            if system is None:
                raise ValueError(f"{name!r} is not a size system (use {', '.join(SYSTEMS)})")
            parsed = [_chart_value(v) for v in values]
            bad = [str(v) for v, p in zip(values, parsed, strict=False) if p is None]
            if bad:
                raise ValueError(f'{bad[0]!r} is not a size value (write 9.5, "9½", 44 or "43 1/3")')
            keyed[system] = [p for p in parsed if p is not None]
        if len(keyed) < 2:
            raise ValueError("a size chart needs at least two systems, e.g. { uk = [...], us_men = [...] }")
        lengths = {len(v) for v in keyed.values()}
        if len(lengths) != 1:
            raise ValueError("every system of a size chart needs the same number of sizes")
        count = lengths.pop()
        return Chart(tuple(tuple((s, keyed[s][i]) for s in keyed) for i in range(count)))

    def row(self, system: str, value: Fraction) -> dict[str, Fraction] | None:
        """The row where system has this value, or None."""
        for row in self.rows:
            for name, v in row:
                if name == system and v == value:
                    return dict(row)
        return None


def _nb_chart() -> Chart:
    rows = []
    for us, uk, eu, cm in _NB_MEN:
        men = Fraction(us)
        rows.append(
            (
                (US_MEN, men),
                (US_WOMEN, men + WOMEN_OFFSET),
                (UK, Fraction(uk)),
                (EU, Fraction(eu)),
                (CM, Fraction(cm)),
            )
        )
    return Chart(tuple(rows))


NB_CHART = _nb_chart()


def to_us(system: str, value: Fraction, chart: Chart | None = None) -> Fraction | None:
    """The US men's equivalent of a value: the shop's own chart first, then New Balance's."""
    if system == US_MEN:
        return value
    if system == US_WOMEN:
        return value - WOMEN_OFFSET
    for source in (chart, NB_CHART):
        row = source.row(system, value) if source is not None else None
        if row is None:
            continue
        if US_MEN in row:
            return row[US_MEN]
        if US_WOMEN in row:
            return row[US_WOMEN] - WOMEN_OFFSET
        for other, v in row.items():
            found = NB_CHART.row(other, v) if other != system else None
            if found is not None:
                return found[US_MEN]
    return None


def from_us(us: Fraction, system: str) -> Fraction | None:
    """A US men's size in another system on New Balance's chart, or None off the chart."""
    if system == US_MEN:
        return us
    if system == US_WOMEN:
        return us + WOMEN_OFFSET
    row = NB_CHART.row(US_MEN, us)
    return None if row is None else row[system]


def _chart_value(value: Any) -> Fraction | None:
    readings = parse_size_label(str(value)).readings
    return readings[0].value if len(readings) == 1 and readings[0].system is None else None


# --- reading a label ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One value in a label; system None for a bare number whose system the label does not say."""

    system: str | None
    value: Fraction


@dataclass(frozen=True)
class SizeLabel:
    """What a size label says: its values (with systems where it names them), width, letter or kids."""

    text: str
    readings: tuple[Reading, ...] = ()
    width: str | None = None
    letter: bool = False  # S, M, XL, One Size: clothing sizes, not a shoe system
    kids: bool = False  # 10.5C, 3Y, toddler: not on an adult chart

    @property
    def numeric(self) -> bool:
        """Whether the label gives at least one adult shoe size value."""
        return bool(self.readings) and not self.kids


_FRACTION_CHARS = {"½": " 1/2", "⅓": " 1/3", "⅔": " 2/3", "¼": " 1/4", "¾": " 3/4"}
# Words that only say "this is a size", in the languages shops write.
_SIZE_WORDS = re.compile(
    r"\b(?:shoe\s+)?(?:sizes?|taglia|taglie|größe|grösse|groesse|größen|talla|tallas|pointure|taille|maat|"
    r"storlek|størrelse|storrelse|koko|rozmiar|tamanho|velikost|méret|μέγεθος|размер|numero|número|"
    r"nummer|gr\.)(?=\W|\d|$)|サイズ|사이즈|尺码|尺碼|尺寸|:",
    re.I,
)
_LETTER = re.compile(r"^(?:x{0,3}s|m|x{0,4}l|\dxl|\dx|one size|onesize|one|os|o/s|osfa|unica|unique|tu)$")


def _words(alternatives: str) -> re.Pattern[str]:
    return re.compile(f"(?:{alternatives})")


_KIDS = _words(
    r"kids?|toddlers?|infants?|youth|junior|gs|ps|td|baby|child|children|boys|girls|grade|school|preschool"
    r"|big|little|c|y|k|t|i"  # 10.5C, 3Y, 4K (kids), 5T (toddler), 2I (infant)
)
_FLAGS = (
    (_words(r"us|usa"), "us"),
    (_words(r"m|men|mens|men's|man|male|herren|homme|hommes|uomo|hombre|heren"), "men"),
    (
        _words(
            r"w|wmns|wmn|wn|women|womens|women's|woman|ladies|lady|female|damen|femmes?|donna|mujer|dames"
        ),
        "women",
    ),
    (_words(r"uk|gb"), "uk"),
    (_words(r"eu|eur|euro|fr|it|de|europe|european"), "eu"),
    (_words(r"cm|jp|jpn|mondo|mondopoint|japan|センチ|㎝"), "cm"),
    (_words(r"mm|kr"), "mm"),
)
_WIDTH = re.compile(r"^(?:\d?e{1,4}|\de|d|b|2a|wide|narrow|standard|regular|extra[\s-]?wide|x-?wide)$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:\+\d+%\d+)?")


def _normalise(text: str) -> str:
    for char, repl in _FRACTION_CHARS.items():
        text = text.replace(char, repl)
    text = unicodedata.normalize("NFKC", text).replace("⁄", "/").lower()
    text = re.sub(r"\bu\.s\.?", "us", re.sub(r"\bu\.k\.?", "uk", text))
    text = _SIZE_WORDS.sub(" ", text)
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)  # 9,5 is 9.5
    # 9 1/2, 9-1/2 and 43 1/3: a whole number and a fraction, before "/" separates readings.
    text = re.sub(r"(\d+)(?:\s+|-)?\b([123])/([234])\b", r"\1+\2%\3", text)
    text = re.sub(r"\bd\s*\(\s*m\s*\)", " d m ", text)  # 10 D(M) US: medium width, men's
    text = re.sub(r"(?<=[a-z])-(?=\d)", " ", text)  # EU-44
    text = re.sub(r"(?<=\d)-(?=[a-z])", "/", text)  # UK9-EU43
    return re.sub(r"\s*[\-–—]\s+|\s+[\-–—]\s*|[–—|;=,()\[\]]|\bor\b", "/", text)


def _number(token: str) -> Fraction:
    whole, _, frac = token.partition("+")
    value = Fraction(whole)
    if frac:
        num, den = frac.split("%")
        value += Fraction(int(num), int(den))
    return value


@dataclass(frozen=True)
class _Part:
    """What one part of a label (between separators) says."""

    reading: Reading | None = None
    width: str | None = None
    letter: bool = False
    kids: bool = False


def _system_of(flags: set[str], value: Fraction) -> tuple[str | None, Fraction]:
    if "uk" in flags:
        return UK, value
    if "eu" in flags:
        return EU, value
    if "mm" in flags:
        return CM, value / 10
    if "cm" in flags:
        return CM, value
    if "women" in flags:
        return US_WOMEN, value
    if "us" in flags or "men" in flags:
        return US_MEN, value
    return None, value


def _segment(seg: str) -> _Part | None:
    """What one part of a label says; None when the part is unreadable (a colour, a range)."""
    tokens = seg.split()
    if not tokens:
        return _Part()
    if _LETTER.match(" ".join(tokens)):
        return _Part(letter=True)
    widths = [t for t in tokens if _WIDTH.match(t)]
    width = widths[0].upper() if widths else None
    rest = " ".join(t for t in tokens if not _WIDTH.match(t))
    # Glued forms: M9.5, W11, 28cm, 10.5C, 3Y, 280mm, 10US.
    spaced = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z\u3000-\u9fff])", " ", rest)
    numbers = _NUMBER.findall(spaced)
    words = [w for w in re.split(r"[\s./]+", _NUMBER.sub(" ", spaced)) if w]
    kids = any(_KIDS.fullmatch(w) for w in words)
    if len(numbers) > 1:
        return None  # a range (9-10) or two numbers in one part: not one size
    flags: set[str] = set()
    for word in words:
        flag = next((name for pattern, name in _FLAGS if pattern.fullmatch(word)), None)
        if flag is not None:
            flags.add(flag)
        elif not _KIDS.fullmatch(word):
            return None
    if not numbers:
        return _Part(width=width, kids=kids) if width or kids or not words else None
    system, value = _system_of(flags, _number(numbers[0]))
    return _Part(Reading(system, value), width, kids=kids)


@lru_cache(maxsize=4096)
def parse_size_label(text: str) -> SizeLabel:
    """Read a size label: "US 9½", "9,5", "M9.5 / W11", "UK 9 - EU 43", "43 1/3", "28.0cm", "10 2E"."""
    raw = str(text)
    parts = [_segment(seg) for seg in _normalise(raw).split("/")]
    if any(p is None for p in parts):
        return SizeLabel(raw)
    found = [p for p in parts if p is not None]
    readings = tuple(p.reading for p in found if p.reading is not None)
    width = next((p.width for p in found if p.width), None)
    letter = any(p.letter for p in found)
    kids = any(p.kids for p in found)
    if letter and readings:
        return SizeLabel(raw)  # "M / 10": nothing to trust
    if any(r.system is not None and not _within(_SANE[r.system], r.value) for r in readings):
        return SizeLabel(raw, width=width, kids=kids)
    return SizeLabel(raw, readings, width, letter, kids)


def _within(bounds: tuple[Fraction, Fraction], value: Fraction) -> bool:
    return bounds[0] <= value <= bounds[1]


# Names of a size field or option, in the languages shops write ("Shoe Size (UK)", "EU-Größe");
# a width or fit option is never the size.
_SIZE_NAME = re.compile(
    r"size|taglia|taglie|gr(?:ö|oe)(?:ss|ß)e|talla|pointure|taille|maat|storlek|st(?:ø|o)rrelse|koko|rozmiar"
    r"|tamanho|velikost|m[ée]ret|μέγεθος|размер|numero|número|サイズ|사이즈|尺码|尺碼|尺寸",
    re.I,
)
_WIDTH_NAME = re.compile(r"width|breite|larghezza|anchura|largeur|\bfit\b|weite|ワイズ|발볼", re.I)


def is_size_name(name: str | None) -> bool:
    """Whether a field or option name means the size (Size, Taglia, Größe, Pointure, サイズ, 사이즈...)."""
    return bool(name) and bool(_SIZE_NAME.search(str(name))) and not _WIDTH_NAME.search(str(name))


def is_width_name(name: str | None) -> bool:
    """Whether a field or option name means the width or fit (Width, Breite, Largeur)."""
    return bool(name) and bool(_WIDTH_NAME.search(str(name)))


def system_in_name(name: str | None) -> str | None:
    """The system a field or option name gives its values ("UK Size", "EU-Größe", "US Men's"), or None."""
    if not name:
        return None
    flags: set[str] = set()
    for word in re.findall(r"[^\W\d_]+(?:'s)?", unicodedata.normalize("NFKC", name).lower()):
        flag = next((f for pattern, f in _FLAGS if pattern.fullmatch(word)), None)
        if flag is not None and len(word) > 1:
            flags.add(flag)
    # "Men's Size" alone says whose shoe it is, not the system: a UK shop's men's sizes are UK.
    if not flags - {"men", "women"}:
        return None
    return _system_of(flags, Fraction(0))[0]


def looks_like_size(text: str) -> bool:
    """Whether text reads as a shoe size in some system, or a letter size (S, M, XL)."""
    label = parse_size_label(text)
    if label.letter:
        return True
    if not label.numeric:
        return False
    return all(
        _within(_SANE[r.system], r.value)
        if r.system
        else any(_within(_PLAUSIBLE[s], r.value) for s in SYSTEMS)
        or _within((Fraction(190), Fraction(330)), r.value)
        for r in label.readings
    )


def looks_like_width(text: str) -> bool:
    """Whether text is a shoe width (D, 2E, 4E, Wide, Standard) rather than a size."""
    return bool(_WIDTH.match(unicodedata.normalize("NFKC", str(text)).strip().lower()))


def strip_size_words(text: str, title: str | None = None) -> str | None:
    """The size an offer or product name gives ("Size 9", "2002R Rain Cloud - UK 10"), or None."""
    name = str(text).strip()
    if title and name.lower().startswith(title.strip().lower()):
        name = name[len(title.strip()) :]
    elif title and name.strip().lower() == title.strip().lower():
        return None
    name = name.strip(" -–—:|/,")
    if not name or len(name) > 40:
        return None
    for part in [name, *re.split(r"\s+/\s+|\s+-\s+|\s*\|\s*", name)]:
        cleaned = re.sub(r"^\W+|\W+$", "", _SIZE_WORDS.sub(" ", part)).strip() or part.strip()
        if cleaned and looks_like_size(cleaned) and not parse_size_label(cleaned).letter:
            return _SIZE_WORDS.sub(" ", part).strip(" -:") or part.strip()
    return None


_TITLE_TAIL = re.compile(r"^(.*\S)\s*(?:\s[-–—|/]\s*|,\s*|\s\(|:\s*)([^-–—|/,(:]+?)\)?\s*$")


def split_title_size(title: str) -> tuple[str, str | None]:
    """A product name and the size at its end, when it ends with one: ("2002R Phantom", "UK 9.5") from
    "2002R Phantom - UK 9.5"; (title, None) otherwise."""
    match = _TITLE_TAIL.match(title.strip())
    if match:
        tail = _SIZE_WORDS.sub(" ", match.group(2)).strip()
        if tail and looks_like_size(tail) and not parse_size_label(tail).letter:
            return match.group(1).strip(), tail
    return title.strip(), None


# --- placing a size ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """A size as the shop wrote it, placed in systems where possible.

    ``systems`` holds the label's values by system (first: the one it leads with); ``us`` is the US
    men's equivalent sizes are compared on (None off the chart); ``via`` says where the system came
    from: "label", "markup", "config", or a guess ("country", "range"); None when not placed.
    """

    label: str
    systems: tuple[tuple[str, Fraction], ...] = ()
    us: Fraction | None = None
    via: str | None = None
    width: str | None = None
    kids: bool = False

    @property
    def placed(self) -> bool:
        """Whether the size was placed in at least one system."""
        return bool(self.systems)

    @property
    def guessed(self) -> bool:
        """Whether the system is a guess (from the shop's country or the number's range)."""
        return self.via in ("country", "range")

    def value_in(self, system: str) -> Fraction | None:
        """The size in a system: as the label says it, else converted on New Balance's chart."""
        direct = dict(self.systems).get(system)
        if direct is not None:
            return direct
        return None if self.us is None else from_us(self.us, system)

    def shown_in(self, system: str) -> str | None:
        """The size written in a system ("US 10", "UK 9.5"), or None when it cannot be converted."""
        value = self.value_in(system)
        return None if value is None else display(system, value)

    def matches(self, other: Size) -> bool:
        """Whether two placed sizes are the same foot: equal in every system both name, else the same
        US men's equivalent. Unplaced sizes match nothing."""
        if not self.placed or not other.placed:
            return False
        mine, theirs = dict(self.systems), dict(other.systems)
        shared = [s for s in mine if s in theirs]
        if shared:
            return all(mine[s] == theirs[s] for s in shared)
        return self.us is not None and self.us == other.us

    def to_json(self) -> dict[str, Any]:
        """The placement fields stored with an observation's size."""
        out: dict[str, Any] = {
            "systems": {s: fmt(v) for s, v in self.systems},
            "us": None if self.us is None else fmt(self.us),
            "via": self.via,
            "guessed": self.guessed,
        }
        if self.width:
            out["width"] = self.width
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any], *, system: str | None = None) -> Size:
        """A stored size back as a Size; one stored before sizes were placed is placed from its label
        (a bare number then takes the given system)."""
        label = str(data.get("size", ""))
        if "systems" not in data:
            return place(label, config_system=system)
        stored = data.get("systems")
        systems = tuple(
            (s, v)
            for s, raw in (stored.items() if isinstance(stored, Mapping) else ())
            if s in SYSTEMS and (v := parse_value(str(raw))) is not None
        )
        us = parse_value(str(data["us"])) if data.get("us") is not None else None
        return Size(label, systems, us, data.get("via"), data.get("width"))


def label_with_attributes(stored: Mapping[str, Any]) -> str:
    """A stored size as the shop shows it, with the variant's other options: "10 (Width: 2E)"."""
    label = str(stored.get("size", ""))
    attributes = stored.get("attributes")
    if isinstance(attributes, dict) and attributes:
        label += " (" + ", ".join(f"{k}: {v}" for k, v in attributes.items()) + ")"
    return label


def _us_of(systems: list[tuple[str, Fraction]], chart: Chart | None) -> Fraction | None:
    by = dict(systems)
    for system in (US_MEN, US_WOMEN):
        if system in by:
            return to_us(system, by[system], chart)
    for system, value in systems:
        found = to_us(system, value, chart)
        if found is not None:
            return found
    return None


def _context_system(
    value: Fraction, hint: str | None, config_system: str | None, country: str | None
) -> tuple[str, Fraction, str] | None:
    """(system, value, via) for a bare number, from the markup, the config, then the shop's country."""
    for system, via in ((hint, "markup"), (config_system, "config")):
        if system is None:
            continue
        if system == CM and value >= 100:
            value = value / 10  # Korean and some Japanese shops write millimetres: 280 is 28.0 cm
        return (system, value, via) if _within(_PLAUSIBLE[system], value) else None
    if country is not None:
        scaled = value / 10 if country == CM and value >= 100 else value
        if _within(_PLAUSIBLE[country], scaled):
            return country, scaled, "country"
    for system, low, high in _UNAMBIGUOUS:
        if low <= value <= high:
            return system, value, "range"
    if Fraction(190) <= value <= Fraction(325) and value.denominator == 1:
        return CM, value / 10, "range"
    return None


@lru_cache(maxsize=8192)
def place(
    label: str,
    *,
    hint: str | None = None,
    config_system: str | None = None,
    country: str | None = None,
    chart: Chart | None = None,
) -> Size:
    """Place a label: its own system words, else the markup's hint, the config's system, the country."""
    parsed = parse_size_label(label)
    if not parsed.numeric:
        return Size(str(label), width=parsed.width, kids=parsed.kids)
    named = [(r.system, r.value) for r in parsed.readings if r.system is not None]
    systems: list[tuple[str, Fraction]] = []
    via = "label"
    for reading in parsed.readings:
        if reading.system is not None:
            systems.append((reading.system, reading.value))
            continue
        found = _context_system(reading.value, hint, config_system, country)
        if found is None:
            if named:
                continue  # "10 (UK 9.5)" from a shop of unknown country: the UK value is enough
            return Size(str(label), width=parsed.width)
        systems.append((found[0], found[1]))
        if via == "label" or found[2] in ("country", "range"):
            via = found[2]
    seen: dict[str, Fraction] = {}
    for system, value in systems:
        if seen.setdefault(system, value) != value:
            return Size(str(label), width=parsed.width)  # "US 9 / US 10": contradicts itself
    return Size(str(label), tuple(seen.items()), _us_of(list(seen.items()), chart), via, parsed.width)


def collector_size(text: str, system: str) -> Size:
    """A collector's size from config.toml: a bare number is in their size_system."""
    return place(text, config_system=system)


# --- the shop's country ------------------------------------------------------------------------

_COUNTRY_SYSTEM = {
    **dict.fromkeys(("uk", "gb", "ie"), UK),
    **dict.fromkeys(
        re.findall(r"\w\w", "de at ch fr it es nl be pt fi se dk no pl cz sk hu gr si hr ro bg lu ee lv lt"),
        EU,
    ),
    **dict.fromkeys(("jp", "kr"), CM),
    **dict.fromkeys(("us", "ca"), US_MEN),
}
_CURRENCY_SYSTEM = {
    "GBP": UK,
    **dict.fromkeys(("EUR", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "ISK"), EU),
    **dict.fromkeys(("JPY", "KRW"), CM),
    **dict.fromkeys(("USD", "CAD"), US_MEN),
}
# Path segments naming a country or a locale: /uk/, /en-gb/, /de_DE/.
_LOCALE_SEGMENT = re.compile(r"^(?:[a-z]{2}[-_])?([a-z]{2})$")


def country_system(url: str | None, currency: str | None) -> str | None:
    """The size system a shop's country uses: its domain or locale path first, then its currency."""
    if url:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        tld = host.rsplit(".", 1)[-1]
        if tld in _COUNTRY_SYSTEM:
            return _COUNTRY_SYSTEM[tld]
        for segment in [s for s in parts.path.lower().split("/") if s][:2]:
            match = _LOCALE_SEGMENT.match(segment)
            if match and match.group(1) in _COUNTRY_SYSTEM:
                return _COUNTRY_SYSTEM[match.group(1)]
        first = host.split(".", 1)[0]
        if first in _COUNTRY_SYSTEM and first not in ("us",) and host.count(".") >= 2:
            return _COUNTRY_SYSTEM[first]  # uk.shop.com, de.shop.com
    return _CURRENCY_SYSTEM.get((currency or "").upper())


@dataclass(frozen=True)
class Placer:
    """Everything placing a shop's sizes needs: the source's system and chart, the shop's country."""

    config_system: str | None = None
    chart: Chart | None = None
    country: str | None = None

    def place(self, label: str, hint: str | None = None) -> Size:
        """The label placed with this shop's context."""
        return place(
            label, hint=hint, config_system=self.config_system, country=self.country, chart=self.chart
        )
