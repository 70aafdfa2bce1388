"""Memory contents through the walk: what ``pgwalk read`` shows (crash's ``rd``, drgn's ``prog.read``).

:func:`read_virtual` translates a virtual (or intermediate physical) range leaf by
leaf with the one walker (:func:`pgwalk.walk.translate`) and reads each mapped run;
:func:`read_physical` reads a physical range.  Both yield :class:`Piece` s in address
order: bytes that were read, or a run that could not be, with the reason (the walk's
fault, "excluded from the dump", "not in the image", a target's read error, an ELF
core's zero tail).  A byte that is not in the memory is never returned as zero.

Permissions are not judged: a debugger reads what the tables map (as crash and drgn
do); faults that stop a walk (translation, access flag, address size, external abort
on the walk) leave the range unreadable.
"""

from __future__ import annotations

from .errors import NotInImage
from .memory_protocol import capability
from .records import record

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Iterator

__all__ = ["Piece", "read_virtual", "read_physical", "READ_LIMIT"]

#: most bytes one read may ask for
READ_LIMIT = 1 << 32
#: physical reads are split at this alignment, so a hole is reported to the page
_STEP = 4096


@record(frozen=True, slots=True, compiled_init=True)
class Piece:
    """A run of the range read.

    :ivar address: first address of the run (as asked: VA/IPA, or PA for physical reads)
    :ivar size: bytes in the run
    :ivar pa: physical address of the first byte (``None`` where the walk faulted)
    :ivar data: the bytes, or ``None`` when they could not be read
    :ivar why: why ``data`` is ``None``
    """

    address: int
    size: int
    pa: int | None
    data: bytes | None
    why: str | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None


def _merge(pieces: Iterator[Piece]) -> Iterator[Piece]:
    """Join neighbours of one kind: contiguous data (also physically), or the same reason."""
    cur: Piece | None = None
    parts: list[bytes] = []
    for p in pieces:
        if cur is not None and p.address == cur.address + cur.size:
            if cur.ok and p.ok and cur.pa is not None and p.pa == cur.pa + cur.size and cur.size < 1 << 20:
                parts.append(p.data)  # type: ignore[arg-type]
                cur = Piece(cur.address, cur.size + p.size, cur.pa, b"")
                continue
            if not cur.ok and not p.ok and p.why == cur.why and (
                    p.pa is None if cur.pa is None else p.pa == cur.pa + cur.size):
                cur = Piece(cur.address, cur.size + p.size, cur.pa, None, cur.why)
                continue
        if cur is not None:
            yield Piece(cur.address, cur.size, cur.pa, b"".join(parts), None) if cur.ok else cur
        cur, parts = p, ([p.data] if p.ok else [])  # type: ignore[list-item]
    if cur is not None:
        yield Piece(cur.address, cur.size, cur.pa, b"".join(parts), None) if cur.ok else cur


def _physical(mem: Any, address: int, pa: int, size: int) -> Iterator[Piece]:
    stop = pa + size
    while pa < stop:
        n = min(stop, (pa | (_STEP - 1)) + 1) - pa
        missing = capability(mem, "contents_missing")
        why = missing(pa) if missing is not None else None
        if why is None:
            try:
                yield Piece(address, n, pa, mem.read(pa, n))
            except NotInImage as e:
                yield Piece(address, n, pa, None, e.reason)
        else:
            yield Piece(address, n, pa, None, why)
        pa += n
        address += n


def _check(address: int, size: int) -> None:
    from .errors import InputError

    if size <= 0:
        raise InputError(f"length {size}: expected at least 1 byte")
    if size > READ_LIMIT:
        raise InputError(f"length {size:#x}: at most {READ_LIMIT:#x} bytes per read")
    if address + size > 1 << 64:
        raise InputError(f"[{address:#x}, +{size:#x}) runs past the end of the 64-bit address space")


def read_physical(mem: Any, pa: int, size: int) -> Iterator[Piece]:
    """``size`` bytes at physical address ``pa``, as :class:`Piece` s.

    >>> [p.data for p in read_physical(mem, 0x40000000, 16)]      # doctest: +SKIP
    [b'...']

    :raises InputError: for an empty or too large range
    """
    _check(pa, size)
    return _merge(_physical(mem, pa, pa, size))


def _leaf_left(t: Any, va: int) -> int:
    """Bytes from ``va`` to the end of the smallest leaf (stage 1 and stage 2) mapping it."""
    left = 1 << 64
    if t.s1 is not None:
        left = min(left, t.s1.size - (va & (t.s1.size - 1)))
    if t.s2 is not None:
        ia = t.ipa if t.ipa is not None else va
        left = min(left, t.s2.size - (ia & (t.s2.size - 1)))
    if left == 1 << 64:                  # stage 1 off, no stage 2: flat
        left = _STEP - (va & (_STEP - 1))
    return left


def read_virtual(setup: Any, mem: Any, va: int, size: int, *, stages: str | None = None) -> Iterator[Piece]:
    """``size`` bytes at ``va`` through the translation ``setup`` describes, as :class:`Piece` s.

    :param setup: :class:`pgwalk.params.TranslationSetup`
    :param stages: as for :func:`pgwalk.walk.translate` ("2": ``va`` is an IPA)
    :raises InputError: for an empty or too large range
    """
    _check(va, size)
    return _merge(_virtual(setup, mem, va, size, stages))


def _virtual(setup: Any, mem: Any, va: int, size: int, stages: str | None) -> Iterator[Piece]:
    from .walk import translate

    stop = va + size
    while va < stop:
        t = translate(setup, mem, va, stages=stages)
        if not t.ok or t.pa is None:
            n = min(stop, (va | (_STEP - 1)) + 1) - va
            why = str(t.fault) if t.fault is not None else "the walk gave no output address"
            yield Piece(va, n, None, None, why)
            va += n
            continue
        n = min(stop - va, _leaf_left(t, va))
        yield from _physical(mem, va, t.pa, n)
        va += n
