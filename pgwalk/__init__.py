"""pgwalk: AArch64 page-table forensics.

>>> import pgwalk
>>> with pgwalk.open(["samples/s1_4k_48bit.img@0x40000000"], regs="samples/s1_4k_48bit.regs.json") as t:
...     hex(t.translate(0xffff800000201234).pa)
'0x40201234'

:func:`open` returns a :class:`Target` (:mod:`pgwalk.target`): memory and
registers, with ``translate``, ``translate_many``, ``at``, ``tree``, ``read``,
``vtop``/``ptov`` and ``symbols``.  The layers underneath are usable on their
own: :mod:`pgwalk.memory` (images), :mod:`pgwalk.regs` (register files),
:mod:`pgwalk.params` (walk parameters), :mod:`pgwalk.walk` (the walker),
:mod:`pgwalk.bulk` (the vectorised walker), :mod:`pgwalk.at` (AT / PAR_EL1),
:mod:`pgwalk.tree` (whole trees), :mod:`pgwalk.linux` (Linux dumps).

``import pgwalk`` is cheap: the names below are imported on first use (numpy,
rich and click are never imported by it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__version__ = "0.1.0"

__all__ = ["open", "Target", "TranslateResult", "TreeWalk", "RegisterSet", "resolve_registers", "par_decode",
           "PgwalkError", "ImageError", "RegisterError", "InputError", "NotInImage", "UnknownRegister",
           "ReadError", "__version__"]

#: public name -> module that defines it (imported on first use)
_LAZY = {
    "open": "target", "Target": "target", "TranslateResult": "target", "TreeWalk": "target",
    "RegisterSet": "target", "resolve_registers": "target", "par_decode": "target",
    "PgwalkError": "errors", "ImageError": "errors", "RegisterError": "errors", "InputError": "errors",
    "NotInImage": "errors", "UnknownRegister": "errors", "ReadError": "errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pgwalk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
