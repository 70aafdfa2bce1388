"""Addresses and register values as users type them: one grammar, everywhere.

A value is **hexadecimal**, with or without a ``0x`` prefix, and may use ``_``
between digits::

    ffff800008001000   0xffff800008001000   0xffff_8000_0800_1000

Nothing else is a value: no decimal, no ``0b``/``0o`` prefixes, no signs,
no whitespace inside, no digits outside ASCII (Python's ``int()`` accepts
``'١٢'``; pgwalk does not).  ``401000`` is ``0x401000``, as in a kernel log
or a ``%016x`` column, and never 401,000.  Every command-line address and
value goes through :func:`parse_value` (translate and its ``--batch``, ``at``
and its ``--batch`` lines and ``--hw-par``, ``dump-tree --range``, ``vtop``,
``ptov``, ``--reg``, ``--root``, ``-i PATH@BASE``, ``decode-esr``, ``decode``),
and so do the *strings* of register files; JSON and TOML *numbers* are numbers
(``{"TCR_EL1": 4096}`` is 4096, ``TCR_EL1 = 0x1000`` in TOML is 0x1000).
The vectorised batch parser (:func:`pgwalk.bulk.parse_address_text`) gives the
same answer as this function for every line or hands the text back to it.

This module imports nothing but :mod:`pgwalk.errors`: any layer may use it.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InputError

__all__ = ["parse_value", "MAX_VALUE"]

#: largest value (64 bits)
MAX_VALUE = (1 << 64) - 1

# ASCII only: [0-9A-Fa-f] (``re``'s \d would take other scripts' digits)
_HEX_RE = re.compile(r"(?:0[xX]_?)?[0-9A-Fa-f]+(?:_[0-9A-Fa-f]+)*")
_ASCII_SPACE = " \t\r\n\f\v"
#: longest token quoted back in an error message
_QUOTE = 40


def _quote(token: str) -> str:
    return repr(token if len(token) <= _QUOTE else token[:_QUOTE] + "…")


def parse_value(value: Any, what: str = "value", where: str | None = None) -> int:
    """The 64-bit integer a user means by ``value``.

    A string is hexadecimal (``0x`` optional, ``_`` between digits, surrounding ASCII
    whitespace ignored); an ``int`` (a JSON or TOML number) is taken as it is.

    >>> parse_value("401000"), parse_value("0xffff_8000_0000_0000")
    (4198400, 18446603336221196288)

    :param value: the token (``str``) or a number from a JSON/TOML file (``int``)
    :param what: what the value is, for the error message ("address", "value", ...)
    :param where: where it comes from ("line 7", "--far", "regs.json: TCR_EL1"), prefixed
        to the error message
    :raises InputError: ``"line 7: '12g4' is not a hexadecimal address"``, or a value
        wider than 64 bits
    """
    head = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{head}{value!r} is not a hexadecimal {what}")
    if isinstance(value, int):
        n = value
    else:
        text = value.strip(_ASCII_SPACE)
        if _HEX_RE.fullmatch(text) is None:
            raise InputError(f"{head}{_quote(value)} is not a hexadecimal {what}")
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        n = int(text.replace("_", ""), 16)
    if n < 0 or n > MAX_VALUE:
        raise InputError(f"{head}{_quote(str(value))} does not fit in 64 bits")
    return n
