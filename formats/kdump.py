"""makedumpfile's kdump-compressed ("diskdump") and flattened layouts.

construct declarations of the structures in makedumpfile's ``diskdump_mod.h``
and ``makedumpfile.h`` (also written by QEMU's ``dump-guest-memory -z/-l/-s``
and ``kdump-zlib``/``-lzo``/``-snappy``/``-zstd``), with their field names:

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

The diskdump structures depend on the writer's byte order, so they are built
by :func:`kdump_structs`.  Like :mod:`pgwalk.formats.elf`, this module imports
construct only when a structure is first used (:data:`MakedumpfileHeader`,
:data:`FlatDataHeader` and :data:`Arm64Prstatus` are built then; an ``NT_PRSTATUS`` note is
read by :func:`parse_prstatus`, with the ``struct`` module): opening a
raw image asks :func:`kdump_kind` of its first bytes, which needs none.  No
policy lives here: see :mod:`pgwalk.kdump`.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import construct as c

__all__ = [
    "MDF_SIGNATURE", "MDF_HEADER_SIZE", "MDF_TYPE_FLAT_HEADER", "MDF_VERSION_FLAT_HEADER",
    "MDF_END_FLAG", "MakedumpfileHeader", "FlatDataHeader", "FLAT_DATA_HEADER_SIZE",
    "KDUMP_SIGNATURE", "DISKDUMP_SIGNATURE", "SIG_LEN",
    "DUMP_DH_COMPRESSED_ZLIB", "DUMP_DH_COMPRESSED_LZO", "DUMP_DH_COMPRESSED_SNAPPY",
    "DUMP_DH_COMPRESSED_INCOMPLETE", "DUMP_DH_EXCLUDED_VMEMMAP", "DUMP_DH_COMPRESSED_ZSTD",
    "COMPRESSION_FLAGS", "COMPRESSION_NAMES", "STATUS_NAMES",
    "NEW_UTS_LEN", "KdumpStructs", "kdump_structs", "PAGE_DESC_SIZE", "kdump_kind",
    "ARM64_REG_NAMES", "Arm64Prstatus", "ARM64_PRSTATUS_SIZE", "PRSTATUS_ROWS", "parse_prstatus",
]

# --- the flattened format (always big-endian) ------------------------------
MDF_SIGNATURE = b"makedumpfile"
#: the makedumpfile header occupies this many bytes at the start of the file
MDF_HEADER_SIZE = 4096
MDF_TYPE_FLAT_HEADER = 1
MDF_VERSION_FLAT_HEADER = 1
#: ``offset`` and ``buf_size`` of the record that ends the stream
MDF_END_FLAG = -1



def _flat_structs() -> dict[str, Any]:
    import construct as c

    return {
        "MakedumpfileHeader": c.Struct(
            "signature" / c.Bytes(16),          # "makedumpfile", NUL padded
            "type" / c.Int64sb,
            "version" / c.Int64sb,
        ),
        "FlatDataHeader": c.Struct(
            "offset" / c.Int64sb,
            "buf_size" / c.Int64sb,
        ),
    }


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


class KdumpStructs(NamedTuple):
    """The diskdump layouts for one byte order (64-bit writers only; a NamedTuple, cheap to
    define when a raw image is opened)."""

    little_endian: bool
    DiskDumpHeader: c.Construct
    KdumpSubHeader: c.Construct
    PageDesc: c.Construct

    @property
    def header_size(self) -> int:
        return self.DiskDumpHeader.sizeof()

    @property
    def sub_header_size(self) -> int:
        return self.KdumpSubHeader.sizeof()


@lru_cache(maxsize=None)
def kdump_structs(little_endian: bool = True) -> KdumpStructs:
    """``disk_dump_header``, ``kdump_sub_header`` and ``page_desc_t`` for a byte order."""
    import construct as c

    s32 = c.Int32sl if little_endian else c.Int32sb
    u32 = c.Int32ul if little_endian else c.Int32ub
    s64 = c.Int64sl if little_endian else c.Int64sb
    u64 = c.Int64ul if little_endian else c.Int64ub

    utsname = c.Struct(
        "sysname" / c.Bytes(NEW_UTS_LEN + 1),
        "nodename" / c.Bytes(NEW_UTS_LEN + 1),
        "release" / c.Bytes(NEW_UTS_LEN + 1),
        "version" / c.Bytes(NEW_UTS_LEN + 1),
        "machine" / c.Bytes(NEW_UTS_LEN + 1),
        "domainname" / c.Bytes(NEW_UTS_LEN + 1),
    )
    header = c.Struct(
        "signature" / c.Bytes(SIG_LEN),
        "header_version" / s32,
        "utsname" / utsname,
        c.Padding(6),                   # struct timeval is 8-aligned (offset 402 -> 408)
        "timestamp" / c.Struct("tv_sec" / s64, "tv_usec" / s64),
        "status" / u32,
        "block_size" / s32,
        "sub_hdr_size" / s32,           # in blocks
        "bitmap_blocks" / u32,          # both bitmaps, in blocks
        "max_mapnr" / u32,              # 32-bit; the sub-header has the 64-bit value (v6+)
        "total_ram_blocks" / u32,
        "device_blocks" / u32,
        "written_blocks" / u32,
        "current_cpu" / u32,
        "nr_cpus" / s32,
    )
    sub_header = c.Struct(
        "phys_base" / u64,
        "dump_level" / s32,             # v1+
        "split" / s32,                  # v2+
        "start_pfn" / u64,              # v2+ (32-bit value)
        "end_pfn" / u64,                # v2+ (32-bit value)
        "offset_vmcoreinfo" / s64,      # v3+
        "size_vmcoreinfo" / u64,        # v3+
        "offset_note" / s64,            # v4+
        "size_note" / u64,              # v4+
        "offset_eraseinfo" / s64,       # v5+
        "size_eraseinfo" / u64,         # v5+
        "start_pfn_64" / u64,           # v6+
        "end_pfn_64" / u64,             # v6+
        "max_mapnr_64" / u64,           # v6+
    )
    page_desc = c.Struct(
        "offset" / s64,                 # of the page data in the (plain) file
        "size" / u32,                   # bytes of page data
        "flags" / u32,                  # DUMP_DH_COMPRESSED_*
        "page_flags" / u64,             # the kernel's page->flags (unused)
    )
    return KdumpStructs(little_endian, header, sub_header, page_desc)


# --- arm64 NT_PRSTATUS (struct elf_prstatus, include/uapi/linux/elfcore.h) ---
ARM64_REG_NAMES = tuple(f"x{n}" for n in range(31)) + ("sp", "pc", "pstate")

#: ``struct elf_prstatus`` on arm64, little-endian: ``(name, struct code)`` rows (``count`` x
#: ``q``/``Q``: an array of that many; name ``None``: padding).  :func:`parse_prstatus` reads it
#: with the ``struct`` module; :data:`Arm64Prstatus` is the same rows as a construct ``Struct``
#: (to build one: the tests, the fuzz seeds).
PRSTATUS_ROWS = (
    ("si_signo", "i"), ("si_code", "i"), ("si_errno", "i"), ("pr_cursig", "h"), (None, "2x"),
    ("pr_sigpend", "Q"), ("pr_sighold", "Q"),
    ("pr_pid", "i"), ("pr_ppid", "i"), ("pr_pgrp", "i"), ("pr_sid", "i"),
    ("pr_utime", "2q"), ("pr_stime", "2q"), ("pr_cutime", "2q"), ("pr_cstime", "2q"),   # struct timeval
    ("pr_reg", f"{len(ARM64_REG_NAMES)}Q"),                                               # x0-x30, sp, pc, pstate
    ("pr_fpvalid", "i"), (None, "4x"),
)


def _row_count(code: str) -> int:
    return int(code[:-1]) if len(code) > 1 else 1


@lru_cache(maxsize=None)
def _prstatus_struct() -> struct.Struct:
    return struct.Struct("<" + "".join(code for _name, code in PRSTATUS_ROWS))


def parse_prstatus(data: bytes) -> SimpleNamespace:
    """An arm64 ``NT_PRSTATUS`` descriptor (:data:`ARM64_PRSTATUS_SIZE` bytes or more) as a
    namespace of the :data:`PRSTATUS_ROWS` fields (arrays as lists), read without construct."""
    values = iter(_prstatus_struct().unpack_from(data))
    out = {}
    for name, code in PRSTATUS_ROWS:
        if name is None:
            continue
        n = _row_count(code)
        out[name] = next(values) if len(code) == 1 else [next(values) for _ in range(n)]
    return SimpleNamespace(**out)


def _prstatus_structs() -> dict[str, Any]:
    import construct as c

    kinds = {"i": c.Int32sl, "h": c.Int16sl, "q": c.Int64sl, "Q": c.Int64ul}
    rows = []
    for name, code in PRSTATUS_ROWS:
        n, kind = _row_count(code), code[-1]
        if name is None:
            rows.append(c.Padding(n))
        else:
            rows.append(name / (kinds[kind] if len(code) == 1 else c.Array(n, kinds[kind])))
    return {"Arm64Prstatus": c.Struct(*rows)}


#: ``sizeof(struct elf_prstatus)`` on arm64 (the tests check it against both forms)
ARM64_PRSTATUS_SIZE = 392

#: the construct structures built on first use, and what builds each
_LAZY = {"MakedumpfileHeader": _flat_structs, "FlatDataHeader": _flat_structs, "Arm64Prstatus": _prstatus_structs}


def __getattr__(name: str) -> Any:
    make = _LAZY.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = make()
    globals().update(built)             # (later lookups find them directly)
    return built[name]
