#!/usr/bin/env python3
"""Benchmark for issue 2: scalar translate latency, CLI start-up, batch throughput.

    python tests/perf/bench_translate.py

Prints figures; asserts nothing (timings belong in benchmarks, not tests).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ["-i", f"{ROOT / 'samples/s1_4k_48bit.img'}@0x40000000", "--regs", str(ROOT / "samples/s1_4k_48bit.regs.json")]


def per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    from pgwalk.builder import TableBuilder, two_stage
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate

    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    setup, mem = setup_from_registers(b.registers()), b.memory()
    n = 20000
    t4 = per_call(lambda: translate(setup, mem, 0x1234), n)
    print(f"scalar translate, 4-level 4K stage 1:      {t4 * 1e6:7.2f} us/VA  ({t4 / 4 * 1e6:.2f} us/level)")
    ts = two_stage()
    ts.map(0x40_0000, 0x1000_0000, 0x1000, pa=0x6000_0000)
    s2setup, s2mem = setup_from_registers(ts.registers()), ts.memory()
    t12 = per_call(lambda: translate(s2setup, s2mem, 0x40_0123), n // 4)
    nsteps = len(translate(s2setup, s2mem, 0x40_0123).steps)
    print(f"scalar translate, two stages ({nsteps} reads):   {t12 * 1e6:7.2f} us/VA  ({t12 / nsteps * 1e6:.2f} us/read)")
    t0 = time.perf_counter()
    setup_from_registers(b.registers())
    print(f"register decode (setup_from_registers):   {(time.perf_counter() - t0) * 1e6:7.1f} us")

    exe = [sys.executable, "-m", "pgwalk.cli"]
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run(exe + ["translate", *SAMPLE, "--json", "0xffff800000201234"], check=True,
                       capture_output=True)
        runs.append(time.perf_counter() - t0)
    print(f"CLI start-up, translate one VA (median 7): {statistics.median(runs) * 1e3:7.1f} ms")
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(exe + ["--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    print(f"CLI start-up, --help (median 5):           {statistics.median(runs) * 1e3:7.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "vas.txt"
        count = 50000
        f.write_text("".join(f"{0xffff800000201000 + 8 * i:#x}\n" for i in range(count)))
        t0 = time.perf_counter()
        subprocess.run(exe + ["translate", *SAMPLE, "--json", "--batch", str(f)], check=False,
                       stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        print(f"CLI batch --json, {count} VAs:             {dt:7.2f} s  ({count / dt:,.0f} VA/s, whole process)")


if __name__ == "__main__":
    main()
