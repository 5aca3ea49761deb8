"""A sick database: full, read-only, unreachable or misnamed, with real processes and real files.

Each case is one line in the log or on stderr (never a traceback), checks back off while it lasts,
and the tracker records again by itself once the database can be written (no restart).
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.engine import make_engine
from db.models import CheckRun, Observation
from tests.procs import NO_DAC_OVERRIDE, Tracker, run_once
from tests.servers import PageServer, product_page


def _config(path: Path, db_url: str, page_url: str) -> Path:
    path.write_text(
        f"""database_url = "{db_url}"
[defaults]
interval = "1s"
jitter = "0s"
per_host_delay = "0s"
respect_robots = false

[[colorways]]
name = "Phantom"
style_code = "M2002RDB"
line = "Protection Pack"

[[sources]]
name = "Shop"
kind = "page"
url = "{page_url}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs to fill (needs root; skipped where mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _runs(engine: sa.Engine) -> list[CheckRun]:
    with Session(engine) as session:
        rows = list(session.exec(select(CheckRun).order_by(col(CheckRun.id))).all())
        for row in rows:
            session.expunge(row)
        return rows


def _prices(engine: sa.Engine) -> list[Decimal | None]:
    with Session(engine) as session:
        return [o.price for o in session.exec(select(Observation).order_by(col(Observation.id))).all()]




def _recovered(text: str) -> bool:
    """The log's last word on storage is that writes work again, and a check was recorded after it."""
    lines = text.splitlines()
    waits = [i for i, line in enumerate(lines) if "checks wait" in line]
    again = [i for i, line in enumerate(lines) if "the database can be written again" in line]
    if not again or (waits and waits[-1] > again[-1]):
        return False
    return any("Shop: ok" in line for line in lines[again[-1] :])
def test_a_full_disk_is_one_line_backed_off_and_recovered_from_without_a_restart(
    small_disk: Path, tmp_path: Path
) -> None:
    with PageServer() as server:
        url = server.set("/p/m2002rdb", product_page("150.00"))
        db = small_disk / "tracker.db"
        config = _config(tmp_path / "config.toml", f"sqlite:///{db}", url)
        with Tracker(config, ["run", "--no-dashboard"], log=tmp_path / "run.log") as tracker:
            tracker.wait_for("Shop: ok")
            filler = _fill(small_disk)
            tracker.wait_for("Shop: storage_error")
            # The shop changes while nothing can be written.
            server.set("/p/m2002rdb", product_page("119.99"))
            tracker.wait_for(lambda: tracker.text().count("Shop: storage_error") >= 3, deadline=60)
            filler.unlink()
            tracker.wait_for(lambda: _recovered(tracker.text()), deadline=60)
            tracker.wait_for(lambda: "119.99" in str(_read_prices(db)), deadline=30)
            assert tracker.stop() == 0
        text = tracker.text()
    assert "Traceback" not in text, text
    failures = [line for line in text.splitlines() if "storage_error" in line]
    assert all(line.endswith("(storage error: database or disk is full)") for line in failures), failures
    # Said when writes start failing, and again only if they fail again after a write got through
    # (a nearly full disk can take one small write and refuse the next): never once per check.
    waits = text.count("storage error: database or disk is full: checks wait")
    assert 1 <= waits == text.count("the database can be written again")
    # Backed off: one-second checks were tried again after 2, 4... seconds, not every second (a
    # write that gets through on the nearly full disk starts the count again).
    stamps = [_seconds(line) for line in failures]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps and all(g >= 2 for g in gaps), gaps
    # Recovered by itself, recording the state the shop was in by then.
    assert _read_prices(db)[-1] == Decimal("119.99")


def _read_prices(db: Path) -> list[Decimal | None]:
    engine = make_engine(f"sqlite:///{db}", migrate=False)
    try:
        return _prices(engine)
    finally:
        engine.dispose()


def _seconds(line: str) -> int:
    hours, minutes, seconds = (int(p) for p in line.split(maxsplit=1)[0].split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _make_read_only(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


def _make_writable(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[tuple[Path, Path, PageServer]]:
    """A database with one check in it, then made read-only with its folder (config, folder, shop)."""
    with PageServer() as server:
        url = server.set("/p/m2002rdb", product_page("150.00"))
        data = tmp_path / "data"
        config = _config(tmp_path / "config.toml", f"sqlite:///{data / 'tracker.db'}", url)
        code, err = run_once(config, ["check", "--quiet"])
        assert code == 0, err
        _make_read_only(data)
        try:
            yield config, data, server
        finally:
            _make_writable(data)


def test_tracker_check_on_a_read_only_database_prints_one_line(
    read_only_db: tuple[Path, Path, PageServer],
) -> None:
    config, data, _server = read_only_db
    code, err = run_once(config, ["check", "--quiet"], prefix=NO_DAC_OVERRIDE)
    assert code == 2
    assert err.strip().count("\n") == 0, err
    assert err.startswith(f"error: cannot open the database sqlite:///{data / 'tracker.db'}: "), err
    assert "readonly" in err or "unable to open" in err


def test_tracker_run_waits_on_a_read_only_database_and_starts_when_it_is_writable(
    read_only_db: tuple[Path, Path, PageServer], tmp_path: Path
) -> None:
    config, data, server = read_only_db
    server.set("/p/m2002rdb", product_page("139.00"))
    args = ["run", "--no-dashboard"]
    with Tracker(config, args, log=tmp_path / "run.log", prefix=NO_DAC_OVERRIDE) as tracker:
        tracker.wait_for("trying again in")
        before = _runs_now(data)
        _make_writable(data)
        tracker.wait_for("Shop: ok", deadline=90)
        assert tracker.stop() == 0
        text = tracker.text()
    assert "Traceback" not in text, text
    waiting = [line for line in text.splitlines() if "trying again in" in line]
    assert waiting and all(
        re.search(r"ERROR cannot open the database sqlite:///\S+: .+; trying again in \d+ s", line)
        for line in waiting
    ), waiting
    assert _runs_now(data) > before
    assert _read_prices(data / "tracker.db")[-1] == Decimal("139.00")


def _runs_now(data: Path) -> int:
    engine = make_engine(f"sqlite:///{data / 'tracker.db'}", migrate=False)
    try:
        return len(_runs(engine))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        pytest.param(
            "postgresql+psycopg://tracker:hunter2-secret@127.0.0.1:1/tracker",
            "error: cannot open the database postgresql+psycopg://tracker:***@127.0.0.1:1/tracker: ",
            id="unreachable-host",
        ),
        pytest.param(
            "postgresql+psycopg://tracker:hunter2-secret@no-such-host.invalid/tracker",
            "error: cannot open the database postgresql+psycopg://tracker:***@no-such-host.invalid/tracker: ",
            id="unknown-host",
        ),
        pytest.param(
            "mysql://tracker:hunter2-secret@127.0.0.1/tracker",
            "error: DATABASE_URL (environment): mysql://tracker:***@127.0.0.1/tracker: only SQLite",
            id="other-database",
        ),
        pytest.param(
            "not a url",
            "error: DATABASE_URL (environment): not a database URL",
            id="not-a-url",
        ),
    ],
)
def test_a_bad_database_url_is_one_line_naming_it_without_its_password(
    tmp_path: Path, database_url: str, expected: str
) -> None:
    config = _config(tmp_path / "config.toml", "sqlite:///data/tracker.db", "http://127.0.0.1:9/p")
    code, err = run_once(config, ["check", "--quiet"], DATABASE_URL=database_url)
    assert code == 2
    assert err.startswith(expected), err
    assert err.strip().count("\n") == 0, err
    assert "hunter2" not in err
