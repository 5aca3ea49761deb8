"""Mutation score of the modules where a silent bug costs a user money or an alert.

Run: python bench/mutation.py [--no-run] [--max-children N] [--survivors]

Runs mutmut over the modules listed in pyproject.toml's [tool.mutmut] (prices, events, the sanity
guard, alert rules and planning, drop mode, fetch politeness, the list-price rule), then prints per
module: mutants, killed, survived, equivalent (listed in bench/mutation_equivalent.txt with the
reason each cannot change behaviour), and the score = killed / (all - equivalent).
--no-run reads the last run's results; --survivors lists the surviving mutants' names
(`mutmut show NAME` prints the change).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")
KILLED, SURVIVED, TIMEOUT = 1, 0, 36  # mutmut's exit codes per mutant (a timeout counts as killed)


def equivalent() -> set[str]:
    """Mutant names judged equivalent: one per line, then ' # why'."""
    if not EQUIVALENT.exists():
        return set()
    names = set()
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def results() -> dict[str, dict[str, int | None]]:
    """Module path -> {mutant name: exit code or None when not run}."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        data = json.loads(meta.read_text(encoding="utf-8"))
        out[module] = dict(data.get("exit_code_by_key", {}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="read the last run's results only")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args()
    if not args.no_run:
        mutmut = Path(sys.executable).with_name("mutmut")
        subprocess.run([str(mutmut), "run", "--max-children", str(args.max_children)], cwd=ROOT, check=False)
    known = equivalent()
    rows = []
    total = Counter()
    survivors: list[str] = []
    for module, codes in results().items():
        counts = Counter()
        for name, code in codes.items():
            if name in known:
                counts["equivalent"] += 1
            elif code in (KILLED, TIMEOUT):
                counts["killed"] += 1
            elif code == SURVIVED:
                counts["survived"] += 1
                survivors.append(name)
            else:
                counts["not run"] += 1
        counts["mutants"] = len(codes)
        total.update(counts)
        rows.append((module, counts))
    head = ("mutants", "killed", "survived", "equiv.", "not run", "score")
    print(f"{'module':36} " + " ".join(f"{h:>8}" for h in head))
    for module, c in [*rows, ("all", total)]:
        judged = c["killed"] + c["survived"]
        score = f"{c['killed'] / judged:.1%}" if judged else "-"
        cells = (c["mutants"], c["killed"], c["survived"], c["equivalent"], c["not run"], score)
        print(f"{module:36} " + " ".join(f"{v:>8}" for v in cells))
    if args.survivors:
        print("\nsurvivors (mutmut show NAME):")
        for name in survivors:
            print(" ", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
