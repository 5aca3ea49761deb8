"""Watchlist edits to config.toml text with tomlkit (comments and order kept), validated before saving."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace

from tracker.config import Config, parse_text, save_text
from tracker.errors import ConfigError

_KEY_RE = re.compile(r"(colorways|sources)\[(\d+)\]\.([a-z_]+)")


@dataclass(frozen=True)
class ColorwayForm:
    """What the colorway form holds, as typed."""

    name: str
    style_code: str
    line: str = "2002R"
    list_price: str = ""
    target_price: str = ""
    currency: str = "USD"
    sizes: str = ""
    watched: bool = True
    image: str = ""
    release_date: date | None = None


@dataclass
class Outcome:
    """The saved config, or the problems keyed by form field ('' for the whole form)."""

    config: Config | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _amount(text: str) -> Any:
    # Numbers go in as TOML numbers; anything else goes in as typed so validation names it.
    text = text.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if value == value.to_integral_value():
        return int(value)
    return float(text)


def _prices(amount: str, currency: str) -> Any:
    table = tomlkit.inline_table()
    table[(currency.strip() or "USD").upper()] = _amount(amount)
    return table


def _colorways(doc: tomlkit.TOMLDocument) -> AoT:
    if "colorways" not in doc:
        doc.append("colorways", tomlkit.aot())
    found = doc["colorways"]
    if not isinstance(found, AoT):
        raise ConfigError("config.toml: colorways must be written as [[colorways]] tables to edit them here")
    return found


def _set(table: Table | dict[str, Any], key: str, value: Any) -> None:
    if value in (None, "", []):
        if key in table:
            del table[key]
        return
    table[key] = value


def _fill(table: Table | dict[str, Any], form: ColorwayForm) -> None:
    table["name"] = form.name.strip()
    table["style_code"] = form.style_code.strip().upper()
    _set(table, "line", form.line.strip() if form.line.strip() not in ("", "2002R") else None)
    _set(
        table,
        "list_price",
        _prices(form.list_price, form.currency) if form.list_price.strip() else None,
    )
    table["watched"] = form.watched
    sizes = [s.strip() for s in form.sizes.split(",") if s.strip()]
    _set(table, "sizes", sizes)
    _set(
        table,
        "target_price",
        _prices(form.target_price, form.currency) if form.target_price.strip() else None,
    )
    _set(table, "image", form.image.strip() or None)
    _set(table, "release_date", form.release_date)
    if form.release_date is None:
        # The time and region of a release date go with it (a time without a day means nothing);
        # with a date, they stay as written and move with the new day.
        _set(table, "release_at", None)
        _set(table, "region", None)


def _index(aot: AoT, style_code: str) -> int | None:
    for i, table in enumerate(aot):
        if str(table.get("style_code", "")).strip().upper() == style_code.strip().upper():
            return i
    return None


def _append(aot: AoT, table: Table) -> None:
    # Comments after the last table introduce what follows it (e.g. "# --- shops ---"): move
    # them below the new table so they keep heading the same section.
    trailing: list[Any] = []
    if len(aot):
        body = aot[-1].value.body
        trailing = _pop_trailing(body)
        body.append((None, tomlkit.ws("\n")))
    aot.append(table)
    for item in trailing:
        table.value.body.append((None, item))


def upsert_colorway(text: str, form: ColorwayForm, original: str | None = None) -> str:
    """The config text with the colorway `original` (a style code) replaced, or the form added."""
    doc = tomlkit.parse(text)
    aot = _colorways(doc)
    i = None if original is None else _index(aot, original)
    if i is None:
        table = tomlkit.table()
        _fill(table, form)
        _append(aot, table)
    else:
        _fill(aot[i], form)
    return tomlkit.dumps(doc)


def watch(text: str, style_code: str, name: str) -> str:
    """The config text with that style code watched: flagged if present, else added."""
    doc = tomlkit.parse(text)
    aot = _colorways(doc)
    i = _index(aot, style_code)
    if i is not None:
        aot[i]["watched"] = True
        return tomlkit.dumps(doc)
    return upsert_colorway(text, ColorwayForm(name=name.strip()[:120] or style_code, style_code=style_code))


def remove_colorway(text: str, style_code: str) -> str:
    """The config text without the colorway of that style code."""
    doc = tomlkit.parse(text)
    aot = _colorways(doc)
    i = _index(aot, style_code)
    if i is not None:
        body = aot[i].value.body
        trailing = _pop_trailing(body)
        if i > 0 and any(isinstance(item, Comment) for item in trailing):
            # The comments after the removed table head the next section: keep them.
            previous = aot[i - 1].value.body
            while previous and previous[-1][0] is None and isinstance(previous[-1][1], Whitespace):
                previous.pop()
            previous.extend((None, item) for item in trailing)
        del aot[i]
    return tomlkit.dumps(doc)


def _pop_trailing(body: list[Any]) -> list[Any]:
    trailing: list[Any] = []
    while body and body[-1][0] is None:
        trailing.insert(0, body.pop()[1])
    return trailing


def field_errors(message: str, section: str = "colorways") -> dict[str, str]:
    """A ConfigError message split into {form field: problem}; '' holds what names no field."""
    body = (
        message.split(": ", 1)[1]
        if message.startswith(("config.toml", "/")) or ".toml:" in message
        else message
    )
    out: dict[str, str] = {}
    for part in body.split("; "):
        match = _KEY_RE.match(part)
        if match and match.group(1) == section:
            key = match.group(3)
            out[key] = part[match.end() :].lstrip(".: ").split(": ", 1)[-1]
        else:
            out[""] = (out.get("", "") + " " + part).strip()
    return out


def save(path: Path, old_text: str, new_text: str, section: str = "colorways") -> Outcome:
    """Validate new_text with the start-up rules, then write it atomically, unless the file changed."""
    try:
        parse_text(new_text, str(path.name))
    except ConfigError as exc:
        return Outcome(errors=field_errors(str(exc), section))
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != old_text:
        # Someone edited config.toml meanwhile; writing would silently drop their change.
        return Outcome(
            errors={"": "config.toml changed on disk since this page was loaded: reload and retry"}
        )
    try:
        return Outcome(config=save_text(path, new_text))
    except ConfigError as exc:
        return Outcome(errors=field_errors(str(exc), section))
    except OSError as exc:
        return Outcome(errors={"": f"could not write {path.name}: {exc.strerror or exc}"})
