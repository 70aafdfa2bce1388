"""Whole-tree walks: a visitor over a VA range of one translation-table tree
(Arm ARM DDI 0487 M.a.a; the walk parameters and descriptor decoding of
:mod:`pgwalk.params` and :mod:`pgwalk.walk`).

:func:`walk_tree` walks one tree (a TTBR's or VTTBR_EL2's) over a range of
input addresses and calls a :class:`TreeVisitor` in address order, with the
three visit kinds of the kernel's stand-alone walker (KVM's
``KVM_PGTABLE_WALK_TABLE_PRE``, ``_LEAF`` and ``_TABLE_POST``):

* ``table_pre(TableInfo)`` before a table's entries, ``table_post`` after;
* ``run(Run)`` for leaf entries: a :class:`Run` is one or more consecutive
  entries of one table with the same kind and attributes whose outputs
  continue each other (``merge=False``: always one entry).  Invalid entries
  come as runs of kind ``"invalid"`` when asked (``invalid=True``).

dump-tree's tree view (:class:`TreeLines`), its ranges view
(:class:`RangeMerger`) and ``--stats`` (:class:`TreeStats`) are visitors.

Each table is read with one memory read and decoded whole with numpy masks
derived from the field tables of :mod:`pgwalk.formats.descriptors` (the
next-level tables of a table, when they follow each other in memory, with one
read, and those that are each one run of leaves found together); the
descriptor type comes from :func:`~pgwalk.rules.descriptor_types`,
output addresses from :func:`~pgwalk.rules.leaf_base` and table addresses from
:func:`~pgwalk.rules.next_table_base`, the checks on a table descriptor from
:data:`~pgwalk.rules.TABLE_CHECKS`, the hierarchical attributes from
:func:`~pgwalk.rules.table_attr_bits`: the rule kernel every walk calls, so this
walk and ``translate`` cannot disagree.  The attributes and permissions of each distinct descriptor
pattern are decoded once (:class:`LeafAttrs`), with the hierarchical
APTable/UXNTable/PXNTable/NSTable of the path applied.

Hostile and broken trees
------------------------
* A table already walked at the same level (``(level, PA)``) through a path
  with the same state (hierarchical attributes, FEAT_THE's Assured property,
  Access flag updates: what its leaves' attributes depend on) is not walked
  again: it is reported with :attr:`TableStatus.REFERENCE` and the VA where
  it was walked.  Reached through a path whose state differs, it is walked
  again, so every leaf is judged for its own path.  A table that points at
  itself is therefore walked a bounded number of times per level (the
  path's state only accumulates), and :class:`Limits` bounds the rest.
* A table outside the image (:attr:`TableStatus.NOT_IN_IMAGE`), beyond the
  output size (``BEYOND_OA``) or unreachable through stage 2 (``S2_FAULT``)
  is reported and the walk goes on.  A table only part of which can be read
  (the image ends inside it, stage 2 maps only some of its pages) is walked
  where it can be, as ``translate`` reads only the descriptors it needs; its
  ``TableInfo.note`` names the entries not read and it counts in
  ``WalkSummary.problems``.
* :class:`Limits` caps the tables and descriptors read; the walk then stops
  and :attr:`WalkSummary.stopped` says ``"stopped after N tables: limit
  reached ..."``.
* RES0 bits, blocks at levels where none are allowed (kind ``"illegal
  block"``), reserved level 3 descriptors (``"reserved"``), misaligned block
  outputs, outputs beyond the output size and AF = 0 without hardware AF
  update are flagged in :attr:`LeafAttrs.flags` (tables: ``TableInfo.flags``).

Output addresses
----------------
``Run.oa`` is the descriptor's output: a PA, or an IPA for a stage 1 tree
under stage 2.  ``Run.pa`` is the final PA: ``oa`` itself, or (two stages)
the stage 2 translation of it; ``None`` when only stage 1 was asked for.
Under stage 2 every stage 1 table is located through stage 2, as the
hardware fetches it, with the fetch's checks (S2AP read, HCR_EL2.PTW, and
FEAT_THE's TopLevel and AssuredOnly checks with the walk's Assured property
so far); a refused fetch makes the table :attr:`TableStatus.S2_FAULT`.

Access flag updates
-------------------
With HA (and FEAT_HAFT for table descriptors) the walks would set AF in
descriptors whose AF is 0: :attr:`TableInfo.af_updates` (the descriptor
pointing at a table, the stage 2 walks fetching it) and :attr:`Run.af_updates`
(everything a translation of the run's addresses updates, as
``Translation.af_updates``); runs break where these differ.

Two stages
----------
With ``final_pa`` (``dump-tree --stage 12``) every leaf output is looked up
in stage 2 the way ``translate`` does it (:func:`pgwalk.bulk.translate_many`,
whole batches of leaves at once), and a run says what *both* stages make of
every byte in it (:class:`Stage2`): the final attributes combined by
:func:`~pgwalk.walk.stage2_attributes` (``S2CombineS1MemAttrs``, FWB = 1,
HCR_EL2.CD, CONSTRAINED UNPREDICTABLE marks), the stage 2 permissions, or
the stage 2 fault.  Runs break where that outcome changes or the PA stops
continuing.  A stage 1 leaf that stage 2 maps in pieces that differ (in
attributes, permissions, faults, or PAs that do not continue) is split into
those pieces: such runs cover part of one descriptor (``Run.length``,
``partial`` in JSON).  Each lookup counts as one descriptor read against
:attr:`Limits.max_entries`.

JSON records (schema 1)
-----------------------
``pgwalk dump-tree --json`` writes JSON Lines: one object per line, each with
a ``"record"`` key and (since issue 14, every record, not only the summary) a
``"schema"`` key, and a final ``"summary"`` record (``pgwalk schema dump-tree``).  Addresses and raw
descriptors are hex strings; ``va_end`` is exclusive (``"0x10000000000000000"``
for the top of the address space); for the stage 2 tree ``va_*`` are IPAs.

``"range"`` (ranges view; ``"entries"`` in the tree view, same keys plus
``depth``, ``last``, ``index``, ``table``)::

    {"record": "range", "tree": "TTBR1_EL1", "va_start": "0x...", "va_end": "0x...",
     "size": 2097152, "level": 3, "kind": "page" | "block" | "illegal block" | "reserved"
             | "invalid" | "table",
     "count": 512,                     # descriptors in the range
     "entry_size": 4096,               # bytes one descriptor maps
     "mapped": true,                   # kind is block or page
     "pa_start": "0x..." | null,       # final PA (null: invalid, or stage 1 only under stage 2)
     "ipa_start": "0x...",             # only for a stage 1 tree under stage 2
     "raw": "0x...",                   # the first descriptor
     "memtype": "Normal" | "Device" | null,
     "attributes": null | {as translate's "attributes"},
     "permissions": null | {"el1": "rw-", "el0": "---"} (one-EL regimes: "el2"/"el3";
                    stage 2: "stage2_el1", "stage2_el0"),
     "attr_index": 0 | null,           # 0..15 with FEAT_AIE (8..15 select MAIR2_ELx)
     "sh": "ISH" | null,
     "indirection": null | {...},      # FEAT_S1PIE/S2PIE/S1POE/S2POE on: see below
     "af": bool, "ng": bool, "dbm": bool, "contiguous": bool, "gp": bool, "ns": bool,
     "ns_table": bool,
     "af_updates": null | [{"stage": 1 | 2, "level": int, "s1_level": int | null, "table": bool}],
                                       # the descriptors whose Access flag a translation of any address
                                       # of the range sets, as translate --json --trace lists them
                                       # (Run.af_updates; null: invalid runs, tables not walked)
     "flags": [str],                   # anomalies (RES0 bits, misaligned output, ...)
     "nonzero": 0,                     # invalid: entries whose descriptor is not 0
     "status": null | str,             # kind "table": why the table was not walked
     "note": str}

``"indirection"`` (issue 17) is null unless the tree's stage uses permission indirection or an
overlay; then, for the descriptor's PIIndex and POIndex (:func:`leaf_indirection`)::

     {"pi_index": 0..15 | null,        # desc<54:53,51,6> (null: no indirection, overlay only)
      "pir": "0b1100" | null, "pir_meaning": "RW",          # PIR_ELx[PIIndex] (S2PIR_EL2 at stage 2)
      "pire0": "0b0001" | null, "pire0_meaning": "R, overlay",   # PIRE0_ELx[PIIndex] (two-EL regimes)
      "po_index": 0..7 | 0..15 | null, # POIndex desc<62:60> (S2POIndex desc<62:59>) when an overlay is on
      "overlay": null | {"el1": "rw-", "el0": "r--"} | {"stage2": "rw", ...},  # the overlay's own
                                        # permissions where it applies (POR_ELx / POR_EL0 / S2POR_EL1)
      "unknown": null | "PIR_EL1",      # a register the permissions need was not given
      "text": "PI 12 PIR RW PIRE0 ---; PO 2 EL1 rw- EL0 r--"}    # what the text views print

The permissions (``"permissions"``) are then those the PIR entries and overlays give.

A stage 1 tree under stage 2 with final PAs (``--stage 12``) changes and adds
these keys; every byte of the range translates (``translate``) to
``pa_start`` plus its offset, with exactly these ``attributes`` and
``permissions``, or faults at stage 2 as ``fault`` says::

     "memtype", "attributes": the final attributes (translate's "attributes":
                    stage 1 combined with stage 2); null on a stage 2 fault,
     "s1_attributes": null | {...},    # the stage 1 leaf's own (MAIR[AttrIndx], SH)
     "stage2": null | {"level": 3, "kind": "page" | "block", "raw": "0x...",   # the stage 2 leaf
                       "memattr": 15, "fwb": false,                          # of the first byte
                       "attributes": null | {...}},   # its own attributes (null with FWB = 1: MemAttr
                                                      # then only says how to combine)
     "fault": null | {"type", "level", "stage": 2, "s1ptw": false, "fsc", "fsc_hex",
                      "description", "not_in_image"},   # stage 2 faults on the output (translate's
                                                        # "fault" without "ipa" and "reason")
     "permissions": {"el1", "el0", "stage2_el1", "stage2_el0"} as translate reports them
                    (no stage2_* on a stage 2 fault),
     "effective_permissions": null | {"el1": "r--", "el0": "---"},   # what both stages allow
                    (PAN off): a letter where translate --access allows that access,
     "partial": bool,                  # the range starts or ends inside a stage 1 descriptor that
                                       # stage 2 maps in differing pieces; "count" then counts the
                                       # descriptors touched and "size" the bytes covered
     "mapped": true                    # (the stage 1 descriptor maps; see "fault" for stage 2)

``"table"`` (tree view)::

    {"record": "table", "tree": ..., "depth": 0, "last": bool, "level": 0, "index": null | int,
     "table": "0x...",                 # address as referenced (an IPA under stage 2)
     "pa": "0x..." | null, "va_start", "va_end", "entries": 512, "valid": 3 | null,
     "status": "ok" | "reference" | "not in image" | "stage 2 fault" | "beyond output size"
               | "not expanded",
     "descriptor": "0x..." | null, "flags": [str], "note": str, "first_va": "0x..." | null,
     "inherited": {"APTable": 0, "UXNTable": false, "PXNTable": false, "NSTable": false},
     "af_updates": [{...}]}            # TableInfo.af_updates: FEAT_HAFT on the descriptor pointing here
                                       # (level - 1), then the stage 2 walks fetching it (s1_level: level)

``"summary"`` (last line)::

    {"record": "summary", "schema": 1, "view": "ranges" | "tree" | "stats",
     "trees": [{"tree", "base", "granule", "iasize", "start_level", "stage", "disabled"}],
     "tables": int, "entries": int, "ranges": int, "stopped": null | str, "notes": [str],
     "s2_lookups": int,                # --stage 12: stage 2 lookups of leaf outputs
     "stats": {...}  (with --stats; see :meth:`TreeStats.to_dict`)}

In the tree view ``depth`` and ``last`` (last child of its parent) give the
shape; leaf runs shorter than :data:`FOLD_MIN` come one descriptor a record.
"""

from __future__ import annotations

import bisect
import enum
import functools
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import attrs as A
from .errors import InputError, NotInImage
from .faults import Fault
from .formats import descriptors as D
from .params import FINAL_LEVEL, S1WalkParams, TranslationSetup, descsize_log2, granule_name, oa_out_of_range
from .records import field, named_tuple, record, replace
from .perms import Access, S1Perms, S2Perms, rwx_text, s1_check, s1_rwx_text, s2_check, s2_mro
from .rules import (
    S1_TREE_CHECKS, S2_TREE_CHECKS, TABLE_CHECKS, DescType, af_fault, contiguous_bit, s1_walk_through_s2, descriptor_types, hierarchical_attrs,
    d128_descriptor_types, d128_skl, descriptor_bytes, invalid_descriptor_reason,
    leaf_base, level_shift, next_table_base, pi_index, s1_assured_step, s1_initial_assured, stage_oa, table_af_update,
    table_attr_bits, table_entries, table_index, tree_disabled, TABLE_ATTR_BITS, TABLE_ATTR_LSB,
)
from .walk import AFUpdate, Leaf, s1_leaf, s2_leaf, s2_lookup, stage2_attributes

if TYPE_CHECKING:  # pragma: no cover
    from .walk import Memory

__all__ = [
    "Visit", "TableStatus", "TreeParams", "tree_params", "Limits", "TableInfo", "LeafAttrs", "Stage2", "Run",
    "TreeVisitor", "WalkSummary", "walk_tree", "collect_runs", "RangeMerger", "TreeStats", "TreeLines", "StopWalk",
    "LeafRuns",
    "leaf_permissions", "leaf_indirection", "effective_permissions", "run_record", "table_record", "tree_record",
    "af_updates_list", "FOLD_MIN", "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1
#: tree view: leaf runs of at least this many descriptors are folded into one line
FOLD_MIN = 3

_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
#: D128: SKL in the upper 64-bit word of a descriptor
_SKL_HI = D.D128_SKL.__class__(D.D128_SKL.name, D.D128_SKL.msb - 64, D.D128_SKL.lsb - 64)
_CLS_MASK = D.VALID.mask | D.TYPE.mask
_NSTABLE = D.S1_TABLE["NSTable"]
#: the leaf fields by (stage, D128)
_LEAF_FIELDS = {(1, False): D.S1_LEAF, (2, False): D.S2_LEAF, (1, True): D.D128_S1_LEAF, (2, True): D.D128_S2_LEAF}
_S2_MEMATTR = D.S2_LEAF["MemAttr"]
# The fields whose values make two leaves differ (software and IGNORED bits do not)
_S1_KEY_FIELDS = ("AttrIndx", "NS", "AP", "SH", "AF", "nG", "nT", "GP", "DBM", "Contiguous", "PXN", "UXN")
_S2_KEY_FIELDS = ("MemAttr", "S2AP", "SH", "AF", "FnXS", "nT", "DBM", "Contiguous", "XN")
# The stage 2 leaf fields that decide the outcome of a stage 1 output (attributes and permissions)
_S2_OUTCOME_FIELDS = ("MemAttr", "S2AP", "SH", "FnXS", "DBM", "XN")
# Categories of a descriptor in a table
_INVALID, _LEAF, _ODD, _TABLE = 0, 1, 2, 3
#: two stages: leaf outputs looked up in stage 2 together (the walk's visits wait until then,
#: at most this many of them)
_BATCH_LANES = 1 << 15
_BATCH_ACTIONS = 1 << 13
#: two stages: stage 2 lookups per batch when stage 1 leaves are split into stage 2 pieces
_PIECE_LANES = 1 << 16
#: distinct descriptor patterns remembered before the caches start afresh (random data can hold millions)
_INTERN_LIMIT = 1 << 16
#: bytes of next-level tables read and judged together (:meth:`_Walker._uniform_tables`; larger
#: reads cost more than they save, in fresh memory to fault in)
_UNIFORM_CHUNK = 1 << 18
_CATEGORY = {DescType.INVALID: _INVALID, DescType.BLOCK: _LEAF, DescType.PAGE: _LEAF,
             DescType.ILLEGAL_BLOCK: _ODD, DescType.RESERVED: _ODD, DescType.TABLE: _TABLE}


class Visit(enum.IntFlag):
    """The visit kinds (KVM's ``KVM_PGTABLE_WALK_LEAF``, ``_TABLE_PRE``, ``_TABLE_POST``), and
    ``TABLE_NOT_WALKED``: ``table_pre`` for the tables that are not walked only (any
    :class:`TableStatus` but ``OK``; ``TABLE_PRE`` visits them too), all the ranges view needs."""

    LEAF = 1
    TABLE_PRE = 2
    TABLE_POST = 4
    ALL = 7
    TABLE_NOT_WALKED = 8


class TableStatus(enum.Enum):
    """What became of a table a descriptor (or the TTBR) points at."""

    OK = "ok"
    REFERENCE = "reference"              # already walked at this level: not walked again
    NOT_IN_IMAGE = "not in image"
    S2_FAULT = "stage 2 fault"           # stage 1 table not reachable through stage 2
    BEYOND_OA = "beyond output size"     # Address size fault at the descriptor's level
    NOT_EXPANDED = "not expanded"        # below max_depth: not read


@record(frozen=True, slots=True)
class TreeParams:
    """One table tree and how to walk it, from the walk parameters of :mod:`pgwalk.params`.

    ``disabled`` is why a walk of this tree reads nothing (``""`` when it can
    be walked): a configuration fault, EPDn = 1, an unknown TTBR, a base beyond
    the output size (the VA-independent setup checks of the walk,
    :data:`~pgwalk.rules.S1_TREE_CHECKS`).
    """

    stage: int                  # 1 or 2
    name: str                   # "TTBR0_EL1", "TTBR1_EL1", "VTTBR_EL2", ...
    regime: str
    granule_shift: int
    start_level: int
    iasize: int
    base: int
    ds: bool
    lpa64: bool
    oa_bits: int
    pa_max: int
    big_endian: bool
    hpd: bool
    two_el: bool
    ha: bool
    hd: bool
    sh: int                     # TCR/VTCR SH, the leaf shareability with DS = 1
    upper: bool                 # TTBR1: input addresses have their top bits set
    mair: int
    wxn: bool
    epan: bool
    xnx: bool
    el: int                     # the EL of a one-EL regime (2 or 3), else 1
    through_s2: bool            # stage 1 tables are fetched through stage 2
    final_pa: bool              # leaf outputs are IPAs translated to PAs by stage 2
    disabled: str = ""
    notes: tuple[str, ...] = ()
    haft: bool = False          # FEAT_HAFT (TCR2_ELx.HAFT / VTCR_EL2.HAFT, with HA): table descriptors' AF set by walks
    d128: bool = False          # FEAT_D128 (VMSAv9-128): 16-byte descriptors, levels skipped per table descriptor (SKL)
    setup: TranslationSetup | None = field(default=None, repr=False, compare=False)
    s1: S1WalkParams | None = field(default=None, repr=False, compare=False)

    @property
    def stride(self) -> int:
        return self.granule_shift - descsize_log2(self.d128)

    @property
    def entry_bytes(self) -> int:
        """Bytes of one descriptor (:func:`~pgwalk.rules.descriptor_bytes`: 16 with D128)."""
        return descriptor_bytes(self.d128)

    @property
    def va_lo(self) -> int:
        """First input address of the tree (TTBR1: ``2**64 - 2**iasize``)."""
        return (1 << 64) - (1 << self.iasize) if self.upper else 0

    @property
    def va_hi(self) -> int:
        """First input address after the tree (exclusive)."""
        return 1 << 64 if self.upper else 1 << self.iasize

    def lsb(self, level: int) -> int:
        """log2 of the bytes one entry at ``level`` maps (:func:`~pgwalk.rules.level_shift`)."""
        return level_shift(level, self.granule_shift, self.d128)

    def entries(self, level: int, skl: int = 0) -> int:
        """Entries of a table at ``level`` (the root may be smaller, or concatenated at stage 2; with
        D128 a table a descriptor with SKL ``skl`` points at is larger; :func:`~pgwalk.rules.table_entries`)."""
        return table_entries(level, self.start_level, self.iasize, self.granule_shift, self.d128, skl)

    def index(self, ia: int, level: int, skl: int = 0) -> int:
        """The entry ``ia`` selects in a table at ``level`` (:func:`~pgwalk.rules.table_index`)."""
        return table_index(ia, level, self.start_level, self.iasize, self.granule_shift, self.d128, skl)

    def describe(self) -> str:
        return (f"{self.name} tree: base {self.base:#x}, {granule_name(self.granule_shift)} granule, "
                f"{self.iasize}-bit {'IPA' if self.stage == 2 else 'VA'}, start level {self.start_level}"
                + (f" ({self.entries(self.start_level) >> self.stride} concatenated tables)"
                   if self.stage == 2 and not self.d128 and self.entries(self.start_level) > 1 << self.stride else "")
                + (", 128-bit descriptors (VMSAv9-128)" if self.d128 else "")
                + (", tables through stage 2" if self.through_s2 else ""))


def tree_params(setup: TranslationSetup, which: str, *, final_pa: bool = True) -> TreeParams:
    """The tree ``which`` of a register setup: ``"ttbr0"``, ``"ttbr1"`` or ``"s2"`` (VTTBR_EL2).

    >>> tree_params(setup_from_registers(regs), "ttbr1").name     # doctest: +SKIP
    'TTBR1_EL1'

    :param final_pa: for a stage 1 tree under stage 2, translate leaf outputs to PAs
    :raises InputError: the regime has no such tree (one VA range, stage 2 off)
    """
    feats = setup.features
    if which == "s2":
        s2 = setup.s2
        if s2 is None:
            raise InputError("stage 2 is not enabled by the registers (HCR_EL2.VM/DC, VTCR_EL2)")
        disabled = s2.config_fault
        if not disabled and s2.start_level is None:
            disabled = "VTCR_EL2 start level encoding is reserved"
        disabled = disabled or tree_disabled(S2_TREE_CHECKS, s2)
        return TreeParams(
            stage=2, name="VTTBR_EL2", regime=setup.regime.value, granule_shift=s2.granule_shift,
            start_level=s2.start_level if s2.start_level is not None else 0, iasize=s2.iasize, base=s2.base,
            ds=s2.ds, lpa64=s2.lpa64, oa_bits=s2.oa_bits, pa_max=feats.pa_max, big_endian=s2.ee, hpd=True,
            two_el=False, ha=s2.ha, hd=s2.hd, sh=s2.sh, upper=False, mair=0, wxn=False, epan=False,
            xnx=feats.xnx, el=1, through_s2=False, final_pa=False, disabled=disabled, notes=s2.notes,
            haft=s2.haft, d128=s2.d128, setup=setup)
    if which not in ("ttbr0", "ttbr1"):
        raise ValueError(f"tree must be ttbr0, ttbr1 or s2, not {which!r}")
    varange = int(which[-1])
    if varange >= len(setup.ranges):
        raise InputError(f"the {setup.regime.value} regime has one VA range (TTBR0 only)")
    p = setup.ranges[varange]
    # the setup checks of a walk that do not depend on the VA: configuration, EPDn, an unknown TTBR, its base
    disabled = tree_disabled(S1_TREE_CHECKS, p)
    notes = list(p.notes)
    if not setup.s1_enabled:
        notes.append("stage 1 is disabled: the tree is shown as the registers describe it, "
                     "but translations do not use it")
    through = s1_walk_through_s2(setup.regime, setup.s2 is not None)
    el = {"EL1&0": 1, "EL2&0": 2, "EL2": 2, "EL3": 3}[setup.regime.value]
    return TreeParams(
        stage=1, name=p.ttbr_name, regime=setup.regime.value, granule_shift=p.granule_shift,
        start_level=p.start_level, iasize=p.iasize, base=p.base, ds=p.ds, lpa64=p.lpa64, oa_bits=p.oa_bits,
        pa_max=feats.pa_max, big_endian=p.ee, hpd=p.hpd, two_el=p.has_unprivileged, ha=p.ha, hd=p.hd, sh=p.sh,
        upper=p.has_unprivileged and varange == 1, mair=setup.mair, wxn=setup.wxn, epan=setup.epan,
        xnx=feats.xnx, el=el, through_s2=through, final_pa=through and final_pa, disabled=disabled,
        notes=tuple(notes), haft=p.haft, d128=p.d128, setup=setup, s1=p)


@record(frozen=True, slots=True)
class Limits:
    """Bounds on one walk: tables read, and descriptors read (all trees of one walk_tree call)."""

    max_tables: int = 100_000
    max_entries: int = 50_000_000


@record(frozen=True, slots=True, compiled_init=True)
class TableInfo:
    """One table node: a table a descriptor (or the TTBR, for the root) points at.

    ``first_index``/``last_index`` bound the entries inside the walked range;
    ``inherited`` is (APTable, UXNTable, PXNTable, NSTable) accumulated down
    to and including the descriptor pointing here.
    """

    level: int
    address: int                # as the descriptor gives it (an IPA for stage 1 under stage 2)
    pa: int | None              # where it was read (None when not read)
    va_start: int
    va_end: int                 # exclusive
    entries: int
    depth: int                  # 0 for the root
    index: int | None           # entry of the parent table (None for the root)
    descriptor: int | None      # the parent's descriptor (None for the root)
    status: TableStatus
    valid: int | None = None    # valid entries (when read)
    first_index: int = 0
    last_index: int = -1
    inherited: tuple[int, bool, bool, bool] = (0, False, False, False)
    flags: tuple[str, ...] = ()
    first_va: int | None = None  # REFERENCE: the VA where the table was walked
    note: str = ""
    #: the Access flag updates of a walk through this table, in the walk's order: FEAT_HAFT, the
    #: descriptor pointing here (:func:`~pgwalk.rules.table_af_update`, ``AFUpdate(stage, level - 1,
    #: table=True)``; ASL ``AArch64.S1Walk``/``S2Walk``), then (two stages) those of the stage 2 walks
    #: fetching this stage 1 table (``s1_level`` = ``level``): their table descriptors with
    #: VTCR_EL2.HAFT and their leaf with VTCR_EL2.HA (``Leaf.af_update``), a faulting fetch's tables
    #: included.  A table stage 2 maps in pieces lists the updates of every piece's fetch.
    af_updates: tuple[AFUpdate, ...] = ()

    @property
    def table_af_updates(self) -> tuple[AFUpdate, ...]:
        """Two stages, FEAT_HAFT: the stage 2 table descriptors whose Access flag the stage 2 walks
        fetching this stage 1 table set (of :attr:`af_updates`)."""
        return tuple(u for u in self.af_updates if u.table and u.s1_level is not None)


@record(frozen=True, slots=True, compiled_init=True)
class LeafAttrs:
    """The attributes of a leaf descriptor, decoded once per distinct descriptor pattern.

    Equal objects mean equal attributes for merging and folding.  For
    ``"illegal block"`` and ``"reserved"`` entries (which translate as
    Translation faults) ``memattrs`` and ``perms`` are ``None``.
    """

    stage: int
    level: int
    kind: str
    memattrs: A.MemAttrs | None
    perms: S1Perms | S2Perms | None
    attr_index: int | None
    sh: int | None
    af: bool
    ng: bool
    dbm: bool
    contiguous: bool
    gp: bool
    ns: bool
    ns_table: bool
    flags: tuple[str, ...] = ()
    #: HA: the leaf has AF = 0 and a translation through it sets it (``Leaf.af_update``; not when its
    #: output is beyond the output size: that Address size fault comes first)
    af_update: bool = False
    #: the Access flag updates of the tables on the path to the leaf (their :attr:`TableInfo.af_updates`,
    #: root first; of a table stage 2 maps in pieces, only the fetch of the piece holding the entry):
    #: with :attr:`af_update` and the output's stage 2 walk's, what ``translate`` lists
    path_af_updates: tuple[AFUpdate, ...] = ()

    @property
    def mapped(self) -> bool:
        return self.kind in ("block", "page")


@record(frozen=True, slots=True, compiled_init=True)
class Stage2:
    """What stage 2 makes of a stage 1 output (two stages; equal objects merge).

    ``attrs`` are the final attributes, combined with the stage 1 ones by
    :func:`~pgwalk.walk.stage2_attributes` (``translate``'s ``attributes``:
    ``S2CombineS1MemAttrs``, FWB, HCR_EL2.CD); ``s2_attrs`` are the stage 2
    descriptor's own and ``perms`` its permissions.  When stage 2 faults on
    the output, ``fault`` says how (no ``ipa``, no ``reason``) and the rest
    is ``None``.
    """

    attrs: A.MemAttrs | None
    s2_attrs: A.MemAttrs | None
    perms: S2Perms | None
    fault: Fault | None = None
    #: FEAT_HAFT (VTCR_EL2.HAFT): the stage 2 table descriptors whose Access flag the stage 2 walk
    #: of the output sets (ASL ``AArch64.S2Walk``, rules.table_af_update), a fault's walk included
    table_af_updates: tuple[AFUpdate, ...] = ()
    #: VTCR_EL2.HA: the stage 2 leaf has AF = 0 and the hardware sets it (``Leaf.af_update``; no fault):
    #: its :class:`~pgwalk.walk.AFUpdate`, else ``None``
    af_update: AFUpdate | None = None


@record(frozen=True, slots=True, compiled_init=True)
class Run:
    """Consecutive descriptors with the same kind and attributes and continuing outputs.

    One table's entries for :meth:`TreeVisitor.run`; a merged range (maybe
    across tables) from :class:`RangeMerger`.  ``table``/``index``/``raw``
    describe the first descriptor.  Kind ``"table"`` (ranges only) stands for
    a table that was not walked; ``note`` says why.

    Under two stages (``s2`` set) a run may cover part of a descriptor, where
    stage 2 maps a stage 1 leaf in pieces that differ: ``length`` is then
    the bytes covered (0: ``count * entry_size``), ``count`` the
    descriptors touched, and ``va_start`` need not be a descriptor boundary.
    """

    level: int
    kind: str
    table: int
    index: int
    count: int
    va_start: int
    entry_size: int
    oa: int | None                  # first output (an IPA for stage 1 under stage 2)
    pa: int | None                  # final PA of the first byte
    attrs: LeafAttrs | None
    raw: int
    depth: int = 0
    nonzero: int = 0                # invalid runs: descriptors that are not 0
    s2: Stage2 | None = None        # two stages: what stage 2 makes of the output
    note: str = ""
    status: str | None = None       # kind "table": the TableStatus value
    length: int = 0                 # bytes covered, when not whole descriptors (0: count * entry_size)
    s2_raw: int | None = None       # two stages: the stage 2 leaf descriptor of the first byte
    s2_level: int | None = None

    @property
    def size(self) -> int:
        return self.length or self.count * self.entry_size

    @property
    def va_end(self) -> int:
        return self.va_start + self.size

    @property
    def mapped(self) -> bool:
        return self.kind in ("block", "page")

    @property
    def partial(self) -> bool:
        """The run starts or ends inside a descriptor (stage 2 maps that descriptor in pieces)."""
        return bool(self.length) and (self.va_start % self.entry_size != 0 or self.va_end % self.entry_size != 0)

    @property
    def s2_perms(self) -> S2Perms | None:
        """Two stages: the stage 2 permissions of the output (``None`` on a stage 2 fault)."""
        return None if self.s2 is None else self.s2.perms

    @property
    def af_updates(self) -> tuple[AFUpdate, ...] | None:
        """The descriptors whose Access flag a translation of any address of the run sets, in the
        order ``translate`` lists them (``Translation.af_updates``): the tables' on the path
        (:attr:`LeafAttrs.path_af_updates`), the stage 2 tables of the output's walk, the leaf (HA),
        the output's stage 2 leaf (VTCR_EL2.HA); ``None`` for invalid runs and tables not walked."""
        return None if self.attrs is None else _run_af_updates(self.attrs, self.s2)

    @property
    def final_attrs(self) -> A.MemAttrs | None:
        """The attributes ``translate`` reports: combined with stage 2 under two stages."""
        if self.s2 is not None:
            return self.s2.attrs
        return None if self.attrs is None else self.attrs.memattrs

    def leaf(self, i: int = 0) -> Leaf:
        """The scalar walker's :class:`~pgwalk.walk.Leaf` for descriptor ``i`` of the run.

        ``raw`` is exact only for the first descriptor (the others differ in address bits).
        """
        a = self.attrs
        if a is None or a.memattrs is None or self.oa is None:
            raise ValueError(f"a {self.kind} run has no leaf")
        shift = self.entry_size.bit_length() - 1
        base = self.oa - (self.va_start % self.entry_size)
        return Leaf(a.stage, self.level, self.kind, self.raw, base + i * self.entry_size, shift, a.memattrs,
                    a.perms, a.af, a.ng, a.contiguous, a.dbm, a.attr_index, a.sh, a.af_update)


class TreeVisitor:
    """Base class of walk visitors; every visit is a no-op unless overridden.

    A visit may raise :class:`StopWalk` to end the walk.
    """

    def table_pre(self, table: TableInfo) -> None:
        """Called before a table's entries (and for tables that are not walked, with their status)."""

    def run(self, run: Run) -> None:
        """Called for leaf runs (and invalid ones when asked), in address order."""

    def table_post(self, table: TableInfo) -> None:
        """Called after a table's entries."""


@record
class WalkSummary:
    """Counts of one walk and why it stopped early, if it did."""

    trees: list[TreeParams] = field(default_factory=list)
    tables: int = 0
    entries: int = 0
    references: int = 0
    problems: int = 0
    stopped: str | None = None
    s2_lookups: int = 0         # two stages: stage 2 lookups of stage 1 outputs (count as descriptors read)
    #: estimated share of the current tree walked, 0..1 (by subtables: each table's next-level tables
    #: weigh equally), for progress displays; not part of any output
    fraction: float = 0.0


class _Stopped(Exception):
    """Internal: a limit ends the walk."""


class StopWalk(Exception):
    """Raised by a visitor to end the walk (KVM: a visitor's error aborts ``kvm_pgtable_walk``):
    :func:`walk_tree` returns with :attr:`WalkSummary.stopped` set to its message."""


class _LevelDecode:
    """What decoding a table at one level needs: masks from the layouts, kinds per type bits."""

    __slots__ = ("level", "lsb", "entry_size", "leafsize", "kinds", "cat_lut", "key_mask", "res0", "misalign",
                 "table_res0", "has_layout", "steps", "d128", "key_mask_hi", "next_entries")

    def __init__(self, np: Any, tree: TreeParams, level: int) -> None:
        g, ds, lpa64 = tree.granule_shift, tree.ds, tree.lpa64
        self.level = level
        self.lsb = level_shift(level, g, tree.d128)
        self.entry_size = 1 << self.lsb
        self.leafsize = self.lsb
        self.steps = None                   # entry i's output offset (i * entry_size), made when needed
        # entries of a next-level table (one a descriptor skipping no level points at)
        self.next_entries = tree.entries(level + 1) if level < FINAL_LEVEL else 0
        self.d128 = tree.d128
        self.key_mask_hi = 0
        if tree.d128:
            self._init_d128(np, tree)
            return
        # the kind of each {TYPE, VALID} pattern (ASL DecodeDescriptorType), and its category
        types = descriptor_types(level, ds, g, tree.pa_max)
        self.kinds = {vt: kind.text for vt, kind in enumerate(types)}
        self.cat_lut = np.array([_CATEGORY[kind] for kind in types], dtype=np.int8)
        block = level < FINAL_LEVEL
        leaf_layout = D.s1_leaf_layout if tree.stage == 1 else D.s2_leaf_layout
        self.has_layout = self.leafsize <= D.ADDR_47          # no leaf can exist at level -1
        if self.has_layout:
            layout = leaf_layout(self.leafsize, ds, lpa64, block)
            self.res0, self.misalign = D.leaf_res0_masks(tree.stage, self.leafsize, g, ds, lpa64, block)
            keys = _S1_KEY_FIELDS if tree.stage == 1 else _S2_KEY_FIELDS
            km = D.TYPE.mask | self.res0 | self.misalign
            for name in keys:
                if name in layout:
                    km |= layout[name].mask
            self.key_mask = km | _feature_key_mask(tree)
        else:
            self.misalign = self.res0 = 0
            self.key_mask = D.TYPE.mask
        if block:
            self.table_res0 = D.table_res0_mask(tree.stage, g, ds, lpa64)
        else:
            self.table_res0 = 0

    def _init_d128(self, np: Any, tree: TreeParams) -> None:
        """VMSAv9-128: the kind of each ``SKL << 1 | desc[0]`` (ASL DecodeDescriptorType,
        :func:`~pgwalk.rules.d128_descriptor_types`); a leaf's key is every bit but its output address,
        the Valid bit and the software bits, in two 64-bit words (its RES0 and misaligned output bits
        included: :func:`~pgwalk.formats.descriptors.d128_leaf_res0_masks`)."""
        types = d128_descriptor_types(self.level, tree.granule_shift)
        self.kinds = {i: kind.text for i, kind in enumerate(types)}
        self.cat_lut = np.array([_CATEGORY[kind] for kind in types], dtype=np.int8)
        self.has_layout = self.leafsize <= D.ADDR_47
        self.res0, self.misalign = D.d128_leaf_res0_masks(tree.stage, self.leafsize, tree.granule_shift,
                                                          self.level < FINAL_LEVEL)
        self.table_res0 = D.d128_table_res0_mask(tree.stage, tree.granule_shift) if self.level < FINAL_LEVEL else 0
        oa_field = leaf_base(_M64, min(self.leafsize, D.ADDR_47 + 1), False, False, True)
        self.key_mask = _M64 & ~oa_field & ~D.VALID.mask
        self.key_mask_hi = (_M128 & ~D.D128_SW.mask) >> 64

    def kind(self, key: int) -> str:
        """The kind of a leaf key (:meth:`_Walker._segment`'s, Valid bit left out)."""
        if self.d128:
            return self.kinds[(d128_skl(key) << 1) | 1]
        return self.kinds[(key | D.VALID.mask) & _CLS_MASK]

    def classes(self, np: Any, lo: Any, hi: Any) -> Any:
        """The category (:data:`_CATEGORY`) of each descriptor (``hi``: the upper words with D128)."""
        if hi is None:
            return self.cat_lut[(lo & _CLS_MASK).astype(np.intp)]
        vt = (((hi >> np.uint64(_SKL_HI.lsb)) & np.uint64(_SKL_HI.wmask)) << np.uint64(1)) | (lo & np.uint64(1))
        return self.cat_lut[vt.astype(np.intp)]


def _feature_key_mask(tree: TreeParams) -> int:
    """The descriptor bits that become attribute or permission inputs with a feature on (IGNORED or
    PBHA bits otherwise): AttrIndx[3] with FEAT_AIE (:func:`~pgwalk.rules.s1_attr_index`), POIndex
    with a stage 1 overlay, S2POIndex with FEAT_S2POE.  Leaves that differ in them never merge."""
    mask = 0
    if tree.stage == 1 and tree.s1 is not None:
        if tree.s1.aie:
            mask |= D.ATTRINDX_3.mask
        if tree.s1.perm.overlay:
            mask |= D.S1_POINDEX.mask
    elif tree.stage == 2 and tree.setup is not None and tree.setup.s2 is not None and tree.setup.s2.perm.s2poe:
        mask |= D.S2_POINDEX.mask
    return mask


class _Lookups:
    """Stage 2 lookups of many IPAs at once, as ``translate`` does them (:func:`pgwalk.bulk.translate_many`).

    For each IPA: the stage 2 outcome (an id into :attr:`outcomes`, combined
    with the stage 1 attributes of its leaf), the PA, and the IPA region
    around it that stage 2 treats alike, up to the offset: the stage 2 leaf,
    or for a fault at level L the region one level-L entry covers (every IPA
    in it walks the same descriptors down to level L); faults before the walk
    (a configuration fault, an IPA beyond the input size, a base beyond the
    output size) cover every IPA they apply to.
    """

    def __init__(self, np: Any, setup: TranslationSetup, mem: "Memory") -> None:
        from .bulk import DescriptorReader, translate_many

        s2 = setup.s2
        assert s2 is not None
        self.np, self.setup, self.mem = np, setup, mem
        self.translate_many = translate_many
        self.reader = DescriptorReader(mem)
        self.g, self.stride = s2.granule_shift, s2.granule_shift - 3
        self.start_level = s2.start_level
        self.iasize = s2.iasize
        self.prewalk = bool(s2.config_fault) or s2.start_level is None   # every IPA faults alike
        self.base_fault = bool(s2.base_fault)
        key = 0
        for name in _S2_OUTCOME_FIELDS:
            if not (name == "SH" and s2.ds):             # with DS = 1, bits [9:8] are OA[51:50]
                key |= D.S2_LEAF[name].mask
        if s2.perm.s2poe:                                # FEAT_S2POE: S2POIndex decides the permissions too
            key |= D.S2_POINDEX.mask
        if s2.ha:                                        # AF = 0 with HA: the walk sets it (Stage2.af_update)
            key |= D.S2_LEAF["AF"].mask
        self.d128 = s2.d128
        self.key_mask_hi = None
        if s2.d128:
            # VMSAv9-128 leaves: every bit but the output address and the software bits, in both words
            key = _M64 & ~leaf_base(_M64, s2.granule_shift, False, False, True)
            self.key_mask_hi = np.uint64((_M128 & ~D.D128_SW.mask) >> 64)
        self.key_mask = np.uint64(key)
        self.ha, self.haft = bool(s2.ha), bool(s2.haft)
        self.outcomes: list[Stage2] = []
        self._ids: dict[tuple[int, int], int] = {}

    def lookup(self, ipa: Any, s1_ids: Any, by_id: list) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
        """``(outcome, ok, pa, region_lo, region_hi, s2_raw, s2_level)`` arrays for the IPAs
        (``s1_ids``: the stage 1 attribute ids of their leaves, ``by_id`` their :class:`LeafAttrs`);
        ``pa`` is meaningful where the outcome has no fault."""
        np = self.np
        res = self.translate_many(self.setup, self.mem, ipa, stages="2", reader=self.reader)
        ok = res.fault_type == 0
        u64 = np.uint64
        # regions: the stage 2 leaf, or the level-L entry of a level L walk fault
        level = np.where(ok, res.s2_level, res.fault_level).astype(np.int64)
        lsb = np.where(ok, res.s2_shift.astype(np.int64), level_shift(level, self.g, self.d128)).astype(np.uint64)
        size = np.left_shift(u64(1), lsb)
        lo = ipa & ~(size - u64(1))
        hi = lo + size
        if not ok.all():
            top = u64(1) << u64(self.iasize)
            beyond = ~ok & (ipa >= top)
            whole = ~ok if self.prewalk else np.zeros(len(ipa), dtype=bool)
            lo = np.where(whole, u64(0), np.where(beyond, top, lo))
            hi = np.where(whole | beyond, u64(_M64), hi)
            if self.base_fault and not self.prewalk:
                inside = ~ok & ~beyond
                lo = np.where(inside, u64(0), lo)
                hi = np.where(inside, top, hi)
        # outcome ids: one per (stage 1 attributes, stage 2 attribute bits or fault)
        fkey = ((res.fault_type.astype(np.uint64) << u64(8)) | ((res.fault_level.astype(np.int64) + 8).astype(np.uint64)
                                                                << u64(2))
                | (res.not_in_image.astype(np.uint64) << u64(1)) | u64(1))
        k2 = np.where(ok, res.s2_desc & self.key_mask, fkey)
        u2, first2, inv2 = np.unique(k2, return_index=True, return_inverse=True)
        keys: list = u2.tolist()
        inv2 = inv2.reshape(-1)
        extras = []
        if self.key_mask_hi is not None:                # D128: the leaf's bits [127:64]
            extras.append(np.where(ok, res.s2_desc_hi & self.key_mask_hi, u64(0)))
        if self.haft:
            # FEAT_HAFT: walks that set AF in different stage 2 tables differ (BulkTranslation.s2_table_af,
            # taken as opaque values)
            extras.append(res.s2_table_af)
        if self.ha:
            # HA: a leaf whose AF the walk sets (Leaf.af_update of a lane of each key) is one of its level
            upd = np.array([bool(ok[i]) and self._leaf(res, i).af_update for i in first2.tolist()], dtype=bool)
            extras.append(np.where(upd[inv2], res.s2_level.astype(np.int64) + 8, 0))
        for extra in extras:            # the key becomes (attribute bits or fault, extra, ...)
            ua, inva = np.unique(extra, return_inverse=True)
            uc, inv2 = np.unique(inv2 * len(ua) + inva.reshape(-1), return_inverse=True)
            xs = ua.tolist()
            keys = [(keys[c // len(xs)], xs[c % len(xs)]) for c in uc.tolist()]
            inv2 = inv2.reshape(-1)
        ids = np.asarray(s1_ids, dtype=np.int64)
        pair = inv2 + ids * len(keys)
        uk, first, inv = np.unique(pair, return_index=True, return_inverse=True)
        lut = np.empty(len(uk), dtype=np.int64)
        for j, (pk, i) in enumerate(zip(uk.tolist(), first.tolist())):
            lut[j] = self._outcome(pk // len(keys), keys[pk % len(keys)], ok, res, i, by_id)
        s2raw = res.s2_desc
        if self.d128:                                   # all 128 bits of each leaf (Python ints)
            s2raw = np.array(_join128(res.s2_desc, res.s2_desc_hi), dtype=object)
        return lut[inv.reshape(-1)], ok, res.pa, lo, hi, s2raw, res.s2_level

    def _leaf(self, res: Any, i: int) -> Leaf:
        """The stage 2 leaf of lane ``i`` (one without a fault), as the scalar walk decodes it."""
        level = int(res.s2_level[i])
        return s2_leaf(self.setup, res.s2_raw(i), level, "page" if level == FINAL_LEVEL else "block")

    def _outcome(self, aid: int, key: Any, ok: Any, res: Any, i: int, by_id: list) -> int:
        """The outcome id of lane ``i`` (stage 1 attribute id ``aid``, outcome ``key``: the stage 2
        attribute bits or the fault, paired with the walk's table updates (FEAT_HAFT) and the level
        of a leaf whose AF it sets (HA))."""
        hit = self._ids.get((aid, key))
        if hit is not None:
            return hit
        table_af = res.table_af_updates(i)
        if not ok[i]:
            f = res.fault(i)
            out = Stage2(None, None, None, Fault(f.type, f.level, 2, not_in_image=f.not_in_image), table_af)
        else:
            leaf = self._leaf(res, i)
            s1 = by_id[aid]
            out = Stage2(stage2_attributes(self.setup, s1.memattrs, leaf, "12", None), leaf.attrs, leaf.perms,
                         None, table_af, AFUpdate(2, leaf.level) if leaf.af_update else None)
        oid = len(self.outcomes)
        self.outcomes.append(out)
        self._ids[(aid, key)] = oid
        return oid

    def reset(self) -> None:
        """Forget the outcome ids (the stage 1 attribute ids they refer to start afresh)."""
        self.outcomes.clear()
        self._ids.clear()


@named_tuple
class _Piece:
    """Two stages: one stage 2 piece of a stage 1 table (where the table's bytes up to ``end`` were
    read: ``size`` bytes at ``pa``, through the stage 2 ``leaf``; ``af_updates``: its walk's)."""

    end: int
    pa: int
    size: int
    leaf: Leaf
    af_updates: tuple[AFUpdate, ...]


def _path_at(paths: list[tuple[int, tuple[AFUpdate, ...]]], i: int) -> tuple[AFUpdate, ...]:
    """The Access flag updates of the walks down to entry ``i`` (``paths``: (first entry, updates))."""
    return next(path for start, path in reversed(paths) if start <= i)


class _Walker:
    def __init__(self, tree: TreeParams, mem: "Memory", visitor: TreeVisitor, visits: Visit, invalid: bool,
                 merge: bool, min_run: int, max_depth: int | None, limits: Limits, summary: WalkSummary,
                 progress: Callable[[int], None] | None, start: int, end: int) -> None:
        import numpy as np

        self.np = np
        self.tree, self.mem, self.visitor = tree, mem, visitor
        self.pre = bool(visits & Visit.TABLE_PRE)
        self.pre_not_walked = bool(visits & (Visit.TABLE_PRE | Visit.TABLE_NOT_WALKED))
        self.post = bool(visits & Visit.TABLE_POST)
        self.leaves = bool(visits & Visit.LEAF)
        self.invalid = invalid and self.leaves
        self.merge = merge
        self.fast = self.leaves and merge and not tree.final_pa and not tree.d128    # (see _uniform_run)
        self.min_run = min_run
        self.max_depth = max_depth
        self.limits = limits
        self.summary = summary
        self.progress = progress
        self.start, self.end = start, end
        # tables walked: (PA, level, the path's state) -> first VA (see _table)
        self.seen: dict[tuple, int] = {}
        self.frames: list[list[int]] = []       # progress: [next-level tables done, their count] per level
        self.levels = {lv: _LevelDecode(np, tree, lv) for lv in range(tree.start_level, FINAL_LEVEL + 1)}
        self.dtype = np.dtype(">u8" if tree.big_endian else "<u8")
        self.esize = tree.entry_bytes
        self.regions: tuple[list[int], list[int]] | None = None     # the memory's (bases, ends), when first needed
        # the NSTable bit of a stage 1 table descriptor (none in the VMSAv9-128 layout)
        self.nstable = next((f for f in D.d128_table_layout(1, tree.granule_shift) if f.name == "NSTable"), None) \
            if tree.d128 else _NSTABLE
        self._attrs: dict[tuple, tuple[int, LeafAttrs]] = {}
        self._ids: dict[LeafAttrs, int] = {}
        self._by_id: list[LeafAttrs | None] = [None]        # id 0: invalid
        self.s2 = _Lookups(np, tree.setup, mem) if tree.final_pa else None
        # FEAT_THE: stage 1 table fetches meet the TopLevel and AssuredOnly checks (VTCR_EL2.TL0/TL1,
        # AssuredOnly), judged with the walk's Assured property so far (ASL AArch64.S1InitialTTWState,
        # S1NextWalkStateTable: s1_initial_assured, s1_assured_step)
        perm2 = tree.setup.s2.perm if tree.through_s2 else None
        self.the = perm2 is not None and (perm2.assuredonly or perm2.tl0 or perm2.tl1)
        self.assured0 = (not self.the) or s1_initial_assured(tree.s1.varange, perm2.tl0, perm2.tl1, True)
        if self.the and tree.d128:
            # as the scalar walk: FEAT_THE's Assured walk with 128-bit descriptors is not modelled
            self.assured0 = False
        # next-level tables that are one run of leaves each are judged together (_uniform_tables)
        self.batch = self.fast and not tree.through_s2 and not tree.haft and not self.the
        # the bits of a stage 1 table descriptor _descend reads
        self.hier_mask = (((1 << TABLE_ATTR_BITS) - 1) << TABLE_ATTR_LSB) | (self.nstable.mask if self.nstable else 0)
        self.out = visitor
        self.actions: list[Any] = []            # two stages: visits waiting for their stage 2 lookups
        self.lanes: list[tuple[Any, Any]] = []
        self.n_lanes = 0
        if self.s2 is not None:
            self.visitor = _Deferred(self, visitor)

    # ------------------------------------------------------------------ tables

    def walk(self) -> None:
        t = self.tree
        self._table(t.start_level, t.base, t.va_lo, 0, None, None, (0, False, False, False), (), 0, self.assured0, ())

    def _read_parts(self, address: int, nbytes: int, lo: int, hi: int, level: int, assured: bool
                    ) -> tuple[int | None, bytes | None, TableStatus, str, list[_Piece], tuple[AFUpdate, ...],
                               list[tuple[int, int, TableStatus | None, str]]]:
        """:meth:`_read_table`, and for a table that cannot be read whole (part of it outside the
        image, or part of its IPAs refused by stage 2) the entries ``lo..hi-1`` that can be, as
        ``translate`` reads only the descriptors it needs: in chunks of 64 entries (at most 1024
        chunks: a D128 table a descriptor skipping levels points at may hold millions), and entry
        by entry in a failing chunk next to a read one (or the only one), where an edge of what can
        be read lies; none when the memory's regions say no byte of the table exists.  Returns what
        :meth:`_read_table` does (the bytes zero-filled where unread, the note naming the first
        entries not read) and the parts of ``lo..hi-1`` in order, ``[(first, end, None, "")]`` for
        entries read and ``(first, end, status, why)`` for entries not read; no part read: the whole
        read's failure, no parts."""
        whole = self._read_table(address, nbytes, level, assured)
        if whole[1] is not None:
            return (*whole, [(lo, hi, None, "")])
        reads: dict[tuple[int, int], tuple] = {}
        es = self.esize
        if not self.tree.through_s2 and self._absent(address + es * lo, address + es * hi):
            return (*whole, [])

        def read(a: int, b: int) -> bool:
            reads[a, b] = r = self._read_table(address + es * a, es * (b - a), level, assured)
            return r[1] is not None

        step = max(64, -(-(hi - lo) // 1024))
        chunks = [(a, min(a + step, hi)) for a in range(lo, hi, step)]
        ok = [read(a, b) for a, b in chunks]
        parts: list[tuple[int, int]] = []
        for k, (a, b) in enumerate(chunks):
            if not ok[k] and (len(chunks) == 1 or (k > 0 and ok[k - 1]) or (k + 1 < len(ok) and ok[k + 1])):
                for i in range(a, b):
                    read(i, i + 1)
                    parts.append((i, i + 1))
            else:
                parts.append((a, b))
        buf = bytearray(nbytes)
        pieces: list[_Piece] = []
        ups: list[AFUpdate] = list(whole[5])
        spans: list[list[int]] = []
        gaps: list[list] = []
        pa0: int | None = None
        for a, b in parts:
            pa, data, status, note, got, up = reads[a, b]
            ups.extend(up)
            if data is None:
                if gaps and gaps[-1][1] == a:        # (the note of its first entries)
                    gaps[-1][1] = b
                else:
                    gaps.append([a, b, note, status])
                continue
            buf[es * a:es * b] = data
            pieces.extend(p._replace(end=p.end + es * a) for p in got)
            pa0 = pa if pa0 is None else pa0
            if spans and spans[-1][1] == a:
                spans[-1][1] = b
            else:
                spans.append([a, b])
        if not spans:
            return (*whole, [])
        if gaps:
            first, end, why, _ = gaps[0]
            more = f" and {len(gaps) - 1} more" if len(gaps) > 1 else ""
            note = f"entries {first}-{end - 1}{more} not read: {why}"
        else:
            note = f"only entries {lo}-{hi - 1} read (the whole table: {whole[3]})"
        parts_out = sorted([(a, b, None, "") for a, b in spans] + [(a, b, st, why) for a, b, why, st in gaps])
        if not self.tree.through_s2:
            pa0 = address                       # (its PA is its address; under stage 2: where the first part read is)
        return (pa0, bytes(buf), TableStatus.OK, note, pieces, tuple(dict.fromkeys(ups)), parts_out)

    def _absent(self, start: int, end: int) -> bool:
        """No byte of ``[start, end)`` is in the memory, as its ``regions`` say (False: unknown)."""
        if self.regions is None:
            from .memory_protocol import capability

            regions = capability(self.mem, "regions") or ()
            self.regions = ([r.base for r in regions], [r.end for r in regions])
        bases, ends = self.regions
        if not bases:
            return False
        k = bisect.bisect_left(bases, end) - 1         # the last region starting before ``end`` (sorted,
        return k < 0 or ends[k] <= start                # non-overlapping: the others end before it)

    def _read_table(self, address: int, nbytes: int, level: int, assured: bool = True
                    ) -> tuple[int | None, bytes | None, TableStatus, str, list[_Piece], tuple[AFUpdate, ...]]:
        """(PA, bytes, status, note, stage 2 pieces, Access flag updates) of a table at ``level``; stage 1
        tables go through stage 2 when it is on (:class:`_Piece`; the updates: each distinct one of the
        pieces' walks, a faulting walk's included, in order).  FEAT_THE: the fetch of the top-level
        table meets the TopLevel check, and with ``assured`` False (the walk's Assured property so far)
        the AssuredOnly check, as the scalar walk's fetches do."""
        t = self.tree
        if not t.through_s2:
            try:
                return address, self.mem.read(address, nbytes), TableStatus.OK, "", [], ()
            except NotInImage:
                return address, None, TableStatus.NOT_IN_IMAGE, f"table PA {address:#x} is not in the image", [], ()
        pieces: list[_Piece] = []
        cur, stop = address, address + nbytes
        toplevel = t.s1.varange if level == t.start_level else None
        collect = t.setup.s2.ha                 # the walks' AF updates (HA leaves, HAFT tables)
        all_ups: list[AFUpdate] = []
        while cur < stop:
            ups: list[AFUpdate] | None = [] if collect else None
            r = s2_lookup(t.setup, self.mem, cur, s1ptw=True, s1_level=level, af_updates=ups,
                          toplevel=toplevel, s1assured=assured)
            all_ups.extend(ups or ())
            if isinstance(r, Fault):
                lvl = "" if r.level is None else f" level {r.level}"
                return None, None, TableStatus.S2_FAULT, (
                    f"table IPA {cur:#x}: stage 2 {r.type.value} fault{lvl}" + (f" ({r.reason})" if r.reason else "")
                ), [], tuple(dict.fromkeys(all_ups))
            pa, leaf = r
            take = min(leaf.size - (cur & (leaf.size - 1)), stop - cur)
            cur += take
            pieces.append(_Piece(cur - address, pa, take, leaf, tuple(ups or ())))
        ups_all = tuple(dict.fromkeys(all_ups))
        note = f"in {len(pieces)} stage 2 pieces" if len(pieces) > 1 else ""
        try:
            data = b"".join(self.mem.read(p.pa, p.size) for p in pieces)
        except NotInImage as e:
            return pieces[0].pa, None, TableStatus.NOT_IN_IMAGE, f"table PA {e.address:#x} is not in the image", [], \
                ups_all
        return pieces[0].pa, data, TableStatus.OK, note, pieces, ups_all

    def _table(self, level: int, address: int, va: int, depth: int, index: int | None, desc: int | None,
               hier: tuple[int, bool, bool, bool], flags: tuple[str, ...], tbits: int, assured: bool,
               path_af: tuple[AFUpdate, ...], skl: int = 0) -> None:
        """The table at ``address`` (level ``level``, from input address ``va``), pointed at by the
        descriptor ``desc`` (``None``: the root); ``hier`` is the path's (APTable, UXNTable, PXNTable,
        NSTable), ``tbits`` its ORed :func:`~pgwalk.rules.table_attr_bits`, ``assured`` its Assured
        property so far (FEAT_THE; True when nothing judges it), ``path_af`` the Access flag updates
        of the tables above (:attr:`TableInfo.af_updates`); ``skl``: (D128) the levels ``desc``
        skipped, which make the table larger."""
        t, np = self.tree, self.np
        dec = self.levels[level]
        n = t.entries(level, skl)
        parent = level - 1 - skl                # the level of ``desc``
        va_end = va + n * dec.entry_size
        base = dict(level=level, address=address, va_start=va, va_end=va_end, entries=n, depth=depth,
                    index=index, descriptor=desc, inherited=hier, flags=flags)
        if desc is not None:
            # the walk's checks on a table descriptor (the root's base is a setup check: TreeParams.disabled)
            for check in TABLE_CHECKS:
                if check.test(t, desc, address):
                    self._emit_table(TableInfo(pa=None, status=TableStatus.BEYOND_OA,
                                               note=f"{check.reason(t, desc, address)} ({check.fault.value.capitalize()}"
                                                    f" fault at level {parent})", **base))
                    return
        if desc is not None and t.haft and table_af_update(desc, t.haft):
            base["af_updates"] = (AFUpdate(t.stage, parent, table=True),)     # FEAT_HAFT: the walk sets it
        if self.max_depth is not None and depth > self.max_depth:
            self._emit_table(TableInfo(pa=None, status=TableStatus.NOT_EXPANDED, note="below --depth", **base))
            return
        s = self.summary
        if s.tables >= self.limits.max_tables or s.entries + s.s2_lookups + n > self.limits.max_entries:
            where = (f"; not walked: {t.name} from {'IPA' if t.stage == 2 else 'VA'} {va:#x} on "
                     f"(level {level} table {address:#x})")
            if s.tables >= self.limits.max_tables:
                raise _Stopped(f"stopped after {s.tables} tables: limit reached (at most {self.limits.max_tables} "
                               f"tables, --max-tables){where}")
            raise _Stopped(f"stopped after {s.tables} tables: limit reached (at most {self.limits.max_entries} "
                           f"descriptors, --max-entries; {self._read_text()}){where}")
        own = base.get("af_updates", ())
        # entries inside the walked range
        lo = 0 if self.start <= va else t.index(self.start, level, skl)
        hi = n if self.end >= va_end else t.index(self.end - 1, level, skl) + 1
        es = self.esize
        if not t.through_s2 and self._reference(_path_key(address, level, skl, hier, tbits, assured, path_af + own),
                                                address, level, base):
            return                              # (known before reading it: a table read in part is costly)
        pa, data, status, note, s2_pieces, ups, parts = self._read_parts(address, n * es, lo, hi, level, assured)
        if ups:          # HAFT, HA: each distinct update of the pieces' stage 2 walks, in order
            base["af_updates"] = own + ups
        if status is TableStatus.OK:
            key = _path_key(pa, level, skl, hier, tbits, assured, path_af + base.get("af_updates", ()))
            if self._reference(key, pa, level, base):
                return
            self.seen[key] = va
        if data is None:
            s.problems += 1
            self._emit_table(TableInfo(pa=pa, status=status, note=note, **base))
            return
        s.tables += 1
        s.entries += n
        whole = len(parts) == 1 and parts[0][2] is None
        if not whole:
            s.problems += 1                     # a table read in part (:meth:`_read_parts`)
        raw = self._native(np.frombuffer(data, dtype=self.dtype))
        upper = None
        if t.d128:
            # 16-byte descriptors as (low, high) 64-bit words; big-endian, the 16 bytes are one value
            # reversed (ASL FetchDescriptor, as the scalar walk reads them): the high word comes first
            pair = raw.reshape(-1, 2)
            raw, upper = (pair[:, 1], pair[:, 0]) if t.big_endian else (pair[:, 0], pair[:, 1])
        # the updates of the walks down to these entries: one path, or (a table in stage 2 pieces whose
        # fetches differ in them) one per piece, from its first entry
        path = path_af + base.get("af_updates", ())
        paths = [(0, path)]
        if len(s2_pieces) > 1 and len({p.af_updates for p in s2_pieces}) > 1:
            paths, start = [], 0
            for p in s2_pieces:
                paths.append((start, path_af + own + p.af_updates))
                start = p.end // es
        # the usual leaf table: one run of continuing leaves with the same attributes over the range
        uniform = self._uniform_run(dec, raw, lo, hi, hier, path) \
            if self.fast and len(paths) == 1 and whole else None
        if uniform is not None and lo == 0 and hi == n:
            valid = n
        else:
            valid = int(np.count_nonzero(raw & D.VALID.mask))
        info = TableInfo(pa=pa, status=TableStatus.OK, valid=valid, first_index=lo, last_index=hi - 1,
                         note=note, **base)
        if self.pre:
            self.visitor.table_pre(info)
        if uniform is not None:
            aid, oa0 = uniform
            self._emit_leaves(dec, self._by_id[aid], lo, hi - lo, oa0, int(raw[lo]), info, None)
            self._table_done(info, va_end)
            return
        frame = [0, 0]
        if self.progress is not None:
            self.frames.append(frame)
        for a, b, unread, why in parts:         # all of lo..hi but for a table read in part
            if unread is None:
                self._entries(dec, raw, a, b, info, hier, tbits, assured, s2_pieces, paths, frame, upper)
            else:                               # entries not read: said where they are, as a table not read
                self._emit_table(replace(info, address=address + es * a, pa=None, status=unread, valid=None,
                                         va_start=va + a * dec.entry_size, va_end=va + b * dec.entry_size,
                                         entries=b - a, first_index=a, last_index=b - 1, depth=depth + 1,
                                         index=a, descriptor=None,
                                         note=f"entries {a}-{b - 1} of the level {level} table at {address:#x} "
                                              f"not read: {why}"))
        if self.progress is not None:
            self.frames.pop()
        self._table_done(info, va_end)

    def _entries(self, dec: _LevelDecode, raw: Any, lo: int, hi: int, info: TableInfo,
                 hier: tuple[int, bool, bool, bool], tbits: int, assured: bool, s2_pieces: list[_Piece],
                 paths: list[tuple[int, tuple[AFUpdate, ...]]], frame: list[int], upper: Any = None) -> None:
        """Entries ``lo..hi-1`` of a table read into ``raw``: next-level tables walked, the others
        to :meth:`_segment` (``upper``: D128, the descriptors' upper 64-bit words)."""
        np = self.np
        cat = dec.classes(np, raw[lo:hi], None if upper is None else upper[lo:hi])
        tables = np.flatnonzero(cat == _TABLE).tolist() if info.level < FINAL_LEVEL else []
        frame[1] += len(tables)
        # the next-level tables that are one run of leaves each, read and judged together
        uniform = self._uniform_tables(dec, raw, lo, tables) \
            if self.batch and len(paths) == 1 and upper is None and len(tables) > 1 \
            and (self.max_depth is None or info.depth < self.max_depth) else None
        below: dict[int, tuple[tuple[int, bool, bool, bool], int]] = {}     # (see _uniform_table)
        pos = lo
        for ti in tables:
            i = lo + ti
            if i > pos:
                if len(paths) == 1:
                    self._segment(dec, raw, cat[pos - lo:i - lo], pos, i, info, hier, paths[0][1], upper)
                else:
                    self._segments(dec, raw, cat, lo, pos, i, info, hier, paths, upper)
            u = None if uniform is None else next(uniform)
            if u is None or not self._uniform_table(dec, u, i, info, hier, tbits, assured, paths[0][1], below):
                self._child(dec, _descriptor(raw, upper, i), i, info, hier, tbits,
                            self._assured_after(assured, s2_pieces, i, raw) if self.the else assured,
                            _path_at(paths, i))
            frame[0] += 1
            pos = i + 1
        if pos < hi:
            self._segments(dec, raw, cat, lo, pos, hi, info, hier, paths, upper)

    def _native(self, words: Any) -> Any:
        """Descriptor words read as the table's byte order (:attr:`dtype`), as native ``uint64``
        (a big-endian table's are converted; a little-endian table's are already native)."""
        return words.astype(self.np.uint64) if self.dtype.byteorder == ">" else words

    def _uniform_tables(self, dec: _LevelDecode, raw: Any, lo: int, tables: list[int]
                        ) -> Iterator[tuple[int, int, int, int, int] | None]:
        """For each table descriptor ``lo + tables[k]`` of a table at ``dec``'s level, in order:
        ``(descriptor, next table, attribute key, first output, first descriptor)`` when the next-level table it
        points at is whole in the image and one run of leaves (:meth:`_uniform_rows`), else ``None``
        (also when the descriptor fails a check or has RES0 bits set: :meth:`_child` says so).
        The tables are read in chunks, one memory read for tables that follow each other."""
        np, t = self.np, self.tree
        sub = self.levels[dec.level + 1]
        n = dec.next_entries
        if 1 < n < self.min_run:
            yield from (None for _ in tables)
            return
        nbytes = n * self.esize
        per = max(1, _UNIFORM_CHUNK // nbytes)
        idx = np.asarray(tables, dtype=np.intp) + lo
        for c in range(0, len(tables), per):
            descs = raw[idx[c:c + per]]
            m = len(descs)
            nxt = next_table_base(descs, t.granule_shift, t.ds, t.lpa64)
            ok = (descs & np.uint64(dec.table_res0)) == 0
            for check in TABLE_CHECKS:
                ok &= ~np.asarray(check.test(t, descs, nxt), dtype=bool)
            addrs = nxt.tolist()
            okl = ok.tolist()
            reads: list[tuple[int, int, bytes]] = []
            k = 0
            while k < m:
                e = k + 1
                if okl[k]:
                    while e < m and okl[e] and addrs[e] == addrs[e - 1] + nbytes:
                        e += 1
                    try:
                        reads.append((k, e, self.mem.read(addrs[k], (e - k) * nbytes)))
                    except NotInImage:
                        ok[k:e] = False
                k = e
            if len(reads) == 1 and reads[0][1] - reads[0][0] == m:
                rows = np.frombuffer(reads[0][2], dtype=self.dtype).reshape(m, n)
            else:
                rows = np.zeros((m, n), dtype=self.dtype)
                for k, e, data in reads:
                    rows[k:e] = np.frombuffer(data, dtype=self.dtype).reshape(e - k, n)
            good, keys, oa0 = self._uniform_rows(sub, self._native(rows))
            good &= ok
            for g, d, a, key, o, f in zip(good.tolist(), descs.tolist(), addrs, keys.tolist(), oa0.tolist(),
                                          rows[:, 0].tolist()):
                yield (d, a, key, o, f) if g else None

    def _uniform_table(self, dec: _LevelDecode, u: tuple[int, int, int, int, int], i: int, parent: TableInfo,
                       hier: tuple[int, bool, bool, bool], tbits: int, assured: bool, path: tuple[AFUpdate, ...],
                       below: dict[int, tuple[tuple[int, bool, bool, bool], int]]) -> bool:
        """What :meth:`_child` and :meth:`_table` do for table descriptor ``i`` of ``parent`` when
        :meth:`_uniform_tables` found its table one run of leaves (``u``), unless the table is
        not whole in the walked range, a limit is reached or it was walked already through a path
        in the same state: then False, and nothing is done (:meth:`_child` walks it).  ``below``:
        the :meth:`_descend` of the parent's descriptors so far, by their hierarchical bits."""
        t, s = self.tree, self.summary
        desc, address, key, oa0, first = u
        level = dec.level + 1
        sub = self.levels[level]
        n = dec.next_entries
        va = parent.va_start + i * dec.entry_size
        va_end = va + n * sub.entry_size
        if va < self.start or va_end > self.end:
            return False
        if s.tables >= self.limits.max_tables or s.entries + s.s2_lookups + n > self.limits.max_entries:
            return False
        if t.stage == 1:
            bits = desc & self.hier_mask
            step = below.get(bits)
            if step is None:
                step = below[bits] = self._descend(bits, hier, tbits)
            hier, tbits = step
        seen = _path_key(address, level, 0, hier, tbits, assured, path)
        if seen in self.seen:
            return False
        self.seen[seen] = va
        s.tables += 1
        s.entries += n
        self._intern_guard()
        aid = self._intern(sub, sub.kind(key), key, hier, path)
        info = None
        if self.pre or self.post:
            info = TableInfo(level=level, address=address, pa=address, va_start=va, va_end=va_end, entries=n,
                             depth=parent.depth + 1, index=i, descriptor=desc, status=TableStatus.OK, valid=n,
                             first_index=0, last_index=n - 1, inherited=hier)
            if self.pre:
                self.visitor.table_pre(info)
        self.visitor.run(self._leaf_run(sub, self._by_id[aid], address, va, parent.depth + 1, 0, n, oa0, first))
        self._table_done(info, va_end)
        return True

    def _reference(self, key: tuple, pa: int, level: int, base: dict[str, Any]) -> bool:
        """The table at ``pa`` was walked at this level through a path in the same state (``key``)
        already: reported as a :attr:`TableStatus.REFERENCE` (``base``: the :class:`TableInfo` fields)."""
        first = self.seen.get(key)
        if first is None:
            return False
        self.summary.references += 1
        self._emit_table(TableInfo(pa=pa, status=TableStatus.REFERENCE, first_va=first,
                                   note=f"level {level} table {pa:#x} already walked at VA {first:#x}", **base))
        return True

    def _table_done(self, info: TableInfo | None, va_end: int) -> None:
        if self.post:
            self.visitor.table_post(info)
        if self.progress is not None:
            self.summary.fraction = self._fraction()
            self.progress(min(va_end, self.end))

    def _uniform_run(self, dec: _LevelDecode, raw: Any, lo: int, hi: int, hier: tuple[int, bool, bool, bool],
                     path: tuple[AFUpdate, ...]) -> tuple[int, int] | None:
        """``(attribute id, first output)`` when entries ``lo..hi-1`` are leaves that make one run (the
        same descriptor bits but for outputs that continue each other, all inside the output size or
        all beyond it), else ``None``: the general decoding (:meth:`_segment`) then splits them."""
        n = hi - lo
        if 1 < n < self.min_run:
            return None
        first = int(raw[lo])
        vt = first & _CLS_MASK
        if dec.cat_lut[vt] != _LEAF or not bool((raw[lo:hi] == self._steps(dec, n) + raw[lo]).all()):
            return None
        good, key, oa0 = self._run_ends(dec, first, int(raw[hi - 1]), n)
        if not good:
            return None
        self._intern_guard()
        return self._intern(dec, dec.kinds[vt], key, hier, path), oa0

    def _uniform_rows(self, dec: _LevelDecode, rows: Any) -> tuple[Any, Any, Any]:
        """:meth:`_uniform_run` of many tables at once: which rows of ``rows`` (the entries of tables
        at ``dec``'s level, a table a row) are one run of leaves, with each row's attribute key and
        first output (:meth:`_run_ends`)."""
        np = self.np
        n = rows.shape[1]
        first = rows[:, 0]
        good = dec.cat_lut[(first & _CLS_MASK).astype(np.intp)] == _LEAF
        good &= (rows == self._steps(dec, n) + first[:, None]).all(axis=1)
        ends, keys, oa0 = self._run_ends(dec, first, rows[:, n - 1], n)
        return good & ends, keys, oa0

    def _steps(self, dec: _LevelDecode, n: int) -> Any:
        """``i * entry_size`` for the first ``n`` entries of a table at ``dec``'s level (uint64)."""
        steps = dec.steps
        if steps is None or len(steps) < n:
            np = self.np
            steps = dec.steps = np.arange(max(n, 1 << self.tree.stride), dtype=np.uint64) * np.uint64(dec.entry_size)
        return steps[:n]

    def _run_ends(self, dec: _LevelDecode, first: Any, last: Any, n: int) -> tuple[Any, Any, Any]:
        """For ``n`` leaf descriptors from ``first`` to ``last`` that differ by one entry's output
        each (ints, or uint64 arrays of them): whether they make one run (their address field did
        not wrap; their outputs are all inside the output size or all beyond it), the run's
        attribute key (``first``'s, VALID marking "beyond", as :meth:`_segment` marks it) and its
        first output."""
        t = self.tree
        oa0 = leaf_base(first, dec.leafsize, t.ds, t.lpa64)
        oa1 = leaf_base(last, dec.leafsize, t.ds, t.lpa64)
        good = oa1 - oa0 == (n - 1) * dec.entry_size      # (else the address field wrapped)
        keys = first & dec.key_mask
        if t.oa_bits < 64:
            oob = oa_out_of_range(stage_oa(oa0, _M64, dec.leafsize), t.oa_bits)
            good = good & (oob == oa_out_of_range(stage_oa(oa1, _M64, dec.leafsize), t.oa_bits))
            keys = keys | oob                               # VALID (bit 0) is not in key_mask: it flags oob
        return good, keys, oa0

    def _fraction(self) -> float:
        """Share of the tree walked: the subtables done at each open level, each weighing its parent's share."""
        done, weight = 0.0, 1.0
        for n_done, n in self.frames:
            if not n:
                break
            done += weight * min(n_done, n) / n
            weight /= n
        return done if self.frames else 1.0

    def _read_text(self) -> str:
        s = self.summary
        return f"{s.entries} read" + (f", {s.s2_lookups} stage 2 lookups of stage 1 outputs" if s.s2_lookups else "")

    def _charge(self, n: int, va: int) -> None:
        """Count ``n`` stage 2 lookups (one descriptor each) against ``--max-entries``."""
        s = self.summary
        if s.entries + s.s2_lookups + n > self.limits.max_entries:
            raise _Stopped(f"stopped after {s.tables} tables: limit reached (at most {self.limits.max_entries} "
                           f"descriptors, --max-entries; {self._read_text()}); not walked: {self.tree.name} "
                           f"from VA {va:#x} on (stage 2 lookups of its outputs)")
        s.s2_lookups += n

    def _emit_table(self, info: TableInfo) -> None:
        if self.pre_not_walked:
            self.visitor.table_pre(info)
        if self.post:
            self.visitor.table_post(info)

    def _segments(self, dec: _LevelDecode, raw: Any, cat: Any, lo: int, a: int, b: int, info: TableInfo,
                  hier: tuple[int, bool, bool, bool], paths: list[tuple[int, tuple[AFUpdate, ...]]],
                  upper: Any = None) -> None:
        """:meth:`_segment` of entries ``a..b-1`` (``cat`` from entry ``lo``), cut where the path's
        Access flag updates change (``paths``: (first entry, updates))."""
        for k, (start, path) in enumerate(paths):
            end = paths[k + 1][0] if k + 1 < len(paths) else b
            s, e = max(a, start), min(b, end)
            if s < e:
                self._segment(dec, raw, cat[s - lo:e - lo], s, e, info, hier, path, upper)

    def _assured_after(self, assured: bool, s2_pieces: list[_Piece], i: int, raw: Any) -> bool:
        """FEAT_THE: the walk's Assured property after table descriptor ``i`` of a table fetched in
        ``s2_pieces`` (:func:`~pgwalk.rules.s1_assured_step` with the MostlyReadOnly result of the
        stage 2 leaf its fetch went through, :func:`~pgwalk.perms.s2_mro`)."""
        if not (self.the and assured):
            return assured
        leaf = next(p.leaf for p in s2_pieces if i * self.esize < p.end)
        return bool(s1_assured_step(True, s2_mro(leaf.perms), int(raw[i]), self.tree.s1.pnch))

    def _descend(self, raw: int, hier: tuple[int, bool, bool, bool], tbits: int
                 ) -> tuple[tuple[int, bool, bool, bool], int]:
        """Stage 1: the path's ``(hier, tbits)`` (:meth:`_table`) below the table descriptor ``raw``:
        hierarchical permissions, as every walk accumulates them (none with HPD = 1), and NSTable."""
        t = self.tree
        bits = tbits | table_attr_bits(raw, t.hpd)
        ns = self.nstable is not None and bool(self.nstable.get(raw))
        if bits != tbits or (not hier[3] and ns):
            return (*hierarchical_attrs(bits, t.two_el), hier[3] or ns), bits
        return hier, tbits

    def _child(self, dec: _LevelDecode, raw: int, i: int, parent: TableInfo,
               hier: tuple[int, bool, bool, bool], tbits: int, assured: bool, path: tuple[AFUpdate, ...]) -> None:
        t = self.tree
        nxt = next_table_base(raw, t.granule_shift, t.ds, t.lpa64, t.d128)
        skl = d128_skl(raw) if t.d128 else 0    # D128: the levels skipped
        flags: tuple[str, ...] = ()
        res0 = raw & dec.table_res0
        if res0:
            flags = (f"RES0 bits set: {res0:#x}",)
        if t.stage == 1:
            hier, tbits = self._descend(raw, hier, tbits)
        self._table(dec.level + 1 + skl, nxt, parent.va_start + i * dec.entry_size, parent.depth + 1, i, raw, hier,
                    flags, tbits, assured, path, skl)

    # ------------------------------------------------------------------ leaves

    def _intern(self, dec: _LevelDecode, kind: str, key: int, hier: tuple[int, bool, bool, bool],
                path: tuple[AFUpdate, ...]) -> int:
        ck = (dec.level, key, hier, path)
        hit = self._attrs.get(ck)
        if hit is not None:
            return hit[0]
        attrs = self._leaf_attrs(dec, kind, key, hier, path)
        aid = self._ids.get(attrs)
        if aid is None:
            aid = len(self._by_id)
            self._ids[attrs] = aid
            self._by_id.append(attrs)
        self._attrs[ck] = (aid, attrs)
        return aid

    def _leaf_attrs(self, dec: _LevelDecode, kind: str, key: int, hier: tuple[int, bool, bool, bool],
                    path: tuple[AFUpdate, ...]) -> LeafAttrs:
        """Decode one descriptor pattern (``key``: attribute bits; VALID carries "OA out of range")."""
        t = self.tree
        oob = bool(key & D.VALID.mask)
        raw = key & ~D.VALID.mask
        flags: list[str] = []
        if kind == "illegal block":
            flags.append(f"block descriptor not allowed at level {dec.level} with a "
                         f"{granule_name(t.granule_shift)} granule{' and DS = 1' if t.ds else ''}")
        elif kind == "reserved":
            flags.append(invalid_descriptor_reason(DescType.RESERVED, dec.level, t.granule_shift, t.ds, raw, t.d128))
        # (a VMSAv9-128 entry of no type is not read as a leaf: its bits are not judged)
        judged = not t.d128 or kind in ("block", "page")
        if raw & dec.misalign and judged:
            flags.append(f"misaligned output: bits {raw & dec.misalign:#x} below the "
                         f"{dec.entry_size:#x}-byte block size are set ({'ignored' if t.d128 else 'RES0, ignored'})")
        if raw & dec.res0 and judged:
            flags.append(f"RES0 bits set: {raw & dec.res0:#x}")
        if oob:
            flags.append(f"output address beyond the {t.oa_bits}-bit output size (Address size fault"
                         f"{' from ' + format(1 << t.oa_bits, '#x') if kind == 'block' else ''})")
        f = _LEAF_FIELDS[t.stage, t.d128]
        af = bool(f["AF"].get(raw))
        if kind in ("block", "page") and af_fault(raw, t.ha):
            flags.append("AF = 0 and hardware AF update is off (Access flag fault)")
        ns_table = hier[3]
        if kind not in ("block", "page"):
            # a Translation fault when used: no attributes or permissions, only the raw bits
            sh = None if t.ds else f["SH"].get(raw)
            return LeafAttrs(t.stage, dec.level, kind, None, None, f["AttrIndx"].get(raw) if t.stage == 1 else None,
                             sh, af, bool(f["nG"].get(raw)) and t.two_el if t.stage == 1 else False,
                             "DBM" in f and bool(f["DBM"].get(raw)),
                             contiguous_bit(raw, t.granule_shift, dec.level, t.stage == 1 and t.s1.pnch, t.d128),
                             t.stage == 1 and bool(f["GP"].get(raw)), t.stage == 1 and bool(f["NS"].get(raw)),
                             ns_table, tuple(flags), path_af_updates=path)
        # the scalar walker's leaf decoding: attributes, and permissions with the table bits of the path
        if t.stage == 1:
            leaf = s1_leaf(t.setup, t.s1, raw, dec.level, kind, hier[0], hier[1], hier[2])
            gp, ns = bool(f["GP"].get(raw)), bool(f["NS"].get(raw))
        else:
            leaf = s2_leaf(t.setup, raw, dec.level, kind)
            gp = ns = False
        return LeafAttrs(t.stage, dec.level, kind, leaf.attrs, leaf.perms, leaf.attr_index, leaf.sh, leaf.af,
                         leaf.ng, leaf.dbm, leaf.contiguous, gp, ns, ns_table, tuple(flags),
                         leaf.af_update and not oob, path)

    def _intern_guard(self) -> None:
        if len(self._by_id) > _INTERN_LIMIT:       # bounded memory on garbage; ids restart between segments
            self.flush()                            # (the waiting segments refer to the ids)
            self._attrs.clear()
            self._ids.clear()
            del self._by_id[1:]
            if self.s2 is not None:
                self.s2.reset()

    def _segment(self, dec: _LevelDecode, raw: Any, cat: Any, a: int, b: int, info: TableInfo,
                 hier: tuple[int, bool, bool, bool], path: tuple[AFUpdate, ...], upper: Any = None) -> None:
        """Entries ``a..b-1`` of a table, none of them a table descriptor: runs to the visitor
        (``upper``: D128, the descriptors' upper 64-bit words)."""
        if not self.leaves:
            return
        self._intern_guard()
        np = self.np
        seg = raw[a:b]
        hi = None if upper is None else upper[a:b]
        n = b - a
        es = dec.entry_size
        cmin, cmax = int(cat.min()), int(cat.max())
        if cmax == _INVALID:                            # all invalid: one run
            if self.invalid:
                self._emit_invalid(dec, seg, 0, n, a, info, hi)
            return
        # output addresses of every entry (garbage for invalid ones: never used)
        oa = leaf_base(seg.view(np.int64), dec.leafsize, self.tree.ds, self.tree.lpa64, dec.d128)
        keys = seg & dec.key_mask
        if self.tree.oa_bits < 64:
            # StageOA: the block's whole output range counts, not only its base (a 64KB-granule
            # level 1 block is 4TB, larger than a 32-bit output space): its last byte's output
            oob = oa_out_of_range(stage_oa(oa.view(np.uint64), np.uint64(_M64), dec.leafsize), self.tree.oa_bits)
            if oob.any():
                keys = keys | oob.astype(np.uint64)     # VALID (bit 0) is not in key_mask: it flags oob
        key_of: Callable[[Any], int] = int
        if hi is not None:                              # D128: a key is both words, numbered
            keys, key_of = _paired_keys(np, keys, hi & np.uint64(dec.key_mask_hi))
        if cmin == cmax:                                # one category (block/page, or odd)
            rep_kind = dec.kind(key_of(keys[0]))
            if bool((keys == keys[0]).all()):
                ids = None
                only = self._intern(dec, rep_kind, key_of(keys[0]), hier, path)
            else:
                uk, inv = np.unique(keys, return_inverse=True)
                lut = np.array([self._intern(dec, rep_kind, key_of(k), hier, path) for k in uk.tolist()],
                               dtype=np.int64)
                ids = lut[inv]
        else:
            ids = np.zeros(n, dtype=np.int64)
            sel = np.flatnonzero(cat != _INVALID)
            ks = keys[sel]
            uk, inv = np.unique(ks, return_inverse=True)
            # every key includes the type bits (TYPE; D128: SKL), so one key has one kind at this level
            lut = np.array([self._intern(dec, dec.kind(key_of(k)), key_of(k), hier, path)
                            for k in uk.tolist()], dtype=np.int64)
            ids[sel] = lut[inv]
        # run boundaries: attributes change, or the output does not continue
        if n == 1:
            starts = [0]
        else:
            if ids is None:
                brk = np.diff(oa) != es
            else:
                d_ids = ids[1:] != ids[:-1]
                brk = d_ids | ((ids[1:] != 0) & (np.diff(oa) != es))
            if not self.merge:
                brk = np.ones(n - 1, dtype=bool) if ids is None else (brk | (ids[1:] != 0))
            starts = [0] + (np.flatnonzero(brk) + 1).tolist()
        ends = starts[1:] + [n]
        idl = [only] * len(starts) if ids is None else ids[starts].tolist()
        if self.s2 is not None:
            if hi is not None:                          # D128: the runs' descriptors as 128-bit ints
                seg = np.array(_join128(seg, hi), dtype=object)
            self._two_stage(dec, seg, oa, starts, ends, idl, a, info)
            return
        oas = oa[starts].tolist()
        raws = seg[starts].tolist() if hi is None else _join128(seg[starts], hi[starts])
        for s, e, aid, o, r in zip(starts, ends, idl, oas, raws):
            if aid == 0:
                if self.invalid:
                    self._emit_invalid(dec, seg, s, e, a, info, hi)
            elif 1 < e - s < self.min_run:             # short runs: one descriptor each
                attrs = self._by_id[aid]
                for k in range(s, e):
                    self._emit_leaves(dec, attrs, a + k, 1, int(oa[k]), _descriptor(seg, hi, k), info, seg[k:k + 1])
            else:
                self._emit_leaves(dec, self._by_id[aid], a + s, e - s, o, r, info, seg[s:e])

    def _emit_invalid(self, dec: _LevelDecode, seg: Any, s: int, e: int, a: int, info: TableInfo,
                      hi: Any = None) -> None:
        nonzero = int(self.np.count_nonzero(seg[s:e] if hi is None else seg[s:e] | hi[s:e]))
        self.visitor.run(Run(dec.level, "invalid", info.address, a + s, e - s,
                             info.va_start + (a + s) * dec.entry_size, dec.entry_size, None, None, None,
                             _descriptor(seg, hi, s), info.depth + 1, nonzero))

    def _emit_leaves(self, dec: _LevelDecode, attrs: LeafAttrs, i: int, count: int, oa: int, raw: int,
                     info: TableInfo, raws: Any) -> None:
        self.visitor.run(self._leaf_run(dec, attrs, info.address, info.va_start, info.depth, i, count, oa, raw))

    def _leaf_run(self, dec: _LevelDecode, attrs: LeafAttrs, table: int, va_start: int, depth: int, i: int,
                  count: int, oa: int, raw: int) -> Run:
        """The :class:`Run` of ``count`` leaves from entry ``i`` of the table at ``table`` (mapping from
        ``va_start``, at ``depth``), the first descriptor ``raw``, its output ``oa``."""
        es = dec.entry_size
        oa_v = None if not attrs.mapped and not dec.has_layout else oa
        pa = None if self.tree.through_s2 or not attrs.mapped else oa_v
        return Run(dec.level, attrs.kind, table, i, count, va_start + i * es, es, oa_v, pa, attrs, raw, depth + 1)

    # ------------------------------------------------------------------ two stages
    #
    # Under two stages the walk does not call the visitor itself: every visit becomes an action
    # in ``self.actions`` (see :class:`_Deferred`), and the outputs of the leaves are collected
    # until :data:`_BATCH_LANES` of them wait.  :meth:`flush` then looks them all up in stage 2
    # at once, splits the runs, resolves the leaves that stage 2 maps in differing pieces (all of
    # them together, :class:`_PieceEntry`) and performs the actions in order.

    def _two_stage(self, dec: _LevelDecode, seg: Any, oa: Any, starts: list[int], ends: list[int], idl: list[int],
                   a: int, info: TableInfo) -> None:
        """Queue the runs of a segment under two stages; their outputs wait for the next :meth:`flush`."""
        np = self.np
        by_id = self._by_id
        n = len(seg)
        mapped = np.zeros(n, dtype=bool)
        ids = np.zeros(n, dtype=np.int64)
        for s, e, aid in zip(starts, ends, idl):
            if aid and by_id[aid].mapped:
                mapped[s:e] = True
                ids[s:e] = aid
        sel = np.flatnonzero(mapped)
        first = self.n_lanes
        if len(sel):
            self._charge(len(sel), info.va_start + (a + int(sel[0])) * dec.entry_size)
            self.lanes.append((oa[sel].view(np.uint64), ids[sel]))
            self.n_lanes += len(sel)
        self.actions.append(_SegmentAction(dec, seg, oa, starts, ends, idl, a, info, first))
        if self.n_lanes >= _BATCH_LANES or len(self.actions) >= _BATCH_ACTIONS:
            self.flush()

    def flush(self) -> None:
        """Look up the waiting outputs in stage 2 and perform the waiting actions, in order."""
        if self.s2 is None or not self.actions:
            return
        np = self.np
        actions, self.actions = self.actions, []
        lanes, self.lanes, self.n_lanes = self.lanes, [], 0
        found = None
        if lanes:
            ipa = np.concatenate([x[0] for x in lanes])
            found = (ipa, *self.s2.lookup(ipa, np.concatenate([x[1] for x in lanes]), self._by_id))
        # the visits in order, each leaf split into its stage 2 pieces entry (a _PieceEntry) or a Run
        plan: list[Any] = []
        for act in actions:
            if isinstance(act, _SegmentAction):
                self._plan_segment(act, found, plan)
            else:
                plan.append(act)
        entries = [x for x in plan if isinstance(x, _PieceEntry)]
        pos = self._perform(plan, 0)
        while pos < len(plan):
            self._piece_round(entries)
            entries = [e for e in entries if not e.done]
            pos = self._perform(plan, pos)

    def _perform(self, plan: list[Any], pos: int) -> int:
        """Perform the plan from ``pos`` up to the first leaf whose pieces are not all known yet
        (emitting the pieces it has); returns where it stopped."""
        visitor = self.out
        while pos < len(plan):
            x = plan[pos]
            if isinstance(x, Run):
                visitor.run(x)
            elif isinstance(x, _PieceEntry):
                for piece in x.closed:
                    visitor.run(x.run(piece, self.s2.outcomes))
                x.closed.clear()
                x.first = True
                if not x.done:
                    return pos
                visitor.run(x.run(x.cur, self.s2.outcomes))
            else:
                fn, arg = x
                fn(arg)
            pos += 1
        return pos

    def _plan_segment(self, act: "_SegmentAction", found: Any, plan: list[Any]) -> None:
        """The runs of one queued segment: split where the stage 2 outcome changes or the PA stops
        continuing; a leaf that stage 2 maps in differing pieces becomes a :class:`_PieceEntry`."""
        np = self.np
        dec, seg, info, a = act.dec, act.seg, act.info, act.a
        es = dec.entry_size
        depth = info.depth + 1
        by_id = self._by_id
        outcomes = self.s2.outcomes
        u64es = np.uint64(es)
        pos = act.first
        for s, e, aid in zip(act.starts, act.ends, act.idl):
            if aid == 0:
                if self.invalid:
                    nonzero = int(np.count_nonzero(seg[s:e]))
                    plan.append(Run(dec.level, "invalid", info.address, a + s, e - s, info.va_start + (a + s) * es,
                                    es, None, None, None, int(seg[s]), depth, nonzero))
                continue
            attrs = by_id[aid]
            if not attrs.mapped:
                short = 1 < e - s < self.min_run
                for k in (range(s, e) if short else (s,)):
                    oa_v = int(act.oa[k]) if dec.has_layout else None
                    plan.append(Run(dec.level, attrs.kind, info.address, a + k, 1 if short else e - s,
                                    info.va_start + (a + k) * es, es, oa_v, None, attrs, int(seg[k]), depth))
                continue
            part = slice(pos, pos + e - s)
            pos += e - s
            ipa, oid, ok, pa, _lo, hi, s2raw, s2lvl = (f[part] for f in found)
            n = e - s
            whole = hi >= ipa + u64es                     # stage 2 treats the whole entry alike
            if n == 1:
                starts = [0]
            else:
                brk = ~whole[:-1] | ~whole[1:] | (oid[1:] != oid[:-1]) | (ok[1:] & (pa[1:] != pa[:-1] + u64es))
                if not self.merge:
                    brk[:] = True
                starts = [0] + (np.flatnonzero(brk) + 1).tolist()
            ends = starts[1:] + [n]
            for u, v in zip(starts, ends):
                i = a + s + u
                if not whole[u]:
                    plan.append(_PieceEntry(self, dec, attrs, aid, i, int(seg[s + u]), int(ipa[u]), info,
                                            (int(oid[u]), bool(ok[u]), int(pa[u]), int(_lo[u]), int(hi[u]),
                                             int(s2raw[u]), int(s2lvl[u]))))
                    continue
                short = 1 < v - u < self.min_run
                for k in (range(u, v) if short else (u,)):
                    out = outcomes[int(oid[k])]
                    good = bool(ok[k])
                    plan.append(Run(dec.level, attrs.kind, info.address, a + s + k, 1 if short else v - u,
                                    info.va_start + (a + s + k) * es, es, int(ipa[k]), int(pa[k]) if good else None,
                                    attrs, int(seg[s + k]), depth, s2=out, note=_s2_note(out),
                                    s2_raw=int(s2raw[k]) if good else None, s2_level=int(s2lvl[k]) if good else None))

    def _piece_round(self, entries: list["_PieceEntry"]) -> None:
        """One batch of stage 2 lookups for the leaves still being split (the first of them may take
        every lane; the others only their allowance, so the pieces kept back stay bounded)."""
        np = self.np
        s = self.summary
        # (up to the limit, so that a limit stops the walk where it is reached)
        budget = max(1, min(_PIECE_LANES, self.limits.max_entries - s.entries - s.s2_lookups))
        take: list[tuple[_PieceEntry, int]] = []
        if sum(len(x.closed) for x in entries) > _PIECE_LANES:
            entries = entries[:1]                   # enough pieces kept back: only the first goes on
        for x in entries:
            m = x.want(budget)
            if m:
                take.append((x, m))
                budget -= m
            if budget <= 0:
                break
        if not take:
            return
        pos = np.concatenate([x.positions(m) for x, m in take])
        aids = np.concatenate([np.full(m, x.aid, dtype=np.uint64) for x, m in take])
        self._charge(len(pos), take[0][0].va_at_cursor)
        res = self.s2.lookup(pos, aids, self._by_id)
        k = 0
        for x, m in take:
            x.take(pos[k:k + m], [f[k:k + m] for f in res])
            k += m


class _SegmentAction:
    """A queued segment (two stages): its leaf outputs are lanes ``first..`` of the batch."""

    __slots__ = ("dec", "seg", "oa", "starts", "ends", "idl", "a", "info", "first")

    def __init__(self, dec: _LevelDecode, seg: Any, oa: Any, starts: list[int], ends: list[int], idl: list[int],
                 a: int, info: TableInfo, first: int) -> None:
        self.dec, self.seg, self.oa, self.starts, self.ends, self.idl = dec, seg, oa, starts, ends, idl
        self.a, self.info, self.first = a, info, first


class _Deferred(TreeVisitor):
    """Two stages: visits become actions of the walker, performed in order by :meth:`_Walker.flush`."""

    def __init__(self, actions_of: "_Walker", visitor: TreeVisitor) -> None:
        self.w, self.v = actions_of, visitor

    def _add(self, action: tuple[Callable[[Any], None], Any]) -> None:
        self.w.actions.append(action)
        if len(self.w.actions) >= _BATCH_ACTIONS:
            self.w.flush()

    def table_pre(self, table: TableInfo) -> None:
        self._add((self.v.table_pre, table))

    def table_post(self, table: TableInfo) -> None:
        self._add((self.v.table_post, table))

    def run(self, run: Run) -> None:
        self._add((self.v.run, run))


class _PieceEntry:
    """One stage 1 leaf that stage 2 maps in pieces that differ: its pieces, found a batch at a time.

    A batch looks up ``cursor + k * size`` (``size`` the smallest stage 2 region seen), as many as
    would cover the rest of the leaf, and keeps the results up to the first gap a smaller region
    leaves; pieces that continue each other (same outcome, PA continuing) are merged.  A piece is
    ``[lo, hi, outcome, ok, pa, s2 raw, s2 level]`` in IPAs.
    """

    def __init__(self, w: _Walker, dec: _LevelDecode, attrs: LeafAttrs, aid: int, i: int, raw: int, ipa0: int,
                 info: TableInfo, first: tuple[int, bool, int, int, int, int, int]) -> None:
        oid, ok, pa, lo, hi, s2raw, s2lvl = first
        self.dec, self.attrs, self.aid, self.i, self.raw, self.ipa0, self.info = dec, attrs, aid, i, raw, ipa0, info
        self.np = w.np
        self.end = ipa0 + dec.entry_size
        self.va0 = info.va_start + i * dec.entry_size
        self.cur = [ipa0, min(hi, self.end), oid, ok, pa, s2raw, s2lvl]
        self.cursor = self.cur[1]
        self.size = hi - lo
        self.closed: list[list] = []
        self.first = False                  # all the leaves before it are done: it may take every lane
        self.allowance = 2 * min(_PIECE_LANES, -(-(self.end - self.cursor) // self.size)) + 2

    @property
    def done(self) -> bool:
        return self.cursor >= self.end

    @property
    def va_at_cursor(self) -> int:
        return self.va0 + (self.cursor - self.ipa0)

    def want(self, budget: int) -> int:
        if self.done:
            return 0
        m = min(budget, -(-(self.end - self.cursor) // self.size))
        if not self.first:
            m = min(m, self.allowance)
            self.allowance -= m
        return m

    def positions(self, m: int) -> Any:
        np = self.np
        return np.uint64(self.cursor) + np.arange(m, dtype=np.uint64) * np.uint64(self.size)

    def take(self, pos: Any, res: list[Any]) -> None:
        np = self.np
        oid, ok, pa, lo, hi, s2raw, s2lvl = res
        m = len(pos)
        e = np.minimum(hi, np.uint64(self.end))
        gap = e[:-1] < pos[1:]
        last = int(np.argmax(gap)) if gap.any() else m - 1
        keep = np.ones(last + 1, dtype=bool)
        keep[1:] = pos[1:last + 1] == e[:last]          # lanes inside the region before them add nothing
        k = np.flatnonzero(keep)
        plo, phi, poid, pok, ppa = pos[k], e[k], oid[k], ok[k], pa[k]
        cur = self.cur
        cont = np.empty(len(k), dtype=bool)
        cont[0] = int(poid[0]) == cur[2] and (not cur[3] or int(ppa[0]) == cur[4] + (int(plo[0]) - cur[0]))
        if len(k) > 1:
            cont[1:] = (poid[1:] == poid[:-1]) & (~pok[1:] | (ppa[1:] == ppa[:-1] + (plo[1:] - plo[:-1])))
        for j in np.flatnonzero(~cont).tolist():
            cur[1] = int(plo[j])                        # the pieces are contiguous
            self.closed.append(cur)
            cur = [int(plo[j]), int(phi[j]), int(poid[j]), bool(pok[j]), int(ppa[j]), int(s2raw[k[j]]),
                   int(s2lvl[k[j]])]
        cur[1] = int(phi[-1])
        self.cur = cur
        self.cursor = cur[1]
        self.size = int((hi[:last + 1] - lo[:last + 1]).min())

    def run(self, piece: list, outcomes: list[Stage2]) -> Run:
        lo, hi, oid, ok, pa, s2raw, s2lvl = piece
        out = outcomes[oid]
        dec = self.dec
        es = dec.entry_size
        return Run(dec.level, self.attrs.kind, self.info.address, self.i, 1, self.va0 + (lo - self.ipa0), es, lo,
                   pa if ok else None, self.attrs, self.raw, self.info.depth + 1, s2=out, note=_s2_note(out),
                   length=0 if hi - lo == es else hi - lo, s2_raw=s2raw if ok else None,
                   s2_level=s2lvl if ok else None)


def _path_key(pa: int, level: int, skl: int, hier: tuple[int, bool, bool, bool], tbits: int, assured: bool,
              path_af: tuple[AFUpdate, ...]) -> tuple:
    """The key of a table walked in a path's state: what the walks below depend on besides the table
    (at ``pa``, ``level``) -- the hierarchical attributes (``hier``, ``tbits``), the Assured property
    (FEAT_THE) and the Access flag updates of the path, and (D128) the table's size, from the SKL of
    the descriptor pointing at it.  A table reached again with the same key is a reference; with
    another it is walked again (judged for that path)."""
    return (pa, level, skl, hier, tbits, assured, path_af)


def _descriptor(raw: Any, upper: Any, i: int) -> int:
    """Descriptor ``i`` of a table read as 64-bit words ``raw`` (D128: and their upper words ``upper``)."""
    return int(raw[i]) if upper is None else _join128(raw[i:i + 1], upper[i:i + 1])[0]


def _join128(lo: Any, hi: Any) -> list[int]:
    """128-bit descriptors (Python ints) from their low and high 64-bit words (arrays)."""
    return [D.join128(r, h) for r, h in zip(lo.tolist(), hi.tolist())]


def _paired_keys(np: Any, lo: Any, hi: Any) -> tuple[Any, Callable[[Any], int]]:
    """D128 leaf keys in two words: one number per distinct (lo, hi) pair, equal where both are, and
    the 128-bit key of a number."""
    ulo, ilo = np.unique(lo, return_inverse=True)
    uhi, ihi = np.unique(hi, return_inverse=True)
    pair = ilo.reshape(-1).astype(np.int64) * len(uhi) + ihi.reshape(-1)
    los, his, m = ulo.tolist(), uhi.tolist(), len(uhi)
    return pair, lambda k: D.join128(los[int(k) // m], his[int(k) % m])


def _run_af_updates(a: LeafAttrs, s2: Stage2 | None) -> tuple[AFUpdate, ...]:
    if s2 is None and not a.af_update:
        return a.path_af_updates
    ups = a.path_af_updates
    if s2 is not None:
        ups += s2.table_af_updates
    if a.af_update:
        ups += (AFUpdate(a.stage, a.level),)
    if s2 is not None and s2.af_update is not None:
        ups += (s2.af_update,)
    return ups


def _s2_note(out: Stage2) -> str:
    f = out.fault
    if f is None:
        return ""
    return f"stage 2 {f.type.value} fault" + ("" if f.level is None else f" level {f.level}")


def walk_tree(tree: TreeParams, mem: "Memory", visitor: TreeVisitor, *, start: int | None = None,
              end: int | None = None, visits: Visit = Visit.ALL, invalid: bool = False, merge: bool = True,
              min_run: int = 1, max_depth: int | None = None, limits: Limits | None = None, summary: WalkSummary | None = None,
              progress: Callable[[int], None] | None = None) -> WalkSummary:
    """Walk ``tree`` over the input addresses ``[start, end)`` and call ``visitor``.

    >>> s = walk_tree(tree_params(setup, "ttbr1"), mem, RangeMerger(print))   # doctest: +SKIP

    Leaves that overlap the range are reported whole.  Faults are never
    raised: broken tables come to the visitor with a :class:`TableStatus`,
    and a limit ends the walk with :attr:`WalkSummary.stopped` set.

    :param start: first input address (default: the tree's first)
    :param end: exclusive end (default: the tree's end)
    :param visits: which visits to make (:class:`Visit`)
    :param invalid: also report runs of invalid descriptors
    :param merge: report runs of continuing leaves as one :class:`Run` (else one per descriptor)
    :param min_run: runs shorter than this come one descriptor each (the tree view's folding)
    :param max_depth: tables deeper than this below the root are reported as ``NOT_EXPANDED``
    :param summary: a summary to add to (several trees under one set of limits)
    :param progress: called now and then with the input address reached
    :returns: the :class:`WalkSummary` (``summary`` if given)
    """
    if summary is None:
        summary = WalkSummary()
    summary.trees.append(tree)
    if tree.disabled or summary.stopped:      # (stopped: an earlier tree used up the limits)
        return summary
    lo = tree.va_lo if start is None else max(start, tree.va_lo)
    hi = tree.va_hi if end is None else min(end, tree.va_hi)
    if lo >= hi:
        return summary
    w = _Walker(tree, mem, visitor, visits, invalid, merge, min_run, max_depth, limits or Limits(), summary,
                progress, lo, hi)
    try:
        w.walk()
        w.flush()
    except StopWalk as stop:
        summary.stopped = str(stop) or "stopped by the visitor"
    except _Stopped as stop:
        summary.stopped = str(stop)
        try:
            w.flush()                               # the visits already counted (two stages)
        except (_Stopped, StopWalk):
            pass
    return summary


def collect_runs(tree: TreeParams, mem: "Memory", *, start: int | None = None, end: int | None = None,
                 merge: bool = False, invalid: bool = False, limits: Limits | None = None) -> list[Run]:
    """Every run of ``[start, end)`` in a list (one per descriptor unless ``merge``); for small trees."""
    out: list[Run] = []

    class _Collect(TreeVisitor):
        def run(self, run: Run) -> None:
            out.append(run)

    walk_tree(tree, mem, _Collect(), start=start, end=end, visits=Visit.LEAF, invalid=invalid, merge=merge,
              limits=limits)
    return out


# --------------------------------------------------------------------------- visitors

class RangeMerger(TreeVisitor):
    """The ranges view: maximal runs of input space with equal attributes and continuing outputs.

    Runs are merged across tables as they come and handed to ``sink`` one
    by one, so memory stays flat however many leaves there are.  Tables that
    were not walked become ranges of kind ``"table"`` (walk with
    ``Visit.LEAF | Visit.TABLE_NOT_WALKED``: the tables walked it does not
    need).  Call :meth:`finish` after the walk.
    """

    def __init__(self, sink: Callable[[Run], None], *, merge: bool = True) -> None:
        self.sink = sink
        self.merge = merge
        self.cur: Run | None = None
        self.count = 0
        # the range being merged: its first run, and what the runs merged into it add up to
        self._n = self._nonzero = self._size = 0
        self._partial = False           # some run covers part of a descriptor (Run.length)
        self._merged = False

    def _flush(self) -> None:
        c = self.cur
        if c is not None:
            if self._merged:
                c = replace(c, count=self._n, nonzero=self._nonzero, length=self._size if self._partial else 0)
            self.count += 1
            self.sink(c)
            self.cur = None
            self._merged = False

    def run(self, run: Run) -> None:
        c = self.cur
        if c is not None and self.merge:
            size = self._size
            if ((run.attrs is c.attrs or run.attrs == c.attrs) and run.kind == c.kind
                    and run.level == c.level
                    and run.va_start == c.va_start + size and run.s2 == c.s2 and run.note == c.note
                    and (run.oa is None or (c.oa is not None and run.oa == c.oa + size))
                    and (run.pa is None or (c.pa is not None and run.pa == c.pa + size))
                    and (run.pa is None) == (c.pa is None) and run.kind != "table"):
                # a run starting inside a descriptor continues the last descriptor of the range
                shared = 1 if run.va_start % run.entry_size else 0
                self._n += run.count - shared
                self._nonzero += run.nonzero
                self._size = size + run.size
                self._partial = self._partial or bool(run.length)
                self._merged = True
                return
        self._flush()
        self.cur = run
        self._n, self._nonzero, self._size = run.count, run.nonzero, run.size
        self._partial = bool(run.length)
        self._merged = False

    def table_pre(self, table: TableInfo) -> None:
        if table.status is TableStatus.OK:
            return
        self._flush()
        size = table.va_end - table.va_start
        self.cur = Run(table.level, "table", table.address, table.index if table.index is not None else 0, 1,
                       table.va_start, size, table.address, table.pa, None, table.descriptor or 0, table.depth,
                       note=table.note, status=table.status.value)
        self._flush()

    def finish(self) -> None:
        self._flush()


class LeafRuns(TreeVisitor):
    """Every block and page run of a walk, for indexes over a whole tree (the reverse map,
    AT's leaf index): parallel arrays (:class:`array.array`, 8 bytes a run each; numpy reads them
    with ``np.frombuffer``) :attr:`ia` (first input address), :attr:`oa` (first output: a PA, or
    an IPA for a stage 1 tree under stage 2), :attr:`count` (descriptors), :attr:`level` and
    :attr:`entry_size` (bytes one descriptor maps), in walk order.

    The walk reads a table shared by several entries of one level once and reports the others as
    :attr:`TableStatus.REFERENCE`; those entries map the shared table's leaves at their own
    input addresses too, so (``aliases=True``, for whole-tree walks: walk with
    :attr:`Visit.ALL`) the runs found under the table are repeated there, shifted.  At most
    ``max_leaves`` descriptors (repeats included) are collected; beyond, the walk stops
    (:class:`StopWalk`; :attr:`WalkSummary.stopped` says so) and :attr:`full` is set.
    """

    def __init__(self, *, aliases: bool = True, max_leaves: int | None = None) -> None:
        from array import array

        self.ia = array("Q")
        self.oa = array("Q")
        self.count = array("Q")
        self.level = array("q")
        self.entry_size = array("Q")
        self.leaves = 0
        self.full = False
        self.aliases = aliases
        self.max_leaves = max_leaves
        self._open: dict[tuple[int, int], int] = {}
        self._span: dict[tuple[int, int], tuple[int, int]] = {}

    def _charge(self, n: int) -> None:
        self.leaves += n
        if self.max_leaves is not None and self.leaves > self.max_leaves:
            self.full = True
            raise StopWalk(f"more than {self.max_leaves} leaf descriptors (shared tables counted at each use)")

    def run(self, run: Run) -> None:
        if run.oa is None or run.kind not in ("block", "page"):
            return
        self._charge(run.count)
        self.ia.append(run.va_start)
        self.oa.append(run.oa)
        self.count.append(run.count)
        self.level.append(run.level)
        self.entry_size.append(run.entry_size)

    def table_pre(self, table: TableInfo) -> None:
        if not self.aliases or table.pa is None:
            return
        key = (table.level, table.pa)
        if table.status is TableStatus.OK:
            self._open[key] = len(self.ia)
        elif table.status is TableStatus.REFERENCE and table.first_va is not None:
            span = self._span.get(key)
            if span is None:
                return
            a, b = span
            self._charge(sum(self.count[a:b]))
            import numpy as np

            # the shared table's runs at this entry's input addresses (mod 2**64: the sum is in range)
            shift = np.uint64((table.va_start - table.first_va) & _M64)
            self.ia.frombytes((np.frombuffer(self.ia, dtype=np.uint64)[a:b] + shift).tobytes())
            for arr in (self.oa, self.count, self.level, self.entry_size):
                arr.extend(arr[a:b])

    def table_post(self, table: TableInfo) -> None:
        if table.status is TableStatus.OK and table.pa is not None:
            key = (table.level, table.pa)
            a = self._open.pop(key, None)
            if a is not None:
                self._span[key] = (a, len(self.ia))


class TreeStats(TreeVisitor):
    """``--stats``: tables per level, leaves per level and kind, bytes per memory type and permission."""

    def __init__(self, tree: TreeParams | None = None) -> None:
        self.tree = tree
        self.tables: dict[int, int] = {}
        self.table_status: dict[str, int] = {}
        self.leaves: dict[tuple[int, str], int] = {}
        self.bytes_memtype: dict[str, int] = {}
        self.bytes_perms: dict[str, int] = {}
        self.invalid = 0
        self.flagged = 0
        self._perm_text: dict[tuple, str] = {}

    def table_pre(self, table: TableInfo) -> None:
        if table.status is TableStatus.OK:
            self.tables[table.level] = self.tables.get(table.level, 0) + 1
        else:
            self.table_status[table.status.value] = self.table_status.get(table.status.value, 0) + 1

    def run(self, run: Run) -> None:
        if run.kind == "invalid":
            self.invalid += run.count
            return
        key = (run.level, run.kind)
        count = run.count - (1 if run.va_start % run.entry_size else 0)    # a piece of a descriptor counted before
        self.leaves[key] = self.leaves.get(key, 0) + count
        a = run.attrs
        if a is not None and a.flags:
            self.flagged += count
        if not run.mapped or a is None:
            return
        size = run.size
        mt = _memtype_text(a, run.s2)
        self.bytes_memtype[mt] = self.bytes_memtype.get(mt, 0) + size
        fault = run.s2 is not None and run.s2.fault is not None
        pk = (a, run.s2_perms, fault)
        pt = self._perm_text.get(pk)
        if pt is None:
            perms = leaf_permissions(a, self.tree, run.s2_perms) if self.tree is not None else None
            pt = " ".join(f"{k.upper().replace('STAGE2_', 'S2 ')} {v}" for k, v in (perms or {}).items())
            if fault:
                pt = f"stage 2 fault (S1 {pt})"
            self._perm_text[pk] = pt
        self.bytes_perms[pt] = self.bytes_perms.get(pt, 0) + size

    def to_dict(self) -> dict[str, Any]:
        """``{"tables": {level: n}, "tables_not_walked": {status: n}, "leaves": [{"level", "kind",
        "count"}], "invalid": n, "flagged": n, "bytes_by_memtype": {text: bytes},
        "bytes_by_permissions": {text: bytes}, "bytes_mapped": n}``."""
        return {
            "tables": {str(k): v for k, v in sorted(self.tables.items())},
            "tables_not_walked": dict(sorted(self.table_status.items())),
            "leaves": [{"level": lv, "kind": k, "count": n} for (lv, k), n in sorted(self.leaves.items())],
            "invalid": self.invalid, "flagged": self.flagged,
            "bytes_by_memtype": dict(sorted(self.bytes_memtype.items(), key=lambda kv: -kv[1])),
            "bytes_by_permissions": dict(sorted(self.bytes_perms.items(), key=lambda kv: -kv[1])),
            "bytes_mapped": sum(self.bytes_memtype.values()),
        }


class TreeLines(TreeVisitor):
    """The tree view: records (plain dicts, pre-order) with ``depth`` and ``last``, streamed to ``sink``.

    Walk with ``invalid=True`` (every entry of the range must come, for
    ``last`` to be right) and ``min_run=FOLD_MIN``: runs of invalid
    descriptors then come as one record, leaf runs of at least
    :data:`FOLD_MIN` descriptors as one record with their count, shorter ones
    one descriptor a record (``merge=False``: every leaf its own record).
    """

    def __init__(self, sink: Callable[[dict[str, Any]], None], tree: TreeParams) -> None:
        self.sink = sink
        self.tree = tree
        self.stack: list[TableInfo] = []

    def table_pre(self, table: TableInfo) -> None:
        last = True
        if self.stack and table.index is not None:
            last = table.index == self.stack[-1].last_index
        self.sink(table_record(table, self.tree, last=last))
        if table.status is TableStatus.OK:
            self.stack.append(table)

    def table_post(self, table: TableInfo) -> None:
        if table.status is TableStatus.OK and self.stack and self.stack[-1] is table:
            self.stack.pop()

    def run(self, run: Run) -> None:
        last = False
        if self.stack:
            t = self.stack[-1]
            # the last descriptor of the table, and (stage 2 pieces) its last piece
            last = (run.index + run.count - 1 == t.last_index
                    and run.va_end == t.va_start + (run.index + run.count) * run.entry_size)
        self.sink(run_record(run, self.tree, record="entries", last=last))


# --------------------------------------------------------------------------- plain data

def hx(v: int | None) -> str | None:
    return None if v is None else f"{v:#x}"


def _memtype_text(a: LeafAttrs, s2: Stage2 | None = None) -> str:
    if s2 is not None:
        if s2.fault is not None:
            return _s2_note(s2)
        return s2.attrs.describe()
    if a.memattrs is None:
        return a.kind
    s = a.memattrs.describe()
    if a.stage == 1 and a.attr_index is not None:
        s += f" (AttrIndx {a.attr_index})"
    return s


def leaf_permissions(a: LeafAttrs, tree: TreeParams, s2_perms: S2Perms | None = None) -> dict[str, str] | None:
    """Permissions per EL (PAN off; WXN as the registers say), like translate's ``permissions``."""
    return _permissions(a.perms, tree.el, tree.epan, tree.wxn, s2_perms)


@functools.lru_cache(maxsize=4096)
def _permissions(p: S1Perms | S2Perms | None, el: int, epan: bool, wxn: bool,
                 s2_perms: S2Perms | None) -> dict[str, str] | None:
    out: dict[str, str] = {}
    if isinstance(p, S1Perms):
        els = ((1, False), (0, True)) if p.two_el else ((el, False),)
        for n, el0 in els:
            # translate's text (a "g" where GCS accesses are allowed; "unknown (REG not given)")
            out[f"el{n}"] = s1_rwx_text(p, el0=el0, pan=False, epan=epan, wxn=wxn)
    elif isinstance(p, S2Perms):
        s2_perms = p
    if s2_perms is not None:
        out["stage2_el1"] = s2_perms.text(False)
        out["stage2_el0"] = s2_perms.text(True)
    return out or None


@functools.lru_cache(maxsize=4096)
def _attrs_dict(a: LeafAttrs) -> dict[str, Any]:
    from .report import attrs_to_dict

    return {
        "memtype": None if a.memattrs is None else a.memattrs.memtype,
        "attributes": attrs_to_dict(a.memattrs),
        "attr_index": a.attr_index,
        "sh": None if a.sh is None else A.SH_NAMES[a.sh],
        "af": a.af, "ng": a.ng, "dbm": a.dbm, "contiguous": a.contiguous, "gp": a.gp, "ns": a.ns,
        "ns_table": a.ns_table,
    }


@functools.lru_cache(maxsize=4096)
def effective_permissions(a: LeafAttrs, tree: TreeParams, s2_perms: S2Perms) -> dict[str, str] | None:
    """Two stages: what an access at each EL may do through both stages (PAN off), as ``translate
    --access`` judges it (:func:`~pgwalk.perms.s1_check`, then :func:`~pgwalk.perms.s2_check`)."""
    p = a.perms
    if not isinstance(p, S1Perms):
        return None
    out = {}
    for n, el0 in ((1, False), (0, True)) if p.two_el else ((tree.el, False),):
        out[f"el{n}"] = "".join(
            c if s1_check(p, acc, el0=el0, pan=False, epan=tree.epan, wxn=tree.wxn) and s2_check(s2_perms, acc, el0=el0)
            else "-" for c, acc in (("r", Access.READ), ("w", Access.WRITE), ("x", Access.EXEC)))
    return out


@functools.lru_cache(maxsize=4096)
def _stage2_dict(out: Stage2, s2_level: int | None, s2_raw: int | None, fwb: bool) -> dict[str, Any]:
    from .report import attrs_to_dict

    f = out.fault
    return {
        "memtype": None if out.attrs is None else out.attrs.memtype,
        "attributes": attrs_to_dict(out.attrs),
        "stage2": None if f is not None else {
            "level": s2_level, "kind": "page" if s2_level == FINAL_LEVEL else "block", "raw": hx(s2_raw),
            "memattr": _S2_MEMATTR.get(s2_raw), "fwb": fwb,
            # with FWB = 1 MemAttr says how to combine, it describes no memory type of its own
            "attributes": None if fwb else attrs_to_dict(out.s2_attrs)},
        "fault": None if f is None else {
            "type": f.type.value, "level": f.level, "stage": f.stage, "s1ptw": f.s1ptw, "fsc": f.fsc,
            "fsc_hex": f"{f.fsc:#04x}", "description": f.description, "not_in_image": f.not_in_image},
    }


def leaf_indirection(a: LeafAttrs | None, raw: int, tree: TreeParams) -> dict[str, Any] | None:
    """The ``indirection`` member of a leaf record: the descriptor's PIIndex and POIndex (ASL
    ``AArch64.S1ApplyOutputPerms``/``S2ApplyOutputPerms``, :func:`~pgwalk.rules.pi_index`), the
    PIR/PIRE0/S2PIR entries and the overlay the walk's permission functions attached
    (:func:`~pgwalk.rules.s1_compute_permissions`, read back from ``a.perms``); ``None`` when the
    tree's stage uses neither permission indirection nor an overlay."""
    from .perms import PIR_TEXT, S2PIR_TEXT

    if a is None or a.perms is None or not a.mapped:
        return None
    if tree.stage == 1:
        perm = tree.s1.perm if tree.s1 is not None else None
        if perm is None or not (perm.pie or perm.overlay):
            return None
        on_pi, on_po = perm.pie, perm.overlay
    else:
        s2 = tree.setup.s2 if tree.setup is not None else None
        if s2 is None or not s2.perm.s2pie:
            return None
        on_pi, on_po = True, s2.perm.s2poe
    p = a.perms
    pi = int(pi_index(raw, tree.d128)) if on_pi else None
    po_field = D.D128_POINDEX if tree.d128 else D.S1_POINDEX if tree.stage == 1 else D.S2_POINDEX
    po = int(po_field.get(raw)) if on_po else None
    out: dict[str, Any] = {"pi_index": pi, "pir": None, "pir_meaning": None, "pire0": None, "pire0_meaning": None,
                           "po_index": po, "overlay": None, "unknown": p.unknown or None}
    words = [] if pi is None else [f"PI {pi}"]
    if p.unknown:
        words.append(f"{p.unknown} not given")
    elif isinstance(p, S1Perms):
        if p.indirect:
            out.update(pir=f"{p.ppi:#06b}", pir_meaning=PIR_TEXT[p.ppi])
            words.append(f"PIR {PIR_TEXT[p.ppi]}")
            if p.upi is not None:
                out.update(pire0=f"{p.upi:#06b}", pire0_meaning=PIR_TEXT[p.upi])
                words.append(f"PIRE0 {PIR_TEXT[p.upi]}")
        ovl = {}
        if p.p_overlay is not None:
            ovl[f"el{1 if p.two_el else tree.el}"] = rwx_text(*p.p_overlay)
        if p.u_overlay is not None:
            ovl["el0"] = rwx_text(*p.u_overlay)
        if ovl:
            out["overlay"] = ovl
        if po is not None:
            words.append(f"PO {po}" + "".join(f" {k.upper()} {v}" for k, v in ovl.items())
                         + ("" if ovl else " (overlay not applied)"))
    else:
        out.update(pir=f"{p.s2pi:#06b}", pir_meaning=S2PIR_TEXT[p.s2pi])
        words.append(f"S2PIR {S2PIR_TEXT[p.s2pi]}")
        if p.overlay is not None:
            r, w, x1, x0, _wm = p.overlay
            out["overlay"] = {"stage2_el1": rwx_text(r, w, x1), "stage2_el0": rwx_text(r, w, x0)}
            words.append(f"PO {po} S2 {rwx_text(r, w, x1)}/{rwx_text(r, w, x0)}")
    out["text"] = " ".join(words)
    return out


_EMPTY_ATTRS = {"memtype": None, "attributes": None, "attr_index": None, "sh": None, "af": False, "ng": False,
                "dbm": False, "contiguous": False, "gp": False, "ns": False, "ns_table": False}


def run_record(run: Run, tree: TreeParams, *, record: str = "range", last: bool | None = None) -> dict[str, Any]:
    """The JSON object of a range or tree-view run (schema in the module docstring)."""
    a = run.attrs
    d: dict[str, Any] = {"record": record, "tree": tree.name}
    if record != "range":
        d.update(depth=run.depth, last=last, index=run.index, table=hx(run.table))
    d.update(va_start=hx(run.va_start), va_end=hx(run.va_end), size=run.size, level=run.level, kind=run.kind,
             count=run.count, entry_size=run.entry_size, mapped=run.mapped, pa_start=hx(run.pa))
    if tree.through_s2:
        d["ipa_start"] = hx(run.oa)
    elif run.kind == "table":
        d["table_address"] = hx(run.oa)
    d["raw"] = hx(run.raw)
    d.update(_attrs_dict(a) if a is not None else _EMPTY_ATTRS)
    d["permissions"] = leaf_permissions(a, tree, run.s2_perms) if a is not None and a.perms is not None else None
    d["indirection"] = leaf_indirection(a, run.raw, tree)
    if tree.final_pa:
        # two stages: the final attributes and permissions, as translate reports them
        d["partial"] = run.partial
        d["s1_attributes"] = d["attributes"]
        if run.s2 is not None:
            d.update(_stage2_dict(run.s2, run.s2_level, run.s2_raw, tree.setup.s2.fwb))
        else:
            d.update(memtype=None, attributes=None, stage2=None, fault=None)
        d["effective_permissions"] = None if run.s2_perms is None or a is None else \
            effective_permissions(a, tree, run.s2_perms)
    flags = list(a.flags) if a is not None else []
    ups = None if a is None else _run_af_updates(a, run.s2)       # (Run.af_updates)
    d.update(af_updates=None if ups is None else af_updates_list(ups) if ups else [], flags=flags,
             nonzero=run.nonzero, status=run.status, note=run.note)
    return d


def af_updates_list(updates: tuple[AFUpdate, ...]) -> list[dict[str, Any]]:
    """``af_updates`` of a record: translate's ``af_updates`` objects (``{"stage", "level",
    "s1_level", "table"}``, :class:`~pgwalk.walk.AFUpdate`)."""
    return [u._asdict() for u in updates]


def table_record(t: TableInfo, tree: TreeParams, *, last: bool = True) -> dict[str, Any]:
    """The JSON object of a tree-view table node (schema in the module docstring)."""
    ap, uxn, pxn, ns = t.inherited
    return {
        "record": "table", "tree": tree.name, "depth": t.depth, "last": last, "level": t.level, "index": t.index,
        "table": hx(t.address), "pa": hx(t.pa), "va_start": hx(t.va_start), "va_end": hx(t.va_end),
        "entries": t.entries, "valid": t.valid, "status": t.status.value, "descriptor": hx(t.descriptor),
        "flags": list(t.flags), "note": t.note, "first_va": hx(t.first_va),
        "inherited": {"APTable": ap, "UXNTable": uxn, "PXNTable": pxn, "NSTable": ns},
        "af_updates": af_updates_list(t.af_updates) if t.af_updates else [],
    }


def tree_record(tree: TreeParams) -> dict[str, Any]:
    """One tree of the summary record."""
    return {"tree": tree.name, "stage": tree.stage, "base": hx(tree.base), "granule": granule_name(tree.granule_shift),
            "iasize": tree.iasize, "start_level": tree.start_level, "through_s2": tree.through_s2,
            "disabled": tree.disabled or None, "description": tree.describe(), "notes": list(tree.notes)}
