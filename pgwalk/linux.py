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

from .errors import InputError, RegisterError
from .formats import registers as R
from .memory_protocol import capability
from .records import record
from .vmcoreinfo import VmcoreInfo

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Mapping

__all__ = [
    "LayoutRange", "kernel_layout", "label_address", "label_addresses", "registers_from_vmcoreinfo",
    "vtop_linear", "ptov_linear", "kimage_vtop", "kimage_ptov", "is_linear", "untag",
    "page_offset", "page_end", "linux_mair", "tbi1_enabled", "layout_constants",
    "DEFAULT_VERSION", "merge_registers", "vmcoreinfo_from_memory", "linear_start",
    "KernelTranslator", "VtopResult", "PtovResult", "inferred_registers", "setup_notes", "kernel_image_end",
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


def untag(va):
    """``va`` with the top byte made canonical (TBI): 0xff.. if bit 55 is set, else 0x00.  An int,
    or a uint64 array (then an array)."""
    if va.__class__ is not int and hasattr(va, "dtype"):
        t = va.dtype.type
        return (va & t((1 << 56) - 1)) | ((va >> t(55)) & t(1)) * t(0xFF << 56)
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


def linear_start(info: VmcoreInfo) -> int:
    """The lowest linear-map VA of the *running* kernel.

    ``PAGE_OFFSET`` is fixed at build time (``-(1 << VA_BITS)``); a kernel
    built for 52-bit VAs that runs with fewer (no FEAT_LPA2/LVA: T1SZ in
    VMCOREINFO) cannot use the VAs below ``-(1 << vabits_actual)``: it moves
    ``memstart_addr`` instead, so the linear map starts at
    ``_PAGE_OFFSET(vabits_actual)`` and the formula still holds there.
    """
    if _version(info) < (5, 4):
        return page_offset(info)
    return max(page_offset(info), _neg(1 << _va_bits_actual(info)))


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
    """Whether (untagged) ``va`` is in the running kernel's linear map
    (``__is_lm_address`` with the bottom from :func:`linear_start`)."""
    va = untag(va)
    lo = linear_start(info)
    return 0 <= va - lo < page_end(info) - lo


def vtop_linear(info: VmcoreInfo, va: int) -> int:
    """``__lm_to_phys``: the physical address of a linear-map VA (tags ignored).

    :raises InputError: when ``va`` is not in the linear map
    """
    v = untag(va)
    if not is_linear(info, v):
        raise InputError(f"{va:#x} is not a linear-map address "
                         f"([{linear_start(info):#x}, {page_end(info) & _M64 or 1 << 64:#x}))")
    return ((v - page_offset(info)) + _phys_offset(info)) & _M64


def ptov_linear(info: VmcoreInfo, pa: int) -> int:
    """``__phys_to_virt``: the linear-map VA of ``pa``.

    :raises InputError: when ``pa`` is below PHYS_OFFSET or beyond the linear map
    """
    va = pa - _phys_offset(info) + page_offset(info)
    lo, hi = linear_start(info), page_end(info)
    if not lo <= va < hi:
        raise InputError(f"physical address {pa:#x} is outside the linear map "
                         f"(PHYS_OFFSET {_phys_offset(info) & _M64:#x}, VAs [{lo:#x}, {hi:#x}))")
    return va & _M64


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

    Returns ``TCR_EL1``, ``TTBR1_EL1``, ``MAIR_EL1`` and ``SCTLR_EL1``.
    ``TTBR0_EL1`` is absent: user tables are per process and a dump does not
    record which one was live, so it is unknown (a walk through it stops with
    :class:`~pgwalk.errors.UnknownRegister`) until given explicitly.
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
        "MAIR_EL1": linux_mair(info),
        "SCTLR_EL1": sctlr,
        **inferred_registers(info),
    }


def _runs_below_config(info: VmcoreInfo) -> bool:
    return _va_bits(info) == 52 and _va_bits_actual(info) < 52


def inferred_registers(info: VmcoreInfo) -> dict[str, int]:
    """ID registers the running kernel's choices prove, from VMCOREINFO.

    A 4KB/16KB kernel built for 52-bit VAs (FEAT_LPA2, 6.9+) that runs with
    fewer (``TCR_EL1_T1SZ``) found no FEAT_LPA2 for its granule
    (``arch/arm64/kernel/pi``: ``vabits_actual`` is 52 only with LPA2).  So
    ``ID_AA64MMFR0_EL1`` is given with TGran4/TGran16 "supported" without
    52-bit, and PARange 48 bits: the most a 4KB/16KB granule outputs without
    LPA2 (the CPU's real PARange, possibly smaller, is not recorded).
    Otherwise nothing is inferred: ``{}`` (pgwalk then says what it assumes).
    """
    if _page_size(info) in (4096, 16384) and _runs_below_config(info):
        m = R.ID_AA64MMFR0_EL1
        return {"ID_AA64MMFR0_EL1": m.encode(PARange=0b0101, TGran4=0b0000, TGran16=0b0001, TGran64=0b0000)}
    return {}


def setup_notes(info: VmcoreInfo) -> list[str]:
    """What :func:`registers_from_vmcoreinfo` inferred rather than read, said plainly."""
    notes = []
    vb, actual = _va_bits(info), _va_bits_actual(info)
    if actual < vb:
        lacks = "FEAT_LVA" if _page_size(info) == 65536 else "FEAT_LPA2"
        notes.append(f"the kernel is built for {vb}-bit VAs and runs {actual}-bit ones (TCR_EL1_T1SZ "
                     f"{64 - actual}): the CPU lacks {lacks}; the layout is the running kernel's")
    if inferred_registers(info):
        notes.append("ID_AA64MMFR0_EL1 inferred: no FEAT_LPA2 for this granule, so at most 48-bit output "
                     "addresses (PARange shown as 48 bits; the CPU's own PARange is not in VMCOREINFO)")
    pa_bits = info.number("MAX_PHYSMEM_BITS")
    notes.append("TCR_EL1.IPS inferred" + (f" from MAX_PHYSMEM_BITS ({pa_bits})" if pa_bits else "")
                 + ": the running value follows the CPU's PARange, which VMCOREINFO does not record")
    notes.append("TTBR0_EL1 is unknown (per process): give it with --reg TTBR0_EL1=VALUE for user addresses")
    return notes


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------

@record(frozen=True, slots=True)
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


def _fixmap_permanent_size(version: tuple[int, int, int], page_size: int) -> int | None:
    """``FIXADDR_SIZE`` (``__end_of_permanent_fixed_addresses`` pages), estimated.

    ``asm/fixmap.h``: FIX_HOLE, the FDT window, then about ten slots with a
    distribution config (earlycon, text poke, four APEI GHES, the KPTI
    trampoline).  The FDT window was ``MAX_FDT_SIZE + SZ_2M`` (4 MiB) until
    6.4, then ``DIV_ROUND_UP(MAX_FDT_SIZE, PAGE_SIZE) + 2`` pages.  From 6.16
    a per-CPU KVM VNCR block (NR_CPUS pages) makes the size config-dependent:
    ``None``.  Checked on 6.1/4K (1035 pages) and 6.12/16K (141 pages).
    """
    if version >= (6, 16):
        return None
    fdt = (SZ_2M + SZ_2M) // page_size if version < (6, 4) else SZ_2M // page_size + 2
    return (1 + fdt + 10) * page_size


def kernel_image_end(info: VmcoreInfo, mem: object, limit: int = SZ_128M) -> int | None:
    """``_end`` rounded up to a page, found in the dump: the first VA at or above the
    highest VMCOREINFO image symbol that ``swapper_pg_dir`` does not map (the image's
    last segment, .data and .bss, is mapped contiguously and nothing follows it but a
    vmalloc guard).  ``None`` when the tables cannot be read or give no such end
    within ``limit`` bytes.
    """
    from .params import setup_from_registers
    from .walk import translate

    text = layout_constants(info)["KIMAGE_TEXT"]
    in_image = [a for a in info.symbols.values() if 0 <= a - text < 1 << 30]
    if not in_image:
        return None
    try:
        setup = setup_from_registers(registers_from_vmcoreinfo(info))
    except (RegisterError, InputError):
        return None
    page = _page_size(info)
    va = max(in_image) & ~(page - 1)
    stop = va + limit
    while va < stop:
        t = translate(setup, mem, va)
        if t.fault is not None:
            return None if t.fault.not_in_image else va
        size = 1 << (t.size_shift or page.bit_length() - 1)
        va = (va | (size - 1)) + 1
    return None


def kernel_layout(info: VmcoreInfo, mem: object | None = None) -> list[LayoutRange]:
    """The kernel's VA ranges for this kernel (see the module docstring).

    With the dump's memory (``mem``), the kernel image ends where
    ``swapper_pg_dir`` stops mapping it (:func:`kernel_image_end`); without,
    at the page after its highest VMCOREINFO symbol (a lower bound).

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
    lm = linear_start(info)
    add("linear map", lm, c["PAGE_END"],
        note="" if lm == c["PAGE_OFFSET"] else
        f"from _PAGE_OFFSET({vb}): the kernel runs {vb}-bit VAs (PAGE_OFFSET {c['PAGE_OFFSET']:#x} is unused)")
    if "BPF_JIT_START" in c:
        add("BPF JIT", c["BPF_JIT_START"], c["BPF_JIT_END"], approx=True)
    add("modules", c["MODULES_VADDR"], c["MODULES_END"], approx="MODULES_VADDR" not in given)
    add("vmalloc", c["VMALLOC_START"], c["VMALLOC_END"], approx="VMALLOC_START" not in given)
    text = c["KIMAGE_TEXT"]
    # _end is not in VMCOREINFO: the image reaches at least the page after its
    # highest symbol there (prb, clear_seq, ... in .data/.bss); what lies beyond
    # is left unlabelled rather than guessed (it stays inside vmalloc space)
    in_image = [a for a in info.symbols.values() if 0 <= a - text < 1 << 30]
    page = _page_size(info)
    end = kernel_image_end(info, mem) if mem is not None else None
    if end is not None:
        add("kernel image", text, end, approx=True, note="_text to where swapper_pg_dir stops mapping it")
    else:
        end = ((max(in_image) + page) & ~(page - 1)) if in_image else text + page
        add("kernel image", text, end, approx=True,
            note="_text to the highest VMCOREINFO symbol; _end is not in VMCOREINFO (the image may extend further)")
    if info.kaslr_offset and v >= (4, 6):
        # KASLR moves module allocations into a window next to the image
        lo = max(text - SZ_2G, c["VMALLOC_START"])
        add("modules", lo, text, approx=True, note="KASLR module window")
    fix_floor = c["VMALLOC_END"] if v < (6, 9) else c["PCI_IO_END"]
    fix_size = _fixmap_permanent_size(v, _page_size(info))
    if fix_size is None:
        add("fixmap", fix_floor, c["FIXADDR_TOP"], approx=True,
            note="fixed mappings, top down; FIXADDR_START unknown for this version")
    else:
        add("fixmap", max(c["FIXADDR_TOP"] - fix_size, fix_floor), c["FIXADDR_TOP"], approx=True,
            note="permanent fixed mappings; FIXADDR_START estimated (not in VMCOREINFO)")
    add("PCI I/O", c["PCI_IO_START"], c["PCI_IO_END"])
    vm_lo, vm_note = c["VMEMMAP_START"], ""
    if v >= (5, 4) and lm > c["PAGE_OFFSET"]:
        # struct page for the linear map's VA: VMEMMAP_START + ((va - PAGE_OFFSET) >> PAGE_SHIFT)
        # * sizeof(struct page); below _PAGE_OFFSET(vabits_actual) there is no linear map
        shift = _page_size(info).bit_length() - 1
        vm_lo += ((lm - c["PAGE_OFFSET"]) >> shift) * info.sizes.get("page", 1 << STRUCT_PAGE_MAX_SHIFT)
        vm_note = f"the part that describes the {vb}-bit linear map (VMEMMAP_START {c['VMEMMAP_START']:#x})"
    add("vmemmap", vm_lo, c["VMEMMAP_END"], approx="VMEMMAP_START" not in given, note=vm_note)
    return out


def label_address(layout: list[LayoutRange], va: int) -> str | None:
    """The name of the smallest layout range holding ``va`` (TBI tags ignored), or ``None``."""
    v = untag(va)
    best: LayoutRange | None = None
    for r in layout:
        if r.start <= v < r.end and (best is None or r.size < best.size):
            best = r
    return best.name if best else None


#: the ends of the two halves untagged addresses lie in: [0, 2**55) and [0xff80 << 48, 2**64)
_CANONICAL_CUTS = (1 << 55, 0x1FF << 55)


def label_addresses(layout: list[LayoutRange], vas):
    """:func:`label_address` of every address of the uint64 array ``vas``: ``(codes, names)``, each
    address's label ``names[code]`` (``None``: no range).  The ranges' starts and ends (and the
    halves of the untagged address space) cut it into intervals in which every address has the
    same label: the label of each interval's first address (untagged, but for the interval
    between the halves, which no untagged address is in)."""
    import numpy as np

    cuts = sorted(({r.start for r in layout} | {r.end for r in layout} | set(_CANONICAL_CUTS)) - {0, 1 << 64})
    names = [label_address(layout, lo) for lo in [0] + cuts]
    codes = np.searchsorted(np.array(cuts, dtype=np.uint64), untag(np.asarray(vas, dtype=np.uint64)), side="right")
    return codes, names


def merge_registers(derived: Mapping[str, int], explicit: Mapping[str, int]) -> dict[str, int]:
    """``derived`` overridden key by key by ``explicit`` (explicit registers win)."""
    out = dict(derived)
    out.update(explicit)
    return out


def vmcoreinfo_from_memory(mem: object) -> VmcoreInfo | None:
    """The decoded VMCOREINFO of the first dump of a :class:`~pgwalk.memory.PhysicalMemory`
    that has one (ELF core or kdump file, in ``mem.elf_cores``), or ``None``."""
    from .vmcoreinfo import parse_vmcoreinfo

    for core in capability(mem, "elf_cores") or ():
        text = core.vmcoreinfo
        if text:
            try:
                return parse_vmcoreinfo(text)
            except InputError:
                continue
    return None


# --------------------------------------------------------------------------
# vtop / ptov: formulas where they hold, swapper_pg_dir elsewhere
# --------------------------------------------------------------------------

@record(frozen=True, slots=True, compiled_init=True)
class VtopResult:
    """What :meth:`KernelTranslator.vtop` found for one kernel VA.

    ``pa`` is set only when the kernel's own tables map the address (or, when
    those tables are not in the dump, when a formula provably holds: the
    linear map over memory the dump holds).  ``how`` says where ``pa`` came
    from: ``"linear map"`` or ``"kernel image"`` (formula, the walk of
    swapper_pg_dir agreeing), ``"swapper_pg_dir walk"`` (no formula holds
    there), ``"TTBR0_EL1 walk"`` (a user address, with TTBR0_EL1 given), or
    ``"linear map formula (tables not in the dump)"``.
    Without a PA, ``reason`` says why, plainly.
    """

    va: int
    pa: int | None
    how: str | None
    label: str | None
    reason: str = ""
    formula_pa: int | None = None
    walk: object | None = None          # the pgwalk.walk.Translation, when a walk ran

    @property
    def ok(self) -> bool:
        return self.pa is not None


@record(frozen=True, slots=True, compiled_init=True)
class PtovResult:
    """What :meth:`KernelTranslator.ptov` found for one physical address.

    ``linear``/``kimage`` are VAs whose translation through swapper_pg_dir
    gives the PA back (``*_checked``); ``reason`` says why there is none.
    """

    pa: int
    in_dump: bool
    linear: int | None = None
    kimage: int | None = None
    reason: str = ""


class KernelTranslator:
    """The kernel's VA <-> PA conversions, checked against its own tables.

    Formulas (``__lm_to_phys``, ``__kimg_to_phys``) hold only in their
    region of the *running* kernel: the linear map (from
    :func:`linear_start`) over memory that exists, and the kernel image.
    Every answer is confirmed by walking ``swapper_pg_dir`` (TTBR1_EL1 as
    :func:`registers_from_vmcoreinfo` derives it); the walk is also the
    answer everywhere else (vmalloc, modules, vmap stacks, fixmap, ...),
    as crash does for vmalloc.  User addresses need the process's
    TTBR0_EL1, which a dump does not record: they are declined.

    >>> kt = KernelTranslator(info, mem)                       # doctest: +SKIP
    >>> r = kt.vtop(0xffff800008035000); hex(r.pa), r.how      # doctest: +SKIP
    ('0x4804b000', 'swapper_pg_dir walk')
    """

    def __init__(self, info: VmcoreInfo, mem: object, registers: Mapping[str, int] | None = None) -> None:
        from .params import setup_from_registers

        self.info = info
        self.mem = mem
        self.layout = kernel_layout(info, mem)
        regs = registers_from_vmcoreinfo(info)
        if registers:
            regs = merge_registers(regs, registers)
        self.registers = regs
        self.setup = setup_from_registers(regs)
        self.pa_bits = self.setup.ranges[1].oa_bits

    def _in_dump(self, pa: int) -> bool:
        contains = capability(self.mem, "contains")
        return bool(contains(pa, 1)) if contains is not None else False

    def _formula(self, va: int) -> tuple[int | None, str | None]:
        """(PA, region) from the kernel's formula for ``va`` where one holds, else (None, None)."""
        info = self.info
        if is_linear(info, va) and info.phys_offset is not None:
            return vtop_linear(info, va), "linear map"
        if info.kimage_voffset is not None and label_address(self.layout, va) == "kernel image":
            return kimage_vtop(info, va), "kernel image"
        return None, None

    def vtop(self, va: int) -> VtopResult:
        """The PA of kernel VA ``va`` (see the class docstring); never raises for an address."""
        from .walk import translate

        va &= _M64
        p1 = self.setup.ranges[1]
        v = untag(va) if p1.tbi else va
        label = label_address(self.layout, v)
        if not (va >> 55) & 1:
            if not self.setup.ranges[0].ttbr_known:
                return VtopResult(va, None, None, label,
                                  "a user address (VA[55] = 0): it translates through the process's TTBR0_EL1, "
                                  "which the dump does not record; give it with --reg TTBR0_EL1=VALUE")
            t = translate(self.setup, self.mem, va)
            if t.fault is None:
                return VtopResult(va, t.pa, "TTBR0_EL1 walk", label, "", None, t)
            f = t.fault
            return VtopResult(va, None, None, label, f"not mapped: TTBR0_EL1 gives a {f.description}"
                              + (f" ({f.reason})" if f.reason else ""), None, t)
        formula_pa, region = self._formula(v)
        if formula_pa is not None and formula_pa >> self.pa_bits:
            formula_pa = None
        t = translate(self.setup, self.mem, va)
        if t.fault is None:
            pa = t.pa
            how = region if region is not None and formula_pa == pa else "swapper_pg_dir walk"
            reason = ""
            if formula_pa is not None and formula_pa != pa:
                reason = (f"the {region} formula gives {formula_pa:#x}; the tables map {pa:#x} "
                          "(the tables win)")
            return VtopResult(va, pa, how, label, reason, formula_pa, t)
        f = t.fault
        if f.not_in_image and region == "linear map" and formula_pa is not None and self._in_dump(formula_pa):
            return VtopResult(va, formula_pa, "linear map formula (tables not in the dump)", label,
                              f"swapper_pg_dir could not be read ({f.reason}): the formula is unchecked",
                              formula_pa, t)
        if f.not_in_image:
            why = f"swapper_pg_dir cannot be walked: a table is not in the dump ({f.reason})"
        else:
            why = f"not mapped: swapper_pg_dir gives a {f.description} ({f.reason})" if f.reason \
                else f"not mapped: swapper_pg_dir gives a {f.description}"
        if formula_pa is not None:
            why += (f"; the {region} formula would give {formula_pa:#x}, which is not in the dump"
                    if f.not_in_image else
                    f"; the {region} formula would give {formula_pa:#x}, which the kernel does not map")
        return VtopResult(va, None, None, label, why, formula_pa, t)

    def ptov(self, pa: int) -> PtovResult:
        """The linear-map and kernel-image VAs of ``pa`` that the tables confirm."""
        pa &= _M64
        if pa >> self.pa_bits:
            return PtovResult(pa, False, reason=f"beyond the {self.pa_bits}-bit physical address size")
        in_dump = self._in_dump(pa)
        if not in_dump:
            return PtovResult(pa, False, reason="not in the dump: no memory region of the dump holds it "
                                                "(not RAM, or not saved)")
        linear = kimage = None
        why = ""
        try:
            lva = ptov_linear(self.info, pa)
        except InputError as exc:
            why = str(exc)
        else:
            r = self.vtop(lva)
            if r.pa == pa:
                linear = lva
            else:
                why = f"its linear-map VA {lva:#x} does not map it ({r.reason or 'mapped elsewhere'})"
        if self.info.kimage_voffset is not None:
            kva = kimage_ptov(self.info, pa)
            if label_address(self.layout, kva) == "kernel image" and self.vtop(kva).pa == pa:
                kimage = kva
        return PtovResult(pa, True, linear, kimage, why)
