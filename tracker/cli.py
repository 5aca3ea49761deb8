"""The `tracker` command: parses arguments, runs the command (tracker.commands), turns known errors
into one line. `tracker --help` and argument errors import nothing heavier than argparse."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tracker import DEFAULT_CONFIG, __version__
from tracker.errors import TrackerError
from tracker.redact import redact


class RedactSecrets(logging.Filter):
    """Keeps alert channel secrets out of every log line, the libraries' debug lines included."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with channel URLs reduced to their scheme."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (the README's command list is checked against it)."""
    parser = argparse.ArgumentParser(
        prog="tracker", description="New Balance 2002R release and price tracker"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="path to config.toml")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="check every source on its schedule, deliver alerts, serve the dashboard")
    p.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    p.add_argument("--host", help="dashboard address (default: dashboard.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="dashboard port (default: dashboard.port)")
    p.set_defaults(func="cmd_run")

    p = sub.add_parser("worker", help="take check jobs from the queue (PostgreSQL; several machines)")
    p.add_argument(
        "--queue",
        action="append",
        metavar="NAME",
        help="only sources routed to this queue (repeatable; default: the default queue)",
    )
    p.add_argument("--concurrency", type=int, default=20, help="checks at once in this process (default 20)")
    p.add_argument("--name", help="name in `tracker status` (default: host:pid)")
    p.set_defaults(func="cmd_worker")

    p = sub.add_parser("scheduler", help="the clock: defers due checks as jobs; run two, one leads")
    p.add_argument("--name", help="name in `tracker status` (default: host:pid)")
    p.add_argument(
        "--stalled-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a silent worker's jobs go back to the queue after this (default 30)",
    )
    p.set_defaults(func="cmd_scheduler")

    p = sub.add_parser("status", help="the clock, workers, queue depth and scheduling lag")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func="cmd_status")

    p = sub.add_parser("migrate-db", help="copy every table (history included) to another database")
    p.add_argument("--to", required=True, metavar="URL", help="the new database (postgresql+psycopg://...)")
    p.add_argument("--from", dest="source", metavar="URL", help="database to copy (default: the config's)")
    p.set_defaults(func="cmd_migrate_db")

    p = sub.add_parser("check", help="one pass over the sources, with a progress bar and a summary table")
    p.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="cmd_check")

    p = sub.add_parser("extract", help="print the product found in a saved page, a Shopify JSON or stdin")
    p.add_argument("file", nargs="?", help="an HTML page, a products.json / .js payload, or - for stdin")
    p.add_argument("--url", help="the page's address (resolves links, helps pick the currency)")
    p.add_argument("--currency", help="the shop's currency when the page only shows a symbol (e.g. USD)")
    p.add_argument("--query", default="2002R", help="filter for catalogue payloads (default 2002R)")
    p.add_argument(
        "--selector",
        action="append",
        metavar="KEY=SELECTOR",
        help="override: price=CSS, availability=CSS, sizes=CSS... or JSON paths for JSON ($.price)",
    )
    p.add_argument(
        "--size-system",
        help="the system the shop's bare size numbers are in, as a source's size_system (us_men, uk, eu, cm)",
    )
    p.set_defaults(func="cmd_extract")

    p = sub.add_parser("add", help="probe a shop URL, show what would be tracked, optionally add it")
    p.add_argument("url", help="a shop's product page, catalogue, collection or release calendar URL")
    p.add_argument("--write", action="store_true", help="add the proposed source to config.toml")
    p.add_argument("--name", help="the source's name (default: the shop's host name)")
    p.add_argument("--currency", help="the shop's currency when the probe cannot tell (e.g. EUR)")
    p.add_argument("--json", action="store_true", help="print the probe as JSON")
    p.set_defaults(func="cmd_add")

    p = sub.add_parser("export", help="observations as CSV or JSON")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument("--since", help="only observations from this date or time (your time zone)")
    p.set_defaults(func="cmd_export")

    p = sub.add_parser("demo", help="run the bundled demo store with the tracker and the dashboard")
    p.add_argument("--speed", type=float, default=10.0, help="demo store clock speed (default x10)")
    p.add_argument("--step-seconds", type=float, default=120.0, help="store seconds between timeline steps")
    p.add_argument("--interval", default="5s", help="check interval for the demo sources (default 5s)")
    p.add_argument("--data-dir", default="data/demo", help="where the demo database and config go")
    p.add_argument("--store-port", type=int, default=0, help="demo store port (default: any free port)")
    p.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    p.add_argument("--host", help="dashboard address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="dashboard port (default 8501)")
    p.set_defaults(func="cmd_demo")

    p = sub.add_parser("dashboard", help="serve the dashboard only")
    p.add_argument("--host", help="address to bind (default: dashboard.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: dashboard.port, 8501)")
    p.set_defaults(func="cmd_dashboard")

    p = sub.add_parser("calendar", help="write the release dates as an iCalendar (.ics) feed")
    p.add_argument("--ics", required=True, metavar="FILE", help="file to write, or - for standard output")
    p.set_defaults(func="cmd_calendar")

    p = sub.add_parser("alerts", help="test alert channels, list recent deliveries, send due alerts")
    asub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    t = asub.add_parser("deliver", help="send due alerts every --interval seconds (without the scheduler)")
    t.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")
    t.add_argument("--once", action="store_true", help="one pass, then exit")
    t.add_argument("--until-done", action="store_true", help="exit when nothing is left to send")
    t.add_argument("--max-seconds", type=float, help="give up (exit 1) after this many seconds")
    t = asub.add_parser("test", help="send a test message")
    t.add_argument("--channel", help="only this channel")
    t = asub.add_parser("list", help="recent deliveries")
    t.add_argument("--limit", type=int, default=30)
    p.set_defaults(func="cmd_alerts")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one clear line and a non-zero exit for every known error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.func == "cmd_check":
        # Run as the program, a check first loads its modules: ~130,000 objects that live until the
        # exit. The collector would go through them again and again while they load, finding
        # nothing (0.1-0.3 s of an unchanged check); it is off until they are loaded
        # (commands.modules_loaded), then they are frozen out of its way.
        gc.disable()
    code = _run(args)
    if argv is None and args.func == "cmd_check":
        # Run as the program, which now exits, its database closed: the exit would first look
        # through everything it loaded for reference cycles (tenths of a second after a check);
        # the exit frees it anyway.
        gc.freeze()
    return code


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "procrastinate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A restarting database: the pools retry by themselves; the worker and clock say it once.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        # The command's module (and what it imports) loads only once the line is known to be good.
        command = getattr(importlib.import_module("tracker.commands"), args.func)
        return int(command(args))
    except TrackerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from db.engine import is_storage_error, storage_reason

        if not is_storage_error(exc):
            raise
        # The database failed after it was opened (full, read-only, gone): one line, not a traceback.
        print(f"error: storage error: {redact(storage_reason(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
