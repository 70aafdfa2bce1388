"""Linux arm64 awareness: the kernel's translation setup and address layout from VMCOREINFO.

:func:`registers_from_vmcoreinfo` rebuilds the architectural registers the
kernel's own stage 1 walks use (``arch/arm64/mm/proc.S`` ``__cpu_setup``):
TTBR1_EL1 on ``swapper_pg_dir`` (its physical address, ``swapper_pg_dir -
kimage_voffset``), TCR_EL1 with T1SZ/TG1 from the VA size and page size,
DS when a 4K/16K kernel runs with 52-bit VAs (FEAT_LPA2, 6.9+), TBI1 as the
kernel sets it, Linux's MAIR_EL1.  So a kernel dump translates kernel
addresses with no register file; explicit registers override key by key.

Because TTBR1 comes from ``swapper_pg_dir``, KPTI does not matter: a dump
taken in EL0 has TTBR1_EL1 on the trampoline table, but the kernel's tables
are swapper_pg_dir's.  (Explicit registers use what they say.)

:func:`kernel_layout` gives the kernel's VA ranges (linear map, kernel
image, modules, vmalloc, fixmap, PCI I/O, vmemmap, user) for the kernel
version: VMCOREINFO's own numbers where it has them (``MODULES_VADDR``,
``VMALLOC_START``, ``VMEMMAP_START`` ... since 6.0), ``memory.h`` of that
version otherwise.  :func:`vtop_linear`, :func:`ptov_linear`,
:func:`kimage_vtop` and :func:`kimage_ptov` are the kernel's (and crash's)
fixed conversions, with ``PHYS_OFFSET`` signed: with a randomised linear
map or a 52-bit kernel on 48-bit hardware it wraps below zero.

Layout history followed (``arch/arm64/include/asm/memory.h``):

* before 5.4: linear map in the upper half of the TTBR1 range
  (``PAGE_OFFSET = -(1 << (VA_BITS - 1))``), modules/vmalloc below it;
* 5.4 ("flipped"): linear map at the bottom (``PAGE_OFFSET = -(1 << VA_BITS)``,
  ``PAGE_END = -(1 << (VA_BITS_MIN - 1))``), then (BPF JIT until 5.16,)
  modules, vmalloc, fixmap, PCI I/O, vmemmap;
* 5.11: vmemmap at ``-(1 << (VA_BITS - VMEMMAP_SHIFT))``, PCI I/O 8 MiB
  and the fixmap top 32 MiB below it, vmalloc ends 256 MiB below it;
* 6.5: 2 GiB module region;
* 6.9: vmemmap ends at -1 GiB, PCI I/O above it, fixmap top at -8 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import InputError, RegisterError
from .formats import registers as R
from .vmcoreinfo import VmcoreInfo

__all__ = [
    "LayoutRange", "kernel_layout", "label_address", "registers_from_vmcoreinfo",
    "vtop_linear", "ptov_linear", "kimage_vtop", "kimage_ptov", "is_linear", "untag",
    "page_offset", "page_end", "linux_mair", "tbi1_enabled", "layout_constants",
    "DEFAULT_VERSION", "merge_registers", "vmcoreinfo_from_memory",
]

_M64 = (1 << 64) - 1
SZ_2M, SZ_8M, SZ_16M, SZ_32M = 2 << 20, 8 << 20, 16 << 20, 32 << 20
SZ_64K, SZ_128M, SZ_256M, SZ_1G, SZ_2G = 64 << 10, 128 << 20, 256 << 20, 1 << 30, 2 << 30
PCI_IO_SIZE = SZ_16M
STRUCT_PAGE_MAX_SHIFT = 6
#: the kernel version assumed when OSRELEASE is missing or unreadable
DEFAULT_VERSION = (6, 1, 0)

_TG0 = {4096: 0b00, 16384: 0b10, 65536: 0b01}
_TG1 = {4096: 0b10, 16384: 0b01, 65536: 0b11}
_IPS = {32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6}


def _neg(n: int) -> int:
    """``-n`` as an unsigned 64-bit value."""
    return (-n) & _M64


def untag(va: int) -> int:
    """``va`` with the top byte made canonical (TBI): 0xff.. if bit 55 is set, else 0x00."""
    va &= _M64
    return va | (0xFF << 56) if (va >> 55) & 1 else va & ((1 << 56) - 1)


def _version(info: VmcoreInfo) -> tuple[int, int, int]:
    return info.version or DEFAULT_VERSION


def _page_size(info: VmcoreInfo) -> int:
    ps = info.page_size
    if ps not in _TG1:
        raise RegisterError(f"VMCOREINFO PAGESIZE {ps} is not 4096, 16384 or 65536"
                            if ps else "VMCOREINFO has no PAGESIZE")
    return ps


def _va_bits(info: VmcoreInfo) -> int:
    """The configured VA_BITS (compile time)."""
    vb = info.va_bits or info.va_bits_actual
    if vb is None:
        raise RegisterError("VMCOREINFO has neither NUMBER(VA_BITS) nor NUMBER(TCR_EL1_T1SZ)")
    if not 36 <= vb <= 52:
        raise RegisterError(f"VMCOREINFO VA_BITS {vb} is outside 36..52")
    return vb


def _va_bits_actual(info: VmcoreInfo) -> int:
    vb = info.va_bits_actual or _va_bits(info)
    if not 36 <= vb <= 52:
        raise RegisterError(f"VMCOREINFO TCR_EL1_T1SZ gives {vb} VA bits, outside 36..52")
    return vb


def _va_bits_min(info: VmcoreInfo) -> int:
    vb = _va_bits(info)
    if vb > 48:
        return 47 if (info.page_size == 16384 and _version(info) >= (6, 9)) else 48
    return vb


def page_offset(info: VmcoreInfo) -> int:
    """``PAGE_OFFSET``: the start of the linear map."""
    vb = _va_bits(info)
    if _version(info) < (5, 4):
        return _neg(1 << (vb - 1))
    return _neg(1 << vb)


def page_end(info: VmcoreInfo) -> int:
    """The end (exclusive) of the linear map (``PAGE_END``; 2^64 before 5.4)."""
    if _version(info) < (5, 4):
        return 1 << 64
    return _neg(1 << (_va_bits_min(info) - 1))


def _phys_offset(info: VmcoreInfo) -> int:
    if info.phys_offset is None:
        raise InputError("VMCOREINFO has no NUMBER(PHYS_OFFSET); linear-map conversions need it")
    return info.phys_offset


def is_linear(info: VmcoreInfo, va: int) -> bool:
    """``__is_lm_address``: whether (untagged) ``va`` is in the linear map."""
    va = untag(va)
    po = page_offset(info)
    return 0 <= va - po < page_end(info) - po


def vtop_linear(info: VmcoreInfo, va: int) -> int:
    """``__lm_to_phys``: the physical address of a linear-map VA (tags ignored).

    :raises InputError: when ``va`` is not in the linear map
    """
    v = untag(va)
    if not is_linear(info, v):
        raise InputError(f"{va:#x} is not a linear-map address "
                         f"([{page_offset(info):#x}, {page_end(info) & _M64 or 1 << 64:#x}))")
    return ((v - page_offset(info)) + _phys_offset(info)) & _M64


def ptov_linear(info: VmcoreInfo, pa: int) -> int:
    """``__phys_to_virt``: the linear-map VA of ``pa``.

    :raises InputError: when ``pa`` is below PHYS_OFFSET or beyond the linear map
    """
    off = pa - _phys_offset(info)
    size = page_end(info) - page_offset(info)
    if not 0 <= off < size:
        raise InputError(f"physical address {pa:#x} is outside the linear map "
                         f"(PHYS_OFFSET {_phys_offset(info) & _M64:#x}, {size:#x} bytes)")
    return (off | page_offset(info)) & _M64


def kimage_vtop(info: VmcoreInfo, va: int) -> int:
    """``__kimg_to_phys``: ``va - kimage_voffset`` for a kernel-image VA (tags ignored).

    Kernels without ``kimage_voffset`` (before 4.6) had the image in the
    linear map; their image VAs go through :func:`vtop_linear`.
    """
    v = untag(va)
    if info.kimage_voffset is None:
        return vtop_linear(info, v)
    return (v - info.kimage_voffset) & _M64


def kimage_ptov(info: VmcoreInfo, pa: int) -> int:
    """The kernel-image VA of ``pa`` (``pa + kimage_voffset``)."""
    if info.kimage_voffset is None:
        return ptov_linear(info, pa)
    return (pa + info.kimage_voffset) & _M64


def tbi1_enabled(info: VmcoreInfo) -> bool:
    """Whether the kernel sets TCR_EL1.TBI1: with CONFIG_ARM64_MTE (5.10+, on in
    every distribution kernel) or KASAN_SW_TAGS, ``__cpu_setup`` sets TBI1|TBID1."""
    return _version(info) >= (5, 10)


def linux_mair(info: VmcoreInfo) -> int:
    """``MAIR_EL1_SET`` of the kernel version (Normal-Tagged as Normal until MTE starts)."""
    v = _version(info)
    if v >= (5, 14):      # NORMAL, NORMAL_TAGGED, NORMAL_NC, DEVICE_nGnRnE, DEVICE_nGnRE
        attrs = [0xFF, 0xFF, 0x44, 0x00, 0x04]
    elif v >= (5, 10):    # ... NORMAL_WT, DEVICE_nGnRnE, DEVICE_nGnRE, DEVICE_GRE
        attrs = [0xFF, 0xFF, 0x44, 0xBB, 0x00, 0x04, 0x0C]
    else:                 # DEVICE_nGnRnE, DEVICE_nGnRE, DEVICE_GRE, NORMAL_NC, NORMAL, NORMAL_WT
        attrs = [0x00, 0x04, 0x0C, 0x44, 0xFF, 0xBB]
    return sum(a << (8 * i) for i, a in enumerate(attrs))


def _phys_to_ttbr(pa: int, fmt52: bool) -> int:
    """``phys_to_ttbr``: PA[51:48] go to TTBR bits [5:2] in the 52-bit form."""
    if fmt52 and pa >> 48:
        return (pa | (pa >> 46)) & ((1 << 48) - 1) & ~0x3
    return pa & ((1 << 48) - 1)


def registers_from_vmcoreinfo(info: VmcoreInfo) -> dict[str, int]:
    """The registers of the kernel's stage 1 EL1&0 setup, from VMCOREINFO.

    Returns ``TCR_EL1``, ``TTBR1_EL1``, ``TTBR0_EL1`` (0: user tables are per
    process, give TTBR0_EL1 explicitly), ``MAIR_EL1`` and ``SCTLR_EL1``.
    ID registers are not implied (pgwalk then assumes the most capable PE).

    :raises RegisterError: when VMCOREINFO lacks what the setup needs
        (PAGESIZE, VA_BITS or TCR_EL1_T1SZ, SYMBOL(swapper_pg_dir))
    """
    ps = _page_size(info)
    vb = _va_bits(info)
    actual = _va_bits_actual(info)
    if info.swapper_pg_dir is None:
        raise RegisterError("VMCOREINFO has no SYMBOL(swapper_pg_dir): TTBR1_EL1 cannot be derived")
    if info.kimage_voffset is None and info.phys_offset is None:
        raise RegisterError("VMCOREINFO has neither NUMBER(kimage_voffset) nor NUMBER(PHYS_OFFSET): "
                            "the physical address of swapper_pg_dir cannot be derived")
    root = kimage_vtop(info, info.swapper_pg_dir)
    ds = actual == 52 and ps in (4096, 16384)
    fmt52 = ds or (ps == 65536 and vb == 52)
    if ps == 65536 and vb == 52 and actual < 52:
        # offset_ttbr1: a 52-bit-sized PGD walked with 48-bit VAs starts at its
        # top entries (TTBR1_BADDR_4852_OFFSET)
        pgdir_shift = 42
        root += ((1 << (52 - pgdir_shift)) - (1 << (48 - pgdir_shift))) * 8
    pa_bits = info.number("MAX_PHYSMEM_BITS") or (52 if fmt52 else 48)
    ips = next((enc for bits, enc in sorted(_IPS.items()) if bits >= pa_bits), 6)
    tbi1 = tbi1_enabled(info)
    t = R.TCR_EL1
    fields = dict(
        T0SZ=64 - actual, IRGN0=1, ORGN0=1, SH0=3, TG0=_TG0[ps],
        T1SZ=64 - actual, A1=1, IRGN1=1, ORGN1=1, SH1=3, TG1=_TG1[ps],
        IPS=ips, AS=1, TBI0=1, TBI1=int(tbi1), TBID1=int(tbi1), HA=1, HD=1, DS=int(ds),
    )
    tcr = t.encode(**fields)
    sctlr = R.SCTLR.encode(M=1, C=1, SA=1, SA0=1, I=1)
    return {
        "TCR_EL1": tcr,
        "TTBR1_EL1": _phys_to_ttbr(root, fmt52),
        "TTBR0_EL1": 0,
        "MAIR_EL1": linux_mair(info),
        "SCTLR_EL1": sctlr,
    }


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LayoutRange:
    """A kernel VA range ``[start, end)``; ``approx`` when inferred, not given."""

    name: str
    start: int
    end: int
    approx: bool = False
    note: str = ""

    def __contains__(self, va: int) -> bool:
        return self.start <= va < self.end

    @property
    def size(self) -> int:
        return self.end - self.start


def layout_constants(info: VmcoreInfo) -> dict[str, int]:
    """The ``memory.h`` constants of the kernel version, VMCOREINFO's numbers winning."""
    v = _version(info)
    vb = _va_bits(info)
    ps = _page_size(info)
    shift = ps.bit_length() - 1
    n = info.numbers
    c: dict[str, int] = {}
    po, pe = page_offset(info), page_end(info)
    c["PAGE_OFFSET"], c["PAGE_END"] = po, pe
    pud_shift = (shift - 3) * 3 + 3
    if v < (5, 4):
        va_start = _neg(1 << vb)
        vmemmap_size = 1 << (vb - shift - 1 + STRUCT_PAGE_MAX_SHIFT)
        c["MODULES_VADDR"] = va_start
        c["MODULES_END"] = va_start + SZ_128M
        c["VMALLOC_START"] = c["MODULES_END"]
        c["VMALLOC_END"] = po - (1 << pud_shift) - vmemmap_size - SZ_64K
        c["VMEMMAP_START"] = po - vmemmap_size
        c["VMEMMAP_END"] = po
        c["PCI_IO_END"] = c["VMEMMAP_START"] - SZ_2M
        c["PCI_IO_START"] = c["PCI_IO_END"] - PCI_IO_SIZE
        c["FIXADDR_TOP"] = c["PCI_IO_START"] - SZ_2M
    else:
        base = pe
        if v < (5, 16):                      # BPF JIT region before the modules
            c["BPF_JIT_START"], c["BPF_JIT_END"] = base, base + SZ_128M
            base += SZ_128M
        c["MODULES_VADDR"] = base
        c["MODULES_END"] = base + (SZ_2G if v >= (6, 5) else SZ_128M)
        c["VMALLOC_START"] = c["MODULES_END"]
        if v < (5, 11):
            vmemmap_size = 1 << (vb - shift - 1 + STRUCT_PAGE_MAX_SHIFT)
            c["VMEMMAP_START"] = _neg(vmemmap_size + SZ_2M)
            c["VMEMMAP_END"] = c["VMEMMAP_START"] + vmemmap_size
            c["PCI_IO_END"] = c["VMEMMAP_START"] - SZ_2M
            c["PCI_IO_START"] = c["PCI_IO_END"] - PCI_IO_SIZE
            c["FIXADDR_TOP"] = c["PCI_IO_START"] - SZ_2M
            c["VMALLOC_END"] = _neg((1 << pud_shift) + vmemmap_size + SZ_64K)
        else:
            vmemmap_shift = shift - STRUCT_PAGE_MAX_SHIFT
            vmemmap_size = (pe - po) >> vmemmap_shift
            if v >= (6, 9):
                c["VMEMMAP_END"] = _neg(SZ_1G)
                c["VMEMMAP_START"] = c["VMEMMAP_END"] - vmemmap_size
                c["PCI_IO_START"] = c["VMEMMAP_END"] + SZ_8M
                c["PCI_IO_END"] = c["PCI_IO_START"] + PCI_IO_SIZE
                c["FIXADDR_TOP"] = _neg(SZ_8M)
            else:
                c["VMEMMAP_START"] = _neg(1 << (vb - vmemmap_shift))
                c["VMEMMAP_END"] = c["VMEMMAP_START"] + vmemmap_size
                c["PCI_IO_END"] = c["VMEMMAP_START"] - SZ_8M
                c["PCI_IO_START"] = c["PCI_IO_END"] - PCI_IO_SIZE
                c["FIXADDR_TOP"] = c["VMEMMAP_START"] - SZ_32M
            c["VMALLOC_END"] = c["VMEMMAP_START"] - SZ_256M
    for name in ("MODULES_VADDR", "MODULES_END", "VMALLOC_START", "VMALLOC_END",
                 "VMEMMAP_START", "VMEMMAP_END"):
        if name in n:
            c[name] = n[name] & _M64
    # the kernel image: _text = KIMAGE_VADDR (+ TEXT_OFFSET before 5.8) + KASLR offset
    kimage_vaddr = c["MODULES_END"]
    text = kimage_vaddr + (0x80000 if v < (5, 8) else 0) + (info.kaslr_offset or 0)
    stext = info.symbols.get("_stext")
    if stext is not None and not 0 <= stext - text < SZ_32M:
        text = (stext & ~(SZ_64K - 1)) - SZ_64K
    c["KIMAGE_TEXT"] = text & _M64
    return c


def kernel_layout(info: VmcoreInfo) -> list[LayoutRange]:
    """The kernel's VA ranges for this kernel (see the module docstring).

    Where ranges nest (the kernel image and the KASLR module window lie in
    vmalloc space), :func:`label_address` picks the smallest.
    """
    c = layout_constants(info)
    v = _version(info)
    vb = _va_bits_actual(info)
    out: list[LayoutRange] = []
    given = set(info.numbers)

    def add(name: str, start: int, end: int, approx: bool = False, note: str = "") -> None:
        if end > start:
            out.append(LayoutRange(name, start, end, approx, note))

    add("user", 0, 1 << vb, note=f"TTBR0, {vb}-bit")
    add("linear map", c["PAGE_OFFSET"], c["PAGE_END"])
    if "BPF_JIT_START" in c:
        add("BPF JIT", c["BPF_JIT_START"], c["BPF_JIT_END"], approx=True)
    add("modules", c["MODULES_VADDR"], c["MODULES_END"], approx="MODULES_VADDR" not in given)
    add("vmalloc", c["VMALLOC_START"], c["VMALLOC_END"], approx="VMALLOC_START" not in given)
    text = c["KIMAGE_TEXT"]
    # the image's end is not in VMCOREINFO: past its highest symbol, rounded up
    in_image = [a for a in info.symbols.values() if 0 <= a - text < 1 << 30]
    top = max(in_image, default=text + SZ_32M)
    end = ((top + SZ_2M) & ~(SZ_2M - 1)) + SZ_2M
    add("kernel image", text, end, approx=True, note="_text; the end is estimated")
    if info.kaslr_offset and v >= (4, 6):
        # KASLR moves module allocations into a window next to the image
        lo = max(text - SZ_2G, c["VMALLOC_START"])
        add("modules", lo, text, approx=True, note="KASLR module window")
    fix_lo = c["VMALLOC_END"] if v < (6, 9) else c["PCI_IO_END"]
    add("fixmap", fix_lo, c["FIXADDR_TOP"], approx=True, note="fixed mappings, top down")
    add("PCI I/O", c["PCI_IO_START"], c["PCI_IO_END"])
    add("vmemmap", c["VMEMMAP_START"], c["VMEMMAP_END"], approx="VMEMMAP_START" not in given)
    return out


def label_address(layout: list[LayoutRange], va: int) -> str | None:
    """The name of the smallest layout range holding ``va`` (TBI tags ignored), or ``None``."""
    v = untag(va)
    best: LayoutRange | None = None
    for r in layout:
        if r.start <= v < r.end and (best is None or r.size < best.size):
            best = r
    return best.name if best else None


def merge_registers(derived: Mapping[str, int], explicit: Mapping[str, int]) -> dict[str, int]:
    """``derived`` overridden key by key by ``explicit`` (explicit registers win)."""
    out = dict(derived)
    out.update(explicit)
    return out


def vmcoreinfo_from_memory(mem: object) -> VmcoreInfo | None:
    """The decoded VMCOREINFO of the first dump of a :class:`~pgwalk.memory.PhysicalMemory`
    that has one (ELF core or kdump file, in ``mem.elf_cores``), or ``None``."""
    from .vmcoreinfo import parse_vmcoreinfo

    for core in getattr(mem, "elf_cores", ()):
        text = getattr(core, "vmcoreinfo", None)
        if text:
            try:
                return parse_vmcoreinfo(text)
            except InputError:
                continue
    return None
