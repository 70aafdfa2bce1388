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

import weakref
from _thread import allocate_lock       # (threading.Lock itself: threading's import is not needed)

from . import attrs as A
from .errors import NotInImage, UnknownRegister
from .faults import Fault, FaultType
from .formats import descriptors as D
from .formats.fields import Layout
from .memory_protocol import Memory
from .params import (FINAL_LEVEL, Regime, S1PermParams, S1WalkParams, S2PermParams, S2WalkParams,
                     TranslationSetup)
from .perms import S2PIR_TEXT, Access, S1Perms, S2Perms, s1_check, s1_permission_fault, s2_check, s2_mro, \
    s2_permission_fault, s2_toplevel_missing
from . import rules
from .records import named_tuple, record
from .rules import (DESCRIPTOR_BYTES, LEAF_CHECKS, S1_SETUP_CHECKS, S2_SETUP_CHECKS, S2_WALK_LEAF_CHECKS, TABLE_CHECKS,
                    Check, DescType, addr_top, descriptor_types, hierarchical_attrs, index_bits,
                    invalid_descriptor_reason, leaf_base, level_shift, next_table_base, output_size_reason,
                    s1_disabled_out_of_range, s1_disabled_output, table_attr_bits, va_range)

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__all__ = ["Memory", "TraceStep", "Leaf", "AFUpdate", "Translation", "translate", "s2_translate", "s2_lookup",
           "decode_s1_leaf", "decode_s2_leaf", "s1_leaf", "s2_leaf", "s1_disabled_attributes", "stage2_attributes",
           "WalkFault"]


#: no permission indirection, no overlay: direct permissions (what ``perm=None`` means)
_NO_S1_INDIRECTION = S1PermParams()
_NO_S2_INDIRECTION = S2PermParams()

# Descriptor fields, from the one field table in pgwalk.formats.descriptors
_AF = D.S1_LEAF["AF"]
_AP = D.S1_LEAF["AP"]
_SH = D.S1_LEAF["SH"]
_DBM = D.S1_LEAF["DBM"]
_PXN = D.S1_LEAF["PXN"]
_UXN = D.S1_LEAF["UXN"]
_S2AP = D.S2_LEAF["S2AP"]
_MEMATTR = D.S2_LEAF["MemAttr"]
_S2XN = D.S2_LEAF["XN"]
_FNXS = D.S2_LEAF["FnXS"]


@named_tuple
class TraceStep:
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


@record(frozen=True, slots=True, compiled_init=True)
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


@named_tuple
class AFUpdate:
    """A descriptor whose Access flag the hardware sets for this translation (HA = 1, AF = 0).

    ASL ``AArch64.S1Translate`` / ``S2Translate`` with ``AArch64.SetAccessFlag``: the leaf
    of each stage that completed without a fault.  For an AT the update of the leaves is
    IMPLEMENTATION DEFINED ("AT updates AF"; QEMU does, and pgwalk reports it); the stage 2
    descriptors of the stage 1 table fetches (``s1_level`` set: the stage 1 level fetched)
    are updated by the walk itself.  A Permission fault leaves AF CONSTRAINED UNPREDICTABLE:
    pgwalk reports no update then (as QEMU).  Dirty state is never updated by an AT (ASL
    ``AArch64.SetDirtyState``); the stage 2 write a stage 1 descriptor update needs is not
    modelled.  With FEAT_HAFT (TCR2_ELx.HAFT = 1, HA = 1) the stage 1 walk also sets AF in
    each table descriptor it uses (``table`` set; ASL ``AArch64.S1Walk``,
    :func:`pgwalk.rules.table_af_update`), whatever happens later in the walk; with
    VTCR_EL2.HAFT = 1 (and VTCR_EL2.HA = 1) so does each stage 2 walk, the translation's own
    and those of the stage 1 table fetches (``s1_level`` set), ASL ``AArch64.S2Walk``.
    """

    stage: int
    level: int
    s1_level: int | None = None
    table: bool = False     # a table descriptor (FEAT_HAFT: TCR2_ELx.HAFT = 1), set by the walk itself


@named_tuple
class Translation:
    """The outcome of translating one address (immutable; a NamedTuple, as it is made once per
    address on the scalar walk's hot path: compare it and read its fields by name).

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
    s1ptw_af_updates: tuple[AFUpdate, ...] = ()   # the walk's own AF updates: stage 2 leaves of the stage 1
    #                                               table fetches (HA), tables of either stage with HAFT

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


#: make a :class:`Translation` from a tuple of all its fields (without the keyword handling of its
#: constructor: it is made once per address on the scalar walk's hot path)
_new_translation = tuple.__new__


class WalkFault(Exception):
    """A fault ends the walk: :attr:`fault` is the :class:`~pgwalk.faults.Fault`.

    Raised by :func:`s2_translate` (and the stage-1 walk inside this module);
    :func:`translate` turns it into ``Translation.fault``, so only callers of
    :func:`s2_translate` see it.
    """

    def __init__(self, fault: Fault):
        self.fault = fault


# --------------------------------------------------------------------------- leaves


def decode_s1_leaf(raw: int, level: int, kind: str, *, granule_shift: int, ds: bool, lpa64: bool, two_el: bool,
                   hd: bool = False, ha: bool = False, sh: int = 0, mair: int | None = None, ap_table: int = 0,
                   uxn_table: bool = False, pxn_table: bool = False, perm: Any = None, aie: bool = False,
                   mair2: int | None = 0, pnch: bool = False, d128: bool = False, fng: bool = False,
                   fngna: bool = False, vm: bool = False, s1assured: bool = False) -> Leaf:
    """The stage 1 :class:`Leaf` of one block or page descriptor: its output base, size,
    attributes and permissions (ASL ``AArch64.S1LeafBase``, ``S1DecodeMemAttrs``,
    ``AArch64.S1DirectBasePermissions``).

    >>> leaf = decode_s1_leaf(0x00e000004804d783, 3, "page", granule_shift=12, ds=False, lpa64=False, two_el=True)
    >>> hex(leaf.oa_base), leaf.size, leaf.perms.text(False), leaf.attrs is None
    ('0x4804d000', 4096, 'r--', True)

    :param kind: ``"block"`` or ``"page"`` (:func:`pgwalk.rules.decode_descriptor_type`)
    :param two_el: the regime has EL0 (EL1&0, EL2&0): AP[1], PXN and nG apply
    :param hd, ha: hardware dirty state / Access flag update (TCR_ELx.HD, HA)
    :param sh: TCR_ELx.SHn, the shareability when ``ds`` (else the descriptor's SH)
    :param mair: MAIR_ELx; ``None`` when it is not known: the attributes are then ``None``
        (unknown, not what a MAIR of 0 would say) and only ``attr_index`` is kept
    :param ap_table, uxn_table, pxn_table: the hierarchical limits the walk collected
        (:func:`pgwalk.rules.hierarchical_attrs`)
    :param perm: the range's :class:`~pgwalk.params.S1PermParams` (FEAT_S1PIE/S1POE); ``None``: direct
        permissions (``AArch64.S1DirectBasePermissions``), no overlay
    :param aie, mair2: FEAT_AIE (TCR2_ELx.AIE / TCR_EL3.AIE): AttrIndx is 4 bits and 8..15 select
        MAIR2_ELx (``None``: not given, those leaves' attributes are unknown)
    :param pnch: TCR2_ELx.PnCH (FEAT_THE): bit 52 is Protected and the Contiguous hint reads as 0
        (:func:`pgwalk.rules.contiguous_bit`)
    :param d128: a 128-bit VMSAv9-128 descriptor (FEAT_D128): indirect permissions from PIIndex
        desc[118:115] (``perm`` must have PIE on), OA[55:12], no DBM (nDirty is desc[7])
    :param fng, fngna, vm, s1assured: TCR2_ELx.FNGn (FEAT_ASID2), TCR2_EL1.FNGNAn (FEAT_THE), stage 2
        on (HCR_EL2.VM) and the walk's Assured property: what makes a translation non-global
        whatever nG says (:func:`pgwalk.rules.s1_leaf_ng`)
    """
    leafsize = level_shift(level, granule_shift, d128)
    sh = sh if ds else _SH.get(raw)
    attr_index = rules.s1_attr_index(raw, aie, d128)
    attr = A.mair_attr(attr_index, mair, mair2)
    memattrs = A.s1_decode_mem_attrs(attr, sh) if attr is not None else None
    # direct or indirect (FEAT_S1PIE) base permissions, and the overlay
    perms = rules.s1_compute_permissions(raw, two_el=two_el, hd=hd, ap_table=ap_table, uxn_table=uxn_table,
                                         pxn_table=pxn_table, perm=perm or _NO_S1_INDIRECTION, d128=d128)
    af = bool(_AF.get(raw))
    return Leaf(1, level, kind, raw, leaf_base(raw, leafsize, ds, lpa64, d128), leafsize, memattrs, perms,
                af, rules.s1_leaf_ng(raw, two_el, fng, fngna, vm, pnch or d128, s1assured),
                rules.contiguous_bit(raw, granule_shift, level, pnch, d128),
                bool(_DBM.get(raw)) and not d128, attr_index, sh, rules.leaf_af_update(raw, ha))


def decode_s2_leaf(raw: int, level: int, kind: str, *, granule_shift: int, ds: bool, lpa64: bool,
                   hd: bool = False, ha: bool = False, sh: int = 0, xnx: bool = True, perm: Any = None,
                   d128: bool = False) -> Leaf:
    """The stage 2 :class:`Leaf` of one block or page descriptor: its output base, size,
    attributes and permissions (ASL ``AArch64.S2LeafBase``, ``S2DecodeMemAttrs``,
    ``AArch64.S2DirectBasePermissions``).

    >>> leaf = decode_s2_leaf(0x400000400004fd, 2, "block", granule_shift=12, ds=False, lpa64=False)
    >>> hex(leaf.oa_base), leaf.size, leaf.perms.text(False)
    ('0x40000000', 2097152, 'rw-')

    :param hd, ha: VTCR_EL2.HD, HA (hardware dirty state / Access flag update)
    :param sh: VTCR_EL2.SH0, the shareability when ``ds`` (else the descriptor's SH)
    :param xnx: FEAT_XNX (descriptor XN[0] separates EL1 and EL0 execute)
    :param d128: a 128-bit VMSAv9-128 descriptor (FEAT_D128): indirect permissions (``perm`` with S2PIE on)
    """
    leafsize = level_shift(level, granule_shift, d128)
    sh = sh if ds else _SH.get(raw)
    perms = rules.s2_compute_permissions(raw, hd=hd, xnx=xnx, perm=perm or _NO_S2_INDIRECTION, d128=d128)
    s2attrs = A.s2_decode_mem_attrs(_MEMATTR.get(raw), sh)
    af = bool(_AF.get(raw))
    return Leaf(2, level, kind, raw, leaf_base(raw, leafsize, ds, lpa64, d128), leafsize, s2attrs, perms,
                af, False, rules.contiguous_bit(raw, granule_shift, level, False, d128),
                bool(_DBM.get(raw)) and not d128, None, sh, rules.leaf_af_update(raw, ha))


def s1_leaf(setup: TranslationSetup, p: S1WalkParams, raw: int, level: int, kind: str, ap_table: int,
            uxn_table: bool, pxn_table: bool) -> Leaf:
    """:func:`decode_s1_leaf` with the parameters of a walk: ``p`` (the VA range's) and
    ``setup`` (MAIR), given the hierarchical table bits the walk collected."""
    vm, s1assured = s1_ng_context(setup, p)
    return decode_s1_leaf(raw, level, kind, granule_shift=p.granule_shift, ds=p.ds, lpa64=p.lpa64,
                          two_el=p.has_unprivileged, hd=p.hd, ha=p.ha, sh=p.sh,
                          mair=setup.mair if setup.mair_known else None,
                          ap_table=ap_table, uxn_table=uxn_table, pxn_table=pxn_table, perm=p.perm, aie=p.aie,
                          mair2=setup.mair2, pnch=p.pnch, d128=p.d128, fng=p.fng, fngna=p.fngna, vm=vm,
                          s1assured=s1assured)


def s1_ng_context(setup: TranslationSetup, p: S1WalkParams) -> tuple[bool, bool]:
    """(stage 2 on, the walk Assured) as :func:`pgwalk.rules.s1_leaf_ng` takes them for the VA range
    ``p``: a walk is taken as Assured when it starts so (VTCR_EL2.TL0/TL1,
    :func:`pgwalk.rules.s1_initial_assured`); a walk that loses the property on the way (a
    descriptor not Protected) is not told apart, and the setup's notes say so."""
    vm = rules.s1_walk_through_s2(setup.regime, setup.s2 is not None)
    perm2 = setup.s2.perm if setup.s2 is not None else None
    # (FEAT_THE's Assured walk through 128-bit tables is not modelled: taken as not Assured, as s1_walk does)
    return vm, perm2 is not None and not p.d128 and rules.s1_initial_assured(p.varange, perm2.tl0, perm2.tl1, vm)


def s2_leaf(setup: TranslationSetup, raw: int, level: int, kind: str) -> Leaf:
    """:func:`decode_s2_leaf` with the stage 2 parameters of ``setup``."""
    s2 = setup.s2
    assert s2 is not None
    return decode_s2_leaf(raw, level, kind, granule_shift=s2.granule_shift, ds=s2.ds, lpa64=s2.lpa64,
                          hd=s2.hd, ha=s2.ha, sh=s2.sh, xnx=setup.features.xnx, perm=s2.perm, d128=s2.d128)


# --------------------------------------------------------------------------- the scalar driver
#
# The walk is the rule kernel's (pgwalk.rules) steps in the kernel's order: the setup checks
# (S1_SETUP_CHECKS / S2_SETUP_CHECKS, the first that holds is the fault), then per level the
# descriptor read, its type, and TABLE_CHECKS or LEAF_CHECKS (S2_WALK_LEAF_CHECKS for a stage 1
# table fetch).  What depends only on the registers is worked out once per walk configuration
# (_Stage); what depends only on a descriptor once per descriptor (_Node, memory contents are
# fixed for a Memory's lifetime: pgwalk.memory_protocol), and so is the path through the table
# descriptors to the final level's table (_Stage.paths, the walk cache); what depends on a call's
# options (stages, access, EL, PAN) once per set of options (_Mode): the checks that do not look
# at the address (Check.per_address False), and those that do as bit fields (Check.bits).


def _read(mem: Memory, pa: int, big_endian: bool) -> int | str:
    """The descriptor at ``pa``, or why it cannot be read ("not in the image",
    "excluded from the dump", ...)."""
    try:
        return mem.read_u64(pa, big_endian)
    except NotInImage as exc:
        return exc.reason


def _read128(mem: Memory, pa: int, big_endian: bool) -> int | str:
    """The 128-bit descriptor at ``pa`` (ASL ``FetchDescriptor`` with N = 128: with ``big_endian``
    the 16 bytes are reversed as one value, so the word at ``pa`` is bits [127:64]), or why it
    cannot be read."""
    first = _read(mem, pa, big_endian)
    if first.__class__ is str:
        return first
    second = _read(mem, pa + 8, big_endian)
    if second.__class__ is str:
        return second
    return D.join128(second, first) if big_endian else D.join128(first, second)


@named_tuple
class _Node:
    """One descriptor read, decoded once: its trace step and what the walk does next."""

    kind: DescType | None          # None: the descriptor could not be read
    step: TraceStep
    addr: int | None = None        # next-level table (table) or output base (block, page)
    raw: int | None = None
    stop: Check | None = None      # table: the first of TABLE_CHECKS that holds
    attr_bits: int = 0             # stage 1 table: rules.table_attr_bits
    note: str = ""                 # why the read failed, or why the type faults
    leaves: dict | None = None     # block, page: table bits << _PLAN_KEY_BITS | leaf plan key -> _Outcome
    fault: Fault | None = None     # stage 1, not read or not a valid type: the fault the walk takes here
    #                                (the same for every address that meets this node: made once)


@named_tuple
class _Outcome:
    """A leaf decoded once under the walk's hierarchical bits, and its leaf checks worked out once
    for one leaf plan key (one access, EL, PAN ...: :func:`_checks_plan`, :func:`_bit_fields`)."""

    leaf: Leaf
    bits: tuple                 # the per-address checks as bit fields (:func:`_bit_fields`)
    chk: Check | None           # the first of the others that holds
    judge: Any                  # the permission judge the checks were given


#: the plan keys (:meth:`_Walker.plan_key`) stay below this (a few hundred option sets at most)
_PLAN_KEY_BITS = 16


def _known_leaf(leaves: dict, attr_bits: int) -> Leaf | None:
    """The leaf a node already decoded under ``attr_bits`` (for another plan key), if any."""
    return next((o.leaf for k, o in leaves.items() if k >> _PLAN_KEY_BITS == attr_bits), None)


#: entries each cache of a walk configuration keeps before it starts again
_CACHE_ENTRIES = 1 << 16
_TABLE, _BLOCK, _PAGE = DescType.TABLE, DescType.BLOCK, DescType.PAGE


class _Stage:
    """One stage's walk configuration (one VA range's :class:`~pgwalk.params.S1WalkParams`, or
    the :class:`~pgwalk.params.S2WalkParams`), worked out once: per level the index bits
    (:func:`pgwalk.rules.index_bits`), the offset bits of a leaf (:func:`pgwalk.rules.level_shift`)
    and the descriptor types (:func:`pgwalk.rules.descriptor_types`); and the caches of its walks."""

    __slots__ = ("stage", "p", "g", "ds", "lpa64", "ee", "hpd", "two_el", "levels", "walk_levels", "walk_from",
                 "through_s2", "entries", "paths", "path_shift")

    def __init__(self, stage: int, p: S1WalkParams | S2WalkParams, pa_max: int, through_s2: bool = False):
        self.stage, self.p = stage, p
        self.g, self.ds, self.lpa64, self.ee = p.granule_shift, p.ds, p.lpa64, p.ee
        self.hpd = getattr(p, "hpd", True)
        self.two_el = stage == 1 and p.has_unprivileged
        self.through_s2 = through_s2
        # level -> (lsb, mask, offset mask of a leaf, descriptor type by bits[1:0], the level's descriptors)
        self.levels: dict[int, tuple[int, int, int, tuple[DescType, ...], dict]] = {}
        if p.start_level is not None and not p.d128:      # D128: levels are skipped per descriptor
            for level in range(p.start_level, FINAL_LEVEL + 1):
                lsb, mask = index_bits(level, p.start_level, p.iasize, self.g)
                self.levels[level] = (lsb, mask, (1 << level_shift(level, self.g)) - 1,
                                      descriptor_types(level, self.ds, self.g, pa_max), {})
        # the same, in the order a walk meets the levels: (level, lsb, mask, offset mask, descriptors);
        # and from each level on (where a walk resumes from a remembered path)
        self.walk_levels = tuple((level, lsb, mask, off_mask, nodes)
                                 for level, (lsb, mask, off_mask, _types, nodes) in self.levels.items())
        self.walk_from = {lv[0]: self.walk_levels[i:] for i, lv in enumerate(self.walk_levels)}
        self.entries = 0
        # the walk cache (a stage 1 walk not itself translated by stage 2): the input address bits
        # that select the final level's table (its index bits and the offset cut off) -> where the
        # walk reached through table descriptors: (the levels left, the table, the ORed
        # table_attr_bits, the trace so far).  Memory is fixed, so the path is too; only the
        # levels below it are looked at again (drgn's per-level cache, for any address seen).
        self.paths: dict[int, tuple] = {}
        final = self.levels.get(FINAL_LEVEL)
        # (None: no walk cache, for a walk translated by stage 2 or one that updates table AFs, FEAT_HAFT)
        cached = final and len(self.levels) > 1 and not through_s2 and not getattr(p, "haft", False)
        self.path_shift = final[0] + final[1].bit_length() if cached else None

    def setup_plan(self, checks: tuple[Check, ...], access: Access | None,
                   el: int) -> tuple[int, int, tuple, Check | None]:
        """The setup ``checks`` for one access and EL: the per-address ones as bit fields
        (:func:`_bit_fields`: mask, value, fields), then the first of the others that holds
        (``None``: none does); see :func:`_checks_plan`."""
        per_address, fixed = _checks_plan(checks, lambda chk: chk.test(self.p, 0, access, el))
        return (*_bit_fields(per_address, self.p, access, el), fixed)

    def node(self, mem: Memory, level: int, key: Any, table: int, index: int, desc_addr: int, desc_pa: int,
             s1_level: int | None) -> _Node:
        """The descriptor at ``desc_pa`` (entry ``index`` of the table at ``table``), read and decoded
        (:func:`pgwalk.rules.decode_descriptor_type`, then :data:`pgwalk.rules.TABLE_CHECKS`), and
        remembered under ``key`` in the level's cache."""
        stage, g, ds, lpa64 = self.stage, self.g, self.ds, self.lpa64
        raw = _read(mem, desc_pa, self.ee)
        if raw.__class__ is str:
            node = _Node(None, TraceStep(stage, level, table, index, desc_addr, desc_pa, None, "not in image",
                                         note=f"descriptor address {raw}", s1_level=s1_level), note=raw,
                         fault=Fault(FaultType.SYNC_EXTERNAL_ON_WALK, level, 1, reason=f"descriptor address "
                                     f"{desc_pa:#x} {raw}", not_in_image=True) if stage == 1 else None)
        else:
            kind = self.levels[level][3][raw & 0b11]
            if kind is _TABLE:
                nxt = next_table_base(raw, g, ds, lpa64)
                layout = D.s1_table_layout(g, ds, lpa64, self.p.pnch) if stage == 1 else D.s2_table_layout(g, ds, lpa64)
                step = TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text, nxt, layout,
                                 s1_level=s1_level)
                stop = next((chk for chk in TABLE_CHECKS if chk.test(self.p, raw, nxt)), None)
                node = _Node(kind, step, nxt, raw, stop, table_attr_bits(raw, self.hpd) if stage == 1 else 0)
            elif kind.is_leaf:
                leafsize = level_shift(level, g)
                base = leaf_base(raw, leafsize, ds, lpa64)
                if stage == 1:
                    perm = self.p.perm
                    layout = D.s1_leaf_layout(leafsize, ds, lpa64, kind is _BLOCK, perm.overlay, self.p.aie,
                                              self.p.pnch)
                else:
                    layout = D.s2_leaf_layout(leafsize, ds, lpa64, kind is _BLOCK, self.p.perm.s2poe)
                node = _Node(kind, TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text, base,
                                             layout, s1_level=s1_level), base, raw, leaves={})
            else:
                note = invalid_descriptor_reason(kind, level, g, ds)
                node = _Node(kind, TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text,
                                             note=note, s1_level=s1_level), raw=raw, note=note,
                             fault=Fault(FaultType.TRANSLATION, level, 1, reason=note) if stage == 1 else None)
        self.entries += 1
        if self.entries > _CACHE_ENTRIES:           # bounded: start again
            for lv in self.levels.values():
                lv[4].clear()
            self.paths.clear()
            self.entries = 1
        self.levels[level][4][key] = node
        return node


    def remember_path(self, key: int, level: int, table: int, attr_bits: int, walked: tuple[TraceStep, ...]) -> None:
        """Remember in the walk cache that the walk of the input addresses ``key`` reaches ``level``
        at ``table`` through the table descriptors of ``walked`` (bounded: it starts again when full)."""
        if len(self.paths) >= _CACHE_ENTRIES and key not in self.paths:
            self.paths.clear()
        self.paths[key] = (self.walk_from[level], table, attr_bits, walked)


def _checks_plan(checks: tuple[Check, ...], holds) -> tuple[tuple[Check, ...], Check | None]:
    """``checks`` prepared for one configuration: the checks that look at the address (each
    evaluated per walk) up to the first of the others that ``holds`` (``None``: none holds).
    Evaluating the first tuple in order, then taking the second, finds the first check that
    holds, exactly as evaluating all of ``checks`` in order would."""
    per_address: list[Check] = []
    for chk in checks:
        if chk.per_address:
            per_address.append(chk)
        elif holds(chk):
            return tuple(per_address), chk
    return tuple(per_address), None


def _bit_fields(per_address: tuple[Check, ...], p: Any, *args: Any) -> tuple[int, int, tuple[tuple[int, int, Check], ...]]:
    """The per-address checks as ``(mask, value, fields)``.  Each of ``fields`` is ``(mask, value,
    check)``: ``check`` holds for an address ``a`` exactly when ``a & mask != value``
    (:attr:`pgwalk.rules.Check.bits`, given ``p`` and the test's other arguments ``args``).  The
    outer ``mask`` and ``value`` are theirs ORed: ``a & mask == value`` exactly when none holds,
    one test for a walk's common case (:func:`_first_holding` names the check otherwise).  Where
    no address passes them all (two fields want different values of one bit, or a field's value
    has a bit outside its mask) the outer test always sends the walk to :func:`_first_holding`."""
    fields = tuple((*chk.bits(p, *args), chk) for chk in per_address)
    mask = value = 0
    for m, v, _chk in fields:
        if v & ~m or mask & m & (value ^ v):
            return 0, 1, fields
        mask, value = mask | m, value | v
    return mask, value, fields


def _first_holding(fields: tuple[tuple[int, int, Check], ...], a: int) -> Check | None:
    """The first check of ``fields`` (:func:`_bit_fields`) that holds for address ``a``."""
    for mask, value, chk in fields:
        if a & mask != value:
            return chk
    return None


def _leaf_reason(chk: Check, stage: int, p: S1WalkParams | S2WalkParams, raw: int, oa: int, judge, leaf: Leaf,
                 access: Access | None, el: int, pan: bool, setup: Any = None) -> str:
    """Why a leaf check stopped the scalar walk: the kernel's reason, worded with what this
    driver knows (the block, the access, the permissions)."""
    if chk.name == "output size":
        return output_size_reason(oa, leaf.oa_base, leaf.size_shift, p.oa_bits)
    if chk.name == "access flag" and stage == 2:
        return "AF = 0 and VTCR_EL2.HA = 0"
    if chk.name == "permission" and access is not None:
        if stage == 1:
            return (f"stage 1 permissions {leaf.perms.text(el == 0)} at EL{el}"
                    f"{' with PAN' if pan else ''} deny the {access.value}"
                    f"{rules.s1_permission_note(leaf.perms, access, el, pan, setup)}")
        return f"stage 2 permissions {leaf.perms.text(el == 0)} deny the {access.value}"
    return chk.reason(p, raw, oa, judge)


@named_tuple
class _S2Run:
    """A stage 2 walk of one kind (a translation's own, or a stage 1 table fetch) under one
    :class:`_Mode`: its setup plan (:meth:`_Stage.setup_plan`) and the key of its leaf plans."""

    stage: _Stage
    mask: int                   # the setup plan's per-address checks (_bit_fields)
    value: int
    fields: tuple
    fixed: Check | None
    key: int                    # the leaf plans' key (one per s1ptw, access and EL)
    s1ptw: bool
    access: Access | None
    el: int
    s1assured: bool = False     # the stage 1 translation is Assured (FEAT_THE; ASL AddressDescriptor.s1assured)
    toplevel: int | None = None  # a stage 1 top-level table fetch: its VA range (FEAT_THE TopLevel check)


class _Mode:
    """What one set of a call's options (stages, access, EL, PAN) decides for a walker, worked
    out once: the stages (:func:`pgwalk.rules.walk_stages`), each stage 1 range's setup plan
    (by :func:`pgwalk.rules.va_range`), the stage 2 walks, and one key for the leaf plans."""

    __slots__ = ("stages", "access", "el", "pan", "s1_disabled", "s1_walks", "s2_walks", "s1", "s1_key", "s2",
                 "s2_fetch", "s2_assured", "walker", "fetch_runs")

    def __init__(self, walker: _Walker, setup: TranslationSetup, stages: str | None, access: Access | None, el: int,
                 pan: bool):
        self.stages = rules.walk_stages(stages, setup.s2 is not None)
        self.access, self.el, self.pan = access, el, pan
        self.s1_disabled = self.stages != "2" and not setup.s1_enabled
        self.s1_walks = self.stages != "2" and setup.s1_enabled         # a stage 1 walk, then
        self.s2_walks = self.stages != "1" and walker.s2 is not None    # a stage 2 walk
        self.s1 = tuple((st, *st.setup_plan(S1_SETUP_CHECKS, access, el)) for st in walker.s1)
        self.s1_key = walker.plan_key((1, access, el, pan))
        self.s2 = self.s2_fetch = self.s2_assured = None
        self.walker = walker
        # FEAT_THE: stage 1 table fetches judged per (top-level VA range or None, Assured so far)
        self.fetch_runs: dict | None = {} if walker.the_fetch else None
        if walker.s2 is not None:
            self.s2 = walker.s2_run(False, access, el)
            self.s2_fetch = walker.s2_run(True, None, el)      # a stage 1 table fetch: a read, no access check
            if walker.assured:                                 # after an Assured stage 1 translation (FEAT_THE)
                self.s2_assured = walker.s2_run(False, access, el, True)

    def fetch_run(self, toplevel: int | None, s1assured: bool) -> _S2Run:
        """The stage 2 walk of a stage 1 table fetch under FEAT_THE (ASL ``CreateAccDescS1TTW``:
        ``toplevel`` the VA range when the fetch is of the top-level table, else ``None``;
        ``s1assured`` the walk's Assured property so far, ``walkaddress.s1assured``)."""
        runs = self.fetch_runs
        if runs is None:
            return self.s2_fetch
        key = (toplevel, s1assured)
        run = runs.get(key)
        if run is None:
            run = runs[key] = self.walker.s2_run(True, None, self.el, s1assured, toplevel)
        return run


class _Walker:
    """The scalar walks of one :class:`~pgwalk.params.TranslationSetup` over one memory: the
    stage configurations and their caches (it holds neither the setup nor the memory)."""

    __slots__ = ("s1", "s2", "stages", "mair", "mair2", "epan", "wxn", "xnx", "through_s2", "walk_af", "assured", "modes",
                 "plan_keys", "the_fetch", "tl", "ng_assured", "shared")

    def __init__(self, setup: TranslationSetup):
        pa_max = setup.features.pa_max
        self.through_s2 = rules.s1_walk_through_s2(setup.regime, setup.s2 is not None)
        ranges = tuple(_Stage(1, p, pa_max, self.through_s2) for p in setup.ranges)
        # indexed by rules.va_range (VA[55]); one range: both halves use it (ASL AArch64.GetVARange)
        self.s1 = ranges if len(ranges) == 2 else ranges * 2
        self.s2 = _Stage(2, setup.s2, pa_max) if setup.s2 is not None else None
        self.stages = (*ranges, self.s2) if self.s2 is not None else ranges      # each once
        # the walk itself records AF updates: stage 2 leaves of table fetches, tables with HAFT (either stage)
        self.walk_af = self.through_s2 or any(p.haft for p in setup.ranges) or (setup.s2 is not None and setup.s2.haft)
        # FEAT_THE: the stage 2 AssuredOnly check needs the stage 1 walk's Assured property; the
        # TopLevel and AssuredOnly checks of stage 1 table fetches need to know which fetch it is
        perm2 = setup.s2.perm if setup.s2 is not None else None
        self.assured = perm2 is not None and perm2.assuredonly
        self.tl = (perm2.tl0, perm2.tl1) if perm2 is not None else (False, False)
        self.the_fetch = self.through_s2 and (self.assured or any(self.tl))
        # the Assured property rules.s1_leaf_ng takes, by VA range (s1_ng_context)
        self.ng_assured = {p.varange: s1_ng_context(setup, p)[1] for p in setup.ranges}
        self.mair = setup.mair if setup.mair_known else None
        self.mair2 = setup.mair2
        self.epan, self.wxn, self.xnx = setup.epan, setup.wxn, setup.features.xnx
        self.modes: dict[tuple, _Mode] = {}
        self.plan_keys: dict[tuple, int] = {}
        # one object for each distinct plan field tuple (far fewer objects for the collector to scan)
        self.shared: dict[tuple, tuple] = {}

    def cached(self) -> int:
        """The entries its stages' caches hold (descriptors and walk-cache paths)."""
        n = 0
        for st in self.stages:
            n += st.entries + len(st.paths)
        return n

    def mode(self, setup: TranslationSetup, stages: str | None, access: Access | None, el: int, pan: bool) -> _Mode:
        """The :class:`_Mode` of these options (made once; raises ``ValueError`` for bad ``stages``)."""
        key = (stages, access, el, pan)
        mode = self.modes.get(key)
        if mode is None:
            mode = _Mode(self, setup, stages, access, el, pan)
            if len(self.modes) >= _CACHE_ENTRIES:
                self.modes.clear()
            self.modes[key] = mode
        return mode

    def plan_key(self, options: tuple) -> int:
        """A small int standing for ``options`` (what a leaf plan depends on besides the leaf)."""
        key = self.plan_keys.setdefault(options, len(self.plan_keys))
        assert key >> _PLAN_KEY_BITS == 0
        return key

    def outcome(self, leaf: Leaf, checks: tuple[Check, ...], p: Any, raw: int, judge: Any) -> _Outcome:
        """The leaf ``checks`` of ``leaf`` worked out for one plan (:func:`_checks_plan`)."""
        per_address, chk = _checks_plan(checks, lambda chk: chk.test(p, raw, 0, judge))
        bits = _bit_fields(per_address, p, raw, judge)
        if len(self.shared) >= _CACHE_ENTRIES:
            self.shared.clear()
        return _Outcome(leaf, self.shared.setdefault(bits, bits), chk, judge)

    def s2_run(self, s1ptw: bool, access: Access | None, el: int, s1assured: bool = False,
               toplevel: int | None = None) -> _S2Run:
        """The stage 2 walk of one kind: a translation's own (``s1ptw`` False; after an Assured
        stage 1 translation or not) or a stage 1 table fetch (of the top-level table of VA range
        ``toplevel``, or not)."""
        st = self.s2
        assert st is not None
        return _S2Run(st, *st.setup_plan(S2_SETUP_CHECKS, access, el),
                      self.plan_key((2, s1ptw, access, el, s1assured, toplevel)), s1ptw, access, el, s1assured, toplevel)

    def s1_judge(self, leaf: Leaf, access: Access | None, el: int, pan: bool):
        """The stage 1 permission check of LEAF_CHECKS: True when ``leaf`` denies the access."""
        if access is None:
            return _never
        return lambda _raw: not s1_check(leaf.perms, access, el0=el == 0, pan=pan, epan=self.epan, wxn=self.wxn)

    def s1_walk(self, mem: Memory, va: int, mode: _Mode, steps: list[TraceStep],
                af_updates: list[AFUpdate] | None, assured: list[bool] | None = None) -> tuple[int, Leaf]:
        """ASL ``AArch64.S1Translate`` with ``S1Walk``: (IPA or PA, leaf), or raises ``WalkFault``;
        ``assured[0]`` (when given) becomes the walk's Assured property (FEAT_THE, ASL ``s1assured``)."""
        st, mask, value, fields, stop = mode.s1[va_range(va)]
        if va & mask != value:                          # a setup check that looks at the VA holds
            stop = _first_holding(fields, va)
        p = st.p
        if stop is not None:
            access, el = mode.access, mode.el
            if stop.fault is None:
                # not a fault: the table base was never given (an absent register is unknown, not 0)
                raise UnknownRegister(p.ttbr_name, va)
            raise WalkFault(Fault(stop.fault, stop.level, 1, reason=stop.reason(p, va, access, el)))
        through_s2 = st.through_s2
        if assured is not None:                             # ASL AArch64.S1InitialTTWState: VTCR_EL2.TL0/TL1
            assured[0] = rules.s1_initial_assured(p.varange, *self.tl, through_s2)
        haft = p.haft                                       # FEAT_HAFT: table AF updates are per walk
        if p.d128:                                          # VMSAv9-128: levels skipped per descriptor
            if assured is not None:
                # FEAT_THE's Assured walk with 128-bit descriptors is not modelled: taken as not Assured
                assured[0] = False
            level, kind, raw, addr, off_mask = self.s1_d128_walk(mem, mode, st, va, steps, af_updates)
            attr_bits, leaves = 0, {}
        else:
            path_shift = st.path_shift
            if path_shift is None:
                path_key = path = None
            else:
                path_key = va >> path_shift
                path = st.paths.get(path_key)
            if path is None:
                levels, table, attr_bits = st.walk_levels, p.base, 0
                first_step = len(steps)
            else:
                levels, table, attr_bits, walked = path
                steps.extend(walked)
                path_key = None                                 # nothing new to remember
            for level, lsb, mask, off_mask, nodes in levels:
                index = (va >> lsb) & mask                      # rules.table_index
                desc_addr = table | index * DESCRIPTOR_BYTES    # rules.descriptor_address
                if through_s2:
                    desc_pa, s2leaf = self.s1_fetch(mem, mode, p, level, table, index, desc_addr, steps, af_updates,
                                                    assured)
                    key: Any = (desc_addr, desc_pa)
                else:
                    desc_pa = key = desc_addr
                node = nodes.get(key)
                if node is None:
                    node = st.node(mem, level, key, table, index, desc_addr, desc_pa, None)
                kind, step, addr, raw, stop, bits, _note, leaves, fault = node
                steps.append(step)
                if assured is not None and assured[0] and raw is not None:
                    assured[0] = rules.s1_assured_step(True, s2_mro(s2leaf.perms), raw, p.pnch)
                if kind is _TABLE:
                    if stop is not None:
                        raise WalkFault(Fault(stop.fault, level, 1, reason=stop.reason(p, raw, addr)))
                    if haft and rules.table_af_update(raw, haft):
                        af_updates.append(AFUpdate(1, level, table=True))
                    attr_bits |= bits
                    table = addr
                    if path_key is not None:                    # remember the path so far
                        st.remember_path(path_key, level + 1, table, attr_bits, tuple(steps[first_step:]))
                elif kind is _BLOCK or kind is _PAGE:
                    break
                else:               # not read (External abort) or not a valid type (Translation fault)
                    raise WalkFault(fault)
            else:
                raise AssertionError("a table descriptor at the final level")   # rules.descriptor_types: never
        oa = addr | (va & off_mask)                         # rules.stage_oa
        okey = attr_bits << _PLAN_KEY_BITS | mode.s1_key    # (see _Node.leaves)
        outcome = leaves.get(okey)
        if outcome is None:
            leaf = _known_leaf(leaves, attr_bits)
            if leaf is None:
                ap_table, uxn_table, pxn_table = hierarchical_attrs(attr_bits, st.two_el)
                leaf = decode_s1_leaf(
                    raw, level, kind.text, granule_shift=st.g, ds=st.ds, lpa64=st.lpa64, two_el=st.two_el, hd=p.hd,
                    ha=p.ha, sh=p.sh, mair=self.mair, ap_table=ap_table, uxn_table=uxn_table, pxn_table=pxn_table,
                    perm=p.perm, aie=p.aie, mair2=self.mair2, pnch=p.pnch, d128=p.d128, fng=p.fng, fngna=p.fngna,
                    vm=through_s2, s1assured=self.ng_assured[p.varange])
            outcome = leaves[okey] = self.outcome(leaf, LEAF_CHECKS, p, raw,
                                                  self.s1_judge(leaf, mode.access, mode.el, mode.pan))
        leaf, (mask, value, fields), chk, judge = outcome
        if oa & mask != value:                              # a leaf check that looks at the OA holds
            chk = _first_holding(fields, oa)
        if chk is None:
            return oa, leaf
        raise WalkFault(self.s1_leaf_fault(chk, level, p, raw, oa, judge, leaf, mode))

    # s1_walk's cold paths, apart: a closure in s1_walk itself would make each variable it
    # captures a cell on every walk

    def s1_d128_walk(self, mem: Memory, mode: _Mode, st: _Stage, va: int, steps: list[TraceStep],
                     af_updates: list[AFUpdate] | None) -> tuple[int, DescType, int, int, int]:
        """:meth:`d128_walk` for stage 1, its table fetches through stage 2 when the regime has it."""
        if not st.through_s2:
            return self.d128_walk(mem, st, va, steps, af_updates, 1, None, lambda lv, t, i, a: a)
        p = st.p
        return self.d128_walk(mem, st, va, steps, af_updates, 1, None, lambda lv, t, i, a: (
            self.s1_fetch(mem, mode, p, lv, t, i, a, steps, af_updates, None)[0]))

    def s1_leaf_fault(self, chk: Check, level: int, p: S1WalkParams, raw: int, oa: int, judge, leaf: Leaf,
                      mode: _Mode) -> Fault:
        """The fault of stage 1 leaf check ``chk``, which failed."""
        access, el, pan = mode.access, mode.el, mode.pan
        return Fault(chk.fault, level, 1, reason=_leaf_reason(chk, 1, p, raw, oa, judge, leaf, access, el, pan, self),
                     **_perm_flags(chk, lambda: s1_permission_fault(leaf.perms, access, el0=el == 0, pan=pan,
                                                                    epan=self.epan, wxn=self.wxn)))

    def s1_fetch(self, mem: Memory, mode: _Mode, p: S1WalkParams, level: int, table: int, index: int, desc_addr: int,
                 steps: list[TraceStep], af_updates: list[AFUpdate] | None,
                 assured: list[bool] | None) -> tuple[int, Leaf]:
        """ASL ``AArch64.S1Walk``: the stage 2 translation of a stage 1 descriptor fetch (the EL1&0
        regime with stage 2 on): ``(desc_pa, stage 2 leaf)``, or raises ``WalkFault`` after a trace
        step saying the fetch faulted.  Under FEAT_THE the fetch's kind counts (top-level table,
        the walk's Assured property so far: ``assured[0]``)."""
        run = mode.s2_fetch if mode.fetch_runs is None else mode.fetch_run(
            p.varange if level == p.start_level else None, assured is not None and assured[0])
        try:
            return self.s2_walk(mem, desc_addr, run, steps, level, af_updates)
        except WalkFault:
            steps.append(TraceStep(1, level, table, index, desc_addr, None, None, "s2 fault",
                                   note="stage 2 fault on the stage 1 table walk"))
            raise

    def d128_walk(self, mem: Memory, st: _Stage, ia: int, steps: list[TraceStep], af_updates: list[AFUpdate] | None,
                  stage: int, s1_level: int | None, fetch,
                  fault_kw: dict | None = None) -> tuple[int, DescType, int, int, int]:
        """ASL ``AArch64.S1Walk`` / ``AArch64.S2Walk`` with ``walkparams.d128 = 1`` (VMSAv9-128): the
        descent through 16-byte table descriptors to the leaf, the levels a table descriptor's SKL
        skips left out (the next level is ``level + 1 + SKL``, its table indexed by ``SKL + 1``
        strides: ``S1TTEntryAddress`` / ``S2TTEntryAddress``).  The steps are the rule kernel's, as
        in the VMSAv8-64 walk: :func:`pgwalk.rules.index_bits`, ``d128_descriptor_type``,
        ``next_table_base``, :data:`pgwalk.rules.TABLE_CHECKS`, ``table_af_update``, ``leaf_base``.
        ``fetch(level, table, index, desc_addr)`` gives the address to read (a stage 1 table fetch
        goes through stage 2).  Returns ``(level, kind, raw, leaf base, offset mask)`` of the leaf,
        or raises ``WalkFault`` (``fault_kw``: the stage 2 fault's ``s1ptw`` and ``ipa``).

        Not modelled (each IMPLEMENTATION DEFINED): the nT bit's Translation fault (FEAT_BBML1) and the
        misprogrammed Contiguous bit's; TCR2_ELx.DisCHn / a table's DisCH are not applied to the
        reported Contiguous hint.
        """
        p = st.p
        g, start = p.granule_shift, p.start_level
        level, table, skl = start, p.base, 0
        kw = fault_kw or {}
        while True:
            lsb, mask = index_bits(level, start, p.iasize, g, True, skl)
            index = (ia >> lsb) & mask                      # rules.table_index
            desc_addr = rules.descriptor_address(table, index, True)
            desc_pa = fetch(level, table, index, desc_addr)
            raw = _read128(mem, desc_pa, p.ee)
            if raw.__class__ is str:
                steps.append(TraceStep(stage, level, table, index, desc_addr, desc_pa, None, "not in image",
                                       note=f"descriptor address {raw}", s1_level=s1_level))
                raise WalkFault(Fault(FaultType.SYNC_EXTERNAL_ON_WALK, level, stage,
                                      reason=f"descriptor address {desc_pa:#x} {raw}", not_in_image=True, **kw))
            kind = rules.d128_descriptor_type(raw, level, g)
            if kind is _TABLE:
                nxt = next_table_base(raw, g, False, False, True)
                steps.append(TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text, nxt,
                                       D.d128_table_layout(stage, g), s1_level=s1_level))
                stop = next((chk for chk in TABLE_CHECKS if chk.test(p, raw, nxt)), None)
                if stop is not None:
                    raise WalkFault(Fault(stop.fault, level, stage, reason=stop.reason(p, raw, nxt), **kw))
                if p.haft and af_updates is not None and rules.table_af_update(raw, True):
                    af_updates.append(AFUpdate(stage, level, s1_level, table=True))
                skl = rules.d128_skl(raw)
                level, table = level + 1 + skl, nxt
            elif kind.is_leaf:
                leafsize = level_shift(level, g, True)
                base = leaf_base(raw, leafsize, False, False, True)
                layout = D.d128_leaf_layout(stage, leafsize, kind is _BLOCK, stage == 1 and p.aie)
                steps.append(TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text, base, layout,
                                       s1_level=s1_level))
                return level, kind, raw, base, (1 << leafsize) - 1
            else:
                note = invalid_descriptor_reason(kind, level, g, False, raw, True)
                steps.append(TraceStep(stage, level, table, index, desc_addr, desc_pa, raw, kind.text, note=note,
                                       s1_level=s1_level))
                raise WalkFault(Fault(FaultType.TRANSLATION, level, stage, reason=note, **kw))

    def s2_walk(self, mem: Memory, ipa: int, run: _S2Run, steps: list[TraceStep], s1_level: int | None,
                af_updates: list[AFUpdate] | None) -> tuple[int, Leaf]:
        """ASL ``AArch64.S2Translate`` with ``S2Walk``: (PA, leaf), or raises ``WalkFault``."""
        st, mask, value, fields, stop, plan_key, s1ptw, access, el, s1assured, toplevel = run
        if ipa & mask != value:                         # a setup check that looks at the IPA holds
            stop = _first_holding(fields, ipa)
        p = st.p
        if stop is not None:
            raise WalkFault(Fault(stop.fault, stop.level, 2, s1ptw=s1ptw, ipa=ipa,
                                  reason=stop.reason(p, ipa, access, el)))
        table = p.base
        haft = p.haft and af_updates is not None            # FEAT_HAFT: table AF updates are per walk
        if p.d128:                                          # VMSAv9-128: levels skipped per descriptor
            level, kind, raw, addr, off_mask = self.d128_walk(mem, st, ipa, steps, af_updates if haft else None, 2,
                                                              s1_level, lambda lv, t, i, a: a,
                                                              {"s1ptw": s1ptw, "ipa": ipa})
            leaves = {}
        else:
            for level, lsb, mask, off_mask, nodes in st.walk_levels:
                index = (ipa >> lsb) & mask                     # rules.table_index
                desc_addr = table | index * DESCRIPTOR_BYTES    # rules.descriptor_address
                key = (desc_addr, s1_level)
                node = nodes.get(key)
                if node is None:
                    node = st.node(mem, level, key, table, index, desc_addr, desc_addr, s1_level)
                kind, step, addr, raw, stop, _bits, note, leaves, _fault = node
                steps.append(step)
                if kind is _TABLE:
                    if stop is not None:
                        raise WalkFault(Fault(stop.fault, level, 2, s1ptw=s1ptw, ipa=ipa,
                                              reason=stop.reason(p, raw, addr)))
                    if haft and rules.table_af_update(raw, haft):
                        af_updates.append(AFUpdate(2, level, s1_level, table=True))
                    table = addr
                elif kind is _BLOCK or kind is _PAGE:
                    break
                elif kind is None:
                    raise WalkFault(Fault(FaultType.SYNC_EXTERNAL_ON_WALK, level, 2, s1ptw=s1ptw, ipa=ipa,
                                          reason=f"descriptor address {desc_addr:#x} {note}", not_in_image=True))
                else:
                    raise WalkFault(Fault(FaultType.TRANSLATION, level, 2, s1ptw=s1ptw, ipa=ipa, reason=note))
            else:
                raise AssertionError("a table descriptor at the final level")   # rules.descriptor_types: never
        pa = addr | (ipa & off_mask)                        # rules.stage_oa
        outcome = leaves.get(plan_key)                      # no table bits at stage 2 (see _Node.leaves)
        if outcome is None:
            leaf = _known_leaf(leaves, 0)
            if leaf is None:
                leaf = decode_s2_leaf(raw, level, kind.text, granule_shift=st.g, ds=st.ds, lpa64=st.lpa64, hd=p.hd,
                                      ha=p.ha, sh=p.sh, xnx=self.xnx, perm=p.perm, d128=p.d128)
            # a stage 1 table fetch (s1ptw) reads its descriptor: S2AP read permission, then HCR_EL2.PTW
            outcome = leaves[plan_key] = self.outcome(leaf, S2_WALK_LEAF_CHECKS if s1ptw else LEAF_CHECKS, p, raw,
                                                      self.s2_judge(leaf, access, el, s1ptw, s1assured, toplevel))
        leaf, (mask, value, fields), chk, judge = outcome
        if pa & mask != value:                              # a leaf check that looks at the PA holds
            chk = _first_holding(fields, pa)
        if chk is None:
            if s1ptw and leaf.af_update and af_updates is not None:
                af_updates.append(AFUpdate(2, level, s1_level))
            return pa, leaf
        raise WalkFault(self.s2_leaf_fault(chk, level, p, raw, ipa, pa, judge, leaf, run))

    def s2_leaf_fault(self, chk: Check, level: int, p: S2WalkParams, raw: int, ipa: int, pa: int, judge, leaf: Leaf,
                      run: _S2Run) -> Fault:
        """The fault of stage 2 leaf check ``chk``, which failed (apart from :meth:`s2_walk`: see
        :meth:`s1_leaf_fault`)."""
        s1ptw, access, el, s1assured, toplevel = run.s1ptw, run.access, run.el, run.s1assured, run.toplevel
        flags = _perm_flags(chk, lambda: s2_permission_fault(leaf.perms, None if s1ptw else access, el0=el == 0,
                                                             s1assured=s1assured, toplevel=toplevel if s1ptw else None))
        if flags.get("toplevel"):
            reason = _toplevel_reason(leaf.perms, toplevel)
        elif flags.get("assured_only"):
            reason = _assured_only_reason(leaf.perms, None if s1ptw else access, s1assured)
        else:
            reason = _leaf_reason(chk, 2, p, raw, pa, judge, leaf, access, el, False)
        return Fault(chk.fault, level, 2, s1ptw=s1ptw, ipa=ipa, reason=reason, **flags)

    @staticmethod
    def s2_judge(leaf: Leaf, access: Access | None, el: int, s1ptw: bool, s1assured: bool = False,
                 toplevel: int | None = None):
        """The stage 2 permission check: True when ``leaf`` denies the access (for a stage 1
        table fetch, the read it makes, of the top-level table of VA range ``toplevel`` or not;
        ``s1assured``: after an Assured stage 1 translation, or for a fetch Assured so far)."""
        if s1ptw:   # the walk's read (S2AP, overlay; FEAT_THE: TopLevel, AssuredOnly)
            return lambda _raw: not s2_check(leaf.perms, None, el0=False, s1assured=s1assured, toplevel=toplevel)
        if access is None:
            return _never
        return lambda _raw: not s2_check(leaf.perms, access, el0=el == 0, s1assured=s1assured)


def _toplevel_reason(perms: S2Perms, varange: int | None) -> str:
    """Why ASL ``AArch64.S2CheckPermissions`` took a TopLevel Permission fault (FEAT_THE)."""
    n = varange or 0
    have = [f"TopLevel{i}" for i, on in enumerate((perms.toplevel0, perms.toplevel1)) if on]
    page = (" and ".join(have) + " only") if have else "neither TopLevel0 nor TopLevel1"
    why = (f"VTCR_EL2.TL{n} = 1 needs TopLevel{n}" if s2_toplevel_missing(perms, n)
           else f"VTCR_EL2.TL{1 - n} = 1 keeps a TopLevel{1 - n}-only page from TTBR{n} walks")
    entry = (f"S2PIR_EL2[{perms.pi_index}] = {perms.s2pi:#06b}, {S2PIR_TEXT[perms.s2pi]}"
             if perms.indirect and perms.s2pi is not None else "direct stage 2 permissions")
    if perms.po_index is not None:
        entry += f"; S2POIndex {perms.po_index}"
    return f"the stage 1 top-level table of a TTBR{n} walk is on a stage 2 page with {page} ({entry}): {why}"


def _assured_only_reason(perms: S2Perms, access: Access | None, s1assured: bool) -> str:
    """Why ASL ``AArch64.S2CheckPermissions`` took an AssuredOnly Permission fault (``access``
    ``None``: on a stage 1 table fetch)."""
    if perms.assured_only:
        what = "stage 1 walk so far" if access is None else "stage 1 translation"
        return ("the stage 2 page is AssuredOnly (descriptor bit 58, VTCR_EL2.AssuredOnly = 1) and the "
                f"{what} is not Assured" + ("" if s1assured else
                                            " (it needs VTCR_EL2.TL0/TL1 for its VA range, TCR2_EL1.PnCH, and "
                                            "Protected bit 52 and stage 2 MRO on every stage 1 descriptor)"))
    return (f"VTCR_EL2.GCSH = 1: the {access.value if access else 'GCS'} access needs a stage 2 AssuredOnly page "
            "(descriptor bit 58)")


_NO_FLAGS: dict[str, bool] = {}


def _perm_flags(chk: Check, kind) -> dict[str, bool]:
    """The :class:`~pgwalk.faults.Fault` flags (Overlay, DirtyBit) of a leaf check that stopped
    the walk: ``kind()`` (ASL ``AArch64.S1CheckPermissions`` / ``S2CheckPermissions``) says
    why a Permission fault was taken; no flags for the other checks."""
    if chk.fault is not FaultType.PERMISSION:
        return _NO_FLAGS
    why = kind()
    return why.fault_flags if why is not None else _NO_FLAGS


def _never(_raw: int) -> bool:
    """The permission judge of a walk that checks no access."""
    return False


def _dead() -> None:
    return None


#: the walkers of the last few (setup, memory) pairs, least recently used first, each with weak
#: references to the two (a walker holds neither), so walks of one configuration share its
#: caches; and the last one found, looked at first.  At most _WALKERS_KEPT of them, and when one
#: more is made, no more cache entries between them than _WALKERS_BUDGET (the least recently used
#: go first): many small walkers (an AT explanation tries dozens of register variants per
#: address), or a few large ones
_WALKERS: dict[tuple[int, int], tuple[Any, Any, _Walker]] = {}
_WALKERS_KEPT = 64
_WALKERS_BUDGET = 4 * _CACHE_ENTRIES
_WALKERS_LOCK = allocate_lock()
_LAST_WALKER: list[tuple[Any, Any, _Walker | None]] = [(_dead, _dead, None)]


def _walker(setup: TranslationSetup, mem: Memory) -> _Walker:
    """The :class:`_Walker` of ``setup`` over ``mem`` (made once while both live)."""
    last = _LAST_WALKER[0]
    if last[0]() is setup and last[1]() is mem:
        return last[2]
    key = (id(setup), id(mem))
    hit = _WALKERS.get(key)
    if hit is not None and hit[0]() is setup and hit[1]() is mem:
        with _WALKERS_LOCK:                     # now the most recently used
            _WALKERS.pop(key, None)
            _WALKERS[key] = _LAST_WALKER[0] = hit
        return hit[2]
    walker = _Walker(setup)
    try:
        refs = (weakref.ref(setup), weakref.ref(mem))
    except TypeError:               # a memory without weak references: this walk alone
        return walker
    with _WALKERS_LOCK:
        held = 0
        for k, kept in list(_WALKERS.items()):
            if kept[0]() is None or kept[1]() is None:     # its setup or memory is gone: never met again
                del _WALKERS[k]
            else:
                held += kept[2].cached()
        while _WALKERS and (len(_WALKERS) >= _WALKERS_KEPT or held > _WALKERS_BUDGET):
            held -= _WALKERS.pop(next(iter(_WALKERS)))[2].cached()
        _WALKERS[key] = _LAST_WALKER[0] = (*refs, walker)
    return walker


def s2_translate(setup: TranslationSetup, mem: Memory, ipa: int, *, access: Access | None, el: int,
                 s1ptw: bool, steps: list[TraceStep], s1_level: int | None = None,
                 af_updates: list[AFUpdate] | None = None, toplevel: int | None = None,
                 s1assured: bool = True) -> tuple[int, Leaf]:
    """ASL ``AArch64.S2Translate`` for one IPA: returns (PA, leaf) or raises ``WalkFault``.

    ``s1ptw`` marks a stage 1 descriptor fetch (a read; HCR_EL2.PTW applies); the
    fetch's Access flag update, if any, is appended to ``af_updates``.  FEAT_THE: a fetch of
    the top-level table of VA range ``toplevel`` meets the TopLevel check, and one not
    ``s1assured`` (the walk's Assured property so far) the AssuredOnly check; by default
    neither (a caller that does not follow a walk cannot know them).
    """
    assert setup.s2 is not None
    walker = _walker(setup, mem)
    mode = walker.mode(setup, "2", access, el, False)
    return walker.s2_walk(mem, ipa, mode.fetch_run(toplevel, s1assured) if s1ptw else mode.s2, steps, s1_level,
                          af_updates)


def _s1_disabled(setup: TranslationSetup, va: int, access: Access | None) -> tuple[int, A.MemAttrs]:
    """ASL ``AArch64.S1DisabledOutput``: flat mapping and default attributes."""
    p = setup.s1_params(va)
    addrtop = addr_top(p.tbi, p.tbid, access is Access.EXEC)
    pa_max = setup.features.pa_max
    # (with FEAT_MTE_CANONICAL_TAGS and MTX = 1, VA[59:56] would be ignored here)
    if s1_disabled_out_of_range(va, pa_max, addrtop):
        raise WalkFault(Fault(FaultType.ADDRESS_SIZE, 0, 1,
                              reason=f"stage 1 is disabled and VA bits [{addrtop}:{pa_max}] are not zero"))
    return s1_disabled_output(va), s1_disabled_attributes(setup, access)


def s1_disabled_attributes(setup: TranslationSetup, access: Access | None) -> A.MemAttrs:
    """The attributes of a stage 1 disabled translation (ASL ``AArch64.S1DisabledOutput``)."""
    if setup.dc:
        return A.MemAttrs("Normal", inner=A.Cacheability(A.WB, 0b11), outer=A.Cacheability(A.WB, 0b11),
                          shareability=A.NSH, xs=False)
    if access is Access.EXEC:
        return A.NORMAL_NC
    return A.DEVICE_nGnRnE


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
    last = _LAST_WALKER[0]                      # _walker's first case, without its call
    walker = last[2] if last[0]() is setup and last[1]() is mem else _walker(setup, mem)
    mode = walker.modes.get((stages, access, el, pan))
    if mode is None:
        mode = walker.mode(setup, stages, access, el, pan)
    stages = mode.stages
    steps: list[TraceStep] = []
    s1ptw_af: list[AFUpdate] | None = [] if walker.walk_af else None
    # FEAT_THE: the stage 1 translation's Assured property (ASL AddressDescriptor.s1assured): FALSE
    # with stage 1 disabled, and taken as FALSE for an IPA translated alone (the setup notes say so)
    assured: list[bool] | None = [False] if walker.assured else None
    ipa = s1 = s2 = fault = None
    notes: tuple[str, ...] = ()
    try:
        if mode.s1_walks:
            ipa, s1 = walker.s1_walk(mem, va, mode, steps, s1ptw_af, assured)
            attrs = s1.attrs
        elif mode.s1_disabled:
            ipa, attrs = _s1_disabled(setup, va, access)
            notes = ("stage 1 is disabled: the output address is the input address",)
        else:                                   # stages "2": the input is an IPA
            ipa, attrs = va, None
        if mode.s2_walks:
            pa, s2 = walker.s2_walk(mem, ipa, mode.s2_assured if assured and assured[0] else mode.s2, steps, None,
                                    s1ptw_af)
            attrs = stage2_attributes(setup, attrs, s2, stages, access)
        else:                                   # no stage 2, or stages "1": the IPA is the output
            pa = ipa if walker.s2 is None else None
    except WalkFault as stop:
        fault = stop.fault
        pa = attrs = None
        if fault.stage == 1:
            ipa = None
    return _new_translation(Translation, (va, stages, setup.regime, ipa, pa, fault, tuple(steps), s1, s2, attrs,
                                          mode.s1_disabled, access, el, pan, notes,
                                          tuple(s1ptw_af) if s1ptw_af else ()))


def s2_lookup(setup: TranslationSetup, mem: Memory, ipa: int, *, s1ptw: bool = False, s1_level: int | None = None,
              af_updates: list[AFUpdate] | None = None, toplevel: int | None = None,
              s1assured: bool = True) -> tuple[int, Leaf] | Fault:
    """One stage 2 lookup without a permission check: ``(PA, leaf)``, or the :class:`Fault` (never raised).

    :func:`s2_translate` for callers outside this module (the tree walk of :mod:`pgwalk.tree`);
    ``s1ptw`` marks a stage 1 table fetch (S2AP read permission and HCR_EL2.PTW apply, and the FEAT_THE
    checks of the walk's fetch: ``toplevel`` and ``s1assured`` as for :func:`s2_translate`) of the stage 1
    level ``s1_level``; the walk's own Access flag updates (FEAT_HAFT table descriptors, and with
    ``s1ptw`` the leaf's with HA) are appended to ``af_updates``, faulting walks included.
    """
    try:
        return s2_translate(setup, mem, ipa, access=None, el=1, s1ptw=s1ptw, steps=[], s1_level=s1_level,
                            af_updates=af_updates, toplevel=toplevel, s1assured=s1assured)
    except WalkFault as stop:
        return stop.fault
