"""The commands, the exit statuses, and the one line a bad input gets.

Imports nothing but :mod:`pgwalk.errors` (which imports nothing): :mod:`pgwalk.cli` reads it
before it knows whether click is needed, and :mod:`pgwalk.cmd.root` (click's command group)
reads it too.
"""

from __future__ import annotations

import sys

from ..errors import PgwalkError

__all__ = ["EXIT_OK", "EXIT_FAULT", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE", "COMMANDS",
           "COMPLETE_VAR", "BrokenPipe", "load", "bad_input_text", "error_line", "say"]

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
#: 128 + SIGINT
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE
EXIT_BROKEN_PIPE = 141

#: command name -> "module:attribute" of its :class:`pgwalk.cmd.spec.Command`: a plain command line
#: runs without importing click (:mod:`pgwalk.cli`), every other one through click's group
#: (:mod:`pgwalk.cmd.root`, which makes the click command from the declaration)
COMMANDS = {
    "translate": "pgwalk.cmd.translate:TRANSLATE",
    "at": "pgwalk.cmd.at:AT",
    "dump-tree": "pgwalk.cmd.dump_tree:DUMP_TREE",
    "decode-esr": "pgwalk.cmd.decode_esr:DECODE_ESR",
    "decode": "pgwalk.cmd.decode_esr:DECODE",
    "info": "pgwalk.cmd.info:INFO",
    "vtop": "pgwalk.cmd.linux:VTOP",
    "ptov": "pgwalk.cmd.linux:PTOV",
    "read": "pgwalk.cmd.read:READ",
    "schema": "pgwalk.cmd.schema:SCHEMA",
}


#: the environment variable of click's shell-completion request (``_PGWALK_COMPLETE=bash_source
#: pgwalk``), which only click answers
COMPLETE_VAR = "_PGWALK_COMPLETE"


class BrokenPipe(BaseException):
    """The reader of stdout went away, carried past click and rich (which exit with status 1)."""


def load(target: str):
    """The object a ``"module:attribute"`` of :data:`COMMANDS` names, its module
    imported (with ``__import__``: importlib's package would import warnings)."""
    module, attr = target.split(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


def bad_input_text(exc: BaseException) -> str | None:
    """The one line (without ``pgwalk: error:``) of an exception that means bad input, else None:
    pgwalk's own errors, a file that cannot be read or written, memory or recursion exhausted."""
    if isinstance(exc, PgwalkError):
        return str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError) and exc.filename is not None:
        from ..inputs import os_error_text                   # (a file no caller named better)

        return os_error_text(str(exc.filename), exc)
    if isinstance(exc, (OSError, MemoryError, RecursionError)) and not isinstance(exc, BrokenPipeError):
        return f"{type(exc).__name__}: {exc}"
    return None


def error_line(text: str) -> str:
    """How a bad input is said on stderr."""
    return f"pgwalk: error: {text}\n"


def say(text: str) -> None:
    """``text`` on stderr, now (a closed or missing stderr is not an error)."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
