"""The demo as the README's first command starts it (`tracker demo`), watched in Chromium: its scripted
alerts reach the inbox, a toast (and the browser's own notification) appears on the open page without
a reload, and the unread count in the navigation goes down when a message is read."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Stands in for the browser's Notification API, granted: records what the page asks it to show.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = function (title, options) {
  window.__notifications.push({title: title, body: (options || {}).body || ""});
};
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
"""
SCRIPTED = {"price_drop", "sold_out", "restock", "new_colorway", "release_announced"}


@dataclass(frozen=True)
class Demo:
    base: str
    database: Path
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    env.pop("TRACKER_DASHBOARD_PASSWORD", None)
    log = (tmp_path / "demo.log").open("wb")
    # What scripts/run.sh runs, with a free port and a slower timeline: 15 s between steps.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker.cli",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--step-seconds",
            "150",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "demo.log").read_text()
        try:
            return httpx.get(base + "/_stcore/health", timeout=2).text.strip() == "ok"
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 90, "the demo's dashboard")
        yield Demo(base, tmp_path / "tracker.db", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _inbox(database: Path) -> list[tuple[int, str, str, object]]:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, kind, body, read_at FROM inbox_messages ORDER BY id"))
            return [(r[0], r[1], r[2], r[3]) for r in rows]
    except sa.exc.OperationalError:  # not migrated yet
        return []
    finally:
        engine.dispose()


def _nav_count(page: Any) -> int:
    label = page.locator('[data-testid="stSidebarNav"] a', has_text="Inbox").first.inner_text()
    match = re.search(r"Inbox \((\d+)\)", label)
    return int(match.group(1)) if match else 0


def test_demo_alerts_pop_up_on_the_open_page_and_wait_in_the_inbox(demo: Demo) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_init_script(RECORD_NOTIFICATIONS)
            page = context.new_page()
            page.goto(demo.base + "/", wait_until="domcontentloaded")
            page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=60_000)
            page.evaluate("window.__loaded_once = true")
            assert not any(kind == "price_drop" for _, kind, _, _ in _inbox(demo.database)), (
                "the markdown came before the page was open: the test cannot see its toast"
            )

            # The markdown: a toast on the open overview, then the browser's own notification.
            toast = page.locator('[data-testid="stToast"]', has_text="$119.99")
            toast.wait_for(timeout=90_000)
            assert "Phantom" in toast.inner_text() and "dropped to $119.99" in toast.inner_text()
            assert page.evaluate("window.__loaded_once === true"), "the page was reloaded"
            notes = page.evaluate("window.__notifications")
            assert any("$119.99" in n["body"] and n["title"].startswith("Price drop") for n in notes), notes

            # The rest of the timeline reaches the inbox, each alert once.
            wait_for(
                lambda: {k for _, k, _, _ in _inbox(demo.database)} >= SCRIPTED, 150, "the scripted alerts"
            )
            messages = _inbox(demo.database)
            drops = [body for _, kind, body, _ in messages if kind == "price_drop"]
            assert len(drops) == 1 and drops[0].startswith(
                "Protection Pack Phantom (M2002RDB) dropped to $119.99"
            )
            assert "now below list price" in drops[0]
            assert len({body for _, _, body, _ in messages}) == len(messages)
            wait_for(lambda: _nav_count(page) >= len(messages), 30, "the unread count in the navigation")

            # On the Inbox page, reading a message takes the count down.
            page.locator('[data-testid="stSidebarNav"] a', has_text="Inbox").first.click()
            page.get_by_role("heading", name="Inbox").wait_for(timeout=30_000)
            newest = max(i for i, _, _, _ in _inbox(demo.database))
            before = _nav_count(page)
            page.get_by_role("button", name="Mark read").first.click()

            def settled() -> bool:
                now = _inbox(demo.database)
                unread = sum(1 for *_, read_at in now if read_at is None)
                return (
                    sum(1 for *_, read_at in now if read_at is not None) == 1 and _nav_count(page) == unread
                )

            wait_for(settled, 30, "the count after reading one message")
            arrived = sum(1 for i, *_ in _inbox(demo.database) if i > newest)
            assert _nav_count(page) == before - 1 + arrived
        finally:
            browser.close()
