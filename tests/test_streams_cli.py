"""Streams and signals through the installed console script (issue 11, item 7).

* A closed output (``| head -1``) on every command that streams: no message, exit status
  141 (128 + SIGPIPE, what the shell reports for ``cat`` killed by the pipe), at once.
* Ctrl-C at any moment (during the imports, while walking, while the bulk output's writer
  thread is blocked on a pipe nobody reads): one line, ``pgwalk: interrupted``, status 130,
  within a bounded time.
* ``/dev/zero`` or an endless line as a batch: one clear error, in bounded memory and time.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
S = ["-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", "--regs", str(SAMPLES / "s1_4k_48bit.regs.json")]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")


def _pgwalk() -> list[str]:
    """The console script's entry (``pgwalk.__main__.run``), as installed or from the tree."""
    exe = Path(sys.executable).parent / "pgwalk"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "pgwalk"]


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("streams")
    vas = d / "vas.txt"
    vas.write_text("".join(f"{0xffff800000200000 + 0x10 * i:016x}\n" for i in range(200_000)))
    ats = d / "at.jsonl"
    ats.write_text("".join(json.dumps({"op": "S1E1R", "va": f"{0xffff800000200000 + 8 * i:#x}", "par": "0x0"}) + "\n"
                           for i in range(3000)))
    log = d / "dmesg.txt"
    block = (ROOT / "tests" / "data" / "kernlogs").glob("*.log")
    text = "".join(p.read_text(errors="replace") for p in sorted(block))
    log.write_text(text * max(1, 2_000_000 // max(1, len(text))))
    return {"vas": vas, "at": ats, "log": log}


def _streaming_commands(b):
    many = [f"{0x40000000 + 0x1000 * i:#x}" for i in range(2000)]
    return {
        "translate --json": ["translate", *S, "--batch", b["vas"], "--json"],
        "translate --csv": ["translate", *S, "--batch", b["vas"], "--csv"],
        "translate --no-trace": ["translate", *S, "--batch", b["vas"], "--no-trace"],
        "translate (trace)": ["translate", *S, "--batch", b["vas"]],
        "translate --scalar --json": ["translate", *S, "--batch", b["vas"], "--scalar", "--json"],
        "translate --reverse": ["translate", *S, "--reverse", *many],
        "translate --reverse --json": ["translate", *S, "--reverse", "--json", *many],
        "translate --reverse --csv": ["translate", *S, "--reverse", "--csv", *many],
        "at --batch --json": ["at", *S, "--batch", b["at"], "--json"],
        "dump-tree": ["dump-tree", *S, "--invalid", "--no-merge"],
        "dump-tree --json": ["dump-tree", *S, "--json", "--invalid", "--no-merge"],
        "decode-esr --log": ["decode-esr", "--log", b["log"]],
    }


@pytest.mark.parametrize("name", list(_streaming_commands({"vas": "", "at": "", "log": ""})))
def test_closed_pipe_exits_quietly(batches, name):
    argv = _streaming_commands(batches)[name]
    t0 = time.monotonic()
    p = subprocess.Popen([*_pgwalk(), *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    first = p.stdout.readline()
    p.stdout.close()                                   # | head -1
    err = p.stderr.read().decode()
    rc = p.wait(timeout=120)
    assert first, err
    assert rc in (0, 1, 141), (rc, err)               # 0/1: it had finished writing before the close
    problems = [ln for ln in err.splitlines() if "note:" not in ln and "warning:" not in ln]
    assert not problems, err                           # no "error: BrokenPipeError", no traceback
    assert time.monotonic() - t0 < 60


def test_closed_pipe_status_is_141(batches):
    p = subprocess.Popen([*_pgwalk(), "translate", *S, "--batch", str(batches["vas"]), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141, err


#: the console script's own code (pgwalk.__main__.run), started once the interpreter is up: Ctrl-C
#: during Python's start-up (site, .pth files: before any pgwalk code runs) is Python's to report
_LAUNCH = ("from pgwalk.__main__ import run; import sys; sys.argv[0] = 'pgwalk'; "
           "sys.stderr.write('ready\\n'); sys.stderr.flush(); run()")


def _interrupt(argv, delay: float, *, read_stdout: bool = False, stdin=None):
    """Start ``pgwalk ARGV``, send SIGINT ``delay`` seconds after its first instruction (imports
    included); (status, stderr, seconds from the signal to the exit)."""
    p = subprocess.Popen([sys.executable, "-c", _LAUNCH, *map(str, argv)],
                         stdout=subprocess.PIPE if not read_stdout else subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=stdin, env=ENV)
    assert p.stderr.readline() == b"ready\n"
    time.sleep(delay)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=30) if read_stdout else (None, _stderr_only(p))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail(f"{argv[:1]}: still running 30 s after SIGINT")
    return p.returncode, err.decode(), time.monotonic() - t0


def _stderr_only(p) -> bytes:
    """stderr to the end and the exit, leaving stdout unread (a pipe nobody reads); a process
    still running 30 s on is TimeoutExpired (its stderr, a line or two, fits in the pipe)."""
    p.wait(timeout=30)
    err = p.stderr.read()
    if p.stdout is not None:
        p.stdout.close()
    return err


def _assert_interrupted(rc, err, seconds, delay):
    lines = [ln for ln in err.splitlines() if "note:" not in ln and "warning:" not in ln]
    if rc in (0, 1, -signal.SIGINT) and not lines:
        return      # it had finished (a fast machine), or was exiting: Python's finalisation restores
                    # SIGINT's default action, which ends the process (the shell shows 130)
    assert rc == 130, (delay, rc, err[-2000:])
    assert lines == ["pgwalk: interrupted"], (delay, err[-2000:])
    assert seconds < 10


@pytest.mark.parametrize("delay", [0.005, 0.02, 0.06, 0.15, 0.4, 1.0])
def test_ctrl_c_while_bulk_output_blocks_on_a_full_pipe(batches, delay):
    """stdout is a pipe nobody reads: the writer thread blocks in write; Ctrl-C still ends it."""
    rc, err, seconds = _interrupt(["translate", *S, "--batch", batches["vas"], "--json"], delay)
    _assert_interrupted(rc, err, seconds, delay)


@pytest.mark.parametrize("argv", [
    ["translate", "--batch", "VAS", "--scalar", "--json"],
    ["translate", "--batch", "VAS"],
    ["at", "--batch", "AT", "--json"],
    ["dump-tree", "--invalid", "--no-merge"],
])
@pytest.mark.parametrize("delay", [0.1, 0.7])
def test_ctrl_c_while_working(batches, argv, delay):
    argv = [batches["vas"] if a == "VAS" else batches["at"] if a == "AT" else a for a in argv]
    rc, err, seconds = _interrupt([argv[0], *S, *argv[1:]], delay, read_stdout=True)
    _assert_interrupted(rc, err, seconds, delay)


def test_ctrl_c_through_the_console_script(batches):
    """The installed script, interrupted well after start-up."""
    p = subprocess.Popen([*_pgwalk(), "translate", *S, "--batch", str(batches["vas"]), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    err = _stderr_only(p).decode()
    _assert_interrupted(p.returncode, err, 0, 1.5)


def test_ctrl_c_while_reading_stdin():
    """``pgwalk translate --batch -`` waiting on a terminal or a silent pipe."""
    r, w = os.pipe()
    try:
        rc, err, seconds = _interrupt(["translate", *S, "--batch", "-", "--json"], 0.8, read_stdout=True, stdin=r)
    finally:
        os.close(r)
        os.close(w)
    _assert_interrupted(rc, err, seconds, 0.8)


def _limited(limit_mb: int):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    return limit


@pytest.mark.parametrize("argv", [
    ["translate", *S, "--batch", "/dev/zero", "--json"],
    ["at", *S, "--batch", "/dev/zero", "--json"],
])
def test_dev_zero_batch_is_one_clear_error_in_bounded_memory(argv):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    t0 = time.monotonic()
    r = subprocess.run([*_pgwalk(), *argv], capture_output=True, text=True, timeout=60, env=ENV,
                       preexec_fn=_limited(1024))
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr == "pgwalk: error: /dev/zero:1: line longer than 1024 KiB (not a batch of lines?)\n"
    assert time.monotonic() - t0 < 30


def test_endless_line_on_stdin_is_one_clear_error():
    """A producer that never writes a newline: refused after the line bound, not read forever."""
    p = subprocess.Popen([*_pgwalk(), "translate", *S, "--batch", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, preexec_fn=_limited(1024))
    chunk = b"f" * 65536
    try:
        for _ in range(10_000):                       # 640 MiB at most
            p.stdin.write(chunk)
    except BrokenPipeError:                           # pgwalk stopped reading: good
        pass
    finally:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
    err = p.stderr.read()
    p.stdout.close()
    assert p.wait(timeout=60) == 2 and err.decode() == ("pgwalk: error: <stdin>:1: line longer than 1024 KiB "
                                                  "(not a batch of lines?)\n")


def test_endless_batch_is_one_clear_error(tmp_path):
    """More than the batch bound of (valid) lines: refused, not read until memory runs out."""
    if shutil.which("yes") is None:
        pytest.skip("no yes(1)")
    yes = subprocess.Popen(["yes", "0xffff800000201234"], stdout=subprocess.PIPE)
    try:
        r = subprocess.run([*_pgwalk(), "translate", *S, "--batch", "-", "--json"], stdin=yes.stdout,
                           capture_output=True, text=True, timeout=120, env=ENV, preexec_fn=_limited(2048))
    finally:
        yes.kill()
        yes.wait()
        yes.stdout.close()
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "pgwalk: error: <stdin>: more than 256 MiB; split the batch\n"


# ----------------------------------------------------------------------------- in process: pgwalk.cli.main

#: a line click reads (the group's option first), and a plain one (run without click)
CLICK, PLAIN = ["--color", "never"], []


@pytest.mark.parametrize("where, prefix", [
    ("click.Group.make_context", CLICK),
    ("pgwalk.cmd.common.load_context", CLICK), ("pgwalk.cmd.common.load_context", PLAIN),
    ("pgwalk.cmd.translate._scalar", CLICK), ("pgwalk.cmd.translate._scalar", PLAIN),
    # around the command, where click's main() caught it and wrote a blank
    # line on stderr first (seen once in CI, a Ctrl-C at 20 ms)
    ("pgwalk.cli.LazyGroup.invoke", CLICK), ("root context's close", CLICK),
    ("pgwalk.cmd.spec.Command.parse_plain", PLAIN),
], ids=lambda x: "click" if x is CLICK else "plain" if x is PLAIN else x)
def test_main_interrupted_anywhere_is_one_line_and_130(capsys, monkeypatch, where, prefix):
    from unittest import mock

    from pgwalk.cli import main

    if where == "root context's close":             # after the command returned and invoke with it
        from pgwalk.cli import LazyGroup

        def interrupt():
            raise KeyboardInterrupt

        def invoke(group, ctx, _invoke=LazyGroup.invoke):
            ctx.call_on_close(interrupt)            # run when the root context closes, after invoke
            return _invoke(group, ctx)
        monkeypatch.setattr(LazyGroup, "invoke", invoke)
        rc = main([*prefix, "translate", *S, "0x1000"])
        out, err = capsys.readouterr()
        assert out.startswith("0x1000 ")             # the command ran, and noted what it assumed
        err = "".join(ln for ln in err.splitlines(keepends=True) if not ln.startswith("pgwalk: note: "))
    else:
        with mock.patch(where, side_effect=KeyboardInterrupt):
            rc = main([*prefix, "translate", *S, "0x1000"])
        out, err = capsys.readouterr()
        assert out == ""
    assert rc == 130 and err == "pgwalk: interrupted\n"


def test_main_interrupted_with_debug_shows_where(capsys):
    from unittest import mock

    from pgwalk.cli import main

    with mock.patch("pgwalk.cmd.common.load_context", side_effect=KeyboardInterrupt):
        rc = main(["--debug", "translate", *S, "0x1000"])
    err = capsys.readouterr().err
    assert rc == 130 and "Traceback" in err and err.endswith("pgwalk: interrupted\n")


@pytest.mark.parametrize("how", ["raise", "rich"])
def test_main_broken_pipe_is_quiet_141(capsys, how):
    """A BrokenPipeError from a write, or rich's reaction to one (SystemExit(1) after pointing
    stdout at /dev/null): status 141 and no message, never click's or rich's status 1."""
    from unittest import mock

    from pgwalk.cli import main

    def rich_exit(*_a, **_k):
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            raise SystemExit(1)

    effect = BrokenPipeError(32, "Broken pipe") if how == "raise" else rich_exit
    with mock.patch("pgwalk.cmd.translate._scalar", side_effect=effect):
        rc = main(["translate", *S, "0x1000"])
    out, err = capsys.readouterr()
    assert rc == 141 and err == "" and out == ""


_SWALLOWED = """
import os, signal, sys, weakref
import pgwalk.cli
from pgwalk.__main__ import run

sys.argv = ["pgwalk", "decode-esr", "0x96000045"]
real_main = pgwalk.cli.main


def main():
    class Obj:
        pass

    def callback(ref):                     # Python reports exceptions raised here as "ignored"
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(100000))                 # the handler runs here, inside the callback

    obj = Obj()
    ref = weakref.ref(obj, callback)
    del obj
    return real_main()


pgwalk.cli.main = main
run()
"""


def test_ctrl_c_that_python_swallows_still_ends_interrupted():
    """A SIGINT landing where Python cannot raise it (a weakref callback, as in the import
    system's module locks) is printed by Python as 'Exception ignored' and lost; pgwalk
    honours it when the command returns: one line, 130."""
    p = subprocess.run([sys.executable, "-c", _SWALLOWED], capture_output=True, env=ENV, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 130, (p.returncode, err)
    lines = [ln for ln in err.splitlines() if "note:" not in ln]
    assert lines == ["pgwalk: interrupted"], err


_TURNED = """
import os, signal, sys
import pgwalk.cli
from pgwalk.__main__ import run

sys.argv = ["pgwalk", "decode-esr", "0x96000045"]


def main():
    # what numpy's import does when a Ctrl-C lands in its C initialisation: the KeyboardInterrupt
    # is lost and the import fails with an ImportError of its own
    try:
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(100000))
    except KeyboardInterrupt:
        raise ImportError("PyCapsule_Import could not import module \\"datetime\\"") from None


pgwalk.cli.main = main
run()
"""


def test_ctrl_c_that_c_code_turns_into_another_error_ends_interrupted():
    """A Ctrl-C during numpy's import (seen at 20 ms into a bulk ``translate``) comes out as an
    ImportError: still one line and 130, not the ImportError's traceback."""
    p = subprocess.run([sys.executable, "-c", _TURNED], capture_output=True, env=ENV, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 130, (p.returncode, err)
    assert [ln for ln in err.splitlines() if "note:" not in ln] == ["pgwalk: interrupted"], err


def test_an_error_with_no_ctrl_c_is_not_taken_for_one():
    """Without a Ctrl-C, an exception main() lets out is not reported as an interruption."""
    script = _TURNED.replace("os.kill(os.getpid(), signal.SIGINT)", "raise KeyboardInterrupt") \
        .replace("raise ImportError", "raise RuntimeError")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 1 and "RuntimeError: PyCapsule_Import" in err, (p.returncode, err)


def test_broken_pipe_out_of_main_is_still_quiet_141():
    """A BrokenPipeError that main() lets out (a pipe closed where no command catches it) is the
    closed output, status 141 and no message, not taken by the clause for errors C code made of
    a Ctrl-C (which re-raises what it does not take)."""
    script = _TURNED.replace("os.kill(os.getpid(), signal.SIGINT)", "raise BrokenPipeError(32, 'Broken pipe')") \
        .replace("except KeyboardInterrupt:", "except ValueError:")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=60)
    assert p.returncode == 141 and p.stderr.decode() == "", (p.returncode, p.stderr.decode())


def test_ctrl_c_that_python_swallows_ends_a_command_that_would_wait_forever():
    """The same swallowed SIGINT, then a command that never returns by itself (``--log -`` on a
    stdin left open, as ``dmesg -w | pgwalk decode-esr --log -``): it is raised again a moment
    later, and the command ends interrupted (before, it ran on until a second Ctrl-C)."""
    script = _SWALLOWED.replace('"decode-esr", "0x96000045"', '"decode-esr", "--log", "-"')
    p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    try:
        rc = p.wait(timeout=30)                 # (stdin stays open: only the Ctrl-C can end it)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("a Ctrl-C Python swallowed left the command running")
    finally:
        p.stdin.close()
    err = p.stderr.read().decode()
    assert rc == 130, (rc, err)
    assert [ln for ln in err.splitlines() if "note:" not in ln] == ["pgwalk: interrupted"], err


def test_overlong_line_error_names_its_line_number(tmp_path):
    """The line number of a line past the length limit counts the lines before it (read in chunks)."""
    batch = tmp_path / "long.txt"
    batch.write_bytes(b"0x1000\n" * 200_000 + b"0" * (1 << 20) + b"1\n")   # line 200,001, past the 1 MiB chunk
    r = subprocess.run([*_pgwalk(), "translate", *S, "--batch", str(batch), "--csv"], capture_output=True,
                       text=True, timeout=120, env=ENV)
    assert r.returncode == 2
    assert r.stderr == f"pgwalk: error: {batch}:200001: line longer than 1024 KiB (not a batch of lines?)\n"
