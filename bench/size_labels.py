"""Count the size labels the extractor reads and how many are placed in a size system.

Two sets: the project's own size fixtures (tests/data/sizes, read with the shop context each test
gives them, plus tests/data/extract read as they come) and the labelled product pages of peb-dev
(structured data only: what extract_page reads as per-size stock), each read as a source with no
size_system would read it (the page's URL and currency). Prints placed (by where the system came
from), unplaced, and how many placed sizes convert to US men's on New Balance's chart.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.errors import ExtractError
from tracker.extract import extract_body, extract_page
from tracker.extract.model import Product

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEB = ROOT.parent / "shared" / "data" / "peb-dev"  # as bench/extraction_eval.py finds it


def _fixture_products() -> list[Product]:
    from tests.test_sizes import DATA, SHAPES

    out: list[Product] = []
    for fixture, url, currency, system, _ in SHAPES:
        content_type = "application/json" if fixture.endswith((".json", ".js")) else None
        products = extract_body(
            (DATA / fixture).read_bytes(), url=url, content_type=content_type, currency=currency, query=None
        )
        out.extend(p.placed_sizes(system=system) for p in products)
    for path in sorted((ROOT / "tests" / "data" / "extract").iterdir()):
        content_type = "application/json" if path.suffix in (".json", ".js") else None
        try:
            products = extract_body(path.read_bytes(), content_type=content_type, query=None)
        except ExtractError:  # a JSON fixture with no Shopify shape has no sizes
            continue
        out.extend(p.placed_sizes() for p in products)
    return out


def _peb_products(folder: Path) -> list[Product]:
    labels = json.loads((folder / "labels.json").read_text())
    out = []
    for page_id, label in sorted(labels.items()):
        body = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        out.append(extract_page(body, label.get("url")).placed_sizes())
    return out


def _report(name: str, products: list[Product]) -> None:
    sizes = [s.placed for p in products for s in p.sizes if s.placed is not None]
    pages = sum(1 for p in products if p.sizes)
    via = Counter(s.via for s in sizes if s.placed)
    placed = sum(via.values())
    convertible = sum(1 for s in sizes if s.placed and s.us is not None)
    unplaced = sorted({s.label for s in sizes if not s.placed})
    print(f"{name}: {len(sizes)} size labels on {pages} of {len(products)} products")
    print(f"  placed    {placed:>4}  ({', '.join(f'{k} {v}' for k, v in sorted(via.items()))})")
    guessed = sum(1 for s in sizes if s.guessed)
    print(f"  guessed   {guessed:>4}  (from the shop's country or the number's range)")
    print(f"  on the chart (convert to US men's) {convertible}")
    print(f"  unplaced  {len(sizes) - placed:>4}  {unplaced}")


def main(argv: list[str] | None = None) -> int:
    """Print the counts for the fixtures and for peb-dev."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peb", nargs="?", default=str(DEFAULT_PEB), help="folder with labels.json and html/")
    args = parser.parse_args(argv)
    _report("fixtures", _fixture_products())
    peb = Path(args.peb)
    if (peb / "labels.json").exists():
        _report("peb-dev (structured data)", _peb_products(peb))
    else:
        print(f"peb-dev: no labels.json in {peb}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
