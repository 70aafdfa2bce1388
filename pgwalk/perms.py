"""Access permissions (Arm ARM DDI 0487 M.a.a §D8.4; ASL
``AArch64.S1DirectBasePermissions``, ``AArch64.S1IndirectBasePermissions``,
``AArch64.S1OverlayPermissions``, ``AArch64.S1ComputePermissions``,
``AArch64.S1CheckPermissions``, ``AArch64.S2DirectBasePermissions``,
``AArch64.S2IndirectBasePermissions``, ``AArch64.S2OverlayPermissions``,
``AArch64.S2ComputePermissions``, ``AArch64.S2CheckPermissions``).

The walk collects the leaf's AP/XN bits and the hierarchical table bits; the
functions here turn them into read/write/execute permissions per EL, apply
WXN and PAN, and judge one access.

With FEAT_S1PIE on (``TCR2_ELx.PIE``) the leaf's UXN, PXN, DBM and AP[1] bits are
not permissions but the 4-bit PIIndex selecting a ``PIR_ELx`` (privileged) and a
``PIRE0_ELx`` (EL0) entry, AP[2] is nDirty, and the hierarchical table bits are
ignored (``HPD`` is forced to 1: :mod:`pgwalk.params`).  With FEAT_S1POE
(``TCR2_ELx.POE``/``E0POE``) a further overlay, ``POR_ELx[POIndex]``, can only remove
permissions, and a denial by it is an *overlay* Permission fault (ESR ISS2.Overlay,
PAR_EL1.Overlay).  GCS accesses (FEAT_GCS) are judged by the GCS permission only an
indirect encoding grants.  Stage 2 has the same two steps (``S2PIR_EL2``,
``S2POR_EL1``) when ``VTCR_EL2.S2PIE``/``S2POE`` are set.
"""

from __future__ import annotations

import enum
from functools import lru_cache

from .errors import UnknownRegister
from .records import record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__all__ = ["Access", "S1Perms", "S2Perms", "PermFault", "s1_direct_base_permissions", "s1_check",
           "s2_direct_base_permissions", "s2_check", "pir_entry", "s1_indirect_base_permissions",
           "s1_overlay_permissions", "s1_apply_overlay", "s1_effective", "s1_rwx_text", "s1_permission_fault",
           "s2_indirect_base_permissions", "s2_overlay_permissions", "s2_apply_overlay", "s2_permission_fault", "s2_mro",
           "s2_toplevel_attrs", "s2_toplevel_fault", "s2_toplevel_missing", "pan_applies",
           "unknown_s1_perms", "unknown_s2_perms", "PERM_FAULT_KINDS", "PIR_TEXT", "S2PIR_TEXT", "POR_TEXT", "rwx_text"]


def rwx_text(r: bool, w: bool, x: bool) -> str:
    """Read, write and execute permission as ``"rwx"`` text, ``-`` for each one denied."""
    return ("r" if r else "-") + ("w" if w else "-") + ("x" if x else "-")


class Access(enum.Enum):
    """The kind of access being translated."""

    READ = "read"
    WRITE = "write"
    EXEC = "exec"
    ANY = "any"        # AT S1E1A and friends: no permission check (ASL AccessType_AT, read=write=FALSE)
    GCS_READ = "gcs-read"      # ASL AccessType_GCS, a read (GCSPOPM, a procedure return's load)
    GCS_WRITE = "gcs-write"    # ASL AccessType_GCS, a write (GCSPUSHM, BL's push)

    @property
    def is_gcs(self) -> bool:
        return self in (Access.GCS_READ, Access.GCS_WRITE)

    @property
    def is_write(self) -> bool:
        return self in (Access.WRITE, Access.GCS_WRITE)


class PermFault(enum.Enum):
    """Why a permission check fails (ASL ``FaultRecord`` flags of a ``Fault_Permission``)."""

    PERMISSION = "permission"      # the base permissions deny it
    OVERLAY = "overlay"            # the overlay (POR_ELx / S2POR_EL1) denies it: ISS2.Overlay = 1
    DIRTY_BIT = "dirty bit"        # a permitted write to a clean page with HD = 0 under indirection: ISS2.DirtyBit = 1
    ASSURED_ONLY = "assured only"  # stage 2 AssuredOnly / GCSH (FEAT_THE, FEAT_GCS): ISS2.AssuredOnly = 1
    TOPLEVEL = "top level"         # stage 2 TopLevel0/1 check of a stage 1 top-level table fetch (FEAT_THE): ISS.TopLevel = 1

    @property
    def iss2_flag(self) -> str | None:
        """The ESR_ELx.ISS2 / PAR_EL1 bit this kind sets (``None``: none)."""
        return {PermFault.OVERLAY: "Overlay", PermFault.DIRTY_BIT: "DirtyBit",
                PermFault.ASSURED_ONLY: "AssuredOnly"}.get(self)

    @property
    def syndrome_flag(self) -> str | None:
        """Where the syndrome names this kind: ``"ISS2.Overlay"`` ..., ``"ISS.TopLevel"`` (ESR ISS[21],
        PAR_EL1.TopLevel); ``None``: no flag (a fault of the base permissions)."""
        if self is PermFault.TOPLEVEL:
            return "ISS.TopLevel"
        flag = self.iss2_flag
        return f"ISS2.{flag}" if flag else None

    @property
    def fault_flags(self) -> dict[str, bool]:
        """The :class:`~pgwalk.faults.Fault` flags of a Permission fault of this kind (ASL
        ``FaultRecord.overlay`` / ``.dirtybit`` / ``.assuredonly`` / ``.toplevel``, which
        ``AArch64.S1CheckPermissions`` and ``AArch64.S2CheckPermissions`` set)."""
        return {"overlay": self is PermFault.OVERLAY, "dirty_bit": self is PermFault.DIRTY_BIT,
                "assured_only": self is PermFault.ASSURED_ONLY, "toplevel": self is PermFault.TOPLEVEL}

    @property
    def code(self) -> int:
        """A small integer per kind (0 is "permitted"), for the vectorised walk's tables."""
        return _PERM_FAULT_CODE[self]


#: PermFault -> code (0: permitted); :data:`PERM_FAULT_KINDS` is the inverse
_PERM_FAULT_CODE = {PermFault.PERMISSION: 1, PermFault.OVERLAY: 2, PermFault.DIRTY_BIT: 3, PermFault.ASSURED_ONLY: 4,
                    PermFault.TOPLEVEL: 5}
PERM_FAULT_KINDS: tuple[PermFault | None, ...] = (None, PermFault.PERMISSION, PermFault.OVERLAY, PermFault.DIRTY_BIT,
                                                  PermFault.ASSURED_ONLY, PermFault.TOPLEVEL)

@record(frozen=True, slots=True, compiled_init=True)
class S1Perms:
    """Stage 1 permissions, before PAN and WXN are applied for a given access.

    ``pr/pw/px`` are privileged (EL1/EL2/EL3), ``ur/uw/ux`` EL0; in one-EL
    regimes only the privileged triplet is meaningful.
    """

    pr: bool
    pw: bool
    px: bool
    ur: bool
    uw: bool
    ux: bool
    two_el: bool
    #: FEAT_GCS: GCS accesses permitted (only an indirect encoding grants it)
    pgcs: bool = False
    ugcs: bool = False
    #: FEAT_S1PIE: the permissions come from PIR_ELx/PIRE0_ELx (then SCTLR_ELx.WXN is not used:
    #: ``pwxn``/``uwxn`` say the entry is 0b0110, "RWX with WXN")
    indirect: bool = False
    pwxn: bool = False
    uwxn: bool = False
    pi_index: int | None = None     # the leaf's PIIndex
    ppi: int | None = None          # PIR_ELx[PIIndex]
    upi: int | None = None          # PIRE0_ELx[PIIndex]
    #: nDirty = 1 with HD = 0 under indirection: a write the permissions allow takes a DirtyBit fault
    ndirty: bool = False
    #: FEAT_S1POE: the overlay permissions (r, w, x) that apply to privileged / EL0 accesses;
    #: ``None`` when no overlay applies (POE/E0POE off, or a PIR entry without "overlay")
    p_overlay: tuple[bool, bool, bool] | None = None
    u_overlay: tuple[bool, bool, bool] | None = None
    po_index: int | None = None
    #: the register whose value was not given, making these permissions unknown ("" when known)
    unknown: str = ""

    @property
    def known(self) -> bool:
        return not self.unknown

    def text(self, el0: bool) -> str:
        if self.unknown:
            return "???"
        r, w, x = (self.ur, self.uw, self.ux) if el0 else (self.pr, self.pw, self.px)
        out = rwx_text(r, w, x)
        if self.ugcs if el0 else self.pgcs:
            out += "g"
        return out


@record(frozen=True, slots=True, compiled_init=True)
class S2Perms:
    """Stage 2 permissions (the same for EL1 and EL0 data; execute split by FEAT_XNX)."""

    r: bool
    w: bool
    x_el1: bool
    x_el0: bool
    #: FEAT_S2PIE: from S2PIR_EL2[PIIndex] (``s2pi``); ``w_mmu``: hardware descriptor updates
    #: may write (True for RW and the MRO encodings); ``dirty``: desc[7]
    indirect: bool = False
    pi_index: int | None = None
    s2pi: int | None = None
    w_mmu: bool = False
    #: a permitted write to a clean page (dirty = 0) with HD = 0 under indirection: DirtyBit fault
    ndirty: bool = False
    #: FEAT_S2POE: the overlay (r, w, x_el1, x_el0, w_mmu), ``None`` when S2POE is off
    overlay: tuple[bool, bool, bool, bool, bool] | None = None
    po_index: int | None = None
    unknown: str = ""
    #: FEAT_THE: desc[58] with VTCR_EL2.AssuredOnly (ASL ``TTWState.s2assuredonly``); FEAT_GCS:
    #: VTCR_EL2.GCSH (both read by ``AArch64.S2CheckPermissions``)
    assured_only: bool = False
    gcsh: bool = False
    #: FEAT_THE: the page's TopLevel0 / TopLevel1 attributes (ASL ``S2AccessControls.toplevel0/1``: an
    #: S2PIR_EL2 MRO-TL0 / MRO-TL1 / MRO-TL01 entry, and the overlay's, :func:`s2_apply_overlay`), and
    #: VTCR_EL2.TL0 / TL1 (ASL ``S2TTWParams.tl0/tl1``), which make a stage 1 top-level table fetch need them
    toplevel0: bool = False
    toplevel1: bool = False
    tl0: bool = False
    tl1: bool = False

    @property
    def known(self) -> bool:
        return not self.unknown

    def text(self, el0: bool) -> str:
        if self.unknown:
            return "???"
        x = self.x_el0 if el0 else self.x_el1
        r, w = self.r, self.w
        if self.overlay is not None:
            r, w, x = r and self.overlay[0], w and self.overlay[1], x and self.overlay[3 if el0 else 2]
        return rwx_text(r, w, x)


@lru_cache(maxsize=4096)
def s1_direct_base_permissions(*, two_el: bool, ap: int, uxn: bool, pxn: bool, dbm: bool, hd: bool,
                               ap_table: int, uxn_table: bool, pxn_table: bool) -> S1Perms:
    """ASL ``AArch64.S1DirectBasePermissions`` without PAN (see :func:`s1_check`).

    :param ap: descriptor AP[2:1]
    :param ap_table: OR of APTable over the walk (0 when HPD)
    :param uxn: UXN (XN in one-EL regimes); ``uxn_table`` likewise
    """
    if dbm and hd:
        ap &= 0b01  # DBM with HD: AP[2] behaves as 0 (writable-clean counts as writable)
    if two_el:
        pr, pw, ur, uw = {0b00: (1, 1, 0, 0), 0b01: (1, 1, 1, 1), 0b10: (1, 0, 0, 0), 0b11: (1, 0, 1, 0)}[ap]
        if ap_table & 0b01:
            ur = uw = 0
        if ap_table & 0b10:
            pw = uw = 0
        px = not (pxn or pxn_table or uw)      # R_VWLLR: EL0-writable is never EL1-executable
        ux = not (uxn or uxn_table)
        return S1Perms(bool(pr), bool(pw), px, bool(ur), bool(uw), ux, True)
    pw = not (ap & 0b10) and not (ap_table & 0b10)
    px = not (uxn or uxn_table)
    return S1Perms(True, pw, px, False, False, False, False)


def _s1_base_for_el(perms: S1Perms, *, el0: bool, pan: bool, epan: bool, wxn: bool
                    ) -> tuple[bool, bool, bool, bool, bool, tuple[bool, bool, bool] | None]:
    """(r, w, x, gcs, wxn, overlay) for one EL, PAN applied (ASL ``S1DirectBasePermissions`` /
    ``S1IndirectBasePermissions`` tails): with indirection PAN removes privileged read and
    write whenever PIRE0[PIIndex] is not 0b0000 (EPAN is 1 in effect), and WXN is the entry's own."""
    pr, pw = perms.pr, perms.pw
    if pan and perms.two_el:
        if perms.indirect:
            if perms.upi:
                pr = pw = False
        elif perms.ur or perms.uw or (epan and perms.ux):
            pr = pw = False
    if el0:
        r, w, x, g, ovl = perms.ur, perms.uw, perms.ux, perms.ugcs, perms.u_overlay
        wx = perms.uwxn if perms.indirect else (wxn and w and x)
    else:
        r, w, x, g, ovl = pr, pw, perms.px, perms.pgcs, perms.p_overlay
        wx = perms.pwxn if perms.indirect else (wxn and w and x)
    return r, w, x, g, wx, ovl


def _s1_compute(perms: S1Perms, *, el0: bool, pan: bool, epan: bool, wxn: bool
                ) -> tuple[bool, bool, bool, bool, tuple[bool, bool, bool] | None]:
    """ASL ``AArch64.S1ComputePermissions``: (r, w, x, gcs, overlay (or, ow, ox) or None).

    With an overlay, WXN removes the overlay's W where the overlay allows X; without one it
    removes X."""
    if perms.unknown:
        raise UnknownRegister(perms.unknown, what="the stage 1 permissions cannot be judged")
    r, w, x, g, wx, ovl = _s1_base_for_el(perms, el0=el0, pan=pan, epan=epan, wxn=wxn)
    if ovl is not None:
        o_r, o_w, o_x = ovl
        ovl = (o_r, o_w and not (wx and o_x), o_x)
    else:
        x = x and not wx
    return r, w, x, g, ovl


def s1_effective(perms: S1Perms, *, el0: bool, pan: bool, epan: bool, wxn: bool) -> tuple[bool, bool, bool]:
    """(r, w, x) for one EL after PAN, WXN and the overlay (ASL ``S1DirectBasePermissions`` /
    ``S1IndirectBasePermissions`` tails, ``S1ComputePermissions``): what an access of each
    kind is allowed, whichever check (base or overlay) would deny it."""
    r, w, x, _g, ovl = _s1_compute(perms, el0=el0, pan=pan, epan=epan, wxn=wxn)
    if ovl is not None:
        r, w, x = r and ovl[0], w and ovl[1], x and ovl[2]
    return r, w, x


def s1_rwx_text(perms: S1Perms, *, el0: bool, pan: bool, epan: bool, wxn: bool) -> str:
    """:func:`s1_effective` as ``"rwx"`` text (``"-"`` for a denied kind; a ``g`` when GCS accesses
    are allowed); ``"unknown (REG not given)"`` when the permissions are unknown."""
    if perms.unknown:
        return f"unknown ({perms.unknown} not given)"
    r, w, x = s1_effective(perms, el0=el0, pan=pan, epan=epan, wxn=wxn)
    g = perms.ugcs if el0 else perms.pgcs
    return ("r" if r else "-") + ("w" if w else "-") + ("x" if x else "-") + ("g" if g else "")


def s1_permission_fault(perms: S1Perms, access: Access, *, el0: bool, pan: bool, epan: bool,
                        wxn: bool) -> PermFault | None:
    """ASL ``AArch64.S1CheckPermissions``: ``None`` when ``access`` is permitted, else why not.

    For a data access and an instruction fetch the overlay is checked before the base
    permissions (an overlay fault wins); a write the base permissions allow to an nDirty
    page with HD = 0 under indirection is a DirtyBit fault.  A GCS access needs the GCS
    permission and is not subject to the overlay (ASL's GCS branch).

    :raises UnknownRegister: when ``perms`` are unknown (a PIR/POR register was not given)
    """
    if access is Access.ANY:
        return None
    r, w, x, g, ovl = _s1_compute(perms, el0=el0, pan=pan, epan=epan, wxn=wxn)
    if access is Access.EXEC:
        if ovl is not None and not ovl[2]:
            return PermFault.OVERLAY
        return None if x else PermFault.PERMISSION
    if access.is_gcs:
        if not g:
            return PermFault.PERMISSION
        if access is Access.GCS_WRITE and perms.ndirty:
            return PermFault.DIRTY_BIT
        return None
    if access is Access.READ:
        if ovl is not None and not ovl[0]:
            return PermFault.OVERLAY
        return None if r else PermFault.PERMISSION
    if ovl is not None and not ovl[1]:
        return PermFault.OVERLAY
    if not w:
        return PermFault.PERMISSION
    return PermFault.DIRTY_BIT if perms.ndirty else None


def s1_check(perms: S1Perms, access: Access, *, el0: bool, pan: bool, epan: bool, wxn: bool) -> bool:
    """ASL ``AArch64.S1CheckPermissions``: True when the access is permitted."""
    return s1_permission_fault(perms, access, el0=el0, pan=pan, epan=epan, wxn=wxn) is None


def pan_applies(pan: bool, access: Access | None, regime: Any) -> bool:
    """Whether PSTATE.PAN = ``pan`` takes part in the stage 1 permission check of ``access``
    (ASL ``AccessDescriptor.pan``): for data reads and writes only (not instruction fetches, GCS
    accesses or AT's no-check operations), in a regime with an EL0 (``regime.has_unprivileged``:
    one whose stage 1 has unprivileged permissions)."""
    return bool(pan) and access in (Access.READ, Access.WRITE) and regime.has_unprivileged


# --------------------------------------------------------------------------- FEAT_S1PIE, FEAT_S1POE

#: PIR_ELx / PIRE0_ELx entry -> (r, w, x, gcs), ASL ``AArch64.S1IndirectBasePermissions``
#: (reserved encodings 0b0100, 0b1011, 0b1101, 0b1111 give no access, as the ASL says)
_PI = {
    0b0000: (0, 0, 0, 0), 0b0001: (1, 0, 0, 0), 0b0010: (0, 0, 1, 0), 0b0011: (1, 0, 1, 0),
    0b0100: (0, 0, 0, 0), 0b0101: (1, 1, 0, 0), 0b0110: (1, 1, 1, 0), 0b0111: (1, 1, 1, 0),
    0b1000: (1, 0, 0, 0), 0b1001: (1, 0, 0, 1), 0b1010: (1, 0, 1, 0), 0b1011: (0, 0, 0, 0),
    0b1100: (1, 1, 0, 0), 0b1101: (0, 0, 0, 0), 0b1110: (1, 1, 1, 0), 0b1111: (0, 0, 0, 0),
}
#: a PIR entry's meaning, for traces
PIR_TEXT = {
    0b0000: "no access, overlay", 0b0001: "R, overlay", 0b0010: "X, overlay", 0b0011: "RX, overlay",
    0b0100: "reserved (no access)", 0b0101: "RW, overlay", 0b0110: "RWX with WXN, overlay", 0b0111: "RWX, overlay",
    0b1000: "R", 0b1001: "R and GCS", 0b1010: "RX", 0b1011: "reserved (no access)",
    0b1100: "RW", 0b1101: "reserved (no access)", 0b1110: "RWX", 0b1111: "reserved (no access)",
}
#: POR_ELx entry -> (r, w, x), ASL ``AArch64.S1OverlayPermissions`` (0b1xxx reserved: no access)
_PO = {v: ((v & 1) == 1 and v < 8, (v & 4) == 4 and v < 8, (v & 2) == 2 and v < 8) for v in range(16)}
POR_TEXT = {v: ("reserved (no access)" if v & 8 else
                ("".join(c for c, ok in zip("RWX", _PO[v]) if ok) or "no access")) for v in range(16)}


def pir_entry(reg: int, index: int) -> int:
    """ASL ``Elem[reg, index, 4]``: the 4-bit entry ``index`` of a PIR_ELx, PIRE0_ELx, POR_ELx,
    S2PIR_EL2 or S2POR_EL1 value."""
    return (reg >> (4 * index)) & 0xF


@lru_cache(maxsize=4096)
def s1_indirect_base_permissions(*, two_el: bool, pi_index: int, ppi: int, upi: int, ndirty: bool,
                                 hd: bool) -> S1Perms:
    """ASL ``AArch64.S1IndirectBasePermissions`` (FEAT_S1PIE), without PAN (see :func:`s1_check`).

    :param pi_index: the leaf's PIIndex, ``desc<54:53>:desc<51>:desc<6>``
    :param ppi: ``PIR_ELx[pi_index]``; ``upi``: ``PIRE0_ELx[pi_index]`` (0 in one-EL regimes)
    :param ndirty: desc[7]; with ``hd`` the hardware makes the page dirty instead of faulting

    An entry whose bit 3 is 0 lets the overlay apply (:func:`s1_apply_overlay`); 0b0110 is
    RWX with its own WXN (SCTLR_ELx.WXN is not used with indirection).  An encoding giving
    privileged execute or GCS together with EL0 write or GCS gives no access at all.
    """
    pr, pw, px, pg = (bool(b) for b in _PI[ppi])
    if two_el:
        ur, uw, ux, ug = (bool(b) for b in _PI[upi])
    else:
        ur = uw = ux = ug = False
        upi = 0
    if (px or pg) and (uw or ug):
        pr = pw = px = pg = ur = uw = ux = ug = False
    return S1Perms(pr, pw, px, ur, uw, ux, two_el, pgcs=pg, ugcs=ug, indirect=True,
                   pwxn=ppi == 0b0110, uwxn=two_el and upi == 0b0110, pi_index=pi_index, ppi=ppi,
                   upi=upi if two_el else None, ndirty=ndirty and not hd)


def s1_overlay_permissions(po: int) -> tuple[bool, bool, bool]:
    """ASL ``AArch64.S1OverlayPermissions`` for one POR_ELx entry: (r, w, x)."""
    return _PO[po]


@lru_cache(maxsize=4096)
def s1_apply_overlay(perms: S1Perms, *, po_index: int, por: int | None, por_e0: int | None, poe: bool,
                     e0poe: bool, por_name: str = "POR_EL1") -> S1Perms:
    """ASL ``AArch64.S1ComputePermissions``, overlay step (FEAT_S1POE): attach ``POR_ELx[po_index]``
    (privileged, when ``poe``) and ``POR_EL0[po_index]`` (EL0, when ``e0poe``) where the base
    permissions allow an overlay (always for direct permissions; a PIR entry with bit 3 = 0).

    ``por``/``por_e0`` ``None``: the register (``por_name``, ``POR_EL0``) was not given, the
    permissions are unknown.
    """
    if perms.unknown:
        return perms
    p_ok = poe and (not perms.indirect or not (perms.ppi or 0) & 0b1000)
    u_ok = e0poe and perms.two_el and (not perms.indirect or not (perms.upi or 0) & 0b1000)
    if (p_ok and por is None) or (u_ok and por_e0 is None):
        return unknown_s1_perms(perms.two_el, por_name if (p_ok and por is None) else "POR_EL0")
    return replace(perms, po_index=po_index,
                   p_overlay=_PO[pir_entry(por, po_index)] if p_ok and por is not None else None,
                   u_overlay=_PO[pir_entry(por_e0, po_index)] if u_ok and por_e0 is not None else None)


def unknown_s1_perms(two_el: bool, register: str) -> S1Perms:
    """Stage 1 permissions that cannot be known because ``register`` was not given."""
    return S1Perms(False, False, False, False, False, False, two_el, unknown=register)


@lru_cache(maxsize=1024)
def s2_direct_base_permissions(*, s2ap: int, xn: int, dbm: bool, hd: bool, xnx: bool) -> S2Perms:
    """ASL ``AArch64.S2DirectBasePermissions``.

    :param xn: descriptor bits [54:53]; bit 53 counts only with FEAT_XNX
    """
    r = bool(s2ap & 0b01)
    w = bool(s2ap & 0b10) or (dbm and hd)
    xn1, xn0 = (xn >> 1) & 1, (xn & 1) if xnx else 0
    px, ux = {(0, 0): (True, True), (0, 1): (False, True), (1, 0): (False, False), (1, 1): (True, False)}[(xn1, xn0)]
    return S2Perms(r, w, px, ux)


def s2_toplevel_fault(perms: S2Perms, varange: int) -> bool:
    """ASL ``AArch64.S2CheckPermissions``, the TopLevel branch of a stage 1 table walk (FEAT_THE): the
    fetch of the *top-level* stage 1 table of a VA in range ``varange`` (0: TTBR0, VARange_LOWER; 1:
    TTBR1, VARange_UPPER) from this stage 2 page faults when VTCR_EL2.TL0 = 1 and the range is TTBR0
    but the page is not TopLevel0, or TL1 = 1 and the page is TopLevel1 only (``<toplevel1,toplevel0>
    == '10'``) -- and the same with 0 and 1 swapped for TTBR1.  Direct stage 2 permissions give
    neither attribute (``AArch64.S2DirectBasePermissions``), so with TLx = 1 every such fetch faults."""
    mine, other = (perms.toplevel0, perms.toplevel1) if varange == 0 else (perms.toplevel1, perms.toplevel0)
    tl_other = perms.tl1 if varange == 0 else perms.tl0
    return s2_toplevel_missing(perms, varange) or (tl_other and other and not mine)


def s2_toplevel_missing(perms: S2Perms, varange: int) -> bool:
    """The first clause of :func:`s2_toplevel_fault`: VTCR_EL2.TL<n> = 1 for the fetch's own range
    ``varange`` (n) and the page lacks TopLevel<n>.  (The other clause: TL<1-n> = 1 and the page is
    TopLevel<1-n> only.)"""
    return (perms.tl1 and not perms.toplevel1) if varange else (perms.tl0 and not perms.toplevel0)


def s2_permission_fault(perms: S2Perms, access: Access | None, *, el0: bool,
                        s1assured: bool = False, toplevel: int | None = None) -> PermFault | None:
    """ASL ``AArch64.S2CheckPermissions``: ``None`` when permitted, else why not.

    ``access`` ``None`` is the read a stage 1 table walk makes (``AccessType_TTW``: the MMU
    read permission, and the overlay's).  For it, first: when the fetch is of the top-level
    table (``toplevel``: the VA range, 0 or 1; ``None``: a lower level), the TopLevel check
    (:func:`s2_toplevel_fault`); then the AssuredOnly check with ``s1assured`` the walk's
    Assured property so far (ASL ``walkaddress.s1assured`` in ``AArch64.S1Walk``).  Every other
    access, an AT's (``Access.ANY``) included, first meets the AssuredOnly check (FEAT_THE,
    FEAT_GCS): a page with the AssuredOnly attribute faults unless ``s1assured`` (the stage 1
    translation's Assured property, ASL ``AddressDescriptor.s1assured``:
    :func:`pgwalk.rules.s1_assured_step`), and with VTCR_EL2.GCSH a GCS access from EL1 to a
    page without it faults.  The overlay is checked before the base permissions; a write the
    permissions allow to a clean page (desc[7] = 0) with HD = 0 under indirection is a DirtyBit
    fault.  GCS accesses are otherwise reads and writes here.

    :raises UnknownRegister: when ``perms`` are unknown (S2PIR_EL2/S2POR_EL1 not given)
    """
    if access is None:
        if toplevel is not None and (perms.tl0 or perms.tl1):
            if perms.unknown:
                raise UnknownRegister(perms.unknown, what="the stage 2 TopLevel check cannot be judged")
            if s2_toplevel_fault(perms, toplevel):
                return PermFault.TOPLEVEL
        if perms.assured_only and not s1assured:
            return PermFault.ASSURED_ONLY
    elif (perms.assured_only and not s1assured) or (not perms.assured_only and perms.gcsh and access.is_gcs
                                                      and not el0):
        return PermFault.ASSURED_ONLY
    if access is Access.ANY:
        return None
    if perms.unknown:
        raise UnknownRegister(perms.unknown, what="the stage 2 permissions cannot be judged")
    ovl = perms.overlay
    if access is None:
        if ovl is not None and not ovl[0]:
            return PermFault.OVERLAY
        return None if perms.r else PermFault.PERMISSION
    if access is Access.EXEC:
        if ovl is not None and not ovl[3 if el0 else 2]:
            return PermFault.OVERLAY
        return None if (perms.x_el0 if el0 else perms.x_el1) else PermFault.PERMISSION
    if not access.is_write:
        if ovl is not None and not ovl[0]:
            return PermFault.OVERLAY
        return None if perms.r else PermFault.PERMISSION
    if ovl is not None and not ovl[1]:
        return PermFault.OVERLAY
    if not perms.w:
        return PermFault.PERMISSION
    return PermFault.DIRTY_BIT if perms.ndirty else None


def s2_check(perms: S2Perms, access: Access | None, *, el0: bool, s1assured: bool = False,
             toplevel: int | None = None) -> bool:
    """Stage 2 permission check for one access (ASL ``AArch64.S2CheckPermissions``); ``access``
    ``None``: the read of a stage 1 table walk (``toplevel``: of the top-level table of that VA range)."""
    return s2_permission_fault(perms, access, el0=el0, s1assured=s1assured, toplevel=toplevel) is None


def s2_mro(perms: S2Perms) -> bool:
    """The ``mro`` result of ASL ``AArch64.S2CheckPermissions`` (``s2fs1mro`` when the access is
    a stage 1 table walk's): the page is MostlyReadOnly -- not writable, but writable by RCW and
    by hardware descriptor updates (``w:w_rcw:w_mmu == '011'``), for the base permissions and,
    with an overlay, for the overlay too.  Only an S2PIR_EL2 MRO encoding gives it (with direct
    permissions ``w_rcw`` and ``w_mmu`` are ``w``); pgwalk's ``w_mmu`` stands for ``w_rcw`` too,
    which ``AArch64.S2IndirectBasePermissions`` / ``S2OverlayPermissions`` set alike."""
    if perms.unknown or perms.w or not perms.w_mmu:
        return False
    ovl = perms.overlay
    return ovl is None or (not ovl[1] and ovl[4])


# --------------------------------------------------------------------------- FEAT_S2PIE, FEAT_S2POE

#: S2PIR_EL2 / S2POR_EL1 entry -> (r, w, px, ux, w_mmu), ASL ``AArch64.S2IndirectBasePermissions``
#: and ``S2OverlayPermissions`` (0b0001 and 0b0101 reserved: no access; MRO: read, and only
#: hardware descriptor updates and RCW may write)
_S2PI = {
    0b0000: (0, 0, 0, 0, 0), 0b0001: (0, 0, 0, 0, 0), 0b0010: (1, 0, 0, 0, 1), 0b0011: (1, 0, 0, 0, 1),
    0b0100: (0, 1, 0, 0, 0), 0b0101: (0, 0, 0, 0, 0), 0b0110: (1, 0, 0, 0, 1), 0b0111: (1, 0, 0, 0, 1),
    0b1000: (1, 0, 0, 0, 0), 0b1001: (1, 0, 0, 1, 0), 0b1010: (1, 0, 1, 0, 0), 0b1011: (1, 0, 1, 1, 0),
    0b1100: (1, 1, 0, 0, 1), 0b1101: (1, 1, 0, 1, 1), 0b1110: (1, 1, 1, 0, 1), 0b1111: (1, 1, 1, 1, 1),
}
#: S2PIR_EL2 / S2POR_EL1 entry -> (toplevel0, toplevel1), ASL ``AArch64.S2IndirectBasePermissions`` /
#: ``S2OverlayPermissions`` "Stage 2 Top Level Permission Attributes": MRO-TL0, MRO-TL1, MRO-TL01
_S2_TOPLEVEL = {0b0110: (True, False), 0b0011: (False, True), 0b0111: (True, True)}
S2PIR_TEXT = {
    0b0000: "no access", 0b0001: "reserved (no access)", 0b0010: "MRO", 0b0011: "MRO-TL1", 0b0100: "WO",
    0b0101: "reserved (no access)", 0b0110: "MRO-TL0", 0b0111: "MRO-TL01", 0b1000: "RO", 0b1001: "RO+uX",
    0b1010: "RO+pX", 0b1011: "RO+puX", 0b1100: "RW", 0b1101: "RW+uX", 0b1110: "RW+pX", 0b1111: "RW+puX",
}


@lru_cache(maxsize=1024)
def s2_indirect_base_permissions(*, pi_index: int, s2pi: int, dirty: bool, hd: bool) -> S2Perms:
    """ASL ``AArch64.S2IndirectBasePermissions`` (FEAT_S2PIE).

    :param pi_index: the leaf's PIIndex, ``desc<54:53,51,6>``
    :param s2pi: ``S2PIR_EL2[pi_index]``
    :param dirty: desc[7] (with ``hd`` a write to a clean page makes it dirty instead of faulting)

    The TopLevel encodings (MRO-TL0 0b0110, MRO-TL1 0b0011, MRO-TL01 0b0111) are MRO with the
    TopLevel0/TopLevel1 attributes (:func:`s2_toplevel_attrs`), which VTCR_EL2.TL0/TL1 make a
    stage 1 top-level table fetch need (:func:`s2_toplevel_fault`).
    """
    r, w, px, ux, wm = (bool(b) for b in _S2PI[s2pi])
    tl0, tl1 = s2_toplevel_attrs(s2pi)
    return S2Perms(r, w, px, ux, indirect=True, pi_index=pi_index, s2pi=s2pi, w_mmu=wm,
                   ndirty=not dirty and not hd, toplevel0=tl0, toplevel1=tl1)


def s2_toplevel_attrs(entry: int) -> tuple[bool, bool]:
    """ASL ``AArch64.S2IndirectBasePermissions`` / ``S2OverlayPermissions``, "Stage 2 Top Level
    Permission Attributes": (toplevel0, toplevel1) of one S2PIR_EL2 / S2POR_EL1 entry."""
    return _S2_TOPLEVEL.get(entry, (False, False))


def s2_overlay_permissions(s2po: int) -> tuple[bool, bool, bool, bool, bool]:
    """ASL ``AArch64.S2OverlayPermissions`` for one S2POR_EL1 entry: (r, w, px, ux, w_mmu)."""
    return tuple(bool(b) for b in _S2PI[s2po])  # type: ignore[return-value]


@lru_cache(maxsize=1024)
def s2_apply_overlay(perms: S2Perms, *, po_index: int, s2por: int | None) -> S2Perms:
    """ASL ``AArch64.S2ComputePermissions``, overlay step (FEAT_S2POE, only with S2PIE):
    attach ``S2POR_EL1[po_index]`` (``None``: S2POR_EL1 not given, the permissions are unknown).

    The TopLevel attributes count only where base and overlay together are MostlyReadOnly
    (``(<w,w_rcw,w_mmu> AND <ow,ow_rcw,ow_mmu>) == '011'``): then each is the OR of the base's and
    the overlay's, otherwise both are 0."""
    if perms.unknown:
        return perms
    if s2por is None:
        return unknown_s2_perms("S2POR_EL1")
    s2po = pir_entry(s2por, po_index)
    ovl = s2_overlay_permissions(s2po)
    if not (perms.w and ovl[1]) and perms.w_mmu and ovl[4]:
        o0, o1 = s2_toplevel_attrs(s2po)
        tl0, tl1 = perms.toplevel0 or o0, perms.toplevel1 or o1
    else:
        tl0 = tl1 = False
    return replace(perms, po_index=po_index, overlay=ovl, toplevel0=tl0, toplevel1=tl1)


def unknown_s2_perms(register: str) -> S2Perms:
    """Stage 2 permissions that cannot be known because ``register`` was not given."""
    return S2Perms(False, False, False, False, unknown=register)
