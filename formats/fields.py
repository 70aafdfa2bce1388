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
from collections.abc import Iterable, Iterator, Mapping

from pgwalk.records import field, record

__all__ = ["Field", "Layout"]


@record(frozen=True, slots=True, compiled_init=True)
class Field:
    """One bit field ``name[msb:lsb]`` of a 64-bit value."""

    name: str
    msb: int
    lsb: int
    doc: str = ""
    values: Mapping[int, str] | None = None
    #: mask of the field's width, not shifted (derived)
    wmask: int = field(init=False, repr=False, compare=False)
    #: mask of the field in place (derived)
    mask: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wmask = (1 << (self.msb - self.lsb + 1)) - 1
        object.__setattr__(self, "wmask", wmask)
        object.__setattr__(self, "mask", wmask << self.lsb)

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


@record(frozen=True, compiled_init=True)
class Layout:
    """A named set of fields of one 64-bit register or descriptor."""

    name: str
    fields: tuple[Field, ...]
    width: int = 64
    doc: str = ""
    _by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        used = 0
        for f in self.fields:
            if f.msb < f.lsb or f.msb >= self.width:
                raise ValueError(f"{self.name}.{f.name}: bad bit range {f.msb}:{f.lsb}")
            if used & f.mask:
                raise ValueError(f"{self.name}.{f.name}: overlaps another field")
            used |= f.mask
            self._by_name[f.name] = f

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
