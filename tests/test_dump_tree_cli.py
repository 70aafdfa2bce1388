"""``pgwalk dump-tree`` end to end: views, JSON schema, ranges, limits, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgwalk.builder import TableBuilder
from cli_helpers import run, sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
RANGE_KEYS = {"record", "tree", "va_start", "va_end", "size", "level", "kind", "count", "entry_size", "mapped",
              "pa_start", "raw", "memtype", "attributes", "attr_index", "sh", "af", "ng", "dbm", "contiguous",
              "gp", "ns", "ns_table", "permissions", "indirection", "af_updates", "flags", "nonzero", "status", "note"}




def jsonl(out):
    return [json.loads(line) for line in out.splitlines()]


def test_ranges_json_schema_and_values(capsys):
    rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), "--ttbr1", "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    recs = jsonl(out)
    assert recs[-1]["record"] == "summary" and recs[-1]["schema"] == 1 and recs[-1]["stopped"] is None
    ranges = [r for r in recs if r["record"] == "range"]
    assert all(set(r) == RANGE_KEYS | {"schema"} and r["schema"] == 1 for r in ranges)
    text = {r["va_start"]: r for r in ranges}["0xffff800000200000"]
    assert (text["va_end"], text["pa_start"], text["size"], text["count"], text["level"], text["kind"]) == \
        ("0xffff800000210000", "0x40200000", 0x10000, 16, 3, "page")
    assert text["permissions"] == {"el1": "r-x", "el0": "---"} and text["memtype"] == "Normal"
    uart = {r["va_start"]: r for r in ranges}["0xffff800010000000"]
    assert uart["attributes"]["description"] == "Device-nGnRE" and uart["attr_index"] == 3
    assert recs[-1]["ranges"] == len(ranges) == 5


def test_ranges_text_like_ptdump(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--ttbr1", "--view", "ranges"], capsys)
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("0xffff000040000000"))
    assert "0xffff000040000000-0xffff000080000000" in line and "-> 0x40000000" in line and "1GB" in line
    assert "L1 block" in line and "EL1 rw- EL0 ---" in line and "Normal Write-Back" in line


def test_tree_view_is_the_default_for_small_ranges(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--range", "0xffff800000200000+0x200000"], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert any(ln.startswith("L0 table 0x40010000") for ln in lines)
    assert any("└── [0-15] 16 x 0xffff800000200000-0xffff800000210000" in ln or
               "├── [0-15] 16 x 0xffff800000200000-0xffff800000210000" in ln for ln in lines)
    assert any("496 invalid" in ln for ln in lines)
    assert not any("TTBR0_EL1" in ln for ln in lines)       # the range picks the TTBR1 tree


def test_whole_tree_defaults_to_ranges(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit")], capsys)
    assert rc == 0
    assert "TTBR0_EL1 tree" in out and "TTBR1_EL1 tree" in out and "table 0x" not in out


def test_tree_json_records(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--ttbr1", "--view", "tree", "--json"], capsys)
    assert rc == 0
    recs = jsonl(out)
    assert {r["record"] for r in recs} == {"table", "entries", "summary"}
    root = recs[0]
    assert root["record"] == "table" and root["depth"] == 0 and root["last"] and root["valid"] == 2
    entries = [r for r in recs if r["record"] == "entries"]
    assert all(set(RANGE_KEYS - {"record"}) <= set(r) and {"depth", "last", "index", "table"} <= set(r)
               for r in entries)


def test_depth(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--ttbr1", "--view", "tree", "--depth", "0", "--json"],
                     capsys)
    recs = [r for r in jsonl(out) if r["record"] == "table"]
    assert [r["status"] for r in recs] == ["ok", "not expanded", "not expanded"]


def test_stats_json(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--stats", "--json"], capsys)
    assert rc == 0
    (summary,) = jsonl(out)
    st = summary["stats"]
    assert summary["view"] == "stats" and st["tables"] == {"0": 2, "1": 4, "2": 4, "3": 5}
    assert st["bytes_mapped"] == sum(st["bytes_by_memtype"].values()) == sum(st["bytes_by_permissions"].values())


def test_stats_text(capsys):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--stats"], capsys)
    assert rc == 0 and "bytes mapped per memory type" in out and "total mapped" in out


@pytest.mark.parametrize("name,args,expect", [
    ("s2_concat", ["--stage", "2", "--view", "ranges"], "0x40000000-0x80000000"),
    ("two_stage", ["--view", "ranges"], "IPA 0x10000000 -> PA 0x60000000"),
    ("two_stage", ["--stage", "1", "--view", "ranges"], "-> IPA 0x10000000"),
    ("lpa2_52bit_4k", ["--view", "ranges"], "-> 0xf123456789000"),
    ("s1_64k", ["--view", "ranges"], "512MB  L2 block"),
    ("s1_16k", ["--view", "ranges"], "EL1 r-- EL0 r--"),
])
def test_samples(capsys, name, args, expect):
    rc, out, err = run(["dump-tree", *sample(name), *args], capsys)
    assert rc == 0, err
    assert expect in out


def test_two_stage_json_has_ipa_and_pa(capsys):
    rc, out, _ = run(["dump-tree", *sample("two_stage"), "--view", "ranges", "--json"], capsys)
    r = next(r for r in jsonl(out) if r["record"] == "range" and r["va_start"] == "0x400000")
    assert (r["ipa_start"], r["pa_start"]) == ("0x10000000", "0x60000000")
    assert r["permissions"]["stage2_el1"] == "rwx"
    bad = next(r for r in jsonl(out) if r["record"] == "range" and r["kind"] == "table")
    assert bad["status"] == "stage 2 fault"


@pytest.mark.parametrize("text,start,size", [
    ("0x400000+0x1000", 0x400000, 0x1000),
    ("0x400000-0x401000", 0x400000, 0x1000),
    ("0x400000-0x400fff", 0x400000, 0x1000),           # an END ending in fff is the last byte
])
def test_range_syntax(capsys, text, start, size):
    rc, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--range", text, "--view", "ranges", "--json"], capsys)
    assert rc == 0
    (r,) = [r for r in jsonl(out) if r["record"] == "range"]
    assert (r["va_start"], r["va_end"], r["count"]) == ("0x400000", hex(start + size), 1)


def test_no_merge_and_invalid(capsys):
    base = ["dump-tree", *sample("s1_4k_48bit"), "--ttbr0", "--view", "ranges", "--json"]
    _, out, _ = run([*base, "--no-merge"], capsys)
    assert all(r["count"] == 1 for r in jsonl(out) if r["record"] == "range")
    _, out, _ = run([*base, "--invalid"], capsys)
    rs = [r for r in jsonl(out) if r["record"] == "range"]
    assert rs[0]["kind"] == "invalid" and rs[0]["va_start"] == "0x0"
    assert rs[-1]["va_end"] == "0x1000000000000"
    assert all(a["va_end"] == b["va_start"] for a, b in zip(rs, rs[1:]))


def test_limit_reached_exit_1_with_message(capsys):
    rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), "--max-tables", "3", "--view", "ranges"], capsys)
    assert rc == 1
    assert "stopped after 3 tables: limit reached" in out
    rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), "--max-tables", "3", "--json"], capsys)
    assert rc == 1 and jsonl(out)[-1]["stopped"].startswith("stopped after 3 tables") and "limit reached" in err


def test_hostile_tree_through_the_cli(tmp_path, capsys):
    b = TableBuilder()
    b.map(0, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    for t in sorted(b.tables, key=b.tables.get)[:3]:
        raw = b.read(t)
        for i in range(512):
            b.write(t + 8 * i, raw)
    base, size = b.write_raw(tmp_path / "t.img")
    (tmp_path / "r.json").write_text(json.dumps({k: hex(v) for k, v in b.registers().items()}))
    args = ["dump-tree", "-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "r.json")]
    rc, out, _ = run([*args, "--json", "--view", "ranges"], capsys)
    recs = jsonl(out)
    assert rc == 0 and recs[-1]["references"] == 3 * 511 and recs[-1]["tables"] == 4
    rc, out, _ = run([*args, "--view", "tree", "--range", "0+0x40000000"], capsys)
    assert rc == 0 and out.count("reference") == 511 and "already walked at VA 0x0" in out


@pytest.mark.parametrize("args,msg", [
    (["--range", "0x1000"], "START-END or START+SIZE"),
    (["--range", "0x2000-0x1000"], "is empty"),
    (["--range", "0x1000000000000+0x1000"], "outside"),
    (["--ttbr1", "--range", "0x1000+0x1000"], "outside the input range of TTBR1_EL1"),
    (["--stage", "2"], "stage 2 alone needs VTCR_EL2"),
    (["--stage", "2", "--ttbr0"], "--stage 2 walks the VTTBR_EL2 tree"),
    (["--depth", "1", "--view", "ranges"], "--depth applies to the tree view"),
    (["--range", "zz+1"], "not a hexadecimal"),
])
def test_bad_input_exits_2(capsys, args, msg):
    rc, out, err = run(["dump-tree", *sample("s1_4k_48bit"), *args], capsys)
    assert rc == 2 and msg in err and err.startswith("pgwalk: error:") and err.count("\n") == 1


def test_one_range_regime_has_no_ttbr1(capsys):
    rc, _, err = run(["dump-tree", *sample("s1_4k_48bit"), "--regime", "el2", "--ttbr1", "--reg", "TCR_EL2=0x10"],
                     capsys)
    assert rc == 2 and "one VA range" in err


def test_no_progress_bar_or_control_codes_in_pipes(capsys):
    _, out, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--view", "tree", "--ttbr1"], capsys)
    assert "\x1b[" not in out and "walking" not in out


def test_help_documents_the_schema(capsys):
    rc, out, _ = run(["dump-tree", "--help"], capsys)
    assert rc == 0 and '"range"' in out and "va_end (exclusive)" in out and "Exit status" in out


def test_plain_lines_are_rich_lines_without_styles(dump):
    """In a pipe dump-tree builds its lines with render_tree.PlainText (no rich import): on every
    ranges and tree record of a real kernel's tables, each line is exactly the plain text of the
    styled line a terminal gets (rich's Text), control characters in a note dropped alike."""
    from pgwalk.cmd.common import load_context
    from pgwalk.params import setup_from_registers
    from pgwalk.render_tree import PlainText, TreeLineRenderer, range_line, rich_text, tree_header
    from pgwalk.target import select_trees
    from pgwalk.tree import FOLD_MIN, RangeMerger, TreeLines, Visit, run_record, tree_record, walk_tree

    ctx = load_context((dump,), None, (), None, None, None)
    t = select_trees(setup_from_registers(ctx.registers), [1], None).trees[0]
    ranges, lines = [], []
    merger = RangeMerger(lambda run: ranges.append(run_record(run, t)), merge=True)
    walk_tree(t, ctx.memory, merger, visits=Visit.LEAF | Visit.TABLE_PRE, invalid=True, merge=True)
    merger.finish()
    walk_tree(t, ctx.memory, TreeLines(lines.append, t), invalid=True, merge=True, min_run=FOLD_MIN, max_depth=3)
    assert len(ranges) > 50 and len(lines) > 100
    ranges.append({**ranges[0], "note": "odd\x07 note\r with\x0c control\x08 codes\x0b"})
    rich = rich_text()
    for rec in ranges:
        assert range_line(rec, PlainText).plain == range_line(rec, rich).plain == range_line(rec).plain
    plain_r, rich_r = TreeLineRenderer(PlainText), TreeLineRenderer()
    for rec in lines:
        assert plain_r.line(rec).plain == rich_r.line(rec).plain
    assert tree_header(tree_record(t), PlainText).plain == tree_header(tree_record(t)).plain
