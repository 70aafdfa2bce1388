"""FEAT_S1PIE / S1POE / S2PIE / S2POE / GCS (issue 17): the permission rules from the ASL
(``AArch64.S1IndirectBasePermissions``, ``S1OverlayPermissions``, ``S2IndirectBasePermissions``,
``S2OverlayPermissions``, ``S1CheckPermissions``), Linux's own PIE tables, the vectorised tables
against the scalar rules, the setup notes and the register decode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk import rules as R
from pgwalk.errors import RegisterError, UnknownRegister
from pgwalk.formats import registers as FR
from pgwalk.params import S1PermParams, S2PermParams, setup_from_registers
from pgwalk.perms import (Access, PermFault, s1_check, s1_effective, s1_indirect_base_permissions,
                          s1_overlay_permissions, s1_permission_fault, s2_indirect_base_permissions, s2_permission_fault)

# Linux arch/arm64/include/asm/pgtable-prot.h (6.x) and sysreg.h: descriptor bits and PIE_* encodings
PTE_VALID, PTE_TYPE_PAGE, PTE_USER, PTE_RDONLY, PTE_SHARED, PTE_AF, PTE_NG = 1, 3, 1 << 6, 1 << 7, 3 << 8, 1 << 10, 1 << 11
PTE_WRITE, PTE_PXN, PTE_UXN = 1 << 51, 1 << 53, 1 << 54
PIE_NONE_O, PIE_R_O, PIE_X_O, PIE_RX_O, PIE_RW_O, PIE_RWX_O = 0x0, 0x1, 0x2, 0x3, 0x5, 0x7
PIE_R, PIE_GCS, PIE_RX, PIE_RW, PIE_RWX = 0x8, 0x9, 0xA, 0xC, 0xE
_DEFAULT = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED
PROT_NORMAL = _DEFAULT | PTE_PXN | PTE_UXN | PTE_WRITE
LINUX = {
    "PAGE_KERNEL": PROT_NORMAL,
    "PAGE_KERNEL_RO": (PROT_NORMAL & ~PTE_WRITE) | PTE_RDONLY,
    "PAGE_KERNEL_ROX": (PROT_NORMAL & ~(PTE_WRITE | PTE_PXN)) | PTE_RDONLY,
    "PAGE_KERNEL_EXEC": PROT_NORMAL & ~PTE_PXN,
    "PAGE_SHARED": _DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN | PTE_WRITE,
    "PAGE_SHARED_EXEC": _DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_WRITE,
    "PAGE_READONLY": _DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN,
    "PAGE_READONLY_EXEC": _DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN,
    "PAGE_EXECONLY": _DEFAULT | PTE_RDONLY | PTE_NG | PTE_PXN,
    "PAGE_GCS": _DEFAULT | PTE_NG | PTE_UXN | PTE_WRITE | PTE_USER,
    "PAGE_GCS_RO": _DEFAULT | PTE_NG | PTE_UXN | PTE_USER,
}


def _pi(pte: int) -> int:
    return R.pi_index(pte)


def _pir(pairs) -> int:
    return sum(v << (4 * _pi(LINUX[k])) for k, v in pairs)


PIE_E0 = _pir([("PAGE_GCS", PIE_GCS), ("PAGE_GCS_RO", PIE_R), ("PAGE_EXECONLY", PIE_X_O),
               ("PAGE_READONLY_EXEC", PIE_RX_O), ("PAGE_SHARED_EXEC", PIE_RWX_O), ("PAGE_READONLY", PIE_R_O),
               ("PAGE_SHARED", PIE_RW_O)])
PIE_E1 = _pir([("PAGE_GCS", PIE_NONE_O), ("PAGE_GCS_RO", PIE_NONE_O), ("PAGE_EXECONLY", PIE_NONE_O),
               ("PAGE_READONLY_EXEC", PIE_R), ("PAGE_SHARED_EXEC", PIE_RW), ("PAGE_READONLY", PIE_R),
               ("PAGE_SHARED", PIE_RW), ("PAGE_KERNEL_ROX", PIE_RX), ("PAGE_KERNEL_EXEC", PIE_RWX),
               ("PAGE_KERNEL_RO", PIE_R), ("PAGE_KERNEL", PIE_RW)])
LINUX_PIE = S1PermParams(pie=True, pir=PIE_E1, pire0=PIE_E0)


def test_linux_pi_indices_are_linuxs():
    """pte_pi_index: UXN, PXN, DBM (PTE_WRITE), AP[1] (PTE_USER) -- Linux's comment table."""
    assert {k: _pi(v) for k, v in LINUX.items()} == {
        "PAGE_KERNEL": 0xE, "PAGE_KERNEL_RO": 0xC, "PAGE_KERNEL_ROX": 0x8, "PAGE_KERNEL_EXEC": 0xA,
        "PAGE_SHARED": 0xF, "PAGE_SHARED_EXEC": 0x7, "PAGE_READONLY": 0xD, "PAGE_READONLY_EXEC": 0x5,
        "PAGE_EXECONLY": 0x4, "PAGE_GCS": 0xB, "PAGE_GCS_RO": 0x9}


def _rwx(perm, pte, el0, hd=True, pan=False):
    p = R.s1_perms_of_code(R.s1_permission_code(pte, 0), True, hd, perm)
    return "".join(c if s1_check(p, a, el0=el0, pan=pan, epan=True, wxn=False) else "-"
                   for c, a in zip("rwx", (Access.READ, Access.WRITE, Access.EXEC)))


@pytest.mark.parametrize("name", [n for n in LINUX if "GCS" not in n])
@pytest.mark.parametrize("el0", [False, True])
def test_linux_pie_equals_pie_off(name, el0):
    """For every Linux protection but execute-only, PIE with Linux's PIR values gives what the same
    descriptor gives with PIE off (HD = 1: writable-clean pages are writable)."""
    pte = LINUX[name]
    on, off = _rwx(LINUX_PIE, pte, el0), _rwx(S1PermParams(), pte, el0)
    if name == "PAGE_EXECONLY":
        # PIE off: AP = 0b10 (privileged read-only) PXN; PIE gives the kernel no access (PIE_NONE_O), EL0 X only
        assert (on, off) == (("---", "r--") if not el0 else ("--x", "--x"))
    elif name == "PAGE_SHARED_EXEC" and not el0:
        # PIE off: EL0-writable is never privileged-executable; PIE_RW says the same
        assert on == off == "rw-"
    else:
        assert on == off, (name, on, off)


def test_linux_gcs_pages():
    """PAGE_GCS: EL0 reads and GCS accesses only (PIE_GCS), no plain writes; the kernel none (PIE_NONE_O)."""
    p = R.s1_perms_of_code(R.s1_permission_code(LINUX["PAGE_GCS"], 0), True, True, LINUX_PIE)
    kw = dict(pan=False, epan=True, wxn=False)
    assert s1_check(p, Access.GCS_WRITE, el0=True, **kw) and s1_check(p, Access.GCS_READ, el0=True, **kw)
    assert s1_check(p, Access.READ, el0=True, **kw)
    assert s1_permission_fault(p, Access.WRITE, el0=True, **kw) is PermFault.PERMISSION
    assert not s1_check(p, Access.READ, el0=False, **kw)
    ro = R.s1_perms_of_code(R.s1_permission_code(LINUX["PAGE_GCS_RO"], 0), True, True, LINUX_PIE)
    assert not s1_check(ro, Access.GCS_WRITE, el0=True, **kw)
    # a GCS access to an ordinary page is a Permission fault (only an indirect encoding grants GCS)
    sh = R.s1_perms_of_code(R.s1_permission_code(LINUX["PAGE_SHARED"], 0), True, True, LINUX_PIE)
    assert s1_permission_fault(sh, Access.GCS_READ, el0=True, **kw) is PermFault.PERMISSION


def test_dirty_bit_fault_with_hd_off():
    """PIE, HD = 0: a write to an nDirty (AP[2] = 1) writable page is a DirtyBit Permission fault."""
    p = R.s1_perms_of_code(R.s1_permission_code(LINUX["PAGE_SHARED"], 0), True, False, LINUX_PIE)
    assert s1_permission_fault(p, Access.WRITE, el0=True, pan=False, epan=False, wxn=False) is PermFault.DIRTY_BIT
    dirty = LINUX["PAGE_SHARED"] & ~PTE_RDONLY
    p = R.s1_perms_of_code(R.s1_permission_code(dirty, 0), True, False, LINUX_PIE)
    assert s1_check(p, Access.WRITE, el0=True, pan=False, epan=False, wxn=False)


@pytest.mark.parametrize("ppi", range(16))
@pytest.mark.parametrize("upi", range(16))
def test_every_pir_encoding(ppi, upi):
    """Each PIR/PIRE0 pair against the ASL's table; reserved encodings give no access; privileged
    execute or GCS together with EL0 write or GCS removes everything; PAN removes privileged
    read/write whenever PIRE0 is not 0b0000; 0b0110 is RWX with WXN (X removed without overlay)."""
    asl = {0: "", 1: "r", 2: "x", 3: "rx", 4: "", 5: "rw", 6: "rwx", 7: "rwx", 8: "r", 9: "rg", 10: "rx",
           11: "", 12: "rw", 13: "", 14: "rwx", 15: ""}
    p = s1_indirect_base_permissions(two_el=True, pi_index=3, ppi=ppi, upi=upi, ndirty=False, hd=True)
    priv, user = asl[ppi], asl[upi]
    if (("x" in priv or "g" in priv) and ("w" in user or "g" in user)):
        priv = user = ""
    got_p = "".join(c for c, v in zip("rwxg", (p.pr, p.pw, p.px, p.pgcs)) if v)
    got_u = "".join(c for c, v in zip("rwxg", (p.ur, p.uw, p.ux, p.ugcs)) if v)
    assert (got_p, got_u) == (priv, user)
    r, w, x = s1_effective(p, el0=False, pan=False, epan=False, wxn=True)    # SCTLR.WXN is not used with PIE
    assert (r, w, x) == (p.pr, p.pw, p.px and ppi != 0b0110)
    r, w, _ = s1_effective(p, el0=False, pan=True, epan=False, wxn=False)
    assert (r, w) == ((False, False) if upi else (p.pr, p.pw))


@pytest.mark.parametrize("po", range(16))
@pytest.mark.parametrize("poindex", range(8))
def test_every_por_encoding_and_poindex(po, poindex):
    """POR_EL1[POIndex] removes permissions; a denial by it is an overlay fault; 0b1xxx is reserved (none)."""
    por = po << (4 * poindex)
    perm = S1PermParams(pie=True, pir=0x7777_7777_7777_7777, pire0=0, poe=True, por=por)   # RWX, overlay
    pte = PTE_VALID | PTE_TYPE_PAGE | PTE_AF | (poindex << 60)
    p = R.s1_perms_of_code(R.s1_permission_code(pte, 0, True), True, True, perm)
    o_r, o_w, o_x = s1_overlay_permissions(po)
    assert (o_r, o_w, o_x) == ((po & 1 == 1, po & 4 == 4, po & 2 == 2) if po < 8 else (False,) * 3)
    kw = dict(el0=False, pan=False, epan=False, wxn=False)
    for acc, ok in ((Access.READ, o_r), (Access.WRITE, o_w), (Access.EXEC, o_x)):
        assert s1_permission_fault(p, acc, **kw) is (None if ok else PermFault.OVERLAY)
    # WXN (entry 0b0110) with an overlay removes the overlay's W where it allows X
    p6 = R.s1_perms_of_code(R.s1_permission_code(pte, 0, True), True, True,
                            S1PermParams(pie=True, pir=0x6666_6666_6666_6666, pire0=0, poe=True, por=por))
    assert s1_check(p6, Access.WRITE, **kw) == (o_w and not o_x)
    # PIR entry with bit 3 set: no overlay applies
    p8 = R.s1_perms_of_code(R.s1_permission_code(pte, 0, True), True, True,
                            S1PermParams(pie=True, pir=0xEEEE_EEEE_EEEE_EEEE, pire0=0, poe=True, por=por))
    assert p8.p_overlay is None and s1_check(p8, Access.WRITE, **kw)


@pytest.mark.parametrize("s2pi", range(16))
@pytest.mark.parametrize("s2po", [None, *range(16)])
def test_every_s2pir_s2por_encoding(s2pi, s2po):
    asl = {0: "", 1: "", 2: "r", 3: "r", 4: "w", 5: "", 6: "r", 7: "r", 8: "r", 9: "ru", 10: "rp", 11: "rpu",
           12: "rw", 13: "rwu", 14: "rwp", 15: "rwpu"}
    perm = S2PermParams(s2pie=True, s2pir=s2pi * 0x1111_1111_1111_1111, s2poe=s2po is not None,
                        s2por=(s2po or 0) * 0x1111_1111_1111_1111)
    raw = 0x403 | (0xF << 59)
    p = R.s2_perms_of_code(R.s2_permission_code(raw, perm.s2poe), True, True, perm)
    base, ovl = asl[s2pi], asl[s2po] if s2po is not None else "rwpu"
    for acc, el0, c in ((Access.READ, False, "r"), (Access.WRITE, False, "w"), (Access.EXEC, False, "p"),
                        (Access.EXEC, True, "u")):
        want = None if (c in base and c in ovl) else (PermFault.OVERLAY if c not in ovl else PermFault.PERMISSION)
        assert s2_permission_fault(p, acc, el0=el0) is want, (acc, el0)
    assert s2_permission_fault(p, None, el0=False) is (None if "r" in base and "r" in ovl else
                                                      PermFault.OVERLAY if "r" not in ovl else PermFault.PERMISSION)


def test_s2_dirty_bit():
    p = s2_indirect_base_permissions(pi_index=0, s2pi=0b1100, dirty=False, hd=False)
    assert s2_permission_fault(p, Access.WRITE, el0=False) is PermFault.DIRTY_BIT


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=(1 << 64) - 1), st.integers(min_value=0, max_value=(1 << 64) - 1),
       st.integers(min_value=0, max_value=(1 << 64) - 1), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from(list(Access)))
def test_pie_array_equals_scalar(xs, pir, pire0, por, poe, el0, pan, access):
    """The vectorised judgement (code + table) is the scalar rule, with PIE and POE on."""
    perm = S1PermParams(pie=True, pir=pir, pire0=pire0, poe=poe, e0poe=poe, por=por, por_e0=por >> 3)
    a = np.array(xs, dtype=np.uint64)
    codes = R.s1_permission_code(a, R.table_attr_bits(a, True), perm.overlay)
    table = R.s1_permission_table(True, False, access, el0, pan, True, False, perm)
    p = type("P", (), {"has_unprivileged": True, "hd": False, "perm": perm})()
    for i, x in enumerate(xs):
        assert int(codes[i]) == R.s1_permission_code(x, 0, perm.overlay)
        scalar = R.s1_leaf_permissions(p, x, 0, False, False)
        assert table[codes[i]] == s1_check(scalar, access, el0=el0, pan=pan, epan=True, wxn=False)
    s2perm = S2PermParams(s2pie=True, s2pir=pir, s2poe=poe, s2por=por)
    c2 = R.s2_permission_code(a, poe)
    t2 = R.s2_permission_table(False, True, access, el0, s2perm)
    s2 = type("S2", (), {"hd": False, "perm": s2perm})()
    for i, x in enumerate(xs):
        assert t2[c2[i]] == (s2_permission_fault(R.s2_leaf_permissions(s2, x, True), access, el0=el0) is None)


_REGS = {"TCR_EL1": 0x00000032B5193519, "TTBR1_EL1": 0x41858000, "TTBR0_EL1": 0x40000000,
         "SCTLR_EL1": 1, "MAIR_EL1": 0x40044FFFF}


def test_setup_pie_params_and_notes():
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x2, "PIR_EL1": PIE_E1, "PIRE0_EL1": PIE_E0})
    p = s.ranges[1]
    assert p.perm.pie and p.perm.pir == PIE_E1 and p.hpd      # PIE disables hierarchical permissions
    assert not any("not modelled" in n for n in s.notes)
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x2})
    assert p.perm.pir is not None and s.ranges[1].perm.pir is None
    assert any("PIR_EL1 was not given" in n for n in s.notes)
    with pytest.raises(UnknownRegister):
        R.s1_permission_table(True, False, Access.READ, False, False, True, False, s.ranges[1].perm)
    # HCRX_EL2.TCR2En = 0 at EL1&0 with EL2 in use: TCR2_EL1 reads as zero
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x2, "HCR_EL2": 0, "HCRX_EL2": 0})
    assert not s.ranges[1].perm.pie and any("not in effect" in n for n in s.notes)
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x10})
    assert any("AIE = 1 but MAIR2_EL1 was not given" in n for n in s.notes) and s.mair2 is None
    # D128 (VMSAv9-128) is walked, with permission indirection forced on (tests/test_d128.py)
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x20})
    assert s.ranges[1].d128 and s.ranges[1].perm.pie and any("D128 = 1: permission indirection" in n for n in s.notes)
    s = setup_from_registers({**_REGS, "HCR_EL2": 1, "VTCR_EL2": 0x80000035 | 1 << 38})
    assert s.s2.d128 and s.s2.perm.s2pie
    # ID_AA64MMFR3_EL1 without S1PIE: TCR2_EL1.PIE has no effect
    s = setup_from_registers({**_REGS, "TCR2_EL1": 0x2, "ID_AA64MMFR3_EL1": 0x1})
    assert not s.ranges[1].perm.pie


def test_register_layouts():
    t = FR.TCR2_EL1.decode(0b111111 | 1 << 11)
    assert [k for k, v in t.items() if v] == ["PnCH", "PIE", "E0POE", "POE", "AIE", "D128", "HAFT"]
    assert FR.PIR.decode(PIE_E1)["Perm14"] == PIE_RW
    assert FR.ID_AA64MMFR3_EL1.decode(0x0111_0000)["S1POE"] == 1
    assert FR.SCR_EL3["TCR2En"].lsb == 43 and FR.HCRX_EL2["TCR2En"].lsb == 14
    assert FR.REGISTER_LAYOUTS["S2PIR_EL2"] is FR.S2PIR and FR.REGISTER_LAYOUTS["POR_EL0"] is FR.POR


def test_decode_new_registers():
    from pgwalk.esr import decode_register

    rep = decode_register("TCR2_EL1", 0xA)
    assert rep.fields["PIE"] == 1 and rep.fields["POE"] == 1 and rep.summary == "enabled: PIE, POE"
    rep = decode_register("PIR_EL1", PIE_E1)
    assert rep.fields["Perm14"] == PIE_RW and "14: RW" in rep.summary
    assert decode_register("POR_EL0", 0x7).fields["Perm0"] == 7
    assert decode_register("S2PIR_EL2", 0xF).summary.startswith("0: RW+puX")
    assert "S1PIE" in decode_register("ID_AA64MMFR3_EL1", 0x100).summary
    assert decode_register("HCRX_EL2", 1 << 14).fields["TCR2En"] == 1
    assert decode_register("SCR_EL3", 1 << 43).fields["TCR2En"] == 1
