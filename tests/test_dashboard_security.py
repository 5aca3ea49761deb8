"""Dashboard security: loopback by default, a password gate on everything, no secrets on any page or
in logs, scraped text shown as text, and only http(s) shop URLs accepted from the dashboard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.models import CheckRun, Colorway, Delivery, Event, InboxMessage, Listing, Observation, Source
from tests.seed import CONFIG_TEMPLATE, seed
from tracker.config import Config

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
TRACKER = [sys.executable, "-m", "tracker.cli"]
PAGES = [
    "views/overview.py",
    "views/colorway.py",
    "views/releases.py",
    "views/watchlist.py",
    "views/alerts.py",
    "views/inbox.py",
    "views/health.py",
]
HOSTILE = "<img src=x onerror=alert(1)>[click](javascript:alert(1))"
# A shop's name is the collector's own config text, but it travels into the chart's script too.
HOSTILE_SHOP = "</script><img src=x onerror=alert(5)><!--"
PASSWORD = "hunter2-Dashboard-Pass"
TOKEN = "tok3n-AbCdEf-123456"
HOOK_PASSWORD = "pa55w0rd-hook"
SECRETS = (PASSWORD, TOKEN, HOOK_PASSWORD, "secret-token")
CHANNELS = f"""
[[alerts.channels]]
name = "hook"
url = "json://alice:{HOOK_PASSWORD}@127.0.0.1:9/hook"

[[alerts.channels]]
name = "bot"
url = "tgram://{TOKEN}/987654"

[[alerts.rules]]
on = ["new_listing", "price_drop"]
"""


def _hostile_rows(url: str) -> None:
    """Shop-supplied text and URLs an attacker controls, and error texts holding channel secrets."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        kith = session.exec(select(Source).where(Source.name == "Kith")).one()
        rdb = session.exec(select(Colorway).where(Colorway.style_code == "M2002RDB")).one()
        listing = Listing(
            source_id=kith.id,
            colorway_id=rdb.id,
            external_id="hostile",
            url="javascript:alert(2)",
            image="javascript:alert(3)",
            title=HOSTILE,
            style_code="M2002RDB",
            first_seen_at=now - timedelta(days=1),
            last_checked_at=now,
        )
        session.add(listing)
        session.flush()
        run = CheckRun(
            source_id=kith.id,
            started_at=now - timedelta(minutes=1),
            finished_at=now,
            status="http_error",
            error=f"https://kith.example/p?access_token={TOKEN}: HTTP 401",
        )
        session.add(run)
        session.flush()
        obs = Observation(
            listing_id=listing.id,
            run_id=run.id,
            observed_at=now,
            price=None,
            currency=None,
            availability="InStock",
            sizes=[{"size": HOSTILE, "availability": "InStock", "price": None}],
        )
        session.add(obs)
        session.flush()
        listing.last_observation_id = obs.id
        event = Event(
            created_at=now,
            kind="new_listing",
            source_id=kith.id,
            listing_id=listing.id,
            colorway_id=rdb.id,
            observation_id=obs.id,
            message=f"New at Kith: {HOSTILE}",
            data={
                "shop": "Kith",
                "title": HOSTILE,
                "url": "javascript:alert(2)",
                "image": "javascript:alert(3)",
            },
        )
        session.add(event)
        session.flush()
        session.add(
            Delivery(
                event_id=event.id,
                channel="hook",
                status="failed",
                attempts=8,
                next_attempt_at=now,
                created_at=now,
                last_error=f"json://alice:{HOOK_PASSWORD}@127.0.0.1:9/hook refused; tgram://{TOKEN}/9",
            )
        )
        session.add(
            InboxMessage(
                key=f"{event.id}:inbox",
                channel="inbox",
                kind="new_listing",
                event_id=event.id,
                event_ids=[event.id],
                title=f"New listing: {HOSTILE}",
                body=f"New at Kith: {HOSTILE}\n\nShop: Kith",
                link="javascript:alert(2)",
                image="javascript:alert(3)",
                created_at=now,
            )
        )
        session.add_all([listing])
        # A shop whose name would end the chart's script, with a price on the chart.
        odd = Source(name=HOSTILE_SHOP, kind="shopify", url="https://odd.example/", last_status="ok")
        session.add(odd)
        session.flush()
        odd_run = CheckRun(
            source_id=odd.id, started_at=now - timedelta(hours=2), finished_at=now, status="ok"
        )
        odd_listing = Listing(
            source_id=odd.id,
            colorway_id=rdb.id,
            external_id="odd",
            url="https://odd.example/products/rdb",
            title="New Balance 2002R Protection Pack Phantom",
            style_code="M2002RDB",
            first_seen_at=now - timedelta(hours=2),
            last_checked_at=now,
        )
        session.add_all([odd_run, odd_listing])
        session.flush()
        odd_obs = Observation(
            listing_id=odd_listing.id,
            run_id=odd_run.id,
            observed_at=now - timedelta(hours=2),
            price=Decimal("142.00"),
            currency="USD",
            availability="InStock",
            sizes=[],
        )
        session.add(odd_obs)
        session.flush()
        odd_listing.last_observation_id = odd_obs.id
        session.commit()
    engine.dispose()


@pytest.fixture
def hostile_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = make_engine(url)
    seed(engine)
    engine.dispose()
    _hostile_rows(url)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_TEMPLATE.format(database_url=url) + CHANNELS, encoding="utf-8")
    monkeypatch.setenv("TRACKER_CONFIG", str(config))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD", raising=False)
    yield config


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def _elements(node: Any) -> Iterator[Any]:
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _elements(child)
    elif hasattr(node, "proto"):
        yield node


def _everything(at: AppTest) -> str:
    """Every element the page sent, as its protobuf text (table data included, as Arrow bytes)."""
    parts: list[str] = []
    for root in (at.main, at.sidebar):
        for element in _elements(root):
            parts.append(str(element.proto))
    return "\n".join(parts)


def _visit_all(at: AppTest) -> dict[str, str]:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {"app": _everything(at)}
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "views/colorway.py":
            # The colorway carrying the hostile listing.
            at.selectbox(key="colorway_choice").select("M2002RDB").run()
        shown[page] = _everything(at)
    return shown


def test_no_secret_on_any_page(hostile_config: Path) -> None:
    shown = _visit_all(_app())
    for page, text in shown.items():
        for secret in SECRETS:
            assert secret not in text, (page, secret)


def test_scraped_text_is_text_and_scraped_urls_are_never_links(hostile_config: Path) -> None:
    at = _app()
    shown = _visit_all(at)
    assert any("onerror" in text for text in shown.values()), "the hostile title is shown somewhere"
    for page, text in shown.items():
        # A javascript: URL from a shop is dropped, never offered as a link or an image.
        assert "alert(2)" not in text and "alert(3)" not in text, page
    at = _app()
    at.run()
    charts_seen = 0
    for page in PAGES:
        at.switch_page(page).run()
        if page == "views/colorway.py":
            at.selectbox(key="colorway_choice").select("M2002RDB").run()
        for element in _elements(at.main):
            proto = element.proto
            body = getattr(proto, "body", None)
            if not isinstance(body, str) or "onerror" not in body:
                continue
            if 'class="pc-chart"' in body:
                # The chart's data is JSON in a script: nothing in it can end the script or open a
                # tag, and the shop's name arrives whole, for the legend to write as text.
                assert "</script><img" not in body and "<!--" not in body, body[:300]
                start = body.index("previousElementSibling,") + len("previousElementSibling,")
                chart, _ = json.JSONDecoder().raw_decode(body[start:])
                assert HOSTILE_SHOP in [shop["name"] for shop in chart["shops"]]
                charts_seen += 1
                continue
            if hasattr(proto, "unsafe_allow_javascript"):
                # HTML the page draws itself (st.html): scraped and configured text arrives as text.
                assert HOSTILE not in body and HOSTILE_SHOP not in body, (page, body)
                soup = BeautifulSoup(body, "html.parser")
                assert not soup.find_all(attrs={"onerror": True}), page
                assert not soup.select('[href^="javascript"], [src^="javascript"]'), page
                continue
            # Markdown-capable text: the title must arrive escaped, with HTML off.
            assert HOSTILE not in body, (page, body)
            assert "](javascript" not in body and "<img" not in body, (page, body)
            assert not getattr(proto, "allow_html", False), page
    assert charts_seen == 1


def test_password_gate_serves_nothing_without_it(
    hostile_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", PASSWORD)
    at = _app()
    at.run()
    gate = _everything(at)
    for leak in ("Rain Cloud", "M2002RDA", "Kith", "onerror", "120", PASSWORD):
        assert leak not in gate, leak
    for page in PAGES:
        with pytest.raises(Exception):  # noqa: B017 (no page exists before sign-in)
            at.switch_page(page).run()
    at = _app()
    at.run()
    at.text_input(key="password_input").input(PASSWORD[:-1])
    at.button[0].click().run()
    assert "M2002RDA" not in _everything(at) and PASSWORD not in _everything(at)
    at.text_input(key="password_input").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert "M2002RDA" in _everything(at)
    assert PASSWORD not in _everything(at)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "ftp://shop.example/p",
        "//shop.example/p",
        "shop.example/p",
        " javascript:alert(1)",
    ],
)
def test_only_http_urls_can_be_added(hostile_config: Path, url: str) -> None:
    before = hostile_config.read_text(encoding="utf-8")
    at = _app()
    at.switch_page("views/shops.py").run()
    at.text_input(key="shop_name").input("Sneaky")
    at.text_input(key="shop_url").input(url)
    at.button(key="shop_probe").click().run()
    assert any("Only http" in e.value for e in at.error), url
    assert "shop_save" not in [b.key for b in at.button], url  # nothing to save without a probe
    assert hostile_config.read_text(encoding="utf-8") == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> set[str]:
    """Local addresses with a socket listening on port (from the kernel's tables)."""
    out: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, hex_port = address.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                out.add(host)
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's socket table")
def test_dashboard_listens_on_loopback_only_by_default(hostile_config: Path) -> None:
    from dashboard.serve import serve
    from tracker.config import load_config

    config = load_config(hostile_config)
    assert config.dashboard.host == Config().dashboard.host == "127.0.0.1"
    port = _free_port()
    # What `tracker run` and `tracker dashboard` do with no --host: the config's dashboard.host.
    proc = serve(hostile_config, config.dashboard.host, port)
    try:
        # 0100007F is 127.0.0.1 in the kernel's byte order: nothing listens on 0.0.0.0 or ::.
        assert _listening(port) == {"0100007F"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_secrets_stay_out_of_logs(hostile_config: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    runs = [
        [sys.executable, "-m", "tracker.cli", "--config", str(hostile_config), "--verbose", "alerts", "test"],
        [sys.executable, "-m", "tracker.cli", "--config", str(hostile_config), "alerts", "list"],
        [sys.executable, "-m", "tracker.cli", "--config", str(hostile_config), "alerts", "deliver", "--once"],
    ]
    for argv in runs:
        proc = subprocess.run(
            argv, cwd=hostile_config.parent, env=env, capture_output=True, timeout=120, check=False
        )
        output = proc.stdout + proc.stderr
        assert b"Traceback" not in output, output.decode(errors="replace")
        for secret in SECRETS:
            assert secret.encode() not in output, (argv[-2:], secret, output.decode(errors="replace"))


def _pids_serving(port: int) -> list[int]:
    """Processes whose command line serves this port (the port was free when the test chose it)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--server.port={port}".encode() in args:
            pids.append(int(cmdline.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's socket table")
def test_stopping_the_dashboard_command_stops_its_server(hostile_config: Path) -> None:
    import signal
    import time

    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TRACKER_DASHBOARD_PASSWORD", None)
    log = hostile_config.parent / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*TRACKER, "--config", str(hostile_config), "dashboard", "--port", str(port)],
            cwd=hostile_config.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while _listening(port) != {"0100007F"}:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # What a service manager does to stop it.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 20
        while _listening(port) or _pids_serving(port):
            assert time.monotonic() < deadline, "the dashboard server outlived the command"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _pids_serving(port):
            os.kill(pid, signal.SIGKILL)
    output = log.read_bytes()
    assert b"Traceback" not in output
    for secret in SECRETS:
        assert secret.encode() not in output
