"""decode-esr / decode print one statement of their output (``_render_*`` in
pgwalk.cmd.decode_esr); a pipe and a terminal only present it differently.

In a pipe the lines are plain and printed without importing rich (start-up); on a
terminal the same lines and cells carry colour and borders.  Stripped of escapes and
borders, the two carry the same text, token for token.
"""

import random
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli_helpers import run
from oracle_data import linux_oracle_dir
from pgwalk.cli import cli

REGS = ["TCR_EL1", "TCR_EL2", "TCR_EL3", "VTCR_EL2", "SCTLR_EL1", "HCR_EL2", "MAIR_EL1", "TTBR0_EL1",
        "VTTBR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR2_EL1", "PAR_EL1", "HPFAR_EL2", "ESR_EL2", "FAR_EL1"]

#: syndromes of every common class (data/instruction aborts at each level, SError, SVC, BRK,
#: watchpoints, traps, a 64-bit value with ISS2)
ESRS = ["0x96000045", "0x96000004", "0x9600004f", "0x92000047", "0x86000007", "0x8200000d", "0xbe000011",
        "0x56000000", "0xf2000800", "0xd6000022", "0x93c08046", "0x62000003", "0x1a000000",
        "0x0000008096000045", "0x5e000000", "0x3a000000"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DRAWING = re.compile("[\u2500-\u257f]")


def _commands():
    rnd = random.Random(15)
    cmds = [["decode", r, hex(rnd.getrandbits(64))] + (["--full"] if k else []) for r in REGS for k in (0, 1)]
    cmds.append(["decode", "TCR_EL2", "0x80803510", "--e2h"])
    cmds.append(["decode", "descriptor", "0x0060000040201f43", "--granule", "4k", "--level", "3"])
    for v in ESRS:
        cmds.append(["decode-esr", v, "--far", "0xffff800008036000"])
        cmds.append(["decode-esr", v, "--full", "--el", "2", "--hpfar", "0x40201230", "--par", "0x80F"])
    for _ in range(40):
        c = ["decode-esr", hex(rnd.getrandbits(32))]
        for opt, p in (("--far", .3), ("--hpfar", .2), ("--par", .2)):
            if rnd.random() < p:
                c += [opt, hex(rnd.getrandbits(64))]
        if rnd.random() < .3:
            c.append("--full")
        cmds.append(c)
    return cmds


def _tokens(text: str) -> list[str]:
    """The words printed, without escapes, borders, padding or line breaks."""
    return _DRAWING.sub(" ", _ANSI.sub("", text)).split()


def _terminal(argv, capsys, monkeypatch, columns=250, color="always"):
    from pgwalk.cmd import output

    with monkeypatch.context() as m:
        m.setattr(output, "stdout_is_terminal", lambda: True)
        m.setenv("COLUMNS", str(columns))
        return run(["--color", color, *argv], capsys)


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a)[:60])
def test_pipe_and_terminal_print_the_same_fields(argv, capsys, monkeypatch):
    """The terminal's output, stripped of ANSI escapes and box drawing, is the pipe's output
    word for word (the same rows, cells, titles and notes), and the pipe's has no escapes."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    rc_pipe, pipe, pipe_err = run(argv, capsys)
    rc_term, term, term_err = _terminal(argv, capsys, monkeypatch)
    assert rc_pipe == rc_term == 0
    assert "\x1b[" not in pipe and not _DRAWING.search(pipe)
    assert "\x1b[" in term and _DRAWING.search(term)          # it really was the terminal presentation
    assert _tokens(pipe) == _tokens(term)
    assert pipe_err == term_err
    # every field row of the pipe is one line: name, bits and value in columns
    if argv[0] == "decode-esr":
        assert re.search(r"^EC +31:26 +0x[0-9a-f]{2} ", pipe, re.M)


def test_pipe_layout_is_a_borderless_table(capsys):
    """In a pipe each table row is one line, cells separated by at least two spaces, bits and
    values right-aligned, no trailing spaces."""
    rc, out, _ = run(["decode-esr", "0x96000045", "--far", "0xffff800008036000"], capsys)
    first = out.split("\nFAR ")[0]                                      # the ESR's table
    rows = [line for line in first.splitlines() if re.match(r"^(field|EC|IL|ISV|WnR|DFSC) ", line)]
    assert rows[0].split() == ["field", "bits", "value", "meaning"]
    value_end = {re.match(r"^\S+ +\S+ +\S+", line).end() for line in rows}
    assert len(value_end) == 1                                          # one right edge for the values
    assert all(line == line.rstrip() for line in out.splitlines())


def test_forced_colour_in_a_pipe_is_the_plain_lines_with_escapes(capsys, monkeypatch):
    """``--color always`` in a pipe goes through rich without borders: the same lines as the plain
    presentation once the escapes are removed."""
    runner = CliRunner()
    for c in _commands()[::5]:
        plain = runner.invoke(cli, c)
        coloured = runner.invoke(cli, ["--color", "always", *c])
        assert plain.exit_code == coloured.exit_code == 0, c
        assert "\x1b[" in coloured.output
        assert [x.rstrip() for x in _ANSI.sub("", coloured.output).splitlines()] == plain.output.splitlines(), c


def test_log_reports_pipe_and_terminal_carry_the_same_text(capsys, monkeypatch):
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "serial.log").exists():
        pytest.skip("oracle log not available")
    monkeypatch.delenv("NO_COLOR", raising=False)
    argv = ["decode-esr", "--log", str(oracle / "serial.log")]
    rc_pipe, pipe, _ = run(argv, capsys)
    rc_term, term, _ = _terminal(argv, capsys, monkeypatch)
    assert rc_pipe == rc_term
    assert "\x1b[" not in pipe and _DRAWING.search(term)
    assert _tokens(pipe) == _tokens(term)


def test_narrow_terminal_keeps_every_value(capsys, monkeypatch):
    """On a narrow terminal the tables are stacked rather than cut: every cell value of the pipe
    output is still printed whole."""
    argv = ["decode-esr", "0x96000045", "--far", "0xffff800008036000", "--par", "0x80F"]
    _, pipe, _ = run(argv, capsys)
    _, term, _ = _terminal(argv, capsys, monkeypatch, columns=50, color="never")
    hexes = set(re.findall(r"0x[0-9a-f]+", pipe))
    assert hexes and hexes <= set(re.findall(r"0x[0-9a-f]+", term))


def test_decode_esr_in_a_pipe_does_not_import_rich():
    code = ("import sys; from pgwalk.cli import main; rc = main(['decode-esr', '0x96000045']); "
            # (an ESR's decode needs no translation rules: the start-up benchmark's command)
            "assert not [m for m in ('pgwalk.rules', 'pgwalk.params', 'pgwalk.render') if m in sys.modules], "
            "sorted(sys.modules); "
            "rc = main(['decode', 'TCR_EL1', '0x1001f5b5503510']); "
            "assert not [m for m in sys.modules if m == 'rich' or m.startswith('rich.')], 'rich imported'; "
            "assert 'numpy' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Data Abort" in out.stdout and "derived" in out.stdout
