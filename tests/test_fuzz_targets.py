"""CI-bounded fuzzing of every input reader (issue 8).

Two engines drive the targets of ``tests/fuzz/targets.py`` (ELF cores, plain and flattened
kdump files, register files, kernel logs, VMCOREINFO):

* hypothesis with binary strategies, guided by seeds made from real structures
  (``tests/fuzz/seeds.py``) and mutated structure-aware: bit flips, interesting 8/16/32/64-bit
  values written at header offsets, truncations, insertions, deletions, copies of chunks;
  derandomized, so CI runs are repeatable;
* atheris (coverage guided, libFuzzer), a few seconds per harness, when it is installed
  (``pip install atheris``); ``python tests/fuzz/fuzz_<target>.py -max_total_time=N`` runs
  it for longer, and ``python tests/perf/fuzz_long.py`` runs them all.

PGWALK_FUZZ_EXAMPLES scales the hypothesis runs (default 150 per target).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import seeds, targets  # noqa: E402

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("PGWALK_FUZZ_EXAMPLES", "150"))
SETTINGS = dict(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

INTERESTING = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 1 << 32, 1 << 40, 1 << 48, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


@st.composite
def mutated(draw, pool: tuple[bytes, ...]) -> bytes:
    """A seed with 1-8 structure-aware mutations, biased towards the headers."""
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 8))):
        n = len(data)
        at = draw(st.one_of(st.integers(0, min(n, 600)), st.integers(0, max(n, 1)))) if n else 0
        kind = draw(st.sampled_from(["flip", "flip", "value", "value", "byte", "truncate", "insert",
                                     "delete", "copy"]))
        if kind == "flip" and n:
            data[min(at, n - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "value" and n:
            width = draw(st.sampled_from([1, 2, 4, 8]))
            v = draw(st.sampled_from(INTERESTING + [n, n - 1, n + 1])) & ((1 << 8 * width) - 1)
            order = draw(st.sampled_from(["little", "big"]))
            data[at:at + width] = v.to_bytes(width, order)
        elif kind == "byte" and n:
            data[min(at, n - 1)] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "copy" and n:
            src = draw(st.integers(0, n - 1))
            data[at:at + 16] = data[src:src + 16]
    return bytes(data)


def _fuzz(name: str):
    target = targets.TARGETS[name]

    @settings(**SETTINGS)
    @given(data=st.one_of(mutated(seeds.SEEDS[name]()), st.binary(max_size=256)))
    def run(data):
        target(data)

    return run


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_hypothesis_fuzz(name):
    _fuzz(name)()


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_seeds_pass_the_targets(name):
    for s in seeds.SEEDS[name]():
        targets.TARGETS[name](s)


def _atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _atheris(), reason="atheris is not installed (pip install atheris)")
@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_atheris_harness_runs_clean(name, tmp_path):
    """Each coverage-guided harness for a few seconds: no crash, no hang, no leak past 1.5 GB."""
    seconds = int(os.environ.get("PGWALK_ATHERIS_SECONDS", "4"))
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz" / f"fuzz_{name}.py"), f"-max_total_time={seconds}",
         f"-artifact_prefix={tmp_path}{os.sep}", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=seconds * 10 + 120, cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)})        # its corpus and input files: in tmp_path
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "Traceback" not in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), tail
    runs = [int(line.rsplit(":", 1)[1]) for line in proc.stderr.splitlines() if line.startswith("stat::number_of_executed_units")]
    assert runs and runs[0] > 0, tail
    assert list(tmp_path.glob(f"pgwalk-{name}-corpus-*")), "the harness's corpus was not made in tmp_path"
