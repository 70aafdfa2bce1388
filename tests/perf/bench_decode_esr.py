"""Start-up benchmark: wall time of ``pgwalk decode-esr 0x96000045`` as a subprocess.

Prints the median of 10 runs (after one warm-up run) in milliseconds.  The
issue's budget is 150 ms on the CI machine.  Run it directly::

    python tests/perf/bench_decode_esr.py [--runs N] [--budget MS]

It exits 1 when the median is over the budget.  The console script next to
the running interpreter is used when it exists (what users run), otherwise
``python -m pgwalk.cli``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def command(args: list[str]) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "pgwalk")
    if os.path.exists(script):
        return [sys.executable, script, *args]
    return [sys.executable, "-m", "pgwalk.cli", *args]


def measure(args: list[str], runs: int = 10) -> list[float]:
    cmd = command(args)
    env = dict(os.environ, COLUMNS="100")
    subprocess.run(cmd, check=True, capture_output=True, env=env)          # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--budget", type=float, default=150.0, help="milliseconds")
    ap.add_argument("value", nargs="?", default="0x96000045")
    ns = ap.parse_args(argv)
    times = measure(["decode-esr", ns.value], ns.runs)
    med = statistics.median(times)
    print(f"pgwalk decode-esr {ns.value}: median {med:.1f} ms over {ns.runs} runs "
          f"(min {min(times):.1f}, max {max(times):.1f}; budget {ns.budget:.0f} ms)")
    return 0 if med <= ns.budget else 1


if __name__ == "__main__":
    sys.exit(main())
