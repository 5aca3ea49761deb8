"""Limits applied to a body before it is parsed, so no page can make reading it slow or deep.

HTML parsers spend time proportional to the depth of the open elements on every start tag, so a
page of 150,000 nested <div>s costs a minute. Browsers cap the depth (Chromium at 512); so does
bound_depth here: tags past MAX_HTML_DEPTH are dropped (their text stays, one level up), which
makes reading linear in the page's size. What a page puts deeper than that keeps its text but not
its elements, as in a browser; real pages stay far below (30 levels is deep). The scan follows the
tokenizer, not every rule of the tree builder: end tags the builder ignores ("<span><div></span>"),
formatting elements it reopens and HTML inside <svg> can still build a deep tree, and such a page is
given up on at its time limit by the page readers (tracker.check.pool). A JSON-LD block too
large or nested too deeply is not read (the rest of the page is); a JSON body nested deeper than
the interpreter follows is an ExtractError, never a RecursionError (its size is capped before, by
max_body_bytes).
"""

from __future__ import annotations

import json
import re
from functools import cache
from itertools import accumulate
from typing import Any

from tracker.errors import ExtractError

MAX_HTML_DEPTH = 256
MAX_JSON_DEPTH = 64
# An embedded JSON-LD block larger than this is no product's data (real ones are a few kB).
MAX_JSONLD_BYTES = 2_000_000

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source"}
    | {"track", "wbr", "keygen", "frame", "basefont", "bgsound", "image"}
)
# Elements a parser closes when a sibling of the same kind opens ("<li>a<li>b").
_SELF_SIBLING = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th", "rt", "rp"})
# End tags a parser closes nothing at: after "</body>" or "</html>" a page's next tag still opens
# inside what was open ("</head>" too, once the body has begun): counted as closing, they would let
# a page nest 250 levels, end its body, and nest 250 more.
_KEPT_OPEN = frozenset({"html", "head", "body"})
_IGNORED_ENDS = frozenset("/" + name for name in _KEPT_OPEN)

# The page's tags read the way an HTML tokenizer reads them (ASCII letters, ASCII case only: "<ſcript>"
# is no script): a name runs to whitespace, "/" or ">" ("</div.>" closes no div), a quoted attribute
# value may hold "<" and ">" ('<div title="</div>">' is one start tag), a comment ends at "-->",
# "--!>" or at once ("<!-->"), "<!x", "<?x" and "</ x" are comments up to the next ">" (a "<style>" in
# them starts nothing), and an element whose content is text (a script's "<div>" strings are no
# elements) ends only at its own end tag ("</script>", not "</scripts>"). svg and math are skipped
# too, their self-closing tags would count as open ("<svg/>" is empty: what follows is read). Every
# part after a repeat is optional, so no input makes the engine backtrack (and no possessive repeat:
# Python 3.11.2's ignore a lookahead inside them).
_WS = "\t\n\f\r "
# A tag's attributes up to its end: first the common form, name="value", fast; then any attribute,
# each state as the tokenizer's (about twice the time of the names alone on a real page, half of it
# without the fast form).
_COMMON_ATTRIBUTES = rf"(?:[{_WS}]+[-\w:.@]+=\"[^\"]*\")*"
_ANY_ATTRIBUTES = (
    rf"(?:[{_WS}]*(?:[^{_WS}/>][^{_WS}/>=]*(?:[{_WS}]*=[{_WS}]*(?:\"[^\"]*\"?|'[^']*'?|[^{_WS}>]*))?"
    rf"|/(?!>)))*[{_WS}]*"
)
_ATTRIBUTES = rf"{_COMMON_ATTRIBUTES}(?:>|{_ANY_ATTRIBUTES}/?>?)"
_SKIPPED_NAMES: tuple[str, ...] = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed")
_SKIPPED_NAMES += ("noframes", "plaintext", "svg", "math")


def _skipped_element(name: str) -> str:
    """A text-only element from its name on: its start tag, its text, then its own end tag."""
    end = rf"/{name}[{_WS}/>]"  # after a "<"
    if name == "script":
        # A script's "<!--" may hide its end: after "<!--<script>", a "</script>" ends only that inner
        # "<script>", and the script goes on to the next one; "-->" ends the hiding.
        # A run of dashes is read whole (a lookahead over the run at each dash would take the square
        # of its length): text unless it is two or more right before a ">", which ends the hiding.
        dashes = r"-+(?![->])|-(?=>)"
        inner = rf"<script[{_WS}/>](?:[^<-]+|{dashes}|<(?!{end}))*(?:<{end}|(?=--+>))?"
        hidden = rf"<!--(?:-*>|(?:[^<-]+|{dashes}|<(?!{end}|script[{_WS}/>])|{inner})*(?:--+>)?)"
        text = rf"[^<]*(?:<(?!!--|{end})[^<]*)*"
        body = rf"{text}(?:{hidden}{text})*"
    else:
        # Unrolled ("[^<]*" runs between tries) so the engine never tries the end tag at every character.
        body = rf"[^<]*(?:<(?!{end}|/{name}\Z)[^<]*)*"
    start = rf"{name}(?=[{_WS}/>]|\Z){_COMMON_ATTRIBUTES}{_ANY_ATTRIBUTES}"
    if name in ("svg", "math"):
        # "<svg/>" is an empty element (a parser honours the slash in svg and math): nothing skipped.
        return rf"{start}(?:/>|>?{body}(?:</{name}{_ATTRIBUTES})?)"
    return rf"{start}/?>?{body}(?:</{name}{_ATTRIBUTES})?"


# One pass over the page: a comment or text-only element is one match that captures nothing, any
# other tag (with its attributes) a match that captures its name. The lookahead lets the engine
# reject most "<" at their first character, before trying eleven names. Compiled when first used
# (about 10 ms) or when the page reader loads: the check's main process loads this module for
# parse_json and never scans a page.
_TAG_OR_SKIPPED = (
    r"<(?:(?=[!stxinpm?])(?:!--(?:-?>|[^-]*(?:-(?!-!?>)[^-]*)*(?:--!?>)?)|[!?][^>]*>?|"
    + "|".join(map(_skipped_element, _SKIPPED_NAMES))
    + rf")|/(?![a-z>])[^>]*>?|(/?[a-z][^{_WS}/>]*){_ATTRIBUTES})"
)


@cache
def tag_scanner() -> re.Pattern[str]:
    """The compiled scan: a match per tag (its name in group 1), comment or text-only element."""
    return re.compile(_TAG_OR_SKIPPED, re.I | re.A)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(name: str) -> str:
    """A tag name in lower case as a parser lowers it: ASCII letters only (the Kelvin sign stays)."""
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def _tags(text: str) -> list[str]:
    """The start and end tags a parser reads (names as written, end tags with their "/"), in order."""
    return list(filter(None, tag_scanner().findall(text)))


class _Stack:
    """The open elements as a parser keeps them, approximately: enough to know the depth."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.count: dict[str, int] = {}
        self.deepest = 0

    def close(self, name: str) -> bool:
        """Close the nearest open element of that name (and those inside it); False when none is."""
        if not self.count.get(name) or name in _KEPT_OPEN:
            return False
        while True:
            top = self.names.pop()
            self.count[top] -= 1
            if top == name:
                return True

    def open(self, name: str) -> None:
        if name in _SELF_SIBLING and self.names and self.names[-1] == name:
            self.names.pop()
            self.count[name] -= 1
        self.names.append(name)
        self.count[name] = self.count.get(name, 0) + 1
        self.deepest = max(self.deepest, len(self.names))


# "div" -> "/div": the stack keeps each element as the end tag that closes it, so an end tag is
# compared as read, without cutting its "/" off (filled as names are met, up to a bound).
_CLOSER: dict[str, str] = {}


def _depth_of(tags: list[str]) -> int:
    """How deeply the tags nest as a parser would open and close them (approximately)."""
    if not tags:
        return 0
    joined = " ".join(tags)  # no tag name holds a space
    # One lower() over all the tags is the same as one per tag when they are ASCII, and cheaper.
    lower = joined.lower().split(" ") if joined.isascii() else [_lower(tag) for tag in tags]
    # _Stack's rules, inlined: a page is 10,000 tags, and most end tags close the innermost element.
    stack: list[str] = []
    count: dict[str, int] = {}
    deepest = 0
    for tag in lower:
        if tag[0] == "/":
            if tag in _IGNORED_ENDS:
                continue
            if stack and stack[-1] == tag:
                stack.pop()
                count[tag] -= 1
            elif count.get(tag):
                while True:
                    top = stack.pop()
                    count[top] -= 1
                    if top == tag:
                        break
        elif tag not in _VOID:
            closer = _CLOSER.get(tag)
            if closer is None:
                closer = "/" + tag
                if len(_CLOSER) < 10_000:
                    _CLOSER[tag] = closer
            if stack and stack[-1] == closer and tag in _SELF_SIBLING:
                continue
            stack.append(closer)
            count[closer] = count.get(closer, 0) + 1
            deepest = max(deepest, len(stack))
    return deepest


# Why _shallow's sum bounds _depth_of. Take one element name n and its tags alone, in order: a
# start tag +1, an end tag -1 but never below 0 (an end tag with nothing of its name open changes
# nothing). Call that count r(n); it is at least the number of n elements on _depth_of's stack at
# every point. A start tag of n adds at most one n to the stack (none when a self-sibling replaces
# its twin) and adds one to r(n). An end tag of n with an n open removes at least that one (and
# maybe elements of other names above it: that only lowers theirs), while r(n) drops by at most
# one; with no n open the stack keeps none and r(n) cannot go below 0. Tags of other names never
# add an n. So the depth, the sum over the names of their elements on the stack, is at most the
# sum of the r(n). And r(n) is at most the height of n's nesting plus its start tags never closed:
# matching each end tag to the nearest unmatched start tag before it (r(n) counts exactly the
# unmatched ones), the start tags open at one point and closed later are nested in one another;
# deleting every adjacent "start, end" pair once per round (the innermost pairs) takes as many
# rounds as that nesting is high, and what is left is the end tags and the start tags never matched.
# (The end tags of html, head and body close nothing in _depth_of: _shallow reads them as nothing.)
_ALL_BYTES = bytes(range(256))
_NOTHING = 255  # the code of tags that open and close nothing (void elements)
_NAMES_PER_CODE = 127


class _TooManyNames(Exception):
    """More element names than a byte can tell apart: the exact count decides instead."""


class _Codes(dict[str, int]):
    """Each tag as written -> one byte: 2i for a start tag of the i-th name met, 2i + 1 for its end."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, int] = {}

    def __missing__(self, tag: str) -> int:
        lower = _lower(tag)
        end = lower[0] == "/"
        name = lower[1:] if end else lower
        if name in _VOID or (end and name in _KEPT_OPEN):
            code = _NOTHING
        else:
            index = self.names.setdefault(name, len(self.names))
            if index >= _NAMES_PER_CODE:
                raise _TooManyNames
            code = 2 * index + end
        self[tag] = code
        return code


def _shallow(tags: list[str], limit: int) -> bool:
    """True only when the tags surely nest no deeper than limit for _depth_of; False when unsure.

    Sums, over the element names, the height of the name's own nesting plus its start tags never
    closed (the proof is above): a few passes over one byte per tag, instead of a step per tag.
    """
    codes = _Codes()
    try:
        sequence = bytes(map(codes.__getitem__, tags))
    except _TooManyNames:
        return False
    total = 0
    # Deeply nested names need a round per level: past this much copying, the exact count is cheaper.
    work = 64 * len(sequence) + 4096
    for index in range(len(codes.names)):
        start = 2 * index
        opened = sequence.count(start)
        if opened > 4 and sequence.count(start + 1):
            own = sequence.translate(None, _ALL_BYTES[:start] + _ALL_BYTES[start + 2 :])
            pair = _ALL_BYTES[start : start + 2]
            rounds = 0
            while True:
                inner = own.replace(pair, b"")
                if len(inner) == len(own):
                    break
                own = inner
                rounds += 1
                work -= len(own)
                if total + rounds > limit or work < 0:
                    return False
            opened = rounds + own.count(start)
        total += opened
        if total > limit:
            return False
    return True


def html_depth(text: str) -> int:
    """How deeply a page nests its elements, as a parser would see it (approximately)."""
    return _depth_of(_tags(text))


def bound_depth(text: str, limit: int = MAX_HTML_DEPTH) -> str:
    """The page with every tag nested deeper than limit removed (the page itself when none is)."""
    if text.count("<") <= limit:
        return text
    tags = _tags(text)
    if _shallow(tags, limit) or _depth_of(tags) <= limit:
        return text
    stack = _Stack()
    dropped: dict[str, int] = {}
    parts: list[str] = []
    last = 0
    for match in tag_scanner().finditer(text):
        found = match.group(1)
        if found is None:
            continue  # a comment or a text-only element: left as it is
        tag = _lower(found)
        if tag[0] == "/":
            name = tag[1:]
            if not dropped.get(name):
                stack.close(name)
                continue
            # The end of an element dropped for its depth: the innermost ones end first.
            dropped[name] -= 1
        elif tag in _VOID:
            continue
        elif len(stack.names) < limit:
            stack.open(tag)
            continue
        else:
            dropped[tag] = dropped.get(tag, 0) + 1
        # The whole tag goes, attributes and all, for a space: a "<" just before it and letters just
        # after it would otherwise make a tag nobody counted.
        parts.append(text[last : match.start()])
        parts.append(" ")
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


# A JSON string as a decoder reads it, captured (re.split keeps it). One never closed runs to the end
# of the text: were it to fail instead, each later quote would be tried to the end again ('"\\'
# repeated 20,000 times took 6-9 s). Once one string never closes, no later one does: from the first
# character after a later quote, that string and the unclosed one are read alike.
JSON_STRING = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z))', re.S)
_CLOSED_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__


def json_depth(text: str) -> int:
    """How deeply a JSON text nests its arrays and objects (brackets inside strings do not count; a
    string never closed counts as text, as a lenient reader might read what follows its quote)."""
    parts = JSON_STRING.split(text)
    between = parts[0::2]
    if len(parts) > 1 and not _CLOSED_JSON_STRING.fullmatch(parts[-2]):
        between[-1] = parts[-2] + between[-1]
    brackets = _NOT_BRACKET.sub("", "".join(between))
    return max(accumulate(map(_DEPTH_STEP, brackets)), default=0)


def embedded_json_problem(text: str) -> str | None:
    """Why a JSON block embedded in a page (JSON-LD) is not read: too large or too deep; else None."""
    if len(text) > MAX_JSONLD_BYTES:
        return f"a JSON block of {len(text):,} characters (more than {MAX_JSONLD_BYTES:,})"
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        return f"a JSON block nested more than {MAX_JSON_DEPTH} levels deep"
    return None


def parse_json(text: str | bytes, *, what: str = "JSON", **options: Any) -> Any:
    """json.loads, with nesting deeper than the interpreter follows as an ExtractError, not a crash."""
    try:
        return json.loads(text, **options)
    except RecursionError:
        raise ExtractError(f"{what} nested too deeply to read") from None
