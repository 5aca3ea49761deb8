"""Run the demo store alone: python -m tracker.demo [--port N] [--speed X] [--print-config]."""

from __future__ import annotations

import argparse
import threading

from tracker.demo.config import demo_config_text
from tracker.demo.server import DemoClock, DemoStore


def main(argv: list[str] | None = None) -> int:
    """Serve the demo store until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tracker.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--speed", type=float, default=1.0, help="store seconds per real second")
    parser.add_argument("--step-seconds", type=float, default=60.0, help="store seconds between steps")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--bench-products", type=int, default=0, help="serve /bench/p/<i>.html pages")
    parser.add_argument("--print-config", action="store_true", help="print a config.toml for this store")
    args = parser.parse_args(argv)
    store = DemoStore(
        clock=DemoClock(args.speed),
        step_seconds=args.step_seconds,
        latency=args.latency,
        bench_products=args.bench_products,
    )
    base = store.start(args.host, args.port)
    if args.print_config:
        print(demo_config_text(base))
    print(f"demo store at {base} (boutique: {base}/boutique, brand store: {base}/brand)")
    for step in store.steps:
        print(f"  step {step.index} at +{step.offset:g}s store time: {step.description}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        store.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
