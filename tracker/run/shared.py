"""What every process of the multi-machine mode agrees on: the config, and the database's clock.

The config
    config.toml is published into the database (``config_versions``) by the clocks: at start when
    the database has none, or when their file is newer than the last published one, and within
    ``WATCH_EVERY`` seconds of every edit of the file (by hand or from the dashboard's watchlist).
    Workers never read a file: they act on the version the leading clock has applied (its
    catalogue rows written), load a newer one before running any job deferred under it, and look
    for one every ``REFRESH_EVERY`` seconds.
    `${VAR}` in alert channel URLs is expanded on each machine from its own environment.

The clock
    Every time written by a worker (observations, runs, events, alert claims) is the machine's
    clock corrected by its measured offset to PostgreSQL's ``clock_timestamp()``, so a machine
    whose clock is wrong still writes times in the order they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from db import workers as wdb
from tracker.config import Config, parse_text
from tracker.errors import ConfigError

log = logging.getLogger("tracker")

WATCH_EVERY = 5.0  # seconds between two looks at a clock's config.toml
REFRESH_EVERY = 5.0  # seconds between two looks for a newer published config


class DbClock:
    """This machine's clock, corrected to PostgreSQL's: the time every process writes."""

    def __init__(self, local: Callable[[], float] = time.time) -> None:
        self.local = local  # this machine's clock, in epoch seconds
        self.offset = timedelta(0)
        self.measured = False

    def measure(self, engine: Engine) -> float:
        """Measure the offset to the database's clock (half the round trip is the error); ms."""
        with engine.connect() as conn:
            before = self.local()
            now = wdb.db_now(conn)
            after = self.local()
        local = datetime.fromtimestamp((before + after) / 2, UTC)
        self.offset = now - local
        self.measured = True
        return self.offset.total_seconds() * 1000

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.local(), UTC) + self.offset


class SharedConfig:
    """The config as last published in the database; clocks publish their file's edits."""

    def __init__(self, engine: Engine, *, path: Path | None = None, origin: str = "") -> None:
        self.engine = engine
        self.path = path
        self.origin = origin
        self.version = 0
        self.config: Config | None = None
        self._stamp: tuple[int, int] | None = None

    # -- reading ---------------------------------------------------------------------------

    def refresh(self, *, upto: int | None = None) -> bool:
        """Load the last published config (up to a version) if newer than ours; True when it changed."""
        with self.engine.connect() as conn:
            if min(wdb.latest_config_version(conn), upto or 2**62) <= self.version:
                return False
            latest = wdb.latest_config(conn, upto=upto)
        if latest is None or latest.version <= self.version:
            return False
        try:
            config = parse_text(latest.body, f"config version {latest.version} (from {latest.origin})")
        except ConfigError as exc:
            # Published by a newer or older tracker that reads it differently: keep ours.
            log.error("published config not applied, the running one is kept: %s", exc)
            self.version = latest.version
            return False
        self.config, self.version = config, latest.version
        log.info("config version %d applied (published by %s)", latest.version, latest.origin)
        return True

    def ensure(self, version: int) -> bool:
        """Make sure the config is at least `version` (a job deferred under it); True when reloaded."""
        return version > self.version and self.refresh(upto=version)

    def follow(self) -> bool:
        """Workers: move to the version the leading clock has applied (its catalogue is in the
        database by then); True when it changed."""
        with self.engine.connect() as conn:
            applied = wdb.applied_config_version(conn)
        return applied > self.version and self.refresh(upto=applied)

    # -- publishing (clocks) ------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _publish_file(self) -> bool:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
            parse_text(text, str(self.path))
        except (OSError, UnicodeDecodeError) as exc:
            log.error("%s not published: cannot read it: %s", self.path, exc)
            return False
        except ConfigError as exc:
            log.error("config not published, the running one is kept: %s", exc)
            return False
        with self.engine.begin() as conn:
            published = wdb.publish_config(conn, text, self.origin)
        if published.version > self.version:
            log.info("%s published as config version %d", self.path, published.version)
        return True

    def publish_at_start(self) -> None:
        """Publish our file when the database has no config, or when our file was edited after the
        last one was published (a clock started with an older copy does not overwrite a newer one)."""
        if self.path is None:
            return
        self._stamp = self._file_stamp()
        with self.engine.connect() as conn:
            latest = wdb.latest_config(conn)
        mtime = self._stamp[0] / 1e9 if self._stamp else 0.0
        if latest is None or mtime > latest.published_at.timestamp():
            self._publish_file()
        elif latest.digest != _file_digest(self.path):
            log.warning(
                "%s differs from config version %d published by %s at %s: acting on the published one"
                " (edit the file to publish it)",
                self.path,
                latest.version,
                latest.origin,
                latest.published_at.isoformat(timespec="seconds"),
            )
        self.refresh()

    def publish_if_edited(self) -> bool:
        """Publish the file when it changed since we last looked; True when a version was published."""
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return self._publish_file()


def _file_digest(path: Path) -> str:
    try:
        return wdb.digest(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return ""


def process_name(explicit: str | None = None) -> str:
    """This process's name in the registry: --name, else host:pid."""
    return explicit or f"{os.uname().nodename}:{os.getpid()}"


async def nap(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
