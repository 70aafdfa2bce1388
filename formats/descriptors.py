"""VMSAv8-64 translation-table descriptor layouts (ARM Tables D8-48..D8-53).

The address fields of a descriptor depend on the granule, the level (block
size), FEAT_LPA2 (effective DS) and FEAT_LPA with 64KB granules, so each
layout is built by a function of those parameters, like pyelftools'
``ELFStructs``.  Bit positions appear only in this module.
"""

from __future__ import annotations

from functools import lru_cache

from .fields import Field, Layout

__all__ = [
    "VALID", "TYPE", "s1_table_layout", "s1_leaf_layout", "s2_table_layout", "s2_leaf_layout",
    "ADDR_47", "DS_OA_49_48", "DS_OA_51_50", "LPA_OA_51_48", "S1_TABLE", "S1_LEAF", "S2_LEAF",
    "TABLE_IGNORED", "table_res0_mask", "leaf_res0_masks", "PI_INDEX_BITS", "NDIRTY", "S1_POINDEX", "S2_POINDEX",
    "D128_BYTES", "D128_ADDR_TOP", "D128_SKL", "D128_PIINDEX", "D128_POINDEX", "d128_table_layout", "d128_leaf_layout",
    "d128_table_res0_mask", "d128_leaf_res0_masks", "join128",
]

#: descriptor bit 0: valid
VALID = Field("VALID", 0, 0)
#: descriptor bit 1: 1 table/page, 0 block
TYPE = Field("TYPE", 1, 1)

# Address pieces shared by every format
ADDR_47 = 47                                     # top bit of the 48-bit address field
DS_OA_49_48 = Field("OA_49_48", 49, 48, "OA[49:48] with DS = 1")
DS_OA_51_50 = Field("OA_51_50", 9, 8, "OA[51:50] with DS = 1")
LPA_OA_51_48 = Field("OA_51_48", 15, 12, "OA[51:48] with 64KB granule and 52-bit PA")

# Attribute fields by name (bit positions, ARM Tables D8-50, D8-52, D8-53)
S1_TABLE = {
    "NSTable": Field("NSTable", 63, 63, "Non-secure table (Secure state only)"),
    "APTable": Field("APTable", 62, 61, "hierarchical access permissions limit"),
    "UXNTable": Field("UXNTable", 60, 60, "hierarchical EL0 execute-never (XNTable in one-EL regimes)"),
    "PXNTable": Field("PXNTable", 59, 59, "hierarchical privileged execute-never"),
}
S1_LEAF = {
    "AttrIndx": Field("AttrIndx", 4, 2, "MAIR attribute index"),
    "NS": Field("NS", 5, 5, "Non-secure output (Secure state only)"),
    "AP": Field("AP", 7, 6, "access permissions AP[2:1]"),
    "SH": Field("SH", 9, 8, "shareability"),
    "AF": Field("AF", 10, 10, "access flag"),
    "nG": Field("nG", 11, 11, "not global"),
    "nT": Field("nT", 16, 16, "block translation entry (FEAT_BBML1)"),
    "GP": Field("GP", 50, 50, "guarded page (FEAT_BTI)"),
    "DBM": Field("DBM", 51, 51, "dirty bit modifier"),
    "Contiguous": Field("Contiguous", 52, 52, "contiguous hint"),
    "PXN": Field("PXN", 53, 53, "privileged execute-never"),
    "UXN": Field("UXN", 54, 54, "EL0 execute-never (XN in one-EL regimes)"),
    "SW": Field("SW", 58, 55, "reserved for software"),
    "PBHA": Field("PBHA", 62, 59, "page-based hardware attributes / ignored"),
    "IGN63": Field("IGN63", 63, 63, "ignored"),
}
S2_LEAF = {
    "MemAttr": Field("MemAttr", 5, 2, "stage 2 memory attributes"),
    "S2AP": Field("S2AP", 7, 6, "stage 2 access permissions (bit 6 read, bit 7 write)"),
    "SH": Field("SH", 9, 8, "shareability"),
    "AF": Field("AF", 10, 10, "access flag"),
    "FnXS": Field("FnXS", 11, 11, "XS attribute 0 (FEAT_XS)"),
    "nT": Field("nT", 16, 16, "block translation entry (FEAT_BBML1)"),
    "DBM": Field("DBM", 51, 51, "dirty bit modifier"),
    "Contiguous": Field("Contiguous", 52, 52, "contiguous hint"),
    "XN": Field("XN", 54, 53, "execute-never XN[1:0] (XN[0] with FEAT_XNX)"),
    "SW": Field("SW", 58, 55, "reserved for software"),
    "IGN": Field("IGN", 62, 59, "reserved for a System MMU / ignored"),
}

#: FEAT_S1PIE / FEAT_S2PIE (ASL ``AArch64.S1ApplyOutputPerms`` / ``S2ApplyOutputPerms``): a leaf's
#: PIIndex is ``desc<54:53>:desc<51>:desc<6>``; the bit positions of PIIndex[0], [1], [2], [3]
#: (AP[1] / S2AP[0], DBM, PXN / XN[0], UXN / XN[1] when indirection is off)
PI_INDEX_BITS = (6, 51, 53, 54)
#: with permission indirection AP[2] (S2AP[1]) is the dirty state: nDirty (stage 1), stage 2 "dirty" = 1 - it
NDIRTY = Field("nDirty", 7, 7, "not dirty (with permission indirection; AP[2] otherwise)")
#: FEAT_S1POE: the stage 1 overlay index, desc[62:60] (bits of PBHA when POE is not in use)
S1_POINDEX = Field("POIndex", 62, 60, "permission overlay index (FEAT_S1POE)")
#: FEAT_S2POE: the stage 2 overlay index, desc[62:59]
S2_POINDEX = Field("S2POIndex", 62, 59, "stage 2 permission overlay index (FEAT_S2POE)")
#: FEAT_THE: a stage 2 leaf's AssuredOnly attribute (with VTCR_EL2.AssuredOnly = 1; a bit of SW otherwise)
S2_ASSUREDONLY = Field("AssuredOnly", 58, 58, "stage 2 AssuredOnly attribute (FEAT_THE)")
#: FEAT_THE: a stage 1 descriptor's Protected attribute (with TCR2_ELx.PnCH = 1; Contiguous otherwise)
S1_PROTECTED = Field("Protected", 52, 52, "Protected attribute (FEAT_THE, PnCH)")
assert PI_INDEX_BITS == (S1_LEAF["AP"].lsb, S1_LEAF["DBM"].lsb, S1_LEAF["PXN"].lsb, S1_LEAF["UXN"].lsb)


def _address_fields(lsb: int, ds: bool, lpa64: bool, table: bool) -> list[Field]:
    name = "NLTA" if table else "OA"
    rows = [Field(name, ADDR_47, lsb, f"{'next-level table' if table else 'output'} address [47:{lsb}]")]
    if ds:
        rows.append(Field(f"{name}_49_48", 49, 48, f"{name}[49:48] (DS = 1)"))
        rows.append(Field(f"{name}_51_50", 9, 8, f"{name}[51:50] (DS = 1)"))
    elif lpa64:
        rows.append(Field(f"{name}_51_48", 15, 12, f"{name}[51:48] (64KB, 52-bit PA)"))
    return rows


@lru_cache(maxsize=None)
def s1_table_layout(granule_shift: int, ds: bool, lpa64: bool, pnch: bool = False) -> Layout:
    """Stage 1 table descriptor (ARM Table D8-50); with ``pnch`` (TCR2_ELx.PnCH, FEAT_THE) bit 52
    is the Protected attribute (an ignored bit otherwise)."""
    rows = [VALID, TYPE] + _address_fields(granule_shift, ds, lpa64, True)
    rows += list(S1_TABLE.values())
    if pnch:
        rows.append(S1_PROTECTED)
    return Layout("S1 table descriptor", tuple(rows))


@lru_cache(maxsize=None)
def s2_table_layout(granule_shift: int, ds: bool, lpa64: bool) -> Layout:
    """Stage 2 table descriptor (ARM Table D8-51): no hierarchical attributes."""
    rows = [VALID, TYPE] + _address_fields(granule_shift, ds, lpa64, True)
    return Layout("S2 table descriptor", tuple(rows))


def _leaf_rows(leaf_shift: int, ds: bool, lpa64: bool, attrs: dict[str, Field], block: bool) -> list[Field]:
    rows = [VALID, TYPE] + _address_fields(leaf_shift, ds, lpa64, False)
    taken = 0
    for f in rows:
        taken |= f.mask
    for f in attrs.values():
        if f.name == "SH" and ds:
            continue  # bits 9:8 are OA[51:50]
        if f.name == "nT" and (not block or f.mask & taken):
            continue
        if f.mask & taken:
            continue
        rows.append(f)
    return rows


#: FEAT_AIE: AttrIndx[3] is desc[59] (PBHA[0] otherwise)
ATTRINDX_3 = Field("AttrIndx3", 59, 59, "MAIR2 attribute index bit, AttrIndx[3] (FEAT_AIE)")


def _s1_leaf_fields(poe: bool, aie: bool, pnch: bool = False) -> dict[str, Field]:
    """The stage 1 leaf fields with desc[62:59] as the enables in use make them: POIndex
    (FEAT_S1POE), AttrIndx[3] (FEAT_AIE), PBHA for the bits neither takes; and bit 52 Protected
    instead of Contiguous with PnCH (FEAT_THE)."""
    if not (poe or aie or pnch):
        return S1_LEAF
    fields = {k: (S1_PROTECTED if k == "Contiguous" and pnch else v) for k, v in S1_LEAF.items()}
    if not (poe or aie):
        return fields
    fields = {k: v for k, v in fields.items() if k not in ("PBHA", "IGN63")}
    if poe:
        fields["POIndex"] = S1_POINDEX
    else:
        fields["PBHA"] = Field("PBHA", 62, 60, "page-based hardware attributes / ignored")
    fields["AttrIndx3" if aie else "PBHA0"] = ATTRINDX_3 if aie else Field("PBHA0", 59, 59, "PBHA[0] / ignored")
    fields["IGN63"] = S1_LEAF["IGN63"]
    return fields


@lru_cache(maxsize=None)
def s1_leaf_layout(leaf_shift: int, ds: bool, lpa64: bool, block: bool, poe: bool = False,
                   aie: bool = False, pnch: bool = False) -> Layout:
    """Stage 1 block or page descriptor (ARM Table D8-52).

    :param leaf_shift: log2 of the block or page size
    :param poe: an overlay is on (FEAT_S1POE): desc[62:60] is POIndex
    :param aie: FEAT_AIE is on: desc[59] is AttrIndx[3]
    :param pnch: TCR2_ELx.PnCH = 1 (FEAT_THE): bit 52 is Protected, not Contiguous
    """
    return Layout("S1 block descriptor" if block else "S1 page descriptor",
                  tuple(_leaf_rows(leaf_shift, ds, lpa64, _s1_leaf_fields(poe, aie, pnch), block)))


@lru_cache(maxsize=None)
def s2_leaf_layout(leaf_shift: int, ds: bool, lpa64: bool, block: bool, s2poe: bool = False) -> Layout:
    """Stage 2 block or page descriptor (ARM Table D8-53); with ``s2poe`` (FEAT_S2POE) desc[62:59]
    is S2POIndex."""
    fields = S2_LEAF
    if s2poe:
        fields = {k: v for k, v in S2_LEAF.items() if k != "IGN"}
        fields["S2POIndex"] = S2_POINDEX
    return Layout("S2 block descriptor" if block else "S2 page descriptor",
                  tuple(_leaf_rows(leaf_shift, ds, lpa64, fields, block)))

#: IGNORED bits of a table descriptor, stage 1 and stage 2 (ARM Tables D8-50, D8-51; fact sheet §4.2):
#: [58:51] (52 is Protected with FEAT_THE) and [11:2] (10 is the table AF with FEAT_HAFT; 9:8 are
#: NLTA[51:50] with DS = 1, which the address fields of the layout take first).  The other bits
#: no field of the table layout names are RES0.
TABLE_IGNORED = (
    Field("IGNORED_58_51", 58, 51, "ignored"),
    Field("IGNORED_11_2", 11, 2, "ignored"),
)


_M64 = (1 << 64) - 1


def table_res0_mask(stage: int, granule_shift: int, ds: bool, lpa64: bool) -> int:
    """The bits of a table descriptor that are RES0: neither a field nor ignored."""
    layout = (s1_table_layout if stage == 1 else s2_table_layout)(granule_shift, ds, lpa64)
    ignored = 0
    for f in TABLE_IGNORED:
        ignored |= f.mask
    return ~(layout.defined_mask | ignored) & _M64


def leaf_res0_masks(stage: int, leaf_shift: int, granule_shift: int, ds: bool, lpa64: bool,
                    block: bool) -> tuple[int, int]:
    """``(res0, misalign)`` of a block or page descriptor: the RES0 bits, and (blocks only) the
    output-address bits below the block size (a page's OA field bits the block does not use:
    RES0 too, named apart because they look like a misaligned address)."""
    leaf = s1_leaf_layout if stage == 1 else s2_leaf_layout
    undefined = ~leaf(leaf_shift, ds, lpa64, block).defined_mask & _M64
    misalign = undefined & leaf(granule_shift, ds, lpa64, False)["OA"].mask if block else 0
    return undefined & ~misalign, misalign


# --------------------------------------------------------------------------- VMSAv9-128 (FEAT_D128)
#
# 128-bit descriptors (ARM D8.3.2, Tables D8-56..D8-60), held as one int of 128 bits (the word at
# the lower address is bits [63:0] in a little-endian table).  The descriptor type comes from the
# Valid bit and the skip level SKL (Table D8-49, ASL ``AArch64.DecodeDescriptorType``), not bit 1.

D128_BYTES = 16
#: the top bit of the address field: NLTA / OA bits [55:12]
D128_ADDR_TOP = 55
D128_SKL = Field("SKL", 110, 109, "skip level (VMSAv9-128)")
D128_NT = Field("nT", 6, 6, "block translation entry (FEAT_BBML1; SKL != 0)")
D128_AF = Field("AF", 10, 10, "access flag")
D128_CONTIGUOUS = Field("Contiguous", 111, 111, "contiguous hint")
D128_DISCH = Field("DisCH", 112, 112, "disable the contiguous bit of the next-level table")
D128_PROTECTED = Field("Protected", 114, 114, "Protected attribute (FEAT_THE)")
#: ASL ``AArch64.S1ApplyOutputPerms`` / ``S2ApplyOutputPerms`` with D128: PIIndex is desc[118:115]
D128_PIINDEX = Field("PIIndex", 118, 115, "permission indirection index")
D128_POINDEX = Field("POIndex", 124, 121, "permission overlay index (FEAT_S1POE / FEAT_S2POE)")
#: FEAT_AIE with D128: AttrIndx[3] is desc[5]
D128_ATTRINDX_3 = Field("AttrIndx3", 5, 5, "MAIR2 attribute index bit, AttrIndx[3] (FEAT_AIE)")
D128_S2_ASSUREDONLY = Field("AssuredOnly", 114, 114, "stage 2 AssuredOnly attribute (FEAT_THE)")
D128_SW = Field("SW", 100, 91, "reserved for software")

D128_S1_LEAF = {
    "AttrIndx": S1_LEAF["AttrIndx"], "nDirty": NDIRTY, "SH": S1_LEAF["SH"], "AF": D128_AF,
    "nG": S1_LEAF["nG"], "SW": D128_SW, "SKL": D128_SKL, "Contiguous": D128_CONTIGUOUS,
    "GP": Field("GP", 113, 113, "guarded page (FEAT_BTI)"), "Protected": D128_PROTECTED,
    "PIIndex": D128_PIINDEX, "POIndex": D128_POINDEX, "NS": Field("NS", 127, 127, "Non-secure output (Secure state)"),
}
D128_S2_LEAF = {
    "MemAttr": S2_LEAF["MemAttr"], "Dirty": Field("Dirty", 7, 7, "dirty state"), "SH": S2_LEAF["SH"],
    "AF": D128_AF, "FnXS": S2_LEAF["FnXS"], "SW": D128_SW, "SKL": D128_SKL, "Contiguous": D128_CONTIGUOUS,
    "AssuredOnly": D128_S2_ASSUREDONLY, "PIIndex": D128_PIINDEX, "POIndex": D128_POINDEX,
}


def _span(msb: int, lsb: int) -> int:
    return ((1 << (msb + 1)) - 1) & ~((1 << lsb) - 1) if msb >= lsb else 0


def _d128_res0(stage: int, granule_shift: int) -> int:
    """The bits RES0 in every VMSAv9-128 table, block and page descriptor of ``stage`` whatever the
    controls, Security state and translation regime (ARM Tables D8-56..D8-59): [126:125], [120:119],
    [108:101], [90:56], the address bits below the granule ([15:12] or [13:12]) and [1]; at stage 2
    also [113:112]."""
    res0 = _span(126, 125) | _span(120, 119) | _span(108, 101) | _span(90, 56) | _span(granule_shift - 1, 12) | 0b10
    return res0 | (_span(113, 112) if stage == 2 else 0)


def d128_table_res0_mask(stage: int, granule_shift: int) -> int:
    """The bits of a VMSAv9-128 table descriptor that are RES0 (:func:`_d128_res0`).  Bits whose
    RES0-ness depends on what pgwalk does not model or check here are never counted: [127] (NSTable in
    Secure state), [124:121] (IGNORED with overlays), [114] (FEAT_THE), [11] (Root state) and [6] (nT
    unless SKL = 0)."""
    return _d128_res0(stage, granule_shift)


def d128_leaf_res0_masks(stage: int, leaf_shift: int, granule_shift: int, block: bool) -> tuple[int, int]:
    """``(res0, misalign)`` of a VMSAv9-128 block or page descriptor: the RES0 bits (:func:`_d128_res0`,
    and [6] of a page, whose SKL is 0: not nT), and (blocks only) the output-address bits below the block
    size, which ASL ``AArch64.S1LeafBase``/``S2LeafBase`` align away (ignored; the tables do not call them
    RES0 as VMSAv8-64's do).  Not counted: [127] (NS in Secure or Realm state), [124:121] (POIndex with
    overlays), [114] (FEAT_THE), [112] (IGNORED at stage 1) and [5] (IGNORED without FEAT_AIE)."""
    res0 = _d128_res0(stage, granule_shift) | (0 if block else D128_NT.mask)
    return res0, _span(leaf_shift - 1, granule_shift) if block else 0


def join128(low: int, high: int) -> int:
    """A VMSAv9-128 descriptor from its two 64-bit words: ``low`` is bits [63:0], ``high`` bits [127:64]
    (which word lies first in memory is the reader's business: ASL ``FetchDescriptor``)."""
    return low | high << 64


def _d128_address(lsb: int, table: bool) -> Field:
    name = "NLTA" if table else "OA"
    return Field(name, D128_ADDR_TOP, lsb, f"{'next-level table' if table else 'output'} address [55:{lsb}]")


@lru_cache(maxsize=None)
def d128_table_layout(stage: int, granule_shift: int) -> Layout:
    """A VMSAv9-128 table descriptor (ARM Tables D8-56, D8-57)."""
    rows = [VALID, D128_NT, D128_AF, _d128_address(granule_shift, True), D128_SW, D128_SKL]
    if stage == 1:
        rows += [D128_DISCH, D128_PROTECTED]
    return Layout(f"S{stage} table descriptor (128-bit)", tuple(rows), width=128)


@lru_cache(maxsize=None)
def d128_leaf_layout(stage: int, leaf_shift: int, block: bool, aie: bool = False) -> Layout:
    """A VMSAv9-128 block or page descriptor (ARM Tables D8-58, D8-59); ``aie``: desc[5] is
    AttrIndx[3] (stage 1, FEAT_AIE)."""
    rows = [VALID, _d128_address(leaf_shift, False)]
    if block:
        rows.append(D128_NT)
    if stage == 1 and aie:
        rows.append(D128_ATTRINDX_3)
    rows += list((D128_S1_LEAF if stage == 1 else D128_S2_LEAF).values())
    kind = "block" if block else "page"
    return Layout(f"S{stage} {kind} descriptor (128-bit)", tuple(rows), width=128)
