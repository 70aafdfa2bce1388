"""FEAT_D128 (VMSAv9-128) in the scalar walk: 128-bit descriptors, start levels down to -2,
skip levels (TTBR.SKL and a table descriptor's SKL), 56-bit output addresses, indirect
permissions through PIIndex, stage 2 (VTCR_EL2.D128), the 128-bit PAR_EL1 and the reverse map (the
whole-tree walk walks it: tests/test_tree_d128.py; the batch paths take the per-address walk:
tests/test_bulk_d128.py).

Expected values come from the Arm ARM (DDI 0487 M.a.a): the bits each level resolves (D8.2.11:
a level resolves ``granule bits - 4`` bits with 16-byte descriptors), the next-level table sizes
of Table D8-45, the descriptor types of Table D8-49, the FSC encodings of PAR_EL1.FST (level -2:
Translation 0b101010, Address size 0b101100) and the PAR_EL1 D128 layout (D24.2.142).  The tables
are made by :class:`pgwalk.builder.D128Builder`, whose geometry is written out apart from the walk.
"""

from __future__ import annotations

import pytest

from pgwalk.at import at, par_decode
from pgwalk.builder import D128Builder, S1Attrs, TableBuilder
from pgwalk.errors import RegisterError
from pgwalk.faults import FaultType
from pgwalk.formats import descriptors as D
from pgwalk.formats import registers as FR
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

GRANULES = (4096, 16384, 65536)
#: PIR_EL1 with RW (0b1100) for every PIIndex: privileged read/write, no execute
PIR_RW = int("c" * 16, 16)
#: PIR_EL1 with PIR[n] = a distinct encoding per index
PIR_DISTINCT = sum(((n * 7) & 0xF) << (4 * n) for n in range(16))


def _g(granule: int) -> int:
    return granule.bit_length() - 1


def _arm_start_level(granule: int, ia_bits: int) -> int:
    """The start level from the Arm ARM's ranges (D8.2.11): the lowest level whose bits the VA reaches,
    a level resolving g - 4 bits above the g page-offset bits."""
    g = _g(granule)
    level, top = 3, g + (g - 4)          # level 3 resolves bits [top-1:g]
    while ia_bits > top:
        level -= 1
        top += g - 4
    return level


def _setup(b: D128Builder, **kw):
    return setup_from_registers(b.registers(**kw))


# --------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("granule,ia_bits", [(4096, 55), (4096, 52), (4096, 48), (4096, 40), (4096, 36),
                                             (16384, 55), (16384, 48), (16384, 44), (65536, 55), (65536, 52),
                                             (65536, 42)])
def test_geometry_start_level_index_bits_and_16_byte_entries(granule, ia_bits):
    b = D128Builder(granule=granule, ia_bits=ia_bits)
    start = _arm_start_level(granule, ia_bits)
    assert b.start_level == start
    s = _setup(b, pir=PIR_RW)
    p = s.ranges[0]
    assert (p.d128, p.start_level, p.stride, p.iasize) == (True, start, _g(granule) - 4, ia_bits)
    va = ((1 << ia_bits) - 1) & ~(granule - 1) & 0x5A5A_5A5A_5A5A_5A5A | granule   # bits at every level
    path = tuple(range(start, 4))
    b.map(va, 0x4000_0000, path, pi=0)
    t = translate(s, b.memory(), va | 0x123, access=Access.READ)
    assert t.fault is None and t.pa == 0x4000_0123
    g, stride = _g(granule), _g(granule) - 4
    assert [st.level for st in t.steps] == list(path)
    for st in t.steps:
        lsb = g + stride * (3 - st.level)
        width = ia_bits - lsb if st.level == start else stride
        assert st.index == (va >> lsb) & ((1 << width) - 1)
        assert st.desc_addr == st.table + 16 * st.index           # 16-byte descriptors
    assert t.s1.size == granule and t.s1.kind == "page"


def test_level_minus_two_only_with_4k_and_a_56_bit_va_range():
    assert _arm_start_level(4096, 55) == -2 and _arm_start_level(16384, 55) == -1
    assert _arm_start_level(65536, 55) == 0
    # EL1&0 has two VA ranges: with FEAT_LVA3 the smallest T0SZ is 9 (ASL AArch64.S1MinTxSZ)
    b = D128Builder(granule=4096, ia_bits=56)
    s = _setup(b)
    assert "T0SZ = 8 is below the minimum 9" in s.ranges[0].config_fault
    t = translate(s, b.memory(), 0x1000)
    assert t.fault.type is FaultType.TRANSLATION and t.fault.level == 0


@pytest.mark.parametrize("granule", GRANULES)
def test_ttbr_skl_skips_start_levels_and_widens_the_root(granule):
    ia_bits = 48
    plain = _arm_start_level(granule, ia_bits)
    b = D128Builder(granule=granule, ia_bits=ia_bits, skl=1)
    s = _setup(b, pir=PIR_RW)
    p = s.ranges[0]
    assert p.skl == 1 and p.start_level == plain + 1 == b.start_level
    # the root now indexes every VA bit above the (new) start level's: aligned to its size
    lsb = _g(granule) + (_g(granule) - 4) * (3 - p.start_level)
    assert p.base == b.root and b.root % (16 << (ia_bits - lsb)) == 0
    va = 0x7654_3210_0000 & ((1 << ia_bits) - 1) & ~(granule - 1)
    b.map(va, 0x1234_0000 & ~(granule - 1), tuple(range(p.start_level, 4)))
    t = translate(s, b.memory(), va)
    assert t.fault is None and t.steps[0].level == plain + 1
    assert t.steps[0].index == va >> lsb


def test_ttbr_skl_beyond_level_3_is_a_level_0_translation_fault():
    b = D128Builder(granule=65536, ia_bits=40)          # start level 2
    regs = b.registers(pir=PIR_RW)
    regs["TTBR0_EL1"] = FR.TTBR_128["SKL"].put(regs["TTBR0_EL1"], 2)
    s = setup_from_registers(regs)
    assert s.ranges[0].start_level == 4
    t = translate(s, b.memory(), 0x1_0000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.TRANSLATION, 0, 0b000100)
    assert "SKL = 2" in t.fault.reason


# --------------------------------------------------------------------------- skip levels in table descriptors

@pytest.mark.parametrize("granule,path", [
    (4096, (-1, 1, 3)), (4096, (-1, 0, 2, 3)), (4096, (-1, 1, 2, 3)), (16384, (0, 2, 3)),
])
def test_table_descriptor_skl_skips_levels_into_larger_tables(granule, path):
    b = D128Builder(granule=granule, ia_bits=48)
    assert b.start_level == path[0]
    s = _setup(b, pir=PIR_RW)
    va = 0x5555_5555_5000 & ((1 << 48) - 1) & ~(granule - 1)
    b.map(va, 0x9_0000_0000, path)
    t = translate(s, b.memory(), va + 8)
    assert t.fault is None and t.pa == 0x9_0000_0008
    assert [st.level for st in t.steps] == list(path)
    g, stride = _g(granule), _g(granule) - 4
    for prev, st in zip(t.steps, t.steps[1:]):
        skl = st.level - prev.level - 1
        assert D.D128_SKL.get(prev.raw) == skl
        # Table D8-45: the next table has 2**((SKL+1)*stride) entries of 16 bytes, and is aligned so
        assert st.table % (16 << (stride * (skl + 1))) == 0
        assert st.index == (va >> (g + stride * (3 - st.level))) & ((1 << (stride * (skl + 1))) - 1)


def test_next_table_sizes_of_table_d8_45():
    from pgwalk import rules

    sizes = {(12, 0): 4 << 10, (12, 1): 1 << 20, (12, 2): 256 << 20, (12, 3): 64 << 30,
             (14, 0): 16 << 10, (14, 1): 16 << 20, (14, 2): 16 << 30}
    for (g, skl), size in sizes.items():
        assert 16 * rules.table_entries(2 - skl, -3, 48, g, True, skl) == size
        raw = (0xab_cdef_9876_5432_1000 & ((1 << 56) - 1)) | 1 | skl << D.D128_SKL.lsb
        assert rules.next_table_base(raw, g, False, False, True) % min(size, 1 << 48) == 0


@pytest.mark.parametrize("granule", [16384, 65536])
def test_skl_3_is_invalid_with_16k_and_64k(granule):
    b = D128Builder(granule=granule, ia_bits=48)
    start = b.start_level
    raw = b.table_descriptor(0x20_0000, 0) | D.D128_SKL.mask          # SKL = 3
    b.put(0, (start,), raw)
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0)
    assert (t.fault.type, t.fault.level) == (FaultType.TRANSLATION, start)
    assert "SKL = 3" in t.fault.reason


def test_level_plus_skl_beyond_3_is_invalid_and_equal_to_3_is_a_leaf():
    b = D128Builder(granule=4096, ia_bits=48)           # start -1
    leaf = b.leaf_descriptor(0x4000_0000, 2)
    b.put(0, (-1, 0, 1, 2), D.D128_SKL.put(leaf, 2))     # level 2 + SKL 2 > 3
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.TRANSLATION, 2, 0b000110)
    assert "beyond level 3" in t.fault.reason


# --------------------------------------------------------------------------- blocks, pages, output addresses

@pytest.mark.parametrize("granule,level", [(4096, 0), (4096, 1), (4096, 2), (4096, 3), (16384, 1), (16384, 2),
                                           (16384, 3), (65536, 1), (65536, 2), (65536, 3)])
def test_block_or_page_at_each_level(granule, level):
    b = D128Builder(granule=granule, ia_bits=48)
    g, stride = _g(granule), _g(granule) - 4
    size = 1 << (g + stride * (3 - level))
    va, oa = 3 * size, 0xab_0000_0000_0000 + 5 * size       # OA above 2**52: bits [55:48]
    b.map(va, oa, tuple(range(b.start_level, level + 1)))
    off = size // 3 & ~7
    t = translate(_setup(b, pir=PIR_RW), b.memory(), va + off, access=Access.WRITE)
    assert t.fault is None, t.fault
    assert t.pa == oa + off and t.s1.size == size and t.s1.level == level
    assert t.s1.kind == ("page" if level == 3 else "block")
    assert t.s1.oa_base == oa


def test_oa_of_56_bits_and_address_size_faults():
    b = D128Builder(granule=4096, ia_bits=48, pa_bits=56)
    top = 0xff_ffff_ffff_f000
    b.map(0x1000, top, (-1, 0, 1, 2, 3))
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0x1abc)
    assert t.pa == top | 0xabc
    # 48-bit output size: the page is beyond it (level 3 Address size fault)
    small = D128Builder(granule=4096, ia_bits=48, pa_bits=48)
    small.map(0x1000, 0x1_0000_0000_0000, (-1, 0, 1, 2, 3))
    t = translate(_setup(small, pir=PIR_RW), small.memory(), 0x1000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.ADDRESS_SIZE, 3, 0b000011)
    # a next-level table beyond it: the Address size fault is at the table descriptor's level
    small.put(0x20_0000_0000, (-1,), small.table_descriptor(0x1_0000_0000_0000))
    t = translate(_setup(small, pir=PIR_RW), small.memory(), 0x20_0000_0000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.ADDRESS_SIZE, -1, 0b101001)


def test_table_base_beyond_the_output_size_and_level_minus_two_fscs():
    b = D128Builder(granule=4096, ia_bits=55, pa_bits=48, table_base=0x10_0000)
    regs = b.registers(pir=PIR_RW)
    regs["TTBR0_EL1"] = FR.TTBR_128["BADDR_55_48"].put(regs["TTBR0_EL1"], 0x12)   # base at 2**52 and up
    t = translate(setup_from_registers(regs), b.memory(), 0)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.ADDRESS_SIZE, 0, 0b000000)
    # level -2: an invalid descriptor (Translation fault, FSC 0b101010) and a table beyond the output size
    # (Address size fault, FSC 0b101100), Arm ARM PAR_EL1.FST
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0x10_0000_0000_0000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.TRANSLATION, -2, 0b101010)
    b.put(0x20_0000_0000_0000, (-2,), b.table_descriptor(0x10_0000_0000_0000))
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0x20_0000_0000_0000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.ADDRESS_SIZE, -2, 0b101100)


@pytest.mark.parametrize("level,fsc", [(-2, 0b101010), (-1, 0b101011), (0, 0b000100), (1, 0b000101),
                                       (2, 0b000110), (3, 0b000111)])
def test_translation_fault_at_each_level(level, fsc):
    b = D128Builder(granule=4096, ia_bits=55)
    va = 0x1234_5678_9000
    if level > -2:
        b.map(0x1234_5600_0000 ^ (1 << 12), 0x4000_0000, tuple(range(-2, 4)))   # tables down to level 3
    path = tuple(range(-2, level + 1))
    b.put(va, path, 0x0ff0 << 64)                    # valid bit clear (other bits ignored)
    t = translate(_setup(b, pir=PIR_RW), b.memory(), va)
    assert (t.fault.type, t.fault.level, t.fault.fsc, t.fault.stage) == (FaultType.TRANSLATION, level, fsc, 1)
    assert t.steps[-1].kind == "invalid"


def test_access_flag_fault_and_hardware_af():
    b = D128Builder(granule=16384, ia_bits=48)
    b.map(0x4000, 0x8000_0000, (0, 1, 2, 3), af=0)
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0x4000)
    assert (t.fault.type, t.fault.level, t.fault.fsc) == (FaultType.ACCESS_FLAG, 3, 0b001011)
    regs = b.registers(pir=PIR_RW)
    regs["TCR_EL1"] = FR.TCR_EL1["HA"].put(regs["TCR_EL1"], 1)
    t = translate(setup_from_registers(regs), b.memory(), 0x4000)
    assert t.fault is None and t.s1.af_update


def test_big_endian_tables():
    b = D128Builder(granule=4096, ia_bits=48, big_endian=True)
    b.map(0x7000, 0xab_cdef_0000_0000, (-1, 0, 1, 2, 3))
    t = translate(_setup(b, pir=PIR_RW), b.memory(), 0x7008)
    assert t.pa == 0xab_cdef_0000_0008


# --------------------------------------------------------------------------- permissions (PIE forced on)

def test_pie_is_forced_on_and_piindex_is_desc_118_115():
    b = D128Builder(granule=4096, ia_bits=48)
    for pi in range(16):
        b.map(pi << 12, 0x4000_0000 + (pi << 12), (-1, 0, 1, 2, 3), pi=pi, po=15 - pi)
    s = _setup(b, pir=PIR_DISTINCT)
    assert s.ranges[0].pie and any("permission indirection is on" in n for n in s.notes)
    mem = b.memory()
    for pi in range(16):
        t = translate(s, mem, pi << 12)
        perms = t.s1.perms
        assert perms.indirect and perms.pi_index == pi and perms.ppi == (PIR_DISTINCT >> 4 * pi) & 0xF
        assert D.D128_POINDEX.get(t.s1.raw) == 15 - pi


def test_ndirty_write_with_pir_rw_is_a_dirtybit_permission_fault():
    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x1000, 0x4000_0000, (-1, 0, 1, 2, 3), pi=3, dirty=1)        # nDirty = 1: not dirty
    b.map(0x2000, 0x4000_1000, (-1, 0, 1, 2, 3), pi=3, dirty=0)
    s = _setup(b, pir=PIR_RW)
    mem = b.memory()
    t = translate(s, mem, 0x1000, access=Access.WRITE)
    assert t.fault.type is FaultType.PERMISSION and t.fault.dirty_bit and t.fault.level == 3
    assert translate(s, mem, 0x2000, access=Access.WRITE).fault is None
    assert translate(s, mem, 0x1000, access=Access.READ).fault is None
    assert translate(s, mem, 0x1000, access=Access.EXEC).fault.type is FaultType.PERMISSION


def test_overlay_reads_poindex_from_desc_124_121():
    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x1000, 0x4000_0000, (-1, 0, 1, 2, 3), pi=0, po=5)
    regs = b.registers(pir=0b0101)                      # PIR[0] = RW, overlay (the overlay applies)
    regs["TCR2_EL1"] |= FR.TCR2_EL1["POE"].mask
    regs["POR_EL1"] = 0x1 << (4 * 5)                    # POR[5] = read only
    s = setup_from_registers(regs)
    mem = b.memory()
    t = translate(s, mem, 0x1000, access=Access.WRITE)
    assert t.fault.type is FaultType.PERMISSION and t.fault.overlay
    assert translate(s, mem, 0x1000, access=Access.READ).fault is None


def test_aie_attrindx3_is_desc_5():
    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x1000, 0x4000_0000, (-1, 0, 1, 2, 3), attr_indx=0b001)
    addr = b.map(0x2000, 0x4000_1000, (-1, 0, 1, 2, 3), attr_indx=0b001)
    b.write(addr, b.read(addr) | D.D128_ATTRINDX_3.mask)
    regs = b.registers(pir=PIR_RW, regs={"MAIR2_EL1": 0x4400})
    regs["TCR2_EL1"] |= FR.TCR2_EL1["AIE"].mask
    s = setup_from_registers(regs)
    mem = b.memory()
    assert translate(s, mem, 0x1000).s1.attr_index == 1
    assert translate(s, mem, 0x2000).s1.attr_index == 9


# --------------------------------------------------------------------------- stage 2

def test_stage2_d128_alone_and_under_a_vmsav8_stage1():
    s2 = D128Builder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000)
    assert s2.start_level == 0
    s2.map(0, 0, (0,), pi=12, sh=0b11, attr_indx=0b1111)            # IPA [0, 64GB): a level 0 block
    s2.map(0x10_0000_0000, 0xcd_0000_0000_0000, (0, 1, 2, 3), pi=8, attr_indx=0b1111)   # read-only page
    s2pir = (0b1100 << 4 * 12) | (0b1000 << 4 * 8)                  # RW at 12, RO at 8
    s1 = TableBuilder(stage=1, granule=4096, ia_bits=48, table_base=0x100_0000)
    s1.map(0x5000, 0x10_0000_0000, 0x1000, S1Attrs(ap=0b00))
    regs = s1.registers(regs=s2.registers(s2pir=s2pir))
    setup = setup_from_registers(regs)
    assert setup.s2.d128 and setup.s2.perm.s2pie and not setup.ranges[0].d128
    mem = s2.memory(s1.chunks())
    t = translate(setup, mem, 0x5010, access=Access.READ)
    assert t.fault is None and t.pa == 0xcd_0000_0000_0010
    assert t.s2.perms.pi_index == 8 and t.s2.level == 3
    # the stage 1 table fetches went through the level 0 block
    assert [st.level for st in t.steps if st.stage == 2 and st.s1_level is not None][:1] == [0]
    t = translate(setup, mem, 0x5010, access=Access.WRITE)
    assert (t.fault.type, t.fault.stage, t.fault.level) == (FaultType.PERMISSION, 2, 3)
    # stage 2 alone, and a stage 2 translation fault at level 1
    t = translate(setup, mem, 0x10_4000_0000, stages="2")
    assert (t.fault.type, t.fault.stage, t.fault.level, t.fault.fsc) == (FaultType.TRANSLATION, 2, 1, 0b000101)


def test_stage2_d128_under_a_d128_stage1():
    s2 = D128Builder(stage=2, granule=16384, ia_bits=44, table_base=0x4000_0000)
    assert s2.start_level == 1
    s2.map(0, 0, (1,), pi=12, attr_indx=0b1111, dirty=1)             # IPA [0, 16GB): a level 1 block, dirty
    s1 = D128Builder(granule=4096, ia_bits=48, table_base=0x100_0000)
    s1.map(0x9000, 0x2_0000_3000, (-1, 0, 1, 2, 3), pi=0)
    regs = s1.registers(pir=PIR_RW, regs=s2.registers(s2pir=0b1100 << 4 * 12))
    setup = setup_from_registers(regs)
    t = translate(setup, s1.memory(s2.chunks()), 0x9abc, access=Access.WRITE)
    assert t.fault is None and t.pa == 0x2_0000_3abc
    assert {st.stage for st in t.steps} == {1, 2}


# --------------------------------------------------------------------------- PAR_EL1

def test_par_el1_128_bit_format():
    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x1000, 0xab_0000_1234_5000, (-1, 0, 1, 2, 3), pi=3)
    s = _setup(b, pir=PIR_RW)
    mem = b.memory()
    r = at(s, mem, "S1E1R", 0x1000)
    par = r.par
    assert par >> 64 & 1 == 1                                      # PAR_EL1.D128
    assert (par >> 76) & ((1 << 44) - 1) == 0xab_0000_1234_5        # PA[55:12] in [119:76]
    assert par & ((1 << 52) - 1) >> 12 << 12 == 0                  # bits [51:12] RES0
    assert par & 1 == 0 and par >> 56 & 0xFF == 0xFF               # F = 0, ATTR (MAIR Attr0)
    d = par_decode(par)
    assert d["D128"] == 1 and d["PA"] == "0xab000012345000"
    r = at(s, mem, "S1E1R", 0x3000)                                # unmapped: level 3 Translation fault
    assert r.par & 1 and r.par >> 64 & 1 and (r.par >> 1) & 0x3F == 0b000111
    assert par_decode(r.par)["D128"] == 1
    # without D128 the PAR is the 64-bit format
    v8 = TableBuilder(stage=1, granule=4096, ia_bits=48)
    v8.map(0x1000, 0x4000_0000, 0x1000)
    assert at(setup_from_registers(v8.registers()), v8.memory(), "S1E1R", 0x1000).par >> 64 == 0


def test_captured_128_bit_pars_compare_by_their_own_pa_field():
    """``at`` against a captured PAR (at --batch "par"): a 128-bit PAR is read whole, and two of them
    differ when their PA[55:12] (bits [119:76]) do, which the 64-bit layout's PA field never shows."""
    from pgwalk.at import compare_par, parse_captured_par
    from pgwalk.par import pack_par

    a = pack_par(False, sh=3, ns=1, attr=0xFF, pa=0xab_0000_4000_1000, d128=True)
    b = pack_par(False, sh=3, ns=1, attr=0xFF, pa=0xab_0000_4000_2000, d128=True)
    assert parse_captured_par(hex(a)) == a
    assert compare_par(a, a).match and not compare_par(a, a).warnings
    d = compare_par(a, b)
    assert not d.match and d.fields == (("PA", 0xab_0000_4000_1, 0xab_0000_4000_2),)
    v8 = pack_par(False, sh=3, ns=1, attr=0xFF, pa=0x4000_1000)
    assert compare_par(a, v8).fields == (("D128", 1, 0),)
    fault = pack_par(True, fst=0b000111, d128=True)
    assert compare_par(fault, fault).match and compare_par(fault, fault | 1 << 120).warnings   # RES0 [127:65]


def test_explain_a_captured_128_bit_par_finds_where_its_pa_is_mapped():
    """``at`` against a captured 128-bit PAR with another PA: the reverse lookup reads the PA from
    bits [119:76] and the D128 leaves' sizes, and names the VA mapping it (here a 56-bit PA)."""
    from pgwalk.at import explain_mismatch
    from pgwalk.par import pack_par

    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x1000, 0xab_0000_1234_5000, (-1, 0, 1, 2, 3), pi=3)
    b.map(0x20_0000, 0xab_0000_5600_0000, (-1, 0, 1, 2), pi=3)                # a 1MB level 2 block
    s = _setup(b, pir=PIR_RW)
    mem = b.memory()
    res = at(s, mem, "S1E1R", 0x1000)
    hw = pack_par(False, sh=3, ns=1, attr=0xFF, pa=0xab_0000_5603_4000, d128=True)
    reasons = explain_mismatch(res, hw, s, mem)
    assert any(r.kind == "reverse-lookup" and "VA 0x234000" in r.text and "0xab000056034000" in r.text
               for r in reasons), reasons


# --------------------------------------------------------------------------- setup and refusals

def test_el2_regime_has_no_d128():
    regs = {"TCR_EL2": 0x80803510, "TTBR0_EL2": 0x4000_0000, "SCTLR_EL2": 1, "TCR2_EL2": 1 << 5}
    s = setup_from_registers(regs, Regime.EL2)
    assert not s.ranges[0].d128


@pytest.mark.parametrize("granule,ia_bits", [(4096, 48), (4096, 55), (16384, 48), (65536, 52)])
def test_reverse_map_finds_every_d128_mapping(granule, ia_bits):
    """The reverse map of D128 trees: leaves inverted with the 16-byte entries' sizes (a page, a block
    one level up, and two VAs aliasing one PA), each answer translating forward to the PA asked."""
    from pgwalk.reverse import reverse_map

    b = D128Builder(granule=granule, ia_bits=ia_bits)
    start = b.start_level
    g = _g(granule)
    page = 0x4000_0000 + 7 * granule
    va_page = 3 * granule
    b.map(va_page, page, tuple(range(start, 4)))
    b.map(va_page + (5 << (2 * (g - 4) + g)), page, tuple(range(start, 4)))      # an alias, another level 1 entry
    block = 1 << (g - 4 + g)                                                     # a level 2 block
    # an even and an odd multiple: a VMSAv8-64 block size, twice as large, would put the offsets a block off
    va_block, pa_block = 8 * block, 0x8000_0000 | block
    b.map(va_block, pa_block, tuple(range(start, 3)))
    s = _setup(b, pir=PIR_RW)
    mem = b.memory()
    pas = [page + 0x12, pa_block + 5 * granule + 0x34, 0x7000_0000]
    q, res = reverse_map(s, mem, pas)
    found = sorted((int(i), int(va)) for i, va in zip(q, res.va))
    assert found == sorted([(0, va_page + 0x12), (0, va_page + (5 << (2 * (g - 4) + g)) + 0x12),
                            (1, va_block + 5 * granule + 0x34)])
    for i, va in found:
        assert translate(s, mem, va).pa == pas[i]


# --------------------------------------------------------------------------- the CLI

def _cli_image(tmp_path, b: D128Builder) -> list[str]:
    """``-i image@base`` and ``--reg`` options for ``b``'s tables (128-bit TTBR0_EL1 as one hex value)."""
    from pgwalk.builder import write_image

    base, _ = write_image(tmp_path / "d128.img", b)
    regs = b.registers(pir=PIR_RW)
    out = ["-i", f"{tmp_path / 'd128.img'}@{base:#x}"]
    for name, value in regs.items():
        out += ["--reg", f"{name}={value:#x}"]
    return out


def test_cli_translate_walks_d128_and_batch_takes_the_per_address_walk(tmp_path, capsys):
    from cli_helpers import run

    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x7000, 0xab_cdef_0000_0000, (-1, 0, 1, 2, 3), pi=3)
    opts = _cli_image(tmp_path, b)
    rc, out, err = run(["translate", *opts, "--json", "0x7010"], capsys)
    assert rc == 0, err
    import json

    line = json.loads(out.splitlines()[0])
    assert line["pa"] == "0xabcdef00000010"
    vas = tmp_path / "vas.txt"
    vas.write_text("\n".join(f"{0x7000 + 8 * i:#x}" for i in range(100)))
    rc, out, err = run(["translate", *opts, "--batch", str(vas), "--json"], capsys)
    assert rc == 0 and len(out.splitlines()) == 100 and "Traceback" not in err
    assert json.loads(out.splitlines()[2]) == line
    assert [ln for ln in err.splitlines() if "one address at a time" in ln] == [
        "pgwalk: note: TCR2_EL1.D128 = 1: VMSAv9-128 (FEAT_D128) tables are walked one address at a time "
        "(the per-address walk), not vectorised"]


def test_cli_wide_ttbr_value(tmp_path, capsys):
    from cli_helpers import run

    b = D128Builder(granule=4096, ia_bits=48, table_base=0xab_0000_0010_0000)   # tables above 2**48
    b.map(0x7000, 0x4000_0000, (-1, 0, 1, 2, 3), pi=3)
    regs = b.registers(pir=PIR_RW)
    assert regs["TTBR0_EL1"] >> 64                                  # BADDR[55:48] in bits [87:80]
    rc, out, err = run(["translate", *_cli_image(tmp_path, b), "0x7abc"], capsys)
    assert rc == 0, err
    assert "0x40000abc" in out


def test_cli_decode_descriptor_d128(capsys):
    import json

    from cli_helpers import run

    b = D128Builder(granule=4096, ia_bits=48)
    raw = b.leaf_descriptor(0xab_cdef_0123_4000, 3, pi=9, po=4, attr_indx=1)
    rc, out, err = run(["decode", "descriptor", "--d128", "--granule", "4k", "--level", "3", "--json", f"{raw:#x}"],
                       capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert d["kind"] == "page" and d["address"] == "0xabcdef01234000" and d["d128"] is True
    assert d["fields"]["PIIndex"] == 9 and d["fields"]["POIndex"] == 4 and d["permissions"] is None
    table = b.table_descriptor(0x40_0000, 1)
    rc, out, err = run(["decode", "descriptor", "--d128", "--granule", "4k", "--level", "-2", f"{table:#x}"], capsys)
    assert rc == 0 and "table -> next level at 0x400000" in out and "the next level is 0" in err + out
    rc, out, err = run(["decode", "descriptor", "--granule", "4k", "--level", "-2", "0x3"], capsys)
    assert rc == 2 and "--d128" in err
    rc, out, err = run(["decode", "descriptor", "--d128", "--granule", "64k", "--level", "1",
                        f"{D.D128_SKL.mask | 1:#x}"], capsys)
    assert rc == 0 and "SKL = 3 is invalid" in out


def test_cli_at_and_decode_of_a_128_bit_par(tmp_path, capsys):
    from cli_helpers import run

    b = D128Builder(granule=4096, ia_bits=48)
    b.map(0x7000, 0xab_cdef_0000_0000, (-1, 0, 1, 2, 3), pi=3)
    rc, out, err = run(["at", *_cli_image(tmp_path, b), "S1E1R", "0x7010"], capsys)
    assert rc == 0, err
    par = int(out.split("PAR_EL1 = ")[1].split()[0], 16)
    assert par >> 64 & 1 and (par >> 76) << 12 == 0xab_cdef_0000_0000
    rc, out, err = run(["decode", "PAR_EL1", f"{par:#x}"], capsys)
    assert rc == 0 and "AT succeeded: PA 0xabcdef00000000" in out and "VMSAv9-128 format" in out
    rc, out, err = run(["decode", "PAR_EL1", f"{1 << 128 | 1:#x}"], capsys)
    assert rc == 2 and "128 bits" in err


def test_decode_a_128_bit_ttbr():
    from pgwalk.esr import decode_register

    b = D128Builder(granule=4096, ia_bits=48, skl=1, table_base=0xab_0000_4000_0000)
    value = b.ttbr_value()
    rep = decode_register("TTBR0_EL1", f"{value:#x}")
    assert rep.derived["baddr_d128_format"] == b.root and rep.derived["skl"] == 1
    # the walk takes the same base from it
    assert setup_from_registers(b.registers(pir=PIR_RW)).ranges[0].base == b.root


# --------------------------------------------------------------------------- RES0 bits (decode, dump-tree)

def _bits(*spans: tuple[int, int]) -> list[int]:
    return [b for msb, lsb in spans for b in range(lsb, msb + 1)]


#: RES0 whatever the controls, written out from ARM Tables D8-56..D8-59 (the rows with no condition, and
#: the address bits below a 16KB or 64KB granule)
ARM_RES0 = {1: _bits((126, 125), (120, 119), (108, 101), (90, 56), (1, 1)),
            2: _bits((126, 125), (120, 119), (113, 112), (108, 101), (90, 56), (1, 1))}
#: bits whose meaning depends on the Security state, the overlays, FEAT_THE or FEAT_AIE, or that are
#: IGNORED: never reported as RES0 (stage 1 leaf / table, stage 2 leaf / table)
NOT_REPORTED = {(1, "leaf"): _bits((127, 127), (124, 121), (114, 114), (112, 112), (5, 5)),
                (1, "table"): _bits((127, 127), (124, 121), (118, 111), (11, 2)),
                (2, "leaf"): _bits((127, 127), (124, 121), (114, 114)),
                (2, "table"): _bits((127, 127), (124, 121), (118, 114), (111, 111), (11, 2))}


def _decode_problems(raw: int, stage: int, granule: int, level: int) -> list[str]:
    from pgwalk.descdecode import decode_descriptor

    return decode_descriptor(raw, granule=_g(granule), level=level, stage=stage, pa_bits=56, d128=True).problems


@pytest.mark.parametrize("stage", (1, 2))
@pytest.mark.parametrize("granule", GRANULES)
def test_decode_names_each_res0_bit_of_leaves_and_tables(stage, granule):
    g = _g(granule)
    b = D128Builder(stage=stage, granule=granule, ia_bits=48)
    low = _bits((g - 1, 12)) if g > 12 else []
    for level in (1, 2, 3) if granule != 4096 else (0, 1, 2, 3):
        # every field the builder sets, set to ones: no RES0 bit among them
        leaf = b.leaf_descriptor((1 << 56) - 1, level, pi=15, po=15, attr_indx=7, dirty=1, sh=3, contiguous=1)
        assert not _decode_problems(leaf, stage, granule, level), (level, hex(leaf))
        page_nt = [6] if level == 3 else []
        for bit in ARM_RES0[stage] + low + page_nt:
            problems = _decode_problems(leaf | 1 << bit, stage, granule, level)
            assert problems == [f"RES0 bits set: {1 << bit:#x}"], (level, bit, problems)
        for bit in NOT_REPORTED[stage, "leaf"]:
            assert not any("RES0" in p for p in _decode_problems(leaf | 1 << bit, stage, granule, level)), bit
        if level < 3:       # a block: the output bits below its size are ignored (ASL AArch64.S1LeafBase)
            lsb = g + (g - 4) * (3 - level)
            problems = _decode_problems(leaf | 1 << (lsb - 1), stage, granule, level)
            assert len(problems) == 1 and problems[0].startswith(f"output address bits {1 << (lsb - 1):#x} below")
            assert problems[0].endswith("block size are set (ignored)")
    for level in (0, 1, 2):
        table = b.table_descriptor(((1 << 56) - 1) & ~((1 << g) - 1), 0)
        assert not _decode_problems(table, stage, granule, level)
        for bit in ARM_RES0[stage] + low:
            assert _decode_problems(table | 1 << bit, stage, granule, level) == [f"RES0 bits set: {1 << bit:#x}"], bit
        for bit in NOT_REPORTED[stage, "table"]:
            assert not _decode_problems(table | 1 << bit, stage, granule, level), bit


def test_dump_tree_flags_res0_and_misaligned_d128_leaves_and_translate_still_agrees():
    from pgwalk.tree import collect_runs, tree_params

    b = D128Builder(granule=4096, ia_bits=48)
    page = b.map(0x1000, 0x8000_1000, (-1, 0, 1, 2, 3), pi=12)
    block = b.map(0x4000_0000, 0x8020_0000, (-1, 0, 1, 2), pi=12)   # 1MB: 4KB with D128
    b.map(0x8000_0000, 0x9000_0000, (-1, 0, 1, 2), pi=12)          # a clean block: no flags
    b.write(page, b.leaf_descriptor(0x8000_1000, 3, pi=12) | 1 << 101 | 1 << 6)
    b.write(block, b.leaf_descriptor(0x8020_0000, 2, pi=12) | 1 << 13)
    setup = setup_from_registers(b.registers(pir=PIR_RW))
    mem = b.memory()
    runs = {r.va_start: r for r in collect_runs(tree_params(setup, "ttbr0"), mem) if r.mapped}
    assert runs[0x1000].attrs.flags == (f"RES0 bits set: {1 << 101 | 1 << 6:#x}",)
    assert runs[0x4000_0000].attrs.flags == ("misaligned output: bits 0x2000 below the 0x100000-byte block size "
                                             "are set (ignored)",)
    assert runs[0x8000_0000].attrs.flags == ()
    # the bits change nothing in the walk: the page and the block still translate
    assert translate(setup, mem, 0x1234).pa == 0x8000_1234
    assert translate(setup, mem, 0x4000_5678).pa == 0x8020_5678
