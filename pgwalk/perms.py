"""Access permissions (Arm ARM DDI 0487 M.a.a §D8.4; ASL
``AArch64.S1DirectBasePermissions``, ``AArch64.S1ComputePermissions``,
``AArch64.S1CheckPermissions``, ``AArch64.S2DirectBasePermissions``).

The walk collects the leaf's AP/XN bits and the hierarchical table bits; the
functions here turn them into read/write/execute permissions per EL, apply
WXN and PAN, and judge one access.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Access", "S1Perms", "S2Perms", "s1_direct_base_permissions", "s1_check",
           "s2_direct_base_permissions", "s2_check", "rwx_text"]


def rwx_text(r: bool, w: bool, x: bool) -> str:
    """Read, write and execute permission as ``"rwx"`` text, ``-`` for each one denied."""
    return ("r" if r else "-") + ("w" if w else "-") + ("x" if x else "-")


class Access(enum.Enum):
    """The kind of access being translated."""

    READ = "read"
    WRITE = "write"
    EXEC = "exec"
    ANY = "any"        # AT S1E1A and friends: no permission check (ASL AccessType_AT, read=write=FALSE)


@dataclass(frozen=True, slots=True)
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

    def text(self, el0: bool) -> str:
        r, w, x = (self.ur, self.uw, self.ux) if el0 else (self.pr, self.pw, self.px)
        return rwx_text(r, w, x)


@dataclass(frozen=True, slots=True)
class S2Perms:
    """Stage 2 permissions (the same for EL1 and EL0 data; execute split by FEAT_XNX)."""

    r: bool
    w: bool
    x_el1: bool
    x_el0: bool

    def text(self, el0: bool) -> str:
        return rwx_text(self.r, self.w, self.x_el0 if el0 else self.x_el1)


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


def s1_effective(perms: S1Perms, *, el0: bool, pan: bool, epan: bool, wxn: bool) -> tuple[bool, bool, bool]:
    """(r, w, x) for one EL after PAN and WXN (ASL ``S1DirectBasePermissions`` tail,
    ``S1ComputePermissions``)."""
    pr, pw = perms.pr, perms.pw
    if pan and perms.two_el and (perms.ur or perms.uw or (epan and perms.ux)):
        pr = pw = False
    r, w, x = (perms.ur, perms.uw, perms.ux) if el0 else (pr, pw, perms.px)
    if wxn and w and x:
        x = False
    return r, w, x


def s1_check(perms: S1Perms, access: Access, *, el0: bool, pan: bool, epan: bool, wxn: bool) -> bool:
    """ASL ``AArch64.S1CheckPermissions``: True when the access is permitted."""
    if access is Access.ANY:
        return True
    r, w, x = s1_effective(perms, el0=el0, pan=pan, epan=epan, wxn=wxn)
    return {Access.READ: r, Access.WRITE: w, Access.EXEC: x}[access]


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


def s2_check(perms: S2Perms, access: Access, *, el0: bool) -> bool:
    """Stage 2 permission check for one access (ASL ``AArch64.S2CheckPermissions``)."""
    if access is Access.ANY:
        return True
    if access is Access.READ:
        return perms.r
    if access is Access.WRITE:
        return perms.w
    return perms.x_el0 if el0 else perms.x_el1
