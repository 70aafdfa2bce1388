#!/usr/bin/env python3
"""Per-family agreement of AT with the QEMU AT regimes oracle (EL2, EL2&0, EL3, E2H/TGE, hardware AF).

    python tests/perf/regimes_summary.py

Runs every vector through the scalar and the vectorised AT (as tests/test_at_regimes_oracle.py
does), prints per family: vectors, agreements, departures argued in that test by category and
anything else, and the time each path took.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import oracle_at as O  # noqa: E402


def main() -> int:
    if not O.regimes_available():
        print("QEMU AT regimes oracle not present (set PGWALK_ORACLE)")
        return 2
    import numpy as np

    from pgwalk.at import at
    from pgwalk.at_many import bulk_at
    from pgwalk.bulk import DescriptorReader

    t_bulk = t_scalar = 0.0
    groups = vectors = 0
    for batch in O.regimes_batches():
        mem = O.regimes_memory(batch)
        reader = DescriptorReader(mem)
        vs = O.regimes_vectors(batch)
        by: dict[tuple, list[dict]] = {}
        for v in vs:
            by.setdefault((json.dumps(v["regs"], sort_keys=True), v["op"], v["pan"], v["exec_el"]), []).append(v)
        for (_, op, pan, exec_el), items in by.items():
            regs = O.regimes_registers(items[0])
            vas = np.array([int(v["va"], 16) for v in items], dtype=np.uint64)
            t0 = time.perf_counter()
            bulk_at(regs, mem, op, vas, pan=bool(pan), exec_el=exec_el, reader=reader)
            t1 = time.perf_counter()
            for v in items:
                at(regs, mem, op, int(v["va"], 16), pan=bool(pan), exec_el=exec_el)
            t_scalar += time.perf_counter() - t1
            t_bulk += t1 - t0
        groups += len(by)
        vectors += len(vs)
    import test_at_regimes_oracle as T

    print(T.summary_text())
    print(f"\n{vectors} vectors: vectorised AT {t_bulk:.2f} s in {groups} groups "
          f"(register state, op, PAN, EL), scalar AT {t_scalar:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
