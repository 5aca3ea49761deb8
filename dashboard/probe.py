"""The shop probe for the Shops page: `tracker add URL --json` run as its own process.

The probe fetches politely (robots.txt, delays, backoff) and may start headless Chromium; running
it as a child process keeps the fetcher and the browser out of the dashboard's server (the import
contracts forbid the dashboard the fetcher), and the page shows exactly what the command prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROBE_TIMEOUT = 180.0  # seconds: a Shopify catalogue's pages, or a page rendered in Chromium
_ROOT = str(Path(__file__).resolve().parent.parent)


def run_probe(
    config_path: Path, url: str, name: str | None = None, currency: str | None = None
) -> dict[str, Any]:
    """What `tracker add` finds at url, as its JSON; a failed command is a problem of the same shape."""
    config_path = config_path.resolve()
    command = [sys.executable, "-m", "tracker.cli", "--config", str(config_path), "add", url, "--json"]
    if name:
        command += ["--name", name]
    if currency:
        command += ["--currency", currency]
    env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(
            command,
            check=False,  # exit code 1 (cannot be tracked) still prints the probe
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env=env,
            cwd=config_path.parent,
        )
    except subprocess.TimeoutExpired:
        return _problem(url, f"The probe took longer than {PROBE_TIMEOUT:.0f} s and was stopped.")
    try:
        found = json.loads(proc.stdout)
    except ValueError:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        return _problem(url, lines[-1] if lines else f"The probe failed (exit code {proc.returncode}).")
    if not isinstance(found, dict):
        return _problem(url, "The probe answered something unexpected.")
    return found


def _problem(url: str, reason: str) -> dict[str, Any]:
    return {"url": url, "kind": None, "problem": "error", "reason": reason, "products": [], "releases": []}
