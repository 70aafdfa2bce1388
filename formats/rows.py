"""C structures stated once, as rows of fields, and read two ways (:class:`RowLayout`).

The ELF headers (:mod:`pgwalk.formats.elf`) and makedumpfile's structures
(:mod:`pgwalk.formats.kdump`) are declared as rows ``(name, code)``; the readers parse them
with the ``struct`` module, so that opening a dump never imports construct, and construct's
``Struct`` of the same rows builds them (writing dumps, the tests, which hold the two readings
of each layout to each other).
"""

from __future__ import annotations

import struct
from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import construct as c

__all__ = ["RowLayout"]


class RowLayout:
    """A C structure stated once, as rows ``(name, code)``, for one byte order.

    ``code`` is a ``struct`` module code: ``B``, ``h``, ``H``, ``i``, ``I``, ``q``, ``Q``; ``Ns``,
    N bytes; ``Nq`` (any integer code), an array of N; ``Nx``, N bytes of padding (its name None);
    or a tuple of rows, a nested structure.  A row ``(name, "Ns", value)`` is a constant, such as
    a magic number: read as any bytes, built (and checked by construct) as ``value``.

    :meth:`parse` reads the structure with the ``struct`` module into a namespace (a nested
    structure a namespace, an array a list; padding left out): opening a dump never imports
    construct.  :meth:`build` writes it with :attr:`construct`, construct's ``Struct`` of the
    same rows, made on first use (writing dumps, the tests); the tests hold the two readings of
    the rows to each other.
    """

    def __init__(self, rows: tuple, little_endian: bool) -> None:
        self.rows = rows
        self.little_endian = little_endian
        self._struct = struct.Struct(("<" if little_endian else ">") + _struct_codes(rows))
        self._construct: c.Construct | None = None

    def sizeof(self) -> int:
        return self._struct.size

    def parse(self, data: bytes) -> SimpleNamespace:
        """The structure at the start of ``data``.

        :raises ValueError: ``data`` is shorter than :meth:`sizeof`
        """
        if len(data) < self._struct.size:
            raise ValueError(f"need {self._struct.size} bytes, got {len(data)}")
        return _namespace(self.rows, iter(self._struct.unpack_from(data)))

    @property
    def construct(self) -> c.Construct:
        if self._construct is None:
            self._construct = _construct_struct(self.rows, self.little_endian)
        return self._construct

    def build(self, values: dict[str, Any]) -> bytes:
        """The bytes of the structure with these field values (nested structures as dicts)."""
        return self.construct.build(values)


def _struct_codes(rows: tuple) -> str:
    return "".join(_struct_codes(code) if isinstance(code, tuple) else code for _name, code, *_c in rows)


def _namespace(rows: tuple, values: Any) -> SimpleNamespace:
    out = {}
    for name, code, *_const in rows:
        if isinstance(code, tuple):
            out[name] = _namespace(code, values)
        elif code[-1] == "x":
            continue
        elif code[-1] != "s" and len(code) > 1:
            out[name] = [next(values) for _ in range(int(code[:-1]))]
        else:
            out[name] = next(values)
    return SimpleNamespace(**out)


def _construct_struct(rows: tuple, little_endian: bool) -> c.Construct:
    import construct as c

    ints = {"B": (c.Int8ul, c.Int8ub), "h": (c.Int16sl, c.Int16sb), "H": (c.Int16ul, c.Int16ub),
            "i": (c.Int32sl, c.Int32sb), "I": (c.Int32ul, c.Int32ub), "q": (c.Int64sl, c.Int64sb),
            "Q": (c.Int64ul, c.Int64ub)}
    fields = []
    for name, code, *const in rows:
        if isinstance(code, tuple):
            fields.append(name / _construct_struct(code, little_endian))
            continue
        count, kind = int(code[:-1] or 1), code[-1]
        if kind == "x":
            fields.append(c.Padding(count))
        elif kind == "s":
            fields.append(name / (c.Const(const[0]) if const else c.Bytes(count)))
        else:
            one = ints[kind][0 if little_endian else 1]
            fields.append(name / (one if len(code) == 1 else c.Array(count, one)))
    return c.Struct(*fields)
