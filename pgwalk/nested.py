"""Nested virtualisation: walks through a guest hypervisor's stage 2 (Arm ARM DDI 0487
M.a.a, FEAT_NV/FEAT_NV2; the walks are ASL ``AArch64.S1Translate`` and ``S2Translate``
run layer by layer).

Three translations compose when an L1 guest hypervisor runs an L2 guest under an L0 host:

* **L2 S1** -- the L2 guest's stage 1 (its EL1 registers): L2 VA -> L2 IPA, tables in L2 IPA space;
* **L1 S2** -- L1's *virtual* stage 2 (its VTTBR_EL2/VTCR_EL2/HCR_EL2): L2 IPA -> L1 IPA,
  tables in L1 IPA space;
* **L0 S2** -- the host's stage 2: L1 IPA -> PA, tables in PA space.

The memory is host-physical.  Nothing here restates a walk rule: the L2 S1 + L1 S2 walk is
:func:`pgwalk.walk.translate` of the guest's registers over :class:`HostStage2View`, the
memory L1 sees (every read an L0 stage 2 translation of an L1 IPA, by the same walker), and
the last step is that walker's stage 2 alone with the host's registers.  So every
descriptor fetch of an inner stage goes through the outer stages, as the hardware's shadow
stage 2 makes it, and each layer's start level, TxSZ limits and output size are checked
against its own registers and ID registers.

A fault is attributed to the layer whose tables caused it and reported as each party sees
it (:class:`Delivery`): an L2 S1 fault is the L2 guest's own (ESR_EL1/FAR_EL1); an L1 S2
fault is taken by L0, which walks L1's stage 2 and must inject it into L1 as a stage 2
abort (virtual ESR_EL2, FAR_EL2, HPFAR_EL2); an L0 S2 fault is L0's own (its stage 2 does
not map the L1 IPA), nothing is injected.  What L0's *hardware* syndrome says depends on
the shadow stage 2 KVM has populated (its level and the L2 IPA in HPFAR_EL2), which a dump
of the guest tables cannot know: the report says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from .errors import InputError, NotInImage
from .faults import Fault, encode_ld_fsc
from .formats.esr import ESR, ISS_DABT, ISS_IABT
from .formats.registers import HPFAR_EL2
from .memory_protocol import Memory
from .params import Features, Regime, TranslationSetup, s2_params, setup_from_registers
from .perms import Access
from .walk import TraceStep, Translation, translate

__all__ = ["LAYERS", "L1_STAGE2_REGISTERS", "NestedSetup", "nested_setup", "HostStage2View", "NestedStep",
           "Delivery", "NestedTranslation", "translate_nested", "NestedAT", "at_nested"]

#: the layers, innermost first: (name, what it translates)
LAYERS = (("L2 S1", "L2 VA -> L2 IPA"), ("L1 S2", "L2 IPA -> L1 IPA"), ("L0 S2", "L1 IPA -> PA"))

#: registers of L1's virtual EL2 that define its stage 2 for L2
L1_STAGE2_REGISTERS = ("HCR_EL2", "VTCR_EL2", "VTTBR_EL2")

_PAGE = 12
_EC_IABT_LOWER, _EC_IABT_SAME, _EC_DABT_LOWER, _EC_DABT_SAME = 0x20, 0x21, 0x24, 0x25


@dataclass(frozen=True)
class NestedSetup:
    """The walk parameters of the three layers.

    ``guest`` is the L2 guest's stage 1 with L1's virtual stage 2 (``guest.s2`` is ``None``
    when L1 does not enable stage 2 for L2: then L2 IPA = L1 IPA); ``host`` is L0's stage 2.
    """

    guest: TranslationSetup
    host: TranslationSetup
    notes: tuple[str, ...] = ()


def nested_setup(l2_regs: Mapping[str, int], l1_regs: Mapping[str, int], host_regs: Mapping[str, int]) -> NestedSetup:
    """The three layers' walk parameters from three register sets.

    :param l2_regs: the L2 guest's EL1 registers (TCR_EL1, TTBRn_EL1, SCTLR_EL1, MAIR_EL1, ...)
    :param l1_regs: L1's virtual EL2 registers (HCR_EL2, VTCR_EL2, VTTBR_EL2) and the ID
        registers L1 sees, which decide L1's stage 2 (its PAMax, start levels, output size); an ID
        register in ``l2_regs`` (what L1 shows L2) wins for L2's stage 1
    :param host_regs: L0's registers: HCR_EL2, VTCR_EL2, VTTBR_EL2 and its ID registers
    :raises InputError: a layer's registers are missing or contradictory
    """
    for name in L1_STAGE2_REGISTERS:
        if name in l2_regs and name in l1_regs and l2_regs[name] != l1_regs[name]:
            raise InputError(f"{name} is given for both the L2 guest and the guest hypervisor (L1) with different "
                             "values: give EL2 registers only in the guest hypervisor's file")
    guest_regs = {**l1_regs, **{k: v for k, v in l2_regs.items() if k not in L1_STAGE2_REGISTERS}}
    notes = []
    try:
        guest = setup_from_registers(guest_regs, Regime.EL10)
    except InputError as exc:
        raise InputError(f"L2 guest / guest hypervisor registers: {exc}") from None
    if guest.s2 is not None:
        # L1's stage 2 against the features L1 itself sees (its PAMax decides its start levels and
        # output size), not those L1 shows L2
        guest = replace(guest, s2=s2_params(l1_regs, Features.from_registers(l1_regs)))
    if guest.s2 is None:
        notes.append("L1 does not enable stage 2 for L2 (HCR_EL2.VM = 0): L2 IPA = L1 IPA")
    if "VTCR_EL2" not in host_regs or "VTTBR_EL2" not in host_regs:
        raise InputError("the host's stage 2 needs VTCR_EL2 and VTTBR_EL2 (--host)")
    try:
        host = setup_from_registers(host_regs, Regime.EL10, stage1=False)
    except InputError as exc:
        raise InputError(f"host registers: {exc}") from None
    if host.s2 is None:
        raise InputError("the host's registers do not describe a stage 2 (HCR_EL2.VM, VTCR_EL2, VTTBR_EL2)")
    return NestedSetup(guest, host, tuple(notes) + tuple(f"L1: {n}" for n in guest.notes)
                       + tuple(f"L0: {n}" for n in host.notes))


class HostStage2View:
    """The memory L1 sees: reading an L1 IPA translates it with L0's stage 2 (a read access)
    and reads the host memory there.  An L1 IPA L0 does not map raises
    :class:`~pgwalk.errors.NotInImage` (so an inner walk stops there) and the L0 translation
    that failed is kept in :attr:`translations` for the nested report.

    Implements the :class:`~pgwalk.memory_protocol.Memory` protocol.
    """

    def __init__(self, mem: Memory, host: TranslationSetup) -> None:
        self.mem = mem
        self.host = host
        #: L1 IPA (8-byte aligned) -> the L0 stage 2 translation of it
        self.translations: dict[int, Translation] = {}

    def translate(self, ipa: int) -> Translation:
        t = self.translations.get(ipa)
        if t is None:
            t = translate(self.host, self.mem, ipa, stages="2", access=Access.READ, el=1)
            self.translations[ipa] = t
        return t

    def read_u64(self, pa: int, big_endian: bool = False) -> int:
        t = self.translate(pa)
        if t.fault is not None:
            raise NotInImage(pa, 8, f"is not mapped by the host's stage 2 (L0 stage 2 {_fault_words(t.fault)})")
        return self.mem.read_u64(t.pa, big_endian)

    def read(self, pa: int, size: int) -> bytes:
        out = bytearray()
        cur, end = pa, pa + size
        while cur < end:
            t = self.translate(cur & ~7)
            if t.fault is not None:
                raise NotInImage(cur, end - cur, f"is not mapped by the host's stage 2 (L0 stage 2 "
                                                 f"{_fault_words(t.fault)})")
            take = min(end - cur, (1 << (t.size_shift or _PAGE)) - (cur & ((1 << (t.size_shift or _PAGE)) - 1)))
            out += self.mem.read(t.pa + (cur & 7), take)
            cur += take
        return bytes(out)


def _fault_words(f: Fault) -> str:
    lvl = "" if f.level is None else f" level {f.level}"
    return f"{f.type.value} fault{lvl}"


@dataclass(frozen=True)
class NestedStep:
    """One descriptor read of the composed walk.

    :ivar layer: ``"L2 S1"``, ``"L1 S2"`` or ``"L0 S2"``
    :ivar space: the address space of ``step.table``/``step.desc_addr`` (``"L2 IPA"``,
        ``"L1 IPA"`` or ``"PA"``)
    :ivar purpose: why the read happened (the L0 reads say which inner descriptor they fetch)
    :ivar step: the walker's :class:`~pgwalk.walk.TraceStep`
    """

    layer: str
    space: str
    purpose: str
    step: TraceStep


@dataclass(frozen=True)
class Delivery:
    """How one party receives a fault: the registers as the architecture (and, for an
    injected fault, KVM's emulation) must set them."""

    party: str                      # "L2 EL1", "L1 (virtual EL2)", "L0 (EL2)"
    registers: dict[str, int]       # ESR_ELx, FAR_ELx, HPFAR_EL2 (values)
    text: str


@dataclass(frozen=True)
class NestedTranslation:
    """The outcome of one nested translation (L2 VA -> PA).

    ``fault_layer`` names the layer whose tables caused ``fault``; ``deliveries`` say who
    receives it and with which syndrome.
    """

    va: int
    l2_ipa: int | None
    l1_ipa: int | None
    pa: int | None
    fault: Fault | None
    fault_layer: str | None
    steps: tuple[NestedStep, ...]
    guest: Translation
    host: Translation | None
    deliveries: tuple[Delivery, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.fault is None


def _layer_of(step: TraceStep, guest_s2: bool) -> tuple[str, str]:
    if step.stage == 1:
        return "L2 S1", ("L2 IPA" if guest_s2 else "L1 IPA")
    return "L1 S2", "L1 IPA"


def _compose_steps(guest: Translation, view: HostStage2View, guest_s2: bool) -> list[NestedStep]:
    out: list[NestedStep] = []
    for s in guest.steps:
        layer, space = _layer_of(s, guest_s2)
        if s.desc_pa is not None:
            host_t = view.translations.get(s.desc_pa)
            if host_t is not None:
                what = f"fetch of the {layer} level {s.level} descriptor at L1 IPA {s.desc_pa:#x}"
                out += [NestedStep("L0 S2", "PA", what, h) for h in host_t.steps]
        purpose = f"{layer} level {s.level}" + (f" (walk of the L2 S1 level {s.s1_level} table)"
                                               if s.s1_level is not None else "")
        out.append(NestedStep(layer, space, purpose, s))
    return out


def _esr(access: Access | None, el: int, lower: bool, fault: Fault, s1ptw: bool) -> int:
    """An abort's ESR_ELx: EC for the access and the EL it came from, IL = 1, the FSC, S1PTW, WnR."""
    fsc = encode_ld_fsc(fault.type, fault.level)
    if access is Access.EXEC:
        iss = ISS_IABT.encode(IFSC=fsc, S1PTW=int(s1ptw))
        ec = _EC_IABT_LOWER if lower else _EC_IABT_SAME
    else:
        iss = ISS_DABT.encode(DFSC=fsc, S1PTW=int(s1ptw), WnR=int(access is Access.WRITE and not s1ptw))
        ec = _EC_DABT_LOWER if lower else _EC_DABT_SAME
    return ESR.encode(EC=ec, IL=1, ISS=iss)


def _deliveries(layer: str, fault: Fault, va: int, access: Access | None, el: int,
                l2_ipa: int | None) -> tuple[Delivery, ...]:
    if layer == "L2 S1":
        esr = _esr(access, el, el == 0, fault, False)
        return (Delivery("L2 EL1", {"ESR_EL1": esr, "FAR_EL1": va},
                         "the L2 guest's own fault, taken to its EL1; no hypervisor is involved"),)
    l0_text = ("L0 takes a stage 2 fault on its shadow stage 2 for this L2 access (the level and syndrome "
               "depend on what the shadow holds, which the guest tables cannot tell); it walks L1's stage 2 ")
    if layer == "L1 S2":
        fipa = fault.ipa if fault.ipa is not None else (l2_ipa or 0)
        esr = _esr(access, el, True, fault, fault.s1ptw)
        regs = {"ESR_EL2": esr, "FAR_EL2": va, "HPFAR_EL2": HPFAR_EL2.encode(FIPA=fipa >> _PAGE)}
        return (Delivery("L0 (EL2)", {}, l0_text + "and finds that L1's stage 2 causes it"),
                Delivery("L1 (virtual EL2)", regs,
                         f"L0 must inject a stage 2 {_fault_words(fault)} into L1"
                         f"{' on the stage 1 table walk (S1PTW)' if fault.s1ptw else ''}: "
                         f"HPFAR_EL2 holds L2 IPA {fipa & ~((1 << _PAGE) - 1):#x}"))
    return (Delivery("L0 (EL2)", {}, l0_text + f"and then its own: L0's stage 2 {_fault_words(fault)} on L1 IPA "
                                     f"{(fault.ipa or 0):#x}; L0 resolves it itself, nothing is injected into L1"),)


def translate_nested(n: NestedSetup, mem: Memory, va: int, *, access: Access | None = None, el: int = 1,
                     pan: bool = False) -> NestedTranslation:
    """Translate an L2 guest VA through L2's stage 1, L1's stage 2 and L0's stage 2.

    >>> r = translate_nested(nested_setup(l2, l1, l0), mem, 0x400000)   # doctest: +SKIP
    >>> r.fault_layer, hex(r.pa)

    :param access: the access judged at every layer (``None``: permissions reported, not judged)
    :param el: the L2 exception level of the access (0 or 1)
    :returns: a :class:`NestedTranslation`; faults are values, never raised
    :raises UnknownRegister: a table base register the walk needs was not given
    """
    view = HostStage2View(mem, n.host)
    guest_s2 = n.guest.s2 is not None
    g = translate(n.guest, view, va, access=access, el=el, pan=pan)
    steps = _compose_steps(g, view, guest_s2)
    l2_ipa = g.ipa
    l1_ipa = g.pa if guest_s2 else g.ipa
    notes = list(n.notes) + list(g.notes)
    if g.fault is not None:
        fault, layer = g.fault, ("L2 S1" if g.fault.stage == 1 else "L1 S2")
        failed = next((s for s in reversed(g.steps) if s.desc_pa is not None), None)
        host_t = view.translations.get(failed.desc_pa) if failed is not None and g.fault.not_in_image else None
        if host_t is not None and host_t.fault is not None:
            fault, layer = host_t.fault, "L0 S2"
            notes.append(f"the {_layer_of(failed, guest_s2)[0]} descriptor at L1 IPA {failed.desc_pa:#x} "
                         "is not mapped by L0's stage 2")
        return NestedTranslation(va, l2_ipa, None, None, fault, layer, tuple(steps),
                                 g, None, _deliveries(layer, fault, va, access, el, l2_ipa), tuple(notes))
    h = translate(n.host, mem, l1_ipa, stages="2", access=access, el=el)
    steps += [NestedStep("L0 S2", "PA", f"L1 IPA {l1_ipa:#x} -> PA", s) for s in h.steps]
    if h.fault is not None:
        return NestedTranslation(va, l2_ipa, l1_ipa, None, h.fault, "L0 S2", tuple(steps), g, h,
                                 _deliveries("L0 S2", h.fault, va, access, el, l2_ipa), tuple(notes))
    return NestedTranslation(va, l2_ipa, l1_ipa, h.pa, None, None, tuple(steps), g, h, (), tuple(notes))


# --------------------------------------------------------------------------- AT under nesting


@dataclass(frozen=True)
class NestedAT:
    """An AT instruction in a nested guest: executed by the L2 guest (at its EL1), or executed by
    the guest hypervisor L1 at its virtual EL2, which traps to L0 (FEAT_NV) and is emulated.

    ``par`` is the PAR_EL1 the executing party must see (``None``: no PAR is written, ``outcome``
    says what happens instead); addresses in it are L2 IPAs for ``S1E*`` ops and L1 IPAs (L1's
    "physical" addresses) for ``S12E*`` ops emulated for L1.
    """

    op: str
    va: int
    by: str                          # "L2" or "L1"
    par: int | None
    outcome: str
    fault_layer: str | None
    result: Any                      # the pgwalk.at.ATResult of the walk (over L1's IPA space)
    deliveries: tuple[Delivery, ...] = ()
    notes: tuple[str, ...] = ()


def at_nested(n: NestedSetup, mem: Memory, op: Any, va: int, *, by: str = "L2",
              pan: bool | None = None) -> NestedAT:
    """Emulate ``AT <op>, <va>`` in a nested guest.

    :param op: an EL1&0 operation (``S1E0R``, ``S1E1RP``, ``S12E1W``, ...), text or :class:`~pgwalk.at_ops.ATOp`
    :param by: ``"L2"`` (the L2 guest executes it at EL1: a stage 2 fault of its walk is a Data Abort
        to EL2, never a PAR) or ``"L1"`` (the guest hypervisor executes it at its virtual EL2: the
        trap is emulated by L0, which reports L1's stage 2 faults in PAR as EL2 would)
    :param pan: PSTATE.PAN of the executing context (``S1E1RP``/``S1E1WP``); default: its PSTATE register
    :raises InputError: an op the executing party cannot use (``S12E*`` or EL2/EL3 ops by L2)
    """
    from .at import at, parse_at_op

    op = parse_at_op(op) if isinstance(op, str) else op
    if by not in ("L1", "L2"):
        raise InputError(f"by must be L1 or L2, not {by!r}")
    if op.regime_el != 1:
        raise InputError(f"AT {op.name} does not translate the L2 guest's EL1&0 regime")
    if by == "L2" and op.stages == "12":
        raise InputError(f"AT {op.name} is an EL2 operation: L2 at EL1 cannot execute it (it is UNDEFINED there)")
    view = HostStage2View(mem, n.host)
    res = at(n.guest, view, op, va, pan=pan, exec_el=1 if by == "L2" else 2)
    t = res.translation
    f = t.fault
    notes = list(n.notes) + list(res.notes)
    failed = next((s for s in reversed(t.steps) if s.desc_pa is not None), None)
    host_t = view.translations.get(failed.desc_pa) if (f is not None and f.not_in_image and failed is not None) \
        else None
    if host_t is not None and host_t.fault is not None:
        hf = host_t.fault
        text = (f"the walk reads L1 IPA {failed.desc_pa:#x}, which L0's stage 2 does not map ({_fault_words(hf)}): "
                "L0 must resolve its own fault first; the AT completes only after that, so no PAR is written yet")
        return NestedAT(op.name, va, by, None, text, "L0 S2", res,
                        (Delivery("L0 (EL2)", {}, text),), tuple(notes))
    if res.par is None:
        # AT at EL1 with a stage 2 fault on its stage 1 walk: a Data Abort to EL2 (CM = 1), which is
        # L0's to take and, the fault being in L1's stage 2, to inject into L1
        if f is not None and f.stage == 2:
            esr = _esr(Access.READ, 1, True, f, f.s1ptw) | ISS_DABT["CM"].mask | ISS_DABT["WnR"].mask
            fipa = f.ipa or 0
            regs = {"ESR_EL2": esr, "FAR_EL2": va, "HPFAR_EL2": HPFAR_EL2.encode(FIPA=fipa >> _PAGE)}
            return NestedAT(op.name, va, by, None, res.exception, "L1 S2", res,
                            (Delivery("L1 (virtual EL2)", regs,
                                      f"L0 must inject the stage 2 {_fault_words(f)} on the AT's stage 1 walk into "
                                      "L1 as a Data Abort (CM = 1, WnR = 1, S1PTW = 1), not write PAR_EL1"),),
                            tuple(notes))
        return NestedAT(op.name, va, by, None, res.exception, None, res, (), tuple(notes))
    layer = None if f is None else ("L2 S1" if f.stage == 1 else "L1 S2")
    who = "L2's PAR_EL1" if by == "L2" else "L1's PAR_EL1 (KVM's emulation must write it)"
    return NestedAT(op.name, va, by, res.par, f"{who} = {res.par:#x}", layer, res, (), tuple(notes))
