"""Symbols as addresses: ``swapper_pg_dir``, ``_stext``, ``init_uts_ns+0x10``.

The names and values come from a crash dump's VMCOREINFO (``SYMBOL(name)=...``
lines, :mod:`pgwalk.vmcoreinfo`); no other symbol table is read.  An address
argument is a number (hex ``0x...``, decimal, bare hex) or ``SYMBOL``,
``SYMBOL+OFFSET`` or ``SYMBOL-OFFSET``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Mapping

from .errors import InputError, PgwalkError

__all__ = ["parse_symbolic", "symbols_from_memory"]

_SYMBOLIC = re.compile(r"^\s*(?P<name>[A-Za-z_.$][\w.$]*)\s*(?:(?P<sign>[+-])\s*(?P<off>\S+))?\s*$")


def symbols_from_memory(mem: Any) -> dict[str, int]:
    """The VMCOREINFO symbols of the first dump in ``mem`` that carries them ({} if none)."""
    from .vmcoreinfo import parse_vmcoreinfo

    for core in getattr(mem, "elf_cores", ()) or ():
        text = getattr(core, "vmcoreinfo", None)
        if text:
            try:
                return dict(parse_vmcoreinfo(text).symbols)
            except PgwalkError:
                return {}
    return {}


def parse_symbolic(text: str, symbols: Mapping[str, int], what: str = "address") -> int:
    """A number, or ``SYMBOL[+-OFFSET]`` resolved through ``symbols``.

    >>> hex(parse_symbolic("swapper_pg_dir+0x10", {"swapper_pg_dir": 0xffff800009a58000}))
    '0xffff800009a58010'

    :raises InputError: not a number and not a known symbol (close names are suggested)
    """
    from .regs import parse_int

    m = _SYMBOLIC.match(text)
    known = m is not None and m.group("name") in symbols       # a known name wins over bare hex ("add")
    if not known:
        try:
            return parse_int(text, what)
        except InputError as exc:
            number_error = exc
    if m is None or (not known and m.group("name").lower().startswith("0x") and m.group("sign") is None):
        raise number_error
    name = m.group("name")
    if name not in symbols:
        if not symbols:
            raise InputError(f"{what}: {text!r} is not a number, nor a symbol pgwalk knows "
                             "(symbols come from a crash dump's VMCOREINFO)") from None
        close = difflib.get_close_matches(name, list(symbols), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else f" (known: {len(symbols)}, see pgwalk info --symbols)"
        raise InputError(f"{what}: unknown symbol {name!r}{hint}") from None
    value = symbols[name]
    if m.group("sign"):
        off = parse_int(m.group("off"), f"{what}: offset")
        value = value + off if m.group("sign") == "+" else value - off
        if not 0 <= value < 1 << 64:
            raise InputError(f"{what}: {text!r} is outside the 64-bit address space")
    return value
