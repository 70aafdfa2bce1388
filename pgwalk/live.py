"""A live target behind a GDB stub as walk memory and a register source.

:func:`open_target` connects (:mod:`pgwalk.gdbremote`), checks the target is
stopped, switches QEMU's stub to physical memory (``Qqemu.PhyMemMode:1``,
restored to the previous mode by :meth:`LiveMemory.close`) and returns a
:class:`LiveMemory`.  It offers what the walkers use of
:class:`pgwalk.memory.PhysicalMemory`:

* ``read_u64(pa, big_endian)`` and ``read(pa, size)``, raising
  :class:`~pgwalk.errors.NotInImage` where the stub answers a read with an
  error (the walker reports an external abort on the walk there);
* ``regions`` (none: the stub does not say where memory is, so the
  vectorised walker falls back to ``read_u64`` once per distinct address),
  ``contents_missing`` (``None``: a live target has every byte it answers
  for), ``warnings`` and ``close``.

``open_target(spec, cpu=N)`` reads CPU ``N``: the ``N``-th thread the stub lists
(QEMU lists one thread per vCPU, in ``cpu_index`` order, so ``N`` is QEMU's CPU
number), selected with ``Hg`` for the registers and memory read; on close the thread
``qC`` named before is selected again (QEMU's ``qC`` names the CPU that stopped, and QEMU
starts each new connection from that CPU anyway).  Without ``cpu`` the stub's current
thread is read (QEMU: the CPU that stopped, or the one a debugger last selected).

Reads go through a per-block cache (:data:`BLOCK` bytes, aligned) that lives
as long as the object: one command reads each table block once however many
addresses it walks.  Protocol failures (the stub went away, garbage) raise
:class:`~pgwalk.gdbremote.GdbError`, never a fault.

QEMU's physical mode reads addresses outside RAM and devices as zeros instead
of failing, so a table pointer into nothing reads as invalid descriptors
(a translation fault) where the hardware would take an external abort.
"""

from __future__ import annotations

import struct
from typing import Iterable

from .errors import NotInImage
from .gdbremote import GdbError, GdbRemote, MemoryReadError, default_timeout

__all__ = ["LiveMemory", "open_target", "BLOCK", "read_target_registers"]

#: bytes fetched (and cached) per read: one 4KB granule
BLOCK = 4096
#: most blocks kept (64 MiB); a longer command starts the cache over
_CACHE_BLOCKS = 1 << 14

_LE = struct.Struct("<Q").unpack_from
_BE = struct.Struct(">Q").unpack_from


class LiveMemory:
    """Physical memory of a stopped target, read through its GDB stub.

    Implements :class:`pgwalk.memory_protocol.Memory` (``read``, ``read_u64``) with the
    optional ``regions`` (empty: unknown), ``contents_missing``, ``contents_missing_mask``,
    ``contains``, ``elf_cores`` (none), ``label`` and ``close``.
    """

    regions: tuple = ()
    elf_cores: tuple = ()

    def __init__(self, stub: GdbRemote, restore_mode: int | None, *, cpu: int | None = None,
                 thread: str | None = None, restore_thread: str | None = None) -> None:
        self.stub = stub
        self.label = stub.label
        #: the CPU chosen (``open_target(cpu=N)``) and the stub's thread id for it; None: the stub's current
        self.cpu, self.thread = cpu, thread
        self._restore = restore_mode
        self._restore_thread = restore_thread
        self._cache: dict[int, bytes | str] = {}
        self.warnings: tuple[str, ...] = ()
        self._closed = False

    # -- reading -----------------------------------------------------------

    def _block(self, base: int) -> bytes | str:
        got = self._cache.get(base)
        if got is None:
            if self._closed:
                raise ValueError("read from a closed LiveMemory")
            if len(self._cache) >= _CACHE_BLOCKS:
                self._cache.clear()
            try:
                got = self.stub.read_memory(base, BLOCK)
            except MemoryReadError as e:       # the whole block counts as unreadable
                got = f"could not be read on the target ({self.label} answered {e.code})"
            self._cache[base] = got
        return got

    def read(self, pa: int, size: int) -> bytes:
        """``size`` bytes at ``pa``.

        :raises NotInImage: where the stub answers with an error
        """
        if size <= 0:
            if size == 0:
                return b""
            raise ValueError(f"negative read size {size}")
        if pa < 0 or pa + size > 1 << 64:
            raise NotInImage(pa, size, "is outside the 64-bit physical address space")
        parts = []
        cur, stop = pa, pa + size
        while cur < stop:
            base = cur & ~(BLOCK - 1)
            blk = self._block(base)
            if isinstance(blk, str):
                raise NotInImage(pa, size, blk if cur == pa else f"is only partly readable ({cur:#x} {blk})")
            take = min(stop, base + BLOCK) - cur
            parts.append(blk[cur - base:cur - base + take])
            cur += take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_u64(self, pa: int, big_endian: bool = False) -> int:
        """The 64-bit word at ``pa`` (little-endian unless ``big_endian``)."""
        off = pa & (BLOCK - 1)
        if off <= BLOCK - 8:
            blk = self._block(pa - off)
            if isinstance(blk, str):
                raise NotInImage(pa, 8, blk)
            return (_BE if big_endian else _LE)(blk, off)[0]
        return int.from_bytes(self.read(pa, 8), "big" if big_endian else "little")

    def contents_missing(self, pa: int, verify: bool = False) -> str | None:
        """``None``: a live target holds what it answers for (nothing is read here)."""
        return None

    def contents_missing_mask(self, pas):
        import numpy as np

        return np.zeros(len(pas), dtype=bool)

    def contains(self, pa: int, size: int = 8) -> bool:
        try:
            self.read(pa, max(size, 1))
        except NotInImage:
            return False
        return True

    @property
    def blocks_read(self) -> int:
        """Distinct blocks fetched from the target so far."""
        return len(self._cache)

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        """Restore the stub's memory mode and close the connection."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._restore is not None and self._restore != 1:
                self.stub.set_phy_mem_mode(self._restore)
            if self._restore_thread is not None and self._restore_thread != self.thread:
                self.stub.select_thread(self._restore_thread)
        except GdbError:
            pass
        finally:
            self.stub.close()

    def __enter__(self) -> "LiveMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LiveMemory {self.label}, {len(self._cache)} blocks cached>"


def open_target(spec: str, *, timeout: float | None = None, cpu: int | None = None) -> LiveMemory:
    """Connect to the stub at ``spec`` (``HOST:PORT`` or ``unix:PATH``) and ready it for reads.

    ``cpu``: read that CPU (the ``cpu``-th thread the stub lists, from 0) instead of the stub's
    current thread.

    :raises GdbError: unreachable, running, exited, no physical memory access, or no such CPU
    """
    t = default_timeout() if timeout is None else timeout
    stub = GdbRemote.connect(spec, timeout=min(t, 3.0), reply_timeout=t)
    try:
        why = stub.stop_reason()
        if why[:1] not in (b"S", b"T"):
            if why == b"OK" or not why:
                raise GdbError(f"gdb stub {stub.label}: the target is running (pgwalk reads stopped "
                               "targets only and never stops one; stop it in your debugger first)")
            if why[:1] in (b"W", b"X"):
                raise GdbError(f"gdb stub {stub.label}: the target has exited")
            raise GdbError(f"gdb stub {stub.label}: unexpected stop reply {why[:16]!r}")
        mode = stub.phy_mem_mode()
        if mode is None:
            raise GdbError(f"gdb stub {stub.label}: it cannot read physical memory (no qqemu.PhyMemMode; "
                           "pgwalk reads tables by physical address)")
        thread = previous = None
        if cpu is not None:
            thread, previous = _select_cpu(stub, cpu)
        if mode != 1 and not stub.set_phy_mem_mode(1):
            raise GdbError(f"gdb stub {stub.label}: it refused to switch to physical memory")
    except BaseException:
        stub.close()
        raise
    return LiveMemory(stub, mode, cpu=cpu, thread=thread, restore_thread=previous)


def _select_cpu(stub: GdbRemote, cpu: int) -> tuple[str, str | None]:
    """``Hg`` the ``cpu``-th thread the stub lists: (its id, the id selected before, if the stub says)."""
    threads = stub.threads()
    if not threads:
        raise GdbError(f"gdb stub {stub.label}: it does not list its CPUs (no qfThreadInfo), so --cpu "
                       "cannot choose one")
    if cpu >= len(threads):
        raise GdbError(f"gdb stub {stub.label}: no CPU {cpu}: the target has {len(threads)} "
                       f"(0..{len(threads) - 1})")
    previous = stub.current_thread()
    if not stub.select_thread(threads[cpu]):
        raise GdbError(f"gdb stub {stub.label}: it refused to select CPU {cpu} (thread {threads[cpu]})")
    return threads[cpu], previous


#: gdb names QEMU uses that are not architectural spellings
_GDB_NAMES = {"CPSR": "PSTATE"}


def read_target_registers(mem: LiveMemory, wanted: Iterable[str] | None = None) -> tuple[dict[str, int], list[str]]:
    """The architectural registers the stub exports, and the names it lacks among ``wanted``.

    Only registers pgwalk knows (:data:`pgwalk.regs.KNOWN_REGISTERS`, gdb spellings such
    as ``SCTLR``/``cpsr`` mapped) are read, one ``p`` packet each; general-purpose
    registers are skipped.
    """
    from .regs import ALIASES, KNOWN_REGISTERS

    stub_regs = mem.stub.registers()
    if not stub_regs:
        raise GdbError(f"gdb stub {mem.label}: it has no target description (qXfer:features:read), "
                       "so its registers cannot be named; give them with --regs/--reg")
    by_arch: dict[str, object] = {}
    for upper, reg in stub_regs.items():
        name = _GDB_NAMES.get(upper, upper)
        if name.startswith(("X", "W", "V")) and name[1:].isdigit():
            continue
        arch = ALIASES.get(name, name)
        if arch not in KNOWN_REGISTERS:         # (not canonical_name: no close-match search per name)
            continue
        if arch in ("PC", "SP", "FP", "LR", "FPSR", "FPCR"):
            continue
        if arch not in by_arch or upper == arch:       # the architectural spelling wins
            by_arch[arch] = reg
    values: dict[str, int] = {}
    for arch, reg in sorted(by_arch.items()):
        v = mem.stub.read_register(reg)               # type: ignore[arg-type]
        if v is not None:
            values[arch] = v
    missing = sorted(set(wanted or ()) - set(values))
    return values, missing
