"""Issue 15: in a pipe, decode-esr / decode print plain lines without importing rich.

The plain renderer must print exactly what the rich console prints in a pipe.
"""

import random
import subprocess
import sys

from click.testing import CliRunner

import pgwalk.cmd.decode_esr as D
from pgwalk.cli import cli

REGS = ["TCR_EL1", "TCR_EL2", "TCR_EL3", "VTCR_EL2", "SCTLR_EL1", "HCR_EL2", "MAIR_EL1", "TTBR0_EL1",
        "VTTBR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR2_EL1", "PAR_EL1", "HPFAR_EL2", "ESR_EL2", "FAR_EL1"]


def _commands():
    rnd = random.Random(15)
    cmds = [["decode", r, hex(rnd.getrandbits(64))] + (["--full"] if k else []) for r in REGS for k in (0, 1)]
    cmds.append(["decode", "TCR_EL2", "0x80803510", "--e2h"])
    for _ in range(60):
        c = ["decode-esr", hex(rnd.getrandbits(32))]
        for opt, p in (("--far", .3), ("--hpfar", .2), ("--par", .2)):
            if rnd.random() < p:
                c += [opt, hex(rnd.getrandbits(64))]
        if rnd.random() < .3:
            c.append("--full")
        cmds.append(c)
    return cmds


def test_plain_lines_are_what_rich_prints_in_a_pipe(monkeypatch):
    runner = CliRunner()
    for c in _commands():
        plain = runner.invoke(cli, c)
        with monkeypatch.context() as m:
            m.setattr(D, "_plain_output", lambda: False)
            rich = runner.invoke(cli, c)
        assert (plain.output, plain.exit_code) == (rich.output, rich.exit_code), c


def test_decode_esr_in_a_pipe_does_not_import_rich():
    code = ("import sys; from pgwalk.cli import main; rc = main(['decode-esr', '0x96000045']); "
            "assert not [m for m in sys.modules if m == 'rich' or m.startswith('rich.')], 'rich imported'; "
            "assert 'numpy' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Data Abort" in out.stdout
