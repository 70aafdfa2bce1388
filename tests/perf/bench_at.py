#!/usr/bin/env python3
"""Benchmark for issue 5: ``pgwalk at --batch`` throughput on 100k JSON lines.

    python tests/perf/bench_at.py [--lines N] [--explain full|quick|known|none] [--scalar]

Scenarios (each a real ``pgwalk at --batch FILE --json`` subprocess, output to a pipe):

1. *one context*: N lines of AT S1E1R/S1E0W/S1E1RP on the sample kernel image
   (samples/s1_4k_48bit), registers from --regs, no captured values;
2. *trace replay* (needs ../shared/oracle/qemu-at): N lines cycling through the
   s12_two_stage_attrs vectors, each with its own ``regs`` object (thousands of
   context switches) and a captured PAR; about 14 % of them mismatch (QEMU
   departures), so the explanation depth matters.

From 64 lines on, ``pgwalk at --batch`` walks the lines sharing register state, op and
PAN together (issue 7, :meth:`pgwalk.at.ATBatch.run_many`); ``--scalar`` times the
one-AT-at-a-time path instead (the same output).

Prints lines/s; asserts nothing (timings belong in benchmarks, not tests).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))


#: child processes run as users run them: with bytecode caching (the coding environment
#: may set PYTHONDONTWRITEBYTECODE, which makes every start recompile pgwalk)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
#: extra arguments for every run (--scalar)
EXTRA: list[str] = []


def cli() -> list[str]:
    return [sys.executable, "-m", "pgwalk.cli"]


def timed(args: list[str], n: int, label: str) -> float:
    args = args + EXTRA
    t0 = time.perf_counter()
    r = subprocess.run(cli() + args, capture_output=True, text=True, env=CHILD_ENV)
    dt = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{label}: exit {r.returncode}: {r.stderr}")
    got = r.stdout.count("\n")
    assert got == n, (got, n)
    print(f"{label:58} {n:7} lines {dt:7.2f} s  {n / dt:9.0f} lines/s")
    return dt


def one_context(tmp: Path, n: int, explain: str) -> None:
    rng = random.Random(5)
    ops = ["S1E1R", "S1E0W", "S1E1RP", "S1E1W"]
    rows = []
    for i in range(n):
        va = 0xFFFF800000200000 + rng.randrange(0, 0x40000) if i % 4 else rng.randrange(0, 1 << 30)
        rows.append(json.dumps({"op": ops[i % 4], "va": hex(va), "pan": i % 2}))
    f = tmp / "one.jsonl"
    f.write_text("\n".join(rows) + "\n")
    args = ["at", "--batch", str(f), "--json", "--explain", explain,
            "-i", f"{ROOT / 'samples/s1_4k_48bit.img'}@0x40000000",
            "--regs", str(ROOT / "samples/s1_4k_48bit.regs.json")]
    timed(args, n, "one register context, no captured PAR")


def replay(tmp: Path, n: int, explain: str) -> None:
    import oracle_at as O

    if not O.available():
        print("trace replay: oracle not present, skipped")
        return
    batch = "s12_attrs"
    vs = O.vectors(batch)
    rows = []
    for i in range(n):
        v = vs[i % len(vs)]
        q = v["qemu"]
        d = {"op": v["op"], "va": v["va"], "pan": v["pan"], "regs": v["regs"]}
        if q["status"] == "ok":
            d["par"] = q["par"]
        elif q["status"] == "exception":
            d["par"] = "exception"
        rows.append(json.dumps(d))
    f = tmp / "replay.jsonl"
    f.write_text("\n".join(rows) + "\n")
    img = tmp / "ram.raw"
    lo, hi = O.RAM
    with open(img, "wb") as fh:
        fh.truncate(hi - lo)
        for pa, value in sorted(O.words(batch).items()):
            fh.seek(pa - lo)
            fh.write(struct.pack("<Q", value))
    contexts = len({json.dumps(v["regs"], sort_keys=True) for v in vs})
    base = ["at", "--batch", str(f), "--json", "-i", f"{img}@{lo:#x}", "--reg", f"ID_AA64MMFR0_EL1={O.MMFR0:#x}"]
    for level in dict.fromkeys([explain, "known"]):
        timed(base + ["--explain", level], n,
              f"trace replay, {contexts} contexts, captured PARs, --explain {level}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--explain", default="full", choices=["full", "quick", "known", "none"])
    ap.add_argument("--scalar", action="store_true", help="time pgwalk at --batch --scalar")
    ns = ap.parse_args(argv)
    if ns.scalar:
        EXTRA.append("--scalar")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one_context(tmp, ns.lines, ns.explain)
        replay(tmp, ns.lines, ns.explain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
