"""Open memory images by their format: raw files, ELF cores, kdump files, split kdump sets.

:func:`open_images` turns the ``-i PATH[@BASE]`` specs into one
:class:`~pgwalk.memory.PhysicalMemory` (a :class:`~pgwalk.memory_protocol.Memory`).
It sits above both :mod:`pgwalk.memory` (regions, backings, ELF cores) and
:mod:`pgwalk.kdump` (which builds on them), so neither imports the other back.
"""

from __future__ import annotations

import os

from pgwalk.errors import ImageError
from pgwalk.memory import (Backing, ElfCore, Mapped, PhysicalMemory, Region, check_range, is_elf, open_backing,
                           parse_elf_core, parse_image_spec, unique_objects)

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Iterable

__all__ = ["open_image", "open_images", "open_spec_file", "open_file", "raw_at"]


def open_spec_file(spec: str) -> tuple[str, int | None, Backing, list[str]]:
    """The file of one ``PATH[@BASE]``, opened (decompressed first when zstd, xz or gzip): its
    path, its base (``None`` when not given), its backing and the notes opening it gave.

    :raises ImageError: unreadable (a missing file whose name has an ``@`` that is not followed by
        a base address says so)
    """
    path, base = parse_image_spec(spec)
    path = os.path.expanduser(path)
    try:
        backing, warnings = open_backing(path)
    except ImageError:
        head, sep, tail = path.rpartition("@")
        if sep and head and not os.path.exists(path) and os.path.exists(head):
            raise ImageError(f"{path}: no such file, and {tail!r} after '@' is not a hexadecimal base address "
                             f"(PATH@BASE, e.g. {head}@0x40000000)") from None
        raise
    return path, base, backing, warnings


def raw_at(path: str, backing: Backing, base: int) -> list[str]:
    """``path`` read as a raw image at ``base`` (as ``PATH@BASE`` asks, whatever the file holds):
    checked to fit the physical address space; the warnings it needs (an ELF core or a kdump file
    read raw, whose headers and compressed pages then read as memory).

    :raises ImageError: the image does not fit above ``base``
    """
    check_range(base, backing.size, path)
    if is_elf(backing):
        return [f"{path}: starts with the ELF magic but @{base:#x} was given; mapped as a raw image"]
    from pgwalk.formats.kdump import kdump_kind     # (a field table: no kdump reader)

    kind = kdump_kind(backing.read(0, 16))
    if kind is not None:
        what = "a makedumpfile flattened-format signature" if kind == "flat" else "a kdump signature"
        return [f"{path}: starts with {what} but @{base:#x} was given; mapped as a raw image "
                "(its compressed pages are not memory; drop @BASE to read it as a dump)"]
    return []


def open_file(spec: str) -> tuple[str, int | None, str, Any, Backing, list[str]]:
    """One ``PATH[@BASE]`` opened by its format: ``(path, base, kind, obj, backing, warnings)``.

    ``kind`` is ``"elf"`` (``obj`` an :class:`~pgwalk.memory.ElfCore`), ``"kdump"`` or
    ``"kdump-flattened"`` (a :class:`~pgwalk.kdump.KdumpFile`) or ``"raw"`` (``obj`` the backing,
    at ``base``, 0 when not given).  A base makes the file raw whatever it holds (:func:`raw_at`).
    ``warnings`` are the notes opening the file gave (its decompression, a dump read raw); a
    dump's own are in ``obj.warnings``.  The caller owns ``backing`` (``obj``'s, when it is a dump).

    :raises ImageError: unreadable, damaged, or not fitting above its base
    """
    path, base, backing, warnings = open_spec_file(spec)
    try:
        if base is None:
            if is_elf(backing):
                core = parse_elf_core(path, backing)
                return path, base, "elf", core, backing, warnings
            from pgwalk.formats.kdump import kdump_kind     # (the kdump reader loads only for a kdump file)

            if kdump_kind(backing.read(0, 16)):
                from pgwalk.kdump import open_kdump_backing

                dump = open_kdump_backing(path, backing)
                kind = "kdump-flattened" if dump.flattened else "kdump"
                return path, base, kind, dump, backing, warnings
            check_range(0, backing.size, path)      # (raw_at's notes are for a dump given a base)
        else:
            warnings += raw_at(path, backing, base)
        return path, base, "raw", backing, backing, warnings
    except BaseException:
        backing.close()
        raise


def _open_one(spec: str) -> tuple[list[Mapped], list[str], ElfCore | None]:
    """The regions, warnings and ELF core or kdump file (if any) of one ``PATH[@BASE]``.

    The caller owns the file: through the regions, or ``core.backing``.
    """
    path, base, kind, obj, backing, warnings = open_file(spec)
    if kind != "raw":
        return list(obj.mapped), warnings + list(obj.warnings), obj
    return [(Region(base or 0, backing.size, path, 0, "raw"), backing)], warnings, None


def open_image(spec: str) -> PhysicalMemory:
    """One raw image or ELF core, from ``PATH[@BASE]``."""
    return open_images([spec])


def open_images(specs: Iterable[str]) -> PhysicalMemory:
    """Assemble physical memory from ``-i`` specs, in the order given.

    Raw files map at their ``@BASE`` (default 0); files starting with
    ``\\x7fELF`` map by PT_LOAD ``p_paddr``, kdump-compressed files (``KDUMP   ``
    or makedumpfile flattened, :mod:`pgwalk.kdump`) by their bitmaps (unless
    ``@BASE`` is given, which forces raw).  The ELF cores and kdump files are
    in :attr:`PhysicalMemory.elf_cores` (both have ``notes`` and ``vmcoreinfo``).
    Where images overlap the one given first wins (warned).
    """
    mapped: list[Mapped] = []
    warnings: list[str] = []
    cores: list[ElfCore] = []
    opened: list[Backing] = []
    try:
        specs = list(specs)
        if not specs:
            raise ImageError("no memory image given (use -i PATH[@BASE])")
        per_file: list[tuple[list[Mapped], Any]] = []
        for spec in specs:
            m, w, core = _open_one(spec)
            opened.extend(b for _r, b in m)
            if core is not None:
                opened.append(core.backing)
                cores.append(core)
            per_file.append((m, core))
            warnings.extend(w)
        splits = [c for c in cores if not isinstance(c, ElfCore) and c.split]  # kdump files
        if len(splits) > 1:
            # the files of a makedumpfile --split dump together form one memory
            from pgwalk.kdump import join_split_dumps

            joined, more, superseded = join_split_dumps(splits)
            warnings = [w for w in warnings if w not in superseded] + more
            if joined is not None:
                opened.extend(b for _r, b in joined)
                at = next(i for i, (_m, c) in enumerate(per_file) if c is splits[0])
                per_file[at] = (joined, None)
                per_file = [(m, c) for m, c in per_file if not any(c is s for s in splits)]
        for m, _core in per_file:
            mapped.extend(m)
        mem = PhysicalMemory(mapped, warnings, cores)
    except BaseException:
        for b in unique_objects(opened):
            b.close()
        raise
    if not mem.regions:
        mem.close()
        raise ImageError("the images given hold no memory: " + "; ".join(mem.warnings or ("no regions",)))
    return mem
