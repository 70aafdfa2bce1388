"""ELF core-file layouts (System V gABI, ELF-64 Object File Format 1.5).

The ELF file header, program header, section header and note header are
declared once, as rows of (field name, kind) with the specification's names
(``e_ident``, ``e_phoff``, ``p_paddr``, ``n_namesz`` ...).  Two forms are
derived from the rows (:class:`pgwalk.formats.rows.RowLayout`): construct ``Struct`` s
(built on first use, for building files and for the tests) and ``struct``-module
parsers, which the readers use so that opening a dump does not pay for importing
construct.  The layouts
depend on the byte order and the class (32/64-bit), so they are built by
:func:`elf_structs`, in the manner of pyelftools' ``ELFStructs``.

pgwalk reads 64-bit little-endian AArch64 cores (QEMU ``dump-guest-memory``,
Linux ``/proc/vmcore``); the 32-bit and big-endian layouts exist so that such
files can be recognised and refused with a clear message.  No policy lives
here: see :mod:`pgwalk.memory`.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from types import SimpleNamespace

from pgwalk.records import record

from .rows import RowLayout

__all__ = [
    "ELFMAG", "EI_NIDENT", "ELFCLASS32", "ELFCLASS64", "ELFDATA2LSB", "ELFDATA2MSB",
    "EV_CURRENT", "ET_NONE", "ET_REL", "ET_EXEC", "ET_DYN", "ET_CORE",
    "PT_NULL", "PT_LOAD", "PT_DYNAMIC", "PT_INTERP", "PT_NOTE", "PN_XNUM",
    "EM_AARCH64", "EM_NAMES", "PT_NAMES", "NT_PRSTATUS", "NT_PRFPREG", "NT_FPREGSET",
    "NT_PRPSINFO", "NT_ARM_SVE", "NOTE_NAME_CORE", "NOTE_NAME_LINUX", "VMCOREINFO",
    "VMCOREINFO_NOTE_NAME", "Ident", "ElfStructs", "elf_structs", "align_up", "parse_ident",
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

#: e_ident: single bytes, the same for every class and byte order (:class:`RowLayout` rows)
IDENT_ROWS = (("EI_MAG", "4s", ELFMAG), ("EI_CLASS", "B"), ("EI_DATA", "B"), ("EI_VERSION", "B"),
              ("EI_OSABI", "B"), ("EI_ABIVERSION", "B"), (None, "7x"))

# Field kinds: half = Elf_Half (16 bits), word = Elf_Word (32), xword = Elf64_Xword (64),
# wide = Addr/Off/Xword-sized (64 bits in ELF64, 32 in ELF32).
EHDR_ROWS = (("e_ident", "ident"), ("e_type", "half"), ("e_machine", "half"), ("e_version", "word"),
             ("e_entry", "wide"), ("e_phoff", "wide"), ("e_shoff", "wide"), ("e_flags", "word"),
             ("e_ehsize", "half"), ("e_phentsize", "half"), ("e_phnum", "half"), ("e_shentsize", "half"),
             ("e_shnum", "half"), ("e_shstrndx", "half"))
#: the field order really differs between the classes (as in pyelftools)
PHDR64_ROWS = (("p_type", "word"), ("p_flags", "word"), ("p_offset", "xword"), ("p_vaddr", "xword"),
               ("p_paddr", "xword"), ("p_filesz", "xword"), ("p_memsz", "xword"), ("p_align", "xword"))
PHDR32_ROWS = (("p_type", "word"), ("p_offset", "word"), ("p_vaddr", "word"), ("p_paddr", "word"),
               ("p_filesz", "word"), ("p_memsz", "word"), ("p_flags", "word"), ("p_align", "word"))
SHDR_ROWS = (("sh_name", "word"), ("sh_type", "word"), ("sh_flags", "wide"), ("sh_addr", "wide"),
             ("sh_offset", "wide"), ("sh_size", "wide"), ("sh_link", "word"), ("sh_info", "word"),
             ("sh_addralign", "wide"), ("sh_entsize", "wide"))
NHDR_ROWS = (("n_namesz", "word"), ("n_descsz", "word"), ("n_type", "word"))

_IDENT = RowLayout(IDENT_ROWS, little_endian=True)


def parse_ident(data: bytes) -> SimpleNamespace:
    """``e_ident`` (16 bytes) as a namespace of the IDENT_ROWS fields (EI_PAD dropped)."""
    return _IDENT.parse(data)


def __getattr__(name: str):
    if name == "Ident":                 # (construct's form, made on first use)
        return _IDENT.construct
    raise AttributeError(name)


def align_up(value: int, alignment: int) -> int:
    """Round ``value`` up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & ~(alignment - 1)


#: the struct code of each field kind (``wide``: by the class, :func:`_code_rows`)
_KIND_CODES = {"half": "H", "word": "I", "xword": "Q", "ident": IDENT_ROWS}


def _code_rows(rows: tuple, elfclass: int) -> tuple:
    """``rows`` of (name, kind) as :class:`RowLayout` rows for ``elfclass``."""
    wide = "Q" if elfclass == ELFCLASS64 else "I"
    return tuple((name, wide if kind == "wide" else _KIND_CODES[kind]) for name, kind in rows)


@record(frozen=True)
class ElfStructs:
    """The ELF layouts for one byte order and class.

    ``Ehdr``, ``Phdr``, ``Shdr`` and ``Nhdr`` are construct ``Struct`` s (built on
    first use); ``parse_ehdr`` ... ``parse_nhdr`` read the same layouts with the
    ``struct`` module into namespaces with the same field names; the ``*_size``
    attributes are the sizes in bytes.
    """

    little_endian: bool
    elfclass: int

    @property
    def _phdr_rows(self):
        return PHDR64_ROWS if self.elfclass == ELFCLASS64 else PHDR32_ROWS

    @cached_property
    def _layouts(self) -> dict[str, RowLayout]:
        return {name: RowLayout(_code_rows(rows, self.elfclass), self.little_endian) for name, rows in
                (("Ehdr", EHDR_ROWS), ("Phdr", self._phdr_rows), ("Shdr", SHDR_ROWS), ("Nhdr", NHDR_ROWS))}

    @property
    def Ehdr(self):
        return self._layouts["Ehdr"].construct

    @property
    def Phdr(self):
        return self._layouts["Phdr"].construct

    @property
    def Shdr(self):
        return self._layouts["Shdr"].construct

    @property
    def Nhdr(self):
        return self._layouts["Nhdr"].construct

    def parse_ehdr(self, data: bytes) -> SimpleNamespace:
        return self._layouts["Ehdr"].parse(data)

    def parse_phdr(self, data: bytes) -> SimpleNamespace:
        return self._layouts["Phdr"].parse(data)

    def parse_shdr(self, data: bytes) -> SimpleNamespace:
        return self._layouts["Shdr"].parse(data)

    def parse_nhdr(self, data: bytes) -> SimpleNamespace:
        return self._layouts["Nhdr"].parse(data)

    @property
    def ehdr_size(self) -> int:
        return self._layouts["Ehdr"].sizeof()

    @property
    def phdr_size(self) -> int:
        return self._layouts["Phdr"].sizeof()

    @property
    def shdr_size(self) -> int:
        return self._layouts["Shdr"].sizeof()

    @property
    def nhdr_size(self) -> int:
        return self._layouts["Nhdr"].sizeof()


@lru_cache(maxsize=None)
def elf_structs(little_endian: bool, elfclass: int) -> ElfStructs:
    """The ELF layouts for a byte order and ``ELFCLASS32``/``ELFCLASS64``."""
    if elfclass not in (ELFCLASS32, ELFCLASS64):
        raise ValueError(f"unknown ELF class {elfclass}")
    return ElfStructs(little_endian, elfclass)
