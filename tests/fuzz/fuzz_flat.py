#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris) of pgwalk's flat input: see _harness.py and targets.flat_target.

    python tests/fuzz/fuzz_flat.py -max_total_time=60
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import main  # noqa: E402

if __name__ == "__main__":
    main("flat")
