"""JavaScript values as shops write them into pages: literals, JSON.parse strings, Nuxt's wrapped state.

Only data is read, nothing is run: object and array literals (unquoted keys, single quotes,
trailing commas), strings, numbers, true / false / null / undefined, and names bound by the
function Nuxt 2 wraps its state in (``(function(a,b){return {...}}(1,"x"))``). Calls and
constructors (``new Date(...)``, ``Object.create(null)``) read as None. A value that is not data
raises ValueError.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from tracker.extract.limits import JSON_STRING

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)+", re.S)
_SPACE_START = frozenset(" \t\r\n/\u00a0\ufeff")
_PLAIN = {q: re.compile(f"[^{q}\\\\]*") for q in "\"'`"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": None,
    "NaN": None,
    "Infinity": None,
}
MAX_DEPTH = 200


class _Parser:
    """A recursive-descent reader of one JavaScript value at a position of a text."""

    def __init__(self, text: str, names: dict[str, Any] | None = None) -> None:
        self.text = text
        self.pos = 0
        self.names = names or {}

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{what} at offset {self.pos}")

    def skip(self) -> None:
        if self.text[self.pos : self.pos + 1] in _SPACE_START:
            match = _SPACE.match(self.text, self.pos)
            if match:
                self.pos = match.end()

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail("nested too deeply")
        char = self.peek()
        if char == "{":
            return self.obj(depth)
        if char == "[":
            return self.array(depth)
        if char in "\"'`":
            return self.string()
        if char == "!" and self.text.startswith(("!0", "!1"), self.pos):
            # Minifiers write true as !0 and false as !1.
            self.pos += 2
            return self.text[self.pos - 1] == "0"
        if char == "(":
            self.pos += 1
            inner = self.value(depth + 1)
            self.expect(")")
            return inner
        number = _NUMBER.match(self.text, self.pos)
        if number and char in "-.0123456789":
            self.pos = number.end()
            raw = number.group(0)
            if raw.lower().startswith(("0x", "-0x")):
                return int(raw, 16)
            return Decimal(raw) if any(c in raw for c in ".eE") else int(raw)
        ident = _IDENT.match(self.text, self.pos)
        if ident is None:
            raise self.fail("expected a value")
        self.pos = ident.end()
        name = ident.group(0)
        if name == "void":
            self.value(depth + 1)
            return None
        if name == "new":
            self.value(depth + 1)
            return None
        while self.peek() == ".":  # Object.create, window.x: a name we do not resolve
            self.pos += 1
            self.skip()
            member = _IDENT.match(self.text, self.pos)
            if member is None:
                raise self.fail("expected a name after '.'")
            self.pos = member.end()
            name = "."
        if self.peek() == "(":
            self.call_args(depth)
            return None
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        return self.names.get(name)

    def call_args(self, depth: int) -> list[Any]:
        self.expect("(")
        args: list[Any] = []
        while self.peek() != ")":
            args.append(self.value(depth + 1))
            if self.peek() == ",":
                self.pos += 1
        self.pos += 1
        return args

    def obj(self, depth: int) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        while True:
            char = self.peek()
            if char == "}":
                self.pos += 1
                return out
            if char in "\"'":
                key = self.string()
            else:
                match = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
                if match is None:
                    raise self.fail("expected a key")
                self.pos = match.end()
                key = match.group(0)
            if self.peek() in (",", "}"):  # shorthand {a, b}
                out[key] = self.names.get(key)
            else:
                self.expect(":")
                out[key] = self.value(depth + 1)
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")

    def array(self, depth: int) -> list[Any]:
        self.expect("[")
        out: list[Any] = []
        while True:
            if self.peek() == "]":
                self.pos += 1
                return out
            if self.peek() == ",":  # a hole
                self.pos += 1
                out.append(None)
                continue
            out.append(self.value(depth + 1))
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts: list[str] = []
        text = self.text
        plain = _PLAIN[quote]
        while True:
            end = plain.match(text, self.pos).end()  # type: ignore[union-attr]
            parts.append(text[self.pos : end])
            if end >= len(text):
                raise self.fail("unterminated string")
            if text[end] == quote:
                self.pos = end + 1
                return "".join(parts)
            esc = text[end + 1 : end + 2]
            if esc == "u":
                if text[end + 2 : end + 3] == "{":
                    close = text.index("}", end)
                    parts.append(chr(int(text[end + 3 : close], 16)))
                    self.pos = close + 1
                else:
                    parts.append(chr(int(text[end + 2 : end + 6], 16)))
                    self.pos = end + 6
            elif esc == "x":
                parts.append(chr(int(text[end + 2 : end + 4], 16)))
                self.pos = end + 4
            else:
                parts.append(_ESCAPES.get(esc, esc))
                self.pos = end + 2


def _join_surrogates(text: str) -> str:
    """ "\\ud83d\\udc5f" read one escape at a time leaves two halves; join them into one character."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_SURROGATE_ESCAPE = re.compile(r"\\u\{?[dD][89a-fA-F]")


def _fix_strings(value: Any) -> Any:
    if isinstance(value, str):
        return _join_surrogates(value)
    if isinstance(value, dict):
        return {k: _fix_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fix_strings(v) for v in value]
    return value


_WRAPPED = re.compile(r"\(?\s*function\s*\(([^)]*)\)\s*\{")


def _wrapped(text: str) -> Any:
    """Nuxt 2's state: (function(a,b,...){...; return {...}}(arg, arg, ...))."""
    match = _WRAPPED.match(text)
    if match is None:
        raise ValueError("not a wrapped value")
    params = [p.strip() for p in match.group(1).split(",") if p.strip()]
    body_start = match.end()
    ret = re.compile(r"\breturn\b").search(text, body_start)
    if ret is None:
        raise ValueError("no return in the wrapping function")
    # The arguments come after the function body; read the returned value only once they are known.
    skim = _Parser(text)
    skim.pos = ret.end()
    skim.value()
    close = text.find("}", skim.pos)
    if close < 0:
        raise ValueError("the wrapping function does not end")
    args_parser = _Parser(text)
    args_parser.pos = close + 1
    if args_parser.peek() == ")":
        args_parser.pos += 1
    args = args_parser.call_args(0) if args_parser.peek() == "(" else []
    names = dict(zip(params, args, strict=False))
    reader = _Parser(text, names)
    reader.pos = ret.end()
    return reader.value()


_JSON_PARSE = re.compile(r"JSON\.parse\(\s*")
_JSON = json.JSONDecoder(parse_float=Decimal, strict=False)
_NOT_JSON = object()


def _json_with_undefined(text: str) -> Any:
    """The value of a JSON text that also writes undefined (JavaScript's, read as null), decoded as
    JSON; _NOT_JSON when it is not that. Shops' state blobs such as {"bankAccountsLoaded":undefined,
    ...} are read so in 19 ms (350 kB) and 5 ms (90 kB), against 64 and 13-16 ms in _Parser.

    Outside its strings a JSON text holds no quote, so cutting it at its strings from the start finds
    them as the decoder does; undefined is replaced only between them. Should the cut go wrong (the
    text is not JSON), the decoder refuses the result. A plain replace is enough: in a text the
    decoder then reads, whatever stood beside "undefined" stands beside "null", so it was a word of
    its own ("undefinedness" becomes "nullness", which no decoder reads).
    """
    parts = JSON_STRING.split(text)  # a string never closed runs to the end: refused below
    between = "\0".join(parts[0::2])
    replaced = between.replace("undefined", "null").split("\0")
    if len(replaced) != len(parts[0::2]):  # a NUL outside the strings: no JSON text anyway
        return _NOT_JSON
    parts[0::2] = replaced
    try:
        value, _ = _JSON.raw_decode("".join(parts))
    except ValueError:
        return _NOT_JSON
    return value


def read_js_value(text: str) -> Any:
    """The data of a JavaScript expression: a literal, JSON.parse("..."), or Nuxt's wrapped state."""
    text = text.strip().rstrip(";").strip()
    if not text:
        raise ValueError("empty")
    if text[0] in "{[":
        try:
            value, _ = _JSON.raw_decode(text)
            return value
        except ValueError as exc:  # a decoding error, or an integer too long to convert
            if isinstance(exc, json.JSONDecodeError) and text.startswith("undefined", exc.pos):
                found = _json_with_undefined(text)
                if found is not _NOT_JSON:
                    return found
            value = _Parser(text).value()
            return _fix_strings(value) if _SURROGATE_ESCAPE.search(text) else value
    parse = _JSON_PARSE.match(text)
    if parse is not None:
        reader = _Parser(text)
        reader.pos = parse.end()
        inner = reader.value()
        if not isinstance(inner, str):
            raise ValueError("JSON.parse of something other than a string")
        return json.loads(_join_surrogates(inner), parse_float=Decimal, strict=False)
    value = _wrapped(text) if _WRAPPED.match(text) else _Parser(text).value()
    # Only text with escaped surrogate halves ("\ud83d\udc5f") needs a second pass.
    return _fix_strings(value) if _SURROGATE_ESCAPE.search(text) else value
