"""Longer coverage-guided fuzzing runs (on demand): every atheris harness of tests/fuzz/.

    python tests/perf/fuzz_long.py                       # 300 s per target, 2 at a time
    python tests/perf/fuzz_long.py --seconds 3600 elf kdump
    python tests/perf/fuzz_long.py --fresh               # forget the kept corpus

Each target keeps a growing corpus in tests/.cache/fuzz-corpus/<target>/ (git-ignored;
started from the seeds of tests/fuzz/seeds.py) and writes crashes, hangs (-timeout=20 s)
and out-of-memory inputs (-rss_limit_mb=1536) to tests/.cache/fuzz-artifacts/<target>/.  The
report gives inputs run, seconds, corpus size and coverage per target.  A crash found
belongs in tests/data/regressions/<target>/ with a fix (test_fuzz_regressions.py replays
that folder in CI).

Exits 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FUZZ = TESTS / "fuzz"
CORPUS = TESTS / ".cache" / "fuzz-corpus"
ARTIFACTS = TESTS / ".cache" / "fuzz-artifacts"
TARGETS = ["elf", "kdump", "flat", "regs", "kernlog", "vmcoreinfo"]


def run(name: str, seconds: int, fresh: bool) -> dict:
    corpus = CORPUS / name
    if fresh and corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    art = ARTIFACTS / name
    art.mkdir(parents=True, exist_ok=True)
    before = set(art.iterdir())
    t0 = time.monotonic()
    # the harness's input files in a folder of this run's, removed after it: libFuzzer ends the
    # process without Python's exit handlers, which would remove them
    tmp = tempfile.mkdtemp(prefix=f"pgwalk-fuzz-long-{name}-")
    try:
        proc = subprocess.run([sys.executable, str(FUZZ / f"fuzz_{name}.py"), str(corpus),
                               f"-max_total_time={seconds}", "-print_final_stats=1",
                               f"-artifact_prefix={art}/"], capture_output=True, text=True,
                              env={**os.environ, "TMPDIR": tmp})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    took = time.monotonic() - t0
    stats = dict(re.findall(r"^stat::(\w+):\s*(\d+)", proc.stderr, re.M))
    cov = re.findall(r"cov: (\d+)", proc.stderr)
    new = sorted(set(art.iterdir()) - before)
    return {"target": name, "runs": int(stats.get("number_of_executed_units", 0)), "seconds": round(took),
            "corpus": len(list(corpus.iterdir())), "coverage": int(cov[-1]) if cov else None,
            "status": proc.returncode, "artifacts": [str(p) for p in new],
            "tail": proc.stderr[-2000:] if proc.returncode else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; choose from {TARGETS}")
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda n: run(n, args.seconds, args.fresh), args.targets or TARGETS))
    print(f"{'target':<11} {'inputs':>10} {'seconds':>8} {'corpus':>7} {'coverage':>9}  result")
    bad = 0
    for r in results:
        ok = r["status"] == 0 and not r["artifacts"]
        bad += not ok
        print(f"{r['target']:<11} {r['runs']:>10} {r['seconds']:>8} {r['corpus']:>7} {str(r['coverage']):>9}  "
              + ("clean" if ok else "FOUND " + " ".join(r["artifacts"])))
        if not ok:
            print(r["tail"], file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
