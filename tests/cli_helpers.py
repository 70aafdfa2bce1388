"""Shared helpers for the CLI tests: run ``pgwalk`` in-process, and the sample options."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from pgwalk.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def run(args, capsys, stdin=None):
    """``pgwalk ARGS`` -> (exit status, stdout, stderr), with ``stdin`` text if given."""
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        rc = main(args)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return rc, out, err


def in_a_pipe(args, **env: str) -> tuple[str, list[str]]:
    """stdout of ``pgwalk ARGS`` run into a pipe (a fresh process, none of the variables that
    make rich take a pipe for a terminal, plus ``env``), and the rich modules it imported."""
    code = ("import sys; from pgwalk.cli import main; rc = main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')), file=sys.stderr)")
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                       env={**base, **env})
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout, json.loads(r.stderr.strip().splitlines()[-1].replace("'", '"'))


def batch_file(tmp_path, vas, name="vas.txt"):
    """A ``--batch`` file of ``vas`` (one ``%#x`` per line) under ``tmp_path``."""
    f = tmp_path / name
    f.write_text("".join(f"{v:#x}\n" for v in vas))
    return f


def sample(name):
    """``-i``/``--regs`` options for a shipped sample."""
    return ["-i", f"{SAMPLES / (name + '.img')}@0x40000000", "--regs", str(SAMPLES / f"{name}.regs.json")]


def compress(kind: str, data: bytes) -> bytes:
    """``data`` compressed as ``kind`` ("gzip", "xz", "bzip2" or "zstd"; zstd skips without zstandard)."""
    import bz2
    import gzip
    import lzma

    import pytest

    if kind == "gzip":
        return gzip.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)
