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

from .errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

    import numpy as np

__all__ = ["parse_value", "MAX_VALUE", "parse_address_text", "byte_windows", "void_dtype"]

#: largest value (64 bits)
MAX_VALUE = (1 << 64) - 1

#: a value's characters after its 0x: ASCII only (str.isdigit would take other scripts' digits)
_HEX_CHARS = frozenset("0123456789abcdefABCDEF_")
_ASCII_SPACE = " \t\r\n\f\v"
#: most hex digits of a 64-bit value
_HEX_DIGITS = 16
#: longest token quoted back in an error message
_QUOTE = 40


def _quote(token: str) -> str:
    return repr(token if len(token) <= _QUOTE else token[:_QUOTE] + "…")


def _hex_digits(text: str) -> str | None:
    """The digits of a hexadecimal token, ``_`` kept (``0x`` or ``0X`` first, then ``_``, both
    optional; ``_`` only between digits), or None if ``text`` is not one."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if digits is not text and digits[:1] == "_":
        digits = digits[1:]
    if not digits or digits[0] == "_" or digits[-1] == "_" or "__" in digits or not _HEX_CHARS.issuperset(digits):
        return None
    return digits


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
        digits = _hex_digits(value.strip(_ASCII_SPACE))
        if digits is None:
            raise InputError(f"{head}{_quote(value)} is not a hexadecimal {what}")
        n = int(digits.replace("_", ""), 16)
    if n < 0 or n > MAX_VALUE:
        raise InputError(f"{head}{_quote(str(value))} does not fit in 64 bits")
    return n


#: bytes of whole lines parsed together by :func:`parse_address_text`
_PARSE_PIECE = 1 << 17


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
    # a piece of whole lines at a time: the temporaries stay small (and in cache); each line's
    # digits are read from the 16 bytes that end with it, so the first piece is read from a copy
    # with 16 bytes in front.  The values go to one array, sized from the first piece's lines
    # (grown if the guess was short: no copy of the pieces at the end)
    out = np.empty(0, dtype=np.uint64)
    work = _Work()
    pos = done = 0
    while pos < len(data):
        stop = data.rfind(b"\n", pos, pos + _PARSE_PIECE) + 1 or data.find(b"\n", pos) + 1
        if pos < _HEX_DIGITS:
            head = np.zeros(_HEX_DIGITS + stop - pos, dtype=np.uint8)
            head[_HEX_DIGITS:] = buf[pos:stop]
            got = _parse_lines(head, _HEX_DIGITS, work)
        else:
            got = _parse_lines(buf[:stop], pos, work)
        if got is None:
            return None
        if done + len(got) > len(out):
            guess = (len(data) - stop) * (done + len(got)) // stop + 1
            grown = np.empty(done + len(got) + guess + (guess >> 4), dtype=np.uint64)
            grown[:done] = out[:done]
            out = grown
        out[done:done + len(got)] = got
        done += len(got)
        pos = stop
    return out[:done] if done == len(out) or len(out) - done < done >> 3 else out[:done].copy()


class _Work:
    """The scratch arrays of :func:`parse_address_text`, reused from piece to piece: a piece's
    temporaries allocated afresh each time are pages the kernel maps in and the allocator gives
    back, piece after piece (about 20k page faults for 2M lines, a third of the parse)."""

    def __init__(self) -> None:
        self.bufs: dict[int, np.ndarray] = {}

    def array(self, k: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Scratch array ``k`` (its contents undefined), of this shape and dtype."""
        import math

        import numpy as np

        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize
        buf = self.bufs.get(k)
        if buf is None or len(buf) < nbytes:
            buf = self.bufs[k] = np.empty(nbytes, dtype=np.uint8)
        return buf[:nbytes].view(dt).reshape(shape)


def _parse_lines(buf: np.ndarray, start: int, work: _Work) -> np.ndarray | None:
    """:func:`parse_address_text` of the whole lines of ``buf[start:]`` (``buf`` ends with a
    newline; ``start`` is at least 16)."""
    import numpy as np

    text = _fixed_width_digits(buf[start:], work)
    got = None if text is None else _hex_values(text, work)
    if got is not None:                                          # (else "\r\n" lines, or bad ones)
        return got
    ends = np.flatnonzero(buf[start:] == ord("\n"))
    ends += start
    if ends[0] == start:
        return None                                             # a blank first line
    starts = np.empty_like(ends)
    starts[0] = start
    starts[1:] = ends[:-1] + 1
    ends -= buf[ends - 1] == ord("\r")
    # the optional "0x" of each line (a line of one character reads its newline as its second)
    second = buf[np.minimum(starts + 1, len(buf) - 1)]         # (an empty last line has none)
    prefixed = (buf[starts] == ord("0")) & ((second | 0x20) == ord("x"))
    nd = ends - starts - prefixed * 2                            # hex digits per line
    if int(nd.min()) < 1 or int(nd.max()) > _HEX_DIGITS:
        return None
    # the 16 bytes that end each line's digits, those before its digits made "0"
    text = byte_windows(buf, _HEX_DIGITS)[ends - _HEX_DIGITS].view(np.uint8).reshape(-1, _HEX_DIGITS)
    pad = _HEX_DIGITS - nd
    short = np.flatnonzero(pad)
    if 8 * len(short) > len(pad):  # many: a masked fill of every row (not a gather and scatter of theirs)
        np.copyto(text, np.uint8(ord("0")), where=np.arange(_HEX_DIGITS) < pad[:, None])
    elif len(short):
        lead = np.arange(_HEX_DIGITS) < pad[short][:, None]
        text[short] = np.where(lead, np.uint8(ord("0")), text[short])
    return _hex_values(text, work)


def _fixed_width_digits(piece: np.ndarray, work: _Work) -> np.ndarray | None:
    """The (lines, 16) digit matrix of whole lines that all have the first line's length, all
    with ``0x`` or all without, ``\n``-terminated (``%#x`` of values of one digit count, or
    ``%016x``), less leading ``0`` digits; else ``None`` (read line by line)."""
    import numpy as np

    width = int(np.argmax(piece[:_HEX_DIGITS + 4] == ord("\n"))) + 1
    if width < 2 or len(piece) % width or piece[width - 1] != ord("\n"):
        return None
    rows = piece.reshape(-1, width)
    if not (rows[:, -1] == ord("\n")).all():
        return None
    prefixed = (rows[:, 0] == ord("0")) & ((rows[:, 1] | 0x20) == ord("x")) if width > 2 else rows[:, 0] < 0
    skip = 2 if prefixed[0] else 0
    if prefixed.any() != prefixed.all():
        return None
    nd = width - 1 - skip
    if not 1 <= nd <= _HEX_DIGITS:
        return None
    if nd == _HEX_DIGITS:
        # each row's digits as one 16-byte item: a contiguous copy, on which the arithmetic of
        # _hex_values runs twice as fast as on the strided columns
        text = work.array(0, (len(rows),), void_dtype(_HEX_DIGITS))
        text[...] = byte_windows(piece, _HEX_DIGITS)[skip::width][:len(rows)]
        return text.view(np.uint8).reshape(-1, _HEX_DIGITS)
    text = work.array(0, (len(rows), _HEX_DIGITS), np.uint8)
    text[:, :_HEX_DIGITS - nd] = ord("0")
    text[:, _HEX_DIGITS - nd:] = rows[:, skip:width - 1]
    return text


def _hex_values(text: np.ndarray, work: _Work) -> np.ndarray | None:
    """The values of a (lines, 16) matrix of hex digit characters, or ``None`` if any is not
    an ASCII hex digit (the temporaries in ``work``'s arrays 1 to 4)."""
    import numpy as np

    shape = text.shape
    # digits: '0'-'9' less '0' is 0..9; letters: 'a'-'f' (or 'A'-'F' | 0x20) less 'a' is 0..5
    digit = np.subtract(text, np.uint8(ord("0")), out=work.array(1, shape, np.uint8))   # (uint8: the others wrap)
    letter = np.bitwise_or(text, np.uint8(0x20), out=work.array(2, shape, np.uint8))
    letter -= np.uint8(ord("a"))
    ok = np.less(digit, 10, out=work.array(3, shape, bool))
    ok |= np.less(letter, 6, out=work.array(4, shape, bool))
    if not ok.all():
        return None
    letter += np.uint8(10)
    nib = np.minimum(digit, letter, out=digit)                   # a digit's value, the other is larger
    # two nibbles (little-endian uint16: the first, high nibble, in the low byte) -> one byte
    pairs = nib.view("<u2")
    low = np.right_shift(pairs, 8, out=letter.view("<u2"))
    pairs <<= 4
    pairs |= low
    return pairs.astype(np.uint8).view(">u8").ravel()
