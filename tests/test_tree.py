"""Tests for the tree walk (:mod:`pgwalk.tree`, issue 3).

Trees are built with :mod:`pgwalk.builder` and the walk is checked against
``translate`` (the scalar walker): every page of every leaf of small random
trees must translate to the PA the dump shows, with the same leaf; every
invalid run must fault at its level; and the runs must tile the input range.
Then folding and merging rules, hostile trees, and the real Linux kernel
tables of the oracle dump.
"""

from __future__ import annotations

import bisect
import json
import random
import time
import zlib

import pytest

from pgwalk.builder import S1Attrs, S2Attrs, TableAttrs, TableBuilder, TwoStage, two_stage
from pgwalk.errors import InputError
from pgwalk.faults import FaultType
from pgwalk.builder import DEFAULT_MAIR
from pgwalk.formats.registers import TCR_EL1, TCR_EL2_E2H0
from pgwalk.memory import PhysicalMemory
from pgwalk.params import setup_from_registers
from pgwalk.tree import (
    FOLD_MIN, Limits, RangeMerger, TableStatus, TreeLines, TreeStats, TreeVisitor, Visit, collect_runs,
    run_record, tree_params, walk_tree,
)
from pgwalk.walk import translate

T = FaultType
KERNEL = 0xFFFF_0000_0000_0000


class Recorder(TreeVisitor):
    """Every visit, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def table_pre(self, table):
        self.events.append(("pre", table))

    def run(self, run):
        self.events.append(("run", run))

    def table_post(self, table):
        self.events.append(("post", table))

    def tables(self, status=None):
        return [t for k, t in self.events if k == "pre" and (status is None or t.status is status)]

    def runs(self):
        return [r for k, r in self.events if k == "run"]


def ranges_of(tree, mem, **kw):
    out = []
    m = RangeMerger(out.append, merge=kw.pop("merge", True))
    walk_tree(tree, mem, m, visits=Visit.LEAF | Visit.TABLE_PRE, merge=m.merge, **kw)
    m.finish()
    return out


def tree_of(b: TableBuilder, ttbr: int = 0, regs=None, which=None):
    regs = b.registers(ttbr=ttbr, regs=regs)
    setup = setup_from_registers(regs)
    return setup, tree_params(setup, which or f"ttbr{ttbr}")


# =========================================================================== agreement with translate

def random_attrs(rng: random.Random) -> S1Attrs:
    return S1Attrs(attr_indx=rng.randrange(6), ap=rng.randrange(4), uxn=rng.randrange(2), pxn=rng.randrange(2),
                   ng=rng.randrange(2), af=int(rng.random() < 0.9), contiguous=int(rng.random() < 0.2),
                   dbm=rng.randrange(2))


def random_tree(rng: random.Random, *, ttbr: int, leaf_levels=(2, 3), **kw) -> TableBuilder:
    b = TableBuilder(table_base=0x4000_0000 + 0x100_0000 * ttbr, **kw)
    top = (1 << 64) - (1 << b.ia_bits) if ttbr else 0
    g = b.granule
    for _ in range(rng.randrange(4, 9)):
        level = rng.choice([lv for lv in leaf_levels if lv in b.leaf_levels()])
        size = b.block_size(level)
        n = rng.randrange(1, 6) if level == 3 else 1
        va = top + rng.randrange(0, (1 << b.ia_bits) // size - n) * size
        pa = rng.randrange(1, 1 << 12) * max(size, 1 << 21)
        ta = TableAttrs(aptable=rng.randrange(4), uxntable=rng.randrange(2), pxntable=rng.randrange(2)) \
            if rng.random() < 0.3 else None
        b.map(va, pa % (1 << b.pa_bits), n * size, random_attrs(rng), table_attrs=ta,
              min_leaf_level=level, max_leaf_level=level)
    # a hole punched in one mapping, a page run that continues a neighbour
    va = top + 0x20_0000 * 3
    b.map(va, 0x9000_0000, 6 * g, S1Attrs(), min_leaf_level=3)
    b.unmap(va + 2 * g, g)
    return b


def check_against_translate(setup, tree, mem, rng, *, stages=None, max_pages=2048):
    """Every leaf of the dump translates alike; every invalid run faults at its level; runs tile the range."""
    runs = collect_runs(tree, mem, invalid=True)
    rec = Recorder()
    walk_tree(tree, mem, rec, invalid=True)
    not_walked = [t for t in rec.tables() if t.status is not TableStatus.OK]
    # tiling: leaf/invalid runs and tables not walked cover [va_lo, va_hi) exactly, in order
    spans = sorted([(r.va_start, r.va_end) for r in runs] + [(t.va_start, t.va_end) for t in not_walked])
    assert spans[0][0] == tree.va_lo and spans[-1][1] == tree.va_hi
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    g = 1 << tree.granule_shift
    checked = 0
    for run in runs:
        if run.kind == "invalid":                   # invalid runs always come whole
            for va in (run.va_start, run.va_end - 8):
                t = translate(setup, mem, va, stages=stages)
                assert t.fault is not None and t.fault.type is T.TRANSLATION and t.fault.level == run.level, \
                    (hex(va), t.fault)
            continue
        assert run.count == 1                       # merge=False: one run per leaf
        pages = run.size // g
        offsets = range(pages) if pages <= max_pages else \
            sorted({0, pages - 1, *rng.sample(range(pages), 64)})
        leaf = run.leaf()
        for k in offsets:
            off = k * g + rng.randrange(0, g, 8)
            t = translate(setup, mem, run.va_start + off, stages=stages)
            checked += 1
            if t.fault is not None:
                assert t.fault.type is T.ACCESS_FLAG and not run.attrs.af, (hex(run.va_start + off), t.fault)
                assert any("Access flag" in f for f in run.attrs.flags)
                continue
            mine = t.s2 if tree.stage == 2 else t.s1
            assert (mine.level, mine.kind, mine.oa_base, mine.size_shift) == \
                   (leaf.level, leaf.kind, leaf.oa_base, leaf.size_shift)
            assert (mine.attrs, mine.perms, mine.af, mine.ng, mine.contiguous, mine.dbm, mine.attr_index, mine.sh) \
                == (leaf.attrs, leaf.perms, leaf.af, leaf.ng, leaf.contiguous, leaf.dbm, leaf.attr_index, leaf.sh)
            assert mine.raw == leaf.raw
            if tree.through_s2:
                assert t.ipa == run.oa + off
            assert (t.pa if tree.stage == 2 or not tree.through_s2 else t.pa) == \
                (None if run.pa is None else run.pa + off), hex(run.va_start + off)
    return checked


S1_CONFIGS = [
    dict(granule=4096, ia_bits=48),
    dict(granule=4096, ia_bits=39),
    dict(granule=16384, ia_bits=47),
    dict(granule=65536, ia_bits=42),
    dict(granule=4096, ia_bits=52, ds=True, pa_bits=52),
    dict(granule=16384, ia_bits=52, ds=True, pa_bits=52),
    dict(granule=65536, ia_bits=52, lpa=True, pa_bits=52),
    dict(granule=4096, ia_bits=48, big_endian=True),
]


@pytest.mark.parametrize("cfg", S1_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("ttbr", [0, 1])
def test_dump_agrees_with_translate_on_every_mapped_page(cfg, ttbr):
    rng = random.Random(zlib.crc32(repr((sorted(cfg.items()), ttbr)).encode()))
    b = random_tree(rng, ttbr=ttbr, **cfg)
    setup, tree = tree_of(b, ttbr)
    assert check_against_translate(setup, tree, b.memory(), rng) > 0


@pytest.mark.parametrize("cfg", [dict(granule=4096, ia_bits=48), dict(granule=4096, ia_bits=52, ds=True, pa_bits=52),
                                 dict(granule=16384, ia_bits=52, ds=True, pa_bits=52),
                                 dict(granule=65536, ia_bits=52, lpa=True, pa_bits=52)],
                         ids=["4k-L1", "4k-ds-L0", "16k-ds-L1", "64k-lpa-L1"])
def test_large_blocks_agree_with_translate(cfg):
    """1GB, 512GB, 64GB and 4TB blocks: boundaries and a sample of pages."""
    rng = random.Random(len(cfg) * 31 + cfg["granule"])
    b = random_tree(rng, ttbr=1, leaf_levels=(0, 1), **cfg)
    setup, tree = tree_of(b, 1)
    runs = collect_runs(tree, b.memory())
    assert any(r.level <= 1 and r.kind == "block" for r in runs)
    check_against_translate(setup, tree, b.memory(), rng, max_pages=256)


def test_dump_agrees_with_hardware_af_and_dirty_updates():
    rng = random.Random(5)
    b = random_tree(rng, ttbr=1)
    regs = b.registers(ttbr=1)
    regs["TCR_EL1"] = TCR_EL1["HD"].put(TCR_EL1["HA"].put(regs["TCR_EL1"], 1), 1)
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "ttbr1")
    check_against_translate(setup, tree, b.memory(), rng)


@pytest.mark.parametrize("granule,ia_bits,concat", [(4096, 40, 2), (4096, 42, 8), (16384, 48, 2), (65536, 44, 4)])
def test_stage2_tree_with_concatenated_roots_agrees_with_translate(granule, ia_bits, concat):
    rng = random.Random(granule + ia_bits)
    b = TableBuilder(stage=2, granule=granule, ia_bits=ia_bits, concat=concat)
    g = b.granule
    for _ in range(6):
        n = rng.randrange(1, 5)
        ipa = rng.randrange(0, (1 << ia_bits) // g - n) * g
        b.map(ipa, 0x8000_0000 + rng.randrange(1 << 10) * g, n * g,
              S2Attrs(s2ap=rng.randrange(4), xn=rng.randrange(4), memattr=rng.choice([0b1111, 0b0001, 0b0101])),
              min_leaf_level=3)
    b.map((1 << ia_bits) - b.block_size(2), 0x1_0000_0000, b.block_size(2), S2Attrs(), max_leaf_level=2)
    regs = b.registers()
    regs["SCTLR_EL1"] = 0
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "s2")
    assert tree.entries(tree.start_level) == concat << tree.stride
    rec = Recorder()
    walk_tree(tree, b.memory(), rec)
    assert rec.tables()[0].entries == concat << tree.stride
    check_against_translate(setup, tree, b.memory(), rng, stages="2")


def test_two_stage_tables_through_stage_2_and_final_pa():
    rng = random.Random(12)
    ts = two_stage(ipa_bits=40)
    for _ in range(5):
        va = rng.randrange(1, 1 << 20) * 0x1000
        ipa = rng.randrange(1, 1 << 16) * 0x1000 + 0x1_0000_0000
        n = rng.randrange(1, 4)
        ts.map(va, ipa, n * 0x1000, random_attrs(rng), pa=0x2_0000_0000 + (ipa & 0xFFFF_F000))
    ts.map(0x4000_0000, 0x3000_0000, 0x20_0000, S1Attrs(), max_leaf_level=2)   # stage 2 does not map it
    regs = ts.registers()
    setup = setup_from_registers(regs)
    mem = ts.memory()
    tree = tree_params(setup, "ttbr0")
    assert tree.through_s2 and tree.final_pa
    checked = 0
    for run in collect_runs(tree, mem):
        if run.pa is None:
            assert "stage 2" in run.note
            t = translate(setup, mem, run.va_start)
            assert t.fault.stage == 2 and not t.fault.s1ptw
            continue
        t = translate(setup, mem, run.va_start + 0x18)
        if t.fault is not None:
            assert t.fault.type is T.ACCESS_FLAG
            continue
        assert (t.ipa, t.pa) == (run.oa + 0x18, run.pa + 0x18)
        assert run.s2_perms == t.s2.perms
        checked += 1
    assert checked
    rec = Recorder()
    walk_tree(tree, mem, rec)
    root = rec.tables()[0]
    assert root.address == ts.s1.root and root.pa == ts.s1_table_pa + (ts.s1.root - ts.s1.table_base)
    # stage 1 only: outputs are IPAs, no PA
    tree1 = tree_params(setup, "ttbr0", final_pa=False)
    assert all(r.pa is None for r in collect_runs(tree1, mem))


def test_two_stage_stage1_table_outside_stage2_is_reported_and_walk_goes_on():
    ts = two_stage(ipa_bits=40)
    ts.map(0x1000, 0x1_0000_0000, 0x1000, pa=0x2_0000_0000)
    ts.map(0x80_0000_0000, 0x1_0000_1000, 0x1000, pa=0x2_0000_1000)
    # the L1 table of the second mapping lives at an IPA stage 2 does not map
    ts.s1.set_descriptor(0x80_0000_0000, 0, ts.s1.table_descriptor(0x9000_0000))
    ts.map(0x100_0000_0000, 0x1_0000_2000, 0x1000, pa=0x2_0000_2000)
    setup = setup_from_registers(ts.registers())
    tree = tree_params(setup, "ttbr0")
    rec = Recorder()
    walk_tree(tree, ts.memory(), rec)
    bad = rec.tables(TableStatus.S2_FAULT)
    assert len(bad) == 1 and bad[0].address == 0x9000_0000 and "stage 2 translation fault" in bad[0].note
    assert [r.pa for r in rec.runs()] == [0x2_0000_0000, 0x2_0000_2000]


def test_one_el_regime_el2_agrees_with_translate():
    rng = random.Random(3)
    b = random_tree(rng, ttbr=0)
    regs = {"TCR_EL2": TCR_EL2_E2H0.encode(T0SZ=16, TG0=0, PS=5), "TTBR0_EL2": b.root, "SCTLR_EL2": 1,
            "MAIR_EL2": DEFAULT_MAIR}
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "ttbr0")
    assert tree.regime == "EL2" and not tree.two_el
    check_against_translate(setup, tree, b.memory(), rng)
    r = next(r for r in collect_runs(tree, b.memory()) if r.attrs.af)
    assert set(run_record(r, tree)["permissions"]) == {"el2"}


def test_two_stage_stage2_pieces_smaller_than_the_stage1_leaf():
    """Stage 2 pages that continue each other keep the block whole; one that differs splits it."""
    ts = two_stage(ipa_bits=40)
    ts.s1.map(0x20_0000, 0x1_0020_0000, 0x20_0000, S1Attrs(), max_leaf_level=2)
    ts.s2.map(0x1_0020_0000, 0x2_0000_0000, 0x20_0000, S2Attrs(), min_leaf_level=3)
    setup = setup_from_registers(ts.registers())
    (r,) = collect_runs(tree_params(setup, "ttbr0"), ts.memory())
    assert r.kind == "block" and r.pa == 0x2_0000_0000 and r.size == 0x20_0000 and not r.partial
    assert r.s2_level == 3 and r.note == ""
    ts.s2.map(0x1_0020_5000, 0x3_0000_0000, 0x1000, S2Attrs())             # one page elsewhere
    runs = collect_runs(tree_params(setup, "ttbr0"), ts.memory())
    assert [(x.va_start, x.size, x.pa) for x in runs] == [
        (0x20_0000, 0x5000, 0x2_0000_0000), (0x20_5000, 0x1000, 0x3_0000_0000),
        (0x20_6000, 0x1F_A000, 0x2_0000_6000)]
    assert all(x.partial and x.count == 1 and x.index == 1 for x in runs)


# =========================================================================== the visitor

def test_visit_order_and_kinds():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x3000, min_leaf_level=3)
    b.map(0x40_0000, 0x9000_0000, 0x20_0000, max_leaf_level=2)
    setup, tree = tree_of(b)
    rec = Recorder()
    walk_tree(tree, b.memory(), rec)
    kinds = [(k, x.level) for k, x in rec.events]
    assert kinds == [("pre", 0), ("pre", 1), ("pre", 2), ("pre", 3), ("run", 3), ("post", 3), ("run", 2),
                     ("post", 2), ("post", 1), ("post", 0)]
    rec = Recorder()
    walk_tree(tree, b.memory(), rec, visits=Visit.TABLE_POST)
    assert [k for k, _ in rec.events] == ["post"] * 4
    rec = Recorder()
    walk_tree(tree, b.memory(), rec, visits=Visit.LEAF, invalid=True)
    assert {r.kind for r in rec.runs()} == {"page", "block", "invalid"}


def test_range_clips_tables_and_shows_overlapping_leaves_whole():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    b.map(0x40_0000, 0x9000_0000, 0x20_0000, max_leaf_level=2)
    setup, tree = tree_of(b)
    runs = collect_runs(tree, b.memory(), start=0x3F_F000, end=0x40_1000, merge=True)
    assert [(r.va_start, r.va_end, r.kind) for r in runs] == [(0x3F_F000, 0x40_0000, "page"),
                                                            (0x40_0000, 0x60_0000, "block")]


def test_ttbr1_addresses_are_sign_extended():
    b = TableBuilder(ia_bits=39)
    b.map(KERNEL | 0xFFFF_FF80_0000_0000 | 0x1000, 0x8000_0000, 0x1000)
    setup, tree = tree_of(b, 1)
    assert tree.va_lo == 0xFFFF_FF80_0000_0000 and tree.va_hi == 1 << 64
    (run,) = collect_runs(tree, b.memory())
    assert run.va_start == 0xFFFF_FF80_0000_1000 and run.pa == 0x8000_0000


def test_hierarchical_attributes_apply_to_leaves():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b01), table_attrs=TableAttrs(aptable=0b01, uxntable=1))
    b.map(0x80_0000_0000, 0x8000_1000, 0x1000, S1Attrs(ap=0b01))
    setup, tree = tree_of(b)
    r1, r2 = collect_runs(tree, b.memory())
    d1, d2 = run_record(r1, tree), run_record(r2, tree)
    assert d1["permissions"] == {"el1": "rwx", "el0": "---"}          # APTable[0]: no EL0 access
    assert d2["permissions"] == {"el1": "rw-", "el0": "rwx"}          # EL0-writable: never EL1-executable
    rec = Recorder()
    walk_tree(tree, b.memory(), rec)
    assert rec.tables()[1].inherited == (0b01, True, False, False)


def test_disabled_trees_are_not_walked():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    setup, tree = tree_of(b, 0)
    other = tree_params(setup, "ttbr1")
    assert "EPD1 = 1" in other.disabled
    s = walk_tree(other, b.memory(), Recorder())
    assert s.tables == 0
    with pytest.raises(InputError):
        tree_params(setup, "s2")


def test_disabled_trees_say_what_the_walks_setup_checks_say():
    """A tree is disabled by the walk's own VA-independent setup checks (pgwalk.rules.S1_TREE_CHECKS):
    the same reason, in the same order, as translate gives for any VA of that range."""
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    regs = b.registers(ttbr=0)
    tcr = regs["TCR_EL1"]
    cases = {
        "EPD0": {"TCR_EL1": TCR_EL1["EPD0"].put(tcr, 1)},
        "T0SZ": {"TCR_EL1": TCR_EL1["T0SZ"].put(tcr, 5)},
        "both": {"TCR_EL1": TCR_EL1["EPD0"].put(TCR_EL1["T0SZ"].put(tcr, 5), 1)},     # configuration first
        "base": {"TCR_EL1": TCR_EL1["IPS"].put(tcr, 0), "TTBR0_EL1": 1 << 33},         # beyond 32-bit OA
    }
    for name, change in cases.items():
        setup = setup_from_registers({**regs, **change})
        tree = tree_params(setup, "ttbr0")
        fault = translate(setup, b.memory(), 0x1000).fault
        assert tree.disabled and fault is not None and fault.reason == tree.disabled, name
        assert walk_tree(tree, b.memory(), Recorder()).tables == 0
    # an absent TTBR is unknown, not 0: its tree is not walked (at base 0) but says why
    setup = setup_from_registers({k: v for k, v in regs.items() if k != "TTBR0_EL1"})
    tree = tree_params(setup, "ttbr0")
    assert tree.disabled == "TTBR0_EL1 is unknown"
    assert walk_tree(tree, b.memory(), Recorder()).tables == 0


# =========================================================================== merging and folding

def test_ranges_merge_across_tables_and_break_on_output_and_attributes():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x40_0000, min_leaf_level=3)             # two L3 tables, one range
    b.map(0x60_0000, 0x8040_1000, 0x1000, min_leaf_level=3)                # VA continues, OA does not
    b.map(0x60_1000, 0x8040_2000, 0x1000, S1Attrs(ap=0b10), min_leaf_level=3)   # OA continues, AP does not
    b.map(0x60_2000, 0x8040_3000, 0x1000, min_leaf_level=3)                # and back
    setup, tree = tree_of(b)
    got = [(r.va_start, r.count, r.pa) for r in ranges_of(tree, b.memory())]
    assert got == [(0x20_0000, 1024, 0x8000_0000), (0x60_0000, 1, 0x8040_1000), (0x60_1000, 1, 0x8040_2000),
                   (0x60_2000, 1, 0x8040_3000)]
    nomerge = ranges_of(tree, b.memory(), merge=False)
    assert len(nomerge) == 1024 + 3 and all(r.count == 1 for r in nomerge)


def test_table_not_walked_after_a_merged_range_spans_its_own_entry():
    """A range for a table not walked (its own span, one entry) does not take the count of the
    leaf range merged before it."""
    b = TableBuilder()
    b.map(0, 0x8000_0000, 0x40_0000, min_leaf_level=3)                          # two level 3 tables
    b.set_descriptor(0x40_0000, 2, b.table_descriptor(0x7000_0000))            # nothing there
    b.set_descriptor(0x60_0000, 2, b.read(b.descriptor_address(0, 2)))         # shared: a reference
    setup, tree = tree_of(b)
    rs = ranges_of(tree, b.memory(), end=0x80_0000)
    assert [(r.kind, r.va_start, r.va_end, r.count, r.status) for r in rs] == [
        ("page", 0, 0x40_0000, 1024, None), ("table", 0x40_0000, 0x60_0000, 1, "not in image"),
        ("table", 0x60_0000, 0x80_0000, 1, "reference")]


def test_block_of_level_2_is_not_merged_with_pages():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    b.map(0x40_0000, 0x8020_0000, 0x20_0000, max_leaf_level=2)
    setup, tree = tree_of(b)
    assert [(r.level, r.count) for r in ranges_of(tree, b.memory())] == [(3, 512), (2, 1)]


@pytest.mark.parametrize("hd,expected", [(1, 1), (0, 2)])
def test_ranges_merge_on_decoded_attributes_clean_and_dirty_pages(hd, expected):
    """With HD = 1 a writable-clean page (AP[2] = 1, DBM = 1) is as writable as a dirty one."""
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000, S1Attrs(ap=0b10, dbm=1))
    b.map(0x2000, 0x8000_2000, 0x1000, S1Attrs(ap=0b00, dbm=1))
    regs = b.registers()
    regs["TCR_EL1"] = TCR_EL1["HD"].put(TCR_EL1["HA"].put(regs["TCR_EL1"], 1), hd)
    setup = setup_from_registers(regs)
    assert len(ranges_of(tree_params(setup, "ttbr0"), b.memory())) == expected


def test_software_bits_do_not_split_ranges():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000, S1Attrs(sw=0b1000))
    b.map(0x2000, 0x8000_2000, 0x1000, S1Attrs(sw=0b0001))
    setup, tree = tree_of(b)
    (r,) = ranges_of(tree, b.memory())
    assert r.count == 2


def test_invalid_runs_merge_and_count_nonzero_descriptors():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000)
    b.set_descriptor(0x5000, 3, 0x1234_0000)                        # invalid (bit 0 = 0), not zero
    setup, tree = tree_of(b)
    rs = ranges_of(tree, b.memory(), invalid=True)
    inv = [r for r in rs if r.kind == "invalid"]
    assert sum(r.nonzero for r in inv) == 1
    assert [(r.kind, r.level) for r in rs[:4]] == [("invalid", 3), ("page", 3), ("invalid", 3), ("invalid", 2)]
    assert all(a.va_end == b_.va_start for a, b_ in zip(rs, rs[1:]))


def tree_records(tree, mem, **kw):
    out = []
    walk_tree(tree, mem, TreeLines(out.append, tree), invalid=True, min_run=FOLD_MIN, **kw)
    return out


def test_tree_view_folds_long_leaf_runs_and_invalid_runs():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 10 * 0x1000, min_leaf_level=3)                 # 10 continuing pages
    b.map(0x20_B000, 0x9000_0000, 0x1000, min_leaf_level=3)
    b.map(0x20_C000, 0x9100_0000, 0x1000, min_leaf_level=3)                       # 2 that do not continue
    b.map(0x20_D000, 0x9200_0000, (FOLD_MIN - 1) * 0x1000, min_leaf_level=3)      # a short run
    setup, tree = tree_of(b)
    recs = tree_records(tree, b.memory())
    l3 = [d for d in recs if d["record"] == "entries" and d["level"] == 3]
    assert [(d["kind"], d["index"], d["count"]) for d in l3] == [
        ("page", 0, 10), ("invalid", 10, 1), ("page", 11, 1), ("page", 12, 1),
        *[("page", 13 + k, 1) for k in range(FOLD_MIN - 1)], ("invalid", 13 + FOLD_MIN - 1, 512 - 13 - FOLD_MIN + 1)]
    assert l3[0]["size"] == 10 * 0x1000 and l3[0]["pa_start"] == "0x80000000"
    for d in l3:                                   # each record's raw is its own first descriptor
        if d["kind"] == "page":
            assert d["raw"] == hex(b.read(b.descriptor_address(int(d["va_start"], 16), 3)))
    unfolded = tree_records(tree, b.memory(), merge=False)
    assert sum(1 for d in unfolded if d["record"] == "entries" and d["kind"] == "page") == 10 + 2 + FOLD_MIN - 1


def test_tree_view_last_flags_mark_exactly_the_last_child():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000)
    b.map(0x7F_FFFF_F000, 0x8000_2000, 0x1000)          # last entry of its L3, L2 and L1 tables
    setup, tree = tree_of(b)
    recs = tree_records(tree, b.memory())
    children: dict[int, list] = {}
    stack: list[int] = []
    for n, d in enumerate(recs):
        del stack[d["depth"]:]
        if stack:
            children.setdefault(stack[-1], []).append(d)
        if d["record"] == "table":
            stack.append(n)
    for kids in children.values():
        assert [k["last"] for k in kids] == [False] * (len(kids) - 1) + [True]


def test_depth_limits_expansion():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000)
    setup, tree = tree_of(b)
    recs = tree_records(tree, b.memory(), max_depth=1)
    tables = [d for d in recs if d["record"] == "table"]
    assert [(d["level"], d["status"]) for d in tables] == [(0, "ok"), (1, "ok"), (2, "not expanded")]
    assert not any(d["record"] == "entries" and d["kind"] == "page" for d in recs)


def test_stats_counts():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x4000, min_leaf_level=3)
    b.map(0x40_0000, 0x9000_0000, 0x20_0000, S1Attrs.device(), max_leaf_level=2)
    setup, tree = tree_of(b)
    st = TreeStats(tree)
    walk_tree(tree, b.memory(), st, visits=Visit.LEAF | Visit.TABLE_PRE, invalid=True)
    d = st.to_dict()
    assert d["tables"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert {(x["level"], x["kind"]): x["count"] for x in d["leaves"]} == {(2, "block"): 1, (3, "page"): 4}
    assert d["bytes_mapped"] == 0x20_0000 + 0x4000
    assert d["bytes_by_memtype"]["Device-nGnRE (AttrIndx 3)"] == 0x20_0000
    assert d["bytes_by_permissions"] == {"EL1 rw- EL0 ---": 0x20_0000, "EL1 rwx EL0 --x": 0x4000}
    assert d["invalid"] == 511 + 511 + 510 + 508


# =========================================================================== hostile and broken trees

def _entries(b: TableBuilder, table: int, raw: int, n: int = 512) -> None:
    for i in range(n):
        b.write(table + 8 * i, raw)


def test_table_shared_512_times_at_every_level_is_walked_once():
    b = TableBuilder()
    b.map(0, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    tables = sorted(b.tables, key=b.tables.get)                     # L0, L1, L2, L3
    for level, t in enumerate(tables[:3]):
        _entries(b, t, b.read(t))                                   # every entry -> the same next table
    setup, tree = tree_of(b)
    t0 = time.perf_counter()
    rec = Recorder()
    s = walk_tree(tree, b.memory(), rec)
    assert time.perf_counter() - t0 < 2
    assert s.tables == 4 and s.references == 3 * 511 and s.stopped is None
    refs = rec.tables(TableStatus.REFERENCE)
    assert len(refs) == 3 * 511 and all(r.first_va is not None for r in refs)
    assert {r.level for r in refs} == {1, 2, 3}
    assert [(r.count, r.pa) for r in rec.runs()] == [(512, 0x8000_0000)]
    rs = ranges_of(tree, b.memory())
    assert sum(1 for r in rs if r.kind == "table" and r.status == "reference") == 3 * 511


def test_self_reference_is_walked_at_most_once_per_level():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000)
    root = b.root
    l1 = [t for t, lv in b.tables.items() if lv == 1][0]
    b.write(root + 8 * 1, b.table_descriptor(root))                 # root entry 1 -> root
    b.write(l1 + 8 * 5, b.table_descriptor(l1))                     # an L1 entry -> its own table
    setup, tree = tree_of(b)
    rec = Recorder()
    s = walk_tree(tree, b.memory(), rec)
    ok = [(t.level, t.pa) for t in rec.tables(TableStatus.OK)]
    assert len(ok) == len(set(ok)) and s.tables == len(ok) and s.tables <= 4 * len(b.tables)
    assert s.references > 0 and s.stopped is None
    # the real mapping is there, at its VA
    assert any(r.va_start == 0x1000 and r.pa == 0x8000_1000 for r in rec.runs())


def test_table_outside_the_image_is_shown_and_the_walk_goes_on():
    b = TableBuilder()
    b.map(0x20_0000, 0x8000_0000, 0x1000, min_leaf_level=3)
    b.map(0x60_0000, 0x8010_0000, 0x1000, min_leaf_level=3)
    b.set_descriptor(0x40_0000, 2, b.table_descriptor(0x7000_0000))    # nothing there
    setup, tree = tree_of(b)
    rec = Recorder()
    s = walk_tree(tree, b.memory(), rec)
    (bad,) = rec.tables(TableStatus.NOT_IN_IMAGE)
    assert bad.address == 0x7000_0000 and bad.level == 3 and s.problems == 1
    assert [r.pa for r in rec.runs()] == [0x8000_0000, 0x8010_0000]
    t = translate(setup, b.memory(), 0x40_0000)
    assert t.fault.type is T.SYNC_EXTERNAL_ON_WALK and t.fault.not_in_image


def test_table_beyond_the_output_size():
    b = TableBuilder(pa_bits=40)
    b.map(0x4000_0000, 0x8000_0000, 0x1000)
    b.set_descriptor(0x4000_0000, 1, b.table_descriptor(0x100_0000_0000))
    setup, tree = tree_of(b)
    rec = Recorder()
    walk_tree(tree, b.memory(), rec)
    (bad,) = rec.tables(TableStatus.BEYOND_OA)
    assert "Address size fault at level 1" in bad.note


@pytest.mark.parametrize("limit,kw", [(3, "max_tables"), (1024, "max_entries")])
def test_limits_stop_the_walk_with_a_clear_message(limit, kw):
    b = TableBuilder()
    for k in range(8):
        b.map(k * 0x4000_0000, 0x8000_0000 + k * 0x1000, 0x1000)
    setup, tree = tree_of(b)
    s = walk_tree(tree, b.memory(), Recorder(), limits=Limits(**{kw: limit}))
    assert s.stopped is not None and s.stopped.startswith(f"stopped after {s.tables} tables: limit reached")
    assert s.tables <= 3


def test_res0_bits_illegal_blocks_reserved_and_misaligned_outputs_are_flagged():
    b = TableBuilder()
    b.map(0x1000, 0x8000_1000, 0x1000)
    page = b.leaf_descriptor(0x8000_2000, 3)
    b.set_descriptor(0x2000, 3, page | (1 << 49))                       # RES0 without DS
    b.set_descriptor(0x3000, 3, b.leaf_descriptor(0x8000_3000, 3) & ~2)  # bits[1:0] = 01 at level 3
    blk = b.leaf_descriptor(0x8060_0000, 2)
    b.set_descriptor(0x60_0000, 2, blk | 0x5000)                        # OA bits below 2MB
    b.set_descriptor(0x80_0000_0000, 0, blk & ~((1 << 39) - 1) | 1)     # a block at level 0 without DS
    b.set_descriptor(0x100_0020_0000, 2, b.table_descriptor(0x4000_0000) | (1 << 50))  # table RES0
    setup, tree = tree_of(b)
    mem = b.memory()
    rec = Recorder()
    walk_tree(tree, mem, rec)
    by_va = {r.va_start: r for r in rec.runs()}
    res0 = by_va[0x2000]
    assert res0.kind == "page" and any(f == "RES0 bits set: 0x2000000000000" for f in res0.attrs.flags)
    assert translate(setup, mem, 0x2000).pa == res0.pa == 0x8000_2000      # ignored by the walk
    assert by_va[0x3000].kind == "reserved" and not by_va[0x3000].mapped
    assert translate(setup, mem, 0x3000).fault.type is T.TRANSLATION
    mis = by_va[0x60_0000]
    assert mis.kind == "block" and any(f.startswith("misaligned output: bits 0x5000") for f in mis.attrs.flags)
    assert translate(setup, mem, 0x60_1234).pa == mis.pa + 0x1234 == 0x8060_1234
    ill = by_va[0x80_0000_0000]
    assert ill.kind == "illegal block" and "block descriptor not allowed at level 0" in ill.attrs.flags[0]
    t = translate(setup, mem, 0x80_0000_0000)
    assert (t.fault.type, t.fault.level) == (T.TRANSLATION, 0)
    flagged = [t for t in rec.tables() if t.flags]
    assert flagged and flagged[0].flags[0].startswith("RES0 bits set: 0x4")


def test_output_beyond_the_output_size_is_flagged():
    """64KB, IPS 48 bits: descriptor bits[15:12] are OA[51:48] (PAMax 52): Address size fault."""
    b = TableBuilder(granule=65536, ia_bits=48, pa_bits=48)
    b.map(0x10000, 0x8000_0000, 0x10000)
    b.set_descriptor(0x10000, 3, b.leaf_descriptor(0x8000_0000, 3) | (1 << 12))
    setup, tree = tree_of(b)
    (r,) = collect_runs(tree, b.memory())
    assert any("Address size fault" in f for f in r.attrs.flags)
    assert translate(setup, b.memory(), 0x10000).fault.type is T.ADDRESS_SIZE


# =========================================================================== the real Linux kernel

def _linux():
    from oracle_data import linux_oracle_dir, linux_vmcore_elf

    oracle = linux_oracle_dir()
    elf = linux_vmcore_elf() if oracle is not None else None
    if elf is None:
        pytest.skip("the Linux oracle dump is not available")
    from pgwalk.images import open_images
    from pgwalk.regs import load_register_file

    setup = setup_from_registers(load_register_file(oracle / "regs.json"))
    entries = json.loads((oracle / "translations.json").read_text())["entries"]
    return setup, open_images([str(elf)]), entries


@pytest.mark.parametrize("ttbr", [1, 0])
def test_linux_kernel_dump_agrees_with_qemu(ttbr):
    """Every VA QEMU translated (el1_nopan) appears in the dump with the same PA, and every
    VA it found unmapped is absent: the kernel (TTBR1, swapper_pg_dir) and the user (TTBR0) trees."""
    setup, mem, entries = _linux()
    tree = tree_params(setup, f"ttbr{ttbr}")
    t0 = time.perf_counter()
    rs = ranges_of(tree, mem)
    assert time.perf_counter() - t0 < 5
    starts = [r.va_start for r in rs]
    p = setup.ranges[ttbr]
    mapped = unmapped = 0
    for e in entries:
        va = int(e["va"], 16)
        if (va >> 55) & 1 != ttbr:
            continue
        if p.tbi:                       # the top byte is a tag: the walk sees bits 55 copied up
            va = (va | (0xFF << 56)) if ttbr else va & ((1 << 56) - 1)
        i = bisect.bisect_right(starts, va) - 1
        r = rs[i] if i >= 0 and va < rs[i].va_end and rs[i].mapped else None
        if e["result"] is None:
            assert r is None, (e["va"], e["category"])
            unmapped += 1
        else:
            assert r is not None, (e["va"], e["category"])
            assert r.pa + (va - r.va_start) == int(e["result"], 16), (e["va"], e["category"])
            mapped += 1
    if ttbr:
        assert mapped > 800 and unmapped > 600
    else:
        assert mapped > 400


@pytest.mark.parametrize("seed", range(3))
def test_garbage_tables_are_bounded_and_never_raise(seed):
    """Random memory as a table tree: the walk ends (limits, seen-set) and classifies every entry."""
    rng = random.Random(seed)
    base = 0x4000_0000
    data = bytearray(rng.randbytes(0x40000))
    # make many descriptors point back into the image so the walk goes deep
    for off in range(0, len(data), 8):
        if rng.random() < 0.3:
            raw = (base + rng.randrange(0, len(data) // 4096) * 4096) | rng.choice([0b11, 0b01, 0b00])
            raw |= rng.getrandbits(12) << 52 | rng.getrandbits(10) << 2
            data[off:off + 8] = raw.to_bytes(8, "little")
    mem = PhysicalMemory.from_buffers({base: bytes(data)})
    regs = {"TCR_EL1": TCR_EL1.encode(T0SZ=16, TG0=0, IPS=5, EPD1=1), "TTBR0_EL1": base, "SCTLR_EL1": 1,
            "MAIR_EL1": 0xFF44_0400}
    setup = setup_from_registers(regs)
    tree = tree_params(setup, "ttbr0")
    rec = Recorder()
    s = walk_tree(tree, mem, rec, invalid=True, limits=Limits(max_tables=80))
    # a table is walked once per level and path state (its hierarchical attributes here)
    ok = [(t.level, t.pa, t.inherited) for t in rec.tables(TableStatus.OK)]
    assert len(ok) == len(set(ok)) == s.tables <= 80
    assert {r.kind for r in rec.runs()} <= {"invalid", "block", "page", "illegal block", "reserved"}
    ranges_of(tree, mem, limits=Limits(max_tables=80))


def test_intern_cache_reset_keeps_results(monkeypatch):
    import pgwalk.tree as tree_mod

    rng = random.Random(77)
    b = random_tree(rng, ttbr=0)
    setup, tree = tree_of(b)
    want = [(r.va_start, r.count, r.pa, r.attrs) for r in ranges_of(tree, b.memory())]
    monkeypatch.setattr(tree_mod, "_INTERN_LIMIT", 1)
    got = [(r.va_start, r.count, r.pa, r.attrs) for r in ranges_of(tree, b.memory())]
    assert got == want


# =========================================================================== tables read in part

def _l3_table(setup, mem, va):
    """The IPA/PA of the level 3 table translate reads for ``va``."""
    return translate(setup, mem, va, stages="1").steps[-1].table


def test_table_partly_outside_the_image_is_walked_where_it_can_be_read():
    # a 64KB granule level 3 table (8192 entries) of which the image holds only the first half:
    # translate reads the descriptors it needs, so dump-tree walks the half it can read
    b = TableBuilder(granule=65536, ia_bits=48)
    b.map(0, 0x1_0000_0000, 8 * 0x10000)
    far = 6000 * 0x10000                           # entry 6000 of the same table: not in the image
    b.map(far, 0x2_0000_0000, 0x10000)
    setup, tree = tree_of(b)
    full = b.memory()
    l3 = _l3_table(setup, full, 0)
    assert _l3_table(setup, full, far) == l3
    (base, buf), = b.chunks().items()
    assert l3 + 0x10000 == base + len(buf)         # the last table the builder made
    mem = PhysicalMemory.from_buffers({base: bytes(buf[:l3 - base + 0x8000])})
    assert translate(setup, mem, 0x10000).output == 0x1_0001_0000
    assert translate(setup, mem, far).fault.type is T.SYNC_EXTERNAL_ON_WALK
    rec = Recorder()
    summary = walk_tree(tree, mem, rec)
    t3, gap = [t for t in rec.tables() if t.level == 3]
    assert t3.status is TableStatus.OK and t3.pa == l3
    assert t3.note == f"entries 4096-8191 not read: table PA {l3 + 0x8000:#x} is not in the image"
    assert summary.problems == 1
    # the entries not read are said where they are, like a table not in the image
    assert (gap.status, gap.address, gap.va_start, gap.va_end) == \
        (TableStatus.NOT_IN_IMAGE, l3 + 0x8000, 4096 * 0x10000, 8192 * 0x10000)
    assert gap.note.startswith(f"entries 4096-8191 of the level 3 table at {l3:#x} not read")
    runs = ranges_of(tree, mem)
    assert [(r.va_start, r.va_end, r.oa) for r in runs if r.mapped] == [(0, 8 * 0x10000, 0x1_0000_0000)]
    # the ranges view says where the entries not read are
    assert [(r.va_start, r.va_end, r.status) for r in runs if not r.mapped] == \
        [(4096 * 0x10000, 8192 * 0x10000, "not in image")]
    # the range through the unread half: nothing claimed there; the readable part as before
    assert collect_runs(tree, mem, start=far, end=far + 1, invalid=True) == []
    (inv,) = collect_runs(tree, mem, start=0x10_0000, end=0x10_0001, invalid=True)
    assert inv.kind == "invalid" and translate(setup, mem, 0x10_0000).fault.level == 3


def test_stage1_table_partly_refused_by_stage_2_is_walked_where_stage_2_maps_it():
    # a 64KB stage 1 table under a 4KB stage 2 that maps only its first 32KB
    s1 = TableBuilder(stage=1, granule=65536, ia_bits=48, table_base=0x8000_0000,
                      table_limit=0x8000_0000 + 0x40000, pa_bits=40)
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000, table_limit=0x4001_0000)
    ts = TwoStage(s1, s2, 0x4001_0000, 0x40000)
    ts.map(0, 0x1_0000_0000, 4 * 0x10000, pa=0x2_0000_0000)
    ts.map(5000 * 0x10000, 0x1_1000_0000, 0x10000, pa=0x2_1000_0000)
    setup = setup_from_registers(ts.registers())
    mem = ts.memory()
    l3 = _l3_table(setup, mem, 0)
    assert _l3_table(setup, mem, 5000 * 0x10000) == l3
    s2.unmap(l3 + 0x8000, 0x8000)
    mem = ts.memory()
    assert translate(setup, mem, 0x20000).output == 0x2_0002_0000
    f = translate(setup, mem, 5000 * 0x10000).fault
    assert (f.stage, f.type, f.s1ptw) == (2, T.TRANSLATION, True)
    tree = tree_params(setup, "ttbr0", final_pa=False)
    rec = Recorder()
    walk_tree(tree, mem, rec)
    t3, gap = [t for t in rec.tables() if t.level == 3]
    assert t3.status is TableStatus.OK and gap.status is TableStatus.S2_FAULT
    assert (gap.va_start, gap.va_end) == (4096 * 0x10000, 8192 * 0x10000)
    assert t3.note.startswith(f"entries 4096-8191 not read: table IPA {l3 + 0x8000:#x}: stage 2 translation fault")
    runs = ranges_of(tree, mem)
    assert [(r.va_start, r.va_end, r.oa) for r in runs if r.mapped] == [(0, 4 * 0x10000, 0x1_0000_0000)]


def test_shared_table_reached_through_paths_that_differ_is_judged_for_each():
    # one level 3 table under two level 2 entries, one of them with APTable = 0b01 (no EL0 access)
    # and UXNTable: the leaves under each entry have that path's permissions, as translate says;
    # a third entry with the first's (empty) hierarchical attributes is a reference
    b = TableBuilder()
    b.map(0, 0x8000_0000, 4 * 0x1000, S1Attrs(ap=0b01))
    l3 = translate(setup_from_registers(b.registers()), b.memory(), 0).steps[-1].table
    b.set_descriptor(0x20_0000, 2, b.table_descriptor(l3, TableAttrs(aptable=0b01, uxntable=1)))
    b.set_descriptor(0x40_0000, 2, b.table_descriptor(l3))
    setup, tree = tree_of(b)
    mem = b.memory()
    rec = Recorder()
    walk_tree(tree, mem, rec)
    l3s = [(t.va_start, t.status) for t in rec.tables() if t.level == 3]
    assert l3s == [(0, TableStatus.OK), (0x20_0000, TableStatus.OK), (0x40_0000, TableStatus.REFERENCE)]
    runs = [r for r in ranges_of(tree, mem) if r.mapped]
    assert [(r.va_start, r.va_end) for r in runs] == [(0, 0x4000), (0x20_0000, 0x20_4000)]
    for r in runs:
        t = translate(setup, mem, r.va_start)
        assert run_record(r, tree)["permissions"] == {"el1": t.s1.perms.text(False), "el0": t.s1.perms.text(True)}
    assert run_record(runs[1], tree)["permissions"]["el0"] == "---"
    assert run_record(runs[0], tree)["permissions"]["el0"] != "---"


def test_table_whose_start_is_outside_the_image_keeps_its_own_address():
    # the image begins in the middle of a level 3 table: the part read is walked, the table is
    # reported at its own PA (not where the part read begins), the part before it as not in the image
    b = TableBuilder(granule=65536, ia_bits=48)
    b.map(7000 * 0x10000, 0x1_0000_0000, 0x10000)
    b.map(0, 0x2_0000_0000, 0x10000)
    setup, tree = tree_of(b)
    full = b.memory()
    l3 = _l3_table(setup, full, 0)
    (base, buf), = b.chunks().items()
    assert l3 + 0x10000 == base + len(buf)
    cut = l3 + 0x8000 - base
    mem = PhysicalMemory.from_buffers({base: bytes(buf[:l3 - base]), l3 + 0x8000: bytes(buf[cut:])})
    assert translate(setup, mem, 7000 * 0x10000).output == 0x1_0000_0000
    rec = Recorder()
    walk_tree(tree, mem, rec)
    t3, gap = [t for t in rec.tables() if t.level == 3]
    assert (t3.status, t3.pa, t3.address) == (TableStatus.OK, l3, l3)
    assert (gap.status, gap.va_start, gap.va_end) == (TableStatus.NOT_IN_IMAGE, 0, 4096 * 0x10000)
    assert [(r.va_start, r.oa) for r in ranges_of(tree, mem) if r.mapped] == [(7000 * 0x10000, 0x1_0000_0000)]


# =========================================================================== whole tables of one leaf run

def _uniform_tables_tree(granule: int, big_endian: bool = False) -> tuple[TableBuilder, PhysicalMemory, int, int]:
    """Level 3 tables that are each one run of pages (judged together by the walk), amid the
    cases where a table is walked on its own: a page with other attributes, outputs that do not
    continue, a shared table, one outside the image, one beyond the output size, RES0 bits in a
    table descriptor, hierarchical attributes, a block among the tables, a table of reserved
    descriptors, one of pages with AF = 0; returns the builder, its memory (with a copy of a table
    beyond the output size, so that only the check tells), the first VA and the span."""
    b = TableBuilder(granule=granule, ia_bits=48 if granule != 65536 else 42, pa_bits=44, big_endian=big_endian)
    g = b.granule
    t3 = b.block_size(2)                      # what one level 3 table maps
    va0 = 16 * t3
    n = 24
    for k in range(n):
        attrs = S1Attrs(ap=0b10) if k in (5, 6) else S1Attrs(ng=1) if k >= 18 else S1Attrs()
        ta = TableAttrs(uxntable=1, nstable=1) if k == 9 else None
        b.map(va0 + k * t3, 0x8000_0000 + k * t3, t3, attrs, table_attrs=ta, min_leaf_level=3)
    b.map(va0 + 2 * t3 + 7 * g, 0x8000_0000 + 2 * t3 + 7 * g, g, S1Attrs(pxn=1), min_leaf_level=3)
    b.map(va0 + 3 * t3 + 9 * g, 0x9000_0000, g, min_leaf_level=3)
    b.set_descriptor(va0 + 11 * t3, 2, b.read(b.descriptor_address(va0 + 10 * t3, 2)))      # shared
    b.set_descriptor(va0 + 13 * t3, 2, b.table_descriptor(0x7000_0000))                      # not in the image
    b.set_descriptor(va0 + 14 * t3, 2, b.table_descriptor(1 << 44))                          # beyond 44 bits
    e = b.descriptor_address(va0 + 15 * t3, 2)
    b.write(e, b.read(e) | 1 << 50)                                                          # RES0
    b.set_descriptor(va0 + 16 * t3, 2, b.leaf_descriptor(0xA000_0000 // t3 * t3, 2))        # a block
    t = b.decode_table_address(b.read(b.descriptor_address(va0 + 20 * t3, 2)))
    _entries(b, t, b.read(t) & ~2, t3 // g)                                                  # reserved
    t = b.decode_table_address(b.read(b.descriptor_address(va0 + 21 * t3, 2)))
    for i in range(t3 // g):
        b.write(t + 8 * i, b.read(t + 8 * i) & ~(1 << 10))                                   # AF = 0
    t = b.decode_table_address(b.read(b.descriptor_address(va0 + 12 * t3, 2)))
    copy = b"".join(b.read(t + 8 * i).to_bytes(8, "big" if big_endian else "little") for i in range(t3 // g))
    return b, PhysicalMemory.from_buffers({**b.chunks(), 1 << 44: copy}), va0, n * t3


@pytest.mark.parametrize("granule,chunk,clip,big_endian", [
    (4096, None, False, False), (4096, None, True, False), (4096, 3 * 4096, False, False),
    (4096, 3 * 4096, True, False), (16384, None, True, False), (4096, 3 * 4096, True, True)])
def test_tables_of_one_leaf_run_walk_as_descriptor_by_descriptor(granule, chunk, clip, big_endian, monkeypatch):
    """The walk that merges (which judges next-level tables of one leaf run together, ``chunk``
    bytes of them at a time) visits the same tables and gives the same ranges as the walk of one
    run per descriptor."""
    import pgwalk.tree as tree_mod

    if chunk:
        monkeypatch.setattr(tree_mod, "_UNIFORM_CHUNK", chunk)
    b, mem, va0, span = _uniform_tables_tree(granule, big_endian)
    setup, tree = tree_of(b)
    kw = dict(start=va0 + 3 * b.block_size(2) + 5 * b.granule, end=va0 + span - 77 * b.granule) if clip else {}
    merged, single = Recorder(), Recorder()
    s1 = walk_tree(tree, mem, merged, **kw)
    s2 = walk_tree(tree, mem, single, merge=False, **kw)
    assert merged.tables() == single.tables() and len(merged.tables(TableStatus.OK)) > 15
    assert [e for e in merged.events if e[0] != "run"] == [e for e in single.events if e[0] != "run"]
    assert (s1.tables, s1.entries, s1.references, s1.problems) == (s2.tables, s2.entries, s2.references, s2.problems)

    # TABLE_NOT_WALKED: the same visits, but for the tables walked
    lean = Recorder()
    walk_tree(tree, mem, lean, visits=Visit.LEAF | Visit.TABLE_NOT_WALKED, **kw)
    assert lean.tables() == [t for t in merged.tables() if t.status is not TableStatus.OK]
    assert lean.runs() == merged.runs()

    def ranges(merge: bool, visits: Visit = Visit.LEAF | Visit.TABLE_NOT_WALKED) -> list:
        out = []
        m = RangeMerger(out.append)
        walk_tree(tree, mem, m, visits=visits, merge=merge, **kw)
        m.finish()
        return out

    got = ranges(True)
    assert got == ranges(False) == ranges(True, Visit.LEAF | Visit.TABLE_PRE)
    assert {r.status for r in got if r.kind == "table"} == {"reference", "not in image", "beyond output size"}
    assert any(r.attrs.ns_table for r in got if r.attrs is not None)


@pytest.mark.parametrize("limit", [3, 7, 12, 19])
def test_tables_of_one_leaf_run_stop_at_the_limit_as_descriptor_by_descriptor(limit):
    b, mem, va0, span = _uniform_tables_tree(4096)
    setup, tree = tree_of(b)
    out = []
    for merge in (True, False):
        rec = Recorder()
        s = walk_tree(tree, mem, rec, merge=merge, limits=Limits(max_tables=limit))
        out.append(([e for e in rec.events if e[0] != "run"], s.stopped, s.tables))
    assert out[0] == out[1] and out[0][1] is not None


def test_table_whose_outputs_wrap_the_address_field_walks_as_descriptor_by_descriptor():
    """Descriptors that each add a page to the last but carry out of the address field (into RES0
    bits) are not one run: the merging walk splits them where the descriptor-by-descriptor walk does."""
    b = TableBuilder(pa_bits=48)
    for k in range(3):
        b.map(k * 0x20_0000, 0x8000_0000 + k * 0x20_0000, 0x20_0000, min_leaf_level=3)
    t = b.decode_table_address(b.read(b.descriptor_address(0x20_0000, 2)))
    first = b.leaf_descriptor((1 << 48) - 256 * 4096, 3)
    for i in range(512):
        b.write(t + 8 * i, first + i * 4096)
    setup, tree = tree_of(b)
    got = []
    for merge in (True, False):
        out = []
        m = RangeMerger(out.append)
        walk_tree(tree, b.memory(), m, visits=Visit.LEAF | Visit.TABLE_NOT_WALKED, merge=merge, end=0x60_0000)
        m.finish()
        got.append(out)
    assert got[0] == got[1]
    assert [(r.va_start, r.count) for r in got[0]][1:3] == [(0x20_0000, 256), (0x30_0000, 256)]
