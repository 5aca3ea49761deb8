"""How long a person waits for the `tracker` command, from process start to exit.

    .venv/bin/python bench/bench_cli.py [--runs 7] [--per-host-delay SECONDS]

Times, as median and best of --runs fresh processes: a bare `python -c pass` (the baseline every
command pays), `tracker --help`, `tracker extract` of a small JSON-LD page, and `tracker check` of
one local Shopify store listing 300 products (a real HTTP server on 127.0.0.1): first with a new
SQLite file each run (every run migrates and writes 300 listings), then again and again on one
database already holding them (the every-minute cron case: nothing changed, nothing new to write);
last `tracker alerts list` on that database (a read of the outbox).
Prints each with its ratio to the baseline, the CPU time of the command's own process (steadier
than wall time on a busy machine; the page readers' processes are not in it) and the modules each
command imported.

The store's catalogue is two pages (250 products a page), and the tracker waits per_host_delay
(1 s by default) between the starts of two requests to one host: a check cannot end sooner than
that after its first request. --per-host-delay sets it in the bench's config (0: the tracker's own
time alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGE = (
    '<html><head><script type="application/ld+json">{"@type": "Product", "name": "New Balance 2002R",'
    ' "sku": "M2002RDA", "offers": {"price": "150.00", "priceCurrency": "USD",'
    ' "availability": "https://schema.org/InStock"}}</script></head><body><h1>2002R</h1></body></html>'
)


def _product(i: int) -> dict[str, object]:
    code = f"M2002R{i:03d}"
    return {
        "id": 1000 + i,
        "title": f"New Balance 2002R {code}",
        "handle": f"2002r-{i}",
        "vendor": "New Balance",
        "product_type": "Sneakers",
        "tags": ["2002R"],
        "variants": [
            {
                "id": 100_000 + i * 20 + s,
                "title": str(size),
                "option1": str(size),
                "sku": f"{code}-{size}",
                "available": s % 3 != 0,
                "price": "150.00",
                "compare_at_price": None,
            }
            for s, size in enumerate((7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 12))
        ],
        "images": [],
    }


class _Store(BaseHTTPRequestHandler):
    products: ClassVar[list[dict[str, object]]] = [_product(i) for i in range(300)]

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/products.json":
            self.send_error(404)
            return
        query = parse_qs(parts.query)
        limit = min(int(query.get("limit", ["30"])[0]), 250)
        page = max(int(query.get("page", ["1"])[0]), 1)
        body = json.dumps({"products": self.products[(page - 1) * limit : page * limit]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _remove(db: Path) -> None:
    for f in db.parent.glob(db.name + "*"):
        f.unlink()


def _run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Run argv as a person's shell would, with its output read to the end: the wall time until
    that end, and the CPU time of the command's own process (its helpers, such as the page readers'
    fork server, not counted, whether or not it waited for them)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda name=name, pipe=pipe: out.update({name: pipe.read()}))
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    # Exited but not yet reaped, the process still has its own CPU times in /proc (fields 14 and 15;
    # its children's are apart, in 16 and 17).
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    code = proc.wait()
    for reader in readers:
        reader.join()
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{argv} exited with {code}: {out.get('stderr', b'').decode()[-2000:]}")
    return wall, cpu


def _time(
    argv: list[str], cwd: Path, runs: int, db: tuple[str, Path] | None = None
) -> tuple[float, float, float]:
    """Median and best wall time of runs, and the median CPU time of the command's own process;
    db: ("fresh", path) removes it before each run, ("kept", path) makes it once (an untimed run)
    and keeps it."""
    if db is not None and db[0] == "kept":
        _remove(db[1])
        _run(argv, cwd)
    times, cpu = [], []
    for _ in range(runs):
        if db is not None and db[0] == "fresh":
            _remove(db[1])
        wall, used = _run(argv, cwd)
        times.append(wall)
        cpu.append(used)
    return statistics.median(times), min(times), statistics.median(cpu)


def _modules(args: list[str], cwd: Path) -> int:
    probe = (
        "import sys\nfrom tracker.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(len(sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    return int(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--per-host-delay", type=float, help="the config's per_host_delay (default: 1 s)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "page.html").write_text(PAGE, encoding="utf-8")
        delay = "" if args.per_host_delay is None else f"per_host_delay = {args.per_host_delay}\n"
        (work / "config.toml").write_text(
            f'database_url = "sqlite:///tracker.db"\n[defaults]\nrespect_robots = false\n{delay}'
            f'[[sources]]\nname = "Local Shopify"\nkind = "shopify"\nurl = "{base}"\n',
            encoding="utf-8",
        )
        py = [sys.executable]
        cli = [*py, "-m", "tracker.cli"]
        check = [*cli, "check", "--quiet"]
        rows: list[tuple[str, list[str], list[str] | None, tuple[str, Path] | None]] = [
            ("python -c pass (baseline)", [*py, "-c", "pass"], None, None),
            ("tracker --help", [*cli, "--help"], ["--help"], None),
            ("tracker extract (small page)", [*cli, "extract", "page.html"], ["extract", "page.html"], None),
            ("tracker check (Shopify, 300, new db)", check, None, ("fresh", work / "tracker.db")),
            ("tracker check again (unchanged)", check, ["check", "--quiet"], ("kept", work / "tracker.db")),
            ("tracker alerts list", [*cli, "alerts", "list"], ["alerts", "list"], None),
        ]
        baseline = None
        print(f"{'command':<40} {'median':>8} {'best':>8} {'x base':>7} {'cpu':>8} {'modules':>8}")
        for name, argv, probe_args, db in rows:
            median, best, cpu = _time(argv, work, args.runs, db)
            baseline = baseline or median
            loaded = _modules(probe_args, work) if probe_args else 0
            print(
                f"{name:<40} {median * 1000:7.0f}ms {best * 1000:7.0f}ms"
                f" {median / baseline:6.1f}x {cpu * 1000:6.0f}ms {loaded or '':>8}"
            )
    server.shutdown()


if __name__ == "__main__":
    main()
