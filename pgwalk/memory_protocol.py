"""The memory a walk reads, as a written protocol.

Every backend pgwalk walks over implements :class:`Memory`: raw images, ELF cores,
kdump and split kdump files (all :class:`pgwalk.memory.PhysicalMemory`, opened by
:mod:`pgwalk.images`), live targets (:class:`pgwalk.live.LiveMemory`) and test
memories (``PhysicalMemory.from_words``, ``PhysicalMemory.from_buffers``).  Every
consumer (the walkers in :mod:`pgwalk.walk`, :mod:`pgwalk.bulk`, :mod:`pgwalk.tree`,
:mod:`pgwalk.at`, the byte reader in :mod:`pgwalk.contents`) uses only the names
written down here: the two required methods, and the optional capabilities in
:data:`OPTIONAL`, asked for with :func:`capability` (never ``getattr`` probing).

The contract
------------
* Addresses are physical (or intermediate physical) byte addresses, ``0 <= pa < 2**64``.
* ``read_u64(pa, big_endian=False)`` returns the 64-bit word at ``pa``;
  ``read(pa, size)`` returns exactly ``size`` bytes starting at ``pa``.
* Bytes the memory cannot give raise :class:`~pgwalk.errors.NotInImage`
  ``(address, size, reason)``, where ``reason`` says why in a few words ("is not in the
  image", "excluded from the dump", "could not be read on the target ...").  A walker
  turns it into a synchronous external abort on the walk.  Any other exception means
  the backend itself failed (I/O error, lost connection) and is not a walk result.
* Contents are fixed for the memory object's lifetime: reading the same address twice
  gives the same answer (backends may cache; a live target is read while stopped and
  its reads are cached).  Consumers may cache too.
* ``close()`` (optional) releases files or connections; reads after it are undefined.

This module is low in the layers (it imports only :mod:`pgwalk.errors` and
:mod:`pgwalk.records`), so any layer may name the protocol without importing a backend.
"""

from __future__ import annotations

from .errors import NotInImage

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Protocol, Sequence, runtime_checkable

    import numpy as np
else:                                   # (isinstance as typing's; typing is not imported: start-up)
    from .records import Protocol, runtime_checkable

__all__ = ["Memory", "RegionLike", "OPTIONAL", "capability", "read_many", "source_label", "NotInImage"]


@runtime_checkable
class Memory(Protocol):
    """Physical memory a walk reads: the two required methods.

    >>> from pgwalk.memory import PhysicalMemory
    >>> mem = PhysicalMemory.from_words({0x1000: 0x40000703}, ram=(0, 0x10000))
    >>> isinstance(mem, Memory), hex(mem.read_u64(0x1000))
    (True, '0x40000703')
    """

    def read_u64(self, pa: int, big_endian: bool = False) -> int:
        """The 64-bit word at ``pa``, little-endian unless ``big_endian``.

        :raises NotInImage: the 8 bytes (or some of them) are not available
        """
        ...

    def read(self, pa: int, size: int) -> bytes:
        """Exactly ``size`` bytes from ``pa``.

        :raises NotInImage: some of the bytes are not available
        """
        ...


class RegionLike(Protocol):
    """One run of memory that exists (what :data:`OPTIONAL` ``regions`` lists)."""

    base: int
    size: int

    @property
    def end(self) -> int:
        """One past the region's last byte (``base + size``; may be ``2**64``)."""
        ...


#: The optional capabilities of a :class:`Memory`, each with what it means.  A consumer
#: asks for one with :func:`capability` and works (more slowly, or knowing less) without it.
OPTIONAL: dict[str, str] = {
    "regions": "sequence of RegionLike (sorted, non-overlapping): which addresses exist.  Empty or "
               "absent means unknown (a live target): every address may be asked for, and the "
               "vectorised reader falls back to one read_u64 per distinct address",
    "numpy_view": "numpy_view(region, dtype='u1') -> read-only array over one of `regions`, no copy; "
                  "raises ValueError (or TypeError) where a region has no view",
    "read_many": "read_many(pas: uint64 array, big_endian=False) -> (values uint64 array, present bool "
                 "array): a batched read_u64; an absent lane's value is 0 (see read_many() below)",
    "contents_missing": "contents_missing(pa, verify=False) -> reason or None: why the byte at pa is not "
                        "in the memory, decided without reading unless verify",
    "contents_missing_mask": "contents_missing_mask(pas: uint64 array) -> bool array: contents_missing "
                             "is not None, for many addresses (no reads)",
    "contains": "contains(pa, size=8) -> bool: the bytes are in the memory",
    "warnings": "sequence of str: what was odd when the memory was opened",
    "elf_cores": "sequence of the crash dumps (ELF cores, kdump files) it came from; each has "
                 "`notes` and `vmcoreinfo` (str or None)",
    "vmcoreinfo": "str or None: the VMCOREINFO text a target offers itself",
    "label": "str: what to call the memory in messages (a file, 'gdb stub HOST:PORT'); "
             "see source_label()",
    "close": "close(): release files or connections",
}


def capability(mem: Any, name: str) -> Any:
    """The optional capability ``name`` of ``mem`` (a bound method or a value), or ``None``.

    Only names written down in :data:`OPTIONAL` may be asked for, so a consumer cannot
    come to depend on an undocumented attribute of one backend.

    >>> from pgwalk.memory import PhysicalMemory
    >>> capability(PhysicalMemory(), "regions")
    ()
    >>> capability(object(), "numpy_view") is None
    True

    :raises ValueError: ``name`` is not an optional capability of the protocol
    """
    if name not in OPTIONAL:
        raise ValueError(f"{name!r} is not an optional capability of pgwalk's Memory protocol")
    return getattr(mem, name, None)


def read_many(mem: Memory, pas: "np.ndarray", big_endian: bool = False) -> tuple["np.ndarray", "np.ndarray"]:
    """``read_u64`` for many addresses: ``(values, present)``, numpy uint64 and bool arrays.

    Uses the memory's own ``read_many`` where it has one; otherwise reads each distinct
    address once.  A lane whose word raises :class:`NotInImage` is absent (value 0);
    any other error propagates.

    >>> import numpy as np
    >>> from pgwalk.memory import PhysicalMemory
    >>> mem = PhysicalMemory.from_words({0x1000: 7}, ram=(0, 0x2000))
    >>> v, ok = read_many(mem, np.array([0x1000, 0x1000, 0x9000], dtype=np.uint64))
    >>> v.tolist(), ok.tolist()
    ([7, 7, 0], [True, True, False])
    """
    import numpy as np

    own = capability(mem, "read_many")
    pas = np.asarray(pas, dtype=np.uint64)
    if own is not None:
        values, present = own(pas, big_endian)
        return np.asarray(values, dtype=np.uint64), np.asarray(present, dtype=bool)
    uniq, inv = np.unique(pas, return_inverse=True)
    got = np.zeros(len(uniq), dtype=np.uint64)
    ok = np.zeros(len(uniq), dtype=bool)
    for k, pa in enumerate(uniq.tolist()):
        try:
            got[k] = mem.read_u64(pa, big_endian)
        except NotInImage:
            continue
        ok[k] = True
    return got[inv], ok[inv]


def source_label(mem: Any, default: str = "the image") -> str:
    """What to call ``mem`` in a message: its ``label`` (a live target's stub, say), else ``default``.

    >>> from pgwalk.memory import PhysicalMemory
    >>> source_label(PhysicalMemory())
    'the image'
    """
    label = capability(mem, "label")
    return str(label) if label else default

