"""Seconds from an observed change to the toast in an open dashboard, over 20 changes in the demo.

Runs the demo store on a clock this script moves, `tracker run` on the demo's config (inbox channel,
checks every 5 s, price rises alerted too, no debounce so every change alerts), and Chromium on the
dashboard's overview. Each change flips the Phantom markdown on or off; for each it reports:

- observed -> toast: from the check that saw the change (the event's time) to the toast on the page,
- stored -> toast: from the inbox row being written to the toast (the page's share alone),
- change -> toast: from the store changing to the toast (adds the wait for the next check).

    python -m bench.bench_toast [--changes 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tracker.demo import DemoStore, ManualClock, demo_config_text

ROOT = Path(__file__).resolve().parent.parent
WATCH_TOASTS = """
window.__toasts = [];
new MutationObserver(function () {
  document.querySelectorAll('[data-testid="stToast"]').forEach(function (el) {
    var text = el.innerText;
    if (el.__text !== text) { el.__text = text; window.__toasts.push({t: Date.now() / 1000, text: text}); }
  });
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _newest(engine: sa.Engine, after: int) -> tuple[int, datetime, datetime, str] | None:
    query = sa.text(
        "SELECT m.id, m.created_at, e.created_at, m.body FROM inbox_messages m "
        "JOIN events e ON e.id = m.event_id WHERE m.id > :after ORDER BY m.id LIMIT 1"
    )
    with engine.connect() as conn:
        row = conn.execute(query, {"after": after}).first()
    if row is None:
        return None
    stored = datetime.fromisoformat(str(row[1])).replace(tzinfo=UTC)
    observed = datetime.fromisoformat(str(row[2])).replace(tzinfo=UTC)
    return int(row[0]), stored, observed, str(row[3]).splitlines()[0]


def _config(base: str, tmp: Path) -> Path:
    text = demo_config_text(base, data_dir=".", interval="5s", inbox=True)
    text = text.replace('debounce = "5s"', 'debounce = "0s"') + '\n[[alerts.rules]]\non = ["price_rise"]\n'
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    """Run the demo, flip the markdown, time the toasts, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-toast-"))
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    base = store.start()
    config = _config(base, tmp)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    env.pop("TRACKER_DASHBOARD_PASSWORD", None)
    log = (tmp / "tracker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "run", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = sa.create_engine(f"sqlite:///{tmp / 'tracker.db'}")
    rows: list[tuple[float, float, float]] = []
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url + "/_stcore/health", timeout=2).text.strip() == "ok"
            except httpx.HTTPError:
                return False

        _wait(healthy, 90, "the dashboard")
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
            )
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_init_script(WATCH_TOASTS)
            page = context.new_page()
            page.goto(url + "/", wait_until="domcontentloaded")
            page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=60_000)

            def baseline_done() -> bool:
                with engine.connect() as conn:
                    return bool(conn.execute(sa.text("SELECT count(*) FROM observations")).scalar())

            _wait(baseline_done, 60, "the baseline check")
            last = 0
            for i in range(args.changes):
                clock.set_step(1 if i % 2 == 0 else 0)
                changed_at = time.time()
                found = _wait(lambda after=last: _newest(engine, after), 60, f"change {i + 1} in the inbox")
                last, stored, observed, headline = found
                # The toast shows the headline, cut short on narrow toasts: match its start.
                key = headline[:40]

                def toast(key: str = key, since: float = changed_at) -> Any:
                    seen = page.evaluate("window.__toasts")
                    return next((s["t"] for s in seen if s["t"] >= since and key in s["text"]), None)

                shown = _wait(toast, 60, f"the toast of change {i + 1}")
                rows.append((shown - observed.timestamp(), shown - stored.timestamp(), shown - changed_at))
                print(
                    f"change {i + 1:>2}: observed->toast {rows[-1][0]:.2f} s, "
                    f"stored->toast {rows[-1][1]:.2f} s, change->toast {rows[-1][2]:.2f} s ({headline[:50]})",
                    flush=True,
                )
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        store.stop()
        engine.dispose()
    for label, index in (("observed -> toast", 0), ("stored -> toast", 1), ("change -> toast", 2)):
        values = [r[index] for r in rows]
        print(
            f"{label:<18} median {statistics.median(values):.2f} s, p95 {_p95(values):.2f} s"
            f" over {len(values)} changes"
        )


if __name__ == "__main__":
    main()
