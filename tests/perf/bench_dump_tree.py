"""dump-tree benchmark: a 4 GiB TTBR1 tree of 4KB pages (1,048,576 leaf descriptors).

Builds the tree once (in a temporary directory, written as a raw image so the
walk reads it through mmap like a real dump), then measures:

* wall time of ``pgwalk dump-tree --view ranges`` and ``--view tree`` as
  subprocesses (median of ``--runs``; output to a pipe, so no progress bar);
* peak Python heap (tracemalloc) of the same walks in-process, for a 1 GiB
  and the 4 GiB tree: the figures must not grow with the tree.

The budget (issue 3): ranges under 2 s, tree under 3 s on the 2-core CI
machine.  Run it directly::

    python tests/perf/bench_dump_tree.py [--runs N] [--gib 4]

It exits 1 when a median is over its budget.  The tree maps VA
0xffff000000000000.. to PA 0x1_0000_0000.. contiguously, with the
permissions changing every 256 MiB (so the ranges view has 16 lines).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

VA0 = 0xFFFF_0000_0000_0000
PA0 = 0x1_0000_0000
TABLES = 0x4000_0000
PAGE = 4096
CHUNK = 2 << 20          # one level 3 table
ATTR_PERIOD = 256 << 20  # permissions change this often


def build(path: str, gib: int) -> dict[str, int]:
    """Write the tree's tables to ``path`` (raw image at TABLES); returns the registers."""
    import numpy as np

    from pgwalk.builder import S1Attrs, TableBuilder

    b = TableBuilder(granule=4096, ia_bits=48, table_base=TABLES)
    variants = [S1Attrs(), S1Attrs(ap=0b10), S1Attrs(pxn=1, uxn=1), S1Attrs(ap=0b10, ng=1)]
    size = gib << 30
    tables = []
    for off in range(0, size, CHUNK):
        attrs = variants[(off // ATTR_PERIOD) % len(variants)]
        # the builder creates the level 3 table and its first page descriptor
        b.set_descriptor(VA0 + off, 3, b.leaf_descriptor(PA0 + off, 3, attrs))
        tables.append((b.descriptor_address(VA0 + off, 3), off, attrs))
    base, img = next(iter(b.chunks().items()))
    words = np.frombuffer(img, dtype="<u8").copy()
    step = np.arange(CHUNK // PAGE, dtype=np.uint64) * np.uint64(PAGE)
    for entry, off, attrs in tables:
        first = b.leaf_descriptor(PA0 + off, 3, attrs)
        # a 4KB page descriptor holds OA[47:12] in place: the next page adds 4096
        assert b.leaf_descriptor(PA0 + off + PAGE, 3, attrs) == first + PAGE
        i = (entry - base) // 8
        words[i:i + CHUNK // PAGE] = np.uint64(first) + step
    with open(path, "wb") as fh:
        fh.write(words.tobytes())
    return b.registers(ttbr=1)


def command(args: list[str]) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "pgwalk")
    if os.path.exists(script):
        return [sys.executable, script, *args]
    return [sys.executable, "-m", "pgwalk.cli", *args]


def wall(args: list[str], runs: int) -> list[float]:
    cmd = command(args)
    subprocess.run(cmd, check=True, capture_output=True)          # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return times


class _Discard(io.TextIOBase):
    """stdout that keeps nothing (so the output text is not counted as heap)."""

    def write(self, s: str) -> int:
        return len(s)


def heap_peak(args: list[str]) -> tuple[float, int]:
    """(seconds, peak traced bytes) of one in-process run with stdout discarded."""
    from pgwalk.cli import main

    out, saved = _Discard(), sys.stdout
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        sys.stdout = out
        rc = main(args)
    finally:
        sys.stdout = saved
    dt = time.perf_counter() - t0
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if rc != 0:
        raise SystemExit(f"dump-tree {args} returned {rc}")
    return dt, peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gib", type=int, default=4)
    ap.add_argument("--budget-ranges", type=float, default=2.0, help="seconds")
    ap.add_argument("--budget-tree", type=float, default=3.0, help="seconds")
    ns = ap.parse_args(argv)
    import json

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        images = {}
        for gib in sorted({1, 2, ns.gib}):
            img = os.path.join(tmp, f"tree{gib}.img")
            regs = build(img, gib)
            rf = os.path.join(tmp, f"tree{gib}.regs.json")
            with open(rf, "w") as fh:
                json.dump({k: hex(v) for k, v in regs.items()}, fh)
            images[gib] = ["-i", f"{img}@{TABLES:#x}", "--regs", rf, "--ttbr1",
                           "--range", f"{VA0:#x}+{gib << 30:#x}"]
        leaves = (ns.gib << 30) // PAGE
        print(f"tree: {ns.gib} GiB of 4KB pages = {leaves:,} leaf descriptors "
              f"({leaves // 512 + 4} tables); python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for view, budget in (("ranges", ns.budget_ranges), ("tree", ns.budget_tree)):
            times = wall(["dump-tree", *images[ns.gib], "--view", view], ns.runs)
            med = statistics.median(times)
            ok &= med <= budget
            peaks = []
            heap_peak(["dump-tree", *images[min(images)], "--view", view])     # imports, caches
            for gib in sorted(images):
                dt, peak = heap_peak(["dump-tree", *images[gib], "--view", view])
                peaks.append(f"{gib} GiB: {peak / 2**20:.1f} MiB peak heap ({dt:.2f} s in-process, traced)")
            print(f"--view {view:6}: median {med:.2f} s over {ns.runs} runs (min {min(times):.2f}, "
                  f"max {max(times):.2f}; budget {budget:.1f} s){'' if med <= budget else '  OVER BUDGET'}")
            print("                " + "; ".join(peaks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
