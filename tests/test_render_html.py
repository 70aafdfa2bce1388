"""``pgwalk dump-tree --html``: the page's data against dump-tree's own records, self-containment,
and (where Chromium can be had) the page in a real headless browser.

The browser tests drive Debian's chromium over the DevTools protocol on a pipe
(tests/headless.py, stdlib only); ``.ci/run`` installs chromium when it is
missing and CI runs as root.  Elsewhere they skip and say why.
"""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path

import pytest

from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.formats import descriptors as D
from pgwalk.render_html import build_document, render_html
from pgwalk.tree import WalkSummary
from cli_helpers import run, sample
from headless import Chromium, ChromiumError, find_chromium

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "samples"
SAMPLES = ["s1_4k_48bit", "s1_16k", "s1_64k", "lpa2_52bit_4k", "s2_concat", "two_stage"]
MAP_BACKGROUND = (0xF3, 0xF4, 0xF6)      # an empty stretch of a map row (viewer.js)
LSB_4K = {1: 30, 2: 21, 3: 12}            # log2 of what one entry maps, 4KB granule


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def page_data(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="pgwalk-data">(.*?)</script>', text, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def va(tree: dict, off) -> int:
    return int(tree["va_lo"], 16) + (off if isinstance(off, int) else int(off, 16))


def addr(v) -> str | None:
    return None if v is None else hex(v if isinstance(v, int) else int(v, 16))


def page_ranges(doc: dict) -> list[dict]:
    """The page's ranges, unpacked into the keys of dump-tree's range records."""
    out = []
    for t in doc["trees"]:
        for style, off, size, count, pa, raw, label, ipa in t["ranges"]:
            s = doc["styles"][style]
            start = va(t, off)
            size = size if isinstance(size, int) else int(size, 16)
            out.append({"tree": t["tree"], "va_start": hex(start), "va_end": hex(start + size), "count": count,
                        "pa_start": addr(pa), "raw": "0x" + raw, "kind": s["kind"], "level": s["level"],
                        "permissions": s["permissions"], "attributes": s["attributes"], "flags": s["flags"],
                        "label": t["labels"][label] if label >= 0 else None})
    return out


def cli_ranges(args: list[str], capsys) -> list[dict]:
    rc, out, err = run(["dump-tree", *args, "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    keys = ("tree", "va_start", "va_end", "count", "pa_start", "raw", "kind", "level", "permissions", "attributes",
            "flags")
    return [{k: r[k] for k in keys} | {"label": r.get("label")} for r in jsonl(out) if r["record"] == "range"]


def write_page(args: list[str], path: Path, capsys) -> dict:
    rc, _, err = run(["dump-tree", *args, "--html", str(path)], capsys)
    assert rc == 0, err
    assert f"{path}: " in err and " ranges, " in err
    return page_data(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------ data, no browser

@pytest.mark.parametrize("name,extra", [(name, []) for name in SAMPLES] + [
    ("s1_4k_48bit", ["--range", "0xffff800000200000+0x200000"]), ("s1_4k_48bit", ["--no-merge", "--ttbr1"]),
    ("two_stage", ["--stage", "1"])])
def test_page_ranges_are_the_ranges_view(name, extra, tmp_path, capsys):
    doc = write_page([*sample(name), *extra], tmp_path / "p.html", capsys)
    assert page_ranges(doc) == cli_ranges([*sample(name), *extra], capsys)
    assert doc["schema"] == 1 and doc["generator"].startswith("pgwalk ")


@pytest.mark.parametrize("name", ["s1_4k_48bit", "two_stage"])
def test_page_nodes_are_the_tree_view(name, tmp_path, capsys):
    doc = write_page(sample(name), tmp_path / "p.html", capsys)
    rc, out, _ = run(["dump-tree", *sample(name), "--view", "tree", "--json"], capsys)
    recs = [r for r in jsonl(out) if r["record"] != "summary"]
    nodes = [(t, n) for t in doc["trees"] for n in t["nodes"]]
    assert len(nodes) == len(recs)
    for (t, n), r in zip(nodes, recs):
        assert n[1] == r["depth"] and n[2] == r["index"] and t["tree"] == r["tree"]
        assert hex(va(t, n[4])) == r["va_start"]
        if n[0] == 0:
            assert r["record"] == "table" and addr(n[6]) == r["table"] and n[10] == r["status"]
        else:
            s = doc["styles"][n[3]]
            assert r["record"] == "entries" and s["kind"] == r["kind"] and n[6] == r["count"]
            assert "0x" + n[8] == r["raw"] and addr(n[7]) == r["pa_start"] and s["permissions"] == r["permissions"]


def test_the_page_is_self_contained(tmp_path, capsys):
    write_page(sample("s1_4k_48bit"), tmp_path / "p.html", capsys)
    text = (tmp_path / "p.html").read_text(encoding="utf-8")

    class Refs(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.refs, self.tags = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href", "action", "srcset", "poster")]

    p = Refs()
    p.feed(text)
    assert p.refs == [] and "link" not in p.tags and "iframe" not in p.tags
    assert not re.search(r"https?://|//cdn|@import|url\(", text)
    assert not re.search(r"\bfetch\(|XMLHttpRequest|WebSocket|import\(", text)
    assert "default-src 'none'" in text            # and the page forbids loading anything itself


def test_strings_cannot_end_the_data_element():
    hostile = "</script><script>alert(1)</script><!--"
    doc = build_document([], _no_tables(), WalkSummary(), title=hostile, notes=[hostile])
    text = render_html(doc)
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert page_data(text)["notes"] == [hostile]
    assert "<title>&lt;/script&gt;" in text


def _no_tables():
    from pgwalk.render_html import _Tables

    return _Tables()


def _risky_tree(tmp_path: Path) -> list[str]:
    """A TTBR1 tree with a W+X kernel mapping, an EL0-writable kernel mapping and a normal one."""
    b = TableBuilder()
    b.map(0xFFFF_8000_0000_0000, 0x8000_0000, 0x20_0000, S1Attrs(ap=0b00, pxn=0, uxn=1))    # EL1 rwx
    b.map(0xFFFF_8000_0020_0000, 0x8020_0000, 0x1000, S1Attrs(ap=0b01, pxn=1, uxn=1),        # EL0 rw-
          min_leaf_level=3)
    b.map(0xFFFF_8000_0040_0000, 0x8040_0000, 0x20_0000, S1Attrs(ap=0b10, pxn=0, uxn=1))    # EL1 r-x
    base, _ = b.write_raw(tmp_path / "t.img")
    (tmp_path / "r.json").write_text(json.dumps({k: hex(v) for k, v in b.registers(ttbr=1).items()}))
    return ["-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "r.json"), "--ttbr1"]


def test_wx_and_el0_kernel_mappings_are_marked(tmp_path, capsys):
    args = _risky_tree(tmp_path)
    doc = write_page(args, tmp_path / "p.html", capsys)
    marks = {(r["va_start"], tuple(s["wx"]), s["el0_kernel"]) for r, s in
             ((r, doc["styles"][row[0]]) for r, row in zip(page_ranges(doc), doc["trees"][0]["ranges"]))}
    assert marks == {("0xffff800000000000", ("el1",), False), ("0xffff800000200000", (), True),
                     ("0xffff800000400000", (), False)}


def test_styles_are_per_tree():
    """The same record in a TTBR0 and a TTBR1 tree: only the TTBR1 one is an EL0-accessible kernel mapping."""
    from dataclasses import replace

    from pgwalk.params import setup_from_registers
    from pgwalk.regs import load_register_file
    from pgwalk.render_html import _Tables
    from pgwalk.tree import tree_params

    setup = setup_from_registers(load_register_file(str(SAMPLE_DIR / "s1_4k_48bit.regs.json")))
    user, kernel = tree_params(setup, "ttbr0"), tree_params(setup, "ttbr1")
    assert kernel.upper and not user.upper
    rec = {"kind": "page", "level": 3, "entry_size": 4096, "mapped": True, "permissions": {"el1": "rw-", "el0": "rw-"},
           "flags": []}
    tables = _Tables()
    a, b = tables.style(rec, user), tables.style(rec, kernel)
    assert a != b and not tables.styles[a]["el0_kernel"] and tables.styles[b]["el0_kernel"]
    assert tables.style(dict(rec), replace(kernel)) == b


def test_wx_needs_both_stages(tmp_path, capsys):
    """Under two stages an EL can write and execute only where both stages let it: stage 2 rwx over
    stage 1 rw- is not W+X.  A stage 2 tree alone is judged on its own permissions."""
    doc = write_page(sample("two_stage"), tmp_path / "p.html", capsys)
    styles = [doc["styles"][r[0]] for t in doc["trees"] for r in t["ranges"]]
    assert any(s["permissions"] and s["permissions"].get("stage2_el1") == "rwx" for s in styles)
    assert not any(s["wx"] for s in styles)
    doc = write_page(sample("s2_concat"), tmp_path / "q.html", capsys)
    for t in doc["trees"]:
        for r in t["ranges"]:
            s = doc["styles"][r[0]]
            p = s["permissions"] or {}
            assert s["wx"] == [k for k, v in p.items() if "w" in v and "x" in v] and not s["el0_kernel"]


def test_stdout_and_bad_combinations(tmp_path, capsys):
    rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), "--html", "-"], capsys)
    assert rc == 0 and out.startswith("<!DOCTYPE html>") and page_data(out)["trees"]
    for extra in (["--json"], ["--stats"], ["--view", "tree"], ["--depth", "1"], ["--invalid"]):
        rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), "--html", str(tmp_path / "x.html"), *extra], capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "--html" in err, extra
    assert not (tmp_path / "x.html").exists()
    rc, _, err = run(["dump-tree", *sample("s1_4k_48bit"), "--html", str(tmp_path / "no" / "such" / "x.html")],
                     capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_a_limit_still_writes_the_page_and_says_so(tmp_path, capsys):
    rc, _, err = run(["dump-tree", *sample("s1_4k_48bit"), "--max-tables", "2", "--html", str(tmp_path / "p.html")],
                     capsys)
    doc = page_data((tmp_path / "p.html").read_text())
    assert rc == 1 and "limit" in err and doc["summary"]["stopped"] and "limit" in doc["summary"]["stopped"]


def test_hostile_tree_page_is_bounded(tmp_path, capsys, monkeypatch):
    """Shared tables (references) and a record budget: the page stops where it must and says so."""
    import pgwalk.render_html

    b = TableBuilder()
    b.map(0, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    for t in sorted(b.tables, key=b.tables.get)[:3]:
        raw = b.read(t)
        for i in range(512):
            b.write(t + 8 * i, raw)
    base, _ = b.write_raw(tmp_path / "t.img")
    (tmp_path / "r.json").write_text(json.dumps({k: hex(v) for k, v in b.registers().items()}))
    args = ["-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "r.json")]
    doc = write_page(args, tmp_path / "p.html", capsys)
    assert page_ranges(doc) == cli_ranges(args, capsys)
    assert sum(1 for n in doc["trees"][0]["nodes"] if n[0] == 0 and n[10] == "reference") == 3 * 511
    monkeypatch.setattr(pgwalk.render_html, "MAX_RECORDS", 100)
    rc, _, err = run(["dump-tree", *args, "--html", str(tmp_path / "q.html")], capsys)
    doc = page_data((tmp_path / "q.html").read_text())
    assert rc == 1 and "page holds no more" in err and "page holds no more" in doc["summary"]["stopped"]
    assert sum(len(t["nodes"]) + len(t["ranges"]) for t in doc["trees"]) == 100


def test_real_dump_ranges_and_labels(dump, tmp_path, capsys):
    doc = write_page(["-i", dump, "--ttbr1"], tmp_path / "k.html", capsys)
    expected = cli_ranges(["-i", dump, "--ttbr1"], capsys)
    assert page_ranges(doc) == expected and len(expected) > 100
    regions = {g["name"] for g in doc["trees"][0]["regions"]}
    assert {"linear map", "vmalloc", "kernel image", "vmemmap"} <= regions
    assert {"linear map", "kernel image", "vmalloc"} <= {r["label"] for r in expected}


# ------------------------------------------------------------------------ in a browser

@pytest.fixture(scope="module")
def chromium():
    exe, why = find_chromium()
    if exe is None:
        pytest.skip(why)
    try:
        browser = Chromium(exe, width=1600, height=1000).__enter__()
    except (OSError, ChromiumError) as exc:
        pytest.skip(f"{exe} would not start headless: {exc}")
    try:
        yield browser
    finally:
        browser.close()


def page_problems(c: Chromium) -> list[str]:
    """The page's console errors and exceptions; Chromium's hint about this test's own pixel reads
    (getImageData without willReadFrequently) is not the page's."""
    return [p for p in c.problems() if "willReadFrequently" not in p]


def _open(c: Chromium, path: Path) -> None:
    c.events.clear()
    c.open(path.as_uri())
    assert c.evaluate("document.body.dataset.ready") == "1"
    assert c.problems() == []           # nothing at all while loading


def _pixel(c: Chromium, x: float, y: float) -> tuple[int, int, int]:
    return tuple(c.evaluate(f"""(() => {{
        const m = document.getElementById('map'), b = m.getBoundingClientRect(), k = m.width / m.clientWidth;
        return Array.from(m.getContext('2d').getImageData(Math.floor(({x} - b.left - m.clientLeft) * k),
                                                          Math.floor(({y} - b.top - m.clientTop) * k), 1, 1).data.slice(0, 3));
    }})()"""))


def _hex_colour(text: str) -> tuple[int, int, int]:
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def check_every_range_on_the_map(c: Chromium, expected: list[dict], doc: dict) -> None:
    """Each range of the ranges view: painted at the whole-tree zoom, and, zoomed to it, painted in its
    legend colour with the tooltip naming it."""
    for k, t in enumerate(doc["trees"]):
        mine = [r for r in expected if r["tree"] == t["tree"] and r["kind"] in ("block", "page")]
        c.evaluate(f"pgwalk.view({k}, {json.dumps(t['va_lo'])}, {json.dumps(t['va_hi'])})")
        for r in mine:
            p = c.evaluate(f"pgwalk.clientPoint({json.dumps(r['va_start'])}, {json.dumps(r['va_end'])})")
            assert p is not None and _pixel(c, p["x"], p["y"]) != MAP_BACKGROUND, r
        legend = {e["key"]: _hex_colour(e["colour"]) for e in c.evaluate(
            "[...document.querySelectorAll('#legend .item[data-key]')].map(e => ({...e.dataset}))")}
        for r in mine:
            c.evaluate(f"pgwalk.view({k}, {json.dumps(r['va_start'])}, {json.dumps(r['va_end'])})")
            p = c.evaluate(f"pgwalk.clientPoint({json.dumps(r['va_start'])})")
            x, y = p["x"] + 40, p["y"]            # well inside the range: it fills the window
            c.mouse("mouseMoved", x, y)
            tip = c.evaluate("document.getElementById('tip').textContent")
            assert tip.startswith(f"{r['va_start']} \u2013 {r['va_end']}"), (r, tip)
            key = " ".join(f"{k.upper().replace('STAGE2_', 'S2 ')} {v}" for k, v in r["permissions"].items())
            assert _pixel(c, x, y) == legend[key], (r, key)


def click_node(c: Chromium, doc: dict, k: int, i: int) -> str:
    """Expand the ancestors of node ``i`` of tree ``k`` by clicking their toggles, click the node's row,
    and return the details panel's text."""
    nodes = doc["trees"][k]["nodes"]
    chain, depth = [], nodes[i][1]
    for j in range(i - 1, -1, -1):
        if nodes[j][1] < depth:
            chain.append(j)
            depth = nodes[j][1]
    row = "#tree-body .trow[data-node=\"{}\"]"
    for j in reversed(chain):
        assert c.evaluate(f"pgwalk.showRow({j})"), j
        if c.evaluate(f"document.querySelector('{row.format(j)} .tog').textContent") == "\u25b8":   # collapsed
            box = c.evaluate(f"(() => {{ const r = document.querySelector('{row.format(j)} .tog')"
                             f".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
            c.click(*box)
    assert c.evaluate(f"pgwalk.showRow({i})"), i
    box = c.evaluate(f"(() => {{ const r = document.querySelector('{row.format(i)} .c-va')"
                     f".getBoundingClientRect(); return [r.x + 20, r.y + r.height / 2]; }})()")
    c.click(*box)
    return c.evaluate("document.getElementById('details').innerText")


def check_clicked_leaf_shows_its_descriptor(c: Chromium, doc: dict, k: int, i: int, layout) -> None:
    t = doc["trees"][k]
    n = t["nodes"][i]
    text = click_node(c, doc, k, i)
    raw = int(n[8], 16)
    assert f"descriptor 0x{n[8]}" in text and hex(va(t, n[4])) in text
    rows = dict(c.evaluate("[...document.querySelectorAll('#details tr[data-field]')].map(r => "
                           "[r.dataset.field, r.children[2].textContent])"))
    decoded = layout.decode(raw)
    assert set(rows) == set(decoded)
    for name, value in decoded.items():
        shown = rows[name].split()[0]
        assert int(shown, 0) == value, (name, shown, value)


def test_browser_sample_pages(chromium, tmp_path, capsys):
    for name in ("s1_4k_48bit", "two_stage", "s2_concat", "lpa2_52bit_4k"):
        path = tmp_path / f"{name}.html"
        doc = write_page(sample(name), path, capsys)
        _open(chromium, path)
        check_every_range_on_the_map(chromium, cli_ranges(sample(name), capsys), doc)
        assert page_problems(chromium) == []


def test_browser_click_shows_the_descriptor(chromium, tmp_path, capsys):
    path = tmp_path / "s.html"
    doc = write_page(sample("s1_4k_48bit"), path, capsys)
    _open(chromium, path)
    k = next(j for j, t in enumerate(doc["trees"]) if t["tree"] == "TTBR1_EL1")
    chromium.evaluate(f"document.querySelectorAll('#tabs button')[{k}].click()")
    t = doc["trees"][k]
    for i, n in enumerate(t["nodes"]):
        s = doc["styles"][n[3]] if n[0] == 1 else None
        if s and s["mapped"]:
            layout = D.s1_leaf_layout(LSB_4K[s["level"]], False, False, s["kind"] == "block")
            check_clicked_leaf_shows_its_descriptor(chromium, doc, k, i, layout)
    # a table node shows the parent's table descriptor
    i = next(i for i, n in enumerate(t["nodes"]) if n[0] == 0 and n[1] == 1)
    text = click_node(chromium, doc, k, i)
    assert f"L{t['nodes'][i][3]} table {addr(t['nodes'][i][6])}" in text and f"descriptor 0x{t['nodes'][i][11]}" in text
    # clicking a range on the map selects its node
    r = page_ranges(doc)[-1]
    chromium.evaluate(f"pgwalk.view({k}, {json.dumps(r['va_start'])}, {json.dumps(r['va_end'])})")
    p = chromium.evaluate(f"pgwalk.clientPoint({json.dumps(r['va_start'])})")
    chromium.click(p["x"] + 40, p["y"])
    text = chromium.evaluate("document.getElementById('details').innerText")
    assert r["va_start"] in text and f"descriptor {r['raw']}" in text
    assert page_problems(chromium) == []


def test_browser_map_zooms_with_wheel_and_drag(chromium, tmp_path, capsys):
    path = tmp_path / "s.html"
    doc = write_page(sample("s1_4k_48bit"), path, capsys)
    _open(chromium, path)
    t = doc["trees"][0]
    span = lambda w: int(w[1], 16) - int(w[0], 16)        # noqa: E731
    whole = chromium.evaluate("pgwalk.window()")
    assert whole == [t["va_lo"], t["va_hi"]]
    box = chromium.evaluate("(() => { const r = document.getElementById('map').getBoundingClientRect(); "
                            "return [r.x, r.y, r.width, r.height]; })()")
    x, y = box[0] + box[2] * 0.6, box[1] + box[3] * 0.3
    chromium.mouse("mouseMoved", x, y)
    chromium.wheel(x, y, -400)                             # zoom in at the pointer
    chromium.evaluate("new Promise(r => requestAnimationFrame(() => r(0)))")
    zoomed = chromium.evaluate("pgwalk.window()")
    assert 0 < span(zoomed) < span(whole) / 2 and int(zoomed[0], 16) >= int(whole[0], 16)
    # a drag across a stretch of a row zooms to that stretch
    chromium.mouse("mouseMoved", x - 100, y)
    chromium.mouse("mousePressed", x - 100, y)
    chromium.mouse("mouseMoved", x - 50, y)
    chromium.mouse("mouseMoved", x + 100, y)
    chromium.mouse("mouseReleased", x + 100, y)
    dragged = chromium.evaluate("pgwalk.window()")
    assert 0 < span(dragged) < span(zoomed) / 10
    chromium.evaluate("document.getElementById('btn-back').click()")
    assert chromium.evaluate("pgwalk.window()") == zoomed
    chromium.evaluate("document.getElementById('btn-whole').click()")
    assert chromium.evaluate("pgwalk.window()") == whole
    assert page_problems(chromium) == []


def test_browser_marks_wx_and_el0_kernel_mappings(chromium, tmp_path, capsys):
    args = _risky_tree(tmp_path)
    path = tmp_path / "risky.html"
    write_page(args, path, capsys)
    _open(chromium, path)
    text = chromium.evaluate("document.getElementById('findings').innerText")
    assert "W+X mappings: 1 ranges" in text and "0xffff800000000000-0xffff800000200000" in text
    assert "EL0-accessible mappings in the kernel tree: 1 ranges" in text and "0xffff800000200000-" in text
    chromium.evaluate("pgwalk.view(0, '0xffff800000000000', '0xffff800000200000')")
    p = chromium.evaluate("pgwalk.clientPoint('0xffff800000000000')")
    chromium.click(p["x"] + 40, p["y"])
    assert "W+X EL1" in chromium.evaluate("document.getElementById('details').innerText")


def test_browser_real_dump(chromium, dump, tmp_path, capsys):
    path = tmp_path / "k.html"
    doc = write_page(["-i", dump, "--ttbr1"], path, capsys)
    _open(chromium, path)
    check_every_range_on_the_map(chromium, cli_ranges(["-i", dump, "--ttbr1"], capsys), doc)
    t = doc["trees"][0]
    # the kernel text: a block, and the last page of the tree
    leaves = [i for i, n in enumerate(t["nodes"]) if n[0] == 1 and doc["styles"][n[3]]["mapped"]]
    block = next(i for i in leaves if doc["styles"][t["nodes"][i][3]]["kind"] == "block")
    for i in (block, leaves[-1]):
        s = doc["styles"][t["nodes"][i][3]]
        layout = D.s1_leaf_layout(LSB_4K[s["level"]], False, False, s["kind"] == "block")
        check_clicked_leaf_shows_its_descriptor(chromium, doc, 0, i, layout)
    # regions zoom the map
    chromium.evaluate("[...document.querySelectorAll('#regions button')].find(b => b.textContent.startsWith("
                      "'kernel image')).click()")
    lo, hi = chromium.evaluate("pgwalk.window()")
    image = next(g for g in t["regions"] if g["name"] == "kernel image")
    assert (int(lo, 16), int(hi, 16)) == (va(t, image["start_off"]), va(t, image["end_off"]))
    assert page_problems(chromium) == []


def test_page_says_the_access_flag_updates(tmp_path, capsys):
    """The page's tables and leaves carry the Access flag updates as the text views say them (the
    records' af_updates through :func:`pgwalk.render_tree.af_updates_text`): tables their own, the
    ranges and leaves theirs."""
    from pgwalk.render_tree import af_updates_text
    from test_af_updates_cli import _tree

    args, _regs, _mem = _tree(tmp_path)
    args = [*args, "--ttbr0"]
    doc = write_page(args, tmp_path / "p.html", capsys)
    rc, out, _ = run(["dump-tree", *args, "--view", "tree", "--json"], capsys)
    recs = [r for r in jsonl(out) if r["record"] != "summary"]
    nodes = [n for t in doc["trees"] for n in t["nodes"]]
    assert len(nodes) == len(recs)
    for n, r in zip(nodes, recs):
        want = af_updates_text(r["af_updates"]) if r["af_updates"] else None
        assert (n[17] if n[0] == 0 else doc["styles"][n[3]]["af_text"]) == want
    assert sum(bool(n[17]) for n in nodes if n[0] == 0) == 4
    (rng,) = doc["trees"][0]["ranges"]
    assert "hardware sets AF (HA): S1 L3, S2 L3" in doc["styles"][rng[0]]["af_text"]
