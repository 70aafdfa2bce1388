"""Register files and register values.

A register file is JSON or TOML mapping architectural register names
(case-insensitive) to numbers or strings.  A number is a number (JSON numbers
are decimal, TOML's ``0x...`` literals hex); a string is hexadecimal like every
value pgwalk reads (``"0x..."`` or bare hex, ``_`` separators allowed: ``"1000"``
is 0x1000, see :mod:`pgwalk.values`)::

    {"TCR_EL1": "0x00000032b5193519", "TTBR1_EL1": "0x41858000",
     "MAIR_EL1": "0x40044ffff", "SCTLR_EL1": "0x1", "ID_AA64MMFR0_EL1": "0x32310201126"}

Keys starting with ``_`` are comments.  A file whose object holds a
``"selected"`` or ``"registers"`` object (as the oracle's ``regs.json`` and
gdb-style dumps do) is read from that object.  ``null`` values are skipped.
Unknown names are an error that lists close matches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

from .errors import InputError, RegisterError
from .values import parse_value

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing and pathlib are not imported at run time: start-up)
    from pathlib import Path
    from typing import Any

__all__ = ["KNOWN_REGISTERS", "ALIASES", "WIDE_REGISTERS", "parse_int", "parse_register_value", "canonical_name",
           "load_register_file",
           "registers_from_mapping", "parse_reg_assignment", "shortcut_registers", "LINUX_MAIR"]

_MMU = [
    "TCR_EL1", "TCR_EL2", "TCR_EL3", "TCR2_EL1", "TCR2_EL2", "VTCR_EL2", "VSTCR_EL2",
    "TTBR0_EL1", "TTBR1_EL1", "TTBR0_EL2", "TTBR1_EL2", "TTBR0_EL3", "VTTBR_EL2", "VSTTBR_EL2",
    "SCTLR_EL1", "SCTLR_EL2", "SCTLR_EL3", "HCR_EL2", "SCR_EL3", "MAIR_EL1", "MAIR_EL2", "MAIR_EL3",
    "MAIR2_EL1", "MAIR2_EL2", "MAIR2_EL3", "AMAIR_EL1", "AMAIR_EL2", "PIR_EL1", "PIRE0_EL1", "PIR_EL2", "PIRE0_EL2",
    "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "ID_AA64MMFR3_EL1", "ID_AA64MMFR4_EL1",
    "ID_AA64PFR0_EL1", "ID_AA64PFR1_EL1", "ID_AA64ISAR0_EL1", "ID_AA64ISAR1_EL1", "ID_AA64ISAR2_EL1",
    "MIDR_EL1", "MPIDR_EL1", "REVIDR_EL1", "HCRX_EL2", "SCTLR2_EL1", "SCTLR2_EL2", "PIR_EL3",
    "POR_EL0", "POR_EL1", "POR_EL2", "POR_EL3", "S2PIR_EL2", "S2POR_EL1",
    "ESR_EL1", "ESR_EL2", "ESR_EL3", "FAR_EL1", "FAR_EL2", "FAR_EL3", "HPFAR_EL2", "PAR_EL1",
    "ELR_EL1", "ELR_EL2", "ELR_EL3", "SPSR_EL1", "SPSR_EL2", "SPSR_EL3", "VBAR_EL1", "VBAR_EL2",
    "VBAR_EL3", "CONTEXTIDR_EL1", "CONTEXTIDR_EL2", "TPIDR_EL0", "TPIDR_EL1", "TPIDR_EL2",
    "TPIDRRO_EL0", "SP_EL0", "SP_EL1", "SP_EL2", "CPACR_EL1", "CPTR_EL2", "CPTR_EL3", "MDSCR_EL1",
    "AFSR0_EL1", "AFSR1_EL1", "DISR_EL1", "VSESR_EL2", "VMPIDR_EL2", "VPIDR_EL2", "CNTVOFF_EL2",
    "PSTATE", "CURRENTEL", "PC", "SP", "FPSR", "FPCR", "NZCV", "DAIF", "PAN", "UAO",
]
#: Every register name a register file may use
KNOWN_REGISTERS = frozenset(_MMU + [f"X{n}" for n in range(31)] + ["LR", "FP"])
#: Other spellings (gdb, crash dumps) -> architectural name
ALIASES = {"SCTLR": "SCTLR_EL1", "VBAR": "VBAR_EL1", "CPSR": "PSTATE", "TTBR0": "TTBR0_EL1",
           "TTBR1": "TTBR1_EL1", "TCR": "TCR_EL1", "MAIR": "MAIR_EL1", "ESR": "ESR_EL1",
           "FAR": "FAR_EL1", "PAR": "PAR_EL1", "X30": "X30", "X29": "X29"}

#: largest register file read (a /dev/zero or a dump given by mistake is refused, not read whole)
REGISTER_FILE_LIMIT = 16 << 20

#: Linux's MAIR_EL1: Normal, Normal-Tagged, Normal-NC, Device-nGnRnE, Device-nGnRE
LINUX_MAIR = 0x000000040044FFFF


def parse_int(value: Any, what: str = "value") -> int:
    """A register value: a JSON/TOML number as it is, a string as :func:`pgwalk.values.parse_value`
    reads it (hexadecimal, ``0x`` optional, ``_`` separators).

    >>> parse_int("0xffff_8000_0000_0000"), parse_int("1000"), parse_int(1000)
    (18446603336221196288, 4096, 1000)

    :param what: where the value comes from, prefixed to the error message
    :raises InputError: when it is not a hexadecimal number or does not fit in 64 bits
    """
    return parse_value(value, "value", where=what)


#: Registers that are 128 bits wide with FEAT_D128 (the TTBRs of the regimes VMSAv9-128 serves, VTTBR_EL2
#: and PAR_EL1): their values may be up to 128 bits (the TTBR's BADDR[55:48] is in bits [87:80])
WIDE_REGISTERS = frozenset({"TTBR0_EL1", "TTBR1_EL1", "TTBR0_EL2", "TTBR1_EL2", "VTTBR_EL2", "PAR_EL1"})


def parse_register_value(name: str, value: Any, what: str = "value") -> int:
    """The value of register ``name``: :func:`parse_int`, up to 128 bits for :data:`WIDE_REGISTERS`
    (the same grammar; a string longer than 16 hex digits is read as its high and low halves).

    >>> hex(parse_register_value("TTBR0_EL1", "0xab_0000_0000_4000_0000"))
    '0xab0000000040000000'

    :raises InputError: as :func:`parse_int` (64 bits, 128 for a wide register)
    """
    if name not in WIDE_REGISTERS:
        return parse_int(value, what)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 1 << 128:
            return value
        raise InputError(f"{what}: {value} does not fit in 128 bits")
    if isinstance(value, str):
        text = value.strip()
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        bare = digits.replace("_", "")
        if len(bare) > 16 and not digits.startswith("_") and not digits.endswith("_") and "__" not in digits:
            if len(bare) > 32:
                raise InputError(f"{what}: {value!r} does not fit in 128 bits")
            return (parse_int(bare[:-16], what) << 64) | parse_int(bare[-16:], what)
    return parse_int(value, what)


def canonical_name(name: str) -> str:
    """The architectural spelling of a register name.

    :raises RegisterError: for an unknown name, listing close matches
    """
    upper = name.strip().upper()
    upper = ALIASES.get(upper, upper)
    if upper in KNOWN_REGISTERS:
        return upper
    import difflib                  # (only for this error: 1-2 ms of every start otherwise)

    close = difflib.get_close_matches(upper, sorted(KNOWN_REGISTERS), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise RegisterError(f"unknown register {name!r}{hint}")


def _from_mapping(data: Mapping[str, Any], source: str) -> dict[str, int]:
    for key in ("selected", "registers"):
        inner = data.get(key)
        if isinstance(inner, Mapping):
            data = inner
            break
    regs: dict[str, int] = {}
    for key, value in data.items():
        if not isinstance(key, str) or key.startswith("_") or value is None:
            continue
        if isinstance(value, Mapping):
            continue  # nested decode tables (e.g. tcr_el1_fields) are not registers
        try:
            name = canonical_name(key)
        except RegisterError as exc:
            raise RegisterError(f"{source}: {exc}") from None
        if name in regs:
            raise RegisterError(f"{source}: register {name} is given twice")
        regs[name] = parse_register_value(name, value, f"{source}: {key}")
    return regs


def registers_from_mapping(data: Mapping[str, Any], source: str = "registers") -> dict[str, int]:
    """Registers from a mapping laid out as a register file is (names -> values; keys starting
    with ``_`` and nested tables skipped; a ``"selected"`` or ``"registers"`` table used if present).

    >>> registers_from_mapping({"_comment": "x", "tcr_el1": "0x10", "SCTLR": 1})
    {'TCR_EL1': 16, 'SCTLR_EL1': 1}

    :param source: named in error messages
    :raises RegisterError: an unknown register name, or a name given twice
    :raises InputError: a value that is not a hexadecimal number or does not fit in 64 bits
    """
    return _from_mapping(data, source)


def load_register_file(path: str | Path) -> dict[str, int]:
    """Read a JSON or TOML register file.

    :raises RegisterError: unreadable, malformed, or an unknown register name
    """
    from pgwalk.inputs import compression_of, os_error_text

    try:
        with open(path, "rb") as fh:                 # a register file is small: read a bounded amount
            raw = fh.read(REGISTER_FILE_LIMIT + 1)
    except (OSError, ValueError) as exc:     # ValueError: a NUL in the name
        raise RegisterError(os_error_text(str(path), exc)) from None
    if len(raw) > REGISTER_FILE_LIMIT:
        raise RegisterError(f"{path}: more than {REGISTER_FILE_LIMIT >> 20} MiB; not a register file")
    kind = compression_of(raw[:8])
    if kind is not None:
        raise RegisterError(f"{path}: {kind}-compressed, not a register file (JSON or TOML): decompress it first")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegisterError(f"{path}: not a register file (JSON or TOML): not UTF-8 text at byte {exc.start}") \
            from None
    stripped = text.lstrip()
    toml_name = os.path.splitext(os.fspath(path))[1].lower() == ".toml"
    fmt = "TOML" if toml_name or (stripped and not stripped.startswith(("{", "["))) else "JSON"
    if fmt == "TOML":
        try:
            import tomllib
        except ModuleNotFoundError:         # Python 3.10: the same parser, as the package tomli
            import tomli as tomllib         # (a dependency there: pyproject.toml)

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RegisterError(f"{path}: not valid TOML: {exc}") from None
        except RecursionError:
            raise RegisterError(f"{path}: not a register file ({fmt} nested too deeply)") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RegisterError(f"{path}: not valid JSON: {exc}") from None
        except RecursionError:
            raise RegisterError(f"{path}: not a register file ({fmt} nested too deeply)") from None
    if _nested_deeper(data, _MAX_NESTING):          # (what Python 3.13's JSON parser takes)
        raise RegisterError(f"{path}: not a register file ({fmt} nested too deeply)")
    if not isinstance(data, Mapping):
        raise RegisterError(f"{path}: expected an object mapping register names to values")
    return _from_mapping(data, str(path))


#: tables and arrays nested deeper than this in a register file are refused, on every Python: the
#: JSON and TOML parsers of Python 3.12 and older stop at about a thousand levels (RecursionError),
#: 3.13's JSON parser does not; a register file has two or three
_MAX_NESTING = 200


def _nested_deeper(data: Any, limit: int) -> bool:
    """Whether ``data`` (parsed JSON or TOML) nests tables or arrays more than ``limit`` deep
    (without recursion)."""
    stack = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, Mapping):
            items: Any = obj.values()
        elif isinstance(obj, list):
            items = obj
        else:
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in items)
    return False


def parse_reg_assignment(text: str) -> tuple[str, int]:
    """``"TCR_EL1=0x..."`` -> (name, value)."""
    if "=" not in text:
        raise RegisterError(f"--reg {text!r}: expected NAME=VALUE")
    name, value = text.split("=", 1)
    try:
        reg = canonical_name(name)
    except RegisterError as exc:
        raise RegisterError(f"--reg {text!r}: {exc}") from None
    return reg, parse_register_value(reg, value, f"--reg {name.strip()}")


_GRANULES = {"4k": 12, "16k": 14, "64k": 16}


def shortcut_registers(granule: str, va_bits: int, root: int, *, ttbr: Iterable[int] = (0, 1)) -> dict[str, int]:
    """Registers equivalent to "a table root, a granule and a VA size" (a kernel oops'
    ``pgdp=...`` line): TTBR0 and TTBR1 both on ``root``, Linux's MAIR, TBI on.

    :raises InputError: for an unknown granule or an impossible VA size
    """
    from .formats import registers as R

    g = _GRANULES.get(granule.lower().replace("kb", "k"))
    if g is None:
        raise InputError(f"--granule {granule!r}: expected 4k, 16k or 64k")
    if not 16 <= va_bits <= 52:
        raise InputError(f"--va-bits {va_bits}: expected 16..52")
    txsz = 64 - va_bits
    ds = int(va_bits > 48 and g != 16)
    tg0 = {v: k for k, v in R.TG0_GRANULE.items()}[g]
    tg1 = {v: k for k, v in R.TG1_GRANULE.items()}[g]
    tcr = R.TCR_EL1.encode(T0SZ=txsz, T1SZ=txsz, TG0=tg0, TG1=tg1, IPS=6, TBI0=1, TBI1=1,
                           SH0=3, SH1=3, IRGN0=1, ORGN0=1, IRGN1=1, ORGN1=1, DS=ds, AS=1)
    fmt52 = ds or (g == 16 and va_bits > 48)
    if fmt52:
        base = R.TTBR_52.encode(BADDR=(root >> 6) & R.TTBR_52["BADDR"].wmask, BADDR_51_48=(root >> 48) & 0xF)
    else:
        if root >> 48:
            raise InputError(f"--root {root:#x} needs a 52-bit configuration (--va-bits 52)")
        base = root
    regs = {"TCR_EL1": tcr, "MAIR_EL1": LINUX_MAIR, "SCTLR_EL1": R.SCTLR.encode(M=1)}
    for n in ttbr:
        regs[f"TTBR{n}_EL1"] = base
    return regs
