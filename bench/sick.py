"""The faults that are not a shop's page: bad config, a sick database, a second instance, a slow alert
receiver, Ctrl+C during a send, wrong dashboard passwords. Each runs for real (tracker processes,
real files, a real receiver) and says what the tracker recorded; faults_report.py prints them.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRACKER = [sys.executable, "-m", "tracker.cli"]
NO_DAC_OVERRIDE = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


@dataclass(frozen=True)
class Row:
    """One line of the fault table."""

    fault: str
    recorded: str
    backoff: str = "n/a"
    observations: str = "0"
    alerts: str = "0"
    lag: str = "n/a"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def _run(config: Path, *args: str, prefix: tuple[str, ...] = (), **extra: str) -> tuple[int, str]:
    done = subprocess.run(
        [*prefix, *TRACKER, "--config", str(config), *args],
        cwd=config.parent,
        env=_env(**extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stderr.strip()


class _Process:
    """A tracker command in the background with its log in a file."""

    def __init__(self, config: Path, *args: str, prefix: tuple[str, ...] = (), **extra: str) -> None:
        self.log = config.parent / f"run-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*prefix, *TRACKER, "--config", str(config), *args],
                cwd=config.parent,
                env=_env(**extra),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str | Callable[[], bool], deadline: float = 90.0) -> bool:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if what() if callable(what) else what in self.text():
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    shown = lines[0] if lines else "(nothing)"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else " (one line)"
    return f"`{shown[:150]}`{more}"


def _config_text(db_url: str, page_url: str, extra: str = "") -> str:
    return f"""database_url = "{db_url}"
[defaults]
interval = "1s"
jitter = "0s"
per_host_delay = "0s"
respect_robots = false
retries = 0

[[colorways]]
name = "Phantom"
style_code = "M2002RDB"
line = "Protection Pack"
watched = true

[[sources]]
name = "Shop"
kind = "page"
url = "{page_url}"
{extra}"""


# -- config -------------------------------------------------------------------------------------


def config_rows(tmp: Path, page_url: str) -> Iterator[Row]:
    """Each bad config through `tracker check`: the one line it prints."""
    base = _config_text("sqlite:///data/tracker.db", page_url)
    cases = {
        "`interval = nan`": base.replace('interval = "1s"', "interval = nan"),
        "`jitter = inf`": base.replace('jitter = "0s"', "jitter = inf"),
        "`per_host_delay = 1e300`": base.replace('per_host_delay = "0s"', "per_host_delay = 1e300"),
        "`timeout = 0`": base.replace("retries = 0", "retries = 0\ntimeout = 0"),
        '`currency = "XYZ"` on a source': base.replace('kind = "page"', 'kind = "page"\ncurrency = "XYZ"'),
        "`list_price = { QQQ = 150 }`": base.replace("watched = true", "list_price = { QQQ = 150 }"),
        '`watched = "yes"`': base.replace("watched = true", 'watched = "yes"'),
        "a rule naming an unknown style code": base
        + '[[alerts.rules]]\non = ["restock"]\ncolorways = ["M2002RZZ"]\n',
        "`database_url` of another database": base.replace(
            "sqlite:///data/tracker.db", "mysql://u:s3cret@db/tracker"
        ),
        "`database_url` that is not a URL": base.replace("sqlite:///data/tracker.db", "tracker.db"),
    }
    for name, text in cases.items():
        config = tmp / "config.toml"
        config.write_text(text, encoding="utf-8")
        code, err = _run(config, "check", "--quiet")
        yield Row(f"config: {name}", f"exit {code}, {_one_line(err)}")


def database_url_rows(tmp: Path, page_url: str) -> Iterator[Row]:
    """DATABASE_URL that is unreachable, of the wrong kind, or no URL: `tracker check`'s one line."""
    config = tmp / "config.toml"
    config.write_text(_config_text("sqlite:///data/tracker.db", page_url), encoding="utf-8")
    for name, url in (
        ("unreachable host", "postgresql+psycopg://tracker:s3cret@127.0.0.1:1/tracker"),
        ("wrong driver", "postgresql+asyncpg://tracker:s3cret@127.0.0.1/tracker"),
        ("not a URL", "not a url"),
    ):
        code, err = _run(config, "check", "--quiet", DATABASE_URL=url)
        leaked = " (password shown!)" if "s3cret" in err else ""
        yield Row(f"`DATABASE_URL`: {name}", f"exit {code}, {_one_line(err)}{leaked}")


def unset_secret_row(tmp: Path, page_url: str) -> Row:
    config = tmp / "config.toml"
    channel = '[[alerts.channels]]\nname = "phone"\nurl = "ntfy://${NO_SUCH_TOKEN}@ntfy.example/nb"\n'
    config.write_text(_config_text("sqlite:///data/tracker.db", page_url, channel), encoding="utf-8")
    code, err = _run(config, "run", "--no-dashboard")
    return Row("a channel's `${VAR}` unset, at start", f"exit {code}, {_one_line(err)}")


def defaults_reload_row(tmp: Path, page_url: str) -> Row:
    """`[defaults] interval` edited while `tracker run` runs: checks follow the new interval."""
    config = tmp / "config.toml"
    config.write_text(_config_text("sqlite:///data/tracker.db", page_url), encoding="utf-8")
    run = _Process(config, "run", "--no-dashboard")
    try:
        run.wait_for("Shop: ok")
        config.write_text(
            _config_text("sqlite:///data/tracker.db", page_url).replace('interval = "1s"', 'interval = "1h"'),
            encoding="utf-8",
        )
        run.wait_for("config reloaded")
        time.sleep(3)
        before = run.text().count("Shop: ok")
        time.sleep(4)
        after = run.text().count("Shop: ok")
    finally:
        run.stop()
    text = run.text()
    said = "rescheduled" if "source Shop rescheduled" in text else "not rescheduled"
    return Row(
        "`[defaults] interval` 1s -> 1h while running",
        f"config reloaded, source {said}; checks in the 4 s after: {after - before}",
    )


# -- the database -------------------------------------------------------------------------------


def disk_full_row(tmp: Path, page_url: str) -> Row:
    """A SQLite file on a 4 MB tmpfs, filled while `tracker run` checks every second, then freed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return Row("disk full (SQLite on a full tmpfs)", "not run: mounting a tmpfs needs root")
    mount = tmp / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False).returncode:
        return Row("disk full (SQLite on a full tmpfs)", "not run: cannot mount a tmpfs here")
    try:
        config = tmp / "config.toml"
        config.write_text(_config_text(f"sqlite:///{mount / 'tracker.db'}", page_url), encoding="utf-8")
        run = _Process(config, "run", "--no-dashboard")
        try:
            run.wait_for("Shop: ok")
            filler = mount / "filler"
            with filler.open("wb", buffering=0) as fh:
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            run.wait_for(lambda: run.text().count("Shop: storage_error") >= 4, deadline=60)
            failures = [line for line in run.text().splitlines() if "storage_error" in line]
            filler.unlink()
            recovered = run.wait_for("the database can be written again", deadline=60)
        finally:
            run.stop()
        text = run.text()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    stamps = [_seconds(line) for line in failures]
    gaps = ", ".join(str(b - a) for a, b in itertools.pairwise(stamps))
    first = next((line.split(" ", 2)[2] for line in failures), "")
    return Row(
        "disk full (SQLite on a full 4 MB tmpfs), then freed",
        f"`{first}`, {text.count('Traceback')} tracebacks; "
        + ("recorded again without a restart" if recovered else "did NOT recover"),
        backoff=f"{gaps} s between tries",
        observations="0 while full",
    )


def _seconds(line: str) -> int:
    hours, minutes, seconds = (int(p) for p in line.split(maxsplit=1)[0].split(":"))
    return hours * 3600 + minutes * 60 + seconds


def read_only_rows(tmp: Path, page_url: str) -> Iterator[Row]:
    """A database and its folder read-only (as a user without CAP_DAC_OVERRIDE), then writable."""
    if shutil.which("setpriv") is None:
        yield Row("read-only database", "not run: setpriv is missing")
        return
    data = tmp / "ro"
    config = tmp / "config.toml"
    config.write_text(_config_text(f"sqlite:///{data / 'tracker.db'}", page_url), encoding="utf-8")
    _run(config, "check", "--quiet")
    paths = [*data.iterdir()]
    for path in paths:
        path.chmod(0o444)
    data.chmod(0o555)
    try:
        code, err = _run(config, "check", "--quiet", prefix=tuple(NO_DAC_OVERRIDE))
        yield Row("`tracker check` on a read-only database", f"exit {code}, {_one_line(err)}")
        run = _Process(config, "run", "--no-dashboard", prefix=tuple(NO_DAC_OVERRIDE))
        run.wait_for("trying again in")
    finally:
        data.chmod(0o755)
        for path in data.iterdir():
            path.chmod(0o644)
    recovered = run.wait_for("Shop: ok", deadline=120)
    run.stop()
    text = run.text()
    waits = [line.split(" ", 2)[2] for line in text.splitlines() if "trying again in" in line]
    yield Row(
        "`tracker run` on a read-only database and folder, made writable again",
        f"`{waits[0] if waits else '(no line)'}`, {text.count('Traceback')} tracebacks; "
        + ("checks recorded once writable, no restart" if recovered else "did NOT recover"),
        backoff="2 s, 4 s... (at most 60 s) between tries",
        observations="0 while read-only",
    )


def second_instance_row(tmp: Path, page_url: str, hits: Callable[[], int]) -> Row:
    config = tmp / "config.toml"
    config.write_text(
        _config_text("sqlite:///data/tracker.db", page_url).replace('"1s"', '"1h"', 1), encoding="utf-8"
    )
    first = _Process(config, "run", "--no-dashboard")
    try:
        first.wait_for("Shop: ok")
        before = hits()
        code, err = _run(config, "run", "--no-dashboard")
        time.sleep(2)
        asked = hits() - before
    finally:
        first.stop()
    return Row(
        "a second `tracker run` on the same database",
        f"exit {code}, {_one_line(err)}; the shop was asked {asked} more time(s)",
    )


# -- alerts -------------------------------------------------------------------------------------


@contextmanager
def _slow_receiver(delay: float) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A JSON webhook that answers after `delay` seconds; yields (json:// URL, received requests)."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            got.append({"key": self.headers.get("Idempotency-Key"), "title": body.get("title")})
            time.sleep(delay)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()


def slow_receiver_rows(tmp: Path) -> Iterator[Row]:
    """One alert to a webhook answering after 4 s, with a 2 s and a 10 s channel timeout."""
    from datetime import UTC, datetime

    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import Colorway, Delivery, Event, Source
    from tracker.config import parse_config
    from tracker.notify.outbox import deliver_due
    from tracker.notify.plan import plan_deliveries

    for timeout in ("2s", "10s"):
        with _slow_receiver(4.0) as (url, got):
            engine = make_engine(f"sqlite:///{tmp / f'alerts-{timeout}.db'}")
            config = parse_config(
                {
                    "colorways": [{"name": "Phantom", "style_code": "M2002RDB"}],
                    "alerts": {
                        "channels": [{"name": "hook", "url": url, "timeout": timeout}],
                        "rules": [{"on": ["restock"]}],
                        "max_attempts": 6,
                        "retry_base": "30s",
                    },
                }
            )
            now = datetime.now(UTC)
            with Session(engine) as session:
                source, colorway = (
                    Source(name="Kith", kind="page", url="https://k.example/"),
                    Colorway(style_code="M2002RDB", name="Phantom"),
                )
                session.add_all([source, colorway])
                session.flush()
                event = Event(
                    kind="restock",
                    source_id=source.id,
                    colorway_id=colorway.id,
                    message="",
                    data={"shop": "Kith"},
                    created_at=now,
                )
                session.add(event)
                session.flush()
                plan_deliveries(session, [event], config, now=now)
                session.commit()
            waits: list[int] = []
            at = now
            for _ in range(12):
                stats = asyncio.run(deliver_due(engine, config, now=at))
                if stats.sent or stats.failed:
                    break
                with Session(engine) as session:
                    row = session.exec(select(Delivery)).one()
                    due = row.next_attempt_at.replace(tzinfo=UTC)
                waits.append(int((due - at).total_seconds()))
                at = due
            engine.dispose()
            keys = {r["key"] for r in got}
            yield Row(
                f'webhook answering after 4 s, channel `timeout = "{timeout}"`',
                f"received {len(got)} time(s), {len(keys)} Idempotency-Key(s); "
                + ("sent at once" if len(got) == 1 else "each try failed 'no answer within 2 s', sent again"),
                backoff=", ".join(f"{w} s" for w in waits) or "none",
                alerts=str(len(got)),
            )


def ctrl_c_during_send_rows(tmp: Path, store: Any) -> Iterator[Row]:
    """`tracker run` sends a price-drop alert to a webhook that takes 4 s; Ctrl+C meanwhile. A shop
    failing from its first check sends source_broken to a second, fast receiver."""
    page = f"{store.base_url}/p/jsonld_conflict/new-balance-2002r-m2002rdb"
    failing = f"{store.base_url}/p/http_500/new-balance-2002r-m2002rdb"
    with _slow_receiver(4.0) as (slow_url, slow), _slow_receiver(0.0) as (fast_url, fast):
        config = tmp / "config.toml"
        extra = (
            f'\n[[sources]]\nname = "Kith"\nkind = "page"\nurl = "{failing}"\ninterval = "1h"\n'
            f'\n[alerts]\nchannels = [{{ name = "slow", url = "{slow_url}", timeout = "10s" }},'
            f' {{ name = "fast", url = "{fast_url}" }}]\n'
            'rules = [{ on = ["price_drop"], channels = ["slow"] },'
            ' { on = ["source_broken"], channels = ["fast"] }]\n'
        )
        text = _config_text("sqlite:///data/tracker.db", page, extra)
        config.write_text(text.replace("retries = 0", "retries = 0\nbroken_after = 1"), encoding="utf-8")
        store.heal("jsonld_conflict")
        store.break_("http_500")
        run = _Process(config, "run", "--no-dashboard")
        try:
            run.wait_for("Shop: ok")
            store.break_("jsonld_conflict")  # the page now shows 119.99: a price drop
            deadline = time.monotonic() + 60
            while not slow and time.monotonic() < deadline:
                time.sleep(0.05)
            code = run.stop()
        finally:
            store.heal("jsonld_conflict", "http_500")
        log = run.text()
        titles = [str(r["title"]) for r in fast]
    yield Row(
        "Ctrl+C while a webhook takes 4 s to answer",
        f"exit {code}, {log.count('Traceback')} tracebacks, {log.count('CancelledError')} CancelledError;"
        " the message in flight is finished and recorded as sent",
        alerts=str(len(slow)),
    )
    yield Row(
        "`source_broken` alert title",
        f"`{titles[0] if titles else '(none received)'}`",
        alerts=str(len(titles)),
    )


# -- dashboard ----------------------------------------------------------------------------------


def sign_in_row() -> Row:
    """30 wrong passwords from one address in a few seconds, then the right one (the old attack)."""
    from dashboard.auth import Attempts

    attempts = Attempts(lockout_after=10, lockout=900)
    verdicts = []
    for i in range(30):
        verdicts.append(attempts.attempt("203.0.113.9", f"guess-{i}", "open sesame"))
        time.sleep(0.1)
    right = attempts.attempt("203.0.113.9", "open sesame", "open sesame")
    read = sum(1 for v in verdicts if v.reason == "wrong")
    return Row(
        "30 wrong dashboard passwords in 3 s, then the right one",
        f"{read} compared, {30 - read} refused unread (waiting or locked); then: '{right.message()}'",
        backoff="after 3 wrong: 1, 2, 4... s (at most 60 s); 10 in a row: locked 15 min, logged",
    )


def calendar_row() -> Row:
    return Row(
        "the dashboard's calendar download",
        "a data: link inside the signed-in page; nothing is put under /media/ (checked in Chromium)",
    )


def extract_52mb_row(tmp: Path) -> Row:
    big = tmp / "big.html"
    with big.open("wb") as fh:
        for _ in range(52):
            fh.write(b"<p>2002R</p>" * 83_334)
    wrapper = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(p.returncode)\nprint(p.stderr.strip())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *TRACKER, "--config", str(tmp / "none.toml"), "extract", str(big)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp,
        check=True,
    ).stdout.splitlines()
    return Row(
        "`tracker extract` on a 52 MB page",
        f"exit {out[1]}, {_one_line(out[2])}; peak memory {int(out[0]) // 1024} MB",
    )


def run_all(store: Any, page_url: str, hits: Callable[[], int]) -> list[Row]:
    """Every scenario, each in its own temporary folder."""
    rows: list[Row] = []

    def fresh() -> Path:
        return Path(tempfile.mkdtemp(prefix="tracker-faults-"))

    rows.extend(config_rows(fresh(), page_url))
    rows.extend(database_url_rows(fresh(), page_url))
    rows.append(unset_secret_row(fresh(), page_url))
    rows.append(defaults_reload_row(fresh(), page_url))
    rows.append(extract_52mb_row(fresh()))
    rows.append(disk_full_row(fresh(), page_url))
    rows.extend(read_only_rows(fresh(), page_url))
    rows.append(second_instance_row(fresh(), page_url, hits))
    rows.extend(slow_receiver_rows(fresh()))
    rows.extend(ctrl_c_during_send_rows(fresh(), store))
    rows.append(sign_in_row())
    rows.append(calendar_row())
    return rows
