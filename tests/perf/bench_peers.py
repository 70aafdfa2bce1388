#!/usr/bin/env python3
"""Benchmark for issue 15: pgwalk against its peers and the limit, one table from one run.

    python tests/perf/bench_peers.py [--quick] [--rows ROW,ROW...] [--runs N] [--profile ROW,ROW...]

Prints, without asserting anything, one line per row of the issue's table: the pgwalk
figure, the peer's figure, their ratio, and the goal.  Rows (``--rows``, default all):

* ``bulk_cli``   whole ``pgwalk translate --batch FILE --csv`` process, stdout to a file,
  against a drgn script doing the same job (``follow_phys`` per VA, one ``va,pa`` CSV row
  each); 2M VAs (``--quick``: 200k); best of ``--runs``, interleaved; the PAs are compared.
  Two figures: pgwalk's every column (18), and ``--fields va,pa`` (the drgn job's
  columns: the same content); and a floor: a Python process that imports numpy, reads the
  VA file and writes as many bytes as the ``va,pa`` output, doing none of the job's work;
* ``text``       ``translate --batch --no-trace`` against ``--json`` (both pgwalk), 200k VAs
  (``--quick``: 20k);
* ``traced``     in-process ``pgwalk.walk.translate`` (the full traced walk) per VA against
  drgn's C ``follow_phys``, µs per VA over 20k VAs (``--quick``: 5k), each side dropping each
  result once made (drgn's is an int; a list of 20k live Translations would time Python's
  cyclic collector scanning them, which neither drgn nor a caller of one address pays); the two sides'
  processes alternate for ``--runs`` rounds (at least 2) of 3 passes, each side's best counts;
  a second line gives the public API's figure (``pgwalk.open(...).translate``: the walk, then
  its :class:`~pgwalk.target.TranslateResult`) against the same drgn figure;
* ``inproc``     in-process :func:`pgwalk.bulk.translate_many` against a plain C 4-level walk
  compiled here with ``cc -O2`` (mmap of the same ELF, swapper_pg_dir, the same VAs); the walk
  loops only, best of 3 in each of ``--runs`` alternating rounds (at least 2); 2M VAs
  (``--quick``: 200k); the PAs are compared;
* ``startup``    ``pgwalk decode-esr 0x96000045`` against ``python -c pass``, median;
* ``dump_tree``  ``pgwalk dump-tree --view ranges`` over a tree of 1M 4KB leaves
  (bench_dump_tree's tree, 4 GiB; ``--quick``: 1 GiB), whole process, median;
* ``memory``     peak RSS of the bulk CLI (``--csv`` to a file) on 10M VAs (``--quick``: 2M),
  and, for reference, of ``translate_many`` alone in a fresh process.

The VAs are the kernel address mix of the shared Linux dump (tests/oracle_data.py's
``linux_vmcore_elf()``), made once per run from pgwalk's own ``dump-tree --ttbr1 --json``:
90 % a uniformly chosen mapped leaf (page or block) at a random offset, 5 % the kernel
VAs of translations.json (QEMU's probes: faults, non-canonical and tagged addresses
included), 5 % a random offset in the 1 GiB around a mapped leaf (holes at levels 1-3).
Shuffled, seeded: the same sets every run.

drgn comes from PyPI into its own virtual environment, made once under the cache
directory (default tests/.cache/bench_peers; ``--cache DIR``), which also keeps the
compiled C walker and the dump-tree image; the address files live in a temporary
directory that is removed at the end.  ``--profile ROW,...`` also runs the pgwalk side of
those rows under cProfile and prints where the time goes.

Timings are wall clock on a shared machine: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from bench_bulk import CHILD_ENV, _pgwalk_exe, _rss_kb  # noqa: E402

#: row name -> (what, issue's figure "now", goal text, goal as a number, direction)
ROWS = {
    "bulk_cli": ("bulk CLI, {n} VAs, --csv to a file, whole process, pgwalk / drgn", "0.16-0.18", "<= 0.05", 0.05),
    "text": ("text output, {n} VAs, --no-trace / --json", "84-190", "<= 2", 2.0),
    "traced": ("traced walk of one VA, in-process, pgwalk / drgn follow_phys", "8x (19 us)", "<= 2x", 2.0),
    "inproc": ("in-process bulk walk / a plain C 4-level walk, {n} VAs", "7.6-8.9x", "<= 3x", 3.0),
    "startup": ("start-up, decode-esr 0x96000045 / python -c pass", "3.5x (111 ms)", "<= 2.5x", 2.5),
    "dump_tree": ("dump-tree, {n} 4K leaves, ranges view", "0.33 s", "<= 0.2 s", 0.2),
    "memory": ("peak memory, {n} VAs (bulk CLI --csv)", "364 MB", "<= 400 MB", 400.0),
}

#: figures a row measures besides its own, printed under it: name -> (row, what)
SUBROWS = {
    "bulk_cli_vapa": ("bulk_cli", "  the same, --csv --fields va,pa (the drgn job's columns)"),
    "bulk_cli_floor": ("bulk_cli", "  floor: python, import numpy, read the VAs, write va,pa's bytes"),
    "traced_api": ("traced", "  the same through the public API, pgwalk.open(...).translate"),
    "startup_installed": ("startup", "  the same, installed regularly (a wheel's layout), not editable"),
    "startup_translate": ("startup", "  translate, one address of the 4K sample, installed regularly"),
}

SIZES = {  # full, --quick
    "bulk_cli": (2_000_000, 200_000),
    "text": (200_000, 20_000),
    "traced": (20_000, 5_000),
    "inproc": (2_000_000, 200_000),
    "dump_tree": (4, 1),            # GiB of 4KB pages: 4 GiB = 1,048,576 leaves
    "memory": (10_000_000, 2_000_000),
}

# --------------------------------------------------------------------------- peers

#: the drgn side, run with the peers' venv: argv = mode, dump, swapper_pg_dir VA, VA file, ...
DRGN_JOB = r'''
import json, sys, time
import drgn
from _drgn import _linux_helper_follow_phys as follow_phys

mode, dump, pgd, va_file = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), sys.argv[4]
prog = drgn.Program()
prog.set_core_dump(dump)
prog.set_enabled_debug_info_finders([])     # no debug info: the walker needs only the page tables
FaultError = drgn.FaultError
if mode == "cli":                           # the bulk CLI's job: VA file in, CSV out (stdout)
    out = sys.stdout
    out.write("va,pa\n")
    rows = []
    with open(va_file) as fh:
        for line in fh:
            va = int(line, 16)
            try:
                rows.append(f"{va:#x},{follow_phys(prog, pgd, va):#x}\n")
            except FaultError:
                rows.append(f"{va:#x},\n")
            if len(rows) >= 8192:
                out.write("".join(rows))
                rows.clear()
    out.write("".join(rows))
else:                                       # "traced": microseconds per follow_phys, best of N passes
    vas = [int(line, 16) for line in open(va_file)]
    best = best_cpu = float("inf")
    for _ in range(int(sys.argv[5])):
        t0, c0 = time.perf_counter(), time.process_time()
        for va in vas:
            try:
                follow_phys(prog, pgd, va)
            except FaultError:
                pass
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    print(json.dumps({"us": 1e6 * best / len(vas), "cpu_us": 1e6 * best_cpu / len(vas), "version": drgn.__version__}))
'''

#: a plain 4-level 4KB walk of the same ELF core: no caches, one descriptor read per level
C_WALK = r'''
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAULT UINT64_MAX
#define OA(d) ((d) & 0x0000fffffffff000ULL)   /* OA[47:12], 4KB granule, no LPA2 */

struct seg { uint64_t pa, size, off; };
static struct seg segs[64];
static int nsegs;
static const unsigned char *core;

static const uint64_t *phys(uint64_t pa)
{
    for (int i = 0; i < nsegs; i++)
        if (pa - segs[i].pa < segs[i].size)
            return (const uint64_t *)(core + segs[i].off + (pa - segs[i].pa));
    return NULL;
}

static uint64_t walk(uint64_t root, uint64_t va, int tbi)
{
    uint64_t top = tbi ? (va >> 48) & 0xff : va >> 48;
    if (top != (tbi ? 0xffULL : 0xffffULL))
        return FAULT;                       /* outside the TTBR1 range (T1SZ 16) */
    uint64_t table = root;
    for (int level = 0; level < 4; level++) {
        int shift = 39 - 9 * level;
        const uint64_t *p = phys(table + ((va >> shift) & 511) * 8);
        if (!p)
            return FAULT;
        uint64_t d = *p;
        if (!(d & 1))
            return FAULT;                   /* invalid */
        if (level < 3 && (d & 2)) {
            table = OA(d);                  /* next-level table */
            continue;
        }
        if (level == 0 || (level == 3 && !(d & 2)) || !(d & 0x400))
            return FAULT;                   /* no level 0 block, reserved, access flag clear */
        uint64_t mask = (1ULL << shift) - 1;
        return (OA(d) & ~mask) | (va & mask);
    }
    return FAULT;                           /* not reached */
}

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: walk CORE VAS.bin OUT.bin ROOT TBI REPS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return 2;
    core = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (core == MAP_FAILED)
        return 2;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)core;
    for (int i = 0; i < eh->e_phnum && nsegs < 64; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(core + eh->e_phoff + i * eh->e_phentsize);
        if (ph->p_type == PT_LOAD && ph->p_filesz)
            segs[nsegs++] = (struct seg){ph->p_paddr, ph->p_filesz, ph->p_offset};
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return 2;
    fseek(f, 0, SEEK_END);
    size_t n = ftell(f) / 8;
    rewind(f);
    uint64_t *va = malloc(n * 8), *pa = malloc(n * 8);
    if (!va || !pa || fread(va, 8, n, f) != n)
        return 2;
    fclose(f);
    uint64_t root = strtoull(argv[4], NULL, 0);
    int tbi = atoi(argv[5]), reps = atoi(argv[6]);
    double best = 1e99, best_cpu = 1e99;
    for (int r = 0; r < reps; r++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (size_t i = 0; i < n; i++)
            pa[i] = walk(root, va[i], tbi);
        double dt = now(CLOCK_MONOTONIC) - t0, dc = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (dt < best)
            best = dt;
        if (dc < best_cpu)
            best_cpu = dc;
    }
    size_t faults = 0;
    for (size_t i = 0; i < n; i++)
        faults += pa[i] == FAULT;
    f = fopen(argv[3], "wb");
    if (!f || fwrite(pa, 8, n, f) != n)
        return 2;
    fclose(f);
    printf("{\"seconds\": %.9f, \"cpu\": %.9f, \"n\": %zu, \"faults\": %zu}\n", best, best_cpu, n, faults);
    return 0;
}
'''


def peers_venv(cache: Path) -> Path:
    """The python of a virtual environment with drgn from PyPI (made once under ``cache``)."""
    venv = cache / "venv"
    py = venv / "bin" / "python"
    if not (py.exists() and subprocess.run([str(py), "-c", "import drgn"], capture_output=True).returncode == 0):
        print(f"making {venv} with drgn from PyPI (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "drgn"], check=True)
    return py


def c_walker(cache: Path) -> Path:
    """The C walk, compiled with ``cc -O2`` when its source changed."""
    src, exe = cache / "walk.c", cache / "walk"
    if not (src.exists() and src.read_text() == C_WALK and exe.exists()):
        src.write_text(C_WALK)
        subprocess.run(["cc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


# --------------------------------------------------------------------------- addresses


class Dump:
    """The shared Linux dump and what the peers need to walk it."""

    def __init__(self, path: Path) -> None:
        from pgwalk.cmd.common import load_context
        from pgwalk.vmcoreinfo import parse_vmcoreinfo

        self.path = path
        ctx = load_context((str(path),), None, (), None, None, None)
        regs = ctx.registers
        info = ctx.vmcoreinfo if ctx.vmcoreinfo is not None else parse_vmcoreinfo(_vmcoreinfo_text(path))
        self.pgd = info.swapper_pg_dir
        tcr = regs["TCR_EL1"]
        self.root = regs["TTBR1_EL1"] & 0x0000_FFFF_FFFF_FFFE
        self.tbi1 = (tcr >> 38) & 1
        # the C walk knows one layout: 4KB granule (TG1 = 0b10), T1SZ 16, no DS
        self.c_ok = (tcr >> 30) & 3 == 2 and (tcr >> 16) & 63 == 16 and not (tcr >> 59) & 1


def _vmcoreinfo_text(path: Path) -> str:
    from pgwalk.memory import open_elf_core

    with open_elf_core(path) as core:
        return core.vmcoreinfo


def kernel_mix(dump: Path, n: int, seed: int = 15):
    """``n`` kernel VAs of the dump's real mix (see the module docstring), a uint64 array."""
    import numpy as np

    from oracle_data import linux_translations

    p = subprocess.run(_pgwalk_exe() + ["dump-tree", "-i", str(dump), "--ttbr1", "--json", "--view", "ranges"],
                       capture_output=True, text=True, env=CHILD_ENV)
    ranges = [d for d in map(json.loads, p.stdout.splitlines()) if d.get("record") == "range" and d["mapped"]]
    if not ranges:
        raise SystemExit(f"dump-tree found no mapped ranges: {p.stderr.strip()}")
    start = np.array([int(d["va_start"], 16) for d in ranges], dtype=np.uint64)
    size = np.array([d["entry_size"] for d in ranges], dtype=np.uint64)
    count = np.array([d["count"] for d in ranges], dtype=np.int64)
    probes = np.array([int(e["va"], 16) for e in linux_translations() or [] if (int(e["va"], 16) >> 55) & 1],
                      dtype=np.uint64)
    rng = np.random.default_rng(seed)
    n_probe = n // 20 if len(probes) else 0
    n_hole = n // 20
    n_leaf = n - n_probe - n_hole
    cum = np.cumsum(count)
    pick = rng.integers(0, int(cum[-1]), n_leaf)
    r = np.searchsorted(cum, pick, side="right")
    first = pick - (cum[r] - count[r])
    leaves = start[r] + first.astype(np.uint64) * size[r] + rng.integers(0, size[r]).astype(np.uint64)
    near = leaves[rng.integers(0, n_leaf, n_hole)] & np.uint64(~((1 << 30) - 1) & (2**64 - 1))
    holes = near + rng.integers(0, 1 << 30, n_hole).astype(np.uint64)
    vas = np.concatenate([leaves, holes, probes[rng.integers(0, len(probes), n_probe)] if n_probe else
                          np.zeros(0, np.uint64)])
    rng.shuffle(vas)
    return vas


def write_vas(vas, path: Path) -> Path:
    """One hex address per line (what ``--batch`` reads)."""
    with open(path, "w") as fh:
        step = 1 << 18
        for i in range(0, len(vas), step):
            fh.write("".join(f"{v:#x}\n" for v in vas[i:i + step].tolist()))
    return path


# --------------------------------------------------------------------------- running


#: the fixed part of the bulk CLI's job, with no parse, walk or format: start Python, import
#: numpy, read the VA file whole, write argv[2] bytes to stdout in 2 MB blocks (as pgwalk's two
#: reused output buffers do); argv = VA file, bytes
FLOOR_JOB = r'''
import os, sys
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")     # (as pgwalk's bulk jobs: no idle BLAS pool)
import numpy
data = open(sys.argv[1], "rb").read()
left = int(sys.argv[2])
block = (data[:1 << 21] * 2)[:1 << 21]
while left > 0:
    left -= os.write(1, block[:min(left, len(block))])
'''


#: the pgwalk CLI in a process that writes its own peak RSS (VmHWM) to argv[1] at exit: a child's
#: ru_maxrss is no measure, as Linux carries the parent's high-water mark over the exec
PEAK_JOB = r'''
import atexit, sys
def _peak(path=sys.argv[1]):
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(str(kb))
atexit.register(_peak)
from pgwalk.cli import main
sys.exit(main(sys.argv[2:]))
'''


def run(cmd: list[str], stdout: Path | None = None, env: dict | None = None) -> tuple[float, float, int]:
    """(wall s, user + system CPU s, exit status) of one process, stdout to a file (or nowhere).

    os.wait4 gives this child's own CPU times (RUSAGE_CHILDREN sums every child so far).
    """
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env or CHILD_ENV)
        _pid, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout:
            out.close()
    return wall, ru.ru_utime + ru.ru_stime, p.returncode


def _best(fn, reps: int, prof) -> tuple[float, float, object]:
    """(best wall s, best CPU s, last result) of ``reps`` calls of ``fn``; then one more call
    under the profiler ``prof`` when given (so the figures are not the profiler's)."""
    wall = cpu = float("inf")
    res = None
    for _ in range(reps):
        res = None
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    if prof:
        prof.runcall(fn)
    return wall, cpu, res


def child(spec: dict) -> dict:
    """In-process pgwalk measurements, in a fresh process (``--child``)."""
    import numpy as np

    from pgwalk.bulk import translate_many
    from pgwalk.cmd.common import load_context
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate

    ctx = load_context((spec["dump"],), None, (), None, None, None)
    setup, mem = setup_from_registers(ctx.registers), ctx.memory
    prof = None
    if spec.get("profile"):
        import cProfile

        prof = cProfile.Profile()
    out: dict = {}
    if spec["mode"] == "traced":
        import pgwalk

        vas = [int(line, 16) for line in open(spec["vas"])]
        for va in vas[:500]:
            translate(setup, mem, va)
        # Each result is dropped once made, as drgn's side drops follow_phys's int: a list of
        # 20k live results would also time Python's cyclic collector scanning them, which
        # neither the peer nor a caller translating one address at a time pays.
        def walks() -> None:
            for va in vas:
                translate(setup, mem, va)

        wall, cpu, _ = _best(walks, spec.get("reps", 3), prof)
        out = {"us": 1e6 * wall / len(vas), "cpu_us": 1e6 * cpu / len(vas)}
        # what a library user calls: the same walk with the result's wrapping (contents, label)
        with pgwalk.open(spec["dump"]) as target:
            for va in vas[:500]:
                target.translate(va)

            def api_walks() -> None:
                for va in vas:
                    target.translate(va)

            wall, cpu, _ = _best(api_walks, spec.get("reps", 3), None)
        out.update(api_us=1e6 * wall / len(vas), api_cpu_us=1e6 * cpu / len(vas))
    elif spec["mode"] == "bulk":
        vas = np.fromfile(spec["vas"], dtype="<u8")
        translate_many(setup, mem, vas[:10000])
        wall, cpu, res = _best(lambda: translate_many(setup, mem, vas), spec.get("reps", 3), prof)
        pa = np.where(res.ok, res.pa, np.uint64(2**64 - 1)).astype("<u8")
        pa.tofile(spec["out"])
        out = {"seconds": wall, "cpu": cpu}
    elif spec["mode"] == "peak":
        vas = np.fromfile(spec["vas"], dtype="<u8")
        before = _rss_kb("VmRSS")
        res = translate_many(setup, mem, vas)
        out = {"peak_kb": _rss_kb("VmHWM"), "before_kb": before, "ok": int(res.ok.sum())}
    if prof:
        prof.dump_stats(spec["profile"])
    return out


def _best_of(rounds: list[tuple[dict, dict]], side: int, keys: tuple[str, ...]) -> dict:
    """Each of ``keys``' lowest figure over the rounds (:meth:`Bench.alternate`) of one side (0: ours)."""
    return {k: min(r[side][k] for r in rounds) for k in keys}


def run_child(spec: dict, tmp: Path) -> dict:
    f = tmp / "child.json"
    f.write_text(json.dumps(spec))
    p = subprocess.run([sys.executable, __file__, "--child", str(f)], capture_output=True, text=True, env=CHILD_ENV)
    if p.returncode:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def show_profile(path: Path, title: str, limit: int = 22) -> None:
    import io
    import pstats

    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(str(path), stream=s).strip_dirs().sort_stats(key).print_stats(limit)
        text = s.getvalue()
        body = text[text.find("   ncalls"):]
        total = next((ln for ln in text.splitlines() if "function calls" in ln), "").strip()
        print(f"\n--- profile: {title}, by {key} ({total})")
        print(body.rstrip())


def _csv_pas(path: Path) -> dict[str, str]:
    """va -> pa ('' when faulted) from a CSV with ``va`` and ``pa`` columns."""
    import csv

    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        return {row["va"]: (row.get("pa") or "") for row in rd}


# --------------------------------------------------------------------------- rows


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        from oracle_data import linux_vmcore_elf

        self.args, self.tmp = args, tmp
        self.cache = Path(args.cache)
        self.cache.mkdir(parents=True, exist_ok=True)
        path = linux_vmcore_elf()
        if path is None:
            raise SystemExit("the shared Linux dump is not available (tests/oracle_data.py: linux_vmcore_elf)")
        self.dump = Dump(path)
        self.results: dict[str, tuple] = {}
        self._vas: dict[int, object] = {}
        self._drgn: Path | None = None

    def size(self, row: str) -> int:
        return SIZES[row][1 if self.args.quick else 0]

    def vas(self, n: int):
        if n not in self._vas:
            self._vas[n] = kernel_mix(self.dump.path, n)
        return self._vas[n]

    def va_file(self, n: int) -> Path:
        f = self.tmp / f"vas{n}.txt"
        if not f.exists():
            write_vas(self.vas(n), f)
        return f

    def drgn(self) -> Path:
        if self._drgn is None:
            self._drgn = peers_venv(self.cache)
            (self.tmp / "drgn_job.py").write_text(DRGN_JOB)
        return self._drgn

    def drgn_cmd(self, *args: str) -> list[str]:
        return [str(self.drgn()), str(self.tmp / "drgn_job.py"), args[0], str(self.dump.path),
                f"{self.dump.pgd:#x}", *args[1:]]

    def profile_cli(self, row: str, cmd_args: list[str]) -> None:
        prof = self.tmp / f"{row}.prof"
        run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pgwalk.cli", *cmd_args], self.tmp / "p.out")
        show_profile(prof, f"{row}: pgwalk {' '.join(a if len(a) < 40 else Path(a).name for a in cmd_args)}")

    # each row stores Row(pgwalk figure, peer figure, wall ratio, CPU ratio, note)

    def alternate(self, ours, theirs) -> list[tuple[dict, dict]]:
        """``(ours(round), theirs())`` for each of ``--runs`` rounds (at least 2), one after the
        other: the machine's speed swings over seconds, so the two sides' bests are taken over rounds
        spread across the same stretch of time (:func:`_best_of`)."""
        return [(ours(r), theirs()) for r in range(max(2, self.args.runs))]

    def timed(self, cmds: dict[str, list[str]], runs: int, warm: tuple[str, ...] | None = None,
              keep: bool = True) -> dict[str, list[tuple[float, float]]]:
        """(wall, CPU) of ``runs`` interleaved runs of each command, after one warm-up run of each
        (of those in ``warm``); stdout to ``<name>.out`` in the temporary directory."""
        for name in cmds if warm is None else warm:
            run(cmds[name], self.tmp / "warm.out")
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        for _ in range(runs):
            for name, cmd in cmds.items():
                wall, cpu, _rc = run(cmd, self.tmp / f"{name}.out" if keep else None)
                times[name].append((wall, cpu))
        return times

    def row_bulk_cli(self) -> None:
        """Both bulk_cli figures from one interleaved run: every column, and --fields va,pa."""
        n = self.size("bulk_cli")
        f = self.va_file(n)
        base = _pgwalk_exe() + ["translate", "-i", str(self.dump.path), "--batch", str(f), "--csv"]
        cmds = {"pgwalk": base, "pgwalk_vapa": base + ["--fields", "va,pa"], "drgn": self.drgn_cmd("cli", str(f))}
        t = self.timed(cmds, self.args.runs)
        theirs = _csv_pas(self.tmp / "drgn.out")
        (dw, dc) = _mins(t["drgn"])
        drgn_mb = (self.tmp / "drgn.out").stat().st_size / 1e6
        for row, name in (("bulk_cli", "pgwalk"), ("bulk_cli_vapa", "pgwalk_vapa")):
            out = self.tmp / f"{name}.out"
            ours = _csv_pas(out)
            differ = [va for va, pa in theirs.items() if ours.get(va) != pa]
            tagged = sum((int(va, 16) >> 56) != 0xFF for va in differ)
            pw, pc = _mins(t[name])
            with open(out) as fh:
                header = fh.readline().strip()
            what = f"all {len(header.split(','))} columns" if name == "pgwalk" else header
            self.results[row] = Row(
                f"{pw:.3f} s", f"{dw:.3f} s", pw / dw, pc / dc,
                f"best of {self.args.runs}, CPU {pc:.3f} / {dc:.3f} s; output {out.stat().st_size / 1e6:.0f} MB "
                f"({what}) / {drgn_mb:.0f} MB (va,pa); PAs agree on {len(theirs) - len(differ):,} of "
                f"{len(theirs):,} VAs ({tagged} of the {len(differ)} others are tagged VAs: TCR_EL1.TBI1 is set, "
                f"drgn does not ignore the top byte)")
        # the floor: what no parse, walk or format costs (its own interleaved runs, with drgn's best above)
        size = (self.tmp / "pgwalk_vapa.out").stat().st_size
        fw, fc = _mins(self.timed({"floor": [sys.executable, "-c", FLOOR_JOB, str(f), str(size)]}, self.args.runs)["floor"])
        self.results["bulk_cli_floor"] = Row(
            f"{fw:.3f} s", f"{dw:.3f} s", fw / dw, fc / dc,
            f"best of {self.args.runs}, CPU {fc:.3f} s: the fixed part of the job, which no parse, walk or format "
            f"of pgwalk's can go below; the in-process walk (row inproc) adds its own time to it")
        if "bulk_cli" in self.args.profile:
            self.profile_cli("bulk_cli", ["translate", "-i", str(self.dump.path), "--batch", str(f), "--csv"])

    def row_text(self) -> None:
        n = self.size("text")
        f = self.va_file(n)
        base = _pgwalk_exe() + ["translate", "-i", str(self.dump.path), "--batch", str(f)]
        cmds = {"text": base + ["--no-trace"], "json": base + ["--json"]}
        t = self.timed(cmds, max(1, self.args.runs // 2), warm=("json",))     # --no-trace is the slow one
        lines = sum(1 for _ in open(self.tmp / "text.out"))
        (tw, tc), (jw, jc) = _mins(t["text"]), _mins(t["json"])
        self.results["text"] = Row(f"{tw:.3f} s", f"{jw:.3f} s (--json)", tw / jw, tc / jc,
                                   f"CPU {tc:.3f} / {jc:.3f} s; {lines:,} text lines")
        if "text" in self.args.profile:
            self.profile_cli("text", ["translate", "-i", str(self.dump.path), "--batch", str(f), "--no-trace"])

    def row_traced(self) -> None:
        """Ours and drgn's in alternating processes (:meth:`alternate`), 3 passes each a round."""
        n = self.size("traced")
        f = self.va_file(n)
        prof = self.tmp / "traced.prof" if "traced" in self.args.profile else None

        def drgn() -> dict:
            p = subprocess.run(self.drgn_cmd("traced", str(f), "3"), capture_output=True, text=True, env=CHILD_ENV)
            if p.returncode:
                raise RuntimeError(f"drgn: {p.stderr.strip()[-300:]}")
            return json.loads(p.stdout)

        rounds = self.alternate(lambda r: run_child({"mode": "traced", "dump": str(self.dump.path), "vas": str(f),
                                                     "reps": 3, "profile": str(prof) if prof and r == 0 else None},
                                                    self.tmp), drgn)
        best = _best_of(rounds, 0, ("us", "cpu_us", "api_us", "api_cpu_us"))
        peer = _best_of(rounds, 1, ("us", "cpu_us"))
        each = ", ".join(f"{o['us'] / t['us']:.2f}" for o, t in rounds)
        self.results["traced"] = Row(f"{best['us']:.2f} us/VA", f"{peer['us']:.2f} us/VA",
                                     best["us"] / peer["us"], best["cpu_us"] / peer["cpu_us"],
                                     f"{n:,} VAs, best of {len(rounds)} alternating rounds of 3 passes (round "
                                     f"ratios {each}), CPU {best['cpu_us']:.2f} / {peer['cpu_us']:.2f} us/VA; "
                                     f"drgn {rounds[0][1]['version']}")
        self.results["traced_api"] = Row(f"{best['api_us']:.2f} us/VA", f"{peer['us']:.2f} us/VA",
                                         best["api_us"] / peer["us"], best["api_cpu_us"] / peer["cpu_us"],
                                         "Target.translate: the walk, then TranslateResult (contents in the "
                                         "image, kernel layout label)")
        if prof:
            show_profile(prof, f"traced: pgwalk.walk.translate x {n:,}")

    def row_inproc(self) -> None:
        import numpy as np

        if not self.dump.c_ok:
            self.results["inproc"] = Row("-", "-", None, None, "the C walk knows only 4KB / T1SZ 16 / DS 0")
            return
        n = self.size("inproc")
        vas = self.vas(n)
        binf = self.tmp / f"vas{n}.bin"
        vas.astype("<u8").tofile(binf)
        prof = self.tmp / "inproc.prof" if "inproc" in self.args.profile else None
        exe = c_walker(self.cache)
        def c_walk() -> dict:
            p = subprocess.run([str(exe), str(self.dump.path), str(binf), str(self.tmp / "c_pa.bin"),
                                f"{self.dump.root:#x}", str(self.dump.tbi1), "3"], capture_output=True, text=True)
            if p.returncode:
                raise RuntimeError(f"C walk: exit {p.returncode} {p.stderr.strip()}")
            return json.loads(p.stdout)

        rounds = self.alternate(lambda r: run_child({"mode": "bulk", "dump": str(self.dump.path), "vas": str(binf),
                                                     "reps": 3, "out": str(self.tmp / "pgwalk_pa.bin"),
                                                     "profile": str(prof) if prof and r == 0 else None}, self.tmp),
                                c_walk)
        each = ", ".join(f"{o['seconds'] / t['seconds']:.2f}" for o, t in rounds)
        ours = _best_of(rounds, 0, ("seconds", "cpu"))
        c = {**rounds[0][1], **_best_of(rounds, 1, ("seconds", "cpu"))}
        a = np.fromfile(self.tmp / "pgwalk_pa.bin", dtype="<u8")
        b = np.fromfile(self.tmp / "c_pa.bin", dtype="<u8")
        agree = int((a == b).sum())
        self.results["inproc"] = Row(
            f"{ours['seconds']:.3f} s", f"{c['seconds']:.4f} s", ours["seconds"] / c["seconds"], ours["cpu"] / c["cpu"],
            f"best of {len(rounds)} alternating rounds of 3 (round ratios {each}), CPU {ours['cpu']:.3f} / {c['cpu']:.4f} s; {n / ours['seconds'] / 1e6:.1f} vs "
            f"{n / c['seconds'] / 1e6:.0f} M VAs/s; PAs agree on {agree:,} of {n:,} ({c['faults']:,} faults)")
        if prof:
            show_profile(prof, f"inproc: translate_many({n:,})")

    def row_startup(self) -> None:
        runs = 5 if self.args.quick else 15
        cmds = {"pgwalk": _pgwalk_exe() + ["decode-esr", "0x96000045"], "python": [sys.executable, "-c", "pass"]}
        # the README's editable install: Python's own start-up there imports pathlib, re and
        # importlib.util for the editable finder (about 50M of python -c pass's 88M instructions),
        # which pgwalk's start-up would import anyway; a regular install's python -c pass does not
        try:
            from layout_install import make_venv

            python, script = make_venv(self.tmp / "installed-venv")
            sample = ROOT / "samples" / "s1_4k_48bit"
            cmds.update({"installed": [str(script), "decode-esr", "0x96000045"],
                         "installed_python": [str(python), "-c", "pass"],
                         "installed_translate": [str(script), "translate", "-i", f"{sample}.img@0x40000000", "--regs",
                                                 f"{sample}.regs.json", "0xffff800000201234"]})
        except ImportError:             # (Python 3.10 without tomli: pyproject.toml not read)
            pass
        t = self.timed(cmds, runs, keep=False)
        (pw, pc), (qw, qc) = [tuple(statistics.median(x) for x in zip(*t[k])) for k in ("pgwalk", "python")]
        self.results["startup"] = Row(f"{1e3 * pw:.0f} ms", f"{1e3 * qw:.0f} ms", pw / qw, pc / qc,
                                      f"median of {runs}, CPU {1e3 * pc:.0f} / {1e3 * qc:.0f} ms; the editable "
                                      "install the README makes (pip install -e .)")
        if "installed" in t:
            (iw, ic), (jw, jc) = [tuple(statistics.median(x) for x in zip(*t[k]))
                                  for k in ("installed", "installed_python")]
            self.results["startup_installed"] = Row(f"{1e3 * iw:.0f} ms", f"{1e3 * jw:.0f} ms", iw / jw, ic / jc,
                                                    f"median of {runs}, CPU {1e3 * ic:.0f} / {1e3 * jc:.0f} ms; "
                                                    "its own python -c pass")
            tw, tc = [statistics.median(x) for x in zip(*t["installed_translate"])]
            self.results["startup_translate"] = Row(f"{1e3 * tw:.0f} ms", f"{1e3 * jw:.0f} ms", tw / jw, tc / jc,
                                                    f"median of {runs}, CPU {1e3 * tc:.0f} / {1e3 * jc:.0f} ms; "
                                                    "its own python -c pass (not a row of the issue)")
        if "startup" in self.args.profile:
            out = subprocess.run([sys.executable, "-X", "importtime", *_pgwalk_exe()[-1:], "decode-esr", "0x96000045"],
                                 capture_output=True, text=True, env=CHILD_ENV).stderr
            rows = []
            for ln in out.splitlines():
                parts = ln.split("|")
                if len(parts) == 3 and parts[1].strip().isdigit():
                    rows.append((int(parts[1]), parts[2].rstrip()))
            print("\n--- profile: startup, largest cumulative imports (python -X importtime, us)")
            for us, name in sorted(rows, reverse=True)[:20]:
                print(f"{us:9,}  {name}")

    def row_dump_tree(self) -> None:
        from bench_dump_tree import TABLES, VA0, build

        gib = self.size("dump_tree")
        img, rf = self.cache / f"tree{gib}.img", self.cache / f"tree{gib}.regs.json"
        if not (img.exists() and rf.exists()):
            regs = build(str(img), gib)
            rf.write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
        args = ["dump-tree", "-i", f"{img}@{TABLES:#x}", "--regs", str(rf), "--ttbr1",
                "--range", f"{VA0:#x}+{gib << 30:#x}", "--view", "ranges"]
        t = self.timed({"tree": _pgwalk_exe() + args}, max(3, self.args.runs))["tree"]
        lines = sum(1 for _ in open(self.tmp / "tree.out"))
        med = statistics.median(w for w, _c in t)
        cpu = statistics.median(c for _w, c in t)
        self.results["dump_tree"] = Row(f"{med:.3f} s", "-", None, None,
                                        f"median of {len(t)} (min {min(w for w, _c in t):.3f} s), CPU {cpu:.3f} s; "
                                        f"{(gib << 30) // 4096:,} leaves, {lines} lines")
        if "dump_tree" in self.args.profile:
            self.profile_cli("dump_tree", args)

    def row_memory(self) -> None:
        n = self.size("memory")
        f = self.va_file(n)
        peak = self.tmp / "peak.txt"
        wall, cpu, rc = run([sys.executable, "-c", PEAK_JOB, str(peak), "translate", "-i", str(self.dump.path),
                             "--batch", str(f), "--csv"], self.tmp / "mem.csv")
        rss = int(peak.read_text())
        (self.tmp / "mem.csv").unlink(missing_ok=True)
        binf = self.tmp / f"vas{n}.bin"
        if not binf.exists():
            self.vas(n).astype("<u8").tofile(binf)
        inproc = run_child({"mode": "peak", "dump": str(self.dump.path), "vas": str(binf)}, self.tmp)
        self.results["memory"] = Row(f"{rss / 1024:.0f} MB", "-", None, None,
                                     f"CLI {wall:.1f} s (CPU {cpu:.1f} s), exit {rc}; translate_many alone: peak "
                                     f"{inproc['peak_kb'] / 1024:.0f} MB ({inproc['before_kb'] / 1024:.0f} MB before)")

    def table(self) -> None:
        print()
        print(f"{'row':66}  {'pgwalk':>12}  {'peer':>18}  {'ratio':>6}  {'CPU':>6}  {'goal':>9}  {'issue: now':>13}")
        for row, (what, now, goal_text, _goal) in ROWS.items():
            if row not in self.results:
                continue
            n = SIZES.get(row, (0, 0))[1 if self.args.quick else 0]
            label = what.format(n=(f"{(n << 30) // 4096 / 1e6:.2g}M" if row == "dump_tree" else _count(n)))
            _print_row(label, self.results[row], goal_text, now)
            for sub, (parent, sub_what) in SUBROWS.items():
                if parent == row and sub in self.results:
                    _print_row(sub_what, self.results[sub], goal_text, "-")
        print("ratio: of wall times (best or median as noted); CPU: of user + system CPU times, "
              "steadier on a loaded machine")


def _print_row(label: str, r: "Row", goal_text: str, now: str) -> None:
    ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
    cpu = "-" if r.cpu_ratio is None else f"{r.cpu_ratio:.3g}"
    print(f"{label:66}  {r.ours:>12}  {r.peer:>18}  {ratio:>6}  {cpu:>6}  {goal_text:>9}  {now:>13}")
    if r.note:
        print(f"{'':4}{r.note}")


class Row(NamedTuple):
    ours: str
    peer: str
    ratio: float | None
    cpu_ratio: float | None
    note: str


def _mins(times: list[tuple[float, float]]) -> tuple[float, float]:
    """Best wall and best CPU time of several runs."""
    return min(w for w, _c in times), min(c for _w, c in times)


def _count(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n // 1000}k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of: {', '.join(ROWS)}")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes in all)")
    ap.add_argument("--runs", type=int, default=3, help="whole-process runs per tool where timed")
    ap.add_argument("--profile", default="", help="rows whose pgwalk side to profile too (cProfile / importtime)")
    ap.add_argument("--cache", default=str(ROOT / "tests" / ".cache" / "bench_peers"),
                    help="where the drgn venv, the C walker and the tree image are kept")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(Path(args.child).read_text()))))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    args.profile = {r.strip() for r in args.profile.split(",") if r.strip()}
    unknown = [r for r in rows + sorted(args.profile) if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s): {', '.join(unknown)} (rows: {', '.join(ROWS)})")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
          f"python {sys.version.split()[0]}; cache {args.cache}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_peers.") as tmp:
        print(f"address files in {tmp} (removed at the end)", flush=True)
        bench = Bench(args, Path(tmp))
        for row in rows:
            t0 = time.perf_counter()
            try:
                getattr(bench, f"row_{row}")()
            except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
                bench.results[row] = Row("failed", "-", None, None, str(exc))
            print(f"[{row} measured in {time.perf_counter() - t0:.0f} s]", flush=True)
        load = os.getloadavg()
        print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        bench.table()


if __name__ == "__main__":
    main()
