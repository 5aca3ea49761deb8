"""Signing in to the dashboard in Chromium: a bookmarked page on a fresh server shows the sign-in or
the config error, and wrong passwords back off, then lock the address out."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bench.pages import ARGS, CHROMIUM, chromium
from dashboard.serve import command
from tests.browser_support import BROWSER, free_port, served, stop
from tests.seed import seed, sqlite_engine, write_config

pytestmark = BROWSER


def test_a_bookmarked_page_shows_the_sign_in_or_the_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deep link to a fresh server never lands on a blank page: the password form, or the error
    naming the config key (unauthenticated visitors see only the form, never the error)."""
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)

    def first_visit(path: str, wanted: str) -> str:
        for base in served(config):
            with chromium() as browser:
                page = browser.new_page()
                page.goto(f"{base}/{path}")
                page.locator(wanted).first.wait_for(timeout=30_000)
                return str(page.content())
        raise AssertionError("the server did not start")

    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    html = first_visit("colorway", "input[type=password]")
    assert "Protection Pack" not in html

    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD")
    config.write_text("colour = 'grey'\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    html = first_visit("health", "text=colour: unknown key")
    assert "Protection Pack" not in html


def _serve_logged(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The dashboard server as `tracker dashboard` starts it, with its log kept in a file."""
    env = dict(os.environ, TRACKER_CONFIG=str(config), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(config, "127.0.0.1", port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text.strip() == "ok":
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the dashboard did not start: {log.read_text()}")


def test_wrong_passwords_back_off_then_lock_the_address_out_even_for_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[dashboard]\nlockout_after = 4\nlockout = "1m"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    port = free_port()
    log = tmp_path / "dashboard.log"
    proc = _serve_logged(config, port, log)
    requests: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")

            def submit(password: str) -> str:
                """Type a password, press Sign in, return the message the page then shows."""
                field = page.locator("input[type=password]")
                field.wait_for(timeout=30_000)
                field.fill(password)
                page.get_by_role("button", name="Sign in").click()
                alert = page.locator("[data-testid=stAlertContentError]").last
                alert.wait_for(timeout=30_000)
                text = alert.inner_text()
                # Wait for the next answer to replace this one before the next try.
                page.wait_for_function(
                    "t => !document.querySelector('[data-testid=stStatusWidget]')", arg=None, timeout=30_000
                )
                return text

            seen = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                seen.append(submit("wrong guess"))
                if "locked" in seen[-1]:
                    break
            assert seen[0] == "Wrong password.", seen
            assert "locked for 1 min" in seen[-1], seen
            # Locked: the right password is refused too, and nothing of the dashboard is shown.
            assert "locked" in submit("open sesame")
            assert page.locator("input[type=password]").is_visible()
            assert "Protection Pack" not in page.content()
            browser.close()
    finally:
        stop(proc)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "dashboard sign-in locked for localhost for 1 min after 4 wrong passwords in a row" in text, text
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")]


def test_a_signed_in_page_shows_new_alerts_and_sends_nothing_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a password set, the open page's inbox watcher asks /api/v1/inbox with the read-only token
    (the page is signed in; the API knows no session): a stored message pops up as a toast and in the
    navigation's count, on a phone too, where the sidebar is collapsed. Between messages the page
    sends nothing over its websocket: no script runs on the server, nothing is drawn again in the
    browser."""
    from sqlmodel import Session

    from db.models import InboxMessage

    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    config = write_config(tmp_path / "config.toml", url)
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    asked: list[int] = []
    sent: list[float] = []
    try:
        for base in served(config):
            with chromium() as browser:
                # A phone's width: the sidebar, where the watcher lives, starts collapsed.
                page = browser.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)
                page.on(
                    "response",
                    lambda r: asked.append(r.status) if urlsplit(r.url).path == "/api/v1/inbox" else None,
                )
                page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(time.monotonic())))
                page.goto(f"{base}/", wait_until="domcontentloaded")
                page.locator("input[type=password]").fill("open sesame")
                page.get_by_role("button", name="Sign in").click()
                page.locator("[data-testid=stSidebarNav]").wait_for(state="attached", timeout=60_000)
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000
                )
                deadline = time.monotonic() + 30
                while len(asked) < 3 and time.monotonic() < deadline:
                    page.wait_for_timeout(200)
                assert len(asked) >= 3 and set(asked) <= {200, 304}, asked
                # Quiet: two more rounds of asking, and not one frame to the server.
                quiet_from = time.monotonic()
                page.wait_for_timeout(4_500)
                quiet_until = time.monotonic()
                assert [t for t in sent if t > quiet_from] == [], "the idle page talked to the server"

                with Session(engine) as session:
                    session.add(
                        InboxMessage(
                            key="test:1",
                            channel="inbox",
                            kind="restock",
                            title="2002R tracker",
                            body="Protection Pack Rain Cloud is back in stock at Kith: sizes 10",
                        )
                    )
                    session.commit()
                toast = page.locator("[data-testid=stToast]", has_text="back in stock at Kith")
                toast.wait_for(timeout=30_000)
                nav = page.locator("[data-testid=stSidebarNav] a", has_text="Inbox (1)")
                nav.wait_for(state="attached", timeout=30_000)
                # The message made the page ask for one run of the app (so the listener hears frames).
                assert [t for t in sent if t > quiet_until]
                assert "open sesame" not in page.content()

                # Still signed in, the Releases page's calendar link downloads /calendar.ics with the
                # read-only token.
                page.evaluate(
                    "() => document.querySelector('[data-testid=stSidebarNav] a[href$=\"releases\"]').click()"
                )
                link = page.get_by_text("Download the calendar (.ics)")
                link.wait_for(timeout=30_000)
                with page.expect_download(timeout=30_000) as download:
                    link.click()
                assert urlsplit(download.value.url).path == "/calendar.ics"
                assert "token=" in download.value.url
                calendar = Path(download.value.path()).read_text(encoding="utf-8")
                assert calendar.startswith("BEGIN:VCALENDAR") and "Sea Salt" in calendar
    finally:
        engine.dispose()
