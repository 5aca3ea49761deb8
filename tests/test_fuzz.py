"""Fuzzing: random config.toml contents and random shop bodies end in a clear error, never a traceback.

Two Hypothesis profiles: "ci" (the default) runs derandomized with modest example counts, so the
suite stays fast and CI stable; "nightly" (HYPOTHESIS_PROFILE=nightly) explores new random inputs
every run with many more examples (see README, Development).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from db.engine import make_engine
from db.models import CheckRun, Observation
from tests.servers import PageServer, product_page
from tracker.config import Config, ConfigError, load_config, parse_text
from tracker.errors import ExtractError
from tracker.extract import extract_body, extract_page, extract_shopify_catalogue, extract_shopify_product_js
from tracker.fetch import Fetcher
from tracker.pipeline import RUN_STATUSES, Pipeline

ROOT = Path(__file__).resolve().parent.parent
SHOP = "https://shop.example"
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True, suppress_health_check=_QUIET
)
settings.register_profile(
    "nightly", max_examples=3000, deadline=None, derandomize=False, suppress_health_check=_QUIET
)
FUZZ = settings(settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci")))
STATUSES = RUN_STATUSES - {"cancelled", "unsupported"}

# -- TOML ------------------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_str(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer: top-level keys, tables, and arrays of tables."""
    lines = [f"{_toml_str(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    lines += [f"{_toml_str(k)} = {_toml_value(v)}" for k, v in data.items() if isinstance(v, list) and not v]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_str(key)}]")
            lines += [f"{_toml_str(k)} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"[[{_toml_str(key)}]]")
                lines += [f"{_toml_str(k)} = {_toml_value(v)}" for k, v in item.items()]
        elif isinstance(value, list) and value:
            lines.insert(0, f"{_toml_str(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


VALID: dict[str, Any] = {
    "database_url": "sqlite:///data/tracker.db",
    "timezone": "Europe/Berlin",
    "defaults": {"interval": "30m", "timeout": "20s", "retries": 2, "per_host_delay": "1s"},
    "colorways": [
        {
            "name": "Protection Pack Phantom",
            "style_code": "M2002RDB",
            "list_price": {"USD": 150},
            "target_price": {"USD": 125},
            "sizes": ["9.5", "10"],
        }
    ],
    "sources": [{"name": "Shop", "kind": "shopify", "url": "https://shop.example", "currency": "USD"}],
    "alerts": {
        "channels": [{"name": "me", "url": "json://localhost/hook"}],
        "rules": [{"on": ["price_drop"]}],
    },
    "dashboard": {"host": "127.0.0.1", "port": 8501},
}
KEYS = {
    "": ["database_url", "timezone", "data_dir", "nonsense"],
    "defaults": ["interval", "jitter", "timeout", "retries", "max_body_bytes", "per_host_concurrency",
                 "per_host_delay", "user_agent", "respect_robots", "broken_after"],
    "colorways": ["name", "style_code", "line", "list_price", "target_price", "sizes", "release_date",
                  "watched", "aliases", "image"],
    "sources": ["name", "kind", "url", "urls", "currency", "collection", "interval", "timeout", "selectors",
                "headers", "proxy", "enabled", "max_pages", "query"],
    "alerts": ["channels", "rules", "quiet_hours", "flood_cap", "claim_lease"],
    "dashboard": ["host", "port", "password"],
}  # fmt: skip

# TOML has no null: None is only drawn at the top of a mutation, where it means "remove the key".
# Integers stay within TOML's 64 bits.
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1s", "1h", "10", "abc", "https://", "ftp://x", "${NOPE}", "M2002R", "USD"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
values = st.none() | toml_values


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The valid config with a few keys set to random values (of any type)."""
    data = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(KEYS)))
        key = draw(st.sampled_from(KEYS[section]))
        value = draw(values)
        if value is None:
            target = data if section == "" else data.get(section)
            if isinstance(target, list):
                target = target[0] if target else None
            if isinstance(target, dict):
                target.pop(key, None)
            continue
        if section == "":
            data[key] = value
        elif isinstance(data.get(section), list):
            data[section][0][key] = value
        else:
            data[section][key] = value
    return data


@FUZZ
@given(mutated_configs())
def test_mutated_config_is_valid_or_a_config_error(data: dict[str, Any]) -> None:
    text = to_toml(data)
    # A table whose key was set to a scalar, then given sub-keys, is not TOML: a writer's limit.
    assume(_is_toml(text))
    try:
        config = parse_text(text)
    except ConfigError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        return
    assert isinstance(config, Config)


def _is_toml(text: str) -> bool:
    import tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True


@FUZZ
@given(st.text(max_size=400))
def test_random_text_is_valid_or_a_config_error(text: str) -> None:
    try:
        parse_text(text)
    except ConfigError as exc:
        assert str(exc)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_a_config_file(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    "text",
    [
        "[[sources]]\nname = 1\n",
        "\x00\xff garbage = = =",
        '[defaults]\ninterval = "soon"\n',
        '[[sources]]\nname = "x"\nkind = "page"\nurl = "javascript:alert(1)"\n',
        "database_url = [1, 2]\n[dashboard]\nport = 99999999\n",
    ],
)
def test_the_command_prints_one_line_for_a_bad_config(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    for args in (["check"], ["run", "--no-dashboard"]):
        proc = subprocess.run(
            [sys.executable, "-m", "tracker.cli", "--config", str(config), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr


# -- bodies ----------------------------------------------------------------------------------------

JSON_KEYS = [
    "@type",
    "price",
    "offers",
    "name",
    "sku",
    "priceCurrency",
    "availability",
    "variants",
    "hasVariant",
    "@graph",
    "products",
    "title",
    "available",
    "lowPrice",
    "url",
    "image",
    "priceSpecification",
    "size",
    "handle",
    "compare_at_price",
    "options",
    "option1",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)
fragments = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "<h1>New Balance 2002R</h1>",
            '<span class="price">$149.99</span>',
            '<span class="price">0,00 €</span>',
            '<span class="price">¥ 19 800</span>',
            '<s class="price">$999,999,999,999.99</s>',
            "<button>Add to cart</button>",
            "<button disabled>Sold out</button>",
            '<meta property="product:price:amount" content="-3">',
            '<meta property="og:price:amount" content="1e309">',
            '<div itemscope itemtype="https://schema.org/Product"><span itemprop="price" content="NaN">',
            "<title>Just a moment...</title>",
            "<select><option>9.5</option><option disabled>10 - sold out</option></select>",
            "</div></div></span><html><html>",
            "<!--",
            "<![CDATA[",
        ]
    ),
    json_values.map(lambda v: f'<script type="application/ld+json">{json.dumps(v)}</script>'),
    json_values.map(lambda v: f'<script type="application/ld+json">{json.dumps(v)[:-1]}</script>'),
)
pages = st.lists(fragments, max_size=12).map(lambda parts: "<html><body>" + "".join(parts) + "</body></html>")


@FUZZ
@given(pages)
def test_random_pages_extract_or_fail_cleanly(html: str) -> None:
    try:
        product = extract_page(html, "https://shop.example/p/2002r")
    except ExtractError as exc:
        assert str(exc)
        return
    assert product.price is None or product.price > 0
    assert product.compare_at is None or (product.price is not None and product.compare_at > product.price)
    if product.blocked:
        assert product.price is None


@FUZZ
@given(json_values)
def test_random_json_extracts_or_fails_cleanly(data: Any) -> None:
    body = json.dumps(data).encode()
    for call in (
        lambda: extract_body(body, url="https://shop.example/products/x", content_type="application/json"),
        lambda: extract_shopify_product_js(body, url="https://shop.example/products/x", currency="USD"),
        lambda: extract_shopify_catalogue(
            data if isinstance(data, dict) else {"products": data},
            base_url="https://shop.example",
            currency="USD",
        ),
    ):
        try:
            products = call()
        except ExtractError as exc:
            assert str(exc)
            continue
        for product in products if isinstance(products, list) else [products]:
            assert product.price is None or product.price > 0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[PageServer, Config, Any]]:
    """One page server, one SQLite file and a config with a page source and a Shopify source on it."""
    import tempfile

    with PageServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.set("/robots.txt", "", 404)
        config = parse_text(
            f"""database_url = "sqlite:///{tmp}/fuzz.db"
[defaults]
retries = 0
timeout = "5s"
per_host_delay = "0s"
[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = {{ USD = 150 }}
[[sources]]
name = "page"
kind = "page"
url = "{server.base}/p/new-balance-2002r-m2002rdb"
[[sources]]
name = "catalogue"
kind = "shopify"
url = "{server.base}/shop"
"""
        )
        engine = make_engine(config.database_url)
        yield server, config, engine
        engine.dispose()


@FUZZ
@given(body=st.one_of(pages, json_values.map(json.dumps)), status=st.sampled_from([200, 200, 200, 404, 500]))
def test_random_bodies_through_the_pipeline_end_in_a_recorded_status(
    served: tuple[PageServer, Config, Any], body: str, status: int
) -> None:
    server, config, engine = served
    server.set("/p/new-balance-2002r-m2002rdb", body, status)
    server.set("/shop/products.json", body, status, **{"Content-Type": "application/json"})

    async def checks() -> list[str]:
        async with Fetcher(config.defaults) as fetcher:
            pipeline = Pipeline(config, engine, fetcher)
            return [(await pipeline.check(name)).status for name in ("page", "catalogue")]

    with Session(engine) as session:
        before = session.exec(select(sa.func.max(CheckRun.id))).one() or 0
    statuses = asyncio.run(checks())
    assert set(statuses) <= STATUSES, statuses
    with Session(engine) as session:
        # This example's own runs and what they wrote, not whatever else is newest in the file.
        runs = session.exec(select(CheckRun).where(CheckRun.id > before)).all()  # type: ignore[operator]
        assert sorted(r.status for r in runs) == sorted(statuses)
        assert all(r.finished_at is not None for r in runs)
        ids = [r.id for r in runs]
        written = session.exec(select(Observation).where(col(Observation.run_id).in_(ids))).all()
        assert sum(r.observations_written for r in runs) == len(written)
        assert all(o.price is None or o.price > 0 for o in written)


def test_a_fuzzed_page_source_still_records_a_real_page(served: tuple[PageServer, Config, Any]) -> None:
    """After the fuzzing, the same source reads an ordinary page again (nothing was left stuck)."""
    server, config, engine = served
    server.set("/p/new-balance-2002r-m2002rdb", product_page("149.00"))

    async def check() -> str:
        async with Fetcher(config.defaults) as fetcher:
            return (await Pipeline(config, engine, fetcher).check("page")).status

    assert asyncio.run(check()) == "ok"
    with Session(engine) as session:
        last = session.exec(select(Observation).order_by(Observation.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.price == Decimal("149.00")
