"""Bulk results as text: ``--json`` lines, ``--csv`` rows and plain result lines, built for a
whole block of lanes at once (no Python loop per lane).

Every line is exactly what the per-address path prints for that lane: a template is made
from one representative lane (:meth:`pgwalk.bulk.BulkTranslation.to_dict`, then
:func:`json.dumps`, :func:`pgwalk.report.csv_row` or the view's own text line) with slots for
its addresses, and lanes whose lines differ only in their addresses share it
(:func:`_line_key`).  Hex digits come from a table of four digits per 16 bits; each line is
placed in one output buffer by one ``memcpy``-like copy.  The buffers are written by
:mod:`pgwalk.writer`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import rules as R
from .formats import descriptors as D
from .bulk import FAULT_TYPES, BulkTranslation
from .perms import PERM_FAULT_KINDS
from .report import CSV_COLUMNS, csv_indices, csv_line, csv_pick, csv_row
from .writer import stream_fd, write_all
from .values import byte_windows, void_dtype

__all__ = ["LineFormatter"]

_U64 = np.uint64
_LEVEL_BIAS = 2                                           # fault levels are -2..3: 0..5 in a key

# _fault_key: a faulted lane's line is fixed by its fault
_FK_LEVEL = (len(FAULT_TYPES) - 1).bit_length()          # after the fault type
_FK_STAGE = _FK_LEVEL + 3                                 # fault level + 2 is 0..5
_FK_S1PTW = _FK_STAGE + 2
_FK_NII = _FK_S1PTW + 1
_FK_PKIND = _FK_NII + 1                                   # the kind of Permission fault (its flags)
_K_FAULT_BITS = _FK_PKIND + (len(PERM_FAULT_KINDS) - 1).bit_length()
_HEX_DIGITS = 16
_ND_BITS = 5                                  # digit counts 0..16
_SLOTS = 4                                    # va, ipa, pa, fault ipa


def _ones(bits: int) -> int:
    return (1 << bits) - 1


def _fault_key(res: BulkTranslation, lanes: np.ndarray | slice = slice(None)) -> np.ndarray:
    k = res.fault_type[lanes].astype(_U64)
    k |= (res.fault_level[lanes].astype(np.int16) + _LEVEL_BIAS).astype(_U64) << _U64(_FK_LEVEL)
    k |= res.fault_stage[lanes].astype(_U64) << _U64(_FK_STAGE)
    k |= res.s1ptw[lanes].astype(_U64) << _U64(_FK_S1PTW)
    k |= res.not_in_image[lanes].astype(_U64) << _U64(_FK_NII)
    k |= res.perm_kind[lanes].astype(_U64) << _U64(_FK_PKIND)
    return k


# A lane's output line is fixed, but for its addresses, by its fault or else by the bits of its
# leaves that attributes, permissions and size come from.  _line_key packs a refinement of
# that (raw descriptor fields: lanes it tells apart may still print alike, never the reverse):
# bit 0 = translated; then, translated: the stage 1 leaf's descriptor bits [9:2] (AttrIndx,
# NS, AP, SH, nDirty) and [54:51] (DBM, Contiguous, PXN, UXN: with PIE, the PIIndex), then
# either s1_table_bits (hierarchical permissions) or, where FEAT_AIE or an overlay is on
# (both disable hierarchical permissions, so the table bits are 0), bits [62:59]
# (POIndex, AttrIndx[3]); the stage 1 leaf's level, VA[55] with two VA ranges, the stage 2
# leaf's bits [11:2] (MemAttr, S2AP, SH, AF, FnXS), [54:51] and, with S2POE, [62:59]
# (S2POIndex), and its level; faulted: the fault key (_fault_key).  A leaf's level stands for
# its size: one granule per stage and VA range.
_LK_S1 = ((2, 8), (51, 4))                  # (lsb, width) of the descriptor pieces kept
_LK_S1_HI = ((D.ATTRINDX_3.lsb, 4),)        # AttrIndx[3] (AIE), POIndex (POE), in the table bits' place
_LK_S2_PIECES = ((2, 10), (51, 4))
_LK_S2_PO = ((D.S2_POINDEX.lsb, D.S2_POINDEX.width),)    # S2POIndex (S2POE)
_LK_S1_BITS = 8 + 4
_LK_TB = _LK_S1_BITS
_LK_LEVEL_BITS = 3                          # 0: no leaf, else level + 3 (levels -2..3)
_LK_S1_LEVEL = _LK_TB + R.TABLE_ATTR_BITS
_LK_RANGE = _LK_S1_LEVEL + _LK_LEVEL_BITS
_LK_S2 = _LK_RANGE + 1
_LK_S2_PO_AT = _LK_S2 + sum(w for _l, w in _LK_S2_PIECES)
_LK_S2_LEVEL = _LK_S2_PO_AT + sum(w for _l, w in _LK_S2_PO)
_LK_BITS = 1 + _LK_S2_LEVEL + _LK_LEVEL_BITS          # with bit 0
assert _LK_BITS + _SLOTS * _ND_BITS <= 64 and _K_FAULT_BITS < _LK_BITS
assert sum(w for _l, w in _LK_S1) == _LK_S1_BITS and R.TABLE_ATTR_BITS == 4 == sum(w for _l, w in _LK_S1_HI)


def _level_code(level: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A leaf's level as 1..6 (levels -2..3), 0 where there is no leaf (``shift`` 0)."""
    return np.where(shift != 0, level.astype(np.int16) + 3, 0).astype(_U64)


def _desc_bits(raw: np.ndarray, pieces: tuple[tuple[int, int], ...]) -> np.ndarray:
    out = None
    at = 0
    for lsb, width in pieces:
        part = (raw >> _U64(lsb)) & _U64(_ones(width))
        out = part if out is None else out | (part << _U64(at))
        at += width
    assert out is not None
    return out


#: the address slot of each CSV column that holds one
_SLOT_OF_COLUMN = {"va": 0, "ipa": 1, "pa": 2, "fault_ipa": 3}
#: CSV columns whose text, but for the addresses, follows from which lanes translated and which
#: have each address (_presence_key)
_PRESENCE_COLUMNS = frozenset(("va", "ok", "ipa", "pa", "fault_ipa"))
#: CSV columns that follow from the fault too (the fault key, _fault_key; empty where translated)
_FAULT_COLUMNS = frozenset(("fault", "fault_level", "fault_stage", "s1ptw", "fsc", "not_in_image"))
#: the CSV column that follows from the contents flag (BulkTranslation.contents_variant)
_CONTENTS_COLUMN = "contents_in_image"
assert _PRESENCE_COLUMNS | _FAULT_COLUMNS | {_CONTENTS_COLUMN} <= set(CSV_COLUMNS)
_PK_BITS = len(_SLOT_OF_COLUMN)                   # ok and the presence of ipa, pa, fault ipa
assert _PK_BITS + _K_FAULT_BITS <= _LK_BITS


def _presence_key(res: BulkTranslation, columns: frozenset[str]) -> np.ndarray:
    """Lanes with equal keys print the same ``columns`` (of :data:`_PRESENCE_COLUMNS`) but for
    their addresses: bit 0 ``ok``, then whether each of ipa, pa, fault ipa is there."""
    key = np.zeros(len(res), dtype=_U64)
    if "ok" in columns:
        key |= res.ok.astype(_U64)
    if "ipa" in columns:
        key |= res.has_ipa.astype(_U64) << _U64(1)
    if "pa" in columns:
        key |= res.has_pa.astype(_U64) << _U64(2)
    if "fault_ipa" in columns:
        key |= _fault_ipa_shown(res).astype(_U64) << _U64(3)
    return key


def _fault_ipa_shown(res: BulkTranslation) -> np.ndarray:
    """Lanes with a fault IPA (a stage 2 fault)."""
    return (res.fault_stage == 2) & ~res.ok


def _line_key(res: BulkTranslation) -> np.ndarray:
    """Lanes with equal keys print the same line but for their addresses (see above)."""
    setup = res.setup
    key = _desc_bits(res.s1_desc, _LK_S1)
    if any(p.aie or p.perm.overlay for p in setup.ranges):
        # these disable hierarchical permissions (params: hpd), so the table bits are all 0
        assert all(p.hpd for p in setup.ranges) and not res.s1_table_bits.any()
        key |= _desc_bits(res.s1_desc, _LK_S1_HI) << _U64(_LK_TB)
    else:
        key |= res.s1_table_bits.astype(_U64) << _U64(_LK_TB)
    key |= _level_code(res.s1_level, res.s1_shift) << _U64(_LK_S1_LEVEL)
    if len(setup.ranges) > 1:
        key |= R.va_range(res.va) << _U64(_LK_RANGE)
    if setup.s2 is not None and res.stages != "1":
        key |= _desc_bits(res.s2_desc, _LK_S2_PIECES) << _U64(_LK_S2)
        if setup.s2.perm.s2poe:
            key |= _desc_bits(res.s2_desc, _LK_S2_PO) << _U64(_LK_S2_PO_AT)
        key |= _level_code(res.s2_level, res.s2_shift) << _U64(_LK_S2_LEVEL)
    key <<= _U64(1)
    key |= _U64(1)
    bad = np.flatnonzero(res.fault_type)
    if len(bad):
        key[bad] = _fault_key(res, bad) << _U64(1)
    return key


def _wide_line_key(res: BulkTranslation, ids: dict[tuple, int]) -> np.ndarray:
    """:func:`_line_key` of a result with VMSAv9-128 (FEAT_D128) leaves, whose fields the VMSAv8-64
    pieces above do not find: a translated lane's leaves whole but for their output addresses
    (:func:`pgwalk.rules.with_leaf_base` with OA 0), with their levels, table bits and VA range, as a
    number ``ids`` gives each distinct such tuple (kept across blocks); a faulted lane's fault key."""
    setup = res.setup
    key = _fault_key(res) << _U64(1)
    ok = np.flatnonzero(res.fault_type == 0)
    if not len(ok):
        return key
    two = setup.s2 is not None and res.stages != "1"
    cols = [res.s1_desc, res.s1_desc_hi, res.s1_shift, res.s1_level, res.s1_table_bits, R.va_range(res.va)]
    if two:
        cols += [res.s2_desc, res.s2_desc_hi, res.s2_shift, res.s2_level]
    rows = np.stack([np.asarray(c)[ok].astype(_U64) for c in cols], axis=1)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    s2 = setup.s2
    num = np.zeros(len(uniq), dtype=_U64)
    for k, row in enumerate(uniq.tolist()):
        lo1, hi1, shift1, level1, tb, rng = row[:6]
        p = setup.ranges[rng if rng < len(setup.ranges) else 0]
        leaves: tuple = (rng, tb, level1, shift1 and R.with_leaf_base(D.join128(lo1, hi1), 0, shift1, p.ds, p.lpa64, p.d128))
        if two:
            lo2, hi2, shift2, level2 = row[6:]
            leaves += (level2, shift2 and R.with_leaf_base(D.join128(lo2, hi2), 0, shift2, s2.ds, s2.lpa64, s2.d128))
        num[k] = ids.setdefault(leaves, len(ids))
    key[ok] = (num[inv.reshape(-1)] << _U64(1)) | _U64(1)
    return key


#: an address slot's stand-in in a template line: text no result field holds, which the CSV,
#: JSON and text writers pass through unchanged (not NUL: Python 3.10's csv cannot write it)
_MARK = "\x01pgwalk-slot-{}\x01"


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
    return np.ndarray(shape=(len(digits),), dtype=void_dtype(nd), buffer=digits, offset=_HEX_DIGITS - nd,
                      strides=(_HEX_DIGITS,))


def _hex_widths(v: np.ndarray) -> np.ndarray:
    """The number of digits ``%x`` prints for every value (1 for 0).  The largest value's count
    (``top``) and the one below it are told apart by one comparison; only the lanes with fewer
    digits still (a block's zeros, a stray small value) take :func:`_bit_length_widths`, or
    every lane when they are many (a block of PAs with one far above the others)."""
    if not len(v):
        return np.zeros(0, dtype=np.intc)
    top = max(1, (int(v.max()).bit_length() + 3) >> 2)
    if top == 1:
        return np.ones(len(v), dtype=np.intc)
    few = np.flatnonzero(v < _U64(16 ** (top - 2))) if top > 2 else ()
    if 4 * len(few) > len(v):
        return _bit_length_widths(v, top)
    w = np.where(v >= _U64(16 ** (top - 1)), np.intc(top), np.intc(top - 1))
    if len(few):
        w[few] = _bit_length_widths(v[few], top - 2)
    return w


def _bit_length_widths(v: np.ndarray, top: int) -> np.ndarray:
    """:func:`_hex_widths` from the bit length, read off the exponent of each value as a float64
    (1022 + the bit length; 0 for 0): exact below 2**53, so a value at or above 2**32 is taken as
    its high 32 bits, plus 32, where values may have more than 13 digits (``top``: no value has
    more digits than it, :func:`_hex_widths` knows it from the largest)."""
    big = None
    if top > 13:
        hi = v >> _U64(32)
        big = hi != 0
        v = np.where(big, hi, v)
    e = v.astype(np.float64).view(np.int64)
    e >>= 52
    if big is not None:
        e += big.view(np.uint8) * np.int64(32)
    e -= 1022 - 3                       # digits: (bit length + 3) // 4, at least 1
    e >>= 2
    np.maximum(e, 1, out=e)
    return e.astype(np.intc)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D array (which imports ``numpy.ma``, 10 ms, to ask whether ``a`` is masked)."""
    s = np.sort(a)
    keep = np.empty(len(s), dtype=bool)
    keep[:1] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


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

    ``labels`` (text only): each address's label, shown after it as the scalar path shows a
    kernel layout label: ``labels(va)`` gives ``(codes, names)``, label ``names[code]`` (``None``:
    none), as :func:`pgwalk.linux.label_addresses` does.

    ``columns`` (CSV only): the :data:`~pgwalk.report.CSV_COLUMNS` to print, in this order
    (default all).  Only their work is done: the digits of the addresses shown, and a line key
    as fine as they need (:func:`_presence_key`, the fault key, else :func:`_line_key`).
    """

    def __init__(self, fmt: str, *, buffers: int = 1,
                 text_line: Callable[[dict[str, Any]], str] | None = None,
                 columns: Sequence[str] | None = None,
                 labels: Callable[[np.ndarray], tuple[np.ndarray, Sequence[str | None]]] | None = None) -> None:
        if fmt not in ("json", "csv", "text") or (fmt == "text") != (text_line is not None):
            raise ValueError(f"unknown format {fmt!r} (text takes text_line, the line of one result dict)")
        if columns is not None and fmt != "csv":
            raise ValueError("columns select CSV columns")
        if labels is not None and fmt != "text":
            raise ValueError("labels are shown in text lines")
        self.fmt = fmt
        self.columns = tuple(CSV_COLUMNS if columns is None else columns)
        unknown = [c for c in self.columns if c not in CSV_COLUMNS]
        if unknown or len(set(self.columns)) != len(self.columns) or not self.columns:
            raise ValueError(f"columns {self.columns!r}: each of {', '.join(CSV_COLUMNS)} at most once")
        # the cells of csv_row kept, the address slots shown, the line key's kind, the contents flag
        self._cells = csv_indices(columns)
        shown = set(self.columns) if fmt == "csv" else set(CSV_COLUMNS)
        self._slots = tuple(sorted(k for c, k in _SLOT_OF_COLUMN.items() if c in shown))
        rest = shown - _PRESENCE_COLUMNS - {_CONTENTS_COLUMN}
        self._presence = frozenset(shown & _PRESENCE_COLUMNS)
        self._key_kind = "presence" if not rest else "fault" if rest <= _FAULT_COLUMNS else "line"
        self._contents = _CONTENTS_COLUMN in shown
        # "text": the plain result line of each lane, text_line(to_dict(i)) (the view layer's
        # statement of the line, passed in: this layer does not import views)
        self._text_line = text_line
        self._labels = labels
        self._names: list[str | None] = [None]      # (labels: the last block's names)
        self._templates: dict[tuple, list[tuple[bytes, int]]] = {}
        self._layouts: dict[tuple[int, int], tuple] = {}
        self._bufs: list[np.ndarray | None] = [None] * max(1, buffers)
        self._turn = 0
        self._known = np.zeros(0, dtype=_U64)       # sorted keys met so far (_key_positions)
        self._wide: dict[tuple, int] = {}           # the leaves of VMSAv9-128 results met so far (_wide_line_key)
        self._prefix, self._suffix = (b'"0x', b'"') if fmt == "json" else (b"0x", b"")

    def header(self) -> bytes:
        return csv_line(self.columns).encode() if self.fmt == "csv" else b""

    def _template(self, res: BulkTranslation, i: int, label: str | None = None) -> list[tuple[bytes, int]]:
        """Pieces of lane ``i``'s line (its address's ``label``): (text before the slot, slot number
        or -1 at the end)."""
        d = res.to_dict(i)
        if label is not None:
            d["label"] = label
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
        text = self._line(d)
        if self.fmt == "json":
            marks = [(json.dumps(_MARK.format(k)), k) for k in range(_SLOTS)]
        else:
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

    def _line(self, d: dict[str, Any]) -> str:
        """The line of one result object (:meth:`BulkTranslation.to_dict`), its newline included."""
        if self.fmt == "json":
            return json.dumps(d) + "\n"
        if self.fmt == "text":
            return self._text_line(d) + "\n"
        cells = csv_row(d)
        return csv_line(csv_pick(cells, self._cells))

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
        key = self._key(res)
        digits: list[np.ndarray | None] = [None] * _SLOTS
        done: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in self._slots:
            if k == 0:
                shown = None
            elif k == 3:
                shown = _fault_ipa_shown(res)
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
        # the distinct layouts (template and digit counts; and the contents flag and the label,
        # which have no room in the key: lanes are told apart by (key, variant) pairs, the variant
        # 3 * label + flag)
        var = res.contents_variant() if self._contents else None
        nv = 3
        if self._labels is not None:
            codes, names = self._labels(res.va)
            self._names = list(names)
            nv = 3 * len(self._names)
            var = codes * 3 if var is None else var + codes * 3
        if var is not None and not var.any():
            var = None
        # each lane's key as its position in the sorted keys met so far (the keys of one block are
        # mostly those of the last: no sort of them), then the (key, variant) pairs present, told
        # apart by counting (they are small integers)
        known, pos = self._key_positions(key)
        pair = pos * nv if var is None else pos * nv + var
        seen = np.bincount(pair, minlength=nv * len(known)) > 0
        cuniq = np.flatnonzero(seen)
        inv = (np.cumsum(seen) - 1)[pair]             # each lane's layout
        pairs = [(int(known[c // nv]), c % nv) for c in cuniq.tolist()]
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
        width_of = np.array([len(lay[0]) for lay in layouts], dtype=np.intp)[inv]
        ends = np.cumsum(width_of)
        total = int(ends[-1])
        buf = self._buffer(total)
        starts = ends - width_of
        # each layout's constant text: one void scalar copy per line
        if len(layouts) <= _FEW_LAYOUTS:
            groups: Iterable[np.ndarray] = (np.flatnonzero(inv == j) for j in range(len(layouts)))
        else:
            # (small unsigned integers: numpy's stable sort of them is a radix sort)
            order = np.argsort(inv.astype(np.uint16 if len(layouts) <= 1 << 16 else np.intp), kind="stable")
            bounds = np.cumsum(np.bincount(inv, minlength=len(layouts))).tolist()
            groups = (order[a:b] for a, b in zip([0] + bounds[:-1], bounds))
        for (row, _slots, void_row, _cols), rows in zip(layouts, groups):
            byte_windows(buf, len(row))[starts[rows]] = void_row
        # then each address slot's digits, one void scalar copy per line and digit count
        for k in range(_SLOTS):
            if digits[k] is None:
                continue
            cols = np.array([lay[3][k] for lay in layouts], dtype=np.intp)      # (column, digits) or -1
            col, nds = cols[:, 0], cols[:, 1]
            counts = sorted(set(nds[col >= 0].tolist()))
            if len(counts) == 1 and (col >= 0).all():
                # every lane has the slot, with the same digit count: one copy per line
                byte_windows(buf, counts[0])[starts + col[inv]] = _digit_view(digits[k], counts[0])
                continue
            # the lanes of each digit count (lanes without the slot have count 0: none)
            lane_nd = np.where(col >= 0, nds, 0).astype(np.uint8)[inv]
            at = starts + col[inv]
            for nd in counts:
                sel = np.flatnonzero(lane_nd == nd)
                byte_windows(buf, nd)[at[sel]] = _digit_view(digits[k], nd)[sel]
        return [buf[:total]]

    def _key(self, res: BulkTranslation) -> np.ndarray:
        """Each lane's line key: lanes with equal keys print the same line but for their addresses
        (as fine as the columns shown need; see ``columns``; VMSAv9-128 results: the whole leaves,
        :func:`_wide_line_key`)."""
        if res.d128:
            return _wide_line_key(res, self._wide)
        if self._key_kind == "line":
            return _line_key(res)
        key = _presence_key(res, self._presence)
        if self._key_kind == "fault":
            bad = np.flatnonzero(res.fault_type)
            if len(bad):
                key[bad] |= _fault_key(res, bad) << _U64(_PK_BITS)
        return key

    def _key_positions(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sorted distinct keys met so far (this block's among them) and each lane's position
        in them: a search in the last block's keys, sorting only when some key is new."""
        known = self._known
        if len(known):
            pos = np.searchsorted(known, key)
            np.minimum(pos, len(known) - 1, out=pos)
            new = known[pos] != key
            if not new.any():
                return known, pos
            fresh = key[new]
            # (the keys met carried over while fewer than a block's lanes; then this block's alone)
            known = np.concatenate([known, fresh]) if len(known) <= len(key) else key
        else:
            known = key
        known = _sorted_unique(known)
        self._known = known
        return known, np.searchsorted(known, key)

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
                pieces = self._templates[tkey] = self._template(res, int(np.argmax(match)), self._names[v // 3])
            nds = [(u >> (_LK_BITS + k * _ND_BITS)) & _ones(_ND_BITS) for k in range(_SLOTS)]
            row, slots = self._layout(pieces, nds)
            per_slot = [(-1, 0)] * _SLOTS
            for k, col, nd in slots:
                per_slot[k] = (col, nd)
            layout = self._layouts[(u, v)] = (row, slots, row.view(void_dtype(len(row)))[0], per_slot)
        return layout

    def format(self, res: BulkTranslation) -> bytes:
        """The lines of every lane, in order."""
        return b"".join(bytes(c) if isinstance(c, np.ndarray) else c for c in self.chunks(res))

    def write(self, res: BulkTranslation, stream: Any) -> None:
        """Write the lines of every lane to a binary stream (``writev`` on a file descriptor)."""
        parts = [memoryview(p).cast("B") for p in self.chunks(res)]
        fd = stream_fd(stream)
        if fd is None:
            for part in parts:
                stream.write(part)
            return
        stream.flush()
        write_all(fd, parts)
