"""Benchmark: ``pgwalk info`` on 4 GiB dumps, and the memory a page sweep uses.

Creates, in a temporary folder (sparse files: little disk is used):

* ``elf``: a 4 GiB ELF core (one 4 GiB PT_LOAD, a VMCOREINFO note and an
  NT_PRSTATUS), the file truncated to its full 4 GiB + headers size;
* ``kdump-raw``: a plain diskdump file of 4 GiB of memory (1 Mi 4 KiB pages),
  every page stored uncompressed, so the file itself is 4 GiB (sparse);
* ``kdump-flat``: the same memory as makedumpfile's flattened format with
  zlib pages (one shared zero page, 1 Mi descriptors: 24 MiB of them);
* ``kdump-flat-4g``: ``kdump-raw`` flattened in 256 KiB records, as QEMU 7.2
  writes them (the oracle's kdump-zlib file has records of about 256 KiB): a
  4 GiB file of 16,400 records, whose headers must all be read to index it
  (the format has no index);
* ``kdump-flat-4g-16k`` (stress, reported, not judged): the same in 16 KiB
  records, 262,144 of them.

Then times ``pgwalk info FILE`` as a subprocess (median of N runs after a
warm-up; the issue's budget is 1 s each) and reports the child's peak RSS,
and sweeps 20,000 random pages of the flattened kdump in-process with a
16 MiB page cache, reporting the RSS growth (bounded by the cache, not by
the dump).  Run it directly::

    python tests/perf/bench_info.py [--runs N] [--budget SECONDS] [--keep DIR]

Exits 1 when a median is over the budget.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GiB = 1 << 30
RAM_BASE = 0x8000_0000
PAGE = 4096
NPAGES = 4 * GiB // PAGE

VMCOREINFO = f"""OSRELEASE=6.1.0-bench
PAGESIZE=4096
SYMBOL(swapper_pg_dir)=ffff800009a58000
SYMBOL(_stext)=ffff800008010000
NUMBER(VA_BITS)=48
NUMBER(kimage_voffset)=0xffff7fff88000000
NUMBER(PHYS_OFFSET)={RAM_BASE:#x}
NUMBER(TCR_EL1_T1SZ)=0x10
KERNELOFFSET=0
"""


def _note(name: str, ntype: int, desc: bytes) -> bytes:
    nb = name.encode() + b"\0"
    return (struct.pack("<III", len(nb), len(desc), ntype) + nb.ljust((len(nb) + 3) & ~3, b"\0")
            + desc.ljust((len(desc) + 3) & ~3, b"\0"))


def make_elf(path: Path) -> None:
    notes = _note("CORE", 1, bytes(112) + struct.pack("<34Q", *range(34)) + bytes(8))
    notes += _note("VMCOREINFO", 0, VMCOREINFO.encode())
    ehsize, phsize = 64, 56
    note_off = ehsize + 2 * phsize
    load_off = (note_off + len(notes) + 0xFFF) & ~0xFFF
    eh = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 4, 183, 1, 0, ehsize, 0, 0,
                     ehsize, phsize, 2, 64, 0, 0)
    ph_note = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(notes), len(notes), 4)
    ph_load = struct.pack("<IIQQQQQQ", 1, 7, load_off, RAM_BASE, RAM_BASE, 4 * GiB, 4 * GiB, PAGE)
    with open(path, "wb") as f:
        f.write(eh + ph_note + ph_load + notes)
        f.truncate(load_off + 4 * GiB)


def make_kdumps(raw: Path, flat: Path) -> None:
    import numpy as np

    from pgwalk.kdump import open_kdump, write_kdump

    first = RAM_BASE // PAGE
    data = {first + 7: os.urandom(PAGE)}
    write_kdump(flat, data, compression="zlib", zero_runs=[(first, NPAGES)], vmcoreinfo=VMCOREINFO,
                flattened=True, flat_chunk=1 << 20)
    # plain, uncompressed: rewrite the descriptors to one data block per page, then
    # extend the file sparsely to hold them (4 GiB)
    write_kdump(raw, {}, compression=None, zero_runs=[(first, NPAGES)], vmcoreinfo=VMCOREINFO)
    with open_kdump(raw) as d:
        desc_off, n = d.desc_offset, d.pages_dumped
    data_off = desc_off + n * 24
    data_off = (data_off + PAGE - 1) & ~(PAGE - 1)
    descs = np.zeros(n, dtype=[("offset", "<i8"), ("size", "<u4"), ("flags", "<u4"), ("pf", "<u8")])
    descs["offset"] = data_off + np.arange(n, dtype=np.int64) * PAGE
    descs["size"] = PAGE
    with open(raw, "r+b") as f:
        f.seek(desc_off)
        f.write(descs.tobytes())
        f.truncate(data_off + n * PAGE)
        f.seek(data_off + 5 * PAGE)
        f.write(b"\x42" * 8)


def flatten(plain: Path, out: Path, record: int = 16 << 10) -> None:
    """``plain`` as a flattened stream of ``record``-byte records; data that is a
    hole in ``plain`` (past its first real bytes) stays a hole in ``out``."""
    size = plain.stat().st_size
    with open(plain, "rb") as f:
        head = f.read(32 << 20)                    # the headers, bitmaps and descriptors
    with open(out, "wb") as f:
        f.write(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
        f.seek(4096)
        pos = 4096
        for off in range(0, size, record):
            n = min(record, size - off)
            f.seek(pos)
            f.write(struct.pack(">qq", off, n))
            if off < len(head):
                f.write(head[off:off + n])
            pos += 16 + n
        f.seek(pos)
        f.write(struct.pack(">qq", -1, -1))


def command(args: list[str]) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "pgwalk")
    if os.path.exists(script):
        return [sys.executable, script, *args]
    return [sys.executable, "-m", "pgwalk.cli", *args]


def _run(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd}: exit {proc.returncode}: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return dt, usage.ru_maxrss


def time_info(path: Path, runs: int) -> tuple[list[float], int]:
    cmd = command(["info", str(path)])
    env = dict(os.environ, COLUMNS="120")
    _run(cmd, env)                                                           # warm-up
    times, peak = [], 0
    for _ in range(runs):
        dt, rss = _run(cmd, env)
        times.append(dt)
        peak = max(peak, rss)
    return times, peak


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sweep(path: Path, pages: int = 20000, cache: int = 16 << 20) -> tuple[float, int, int]:
    from pgwalk.kdump import open_kdump

    rng = random.Random(1)
    with open_kdump(path, cache_bytes=cache) as d:
        mem = d.memory()
        before = _rss_kib()
        t0 = time.perf_counter()
        for _ in range(pages):
            mem.read_u64(RAM_BASE + rng.randrange(NPAGES) * PAGE + 8 * rng.randrange(512))
        dt = time.perf_counter() - t0
        grown = _rss_kib() - before
        return dt, grown, d.pages.cached_bytes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds")
    ap.add_argument("--keep", type=Path, default=None, help="make the files here and keep them")
    ns = ap.parse_args(argv)
    tmp = None
    if ns.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="pgwalk-bench-")
        folder = Path(tmp.name)
    else:
        folder = ns.keep
        folder.mkdir(parents=True, exist_ok=True)
    files = {"elf": folder / "vmcore-4g.elf", "kdump-raw": folder / "vmcore-4g.kdump",
             "kdump-flat": folder / "vmcore-4g.kdump-zlib",
             "kdump-flat-4g": folder / "vmcore-4g-flat256k.kdump",
             "kdump-flat-4g-16k": folder / "vmcore-4g-flat16k.kdump"}
    t0 = time.perf_counter()
    if not files["elf"].exists():
        make_elf(files["elf"])
    if not (files["kdump-raw"].exists() and files["kdump-flat"].exists()):
        make_kdumps(files["kdump-raw"], files["kdump-flat"])
    if not files["kdump-flat-4g"].exists():
        flatten(files["kdump-raw"], files["kdump-flat-4g"], 256 << 10)
    if not files["kdump-flat-4g-16k"].exists():
        flatten(files["kdump-raw"], files["kdump-flat-4g-16k"], 16 << 10)
    print(f"made the dumps in {time.perf_counter() - t0:.1f} s in {folder}")
    worst = 0.0
    for name, path in files.items():
        st = path.stat()
        times, rss = time_info(path, ns.runs)
        med = statistics.median(times)
        if not name.endswith("-16k"):
            worst = max(worst, med)
        print(f"pgwalk info {name:17s}: file {st.st_size / GiB:5.2f} GiB ({st.st_blocks * 512 >> 20} MiB on disk), "
              f"median {med * 1000:6.0f} ms over {ns.runs} runs (min {min(times) * 1000:.0f}), "
              f"peak RSS {rss >> 10} MiB")
    dt, grown, cached = sweep(files["kdump-flat"])
    print(f"sweep 20000 random pages of kdump-flat (16 MiB cache): {dt:.2f} s, RSS grew {grown >> 10} MiB, "
          f"cache holds {cached >> 20} MiB")
    dt, grown, cached = sweep(files["kdump-raw"])
    print(f"sweep 20000 random pages of kdump-raw  (16 MiB cache): {dt:.2f} s, RSS grew {grown >> 10} MiB, "
          f"cache holds {cached >> 20} MiB")
    if tmp is not None:
        tmp.cleanup()
    ok = worst <= ns.budget
    print(f"{'OK' if ok else 'OVER BUDGET'}: worst median {worst * 1000:.0f} ms, budget {ns.budget * 1000:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
