"""Edits to config.toml's [[sources]] with tomlkit: comments, order and layout kept, validated before saving.

Used by `tracker add --write` and the dashboard's Shops page, so both write a source the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from tracker.config import Config, parse_text, save_text
from tracker.errors import ConfigError

# The order keys are written in, so a source added here reads like one written by hand.
KEY_ORDER = (
    "name", "kind", "url", "urls", "enabled", "currency", "collection", "query", "render", "wait_for",
    "interval", "jitter", "timeout",
)  # fmt: skip


def _sources(doc: tomlkit.TOMLDocument) -> AoT:
    if "sources" not in doc:
        doc.append("sources", tomlkit.aot())
    found = doc["sources"]
    if not isinstance(found, AoT):
        raise ConfigError("config.toml: sources must be written as [[sources]] tables to edit them here")
    return found


def _trailing(table: Table) -> list[Any]:
    """Comments and blank lines at the end of a table's body (they introduce what follows it)."""
    body = table.value.body
    out: list[Any] = []
    while body and body[-1][0] is None:
        out.insert(0, body.pop()[1])
    return out


def _put(table: Table, key: str, value: Any) -> None:
    if value is None or value in ("", []):
        if key in table:
            del table[key]
        return
    table[key] = value


def add_source(text: str, values: dict[str, Any]) -> str:
    """The config text with a new [[sources]] table holding values (keys in the usual order)."""
    doc = tomlkit.parse(text)
    aot = _sources(doc)
    table = tomlkit.table()
    for key in sorted(values, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER)):
        _put(table, key, values[key])
    trailing: list[Any] = []
    if len(aot):
        # Comments after the last source head the section that follows: keep them after the new one.
        trailing = _trailing(aot[-1])
        aot[-1].value.body.append((None, tomlkit.ws("\n")))
    aot.append(table)
    for item in trailing:
        table.value.body.append((None, item))
    return tomlkit.dumps(doc)


def update_source(text: str, name: str, changes: dict[str, Any]) -> str:
    """The config text with the source called name changed (a value of None or "" removes the key)."""
    doc = tomlkit.parse(text)
    aot = _sources(doc)
    for table in aot:
        if str(table.get("name", "")) == name:
            trailing = _trailing(table)
            for key, value in changes.items():
                _put(table, key, value)
            for item in trailing:
                table.value.body.append((None, item))
            return tomlkit.dumps(doc)
    raise ConfigError(f"config.toml: no source named {name!r}")


def source_for_url(config: Config, url: str) -> str | None:
    """The name of a source that already checks this URL (or this shop's catalogue), if any."""
    wanted = url.rstrip("/")
    for src in config.sources:
        if any(u.rstrip("/") == wanted for u in src.all_urls()):
            return src.name
    return None


def unique_name(config: Config, base: str) -> str:
    """base, or base 2, base 3... whichever no source is called yet."""
    taken = {s.name for s in config.sources}
    if base not in taken:
        return base
    n = 2
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


def write(path: Path, text: str) -> Config:
    """Validate text with the start-up rules, then replace config.toml atomically."""
    parse_text(text, str(path))
    return save_text(path, text)
