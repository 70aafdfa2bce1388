#!/usr/bin/env python3
"""Benchmark for issue 14: plain text output against JSON and CSV.

    python tests/perf/bench_text.py [--count 200000] [--runs 5]

Times ``pgwalk translate --batch FILE`` with ``--no-trace`` (plain result lines),
``--json`` and ``--csv`` as whole processes, interleaved, best and median of
``--runs``, each written once to a file and once to a pipe the parent reads.  The
addresses: the Linux oracle dump's kernel VAs (translations.json plus random
linear-map addresses) when the dump is present, else random addresses of the shipped
``s1_4k_48bit`` sample.  Prints figures; asserts nothing.  Goal (issue 14): text
costs at most twice JSON.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

#: as users run it: with bytecode caching
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PAGE_OFFSET = 0xFFFF_0000_0000_0000      # the oracle kernel's linear map (VA_BITS 48)
RAM_SIZE = 256 << 20


def _pgwalk_exe() -> list[str]:
    exe = Path(sys.executable).with_name("pgwalk")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pgwalk"]


def _workload(count: int) -> tuple[list[str], list[int], str]:
    """(image options, VAs, description)."""
    from oracle_data import linux_translations, linux_vmcore_elf

    rng = random.Random(7)
    dump = linux_vmcore_elf()
    if dump is not None:
        vas = [int(e["va"], 16) for e in (linux_translations() or []) if (int(e["va"], 16) >> 55) & 1]
        while len(vas) < count:
            vas.append(PAGE_OFFSET + rng.randrange(RAM_SIZE))
        rng.shuffle(vas)
        return ["-i", str(dump)], vas[:count], "Linux oracle dump, kernel VAs"
    samples = ROOT / "samples"
    opts = ["-i", f"{samples / 's1_4k_48bit.img'}@0x40000000", "--regs", str(samples / "s1_4k_48bit.regs.json")]
    vas = [0xFFFF_8000_0020_0000 + rng.randrange(0x20_0000) for _ in range(count)]
    return opts, vas, "s1_4k_48bit sample (the oracle dump is absent)"


def _run(cmd: list[str], out: Path | None) -> tuple[float, float, int]:
    """(wall, CPU, output bytes) of one process writing to a file (``out``) or a pipe."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if out is not None:
        with open(out, "wb") as fh:
            subprocess.run(cmd, stdout=fh, stderr=subprocess.DEVNULL, env=CHILD_ENV)
        size = out.stat().st_size
    else:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CHILD_ENV)
        size = 0
        while chunk := p.stdout.read(1 << 20):
            size += len(chunk)
        p.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    opts, vas, what = _workload(args.count)
    load = os.getloadavg()[0]
    print(f"{len(vas):,} VAs, {what}; load average {load:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench_text.") as tmp:
        tmpd = Path(tmp)
        batch = tmpd / "vas.txt"
        batch.write_text("".join(f"{v:#x}\n" for v in vas))
        base = _pgwalk_exe() + ["translate", *opts, "--batch", str(batch)]
        modes = {"text": ["--no-trace"], "json": ["--json"], "csv": ["--csv"]}
        times: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        _run(base + ["--json"], tmpd / "warm.out")                   # page cache, bytecode
        for _ in range(args.runs):
            for name, extra in modes.items():
                for sink in ("file", "pipe"):
                    out = tmpd / f"{name}.out" if sink == "file" else None
                    times.setdefault((name, sink), []).append(_run(base + extra, out))
    print(f"{'output':8} {'sink':5} {'best s':>8} {'median s':>9} {'CPU s':>7} {'MB':>6}  vs json")
    for (name, sink), rs in times.items():
        walls = [r[0] for r in rs]
        best, med = min(walls), statistics.median(walls)
        json_best = min(r[0] for r in times[("json", sink)])
        print(f"{name:8} {sink:5} {best:8.3f} {med:9.3f} {min(r[1] for r in rs):7.3f} {rs[0][2] / 1e6:6.1f}"
              f"  {best / json_best:5.2f}x")
    print("goal: text <= 2x json")


if __name__ == "__main__":
    main()
