"""FEAT_D128 (VMSAv9-128) in the batch paths: ``translate_many`` / ``iter_translate``, ``bulk_at``,
``translate --batch`` and ``at --batch`` take the per-address walk (pgwalk.bulk: the scalar walk lane
by lane, packed into the same result arrays), and must agree lane by lane with :func:`pgwalk.walk.translate`
and :func:`pgwalk.at.at`: output, fault (type, level, stage, S1PTW, IPA), leaves (all 128 bits),
attributes, Access flag updates, the bulk JSON line and CSV row, and PAR_EL1 (the 128-bit format).

Trees are random :class:`pgwalk.builder.D128Builder` trees (4KB, 16KB, 64KB; start levels -2..0 and the
TTBR's SKL; tables that skip levels) with planted faults at every level of the walk (-2 and -1
included), at stage 1, stage 2 alone, and two stages (a VMSAv8-64 stage 1 with hierarchical
permissions over a D128 stage 2, and D128 over D128).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.builder import D128Builder, S1Attrs, TableAttrs, TableBuilder, write_image
from pgwalk.bulk import FAULT_TYPES, iter_translate, per_address_note, translate_many
from pgwalk.errors import RegisterError
from pgwalk.lines import LineFormatter
from pgwalk.formats import registers as FR
from pgwalk.params import setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import run  # noqa: E402
from test_bulk import assert_same  # noqa: E402

#: PIR_EL1 / S2PIR_EL2 with a distinct 4-bit encoding per index (reads, writes, executes, overlays vary)
PIR_DISTINCT = sum(((n * 7 + 3) & 0xF) << (4 * n) for n in range(16))
ACCESSES = (None, Access.READ, Access.WRITE, Access.EXEC)
#: (granule, input-address bits, TTBR SKL): start levels -2 (4KB, 55 bits), -1, 0 and above
GEOMETRIES = [(4096, 55, 0), (4096, 48, 0), (4096, 48, 1), (4096, 40, 0), (16384, 55, 0), (16384, 48, 0),
              (16384, 47, 1), (65536, 52, 0), (65536, 48, 0), (65536, 42, 0)]


def _levels(b: D128Builder, rng: random.Random) -> tuple[int, ...]:
    """The levels the walks of a tree visit, from the start level to 3: with 4KB, some table descriptors skip
    a level (SKL = 1: next tables of 1MB), the same at every entry of a level (the tree stays consistent)."""
    levels = [b.start_level]
    while levels[-1] < 3:
        skip = b.g == 12 and levels[-1] + 2 <= 3 and rng.random() < 0.4
        levels.append(levels[-1] + 1 + skip)
    return tuple(levels)


def _random_tree(b: D128Builder, rng: random.Random, n: int = 40, *, ia_lo: int = 0) -> list[int]:
    """Random mappings, then planted faults (invalid entries, any 128-bit value: reserved SKL, beyond
    level 3, OA beyond the output size ...) in ``b`` at input addresses from ``ia_lo`` on; returns
    addresses to translate (mapped, faulting at every level, unmapped, beyond the input size)."""
    lsb = lambda level: (3 - level) * b.stride + b.g                            # noqa: E731
    levels = _levels(b, rng)
    leaf_levels = [lv for lv in levels if lv >= (0 if b.g == 12 else 1) and 1 << lsb(lv) < 1 << b.ia_bits - 1]
    tables: set[tuple[int, int]] = set()            # (level, IA >> lsb): entries that are tables
    ends: set[tuple[int, int]] = set()              # ... and that end a walk (leaves, planted values)
    vas, planted = [], []
    for k in range(n):
        leaf = rng.choice(leaf_levels)
        size = 1 << lsb(leaf)
        ia = rng.randrange(ia_lo, 1 << b.ia_bits) & ~(size - 1)
        path = levels[:levels.index(leaf) + 1]
        if k % 4 == 3:                               # a fault at some level of the walk: planted last
            path = path[:rng.randrange(1, len(path) + 1)]
        keys = [(lv, ia >> lsb(lv)) for lv in path]
        if any(key in ends for key in keys[:-1]) or keys[-1] in tables:
            continue
        tables.update(keys[:-1])
        ends.add(keys[-1])
        vas += [ia | rng.randrange(size) & ~7, ia]
        if k % 4 == 3:
            planted.append((ia, path, rng.getrandbits(128) | 1 if rng.random() < 0.5 else rng.getrandbits(128) & ~1))
            continue
        oa = rng.randrange(0, 1 << (b.pa_bits if rng.random() < 0.9 else 56)) & ~(size - 1)
        b.map(ia, oa, path, pi=rng.randrange(16), po=rng.randrange(16), attr_indx=rng.randrange(4),
              af=int(rng.random() > 0.1), dirty=rng.randrange(2), sh=rng.choice([0, 2, 3]))
    for ia, path, raw in planted:
        b.put(ia, path, raw)
    vas += [rng.randrange(ia_lo, 1 << b.ia_bits) for _ in range(8)]
    vas += [1 << b.ia_bits, (1 << 64) - 4096]          # beyond the input size, the other VA range
    return vas


def _check_arrays(res, setup, mem, vas, **kw):
    """The arrays themselves (fault type, level, stage, S1PTW; the AF updates) lane by lane."""
    for i, va in enumerate(vas):
        t = translate(setup, mem, va, **kw)
        if t.fault is None:
            assert res.fault_type[i] == 0
        else:
            f = t.fault
            assert (FAULT_TYPES[res.fault_type[i]], int(res.fault_level[i]), int(res.fault_stage[i]),
                    bool(res.s1ptw[i])) == (f.type, f.level, f.stage, f.s1ptw), hex(va)
            assert res.fault(i).flags == f.flags
        assert res.translation(i).af_updates == t.af_updates
        if t.s1 is not None:
            assert res.s1_raw(i) == t.s1.raw
        if t.s2 is not None:
            assert res.s2_raw(i) == t.s2.raw


# --------------------------------------------------------------------------- stage 1

@pytest.mark.parametrize("granule,ia_bits,skl", GEOMETRIES)
def test_stage1_random_trees_agree_lane_by_lane(granule, ia_bits, skl):
    rng = random.Random(granule * 131 + ia_bits * 7 + skl)
    b = D128Builder(granule=granule, ia_bits=ia_bits, skl=skl, pa_bits=rng.choice([48, 52, 56]))
    vas = _random_tree(b, rng)
    setup = setup_from_registers(b.registers(pir=PIR_DISTINCT, pire0=PIR_DISTINCT >> 4 | 0xC << 60))
    assert setup.ranges[0].d128 and per_address_note(setup) is not None
    mem = b.memory()
    for access in ACCESSES:
        res = assert_same(setup, mem, vas, access=access, chunk=16,
                          par_ops=("S1E1R", "S1E1W", "S1E0R") if access is None else ())
        _check_arrays(res, setup, mem, vas, access=access)
        if access is None:
            assert res.ok.sum() >= 10 and (res.s1_desc_hi != 0).any()     # (128-bit leaves, kept whole)
            assert len(set(res.fault_level[res.fault_type != 0].tolist())) >= 2


def test_big_endian_tables():
    rng = random.Random(9)
    b = D128Builder(granule=16384, ia_bits=48, big_endian=True)
    vas = _random_tree(b, rng)
    setup = setup_from_registers(b.registers(pir=PIR_DISTINCT))
    assert setup.ranges[0].ee
    res = assert_same(setup, b.memory(), vas, par_ops=("S1E1R",))
    assert res.ok.sum() >= 10


def test_faults_at_every_level_minus_two_to_three():
    b = D128Builder(granule=4096, ia_bits=55, pa_bits=48)
    assert b.start_level == -2                       # level -2 resolves VA[54:52], level -1 VA[51:44]
    vas = []
    for level in range(-2, 4):                       # an invalid entry at this level (valid bit clear)
        va = 5 << 52 if level == -2 else (level + 2) << 44 | 0x1234_5000
        b.put(va, tuple(range(-2, level + 1)), 0x0ff0 << 64)
        vas.append(va + 8)
    b.map(7 << 44, 0xab_0000_0000, tuple(range(-2, 4)))              # a page
    b.put(2 << 52, (-2,), b.table_descriptor(1 << 52))              # a next table beyond the output size
    vas += [7 << 44 | 0x10, 2 << 52]
    setup = setup_from_registers(b.registers(pir=PIR_DISTINCT))
    mem = b.memory()
    res = assert_same(setup, mem, vas, par_ops=("S1E1R",))
    levels = [int(res.fault_level[i]) for i in range(len(vas)) if res.fault_type[i]]
    assert {-2, -1, 0, 1, 2, 3} <= set(levels), levels
    ba = bulk_at(setup, mem, "S1E1R", vas)
    assert ba.par.dtype == object
    for i, va in enumerate(vas):
        par = int(ba.par[i])
        assert par >> 64 & 1 == 1                     # PAR.D128: the 128-bit format
        assert par == at(setup, mem, "S1E1R", va).par
        assert par & 1 == (res.fault_type[i] != 0)


def test_permissions_overlays_dirty_state_and_haft():
    """PIIndex / POIndex per leaf with an overlay (POR_EL1), nDirty writes, and FEAT_HAFT table AF
    updates (TCR2_EL1.HAFT with TCR_EL1.HA) packed into table_af."""
    rng = random.Random(5)
    b = D128Builder(granule=16384, ia_bits=48)
    vas = []
    path = _levels(b, rng)
    for k in range(32):
        va = (k + 1) << 26 | rng.randrange(4) << 14
        b.map(va, 0x80_0000_0000 + (k << 14), path, pi=k % 16, po=(k * 5) % 16, dirty=k & 1,
              af=int(k % 7 != 0))
        vas.append(va + 8)
    pir = PIR_DISTINCT & ~0xFFFF | 0xCCCC            # PIIndex 0..3: read/write (nDirty makes a DirtyBit fault)
    regs = b.registers(pir=pir, pire0=pir)
    regs["TCR2_EL1"] |= FR.TCR2_EL1["POE"].mask | FR.TCR2_EL1["HAFT"].mask
    regs["TCR_EL1"] = FR.TCR_EL1["HA"].put(regs["TCR_EL1"], 1)
    regs["POR_EL1"] = 0x7531_0246_7531_0246
    setup = setup_from_registers(regs)
    assert setup.ranges[0].perm.overlay and setup.ranges[0].haft
    mem = b.memory()
    kinds = set()
    for access in ACCESSES:
        for el in (0, 1):
            res = assert_same(setup, mem, vas, access=access, el=el)
            _check_arrays(res, setup, mem, vas, access=access, el=el)
            kinds |= set(res.perm_kind[res.fault_type != 0].tolist())
    assert (res.table_af != 0).all()                 # every walk set AF in its tables
    assert {2, 3} <= kinds                           # overlay and dirty-bit Permission faults


# --------------------------------------------------------------------------- stage 2, two stages

@pytest.mark.parametrize("granule,ia_bits", [(4096, 48), (16384, 44), (65536, 42)])
def test_stage2_alone_and_under_a_vmsav8_stage1_with_hierarchical_permissions(granule, ia_bits):
    rng = random.Random(granule + ia_bits)
    s2 = D128Builder(stage=2, granule=granule, ia_bits=ia_bits, table_base=0x4000_0000)
    ipas = _random_tree(s2, rng, 30, ia_lo=1 << (ia_bits - 1))     # (the upper half)
    s1 = TableBuilder(stage=1, granule=4096, ia_bits=48, table_base=0x100_0000)
    vas = []
    for k, ipa in enumerate(v for v in ipas if v < 1 << ia_bits):
        va = (k + 1) << 21
        s1.map(va, ipa & ~0xFFF, 0x1000, S1Attrs(ap=k % 4, uxn=k & 1, pxn=k >> 1 & 1),
               table_attrs=TableAttrs(aptable=k % 4, uxntable=k & 1, pxntable=k >> 2 & 1) if k % 3 else None)
        vas.append(va | ipa & 0xFF8)
    for base, chunk in s1.chunks().items():         # the stage 1 tables: IPA = PA, in the lower half
        for page in range(base & -granule, base + len(chunk), granule):
            s2.map(page, page, tuple(range(s2.start_level, 4)), pi=12, attr_indx=0b1111)
    s2pir = PIR_DISTINCT | 0b1100 << 48
    regs = s1.registers(regs=s2.registers(s2pir=s2pir))
    setup = setup_from_registers(regs)
    assert setup.s2.d128 and not setup.ranges[0].d128 and not setup.ranges[0].hpd
    mem = s2.memory(s1.chunks())
    for access in (None, Access.READ, Access.WRITE):
        assert_same(setup, mem, ipas, stages="2", access=access)
        res = assert_same(setup, mem, vas, access=access, par_ops=("S12E1R", "S12E1W", "S1E1R"))
        _check_arrays(res, setup, mem, vas, access=access)
    assert res.s1_table_bits.any()                   # the stage 1 walks' hierarchical bits were kept
    # an AT executed at EL1: a stage 2 fault on the stage 1 walk raises an exception
    ba = bulk_at(setup, mem, "S12E1R", vas, exec_el=2)
    for i, va in enumerate(vas):
        a = at(setup, mem, "S12E1R", va, exec_el=2)
        assert (None if ba.exception[i] else int(ba.par[i])) == a.par


def test_d128_stage1_over_a_d128_stage2():
    rng = random.Random(11)
    s2 = D128Builder(stage=2, granule=16384, ia_bits=44, table_base=0x4000_0000)
    s2.map(0, 0, (1,), pi=12, attr_indx=0b1111, dirty=1)             # IPA [0, 16GB): the stage 1 tables
    s1 = D128Builder(granule=4096, ia_bits=48, table_base=0x10_0000)
    vas = []
    path = _levels(s1, rng)
    for k in range(24):
        ipa = 0x8_0000_0000 + (k << 14) * 3
        s2.map(ipa & ~0x3FFF, 0xcd_0000_0000_0000 + (k << 14), (1, 2, 3), pi=rng.choice([8, 12, 0]),
               attr_indx=rng.choice([0b1111, 0b0101, 0b0001]), af=int(k % 5 != 0))
        va = (k + 1) << 30 | 0x5000
        s1.map(va, ipa & ~0xFFF, path, pi=rng.randrange(16))
        vas.append(va + 0x18)
    vas += [0x7000_0000_0000, 0x40_0000]                # unmapped at stage 1
    s1.put(0x8000_0000_0000, (-1,), s1.table_descriptor(0x20_0000_0000))    # a stage 1 table at an unmapped IPA
    vas.append(0x8000_0000_1000)
    s2pir = (0b1100 << 4 * 12) | (0b1000 << 4 * 8) | (0b0110 << 0)
    regs = s1.registers(pir=PIR_DISTINCT, regs=s2.registers(s2pir=s2pir))
    setup = setup_from_registers(regs)
    assert setup.s2.d128 and setup.ranges[0].d128
    mem = s2.memory(s1.chunks())
    for access in (None, Access.READ, Access.WRITE, Access.EXEC):
        res = assert_same(setup, mem, vas, access=access, par_ops=("S12E1R", "S12E1W"))
        _check_arrays(res, setup, mem, vas, access=access)
    assert res.s1ptw.any() and (res.fault_stage == 2).any()
    # iter_translate: the same lanes block by block
    res = translate_many(setup, mem, vas, access=Access.WRITE)
    blocks = list(iter_translate(setup, mem, vas, block=7, access=Access.WRITE))
    assert sum(len(r) for r in blocks) == len(vas)
    assert [r.to_dict(i) for r in blocks for i in range(len(r))] == [res.to_dict(i) for i in range(len(res))]
    for fmt in ("json", "csv"):                      # one formatter over the blocks (its line layouts kept)
        f = LineFormatter(fmt)
        assert b"".join(f.format(r) for r in blocks) == LineFormatter(fmt).format(res)


def test_a_vmsav8_setup_stays_vectorised():
    b = TableBuilder(stage=1, granule=4096, ia_bits=48)
    b.map(0x1000, 0x4000_0000, 0x1000)
    setup = setup_from_registers(b.registers())
    assert per_address_note(setup) is None
    res = translate_many(setup, b.memory(), [0x1000])
    assert not res.s1_desc_hi.flags.writeable and not res.s2_desc_hi.flags.writeable   # (no memory for them)


# --------------------------------------------------------------------------- the CLI

@pytest.fixture
def d128_image(tmp_path):
    """``-i``/``--reg`` options of a D128 tree in a temporary image, and addresses to translate."""
    rng = random.Random(3)
    b = D128Builder(granule=4096, ia_bits=48)
    vas = _random_tree(b, rng, 50)
    path = tmp_path / "d128.img"
    base, _ = write_image(path, b)
    opts = ["-i", f"{path}@{base:#x}"]
    for name, value in b.registers(pir=PIR_DISTINCT).items():
        opts += ["--reg", f"{name}={value:#x}"]
    yield opts, [v for v in vas if v < 1 << 55], setup_from_registers(b.registers(pir=PIR_DISTINCT)), b.memory()
    path.unlink()


NOTE = ("pgwalk: note: TCR2_EL1.D128 = 1: VMSAv9-128 (FEAT_D128) tables are walked one address at a time "
        "(the per-address walk), not vectorised")


@pytest.mark.parametrize("fmt", ["--json", "--csv", "--no-trace"])
def test_cli_translate_batch(d128_image, tmp_path, capsys, fmt):
    opts, vas, setup, mem = d128_image
    assert len(vas) >= 64
    f = tmp_path / "vas.txt"
    f.write_text("\n".join(f"{v:#x}" for v in vas) + "\n")
    rc, out, err = run(["translate", *opts, "--batch", str(f), fmt, "--access", "write"], capsys)
    assert err.count(NOTE) == 1 and "Traceback" not in err
    rc2, want, err2 = run(["translate", *opts, "--batch", str(f), fmt, "--access", "write", "--scalar"], capsys)
    assert NOTE not in err2
    assert (rc, out) == (rc2, want) and rc == 1      # (some addresses fault)
    if fmt == "--json":
        lines = [json.loads(ln) for ln in out.splitlines()]
        assert len(lines) == len(vas)
        for ln, va in zip(lines, vas):
            t = translate(setup, mem, va, access=Access.WRITE)
            assert ln["pa"] == (None if t.pa is None else f"{t.pa:#x}")
            assert (ln["fault"] or {}).get("level") == (t.fault.level if t.fault else None)


def test_cli_at_batch(d128_image, tmp_path, capsys):
    opts, vas, setup, mem = d128_image
    ops = ["S1E1R", "S1E1W", "S1E0R"]
    rows = [{"op": ops[i % 3], "va": f"{va:#x}"} for i, va in enumerate(vas)]
    for row in rows[:5]:                              # (a captured PAR is 64 bits: "exception" here)
        row["par"] = "exception"
    f = tmp_path / "at.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for fmt in (["--json"], []):
        rc, out, err = run(["at", *opts, "--batch", str(f), *fmt], capsys)
        assert err.count(NOTE) == 1 and "Traceback" not in err
        rc2, want, _ = run(["at", *opts, "--batch", str(f), *fmt, "--scalar"], capsys)
        assert (rc, out) == (rc2, want)
    rc, out, _ = run(["at", *opts, "--batch", str(f), "--json"], capsys)
    pars = [json.loads(ln)["par"] for ln in out.splitlines()]
    for row, par in zip(rows, pars):
        a = at(setup, mem, row["op"], int(row["va"], 16))
        assert par == (None if a.par is None else f"{a.par:#018x}")
        assert par is None or int(par, 16) >> 64 & 1    # the 128-bit format


def test_cli_translate_reverse_finds_d128_mappings(d128_image, capsys):
    """``translate --reverse`` on a D128 tree: every VA it reports translates to the PA asked, and the
    mapped VAs whose PA is asked are among them."""
    opts, vas, setup, mem = d128_image
    from pgwalk.walk import translate

    t = next(t for t in (translate(setup, mem, va) for va in vas) if t.ok)
    rc, out, err = run(["translate", *opts, "--reverse", "--csv", hex(t.pa)], capsys)
    assert rc == 0 and "Traceback" not in err
    rows = [line.split(",") for line in out.splitlines()[1:]]
    found = {int(r[1], 16) for r in rows}
    assert t.va in found
    assert all(translate(setup, mem, va).pa == t.pa for va in found)