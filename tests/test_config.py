"""config.toml loading: the shipped file is valid, every error names its key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tracker.config import ConfigError, load_config, parse_duration, parse_text, save_text

ROOT = Path(__file__).resolve().parent.parent

BASE = """
[[colorways]]
name = "Protection Pack Phantom"
style_code = "M2002RDB"
list_price = { USD = 150 }

[[sources]]
name = "Shop"
kind = "shopify"
url = "https://shop.example"
"""


def test_shipped_config_is_valid_and_has_the_catalogue() -> None:
    config = load_config(ROOT / "config.toml")
    codes = {c.style_code: c for c in config.colorways}
    for code in ("M2002RDA", "M2002RDB", "M2002RDC"):
        assert codes[code].list_price["USD"] == Decimal("150")
        assert codes[code].line == "Protection Pack"
    assert codes["M2002RHO"].list_price["USD"] == Decimal("130")
    assert {s.kind for s in config.sources} == {"shopify"}
    assert all(s.url and s.url.startswith("https://") for s in config.sources)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(BASE + "\nfoo = 1\n", "foo: unknown key", id="unknown-top-level-key"),
        pytest.param(
            BASE.replace('url = "https://shop.example"', 'url = "https://shop.example"\nintervl = "5m"'),
            "sources[0].intervl: unknown key",
            id="typo-in-source",
        ),
        pytest.param(
            BASE.replace('kind = "shopify"', 'kind = "shopify"\ninterval = "5 parsecs"'),
            "sources[0].interval: '5 parsecs' is not a duration",
            id="bad-interval",
        ),
        pytest.param(
            BASE.replace('kind = "shopify"', 'kind = "shopify"\ninterval = "0s"'),
            "sources[0].interval: 0s is out of range: use 1s to 30d",
            id="zero-interval",
        ),
        *(
            pytest.param('[defaults]\n' + f"{key} = {value}\n" + BASE, expected, id=f"{key}-{value}")
            for key, value, expected in (
                ("interval", "nan", "defaults.interval: nan is not a duration"),
                ("interval", "inf", "defaults.interval: inf is not a duration"),
                ("interval", "1e300", "defaults.interval: 1e+300 is longer than a year"),
                ("jitter", "nan", "defaults.jitter: nan is not a duration"),
                ("jitter", "-inf", "defaults.jitter: -inf is not a duration"),
                ("jitter", '"2d"', "defaults.jitter: 2d is out of range: use 0s to 1d"),
                ("per_host_delay", "1e300", "defaults.per_host_delay: 1e+300 is longer than a year"),
                ("per_host_delay", "nan", "defaults.per_host_delay: nan is not a duration"),
                ("timeout", "0", "defaults.timeout: 0s is out of range: use 100ms to 10m"),
                ("extract_timeout", "0", "defaults.extract_timeout: 0s is out of range: use 100ms to 10m"),
                ("retries", '"3"', "defaults.retries: '3' is not a whole number"),
                ("respect_robots", '"no"', "defaults.respect_robots: 'no' is not true or false"),
                ("max_body_bytes", "1e12", "defaults.max_body_bytes: 1000000000000.0 is not a whole number"),
            )
        ),
        pytest.param(
            BASE.replace("list_price", 'watched = "yes"\nlist_price'),
            "colorways[0].watched: 'yes' is not true or false",
            id="watched-yes",
        ),
        pytest.param(
            BASE.replace("USD = 150", "QQQ = 150"),
            "colorways[0].list_price: 'QQQ' is not an ISO 4217",
            id="list-price-qqq",
        ),
        pytest.param(
            BASE.replace("USD = 150", "USD = 1e300"),
            "colorways[0].list_price: 1e+300 is not a plausible price",
            id="absurd-list-price",
        ),
        pytest.param(
            BASE + '\n[alerts]\n[[alerts.rules]]\non = ["restock"]\ncolorways = ["M2002RZZ"]\n',
            "alerts.rules[0].colorways: no colorway with style code M2002RZZ in [[colorways]]",
            id="rule-to-unknown-colorway",
        ),
        pytest.param(
            BASE + '\n[alerts]\nchannels = [{ name = "hook", url = "json://h/x", timeout = 0 }]\n',
            "alerts.channels[0].timeout: 0s is out of range",
            id="channel-timeout-zero",
        ),
        pytest.param(
            'database_url = "mysql://root:hunter2@db/tracker"\n' + BASE,
            "database_url: mysql://root:***@db/tracker: only SQLite and PostgreSQL are supported",
            id="database-url-other-database",
        ),
        pytest.param(
            'database_url = "not a url"\n' + BASE,
            "database_url: not a database URL",
            id="database-url-not-a-url",
        ),
        pytest.param(
            'database_url = "postgresql+asyncpg://u:hunter2@db/tracker"\n' + BASE,
            "database_url: postgresql+asyncpg://u:***@db/tracker: the driver 'asyncpg' is not available",
            id="database-url-driver-missing",
        ),
        pytest.param(
            BASE + '\n[[colorways]]\nname = "Again"\nstyle_code = "m2002rdb"\n',
            "colorways[1].style_code: duplicate style code M2002RDB (also colorways[0])",
            id="duplicate-style-code",
        ),
        pytest.param(
            BASE.replace("https://shop.example", "shop.example"),
            "sources[0].url: 'shop.example' is not an http(s) URL",
            id="malformed-url",
        ),
        pytest.param(
            BASE.replace("https://shop.example", "javascript:alert(1)"),
            "sources[0].url: 'javascript:alert(1)' is not an http(s) URL",
            id="non-http-url",
        ),
        pytest.param(
            BASE.replace("USD = 150", "usd = -3"),
            "colorways[0].list_price: -3 is not a positive amount",
            id="negative-price",
        ),
        pytest.param(
            BASE.replace("USD = 150", "DOLLARS = 150"),
            "colorways[0].list_price: 'DOLLARS' is not an ISO 4217",
            id="bad-currency",
        ),
        pytest.param(
            BASE.replace("USD = 150", "XYZ = 150"),
            "colorways[0].list_price: 'XYZ' is not an ISO 4217",
            id="three-letters-that-are-no-currency",
        ),
        pytest.param(
            BASE.replace('kind = "shopify"', 'kind = "shopify"\ncurrency = "QQQ"'),
            "sources[0].currency: 'QQQ' is not an ISO 4217",
            id="source-currency-not-iso",
        ),
        pytest.param(
            'locale = "xx_YY"\n' + BASE,
            "locale: 'xx_YY' is not a locale",
            id="bad-locale",
        ),
        pytest.param(
            'timezone = "Mars/Olympus"\n' + BASE,
            "timezone: 'Mars/Olympus' is not a time zone",
            id="bad-timezone",
        ),
        pytest.param(
            BASE.replace('kind = "shopify"', 'kind = "shopfy"'),
            "sources[0].kind: 'shopfy' is not one of",
            id="unknown-kind",
        ),
        pytest.param(BASE + "\n[defaults\n", "not valid TOML", id="broken-toml"),
        pytest.param(
            BASE + '\n[alerts]\n[[alerts.rules]]\non = ["restock"]\nchannels = ["phone"]\n',
            "alerts.rules[0].channels: no channel named 'phone'",
            id="rule-to-missing-channel",
        ),
        pytest.param(
            BASE + '\n[[sources]]\nname = "Shop"\nkind = "page"\nurl = "https://b.example/p"\n',
            "sources[1].name: duplicate source name 'Shop'",
            id="duplicate-source",
        ),
    ],
)
def test_errors_name_the_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text(text, "config.toml")
    message = str(info.value)
    assert message.startswith("config.toml: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_money_is_decimal_not_float() -> None:
    config = parse_text(BASE.replace("USD = 150", "USD = 129.99"))
    assert config.colorways[0].list_price["USD"] == Decimal("129.99")


def test_save_is_atomic_and_validates_first(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE, encoding="utf-8")
    with pytest.raises(ConfigError):
        save_text(path, BASE + "\nbogus = true\n")
    assert path.read_text(encoding="utf-8") == BASE
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
    save_text(path, "# kept\n" + BASE)
    assert path.read_text(encoding="utf-8").startswith("# kept\n")


def test_database_url_from_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = parse_text(BASE)
    assert config.effective_database_url(base=tmp_path) == f"sqlite:///{tmp_path}/data/tracker.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert config.effective_database_url(base=tmp_path) == "postgresql+psycopg://u@h/db"
