"""Real `tracker` processes for tests: start one with its log in a file, wait for lines, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKER = [sys.executable, "-m", "tracker.cli"]
# Run as root without the power to ignore file permissions, so a read-only file is read-only.
NO_DAC_OVERRIDE = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def env(**extra: str) -> dict[str, str]:
    """The test environment with the project importable and the given variables set."""
    out = dict(os.environ, PYTHONPATH=str(ROOT))
    out.update(extra)
    return out


class Tracker:
    """One `tracker` command running in the background, its output going to a log file."""

    def __init__(
        self,
        config: Path,
        args: Sequence[str],
        *,
        log: Path,
        prefix: Sequence[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*prefix, *TRACKER, "--config", str(config), *args],
                cwd=config.parent,
                env=env(**(extra_env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str | Callable[[], bool], *, deadline: float = 60.0) -> None:
        """Poll until the log contains `what` (or `what()` is true); fail with the log if not."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            done = what() if callable(what) else what in self.text()
            if done:
                return
            if self.proc.poll() is not None and not callable(what):
                break
            time.sleep(0.1)
        raise AssertionError(f"gave up waiting for {what!r}; log:\n{self.text()}")

    def stop(self, *, timeout: float = 30.0) -> int:
        """SIGINT, as Ctrl+C would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not stop on SIGINT; log:\n{self.text()}") from None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_once(
    config: Path, args: Sequence[str], *, prefix: Sequence[str] = (), **extra: str
) -> tuple[int, str]:
    """Run a tracker command to its end: (exit code, stderr)."""
    done = subprocess.run(
        [*prefix, *TRACKER, "--config", str(config), *args],
        cwd=config.parent,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stderr
