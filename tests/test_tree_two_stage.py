"""dump-tree under two stages (issue 11 item 2): every printed range agrees with ``translate``.

Two-stage trees are built with :mod:`pgwalk.builder` where stage 2 maps the
output of one stage 1 leaf in pieces with different attributes (Device,
Normal NC, WB, read-only, execute-never, holes, AF = 0), with FWB = 0 and 1,
HCR_EL2.CD, and granules that differ between the stages.  Then, for the
ranges view and for one run per descriptor, every page inside every printed
range is translated (the scalar walker, ``translate``'s JSON) and must give
the PA, attributes (``par_attr`` included), permissions and stage 2 fault the
range claims; the effective permissions must be what ``translate --access``
allows.  Also the shipped ``samples/two_stage`` and hostile stage 2 tables
(bounded by the limits).
"""

from __future__ import annotations

import json
import random
import time

import pytest

from cli_helpers import run, sample
from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, TwoStage, two_stage
from pgwalk.formats.registers import HCR_EL2
from pgwalk.memory import PhysicalMemory
from pgwalk.params import setup_from_registers
from pgwalk.perms import Access
from pgwalk.report import translation_to_dict
from pgwalk.tree import (
    Limits, RangeMerger, TableStatus, TreeLines, TreeVisitor, Visit, collect_runs, run_record, tree_params,
    walk_tree,
)
from pgwalk.walk import translate

NC, DEV_nGnRE, DEV_nGnRnE, WT = 0b0101, 0b0001, 0b0000, 0b1010
IPA = 0x1_0000_0000
PA = 0x2_0000_0000
S2_VARIANTS = [
    S2Attrs(), S2Attrs(memattr=NC), S2Attrs(memattr=DEV_nGnRE, sh=0), S2Attrs(memattr=DEV_nGnRnE, xn=0b10),
    S2Attrs(s2ap=0b01), S2Attrs(s2ap=0b10, xn=0b01), S2Attrs(memattr=WT, xn=0b11), S2Attrs(s2ap=0b00),
    S2Attrs(memattr=0b1101, sh=0b10), S2Attrs(memattr=0b0100),          # a reserved encoding (UNPREDICTABLE)
    S2Attrs(memattr=0b0110, fnxs=1),                                     # FWB = 1: forced Write-Back
]
#: MAIR_EL1 Attr6 = 0x80 (Normal, inner 0b0000: UNPREDICTABLE), Attr7 = 0x06 (Device with bit 1 set)
MAIR_CU = (0x80 << 48) | (0x06 << 56)


class _Collect(TreeVisitor):
    def __init__(self):
        self.runs, self.tables = [], []

    def run(self, run):
        self.runs.append(run)

    def table_pre(self, table):
        self.tables.append(table)


def ranges_of(tree, mem, *, merge=True, **kw):
    out = []
    m = RangeMerger(out.append, merge=merge)
    walk_tree(tree, mem, m, visits=Visit.LEAF | Visit.TABLE_PRE, merge=merge, invalid=True, **kw)
    m.finish()
    return out


def _page_offsets(size: int, g: int, rng: random.Random, max_pages: int) -> list[int]:
    pages = size // g
    if pages <= max_pages:
        return [k * g for k in range(pages)]
    return [k * g for k in sorted({0, pages - 1, *rng.sample(range(pages), max_pages - 2)})]


def check_against_translate(setup, mem, tree, rng, *, max_pages=600, effective=True) -> int:
    """Every page of every range (merged ranges, then one run per descriptor) translates as the range says."""
    g = 1 << min(tree.granule_shift, setup.s2.granule_shift)
    checked = 0
    for merge in (True, False):
        runs = ranges_of(tree, mem, merge=merge)
        # the ranges tile the tree's input range, in order
        assert runs[0].va_start == tree.va_lo and runs[-1].va_end == tree.va_hi
        assert all(a.va_end == b.va_start for a, b in zip(runs, runs[1:]))
        for run in runs:
            rec = json.loads(json.dumps(run_record(run, tree)))
            if not run.mapped:
                continue
            assert rec["size"] == run.va_end - run.va_start
            for n, off in enumerate(_page_offsets(run.size, g, rng, max_pages)):
                off += rng.randrange(0, g, 8)
                va = run.va_start + off
                t = translate(setup, mem, va)
                d = translation_to_dict(t, wxn=setup.wxn, epan=setup.epan)
                checked += 1
                if t.fault is not None and t.fault.stage == 1:
                    assert rec["flags"], (hex(va), t.fault)          # AF = 0, output beyond the output size
                    continue
                assert d["ipa"] == f"{run.oa + off:#x}", hex(va)
                if rec["fault"] is not None:
                    assert t.fault is not None and not t.fault.s1ptw, (hex(va), rec)
                    assert {k: d["fault"][k] for k in rec["fault"]} == rec["fault"], (hex(va), d["fault"], rec)
                    assert rec["pa_start"] is None and rec["attributes"] is None
                    continue
                assert t.ok, (hex(va), t.fault, rec)
                assert d["pa"] == f"{run.pa + off:#x}", (hex(va), d["pa"], rec)
                assert d["attributes"] == rec["attributes"], (hex(va), d["attributes"], rec["attributes"])
                assert d["permissions"] == rec["permissions"], (hex(va), d["permissions"], rec["permissions"])
                assert rec["stage2"]["fwb"] == setup.s2.fwb and (n or rec["stage2"]["raw"] == f"{t.s2.raw:#x}")
                assert (rec["stage2"]["attributes"] is None) if setup.s2.fwb else \
                    t.s2.attrs.describe() == rec["stage2"]["attributes"]["description"]
                if effective and n == 0:
                    for el, key in ((1, "el1"), (0, "el0")):
                        for c, acc in (("r", Access.READ), ("w", Access.WRITE), ("x", Access.EXEC)):
                            allowed = translate(setup, mem, va, access=acc, el=el).ok
                            assert allowed == (c in rec["effective_permissions"][key]), (hex(va), el, acc, rec)
    return checked


def registers(ts: TwoStage, *, fwb=False, cd=False, ttbr=0):
    regs = ts.registers(ttbr=ttbr)
    regs["MAIR_EL1"] |= MAIR_CU
    regs["HCR_EL2"] = HCR_EL2["FWB"].put(HCR_EL2["CD"].put(regs["HCR_EL2"], int(cd)), int(fwb))
    return regs


def pieces_tree(granule=4096, s2_granule=None, rng=None) -> TwoStage:
    """Stage 1 blocks whose outputs stage 2 maps in pieces of every kind, and pages inside stage 2 blocks."""
    rng = rng or random.Random(1)
    s2 = TableBuilder(stage=2, granule=s2_granule or granule, ia_bits=40, table_base=0x4000_0000,
                      table_limit=0x4800_0000)
    s1 = TableBuilder(stage=1, granule=granule, ia_bits=48, table_base=0x8000_0000,
                      table_limit=0x8100_0000, pa_bits=40)
    ts = TwoStage(s1, s2, 0x4800_0000, 0x100_0000)
    blk = s1.block_size(2)
    pg = s2.granule
    # 1. a stage 1 block mapped by stage 2 in pages, every page different (some a hole, one AF = 0);
    #    beyond the first 600 pages, a stage 2 hole
    s1.map(0x4000_0000, IPA, blk, S1Attrs(), max_leaf_level=2)
    for k in range(min(blk // pg, 600)):
        if k % 7 == 5:
            continue                                          # stage 2 hole
        attrs = S2_VARIANTS[(k // 3) % len(S2_VARIANTS)]
        if k == 11:
            attrs = S2Attrs(af=0)
        s2.map(IPA + k * pg, PA + (k ^ 1) * pg if k % 5 == 4 else PA + k * pg, pg, attrs)
    # 2. a block whose stage 2 pieces continue each other (one range), then one different piece
    s1.map(0x4000_0000 + blk, IPA + blk, blk, S1Attrs(attr_indx=3, uxn=1, pxn=1), max_leaf_level=2)
    s2.map(IPA + blk, PA + blk, blk, S2Attrs())
    s2.map(IPA + 2 * blk - pg, PA + 0x1000_0000, pg, S2Attrs(memattr=NC))   # splits a stage 2 block
    # 3. pages inside a stage 2 block, with stage 1 attributes of every kind
    s2blk = s2.block_size(2)
    s2.map(0x20_0000_0000, 0x5_0000_0000, s2blk, S2Attrs(memattr=NC, s2ap=0b01), max_leaf_level=2)
    for k in range(16):
        s1.map(s1.granule * (k + 1) + s1.block_size(2), 0x20_0000_0000 + rng.randrange(0, s2blk, s1.granule), s1.granule,
               S1Attrs(attr_indx=k % 8, ap=k % 4, uxn=(k >> 1) & 1, pxn=(k >> 2) & 1, dbm=k % 5 == 0),
               min_leaf_level=3)
    # 4. a 1GB stage 1 block over stage 2 blocks and pages (partly unmapped)
    if 1 in s1.leaf_levels():
        big = s1.block_size(1)
        s1.map(0x80_0000_0000, 0x40_0000_0000, big, S1Attrs(ap=0b01), max_leaf_level=1)
        s2.map(0x40_0000_0000, 0x3_0000_0000, big // 2, S2Attrs(), max_leaf_level=2)
        s2.map(0x40_0000_0000 + big // 2, 0x3_8000_0000, s2.block_size(2), S2Attrs(memattr=DEV_nGnRE),
               min_leaf_level=3)
    return ts


@pytest.mark.parametrize("fwb", [False, True], ids=["fwb0", "fwb1"])
@pytest.mark.parametrize("cd", [False, True], ids=["cd0", "cd1"])
def test_stage2_pieces_agree_with_translate(fwb, cd):
    ts = pieces_tree()
    setup = setup_from_registers(registers(ts, fwb=fwb, cd=cd))
    assert setup.s2.fwb == fwb and setup.s2.cd == cd
    tree = tree_params(setup, "ttbr0")
    assert check_against_translate(setup, ts.memory(), tree, random.Random(2)) > 2000


@pytest.mark.parametrize("granule,s2_granule", [(4096, 65536), (65536, 4096), (16384, 4096)])
def test_stage2_pieces_with_different_granules(granule, s2_granule):
    ts = pieces_tree(granule, s2_granule)
    setup = setup_from_registers(registers(ts, fwb=granule == 65536))
    tree = tree_params(setup, "ttbr0")
    assert check_against_translate(setup, ts.memory(), tree, random.Random(3), max_pages=300) > 500


@pytest.mark.parametrize("seed", range(6))
def test_random_two_stage_trees_agree_with_translate(seed):
    rng = random.Random(seed)
    ts = two_stage(ipa_bits=40, s1_table_pa=0x4800_0000, s1_table_size=0x10_0000)
    s1, s2 = ts.s1, ts.s2
    for _ in range(rng.randrange(4, 9)):
        level = rng.choice([2, 3])
        size = s1.block_size(level) * (1 if level == 2 else rng.randrange(1, 9))
        va = rng.randrange(1, 1 << 17) * s1.block_size(2)
        ipa = IPA + rng.randrange(0, 1 << 8) * s1.block_size(2)
        s1.map(va, ipa, size, S1Attrs(attr_indx=rng.randrange(8), ap=rng.randrange(4), uxn=rng.randrange(2),
                                      pxn=rng.randrange(2), af=int(rng.random() < 0.95)),
               min_leaf_level=level, max_leaf_level=level)
        # stage 2: the IPA range in random chunks (pages or blocks), random attributes, random holes
        pos = 0
        while pos < size:
            chunk = min(size - pos, rng.choice([0x1000, 0x3000, 0x10000, 0x20_0000]))
            if (ipa + pos) % 0x20_0000 or chunk % 0x20_0000:
                chunk = min(chunk, 0x20_0000 - (ipa + pos) % 0x20_0000)
            if rng.random() < 0.85:
                s2.map(ipa + pos, PA + rng.randrange(0, 1 << 10) * 0x20_0000 + (ipa + pos) % 0x20_0000, chunk,
                       rng.choice(S2_VARIANTS))
            pos += chunk
    regs = registers(ts, fwb=rng.random() < 0.5, cd=rng.random() < 0.3)
    setup = setup_from_registers(regs)
    for which in ("ttbr0",):
        tree = tree_params(setup, which)
        check_against_translate(setup, ts.memory(), tree, rng, max_pages=200)


def test_device_over_normal_is_device_in_every_view(capsys, tmp_path):
    """The issue's case: stage 1 Normal WB over stage 2 Device-nGnRE (par_attr 0x04), and over Normal NC."""
    ts = two_stage(ipa_bits=40)
    ts.s1.map(0x20_0000, IPA, 0x20_0000, S1Attrs(), max_leaf_level=2)
    ts.s2.map(IPA, PA, 0x1000, S2Attrs(memattr=DEV_nGnRE))
    ts.s2.map(IPA + 0x1000, PA + 0x1000, 0x1000, S2Attrs(memattr=NC))
    ts.s2.map(IPA + 0x2000, PA + 0x2000, 0x1F_E000, S2Attrs())
    img = tmp_path / "t.img"
    base, _ = ts.write_raw(img)
    (tmp_path / "regs.json").write_text(json.dumps({k: hex(v) for k, v in ts.registers().items()}))
    opts = ["-i", f"{img}@{base:#x}", "--regs", str(tmp_path / "regs.json")]
    rc, out, err = run(["dump-tree", *opts, "--ttbr0", "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    ranges = [json.loads(line) for line in out.splitlines() if '"range"' in line]
    by_va = {r["va_start"]: r for r in ranges if r["mapped"]}
    assert list(by_va) == ["0x200000", "0x201000", "0x202000"]
    dev, nc, wb = by_va.values()
    assert (dev["attributes"]["description"], dev["attributes"]["par_attr"]) == ("Device-nGnRE", "0x04")
    assert dev["s1_attributes"]["par_attr"] == "0xff" and dev["stage2"]["attributes"]["par_attr"] == "0x04"
    assert (dev["stage2"]["memattr"], dev["stage2"]["level"], dev["stage2"]["fwb"]) == (DEV_nGnRE, 3, False)
    assert nc["attributes"]["description"] == "Normal Non-cacheable" and nc["attributes"]["shareability"] == "OSH"
    assert wb["attributes"]["par_attr"] == "0xff" and wb["size"] == 0x1F_E000
    assert dev["partial"] and nc["partial"] and wb["partial"] and dev["count"] == 1
    assert (dev["pa_start"], nc["pa_start"], wb["pa_start"]) == ("0x200000000", "0x200001000", "0x200002000")
    for r in (dev, nc, wb):
        rc, tout, _ = run(["translate", *opts, r["va_start"], "--json"], capsys)
        t = json.loads(tout)
        assert (t["pa"], t["attributes"], t["permissions"]) == (r["pa_start"], r["attributes"], r["permissions"])
    # the text views say the same
    rc, out, _ = run(["dump-tree", *opts, "--ttbr0", "--view", "ranges"], capsys)
    line = next(ln for ln in out.splitlines() if ln.lstrip().startswith("0x200000-0x201000"))
    assert "Device-nGnRE OSH" in line and "piece" in line and "S2 Device-nGnRE" in line
    rc, out, _ = run(["dump-tree", *opts, "--ttbr0", "--view", "tree"], capsys)
    assert sum("[1] 0x20" in ln for ln in out.splitlines()) == 3
    last = [ln for ln in out.splitlines() if "[1] 0x20" in ln]
    assert all("├──" in ln for ln in last)                # entries 2-511 (invalid) come after
    assert any("└── [2-511] 510 invalid" in ln for ln in out.splitlines())
    rc, out, _ = run(["dump-tree", *opts, "--ttbr0", "--stats", "--json"], capsys)
    stats = json.loads(out.splitlines()[-1])["stats"]
    assert stats["leaves"] == [{"level": 2, "kind": "block", "count": 1}]
    assert any(k.startswith("Device-nGnRE") and v == 0x1000 for k, v in stats["bytes_by_memtype"].items())


def test_tree_view_entries_tile_and_mark_the_last_piece():
    ts = pieces_tree()
    setup = setup_from_registers(registers(ts))
    tree = tree_params(setup, "ttbr0")
    recs = []
    walk_tree(tree, ts.memory(), TreeLines(recs.append, tree), invalid=True, min_run=3)
    entries = [r for r in recs if r["record"] == "entries"]
    spans = [(int(r["va_start"], 16), int(r["va_end"], 16)) for r in entries]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    pieces = [r for r in entries if r["partial"]]
    assert len(pieces) > 100 and sum(r["last"] for r in entries if r["index"] == pieces[0]["index"]
                                     and r["table"] == pieces[0]["table"]) <= 1


def test_shipped_two_stage_sample_agrees_with_translate():
    from cli_helpers import SAMPLES

    regs = {k: int(v, 16) for k, v in json.loads((SAMPLES / "two_stage.regs.json").read_text()).items()
            if not k.startswith("_")}
    mem = PhysicalMemory.from_buffers({0x4000_0000: (SAMPLES / "two_stage.img").read_bytes()})
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "ttbr0")
    assert check_against_translate(setup, mem, tree, random.Random(4)) >= 6
    runs = [r for r in ranges_of(tree, mem) if r.mapped]
    dev = next(r for r in runs if r.va_start == 0x1000_0000)
    assert dev.final_attrs.describe() == "Device-nGnRE" and dev.final_attrs.shareability == "OSH"
    ro = next(r for r in runs if r.va_start == 0x40_2000)
    assert run_record(ro, tree)["effective_permissions"] == {"el1": "r--", "el0": "r--"}
    hole = next(r for r in runs if r.va_start == 0x40_3000)
    assert hole.pa is None and hole.s2.fault.level == 2 and "stage 2 translation fault" in hole.note


def test_sample_cli_json_matches_translate(capsys):
    rc, out, err = run(["dump-tree", *sample("two_stage"), "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    for r in (json.loads(line) for line in out.splitlines()):
        if r["record"] != "range" or not r["mapped"]:
            continue
        rc, tout, _ = run(["translate", *sample("two_stage"), r["va_start"], "--json"], capsys)
        t = json.loads(tout)
        if r["fault"] is not None:
            assert t["fault"]["fsc_hex"] == r["fault"]["fsc_hex"] and t["fault"]["stage"] == 2
            continue
        assert (t["pa"], t["attributes"], t["permissions"]) == (r["pa_start"], r["attributes"], r["permissions"])


# --------------------------------------------------------------------------- hostile stage 2 tables

def _hostile_two_stage():
    """(words, registers): a stage 1 tree of 512 1GB blocks whose outputs go through a stage 2 mesh:
    every entry of the (concatenated) root points at one level 2 table, every entry of which points
    at one level 3 table of pages; IPA x -> PA 0x8000_0000 + (x & 0x1ff000), so the stage 1 tables
    (IPA 0x8000_0000..) are where the image holds them and every 1GB block is 512 pieces."""
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, concat=2, table_base=0x2000)
    root = s2.root                                              # 0x2000, 2 concatenated tables
    l2, l3 = root + 0x2000, root + 0x3000
    words = {}
    for j in range(1024):
        words[root + 8 * j] = l2 | 3
    for j in range(512):
        words[l2 + 8 * j] = l3 | 3
        words[l3 + 8 * j] = s2.leaf_descriptor(0x8000_0000 + j * 0x1000, 3, S2Attrs())
    s1 = TableBuilder(granule=4096, ia_bits=48, table_base=0x8000_0000)
    for k in range(512):
        s1.set_descriptor(0x80_0000_0000 + (k << 30), 1, s1.leaf_descriptor(k << 30, 1, S1Attrs()))
    (base, buf), = s1.chunks().items()
    for off in range(0, len(buf), 8):
        words[base + off] = int.from_bytes(buf[off:off + 8], "little")
    return words, s2.registers(regs=s1.registers())


def test_hostile_stage2_under_large_stage1_blocks_is_bounded():
    words, regs = _hostile_two_stage()
    mem = PhysicalMemory.from_words(words, (0, max(words) + 8))
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "ttbr0")
    assert tree.final_pa
    # without limits: the first block is 512 pieces, every one translating as shown
    first = collect_runs(tree, mem, start=0x80_0000_0000, end=0x80_0000_1000, merge=True)
    assert len(first) == 512 and all(r.size == 0x20_0000 and r.pa == 0x8000_0000 for r in first)
    assert translate(setup, mem, first[7].va_start + 0x1234).pa == 0x8000_1234
    t0 = time.monotonic()
    seen = []
    s = walk_tree(tree, mem, RangeMerger(seen.append), limits=Limits(max_entries=200_000))
    assert time.monotonic() - t0 < 30
    assert s.stopped and "--max-entries" in s.stopped and "stage 2 lookups" in s.stopped, s.stopped
    assert s.entries + s.s2_lookups <= 200_000 and seen


def test_hostile_stage2_through_the_cli(capsys, tmp_path):
    words, regs = _hostile_two_stage()
    opts = []
    for name, lo, hi in (("s2", 0, 0x8000_0000), ("s1", 0x8000_0000, 1 << 64)):
        part = {a: v for a, v in words.items() if lo <= a < hi}
        img = bytearray(max(part) + 8 - min(part))
        for addr, v in part.items():
            img[addr - min(part):addr - min(part) + 8] = v.to_bytes(8, "little")
        (tmp_path / f"{name}.img").write_bytes(bytes(img))
        opts += ["-i", f"{tmp_path / name}.img@{min(part):#x}"]
    (tmp_path / "regs.json").write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
    opts += ["--regs", str(tmp_path / "regs.json"), "--ttbr0", "--view", "ranges"]
    t0 = time.monotonic()
    rc, out, err = run(["dump-tree", *opts, "--max-entries", "100000", "--json"], capsys)
    assert rc == 1 and "limit" in err and time.monotonic() - t0 < 60
    assert "stage 2 lookups" in json.loads(out.splitlines()[-1])["stopped"]
    rc, out, err = run(["dump-tree", *opts, "--max-entries", "20000"], capsys)
    assert rc == 1 and "stopped after 2 tables: limit reached" in out and "stage 2 lookups" in out
    assert "IPA 0x0 -> PA 0x80000000" in out


def test_fwb_cases_show_the_combined_attributes():
    """HCR_EL2.FWB = 1 (ASL AArch64.S2ApplyFWBMemAttrs): MemAttr[2] = 0 gives Device of type MemAttr[1:0]
    whatever stage 1 says, 0b110 forces Write-Back, 0b111 keeps stage 1."""
    ts = two_stage(ipa_bits=40)
    cases = [(S1Attrs(), 0b0001, "Device-nGnRE", "0x04"),
             (S1Attrs.device(), 0b0110, "Normal Write-Back RWA", "0xff"),
             (S1Attrs(attr_indx=1), 0b0111, "Normal Non-cacheable", "0x44"),
             (S1Attrs(attr_indx=4), 0b0101, "Normal Non-cacheable", "0x44")]
    for k, (s1a, memattr, _, _) in enumerate(cases):
        ts.map(0x10_0000 + k * 0x1000, IPA + k * 0x1000, 0x1000, s1a, pa=PA + k * 0x1000,
               s2_attrs=S2Attrs(memattr=memattr))
    setup = setup_from_registers(registers(ts, fwb=True))
    tree = tree_params(setup, "ttbr0")
    recs = [run_record(r, tree) for r in collect_runs(tree, ts.memory())]
    assert len(recs) == len(cases)
    for rec, (_, memattr, desc, par) in zip(recs, cases):
        assert (rec["attributes"]["description"], rec["attributes"]["par_attr"]) == (desc, par), rec
        assert rec["stage2"] == {**rec["stage2"], "memattr": memattr, "fwb": True, "attributes": None}
        t = translation_to_dict(translate(setup, ts.memory(), int(rec["va_start"], 16)))
        assert t["attributes"] == rec["attributes"]


# --------------------------------------------------------------------------- hostile registers and tables

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import test_hostile_walk as hostile  # noqa: E402


@settings(max_examples=200, **hostile.SETTINGS)
@given(regs=hostile.registers(), mem=hostile.memory(), vm=st.sampled_from([0x80000001, 0x80000001 | 1 << 46]),
       vtcr=st.sampled_from(hostile.REALISTIC["VTCR_EL2"]), vttbr=st.sampled_from(hostile.TABLES[:4]))
def test_hostile_two_stage_trees_agree_with_translate_and_stay_bounded(regs, mem, vm, vtcr, vttbr):
    """Random descriptors as stage 1 and stage 2 tables (cycles, shared tables, garbage): the walk
    never raises, stops within its limits, and every range agrees with translate where sampled."""
    regs = {**regs, "HCR_EL2": vm, "VTCR_EL2": vtcr, "VTTBR_EL2": vttbr}
    setup = hostile._setup(regs)
    assume(setup is not None and setup.s1_enabled and setup.s2 is not None and setup.regime.value == "EL1&0")
    rng = random.Random(0)
    for p in setup.ranges:
        tree = tree_params(setup, f"ttbr{p.varange}")
        if tree.disabled:
            continue
        runs = []
        s = walk_tree(tree, mem, RangeMerger(runs.append), limits=Limits(max_tables=64, max_entries=200_000))
        assert s.entries + s.s2_lookups <= 200_000
        for run in rng.sample([r for r in runs if r.mapped], min(8, sum(r.mapped for r in runs))):
            rec = run_record(run, tree)
            for va in {run.va_start, run.va_end - 8, rng.randrange(run.va_start, run.va_end) & ~7}:
                t = translate(setup, mem, va)
                if t.fault is not None and (t.fault.stage == 1 or t.fault.s1ptw):
                    continue            # flagged leaves, or a stage 1 table fetch (the walk read it)
                off = va - run.va_start
                assert t.ipa == run.oa + off
                if rec["fault"] is not None:
                    assert t.fault is not None and t.fault.fsc == rec["fault"]["fsc"], (hex(va), t.fault, rec)
                    continue
                assert t.ok and t.pa == run.pa + off, (hex(va), t.fault, rec)
                d = translation_to_dict(t, wxn=setup.wxn, epan=setup.epan)
                assert (d["attributes"], d["permissions"]) == (rec["attributes"], rec["permissions"])
