"""`tracker add URL` against real local shops of every kind: the right kind, and a valid source written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import PageServer, product_page
from tracker.config import load_config
from tracker.configedit import add_source, update_source
from tracker.demo.jsshop import JSShop

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CHROMIUM = Path("/usr/bin/chromium")
CONFIG = """# My 2002R tracker
timezone = "Europe/London"

[defaults]
per_host_delay = "0s"  # local test shops

[[colorways]]
name = "Protection Pack Rain Cloud"
style_code = "M2002RDA"

# --- shops ---
[[sources]]
name = "Existing"
kind = "page"
url = "https://existing.example/p/1"
# keep this comment
"""


@pytest.fixture
def server() -> Iterator[PageServer]:
    with PageServer() as running:
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _add(config: Path, url: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "add", url, "--json", *extra],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _catalogue() -> str:
    payload = json.loads((DATA / "extract" / "shopify_products.json").read_text(encoding="utf-8"))
    other = {"id": 9, "title": "Fresh Foam X 1080v13", "handle": "ff-1080", "tags": [], "options": [],
             "variants": [{"id": 91, "title": "9", "option1": "9", "sku": "M1080K13-9", "price": "165.00",
                           "available": True}]}  # fmt: skip
    payload["products"].append(other)
    return json.dumps(payload)


def _shopify(server: PageServer) -> None:
    server.set("/products.json", _catalogue(), **_json())
    server.set("/cart.js", '{"token": "x", "currency": "GBP", "items": []}', **_json())
    server.set(
        "/products/nb-2002r-phantom.js", (DATA / "extract" / "shopify_product.js").read_bytes(), **_json()
    )


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _written(config: Path) -> Any:
    text = config.read_text(encoding="utf-8")
    assert "# My 2002R tracker" in text and "# keep this comment" in text and "# local test shops" in text
    return load_config(config).sources[-1]


def test_shopify_catalogue(server: PageServer, config: Path) -> None:
    _shopify(server)
    code, probe, err = _add(config, server.base + "/", "--write", "--name", "Local Shopify")
    assert code == 0, err
    assert probe["kind"] == "shopify"
    titles = [p["title"] for p in probe["products"]]
    assert "New Balance 2002R Protection Pack Rain Cloud" in titles and "Fresh Foam X 1080v13" not in titles
    rain_cloud = next(p for p in probe["products"] if p["style_code"] == "M2002RDA")
    assert rain_cloud["colorway"] == "Protection Pack Rain Cloud" and rain_cloud["currency"] == "GBP"
    src = _written(config)
    assert (src.name, src.kind, src.url, src.currency, src.render) == (
        "Local Shopify", "shopify", server.base, "GBP", False,
    )  # fmt: skip


def test_shopify_product_and_collection(server: PageServer, config: Path) -> None:
    _shopify(server)
    server.set(
        "/collections/2002r/products.json",
        (DATA / "extract" / "shopify_products.json").read_bytes(),
        **_json(),
    )
    code, probe, err = _add(config, server.base + "/products/nb-2002r-phantom?variant=71", "--write")
    assert code == 0, err
    assert probe["kind"] == "shopify_product"
    assert probe["products"][0]["price"] == "150" and probe["products"][0]["style_code"] == "M2002RDJ"
    assert probe["products"][0]["colorway"] is None and probe["products"][0]["is_2002r"]
    src = _written(config)
    assert (src.kind, src.url) == ("shopify_product", server.base + "/products/nb-2002r-phantom")

    code, probe, err = _add(config, server.base + "/collections/2002r")
    assert code == 0, err
    assert probe["source"]["kind"] == "shopify" and probe["source"]["collection"] == "2002r"


def test_json_ld_page(server: PageServer, config: Path) -> None:
    url = server.set("/p/m2002rda", product_page("139.99", code="M2002RDA"))
    code, probe, err = _add(config, url, "--write")
    assert code == 0, err
    assert (probe["kind"], probe["render"]) == ("page", False)
    found = probe["products"][0]
    assert (found["price"], found["currency"], found["read_by"]) == ("139.99", "USD", "json-ld")
    assert found["colorway"] == "Protection Pack Rain Cloud"
    src = _written(config)
    assert (src.name, src.kind, src.url, src.render) == ("127.0.0.1", "page", url, False)
    assert server.hits["/products.json"] == 1  # asked once whether it is a Shopify shop


def test_state_blob_page(server: PageServer, config: Path) -> None:
    url = server.set("/products/m2002rda-rain-cloud", (DATA / "state" / "next_data.html").read_bytes())
    code, probe, err = _add(config, url, "--write")
    assert code == 0, err
    assert (probe["kind"], probe["render"]) == ("page", False)
    found = probe["products"][0]
    assert found["read_by"].startswith("app-state") and found["price"] == "119.99"
    assert [s["size"] for s in found["sizes"]] == ["9", "9.5", "10"]
    assert _written(config).kind == "page"


def test_js_rendered_page(config: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with JSShop() as shop:
        code, probe, err = _add(config, shop.product_url, "--write", "--name", "JS shop")
    assert code == 0, err
    assert (probe["kind"], probe["render"]) == ("page", True)
    assert probe["products"][0]["price"] == "150.00"
    src = _written(config)
    assert (src.name, src.kind, src.render, src.currency) == ("JS shop", "page", True, "USD")


def test_release_calendar(server: PageServer, config: Path) -> None:
    url = server.set("/release-dates/", (DATA / "releases" / "release_boxes.html").read_bytes())
    code, probe, err = _add(config, url, "--write")
    assert code == 0, err
    assert probe["kind"] == "release_calendar"
    assert "M2002RDB" in [r["style_code"] for r in probe["releases"]]
    assert all("Runner" not in (r["name"] or "") for r in probe["releases"])  # not a 2002R
    assert _written(config).kind == "release_calendar"


@pytest.mark.parametrize(
    ("fixture", "status", "problem"),
    [("challenge_cloudflare.html", 503, "blocked"), ("challenge_captcha_200.html", 200, "blocked")],
)
def test_challenge_page_is_refused(
    server: PageServer, config: Path, fixture: str, status: int, problem: str
) -> None:
    url = server.set("/p/1", (DATA / "extract" / fixture).read_bytes(), status=status)
    before = config.read_text(encoding="utf-8")
    code, probe, _err = _add(config, url, "--write")
    assert code == 1
    assert (probe["kind"], probe["problem"]) == (None, problem)
    assert "challenge" in probe["reason"] or "blocked" in probe["reason"]
    assert config.read_text(encoding="utf-8") == before


def test_robots_disallowed_page_is_refused(server: PageServer, config: Path) -> None:
    server.set("/robots.txt", "User-agent: *\nDisallow: /\n", **{"Content-Type": "text/plain"})
    url = server.set("/p/m2002rda", product_page("139.99", code="M2002RDA"))
    before = config.read_text(encoding="utf-8")
    code, probe, _err = _add(config, url, "--write")
    assert code == 1
    assert probe["problem"] == "robots" and "robots.txt" in probe["reason"]
    assert server.hits.get("/p/m2002rda", 0) == 0 and server.hits.get("/products.json", 0) == 0
    assert config.read_text(encoding="utf-8") == before


def test_a_page_without_a_product_says_so(server: PageServer, config: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    url = server.set("/about", "<html><body><h1>About us</h1><p>We sell shoes.</p></body></html>")
    code, probe, _err = _add(config, url)
    assert code == 1
    assert probe["problem"] == "no_product" and "after its JavaScript ran" in probe["reason"]


def test_a_page_built_to_be_slow_to_parse_is_given_up_on_at_the_time_limit(
    server: PageServer, config: Path
) -> None:
    # End tags the tree builder ignores (a <div> stands between each </span> and its <span>): every
    # <div> nests one level deeper, and the parser's time grows with the square of the depth: about
    # 45 s here, hours at the body cap. The product is on the page, had it been read.
    deep = "<span><div></span>" * 60_000
    slow = product_page("139.99", code="M2002RDA").replace("</body>", deep + "</body>")
    url = server.set("/p/slow", slow)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('per_host_delay = "0s"', 'per_host_delay = "0s"\nextract_timeout = "1s"'))
    before = config.read_text(encoding="utf-8")
    code, probe, _err = _add(config, url, "--write")
    assert code == 1
    assert probe["problem"] == "unreadable" and probe["products"] == []
    assert "longer than 1 s ([defaults] extract_timeout)" in probe["reason"]
    assert config.read_text(encoding="utf-8") == before  # nothing written


def test_the_same_url_is_not_added_twice(server: PageServer, config: Path) -> None:
    url = server.set("/p/m2002rda", product_page("139.99", code="M2002RDA"))
    assert _add(config, url, "--write")[0] == 0
    code, probe, err = _add(config, url, "--write")
    assert code == 2 and probe["existing"] == "127.0.0.1" and "already checks" in err


def test_source_edits_keep_comments_and_validate() -> None:
    text = add_source(CONFIG, {"name": "New", "kind": "page", "url": "https://new.example/p", "render": True})
    # Comments after the last source head what follows the sources: they stay last.
    assert text.index('name = "New"') < text.index("# keep this comment")
    text = update_source(text, "Existing", {"enabled": False, "interval": "2h"})
    existing = 'url = "https://existing.example/p/1"\nenabled = false\ninterval = "2h"\n'
    assert existing in text
    text = update_source(text, "New", {"render": None})
    assert "render" not in text.split('name = "New"', 1)[1]
