"""Real makedumpfile output for the tests: the shared public dumps, and dumps made here.

``public_dir()`` is ``<oracle>/makedumpfile-public`` (makedumpfile 1.7.9 dumps of the
shared Linux oracle, split files included; see its README).  ``make_kdump(name, ...)``
runs ``<oracle>/../tools/makedumpfile/make-kdump`` on the decompressed oracle ELF once
(about 10 s a dump under qemu-user) and keeps the output in ``tests/.cache/makedumpfile/``
(git-ignored), remade when the ELF or the options change.  Both return ``None`` when
their inputs or tools are missing, and the tests that need them skip.

``raw_layout(path)`` reads a diskdump file's header fields and bitmaps with ``struct``
alone (a second, independent reading of makedumpfile's ``diskdump_mod.h`` layout), so the
tests can tell which pages a dump holds without asking pgwalk.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from oracle_data import CACHE_DIR, ORACLE_DIR, linux_vmcore_elf

__all__ = ["public_dir", "make_kdump_tool", "make_kdump", "RawLayout", "raw_layout"]

MAKE_KDUMP = Path(os.environ.get("PGWALK_MAKE_KDUMP", ORACLE_DIR.parent / "tools" / "makedumpfile" / "make-kdump"))


def public_dir() -> Path | None:
    """``<oracle>/makedumpfile-public`` when its four dumps are there."""
    d = ORACLE_DIR / "makedumpfile-public"
    names = ("max-zstd-d31", *(f"max-zstd-d31.split-{i}of3" for i in (1, 2, 3)))
    return d if all((d / n).is_file() for n in names) else None


def make_kdump_tool() -> Path | None:
    """make-kdump, when it and qemu-user (which runs the arm64 makedumpfile) are installed;
    the tests never let the script install qemu-user itself (that needs the network)."""
    if not MAKE_KDUMP.is_file() or shutil.which("qemu-aarch64-static") is None:
        return None
    return MAKE_KDUMP


def make_kdump(name: str, *options: str, parts: int = 1) -> list[Path] | None:
    """The dump ``make-kdump vmcore.elf NAME OPTIONS...`` writes (``parts`` > 1: with
    ``--split`` and that many files), made once into ``tests/.cache/makedumpfile/``."""
    tool = make_kdump_tool()
    elf = linux_vmcore_elf()
    if tool is None or elf is None:
        return None
    out_dir = CACHE_DIR / "makedumpfile"
    out_dir.mkdir(parents=True, exist_ok=True)
    outs = [out_dir / (name if parts == 1 else f"{name}.{i}of{parts}") for i in range(1, parts + 1)]
    stamp = out_dir / f"{name}.stamp"
    elf_stamp = CACHE_DIR / "vmcore.elf.sha256"
    want = "\n".join([elf_stamp.read_text().strip() if elf_stamp.is_file() else str(elf.stat().st_size),
                      *options, str(parts)])
    if stamp.is_file() and stamp.read_text() == want and all(p.is_file() for p in outs):
        return outs
    stamp.unlink(missing_ok=True)
    tmp = [p.with_name(p.name + ".tmp") for p in outs]
    for p in tmp + outs:
        p.unlink(missing_ok=True)
    argv = [str(tool), str(elf), str(tmp[0]), *options]
    if parts > 1:
        argv += ["--", *map(str, tmp[1:])]
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
        for t, p in zip(tmp, outs):
            os.replace(t, p)
    finally:
        for t in tmp:
            t.unlink(missing_ok=True)
    stamp.write_text(want)
    return outs


@dataclass
class RawLayout:
    block_size: int
    max_mapnr: int
    desc_offset: int
    split: bool
    start_pfn: int
    end_pfn: int
    bitmap_offset: int              # the 1st bitmap; the 2nd starts bitmap_half bytes later
    bitmap_half: int
    bitmap1: bytes
    bitmap2: bytes

    def present(self, pfn: int) -> bool:
        return bool(self.bitmap1[pfn >> 3] >> (pfn & 7) & 1)

    def dumped(self, pfn: int) -> bool:
        return bool(self.bitmap2[pfn >> 3] >> (pfn & 7) & 1)

    def dumped_pfns(self) -> list[int]:
        return [p for p in range(self.max_mapnr) if self.bitmap2[p >> 3] and self.dumped(p)]

    def present_pfns(self) -> list[int]:
        return [p for p in range(self.max_mapnr) if self.bitmap1[p >> 3] and self.present(p)]


def raw_layout(path: Path) -> RawLayout:
    """Header fields and bitmaps of a plain diskdump file (little-endian, header v6)."""
    with open(path, "rb") as f:
        head = f.read(0x1C0)
        assert head[:8] == b"KDUMP   ", path
        version, = struct.unpack_from("<i", head, 8)
        bs, sub_blocks, bitmap_blocks, max_mapnr = struct.unpack_from("<iiII", head, 0x1AC)
        f.seek(bs)
        sub = f.read(104)
        split, = struct.unpack_from("<i", sub, 12)
        start, end = struct.unpack_from("<QQ", sub, 80 if version >= 6 else 16)
        if version >= 6:
            max_mapnr = struct.unpack_from("<Q", sub, 96)[0] or max_mapnr
        half = bitmap_blocks * bs // 2
        f.seek((1 + sub_blocks) * bs)
        bm1 = f.read(half)
        bm2 = f.read(half)
    nbytes = (max_mapnr + 7) // 8
    return RawLayout(bs, max_mapnr, (1 + sub_blocks + bitmap_blocks) * bs, bool(split),
                     start if split else 0, end if split else max_mapnr, (1 + sub_blocks) * bs, half,
                     bm1[:nbytes], bm2[:nbytes])
