#!/usr/bin/env python3
"""Per-family agreement of ``pgwalk at`` with the QEMU AT oracle.

    python tests/perf/oracle_summary.py

Runs every vector through the ``pgwalk at --batch`` code path (as
tests/test_at_oracle.py does) and prints, per family: vectors, exact matches
(of which QEMU exceptions reproduced), departures from the architecture argued in
tests/test_at_oracle.py, and anything else; then the departures by category.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import oracle_at as O  # noqa: E402


def main() -> int:
    if not O.available():
        print("QEMU AT oracle not present (set PGWALK_ORACLE)")
        return 2
    import test_at_oracle as T

    t0 = time.perf_counter()
    text = T.summary_text()
    print(text)
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    fam, _ = T.summary()
    return 0 if all(c["unexplained"] == 0 for c in fam.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
