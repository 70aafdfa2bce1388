"""ELF core-file layouts (System V gABI, ELF-64 Object File Format 1.5).

construct declarations of the ELF file header, program header, section
header and note header, with the field names of the specification
(``e_ident``, ``e_phoff``, ``p_paddr``, ``n_namesz`` ...).  The layouts
depend on the byte order and the class (32/64-bit), so they are built by
:func:`elf_structs`, in the manner of pyelftools' ``ELFStructs``.

pgwalk reads 64-bit little-endian AArch64 cores (QEMU ``dump-guest-memory``,
Linux ``/proc/vmcore``); the 32-bit and big-endian layouts exist so that such
files can be recognised and refused with a clear message.  No policy lives
here: see :mod:`pgwalk.memory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import construct as c

__all__ = [
    "ELFMAG", "EI_NIDENT", "ELFCLASS32", "ELFCLASS64", "ELFDATA2LSB", "ELFDATA2MSB",
    "EV_CURRENT", "ET_NONE", "ET_REL", "ET_EXEC", "ET_DYN", "ET_CORE",
    "PT_NULL", "PT_LOAD", "PT_DYNAMIC", "PT_INTERP", "PT_NOTE", "PN_XNUM",
    "EM_AARCH64", "EM_NAMES", "PT_NAMES", "NT_PRSTATUS", "NT_PRFPREG", "NT_FPREGSET",
    "NT_PRPSINFO", "NT_ARM_SVE", "NOTE_NAME_CORE", "NOTE_NAME_LINUX", "VMCOREINFO",
    "VMCOREINFO_NOTE_NAME", "Ident", "ElfStructs", "elf_structs", "align_up",
]

# --- e_ident --------------------------------------------------------------
ELFMAG = b"\x7fELF"
EI_NIDENT = 16
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
EV_CURRENT = 1

# --- e_type ---------------------------------------------------------------
ET_NONE = 0
ET_REL = 1
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4

# --- p_type ---------------------------------------------------------------
PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4
#: e_phnum value meaning "the real count is in sh_info of section header 0"
PN_XNUM = 0xFFFF

PT_NAMES = {PT_NULL: "PT_NULL", PT_LOAD: "PT_LOAD", PT_DYNAMIC: "PT_DYNAMIC",
            PT_INTERP: "PT_INTERP", PT_NOTE: "PT_NOTE"}

# --- e_machine ------------------------------------------------------------
EM_AARCH64 = 183
#: a few machines, for messages only
EM_NAMES = {0: "none", 3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390",
            40: "ARM (32-bit)", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch"}

# --- notes ----------------------------------------------------------------
NT_PRSTATUS = 1
NT_PRFPREG = 2
NT_FPREGSET = NT_PRFPREG          # readelf's name for the same type
NT_PRPSINFO = 3
NT_ARM_SVE = 0x405
NOTE_NAME_CORE = "CORE"
NOTE_NAME_LINUX = "LINUX"
#: name of the note carrying the kernel's VMCOREINFO text (n_type is 0)
VMCOREINFO_NOTE_NAME = "VMCOREINFO"
VMCOREINFO = VMCOREINFO_NOTE_NAME

#: e_ident: single bytes, the same for every class and byte order
Ident = c.Struct(
    "EI_MAG" / c.Const(ELFMAG),
    "EI_CLASS" / c.Int8ul,
    "EI_DATA" / c.Int8ul,
    "EI_VERSION" / c.Int8ul,
    "EI_OSABI" / c.Int8ul,
    "EI_ABIVERSION" / c.Int8ul,
    "EI_PAD" / c.Padding(7),
)


def align_up(value: int, alignment: int) -> int:
    """Round ``value`` up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & ~(alignment - 1)


@dataclass(frozen=True)
class ElfStructs:
    """The ELF layouts for one byte order and class.

    ``Ehdr``, ``Phdr``, ``Shdr`` and ``Nhdr`` are construct ``Struct`` s; the
    ``*_size`` attributes are their sizes in bytes.
    """

    little_endian: bool
    elfclass: int
    Ehdr: c.Construct
    Phdr: c.Construct
    Shdr: c.Construct
    Nhdr: c.Construct

    @property
    def ehdr_size(self) -> int:
        return self.Ehdr.sizeof()

    @property
    def phdr_size(self) -> int:
        return self.Phdr.sizeof()

    @property
    def shdr_size(self) -> int:
        return self.Shdr.sizeof()

    @property
    def nhdr_size(self) -> int:
        return self.Nhdr.sizeof()


@lru_cache(maxsize=None)
def elf_structs(little_endian: bool, elfclass: int) -> ElfStructs:
    """Build the ELF layouts for a byte order and ``ELFCLASS32``/``ELFCLASS64``."""
    if elfclass not in (ELFCLASS32, ELFCLASS64):
        raise ValueError(f"unknown ELF class {elfclass}")
    half = c.Int16ul if little_endian else c.Int16ub
    word = c.Int32ul if little_endian else c.Int32ub
    xword = c.Int64ul if little_endian else c.Int64ub
    wide = xword if elfclass == ELFCLASS64 else word    # Addr, Off and Xword-sized fields

    ehdr = c.Struct(
        "e_ident" / Ident,
        "e_type" / half,
        "e_machine" / half,
        "e_version" / word,
        "e_entry" / wide,
        "e_phoff" / wide,
        "e_shoff" / wide,
        "e_flags" / word,
        "e_ehsize" / half,
        "e_phentsize" / half,
        "e_phnum" / half,
        "e_shentsize" / half,
        "e_shnum" / half,
        "e_shstrndx" / half,
    )
    if elfclass == ELFCLASS64:
        phdr = c.Struct(
            "p_type" / word,
            "p_flags" / word,
            "p_offset" / xword,
            "p_vaddr" / xword,
            "p_paddr" / xword,
            "p_filesz" / xword,
            "p_memsz" / xword,
            "p_align" / xword,
        )
    else:
        phdr = c.Struct(
            "p_type" / word,
            "p_offset" / word,
            "p_vaddr" / word,
            "p_paddr" / word,
            "p_filesz" / word,
            "p_memsz" / word,
            "p_flags" / word,
            "p_align" / word,
        )
    shdr = c.Struct(
        "sh_name" / word,
        "sh_type" / word,
        "sh_flags" / wide,
        "sh_addr" / wide,
        "sh_offset" / wide,
        "sh_size" / wide,
        "sh_link" / word,
        "sh_info" / word,
        "sh_addralign" / wide,
        "sh_entsize" / wide,
    )
    nhdr = c.Struct(
        "n_namesz" / word,
        "n_descsz" / word,
        "n_type" / word,
    )
    return ElfStructs(little_endian, elfclass, ehdr, phdr, shdr, nhdr)
