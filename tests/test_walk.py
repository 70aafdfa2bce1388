"""Unit tests for the walker, one group per bullet of "The walk" (issue 2).

Trees are built with :mod:`pgwalk.builder`; expected answers come from the
architecture (Arm ARM DDI 0487 M.a.a pseudocode named in each test).
"""

from __future__ import annotations

import random

import pytest

from pgwalk.builder import S1Attrs, S2Attrs, TableAttrs, TableBuilder, two_stage
from pgwalk.faults import FaultType, encode_ld_fsc
from pgwalk.formats.registers import HCR_EL2, ID_AA64MMFR0_EL1, SCTLR, TCR_EL1, TCR_EL2_E2H0, TCR_EL3, VTCR_EL2
from pgwalk.memory import PhysicalMemory
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

T = FaultType


def walk(regs, mem, va, **kw):
    return translate(setup_from_registers(regs, kw.pop("regime", None)), mem, va, **kw)


def s1(granule=4096, ia_bits=48, **kw):
    return TableBuilder(granule=granule, ia_bits=ia_bits, **kw)


# --------------------------------------------------------------------------- TTBR selection, TBI

def test_ttbr_selected_by_bit_55_not_63():
    lo, hi = s1(table_base=0x4000_0000), s1(table_base=0x4100_0000)
    lo.map(0x1000, 0x8000_1000, 0x1000)
    hi.map(0xFFFF_8000_0000_0000, 0x9000_0000, 0x1000)
    regs = hi.registers(ttbr=1, regs=lo.registers(ttbr=0))
    regs["TCR_EL1"] = TCR_EL1["TBI0"].put(TCR_EL1["TBI1"].put(regs["TCR_EL1"], 1), 1)
    mem = PhysicalMemory.from_buffers({**lo.chunks(), **hi.chunks()})
    assert walk(regs, mem, 0x1234).pa == 0x8000_1234
    assert walk(regs, mem, 0xFFFF_8000_0000_0010).pa == 0x9000_0010
    # bit 63 set but bit 55 clear: still TTBR0, and with TBI0 the tag is ignored
    assert walk(regs, mem, 0xB400_0000_0000_1234).pa == 0x8000_1234
    # bit 55 set with a tag in the top byte: TTBR1 with TBI1
    assert walk(regs, mem, 0x0AFF_8000_0000_0010).pa == 0x9000_0010


def test_tagged_address_without_tbi_is_a_level0_translation_fault():
    b = s1()
    b.map(0x1000, 0x8000_1000, 0x1000)
    regs = b.registers()
    t = walk(regs, b.memory(), 0x5A00_0000_0000_1000)
    assert (t.fault.type, t.fault.level, t.fault.stage, t.fault.fsc) == (T.TRANSLATION, 0, 1, 0x04)
    assert t.steps == ()


@pytest.mark.parametrize("va_bits", [48, 39, 25])
def test_input_range_boundary_is_exclusive(va_bits):
    """ASL VAIsOutOfRange: 2^iasize - 1 is the last address; 2^iasize is out of range."""
    b = s1(ia_bits=va_bits)
    top = (1 << va_bits) - 0x1000
    b.map(top, 0x8000_0000, 0x1000)
    regs, mem = b.registers(), b.memory()
    assert walk(regs, mem, (1 << va_bits) - 1).pa == 0x8000_0FFF
    t = walk(regs, mem, 1 << va_bits)
    assert (t.fault.type, t.fault.level) == (T.TRANSLATION, 0)


def test_stage2_ipa_range_boundary_is_exclusive():
    b = TableBuilder(stage=2, ia_bits=40)
    b.map((1 << 40) - 0x1000, 0x8000_0000, 0x1000)
    regs = b.registers()
    regs["SCTLR_EL1"] = 0
    mem = b.memory()
    assert walk(regs, mem, (1 << 40) - 8, stages="2").pa == 0x8000_0FF8
    t = walk(regs, mem, 1 << 40, stages="2")
    assert (t.fault.type, t.fault.level, t.fault.stage, t.fault.ipa) == (T.TRANSLATION, 0, 2, 1 << 40)


# --------------------------------------------------------------------------- granules, TxSZ, start level

CONFIGS = [(4096, False, False), (16384, False, False), (65536, False, False),
           (4096, True, False), (16384, True, False), (65536, False, True)]


@pytest.mark.parametrize("granule,ds,lpa", CONFIGS)
def test_every_legal_txsz_translates(granule, ds, lpa):
    """Every TxSZ from the minimum to the FEAT_TTST maximum: start level from
    ASL S1StartLevel, the walk reaches the mapped page through TTBR0 and TTBR1."""
    g = granule.bit_length() - 1
    wide = ds or lpa
    min_txsz = 12 if wide else 16
    max_txsz = 47 if g == 16 else 48
    rng = random.Random(granule * 7 + ds)
    for txsz in range(min_txsz, max_txsz + 1):
        ia = 64 - txsz
        for ttbr in (0, 1):
            b = TableBuilder(granule=granule, ia_bits=ia, ds=ds, lpa=lpa, pa_bits=52 if wide else 48)
            off = rng.randrange(0, 1 << ia) & ~(granule - 1)
            va = off if ttbr == 0 else ((1 << 64) - (1 << ia)) | off
            pa = 0x8000_0000 + granule * rng.randrange(16)
            b.map(va, pa, granule)
            regs = b.registers(ttbr=ttbr)
            setup = setup_from_registers(regs)
            p = setup.ranges[ttbr]
            assert p.start_level == 3 - (ia - 1 - g) // (g - 3)
            t = translate(setup, b.memory(), va | 0x18)
            assert t.ok, (txsz, ttbr, t.fault)
            assert t.pa == pa | 0x18
            assert t.steps[0].level == p.start_level


def test_tg0_and_tg1_use_different_encodings():
    # TG1 = 0b10 is 4KB, TG0 = 0b10 is 16KB
    regs = {"TCR_EL1": TCR_EL1.encode(T0SZ=16, T1SZ=16, TG0=0b10, TG1=0b10, IPS=5), "SCTLR_EL1": 1,
            "TTBR0_EL1": 0x4000_0000, "TTBR1_EL1": 0x4100_0000}
    s = setup_from_registers(regs)
    assert (s.ranges[0].granule_shift, s.ranges[1].granule_shift) == (14, 12)


@pytest.mark.parametrize("txsz", [15, 49])
def test_txsz_out_of_range_faults_at_level_0(txsz):
    regs = {"TCR_EL1": TCR_EL1.encode(T0SZ=txsz, TG0=0, IPS=5), "SCTLR_EL1": 1, "TTBR0_EL1": 0x4000_0000}
    t = walk(regs, PhysicalMemory.from_buffers({0x4000_0000: bytes(4096)}), 0)
    assert (t.fault.type, t.fault.level) == (T.TRANSLATION, 0)


# --------------------------------------------------------------------------- 52-bit: FEAT_LPA and FEAT_LPA2

def test_lpa2_4k_five_levels_from_level_minus_1():
    b = TableBuilder(granule=4096, ia_bits=52, ds=True, pa_bits=52)
    va, pa = 0xF_ABCD_EF01_2000, 0xF_1234_5678_9000
    b.map(va, pa, 0x1000)
    t = walk(b.registers(), b.memory(), va | 0x345)
    assert t.pa == pa | 0x345
    assert [s.level for s in t.steps] == [-1, 0, 1, 2, 3]
    assert t.steps[0].index == 0xF  # VA[51:48]


def test_level_minus_1_translation_fault_code():
    """Finding: a level -1 fault is FSC 0b101011, not a level 3 code."""
    b = TableBuilder(granule=4096, ia_bits=52, ds=True, pa_bits=52)
    b.map(0x1000, 0x8000_0000, 0x1000)
    t = walk(b.registers(), b.memory(), 0x8_0000_0000_0000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (T.TRANSLATION, -1, 0b101011)
    assert encode_ld_fsc(T.ADDRESS_SIZE, -1) == 0b101001
    assert encode_ld_fsc(T.SYNC_EXTERNAL_ON_WALK, -1) == 0b010011


def test_lpa2_16k_starts_at_level_0_with_32_entries():
    b = TableBuilder(granule=16384, ia_bits=52, ds=True, pa_bits=52)
    va = 0xF_8000_0000_0000
    b.map(va, 0xA_0000_0000_0000, 0x4000)
    t = walk(b.registers(), b.memory(), va)
    assert t.pa == 0xA_0000_0000_0000
    assert t.steps[0].level == 0 and t.steps[0].index == 0x1F  # VA[51:47]


def test_lpa_64k_oa_bits_51_48_and_ttbr_baddr_51_48():
    # tables above 2^48: the TTBR carries BADDR[51:48] in bits [5:2]
    b = TableBuilder(granule=65536, ia_bits=52, lpa=True, pa_bits=52, table_base=0x3_0000_4000_0000)
    b.map(0xF_0000_0001_0000, 0xE_0000_0001_0000, 0x10000)
    regs = b.registers()
    assert regs["TTBR0_EL1"] & 0b111100 == 0b001100
    t = walk(regs, b.memory(), 0xF_0000_0001_0ABC)
    assert t.pa == 0xE_0000_0001_0ABC


def test_64k_oa_bits_51_48_with_ips_48_is_an_address_size_fault():
    """PAMax = 52: descriptor bits[15:12] are OA[51:48] (ASL S1LeafBase) even when
    IPS is 48, so a leaf with them set is out of range: Address size fault at its level."""
    b = TableBuilder(granule=65536, ia_bits=48, pa_bits=48)
    b.map(0x10000, 0x8000_0000, 0x10000)
    raw = b.leaf_descriptor(0x8000_0000, 3) | (0x1 << 12)
    b.set_descriptor(0x10000, 3, raw)
    t = walk(b.registers(), b.memory(), 0x10000)
    assert (t.fault.type, t.fault.level) == (T.ADDRESS_SIZE, 3)


# --------------------------------------------------------------------------- address size checks

def test_ttbr_base_beyond_ips_is_level_0_even_when_walk_starts_at_level_minus_1():
    """Finding: an out-of-range TTBR base is an Address size fault at level 0 (ARM §D8.2.3)."""
    b = TableBuilder(granule=4096, ia_bits=52, ds=True, pa_bits=52, table_base=0x1_0000_0000_0000)
    b.map(0x1000, 0x8000_0000, 0x1000)
    regs = b.registers()
    regs["TCR_EL1"] = TCR_EL1["IPS"].put(regs["TCR_EL1"], 0b101)  # 48-bit IPS, base at 2^48
    t = walk(regs, b.memory(), 0x1000)
    assert t.steps == ()
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (T.ADDRESS_SIZE, 0, 0x00)


def test_next_table_beyond_ips_faults_at_the_table_descriptor_level():
    b = s1(pa_bits=40)
    b.map(0x4000_0000, 0x8000_0000, 0x1000)
    b.set_descriptor(0x4000_0000, 1, b.table_descriptor(0x100_0000_0000))   # NLTA at 2^40
    t = walk(b.registers(), b.memory(), 0x4000_0000)
    assert (t.fault.type, t.fault.level) == (T.ADDRESS_SIZE, 1)


def test_output_beyond_ips_faults_at_the_leaf_level():
    b = s1(pa_bits=40)
    b.map(0x20_0000, 0x8000_0000, 0x20_0000)   # a 2MB block
    b.set_descriptor(0x20_0000, 2, b.leaf_descriptor(0x100_0000_0000, 2))
    t = walk(b.registers(), b.memory(), 0x20_0000)
    assert (t.fault.type, t.fault.level) == (T.ADDRESS_SIZE, 2)


# --------------------------------------------------------------------------- blocks

@pytest.mark.parametrize("granule,level,ds,legal", [
    (4096, 0, False, False), (4096, 0, True, True), (4096, 1, False, True), (4096, 2, False, True),
    (16384, 1, False, False), (16384, 1, True, True), (16384, 2, False, True),
    (65536, 1, False, True),   # PAMax 52: 64KB level 1 blocks are legal (ASL BlockDescSupported)
])
def test_blocks_only_where_allowed(granule, level, ds, legal):
    b = TableBuilder(granule=granule, ia_bits=48, ds=ds, pa_bits=48)
    g = granule.bit_length() - 1
    size = 1 << (g + (g - 3) * (3 - level))
    va = size * 2
    b.map(va + granule, 0x8000_0000, granule)                # create the tables above
    b.set_descriptor(va, level, b.leaf_descriptor(0, 3) & ~0b10)  # then plant a block of OA 0
    t = walk(b.registers(), b.memory(), va + 0x10)
    if legal:
        assert t.ok and t.pa == 0x10 and t.s1.kind == "block" and t.s1.level == level
    else:
        assert (t.fault.type, t.fault.level) == (T.TRANSLATION, level)


def test_level_3_descriptor_with_bit1_clear_is_reserved():
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000)
    b.set_descriptor(0x1000, 3, b.leaf_descriptor(0x8000_0000, 3) & ~0b10)
    t = walk(b.registers(), b.memory(), 0x1000)
    assert (t.fault.type, t.fault.level) == (T.TRANSLATION, 3)
    assert t.steps[-1].kind == "reserved"


# --------------------------------------------------------------------------- access flag

def test_access_flag_fault_unless_hardware_updates():
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(af=0))
    regs, mem = b.registers(), b.memory()
    t = walk(regs, mem, 0x1000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (T.ACCESS_FLAG, 3, 0x0B)
    regs["TCR_EL1"] = TCR_EL1["HA"].put(regs["TCR_EL1"], 1)
    assert walk(regs, mem, 0x1000).pa == 0x8000_0000


# --------------------------------------------------------------------------- permissions

def perm_tree(attrs=S1Attrs(), table_attrs=None):
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000, attrs, table_attrs=table_attrs)
    return b.registers(), b.memory()


@pytest.mark.parametrize("ap,el,access,ok", [
    (0b00, 1, Access.WRITE, True), (0b00, 0, Access.READ, False),
    (0b01, 0, Access.WRITE, True), (0b10, 1, Access.WRITE, False), (0b10, 1, Access.READ, True),
    (0b11, 0, Access.READ, True), (0b11, 0, Access.WRITE, False),
])
def test_ap_permissions(ap, el, access, ok):
    regs, mem = perm_tree(S1Attrs(ap=ap))
    t = walk(regs, mem, 0x1000, access=access, el=el)
    assert t.ok is ok
    if not ok:
        assert (t.fault.type, t.fault.level, t.fault.fsc) == (T.PERMISSION, 3, 0x0F)


def test_pan_blocks_privileged_access_to_el0_pages_only():
    regs, mem = perm_tree(S1Attrs(ap=0b01))
    assert walk(regs, mem, 0x1000, access=Access.READ, el=1, pan=False).ok
    t = walk(regs, mem, 0x1000, access=Access.READ, el=1, pan=True)
    assert (t.fault.type, t.fault.level) == (T.PERMISSION, 3)
    regs2, mem2 = perm_tree(S1Attrs(ap=0b00))
    assert walk(regs2, mem2, 0x1000, access=Access.READ, el=1, pan=True).ok


def test_execute_never_and_el0_writable_is_not_el1_executable():
    regs, mem = perm_tree(S1Attrs(ap=0b01))
    assert walk(regs, mem, 0x1000, access=Access.EXEC, el=0).ok
    assert not walk(regs, mem, 0x1000, access=Access.EXEC, el=1).ok   # R_VWLLR
    regs, mem = perm_tree(S1Attrs(ap=0b00, pxn=1))
    assert not walk(regs, mem, 0x1000, access=Access.EXEC, el=1).ok
    regs, mem = perm_tree(S1Attrs(ap=0b11, uxn=1))
    assert not walk(regs, mem, 0x1000, access=Access.EXEC, el=0).ok


def test_wxn_removes_execute_from_writable_pages():
    regs, mem = perm_tree(S1Attrs(ap=0b00))
    assert walk(regs, mem, 0x1000, access=Access.EXEC, el=1).ok
    regs["SCTLR_EL1"] = SCTLR["WXN"].put(regs["SCTLR_EL1"], 1)
    assert not walk(regs, mem, 0x1000, access=Access.EXEC, el=1).ok


def test_hierarchical_aptable_and_xntable_and_hpd():
    regs, mem = perm_tree(S1Attrs(ap=0b01), TableAttrs(aptable=0b10, uxntable=1, pxntable=1))
    t = walk(regs, mem, 0x1000)
    assert t.s1.perms.text(False) == "r--" and t.s1.perms.text(True) == "r--"
    assert not walk(regs, mem, 0x1000, access=Access.WRITE, el=1).ok
    assert not walk(regs, mem, 0x1000, access=Access.EXEC, el=0).ok
    regs["TCR_EL1"] = TCR_EL1["HPD0"].put(regs["TCR_EL1"], 1)
    assert walk(regs, mem, 0x1000, access=Access.WRITE, el=0).ok
    # the fault level of a permission fault is the leaf's, even when a table caused it
    regs2, mem2 = perm_tree(S1Attrs(ap=0b01), TableAttrs(aptable=0b01))
    t = walk(regs2, mem2, 0x1000, access=Access.READ, el=0)
    assert (t.fault.type, t.fault.level) == (T.PERMISSION, 3)


# --------------------------------------------------------------------------- other regimes

def _one_el_tree():
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b10, uxn=1))
    b.map(0x2000, 0x8000_1000, 0x1000, S1Attrs(ap=0b00))
    return b


@pytest.mark.parametrize("el,layout", [(2, TCR_EL2_E2H0), (3, TCR_EL3)])
def test_el2_and_el3_single_range_regimes(el, layout):
    b = _one_el_tree()
    r = b.registers()
    regs = {f"TCR_EL{el}": layout.encode(T0SZ=16, TG0=0, PS=5, RES1_23=1, RES1_31=1),
            f"TTBR0_EL{el}": r["TTBR0_EL1"], f"SCTLR_EL{el}": 1, f"MAIR_EL{el}": r["MAIR_EL1"]}
    regime = Regime.EL2 if el == 2 else Regime.EL3
    mem = b.memory()
    t = walk(regs, mem, 0x1000, regime=regime, access=Access.WRITE, el=el)
    assert (t.fault.type, t.fault.level) == (T.PERMISSION, 3)
    assert walk(regs, mem, 0x2000, regime=regime, access=Access.WRITE, el=el).pa == 0x8000_1000
    assert not walk(regs, mem, 0x1000, regime=regime, access=Access.EXEC, el=el).ok  # XN = bit 54
    # one VA range: bit 55 set is out of range
    t = walk(regs, mem, 0xFFFF_0000_0000_1000, regime=regime)
    assert (t.fault.type, t.fault.level) == (T.TRANSLATION, 0)


def test_el2_host_regime_uses_tcr_el1_layout_and_two_ranges():
    lo, hi = s1(table_base=0x4000_0000), s1(table_base=0x4100_0000)
    lo.map(0x1000, 0x8000_1000, 0x1000)
    hi.map(0xFFFF_0000_0000_0000, 0x9000_0000, 0x1000)
    r = hi.registers(ttbr=1, regs=lo.registers(ttbr=0))
    regs = {"TCR_EL2": r["TCR_EL1"], "TTBR0_EL2": r["TTBR0_EL1"], "TTBR1_EL2": r["TTBR1_EL1"],
            "SCTLR_EL2": 1, "MAIR_EL2": r["MAIR_EL1"], "HCR_EL2": HCR_EL2.encode(E2H=1, TGE=1)}
    mem = PhysicalMemory.from_buffers({**lo.chunks(), **hi.chunks()})
    assert walk(regs, mem, 0xFFFF_0000_0000_0040, regime=Regime.EL20).pa == 0x9000_0040
    assert walk(regs, mem, 0x1040, regime=Regime.EL20).pa == 0x8000_1040


# --------------------------------------------------------------------------- stage 2

def s2_regs(b, pa_range=None):
    regs = b.registers()
    regs["SCTLR_EL1"] = 0
    if pa_range is not None:
        regs["ID_AA64MMFR0_EL1"] = ID_AA64MMFR0_EL1["PARange"].put(regs["ID_AA64MMFR0_EL1"], pa_range)
    return regs


@pytest.mark.parametrize("concat", [1, 2, 4, 8, 16])
def test_stage2_concatenated_start_tables(concat):
    b = TableBuilder(stage=2, ia_bits=30 + 9 + concat.bit_length() - 1, concat=concat)
    ipa = (1 << b.ia_bits) - 0x1000
    b.map(ipa, 0x8000_0000, 0x1000)
    t = walk(s2_regs(b), b.memory(), ipa + 8, stages="2")
    assert t.pa == 0x8000_0008
    assert t.steps[0].level == 1 and t.steps[0].index == (ipa >> 30)


def test_stage2_start_level_legality_uses_pamax_not_input_size():
    """Finding: ASL S2InvalidSL checks PAMax. 4KB SL0 = 0b10 (level 0) with a 40-bit
    IPA is consistent, but invalid on a PE with PAMax < 44."""
    b = TableBuilder(stage=2, ia_bits=40, start_level=0, pa_bits=40)
    b.map(0x1000, 0x8000_0000, 0x1000)
    assert walk(s2_regs(b, pa_range=0b100), b.memory(), 0x1000, stages="2").pa == 0x8000_0000  # PAMax 44
    t = walk(s2_regs(b, pa_range=0b011), b.memory(), 0x1000, stages="2")                    # PAMax 42
    assert (t.fault.type, t.fault.level, t.fault.stage) == (T.TRANSLATION, 0, 2)
    assert "PAMax" in t.fault.reason


def test_stage2_inconsistent_sl_faults_at_level_0():
    b = TableBuilder(stage=2, ia_bits=40, start_level=1, concat=None)
    b.map(0x1000, 0x8000_0000, 0x1000)
    regs = s2_regs(b)
    regs["VTCR_EL2"] = VTCR_EL2["SL0"].put(regs["VTCR_EL2"], 0b00)  # level 2 cannot resolve 40 bits
    t = walk(regs, b.memory(), 0x1000, stages="2")
    assert (t.fault.type, t.fault.level, t.fault.stage) == (T.TRANSLATION, 0, 2)


def test_stage2_lpa2_level_minus_1_start():
    b = TableBuilder(stage=2, ia_bits=52, ds=True, start_level=-1, pa_bits=52)
    b.map(0xA_0000_0000_1000, 0xB_0000_0000_0000, 0x1000)
    t = walk(s2_regs(b), b.memory(), 0xA_0000_0000_1010, stages="2")
    assert t.pa == 0xB_0000_0000_0010 and t.steps[0].level == -1


def test_stage2_permissions_and_xn():
    b = TableBuilder(stage=2, ia_bits=40)
    b.map(0x1000, 0x8000_0000, 0x1000, S2Attrs(s2ap=0b01, xn=0b10))
    regs, mem = s2_regs(b), b.memory()
    assert walk(regs, mem, 0x1000, stages="2", access=Access.READ).ok
    t = walk(regs, mem, 0x1000, stages="2", access=Access.WRITE)
    assert (t.fault.type, t.fault.level, t.fault.stage, t.fault.ipa) == (T.PERMISSION, 3, 2, 0x1000)
    assert not walk(regs, mem, 0x1000, stages="2", access=Access.EXEC, el=0).ok


# --------------------------------------------------------------------------- two stages

def _two():
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, 0x1000, pa=0x6000_0000)
    ts.map(0x40_1000, 0x1000_1000, 0x1000)              # IPA not mapped at stage 2
    return ts


def test_two_stage_translation_and_s1_walk_through_stage2():
    ts = _two()
    regs, mem = ts.registers(), ts.memory()
    t = walk(regs, mem, 0x40_0123)
    assert (t.stages, t.ipa, t.pa) == ("12", 0x1000_0123, 0x6000_0123)
    s1_steps = [s for s in t.steps if s.stage == 1]
    assert all(s.desc_pa != s.desc_addr for s in s1_steps)          # every S1 fetch went through S2
    assert any(s.stage == 2 and s.s1_level is not None for s in t.steps)


def test_stages_1_stops_at_ipa_and_stages_2_takes_an_ipa():
    ts = _two()
    regs, mem = ts.registers(), ts.memory()
    t = walk(regs, mem, 0x40_1010, stages="1")
    assert t.ok and t.ipa == 0x1000_1010 and t.pa is None
    assert walk(regs, mem, 0x1000_0010, stages="2").pa == 0x6000_0010
    t = walk(regs, mem, 0x40_1010)
    assert (t.fault.stage, t.fault.s1ptw, t.fault.ipa) == (2, False, 0x1000_1010)


def test_stage2_fault_on_stage1_walk_reports_s1ptw_and_the_ipa():
    ts = _two()
    regs, mem = ts.registers(), ts.memory()
    # point a stage 1 level 2 table descriptor at an IPA stage 2 does not map
    ts.s1.set_descriptor(0x40_0000, 2, ts.s1.table_descriptor(0x9000_0000))
    t = walk(regs, ts.memory(), 0x40_0000)
    f = t.fault
    assert (f.type, f.stage, f.s1ptw, f.ipa) == (T.TRANSLATION, 2, True, 0x9000_0000)
    assert f.level == t.steps[-2].level  # the stage 2 level, not the stage 1 one


def test_hcr_ptw_makes_walks_into_stage2_device_memory_fault():
    ts = two_stage()
    ts.s2.map(ts.s1.table_base, ts.s1_table_pa, ts.s1_table_size, S2Attrs(memattr=0b0001))
    ts.map(0x40_0000, 0x1000_0000, 0x1000, pa=0x6000_0000)
    regs = ts.registers()
    mem = ts.memory()
    assert walk(regs, mem, 0x40_0000).ok
    regs["HCR_EL2"] = HCR_EL2["PTW"].put(regs["HCR_EL2"], 1)
    f = walk(regs, mem, 0x40_0000).fault
    assert (f.type, f.stage, f.s1ptw) == (T.PERMISSION, 2, True)


# --------------------------------------------------------------------------- memory outside the image, endianness

def test_descriptor_outside_the_image_is_an_external_abort_on_the_walk():
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000)
    b.set_descriptor(0x1000, 2, b.table_descriptor(0x7000_0000))   # a table nowhere in the image
    t = walk(b.registers(), b.memory(), 0x1000)
    f = t.fault
    assert (f.type, f.level, f.fsc, f.not_in_image) == (T.SYNC_EXTERNAL_ON_WALK, 3, 0x17, True)
    assert t.steps[-1].kind == "not in image" and t.steps[-1].desc_pa == 0x7000_0008


def test_big_endian_tables():
    b = s1(big_endian=True)
    b.map(0x1000, 0x8000_0000, 0x1000)
    regs = b.registers()
    assert SCTLR["EE"].get(regs["SCTLR_EL1"]) == 1
    assert walk(regs, b.memory(), 0x1010).pa == 0x8000_0010
    regs["SCTLR_EL1"] = SCTLR["EE"].put(regs["SCTLR_EL1"], 0)
    assert not walk(regs, b.memory(), 0x1010).ok


def test_mmu_off_is_flat_with_device_attributes_and_pamax_check():
    regs = {"SCTLR_EL1": 0, "TCR_EL1": 0}
    mem = PhysicalMemory()
    t = walk(regs, mem, 0x1234_5678)
    assert t.ok and t.pa == 0x1234_5678 and t.s1_disabled and t.attrs.device == "nGnRnE"
    t = walk(regs, mem, 1 << 52)
    assert (t.fault.type, t.fault.level) == (T.ADDRESS_SIZE, 0)


def test_epd_and_e0pd():
    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b01))
    regs, mem = b.registers(), b.memory()
    regs["TCR_EL1"] = TCR_EL1["E0PD0"].put(regs["TCR_EL1"], 1)
    assert walk(regs, mem, 0x1000, el=1).ok
    assert walk(regs, mem, 0x1000, el=0).fault.level == 0
    regs["TCR_EL1"] = TCR_EL1["EPD0"].put(regs["TCR_EL1"], 1)
    f = walk(regs, mem, 0x1000, el=1).fault
    assert (f.type, f.level) == (T.TRANSLATION, 0)


def test_unreadable_descriptor_reason_is_kept():
    """A page excluded from a kdump is reported as such, not as zeros or a plain hole."""
    from pgwalk.errors import NotInImage

    b = s1()
    b.map(0x1000, 0x8000_0000, 0x1000)
    inner = b.memory()
    leaf_table = b.descriptor_address(0x1000, 3) & ~0xFFF

    class Excluding:
        def read_u64(self, pa, big_endian=False):
            if pa & ~0xFFF == leaf_table:
                raise NotInImage(pa, 8, "excluded from the dump")
            return inner.read_u64(pa, big_endian)

    t = walk(b.registers(), Excluding(), 0x1000)
    assert (t.fault.type, t.fault.level, t.fault.not_in_image) == (T.SYNC_EXTERNAL_ON_WALK, 3, True)
    assert "excluded from the dump" in t.fault.reason and "excluded" in t.steps[-1].note


# --------------------------------------------------------------------------- the walker's caches

def _cache_tree():
    """Both VA ranges; pages, level 2 and level 1 blocks; holes at levels 0-3; hierarchical
    attributes on one subtree only; a next-level table beyond the output size; a reserved
    level 3 descriptor."""
    lo, hi = s1(table_base=0x4000_0000), s1(table_base=0x4100_0000)
    lo.map(0x20_0000, 0x8000_0000, 0x40_0000, S1Attrs(ap=0b01), min_leaf_level=3)        # pages
    lo.map(0x80_0000, 0x8100_0000, 0x20_0000, S1Attrs(ap=0b00, uxn=1),
           table_attrs=TableAttrs(aptable=0b10, pxntable=1), min_leaf_level=3)
    lo.map(0x4000_0000, 0xC000_0000, 0x4000_0000, S1Attrs(ap=0b10))                      # a level 1 block
    lo.map(0x8000_0000, 0x9000_0000, 0x60_0000, S1Attrs(ap=0b11), max_leaf_level=2)       # level 2 blocks
    lo.set_descriptor(0x1_0000_0000, 2, lo.table_descriptor(1 << 45))                     # beyond the OA size
    lo.set_descriptor(0x1_4000_0000, 2, lo.table_descriptor(1 << 39))                     # not in the image
    lo.set_descriptor(0x20_3000, 3, 0b01)                                                  # reserved at level 3
    hi.map(0xFFFF_8000_0000_0000, 0x9800_0000, 0x40_0000, min_leaf_level=3)
    hi.map(0xFFFF_8000_4000_0000, 0xA000_0000, 0x20_0000, S1Attrs(ap=0b00, pxn=1), max_leaf_level=2)
    regs = hi.registers(ttbr=1, regs=lo.registers(ttbr=0))
    regs["TCR_EL1"] = TCR_EL1["IPS"].put(regs["TCR_EL1"], 0b010)                          # 40-bit output
    return regs, PhysicalMemory.from_buffers({**lo.chunks(), **hi.chunks()})


def test_walk_caches_never_change_an_answer():
    """The scalar walker remembers descriptors and the paths to tables (its walk cache) for a
    memory's lifetime: every translation through warm caches, in any order and under any
    options, equals the one a fresh walker (a new setup) gives -- fault, trace and leaf."""
    regs, mem = _cache_tree()
    rng = random.Random(15)
    bases = [0x20_0000, 0x20_3000, 0x5F_F000, 0x80_0000, 0x4000_0000, 0x7FFF_F000, 0x8000_0000, 0x85F_F000,
             0x8060_0000, 0x1_0000_0000, 0x1_0020_0000, 0x1_4000_0000, 0xC000_0000, 0x8000_0000_0000,
             0x1_0000_0000_0000, 0xFFFF_8000_0000_0000,
             0xFFFF_8000_003F_F000, 0xFFFF_8000_4000_0000, 0xFFFF_8000_4020_0000, 0xFFFF_7FFF_FFFF_F000]
    vas = [b + rng.randrange(0x1000) for b in bases for _ in range(3)]
    vas += [b + rng.randrange(1 << 22) for b in bases for _ in range(3)]
    options = [{}, {"access": Access.READ, "el": 0}, {"access": Access.WRITE, "el": 1, "pan": True},
               {"access": Access.EXEC, "el": 1}, {"access": Access.EXEC, "el": 0}]
    cold = {(va, i): translate(setup_from_registers(regs), mem, va, **kw)
            for va in vas for i, kw in enumerate(options)}
    warm = setup_from_registers(regs)
    for _ in range(2):
        order = list(cold)
        rng.shuffle(order)
        for va, i in order:
            assert translate(warm, mem, va, **options[i]) == cold[(va, i)], (hex(va), options[i])
    kinds = {(t.ok, t.fault and t.fault.type, len(t.steps)) for t in cold.values()}
    assert {(True, None, 4), (True, None, 3), (True, None, 2), (False, T.TRANSLATION, 4),
            (False, T.ADDRESS_SIZE, 3), (False, T.SYNC_EXTERNAL_ON_WALK, 4), (False, T.PERMISSION, 4),
            (False, T.TRANSLATION, 1), (False, T.TRANSLATION, 0)} <= kinds


def test_walk_caches_on_the_linux_dump(dump):
    """The same on a real kernel's tables: QEMU's kernel probe VAs and addresses near them, each
    translated through warm caches and by a fresh walker, in a shuffled order."""
    from oracle_data import linux_translations

    from pgwalk.cmd.common import load_context

    ctx = load_context((dump,), None, (), None, None, None)
    probes = [va for va in (int(e["va"], 16) for e in linux_translations() or []) if (va >> 55) & 1]   # TTBR1
    if not probes:
        pytest.skip("no translations.json")
    rng = random.Random(15)
    vas = probes + [(p & ~0xFFF) + d for p in probes for d in (rng.randrange(1 << 21), -rng.randrange(1 << 30))
                    if 0 <= (p & ~0xFFF) + d < 1 << 64 and (((p & ~0xFFF) + d) >> 55) & 1]
    rng.shuffle(vas)
    warm = setup_from_registers(ctx.registers)
    warm_results = [translate(warm, ctx.memory, va) for va in vas + vas]
    for va, t in zip(vas + vas, warm_results):
        assert t == translate(setup_from_registers(ctx.registers), ctx.memory, va), hex(va)
    assert sum(t.ok for t in warm_results) > len(vas) // 2


def test_bit_field_checks_one_test_agrees_with_each_in_order():
    """The scalar walk tests an address against all of a plan's per-address checks with one
    mask and value, and names the first that holds only when that test fails: on random
    fields (overlapping, agreeing or not, values outside their masks) the verdict and the
    check named are those of testing each field in order."""
    from pgwalk import walk
    from pgwalk.rules import Check

    rng = random.Random(15)
    for _ in range(3000):
        checks = []
        for i in range(rng.randint(0, 4)):
            mask = rng.getrandbits(8) & rng.getrandbits(8)
            value = rng.getrandbits(8) & (mask if rng.random() < 0.9 else 0xFF)
            checks.append(Check(f"c{i}", FaultType.TRANSLATION, 0, None, None, True,
                                lambda p, m=mask, v=value: (m, v)))
        mask, value, fields = walk._bit_fields(tuple(checks), None)
        for a in range(256):
            first = next((chk for m, v, chk in fields if a & m != v), None)
            assert (a & mask != value) == (first is not None)
            if first is not None:
                assert walk._first_holding(fields, a) is first
