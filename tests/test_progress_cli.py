"""Progress (issue 14): a line on stderr, only when stderr is a terminal, never on stdout; the output
is the same with and without it.  Checked through pseudo-terminals (the pty module) on the real dump
(dump-tree --no-merge) and on a batch, and on the line itself with a fake clock."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgwalk.cmd.progress import Progress, Tracked  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "s1_4k_48bit"
PGWALK = [sys.executable, "-m", "pgwalk"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_rate_share_and_time_left_after_the_delay(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    clock, tty = _Clock(), _Tty()
    p = Progress("walking", "descriptors", stream=tty, delay=0.5, interval=0.2, clock=clock)
    clock.now += 0.1
    p.update(0.1, 100, "2 tables")
    assert tty.getvalue() == ""                    # quick work shows nothing
    clock.now += 1.9                                # 2 s in, a quarter done
    p.update(0.25, 5000, "10 tables")
    line = tty.getvalue()
    assert "walking, 10 tables, 5,000 descriptors (2,500/s), 25%, about 0:06 left, 0:02 so far" in line
    assert "\n" not in line and line.startswith("\r")
    clock.now += 0.1                                # redrawn at most every 0.2 s
    p.update(0.3, 6000)
    assert tty.getvalue() == line
    p.clear()
    assert tty.getvalue().endswith("\r" + " " * (len(line) - 2) + "\r") and not p.shown


def test_nothing_when_the_stream_is_not_a_terminal():
    clock, plain = _Clock(), io.StringIO()
    p = Progress("walking", "descriptors", stream=plain, delay=0, clock=clock)
    clock.now += 5
    p.update(0.5, 10)
    p.clear()
    assert plain.getvalue() == "" and not p.enabled


def test_tracked_counts_weighted_items_and_clears():
    clock, tty = _Clock(), _Tty()

    def tick():
        clock.now += 1
        return clock.now

    blocks = [list(range(10))] * 4
    t = Tracked(blocks, 40, "translating", "addresses", weight=len, stream=tty, delay=0, interval=0, clock=tick)
    assert list(t) == blocks
    text = tty.getvalue()
    assert "translating, 40 addresses" in text and "100%" in text and "30 addresses" in text
    assert text.endswith(" \r")                     # erased at the end


def _run(argv, stdout_tty: bool, stderr_tty: bool, env=None) -> tuple[int, bytes, bytes]:
    """Run with stdout/stderr each a pty or a pipe; returns (status, stdout bytes, stderr bytes)."""
    ends, readers, got = {}, [], {}
    env = {**os.environ, "COLUMNS": "200", "LINES": "50", **(env or {})}
    env.pop("NO_COLOR", None)
    for name, tty in (("out", stdout_tty), ("err", stderr_tty)):
        if tty:
            m, s = pty.openpty()
        else:
            m, s = os.pipe()
        ends[name] = (m, s)
    p = subprocess.Popen(argv, stdout=ends["out"][1], stderr=ends["err"][1], stdin=subprocess.DEVNULL, env=env,
                         cwd=ROOT)
    for name, (m, s) in ends.items():
        os.close(s)
        got[name] = bytearray()

        def drain(m=m, name=name):
            while True:
                try:
                    d = os.read(m, 1 << 16)
                except OSError:            # a pty's master reads EIO once the child is gone
                    break
                if not d:
                    break
                got[name] += d
            os.close(m)

        th = threading.Thread(target=drain)
        th.start()
        readers.append(th)
    rc = p.wait(timeout=600)
    for th in readers:
        th.join(timeout=60)
    return rc, bytes(got["out"]), bytes(got["err"])


@pytest.fixture(scope="module")
def plain_tree(dump):
    argv = [*PGWALK, "dump-tree", "-i", dump, "--no-merge", "--view", "ranges"]
    rc, plain_out, plain_err = _run(argv, stdout_tty=False, stderr_tty=False)
    assert rc == 0 and b"walking" not in plain_err
    return argv, plain_out


def test_dump_tree_progress_on_a_terminal_stderr_only(plain_tree):
    argv, plain_out = plain_tree
    rc, out, err = _run(argv, stdout_tty=False, stderr_tty=True)
    assert rc == 0
    assert out == plain_out                                   # the data is the same with the line on stderr
    assert b"walking, " in err and b" tables, " in err and b" descriptors (" in err and b"/s)" in err
    assert re.search(rb"\d+%, about \d+:\d\d left", err)
    assert b"walking" not in out


def test_dump_tree_on_two_terminals_writes_progress_to_stderr_and_the_same_lines_to_stdout(plain_tree):
    argv, plain_out = plain_tree
    rc, out, err = _run(argv, stdout_tty=True, stderr_tty=True)
    assert rc == 0
    assert b"walking" in err and b"walking" not in out
    text = ANSI.sub("", out.decode()).replace("\r\n", "\n")
    assert text == plain_out.decode()                        # styled on the terminal, the same text


def test_batch_progress_on_a_terminal_stderr_only(tmp_path):
    batch = tmp_path / "batch.txt"
    # (enough walks to outlast the line's half-second delay several times over on a fast machine)
    batch.write_text("".join(f"{0xffff800000200000 + 4 * i:#x}\n" for i in range(12000)))
    argv = [*PGWALK, "translate", "-i", f"{SAMPLE}.img@0x40000000", "--regs", f"{SAMPLE}.regs.json",
            "--batch", str(batch)]                           # with traces: one walk at a time
    rc, plain_out, plain_err = _run(argv, stdout_tty=False, stderr_tty=False)
    assert rc == 0 and b"translating" not in plain_err
    rc, out, err = _run(argv, stdout_tty=False, stderr_tty=True)
    assert rc == 0 and out == plain_out
    assert b"translating, " in err and b" addresses (" in err and b"%" in err
