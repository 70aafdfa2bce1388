"""One translation table entry decoded on its own, without a memory image.

``pgwalk decode descriptor VALUE --granule 4k --level 3 [--stage 2] [--ds]``
and the ``pgd=``/``p4d=``/``pud=``/``pmd=``/``pte=`` values an oops logs
come here.  Nothing is restated: the entry's kind is
:func:`pgwalk.rules.decode_descriptor_type`, its size
:func:`pgwalk.rules.level_shift`, its addresses
:func:`pgwalk.rules.next_table_base` / :func:`pgwalk.rules.leaf_base`, its
attributes and permissions the walker's own leaf decoding
(:func:`pgwalk.walk.decode_s1_leaf`, :func:`pgwalk.walk.decode_s2_leaf`, which call
:mod:`pgwalk.attrs` and :mod:`pgwalk.perms`), and its fields and RES0 bits
the layouts of :mod:`pgwalk.formats.descriptors`.

What one entry cannot say is said plainly: without MAIR the stage 1 memory
type is only AttrIndx; with DS = 1 the shareability is TCR's; hierarchical
APTable/XNTable limits from the tables above are not applied.
"""

from __future__ import annotations


from .errors import InputError
from .formats import descriptors as D
from .formats.fields import Layout
from .records import field, record
from .rules import FINAL_LEVEL, DescType, d128_descriptor_type, d128_skl, decode_descriptor_type, \
    invalid_descriptor_reason, level_shift, next_table_base

__all__ = ["DescriptorReport", "decode_descriptor", "decode_logged_walk", "GRANULES"]

#: granule names -> log2 of the granule size
GRANULES = {"4k": 12, "16k": 14, "64k": 16}
_M64 = (1 << 64) - 1


@record(compiled_init=True)
class DescriptorReport:
    """One decoded entry: kind, address, fields, attributes, permissions, problems."""

    value: int
    stage: int
    level: int
    granule_shift: int
    ds: bool
    kind: str                                  # table, block, page, invalid, reserved, illegal block
    name: str = ""                             # the logged name (pgd, pmd, ...) when from a log
    layout: Layout | None = None
    fields: dict[str, int] = field(default_factory=dict)
    address: int | None = None                 # next-level table (table) or output address (block/page)
    size_shift: int | None = None              # block/page size (log2)
    memory: str | None = None                  # memory type and shareability, when the entry gives them
    permissions: str | None = None             # "EL1 rw- EL0 ---" (stage 1) / "r-x" (stage 2)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    d128: bool = False                         # a 128-bit VMSAv9-128 descriptor (FEAT_D128)

    @property
    def summary(self) -> str:
        g = f"{1 << (self.granule_shift - 10)}KB granule"
        if self.kind == "table":
            text = f"table -> next level at {self.address:#x}"
        elif self.kind in ("block", "page"):
            size = _size(self.size_shift or 0)
            text = f"{size} {self.kind} -> OA {self.address:#x}"
            if self.memory:
                text += f", {self.memory}"
            if self.permissions:
                text += f", {self.permissions}"
            if self.kind in ("block", "page") and not self.fields.get("AF", 1):
                text += ", AF = 0"
        else:
            text = self.kind
        text = (f"level {self.level} {text} (stage {self.stage}, {g}{', DS = 1' if self.ds else ''}"
                f"{', 128-bit descriptor' if self.d128 else ''})")
        if self.problems:
            text += "; " + "; ".join(self.problems)
        return text

    def to_json(self) -> dict:
        return {"value": self.value, "hex": f"{self.value:#0{34 if self.d128 else 18}x}", "name": self.name or None,
                "stage": self.stage, "d128": self.d128,
                "level": self.level, "granule": 1 << self.granule_shift, "ds": self.ds, "kind": self.kind,
                "fields": dict(self.fields),
                "address": self.address, "address_hex": None if self.address is None else f"{self.address:#x}",
                "size": None if self.size_shift is None else 1 << self.size_shift,
                "memory": self.memory, "permissions": self.permissions, "summary": self.summary,
                "problems": list(self.problems), "notes": list(self.notes)}


def _size(shift: int) -> str:
    for unit, s in (("GB", 30), ("MB", 20), ("KB", 10)):
        if shift >= s:
            return f"{1 << (shift - s)}{unit}"
    return f"{1 << shift}B"


def decode_descriptor(value: int, *, granule: int | str, level: int, stage: int = 1, ds: bool = False,
                      pa_bits: int = 48, mair: int | None = None, two_el: bool = True,
                      name: str = "", d128: bool = False) -> DescriptorReport:
    """Decode one stage 1 or stage 2 translation table entry.

    >>> decode_descriptor(0x00e000004804d783, granule="4k", level=3).summary
    'level 3 4KB page -> OA 0x4804d000, Inner Shareable, EL1 r-- EL0 --- (stage 1, 4KB granule)'

    :param granule: 12/14/16 or "4k"/"16k"/"64k"
    :param level: lookup level, -1 to 3
    :param pa_bits: the output size; 52 with a 64KB granule means OA[51:48] in bits [15:12]
    :param mair: MAIR_ELx, to name the stage 1 memory type (else only AttrIndx is known)
    :param two_el: the regime has EL0 (EL1&0, EL2&0): AP[1], UXN/PXN and nG apply
    :param d128: a 128-bit VMSAv9-128 descriptor (FEAT_D128; levels -2..3): see :func:`decode_d128_descriptor`
    :raises InputError: for a level, granule or value out of range
    """
    from .walk import decode_s1_leaf, decode_s2_leaf
    g = GRANULES.get(str(granule).lower()) if not isinstance(granule, int) else granule
    if g not in (12, 14, 16):
        raise InputError(f"--granule: {granule!r} is not 4k, 16k or 64k")
    if d128:
        return decode_d128_descriptor(value, g, level, stage, pa_bits, mair, two_el, name)
    if not -1 <= level <= FINAL_LEVEL:
        raise InputError(f"--level: {level} is not -1..3")
    if level == -1 and not (ds and g in (12, 14)):
        raise InputError("level -1 exists only with DS = 1 (4KB or 16KB granule, 52-bit addresses)")
    if ds and g == 16:
        raise InputError("DS = 1 is for 4KB and 16KB granules (64KB uses 52-bit PA without DS)")
    if value < 0 or value > _M64:
        raise InputError(f"descriptor {value:#x} does not fit in 64 bits")
    if stage not in (1, 2):
        raise InputError(f"--stage: {stage} is not 1 or 2")
    lpa64 = g == 16 and pa_bits >= 52
    pa_max = 52 if (ds or lpa64) else pa_bits
    kind = decode_descriptor_type(value, level, ds, g, pa_max)
    r = DescriptorReport(value, stage, level, g, ds, kind.text, name)
    if kind is DescType.INVALID:
        r.notes.append("invalid (bit 0 = 0): a walk reaching it takes a Translation fault at this level; "
                       "the other bits are ignored by hardware (software may keep data there)")
        return r
    if kind is DescType.RESERVED:
        r.problems.append("reserved encoding at level 3 (bits[1:0] = 0b01): a Translation fault")
        return r
    if kind is DescType.ILLEGAL_BLOCK:
        r.problems.append(f"a block is not allowed at level {level} with a {1 << (g - 10)}KB granule"
                          f"{' and DS = 1' if ds else ''}: a Translation fault")
        return r
    if kind is DescType.TABLE:
        layout = (D.s1_table_layout if stage == 1 else D.s2_table_layout)(g, ds, lpa64)
        r.layout, r.fields = layout, layout.decode(value)
        r.address = next_table_base(value, g, ds, lpa64)
        res0 = value & D.table_res0_mask(stage, g, ds, lpa64)
        if res0:
            r.problems.append(f"RES0 bits set: {res0:#x}")
        _oa_check(r, pa_max)
        if stage == 1 and any(r.fields.get(n) for n in ("APTable", "UXNTable", "PXNTable")):
            r.notes.append("APTable/UXNTable/PXNTable limit every entry below this table")
        return r
    # block or page
    leafsize = level_shift(level, g)
    block = kind is DescType.BLOCK
    layout = (D.s1_leaf_layout if stage == 1 else D.s2_leaf_layout)(leafsize, ds, lpa64, block)
    r.layout, r.fields = layout, layout.decode(value)
    r.size_shift = leafsize
    res0, misalign = D.leaf_res0_masks(stage, leafsize, g, ds, lpa64, block)
    if value & misalign:
        r.problems.append(f"output address bits {value & misalign:#x} below the {_size(leafsize)} block size "
                          "are set (RES0, ignored)")
    if value & res0:
        r.problems.append(f"RES0 bits set: {value & res0:#x}")
    if stage == 1:
        leaf = decode_s1_leaf(value, level, kind.text, granule_shift=g, ds=ds, lpa64=lpa64, two_el=two_el, mair=mair)
        r.permissions = (f"EL1 {leaf.perms.text(False)} EL0 {leaf.perms.text(True)}" if two_el else
                         f"{leaf.perms.text(False)}")
        if mair is not None and leaf.attrs is not None:
            r.memory = leaf.attrs.describe() + ("" if ds else f", {_SH_TEXT[r.fields['SH']]}")
        else:
            r.notes.append(f"memory type: MAIR attribute {leaf.attr_index} (give --mair to name it)")
            r.memory = None if ds else _SH_TEXT[r.fields["SH"]]
    else:
        leaf = decode_s2_leaf(value, level, kind.text, granule_shift=g, ds=ds, lpa64=lpa64, xnx=True)
        r.permissions = f"EL1 {leaf.perms.text(False)} EL0 {leaf.perms.text(True)}"
        r.memory = leaf.attrs.describe()
    r.address = leaf.oa_base
    if ds:
        r.notes.append("with DS = 1 the shareability is TCR_ELx.SHx, not the descriptor")
    if not r.fields.get("AF", 1):
        r.notes.append("AF = 0: an access takes an Access flag fault unless hardware AF update is on")
    if stage == 1:
        r.notes.append("hierarchical limits (APTable, XNTable) of the tables above are not applied")
    _oa_check(r, pa_max)
    return r


def decode_d128_descriptor(value: int, g: int, level: int, stage: int, pa_bits: int, mair: int | None, two_el: bool,
                           name: str = "") -> DescriptorReport:
    """One 128-bit VMSAv9-128 entry (:func:`decode_descriptor` with ``d128``): its kind from the valid bit
    and SKL (:func:`pgwalk.rules.d128_descriptor_type`), the next table (its size follows SKL) or the
    output address (OA[55:12]), the memory type, and the PIIndex/POIndex its permissions come from:
    with D128 they are always indirect, so without PIR_ELx / S2PIR_EL2 they are not known here."""
    from .walk import decode_s1_leaf, decode_s2_leaf
    if not -2 <= level <= FINAL_LEVEL:
        raise InputError(f"--level: {level} is not -2..3")
    if value < 0 or value >> 128:
        raise InputError(f"descriptor {value:#x} does not fit in 128 bits")
    if stage not in (1, 2):
        raise InputError(f"--stage: {stage} is not 1 or 2")
    kind = d128_descriptor_type(value, level, g)
    r = DescriptorReport(value, stage, level, g, False, kind.text, name, d128=True)
    if kind is DescType.INVALID:
        r.notes.append("invalid (bit 0 = 0): a walk reaching it takes a Translation fault at this level")
        return r
    if kind.faults:
        r.problems.append(invalid_descriptor_reason(kind, level, g, False, value, True) + ": a Translation fault")
        return r
    skl = d128_skl(value)
    if kind is DescType.TABLE:
        r.layout = D.d128_table_layout(stage, g)
        r.fields = r.layout.decode(value)
        r.address = next_table_base(value, g, False, False, True)
        r.notes.append(f"SKL = {skl}: the next level is {level + 1 + skl}, its table "
                       f"{16 << ((g - 4) * (skl + 1))} bytes")
        res0 = value & D.d128_table_res0_mask(stage, g)
        if res0:
            r.problems.append(f"RES0 bits set: {res0:#x}")
        _oa_check(r, pa_bits)
        return r
    leafsize = level_shift(level, g, True)
    r.layout = D.d128_leaf_layout(stage, leafsize, kind is DescType.BLOCK)
    r.fields = r.layout.decode(value)
    r.size_shift = leafsize
    if stage == 1:
        leaf = decode_s1_leaf(value, level, kind.text, granule_shift=g, ds=False, lpa64=False, two_el=two_el,
                              mair=mair, d128=True)
        if mair is not None and leaf.attrs is not None:
            r.memory = f"{leaf.attrs.describe()}, {_SH_TEXT[r.fields['SH']]}"
        else:
            r.notes.append(f"memory type: MAIR attribute {leaf.attr_index} (give --mair to name it)")
            r.memory = _SH_TEXT[r.fields["SH"]]
        r.notes.append(f"permissions are indirect (D128): PIIndex {r.fields['PIIndex']} selects PIR_ELx/PIRE0_ELx "
                       f"entries, POIndex {r.fields['POIndex']} the overlay; nDirty = {r.fields['nDirty']}")
    else:
        leaf = decode_s2_leaf(value, level, kind.text, granule_shift=g, ds=False, lpa64=False, d128=True)
        r.memory = leaf.attrs.describe()
        r.notes.append(f"permissions are indirect (D128): PIIndex {r.fields['PIIndex']} selects an S2PIR_EL2 entry, "
                       f"POIndex {r.fields['POIndex']} the S2POR_EL1 overlay; Dirty = {r.fields['Dirty']}")
    r.address = leaf.oa_base
    res0, misalign = D.d128_leaf_res0_masks(stage, leafsize, g, kind is DescType.BLOCK)
    if value & misalign:
        r.problems.append(f"output address bits {value & misalign:#x} below the {_size(leafsize)} block size "
                          "are set (ignored)")
    if value & res0:
        r.problems.append(f"RES0 bits set: {value & res0:#x}")
    if not r.fields.get("AF", 1):
        r.notes.append("AF = 0: an access takes an Access flag fault unless hardware AF update is on")
    _oa_check(r, pa_bits)
    return r


_SH_TEXT = {0b00: "Non-shareable", 0b01: "shareability reserved (0b01)", 0b10: "Outer Shareable",
            0b11: "Inner Shareable"}


def _oa_check(r: DescriptorReport, pa_max: int) -> None:
    if r.address is not None and r.address >> pa_max:
        r.problems.append(f"address {r.address:#x} is beyond a {pa_max}-bit output size (Address size fault)")


def decode_logged_walk(walk) -> list[DescriptorReport]:
    """The entries ``show_pte()`` logged (``pgd=... pte=...``), each decoded at its level.

    Linux prints folded levels again under their own names; the levels come
    from :func:`pgwalk.kernlog.linux_level_map`.  52-bit VAs with 4KB/16KB
    pages mean LPA2 (DS = 1); 64KB with 52 bits means 52-bit PA (OA[51:48] in
    bits [15:12]).  Stage 1 of the EL1&0 regime.
    """
    from .kernlog import linux_level_map
    if not walk.entries or walk.page_kb is None or walk.va_bits is None:
        return []
    levels = linux_level_map(walk.page_kb, walk.va_bits)
    g = {4: 12, 16: 14, 64: 16}[walk.page_kb]
    ds = walk.va_bits > 48 and g in (12, 14)
    out = []
    seen_level = None
    for name, value in walk.entries:
        lvl = levels[name]
        if lvl == seen_level:
            continue                                  # a folded level: the same entry again
        seen_level = lvl
        out.append(decode_descriptor(value, granule=g, level=lvl, ds=ds, pa_bits=52 if walk.va_bits > 48 else 48,
                                     name=name))
    return out
