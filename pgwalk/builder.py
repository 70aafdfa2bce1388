"""A VMSAv8-64 translation-table builder, for tests and sample images.

:class:`TableBuilder` lays out real translation tables in a byte buffer:
stage 1 or stage 2, 4KB/16KB/64KB granules, FEAT_LPA2 (``ds=True``: 52-bit
IA/OA with 4KB/16KB, start level -1 with 4KB) and FEAT_LPA with 64KB
(``lpa=True``: OA[51:48] in descriptor bits 15:12, 52-bit TTBR format),
stage 2 concatenated root tables, big-endian tables (SCTLR_ELx.EE = 1).

Every descriptor and register bit is placed through the field tables of
:mod:`pgwalk.formats` (no bare bit numbers here).  Architectural rules
follow the fact sheet (``vmsa-facts.md``) sections 2-5:

* start level (stage 1): ``3 - (iasize - 1 - g) // (g - 3)``;
* stage 2: any start level the VTCR_EL2.{SL2,SL0} encodings allow, with
  1..16 concatenated root tables following from the IPA size;
* blocks only where Table D8-48 allows them (4K L1/L2, L0 with DS;
  16K L2, L1 with DS; 64K L2, L1 with 52-bit PA; never level -1);
* the root table is aligned to its total size (concatenated roots: all of
  them), at least 64 bytes, so the TTBR value is the same in the 48-bit and
  the 52-bit BADDR formats whenever the root lies below 2^48.

Typical use::

    b = TableBuilder(granule=4096, ia_bits=48, pa_bits=48)
    b.map(0x40_0000, 0x8000_0000, 0x20_0000)               # one 2MB block
    b.map(0x1000, 0x9000_0000, 0x1000, S1Attrs(ap=0b11))    # a read-only EL0 page
    regs = b.registers()                                   # TCR_EL1, TTBR0_EL1, MAIR_EL1, ...
    mem = b.memory()                                       # PhysicalMemory over the tables
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from pgwalk.formats.descriptors import (
    ADDR_47, TYPE, VALID, s1_leaf_layout, s1_table_layout, s2_leaf_layout, s2_table_layout,
)
from pgwalk.formats.descriptors import d128_leaf_layout as D128_LEAF_LAYOUT, d128_table_layout as D128_TABLE_LAYOUT
from pgwalk.formats.fields import Layout
from pgwalk.formats.registers import (
    HCR_EL2, ID_AA64MMFR2_EL1, MAIR, PS_BITS, SCTLR, TCR2_EL1, TCR_EL1, TG0_GRANULE,
    TG1_GRANULE, TTBR, TTBR_52, TTBR_128, VTCR_EL2, VTTBR_EL2,
)
from pgwalk.records import record

__all__ = [
    "S1Attrs", "S2Attrs", "TableAttrs", "TableBuilder", "TwoStage", "two_stage",
    "DEFAULT_MAIR", "DEFAULT_ID_AA64MMFR0_EL1", "block_levels", "merge_chunks", "write_image", "D128Builder",
]

#: ID_AA64MMFR0_EL1 used unless the caller gives one: PARange 52 bits, 4KB/16KB with
#: 52-bit support (FEAT_LPA2), 64KB supported, at both stages.
DEFAULT_ID_AA64MMFR0_EL1 = 0x32310201126

#: MAIR_EL1 attribute bytes by index: 0 Normal WB RA/WA, 1 Normal NC, 2 Device-nGnRnE,
#: 3 Device-nGnRE, 4 Normal WT, 5 Tagged Normal WB
MAIR_ATTRS = {0: 0xFF, 1: 0x44, 2: 0x00, 3: 0x04, 4: 0xBB, 5: 0xF0}
DEFAULT_MAIR = MAIR.encode(**{f"Attr{n}": v for n, v in MAIR_ATTRS.items()})

_TG0_CODE = {g: code for code, g in TG0_GRANULE.items()}
_TG1_CODE = {g: code for code, g in TG1_GRANULE.items()}
_GRANULE_SHIFT = {4096: 12, 16384: 14, 65536: 16}
_WB_RAWA = 0b01       # IRGN/ORGN: Write-Back, read- and write-allocate
_ISH = 0b11           # SH: Inner Shareable


# --------------------------------------------------------------------------- attributes

@record(frozen=True, compiled_init=True)
class S1Attrs:
    """Stage 1 block/page attributes (ARM Table D8-52).

    ``ap`` is AP[2:1]: 00 EL1 RW, 01 EL1+EL0 RW, 10 EL1 RO, 11 EL1+EL0 RO.
    With DS = 1 the descriptor has no SH field (bits 9:8 are OA[51:50]) and
    ``sh`` is ignored: the leaf shareability comes from TCR_ELx.SHn.
    """

    attr_indx: int = 0
    ap: int = 0b00
    sh: int = 0b11
    af: int = 1
    ng: int = 0
    uxn: int = 0
    pxn: int = 0
    contiguous: int = 0
    dbm: int = 0
    ns: int = 0
    sw: int = 0
    gp: int = 0

    @classmethod
    def device(cls, **kw) -> "S1Attrs":
        """Device-nGnRE (MAIR index 3), non-shareable field 0, never executable."""
        base = dict(attr_indx=3, sh=0b00, uxn=1, pxn=1)
        base.update(kw)
        return cls(**base)

    def fields(self) -> dict[str, int]:
        return {
            "AttrIndx": self.attr_indx, "AP": self.ap, "SH": self.sh, "AF": self.af, "nG": self.ng,
            "UXN": self.uxn, "PXN": self.pxn, "Contiguous": self.contiguous, "DBM": self.dbm,
            "NS": self.ns, "SW": self.sw, "GP": self.gp,
        }


@record(frozen=True, compiled_init=True)
class S2Attrs:
    """Stage 2 block/page attributes (ARM Table D8-53).

    ``memattr`` is MemAttr[3:0] (FWB = 0: 0b1111 Normal WB, 0b0001 Device-nGnRE),
    ``s2ap`` is S2AP[1:0] (bit 1 write, bit 0 read), ``xn`` is XN[1:0] (bits 54:53).
    """

    memattr: int = 0b1111
    s2ap: int = 0b11
    sh: int = 0b11
    af: int = 1
    xn: int = 0
    fnxs: int = 0
    contiguous: int = 0
    dbm: int = 0
    sw: int = 0

    @classmethod
    def device(cls, **kw) -> "S2Attrs":
        """Device-nGnRE at stage 2, execute-never."""
        base = dict(memattr=0b0001, sh=0b00, xn=0b10)
        base.update(kw)
        return cls(**base)

    def fields(self) -> dict[str, int]:
        return {
            "MemAttr": self.memattr, "S2AP": self.s2ap, "SH": self.sh, "AF": self.af,
            "XN": self.xn, "FnXS": self.fnxs, "Contiguous": self.contiguous, "DBM": self.dbm,
            "SW": self.sw,
        }


@record(frozen=True, compiled_init=True)
class TableAttrs:
    """Stage 1 hierarchical table-descriptor attributes (ARM Table D8-50)."""

    aptable: int = 0
    uxntable: int = 0
    pxntable: int = 0
    nstable: int = 0

    def fields(self) -> dict[str, int]:
        return {"APTable": self.aptable, "UXNTable": self.uxntable,
                "PXNTable": self.pxntable, "NSTable": self.nstable}


# --------------------------------------------------------------------------- helpers

def block_levels(granule_shift: int, ds: bool = False, lpa: bool = False) -> tuple[int, ...]:
    """Levels at which a block descriptor is legal (fact sheet §4.1)."""
    if granule_shift == 12:
        return (0, 1, 2) if ds else (1, 2)
    if granule_shift == 14:
        return (1, 2) if ds else (2,)
    if granule_shift == 16:
        return (1, 2) if lpa else (2,)
    raise ValueError(f"bad granule shift {granule_shift}")


def _put(layout: Layout, value: int, **fields: int) -> int:
    for name, fv in fields.items():
        value = layout[name].put(value, fv)
    return value


def _ps_code(bits: int) -> int:
    for code in sorted(PS_BITS):
        if PS_BITS[code] >= bits and PS_BITS[code] <= 52:
            return code
    raise ValueError(f"no {{I}}PS encoding holds {bits} bits")


def _align_up(x: int, a: int) -> int:
    return (x + a - 1) & -a


#: stage 2 {SL2, SL0} per granule shift and start level (fact sheet §3.2)
_S2_SL = {
    12: {-1: (1, 0b00), 0: (0, 0b10), 1: (0, 0b01), 2: (0, 0b00), 3: (0, 0b11)},
    14: {0: (0, 0b11), 1: (0, 0b10), 2: (0, 0b01), 3: (0, 0b00)},
    16: {1: (0, 0b10), 2: (0, 0b01), 3: (0, 0b00)},
}


# --------------------------------------------------------------------------- the builder

class TableBuilder:
    """Build one translation-table tree (one TTBR / VTTBR) in memory.

    :param stage: 1 or 2
    :param granule: 4096, 16384 or 65536 (or the shift 12/14/16)
    :param ia_bits: input-address size, 64 - TxSZ
    :param ds: FEAT_LPA2 52-bit IA/OA (4KB and 16KB only)
    :param lpa: 52-bit OA with the 64KB granule (FEAT_LPA): OA[51:48] in bits 15:12, L1 blocks
    :param start_level: stage 2 only; default: the single-table start level (or the required
        concatenated one for 16KB 48-bit IPA without DS)
    :param concat: stage 2 only; number of concatenated root tables (alternative to start_level)
    :param table_base: the address where tables are allocated from (the root first)
    :param table_limit: exclusive upper address the tables may not grow past (None: no limit)
    :param big_endian: store descriptors big-endian (SCTLR_ELx.EE = 1)
    :param pa_bits: output size for {I}PS / PS (capped at 48 without DS or 64KB LPA)
    """

    def __init__(self, *, stage: int = 1, granule: int = 4096, ia_bits: int = 48, ds: bool = False,
                 lpa: bool = False, start_level: int | None = None, concat: int | None = None,
                 table_base: int = 0x4000_0000, table_limit: int | None = None,
                 big_endian: bool = False, pa_bits: int = 52) -> None:
        if stage not in (1, 2):
            raise ValueError("stage must be 1 or 2")
        g = _GRANULE_SHIFT.get(granule, granule)
        if g not in (12, 14, 16):
            raise ValueError(f"bad granule {granule!r}")
        if ds and g == 16:
            raise ValueError("DS (FEAT_LPA2) applies to the 4KB and 16KB granules only; use lpa=True for 64KB")
        self.stage = stage
        self.g = g
        self.granule = 1 << g
        self.stride = g - 3
        self.ds = bool(ds)
        self.lpa64 = bool(lpa) and g == 16
        self.big_endian = bool(big_endian)
        wide = self.ds or self.lpa64
        self.oa_limit_bits = 52 if wide else 48
        self.pa_bits = min(pa_bits, self.oa_limit_bits)
        self.ia_bits = ia_bits

        max_ia = 52 if (self.ds or g == 16) else 48
        if not 16 <= ia_bits <= max_ia:
            raise ValueError(f"ia_bits {ia_bits} out of range 16..{max_ia} for this configuration")

        natural = 3 - (ia_bits - 1 - g) // self.stride
        if stage == 1:
            if start_level is not None and start_level != natural:
                raise ValueError(f"stage 1 start level is {natural} for {ia_bits}-bit IA, not {start_level}")
            if concat not in (None, 1):
                raise ValueError("stage 1 has no concatenated tables")
            start = natural
        else:
            if start_level is not None:
                start = start_level
            elif concat is not None:
                bits = self.stride + (concat.bit_length() - 1)
                if concat < 1 or concat & (concat - 1):
                    raise ValueError("concat must be a power of two 1..16")
                num = ia_bits - bits - g
                if num % self.stride:
                    raise ValueError(f"{concat} concatenated tables do not fit a {ia_bits}-bit IPA")
                start = 3 - num // self.stride
            else:
                start = natural
                if start not in _S2_SL[g] or (start == -1 and not self.ds) or (g == 14 and start == 0 and not self.ds):
                    start += 1            # e.g. 16KB, 48-bit IPA, DS=0: L1 with 2 tables (R_DXBSH)
            if start not in _S2_SL[g]:
                raise ValueError(f"stage 2 start level {start} is not encodable for a {self.granule >> 10}KB granule")
            if start == -1 and not self.ds:
                raise ValueError("stage 2 start level -1 needs DS=1")
            if g == 14 and start == 0 and not self.ds:
                raise ValueError("16KB stage 2 start level 0 needs DS=1")
        self.start_level = start
        root_bits = ia_bits - self._lsb(start)
        if root_bits < 1:
            raise ValueError(f"start level {start} is too low for a {ia_bits}-bit IA")
        limit = self.stride + (4 if stage == 2 else 0)
        if root_bits > limit:
            raise ValueError(f"start level {start} needs {1 << (root_bits - self.stride)} concatenated tables")
        if stage == 2 and start == -1 and root_bits > self.stride:
            raise ValueError("no concatenation at level -1")
        self.root_entries = 1 << root_bits
        self.concat = max(1, self.root_entries >> self.stride)
        if concat is not None and stage == 2 and concat != self.concat:
            raise ValueError(f"start level {start} with a {ia_bits}-bit IPA gives {self.concat} root tables, not {concat}")

        # storage
        self.table_base = table_base
        self.table_limit = table_limit
        self._buf = bytearray()
        self._next = table_base
        self._tables: dict[int, int] = {}      # table address -> level
        root_size = self.root_entries * 8
        self.root = self._alloc(root_size, max(root_size, 64), start)
        if self.root >> self.oa_limit_bits:
            raise ValueError(f"root table {self.root:#x} is beyond the {self.oa_limit_bits}-bit output range")

    # ------------------------------------------------------------------ geometry

    def _lsb(self, level: int) -> int:
        """log2 of the region one entry at ``level`` maps."""
        return (3 - level) * self.stride + self.g

    def block_size(self, level: int) -> int:
        return 1 << self._lsb(level)

    @property
    def levels(self) -> range:
        return range(self.start_level, 4)

    def leaf_levels(self) -> tuple[int, ...]:
        """Levels at which map() may place a leaf: the legal block levels and 3."""
        blocks = block_levels(self.g, self.ds, self.lpa64)
        return tuple(lv for lv in self.levels if lv in blocks) + (3,)

    def index(self, ia: int, level: int) -> int:
        ia = self._strip(ia)
        width = self.ia_bits - self._lsb(level) if level == self.start_level else self.stride
        return (ia >> self._lsb(level)) & ((1 << width) - 1)

    def _strip(self, ia: int) -> int:
        """IA reduced to ia_bits; stage 1 accepts upper-range (TTBR1) VAs with the top bits all ones."""
        top = ia >> self.ia_bits
        ones = (1 << (64 - self.ia_bits)) - 1
        if top == 0 or (self.stage == 1 and top == ones):
            return ia & ((1 << self.ia_bits) - 1)
        raise ValueError(f"address {ia:#x} is outside the {self.ia_bits}-bit input range")

    # ------------------------------------------------------------------ storage

    def _alloc(self, size: int, align: int, level: int) -> int:
        addr = _align_up(self._next, align)
        end = addr + size
        if self.table_limit is not None and end > self.table_limit:
            raise MemoryError(f"table area full: {end:#x} > limit {self.table_limit:#x}")
        need = end - self.table_base
        if need > len(self._buf):
            self._buf.extend(bytes(need - len(self._buf)))
        self._next = end
        self._tables[addr] = level
        return addr

    def _new_table(self, level: int) -> int:
        return self._alloc(self.granule, self.granule, level)

    def read(self, addr: int) -> int:
        """The 8-byte descriptor at ``addr`` (in the table area), in the builder's byte order."""
        off = addr - self.table_base
        if off < 0 or off + 8 > len(self._buf) or addr & 7:
            raise ValueError(f"{addr:#x} is not a descriptor in the table area")
        return int.from_bytes(self._buf[off:off + 8], "big" if self.big_endian else "little")

    def write(self, addr: int, raw: int) -> None:
        off = addr - self.table_base
        if off < 0 or off + 8 > len(self._buf) or addr & 7:
            raise ValueError(f"{addr:#x} is not a descriptor in the table area")
        self._buf[off:off + 8] = (raw & (2**64 - 1)).to_bytes(8, "big" if self.big_endian else "little")

    @property
    def tables(self) -> dict[int, int]:
        """Allocated tables: address -> level (the root is listed once, at its start address)."""
        return dict(self._tables)

    # ------------------------------------------------------------------ encoders

    def _table_layout(self) -> Layout:
        fn = s1_table_layout if self.stage == 1 else s2_table_layout
        return fn(self.g, self.ds, self.lpa64)

    def _leaf_layout(self, level: int) -> Layout:
        fn = s1_leaf_layout if self.stage == 1 else s2_leaf_layout
        return fn(self._lsb(level), self.ds, self.lpa64, level < 3)

    def _hi_fields(self, name: str) -> list[tuple[str, int, int]]:
        """Address pieces above bit 47 for this format: (field name, address msb, address lsb).

        The address bits a field carries are in its name (``OA_51_50`` holds OA[51:50]),
        whatever descriptor bits it occupies.
        """
        if self.ds:
            suffixes = ("49_48", "51_50")
        elif self.lpa64:
            suffixes = ("51_48",)
        else:
            suffixes = ()
        return [(f"{name}_{sfx}", *map(int, sfx.split("_"))) for sfx in suffixes]

    def _addr_fields(self, name: str, addr: int, lsb: int) -> dict[str, int]:
        if addr & ((1 << lsb) - 1):
            raise ValueError(f"address {addr:#x} is not aligned to {1 << lsb:#x}")
        if addr >> self.oa_limit_bits:
            raise ValueError(f"address {addr:#x} does not fit {self.oa_limit_bits} bits in this descriptor format")
        out = {name: (addr & ((1 << (ADDR_47 + 1)) - 1)) >> lsb}
        for fname, hi, lo in self._hi_fields(name):
            out[fname] = (addr >> lo) & ((1 << (hi - lo + 1)) - 1)
        return out

    def _addr_of(self, layout: Layout, name: str, raw: int) -> int:
        f = layout[name]
        addr = f.get(raw) << f.lsb
        for fname, _hi, lo in self._hi_fields(name):
            addr |= layout[fname].get(raw) << lo
        return addr

    def _addr_mask(self, layout: Layout, name: str) -> int:
        m = layout[name].mask
        for suffix in ("_49_48", "_51_50", "_51_48"):
            if f"{name}{suffix}" in layout:
                m |= layout[f"{name}{suffix}"].mask
        return m

    def table_descriptor(self, next_table_pa: int, table_attrs: TableAttrs | None = None) -> int:
        """Encode a table descriptor pointing at ``next_table_pa``."""
        layout = self._table_layout()
        values = {"VALID": 1, "TYPE": 1, **self._addr_fields("NLTA", next_table_pa, self.g)}
        if table_attrs is not None:
            if self.stage != 1:
                raise ValueError("stage 2 table descriptors have no hierarchical attributes")
            values.update(table_attrs.fields())
        return layout.encode(**values)

    def leaf_descriptor(self, oa: int, level: int, attrs: S1Attrs | S2Attrs | None = None) -> int:
        """Encode a block (level < 3) or page (level 3) descriptor for output address ``oa``."""
        if level != 3 and level not in block_levels(self.g, self.ds, self.lpa64):
            raise ValueError(f"no block descriptors at level {level} with this granule/DS/LPA")
        if attrs is None:
            attrs = S1Attrs() if self.stage == 1 else S2Attrs()
        want = S1Attrs if self.stage == 1 else S2Attrs
        if not isinstance(attrs, want):
            raise TypeError(f"stage {self.stage} leaves need {want.__name__}, not {type(attrs).__name__}")
        layout = self._leaf_layout(level)
        values = {"VALID": 1, "TYPE": 1 if level == 3 else 0,
                  **self._addr_fields("OA", oa, self._lsb(level))}
        for name, v in attrs.fields().items():
            if name not in layout:        # SH with DS = 1 (bits 9:8 carry OA[51:50])
                continue
            values[name] = v
        return layout.encode(**values)

    def decode_leaf_oa(self, raw: int, level: int) -> int:
        return self._addr_of(self._leaf_layout(level), "OA", raw)

    def decode_table_address(self, raw: int) -> int:
        return self._addr_of(self._table_layout(), "NLTA", raw)

    # ------------------------------------------------------------------ walking our own tables

    def _kind(self, raw: int, level: int) -> str:
        if not VALID.get(raw):
            return "invalid"
        if level == 3:
            return "page" if TYPE.get(raw) else "invalid"
        if TYPE.get(raw):
            return "table"
        return "block" if level in block_levels(self.g, self.ds, self.lpa64) else "invalid"

    def _entry(self, table: int, level: int, ia: int) -> int:
        return table + (self.index(ia, level) << 3)

    def _descend(self, raw: int, level: int) -> int:
        nxt = self.decode_table_address(raw)
        if self._tables.get(nxt) != level + 1:
            raise ValueError(f"table descriptor {raw:#x} at level {level} points at {nxt:#x}, "
                             "which is not a level-%d table of this builder" % (level + 1))
        return nxt

    def _split(self, entry: int, level: int, table_attrs: TableAttrs | None) -> int:
        """Replace the block at ``entry`` by a table of next-level leaves with the same attributes."""
        raw = self.read(entry)
        blk = self._leaf_layout(level)
        sub = self._leaf_layout(level + 1)
        keep = ~(self._addr_mask(blk, "OA") | self._addr_mask(sub, "OA") | VALID.mask | TYPE.mask)
        if "nT" in blk:
            keep &= ~blk["nT"].mask
        attr_bits = raw & keep
        base = self.decode_leaf_oa(raw, level)
        table = self._new_table(level + 1)
        step = self.block_size(level + 1)
        sub_type = {"TYPE": 1} if level + 1 == 3 else {}
        for i in range(1 << self.stride):
            leaf = sub.encode(VALID=1, **sub_type, **self._addr_fields("OA", base + i * step, self._lsb(level + 1)))
            self.write(table + 8 * i, leaf | attr_bits)
        self.write(entry, self.table_descriptor(table, table_attrs))
        return table

    def _walk_to(self, ia: int, level: int, *, create: bool, table_attrs: TableAttrs | None = None) -> int:
        """Address of the entry translating ``ia`` at ``level``; creates/splits tables above it if ``create``."""
        if level not in self.levels:
            raise ValueError(f"level {level} is not in {self.start_level}..3")
        table = self.root
        for lv in range(self.start_level, level):
            entry = self._entry(table, lv, ia)
            raw = self.read(entry)
            kind = self._kind(raw, lv)
            if kind == "table":
                table = self._descend(raw, lv)
            elif not create:
                raise LookupError(f"no level-{lv + 1} table for {ia:#x}: level-{lv} entry {entry:#x} is {kind}")
            elif kind == "block":
                table = self._split(entry, lv, table_attrs)
            else:
                table = self._new_table(lv + 1)
                self.write(entry, self.table_descriptor(table, table_attrs))
        return self._entry(table, level, ia)

    def descriptor_address(self, ia: int, level: int) -> int:
        """Address of the entry translating ``ia`` at ``level`` (the tables above it must exist)."""
        return self._walk_to(ia, level, create=False)

    def set_descriptor(self, ia: int, level: int, raw: int, *, table_attrs: TableAttrs | None = None) -> int:
        """Write a raw descriptor at the entry translating ``ia`` at ``level``; returns its address.

        Tables above it are created (blocks on the way are split).  For fault injection.
        """
        entry = self._walk_to(ia, level, create=True, table_attrs=table_attrs)
        self.write(entry, raw)
        return entry

    def lookup(self, ia: int) -> tuple[int, int, int] | None:
        """(level, descriptor, OA) for ``ia`` per this builder's own tables, or None if unmapped."""
        table = self.root
        for lv in self.levels:
            entry = self._entry(table, lv, ia)
            raw = self.read(entry)
            kind = self._kind(raw, lv)
            if kind == "table":
                table = self._descend(raw, lv)
            elif kind in ("block", "page"):
                off = self._strip(ia) & (self.block_size(lv) - 1)
                return lv, raw, self.decode_leaf_oa(raw, lv) | off
            else:
                return None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ map / unmap

    def _check_range(self, ia: int, size: int) -> int:
        lo = self._strip(ia)
        if size <= 0 or size & (self.granule - 1) or lo & (self.granule - 1):
            raise ValueError(f"range {ia:#x}+{size:#x} is not granule aligned")
        if lo + size > 1 << self.ia_bits:
            raise ValueError(f"range {ia:#x}+{size:#x} runs past the {self.ia_bits}-bit input range")
        return lo

    def map(self, ia: int, oa: int, size: int, attrs: S1Attrs | S2Attrs | None = None, *,
            table_attrs: TableAttrs | None = None, max_leaf_level: int | None = None,
            min_leaf_level: int | None = None) -> None:
        """Map ``[ia, ia+size)`` to ``oa`` with the largest legal blocks, pages at level 3.

        Leaves are placed at levels ``min_leaf_level..max_leaf_level`` only (e.g.
        ``min_leaf_level=3`` forces pages, ``max_leaf_level=2`` forces blocks).
        Existing mappings are replaced (blocks in the way are split first).
        ``table_attrs`` goes into every table descriptor this call creates.
        """
        lo = self._check_range(ia, size)
        if oa & (self.granule - 1):
            raise ValueError(f"output address {oa:#x} is not granule aligned")
        if attrs is None:
            attrs = S1Attrs() if self.stage == 1 else S2Attrs()
        lmin = self.start_level if min_leaf_level is None else min_leaf_level
        lmax = 3 if max_leaf_level is None else max_leaf_level
        candidates = [lv for lv in self.leaf_levels() if lmin <= lv <= lmax]
        if not candidates:
            raise ValueError(f"no legal leaf level in {lmin}..{lmax}")
        pos = 0
        while pos < size:
            cur_ia, cur_oa, left = lo + pos, oa + pos, size - pos
            for lv in candidates:
                bs = self.block_size(lv)
                if not (cur_ia | cur_oa) & (bs - 1) and left >= bs:
                    break
            else:
                raise ValueError(f"cannot map {cur_ia:#x} -> {cur_oa:#x} with leaves at levels {candidates}")
            entry = self._walk_to(cur_ia, lv, create=True, table_attrs=table_attrs)
            self.write(entry, self.leaf_descriptor(cur_oa, lv, attrs))
            pos += bs

    def unmap(self, ia: int, size: int) -> None:
        """Make ``[ia, ia+size)`` invalid: whole entries become invalid descriptors at the
        highest level they are fully covered; partly covered blocks are split first."""
        lo = self._check_range(ia, size)
        end = lo + size
        cur = lo
        while cur < end:
            table = self.root
            for lv in self.levels:
                bs = self.block_size(lv)
                entry = self._entry(table, lv, cur)
                raw = self.read(entry)
                kind = self._kind(raw, lv)
                span_end = min((cur | (bs - 1)) + 1, end)
                covered = not cur & (bs - 1) and end - cur >= bs
                if kind == "invalid":
                    if raw:
                        self.write(entry, 0)
                    cur = span_end
                    break
                if covered:
                    self.write(entry, 0)
                    cur = span_end
                    break
                if kind == "table":
                    table = self._descend(raw, lv)
                elif kind == "block":
                    table = self._split(entry, lv, None)
                else:  # a page is always covered (granule-aligned range)
                    raise AssertionError("unreachable")

    # ------------------------------------------------------------------ memory and images

    def chunks(self) -> dict[int, bytearray]:
        """The table area: ``{table_base: bytes up to the highest allocated byte}``."""
        return {self.table_base: bytearray(self._buf)}

    def memory(self):
        """A :class:`pgwalk.memory.PhysicalMemory` over :meth:`chunks`."""
        from pgwalk.memory import PhysicalMemory
        return PhysicalMemory.from_buffers(self.chunks())

    def write_raw(self, path) -> tuple[int, int]:
        """Write the table area as a raw image; returns ``(base, size)``."""
        Path(path).write_bytes(bytes(self._buf))
        return self.table_base, len(self._buf)

    # ------------------------------------------------------------------ registers

    @property
    def ps_code(self) -> int:
        return _ps_code(self.pa_bits)

    @property
    def ttbr52(self) -> bool:
        """Whether the TTBR uses the 52-bit BADDR format (fact sheet §5.3)."""
        return self.ds or (self.lpa64 and PS_BITS[self.ps_code] == 52)

    def ttbr_value(self, *, asid: int = 0) -> int:
        """TTBRn_ELx / VTTBR_EL2 value for the root (ASID/VMID in bits 63:48)."""
        top = "ASID" if self.stage == 1 else "VMID"
        low48 = (1 << (ADDR_47 + 1)) - 1
        if self.ttbr52:
            v = TTBR_52.encode(BADDR=(self.root & low48) >> TTBR_52["BADDR"].lsb,
                               BADDR_51_48=self.root >> (ADDR_47 + 1))
        else:
            if self.root & ~low48:
                raise ValueError(f"root {self.root:#x} needs the 52-bit TTBR format")
            v = TTBR.encode(BADDR=self.root >> TTBR["BADDR"].lsb)
        layout = TTBR if self.stage == 1 else VTTBR_EL2
        return layout[top].put(v, asid)

    def _id_regs(self, out: dict[str, int]) -> None:
        out.setdefault("ID_AA64MMFR0_EL1", DEFAULT_ID_AA64MMFR0_EL1)
        mmfr2 = 0
        if self.g == 16 and self.ia_bits > 48:
            mmfr2 = _put(ID_AA64MMFR2_EL1, mmfr2, VARange=1)          # FEAT_LVA
        if 64 - self.ia_bits > 39:
            mmfr2 = _put(ID_AA64MMFR2_EL1, mmfr2, ST=1)               # FEAT_TTST
        if mmfr2:
            out["ID_AA64MMFR2_EL1"] = out.get("ID_AA64MMFR2_EL1", 0) | mmfr2

    def registers(self, *, ttbr: int = 0, regs: Mapping[str, int] | None = None,
                  asid: int = 0, vmid: int = 0) -> dict[str, int]:
        """Register values describing this tree, merged into (a copy of) ``regs``.

        Stage 1: TCR_EL1 (the TTBRn half for ``ttbr``; the other half gets EPDn = 1
        unless ``regs`` already configured it), TTBRn_EL1, MAIR_EL1 (default
        :data:`DEFAULT_MAIR` unless given), SCTLR_EL1 (M = 1, EE for big-endian).
        Stage 2: VTCR_EL2, VTTBR_EL2, HCR_EL2 (VM = 1, RW = 1), SCTLR_EL2.EE if big-endian.
        Both: ID_AA64MMFR0_EL1 (default :data:`DEFAULT_ID_AA64MMFR0_EL1`) and, when
        needed, ID_AA64MMFR2_EL1 (VARange for 64KB 52-bit VA, ST for small tables).
        """
        out = dict(regs or {})
        self._id_regs(out)
        if self.stage == 2:
            sl2, sl0 = _S2_SL[self.g][self.start_level]
            vtcr = VTCR_EL2.encode(
                T0SZ=64 - self.ia_bits, SL0=sl0, SL2=sl2, IRGN0=_WB_RAWA, ORGN0=_WB_RAWA, SH0=_ISH,
                TG0=_TG0_CODE[self.g], PS=self.ps_code, DS=int(self.ds), RES1_31=1)
            out["VTCR_EL2"] = vtcr
            out["VTTBR_EL2"] = self.ttbr_value(asid=vmid)
            out["HCR_EL2"] = _put(HCR_EL2, out.get("HCR_EL2", 0), VM=1, RW=1)
            if self.big_endian:
                out["SCTLR_EL2"] = _put(SCTLR, out.get("SCTLR_EL2", 0), EE=1)
            return out

        if ttbr not in (0, 1):
            raise ValueError("ttbr must be 0 or 1")
        me, other = str(ttbr), str(1 - ttbr)
        tg = {"0": ("TG0", _TG0_CODE), "1": ("TG1", _TG1_CODE)}
        half = lambda n: {f"T{n}SZ": 64 - self.ia_bits, tg[n][0]: tg[n][1][self.g],  # noqa: E731
                          f"IRGN{n}": _WB_RAWA, f"ORGN{n}": _WB_RAWA, f"SH{n}": _ISH}
        if "TCR_EL1" in out:
            tcr = out["TCR_EL1"]
            if TCR_EL1["DS"].get(tcr) != int(self.ds):
                raise ValueError("TTBR0 and TTBR1 trees disagree on DS")
            ips = max(TCR_EL1["IPS"].get(tcr), self.ps_code)
        else:
            # the other half: same geometry, walks disabled
            tcr = _put(TCR_EL1, 0, **half(other), **{f"EPD{other}": 1})
            ips = self.ps_code
        tcr = _put(TCR_EL1, tcr, **half(me), **{f"EPD{me}": 0}, IPS=ips, DS=int(self.ds), AS=1)
        out["TCR_EL1"] = tcr
        out[f"TTBR{me}_EL1"] = self.ttbr_value(asid=asid)
        out.setdefault("MAIR_EL1", DEFAULT_MAIR)
        out["SCTLR_EL1"] = _put(SCTLR, out.get("SCTLR_EL1", 0), M=1, EE=int(self.big_endian))
        return out


# --------------------------------------------------------------------------- two stages

class TwoStage:
    """A stage 1 tree whose tables live in IPA space, plus the stage 2 tree mapping them.

    ``s1.table_base`` is an IPA; the stage 1 table area ``[s1_table_ipa, +s1_table_size)``
    is mapped by stage 2 to ``s1_table_pa``, where :meth:`chunks` places those bytes.
    """

    def __init__(self, s1: TableBuilder, s2: TableBuilder, s1_table_pa: int, s1_table_size: int,
                 s1_table_attrs: S2Attrs | None = None) -> None:
        if s1.stage != 1 or s2.stage != 2:
            raise ValueError("TwoStage needs a stage 1 and a stage 2 builder")
        self.s1, self.s2 = s1, s2
        self.s1_table_pa = s1_table_pa
        self.s1_table_size = s1_table_size
        s2.map(s1.table_base, s1_table_pa, s1_table_size, s1_table_attrs or S2Attrs())

    def map(self, va: int, ipa: int, size: int, s1_attrs: S1Attrs | None = None, *,
            pa: int | None = None, s2_attrs: S2Attrs | None = None, **kw) -> None:
        """Map ``va -> ipa`` at stage 1 and, if ``pa`` is given, ``ipa -> pa`` at stage 2."""
        self.s1.map(va, ipa, size, s1_attrs, **kw)
        if pa is not None:
            self.s2.map(ipa, pa, size, s2_attrs)

    def chunks(self) -> dict[int, bytearray]:
        (s1_buf,) = self.s1.chunks().values()
        out = dict(self.s2.chunks())
        out[self.s1_table_pa] = s1_buf
        return out

    def memory(self):
        from pgwalk.memory import PhysicalMemory
        return PhysicalMemory.from_buffers(self.chunks())

    def write_raw(self, path) -> tuple[int, int]:
        """One raw image spanning both table areas (gaps zero-filled); returns ``(base, size)``."""
        return write_image(path, self)

    def registers(self, *, ttbr: int = 0, regs: Mapping[str, int] | None = None, asid: int = 0,
                  vmid: int = 0) -> dict[str, int]:
        out = self.s2.registers(regs=regs, vmid=vmid)
        return self.s1.registers(ttbr=ttbr, regs=out, asid=asid)


def two_stage(*, granule: int = 4096, va_bits: int = 48, ipa_bits: int = 40, ds: bool = False,
              lpa: bool = False, s2_table_pa: int = 0x4000_0000, s1_table_ipa: int = 0x8000_0000,
              s1_table_pa: int | None = None, s1_table_size: int = 0x10000, big_endian: bool = False,
              pa_bits: int = 48, s2_start_level: int | None = None) -> TwoStage:
    """A :class:`TwoStage` with stage 2 tables at ``s2_table_pa`` and stage 1 tables at IPA
    ``s1_table_ipa``, stored at ``s1_table_pa`` (default: 64KB above the stage 2 area)."""
    s2 = TableBuilder(stage=2, granule=granule, ia_bits=ipa_bits, ds=ds, lpa=lpa, start_level=s2_start_level,
                      table_base=s2_table_pa, table_limit=None, big_endian=big_endian, pa_bits=pa_bits)
    if s1_table_pa is None:
        s1_table_pa = s2_table_pa + 0x10000
    s2.table_limit = s1_table_pa if s1_table_pa > s2_table_pa else None
    s1 = TableBuilder(stage=1, granule=granule, ia_bits=va_bits, ds=ds, lpa=lpa, table_base=s1_table_ipa,
                      table_limit=s1_table_ipa + s1_table_size, big_endian=big_endian, pa_bits=ipa_bits)
    return TwoStage(s1, s2, s1_table_pa, s1_table_size)


# --------------------------------------------------------------------------- images

def merge_chunks(*sources) -> tuple[int, bytearray]:
    """Merge builders / TwoStage objects / ``{base: bytes}`` dicts into one zero-filled
    buffer; returns ``(base, buffer)``.  Overlapping regions raise ValueError."""
    chunks: dict[int, bytes] = {}
    for src in sources:
        part = src.chunks() if hasattr(src, "chunks") else src
        for b, c in part.items():
            if not c:
                continue
            for ob, oc in chunks.items():
                if b < ob + len(oc) and ob < b + len(c):
                    raise ValueError(f"regions {b:#x}+{len(c):#x} and {ob:#x}+{len(oc):#x} overlap")
            chunks[b] = c
    if not chunks:
        raise ValueError("nothing to merge")
    base = min(chunks)
    end = max(b + len(c) for b, c in chunks.items())
    img = bytearray(end - base)
    for b, c in chunks.items():
        img[b - base:b - base + len(c)] = c
    return base, img


def write_image(path, *sources) -> tuple[int, int]:
    """Write :func:`merge_chunks` of ``sources`` as a raw image; returns ``(base, size)``."""
    base, img = merge_chunks(*sources)
    Path(path).write_bytes(bytes(img))
    return base, len(img)


# --------------------------------------------------------------------------- VMSAv9-128 (FEAT_D128)

#: ID_AA64MMFR0_EL1 of a D128 builder: PARange 0b0111 (56 bits), the three granules at both stages
D128_ID_AA64MMFR0_EL1 = DEFAULT_ID_AA64MMFR0_EL1 & ~0xF | 0b0111
#: ID_AA64MMFR2_EL1 of a D128 builder: VARange 0b0010 (FEAT_LVA3, 56-bit VA), ST (small tables)
D128_ID_AA64MMFR2_EL1 = ID_AA64MMFR2_EL1.encode(VARange=2, ST=1)


class D128Builder:
    """VMSAv9-128 (FEAT_D128) translation tables in a byte buffer, for tests: 16-byte descriptors,
    a level resolving ``granule bits - 4`` input-address bits, start levels down to -2 (4KB), the
    TTBR's SKL (levels skipped at the start) and table descriptors that skip levels (their SKL),
    OA up to 56 bits.  Its geometry is written out here from the Arm ARM's tables (D8.2.11), not
    taken from :mod:`pgwalk.rules`, so a test compares the walk with an independent statement.

    ``map(ia, oa, path=(...))`` writes a leaf at the last level of ``path``: the levels the walk
    visits (for example ``(-1, 0, 1, 2, 3)``, or ``(-1, 1, 3)`` when the tables skip a level each);
    a table descriptor at ``path[i]`` gets SKL ``path[i + 1] - path[i] - 1`` and the leaf SKL
    ``3 - level``.  ``put(ia, path, raw)`` writes any 128-bit value at the last level instead.
    Permissions are indirect: ``pi`` is the PIIndex (desc[118:115]), ``po`` the POIndex.
    """

    def __init__(self, *, stage: int = 1, granule: int = 4096, ia_bits: int = 48, pa_bits: int = 56, skl: int = 0,
                 table_base: int = 0x10_0000, big_endian: bool = False):
        self.stage, self.granule, self.ia_bits, self.pa_bits = stage, granule, ia_bits, pa_bits
        self.g = _GRANULE_SHIFT[granule]
        self.stride = self.g - 4
        self.skl = skl
        self.start_level = 3 - (ia_bits - 1 - self.g) // self.stride + skl
        self.table_base = table_base
        self.big_endian = big_endian
        self._buf = bytearray()
        self._next = table_base
        root_bits = ia_bits - self._lsb(self.start_level)
        self.root = self._alloc(16 << root_bits)

    def _lsb(self, level: int) -> int:
        return (3 - level) * self.stride + self.g

    def _alloc(self, size: int) -> int:
        align = max(size, 32)
        addr = _align_up(self._next, align)
        end = addr + size
        need = end - self.table_base
        if need > len(self._buf):
            self._buf.extend(bytes(need - len(self._buf)))
        self._next = end
        return addr

    def read(self, addr: int) -> int:
        """The 16-byte descriptor at ``addr`` (the first 8 bytes are bits [63:0] little-endian; big-endian
        tables hold the 128-bit value byte-reversed as a whole)."""
        off = addr - self.table_base
        return int.from_bytes(self._buf[off:off + 16], "big" if self.big_endian else "little")

    def write(self, addr: int, raw: int) -> None:
        off = addr - self.table_base
        self._buf[off:off + 16] = raw.to_bytes(16, "big" if self.big_endian else "little")

    def _entry(self, table: int, level: int, ia: int, bits: int) -> int:
        return table + 16 * ((ia >> self._lsb(level)) & ((1 << bits) - 1))

    def table_descriptor(self, next_table: int, skl: int = 0) -> int:
        layout = D128_TABLE_LAYOUT(self.stage, self.g)
        return _put(layout, 0, VALID=1, NLTA=next_table >> self.g, SKL=skl)

    def leaf_descriptor(self, oa: int, level: int, *, pi: int = 0, po: int = 0, attr_indx: int = 0, af: int = 1,
                        dirty: int = 0, sh: int = 0b11, contiguous: int = 0) -> int:
        """A block or page: ``dirty`` is nDirty (desc[7]) at stage 1, Dirty at stage 2; ``attr_indx`` is
        AttrIndx (stage 1) or MemAttr (stage 2)."""
        lsb = self._lsb(level)
        layout = D128_LEAF_LAYOUT(self.stage, lsb, level < 3)
        attr = {"AttrIndx": attr_indx, "nDirty": dirty} if self.stage == 1 else {"MemAttr": attr_indx, "Dirty": dirty}
        return _put(layout, 0, VALID=1, OA=oa >> lsb, SKL=3 - level, PIIndex=pi, POIndex=po, AF=af, SH=sh,
                    Contiguous=contiguous, **attr)

    def _walk_path(self, ia: int, path: tuple[int, ...]) -> int:
        """The address of ``ia``'s entry at ``path[-1]``, making the tables of ``path`` on the way."""
        if path[0] != self.start_level:
            raise ValueError(f"a path starts at the start level {self.start_level}, not {path[0]}")
        table, bits = self.root, self.ia_bits - self._lsb(self.start_level)
        for level, nxt in zip(path, path[1:]):
            entry = self._entry(table, level, ia, bits)
            raw = self.read(entry)
            skl = nxt - level - 1
            bits = self.stride * (skl + 1)
            if raw & 1:
                table = (raw & ((1 << 56) - 1)) >> self.g << self.g
                table &= ~((1 << (bits + 4)) - 1)
            else:
                table = self._alloc(16 << bits)
                self.write(entry, self.table_descriptor(table, skl))
        return self._entry(table, path[-1], ia, bits)

    def map(self, ia: int, oa: int, path: tuple[int, ...], **attrs: int) -> int:
        """Map the block or page of ``ia`` at level ``path[-1]`` to ``oa``; returns the descriptor's address."""
        addr = self._walk_path(ia, path)
        self.write(addr, self.leaf_descriptor(oa, path[-1], **attrs))
        return addr

    def put(self, ia: int, path: tuple[int, ...], raw: int) -> int:
        """Write ``raw`` as ``ia``'s descriptor at level ``path[-1]``; returns its address."""
        addr = self._walk_path(ia, path)
        self.write(addr, raw)
        return addr

    def chunks(self) -> dict[int, bytearray]:
        return {self.table_base: bytearray(self._buf)}

    def memory(self, *extra: Mapping[int, bytes]):
        """A :class:`pgwalk.memory.PhysicalMemory` over the tables (and ``extra`` chunks)."""
        from pgwalk.memory import PhysicalMemory
        parts = dict(self.chunks())
        for e in extra:
            parts.update(e)
        return PhysicalMemory.from_buffers(parts)

    def ttbr_value(self, *, asid: int = 0) -> int:
        """The 128-bit TTBRn_ELx / VTTBR_EL2: BADDR[55:48] in [87:80], BADDR[47:5], SKL."""
        low48 = (1 << 48) - 1
        return TTBR_128.encode(BADDR=(self.root & low48) >> 5, BADDR_55_48=self.root >> 48, SKL=self.skl, ASID=asid)

    def registers(self, *, regs: Mapping[str, int] | None = None, pir: int = 0, pire0: int = 0,
                  s2pir: int = 0) -> dict[str, int]:
        """Registers describing this tree (TTBR0 at stage 1; VTTBR_EL2 at stage 2), D128 on, merged into
        ``regs``: stage 1 TCR_EL1 (TTBR1 walks disabled), TCR2_EL1.D128, TTBR0_EL1, MAIR_EL1, PIR_EL1,
        PIRE0_EL1, SCTLR_EL1; stage 2 VTCR_EL2 (D128), VTTBR_EL2, HCR_EL2.VM, S2PIR_EL2; and the ID registers."""
        out = dict(regs or {})
        out.setdefault("ID_AA64MMFR0_EL1", D128_ID_AA64MMFR0_EL1)
        out.setdefault("ID_AA64MMFR2_EL1", D128_ID_AA64MMFR2_EL1)
        ps = {bits: code for code, bits in PS_BITS.items()}[self.pa_bits]    # 0b111: 56 bits with D128
        if self.stage == 2:
            out["VTCR_EL2"] = VTCR_EL2.encode(T0SZ=64 - self.ia_bits, IRGN0=_WB_RAWA, ORGN0=_WB_RAWA, SH0=_ISH,
                                              TG0=_TG0_CODE[self.g], PS=ps, RES1_31=1, D128=1)
            out["VTTBR_EL2"] = self.ttbr_value()
            out["HCR_EL2"] = _put(HCR_EL2, out.get("HCR_EL2", 0), VM=1, RW=1)
            out.setdefault("S2PIR_EL2", s2pir)
            return out
        out["TCR_EL1"] = _put(TCR_EL1, out.get("TCR_EL1", 0), T0SZ=64 - self.ia_bits, TG0=_TG0_CODE[self.g],
                              IRGN0=_WB_RAWA, ORGN0=_WB_RAWA, SH0=_ISH, EPD1=1, T1SZ=64 - self.ia_bits,
                              TG1=_TG1_CODE[self.g], IPS=ps, AS=1)
        out["TCR2_EL1"] = TCR2_EL1.encode(D128=1)
        out["TTBR0_EL1"] = self.ttbr_value()
        out.setdefault("MAIR_EL1", DEFAULT_MAIR)
        out.setdefault("PIR_EL1", pir)
        out.setdefault("PIRE0_EL1", pire0)
        out["SCTLR_EL1"] = _put(SCTLR, out.get("SCTLR_EL1", 0), M=1, EE=int(self.big_endian))
        return out
