"""The translation-table walker (Arm ARM DDI 0487 M.a.a; ASL ``AArch64.S1Translate``,
``AArch64.S1Walk``, ``AArch64.S2Translate``, ``AArch64.S2Walk``).

:func:`translate` runs stage 1, stage 2 or both for one input address and
returns a :class:`Translation`: the per-level trace, the leaves, the
attributes and permissions, and the :class:`~pgwalk.faults.Fault` where the
walk stopped.  Faults are values, never exceptions (see
:mod:`pgwalk.faults` for why a walk stops).  Every stage 1 descriptor fetch
of the EL1&0 regime goes through stage 2 when stage 2 is enabled, as the
hardware does, even for ``stages="1"`` (AT S1E1R does the same).

Choices where the architecture allows several (each also noted in the
output where it matters):

* the Contiguous bit does not change the output address
  (IMPLEMENTATION DEFINED "Treat Contiguous bit as 0" for the OA; QEMU);
* TxSZ outside the limits, reserved TGx and an IPA wider than the stage 2
  output size fault as QEMU does (:mod:`pgwalk.params`);
* with HA = 1 an AF = 0 leaf translates as if AF were 1 (a read-only walker
  cannot set it); AT never updates dirty state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from . import attrs as A
from .errors import NotInImage, UnknownRegister
from .memory_protocol import Memory
from .faults import Fault, FaultType
from .formats import descriptors as D
from .formats.fields import Layout
from .params import (FINAL_LEVEL, Regime, S1WalkParams, S2WalkParams, TranslationSetup, block_desc_supported,
                     oa_out_of_range)
from . import rules
from .perms import Access, S1Perms, S2Perms, s1_check, s1_direct_base_permissions, s2_check, s2_direct_base_permissions

__all__ = ["Memory", "TraceStep", "Leaf", "AFUpdate", "Translation", "translate", "s2_translate", "decode_descriptor_type",
           "next_table_base", "leaf_base", "table_index", "s2_lookup", "s1_leaf", "s2_leaf",
           "s2_walk_device", "s1_disabled_attributes", "stage2_attributes", "WalkFault"]


# Descriptor field masks, from the one field table in pgwalk.formats.descriptors
_ADDR_MASK_48 = (1 << 48) - 1
_AF = D.S1_LEAF["AF"]
_AP = D.S1_LEAF["AP"]
_SH = D.S1_LEAF["SH"]
_ATTRINDX = D.S1_LEAF["AttrIndx"]
_NG = D.S1_LEAF["nG"]
_DBM = D.S1_LEAF["DBM"]
_CONT = D.S1_LEAF["Contiguous"]
_PXN = D.S1_LEAF["PXN"]
_UXN = D.S1_LEAF["UXN"]
_NS = D.S1_LEAF["NS"]
_APTABLE = D.S1_TABLE["APTable"]
_UXNTABLE = D.S1_TABLE["UXNTable"]
_PXNTABLE = D.S1_TABLE["PXNTable"]
_S2AP = D.S2_LEAF["S2AP"]
_MEMATTR = D.S2_LEAF["MemAttr"]
_S2XN = D.S2_LEAF["XN"]
_FNXS = D.S2_LEAF["FnXS"]


class TraceStep(NamedTuple):
    """One descriptor read of a walk (a NamedTuple: cheap to create on the hot path).

    :ivar stage: 1 or 2
    :ivar level: lookup level (-1..3)
    :ivar table: base of the table read (an IPA for stage 1 tables under stage 2)
    :ivar index: entry index in that table
    :ivar desc_addr: ``table + 8 * index`` in the same address space
    :ivar desc_pa: physical address actually read, ``None`` if not reached
    :ivar raw: the descriptor, ``None`` if it could not be read
    :ivar kind: table, block, page, invalid, reserved, not in image, or s2 fault
    :ivar next_addr: next table base (table) or output base (block/page)
    :ivar s1_level: for stage 2 steps that fetch a stage 1 descriptor: that level
    """

    stage: int
    level: int
    table: int
    index: int
    desc_addr: int
    desc_pa: int | None
    raw: int | None
    kind: str
    next_addr: int | None = None
    layout: Layout | None = None
    note: str = ""
    s1_level: int | None = None

    @property
    def fields(self) -> dict[str, int]:
        """The descriptor's fields by Arm ARM name (empty for invalid entries)."""
        if self.layout is None or self.raw is None:
            return {}
        return self.layout.decode(self.raw)


@dataclass(frozen=True, slots=True)
class Leaf:
    """The block or page descriptor that ended one stage's walk."""

    stage: int
    level: int
    kind: str               # "block" or "page"
    raw: int
    oa_base: int
    size_shift: int         # log2 of the block/page size
    attrs: A.MemAttrs | None  # None: unknown (stage 1 with MAIR not given)
    perms: S1Perms | S2Perms
    af: bool
    ng: bool
    contiguous: bool
    dbm: bool
    attr_index: int | None  # stage 1 AttrIndx
    sh: int
    af_update: bool = False  # AF = 0 with hardware AF update on (HA = 1): using the leaf sets AF

    @property
    def size(self) -> int:
        return 1 << self.size_shift


class AFUpdate(NamedTuple):
    """A descriptor whose Access flag the hardware sets for this translation (HA = 1, AF = 0).

    ASL ``AArch64.S1Translate`` / ``S2Translate`` with ``AArch64.SetAccessFlag``: the leaf
    of each stage that completed without a fault.  For an AT the update of the leaves is
    IMPLEMENTATION DEFINED ("AT updates AF"; QEMU does, and pgwalk reports it); the stage 2
    descriptors of the stage 1 table fetches (``s1_level`` set: the stage 1 level fetched)
    are updated by the walk itself.  A Permission fault leaves AF CONSTRAINED UNPREDICTABLE:
    pgwalk reports no update then (as QEMU).  Dirty state is never updated by an AT (ASL
    ``AArch64.SetDirtyState``); the stage 2 write a stage 1 descriptor update needs is not
    modelled.
    """

    stage: int
    level: int
    s1_level: int | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """The outcome of translating one address.

    ``ok`` is true when no fault was found.  ``ipa`` is set when stage 1 ran
    (for a stage-2-only translation it is the input); ``pa`` when the last
    requested stage completed.
    """

    va: int
    stages: str                       # "1", "2" or "12"
    regime: Regime
    ipa: int | None
    pa: int | None
    fault: Fault | None
    steps: tuple[TraceStep, ...]
    s1: Leaf | None = None
    s2: Leaf | None = None
    attrs: A.MemAttrs | None = None    # final attributes (combined for two stages)
    s1_disabled: bool = False
    access: Access | None = None
    el: int = 1
    pan: bool = False
    notes: tuple[str, ...] = ()
    s1ptw_af_updates: tuple[AFUpdate, ...] = ()   # stage 2 leaves of the stage 1 table fetches (scalar walk only)

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def af_updates(self) -> tuple[AFUpdate, ...]:
        """The descriptors whose AF the hardware sets (see :class:`AFUpdate`): the stage 2
        descriptors of the stage 1 table fetches, then the leaves."""
        return self.s1ptw_af_updates + tuple(AFUpdate(leaf.stage, leaf.level) for leaf in (self.s1, self.s2)
                                             if leaf is not None and leaf.af_update)

    @property
    def output(self) -> int | None:
        """The address the requested stages produce (PA, or IPA for ``stages="1"``)."""
        return self.pa if self.stages != "1" else self.ipa

    @property
    def size_shift(self) -> int | None:
        """log2 of the mapping's size: the smaller of the leaves."""
        shifts = [leaf.size_shift for leaf in (self.s1, self.s2) if leaf is not None]
        return min(shifts) if shifts else None


class WalkFault(Exception):
    """A fault ends the walk: :attr:`fault` is the :class:`~pgwalk.faults.Fault`.

    Raised by :func:`s2_translate` (and the stage-1 walk inside this module);
    :func:`translate` turns it into ``Translation.fault``, so only callers of
    :func:`s2_translate` see it.
    """

    def __init__(self, fault: Fault):
        self.fault = fault


def _descriptor_address(raw: int, low_bits: int, ds: bool, lpa64: bool) -> int:
    """The address a descriptor holds, bits below ``low_bits`` dropped: desc[47:low_bits],
    then OA[51:48] from desc[15:12] (64KB, 52-bit PA) or desc[9:8]:desc[49:48] (DS = 1)."""
    base = (raw & _ADDR_MASK_48) & ~((1 << low_bits) - 1)
    if lpa64:
        base |= D.LPA_OA_51_48.get(raw) << 48
    elif ds:
        base |= (D.DS_OA_51_50.get(raw) << 50) | (D.DS_OA_49_48.get(raw) << 48)
    return base


def leaf_base(raw: int, leafsize: int, ds: bool, lpa64: bool) -> int:
    """ASL ``AArch64.S1LeafBase`` / ``S2LeafBase``: aligned to the block or page size."""
    return _descriptor_address(raw, leafsize, ds, lpa64)


def next_table_base(raw: int, granule_shift: int, ds: bool, lpa64: bool) -> int:
    """ASL ``AArch64.NextTableBase``: aligned to one granule."""
    return _descriptor_address(raw, granule_shift, ds, lpa64)


def decode_descriptor_type(raw: int, level: int, ds: bool, granule_shift: int, pa_max: int) -> str:
    """ASL ``AArch64.DecodeDescriptorType``: table, block, page, invalid or reserved."""
    if not raw & 1:
        return "invalid"
    if raw & 2:
        return "page" if level == FINAL_LEVEL else "table"
    if level == FINAL_LEVEL:
        return "reserved"
    if block_desc_supported(ds, granule_shift, level, pa_max):
        return "block"
    return "illegal block"


def table_index(ia: int, level: int, start_level: int, iasize: int, granule_shift: int) -> int:
    """ASL ``S1SLTTEntryAddress``/``S1TTEntryAddress`` index: IA bits for ``level``."""
    stride = granule_shift - 3
    lsb = (FINAL_LEVEL - level) * stride + granule_shift
    msb = iasize - 1 if level == start_level else lsb + stride - 1
    return (ia >> lsb) & ((1 << (msb - lsb + 1)) - 1)


def _read(mem: Memory, pa: int, big_endian: bool) -> int | str:
    """The descriptor at ``pa``, or why it cannot be read ("not in the image",
    "excluded from the dump", ...)."""
    try:
        return mem.read_u64(pa, big_endian)
    except NotInImage as exc:
        return exc.reason


def s2_translate(setup: TranslationSetup, mem: Memory, ipa: int, *, access: Access | None, el: int,
                 s1ptw: bool, steps: list[TraceStep], s1_level: int | None = None,
                 af_updates: list[AFUpdate] | None = None) -> tuple[int, Leaf]:
    """ASL ``AArch64.S2Translate`` for one IPA: returns (PA, leaf) or raises ``WalkFault``.

    ``s1ptw`` marks a stage 1 descriptor fetch (a read; HCR_EL2.PTW applies); the
    fetch's Access flag update, if any, is appended to ``af_updates``.
    """
    s2 = setup.s2
    assert s2 is not None

    def fault(ftype: FaultType, level: int, reason: str, nii: bool = False) -> WalkFault:
        return WalkFault(Fault(ftype, level, 2, s1ptw=s1ptw, ipa=ipa, reason=reason, not_in_image=nii))

    if s2.config_fault:
        raise fault(FaultType.TRANSLATION, 0, s2.config_fault)
    if ipa >> s2.iasize:
        raise fault(FaultType.TRANSLATION, 0, f"IPA {ipa:#x} is outside the {s2.iasize}-bit input range")
    if s2.base_fault:
        raise fault(FaultType.ADDRESS_SIZE, 0, f"VTTBR_EL2 base {s2.base:#x} is beyond the {s2.oa_bits}-bit output size")
    g, ds, lpa64, oa_bits = s2.granule_shift, s2.ds, s2.lpa64, s2.oa_bits
    pa_max = setup.features.pa_max
    level = s2.start_level
    table = s2.base
    while True:
        index = table_index(ipa, level, s2.start_level, s2.iasize, g)
        desc_addr = table | (index << 3)
        raw = _read(mem, desc_addr, s2.ee)
        if raw.__class__ is str:
            steps.append(TraceStep(2, level, table, index, desc_addr, desc_addr, None, "not in image",
                                   note=f"descriptor address {raw}", s1_level=s1_level))
            raise fault(FaultType.SYNC_EXTERNAL_ON_WALK, level, f"descriptor address {desc_addr:#x} {raw}", True)
        kind = decode_descriptor_type(raw, level, ds, g, pa_max)
        if kind == "table":
            nxt = next_table_base(raw, g, ds, lpa64)
            steps.append(TraceStep(2, level, table, index, desc_addr, desc_addr, raw, kind, nxt,
                                   D.s2_table_layout(g, ds, lpa64), s1_level=s1_level))
            if oa_out_of_range(nxt, oa_bits):
                raise fault(FaultType.ADDRESS_SIZE, level, f"next-level table {nxt:#x} is beyond the {oa_bits}-bit output size")
            table = nxt
            level += 1
            continue
        if kind in ("block", "page"):
            leafsize = g + (g - 3) * (FINAL_LEVEL - level)
            base = leaf_base(raw, leafsize, ds, lpa64)
            steps.append(TraceStep(2, level, table, index, desc_addr, desc_addr, raw, kind, base,
                                   D.s2_leaf_layout(leafsize, ds, lpa64, kind == "block"), s1_level=s1_level))
            break
        steps.append(TraceStep(2, level, table, index, desc_addr, desc_addr, raw, kind, s1_level=s1_level,
                               note=_invalid_note(kind, level, g, ds)))
        raise fault(FaultType.TRANSLATION, level, _invalid_note(kind, level, g, ds))
    pa = base | (ipa & ((1 << leafsize) - 1))
    if oa_out_of_range(pa, oa_bits):
        raise fault(FaultType.ADDRESS_SIZE, level, _oa_note(pa, base, leafsize, oa_bits))
    af = bool(_AF.get(raw))
    if not af and not s2.ha:
        raise fault(FaultType.ACCESS_FLAG, level, "AF = 0 and VTCR_EL2.HA = 0")
    leaf = s2_leaf(setup, raw, level, kind)
    perms = leaf.perms
    if s1ptw:
        # A stage 1 walk reads its descriptor: S2AP read permission, and with
        # HCR_EL2.PTW = 1 a walk into stage 2 Device memory is a Permission fault.
        device = s2_walk_device(_MEMATTR.get(raw), s2.fwb)
        if not s2_check(perms, None, el0=False):
            raise fault(FaultType.PERMISSION, level, "stage 2 denies the stage 1 walk read access (S2AP)")
        if s2.ptw and device:
            raise fault(FaultType.PERMISSION, level, "stage 1 table in stage 2 Device memory with HCR_EL2.PTW = 1")
    elif access is not None and not s2_check(perms, access, el0=el == 0):
        raise fault(FaultType.PERMISSION, level, f"stage 2 permissions {perms.text(el == 0)} deny the {access.value}")
    if s1ptw and leaf.af_update and af_updates is not None:
        af_updates.append(AFUpdate(2, level, s1_level))
    return pa, leaf


def _oa_note(oa: int, base: int, leafsize: int, oa_bits: int) -> str:
    """Why a stage's final output address (ASL ``StageOA``) is out of range."""
    if not oa_out_of_range(base, oa_bits):
        return (f"output address {oa:#x} is beyond the {oa_bits}-bit output size (the {1 << leafsize:#x}-byte "
                f"block at {base:#x} is larger than the output address space)")
    return f"output address {oa:#x} is beyond the {oa_bits}-bit output size"


def s2_leaf(setup: TranslationSetup, raw: int, level: int, kind: str) -> Leaf:
    """The stage 2 :class:`Leaf` of a block or page descriptor: its attributes and permissions
    (ASL ``S2DecodeMemAttrs``, ``AArch64.S2DirectBasePermissions``)."""
    s2 = setup.s2
    assert s2 is not None
    g = s2.granule_shift
    leafsize = g + (g - 3) * (FINAL_LEVEL - level)
    sh = s2.sh if s2.ds else _SH.get(raw)
    perms = rules.s2_leaf_permissions(s2, raw, setup.features.xnx)   # direct or indirect (FEAT_S2PIE)
    s2attrs = A.s2_decode_mem_attrs(_MEMATTR.get(raw), sh)
    af = bool(_AF.get(raw))
    return Leaf(2, level, kind, raw, leaf_base(raw, leafsize, s2.ds, s2.lpa64), leafsize, s2attrs, perms,
                af, False, bool(_CONT.get(raw)), bool(_DBM.get(raw)), None, sh, not af and s2.ha)


def s2_walk_device(memattr: int, fwb: bool) -> bool:
    """Whether stage 2 MemAttr makes a stage 1 table fetch a Device access (HCR_EL2.PTW check)."""
    return (memattr & 0b100) == 0 if fwb else (memattr & 0b1100) == 0


def _invalid_note(kind: str, level: int, g: int, ds: bool) -> str:
    if kind == "invalid":
        return "invalid descriptor (bit 0 = 0)"
    if kind == "reserved":
        return "reserved descriptor at level 3 (bits[1:0] = 0b01)"
    return f"block descriptor not allowed at level {level} with {1 << (g - 10)}KB granule{' and DS = 1' if ds else ''}"


def _s1_disabled(setup: TranslationSetup, va: int, access: Access | None) -> tuple[int, A.MemAttrs]:
    """ASL ``AArch64.S1DisabledOutput``: flat mapping and default attributes."""
    p = setup.s1_params(va)
    is_exec = access is Access.EXEC
    addrtop = 63 if (p.tbid and is_exec) else (55 if p.tbi else 63)
    pa_max = setup.features.pa_max
    check = va  # (with FEAT_MTE_CANONICAL_TAGS and MTX = 1, VA[59:56] would be ignored here)
    if (check >> pa_max) & ((1 << (addrtop - pa_max + 1)) - 1):
        raise WalkFault(Fault(FaultType.ADDRESS_SIZE, 0, 1,
                          reason=f"stage 1 is disabled and VA bits [{addrtop}:{pa_max}] are not zero"))
    return va & ((1 << 56) - 1), s1_disabled_attributes(setup, access)


def s1_disabled_attributes(setup: TranslationSetup, access: Access | None) -> A.MemAttrs:
    """The attributes of a stage 1 disabled translation (ASL ``AArch64.S1DisabledOutput``)."""
    if setup.dc:
        return A.MemAttrs("Normal", inner=A.Cacheability(A.WB, 0b11), outer=A.Cacheability(A.WB, 0b11),
                          shareability=A.NSH, xs=False)
    if access is Access.EXEC:
        return A.NORMAL_NC
    return A.DEVICE_nGnRnE


def _va_out_of_range(p: S1WalkParams, va: int, access: Access | None) -> bool:
    """ASL ``AArch64.VAIsOutOfRange``."""
    addrtop = 63 if (p.tbid and access is Access.EXEC) else (55 if p.tbi else 63)
    if addrtop < p.iasize:
        return False
    bits = (va >> p.iasize) & ((1 << (addrtop - p.iasize + 1)) - 1)
    if p.has_unprivileged and p.varange == 1:
        return bits != (1 << (addrtop - p.iasize + 1)) - 1
    return bits != 0


def _s1_walk(setup: TranslationSetup, mem: Memory, va: int, access: Access | None, el: int,
             pan: bool, steps: list[TraceStep], af_updates: list[AFUpdate]) -> tuple[int, Leaf]:
    """ASL ``AArch64.S1Translate`` with ``S1Walk``: returns (IPA/PA, leaf) or raises ``WalkFault``."""
    p = setup.s1_params(va)

    def fault(ftype: FaultType, level: int, reason: str, nii: bool = False) -> WalkFault:
        return WalkFault(Fault(ftype, level, 1, reason=reason, not_in_image=nii))

    if p.config_fault:
        raise fault(FaultType.TRANSLATION, 0, p.config_fault)
    if _va_out_of_range(p, va, access):
        raise fault(FaultType.TRANSLATION, 0,
                    f"VA {va:#x} is outside the {p.iasize}-bit {p.ttbr_name} range")
    if p.has_unprivileged and el == 0 and p.e0pd:
        raise fault(FaultType.TRANSLATION, 0, f"E0PD{p.varange} = 1 and the access is from EL0")
    if p.has_unprivileged and p.epd:
        raise fault(FaultType.TRANSLATION, 0, f"EPD{p.varange} = 1: walks through {p.ttbr_name} are disabled")
    if not p.ttbr_known:
        # not a fault: the table base was never given (an absent register is unknown, not 0)
        raise UnknownRegister(p.ttbr_name, va)
    if p.base_fault:
        raise fault(FaultType.ADDRESS_SIZE, 0,
                    f"{p.ttbr_name} base {p.base:#x} is beyond the {p.oa_bits}-bit output size")
    g, ds, lpa64, oa_bits = p.granule_shift, p.ds, p.lpa64, p.oa_bits
    pa_max = setup.features.pa_max
    through_s2 = setup.s2 is not None and p.regime is Regime.EL10
    two_el = p.has_unprivileged
    ap_table = 0
    uxn_table = pxn_table = False
    level = p.start_level
    table = p.base
    while True:
        index = table_index(va, level, p.start_level, p.iasize, g)
        desc_addr = table | (index << 3)
        if through_s2:
            try:
                desc_pa, _ = s2_translate(setup, mem, desc_addr, access=None, el=el, s1ptw=True,
                                          steps=steps, s1_level=level, af_updates=af_updates)
            except WalkFault as stop:
                steps.append(TraceStep(1, level, table, index, desc_addr, None, None, "s2 fault",
                                       note="stage 2 fault on the stage 1 table walk"))
                raise
        else:
            desc_pa = desc_addr
        raw = _read(mem, desc_pa, p.ee)
        if raw.__class__ is str:
            steps.append(TraceStep(1, level, table, index, desc_addr, desc_pa, None, "not in image",
                                   note=f"descriptor address {raw}"))
            raise fault(FaultType.SYNC_EXTERNAL_ON_WALK, level, f"descriptor address {desc_pa:#x} {raw}", True)
        kind = decode_descriptor_type(raw, level, ds, g, pa_max)
        if kind == "table":
            nxt = next_table_base(raw, g, ds, lpa64)
            steps.append(TraceStep(1, level, table, index, desc_addr, desc_pa, raw, kind, nxt,
                                   D.s1_table_layout(g, ds, lpa64)))
            if oa_out_of_range(nxt, oa_bits):
                raise fault(FaultType.ADDRESS_SIZE, level,
                            f"next-level table {nxt:#x} is beyond the {oa_bits}-bit output size")
            if not p.hpd:
                ap_table |= _APTABLE.get(raw)
                uxn_table |= bool(_UXNTABLE.get(raw))
                pxn_table |= bool(_PXNTABLE.get(raw)) and two_el
            if not two_el:
                ap_table &= 0b10  # APTable[0] is RES0 in one-EL regimes
            table = nxt
            level += 1
            continue
        if kind in ("block", "page"):
            leafsize = g + (g - 3) * (FINAL_LEVEL - level)
            base = leaf_base(raw, leafsize, ds, lpa64)
            steps.append(TraceStep(1, level, table, index, desc_addr, desc_pa, raw, kind, base,
                                   D.s1_leaf_layout(leafsize, ds, lpa64, kind == "block")))
            break
        note = _invalid_note(kind, level, g, ds)
        steps.append(TraceStep(1, level, table, index, desc_addr, desc_pa, raw, kind, note=note))
        raise fault(FaultType.TRANSLATION, level, note)
    oa = base | (va & ((1 << leafsize) - 1))
    if oa_out_of_range(oa, oa_bits):
        raise fault(FaultType.ADDRESS_SIZE, level, _oa_note(oa, base, leafsize, oa_bits))
    af = bool(_AF.get(raw))
    if not af and not p.ha:
        raise fault(FaultType.ACCESS_FLAG, level, "AF = 0 and hardware AF update is off")
    leaf = s1_leaf(setup, p, raw, level, kind, ap_table, uxn_table, pxn_table)
    perms = leaf.perms
    if access is not None and not s1_check(perms, access, el0=el == 0, pan=pan, epan=setup.epan, wxn=setup.wxn):
        raise fault(FaultType.PERMISSION, level,
                    f"stage 1 permissions {perms.text(el == 0)} at EL{el}"
                    f"{' with PAN' if pan else ''} deny the {access.value}{rules.s1_permission_note(perms, access, el, pan, setup)}")
    return oa, leaf


def s1_leaf(setup: TranslationSetup, p: S1WalkParams, raw: int, level: int, kind: str, ap_table: int,
            uxn_table: bool, pxn_table: bool) -> Leaf:
    """The stage 1 :class:`Leaf` of a block or page descriptor: its attributes and permissions
    (ASL ``S1DecodeMemAttrs``, ``AArch64.S1DirectBasePermissions``) given the hierarchical
    table bits the walk collected."""
    g = p.granule_shift
    leafsize = g + (g - 3) * (FINAL_LEVEL - level)
    two_el = p.has_unprivileged
    sh = p.sh if p.ds else _SH.get(raw)
    attr_index = _ATTRINDX.get(raw)
    # MAIR not given: the attributes are unknown (None), not what a MAIR of 0 would say
    memattrs = A.s1_decode_mem_attrs((setup.mair >> (8 * attr_index)) & 0xFF, sh) if setup.mair_known else None
    perms = rules.s1_leaf_permissions(p, raw, ap_table, uxn_table, pxn_table)   # direct or indirect (FEAT_S1PIE)
    af = bool(_AF.get(raw))
    return Leaf(1, level, kind, raw, leaf_base(raw, leafsize, p.ds, p.lpa64), leafsize, memattrs, perms,
                af, bool(_NG.get(raw)) and two_el, bool(_CONT.get(raw)), bool(_DBM.get(raw)),
                attr_index, sh, not af and p.ha)


def stage2_attributes(setup: TranslationSetup, s1_attrs: A.MemAttrs | None, s2: Leaf, stages: str,
                      access: Access | None) -> A.MemAttrs | None:
    """The final attributes once stage 2 has run (ASL ``S2CombineS1MemAttrs``,
    ``AArch64.S2ApplyFWBMemAttrs``, ``S2TreatAsNormalNC``); ``None`` when the stage 1
    attributes are unknown (MAIR not given)."""
    assert setup.s2 is not None
    if stages == "2":
        return A.effective_shareability(s2.attrs)
    if s1_attrs is None:
        return None
    if setup.s2.fwb:
        return A.s2_apply_fwb(s1_attrs, _MEMATTR.get(s2.raw), s2.sh, bool(_FNXS.get(s2.raw)))
    s2attrs = s2.attrs
    if setup.s2.cd and access is not Access.EXEC and not s2attrs.is_device:
        s2attrs = A.NORMAL_NC  # ASL S2TreatAsNormalNC: HCR_EL2.CD
    return A.s2_combine_s1(s1_attrs, s2attrs)


def translate(setup: TranslationSetup, mem: Memory, va: int, *, stages: str | None = None,
              access: Access | None = None, el: int = 1, pan: bool = False) -> Translation:
    """Translate one address the way the architecture does.

    >>> t = translate(setup, mem, 0xffff800000201234)    # doctest: +SKIP
    >>> hex(t.pa), t.fault

    :param stages: "1" (VA -> IPA; stage 1 table fetches still go through
        stage 2 when it is on), "2" (input is an IPA), "12" (VA -> PA);
        default: both when the registers enable stage 2.
    :param access: judge this access (read/write/exec/any); ``None`` reports
        permissions without judging.
    :param el: the exception level of the access (0 selects EL0 permissions).
    :param pan: PSTATE.PAN applies to this access.
    :returns: a :class:`Translation`; faults are in ``.fault``, never raised.
    :raises UnknownRegister: when the walk needs a table base register that was
        not given (an unknown TTBR is not a fault, and not zero)
    """
    if stages is None:
        stages = "12" if setup.s2 is not None else "1"
    if stages not in ("1", "2", "12"):
        raise ValueError(f"stages must be 1, 2 or 12, not {stages!r}")
    steps: list[TraceStep] = []
    s1ptw_af: list[AFUpdate] = []
    ipa = pa = None
    s1 = s2 = None
    attrs = None
    fault = None
    s1_disabled = False
    notes: list[str] = []
    try:
        if stages in ("1", "12"):
            if not setup.s1_enabled:
                s1_disabled = True
                ipa, attrs = _s1_disabled(setup, va, access)
                notes.append("stage 1 is disabled: the output address is the input address")
            else:
                ipa, s1 = _s1_walk(setup, mem, va, access, el, pan, steps, s1ptw_af)
                attrs = s1.attrs
            if stages == "1":
                pa = ipa if setup.s2 is None else None
        else:
            ipa = va
        if stages in ("2", "12"):
            if setup.s2 is None:
                if stages == "2":
                    raise ValueError("stage 2 is not enabled by the registers (HCR_EL2.VM/DC)")
                pa = ipa
            else:
                pa, s2 = s2_translate(setup, mem, ipa, access=access, el=el, s1ptw=False, steps=steps)
                attrs = stage2_attributes(setup, attrs, s2, stages, access)
    except WalkFault as stop:
        fault = stop.fault
        if fault.stage == 1 or fault.s1ptw:
            pa = None
            if fault.stage == 1:
                ipa = None
        else:
            pa = None
        attrs = None
    return Translation(va=va, stages=stages, regime=setup.regime, ipa=ipa, pa=pa, fault=fault,
                       steps=tuple(steps), s1=s1, s2=s2, attrs=attrs, s1_disabled=s1_disabled,
                       access=access, el=el, pan=pan, notes=tuple(notes), s1ptw_af_updates=tuple(s1ptw_af))


def s2_lookup(setup: TranslationSetup, mem: Memory, ipa: int, *, s1ptw: bool = False) -> tuple[int, Leaf] | Fault:
    """One stage 2 lookup without a permission check: ``(PA, leaf)``, or the :class:`Fault` (never raised).

    :func:`s2_translate` for callers outside this module (the tree walk of :mod:`pgwalk.tree`);
    ``s1ptw`` marks a stage 1 table fetch (S2AP read permission and HCR_EL2.PTW apply).
    """
    try:
        return s2_translate(setup, mem, ipa, access=None, el=1, s1ptw=s1ptw, steps=[])
    except WalkFault as stop:
        return stop.fault
