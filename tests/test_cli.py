"""The `tracker` command as a user runs it: a real process, a real demo store, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker.demo import DemoStore, ManualClock, demo_config_text

ROOT = Path(__file__).resolve().parent.parent
TRACKER = [sys.executable, "-m", "tracker.cli"]


def run(
    *args: str, cwd: Path, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [*TRACKER, *args],
        cwd=cwd,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[DemoStore, ManualClock, Path]]:
    clock = ManualClock()
    store = DemoStore(clock=clock, step_seconds=60)
    base = store.start()
    config = tmp_path / "config.toml"
    config.write_text(demo_config_text(base, data_dir="data"), encoding="utf-8")
    try:
        yield store, clock, config
    finally:
        store.stop()


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_check_then_export(demo: tuple[DemoStore, ManualClock, Path], tmp_path: Path) -> None:
    store, clock, config = demo
    first = run("--config", str(config), "check", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summaries = {s["source"]: s for s in json.loads(first.stdout)}
    assert summaries["Demo Boutique"]["status"] == "ok"
    assert summaries["Demo Brand Store"]["listings"] == len(store.brand_urls())
    db = tmp_path / "data" / "tracker.db"
    assert db.exists()

    clock.set_step(1)
    table = run("--config", str(config), "check", "--source", "Demo Boutique", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "check summary" in table.stdout and "Demo Boutique" in table.stdout
    assert "Demo Brand Store" not in table.stdout
    kinds = [k for (k,) in _rows(db, "select kind from events order by id")]
    assert kinds == ["price_drop"]

    out = run("--config", str(config), "export", "--format", "csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    (n,) = _rows(db, "select count(*) from observations")[0]
    assert len(rows) == n
    phantom = [r for r in rows if r["style_code"] == "M2002RDB" and r["shop"] == "Demo Boutique"]
    assert [r["price"] for r in phantom] == ["150", "119.99"]
    assert phantom[-1]["currency"] == "USD" and phantom[-1]["colorway"] == "Protection Pack Phantom"
    assert json.loads(phantom[-1]["sizes"])[0]["size"]

    as_json = run(
        "--config", str(config), "export", "--format", "json", "-o", str(tmp_path / "o.json"), cwd=tmp_path
    )
    assert as_json.returncode == 0
    data = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert len(data) == n and {"observed_at", "price", "currency", "availability", "sizes"} <= set(data[0])


def test_extract_prints_the_normalised_product(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        """<html><head><script type="application/ld+json">{"@type": "product", "name": "New Balance 2002R
        Protection Pack Sea Salt", "sku": "M2002RDC", "offers": [{"@type": "Offer", "price": "150.00",
        "priceCurrency": "USD", "availability": "http://schema.org/InStock",}]}</script></head>
        <body><h1>2002R</h1></body></html>""",
        encoding="utf-8",
    )
    out = run("extract", str(page), "--url", "https://shop.example/p/m2002rdc", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    product = json.loads(out.stdout)
    assert product["price"] == "150.00" and product["currency"] == "USD"
    assert product["availability"] == "InStock" and product["style_code"] == "M2002RDC"
    assert product["url"] == "https://shop.example/p/m2002rdc"
    # The same from standard input.
    piped = run("extract", "-", cwd=tmp_path, stdin=page.read_bytes())
    assert json.loads(piped.stdout)["price"] == "150.00"


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        (
            "[[sources]]\nname = 'a'\nkind = 'shopify'\nurl = 'https://a.example'\ninterval = 'soon'\n",
            "sources[0].interval: 'soon' is not a duration",
        ),
        ("colour = 'grey'\n", "colour: unknown key"),
        ("[[sources]\n", "not valid TOML"),
        (
            "[defaults]\ninterval = nan\n[[sources]]\nname = 'a'\nkind = 'page'\nurl = 'https://a.example/p'\n",
            "defaults.interval: nan is not a duration",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'page'\nurl = 'https://a.example/p'\n"
            "[[alerts.channels]]\nname = 'phone'\nurl = 'ntfy://${NO_SUCH_TOKEN_SET}@ntfy.example/nb'\n",
            "alerts.channels[0].url (channel 'phone'): environment variable NO_SUCH_TOKEN_SET is not set",
        ),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_errors_are_one_line_and_non_zero(
    tmp_path: Path, config_text: str, message: str, command: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text, encoding="utf-8")
    out = run("--config", str(config), command, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in out.stderr


def test_unknown_source_and_missing_file(tmp_path: Path, demo: tuple[DemoStore, ManualClock, Path]) -> None:
    _, _, config = demo
    out = run("--config", str(config), "check", "--source", "Nope", cwd=tmp_path)
    assert out.returncode == 2 and "no source named 'Nope'" in out.stderr
    missing = run("extract", str(tmp_path / "missing.html"), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_run_checks_on_schedule_and_stops_cleanly_on_sigterm(
    demo: tuple[DemoStore, ManualClock, Path], tmp_path: Path
) -> None:
    _, _, config = demo
    text = (
        config.read_text(encoding="utf-8")
        .replace('interval = "20s"', 'interval = "1s"')
        .replace('jitter = "1s"', 'jitter = "0s"')
    )
    config.write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [*TRACKER, "--config", str(config), "run", "--no-dashboard"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    db = tmp_path / "data" / "tracker.db"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                counts = dict(
                    _rows(
                        db,
                        "select s.name, count(*) from check_runs r join sources s"
                        " on s.id = r.source_id where r.status != 'running' group by s.name",
                    )
                )
            except sa.exc.OperationalError:  # not created or not migrated yet
                counts = {}
            if counts.get("Demo Boutique", 0) >= 3 and counts.get("Demo Brand Store", 0) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the scheduler did not run each source three times")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    statuses = {s for (s,) in _rows(db, "select status from check_runs")}
    assert statuses <= {"ok", "not_modified", "cancelled"}, statuses
    (n_obs,) = _rows(db, "select count(*) from observations")[0]
    (n_listings,) = _rows(db, "select count(*) from listings")[0]
    assert n_obs == n_listings  # nothing changed in the store: one row per listing, however many checks
    assert _rows(db, "pragma integrity_check") == [("ok",)]
