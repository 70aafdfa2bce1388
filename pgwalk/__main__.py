"""The ``pgwalk`` console script (and ``python -m pgwalk``).

It handles what must hold from the first instruction on, imports included:

* Ctrl-C: one line on stderr, exit status 130, never a traceback or a hang (also when C code
  it interrupted, such as numpy's import, turned it into an error of its own).  The process
  ends with ``os._exit``: no flush of a pipe nobody reads, no wait for the bulk output's
  writer thread (:class:`pgwalk.writer.BackgroundWriter`) blocked in a write.
* A closed output (``| head``): no message, exit status 141 (128 + SIGPIPE), stdout pointed
  at ``/dev/null`` so that Python's flush at exit stays quiet.

Only the standard library and :mod:`pgwalk.cmd.registry` (the exit statuses; it imports nothing
but :mod:`pgwalk.errors`, which imports nothing) are imported before :mod:`pgwalk.cli`; numpy's OpenBLAS is told to use one
thread (``OPENBLAS_NUM_THREADS``, unless set): pgwalk does no linear algebra.

When the command has returned, every object alive is frozen (``gc.freeze``): the garbage
collection the interpreter makes at exit then skips them (tens of ms with numpy and the walk's
objects loaded, a sixth of a short ``dump-tree``), and they are freed by reference counts as the
modules are cleared.  Only objects held by nothing but a reference cycle are left to the end of
the process unfinalized: pgwalk's commands close what they write before they return.  atexit
handlers (one removes a decompressed image's temporary copy) and the flush of the standard
streams are as before.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

from .cmd.registry import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, say

__all__ = ["run"]


def _exit_interrupted() -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)       # a second Ctrl-C changes nothing now
    except ValueError:
        pass
    os._exit(EXIT_INTERRUPTED)


#: SIGINTs received (a Ctrl-C can land where Python cannot raise it, e.g. in a weakref callback
#: inside the import system: it is then "ignored" there, raised again a moment later
#: (:func:`_raise_again_soon`), and at the latest honoured when the command returns)
_sigints: list[int] = []


def _on_sigint(signum, frame) -> None:
    _sigints.append(signum)
    raise KeyboardInterrupt


def _unraisable(unraisable, _default=sys.unraisablehook) -> None:
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _raise_again_soon()                                # (recorded by _on_sigint)
        return
    _default(unraisable)


#: how long after a swallowed Ctrl-C it is raised again, where Python can raise it
_AGAIN_SECONDS = 0.05


def _raise_again_soon() -> None:
    """A Ctrl-C Python swallowed is raised again a moment later (SIGALRM), outside the callback
    that swallowed it: a command that would block or run on (a full pipe, an endless stdin) is
    still interrupted at once.  Swallowed again, it is raised again."""
    try:
        signal.signal(signal.SIGALRM, _on_sigint)
        signal.setitimer(signal.ITIMER_REAL, _AGAIN_SECONDS)
    except (AttributeError, ValueError, OSError):          # no SIGALRM here: honoured at the return
        pass


def _no_alarm() -> None:
    try:
        signal.setitimer(signal.ITIMER_REAL, 0)
    except (AttributeError, ValueError, OSError):
        pass


def run() -> None:
    """Run the CLI on ``sys.argv`` and exit with its status."""
    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:                                     # not the main thread: keep Python's
        pass
    sys.unraisablehook = _unraisable
    # pgwalk never multiplies matrices: numpy's OpenBLAS need not start a thread per core at import
    # (tens of ms of CPU on every command that walks with numpy); a value the user set is kept
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        from .cli import main

        rc = main()
        _no_alarm()                                        # (main() has returned: nothing to interrupt)
        gc.freeze()                                        # (the collection at exit: see above)
        if _sigints and rc != EXIT_INTERRUPTED:            # a Ctrl-C Python had to swallow
            say("pgwalk: interrupted\n")
            rc = EXIT_INTERRUPTED
    except KeyboardInterrupt:                              # before main() could catch it (imports)
        say("pgwalk: interrupted\n")
        rc = EXIT_INTERRUPTED
    except BrokenPipeError:
        rc = EXIT_BROKEN_PIPE
    except Exception:
        # a Ctrl-C that C code turned into its own error: numpy's import, interrupted inside
        # its C initialisation, raises ImportError ("PyCapsule_Import could not import module")
        if not _sigints:
            raise
        say("pgwalk: interrupted\n")
        rc = EXIT_INTERRUPTED
    if rc == EXIT_INTERRUPTED:
        _exit_interrupted()
    if rc == EXIT_BROKEN_PIPE:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    sys.exit(rc)


if __name__ == "__main__":
    run()
