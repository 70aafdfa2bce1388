"""The kernel's VMCOREINFO text (``kernel/vmcore_info.c``, ``arch/arm64/kernel/vmcore_info.c``).

One ``KEY=VALUE`` a line.  The kernel prints each kind its own way, and
:func:`parse_vmcoreinfo` reads them the same way:

=======================  ==========================================
``OSRELEASE=``            text
``PAGESIZE=``             decimal
``SYMBOL(name)=``         hex without ``0x`` (``%lx``)
``SIZE/OFFSET/LENGTH()``  decimal (``%lu``/``%ld``)
``NUMBER(name)=``         decimal (``%ld``, may be negative); arm64's own
                          numbers (``kimage_voffset``, ``PHYS_OFFSET``,
                          ``TCR_EL1_T1SZ``, ...) are ``0x%llx`` hex
``KERNELOFFSET=``         hex without ``0x``
``CRASHTIME=``            decimal
=======================  ==========================================

``NUMBER(PHYS_OFFSET)`` is ``memstart_addr``, a *signed* 64-bit value
printed as unsigned hex: with a randomised linear map or a 52-bit VA kernel
on 48-bit hardware it wraps below zero.  :attr:`VmcoreInfo.phys_offset`
keeps the signed value.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import InputError
from .records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__all__ = ["VmcoreInfo", "parse_vmcoreinfo", "kernel_version"]

_MASK64 = (1 << 64) - 1
_LINE = re.compile(r"^(?P<kind>[A-Z_-]+)(?:\((?P<name>[^)]*)\))?=(?P<value>.*)$")


def _signed64(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


@lru_cache(maxsize=64)
def kernel_version(release: str | None) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` from a release string such as ``6.1.0-56-arm64`` (remembered:
    the Linux layout formulas ask for it several times per address)."""
    if not release:
        return None
    m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _int_auto(text: str) -> int:
    """``0x`` hex, else decimal (signed)."""
    t = text.strip()
    neg = t.startswith("-")
    body = t[1:] if neg else t
    v = int(body, 16) if body[:2].lower() == "0x" else int(body, 10)
    return -v if neg else v


@record
class VmcoreInfo:
    """VMCOREINFO, decoded.  Missing items are ``None``.

    :ivar va_bits: ``NUMBER(VA_BITS)``: the kernel's configured VA size
    :ivar tcr_el1_t1sz: ``NUMBER(TCR_EL1_T1SZ)``: T1SZ as running (gives
        :attr:`va_bits_actual`)
    :ivar phys_offset: ``NUMBER(PHYS_OFFSET)`` as a signed 64-bit value
    :ivar kimage_voffset: ``NUMBER(kimage_voffset)``: image VA - PA
    :ivar kaslr_offset: ``KERNELOFFSET``
    :ivar swapper_pg_dir: ``SYMBOL(swapper_pg_dir)`` (a VA in the image)
    """

    text: str = ""
    osrelease: str | None = None
    build_id: str | None = None
    page_size: int | None = None
    va_bits: int | None = None
    tcr_el1_t1sz: int | None = None
    kimage_voffset: int | None = None
    phys_offset: int | None = None
    kaslr_offset: int | None = None
    kernel_pac_mask: int | None = None
    swapper_pg_dir: int | None = None
    crashtime: int | None = None
    symbols: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    #: every other KEY=VALUE (text as given)
    other: dict[str, str] = field(default_factory=dict)
    #: lines that could not be read
    bad_lines: list[str] = field(default_factory=list)

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The kernel version from OSRELEASE."""
        return kernel_version(self.osrelease)

    @property
    def va_bits_actual(self) -> int | None:
        """The VA size in use for the kernel half (``64 - T1SZ``; else VA_BITS)."""
        if self.tcr_el1_t1sz is not None and 0 < self.tcr_el1_t1sz < 64:
            return 64 - self.tcr_el1_t1sz
        return self.va_bits

    @property
    def page_shift(self) -> int | None:
        return self.page_size.bit_length() - 1 if self.page_size else None

    def number(self, name: str, default: int | None = None) -> int | None:
        return self.numbers.get(name, default)

    def to_json(self) -> dict[str, Any]:
        def hx(v: int | None) -> str | None:
            return None if v is None else (f"{v:#x}" if v >= 0 else f"-{-v:#x}")
        return {
            "osrelease": self.osrelease, "build_id": self.build_id,
            "version": list(self.version) if self.version else None,
            "page_size": self.page_size, "va_bits": self.va_bits,
            "va_bits_actual": self.va_bits_actual, "tcr_el1_t1sz": self.tcr_el1_t1sz,
            "kimage_voffset": hx(self.kimage_voffset), "phys_offset": hx(self.phys_offset),
            "phys_offset_u64": hx(self.phys_offset & _MASK64) if self.phys_offset is not None else None,
            "kaslr_offset": hx(self.kaslr_offset), "kernel_pac_mask": hx(self.kernel_pac_mask),
            "swapper_pg_dir": hx(self.swapper_pg_dir), "crashtime": self.crashtime,
            "symbols": {k: hx(v) for k, v in self.symbols.items()},
            "numbers": {k: (hx(v) if abs(v) > 0xFFFF else v) for k, v in self.numbers.items()},
            "sizes": self.sizes, "offsets": self.offsets, "lengths": self.lengths,
            "other": self.other, "bad_lines": self.bad_lines,
        }


def parse_vmcoreinfo(text: str | bytes) -> VmcoreInfo:
    """Decode VMCOREINFO text; lines that cannot be read go to ``bad_lines``.

    :raises InputError: when the text holds no ``KEY=VALUE`` line at all
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).rstrip(b"\0").decode("ascii", "replace")
    info = VmcoreInfo(text=text)
    good = 0
    for raw in text.splitlines():
        line = raw.strip().rstrip("\0")
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            info.bad_lines.append(line)
            continue
        kind, name, value = m.group("kind"), m.group("name"), m.group("value").strip()
        try:
            if name is not None:
                if kind == "SYMBOL":
                    info.symbols[name] = int(value, 16)
                elif kind == "NUMBER":
                    info.numbers[name] = _int_auto(value)
                elif kind == "SIZE":
                    info.sizes[name] = _int_auto(value)
                elif kind == "OFFSET":
                    info.offsets[name] = _int_auto(value)
                elif kind == "LENGTH":
                    info.lengths[name] = _int_auto(value)
                else:
                    info.other[f"{kind}({name})"] = value
            elif kind == "OSRELEASE":
                info.osrelease = value
            elif kind == "BUILD-ID" or kind == "BUILD_ID":
                info.build_id = value
            elif kind == "PAGESIZE":
                info.page_size = int(value, 10)
            elif kind == "KERNELOFFSET":
                info.kaslr_offset = int(value, 16)
            elif kind == "CRASHTIME":
                info.crashtime = int(value, 10)
            else:
                info.other[kind] = value
        except ValueError:
            info.bad_lines.append(line)
            continue
        good += 1
    if not good:
        raise InputError("the VMCOREINFO text holds no KEY=VALUE line")
    n = info.numbers
    info.va_bits = n.get("VA_BITS")
    info.tcr_el1_t1sz = n.get("TCR_EL1_T1SZ")
    if "kimage_voffset" in n:
        info.kimage_voffset = n["kimage_voffset"] & _MASK64
    if "PHYS_OFFSET" in n:
        info.phys_offset = _signed64(n["PHYS_OFFSET"])
    if "KERNELPACMASK" in n:
        info.kernel_pac_mask = n["KERNELPACMASK"] & _MASK64
    info.swapper_pg_dir = info.symbols.get("swapper_pg_dir")
    return info
