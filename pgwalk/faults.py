"""Faults as values, and their fault status codes (Arm ARM DDI 0487 M.a.a).

Why a walk stops
----------------
A walk ends with a translation or with a :class:`Fault`.  The fault kinds are
the pseudocode's ``Fault`` enumeration (QEMU's ``ARMFaultType`` mirrors it):

* ``TRANSLATION``: an invalid descriptor, a block where none is allowed, an
  input address out of range, a disabled walk (EPDx, E0PDx), TxSZ or a
  stage 2 start level out of bounds;
* ``ADDRESS_SIZE``: a table base or output address above the output size;
* ``ACCESS_FLAG``: a leaf with AF = 0 and hardware AF updates off;
* ``PERMISSION``: the access is not allowed by the leaf's permissions;
* ``SYNC_EXTERNAL_ON_WALK``: a descriptor read failed; pgwalk raises it when
  the descriptor address is outside the memory image (``not_in_image``).

:func:`encode_ld_fsc` turns a kind and a level into the long-descriptor FSC
that ESR_ELx.DFSC/IFSC and PAR_EL1.FST carry (ASL ``EncodeLDFSC``).
:data:`FSC_TABLE` decodes every one of the 64 values.
"""

from __future__ import annotations

import enum
from collections import namedtuple

from .formats.esr import ISS2_DABT, ISS2_IABT, ISS2_SHIFT, ISS_DABT_NOISV, ISS_IABT

__all__ = ["FaultType", "Fault", "encode_ld_fsc", "decode_fsc", "FscInfo", "FSC_TABLE", "syndrome_iss2", "syndrome_iss",
           "ISS2_DIRTYBIT", "ISS2_OVERLAY", "ISS2_ASSUREDONLY", "ISS_TOPLEVEL"]


class FaultType(enum.Enum):
    """The pseudocode ``Fault`` enumeration, as far as pgwalk raises or decodes it."""

    TRANSLATION = "translation"
    ADDRESS_SIZE = "address size"
    ACCESS_FLAG = "access flag"
    PERMISSION = "permission"
    SYNC_EXTERNAL_ON_WALK = "synchronous external abort on translation table walk"
    SYNC_EXTERNAL = "synchronous external abort"
    SYNC_PARITY_ON_WALK = "synchronous parity or ECC error on translation table walk"
    SYNC_PARITY = "synchronous parity or ECC error"
    GPCF_ON_WALK = "granule protection fault on translation table walk"
    GPCF = "granule protection fault"
    ALIGNMENT = "alignment"
    TLB_CONFLICT = "TLB conflict abort"
    TAG_CHECK = "synchronous tag check fault"
    HW_UPDATE = "unsupported atomic hardware update fault"
    LOCKDOWN = "IMPLEMENTATION DEFINED fault (Lockdown)"
    EXCLUSIVE = "IMPLEMENTATION DEFINED fault (Unsupported Exclusive or Atomic access)"

    @property
    def has_level(self) -> bool:
        return self in _LEVELLED


_LEVELLED = frozenset({
    FaultType.TRANSLATION, FaultType.ADDRESS_SIZE, FaultType.ACCESS_FLAG, FaultType.PERMISSION,
    FaultType.SYNC_EXTERNAL_ON_WALK, FaultType.SYNC_PARITY_ON_WALK, FaultType.GPCF_ON_WALK,
})

# (type, level) -> FSC, ASL EncodeLDFSC
_ENCODE: dict[tuple[FaultType, int], int] = {}
for _lvl in range(4):
    _ENCODE[(FaultType.ADDRESS_SIZE, _lvl)] = 0b000000 | _lvl
    _ENCODE[(FaultType.TRANSLATION, _lvl)] = 0b000100 | _lvl
    _ENCODE[(FaultType.ACCESS_FLAG, _lvl)] = 0b001000 | _lvl
    _ENCODE[(FaultType.PERMISSION, _lvl)] = 0b001100 | _lvl
    _ENCODE[(FaultType.SYNC_EXTERNAL_ON_WALK, _lvl)] = 0b010100 | _lvl
    _ENCODE[(FaultType.SYNC_PARITY_ON_WALK, _lvl)] = 0b011100 | _lvl
    _ENCODE[(FaultType.GPCF_ON_WALK, _lvl)] = 0b100100 | _lvl
_ENCODE.update({
    (FaultType.ADDRESS_SIZE, -1): 0b101001,
    (FaultType.ADDRESS_SIZE, -2): 0b101100,
    (FaultType.TRANSLATION, -1): 0b101011,
    (FaultType.TRANSLATION, -2): 0b101010,
    (FaultType.SYNC_EXTERNAL_ON_WALK, -1): 0b010011,
    (FaultType.SYNC_EXTERNAL_ON_WALK, -2): 0b010010,
    (FaultType.SYNC_PARITY_ON_WALK, -1): 0b011011,
    (FaultType.GPCF_ON_WALK, -1): 0b100011,
    (FaultType.GPCF_ON_WALK, -2): 0b100010,
})
_UNLEVELLED = {
    FaultType.SYNC_EXTERNAL: 0b010000,
    FaultType.TAG_CHECK: 0b010001,
    FaultType.SYNC_PARITY: 0b011000,
    FaultType.ALIGNMENT: 0b100001,
    FaultType.GPCF: 0b101000,
    FaultType.TLB_CONFLICT: 0b110000,
    FaultType.HW_UPDATE: 0b110001,
    FaultType.LOCKDOWN: 0b110100,
    FaultType.EXCLUSIVE: 0b110101,
}


def encode_ld_fsc(fault_type: FaultType, level: int | None) -> int:
    """ASL ``EncodeLDFSC``: the 6-bit long-descriptor fault status code.

    >>> hex(encode_ld_fsc(FaultType.TRANSLATION, -1))
    '0x2b'

    :raises ValueError: for a level the architecture has no code for (an
        Access flag or Permission fault at level -1, for example).
    """
    if fault_type in _UNLEVELLED:
        return _UNLEVELLED[fault_type]
    try:
        return _ENCODE[(fault_type, level)]
    except KeyError:
        raise ValueError(f"no fault status code for a {fault_type.value} fault at level {level}") from None


class FscInfo(namedtuple("FscInfo", "fsc type level description feature",
                         defaults=("",))):
    """What one FSC value means (a row of a table made at import: a NamedTuple)."""

    # the fields' types: fsc: int, type: FaultType | None, level: int | None, description: str, feature: str
    __slots__ = ()

    @property
    def allocated(self) -> bool:
        return self.type is not None or self.description.startswith(("Section", "Page", "IMPLEMENTATION"))


def _build_fsc_table() -> tuple[FscInfo, ...]:
    rows: dict[int, FscInfo] = {}
    needs = {(FaultType.ACCESS_FLAG, 0): "FEAT_LPA2", (FaultType.PERMISSION, 0): "FEAT_LPA2"}
    for (ftype, level), fsc in _ENCODE.items():
        if level == -1:
            feat = "FEAT_LPA2"
        elif level == -2:
            feat = "FEAT_D128"
        else:
            feat = needs.get((ftype, level), "")
        if ftype is FaultType.GPCF_ON_WALK:
            feat = "FEAT_RME" + (" + " + feat if feat else "")
        rows[fsc] = FscInfo(fsc, ftype, level, f"level {level} {ftype.value} fault"
                            if ftype in (FaultType.TRANSLATION, FaultType.ADDRESS_SIZE,
                                         FaultType.ACCESS_FLAG, FaultType.PERMISSION)
                            else f"{ftype.value}, level {level}", feat)
    for ftype, fsc in _UNLEVELLED.items():
        rows[fsc] = FscInfo(fsc, ftype, None, ftype.value)
    rows[0b111101] = FscInfo(0b111101, None, None, "Section Domain fault (AArch32 short-descriptor, PAR only)")
    rows[0b111110] = FscInfo(0b111110, None, None, "Page Domain fault (AArch32 short-descriptor, PAR only)")
    return tuple(rows.get(i, FscInfo(i, None, None, f"unknown {i:#04x} (reserved)")) for i in range(64))


#: Every 6-bit FSC value, indexed by the encoding (Linux ``fault_info[]`` style)
FSC_TABLE: tuple[FscInfo, ...] = _build_fsc_table()


def decode_fsc(fsc: int) -> FscInfo:
    """Meaning of a DFSC/IFSC/FST value.

    >>> decode_fsc(0x29).description
    'level -1 address size fault'
    """
    return FSC_TABLE[fsc & 0x3F]


#: ESR_ELx ISS2 bit of each Permission fault flag (ASL ``AArch64.FaultSyndrome``; Arm ARM D24.2.45),
#: from the ISS2 field table
ISS2_DIRTYBIT, ISS2_OVERLAY, ISS2_ASSUREDONLY = (1 << (ISS2_DABT[n].lsb - ISS2_SHIFT)
                                                 for n in ("DirtyBit", "Overlay", "AssuredOnly"))


#: ESR_ELx ISS bit of the TopLevel flag (ASL ``AArch64.FaultSyndrome``: ``iss<21>``, for an Instruction Abort
#: and a Data Abort with ISV = 0; the same bit in both layouts)
ISS_TOPLEVEL = ISS_IABT["TopLevel"].mask
assert ISS_DABT_NOISV["TopLevel"].mask == ISS_TOPLEVEL
assert all(ISS2_IABT[n].mask == ISS2_DABT[n].mask for n in ("DirtyBit", "Overlay", "AssuredOnly"))


def syndrome_iss(toplevel: bool) -> int:
    """ASL ``AArch64.FaultSyndrome``: the ISS bit a Permission fault's TopLevel flag sets
    (``iss<21>``; a Data Abort carries it only when ISV = 0, where bit 21 is not SSE).

    >>> hex(syndrome_iss(True))
    '0x200000'
    """
    return ISS_TOPLEVEL if toplevel else 0


def syndrome_iss2(overlay: bool, dirty_bit: bool, assured_only: bool) -> int:
    """ASL ``AArch64.FaultSyndrome``: the ISS2 Overlay, DirtyBit and AssuredOnly bits of a
    Permission fault (``ISS2<6>``, ``ISS2<5>``, ``ISS2<7>``).

    >>> hex(syndrome_iss2(True, False, False))
    '0x40'
    """
    return (ISS2_OVERLAY if overlay else 0) | (ISS2_DIRTYBIT if dirty_bit else 0) \
        | (ISS2_ASSUREDONLY if assured_only else 0)


class Fault(namedtuple("Fault", "type level stage s1ptw ipa reason not_in_image overlay dirty_bit assured_only toplevel",
                       defaults=(False, None, "", False, False, False, False, False))):
    """Why a translation stopped (an immutable value: a NamedTuple, cheap to define at start-up
    and to make on every faulting walk).

    :ivar type: the fault kind
    :ivar level: lookup level (-1..3), or ``None`` for kinds without one
    :ivar stage: 1 or 2
    :ivar s1ptw: a stage 2 fault taken on a stage 1 table walk access
    :ivar ipa: the IPA for stage 2 faults (HPFAR_EL2), else ``None``
    :ivar reason: a short explanation of the specific cause
    :ivar not_in_image: the descriptor address was not backed by the image
    :ivar overlay: a Permission fault the overlay (POR_ELx, S2POR_EL1) caused (ASL
        ``FaultRecord.overlay``: ESR_ELx ISS2.Overlay, PAR_EL1.Overlay)
    :ivar dirty_bit: a Permission fault caused by the dirty state under permission indirection
        (ASL ``FaultRecord.dirtybit``: ISS2.DirtyBit, PAR_EL1.DirtyBit)
    :ivar assured_only: a stage 2 Permission fault caused by AssuredOnly (FEAT_THE; ASL
        ``FaultRecord.assuredonly``: ISS2.AssuredOnly, PAR_EL1.AssuredOnly), set by the scalar walk
        (:func:`pgwalk.perms.s2_permission_fault`)
    :ivar toplevel: a stage 2 Permission fault on the fetch of a stage 1 top-level table caused by the
        TopLevel check (FEAT_THE, VTCR_EL2.TL0/TL1; ASL ``FaultRecord.toplevel``: ESR ISS.TopLevel [21],
        PAR_EL1.TopLevel [13]), set by the scalar walk (:func:`pgwalk.perms.s2_toplevel_fault`)
    """

    # the fields' types: type: FaultType, level: int | None, stage: int, s1ptw: bool, ipa: int | None, reason:
    # str, not_in_image: bool, overlay: bool, dirty_bit: bool, assured_only: bool, toplevel: bool
    __slots__ = ()

    @property
    def fsc(self) -> int:
        return encode_ld_fsc(self.type, self.level)

    @property
    def description(self) -> str:
        what = f"level {self.level} {self.type.value} fault" if self.level is not None else self.type.value
        if self.type is FaultType.SYNC_EXTERNAL_ON_WALK:
            what = f"{self.type.value}, level {self.level}"
        return f"stage {self.stage} {what}" + (" on the stage 1 walk (S1PTW)" if self.s1ptw else "")

    @property
    def iss2(self) -> int:
        """The ESR_ELx ISS2 bits a Data or Instruction Abort for this fault carries that the
        walk decides (ASL ``AArch64.FaultSyndrome``: DirtyBit [5], Overlay [6], AssuredOnly [7],
        set only for a Permission fault); shift by 32 for the ESR bits."""
        return syndrome_iss2(self.overlay, self.dirty_bit, self.assured_only)

    @property
    def iss(self) -> int:
        """The ESR_ELx ISS bits a Data (with ISV = 0) or Instruction Abort for this fault carries that
        the walk decides besides the FSC and S1PTW: TopLevel [21] (ASL ``AArch64.FaultSyndrome``)."""
        return syndrome_iss(self.toplevel)

    @property
    def flags(self) -> tuple[str, ...]:
        """The names of the syndrome flags set (``"Overlay"``, ``"DirtyBit"``, ``"AssuredOnly"``,
        ``"TopLevel"``)."""
        return tuple(n for n, on in (("Overlay", self.overlay), ("DirtyBit", self.dirty_bit),
                                     ("AssuredOnly", self.assured_only), ("TopLevel", self.toplevel)) if on)

    def __str__(self) -> str:
        s = f"{self.description}, FSC {self.fsc:#04x}" + "".join(f", {n}" for n in self.flags)
        return s + (f" ({self.reason})" if self.reason else "")
