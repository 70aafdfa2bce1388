"""The ``pgwalk`` command line: thin, lazy.

A plain command line (:mod:`pgwalk.cmd.spec`: declared options and arguments, each
command declared as a :class:`pgwalk.cmd.spec.Command`) is read and run here without click,
whose import would be most of a short command's start-up; every other command line is
click's (:mod:`pgwalk.cmd.root`).  Each subcommand lives in ``pgwalk.cmd.<name>`` and is
imported when it runs, so ``pgwalk decode-esr`` never pays for numpy or the walker.

Exit status: 0 success, 1 a translation faulted / a comparison mismatched,
2 bad input (one line on stderr, no traceback unless ``--debug``), 130 interrupted
(Ctrl-C: one line on stderr, at any moment), 141 the reader of the output went
away (``| head``: no message; 128 + SIGPIPE, the status the shell shows for a tool
the pipe killed, such as ``cat``; the output is incomplete, so it is not 0).
The console script is :func:`pgwalk.__main__.run`.
"""

from __future__ import annotations

import os
import sys

from .cmd.registry import (COMMANDS, COMPLETE_VAR, EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_FAULT, EXIT_INTERRUPTED,
                           EXIT_OK, BrokenPipe, bad_input_text, error_line, load, say)

__all__ = ["main", "cli", "EXIT_OK", "EXIT_FAULT", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE",
           "interrupted", "COMPLETE_VAR", "COMMANDS"]

def __getattr__(name: str):
    """``cli`` (click's command group), ``LazyGroup`` and ``BadInput``: imported with click when asked for."""
    if name in ("cli", "LazyGroup", "BadInput"):
        from .cmd import root

        return getattr(root, name)
    raise AttributeError(f"module 'pgwalk.cli' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (for tests and the console script)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        status = _run_plain(args)
        if status is None:
            from .cmd.root import run

            status = run(args)
        return status
    except KeyboardInterrupt:
        return interrupted()
    except (BrokenPipe, BrokenPipeError):
        return EXIT_BROKEN_PIPE


def _run_plain(args: list[str]) -> int | None:
    """Run a plain command line (:meth:`pgwalk.cmd.spec.Command.plain_arguments`) without click, as
    click would run it; None when it is not one (click then reads it)."""
    target = COMMANDS.get(args[0]) if args else None
    if target is None or os.environ.get(COMPLETE_VAR):
        return None
    command = load(target)
    values = command.plain_arguments(args[1:])
    if values is None:
        return None
    try:
        return command.run(**values) or EXIT_OK
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):        # rich's Console.on_broken_pipe
            return EXIT_BROKEN_PIPE
        raise
    except Exception as exc:
        text = bad_input_text(exc)
        if text is None:
            raise
        say(error_line(text))
        return EXIT_BAD_INPUT


def interrupted() -> int:
    """Ctrl-C: say so in one line and return :data:`EXIT_INTERRUPTED`."""
    say("pgwalk: interrupted\n")
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
