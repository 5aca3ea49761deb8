"""One tracker per database: a second `tracker run` on the same SQLite file or PostgreSQL database
refuses with one line naming who holds it; the lock goes with the process however it ends."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.procs import Tracker, run_once
from tests.servers import PageServer, product_page
from tracker.instance import InstanceBusy, acquire, lock_key


def _config(path: Path, page_url: str) -> Path:
    path.write_text(
        f"""database_url = "sqlite:///data/tracker.db"
[defaults]
interval = "1h"
respect_robots = false
[[sources]]
name = "Shop"
kind = "page"
url = "{page_url}"
""",
        encoding="utf-8",
    )
    return path


def test_a_second_tracker_run_on_one_sqlite_database_refuses_naming_the_first(tmp_path: Path) -> None:
    with PageServer() as server:
        config = _config(tmp_path / "config.toml", server.set("/p/m2002rdb", product_page("150.00")))
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'tracker.db'}"}
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "first.log", extra_env=env) as first:
            first.wait_for("Shop: ok")
            code, err = run_once(config, ["run", "--no-dashboard"], **env)
            assert code == 2
            lines = err.strip().splitlines()
            assert len(lines) == 1, err
            assert lines[0].startswith("error: another tracker run is using "), err
            held = re.search(r"\(host (\S+), pid (\d+), since (\d{4}-\d\d-\d\d [\d:]{8}) UTC\)", lines[0])
            assert held is not None, err
            assert held.group(1) == socket.gethostname()
            assert int(held.group(2)) == first.proc.pid
            # The first one was not disturbed, and its shop was asked once, not twice.
            assert first.proc.poll() is None
            assert server.hits["/p/m2002rdb"] == 1
            assert first.stop() == 0
        # Once it stopped, a new one starts.
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "2.log", extra_env=env) as second:
            second.wait_for("Shop: ok")
            assert second.stop() == 0


def test_a_second_tracker_run_on_postgres_stands_by(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL `tracker run` is a clock and a worker: a second one waits as a standby clock
    (leader election) instead of being refused, and the shop is still asked once per interval."""
    with PageServer() as server:
        config = _config(tmp_path / "config.toml", server.set("/p/m2002rdb", product_page("150.00")))
        env = {"DATABASE_URL": pg_url}
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "first.log", extra_env=env) as first:
            first.wait_for("Shop: ok")
            first.wait_for("is leading")
            with Tracker(
                config, ["run", "--no-dashboard"], log=tmp_path / "second.log", extra_env=env
            ) as second:
                second.wait_for("started (standby until it holds the lead)")
                # Give the standby's worker time to poll the queue: nothing is due, so nothing runs.
                time.sleep(3)
                assert "is leading" not in second.text()
                assert "another tracker run" not in second.text()
                assert second.proc.poll() is None
                assert second.stop() == 0
            assert first.proc.poll() is None
            assert server.hits["/p/m2002rdb"] == 1
            assert first.stop() == 0


def test_a_killed_tracker_leaves_no_stale_lock(tmp_path: Path) -> None:
    with PageServer() as server:
        config = _config(tmp_path / "config.toml", server.set("/p/m2002rdb", product_page("150.00")))
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "first.log") as first:
            first.wait_for("Shop: ok")
            os.kill(first.proc.pid, signal.SIGKILL)
            first.proc.wait()
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "second.log") as second:
            second.wait_for("Shop: ok")
            assert second.stop() == 0


def test_sqlite_lock_in_one_process_and_its_release(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    with acquire(url):
        with pytest.raises(InstanceBusy) as busy:
            acquire(url)
        assert busy.value.holder.pid == os.getpid()
        assert (tmp_path / "tracker.db.lock").exists()
    with acquire(url):
        pass


def test_postgres_lock_in_one_process_and_its_release(pg_url: str) -> None:
    with acquire(pg_url):
        with pytest.raises(InstanceBusy) as busy:
            acquire(pg_url)
        assert busy.value.holder.pid == os.getpid()
        assert busy.value.holder.host == socket.gethostname()
        assert busy.value.holder.since is not None
        # Another purpose (several workers on purpose) is not held by this one.
        with acquire(pg_url, purpose="tracker scheduler"):
            pass
    with acquire(pg_url):
        pass


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    assert lock_key("tracker run") == lock_key("tracker run") != lock_key("tracker scheduler")
    assert -(2**63) <= lock_key("tracker run") < 2**63
