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
The vectorised batch parser (:func:`parse_address_text`) gives the same answer as
this function for every line or hands the text back to it.

This module imports nothing but :mod:`pgwalk.errors` (and numpy, only inside
:func:`parse_address_text`): any layer may use it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["parse_value", "MAX_VALUE", "parse_address_text", "byte_windows", "void_dtype"]

#: largest value (64 bits)
MAX_VALUE = (1 << 64) - 1

# ASCII only: [0-9A-Fa-f] (``re``'s \d would take other scripts' digits)
_HEX_RE = re.compile(r"(?:0[xX]_?)?[0-9A-Fa-f]+(?:_[0-9A-Fa-f]+)*")
_ASCII_SPACE = " \t\r\n\f\v"
#: most hex digits of a 64-bit value
_HEX_DIGITS = 16
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


#: bytes of whole lines parsed together by :func:`parse_address_text`
_PARSE_PIECE = 1 << 17


def _hex_nibbles(text: np.ndarray) -> np.ndarray | None:
    """The values of hex digit characters (uint8 array), or ``None`` if any is not a hex digit."""
    import numpy as np

    letter = (text | 0x20) - np.uint8(ord("a"))                # 0..5 for a-f / A-F (uint8 wraps)
    digit = text - np.uint8(ord("0"))                          # 0..9 for 0-9
    if not np.logical_or(digit < 10, letter < 6).all():
        return None
    # '0'-'9' are 0x30-0x39 and 'a'-'f' / 'A'-'F' are 0x61-0x66 / 0x41-0x46
    nib = text & np.uint8(0x0F)
    nib += (text >> 6) * np.uint8(9)
    return nib


def byte_windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of ``buf`` as one void scalar (window ``i`` starts at byte ``i``):
    gathering rows from it copies each row with one ``memcpy`` (unlike a 2-D uint8 view).  Used by
    the batch parser here and the bulk line formatter (:mod:`pgwalk.lines`)."""
    import numpy as np

    return np.ndarray(shape=(max(0, len(buf) - width + 1),), dtype=void_dtype(width), buffer=buf, strides=(1,))


@functools.lru_cache(maxsize=None)
def void_dtype(width: int) -> np.dtype:
    """The numpy dtype of ``width`` opaque bytes."""
    import numpy as np

    return np.dtype((np.void, width))


def parse_address_text(data: bytes) -> np.ndarray | None:
    """Addresses of a batch file whose every line is 1-16 hex digits, each with or without
    ``0x`` (:func:`parse_value`'s grammar, the common machine-made case), vectorised.

    Returns ``None`` for anything else (comments, blank lines, spaces, underscores, leading
    zeros past 16 digits, a character that is not an ASCII hex digit): the caller then parses
    line by line with :func:`parse_value`, with line numbers in its errors.  Where
    this returns an array, ``parse_value`` gives the same value for every line.
    """
    if not data:
        return None
    import numpy as np

    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    # a piece of whole lines at a time: the temporaries stay small (and in cache)
    pieces = []
    pos = 0
    while pos < len(data):
        stop = data.rfind(b"\n", pos, pos + _PARSE_PIECE) + 1 or data.find(b"\n", pos) + 1
        got = _parse_lines(buf[pos:stop])
        if got is None:
            return None
        pieces.append(got)
        pos = stop
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _parse_lines(buf: np.ndarray) -> np.ndarray | None:
    """:func:`parse_address_text` of whole lines (``buf`` ends with a newline)."""
    import numpy as np

    ends = np.flatnonzero(buf == ord("\n"))
    if ends[0] == 0:
        return None                                             # a blank first line
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    ends -= buf[ends - 1] == ord("\r")
    # the optional "0x" of each line (a line of one character reads its newline as its second)
    second = buf[np.minimum(starts + 1, len(buf) - 1)]         # (an empty last line has none)
    prefixed = (buf[starts] == ord("0")) & ((second | 0x20) == ord("x"))
    starts += prefixed * 2
    nd = ends - starts                                           # hex digits per line
    lo, hi = int(nd.min()), int(nd.max())
    if lo < 1 or hi > _HEX_DIGITS:
        return None
    out = np.empty(len(ends), dtype=np.uint64)
    for width in ([lo] if lo == hi else np.flatnonzero(np.bincount(nd)).tolist()):
        rows: slice | np.ndarray = slice(None) if lo == hi else np.flatnonzero(nd == width)
        # the digits of those lines as a contiguous (lines, width) matrix
        nib = _hex_nibbles(byte_windows(buf, width)[starts[rows]].view(np.uint8).reshape(-1, width))
        if nib is None:
            return None
        if width % 2:
            nib = np.concatenate([np.zeros((len(nib), 1), dtype=np.uint8), nib], axis=1)
        # two nibbles (little-endian uint16: the first, high nibble, in the low byte) -> one byte
        pairs = nib.view("<u2")
        full = np.zeros((len(nib), 8), dtype=np.uint8)          # big-endian bytes
        full[:, 8 - pairs.shape[1]:] = (pairs << 4) | (pairs >> 8)
        out[rows] = full.view(">u8").ravel()
    return out
