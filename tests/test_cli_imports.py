"""A command imports only what it uses: `tracker --help` and a mistyped option load no library, and
`tracker extract` reads a page without the config's schema, the database or the network stack.
`tracker check` leaves the HTML parsers to its page readers' processes. (What this saves is measured
by bench/bench_cli.py; here only which modules load.) A database already at the newest migration
opens without Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs the command in a fresh interpreter and prints the modules it loaded, whatever its exit.
PROBE = """
import json, sys
from tracker.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

HEAVY = ("pydantic", "sqlalchemy", "sqlmodel", "alembic", "httpx", "asyncio", "apprise", "streamlit", "babel")


def _report(code: str, args: list[str], cwd: Path, stdin: bytes | None = None) -> dict[str, Any]:
    """Run code in a fresh interpreter with args; the JSON it printed last on its standard error, with
    what it printed on its standard output under "stdout"."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    lines = proc.stderr.decode().strip().splitlines()
    assert lines, f"the probe printed nothing (exit {proc.returncode})"
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except ValueError:
        raise AssertionError(proc.stderr.decode()[-2000:]) from None
    report["stdout"] = proc.stdout.decode()
    return report


def _loaded(args: list[str], cwd: Path, stdin: bytes | None = None) -> tuple[int, set[str]]:
    report = _report(PROBE, args, cwd, stdin)
    names = set(report["modules"])
    return int(report["code"] or 0), names | {m.split(".")[0] for m in names}


@pytest.mark.parametrize(
    "args", [["--help"], ["check", "--help"], ["check", "--no-such-option"], ["--version"]]
)
def test_help_and_argument_errors_load_no_library(args: list[str], tmp_path: Path) -> None:
    code, modules = _loaded(args, tmp_path)
    assert code in (0, 2)
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert "tracker" in modules and "tracker.commands" not in modules


def test_extract_reads_a_page_without_the_config_schema_the_database_or_the_network(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script type="application/ld+json">{"@type": "Product", "name": "2002R",'
        ' "offers": {"price": "150.00", "priceCurrency": "USD"}}</script></head></html>',
        encoding="utf-8",
    )
    code, modules = _loaded(["extract", str(page)], tmp_path)
    assert code == 0
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_extract_with_a_config_that_sets_the_body_cap_validates_it(tmp_path: Path) -> None:
    """The light path does not skip the config when it says something that matters to extract."""
    (tmp_path / "config.toml").write_text("[defaults]\nmax_body_bytes = 10\n", encoding="utf-8")
    (tmp_path / "page.html").write_text("<html></html>", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "extract", "page.html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert "defaults.max_body_bytes" in proc.stderr, proc.stderr


def test_the_engine_knows_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from db.engine import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_database_at_the_newest_migration_opens_without_alembic(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    probe = (
        "import sys\nfrom db.engine import make_engine\n"
        "make_engine(sys.argv[1]).dispose()\nprint('alembic' in sys.modules)"
    )
    run = [sys.executable, "-c", probe, url]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    first = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True, env=env)
    # A new PostgreSQL database is migrated by Alembic; a new SQLite file gets head's schema script.
    assert first.stdout.strip() == str(kind == "postgres")
    again = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True, env=env)
    assert again.stdout.strip() == "False"


PARSERS = ("bs4", "soupsieve", "lxml", "selectolax", "price_parser")


def _catalogue() -> str:
    variant = {
        "id": 11,
        "title": "9",
        "option1": "9",
        "sku": "M2002RDA-9",
        "available": True,
        "price": "150.00",
    }
    product = {
        "id": 1,
        "title": "New Balance 2002R M2002RDA",
        "handle": "2002r-m2002rda",
        "vendor": "New Balance",
        "tags": ["2002R"],
        "variants": [variant],
        "images": [],
    }
    return json.dumps({"products": [product]})


def test_check_reads_pages_in_the_workers_without_loading_the_parsers_here(tmp_path: Path) -> None:
    """The pages are read in the page pool's workers: the process that fetches and records never
    imports the HTML parsers (what it gets back are plain products)."""
    import sqlite3

    from tests.servers import PageServer, product_page

    with PageServer() as server:
        server.set("/products.json", _catalogue(), **{"Content-Type": "application/json"})
        page = server.set("/products/2002r-m2002rdb", product_page("139.99"))
        (tmp_path / "config.toml").write_text(
            'database_url = "sqlite:///tracker.db"\n[defaults]\nrespect_robots = false\n'
            f'[[sources]]\nname = "Catalogue"\nkind = "shopify"\nurl = "{server.base}"\n'
            f'[[sources]]\nname = "Page"\nkind = "page"\nurls = ["{page}"]\n',
            encoding="utf-8",
        )
        code, modules = _loaded(["check", "--quiet"], tmp_path)
    assert code == 0
    assert not modules & set(PARSERS), sorted(modules & set(PARSERS))
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        prices = db.execute("SELECT CAST(price AS TEXT) FROM observations ORDER BY price").fetchall()
    assert prices == [("139.99",), ("150.00",)], prices


# Runs `tracker check` as the program (argv None) or as a library call (argv given), and reports
# the collector's state while the checks run.
GC_PROBE = """
import gc, json, sys
import tracker.commands as commands
seen = {}
real = commands._check_each
async def spy(*args, **kwargs):
    seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
    return await real(*args, **kwargs)
commands._check_each = spy
from tracker.cli import main
sys.argv = ["tracker", "check", "--quiet"]
code = main(None if "MODE" == "program" else ["check", "--quiet"])
print(json.dumps({"code": code, "enabled_at_exit": gc.isenabled(), **seen}), file=sys.stderr)
"""


@pytest.mark.parametrize("mode", ["program", "library"])
def test_check_as_the_program_keeps_its_modules_out_of_the_collector_and_collects_while_checking(
    mode: str, tmp_path: Path
) -> None:
    """Run as the program, the collector is off while the modules load, then the loaded objects are
    frozen and it is back on for the checks (a long pass of many sources must not grow); called as a
    library (the tests, a script) the collector is left as it was."""
    import sqlite3

    from tests.servers import PageServer

    with PageServer() as server:
        server.set("/products.json", _catalogue(), **{"Content-Type": "application/json"})
        (tmp_path / "config.toml").write_text(
            'database_url = "sqlite:///tracker.db"\n[defaults]\nrespect_robots = false\n'
            f'[[sources]]\nname = "Catalogue"\nkind = "shopify"\nurl = "{server.base}"\n',
            encoding="utf-8",
        )
        report = _report(GC_PROBE.replace("MODE", mode), [], tmp_path)
    assert report["code"] == 0, report
    assert report["enabled"] is True
    if mode == "program":
        assert report["frozen"] > 50_000, report  # the modules' objects, out of every collection
    else:
        assert report["frozen"] == 0 and report["enabled_at_exit"] is True, report
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        prices = db.execute("SELECT CAST(price AS TEXT) FROM observations").fetchall()
    assert prices == [("150.00",)], prices


def test_alerts_list_reads_the_outbox_without_loading_the_channels(tmp_path: Path) -> None:
    """Listing what was sent is a database read: Apprise (which loads every plugin it has, most of a
    second) stays out, and each line still says when (in the config's time zone), where and what."""
    from datetime import UTC, datetime

    from sqlmodel import Session

    from db.engine import make_engine
    from db.models import Delivery, Event

    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    sent = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    with Session(engine) as session:
        event = Event(kind="restock", message="Rain Cloud is back at Kith", created_at=sent)
        session.add(event)
        session.flush()
        assert event.id is not None
        delivery = Delivery(event_id=event.id, channel="phone", status="sent", sent_at=sent, created_at=sent)
        session.add(delivery)
        session.commit()
    engine.dispose()
    (tmp_path / "config.toml").write_text(
        'database_url = "sqlite:///tracker.db"\ntimezone = "Europe/Paris"\n', encoding="utf-8"
    )
    report = _report(PROBE, ["alerts", "list"], tmp_path)
    assert report["code"] in (0, None), report["stdout"]
    line = "2026-11-30 15:05 CET  phone  sent  Rain Cloud is back at Kith"
    assert line in report["stdout"], report["stdout"]
    assert not {m for m in report["modules"] if m.split(".")[0] == "apprise"}


def test_sending_without_channels_loads_no_apprise_and_the_inbox_channel_still_sends(tmp_path: Path) -> None:
    """The alert sender loads Apprise (~0.2 s) when a channel needs it, not at its start: with no
    channel, `alerts deliver` (and `tracker run`, which imports the same sender) never imports it;
    with the inbox channel, the first send loads it and makes inbox:// known to it, in a fresh process."""
    import sqlite3

    (tmp_path / "config.toml").write_text('database_url = "sqlite:///tracker.db"\n', encoding="utf-8")
    report = _report(PROBE, ["alerts", "deliver", "--once"], tmp_path)
    assert report["code"] in (0, None), report["stdout"]
    assert "tracker.notify.send" in report["modules"]
    assert not {m for m in report["modules"] if m.split(".")[0] == "apprise"}

    (tmp_path / "config.toml").write_text(
        'database_url = "sqlite:///tracker.db"\n[[alerts.channels]]\nname = "inbox"\nurl = "inbox://"\n',
        encoding="utf-8",
    )
    report = _report(PROBE, ["alerts", "test"], tmp_path)
    assert report["code"] in (0, None) and "inbox: sent" in report["stdout"], report["stdout"]
    assert "apprise" in report["modules"]
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        assert db.execute("SELECT count(*) FROM inbox_messages").fetchone() == (1,)


def test_status_on_sqlite_says_one_process_without_the_storage_layer(tmp_path: Path) -> None:
    """On SQLite there is one process and no queue whatever the file holds: `tracker status` says so
    without loading SQLAlchemy or creating the database it names."""
    (tmp_path / "config.toml").write_text('database_url = "sqlite:///data/tracker.db"\n', encoding="utf-8")
    report = _report(PROBE, ["status", "--json"], tmp_path)
    assert report["code"] in (0, None), report["stdout"]
    assert json.loads(report["stdout"])["mode"] == "single"
    assert not {m for m in report["modules"] if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "db")}
    assert not (tmp_path / "data").exists()
