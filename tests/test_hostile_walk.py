"""Hostile registers and descriptors (issue 8): the walkers never raise, faults are well formed,
and translate, AT, dump-tree and the bulk walker agree with each other.

Register values are drawn anywhere in 64 bits, or as realistic values with random bits flipped;
memory is a 64 KiB window of 4KB tables, each filled with one drawn descriptor (so every VA
walks deep) plus a few drawn overrides: table descriptors pointing back into the window (cycles,
one table shared at every level), outside it, beyond the output size, with RES0 bits set; blocks
and pages with random attributes; random words.  Then the whole-tree walks of
``dump-tree`` on hostile trees are checked for bounded work and a stated reason to stop.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.bulk import translate_many
from pgwalk.errors import PgwalkError
from pgwalk.faults import FaultType, decode_fsc
from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from pgwalk.memory import PhysicalMemory
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access
from pgwalk.tree import Limits, RangeMerger, TableStatus, TreeVisitor, collect_runs, tree_params, walk_tree
from pgwalk.walk import translate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz.targets import check_translation  # noqa: E402

M64 = (1 << 64) - 1
WINDOW = 0x8000
TABLES = list(range(0x1000, WINDOW, 0x1000))
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

#: realistic values (the samples' and Linux's), mutated by flipping drawn bits
REALISTIC = {
    "TCR_EL1": [0x15B5103510, 0x32B5193519, 0x5B5103510, 0x12B5903510, 0x4B5184018, 0x80B5D03510],
    "SCTLR_EL1": [0x1, 0x30D5D99F, 0x2000001],
    "MAIR_EL1": [0xF0BB040044FF, 0x40044FFFF, 0xFF],
    "ID_AA64MMFR0_EL1": [0x32310201126, 0x5, 0x1122, 0x0],
    "HCR_EL2": [0x80000001, 0x0, 0x8000000],
    "VTCR_EL2": [0x80023558, 0x80023559, 0x8004354C],
}


def _value(name: str):
    flips = st.lists(st.integers(0, 63), max_size=3).map(lambda bits: sum(1 << b for b in set(bits)))
    real = st.tuples(st.sampled_from(REALISTIC[name]), flips).map(lambda t: t[0] ^ t[1])
    return st.one_of(real, real, st.integers(0, M64))


def _ttbr():
    inside = st.sampled_from(TABLES[:4]) | st.integers(0, WINDOW // 64).map(lambda n: n * 64)
    return st.one_of(inside, inside, st.integers(0, M64),
                     st.tuples(inside, st.integers(0, 0xFFFF)).map(lambda t: t[0] | t[1] << 48))


@st.composite
def registers(draw) -> dict[str, int]:
    regs = {name: draw(_value(name)) for name in ("TCR_EL1", "SCTLR_EL1", "MAIR_EL1")}
    regs["SCTLR_EL1"] |= draw(st.sampled_from([1, 1, 0]))
    regs["TTBR0_EL1"] = draw(_ttbr())
    regs["TTBR1_EL1"] = draw(_ttbr())
    if draw(st.booleans()):
        regs["ID_AA64MMFR0_EL1"] = draw(_value("ID_AA64MMFR0_EL1"))
    if draw(st.integers(0, 3)) == 0:                  # stage 2 (sometimes)
        regs["HCR_EL2"] = draw(_value("HCR_EL2"))
        regs["VTCR_EL2"] = draw(_value("VTCR_EL2"))
        regs["VTTBR_EL2"] = draw(_ttbr())
    for name in ("ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "PSTATE"):
        if draw(st.integers(0, 3)) == 0:
            regs[name] = draw(st.integers(0, M64))
    return regs


def _descriptor():
    table = st.tuples(st.sampled_from(TABLES), st.integers(0, 0x1F)).map(lambda t: t[0] | 0b11 | t[1] << 59)
    low = st.integers(0, 0xFFF)
    leaf = st.tuples(st.integers(0, WINDOW // 0x1000 - 1), st.integers(0, 0xFFF), st.integers(0, 0x3FFF),
                     st.sampled_from([0b01, 0b11])).map(
        lambda t: (t[0] << 12) | (t[1] & ~3) | t[3] | (t[2] << 50))
    outside = st.integers(1, 0xFFFFF).map(lambda n: (n << 20) | 0b11)       # beyond memory, maybe OA
    res0 = st.tuples(table, st.integers(48, 51)).map(lambda t: t[0] | 1 << t[1])
    return st.one_of(table, table, leaf, leaf, outside, res0, st.integers(0, M64), low, st.just(0))


@st.composite
def memory(draw) -> PhysicalMemory:
    words = np.zeros(WINDOW // 8, dtype="<u8")
    for t in TABLES:
        words[t // 8:t // 8 + 512] = draw(_descriptor())
        for _ in range(draw(st.integers(0, 3))):
            words[t // 8 + draw(st.sampled_from([0, 1, 2, 255, 256, 510, 511]))] = draw(_descriptor())
    return PhysicalMemory.from_buffers({0: words.tobytes()})


def _vas():
    structured = st.tuples(st.sampled_from([0, 0xFFFF << 48, 0xFF << 56, 0xFFFFFF8 << 36, 0x00FF << 48]),
                           st.integers(0, (1 << 48) - 1)).map(lambda t: t[0] | t[1])
    return st.lists(st.one_of(structured, structured, st.integers(0, M64)), min_size=1, max_size=6)


def _setup(regs: dict[str, int], regime: Regime | None = None):
    try:
        return setup_from_registers(regs, regime)
    except PgwalkError:
        return None


def _walks_d128(setup) -> bool:
    """The setup has a VMSAv9-128 stage, which the whole-tree walk refuses in one line
    (tests/test_d128.py); the batch paths take the per-address walk for it."""
    try:
        setup.refuse_d128("")
    except PgwalkError:
        return True
    return False


def _fault_key(f):
    return None if f is None else (f.type, f.level, f.stage, f.s1ptw, f.not_in_image)


# --------------------------------------------------------------------------
# translate: never raises, faults well formed
# --------------------------------------------------------------------------

@settings(max_examples=300, **SETTINGS)
@given(regs=registers(), mem=memory(), vas=_vas(), access=st.sampled_from([None, *Access]),
       el=st.sampled_from([0, 1]), pan=st.booleans(), stages=st.sampled_from([None, "1", "12", "2"]))
def test_translate_never_raises_and_faults_are_well_formed(regs, mem, vas, access, el, pan, stages):
    setup = _setup(regs)
    assume(setup is not None)
    if stages in ("12", "2") and setup.s2 is None:
        stages = None
    for va in vas:
        t = translate(setup, mem, va, stages=stages, access=access, el=el, pan=pan)
        check_translation(t)
        if t.fault is not None and t.fault.type is FaultType.SYNC_EXTERNAL_ON_WALK:
            assert t.fault.not_in_image and "not in the image" in t.fault.reason
        for step in t.steps:
            assert step.stage in (1, 2) and -1 <= step.level <= 3
        if t.ok:
            assert 0 <= t.output < 1 << 64


# --------------------------------------------------------------------------
# AT and translate agree
# --------------------------------------------------------------------------

OPS = ["S1E1R", "S1E1W", "S1E0R", "S1E0W", "S12E1R", "S12E0W", "S1E1A", "S1E2R", "S1E3W"]


@settings(max_examples=200, **SETTINGS)
@given(regs=registers(), mem=memory(), vas=_vas(), op=st.sampled_from(OPS), pan=st.booleans())
def test_at_agrees_with_translate(regs, mem, vas, op, pan):
    from pgwalk.at import parse_at_op
    from pgwalk.params import regime_for_el

    o = parse_at_op(op)
    try:
        setup = setup_from_registers(regs, regime_for_el(o.regime_el, regs))
    except PgwalkError:
        assume(False)
    for va in vas:
        res = at(setup, mem, o, va, pan=pan)
        t = translate(setup, mem, va, stages=res.stages_used, access=o.access, el=o.el,
                      pan=o.pan and pan and setup.regime.has_unprivileged)
        assert _fault_key(res.translation.fault) == _fault_key(t.fault)
        assert res.translation.output == t.output
        if res.par is None:
            assert t.fault is not None and res.exception
            continue
        if t.fault is not None:
            assert PAR_EL1_FAULT["F"].get(res.par) == 1
            assert PAR_EL1_FAULT["FST"].get(res.par) == t.fault.fsc
            assert PAR_EL1_FAULT["S"].get(res.par) == int(t.fault.stage == 2)
            assert PAR_EL1_FAULT["PTW"].get(res.par) == int(t.fault.s1ptw)
        else:
            assert PAR_EL1_OK["F"].get(res.par) == 0
            assert PAR_EL1_OK["PA"].get(res.par) == (t.output >> 12) & PAR_EL1_OK["PA"].wmask


# --------------------------------------------------------------------------
# dump-tree and translate agree
# --------------------------------------------------------------------------

@settings(max_examples=200, **SETTINGS)
@given(regs=registers(), mem=memory(), vas=_vas())
def test_dump_tree_agrees_with_translate(regs, mem, vas):
    setup = _setup(regs)
    assume(setup is not None and setup.s1_enabled)
    assume(not _walks_d128(setup))
    for va in vas:
        p = setup.s1_params(va)
        tree = tree_params(setup, f"ttbr{p.varange}", final_pa=False)
        canonical = va if tree.va_lo <= va < tree.va_hi else None
        t = translate(setup, mem, va, stages="1")
        if canonical is None or tree.disabled:
            continue
        runs = collect_runs(tree, mem, start=va, end=va + 1, invalid=True,
                            limits=Limits(max_tables=16, max_entries=16 * 8192))
        cover = [r for r in runs if r.va_start <= va < r.va_end]
        leaves = [r for r in cover if r.mapped]
        assert len(leaves) <= 1, leaves
        if t.ok:
            assert leaves, (t, runs)
            r = leaves[0]
            assert r.level == t.s1.level and r.kind == t.s1.kind
            assert r.oa + (va - r.va_start) == t.ipa
        elif t.fault.type is FaultType.TRANSLATION and t.fault.level > p.start_level and t.steps \
                and t.steps[-1].kind in ("invalid", "reserved", "illegal block"):
            assert not leaves, (t.fault, leaves)
            assert any(r.kind == t.steps[-1].kind for r in cover), (t.steps[-1], cover)
        elif (t.fault.type is FaultType.SYNC_EXTERNAL_ON_WALK and t.fault.stage == 1 or t.fault.s1ptw) and t.steps:
            # a descriptor outside the image, or one stage 2 refuses to fetch: dump-tree says its table (or
            # that part of it) is not in the image, or a stage 2 fault
            want = TableStatus.S2_FAULT if t.fault.s1ptw else TableStatus.NOT_IN_IMAGE
            assert not leaves, (t.fault, leaves)
            rec = _Tables()
            walk_tree(tree, mem, rec, start=va, end=va + 1, limits=Limits(max_tables=16, max_entries=16 * 8192))
            assert any(tb.status is want and tb.va_start <= va < tb.va_end for tb in rec.seen), (t.fault, rec.seen)


class _Tables(TreeVisitor):
    def __init__(self):
        self.seen = []

    def table_pre(self, table):
        self.seen.append(table)


# --------------------------------------------------------------------------
# the bulk walker and translate agree on hostile registers and tables
# --------------------------------------------------------------------------

#: issue 17 controls added to the drawn registers: FEAT_THE (TCR2_EL1.PnCH, VTCR_EL2.AssuredOnly;
#: VTCR_EL2.TL0/TL1, with S2PIE and an S2PIR_EL2 of MRO-TL0/TL1/TL01 entries too) and FEAT_HAFT
#: (TCR2_EL1.HAFT with TCR_EL1.HA, VTCR_EL2.HAFT with VTCR_EL2.HA)
ISSUE17 = {"the": {"TCR2_EL1": 1, "VTCR_EL2": 1 << 34},
           "tl0": {"VTCR_EL2": 1 << 41}, "tl1": {"VTCR_EL2": 1 << 35},
           "tlpie": {"VTCR_EL2": 1 << 41 | 1 << 35 | 1 << 36, "S2PIR_EL2": 0x7632_7632_7632_7632},
           "haft": {"TCR2_EL1": 1 << 11, "TCR_EL1": 1 << 39, "VTCR_EL2": 1 << 44 | 1 << 21},
           # FEAT_D128 (TCR2_EL1.D128, VTCR_EL2.D128): the batch paths take the per-address walk
           "d128": {"TCR2_EL1": 1 << 5, "VTCR_EL2": 1 << 38}}


@settings(max_examples=150, **SETTINGS)
@given(regs=registers(), mem=memory(), vas=_vas(), access=st.sampled_from([None, Access.READ, Access.WRITE]),
       el=st.sampled_from([0, 1]), extra=st.sampled_from([(), ("the",), ("haft",), ("the", "haft"), ("tl0",),
                                                          ("the", "tl1"), ("the", "tl0", "haft"), ("the", "tlpie"),
                                                          ("d128",), ("d128", "haft")]))
def test_bulk_agrees_with_translate(regs, mem, vas, access, el, extra):
    for name in extra:
        for reg, bits in ISSUE17[name].items():
            if reg in regs or reg in ("TCR2_EL1", "S2PIR_EL2"):
                regs[reg] = regs.get(reg, 0) | bits
    setup = _setup(regs)
    assume(setup is not None)
    # the FEAT_THE checks of an access and of the stage 1 table fetches (TopLevel, AssuredOnly) and
    # table AF updates (FEAT_HAFT) included
    res = translate_many(setup, mem, np.array(vas, dtype=np.uint64), access=access, el=el)
    for i, va in enumerate(vas):
        t = translate(setup, mem, va, access=access, el=el)
        assert bool(res.ok[i]) == t.ok
        if t.ok:
            assert int(res.output[i]) == t.output
        else:
            assert int(res.fsc[i]) == t.fault.fsc
            assert int(res.fault_stage[i]) == t.fault.stage
            assert bool(res.s1ptw[i]) == t.fault.s1ptw
            assert bool(res.assured_only[i]) == t.fault.assured_only
            assert bool(res.toplevel[i]) == t.fault.toplevel
            assert res.fault(i).flags == t.fault.flags
        assert res.table_af_updates(i) == tuple(u for u in t.af_updates if u.table)
    # PAR_EL1 of the AT a kernel or hypervisor would issue (F, FST, S, PTW and the flags included)
    if setup.regime is Regime.EL10:
        op = "S12E1R" if setup.s2 is not None else "S1E1R"
        try:
            want = [at(setup, mem, op, va).par for va in vas]
        except PgwalkError:
            return
        b = bulk_at(setup, mem, op, vas)
        assert [None if exc else int(par) for par, exc in zip(b.par, b.exception)] == want


# --------------------------------------------------------------------------
# whole-tree walks of hostile trees: bounded, and they say where and why they stopped
# --------------------------------------------------------------------------

def _loop_memory(n_tables: int) -> PhysicalMemory:
    """``n_tables`` 4KB tables at 0x1000.., every entry of table i pointing at table (i*7+j) % n:
    each table is reachable at every level from every other (512^4 paths)."""
    words = {}
    for i in range(n_tables):
        for j in range(512):
            words[0x1000 * (i + 1) + 8 * j] = (0x1000 * (((i * 7 + j) % n_tables) + 1)) | 0b11
    return PhysicalMemory.from_words(words, (0, 0x1000 * (n_tables + 1)))


LOOP_REGS = {"TCR_EL1": 0x5B5103510, "TTBR0_EL1": 0x1000, "TTBR1_EL1": 0x1000, "MAIR_EL1": 0xFF,
             "SCTLR_EL1": 1, "ID_AA64MMFR0_EL1": 0x5}


class _Count(TreeVisitor):
    def __init__(self):
        self.runs = self.tables = 0
        self.status: dict[str, int] = {}

    def run(self, run):
        self.runs += 1

    def table_pre(self, table):
        self.tables += 1
        self.status[table.status.value] = self.status.get(table.status.value, 0) + 1


def test_one_table_shared_at_every_level_is_walked_once_per_level():
    mem = _loop_memory(1)
    setup = setup_from_registers(LOOP_REGS)
    v = _Count()
    s = walk_tree(tree_params(setup, "ttbr0"), mem, v)
    assert s.stopped is None
    assert v.status[TableStatus.OK.value] == 4           # one per level
    assert s.tables == 4 and s.entries == 4 * 512
    assert v.status[TableStatus.REFERENCE.value] == 3 * 511


@pytest.mark.parametrize("limits, what", [(Limits(max_tables=50), "50 tables"),
                                          (Limits(max_entries=10_000), "10000 descriptors")])
def test_limits_stop_the_walk_and_say_so(limits, what):
    mem = _loop_memory(64)
    setup = setup_from_registers(LOOP_REGS)
    t0 = time.monotonic()
    s = walk_tree(tree_params(setup, "ttbr0"), mem, RangeMerger(lambda r: None), limits=limits)
    assert time.monotonic() - t0 < 10
    assert s.stopped and what in s.stopped and "limit" in s.stopped
    assert s.tables <= (limits.max_tables or 0) + 1 or s.entries <= limits.max_entries + 512


def test_translate_through_a_cycle_ends_after_the_last_level():
    mem = _loop_memory(1)
    setup = setup_from_registers(LOOP_REGS)
    t = translate(setup, mem, 0x0000_1234_5678_9ABC)
    check_translation(t)
    assert len(t.steps) == 4                             # the table read at levels 0..3, then a page
    assert t.fault is not None and t.fault.type is FaultType.ACCESS_FLAG and t.fault.level == 3


def test_tables_outside_the_image_and_beyond_the_output_size_are_reported():
    words = {0x1000: 0x7_0000_0000 | 0b11,                 # L1 table outside the 16 KiB image
             0x1008: (1 << 47) | 0b11,                    # L1 table beyond the 40-bit output size
             0x1010: 0x2000 | 0b11 | (1 << 50),           # RES0/ignored bits in a table descriptor
             0x2000: 0x3000 | 0b11, 0x3000: 0x0 | 0b11}   # L2 -> L3 -> a page at 0
    mem = PhysicalMemory.from_words(words, (0, 0x4000))
    regs = dict(LOOP_REGS, TCR_EL1=0x25B5103510 & ~(7 << 32) | (2 << 32))   # IPS 40 bits
    setup = setup_from_registers(regs)
    v = _Count()
    s = walk_tree(tree_params(setup, "ttbr0"), mem, v)
    assert s.stopped is None
    assert v.status.get(TableStatus.NOT_IN_IMAGE.value) == 1
    assert v.status.get(TableStatus.BEYOND_OA.value) == 1
    for va, ftype, level in [(0x0, FaultType.SYNC_EXTERNAL_ON_WALK, 1), (1 << 39, FaultType.ADDRESS_SIZE, 0)]:
        t = translate(setup, mem, va)
        check_translation(t)
        assert (t.fault.type, t.fault.level) == (ftype, level)
    assert decode_fsc(translate(setup, mem, 0).fault.fsc).level == 1


def test_a_limit_reached_in_one_tree_stops_the_walk_and_says_where():
    mem = _loop_memory(64)
    setup = setup_from_registers(LOOP_REGS)
    from pgwalk.tree import WalkSummary

    summary = WalkSummary()
    limits = Limits(max_tables=5)
    for name in ("ttbr0", "ttbr1"):
        walk_tree(tree_params(setup, name), mem, RangeMerger(lambda r: None), limits=limits, summary=summary)
    assert summary.tables == 5
    assert "not walked: TTBR0_EL1 from VA 0x" in summary.stopped and "--max-tables" in summary.stopped
