"""kdump-compressed dumps: makedumpfile's diskdump format, plain or flattened.

:func:`open_kdump` reads the headers, the two bitmaps and the notes of a
``KDUMP   `` file (written by makedumpfile, or by QEMU's
``dump-guest-memory`` ``kdump-zlib``/``-lzo``/``-snappy``/``-zstd``), or of a
makedumpfile *flattened* stream holding one (what ``makedumpfile -F`` and
QEMU 7.2's ``kdump-*`` formats write).  Flattened files are read in place:
their records are indexed once (16 bytes read per record) and never
rewritten.

Nothing is read whole, and nothing is mapped: headers, bitmaps, descriptors
and page data are read with ``pread``, so memory use is the bitmaps plus the
page cache, whatever the dump's size.  :meth:`KdumpFile.memory` gives a
:class:`~pgwalk.memory.PhysicalMemory` whose regions are the runs of pages
the dump describes (the union of its two bitmaps), backed by
:class:`KdumpPages`, which finds a page's descriptor through a rank index
over the 2nd bitmap and decompresses the page on demand through a bounded
LRU cache.  A page the 1st bitmap has and the 2nd has not (makedumpfile
excluded it: free, cache, zero or user pages by dump level) raises
:class:`~pgwalk.errors.NotInImage` with reason ``"excluded from the dump"``,
so a walk that meets one reports it as such, never as zeros.

Split dumps (``makedumpfile --split``): every file carries the whole dump's
headers and bitmaps but only the descriptors and data of its own pfn range
(``start_pfn``-``end_pfn`` of the sub-header), its descriptors indexed from
that start.  One file alone reads its own pages and says the others are in
another file; :func:`join_split_dumps` (used by
:func:`~pgwalk.images.open_images` when several are given) reads them as one
memory.  Descriptors are found by rank in the 2nd bitmap, so a bitmap with a
bit too many or too few would move every later page onto its neighbour's
data: :meth:`KdumpFile._check_descriptors` cross-checks the bitmap against the
descriptor table at open (and overlapping descriptors), and a file that fails
reads no page at all (``desc_damage``, a warning) rather than shifted ones.

Optional compression libraries (lzo, snappy, zstd) are the ``kdump`` extra
(``pip install 'pgwalk[kdump]'``); zlib is in the standard library.  A page
compressed with a missing library raises :class:`~pgwalk.errors.ImageError`
naming the extra.
"""

from __future__ import annotations

import os
import struct
import zlib
from bisect import bisect_right
from collections import OrderedDict
from functools import cached_property

from pgwalk.errors import ImageError, NotInImage
from pgwalk.formats import kdump as K
from pgwalk.memory import (NOTE_READ_LIMIT, PA_LIMIT, FileBacking, Note, PhysicalMemory,
                           Region)
from pgwalk.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "KdumpFile", "KdumpPages", "open_kdump", "open_kdump_backing", "is_kdump",
    "DEFAULT_CACHE_BYTES", "EXCLUDED_REASON", "CpuState", "prstatus_cpus", "note_type_name",
    "decompressor", "compression_available", "KDUMP_EXTRA_HINT", "write_kdump", "join_split_dumps",
]

#: default bound of the decompressed-page cache of one dump
DEFAULT_CACHE_BYTES = 32 << 20
#: the reason :class:`NotInImage` carries for a page the dump left out
EXCLUDED_REASON = "excluded from the dump"
KDUMP_EXTRA_HINT = "pip install 'pgwalk[kdump]'"

_BLOCK_MIN, _BLOCK_MAX = 512, 1 << 24
_BITMAP_LIMIT = 1 << 32         # bytes of bitmap pgwalk accepts (2^35 pages)
_U64 = {False: struct.Struct("<Q").unpack_from, True: struct.Struct(">Q").unpack_from}
_FLAT_REC = struct.Struct(">qq")
_RANK_BYTES = 64                # bitmap bytes per rank-index entry (512 pages)
_FLAT_OFFSET_LIMIT = 1 << 48     # no diskdump file is larger: a record beyond is corrupt
_OVERLAP_CHECK_LIMIT = 1 << 22   # page descriptors cross-checked for overlapping data (96 MiB)


def _max_data(block_size: int) -> int:
    """The most bytes a page's (compressed) data may take."""
    return 2 * block_size + 4096

_POPCOUNT8 = bytes(bin(i).count("1") for i in range(256))


class _Missing(Exception):
    """Internal: bytes of the (logical) diskdump file are not in the file."""

    def __init__(self, offset: int):
        self.offset = offset


# --------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------

def is_kdump(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a kdump-compressed file (plain or flattened)."""
    try:
        with open(path, "rb") as f:
            return K.kdump_kind(f.read(16)) is not None
    except OSError:
        return False


# --------------------------------------------------------------------------
# The logical (plain) file: the file itself, or a flattened stream's records
# --------------------------------------------------------------------------

class _Reader:
    """``pread`` on a file descriptor of its own: page data and descriptors are
    read without mapping them, so the process's memory stays bounded by the
    page cache, however large the dump (an mmap would keep every page touched)."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.fd: int | None = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as e:
            raise ImageError(f"{path}: cannot open: {e.strerror or e}") from None

    def pread(self, offset: int, size: int) -> bytes:
        fd = self.fd
        if fd is None:
            raise ValueError(f"{self.path}: read after close")
        data = os.pread(fd, size, offset)
        if len(data) < size:            # pread may return less: finish the read
            parts = [data]
            got = len(data)
            while got < size:
                more = os.pread(fd, size - got, offset + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)


class _PlainView:
    """The file as it is (a plain diskdump file)."""

    flattened = False

    def __init__(self, backing: FileBacking, reader: _Reader):
        self.reader = reader
        self.size = backing.size
        self.records = 0

    def missing(self, lo: int, hi: int) -> int:
        """Bytes of ``[lo, hi)`` the file does not hold."""
        return max(0, hi - max(lo, self.size))

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or offset + size > self.size:
            raise _Missing(max(offset, self.size))
        data = self.reader.pread(offset, size)
        if len(data) != size:           # the file shrank under us
            raise _Missing(offset + len(data))
        return data


class _FlatView:
    """A flattened stream seen as the plain file it stands for.

    ``starts``/``ends``/``at`` describe disjoint, sorted pieces of the plain
    file and where their bytes are in the flattened file; where records
    overlap the later one wins (makedumpfile rewrites some ranges).  The
    record headers are read with ``pread`` (16 bytes each, through a 4 KiB
    window), never mapped, so indexing a multi-GiB stream keeps memory flat.
    """

    flattened = True

    def __init__(self, backing: FileBacking, reader: _Reader, warnings: list[str]):
        self.reader = reader
        path = backing.path
        fsize = backing.size
        if fsize < K.MDF_HEADER_SIZE:
            raise ImageError(f"{path}: truncated: the file ({fsize} bytes) ends inside the "
                             f"{K.MDF_HEADER_SIZE}-byte makedumpfile header")
        head = K.MakedumpfileHeader.parse(reader.pread(0, K.MakedumpfileHeader.sizeof()))
        if head.type != K.MDF_TYPE_FLAT_HEADER:
            raise ImageError(f"{path}: broken makedumpfile header: type {head.type} is not 1 "
                             "(flattened format)")
        if head.version != K.MDF_VERSION_FLAT_HEADER:
            warnings.append(f"{path}: makedumpfile flattened-format version {head.version} "
                            f"(pgwalk knows version {K.MDF_VERSION_FLAT_HEADER}); reading it anyway")
        recs: list[tuple[int, int, int]] = []      # (offset in plain file, size, file offset)
        unpack = _FLAT_REC.unpack_from
        pread, fd = os.pread, reader.fd            # the hot loop: no wrapper
        append = recs.append
        win_at, win = 0, b""                       # a 4 KiB window of record headers
        pos = K.MDF_HEADER_SIZE
        size = 0
        ended = corrupt = False
        while pos + 16 <= fsize:
            if not win_at <= pos <= win_at + len(win) - 16:
                # small records: read their headers 4 KiB at a time; big ones one by one
                win_at, win = pos, pread(fd, 4096 if size < 2048 else 16, pos)
                if len(win) < 16:
                    break
            off, size = unpack(win, pos - win_at)
            if off == K.MDF_END_FLAG and size == K.MDF_END_FLAG:
                ended = True
                break
            if off < 0 or size < 0 or off + size > _FLAT_OFFSET_LIMIT:
                what = (f"corrupt flattened record at file offset {pos:#x} (offset {off:#x}, "
                        f"size {size:#x}; records are big-endian)")
                if not recs:
                    raise ImageError(f"{path}: {what}")
                warnings.append(f"{path}: {what}; the rest of the file is ignored")
                corrupt = True
                break
            data = pos + 16
            if data + size > fsize:
                warnings.append(f"{path}: truncated: the flattened record at file offset {pos:#x} "
                                f"claims {size:#x} bytes, {fsize - data:#x} are left")
                size = fsize - data
                if size:
                    recs.append((off, size, data))
                pos = fsize
                break
            if size:
                append((off, size, data))
            pos = data + size
        else:
            if pos != fsize:
                warnings.append(f"{path}: truncated: {fsize - pos} stray bytes at the end of the "
                                "flattened stream")
        if not ended and not corrupt:
            warnings.append(f"{path}: the flattened stream has no end marker (the file is truncated)")
        self.records = len(recs)
        pieces = _resolve_records(recs)
        self.starts = [p[0] for p in pieces]
        self.ends = [p[0] + p[1] for p in pieces]
        self.at = [p[2] for p in pieces]
        self.size = self.ends[-1] if self.ends else 0
        if not self.starts or self.starts[0] != 0:
            raise ImageError(f"{path}: the flattened stream has no record for the diskdump header "
                             "(offset 0); the file is corrupt or truncated")

    def missing(self, lo: int, hi: int) -> int:
        """Bytes of ``[lo, hi)`` of the plain file no record holds."""
        held = 0
        i = max(0, bisect_right(self.starts, lo) - 1)
        while i < len(self.starts) and self.starts[i] < hi:
            held += max(0, min(hi, self.ends[i]) - max(lo, self.starts[i]))
            i += 1
        return (hi - lo) - held

    def read(self, offset: int, size: int) -> bytes:
        i = bisect_right(self.starts, offset) - 1
        if i < 0 or offset >= self.ends[i]:
            raise _Missing(offset)
        stop = offset + size
        pread = self.reader.pread
        if stop <= self.ends[i]:
            return pread(self.at[i] + offset - self.starts[i], size)
        parts = []
        cur = offset
        while cur < stop:
            if i >= len(self.starts) or not self.starts[i] <= cur < self.ends[i]:
                raise _Missing(cur)
            take = min(stop, self.ends[i]) - cur
            parts.append(pread(self.at[i] + cur - self.starts[i], take))
            cur += take
            i += 1
        return b"".join(parts)


def _resolve_records(recs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Disjoint sorted pieces of flattened records; later records win overlaps."""
    srt = sorted(recs)
    if all(a[0] + a[1] <= b[0] for a, b in zip(srt, srt[1:])):
        return srt
    starts: list[int] = []
    pieces: list[tuple[int, int, int]] = []        # sorted, disjoint (start, size, at)
    for off, size, at in reversed(recs):          # the latest first: it wins
        lo, hi = off, off + size
        j = bisect_right(starts, lo) - 1
        if j < 0 or pieces[j][0] + pieces[j][1] <= lo:
            j += 1
        cur = lo
        new: list[tuple[int, int, int]] = []
        while j < len(pieces) and pieces[j][0] < hi:
            p_lo, p_hi = pieces[j][0], pieces[j][0] + pieces[j][1]
            if p_lo > cur:
                new.append((cur, p_lo - cur, at + cur - lo))
            cur = max(cur, p_hi)
            j += 1
        if cur < hi:
            new.append((cur, hi - cur, at + cur - lo))
        for p in new:
            k = bisect_right(starts, p[0])
            starts.insert(k, p[0])
            pieces.insert(k, p)
    # merge nothing: adjacent pieces may come from different records
    return pieces


# --------------------------------------------------------------------------
# Decompression
# --------------------------------------------------------------------------

_EXTRA_PACKAGES = {"lzo": "python-lzo or lzokay", "snappy": "python-snappy or cramjam",
                   "zstd": "zstandard"}


def _zlib(data: bytes, size: int) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, size)
    if d.unconsumed_tail or not d.eof:
        raise ValueError("zlib stream is longer than a page or incomplete")
    return out


def _load_lzo() -> Callable[[bytes, int], bytes]:
    try:
        import lzo  # python-lzo

        return lambda data, size: lzo.decompress(data, False, size)
    except ImportError:
        import lzokay

        return lambda data, size: lzokay.decompress(data, size)


def _snappy_length(data: bytes, size: int) -> None:
    """Refuse a snappy block whose header (a varint) does not announce ``size`` bytes,
    before any library allocates what it announces."""
    n = shift = 0
    for i, b in enumerate(data[:10]):
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    else:
        raise ValueError("no snappy length header")
    if n != size:
        raise ValueError(f"the snappy header announces {n} bytes")


def _load_snappy() -> Callable[[bytes, int], bytes]:
    try:
        import snappy  # python-snappy

        fn = getattr(snappy, "uncompress", None) or snappy.decompress

        def snappy_page(data: bytes, size: int) -> bytes:
            _snappy_length(data, size)
            return fn(data)
        return snappy_page
    except ImportError:
        import cramjam

        def cramjam_page(data: bytes, size: int) -> bytes:
            _snappy_length(data, size)
            out = bytearray(size)
            n = cramjam.snappy.decompress_raw_into(data, out)
            return bytes(out[:n])
        return cramjam_page


def _load_zstd() -> Callable[[bytes, int], bytes]:
    # A zstd frame announces its size and the libraries allocate it before decoding:
    # a few KiB of hostile page data could claim gigabytes.  Check the announcement first.
    try:
        import zstandard

        dctx = zstandard.ZstdDecompressor()

        def zstd_page(data: bytes, size: int) -> bytes:
            claimed = zstandard.frame_content_size(data)
            if claimed > size:
                raise ValueError(f"the zstd frame announces {claimed} bytes")
            return dctx.decompress(data, max_output_size=size)
        return zstd_page
    except ImportError:
        import cramjam

        def cramjam_page(data: bytes, size: int) -> bytes:
            out = bytearray(size)             # bounded: more output is an error
            n = cramjam.zstd.decompress_into(data, out)
            return bytes(out[:n])
        return cramjam_page


_LOADERS = {"lzo": _load_lzo, "snappy": _load_snappy, "zstd": _load_zstd}
_decompressors: dict[str, Callable[[bytes, int], bytes] | None] = {"zlib": _zlib}


def decompressor(name: str) -> Callable[[bytes, int], bytes] | None:
    """``fn(data, page_size) -> bytes`` for ``name`` (zlib/lzo/snappy/zstd), or ``None``
    when its library is not installed."""
    if name not in _decompressors:
        try:
            _decompressors[name] = _LOADERS[name]()
        except ImportError:
            _decompressors[name] = None
    return _decompressors[name]


def compression_available(name: str) -> bool:
    """Whether pages compressed with ``name`` can be read here."""
    return decompressor(name) is not None


def _missing_library(path: str, name: str) -> ImageError:
    return ImageError(f"{path}: pages are compressed with {name} and no {name} library is "
                      f"installed ({_EXTRA_PACKAGES.get(name, name)}); install the kdump extra: "
                      f"{KDUMP_EXTRA_HINT}")


def _flag_compression(flags: int) -> str | None:
    for bit in (K.DUMP_DH_COMPRESSED_ZLIB, K.DUMP_DH_COMPRESSED_LZO,
                K.DUMP_DH_COMPRESSED_SNAPPY, K.DUMP_DH_COMPRESSED_ZSTD):
        if flags & bit:
            return K.COMPRESSION_NAMES[bit]
    return None


# --------------------------------------------------------------------------
# Bitmaps
# --------------------------------------------------------------------------

def _bitmap_runs(bits: Any, nbits: int, chunk: int = 1 << 23) -> list[tuple[int, int]]:
    """``[(first, count)]`` runs of set bits among the first ``nbits`` of a
    bitmap in little-endian bit order (a numpy uint8 array), chunk by chunk so
    that at most ``8 * chunk`` bytes are unpacked at a time."""
    import numpy as np

    runs: list[tuple[int, int]] = []
    start: int | None = None           # first bit of the run still open
    nbytes = (nbits + 7) // 8
    for b0 in range(0, nbytes, chunk):
        part = bits[b0:min(nbytes, b0 + chunk)]
        base = b0 * 8
        lim = min(len(part) * 8, nbits - base)
        if not part.any():
            if start is not None:
                runs.append((start, base - start))
                start = None
            continue
        if lim == len(part) * 8 and bool((part == 0xFF).all()):
            if start is None:
                start = base
            continue
        u = np.unpackbits(part, bitorder="little")[:lim].astype(np.int8)
        d = np.diff(u, prepend=np.int8(1 if start is not None else 0))
        for i in np.flatnonzero(d).tolist():
            if d[i] > 0:
                start = base + i
            else:
                runs.append((start, base + i - start))
                start = None
    if start is not None:
        runs.append((start, nbits - start))
    return runs


# --------------------------------------------------------------------------
# Notes and CPUs
# --------------------------------------------------------------------------

_NOTE_TYPES = {
    ("CORE", 1): "NT_PRSTATUS", ("CORE", 2): "NT_PRFPREG", ("CORE", 3): "NT_PRPSINFO",
    ("CORE", 4): "NT_TASKSTRUCT", ("CORE", 6): "NT_AUXV", ("CORE", 0x46494c45): "NT_FILE",
    ("LINUX", 0x400): "NT_ARM_VFP", ("LINUX", 0x401): "NT_ARM_TLS",
    ("LINUX", 0x402): "NT_ARM_HW_BREAK", ("LINUX", 0x403): "NT_ARM_HW_WATCH",
    ("LINUX", 0x404): "NT_ARM_SYSTEM_CALL", ("LINUX", 0x405): "NT_ARM_SVE",
    ("LINUX", 0x406): "NT_ARM_PAC_MASK", ("LINUX", 0x407): "NT_ARM_PACA_KEYS",
    ("LINUX", 0x408): "NT_ARM_PACG_KEYS", ("LINUX", 0x409): "NT_ARM_TAGGED_ADDR_CTRL",
    ("LINUX", 0x40a): "NT_ARM_PAC_ENABLED_KEYS", ("LINUX", 0x40b): "NT_ARM_SSVE",
    ("LINUX", 0x40c): "NT_ARM_ZA", ("LINUX", 0x40d): "NT_ARM_ZT",
    ("VMCOREINFO", 0): "VMCOREINFO", ("QEMU", 0): "QEMU CPU state",
}


def note_type_name(name: str, ntype: int) -> str:
    """A readable name for a note (``NT_PRSTATUS``, ``VMCOREINFO``, ...)."""
    return _NOTE_TYPES.get((name, ntype), f"type {ntype:#x}")


@record(frozen=True, compiled_init=True)
class CpuState:
    """One CPU's registers from an arm64 ``NT_PRSTATUS`` note."""

    index: int
    pid: int
    registers: dict[str, int]       #: x0..x30, sp, pc, pstate

    @property
    def el(self) -> int:
        return (self.registers.get("pstate", 0) >> 2) & 3


def prstatus_cpus(notes: Iterable[Note]) -> list[CpuState]:
    """The CPUs of the ``NT_PRSTATUS`` notes (``CORE``, type 1), in note order."""
    out: list[CpuState] = []
    for note in notes:
        if note.name != "CORE" or note.type != 1 or len(note.desc) < K.ARM64_PRSTATUS_SIZE:
            continue
        p = K.Arm64Prstatus.parse(note.desc)
        out.append(CpuState(len(out), p.pr_pid, dict(zip(K.ARM64_REG_NAMES, p.pr_reg))))
    return out


def _parse_notes(data: bytes, warnings: list[str], what: str) -> list[Note]:
    """ELF64 notes (4-byte aligned, as kdump headers and vmcore carry them)."""
    out: list[Note] = []
    pos = 0
    n = len(data)
    while pos + 12 <= n:
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break
        name_at = pos + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        if desc_at + descsz > n:
            warnings.append(f"{what}: the note at offset {pos:#x} claims more bytes than "
                            "there are; it and the rest are ignored")
            break
        name = data[name_at:name_at + namesz].rstrip(b"\0").decode("ascii", "replace")
        out.append(Note(name, ntype, bytes(data[desc_at:desc_at + descsz])))
        pos = desc_at + ((descsz + 3) & ~3)
    return out


# --------------------------------------------------------------------------
# The page backing
# --------------------------------------------------------------------------

class KdumpPages:
    """The :class:`~pgwalk.memory.Backing` of a kdump file's regions.

    Offsets are physical addresses (regions are built with ``offset ==
    base``).  Pages are decompressed on demand and kept in an LRU cache of at
    most ``cache_bytes`` of pages.  Pages that share their data (such as the
    one zero page makedumpfile and QEMU point every zero page at) are
    decompressed once and share one buffer.  Closing it closes the dump's
    file descriptor (as closing a :class:`~pgwalk.memory.PhysicalMemory`
    unmaps an ELF core).
    """

    buffer = None

    def __init__(self, dump: "KdumpFile", cache_bytes: int = DEFAULT_CACHE_BYTES,
                 parts: "Sequence[KdumpFile]" = ()):
        self.dump = dump
        #: the files of a split dump read as one memory (see :func:`join_split_dumps`),
        #: by start pfn; just ``(dump,)`` otherwise
        self.parts: tuple[KdumpFile, ...] = tuple(sorted(parts, key=lambda p: p.start_pfn)) or (dump,)
        self._part_starts = [p.start_pfn for p in self.parts]
        self.path = dump.path
        self.block_size = dump.block_size
        self.shift = dump.block_size.bit_length() - 1
        self.mask = dump.block_size - 1
        self.capacity = max(4, cache_bytes // dump.block_size)
        self._cache: OrderedDict[int, bytes] = OrderedDict()                  # pfn -> page
        self._shared: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()  # data key -> page
        self._last_pfn = -1
        self._last: bytes = b""
        self.hits = 0
        self.misses = 0

    @property
    def cached_bytes(self) -> int:
        """Bytes of distinct decompressed pages held."""
        seen: dict[int, int] = {}
        for v in self._cache.values():
            seen[id(v)] = len(v)
        return sum(seen.values())

    def page(self, pfn: int) -> bytes:
        """The ``block_size`` bytes of page ``pfn``; :class:`NotInImage` if not in the dump."""
        if pfn == self._last_pfn:
            return self._last
        cache = self._cache
        data = cache.get(pfn)
        if data is not None:
            self.hits += 1
            cache.move_to_end(pfn)
        else:
            part = self._part(pfn)
            desc = part.page_desc(pfn)      # raises NotInImage when excluded
            key = (id(part), desc.offset, desc.size, desc.flags)
            shared = self._shared
            data = shared.get(key)
            if data is not None:
                self.hits += 1
                shared.move_to_end(key)
            else:
                self.misses += 1
                data = part.page_data(pfn, desc)
                shared[key] = data
                if len(shared) > self.capacity:
                    shared.popitem(last=False)
            cache[pfn] = data
            if len(cache) > self.capacity:
                cache.popitem(last=False)
        self._last_pfn, self._last = pfn, data
        return data

    def _part(self, pfn: int) -> "KdumpFile":
        """The file holding page ``pfn`` (:class:`NotInImage` if it is in a file not given)."""
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        i = bisect_right(self._part_starts, pfn) - 1
        if i >= 0 and pfn < parts[i].end_pfn:
            return parts[i]
        if parts[0].page_state(pfn) in ("dumped", "other file"):
            held = ", ".join(f"{p.start_pfn:#x}-{p.end_pfn:#x}" for p in parts)
            raise NotInImage(pfn * self.block_size, self.block_size,
                             f"is in a file of the split dump that was not given (the files given hold "
                             f"pfns {held})")
        return parts[0]

    def missing_reason(self, offset: int) -> str | None:
        """Why the page holding ``offset`` (a PA) is not in the dump, or ``None`` when the
        dump has a descriptor for it (its data is not read)."""
        pfn = offset >> self.shift
        try:
            return self._part(pfn).page_absent(pfn)
        except NotInImage as e:
            return e.reason

    def missing_mask(self, offsets: Any) -> Any:
        """:meth:`missing_reason` is not ``None``, for a numpy array of PAs (vectorised)."""
        import numpy as np

        pfns = np.asarray(offsets, dtype=np.uint64) >> np.uint64(self.shift)
        out = np.ones(len(pfns), dtype=bool)
        for part in self.parts:
            out &= part.absent_mask(pfns)
        return out

    def read(self, offset: int, size: int) -> bytes:
        shift, mask = self.shift, self.mask
        pfn, start = offset >> shift, offset & mask
        if start + size <= self.block_size:
            try:
                return self.page(pfn)[start:start + size]
            except NotInImage as e:
                raise NotInImage(offset, size, e.reason) from None
        parts = []
        cur, stop = offset, offset + size
        while cur < stop:
            pfn, start = cur >> shift, cur & mask
            take = min(stop - cur, self.block_size - start)
            try:
                parts.append(self.page(pfn)[start:start + take])
            except NotInImage as e:
                raise NotInImage(cur, take, e.reason) from None
            cur += take
        return b"".join(parts)

    def read_u64(self, offset: int, big_endian: bool = False) -> int:
        start = offset & self.mask
        if start + 8 <= self.block_size:
            try:
                return _U64[big_endian](self.page(offset >> self.shift), start)[0]
            except NotInImage as e:
                raise NotInImage(offset, 8, e.reason) from None
        return int.from_bytes(self.read(offset, 8), "big" if big_endian else "little")

    def clear(self) -> None:
        """Drop every cached page."""
        self._cache.clear()
        self._shared.clear()
        self._last_pfn, self._last = -1, b""

    def close(self) -> None:
        self.clear()
        for part in self.parts:
            part.reader.close()

    def __repr__(self) -> str:
        return f"KdumpPages({self.path!r}, {len(self._cache)}/{self.capacity} pages cached)"


@record(frozen=True, slots=True, compiled_init=True)
class _Desc:
    offset: int
    size: int
    flags: int


# --------------------------------------------------------------------------
# KdumpFile
# --------------------------------------------------------------------------

class KdumpFile:
    """An open kdump-compressed dump (see :func:`open_kdump`).

    :ivar header: the ``disk_dump_header`` (a namespace: :class:`pgwalk.formats.kdump.RowLayout`)
    :ivar sub_header: the ``kdump_sub_header`` (a namespace: :class:`pgwalk.formats.kdump.RowLayout`)
    :ivar flattened: whether the file is a makedumpfile flattened stream
    :ivar block_size: the dump's page size in bytes (QEMU writes 64 KiB on arm)
    :ivar max_mapnr: number of page frames the bitmaps describe
    :ivar regions: the runs of pages described (holes between them are not RAM)
    """

    def __init__(self, path: str, backing: FileBacking, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = path
        self.backing = backing
        self._warnings: list[str] = []
        kind = K.kdump_kind(backing.read(0, 16))
        if kind is None:
            raise ImageError(f"{path}: not a kdump-compressed file (no 'KDUMP   ' or "
                             "'makedumpfile' signature)")
        self.reader = _Reader(getattr(backing, "file", path))     # the file on disk (a decompressed copy)
        try:
            self.view: _PlainView | _FlatView = (
                _FlatView(backing, self.reader, self._warnings) if kind == "flat"
                else _PlainView(backing, self.reader))
        except BaseException:
            self.reader.close()
            raise
        self.flattened = kind == "flat"
        try:
            self._parse_headers()
        except BaseException:
            self.reader.close()
            raise
        self._cache_bytes = cache_bytes
        self._pages: KdumpPages | None = None

    # -- headers -------------------------------------------------------------

    def _read_header_bytes(self, offset: int, size: int, what: str) -> bytes:
        try:
            return self.view.read(offset, size)
        except _Missing as m:
            raise ImageError(f"{self.path}: truncated: the {what} ({size} bytes at offset "
                             f"{offset:#x}) is not in the file (nothing at {m.offset:#x})") from None

    def _parse_headers(self) -> None:
        path = self.path
        head = self._read_header_bytes(0, K.SIG_LEN + 4, "diskdump header")
        if head[:K.SIG_LEN] != K.KDUMP_SIGNATURE:
            if head[:4] == b"\x7fELF":
                raise ImageError(f"{path}: a flattened ELF dump; pgwalk reads flattened diskdump "
                                 "files only (rearrange it with 'makedumpfile -R')")
            if head[:K.SIG_LEN] == K.DISKDUMP_SIGNATURE:
                raise ImageError(f"{path}: an old 'DISKDUMP' format dump, which pgwalk does not read")
            raise ImageError(f"{path}: broken kdump header: signature {head[:K.SIG_LEN]!r} "
                             "is not 'KDUMP   '")
        le_version = int.from_bytes(head[8:12], "little", signed=True)
        be_version = int.from_bytes(head[8:12], "big", signed=True)
        if not 0 <= le_version < 0x100:
            if 0 < be_version < 0x100:
                raise ImageError(f"{path}: not supported: a big-endian kdump header (header version "
                                 f"{be_version} read big-endian); pgwalk reads little-endian AArch64 dumps")
            raise ImageError(f"{path}: broken kdump header: header_version {le_version:#x}")
        S = K.kdump_structs(True)
        self.structs = S
        h = S.DiskDumpHeader.parse(self._read_header_bytes(0, S.header_size, "diskdump header"))
        self.header = h
        self.header_version = h.header_version
        bs = h.block_size
        if not (_BLOCK_MIN <= bs <= _BLOCK_MAX and bs & (bs - 1) == 0):
            swapped = int.from_bytes(bs.to_bytes(4, "little", signed=True), "big", signed=True)
            if _BLOCK_MIN <= swapped <= _BLOCK_MAX and swapped & (swapped - 1) == 0:
                raise ImageError(f"{path}: not supported: the kdump header is big-endian "
                                 f"(block_size {swapped} read big-endian); pgwalk reads little-endian "
                                 "AArch64 dumps")
            raise ImageError(f"{path}: broken kdump header: block_size {bs} is not a power of two "
                             f"between {_BLOCK_MIN} and {_BLOCK_MAX}")
        self.block_size = bs
        if h.sub_hdr_size < 0 or h.sub_hdr_size > 1 << 20:
            raise ImageError(f"{path}: broken kdump header: sub_hdr_size {h.sub_hdr_size} blocks")
        if h.bitmap_blocks == 0:
            raise ImageError(f"{path}: broken kdump header: bitmap_blocks is 0")
        if h.bitmap_blocks * bs > 2 * _BITMAP_LIMIT:
            raise ImageError(f"{path}: broken kdump header: bitmap_blocks {h.bitmap_blocks} "
                             f"({h.bitmap_blocks * bs} bytes) is implausibly large")
        if h.bitmap_blocks % 2:
            self._warnings.append(f"{path}: bitmap_blocks {h.bitmap_blocks} is odd; each bitmap "
                                  "is taken as half of it")
        if h.header_version > 6:
            self._warnings.append(f"{path}: kdump header version {h.header_version} is newer than "
                                  "the 6 pgwalk knows; reading it as version 6")
        # sub-header
        if h.sub_hdr_size > 0:
            raw = self._read_header_bytes(bs, min(S.sub_header_size, h.sub_hdr_size * bs), "kdump sub-header")
            raw = raw.ljust(S.sub_header_size, b"\0")
            self.sub_header = S.KdumpSubHeader.parse(raw)
        else:
            self.sub_header = S.KdumpSubHeader.parse(bytes(S.sub_header_size))
        sub = self.sub_header
        max_mapnr = h.max_mapnr
        if h.header_version >= 6 and sub.max_mapnr_64:
            max_mapnr = sub.max_mapnr_64
        half = h.bitmap_blocks * bs // 2
        self.bitmap_offset = (1 + h.sub_hdr_size) * bs
        self.bitmap_half = half
        if max_mapnr > half * 8:
            self._warnings.append(f"{path}: max_mapnr {max_mapnr:#x} is more than the bitmaps "
                                  f"describe ({half * 8:#x} pages); using the bitmaps' size")
            max_mapnr = half * 8
        if max_mapnr * bs > PA_LIMIT:
            max_mapnr = PA_LIMIT // bs
        self.max_mapnr = max_mapnr
        self.desc_offset = (1 + h.sub_hdr_size + h.bitmap_blocks) * bs
        self.status = h.status
        if h.status & K.DUMP_DH_COMPRESSED_INCOMPLETE:
            self._warnings.append(f"{path}: the dump is marked incomplete (makedumpfile ran out "
                                  "of space); pages it did not write read as not in the dump")
        self._split_range(h, sub, max_mapnr)
        # bitmaps (read now: they are 1/(8*block_size) of memory)
        import numpy as np

        nbytes = (max_mapnr + 7) // 8
        bm1 = self._read_header_bytes(self.bitmap_offset, nbytes, "1st bitmap")
        bm2 = self._read_header_bytes(self.bitmap_offset + half, nbytes, "2nd bitmap")
        self._bm1 = np.frombuffer(bm1, dtype=np.uint8)
        self._bm2 = np.frombuffer(bm2, dtype=np.uint8)
        self._bm2_bytes = bytes(bm2)
        self._rank: Any = None
        present = self._bm1 | self._bm2
        if (self._bm2 & ~self._bm1).any():
            self._warnings.append(f"{path}: the 2nd bitmap has pages the 1st does not; "
                                  "they are taken as present")
        self.runs: list[tuple[int, int]] = _bitmap_runs(present, max_mapnr)
        self.regions: tuple[Region, ...] = tuple(
            Region(pfn * bs, n * bs, path, pfn * bs, "kdump pages") for pfn, n in self.runs)
        lut = np.frombuffer(_POPCOUNT8, dtype=np.uint8)
        self.pages_present = int(lut[present].sum(dtype=np.int64))
        #: dumped pages by the 2nd bitmap, in every file of a split dump
        self.pages_dumped_all = int(lut[self._bm2].sum(dtype=np.int64))
        self._rank_start = self._rank_of(self.start_pfn) if self.split else 0
        #: dumped pages whose descriptors and data this file holds (its pfn range)
        self.pages_dumped = (self._rank_of(self.end_pfn) - self._rank_start if self.split
                             else self.pages_dumped_all)
        desc_end = self.desc_offset + self.pages_dumped * K.PAGE_DESC_SIZE
        lost = self.view.missing(self.desc_offset, desc_end)
        if desc_end > self.view.size:
            self._warnings.append(f"{path}: truncated: the page descriptors end at {desc_end:#x} but "
                                  f"the file holds {self.view.size:#x} bytes; pages past that are "
                                  "not in the dump")
        elif lost:
            self._warnings.append(f"{path}: truncated: {lost} of the {desc_end - self.desc_offset} bytes of "
                                  f"page descriptors at {self.desc_offset:#x} are not in the file; the pages "
                                  "they describe are not in the dump")
        if not self.regions:
            self._warnings.append(f"{path}: the bitmaps describe no page")
        #: why no page descriptor of this file can be trusted (the bitmap and the descriptor
        #: table disagree: pages would be shifted), or ``None``
        self.desc_damage: str | None = None
        self._check_descriptors()

    def _split_range(self, h: Any, sub: Any, max_mapnr: int) -> None:
        """``split``, ``start_pfn`` and ``end_pfn``: the pfns whose pages this file holds."""
        self.split = bool(h.header_version >= 2 and sub.split)
        self._split_warning: str | None = None
        if not self.split:
            self.start_pfn, self.end_pfn = 0, max_mapnr
            return
        start, end = ((sub.start_pfn_64, sub.end_pfn_64) if h.header_version >= 6
                      else (sub.start_pfn, sub.end_pfn))
        if not start < end or start >= max_mapnr:
            self._warnings.append(f"{self.path}: damaged split-dump header: this file's pfn range "
                                  f"{start:#x}-{end:#x} is empty or beyond the bitmaps ({max_mapnr:#x} "
                                  "pages); it holds no page")
            start = end = min(start, max_mapnr)
        elif end > max_mapnr:
            self._warnings.append(f"{self.path}: split-dump pfn range {start:#x}-{end:#x} ends beyond "
                                  f"the bitmaps ({max_mapnr:#x} pages); cut there")
            end = max_mapnr
        self.start_pfn, self.end_pfn = start, end
        self._split_warning = (f"{self.path}: one file of a split dump: it holds the pages of pfns "
                               f"{start:#x}-{end:#x}; pages of the other pfns are in the other files "
                               "(give them all: -i FILE1 -i FILE2 ...)")
        self._warnings.append(self._split_warning)

    def _check_descriptors(self, chunk: int = 1 << 16) -> None:
        """Cross-check the 2nd bitmap against the page descriptor table.

        Descriptors are indexed by rank in the 2nd bitmap, so one bit too many or too few
        shifts every page after it onto its neighbour's data.  makedumpfile (and QEMU)
        size the table for every dumped page (in every file of a split dump) and write
        page data right after it; a split file fills its own pfns' slots and leaves the
        rest zero.  So: no page data may start inside the table the bitmap implies, the
        last slot of this file's pages must be a page descriptor and (split) the slot
        after it must be empty, and no two descriptors may point at overlapping data
        (sharing the same data, as zero pages do, is allowed).
        """
        import numpy as np

        n_all, n_own, bs = self.pages_dumped_all, self.pages_dumped, self.block_size
        table_end = self.desc_offset + n_all * K.PAGE_DESC_SIZE
        dtype = np.dtype([("offset", "<i8"), ("size", "<u4"), ("flags", "<u4"), ("page_flags", "<u8")])
        keep = n_own <= _OVERLAP_CHECK_LIMIT
        offs: list[Any] = []
        sizes: list[Any] = []
        low: int | None = None
        last: Any = None
        for i in range(0, n_own, chunk):
            n = min(chunk, n_own - i)
            try:
                raw = self.view.read(self.desc_offset + i * K.PAGE_DESC_SIZE, n * K.PAGE_DESC_SIZE)
            except _Missing:
                break                                   # truncated: already warned
            d = np.frombuffer(raw, dtype=dtype)
            ok = (d["offset"] > 0) & (d["size"] > 0) & (d["size"] <= _max_data(bs))
            if ok.any():
                m = int(d["offset"][ok].min())
                low = m if low is None else min(low, m)
                if keep:
                    offs.append(d["offset"][ok])
                    sizes.append(d["size"][ok].astype(np.int64))
            if i + n == n_own:
                last = d[-1]
        problems: list[str] = []
        shifted = False
        what = "this file's pfns" if self.split else "the dump"
        if last is not None and not (last["offset"] > 0 and 0 < last["size"] <= _max_data(bs)):
            problems.append(f"the 2nd bitmap claims {n_own} dumped pages in {what}, but page descriptor "
                            f"{n_own - 1} is not one (offset {int(last['offset']):#x}, size "
                            f"{int(last['size']):#x}): the bitmap has more pages than there are descriptors")
            shifted = True
        if low is not None and low < table_end:
            problems.append(f"the 2nd bitmap claims {n_all} dumped pages, whose descriptors would end "
                            f"at {table_end:#x}, but page data starts at {low:#x} (room for "
                            f"{max(0, low - self.desc_offset) // K.PAGE_DESC_SIZE} descriptors): the bitmap "
                            "has more pages than there are descriptors")
            shifted = shifted or not self.split
        if self.split and n_own < n_all:
            try:
                nxt = self.view.read(self.desc_offset + n_own * K.PAGE_DESC_SIZE, K.PAGE_DESC_SIZE)
            except _Missing:
                nxt = bytes(K.PAGE_DESC_SIZE)
            if any(nxt):
                problems.append(f"page descriptor {n_own} is used, but the 2nd bitmap has only {n_own} "
                                "pages in this file's pfns: the bitmap has fewer pages than there are "
                                "descriptors")
                shifted = True
        if offs:
            o = np.concatenate(offs)
            z = np.concatenate(sizes)
            order = np.lexsort((z, o))                                # by offset, then size
            o, z = o[order], z[order]
            first = np.ones(len(o), dtype=bool)                      # shared data counted once
            first[1:] = (o[1:] != o[:-1]) | (z[1:] != z[:-1])
            pairs = np.stack([o[first], z[first]], axis=1)
            bad = np.flatnonzero(pairs[:-1, 0] + pairs[:-1, 1] > pairs[1:, 0])
            if len(bad):
                a, b = pairs[bad[0]], pairs[bad[0] + 1]
                problems.append(f"page descriptors overlap: page data [{int(a[0]):#x}, {int(a[0] + a[1]):#x}) "
                                f"and [{int(b[0]):#x}, {int(b[0] + b[1]):#x}) "
                                f"({len(bad)} overlap{'s' if len(bad) > 1 else ''})")
                shifted = True
        for p in problems:
            self._warnings.append(f"{self.path}: damaged dump: {p}" + (
                "; no page of this file is read" if shifted else
                "; this file's own pages are not affected"))
        if shifted:
            self.desc_damage = problems[0]

    # -- properties ----------------------------------------------------------

    @property
    def warnings(self) -> tuple[str, ...]:
        """Everything odd found so far (reading pages may add more)."""
        return tuple(self._warnings)

    @property
    def format(self) -> str:
        return "kdump-compressed (makedumpfile flattened)" if self.flattened else "kdump-compressed"

    @property
    def compression(self) -> list[str]:
        """Compression methods the header's status announces (pages say per page)."""
        return [n for bit, n in K.COMPRESSION_NAMES.items() if self.status & bit]

    @property
    def status_flags(self) -> list[str]:
        return [n for bit, n in K.STATUS_NAMES.items() if self.status & bit]

    @property
    def pages_excluded(self) -> int:
        """Pages the 1st bitmap has and the dump left out (by dump level)."""
        return self.pages_present - self.pages_dumped_all

    @property
    def pages_elsewhere(self) -> int:
        """Dumped pages held by the other files of a split dump (0 otherwise)."""
        return self.pages_dumped_all - self.pages_dumped

    @property
    def mapped(self) -> list[tuple[Region, KdumpPages]]:
        pages = self.pages
        return [(r, pages) for r in self.regions]

    @property
    def pages(self) -> KdumpPages:
        """The page backing (created on first use, shared by every :meth:`memory`)."""
        if self._pages is None:
            self._pages = KdumpPages(self, self._cache_bytes)
        return self._pages

    @cached_property
    def notes(self) -> list[Note]:
        """The ELF notes the dump carries (kdump header v4+: ``offset_note``)."""
        sub = self.sub_header
        if self.header_version < 4 or sub.size_note == 0 or sub.offset_note <= 0:
            return []
        if sub.size_note > NOTE_READ_LIMIT:
            self._warnings.append(f"{self.path}: the notes claim {sub.size_note} bytes; ignored")
            return []
        try:
            data = self.view.read(sub.offset_note, sub.size_note)
        except _Missing:
            self._warnings.append(f"{self.path}: the notes ({sub.size_note} bytes at "
                                  f"{sub.offset_note:#x}) are not in the file")
            return []
        return _parse_notes(data, self._warnings, f"{self.path}: notes")

    @cached_property
    def vmcoreinfo(self) -> str | None:
        """The VMCOREINFO text (kdump header v3+, or a VMCOREINFO note)."""
        sub = self.sub_header
        if self.header_version >= 3 and sub.size_vmcoreinfo and sub.offset_vmcoreinfo > 0:
            if sub.size_vmcoreinfo <= NOTE_READ_LIMIT:
                try:
                    data = self.view.read(sub.offset_vmcoreinfo, sub.size_vmcoreinfo)
                    return data.rstrip(b"\0").decode("ascii", "replace")
                except _Missing:
                    self._warnings.append(f"{self.path}: the VMCOREINFO ({sub.size_vmcoreinfo} bytes "
                                          f"at {sub.offset_vmcoreinfo:#x}) is not in the file")
        for note in self.notes:
            if note.name == "VMCOREINFO":
                return note.desc.rstrip(b"\0").decode("ascii", "replace")
        return None

    @property
    def cpus(self) -> list[CpuState]:
        return prstatus_cpus(self.notes)

    # -- pages -----------------------------------------------------------------

    def page_state(self, pfn: int) -> str:
        """``"dumped"``, ``"excluded"``, ``"absent"`` (not described: a hole) or, in one file of
        a split dump, ``"other file"`` (dumped, in another file's pfn range)."""
        if not 0 <= pfn < self.max_mapnr:
            return "absent"
        bit = 1 << (pfn & 7)
        if self._bm2[pfn >> 3] & bit:
            return "dumped" if self.start_pfn <= pfn < self.end_pfn else "other file"
        if self._bm1[pfn >> 3] & bit:
            return "excluded"
        return "absent"

    def _rank_of(self, pfn: int) -> int:
        """Number of dumped pages before ``pfn`` (the index of its descriptor)."""
        rank = self._rank
        if rank is None:
            import numpy as np

            lut = np.frombuffer(_POPCOUNT8, dtype=np.uint8)
            counts = lut[self._bm2]
            pad = (-len(counts)) % _RANK_BYTES
            if pad:
                counts = np.concatenate([counts, np.zeros(pad, dtype=np.uint8)])
            per = counts.reshape(-1, _RANK_BYTES).sum(axis=1, dtype=np.int64)
            rank = self._rank = [0, *np.cumsum(per).tolist()]
        byte = pfn >> 3
        if byte >= len(self._bm2_bytes):
            return rank[-1]
        blk = byte // _RANK_BYTES
        r = rank[blk]
        lo = blk * _RANK_BYTES
        if byte > lo:
            r += int.from_bytes(self._bm2_bytes[lo:byte], "little").bit_count()
        return r + (self._bm2_bytes[byte] & ((1 << (pfn & 7)) - 1)).bit_count()

    def page_absent(self, pfn: int) -> str | None:
        """Why page ``pfn``'s contents are not in this file (a :class:`NotInImage` reason),
        or ``None`` when the file holds a descriptor for it (its data is not read)."""
        if not 0 <= pfn < self.max_mapnr:
            return "is beyond the pages the dump describes"
        bit = 1 << (pfn & 7)
        if not self._bm2_bytes[pfn >> 3] & bit:
            if self._bm1[pfn >> 3] & bit:
                return EXCLUDED_REASON
            return "is not in the dump (a memory hole)"
        if not self.start_pfn <= pfn < self.end_pfn:
            return (f"is not in this file of the split dump (it holds pfns {self.start_pfn:#x}-"
                    f"{self.end_pfn:#x}; give every file of the split dump)")
        if self.desc_damage is not None:
            return f"is not read: the dump is damaged ({self.desc_damage})"
        return None

    def absent_mask(self, pfns: Any) -> Any:
        """:meth:`page_absent` is not ``None``, for a numpy array of pfns (vectorised)."""
        import numpy as np

        pfns = np.asarray(pfns, dtype=np.uint64)
        inside = pfns < np.uint64(self.max_mapnr)
        p = np.where(inside, pfns, 0).astype(np.intp)
        dumped = inside & ((self._bm2[p >> 3] >> (p & 7).astype(np.uint8)) & 1).astype(bool)
        held = dumped & (pfns >= np.uint64(self.start_pfn)) & (pfns < np.uint64(self.end_pfn))
        if self.desc_damage is not None:
            held[:] = False
        return ~held

    def page_desc(self, pfn: int) -> _Desc:
        """The descriptor of a dumped page; :class:`NotInImage` otherwise."""
        bs = self.block_size
        why = self.page_absent(pfn)
        if why is not None:
            raise NotInImage(pfn * bs, bs, why)
        at = self.desc_offset + (self._rank_of(pfn) - self._rank_start) * K.PAGE_DESC_SIZE
        try:
            raw = self.view.read(at, K.PAGE_DESC_SIZE)
        except _Missing:
            raise NotInImage(pfn * bs, bs, "is not in the dump (its page descriptor is missing "
                             "from the truncated file)") from None
        offset, size, flags = struct.unpack_from("<qII", raw)
        return _Desc(offset, size, flags)

    def page_data(self, pfn: int, desc: _Desc) -> bytes:
        """Read and decompress one page's data (no caching)."""
        bs = self.block_size
        pa = pfn * bs
        if desc.size == 0 or desc.offset <= 0:
            if self.status & K.DUMP_DH_COMPRESSED_INCOMPLETE:
                raise NotInImage(pa, bs, "was not written (the dump is incomplete)")
            raise NotInImage(pa, bs, f"has a corrupt page descriptor (offset {desc.offset:#x}, "
                             f"size {desc.size:#x})")
        if desc.size > _max_data(bs):
            raise NotInImage(pa, bs, f"has a corrupt page descriptor (size {desc.size:#x} for a "
                             f"{bs}-byte page)")
        try:
            data = self.view.read(desc.offset, desc.size)
        except _Missing:
            raise NotInImage(pa, bs, "is not in the dump (its data is missing from the truncated "
                             "file)") from None
        method = _flag_compression(desc.flags)
        if method is None:
            if desc.size != bs:
                raise NotInImage(pa, bs, f"has corrupt page data (an uncompressed page of "
                                 f"{desc.size} bytes, not {bs})")
            return data
        fn = decompressor(method)
        if fn is None:
            raise _missing_library(self.path, method)
        try:
            out = fn(data, bs)
        except Exception as e:       # every library has its own error type
            raise NotInImage(pa, bs, f"has corrupt page data ({method}: {e})") from None
        if len(out) != bs:
            raise NotInImage(pa, bs, f"has corrupt page data ({method} gave {len(out)} bytes, "
                             f"not {bs})")
        return out

    # -- memory ----------------------------------------------------------------

    def memory(self) -> PhysicalMemory:
        """The dump's memory (shares, and on close unmaps, this file)."""
        return PhysicalMemory(self.mapped, self._warnings, elf_cores=(self,))

    def close(self) -> None:
        if self._pages is not None:
            self._pages.close()
        self.reader.close()
        self.backing.close()

    def __enter__(self) -> "KdumpFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<KdumpFile {self.path!r} {'flattened ' if self.flattened else ''}"
                f"block {self.block_size} {len(self.regions)} regions>")


def join_split_dumps(dumps: Sequence[KdumpFile]) -> tuple[list[tuple[Region, KdumpPages]] | None,
                                                            list[str], list[str]]:
    """The files of one split dump read as one memory: ``(mapped, warnings, superseded)``.

    makedumpfile ``--split`` writes files that share the headers and both bitmaps and each
    hold the page descriptors and data of their own pfn range (``start_pfn``-``end_pfn`` of
    the sub-header), their descriptors indexed from that start.  ``mapped`` are the regions
    of the whole dump, backed by one :class:`KdumpPages` that reads each page from the file
    holding it; a page of a file not given reads as not in the dump, saying so.  When the
    files are not parts of one dump (different bitmaps or headers) or their pfn ranges
    overlap, ``mapped`` is ``None`` and ``warnings`` say why.  ``superseded`` are the
    files' own "one file of a split dump" warnings, which no longer apply once joined.
    """
    first = dumps[0]
    names = ", ".join(d.path for d in dumps)
    for d in dumps[1:]:
        same = (d.block_size == first.block_size and d.max_mapnr == first.max_mapnr
                and d.header.timestamp == first.header.timestamp and d.header.utsname == first.header.utsname
                and d.sub_header.dump_level == first.sub_header.dump_level
                and d._bm1.tobytes() == first._bm1.tobytes() and d._bm2_bytes == first._bm2_bytes)
        if not same:
            return None, [f"{d.path} and {first.path} are not files of one split dump (their headers or "
                          "bitmaps differ); each is read on its own"], []
    parts = sorted(dumps, key=lambda d: (d.start_pfn, d.end_pfn))
    for a, b in zip(parts, parts[1:]):
        if b.start_pfn < a.end_pfn:
            return None, [f"damaged split dump: {a.path} (pfns {a.start_pfn:#x}-{a.end_pfn:#x}) and {b.path} "
                          f"(pfns {b.start_pfn:#x}-{b.end_pfn:#x}) overlap; each is read on its own"], []
    warnings: list[str] = []
    held = sum(d.pages_dumped for d in dumps)
    if held < first.pages_dumped_all:
        ranges = ", ".join(f"{d.start_pfn:#x}-{d.end_pfn:#x}" for d in parts)
        warnings.append(f"split dump ({names}): the files given hold {held} of its {first.pages_dumped_all} "
                        f"dumped pages (pfns {ranges}); the other pages are in files not given")
    pages = KdumpPages(first, first._cache_bytes, parts=parts)
    superseded = [d._split_warning for d in dumps if d._split_warning]
    return [(r, pages) for r in first.regions], warnings, superseded


def open_kdump_backing(path: str, backing: FileBacking,
                       cache_bytes: int = DEFAULT_CACHE_BYTES) -> KdumpFile:
    """Parse an already-mapped kdump file (the caller keeps ownership on error)."""
    return KdumpFile(path, backing, cache_bytes)


def open_kdump(path: str | os.PathLike[str], cache_bytes: int = DEFAULT_CACHE_BYTES) -> KdumpFile:
    """Open a kdump-compressed file (plain or flattened); :class:`ImageError` if unusable.

    ``cache_bytes`` bounds the decompressed pages kept in memory.
    """
    path = os.fspath(path)
    backing = FileBacking.open(path)
    try:
        return KdumpFile(path, backing, cache_bytes)
    except BaseException:
        backing.close()
        raise


# --------------------------------------------------------------------------
# Writing (for tests, benchmarks and tools)
# --------------------------------------------------------------------------

_COMPRESS_FLAG = {"zlib": K.DUMP_DH_COMPRESSED_ZLIB, "lzo": K.DUMP_DH_COMPRESSED_LZO,
                  "snappy": K.DUMP_DH_COMPRESSED_SNAPPY, "zstd": K.DUMP_DH_COMPRESSED_ZSTD}


def _compressor(name: str) -> Callable[[bytes], bytes]:
    if name == "zlib":
        return lambda d: zlib.compress(d, 6)
    try:
        if name == "lzo":
            try:
                import lzo

                return lambda d: lzo.compress(d, 1, False)
            except ImportError:
                import lzokay

                return lzokay.compress
        if name == "snappy":
            try:
                import snappy

                return snappy.compress
            except ImportError:
                import cramjam

                return lambda d: bytes(cramjam.snappy.compress_raw(d))
        if name == "zstd":
            import zstandard

            c = zstandard.ZstdCompressor(level=1)
            return c.compress
    except ImportError:
        raise ImageError(f"cannot write {name}-compressed pages: no {name} library is installed "
                         f"({_EXTRA_PACKAGES[name]}); {KDUMP_EXTRA_HINT}") from None
    raise ValueError(f"unknown compression {name!r}")


def _note_bytes(notes: Iterable[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for name, ntype, desc in notes:
        nb = name.encode() + b"\0"
        out += struct.pack("<III", len(nb), len(desc), ntype)
        out += nb.ljust((len(nb) + 3) & ~3, b"\0")
        out += desc.ljust((len(desc) + 3) & ~3, b"\0")
    return bytes(out)


def write_kdump(path: str | os.PathLike[str], pages: Mapping[int, bytes] | None = None, *,
                block_size: int = 4096, compression: str | None = "zlib",
                zero_runs: Iterable[tuple[int, int]] = (),
                excluded_runs: Iterable[tuple[int, int]] = (),
                max_mapnr: int | None = None, vmcoreinfo: str | None = None,
                notes: Iterable[tuple[str, int, bytes]] = (), header_version: int = 6,
                flattened: bool = False, flat_chunk: int = 1 << 16, big_endian: bool = False,
                status: int = 0, release: str = "", machine: str = "aarch64") -> int:
    """Write a makedumpfile-format (diskdump) file; returns its size in bytes.

    ``pages`` maps page frame numbers to ``block_size`` bytes of data;
    ``zero_runs`` are ``(first_pfn, count)`` runs dumped as one shared zero
    page (as QEMU and makedumpfile do); ``excluded_runs`` are present in the
    1st bitmap but not dumped.  ``compression`` is zlib, lzo, snappy, zstd
    or ``None`` (a page that does not shrink is stored raw, as makedumpfile
    does).  ``flattened`` writes makedumpfile's flattened stream instead,
    in records of at most ``flat_chunk`` bytes.  VMCOREINFO goes in the
    sub-header (version 3+) and, with ``notes``, in the ELF notes (4+).
    """
    import numpy as np

    pages = dict(pages or {})
    bs = block_size
    for pfn, data in pages.items():
        if len(data) != bs:
            raise ValueError(f"page {pfn:#x}: {len(data)} bytes, not {bs}")
    zero_runs, excluded_runs = list(zero_runs), list(excluded_runs)
    top = max([p + 1 for p in pages] + [a + n for a, n in zero_runs + excluded_runs] + [1])
    max_mapnr = max_mapnr if max_mapnr is not None else top
    bitmap_bytes = (max_mapnr + 7) // 8
    half_blocks = max(1, -(-bitmap_bytes // bs))
    bitmap_blocks = 2 * half_blocks
    bm1 = np.zeros(half_blocks * bs * 8, dtype=np.uint8)
    bm2 = np.zeros_like(bm1)
    zero_pfns = [np.arange(a, a + n, dtype=np.int64) for a, n in zero_runs]
    for a, n in excluded_runs:
        bm1[a:a + n] = 1
    for arr in zero_pfns:
        bm1[arr] = 1
        bm2[arr] = 1
    if pages:
        keys = np.fromiter(pages, dtype=np.int64, count=len(pages))
        bm1[keys] = 1
        bm2[keys] = 1
    dumped = np.flatnonzero(bm2)
    compress = _compressor(compression) if compression else None
    flag = _COMPRESS_FLAG[compression] if compression else 0

    # notes and VMCOREINFO live in the sub-header blocks
    all_notes = list(notes)
    if vmcoreinfo is not None and header_version >= 4:
        all_notes.append(("VMCOREINFO", 0, vmcoreinfo.encode()))
    note_blob = _note_bytes(all_notes) if header_version >= 4 else b""
    S = K.kdump_structs(not big_endian)
    sub_fixed = S.sub_header_size
    vmci = vmcoreinfo.encode() if vmcoreinfo is not None and header_version >= 3 else b""
    sub_len = sub_fixed + len(note_blob) + len(vmci)
    sub_hdr_size = max(1, -(-sub_len // bs))
    off_notes = bs + sub_fixed
    off_vmci = off_notes + len(note_blob)
    bitmap_off = (1 + sub_hdr_size) * bs
    desc_off = bitmap_off + bitmap_blocks * bs
    data_off = desc_off + len(dumped) * K.PAGE_DESC_SIZE

    data = bytearray()
    descs = np.zeros(len(dumped), dtype=[("offset", "<i8"), ("size", "<u4"), ("flags", "<u4"),
                                         ("page_flags", "<u8")])

    def store(raw: bytes) -> tuple[int, int, int]:
        at = data_off + len(data)
        if compress is not None:
            c = compress(raw)
            if len(c) < bs:
                data.extend(c)
                return at, len(c), flag
        data.extend(raw)
        return at, bs, 0

    if zero_pfns:
        z = store(bytes(bs))
        descs["offset"], descs["size"], descs["flags"] = z
    if pages:
        index = np.searchsorted(dumped, keys)
        for i, pfn in zip(index.tolist(), keys.tolist()):
            descs[i] = (*store(pages[pfn]), 0)
    if big_endian:
        descs = descs.astype([("offset", ">i8"), ("size", ">u4"), ("flags", ">u4"),
                              ("page_flags", ">u8")])
    status |= flag
    uts = {f: b"" for f in ("sysname", "nodename", "release", "version", "machine", "domainname")}
    uts.update(sysname=b"Linux", release=release.encode(), machine=machine.encode())
    header = S.DiskDumpHeader.build(dict(
        signature=K.KDUMP_SIGNATURE, header_version=header_version,
        utsname={k: v.ljust(K.NEW_UTS_LEN + 1, b"\0") for k, v in uts.items()},
        timestamp=dict(tv_sec=0, tv_usec=0), status=status, block_size=bs,
        sub_hdr_size=sub_hdr_size, bitmap_blocks=bitmap_blocks, max_mapnr=min(max_mapnr, 0xFFFFFFFF),
        total_ram_blocks=0, device_blocks=0, written_blocks=0, current_cpu=0, nr_cpus=1))
    sub = S.KdumpSubHeader.build(dict(
        phys_base=0, dump_level=0, split=0, start_pfn=0, end_pfn=max_mapnr,
        offset_vmcoreinfo=off_vmci if vmci else 0, size_vmcoreinfo=len(vmci),
        offset_note=off_notes if note_blob else 0, size_note=len(note_blob),
        offset_eraseinfo=0, size_eraseinfo=0, start_pfn_64=0, end_pfn_64=max_mapnr,
        max_mapnr_64=max_mapnr if header_version >= 6 else 0))
    pieces: list[tuple[int, bytes]] = [
        (0, header.ljust(bs, b"\0")),
        (bs, (sub + note_blob + vmci).ljust(sub_hdr_size * bs, b"\0")),
        (bitmap_off, np.packbits(bm1, bitorder="little").tobytes()),
        (bitmap_off + half_blocks * bs, np.packbits(bm2, bitorder="little").tobytes()),
        (desc_off, descs.tobytes()),
        (data_off, bytes(data)),
    ]
    with open(path, "wb") as f:
        if not flattened:
            for at, blob in pieces:
                f.seek(at)
                f.write(blob)
            f.truncate(data_off + len(data))
            return data_off + len(data)
        f.write(K.MakedumpfileHeader.build(dict(
            signature=K.MDF_SIGNATURE.ljust(16, b"\0"), type=K.MDF_TYPE_FLAT_HEADER,
            version=K.MDF_VERSION_FLAT_HEADER)).ljust(K.MDF_HEADER_SIZE, b"\0"))
        for at, blob in pieces:
            for i in range(0, len(blob), flat_chunk):
                part = blob[i:i + flat_chunk]
                f.write(_FLAT_REC.pack(at + i, len(part)))
                f.write(part)
        f.write(_FLAT_REC.pack(K.MDF_END_FLAG, K.MDF_END_FLAG))
        return f.tell()
