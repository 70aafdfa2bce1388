"""Tests for pgwalk.builder.

The builder is checked two ways: its descriptors are decoded with the
``pgwalk.formats`` layouts, and its trees are walked by a small reference
walker written here from the fact sheet (bit positions spelled out on
purpose, independent of the builder and of ``pgwalk.formats``).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwalk.builder import (
    DEFAULT_ID_AA64MMFR0_EL1, DEFAULT_MAIR, S1Attrs, S2Attrs, TableAttrs, TableBuilder,
    block_levels, merge_chunks, two_stage, write_image,
)
from pgwalk.formats.descriptors import (
    s1_leaf_layout, s1_table_layout, s2_leaf_layout, s2_table_layout,
)
from pgwalk.formats.registers import HCR_EL2, SCTLR, TCR_EL1, TTBR, TTBR_52, VTCR_EL2, VTTBR_EL2

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
M48 = (1 << 48) - 1


# =========================================================================== reference walker

class RefFault(Exception):
    def __init__(self, kind: str, level: int, stage: int = 1, s1ptw: bool = False):
        super().__init__(f"{kind} L{level} stage {stage}{' s1ptw' if s1ptw else ''}")
        self.kind, self.level, self.stage, self.s1ptw = kind, level, stage, s1ptw


class RefMem:
    """Reads 8-byte descriptors from ``{base: bytes}`` chunks."""

    def __init__(self, chunks):
        self.chunks = [(b, bytes(c)) for b, c in chunks.items()]

    def read64(self, pa: int, big: bool) -> int:
        for b, c in self.chunks:
            if b <= pa and pa + 8 <= b + len(c):
                return int.from_bytes(c[pa - b:pa - b + 8], "big" if big else "little")
        raise LookupError(f"{pa:#x} not in memory")


# legal block levels, fact sheet §4.1, keyed by (granule shift, 52-bit (DS or 64K LPA))
REF_BLOCKS = {(12, False): {1, 2}, (12, True): {0, 1, 2}, (14, False): {2}, (14, True): {1, 2},
              (16, False): {2}, (16, True): {1, 2}}


@dataclass
class Cfg:
    g: int
    ia_bits: int
    start: int
    base: int
    ds: bool = False
    lpa64: bool = False
    big: bool = False
    stage: int = 1

    @property
    def stride(self):
        return self.g - 3

    def lsb(self, level):
        return (3 - level) * self.stride + self.g

    def hi(self, desc):
        if self.ds:
            return ((desc >> 8) & 3) << 50 | ((desc >> 48) & 3) << 48
        if self.lpa64:
            return ((desc >> 12) & 0xF) << 48
        return 0


@dataclass
class Walk:
    level: int
    oa: int
    desc: int
    tables: list = field(default_factory=list)     # table descriptors passed


def ref_walk(cfg: Cfg, ia: int, read) -> Walk:
    """Walk ``ia`` (already reduced to ia_bits); raises RefFault('translation', level)."""
    assert 0 <= ia < 1 << cfg.ia_bits
    table, tables = cfg.base, []
    for level in range(cfg.start, 4):
        lsb = cfg.lsb(level)
        width = cfg.ia_bits - lsb if level == cfg.start else cfg.stride
        desc = read(table + 8 * ((ia >> lsb) & ((1 << width) - 1)))
        if not desc & 1:
            raise RefFault("translation", level)
        if level < 3 and desc & 2:
            tables.append(desc)
            table = (desc & M48 & ~((1 << cfg.g) - 1)) | cfg.hi(desc)
            continue
        if level == 3 and not desc & 2:
            raise RefFault("translation", level)
        if level < 3 and level not in REF_BLOCKS[(cfg.g, cfg.ds or cfg.lpa64)]:
            raise RefFault("translation", level)
        oa = (desc & M48 & ~((1 << lsb) - 1)) | cfg.hi(desc) | (ia & ((1 << lsb) - 1))
        return Walk(level, oa, desc, tables)
    raise AssertionError


def ref_leaves(cfg: Cfg, read):
    """Every leaf of a tree: (ia, level, desc)."""
    out = []

    def rec(table, level, prefix):
        lsb = cfg.lsb(level)
        n = 1 << (cfg.ia_bits - lsb if level == cfg.start else cfg.stride)
        for i in range(n):
            desc = read(table + 8 * i)
            ia = prefix | i << lsb
            if not desc & 1:
                continue
            if level < 3 and desc & 2:
                rec((desc & M48 & ~((1 << cfg.g) - 1)) | cfg.hi(desc), level + 1, ia)
            else:
                out.append((ia, level, desc))

    rec(cfg.base, cfg.start, 0)
    return out


def cfg_of(b: TableBuilder) -> Cfg:
    """Reference config from the builder's public attributes (not from its registers)."""
    return Cfg(g=b.g, ia_bits=b.ia_bits, start=b.start_level, base=b.root, ds=b.ds, lpa64=b.lpa64,
               big=b.big_endian, stage=b.stage)


def reader(b: TableBuilder):
    mem = RefMem(b.chunks())
    return lambda a: mem.read64(a, b.big_endian)


# ----- register-driven translation (both stages), for registers, two_stage and samples

_TG0 = {0b00: 12, 0b01: 16, 0b10: 14}
_TG1 = {0b10: 12, 0b11: 16, 0b01: 14}
_PS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52}
_S2_START = {12: {(0, 0): 2, (0, 1): 1, (0, 2): 0, (0, 3): 3, (1, 0): -1},
             14: {(0, 0): 3, (0, 1): 2, (0, 2): 1, (0, 3): 0},
             16: {(0, 0): 3, (0, 1): 2, (0, 2): 1}}


def _base(ttbr, ia_bits, start, g, fmt52):
    stride = g - 3
    tsize = ia_bits - ((3 - start) * stride + g) + 3
    if fmt52:
        tsize = max(tsize, 6)
        base = (ttbr & M48 & ~0x3F) | ((ttbr >> 2) & 0xF) << 48
    else:
        base = ttbr & M48 & ~1
    return base & ~((1 << tsize) - 1)


def s1_cfg(regs, va):
    tcr = regs["TCR_EL1"]
    parange = regs.get("ID_AA64MMFR0_EL1", 0) & 0xF
    upper = (va >> 55) & 1
    if upper:
        tsz, g, epd, ttbr = (tcr >> 16) & 0x3F, _TG1[(tcr >> 30) & 3], (tcr >> 23) & 1, regs.get("TTBR1_EL1", 0)
    else:
        tsz, g, epd, ttbr = tcr & 0x3F, _TG0[(tcr >> 14) & 3], (tcr >> 7) & 1, regs.get("TTBR0_EL1", 0)
    ia_bits = 64 - tsz
    top = va >> ia_bits
    if top != (((1 << (64 - ia_bits)) - 1) if upper else 0) or epd:
        raise RefFault("translation", 0)
    ds = bool((tcr >> 59) & 1) and g != 16
    ips = (tcr >> 32) & 7
    lpa64 = g == 16 and parange == 6
    start = 3 - (ia_bits - 1 - g) // (g - 3)
    base = _base(ttbr, ia_bits, start, g, ds or (lpa64 and ips == 6))
    big = bool((regs.get("SCTLR_EL1", 0) >> 25) & 1)
    return Cfg(g, ia_bits, start, base, ds, lpa64, big, 1), va & ((1 << ia_bits) - 1)


def s2_cfg(regs):
    vtcr = regs["VTCR_EL2"]
    g = _TG0[(vtcr >> 14) & 3]
    ia_bits = 64 - (vtcr & 0x3F)
    ds = bool((vtcr >> 32) & 1) and g != 16
    sl2 = ((vtcr >> 33) & 1) if ds else 0
    start = _S2_START[g][(sl2, (vtcr >> 6) & 3)]
    ps = (vtcr >> 16) & 7
    lpa64 = g == 16 and (regs.get("ID_AA64MMFR0_EL1", 0) & 0xF) == 6
    base = _base(regs["VTTBR_EL2"], ia_bits, start, g, ds or (lpa64 and ps == 6))
    big = bool((regs.get("SCTLR_EL2", 0) >> 25) & 1)
    return Cfg(g, ia_bits, start, base, ds, lpa64, big, 2)


def s1_perms(w: Walk, el: int, access: str) -> bool:
    d = w.desc
    ap, uxn, pxn = (d >> 6) & 3, (d >> 54) & 1, (d >> 53) & 1
    apt = uxnt = pxnt = 0
    for t in w.tables:
        apt |= (t >> 61) & 3
        uxnt |= (t >> 60) & 1
        pxnt |= (t >> 59) & 1
    pr, pw, ur, uw = 1, int(not ap & 2), ap & 1, int(ap == 0b01)
    if apt & 1:
        ur = uw = 0
    if apt & 2:
        pw = uw = 0
    ux = int(not (uxn or uxnt))
    px = int(not (pxn or pxnt or uw))
    r, wr, x = (ur, uw, ux) if el == 0 else (pr, pw, px)
    return {"r": r, "w": wr, "x": x}[access] == 1


def s2_perms(w: Walk, access: str) -> bool:
    s2ap, xn1 = (w.desc >> 6) & 3, (w.desc >> 54) & 1
    return {"r": s2ap & 1, "w": s2ap >> 1, "x": int(not xn1)}[access] == 1


def ref_translate(regs, chunks, va, access="r", el=1):
    """(PA, stage 1 leaf level or None); raises RefFault."""
    mem = RefMem(chunks)
    stage2 = bool(regs.get("HCR_EL2", 0) & 1)
    c2 = s2_cfg(regs) if stage2 else None

    def s2(ipa, s1ptw, acc):
        if ipa >> c2.ia_bits:
            raise RefFault("translation", 0, 2, s1ptw)
        try:
            w = ref_walk(c2, ipa, lambda a: mem.read64(a, c2.big))
        except RefFault as f:
            raise RefFault(f.kind, f.level, 2, s1ptw) from None
        if not (w.desc >> 10) & 1:
            raise RefFault("access_flag", w.level, 2, s1ptw)
        if not s2_perms(w, acc):
            raise RefFault("permission", w.level, 2, s1ptw)
        return w.oa

    level = None
    if regs.get("SCTLR_EL1", 0) & 1:
        c1, ia = s1_cfg(regs, va)
        rd = (lambda a: mem.read64(s2(a, True, "r"), c1.big)) if stage2 else (lambda a: mem.read64(a, c1.big))
        w = ref_walk(c1, ia, rd)
        if not (w.desc >> 10) & 1:
            raise RefFault("access_flag", w.level)
        if not s1_perms(w, el, access):
            raise RefFault("permission", w.level)
        ipa, level = w.oa, w.level
    else:
        ipa = va
    if stage2:
        return s2(ipa, False, access), level
    return ipa, level


# =========================================================================== worked examples (fact sheet §12)

def _indices(b: TableBuilder, va: int):
    """Per level: (table base, entry address) along the walk of va."""
    out = []
    for lv in b.levels:
        out.append(b.descriptor_address(va, lv))
    return out


def test_fact_sheet_4k_full_walk():
    b = TableBuilder(granule=4096, ia_bits=48, table_base=0x8000_0000)
    b.map(0x7FAB_C000_0000, 0xC000_0000, 1 << 30, S1Attrs(uxn=1))
    va = 0x0000_7FAB_CDEF_1234
    assert b.root == 0x8000_0000
    assert b.descriptor_address(va, 0) == 0x8000_07F8
    assert b.read(0x8000_07F8) == 0x0000_0000_8000_1003
    assert b.descriptor_address(va, 1) == 0x8000_1578
    assert b.read(0x8000_1578) == 0x0040_0000_C000_0701
    w = ref_walk(cfg_of(b), va, reader(b))
    assert (w.level, w.oa) == (1, 0xCDEF_1234)
    regs = b.registers()
    assert ref_translate(regs, b.chunks(), va) == (0xCDEF_1234, 1)


@pytest.mark.parametrize("kw, va, idx", [
    (dict(granule=4096, ia_bits=48), 0x0000_7FAB_CDEF_1234, [0xFF, 0xAF, 0x6F, 0xF1]),
    (dict(granule=4096, ia_bits=48), 0xFFFF_8000_1234_5678, [0x100, 0x000, 0x091, 0x145]),
    (dict(granule=4096, ia_bits=52, ds=True), 0x000F_ABCD_EF01_2345, [0xF, 0x157, 0x137, 0x178, 0x012]),
    (dict(granule=4096, ia_bits=39), 0x0000_0000_4020_1ABC, [0x1, 0x1, 0x1]),
    (dict(granule=16384, ia_bits=48), 0x0000_7FAB_CDEF_1234, [0x0, 0x7FA, 0x5E6, 0x7BC]),
    (dict(granule=16384, ia_bits=47), 0x0000_7FAB_CDEF_1234, [0x7FA, 0x5E6, 0x7BC]),
    (dict(granule=65536, ia_bits=48), 0x0000_7FAB_CDEF_1234, [0x1F, 0x1D5E, 0xDEF]),
])
def test_fact_sheet_indices(kw, va, idx):
    b = TableBuilder(**kw, table_base=0x8000_0000)
    assert len(b.levels) == len(idx)
    page = va & ~(b.granule - 1)
    b.map(page, 0x9000_0000, b.granule, min_leaf_level=3)
    addrs = _indices(b, va)
    # each entry address is its table base OR index*8; the table base is what the level above points at
    table = b.root
    for lv, (addr, i) in enumerate(zip(addrs, idx)):
        assert addr == table + 8 * i, (lv, hex(addr), hex(table), hex(i))
        desc = b.read(addr)
        if lv < len(idx) - 1:
            table = b.decode_table_address(desc)
    w = ref_walk(cfg_of(b), b._strip(va), reader(b))
    assert w.oa == 0x9000_0000 | (va & (b.granule - 1)) and w.level == 3


def test_fact_sheet_stage2_concatenation():
    b = TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=1, table_base=0x9000_0000)
    assert b.concat == 2 and b.root_entries == 1024 and b.root == 0x9000_0000
    b.map(0xAB_CDE1_2000, 0x1234_5000, 0x1000)
    assert b.descriptor_address(0xAB_CDE1_2345, 1) == 0x9000_1578
    regs = b.registers()
    vtcr = VTCR_EL2.decode(regs["VTCR_EL2"])
    assert (vtcr["T0SZ"], vtcr["SL0"], vtcr["SL2"], vtcr["TG0"], vtcr["RES1_31"]) == (24, 0b01, 0, 0b00, 1)
    assert VTTBR_EL2.decode(regs["VTTBR_EL2"])["BADDR"] << 1 == 0x9000_0000
    assert HCR_EL2.decode(regs["HCR_EL2"])["VM"] == 1 and HCR_EL2.decode(regs["HCR_EL2"])["RW"] == 1
    regs["SCTLR_EL1"] = 0
    assert ref_translate(regs, b.chunks(), 0xAB_CDE1_2345) == (0x1234_5345, None)


def test_concat_root_alignment():
    # root is aligned to the total concatenated size even if table_base is not
    b = TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=1, table_base=0x9000_1000)
    assert b.root == 0x9000_2000
    b = TableBuilder(stage=2, granule=4096, ia_bits=42, start_level=1, table_base=0x9000_1000)
    assert b.concat == 8 and b.root == 0x9000_8000
    b = TableBuilder(stage=2, granule=4096, ia_bits=34, concat=16, table_base=0x9000_0000)
    assert b.start_level == 2 and b.root_entries == 8192            # T0SZ=30: L2, 16 tables
    b = TableBuilder(stage=2, granule=4096, ia_bits=43, concat=16, table_base=0x9000_0000)
    assert b.start_level == 1 and b.root == 0x9000_0000             # T0SZ=21: L1, 16 tables, 64KB


# =========================================================================== descriptor fields

def test_s1_leaf_fields_decode():
    b = TableBuilder(granule=4096, ia_bits=48)
    a = S1Attrs(attr_indx=5, ap=0b11, sh=0b10, af=1, ng=1, uxn=1, pxn=1, contiguous=1, dbm=1, ns=1, sw=0b1010, gp=1)
    for level, oa in ((3, 0x1234_5000), (2, 0x4060_0000), (1, 0x8_4000_0000)):
        raw = b.leaf_descriptor(oa, level, a)
        lay = s1_leaf_layout(b._lsb(level), False, False, level < 3)
        d = lay.decode(raw)
        assert lay.undefined_bits(raw) == 0
        assert d["VALID"] == 1 and d["TYPE"] == (1 if level == 3 else 0)
        assert d["OA"] << lay["OA"].lsb == oa
        assert (d["AttrIndx"], d["AP"], d["SH"], d["AF"], d["nG"], d["UXN"], d["PXN"]) == (5, 3, 2, 1, 1, 1, 1)
        assert (d["Contiguous"], d["DBM"], d["NS"], d["SW"], d["GP"]) == (1, 1, 1, 0b1010, 1)


def test_s2_leaf_fields_decode():
    b = TableBuilder(stage=2, granule=16384, ia_bits=40)
    a = S2Attrs(memattr=0b0101, s2ap=0b10, sh=0b10, af=0, xn=0b11, fnxs=1, contiguous=1, dbm=1)
    raw = b.leaf_descriptor(0x2_0000_0000, 2, a)
    lay = s2_leaf_layout(25, False, False, True)
    d = lay.decode(raw)
    assert lay.undefined_bits(raw) == 0
    assert d["OA"] << 25 == 0x2_0000_0000 and d["TYPE"] == 0
    assert (d["MemAttr"], d["S2AP"], d["SH"], d["AF"], d["XN"], d["FnXS"], d["Contiguous"], d["DBM"]) == \
        (0b0101, 0b10, 0b10, 0, 0b11, 1, 1, 1)
    with pytest.raises(TypeError):
        b.leaf_descriptor(0, 3, S1Attrs())


def test_table_descriptor_fields():
    b = TableBuilder(granule=4096, ia_bits=48)
    raw = b.table_descriptor(0x1234_5000, TableAttrs(aptable=0b10, uxntable=1, pxntable=1, nstable=1))
    d = s1_table_layout(12, False, False).decode(raw)
    assert d["NLTA"] << 12 == 0x1234_5000 and (d["VALID"], d["TYPE"]) == (1, 1)
    assert (d["APTable"], d["UXNTable"], d["PXNTable"], d["NSTable"]) == (0b10, 1, 1, 1)
    # bit positions per fact sheet §4.2, checked independently
    assert raw == 0x1234_5000 | 3 | 0b10 << 61 | 1 << 60 | 1 << 59 | 1 << 63
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40)
    assert s2.table_descriptor(0x1234_5000) == 0x1234_5003
    with pytest.raises(ValueError):
        s2.table_descriptor(0x1234_5000, TableAttrs(aptable=1))
    assert s2_table_layout(12, False, False).decode(s2.table_descriptor(0x5000))["NLTA"] == 5


@pytest.mark.parametrize("granule", [4096, 16384])
def test_ds_address_split(granule):
    b = TableBuilder(granule=granule, ia_bits=52, ds=True)
    oa = 0xE_1234_5678_0000 & ~(granule - 1) | 0x1_0000_0000_0000      # OA[51:48] = 0xF
    raw = b.leaf_descriptor(oa, 3, S1Attrs(sh=0b10))
    lay = s1_leaf_layout(b.g, True, False, False)
    assert "SH" not in lay                             # bits 9:8 are OA[51:50] with DS
    d = lay.decode(raw)
    assert (d["OA_51_50"], d["OA_49_48"]) == (0b11, 0b11)
    assert (raw >> 8) & 3 == 0b11 and (raw >> 48) & 3 == 0b11
    assert b.decode_leaf_oa(raw, 3) == oa
    t = b.table_descriptor(0xA_0000_0000_0000 | 0x4000_0000)
    dt = s1_table_layout(b.g, True, False).decode(t)
    assert (dt["NLTA_51_50"], dt["NLTA_49_48"]) == (0b10, 0b10)
    assert b.decode_table_address(t) == 0xA_0000_4000_0000


def test_lpa64_address_split():
    b = TableBuilder(granule=65536, ia_bits=52, lpa=True)
    raw = b.leaf_descriptor(0xB_0000_2000_0000, 2)
    d = s1_leaf_layout(29, False, True, True).decode(raw)
    assert d["OA_51_48"] == 0xB and (raw >> 12) & 0xF == 0xB
    assert d["OA"] << 29 == 0x2000_0000
    # L1 4TB block legal only with LPA
    assert b.leaf_descriptor(0x4_0000_0000_0000, 1)
    nolpa = TableBuilder(granule=65536, ia_bits=48)
    with pytest.raises(ValueError):
        nolpa.leaf_descriptor(0, 1)
    with pytest.raises(ValueError):
        nolpa.leaf_descriptor(1 << 48, 3)          # no OA[51:48] without LPA


def test_block_levels_table():
    assert block_levels(12) == (1, 2) and block_levels(12, ds=True) == (0, 1, 2)
    assert block_levels(14) == (2,) and block_levels(14, ds=True) == (1, 2)
    assert block_levels(16) == (2,) and block_levels(16, lpa=True) == (1, 2)
    b = TableBuilder(granule=4096, ia_bits=52, ds=True)
    with pytest.raises(ValueError):
        b.leaf_descriptor(0, -1)                   # never at level -1


# =========================================================================== largest legal blocks

@pytest.mark.parametrize("kw, unit_level, want_level", [
    (dict(granule=4096, ia_bits=48), 0, 1),                  # 512GB: L1 blocks without DS
    (dict(granule=4096, ia_bits=52, ds=True), 0, 0),         # ... L0 block with DS
    (dict(granule=16384, ia_bits=48), 1, 2),                 # 64GB: L2 without DS
    (dict(granule=16384, ia_bits=52, ds=True), 1, 1),
    (dict(granule=65536, ia_bits=48), 1, 2),                 # 4TB: L2 without LPA
    (dict(granule=65536, ia_bits=52, lpa=True), 1, 1),
    (dict(stage=2, granule=4096, ia_bits=40, start_level=1), 1, 1),
])
def test_blocks_only_where_legal(kw, unit_level, want_level):
    b = TableBuilder(**kw)
    size = b.block_size(unit_level)
    b.map(size, 2 * size, size)
    leaves = ref_leaves(cfg_of(b), reader(b))
    assert {lv for _, lv, _ in leaves} == {want_level}
    assert len(leaves) == size // b.block_size(want_level)
    for ia, lv, desc in leaves:
        assert ref_walk(cfg_of(b), ia, reader(b)).oa == ia + size


def test_min_max_leaf_level():
    b = TableBuilder(granule=4096, ia_bits=39)
    b.map(0x4000_0000, 0x4000_0000, 0x20_0000, min_leaf_level=3)
    leaves = ref_leaves(cfg_of(b), reader(b))
    assert len(leaves) == 512 and all(lv == 3 for _, lv, _ in leaves)
    with pytest.raises(ValueError):
        b.map(0x8000_1000, 0x1000, 0x20_0000, max_leaf_level=2)   # cannot be a block
    b.map(0x8000_0000, 0x4000_0000, 0x4000_0000, max_leaf_level=2, min_leaf_level=2)
    assert sum(1 for _, lv, _ in ref_leaves(cfg_of(b), reader(b)) if lv == 2) == 512


# =========================================================================== random maps vs the reference

CONFIGS = [
    dict(granule=4096, ia_bits=48),
    dict(granule=4096, ia_bits=39),
    dict(granule=4096, ia_bits=52, ds=True),
    dict(granule=16384, ia_bits=47),
    dict(granule=16384, ia_bits=48),
    dict(granule=16384, ia_bits=52, ds=True),
    dict(granule=65536, ia_bits=42),
    dict(granule=65536, ia_bits=48),
    dict(granule=65536, ia_bits=52, lpa=True),
    dict(granule=4096, ia_bits=48, big_endian=True),
    dict(stage=2, granule=4096, ia_bits=40, start_level=1),
    dict(stage=2, granule=4096, ia_bits=52, ds=True),
    dict(stage=2, granule=16384, ia_bits=48),
    dict(stage=2, granule=65536, ia_bits=44, start_level=2, big_endian=True),
]


def _op(draw, b: TableBuilder, rnd_ap: int):
    """A map or unmap of: a few head pages + n blocks of some level + a few tail pages."""
    units = [lv for lv in b.levels if lv > b.start_level or b.root_entries >= 8]
    units = [lv for lv in units if b.block_size(lv) * 16 <= 1 << b.ia_bits]
    lv = draw(st.sampled_from(units))
    bs = b.block_size(lv)
    head = draw(st.integers(0, 3)) * b.granule
    tail = draw(st.integers(0, 3)) * b.granule
    n = draw(st.integers(0 if head + tail else 1, 2))
    size = head + n * bs + tail
    a = draw(st.integers(4, ((1 << b.ia_bits) - n * bs - tail) // bs))
    ia = a * bs - head
    u = max(bs, 1 << 21)
    oa = draw(st.integers(1, ((1 << b.oa_limit_bits) - n * bs - tail) // u - 1)) * u - head
    if draw(st.integers(0, 3)) == 0:
        return ("unmap", ia, size)
    return ("map", ia, oa, size, rnd_ap)


def _check_against_model(b, ops, rng):
    cfg, rd = cfg_of(b), reader(b)
    points = set()
    for op in ops:
        ia, size = op[1], op[-1] if op[0] == "unmap" else op[3]
        for p in (ia - b.granule, ia, ia + b.granule, ia + size // 2, ia + size - 8, ia + size):
            if 0 <= p < 1 << b.ia_bits:
                points.add(p)
        for _ in range(4):
            points.add(ia + rng.randrange(size))
    layout_fn = s1_leaf_layout if b.stage == 1 else s2_leaf_layout
    ap_name = "AP" if b.stage == 1 else "S2AP"
    for p in sorted(points):
        want = None
        for op in reversed(ops):
            lo, size = op[1], op[2] if op[0] == "unmap" else op[3]
            if lo <= p < lo + size:
                want = op
                break
        if want is None or want[0] == "unmap":
            with pytest.raises(RefFault):
                ref_walk(cfg, p, rd)
            assert b.lookup(p) is None
            continue
        _, lo, oa, size, ap = want
        w = ref_walk(cfg, p, rd)
        assert w.oa == oa + (p - lo), (hex(p), hex(w.oa), hex(oa + p - lo))
        lay = layout_fn(cfg.lsb(w.level), b.ds, b.lpa64, w.level < 3)
        assert lay.decode(w.desc)[ap_name] == ap
        assert lay.undefined_bits(w.desc) == 0
        assert b.lookup(p)[2] == w.oa


def _check_maximal(b, ia, oa, size):
    """After a single map on a fresh builder, no leaf could have been a larger legal block."""
    legal = REF_BLOCKS[(b.g, b.ds or b.lpa64)]
    for lia, lv, _ in ref_leaves(cfg_of(b), reader(b)):
        assert lv == 3 or lv in legal
        for big in legal:
            if big >= lv or big < b.start_level:
                continue
            bs = b.block_size(big)
            r = lia & ~(bs - 1)
            if r >= ia and r + bs <= ia + size and not (r - ia + oa) & (bs - 1):
                pytest.fail(f"leaf {lia:#x} at L{lv} could be an L{big} block")


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_maps_match_reference(kw, data):
    b = TableBuilder(**kw)
    ops = []
    nops = data.draw(st.integers(1, 4))
    for i in range(nops):
        op = _op(data.draw, b, data.draw(st.integers(0, 3)))
        if op[0] == "map":
            _, ia, oa, size, ap = op
            attrs = S1Attrs(ap=ap) if b.stage == 1 else S2Attrs(s2ap=ap)
            b.map(ia, oa, size, attrs)
            if i == 0:
                _check_maximal(b, ia, oa, size)
        else:
            b.unmap(op[1], op[2])
        ops.append(op)
    _check_against_model(b, ops, random.Random(nops))


# =========================================================================== unmap

def test_unmap_splits_block_and_keeps_attributes():
    b = TableBuilder(granule=4096, ia_bits=48)
    a = S1Attrs(attr_indx=1, ap=0b11, ng=1, uxn=1, contiguous=0, sw=0b0101)
    b.map(0x4000_0000, 0x1_C000_0000, 1 << 30, a)
    assert b.lookup(0x4000_0000)[0] == 1
    b.unmap(0x4020_3000, 0x1000)
    cfg, rd = cfg_of(b), reader(b)
    with pytest.raises(RefFault) as e:
        ref_walk(cfg, 0x4020_3000, rd)
    assert e.value.level == 3
    for p, lvl in ((0x4020_2FF8, 3), (0x4020_4000, 3), (0x4000_0000, 2), (0x7FFF_FFF8, 2), (0x4021_0000, 3)):
        w = ref_walk(cfg, p, rd)
        assert w.oa == 0x1_C000_0000 + p - 0x4000_0000 and w.level == lvl
        lay = s1_leaf_layout(cfg.lsb(lvl), False, False, lvl < 3)
        d = lay.decode(w.desc)
        assert (d["AttrIndx"], d["AP"], d["nG"], d["UXN"], d["SW"], d["AF"]) == (1, 3, 1, 1, 0b0101, 1)
        assert lay.undefined_bits(w.desc) == 0


def test_unmap_whole_entries_and_holes():
    b = TableBuilder(granule=16384, ia_bits=47)
    b.map(0, 0x8000_0000, 0x400_0000, min_leaf_level=3)         # 2 x 32MB of pages
    b.unmap(0x200_0000, 0x200_0000)                              # exactly one level-2 entry
    with pytest.raises(RefFault) as e:
        ref_walk(cfg_of(b), 0x200_0000, reader(b))
    assert e.value.level == 2
    b.unmap(0x8000_0000, 0x4000)                                 # never mapped: no-op
    b.unmap(0, 0x4000)
    with pytest.raises(RefFault) as e:
        ref_walk(cfg_of(b), 0, reader(b))
    assert e.value.level == 3
    assert ref_walk(cfg_of(b), 0x4000, reader(b)).oa == 0x8000_4000
    with pytest.raises(ValueError):
        b.unmap(0x1000, 0x4000)                                  # not granule aligned


def test_map_over_existing_block_splits():
    b = TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=1)
    b.map(0, 0x4000_0000, 1 << 30, S2Attrs(s2ap=0b01))
    b.map(0x1000, 0x9999_0000, 0x1000, S2Attrs(s2ap=0b11))
    rd, cfg = reader(b), cfg_of(b)
    assert ref_walk(cfg, 0x1008, rd).oa == 0x9999_0008
    assert ref_walk(cfg, 0x2008, rd).oa == 0x4000_2008
    assert ref_walk(cfg, 0x3000_0000, rd).level == 2


# =========================================================================== set_descriptor and faults

def test_set_descriptor_fault_injection():
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x40_0000, 0x8000_0000, 0x2000)
    addr = b.set_descriptor(0x40_1000, 3, 0)
    assert addr == b.descriptor_address(0x40_1000, 3) == b.descriptor_address(0x40_0000, 3) + 8
    with pytest.raises(RefFault) as e:
        ref_walk(cfg_of(b), 0x40_1000, reader(b))
    assert e.value.level == 3
    # a block descriptor at level 0 without DS is not a block: Translation fault at level 0
    raw = (1 << 39) | 0x401                                       # valid, block, AF
    a0 = b.set_descriptor(0x80_0000_0000, 0, raw)
    assert a0 == b.root + 8 and b.read(a0) == raw
    with pytest.raises(RefFault) as e:
        ref_walk(cfg_of(b), 0x80_0000_0000, reader(b))
    assert e.value.level == 0
    # creating tables above a new entry
    a2 = b.set_descriptor(0x4000_0000_0000, 2, b.leaf_descriptor(0x1234_0000_0000 & ~((1 << 21) - 1), 2))
    assert b.descriptor_address(0x4000_0000_0000, 2) == a2
    assert ref_walk(cfg_of(b), 0x4000_0000_1000, reader(b)).level == 2
    with pytest.raises(LookupError):
        b.descriptor_address(0x5000_0000_0000, 3)


def test_attrs_af0_and_ttbr1_range():
    b = TableBuilder(granule=4096, ia_bits=48, table_base=0x4001_0000)
    b.map(0xFFFF_8000_0000_0000, 0x4000_0000, 0x1000, S1Attrs(af=0))
    regs = b.registers(ttbr=1)
    with pytest.raises(RefFault) as e:
        ref_translate(regs, b.chunks(), 0xFFFF_8000_0000_0010)
    assert (e.value.kind, e.value.level) == ("access_flag", 3)
    with pytest.raises(RefFault) as e:
        ref_translate(regs, b.chunks(), 0x10)                      # TTBR0 disabled: EPD0
    assert (e.value.kind, e.value.level) == ("translation", 0)
    with pytest.raises(ValueError):
        b.map(0xFFFF_0000_0000_0000 - 0x1000, 0, 0x1000)           # not a canonical 48-bit VA


# =========================================================================== registers

@pytest.mark.parametrize("granule, tg0, tg1", [(4096, 0b00, 0b10), (16384, 0b10, 0b01), (65536, 0b01, 0b11)])
def test_tcr_granule_encodings_and_merge(granule, tg0, tg1):
    lo = TableBuilder(granule=granule, ia_bits=48, table_base=0x4000_0000, table_limit=0x4010_0000)
    hi = TableBuilder(granule=granule, ia_bits=47, table_base=0x4010_0000)
    r0 = lo.registers(ttbr=0, asid=7)
    t = TCR_EL1.decode(r0["TCR_EL1"])
    assert (t["T0SZ"], t["TG0"], t["EPD0"], t["EPD1"], t["IPS"], t["DS"]) == (16, tg0, 0, 1, 0b101, 0)
    assert (t["IRGN0"], t["ORGN0"], t["SH0"]) == (1, 1, 3)
    assert TTBR.decode(r0["TTBR0_EL1"])["ASID"] == 7
    r = hi.registers(ttbr=1, regs=r0)
    t = TCR_EL1.decode(r["TCR_EL1"])
    assert (t["T0SZ"], t["T1SZ"], t["TG0"], t["TG1"], t["EPD0"], t["EPD1"]) == (16, 17, tg0, tg1, 0, 0)
    assert TTBR.decode(r["TTBR1_EL1"])["BADDR"] << 1 == hi.root
    assert TTBR.decode(r["TTBR0_EL1"])["BADDR"] << 1 == lo.root
    assert r["MAIR_EL1"] == DEFAULT_MAIR == 0xF0BB_0400_44FF
    assert SCTLR.decode(r["SCTLR_EL1"])["M"] == 1
    assert r["ID_AA64MMFR0_EL1"] == DEFAULT_ID_AA64MMFR0_EL1
    assert r0 is not r and "TTBR1_EL1" not in r0
    # both halves walk through the shared registers
    lo.map(0x1_0000, 0x8000_0000, lo.granule * 2)
    hi.map(0xFFFF_8000_0000_0000, 0x9000_0000, hi.granule)
    chunks = {**lo.chunks(), **hi.chunks()}
    assert ref_translate(r, chunks, 0x1_0000 + lo.granule + 4)[0] == 0x8000_0000 + lo.granule + 4
    assert ref_translate(r, chunks, 0xFFFF_8000_0000_0ABC)[0] == 0x9000_0ABC
    # overriding defaults
    r2 = lo.registers(regs={"MAIR_EL1": 0x44, "ID_AA64MMFR0_EL1": 5})
    assert r2["MAIR_EL1"] == 0x44 and r2["ID_AA64MMFR0_EL1"] == 5


def test_tcr_ds_mismatch_rejected():
    a = TableBuilder(granule=4096, ia_bits=52, ds=True)
    b = TableBuilder(granule=4096, ia_bits=48, table_base=0x5000_0000)
    with pytest.raises(ValueError):
        b.registers(ttbr=1, regs=a.registers())


@pytest.mark.parametrize("kw, fmt52", [
    (dict(granule=4096, ia_bits=52, ds=True), True),
    (dict(granule=16384, ia_bits=52, ds=True), True),
    (dict(granule=65536, ia_bits=52, lpa=True), True),
])
def test_52bit_ttbr_and_tables_above_2_48(kw, fmt52):
    base = 0xF_0000_4000_0000
    b = TableBuilder(**kw, table_base=base)
    assert b.ttbr52 == fmt52
    b.map(0xF_0000_0000_0000, 0xA_0000_0000_0000, b.granule * 3)
    regs = b.registers()
    t = TCR_EL1.decode(regs["TCR_EL1"])
    assert t["T0SZ"] == 12 and t["IPS"] == 0b110 and t["DS"] == int(b.ds)
    tt = TTBR_52.decode(regs["TTBR0_EL1"])
    assert tt["BADDR_51_48"] == 0xF and (tt["BADDR"] << 6) == base & M48
    pa, lvl = ref_translate(regs, b.chunks(), 0xF_0000_0000_0000 + b.granule + 0x18)
    assert (pa, lvl) == (0xA_0000_0000_0000 + b.granule + 0x18, 3)
    if b.g == 16:
        assert regs["ID_AA64MMFR2_EL1"] >> 16 & 0xF == 1       # VARange: 52-bit VA with 64KB


def test_48bit_ttbr_rejects_high_root():
    b = TableBuilder(granule=65536, ia_bits=48, lpa=True, pa_bits=48, table_base=1 << 48)
    with pytest.raises(ValueError):
        b.ttbr_value()


@pytest.mark.parametrize("kw, sl2, sl0, start", [
    (dict(granule=4096, ia_bits=40, start_level=1), 0, 0b01, 1),
    (dict(granule=4096, ia_bits=40), 0, 0b10, 0),
    (dict(granule=4096, ia_bits=30), 0, 0b00, 2),              # T0SZ=34
    (dict(granule=4096, ia_bits=52, ds=True), 1, 0b00, -1),
    (dict(granule=16384, ia_bits=48), 0, 0b10, 1),              # R_DXBSH: L1 with 2 tables
    (dict(granule=16384, ia_bits=48, ds=True), 0, 0b11, 0),
    (dict(granule=16384, ia_bits=36), 0, 0b01, 2),
    (dict(granule=65536, ia_bits=48), 0, 0b10, 1),
    (dict(granule=65536, ia_bits=42, start_level=2), 0, 0b01, 2),
])
def test_vtcr_start_level(kw, sl2, sl0, start):
    b = TableBuilder(stage=2, **kw)
    assert b.start_level == start
    v = VTCR_EL2.decode(b.registers()["VTCR_EL2"])
    assert (v["SL2"], v["SL0"], v["T0SZ"], v["DS"]) == (sl2, sl0, 64 - kw["ia_bits"], int(b.ds))
    assert s2_cfg({**b.registers()}).start == start
    if kw == dict(granule=16384, ia_bits=48):
        assert b.concat == 2


def test_bad_configurations():
    with pytest.raises(ValueError):
        TableBuilder(granule=65536, ds=True)
    with pytest.raises(ValueError):
        TableBuilder(granule=4096, ia_bits=52)                   # 52-bit VA with 4KB needs DS
    with pytest.raises(ValueError):
        TableBuilder(stage=2, granule=16384, ia_bits=48, start_level=0)
    with pytest.raises(ValueError):
        TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=2)   # would need 32 tables
    with pytest.raises(ValueError):
        TableBuilder(stage=1, granule=4096, ia_bits=40, start_level=1)
    with pytest.raises(ValueError):
        TableBuilder(stage=2, granule=4096, ia_bits=40, concat=3)
    b = TableBuilder(granule=4096, ia_bits=39)
    with pytest.raises(ValueError):
        b.map(0x1000, 0x2800, 0x1000)                            # OA not aligned
    with pytest.raises(ValueError):
        b.map(1 << 39, 0, 0x1000)                                # IA out of range
    with pytest.raises(ValueError):
        b.map(0, 1 << 48, 0x1000)                                # OA beyond 48 bits without DS
    small = TableBuilder(granule=4096, ia_bits=48, table_limit=0x4000_0000 + 3 * 4096)
    with pytest.raises(MemoryError):
        small.map(0, 0, 0x1000)                                  # needs root + 3 tables


# =========================================================================== big-endian

def test_big_endian_storage():
    b = TableBuilder(granule=16384, ia_bits=47, big_endian=True)
    b.map(0x4000, 0x8000_4000, 0x4000, S1Attrs(ap=0b01))
    addr = b.descriptor_address(0x4000, 3)
    raw = b.read(addr)
    off = addr - b.table_base
    assert bytes(b.chunks()[b.table_base][off:off + 8]) == raw.to_bytes(8, "big")
    assert raw & 3 == 3 and s1_leaf_layout(14, False, False, False).decode(raw)["AP"] == 1
    regs = b.registers()
    assert SCTLR.decode(regs["SCTLR_EL1"])["EE"] == 1
    assert ref_translate(regs, b.chunks(), 0x4010)[0] == 0x8000_4010
    le = TableBuilder(granule=16384, ia_bits=47)
    le.map(0x4000, 0x8000_4000, 0x4000, S1Attrs(ap=0b01))
    assert bytes(le.chunks()[le.table_base]) != bytes(b.chunks()[b.table_base])
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, big_endian=True)
    assert SCTLR.decode(s2.registers()["SCTLR_EL2"])["EE"] == 1


# =========================================================================== images, memory, two stages

def test_write_raw_and_merge(tmp_path):
    b = TableBuilder(granule=4096, ia_bits=48, table_base=0x4000_0000)
    b.map(0, 0x1000, 0x1000)
    base, size = b.write_raw(tmp_path / "t.img")
    data = (tmp_path / "t.img").read_bytes()
    assert base == 0x4000_0000 and size == len(data) == 4 * 4096
    assert data == bytes(b.chunks()[base])
    c = TableBuilder(granule=4096, ia_bits=48, table_base=0x4001_0000)
    c.map(0, 0x1000, 0x1000)
    mb, img = merge_chunks(b, c)
    assert mb == 0x4000_0000 and len(img) == 0x1_0000 + 4 * 4096
    assert write_image(tmp_path / "m.img", b, c) == (mb, len(img))
    with pytest.raises(ValueError):
        merge_chunks(b, b)


def test_memory_object():
    if importlib.util.find_spec("pgwalk.memory") is None:
        pytest.skip("pgwalk.memory not written yet")
    for big in (False, True):
        b = TableBuilder(granule=4096, ia_bits=48, big_endian=big)
        b.map(0, 0x1000, 0x1000)
        mem = b.memory()
        for lv in b.levels:
            addr = b.descriptor_address(0, lv)
            assert mem.read_u64(addr, big_endian=big) == b.read(addr)
    ts = two_stage(s2_table_pa=0x4000_0000, s1_table_ipa=0x8000_0000, s1_table_pa=0x4001_0000)
    ts.map(0, 0x1000, 0x1000, pa=0x2000)
    mem = ts.memory()
    assert mem.read_u64(0x4001_0000) == ts.s1.read(0x8000_0000)
    assert mem.read_u64(ts.s2.root) == ts.s2.read(ts.s2.root)


def test_two_stage_walk():
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40, s2_table_pa=0x4000_0000, s1_table_ipa=0x8000_0000,
                   s1_table_pa=0x4001_0000, pa_bits=40, s2_start_level=1)
    ts.map(0x40_0000, 0x1000_0000, 0x2000, S1Attrs(ap=0b01), pa=0x6000_0000)
    ts.map(0x60_0000, 0x1040_0000, 0x20_0000, pa=0x6040_0000)
    ts.map(0x40_3000, 0x2000_0000, 0x1000)
    regs = ts.registers()
    chunks = ts.chunks()
    assert set(chunks) == {0x4000_0000, 0x4001_0000}
    assert TTBR.decode(regs["TTBR0_EL1"])["BADDR"] << 1 == 0x8000_0000       # an IPA
    assert HCR_EL2.decode(regs["HCR_EL2"])["VM"] == 1
    assert TCR_EL1.decode(regs["TCR_EL1"])["IPS"] == 0b010                  # 40-bit IPA
    assert ref_translate(regs, chunks, 0x40_1234, "w", 0) == (0x6000_1234, 3)
    assert ref_translate(regs, chunks, 0x6A_BCDE) == (0x604A_BCDE, 2)
    with pytest.raises(RefFault) as e:
        ref_translate(regs, chunks, 0x40_3000)
    assert (e.value.stage, e.value.s1ptw, e.value.level) == (2, False, 2)
    # the stage 1 tables are really read through stage 2: break the S2 mapping of the S1 root
    ts.s2.unmap(0x8000_0000, 0x1000)
    with pytest.raises(RefFault) as e:
        ref_translate(regs, ts.chunks(), 0x40_1234)
    assert (e.value.stage, e.value.s1ptw, e.value.level) == (2, True, 3)


# =========================================================================== samples

def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def make_samples():
    return _load_make_samples()


def test_samples_are_up_to_date(make_samples):
    files = make_samples.outputs(make_samples.build_all())
    for name, data in files.items():
        path = SAMPLES / name
        assert path.exists(), f"run python samples/make_samples.py ({name} missing)"
        assert path.read_bytes() == data, f"{name} is stale: run python samples/make_samples.py"
        if name.endswith(".img"):
            assert len(data) < 300 * 1024


def _load_sample(name):
    obj = json.loads((SAMPLES / f"{name}.regs.json").read_text())
    img_name, base = obj["_image"].split("@")
    assert img_name == f"{name}.img"
    regs = {k: int(v, 16) for k, v in obj.items() if not k.startswith("_")}
    return regs, {int(base, 16): (SAMPLES / img_name).read_bytes()}


SAMPLE_NAMES = ["s1_4k_48bit", "s1_16k", "s1_64k", "lpa2_52bit_4k", "s2_concat", "two_stage"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_probes(make_samples, name):
    regs, chunks = _load_sample(name)
    (sample,) = [s for s in make_samples.build_all() if s.name == name]
    assert sample.probes
    for p in sample.probes:
        if p.fault is None:
            pa, level = ref_translate(regs, chunks, p.addr, p.access, p.el)
            assert pa == p.pa, (name, hex(p.addr), hex(pa))
            if level is not None:
                assert level == p.level, (name, hex(p.addr))
        else:
            with pytest.raises(RefFault) as e:
                ref_translate(regs, chunks, p.addr, p.access, p.el)
            got = (e.value.kind, e.value.level, e.value.stage, e.value.s1ptw)
            assert got == (p.fault, p.level, p.stage, p.s1ptw), (name, hex(p.addr), got)


def test_sample_registers():
    regs, _ = _load_sample("lpa2_52bit_4k")
    t = TCR_EL1.decode(regs["TCR_EL1"])
    assert (t["T0SZ"], t["DS"], t["IPS"]) == (12, 1, 0b110)
    regs, _ = _load_sample("s2_concat")
    v = VTCR_EL2.decode(regs["VTCR_EL2"])
    assert (v["T0SZ"], v["SL0"]) == (24, 0b01) and regs["SCTLR_EL1"] == 0
    regs, _ = _load_sample("s1_4k_48bit")
    t = TCR_EL1.decode(regs["TCR_EL1"])
    assert (t["T0SZ"], t["T1SZ"], t["TG0"], t["TG1"], t["IPS"]) == (16, 16, 0b00, 0b10, 0b101)
    assert "TTBR0_EL1" in regs and "TTBR1_EL1" in regs
