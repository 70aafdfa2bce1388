"""Symbols as addresses: ``swapper_pg_dir``, ``_stext``, ``init_uts_ns+0x10``.

The names and values come from a crash dump's VMCOREINFO (``SYMBOL(name)=...``
lines, :mod:`pgwalk.vmcoreinfo`); no other symbol table is read.  An address
argument is a number (hex ``0x...``, decimal, bare hex) or ``SYMBOL``,
``SYMBOL+OFFSET`` or ``SYMBOL-OFFSET``.
"""

from __future__ import annotations

import re

from .errors import InputError, PgwalkError
from .memory_protocol import capability

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Mapping

__all__ = ["parse_symbolic", "symbols_from_memory"]

_SYMBOLIC = re.compile(r"^\s*(?P<name>[A-Za-z_.$][\w.$]*)\s*(?:(?P<sign>[+-])\s*(?P<off>\S+))?\s*$")


def symbols_from_memory(mem: Any) -> dict[str, int]:
    """The VMCOREINFO symbols of the first dump in ``mem`` that carries them ({} if none)."""
    for core in capability(mem, "elf_cores") or ():
        text = core.vmcoreinfo
        if text:
            from .vmcoreinfo import parse_vmcoreinfo

            try:
                return dict(parse_vmcoreinfo(text).symbols)
            except PgwalkError:
                return {}
    return {}


def parse_symbolic(text: str, symbols: Mapping[str, int], what: str = "address", where: str | None = None) -> int:
    """A value (:func:`pgwalk.values.parse_value`: hexadecimal), or ``SYMBOL[+-OFFSET]``
    resolved through ``symbols`` (the offset is a value too: ``+10`` is 0x10).

    >>> hex(parse_symbolic("swapper_pg_dir+0x10", {"swapper_pg_dir": 0xffff800009a58000}))
    '0xffff800009a58010'

    :raises InputError: not a value and not a known symbol (close names are suggested)
    """
    from .values import parse_value

    head = f"{where}: " if where else ""
    m = _SYMBOLIC.match(text) if isinstance(text, str) else None
    known = m is not None and m.group("name") in symbols     # a known name wins over hex ("add")
    if not known:
        try:
            return parse_value(text, what, where)
        except InputError:
            if m is None or not symbols:
                raise
        name = m.group("name")
        import difflib              # (only for this error)

        close = difflib.get_close_matches(name, list(symbols), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else " (pgwalk info --symbols lists them)"
        raise InputError(f"{head}{text!r} is not a hexadecimal {what} nor a symbol of the dump's "
                         f"VMCOREINFO{hint}") from None
    value = symbols[m.group("name")]
    if m.group("sign"):
        off = parse_value(m.group("off"), "offset", where)
        value = value + off if m.group("sign") == "+" else value - off
        if not 0 <= value < 1 << 64:
            raise InputError(f"{head}{text!r} is outside the 64-bit address space")
    return value
