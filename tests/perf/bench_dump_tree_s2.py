"""dump-tree under two stages: a stage 1 tree whose outputs stage 2 maps in 4KB pages.

The tree (built with :mod:`pgwalk.builder`, tables filled with numpy, written as a raw
image so the walk reads it through mmap like a real dump):

* stage 2 (VTTBR_EL2, 4KB granule, 40-bit IPA): ``2 * GIB`` GiB of IPA at
  ``IPA_A`` mapped to ``IPA + PA_DELTA`` with 4KB pages, the attributes changing every
  64 MiB (Normal WB RW, Normal NC RW, Device-nGnRE RW, Normal WB read-only);
* stage 1 (TTBR1_EL1, tables in IPA space): ``GIB`` GiB of 4KB pages at ``VA0`` -> ``IPA_A``
  (every stage 1 page inside one stage 2 page), then ``GIB`` GiB of 2MB blocks -> ``IPA_B``
  (every block mapped by stage 2 in 512 pieces).

It measures the wall time of ``pgwalk dump-tree --stage 12 --view ranges`` and
``--view tree`` over the whole stage 1 tree (subprocesses, median of ``--runs``,
output to a pipe), the time of the same walks in-process (imports done, output
discarded), and ``--stage 1`` (the same tree without the stage 2 lookups of the
leaves) for reference; it prints the number of output lines.  Run it directly::

    python tests/perf/bench_dump_tree_s2.py [--runs N] [--gib 1]

To measure another version of pgwalk, put its source first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

VA0 = 0xFFFF_0000_0000_0000
IPA_A = 0x1_0000_0000
PA_DELTA = 0x1_0000_0000
S2_TABLES = 0x4000_0000
S1_TABLES_PA = 0x4400_0000
S1_TABLES_IPA = 0x8000_0000
PAGE = 4096
CHUNK = 2 << 20              # one level 3 table / one level 2 block
ATTR_PERIOD = 64 << 20


def _fill(b, tables, words, base) -> None:
    """Fill each level 3 table from its first page descriptor (4KB pages: OA[47:12] in place)."""
    import numpy as np

    step = np.arange(CHUNK // PAGE, dtype=np.uint64) * np.uint64(PAGE)
    for entry, first in tables:
        i = (entry - base) // 8
        words[i:i + CHUNK // PAGE] = np.uint64(first) + step


def build(path: str, gib: int) -> dict[str, int]:
    """Write the two trees to ``path`` (raw image at S2_TABLES); returns the registers."""
    import numpy as np

    from pgwalk.builder import S1Attrs, S2Attrs, two_stage, write_image

    ipa_b = IPA_A + (gib << 30)
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40, s2_table_pa=S2_TABLES, s1_table_ipa=S1_TABLES_IPA,
                   s1_table_pa=S1_TABLES_PA, s1_table_size=(gib << 21) + (1 << 20))
    s1, s2 = ts.s1, ts.s2
    variants = [S2Attrs(), S2Attrs(memattr=0b0101), S2Attrs.device(xn=0), S2Attrs(s2ap=0b01)]
    s2_tables, s1_tables = [], []
    for off in range(0, 2 * (gib << 30), CHUNK):
        ipa = IPA_A + off
        raw = s2.leaf_descriptor(ipa + PA_DELTA, 3, variants[(off // ATTR_PERIOD) % len(variants)])
        s2_tables.append((s2.set_descriptor(ipa, 3, raw), raw))
    for off in range(0, gib << 30, CHUNK):
        raw = s1.leaf_descriptor(IPA_A + off, 3, S1Attrs())
        s1_tables.append((s1.set_descriptor(VA0 + off, 3, raw), raw))
        s1.set_descriptor(VA0 + (gib << 30) + off, 2, s1.leaf_descriptor(ipa_b + off, 2, S1Attrs()))
    (s2_base, s2_buf), = s2.chunks().items()
    (s1_base, s1_buf), = s1.chunks().items()
    w2 = np.frombuffer(s2_buf, dtype="<u8")
    w1 = np.frombuffer(s1_buf, dtype="<u8")
    _fill(s2, s2_tables, w2, s2_base)
    _fill(s1, s1_tables, w1, s1_base)
    write_image(path, {s2_base: s2_buf, S1_TABLES_PA: s1_buf})
    return ts.registers(ttbr=1)


def command(args: list[str]) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "pgwalk")
    if os.path.exists(script):
        return [sys.executable, script, *args]
    return [sys.executable, "-m", "pgwalk.cli", *args]


def wall(args: list[str], runs: int) -> tuple[list[float], int]:
    cmd = command(args)
    subprocess.run(cmd, capture_output=True)          # warm the page cache
    times, lines = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
        lines = p.stdout.count(b"\n")
    return times, lines


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def in_process(args: list[str], runs: int) -> tuple[list[float], int]:
    """Seconds of ``runs`` in-process runs (after one to import and warm up), stdout discarded,
    and the peak Python heap (tracemalloc) of one more run."""
    import tracemalloc

    from pgwalk.cli import main

    saved = sys.stdout
    times = []
    try:
        sys.stdout = _Discard()
        main(args)
        for _ in range(runs):
            t0 = time.perf_counter()
            main(args)
            times.append(time.perf_counter() - t0)
        tracemalloc.start()
        main(args)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        sys.stdout = saved
    return times, peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gib", type=int, default=1)
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "two_stage.img")
        t0 = time.perf_counter()
        regs = build(img, ns.gib)
        built = time.perf_counter() - t0
        rf = os.path.join(tmp, "regs.json")
        with open(rf, "w") as fh:
            json.dump({k: hex(v) for k, v in regs.items()}, fh)
        args = ["-i", f"{img}@{S2_TABLES:#x}", "--regs", rf, "--ttbr1", "--stage", "12"]
        pages = (ns.gib << 30) // PAGE
        print(f"tree: stage 1 {ns.gib} GiB of 4KB pages ({pages:,} leaves) + {ns.gib} GiB of 2MB blocks "
              f"({(ns.gib << 30) // CHUNK} leaves, each 512 stage 2 pages); stage 2 {2 * ns.gib} GiB of 4KB pages; "
              f"built in {built:.1f} s; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for view in ("ranges", "tree"):
            times, lines = wall(["dump-tree", *args, "--view", view], ns.runs)
            inproc, peak = in_process(["dump-tree", *args, "--view", view], ns.runs)
            s1, _ = in_process(["dump-tree", *args[:-2], "--stage", "1", "--view", view], ns.runs)
            print(f"--stage 12 --view {view:6}: median {statistics.median(times):.2f} s wall over {ns.runs} runs "
                  f"(min {min(times):.2f}, max {max(times):.2f}), {statistics.median(inproc):.3f} s in-process, "
                  f"{peak / 2**20:.1f} MiB peak heap; {lines} lines;  "
                  f"--stage 1: {statistics.median(s1):.3f} s in-process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
