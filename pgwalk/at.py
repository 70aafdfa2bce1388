"""Software AT instructions and PAR_EL1 (Arm ARM DDI 0487 M.a.a §C5.4, ASL
``AArch64.AT``, ``AArch64.EncodePAR``, ``EncodePARAttrs``, ``PAREncodeShareability``).

:func:`at` runs the walk an AT instruction would run and returns an
:class:`ATResult`: the PAR_EL1 value it leaves, or the exception it raises
instead (a synchronous external abort on the walk is never reported in PAR;
nor is a stage 2 fault on the stage 1 walk of an AT executed at EL1).

:func:`compare_par` compares a captured PAR_EL1 with the software one field
by field, and :func:`explain_mismatch` looks for what could explain a
difference: a descriptor that changed after the AT (stale TLB), another
MAIR or TCR value, a permission or PAN effect, the captured PA mapped
elsewhere in the tree, or a known departure from the architecture (QEMU 7.2,
errata-like fault level/type differences).

:class:`ATBatch` runs JSON Lines batches (``pgwalk at --batch``): the memory
is opened once and every distinct register state is decoded once; large batches
are walked group by group (register state, op, PAN) by :func:`pgwalk.at_many.bulk_at`.
"""

from __future__ import annotations

import bisect
import functools
import json

from . import attrs as A
from .errors import InputError, PgwalkError
from .faults import FaultType, decode_fsc
from .formats import descriptors as D
from .formats import registers as RG
from .formats.registers import PAR_EL1_D128, PAR_EL1_D128_PA, PAR_EL1_FAULT, PAR_EL1_OK
from .params import Regime, TranslationSetup, oa_out_of_range, regime_for_el, setup_from_registers
from .perms import Access, pan_applies
from .at_ops import AT_OPS, ATOp, el3_ns, par_is_d128, parse_at_op, pstate_pan
from .par import pack_par
from .records import field, named_tuple, record
from .rules import level_shift, with_leaf_base
from .walk import Memory, Translation, translate

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

__all__ = [
    "ATOp", "AT_OPS", "parse_at_op", "ATResult", "at", "encode_par", "par_decode", "compare_par", "ParDiff",
    "Reason", "explain_mismatch", "EXPLAIN_LEVELS", "known_departures", "BatchLine", "parse_batch_line", "ATBatch",
    "parse_batch_lines", "BatchOutcome", "BULK_MIN_LINES",
    "result_to_dict", "parse_captured_par", "pstate_pan", "CAPTURED_EXCEPTION",
]


# --------------------------------------------------------------------------- AT itself

@record(frozen=True, slots=True, compiled_init=True)
class ATResult:
    """What an AT instruction leaves: a PAR_EL1 value, or an exception instead."""

    op: ATOp
    va: int
    translation: Translation
    par: int | None               # None when the AT raises an exception instead
    exception: str = ""           # why no PAR was written
    regime: Regime = Regime.EL10
    stages_used: str = "1"
    pan: bool = False             # PSTATE.PAN as the AT saw it
    notes: tuple[str, ...] = ()

    @property
    def faulted(self) -> bool:
        return self.translation.fault is not None


def _unknown_mair(regime, va: int | None):
    """PAR_EL1.ATTR is the MAIR byte the leaf's AttrIndx selects: without MAIR it is unknown."""
    from .errors import UnknownRegister

    name = {"EL1&0": "MAIR_EL1", "EL3": "MAIR_EL3"}.get(regime.value, "MAIR_EL2")
    return UnknownRegister(name, va, f"PAR_EL1.ATTR is the {name} byte the leaf's AttrIndx selects; "
                                     f"give it with --reg {name}=VALUE", what="PAR_EL1 cannot be encoded")


def encode_par(t: Translation, *, secure: bool = False, feat_xs: bool = False, d128: bool = False) -> int:
    """ASL ``AArch64.EncodePAR`` (no FEAT_RME): the 64-bit format, or with ``d128`` the 128-bit
    VMSAv9-128 one (:func:`pgwalk.par.par_format_d128`).

    From a Non-secure regime PAR.NS is UNKNOWN; pgwalk writes 1 (as QEMU does).
    PAR[10] (IMPLEMENTATION DEFINED) and the faulting PAR's bits [63:48] are 0.
    """
    if t.fault is not None:
        f = t.fault
        return pack_par(True, fst=f.fsc, s1ptw=f.s1ptw, stage2=f.stage == 2, overlay=f.overlay,
                        dirty_bit=f.dirty_bit, assured_only=f.assured_only, toplevel=f.toplevel, d128=d128)
    out = t.output
    if t.attrs is None:
        raise _unknown_mair(t.regime, t.va)
    assert out is not None
    return pack_par(False, sh=A.par_shareability(t.attrs), ns=not secure, attr=A.encode_par_attrs(t.attrs, feat_xs),
                    pa=out, d128=d128)


_S2FS1_AT_EL1 = ("a stage 2 fault on the stage 1 walk of an AT executed at EL1 is taken as a Data Abort "
                 "to EL2 (ASL AArch64.AT: PSTATE.EL == EL1 && fault.s2fs1walk); PAR_EL1 is UNKNOWN")


def at(setup_or_regs: TranslationSetup | Mapping[str, int], mem: Memory, op: ATOp | str, va: int, *,
       pan: bool | None = None, exec_el: int | None = None) -> ATResult:
    """Emulate ``AT <op>, <va>``.

    :param setup_or_regs: a :class:`TranslationSetup` (reused when its regime is the op's), or a
        register mapping (the regime is chosen as the op does: ASL ``AArch64.AT``)
    :param pan: PSTATE.PAN; default from the PSTATE/CPSR (or PAN) register if given
    :param exec_el: the EL that executes the AT.  ``None`` (default) reports every fault in PAR as
        an AT executed at EL2 or EL3 does (the QEMU oracle ran at EL2); 1 makes a stage 2
        fault on the stage 1 walk an exception, as the architecture does for AT at EL1.
    """
    if isinstance(op, str):
        op = parse_at_op(op)
    if isinstance(setup_or_regs, TranslationSetup):
        setup: TranslationSetup | None = setup_or_regs
        regs = setup_or_regs.registers
    else:
        regs = setup_or_regs
        setup = None
    if exec_el is not None:
        if exec_el not in (1, 2, 3):
            raise InputError(f"AT executes at EL1, EL2 or EL3, not EL{exec_el} (UNDEFINED at EL0)")
        if exec_el < op.regime_el or (op.stages == "12" and exec_el < 2):
            need = max(op.regime_el, 2 if op.stages == "12" else 1)
            raise InputError(f"AT {op.name} is UNDEFINED at EL{exec_el} (it needs EL{need}; "
                             "EL1 with HCR_EL2.NV = 1 traps it)")
    regime = op.regime(regs) if regs else (setup.regime if setup else Regime.EL10)
    if setup is None or setup.regime is not regime:
        setup = setup_from_registers(regs, regime)
    if pan is None:
        pan = pstate_pan(regs)
    notes: list[str] = []
    if op.pan and setup.features.pan < 2:
        notes.append(f"AT {op.name} needs FEAT_PAN2 (ID_AA64MMFR1_EL1.PAN >= 2): UNDEFINED on this PE")
    stages = op.stages if setup.s2 is not None and op.stages == "12" else "1"
    if op.stages == "12" and stages == "1":
        notes.append(f"stage 2 is off for this regime: AT {op.name} behaves as AT S1E{op.el}{op.name[-1]}")
    t = translate(setup, mem, va, stages=stages, access=op.access, el=op.el,
                  pan=pan_applies(op.pan and pan, op.access, regime))   # (only the PAN-aware ops: S1E1RP, S1E1WP)
    f = t.fault
    if f is not None and f.type is FaultType.SYNC_EXTERNAL_ON_WALK:
        why = ("synchronous external abort on the walk: AT takes a Data Abort (ESR CM = 1, WnR = 1) "
               "instead of writing PAR_EL1")
        if f.not_in_image:
            why += f" ({f.reason}: the image lacks it, or it is not memory)"
        return ATResult(op, va, t, None, why, regime, stages, bool(pan), tuple(notes))
    if f is not None and f.s1ptw and f.stage == 2 and exec_el == 1:
        return ATResult(op, va, t, None, _S2FS1_AT_EL1, regime, stages, bool(pan), tuple(notes))
    # PAR.NS of an EL3 (Secure) translation is its PA space (at_ops.el3_ns)
    d128 = par_is_d128(setup, regime, op)
    par = encode_par(t, secure=regime is Regime.EL3 and not el3_ns(t), feat_xs=setup.features.xs, d128=d128)
    return ATResult(op, va, t, par, regime=regime, stages_used=stages, pan=bool(pan), notes=tuple(notes))


# --------------------------------------------------------------------------- decoding and comparing

_SH_TEXT = {0: "Non-shareable", 1: "reserved", 2: "Outer Shareable", 3: "Inner Shareable"}


@functools.lru_cache(maxsize=256)
def _attr_text(attr: int) -> str:
    from .esr import mair_attr_meaning

    return mair_attr_meaning(attr)


@functools.lru_cache(maxsize=4096)
def par_decode(par: int) -> dict[str, Any]:
    """A compact decode of PAR_EL1 (the ``decode`` object of ``pgwalk at --json``), the 64-bit format
    or FEAT_D128's 128-bit one (PAR.D128, bit 64, = 1: ``"D128": 1`` and PA[55:12] from bits [119:76]).

    Success: ``{"F": 0, "PA": "0x...", "ATTR": "0xff", "attr": text, "SH": 3, "sh": text, "NS": 1,
    "summary": text}``; fault: ``{"F": 1, "FST": "0x07", "fault": text, "PTW": 0, "S": 0, "summary": text}``.
    (Cached: treat the result as read-only.)
    """
    if par & 1:
        L = PAR_EL1_FAULT
        fst, ptw, s = L["FST"].get(par), L["PTW"].get(par), L["S"].get(par)
        info = decode_fsc(fst)
        text = info.description
        summary = f"fault: stage {2 if s else 1} {text}" + (" on the stage 1 walk" if ptw else "")
        flags = [name for name in _FAULT_EXTRA if L[name].get(par)]
        if flags:
            summary += f" ({', '.join(flags)})"
        d = {"F": 1, "FST": f"{fst:#04x}", "fault": text, "PTW": ptw, "S": s, "summary": summary}
        d.update((name, 1) for name in flags)
        if PAR_EL1_D128.get(par):
            d["D128"] = 1
        return d
    L = PAR_EL1_OK
    d128 = PAR_EL1_D128.get(par)
    pa = _par_pa(par)
    attr, sh = L["ATTR"].get(par), L["SH"].get(par)
    text = _attr_text(attr)
    d = {"F": 0, "PA": f"{pa:#x}", "ATTR": f"{attr:#04x}", "attr": text, "SH": sh, "sh": _SH_TEXT[sh],
         "NS": L["NS"].get(par), "summary": f"PA {pa:#x}, {text}, {_SH_TEXT[sh]}"}
    if d128:
        d["D128"] = 1
    return d


#: A captured "PAR" meaning the AT raised an exception instead of writing PAR_EL1
CAPTURED_EXCEPTION = "exception"


def parse_captured_par(value: Any, what: str = "captured PAR") -> int | str:
    """A captured PAR_EL1: a number (int or string) of 64 bits, or 128 with FEAT_D128, or
    ``"exception"``."""
    if isinstance(value, str) and value.strip().lower() in (CAPTURED_EXCEPTION, "abort", "data abort"):
        return CAPTURED_EXCEPTION
    from .regs import parse_register_value

    return parse_register_value("PAR_EL1", value, what)


@record(frozen=True, slots=True, compiled_init=True)
class ParDiff:
    """A field-by-field comparison of two PAR_EL1 values (software vs captured).

    ``fields`` are the (name, software, hardware) triples that differ; ``compared``
    the names compared; ``ignored`` the names shown but not compared (NS from a
    Non-secure regime, IMPLEMENTATION DEFINED bits); ``warnings`` oddities of the
    captured value (RES1 bit 11 clear, RES0 bits set).  A side that is
    :data:`CAPTURED_EXCEPTION` or ``None`` (no PAR, an exception) compares as "exception".
    """

    fields: tuple[tuple[str, Any, Any], ...]
    compared: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def match(self) -> bool:
        return not self.fields

    def to_json(self) -> list[dict[str, Any]]:
        return [{"field": n, "software": _jv(n, s), "hardware": _jv(n, h)} for n, s, h in self.fields]


def _jv(name: str, v: Any) -> Any:
    """JSON form of a field value: PA as the page address, ATTR/FST in hex."""
    if isinstance(v, int) and name in ("PA", "ATTR", "FST"):
        return f"{v << 12:#x}" if name == "PA" else f"{v:#04x}"
    return v


_FAULT_EXTRA = ("DirtyBit", "Overlay", "TopLevel", "AssuredOnly")


def _par_pa(par: int) -> int:
    """The output address of a successful PAR: PA[55:12] from [119:76] in the 128-bit format
    (PAR.D128, bit 64, set), else PA[51:12] from [51:12]."""
    return (PAR_EL1_D128_PA if PAR_EL1_D128.get(par) else PAR_EL1_OK["PA"]).get(par) << 12


def compare_par(sw: int | str | None, hw: int | str | None, *, compare_ns: bool = False) -> ParDiff:
    """Compare PAR_EL1 values field by field.

    Fault: F, FST, PTW, S (and DirtyBit/Overlay/TopLevel/AssuredOnly when either is set).
    Success: F, PA, ATTR, SH, and NS only with ``compare_ns`` (a Secure regime: from a
    Non-secure regime PAR.NS is UNKNOWN).  Never PAR[10] or the faulting PAR's [63:48]
    (IMPLEMENTATION DEFINED) or bit 11 (RES1/NSE).  128-bit PARs (FEAT_D128): the format bit
    D128 too, and the PA from its own field (:func:`_par_pa`).
    """
    sw_x = sw is None or sw == CAPTURED_EXCEPTION
    hw_x = hw is None or hw == CAPTURED_EXCEPTION
    if sw_x or hw_x:
        if sw_x and hw_x:
            return ParDiff((), ("exception",))
        return ParDiff((("exception", "yes" if sw_x else "no (PAR written)", "yes" if hw_x else "no (PAR written)"),),
                       ("exception",))
    assert isinstance(sw, int) and isinstance(hw, int)
    warnings = []
    if not (hw >> 11) & 1:
        warnings.append("captured PAR bit 11 is 0 (RES1 without FEAT_RME)")
    f_sw, f_hw = sw & 1, hw & 1
    if f_sw != f_hw:
        return ParDiff((("F", f_sw, f_hw),), ("F",), (), tuple(warnings))
    d_sw, d_hw = PAR_EL1_D128.get(sw), PAR_EL1_D128.get(hw)
    if d_sw != d_hw:
        return ParDiff((("D128", d_sw, d_hw),), ("F", "D128"), (), tuple(warnings))
    wide = PAR_EL1_D128.mask | (0 if f_sw else PAR_EL1_D128_PA.mask) if d_sw else 0
    if f_sw:
        layout = PAR_EL1_FAULT
        names = ["FST", "PTW", "S"] + [n for n in _FAULT_EXTRA if layout[n].get(sw) or layout[n].get(hw)]
        ignored = ["IMPDEF[63:48]"]
        if hw & ~(layout.defined_mask | wide):
            warnings.append(f"captured PAR has RES0 bits set: {hw & ~(layout.defined_mask | wide):#x}")
    else:
        layout = PAR_EL1_OK
        names = ["PA", "ATTR", "SH"] + (["NS"] if compare_ns else [])
        ignored = ([] if compare_ns else ["NS"]) + ["IMPDEF[10]"]
        if hw & ~(layout.defined_mask | wide):
            warnings.append(f"captured PAR has RES0 bits set: {hw & ~(layout.defined_mask | wide):#x}")

    def get(name: str, par: int) -> int:
        return _par_pa(par) >> 12 if name == "PA" and not f_sw else layout[name].get(par)

    diffs = tuple((n, get(n, sw), get(n, hw)) for n in names if get(n, sw) != get(n, hw))
    return ParDiff(diffs, tuple(["F"] + (["D128"] if d_sw else []) + names), tuple(ignored), tuple(warnings))


# --------------------------------------------------------------------------- explaining a mismatch

@record(frozen=True, slots=True, compiled_init=True)
class Reason:
    """One possible explanation of a mismatch.

    :ivar kind: ``known-departure``, ``fault-level``, ``fault-type``, ``stale-descriptor``,
        ``permission``, ``pan``, ``mair``, ``tcr``, ``reverse-lookup``, ``not-in-image``,
        ``attributes``, ``exception``
    :ivar confirmed: pgwalk re-ran the AT under the hypothesis and got exactly the captured PAR
    :ivar category: for ``known-departure``: the MANIFEST-style category name
    """

    kind: str
    text: str
    confirmed: bool = False
    category: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "text": self.text, "confirmed": self.confirmed}
        if self.category:
            d["category"] = self.category
        return d


class _Overlay:
    """Memory with some descriptors replaced (hypothetical ones): both reads of the
    :class:`~pgwalk.memory_protocol.Memory` protocol see them.  ``words`` maps an address to the
    descriptor value there, ``width`` bytes (16: a VMSAv9-128 descriptor), stored in the tables'
    byte order (``big_endian``: SCTLR_ELx.EE; a 128-bit one as one value, as the walk reads it)."""

    def __init__(self, mem: Memory, words: Mapping[int, int], *, big_endian: bool = False, width: int = 8):
        self.mem = mem
        self.width = width
        order = "big" if big_endian else "little"
        self.words = {pa: v.to_bytes(width, order) for pa, v in words.items()}

    def read_u64(self, pa: int, big_endian: bool = False) -> int:
        if not any(pa - self.width < w < pa + 8 for w in self.words):
            return self.mem.read_u64(pa, big_endian)
        return int.from_bytes(self.read(pa, 8), "big" if big_endian else "little")

    def read(self, pa: int, size: int) -> bytes:
        n = self.width
        hits = [w for w in self.words if pa - n < w < pa + size]
        if not hits:
            return self.mem.read(pa, size)
        out = bytearray(size)
        # the bytes of the patched words need not exist in the memory; the others must
        cur = pa
        for w in sorted(hits) + [pa + size]:
            if w > cur:
                out[cur - pa:w - pa] = self.mem.read(cur, w - cur)
            cur = max(cur, w + n)
        for w in hits:
            lo, hi = max(w, pa), min(w + n, pa + size)
            out[lo - pa:hi - pa] = self.words[w][lo - w:hi - w]
        return bytes(out)


def _rerun(res: ATResult, setup: TranslationSetup, mem: Memory, *, regs: Mapping[str, int] | None = None,
           op: ATOp | None = None, pan: bool | None = None) -> int | None:
    try:
        r = at(setup if regs is None else regs, mem, op or res.op, res.va,
               pan=res.pan if pan is None else pan)
    except PgwalkError:
        return None
    return r.par


def _matches(par: int | None, hw: int) -> bool:
    return par is not None and compare_par(par, hw).match


def _fault_of(par: int) -> tuple[FaultType | None, int | None, int, bool]:
    fst = PAR_EL1_FAULT["FST"].get(par)
    info = decode_fsc(fst)
    return info.type, info.level, 2 if PAR_EL1_FAULT["S"].get(par) else 1, bool(PAR_EL1_FAULT["PTW"].get(par))


def _fault_words(par: int) -> str:
    """The fault a PAR_EL1 (fault format) reports, in words: ``stage 2 level 1 translation fault
    on the stage 1 walk``; no level for the kinds without one, the FST for an encoding that
    names no fault."""
    fst = PAR_EL1_FAULT["FST"].get(par)
    info = decode_fsc(fst)
    what = info.description if info.type is not None else f"FST {fst:#04x} ({info.description})"
    return (f"stage {2 if PAR_EL1_FAULT['S'].get(par) else 1} {what}"
            + (" on the stage 1 walk" if PAR_EL1_FAULT["PTW"].get(par) else ""))


def _impossible_capture(res: ATResult, hw: int | str, setup: TranslationSetup) -> list[Reason]:
    """A captured PAR_EL1 that this AT cannot have written, whatever the tables held: an FST
    that names no fault, a stage 2 fault with stage 2 off, PTW without S.  No re-walk can
    explain such a value, so no hypothesis is tried."""
    if not isinstance(hw, int) or not hw & 1:
        return []
    out = []
    fst = PAR_EL1_FAULT["FST"].get(hw)
    info = decode_fsc(fst)
    s, ptw = PAR_EL1_FAULT["S"].get(hw), PAR_EL1_FAULT["PTW"].get(hw)
    if info.type is None:
        out.append(Reason("impossible-capture", f"the captured FST {fst:#04x} is {info.description}: no AT reports "
                          "it, so the value is not a PAR_EL1 this AT wrote (another register, or a corrupted capture)"))
    if s and (setup.s2 is None or res.regime is not Regime.EL10):
        why = ("the EL1&0 regime's stage 2 is off (HCR_EL2.VM and DC are 0)" if res.regime is Regime.EL10
               else f"the {res.regime.value} regime has no stage 2")
        out.append(Reason("impossible-capture", f"the captured PAR reports a stage 2 fault (S = 1), but {why}: "
                          "the AT ran under other registers, or the value is not a PAR_EL1"))
    elif ptw and not s:
        out.append(Reason("impossible-capture", "the captured PAR has PTW = 1 (a stage 2 fault on the stage 1 walk) "
                          "with S = 0 (a stage 1 fault): no AT reports that combination"))
    return out


def _regime_el(regime: Regime) -> str:
    return {Regime.EL10: "EL1", Regime.EL20: "EL2", Regime.EL2: "EL2", Regime.EL3: "EL3"}[regime]


def _leaf_step(t: Translation, stage: int):
    for s in reversed(t.steps):
        if s.stage == stage and s.kind in ("block", "page"):
            return s
    return None


def _s2_rejections(hw: int, setup: TranslationSetup) -> list[Reason]:
    """A stage 2 level 0 Translation fault for a start level the architecture accepts."""
    htype, hlevel, hstage, _ = _fault_of(hw)
    s2 = setup.s2
    if hstage != 2 or htype is not FaultType.TRANSLATION or hlevel != 0 or s2 is None or s2.config_fault:
        return []
    if s2.granule_shift == 14 and s2.start_level == 0:
        return [Reason("known-departure", "the hardware rejected a 16KB stage 2 walk starting at level 0 (VTCR_EL2.DS = 1, "
                       "SL0 = 0b11), which FEAT_LPA2 allows (ASL AArch64.S2InvalidSL is FALSE for it)",
                       category="qemu_rejects_s2_16k_level0")]
    if s2.start_level == -1:
        return [Reason("known-departure", f"the hardware rejected a stage 2 walk starting at level -1 with a "
                       f"{s2.iasize}-bit IPA; ASL AArch64.S2InconsistentSL accepts 49..52 bits at level -1",
                       category="qemu_rejects_s2_level-1_ipa_lt_52")]
    return []


def _device_rank(attr: int) -> int | None:
    """0 nGnRnE .. 3 GRE for a MAIR Device byte, else None."""
    return (attr >> 2) & 3 if attr >> 4 == 0 else None


def _attr_departures(res: ATResult, hw: int, setup: TranslationSetup) -> list[Reason]:
    """Combined stage 1 + stage 2 attributes that differ from the captured ATTR."""
    t = res.translation
    s2, s2p = t.s2, setup.s2
    if s2 is None or s2p is None or t.attrs is None:
        return []
    hattr = PAR_EL1_OK["ATTR"].get(hw)
    sattr = A.encode_par_attrs(t.attrs, setup.features.xs)
    memattr = D.S2_LEAF["MemAttr"].get(s2.raw)
    if t.s1 is not None:
        s1m = t.s1.attrs
    elif setup.dc:
        s1m = A.NORMAL_WB
    else:
        s1m = A.DEVICE_nGnRnE
    s1a = A.encode_par_attrs(s1m, setup.features.xs)
    hdesc = f"{hattr:#04x} ({_attr_text(hattr)})"
    if s2p.fwb:
        if memattr & 0b1000 and hattr == 0:
            return [Reason("known-departure", f"HCR_EL2.FWB = 1 and the stage 2 descriptor has MemAttr[3] (bit 5) set "
                           f"(MemAttr = {memattr:#06b}); with FWB that bit is RES0 and AArch64.S2ApplyFWBMemAttrs looks "
                           f"only at MemAttr[2:0], giving {t.attrs.describe()}; the hardware forced Device-nGnRnE "
                           "(QEMU 7.2 treats it as a reserved encoding)", category="fwb_memattr3_res0")]
        if not memattr & 0b100 and s1m.is_device and _device_rank(hattr) == memattr & 3:
            return [Reason("known-departure", f"HCR_EL2.FWB = 1, stage 2 Device-{A.DEVICE_TYPES[memattr & 3]} and stage 1 "
                           f"{s1m.describe()}: S2CombineS1Device keeps the more restrictive type "
                           f"({t.attrs.describe()}); the hardware took the stage 2 type {hdesc}",
                           category="attr_combine_fwb")]
    else:
        s2m = s2.attrs
        if s1m.is_device != s2m.is_device and _device_rank(hattr) is not None and _device_rank(sattr) is not None:
            normal = s2m if s1m.is_device else s1m
            return [Reason("known-departure", f"one stage is Device ({t.attrs.describe()}) and the other Normal "
                           f"({normal.describe()}): S2CombineS1MemAttrs gives the Device stage's type; the hardware "
                           f"reported {hdesc}, as if the Normal attribute's inner nibble were a Device type (QEMU 7.2 "
                           "combined_attrs_nofwb)", category="attr_combine_device")]
        if not s1m.is_device and not s2m.is_device and hattr != sattr:
            for sh in (0, 4):
                sn, hn = (sattr >> sh) & 0xF, (hattr >> sh) & 0xF
                if sn >> 2 == 0b00 and hn >> 2 == 0b10 and sn & 3 == hn & 3:
                    return [Reason("known-departure", f"stage 1 {s1m.describe()} with stage 2 Write-Through: "
                                   "S2CombineS1AttrHints keeps stage 1's allocation hints and transient hint (WT "
                                   f"transient, {sattr:#04x}); the hardware reported non-transient {hdesc} (QEMU 7.2)",
                                   category="attr_combine_normal_hints")]
    how = "AArch64.S2ApplyFWBMemAttrs (FWB = 1)" if s2p.fwb else "S2CombineS1MemAttrs (FWB = 0)"
    return [Reason("attributes", f"combined attributes differ: stage 1 {s1m.describe()} and stage 2 MemAttr "
                   f"{memattr:#06b} give {t.attrs.describe()} ({sattr:#04x}) by {how}; the hardware reported {hdesc}",
                   category="attr_combine")]


def known_departures(res: ATResult, hw: int | str, setup: TranslationSetup) -> list[Reason]:
    """Recognise differences that follow a known pattern where an implementation (QEMU 7.2's
    MMU model in particular) departs from the architecture, or an erratum-like fault
    level/type difference.  Cheap: no re-walks."""
    out: list[Reason] = []
    t = res.translation
    f = t.fault
    if hw == CAPTURED_EXCEPTION:
        if res.par is not None:
            out.append(Reason("exception", "the captured AT raised an exception instead of writing PAR_EL1: the hardware "
                              "walk read a descriptor address that is not memory (synchronous external abort), or the "
                              "AT ran at EL1 and took a stage 2 fault on the stage 1 walk (try --exec-el 1)"))
        return out
    assert isinstance(hw, int)
    if res.par is None:
        if f is not None and f.not_in_image:
            out.append(Reason("not-in-image", f"the software walk stops at {f.reason} (a synchronous external abort: "
                              "no PAR); the hardware wrote a PAR, so it never read that address (or the image lacks "
                              "memory the walk needs)", category="not_in_image"))
        else:
            out.append(Reason("exception", f"the architecture raises an exception here ({res.exception}); the captured "
                              "PAR says the hardware did not"))
        if hw & 1:
            out += _s2_rejections(hw, setup)
        return out
    sw = res.par
    hcr = setup.registers.get("HCR_EL2", 0)
    if t.s1_disabled and res.regime is Regime.EL10 and RG.HCR_EL2["TGE"].get(hcr) and not RG.HCR_EL2["E2H"].get(hcr):
        out.append(Reason("known-departure", "HCR_EL2.TGE = 1 disables the EL1&0 stage 1 whatever EL executes the AT "
                          "(ASL AArch64.S1Enabled: HCR_EL2.<DC,TGE> must be '00'), so the result is the flat stage 1 "
                          "disabled one; the hardware walked the EL1&0 tables (QEMU 10 does for an AT at EL3)",
                          category="qemu_tge_el10_stage1_walks"))
        return out
    if not (sw & 1) and not (hw & 1):
        same_pa = _par_pa(sw) == _par_pa(hw)
        same_attr = PAR_EL1_OK["ATTR"].get(sw) == PAR_EL1_OK["ATTR"].get(hw)
        sh_sw, sh_hw = PAR_EL1_OK["SH"].get(sw), PAR_EL1_OK["SH"].get(hw)
        m = t.attrs
        if same_pa and same_attr and sh_sw != sh_hw and m is not None:
            if sh_sw == 0b10 and (m.is_device or (m.inner.attrs == A.NC and m.outer.attrs == A.NC)):
                out.append(Reason("known-departure", f"the result is {m.describe()}: PAREncodeShareability reports "
                                  f"0b10 (Outer Shareable) for Device and Normal Non-cacheable memory; the hardware "
                                  f"reported SH = {sh_hw:#04b} (the descriptor/TCR field, as QEMU 7.2 does for "
                                  "stage-1-only results)", category="par_sh_reporting"))
            elif t.s1_disabled and res.stages_used == "12" and setup.s2 is not None and not setup.dc:
                out.append(Reason("known-departure", "stage 1 is disabled: ASL AArch64.S1DisabledOutput gives "
                                  "Device-nGnRnE, Outer Shareable, and S2CombineS1Shareability keeps OSH through "
                                  "the stage 2 attributes (here a Normal result); the hardware reported SH = "
                                  f"{sh_hw:#04b} (QEMU 7.2 gives the MMU-off result Non-shareable)",
                                  category="s1_off_shareability"))
        if same_pa and not same_attr and res.stages_used == "12":
            out += _attr_departures(res, hw, setup)
        return out
    if hw & 1:
        out += _s2_rejections(hw, setup)
    if sw & 1 and hw & 1:
        stype, slevel, sstage, sptw = _fault_of(sw)
        htype, hlevel, hstage, hptw = _fault_of(hw)
        if stype is htype and sstage == hstage and sptw == hptw and slevel != hlevel:
            if sptw and sstage == 2:
                s1lvl = next((s.level for s in reversed(t.steps) if s.stage == 1), None)
                if s1lvl == hlevel:
                    out.append(Reason("known-departure", f"stage 2 fault on the stage 1 walk: the architecture reports "
                                      f"the stage 2 lookup level ({slevel}); the hardware reported the level of the stage 1 "
                                      f"lookup ({hlevel}) (QEMU 7.2 do_fault overwrites it)",
                                      category="qemu_s2_ptw_fault_level"))
            if not out:
                out.append(Reason("fault-level", f"same fault type, different level: software level {slevel}, hardware "
                                  f"level {hlevel}: an erratum-like difference, or a table changed after the AT"))
        elif (stype, slevel, sstage, sptw) != (htype, hlevel, hstage, hptw):
            out.append(Reason("fault-type", f"software: {_fault_words(sw)}; hardware: {_fault_words(hw)}"))
    if sw & 1 and f is not None:
        last = next((s for s in reversed(t.steps) if s.stage == f.stage and s.level == f.level
                     and s.kind != "s2 fault"), None)
        if f.type is FaultType.TRANSLATION and last is not None and last.kind == "illegal block":
            out.append(Reason("known-departure", f"the level {f.level} descriptor {last.raw:#x} is a block where "
                              "the architecture allows none (AArch64.BlockDescSupported is FALSE, so "
                              "DecodeDescriptorType gives Invalid: a Translation fault); the hardware used it as a "
                              "block (QEMU 7.2 never checks block legality)", category="qemu_accepts_illegal_block"))
        if f.type is FaultType.ADDRESS_SIZE and last is not None and last.raw is not None:
            p = setup.s2 if f.stage == 2 else setup.s1_params(res.va) if setup.s1_enabled else None
            if p is not None and last.kind == "block" and not oa_out_of_range(last.next_addr, p.oa_bits):
                size = 1 << level_shift(last.level, p.granule_shift, p.d128)
                out.append(Reason("known-departure", f"the level {f.level} block at {last.next_addr:#x} covers "
                                  f"{size:#x} bytes, more than the {p.oa_bits}-bit output size: ASL S1Walk/S2Walk test "
                                  "the output address itself (StageOA: the base with the input address bits below the "
                                  "block size) with OAOutOfRange, and this one is beyond it; the hardware checked "
                                  "only the block's base (QEMU)", category="oa_beyond_ps_within_block"))
            if p is not None and p.oa_bits < 52:
                hi = 0
                if p.lpa64:
                    hi = D.LPA_OA_51_48.get(last.raw)
                elif p.ds:
                    hi = D.DS_OA_51_50.get(last.raw)
                if hi:
                    out.append(Reason("known-departure", f"the level {f.level} descriptor has OA[51:{48 if p.lpa64 else 50}] "
                                      f"= {hi:#x} with a {p.oa_bits}-bit output size: an Address size fault "
                                      "(AArch64.S1OAOutOfRange on the NextTableBase/LeafBase address); the hardware "
                                      "ignored those bits", category="oa_hi_bits_ps_lt_52"))
    return out


def _d128(p: Any) -> bool:
    """The stage parameters ``p`` (None: no such stage) walk VMSAv9-128 tables."""
    return p is not None and p.d128


def _stale_descriptor(res: ATResult, hw: int, setup: TranslationSetup, mem: Memory) -> list[Reason]:
    """Would one descriptor of this walk, changed, give the captured PAR?  (A table changed
    after the AT, or the AT used a stale TLB entry.)"""
    t = res.translation
    out: list[Reason] = []
    steps = [s for s in t.steps if s.raw is not None and s.desc_pa is not None]
    if not steps:
        return out
    def p_of(stage: int):
        return setup.s2 if stage == 2 else (setup.s1_params(res.va) if setup.s1_enabled else None)

    def try_words(step, candidates: Iterable[tuple[int, str]]) -> Reason | None:
        p = p_of(step.stage)
        big_endian = bool(p is not None and p.ee)          # the byte order the walk reads this table in
        for raw, what in candidates:
            if raw == step.raw:
                continue
            over = _Overlay(mem, {step.desc_pa: raw}, big_endian=big_endian, width=16 if _d128(p) else 8)
            if _matches(_rerun(res, setup, over), hw):
                where = f"stage {step.stage} level {step.level} descriptor at PA {step.desc_pa:#x}"
                return Reason("stale-descriptor", f"the {where} now reads {step.raw:#x}; {what} ({raw:#x}) it gives "
                              "exactly the captured PAR: the table changed after the AT (or the AT hit a stale TLB "
                              "entry)", confirmed=True)
        return None

    if hw & 1:
        htype, hlevel, hstage, hptw = _fault_of(hw)
        cands = [s for s in steps if s.level == hlevel and (s.stage == hstage if not hptw else s.stage == 2)]
        for step in cands[-2:]:
            c: list[tuple[int, str]] = []
            if htype is FaultType.TRANSLATION:
                c.append((0, "as an invalid descriptor"))
            elif htype is FaultType.ACCESS_FLAG:
                c.append((step.raw & ~D.S1_LEAF["AF"].mask, "with AF = 0"))
            elif htype is FaultType.PERMISSION and not _d128(p_of(step.stage)):
                fld = D.S2_LEAF["S2AP"] if step.stage == 2 else D.S1_LEAF["AP"]      # (VMSAv9-128: PIIndex)
                c.extend((fld.put(step.raw, ap), f"with {fld.name} = {ap:#04b}") for ap in range(4))
            elif htype is FaultType.ADDRESS_SIZE and step.kind in ("block", "page", "table"):
                p = p_of(step.stage)
                if p is not None and p.oa_bits < 52:
                    c.append((step.raw | (1 << min(47, p.oa_bits)), f"with output address bit {min(47, p.oa_bits)} set"))
            r = try_words(step, c)
            if r:
                out.append(r)
                return out
        if res.par is not None and not res.par & 1 and hlevel is not None:
            on_walk = [s for s in steps if s.stage == (2 if hptw else hstage) and s.level == hlevel
                       and (s.s1_level is not None) == bool(hptw)]
            seen = dict.fromkeys((s.desc_pa, s.raw) for s in on_walk)
            where = ", ".join(f"PA {a:#x} = {r:#x}" for a, r in list(seen)[:3]) or "none on this walk"
            what = _fault_words(hw)
            out.append(Reason("stale-descriptor", f"the hardware took a {what} where the current tables "
                              f"translate: a descriptor changed after the AT (or a stale TLB/walk cache entry); "
                              f"stage {2 if hptw else hstage} level {hlevel} descriptors read now: {where}"))
            return out
        # a fault the hardware saw at a level the software walk never reached
        deepest = max((s.level for s in steps if s.stage == hstage), default=None)
        if htype is FaultType.TRANSLATION and deepest is not None and hlevel is not None and hlevel < deepest:
            step = next((s for s in steps if s.stage == hstage and s.level == hlevel), None)
            if step is not None:
                out.append(Reason("stale-descriptor", f"the hardware found no valid descriptor at stage {hstage} level "
                                  f"{hlevel}; the one at PA {step.desc_pa:#x} now reads {step.raw:#x} ({step.kind}): "
                                  "the entry was written after the AT"))
        return out
    # hardware translated
    hpa = _par_pa(hw)
    hattr = PAR_EL1_OK["ATTR"].get(hw)
    stage = 2 if res.stages_used == "12" and setup.s2 is not None else 1
    f = t.fault
    leaf = _leaf_step(t, stage) if f is None or f.stage == stage else None
    if f is not None:
        # the step that faulted: a leaf (AF, permission, address size) or an invalid entry
        fs = next((s for s in reversed(steps) if s.stage == f.stage and s.level == f.level), None)
        if fs is not None and fs.kind in ("block", "page"):
            cands = []
            p = p_of(fs.stage)
            raw = fs.raw | D.S1_LEAF["AF"].mask
            cands.append((raw, "with AF = 1"))
            fld = D.S2_LEAF["S2AP"] if fs.stage == 2 else D.S1_LEAF["AP"]
            if not _d128(p):                        # (VMSAv9-128 leaves have no AP/S2AP: PIIndex)
                cands.extend((fld.put(raw, ap), f"with AF = 1 and {fld.name} = {ap:#04b}") for ap in range(4))
            if p is not None and fs.stage == stage:
                leafsize = level_shift(fs.level, p.granule_shift, p.d128)
                cands.append((with_leaf_base(raw, hpa, leafsize, p.ds, p.lpa64, p.d128), f"with AF = 1 and OA {hpa:#x}"))
            r = try_words(fs, cands)
            if r:
                return [r]
            out.append(Reason("stale-descriptor", f"the software walk faults at the stage {fs.stage} level {fs.level} "
                              f"descriptor {fs.raw:#x} (PA {fs.desc_pa:#x}); the hardware translated: the descriptor "
                              "(or a table above it) changed after the AT, or the AT used a stale TLB entry"))
            return out
        if fs is not None and fs.kind in ("invalid", "reserved", "illegal block"):
            out.append(Reason("stale-descriptor", f"the stage {fs.stage} level {fs.level} descriptor at PA "
                              f"{fs.desc_pa:#x} now reads {fs.raw:#x} ({fs.kind}); the hardware translated to PA "
                              f"{hpa:#x}: the entry was removed or changed after the AT (stale TLB)"))
        return out
    if leaf is None:
        return out
    p = p_of(leaf.stage)
    if p is None:
        return out
    leafsize = level_shift(leaf.level, p.granule_shift, p.d128)
    cands = []
    same_pa = _par_pa(hw) == _par_pa(res.par or 0)
    base = hpa & ~((1 << leafsize) - 1) if leafsize >= 12 else hpa
    raw_oa = leaf.raw if same_pa else with_leaf_base(leaf.raw, base, leafsize, p.ds, p.lpa64, p.d128)
    if not same_pa:
        cands.append((raw_oa, f"with output address {base:#x}"))
    if leaf.stage == 1:
        idx_f = D.S1_LEAF["AttrIndx"]
        for i in range(8):
            if (setup.mair >> (8 * i)) & 0xFF == hattr:
                cands.append((idx_f.put(raw_oa, i), f"with AttrIndx = {i}" + ("" if same_pa else f" and OA {base:#x}")))
        if not p.ds:
            sh_f = D.S1_LEAF["SH"]
            for sh in (0, 2, 3):
                cands.append((sh_f.put(raw_oa, sh), f"with SH = {sh:#04b}" + ("" if same_pa else f" and OA {base:#x}")))
    else:
        ma = D.S2_LEAF["MemAttr"]
        for v in range(16):
            cands.append((ma.put(raw_oa, v), f"with MemAttr = {v:#06b}" + ("" if same_pa else f" and OA {base:#x}")))
    r = try_words(leaf, cands[:40])
    if r:
        out.append(r)
    return out


def _explain_permissions(res: ATResult, hw: int, setup: TranslationSetup, mem: Memory) -> list[Reason]:
    out: list[Reason] = []
    sw = res.par
    sw_perm = sw is not None and sw & 1 and _fault_of(sw)[0] is FaultType.PERMISSION
    hw_perm = hw & 1 and _fault_of(hw)[0] is FaultType.PERMISSION
    if not (sw_perm or hw_perm):
        return out
    op = res.op
    if op.pan:
        alt = _rerun(res, setup, mem, pan=not res.pan)
        if _matches(alt, hw):
            out.append(Reason("pan", f"with PSTATE.PAN = {int(not res.pan)} (the AT ran with PAN = {int(res.pan)}) "
                              f"AT {op.name} gives exactly the captured PAR: the page is EL0-accessible, so PAN "
                              "decides it", confirmed=True))
            return out
    elif op.name in ("S1E1R", "S1E1W") and res.regime.has_unprivileged:
        alt = _rerun(res, setup, mem, op=AT_OPS[op.name + "P"], pan=True)
        if _matches(alt, hw):
            out.append(Reason("pan", f"AT {op.name} ignores PSTATE.PAN, but AT {op.name}P with PAN = 1 gives exactly the "
                              "captured PAR: the page is EL0-accessible; was the capture from "
                              f"{op.name}P, or an ordinary access with PAN set?", confirmed=True))
            return out
    for name, other in AT_OPS.items():
        if other is op or other.stages != op.stages or other.regime_el != op.regime_el:
            continue
        for pan in ((False, True) if other.pan else (res.pan,)):
            if _matches(_rerun(res, setup, mem, op=other, pan=pan), hw):
                out.append(Reason("permission", f"AT {name}{' with PAN = 1' if other.pan and pan else ''} gives exactly "
                                  f"the captured PAR: the permissions differ between {op.name} "
                                  f"(EL{op.el} {op.access.value}) and {name} (EL{other.el} {other.access.value}); "
                                  "check which AT the capture came from", confirmed=True))
                return out
    if hw_perm and not sw_perm:
        out.append(Reason("permission", "the hardware reported a Permission fault that no AT variant reproduces from the "
                          "image: the descriptor's AP/APTable bits (or SCTLR_ELx.EPAN, HCR_EL2 state) changed since"))
    return out


def _mutations_tcr(setup: TranslationSetup, va: int, only: set[str] | None = None) -> list[tuple[str, str, int]]:
    """(register, description, new value) candidates around the TCR of the VA's range;
    ``only`` restricts them to fields whose names start with one of its prefixes."""
    regime = setup.regime
    el = _regime_el(regime)
    name = f"TCR_{el}"
    regs = setup.registers
    tcr = regs.get(name, 0)
    out: list[tuple[str, str, int]] = []
    if regime in (Regime.EL10, Regime.EL20):
        layout = RG.TCR_EL1
        n = str(setup.s1_params(va).varange)
        fields_: dict[str, Iterable[int]] = {   # the likelier changes first
            f"EPD{n}": (0, 1), f"E0PD{n}": (0, 1), f"TBI{n}": (0, 1), f"HPD{n}": (0, 1), "HA": (0, 1),
            f"SH{n}": (0, 2, 3), "DS": (0, 1), "IPS": range(7), f"TG{n}": range(4), f"T{n}SZ": range(12, 49)}
    else:
        layout = RG.TCR_EL3 if regime is Regime.EL3 else RG.TCR_EL2_E2H0
        fields_ = {"TBI": (0, 1), "HPD": (0, 1), "HA": (0, 1), "SH0": (0, 2, 3), "DS": (0, 1), "PS": range(7),
                   "TG0": range(4), "T0SZ": range(12, 49)}
    for fname, values in fields_.items():
        if only is not None and not fname.startswith(tuple(only)):
            continue
        f = layout[fname]
        cur = f.get(tcr)
        for v in values:
            if v != cur:
                out.append((name, f"{name}.{fname} = {v} (now {cur})", f.put(tcr, v)))
    return out


def _tcr_fields_for(res: ATResult, hw: int, setup: TranslationSetup) -> set[str] | None:
    """Which TCR fields can change what differs (None: any)."""
    sw = res.par
    if sw is None or (sw & 1) != (hw & 1) or sw & 1:
        return None                                   # a fault appears, disappears or changes: anything
    if _par_pa(sw) != _par_pa(hw):
        return {"T0SZ", "T1SZ", "TG", "TBI", "DS", "EPD"}
    return {"SH"} if setup.s1_enabled and setup.s1_params(res.va).ds else set()


def _cached_setup(regs: dict[str, int], regime: Regime, cache: dict | None) -> TranslationSetup:
    if cache is None:
        return setup_from_registers(regs, regime)
    key = ("setup", regime, tuple(sorted(regs.items())))
    s = cache.get(key)
    if s is None:
        s = cache[key] = setup_from_registers(regs, regime)
    return s


def _explain_registers(res: ATResult, hw: int, setup: TranslationSetup, mem: Memory, *, full: bool,
                       cache: dict | None = None) -> list[Reason]:
    out: list[Reason] = []
    regs = dict(setup.registers)
    el = _regime_el(res.regime)
    t = res.translation
    sw = res.par
    # MAIR: same PA, different ATTR
    if sw is not None and not (sw & 1) and not (hw & 1) and t.s1 is not None:
        hattr = PAR_EL1_OK["ATTR"].get(hw)
        if PAR_EL1_OK["ATTR"].get(sw) != hattr:
            idx = t.s1.attr_index or 0
            mair_name = f"MAIR_{el}"
            new = RG.MAIR[f"Attr{idx}"].put(setup.mair, hattr)
            alt = _rerun(res, setup, mem, regs={**regs, mair_name: new})
            if _matches(alt, hw):
                out.append(Reason("mair", f"the leaf uses AttrIndx {idx} ({mair_name}.Attr{idx} = "
                                  f"{(setup.mair >> (8 * idx)) & 0xFF:#04x}); with Attr{idx} = {hattr:#04x} "
                                  f"({mair_name} = {new:#x}) the AT gives exactly the captured PAR", confirmed=True))
            others = [i for i in range(8) if i != idx and (setup.mair >> (8 * i)) & 0xFF == hattr]
            if others:
                out.append(Reason("mair", f"{mair_name}.Attr{others[0]} is {hattr:#04x}: a descriptor with AttrIndx "
                                  f"{others[0]} (instead of {idx}) would give the captured attributes"))
    if not full:
        return out
    found = 0
    only = _tcr_fields_for(res, hw, setup) if setup.s1_enabled else set()
    if only == set():
        return out
    for reg, what, value in _mutations_tcr(setup, res.va, only):
        try:
            alt_setup = _cached_setup({**regs, reg: value}, setup.regime, cache)
        except PgwalkError:
            continue
        if alt_setup.s1_params(res.va).config_fault:
            continue            # a TxSZ out of range explains nothing
        alt = _rerun(res, alt_setup, mem)
        if _matches(alt, hw):
            out.append(Reason("tcr", f"with {what} the AT gives exactly the captured PAR", confirmed=True))
            found += 1
            if found >= 3:
                break
    return out


# --------------------------------------------------------------------------- reverse lookup

@record(compiled_init=True)
class _LeafIndex:
    """Leaf runs of one stage's tree(s), sorted by output address, for reverse lookups.

    An entry is ``(oa, size, ia, level, tree)``: consecutive leaves of one table mapping
    ``[ia, ia + size)`` to ``[oa, oa + size)`` (the part inside the output size);
    ``lsb`` gives each tree's leaf size at a level (``TreeParams.lsb``: its granule, and 16-byte
    entries with FEAT_D128), to narrow a hit to its leaf.
    """

    starts: list[int]
    entries: list[tuple[int, int, int, int, str]]   # (oa, size, ia, level, tree)
    truncated: bool
    lsb: dict[str, Callable[[int], int]] = field(default_factory=dict)
    max_size: int = 0

    def find(self, addr: int, limit: int = 8) -> list[tuple[int, int, int, int, str]]:
        """The leaves whose output holds ``addr``: ``(oa, size, ia, level, tree)`` of each leaf."""
        out = []
        i = bisect.bisect_right(self.starts, addr)
        j = i - 1
        while j >= 0 and len(out) < limit:
            oa, size, ia, level, tree = self.entries[j]
            if oa + size > addr:
                leafsize = 1 << self.lsb[tree](level)
                lo = oa + ((addr - oa) & ~(leafsize - 1))
                out.append((lo, min(lo + leafsize, oa + size) - lo, ia + (lo - oa), level, tree))
            elif addr - oa >= self.max_size:
                break                       # no run starting lower reaches addr
            j -= 1
        return out


#: the reverse lookup's bounds: tables read (all trees of a stage together) and leaf descriptors
#: indexed (a table shared by several entries counted at each)
_MAX_TABLES = 20000
_MAX_LEAVES = 500000


def build_leaf_index(setup: TranslationSetup, mem: Memory, stage: int) -> _LeafIndex:
    """Index every leaf of the stage 1 trees (both TTBRs) or of the stage 2 tree: a
    :class:`~pgwalk.tree.LeafRuns` visitor over :func:`~pgwalk.tree.walk_tree` of each tree
    (stage 1 tables located through stage 2 in EL1&0, as the hardware fetches them)."""
    from .tree import LeafRuns, Limits, WalkSummary, tree_params, walk_tree

    limits = Limits(max_tables=_MAX_TABLES)
    if stage == 2:
        names = ["s2"] if setup.s2 is not None else []
    else:
        names = ["ttbr0", "ttbr1"][:len(setup.ranges)]
    summary = WalkSummary()
    entries: list[tuple[int, int, int, int, str]] = []
    lsb: dict[str, Callable[[int], int]] = {}
    left = _MAX_LEAVES
    for which in names:
        tree = tree_params(setup, which, final_pa=False)
        lsb[tree.name] = tree.lsb
        runs = LeafRuns(max_leaves=left)
        walk_tree(tree, mem, runs, limits=limits, summary=summary)
        left -= runs.leaves
        top = 1 << tree.oa_bits
        for ia, oa, n, es, level in zip(runs.ia, runs.oa, runs.count, runs.entry_size, runs.level):
            if oa < top:                    # the part inside the output size (ASL OAOutOfRange on StageOA)
                entries.append((oa, min(n * es, top - oa), ia, level, tree.name))
    entries.sort()
    return _LeafIndex([e[0] for e in entries], entries, summary.stopped is not None, lsb,
                      max((e[1] for e in entries), default=0))


def _reverse_lookup(res: ATResult, hw: int, setup: TranslationSetup, mem: Memory,
                    index_cache: dict | None) -> list[Reason]:
    if hw & 1:
        return []
    hpa = _par_pa(hw) | (res.va & 0xFFF)
    if res.par is not None and not res.par & 1 and _par_pa(res.par) == _par_pa(hw):
        return []

    def index(stage: int) -> _LeafIndex:
        key = (id(setup), stage)
        if index_cache is not None and key in index_cache:
            return index_cache[key][1]
        idx = build_leaf_index(setup, mem, stage)
        if index_cache is not None:
            index_cache[key] = (setup, idx)   # keep setup alive so id() stays unique
        return idx

    out: list[Reason] = []
    if res.stages_used == "12" and setup.s2 is not None:
        s2hits = index(2).find(hpa)
        ipas = [(ia + (hpa - oa), lvl) for oa, size, ia, lvl, _ in s2hits]
        hits = []
        for ipa, _ in ipas[:4]:
            hits += [(ia + (ipa - oa), lvl, tree, ipa) for oa, size, ia, lvl, tree in index(1).find(ipa)]
        if ipas and not hits:
            out.append(Reason("reverse-lookup", f"the captured PA {hpa:#x} is the output of stage 2 for IPA "
                              + ", ".join(f"{i:#x}" for i, _ in ipas[:4]) + ", which no stage 1 leaf maps"))
        for va, lvl, tree, ipa in hits[:4]:
            out.append(Reason("reverse-lookup", f"the captured PA {hpa:#x} is mapped at VA {va:#x} (via {tree}, stage 1 "
                              f"level {lvl} leaf, IPA {ipa:#x}): a different VA, or the mapping moved after the AT"))
    else:
        for oa, size, ia, lvl, tree in index(1).find(hpa)[:4]:
            va = ia + (hpa - oa)
            what = "IPA" if setup.s2 is not None and setup.regime is Regime.EL10 else "PA"
            out.append(Reason("reverse-lookup", f"the captured {what} {hpa:#x} is mapped at VA {va:#x} (via {tree}, "
                              f"level {lvl} leaf of {size:#x} bytes): a different VA, or the mapping moved after the AT"))
    if not out:
        idx1 = index(1)
        trunc = " (the tree scan was truncated)" if idx1.truncated else ""
        out.append(Reason("reverse-lookup", f"the captured PA {hpa:#x} is not mapped anywhere in the current tables"
                          f"{trunc}: the mapping was removed after the AT, or the capture used other tables (TTBR)"))
    return out


#: Explanation depths: ``known`` (pattern recognition only, no re-walks), ``quick`` (+ PAN and
#: permission variants, a changed descriptor, MAIR), ``full`` (+ TCR search, reverse lookup)
EXPLAIN_LEVELS = ("none", "known", "quick", "full")


def explain_mismatch(res: ATResult, hw: int | str, setup: TranslationSetup, mem: Memory, *,
                     level: str = "full", index_cache: dict | None = None) -> list[Reason]:
    """Possible reasons why the captured PAR ``hw`` differs from the software result ``res``.

    Known departure patterns come first, then reasons pgwalk confirmed (it re-ran the AT
    under the hypothesis and got exactly ``hw``), then the rest.  ``level`` is one of
    :data:`EXPLAIN_LEVELS`.
    """
    if level not in EXPLAIN_LEVELS:
        raise ValueError(f"explain level {level!r} is not one of {EXPLAIN_LEVELS}")
    if level == "none":
        return []
    impossible = _impossible_capture(res, hw, setup)
    if impossible:
        return impossible
    reasons = known_departures(res, hw, setup)
    if level != "known" and isinstance(hw, int) and (res.par is not None or res.translation.steps):
        reasons += _explain_permissions(res, hw, setup, mem)
        reasons += _stale_descriptor(res, hw, setup, mem)
        reasons += _explain_registers(res, hw, setup, mem, full=level == "full", cache=index_cache)
        if level == "full":
            try:
                reasons += _reverse_lookup(res, hw, setup, mem, index_cache)
            except PgwalkError:
                pass
    if any(r.kind == "known-departure" for r in reasons):
        reasons = [r for r in reasons if r.confirmed or r.kind not in ("permission", "fault-level", "fault-type")]
    reasons.sort(key=lambda r: (r.kind != "known-departure", not r.confirmed))
    return reasons


# --------------------------------------------------------------------------- JSON

def result_to_dict(res: ATResult, *, captured: int | str | None = None, diff: ParDiff | None = None,
                   reasons: list[Reason] | None = None, trace: bool = False, setup: TranslationSetup | None = None,
                   extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON object of one AT (one line of ``pgwalk at --json`` output).

    Keys: ``op``, ``va``, ``pan``, ``par`` (software PAR_EL1 as hex, or null when the AT raises
    an exception), ``exception`` (why, or null), ``decode`` (:func:`par_decode`, or null),
    ``regime``, ``stages``; with a captured value: ``captured``, ``match``, ``diff``
    (``[{"field", "software", "hardware"}]``), ``verdict`` and ``reasons``; with ``trace``:
    ``translation`` (the ``pgwalk translate --json --trace`` object); last ``schema``
    (:data:`pgwalk.jsonrecords.RECORD_SCHEMAS` ``["at"]``; JSON Schema: ``pgwalk schema at``).
    """
    d: dict[str, Any] = {}
    if extra:
        d.update(extra)
    d.update({
        "op": res.op.name, "va": f"{res.va:#x}", "pan": int(res.pan),
        "par": None if res.par is None else f"{res.par:#018x}",
        "exception": res.exception or None,
        "decode": None if res.par is None else par_decode(res.par),
        "regime": res.regime.value, "stages": res.stages_used,
    })
    if res.notes:
        d["notes"] = list(res.notes)
    if captured is not None:
        d["captured"] = captured if isinstance(captured, str) else f"{captured:#018x}"
        if diff is None:
            diff = compare_par(res.par, captured, compare_ns=res.regime is Regime.EL3)
        d["match"] = diff.match
        d["verdict"] = "match" if diff.match else "mismatch"
        d["diff"] = diff.to_json()
        if diff.warnings:
            d["warnings"] = list(diff.warnings)
        if reasons is not None:
            d["reasons"] = [r.to_json() for r in reasons]
    else:
        d["verdict"] = "no capture"
    if trace:
        from .report import translation_to_dict

        s = setup
        d["translation"] = translation_to_dict(res.translation, wxn=bool(s and s.wxn), epan=bool(s and s.epan))
    from .jsonrecords import RECORD_SCHEMAS

    d["schema"] = RECORD_SCHEMAS["at"]
    return d


# --------------------------------------------------------------------------- batches

@named_tuple
class BatchLine:
    """One parsed ``--batch`` line (immutable; a named tuple: 100k of them are made quickly)."""

    lineno: int
    op: ATOp
    va: int
    captured: int | str | None
    pan: bool | None
    regs: tuple | None          # hashable form of the line's "regs" object (raw JSON values)
    ident: Any = None


_LINE_KEYS = {"op", "va", "par", "pan", "regs", "id"}


def parse_batch_line(text: str, lineno: int, where: str = "batch") -> BatchLine | None:
    """Parse one JSON Lines record; blank lines and ``#`` comments give ``None``.

    :raises InputError: naming ``where:lineno``
    """
    s = text.strip()
    if not s or s.startswith("#"):
        return None
    return BatchLine(lineno, *_parse_record(s, f"{where}:{lineno}", None))


def parse_batch_lines(texts: Iterable[str], where: str = "batch") -> list[BatchLine]:
    """:func:`parse_batch_line` for every line (numbered from 1), blank lines and comments left out.

    Repeated records (trace replays cycle through the same vectors) are decoded once, and
    so is each distinct ``regs`` object.
    """
    out = []
    seen: dict[str, tuple] | None = {}
    regs_keys: dict[tuple, tuple] = {}
    misses = 0
    for n, text in enumerate(texts, 1):
        s = text.strip()
        if not s or s[0] == "#":
            continue
        fields = seen.get(s) if seen is not None else None
        if fields is None:
            fields = _parse_record(s, f"{where}:{n}", regs_keys)
            if seen is not None:
                misses += 1
                seen[s] = fields
                if misses >= _RECORD_CACHE or (misses % 4096 == 0 and len(out) < misses + misses // 4):
                    seen = None                    # (almost) every record differs: stop remembering
        out.append(BatchLine(n, *fields))
    return out


#: the JSON scanner ``json.loads`` runs (records are stripped: no whitespace around the value)
_SCAN = json.JSONDecoder().scan_once

#: distinct records :func:`parse_batch_lines` remembers
_RECORD_CACHE = 1 << 16


def _parse_record(s: str, loc: str, regs_keys: dict[tuple, tuple] | None) -> tuple:
    """The fields of a :class:`BatchLine` after ``lineno``, from one stripped JSON record."""
    try:
        obj, end = _SCAN(s, 0)                   # json.loads without its Python-level wrapping
    except (StopIteration, ValueError, RecursionError):
        end = -1
    try:
        if end != len(s):
            obj = json.loads(s)                    # the error json.loads gives (or its value)
    except json.JSONDecodeError as exc:
        raise InputError(f"{loc}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{loc}: expected a JSON object")
    if "op" not in obj or "va" not in obj:
        raise InputError(f"{loc}: needs \"op\" and \"va\"")
    op = AT_OPS.get(obj["op"]) if isinstance(obj["op"], str) else None
    if op is None:
        try:
            op = parse_at_op(obj["op"])
        except InputError as exc:
            raise InputError(f"{loc}: {exc}") from None
    va = _parse_va(obj["va"], loc)
    par = obj.get("par")
    captured = None if par is None else parse_captured_par(par, f"{loc}: par")
    pan = obj.get("pan")
    if pan is not None:
        if isinstance(pan, bool) or pan in (0, 1):
            pan = bool(pan)
        else:
            raise InputError(f"{loc}: pan must be 0/1 or true/false, not {pan!r}")
    regs = obj.get("regs")
    key = None
    if regs is not None:
        if not isinstance(regs, dict):
            raise InputError(f"{loc}: regs must be an object of register names to values")
        raw: tuple | None = None
        if regs_keys is not None:
            # the values' types too: 1, 1.0 and true are equal keys but not equal registers
            raw = (tuple(regs.items()), tuple(map(type, regs.values())))
            try:
                key = regs_keys.get(raw)
            except TypeError:                      # an object or array value: not hashable
                raw = None
        if key is None:
            key = tuple(sorted((str(k), v if not isinstance(v, (dict, list)) else json.dumps(v))
                               for k, v in regs.items()))
            if raw is not None and regs_keys is not None:
                regs_keys[raw] = key
    return op, va, captured, pan, key, obj.get("id")


def _parse_va(value: Any, loc: str) -> int:
    """``parse_value(value, "address", f"{loc}: va")``, with a fast path for ASCII ``"0x..."`` strings
    (``int()`` alone would take other scripts' digits and surrounding Unicode spaces)."""
    if isinstance(value, str) and value[:2] in ("0x", "0X") and value.isascii() and value[-1:].isalnum():
        try:
            n = int(value, 16)
        except ValueError:
            pass
        else:
            if 0 <= n < 1 << 64:
                return n
    from .values import parse_value

    return parse_value(value, "address", f"{loc}: va")


class ATBatch:
    """Run many ATs against one memory image.

    The memory is read in place (never re-read per line); each distinct register state
    (the base registers overlaid with a line's ``regs``) is decoded once per regime and
    cached; leaf indexes for reverse lookups are built once per register state.
    :meth:`run` runs one line; :meth:`run_many` runs a whole batch with the vectorised
    walker (the same outcomes), as ``pgwalk at --batch`` does from :data:`BULK_MIN_LINES` lines.
    """

    def __init__(self, mem: Memory, base_regs: Mapping[str, int], *, pan: bool | None = None,
                 exec_el: int | None = None, explain: str = "full", trace: bool = False, where: str = "batch"):
        self.mem = mem
        self.base_regs = dict(base_regs)
        self.pan = pan
        self.exec_el = exec_el
        if explain not in EXPLAIN_LEVELS:
            raise ValueError(f"explain level {explain!r} is not one of {EXPLAIN_LEVELS}")
        self.explain = explain
        self.trace = trace
        self.where = where
        self._regs: dict[tuple | None, dict[str, int]] = {None: self.base_regs}
        self._setups: dict[tuple, TranslationSetup] = {}
        self._index_cache: dict = {}              # leaf indexes and hypothesis setups
        self._explained: dict = {}                 # identical mismatching lines are explained once
        self._line_setups: dict[tuple, TranslationSetup] = {}   # (regs, op.regime_el, op.stages) -> setup
        self._reader: Any = None                   # the vectorised walker's descriptor reader
        self._diffs: dict[tuple, ParDiff] = {}

    def registers(self, key: tuple | None, lineno: int = 0) -> dict[str, int]:
        regs = self._regs.get(key)
        if regs is None:
            from .regs import canonical_name, parse_int

            regs = dict(self.base_regs)
            loc = f"{self.where}:{lineno}"
            for name, value in key:  # type: ignore[union-attr]
                if name.startswith("_") or value is None:
                    continue
                try:
                    regs[canonical_name(name)] = parse_int(value, f"{loc}: regs.{name}")
                except PgwalkError as exc:
                    msg = str(exc)
                    raise InputError(msg if msg.startswith(loc) else f"{loc}: {msg}") from None
            self._regs[key] = regs
        return regs

    def setup(self, line: BatchLine) -> TranslationSetup:
        fast = self._line_setups.get((line.regs, line.op.regime_el, line.op.stages))
        if fast is not None:
            return fast
        regs = self.registers(line.regs, line.lineno)
        regime = line.op.regime(regs)
        k = (line.regs, regime)
        s = self._setups.get(k)
        if s is None:
            if not regs:
                raise InputError(f"{self.where}:{line.lineno}: no registers (give --regs/--reg, or \"regs\" in the line)")
            try:
                s = setup_from_registers(regs, regime)
            except PgwalkError as exc:
                raise InputError(f"{self.where}:{line.lineno}: {exc}") from None
            self._setups[k] = s
        self._line_setups[(line.regs, line.op.regime_el, line.op.stages)] = s
        return s

    def validate(self, lines: Iterable[BatchLine]) -> None:
        """Decode every line's register state up front (bad input before any output)."""
        for line in lines:
            self.setup(line)

    def run(self, line: BatchLine) -> tuple[dict[str, Any], ATResult, ParDiff | None]:
        setup = self.setup(line)
        pan = line.pan if line.pan is not None else self.pan
        res = at(setup, self.mem, line.op, line.va, pan=pan, exec_el=self.exec_el)
        diff = reasons = None
        if line.captured is not None:
            diff = compare_par(res.par, line.captured, compare_ns=res.regime is Regime.EL3)
            if not diff.match and self.explain != "none":
                key = (id(setup), line.op.name, line.va, res.pan, line.captured)
                reasons = self._explained.get(key)
                if reasons is None:
                    reasons = self._explained[key] = explain_mismatch(
                        res, line.captured, setup, self.mem, level=self.explain, index_cache=self._index_cache)
        extra = {"line": line.lineno}
        if line.ident is not None:
            extra["id"] = line.ident
        d = result_to_dict(res, captured=line.captured, diff=diff, reasons=reasons, trace=self.trace,
                           setup=setup, extra=extra)
        return d, res, diff

    # -- many lines at once ---------------------------------------------------------------

    def run_many(self, lines: Sequence[BatchLine], *, text: bool = True) -> Iterator["BatchOutcome"]:
        """Every line's :meth:`run`, in order, walked by the vectorised walker.

        Lines are grouped by register state, operation and PSTATE.PAN, and each group is
        one :func:`pgwalk.at_many.bulk_at` call.  The outcomes are exactly :meth:`run`'s:
        ``text`` is ``json.dumps`` of its object (with ``text``), ``d`` the object itself for
        mismatches (explained by :meth:`run`, the scalar machinery), else ``None``.
        Lines whose AT raises an exception (its text names the walk's fault), groups in
        the EL3 regime (PAR.NS follows NSTable along the walk) and, with ``trace``, every
        line go through :meth:`run`.  An error (an AT UNDEFINED at ``exec_el``) is raised
        where :meth:`run` would raise it: after the outcomes of the lines before it.
        """
        n = len(lines)
        # group the lines: same register state, operation and PAN
        members: dict[tuple, list[int]] = {}
        for i, ln in enumerate(lines):
            members.setdefault((ln.regs, ln.op.name, ln.pan if ln.pan is not None else self.pan), []).append(i)
        group_of: list[Any] = [None] * n
        lane_of = [0] * n
        error: tuple[int, BaseException] | None = None
        import sys

        big = sum(len(idx) for idx in members.values() if len(idx) >= _BULK_MIN_GROUP)
        # importing numpy and the vectorised walker costs about as much as a thousand scalar ATs
        vectorise = big >= _BULK_MIN_TOTAL or "pgwalk.bulk" in sys.modules
        for key, idx in members.items():
            try:
                g = self._group(key, [lines[i] for i in idx], vectorise)
            except PgwalkError as exc:                 # raised by the group's first line
                if error is None or idx[0] < error[0]:
                    error = (idx[0], exc)
                continue
            for j, i in enumerate(idx):
                group_of[i] = g
                lane_of[i] = j
        stop = n if error is None else error[0]
        for i in range(stop):
            ln = lines[i]
            g = group_of[i]
            j = lane_of[i]
            if g.pars is None or g.exception[j]:
                yield self._scalar_outcome(ln, g, text)
                continue
            par = g.pars[j]
            captured = ln.captured
            if captured is None:
                verdict = "no capture"
            else:
                dk = (par, captured)
                diff = self._diffs.get(dk)
                if diff is None:                       # (EL3 groups, which compare NS, go through run())
                    diff = self._diffs[dk] = compare_par(par, captured, compare_ns=False)
                if not diff.match:
                    yield self._scalar_outcome(ln, g, text)
                    continue
                verdict = "match"
            line_text = None
            if text:
                tail = g.tails.get((par, captured))
                if tail is None:
                    tail = g.tails[(par, captured)] = self._tail(g, par, captured)
                line_text = _head(ln) + tail
            yield BatchOutcome(ln, verdict, par, None, line_text)
        if error is not None:
            raise error[1]

    def _group(self, key: tuple, glines: list[BatchLine], vectorise: bool = True) -> "_Group":
        """One group's ATs: the scalar AT of its first line (errors, regime, notes), then the rest
        in one vectorised walk."""
        first = glines[0]
        setup = self.setup(first)
        if self.trace or not vectorise or len(glines) < _BULK_MIN_GROUP:
            return _Group(key, setup, None)           # every line through run()
        ref = at(setup, self.mem, first.op, first.va, pan=key[2], exec_el=self.exec_el)
        g = _Group(key, setup, ref)
        if ref.regime is Regime.EL3:
            return g
        import numpy as np

        from .at_many import bulk_at
        from .bulk import DescriptorReader

        if self._reader is None:
            self._reader = DescriptorReader(self.mem)
        vas = np.fromiter((ln.va for ln in glines), dtype=np.uint64, count=len(glines))
        b = bulk_at(setup, self.mem, first.op, vas, pan=key[2], exec_el=self.exec_el, reader=self._reader)
        pars, exception = b.par.tolist(), b.exception.tolist()
        if (ref.par is None) == exception[0] and (ref.par is None or ref.par == pars[0]):
            g.pars, g.exception = pars, exception
        # else (a bug: tests/test_bulk.py and tests/test_at_cli.py check they agree) the scalar path
        return g

    def _tail(self, g: "_Group", par: int, captured: int | str | None) -> str:
        """The JSON text of a line from ``"pan"`` on (what follows ``_head``)."""
        ref = g.ref
        res = ATResult(ref.op, ref.va, ref.translation, par, "", ref.regime, ref.stages_used, ref.pan, ref.notes)
        d = result_to_dict(res, captured=captured)
        del d["op"], d["va"]
        return json.dumps(d)[1:] + "\n"

    def _scalar_outcome(self, ln: BatchLine, g: "_Group", text: bool) -> "BatchOutcome":
        """:meth:`run` for one line; repeats of the same AT and captured value (in the same group)
        reuse its object."""
        if g.pars is None:                             # a group run one AT at a time: no repeats to expect
            d, res, _diff = self.run(ln)
            return BatchOutcome(ln, d["verdict"], res.par, d, json.dumps(d) + "\n" if text else None)
        k = (ln.va, ln.captured)
        done = g.scalar.get(k)
        if done is None:
            d, res, _diff = self.run(ln)
            rest = {key: v for key, v in d.items() if key not in ("line", "id")}
            tail = {key: v for key, v in rest.items() if key not in ("op", "va")}
            done = g.scalar[k] = (res.par, rest, json.dumps(tail)[1:] + "\n")
        par, rest, tail = done
        d = {"line": ln.lineno}
        if ln.ident is not None:
            d["id"] = ln.ident
        d.update(rest)
        return BatchOutcome(ln, d["verdict"], par, d, _head(ln) + tail if text else None)


def _head(ln: BatchLine) -> str:
    """The JSON text of a line up to ``"pan"``: line number, id, op and VA (as ``result_to_dict``)."""
    ident = "" if ln.ident is None else f", \"id\": {json.dumps(ln.ident)}"
    return f"{{\"line\": {ln.lineno}{ident}, \"op\": \"{ln.op.name}\", \"va\": \"{ln.va:#x}\", "


class _Group:
    """The lines of a batch that share register state, operation and PAN."""

    __slots__ = ("key", "setup", "ref", "pars", "exception", "tails", "scalar")

    def __init__(self, key: tuple, setup: TranslationSetup, ref: ATResult | None) -> None:
        self.key = key
        self.setup = setup
        self.ref = ref                       # the scalar AT of the group's first line
        self.pars: list[int] | None = None   # per lane (None: every line through ATBatch.run)
        self.exception: list[bool] = []
        self.tails: dict[tuple, str] = {}    # (PAR, captured) -> JSON text after _head
        self.scalar: dict[tuple, tuple] = {}  # (VA, captured) -> ATBatch.run's PAR, object, text after _head


@named_tuple
class BatchOutcome:
    """One line's result from :meth:`ATBatch.run_many`."""

    line: BatchLine
    verdict: str                 #: "match", "mismatch" or "no capture"
    par: int | None              #: the software PAR_EL1 (``None``: the AT raises an exception)
    d: dict[str, Any] | None     #: the line's JSON object, for lines :meth:`ATBatch.run` ran
    text: str | None             #: the JSON line (with its newline), when asked for


#: from this many lines on, ``pgwalk at --batch`` uses :meth:`ATBatch.run_many`
BULK_MIN_LINES = 64
#: groups of fewer lines (register state, op, PAN) are cheaper one AT at a time
_BULK_MIN_GROUP = 16
#: and unless the vectorised walker is loaded already, fewer lines in larger groups than this too
_BULK_MIN_TOTAL = 4096
