"""Declarative bit-field layouts, in the manner of Linux ``arch/arm64/tools/sysreg``.

Every register and descriptor layout pgwalk knows is declared once, as a
:class:`Layout` of :class:`Field` rows (name, msb, lsb), with the Arm ARM
field names (DDI 0487 M.a.a).  From that one table two forms are derived:

* integer shift/mask access (:meth:`Field.get`, :attr:`Field.mask`) for the
  hot paths and numpy, and
* a construct ``ByteSwapped(BitStruct(...))`` (:meth:`Layout.construct`) for
  building and showing single values.

No policy lives here: which fields apply under which configuration is
decided in :mod:`pgwalk`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Iterable, Iterator, Mapping

__all__ = ["Field", "Layout"]


class _Record:
    """What a frozen dataclass gives :class:`Field` and :class:`Layout`, without its cost: no
    attribute set or deleted after ``__init__`` (which sets them past ``__setattr__``),
    and equality, hash and repr by the attributes named in ``_FIELDS``, in order.

    Not a frozen dataclass: this module is imported by every pgwalk command, and a frozen
    dataclass's six methods are compiled from generated source each time a process defines it
    (about 1 ms here, as much as making all the layouts' fields)."""

    __slots__ = ()
    _FIELDS: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._FIELDS)})"


class Field(_Record):
    """One bit field ``name[msb:lsb]`` of a 64-bit value (immutable: :class:`_Record`; equal,
    hashed and shown by ``(name, msb, lsb, doc, values)``)."""

    __slots__ = ("name", "msb", "lsb", "doc", "values", "wmask", "mask")
    _FIELDS = ("name", "msb", "lsb", "doc", "values")

    name: str
    msb: int
    lsb: int
    doc: str
    values: Mapping[int, str] | None
    #: mask of the field's width, not shifted (derived)
    wmask: int
    #: mask of the field in place (derived)
    mask: int

    def __init__(self, name: str, msb: int, lsb: int, doc: str = "", values: Mapping[int, str] | None = None) -> None:
        wmask = (1 << (msb - lsb + 1)) - 1
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "msb", msb)
        setattr_(self, "lsb", lsb)
        setattr_(self, "doc", doc)
        setattr_(self, "values", values)
        setattr_(self, "wmask", wmask)
        setattr_(self, "mask", wmask << lsb)

    @property
    def width(self) -> int:
        return self.msb - self.lsb + 1

    def get(self, value: int) -> int:
        """Extract the field from ``value``."""
        return (value >> self.lsb) & self.wmask

    def put(self, value: int, field_value: int) -> int:
        """Return ``value`` with this field set to ``field_value``."""
        if field_value & ~self.wmask:
            raise ValueError(f"{self.name}: {field_value:#x} does not fit in {self.width} bits")
        return (value & ~self.mask) | (field_value << self.lsb)

    def meaning(self, field_value: int) -> str | None:
        if self.values is None:
            return None
        return self.values.get(field_value)

    @property
    def bits(self) -> str:
        return f"{self.msb}" if self.msb == self.lsb else f"{self.msb}:{self.lsb}"


class Layout(_Record):
    """A named set of fields of one 64-bit register or descriptor (immutable: :class:`_Record`;
    equal, hashed and shown by ``(name, fields, width, doc)``)."""

    _FIELDS = ("name", "fields", "width", "doc")

    name: str
    fields: tuple[Field, ...]
    width: int
    doc: str

    def __init__(self, name: str, fields: tuple[Field, ...], width: int = 64, doc: str = "") -> None:
        by_name: dict[str, Field] = {}
        used = 0
        for f in fields:
            if f.msb < f.lsb or f.msb >= width:
                raise ValueError(f"{name}.{f.name}: bad bit range {f.msb}:{f.lsb}")
            if used & f.mask:
                raise ValueError(f"{name}.{f.name}: overlaps another field")
            used |= f.mask
            by_name[f.name] = f
        d = self.__dict__
        d["name"], d["fields"], d["width"], d["doc"], d["_by_name"] = name, fields, width, doc, by_name

    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    @property
    def defined_mask(self) -> int:
        m = 0
        for f in self.fields:
            m |= f.mask
        return m

    def decode(self, value: int) -> dict[str, int]:
        """All fields of ``value`` as a name -> integer mapping."""
        return {f.name: f.get(value) for f in self.fields}

    def encode(self, **values: int) -> int:
        """Build a value from field values (unnamed fields are zero)."""
        v = 0
        for name, fv in values.items():
            v = self[name].put(v, fv)
        return v

    def undefined_bits(self, value: int) -> int:
        """Bits of ``value`` set outside every declared field."""
        return value & ~self.defined_mask & ((1 << self.width) - 1)

    @cached_property
    def construct(self):
        """A construct parser/builder for the little-endian 64-bit form.

        Bits are listed from the top down, as ``BitStruct`` reads them; the
        ``ByteSwapped`` wrapper makes the byte order little-endian.  Gaps
        become ``_rsvd_<msb>_<lsb>`` padding fields so nothing is lost.
        """
        import construct as c

        rows = []
        pos = self.width - 1
        for f in sorted(self.fields, key=lambda f: -f.msb):
            if f.msb < pos:
                rows.append(f"_rsvd_{pos}_{f.msb + 1}" / c.BitsInteger(pos - f.msb))
            rows.append(f.name / c.BitsInteger(f.width))
            pos = f.lsb - 1
        if pos >= 0:
            rows.append(f"_rsvd_{pos}_0" / c.BitsInteger(pos + 1))
        return c.ByteSwapped(c.BitStruct(*rows))


def fields(rows: Iterable[tuple]) -> tuple[Field, ...]:
    """Build a field tuple from ``(name, msb, lsb[, doc[, values]])`` rows."""
    return tuple(Field(*r) for r in rows)
