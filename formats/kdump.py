"""makedumpfile's kdump-compressed ("diskdump") and flattened layouts.

The structures in makedumpfile's ``diskdump_mod.h`` and ``makedumpfile.h`` (also
written by QEMU's ``dump-guest-memory -z/-l/-s`` and ``kdump-zlib``/``-lzo``/``-snappy``/
``-zstd``), stated once each as rows of fields with their names
(:class:`pgwalk.formats.rows.RowLayout`):

* the flattened format: a 4096-byte :data:`MakedumpfileHeader`
  (``"makedumpfile"``, type, version) followed by records, each a
  :data:`FlatDataHeader` (``offset``, ``buf_size``, big-endian) and
  ``buf_size`` bytes that belong at ``offset`` of the plain file; a record
  with both fields -1 ends the stream;
* the plain file: block 0 holds ``struct disk_dump_header`` (signature
  ``"KDUMP   "``), block 1 starts ``struct kdump_sub_header``
  (``sub_hdr_size`` blocks), then ``bitmap_blocks`` blocks of two bitmaps of
  equal size (1st: pages present, 2nd: pages dumped; bit ``pfn % 8`` of byte
  ``pfn // 8``), then one ``page_desc_t`` per dumped page in PFN order, then
  the page data;
* the arm64 ``NT_PRSTATUS`` note descriptor (``struct elf_prstatus``), which
  ELF cores and the notes of a kdump file carry.

The diskdump structures depend on the writer's byte order, so they are made by
:func:`kdump_structs`.  Like :mod:`pgwalk.formats.elf`, this module reads every
structure with the ``struct`` module and imports construct only to write one
(``RowLayout.build``): opening a dump never imports it, and opening a raw
image asks :func:`kdump_kind` of its first bytes, which needs nothing.  No policy
lives here: see :mod:`pgwalk.kdump`.
"""

from __future__ import annotations

from functools import lru_cache

from ..records import named_tuple
from .rows import RowLayout

__all__ = [
    "MDF_SIGNATURE", "MDF_HEADER_SIZE", "MDF_TYPE_FLAT_HEADER", "MDF_VERSION_FLAT_HEADER",
    "MDF_END_FLAG", "MakedumpfileHeader", "FlatDataHeader", "FLAT_DATA_HEADER_SIZE",
    "KDUMP_SIGNATURE", "DISKDUMP_SIGNATURE", "SIG_LEN",
    "DUMP_DH_COMPRESSED_ZLIB", "DUMP_DH_COMPRESSED_LZO", "DUMP_DH_COMPRESSED_SNAPPY",
    "DUMP_DH_COMPRESSED_INCOMPLETE", "DUMP_DH_EXCLUDED_VMEMMAP", "DUMP_DH_COMPRESSED_ZSTD",
    "COMPRESSION_FLAGS", "COMPRESSION_NAMES", "STATUS_NAMES",
    "NEW_UTS_LEN", "KdumpStructs", "kdump_structs", "PAGE_DESC_SIZE", "kdump_kind",
    "ARM64_REG_NAMES", "Arm64Prstatus", "ARM64_PRSTATUS_SIZE", "PRSTATUS_ROWS",
    "DISK_DUMP_HEADER_ROWS", "KDUMP_SUB_HEADER_ROWS", "PAGE_DESC_ROWS",
]

# --- the flattened format (always big-endian) ------------------------------
MDF_SIGNATURE = b"makedumpfile"
#: the makedumpfile header occupies this many bytes at the start of the file
MDF_HEADER_SIZE = 4096
MDF_TYPE_FLAT_HEADER = 1
MDF_VERSION_FLAT_HEADER = 1
#: ``offset`` and ``buf_size`` of the record that ends the stream
MDF_END_FLAG = -1



MakedumpfileHeader = RowLayout((
    ("signature", "16s"),               # "makedumpfile", NUL padded
    ("type", "q"),
    ("version", "q"),
), little_endian=False)

FlatDataHeader = RowLayout((
    ("offset", "q"),
    ("buf_size", "q"),
), little_endian=False)

FLAT_DATA_HEADER_SIZE = 16

# --- the diskdump file -------------------------------------------------------
KDUMP_SIGNATURE = b"KDUMP   "
#: the original diskdump patch's signature (a different, older layout)
DISKDUMP_SIGNATURE = b"DISKDUMP"
SIG_LEN = 8
NEW_UTS_LEN = 64

# disk_dump_header.status and page_desc.flags bits
DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8     # status only: the dump was cut short
DUMP_DH_EXCLUDED_VMEMMAP = 0x10         # status only: unused vmemmap pages excluded
DUMP_DH_COMPRESSED_ZSTD = 0x20

COMPRESSION_FLAGS = (DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO
                     | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD)
COMPRESSION_NAMES = {
    DUMP_DH_COMPRESSED_ZLIB: "zlib",
    DUMP_DH_COMPRESSED_LZO: "lzo",
    DUMP_DH_COMPRESSED_SNAPPY: "snappy",
    DUMP_DH_COMPRESSED_ZSTD: "zstd",
}
STATUS_NAMES = {
    **COMPRESSION_NAMES,
    DUMP_DH_COMPRESSED_INCOMPLETE: "incomplete",
    DUMP_DH_EXCLUDED_VMEMMAP: "excluded vmemmap",
}

#: size of ``page_desc_t`` (off_t offset, u32 size, u32 flags, u64 page_flags)
PAGE_DESC_SIZE = 24


def kdump_kind(head: bytes) -> str | None:
    """``"plain"``, ``"flat"`` or ``None`` from a file's first 16 bytes (the plain file's
    signature, or the flattened format's ``"makedumpfile"`` and NUL padding)."""
    if head[:SIG_LEN] in (KDUMP_SIGNATURE, DISKDUMP_SIGNATURE):   # (DISKDUMP: refused by name)
        return "plain"
    if head[:len(MDF_SIGNATURE)] == MDF_SIGNATURE and not any(head[len(MDF_SIGNATURE):16]):
        return "flat"
    return None


_UTSNAME_ROWS = tuple((name, f"{NEW_UTS_LEN + 1}s") for name in
                      ("sysname", "nodename", "release", "version", "machine", "domainname"))

#: ``struct disk_dump_header`` (makedumpfile's diskdump_mod.h), up to ``nr_cpus``
DISK_DUMP_HEADER_ROWS = (
    ("signature", f"{SIG_LEN}s"),
    ("header_version", "i"),
    ("utsname", _UTSNAME_ROWS),
    (None, "6x"),                       # struct timeval is 8-aligned (offset 402 -> 408)
    ("timestamp", (("tv_sec", "q"), ("tv_usec", "q"))),
    ("status", "I"),
    ("block_size", "i"),
    ("sub_hdr_size", "i"),              # in blocks
    ("bitmap_blocks", "I"),             # both bitmaps, in blocks
    ("max_mapnr", "I"),                 # 32-bit; the sub-header has the 64-bit value (v6+)
    ("total_ram_blocks", "I"),
    ("device_blocks", "I"),
    ("written_blocks", "I"),
    ("current_cpu", "I"),
    ("nr_cpus", "i"),
)

#: ``struct kdump_sub_header``
KDUMP_SUB_HEADER_ROWS = (
    ("phys_base", "Q"),
    ("dump_level", "i"),                # v1+
    ("split", "i"),                     # v2+
    ("start_pfn", "Q"),                 # v2+ (32-bit value)
    ("end_pfn", "Q"),                   # v2+ (32-bit value)
    ("offset_vmcoreinfo", "q"),         # v3+
    ("size_vmcoreinfo", "Q"),           # v3+
    ("offset_note", "q"),               # v4+
    ("size_note", "Q"),                 # v4+
    ("offset_eraseinfo", "q"),          # v5+
    ("size_eraseinfo", "Q"),            # v5+
    ("start_pfn_64", "Q"),              # v6+
    ("end_pfn_64", "Q"),                # v6+
    ("max_mapnr_64", "Q"),              # v6+
)

#: ``page_desc_t``
PAGE_DESC_ROWS = (
    ("offset", "q"),                    # of the page data in the (plain) file
    ("size", "I"),                      # bytes of page data
    ("flags", "I"),                     # DUMP_DH_COMPRESSED_*
    ("page_flags", "Q"),                # the kernel's page->flags (unused)
)


@named_tuple
class KdumpStructs:
    """The diskdump layouts for one byte order (64-bit writers only; a NamedTuple, cheap to
    define when a raw image is opened)."""

    little_endian: bool
    DiskDumpHeader: RowLayout
    KdumpSubHeader: RowLayout
    PageDesc: RowLayout

    @property
    def header_size(self) -> int:
        return self.DiskDumpHeader.sizeof()

    @property
    def sub_header_size(self) -> int:
        return self.KdumpSubHeader.sizeof()


@lru_cache(maxsize=None)
def kdump_structs(little_endian: bool = True) -> KdumpStructs:
    """``disk_dump_header``, ``kdump_sub_header`` and ``page_desc_t`` for a byte order."""
    return KdumpStructs(little_endian, RowLayout(DISK_DUMP_HEADER_ROWS, little_endian),
                        RowLayout(KDUMP_SUB_HEADER_ROWS, little_endian), RowLayout(PAGE_DESC_ROWS, little_endian))


# --- arm64 NT_PRSTATUS (struct elf_prstatus, include/uapi/linux/elfcore.h) ---
ARM64_REG_NAMES = tuple(f"x{n}" for n in range(31)) + ("sp", "pc", "pstate")

#: ``struct elf_prstatus`` on arm64 (little-endian); ``2q``: an array of two
PRSTATUS_ROWS = (
    ("si_signo", "i"), ("si_code", "i"), ("si_errno", "i"), ("pr_cursig", "h"), (None, "2x"),
    ("pr_sigpend", "Q"), ("pr_sighold", "Q"),
    ("pr_pid", "i"), ("pr_ppid", "i"), ("pr_pgrp", "i"), ("pr_sid", "i"),
    ("pr_utime", "2q"), ("pr_stime", "2q"), ("pr_cutime", "2q"), ("pr_cstime", "2q"),   # struct timeval
    ("pr_reg", f"{len(ARM64_REG_NAMES)}Q"),                                               # x0-x30, sp, pc, pstate
    ("pr_fpvalid", "i"), (None, "4x"),
)

Arm64Prstatus = RowLayout(PRSTATUS_ROWS, little_endian=True)

#: ``sizeof(struct elf_prstatus)`` on arm64 (the tests check it against both forms)
ARM64_PRSTATUS_SIZE = 392
