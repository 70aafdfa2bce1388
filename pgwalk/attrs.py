"""Memory attributes: MAIR and stage 2 MemAttr decoding, combining, PAR encoding.

Follows the ASL (DDI 0487 M.a.a): ``S1DecodeMemAttrs``, ``S2DecodeMemAttrs``,
``AArch64.S2ApplyFWBMemAttrs``, ``S2CombineS1MemAttrs``,
``S2CombineS1AttrHints``, ``S2CombineS1Device``, ``S2CombineS1Shareability``,
``EffectiveShareability``, ``EncodePARAttrs`` and ``PAREncodeShareability``.
"""

from __future__ import annotations

from functools import lru_cache

from .records import record, replace

__all__ = [
    "Cacheability", "MemAttrs", "s1_decode_mem_attrs", "s2_decode_mem_attrs", "s2_apply_fwb",
    "s2_combine_s1", "effective_shareability", "encode_par_attrs", "par_shareability",
    "NORMAL_WB", "DEVICE_nGnRnE", "NORMAL_NC", "SH_NAMES", "mair_attr",
]

NC, WT, WB = "NC", "WT", "WB"
NSH, OSH, ISH = "NSH", "OSH", "ISH"
SH_NAMES = {0b00: NSH, 0b01: "reserved", 0b10: OSH, 0b11: ISH}
_SH_DECODE = {0b00: NSH, 0b01: OSH, 0b10: OSH, 0b11: ISH}   # 01 reserved: CONSTRAINED UNPREDICTABLE, taken as OSH
DEVICE_TYPES = ("nGnRnE", "nGnRE", "nGRE", "GRE")


@record(frozen=True, slots=True, compiled_init=True)
class Cacheability:
    """One level (inner or outer) of Normal memory cacheability (ASL ``MemAttrHints``)."""

    attrs: str                 # NC, WT or WB
    hints: int = 0             # 2-bit R:W allocation hints
    transient: bool = False

    def __str__(self) -> str:
        if self.attrs == NC:
            return "Non-cacheable"
        name = "Write-Back" if self.attrs == WB else "Write-Through"
        alloc = "".join(x for x, b in (("R", 2), ("W", 1)) if self.hints & b)
        return f"{name}{' transient' if self.transient else ''}{' ' + alloc + 'A' if alloc else ' no-alloc'}"


@record(frozen=True, slots=True, compiled_init=True)
class MemAttrs:
    """Resolved memory attributes (ASL ``MemoryAttributes``)."""

    memtype: str                          # "Device" or "Normal"
    device: str | None = None             # nGnRnE, nGnRE, nGRE, GRE
    inner: Cacheability | None = None
    outer: Cacheability | None = None
    shareability: str = NSH
    xs: bool = True
    tagged: bool = False
    raw: int | None = None                # the MAIR byte or S2 MemAttr it came from
    unpredictable: str = ""               # why the encoding was not architecturally defined

    @property
    def is_device(self) -> bool:
        return self.memtype == "Device"

    def describe(self) -> str:
        if self.is_device:
            s = f"Device-{self.device}"
        elif self.inner == self.outer:
            s = f"Normal {self.inner}"
        else:
            s = f"Normal inner {self.inner}, outer {self.outer}"
        if self.tagged:
            s += " (tagged)"
        return s


NORMAL_WB = MemAttrs("Normal", inner=Cacheability(WB, 0b11), outer=Cacheability(WB, 0b11), xs=False)
NORMAL_NC = MemAttrs("Normal", inner=Cacheability(NC), outer=Cacheability(NC), shareability=OSH)
DEVICE_nGnRnE = MemAttrs("Device", device="nGnRnE", shareability=OSH)


def _decode_ldf_attr(nibble: int) -> Cacheability:
    """ASL ``DecodeLDFAttr``: one MAIR nibble of Normal memory."""
    rw = nibble & 0b11
    top = nibble >> 2
    if nibble == 0b0100:
        return Cacheability(NC)
    if top == 0b00:
        return Cacheability(WT, rw, True)
    if top == 0b01:
        return Cacheability(WB, rw, True)
    if top == 0b10:
        return Cacheability(WT, rw, False)
    return Cacheability(WB, rw, False)


def mair_attr(index: int, mair: int | None, mair2: int | None) -> int | None:
    """ASL ``MAIRAttr``: the attribute byte AttrIndx ``index`` selects: ``MAIR_ELx.Attr<index>``
    for 0..7, ``MAIR2_ELx.Attr<index - 8>`` for 8..15 (FEAT_AIE, :func:`pgwalk.rules.s1_attr_index`).
    ``None`` when the register it selects was not given: the attributes are unknown, not guessed."""
    reg = mair if index < 8 else mair2
    if reg is None:
        return None
    return (reg >> (8 * (index & 7))) & 0xFF


@lru_cache(maxsize=4096)
def s1_decode_mem_attrs(attr: int, sh: int) -> MemAttrs:
    """ASL ``S1DecodeMemAttrs``: a MAIR attribute byte and SH field.

    >>> s1_decode_mem_attrs(0xff, 0b11).describe()
    'Normal Write-Back RWA'
    """
    attr &= 0xFF
    share = _SH_DECODE[sh]
    if attr >> 4 == 0:
        dev = DEVICE_TYPES[(attr >> 2) & 3]
        cu = "MAIR Device encoding with bit 1 set is UNPREDICTABLE" if attr & 0b10 else ""
        return MemAttrs("Device", device=dev, shareability=share, xs=not (attr & 1), raw=attr, unpredictable=cu)
    if attr == 0x40:
        return MemAttrs("Normal", inner=Cacheability(NC), outer=Cacheability(NC), shareability=share, xs=False, raw=attr)
    if attr == 0xA0:
        c = Cacheability(WT, 0b10, False)
        return MemAttrs("Normal", inner=c, outer=c, shareability=share, xs=False, raw=attr)
    if attr == 0xF0:
        c = Cacheability(WB, 0b11, False)
        return MemAttrs("Normal", inner=c, outer=c, shareability=share, xs=False, tagged=True, raw=attr)
    outer, inner = _decode_ldf_attr(attr >> 4), _decode_ldf_attr(attr & 0xF)
    cu = "MAIR Normal encoding with inner 0b0000 is UNPREDICTABLE" if attr & 0xF == 0 else ""
    xs = not (inner.attrs == WB and outer.attrs == WB)
    return MemAttrs("Normal", inner=inner, outer=outer, shareability=share, xs=xs, raw=attr, unpredictable=cu)


def _s2_cacheability(bits: int) -> Cacheability:
    """ASL ``S2DecodeCacheability``: stage 2 assigns no allocation hints."""
    return Cacheability({0b01: NC, 0b10: WT, 0b11: WB}.get(bits, NC))


@lru_cache(maxsize=1024)
def s2_decode_mem_attrs(memattr: int, sh: int) -> MemAttrs:
    """ASL ``S2DecodeMemAttrs`` (FWB = 0): stage 2 MemAttr[3:0]."""
    share = _SH_DECODE[sh]
    if memattr >> 2 == 0:
        return MemAttrs("Device", device=DEVICE_TYPES[memattr & 3], shareability=share, raw=memattr)
    cu = ""
    if memattr & 0b11 == 0 or memattr == 0b0100:
        cu = f"stage 2 MemAttr {memattr:#06b} is reserved"
    return MemAttrs("Normal", inner=_s2_cacheability(memattr & 3), outer=_s2_cacheability(memattr >> 2),
                    shareability=share, raw=memattr, unpredictable=cu)


def s2_combine_s1_device(d1: str, d2: str) -> str:
    """ASL ``S2CombineS1Device``: the more restrictive Device type."""
    return DEVICE_TYPES[min(DEVICE_TYPES.index(d1), DEVICE_TYPES.index(d2))]


def _combine_hints(s1: Cacheability, s2: Cacheability) -> Cacheability:
    """ASL ``S2CombineS1AttrHints``: cacheability from both stages, hints from stage 1."""
    if NC in (s1.attrs, s2.attrs):
        return Cacheability(NC)
    attrs = WT if WT in (s1.attrs, s2.attrs) else WB
    return Cacheability(attrs, s1.hints, s1.transient)


def _combine_shareability(a: str, b: str) -> str:
    """ASL ``S2CombineS1Shareability``."""
    if OSH in (a, b):
        return OSH
    if ISH in (a, b):
        return ISH
    return NSH


def effective_shareability(m: MemAttrs) -> MemAttrs:
    """ASL ``EffectiveShareability``: Device and Normal iNC/oNC are Outer Shareable."""
    if m.is_device or (m.inner.attrs == NC and m.outer.attrs == NC):
        return replace(m, shareability=OSH)
    return m


def s2_combine_s1(s1: MemAttrs, s2: MemAttrs) -> MemAttrs:
    """ASL ``S2CombineS1MemAttrs`` (FWB = 0)."""
    if s1.is_device and s2.is_device:
        m = MemAttrs("Device", device=s2_combine_s1_device(s1.device, s2.device), xs=s1.xs and s2.xs)
    elif s1.is_device:
        m = replace(s1, raw=None)
    elif s2.is_device:
        m = replace(s2, raw=None)
    else:
        inner, outer = _combine_hints(s1.inner, s2.inner), _combine_hints(s1.outer, s2.outer)
        xs = False if (inner.attrs == WB and outer.attrs == WB) else (s1.xs and s2.xs)
        m = MemAttrs("Normal", inner=inner, outer=outer, xs=xs, tagged=s1.tagged)
    m = replace(m, shareability=_combine_shareability(s1.shareability, s2.shareability), raw=None,
                unpredictable=s1.unpredictable or s2.unpredictable)
    return effective_shareability(m)


def s2_apply_fwb(s1: MemAttrs, memattr: int, sh: int, fnxs: bool) -> MemAttrs:
    """ASL ``AArch64.S2ApplyFWBMemAttrs`` (HCR_EL2.FWB = 1)."""
    if not memattr & 0b100:
        dev2 = DEVICE_TYPES[memattr & 3]
        dev = s2_combine_s1_device(s1.device, dev2) if s1.is_device else dev2
        m = MemAttrs("Device", device=dev, xs=s1.xs)
    elif memattr & 0b11 == 0b11:
        m = s1
    elif memattr & 0b11 == 0b10:
        def forced(c: Cacheability | None) -> Cacheability:
            if not s1.is_device and c is not None and c.attrs != NC:
                return Cacheability(WB, c.hints, c.transient)
            return Cacheability(WB, 0b11, False)
        m = MemAttrs("Normal", inner=forced(s1.inner), outer=forced(s1.outer), xs=False, tagged=s1.tagged)
    else:
        m = s1 if s1.is_device else MemAttrs("Normal", inner=Cacheability(NC), outer=Cacheability(NC), xs=s1.xs)
    m = replace(m, shareability=_combine_shareability(s1.shareability, _SH_DECODE[sh]), raw=None)
    if fnxs:
        m = replace(m, xs=False)
    return effective_shareability(m)


def _encode_nibble(c: Cacheability) -> int:
    if c.attrs == WT:
        return ((0b00 if c.transient else 0b10) << 2) | c.hints
    if c.attrs == WB:
        return ((0b01 if c.transient else 0b11) << 2) | c.hints
    return 0b0100


def encode_par_attrs(m: MemAttrs, feat_xs: bool = False) -> int:
    """ASL ``EncodePARAttrs``: the PAR_EL1.ATTR byte.

    Without FEAT_XS there is no XS attribute: every result encodes as XS = 1
    (no 0b0000dd01, 0x40 or 0xA0 codes).

    >>> hex(encode_par_attrs(s1_decode_mem_attrs(0x04, 0)))
    '0x4'
    """
    xs = m.xs or not feat_xs
    if m.tagged:
        return 0xF0
    if m.is_device:
        return (DEVICE_TYPES.index(m.device) << 2) | (0 if xs else 1)
    if not xs:
        if m.outer.attrs == WT and m.inner.attrs == WT and not m.outer.transient and m.outer.hints == 0b10:
            return 0xA0
        if m.outer.attrs == NC and m.inner.attrs == NC:
            return 0x40
    return (_encode_nibble(m.outer) << 4) | _encode_nibble(m.inner)


def par_shareability(m: MemAttrs) -> int:
    """ASL ``PAREncodeShareability``: 0b10 for Device and Normal iNC/oNC."""
    if m.is_device or (m.inner.attrs == NC and m.outer.attrs == NC):
        return 0b10
    return {NSH: 0b00, ISH: 0b11, OSH: 0b10}[m.shareability]
