#!/usr/bin/env python3
"""Benchmark for issue 7: the vectorised walker (pgwalk.bulk).

    python tests/perf/bench_bulk.py [--sizes 1e6,1e7,1e8] [--runs 5] [--skip-drgn] [--phases N]

Prints, without asserting anything:

* the whole-command comparison with drgn, when drgn is installed and the Linux
  oracle dump is present: ``pgwalk translate --image DUMP --batch FILE --json``
  on 200,000 kernel VAs (translations.json's kernel addresses plus random
  linear-map addresses) against a small drgn script doing the same job with
  drgn's C page-table walker (``_drgn._linux_helper_follow_phys`` over
  swapper_pg_dir, no debug info), one JSON line per VA; both timed as whole
  processes writing to a file, interleaved, best and median of ``--runs``;
* the throughput of :func:`pgwalk.bulk.translate_many` on 1, 10 and 100
  million random mapped VAs of a 4-level 4KB tree (a memory-mapped raw image),
  each size in its own process so that its peak memory (max RSS) is its own;
* the ratio to the scalar walker on the same addresses;
* with ``--phases N``, the bulk path's phases (imports, reading the VA file, opening the
  dump, walk, formatting, writing) timed in N fresh processes.

Targets (2-core CI machine): >= 5 million translations/s, >= 50x the scalar walker;
the whole command no slower than drgn's (goal: half its time).
"""

from __future__ import annotations

import argparse
import json
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

#: the drgn side, run as its own process: argv = dump, VA file, swapper_pg_dir VA
DRGN_JOB = r'''
import sys
import drgn
from _drgn import _linux_helper_follow_phys as follow_phys

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.set_enabled_debug_info_finders([])     # no debug info: the walker needs only the page tables
pgd = int(sys.argv[3], 16)
out = []
with open(sys.argv[2]) as fh:
    for line in fh:
        va = int(line, 16)
        try:
            out.append(f'{{"va": "{va:#x}", "pa": "{follow_phys(prog, pgd, va):#x}"}}\n')
        except drgn.FaultError:
            out.append(f'{{"va": "{va:#x}", "pa": null}}\n')
sys.stdout.write("".join(out))
'''

PAGE_OFFSET = 0xFFFF_0000_0000_0000      # the oracle kernel's linear map (VA_BITS 48)
PHYS_OFFSET = 0x4000_0000
RAM_SIZE = 256 << 20


#: child processes run as users run them: with bytecode caching (the coding environment
#: may set PYTHONDONTWRITEBYTECODE, which makes every start recompile pgwalk)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(cmd: list[str], stdout: Path) -> tuple[float, float]:
    """(wall, user + sys CPU) seconds of one process writing stdout to a file."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(stdout, "wb") as fh:
        subprocess.run(cmd, stdout=fh, stderr=subprocess.DEVNULL, check=False, env=CHILD_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _pgwalk_exe() -> list[str]:
    exe = Path(sys.executable).with_name("pgwalk")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pgwalk.cli"]


def drgn_comparison(runs: int, count: int = 200_000) -> None:
    try:
        import drgn  # noqa: F401
    except ImportError:
        print("drgn comparison: skipped (drgn is not installed: pip install drgn)")
        return
    from oracle_data import linux_translations, linux_vmcore_elf

    dump, entries = linux_vmcore_elf(), linux_translations()
    if dump is None or entries is None:
        print("drgn comparison: skipped (the Linux oracle dump is not available)")
        return
    from pgwalk.memory import open_elf_core
    from pgwalk.vmcoreinfo import parse_vmcoreinfo

    with open_elf_core(dump) as core:
        pgd = parse_vmcoreinfo(core.vmcoreinfo).swapper_pg_dir
    vas = _kernel_vas(count)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        va_file = tmp / "vas.txt"
        va_file.write_text("".join(f"{v:#x}\n" for v in vas))
        job = tmp / "drgn_job.py"
        job.write_text(DRGN_JOB)
        cmds = {
            "drgn": [sys.executable, str(job), str(dump), str(va_file), f"{pgd:#x}"],
            "pgwalk": _pgwalk_exe() + ["translate", "--image", str(dump), "--batch", str(va_file), "--json"],
        }
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        _timed(cmds["pgwalk"], tmp / "warm.out")                 # page cache, .pyc files
        _timed(cmds["drgn"], tmp / "warm.out")
        for _ in range(runs):
            for name, cmd in cmds.items():
                times[name].append(_timed(cmd, tmp / f"{name}.out"))
        agree = _same_pas(tmp / "drgn.out", tmp / "pgwalk.out")
        sizes = {k: (tmp / f"{k}.out").stat().st_size for k in cmds}
    print(f"whole command, {count:,} kernel VAs of the Linux dump, stdout to a file "
          f"(best / median of {runs}, interleaved):")
    for name in cmds:
        wall = [w for w, _c in times[name]]
        cpu = [c for _w, c in times[name]]
        print(f"  {name:7s} wall {min(wall):6.3f} s / {statistics.median(wall):6.3f} s   "
              f"CPU {min(cpu):6.3f} s   output {sizes[name] / 1e6:5.1f} MB")
    best = {k: min(w for w, _c in v) for k, v in times.items()}
    med = {k: statistics.median(w for w, _c in v) for k, v in times.items()}
    print(f"  pgwalk / drgn: {best['pgwalk'] / best['drgn']:.2f} (best), {med['pgwalk'] / med['drgn']:.2f} (median); "
          f"PAs agree on {agree[0]:,} of {agree[1]:,} VAs")


def _same_pas(drgn_out: Path, pgwalk_out: Path) -> tuple[int, int]:
    ours = {}
    for line in pgwalk_out.read_text().splitlines():
        d = json.loads(line)
        ours[d["va"]] = d["pa"]
    theirs = [json.loads(line) for line in drgn_out.read_text().splitlines()]
    return sum(ours.get(d["va"], "?") == d["pa"] for d in theirs), len(theirs)


# --------------------------------------------------------------------------- phases

#: one fresh process: the bulk ``translate --json`` path step by step (what the command runs,
#: serially: the command overlaps writing with the next block); prints a JSON object of ms
PHASES_JOB = r'''
import json, os, sys, time
t0 = time.perf_counter()
marks = []
def mark(name):
    marks.append((name, time.perf_counter()))
import click
import pgwalk.cli
import pgwalk.cmd.translate as TR
mark("import click, pgwalk.cli, pgwalk.cmd.translate")
dump, va_file, out = sys.argv[1:4]
TR.bulk_process()
import numpy
mark("import numpy")
import pgwalk.bulk as B
import pgwalk.lines as L
import pgwalk.writer as W
mark("import pgwalk.bulk (walker modules)")
_, vas = TR._read_batch(va_file)
mark("read + parse the VA file")
from pgwalk.cmd.common import load_context
from pgwalk.params import setup_from_registers
ctx = load_context((dump,), None, (), None, None, None)
setup = setup_from_registers(ctx.registers, None)
mark("open the dump (ELF, VMCOREINFO, registers)")
blocks = list(B.iter_translate(setup, ctx.memory, vas, block=TR._BLOCK, reader=B.DescriptorReader(ctx.memory)))
mark("walk")
fmt = L.LineFormatter("json")
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
tf = tw = 0.0
for res in blocks:
    a = time.perf_counter()
    parts = fmt.chunks(res)
    b = time.perf_counter()
    W.write_all(fd, parts)
    tw += time.perf_counter() - b
    tf += b - a
os.close(fd)
marks.append(("format JSON lines", marks[-1][1] + tf))
marks.append(("write", marks[-1][1] + tw))
prev, d = t0, {}
for name, t in marks:
    d[name] = 1e3 * (t - prev)
    prev = t
print(json.dumps(d))
'''


def phases(runs: int) -> None:
    """Median per phase of the bulk translate path on the Linux dump, in fresh processes."""
    from oracle_data import linux_vmcore_elf

    dump = linux_vmcore_elf()
    if dump is None:
        print("phases: skipped (the Linux oracle dump is not available)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        va_file = tmp / "vas.txt"
        va_file.write_text("".join(f"{v:#x}\n" for v in _kernel_vas(200_000)))
        job = tmp / "phases_job.py"
        job.write_text(PHASES_JOB)
        cmd = [sys.executable, str(job), str(dump), str(va_file), str(tmp / "out.json")]
        empty = [sys.executable, "-c", "pass"]
        rows: list[dict[str, float]] = []
        starts = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=CHILD_ENV)
            wall = 1e3 * (time.perf_counter() - t0)
            d = json.loads(p.stdout)
            t0 = time.perf_counter()
            subprocess.run(empty, env=CHILD_ENV)
            starts.append(1e3 * (time.perf_counter() - t0))
            d["(process total)"] = wall
            rows.append(d)
        rows = rows[1:]                                  # the first run warms the page cache
    print(f"bulk translate --json, 200,000 kernel VAs, phases in fresh processes (median of {runs}, ms):")
    print(f"  {'python start-up (python -c pass)':48s} {statistics.median(starts[1:]):7.1f}")
    for name in rows[0]:
        print(f"  {name:48s} {statistics.median(r[name] for r in rows):7.1f}")


def _kernel_vas(count: int) -> list[int]:
    """translations.json's kernel addresses plus random linear-map addresses, shuffled."""
    from oracle_data import linux_translations

    rng = random.Random(7)
    vas = [int(e["va"], 16) for e in (linux_translations() or []) if (int(e["va"], 16) >> 55) & 1]
    while len(vas) < count:
        vas.append(PAGE_OFFSET + rng.randrange(RAM_SIZE))
    rng.shuffle(vas)
    return vas


# --------------------------------------------------------------------------- throughput


def build_tree(path: Path, regions: int = 256) -> tuple[dict[str, int], list[int], int]:
    """A 4-level 4KB tree: ``regions`` 2MB ranges at random VAs, mapped with 4KB pages."""
    from pgwalk.builder import TableBuilder

    b = TableBuilder(table_base=0x4000_0000)
    rng = random.Random(5)
    bases = set()
    while len(bases) < regions:
        bases.add(rng.randrange(1 << 48) & ~((1 << 21) - 1))
    bases = sorted(bases)
    for k, va in enumerate(bases):
        b.map(va, 0x1_0000_0000 + (k << 21), 1 << 21, min_leaf_level=3)
    base, _size = b.write_raw(path)
    return b.registers(), bases, base


def _child(args: argparse.Namespace) -> None:
    """One size, in its own process: prints a JSON line of figures."""
    import numpy as np

    from pgwalk.bulk import translate_many
    from pgwalk.images import open_image
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate

    spec = json.loads(Path(args.child).read_text())
    regs = {k: int(v, 16) for k, v in spec["regs"].items()}
    setup = setup_from_registers(regs)
    mem = open_image(spec["image"])
    n = spec["n"]
    rng = np.random.default_rng(1)
    bases = np.array([int(v, 16) for v in spec["bases"]], dtype=np.uint64)
    vas = bases[rng.integers(0, len(bases), n)] + rng.integers(0, 1 << 21, n, dtype=np.uint64)
    rss_before = _rss_kb("VmRSS")
    times = []
    for _ in range(2 if n > 20_000_000 else 3):
        res = None
        t0 = time.perf_counter()
        res = translate_many(setup, mem, vas)
        times.append(time.perf_counter() - t0)
        if len(times) == 1:
            peak = _rss_kb("VmHWM")          # one result alive: the memory a caller needs
        assert bool(res.ok.all())
    out = {"n": n, "seconds": times[0], "rate": n / times[0], "best_rate": n / min(times[1:]),
           "peak_kb": peak, "inputs_kb": rss_before}
    if spec.get("scalar"):
        sample = vas[:spec["scalar"]].tolist()
        t0 = time.perf_counter()
        for va in sample:
            translate(setup, mem, va)
        out["scalar_rate"] = len(sample) / (time.perf_counter() - t0)
        for i in range(0, len(sample), 997):                      # spot check
            assert translate(setup, mem, sample[i]).pa == int(res.pa[i])
    print(json.dumps(out))


def _rss_kb(field: str) -> int:
    """VmRSS / VmHWM (peak) of this process in KB (reset by exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def throughput(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        regs, bases, base = build_tree(tmp / "tree.img")
        print(f"4-level 4KB tree: 256 x 2MB of 4KB pages at random VAs, raw image "
              f"({(tmp / 'tree.img').stat().st_size >> 10} KB, built in {time.perf_counter() - t0:.1f} s)")
        print("first call in a fresh process (its result arrays newly allocated), then the best later call")
        print(f"{'VAs':>13}  {'seconds':>8}  {'M/s first':>9}  {'M/s best':>8}  {'peak RSS':>9}  {'before walk':>11}  vs scalar")
        for n in sizes:
            spec = tmp / "spec.json"
            spec.write_text(json.dumps({
                "regs": {k: hex(v) for k, v in regs.items()}, "bases": [hex(v) for v in bases],
                "image": f"{tmp / 'tree.img'}@{base:#x}", "n": n, "scalar": 20000 if n == sizes[0] else 0}))
            p = subprocess.run([sys.executable, __file__, "--child", str(spec)], capture_output=True, text=True,
                               env=CHILD_ENV)
            if p.returncode:
                print(f"{n:>13,}  failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            ratio = ""
            if "scalar_rate" in r:
                ratio = (f"{r['rate'] / r['scalar_rate']:.0f}x first, {r['best_rate'] / r['scalar_rate']:.0f}x best "
                         f"(scalar {r['scalar_rate'] / 1e3:.1f} k/s)")
            print(f"{n:>13,}  {r['seconds']:8.2f}  {r['rate'] / 1e6:9.2f}  {r['best_rate'] / 1e6:8.2f}  "
                  f"{r['peak_kb'] / 1024:7.0f} MB  "
                  f"{r['inputs_kb'] / 1024:9.0f} MB  {ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7,1e8", help="VA counts for the throughput runs")
    ap.add_argument("--runs", type=int, default=5, help="whole-command runs per tool")
    ap.add_argument("--skip-drgn", action="store_true")
    ap.add_argument("--phases", type=int, default=0, metavar="N",
                    help="also time the bulk path phase by phase in N fresh processes")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (timings are wall clock)")
    if not args.skip_drgn:
        drgn_comparison(args.runs)
    if args.phases:
        phases(args.phases)
    throughput([int(float(s)) for s in args.sizes.split(",")])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
