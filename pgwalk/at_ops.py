"""The AArch64 AT operations pgwalk emulates, and the small AT facts both AT paths share.

One :class:`ATOp` per operation (which regime, stages, EL and access it checks), the
PSTATE.PAN read from a register set, the PA space (PAR.NS) of an EL3 translation, and which
PAR_EL1 format an operation writes.
The scalar AT (:mod:`pgwalk.at`) and the vectorised AT (:func:`pgwalk.at_many.bulk_at`)
both take them from here, so neither imports the other's internals.
"""

from __future__ import annotations

from .errors import InputError
from .formats import descriptors as D
from .formats import registers as RG
from .par import par_format_d128
from .params import Regime, TranslationSetup, regime_for_el
from .perms import Access
from .records import record
from .walk import Translation

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Mapping

__all__ = ["ATOp", "AT_OPS", "parse_at_op", "pstate_pan", "el3_ns", "par_is_d128"]


@record(frozen=True, slots=True, compiled_init=True)
class ATOp:
    """One AT operation: which regime, stages, EL and access it checks."""

    name: str
    stages: str          # "1" or "12"
    el: int              # EL whose permissions are checked
    access: Access
    pan: bool            # honours PSTATE.PAN (S1E1RP/WP)
    regime_el: int       # EL whose regime it translates in (before E2H/TGE redirection)

    def regime(self, regs: Mapping[str, int]) -> Regime:
        """ASL ``AArch64.AT``: the regime the operation translates in.  Stage 1 and 2 ops (S12E*) always
        use EL1&0; stage 1 ops the regime of their EL (``TranslationRegime``), where EL1 and EL0 mean
        EL2&0 when HCR_EL2.{E2H,TGE} = {1,1} (``ELIsInHost(EL0)``), whatever EL executes the AT."""
        return Regime.EL10 if self.stages == "12" else regime_for_el(self.regime_el, regs)

    @property
    def describe(self) -> str:
        acc = {Access.READ: "read", Access.WRITE: "write", Access.ANY: "no permission check"}[self.access]
        st = "stage 1 + stage 2" if self.stages == "12" else "stage 1"
        pan = ", honours PSTATE.PAN" if self.pan else ""
        return f"AT {self.name}: {st}, EL{self.el} permissions, {acc}{pan}"


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
    if not isinstance(text, str):
        raise InputError(f"AT operation {text!r} is not a string")
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


def pstate_pan(regs: Mapping[str, int]) -> bool:
    """PSTATE.PAN from a register set: ``PSTATE``/``CPSR`` bit 22, or the ``PAN`` register
    (as ``MRS Xt, PAN`` reads it: bit 22; a bare 1 is accepted too)."""
    if "PSTATE" in regs:
        return bool(RG.PSTATE["PAN"].get(regs["PSTATE"]))
    if "PAN" in regs:
        v = regs["PAN"]
        return bool(RG.PSTATE["PAN"].get(v)) or v == 1
    return False


def el3_ns(t: Translation) -> bool:
    """The PA space of an EL3 (Secure) translation: Non-secure once a table descriptor has
    NSTable = 1, else the leaf's NS bit (ASL S1NextWalkStateTable/Leaf); Secure with the MMU off."""
    for s in t.steps:
        if s.stage == 1 and s.kind == "table" and s.raw is not None and D.S1_TABLE["NSTable"].get(s.raw):
            return True
    return t.s1 is not None and bool(D.S1_LEAF["NS"].get(t.s1.raw))


def par_is_d128(setup: TranslationSetup, regime: Regime, op: ATOp) -> bool:
    """Whether ``op`` writes the 128-bit PAR_EL1 format under ``setup`` (:func:`pgwalk.par.par_format_d128`
    with the stages' D128: stage 1's when it is on, stage 2's when there is one)."""
    return par_format_d128(regime, op.stages == "1", setup.s1_enabled and any(p.d128 for p in setup.ranges),
                           setup.s2.d128 if setup.s2 is not None else None)
