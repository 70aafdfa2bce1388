"""Shared main() of the atheris harnesses ``tests/fuzz/fuzz_<target>.py``.

    python tests/fuzz/fuzz_elf.py -max_total_time=60            # seeds written to a temp corpus
    python tests/fuzz/fuzz_elf.py CORPUS_DIR -max_total_time=3600 # keep/grow a corpus
    python tests/fuzz/fuzz_elf.py crash-1234                      # replay one input

libFuzzer options apply (-runs=N, -timeout=S, -rss_limit_mb=MB, -jobs=N ...).  Defaults
here: -timeout=20 (a hang is a crash), -rss_limit_mb=1536 (so is unbounded memory),
-max_len=65536, crash inputs written to tests/.cache/fuzz-artifacts/<target>/ (git-ignored).  A crash found
belongs in tests/data/regressions/<target>/ (replayed by test_fuzz_regressions.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: every pgwalk module a target reaches (they are imported lazily by pgwalk itself, so
#: they are imported here, under instrumentation)
MODULES = [
    "pgwalk.errors", "pgwalk.formats.fields", "pgwalk.formats.elf", "pgwalk.formats.kdump",
    "pgwalk.formats.registers", "pgwalk.formats.descriptors", "pgwalk.formats.esr",
    "pgwalk.memory", "pgwalk.kdump", "pgwalk.vmcoreinfo", "pgwalk.linux", "pgwalk.regs",
    "pgwalk.params", "pgwalk.walk", "pgwalk.perms", "pgwalk.attrs", "pgwalk.faults", "pgwalk.at",
    "pgwalk.tree", "pgwalk.bulk", "pgwalk.esr", "pgwalk.kernlog", "pgwalk.report", "pgwalk.render",
    "pgwalk.render_tree", "pgwalk.sysregs", "pgwalk.cli", "pgwalk.cmd.common", "pgwalk.cmd.info",
    "pgwalk.cmd.translate", "pgwalk.cmd.dump_tree", "pgwalk.cmd.at", "pgwalk.cmd.decode_esr",
    "pgwalk.cmd.linux",
]


def main(name: str) -> None:
    import importlib

    import atheris

    with atheris.instrument_imports(include=["pgwalk"]):
        for m in MODULES:
            importlib.import_module(m)
    from fuzz import seeds, targets

    target = targets.TARGETS[name]
    argv = list(sys.argv)
    opts = [a for a in argv[1:] if a.startswith("-")]
    paths = [a for a in argv[1:] if not a.startswith("-")]
    defaults = {"-timeout": "20", "-rss_limit_mb": "1536", "-max_len": "65536"}
    art = HERE.parent / ".cache" / "fuzz-artifacts" / name
    art.mkdir(parents=True, exist_ok=True)
    defaults["-artifact_prefix"] = str(art) + os.sep
    for k, v in defaults.items():
        if not any(o.startswith(k + "=") for o in opts):
            argv.insert(1, f"{k}={v}")
    if not paths:                       # no corpus: start from the seeds
        corpus = Path(tempfile.mkdtemp(prefix=f"pgwalk-{name}-corpus-"))
        seeds.write_corpus(name, corpus)
        argv.append(str(corpus))
    elif all(Path(p).is_dir() for p in paths):
        for p in paths:
            if not any(Path(p).iterdir()):
                seeds.write_corpus(name, Path(p))
    atheris.Setup(argv, target)
    atheris.Fuzz()
