"""The ``pgwalk`` console script (and ``python -m pgwalk``).

It handles what must hold from the first instruction on, imports included:

* Ctrl-C: one line on stderr, exit status 130, never a traceback or a hang.  The process
  ends with ``os._exit``: no flush of a pipe nobody reads, no wait for the bulk output's
  writer thread (:class:`pgwalk.bulk.BackgroundWriter`) blocked in a write.
* A closed output (``| head``): no message, exit status 141 (128 + SIGPIPE), stdout pointed
  at ``/dev/null`` so that Python's flush at exit stays quiet.

Only the standard library is imported before :mod:`pgwalk.cli`.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["run"]

_INTERRUPTED = 130
_BROKEN_PIPE = 141


def _say(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _exit_interrupted() -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)       # a second Ctrl-C changes nothing now
    except ValueError:
        pass
    os._exit(_INTERRUPTED)


def run() -> None:
    """Run the CLI on ``sys.argv`` and exit with its status."""
    try:
        from .cli import main

        rc = main()
    except KeyboardInterrupt:                              # before main() could catch it (imports)
        _say("pgwalk: interrupted\n")
        rc = _INTERRUPTED
    except BrokenPipeError:
        rc = _BROKEN_PIPE
    if rc == _INTERRUPTED:
        _exit_interrupted()
    if rc == _BROKEN_PIPE:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    sys.exit(rc)


if __name__ == "__main__":
    run()
