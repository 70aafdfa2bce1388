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

from typing import Any, Mapping

from .errors import InputError, NotInImage
from .faults import Fault, encode_ld_fsc
from .formats.esr import ESR, ISS_DABT, ISS_IABT
from .formats.registers import HPFAR_EL2
from .memory_protocol import Memory
from .params import Features, Regime, TranslationSetup, s2_params, setup_from_registers
from .perms import Access
from .records import record, replace
from .walk import TraceStep, Translation, translate

__all__ = ["LAYERS", "L1_STAGE2_REGISTERS", "NestedSetup", "nested_setup", "HostStage2View", "NestedStep",
           "Delivery", "NestedTranslation", "translate_nested", "NestedAT", "at_nested", "ShadowEntry",
           "shadow_s2", "ShadowMismatch", "compare_shadow"]

#: the layers, innermost first: (name, what it translates)
LAYERS = (("L2 S1", "L2 VA -> L2 IPA"), ("L1 S2", "L2 IPA -> L1 IPA"), ("L0 S2", "L1 IPA -> PA"))

#: registers of L1's virtual EL2 that define its stage 2 for L2
L1_STAGE2_REGISTERS = ("HCR_EL2", "VTCR_EL2", "VTTBR_EL2")

_PAGE = 12
_EC_IABT_LOWER, _EC_IABT_SAME, _EC_DABT_LOWER, _EC_DABT_SAME = 0x20, 0x21, 0x24, 0x25


@record(frozen=True)
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

    Implements the :class:`~pgwalk.memory_protocol.Memory` protocol.  Each read is judged by L0's
    stage 2 as a data read (S2AP read permission); L0's HCR_EL2.PTW check (a stage 1 walk into
    stage 2 Device memory) is not applied to these reads, a simplification the notes of a nested
    walk do not repeat.
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


def _host_fault(t: Translation, view: HostStage2View) -> tuple[TraceStep | None, Fault | None]:
    """The last descriptor read of the inner walk ``t`` and, when ``t`` stopped because L0's stage 2
    does not map that read's L1 IPA, L0's fault (else ``None``)."""
    failed = next((s for s in reversed(t.steps) if s.desc_pa is not None), None)
    if t.fault is None or not t.fault.not_in_image or failed is None:
        return failed, None
    host_t = view.translations.get(failed.desc_pa)
    return failed, None if host_t is None else host_t.fault


def _fault_words(f: Fault) -> str:
    lvl = "" if f.level is None else f" level {f.level}"
    return f"{f.type.value} fault{lvl}"


@record(frozen=True, compiled_init=True)
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


@record(frozen=True, compiled_init=True)
class Delivery:
    """How one party receives a fault: the registers as the architecture (and, for an
    injected fault, KVM's emulation) must set them."""

    party: str                      # "L2 EL1", "L1 (virtual EL2)", "L0 (EL2)"
    registers: dict[str, int]       # ESR_ELx, FAR_ELx, HPFAR_EL2 (values)
    text: str


@record(frozen=True, compiled_init=True)
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
        failed, host_fault = _host_fault(g, view)
        if host_fault is not None:
            fault, layer = host_fault, "L0 S2"
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


@record(frozen=True, compiled_init=True)
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
    failed, hf = _host_fault(t, view)
    if hf is not None:
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


# --------------------------------------------------------------------------- KVM's shadow stage 2


@record(frozen=True, compiled_init=True)
class ShadowEntry:
    """A piece of the composed L2 IPA -> PA mapping that a shadow stage 2 must hold.

    ``max_block`` is the largest block a shadow leaf covering this piece may be (the smaller of the
    two stage 2 leaves it comes from; a leaf larger than that maps bytes the composition maps
    elsewhere); ``perms`` are the intersection of both stages' permissions and ``attrs`` their
    combination (the stronger type and the weaker cacheability, as ``S2CombineS1MemAttrs`` combines
    two stages).  A piece where a layer faults has ``fault`` and ``fault_layer`` and no output.
    """

    ipa: int                         # L2 IPA
    size: int
    l1_ipa: int | None
    pa: int | None
    max_block: int
    perms: Any = None                # S2Perms
    attrs: Any = None                # MemAttrs
    fault: Fault | None = None
    fault_layer: str | None = None

    @property
    def end(self) -> int:
        return self.ipa + self.size

    @property
    def mapped(self) -> bool:
        return self.fault is None and self.pa is not None

    def same_kind(self, other: "ShadowEntry") -> bool:
        return (self.perms, self.attrs, self.fault_layer, self.fault and self.fault.type) == \
            (other.perms, other.attrs, other.fault_layer, other.fault and other.fault.type)


def _intersect(a: Any, b: Any) -> Any:
    from .perms import S2Perms

    return S2Perms(a.r and b.r, a.w and b.w, a.x_el1 and b.x_el1, a.x_el0 and b.x_el0)


class _Leaves:
    """A tree visitor collecting the leaf runs (and, with ``invalid``, the holes)."""

    def __init__(self) -> None:
        self.runs: list[Any] = []

    def table_pre(self, table: Any) -> None:
        pass

    def table_post(self, table: Any) -> None:
        pass

    def run(self, run: Any) -> None:
        self.runs.append(run)


def _tree_runs(setup: TranslationSetup, mem: Memory, *, start: int | None = None, end: int | None = None) -> list:
    from .tree import Visit, tree_params, walk_tree

    tp = tree_params(setup, "s2")
    if tp.disabled:
        raise InputError(f"the stage 2 tree cannot be walked: {tp.disabled}")
    v = _Leaves()
    walk_tree(tp, mem, v, start=start, end=end, visits=Visit.LEAF, merge=False)  # type: ignore[arg-type]
    return [r for r in v.runs if r.mapped]


def _host_pieces(host: TranslationSetup, mem: Memory, l1_ipa: int, size: int):
    """``(l1_ipa, size, translation)`` pieces of ``[l1_ipa, +size)`` that L0's stage 2 maps alike."""
    from .rules import level_shift

    g = host.s2.granule_shift
    cur, end = l1_ipa, l1_ipa + size
    while cur < end:
        t = translate(host, mem, cur, stages="2")
        if t.ok:
            span = t.s2.size
        elif t.steps:                  # a fault at level L: the whole level-L entry faults alike
            span = 1 << level_shift(t.fault.level, g, host.s2.d128)
        else:                          # a fault before the walk (configuration, input range): all of it
            yield cur, end - cur, t
            return
        take = min(end - cur, span - (cur & (span - 1)))
        yield cur, take, t
        cur += take


def shadow_s2(n: NestedSetup, mem: Memory, *, start: int | None = None, end: int | None = None,
              merge: bool = True) -> list[ShadowEntry]:
    """The composed L2 IPA -> PA mapping KVM's shadow stage 2 must hold for ``[start, end)``
    (``dump-tree --shadow-s2``): every leaf of L1's stage 2 (walked through L0's stage 2, as its
    tables live in L1 IPA space) looked up piecewise in L0's stage 2.  With ``merge``, adjacent
    pieces alike with continuing outputs are joined (``max_block`` then the smallest of them).

    :raises InputError: L1 does not enable stage 2, or its tree cannot be walked
    """
    from . import attrs as A

    if n.guest.s2 is None:
        raise InputError("L1 does not enable stage 2 (HCR_EL2.VM = 0): the shadow stage 2 is L0's own")
    view = HostStage2View(mem, n.host)
    out: list[ShadowEntry] = []
    for run in _tree_runs(n.guest, view, start=start, end=end):
        la = run.attrs
        for k in range(run.count):
            ipa = run.va_start + k * run.entry_size
            l1 = run.oa + k * run.entry_size
            for cur, take, t in _host_pieces(n.host, mem, l1, run.entry_size):
                at = ipa + (cur - l1)
                if t.ok:
                    out.append(ShadowEntry(at, take, cur, t.pa, min(run.entry_size, t.s2.size),
                                           _intersect(la.perms, t.s2.perms),
                                           A.s2_combine_s1(la.memattrs, t.s2.attrs)))
                else:
                    out.append(ShadowEntry(at, take, cur, None, take, fault=t.fault, fault_layer="L0 S2"))
    return _merge_pieces(out) if merge else out


def _merge_pieces(pieces: list[ShadowEntry]) -> list[ShadowEntry]:
    """Adjacent pieces alike with continuing outputs joined (``max_block`` the smallest of them)."""
    merged: list[ShadowEntry] = []
    for e in pieces:
        p = merged[-1] if merged else None
        if p is not None and p.end == e.ipa and p.same_kind(e) and \
                ((p.mapped and p.pa + p.size == e.pa) or (not p.mapped and not e.mapped)):
            merged[-1] = replace(p, size=p.size + e.size, max_block=min(p.max_block, e.max_block))
        else:
            merged.append(e)
    return merged


@record(frozen=True, compiled_init=True)
class ShadowMismatch:
    """One way a shadow stage 2 leaf departs from the composition (``compare_shadow``).

    ``kind``: ``"stale"`` (maps what the composition does not, or to another PA), ``"more permissive"``,
    ``"wrong attributes"``, ``"wrong size"`` (a block larger than the composition allows), or
    ``"missing"`` (the composition maps it, the shadow does not: normal for a lazily filled shadow).
    """

    kind: str
    ipa: int
    size: int
    text: str


def _attr_key(m: Any) -> tuple:
    """What a stage 2 leaf can say about memory: type, Device kind, cacheability, shareability."""
    if m is None:
        return (None,)
    return (m.memtype, m.device, m.inner and m.inner.attrs, m.outer and m.outer.attrs, m.shareability)


def _shadow_setup(n: NestedSetup, root: int, vtcr: int | None) -> TranslationSetup:
    from .formats.registers import VTTBR_EL2

    regs = {k: v for k, v in n.host.registers.items() if k.startswith("ID_")}
    regs["VTCR_EL2"] = n.host.registers["VTCR_EL2"] if vtcr is None else vtcr
    regs["VTTBR_EL2"] = VTTBR_EL2["BADDR"].put(0, root >> 1)
    return setup_from_registers(regs, Regime.EL10, stage1=False)


def compare_shadow(n: NestedSetup, mem: Memory, root: int, *, vtcr: int | None = None) -> list[ShadowMismatch]:
    """Compare a shadow stage 2 tree found at PA ``root`` (``dump-tree --compare-shadow ROOT``) with the
    composition (:func:`shadow_s2`), leaf by leaf.

    :param vtcr: the shadow's VTCR_EL2 (its granule and IPA size); default: the host's
    :returns: every mismatch, in L2 IPA order (``missing`` ranges included)
    """
    import bisect

    want = shadow_s2(n, mem, merge=False)
    starts = [e.ipa for e in want]
    shadow = _tree_runs(_shadow_setup(n, root, vtcr), mem)
    out: list[ShadowMismatch] = []
    covered: list[tuple[int, int]] = []
    for run in shadow:
        for k in range(run.count):
            a = run.va_start + k * run.entry_size
            size = run.entry_size
            pa = run.oa + k * run.entry_size
            covered.append((a, a + size))
            i = max(bisect.bisect_right(starts, a) - 1, 0)
            pieces = []
            while i < len(want) and want[i].ipa < a + size:
                if want[i].end > a:
                    pieces.append(want[i])
                i += 1
            mapped = [e for e in pieces if e.mapped]
            where = f"L2 IPA {a:#x} (+{size:#x})"
            if not mapped:
                why = "; ".join(sorted({f"{e.fault_layer} {_fault_words(e.fault)}" for e in pieces if e.fault})) \
                    or "neither stage 2 maps it"
                out.append(ShadowMismatch("stale", a, size, f"{where}: the shadow maps PA {pa:#x}, the composition "
                                                            f"does not map it ({why})"))
                continue
            first = mapped[0]
            exp_pa = first.pa + (a - first.ipa) if first.ipa <= a else None
            if exp_pa is not None and exp_pa != pa:
                out.append(ShadowMismatch("stale", a, size, f"{where}: the shadow gives PA {pa:#x}, the "
                                                            f"composition PA {exp_pa:#x}"))
                continue
            if len(mapped) != len(pieces) or any(e.max_block < size for e in mapped) or \
                    any(e.pa - e.ipa != first.pa - first.ipa for e in mapped) or first.ipa > a:
                smallest = min(e.max_block for e in mapped)
                out.append(ShadowMismatch("wrong size", a, size, f"{where}: a {size:#x}-byte shadow leaf where the "
                                                                 f"composition maps pieces of at most {smallest:#x} "
                                                                 "bytes alike"))
                continue
            sp, sa = run.attrs.perms, run.attrs.memattrs
            for e in mapped:
                more = [name for name, s, w in (("read", sp.r, e.perms.r), ("write", sp.w, e.perms.w),
                                                ("EL1 execute", sp.x_el1, e.perms.x_el1),
                                                ("EL0 execute", sp.x_el0, e.perms.x_el0)) if s and not w]
                if more:
                    out.append(ShadowMismatch("more permissive", a, size, f"{where}: the shadow allows "
                                              f"{', '.join(more)}, which the composition ({e.perms.text(False)}) "
                                              "denies"))
                    break
                if _attr_key(sa) != _attr_key(e.attrs):
                    out.append(ShadowMismatch("wrong attributes", a, size, f"{where}: the shadow says "
                                              f"{sa.describe()}, the composition {e.attrs.describe()}"))
                    break
    covered.sort()
    j = 0
    for e in _merge_pieces(want):
        if not e.mapped:
            continue
        cur = e.ipa
        while j < len(covered) and covered[j][1] <= cur:
            j += 1
        k = j
        while cur < e.end:
            if k < len(covered) and covered[k][0] <= cur:
                cur = max(cur, covered[k][1])
                k += 1
                continue
            nxt = min(e.end, covered[k][0] if k < len(covered) else e.end)
            out.append(ShadowMismatch("missing", cur, nxt - cur, f"L2 IPA {cur:#x} (+{nxt - cur:#x}): mapped by the "
                                      f"composition (PA {e.pa + (cur - e.ipa):#x}), not (yet) by the shadow"))
            cur = nxt
    out.sort(key=lambda m: (m.ipa, m.kind))
    return out
