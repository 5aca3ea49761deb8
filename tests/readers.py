"""Reader functions for the page pool's tests: importable in a worker process without pytest."""

from __future__ import annotations

import os
import time


def sleepy(seconds: float) -> str:
    """Takes as long as it is told."""
    time.sleep(seconds)
    return "done"


def pid() -> int:
    """The worker's process id."""
    return os.getpid()


def recurse() -> None:
    """Fails the way a deeply nested page used to."""
    raise RecursionError("maximum recursion depth exceeded")


def loaded(names: list[str]) -> list[str]:
    """Which of these modules the worker has imported."""
    import sys

    return [name for name in names if name in sys.modules]
