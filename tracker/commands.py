"""What each `tracker` command does: the library called for a parsed command line (tracker.cli parses)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import ConfigError, TrackerError
from tracker.redact import redact

if TYPE_CHECKING:
    from tracker.config import Config, Selectors

log = logging.getLogger("tracker")


def load_config(path: Path) -> Config:
    """The validated config (the schema is imported by the commands that read a config)."""
    from tracker.config import load_config as load

    return load(path)


def _engine(config: Config, config_path: Path) -> Any:
    from db.engine import make_engine

    return make_engine(config.effective_database_url(base=config_path.resolve().parent))


def _planner() -> Any:
    from tracker.notify.plan import plan_deliveries

    return plan_deliveries


def _build_pipeline(config: Config, config_path: Path, fetcher: Any, pool: Any) -> Any:
    from tracker.pipeline import Pipeline

    return Pipeline(config, _engine(config, config_path), fetcher, planner=_planner(), pool=pool)


def modules_loaded() -> None:
    """The command's modules are loaded: when the collector was off while they loaded (tracker.cli
    turns it off for a check run as the program), keep them out of its way and turn it back on, for
    what the checks allocate from now on."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _source_names(config: Config, wanted: Sequence[str] | None) -> list[str]:
    if not wanted:
        return [s.name for s in config.sources if s.enabled]
    unknown = [w for w in wanted if config.source(w) is None]
    if unknown:
        known = ", ".join(s.name for s in config.sources) or "none"
        raise ConfigError(f"no source named {unknown[0]!r} in the config (sources: {known})")
    return list(wanted)


async def _check(config: Config, config_path: Path, names: list[str], *, quiet: bool) -> list[Any]:
    from tracker.check.pool import PagePool

    with PagePool(config.defaults.extract_workers) as pool:
        return await _check_all(config, config_path, names, pool, quiet=quiet)


async def _check_all(
    config: Config, config_path: Path, names: list[str], pool: Any, *, quiet: bool
) -> list[Any]:
    import asyncio

    # The page readers' workers start (in a thread, now: not at the first await) while the modules
    # below load, the database opens and the first pages download.
    warming = asyncio.get_running_loop().run_in_executor(None, pool.start)
    from rich.console import Console

    from tracker.fetch import Fetcher

    console = Console(stderr=True)
    summaries: list[Any] = []
    # SIGTERM ends the pass like Ctrl+C: checks in flight are recorded as cancelled and the browser
    # (when a source renders) is closed, instead of the process vanishing mid-check.
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    async with Fetcher(config.defaults, render=config.render) as fetcher:
        pipeline = _build_pipeline(config, config_path, fetcher, pool)
        modules_loaded()
        try:
            await _check_each(pipeline, names, summaries, console=console, quiet=quiet)
            with contextlib.suppress(Exception):  # a reader that failed to start was reported by its check
                await warming
            if any(s.events for s in summaries) and any(c.enabled for c in config.alerts.channels):
                # The sender (and Apprise with its plugins) loads only when there is somewhere to send.
                from tracker.notify.outbox import deliver_due

                await deliver_due(pipeline.engine, config)
        finally:
            # Closed now, not whenever the exit gets to it: SQLite folds its write-ahead log back into
            # the database file when the last connection closes.
            pipeline.engine.dispose()
    order = {n: i for i, n in enumerate(names)}
    return sorted(summaries, key=lambda s: order[s.source])


@contextlib.contextmanager
def _progress_bar(console: Any, total: int, *, shown: bool) -> Iterator[Callable[[str], object]]:
    """A progress bar of total steps while the block runs, or nothing (its module is then not even
    loaded); yields advance(description), one step."""
    if not shown:
        yield lambda description: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]checking"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("", total=total)
        yield lambda description: progress.update(task, advance=1, description=description)


async def _check_each(
    pipeline: Any, names: list[str], summaries: list[Any], *, console: Any, quiet: bool
) -> None:
    """Check the sources at once, each summary added to summaries as it ends, with a progress bar."""
    import asyncio

    with _progress_bar(console, len(names), shown=not quiet and console.is_terminal) as advance:

        async def one(name: str) -> None:
            summary = await pipeline.check(name)
            summaries.append(summary)
            advance(f"{name}: {summary.status}")

        await asyncio.gather(*(one(n) for n in names))


def _print_summaries(summaries: Sequence[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="check summary")
    for column in ("source", "status", "ms", "requests", "304", "listings", "new rows", "events", "error"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        style = (
            "green" if s.status in ("ok", "not_modified") else ("yellow" if s.status == "partial" else "red")
        )
        table.add_row(
            s.source,
            f"[{style}]{s.status}[/]",
            str(s.duration_ms),
            str(s.requests),
            str(s.not_modified),
            str(s.listings),
            str(s.observations),
            str(s.events),
            (s.error or "")[:160],
        )
    Console().print(table)


def _source_kinds(path: Path) -> set[str] | None:
    """The kinds of the config's sources, from a quick read of its TOML (None when it cannot be
    read: the full load that follows says why)."""
    import tomllib

    try:
        sources = tomllib.loads(path.read_text(encoding="utf-8")).get("sources", [])
        return {str(source["kind"]) for source in sources}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError, KeyError, AttributeError):
        return None


def cmd_check(args: argparse.Namespace) -> int:
    from tracker.check.pool import start_fork_server, stop_fork_server

    # The page readers load in their own process while this one loads the config and the database.
    start_fork_server(_source_kinds(args.config))
    try:
        return _check_command(args)
    finally:
        stop_fork_server()


def _check_command(args: argparse.Namespace) -> int:
    import asyncio

    config = load_config(args.config)
    _require_secrets(config, args.config)
    names = _source_names(config, args.source)
    if not names:
        raise ConfigError(f"{args.config}: no enabled sources to check (add [[sources]])")
    try:
        summaries = asyncio.run(_check(config, args.config, names, quiet=args.quiet))
    except asyncio.CancelledError:
        print("stopped: the checks in flight were recorded as cancelled", file=sys.stderr)
        return 143
    if args.json:
        print(json.dumps([s.__dict__ for s in summaries], default=str, indent=2))
    else:
        _print_summaries(summaries)
    failed = [s for s in summaries if s.status not in ("ok", "not_modified", "partial")]
    return 1 if failed and len(failed) == len(summaries) else 0


async def _serve(config: Config, config_path: Path, *, on_summary: Any = None) -> None:
    import asyncio

    from tracker.check.pool import PagePool
    from tracker.fetch import Fetcher
    from tracker.notify.outbox import deliver_due, warm_up_channels
    from tracker.scheduler import Service

    with PagePool(config.defaults.extract_workers) as pool:
        # Apprise loads its plugins on first use (~1 s), and the page readers start (~1 s): both
        # now, not when the first check or the first drop needs them.
        await asyncio.gather(asyncio.to_thread(warm_up_channels, config), asyncio.to_thread(pool.start))
        async with Fetcher(config.defaults, render=config.render) as fetcher:
            pipeline = _build_pipeline(config, config_path, fetcher, pool)

            async def deliver() -> object:
                return await deliver_due(pipeline.engine, pipeline.config)

            service = Service(
                config, pipeline, deliver=deliver, on_summary=on_summary, config_path=config_path
            )
            await service.serve()


def _log_summary(summary: Any) -> None:
    level = logging.INFO if summary.status in ("ok", "not_modified") else logging.WARNING
    log.log(
        level,
        "%s: %s in %d ms, %d listings, %d new rows, %d events%s",
        summary.source,
        summary.status,
        summary.duration_ms,
        summary.listings,
        summary.observations,
        summary.events,
        f" ({summary.error})" if summary.error else "",
    )
    for kind in summary.event_kinds:
        log.info("  event: %s", kind)


def _start_dashboard(config: Config, config_path: Path, host: str | None, port: int | None) -> Any:
    from dashboard.serve import serve

    proc = serve(config_path.resolve(), host or config.dashboard.host, port or config.dashboard.port)
    log.info("dashboard on http://%s:%d", host or config.dashboard.host, port or config.dashboard.port)
    return proc


def _require_secrets(config: Config, config_path: Path) -> None:
    """Refuse to start while an enabled channel's ${VARIABLE} is unset: one line naming both."""
    from tracker.config import missing_secrets

    problems = missing_secrets(config)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{config_path}: {problems[0]}{more}")


def _open_for_run(config: Config, config_path: Path) -> Any:
    """Take the one-instance lock and open (migrate) the database, waiting while it cannot be written.

    A second tracker on the same database is refused at once; a database that is full, read-only
    or not answering yet is tried again (every few seconds, then every minute) until it works.
    """
    import time

    from tracker.errors import StorageError
    from tracker.instance import acquire

    url = config.effective_database_url(base=config_path.resolve().parent)
    wait = 2.0
    while True:
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            lock = acquire(url)
            try:
                _engine(config, config_path)  # migrate before the dashboard opens the database
            except BaseException:
                lock.release()
                raise
            return lock
        except (StorageError, OSError) as exc:
            log.error("%s; trying again in %d s (Ctrl+C stops)", exc, int(wait))
            time.sleep(wait)
            wait = min(wait * 2, 60.0)


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    config = load_config(args.config)
    if not config.sources:
        raise ConfigError(f"{args.config}: no sources to check (add [[sources]])")
    _require_secrets(config, args.config)
    url = config.effective_database_url(base=args.config.resolve().parent)
    if url.startswith("postgresql"):
        # A clock and a worker in this process; `tracker worker` elsewhere shares the checks, and a
        # second `tracker run` is a standby clock (leader election), so no one-instance lock here.
        from tracker.run.serve import run_together

        _engine(config, args.config)  # migrate before the dashboard opens the database
        dash = None if args.no_dashboard else _start_dashboard(config, args.config, args.host, args.port)
        try:
            log.info("tracking %d sources; Ctrl+C stops", len([s for s in config.sources if s.enabled]))
            run_together(url, args.config, on_summary=_log_summary)
        finally:
            if dash is not None:
                dash.terminate()
                dash.wait(10)
        return 0
    with _open_for_run(config, args.config):
        dash = None if args.no_dashboard else _start_dashboard(config, args.config, args.host, args.port)
        try:
            log.info("tracking %d sources; Ctrl+C stops", len([s for s in config.sources if s.enabled]))
            asyncio.run(_serve(config, args.config, on_summary=_log_summary))
        finally:
            if dash is not None:
                dash.terminate()
                dash.wait(10)
    return 0


def _shared_url(args: argparse.Namespace, command: str) -> str:
    """The database of a worker or clock: from --config's file, else DATABASE_URL; PostgreSQL only."""
    from tracker.run.serve import require_postgres

    if args.config.exists() or command != "worker":
        config = load_config(args.config)
        url = config.effective_database_url(base=args.config.resolve().parent)
    elif os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
    else:
        raise ConfigError(f"{args.config}: no such file, and DATABASE_URL is not set: where is the database?")
    require_postgres(url, command)
    return url


def cmd_worker(args: argparse.Namespace) -> int:
    from tracker.run.serve import run_worker

    url = _shared_url(args, "worker")
    if args.concurrency < 1:
        raise TrackerError(f"--concurrency {args.concurrency}: must be at least 1")
    run_worker(
        url,
        queues=args.queue or ["default"],
        concurrency=args.concurrency,
        name=args.name,
        on_summary=_log_summary,
    )
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from tracker.run.serve import run_clock

    url = _shared_url(args, "scheduler")
    if args.stalled_after < 10:
        raise TrackerError(f"--stalled-after {args.stalled_after:g}: must be at least 10 seconds")
    run_clock(url, args.config, name=args.name, stalled_after=args.stalled_after)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from tracker.run.status import print_status

    config = load_config(args.config)
    if config.effective_database_url(base=args.config.resolve().parent).startswith("sqlite"):
        # One process and no queue, whatever the file holds: said without loading the storage layer
        # (a third of a second) or opening, let alone creating, the database.
        return print_status(None, config, as_json=args.json)
    from db.queries import cluster_health

    health = cluster_health(_engine(config, args.config))
    return print_status(health, config, as_json=args.json)


def cmd_migrate_db(args: argparse.Namespace) -> int:
    from db.engine import make_engine
    from db.transfer import copy_database

    config = load_config(args.config)
    source = args.source or config.effective_database_url(base=args.config.resolve().parent)
    if sa_url_equal(source, args.to):
        raise TrackerError("--to: the target is the database the config already uses")
    src, dst = make_engine(source), make_engine(args.to)
    for table, copied in copy_database(src, dst):
        print(f"{table}: {copied} rows", flush=True)
    print(f"done: point database_url (or DATABASE_URL) at {redact_url(args.to)}")
    return 0


def sa_url_equal(a: str, b: str) -> bool:
    """Whether two database URLs name the same database."""
    import sqlalchemy as sa

    return sa.make_url(a).render_as_string(hide_password=True) == sa.make_url(b).render_as_string(
        hide_password=True
    )


def redact_url(url: str) -> str:
    """A database URL with its password hidden."""
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_dashboard(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    _engine(config, args.config)
    # A service manager stops with SIGTERM: take the server process down too, as Ctrl+C does,
    # instead of leaving it serving on its own.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        proc = _start_dashboard(config, args.config, args.host, args.port)
    except KeyboardInterrupt:
        return 0  # serve() stopped the half-started server
    try:
        return int(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        return 0


def _local_zone() -> str:
    """This machine's IANA time zone, so the demo shows times as the user's clock does."""
    from tzlocal import get_localzone_name

    from tracker.zones import zone_named

    try:
        name = get_localzone_name()
    except Exception:  # tzlocal raises several kinds on odd systems; UTC is a fine fallback
        return "UTC"
    return name if name and zone_named(name) is not None else "UTC"


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from tracker.config import parse_text
    from tracker.demo import DemoClock, DemoStore, demo_config_text
    from tracker.demo.catalogue import Launch

    def launch() -> Launch:
        # The scripted release goes live when its last phase starts, right after the timeline.
        live_in = timedelta(seconds=(8 * args.step_seconds) / args.speed)
        moved_to = (datetime.now(UTC) + live_in).replace(second=0, microsecond=0)
        return Launch(announced=(moved_to + timedelta(days=2)).date(), moved_to=moved_to)

    clock = DemoClock(speed=args.speed)
    store = DemoStore(clock=clock, step_seconds=args.step_seconds, launch=launch())
    base = store.start(port=args.store_port)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "config.toml"
    text = demo_config_text(
        base, data_dir=".", interval=args.interval, releases=True, inbox=True, timezone=_local_zone()
    )
    parse_text(text, str(config_path))
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    log.info(
        "demo store on %s (timeline: %d steps, one every %ss of store time, speed x%s)",
        base,
        len(store.steps),
        args.step_seconds,
        args.speed,
    )
    for step in store.steps:
        log.info("  step %d at +%gs: %s", step.index, step.offset, step.description)
    log.info("demo config written to %s", config_path)
    try:
        with _open_for_run(config, config_path):
            dash = None if args.no_dashboard else _start_dashboard(config, config_path, args.host, args.port)
            # The timeline starts with the tracker, not before the dashboard was up: the first check
            # sees the baseline however long the dashboard took to start, and the markdown after it.
            clock.restart()
            store.launch = launch()
            try:
                asyncio.run(_serve(config, config_path, on_summary=_log_summary))
            finally:
                if dash is not None:
                    dash.terminate()
                    dash.wait(10)
    finally:
        store.stop()
    return 0


def _selectors(args: argparse.Namespace) -> Selectors | None:
    if not args.selector:
        return None
    from tracker.config import Selectors

    values: dict[str, str] = {}
    for item in args.selector:
        key, sep, value = item.partition("=")
        if not sep or key not in Selectors.model_fields:
            keys = ", ".join(Selectors.model_fields)
            raise ConfigError(f"--selector {item!r}: expected KEY=SELECTOR with KEY one of {keys}")
        values[key] = value
    return Selectors(**values)


def _body_cap(config_path: Path) -> int:
    """max_body_bytes from the config when there is one (a page the tracker would refuse is refused).

    The whole config is loaded (and validated) only when it sets the key or cannot be read as TOML:
    reading one page should not cost the config's schema.
    """
    import tomllib

    from tracker import DEFAULT_MAX_BODY_BYTES

    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_MAX_BODY_BYTES
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raw = {"defaults": {"max_body_bytes": None}}  # load_config says what is wrong
    defaults = raw.get("defaults")
    if not isinstance(defaults, dict) or "max_body_bytes" not in defaults:
        return DEFAULT_MAX_BODY_BYTES
    return load_config(config_path).defaults.max_body_bytes


def _read_capped(args: argparse.Namespace) -> tuple[bytes, str]:
    """The page to read, refused when it is larger than the checks would read."""
    cap = _body_cap(args.config)
    if args.file in (None, "-"):
        body, name = sys.stdin.buffer.read(cap + 1), "<stdin>"
    else:
        path = Path(args.file)
        try:
            with path.open("rb") as fh:
                body = fh.read(cap + 1)
        except OSError as exc:
            raise TrackerError(f"{path}: cannot read: {exc.strerror}") from None
        name = str(path)
    if len(body) > cap:
        raise TrackerError(
            f"{name}: larger than max_body_bytes ({cap:,} bytes): a check would refuse it as too_large"
        )
    return body, name


def cmd_extract(args: argparse.Namespace) -> int:
    from tracker.extract import extract_body
    from tracker.sizes import SYSTEMS, system_named

    system = system_named(args.size_system) if args.size_system else None
    if args.size_system and system is None:
        raise ConfigError(f"--size-system {args.size_system!r}: use one of {', '.join(SYSTEMS)} (jp = cm)")
    body, name = _read_capped(args)
    if not body.strip():
        raise TrackerError(f"{name}: empty input")
    content_type = "application/json" if name.endswith((".json", ".js")) else None
    products = extract_body(
        body,
        url=args.url,
        content_type=content_type,
        selectors=_selectors(args),
        currency=args.currency,
        query=args.query,
    )
    # Sizes placed as a check would: the label, --size-system (a source's size_system), the country.
    out: Any = [p.placed_sizes(system=system).to_json() for p in products]
    if len(out) == 1:
        out = out[0]
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _print_probe(found: Any, config: Config) -> None:
    from rich.console import Console
    from rich.table import Table

    from tracker.money import format_money

    console = Console()
    if not found.readable:
        console.print(f"[red]cannot track[/] {found.url}: {found.problem}")
        console.print(found.reason or "")
        return
    how = f"{found.kind} (rendered in headless Chromium)" if found.render else found.kind
    console.print(f"[bold]{found.url}[/] is a [green]{how}[/] source")
    if found.products:
        table = Table(title="what the tracker reads there")
        for column in ("title", "style code", "colorway", "price", "stock", "sizes", "read by"):
            table.add_column(column, overflow="fold")
        for p in found.products:
            price = format_money(Decimal(p.price), p.currency, config.locale) if p.price else "no price"
            sizes = ", ".join(
                s["size"] + ("" if s["availability"] == "InStock" else " (sold out)") for s in p.sizes
            )
            colorway = p.colorway or ("new 2002R (not in the catalogue)" if p.is_2002r else "not a 2002R")
            table.add_row(
                p.title or "", p.style_code or "", colorway, price, p.availability, sizes, p.read_by or ""
            )
        console.print(table)
    for r in found.releases:
        code = r.style_code or "no style code"
        console.print(f"release: {r.name} ({code}) on {r.date or 'TBC'} [{r.region}]", markup=False)
    for note in found.notes:
        console.print(f"note: {note}")
    if found.existing:
        console.print(f"[yellow]config.toml already has a source for this URL: {found.existing}[/]")
    if found.source:
        from tracker.configedit import add_source

        console.print("\nthe source it would add:")
        console.print(add_source("", found.source).strip(), markup=False, highlight=False)


async def _probe(url: str, config: Config, name: str | None) -> Any:
    from functools import partial

    from tracker.check.pool import PagePool, start_fork_server, stop_fork_server
    from tracker.fetch import Fetcher
    from tracker.probe import probe

    # The page is read in a page reader with the check's time limit: a page built to be slow to
    # parse ends the probe with a reason after [defaults] extract_timeout, never holds it. The
    # reader's fork server loads the page and calendar readers (not the check's collectors) on
    # another core while the page is fetched.
    start_fork_server(["page", "release_calendar"], collectors=False)
    try:
        with PagePool(1) as pool:
            read = partial(pool.run, time_limit=config.defaults.extract_timeout)
            async with Fetcher(config.defaults, render=config.render) as fetcher:
                return await probe(url, config, fetcher, name=name, read=read)
    finally:
        stop_fork_server()


def cmd_add(args: argparse.Namespace) -> int:
    import asyncio

    from tracker.configedit import add_source, write

    config = load_config(args.config)
    found = asyncio.run(_probe(args.url, config, args.name))
    if args.currency and found.source is not None:
        found.source["currency"] = args.currency.upper()
    if args.json:
        print(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_probe(found, config)
    if not found.readable:
        return 1
    if args.write:
        if found.existing:
            url = found.source["url"]
            raise ConfigError(f"{args.config}: source {found.existing!r} already checks {url}")
        text = Path(args.config).read_text(encoding="utf-8")
        write(Path(args.config), add_source(text, found.source))
        print(f"added source {found.source['name']!r} to {args.config}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from db.export import observation_rows

    config = load_config(args.config)
    engine = _engine(config, args.config)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise TrackerError(f"--since {args.since!r}: expected a date such as 2026-11-01") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=config.tz())
        since = since.astimezone(UTC)
    rows = observation_rows(engine, since=since)
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            out.write(json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n")
        else:
            fields = [
                "observed_at",
                "colorway",
                "style_code",
                "shop",
                "title",
                "url",
                "price",
                "currency",
                "compare_at",
                "availability",
                "sizes",
                "suspect",
            ]
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                row["sizes"] = json.dumps(row["sizes"], ensure_ascii=False)
                writer.writerow(row)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _deliver(config: Config, config_path: Path, args: argparse.Namespace) -> int:
    """Run the outbox sender on its own: due alerts every --interval seconds."""
    import asyncio
    import time

    from tracker.notify.outbox import deliver_due, unfinished, warm_up_channels

    engine = _engine(config, config_path)
    warm_up_channels(config)
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    while True:
        stats = asyncio.run(deliver_due(engine, config))
        if stats.sent or stats.failed or stats.retried:
            print(f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}", flush=True)
        if args.once or (args.until_done and not unfinished(engine)):
            return 0
        if deadline is not None and time.monotonic() > deadline:
            return 1
        time.sleep(args.interval)


def cmd_alerts(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.alerts_command == "deliver":
        _require_secrets(config, args.config)
        return _deliver(config, args.config, args)
    if args.alerts_command == "test":
        if not config.alerts.channels:
            raise ConfigError(f"{args.config}: alerts.channels is empty: add a channel to test")
        from tracker.notify import outbox
        from tracker.notify.inbox import is_inbox_url

        # Only the inbox channel writes to the database: open it only when one is configured.
        needs_db = any(is_inbox_url(c.url) for c in config.alerts.channels)
        engine = _engine(config, args.config) if needs_db else None
        results = outbox.send_test(config, args.channel, engine=engine)
        for name, ok, error in results:
            why = "" if ok else f" ({redact(error or 'unknown error')})"
            print(f"{name}: {'sent' if ok else 'FAILED'}{why}")
        return 0 if all(ok for _, ok, _ in results) else 1
    # Listing reads the outbox table only: no channel library (Apprise loads all its plugins, ~0.7 s).
    from db import queries

    rows = queries.deliveries(_engine(config, args.config), limit=args.limit)
    if not rows:
        print("no deliveries yet")
        return 0
    tz = config.tz()
    for row in rows:
        when = row.sent_at or row.created_at
        stamp = when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        error = f"  error: {row.last_error}" if row.last_error else ""
        print(f"{stamp}  {row.channel}  {row.status}  {row.event_message}{error}")
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    from tracker.calendar import build_ics, write_ics

    config = load_config(args.config)
    # The feed follows config.toml even when no tracker is running: sync its release dates first.
    engine = _build_pipeline(config, args.config, None, None).engine
    if args.ics == "-":
        sys.stdout.buffer.write(build_ics(engine, config))
        return 0
    try:
        count = write_ics(engine, config, args.ics)
    except OSError as exc:
        raise TrackerError(f"{args.ics}: cannot write: {exc.strerror}") from None
    print(f"{count} releases written to {args.ics}", file=sys.stderr)
    return 0
