#!/usr/bin/env python3
"""Benchmark for issue 14 ("one JSON shape"): what the trace keys would cost.

    python tests/perf/bench_json_shape.py [COUNT]

``translate --json`` prints the same keys for any number of addresses; the walk (``s1``,
``s2``, ``steps``, ``notes``, ``label``, the fault's ``reason``) only with ``--trace``,
because the vectorised walker does not build it.  This prints the wall time and output
size of ``--json`` (vectorised), ``--json --scalar`` and ``--json --trace`` on COUNT
(default 200,000) addresses of the 4K sample, and checks that the first two agree line
for line.  Prints figures; asserts nothing but that agreement.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ["-i", f"{ROOT / 'samples/s1_4k_48bit.img'}@0x40000000", "--regs", str(ROOT / "samples/s1_4k_48bit.regs.json")]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        vas = Path(tmp) / "vas.txt"
        vas.write_text("".join(f"{0xFFFF800000200000 + rng.randrange(0x100000):#x}\n" for _ in range(count)))
        outs = {}
        print(f"translate --json on {count:,} addresses (s1_4k_48bit sample):")
        for name, extra in (("--json", []), ("--json --scalar", ["--scalar"]), ("--json --trace", ["--trace"])):
            out = Path(tmp) / (name.replace(" ", "_") + ".jsonl")
            t0 = time.perf_counter()
            with out.open("wb") as fh:
                subprocess.run([sys.executable, "-m", "pgwalk", "translate", *SAMPLE, "--json", *extra,
                                "--batch", str(vas)], stdout=fh, stderr=subprocess.DEVNULL, check=False)
            dt = time.perf_counter() - t0
            outs[name] = out
            print(f"  {name:<16} {dt:7.2f} s  {out.stat().st_size / 1e6:8.1f} MB")
        same = outs["--json"].read_bytes() == outs["--json --scalar"].read_bytes()
        print(f"  vectorised and scalar lines identical: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
