"""The physical memory a walk reads: raw images, ELF cores, in-memory buffers.

A :class:`PhysicalMemory` is a sorted set of non-overlapping :class:`Region` s,
each backed by a :class:`Backing` that reads bytes at an offset.  Files are
memory-mapped read-only (``mmap.ACCESS_READ``) and never read whole; ELF cores
(QEMU ``dump-guest-memory``, Linux ``/proc/vmcore``) are mapped by the
*physical* addresses of their ``PT_LOAD`` segments (``p_paddr``).

Reading an address no region covers raises :class:`~pgwalk.errors.NotInImage`
(the walker reports an external abort); unusable input raises
:class:`~pgwalk.errors.ImageError` with one sentence.  Anything merely odd
(a truncated segment, overlapping images, a non-AArch64 machine) is mapped as
well as it can be and recorded in :attr:`PhysicalMemory.warnings`.

Opening files by their format (raw, ELF, kdump, split kdump) is
:mod:`pgwalk.images`.  Other dump formats (:mod:`pgwalk.kdump`) plug in through the :class:`Backing`
protocol: build ``(Region, backing)`` pairs and pass them to
:class:`PhysicalMemory`.  Regions whose backing exposes a ``buffer`` (an mmap
or ``bytes``) are read on the fast path, straight from that buffer.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from bisect import bisect_right
from functools import cached_property

from pgwalk.errors import ImageError, InputError, NotInImage
from pgwalk.records import record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, runtime_checkable

    import numpy as np

    from pgwalk.formats.elf import ElfStructs
else:                                   # (isinstance as typing's; typing is not imported: start-up)
    from pgwalk.records import Protocol, runtime_checkable

__all__ = [
    "Region", "Backing", "FileBacking", "BytesBacking", "ZeroBacking", "WordsBacking",
    "PhysicalMemory", "ElfCore", "Note", "parse_image_spec", "open_backing",
    "open_elf_core", "is_elf", "parse_elf_core", "check_range", "unique_objects", "NOTE_READ_LIMIT", "PA_LIMIT",
]

#: most bytes of PT_NOTE data :class:`ElfCore` will read
NOTE_READ_LIMIT = 64 << 20
#: most notes read from one PT_NOTE segment
_NOTE_COUNT_LIMIT = 1 << 16
#: physical addresses are below this (regions are clipped to it)
PA_LIMIT = 1 << 64
#: largest overlap between two segments of one file whose contents are compared
_COMPARE_LIMIT = 256 << 20
_CHUNK = 1 << 20

_LE_U64 = struct.Struct("<Q").unpack_from
_BE_U64 = struct.Struct(">Q").unpack_from


# --------------------------------------------------------------------------
# Regions and backings
# --------------------------------------------------------------------------

@record(frozen=True, slots=True, compiled_init=True)
class Region:
    """One contiguous range of physical memory ``[base, base + size)``."""

    base: int      #: physical address of the first byte
    size: int      #: length in bytes (> 0)
    source: str    #: file path, or ``"<memory>"``
    offset: int    #: offset of ``base`` in the backing (raw file: 0; ELF: p_offset)
    kind: str      #: "raw", "elf PT_LOAD", "zero fill", "memory", ...

    @property
    def end(self) -> int:
        """First physical address after the region."""
        return self.base + self.size

    def __contains__(self, pa: int) -> bool:
        return self.base <= pa < self.base + self.size

    def __str__(self) -> str:
        return f"[{self.base:#x}, {self.end:#x}) {self.kind} {self.source}+{self.offset:#x}"


@runtime_checkable
class Backing(Protocol):
    """Where a region's bytes come from.

    ``read(offset, size)`` returns exactly ``size`` bytes; :class:`PhysicalMemory`
    only asks for ranges inside a region it was given, at
    ``region.offset + (pa - region.base)``.  A backing that finds a hole lazily
    (an excluded page of a dump) raises :class:`NotInImage`; the caller re-raises
    it with the physical address.

    Optional attributes, used when present:

    * ``buffer``: an object ``struct.unpack_from`` and slicing accept (an mmap,
      ``bytes``), indexed by the same offsets; such regions take the fast path.
    * ``read_u64(offset, big_endian) -> int``: a cheaper 8-byte read.
    """

    def read(self, offset: int, size: int) -> bytes: ...

    def close(self) -> None: ...


class FileBacking:
    """A whole file, memory-mapped read-only."""

    __slots__ = ("path", "size", "buffer", "file", "compression")

    def __init__(self, path: str, size: int, buffer: mmap.mmap) -> None:
        self.path = path
        #: the file on disk (``path``, or the temporary copy of a compressed ``path``)
        self.file = path
        #: the compression of ``path`` (``"gzip"``, ...) when ``file`` is its decompressed copy, else None
        self.compression: str | None = None
        self.size = size
        self.buffer: mmap.mmap | None = buffer

    @classmethod
    def open(cls, path: str) -> "FileBacking":
        """Open and map ``path`` read-only; :class:`ImageError` if impossible."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise ImageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{path}: is a directory, not a memory image") from None
        except PermissionError:
            raise ImageError(f"{path}: permission denied") from None
        except OSError as e:
            raise ImageError(f"{path}: cannot open: {e.strerror or e}") from None
        except ValueError as e:                 # a NUL in the name (callers other than a shell)
            raise ImageError(f"{path!r}: not a file name: {e}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise ImageError(f"{path}: is a directory, not a memory image")
            if stat.S_ISREG(st.st_mode):
                size = st.st_size
            else:                                   # a block device: ask its end
                try:
                    size = os.lseek(fd, 0, os.SEEK_END)
                except OSError:
                    size = 0
            if size == 0:
                raise ImageError(f"{path}: the file is empty")
            try:
                mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
            except (OSError, ValueError, OverflowError) as e:
                raise ImageError(f"{path}: cannot be memory-mapped ({e})") from None
        finally:
            os.close(fd)
        return cls(path, size, mm)

    def read(self, offset: int, size: int) -> bytes:
        if self.buffer is None:
            raise ValueError(f"{self.path}: read after close")
        return self.buffer[offset:offset + size]

    def close(self) -> None:
        mm, self.buffer = self.buffer, None
        if mm is not None:
            try:
                mm.close()
            except BufferError:     # numpy views still alive: the GC unmaps it later
                pass

    def __repr__(self) -> str:
        return f"FileBacking({self.path!r}, size={self.size:#x})"


class BytesBacking:
    """An in-memory ``bytes`` object (a snapshot: bytearrays are copied)."""

    __slots__ = ("buffer",)

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.buffer: bytes = bytes(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.buffer[offset:offset + size]

    def close(self) -> None:
        pass


class ZeroBacking:
    """Memory that reads as zeros and occupies nothing (ELF ``p_memsz > p_filesz``).

    ``missing``: why the bytes are not really in the image although they read as zeros
    (an ELF core's zero tail: ``makedumpfile -E`` leaves the pages it excludes out this
    way), reported by :meth:`PhysicalMemory.contents_missing`; ``None``: real zeros.
    """

    __slots__ = ("missing",)
    buffer = None

    def __init__(self, missing: str | None = None) -> None:
        self.missing = missing

    def missing_reason(self, offset: int) -> str | None:
        return self.missing

    def missing_mask(self, offsets: "np.ndarray") -> "np.ndarray":
        import numpy as np

        return np.full(len(offsets), self.missing is not None, dtype=bool)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(size)

    def read_u64(self, offset: int, big_endian: bool = False) -> int:
        return 0

    def close(self) -> None:
        pass


class WordsBacking:
    """Sparse little-endian 64-bit words keyed by 8-aligned offset; zeros elsewhere."""

    __slots__ = ("words", "_sorted")
    buffer = None

    def __init__(self, words: Mapping[int, int]) -> None:
        self.words: dict[int, int] = dict(words)
        self._sorted: list[int] | None = None

    def read_u64(self, offset: int, big_endian: bool = False) -> int:
        if offset & 7:
            return int.from_bytes(self.read(offset, 8), "big" if big_endian else "little")
        value = self.words.get(offset, 0)
        if big_endian and value:
            return int.from_bytes(value.to_bytes(8, "little"), "big")
        return value

    def read(self, offset: int, size: int) -> bytes:
        start = offset & ~7
        stop = (offset + size + 7) & ~7
        if (stop - start) // 8 <= 4 * len(self.words) + 64:
            get = self.words.get
            raw = b"".join(get(a, 0).to_bytes(8, "little") for a in range(start, stop, 8))
        else:                                   # large read, few words: place them
            if self._sorted is None:
                self._sorted = sorted(self.words)
            out = bytearray(stop - start)
            keys = self._sorted
            i = bisect_right(keys, start - 1)
            while i < len(keys) and keys[i] < stop:
                k = keys[i]
                out[k - start:k - start + 8] = self.words[k].to_bytes(8, "little")
                i += 1
            raw = bytes(out)
        skip = offset - start
        return raw[skip:skip + size]

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------
# PhysicalMemory
# --------------------------------------------------------------------------

Mapped = tuple[Region, Backing]


class PhysicalMemory:
    """Physical memory assembled from regions; reads bytes and 64-bit words.

    ``PhysicalMemory(mapped, warnings)`` takes ``(Region, Backing)`` pairs in
    priority order: where regions overlap, the one given first is kept and a
    warning is recorded (overlaps between segments of one file with equal
    contents, such as the kernel-text PT_LOAD of an arm64 /proc/vmcore, are
    silent).  It owns the backings and closes them in :meth:`close`.

    Implements :class:`pgwalk.memory_protocol.Memory` (``read``, ``read_u64``) with the
    optional ``regions``, ``numpy_view``, ``contents_missing``, ``contents_missing_mask``,
    ``contains``, ``warnings``, ``elf_cores`` and ``close``.
    """

    def __init__(self, mapped: Iterable[Mapped] = (), warnings: Iterable[str] = (),
                 elf_cores: Iterable["ElfCore"] = ()) -> None:
        mapped = list(mapped)
        pieces, overlap_warnings = _resolve_overlaps(mapped)
        pieces.sort(key=lambda p: p[0].base)
        self.regions: tuple[Region, ...] = tuple(r for r, _ in pieces)
        self.warnings: tuple[str, ...] = tuple(_unique([*warnings, *overlap_warnings]))
        #: the ELF cores the regions came from (for their notes), in order given
        self.elf_cores: tuple[ElfCore, ...] = tuple(elf_cores)
        self._backings: tuple[Backing, ...] = tuple(p[1] for p in pieces)
        # every backing given (some may have lost all their bytes to overlaps)
        self._owned: list[Backing] = unique_objects(
            [b for _r, b in mapped] + [c.backing for c in self.elf_cores])
        self._index: dict[Region, int] = {r: i for i, r in enumerate(self.regions)}
        self._bases: list[int] = [r.base for r in self.regions]
        # per region: (end, buffer or None, buffer index of pa 0, read_u64 or None)
        self._entries: list[tuple[int, Any, int, Callable[[int, bool], int] | None]] = [
            (r.end, getattr(b, "buffer", None), r.offset - r.base, getattr(b, "read_u64", None))
            for r, b in pieces
        ]
        # per region: the backing's missing_reason (a crash dump's excluded pages, a zero tail), or None
        self._missing: tuple[Callable[[int], str | None] | None, ...] = tuple(
            getattr(b, "missing_reason", None) for b in self._backings)
        # (base, end, buffer, buffer index of pa 0) of the buffer region read_u64 read last: walks
        # read many words of one region in a row (a region never matches before the first read)
        self._last: tuple[int, int, Any, int] = (1, 0, None, 0)
        self._closed = False

    # -- constructors ------------------------------------------------------

    @classmethod
    def from_buffers(cls, chunks: Mapping[int, bytes | bytearray | memoryview]) -> "PhysicalMemory":
        """In-memory regions ``{base: data}`` (copied; empty chunks are skipped)."""
        mapped: list[Mapped] = []
        for base, data in chunks.items():
            backing = BytesBacking(data)
            if backing.buffer:
                check_range(base, len(backing.buffer), "<memory>")
                mapped.append((Region(base, len(backing.buffer), "<memory>", 0, "memory"), backing))
        return cls(mapped)

    @classmethod
    def from_words(cls, words: Mapping[int, int], ram: tuple[int, int]) -> "PhysicalMemory":
        """A RAM window ``[ram[0], ram[1])`` that is zero except for ``words``.

        ``words`` maps 8-aligned physical addresses inside the window to 64-bit
        values, stored little-endian.  Nothing window-sized is allocated.
        """
        start, end = ram
        if not 0 <= start < end <= PA_LIMIT:
            raise ValueError(f"bad RAM window [{start:#x}, {end:#x})")
        for pa, value in words.items():
            if pa & 7 or not start <= pa <= end - 8:
                raise ValueError(f"word address {pa:#x} is unaligned or outside RAM [{start:#x}, {end:#x})")
            if not 0 <= value < 1 << 64:
                raise ValueError(f"word at {pa:#x}: {value:#x} is not a 64-bit value")
        # offset == base, so backing offsets are physical addresses
        region = Region(start, end - start, "<memory>", start, "memory")
        return cls([(region, WordsBacking(words))])

    # -- reading -----------------------------------------------------------

    def read_u64(self, pa: int, big_endian: bool = False) -> int:
        """The 64-bit word at ``pa`` (little-endian unless ``big_endian``)."""
        base, end, buf, adj = self._last
        if base <= pa and pa + 8 <= end:
            return (_BE_U64 if big_endian else _LE_U64)(buf, pa + adj)[0]
        i = bisect_right(self._bases, pa) - 1
        if i >= 0:
            end, buf, adj, u64 = self._entries[i]
            if pa + 8 <= end:
                if buf is not None:
                    self._last = (self._bases[i], end, buf, adj)
                    return (_BE_U64 if big_endian else _LE_U64)(buf, pa + adj)[0]
                if u64 is not None:
                    return u64(pa + adj, big_endian)
        return int.from_bytes(self.read(pa, 8), "big" if big_endian else "little")

    def read(self, pa: int, size: int) -> bytes:
        """``size`` bytes at ``pa``; may cross from one region into an adjacent one."""
        if self._closed:
            raise ValueError("read from a closed PhysicalMemory")
        if size <= 0:
            if size == 0:
                return b""
            raise ValueError(f"negative read size {size}")
        i = bisect_right(self._bases, pa) - 1
        if i < 0 or pa >= self._entries[i][0]:
            raise NotInImage(pa, size)
        stop = pa + size
        if stop <= self._entries[i][0]:
            return self._read_in(i, pa, size)
        parts: list[bytes] = []
        cur = pa
        while True:
            take = min(stop, self._entries[i][0]) - cur
            parts.append(self._read_in(i, cur, take))
            cur += take
            if cur == stop:
                return b"".join(parts)
            i += 1
            if i == len(self._bases) or self._bases[i] != cur:
                raise NotInImage(pa, size, f"is only partly in the image (nothing at {cur:#x})")

    def _read_in(self, i: int, pa: int, size: int) -> bytes:
        """Read inside region ``i`` (the range is known to be covered)."""
        _end, buf, adj, _u64 = self._entries[i]
        if buf is not None:
            return buf[pa + adj:pa + adj + size]
        try:
            data = self._backings[i].read(pa + adj, size)
        except NotInImage as e:
            raise NotInImage(pa, size, e.reason) from None
        if len(data) != size:
            raise ImageError(f"{self.regions[i].source}: short read at {pa:#x} "
                             f"({len(data)} of {size} bytes)")
        return data

    def contains(self, pa: int, size: int = 8) -> bool:
        """Whether every byte of ``[pa, pa + size)`` is in the image (size 0: True)."""
        if size <= 0:
            return True
        i = bisect_right(self._bases, pa) - 1
        if i < 0 or pa >= self._entries[i][0]:
            return False
        stop = pa + size
        while stop > self._entries[i][0]:
            cur = self._entries[i][0]
            i += 1
            if i == len(self._bases) or self._bases[i] != cur:
                return False
        return True

    def contents_missing(self, pa: int, verify: bool = False) -> str | None:
        """Why the byte at ``pa`` is not in the image (a :class:`NotInImage` reason: not in
        any region, or a crash dump's page excluded or held by a file not given), or ``None``.

        Without ``verify`` nothing is read (a dump's bitmaps decide); with it the page is
        read too, so corrupt page data also counts as missing (a region held in a buffer, a
        mapped file or bytes, has nothing to read that could fail).
        """
        i = bisect_right(self._bases, pa) - 1
        if i < 0 or pa >= self._entries[i][0]:
            return "is not in the image"
        why = self._missing[i]
        reason = why(pa + self._entries[i][2]) if why is not None else None
        if reason is None and verify and self._entries[i][1] is None:
            try:
                self._read_in(i, pa, 1)
            except NotInImage as e:
                reason = e.reason
        return reason

    def contents_missing_mask(self, pas: "np.ndarray") -> "np.ndarray":
        """:meth:`contents_missing` is not ``None`` (without reading), for a numpy array of PAs."""
        import numpy as np

        pas = np.asarray(pas, dtype=np.uint64)
        if not self._bases:
            return np.ones(len(pas), dtype=bool)
        bases = np.array(self._bases, dtype=np.uint64)
        ends = np.array([e[0] for e in self._entries], dtype=np.uint64)
        i = np.searchsorted(bases, pas, side="right") - 1
        j = np.maximum(i, 0)
        inside = (i >= 0) & (pas < ends[j])
        out = ~inside
        by_backing: dict[int, list[int]] = {}
        for k, b in enumerate(self._backings):
            if getattr(b, "missing_mask", None) is not None:
                by_backing.setdefault(id(b), []).append(k)
        adj = np.array([e[2] for e in self._entries], dtype=np.int64)       # backing offset - PA
        for ks in by_backing.values():
            lanes = np.flatnonzero(inside & np.isin(j, ks))
            if len(lanes):
                offs = (pas[lanes].astype(np.int64) + adj[j[lanes]]).astype(np.uint64)
                out[lanes] = self._backings[ks[0]].missing_mask(offs)
        return out

    def find_region(self, pa: int) -> Region | None:
        """The region holding byte ``pa``, or ``None``."""
        i = bisect_right(self._bases, pa) - 1
        if i >= 0 and pa < self._entries[i][0]:
            return self.regions[i]
        return None

    def numpy_view(self, region: Region, dtype: Any = "u1") -> "np.ndarray":
        """A read-only numpy array over one region, without copying.

        Works for file, bytes and zero-fill regions; sparse word regions and
        other backings raise ``ValueError``.  Drop the views before
        :meth:`close` (a mapped file stays mapped while a view lives).
        """
        import numpy as np

        i = self._index.get(region)
        if i is None:
            raise ValueError(f"{region} is not a region of this memory")
        dt = np.dtype(dtype)
        count = region.size // dt.itemsize
        _end, buf, _adj, _u64 = self._entries[i]
        if buf is not None:
            view = np.frombuffer(buf, dtype=dt, count=count, offset=region.offset)
            view.flags.writeable = False
            return view
        if isinstance(self._backings[i], ZeroBacking):
            return np.broadcast_to(np.zeros((), dtype=dt), (count,))
        raise ValueError(f"{region}: no numpy view for a {type(self._backings[i]).__name__}")

    # -- misc --------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes of physical memory covered."""
        return sum(r.size for r in self.regions)

    def close(self) -> None:
        """Unmap every file; later reads raise ``ValueError``."""
        if self._closed:
            return
        self._closed = True
        self._bases = []
        self._entries = []
        self._last = (1, 0, None, 0)
        for b in self._owned:
            b.close()

    def __enter__(self) -> "PhysicalMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PhysicalMemory {len(self.regions)} regions, {self.size:#x} bytes>"


def _unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in order."""
    return list(dict.fromkeys(items))


def unique_objects(items: Iterable[Any]) -> list[Any]:
    """``items`` without repeated objects (by identity), in order."""
    seen: set[int] = set()
    return [x for x in items if not (id(x) in seen or seen.add(id(x)))]


def check_range(base: int, size: int, source: str) -> None:
    """:class:`ImageError` unless ``[base, base + size)`` fits the address space."""
    if base < 0 or base + size > PA_LIMIT:
        raise ImageError(f"{source}: [{base:#x}, {base + size:#x}) does not fit in the 64-bit "
                         "physical address space")


def _same_contents(a: Mapped, b: Mapped, start: int, stop: int) -> bool:
    """Whether two mapped regions hold the same bytes over ``[start, stop)``."""
    (ra, ba), (rb, bb) = a, b
    if stop - start > _COMPARE_LIMIT:
        return False
    for pa in range(start, stop, _CHUNK):
        n = min(_CHUNK, stop - pa)
        try:
            if ba.read(ra.offset + pa - ra.base, n) != bb.read(rb.offset + pa - rb.base, n):
                return False
        except (NotInImage, ValueError):
            return False
    return True


def _resolve_overlaps(mapped: list[Mapped]) -> tuple[list[Mapped], list[str]]:
    """Cut ``mapped`` (priority order) into non-overlapping pieces; first wins."""
    starts: list[int] = []                     # sorted starts of accepted pieces
    accepted: list[tuple[int, int, int]] = []  # (start, end, index into out), sorted
    out: list[Mapped] = []
    warnings: list[str] = []
    for region, backing in mapped:
        if region.size <= 0:
            continue
        lo, hi = region.base, region.end
        j = bisect_right(starts, lo) - 1
        if j < 0 or accepted[j][1] <= lo:
            j += 1
        cur = lo
        keep: list[tuple[int, int]] = []
        clashes: list[tuple[int, int, Mapped]] = []
        while j < len(accepted) and accepted[j][0] < hi:
            a_lo, a_hi, k = accepted[j]
            if a_lo > cur:
                keep.append((cur, a_lo))
            o_lo, o_hi = max(lo, a_lo), min(hi, a_hi)
            other = out[k]
            if not (other[0].source == region.source
                    and _same_contents(other, (region, backing), o_lo, o_hi)):
                clashes.append((o_lo, o_hi, other))
            cur = max(cur, a_hi)
            j += 1
        if cur < hi:
            keep.append((cur, hi))
        if clashes:
            o_lo, o_hi, (other, _b) = clashes[0]
            more = f" (and {len(clashes) - 1} more overlaps)" if len(clashes) > 1 else ""
            warnings.append(
                f"{region.source}: {region.kind} [{lo:#x}, {hi:#x}) overlaps {other.kind} of "
                f"{other.source} at [{o_lo:#x}, {o_hi:#x}){more}; the region given first is used there")
        for p_lo, p_hi in keep:
            piece = region if (p_lo, p_hi) == (lo, hi) else replace(
                region, base=p_lo, size=p_hi - p_lo, offset=region.offset + (p_lo - lo))
            out.append((piece, backing))
            entry = (p_lo, p_hi, len(out) - 1)
            pos = bisect_right(starts, p_lo)
            starts.insert(pos, p_lo)
            accepted.insert(pos, entry)
    return out, warnings


# --------------------------------------------------------------------------
# ELF cores
# --------------------------------------------------------------------------

@record(frozen=True, slots=True, compiled_init=True)
class Note:
    """One ELF note: owner name, ``n_type`` and descriptor bytes."""

    name: str
    type: int
    desc: bytes

    def __iter__(self) -> Iterator[Any]:          # unpacks as (name, type, desc)
        return iter((self.name, self.type, self.desc))


class ElfCore:
    """A parsed 64-bit little-endian ELF core file (see :func:`open_elf_core`).

    ``regions`` are the mapped parts of its PT_LOAD segments in program-header
    order (zero-fill tails included, overlaps not yet resolved); ``notes`` are
    read on first use.  :meth:`memory` gives a :class:`PhysicalMemory`.
    """

    def __init__(self, path: str, backing: FileBacking, structs: "ElfStructs", header: Any,
                 phnum: int, mapped: list[Mapped], note_segments: list[tuple[int, int, int]],
                 warnings: list[str]) -> None:
        self.path = path
        self.backing = backing
        self.structs = structs
        self.header = header                     # the parsed Ehdr (a namespace of the ELF field names)
        self.machine: int = header.e_machine
        self.e_type: int = header.e_type
        self.phnum = phnum
        self.mapped = mapped
        self.regions: tuple[Region, ...] = tuple(r for r, _ in mapped)
        #: (p_offset, p_filesz, p_align) of each PT_NOTE
        self.note_segments = note_segments
        self._warnings = warnings

    @property
    def warnings(self) -> tuple[str, ...]:
        """Everything odd found so far (reading :attr:`notes` may add more)."""
        return tuple(self._warnings)

    @cached_property
    def notes(self) -> list[Note]:
        """All notes of all PT_NOTE segments (at most :data:`NOTE_READ_LIMIT` bytes are read;
        segments claiming more are read up to the limit, with a warning)."""
        notes: list[Note] = []
        budget = NOTE_READ_LIMIT
        for n, (off, size, align) in enumerate(self.note_segments):
            present = max(0, min(size, self.backing.size - off))
            if present < size:
                self._warnings.append(f"{self.path}: PT_NOTE {n} runs past the end of the file; "
                                      f"{size - present} of its {size} bytes are missing")
            if present > budget:
                self._warnings.append(f"{self.path}: PT_NOTE {n} claims {size} bytes, more than the "
                                      f"{NOTE_READ_LIMIT >> 20} MiB of notes pgwalk reads; only {budget} "
                                      "bytes of it are read (the header looks corrupt)")
                present = budget
            budget -= present
            notes.extend(self._parse_notes(self.backing.read(off, present) if present else b"",
                                           8 if align == 8 else 4, n))
        return notes

    def _parse_notes(self, data: bytes, align: int, n: int) -> list[Note]:
        """Split one PT_NOTE segment's bytes into notes."""
        from pgwalk.formats.elf import align_up

        parse_nhdr = self.structs.parse_nhdr
        hsize = self.structs.nhdr_size
        out: list[Note] = []
        pos = 0
        while pos + hsize <= len(data):
            if not any(data[pos:pos + hsize]):        # zeros: the notes end (padding, or a corrupt p_filesz)
                break
            if len(out) >= _NOTE_COUNT_LIMIT:
                self._warnings.append(f"{self.path}: PT_NOTE {n}: more than {_NOTE_COUNT_LIMIT} notes; "
                                      "the rest are ignored (the segment looks corrupt)")
                return out
            h = parse_nhdr(data[pos:pos + hsize])
            name_at = pos + hsize
            desc_at = name_at + align_up(h.n_namesz, align)
            if desc_at + h.n_descsz > len(data):
                self._warnings.append(f"{self.path}: PT_NOTE {n}: the note at segment offset {pos:#x} "
                                      "claims more bytes than the segment holds; it and the rest are ignored")
                return out
            name = data[name_at:name_at + h.n_namesz].rstrip(b"\0").decode("ascii", "replace")
            out.append(Note(name, h.n_type, data[desc_at:desc_at + h.n_descsz]))
            pos = desc_at + align_up(h.n_descsz, align)
        if any(data[pos:]):
            self._warnings.append(f"{self.path}: PT_NOTE {n}: {len(data) - pos} trailing bytes "
                                  "are not a note")
        return out

    @property
    def vmcoreinfo(self) -> str | None:
        """The text of the VMCOREINFO note, if there is one."""
        from pgwalk.formats.elf import VMCOREINFO_NOTE_NAME

        for note in self.notes:
            if note.name == VMCOREINFO_NOTE_NAME:
                return note.desc.rstrip(b"\0").decode("ascii", "replace")
        return None

    def memory(self) -> PhysicalMemory:
        """The core's PT_LOAD memory (shares, and on close unmaps, this file)."""
        return PhysicalMemory(self.mapped, self._warnings, elf_cores=(self,))

    def close(self) -> None:
        self.backing.close()

    def __enter__(self) -> "ElfCore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ElfCore {self.path!r} machine={self.machine} {len(self.regions)} regions>"


def is_elf(backing: FileBacking) -> bool:
    from pgwalk.formats.elf import ELFMAG

    return backing.size >= 4 and backing.read(0, 4) == ELFMAG


def open_elf_core(path: str | os.PathLike[str]) -> ElfCore:
    """Open and parse an ELF core; :class:`ImageError` if it is unusable."""
    path = os.fspath(path)
    backing = FileBacking.open(path)
    try:
        if not is_elf(backing):
            raise ImageError(f"{path}: not an ELF file (no \\x7fELF magic)")
        return parse_elf_core(path, backing)
    except BaseException:
        backing.close()
        raise


def parse_elf_core(path: str, backing: FileBacking) -> ElfCore:
    """Parse the headers of an ELF file known to start with the magic."""
    from pgwalk.formats import elf

    fsize = backing.size
    if fsize < elf.EI_NIDENT:
        raise ImageError(f"{path}: broken ELF header: the file is only {fsize} bytes")
    ident = elf.parse_ident(backing.read(0, elf.EI_NIDENT))
    if ident.EI_CLASS == elf.ELFCLASS32:
        raise ImageError(f"{path}: not supported: 32-bit ELF (pgwalk reads 64-bit AArch64 cores)")
    if ident.EI_CLASS != elf.ELFCLASS64:
        raise ImageError(f"{path}: broken ELF header: unknown class {ident.EI_CLASS}")
    if ident.EI_DATA == elf.ELFDATA2MSB:
        raise ImageError(f"{path}: not supported: big-endian ELF (pgwalk reads little-endian AArch64 cores)")
    if ident.EI_DATA != elf.ELFDATA2LSB:
        raise ImageError(f"{path}: broken ELF header: unknown data encoding {ident.EI_DATA}")
    structs = elf.elf_structs(True, elf.ELFCLASS64)
    if fsize < structs.ehdr_size:
        raise ImageError(f"{path}: broken ELF header: the file is only {fsize} bytes")
    eh = structs.parse_ehdr(backing.read(0, structs.ehdr_size))
    warnings: list[str] = []
    if eh.e_machine != elf.EM_AARCH64:
        warnings.append(f"{path}: ELF machine is {elf.EM_NAMES.get(eh.e_machine, eh.e_machine)} "
                        f"(e_machine {eh.e_machine}), not AArch64")
    if eh.e_type != elf.ET_CORE:
        warnings.append(f"{path}: ELF type {eh.e_type} is not a core file (ET_CORE); "
                        "mapping its PT_LOADs by p_paddr anyway")

    phnum = _phnum(path, backing, structs, eh)
    if phnum and eh.e_phentsize < structs.phdr_size:
        raise ImageError(f"{path}: broken ELF header: e_phentsize {eh.e_phentsize} is smaller "
                         f"than a program header ({structs.phdr_size} bytes)")
    table_end = eh.e_phoff + phnum * eh.e_phentsize
    if phnum and (eh.e_phoff == 0 or table_end > fsize):
        raise ImageError(f"{path}: broken ELF header: the program header table (e_phoff {eh.e_phoff:#x}, "
                         f"e_phnum {phnum}) runs past the end of the file ({fsize} bytes)")
    if phnum == 0:
        warnings.append(f"{path}: the ELF file has no program headers")

    mapped: list[Mapped] = []
    notes: list[tuple[int, int, int]] = []
    zero = ZeroBacking("lies beyond p_filesz of its PT_LOAD: the core holds no bytes there and they "
                       "read as zeros (makedumpfile -E leaves the pages it excludes out this way)")
    for n in range(phnum):
        at = eh.e_phoff + n * eh.e_phentsize
        ph = structs.parse_phdr(backing.read(at, structs.phdr_size))
        if ph.p_type == elf.PT_NOTE:
            notes.append((ph.p_offset, ph.p_filesz, ph.p_align))
        elif ph.p_type == elf.PT_LOAD:
            mapped.extend(_load_segment(path, n, ph, fsize, backing, zero, warnings))
    if phnum and not mapped:
        warnings.append(f"{path}: no PT_LOAD segment holds any memory")
    return ElfCore(path, backing, structs, eh, phnum, mapped, notes, warnings)


def _phnum(path: str, backing: FileBacking, structs: "ElfStructs", eh: Any) -> int:
    """The program header count, following PN_XNUM to section header 0."""
    from pgwalk.formats.elf import PN_XNUM

    if eh.e_phnum != PN_XNUM:
        return eh.e_phnum
    if eh.e_shoff == 0 or eh.e_shoff + structs.shdr_size > backing.size:
        raise ImageError(f"{path}: broken ELF header: e_phnum is PN_XNUM but section header 0 "
                         f"(e_shoff {eh.e_shoff:#x}) is not in the file")
    sh0 = structs.parse_shdr(backing.read(eh.e_shoff, structs.shdr_size))
    return sh0.sh_info


def _load_segment(path: str, n: int, ph: Any, fsize: int, backing: FileBacking,
                  zero: ZeroBacking, warnings: list[str]) -> list[Mapped]:
    """The regions of PT_LOAD number ``n``: its present file bytes and zero tail."""
    paddr, filesz, memsz, off = ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset
    what = f"{path}: PT_LOAD {n} (p_paddr {paddr:#x})"
    if filesz > memsz:
        warnings.append(f"{what}: p_filesz {filesz:#x} exceeds p_memsz {memsz:#x}; "
                        "only p_memsz bytes are mapped")
        filesz = memsz
    if memsz == 0:
        warnings.append(f"{what}: zero-sized segment skipped")
        return []
    if paddr + memsz > PA_LIMIT:
        warnings.append(f"{what}: p_memsz {memsz:#x} runs past the 64-bit physical address space; "
                        "clipped")
        memsz = PA_LIMIT - paddr
        filesz = min(filesz, memsz)
    out: list[Mapped] = []
    present = max(0, min(filesz, fsize - off))
    if present < filesz:
        lost_lo = paddr + present
        warnings.append(f"{what}: the file is truncated; [{lost_lo:#x}, {paddr + filesz:#x}) "
                        f"({filesz - present:#x} bytes) is missing and not in the image")
    if present:
        out.append((Region(paddr, present, path, off, "elf PT_LOAD"), backing))
    if memsz > filesz:
        warnings.append(f"{what}: [{paddr + filesz:#x}, {paddr + memsz:#x}) lies beyond p_filesz "
                        "and reads as zeros (p_memsz > p_filesz)")
        out.append((Region(paddr + filesz, memsz - filesz, path, off + filesz, "zero fill"), zero))
    return out


# --------------------------------------------------------------------------
# -i/--image PATH[@BASE]
# --------------------------------------------------------------------------

def _parse_number(text: str) -> int | None:
    """A hexadecimal value (:func:`pgwalk.values.parse_value`: ``0x`` optional), else ``None``."""
    from .values import parse_value

    try:
        return parse_value(text)
    except InputError as exc:
        return 1 << 64 if "does not fit" in str(exc) else None      # too wide: refused by the caller


def parse_image_spec(spec: str) -> tuple[str, int | None]:
    """Split ``PATH[@BASE]``; ``BASE`` is ``None`` when not given.

    Only the last ``@`` splits, and only if what follows is a number, so paths
    containing ``@`` work (``dumps/a@b.bin``; ``x@1.bin@0x4000``).
    """
    path, sep, tail = spec.rpartition("@")
    if sep:
        base = _parse_number(tail)
        if base is not None:
            if not path:
                raise InputError(f"image spec {spec!r} has a base but no path")
            if base >= PA_LIMIT:
                raise InputError(f"image base {tail} does not fit in 64 bits")
            return path, base
        if tail.strip().startswith("-") and _parse_number(tail.strip()[1:]) is not None:
            raise InputError(f"image base {tail} is negative")
    if not spec:
        raise InputError("empty image path")
    return spec, None


def open_backing(path: str) -> tuple[FileBacking, list[str]]:
    """``path`` mapped read-only, decompressed first (to a temporary file removed at exit) when
    its magic bytes say zstd, xz or gzip; the warnings name the decompression.

    The backing keeps ``path`` as its name, so messages name the file the user gave.
    """
    from pgwalk.inputs import compression_of, decompress_to_temp

    if path == "-" and not os.path.exists(path):
        raise ImageError("-: a memory image or dump is not read from stdin (it is memory-mapped); name the file "
                         "(a compressed one is read as it is)")
    backing = FileBacking.open(path)
    kind = compression_of(backing.read(0, 8))
    if kind is None:
        return backing, []
    backing.close()
    tmp, _size, note = decompress_to_temp(path, kind)
    inner = FileBacking.open(tmp)
    inner.path = path
    inner.file = tmp
    inner.compression = kind
    return inner, [note]
