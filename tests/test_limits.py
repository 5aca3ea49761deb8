"""Limits before parsing: nesting bounded the way browsers bound it, JSON nesting and size refused."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from tests.servers import product_page
from tracker.errors import ExtractError
from tracker.extract import extract_body, extract_page
from tracker.extract.calendar import extract_releases
from tracker.extract.jsonld import loads_lenient
from tracker.extract.limits import (
    _SKIPPED_NAMES,
    _VOID,
    MAX_HTML_DEPTH,
    _depth_of,
    _shallow,
    _tags,
    bound_depth,
    html_depth,
    json_depth,
    parse_json,
    tag_scanner,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
URL = "https://shop.example/products/m2002rdb"


def nested(page: str, levels: int, tag: str = "div") -> str:
    return page.replace("<main>", "<main>" + f"<{tag}>" * levels).replace(
        "</main>", f"</{tag}>" * levels + "</main>"
    )


@pytest.mark.parametrize(
    "path", sorted((DATA / "extract").glob("*.htm*")) + sorted((DATA / "releases").glob("*.htm*"))
)
def test_real_shaped_pages_are_left_as_they_are(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "replace")
    assert bound_depth(text) is text
    assert html_depth(text) < MAX_HTML_DEPTH
    # The quick bound vouches for them: the exact count is never needed for an ordinary page.
    assert _shallow(_tags(text), MAX_HTML_DEPTH)


@pytest.mark.parametrize("tag", ["div", "span", "b", "a", "table"])
def test_150000_nested_elements_are_cut_to_the_bound_and_the_product_still_read(tag: str) -> None:
    page = nested(product_page("150.00"), 150_000, tag)
    bounded = bound_depth(page)
    assert html_depth(bounded) <= MAX_HTML_DEPTH
    # What a parser then builds is no deeper either.
    node = LexborHTMLParser(bounded).css_first("main")
    depth = 0
    while node is not None and node.child is not None:
        node = node.child
        depth += 1
    assert depth <= MAX_HTML_DEPTH + 2
    product = extract_page(page, URL)
    assert (product.price, product.currency) == (Decimal("150.00"), "USD")


def test_text_inside_dropped_elements_is_kept() -> None:
    page = "<html><body>" + "<div>x" * 1000 + "</div>" * 1000 + "<p id=tail>tail</p></body></html>"
    bounded = bound_depth(page)
    tree = LexborHTMLParser(bounded)
    assert (tree.body.text() if tree.body else "").count("x") == 1000
    assert tree.css_first("#tail").text() == "tail"


def test_markup_inside_scripts_svg_and_comments_is_not_counted_or_cut() -> None:
    description = "<div>" * 400  # HTML in a JSON-LD string is text, not elements
    ld = json.dumps(
        {
            "@type": "Product",
            "name": "2002R M2002RDB",
            "description": description,
            "offers": {"@type": "Offer", "price": "150.00", "priceCurrency": "USD"},
        }
    )
    svg = "<svg>" + "<path d='M0 0'/>" * 400 + "</svg>"
    comment = "<!--" + "<div>" * 400 + "-->"
    head = f'<head><script type="application/ld+json">{ld}</script></head>'
    page = f"<html>{head}<body>{svg}{comment}</body></html>"
    assert bound_depth(page) is page
    assert extract_page(page, URL).price == Decimal("150.00")


def test_unclosed_list_items_and_paragraphs_do_not_add_up_to_depth() -> None:
    items = "<ul>" + "<li>size" * 2000 + "</ul>" + "<p>text" * 2000
    page = f"<html><body>{items}<h1>2002R</h1></body></html>"
    assert html_depth(page) < 10
    assert bound_depth(page) is page


def test_jsonld_nested_100000_deep_is_skipped_without_a_recursion_error() -> None:
    page = product_page("150.00").replace(
        '<script type="application/ld+json">',
        '<script type="application/ld+json">'
        + "[" * 100_000
        + "]" * 100_000
        + '</script><script type="application/ld+json">',
    )
    product = extract_page(page, URL)
    assert product.price == Decimal("150.00")


def test_a_json_body_nested_too_deeply_is_one_extract_error() -> None:
    with pytest.raises(ExtractError, match="nested too deeply"):
        extract_body(b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    with pytest.raises(ExtractError, match="nested too deeply"):
        parse_json('{"products": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert json_depth("[" * 500 + "]" * 500) == 500


def test_json_depth_reads_strings_as_before_and_long_runs_in_one_pass() -> None:
    """The same depth as the earlier pattern (which failed on a string never closed and went on at the
    next quote) on 20,000 random texts; and runs of a million characters whose strings never close,
    which that pattern took the square of their length over (hours), in one pass."""
    import re
    from itertools import accumulate

    earlier = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
    step = {"[": 1, "{": 1, "]": -1, "}": -1}

    def depth_before(text: str) -> int:
        brackets = [c for c in earlier.sub("", text) if c in step]
        return max(accumulate(step[c] for c in brackets), default=0)

    rng = random.Random(11)
    pieces = ['"', "\\", "[", "]", "{", "}", "x", ",", ":", "\n", '\\"', "[[", '"]']
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        if "\\\n" in text:
            continue  # a backslash before a line end: the earlier pattern did not read it as an escape
        assert json_depth(text) == depth_before(text), text
    for run in ('"\\', '"\\[', '["', '\\"'):
        text = "[" * 70 + run * (1_000_000 // len(run))
        assert json_depth(text) >= 70  # an unclosed string's brackets still count


def test_a_jsonld_block_whose_repair_unhides_deep_nesting_is_skipped() -> None:
    """A "//" line holding a quote makes the brackets after it look quoted to the depth check; taking
    the line out (a repair for comments) makes them data. Still no structured data, never a crash."""
    block = '{"a": 1}\n// "\n' + "[" * 100_000 + "]" * 100_000 + ' "'
    page = product_page("150.00").replace(
        '<script type="application/ld+json">',
        f'<script type="application/ld+json">{block}</script><script type="application/ld+json">',
    )
    assert loads_lenient(block) is None
    product = extract_page(page, URL)
    assert product.price == Decimal("150.00")


def test_a_calendar_page_with_150000_nested_elements_beside_its_releases_is_read() -> None:
    page = (DATA / "releases" / "release_boxes.html").read_text(encoding="utf-8")
    deep = page.replace("<body>", "<body><aside>" + "<div>" * 150_000 + "</div>" * 150_000 + "</aside>", 1)
    assert html_depth(deep) > 150_000
    assert (
        len(extract_releases(deep, "https://cal.example/"))
        == len(extract_releases(page, "https://cal.example/"))
        > 0
    )


def _parser_depth(page: str) -> int:
    node = LexborHTMLParser(page).body
    depth = 0
    while node is not None and node.child is not None:
        node = node.last_child if node.last_child is not None else node.child
        depth += 1
    return depth


@pytest.mark.parametrize(
    "page",
    [
        # Stray end tags first, so that a counter of start minus end tags stays at 0.
        "</div>" * 20_000 + "<div>" * 20_000 + "x",
        "</span>" * 20_000 + "<div>" * 20_000 + "x",
        # An end tag after every start tag, but never of an open element.
        "<div></span>" * 20_000 + "x",
        "<DIV></Span>" * 20_000 + "x",
        # Voids and self-closing siblings between them change nothing.
        "<div><br><li></li></p>" * 20_000 + "x",
    ],
    ids=["same-name-first", "other-name-first", "interleaved", "upper-case", "voids-and-siblings"],
)
def test_a_deep_page_behind_stray_end_tags_is_still_bounded(page: str) -> None:
    html = f"<html><body>{page}</body></html>"
    assert html_depth(html) > 20_000
    assert not _shallow(_tags(html), MAX_HTML_DEPTH)
    bounded = bound_depth(html)
    assert html_depth(bounded) <= MAX_HTML_DEPTH
    assert _parser_depth(bounded) <= MAX_HTML_DEPTH + 2


def _reference_depth(tags: list[str]) -> int:
    """The stack rules written the plain way: every tag lower-cased, end tags close the nearest."""
    names: list[str] = []
    deepest = 0
    for found in tags:
        tag = found.lower()
        if tag.startswith("/"):
            if tag[1:] in names:
                del names[len(names) - 1 - names[::-1].index(tag[1:]) :]
        elif tag not in _VOID:
            if (
                names
                and names[-1] == tag
                and tag in ("p", "li", "dt", "dd", "option", "tr", "td", "th", "rt", "rp")
            ):
                continue
            names.append(tag)
            deepest = max(deepest, len(names))
    return deepest


def test_the_depth_follows_the_stack_rules_on_random_tags() -> None:
    rng = random.Random(15)
    names = ["div", "DIV", "span", "p", "P", "li", "td", "tr", "option", "br", "img", "a", "Straße", "İ"]
    for _ in range(5_000):
        tags = [("/" if rng.random() < 0.45 else "") + rng.choice(names) for _ in range(rng.randint(0, 60))]
        assert _depth_of(tags) == _reference_depth(tags), tags


def _random_tags(rng: random.Random) -> list[str]:
    """Tags as hostile pages write them: stray end tags, twins of self-siblings, voids, any case."""
    names = ["div", "DIV", "Div", "span", "p", "P", "li", "LI", "td", "option", "br", "img", "a", "b"]
    names += ["İ", "Straße"]
    shape = rng.random()
    tags: list[str] = []
    for _ in range(rng.randint(0, 80)):
        name = rng.choice(names[: rng.randint(1, len(names))])
        if shape < 0.3:  # mostly opening: deep
            end = rng.random() < 0.2
        elif shape < 0.6:  # an end tag of another name after every start tag
            end = bool(len(tags) % 2)
        else:
            end = rng.random() < 0.5
        tags.append(("/" if end else "") + name)
    return tags


def test_the_quick_bound_never_vouches_for_a_page_deeper_than_the_limit() -> None:
    rng = random.Random(1515)
    vouched = deep_behind_stray_end_tags = 0
    for _ in range(20_000):
        tags = _random_tags(rng)
        depth = _depth_of(tags)
        limit = rng.randint(1, 40)
        if _shallow(tags, limit):
            vouched += 1
            assert depth <= limit, (limit, tags)
        # What a count of start minus end tags would have let through: the test must hold those.
        steps = [-1 if t.startswith("/") else 0 if t.lower() in _VOID else 1 for t in tags]
        running = [sum(steps[: i + 1]) for i in range(len(steps))]
        if depth > limit >= max(running, default=0):
            deep_behind_stray_end_tags += 1
    assert vouched > 5_000
    assert deep_behind_stray_end_tags > 500


@pytest.mark.parametrize("limit", [1, 2, 5, 20])
def test_the_quick_bound_follows_nesting_and_unclosed_tags(limit: int) -> None:
    nested = ["div"] * limit + ["/div"] * limit
    assert _shallow(nested * 50, limit)
    assert not _shallow(["div", *nested], limit)
    # Unclosed list items count one each (the bound does not know they close one another).
    assert not _shallow(["li"] * (limit + 1), limit)
    assert _shallow(["li", "/li"] * 100, limit)


def test_a_page_of_more_names_than_the_quick_bound_tells_apart_is_counted_exactly() -> None:
    names = [f"x-part{i}" for i in range(300)]
    page = "<html><body>" + "".join(f"<{n}>a</{n}>" for n in names) * 2 + "</body></html>"
    assert not _shallow(_tags(page), MAX_HTML_DEPTH)
    assert html_depth(page) == 3
    assert bound_depth(page) is page


def _tree_depth(page: str) -> int:
    """How deep the tree the parser builds from the page is (the <html> element is 1)."""
    deepest = 0
    todo = [(LexborHTMLParser(page).root, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        child = node.child if node is not None else None
        while child is not None:
            if child.tag not in ("-text", "_comment", "-comment"):
                todo.append((child, depth + 1))
            child = child.next
    return deepest


# Pieces a page can be made of that a tokenizer reads in ways a quick scan gets wrong: names that
# run on past letters, quoted attribute values holding tags, comments ending early, text-only
# elements and what only looks like their end. End tags the tree builder may ignore or handle in
# other ways (of elements it does not count as special, of formatting elements, p, tables, foreign
# content) are left out: the scan follows the tokenizer, not every rule of the tree builder, and a
# page the builder still makes deep is given up on at its time limit by the page readers.
_PIECES = [
    "<div>", "</div>", "<DIV class='a'>", "<section>", "</section>", "<x-a>", "x", " ",
    "<", ">", "-", "->", "-->", "--!>", "<!--", "<!-->", "<!--->", "<!-", "<!x>", "<?x>", "</ x>", "</>",
    "<script>", "</script>", "</SCRIPT>", "</scriptx>", "</script >", "<scripts>", "<\u017fcript>",
    "<script.>", "<style>", "</style", "<title>", "</title>", "<textarea>", "</textarea>", "<xmp>",
    "</xmp>", "<iframe>", "</iframe>", "<noembed>", "</noembed>", "<noframes>", "</noframes>",
    "<br/>", "<div/>", "<div title='</div>'>", '<div a="x>">', "<div a=b>", '<div ="', '"', "'", "=",
    "<div.>", "<div\u212a>", "</DIV >", "</div a='>'>", "<1>", "</body>", "</html>", "</head>",
    "<div\tid=x/>", "<div a=/x/>",
]  # fmt: skip


def test_the_scan_counts_at_least_the_depth_the_parser_builds() -> None:
    rng = random.Random(15)
    for _ in range(4_000):
        page = "<html><body>" + "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 60)))
        # One more at most: a text-only element (a script, a style) is a leaf the scan does not count.
        assert _tree_depth(page) <= html_depth(page) + 1, page
        # Bounded at 6, the parser builds no deeper than that (html and body are two of the six).
        assert _tree_depth(bound_depth(page, 6)) <= 6 + 1, page


@pytest.mark.parametrize(
    "piece",
    [
        "<div></div.>",  # an end tag of another name: "div." closes no div
        "<div></div\u212a>",  # "div" and the Kelvin sign: no ASCII "k", so no "divk" either
        '<div a="</div>">',  # an end tag inside a quoted attribute value is text
        "<div a='</div>'>",
        "<div></div\x00>",
    ],
)
def test_end_tags_that_close_nothing_cannot_hide_nesting(piece: str) -> None:
    page = "<html><body>" + piece * 20_000
    assert html_depth(page) > 20_000
    assert _tree_depth(bound_depth(page)) <= MAX_HTML_DEPTH


@pytest.mark.parametrize(
    "opener",
    [
        *("<!-->", "<!--->", "<!-- --!>", "<script.>", "<title.>", "<\u017fcript>", '<script a="</script>">'),
        *("<svg/>", "<math />"),
    ],
    ids=[
        *("empty-comment", "empty-comment-dash", "bang-end", "script-dot", "title-dot", "long-s", "attr"),
        *("empty-svg", "empty-math"),
    ],
)
def test_what_only_looks_like_a_comment_or_a_script_cannot_hide_nesting(opener: str) -> None:
    page = "<html><body>" + opener + "<div>" * 20_000 + "</script>-->"
    assert _tree_depth(bound_depth(page)) <= MAX_HTML_DEPTH + 1


@pytest.mark.parametrize("end", ["</body>", "</html>", "</head>"])
def test_ending_the_body_again_and_again_cannot_reset_the_count(end: str) -> None:
    page = "<html><body>" + ("<div>" * 200 + end) * 100
    assert _tree_depth(page) > 20_000  # the parser keeps every <div> open
    assert _tree_depth(bound_depth(page)) <= MAX_HTML_DEPTH + 1


@pytest.mark.parametrize(
    ("page", "tags"),
    [
        # A script's hidden part ends at two or more dashes and ">": a million dashes that do not.
        ("<script><!--" + "-" * 1_000_000 + "x--></script><div>", ["div"]),
        # "-->" ends the hiding: the first "</script>" ends the script, the second is a stray end tag.
        ("<script><!--<script>" + "--" * 500_000 + "x--></script></script><p>", ["/script", "p"]),
        ("<script><!--" + "->" * 500_000 + "</script><b>", ["b"]),
        ("<!--" + "-" * 1_000_000 + "x--><i>", ["i"]),
        ("<a" + ' b="c"' * 200_000 + "><i>", ["a", "i"]),
        ("<a" + " /" * 500_000 + "><i>", ["a", "i"]),
    ],
    ids=["script-dashes", "double-escaped-dashes", "arrows", "comment-dashes", "attributes", "slashes"],
)
def test_long_runs_are_read_in_one_pass(page: str, tags: list[str]) -> None:
    # Each a million characters: a rule that looked ahead over the run at every character of it
    # would take hours here (the suite's per-test timeout stops it), one pass takes milliseconds.
    assert _tags(page) == tags


def test_the_scan_finds_text_only_elements_by_their_ascii_names_only() -> None:
    # Case is folded for ASCII letters only, as a parser folds it: "\u017fcript" (a long s) and a
    # Kelvin sign in front of a name open elements of their own, whose content is markup.
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001d42c", "\U0001f600"]
    for name in [*_SKIPPED_NAMES, "!--"]:
        for char in chars:
            match = tag_scanner().match(f"<{char}{name[1:]}>")
            skipped = match is not None and match.group(1) is None
            # "<!..." and "<?..." are comments whatever follows, "</" too unless a letter follows.
            comment = char in "!?" or (char == "/" and not name[1].isalpha())
            assert skipped == (char in (name[0], name[0].upper()) or comment), (name, hex(ord(char)))


def _peak_kb(argv: list[str], stdin: Path) -> tuple[int, str]:
    """Peak memory of one command (its own, measured by a small wrapper process) and its stderr."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], 'rb'), capture_output=True)\n"
        "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n')\n"
        "sys.stdout.write(p.stderr.decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, str(stdin), *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    peak, _, err = out.partition("\n")
    return int(peak), err


def test_tracker_extract_refuses_a_page_over_the_body_cap_with_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    with big.open("wb") as fh:
        for _ in range(52):
            fh.write(b"<p>2002R</p>" * 83_334)  # 52 MB in all
    peak, err = _peak_kb(
        [sys.executable, "-m", "tracker.cli", "--config", str(tmp_path / "none.toml"), "extract", "-"], big
    )
    assert "larger than max_body_bytes (8,000,000 bytes)" in err
    assert "Traceback" not in err
    # Reading stops at the cap: far below the 52 MB page, let alone the 774 MB it used to take.
    assert peak < 200_000, peak


def test_a_deep_page_read_from_its_bytes_is_bounded_like_its_text() -> None:
    # The price's element sits past the bound: dropped, its text kept, as for the same page as text.
    price = '<span class="price">$150.00</span>'
    page = f"<html><body><h1>2002R</h1>{'<div>' * 300}{price}{'</div>' * 300}</body></html>"
    from_text = extract_page(page, URL)
    from_bytes = extract_page(page.encode(), URL)
    assert (from_bytes, from_bytes.extra) == (from_text, from_text.extra)
    assert from_text.price is None
