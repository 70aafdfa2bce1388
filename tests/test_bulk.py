"""The vectorised walker (pgwalk.bulk) against the scalar walker, lane by lane.

The reference is :func:`pgwalk.walk.translate`: for every address the bulk
result must be the same translation -- output addresses, fault (type, level,
stage, S1PTW, IPA, not in image), leaves, final attributes, notes -- and the
same bulk JSON object and PAR_EL1.  Trees are random (:mod:`pgwalk.builder`):
every granule, DS (level -1), 64KB LPA, big-endian tables, stage 2 with
concatenated tables, two stages, other regimes, with planted invalid,
reserved, illegal-block, AF = 0, out-of-image, beyond-output-size and random
descriptors, register tweaks (TBI, HPD, HA/HD, EPD/E0PD, WXN, PAN, bad TxSZ,
TTBR beyond the output size), and addresses that are mapped, unmapped, out of
range and tagged.  Then the real Linux dump, and the CLI.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwalk.at import at
from pgwalk.builder import S1Attrs, S2Attrs, TableAttrs, TableBuilder, two_stage
from pgwalk.at_many import bulk_at
from pgwalk.bulk import FAULT_TYPES, DescriptorReader, bulk_line_dict, iter_translate, translate_many
from pgwalk.lines import LineFormatter
from pgwalk.values import parse_address_text
from pgwalk.cli import main
from pgwalk.formats.registers import HCR_EL2, SCTLR, TCR_EL1, TCR_EL2_E2H0, TCR_EL3, TTBR
from pgwalk.memory import BytesBacking, PhysicalMemory, Region
from pgwalk.images import open_image
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access
from pgwalk.report import csv_line, csv_row
from pgwalk.reverse import reverse_map
from pgwalk.walk import translate
from cli_helpers import run, sample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_data import linux_registers, linux_translations, linux_vmcore_elf  # noqa: E402

M64 = (1 << 64) - 1
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ACCESSES = [None, Access.READ, Access.WRITE, Access.EXEC, Access.ANY]
SETTINGS = dict(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _undefined_empty(monkeypatch):
    """``np.empty``'s contents are undefined: here every byte is 0xA5, so that a result array an
    engine claims to write in every lane (``_Engine.WRITES``, allocated unzeroed) but leaves
    unwritten somewhere shows as a stale value (:func:`assert_canonical`, the scalar comparison)."""
    real = np.empty

    def empty(*args, **kwargs):
        a = real(*args, **kwargs)
        if a.flags.c_contiguous and a.dtype != object:
            a.reshape(-1).view(np.uint8).fill(0xA5)
        return a

    monkeypatch.setattr(np, "empty", empty)


# --------------------------------------------------------------------------- the comparison

def _fault_key(f):
    return None if f is None else (f.type, f.level, f.stage, f.s1ptw, f.ipa, f.not_in_image)


def assert_same(setup, mem, vas, *, stages=None, access=None, el=1, pan=False, chunk=None, par_ops=()):
    """Every lane of the bulk walk equals the scalar walk of that address."""
    vas = [v & M64 for v in vas]
    kw = dict(stages=stages, access=access, el=el, pan=pan)
    res = translate_many(setup, mem, np.array(vas, dtype=np.uint64), chunk=chunk or 64, **kw)
    assert len(res) == len(vas)
    lines = LineFormatter("json").format(res).decode().splitlines()
    rows = LineFormatter("csv").format(res).decode().splitlines()
    for i, va in enumerate(vas):
        t = translate(setup, mem, va, **kw)
        b = res.translation(i)
        want = (t.ipa, t.pa, _fault_key(t.fault), t.s1, t.s2, t.attrs, t.notes, t.s1_disabled, t.output)
        got = (b.ipa, b.pa, _fault_key(b.fault), b.s1, b.s2, b.attrs, b.notes, b.s1_disabled, b.output)
        assert got == want, (hex(va), kw, t.fault, want, got)
        assert bool(res.ok[i]) == t.ok
        if t.fault is not None:
            assert FAULT_TYPES[res.fault_type[i]] is t.fault.type and int(res.fsc[i]) == t.fault.fsc
        d = bulk_line_dict(t, wxn=setup.wxn, epan=setup.epan)
        assert lines[i] == json.dumps(d), (hex(va), lines[i])
        assert rows[i] + "\n" == csv_line(csv_row(d))
    assert_canonical(res)
    for op in par_ops:
        ba = bulk_at(setup, mem, op, np.array(vas, dtype=np.uint64), pan=pan)
        for i, va in enumerate(vas):
            a = at(setup, mem, op, va, pan=pan)
            assert bool(ba.exception[i]) == (a.par is None), (op, hex(va))
            if a.par is not None:
                assert int(ba.par[i]) == a.par, (op, hex(va), hex(a.par), hex(int(ba.par[i])))
    return res


def assert_canonical(res):
    """A field a lane has no value for is zero in its array (nothing stale is left there): the
    fault fields where the lane translates, the stage 1 leaf fields where it has no stage 1
    leaf, and the IPA where the stage 1 walk faulted."""
    ok = res.ok
    for name in ("fault_level", "fault_stage", "not_in_image", "perm_kind", "s1ptw", "fault_ipa"):
        assert not getattr(res, name)[ok].any(), name
    no_s1 = res.s1_shift == 0
    for name in ("s1_desc", "s1_level", "s1_table_bits"):
        assert not getattr(res, name)[no_s1].any(), name
    s1_fault = ~ok & ((res.fault_stage == 1) | res.s1ptw)
    assert not res.s1_shift[s1_fault].any()
    if res.stages != "2" and not res.s1_disabled:
        assert not res.ipa[s1_fault].any()


# --------------------------------------------------------------------------- random trees

def _granule_config(draw):
    granule = draw(st.sampled_from([4096, 16384, 65536]))
    g = granule.bit_length() - 1
    wide = draw(st.booleans())
    ds = wide and g != 16
    lpa = wide and g == 16
    max_ia = 52 if wide else 48
    min_ia = 25 if g != 16 else 22
    ia = draw(st.integers(min_ia, max_ia))
    return granule, g, ds, lpa, ia


def _mapper(rng, b, oa_bits, n, *, stage, upper=False, sizes_from=None):
    """Map ``n`` random ranges; returns [(ia, size)]."""
    mapped = []
    top = (M64 & ~((1 << b.ia_bits) - 1)) if upper else 0
    for _ in range(n):
        level = rng.choice(b.leaf_levels())
        size = b.block_size(level)
        if size > 1 << (b.ia_bits - 1):
            continue
        ia = rng.randrange(0, 1 << b.ia_bits) & ~(size - 1)
        oa_limit = min(oa_bits + 1, b.oa_limit_bits)          # sometimes beyond the output size
        oa = rng.randrange(0, 1 << oa_limit) & ~(size - 1)
        if stage == 1:
            attrs = S1Attrs(attr_indx=rng.randrange(6), ap=rng.randrange(4), sh=rng.choice([0, 2, 3]),
                            af=int(rng.random() > 0.15), ng=rng.randrange(2), uxn=rng.randrange(2),
                            pxn=rng.randrange(2), dbm=rng.randrange(2), contiguous=rng.randrange(2))
            tattrs = TableAttrs(aptable=rng.randrange(4), uxntable=rng.randrange(2), pxntable=rng.randrange(2)) \
                if rng.random() < 0.3 else None
        else:
            attrs = S2Attrs(memattr=rng.choice([0b1111, 0b0001, 0b0101, 0b1010, 0b0000, 0b0100]),
                            s2ap=rng.randrange(4), sh=rng.choice([0, 2, 3]), af=int(rng.random() > 0.15),
                            xn=rng.randrange(4), fnxs=rng.randrange(2), dbm=rng.randrange(2))
            tattrs = None
        try:
            b.map(top | ia, oa, size, attrs, table_attrs=tattrs, min_leaf_level=level, max_leaf_level=level)
        except (ValueError, MemoryError):
            continue
        mapped.append((top | ia, size))
    return mapped


def _plant(rng, b, mapped, n, oa_bits):
    """Faulty descriptors at random places of the walks of mapped addresses."""
    for _ in range(n):
        if not mapped:
            return
        ia, size = rng.choice(mapped)
        ia |= rng.randrange(size) & ~7
        level = rng.choice(list(b.levels))
        kind = rng.randrange(8)
        if kind == 0:
            raw = rng.getrandbits(64) & ~1                                # invalid
        elif kind == 1:
            raw = 0b01 if level == 3 else b.table_descriptor(0x7F00_0000)  # reserved / out of image
        elif kind == 2:
            raw = 0b01 | (rng.getrandbits(40) << 21)                       # block, legal or not
        elif kind == 3 and oa_bits < 48:
            raw = b.table_descriptor(1 << (oa_bits + 1)) if level < 3 else 0  # NLTA beyond the OA size
        elif kind == 4:
            raw = rng.getrandbits(64)                                     # anything
        elif kind == 5 and level < 3:
            raw = b.table_descriptor(b.table_base)                        # loops back to the root
        else:
            continue
        try:
            b.set_descriptor(ia, level, raw)
        except (ValueError, MemoryError, LookupError):
            continue


def _addresses(rng, mapped, ia_bits, n, *, upper=False):
    out = [0, (1 << ia_bits) - 1, 1 << ia_bits, M64, M64 & ~((1 << ia_bits) - 1)]
    for ia, size in mapped:
        out.append(ia)
        out.append(ia + size - 8)
    while len(out) < n:
        r = rng.random()
        if mapped and r < 0.65:
            ia, size = rng.choice(mapped)
            va = ia + rng.randrange(size)
        elif r < 0.8:
            va = rng.randrange(1 << ia_bits)
            if upper and rng.random() < 0.5:
                va |= M64 & ~((1 << ia_bits) - 1)
        elif r < 0.9 and mapped:
            ia, size = rng.choice(mapped)
            va = (ia + rng.randrange(size)) & ~(0xFF << 56) | (rng.randrange(256) << 56)   # tagged
        else:
            va = rng.getrandbits(64)
        out.append(va)
    return out


def _memory(rng, chunks, kind):
    if kind == "buffers":
        return PhysicalMemory.from_buffers(chunks)
    # sparse words over one RAM window: the read_u64 path of DescriptorReader
    words = {}
    lo = min(chunks)
    hi = max(b + len(c) for b, c in chunks.items())
    for base, data in chunks.items():
        for off in range(0, len(data) - 7, 8):
            v = int.from_bytes(data[off:off + 8], "little")
            if v:
                words[base + off] = v
    return PhysicalMemory.from_words(words, (lo, (hi + 7) & ~7))


@settings(**SETTINGS)
@given(st.data())
def test_stage1_random_trees(data):
    granule, g, ds, lpa, ia = _granule_config(data.draw)
    seed = data.draw(st.integers(0, 2 ** 32))
    rng = random.Random(seed)
    pa_bits = data.draw(st.sampled_from([40, 48, 52] if (ds or lpa) else [40, 48]))
    big = data.draw(st.booleans())
    lo = TableBuilder(granule=granule, ia_bits=ia, ds=ds, lpa=lpa, pa_bits=pa_bits, big_endian=big,
                      table_base=0x4000_0000)
    hi = TableBuilder(granule=granule, ia_bits=ia, ds=ds, lpa=lpa, pa_bits=pa_bits, big_endian=big,
                      table_base=0x4800_0000)
    mapped = _mapper(rng, lo, lo.pa_bits, rng.randrange(1, 12), stage=1)
    mapped += _mapper(rng, hi, hi.pa_bits, rng.randrange(0, 8), stage=1, upper=True)
    _plant(rng, lo, [m for m in mapped if not m[0] >> 63], rng.randrange(0, 6), lo.pa_bits)
    _plant(rng, hi, [m for m in mapped if m[0] >> 63], rng.randrange(0, 4), hi.pa_bits)
    regs = hi.registers(ttbr=1, regs=lo.registers(ttbr=0))
    tcr = regs["TCR_EL1"]
    for name in ("HA", "HD", "HPD0", "HPD1", "TBI0", "TBI1", "TBID0", "TBID1", "E0PD0", "E0PD1"):
        if data.draw(st.booleans()):
            tcr = TCR_EL1[name].put(tcr, 1)
    if data.draw(st.integers(0, 9)) == 0:
        tcr = TCR_EL1["EPD1"].put(tcr, 1)
    if data.draw(st.integers(0, 19)) == 0:
        tcr = TCR_EL1["T0SZ"].put(tcr, 10)                                # below the minimum
    regs["TCR_EL1"] = tcr
    if data.draw(st.integers(0, 14)) == 0 and pa_bits < 48:
        regs["TTBR0_EL1"] = TTBR["BADDR"].put(regs["TTBR0_EL1"], (1 << 46) >> 1)   # beyond the OA size
    sctlr = regs["SCTLR_EL1"]
    if data.draw(st.booleans()):
        sctlr = SCTLR["WXN"].put(sctlr, 1)
    if data.draw(st.booleans()):
        sctlr = SCTLR["EPAN"].put(sctlr, 1)
    regs["SCTLR_EL1"] = sctlr
    setup = setup_from_registers(regs)
    chunks = {**lo.chunks(), **hi.chunks()}
    mem = _memory(rng, chunks, data.draw(st.sampled_from(["buffers", "buffers", "words"])))
    vas = _addresses(rng, mapped, ia, 120, upper=True)
    access = data.draw(st.sampled_from(ACCESSES))
    el = data.draw(st.sampled_from([0, 1]))
    pan = data.draw(st.booleans())
    assert_same(setup, mem, vas, access=access, el=el, pan=pan, par_ops=["S1E1R", "S1E0W", "S1E1WP"][:1 + seed % 3])


@settings(**SETTINGS)
@given(st.data())
def test_stage2_random_trees_with_concatenation(data):
    granule, g, ds, lpa, _ia = _granule_config(data.draw)
    seed = data.draw(st.integers(0, 2 ** 32))
    rng = random.Random(seed)
    stride = g - 3
    ia = data.draw(st.integers(30, 52 if (ds or lpa) else 48))
    b = None
    for start in sorted({3 - (ia - 1 - g) // stride, 3 - (ia - 1 - g) // stride + 1}):
        try:
            b = TableBuilder(stage=2, granule=granule, ia_bits=ia, ds=ds, lpa=lpa, start_level=start,
                             pa_bits=52 if (ds or lpa) else 48, big_endian=data.draw(st.booleans()))
            break
        except ValueError:
            continue
    if b is None:
        return
    mapped = _mapper(rng, b, b.pa_bits, rng.randrange(1, 12), stage=2)
    _plant(rng, b, mapped, rng.randrange(0, 5), b.pa_bits)
    regs = b.registers()
    regs["SCTLR_EL1"] = 0                                                 # stage 1 off: flat + stage 2
    regs["TCR_EL1"] = 0
    if data.draw(st.booleans()):
        from pgwalk.formats.registers import VTCR_EL2
        regs["VTCR_EL2"] = VTCR_EL2["HA"].put(regs["VTCR_EL2"], 1)
    setup = setup_from_registers(regs)
    mem = _memory(rng, b.chunks(), "buffers")
    vas = _addresses(rng, mapped, ia, 100)
    access = data.draw(st.sampled_from(ACCESSES))
    el = data.draw(st.sampled_from([0, 1]))
    for stages in ("2", "12"):
        assert_same(setup, mem, vas, stages=stages, access=access, el=el)


@settings(**SETTINGS)
@given(st.data())
def test_two_stages_random(data):
    granule = data.draw(st.sampled_from([4096, 16384, 65536]))
    seed = data.draw(st.integers(0, 2 ** 32))
    rng = random.Random(seed)
    ts = two_stage(granule=granule, va_bits=data.draw(st.sampled_from([39, 42, 48])), ipa_bits=40,
                   big_endian=data.draw(st.booleans()), s1_table_pa=0x4010_0000,
                   s1_table_size=0x80000 if granule == 65536 else 0x20000)
    s1, s2 = ts.s1, ts.s2
    mapped = []
    for _ in range(rng.randrange(1, 8)):
        size = granule
        va = rng.randrange(1 << s1.ia_bits) & ~(size - 1)
        ipa = rng.randrange(1 << 39) & ~(size - 1)
        if s1.table_base <= ipa < s1.table_base + ts.s1_table_size:
            continue
        pa = rng.randrange(1 << 40) & ~(size - 1) if rng.random() < 0.8 else None
        try:
            ts.map(va, ipa, size, S1Attrs(ap=rng.randrange(4), attr_indx=rng.randrange(6)), pa=pa,
                   s2_attrs=S2Attrs(s2ap=rng.randrange(4), memattr=rng.choice([0b1111, 0b0001, 0b0101]),
                                    xn=rng.randrange(4)))
        except (ValueError, MemoryError):
            continue
        mapped.append((va, size))
    # stage 1 table descriptors pointing at IPAs stage 2 does not map (S1PTW faults)
    for _ in range(rng.randrange(0, 3)):
        if mapped:
            va, _size = rng.choice(mapped)
            level = rng.choice([lv for lv in s1.levels if lv < 3])
            try:
                s1.set_descriptor(va, level, s1.table_descriptor(0x90_0000_0000 & ((1 << 40) - 1) | 0x1000))
            except (ValueError, LookupError, MemoryError):
                pass
    regs = ts.registers()
    if data.draw(st.booleans()):
        regs["HCR_EL2"] = HCR_EL2["PTW"].put(regs["HCR_EL2"], 1)
    if data.draw(st.booleans()):
        regs["HCR_EL2"] = HCR_EL2["FWB"].put(regs["HCR_EL2"], 1)
    if data.draw(st.integers(0, 3)) == 0:
        # the stage 1 tables in stage 2 memory that denies reads, or is Device
        s2.map(s1.table_base, ts.s1_table_pa, ts.s1_table_size,
               S2Attrs(s2ap=rng.randrange(4), memattr=rng.choice([0b0001, 0b1111])))
    setup = setup_from_registers(regs)
    mem = ts.memory()
    vas = _addresses(rng, mapped, s1.ia_bits, 100)
    access = data.draw(st.sampled_from(ACCESSES))
    for stages in ("1", "12"):
        assert_same(setup, mem, vas, stages=stages, access=access, el=data.draw(st.sampled_from([0, 1])),
                    par_ops=["S12E1R", "S1E1W"] if stages == "12" else ())


# --------------------------------------------------------------------------- fixed cases

def test_level_minus_1_lpa2_and_64k_lpa():
    rng = random.Random(3)
    for kw in (dict(granule=4096, ds=True), dict(granule=16384, ds=True), dict(granule=65536, lpa=True)):
        b = TableBuilder(ia_bits=52, pa_bits=52, **kw)
        b.map(0xA_0000_0000_0000, 0xF_1234_5670_0000 & ~(b.granule - 1), b.granule)
        b.map(0xB_0000_0000_0000, 0x8_0000_0000_0000, b.block_size(2))
        mapped = [(0xA_0000_0000_0000, b.granule), (0xB_0000_0000_0000, b.block_size(2))]
        res = assert_same(setup_from_registers(b.registers()), b.memory(), _addresses(rng, mapped, 52, 80))
        assert res.ok.any()


def test_other_regimes_el2_el3_el20():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b10, uxn=1))
    b.map(0x2000, 0x8000_1000, 0x1000, S1Attrs(ap=0b00))
    r = b.registers()
    mem = b.memory()
    vas = [0x1000, 0x2008, 0x3000, 0xFFFF_0000_0000_1000, 0x5A00_0000_0000_1000]
    for el, layout, regime in ((2, TCR_EL2_E2H0, Regime.EL2), (3, TCR_EL3, Regime.EL3)):
        regs = {f"TCR_EL{el}": layout.encode(T0SZ=16, TG0=0, PS=5, RES1_23=1, RES1_31=1),
                f"TTBR0_EL{el}": r["TTBR0_EL1"], f"SCTLR_EL{el}": 1, f"MAIR_EL{el}": r["MAIR_EL1"]}
        setup = setup_from_registers(regs, regime)
        for access in ACCESSES:
            assert_same(setup, mem, vas, access=access, el=el)
    regs = {"TCR_EL2": r["TCR_EL1"], "TTBR0_EL2": r["TTBR0_EL1"], "SCTLR_EL2": 1, "MAIR_EL2": r["MAIR_EL1"],
            "HCR_EL2": HCR_EL2.encode(E2H=1, TGE=1)}
    assert_same(setup_from_registers(regs, Regime.EL20), mem, vas, access=Access.READ, el=0)


def test_mmu_off_flat_and_pamax():
    setup = setup_from_registers({"SCTLR_EL1": 0, "TCR_EL1": 0})
    for access in (None, Access.EXEC):
        res = assert_same(setup, PhysicalMemory(), [0, 0x1234_5678, 1 << 52, M64, 0xFF00_0000_0000_1000],
                          access=access)
    assert res.s1_disabled and not res.ok[2]


def test_descriptor_outside_the_image_and_multiple_regions(tmp_path):
    b = TableBuilder(table_base=0x4000_0000)
    b.map(0x1000, 0x8000_0000, 0x1000)
    b.map(0x20_0000, 0x9000_0000, 0x20_0000, min_leaf_level=3)
    b.set_descriptor(0x1000, 2, b.table_descriptor(0x7000_0000))          # nowhere
    base, _size = b.write_raw(tmp_path / "t.img")
    mem = open_image(f"{tmp_path / 't.img'}@{base:#x}")                     # mmap-backed view
    vas = [0x1000, 0x20_1234, 0x3F_FFF8, 0x40_0000]
    res = assert_same(setup_from_registers(b.registers()), mem, vas)
    assert res.not_in_image[0] and FAULT_TYPES[res.fault_type[0]].name == "SYNC_EXTERNAL_ON_WALK"
    # the same tables split over two regions with a hole between them
    buf = bytes(b.chunks()[b.table_base])
    cut = len(buf) // 2 & ~0xFFF
    mem2 = PhysicalMemory.from_buffers({b.table_base: buf[:cut], b.table_base + cut + 0x1000: buf[cut + 0x1000:]})
    assert_same(setup_from_registers(b.registers()), mem2, vas + [0x20_0000 + k * 0x1000 for k in range(512)])


def test_reader_matches_read_u64():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    mem = PhysicalMemory.from_buffers({0x4000_0000: bytes(b.chunks()[0x4000_0000]), 0x10: b"\x01" * 20})
    rd = DescriptorReader(mem)
    pa = np.array([0x4000_0000, 0x4000_0008, 0x10, 0x18, 0x20, 0x3FFF_FFF8, 1 << 60], dtype=np.uint64)
    for be in (False, True):
        val, present = rd.read(pa, be)
        for i, a in enumerate(pa.tolist()):
            if mem.contains(a, 8):
                assert present is None or present[i]
                assert int(val[i]) == mem.read_u64(a, be)
            else:
                assert present is not None and not present[i]


def test_reader_on_bytes_not_8_aligned_in_memory():
    """A region whose bytes sit at an address that is not a multiple of 8 (an ELF segment at an odd
    file offset, as in the shared Linux dump) is read as any other."""
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    data = bytes(b.chunks()[0x4000_0000])
    region = Region(0x4000_0000, len(data), "<memory>", 4, "memory")      # 4 bytes into its backing
    mem = PhysicalMemory([(region, BytesBacking(bytes(4) + data))])
    assert mem.numpy_view(region).ctypes.data % 8 == 4
    rd = DescriptorReader(mem)
    pa = np.arange(0x4000_0000, 0x4000_0000 + len(data), 8, dtype=np.uint64)
    for be in (False, True):
        val, present = rd.read(pa, be)
        assert present is None
        assert val.tolist() == [mem.read_u64(a, be) for a in pa.tolist()]
    assert_same(setup_from_registers(b.registers()), mem, [0x1000, 0x1008, 0x2000])


def test_chunks_and_blocks_do_not_change_results():
    rng = random.Random(9)
    b = TableBuilder()
    mapped = _mapper(rng, b, 48, 20, stage=1)
    setup, mem = setup_from_registers(b.registers()), b.memory()
    vas = np.array(_addresses(rng, mapped, 48, 3000), dtype=np.uint64)
    whole = translate_many(setup, mem, vas, chunk=1 << 20)
    small = translate_many(setup, mem, vas, chunk=7)
    parts = list(iter_translate(setup, mem, vas, block=1000, chunk=333))
    for name in ("ipa", "pa", "fault_type", "fault_level", "s1_desc", "s1_shift", "s1_table_bits"):
        assert (getattr(whole, name) == getattr(small, name)).all(), name
        assert (np.concatenate([getattr(p, name) for p in parts]) == getattr(whole, name)).all(), name
    f = LineFormatter("json")
    assert b"".join(f.format(p) for p in parts) == LineFormatter("json").format(whole)



@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_formatter_reused_over_blocks_with_changing_layouts(fmt):
    """One formatter over many blocks (the CLI's use): lanes are matched to the line layouts met in
    earlier blocks, the set of those grows and is renewed; every line stays each lane's own line
    (as the formatter of that lane alone prints it, itself checked against the scalar walk above)."""
    rng = random.Random(15)
    b = TableBuilder()
    mapped = _mapper(rng, b, 48, 20, stage=1)
    setup, mem = setup_from_registers(b.registers()), b.memory()
    vas = np.array(_addresses(rng, mapped, 48, 1500), dtype=np.uint64)
    whole = translate_many(setup, mem, vas)
    one_by_one = [LineFormatter(fmt).format(whole.select(slice(i, i + 1))) for i in range(len(vas))]
    for block in (1, 3, 50, 700):          # blocks smaller and larger than the distinct layouts
        f = LineFormatter(fmt)
        got = b"".join(f.format(p) for p in iter_translate(setup, mem, vas, block=block))
        assert got == b"".join(one_by_one), block
        assert f.format(whole) == got

def test_parse_address_text():
    vas = [0x1, 0xABC, 0xFFFF_0000_1234_5678, 0x0, 0xF0F0_F0F0_F0F0_F0F0, 0x12345]
    text = "".join(f"{v:#x}\n" for v in vas).encode()
    assert parse_address_text(text).tolist() == vas
    assert parse_address_text(text.replace(b"\n", b"\r\n")).tolist() == vas
    assert parse_address_text(text.rstrip(b"\n")).tolist() == vas
    assert parse_address_text(text.upper().replace(b"0X", b"0x")).tolist() == vas
    assert parse_address_text(b"12\n0x12\n").tolist() == [0x12, 0x12]            # bare values are hex
    for bad in (b"0x1\n\n0x2\n", b"0x1 # c\n", b"0x\n", b"0x1_0\n", b"0x" + b"1" * 17 + b"\n", b"",
                b"\xd9\xa1\n"):
        assert parse_address_text(bad) is None


def test_reverse_map_finds_every_alias():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b01))
    b.map(0x7000, 0x8000_0000, 0x1000, S1Attrs(ap=0b11))
    b.map(0x4000_0000, 0x8000_0000, 0x4000_0000)                          # a 1GB block over it
    b.map(0x20_0000, 0x9000_0000, 0x20_0000)
    b.map(0x30_0000 - 0x1000, 0x9000_0000, 0x1000)                       # splits the 2MB block
    b.set_descriptor(0x9000, 3, b.leaf_descriptor(0x8000_0000, 3, S1Attrs(af=0)))   # AF = 0: no mapping
    hi = TableBuilder(table_base=0x4800_0000)
    hi.map(0xFFFF_8000_0000_0000, 0x8000_0000, 0x1000)
    regs = hi.registers(ttbr=1, regs=b.registers())
    setup = setup_from_registers(regs)
    mem = PhysicalMemory.from_buffers({**b.chunks(), **hi.chunks()})
    q, res = reverse_map(setup, mem, [0x8000_0010, 0x9000_0000, 0x1234_0000])
    got = {(int(k), int(v)) for k, v in zip(q, res.va)}
    assert got == {(0, 0x1010), (0, 0x7010), (0, 0x4000_0010), (0, 0xFFFF_8000_0000_0010),
                   (1, 0x20_0000), (1, 0x2F_F000), (1, 0x5000_0000)}
    # every VA reported translates forward to the address asked about
    for k, i in zip(q.tolist(), range(len(res))):
        t = translate(setup, mem, int(res.va[i]))
        assert t.ok and t.pa == [0x8000_0010, 0x9000_0000][k]
    # with HA = 1 the AF = 0 page maps too
    regs["TCR_EL1"] = TCR_EL1["HA"].put(regs["TCR_EL1"], 1)
    q, res = reverse_map(setup_from_registers(regs), mem, [0x8000_0010])
    assert 0x9010 in res.va.tolist()


def test_reverse_map_two_stages():
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, 0x1000, pa=0x6000_0000)
    ts.map(0x80_0000, 0x1000_0000, 0x1000)                               # same IPA, second VA
    ts.s2.map(0x2000_0000, 0x6000_0000, 0x1000)                          # second IPA for the PA
    ts.s1.map(0x90_0000, 0x2000_0000, 0x1000)
    setup = setup_from_registers(ts.registers())
    q, res = reverse_map(setup, ts.memory(), [0x6000_0008])
    assert sorted(int(v) for v in res.va) == [0x40_0008, 0x80_0008, 0x90_0008]
    q, res = reverse_map(setup, ts.memory(), [0x1000_0008], stages="1")
    assert sorted(int(v) for v in res.va) == [0x40_0008, 0x80_0008]


# --------------------------------------------------------------------------- the real Linux dump

@pytest.fixture(scope="module")
def linux_dump():
    path = linux_vmcore_elf()
    entries = linux_translations()
    if path is None or entries is None:
        pytest.skip("oracle dump not available")
    from pgwalk.linux import merge_registers, registers_from_vmcoreinfo
    from pgwalk.memory import open_elf_core
    from pgwalk.vmcoreinfo import parse_vmcoreinfo

    core = open_elf_core(path)
    info = parse_vmcoreinfo(core.vmcoreinfo)
    derived = registers_from_vmcoreinfo(info)
    mem = core.memory()
    yield mem, setup_from_registers(derived), setup_from_registers(merge_registers(derived, linux_registers())), \
        entries, path
    mem.close()


def test_linux_dump_agrees_with_qemu_and_scalar(linux_dump):
    """translations.json el1_nopan: kernel VAs with the VMCOREINFO registers, user VAs with
    regs.json's TTBR0; then lane by lane against the scalar walker."""
    mem, kernel, user, entries, _path = linux_dump
    counts = {}
    for side, setup in (("kernel", kernel), ("user", user)):
        sel = [e for e in entries if bool((int(e["va"], 16) >> 55) & 1) == (side == "kernel")]
        vas = np.array([int(e["va"], 16) for e in sel], dtype=np.uint64)
        for access in (None, Access.READ):
            res = translate_many(setup, mem, vas, stages="1", access=access, el=1)
            got = [int(res.pa[i]) if res.ok[i] else None for i in range(len(res))]
            want = [int(e["result"], 16) if e["result"] else None for e in sel]
            assert got == want
        counts[side] = (len(sel), int(res.ok.sum()))
        assert_same(setup, mem, vas.tolist()[::7], stages="1", access=Access.READ, par_ops=["S1E1R"])
    assert counts == {"kernel": (1506, 828), "user": (1435, 1324)}


def test_linux_dump_reverse_linear_map(linux_dump):
    mem, kernel, _user, _entries, _path = linux_dump
    q, res = reverse_map(kernel, mem, [0x4052C350, 0x41EB79C0])
    vas = {(int(k), int(v)) for k, v in zip(q, res.va)}
    # the linear map alias (PAGE_OFFSET + PA - PHYS_OFFSET) and the kernel image mapping
    assert (0, 0xFFFF00000052C350) in vas and (0, 0xFFFFBB3F1FD2C350) in vas
    assert (1, 0xFFFF000001EB79C0) in vas and (1, 0xFFFFBB3F216B79C0) in vas


# --------------------------------------------------------------------------- the CLI



def _sample_vas(n):
    rng = random.Random(4)
    base = [0xFFFF800000201234, 0x603000, 0x1000, 0xFFFF800000200000]
    return base + [0xFFFF800000200000 + rng.randrange(0x10_0000) for _ in range(n - len(base))]


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_cli_batch_bulk_equals_scalar(fmt, capsys, tmp_path):
    """Issue 14: the vectorised and the scalar path print the same lines, keys and values."""
    vas = _sample_vas(300)
    f = tmp_path / "vas.txt"
    f.write_text("".join(f"{v:#x}\n" for v in vas))
    rc, bulk, _ = run(["translate", *sample("s1_4k_48bit"), fmt, "--batch", str(f)], capsys)
    rc2, scalar, _ = run(["translate", *sample("s1_4k_48bit"), fmt, "--batch", str(f), "--scalar"], capsys)
    assert rc == rc2 == 1
    bulk_lines, scalar_lines = bulk.splitlines(), scalar.splitlines()
    assert len(bulk_lines) == len(scalar_lines) == len(vas) + (fmt == "--csv")
    assert bulk_lines == scalar_lines


@pytest.mark.parametrize("name", ["s1_4k_48bit", "two_stage"])
def test_cli_json_keys_do_not_depend_on_the_count(name, capsys, tmp_path):
    """Issue 14: 63 addresses (scalar), 64 and 300 (vectorised) and --scalar give the same
    line for the same address; --trace adds the trace keys for any count."""
    from pgwalk.report import TRACE_KEYS

    vas = _sample_vas(300) if name == "s1_4k_48bit" else [0x400000 + 0x800 * i for i in range(300)]
    lines = {}
    for n in (63, 64, 300):
        f = tmp_path / f"vas{n}.txt"
        f.write_text("".join(f"{v:#x}\n" for v in vas[:n]))
        for extra in ((), ("--scalar",)):
            out = run(["translate", *sample(name), "--json", "--batch", str(f), *extra], capsys)[1]
            got = out.splitlines()
            assert len(got) == n
            lines[(n, extra)] = got
    full = lines[(300, ())]
    assert any('"fault": null' in x for x in full) and any('"fault": {' in x for x in full)
    for (n, _), got in lines.items():
        assert got == full[:n], n
        assert all(set(json.loads(x)) == set(json.loads(full[0])) | ({"attributes_unknown"} & set(json.loads(x)))
                   for x in got)
    for n in (63, 64):
        f = tmp_path / f"vas{n}.txt"
        out = run(["translate", *sample(name), "--json", "--trace", "--batch", str(f)], capsys)[1]
        traced = [json.loads(x) for x in out.splitlines()]
        assert len(traced) == n and all({"s1", "s2", "steps", "notes"} <= set(d) for d in traced)
        assert all(d["steps"] for d in traced if d["ok"])
        for d, plain in zip(traced, full):
            for key in TRACE_KEYS:
                d.pop(key, None)
            if d["fault"]:
                assert d["fault"].pop("reason")
            assert d == json.loads(plain)


def test_cli_batch_stdin_with_comments_uses_the_slow_parse(capsys, monkeypatch):
    import io
    vas = _sample_vas(100)
    text = "# pointers\n" + "".join(f"{v:#x}  # p{i}\n" for i, v in enumerate(vas)) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", "-"], capsys)
    lines = [json.loads(x) for x in out.splitlines()]
    assert [int(d["va"], 16) for d in lines] == vas and "steps" not in lines[0]


def test_cli_small_batches_trace_only_with_trace(capsys, tmp_path):
    f = tmp_path / "vas.txt"
    f.write_text("0xffff800000201234\n")
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
    assert rc == 0 and "steps" not in json.loads(out)
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--trace", "--batch", str(f)], capsys)
    assert rc == 0 and len(json.loads(out)["steps"]) == 4


def test_cli_bad_line_in_a_large_batch(capsys, tmp_path):
    f = tmp_path / "vas.txt"
    f.write_text("0x1000\n" * 100 + "0xzz\n")
    rc, _, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
    assert rc == 2 and f"{f}:101" in err and "Traceback" not in err


def test_cli_no_trace_bulk_result_lines(capsys, tmp_path):
    f = tmp_path / "vas.txt"
    f.write_text("".join(f"{v:#x}\n" for v in _sample_vas(80)))
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--no-trace", "--batch", str(f)], capsys)
    assert "0xffff800000201234 -> PA 0x40201234" in out and len(out.splitlines()) >= 80


def test_cli_reverse(capsys):
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--reverse", "--json", "0x40201234", "0x1"], capsys)
    first, second = (json.loads(x) for x in out.splitlines())
    assert rc == 1
    assert first["target"] == "0x40201234" and first["count"] >= 1
    assert "0xffff800000201234" in [m["va"] for m in first["mappings"]]
    assert second["count"] == 0 and second["mappings"] == []
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--reverse", "--csv", "0x40201234"], capsys)
    assert rc == 0 and out.splitlines()[0].startswith("target,va,ok")
    assert any(line.startswith("0x40201234,0xffff800000201234,true") for line in out.splitlines())
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--reverse", "0x40201234"], capsys)
    assert "0xffff800000201234 -> PA 0x40201234" in out


def test_cli_json_and_csv_exclude_each_other(capsys):
    rc, _, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--csv", "0x1000"], capsys)
    assert rc == 2 and "exclude" in err
    rc, _, err = run(["translate", *sample("s1_4k_48bit"), "--reverse", "--access", "read", "0x1000"], capsys)
    assert rc == 2 and "--reverse" in err


def test_cli_linux_dump_batch(linux_dump, capsys, tmp_path):
    mem, kernel, _user, entries, path = linux_dump
    vas = [int(e["va"], 16) for e in entries if (int(e["va"], 16) >> 55) & 1]
    f = tmp_path / "vas.txt"
    f.write_text("".join(f"{v:#x}\n" for v in vas))
    rc, out, err = run(["translate", "-i", str(path), "--batch", str(f), "--json"], capsys)
    lines = [json.loads(x) for x in out.splitlines()]
    want = {int(e["va"], 16): e["result"] for e in entries}
    assert len(lines) == len(vas) and rc == 1
    assert all(d["pa"] == want[int(d["va"], 16)] for d in lines)
    assert "VMCOREINFO" in err


def test_bulk_at_el3_ns_follows_nstable():
    """PAR.NS of a Secure (EL3) AT: NSTable on the walk or the leaf's NS bit, as pgwalk.at.at."""
    from pgwalk.formats.registers import SCTLR

    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ns=1))
    b.map(0x4000_0000, 0x8000_0000, 0x1000, S1Attrs(ns=0), table_attrs=TableAttrs(nstable=1))
    b.map(0x8000_0000, 0x8000_0000, 0x1000)
    tcr = TCR_EL3.encode(T0SZ=16, TG0=0, PS=5, SH0=3, IRGN0=1, ORGN0=1, RES1_23=1, RES1_31=1)
    regs = {"TCR_EL3": tcr, "TTBR0_EL3": b.ttbr_value(), "MAIR_EL3": 0xFF, "SCTLR_EL3": SCTLR.encode(M=1)}
    mem = b.memory()
    vas = [0x1000, 0x4000_0000, 0x8000_0000, 0x1008, 0x2000]
    for op in ("S1E3R", "S1E3W", "S1E3A"):
        ba = bulk_at(regs, mem, op, np.array(vas, dtype=np.uint64))
        assert ba.regime is Regime.EL3
        assert [int(p) for p in ba.par] == [at(regs, mem, op, va).par for va in vas], op


# --------------------------------------------------------------------------- the fast text paths

def _ref_parse(data: bytes):
    """What parse_address_text must return: every line an optional "0x" and 1-16 hex digits, else None."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        digits = line[2:] if line[:2] in (b"0x", b"0X") else line
        if not 1 <= len(digits) <= 16 or \
                any(c not in b"0123456789abcdefABCDEF" for c in digits):
            return None
        out.append(int(digits, 16))
    return out or None


@pytest.mark.parametrize("piece", [7, 64, 1 << 17])
def test_parse_address_text_pieces_and_corruption(piece, monkeypatch):
    """Lines of every width and line ending, across piece boundaries; one corrupted byte anywhere."""
    import pgwalk.values as values_mod

    monkeypatch.setattr(values_mod, "_PARSE_PIECE", piece)
    rng = random.Random(piece)
    for _ in range(200):
        vas = [rng.getrandbits(rng.choice([1, 4, 9, 32, 61, 64])) for _ in range(rng.randint(1, 40))]
        text = "".join((f"{v:#x}" if rng.random() < 0.8 else f"0X{v:X}") + rng.choice(["\n", "\r\n"])
                       for v in vas).encode()
        if rng.random() < 0.3:
            text = text.rstrip(b"\r\n")
        got = parse_address_text(text)
        assert got is not None and got.tolist() == vas
        bad = bytearray(text)
        bad[rng.randrange(len(bad))] = rng.randrange(256)
        got = parse_address_text(bytes(bad))
        assert (None if got is None else got.tolist()) == _ref_parse(bytes(bad))
    # 16-digit lines with a few shorter ones (their leading digits filled lane by lane), and lines
    # of mixed widths (a masked fill of every line)
    for share in (0.02, 0.1, 0.5):
        vas = [rng.getrandbits(64) | 1 << 63 if rng.random() >= share else rng.getrandbits(rng.randrange(1, 60))
               for _ in range(3000)]
        got = parse_address_text("".join(f"{v:#x}\n" for v in vas).encode())
        assert got is not None and got.tolist() == vas, share


def test_hex_digits_and_widths():
    from pgwalk.lines import _hex_digits

    rng = random.Random(9)
    vals = [0, 1, 15, 16, M64, 1 << 63, (1 << 53) + 1, (1 << 60) - 1, (1 << 32) - 1, 1 << 32]
    vals += [v for k in range(64) for v in ((1 << k), (1 << k) - 1, (1 << (k + 1)) - 1)]
    vals += [rng.getrandbits(rng.randrange(1, 65)) for _ in range(5000)]
    digits, widths = _hex_digits(np.array(vals, dtype=np.uint64))
    for v, d, n in zip(vals, digits, widths.tolist()):
        assert n == len(f"{v:x}") and bytes(d[16 - n:]).decode() == f"{v:x}"
    # blocks whose largest value has few digits, or whose values span one or two counts only
    # (the counts of the largest value and the one below are told apart without the bit length)
    ordered = sorted(set(vals))
    for lo, hi in ((0, 1), (0, 2), (1, 17), (5, 40), (100, 400), (len(ordered) - 300, len(ordered))):
        part = ordered[lo:hi]
        _digits, widths = _hex_digits(np.array(part, dtype=np.uint64))
        assert widths.tolist() == [len(f"{v:x}") for v in part], (lo, hi)
    for top in range(1, 17):
        part = [16 ** (top - 1), 16 ** top - 1, 16 ** (top - 1) - 1, max(0, 16 ** (top - 2) - 1), 0]
        _digits, widths = _hex_digits(np.array(part, dtype=np.uint64))
        assert widths.tolist() == [len(f"{v:x}") for v in part], top
    # blocks of mixed lengths up to a largest bit length: below 2**53 the bit length comes from
    # a float64's exponent whole; from 2**53 up, from the high 32 bits
    for bits in (9, 20, 40, 52, 53, 54, 63, 64):
        part = [rng.getrandbits(rng.randrange(1, bits + 1)) for _ in range(3000)] + [(1 << bits) - 1, 0]
        _digits, widths = _hex_digits(np.array(part, dtype=np.uint64))
        assert widths.tolist() == [len(f"{v:x}") for v in part], bits


def test_formatter_two_buffers_and_background_writer(tmp_path):
    """Blocks formatted into two buffers in turn and written by the writer thread: the same bytes
    as format(); a write error surfaces in the caller."""
    import os

    from pgwalk.writer import BackgroundWriter

    b = TableBuilder()
    rng = random.Random(2)
    for k in range(40):
        b.map(k << 21, 0x8000_0000 + (k << 21), 1 << 21, S1Attrs(ap=k % 4, attr_indx=k % 3),
              min_leaf_level=3 if k % 2 else 2)
    setup, mem = setup_from_registers(b.registers()), b.memory()
    vas = np.array([rng.randrange(0, 48 << 21) for _ in range(3000)], dtype=np.uint64)
    blocks = list(iter_translate(setup, mem, vas, block=257))
    want = b"".join(LineFormatter("json").format(r) for r in blocks)
    path = tmp_path / "out.json"
    fmt = LineFormatter("json", buffers=2)
    with open(path, "wb") as fh:
        writer = BackgroundWriter(fh.fileno())
        for r in blocks:
            writer.submit(fmt.chunks(r))
        writer.close()
    assert path.read_bytes() == want
    r, w = os.pipe()
    os.close(r)
    writer = BackgroundWriter(w)
    with pytest.raises(BrokenPipeError):
        for r in blocks:
            writer.submit(LineFormatter("json").chunks(r))
        writer.close()
    writer.close()
    os.close(w)


def test_cli_bulk_to_a_file_descriptor(tmp_path):
    """The installed command writing to a file (the writer thread path) prints what the
    in-process run (a text stream) prints."""
    import subprocess

    vas = _sample_vas(20000)
    f = tmp_path / "vas.txt"
    f.write_text("".join(f"{v:#x}\n" for v in vas))
    args = ["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)]
    out = tmp_path / "out.json"
    with open(out, "wb") as fh:
        p = subprocess.run([sys.executable, "-m", "pgwalk.cli", *args], stdout=fh, stderr=subprocess.PIPE)
    assert p.returncode == 1, p.stderr
    import io
    import contextlib

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(args) == 1
    assert out.read_bytes() == text.getvalue().encode()


def test_setup_checks_in_the_kernels_order_unknown_ttbr():
    """The vectorised walk iterates rules.S1_SETUP_CHECKS in order, as the scalar walk does: an
    unknown TTBR0 stops only the VAs that pass the VA-range check (UnknownRegister), a VA outside
    the TTBR0 range is a level 0 Translation fault first."""
    from pgwalk.errors import UnknownRegister

    regs = {"TCR_EL1": TCR_EL1.encode(T0SZ=16, T1SZ=16, TG0=0b00, TG1=0b10), "SCTLR_EL1": 1,
            "MAIR_EL1": 0xFF, "TTBR1_EL1": 0x1000}
    setup = setup_from_registers(regs, Regime.EL10)
    assert not setup.ranges[0].ttbr_known
    mem = PhysicalMemory.from_words({}, (0, 0x2000))
    outside = 0x0001_0000_0000_1000                 # VA[55] = 0, VA[54:48] not zero
    t = translate(setup, mem, outside)
    res = translate_many(setup, mem, np.array([outside], dtype=np.uint64))
    assert t.fault is not None and (t.fault.type.value, t.fault.level) == ("translation", 0)
    assert res.fault(0).type is t.fault.type and int(res.fault_level[0]) == 0
    with pytest.raises(UnknownRegister):
        translate(setup, mem, 0x1000)
    with pytest.raises(UnknownRegister) as exc:
        translate_many(setup, mem, np.array([outside, 0x1000, 0x2000], dtype=np.uint64))
    assert "TTBR0_EL1" in str(exc.value)


# --------------------------------------------------------------------------- the descriptor tree and stand-ins

@pytest.mark.parametrize("budget", [0, 600, 5000, None])
def test_upper_level_tree_budget_and_chunk_boundaries(budget, monkeypatch):
    """The upper levels are walked per descriptor (bulk._Tree) within bulk.TREE_ENTRIES entries;
    past that the lanes go on one by one.  Every budget (none at all, a few tables, enough) and
    every chunk size (1 lane, odd sizes that split the setup-check faults and early stops
    across chunks, bigger than the batch) gives the scalar walk's answer lane by lane, with
    faulty descriptors planted at every level (loops back to the root, out of the image,
    reserved, beyond the output size) and addresses out of range (setup-check faults)."""
    import pgwalk.bulk as bulk

    if budget is not None:
        monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    for seed, kw in ((11, {}), (12, dict(granule=16384)), (13, dict(granule=65536, ia_bits=42))):
        rng = random.Random(seed)
        b = TableBuilder(**kw)
        mapped = _mapper(rng, b, 48, 25, stage=1)
        _plant(rng, b, mapped, 8, 48)
        setup, mem = setup_from_registers(b.registers()), b.memory()
        vas = _addresses(rng, mapped, b.ia_bits, 400)
        for chunk in (1, 37, 256, 1 << 20):
            assert_same(setup, mem, vas, chunk=chunk, access=Access.READ if chunk == 37 else None)


@pytest.mark.parametrize("tight, defer", [(False, None), (True, None), (False, "end"), (True, "end"),
                                          (False, "flush"), (True, "flush")])
def test_lanes_not_remembered_descend_the_tree(tight, defer, monkeypatch):
    """A chunk whose upper-level entries are remembered from earlier chunks but for a few lanes
    (bulk._Tree.recall) finds those few by descending the tree (bulk._Tree.descend): new leaves,
    holes and faulty descriptors at the upper levels (walks that end above the last upper
    level), and, with a tree budget (bulk.TREE_ENTRIES) just big enough for the first chunk's
    tables, tables the tree does not keep (those lanes then walk on their own).  Or (``defer``),
    fewer than bulk.LATER_BELOW of them, leaves them to be walked with those of the other
    chunks at the end (bulk._run), or ("flush") as soon as bulk.LATER_FLUSH are pending.
    Every lane gives the scalar walk's answer, and lanes of every kind are met."""
    import pgwalk.bulk as bulk

    seen = {"found": 0, "left the tree": 0, "later": 0, "walks of later lanes": 0}
    descend, open_, run = bulk._Tree.descend, bulk._Tree.open, bulk._run
    used = [0]
    if defer:
        def spy_run(eng, va, chunk, later=True):
            if not later:
                seen["later"] += len(va)
                seen["walks of later lanes"] += 1
            return run(eng, va, chunk, later)

        monkeypatch.setattr(bulk, "_run", spy_run)
        monkeypatch.setattr(bulk, "LATER_FLUSH", 8 if defer == "flush" else 1 << 40)
    else:
        monkeypatch.setattr(bulk, "LATER_BELOW", 0)

    def spy(self, ia):
        got, gone = descend(self, ia)
        seen["found"] += len(ia) - (0 if gone is None else len(gone))
        seen["left the tree"] += 0 if gone is None else len(gone)
        return got, gone

    def counting_open(self, level, ent):
        open_(self, level, ent)
        used[0] = max(used[0], self.used)

    monkeypatch.setattr(bulk._Tree, "descend", spy)
    for seed in (21, 22, 23):
        rng = random.Random(seed)
        b = TableBuilder()
        mapped = _mapper(rng, b, 48, 40, stage=1)
        _plant(rng, b, mapped, 10, 48)
        setup, mem = setup_from_registers(b.registers()), b.memory()
        first, later = mapped[:len(mapped) // 2], mapped[len(mapped) // 2:]
        known = [ia + rng.randrange(size) for ia, size in first for _ in range(8)]
        vas = [rng.choice(known) for _ in range(251)]
        if tight:                   # the tables of the first chunk's walks, and not one entry more
            used[0] = 0
            with monkeypatch.context() as m:
                m.setattr(bulk._Tree, "open", counting_open)
                translate_many(setup, mem, np.array(vas, dtype=np.uint64), chunk=251)
            monkeypatch.setattr(bulk, "TREE_ENTRIES", used[0])
        for _ in range(6):          # chunks of the same addresses, and a few new ones each
            chunk = [rng.choice(known) for _ in range(240)]
            chunk += [ia + rng.randrange(size) for ia, size in rng.sample(later, 4)]
            chunk += _addresses(rng, mapped, b.ia_bits, 16)[-7:]
            rng.shuffle(chunk)
            vas += chunk
        assert_same(setup, mem, vas, chunk=251)
    if defer:
        assert seen["later"] and not seen["found"]
        batches = 3                 # (one a seed; "end": each walks its later lanes once at most)
        if defer == "flush":
            assert seen["walks of later lanes"] > batches
        else:
            assert 1 <= seen["walks of later lanes"] <= batches
        return
    assert seen["found"]
    if tight:
        assert seen["left the tree"]


def test_stand_in_lanes_every_lane_stopped_or_one_left():
    """Lanes stopped by a setup check stand in for a walking lane (bulk._stand_in): a batch whose
    lanes all stop, one where a single lane walks, and one where the only walking lane comes
    last, all agree with the scalar walk."""
    rng = random.Random(5)
    b = TableBuilder()
    mapped = _mapper(rng, b, 48, 6, stage=1)
    setup, mem = setup_from_registers(b.registers()), b.memory()
    outside = [1 << 50, 0x0001_0000_0000_0000 | 0x1000, M64 ^ 0xFFF]
    va, size = mapped[0]
    for vas in (outside, outside + [va], [va] + outside * 5, outside * 7 + [va + size - 8]):
        for chunk in (2, 64):
            assert_same(setup, mem, vas, chunk=chunk)


def _two_stage_pages(rng: random.Random):
    """A two-stage setup (4KB, 48-bit VA, 40-bit IPA) with up to 12 random 4KB pages, a fifth of them
    with no stage 2 mapping: (the builder, [(va, 0x1000)])."""
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40, s1_table_pa=0x4010_0000, s1_table_size=0x20000)
    mapped = []
    for _ in range(12):
        va = rng.randrange(1 << 48) & ~0xFFF
        ipa = rng.randrange(1 << 39) & ~0xFFF
        if ts.s1.table_base <= ipa < ts.s1.table_base + 0x20000:
            continue
        try:
            ts.map(va, ipa, 0x1000, S1Attrs(), pa=rng.randrange(1 << 40) & ~0xFFF if rng.random() < 0.8 else None)
        except (ValueError, MemoryError):
            continue
        mapped.append((va, 0x1000))
    return ts, mapped


@pytest.mark.parametrize("slot_bits", [2, 16])
def test_recalled_upper_level_entries_with_a_few_new_lanes(slot_bits, monkeypatch):
    """A chunk whose lanes' entries at the last upper level were seen before starts there
    (bulk._Tree.recall); the few lanes not seen (new addresses, faults and blocks above it,
    slots taken by another address: 4 slots) walk on their own.  Stage 1 alone and with its
    descriptors fetched through stage 2: every lane agrees with the scalar walk."""
    import pgwalk.bulk as bulk

    monkeypatch.setattr(bulk, "_SLOT_BITS", slot_bits)
    recalled = []
    recall = bulk._Tree.recall

    def spy(self, ia):
        got = recall(self, ia)
        recalled.append(got is not None and got[1] is not None)
        return got

    monkeypatch.setattr(bulk._Tree, "recall", spy)
    rng = random.Random(31)
    b = TableBuilder()
    mapped = _mapper(rng, b, 48, 25, stage=1)
    _plant(rng, b, mapped, 8, 48)
    ts, mapped2 = _two_stage_pages(rng)
    for setup, mem, maps, stages in ((setup_from_registers(b.registers()), b.memory(), mapped, "1"),
                                     (setup_from_registers(ts.registers()), ts.memory(), mapped2, "12")):
        seen = [ia + rng.randrange(size) for ia, size in (rng.choice(maps) for _ in range(256))]
        vas = list(seen)
        for _ in range(6):               # chunks of 256: seen addresses, and 1 in 16 anywhere
            vas += [rng.choice(seen) if rng.random() < 15 / 16 else v for v in _addresses(rng, maps, 48, 256)]
        recalled.clear()
        assert_same(setup, mem, vas, chunk=256, stages=stages)
        if slot_bits == 16:
            assert any(recalled), stages


@pytest.mark.parametrize("budget", [0, 700])
def test_two_stages_with_a_small_tree(budget, monkeypatch):
    """Stage 1 descriptors fetched through stage 2 (S1PTW) from the per-descriptor tree, with the
    trees cut short (bulk.TREE_ENTRIES): S1PTW faults and leaves agree with the scalar walk."""
    import pgwalk.bulk as bulk

    monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    rng = random.Random(21)
    ts, mapped = _two_stage_pages(rng)
    va, _size = mapped[0]
    ts.s1.set_descriptor(va, 1, ts.s1.table_descriptor(0x90_0000_0000 & ((1 << 40) - 1) | 0x1000))
    setup, mem = setup_from_registers(ts.registers()), ts.memory()
    vas = _addresses(rng, mapped, 48, 300)
    for stages in ("1", "12"):
        assert_same(setup, mem, vas, stages=stages, chunk=50)


def test_chunks_first_one_small_only_in_batches_of_several():
    """bulk._chunks: a batch of more than one chunk starts with one of bulk.FIRST_CHUNK lanes (its
    walks meet the tables cold), then whole chunks; a batch of one chunk stays whole; every lane
    is in exactly one slice, in order."""
    import pgwalk.bulk as bulk

    def spans(n, chunk):
        return [(s.start, s.stop) for s in bulk._chunks(n, chunk)]

    first = bulk.FIRST_CHUNK
    assert spans(0, 1 << 16) == []
    assert spans(1000, 1 << 16) == [(0, 1000)]
    assert spans(1 << 16, 1 << 16) == [(0, 1 << 16)]
    n = 3 * (1 << 16) + 5
    got = spans(n, 1 << 16)
    assert got[0] == (0, first) and got[1] == (first, first + (1 << 16)) and got[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(got, got[1:]))
    assert spans(10, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]     # (a chunk smaller than FIRST_CHUNK)
