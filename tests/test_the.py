"""Issue 17, FEAT_THE from the Arm ARM M.a.a ASL: the stage 2 TopLevel check of a stage 1 walk's
top-level table fetch (``AArch64.S2CheckPermissions``, ``AccessType_TTW`` branch, with
``accdesc.toplevel``/``varange`` from ``CreateAccDescS1TTW``; VTCR_EL2.TL0/TL1; the S2PIR_EL2 /
S2POR_EL1 encodings MRO-TL0 0b0110, MRO-TL1 0b0011, MRO-TL01 0b0111 of
``AArch64.S2IndirectBasePermissions`` / ``S2OverlayPermissions`` combined by
``AArch64.S2ComputePermissions``), its syndrome (``AArch64.FaultSyndrome``: ESR ISS[21] TopLevel;
``AArch64.EncodePAR``: PAR_EL1.TopLevel [13]), and TCR2_ELx.PnCH's effect on the Contiguous bit
(``AArch64.S1NextWalkStateLeaf``, ``AArch64.ContiguousBit``)."""

from __future__ import annotations

import numpy as np
import pytest

from pgwalk import rules as R
from pgwalk.at import at, par_decode
from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, two_stage
from pgwalk.bulk import translate_many
from pgwalk.esr import decode_esr
from pgwalk.faults import FaultType
from pgwalk.formats.registers import PAR_EL1_FAULT
from pgwalk.par import pack_par
from pgwalk.params import S2PermParams, setup_from_registers
from pgwalk.perms import (S2PIR_TEXT, Access, PermFault, s2_indirect_base_permissions, s2_permission_fault,
                          s2_toplevel_attrs)
from pgwalk.walk import translate

PAGE = 0x1000
VA0, VA1 = 0x40_0000, 0xFFFF_0000_0040_0000
IPA, PA = 0x1000_0000, 0x9000_0000
VTCR_TL1, VTCR_S2PIE, VTCR_S2POE, VTCR_TL0 = 1 << 35, 1 << 36, 1 << 37, 1 << 41
MRO, MRO_TL1, MRO_TL0, MRO_TL01, RO, RW, WO = 0b0010, 0b0011, 0b0110, 0b0111, 0b1000, 0b1100, 0b0100
#: a stage 2 page descriptor with S2AP = 0b01: PIIndex 1 under S2PIE (desc<54:53,51,6>)
S2_PAGE_PI1 = 0x4000_0000 | 1 << 10 | 0b01 << 6 | 0b11


# --------------------------------------------------------------------------- the rule functions

def test_s2pir_toplevel_encodings():
    """``AArch64.S2IndirectBasePermissions``: MRO-TL0/TL1/TL01 are MRO (read; writable by RCW and
    hardware updates only) with the TopLevel0/TopLevel1 attributes the S2PIR_EL2 field description
    names (D24.2.166); no other entry has either."""
    names = {"MRO-TL0": (True, False), "MRO-TL1": (False, True), "MRO-TL01": (True, True)}
    mro = s2_indirect_base_permissions(pi_index=1, s2pi=MRO, dirty=True, hd=False)
    for e in range(16):
        p = s2_indirect_base_permissions(pi_index=1, s2pi=e, dirty=True, hd=False)
        want = names.get(S2PIR_TEXT[e], (False, False))
        assert s2_toplevel_attrs(e) == want and (p.toplevel0, p.toplevel1) == want, bin(e)
        if e in (MRO_TL0, MRO_TL1, MRO_TL01):
            assert (p.r, p.w, p.w_mmu, p.x_el1, p.x_el0) == (mro.r, mro.w, mro.w_mmu, mro.x_el1, mro.x_el0)


def _s2perms(s2pir: int | None = None, *, tl0=False, tl1=False, s2por: int | None = None, raw=S2_PAGE_PI1):
    perm = S2PermParams(s2pie=s2pir is not None, s2pir=s2pir if s2pir is not None else 0,
                        s2poe=s2por is not None, s2por=s2por if s2por is not None else 0, tl0=tl0, tl1=tl1)
    return R.s2_compute_permissions(raw, hd=False, xnx=True, perm=perm)


#: (varange, TL0, TL1) -> the top-level fetch's outcome on a page that is MRO, MRO-TL0, MRO-TL1,
#: MRO-TL01 ("F": TopLevel fault), read off the ASL: TTBR0 faults when TL0 and the page lacks
#: TopLevel0, or TL1 and the page is TopLevel1 only; TTBR1 the same with 0 and 1 swapped
TRUTH = {
    (0, 0, 0): "....", (0, 1, 0): "F.F.", (0, 0, 1): "..F.", (0, 1, 1): "F.F.",
    (1, 0, 0): "....", (1, 0, 1): "FF..", (1, 1, 0): ".F..", (1, 1, 1): "FF..",
}


@pytest.mark.parametrize("key", sorted(TRUTH))
def test_s2_toplevel_check_truth_table(key):
    """``AArch64.S2CheckPermissions``: the TopLevel fault of a top-level table fetch for every
    VTCR_EL2.{TL0, TL1}, VA range and TopLevel encoding; never for a lower-level fetch, never for a
    data access (the TTW branch only)."""
    varange, tl0, tl1 = key
    got = ""
    for entry in (MRO, MRO_TL0, MRO_TL1, MRO_TL01):
        p = _s2perms(entry << 4, tl0=bool(tl0), tl1=bool(tl1))
        kind = s2_permission_fault(p, None, el0=False, toplevel=varange)
        assert kind in (None, PermFault.TOPLEVEL)
        got += "F" if kind is PermFault.TOPLEVEL else "."
        assert s2_permission_fault(p, None, el0=False, toplevel=None) is None
        assert s2_permission_fault(p, Access.READ, el0=False) is None
        if kind is not None:
            assert kind.fault_flags == {"overlay": False, "dirty_bit": False, "assured_only": False, "toplevel": True}
            assert kind.syndrome_flag == "ISS.TopLevel"
    assert got == TRUTH[key]


def test_s2_direct_permissions_have_no_toplevel_attribute():
    """``AArch64.S2DirectBasePermissions`` sets toplevel0 = toplevel1 = 0: with VTCR_EL2.TL0 = 1 and
    S2PIE off, every TTBR0 top-level fetch faults; TL1 alone does not touch TTBR0 walks."""
    raw = S2_PAGE_PI1 | 0b11 << 6                                # S2AP = RW
    assert s2_permission_fault(_s2perms(tl0=True, raw=raw), None, el0=False, toplevel=0) is PermFault.TOPLEVEL
    assert s2_permission_fault(_s2perms(tl1=True, raw=raw), None, el0=False, toplevel=0) is None
    assert s2_permission_fault(_s2perms(tl1=True, raw=raw), None, el0=False, toplevel=1) is PermFault.TOPLEVEL


@pytest.mark.parametrize("base, overlay, want", [
    (RW, MRO_TL0, (True, False)),       # RW AND MRO is MRO: the overlay's TopLevel0 counts
    (MRO_TL1, RW, (False, True)),       # MRO AND RW is MRO: the base's TopLevel1 counts
    (MRO_TL0, MRO_TL1, (True, True)),   # both MRO: OR of the two
    (MRO_TL0, RO, (False, False)),      # RO has w_rcw = w_mmu = 0: not MRO, TopLevel cleared
    (MRO_TL01, WO, (False, False)),     # WO: w_mmu = 0
    (RW, RW, (False, False)),           # writable: not MRO
])
def test_s2_overlay_toplevel_only_where_mro(base, overlay, want):
    """``AArch64.S2ComputePermissions``: with S2POE the TopLevel attributes are the OR of base and
    overlay where ``(<w,w_rcw,w_mmu> AND <ow,ow_rcw,ow_mmu>) == '011'``, else both 0."""
    p = _s2perms(base << 4, s2por=overlay, tl0=True)              # POIndex 0: S2POR_EL1[0]
    assert (p.toplevel0, p.toplevel1) == want
    assert (s2_permission_fault(p, None, el0=False, toplevel=0) is PermFault.TOPLEVEL) == (not want[0])


# --------------------------------------------------------------------------- the walk

def _walk_setup(*, vtcr: int = 0, s2pir: int | None = None, ttbr: int = 0, fetch_pi3: tuple[int, ...] = (),
                regs_extra: dict | None = None):
    """VA (TTBR``ttbr``) -> IPA 0x1000_0000 -> PA 0x9000_0000, every stage 2 page PIIndex 1 under
    S2PIE (S2AP = 0b01 for the data, RW for the stage 1 tables); ``fetch_pi3``: the stage 2 pages of
    those stage 1 levels' table fetches get DBM (PIIndex 3).  S2PIR_EL2 is ``s2pir`` (None: S2PIE off)."""
    va = VA1 if ttbr else VA0
    ts = two_stage()
    ts.map(va, IPA, PAGE, S1Attrs(), pa=PA, s2_attrs=S2Attrs(s2ap=0b01))
    regs = ts.registers(ttbr=ttbr, regs={"HCR_EL2": 1})
    t = translate(setup_from_registers(regs), ts.memory(), va)
    assert t.ok, t.fault
    for lv in fetch_pi3:
        leaf = [st for st in t.steps if st.stage == 2 and st.s1_level == lv][-1]
        ts.s2.write(leaf.desc_pa, leaf.raw | 1 << 51)
    regs["VTCR_EL2"] |= vtcr | (VTCR_S2PIE if s2pir is not None else 0)
    if s2pir is not None:
        regs["S2PIR_EL2"] = s2pir
    regs.update(regs_extra or {})
    return va, regs, ts.memory()


def test_walk_toplevel_fault_syndrome_and_trace():
    """VTCR_EL2.TL0 = 1, a TTBR0 walk whose top-level table is on a stage 2 MRO page (no TopLevel0):
    a stage 2 level 3 Permission fault on the stage 1 walk with ``Fault.toplevel``; the trace ends in
    the level 0 fetch; ESR ISS[21] and PAR_EL1.TopLevel [13] carry it and decode back; MRO-TL0 lets
    the walk through.  Without FEAT_THE (ID_AA64PFR1_EL1.THE = 0) TL0 has no effect."""
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0, s2pir=MRO << 4)
    t = translate(setup_from_registers(regs), mem, va, access=Access.READ)
    f = t.fault
    assert f is not None and f.type is FaultType.PERMISSION and f.stage == 2 and f.s1ptw and f.level == 3
    assert f.toplevel and not (f.overlay or f.dirty_bit or f.assured_only) and f.flags == ("TopLevel",)
    assert f.iss == 1 << 21 and f.iss2 == 0 and "TopLevel" in str(f)
    assert "TTBR0" in f.reason and "TL0 = 1 needs TopLevel0" in f.reason and "MRO" in f.reason
    last = t.steps[-1]
    assert (last.stage, last.level, last.kind) == (1, 0, "s2 fault")
    # ESR: a Data Abort from a lower EL with ISV = 0 (EC 0x24), S1PTW; and an Instruction Abort (EC 0x20)
    for ec in (0x24, 0x20):
        esr = ec << 26 | 1 << 25 | f.iss | 1 << 7 | f.fsc
        rep = decode_esr(esr, 2)
        assert rep.fields["TopLevel"] == 1 and "TopLevel" in rep.summary, ec
        assert "TopLevel" not in decode_esr(esr & ~f.iss, 2).summary
    # ISV = 1: bit 21 is SSE, not TopLevel
    assert "TopLevel" not in decode_esr(0x24 << 26 | 1 << 25 | 1 << 24 | f.iss | 1 << 7 | f.fsc, 2).summary
    # PAR_EL1 (AT S12E1R): F, S, PTW and TopLevel
    par = at(regs, mem, "S12E1R", va).par
    assert par == pack_par(True, fst=f.fsc, s1ptw=True, stage2=True, toplevel=True)
    assert PAR_EL1_FAULT["TopLevel"].get(par) == 1 and pack_par(True, fst=0x0F, toplevel=True) == 0x281F
    d = par_decode(par)
    assert d["TopLevel"] == 1 and "TopLevel" in d["summary"]
    # MRO-TL0 (and MRO-TL01): the top-level fetch is allowed
    for entry in (MRO_TL0, MRO_TL01):
        ok = translate(setup_from_registers({**regs, "S2PIR_EL2": entry << 4}), mem, va, access=Access.READ)
        assert ok.ok and ok.pa == PA, bin(entry)
    # FEAT_THE not implemented: VTCR_EL2.TL0 is not read
    assert translate(setup_from_registers({**regs, "ID_AA64PFR1_EL1": 0}), mem, va, access=Access.READ).ok


def test_walk_toplevel_checks_only_the_top_level_fetch():
    """``AArch64.S1Walk``: ``toplevel`` is ``walkstate.level == startlevel``: the lower levels' tables
    may sit on stage 2 RO pages (PIIndex 3 -> S2PIR_EL2[3] = RO) with TL0 = 1; the top-level one may not."""
    s2pir = MRO_TL0 << 4 | RO << 12
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0, s2pir=s2pir, fetch_pi3=(1, 2, 3))
    assert translate(setup_from_registers(regs), mem, va, access=Access.READ).ok
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0, s2pir=s2pir, fetch_pi3=(0,))
    f = translate(setup_from_registers(regs), mem, va, access=Access.READ).fault
    assert f is not None and f.toplevel and f.s1ptw


@pytest.mark.parametrize("ttbr, vtcr, entry, faults", [
    (1, VTCR_TL1, MRO_TL1, False), (1, VTCR_TL1, MRO, True), (1, VTCR_TL1, MRO_TL0, True),
    (1, VTCR_TL1, MRO_TL01, False),
    (1, VTCR_TL0, MRO_TL0, True), (1, VTCR_TL0, MRO, False), (1, VTCR_TL0, MRO_TL01, False),
    (0, VTCR_TL1, MRO_TL1, True), (0, VTCR_TL1, MRO, False), (0, VTCR_TL1, MRO_TL0, False),
])
def test_walk_toplevel_by_va_range(ttbr, vtcr, entry, faults):
    """The VA range (``AArch64.GetVARange``, VA[55]) picks which TopLevel a top-level fetch needs:
    a TTBR1 walk needs TopLevel1 with TL1 and must avoid TopLevel0-only pages with TL0; a TTBR0 walk
    must avoid TopLevel1-only pages with TL1."""
    va, regs, mem = _walk_setup(vtcr=vtcr, s2pir=entry << 4, ttbr=ttbr)
    t = translate(setup_from_registers(regs), mem, va)            # no access judged: the walk's own fetch
    assert (t.fault is not None and t.fault.toplevel) == faults, t.fault
    if faults:
        assert f"TTBR{ttbr} walk" in t.fault.reason


def test_walk_toplevel_with_direct_stage2_permissions():
    """S2PIE off: no page has TopLevel0, so TL0 = 1 stops every TTBR0 walk at its top-level fetch."""
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0)
    t = translate(setup_from_registers(regs), mem, va)
    assert t.fault is not None and t.fault.toplevel and "direct stage 2 permissions" in t.fault.reason
    va, regs, mem = _walk_setup(vtcr=VTCR_TL1)
    assert translate(setup_from_registers(regs), mem, va).ok


def test_walk_toplevel_through_the_overlay():
    """S2POE: an S2PIR RW page under an S2POR MRO-TL0 overlay is MRO with TopLevel0 (the walk passes);
    under an RO overlay it has no TopLevel0 (the top-level fetch faults, flagged TopLevel, not Overlay)."""
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0 | VTCR_S2POE, s2pir=RW << 4, regs_extra={"S2POR_EL1": MRO_TL0})
    assert translate(setup_from_registers(regs), mem, va).ok
    f = translate(setup_from_registers({**regs, "S2POR_EL1": RO}), mem, va).fault
    assert f is not None and f.toplevel and not f.overlay and "S2POIndex 0" in f.reason


@pytest.mark.parametrize("ttbr, vtcr, entry", [
    (0, VTCR_TL0, MRO), (0, VTCR_TL0, MRO_TL0), (0, VTCR_TL1, MRO_TL1), (1, VTCR_TL1, MRO),
    (1, VTCR_TL1, MRO_TL1), (1, VTCR_TL0, MRO_TL0), (1, VTCR_TL0 | VTCR_TL1, MRO_TL01),
])
def test_bulk_judges_toplevel_as_the_scalar_walk(ttbr, vtcr, entry):
    """The vectorised walk judges the TopLevel check of the top-level fetch as the scalar walk does
    (fault, ``toplevel`` flag, level, S1PTW, IPA; PAR_EL1.TopLevel through bulk_at), lane by lane;
    and where the check cannot apply (FEAT_THE absent, or stage 2 alone) too."""
    from pgwalk.at_many import bulk_at
    va, regs, mem = _walk_setup(vtcr=vtcr, s2pir=entry << 4, ttbr=ttbr)
    setup = setup_from_registers(regs)
    vas = np.array([va, va + 8, va + 0x40_0000], dtype=np.uint64)
    for s, stages, addrs in ((setup, None, vas), (setup, "1", vas),
                             (setup_from_registers({**regs, "ID_AA64PFR1_EL1": 0}), None, vas),
                             (setup, "2", np.array([IPA, IPA + 8, 0x2000_0000], dtype=np.uint64))):
        for access in (None, Access.READ):
            res = translate_many(s, mem, addrs, stages=stages, access=access)
            for i, a in enumerate(addrs):
                t = translate(s, mem, int(a), stages=stages, access=access)
                f, b = t.fault, res.fault(i)
                assert (b is None) == (f is None) and bool(res.toplevel[i]) == (f is not None and f.toplevel)
                if f is None:
                    assert int(res.output[i]) == t.output
                else:
                    assert (b.type, b.level, b.stage, b.s1ptw, b.ipa, b.flags) == \
                        (f.type, f.level, f.stage, f.s1ptw, f.ipa, f.flags)
    faults = translate(setup, mem, va).fault
    assert int(bulk_at(regs, mem, "S12E1R", vas).par[0]) == at(regs, mem, "S12E1R", va).par
    assert bool(PAR_EL1_FAULT["TopLevel"].get(at(regs, mem, "S12E1R", va).par)) == (faults is not None)


# --------------------------------------------------------------------------- TCR2_ELx.PnCH and the Contiguous bit

def _pnch_tree(tcr2: int, extra: dict | None = None):
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(VA0, PA, 16 * PAGE, S1Attrs(contiguous=1))
    regs = {**b.registers(), "TCR2_EL1": tcr2, **(extra or {})}
    return setup_from_registers(regs), b.memory()


def test_pnch_makes_bit52_protected_and_contiguous_zero():
    """``AArch64.S1NextWalkStateLeaf``: with PnCH the walk's contiguous is 0 and bit 52 is the
    Protected attribute: the leaf says not contiguous and the trace names the bit Protected (the
    table descriptors' bit 52 too); without PnCH, or without FEAT_THE, it is the Contiguous hint."""
    setup, mem = _pnch_tree(1)
    t = translate(setup, mem, VA0 + 5 * PAGE)
    assert t.ok and t.s1.contiguous is False and t.pa == PA + 5 * PAGE
    leaf = t.steps[-1].fields
    assert leaf["Protected"] == 1 and "Contiguous" not in leaf
    assert all("Protected" in s.fields for s in t.steps[:-1])
    assert not any("not modelled" in n for n in setup.notes)
    for s, mem_ in (_pnch_tree(0), _pnch_tree(1, {"ID_AA64PFR1_EL1": 0})):
        t = translate(s, mem_, VA0 + 5 * PAGE)
        assert t.s1.contiguous is True and t.steps[-1].fields["Contiguous"] == 1
        assert "Protected" not in t.steps[-1].fields


def test_pnch_tree_views_read_contiguous_as_the_walk():
    """The tree views (dump-tree) read each leaf's Contiguous bit through the same rule as the walk."""
    from pgwalk.tree import collect_runs, tree_params
    for tcr2, want in ((1, False), (0, True)):
        setup, mem = _pnch_tree(tcr2)
        runs = [r for r in collect_runs(tree_params(setup, "ttbr0"), mem) if r.attrs is not None]
        assert runs and all(r.attrs.contiguous is want for r in runs), tcr2
        assert translate(setup, mem, VA0).s1.contiguous is want


def test_contiguous_bit_res0_levels():
    """``AArch64.ContiguousBit``: RES0 (read as 0) for 4KB level 0 blocks and 16KB/64KB level 1
    blocks; descriptor bit 52 elsewhere; 0 with PnCH."""
    c = 1 << 52
    assert [R.contiguous_bit(c, g, lv) for g, lv in ((12, 0), (14, 1), (16, 1))] == [False] * 3
    assert [R.contiguous_bit(c, g, lv) for g, lv in ((12, 1), (12, 2), (12, 3), (14, 2), (16, 2), (16, 3))] == [True] * 6
    assert not R.contiguous_bit(0, 12, 3) and not R.contiguous_bit(c, 12, 3, pnch=True)


PNCH, FNG0, FNGNA0, FNGNA1 = 1, 1 << 17, 1 << 20, 1 << 21
VTCR_TL0 = 1 << 41


def _ng_everywhere(regs, mem, va):
    """nG of ``va``'s translation as translate, the vectorised walk and dump-tree report it."""
    from pgwalk.tree import collect_runs, tree_params
    setup = setup_from_registers(regs)
    t = translate(setup, mem, va)
    assert t.ok, t.fault
    bulk = translate_many(setup, mem, np.array([va], dtype=np.uint64)).translation(0)
    tree = tree_params(setup, f"ttbr{(va >> 55) & 1}", final_pa=False)
    (run,) = [r for r in collect_runs(tree, mem, start=va, end=va + 1) if r.mapped]
    return {t.s1.ng, bulk.s1.ng, run.attrs.ng}, setup.notes


def test_fngna_makes_translations_not_assured_non_global():
    """TCR2_EL1.FNGNAn (FEAT_THE; ASL ``AArch64.S1NextWalkStateLeaf``): with stage 2 on and PnCH on, a
    translation whose walk is not Assured is non-global whatever the descriptor's nG (0 here) says;
    translate, the vectorised walk and dump-tree agree (one statement: ``rules.s1_leaf_ng``)."""
    va, regs, mem = _walk_setup(regs_extra={"TCR2_EL1": PNCH | FNGNA0})
    ng, notes = _ng_everywhere(regs, mem, va)
    assert ng == {True}
    assert any("TCR2_EL1.FNGNA0 = 1: TTBR0 walks are not Assured" in n for n in notes)
    # without FNGNA0, or FNGNA1 for the other range: the descriptor's nG
    for tcr2 in (PNCH, PNCH | FNGNA1):
        va, regs, mem = _walk_setup(regs_extra={"TCR2_EL1": tcr2})
        assert _ng_everywhere(regs, mem, va)[0] == {False}
    # without PnCH (and D128) FNGNA has no effect, and the notes say so
    va, regs, mem = _walk_setup(regs_extra={"TCR2_EL1": FNGNA0})
    ng, notes = _ng_everywhere(regs, mem, va)
    assert ng == {False} and any("FNGNA0 = 1 has no effect: neither TCR2_EL1.PnCH" in n for n in notes)
    # nor without FEAT_THE, which nothing mentions
    va, regs, mem = _walk_setup(regs_extra={"TCR2_EL1": PNCH | FNGNA0, "ID_AA64PFR1_EL1": 0})
    ng, notes = _ng_everywhere(regs, mem, va)
    assert ng == {False} and not any("FNGNA" in n for n in notes)


def test_fngna_with_toplevel_assured_walks_is_said_not_modelled():
    """VTCR_EL2.TL0 makes TTBR0 walks start Assured; whether one stays Assured is per walk, which
    pgwalk does not tell apart for nG: the descriptor's nG is reported and the notes say so."""
    va, regs, mem = _walk_setup(vtcr=VTCR_TL0, s2pir=0x6666_6666_6666_6666,
                                regs_extra={"TCR2_EL1": PNCH | FNGNA0})
    setup = setup_from_registers(regs)
    assert any("FNGNA0 = 1 with VTCR_EL2.TL0 = 1" in n and "not modelled" in n for n in setup.notes)
    t = translate(setup, mem, va)
    assert t.s1 is not None and not t.s1.ng


def test_fngna_without_stage2_has_no_effect():
    setup, mem = _pnch_tree(PNCH | FNGNA1 | FNGNA0)
    assert any("TCR2_EL1.FNGNA1 = 1 has no effect: stage 2 is off" in n for n in setup.notes)
    assert not translate(setup, mem, VA0).s1.ng


def test_fng_makes_a_range_non_global():
    """TCR2_ELx.FNGn (FEAT_ASID2): every translation of the range is non-global."""
    setup, mem = _pnch_tree(FNG0)
    assert translate(setup, mem, VA0).s1.ng
    assert any("TCR2_EL1.FNG0 = 1" in n and "FEAT_ASID2" in n for n in setup.notes)
    setup, mem = _pnch_tree(0)
    assert not translate(setup, mem, VA0).s1.ng
    assert R.s1_leaf_ng(0, two_el=True, fng=True) and not R.s1_leaf_ng(1 << 11, two_el=False, fng=True)
    assert R.s1_leaf_ng(1 << 11, two_el=True) and not R.s1_leaf_ng(0, two_el=True, fngna=True, vm=True,
                                                                      protected=True, s1assured=True)


def test_toplevel_is_checked_before_assured_only():
    """``AArch64.S2CheckPermissions``, ``AccessType_TTW``: the TopLevel branches come before the
    AssuredOnly one, so a top-level fetch from an AssuredOnly page without TopLevel0, by a walk not
    Assured, is flagged TopLevel alone; a lower-level fetch from it, AssuredOnly."""
    from dataclasses import replace
    p = replace(_s2perms(MRO << 4, tl0=True), assured_only=True)
    assert s2_permission_fault(p, None, el0=False, toplevel=0, s1assured=False) is PermFault.TOPLEVEL
    assert s2_permission_fault(p, None, el0=False, toplevel=None, s1assured=False) is PermFault.ASSURED_ONLY
    assert s2_permission_fault(p, None, el0=False, toplevel=None, s1assured=True) is None
