"""dump-tree --html benchmark on the real Linux dump's kernel tree (the shared oracle).

For the page of ``pgwalk dump-tree -i vmcore --ttbr1 --html`` (merged ranges)
and of ``... --no-merge`` (one range and one tree node per descriptor: the
scale case, tens of thousands of ranges) it prints

* the time to write the page (``pgwalk`` as a subprocess, median of ``--runs``)
  and its size;
* in headless Chromium: the time from navigation to the load event (the data
  parsed, the map and the first tree rows drawn), the time to redraw the
  whole-tree map and a zoomed one, and to go to the last range (its tables
  expanded, its node selected and shown, the map zoomed to it).

Run it directly::

    python tests/perf/bench_html.py [--runs N] [--keep DIR]

``--keep DIR`` leaves the pages and a screenshot of each there.  Figures only;
no budget is enforced.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from headless import Chromium, find_chromium  # noqa: E402
from oracle_data import linux_vmcore_elf  # noqa: E402

PGWALK = [sys.executable, "-m", "pgwalk.cli"]


def write_page(vmcore: Path, out: Path, extra: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*PGWALK, "dump-tree", "-i", str(vmcore), "--ttbr1", *extra, "--html", str(out)],
                       check=True, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def browse(c: Chromium, page: Path, runs: int, shot: Path | None) -> dict[str, float]:
    loads = []
    for _ in range(runs):
        c.events.clear()
        loads.append(c.open(page.as_uri()))
    problems = c.problems()
    if problems:
        raise SystemExit(f"{page.name}: the page reported problems: {problems}")
    timing = c.evaluate("""(() => {
        const t = pgwalk.data.trees[0], ms = (f) => { const t0 = performance.now(); f(); return performance.now() - t0; };
        const whole = ms(() => pgwalk.view(0, t.va_lo, t.va_hi));
        const zoom = ms(() => pgwalk.view(0, t.va_lo, '0xffff000010000000'));
        const last = t.ranges[t.ranges.length - 1];
        const lastVa = '0x' + (BigInt(t.va_lo) + BigInt(last[1])).toString(16);
        const expand = ms(() => pgwalk.goTo(lastVa));     // expand its tables, select it, zoom the map
        return {whole, zoom, expand, rows: document.getElementById('tree-spacer').style.height};
    })()""")
    if shot is not None:
        c.evaluate("pgwalk.view(0, pgwalk.data.trees[0].va_lo, pgwalk.data.trees[0].va_hi)")
        c.screenshot(str(shot))
    return {"load": statistics.median(loads), **timing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="keep the pages and screenshots in DIR")
    args = ap.parse_args()
    vmcore = linux_vmcore_elf()
    if vmcore is None:
        print("the shared Linux oracle is not there: nothing to measure")
        return 0
    exe, why = find_chromium()
    out_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pgwalk-bench-html-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"real dump: {vmcore} (kernel tree, TTBR1_EL1); browser: {exe or why}")
    print(f"{'page':<12} {'ranges':>7} {'nodes':>7} {'write s':>8} {'size':>10} {'load s':>7} "
          f"{'map whole ms':>12} {'map zoom ms':>11} {'go to ms':>9}")
    c = None
    try:
        c = Chromium(exe, width=1600, height=1000).__enter__() if exe else None
        for name, extra in (("merged", []), ("no-merge", ["--no-merge"])):
            page = out_dir / f"kernel-{name}.html"
            wt = write_page(vmcore, page, extra, args.runs)
            text = page.read_text(encoding="utf-8")
            import json
            import re

            doc = json.loads(re.search(r'id="pgwalk-data">(.*?)</script>', text, re.S).group(1))
            nr = sum(len(t["ranges"]) for t in doc["trees"])
            nn = sum(len(t["nodes"]) for t in doc["trees"])
            size = page.stat().st_size
            row = f"{name:<12} {nr:>7,} {nn:>7,} {wt:>8.2f} {size / 1e6:>8.2f}MB"
            if c is not None:
                b = browse(c, page, args.runs, out_dir / f"kernel-{name}.png" if args.keep else None)
                row += f" {b['load']:>7.2f} {b['whole']:>12.1f} {b['zoom']:>11.1f} {b['expand']:>9.1f}"
            print(row, flush=True)
    finally:
        if c is not None:
            c.close()
        if not args.keep:
            for f in out_dir.iterdir():
                f.unlink()
            os.rmdir(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
