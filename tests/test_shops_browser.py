"""The Shops page served for real and driven by Chromium: add a Shopify shop and a JS-rendered shop by
URL (probe, preview, save), then disable one; config.toml gets valid sources with comments kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.serve import serve
from tests.browser_support import free_port, stop
from tests.seed import seed, sqlite_engine, write_config
from tests.servers import PageServer
from tracker.config import load_config
from tracker.demo.jsshop import JSShop

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]
DATA = Path(__file__).parent / "data" / "extract"
OUT = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)
    # Local shops answer at once; the probe keeps its politeness otherwise.
    config.write_text(
        config.read_text(encoding="utf-8").replace("[defaults]", '[defaults]\nper_host_delay = "0s"', 1)
        if "[defaults]" in config.read_text(encoding="utf-8")
        else '[defaults]\nper_host_delay = "0s"\n\n' + config.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    load_config(config)
    port = free_port()
    proc = serve(config, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}", config
    finally:
        stop(proc)


IDLE = """() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-stale="true"]')"""


def _settle(page: object) -> None:
    """Wait until Streamlit has finished the run an action started (no stale elements left)."""
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    page.wait_for_function(IDLE, timeout=120_000)  # type: ignore[attr-defined]


def _add(page: object, base: str, url: str, name: str) -> None:
    page.goto(base + "/shops", wait_until="domcontentloaded")  # type: ignore[attr-defined]
    page.get_by_role("heading", name="Add a shop").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    field = page.get_by_label("Shop URL")  # type: ignore[attr-defined]
    field.fill(url)
    field.press("Enter")
    _settle(page)
    name_field = page.get_by_label("Name (optional)")  # type: ignore[attr-defined]
    name_field.fill(name)
    name_field.press("Enter")
    _settle(page)
    page.get_by_role("button", name="Probe").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save shop").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    _settle(page)
    page.get_by_role("button", name="Save shop").click()  # type: ignore[attr-defined]
    page.get_by_text(f"Added the shop {name}.").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    _settle(page)


def test_add_shops_and_disable_one_in_chromium(dashboard: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base, config = dashboard
    OUT.mkdir(exist_ok=True)
    with PageServer() as shopify, JSShop() as js_shop:
        shopify.set("/products.json", (DATA / "shopify_products.json").read_bytes(), **_json())
        shopify.set("/cart.js", json.dumps({"currency": "CAD"}), **_json())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                _add(page, base, shopify.base + "/", "Local Shopify")
                _add(page, base, js_shop.product_url, "JS shop")

                # Disable the Shopify shop in the edit form.
                page.get_by_role("heading", name="Edit a shop").first.wait_for(timeout=30_000)
                _choose(page, "Local Shopify")
                _settle(page)
                chosen = "Local Shopify: Shopify catalogue"
                form = page.locator("[data-testid='stForm']").filter(has_text=chosen)
                form.wait_for(timeout=30_000)
                form.get_by_text("Checked on its schedule").click()
                _settle(page)
                form.get_by_role("button", name="Save changes").click()
                page.get_by_text("Saved the shop Local Shopify.").wait_for(timeout=30_000)
                assert not page.locator(".stException").count()
                page.wait_for_timeout(1500)  # let the table's canvas paint before the screenshot
                page.screenshot(path=str(OUT / "shops.png"), full_page=True)
            finally:
                browser.close()
    sources = {s.name: s for s in load_config(config).sources}
    shop = sources["Local Shopify"]
    assert (shop.kind, shop.url, shop.currency, shop.enabled) == ("shopify", shopify.base, "CAD", False)
    rendered = sources["JS shop"]
    assert (rendered.kind, rendered.url, rendered.render, rendered.enabled) == (
        "page", js_shop.product_url, True, True,
    )  # fmt: skip
    assert "# --- shops ---" in config.read_text(encoding="utf-8")


def _choose(page: object, name: str) -> None:
    """Pick a shop in the edit form's select box (opening it again if the page was still busy)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(6):
        page.locator("[data-testid='stSelectbox']").last.click()  # type: ignore[attr-defined]
        option = page.get_by_role("option", name=name)  # type: ignore[attr-defined]
        try:
            option.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            continue
        option.click()
        _settle(page)
        return
    pytest.fail(f"the shop {name} could not be chosen")


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}
