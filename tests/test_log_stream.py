"""decode-esr --log reads its log as a stream: reports as lines arrive, bounded memory, clear errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgwalk.kernlog import LogScanner, parse_text, scan_stream
from pgwalk.logstream import MAX_LINE, MAX_NUL_RUN, LineSource, LogStreamError

ROOT = Path(__file__).resolve().parents[1]

REPORT = (
    "[  100.000001] Unable to handle kernel paging request at virtual address ffff800008a1c000\n"
    "[  100.000002] Mem abort info:\n"
    "[  100.000003]   ESR = 0x0000000096000047\n"
    "[  100.000004]   EC = 0x25: DABT (current EL), IL = 32 bits\n"
    "[  100.000005]   SET = 0, FnV = 0\n"
    "[  100.000006]   EA = 0, S1PTW = 0\n"
    "[  100.000007]   FSC = 0x07: level 3 translation fault\n"
    "[  100.000008] Data abort info:\n"
    "[  100.000009]   ISV = 0, ISS = 0x00000047, ISS2 = 0x00000000\n"
    "[  100.000010]   CM = 0, WnR = 1, TnD = 0, TagAccess = 0\n"
    "[  100.000011]   GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0\n"
    "[  100.000012] Internal error: Oops: 0000000096000047 [#1] SMP\n"
)


def _pgwalk(*args: str, **kw) -> subprocess.Popen:
    code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, **kw)


def test_pipe_reports_before_eof():
    """dmesg -w | pgwalk decode-esr --log - : the report is printed while the pipe is still open."""
    p = _pgwalk("decode-esr", "--log", "-", "--short", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
    try:
        p.stdin.write(REPORT.encode())
        p.stdin.write(b"[  100.5] ---[ end trace 0000000000000000 ]---\n")
        p.stdin.flush()
        t0 = time.monotonic()
        line = p.stdout.readline()                # blocks until pgwalk prints; stdin stays open
        assert time.monotonic() - t0 < 30
        assert p.poll() is None                   # still running: the report came before EOF
        assert b"ESR_EL1=0x96000047" in line and b"level 3 translation fault" in line
        # a report with no end marker is printed once the pipe is idle
        p.stdin.write(b'"Synchronous Abort" handler, esr 0x96000010\n')
        p.stdin.flush()
        line = p.stdout.readline()
        assert p.poll() is None and b"u-boot" in line and b"0x96000010" in line
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    assert p.returncode == 0


def test_dev_zero_is_one_clear_error():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    p = _pgwalk("decode-esr", "--log", "/dev/zero", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "NUL bytes" in lines[0] and "not a text log" in lines[0], err
    assert b"Traceback" not in err and b"MemoryError" not in err


def test_nul_run_limit_and_long_lines():
    with pytest.raises(LogStreamError, match="NUL bytes"):
        list(LineSource(io.BytesIO(b"\0" * (MAX_NUL_RUN + 10))))
    with pytest.raises(LogStreamError):
        list(LineSource(io.BytesIO(b"ok\n" + b"x" * 100 + b"\0" * (MAX_NUL_RUN + 1) + b"\n")))
    # NULs here and there are not a run
    assert len(list(LineSource(io.BytesIO(b"a\0b\n" * 1000)))) == 1000
    # a 1 MiB line comes out in pieces of MAX_LINE, each numbered as the line
    pieces = [x for x in LineSource(io.BytesIO(b"y" * (1 << 20) + b"\nz\n"))]
    assert {n for n, _ in pieces[:-1]} == {1} and max(len(t) for _, t in pieces) == MAX_LINE
    assert pieces[-1] == (2, "z")


def test_crlf_cr_and_bad_utf8():
    lines = list(LineSource(io.BytesIO(b"a\r\nb\xff\rc\nlast")))
    assert lines == [(1, "a"), (2, "b\ufffd c"), (3, "last")]


def test_no_report_exits_1_with_a_message(tmp_path):
    log = tmp_path / "quiet.log"
    log.write_text("[    0.000000] Booting Linux on physical CPU 0x0\n" * 100)
    p = _pgwalk("decode-esr", "--log", str(log), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert b"no AArch64 exception report found" in err and str(log).encode() in err


def test_scanner_yields_as_reports_complete():
    s = LogScanner()
    got = []
    for n, line in enumerate(REPORT.splitlines(), 1):
        got += s.feed(n, line)
    assert got == []                               # the Oops line may still be followed by more
    got += s.feed(13, "[  100.6] ---[ end trace 0000000000000000 ]---")
    assert [r.esr for r in got] == [0x96000047]
    assert s.idle and s.flush() == []


def test_quiet_lines_are_skipped_but_counted():
    text = ("[    1.0] nothing\n" * 5000) + REPORT + ("[    2.0] nothing\n" * 5000) + REPORT.replace("100.", "200.")
    reports = list(scan_stream(io.BytesIO(text.encode())))
    assert [r.first_line for r in reports] == [5001, 10013]
    assert reports == parse_text(text) or [r.first_line for r in parse_text(text)] == [5001, 10013]


def test_memory_is_bounded_by_the_report(tmp_path):
    """A 24 MB log is scanned with a small resident set (the log is never held whole)."""
    log = tmp_path / "big.log"
    block = (("[    1.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n" * 2000) + REPORT)
    with open(log, "w") as fh:
        while fh.tell() < 24 << 20:
            fh.write(block)
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status (VmHWM)")
    # VmHWM is this process's own peak (ru_maxrss would carry pytest's over fork and exec)
    code = ("import re, sys; from pgwalk.kernlog import scan_stream\n"
            "n = sum(1 for _ in scan_stream(open(sys.argv[1], 'rb')))\n"
            "print(n, re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")
    out = subprocess.run([sys.executable, "-c", code, str(log)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    n, maxrss_kb = int(out[0]), int(out[1])
    assert n > 150
    assert maxrss_kb < 120 * 1024, f"{maxrss_kb} KiB resident for a 24 MB log"


def test_a_report_cannot_grow_without_bound():
    text = ("Unable to handle kernel paging request at virtual address 0000000000001000\n" +
            "  ESR = 0x00000000960000zz\n" * 2000)
    reports = parse_text(text)
    assert len(reports) == 1
    (r,) = reports
    assert len(r.block) <= 201 and any("more than 200 block lines" in p for p in r.problems)
