"""Software AT instructions and PAR_EL1 (Arm ARM DDI 0487 M.a.a §C5.4, ASL
``AArch64.AT``, ``AArch64.EncodePAR``, ``EncodePARAttrs``, ``PAREncodeShareability``).

:func:`at` runs the walk an AT instruction would run and returns an
:class:`ATResult`: the PAR_EL1 value it leaves, or the exception it raises
instead (a synchronous external abort on the walk is never reported in PAR).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import attrs as A
from .errors import InputError
from .faults import Fault, FaultType
from .formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from .params import Regime, TranslationSetup, regime_for_el, setup_from_registers
from .perms import Access
from .walk import Memory, Translation, translate

__all__ = ["ATOp", "AT_OPS", "parse_at_op", "ATResult", "at", "encode_par", "compare_par", "ParDiff"]


@dataclass(frozen=True, slots=True)
class ATOp:
    """One AT operation: which regime, stages, EL and access it checks."""

    name: str
    stages: str          # "1" or "12"
    el: int              # EL whose permissions are checked
    access: Access
    pan: bool            # honours PSTATE.PAN (S1E1RP/WP)
    regime_el: int       # EL whose regime it translates in (before E2H/TGE redirection)


def _op(name: str, stages: str, el: int, access: Access, pan: bool = False, regime_el: int | None = None) -> ATOp:
    return ATOp(name, stages, el, access, pan, el if regime_el is None else regime_el)


R, W, ANY = Access.READ, Access.WRITE, Access.ANY
#: Every AArch64 AT operation pgwalk emulates (ARM §C5.4; fact sheet §8.2)
AT_OPS = {op.name: op for op in (
    _op("S1E0R", "1", 0, R, regime_el=1), _op("S1E0W", "1", 0, W, regime_el=1),
    _op("S1E1R", "1", 1, R), _op("S1E1W", "1", 1, W),
    _op("S1E1RP", "1", 1, R, True), _op("S1E1WP", "1", 1, W, True),
    _op("S1E1A", "1", 1, ANY),
    _op("S12E0R", "12", 0, R, regime_el=1), _op("S12E0W", "12", 0, W, regime_el=1),
    _op("S12E1R", "12", 1, R), _op("S12E1W", "12", 1, W),
    _op("S1E2R", "1", 2, R), _op("S1E2W", "1", 2, W), _op("S1E2A", "1", 2, ANY),
    _op("S1E3R", "1", 3, R), _op("S1E3W", "1", 3, W), _op("S1E3A", "1", 3, ANY),
)}


def parse_at_op(text: str) -> ATOp:
    """``"at s1e1r"``, ``"S1E1R"`` -> :class:`ATOp`.

    :raises InputError: for an unknown operation
    """
    name = text.strip().upper()
    if name.startswith("AT "):
        name = name[3:].strip()
    try:
        return AT_OPS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, AT_OPS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(f"unknown AT operation {text!r}{hint}") from None


@dataclass(frozen=True, slots=True)
class ATResult:
    """What an AT instruction leaves: a PAR_EL1 value, or an exception instead."""

    op: ATOp
    va: int
    translation: Translation
    par: int | None               # None when the AT raises an exception instead
    exception: str = ""           # why no PAR was written
    regime: Regime = Regime.EL10
    stages_used: str = "1"

    @property
    def faulted(self) -> bool:
        return self.translation.fault is not None


def encode_par(t: Translation, *, secure: bool = False, feat_xs: bool = False) -> int:
    """ASL ``AArch64.EncodePAR`` (64-bit format, no FEAT_RME, Non-secure: NS reads as 1 here,
    the architecture says UNKNOWN)."""
    if t.fault is not None:
        f = t.fault
        return PAR_EL1_FAULT.encode(F=1, FST=f.fsc, PTW=int(f.s1ptw), S=int(f.stage == 2), RES1_11=1)
    out = t.output
    assert out is not None and t.attrs is not None
    return PAR_EL1_OK.encode(F=0, SH=A.par_shareability(t.attrs), NS=0 if secure else 1, NSE=1,
                             PA=(out >> 12) & PAR_EL1_OK["PA"].wmask, ATTR=A.encode_par_attrs(t.attrs, feat_xs))


def at(setup_or_regs, mem: Memory, op: ATOp | str, va: int, *, pan: bool | None = None) -> ATResult:
    """Emulate ``AT <op>, <va>``.

    :param setup_or_regs: a :class:`TranslationSetup` for the op's regime, or a
        register mapping (then the regime is chosen as the op does)
    :param pan: PSTATE.PAN; default from the PSTATE register if given
    """
    if isinstance(op, str):
        op = parse_at_op(op)
    if isinstance(setup_or_regs, TranslationSetup):
        setup = setup_or_regs
        regs = setup.registers
    else:
        regs = setup_or_regs
        setup = None
    regime = regime_for_el(op.regime_el, regs) if regs else (setup.regime if setup else Regime.EL10)
    if setup is None or setup.regime is not regime:
        setup = setup_from_registers(regs, regime)
    if pan is None:
        pan = setup.pan
    stages = op.stages if setup.s2 is not None and op.stages == "12" else "1"
    t = translate(setup, mem, va, stages=stages, access=op.access, el=op.el,
                  pan=op.pan and pan and regime.has_unprivileged)
    if t.fault is not None and t.fault.type is FaultType.SYNC_EXTERNAL_ON_WALK:
        return ATResult(op, va, t, None, "synchronous external abort on the walk: AT takes a Data Abort "
                        "(ESR CM = 1, WnR = 1) instead of writing PAR_EL1", regime, stages)
    return ATResult(op, va, t, encode_par(t, feat_xs=setup.features.xs), regime=regime, stages_used=stages)


@dataclass(frozen=True, slots=True)
class ParDiff:
    """A field-by-field comparison of two PAR_EL1 values."""

    fields: tuple[tuple[str, int, int], ...]   # (name, software, hardware) that differ
    compared: tuple[str, ...]

    @property
    def match(self) -> bool:
        return not self.fields


def compare_par(sw: int, hw: int) -> ParDiff:
    """Compare PAR_EL1 values field by field, ignoring IMPLEMENTATION DEFINED, RES1 and NS bits.

    Fault: F, FST, PTW, S.  Success: F, PA, ATTR, SH.
    """
    f_sw, f_hw = sw & 1, hw & 1
    if f_sw != f_hw:
        return ParDiff((("F", f_sw, f_hw),), ("F",))
    names = ("FST", "PTW", "S") if f_sw else ("PA", "ATTR", "SH")
    layout = PAR_EL1_FAULT if f_sw else PAR_EL1_OK
    diffs = tuple((n, layout[n].get(sw), layout[n].get(hw)) for n in names
                  if layout[n].get(sw) != layout[n].get(hw))
    return ParDiff(diffs, ("F",) + names)
