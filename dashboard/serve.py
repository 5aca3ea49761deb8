"""Start the dashboard's server process (pages, calendar, feeds, API) and wait until it answers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

# The ASGI app serving the pages (app.py) and the extra routes; `streamlit run` finds and serves it.
APP = Path(__file__).resolve().parent / "server.py"
READY_DEADLINE = 30.0


def command(config_path: Path, host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The argv that serves the dashboard (config_path is passed through TRACKER_CONFIG)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        # No "Deploy" button or developer menu: this is an app for its user, not a script to edit.
        "--client.toolbarMode=viewer",
        # Streamlit runs a full garbage collection after every run of a page (and, before the inbox
        # was watched from the browser, of a sidebar fragment every 2 s). With a year of prices in
        # the caches each holds the interpreter for 0.15-0.35 s, while the finished page waits to be
        # sent and no other request is answered. On
        # the year database (bench/bench_dashboard.py) a colorway page's run took 300 ms over the
        # websocket with it and 110 ms without, one idle open tab cost the server 10 % of a core
        # instead of 1 %, and the server's memory stayed the same. Python's own collector still runs.
        "--runner.postScriptGC=false",
    ]


def warm_up(base_url: str, env: dict[str, str], *, wait: bool = False) -> subprocess.Popen[bytes]:
    """Run the dashboard's pages once in the background (python -m dashboard.warm), so that the first
    visitor does not pay for imports, migrations and empty caches; wait for it when asked."""
    warmer = subprocess.Popen([sys.executable, "-m", "dashboard.warm", base_url], env=env)
    if wait:
        warmer.wait()
    else:
        threading.Thread(target=warmer.wait, name="dashboard-warm-up", daemon=True).start()
    return warmer


def serve(config_path: Path, host: str, port: int, *, wait_warm: bool = False) -> subprocess.Popen[bytes]:
    """Start the server with TRACKER_CONFIG set; return once /_stcore/health answers ok, with its pages
    warming up in the background (or warmed, with wait_warm)."""
    env = dict(os.environ, TRACKER_CONFIG=str(Path(config_path).resolve()))
    root = str(APP.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(command(config_path, host, port), env=env)
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host  # noqa: S104
    url = f"http://{probe_host}:{port}/_stcore/health"
    deadline = time.monotonic() + READY_DEADLINE
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with status {proc.returncode} before it was ready")
            try:
                if httpx.get(url, timeout=2).text.strip() == "ok":
                    warm_up(f"http://{probe_host}:{port}", env, wait=wait_warm)
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling a condition with a deadline, not waiting for luck
    except KeyboardInterrupt:
        # Stopped while starting: do not leave the server running on its own.
        proc.terminate()
        proc.wait(10)
        raise
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    raise RuntimeError(f"the dashboard did not answer on {url} within {READY_DEADLINE:.0f} s")
