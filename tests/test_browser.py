"""The dashboard served for real and driven by Chromium: the overview and a colorway chart render."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard.charts import LIST_PRICE_COLOR
from dashboard.serve import serve
from tests.seed import seed, sqlite_engine, write_config

pytestmark = pytest.mark.browser

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
OUT = Path(__file__).resolve().parent.parent / "test-output"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard on a free port over a seeded SQLite database."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    tmp = tmp_path_factory.mktemp("browser")
    url, engine = sqlite_engine(tmp)
    seed(engine)
    engine.dispose()
    config = write_config(tmp / "config.toml", url)
    port = _free_port()
    proc = serve(config, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _count_color(png: bytes, color: tuple[int, int, int], tolerance: int = 12) -> int:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    raw = image.tobytes()
    return sum(
        1
        for pixel in zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))
    )


def test_overview_and_colorway_chart_render(server: str) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(server + "/", wait_until="domcontentloaded")
            page.get_by_text("Protection Pack Rain Cloud").first.wait_for(state="attached", timeout=30_000)
            page.get_by_text("Discovered 2002R listings").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # let images and sparklines paint before the screenshot
            page.screenshot(path=str(OUT / "overview.png"), full_page=True)
            # The overview table is a canvas grid: the heading and the watched names must be there.
            assert page.get_by_role("heading", name="2002R overview").is_visible()

            started = time.monotonic()
            page.goto(server + "/colorway?style=M2002RDA", wait_until="domcontentloaded")
            chart = page.locator(".vega-embed canvas, .vega-embed svg").first
            chart.wait_for(timeout=30_000)
            render_seconds = time.monotonic() - started
            page.wait_for_timeout(1000)  # vega draws on the next frames after the canvas exists
            page.screenshot(path=str(OUT / "colorway.png"), full_page=True)
            shot = page.locator(".vega-embed").first.screenshot(path=str(OUT / "colorway-chart.png"))
            # The dashed list-price rule is drawn in its own colour: enough of it must be on the chart.
            assert _count_color(shot, _hex(LIST_PRICE_COLOR)) > 100
            assert page.get_by_text("Protection Pack Rain Cloud").first.is_visible()
            print(f"colorway page: chart rendered {render_seconds:.2f} s after navigation")

            for name in ("releases", "watchlist", "alerts", "health"):
                page.goto(f"{server}/{name}", wait_until="domcontentloaded")
                page.locator("h1").first.wait_for(timeout=30_000)
                page.wait_for_timeout(800)
                assert not page.locator(".stException").count()
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        finally:
            browser.close()


def test_a_bookmarked_page_shows_the_sign_in_or_the_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deep link to a fresh server never lands on a blank page: the password form, or the error
    naming the config key (unauthenticated visitors see only the form, never the error)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)

    def first_visit(path: str, wanted: str) -> str:
        port = _free_port()
        proc = serve(config, "127.0.0.1", port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/{path}")
                page.locator(wanted).first.wait_for(timeout=30_000)
                html = page.content()
                browser.close()
                return html
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    html = first_visit("colorway", "input[type=password]")
    assert "Protection Pack" not in html

    monkeypatch.delenv("TRACKER_DASHBOARD_PASSWORD")
    config.write_text("colour = 'grey'\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    html = first_visit("health", "text=colour: unknown key")
    assert "Protection Pack" not in html


def _serve_logged(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The dashboard server as `tracker dashboard` starts it, with its log kept in a file."""
    import os

    from dashboard.serve import command

    env = dict(os.environ, TRACKER_CONFIG=str(config), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(config, "127.0.0.1", port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    import httpx

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

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    url, engine = sqlite_engine(tmp_path)
    seed(engine)
    engine.dispose()
    config = write_config(tmp_path / "config.toml", url)
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[dashboard]\nlockout_after = 4\nlockout = "1m"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TRACKER_DASHBOARD_PASSWORD", "open sesame")
    port = _free_port()
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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "dashboard sign-in locked for localhost for 1 min after 4 wrong passwords in a row" in text, text
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")]


def test_the_calendar_downloads_from_the_page_itself_never_from_media(server: str) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{server}/releases", wait_until="domcontentloaded")
            link = page.get_by_text("Download the calendar (.ics)")
            link.wait_for(timeout=30_000)
            with page.expect_download(timeout=30_000) as download:
                link.click()
            saved = download.value.path()
            assert download.value.suggested_filename == "2002r-releases.ics"
            text = Path(saved).read_text(encoding="utf-8")
        finally:
            browser.close()
    assert text.startswith("BEGIN:VCALENDAR") and "END:VCALENDAR" in text
    # Streamlit serves /media/... to anyone with the address: the calendar never goes there.
    assert not [u for u in requests if urlsplit(u).path.startswith("/media/")], requests
