"""Shops: every source with its health and last result; add a shop by its URL; edit or disable one."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, probe, ui, watchlist
from dashboard.format import money, plain, safe_url, when
from db import queries
from tracker.config import Source
from tracker.configedit import add_source, update_source

KINDS = {
    "shopify": "Shopify catalogue",
    "shopify_product": "Shopify product",
    "page": "Product page",
    "release_calendar": "Release calendar",
}
PROBLEMS = {
    "blocked": "The shop answers with a bot challenge",
    "robots": "The shop's robots.txt does not allow it",
    "unreachable": "The shop does not answer",
    "unreadable": "The page cannot be read",
    "no_product": "No product found there",
    "invalid": "Not a shop address",
    "error": "The probe failed",
}

ctx = ui.page_context()
tz = ctx.config.tz()
st.title("Shops")
st.caption(
    f"Every source in {ctx.path.name}, how its checks go and what it last read. Changes are checked "
    "with the start-up rules, then written (comments and order kept); a running tracker applies them "
    "within seconds."
)
if notice := st.session_state.pop("shops_notice", None):
    st.success(plain(notice), icon=":material/check:")


def _results(url: str) -> dict[str, list[queries.Offer]]:
    """Every listing's latest observation, by source."""
    return _latest(url, data.stamp(url))


@st.cache_data(ttl=data.STAMPED_TTL, show_spinner=False, max_entries=4)
def _latest(url: str, stamp: str) -> dict[str, list[queries.Offer]]:
    engine = data.engine(url)
    out: dict[str, list[queries.Offer]] = defaultdict(list)
    for offer in [*queries.latest_offers(engine), *queries.discovered_listings(engine)]:
        if not offer.gone:
            out[offer.source_name].append(offer)
    return dict(out)


def _health(src: Source, health: queries.SourceHealth | None) -> str:
    if not src.enabled:
        return "disabled"
    if health is None or health.last_checked_at is None:
        return "not checked yet"
    if health.broken:
        return f"broken ({health.consecutive_failures} failed checks in a row)"
    if health.last_status in ("ok", "not_modified"):
        return "ok"
    return f"failing: {health.last_status}"


def _last_result(offers: list[queries.Offer]) -> str:
    if not offers:
        return ""
    in_stock = [o for o in offers if o.availability == queries.IN_STOCK]
    priced = [o for o in in_stock or offers if o.price is not None]
    text = f"{len(offers)} listing{'s' if len(offers) != 1 else ''}, {len(in_stock)} in stock"
    if priced:
        best = min(priced, key=lambda o: o.price or Decimal(0))
        text += f", from {money(best.price, best.currency)}"
    return text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


healths = {h.name: h for h in data.health(ctx.url)}
results = _results(ctx.url)
sources = list(ctx.config.sources)
if sources:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "shop": s.name,
                    "kind": KINDS.get(s.kind, s.kind) + (" (rendered)" if s.render else ""),
                    "health": _health(s, healths.get(s.name)),
                    "last check": when(healths[s.name].last_checked_at, tz) if s.name in healths else "",
                    "last result": _last_result(results.get(s.name, [])),
                    "last error": (healths[s.name].last_error or "") if s.name in healths else "",
                    "url": s.url or (s.urls[0] if s.urls else ""),
                }
                for s in sources
            ]
        ),
        hide_index=True,
        width="stretch",
        key="shops_table",
        column_config={
            "last check": st.column_config.TextColumn("Last check"),
            "url": st.column_config.LinkColumn("URL"),
        },
    )
else:
    st.info("No shops yet: add one below.", icon=":material/storefront:")


# -- add a shop -------------------------------------------------------------------------------------

st.subheader("Add a shop")
st.caption(
    "Paste a product page, a Shopify shop or collection, or a release calendar. The probe works out "
    "what it is, politely (robots.txt respected), and shows what the tracker would read there."
)
errors: dict[str, str] = st.session_state.get("shop_errors", {})


def _check_url(url: str) -> str | None:
    return None if safe_url(url) else "Only http:// and https:// addresses can be added."


url_input = st.text_input("Shop URL", key="shop_url", placeholder="https://shop.example/products/2002r")
if "url" in errors:
    st.error(plain(errors["url"]))
columns = st.columns(2)
columns[0].text_input("Name (optional)", key="shop_name", placeholder="the shop's host name")
columns[1].text_input("Currency (if the shop does not say)", key="shop_currency", placeholder="USD")

if st.button("Probe", key="shop_probe", type="secondary"):
    st.session_state.pop("shop_found", None)
    problem = _check_url(url_input)
    if problem:
        st.session_state["shop_errors"] = {"url": problem}
    else:
        st.session_state["shop_errors"] = {}
        with st.spinner("Probing the shop..."):
            st.session_state["shop_found"] = probe.run_probe(
                ctx.path,
                url_input.strip(),
                st.session_state.get("shop_name", "").strip() or None,
                st.session_state.get("shop_currency", "").strip() or None,
            )
    st.rerun()  # show the errors and the preview where they belong, above and below the button


def _save() -> None:
    found: dict[str, Any] = st.session_state.get("shop_found") or {}
    url = st.session_state.get("shop_url", "")
    problem = _check_url(url)
    if problem:
        st.session_state["shop_errors"] = {"url": problem}
        return
    if not found.get("source") or found.get("url") != url.strip():
        st.session_state["shop_errors"] = {
            "": "Probe this URL first: the shop is saved as the probe found it."
        }
        return
    if found.get("existing"):
        st.session_state["shop_errors"] = {"": f"The shop {found['existing']} already checks this URL."}
        return
    text = ctx.path.read_text(encoding="utf-8")
    outcome = watchlist.save(ctx.path, text, add_source(text, found["source"]), section="sources")
    st.session_state["shop_errors"] = outcome.errors
    if not outcome.errors:
        st.session_state["shops_notice"] = f"Added the shop {found['source']['name']}."
        st.session_state.pop("shop_found", None)


def _show_found(found: dict[str, Any]) -> None:
    if not found.get("kind"):
        st.warning(
            f"{PROBLEMS.get(found.get('problem') or '', 'Cannot be tracked')}: {plain(found.get('reason'))}",
            icon=":material/block:",
        )
        return
    kind = KINDS.get(found["kind"], found["kind"])
    st.success(f"{kind}{' rendered in headless Chromium' if found.get('render') else ''}.")
    rows = [
        {
            "title": p.get("title") or "",
            "style code": p.get("style_code") or "",
            "colorway": p.get("colorway") or ("new 2002R" if p.get("is_2002r") else "not a 2002R"),
            "price": money(Decimal(p["price"]), p.get("currency")) if p.get("price") else "no price",
            "stock": p.get("availability"),
            "sizes": ", ".join(
                f"{s['size']}{'' if s['availability'] == 'InStock' else ' (sold out)'}"
                for s in p.get("sizes") or []
            ),
            "read by": p.get("read_by") or "",
        }
        for p in found.get("products") or []
    ]
    rows += [
        {
            "title": r.get("name") or "",
            "style code": r.get("style_code") or "",
            "price": r.get("date") or "TBC",
        }
        for r in found.get("releases") or []
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="shop_preview")
    for note in found.get("notes") or []:
        st.caption(plain(note))
    if found.get("existing"):
        st.warning(f"The shop {plain(found['existing'])} already checks this URL.")
    if found.get("source"):
        st.caption("The source it adds to config.toml:")
        st.code(add_source("", found["source"]).strip(), language="toml")


found_now = st.session_state.get("shop_found")
if found_now:
    _show_found(found_now)
if "" in errors:
    st.error(plain(errors[""]))
for key in ("name", "kind", "currency", "render"):
    if key in errors:
        st.error(f"{key}: {plain(errors[key])}")
if found_now and found_now.get("source"):
    st.button("Save shop", key="shop_save", type="primary", on_click=_save)


# -- edit or disable a shop ------------------------------------------------------------------------

if sources:
    st.subheader("Edit a shop")
    choice = st.selectbox("Shop", [s.name for s in sources], key="shop_edit_choice")
    src = ctx.config.source(choice)
    edit_errors: dict[str, str] = st.session_state.get("shop_edit_errors", {})
    if src is not None:

        def _key(name: str) -> str:
            return f"shop_edit_{name}_{src.name}"

        def _save_edit() -> None:
            s = st.session_state
            changes: dict[str, Any] = {
                "enabled": bool(s[_key("enabled")]),
                "currency": s[_key("currency")].strip().upper() or None,
                "interval": s[_key("interval")].strip() or None,
                "render": True if s[_key("render")] else None,
                "wait_for": s[_key("wait_for")].strip() or None,
            }
            if src.url is not None:
                url = s[_key("url")].strip()
                if _check_url(url):
                    s["shop_edit_errors"] = {"url": "Only http:// and https:// addresses can be used."}
                    return
                changes["url"] = url
            text = ctx.path.read_text(encoding="utf-8")
            outcome = watchlist.save(
                ctx.path, text, update_source(text, src.name, changes), section="sources"
            )
            s["shop_edit_errors"] = outcome.errors
            if not outcome.errors:
                s["shops_notice"] = f"Saved the shop {src.name}."

        with st.form(f"shop_edit_{src.name}"):
            st.markdown(f"**{plain(src.name)}**: {KINDS.get(src.kind, src.kind)}")
            st.checkbox("Checked on its schedule (untick to disable)", value=src.enabled, key=_key("enabled"))
            if src.url is not None:
                st.text_input("URL", value=src.url, key=_key("url"))
            st.text_input(
                "Currency", value=src.currency or "", key=_key("currency"), placeholder="as the shop says"
            )
            default = _duration(ctx.config.defaults.interval)
            st.text_input(
                "Interval",
                value=_duration(src.interval),
                key=_key("interval"),
                placeholder=f"default {default}",
            )
            st.checkbox(
                "Render in headless Chromium (pages whose price appears only after their JavaScript runs)",
                value=src.render,
                key=_key("render"),
                disabled=src.kind != "page",
            )
            st.text_input(
                "Wait for (CSS selector, with rendering)",
                value=src.wait_for or "",
                key=_key("wait_for"),
                placeholder=".price:not(:empty)",
            )
            for field_name, problem in edit_errors.items():
                st.error(f"{field_name + ': ' if field_name else ''}{plain(problem)}")
            st.form_submit_button("Save changes", type="primary", on_click=_save_edit)
