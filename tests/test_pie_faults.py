"""Issue 17, the fault side: a Permission fault's Overlay and DirtyBit flags (ASL ``FaultRecord``
fields ``overlay`` and ``dirtybit``, set by ``AArch64.S1CheckPermissions`` /
``AArch64.S2CheckPermissions``) carried in :class:`pgwalk.faults.Fault`, the ESR ISS2 bits
(``AArch64.FaultSyndrome``: DirtyBit ISS2[5], Overlay ISS2[6], AssuredOnly ISS2[7]) and PAR_EL1
(``AArch64.EncodePAR``: AssuredOnly [12], Overlay [14], DirtyBit [15]); the scalar ``at`` and the
vectorised ``bulk_at`` give the same PAR_EL1 for every PIIndex, POIndex and nDirty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk import rules as R
from pgwalk.at import at, par_decode
from pgwalk.at_many import bulk_at
from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, two_stage
from pgwalk.bulk import translate_many
from pgwalk.esr import decode_esr
from pgwalk.faults import Fault, FaultType
from pgwalk.formats import descriptors as D
from pgwalk.formats.registers import PAR_EL1_FAULT
from pgwalk.par import pack_par
from pgwalk.params import setup_from_registers
from pgwalk.perms import PermFault, s1_permission_fault
from pgwalk.walk import translate

PAGE = 0x1000
BASE = 0x10_0000
OA = 0x8000_0000
#: TCR2_EL1: PIE [1], E0POE [2], POE [3]
TCR2_PIE_POE = 0b1110


def _leaf_pa(mem, regs, va: int) -> int:
    """The PA of the stage 1 leaf descriptor of ``va`` (from the scalar walk's trace)."""
    return translate(setup_from_registers(regs), mem, va, stages="1").steps[-1].desc_pa


def _s1_tree():
    """One page per (PIIndex, nDirty): PIIndex is UXN:PXN:DBM:AP[1] (``desc<54:53,51,6>``),
    nDirty AP[2] (desc[7]); POIndex (desc[62:60]) cycles through 0..7."""
    b = TableBuilder(granule=4096, ia_bits=48)
    vas = []
    for n in range(32):
        pi, nd = n >> 1, n & 1
        va = BASE + n * PAGE
        b.map(va, OA + n * PAGE, PAGE, S1Attrs(ap=(nd << 1) | (pi & 1), dbm=(pi >> 1) & 1, pxn=(pi >> 2) & 1,
                                                uxn=pi >> 3))
        vas.append(va)
    regs = b.registers()
    mem = b.memory()
    for n, va in enumerate(vas):
        pa = _leaf_pa(mem, regs, va)
        raw = b.read(pa)
        b.write(pa, raw | (n % 8) << D.S1_POINDEX.lsb)
    return b, vas


@pytest.fixture(scope="module")
def s1_tree():
    return _s1_tree()


def _regs(b, pir, pire0, por, por_e0, tcr2=TCR2_PIE_POE):
    return b.registers(regs={"TCR2_EL1": tcr2, "PIR_EL1": pir, "PIRE0_EL1": pire0, "POR_EL1": por,
                             "POR_EL0": por_e0})


_U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


@settings(max_examples=12, deadline=None)
@given(_U64, _U64, _U64, _U64, st.sampled_from([TCR2_PIE_POE, 0b0010, 0b1010, 0b0110]))
def test_scalar_and_bulk_at_agree_on_overlay_and_dirty_bits(s1_tree, pir, pire0, por, por_e0, tcr2):
    """ASL ``AArch64.S1CheckPermissions`` through ``AArch64.EncodePAR``: for random PIR/PIRE0/POR
    values, every PIIndex x nDirty x POIndex page and every data AT, ``at`` and ``bulk_at`` write
    the same PAR_EL1 (Overlay and DirtyBit included), and the flags are the rule's verdict."""
    b, vas = s1_tree
    regs = _regs(b, pir, pire0, por, por_e0, tcr2)
    mem = b.memory()
    setup = setup_from_registers(regs)
    for op in ("S1E1R", "S1E1W", "S1E0R", "S1E0W"):
        bulk = bulk_at(setup, mem, op, vas)
        for i, va in enumerate(vas):
            scalar = at(setup, mem, op, va)
            assert scalar.par == int(bulk.par[i]), (op, hex(va), hex(scalar.par), hex(int(bulk.par[i])))
            f = scalar.translation.fault
            if f is not None and f.type is FaultType.PERMISSION:
                leaf = R.s1_leaf_permissions(setup.s1_params(va), scalar.translation.steps[-1].raw, 0, False, False)
                kind = s1_permission_fault(leaf, scalar.op.access, el0=op[3] == "0", pan=False, epan=setup.epan,
                                           wxn=setup.wxn)
                assert kind is not None
                assert (f.overlay, f.dirty_bit) == (kind is PermFault.OVERLAY, kind is PermFault.DIRTY_BIT)
            if f is not None:
                assert PAR_EL1_FAULT["Overlay"].get(scalar.par) == f.overlay
                assert PAR_EL1_FAULT["DirtyBit"].get(scalar.par) == f.dirty_bit


def test_overlay_fault_named_cases(s1_tree):
    """ASL ``AArch64.S1IndirectBasePermissions`` + ``AArch64.S1OverlayPermissions``: PIR entry
    0b0101 (RW, overlay applies) under POR entry 0b0001 (R): a read translates, a write is an
    overlay Permission fault (PAR.Overlay = 1); entry 0b1100 (RW, no overlay) ignores the POR
    entry; entry 0b1100 on an nDirty page with HD = 0 is a DirtyBit Permission fault."""
    b, vas = s1_tree
    mem = b.memory()
    # PIIndex 0 everywhere -> entry 0b0101; PIIndex 1 -> 0b1100.  POR: every entry R (0b0001)
    pir = 0b0101 | 0b1100 << 4
    por = 0x1111_1111
    regs = _regs(b, pir, 0, por, 0)
    va_pi0_clean, va_pi0_ndirty, va_pi1_clean, va_pi1_ndirty = vas[0], vas[1], vas[2], vas[3]
    r = at(regs, mem, "S1E1R", va_pi0_clean)
    assert not r.par & 1
    r = at(regs, mem, "S1E1W", va_pi0_clean)
    f = r.translation.fault
    assert f.type is FaultType.PERMISSION and f.overlay and not f.dirty_bit
    assert PAR_EL1_FAULT["Overlay"].get(r.par) == 1 and PAR_EL1_FAULT["FST"].get(r.par) == 0x0F
    assert par_decode(r.par).get("Overlay") == 1
    assert f.iss2 == 1 << 6 and "Overlay" in str(f)
    # 0b1100 is not subject to the overlay: a write to the dirty page translates ...
    assert not at(regs, mem, "S1E1W", va_pi1_clean).par & 1
    # ... and to the nDirty page (AP[2] = 1, HD = 0) is a DirtyBit fault
    r = at(regs, mem, "S1E1W", va_pi1_ndirty)
    f = r.translation.fault
    assert f.dirty_bit and not f.overlay and PAR_EL1_FAULT["DirtyBit"].get(r.par) == 1 and f.iss2 == 1 << 5
    # the overlay is checked before the dirty state: 0b0101 on an nDirty page under R is an overlay fault
    r = at(regs, mem, "S1E1W", va_pi0_ndirty)
    assert r.translation.fault.overlay and not r.translation.fault.dirty_bit
    # bulk agrees lane by lane
    bulk = bulk_at(regs, mem, "S1E1W", vas[:4])
    assert [int(x) for x in bulk.par] == [at(regs, mem, "S1E1W", v).par for v in vas[:4]]
    assert bulk.result.fault(0).overlay and bulk.result.fault(3).dirty_bit


def test_base_permission_fault_has_no_flags(s1_tree):
    """A fault the base permissions take (PIR entry 0b1000, R) carries neither flag (ASL
    ``AArch64.S1CheckPermissions`` sets ``overlay``/``dirtybit`` only for those causes)."""
    b, vas = s1_tree
    regs = _regs(b, 0x8888_8888_8888_8888, 0, 0x7777_7777, 0)
    r = at(regs, b.memory(), "S1E1W", vas[0])
    f = r.translation.fault
    assert f.type is FaultType.PERMISSION and f.flags == () and f.iss2 == 0
    assert r.par & ((1 << 12) | (1 << 13) | (1 << 14) | (1 << 15)) == 0


def test_pack_par_flag_bits():
    """ASL ``AArch64.EncodePAR``: PAR_EL1 fault format AssuredOnly [12], Overlay [14], DirtyBit [15]
    (the PAR_EL1 field table), packed alike for an int and a numpy lane."""
    assert pack_par(True, fst=0x0F, overlay=True) == pack_par(True, fst=0x0F) | 1 << 14
    assert pack_par(True, fst=0x0F, dirty_bit=True) == pack_par(True, fst=0x0F) | 1 << 15
    assert pack_par(True, fst=0x0F, assured_only=True) == pack_par(True, fst=0x0F) | 1 << 12
    arr = pack_par(np.array([True, True, False]), fst=np.array([0x0F, 0x0F, 0]), overlay=np.array([1, 0, 1], bool),
                   dirty_bit=np.array([0, 1, 1], bool), pa=np.array([0, 0, 0x1000], np.uint64))
    assert [int(x) for x in arr] == [pack_par(True, fst=0x0F, overlay=True), pack_par(True, fst=0x0F, dirty_bit=True),
                                     pack_par(False, pa=0x1000)]
    # flags are fault fields: a successful translation never shows them
    assert pack_par(False, overlay=True, pa=0x1000) == pack_par(False, pa=0x1000)


def test_fault_iss2_decodes_as_esr():
    """ASL ``AArch64.FaultSyndrome``: the flags a Fault gives, put in an ESR_EL1 Data Abort
    (EC 0x25, DFSC 0x0F), are the fields ``decode-esr`` names."""
    for kw, name in (({"overlay": True}, "Overlay"), ({"dirty_bit": True}, "DirtyBit"),
                     ({"assured_only": True}, "AssuredOnly")):
        f = Fault(FaultType.PERMISSION, 3, 1, **kw)
        esr = f.iss2 << 32 | 0x25 << 26 | 1 << 25 | f.fsc
        rep = decode_esr(esr, 1)
        fields = rep.fields
        assert fields[name] == 1 and all(fields[n] == 0 for n in ("Overlay", "DirtyBit", "AssuredOnly") if n != name)
        assert name in rep.summary


def test_stage2_overlay_fault_scalar_and_bulk():
    """ASL ``AArch64.S2IndirectBasePermissions`` / ``S2OverlayPermissions`` /
    ``AArch64.S2CheckPermissions``: S2PIR entry 0b1100 (RW) under an S2POR entry 0b1000 (RO):
    a stage 2 write is an overlay Permission fault at stage 2 (PAR.S = 1, PAR.Overlay = 1); a
    stage 2 entry 0b0000 (no access) on the page holding the stage 1 table makes the stage 1
    walk's read fault (PTW = 1, no Overlay).  Scalar and bulk agree."""
    ts = two_stage()
    va = 0x40_0000
    ts.map(va, 0x1000_0000, PAGE, S1Attrs(ap=0b00), pa=0x9000_0000, s2_attrs=S2Attrs(s2ap=0b11))
    ts.map(va + PAGE, 0x1000_0000 + PAGE, PAGE, S1Attrs(ap=0b00), pa=0x9000_0000 + PAGE, s2_attrs=S2Attrs(s2ap=0b11))
    # stage 2 identity for the stage 1 tables
    ts.s2.map(0x8000_0000, ts.s1_table_pa, 0x10000, S2Attrs(s2ap=0b11))
    regs = ts.registers(regs={"HCR_EL2": 1})
    # VTCR_EL2.S2PIE [36], S2POE [37]
    regs["VTCR_EL2"] |= 1 << 36 | 1 << 37
    mem = ts.memory()
    s2pir = 0xCCCC_CCCC_CCCC_CCCC
    s2por = 0x8888_8888_8888_8888
    regs2 = {**regs, "S2PIR_EL2": s2pir, "S2POR_EL1": s2por}
    r = at(regs2, mem, "S12E1W", va)
    f = r.translation.fault
    assert f is not None and f.stage == 2 and f.type is FaultType.PERMISSION and f.overlay, f
    assert PAR_EL1_FAULT["S"].get(r.par) == 1 and PAR_EL1_FAULT["Overlay"].get(r.par) == 1
    assert not at(regs2, mem, "S12E1R", va).par & 1
    bulk = bulk_at(regs2, mem, "S12E1W", [va, va + PAGE])
    assert [int(x) for x in bulk.par] == [at(regs2, mem, "S12E1W", v).par for v in (va, va + PAGE)]
    # the stage 1 walk's read, denied by the overlay (S2POR entry 0b0000): an overlay fault, PTW = 1
    regs3 = {**regs, "S2PIR_EL2": s2pir, "S2POR_EL1": 0}
    r = at(regs3, mem, "S12E1R", va)
    f = r.translation.fault
    assert f.s1ptw and f.overlay and PAR_EL1_FAULT["PTW"].get(r.par) == 1 and PAR_EL1_FAULT["Overlay"].get(r.par)
    bulk = bulk_at(regs3, mem, "S12E1R", [va])
    assert int(bulk.par[0]) == r.par and bulk.result.fault(0).overlay


# --------------------------------------------------------------------------- FEAT_HAFT

def _haft_tree():
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(BASE, OA, PAGE, S1Attrs(af=0))
    return b


def test_haft_reports_table_af_updates():
    """ASL ``AArch64.S1Walk``: with ``walkparams.haft`` (TCR2_EL1.HAFT, effective with HA = 1 and
    FEAT_HAFT: ``AArch64.GetS1TTWParams``) each table descriptor with AF = 0 gets AF set on the way
    down (``new_descriptor<10> = '1'``), and a table's AF = 0 never faults."""
    b = _haft_tree()
    mem = b.memory()
    tcr_ha = 1 << 39
    regs = b.registers()
    regs = {**regs, "TCR_EL1": regs["TCR_EL1"] | tcr_ha, "TCR2_EL1": 1 << 11}
    t = translate(setup_from_registers(regs), mem, BASE)
    tables = [s for s in t.steps if s.kind == "table"]
    assert t.ok and len(tables) == 3 and all(not (s.raw >> 10) & 1 for s in tables)
    assert [u for u in t.af_updates if u.table] == [(1, s.level, None, True) for s in tables]
    assert any(u.stage == 1 and u.level == 3 and not u.table for u in t.af_updates)   # the leaf: HA
    # every walk reports them: a second walk of the same VA (and a neighbour) with one setup and
    # memory, where the scalar walker's caches are warm, reports the same table updates
    setup = setup_from_registers(regs)
    for va in (BASE, BASE, BASE + 8):
        again = translate(setup, mem, va)
        assert [u for u in again.af_updates if u.table] == [(1, s.level, None, True) for s in tables]
    # a table descriptor whose AF is already 1 is not updated
    b.write(tables[1].desc_pa, tables[1].raw | 1 << 10)
    t = translate(setup_from_registers(regs), b.memory(), BASE)
    assert [u.level for u in t.af_updates if u.table] == [tables[0].level, tables[2].level]
    # the update happens on the way down even when the walk faults later (here: a write to a read-only page)
    b2 = TableBuilder(granule=4096, ia_bits=48)
    b2.map(BASE, OA, PAGE, S1Attrs(ap=0b10))
    r2 = b2.registers()
    r2 = {**r2, "TCR_EL1": r2["TCR_EL1"] | tcr_ha, "TCR2_EL1": 1 << 11}
    from pgwalk.perms import Access
    t = translate(setup_from_registers(r2), b2.memory(), BASE, access=Access.WRITE)
    assert t.fault is not None and len([u for u in t.af_updates if u.table]) == 3


def test_haft_needs_ha_and_feat_haft():
    """``AArch64.GetS1TTWParams``: HAFT counts only with HA = 1 and FEAT_HAFT (ID_AA64MMFR1_EL1.HAFDBS
    >= 0b0011); otherwise no table update, and a note says why."""
    b = _haft_tree()
    mem = b.memory()
    regs = {**b.registers(), "TCR2_EL1": 1 << 11}
    s = setup_from_registers(regs)
    assert not any(u.table for u in translate(s, mem, BASE).af_updates)
    assert any("HAFT = 1 has no effect: HA = 0" in n for n in s.notes)
    regs["TCR_EL1"] |= 1 << 39
    s = setup_from_registers({**regs, "ID_AA64MMFR1_EL1": 0x2})
    assert not any(u.table for u in translate(s, mem, BASE).af_updates)
    assert any("FEAT_HAFT is not implemented" in n for n in s.notes)
    s = setup_from_registers({**regs, "ID_AA64MMFR1_EL1": 0x3})
    assert len([u for u in translate(s, mem, BASE).af_updates if u.table]) == 3


def _s2_haft_regs(extra_vtcr: int = 1 << 21 | 1 << 44):
    """Two stages, VA 0x40_0000 -> IPA 0x1000_0000 -> PA 0x9000_0000, stage 2 pages AF = 1 and
    every stage 2 table AF = 0; ``extra_vtcr`` added to VTCR_EL2 (default HA [21], HAFT [44])."""
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, PAGE, S1Attrs(), pa=0x9000_0000)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= extra_vtcr
    return regs, ts.memory()


def test_s2_haft_reports_stage2_table_af_updates():
    """ASL ``AArch64.S2Walk`` (FEAT_HAFT): with ``walkparams.haft`` (VTCR_EL2.HAFT, effective with
    VTCR_EL2.HA = 1 and FEAT_HAFT: ``AArch64.NSS2TTWParams``) each stage 2 table descriptor with
    AF = 0 gets AF set on the way down (``new_descriptor<10> = '1'``), in the translation's own
    stage 2 walk and in those of the stage 1 table fetches (``s1_level`` the stage 1 level)."""
    regs, mem = _s2_haft_regs()
    setup = setup_from_registers(regs)
    assert setup.s2.haft and not any("HAFT" in n for n in setup.notes)
    t = translate(setup, mem, 0x40_0000)
    assert t.ok and t.pa == 0x9000_0000
    s2_tables = [s for s in t.steps if s.stage == 2 and s.kind == "table"]
    assert s2_tables and all(not (s.raw >> 10) & 1 for s in s2_tables)
    got = [u for u in t.af_updates if u.table]
    assert all(u.stage == 2 for u in got)
    # one update per stage 2 table descriptor the walks used, in walk order, each with the stage 1
    # level whose fetch it served (None: the translation's own stage 2 walk, the last one)
    s1_levels = [s.level for s in t.steps if s.stage == 1]
    per_walk = len(s2_tables) // (len(s1_levels) + 1)
    assert len(s2_tables) == per_walk * (len(s1_levels) + 1)
    expect = [(2, s2_tables[i].level, lvl, True) for k, lvl in enumerate(s1_levels + [None])
              for i in range(k * per_walk, (k + 1) * per_walk)]
    assert got == expect
    # the same again with the walker's caches warm
    assert [u for u in translate(setup, mem, 0x40_0000).af_updates if u.table] == expect
    # stage 2 alone: the IPA's own walk only
    t2 = translate(setup, mem, 0x1000_0000, stages="2")
    assert [u for u in t2.af_updates if u.table] == [(2, s.level, None, True) for s in t2.steps if s.kind == "table"]


def test_s2_haft_needs_ha_and_feat_haft():
    """``AArch64.NSS2TTWParams``: ``haft`` = VTCR_EL2.HAFT only with FEAT_HAFT and VTCR_EL2.HA = 1;
    otherwise no stage 2 table update and a note says why (no longer "not modelled")."""
    regs, mem = _s2_haft_regs(1 << 44)                              # HAFT without HA
    s = setup_from_registers(regs)
    assert not s.s2.haft and not any(u.table for u in translate(s, mem, 0x40_0000).af_updates)
    assert any("VTCR_EL2.HAFT = 1 has no effect: HA = 0" in n for n in s.notes)
    assert not any("HAFT = 1 is not modelled" in n for n in s.notes)
    regs, mem = _s2_haft_regs()
    s = setup_from_registers({**regs, "ID_AA64MMFR1_EL1": 0x2})
    assert not any(u.table for u in translate(s, mem, 0x40_0000).af_updates)
    assert any("VTCR_EL2.HAFT = 1 has no effect: FEAT_HAFT is not implemented" in n for n in s.notes)
    s = setup_from_registers({**regs, "ID_AA64MMFR1_EL1": 0x3})
    assert s.s2.haft and any(u.table for u in translate(s, mem, 0x40_0000).af_updates)


# --------------------------------------------------------------------------- FEAT_THE: stage 2 AssuredOnly

VTCR_ASSUREDONLY, VTCR_TL1, VTCR_S2PIE, VTCR_GCSH, VTCR_TL0 = 1 << 34, 1 << 35, 1 << 36, 1 << 40, 1 << 41
S2PIR_MRO_AT_1 = 0b0010 << 4        # S2PIR_EL2[1] = MRO: read, and writable only by the hardware/RCW
#: S2PIR_EL2[1] = MRO-TL0 (MRO with the TopLevel0 attribute the TTBR0 top-level table fetch needs with
#: VTCR_EL2.TL0 = 1), S2PIR_EL2[3] = RO: the stage 2 page of a fetch made PIIndex 3 (DBM set) is RO, not MRO
S2PIR_MRO_TL0_AT_1_RO_AT_3 = 0b0110 << 4 | 0b1000 << 12


def _assured_setup(*, pnch: bool, protected: bool = True, s2pir: int = S2PIR_MRO_TL0_AT_1_RO_AT_3,
                   assured_page: bool = True, tl0: bool = True, ro_fetch: int | None = None,
                   assured_fetch: int | None = None):
    """VA 0x40_0000 -> IPA 0x1000_0000 -> PA 0x9000_0000, every stage 2 page with S2AP = 0b01 (read
    only: PIIndex 1 under S2PIE); ``assured_page``: the data page's stage 2 descriptor has bit 58
    (AssuredOnly) set; ``protected``: every stage 1 descriptor has bit 52 (Protected) set; ``tl0``:
    VTCR_EL2.TL0 = 1 (the TTBR0 walk starts Assured, ASL ``AArch64.S1InitialTTWState``);
    ``ro_fetch``: the stage 2 page of that stage 1 level's table fetch gets PIIndex 3 (RO);
    ``assured_fetch``: that fetch's stage 2 page gets bit 58."""
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, PAGE, S1Attrs(), pa=0x9000_0000, s2_attrs=S2Attrs(s2ap=0b01))
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_ASSUREDONLY | VTCR_S2PIE | (VTCR_TL0 if tl0 else 0)
    regs["S2PIR_EL2"] = s2pir
    regs["TCR2_EL1"] = int(pnch)                               # PnCH [0]
    t = translate(setup_from_registers({**regs, "VTCR_EL2": regs["VTCR_EL2"] & ~VTCR_TL0}), ts.memory(), 0x40_0000)
    for step in t.steps:
        if step.stage == 1 and protected:
            ts.s1.write(step.desc_addr, step.raw | 1 << 52)
    for lv, bit in ((ro_fetch, 51), (assured_fetch, 58)):
        if lv is not None:
            leaf = [st for st in t.steps if st.stage == 2 and st.s1_level == lv][-1]
            ts.s2.write(leaf.desc_pa, ts.s2.read(leaf.desc_pa) | 1 << bit)
    if assured_page:
        leaf = [st for st in t.steps if st.stage == 2][-1]
        ts.s2.write(leaf.desc_pa, leaf.raw | 1 << 58)
    return regs, ts.memory()


def test_s2_assured_only_faults_unless_stage1_is_assured():
    """ASL ``AArch64.S2CheckPermissions``: an access to a page whose ``s2assuredonly`` is 1 (desc[58]
    with VTCR_EL2.AssuredOnly: ``AArch64.S2NextWalkStateLeaf``) is a Permission fault with
    ``fault.assuredonly`` unless ``ipa.s1assured``: the stage 1 walk started Assured (Arm ARM M.a.a
    ``AArch64.S1InitialTTWState``: VTCR_EL2.TL0 for a TTBR0 walk) and every descriptor kept it
    (``AArch64.S1NextWalkStateTable``/``Leaf``: Protected bit 52 with TCR2_EL1.PnCH, and
    ``s2fs1mro``, the stage 2 MRO of its fetch)."""
    from pgwalk.perms import Access
    regs, mem = _assured_setup(pnch=True)
    setup = setup_from_registers(regs)
    assert setup.s2.perm.assuredonly and any("bit 58 is AssuredOnly" in n for n in setup.notes)
    ok = translate(setup, mem, 0x40_0000, access=Access.READ)
    assert ok.ok and ok.pa == 0x9000_0000                     # Assured: permitted
    for why, kw in (("PnCH = 0", dict(pnch=False)), ("a descriptor not Protected", dict(pnch=True, protected=False)),
                    ("VTCR_EL2.TL0 = 0: the TTBR0 walk never starts Assured", dict(pnch=True, tl0=False)),
                    ("stage 2 RO, not MRO, under the level 2 table", dict(pnch=True, ro_fetch=2))):
        r, m = _assured_setup(**kw)
        t = translate(setup_from_registers(r), m, 0x40_0000, access=Access.READ)
        f = t.fault
        assert f is not None and f.type is FaultType.PERMISSION and f.stage == 2 and f.level == 3, why
        assert f.assured_only and not f.overlay and not f.s1ptw and "AssuredOnly" in f.reason, why
        assert f.iss2 >> 7 & 1, why                            # ISS2.AssuredOnly [7]
        assert translate(setup_from_registers(r), m, 0x40_0000, access=Access.ANY).fault.assured_only, why
        par = at(r, m, "S12E1R", 0x40_0000).par
        assert PAR_EL1_FAULT["AssuredOnly"].get(par) == 1, why
        # a page without the attribute: no AssuredOnly check
        r2, m2 = _assured_setup(assured_page=False, **kw)
        assert translate(setup_from_registers(r2), m2, 0x40_0000, access=Access.READ).ok, why
        # no permission judged (access None): no fault
        assert translate(setup_from_registers(r), m, 0x40_0000).ok, why
    # FEAT_THE not implemented: VTCR_EL2.AssuredOnly has no effect
    r, m = _assured_setup(pnch=False)
    s = setup_from_registers({**r, "ID_AA64PFR1_EL1": 0})
    assert not s.s2.perm.assuredonly and translate(s, m, 0x40_0000, access=Access.READ).ok
    assert any("AssuredOnly = 1 has no effect" in n for n in s.notes)


def test_s2_assured_only_stage2_alone_and_bulk():
    """A stage-2-only translation has no stage 1 translation: taken as not Assured (ASL: an
    ``AddressDescriptor`` is made with ``s1assured`` FALSE, as with stage 1 disabled), noted.  The
    vectorised walk judges the check as the scalar walk does (PAR_EL1.AssuredOnly included)."""
    from pgwalk.perms import Access
    regs, mem = _assured_setup(pnch=True)
    setup = setup_from_registers(regs)
    t = translate(setup, mem, 0x1000_0000, stages="2", access=Access.READ)
    assert t.fault is not None and t.fault.assured_only
    # stage 1 disabled (SCTLR_EL1.M = 0): ASL CreateAddressDescriptor, s1assured FALSE, even with PnCH
    off = setup_from_registers({**regs, "SCTLR_EL1": regs["SCTLR_EL1"] & ~1})
    t = translate(off, mem, 0x1000_0000, access=Access.READ)
    assert t.s1_disabled and t.fault is not None and t.fault.assured_only
    # stage 1 on: its table fetches meet the FEAT_THE checks too (Arm ARM M.a.a: TopLevel, AssuredOnly
    # with the walk's Assured property so far), which bulk judges as the scalar walk, for the stage 1
    # walk alone too: the faults and their flags, and PAR_EL1, lane by lane
    kinds = set()
    for kw in (dict(pnch=True), dict(pnch=False), dict(pnch=True, protected=False), dict(pnch=True, tl0=False),
               dict(pnch=True, ro_fetch=2), dict(pnch=True, assured_fetch=0, tl0=False),
               dict(pnch=True, assured_fetch=2), dict(pnch=False, assured_fetch=1),
               dict(pnch=True, protected=False, assured_fetch=3), dict(pnch=True, ro_fetch=1, assured_fetch=2),
               dict(pnch=True, s2pir=0b0010 << 4)):
        r, m = _assured_setup(**kw)
        s = setup_from_registers(r)
        vas = [0x40_0000, 0x40_0008, 0x1000_0000]
        for stages in (None, "1"):
            for access in (None, Access.READ, Access.WRITE):
                res = translate_many(s, m, np.array(vas, dtype=np.uint64), stages=stages, access=access)
                for i, va in enumerate(vas):
                    t = translate(s, m, va, stages=stages, access=access)
                    f, b = t.fault, res.fault(i)
                    assert (None if b is None else (b.type, b.level, b.stage, b.s1ptw, b.ipa, b.flags)) == \
                        (None if f is None else (f.type, f.level, f.stage, f.s1ptw, f.ipa, f.flags)), (kw, hex(va))
                    if f is not None and f.flags:
                        kinds.add((f.flags, f.s1ptw))
        for op in ("S12E1R", "S1E1R", "S12E0W"):
            assert [int(x) for x in bulk_at(r, m, op, vas).par] == [at(r, m, op, va).par for va in vas], (kw, op)
    assert kinds == {(("AssuredOnly",), False), (("AssuredOnly",), True), (("TopLevel",), True)}, kinds
    # stage 1 disabled: bulk judges the check as the scalar walk does, PAR_EL1.AssuredOnly included
    r = {**regs, "SCTLR_EL1": regs["SCTLR_EL1"] & ~1}
    for op, va in (("S12E1R", 0x1000_0000), ("S12E1R", 0x40_0000), ("S12E0W", 0x1000_0000)):
        assert int(bulk_at(r, mem, op, [va]).par[0]) == at(r, mem, op, va).par, (op, hex(va))
    assert PAR_EL1_FAULT["AssuredOnly"].get(int(bulk_at(r, mem, "S12E1R", [0x1000_0000]).par[0])) == 1


def test_s2_gcsh_gcs_access_needs_assured_only_page():
    """ASL ``AArch64.S2CheckPermissions``: with FEAT_GCS and VTCR_EL2.GCSH = 1 a GCS access from EL1
    to a page whose ``s2assuredonly`` is 0 is a Permission fault with ``fault.assuredonly``; from
    EL0, or a non-GCS access, it is not."""
    from pgwalk.perms import Access
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, PAGE, S1Attrs(), pa=0x9000_0000)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_GCSH
    mem = ts.memory()
    IPA = 0x1000_0000
    setup = setup_from_registers(regs)
    t = translate(setup, mem, IPA, stages="2", access=Access.GCS_READ, el=1)
    assert t.fault is not None and t.fault.assured_only and t.fault.stage == 2 and "GCSH" in t.fault.reason
    assert translate(setup, mem, IPA, stages="2", access=Access.READ, el=1).ok
    assert translate(setup, mem, IPA, stages="2", access=Access.GCS_READ, el=0).fault is None
    s = setup_from_registers({**regs, "ID_AA64PFR1_EL1": 0})   # FEAT_GCS not implemented: GCSH not read
    assert translate(s, mem, IPA, stages="2", access=Access.GCS_READ, el=1).ok


def test_s2_assured_only_on_a_stage1_table_fetch():
    """Arm ARM M.a.a ``AArch64.S2CheckPermissions``, ``AccessType_TTW`` branch: a stage 1 table fetch
    from a stage 2 AssuredOnly page faults (stage 2, S1PTW, AssuredOnly) unless the walk is Assured
    so far (``AArch64.S1Walk``: ``walkaddress.s1assured = walkstate.s1assured``)."""
    from pgwalk.perms import Access
    regs, mem = _assured_setup(pnch=True, assured_fetch=1, assured_page=False)
    assert translate(setup_from_registers(regs), mem, 0x40_0000, access=Access.READ).ok   # Assured all along
    for why, kw in (("PnCH = 0: not Assured after level 0", dict(pnch=False)),
                    ("TL0 = 0: never Assured", dict(pnch=True, tl0=False))):
        r, m = _assured_setup(assured_fetch=1, assured_page=False, **kw)
        t = translate(setup_from_registers(r), m, 0x40_0000)        # no access judged: the walk itself faults
        f = t.fault
        assert f is not None and f.type is FaultType.PERMISSION and f.stage == 2 and f.s1ptw, why
        assert f.assured_only and not f.toplevel and "walk so far is not Assured" in f.reason, why
        assert t.steps[-1].stage == 1 and t.steps[-1].level == 1 and t.steps[-1].kind == "s2 fault", why
        assert PAR_EL1_FAULT["AssuredOnly"].get(at(r, m, "S1E1R", 0x40_0000).par) == 1, why


# --------------------------------------------------------------------------- FEAT_THE: what the notes say

def test_the_controls_notes_say_what_is_modelled():
    """FEAT_THE: TopLevel (VTCR_EL2.TL0/TL1, S2PIR MRO-TL0/TL1), AssuredOnly (VTCR_EL2.AssuredOnly,
    stage 2 desc[58]) and TCR2_ELx.PnCH are modelled now: the setup notes say what each does (PnCH:
    bit 52 is Protected and the Contiguous hint reads as 0, ASL ``AArch64.S1NextWalkStateLeaf``), and
    that each has no effect without FEAT_THE."""
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, PAGE, S1Attrs(), pa=0x9000_0000)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= 1 << 34 | 1 << 35 | 1 << 41       # AssuredOnly, TL1, TL0
    regs["TCR2_EL1"] = 1                                   # PnCH
    notes = "\n".join(setup_from_registers(regs).notes)
    assert "not modelled" not in notes and "bit 58 is AssuredOnly" in notes
    assert "VTCR_EL2.TL0 = 1 (FEAT_THE): the top-level stage 1 table of a TTBR0 walk" in notes
    assert "VTCR_EL2.TL1 = 1 (FEAT_THE): the top-level stage 1 table of a TTBR1 walk" in notes
    assert "TCR2_EL1.PnCH = 1 (FEAT_THE): descriptor bit 52 is the Protected attribute, not the Contiguous hint" in notes
    off = "\n".join(setup_from_registers({**regs, "ID_AA64PFR1_EL1": 0}).notes)
    for what in ("VTCR_EL2.AssuredOnly", "VTCR_EL2.TL0", "VTCR_EL2.TL1", "TCR2_EL1.PnCH"):
        assert f"{what} = 1 has no effect: FEAT_THE is not implemented" in off, what
