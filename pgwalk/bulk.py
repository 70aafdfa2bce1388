"""Vectorised translation of many addresses at once (Arm ARM DDI 0487 M.a.a; the same ASL
steps as :mod:`pgwalk.walk`: ``AArch64.S1Translate``, ``S1Walk``, ``S2Translate``, ``S2Walk``).

:func:`translate_many` walks an array of input addresses through one
:class:`~pgwalk.params.TranslationSetup` *level by level*: at each level every
lane still walking computes its descriptor address, all those descriptors are
gathered at once from the memory image (numpy fancy indexing into the
memory-mapped file), classified with :func:`pgwalk.walk.decode_descriptor_type`
tables, and the lanes that reached a leaf or a fault leave the walk.  No Python
code runs per address.  Every lane gets exactly what :func:`pgwalk.walk.translate`
returns for that address -- the same output address, the same fault (type, level,
stage, S1PTW, IPA), the same leaves -- except the trace (``steps``) and the fault's
free-text ``reason``; ``tests/test_bulk.py`` checks this lane by lane over random
trees.

Configuration faults (TxSZ, VA out of range, EPDx/E0PDx, a table base beyond the
output size), illegal blocks, Address size faults on a next-level table or an
output address, Access flag faults, and Permission faults when an access is
judged are all per lane.  With two stages every stage 1 descriptor fetch goes
through a vectorised stage 2 walk of the descriptor IPAs (S1PTW faults).

Descriptors are gathered straight from memory-mapped regions
(:meth:`pgwalk.memory.PhysicalMemory.numpy_view`, region found with
``np.searchsorted``); other backings (sparse test words, kdump pages) are read
through ``read_u64`` once per distinct descriptor address.  An address no region
holds is a synchronous external abort on the walk, as in the scalar walker.
Big-endian tables (SCTLR_ELx.EE) are byte-swapped after the gather.

Fault codes
-----------
``BulkTranslation.fault_type`` holds small integers, indexes of :data:`FAULT_TYPES`:

====  =======================================
code  :class:`~pgwalk.faults.FaultType`
====  =======================================
0     none: the translation succeeded
1     ``TRANSLATION``
2     ``ADDRESS_SIZE``
3     ``ACCESS_FLAG``
4     ``PERMISSION``
5     ``SYNC_EXTERNAL_ON_WALK``
====  =======================================

Bulk JSON lines (``pgwalk translate --json`` from 64 addresses on)
------------------------------------------------------------------
Each line is the object ``pgwalk translate --json`` prints for one address
(:mod:`pgwalk.report`, schema 2), same keys in the same order and the same
values: without ``--trace`` no path prints ``s1``, ``s2``, ``steps``, ``notes``,
``label`` or the fault's ``reason``::

    {"schema": 2, "va": "0x...", "ok": true, "stages": "1", "regime": "EL1&0",
     "ipa": "0x..." | null, "pa": "0x..." | null, "size": 4096 | null,
     "fault": null | {"type", "level", "stage", "s1ptw", "fsc", "fsc_hex", "ipa",
                      "description", "not_in_image"},
     "attributes": null | {...}, "permissions": null | {...}}

:meth:`BulkTranslation.to_dict` gives that object for one lane and
:meth:`BulkTranslation.translation` the whole :class:`~pgwalk.walk.Translation`
(leaves included, ``steps`` empty).  :data:`CSV_COLUMNS` are the ``--csv`` columns.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from .errors import InputError, NotInImage
from .at_ops import ATOp, el3_ns, parse_at_op, pstate_pan
from .faults import Fault, FaultType, encode_ld_fsc
from .formats import descriptors as D
from .formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from .memory_protocol import capability, read_many
from .params import FINAL_LEVEL, Regime, S1WalkParams, TranslationSetup, oa_out_of_range, setup_from_registers
from .perms import Access, s1_check, s1_direct_base_permissions, s2_check, s2_direct_base_permissions
from .report import CSV_COLUMNS, TRACE_KEYS, csv_line, csv_row, drop_trace, translation_to_dict
from .walk import (Memory, Translation, decode_descriptor_type, s1_disabled_attributes, s1_leaf, s2_leaf,
                   s2_walk_device, stage2_attributes)

__all__ = [
    "FAULT_TYPES", "CHUNK", "DescriptorReader", "BulkTranslation", "translate_many",
    "iter_translate", "mark_contents", "BulkAT", "bulk_at", "LineFormatter", "bulk_line_dict", "BULK_DROPPED",
    "parse_address_text", "BackgroundWriter", "write_all",
]

#: ``fault_type`` code -> fault kind (0: no fault)
FAULT_TYPES: tuple[FaultType | None, ...] = (
    None, FaultType.TRANSLATION, FaultType.ADDRESS_SIZE, FaultType.ACCESS_FLAG, FaultType.PERMISSION,
    FaultType.SYNC_EXTERNAL_ON_WALK,
)
_CODE = {t: i for i, t in enumerate(FAULT_TYPES) if t is not None}
_TRANSLATION = _CODE[FaultType.TRANSLATION]
_ADDRESS_SIZE = _CODE[FaultType.ADDRESS_SIZE]
_ACCESS_FLAG = _CODE[FaultType.ACCESS_FLAG]
_PERMISSION = _CODE[FaultType.PERMISSION]
_SEA = _CODE[FaultType.SYNC_EXTERNAL_ON_WALK]

#: lanes walked together (bounded temporaries; results are written per chunk)
CHUNK = 1 << 14

_U64 = np.uint64
_LEVEL_BIAS = 2                       # fault levels are -2..3: index = level + 2
_MIN_LEVEL = -_LEVEL_BIAS

# Descriptor fields, from the one field table in pgwalk.formats.descriptors
_OA_LOW_TOP = D.ADDR_47               # OA[47:lsb] sits in place
_ADDR_MASK_48 = (1 << (_OA_LOW_TOP + 1)) - 1
#: high output-address pieces: (descriptor field, lowest OA bit it carries)
_HI_DS = ((D.DS_OA_49_48, _OA_LOW_TOP + 1), (D.DS_OA_51_50, _OA_LOW_TOP + 1 + D.DS_OA_49_48.width))
_HI_LPA = ((D.LPA_OA_51_48, _OA_LOW_TOP + 1),)
# VALID and TYPE are bits 0 and 1: raw & _VT_MASK indexes the per-level class tables
assert (D.VALID.lsb, D.TYPE.lsb) == (0, 1)
_VT_MASK = _U64(D.VALID.mask | D.TYPE.mask)
_AF = D.S1_LEAF["AF"]
_AP = D.S1_LEAF["AP"]
_SH = D.S1_LEAF["SH"]
_ATTRINDX = D.S1_LEAF["AttrIndx"]
_DBM = D.S1_LEAF["DBM"]
_PXN = D.S1_LEAF["PXN"]
_UXN = D.S1_LEAF["UXN"]
_APTABLE = D.S1_TABLE["APTable"]
_UXNTABLE = D.S1_TABLE["UXNTable"]
_PXNTABLE = D.S1_TABLE["PXNTable"]
_TABLE_ATTR_MASK = _U64(_APTABLE.mask | _UXNTABLE.mask | _PXNTABLE.mask)
_S2AP = D.S2_LEAF["S2AP"]
_S2XN = D.S2_LEAF["XN"]
_MEMATTR = D.S2_LEAF["MemAttr"]
_FNXS = D.S2_LEAF["FnXS"]
_S2SH = D.S2_LEAF["SH"]
_S2DBM = D.S2_LEAF["DBM"]

# s1_table_bits: the OR of the hierarchical fields (APTable, UXNTable, PXNTable) of the
# table descriptors walked, shifted down to bit 0 (they are contiguous in the descriptor)
_TB_LSB = min(f.lsb for f in (_APTABLE, _UXNTABLE, _PXNTABLE))
_TB_BITS = max(f.msb for f in (_APTABLE, _UXNTABLE, _PXNTABLE)) - _TB_LSB + 1
assert _TB_BITS == _APTABLE.width + _UXNTABLE.width + _PXNTABLE.width


def _table_bits(tb: int, two_el: bool) -> tuple[int, bool, bool]:
    """The scalar walker's ``(ap_table, uxn_table, pxn_table)`` from ``s1_table_bits``."""
    raw = tb << _TB_LSB
    ap = _APTABLE.get(raw)
    if not two_el:
        ap &= 0b10               # APTable[0] is RES0 in one-EL regimes (as pgwalk.walk)
    return ap, bool(_UXNTABLE.get(raw)), bool(_PXNTABLE.get(raw)) and two_el

# VA layout (ASL AArch64.GetVARange, AddrTop, AArch64.S1DisabledOutput)
_VA_RANGE_BIT = 55            # VA[55] selects the lower (TTBR0) or upper (TTBR1) range
_ADDR_TOP = 63                # AddrTop without TBI
_ADDR_TOP_TBI = 55            # AddrTop with TBI: the top byte is ignored
_FLAT_BITS = 56               # a stage 1 disabled output keeps VA[55:0]
_DESC_SHIFT = 3               # descriptors are 8 bytes: entry index << 3, PA >> 3 = word index

# _s1_perm_code packs AP[2:1], UXN, PXN, DBM of the leaf and s1_table_bits (in that order);
# _s2_perm_code packs S2AP, XN[1:0] and DBM
_PC_UXN = _AP.width
_PC_PXN = _PC_UXN + 1
_PC_DBM = _PC_PXN + 1
_PC_TB = _PC_DBM + 1
_PC2_XN = _S2AP.width
_PC2_DBM = _PC2_XN + _S2XN.width
_PC2_BITS = _PC2_DBM + 1


def _addr_top(p: S1WalkParams, access: Access | None) -> int:
    """ASL ``AArch64.AddrTop``: the top VA bit that is not a tag."""
    return _ADDR_TOP if (p.tbid and access is Access.EXEC) else (_ADDR_TOP_TBI if p.tbi else _ADDR_TOP)


# descriptor classes per level (from decode_descriptor_type)
_CLS_BAD, _CLS_LEAF, _CLS_TABLE, _CLS_MISSING = 0, 1, 2, 3


def _get(f: D.Field, raw: np.ndarray) -> np.ndarray:
    """A descriptor field of every lane (uint64)."""
    return (raw >> _U64(f.lsb)) & _U64(f.wmask)


def _ones(bits: int) -> int:
    return (1 << bits) - 1


# --------------------------------------------------------------------------- memory


class DescriptorReader:
    """Gathers 64-bit descriptors for arrays of physical addresses.

    Regions of a :class:`~pgwalk.memory.PhysicalMemory` that have a numpy view
    (memory-mapped files, bytes, zero fill) are read by fancy indexing a uint64
    view; anything else (sparse words, kdump pages, a memory without regions) is
    read with ``read_u64`` once per distinct address.  Descriptor addresses are
    8-aligned (table bases are at least 8-aligned, entries are 8 bytes), so an
    aligned view serves every descriptor wholly inside its region.
    """

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        regions = list(capability(mem, "regions") or ())
        self._bases = np.array([r.base for r in regions], dtype=_U64)
        # last byte of each region (inclusive): a region may end exactly at 2**64
        self._lasts = np.array([min(r.end, 1 << 64) - 1 for r in regions], dtype=_U64)
        #: per region: (uint64 words, PA of word 0, number of words), "zero", or None (read_u64)
        self._views: list[Any] = []
        view_of = capability(mem, "numpy_view")
        for r in regions:
            entry: Any = None
            if view_of is not None:
                try:
                    u8 = view_of(r)
                except (ValueError, TypeError):
                    u8 = None
                if u8 is not None:
                    if u8.ndim == 1 and u8.strides[0] == 0:
                        entry = "zero"
                    else:
                        skip = (-r.base) % 8
                        nwords = max(0, (len(u8) - skip) // 8)
                        words = u8[skip:skip + 8 * nwords].view("<u8")
                        entry = (words, r.base + skip, nwords)
            self._views.append(entry)
        self._regions = regions
        self._single = self._views[0] if len(regions) == 1 and isinstance(self._views[0], tuple) else None

    def read(self, pa: np.ndarray, big_endian: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """``(values, present)`` for every address; ``present`` is ``None`` when all are present."""
        if self._single is not None:
            words, first, nwords = self._single
            w = (pa - _U64(first)) >> _U64(_DESC_SHIFT)
            try:
                # below ``first`` the difference wraps to at most 2**61: an index error too
                val = words[w.view(np.intp)]
            except IndexError:
                pass
            else:
                return (val.byteswap() if big_endian else val), None
            inside = w < _U64(nwords)
            val = np.zeros(len(pa), dtype=_U64)
            val[inside] = words[w[inside]]
            if big_endian:
                val = val.byteswap()
            served = inside
        else:
            val = np.zeros(len(pa), dtype=_U64)
            served = np.zeros(len(pa), dtype=bool)
            if len(self._regions):
                r = np.searchsorted(self._bases, pa, side="right").astype(np.intp) - 1
                for j in np.unique(r).tolist():
                    entry = self._views[j] if j >= 0 else None
                    if entry is None:
                        continue
                    sel = np.nonzero(r == j)[0]
                    if isinstance(entry, str):                     # zero fill
                        last_word = int(self._lasts[j]) - 7            # last address an 8-byte read fits at
                        if last_word >= int(self._bases[j]):
                            ok = pa[sel] <= _U64(last_word)
                            served[sel[ok]] = True
                        continue
                    words, first, nwords = entry
                    w = (pa[sel] - _U64(first)) >> _U64(_DESC_SHIFT)
                    ok = w < _U64(nwords)
                    val[sel[ok]] = words[w[ok]]
                    served[sel[ok]] = True
                if big_endian:
                    val = val.byteswap()
        present = served.copy()
        rest = np.nonzero(~served)[0]
        if len(rest):
            self._read_slow(pa, rest, val, present, big_endian)
        return val, (None if present.all() else present)

    def _read_slow(self, pa: np.ndarray, rest: np.ndarray, val: np.ndarray, present: np.ndarray,
                   big_endian: bool) -> None:
        """``read_u64`` once per distinct address the views did not serve."""
        addrs = pa[rest]
        if len(self._regions):
            # addresses outside every region are not in the image without asking
            r = np.searchsorted(self._bases, addrs, side="right").astype(np.intp) - 1
            maybe = (r >= 0) & (addrs <= self._lasts[np.maximum(r, 0)])
            rest, addrs = rest[maybe], addrs[maybe]
        if not len(rest):
            return
        val[rest], present[rest] = read_many(self.mem, addrs, big_endian)


# --------------------------------------------------------------------------- geometry


class _Level(NamedTuple):
    lsb: np.uint64            # lowest IA bit this level resolves
    idx_mask: np.uint64       # index width mask
    classes: np.ndarray       # (raw & _VT_MASK) -> class
    leaf_mask: np.uint64      # OA[47:leafsize] in place
    off_mask: np.uint64       # IA bits below the leaf size
    leafsize: int


@dataclass(frozen=True)
class _Stage:
    """One stage's walk geometry, decided once from its parameters."""

    stage: int
    g: int
    ds: bool
    lpa64: bool
    oa_bits: int
    start_level: int
    iasize: int
    base: int
    ee: bool
    levels: dict[int, _Level]
    nlta_mask: np.uint64

    @classmethod
    def make(cls, stage: int, g: int, ds: bool, lpa64: bool, oa_bits: int, start_level: int, iasize: int,
             base: int, ee: bool, pa_max: int) -> "_Stage":
        stride = g - 3
        levels = {}
        for level in range(start_level, FINAL_LEVEL + 1):
            lsb = (FINAL_LEVEL - level) * stride + g
            msb = iasize - 1 if level == start_level else lsb + stride - 1
            classes = np.zeros(4, dtype=np.uint8)
            for code in range(4):
                sample = D.VALID.put(0, code & 1) | D.TYPE.put(0, code >> 1)
                kind = decode_descriptor_type(sample, level, ds, g, pa_max)
                classes[code] = {"table": _CLS_TABLE, "block": _CLS_LEAF, "page": _CLS_LEAF}.get(kind, _CLS_BAD)
            levels[level] = _Level(_U64(lsb), _U64(_ones(msb - lsb + 1)), classes,
                                   _U64(_ADDR_MASK_48 & ~_ones(lsb)), _U64(_ones(lsb)), lsb)
        return cls(stage, g, ds, lpa64, oa_bits, start_level, iasize, base, ee, levels,
                   _U64(_ADDR_MASK_48 & ~_ones(g)))

    def high_bits(self, raw: np.ndarray) -> np.ndarray | None:
        """OA[51:48] of every descriptor (``None`` when the format has no high bits)."""
        pieces = _HI_LPA if self.lpa64 else _HI_DS if self.ds else ()
        hi = None
        for f, at in pieces:
            part = _get(f, raw) << _U64(at)
            hi = part if hi is None else hi | part
        return hi

    def next_table(self, raw: np.ndarray) -> np.ndarray:
        """ASL ``AArch64.NextTableBase`` for every lane."""
        nxt = raw & self.nlta_mask
        hi = self.high_bits(raw)
        return nxt if hi is None else nxt | hi

    def leaf_base(self, raw: np.ndarray, lv: _Level) -> np.ndarray:
        """ASL ``AArch64.S1LeafBase`` / ``S2LeafBase`` for every lane."""
        base = raw & lv.leaf_mask
        hi = self.high_bits(raw)
        return base if hi is None else base | hi


def _s1_stage(setup: TranslationSetup, p: S1WalkParams) -> _Stage:
    return _Stage.make(1, p.granule_shift, p.ds, p.lpa64, p.oa_bits, p.start_level, p.iasize, p.base, p.ee,
                       setup.features.pa_max)


def _s2_stage(setup: TranslationSetup) -> _Stage | None:
    s2 = setup.s2
    if s2 is None or s2.start_level is None or s2.config_fault or s2.base_fault:
        return None
    return _Stage.make(2, s2.granule_shift, s2.ds, s2.lpa64, s2.oa_bits, s2.start_level, s2.iasize, s2.base,
                       s2.ee, setup.features.pa_max)


# --------------------------------------------------------------------------- one stage's walk


class _Walk:
    """Per-lane outcome of one stage's table walk (before the leaf checks).

    ``code`` 0: a leaf was reached (``raw``, ``level``, ``out`` = output address);
    otherwise the fault code, ``level`` and ``stage`` (2 with ``s1ptw`` for a
    stage 2 fault on a stage 1 descriptor fetch, whose IPA is ``fipa``).
    """

    __slots__ = ("code", "level", "stage", "s1ptw", "fipa", "nii", "raw", "out", "tbl")

    def __init__(self, m: int, stage: int, collect: bool, fetch: bool) -> None:
        self.code = np.zeros(m, dtype=np.uint8)
        self.level = np.zeros(m, dtype=np.int8)
        self.stage = np.full(m, stage, dtype=np.uint8)
        self.s1ptw = np.zeros(m, dtype=bool) if fetch else None
        self.fipa = np.zeros(m, dtype=_U64) if fetch else None
        self.nii = np.zeros(m, dtype=bool)
        self.raw = np.zeros(m, dtype=_U64)
        self.out = np.zeros(m, dtype=_U64)
        self.tbl = np.zeros(m, dtype=_U64) if collect else None


#: a stage 2 walk of stage 1 descriptor IPAs: (IPAs) -> (PAs, fault code, level, not in image)
Fetch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _walk(rd: DescriptorReader, st: _Stage, ia: np.ndarray, *, collect: bool = False,
          fetch: Fetch | None = None) -> _Walk:
    """ASL ``S1Walk`` / ``S2Walk`` for every lane of ``ia`` (the lanes already passed the
    configuration checks): level by level, one gather per level.

    ``pos`` maps the lanes still walking to their index in ``ia`` (``None`` while that is
    the identity: the common case where every lane walks every level is never indexed).
    """
    m = len(ia)
    w = _Walk(m, st.stage, collect, fetch is not None)
    pos: np.ndarray | None = None
    cur = ia
    table: np.ndarray | np.uint64 = _U64(st.base)
    tbl = np.zeros(m, dtype=_U64) if collect else None
    oa_shift = _U64(st.oa_bits)

    def at(sel: np.ndarray) -> np.ndarray:
        return sel if pos is None else pos[sel]

    def fault(sel: np.ndarray, code: int, level: int, nii: bool = False) -> None:
        p = at(sel)
        w.code[p] = code
        w.level[p] = level
        if nii:
            w.nii[p] = True

    for level in range(st.start_level, FINAL_LEVEL + 1):
        if not len(cur):
            break
        lv = st.levels[level]
        addr = (((cur >> lv.lsb) & lv.idx_mask) << _U64(_DESC_SHIFT)) | table
        if fetch is not None:
            dpa, fcode, flevel, fnii = fetch(addr)
            bad = fcode != 0
            if bad.any():
                sel = np.nonzero(bad)[0]
                p = at(sel)
                w.code[p] = fcode[sel]
                w.level[p] = flevel[sel]
                w.stage[p] = 2
                w.s1ptw[p] = True
                w.fipa[p] = addr[sel]
                w.nii[p] = fnii[sel]
                keep = np.nonzero(~bad)[0]
                pos = at(keep)
                cur, dpa = cur[keep], dpa[keep]
                if tbl is not None:
                    tbl = tbl[keep]
                if not len(cur):
                    break
        else:
            dpa = addr
        raw, present = rd.read(dpa, st.ee)
        # the VALID/TYPE bits every lane has (AND) and some lane has (OR): equal when uniform
        both = int(np.bitwise_and.reduce(raw) & _VT_MASK) if present is None else -1
        if both >= 0 and both != _VT_MASK and both != int(np.bitwise_or.reduce(raw) & _VT_MASK):
            both = -1
        if both >= 0 and lv.classes[both] == _CLS_TABLE:
            pass                                        # every lane read a table descriptor
        elif both >= 0 and lv.classes[both] == _CLS_LEAF:
            # every lane read a block or page descriptor; ASL StageOA, then the output size check
            out = st.leaf_base(raw, lv) | (cur & lv.off_mask)
            if oa_out_of_range(np.bitwise_or.reduce(out), oa_shift):
                over = oa_out_of_range(out, oa_shift)
                fault(np.nonzero(over)[0], _ADDRESS_SIZE, level)
                keep = np.nonzero(~over)[0]
                pos, cur, raw, out = at(keep), cur[keep], raw[keep], out[keep]
                if tbl is not None:
                    tbl = tbl[keep]
            if pos is None:
                w.level[:] = level
                w.raw = raw
                w.out = out
                if tbl is not None:
                    w.tbl = tbl
            else:
                w.level[pos] = level
                w.raw[pos] = raw
                w.out[pos] = out
                if tbl is not None:
                    w.tbl[pos] = tbl
            break
        else:
            cls = lv.classes[raw & _VT_MASK]
            if present is not None:
                cls[~present] = _CLS_MISSING
                fault(np.nonzero(~present)[0], _SEA, level, True)
            bad = cls == _CLS_BAD
            if bad.any():
                fault(np.nonzero(bad)[0], _TRANSLATION, level)
            leaf = np.nonzero(cls == _CLS_LEAF)[0]
            if len(leaf):
                r = raw[leaf]
                out = st.leaf_base(r, lv) | (cur[leaf] & lv.off_mask)
                over = oa_out_of_range(out, oa_shift)
                if over.any():
                    fault(leaf[over], _ADDRESS_SIZE, level)
                    keep = ~over
                    leaf, r, out = leaf[keep], r[keep], out[keep]
                p = at(leaf)
                w.level[p] = level
                w.raw[p] = r
                w.out[p] = out
                if tbl is not None:
                    w.tbl[p] = tbl[leaf]
            keep = np.nonzero(cls == _CLS_TABLE)[0]
            pos, cur, raw = at(keep), cur[keep], raw[keep]
            if tbl is not None:
                tbl = tbl[keep]
            if not len(cur):
                break
        nxt = st.next_table(raw)
        if oa_out_of_range(np.bitwise_or.reduce(nxt), oa_shift):
            over = oa_out_of_range(nxt, oa_shift)
            fault(np.nonzero(over)[0], _ADDRESS_SIZE, level)
            keep = np.nonzero(~over)[0]
            pos, cur, raw, nxt = at(keep), cur[keep], raw[keep], nxt[keep]
            if tbl is not None:
                tbl = tbl[keep]
        if tbl is not None:
            tbl |= raw & _TABLE_ATTR_MASK
        table = nxt
    if w.tbl is not None and collect:
        w.tbl = w.tbl >> _U64(_TB_LSB)
    return w


# --------------------------------------------------------------------------- permissions as tables


def _s1_perm_code(raw: np.ndarray, tbl_bits: np.ndarray) -> np.ndarray:
    """Index into :func:`_s1_perm_table`: AP, UXN, PXN, DBM of the leaf and ``s1_table_bits``."""
    code = _get(_AP, raw)
    code |= _get(_UXN, raw) << _U64(_PC_UXN)
    code |= _get(_PXN, raw) << _U64(_PC_PXN)
    code |= _get(_DBM, raw) << _U64(_PC_DBM)
    code |= tbl_bits.astype(_U64) << _U64(_PC_TB)
    return code.astype(np.intp)


_S1_CODE_BITS = _PC_TB + _TB_BITS
_S1_CODES = 1 << _S1_CODE_BITS


def _s1_perms_of_code(p: S1WalkParams, code: int) -> Any:
    """The :class:`~pgwalk.perms.S1Perms` of one :func:`_s1_perm_code` value in range ``p``."""
    two_el = p.has_unprivileged
    ap_table, uxn_table, pxn_table = _table_bits(code >> _PC_TB, two_el)
    return s1_direct_base_permissions(
        two_el=two_el, ap=code & _AP.wmask, uxn=bool(code >> _PC_UXN & 1),
        pxn=bool(code >> _PC_PXN & 1) and two_el, dbm=bool(code >> _PC_DBM & 1), hd=p.hd,
        ap_table=ap_table, uxn_table=uxn_table, pxn_table=pxn_table)


def _s1_perm_table(p: S1WalkParams, fn: Callable[[Any], bool]) -> np.ndarray:
    """``fn(S1Perms)`` for every leaf AP/UXN/PXN/DBM and table-bits combination of range ``p``."""
    return np.array([fn(_s1_perms_of_code(p, code)) for code in range(_S1_CODES)], dtype=bool)


@functools.lru_cache(maxsize=256)
def _s1_allowed_table(two_el: bool, hd: bool, access: Access, el0: bool, pan: bool, epan: bool,
                      wxn: bool) -> np.ndarray:
    """:func:`_s1_perm_table` of ``s1_check`` for an access (everything it depends on is an argument:
    a batch of ATs in many register states builds each table once)."""
    p = _PermParams(two_el, hd)
    table = _s1_perm_table(p, lambda perms: s1_check(perms, access, el0=el0, pan=pan, epan=epan, wxn=wxn))
    table.flags.writeable = False
    return table


class _PermParams(NamedTuple):
    """What :func:`_s1_perms_of_code` reads of a range's :class:`~pgwalk.params.S1WalkParams`."""

    has_unprivileged: bool
    hd: bool


@functools.lru_cache(maxsize=64)
def _s2_allowed_table(hd: bool, xnx: bool, access: Access | None, el0: bool) -> np.ndarray:
    """Stage 2 permission codes allowing ``access`` (``None``: readable, as a stage 1 walk needs)."""
    out = np.zeros(1 << _PC2_BITS, dtype=bool)
    for code in range(1 << _PC2_BITS):
        perms = s2_direct_base_permissions(s2ap=code & _S2AP.wmask, xn=code >> _PC2_XN & _S2XN.wmask,
                                           dbm=bool(code >> _PC2_DBM & 1), hd=hd, xnx=xnx)
        out[code] = perms.r if access is None else s2_check(perms, access, el0=el0)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=4)
def _s2_device_table(fwb: bool) -> np.ndarray:
    out = np.array([s2_walk_device(m, fwb) for m in range(1 << _MEMATTR.width)])
    out.flags.writeable = False
    return out


def _s2_perm_code(raw: np.ndarray) -> np.ndarray:
    code = _get(_S2AP, raw) | (_get(_S2XN, raw) << _U64(_PC2_XN)) | (_get(_S2DBM, raw) << _U64(_PC2_DBM))
    return code.astype(np.intp)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class BulkTranslation:
    """The outcome of translating many addresses: one numpy array per field, one lane per address.

    Arrays (``n`` lanes):

    * ``va`` (uint64): the input addresses (IPAs with ``stages="2"``);
    * ``ipa``, ``pa`` (uint64): stage 1 and stage 2 outputs; meaningful where
      :attr:`has_ipa` / :attr:`has_pa` (``pa`` *is* ``ipa`` when there is no stage 2);
    * ``fault_type`` (uint8, :data:`FAULT_TYPES` code, 0 = no fault), ``fault_level``
      (int8, -2..3), ``fault_stage`` (uint8, 1 or 2), ``s1ptw`` (bool),
      ``not_in_image`` (bool), ``fault_ipa`` (uint64, the IPA of a stage 2 fault);
      :attr:`fsc` gives the fault status codes;
    * ``s1_desc`` / ``s1_level`` / ``s1_shift``: the stage 1 leaf descriptor, its level and
      log2 of its size (``s1_shift`` 0 = no stage 1 leaf, see :attr:`has_s1`);
      ``s1_table_bits`` (uint8): the OR of descriptor bits [62:59] (APTable, UXNTable,
      PXNTable) over the table descriptors walked, shifted down to bit 0 (0 with HPD);
    * ``s2_desc`` / ``s2_level`` / ``s2_shift``: likewise for stage 2 (zeros without stage 2).
    """

    setup: TranslationSetup
    stages: str
    access: Access | None
    el: int
    pan: bool
    va: np.ndarray
    ipa: np.ndarray
    pa: np.ndarray
    fault_type: np.ndarray
    fault_level: np.ndarray
    fault_stage: np.ndarray
    s1ptw: np.ndarray
    not_in_image: np.ndarray
    fault_ipa: np.ndarray
    s1_desc: np.ndarray
    s1_level: np.ndarray
    s1_shift: np.ndarray
    s1_table_bits: np.ndarray
    s2_desc: np.ndarray
    s2_level: np.ndarray
    s2_shift: np.ndarray
    #: where the image does not hold the bytes at ``pa`` (:func:`mark_contents`); ``None``: not checked
    contents_missing: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.va)

    @property
    def s1_disabled(self) -> bool:
        """Stage 1 ran with the MMU off (flat mapping) for every lane."""
        return self.stages in ("1", "12") and not self.setup.s1_enabled

    @property
    def ok(self) -> np.ndarray:
        """Lanes that translated without a fault."""
        return self.fault_type == 0

    @property
    def has_s1(self) -> np.ndarray:
        return self.s1_shift != 0

    @property
    def has_s2(self) -> np.ndarray:
        return self.s2_shift != 0

    @property
    def has_ipa(self) -> np.ndarray:
        """Where ``ipa`` is meaningful (``Translation.ipa is not None``)."""
        if self.stages == "2":
            return np.ones(len(self), dtype=bool)
        if self.stages == "1":
            return self.ok
        return self.ok | ((self.fault_stage == 2) & ~self.s1ptw)

    @property
    def has_pa(self) -> np.ndarray:
        """Where ``pa`` is meaningful (``Translation.pa is not None``)."""
        if self.stages == "1" and self.setup.s2 is not None:
            return np.zeros(len(self), dtype=bool)
        return self.ok

    @property
    def output(self) -> np.ndarray:
        """What the requested stages produce: ``pa``, or ``ipa`` with ``stages="1"``."""
        return self.ipa if self.stages == "1" else self.pa

    @property
    def fsc(self) -> np.ndarray:
        """Long-descriptor fault status codes (ASL ``EncodeLDFSC``; 0 where no fault)."""
        return _FSC[self.fault_type, self.fault_level.astype(np.intp) + _LEVEL_BIAS]

    @property
    def size_shift(self) -> np.ndarray:
        """log2 of the mapping size: the smaller leaf (0 where there is none)."""
        s1, s2 = self.s1_shift, self.s2_shift
        both = (s1 != 0) & (s2 != 0)
        return np.where(both, np.minimum(s1, s2), np.maximum(s1, s2))

    def fault(self, i: int) -> Fault | None:
        """The :class:`~pgwalk.faults.Fault` of lane ``i`` (with an empty ``reason``)."""
        code = int(self.fault_type[i])
        if not code:
            return None
        stage = int(self.fault_stage[i])
        return Fault(FAULT_TYPES[code], int(self.fault_level[i]), stage, s1ptw=bool(self.s1ptw[i]),
                     ipa=int(self.fault_ipa[i]) if stage == 2 else None,
                     not_in_image=bool(self.not_in_image[i]))

    def translation(self, i: int) -> Translation:
        """Lane ``i`` as the :class:`~pgwalk.walk.Translation` the scalar walker returns
        (``steps`` empty, the fault's ``reason`` empty, and so is ``s1ptw_af_updates``: the
        Access flag updates of the leaves are in ``af_updates``, those of the stage 2
        descriptors of the stage 1 table fetches only in the scalar walk)."""
        setup = self.setup
        va = int(self.va[i])
        fault = self.fault(i)
        s1 = s2 = None
        if self.s1_shift[i]:
            level = int(self.s1_level[i])
            p = setup.s1_params(va)
            s1 = s1_leaf(setup, p, int(self.s1_desc[i]), level, "page" if level == FINAL_LEVEL else "block",
                         *_table_bits(int(self.s1_table_bits[i]), p.has_unprivileged))
        if setup.s2 is not None and self.s2_shift[i]:
            level = int(self.s2_level[i])
            s2 = s2_leaf(setup, int(self.s2_desc[i]), level, "page" if level == FINAL_LEVEL else "block")
        attrs = None
        disabled = self.s1_disabled
        if fault is None:
            if self.stages in ("1", "12"):
                attrs = s1_disabled_attributes(setup, self.access) if disabled else s1.attrs
            if self.stages in ("2", "12") and s2 is not None:
                attrs = stage2_attributes(setup, attrs, s2, self.stages, self.access)
        notes: tuple[str, ...] = ()
        if disabled and (fault is None or fault.stage == 2):
            notes = ("stage 1 is disabled: the output address is the input address",)
        return Translation(
            va=va, stages=self.stages, regime=setup.regime,
            ipa=int(self.ipa[i]) if self.has_ipa[i] else None, pa=int(self.pa[i]) if self.has_pa[i] else None,
            fault=fault, steps=(), s1=s1, s2=s2, attrs=attrs, s1_disabled=disabled, access=self.access,
            el=self.el, pan=self.pan, notes=notes)

    def to_dict(self, i: int) -> dict[str, Any]:
        """Lane ``i`` as a bulk JSON line (module docstring): the scalar ``--json`` object
        without ``s1``, ``s2``, ``steps``, ``notes`` and the fault's ``reason``."""
        cm = self.contents_missing
        contents = None if cm is None or not (self.ok[i] and self.has_pa[i]) else not cm[i]
        return bulk_line_dict(self.translation(i), wxn=self.setup.wxn, epan=self.setup.epan, contents=contents)

    def contents_variant(self) -> np.ndarray | None:
        """Per lane 0 (no contents flag), 1 (contents in the image) or 2 (not): lines that differ
        only in it need different templates."""
        cm = self.contents_missing
        if cm is None:
            return None
        return np.where(self.ok & self.has_pa, np.where(cm, 2, 1), 0).astype(np.int64)

    def select(self, idx: np.ndarray | slice) -> "BulkTranslation":
        """The lanes ``idx`` as a new result (arrays indexed, setup shared)."""
        kw = {name: getattr(self, name) for name in _META}
        for name in _ARRAYS:
            kw[name] = getattr(self, name)[idx]
        if self.contents_missing is not None:
            kw["contents_missing"] = self.contents_missing[idx]
        return BulkTranslation(**kw)


_META = ("setup", "stages", "access", "el", "pan")
_ARRAYS = ("va", "ipa", "pa", "fault_type", "fault_level", "fault_stage", "s1ptw", "not_in_image", "fault_ipa",
           "s1_desc", "s1_level", "s1_shift", "s1_table_bits", "s2_desc", "s2_level", "s2_shift")


def _fsc_table() -> np.ndarray:
    t = np.zeros((len(FAULT_TYPES), FINAL_LEVEL + _LEVEL_BIAS + 1), dtype=np.uint8)
    for code, ftype in enumerate(FAULT_TYPES):
        if ftype is None:
            continue
        for level in range(_MIN_LEVEL, FINAL_LEVEL + 1):
            try:
                t[code, level + _LEVEL_BIAS] = encode_ld_fsc(ftype, level)
            except ValueError:
                pass
    return t


_FSC = _fsc_table()

#: keys of the scalar --json --trace object that bulk lines (and --json without --trace) leave out
BULK_DROPPED = TRACE_KEYS


def bulk_line_dict(t: Translation, *, wxn: bool = False, epan: bool = False,
                   contents: bool | None = None) -> dict[str, Any]:
    """The bulk JSON object of a translation: :func:`pgwalk.report.translation_to_dict`
    without ``s1``, ``s2``, ``steps``, ``notes`` and the fault's ``reason``."""
    return drop_trace(translation_to_dict(t, wxn=wxn, epan=epan, contents=contents))


# --------------------------------------------------------------------------- the walker


class _Engine:
    """Everything :func:`translate_many` decides once per call."""

    def __init__(self, setup: TranslationSetup, mem: Memory, stages: str, access: Access | None, el: int,
                 pan: bool, reader: DescriptorReader | None) -> None:
        self.setup = setup
        self.rd = reader if reader is not None else DescriptorReader(mem)
        self.stages = stages
        self.access = access
        self.el = el
        self.pan = pan
        self.s2st = _s2_stage(setup)
        self.s1st = [_s1_stage(setup, p) for p in setup.ranges]
        el0 = el == 0
        if access is not None:
            self.s1_allowed = [_s1_allowed_table(p.has_unprivileged, p.hd, access, el0, pan, setup.epan, setup.wxn)
                               for p in setup.ranges]
        else:
            self.s1_allowed = None
        if setup.s2 is not None:
            hd, xnx = setup.s2.hd, setup.features.xnx
            self.s2_read = _s2_allowed_table(hd, xnx, None, False)
            self.s2_allowed = _s2_allowed_table(hd, xnx, access, el0) if access is not None else None
            self.s2_device = _s2_device_table(setup.s2.fwb)
        # a stage 1 walk fetches through stage 2 only in the EL1&0 regime
        self.through_s2 = setup.s2 is not None and setup.regime is Regime.EL10

    # -- stage 2 -------------------------------------------------------------

    def s2(self, ipa: np.ndarray, *, s1ptw: bool) -> tuple[_Walk, np.ndarray]:
        """ASL ``AArch64.S2Translate`` for every lane: the walk with its leaf checks, and the PAs."""
        s2 = self.setup.s2
        m = len(ipa)
        st = self.s2st
        out_of_range = (ipa >> _U64(s2.iasize)) != 0
        if st is None:
            # configuration faults come first, then the IPA range, then the base address size
            w = _Walk(m, 2, False, False)
            w.code[:] = _TRANSLATION
            if not s2.config_fault and s2.base_fault:
                w.code[~out_of_range] = _ADDRESS_SIZE
            return w, w.out
        if out_of_range.any():
            lanes = np.nonzero(~out_of_range)[0]
            inner = _walk(self.rd, st, ipa[lanes])
            w = _Walk(m, 2, False, False)
            w.code[:] = _TRANSLATION
            for name in ("code", "level", "nii", "raw", "out"):
                getattr(w, name)[lanes] = getattr(inner, name)
        else:
            w = _walk(self.rd, st, ipa)
        leaf = np.nonzero(w.code == 0)[0]
        if len(leaf):
            raw = w.raw[leaf]
            bad = np.zeros(len(leaf), dtype=bool)
            code = np.zeros(len(leaf), dtype=np.uint8)
            if not s2.ha:
                af0 = _get(_AF, raw) == 0
                code[af0] = _ACCESS_FLAG
                bad |= af0
            pcode = _s2_perm_code(raw)
            if s1ptw:
                denied = ~self.s2_read[pcode]
                if s2.ptw:
                    denied |= self.s2_device[_get(_MEMATTR, raw).astype(np.intp)]
            elif self.s2_allowed is not None:
                denied = ~self.s2_allowed[pcode]
            else:
                denied = None
            if denied is not None:
                denied &= ~bad
                code[denied] = _PERMISSION
                bad |= denied
            if bad.any():
                w.code[leaf[bad]] = code[bad]
        return w, w.out

    def fetch(self, addr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A stage 1 descriptor fetch through stage 2 (S1PTW)."""
        w, pa = self.s2(addr, s1ptw=True)
        return pa, w.code, w.level, w.nii

    # -- stage 1 -------------------------------------------------------------

    def s1_range(self, r: int, va: np.ndarray, out: "_Out", lanes: np.ndarray | None) -> None:
        """ASL ``AArch64.S1Translate`` for the lanes of VA range ``r``."""
        setup = self.setup
        p = setup.ranges[r]
        st = self.s1st[r]

        def at(sel: np.ndarray | None) -> np.ndarray | slice:
            if lanes is None:
                return slice(None) if sel is None else sel
            return lanes if sel is None else lanes[sel]

        if p.config_fault:
            out.fault(at(None), _TRANSLATION, 0, 1)
            return
        addrtop = _addr_top(p, self.access)
        walk_sel: np.ndarray | None = None
        if addrtop >= p.iasize:
            # ASL AArch64.VAIsOutOfRange
            top = (va >> _U64(p.iasize)) & _U64(_ones(addrtop - p.iasize + 1))
            want = _ones(addrtop - p.iasize + 1) if (p.has_unprivileged and p.varange == 1) else 0
            oor = top != _U64(want)
            if oor.any():
                out.fault(at(np.nonzero(oor)[0]), _TRANSLATION, 0, 1)
                walk_sel = np.nonzero(~oor)[0]
                va = va[walk_sel]
        where = at(walk_sel)
        if p.has_unprivileged and ((self.el == 0 and p.e0pd) or p.epd):
            out.fault(where, _TRANSLATION, 0, 1)
            return
        if p.base_fault:
            out.fault(where, _ADDRESS_SIZE, 0, 1)
            return
        if not len(va):
            return
        collect = not p.hpd
        w = _walk(self.rd, st, va, collect=collect, fetch=self.fetch if self.through_s2 else None)
        if w.code.any():
            leaf = np.nonzero(w.code == 0)[0]
            raw, level, ipa = w.raw[leaf], w.level[leaf], w.out[leaf]
            tb = w.tbl[leaf].astype(np.uint8) if collect else None
        else:
            leaf = None                                 # every lane reached a leaf
            raw, level, ipa = w.raw, w.level, w.out
            tb = w.tbl.astype(np.uint8) if collect else None
        bad = None
        if not p.ha and not (np.bitwise_and.reduce(raw) & _U64(_AF.mask)):
            bad = _get(_AF, raw) == 0
            code = np.where(bad, _ACCESS_FLAG, 0).astype(np.uint8)
        if self.s1_allowed is not None and len(raw):
            denied = ~self.s1_allowed[r][_s1_perm_code(raw, tb if tb is not None else np.zeros(len(raw), np.uint8))]
            if bad is not None:
                denied &= ~bad
                code[denied] = _PERMISSION
                bad |= denied
            elif denied.any():
                bad = denied
                code = np.where(bad, _PERMISSION, 0).astype(np.uint8)
        if bad is not None and bad.any():
            if leaf is None:
                leaf = np.arange(len(raw))
            w.code[leaf[bad]] = code[bad]
            keep = ~bad
            leaf, raw, level, ipa = leaf[keep], raw[keep], level[keep], ipa[keep]
            if tb is not None:
                tb = tb[keep]
        dst = where if leaf is None else _compose(where, leaf)
        out.ipa[dst] = ipa
        out.s1_desc[dst] = raw
        out.s1_level[dst] = level
        out.s1_shift[dst] = _leafsizes(st, level)
        if tb is not None:
            out.s1_table_bits[dst] = tb
        if leaf is not None:
            failed = np.nonzero(w.code != 0)[0]
            if len(failed):
                out.fault_from(_compose(where, failed), w, failed)

    def s1_disabled(self, va: np.ndarray, out: "_Out") -> None:
        """ASL ``AArch64.S1DisabledOutput`` for every lane."""
        setup = self.setup
        pa_max = setup.features.pa_max
        sel = _range_lanes(setup, va)
        for r, lanes in sel:
            p = setup.ranges[r]
            v = va if lanes is None else va[lanes]
            addrtop = _addr_top(p, self.access)
            bad = ((v >> _U64(pa_max)) & _U64(_ones(addrtop - pa_max + 1))) != 0
            if bad.any():
                idx = np.nonzero(bad)[0]
                out.fault(idx if lanes is None else lanes[idx], _ADDRESS_SIZE, 0, 1)
        out.ipa[:] = va & _U64(_ones(_FLAT_BITS))

    def s2_final(self, out: "_Out", lanes: np.ndarray | None) -> None:
        """The stage 2 translation of the stage 1 outputs (or of the input IPAs)."""
        ipa = out.ipa if lanes is None else out.ipa[lanes]
        w, pa = self.s2(ipa, s1ptw=False)
        ok = np.nonzero(w.code == 0)[0]
        dst = ok if lanes is None else lanes[ok]
        if len(ok):
            out.pa[dst] = pa[ok]
            out.s2_desc[dst] = w.raw[ok]
            out.s2_level[dst] = w.level[ok]
            out.s2_shift[dst] = _leafsizes(self.s2st, w.level[ok])
        failed = np.nonzero(w.code != 0)[0]
        if len(failed):
            dst = failed if lanes is None else lanes[failed]
            out.fault_from(dst, w, failed, stage2_ipa=ipa[failed])

    def run(self, va: np.ndarray, out: "_Out") -> None:
        stages = self.stages
        setup = self.setup
        if stages in ("1", "12"):
            if not setup.s1_enabled:
                self.s1_disabled(va, out)
            else:
                for r, lanes in _range_lanes(setup, va):
                    p = setup.ranges[r]
                    if not p.ttbr_known and not (p.config_fault or p.epd):
                        # the vectorised walker has no "unknown register" lane: as the scalar walk
                        from .errors import UnknownRegister

                        raise UnknownRegister(p.ttbr_name, int(va[0] if lanes is None else va[lanes[0]]))
                    self.s1_range(r, va if lanes is None else va[lanes], out, lanes)
        else:
            out.ipa[:] = va
        if stages in ("2", "12") and setup.s2 is not None:
            ok = out.fault_type == 0
            if ok.all():
                self.s2_final(out, None)
            else:
                self.s2_final(out, np.nonzero(ok)[0])


def _compose(where: np.ndarray | slice, idx: np.ndarray) -> np.ndarray:
    """Positions in the chunk of the walked lanes ``idx``."""
    return idx if isinstance(where, slice) else where[idx]


def _leafsizes(st: _Stage, level: np.ndarray) -> np.ndarray | int:
    """log2 of the leaf size for every lane's leaf level (one number when all are equal)."""
    stride = st.g - 3
    if len(level) and level[0] == level[-1] and (level == level[0]).all():
        return st.g + stride * (FINAL_LEVEL - int(level[0]))
    return (st.g + stride * (FINAL_LEVEL - level.astype(np.int16))).astype(np.uint8)


def _range_lanes(setup: TranslationSetup, va: np.ndarray) -> list[tuple[int, np.ndarray | None]]:
    """ASL ``AArch64.GetVARange``: VA[55] selects the range; ``None`` = every lane."""
    if len(setup.ranges) < 2:
        return [(0, None)]
    upper = ((va >> _U64(_VA_RANGE_BIT)) & _U64(1)).astype(bool)
    n_up = int(np.count_nonzero(upper))
    if n_up == 0:
        return [(0, None)]
    if n_up == len(va):
        return [(1, None)]
    return [(0, np.nonzero(~upper)[0]), (1, np.nonzero(upper)[0])]


class _Out:
    """The result arrays of one chunk (views into the whole result)."""

    def __init__(self, res: BulkTranslation, s: slice) -> None:
        for name in _ARRAYS:
            setattr(self, name, getattr(res, name)[s])

    def fault(self, where: np.ndarray | slice, code: int, level: int, stage: int) -> None:
        self.fault_type[where] = code
        self.fault_level[where] = level
        self.fault_stage[where] = stage

    def fault_from(self, dst: np.ndarray, w: _Walk, idx: np.ndarray, stage2_ipa: np.ndarray | None = None) -> None:
        self.fault_type[dst] = w.code[idx]
        self.fault_level[dst] = w.level[idx]
        self.fault_stage[dst] = w.stage[idx]
        self.not_in_image[dst] = w.nii[idx]
        if w.s1ptw is not None:
            self.s1ptw[dst] = w.s1ptw[idx]
            self.fault_ipa[dst] = w.fipa[idx]
        elif stage2_ipa is not None:
            self.fault_ipa[dst] = stage2_ipa


def _empty_result(setup: TranslationSetup, va: np.ndarray, stages: str, access: Access | None, el: int,
                  pan: bool) -> BulkTranslation:
    n = len(va)
    has_s2 = setup.s2 is not None
    ipa = np.zeros(n, dtype=_U64)
    pa = np.zeros(n, dtype=_U64) if (has_s2 and stages != "1") else ipa

    def zeros(dtype: Any, needed: bool = True) -> np.ndarray:
        if needed:
            return np.zeros(n, dtype=dtype)
        return np.broadcast_to(np.zeros((), dtype=dtype), (n,))

    return BulkTranslation(
        setup=setup, stages=stages, access=access, el=el, pan=pan, va=va, ipa=ipa, pa=pa,
        fault_type=zeros(np.uint8), fault_level=zeros(np.int8), fault_stage=zeros(np.uint8),
        s1ptw=zeros(bool, has_s2), not_in_image=zeros(bool), fault_ipa=zeros(_U64, has_s2),
        s1_desc=zeros(_U64), s1_level=zeros(np.int8), s1_shift=zeros(np.uint8), s1_table_bits=zeros(np.uint8),
        s2_desc=zeros(_U64, has_s2), s2_level=zeros(np.int8, has_s2), s2_shift=zeros(np.uint8, has_s2))


def _check_args(setup: TranslationSetup, stages: str | None) -> str:
    if stages is None:
        stages = "12" if setup.s2 is not None else "1"
    if stages not in ("1", "2", "12"):
        raise ValueError(f"stages must be 1, 2 or 12, not {stages!r}")
    if stages == "2" and setup.s2 is None:
        raise ValueError("stage 2 is not enabled by the registers (HCR_EL2.VM/DC)")
    return stages


def translate_many(setup: TranslationSetup, mem: Memory, vas: Iterable[int] | np.ndarray, *,
                   stages: str | None = None, access: Access | None = None, el: int = 1, pan: bool = False,
                   chunk: int = CHUNK, reader: DescriptorReader | None = None) -> BulkTranslation:
    """Translate every address of ``vas`` the way :func:`pgwalk.walk.translate` does, vectorised.

    >>> res = translate_many(setup, mem, np.array([0xffff800000201234], dtype=np.uint64))  # doctest: +SKIP
    >>> hex(int(res.pa[0])), bool(res.ok[0])

    :param vas: input addresses (uint64 array, or anything ``np.asarray`` turns into one)
    :param stages, access, el, pan: as :func:`pgwalk.walk.translate`
    :param chunk: lanes walked together (memory use is proportional to it)
    :param reader: a :class:`DescriptorReader` to reuse across calls on the same memory
    :returns: a :class:`BulkTranslation`; faults are values in its arrays, never raised
    :raises ValueError: for ``stages`` the registers do not allow (as the scalar walker)
    """
    stages = _check_args(setup, stages)
    va = np.ascontiguousarray(np.asarray(vas, dtype=_U64))
    if va.ndim != 1:
        va = va.ravel()
    res = _empty_result(setup, va, stages, access, el, pan)
    eng = _Engine(setup, mem, stages, access, el, pan, reader)
    for s in range(0, len(va), max(1, chunk)):
        sl = slice(s, min(len(va), s + chunk))
        eng.run(va[sl], _Out(res, sl))
    return res


def mark_contents(res: BulkTranslation, mem: Any) -> BulkTranslation:
    """``res`` with :attr:`BulkTranslation.contents_missing` filled from ``mem``
    (:meth:`pgwalk.memory.PhysicalMemory.contents_missing_mask`: a dump's bitmaps decide)."""
    from dataclasses import replace

    lanes = np.flatnonzero(res.ok & res.has_pa)
    missing = np.zeros(len(res), dtype=bool)
    mask_of = capability(mem, "contents_missing_mask")
    if len(lanes) and mask_of is not None:
        missing[lanes] = mask_of(res.pa[lanes])
    return replace(res, contents_missing=missing)


def iter_translate(setup: TranslationSetup, mem: Memory, vas: Any, *, stages: str | None = None,
                   access: Access | None = None, el: int = 1, pan: bool = False, block: int = 1 << 16,
                   chunk: int = CHUNK, reader: DescriptorReader | None = None) -> Iterator[BulkTranslation]:
    """:func:`translate_many` in blocks of ``block`` addresses, one result per block (for streaming)."""
    stages = _check_args(setup, stages)
    va = np.ascontiguousarray(np.asarray(vas, dtype=_U64)).ravel()
    eng = _Engine(setup, mem, stages, access, el, pan, reader)
    step = max(1, chunk)
    for s in range(0, len(va), max(1, block)):
        part = va[s:s + block]
        res = _empty_result(setup, part, stages, access, el, pan)
        for t in range(0, len(part), step):
            sl = slice(t, min(len(part), t + step))
            eng.run(part[sl], _Out(res, sl))
        yield res


# --------------------------------------------------------------------------- AT (PAR_EL1) in bulk


class BulkAT(NamedTuple):
    """What ``AT <op>`` leaves for every address (see :func:`bulk_at`)."""

    par: np.ndarray           #: uint64 PAR_EL1 values (0 where ``exception``)
    exception: np.ndarray     #: bool: the AT raises an exception instead of writing PAR_EL1
    result: BulkTranslation   #: the translations behind them
    regime: Regime
    stages: str               #: the stages the AT ran ("1" when stage 2 is off)


def bulk_at(setup_or_regs: TranslationSetup | Mapping[str, int], mem: Memory, op: Any, vas: Any, *,
            pan: bool | None = None, exec_el: int | None = None, chunk: int = CHUNK,
            reader: DescriptorReader | None = None) -> BulkAT:
    """``AT <op>`` for every address of ``vas``: the PAR_EL1 values :func:`pgwalk.at.at` gives.

    The regime, stages, PAN and exception rules are :func:`pgwalk.at.at`'s: a
    synchronous external abort on the walk (an address not in the image) raises
    an exception instead of writing PAR_EL1, and so does a stage 2 fault on the
    stage 1 walk with ``exec_el=1``; those lanes have ``exception`` set.  In the EL3
    regime PAR.NS needs NSTable along each successful walk: those lanes are walked again
    by the scalar walker (EL3 ATs gain nothing here).

    :param op: an :class:`~pgwalk.at.ATOp` or its name (``"S1E1R"``)
    :param pan: PSTATE.PAN; default from the PSTATE/CPSR (or PAN) register
    """
    from . import attrs as A

    if not isinstance(op, ATOp):
        op = parse_at_op(op)
    if isinstance(setup_or_regs, TranslationSetup):
        setup: TranslationSetup | None = setup_or_regs
        regs = setup_or_regs.registers
    else:
        regs, setup = setup_or_regs, None
    if exec_el is not None and (exec_el not in (1, 2, 3) or exec_el < op.regime_el
                                or (op.stages == "12" and exec_el < 2)):
        raise InputError(f"AT {op.name} is UNDEFINED at EL{exec_el}")
    regime = op.regime(regs) if regs else (setup.regime if setup else Regime.EL10)
    if setup is None or setup.regime is not regime:
        setup = setup_from_registers(regs, regime)
    if pan is None:
        pan = pstate_pan(regs)
    stages = op.stages if setup.s2 is not None and op.stages == "12" else "1"
    res = translate_many(setup, mem, vas, stages=stages, access=op.access, el=op.el,
                         pan=bool(op.pan and pan and regime.has_unprivileged), chunk=chunk, reader=reader)
    ok = res.ok
    exception = res.fault_type == _SEA
    if exec_el == 1:
        exception |= res.s1ptw & (res.fault_stage == 2)
    par = np.zeros(len(res), dtype=_U64)
    # faults: F, FST, PTW, S (ASL AArch64.EncodePAR)
    fl = np.nonzero(~ok & ~exception)[0]
    if len(fl):
        fst = res.fsc[fl].astype(_U64)
        par[fl] = (_U64(PAR_EL1_FAULT.encode(F=1, RES1_11=1)) | (fst << _U64(PAR_EL1_FAULT["FST"].lsb))
                   | (res.s1ptw[fl].astype(_U64) << _U64(PAR_EL1_FAULT["PTW"].lsb))
                   | ((res.fault_stage[fl] == 2).astype(_U64) << _U64(PAR_EL1_FAULT["S"].lsb)))
    good = np.nonzero(ok)[0]
    if len(good):
        # attributes: one scalar encoding per distinct attribute key
        keys = _attr_key(res)[good]
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        secure = regime is Regime.EL3
        heads = np.zeros(len(uniq), dtype=_U64)
        for k, i in enumerate(first.tolist()):
            attrs = res.translation(int(good[i])).attrs
            if attrs is None:
                from .errors import UnknownRegister

                name = {Regime.EL10: "MAIR_EL1", Regime.EL3: "MAIR_EL3"}.get(regime, "MAIR_EL2")
                raise UnknownRegister(name, int(res.va[good[i]]),
                                      f"PAR_EL1.ATTR is the {name} byte the leaf's AttrIndx selects; "
                                      f"give it with --reg {name}=VALUE", what="PAR_EL1 cannot be encoded")
            heads[k] = PAR_EL1_OK.encode(F=0, SH=A.par_shareability(attrs), NS=0 if secure else 1, NSE=1, PA=0,
                                         ATTR=A.encode_par_attrs(attrs, setup.features.xs))
        pa_field = PAR_EL1_OK["PA"]
        out = res.output[good]
        par[good] = heads[inv] | (((out >> _U64(pa_field.lsb)) & _U64(pa_field.wmask)) << _U64(pa_field.lsb))
        if secure:
            # PAR.NS of a Secure (EL3) translation follows NSTable along the walk and the leaf's NS
            # bit (pgwalk.at_ops.el3_ns), which the vectorised walk does not keep: the scalar walk
            from .walk import translate

            ns = _U64(PAR_EL1_OK["NS"].mask)
            for i in good.tolist():
                t = translate(setup, mem, int(res.va[i]), stages=stages, access=op.access, el=op.el, pan=res.pan)
                if el3_ns(t):
                    par[i] |= ns
    return BulkAT(par, exception, res, regime, stages)


# --------------------------------------------------------------------------- template keys

# A lane's attributes and permissions (bulk_at's PAR heads) are fixed by: the mapping size,
# the stage 1 leaf's attribute and permission inputs, the stage 2 leaf's; packed into one
# integer (_attr_key); its fault by _fault_key.
_FK_LEVEL = (len(FAULT_TYPES) - 1).bit_length()          # after the fault type
_FK_STAGE = _FK_LEVEL + 3                                 # fault level + 2 is 0..5
_FK_S1PTW = _FK_STAGE + 2
_FK_NII = _FK_S1PTW + 1
_K_FAULT_BITS = _FK_NII + 1
_K_SIZE_BITS = 6                                          # log2 of the mapping size < 64
_KS1_ATTR = _S1_CODE_BITS                                 # s1 key: permission code, AttrIndx, range, SH
_KS1_RANGE = _KS1_ATTR + _ATTRINDX.width
_KS1_SH = _KS1_RANGE + 1
_K_S1_BITS = _KS1_SH + _SH.width
_KS2_MEMATTR = _PC2_BITS                                  # s2 key: permission code, MemAttr, FnXS, SH
_KS2_FNXS = _KS2_MEMATTR + _MEMATTR.width
_KS2_SH = _KS2_FNXS + _FNXS.width
_K_S2_BITS = _KS2_SH + _S2SH.width
_K_SIZE = _K_FAULT_BITS
_K_S1 = _K_SIZE + _K_SIZE_BITS
_K_S2 = _K_S1 + _K_S1_BITS
_K_BITS = _K_S2 + _K_S2_BITS
_HEX_DIGITS = 16
_ND_BITS = 5                                  # digit counts 0..16
_SLOTS = 4                                    # va, ipa, pa, fault ipa
assert _K_BITS + _SLOTS * _ND_BITS <= 64


def _fault_key(res: BulkTranslation, lanes: np.ndarray | slice = slice(None)) -> np.ndarray:
    k = res.fault_type[lanes].astype(_U64)
    k |= (res.fault_level[lanes].astype(np.int16) + _LEVEL_BIAS).astype(_U64) << _U64(_FK_LEVEL)
    k |= res.fault_stage[lanes].astype(_U64) << _U64(_FK_STAGE)
    k |= res.s1ptw[lanes].astype(_U64) << _U64(_FK_S1PTW)
    k |= res.not_in_image[lanes].astype(_U64) << _U64(_FK_NII)
    return k


def _attr_key(res: BulkTranslation) -> np.ndarray:
    """Everything the attributes, permissions and size of a successful lane depend on."""
    setup = res.setup
    n = len(res)
    key = np.zeros(n, dtype=_U64)
    has1 = res.has_s1
    if has1.any():
        raw = res.s1_desc
        s1 = _s1_perm_code(raw, res.s1_table_bits).astype(_U64)
        s1 |= _get(_ATTRINDX, raw) << _U64(_KS1_ATTR)
        if len(setup.ranges) > 1:
            s1 |= ((res.va >> _U64(_VA_RANGE_BIT)) & _U64(1)) << _U64(_KS1_RANGE)
        ds = any(p.ds for p in setup.ranges)
        if not ds:                                    # with DS the shareability is TCR's
            s1 |= _get(_SH, raw) << _U64(_KS1_SH)
        key |= np.where(has1, s1, _U64(0)) << _U64(_K_S1)
    if setup.s2 is not None:
        has2 = res.has_s2
        if has2.any():
            raw = res.s2_desc
            s2 = _s2_perm_code(raw).astype(_U64)
            s2 |= _get(_MEMATTR, raw) << _U64(_KS2_MEMATTR)
            s2 |= _get(_FNXS, raw) << _U64(_KS2_FNXS)
            if not setup.s2.ds:
                s2 |= _get(_S2SH, raw) << _U64(_KS2_SH)
            key |= np.where(has2, s2, _U64(0)) << _U64(_K_S2)
    key |= res.size_shift.astype(_U64) << _U64(_K_SIZE)
    return key


# A lane's output line is fixed, but for its addresses, by its fault or else by the bits of its
# leaves that attributes, permissions and size come from.  _line_key packs a refinement of
# that (raw descriptor fields: lanes it tells apart may still print alike, never the reverse):
# bit 0 = translated; then, translated: the stage 1 leaf's descriptor bits [9:2] (AttrIndx, NS,
# AP, SH) and [54:51] (DBM, Contiguous, PXN, UXN), s1_table_bits, s1_shift, VA[55] with two
# VA ranges, the stage 2 leaf's bits [11:2] (MemAttr, S2AP, SH, AF, FnXS) and [54:51], s2_shift;
# faulted: the fault key (_fault_key).
_LK_S1 = ((2, 8), (51, 4))                  # (lsb, width) of the descriptor pieces kept
_LK_S2_PIECES = ((2, 10), (51, 4))
_LK_S1_BITS = 8 + 4
_LK_TB = _LK_S1_BITS
_LK_S1_SHIFT = _LK_TB + _TB_BITS
_LK_RANGE = _LK_S1_SHIFT + _K_SIZE_BITS
_LK_S2 = _LK_RANGE + 1
_LK_S2_SHIFT = _LK_S2 + sum(w for _l, w in _LK_S2_PIECES)
_LK_BITS = 1 + _LK_S2_SHIFT + _K_SIZE_BITS          # with bit 0
assert _LK_BITS + _SLOTS * _ND_BITS <= 64 and _K_FAULT_BITS < _LK_BITS
assert sum(w for _l, w in _LK_S1) == _LK_S1_BITS and _TB_BITS == 4


def _desc_bits(raw: np.ndarray, pieces: tuple[tuple[int, int], ...]) -> np.ndarray:
    out = None
    at = 0
    for lsb, width in pieces:
        part = (raw >> _U64(lsb)) & _U64(_ones(width))
        out = part if out is None else out | (part << _U64(at))
        at += width
    assert out is not None
    return out


def _line_key(res: BulkTranslation) -> np.ndarray:
    """Lanes with equal keys print the same line but for their addresses (see above)."""
    key = _desc_bits(res.s1_desc, _LK_S1)
    key |= res.s1_table_bits.astype(_U64) << _U64(_LK_TB)
    key |= res.s1_shift.astype(_U64) << _U64(_LK_S1_SHIFT)
    if len(res.setup.ranges) > 1:
        key |= ((res.va >> _U64(_VA_RANGE_BIT)) & _U64(1)) << _U64(_LK_RANGE)
    if res.setup.s2 is not None and res.stages != "1":
        key |= _desc_bits(res.s2_desc, _LK_S2_PIECES) << _U64(_LK_S2)
        key |= res.s2_shift.astype(_U64) << _U64(_LK_S2_SHIFT)
    key <<= _U64(1)
    key |= _U64(1)
    bad = np.flatnonzero(res.fault_type)
    if len(bad):
        key[bad] = _fault_key(res, bad) << _U64(1)
    return key


# --------------------------------------------------------------------------- output lines

_MARK = "\x00pgwalk-slot-{}\x00"


#: more distinct line layouts than this in a block are grouped by sorting
_FEW_LAYOUTS = 16


_HEX4: np.ndarray | None = None


def _hex4() -> np.ndarray:
    """65536 uint32: the four lowercase hex digits of every 16-bit value, in text order."""
    global _HEX4
    if _HEX4 is None:
        chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
        nibbles = (np.arange(1 << 16, dtype=np.uint32)[:, None] >> np.array([12, 8, 4, 0], dtype=np.uint32)) & 15
        _HEX4 = np.ascontiguousarray(chars[nibbles]).view(np.uint32).ravel()
    return _HEX4


def _hex_digits(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 16) lowercase hex digits (most significant first) and the number of digits ``%x`` prints."""
    groups = v.astype(">u8").view(">u2").reshape(-1, 4)       # 16-bit groups, most significant first
    digits = _hex4().take(groups.astype(np.intp)).view(np.uint8).reshape(-1, _HEX_DIGITS)
    return digits, _hex_widths(v)


def _digit_view(digits: np.ndarray, nd: int) -> np.ndarray:
    """The last ``nd`` digits of every row of an (n, 16) digit matrix, one void scalar per row."""
    return np.ndarray(shape=(len(digits),), dtype=_void(nd), buffer=digits, offset=_HEX_DIGITS - nd,
                      strides=(_HEX_DIGITS,))


def _hex_widths(v: np.ndarray) -> np.ndarray:
    """The number of digits ``%x`` prints for every value (1 for 0): from the bit length, which
    ``frexp`` gives exactly for each 32-bit half (a float64 holds it without rounding)."""
    hi = np.frexp((v >> _U64(32)).astype(np.float64))[1]
    lo = np.frexp((v & _U64(0xFFFF_FFFF)).astype(np.float64))[1]
    bits = np.where(hi > 0, hi + 32, lo)
    return np.maximum((bits + 3) >> 2, 1)


class LineFormatter:
    """Bulk results as ``--json`` lines or ``--csv`` rows, built without a Python loop per lane.

    Lines that differ only in their addresses share a template: the text of a
    representative lane (:meth:`BulkTranslation.to_dict`, so every line is exactly
    what the scalar path prints for that lane, less the keys bulk lines omit) with
    slots for the VA, IPA, PA and fault IPA (:func:`_line_key` tells the templates
    apart).  A template and the digit counts of its slots make a layout: a row of
    constant bytes with the digit columns.  Each line of a block is placed at its offset
    in one output buffer by a single ``memcpy``-like copy of its layout's row (a void
    scalar per line), then each slot's digits by another (hex digits come from a table
    of four digits per 16 bits).  With ``buffers=2`` the output buffers take turns, so
    that one block can be written (:class:`BackgroundWriter`) while the next is formatted.
    """

    def __init__(self, fmt: str, *, buffers: int = 1,
                 text_line: Callable[[dict[str, Any]], str] | None = None) -> None:
        if fmt not in ("json", "csv", "text") or (fmt == "text") != (text_line is not None):
            raise ValueError(f"unknown format {fmt!r} (text takes text_line, the line of one result dict)")
        self.fmt = fmt
        # "text": the plain result line of each lane, text_line(to_dict(i)) (the view layer's
        # statement of the line, passed in: this layer does not import views)
        self._text_line = text_line
        self._templates: dict[tuple, list[tuple[bytes, int]]] = {}
        self._layouts: dict[tuple[int, int], tuple] = {}
        self._bufs: list[np.ndarray | None] = [None] * max(1, buffers)
        self._turn = 0
        self._prefix, self._suffix = (b'"0x', b'"') if fmt == "json" else (b"0x", b"")

    def header(self) -> bytes:
        return csv_line(CSV_COLUMNS).encode() if self.fmt == "csv" else b""

    def _template(self, res: BulkTranslation, i: int) -> list[tuple[bytes, int]]:
        """Pieces of lane ``i``'s line: (text before the slot, slot number or -1 at the end)."""
        d = res.to_dict(i)
        # a two-stage text line leaves out an IPA equal to the VA: keep that equality (chunks
        # gives such lanes a layout of their own)
        ipa_is_va = self.fmt == "text" and res.stages == "12" and d["ipa"] == d["va"]
        d["va"] = _MARK.format(0)
        if d["ipa"] is not None:
            d["ipa"] = d["va"] if ipa_is_va else _MARK.format(1)
        if d["pa"] is not None:
            d["pa"] = _MARK.format(2)
        if d["fault"] is not None and d["fault"]["ipa"] is not None:
            d["fault"]["ipa"] = _MARK.format(3)
        if self.fmt == "json":
            text = json.dumps(d) + "\n"
            marks = [(json.dumps(_MARK.format(k)), k) for k in range(_SLOTS)]
        elif self.fmt == "text":
            text = self._text_line(d) + "\n"
            marks = [(_MARK.format(k), k) for k in range(_SLOTS)]
        else:
            text = csv_line(csv_row(d))
            marks = [(_MARK.format(k), k) for k in range(_SLOTS)]
        pieces: list[tuple[bytes, int]] = []
        while True:
            found = [(text.find(m), len(m), k) for m, k in marks if m in text]
            if not found:
                pieces.append((text.encode(), -1))
                return pieces
            at, length, k = min(found)
            pieces.append((text[:at].encode(), k))
            text = text[at + length:]

    def _layout(self, pieces: list[tuple[bytes, int]], nds: Sequence[int]) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        row = bytearray()
        slots = []
        for text, k in pieces:
            row += text
            if k >= 0:
                row += self._prefix
                slots.append((k, len(row), nds[k]))
                row += bytes(nds[k]) + self._suffix
        return np.frombuffer(bytes(row), dtype=np.uint8), slots

    def _buffer(self, size: int) -> np.ndarray:
        """This call's output buffer: the buffers take turns, each reused from block to block
        (fresh pages are slow to fault in)."""
        i = self._turn
        self._turn = (i + 1) % len(self._bufs)
        buf = self._bufs[i]
        if buf is None or len(buf) < size:
            buf = self._bufs[i] = np.empty(max(size, 2 * len(buf) if buf is not None else size), dtype=np.uint8)
        return buf

    def chunks(self, res: BulkTranslation) -> list[Any]:
        """The lines of every lane, in order, as buffers to write (valid until the buffers' next turn)."""
        n = len(res)
        if not n:
            return []
        values = (res.va, res.ipa, res.pa, res.fault_ipa)
        key = _line_key(res)
        digits: list[np.ndarray | None] = [None] * _SLOTS
        done: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in range(_SLOTS):
            if k == 0:
                shown = None
            elif k == 3:
                shown = (res.fault_stage == 2) & ~res.ok
                if not shown.any():
                    continue
            else:
                shown = res.has_ipa if k == 1 else res.has_pa
                if k == 1 and self.fmt == "text" and res.stages == "12":   # (see _template)
                    shown = shown & (res.ipa != res.va)
            if id(values[k]) not in done:              # pa is ipa without stage 2
                done[id(values[k])] = _hex_digits(values[k])
            dg, nd = done[id(values[k])]
            digits[k] = dg
            if shown is not None and not shown.all():
                nd = nd * shown
            key |= nd.astype(_U64) << _U64(_LK_BITS + k * _ND_BITS)
        # the distinct layouts (template and digit counts; and the contents flag, which has no
        # room in the key: lanes are told apart by (key, flag) pairs)
        var = res.contents_variant()
        if var is None or not var.any():
            uniq = np.unique(key, return_counts=True)[0]
            pairs = [(u, 0) for u in uniq.tolist()]
            var = None
        else:
            kuniq, kinv = np.unique(key, return_inverse=True)
            cuniq, pinv = np.unique(kinv.astype(np.int64) * 3 + var, return_inverse=True)
            pairs = [(int(kuniq[c // 3]), c % 3) for c in cuniq.tolist()]
        layouts = [self._layout_of(u, res, key, v, var) for u, v in pairs]
        if len(layouts) == 1:
            # every line has the same layout: the block is a (lines, width) matrix
            row, slots = layouts[0][:2]
            width = len(row)
            buf = self._buffer(n * width)
            m = buf[:n * width].reshape(n, width)
            m[:] = row
            for k, col, nd in slots:
                m[:, col:col + nd] = digits[k][:, _HEX_DIGITS - nd:]
            return [buf[:n * width]]
        inv = np.searchsorted(uniq, key) if var is None else pinv.reshape(-1)   # each lane's layout
        width_of = np.array([len(lay[0]) for lay in layouts], dtype=np.intp)[inv]
        ends = np.cumsum(width_of)
        total = int(ends[-1])
        buf = self._buffer(total + _HEX_DIGITS)           # digits of lanes without a slot go past the end
        starts = ends - width_of
        # each layout's constant text: one void scalar copy per line
        if len(layouts) <= _FEW_LAYOUTS:
            groups: Iterable[np.ndarray] = (np.flatnonzero(inv == j) for j in range(len(layouts)))
        else:
            order = np.argsort(inv, kind="stable")
            bounds = np.cumsum(np.bincount(inv, minlength=len(layouts))).tolist()
            groups = (order[a:b] for a, b in zip([0] + bounds[:-1], bounds))
        for (row, _slots, void_row, _cols), rows in zip(layouts, groups):
            _void_rows(buf, len(row))[starts[rows]] = void_row
        # then each address slot's digits, one void scalar copy per line and digit count
        for k in range(_SLOTS):
            if digits[k] is None:
                continue
            cols = np.array([lay[3][k] for lay in layouts], dtype=np.intp)      # (column, digits) or -1
            col, nds = cols[:, 0], cols[:, 1]
            for nd in sorted(set(nds[col >= 0].tolist())):
                at = starts + col[inv]
                if not ((nds == nd) | (col < 0)).all():
                    at[(nds != nd)[inv]] = total          # lanes with other counts: written apart
                elif (col < 0).any():
                    at[(col < 0)[inv]] = total            # lanes without the slot: past the end
                _void_rows(buf, nd)[at] = _digit_view(digits[k], nd)
        return [buf[:total]]

    def _layout_of(self, u: int, res: BulkTranslation, key: np.ndarray, v: int = 0,
                   var: np.ndarray | None = None) -> tuple:
        """The line layout of key ``u`` and contents variant ``v`` (a lane of ``key``/``var``
        has them): the row of constant text, its slots ``(slot, column, digits)``, the row as
        one void scalar, and per slot ``(column, digits)`` (``(-1, 0)`` without)."""
        layout = self._layouts.get((u, v))
        if layout is None:
            tkey: tuple = (u & _ones(_LK_BITS), v)
            if self.fmt == "text":                      # with or without the IPA (see _template)
                tkey += ((u >> (_LK_BITS + _ND_BITS)) & _ones(_ND_BITS) == 0,)
            pieces = self._templates.get(tkey)
            if pieces is None:
                match = key == _U64(u)
                if var is not None:
                    match &= var == v
                pieces = self._templates[tkey] = self._template(res, int(np.argmax(match)))
            nds = [(u >> (_LK_BITS + k * _ND_BITS)) & _ones(_ND_BITS) for k in range(_SLOTS)]
            row, slots = self._layout(pieces, nds)
            per_slot = [(-1, 0)] * _SLOTS
            for k, col, nd in slots:
                per_slot[k] = (col, nd)
            layout = self._layouts[(u, v)] = (row, slots, row.view(_void(len(row)))[0], per_slot)
        return layout

    def format(self, res: BulkTranslation) -> bytes:
        """The lines of every lane, in order."""
        return b"".join(bytes(c) if isinstance(c, np.ndarray) else c for c in self.chunks(res))

    def write(self, res: BulkTranslation, stream: Any) -> None:
        """Write the lines of every lane to a binary stream (``writev`` on a file descriptor)."""
        parts = [memoryview(p).cast("B") for p in self.chunks(res)]
        fd = _fileno(stream)
        if fd is None:
            for part in parts:
                stream.write(part)
            return
        stream.flush()
        write_all(fd, parts)


def write_all(fd: int, parts: Sequence[Any]) -> None:
    """Write every buffer of ``parts`` to file descriptor ``fd`` (``writev``, partial writes resumed)."""
    parts = [memoryview(p).cast("B") for p in parts]
    for i in range(0, len(parts), _IOV_MAX):
        batch = parts[i:i + _IOV_MAX]
        while batch:
            done = os.writev(fd, batch)
            while batch and done >= len(batch[0]):       # drop what was written
                done -= len(batch[0])
                batch.pop(0)
            if batch and done:
                batch[0] = batch[0][done:]


class BackgroundWriter:
    """Writes blocks to a file descriptor on a thread of its own, one block at a time, so that
    the next block is walked and formatted while the last one is written.

    :meth:`submit` waits for the previous block's write to finish before starting this one:
    with a :class:`LineFormatter` of two ``buffers``, a buffer is formatted again only after
    the write of its previous contents is complete.  A write error (``BrokenPipeError``...)
    is raised by the next :meth:`submit` or by :meth:`close`.
    """

    def __init__(self, fd: int) -> None:
        import threading

        self.fd = fd
        self._parts: Sequence[Any] | None = None
        self._error: BaseException | None = None
        self._go = threading.Semaphore(0)
        self._idle = threading.Semaphore(1)
        self._thread = threading.Thread(target=self._run, name="pgwalk-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            parts = self._parts
            if parts is None:
                return
            try:
                if self._error is None:
                    write_all(self.fd, parts)
            except BaseException as exc:          # handed to the caller's thread
                self._error = exc
            self._parts = ()
            self._idle.release()

    def _raise(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def submit(self, parts: Sequence[Any]) -> None:
        """Write ``parts`` (after the previous block), without waiting for it."""
        self._idle.acquire()
        try:
            self._raise()
        except BaseException:
            self._idle.release()
            raise
        self._parts = parts
        self._go.release()

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the last write and stop the thread; raises a write error not yet raised.

        With ``raise_error`` false the caller is raising something else (Ctrl-C, a closed
        pipe, an error): a write still under way is not waited for (the reader of a pipe may
        have stopped reading; the thread is a daemon and ends with the process), an idle
        thread is stopped.
        """
        if self._thread.is_alive():
            if not self._idle.acquire(blocking=raise_error):
                return
            self._parts = None
            self._go.release()
            if raise_error:
                self._thread.join()
        if raise_error:
            self._raise()


_IOV_MAX = 1024


def _fileno(stream: Any) -> int | None:
    """The file descriptor behind a binary stream, when ``os.writev`` can write to it."""
    if not hasattr(os, "writev"):
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


#: bytes of whole lines parsed together by :func:`parse_address_text`
_PARSE_PIECE = 1 << 17


def _hex_nibbles(text: np.ndarray) -> np.ndarray | None:
    """The values of hex digit characters (uint8 array), or ``None`` if any is not a hex digit."""
    letter = (text | 0x20) - np.uint8(ord("a"))                # 0..5 for a-f / A-F (uint8 wraps)
    digit = text - np.uint8(ord("0"))                          # 0..9 for 0-9
    if not np.logical_or(digit < 10, letter < 6).all():
        return None
    # '0'-'9' are 0x30-0x39 and 'a'-'f' / 'A'-'F' are 0x61-0x66 / 0x41-0x46
    nib = text & np.uint8(0x0F)
    nib += (text >> 6) * np.uint8(9)
    return nib


def _void_rows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of ``buf`` as one void scalar (window ``i`` starts at byte ``i``):
    gathering rows from it copies each row with one ``memcpy`` (unlike a 2-D uint8 view)."""
    return np.ndarray(shape=(max(0, len(buf) - width + 1),), dtype=_void(width), buffer=buf, strides=(1,))


@functools.lru_cache(maxsize=None)
def _void(width: int) -> np.dtype:
    return np.dtype((np.void, width))


def parse_address_text(data: bytes) -> np.ndarray | None:
    """Addresses of a batch file whose every line is 1-16 hex digits, each with or without
    ``0x`` (:func:`pgwalk.values.parse_value`'s grammar, the common machine-made case), vectorised.

    Returns ``None`` for anything else (comments, blank lines, spaces, underscores, leading
    zeros past 16 digits, a character that is not an ASCII hex digit): the caller then parses
    line by line with :func:`pgwalk.values.parse_value`, with line numbers in its errors.  Where
    this returns an array, ``parse_value`` gives the same value for every line.
    """
    if not data:
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    # a piece of whole lines at a time: the temporaries stay small (and in cache)
    pieces = []
    pos = 0
    while pos < len(data):
        stop = data.rfind(b"\n", pos, pos + _PARSE_PIECE) + 1 or data.find(b"\n", pos) + 1
        got = _parse_lines(buf[pos:stop])
        if got is None:
            return None
        pieces.append(got)
        pos = stop
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _parse_lines(buf: np.ndarray) -> np.ndarray | None:
    """:func:`parse_address_text` of whole lines (``buf`` ends with a newline)."""
    ends = np.flatnonzero(buf == ord("\n"))
    if ends[0] == 0:
        return None                                             # a blank first line
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    ends -= buf[ends - 1] == ord("\r")
    # the optional "0x" of each line (a line of one character reads its newline as its second)
    second = buf[np.minimum(starts + 1, len(buf) - 1)]         # (an empty last line has none)
    prefixed = (buf[starts] == ord("0")) & ((second | 0x20) == ord("x"))
    starts += prefixed * 2
    nd = ends - starts                                           # hex digits per line
    lo, hi = int(nd.min()), int(nd.max())
    if lo < 1 or hi > _HEX_DIGITS:
        return None
    out = np.empty(len(ends), dtype=_U64)
    for width in ([lo] if lo == hi else np.flatnonzero(np.bincount(nd)).tolist()):
        rows: slice | np.ndarray = slice(None) if lo == hi else np.flatnonzero(nd == width)
        # the digits of those lines as a contiguous (lines, width) matrix
        nib = _hex_nibbles(_void_rows(buf, width)[starts[rows]].view(np.uint8).reshape(-1, width))
        if nib is None:
            return None
        if width % 2:
            nib = np.concatenate([np.zeros((len(nib), 1), dtype=np.uint8), nib], axis=1)
        # two nibbles (little-endian uint16: the first, high nibble, in the low byte) -> one byte
        pairs = nib.view("<u2")
        full = np.zeros((len(nib), 8), dtype=np.uint8)          # big-endian bytes
        full[:, 8 - pairs.shape[1]:] = (pairs << 4) | (pairs >> 8)
        out[rows] = full.view(">u8").ravel()
    return out
