#!/usr/bin/env python3
"""Live-target figures over a real QEMU gdbstub (the s1_4k_48bit sample in a virt guest).

    python tests/perf/bench_live.py

Prints: connect + handshake + registers, one cold 4-level walk (every table block read
from the stub), one warm walk, and a 10,000-address batch (packets sent, blocks read).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import qemu_guest  # noqa: E402


def main() -> int:
    if qemu_guest.qemu_binary() is None:
        print("qemu-system-aarch64 is not installed")
        return 1
    spec = importlib.util.spec_from_file_location("make_samples", qemu_guest.SAMPLES / "make_samples.py")
    ms = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = ms
    spec.loader.exec_module(ms)
    (s,) = [x for x in ms.build_all() if x.name == "s1_4k_48bit"]
    g = qemu_guest.start_guest(s.name, [p.addr for p in s.probes])
    try:
        import numpy as np

        from pgwalk.bulk import translate_many
        from pgwalk.live import open_target, read_target_registers
        from pgwalk.params import setup_from_registers
        from pgwalk.walk import translate

        cold, warm, opens = [], [], []
        for _ in range(20):
            t0 = time.perf_counter()
            mem = open_target(g.gdb)
            regs, _missing = read_target_registers(mem)
            setup = setup_from_registers(regs)
            t1 = time.perf_counter()
            t = translate(setup, mem, 0xffff800000201234)
            t2 = time.perf_counter()
            translate(setup, mem, 0xffff800000201234)
            t3 = time.perf_counter()
            assert t.ok and len(t.steps) == 4
            opens.append(t1 - t0)
            cold.append(t2 - t1)
            warm.append(t3 - t2)
            mem.close()
        ms_ = lambda xs: f"median {statistics.median(xs) * 1e3:.2f} ms, max {max(xs) * 1e3:.2f} ms"  # noqa: E731
        print(f"open + handshake + registers: {ms_(opens)}")
        print(f"4-level walk, cold cache ({len(t.steps)} descriptors over the gdbstub): {ms_(cold)}")
        print(f"4-level walk, warm cache: {ms_(warm)}")
        mem = open_target(g.gdb)
        regs, _ = read_target_registers(mem)
        setup = setup_from_registers(regs)
        before = mem.stub.packets
        vas = np.array([0xffff800000200000 + 8 * i for i in range(4000)]
                       + [0xffff000040000000 + 0x1000 * i for i in range(3000)]
                       + [0x400000 + 0x1000 * i for i in range(3000)], dtype=np.uint64)
        t0 = time.perf_counter()
        res = translate_many(setup, mem, vas)
        took = time.perf_counter() - t0
        print(f"10,000-address batch: {took * 1e3:.1f} ms, {mem.stub.packets - before} packets, "
              f"{mem.blocks_read} blocks of 4 KiB read once each, {int(res.ok.sum())} translated")
        mem.close()
    finally:
        g.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
