"""Exception syndromes, field by field: ESR_ELx, FAR, HPFAR_EL2, PAR_EL1.

:func:`decode_esr` turns an ESR value into an :class:`EsrReport`: the
exception class, IL, ISS and ISS2, and every ISS/ISS2 field of that class
under its Arm ARM name (layouts in :mod:`pgwalk.formats.esr`).  Fields that
only mean something under a condition (the ISV = 1 group of a Data Abort,
SET outside external aborts, FnV outside DFSC 0b010000, ...) are reported
with ``valid = False`` and the reason, never decoded as if they applied.

Fault status codes come from :data:`pgwalk.faults.FSC_TABLE` (type, level,
the architectural meaning; level -1/-2 included).

:func:`linux_mem_abort_lines` renders the block the Linux kernel prints for
the same ESR (``Mem abort info:`` ...), in the format of a chosen kernel
version, so the output can be diffed against logs.  The strings of the
kernel's ``esr_class_str[]`` and ``fault_info[]`` tables are reproduced as
data, with the kernel versions that changed them.

This module imports nothing heavy (no numpy, no rich): ``pgwalk decode-esr``
must start fast.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping

from .errors import InputError
from .faults import FaultType, FscInfo, decode_fsc
from .formats import esr as F
from .formats.fields import Field, Layout
from .records import field, record

__all__ = [
    "parse_u64", "fsc_text", "fsc_disagreement", "EcInfo", "EC_TABLE", "ec_info", "FieldReport", "EsrReport", "decode_esr",
    "LinuxStyle", "linux_style", "linux_ec_name", "linux_fault_name", "linux_fault_name_variants",
    "linux_mem_abort_lines", "decode_far", "decode_hpfar", "decode_par", "mair_attr_meaning",
    "RegisterReport", "decode_register", "DECODABLE_REGISTERS", "brk_comment_meaning",
]

MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------- input values
def parse_u64(text: str | int, what: str = "value") -> int:
    """A register value as users paste it: :func:`pgwalk.values.parse_value`, the grammar of every
    pgwalk value (hexadecimal, ``0x`` optional, ``_`` separators: ``esr 96000045`` as kernel
    logs print it).

    :raises InputError: for anything else, or a value wider than 64 bits.
    """
    from .values import parse_value

    return parse_value(text, "value", where=what)


# --------------------------------------------------------------------------- exception classes
class EcInfo(namedtuple("EcInfo", "ec name kind els feature allocated",
                        defaults=(frozenset(), "", True))):
    """One exception class: architectural name and where it can be reported (a row of a table
    made at import: a NamedTuple, far cheaper to define than a frozen dataclass)."""

    # the fields' types: ec: int, name: str, kind: str (decoder key, see _ISS_DECODERS), els: frozenset (ESR_ELx
    # that can hold it: 1, 2, 3; empty for reserved), feature: str, allocated: bool
    __slots__ = ()

    @property
    def reserved(self) -> bool:
        return not self.allocated


_E1 = frozenset({1, 2})            # in ESR_EL1 and ESR_EL2
_E123 = frozenset({1, 2, 3})
_E2 = frozenset({2})
_E23 = frozenset({2, 3})
_E3 = frozenset({3})
_E12 = frozenset({1, 2})

# (ec, name, kind, els, feature) - ARM D24.2.45/46/47 EC tables
_EC_ROWS = [
    (0x00, "Unknown reason", "res0", _E123, ""),
    (0x01, "Trapped WFI, WFE, WFIT or WFET instruction", "wfx", _E123, ""),
    (0x03, "Trapped MCR or MRC access (coproc 0b1111, AArch32)", "mcr", _E123, "FEAT_AA32"),
    (0x04, "Trapped MCRR or MRRC access (coproc 0b1111, AArch32)", "mcrr", _E123, "FEAT_AA32"),
    (0x05, "Trapped MCR or MRC access (coproc 0b1110, AArch32)", "mcr", _E123, "FEAT_AA32"),
    (0x06, "Trapped LDC or STC access (AArch32)", "ldc", _E123, "FEAT_AA32"),
    (0x07, "Access to SME, SVE, Advanced SIMD or floating-point trapped (CPACR/CPTR FPEN, TFP)", "cv", _E123, ""),
    (0x08, "Trapped VMRS access from the ID group trap (AArch32)", "mcr", _E2, "FEAT_AA32"),
    (0x09, "Trapped pointer authentication instruction", "res0", _E123, "FEAT_PAuth"),
    (0x0A, "Trapped LD64B/ST64B*, TSB CSYNC or PSB CSYNC instruction", "other", _E123,
     "FEAT_LS64, FEAT_SPEv1p5 or FEAT_TRBEv1p1"),
    (0x0C, "Trapped MRRC access (coproc 0b1110, AArch32)", "mcrr", _E123, "FEAT_AA32"),
    (0x0D, "Branch Target Exception", "bti", _E123, "FEAT_BTI"),
    (0x0E, "Illegal Execution state", "res0", _E123, ""),
    (0x11, "SVC instruction execution in AArch32 state", "svc32", _E12, "FEAT_AA32"),
    (0x12, "HVC instruction execution in AArch32 state", "svc32", _E2, "FEAT_AA32"),
    (0x13, "SMC instruction execution in AArch32 state", "smc32", _E23, "FEAT_AA32"),
    (0x14, "Trapped MSRR, MRRS or 128-bit System instruction (AArch64)", "sys128", _E123,
     "FEAT_SYSREG128 or FEAT_SYSINSTR128"),
    (0x15, "SVC instruction execution in AArch64 state", "svc", _E12, ""),
    (0x16, "HVC instruction execution in AArch64 state", "svc", _E23, ""),
    (0x17, "SMC instruction execution in AArch64 state", "svc", _E23, ""),
    (0x18, "Trapped MSR, MRS or System instruction (AArch64)", "sys64", _E123, ""),
    (0x19, "Access to SVE functionality trapped (CPACR_EL1.ZEN, CPTR_EL2.ZEN/TZ, CPTR_EL3.EZ)", "res0", _E123,
     "FEAT_SVE"),
    (0x1A, "Trapped ERET, ERETAA or ERETAB instruction", "eret", _E12, "FEAT_FGT or FEAT_NV"),
    (0x1C, "PAC authentication failure (FPAC)", "fpac", _E123, "FEAT_FPAC"),
    (0x1D, "Access to SME functionality trapped", "sme", _E123, "FEAT_SME"),
    (0x1E, "Granule Protection Check exception", "gpc", _E3, "FEAT_RME"),
    (0x1F, "IMPLEMENTATION DEFINED exception to EL3", "impdef", _E3, ""),
    (0x20, "Instruction Abort from a lower Exception level", "iabt", _E123, ""),
    (0x21, "Instruction Abort taken without a change in Exception level", "iabt", _E123, ""),
    (0x22, "PC alignment fault", "res0", _E123, ""),
    (0x24, "Data Abort from a lower Exception level", "dabt", _E123, ""),
    (0x25, "Data Abort taken without a change in Exception level", "dabt", _E123, ""),
    (0x26, "SP alignment fault", "res0", _E123, ""),
    (0x27, "Memory Copy or Memory Set exception", "mops", _E123, "FEAT_MOPS"),
    (0x28, "Trapped floating-point exception from AArch32", "fpexc", _E12, "FEAT_AA32"),
    (0x2C, "Trapped floating-point exception from AArch64", "fpexc", _E123, ""),
    (0x2D, "GCS exception", "gcs", _E123, "FEAT_GCS"),
    (0x2F, "SError exception", "serror", _E123, ""),
    (0x30, "Breakpoint exception from a lower Exception level", "bkpt", _E12, ""),
    (0x31, "Breakpoint exception taken without a change in Exception level", "bkpt", _E12, ""),
    (0x32, "Software Step exception from a lower Exception level", "sstep", _E12, ""),
    (0x33, "Software Step exception taken without a change in Exception level", "sstep", _E12, ""),
    (0x34, "Watchpoint exception from a lower Exception level", "watch", _E12, ""),
    (0x35, "Watchpoint exception taken without a change in Exception level", "watch", _E12, ""),
    (0x38, "BKPT instruction execution in AArch32 state", "brk", _E12, "FEAT_AA32"),
    (0x3A, "Vector Catch exception from AArch32 state", "bkpt", _E2, "FEAT_AA32"),
    (0x3C, "BRK instruction execution in AArch64 state", "brk", _E123, ""),
    (0x3D, "Profiling exception", "profiling", _E123, "FEAT_EBEP, FEAT_SPE_EXC or FEAT_TRBE_EXC"),
]


def _build_ec_table() -> dict[int, EcInfo]:
    table = {ec: EcInfo(ec, name, kind, els, feat) for ec, name, kind, els, feat in _EC_ROWS}
    for ec in range(64):
        if ec not in table:
            why = "reserved for future synchronous exceptions" if ec <= 0x2C else \
                "reserved for future synchronous or asynchronous exceptions"
            if ec == 0x1B:
                why += " (older specifications: TSTART trap, FEAT_TME, since withdrawn)"
            table[ec] = EcInfo(ec, f"Reserved EC {ec:#04x} ({why})", "reserved", frozenset(), "", False)
    return table


#: every 6-bit EC value -> :class:`EcInfo`
EC_TABLE: dict[int, EcInfo] = _build_ec_table()


def ec_info(ec: int) -> EcInfo:
    return EC_TABLE[ec & 0x3F]


# --------------------------------------------------------------------------- Linux strings
# esr_class_str[] in arch/arm64/kernel/traps.c: (EC, string, first kernel version that has it)
_LINUX_EC = {
    0x00: ("Unknown/Uncategorized", (0, 0)), 0x01: ("WFI/WFE", (0, 0)),
    0x03: ("CP15 MCR/MRC", (0, 0)), 0x04: ("CP15 MCRR/MRRC", (0, 0)),
    0x05: ("CP14 MCR/MRC", (0, 0)), 0x06: ("CP14 LDC/STC", (0, 0)),
    0x07: ("ASIMD", (0, 0)), 0x08: ("CP10 MRC/VMRS", (0, 0)), 0x09: ("PAC", (5, 0)),
    0x0C: ("CP14 MCRR/MRRC", (0, 0)), 0x0D: ("BTI", (5, 8)), 0x0E: ("PSTATE.IL", (0, 0)),
    0x11: ("SVC (AArch32)", (0, 0)), 0x12: ("HVC (AArch32)", (0, 0)), 0x13: ("SMC (AArch32)", (0, 0)),
    0x15: ("SVC (AArch64)", (0, 0)), 0x16: ("HVC (AArch64)", (0, 0)), 0x17: ("SMC (AArch64)", (0, 0)),
    0x18: ("MSR/MRS (AArch64)", (0, 0)), 0x19: ("SVE", (4, 15)), 0x1A: ("ERET/ERETAA/ERETAB", (5, 0)),
    0x1C: ("FPAC", (5, 11)), 0x1D: ("SME", (5, 19)), 0x1F: ("EL3 IMP DEF", (0, 0)),
    0x20: ("IABT (lower EL)", (0, 0)), 0x21: ("IABT (current EL)", (0, 0)),
    0x22: ("PC Alignment", (0, 0)), 0x24: ("DABT (lower EL)", (0, 0)),
    0x25: ("DABT (current EL)", (0, 0)), 0x26: ("SP Alignment", (0, 0)), 0x27: ("MOPS", (6, 3)),
    0x28: ("FP (AArch32)", (0, 0)), 0x2C: ("FP (AArch64)", (0, 0)),
    0x2D: ("Guarded Control Stack", (6, 13)), 0x2F: ("SError", (0, 0)),
    0x30: ("Breakpoint (lower EL)", (0, 0)), 0x31: ("Breakpoint (current EL)", (0, 0)),
    0x32: ("Software Step (lower EL)", (0, 0)), 0x33: ("Software Step (current EL)", (0, 0)),
    0x34: ("Watchpoint (lower EL)", (0, 0)), 0x35: ("Watchpoint (current EL)", (0, 0)),
    0x38: ("BKPT (AArch32)", (0, 0)), 0x3A: ("Vector catch (AArch32)", (0, 0)),
    0x3C: ("BRK (AArch64)", (0, 0)),
}
LINUX_UNRECOGNIZED_EC = "UNRECOGNIZED EC"
_LATEST = (99, 0)


def linux_ec_name(ec: int, version: tuple[int, int] = _LATEST) -> str:
    """``esr_get_class_string()`` of a Linux kernel of ``version``."""
    row = _LINUX_EC.get(ec & 0x3F)
    if row is None or version < row[1]:
        return LINUX_UNRECOGNIZED_EC
    return row[0]


def _linux_fault_names(version: tuple[int, int]) -> list[str]:
    """``fault_info[].name`` of arch/arm64/mm/fault.c, by kernel version."""
    names = [f"unknown {i}" for i in range(64)]
    names[0] = "ttbr address size fault"
    for lvl in (1, 2, 3):
        names[lvl] = f"level {lvl} address size fault"
        names[0x08 + lvl] = f"level {lvl} access flag fault"
        names[0x0C + lvl] = f"level {lvl} permission fault"
    for lvl in range(4):
        names[0x04 + lvl] = f"level {lvl} translation fault"
        names[0x14 + lvl] = f"level {lvl} (translation table walk)"
        names[0x1C + lvl] = f"level {lvl} synchronous parity error (translation table walk)"
    names[0x10] = "synchronous external abort"
    if version >= (5, 10):
        names[0x11] = "synchronous tag check fault"
    names[0x18] = "synchronous parity or ECC error"
    names[0x21] = "alignment fault"
    names[0x30] = "TLB conflict abort"
    names[0x31] = "Unsupported atomic hardware update fault"
    names[0x34] = "implementation fault (lockdown abort)"
    names[0x35] = "implementation fault (unsupported exclusive)"
    names[0x3D] = "section domain fault"
    names[0x3E] = "page domain fault"
    if version >= (6, 9):                       # FEAT_LPA2 support
        names[0x08] = "level 0 access flag fault"
        names[0x0C] = "level 0 permission fault"
        names[0x13] = "level -1 (translation table walk)"
        names[0x1B] = "level -1 synchronous parity error (translation table walk)"
        names[0x29] = "level -1 address size fault"
        names[0x2B] = "level -1 translation fault"
    return names


# Names some kernels print that the version model above does not produce (patches for
# FEAT_D128 level -2 codes and for RME granule protection faults); accepted when reading logs.
_EXTRA_FAULT_NAMES = {
    0x12: ["level -2 (translation table walk)"],
    0x2A: ["level -2 translation fault"],
    0x2C: ["level -2 address size fault"],
    0x24: ["Granule Protection Fault at level 0"], 0x25: ["Granule Protection Fault at level 1"],
    0x26: ["Granule Protection Fault at level 2"], 0x27: ["Granule Protection Fault at level 3"],
    0x28: ["Granule Protection Fault not on table walk"],
}


def linux_fault_name(fsc: int, version: tuple[int, int] = _LATEST) -> str:
    """The name Linux prints after ``FSC = 0x..:`` for ``fsc``."""
    return _linux_fault_names(version)[fsc & 0x3F]


def linux_fault_name_variants(fsc: int) -> list[str]:
    """Every name some Linux version prints for ``fsc``."""
    out: list[str] = []
    for v in ((4, 16), (5, 10), (6, 9)):
        n = linux_fault_name(fsc, v)
        if n not in out:
            out.append(n)
    out += [n for n in _EXTRA_FAULT_NAMES.get(fsc & 0x3F, []) if n not in out]
    return out


# Linux fault_info names -> (type, level) they claim, for checking a log's decode (patterns,
# compiled by re on first use: decode-esr alone never needs them)
_LINUX_NAME_RE = [
    (r"^ttbr address size fault$", lambda m: (FaultType.ADDRESS_SIZE, 0)),
    (r"^level (-?\d) address size fault$", lambda m: (FaultType.ADDRESS_SIZE, int(m[1]))),
    (r"^level (-?\d) translation fault$", lambda m: (FaultType.TRANSLATION, int(m[1]))),
    (r"^level (-?\d) access flag fault$", lambda m: (FaultType.ACCESS_FLAG, int(m[1]))),
    (r"^level (-?\d) permission fault$", lambda m: (FaultType.PERMISSION, int(m[1]))),
    (r"^level (-?\d) \(translation table walk\)$",
     lambda m: (FaultType.SYNC_EXTERNAL_ON_WALK, int(m[1]))),
    (r"^level (-?\d) synchronous parity error \(translation table walk\)$",
     lambda m: (FaultType.SYNC_PARITY_ON_WALK, int(m[1]))),
    (r"^synchronous external abort$", lambda m: (FaultType.SYNC_EXTERNAL, None)),
    (r"^synchronous tag check fault$", lambda m: (FaultType.TAG_CHECK, None)),
    (r"^synchronous parity or ECC error$", lambda m: (FaultType.SYNC_PARITY, None)),
    (r"^alignment fault$", lambda m: (FaultType.ALIGNMENT, None)),
    (r"^TLB conflict abort$", lambda m: (FaultType.TLB_CONFLICT, None)),
    (r"^Unsupported atomic hardware update fault$", lambda m: (FaultType.HW_UPDATE, None)),
    (r"^implementation fault \(lockdown abort\)$", lambda m: (FaultType.LOCKDOWN, None)),
    (r"^implementation fault \(unsupported exclusive\)$", lambda m: (FaultType.EXCLUSIVE, None)),
    (r"^Granule Protection Fault at level (-?\d)$", lambda m: (FaultType.GPCF_ON_WALK, int(m[1]))),
    (r"^Granule Protection Fault not on table walk$", lambda m: (FaultType.GPCF, None)),
]


def linux_name_claim(name: str) -> tuple[FaultType, int | None] | None | str:
    """What a Linux fault name asserts: ``(type, level)``; ``"unknown"`` for
    ``unknown N``; the string ``"domain"`` for the AArch32 domain faults;
    ``None`` if the name is not one Linux uses."""
    import re

    name = name.strip()
    if re.fullmatch(r"unknown \d+", name):
        return "unknown"
    if name in ("section domain fault", "page domain fault"):
        return "domain"
    for rx, fn in _LINUX_NAME_RE:
        m = re.match(rx, name)
        if m:
            return fn(m)
    return None


def fsc_disagreement(fsc: int, linux_name: str) -> str | None:
    """Compare a kernel's name for ``fsc`` with the architecture (Arm ARM M.a.a).

    Returns a sentence when they disagree (the kernel names a different
    fault, or does not know an allocated code), else ``None``.
    """
    info = decode_fsc(fsc)
    claim = linux_name_claim(linux_name)
    if claim is None:
        return f"FSC {fsc:#04x}: the log calls it {linux_name!r}, not a name Linux uses; " \
               f"architecturally it is {_arch_fsc_text(info)}"
    if claim == "unknown":
        if info.type is not None:
            return f"FSC {fsc:#04x}: the kernel does not know this code ({linux_name!r}); " \
                   f"architecturally it is {_arch_fsc_text(info)}"
        return None
    if claim == "domain":
        return None if fsc in (0x3D, 0x3E) else f"FSC {fsc:#04x}: the log says {linux_name!r}"
    ftype, level = claim
    if info.type is ftype and info.level == level:
        return None
    return f"FSC {fsc:#04x}: the log says {linux_name!r}, but architecturally {fsc:#04x} is " \
           f"{_arch_fsc_text(info)}"


def fsc_text(info: FscInfo) -> str:
    """The FSC meaning as a phrase ("alignment fault", "level 1 translation fault", ...)."""
    if info.type is FaultType.ALIGNMENT:
        return "alignment fault"
    return info.description


def _arch_fsc_text(info: FscInfo) -> str:
    text = fsc_text(info)
    if info.feature:
        text += f" ({info.feature})"
    return text


# --------------------------------------------------------------------------- report objects
@record(slots=True, compiled_init=True)
class FieldReport:
    """One decoded field: where it is, its raw value, what it means, whether it applies."""

    name: str
    msb: int
    lsb: int
    value: int
    meaning: str = ""
    valid: bool = True
    note: str = ""
    group: str = "ISS"          # ESR, ISS, ISS2, FAR, HPFAR, PAR, or a register name

    @property
    def bits(self) -> str:
        return f"{self.msb}" if self.msb == self.lsb else f"{self.msb}:{self.lsb}"

    @property
    def width(self) -> int:
        return self.msb - self.lsb + 1

    def hex(self) -> str:
        digits = max(1, (self.width + 3) // 4)
        return f"{self.value:#0{digits + 2}x}"

    def to_json(self) -> dict:
        return {"name": self.name, "bits": self.bits, "msb": self.msb, "lsb": self.lsb,
                "value": self.value, "hex": self.hex(), "meaning": self.meaning,
                "valid": self.valid, "note": self.note, "group": self.group}


@record
class EsrReport:
    """Everything pgwalk knows about one ESR value."""

    value: int
    el: int | None
    ec: int
    il: int
    iss: int
    iss2: int
    info: EcInfo
    summary: str = ""
    details: list[FieldReport] = field(default_factory=list)
    fields: dict[str, int] = field(default_factory=dict)
    fault: FscInfo | None = None
    fault_stage: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    far: "AddressReport | None" = None
    hpfar: "AddressReport | None" = None
    par: "RegisterReport | None" = None
    far_applies: bool = False

    @property
    def register(self) -> str:
        return f"ESR_EL{self.el}" if self.el else "ESR_ELx"

    @property
    def ec_name(self) -> str:
        return self.info.name

    @property
    def linux_ec_name(self) -> str:
        return linux_ec_name(self.ec)

    @property
    def is_abort(self) -> bool:
        return self.info.kind in ("dabt", "iabt")

    def fault_json(self) -> dict | None:
        if self.fault is None:
            return None
        f = self.fault
        return {"fsc": f.fsc, "hex": f"{f.fsc:#04x}", "type": f.type.value if f.type else None,
                "level": f.level, "description": f.description, "feature": f.feature,
                "allocated": f.allocated, "stage": self.fault_stage,
                "linux_name": linux_fault_name(f.fsc)}

    def to_json(self) -> dict:
        return {
            "register": self.register,
            "value": self.value,
            "hex": f"{self.value:#018x}" if self.value >> 32 else f"{self.value:#010x}",
            "el": self.el,
            "ec": self.ec,
            "ec_name": self.ec_name,
            "ec_linux": self.linux_ec_name,
            "summary": self.summary,
            "fields": dict(self.fields),
            "details": [d.to_json() for d in self.details],
            "fault": self.fault_json(),
            "far": self.far.to_json() if self.far else None,
            "hpfar": self.hpfar.to_json() if self.hpfar else None,
            "par": self.par.to_json() if self.par else None,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- helpers
def _meaning(f: Field, value: int) -> str:
    m = f.meaning(value)
    if m is not None:
        return m
    if f.values is not None:
        return f"{f.doc}: reserved value" if f.doc else "reserved value"
    if f.width == 1 and f.doc:
        return f"{f.doc}: {'yes' if value else 'no'}"
    return f.doc


def _reg(n: int, sf: int = 1) -> str:
    if n == 31:
        return "XZR" if sf else "WZR"
    return f"{'X' if sf else 'W'}{n}"


def _is_sea(fsc: int) -> bool:
    """External abort codes: SEA not on a walk, SEA on a walk (any level)."""
    return fsc == 0x10 or fsc in (0x12, 0x13) or 0x14 <= fsc <= 0x17


def _ea_not_external(ea: int) -> str:
    """The EA bit of an abort that is not an External abort (the architecture makes it 0)."""
    return "0: always 0 for aborts other than External aborts" if ea == 0 else \
        "1: unexpected, EA is 0 for aborts other than External aborts"


def _is_external(fsc: int) -> bool:
    return _is_sea(fsc) or fsc in (0x18, 0x1B) or 0x1C <= fsc <= 0x1F


def _is_mmu_tap(fsc: int) -> bool:
    """Translation, Access flag or Permission fault (the LST condition)."""
    return 0x04 <= fsc <= 0x0F or fsc in (0x2A, 0x2B)


def _is_permission(fsc: int) -> bool:
    return 0x0C <= fsc <= 0x0F


class _Builder:
    """Collects FieldReports for one ESR."""

    def __init__(self, esr: int):
        self.esr = esr
        self.rows: list[FieldReport] = []
        self.flat: dict[str, int] = {}

    def add(self, f: Field, *, valid: bool = True, why: str = "", note: str = "", meaning: str | None = None,
            in_fields: bool = True, name: str | None = None, group: str | None = None) -> int:
        v = f.get(self.esr)
        if meaning is None:
            meaning = _meaning(f, v)
        if not valid:
            meaning = f"not valid: {why}" if why else "not valid"
        grp = group or ("ISS2" if f.lsb >= F.ISS2_SHIFT else "ISS")
        self.rows.append(FieldReport(name or f.name, f.msb, f.lsb, v, meaning, valid, note, grp))
        if in_fields:
            self.flat[name or f.name] = v
        return v

    def layout(self, layout: Layout, **kw) -> dict[str, int]:
        return {f.name: self.add(f, **kw) for f in layout}


# --------------------------------------------------------------------------- per-class ISS decoders
def _fsc_row(b: _Builder, f: Field, *, debug_only: bool = False) -> FscInfo:
    v = f.get(b.esr)
    info = decode_fsc(v)
    meaning = fsc_text(info) + (f" ({info.feature})" if info.feature else "")
    b.add(f, meaning=meaning)
    return info


def _dabt(b: _Builder, r: EsrReport) -> None:
    esr = b.esr
    L = F.ISS_DABT
    isv = L["ISV"].get(esr)
    dfsc = L["DFSC"].get(esr)
    b.add(L["ISV"], meaning="ISS[23:14] hold a valid instruction syndrome" if isv else
          "no valid instruction syndrome; ISS[23:14] hold the ISV = 0 fields")
    if isv:
        sf = F.ISS_DABT_ISV["SF"].get(esr)
        for f in sorted(F.ISS_DABT_ISV, key=lambda f: -f.msb):
            if f.name == "SRT":
                b.add(f, meaning=f"register {_reg(f.get(esr), sf)}")
            else:
                b.add(f)
        for f in sorted(F.ISS_DABT_NOISV, key=lambda f: -f.msb):
            b.add(f, valid=False, why="ISV = 1 (this bit holds the instruction syndrome)", in_fields=False)
    else:
        for f in sorted(F.ISS_DABT_ISV, key=lambda f: -f.msb):
            b.add(f, valid=False, why="ISV = 0", in_fields=False)
        for f in sorted(F.ISS_DABT_NOISV, key=lambda f: -f.msb):
            if f.name in ("WU", "PFV"):
                ok = _is_sea(dfsc)
                b.add(f, valid=ok, why="only for external aborts (DFSC 0b010000, 0b01001x, 0b0101xx)")
            elif f.name == "TopLevel":
                b.add(f, valid=_is_permission(dfsc), why="only for Permission faults")
            else:
                b.add(f)
    b.add(L["VNCR"], note="" if r.el in (None, 2) else "only set in ESR_EL2")

    # bits 12:11: LST for T/AF/P faults, SET for external aborts
    if _is_mmu_tap(dfsc):
        b.add(F.ISS_DABT_LST["LST"])
        b.add(F.ISS_DABT_SET["SET"], valid=False, why="bits [12:11] are LST for this DFSC")
    else:
        b.add(F.ISS_DABT_LST["LST"], valid=False, why="only for Translation, Access flag and Permission faults",
              in_fields=False)
        b.add(F.ISS_DABT_SET["SET"], valid=_is_sea(dfsc), why="only for synchronous External aborts (FEAT_RAS)")
    b.add(L["FnV"], valid=dfsc == 0x10, why="only meaningful for DFSC 0b010000 (RES0 otherwise)")
    b.add(L["EA"], meaning=None if _is_external(dfsc) else _ea_not_external(L["EA"].get(b.esr)))
    cm = b.add(L["CM"])
    s1ptw = b.add(L["S1PTW"])
    wnr_ok = dfsc not in (0x31, 0x35)
    wnr = b.add(L["WnR"], valid=wnr_ok, why="UNKNOWN for an unsupported atomic/exclusive access fault",
                note="always 1 for cache maintenance and AT instructions" if cm else "")
    info = _fsc_row(b, L["DFSC"])
    # ISS2
    lst = F.ISS_DABT_LST["LST"].get(esr)
    for f in sorted(F.ISS2_DABT, key=lambda f: -f.msb):
        if f.name == "Xs":
            b.add(f, valid=_is_mmu_tap(dfsc) and lst in (1, 3), why="only for ST64BV/ST64BV0 (LST = 0b01/0b11)")
        elif f.name in ("DirtyBit", "Overlay", "AssuredOnly", "TagAccess", "TnD"):
            b.add(f, valid=_is_permission(dfsc), why="only for Permission faults")
        else:
            b.add(f)
    r.fault = info
    access = "cache maintenance or AT instruction" if cm else ("write" if wnr else "read")
    if not wnr_ok:
        access = "atomic or exclusive access"
    r.summary = f"{fsc_text(info)} on a {access}"
    _abort_tail(r, s1ptw, data=True, toplevel=0 if isv else F.ISS_DABT_NOISV["TopLevel"].get(esr))


def _iabt(b: _Builder, r: EsrReport) -> None:
    esr = b.esr
    L = F.ISS_IABT
    ifsc = L["IFSC"].get(esr)
    b.add(L["TopLevel"], valid=_is_permission(ifsc), why="only for Permission faults")
    b.add(L["PFV"], valid=_is_sea(ifsc), why="only for external aborts")
    b.add(L["SET"], valid=ifsc == 0x10, why="only for IFSC 0b010000 (FEAT_RAS)")
    b.add(L["FnV"], valid=ifsc == 0x10, why="only meaningful for IFSC 0b010000 (RES0 otherwise)")
    b.add(L["EA"], meaning=None if _is_external(ifsc) else _ea_not_external(L["EA"].get(b.esr)))
    s1ptw = b.add(L["S1PTW"])
    info = _fsc_row(b, L["IFSC"])
    if ifsc in (0x11, 0x21) or 0x34 <= ifsc <= 0x35:
        r.warnings.append(f"IFSC {ifsc:#04x} ({info.description}) is not a valid Instruction Abort code")
    for f in sorted(F.ISS2_IABT, key=lambda f: -f.msb):
        if f.name in ("DirtyBit", "Overlay", "AssuredOnly"):
            b.add(f, valid=_is_permission(ifsc), why="only for Permission faults")
        else:
            b.add(f)
    r.fault = info
    r.summary = f"{fsc_text(info)} on an instruction fetch"
    _abort_tail(r, s1ptw, data=False, toplevel=L["TopLevel"].get(esr))


#: ISS2 flag -> the cause of the Permission fault it reports
_PERM_CAUSE = {"Overlay": "Overlay: caused by the overlay permissions",
               "DirtyBit": "DirtyBit: caused by the dirty state",
               "AssuredOnly": "AssuredOnly: caused by the AssuredOnly attribute",
               "TopLevel": "TopLevel: caused by the TopLevel check of a stage 1 top-level table fetch"}


def _abort_tail(r: EsrReport, s1ptw: int, *, data: bool, toplevel: int = 0) -> None:
    lower = r.ec in (F.EC_DABT_LOW, F.EC_IABT_LOW)
    if lower:
        where = {1: "from EL0", 2: "from EL1 or EL0", 3: "from a lower Exception level"}.get(
            r.el, "from a lower Exception level")
    else:
        where = f"at EL{r.el}" if r.el else "at the current Exception level"
    r.summary += f" {where}"
    if r.fault is not None and r.fault.type is FaultType.PERMISSION:
        # ASL AArch64.FaultSyndrome: why the Permission fault was taken (ISS2 Overlay, DirtyBit, AssuredOnly;
        # ISS TopLevel, bit 21, which a Data Abort carries only with ISV = 0)
        iss2 = F.ISS2_DABT if data else F.ISS2_IABT
        why = [n for n in ("Overlay", "DirtyBit", "AssuredOnly") if iss2[n].get(r.iss2 << F.ISS2_SHIFT)]
        if toplevel:
            why.append("TopLevel")
        if why:
            r.summary += f" ({', '.join(_PERM_CAUSE[n] for n in why)})"
    if s1ptw:
        r.fault_stage = 2
        r.summary = "stage 2 " + r.summary + " (on a stage 1 translation table walk, S1PTW = 1)"
        r.notes.append("S1PTW = 1: the fault level is the level of the stage 2 walk that translated a "
                       "stage 1 descriptor address; HPFAR_EL2 holds that IPA")
    elif r.el == 2 and lower:
        r.notes.append("taken to EL2 from a lower EL: a stage 2 fault (HPFAR_EL2 holds the IPA) unless "
                       "HCR_EL2.TGE = 1 routed a stage 1 fault here")
    elif r.el in (1, 3) or r.el == 2:
        r.fault_stage = 1
    if r.el == 2 and r.ec == F.EC_DABT_CUR:
        r.notes.append("in ESR_EL2, EC 0x25 also reports aborts on EL1's accesses through VNCR_EL2 (then VNCR = 1)")
    info = r.fault
    if info is not None and info.level is not None and info.type is not None:
        r.notes.append(_level_note(info))
    if info is not None and info.feature:
        r.notes.append(f"FSC {info.fsc:#04x} exists only with {info.feature}")
    if info is not None and info.type is None and not info.allocated:
        r.warnings.append(f"FSC {info.fsc:#04x} is reserved")


_LEVEL_NAMES_4K48 = {-1: "pgd (5-level)", 0: "pgd/p4d", 1: "pud", 2: "pmd", 3: "pte"}


def _level_note(info: FscInfo) -> str:
    lvl = info.level
    what = {
        FaultType.TRANSLATION: "the descriptor read at this level was invalid (or the address was out of range: "
                               "level 0 also covers TxSZ, EPDx and E0PDx faults)",
        FaultType.ADDRESS_SIZE: "an output or table address exceeded the configured PA size at this level"
                                + (" (level 0 also covers the TTBR base address)" if lvl == 0 else ""),
        FaultType.ACCESS_FLAG: "the leaf descriptor at this level has AF = 0 and hardware AF update is off",
        FaultType.PERMISSION: "the leaf (block or page) descriptor at this level does not allow the access",
        FaultType.SYNC_EXTERNAL_ON_WALK: "reading the descriptor at this level returned an external abort",
        FaultType.SYNC_PARITY_ON_WALK: "reading the descriptor at this level returned a parity/ECC error",
        FaultType.GPCF_ON_WALK: "the descriptor read at this level failed the granule protection check",
    }.get(info.type, "")
    linux = _LEVEL_NAMES_4K48.get(lvl, "")
    return f"table level {lvl}: {what}" + (f"; Linux 4-level 4KB naming: {linux}" if linux else "")


def _sys64(b: _Builder, r: EsrReport, layout: Layout = F.ISS_SYS64, wide: bool = False) -> None:
    from .sysregs import format_encoding, sysreg_name
    esr = b.esr
    vals = {f.name: f.get(esr) for f in layout}
    op0, op1, crn, crm, op2 = vals["Op0"], vals["Op1"], vals["CRn"], vals["CRm"], vals["Op2"]
    rt, read = vals["Rt"], vals["Direction"] == 1
    name = sysreg_name(op0, op1, crn, crm, op2, read)
    enc = format_encoding(op0, op1, crn, crm, op2)
    for f in sorted(layout, key=lambda f: -f.msb):
        if f.name == "Rt":
            b.add(f, meaning=(f"register pair X{2 * rt}, X{2 * rt + 1}" if wide else f"register {_reg(rt)}"))
        else:
            b.add(f)
    label = name or enc
    if op0 == 1:                                   # SYS / SYSL
        if read:
            insn = f"SYSL {_reg(rt)}, #{op1}, C{crn}, C{crm}, #{op2}" + (f" ({name})" if name else "")
        else:
            insn = f"{name}, {_reg(rt)}" if name else f"SYS #{op1}, C{crn}, C{crm}, #{op2}, {_reg(rt)}"
            if name and rt == 31:
                insn = name
    elif wide:
        pair = f"X{2 * rt}, X{2 * rt + 1}"
        insn = f"MRRS {pair}, {label}" if read else f"MSRR {label}, {pair}"
    else:
        insn = f"MRS {_reg(rt)}, {label}" if read else f"MSR {label}, {_reg(rt)}"
    b.rows.append(FieldReport("register", F.SYS_ENCODING.msb, F.SYS_ENCODING.lsb, F.SYS_ENCODING.get(esr),
                              f"{label} ({enc})" if name else f"{enc}: not in pgwalk's register table",
                              True, "derived from Op0, Op1, CRn, CRm, Op2", "ISS"))
    r.summary = f"trapped {insn}"
    r.notes.append(f"encoding {enc} = (op0={op0}, op1={op1}, CRn={crn}, CRm={crm}, op2={op2})")


def _sys128(b: _Builder, r: EsrReport) -> None:
    _sys64(b, r, F.ISS_SYS128, wide=True)


def _wfx(b: _Builder, r: EsrReport) -> None:
    esr = b.esr
    L = F.ISS_WFX
    ti = L["TI"].get(esr)
    rv = L["RV"].get(esr)
    _cv_cond(b, L)
    b.add(L["RN"], valid=rv == 1 and ti >= 2, why="only when RV = 1 (WFIT/WFET)",
          meaning=f"timeout register {_reg(L['RN'].get(esr))}")
    b.add(L["RV"], valid=ti >= 2, why="RES0 unless TI[1] = 1")
    b.add(L["TI"])
    r.summary = f"trapped {L['TI'].meaning(ti)}"


def _cv_cond(b: _Builder, L: Layout) -> None:
    cv = b.add(L["CV"])
    cond = L["COND"].get(b.esr)
    names = ["EQ", "NE", "CS", "CC", "MI", "PL", "VS", "VC", "HI", "LS", "GE", "LT", "GT", "LE", "AL", "NV"]
    b.add(L["COND"], valid=cv == 1, why="CV = 0",
          meaning=f"{names[cond]}" + (" (0b1110 from AArch64, or unconditional)" if cond == 0xE else ""))


def _mcr(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_MCR
    _cv_cond(b, L)
    for n in ("Opc2", "Opc1", "CRn", "Rt", "CRm", "Direction"):
        b.add(L[n])
    v = {f.name: f.get(b.esr) for f in L}
    cp = "p14" if r.ec == 0x05 else ("p10" if r.ec == 0x08 else "p15")
    insn = ("MRC" if v["Direction"] else "MCR") if r.ec != 0x08 else "VMRS"
    r.summary = f"trapped AArch32 {insn} {cp}, {v['Opc1']}, R{v['Rt']}, c{v['CRn']}, c{v['CRm']}, {v['Opc2']}"


def _mcrr(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_MCRR
    _cv_cond(b, L)
    for n in ("Opc1", "Rt2", "Rt", "CRm", "Direction"):
        b.add(L[n])
    v = {f.name: f.get(b.esr) for f in L}
    cp = "p14" if r.ec == 0x0C else "p15"
    r.summary = f"trapped AArch32 {'MRRC' if v['Direction'] else 'MCRR'} {cp}, {v['Opc1']}, " \
                f"R{v['Rt']}, R{v['Rt2']}, c{v['CRm']}"


def _ldc(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_LDC
    _cv_cond(b, L)
    am = L["AM"].get(b.esr)
    for n in ("imm8", "Rn", "Offset", "AM", "Direction"):
        if n == "Rn":
            b.add(L[n], valid=(am & 4) == 0, why="UNKNOWN for the literal form (AM[2] = 1)")
        else:
            b.add(L[n])
    r.summary = f"trapped AArch32 {'LDC' if L['Direction'].get(b.esr) else 'STC'} (debug DCC access)"


def _cv(b: _Builder, r: EsrReport) -> None:
    _cv_cond(b, F.ISS_CV_COND)
    r.summary = "trapped SME, SVE, Advanced SIMD or floating-point access"


def _other(b: _Builder, r: EsrReport) -> None:
    v = b.add(F.ISS_OTHER["ISS"])
    m = F.ISS_OTHER["ISS"].meaning(v)
    r.summary = f"trapped {m}" if m else f"trapped instruction (reserved ISS {v:#x})"
    if m is None:
        r.warnings.append(f"ISS {v:#x} is reserved for EC 0x0A")


def _svc(b: _Builder, r: EsrReport) -> None:
    imm = b.add(F.ISS_IMM16["imm16"])
    insn = {0x15: "SVC", 0x16: "HVC", 0x17: "SMC", 0x11: "SVC", 0x12: "HVC"}[r.ec]
    r.summary = f"{insn} #{imm:#x}" + (" from AArch32" if r.ec in (0x11, 0x12) else "")
    if r.ec == 0x15 and imm == 0:
        r.notes.append("SVC #0 is the Linux system call convention (syscall number in X8)")
    if r.ec == 0x17:
        r.notes.append("for an SMC that is not trapped, the exception is taken to EL3 with this ISS")


def _svc32(b: _Builder, r: EsrReport) -> None:
    _svc(b, r)
    if r.ec == 0x11:
        r.notes.append("for a conditional A32/T32 SVC, imm16 is UNKNOWN")


def _smc32(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_SMC32
    cck = L["CCKNOWNPASS"].get(b.esr)
    b.add(L["CV"], valid=cck == 1, why="RES0 unless CCKNOWNPASS = 1")
    b.add(L["COND"], valid=cck == 1 and L["CV"].get(b.esr) == 1, why="only when CCKNOWNPASS = 1 and CV = 1")
    b.add(L["CCKNOWNPASS"])
    r.summary = "trapped AArch32 SMC"


def _bti(b: _Builder, r: EsrReport) -> None:
    bt = b.add(F.ISS_BTI["BTYPE"])
    r.summary = f"branch target exception, BTYPE = {bt:02b}"


def _eret(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_ERET
    eret = b.add(L["ERET"])
    b.add(L["ERETA"], valid=eret == 1, why="RES0 when ERET = 0")
    insn = "ERET" if not eret else ("ERETAB" if L["ERETA"].get(b.esr) else "ERETAA")
    r.summary = f"trapped {insn}"


def _fpac(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_FPAC
    dni = b.add(L["DnI"], note="polarity from the ASL: AArch64.PACFailException(data:key_number)")
    bna = b.add(L["BnA"])
    key = f"{'D' if dni else 'I'}{'B' if bna else 'A'}"
    r.summary = f"pointer authentication failure with the {key} key (AUT{key}...)"


def _sme(b: _Builder, r: EsrReport) -> None:
    v = b.add(F.ISS_SME["SMTC"])
    r.summary = F.ISS_SME["SMTC"].meaning(v) or f"SME trap, reserved SMTC {v}"


def _gpc(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_GPC
    for n in ("S2PTW", "InD", "GPCSC", "VNCR", "CM", "S1PTW"):
        b.add(L[n])
    ind = L["InD"].get(b.esr)
    b.add(L["WnR"], valid=ind == 0, why="instruction access (InD = 1)")
    info = _fsc_row(b, L["xFSC"])
    for f in F.ISS2_GPC:
        b.add(f)
    r.fault = info
    gpcsc = L["GPCSC"].get(b.esr)
    r.summary = f"granule protection check: {L['GPCSC'].meaning(gpcsc) or f'reserved GPCSC {gpcsc:#x}'}" \
                f" on a{'n instruction' if ind else ' data'} access"


def _impdef(b: _Builder, r: EsrReport) -> None:
    b.add(F.ISS_IMPDEF["IMPLEMENTATIONDEFINED"])
    r.summary = "IMPLEMENTATION DEFINED exception to EL3"


def _mops(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_MOPS
    mem = L["MemInst"].get(b.esr)
    for f in sorted(L, key=lambda f: -f.msb):
        if f.name == "isSETG":
            b.add(f, valid=mem == 1, why="only for SET* instructions")
        elif f.name == "Options" and mem == 1:
            b.add(f, note="SET*: bits [22:21] RES0, [20:19] hold instruction bits [13:12]")
        elif f.name in ("destreg", "srcreg", "sizereg"):
            b.add(f, meaning=f"{f.doc}: {_reg(f.get(b.esr))}")
        else:
            b.add(f)
    ep = L["FromEpilogue"].get(b.esr)
    r.summary = f"memory {'set' if mem else 'copy'} exception ({'epilogue' if ep else 'prologue/main'} " \
                f"instruction, {L['FormatOption'].meaning(L['FormatOption'].get(b.esr))})"


def _fpexc(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_FPEXC
    tfv = b.add(L["TFV"])
    b.add(L["VECITR"], valid=r.ec == 0x28, why="UNKNOWN from AArch64 (RES1 from AArch32)")
    raised = []
    for n in ("IDF", "IXF", "UFF", "OFF", "DZF", "IOF"):
        v = b.add(L[n], valid=tfv == 1, why="TFV = 0 (UNKNOWN)")
        if v and tfv:
            raised.append(L[n].doc)
    r.summary = "trapped floating-point exception" + (f": {', '.join(raised)}" if raised else
                                                      (" (flags not valid)" if not tfv else ""))


def _gcs(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_GCS
    ext = b.add(L["ExType"])
    b.add(L["Raddr"], valid=ext == 2, why="only for a trapped GCSSTR/GCSSTTR (ExType = 0b0010)",
          meaning=f"address register {_reg(L['Raddr'].get(b.esr))}")
    rn = L["Rn"].get(b.esr)
    if ext == 2:
        b.add(L["Rn"], name="Rvalue", meaning=f"data register {_reg(rn)}")
    else:
        it = L["IT"].get(b.esr)
        b.add(L["Rn"], valid=ext == 0 and it not in (5, 8), why="only for a GCS data check (ExType = 0b0000)",
              meaning=f"register {_reg(rn)}")
    b.add(L["IT"], valid=ext == 0, why="only for a GCS data check (ExType = 0b0000)")
    r.summary = "GCS exception: " + (L["ExType"].meaning(ext) or f"reserved ExType {ext}")


def _serror(b: _Builder, r: EsrReport) -> None:
    esr = b.esr
    L = F.ISS_SERROR
    ids = L["IDS"].get(esr)
    if ids:
        b.add(F.ISS_SERROR_IMPDEF["IDS"], meaning="ISS[23:0] hold an IMPLEMENTATION DEFINED syndrome")
        b.add(F.ISS_SERROR_IMPDEF["IMPDEF"])
        r.summary = "SError exception, IMPLEMENTATION DEFINED syndrome"
        return
    dfsc = L["DFSC"].get(esr)
    asyn = dfsc == 0b010001
    b.add(L["IDS"])
    why = "only when DFSC = 0b010001 (asynchronous SError)"
    wnrv = L["WnRV"].get(esr)
    for n in ("ELS", "WU", "VFV", "PFV", "IESB", "AET", "EA", "WnRV", "WnR"):
        ok = asyn and (n != "WnR" or wnrv == 1)
        b.add(L[n], valid=ok, why=why if n != "WnR" or not asyn else "WnRV = 0",
              note={"AET": "FEAT_RAS", "EA": "FEAT_RAS", "IESB": "FEAT_IESB", "PFV": "FEAT_PFAR"}.get(n, "FEAT_RASv2"))
    b.add(L["DFSC"], note="FEAT_RAS; RES0 otherwise")
    if asyn:
        aet = L["AET"].get(esr)
        r.summary = f"SError: asynchronous error, {L['AET'].meaning(aet) or f'reserved AET {aet:#05b}'}"
    elif dfsc == 0:
        r.summary = "SError: uncategorized error"
    else:
        r.summary = f"SError with reserved DFSC {dfsc:#04x}"
        r.warnings.append(f"SError DFSC {dfsc:#04x} is reserved (only 0b000000 and 0b010001 are defined)")


def _bkpt(b: _Builder, r: EsrReport) -> None:
    v = b.add(F.ISS_BREAKPOINT["IFSC"])
    if v != 0b100010:
        r.warnings.append(f"IFSC {v:#04x}: breakpoint and vector catch exceptions report 0b100010")
    r.summary = "vector catch (AArch32)" if r.ec == 0x3A else "hardware breakpoint hit"


def _sstep(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_SSTEP
    isv = b.add(L["ISV"])
    ex = b.add(L["EX"], valid=isv == 1, why="ISV = 0")
    b.add(L["IFSC"])
    r.summary = "software step completed" + (" (a load-exclusive was stepped)" if isv and ex else "")


def _watch(b: _Builder, r: EsrReport) -> None:
    esr = b.esr
    L = F.ISS_WATCHPOINT
    wptv = L["WPTV"].get(esr)
    fnv = L["FnV"].get(esr)
    b.add(L["WPT"], valid=wptv == 1, why="WPTV = 0 (UNKNOWN)")
    for n in ("WPTV", "WPF"):
        b.add(L[n])
    b.add(L["FnP"], valid=fnv == 0, why="FnV = 1")
    for n in ("VNCR", "FnV", "CM", "WnR", "DFSC"):
        b.add(L[n])
    for f in F.ISS2_WATCHPOINT:
        b.add(f)
    wnr = L["WnR"].get(esr)
    num = f" {L['WPT'].get(esr)}" if wptv else ""
    r.summary = f"watchpoint{num} hit on a {'write' if wnr else 'read'}"


# Linux's BRK immediates (arch/arm64/include/asm/brk-imm.h), as facts about one OS's convention
def brk_comment_meaning(imm: int) -> str:
    """What a BRK comment conventionally means under Linux."""
    if imm == 0x004:
        return "Linux: kprobes"
    if imm == 0x005:
        return "Linux: uprobes"
    if imm == 0x006:
        return "Linux: kprobes single-step"
    if imm == 0x007:
        return "Linux: kretprobes"
    if imm == 0x100:
        return "Linux: fault injection / __builtin_trap-style fault BRK"
    if imm == 0x400:
        return "Linux: KGDB dynamic breakpoint"
    if imm == 0x401:
        return "Linux: KGDB compiled breakpoint"
    if imm == 0x800:
        return "Linux: BUG() / WARN()"
    if 0x900 <= imm <= 0x9FF:
        return f"Linux: KASAN report (access info {imm & 0xFF:#04x})"
    if 0x5500 <= imm <= 0x55FF:
        return f"Linux: UBSAN check {imm & 0xFF}"
    if 0x8000 <= imm <= 0x8FFF:
        return "Linux/LLVM: kCFI failure"
    if imm == 0xF000:
        return "GCC/LLVM __builtin_trap() (user space)"
    return "software breakpoint"


def _brk(b: _Builder, r: EsrReport) -> None:
    v = F.ISS_BRK["Comment"].get(b.esr)
    b.add(F.ISS_BRK["Comment"], meaning=brk_comment_meaning(v) if r.ec == 0x3C else "BKPT immediate")
    r.summary = f"{'BRK' if r.ec == 0x3C else 'BKPT'} #{v:#x}" + \
        (f" ({brk_comment_meaning(v)})" if r.ec == 0x3C and brk_comment_meaning(v) != "software breakpoint" else "")


def _profiling(b: _Builder, r: EsrReport) -> None:
    L = F.ISS_PROFILING
    fsc = b.add(L["FSC"])
    b.add(L["SYNC"], valid=fsc == 0, why="only 0 unless FSC indicates a PMU profiling exception")
    r.summary = f"profiling exception: {L['FSC'].meaning(fsc) or f'reserved FSC {fsc}'}"


def _res0(b: _Builder, r: EsrReport) -> None:
    r.summary = {
        0x00: "unknown reason (an UNDEFINED instruction, or an exception no other EC describes)",
        0x09: "trapped pointer authentication instruction (HCR_EL2.API / SCR_EL3.API)",
        0x0E: "illegal execution state (PSTATE.IL was set)",
        0x19: "trapped SVE access",
        0x22: "PC alignment fault",
        0x26: "SP alignment fault",
    }.get(r.ec, r.info.name)


def _reserved(b: _Builder, r: EsrReport) -> None:
    r.summary = r.info.name
    r.warnings.append(f"EC {r.ec:#04x} is not allocated by the architecture; ISS not decoded")


_ISS_DECODERS = {
    "dabt": (_dabt, (F.ISS_DABT, F.ISS_DABT_ISV, F.ISS_DABT_NOISV, F.ISS_DABT_SET), F.ISS2_DABT),
    "iabt": (_iabt, (F.ISS_IABT,), F.ISS2_IABT),
    "serror": (_serror, (F.ISS_SERROR,), None),
    "sys64": (_sys64, (F.ISS_SYS64,), None),
    "sys128": (_sys128, (F.ISS_SYS128,), None),
    "wfx": (_wfx, (F.ISS_WFX,), None),
    "mcr": (_mcr, (F.ISS_MCR,), None),
    "mcrr": (_mcrr, (F.ISS_MCRR,), None),
    "ldc": (_ldc, (F.ISS_LDC,), None),
    "cv": (_cv, (F.ISS_CV_COND,), None),
    "other": (_other, (F.ISS_OTHER,), None),
    "svc": (_svc, (F.ISS_IMM16,), None),
    "svc32": (_svc32, (F.ISS_IMM16,), None),
    "smc32": (_smc32, (F.ISS_SMC32,), None),
    "bti": (_bti, (F.ISS_BTI,), None),
    "eret": (_eret, (F.ISS_ERET,), None),
    "fpac": (_fpac, (F.ISS_FPAC,), None),
    "sme": (_sme, (F.ISS_SME,), None),
    "gpc": (_gpc, (F.ISS_GPC,), F.ISS2_GPC),
    "impdef": (_impdef, (F.ISS_IMPDEF,), None),
    "mops": (_mops, (F.ISS_MOPS,), None),
    "fpexc": (_fpexc, (F.ISS_FPEXC,), None),
    "gcs": (_gcs, (F.ISS_GCS,), None),
    "bkpt": (_bkpt, (F.ISS_BREAKPOINT,), None),
    "sstep": (_sstep, (F.ISS_SSTEP,), None),
    "watch": (_watch, (F.ISS_WATCHPOINT,), F.ISS2_WATCHPOINT),
    "brk": (_brk, (F.ISS_BRK,), None),
    "profiling": (_profiling, (F.ISS_PROFILING,), None),
    "res0": (_res0, (F.ISS_RES0,), None),
    "reserved": (_reserved, (), None),
}

#: classes for which FAR_ELx holds the faulting address (ASL AArch64.ReportException)
_FAR_CLASSES = {0x20, 0x21, 0x22, 0x24, 0x25, 0x34, 0x35, 0x1E}


def decode_esr(value: int | str, el: int | None = None, *, far: int | str | None = None,
               hpfar: int | str | None = None, par: int | str | None = None) -> EsrReport:
    """Decode an ESR_ELx value (and optionally FAR, HPFAR_EL2, PAR_EL1 next to it).

    :param el: the Exception level whose ESR this is (1, 2, 3), if known.
    :raises InputError: for a value that is not a number or wider than 64 bits.
    """
    esr = parse_u64(value, "ESR")
    if el is not None and el not in (1, 2, 3):
        raise InputError(f"--el: {el!r} is not 1, 2 or 3")
    ec = F.ESR["EC"].get(esr)
    info = ec_info(ec)
    r = EsrReport(esr, el, ec, F.ESR["IL"].get(esr), F.ESR["ISS"].get(esr), F.ESR["ISS2"].get(esr), info)
    b = _Builder(esr)
    b.add(F.ESR["EC"], meaning=info.name + (f" ({info.feature})" if info.feature else ""), group="ESR")
    il_note = ""
    if ec in (0x00, 0x0E, 0x20, 0x21, 0x22, 0x26, 0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3A) or \
            (ec in (F.EC_DABT_LOW, F.EC_DABT_CUR) and not F.ISS_DABT["ISV"].get(esr)):
        il_note = "fixed at 1 for this exception, not an instruction length"
    if il_note:
        b.add(F.ESR["IL"], meaning=f"{F.ESR['IL'].get(esr)}: {il_note}", group="ESR")
    else:
        b.add(F.ESR["IL"], group="ESR")
    b.add(F.ESR["ISS"], meaning="instruction specific syndrome", group="ESR")
    b.add(F.ESR["ISS2"], meaning="instruction specific syndrome 2", group="ESR")
    if far is not None:
        r.far = decode_far(far)
        r.far_applies = ec in _FAR_CLASSES
    decoder, iss_layouts, iss2_layout = _ISS_DECODERS[info.kind]
    decoder(b, r)
    r.details, r.fields = b.rows, b.flat
    # RES0 checks
    if F.ESR_RES0.get(esr):
        r.warnings.append(f"bits [{F.ESR_RES0.bits}] are RES0 but hold {F.ESR_RES0.get(esr):#x}")
    if info.allocated:
        defined = 0
        for lay in iss_layouts:
            defined |= lay.defined_mask
        stray = r.iss & ~defined & F.ESR["ISS"].wmask
        if info.kind == "serror" and F.ISS_SERROR["IDS"].get(esr):
            stray = 0
        if stray:
            r.warnings.append(f"ISS bits {_bitlist(stray)} are RES0 for this class but set")
        iss2_defined = (iss2_layout.defined_mask >> F.ISS2_SHIFT) if iss2_layout else 0
        stray2 = r.iss2 & ~iss2_defined
        if stray2:
            r.warnings.append(f"ISS2 bits {_bitlist(stray2)} (ESR bits {_bitlist(stray2 << F.ISS2_SHIFT)}) are RES0 "
                              "for this class but set")
    if el is not None and info.allocated and el not in info.els:
        r.warnings.append(f"EC {ec:#04x} is never reported in ESR_EL{el}")
    if info.feature and info.allocated:
        r.notes.append(f"EC {ec:#04x} needs {info.feature}")
    # FAR, and the walk to look at
    if r.far is not None:
        _far_validity(r)
    if r.is_abort and r.fault is not None and r.fault.level is not None and r.fault.type is not None:
        if r.far is not None and r.far.valid:
            what = "the IPA from HPFAR_EL2 through stage 2" if r.fault_stage == 2 else f"{r.far.value:#x}"
            r.notes.append(f"walk it: pgwalk translate {r.far.value:#x} with the faulting regime's registers "
                           f"or a memory image shows the level {r.fault.level} descriptor"
                           + (f" (for this stage 2 fault, walk {what})" if r.fault_stage == 2 else ""))
        elif r.far is None:
            r.notes.append("give --far to locate the faulting descriptor (and be offered the walk)")
    if hpfar is not None:
        r.hpfar = decode_hpfar(hpfar, far=r.far.value if r.far and r.far.valid else None)
        if not (r.is_abort or info.kind == "gpc") or (r.el not in (None, 2)):
            r.hpfar.notes.append("HPFAR_EL2 is only written for stage 2 aborts taken to EL2; "
                                 "for this exception it is UNKNOWN")
    if par is not None:
        r.par = decode_par(par)
    return r


def _far_validity(r: EsrReport) -> None:
    far = r.far
    assert far is not None
    if r.ec not in _FAR_CLASSES and not (r.info.kind == "serror" and r.fields.get("VFV")):
        far.valid = False
        far.reason = f"FAR_ELx is UNKNOWN for EC {r.ec:#04x} ({r.info.name})"
    elif r.fields.get("FnV") and (r.info.kind in ("dabt", "iabt") and r.fault is not None
                                  and r.fault.fsc == 0x10 or r.info.kind == "watch"):
        far.valid = False
        far.reason = "FnV = 1: FAR is not valid and holds an UNKNOWN value"
    else:
        if r.fields.get("FnP"):
            far.notes.append("FnP = 1: FAR is any address within the naturally aligned fault granule")
        if r.fault is not None and r.fault.fsc == 0x10 or (r.fault and r.fault.type is FaultType.TAG_CHECK):
            far.notes.append("FAR[63:56] are UNKNOWN for this abort (external abort / tag check)")
        far.reason = "FAR holds the faulting virtual address"
    for d in far.details:
        d.valid = far.valid
        if not far.valid:
            d.meaning = f"not valid: {far.reason}"


def _bitlist(mask: int) -> str:
    bits = [i for i in range(64) if mask >> i & 1]
    out, i = [], 0
    while i < len(bits):
        j = i
        while j + 1 < len(bits) and bits[j + 1] == bits[j] + 1:
            j += 1
        out.append(f"{bits[j]}:{bits[i]}" if j > i else f"{bits[i]}")
        i = j + 1
    return ", ".join(reversed(out))


# --------------------------------------------------------------------------- FAR / HPFAR / PAR
@record
class AddressReport:
    """FAR_ELx or HPFAR_EL2 decoded."""

    register: str
    value: int
    valid: bool = True
    reason: str = ""
    address: int | None = None       # VA (FAR) or IPA (HPFAR)
    details: list[FieldReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"register": self.register, "value": self.value, "hex": f"{self.value:#018x}",
                "valid": self.valid, "reason": self.reason,
                "address": self.address, "address_hex": None if self.address is None else f"{self.address:#x}",
                "details": [d.to_json() for d in self.details], "notes": list(self.notes)}


def decode_far(value: int | str) -> AddressReport:
    """FAR_ELx: the VA, its top byte and which TTBR range bit 55 selects."""
    far = parse_u64(value, "FAR")
    r = AddressReport("FAR_ELx", far, address=far)
    tag = F.FAR_TAGGED["Tag"].get(far)
    upper = F.FAR_RANGE.get(far)
    va = F.FAR_TAGGED["VA"]
    r.details.append(FieldReport(va.name, va.msb, va.lsb, va.get(far),
                                 f"bit {F.FAR_RANGE.lsb} = {upper}: {F.FAR_RANGE.meaning(upper)}", True, "", "FAR"))
    canon = F.FAR_TAGGED["Tag"].wmask if upper else 0
    r.details.append(FieldReport("Tag", 63, 56, tag,
                                 "canonical top byte" if tag == canon else
                                 "non-canonical top byte: a tag if TBI applies, else the access faulted on it",
                                 True, "", "FAR"))
    if tag != canon:
        r.notes.append(f"untagged (TBI) address: {F.FAR_TAGGED['Tag'].put(far, canon):#018x}")
    return r


def decode_hpfar(value: int | str, far: int | None = None) -> AddressReport:
    """HPFAR_EL2 -> the faulting IPA (FIPA[47:4] = IPA[55:12]); with FAR, the page offset too."""
    from .formats.registers import HPFAR_EL2
    v = parse_u64(value, "HPFAR")
    fipa = HPFAR_EL2["FIPA"].get(v)
    ns = HPFAR_EL2["NS"].get(v)
    ipa_page = fipa << 12
    r = AddressReport("HPFAR_EL2", v)
    r.details.append(FieldReport("FIPA", 47, 4, fipa, f"IPA[55:12]: IPA page {ipa_page:#x}", True, "", "HPFAR"))
    r.details.append(FieldReport("NS", 63, 63, ns, "faulting IPA is in the Non-secure IPA space" if ns else
                                 "Secure IPA space (FEAT_SEL2), or Non-secure/Realm without FEAT_SEL2",
                                 True, "", "HPFAR"))
    if far is not None:
        r.address = ipa_page | (far & 0xFFF)
        r.notes.append(f"faulting IPA = FIPA << 12 | FAR[11:0] = {r.address:#x}")
    else:
        r.address = ipa_page
        r.notes.append(f"faulting IPA page = {ipa_page:#x} (give --far for the offset within the page)")
    stray = v & ~HPFAR_EL2.defined_mask
    if stray:
        r.notes.append(f"RES0 bits {_bitlist(stray)} are set")
    if fipa >> 40:
        r.notes.append("FIPA[47:40] (IPA[55:52]) set: only meaningful with FEAT_D128")
    return r


def mair_attr_meaning(attr: int) -> str:
    """One 8-bit MAIR / PAR.ATTR attribute (ARM D24.2.127; fact sheet section 11)."""
    a = F.MAIR_ATTR.decode(attr & 0xFF)
    hi, lo = a["Outer"], a["Inner"]
    if hi == 0:
        dev = F.MAIR_DEVICE_TYPE.meaning(F.MAIR_DEVICE_TYPE.get(lo))
        low = F.MAIR_DEVICE_LOW.get(lo)
        if low == 0:
            return f"Device-{dev}"
        if low == 1:
            return f"Device-{dev}, XS = 0 (FEAT_XS)"
        return f"Device-{dev} with bits [1:0] = {low:02b}: UNPREDICTABLE"
    if lo == 0:
        special = {0x4: "Normal Inner/Outer Non-cacheable, XS = 0 (FEAT_XS)",
                   0xA: "Normal Inner/Outer Write-Through RA non-transient, XS = 0 (FEAT_XS)",
                   0xF: "Tagged Normal Inner/Outer Write-Back RA WA non-transient (FEAT_MTE2)",
                   0xE: "NoTagAccess Normal Write-Back (PAR only, FEAT_MTE_PERM)"}
        return special.get(hi, "UNPREDICTABLE (inner 0b0000 with this outer)")

    def cache(n: int) -> str:
        if n == 0b0100:
            return "Non-cacheable"
        c = F.MAIR_CACHE.decode(n)
        alloc = [s for s, bit in (("RA", c["R"]), ("WA", c["W"])) if bit]
        return F.MAIR_CACHE["Kind"].meaning(c["Kind"]) + (f" {'/'.join(alloc)}" if alloc else " no-allocate")
    return f"Normal, Outer {cache(hi)}, Inner {cache(lo)}"


_SH_PAR = {0: "Non-shareable", 1: "reserved", 2: "Outer Shareable", 3: "Inner Shareable"}


def decode_par(value: int | str) -> "RegisterReport":
    """PAR_EL1: the success format (F = 0) or the fault format (F = 1); with FEAT_D128 the 128-bit
    register, whose D128 bit (64) set selects the VMSAv9-128 format: PA[55:12] in bits [119:76]."""
    from .formats.registers import PAR_EL1_D128, PAR_EL1_D128_PA, PAR_EL1_FAULT, PAR_EL1_OK
    from .regs import parse_register_value
    v = parse_register_value("PAR_EL1", value, "PAR")
    d128 = bool(PAR_EL1_D128.get(v))
    rep = RegisterReport("PAR_EL1", v)
    if v >> 64:
        rep.add(PAR_EL1_D128, int(d128), "1: the VMSAv9-128 format (FEAT_D128)" if d128 else
                "0: the VMSAv8-64 format in a 128-bit PAR_EL1")
    if v & 1:
        lay = PAR_EL1_FAULT
        fst = lay["FST"].get(v)
        info = decode_fsc(fst)
        for f in lay:
            fv = f.get(v)
            if f.name == "FST":
                rep.add(f, fv, fsc_text(info) + (f" ({info.feature})" if info.feature else ""))
            elif f.name == "S":
                rep.add(f, fv, "fault at stage 2" if fv else "fault at stage 1")
            elif f.name == "PTW":
                rep.add(f, fv, "stage 2 fault during the stage 1 walk" if fv else f.doc)
            elif f.name in ("AssuredOnly", "TopLevel", "Overlay", "DirtyBit"):
                rep.add(f, fv, f"{'set' if fv else 'clear'}: permission fault due to {f.name}",
                        valid=info.type is FaultType.PERMISSION, why="only for Permission faults")
            elif f.name == "RES1_11":
                rep.add(f, fv, "RES1" if fv else "RES1 but clear")
            elif f.name == "F":
                rep.add(f, fv, "1: the translation aborted (fault format)")
            else:
                rep.add(f, fv)
        stage = 2 if lay["S"].get(v) else 1
        rep.summary = f"AT failed: stage {stage} {fsc_text(info)}" + \
                      (" during the stage 1 walk" if lay["PTW"].get(v) else "")
        rep.derived["format"] = "fault"
        rep.derived["fault"] = {"fsc": fst, "type": info.type.value if info.type else None,
                                "level": info.level, "stage": stage}
        if info.type in (FaultType.SYNC_EXTERNAL_ON_WALK, FaultType.SYNC_EXTERNAL):
            rep.notes.append("PAR.FST never reports an external abort on a walk: AT raises a Data Abort instead")
        if fst in (0x3D, 0x3E):
            rep.notes.append("domain faults occur only for an AArch32 short-descriptor translation regime")
    else:
        lay = PAR_EL1_OK
        pa = v & lay["PA"].mask                 # PA[51:12] sit at bits [51:12]
        if d128:
            pa = PAR_EL1_D128_PA.get(v) << 12
            rep.add(PAR_EL1_D128_PA, PAR_EL1_D128_PA.get(v), f"output address page {pa:#x}")
        attr = lay["ATTR"].get(v)
        for f in lay:
            fv = f.get(v)
            if f.name == "PA" and d128:
                rep.add(f, fv, "RES0 in the D128 format")
            elif f.name == "PA":
                rep.add(f, fv, f"output address page {pa:#x}")
            elif f.name == "ATTR":
                rep.add(f, fv, mair_attr_meaning(fv))
            elif f.name == "SH":
                rep.add(f, fv, _SH_PAR[fv])
            elif f.name == "NS":
                rep.add(f, fv, "Non-secure PA space" if fv else "Secure PA space (UNKNOWN from a Non-secure regime)")
            elif f.name == "F":
                rep.add(f, fv, "0: the translation succeeded (success format)")
            elif f.name == "NSE":
                rep.add(f, fv, "RES1 without FEAT_RME; with RME, {NSE,NS} select the PA space")
            else:
                rep.add(f, fv)
        rep.summary = f"AT succeeded: PA {pa:#x}, {mair_attr_meaning(attr)}, {_SH_PAR[lay['SH'].get(v)]}"
        rep.derived["format"] = "success"
        rep.derived["pa"] = pa
    stray = v & ~lay.defined_mask & ~(PAR_EL1_D128.mask | (PAR_EL1_D128_PA.mask if d128 and not v & 1 else 0))
    if stray:
        rep.warnings.append(f"bits {_bitlist(stray)} are RES0 in this format but set")
    return rep


# --------------------------------------------------------------------------- Linux rendering
class LinuxStyle(namedtuple("LinuxStyle", "version esr_digits ec_hex fsc_line iss2 esr_line",
                            defaults=(_LATEST, 16, True, True, True, True))):
    """How one kernel version prints ``mem_abort_decode()``.

    Versions are approximate boundaries of the upstream changes (4.13 first
    decode, without an ESR line; 4.16 the ESR line; 5.4 "EC = 0x..:"; 5.10 the
    FSC line; 5.17 64-bit ESR; 6.5 ISS2 lines; 6.9 FEAT_LPA2 fault names).
    """

    # the fields' types: version: tuple[int, int], esr_digits: int, ec_hex: bool, fsc_line: bool, iss2: bool,
    # esr_line: bool
    __slots__ = ()

    @property
    def label(self) -> str:
        return "latest" if self.version == _LATEST else f"{self.version[0]}.{self.version[1]}"


def linux_style(kernel: str | tuple[int, int] | None = None) -> LinuxStyle:
    """The style for a kernel version (``"6.1"``, ``"5.15.0-91-generic"``, ``(5, 4)``)."""
    if kernel is None or kernel in ("latest", "newest"):
        v = _LATEST
    elif isinstance(kernel, tuple):
        v = kernel
    else:
        import re

        m = re.match(r"^\s*v?(\d+)\.(\d+)", str(kernel))
        if not m:
            raise InputError(f"--kernel: {kernel!r} is not a kernel version like 6.1")
        v = (int(m[1]), int(m[2]))
    if v < (4, 13):
        v = (4, 13)
    return LinuxStyle(v, 16 if v >= (5, 17) else 8, v >= (5, 4), v >= (5, 10), v >= (6, 5), v >= (4, 16))


def linux_mem_abort_lines(value: int | str, style: LinuxStyle | str | None = None) -> list[str]:
    """The lines ``mem_abort_decode()`` prints for ``value`` (without log prefixes)."""
    esr = parse_u64(value, "ESR")
    if not isinstance(style, LinuxStyle):
        style = linux_style(style)
    v = style.version
    ec = F.ESR["EC"].get(esr)
    il = F.ESR["IL"].get(esr)
    iss2 = F.ESR["ISS2"].get(esr)
    D = F.ISS_DABT
    out = ["Mem abort info:"]
    if not style.esr_line:
        pass
    elif style.esr_digits == 16:
        out.append(f"  ESR = 0x{esr:016x}")
    else:
        out.append(f"  ESR = 0x{esr & 0xFFFFFFFF:08x}")          # an unsigned int before 5.17
    cls = linux_ec_name(ec, v)
    if style.ec_hex:
        out.append(f"  EC = 0x{ec:02x}: {cls}, IL = {32 if il else 16} bits")
    else:
        out.append(f"  Exception class = {cls}, IL = {32 if il else 16} bits")
    out.append(f"  SET = {F.ISS_DABT_SET['SET'].get(esr)}, FnV = {D['FnV'].get(esr)}")
    out.append(f"  EA = {D['EA'].get(esr)}, S1PTW = {D['S1PTW'].get(esr)}")
    if style.fsc_line:
        fsc = D["DFSC"].get(esr)
        out.append(f"  FSC = 0x{fsc:02x}: {linux_fault_name(fsc, v)}")
    if ec in (F.EC_DABT_LOW, F.EC_DABT_CUR):
        out.append("Data abort info:")
        if D["ISV"].get(esr):
            I = F.ISS_DABT_ISV
            out.append(f"  Access size = {1 << I['SAS'].get(esr)} byte(s)")
            out.append(f"  SSE = {I['SSE'].get(esr)}, SRT = {I['SRT'].get(esr)}")
            out.append(f"  SF = {I['SF'].get(esr)}, AR = {I['AR'].get(esr)}")
        elif style.iss2:
            out.append(f"  ISV = 0, ISS = 0x{F.ESR['ISS'].get(esr):08x}, ISS2 = 0x{iss2:08x}")
        else:
            out.append(f"  ISV = 0, ISS = 0x{F.ESR['ISS'].get(esr):08x}")
        if style.iss2:
            I2 = F.ISS2_DABT
            out.append(f"  CM = {D['CM'].get(esr)}, WnR = {D['WnR'].get(esr)}, "
                       f"TnD = {I2['TnD'].get(esr)}, TagAccess = {I2['TagAccess'].get(esr)}")
            out.append(f"  GCS = {I2['GCS'].get(esr)}, Overlay = {I2['Overlay'].get(esr)}, "
                       f"DirtyBit = {I2['DirtyBit'].get(esr)}, Xs = {I2['Xs'].get(esr)}")
        else:
            out.append(f"  CM = {D['CM'].get(esr)}, WnR = {D['WnR'].get(esr)}")
    return out


# --------------------------------------------------------------------------- other registers (pgwalk decode)
@record
class RegisterReport:
    """A register value decoded field by field, with derived parameters."""

    register: str
    value: int
    details: list[FieldReport] = field(default_factory=list)
    derived: dict = field(default_factory=dict)
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, f: Field, value: int, meaning: str | None = None, *, valid: bool = True, why: str = "",
            note: str = "") -> None:
        if meaning is None:
            meaning = _meaning(f, value)
        if not valid:
            meaning = f"not valid: {why}"
        self.details.append(FieldReport(f.name, f.msb, f.lsb, value, meaning, valid, note, self.register))

    @property
    def fields(self) -> dict[str, int]:
        return {d.name: d.value for d in self.details}

    def to_json(self) -> dict:
        return {"register": self.register, "value": self.value, "hex": f"{self.value:#018x}",
                "summary": self.summary, "fields": self.fields,
                "details": [d.to_json() for d in self.details], "derived": dict(self.derived),
                "notes": list(self.notes), "warnings": list(self.warnings)}


def _plain(name: str, layout: Layout, value: int) -> RegisterReport:
    rep = RegisterReport(name, value)
    for f in layout:
        rep.add(f, f.get(value))
    stray = layout.undefined_bits(value)
    if stray:
        rep.warnings.append(f"bits {_bitlist(stray)} are not fields pgwalk knows (RES0/RES1 or newer features)")
    return rep


def _s1_region(p) -> dict:
    """What ``decode`` shows of one VA range: the walker's own :class:`S1WalkParams`."""
    from .params import granule_name
    from .rules import FINAL_LEVEL, table_entries
    g = p.granule_shift
    start = p.start_level
    out: dict = {"txsz": p.txsz, "va_bits": p.iasize, "granule": granule_name(g), "granule_shift": g,
                 "effective_ds": int(p.ds), "start_level": start, "levels": FINAL_LEVEL + 1 - start,
                 "start_table_entries": table_entries(start, start, p.iasize, g),
                 "pa_bits": p.oa_bits}
    if p.config_fault:
        out["config_fault"] = p.config_fault
        out["problems"] = [f"{p.config_fault}: a level 0 Translation fault on every access"]
    return out


def _tcr_stage1(rep: RegisterReport, value: int, layout: Layout, tcr_name: str, regime_name: str,
                id_regs: Mapping[str, int]) -> None:
    from .formats.registers import PS_BITS
    from .params import Features, Regime, s1_range_params
    regime = Regime[regime_name]
    regs = dict(id_regs)
    regs[tcr_name] = value
    if regime is Regime.EL20:
        regs["HCR_EL2"] = 1 << 34   # E2H
    features = Features.from_registers(regs)
    two_ranges = regime.has_unprivileged
    params = [s1_range_params(regime, n, regs, features) for n in range(2 if two_ranges else 1)]
    regions = {}
    for p in params:
        r = _s1_region(p)
        if two_ranges:
            n = str(p.varange)
            r["walks_disabled"] = bool(layout[f"EPD{n}"].get(value))
            r["tbi"] = bool(layout[f"TBI{n}"].get(value))
            r["va_range"] = (f"{(MASK64 << p.iasize) & MASK64:#018x}-{MASK64:#018x}" if p.varange
                             else f"0x0000000000000000-{(1 << p.iasize) - 1:#018x}")
        regions[f"TTBR{p.varange}" if two_ranges else "TTBR0 (single range)"] = r
        for note in p.notes:
            rep.warnings.append(note)
    ps = params[0].ps
    pa = params[0].oa_bits
    if PS_BITS.get(ps) != pa:
        rep.notes.append(f"{'IPS' if two_ranges else 'PS'} = {PS_BITS.get(ps)} bits, but the output size is "
                         f"{pa} bits (granule, DS and PARange)")
    rep.derived["pa_bits"] = pa
    rep.derived["regions"] = regions
    hd, ha = layout["HD"].get(value), layout["HA"].get(value)
    rep.derived["hw_access_flag"] = params[0].ha
    rep.derived["hw_dirty"] = params[0].hd
    if hd and not ha:
        rep.notes.append("HD = 1 with HA = 0: dirty-state update behaves as disabled")
    for name, r in regions.items():
        for p in r.get("problems", []):
            rep.warnings.append(f"{name}: {p}")
    rep.notes.extend(features.assumed)
    parts = []
    for name, r in regions.items():
        parts.append(f"{name}: {r['granule']} granule, {r['va_bits']}-bit VA, start level {r['start_level']}"
                     + (" (walks disabled)" if r.get("walks_disabled") else "")
                     + (" (configuration fault)" if r.get("config_fault") else ""))
    rep.summary = "; ".join(parts) + f"; {pa}-bit PA"


def _vtcr(rep: RegisterReport, value: int, id_regs: Mapping[str, int]) -> None:
    from .params import Features, granule_name, s2_params
    from .rules import index_width
    regs = dict(id_regs)
    regs["VTCR_EL2"] = value
    features = Features.from_registers(regs)
    s2 = s2_params(regs, features)
    g = s2.granule_shift
    d: dict = {"ipa_bits": s2.iasize, "t0sz": s2.txsz, "pa_bits": s2.oa_bits, "granule": granule_name(g),
               "granule_shift": g, "effective_ds": int(s2.ds), "start_level": s2.start_level}
    for note in s2.notes:
        rep.warnings.append(note)
    if s2.start_level is not None:
        # a start level that resolves no IPA bits is inconsistent (a configuration fault): no entries
        width = index_width(s2.start_level, s2.start_level, s2.iasize, g)
        d["start_table_entries"] = 1 << width if width else 0
        d["concatenated_tables"] = s2.concatenated
    if s2.config_fault:
        d["config_fault"] = s2.config_fault
        rep.warnings.append(f"{s2.config_fault}: a stage 2 level 0 Translation fault on every access")
    rep.notes.extend(features.assumed)
    rep.derived.update(d)
    rep.summary = (f"stage 2: {d['granule']} granule, {s2.iasize}-bit IPA, start level {s2.start_level}"
                   + (f" ({s2.concatenated} concatenated tables)" if s2.concatenated > 1 else "")
                   + f"; {s2.oa_bits}-bit PA" + (f"; configuration fault: {s2.config_fault}" if s2.config_fault else ""))


def _ttbr(rep: RegisterReport, value: int, name: str) -> None:
    from .formats.registers import TTBR, TTBR_52, VTTBR_EL2
    lay = VTTBR_EL2 if name.startswith("VTTBR") else TTBR
    for f in lay:
        rep.add(f, f.get(value))
    baddr48 = value & TTBR["BADDR"].mask
    rep.derived["baddr"] = baddr48
    b52 = (value & TTBR_52["BADDR"].mask) | (TTBR_52["BADDR_51_48"].get(value) << 48)   # BADDR[51:48] in [5:2]
    rep.derived["baddr_52bit_format"] = b52
    rep.summary = f"table base {baddr48:#x}" + (f" (52-bit format: {b52:#x})" if b52 != baddr48 else "")
    if name in ("TTBR0_EL2", "TTBR0_EL3") and TTBR["ASID"].get(value):
        rep.notes.append("bits [63:48] are RES0 unless the EL2&0 regime is in use (HCR_EL2.E2H = 1)")
    if name.startswith("TTBR") and name.endswith("EL1"):
        rep.notes.append("ASID is used from TTBR0 or TTBR1 according to TCR_EL1.A1")
    if value >> 64:
        from .formats.registers import TTBR_128
        b128 = (TTBR_128["BADDR_55_48"].get(value) << 48) | (value & TTBR_128["BADDR"].mask)
        for f in (TTBR_128["BADDR_55_48"], TTBR_128["SKL"]):
            rep.add(f, f.get(value))
        rep.derived["baddr_d128_format"] = b128
        rep.derived["skl"] = TTBR_128["SKL"].get(value)
        rep.summary = (f"128-bit (FEAT_D128, VMSAv9-128): table base {b128:#x}, SKL {TTBR_128['SKL'].get(value)} "
                       "(BADDR[55:48] in bits [87:80], BADDR[47:5] in [47:5])")


def _mair(rep: RegisterReport, value: int) -> None:
    from .formats.registers import MAIR
    attrs = {}
    for f in MAIR:
        a = f.get(value)
        rep.add(f, a, f"{a:#04x}: {mair_attr_meaning(a)}")
        attrs[f.name] = mair_attr_meaning(a)
    rep.derived["attributes"] = attrs


def _mmfr0(rep: RegisterReport, value: int) -> None:
    from .formats.registers import ID_AA64MMFR0_EL1, PS_BITS
    L = ID_AA64MMFR0_EL1
    for f in L:
        v = f.get(value)
        if f.name == "ASIDBits":
            rep.add(f, v, {0: "8-bit ASID", 2: "16-bit ASID"}.get(v, "reserved"))
        elif f.name in ("TGran4_2", "TGran16_2", "TGran64_2"):
            rep.add(f, v, {0: "as stage 1 field", 1: "not supported at stage 2", 2: "supported at stage 2",
                           3: "supported at stage 2 with 52-bit"}.get(v, "reserved"))
        else:
            rep.add(f, v)
    parange = L["PARange"].get(value)
    rep.derived["pa_bits"] = PS_BITS.get(parange)
    gr = []
    if L["TGran4"].get(value) in (0, 1):
        gr.append("4KB" + (" (52-bit)" if L["TGran4"].get(value) == 1 else ""))
    if L["TGran16"].get(value) in (1, 2):
        gr.append("16KB" + (" (52-bit)" if L["TGran16"].get(value) == 2 else ""))
    if L["TGran64"].get(value) == 0:
        gr.append("64KB")
    rep.derived["granules"] = gr
    rep.summary = f"PA range {PS_BITS.get(parange)} bits; stage 1 granules: {', '.join(gr) or 'none'}"


#: names ``pgwalk decode`` accepts (besides ESR_EL1/2/3, FAR_ELx)
DECODABLE_REGISTERS = (
    "TCR_EL1", "TCR_EL2", "TCR_EL3", "VTCR_EL2", "SCTLR_EL1", "SCTLR_EL2", "SCTLR_EL3", "HCR_EL2",
    "MAIR_EL1", "MAIR_EL2", "MAIR_EL3", "TTBR0_EL1", "TTBR1_EL1", "TTBR0_EL2", "TTBR1_EL2", "TTBR0_EL3",
    "VTTBR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "PAR_EL1", "HPFAR_EL2",
    "ESR_EL1", "ESR_EL2", "ESR_EL3", "FAR_EL1", "FAR_EL2", "FAR_EL3",
    # FEAT_TCR2 / S1PIE / S2PIE / S1POE / S2POE / AIE (issue 17): decoded by _indirection_register
    "TCR2_EL1", "TCR2_EL2", "PIR_EL1", "PIRE0_EL1", "PIR_EL2", "PIRE0_EL2", "PIR_EL3", "S2PIR_EL2",
    "POR_EL0", "POR_EL1", "POR_EL2", "POR_EL3", "S2POR_EL1", "MAIR2_EL1", "MAIR2_EL2", "MAIR2_EL3", "ID_AA64MMFR3_EL1",
    "ID_AA64PFR1_EL1", "SCR_EL3", "HCRX_EL2",
)

_ALIASES = {"SCTLR": "SCTLR_EL1", "VBAR": "VBAR_EL1", "ESR": "ESR_EL1", "FAR": "FAR_EL1", "TCR": "TCR_EL1",
            "MAIR": "MAIR_EL1", "PAR": "PAR_EL1", "TCR_EL12": "TCR_EL1", "SCTLR_EL12": "SCTLR_EL1",
            "MAIR_EL12": "MAIR_EL1", "TTBR0_EL12": "TTBR0_EL1", "TTBR1_EL12": "TTBR1_EL1", "HPFAR": "HPFAR_EL2",
            "ID_AA64MMFR0": "ID_AA64MMFR0_EL1", "ID_AA64MMFR1": "ID_AA64MMFR1_EL1", "ID_AA64MMFR2": "ID_AA64MMFR2_EL1"}


def canonical_register(name: str) -> str:
    n = name.strip().upper().replace("-", "_")
    n = _ALIASES.get(n, n)
    if n not in DECODABLE_REGISTERS:
        raise InputError(f"unknown register {name!r}; pgwalk decode knows: {', '.join(DECODABLE_REGISTERS)}")
    return n


def decode_register(name: str, value: int | str, *, e2h: bool = False,
                    id_registers: Mapping[str, int] | None = None) -> RegisterReport | EsrReport:
    """``pgwalk decode REGISTER VALUE``: every field, its meaning, derived walk parameters.

    Walk parameters (start levels, sizes, concatenation, configuration faults) come from
    the walker's own setup (:func:`pgwalk.params.s1_range_params`, :func:`pgwalk.params.s2_params`).

    :param e2h: TCR_EL2 / TTBR1_EL2 with HCR_EL2.E2H = 1 (TCR_EL1 layout).
    :param id_registers: ID_AA64MMFR0/1/2_EL1 values; absent ones are assumed as translate does
        (the report's notes say which).
    """
    id_regs = dict(id_registers or {})
    from .formats import registers as R
    reg = canonical_register(name)
    if reg == "PAR_EL1":
        return decode_par(value)                # up to 128 bits (FEAT_D128)
    if reg.startswith(("TTBR", "VTTBR")):       # up to 128 bits with FEAT_D128 (TTBR0_EL3: 64)
        from .regs import parse_register_value
        v = parse_register_value(reg, value, reg)
        rep = RegisterReport(reg, v)
        _ttbr(rep, v, reg)
        return rep
    v = parse_u64(value, reg)
    if reg.startswith("ESR_"):
        return decode_esr(v, int(reg[-1]))
    if reg.startswith("FAR_"):
        far = decode_far(v)
        return RegisterReport(reg, v, far.details, {"va": v},
                              f"VA {v:#x} ({F.FAR_RANGE.meaning(F.FAR_RANGE.get(v))})", list(far.notes))
    if reg == "HPFAR_EL2":
        h = decode_hpfar(v)
        return RegisterReport(reg, v, h.details, {"ipa_page": h.address}, f"faulting IPA page {h.address:#x}",
                              list(h.notes[1:]))
    if reg in ("TCR_EL1",) or (reg == "TCR_EL2" and e2h):
        rep = _plain(reg, R.TCR_EL1, v)
        _tcr_stage1(rep, v, R.TCR_EL1, reg, "EL10" if reg == "TCR_EL1" else "EL20", id_regs)
        if reg == "TCR_EL2":
            rep.notes.append("decoded with the TCR_EL1 layout because HCR_EL2.E2H = 1 (--e2h)")
        return rep
    if reg in ("TCR_EL2", "TCR_EL3"):
        lay = R.TCR_EL2_E2H0 if reg == "TCR_EL2" else R.TCR_EL3
        rep = _plain(reg, lay, v)
        for res1 in ("RES1_23", "RES1_31"):
            if not lay[res1].get(v):
                rep.warnings.append(f"bit {lay[res1].bits} is RES1 but clear")
        _tcr_stage1(rep, v, lay, reg, "EL2" if reg == "TCR_EL2" else "EL3", id_regs)
        if reg == "TCR_EL2":
            rep.notes.append("layout for HCR_EL2.E2H = 0; use --e2h for the EL2&0 (VHE) layout")
        return rep
    if reg == "VTCR_EL2":
        rep = _plain(reg, R.VTCR_EL2, v)
        _vtcr(rep, v, id_regs)
        return rep
    if reg.startswith("SCTLR"):
        rep = _plain(reg, R.SCTLR, v)
        if reg != "SCTLR_EL1":
            rep.notes.append("decoded with the SCTLR_EL1 layout; at EL2 (E2H = 0) and EL3 several bits are RES0/RES1")
        f = R.SCTLR.decode(v)
        rep.summary = f"stage 1 MMU {'on' if f['M'] else 'off'}, D-cache {'on' if f['C'] else 'off'}, " \
                      f"I-cache {'on' if f['I'] else 'off'}, WXN {f['WXN']}, " \
                      f"{'big' if f['EE'] else 'little'}-endian walks"
        rep.derived.update({"mmu": bool(f["M"]), "wxn": bool(f["WXN"]), "ee": f["EE"]})
        return rep
    if reg == "HCR_EL2":
        rep = _plain(reg, R.HCR_EL2, v)
        h = R.HCR_EL2.decode(v)
        rep.derived.update({"stage2": bool(h["VM"]), "e2h": bool(h["E2H"]), "tge": bool(h["TGE"])})
        rep.summary = f"stage 2 {'on' if h['VM'] else 'off'}, E2H {h['E2H']}, TGE {h['TGE']}, " \
                      f"EL1 is {'AArch64' if h['RW'] else 'AArch32'}"
        return rep
    if reg.startswith("MAIR") and not reg.startswith("MAIR2"):      # MAIR2_ELx: _indirection_register
        rep = RegisterReport(reg, v)
        _mair(rep, v)
        rep.summary = ", ".join(f"{f.name}={f.get(v):#04x}" for f in R.MAIR)
        return rep
    if reg == "ID_AA64MMFR0_EL1":
        rep = RegisterReport(reg, v)
        _mmfr0(rep, v)
        return rep
    if reg not in ("ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"):
        return _indirection_register(reg, v)
    lay = {"ID_AA64MMFR1_EL1": R.ID_AA64MMFR1_EL1, "ID_AA64MMFR2_EL1": R.ID_AA64MMFR2_EL1}[reg]
    rep = _plain(reg, lay, v)
    if reg == "ID_AA64MMFR2_EL1":
        rep.derived["ttst"] = lay["ST"].get(v) == 1
        rep.derived["va_range"] = {0: 48, 1: 52, 2: 56}.get(lay["VARange"].get(v))
        rep.summary = f"VA range {rep.derived['va_range']} bits (64KB), FEAT_TTST {'yes' if rep.derived['ttst'] else 'no'}"
    else:
        rep.derived["hafdbs"] = lay["HAFDBS"].get(v)
        rep.summary = f"HAFDBS {lay['HAFDBS'].get(v)}, PAN {lay['PAN'].get(v)}, VH {lay['VH'].get(v)}"
    return rep


def _indirection_register(reg: str, v: int) -> RegisterReport:
    """TCR2_ELx, PIR/PIRE0/S2PIR, POR/S2POR, MAIR2, ID_AA64MMFR3_EL1, ID_AA64PFR1_EL1, SCR_EL3, HCRX_EL2:
    every field by its Arm ARM name (layouts in :mod:`pgwalk.formats.registers`) and a summary."""
    from .formats import registers as R
    rep = _plain(reg, R.REGISTER_LAYOUTS[reg], v)
    f = rep.fields
    if reg.startswith("TCR2"):
        on = [n for n in ("PIE", "POE", "E0POE", "AIE", "HAFT", "PnCH", "D128") if f.get(n)]
        rep.derived.update({n.lower(): bool(f.get(n)) for n in ("PIE", "POE", "E0POE", "AIE", "HAFT", "PnCH", "D128")})
        rep.summary = "enabled: " + (", ".join(on) if on else "none (permissions and attributes as without TCR2)")
        if f.get("D128"):
            rep.notes.append("D128 = 1: VMSAv9-128 (128-bit descriptors, permission indirection forced on); "
                             "translate and at walk it, the vectorised and whole-tree walks refuse it")
        if reg == "TCR2_EL2":
            rep.notes.append("with HCR_EL2.E2H = 0, E0POE, D128 and bits [21:14] are RES0")
    elif reg.startswith(("PIR", "S2PIR", "POR", "S2POR")):
        lay = R.REGISTER_LAYOUTS[reg]
        index = "POIndex" if "POR" in reg else "PIIndex"
        rep.summary = "; ".join(f"{n}: {lay[f'Perm{n}'].meaning(f[f'Perm{n}'])}" for n in range(16)
                                if not (reg.startswith("POR") and n > 7))
        rep.derived["entries"] = {n: f[f"Perm{n}"] for n in range(16)}
        if reg.startswith("POR"):
            rep.notes.append(f"stage 1 {index} is 3 bits: Perm8..Perm15 are not selected by any descriptor")
    elif reg.startswith("MAIR2"):
        _mair(rep := RegisterReport(reg, v), v)
        rep.summary = "attributes 8..15 (FEAT_AIE: AttrIndx[3] = 1 selects Attr<AttrIndx[2:0]> here)"
    elif reg == "ID_AA64MMFR3_EL1":
        on = [n for n in ("TCRX", "S1PIE", "S2PIE", "S1POE", "S2POE", "AIE", "D128") if f.get(n)]
        rep.summary = "implemented: " + (", ".join(on) or "none of TCR2/PIE/POE/AIE/D128")
    else:
        on = [d.name for d in rep.details if d.value and d.name in ("TCR2En", "PIEn", "AIEn", "D128En", "GCSEn", "HXEn",
                                                                     "SCTLR2En", "GCS", "THE")]
        rep.summary = "set: " + (", ".join(on) or "none of the translation enables")
    return rep


def iter_fields(report: EsrReport) -> Iterable[FieldReport]:
    return iter(report.details)
