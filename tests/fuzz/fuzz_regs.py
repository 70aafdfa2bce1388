#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris) of pgwalk's regs input: see _harness.py and targets.regs_target.

    python tests/fuzz/fuzz_regs.py -max_total_time=60
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import main  # noqa: E402

if __name__ == "__main__":
    main("regs")
