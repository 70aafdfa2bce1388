"""Replay the inputs kept in tests/data/regressions/ (issue 8).

Each file is an input that crashed, hung, exhausted memory or misled before a fix.
``MANIFEST.json`` gives, per file, a command (``{input}``: the file; ``{image}``: the
mini kernel image), the exit status it must give, a text its output must hold, and why
the file is there.  Every file also goes through its fuzz target (tests/fuzz/targets.py),
within a time bound.  New crash inputs from ``tests/fuzz`` go in the folder of their
target, with a MANIFEST entry.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import pytest

from pgwalk.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import seeds, targets  # noqa: E402

HERE = Path(__file__).resolve().parent / "data" / "regressions"
MANIFEST = json.loads((HERE / "MANIFEST.json").read_text())


def _target(path: Path):
    if path.suffix in (".elf", ".kdump", ".flat"):
        return targets.image_target
    return {"regs": targets.regs_target, "kernlog": targets.kernlog_target,
            "vmcoreinfo": targets.vmcoreinfo_target}[path.parent.name]


def test_every_file_is_listed():
    files = {p.relative_to(HERE).as_posix() for p in HERE.rglob("*") if p.is_file() and p.name != "MANIFEST.json"}
    assert files == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_regression(name, tmp_path):
    entry = MANIFEST[name]
    path = HERE / name
    data = path.read_bytes()
    t0 = time.monotonic()
    _target(path)(data)
    assert time.monotonic() - t0 < 20, "the fuzz target took too long"
    image = tmp_path / "mini.img"
    image.write_bytes(seeds.mini_kernel()[0])
    argv = [a.replace("{input}", str(path)).replace("{image}", str(image)) for a in entry["argv"]]
    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    assert time.monotonic() - t0 < 20
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text
    assert rc == entry["rc"], (name, rc, text[-2000:])
    assert entry["expect"] in text, (name, text[-2000:])
    if rc == 2:
        assert len(err.getvalue().strip().splitlines()) == 1
