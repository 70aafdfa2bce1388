"""Vectorised translation of many addresses at once (Arm ARM DDI 0487 M.a.a; the same ASL
steps as :mod:`pgwalk.walk`: ``AArch64.S1Translate``, ``S1Walk``, ``S2Translate``, ``S2Walk``).

:func:`translate_many` walks an array of input addresses through one
:class:`~pgwalk.params.TranslationSetup` *level by level*, in chunks of :data:`CHUNK`
lanes.  Above the final level the walk works per *descriptor* (:class:`_Tree`): the
addresses of a batch share their upper-level descriptors, so each one is read and judged
once per call and a lane only looks up the entry its address selects.  At the final level
every lane computes its descriptor address, all those descriptors are gathered at once
from the memory image (numpy fancy indexing into the memory-mapped file) and classified
with :func:`pgwalk.rules.decode_descriptor_type` tables.  A lane whose walk ends early (a
leaf or a fault) has its outcome noted and stands in for a lane that goes on, so the
arrays keep every lane in order.  No Python code runs per address.  Every lane gets
exactly what :func:`pgwalk.walk.translate` returns for that address -- the same output
address, the same fault (type, level, stage, S1PTW, IPA), the same leaves -- except the
trace (``steps``) and the fault's free-text ``reason``; ``tests/test_bulk.py`` checks
this lane by lane over random trees.

This module is a *driver* over the rule kernel (:mod:`pgwalk.rules`) and states no
rule of its own: every step is a rules function called on arrays (``table_index``,
``descriptor_address``, ``decode_descriptor_type``, ``next_table_base``, ``leaf_base``,
``stage_oa``, ``table_attr_bits``, ...), and the checks that stop a walk are rules'
ordered data, iterated over the lanes in their order, each check seeing only the lanes
no earlier check stopped: :data:`~pgwalk.rules.S1_SETUP_CHECKS` /
:data:`~pgwalk.rules.S2_SETUP_CHECKS` before the walk, then at every level the
descriptor read and its type, :data:`~pgwalk.rules.TABLE_CHECKS` after a table
descriptor, and :data:`~pgwalk.rules.LEAF_CHECKS` (:data:`~pgwalk.rules.S2_WALK_LEAF_CHECKS`
for the stage 2 leaf of a stage 1 table fetch) after a leaf, whose permission judge looks
the leaf's permission code up in a table that rules builds from :mod:`pgwalk.perms`.
With two stages every stage 1 descriptor fetch of the EL1&0 regime
(:func:`pgwalk.rules.s1_walk_through_s2`) goes through a vectorised stage 2 walk of the
descriptor IPAs (S1PTW faults).

Built on it: AT for many addresses (:mod:`pgwalk.at_many`), the bulk ``--json`` /
``--csv`` / text lines (:mod:`pgwalk.lines`).

VMSAv9-128 (FEAT_D128: a stage with 16-byte descriptors) is not vectorised: for a setup with such a
stage (:attr:`pgwalk.params.TranslationSetup.d128_controls`) every call takes the per-address
engine, :func:`pgwalk.walk.translate` for each address, its outcome packed into the same
:class:`BulkTranslation` arrays (:func:`pack_translations`; the descriptors' bits [127:64] in
``s1_desc_hi`` / ``s2_desc_hi``), so every consumer reads it as it reads a vectorised result.
:func:`per_address_note` says so in one line.

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
(leaves included, ``steps`` empty).  :data:`pgwalk.report.CSV_COLUMNS` are the ``--csv`` columns.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from . import rules as R
from .errors import UnknownRegister
from .faults import Fault, FaultType, encode_ld_fsc
from .formats import descriptors as D
from .memory_protocol import capability, read_many
from .params import FINAL_LEVEL, S1WalkParams, S2WalkParams, TranslationSetup, oa_out_of_range
from .perms import PERM_FAULT_KINDS, Access, PermFault
from .records import named_tuple, record
from .report import TRACE_KEYS, drop_trace, translation_to_dict
from .rules import DescType
from .walk import AFUpdate, Leaf, Memory, Translation, s1_disabled_attributes, s1_leaf, s2_leaf, stage2_attributes, \
    translate

__all__ = [
    "FAULT_TYPES", "CHUNK", "DescriptorReader", "BulkTranslation", "translate_many", "iter_translate",
    "mark_contents", "bulk_line_dict", "BULK_DROPPED", "pack_translations", "per_address_note",
]

#: ``fault_type`` code -> fault kind (0: no fault)
FAULT_TYPES: tuple[FaultType | None, ...] = (
    None, FaultType.TRANSLATION, FaultType.ADDRESS_SIZE, FaultType.ACCESS_FLAG, FaultType.PERMISSION,
    FaultType.SYNC_EXTERNAL_ON_WALK,
)
_CODE = {t: i for i, t in enumerate(FAULT_TYPES) if t is not None}
_TRANSLATION = _CODE[FaultType.TRANSLATION]
_SEA = _CODE[FaultType.SYNC_EXTERNAL_ON_WALK]

#: lanes walked together (bounded temporaries; results are written per chunk)
CHUNK = 1 << 16
#: lanes of the first chunk of a batch of several: it meets the tables cold (no lane is recalled,
#: _Tree.recall), and a small one leaves the next chunk only the addresses it did not see
FIRST_CHUNK = 1 << 11
#: a chunk's lanes not recalled (_Tree.recall) are walked with those of later chunks when there
#: are fewer than this many (a walk of a few lanes costs about as much as one of a few hundred)
LATER_BELOW = 512
#: ... and once this many are pending they are walked, which teaches the tree their entries
#: (the chunks after them miss fewer lanes)
LATER_FLUSH = 2048

_U64 = np.uint64
_LEVEL_BIAS = 2                       # fault levels are -2..3: index = level + 2
_MIN_LEVEL = -_LEVEL_BIAS

_DESC_SHIFT = 3               # descriptors are 8 bytes: PA >> 3 = word index in a region's view
assert 1 << _DESC_SHIFT == R.DESCRIPTOR_BYTES

# DescType codes (rules.decode_descriptor_type on arrays) -> what the walk does with the lane;
# one more code marks a descriptor that could not be read
_DT_MISSING = len(DescType)
_DT_FAULTS = np.array([DescType(c).faults for c in range(len(DescType))] + [False])
_DT_LEAF = np.array([DescType(c).is_leaf for c in range(len(DescType))] + [False])


def _ones(bits: int) -> int:
    return (1 << bits) - 1


# A walk's state, ORed over its descriptors per lane (``_Walk.tbl``, ``_Tree`` column ``tbl``; the
# ASL's TTWState as far as the vectorised walk needs it): bits [3:0] the table descriptors'
# rules.table_attr_bits; _ST_AF + level + 2: FEAT_HAFT, that level's table descriptor gets AF set
# (rules.table_af_update); _ST_NA: FEAT_THE, the stage 1 walk is no longer Assured
# (rules.s1_assured_step); _ST_NMRO + level + 2: the stage 2 leaf of the stage 1 fetch at that level
# is not MostlyReadOnly; _ST_PTW + 5 * (level + 2) + (s2 level + 2): the stage 2 walk of the stage 1
# fetch at that level sets AF in that stage 2 table descriptor (FEAT_HAFT); the 3 bits at
# _ST_LEAF + 3 * (level + 2): the stage 2 leaf of the stage 1 fetch at that level gets AF set (HA,
# rules.leaf_af_update), as its level + 3 (0: no update).
_TB_MASK = _ones(R.TABLE_ATTR_BITS)
_ST_AF, _ST_NA, _ST_NMRO, _ST_PTW, _ST_LEAF = 4, 9, 10, 16, 46
_LEVELS = FINAL_LEVEL + _LEVEL_BIAS + 1          # levels -2..3
_TABLE_LEVELS = _LEVELS - 1                      # a table is never at the final level
_LEAF_BITS = 3                                   # a leaf level + 3 (1..6), 0: none
assert R.TABLE_ATTR_BITS <= _ST_AF and _ST_AF + _TABLE_LEVELS <= _ST_NA and _ST_NMRO + _LEVELS <= _ST_PTW
assert _ST_PTW + _LEVELS * _TABLE_LEVELS <= _ST_LEAF and _ST_LEAF + _LEVELS * _LEAF_BITS <= 64


# BulkTranslation.table_af: bit level + 2, a stage 1 table; _AF_S2 + level + 2, a stage 2 table of the
# translation's own stage 2 walk; _AF_PTW + 5 * (level + 2) + (s2 level + 2), a stage 2 table of the
# stage 2 walk of the stage 1 fetch at that level; the 3 bits at _AF_LEAF + 3 * (level + 2), the stage 2
# leaf of the stage 1 fetch at that level (HA), as its level + 3 (0: none)
_AF_S2, _AF_PTW, _AF_LEAF = 8, 16, 46
assert _AF_PTW + _LEVELS * _TABLE_LEVELS <= _AF_LEAF and _AF_LEAF + _LEVELS * _LEAF_BITS <= 64


def _own_table_af(tbl: np.ndarray) -> np.ndarray:
    """The walk's own FEAT_HAFT table updates in its state ``tbl``: bit ``level + 2`` per lane."""
    return (tbl >> _U64(_ST_AF)) & _U64(_ones(_TABLE_LEVELS))


def _table_af(tbl: np.ndarray) -> np.ndarray:
    """:attr:`BulkTranslation.table_af` bits of a stage 1 walk's state (its own and its fetches' updates)."""
    return _own_table_af(tbl) | (((tbl >> _U64(_ST_PTW)) & _U64(_ones(_LEVELS * _TABLE_LEVELS))) << _U64(_AF_PTW)) \
        | (((tbl >> _U64(_ST_LEAF)) & _U64(_ones(_LEVELS * _LEAF_BITS))) << _U64(_AF_LEAF))


def _table_state(st: "_Stage", raw: np.ndarray, level: int, tbl: np.ndarray, hpd: bool) -> np.ndarray:
    """The walk-state bits a table descriptor ``raw`` at ``level`` adds (lanes whose state so far is
    ``tbl``): :func:`pgwalk.rules.table_attr_bits`, the FEAT_HAFT update
    (:func:`pgwalk.rules.table_af_update`) and, with TCR2_ELx.PnCH, whether the walk is still
    Assured (:func:`pgwalk.rules.s1_assured_step`: ASL ``AArch64.S1NextWalkStateTable``) when the
    stage tracks it (:attr:`_Stage.assured`)."""
    p = st.params
    out = R.table_attr_bits(raw, hpd)
    if p.haft:
        out = out | (R.table_af_update(raw, p.haft).astype(_U64) << _U64(_ST_AF + level + _LEVEL_BIAS))
    if st.assured:
        out = out | (~_assured_step(tbl, level, raw, p.pnch)).astype(_U64) << _U64(_ST_NA)
    return out


def _assured_step(tbl: np.ndarray, level: np.ndarray | int, raw: np.ndarray, pnch: bool) -> np.ndarray:
    """:func:`pgwalk.rules.s1_assured_step` of every lane at its descriptor ``raw`` of ``level``, from
    its walk state ``tbl`` (Assured so far, :func:`_assured_so_far`, and the MRO of that
    descriptor's fetch)."""
    mro_shift = (np.asarray(level, dtype=np.int64) + (_ST_NMRO + _LEVEL_BIAS)).astype(_U64)
    return R.s1_assured_step(_assured_so_far(tbl), (tbl >> mro_shift) & _U64(1) == 0, raw, pnch)


def _assured_so_far(tbl: np.ndarray) -> np.ndarray:
    """Per lane, the Assured property of a walk that started Assured (a stage whose
    :attr:`_Stage.assured` is set: :func:`pgwalk.rules.s1_initial_assured`) after the descriptors
    its state ``tbl`` holds (ASL ``walkstate.s1assured``)."""
    return (tbl >> _U64(_ST_NA)) & _U64(1) == 0


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
        #: per region: (8-byte words, PA of word 0, number of words), "zero", or None (read_u64)
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
                        # 8-byte voids, not uint64: a region's bytes need not be 8-aligned in memory
                        # (an ELF segment at an odd file offset), and numpy gathers unaligned
                        # uint64 element by element, several times slower (_gather)
                        words = u8[skip:skip + 8 * nwords].view("V8")
                        entry = (words, r.base + skip, nwords)
            self._views.append(entry)
        self._regions = regions
        self._single = self._views[0] if len(regions) == 1 and isinstance(self._views[0], tuple) else None

    def read(self, pa: np.ndarray, big_endian: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """``(values, present)`` for every address; ``present`` is ``None`` when all are present."""
        if self._single is not None:
            words, first, nwords = self._single
            w = pa - _U64(first)
            w >>= _U64(_DESC_SHIFT)
            try:
                # below ``first`` the difference wraps to at most 2**61: an index error too
                val = _gather(words, w.view(np.intp))
            except IndexError:
                pass
            else:
                return (val.byteswap() if big_endian else val), None
            inside = w < _U64(nwords)
            val = np.zeros(len(pa), dtype=_U64)
            val[inside] = _gather(words, w[inside].view(np.intp))
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
                    val[sel[ok]] = _gather(words, w[ok].view(np.intp))
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


def _gather(words: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The little-endian 64-bit values of the 8-byte words ``words`` (``V8``) at ``idx``
    (:class:`IndexError` for one out of range)."""
    return words.take(idx).view("<u8")


# --------------------------------------------------------------------------- geometry


@named_tuple
class _Level:
    """One level of a stage, its constants computed once by the rule functions."""

    level: int
    leafsize: int             # rules.level_shift: log2 of a block or page here
    # per-level walk constants (from the rule functions):
    lsb: np.uint64            # lowest IA bit this level resolves
    idx_mask: np.uint64       # index width mask
    leaf_vt: np.uint64        # bits[1:0] of the one leaf type here (rules.descriptor_types; 4: none or several)
    off_mask: np.uint64       # IA bits below the leaf size


_VT_MASK = _U64(D.VALID.mask | D.TYPE.mask)


@record(frozen=True, compiled_init=True)
class _Stage:
    """One stage's walk geometry, decided once from its parameters (by the rule functions)."""

    stage: int
    params: S1WalkParams | S2WalkParams
    g: int
    ds: bool
    lpa64: bool
    oa_bits: int
    start_level: int
    iasize: int
    base: int
    ee: bool
    pa_max: int
    levels: dict[int, _Level]
    #: FEAT_THE: a stage 1 walk that starts Assured (rules.s1_initial_assured) whose Assured property
    #: counts (VTCR_EL2.AssuredOnly): its walk state tracks it (_ST_NA, _ST_NMRO)
    assured: bool = False

    @classmethod
    def make(cls, stage: int, p: S1WalkParams | S2WalkParams, pa_max: int, assured: bool = False) -> "_Stage":
        g, start = p.granule_shift, p.start_level
        levels = {}
        for level in range(start, FINAL_LEVEL + 1):
            lsb = R.level_shift(level, g)
            leaf = [vt for vt, t in enumerate(R.descriptor_types(level, p.ds, g, pa_max)) if t.is_leaf]
            levels[level] = _Level(level, lsb, _U64(lsb), _U64(_ones(R.index_width(level, start, p.iasize, g))),
                                   _U64(leaf[0] if len(leaf) == 1 else 4), _U64(_ones(lsb)))
        return cls(stage, p, g, p.ds, p.lpa64, p.oa_bits, start, p.iasize, p.base, p.ee, pa_max, levels, assured)

    def index(self, ia: np.ndarray, level: int) -> np.ndarray:
        """ASL ``S1TTEntryAddress`` / ``S2TTEntryAddress``: the entry ``ia`` selects at ``level``."""
        return R.table_index(ia, level, self.start_level, self.iasize, self.g)

    def types(self, raw: np.ndarray, level: int) -> np.ndarray:
        """ASL ``AArch64.DecodeDescriptorType`` of every lane (:class:`~pgwalk.rules.DescType` codes)."""
        return R.decode_descriptor_type(raw, level, self.ds, self.g, self.pa_max)

    def type_of(self, vt: int, level: int) -> DescType:
        """ASL ``AArch64.DecodeDescriptorType`` of a descriptor whose bits[1:0] are ``vt``."""
        return R.descriptor_types(level, self.ds, self.g, self.pa_max)[vt]

    def next_table(self, raw: np.ndarray) -> np.ndarray:
        """ASL ``AArch64.NextTableBase`` for every lane."""
        return R.next_table_base(raw, self.g, self.ds, self.lpa64)

    def leaf_base(self, raw: np.ndarray, lv: _Level) -> np.ndarray:
        """ASL ``AArch64.S1LeafBase`` / ``S2LeafBase`` for every lane."""
        return R.leaf_base(raw, lv.leafsize, self.ds, self.lpa64)

    def leafsize(self, level: np.ndarray) -> np.ndarray:
        """log2 of the leaf size for every lane's leaf level (:func:`pgwalk.rules.level_shift`)."""
        return R.level_shift(level, self.g)


def _s2_stage(setup: TranslationSetup) -> _Stage | None:
    s2 = setup.s2
    if s2 is None or s2.start_level is None or s2.config_fault or s2.base_fault:
        return None
    return _Stage.make(2, s2, setup.features.pa_max)


# --------------------------------------------------------------------------- one stage's walk

#: an array of a lazy :class:`_Walk` not allocated yet (a shape error if it were ever used)
_LAZY = np.zeros(0, dtype=_U64)
_LAZY.flags.writeable = False


class _Walk:
    """Per-lane outcome of one stage's table walk.

    ``code`` 0: a leaf was reached (``raw``, ``level``, ``out`` = output address,
    ``tbl`` = the walk's :func:`pgwalk.rules.table_attr_bits`); otherwise the fault code,
    ``level`` and ``stage`` (2 with ``s1ptw`` for a stage 2 fault on a stage 1 descriptor
    fetch, whose IPA is ``fipa``), and ``raw`` and ``out`` are 0 when the walk faulted before
    it read a leaf (:meth:`_Out.from_walk` counts on it).
    """

    __slots__ = _WALK_FIELDS = ("code", "level", "stage", "s1ptw", "fipa", "nii", "raw", "out", "tbl", "pkind")
    #: the fields only a stage 2 fetch of a stage 1 descriptor sets during a walk (besides stop())
    _FETCH_FIELDS = ("stage", "s1ptw", "fipa", "pkind")

    def __init__(self, m: int, stage: int, collect: bool, fetch: bool, lazy: bool = False) -> None:
        """``lazy``: ``raw``, ``out`` and ``tbl`` are :data:`_LAZY` until :meth:`fill` (the final
        level's step of a walk whose lanes all read a leaf there sets them whole)."""
        self.code = np.zeros(m, dtype=np.uint8)
        self.level = np.zeros(m, dtype=np.int8)
        self.stage = np.full(m, stage, dtype=np.uint8)
        self.s1ptw = np.zeros(m, dtype=bool) if fetch else None
        self.fipa = np.zeros(m, dtype=_U64) if fetch else None
        self.nii = np.zeros(m, dtype=bool)
        self.raw = _LAZY if lazy else np.zeros(m, dtype=_U64)
        self.out = _LAZY if lazy else np.zeros(m, dtype=_U64)
        self.tbl = (_LAZY if lazy else np.zeros(m, dtype=_U64)) if collect else None
        self.pkind = np.zeros(m, dtype=np.uint8)    # why a Permission fault (PermFault.code)

    def fill(self) -> None:
        """The arrays a lazy walk left unset (:data:`_LAZY`), zeros."""
        for name in ("raw", "out", "tbl"):
            if getattr(self, name) is _LAZY:
                setattr(self, name, np.zeros(len(self.code), dtype=_U64))

    def stop(self, q: np.ndarray, code: int, level: int, stage: int) -> None:
        """Lanes ``q`` fault with ``code`` at ``level`` of ``stage`` before any descriptor read."""
        self.code[q] = code
        self.level[q] = level
        self.stage[q] = stage
        for name in ("nii", "s1ptw", "fipa", "raw", "out", "tbl", "pkind"):
            a = getattr(self, name)
            if a is not None:
                a[q] = 0

    def put(self, q: np.ndarray, sub: "_Walk") -> None:
        """Lanes ``q`` become the lanes of ``sub`` (every field ``sub`` has: one it holds as ``None``
        is the same in both)."""
        for name in _Walk._WALK_FIELDS:
            dst, src = getattr(self, name), getattr(sub, name)
            if dst is not None and src is not None:
                dst[q] = src


#: a stage 2 walk of stage 1 descriptor IPAs: (IPAs, stage 1 level, the stage 1 walks' states so far or None)
#: -> (PAs, fault code, level, not in image, PermFault code, walk-state bits the fetch adds or None)
Fetch = Callable[[np.ndarray, int, np.ndarray | None], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          np.ndarray | None]]

#: entries of the upper levels one :class:`_Tree` keeps at most (about 40 bytes each)
TREE_ENTRIES = 1 << 18

# _Tree.recall: 2**_SLOT_BITS slots (16 bytes each); Knuth's multiplicative hash (2**64 / golden
# ratio, odd); a tag no key equals (keys are input addresses shifted right); a chunk recalls its
# entries when at most one lane in _RECALL_MISSES was not remembered
_SLOT_BITS = 16
_SLOT_HASH = 0x9E3779B97F4A7C15
_NO_KEY = _ones(64)
_RECALL_MISSES = 8

# what a lane does after a descriptor of a _Tree (its ``nxt``; >= 0: the offset of the next
# table's first entry, or at the last level it keeps, "go on lane by lane at the final level")
_UNREAD = -1             # not read yet
_STOP = -2               # the walk ends here: a leaf or a fault
_EXIT = -3               # a table whose next table the tree does not keep: go on lane by lane


class _Tree:
    """The descriptors of one stage's tree above the final level, each read and judged once
    per :func:`translate_many` call.

    The addresses of a batch share their upper-level descriptors (a kernel's VAs: a handful of
    level 0 to 2 descriptors for millions of addresses), so at those levels the walk works on
    *descriptors*, not lanes: a table keeps, per entry, what reading it gave -- through the
    same steps as :func:`_walk_lanes`, in the same order (the stage 2 fetch of its IPA with
    S1PTW, the read, :func:`pgwalk.rules.decode_descriptor_type`, :data:`pgwalk.rules.TABLE_CHECKS`,
    :func:`pgwalk.rules.table_attr_bits`) -- and a lane only looks its entry up.  Entries are read
    the first time a lane selects them (never the whole table).  A table descriptor gets a
    table of its own at the next level (even when another descriptor points at the same table:
    the hierarchical bits it carries may differ), within :data:`TREE_ENTRIES`; past that its
    lanes walk on lane by lane.
    """

    def __init__(self, rd: "DescriptorReader", st: _Stage, *, collect: bool, fetch: Fetch | None,
                 budget: int | None = None) -> None:
        self.rd, self.st, self.collect, self.fetch = rd, st, collect, fetch
        self.hpd = bool(getattr(st.params, "hpd", False))
        self.levels = tuple(range(st.start_level, FINAL_LEVEL))
        self.bits = {lv: R.index_width(lv, st.start_level, st.iasize, st.g) for lv in self.levels}
        self.budget = TREE_ENTRIES if budget is None else budget
        self.used = 0
        self.ntab = {lv: 0 for lv in self.levels}
        self.tbase = {lv: np.zeros(0, dtype=_U64) for lv in self.levels}
        self.ttbl = {lv: np.zeros(0, dtype=_U64) for lv in self.levels}
        #: per level, per entry: nxt (intp), and what a lane that stops or exits there gets
        self.cols: dict[int, dict[str, np.ndarray]] = {lv: {} for lv in self.levels}
        #: recall(): the input address bits above the last upper level's index (rules.level_shift)
        #: select the entry there; the entries of the addresses seen, in a direct-mapped table
        #: made on first use (slot: a multiplicative hash of those bits; tag: the bits)
        self.key_shift = st.levels[self.levels[-1]].lsb if len(self.levels) > 1 else None
        self.slot_tag: np.ndarray | None = None
        self.slot_ent: np.ndarray | None = None
        #: early(): the outcome rows of the entries walks end at above the final level, in one
        #: table for every level (rows[name][:nrows])
        self.rows: dict[str, np.ndarray] = {name: np.zeros(0, dtype=dt) for name, dt in self._ROWS}
        self.nrows = 0
        if self.levels:
            self._add_tables(st.start_level, np.array([st.base], dtype=_U64), np.zeros(1, dtype=_U64))

    _COLUMNS = (("nxt", np.intp), ("code", np.uint8), ("level", np.int8), ("stage", np.uint8), ("s1ptw", bool),
                ("fipa", _U64), ("nii", bool), ("pkind", np.uint8), ("raw", _U64), ("nbase", _U64), ("tbl", _U64),
                ("oid", np.intp))
    #: the columns an entry's outcome row copies (:meth:`early`), and its output address's parts
    _ROWS = tuple((name, dt) for name, dt in _COLUMNS if name not in ("nxt", "nbase", "oid")) + \
        (("base", _U64), ("leafsize", _U64))

    def _add_tables(self, level: int, bases: np.ndarray, tbls: np.ndarray) -> np.ndarray:
        """New tables at ``level`` (their entries unread); their ids."""
        first = self.ntab[level]
        n = first + len(bases)
        need = n << self.bits[level]
        _grow(self.cols[level], self._COLUMNS, need, fill={"nxt": _UNREAD, "oid": -1})
        self.used += len(bases) << self.bits[level]
        self.tbase[level] = np.concatenate([self.tbase[level], bases])
        self.ttbl[level] = np.concatenate([self.ttbl[level], tbls])
        self.ntab[level] = n
        return np.arange(first, n, dtype=np.intp)

    def open(self, level: int, ent: np.ndarray) -> None:
        """Read and judge the entries ``ent`` (distinct, unread) of the tables at ``level``
        (:func:`_level_step`)."""
        st, bits = self.st, self.bits[level]
        n = len(ent)
        tid = ent >> bits
        addr = R.descriptor_address(self.tbase[level][tid], (ent & ((1 << bits) - 1)).astype(_U64))
        w = _Walk(n, st.stage, self.collect, self.fetch is not None)
        w.level[:] = level
        tbl = self.ttbl[level][tid] if self.collect else None
        go, nb, tbl = _level_step(self.rd, st, w, None, level, addr, None, tbl, self.fetch, self.hpd)
        tables = np.arange(n) if go is None else go
        nxt = np.full(n, _STOP, dtype=np.intp)
        nbase = np.zeros(n, dtype=_U64)
        nbase[tables] = nb
        if tbl is not None:
            w.tbl[tables] = tbl
        if len(tables):
            nxt[tables] = _EXIT
            if level + 1 in self.bits:
                b1 = self.bits[level + 1]
                k = min(len(tables), max(0, self.budget - self.used) >> b1)
                if k:
                    ids = self._add_tables(level + 1, nb[:k], w.tbl[tables[:k]] if tbl is not None
                                           else np.zeros(k, dtype=_U64))
                    nxt[tables[:k]] = ids << b1
            else:
                nxt[tables] = 0
        cols = self.cols[level]
        cols["nxt"][ent] = nxt
        cols["nbase"][ent] = nbase
        for name in _Walk._WALK_FIELDS:
            arr = getattr(w, name)
            if name != "out" and arr is not None:
                cols[name][ent] = arr

    def _slots(self, key: np.ndarray) -> np.ndarray:
        h = key * _U64(_SLOT_HASH)                      # (modulo 2**64)
        h >>= _U64(64 - _SLOT_BITS)
        return h.view(np.intp)

    def remember(self, ia: np.ndarray, ent: np.ndarray) -> None:
        """The input addresses ``ia`` select the entries ``ent`` of the last upper level, table
        descriptors that passed the checks (or their walks end there or above: :meth:`early`)."""
        if self.key_shift is None:
            return
        if self.slot_tag is None:
            self.slot_tag = np.full(1 << _SLOT_BITS, _NO_KEY, dtype=_U64)
            self.slot_ent = np.zeros(1 << _SLOT_BITS, dtype=np.intp)
        key = ia >> self.key_shift
        slot = self._slots(key)
        self.slot_tag[slot] = key
        self.slot_ent[slot] = ent

    def recall(self, ia: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The entries of the last upper level the input addresses ``ia`` select, as remembered
        (:meth:`remember`; negative: the walk ends there or above, :meth:`early`), and the lanes not
        remembered (``None``: none), whose entries are 0; ``None`` when more than one lane in
        :data:`_RECALL_MISSES` is not."""
        if self.slot_tag is None:
            return None
        key = ia >> self.key_shift
        slot = self._slots(key)
        hit = self.slot_tag.take(slot) == key
        n = len(ia) - int(np.count_nonzero(hit))
        if n * _RECALL_MISSES > len(ia):
            return None
        ent = self.slot_ent.take(slot)
        if not n:
            return ent, None
        miss = np.flatnonzero(~hit)
        ent[miss] = 0
        return ent, miss

    def lookup(self, level: int, ent: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """What the entries ``ent`` of ``level`` tell each lane to do next (their ``nxt``; the
        entries not read yet are read and judged first: :meth:`open`), and the lanes whose walks
        end or leave the tree there (negative ``nxt``; ``None``: none)."""
        off = self.cols[level]["nxt"].take(ent)
        if off.min() >= 0:
            return off, None
        neg = np.flatnonzero(off < 0)       # (the passes below look at these lanes only)
        unread = neg[off[neg] == _UNREAD]
        if len(unread):
            self.open(level, _distinct(ent[unread], len(self.cols[level]["nxt"])))
            off[unread] = self.cols[level]["nxt"].take(ent[unread])
            neg = neg[off[neg] < 0]
        return off, (neg if len(neg) else None)

    def descend(self, ia: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """What :meth:`recall` gives for input addresses ``ia`` it does not remember, found by
        descending the tables level by level (the entries not read yet are read and judged:
        :meth:`open`), and remembered: the entries of the last upper level they select, or where
        their walks end above it (negative: :meth:`early`); and the lanes whose walks leave
        the tree (a table past :data:`TREE_ENTRIES`; ``None``: none), for the caller to walk on
        their own (their entries are 0).  (A few lanes each chunk: a handful of small array passes
        a level, where a walk of their own costs the fixed price of a whole walk.)"""
        st, last = self.st, self.levels[-1]
        out = np.zeros(len(ia), dtype=np.intp)
        lanes = np.arange(len(ia))           # the lanes still descending
        left: list[np.ndarray] = []
        cur, off = ia, None
        for level in self.levels:
            idx = st.index(cur, level).view(np.intp)
            e = idx if off is None else off + idx
            off, neg = self.lookup(level, e)
            if level == last:                # (a table there: go on at the final level, off 0)
                if neg is not None:
                    e = e.copy()
                    stop = neg[off[neg] == _STOP]
                    e[stop] = self.early(level, e[stop])
                out[lanes] = e
                break
            if neg is None:
                continue
            codes = off[neg]
            stop, gone = neg[codes == _STOP], neg[codes == _EXIT]
            out[lanes[stop]] = self.early(level, e[stop])
            if len(gone):
                left.append(lanes[gone])
            keep = np.flatnonzero(off >= 0)
            if not len(keep):
                break
            lanes, cur, off = lanes[keep], cur[keep], off[keep]
        if not left:
            self.remember(ia, out)
            return out, None
        gone_lanes = np.sort(np.concatenate(left))
        found = np.ones(len(ia), dtype=bool)
        found[gone_lanes] = False
        self.remember(ia[found], out[found])
        return out, gone_lanes

    def early(self, level: int, ent: np.ndarray) -> np.ndarray:
        """What :meth:`remember` keeps for walks that end at the entries ``ent`` of ``level`` (an upper
        level; entries read): negative numbers, ``-1 - row`` of the entry's outcome row, made the
        first time (:meth:`outcomes`).  The rows of every level are one table, so that the walks of a
        chunk that end above the final level, at whatever level, are looked up together."""
        cols = self.cols[level]
        oid = cols["oid"].take(ent)
        new = np.flatnonzero(oid < 0)
        if len(new):
            new = _distinct(ent[new], len(cols["oid"]))
            first, k = self.nrows, len(new)
            rows = self.rows
            _grow(rows, self._ROWS, first + k, least=64)
            at = slice(first, first + k)
            for name, _dt in self._ROWS[:-2]:
                rows[name][at] = cols[name][new]
            lv = self.st.levels[level]
            leaf = rows["code"][at] == 0        # (the others faulted: no output address, size 0)
            rows["base"][at] = np.where(leaf, self.st.leaf_base(rows["raw"][at], lv), _U64(0))
            rows["leafsize"][at] = np.where(leaf, _U64(lv.leafsize), _U64(0))
            cols["oid"][new] = np.arange(first, first + k)
            self.nrows += k
            oid = cols["oid"].take(ent)
        return -1 - oid

    def outcomes(self, code: np.ndarray, ia: np.ndarray, w: _Walk) -> _Walk:
        """The outcome of lanes (input addresses ``ia``) whose walks end above the final level, at
        the entries of the :meth:`early` codes ``code``: a leaf (:func:`pgwalk.rules.stage_oa`) or a
        fault; a :class:`_Walk` shaped like ``w``."""
        oid = -1 - code
        rows = self.rows
        sub = _Walk.__new__(_Walk)
        # without stage 2 fetches a walk's stage is its own and no walk step sets a PermFault kind
        # (the leaf checks come after the walk): those two are the same in every lane (None: not put)
        same = _Walk._FETCH_FIELDS if self.fetch is None else ()
        for name in _Walk._WALK_FIELDS:
            if name != "out":
                setattr(sub, name, rows[name].take(oid) if getattr(w, name) is not None and name not in same
                        else None)
        sub.out = R.stage_oa(rows["base"].take(oid), ia, rows["leafsize"].take(oid))
        return sub


def _walk(rd: "DescriptorReader", st: _Stage, ia: np.ndarray, *, collect: bool = False,
          fetch: Fetch | None = None, tree: _Tree | None = None, own: bool = False, recall: bool = True,
          later: list[np.ndarray] | None = None) -> _Walk:
    """ASL ``S1Walk`` / ``S2Walk`` for every lane of ``ia`` (the lanes already passed the setup
    checks), up to the leaf: through ``tree`` (:class:`_Tree`) above the final level, then
    lane by lane (:func:`_walk_lanes`).

    A lane whose walk ends above the final level has its outcome noted and, while most lanes
    go on, takes the place of a lane that goes on (so the arrays keep every lane, in order,
    and need no compaction); the noted outcomes overwrite those lanes at the end.  ``own``:
    ``ia`` is the walk's to change (a stand-in's copy).

    The lanes' entries at the last upper level (or where their walks end, at or above it) are
    remembered (:meth:`_Tree.remember`); when the tree recalls them for (nearly) every lane
    (``recall``), the walk goes on from there to the final level, the lanes it does not recall
    walking on their own (a walk of theirs, noted) and, with those whose walks end there or
    above, standing in for a lane that goes on.  Given ``later``, fewer than :data:`LATER_BELOW`
    lanes it does not recall are not walked at all: they are appended to it (one array) for the
    caller to walk later, together with those of other chunks (:func:`_run`), and stand in for a
    lane that goes on; their outcomes in ``w`` mean nothing.
    """
    m = len(ia)
    hpd = bool(getattr(st.params, "hpd", False))
    if not m or tree is None or not tree.levels:
        w = _Walk(m, st.stage, collect, fetch is not None)
        if m:
            _walk_lanes(rd, st, w, None, ia, st.start_level, _U64(st.base),
                        np.zeros(m, dtype=_U64) if collect else None, fetch, hpd)
        return w
    w = _Walk(m, st.stage, collect, fetch is not None, lazy=True)
    noted: list[tuple[np.ndarray, _Walk]] = []
    pos: np.ndarray | None = None        # lane -> index in w (None: the identity)
    cur = ia
    off: np.ndarray | None = None        # the lanes' tables at this level: offset of entry 0
    e = off
    done = False
    levels = tree.levels
    got = tree.recall(cur) if recall else None
    if got is not None:                  # (the remembered entries are table descriptors that passed)
        e, miss = got
        levels = ()
        skipped = None                   # the lanes left to the caller (later)
        if miss is not None and fetch is None:   # (the others are as if remembered)
            if later is not None and len(miss) < LATER_BELOW:
                later.append(miss)
                skipped, miss = miss, None
            else:
                e[miss], gone = tree.descend(cur[miss])
                miss = None if gone is None else miss[gone]
        if miss is not None:
            noted.append((miss, _walk(rd, st, cur[miss], collect=collect, fetch=fetch, tree=tree, recall=False)))
        early = np.flatnonzero(e < 0) if e.min() < 0 else None
        if early is not None:            # walks that end above (their outcome from the tree)
            noted.append((early, tree.outcomes(e[early], cur[early], w)))
        # the lanes that stand in for a lane that goes on (apart: e[miss] is 0, e[early] negative)
        stand = [lanes for lanes in (miss, early, skipped) if lanes is not None]
        if stand:
            if sum(map(len, stand)) == len(e):
                done = True
            else:
                d = _first_not_in(len(e), *stand)
                for lanes in stand:
                    e[lanes] = e[d]
                if fetch is not None:    # (a stand-in with stage 2 fetches walks its stand-in's address)
                    if not own:
                        cur, own = cur.copy(), True
                    for lanes in stand:
                        cur[lanes] = cur[d]
    for level in levels:
        last = level == levels[-1]       # (the lanes' entries there, or where they end, are remembered)
        idx = st.index(cur, level).view(np.intp)
        e = idx if off is None else np.add(off, idx, out=off)
        off, neg = tree.lookup(level, e)
        if last:
            tree.remember(cur, e)        # (a walk that ends there: replaced just below)
        if neg is None:
            continue
        q = neg if pos is None else pos[neg]
        codes, es = off[neg], e[neg]
        stop = codes == _STOP
        if stop.any():
            ends, ia_stop = tree.early(level, es[stop]), cur[neg[stop]]
            noted.append((q[stop], tree.outcomes(ends, ia_stop, w)))
            tree.remember(ia_stop, ends)
        if not stop.all():
            ex = ~stop
            sub = _Walk(int(ex.sum()), st.stage, collect, fetch is not None)
            cols = tree.cols[level]
            _walk_lanes(rd, st, sub, None, cur[neg[ex]], level + 1, cols["nbase"].take(es[ex]),
                        cols["tbl"].take(es[ex]) if collect else None, fetch, hpd)
            noted.append((q[ex], sub))
        if len(neg) == len(off):
            done = True
            break
        if 2 * len(neg) > len(off):      # most lanes left: go on with the others only
            keep = np.flatnonzero(off >= 0)
            pos = keep if pos is None else pos[keep]
            cur, off, e, own = cur[keep], off[keep], e[keep], True
        else:                            # a few: they take the place of a lane that goes on
            d = _first_not_in(len(off), neg)
            off[neg], e[neg] = off[d], e[d]
            # above the last upper level, or with stage 2 fetches, a stand-in walks its lane's
            # address (reading no entry no lane needs); after it, it may keep its own: it reads an
            # entry of the same final-level table, whose outcome put() replaces
            if level != tree.levels[-1] or fetch is not None:
                if not own:
                    cur, own = cur.copy(), True
                cur[neg] = cur[d]
    if not done:
        cols = tree.cols[tree.levels[-1]]
        _walk_lanes(rd, st, w, pos, cur, FINAL_LEVEL, cols["nbase"].take(e),
                    cols["tbl"].take(e) if collect else None, fetch, hpd)
    w.fill()
    for q, sub in reversed(noted):       # the first outcome of a lane is its own
        w.put(q, sub)
    return w


def _grow(arrays: dict[str, np.ndarray], columns: Sequence[tuple[str, Any]], need: int, least: int = 0,
          fill: dict[str, int] | None = None) -> None:
    """The arrays of ``columns`` (name, dtype) in ``arrays`` (all of one length, or none yet) made
    to hold at least ``need`` entries, doubling (at least ``least``), their entries kept; a new
    entry is ``fill[name]``, or 0."""
    cap = len(next(iter(arrays.values()))) if arrays else 0
    if need <= cap:
        return
    size = max(need, 2 * cap, least)
    for name, dt in columns:
        new = np.full(size, (fill or {}).get(name, 0), dtype=dt)
        if cap:
            new[:cap] = arrays[name]
        arrays[name] = new


def _first_not_in(m: int, *lanes: np.ndarray) -> int:
    """The first of ``m`` lanes that is in none of the arrays ``lanes`` (which leave one out)."""
    taken = np.zeros(m, dtype=bool)
    for sel in lanes:
        taken[sel] = True
    return int(np.argmin(taken))


def _distinct(idx: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of ``idx`` (all in ``range(size)``), in order: ``np.unique`` by a
    scatter into ``size`` flags, linear in ``len(idx) + size`` (no sort, no hash)."""
    seen = np.zeros(size, dtype=bool)
    seen[idx] = True
    return np.flatnonzero(seen)


def _walk_lanes(rd: "DescriptorReader", st: _Stage, w: _Walk, pos: np.ndarray | None, cur: np.ndarray,
                level0: int, table: np.ndarray | np.uint64, tbl: np.ndarray | None, fetch: Fetch | None,
                hpd: bool) -> None:
    """ASL ``S1Walk`` / ``S2Walk`` lane by lane from ``level0``: the lanes ``cur`` (positions
    ``pos`` in ``w``; ``None``: all of ``w``, in order), their tables at ``table`` and their
    walk states so far ``tbl``; level by level (:func:`_level_step`), one gather per level.
    The lanes that stop leave the arrays once per level (``pos`` follows).
    """
    for level in range(level0, FINAL_LEVEL + 1):
        addr = R.descriptor_address(table, st.index(cur, level))
        go, table, tbl = _level_step(rd, st, w, pos, level, addr, cur, tbl, fetch, hpd)
        if go is None:
            continue
        if not len(go):
            break
        pos, cur = (go if pos is None else pos[go]), cur[go]


def _level_step(rd: "DescriptorReader", st: _Stage, w: _Walk, pos: np.ndarray | None, level: int,
                addr: np.ndarray, ia: np.ndarray | None, tbl: np.ndarray | None, fetch: Fetch | None,
                hpd: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """One level of ASL ``S1Walk`` / ``S2Walk`` for walks whose descriptors at ``level`` are at
    ``addr`` (positions ``pos`` in ``w``, ``None``: all of ``w``, in order; their walk states so
    far ``tbl``), in the walk's order: the fetch through stage 2 (S1PTW faults, the walk-state
    bits it adds), the read (an External abort when it cannot be read), the type
    (:func:`pgwalk.rules.decode_descriptor_type`), and after a table descriptor
    :data:`pgwalk.rules.TABLE_CHECKS` and its walk-state bits (:func:`_table_state`).  The one
    statement of a level's step, for lanes (:func:`_walk_lanes`) and for the descriptors of the
    upper levels (:meth:`_Tree.open`).  Faults and leaves are recorded in ``w``: a leaf's
    descriptor, level, walk state and, given the input addresses ``ia``, output address.

    :returns: ``(go, next_table, tbl)`` of the walks that go on (read a table descriptor that
        passed the checks): their indexes (``None``: all; empty: none), next-level table bases
        and walk states
    """
    lv = st.levels[level]

    def at(sel: np.ndarray | None) -> np.ndarray | slice:
        if sel is None:
            return slice(None) if pos is None else pos
        return sel if pos is None else pos[sel]

    def fault(sel: np.ndarray, code: int | np.ndarray, flevel: int | np.ndarray, nii: bool = False) -> None:
        q = at(sel)
        w.code[q] = code
        w.level[q] = flevel
        if nii:
            w.nii[q] = True
        if tbl is not None:
            w.tbl[q] = tbl[sel]                     # the walk's state so far (FEAT_HAFT updates)

    def leaves(sel: np.ndarray | None, raw: np.ndarray) -> None:
        """Record the walks ``sel`` (``None``: all) that read a block or page descriptor ``raw``."""
        out = None
        if ia is not None:
            out = R.stage_oa(st.leaf_base(raw, lv), ia if sel is None else ia[sel], lv.leafsize)
        if sel is None and pos is None:             # all of w, in order: its arrays whole
            w.level[:] = level
            w.raw = raw
            if out is not None:
                w.out = out
            if tbl is not None:
                w.tbl = tbl
            return
        q = at(sel)
        w.level[q] = level
        w.raw[q] = raw
        if out is not None:
            w.out[q] = out
        if tbl is not None:
            w.tbl[q] = tbl if sel is None else tbl[sel]

    none = np.zeros(0, dtype=np.intp)
    live: np.ndarray | None = None                  # the walks read (None: all)
    dpa = addr
    if fetch is not None:
        w.fill()
        dpa, fcode, flevel, fnii, fkind, fstate = fetch(addr, level, tbl)
        if fstate is not None and tbl is not None:
            tbl = tbl | fstate
        bad = np.flatnonzero(fcode != 0)
        if len(bad):
            fault(bad, fcode[bad], flevel[bad], False)
            q = at(bad)
            w.stage[q] = 2
            w.s1ptw[q] = True
            w.fipa[q] = addr[bad]
            w.nii[q] = fnii[bad]
            w.pkind[q] = fkind[bad]
            live = np.flatnonzero(fcode == 0)
            if not len(live):
                return none, addr[:0], None
            dpa = dpa[live]

    def walks(j: np.ndarray | None) -> np.ndarray | None:
        """The walks of the descriptors read at ``j`` (``None``: all read)."""
        if j is None:
            return live
        return j if live is None else live[j]

    raw, present = rd.read(dpa, st.ee)
    if level == FINAL_LEVEL and pos is None and live is None and present is None and lv.leaf_vt < 4:
        # all end here, in order: the leaves whole, then the few walks that did not read one
        bad = np.flatnonzero((raw & _VT_MASK) != lv.leaf_vt)
        if 4 * len(bad) < len(raw):
            leaves(None, raw)
            w.fill()
            if len(bad):
                w.raw[bad] = 0
                w.out[bad] = 0
                fault(bad[_DT_FAULTS[st.types(raw[bad], level)]], _TRANSLATION, level)
            return none, addr[:0], None
    w.fill()
    # the bits[1:0] every descriptor has (AND) and some has (OR): equal when uniform
    vt = int(np.bitwise_and.reduce(raw) & _VT_MASK) if present is None else -1
    if vt >= 0 and vt != int(_VT_MASK) and vt != int(np.bitwise_or.reduce(raw) & _VT_MASK):
        vt = -1
    kind = st.type_of(vt, level) if vt >= 0 else None
    tables: np.ndarray | None = None                # the descriptors read that are tables (None: all)
    if kind is None or kind is not DescType.TABLE:
        if kind is not None and kind.is_leaf:       # every walk read a block or page descriptor
            leaves(walks(None), raw)
            return none, addr[:0], None
        t = st.types(raw, level)
        if present is not None:
            t[~present] = _DT_MISSING
            fault(walks(np.flatnonzero(~present)), _SEA, level, True)
        bad = np.flatnonzero(_DT_FAULTS[t])
        if len(bad):
            fault(walks(bad), _TRANSLATION, level)
        leaf = np.flatnonzero(_DT_LEAF[t])
        if len(leaf):
            leaves(walks(leaf), raw[leaf])
        tables = np.flatnonzero(t == DescType.TABLE)
        if not len(tables):
            return none, addr[:0], None
        raw = raw[tables]
    nxt = st.next_table(raw)
    ok: np.ndarray | None = None                    # the tables no check stopped (None: all)
    for chk in R.TABLE_CHECKS:
        hit = chk.test(st.params, raw, nxt)
        if ok is not None:
            hit &= ok
        if hit.any():
            j = np.flatnonzero(hit)
            fault(walks(j if tables is None else tables[j]), _CODE[chk.fault], level if chk.level is None else chk.level)
            ok = ~hit if ok is None else ok & ~hit
    if ok is not None:
        j = np.flatnonzero(ok)
        tables, raw, nxt = (j if tables is None else tables[j]), raw[j], nxt[j]
    go = walks(tables)
    if tbl is not None:
        if go is not None:
            tbl = tbl[go]
        tbl = tbl | _table_state(st, raw, level, tbl, hpd)
    return go, nxt, tbl


def _leaf_checks(checks: Sequence[R.Check], p: Any, w: _Walk, judge: Callable[[np.ndarray], np.ndarray | bool],
                 kinds: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The leaf checks (:data:`pgwalk.rules.LEAF_CHECKS`, :data:`~pgwalk.rules.S2_WALK_LEAF_CHECKS`)
    on the lanes of ``w`` that reached a leaf, in order: each check stops only lanes no earlier
    one stopped (a check is evaluated on every lane, it is a pure function of the lane, and its
    verdict counts only where the lane still stands).  ``judge(raw)`` is the permission check;
    ``kinds(raw, lanes)`` says why it failed on the lanes that take the Permission fault
    (:data:`pgwalk.perms.PERM_FAULT_KINDS` codes, kept in ``w.pkind``).

    :returns: the lanes that translate (a bool mask)
    """
    ok = w.code == 0
    for chk in checks:
        if chk.bits is not None:
            # a test on the output address as a bit field: when the OR of every lane's address
            # has none of the bits a lane's test needs set, no lane's test holds (a shortcut taken
            # only when the field is one for all lanes: ints, whatever the descriptors)
            mask, value = chk.bits(p, w.raw, judge)
            if value.__class__ is int and mask.__class__ is int and value == 0 \
                    and not int(np.bitwise_or.reduce(w.out, initial=_U64(0))) & mask:
                continue
        hit = chk.test(p, w.raw, w.out, judge)
        if hit is False:
            continue
        hit &= ok
        if not hit.any():
            continue
        w.code[hit] = _CODE[chk.fault]
        if chk.level is not None:
            w.level[hit] = chk.level
        if kinds is not None and chk.fault is FaultType.PERMISSION:
            lanes = np.nonzero(hit)[0]
            w.pkind[lanes] = kinds(w.raw[lanes], lanes)
        ok &= ~hit
    return ok


class _UnknownVerdicts:
    """A verdict table that cannot be made because a register it reads is unknown (PIR_ELx,
    S2PIR_EL2 ... not given): a walk with a lane still standing where it would be looked up raises
    what making it raised, as the scalar walk raises when a walk reaches such a leaf."""

    def __init__(self, exc: UnknownRegister) -> None:
        self.exc = exc

    def check(self, w: "_Walk") -> None:
        """Raises when a lane of ``w`` still stands (no fault so far: a scalar walk would judge it)."""
        if (w.code == 0).any():
            raise self.exc

    def judge(self, w: "_Walk") -> Callable[[np.ndarray], np.ndarray]:
        """A permission judge for :func:`_leaf_checks` of ``w``: :meth:`check`, then nothing denied."""
        def judge(raw: np.ndarray) -> np.ndarray:
            self.check(w)
            return _no_lanes(raw)
        return judge


def _verdicts(make: Callable[..., np.ndarray], *args: Any) -> Any:
    """``make(*args)``, a verdict table of the rules, or (a register it needs unknown)
    :class:`_UnknownVerdicts`."""
    try:
        return make(*args)
    except UnknownRegister as exc:
        return _UnknownVerdicts(exc)


def _has_flags(table: np.ndarray) -> bool:
    """A permission fault table (:func:`pgwalk.rules.s1_permission_fault_table`) with an overlay or
    dirty-bit verdict: only then are the faulted lanes' kinds looked up."""
    return int(table.max(initial=0)) > PermFault.PERMISSION.code


def _no_lanes(raw: np.ndarray) -> bool:
    """A permission judge that denies nothing (no access to check): ``False`` for every lane, which
    :func:`_leaf_checks` skips without a pass over the lanes."""
    return False


# --------------------------------------------------------------------------- results


@record(frozen=True, eq=False, compiled_init=True)
class BulkTranslation:
    """The outcome of translating many addresses: one numpy array per field, one lane per address.

    Arrays (``n`` lanes):

    * ``va`` (uint64): the input addresses (IPAs with ``stages="2"``);
    * ``ipa``, ``pa`` (uint64): stage 1 and stage 2 outputs; meaningful where
      :attr:`has_ipa` / :attr:`has_pa` (``pa`` *is* ``ipa`` when there is no stage 2);
    * ``fault_type`` (uint8, :data:`FAULT_TYPES` code, 0 = no fault), ``fault_level``
      (int8, -2..3), ``fault_stage`` (uint8, 1 or 2), ``s1ptw`` (bool),
      ``not_in_image`` (bool), ``fault_ipa`` (uint64, the IPA of a stage 2 fault),
      ``perm_kind`` (uint8, :data:`pgwalk.perms.PERM_FAULT_KINDS` code: why a Permission fault
      was taken, which gives its Overlay and DirtyBit flags; 0 or 1 where neither flag is set:
      the kinds are looked up only where the permission table has an overlay or dirty-bit verdict);
      :attr:`fsc` gives the fault status codes;
    * ``s1_desc`` / ``s1_level`` / ``s1_shift``: the stage 1 leaf descriptor, its level and
      log2 of its size (``s1_shift`` 0 = no stage 1 leaf, see :attr:`has_s1`);
      ``s1_table_bits`` (uint8): the OR of descriptor bits [62:59] (APTable, UXNTable,
      PXNTable) over the table descriptors walked, shifted down to bit 0 (0 with HPD);
    * ``s2_desc`` / ``s2_level`` / ``s2_shift``: likewise for stage 2 (zeros without stage 2);
    * ``s1_desc_hi`` / ``s2_desc_hi`` (uint64): bits [127:64] of a VMSAv9-128 (FEAT_D128) leaf
      descriptor (zeros, read-only, for a VMSAv8-64 stage; :meth:`s1_raw` / :meth:`s2_raw` give the
      whole descriptor);
    * ``table_af`` (uint64): the descriptors whose Access flag the walks set, faulting walks
      included: FEAT_HAFT's tables (:func:`pgwalk.rules.table_af_update`, ASL ``AArch64.S1Walk`` /
      ``S2Walk``), bit ``level + 2`` a stage 1 table, bit ``8 + level + 2`` a stage 2 table of the
      translation's own stage 2 walk, bit ``16 + 5 * (s1_level + 2) + level + 2`` a stage 2 table
      of the stage 1 fetch at ``s1_level``; and (HA, :func:`pgwalk.rules.leaf_af_update`) the stage 2
      leaf of the stage 1 fetch at ``s1_level``, its level + 3 in the 3 bits at
      ``46 + 3 * (s1_level + 2)`` (zeros without HAFT or stage 2 HA); :meth:`walk_af_updates` lists
      them.  The Access flag updates of the translation's leaves (HA) follow from ``s1_desc`` /
      ``s2_desc``.
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
    perm_kind: np.ndarray
    s1_desc: np.ndarray
    s1_level: np.ndarray
    s1_shift: np.ndarray
    s1_table_bits: np.ndarray
    s2_desc: np.ndarray
    s2_level: np.ndarray
    s2_shift: np.ndarray
    table_af: np.ndarray
    s1_desc_hi: np.ndarray
    s2_desc_hi: np.ndarray
    #: where the image does not hold the bytes at ``pa`` (:func:`mark_contents`); ``None``: not checked
    contents_missing: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.va)

    @property
    def d128(self) -> bool:
        """A stage walks VMSAv9-128 (FEAT_D128) tables: the result came from the per-address engine
        (:func:`per_address_note`) and its descriptors may be 128-bit (``s1_desc_hi``, ``s2_desc_hi``)."""
        return bool(self.setup.d128_controls)

    def s1_raw(self, i: int) -> int:
        """Lane ``i``'s stage 1 leaf descriptor, all its bits (128 with FEAT_D128)."""
        return D.join128(int(self.s1_desc[i]), int(self.s1_desc_hi[i]))

    def s2_raw(self, i: int) -> int:
        """Lane ``i``'s stage 2 leaf descriptor, all its bits (128 with FEAT_D128)."""
        return D.join128(int(self.s2_desc[i]), int(self.s2_desc_hi[i]))

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
        kind = PERM_FAULT_KINDS[int(self.perm_kind[i])]
        return Fault(FAULT_TYPES[code], int(self.fault_level[i]), stage, s1ptw=bool(self.s1ptw[i]),
                     ipa=int(self.fault_ipa[i]) if stage == 2 else None,
                     not_in_image=bool(self.not_in_image[i]), **(kind.fault_flags if kind is not None else {}))

    @property
    def overlay(self) -> np.ndarray:
        """Per lane: a Permission fault caused by the overlay (ISS2.Overlay, PAR_EL1.Overlay)."""
        return self.perm_kind == PermFault.OVERLAY.code

    @property
    def dirty_bit(self) -> np.ndarray:
        """Per lane: a Permission fault caused by the dirty state (ISS2.DirtyBit, PAR_EL1.DirtyBit)."""
        return self.perm_kind == PermFault.DIRTY_BIT.code

    @property
    def assured_only(self) -> np.ndarray:
        """Per lane: a stage 2 Permission fault caused by AssuredOnly or GCSH (FEAT_THE, FEAT_GCS;
        ISS2.AssuredOnly, PAR_EL1.AssuredOnly)."""
        return self.perm_kind == PermFault.ASSURED_ONLY.code

    @property
    def toplevel(self) -> np.ndarray:
        """Per lane: a stage 2 Permission fault of a stage 1 top-level table fetch caused by the
        TopLevel check (FEAT_THE, VTCR_EL2.TL0/TL1; ESR ISS.TopLevel, PAR_EL1.TopLevel)."""
        return self.perm_kind == PermFault.TOPLEVEL.code

    @property
    def s2_table_af(self) -> np.ndarray:
        """The stage 2 table AF updates of the translation's own stage 2 walk (from :attr:`table_af`):
        bit ``level + 2`` per lane."""
        return (self.table_af >> _U64(_AF_S2)) & _U64(_ones(_TABLE_LEVELS))

    def walk_af_updates(self, i: int) -> tuple[AFUpdate, ...]:
        """Lane ``i``'s Access flag updates made by its walks (:attr:`table_af`), as the scalar
        walk orders them in ``Translation.s1ptw_af_updates``: per stage 1 level, the stage 2
        tables of its fetch (FEAT_HAFT), the stage 2 leaf of its fetch (HA), then its own table
        (FEAT_HAFT); then the stage 2 tables of the translation's stage 2 walk (FEAT_HAFT)."""
        bits = int(self.table_af[i])
        if not bits:
            return ()
        out = []
        for level in range(_MIN_LEVEL, FINAL_LEVEL + 1):
            group = bits >> (_AF_PTW + _TABLE_LEVELS * (level + _LEVEL_BIAS))
            out.extend(AFUpdate(2, m, level, True) for m in range(_MIN_LEVEL, FINAL_LEVEL)
                       if group >> (m + _LEVEL_BIAS) & 1)
            leaf = bits >> (_AF_LEAF + _LEAF_BITS * (level + _LEVEL_BIAS)) & _ones(_LEAF_BITS)
            if leaf:
                out.append(AFUpdate(2, leaf - _LEVEL_BIAS - 1, level))
            if level < FINAL_LEVEL and bits >> (level + _LEVEL_BIAS) & 1:
                out.append(AFUpdate(1, level, table=True))
        out.extend(AFUpdate(2, m, None, True) for m in range(_MIN_LEVEL, FINAL_LEVEL)
                   if bits >> (_AF_S2 + m + _LEVEL_BIAS) & 1)
        return tuple(out)

    def table_af_updates(self, i: int) -> tuple[AFUpdate, ...]:
        """Lane ``i``'s FEAT_HAFT table descriptor updates, in the scalar walk's order
        (:meth:`walk_af_updates` without the stage 2 leaves of the fetches)."""
        return tuple(u for u in self.walk_af_updates(i) if u.table)

    def translation(self, i: int) -> Translation:
        """Lane ``i`` as the :class:`~pgwalk.walk.Translation` the scalar walker returns
        (``steps`` empty, the fault's ``reason`` empty).  Its ``af_updates`` are the scalar
        walk's: the walks' own updates (:meth:`walk_af_updates`: FEAT_HAFT tables, the HA updates of
        the stage 2 leaves of the stage 1 table fetches) and the leaves' (HA)."""
        setup = self.setup
        va = int(self.va[i])
        fault = self.fault(i)
        s1 = s2 = None
        if self.s1_shift[i]:
            level = int(self.s1_level[i])
            p = setup.s1_params(va)
            s1 = s1_leaf(setup, p, self.s1_raw(i), level, "page" if level == FINAL_LEVEL else "block",
                         *R.hierarchical_attrs(int(self.s1_table_bits[i]), p.has_unprivileged))
        if setup.s2 is not None and self.s2_shift[i]:
            level = int(self.s2_level[i])
            s2 = s2_leaf(setup, self.s2_raw(i), level, "page" if level == FINAL_LEVEL else "block")
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
            el=self.el, pan=self.pan, notes=notes, s1ptw_af_updates=self.walk_af_updates(i))

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
           "perm_kind",
           "s1_desc", "s1_level", "s1_shift", "s1_table_bits", "s2_desc", "s2_level", "s2_shift", "table_af",
           "s1_desc_hi", "s2_desc_hi")


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


def _setup_checks(checks: Sequence[R.Check], p: Any, ia: np.ndarray, access: Access | None,
                  el: int, fixed: dict[int, bool] | None = None) -> tuple[list[tuple[np.ndarray, R.Check]], int | None]:
    """A stage's setup checks (:data:`pgwalk.rules.S1_SETUP_CHECKS`, ``S2_SETUP_CHECKS``) over the
    lanes of ``ia`` in order, each stopping only lanes no earlier check stopped (a check is a
    pure function of the lane: it is evaluated on every lane, or once when it does not look at
    the address, and its verdict counts where the lane still stands).  A check with no fault
    (an unknown table base) raises :class:`~pgwalk.errors.UnknownRegister` for the first lane
    that reaches it.  ``fixed`` keeps the verdicts of the checks that do not look at the address
    (by their place in ``checks``) for the next call with the same ``checks``, ``p``, ``access``
    and ``el`` (the next chunk of a batch).

    :returns: the lanes (indexes into ``ia``) each check stopped, in the checks' order, and the
        first lane that goes on to the walk (``None``: all of them go on; -1: none)
    """
    stops: list[tuple[np.ndarray, R.Check]] = []
    alive: np.ndarray | None = None       # the lanes no check stopped (None: all)
    for i, chk in enumerate(checks):
        if chk.per_address:
            hit = chk.test(p, ia, access, el)
            if alive is not None:
                hit &= alive
        elif _address_free_verdict(chk, i, p, ia, access, el, fixed):   # the same for every lane
            hit = np.ones(len(ia), dtype=bool) if alive is None else alive.copy()
        else:
            continue
        sel = np.flatnonzero(hit)
        if not len(sel):
            continue
        if chk.fault is None:
            raise UnknownRegister(getattr(p, "ttbr_name", "VTTBR_EL2"), int(ia[sel[0]]))
        stops.append((sel, chk))
        if alive is None:
            alive = ~hit
        else:
            alive &= ~hit
        if len(sel) == len(ia) or not alive.any():
            return stops, -1
    return stops, (None if alive is None else int(np.argmax(alive)))


def _address_free_verdict(chk: R.Check, i: int, p: Any, ia: np.ndarray, access: Access | None, el: int,
                          fixed: dict[int, bool] | None) -> bool:
    """Whether the check ``chk`` (``per_address`` False; ``i``: its place in its phase) holds, judged
    on the first lane of ``ia`` once and kept in ``fixed`` (:func:`_setup_checks`)."""
    verdict = None if fixed is None else fixed.get(i)
    if verdict is None:
        verdict = bool(chk.test(p, ia[:1], access, el)[0])
        if fixed is not None:
            fixed[i] = verdict
    return verdict


def _stand_in(ia: np.ndarray, stops: list[tuple[np.ndarray, R.Check]], first: int | None) -> np.ndarray:
    """``ia`` (a copy) with the address of the ``first`` live lane in place of every lane a
    setup check stopped: every lane walks, in order (no compaction, no scatter of the results),
    and the stopped lanes' outcomes are then set over what they walked (:meth:`_Walk.stop`)."""
    if not stops:
        return ia
    v = ia.copy()
    for lanes, _chk in stops:
        v[lanes] = ia[first]
    return v


def per_address_note(setup: TranslationSetup) -> str | None:
    """Why batches of this setup take the per-address engine (:class:`_ScalarLanes`), in one line;
    ``None``: they take the vectorised walk."""
    on = setup.d128_controls
    if not on:
        return None
    return (f"{' and '.join(on)} = 1: VMSAv9-128 (FEAT_D128) tables are walked one address at a time "
            "(the per-address walk), not vectorised")


def _engine(setup: TranslationSetup, mem: Memory, stages: str, access: Access | None, el: int, pan: bool,
            reader: DescriptorReader | None) -> "_Engine | _ScalarLanes":
    """The engine of a call: the vectorised walk (:class:`_Engine`), or the per-address one
    (:class:`_ScalarLanes`) for the setups the vectorised walk does not model (:func:`per_address_note`)."""
    if per_address_note(setup) is not None:
        return _ScalarLanes(setup, mem, stages, access, el, pan)
    return _Engine(setup, mem, stages, access, el, pan, reader)


class _ScalarLanes:
    """The per-address engine: :func:`pgwalk.walk.translate` for each lane (the one statement of every
    walk rule, VMSAv9-128 included), its outcome packed into the chunk's arrays (:func:`_pack`)."""

    #: the result arrays :meth:`run` writes in every lane (the others are zeros where it does not)
    WRITES: tuple[str, ...] = ()

    def __init__(self, setup: TranslationSetup, mem: Memory, stages: str, access: Access | None, el: int,
                 pan: bool) -> None:
        self.setup, self.mem, self.stages, self.access, self.el, self.pan = setup, mem, stages, access, el, pan

    def run(self, va: np.ndarray, out: "_Out") -> None:
        setup, mem, kw = self.setup, self.mem, dict(stages=self.stages, access=self.access, el=self.el, pan=self.pan)
        for j, v in enumerate(va.tolist()):
            _pack(out, j, translate(setup, mem, v, **kw), setup)


def _pack(out: "_Out", j: int, t: Translation, setup: TranslationSetup) -> None:
    """Lane ``j`` of a chunk's arrays (:class:`_Out`) from the scalar walk's translation ``t``: what
    :meth:`BulkTranslation.translation` gives back (``steps`` and the fault's ``reason`` aside)."""
    if t.ipa is not None:
        out.ipa[j] = t.ipa
    if t.pa is not None:                 # (without stage 2 ``pa`` is the ``ipa`` array, and t.pa == t.ipa)
        out.pa[j] = t.pa
    f = t.fault
    if f is not None:
        out.fault_type[j] = _CODE[f.type]
        out.fault_level[j] = f.level
        out.fault_stage[j] = f.stage
        out.not_in_image[j] = f.not_in_image
        out.perm_kind[j] = _perm_kind(f)
        if f.s1ptw:
            out.s1ptw[j] = True
        if f.stage == 2 and f.ipa is not None:
            out.fault_ipa[j] = f.ipa
    if t.s1 is not None:
        _pack_leaf(out, j, t.s1)
        hpd = setup.s1_params(t.va).hpd
        bits = 0
        for step in t.steps:             # the walk's table descriptors (rules.table_attr_bits, as the walk ORs them)
            if step.stage == 1 and step.kind == _TABLE_TEXT:
                bits |= R.table_attr_bits(step.raw, hpd)
        out.s1_table_bits[j] = bits
    if t.s2 is not None:
        _pack_leaf(out, j, t.s2)
    af = _af_bits(t.s1ptw_af_updates)
    if af:
        out.table_af[j] = af


def _pack_leaf(out: "_Out", j: int, leaf: Leaf) -> None:
    """Lane ``j``'s leaf fields of the leaf's stage (``s1_desc``, ``s1_desc_hi``, ``s1_level``, ``s1_shift``;
    ``s2_...``): its descriptor in two 64-bit halves (the upper one only of a VMSAv9-128 descriptor)."""
    stage = f"s{leaf.stage}_"
    getattr(out, stage + "desc")[j] = leaf.raw & _MASK64
    if leaf.raw >> 64:
        getattr(out, stage + "desc_hi")[j] = leaf.raw >> 64
    getattr(out, stage + "level")[j] = leaf.level
    getattr(out, stage + "shift")[j] = leaf.size_shift


_MASK64 = _ones(64)
_TABLE_TEXT = DescType.TABLE.text


def _perm_kind(f: Fault) -> int:
    """:attr:`BulkTranslation.perm_kind` of a fault: the :class:`~pgwalk.perms.PermFault` whose flags it
    carries (0: not a Permission fault)."""
    if f.type is not FaultType.PERMISSION:
        return 0
    return next(k.code for k in PERM_FAULT_KINDS
                if k is not None and all(getattr(f, name) == v for name, v in k.fault_flags.items()))


def _af_bits(updates: Iterable[AFUpdate]) -> int:
    """:attr:`BulkTranslation.table_af` of a walk's own Access flag updates
    (``Translation.s1ptw_af_updates``): the inverse of :meth:`BulkTranslation.walk_af_updates`."""
    bits = 0
    for u in updates:
        if u.stage == 1:                                 # a stage 1 table (FEAT_HAFT)
            bits |= 1 << (u.level + _LEVEL_BIAS)
        elif u.s1_level is None:                         # a table of the translation's own stage 2 walk
            bits |= 1 << (_AF_S2 + u.level + _LEVEL_BIAS)
        elif u.table:                                    # a stage 2 table of a stage 1 fetch
            bits |= 1 << (_AF_PTW + _TABLE_LEVELS * (u.s1_level + _LEVEL_BIAS) + u.level + _LEVEL_BIAS)
        else:                                            # the stage 2 leaf of a stage 1 fetch (HA)
            bits |= (u.level + _LEVEL_BIAS + 1) << (_AF_LEAF + _LEAF_BITS * (u.s1_level + _LEVEL_BIAS))
    return bits


class _Engine:
    """Everything :func:`translate_many` decides once per call."""

    #: the result arrays :meth:`run` writes in every lane, whatever the lane's outcome: they need
    #: not be zeroed first (a 2M-lane result: 32 MB less to clear); the others are zeros where it
    #: does not write them
    WRITES = ("ipa", "s1_desc")

    def __init__(self, setup: TranslationSetup, mem: Memory, stages: str, access: Access | None, el: int,
                 pan: bool, reader: DescriptorReader | None) -> None:
        setup.refuse_d128("the vectorised walk")          # (_engine takes _ScalarLanes for these)
        self.setup = setup
        self.rd = reader if reader is not None else DescriptorReader(mem)
        self.stages = stages
        self.access = access
        self.el = el
        self.pan = pan
        self.s2st = _s2_stage(setup)
        #: the verdicts of the setup checks that do not look at the address (_setup_checks)
        self.s1_fixed: list[dict[int, bool]] = [{} for _ in setup.ranges]
        self.s2_fixed: dict[int, bool] = {}
        self.through_s2 = R.s1_walk_through_s2(setup.regime, setup.s2 is not None)
        perm2 = setup.s2.perm if setup.s2 is not None else None
        #: FEAT_THE: VTCR_EL2.TL0/TL1 -- the top-level fetch of a stage 1 walk meets the TopLevel check
        self.tl = self.through_s2 and perm2 is not None and (perm2.tl0 or perm2.tl1)
        #: FEAT_THE, per VA range: the walk starts Assured (ASL AArch64.S1InitialTTWState) and its
        #: Assured property counts (VTCR_EL2.AssuredOnly): the walk state tracks it
        self.track = tuple(perm2 is not None and perm2.assuredonly
                           and R.s1_initial_assured(p.varange, perm2.tl0, perm2.tl1, self.through_s2)
                           for p in setup.ranges)
        pa_max = setup.features.pa_max
        self.s1st = [_Stage.make(1, p, pa_max, track) if p.start_level is not None and not p.config_fault else None
                     for p, track in zip(setup.ranges, self.track)]
        el0 = el == 0
        if access is not None:
            self.s1_allowed = [_verdicts(R.s1_permission_fault_table, p.has_unprivileged, p.hd, access, el0, pan,
                                         setup.epan, setup.wxn, p.perm) for p in setup.ranges]
        else:
            self.s1_allowed = None
        #: FEAT_THE: some stage 1 walk's Assured property is worked out
        self.assured = any(self.track)
        self.s2_allowed_assured = self.s2_mro = None
        self.s2_haft = False
        #: HA at stage 2 with stage 1 fetches through it: the fetches' stage 2 leaves get AF set
        self.s2_leaf_af = False
        #: the stage 2 permission tables of a stage 1 table fetch per top-level VA range (None: a lower
        #: level), not Assured so far and (FEAT_THE) Assured so far
        self.s2_fetch_kinds: dict[int | None, tuple[np.ndarray, np.ndarray | None]] = {}
        if setup.s2 is not None:
            hd, xnx = setup.s2.hd, setup.features.xnx
            self.s2_po, self.s2_ao = bool(perm2.s2poe), bool(perm2.assuredonly)
            self.s2_haft = bool(setup.s2.haft)
            self.s2_leaf_af = self.through_s2 and bool(setup.s2.ha)
            for top in {None} | ({p.varange for p in setup.ranges} if self.tl else set()):
                self.s2_fetch_kinds[top] = (
                    _verdicts(R.s2_permission_fault_table, hd, xnx, None, False, perm2, False, top),
                    _verdicts(R.s2_permission_fault_table, hd, xnx, None, False, perm2, True, top)
                    if self.assured else None)
            self.s2_allowed = _verdicts(R.s2_permission_fault_table, hd, xnx, access, el0, perm2) \
                if access is not None else None
            if self.s2_allowed is not None and self.s2_ao and self.assured:
                # the stage 2 AssuredOnly check after an Assured stage 1 translation
                self.s2_allowed_assured = _verdicts(R.s2_permission_fault_table, hd, xnx, access, el0, perm2, True)
            self.s2_mro = _verdicts(R.s2_mro_table, hd, xnx, perm2) if self.assured else None
        # the upper levels of each tree, read once per call (and per iter_translate)
        self.s2tree = (_Tree(self.rd, self.s2st, collect=self.s2_haft, fetch=None) if self.s2st is not None
                       else None)
        self.s1fetch = [self.fetcher(r) if self.through_s2 else None for r in range(len(setup.ranges))]
        self.s1trees = [None if st is None else _Tree(self.rd, st, collect=self.collect(r), fetch=self.s1fetch[r])
                        for r, st in enumerate(self.s1st)]

    def collect(self, r: int) -> bool:
        """The stage 1 walk of VA range ``r`` keeps its walk state per lane: hierarchical permissions
        (HPD = 0), table AF updates (FEAT_HAFT, its own or its fetches' stage 2 walks'), or the
        Assured property (FEAT_THE)."""
        p = self.setup.ranges[r]
        return not p.hpd or p.haft or self.track[r] or (self.through_s2 and self.s2_haft) or self.s2_leaf_af

    # -- stage 2 -------------------------------------------------------------

    def s2(self, ipa: np.ndarray, *, s1ptw: bool, s1assured: np.ndarray | None = None,
           toplevel: int | None = None) -> tuple[_Walk, np.ndarray]:
        """ASL ``AArch64.S2Translate`` for every lane: the setup checks, the walk, the leaf checks
        (those of a stage 1 table fetch with ``s1ptw``, of the top-level table of VA range
        ``toplevel`` or not; ``s1assured``: the lanes whose stage 1 translation, or walk so far, is
        Assured, FEAT_THE), and the PAs."""
        s2 = self.setup.s2
        m = len(ipa)
        if not m:
            return _Walk(0, 2, self.s2_haft, False), ipa
        stops, first = _setup_checks(R.S2_SETUP_CHECKS, s2, ipa, self.access, self.el, self.s2_fixed)
        if first != -1:
            w = _walk(self.rd, self.s2st, _stand_in(ipa, stops, first), collect=self.s2_haft, tree=self.s2tree,
                      own=bool(stops))
        else:
            w = _Walk(m, 2, self.s2_haft, False)
        for lanes, chk in stops:
            w.stop(lanes, _CODE[chk.fault], chk.level, 2)
        kinds, assured = self.s2_fetch_kinds[toplevel] if s1ptw else (self.s2_allowed, self.s2_allowed_assured)
        if s1assured is None or not s1assured.any():
            assured = None
        if isinstance(kinds, _UnknownVerdicts):
            _leaf_checks(R.S2_WALK_LEAF_CHECKS if s1ptw else R.LEAF_CHECKS, s2, w, kinds.judge(w))
        elif kinds is not None:
            def kind(raw: np.ndarray, lanes: Any = None) -> np.ndarray:
                code = R.s2_permission_code(raw, self.s2_po, self.s2_ao)
                if assured is None:
                    return kinds[code]
                return np.where(s1assured if lanes is None else s1assured[lanes], assured[code], kinds[code])

            _leaf_checks(R.S2_WALK_LEAF_CHECKS if s1ptw else R.LEAF_CHECKS, s2, w, lambda raw: kind(raw) != 0,
                         kind if _has_flags(kinds) else None)
        else:
            _leaf_checks(R.LEAF_CHECKS, s2, w, _no_lanes)
        return w, w.out

    def fetcher(self, r: int) -> Fetch:
        """The stage 1 descriptor fetches of VA range ``r`` (:meth:`fetch`)."""
        def fetch(addr: np.ndarray, level: int, tbl: np.ndarray | None) -> tuple[
                np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
            return self.fetch(r, addr, level, tbl)
        return fetch

    def fetch(self, r: int, addr: np.ndarray, level: int, tbl: np.ndarray | None) -> tuple[
            np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """The stage 1 descriptor fetches at ``level`` of VA range ``r`` through stage 2 (S1PTW;
        ASL ``CreateAccDescS1TTW``: FEAT_THE's TopLevel check for the top-level table, the
        AssuredOnly check with each walk's Assured property so far, from its state ``tbl``), with
        the walk-state bits they add to the stage 1 walks: their stage 2 table AF updates
        (FEAT_HAFT) and whether their stage 2 leaf is MostlyReadOnly (FEAT_THE)."""
        p = self.setup.ranges[r]
        toplevel = p.varange if self.tl and level == p.start_level else None
        s1assured = _assured_so_far(tbl) if self.track[r] and tbl is not None else None
        w, pa = self.s2(addr, s1ptw=True, s1assured=s1assured, toplevel=toplevel)
        state = None
        if self.s2_haft and w.tbl is not None:
            state = _own_table_af(w.tbl) << _U64(_ST_PTW + _TABLE_LEVELS * (level + _LEVEL_BIAS))
        if self.s2_leaf_af:                 # ASL AArch64.S2Translate: the fetch's leaf gets AF set (HA)
            upd = (w.code == 0) & R.leaf_af_update(w.raw, self.setup.s2.ha)
            code = (w.level.astype(np.int64) + (_LEVEL_BIAS + 1)).astype(_U64) * upd
            bits = code << _U64(_ST_LEAF + _LEAF_BITS * (level + _LEVEL_BIAS))
            state = bits if state is None else state | bits
        if isinstance(self.s2_mro, _UnknownVerdicts):
            self.s2_mro.check(w)
        elif self.s2_mro is not None:
            nmro = ~self.s2_mro[R.s2_permission_code(w.raw, self.s2_po, self.s2_ao)]
            bits = nmro.astype(_U64) << _U64(_ST_NMRO + level + _LEVEL_BIAS)
            state = bits if state is None else state | bits
        return pa, w.code, w.level, w.nii, w.pkind, state

    # -- stage 1 -------------------------------------------------------------

    def s1_range(self, r: int, va: np.ndarray, out: "_Out", lanes: np.ndarray | None) -> None:
        """ASL ``AArch64.S1Translate`` for the lanes of VA range ``r``."""
        p = self.setup.ranges[r]

        def at(sel: np.ndarray | None) -> np.ndarray | slice:
            if lanes is None:
                return slice(None) if sel is None else sel
            return lanes if sel is None else lanes[sel]

        stops, first = _setup_checks(R.S1_SETUP_CHECKS, p, va, self.access, self.el, self.s1_fixed[r])
        if first == -1:
            for sel, chk in stops:
                out.fault(at(sel), _CODE[chk.fault], chk.level, 1)
            out.ipa[at(None)] = 0
            out.s1_desc[at(None)] = 0
            return
        where = at(None)
        st = self.s1st[r]
        collect = self.collect(r)
        later = [] if out.later is not None else None
        w = _walk(self.rd, st, _stand_in(va, stops, first), collect=collect, fetch=self.s1fetch[r],
                  tree=self.s1trees[r], own=bool(stops), later=later)
        if later:
            out.later.extend(_compose(where, lanes) for lanes in later)
        for sel, chk in stops:
            w.stop(sel, _CODE[chk.fault], chk.level, 1)
        kinds = None
        table = self.s1_allowed[r] if self.s1_allowed is not None else None
        if isinstance(table, _UnknownVerdicts):
            judge = table.judge(w)
        elif table is not None:
            tb_all = w.tbl & _U64(_TB_MASK) if collect else np.zeros(len(va), dtype=_U64)
            po = bool(p.perm.overlay)

            def judge(raw: np.ndarray) -> np.ndarray:
                return table[R.s1_permission_code(raw, tb_all, po)] != 0

            def kinds(raw: np.ndarray, lanes: np.ndarray) -> np.ndarray:
                return table[R.s1_permission_code(raw, tb_all[lanes], po)]

            if not _has_flags(table):
                kinds = None
        else:
            judge = _no_lanes
        reached = w.code == 0
        ok = _leaf_checks(R.LEAF_CHECKS, p, w, judge, kinds)
        if out.s1assured is not None and st.assured:   # ASL AArch64.S1InitialTTWState, S1NextWalkStateLeaf
            out.s1assured[where] = _assured_step(w.tbl, w.level, w.raw, p.pnch)
        if collect and (p.haft or self.s2_haft or self.s2_leaf_af):
            out.table_af[where] = _table_af(w.tbl)
        if lanes is None:
            out.from_walk(w, ok, reached, st, collect)
            return
        # every walked lane's leaf fields, then those of the lanes that faulted cleared
        out.ipa[where] = w.out
        out.s1_desc[where] = w.raw
        out.s1_level[where] = w.level
        out.s1_shift[where] = st.leafsize(w.level)
        if collect:
            out.s1_table_bits[where] = w.tbl & _U64(_TB_MASK)
        failed = np.nonzero(~ok)[0]
        if len(failed):
            dst = _compose(where, failed)
            for a in (out.ipa, out.s1_desc, out.s1_level, out.s1_shift, out.s1_table_bits):
                a[dst] = 0
            out.fault_from(dst, w, failed)

    def s1_disabled(self, va: np.ndarray, out: "_Out") -> None:
        """ASL ``AArch64.S1DisabledOutput`` for every lane."""
        setup = self.setup
        pa_max = setup.features.pa_max
        for r, lanes in _range_lanes(setup, va):
            p = setup.ranges[r]
            v = va if lanes is None else va[lanes]
            bad = R.s1_disabled_out_of_range(v, pa_max, R.addr_top(p.tbi, p.tbid, self.access is Access.EXEC))
            if bad.any():
                idx = np.nonzero(bad)[0]
                out.fault(idx if lanes is None else lanes[idx], _CODE[FaultType.ADDRESS_SIZE], 0, 1)
        out.ipa[:] = R.s1_disabled_output(va)
        out.s1_desc[:] = 0

    def s2_final(self, out: "_Out", lanes: np.ndarray | None) -> None:
        """The stage 2 translation of the stage 1 outputs (or of the input IPAs)."""
        ipa = out.ipa if lanes is None else out.ipa[lanes]
        s1assured = out.s1assured
        if s1assured is not None and lanes is not None:
            s1assured = s1assured[lanes]
        w, pa = self.s2(ipa, s1ptw=False, s1assured=s1assured)
        if self.s2_haft and w.tbl is not None:
            af = _own_table_af(w.tbl) << _U64(_AF_S2)
            if lanes is None:
                out.table_af |= af
            else:
                out.table_af[lanes] |= af
        ok = np.nonzero(w.code == 0)[0]
        dst = ok if lanes is None else lanes[ok]
        if len(ok):
            out.pa[dst] = pa[ok]
            out.s2_desc[dst] = w.raw[ok]
            out.s2_level[dst] = w.level[ok]
            out.s2_shift[dst] = self.s2st.leafsize(w.level[ok])
        failed = np.nonzero(w.code != 0)[0]
        if len(failed):
            dst = failed if lanes is None else lanes[failed]
            out.fault_from(dst, w, failed, stage2_ipa=ipa[failed])

    def run(self, va: np.ndarray, out: "_Out") -> None:
        stages = self.stages
        setup = self.setup
        if self.s2_allowed_assured is not None and stages == "12" and setup.s1_enabled:
            out.s1assured = np.zeros(len(va), dtype=bool)
        if stages in ("1", "12"):
            if not setup.s1_enabled:
                self.s1_disabled(va, out)
            else:
                for r, lanes in _range_lanes(setup, va):
                    self.s1_range(r, va if lanes is None else va[lanes], out, lanes)
        else:
            out.ipa[:] = va
            out.s1_desc[:] = 0
        if stages in ("2", "12") and setup.s2 is not None:
            ok = out.fault_type == 0
            if ok.all():
                self.s2_final(out, None)
            else:
                self.s2_final(out, np.nonzero(ok)[0])


def _compose(where: np.ndarray | slice, idx: np.ndarray) -> np.ndarray:
    """Positions in the chunk of the walked lanes ``idx``."""
    return idx if isinstance(where, slice) else where[idx]


def _range_lanes(setup: TranslationSetup, va: np.ndarray) -> list[tuple[int, np.ndarray | None]]:
    """ASL ``AArch64.GetVARange``: the range of every lane; ``None`` = every lane."""
    if len(setup.ranges) < 2 or not len(va):
        return [(0, None)]
    # VA[55] set in every lane (the AND of the lanes has it), or in none (nor has their OR)
    if R.va_range(np.bitwise_and.reduce(va, initial=_U64(_MASK64))):
        return [(1, None)]
    if not R.va_range(np.bitwise_or.reduce(va, initial=_U64(0))):
        return [(0, None)]
    upper = R.va_range(va).astype(bool)
    n_up = int(np.count_nonzero(upper))
    if n_up == 0:
        return [(0, None)]
    if n_up == len(va):
        return [(1, None)]
    return [(0, np.nonzero(~upper)[0]), (1, np.nonzero(upper)[0])]


class _Out:
    """The result arrays of one chunk (views into the whole result), and the lanes whose stage 1
    translation is Assured (FEAT_THE; ``None``: none, or not needed)."""

    def __init__(self, res: BulkTranslation, s: slice, later: bool = False) -> None:
        """``later``: the walk may leave lanes to be walked later (:func:`_walk`); their positions in
        the chunk are kept in :attr:`later`, their outcomes here mean nothing until then."""
        for name in _ARRAYS:
            setattr(self, name, getattr(res, name)[s])
        self.s1assured: np.ndarray | None = None
        self.later: list[np.ndarray] | None = [] if later else None

    def fault(self, where: np.ndarray | slice, code: int, level: int, stage: int) -> None:
        self.fault_type[where] = code
        self.fault_level[where] = level
        self.fault_stage[where] = stage

    def from_walk(self, w: _Walk, ok: np.ndarray, reached: np.ndarray, st: _Stage, collect: bool) -> None:
        """Every lane's stage 1 outcome from its walk ``w`` (one lane each, in order), into arrays
        no lane has written yet (zeros): the leaf fields where the translation stands (``ok``),
        the fault fields where it does not.  ``reached``: the lanes whose walk read a leaf (before
        the leaf checks); the others' output address and descriptor are zero in ``w``
        (:class:`_Walk`), so those two are copied whole, and cleared where a leaf check stopped
        the lane.  The small fields are masked by multiplying with ``ok`` (no lane index), as
        bytes 0 or 1 (a bool operand would be cast lane by lane)."""
        np.copyto(self.ipa, w.out)
        np.copyto(self.s1_desc, w.raw)
        ok8 = ok.view(np.uint8)
        np.multiply(w.level, ok8.view(np.int8), out=self.s1_level)
        np.multiply(st.leafsize(w.level).view(np.uint8), ok8, out=self.s1_shift)
        if collect:                                     # (the table bits are the low ones)
            np.bitwise_and(w.tbl, _U64(_TB_MASK), out=self.s1_table_bits, casting="unsafe")
            self.s1_table_bits *= ok8
        np.copyto(self.fault_type, w.code)              # 0 where the translation stands
        if ok.all():
            return
        late = np.flatnonzero(reached & ~ok) if np.count_nonzero(reached) != np.count_nonzero(ok) else ()
        if len(late):                                   # stopped by a leaf check
            self.ipa[late] = 0
            self.s1_desc[late] = 0
        failed = ~ok
        np.subtract(w.level, self.s1_level, out=self.fault_level)
        np.multiply(w.stage, failed.view(np.uint8), out=self.fault_stage)
        np.logical_and(w.nii, failed, out=self.not_in_image)
        np.multiply(w.pkind, failed.view(np.uint8), out=self.perm_kind)
        if w.s1ptw is not None:
            np.logical_and(w.s1ptw, failed, out=self.s1ptw)
            np.copyto(self.fault_ipa, w.fipa, where=failed)

    def fault_from(self, dst: np.ndarray, w: _Walk, idx: np.ndarray, stage2_ipa: np.ndarray | None = None) -> None:
        self.fault_type[dst] = w.code[idx]
        self.fault_level[dst] = w.level[idx]
        self.fault_stage[dst] = w.stage[idx]
        self.not_in_image[dst] = w.nii[idx]
        self.perm_kind[dst] = w.pkind[idx]
        if w.s1ptw is not None:
            self.s1ptw[dst] = w.s1ptw[idx]
            self.fault_ipa[dst] = w.fipa[idx]
        elif stage2_ipa is not None:
            self.fault_ipa[dst] = stage2_ipa


def _empty_result(setup: TranslationSetup, va: np.ndarray, stages: str, access: Access | None, el: int,
                  pan: bool, unset: Sequence[str] = ()) -> BulkTranslation:
    """The result arrays of a call, zeros but for ``unset`` (the engine's ``WRITES``: every lane
    is written)."""
    n = len(va)
    has_s2 = setup.s2 is not None
    fields: dict[str, tuple[Any, bool]] = {
        "ipa": (_U64, True), "pa": (_U64, has_s2 and stages != "1"),
        "fault_type": (np.uint8, True), "fault_level": (np.int8, True), "fault_stage": (np.uint8, True),
        "s1ptw": (bool, has_s2), "not_in_image": (bool, True), "fault_ipa": (_U64, has_s2), "perm_kind": (np.uint8, True),
        "s1_desc": (_U64, True), "s1_level": (np.int8, True), "s1_shift": (np.uint8, True),
        "s1_table_bits": (np.uint8, True), "s2_desc": (_U64, has_s2), "s2_level": (np.int8, has_s2),
        "s2_shift": (np.uint8, has_s2),
        "table_af": (_U64, any(p.haft for p in setup.ranges) or (has_s2 and setup.s2.haft)
                     or (has_s2 and setup.s2.ha and stages != "2" and R.s1_walk_through_s2(setup.regime, True))),
        "s1_desc_hi": (_U64, any(p.d128 for p in setup.ranges)), "s2_desc_hi": (_U64, has_s2 and setup.s2.d128)}
    # an array no lane writes is a read-only zero; the others of one item size are the rows of
    # one zeroed block: two large allocations, whose pages the kernel can map in large pages,
    # not a dozen arrays each faulted in page by page as the chunks first write them
    arrays = {name: np.broadcast_to(np.zeros((), dtype=dt), (n,)) for name, (dt, needed) in fields.items()
              if not needed}
    for size in (8, 1):
        names = [name for name, (dt, needed) in fields.items() if needed and np.dtype(dt).itemsize == size]
        for make, part in ((np.zeros, [m for m in names if m not in unset]), (np.empty, [m for m in names if m in unset])):
            for row, name in zip(make((len(part), n), dtype=f"u{size}"), part):
                arrays[name] = row.view(fields[name][0])
    if not fields["pa"][1]:
        arrays["pa"] = arrays["ipa"]
    return BulkTranslation(setup=setup, stages=stages, access=access, el=el, pan=pan, va=va, **arrays)


def translate_many(setup: TranslationSetup, mem: Memory, vas: Iterable[int] | np.ndarray, *,
                   stages: str | None = None, access: Access | None = None, el: int = 1, pan: bool = False,
                   chunk: int = CHUNK, reader: DescriptorReader | None = None) -> BulkTranslation:
    """Translate every address of ``vas`` the way :func:`pgwalk.walk.translate` does, vectorised (a
    setup with a VMSAv9-128 stage: by the per-address engine, :func:`per_address_note`).

    >>> res = translate_many(setup, mem, np.array([0xffff800000201234], dtype=np.uint64))  # doctest: +SKIP
    >>> hex(int(res.pa[0])), bool(res.ok[0])

    :param vas: input addresses (uint64 array, or anything ``np.asarray`` turns into one)
    :param stages, access, el, pan: as :func:`pgwalk.walk.translate`
    :param chunk: lanes walked together (memory use is proportional to it)
    :param reader: a :class:`DescriptorReader` to reuse across calls on the same memory
    :returns: a :class:`BulkTranslation`; faults are values in its arrays, never raised
    :raises ValueError: for ``stages`` the registers do not allow (as the scalar walker)
    """
    stages = R.walk_stages(stages, setup.s2 is not None)
    va = np.ascontiguousarray(np.asarray(vas, dtype=_U64))
    if va.ndim != 1:
        va = va.ravel()
    eng = _engine(setup, mem, stages, access, el, pan, reader)
    return _run(eng, va, chunk)


def _run(eng: "_Engine | _ScalarLanes", va: np.ndarray, chunk: int, later: bool = True) -> BulkTranslation:
    """The result of ``eng`` for every lane of ``va``, walked ``chunk`` lanes at a time (:func:`_chunks`);
    the lanes the chunks left for later (:func:`_walk`, ``later``) walked together, at the end or
    once :data:`LATER_FLUSH` of them are pending."""
    res = _empty_result(eng.setup, va, eng.stages, eng.access, eng.el, eng.pan, eng.WRITES)
    left: list[np.ndarray] = []
    count = 0
    for sl in _chunks(len(va), chunk):
        out = _Out(res, sl, later)
        eng.run(va[sl], out)
        if out.later:
            left.extend(lanes + sl.start for lanes in out.later)
            count += sum(map(len, out.later))
            if count >= LATER_FLUSH:
                _run_later(eng, va, res, left, chunk)
                left, count = [], 0
    if left:
        _run_later(eng, va, res, left, chunk)
    return res


def _run_later(eng: "_Engine | _ScalarLanes", va: np.ndarray, res: BulkTranslation, left: list[np.ndarray],
               chunk: int) -> None:
    """Walk the lanes ``left`` of ``va`` that chunks left for later (:func:`_run`) into ``res``; the
    walks teach the engine's trees their entries, so that the chunks after recall them."""
    pos = np.concatenate(left)
    sub = _run(eng, va[pos], chunk, later=False)
    done: set[int] = set()
    for name in _ARRAYS:
        dst = getattr(res, name)
        # (not the input addresses, nor an array twice: pa is ipa without stage 2; nor a
        # read-only zero no lane writes)
        if name != "va" and id(dst) not in done and dst.flags.writeable:
            dst[pos] = getattr(sub, name)
            done.add(id(dst))


def _chunks(n: int, chunk: int) -> Iterator[slice]:
    """The slices of ``n`` lanes walked together: ``chunk`` lanes each, but for a first one of
    at most :data:`FIRST_CHUNK` (it meets the upper levels' tables cold: :class:`_Tree`)."""
    chunk = max(1, chunk)
    s = min(n, chunk, FIRST_CHUNK) if n > chunk else n
    if s:
        yield slice(0, s)
    for s in range(s, n, chunk):
        yield slice(s, min(n, s + chunk))


def pack_translations(setup: TranslationSetup, translations: Sequence[Translation], *, stages: str | None = None,
                      access: Access | None = None, el: int = 1, pan: bool = False) -> BulkTranslation:
    """The translations of the scalar walk (:func:`pgwalk.walk.translate` of ``setup``, each with these
    ``stages``, ``access``, ``el`` and ``pan``) as one :class:`BulkTranslation`, a lane each, in order:
    what the per-address engine makes (for a caller that walked the addresses itself, such as
    :func:`pgwalk.at_many.bulk_at` through :func:`pgwalk.at.at`)."""
    stages = R.walk_stages(stages, setup.s2 is not None)
    res = _empty_result(setup, np.array([t.va for t in translations], dtype=_U64), stages, access, el, pan)
    out = _Out(res, slice(None))
    for j, t in enumerate(translations):
        _pack(out, j, t, setup)
    return res


def mark_contents(res: BulkTranslation, mem: Any) -> BulkTranslation:
    """``res`` with :attr:`BulkTranslation.contents_missing` filled from ``mem``
    (:meth:`pgwalk.memory.PhysicalMemory.contents_missing_mask`: a dump's bitmaps decide)."""
    from .records import replace

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
    stages = R.walk_stages(stages, setup.s2 is not None)
    va = np.ascontiguousarray(np.asarray(vas, dtype=_U64)).ravel()
    eng = _engine(setup, mem, stages, access, el, pan, reader)
    for s in range(0, len(va), max(1, block)):
        yield _run(eng, va[s:s + block], chunk)


