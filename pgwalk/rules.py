"""The rule kernel: each step of the VMSAv8-64 translation table walk stated once
(Arm ARM DDI 0487 M.a.a, ASL ``AArch64.S1Translate``, ``S1Walk``, ``S2Translate``,
``S2Walk`` and the functions they call).

Every function here is pure and works on Python ints *and* on numpy ``uint64``
arrays (one lane per input address or per descriptor), giving on an array what it
gives element by element (``tests/test_rules.py`` checks this for each of them).
The scalar traced walk (:mod:`pgwalk.walk`), the vectorised walk
(:mod:`pgwalk.bulk`), the whole-tree walk (:mod:`pgwalk.tree`), AT and its
reverse lookups, and ``decode`` call these functions; none of them restates a rule.

The checks that can stop a walk are ordered data, so fault priority is stated once:

* :data:`S1_SETUP_CHECKS`, :data:`S2_SETUP_CHECKS`: before the first descriptor
  read (configuration, input range, EPDn/E0PDn, an unknown table base, the base
  address size), each ``test(params, ia, access, el)``;
* :data:`TABLE_CHECKS`: after a table descriptor, ``test(params, raw, next_table)``;
* :data:`LEAF_CHECKS`: after a block or page descriptor, ``test(params, raw, oa, judge)``
  where ``judge(raw)`` says which lanes the permission check denies (each driver
  supplies it from :mod:`pgwalk.perms`; the vectorised one through tables built from
  the same functions, :func:`s1_permission_table`).

A driver evaluates a phase's checks in order; the first that holds is the fault
(vectorised: each check only sees the lanes no earlier check stopped).  The
descriptor read itself (a synchronous External abort when it cannot be read) and the
descriptor type (:func:`decode_descriptor_type`: a Translation fault for invalid,
reserved and illegal-block descriptors) come between the setup and the table or leaf
checks, in that order, at every level.

Numpy is never imported here: an array argument brings its own ``dtype``, and
constants are made of that dtype (:func:`_k`), so importing this module costs nothing
at start-up.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from collections import namedtuple

from .faults import FaultType
from .formats import descriptors as D
from .params import FINAL_LEVEL, Regime, S1PermParams, S2PermParams, block_desc_supported, descsize_log2, \
    oa_out_of_range
from .perms import Access, PermFault, S1Perms, S2Perms, pir_entry, s1_apply_overlay, \
    s1_direct_base_permissions, s1_indirect_base_permissions, s1_permission_fault, s2_apply_overlay, \
    s2_direct_base_permissions, s2_mro, s2_permission_fault, \
    s2_indirect_base_permissions, unknown_s1_perms, unknown_s2_perms
from .records import replace

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable

__all__ = [
    "FINAL_LEVEL", "DESCRIPTOR_BYTES", "DescType", "level_shift", "index_width", "table_entries", "index_bits",
    "table_index", "descriptor_address", "walk_stages", "addr_top", "va_range", "va_is_out_of_range",
    "s1_disabled_out_of_range",
    "s1_disabled_output", "decode_descriptor_type", "descriptor_types", "next_table_base", "leaf_base",
    "with_leaf_base", "stage_oa", "oa_out_of_range", "table_attr_bits", "hierarchical_attrs", "TABLE_ATTR_LSB",
    "TABLE_ATTR_BITS",
    "af_fault", "leaf_af_update", "table_af_update", "s1_assured_step", "s1_initial_assured", "contiguous_bit", "s2_walk_device", "s1_permission_code", "s1_perms_of_code", "s1_permission_table", "s1_permission_fault_table",
    "s2_permission_code", "s2_perms_of_code", "s2_permission_table", "s2_permission_fault_table", "s2_mro_table",
    "s2_walk_device_table", "Check",
    "S1_SETUP_CHECKS", "S2_SETUP_CHECKS", "S1_TREE_CHECKS", "S2_TREE_CHECKS", "tree_disabled", "TABLE_CHECKS",
    "LEAF_CHECKS", "S2_WALK_LEAF_CHECKS",
    "invalid_descriptor_reason", "output_size_reason", "va_range_field", "s1_walk_through_s2",
    "S1_PERMISSION_CODE_BITS",
    "S2_PERMISSION_CODE_BITS", "pi_index", "s1_leaf_permissions", "s2_leaf_permissions",
    "s1_compute_permissions", "s2_compute_permissions", "s1_permission_note", "s1_attr_index",
    "d128_descriptor_type", "d128_descriptor_types", "d128_skl", "descriptor_bytes", "s1_leaf_ng",
]

#: a descriptor is 8 bytes: a table entry's address is ``table | index << 3``
DESCRIPTOR_BYTES = 8
_DESC_SHIFT = 3
_ADDR_MASK_48 = (1 << (D.ADDR_47 + 1)) - 1
_AF = D.S1_LEAF["AF"]
assert D.S2_LEAF["AF"] == _AF
_APTABLE = D.S1_TABLE["APTable"]
_UXNTABLE = D.S1_TABLE["UXNTable"]
_PXNTABLE = D.S1_TABLE["PXNTable"]
_AP = D.S1_LEAF["AP"]
_UXN = D.S1_LEAF["UXN"]
_CONT = D.S1_LEAF["Contiguous"]
assert D.S2_LEAF["Contiguous"] == _CONT
_PXN = D.S1_LEAF["PXN"]
_DBM = D.S1_LEAF["DBM"]
_S2AP = D.S2_LEAF["S2AP"]
_S2XN = D.S2_LEAF["XN"]
_S2DBM = D.S2_LEAF["DBM"]
_MEMATTR = D.S2_LEAF["MemAttr"]

#: the hierarchical fields APTable, UXNTable, PXNTable are contiguous: bits [62:59]
TABLE_ATTR_LSB = min(f.lsb for f in (_APTABLE, _UXNTABLE, _PXNTABLE))
TABLE_ATTR_BITS = max(f.msb for f in (_APTABLE, _UXNTABLE, _PXNTABLE)) - TABLE_ATTR_LSB + 1
assert TABLE_ATTR_BITS == _APTABLE.width + _UXNTABLE.width + _PXNTABLE.width

# VA layout (ASL AArch64.GetVARange, AddrTop, AArch64.S1DisabledOutput)
_VA_RANGE_BIT = 55
_ADDR_TOP = 63
_ADDR_TOP_TBI = 55
_FLAT_BITS = 56


def _k(like: Any, value: int) -> Any:
    """``value`` as a constant of ``like``'s kind: a numpy scalar of its dtype for an
    array (numpy would otherwise widen uint64 with Python ints), the int itself otherwise."""
    if like.__class__ is int:       # the scalar walk's case, first: it is on its hot path
        return value
    dt = getattr(like, "dtype", None)
    return value if dt is None else dt.type(value)


def _ones(bits: int) -> int:
    return (1 << bits) - 1 if bits > 0 else 0


# --------------------------------------------------------------------------- geometry


def level_shift(level: Any, granule_shift: int, d128: bool = False) -> Any:
    """log2 of the bytes one entry at ``level`` maps: the lowest input-address bit the
    level resolves, and the ASL ``leafsize`` of a block or page at that level
    (``AArch64.S1LeafBase``: ``granulebits + stride * (FINAL_LEVEL - level)``, the stride
    ``granulebits - descsizelog2``: one bit less with the 16-byte descriptors of ``d128``).

    ``level`` may be an int or an integer array: an ``int8`` array gives an ``int8`` array (every
    shift fits: at most ``(FINAL_LEVEL + 2) * 13 + 16`` = 81, level -2 with 64KB granules), any
    other an ``int16`` array.
    """
    dt = getattr(level, "dtype", None)
    if dt is not None and dt.char != "b":
        level = level.astype("int16")
    return (FINAL_LEVEL - level) * (granule_shift - descsize_log2(d128)) + granule_shift


def index_width(level: int, start_level: int, iasize: int, granule_shift: int, d128: bool = False,
                skl: int = 0) -> int:
    """Input-address bits the table at ``level`` indexes (ASL ``S1SLTTEntryAddress`` /
    ``S2SLTTEntryAddress`` for the start level, which may be narrower or, for a
    concatenated stage 2 table, wider; below it ``S1TTEntryAddress`` / ``S2TTEntryAddress``:
    ``stride``, or with D128 ``stride * (SKL + 1)``, ``skl`` the SKL of the table descriptor
    that led there, which skipped SKL levels)."""
    if level == start_level:
        return max(iasize - level_shift(level, granule_shift, d128), 0)
    return (granule_shift - descsize_log2(d128)) * ((skl if d128 else 0) + 1)


def table_entries(level: int, start_level: int, iasize: int, granule_shift: int, d128: bool = False,
                  skl: int = 0) -> int:
    """Entries of a table at ``level`` (the root may be smaller, or concatenated at stage 2)."""
    return 1 << index_width(level, start_level, iasize, granule_shift, d128, skl)


def index_bits(level: int, start_level: int, iasize: int, granule_shift: int, d128: bool = False,
               skl: int = 0) -> tuple[int, int]:
    """``(lsb, mask)``: :func:`table_index` at ``level`` is ``(ia >> lsb) & mask`` (for a driver
    that works them out once per walk configuration)."""
    return (level_shift(level, granule_shift, d128),
            _ones(index_width(level, start_level, iasize, granule_shift, d128, skl)))


def table_index(ia: Any, level: int, start_level: int, iasize: int, granule_shift: int, d128: bool = False,
                skl: int = 0) -> Any:
    """ASL ``S1TTEntryAddress`` / ``S2TTEntryAddress``: the index ``ia`` selects at ``level``."""
    lsb, mask = index_bits(level, start_level, iasize, granule_shift, d128, skl)
    index = ia >> _k(ia, lsb)
    index &= _k(ia, mask)                   # (an array: in place, one temporary less)
    return index


def descriptor_bytes(d128: bool) -> int:
    """A descriptor's size: 8 bytes, 16 with VMSAv9-128 (ASL ``descsizelog2``)."""
    return 1 << descsize_log2(d128)


def s1_walk_through_s2(regime: Regime, s2_enabled: bool) -> bool:
    """Whether a stage 1 table fetch is itself translated by stage 2 (ASL ``AArch64.S1Walk``:
    ``S1TTWalkFetch`` under ``S2Translate`` with ``s1ptw``): only in the EL1&0 regime, with
    stage 2 enabled (HCR_EL2.VM or DC)."""
    return s2_enabled and regime is Regime.EL10


def descriptor_address(table: Any, index: Any, d128: bool = False) -> Any:
    """The address of entry ``index`` of the table at ``table`` (16-byte entries with ``d128``)."""
    addr = index << _k(index, descsize_log2(d128))
    addr |= table                           # (an array: in place, one temporary less)
    return addr


# --------------------------------------------------------------------------- input addresses


def walk_stages(stages: str | None, has_s2: bool) -> str:
    """The stages a translation runs: ``"1"`` (VA -> IPA), ``"2"`` (the input is an IPA) or ``"12"``;
    by default both when the registers enable stage 2 (``has_s2``), else stage 1.

    :raises ValueError: another value, or ``"2"`` without stage 2
    """
    if stages is None:
        stages = "12" if has_s2 else "1"
    if stages not in ("1", "2", "12"):
        raise ValueError(f"stages must be 1, 2 or 12, not {stages!r}")
    if stages == "2" and not has_s2:
        raise ValueError("stage 2 is not enabled by the registers (HCR_EL2.VM/DC)")
    return stages



def addr_top(tbi: bool, tbid: bool, is_instr: bool) -> int:
    """ASL ``AArch64.AddrTop``: the top input-address bit that is not a tag."""
    return _ADDR_TOP_TBI if (tbi and not (tbid and is_instr)) else _ADDR_TOP


def va_range(va: Any) -> Any:
    """ASL ``AArch64.GetVARange``: VA[55], 1 for the upper (TTBR1) range."""
    if va.__class__ is int:         # the scalar walk's case, on its hot path
        return (va >> _VA_RANGE_BIT) & 1
    return (va >> _k(va, _VA_RANGE_BIT)) & _k(va, 1)


def va_range_field(iasize: int, addrtop: int, upper: bool) -> tuple[int, int]:
    """``(field, value)`` of ASL ``AArch64.VAIsOutOfRange``: ``VA[addrtop:iasize]`` in place, and
    what it must hold (all ones for ``upper``, the TTBR1 range of a two-range regime, else
    zeros); the VA is out of range when ``va & field != value`` (never when ``addrtop < iasize``)."""
    if addrtop < iasize:
        return 0, 0
    field = _ones(addrtop - iasize + 1) << iasize
    return field, field if upper else 0


def va_is_out_of_range(va: Any, iasize: int, addrtop: int, upper: bool) -> Any:
    """ASL ``AArch64.VAIsOutOfRange``: ``VA[addrtop:iasize]`` is not all zeros (lower range)
    or all ones (``upper``: the TTBR1 range of a two-range regime); see :func:`va_range_field`."""
    field, value = va_range_field(iasize, addrtop, upper)
    if va.__class__ is int:                           # without _k (the scalar walk's hot path)
        return va & field != value
    return (va & _k(va, field)) != _k(va, value)


def s1_disabled_out_of_range(va: Any, pa_max: int, addrtop: int) -> Any:
    """ASL ``AArch64.S1DisabledOutput``: with stage 1 off, ``VA[addrtop:PAMax]`` must be zero
    (a level 0 Address size fault otherwise)."""
    if addrtop < pa_max:
        return (va & _k(va, 0)) != _k(va, 0)
    return ((va >> _k(va, pa_max)) & _k(va, _ones(addrtop - pa_max + 1))) != _k(va, 0)


def s1_disabled_output(va: Any) -> Any:
    """ASL ``AArch64.S1DisabledOutput``: the flat output, ``VA[55:0]``."""
    return va & _k(va, _ones(_FLAT_BITS))


# --------------------------------------------------------------------------- descriptors


class DescType(enum.IntEnum):
    """ASL ``DescriptorType``, with the block a level does not allow kept apart
    (``AArch64.DecodeDescriptorType`` calls it ``DescriptorType_Invalid``)."""

    INVALID = 0
    TABLE = 1
    BLOCK = 2
    PAGE = 3
    RESERVED = 4            # bits[1:0] = 0b01 at level 3
    ILLEGAL_BLOCK = 5       # a block where BlockDescSupported says no

    @property
    def text(self) -> str:
        return _DESC_TEXT[self]

    @property
    def is_leaf(self) -> bool:
        return self in (DescType.BLOCK, DescType.PAGE)

    @property
    def faults(self) -> bool:
        """A Translation fault when the walk reads it."""
        return self in (DescType.INVALID, DescType.RESERVED, DescType.ILLEGAL_BLOCK)


_DESC_TEXT = {DescType.INVALID: "invalid", DescType.TABLE: "table", DescType.BLOCK: "block", DescType.PAGE: "page",
              DescType.RESERVED: "reserved", DescType.ILLEGAL_BLOCK: "illegal block"}
_VT_MASK = D.VALID.mask | D.TYPE.mask
assert (D.VALID.lsb, D.TYPE.lsb) == (0, 1)


@lru_cache(maxsize=256)
def descriptor_types(level: int, ds: bool, granule_shift: int, pa_max: int) -> tuple[DescType, ...]:
    """ASL ``AArch64.DecodeDescriptorType`` at ``level``, for each value of bits[1:0]."""
    out = []
    for vt in range(4):
        if not vt & 1:
            out.append(DescType.INVALID)
        elif vt & 2:
            out.append(DescType.PAGE if level == FINAL_LEVEL else DescType.TABLE)
        elif level == FINAL_LEVEL:
            out.append(DescType.RESERVED)
        elif block_desc_supported(ds, granule_shift, level, pa_max):
            out.append(DescType.BLOCK)
        else:
            out.append(DescType.ILLEGAL_BLOCK)
    return tuple(out)


@lru_cache(maxsize=256)
def _type_lut(level: int, ds: bool, granule_shift: int, pa_max: int) -> Any:
    import numpy as np

    lut = np.array([int(t) for t in descriptor_types(level, ds, granule_shift, pa_max)], dtype=np.uint8)
    lut.flags.writeable = False
    return lut


def d128_skl(raw: int) -> int:
    """A 128-bit descriptor's skip level, ``desc<110:109>`` (ASL ``S1Walk``/``S2Walk``: ``skl``)."""
    return D.D128_SKL.get(raw)


def d128_descriptor_type(raw: int, level: int, granule_shift: int) -> DescType:
    """ASL ``AArch64.DecodeDescriptorType`` for a 128-bit descriptor (``d128 = 1``, Table D8-49): bit 0
    clear is invalid; else the level plus SKL decides -- below 3 a table (whose next level is
    ``level + 1 + SKL``), equal to 3 a leaf at ``level`` (a block, or the page at level 3), above 3
    invalid; SKL = 3 with 16KB or 64KB is invalid.  (The ASL needs no
    ``AArch64.BlockDescSupported`` here: every leaf it allows is at a level that allows a block.)"""
    return d128_descriptor_types(level, granule_shift)[(d128_skl(raw) << 1) | (raw & 1)]


@lru_cache(maxsize=256)
def d128_descriptor_types(level: int, granule_shift: int) -> tuple[DescType, ...]:
    """:func:`d128_descriptor_type` at ``level`` for each SKL and Valid bit, indexed by
    ``SKL << 1 | desc[0]`` (for a driver that decodes whole tables)."""
    out = []
    for skl in range(4):
        effective = level + skl
        if granule_shift != 12 and skl == 3 or effective > FINAL_LEVEL:
            kind = DescType.RESERVED
        elif effective < FINAL_LEVEL:
            kind = DescType.TABLE
        else:
            kind = DescType.PAGE if level == FINAL_LEVEL else DescType.BLOCK
        out += [DescType.INVALID, kind]
    return tuple(out)


def decode_descriptor_type(raw: Any, level: int, ds: bool, granule_shift: int, pa_max: int) -> Any:
    """ASL ``AArch64.DecodeDescriptorType``: a :class:`DescType` (``uint8`` codes for an array)."""
    if hasattr(raw, "dtype") and getattr(raw, "ndim", 0):
        return _type_lut(level, ds, granule_shift, pa_max)[(raw & _k(raw, _VT_MASK)).astype("intp")]
    return descriptor_types(level, ds, granule_shift, pa_max)[int(raw) & _VT_MASK]


def _descriptor_address_field(raw: Any, low_bits: int, ds: bool, lpa64: bool) -> Any:
    """The address a descriptor holds, bits below ``low_bits`` dropped: desc[47:low_bits],
    then OA[51:48] from desc[15:12] (64KB granule, 52-bit PA) or desc[9:8]:desc[49:48] (DS = 1)."""
    base = raw & _k(raw, _ADDR_MASK_48 & ~_ones(low_bits))
    top = D.ADDR_47 + 1
    if lpa64:
        base = base | (_field(raw, D.LPA_OA_51_48) << _k(raw, top))
    elif ds:
        lo, hi = D.DS_OA_49_48, D.DS_OA_51_50
        base = base | (_field(raw, lo) << _k(raw, top)) | (_field(raw, hi) << _k(raw, top + lo.width))
    return base


_D128_ADDR = _ones(D.D128_ADDR_TOP + 1)


def _d128_address_mask(low_bits: int) -> int:
    """The bits of a 128-bit descriptor's address field: desc[55:low_bits]."""
    return _D128_ADDR & ~_ones(low_bits)


def _d128_address_field(raw: Any, low_bits: int) -> Any:
    """The address a 128-bit descriptor holds: desc[55:low_bits] (``low_bits`` at most 48); an array
    of the descriptors' low 64-bit words gives an array (the field is below bit 64)."""
    return raw & _k(raw, _d128_address_mask(low_bits))


def next_table_base(raw: Any, granule_shift: int, ds: bool, lpa64: bool, d128: bool = False) -> Any:
    """ASL ``AArch64.NextTableBase``: the next-level table address, aligned to one granule; with
    ``d128`` desc[55:g] aligned to the next table's size (``stride * (1 + SKL) + 4`` bits: a table
    descriptor that skips levels points at a larger table)."""
    if d128:
        tablesize = (granule_shift - descsize_log2(True)) * (1 + d128_skl(raw)) + descsize_log2(True)
        return _d128_address_field(raw, min(max(granule_shift, tablesize), D.ADDR_47 + 1))
    return _descriptor_address_field(raw, granule_shift, ds, lpa64)


def leaf_base(raw: Any, leafsize: int, ds: bool, lpa64: bool, d128: bool = False) -> Any:
    """ASL ``AArch64.S1LeafBase`` / ``S2LeafBase``: the output base, aligned to the block or page size
    (with ``d128`` OA[55:48] is desc[55:48])."""
    if d128:
        return _d128_address_field(raw, leafsize)
    return _descriptor_address_field(raw, leafsize, ds, lpa64)


def with_leaf_base(raw: Any, oa: Any, leafsize: int, ds: bool, lpa64: bool, d128: bool = False) -> Any:
    """``raw`` with its output address replaced by ``oa`` (aligned down to ``2**leafsize``): the
    inverse of :func:`leaf_base`, for "what would this descriptor give with another output address".
    Bits of ``oa`` the format cannot hold (above OA[51], or OA[51:48] without DS or LPA; with ``d128``
    above OA[55]) are dropped.  (``d128``: ints only.)"""
    if d128:
        field = _d128_address_mask(leafsize)
        return (raw & ~field) | (oa & field)
    top = D.ADDR_47 + 1
    low = _ADDR_MASK_48 & ~_ones(leafsize)
    keep = _ones(64) & ~low
    hi: tuple[tuple[D.Field, int], ...] = ()
    if lpa64:
        hi = ((D.LPA_OA_51_48, top),)
    elif ds:
        hi = ((D.DS_OA_49_48, top), (D.DS_OA_51_50, top + D.DS_OA_49_48.width))
    for f, at in hi:
        keep &= ~f.mask
    out = (raw & _k(raw, keep)) | (oa & _k(oa, low))
    for f, at in hi:
        out = out | (((oa >> _k(oa, at)) & _k(oa, f.wmask)) << _k(oa, f.lsb))
    return out


def stage_oa(base: Any, ia: Any, leafsize: Any) -> Any:
    """ASL ``StageOA``: the leaf base with the input-address bits below the leaf size."""
    if getattr(leafsize, "ndim", 0):
        one = _k(ia, 1)
        return base | (ia & ((one << leafsize.astype(ia.dtype)) - one))
    oa = ia & _k(ia, _ones(int(leafsize)))
    oa |= base                              # (an array: in place, one temporary less)
    return oa


# --------------------------------------------------------------------------- hierarchical attributes


def table_attr_bits(raw: Any, hpd: bool) -> Any:
    """APTable, UXNTable, PXNTable of a table descriptor packed at bit 0 (:data:`TABLE_ATTR_LSB`
    up); 0 when hierarchical permissions are disabled (``HPD`` = 1: ASL ``S1Walk``). A walk ORs
    them over its table descriptors."""
    bits = (raw >> _k(raw, TABLE_ATTR_LSB)) & _k(raw, _ones(TABLE_ATTR_BITS))
    return bits & _k(raw, 0) if hpd else bits


def hierarchical_attrs(bits: Any, two_el: bool) -> tuple[Any, Any, Any]:
    """``(ap_table, uxn_table, pxn_table)`` from the ORed :func:`table_attr_bits` of a walk.

    In a regime with one Exception level APTable[0] and PXNTable are RES0 (treated as 0).
    """
    raw = bits << _k(bits, TABLE_ATTR_LSB)
    ap = _field(raw, _APTABLE)
    if not two_el:
        ap = ap & _k(raw, 0b10)
    zero = _k(raw, 0)
    uxn = _field(raw, _UXNTABLE) != zero
    pxn = (_field(raw, _PXNTABLE) != zero) & two_el
    return ap, uxn, pxn


# --------------------------------------------------------------------------- leaf rules


def af_fault(raw: Any, ha: bool) -> Any:
    """ASL ``AArch64.S1Translate`` / ``S2Translate``: AF = 0 without hardware AF update is an
    Access flag fault (with HA = 1 the walk sets AF instead)."""
    if ha:
        return _const(raw, False)                       # never (False, or an array of False)
    return (raw & _k(raw, _AF.mask)) == _k(raw, 0)


def leaf_af_update(raw: Any, ha: bool) -> Any:
    """ASL ``AArch64.S1Translate`` / ``S2Translate`` (``AArch64.SetAccessFlag``): with hardware AF
    update (HA = 1) a block or page descriptor whose AF is 0 gets AF set when the walk uses it
    (where :func:`af_fault` holds without HA)."""
    if not ha:
        return (raw & _k(raw, 0)) != _k(raw, 0)        # never
    return (raw & _k(raw, _AF.mask)) == _k(raw, 0)


def table_af_update(raw: Any, haft: bool) -> Any:
    """ASL ``AArch64.S1Walk`` and ``AArch64.S2Walk`` (FEAT_HAFT): with ``walkparams.haft``
    (TCR2_ELx.HAFT at stage 1, VTCR_EL2.HAFT at stage 2, effective only with HA = 1) the walk
    sets AF (bit 10) of each table descriptor it uses whose AF is 0, before descending
    (``new_descriptor<10> = '1'``, written by ``AArch64.MemSwapTableDesc``); a table
    descriptor's AF = 0 never faults."""
    if not haft:
        return (raw & _k(raw, 0)) != _k(raw, 0)        # never
    return (raw & _k(raw, _AF.mask)) == _k(raw, 0)


def s2_walk_device(memattr: Any, fwb: bool) -> Any:
    """Whether stage 2 MemAttr makes a stage 1 table fetch a Device access (the HCR_EL2.PTW check)."""
    if fwb:
        return (memattr & _k(memattr, 0b100)) == _k(memattr, 0)
    return (memattr & _k(memattr, 0b1100)) == _k(memattr, 0)


# Permissions over arrays: a leaf's permission-relevant bits are packed into a small code and
# looked up in a table made by calling the scalar rules of pgwalk.perms on every code, so the
# vectorised walk judges permissions with the very functions the scalar walk calls.
_PC_UXN = _AP.width
_PC_PXN = _PC_UXN + 1
_PC_DBM = _PC_PXN + 1
_PC_TB = _PC_DBM + 1
_S1_CODES = 1 << (_PC_TB + TABLE_ATTR_BITS)
_PC2_XN = _S2AP.width
_PC2_DBM = _PC2_XN + _S2XN.width
#: bits of a :func:`s1_permission_code` / :func:`s2_permission_code` (codes are below ``1 << bits``)
S1_PERMISSION_CODE_BITS = _PC_TB + TABLE_ATTR_BITS
S2_PERMISSION_CODE_BITS = _PC2_DBM + 1


def _field(raw: Any, f: D.Field) -> Any:
    """Field ``f`` of ``raw`` (an int, or every lane of an array)."""
    if raw.__class__ is int:        # (the scalar walk's case: no _k call per constant)
        return (raw >> f.lsb) & f.wmask
    return (raw >> _k(raw, f.lsb)) & _k(raw, f.wmask)


_PC_PO = _PC_TB + TABLE_ATTR_BITS          # POIndex (FEAT_S1POE) above the table bits, when an overlay applies
_PC2_PO = _PC2_DBM + 1                     # S2POIndex (FEAT_S2POE)


def pi_index(raw: Any, d128: bool = False) -> Any:
    """ASL ``AArch64.S1ApplyOutputPerms`` / ``S2ApplyOutputPerms``: a leaf's PIIndex,
    ``desc<54:53>:desc<51>:desc<6>`` (FEAT_S1PIE / FEAT_S2PIE), or ``desc<118:115>`` with D128."""
    if d128:
        return D.D128_PIINDEX.get(raw)
    out = (raw >> _k(raw, D.PI_INDEX_BITS[0])) & _k(raw, 1)
    for n, bit in enumerate(D.PI_INDEX_BITS[1:], 1):
        out = out | (((raw >> _k(raw, bit)) & _k(raw, 1)) << _k(raw, n))
    return out


_ATTRINDX = D.S1_LEAF["AttrIndx"]


def s1_attr_index(raw: Any, aie: bool, d128: bool = False) -> Any:
    """ASL ``AArch64.S1Walk`` / ``AArch64.S1TTWParams*`` (``walkparams.aie``): a stage 1 leaf's
    AttrIndx, ``desc<4:2>``, and with FEAT_AIE on (``TCR2_ELx.AIE``, ``TCR_EL3.AIE``) ``desc<59>``
    as AttrIndx[3] (4 bits: 8..15 select ``MAIR2_ELx``, :func:`pgwalk.attrs.mair_attr`)."""
    idx = _field(raw, _ATTRINDX)
    if aie:
        idx = idx | (_field(raw, D.D128_ATTRINDX_3 if d128 else D.ATTRINDX_3) << _k(raw, _ATTRINDX.width))
    return idx


def s1_permission_code(raw: Any, tbl_bits: Any, po: bool = False) -> Any:
    """The stage 1 permission code of a leaf: AP[2:1], UXN, PXN, DBM and the walk's table bits
    (with FEAT_S1PIE the first five are PIIndex and nDirty: :func:`s1_perms_of_code` reads them
    so), and with ``po`` (an overlay applies: :attr:`S1PermParams.overlay`) POIndex above them."""
    tb = tbl_bits.astype(raw.dtype) if hasattr(tbl_bits, "dtype") and hasattr(raw, "dtype") else tbl_bits
    code = _field(raw, _AP) | (_field(raw, _UXN) << _k(raw, _PC_UXN)) | (_field(raw, _PXN) << _k(raw, _PC_PXN)) \
        | (_field(raw, _DBM) << _k(raw, _PC_DBM)) | (tb << _k(raw, _PC_TB))
    if po:
        code = code | (_field(raw, D.S1_POINDEX) << _k(raw, _PC_PO))
    return code.astype("intp") if hasattr(code, "astype") and getattr(code, "ndim", 0) else int(code)


def _s1_perms(two_el: bool, hd: bool, ap: int, uxn: bool, pxn: bool, dbm: bool, ap_table: int, uxn_table: bool,
              pxn_table: bool, po_index: int, perm: S1PermParams) -> S1Perms:
    """ASL ``AArch64.S1ComputePermissions`` base and overlay steps for one leaf: direct or indirect
    base permissions (``perm.pie``), then the overlay (``perm.poe``/``e0poe``)."""
    if perm.pie:
        if perm.pir is None or (two_el and perm.pire0 is None):
            return unknown_s1_perms(two_el, perm.pir_name if perm.pir is None else perm.pire0_name)
        idx = (ap & 1) | (int(dbm) << 1) | (int(pxn) << 2) | (int(uxn) << 3)
        base = s1_indirect_base_permissions(two_el=two_el, pi_index=idx, ppi=pir_entry(perm.pir, idx),
                                            upi=pir_entry(perm.pire0 or 0, idx) if two_el else 0,
                                            ndirty=bool(ap >> 1), hd=hd)
    else:
        base = s1_direct_base_permissions(two_el=two_el, ap=ap, uxn=uxn, pxn=pxn and two_el, dbm=dbm, hd=hd,
                                          ap_table=ap_table, uxn_table=uxn_table, pxn_table=pxn_table)
    if perm.overlay:
        base = s1_apply_overlay(base, po_index=po_index, por=perm.por, por_e0=perm.por_e0, poe=perm.poe,
                                e0poe=perm.e0poe, por_name=perm.por_name)
    return base


def _pi_as_direct_bits(pi: int) -> tuple[int, bool, bool, bool]:
    """A PIIndex as the VMSAv8-64 bits that hold it: (AP[1] in bit 0 of the AP pair, DBM, PXN, UXN)."""
    return pi & 1, bool(pi >> 1 & 1), bool(pi >> 2 & 1), bool(pi >> 3 & 1)


def s1_compute_permissions(raw: int, *, two_el: bool, hd: bool, ap_table: int, uxn_table: bool, pxn_table: bool,
                           perm: S1PermParams, d128: bool = False) -> S1Perms:
    """ASL ``AArch64.S1ComputePermissions`` (base and overlay) of a stage 1 leaf ``raw``; with ``d128``
    a 128-bit leaf, whose permissions are always indirect: PIIndex desc[118:115], nDirty desc[7],
    POIndex desc[124:121] (the PIR and POR rules are the same)."""
    if d128:
        if not perm.pie:            # a stand-in without PIR (decode descriptor): indirect, so unknown
            return unknown_s1_perms(two_el, perm.pir_name)
        ap1, dbm, pxn, uxn = _pi_as_direct_bits(pi_index(raw, True))
        return _s1_perms(two_el, hd, (_field(raw, D.NDIRTY) << 1) | ap1, uxn, pxn, dbm, ap_table, uxn_table,
                         pxn_table, D.D128_POINDEX.get(raw), perm)
    return _s1_perms(two_el, hd, _field(raw, _AP), bool(_field(raw, _UXN)), bool(_field(raw, _PXN)) and
                     (two_el or perm.pie), bool(_field(raw, _DBM)), ap_table, uxn_table, pxn_table,
                     _field(raw, D.S1_POINDEX), perm)


def s2_compute_permissions(raw: int, *, hd: bool, xnx: bool, perm: S2PermParams, d128: bool = False) -> S2Perms:
    """ASL ``AArch64.S2ComputePermissions`` (base and overlay) of a stage 2 leaf ``raw``, with
    what ``AArch64.S2CheckPermissions`` reads besides: the AssuredOnly attribute (desc[58] with
    ``walkparams.assuredonly``, ASL ``AArch64.S2NextWalkStateLeaf``), VTCR_EL2.GCSH and
    VTCR_EL2.TL0/TL1 (``walkparams.tl0/tl1``, FEAT_THE).  With ``d128`` a 128-bit leaf: PIIndex
    desc[118:115], the dirty state desc[7], POIndex desc[124:121], AssuredOnly desc[114]."""
    if d128:
        if not perm.s2pie:          # a stand-in without S2PIR (decode descriptor): indirect, so unknown
            return unknown_s2_perms("S2PIR_EL2")
        pi = pi_index(raw, True)
        perms = _s2_perms((_field(raw, D.NDIRTY) << 1) | (pi & 1), pi >> 2 & 3, bool(pi >> 1 & 1),
                          D.D128_POINDEX.get(raw), hd, xnx, perm)
        return _s2_check_attrs(perms, bool(D.D128_S2_ASSUREDONLY.get(raw)), perm)
    perms = _s2_perms(_field(raw, _S2AP), _field(raw, _S2XN), bool(_field(raw, _S2DBM)), _field(raw, D.S2_POINDEX),
                      hd, xnx, perm)
    return _s2_check_attrs(perms, bool(_field(raw, D.S2_ASSUREDONLY)), perm)


def _s2_check_attrs(perms: S2Perms, desc58: bool, perm: S2PermParams) -> S2Perms:
    """``perms`` with what ``AArch64.S2CheckPermissions`` reads besides the permissions: the
    AssuredOnly attribute (desc[58] with ``walkparams.assuredonly``, ASL
    ``AArch64.S2NextWalkStateLeaf``), VTCR_EL2.GCSH and VTCR_EL2.TL0/TL1 (``walkparams.tl0/tl1``)."""
    assured_only = perm.assuredonly and desc58
    if assured_only or perm.gcsh or perm.tl0 or perm.tl1:
        perms = replace(perms, assured_only=assured_only, gcsh=perm.gcsh, tl0=perm.tl0, tl1=perm.tl1)
    return perms


def s1_initial_assured(varange: int, tl0: bool, tl1: bool, through_s2: bool) -> bool:
    """ASL ``AArch64.S1InitialTTWState`` (Arm ARM M.a.a, FEAT_THE): a stage 1 walk starts Assured
    when it is the EL1&0 regime's with stage 2 on (``through_s2``: HCR_EL2.VM = 1) and VTCR_EL2.TL0
    (the TTBR0 range, ``varange`` 0) or VTCR_EL2.TL1 (TTBR1, 1) is set.  (The rems-project
    sail-arm v9.4 model started it from PnCH instead; pgwalk follows the Arm ARM M.a.a.)"""
    return through_s2 and (tl1 if varange else tl0)


def s1_assured_step(assured: Any, s2fs1mro: Any, raw: Any, pnch: bool) -> Any:
    """ASL ``AArch64.S1NextWalkStateTable`` / ``S1NextWalkStateLeaf`` (FEAT_THE): the stage 1
    walk's Assured property after descriptor ``raw`` -- still Assured when it was, the stage 2
    translation of the descriptor's fetch was MostlyReadOnly (``s2fs1mro``,
    :func:`pgwalk.perms.s2_mro`) and the descriptor is Protected (bit 52, with ``pnch``).  The
    walk starts Assured per :func:`s1_initial_assured`.  On ints and bools, or elementwise on
    arrays (bool arrays, uint64 descriptors)."""
    return assured & s2fs1mro & bool(pnch) & (_field(raw, D.S1_PROTECTED) != _k(raw, 0))


def s1_leaf_ng(raw: int, two_el: bool, fng: bool = False, fngna: bool = False, vm: bool = False,
               protected: bool = False, s1assured: bool = False) -> bool:
    """ASL ``AArch64.S1NextWalkStateLeaf``: whether a stage 1 translation is non-global.  Never in a
    regime without EL0 (``two_el`` False); always with TCR2_ELx.FNGn (``fng``, FEAT_ASID2); always
    with TCR2_EL1.FNGNAn (``fngna``, FEAT_THE) when stage 2 is on (``vm``: HCR_EL2.VM), PnCH or D128
    is on (``protected``) and the walk is not Assured (``s1assured``); else descriptor bit 11, nG.
    (In Secure state a walk through an NSTable descriptor is non-global too: not modelled.)"""
    if not two_el:
        return False
    if fng or (fngna and vm and protected and not s1assured):
        return True
    return bool(D.S1_LEAF["nG"].get(raw))


def contiguous_bit(raw: int, granule_shift: int, level: int, pnch: bool = False, d128: bool = False) -> bool:
    """The Contiguous bit of a block or page descriptor ``raw`` as the walk reads it (ASL
    ``AArch64.ContiguousBit``, and for stage 1 ``AArch64.S1NextWalkStateLeaf``): 0 at stage 1 with
    TCR2_ELx.PnCH = 1 (``pnch``: bit 52 is then the Protected attribute, FEAT_THE); 0 where the
    bit is RES0 (64KB and 16KB level 1 blocks, 4KB level 0 blocks); else descriptor bit 52.  (The
    IMPLEMENTATION DEFINED "Treat Contiguous bit as 0" is not taken here: pgwalk reports the hint;
    the output address never depends on it, see :mod:`pgwalk.walk`.)  Stage 2 has no PnCH.  With
    ``d128`` the bit is desc[111], RES0 for 64KB level 1 and 4KB level 0 blocks."""
    if d128:
        if (granule_shift == 16 and level == 1) or (granule_shift == 12 and level == 0):
            return False
        return bool(D.D128_CONTIGUOUS.get(raw))
    if pnch or level < 1 or (level == 1 and granule_shift != 12):
        return False
    return bool(_field(raw, _CONT))


def s1_leaf_permissions(p: Any, raw: int, ap_table: int, uxn_table: bool, pxn_table: bool) -> S1Perms:
    """The permissions of a stage 1 leaf ``raw`` in range ``p`` (:class:`~pgwalk.params.S1WalkParams`),
    the hierarchical bits the walk collected given: :func:`s1_compute_permissions` with the range's
    parameters."""
    perm = getattr(p, "perm", None) or S1PermParams()     # a stand-in without it (decode descriptor): PIE off
    return s1_compute_permissions(raw, two_el=p.has_unprivileged, hd=p.hd, ap_table=ap_table, uxn_table=uxn_table,
                                  pxn_table=pxn_table, perm=perm)


def s1_perms_of_code(code: int, two_el: bool, hd: bool, perm: S1PermParams = S1PermParams()) -> S1Perms:
    """ASL ``AArch64.S1ComputePermissions`` (base, and overlay) of one :func:`s1_permission_code`."""
    ap_table, uxn_table, pxn_table = hierarchical_attrs((code >> _PC_TB) & _ones(TABLE_ATTR_BITS), two_el)
    return _s1_perms(two_el, hd, code & _AP.wmask, bool(code >> _PC_UXN & 1),
                     bool(code >> _PC_PXN & 1) and (two_el or perm.pie), bool(code >> _PC_DBM & 1),
                     ap_table, bool(uxn_table), bool(pxn_table), code >> _PC_PO, perm)


@lru_cache(maxsize=256)
def s1_permission_fault_table(two_el: bool, hd: bool, access: Access, el0: bool, pan: bool, epan: bool,
                              wxn: bool, perm: S1PermParams = S1PermParams()) -> Any:
    """For every :func:`s1_permission_code`: ASL ``AArch64.S1CheckPermissions`` of ``access``,
    as :attr:`pgwalk.perms.PermFault.code` (0: permitted; else why not: the base permissions,
    the overlay, the dirty state) in a read-only uint8 array.  Everything it depends on is an
    argument, so each is built once.  ``perm`` (FEAT_S1PIE/S1POE) makes the table judge PIIndex
    through PIR_ELx/PIRE0_ELx and, with an overlay, POIndex through POR_ELx (codes made with
    ``po=perm.overlay``).

    :raises UnknownRegister: when a PIR/POR register the judgement needs was not given
    """
    import numpy as np

    n = _S1_CODES << (D.S1_POINDEX.width if perm.overlay else 0)
    table = np.array([_kind_code(s1_permission_fault(s1_perms_of_code(c, two_el, hd, perm), access, el0=el0, pan=pan,
                                                     epan=epan, wxn=wxn)) for c in range(n)], dtype=np.uint8)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=256)
def s1_permission_table(two_el: bool, hd: bool, access: Access, el0: bool, pan: bool, epan: bool,
                        wxn: bool, perm: S1PermParams = S1PermParams()) -> Any:
    """For every :func:`s1_permission_code`: ASL ``AArch64.S1CheckPermissions`` permits ``access``
    (a read-only bool array: :func:`s1_permission_fault_table` is 0).

    :raises UnknownRegister: when a PIR/POR register the judgement needs was not given
    """
    table = s1_permission_fault_table(two_el, hd, access, el0, pan, epan, wxn, perm) == 0
    table.flags.writeable = False
    return table


def _kind_code(kind: PermFault | None) -> int:
    return 0 if kind is None else kind.code


def s2_permission_code(raw: Any, po: bool = False, ao: bool = False) -> Any:
    """The stage 2 permission code of a leaf: S2AP, XN[1:0] and DBM (with FEAT_S2PIE: PIIndex and
    the dirty bit), with ``po`` (S2POE on) S2POIndex above them, and with ``ao``
    (``S2PermParams.assuredonly``, FEAT_THE) the AssuredOnly bit desc[58] above those."""
    code = _field(raw, _S2AP) | (_field(raw, _S2XN) << _k(raw, _PC2_XN)) | (_field(raw, _S2DBM) << _k(raw, _PC2_DBM))
    if po:
        code = code | (_field(raw, D.S2_POINDEX) << _k(raw, _PC2_PO))
    if ao:
        code = code | (_field(raw, D.S2_ASSUREDONLY) << _k(raw, _pc2_ao(po)))
    return code.astype("intp") if getattr(code, "ndim", 0) else int(code)


def _pc2_ao(po: bool) -> int:
    """Where a :func:`s2_permission_code` holds desc[58] (AssuredOnly): above S2POIndex, if any."""
    return _PC2_PO + (D.S2_POINDEX.width if po else 0)


def _s2_codes(perm: S2PermParams) -> int:
    """How many :func:`s2_permission_code` values there are with ``po=perm.s2poe, ao=perm.assuredonly``."""
    return 1 << (_pc2_ao(perm.s2poe) + (1 if perm.assuredonly else 0))


def _s2_perms(s2ap: int, xn: int, dbm: bool, po_index: int, hd: bool, xnx: bool, perm: S2PermParams) -> S2Perms:
    """ASL ``AArch64.S2ComputePermissions``: direct or indirect base permissions, then the overlay."""
    if not perm.s2pie:
        return s2_direct_base_permissions(s2ap=s2ap, xn=xn, dbm=dbm, hd=hd, xnx=xnx)
    if perm.s2pir is None:
        return unknown_s2_perms("S2PIR_EL2")
    idx = (s2ap & 1) | (int(dbm) << 1) | (xn << 2)
    base = s2_indirect_base_permissions(pi_index=idx, s2pi=pir_entry(perm.s2pir, idx), dirty=bool(s2ap >> 1), hd=hd)
    if perm.s2poe:
        base = s2_apply_overlay(base, po_index=po_index, s2por=perm.s2por)
    return base


def s2_leaf_permissions(s2: Any, raw: int, xnx: bool) -> S2Perms:
    """The permissions of a stage 2 leaf ``raw`` (``s2``: :class:`~pgwalk.params.S2WalkParams`):
    :func:`s2_compute_permissions` with its parameters."""
    return s2_compute_permissions(raw, hd=s2.hd, xnx=xnx, perm=getattr(s2, "perm", None) or S2PermParams())


def s2_perms_of_code(code: int, hd: bool, xnx: bool, perm: S2PermParams = S2PermParams()) -> S2Perms:
    """ASL ``AArch64.S2ComputePermissions`` of one :func:`s2_permission_code` (made with
    ``po=perm.s2poe, ao=perm.assuredonly``), with the AssuredOnly attribute and GCSH as
    :func:`s2_compute_permissions` gives them."""
    ao = _pc2_ao(perm.s2poe)
    perms = _s2_perms(code & _S2AP.wmask, code >> _PC2_XN & _S2XN.wmask, bool(code >> _PC2_DBM & 1),
                      (code >> _PC2_PO) & _ones(ao - _PC2_PO), hd, xnx, perm)
    return _s2_check_attrs(perms, bool(code >> ao & 1), perm)


@lru_cache(maxsize=64)
def s2_permission_fault_table(hd: bool, xnx: bool, access: Access | None, el0: bool,
                              perm: S2PermParams = S2PermParams(), s1assured: bool = False,
                              toplevel: int | None = None) -> Any:
    """For every :func:`s2_permission_code` (made with ``po=perm.s2poe, ao=perm.assuredonly``): ASL
    ``AArch64.S2CheckPermissions`` of ``access`` (``None``: the read a stage 1 table fetch makes)
    after a stage 1 translation whose Assured property is ``s1assured`` (FEAT_THE; for a table
    fetch, the walk's Assured property so far), as :attr:`pgwalk.perms.PermFault.code` (0:
    permitted), a read-only uint8 array.  ``toplevel`` (a table fetch only): the fetch is of the
    top-level table of that VA range (the TopLevel check, :func:`pgwalk.perms.s2_toplevel_fault`).

    :raises UnknownRegister: when a S2PIR/S2POR register the judgement needs was not given
    """
    import numpy as np

    out = np.array([_kind_code(s2_permission_fault(s2_perms_of_code(c, hd, xnx, perm), access, el0=el0,
                                                   s1assured=s1assured, toplevel=toplevel))
                    for c in range(_s2_codes(perm))], dtype=np.uint8)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def s2_mro_table(hd: bool, xnx: bool, perm: S2PermParams = S2PermParams()) -> Any:
    """For every :func:`s2_permission_code` (made with ``po=perm.s2poe, ao=perm.assuredonly``):
    :func:`pgwalk.perms.s2_mro`, the ``s2fs1mro`` a stage 1 descriptor fetch through that stage 2
    leaf gives :func:`s1_assured_step` (FEAT_THE), a read-only bool array."""
    import numpy as np

    out = np.array([s2_mro(s2_perms_of_code(c, hd, xnx, perm)) for c in range(_s2_codes(perm))], dtype=bool)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=64)
def s2_permission_table(hd: bool, xnx: bool, access: Access | None, el0: bool,
                        perm: S2PermParams = S2PermParams()) -> Any:
    """For every :func:`s2_permission_code`: stage 2 permits ``access`` (``None``: the read a stage 1
    table fetch makes) -- ASL ``AArch64.S2CheckPermissions`` (:func:`s2_permission_fault_table` is 0)."""
    out = s2_permission_fault_table(hd, xnx, access, el0, perm) == 0
    out.flags.writeable = False
    return out


@lru_cache(maxsize=4)
def s2_walk_device_table(fwb: bool) -> Any:
    """:func:`s2_walk_device` for every MemAttr value."""
    import numpy as np

    out = np.array([s2_walk_device(m, fwb) for m in range(1 << _MEMATTR.width)], dtype=bool)
    out.flags.writeable = False
    return out


# --------------------------------------------------------------------------- checks as data


class Check(namedtuple("Check", "name fault level test reason per_address bits", defaults=(True, None))):
    """One check that can stop a walk: ``test`` holds (True, or a bool array per lane) when the
    walk faults with ``fault`` (``None``: not a fault, the walk cannot go on -- an unknown table
    base register) at ``level`` (``None``: the level being walked); ``reason`` says why, for the
    scalar walk's trace (same arguments as ``test``).

    ``per_address`` False says ``test`` does not look at the address (the input address of a
    setup check, the output address of a leaf check): it depends only on the walk parameters,
    the access and EL, and the descriptor, so a driver may evaluate it once per configuration
    or per descriptor and reuse the answer (the order of the checks still decides).

    ``bits`` states a ``per_address`` test on an integer address as a bit field, for a scalar
    driver to work out once per configuration: ``bits`` takes ``test``'s arguments without the
    address and gives ``(mask, value)``; the test holds exactly when ``address & mask != value``
    (``tests/test_rules.py`` checks the two forms agree).  A vectorised driver may call it with
    its per-lane arguments (arrays of descriptors) and uses the field only where it comes out as
    two ints, one field for every lane; anything else sends it to ``test``."""

    # the fields' types: name: str, fault: FaultType | None, level: int | None, test: Callable[..., Any],
    # reason: Callable[..., str], per_address: bool, bits: Callable[..., tuple[int, int]] | None
    __slots__ = ()


def _at_and_above(lsb: int) -> tuple[int, int]:
    """``(mask, value)`` of "an address bit at or above ``lsb`` is set" (``address >> lsb != 0``)."""
    return -1 << lsb, 0


def _const(like: Any, value: bool) -> Any:
    """``value`` for every lane of ``like`` (a bool, or a bool array of its shape)."""
    if hasattr(like, "dtype") and getattr(like, "ndim", 0):
        import numpy as np

        return np.full(like.shape, value, dtype=bool)
    return value


_EXEC = Access.EXEC


def _s1_addr_top(p: Any, access: Access | None) -> int:
    return addr_top(p.tbi, p.tbid, access is _EXEC)


def _s1_va_range(p: Any, access: Access | None) -> tuple[int, int, bool]:
    """The arguments of :func:`va_is_out_of_range` for the range of ``p``: iasize, AddrTop, upper."""
    return p.iasize, _s1_addr_top(p, access), p.has_unprivileged and p.varange == 1


#: Stage 1, before the walk (ASL ``AArch64.S1Translate``, ``S1Walk``): ``test(p, va, access, el)``
#: with ``p`` the :class:`~pgwalk.params.S1WalkParams` of the VA's range.
S1_SETUP_CHECKS: tuple[Check, ...] = (
    Check("configuration", FaultType.TRANSLATION, 0,
          lambda p, va, access, el: _const(va, bool(p.config_fault)),
          lambda p, va, access, el: p.config_fault, per_address=False),
    Check("VA range", FaultType.TRANSLATION, 0,
          lambda p, va, access, el: va_is_out_of_range(va, *_s1_va_range(p, access)),
          lambda p, va, access, el: f"VA {va:#x} is outside the {p.iasize}-bit {p.ttbr_name} range",
          bits=lambda p, access, el: va_range_field(*_s1_va_range(p, access))),
    Check("E0PD", FaultType.TRANSLATION, 0,
          lambda p, va, access, el: _const(va, bool(p.has_unprivileged and el == 0 and p.e0pd)),
          lambda p, va, access, el: f"E0PD{p.varange} = 1 and the access is from EL0", per_address=False),
    Check("EPD", FaultType.TRANSLATION, 0,
          lambda p, va, access, el: _const(va, bool(p.has_unprivileged and p.epd)),
          lambda p, va, access, el: f"EPD{p.varange} = 1: walks through {p.ttbr_name} are disabled",
          per_address=False),
    Check("table base known", None, 0,
          lambda p, va, access, el: _const(va, not p.ttbr_known),
          lambda p, va, access, el: f"{p.ttbr_name} is unknown", per_address=False),
    Check("table base size", FaultType.ADDRESS_SIZE, 0,
          lambda p, va, access, el: _const(va, bool(p.base_fault)),
          lambda p, va, access, el: f"{p.ttbr_name} base {p.base:#x} is beyond the {p.oa_bits}-bit output size",
          per_address=False),
)

#: Stage 2, before the walk (ASL ``AArch64.S2Translate``, ``S2Walk``): ``test(s2, ipa, access, el)``
#: with ``s2`` the :class:`~pgwalk.params.S2WalkParams`.
S2_SETUP_CHECKS: tuple[Check, ...] = (
    Check("configuration", FaultType.TRANSLATION, 0,
          lambda s2, ipa, access, el: _const(ipa, bool(s2.config_fault)),
          lambda s2, ipa, access, el: s2.config_fault, per_address=False),
    Check("IPA range", FaultType.TRANSLATION, 0,
          lambda s2, ipa, access, el: (ipa >> _k(ipa, s2.iasize)) != _k(ipa, 0),
          lambda s2, ipa, access, el: f"IPA {ipa:#x} is outside the {s2.iasize}-bit input range",
          bits=lambda s2, access, el: _at_and_above(s2.iasize)),
    Check("table base size", FaultType.ADDRESS_SIZE, 0,
          lambda s2, ipa, access, el: _const(ipa, bool(s2.base_fault)),
          lambda s2, ipa, access, el: f"VTTBR_EL2 base {s2.base:#x} is beyond the {s2.oa_bits}-bit output size",
          per_address=False),
)

#: The setup checks that hold for a whole tree or for none of it (neither the input address nor
#: the access matters): a whole-tree walk (dump-tree, the reverse map, AT's leaf index) is
#: disabled by the first that holds (:func:`tree_disabled`), in the walks' order.
S1_TREE_CHECKS: tuple[Check, ...] = tuple(c for c in S1_SETUP_CHECKS if c.name not in ("VA range", "E0PD"))
S2_TREE_CHECKS: tuple[Check, ...] = tuple(c for c in S2_SETUP_CHECKS if c.name != "IPA range")


def tree_disabled(checks: tuple[Check, ...], p: Any) -> str:
    """Why no walk through the tree of ``p`` can read a descriptor: the reason of the first of
    ``checks`` (:data:`S1_TREE_CHECKS` or :data:`S2_TREE_CHECKS`) that holds; ``""`` when none does."""
    for c in checks:
        if c.test(p, 0, None, 1):
            return c.reason(p, 0, None, 1)
    return ""


#: After a table descriptor (either stage): ``test(p, raw, next_table)``.
TABLE_CHECKS: tuple[Check, ...] = (
    Check("next-level table size", FaultType.ADDRESS_SIZE, None,
          lambda p, raw, nxt: oa_out_of_range(nxt, _k(nxt, p.oa_bits)),
          lambda p, raw, nxt: f"next-level table {nxt:#x} is beyond the {p.oa_bits}-bit output size",
          per_address=False),
)


def output_size_reason(oa: int, base: int, leafsize: int, oa_bits: int) -> str:
    """Why a stage's final output address (ASL ``StageOA``) is out of range."""
    if not oa_out_of_range(base, oa_bits):
        return (f"output address {oa:#x} is beyond the {oa_bits}-bit output size (the {1 << leafsize:#x}-byte "
                f"block at {base:#x} is larger than the output address space)")
    return f"output address {oa:#x} is beyond the {oa_bits}-bit output size"


def invalid_descriptor_reason(kind: DescType, level: int, granule_shift: int, ds: bool, raw: int | None = None,
                              d128: bool = False) -> str:
    """Why a descriptor of type ``kind`` is a Translation fault (``raw`` and ``d128``: a 128-bit
    descriptor, judged by :func:`d128_descriptor_type`)."""
    if kind is DescType.INVALID:
        return "invalid descriptor (bit 0 = 0)"
    if d128 and raw is not None:
        skl = d128_skl(raw)
        if granule_shift != 12 and skl == 3:
            return f"SKL = 3 is invalid with the {1 << (granule_shift - 10)}KB granule (128-bit descriptor)"
        return f"level {level} + SKL {skl} is beyond level 3 (128-bit descriptor)"
    if kind is DescType.RESERVED:
        return "reserved descriptor at level 3 (bits[1:0] = 0b01)"
    return (f"block descriptor not allowed at level {level} with {1 << (granule_shift - 10)}KB granule"
            f"{' and DS = 1' if ds else ''}")


#: After a block or page descriptor (either stage): ``test(p, raw, oa, judge)``; ``judge(raw)``
#: is the driver's permission check (True: denied).  The scalar walk words the permission
#: fault itself (it knows the access); ``reason`` gets ``leafsize`` and ``base`` for the first.
LEAF_CHECKS: tuple[Check, ...] = (
    Check("output size", FaultType.ADDRESS_SIZE, None,
          lambda p, raw, oa, judge: oa_out_of_range(oa, _k(oa, p.oa_bits)),
          lambda p, raw, oa, judge: f"output address {oa:#x} is beyond the {p.oa_bits}-bit output size",
          bits=lambda p, raw, judge: _at_and_above(p.oa_bits)),   # params.oa_out_of_range
    Check("access flag", FaultType.ACCESS_FLAG, None,
          lambda p, raw, oa, judge: af_fault(raw, p.ha),
          lambda p, raw, oa, judge: "AF = 0 and hardware AF update is off", per_address=False),
    Check("permission", FaultType.PERMISSION, None,
          lambda p, raw, oa, judge: judge(raw),
          lambda p, raw, oa, judge: "permissions deny the access", per_address=False),
)

#: The stage 2 leaf of a stage 1 table fetch (S1PTW): the leaf checks, whose permission check is
#: the read the walk makes, then (HCR_EL2.PTW = 1) stage 2 Device memory.
S2_WALK_LEAF_CHECKS: tuple[Check, ...] = LEAF_CHECKS[:2] + (
    Check("walk read permission", FaultType.PERMISSION, None,
          lambda s2, raw, oa, judge: judge(raw),
          lambda s2, raw, oa, judge: "stage 2 denies the stage 1 walk read access (S2AP)", per_address=False),
    Check("walk to Device memory", FaultType.PERMISSION, None,
          lambda s2, raw, oa, judge: s2_walk_device(_field(raw, _MEMATTR), s2.fwb) & s2.ptw,
          lambda s2, raw, oa, judge: "stage 1 table in stage 2 Device memory with HCR_EL2.PTW = 1",
          per_address=False),
)


def s1_permission_note(perms: S1Perms, access: Access | None, el: int, pan: bool, setup: Any) -> str:
    """What a trace adds to a stage 1 permission line under FEAT_S1PIE/S1POE: the PIIndex, the
    PIR entries, the POR entry and the kind of fault (overlay, dirty bit); "" for direct permissions."""
    from .perms import PIR_TEXT, POR_TEXT, s1_permission_fault

    parts = []
    if perms.indirect:
        parts.append(f"PIIndex {perms.pi_index}: PIR[{perms.pi_index}] = {perms.ppi:#06b} ({PIR_TEXT[perms.ppi]})")
        if perms.upi is not None:
            parts.append(f"PIRE0[{perms.pi_index}] = {perms.upi:#06b} ({PIR_TEXT[perms.upi]})")
    ovl = perms.u_overlay if el == 0 else perms.p_overlay
    if ovl is not None and perms.po_index is not None:
        parts.append(f"POIndex {perms.po_index}: overlay {''.join(c for c, ok in zip('rwx', ovl) if ok) or 'none'}")
    if access is not None and perms.known:
        kind = s1_permission_fault(perms, access, el0=el == 0, pan=pan, epan=setup.epan, wxn=setup.wxn)
        if kind is not None and kind.iss2_flag:
            parts.append(f"{kind.value} fault (ISS2.{kind.iss2_flag} = 1)")
    _ = POR_TEXT
    return f" ({'; '.join(parts)})" if parts else ""
