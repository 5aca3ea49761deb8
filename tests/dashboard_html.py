"""Reading the dashboard's HTML blocks back in tests: the overview's rows, size tiles, statistics."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from streamlit.testing.v1 import AppTest


def html_blocks(at: AppTest) -> list[str]:
    """The body of every st.html element on the page."""
    return [str(e.proto.body) for e in at.get("html")]


def _text(node: Any) -> str:
    return " ".join(node.get_text(" ", strip=True).split()) if node else ""


def overview_rows(at: AppTest) -> dict[str, dict[str, str]]:
    """Per style code, in page order: each overview cell's text, the row's link and its shop links."""
    rows: dict[str, dict[str, str]] = {}
    for body in html_blocks(at):
        soup = BeautifulSoup(body, "html.parser")
        for row in soup.select(".ov-row[data-style]"):
            cells = {
                name: _text(row.select_one(f".c-{name}")) for name in ("name", "mine", "any", "vs", "stock")
            }
            cells["href"] = str(row.select_one("a.open")["href"])  # type: ignore[index]
            cells["buy"] = " ".join(str(a["href"]) for a in row.select("a.buy"))
            cells["spark"] = str((row.select_one(".c-spark img") or {}).get("alt", ""))  # type: ignore[union-attr]
            rows[str(row["data-style"])] = cells
    return rows


def size_tiles(at: AppTest) -> dict[str, dict[str, str]]:
    """Per size: its tile's text and whether it is one of the collector's sizes."""
    tiles: dict[str, dict[str, str]] = {}
    for body in html_blocks(at):
        for tile in BeautifulSoup(body, "html.parser").select(".tile[data-size]"):
            classes = tile.get("class") or []
            tiles[str(tile["data-size"])] = {"text": _text(tile), "mine": str("mine" in classes)}
    return tiles


def stats(at: AppTest) -> dict[str, str]:
    """The colorway page's statistics: name -> text (value and where / when)."""
    found: dict[str, str] = {}
    for body in html_blocks(at):
        for item in BeautifulSoup(body, "html.parser").select("[data-stat]"):
            found[str(item["data-stat"])] = _text(item)
    return found
