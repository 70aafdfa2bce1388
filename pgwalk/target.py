"""pgwalk's public API: a target (memory and registers) and the questions asked of it.

:func:`open` gathers what every question needs, once: the memory (raw images,
ELF cores, kdump files, or a live GDB stub), the system registers (a register
file, keyword arguments, the ``granule``/``va_bits``/``root`` shortcut, a live
target's own, or a crash dump's VMCOREINFO) and the notes that say what was
derived or assumed.  The :class:`Target` it returns translates one address or a
million, emulates AT, walks whole trees and reads memory, each through the
library function that the CLI uses for the same command:

========================  ==========================================  ====================
:class:`Target` method    library function                            CLI
========================  ==========================================  ====================
:meth:`~Target.translate`       :func:`pgwalk.walk.translate`         ``translate``
:meth:`~Target.translate_many`  :func:`pgwalk.bulk.translate_many`    ``translate --batch``
:meth:`~Target.at`              :func:`pgwalk.at.at`                  ``at``
:meth:`~Target.tree`            :func:`pgwalk.tree.walk_tree`         ``dump-tree``
:meth:`~Target.read`            :func:`pgwalk.contents.read_virtual`  ``read``
:meth:`~Target.vtop`            :class:`pgwalk.linux.KernelTranslator`  ``vtop`` / ``ptov``
========================  ==========================================  ====================

Where registers come from (:func:`resolve_registers`, the one statement of it that
the CLI's ``load_context`` calls too): a crash dump with VMCOREINFO and no
register file or shortcut gives the Linux kernel's own stage 1 setup
(:func:`pgwalk.linux.registers_from_vmcoreinfo`: TCR_EL1, TTBR1_EL1 on
swapper_pg_dir, MAIR_EL1, SCTLR_EL1); registers named explicitly win key by key.
An absent register is unknown, not zero: a walk that needs it raises
:class:`~pgwalk.errors.UnknownRegister`.

Faults are values (:class:`pgwalk.faults.Fault` in ``.fault``), never
exceptions; exceptions (:class:`~pgwalk.errors.PgwalkError`) are for input that
cannot be used: an unreadable image, a malformed register, an unknown register
a walk needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping

# what every translation needs, imported with the module (a function-level import costs about 1 us
# per call, several times the work of Target.translate's own lines); the rest is imported on use
from .errors import InputError
from .params import Regime, setup_from_registers
from .perms import Access, pan_applies
from .records import field, record
from .walk import translate as walk_translate

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from .at import ATResult
    from .bulk import BulkTranslation
    from .nested import NestedAT, NestedTranslation, ShadowEntry, ShadowMismatch
    from .contents import Piece
    from .linux import LayoutRange, PtovResult, VtopResult
    from .params import TranslationSetup
    from .tree import Limits, TreeParams
    from .vmcoreinfo import VmcoreInfo
    from .walk import Translation

__all__ = ["open", "Target", "RegisterSet", "resolve_registers", "live_registers", "WALK_REGISTERS", "access_el", "TranslateResult", "translate_result",
           "TreeSelection", "select_trees",
           "TreeWalk", "par_decode"]

#: the ELs whose accesses each regime translates, the privileged one first (the default EL)
_REGIME_ELS = {"EL10": (1, 0), "EL20": (2, 0), "EL2": (2,), "EL3": (3,)}


@record
class RegisterSet:
    """The registers of a target and where they came from.

    :ivar registers: architectural name -> value
    :ivar notes: what was derived or assumed, one sentence each
    :ivar vmcoreinfo: the dump's decoded VMCOREINFO when the registers came from it (or it
        was usable), else ``None``
    """

    registers: dict[str, int]
    notes: list[str] = field(default_factory=list)
    vmcoreinfo: "VmcoreInfo | None" = None


def _vmcoreinfo_text(memory: Any) -> str | None:
    for core in getattr(memory, "elf_cores", ()) or ():
        info = getattr(core, "vmcoreinfo", None)
        if info:
            return info
    return getattr(memory, "vmcoreinfo", None)


def resolve_registers(memory: Any, given: Mapping[str, int] | None = None,
                      explicit: Mapping[str, int] | None = None, *,
                      use_vmcoreinfo: bool = True) -> RegisterSet:
    """The registers a walk of ``memory`` uses: ``given``, or a dump's VMCOREINFO, then ``explicit``.

    With no ``given`` registers (no register file, no shortcut) and a crash dump
    carrying VMCOREINFO, the Linux kernel's own stage 1 setup is derived
    (:func:`pgwalk.linux.registers_from_vmcoreinfo`); ``explicit`` registers then
    win key by key.  With ``given`` registers the VMCOREINFO still supplies the kernel's
    layout (region labels), unless the registers contradict the kernel it describes
    (TTBR1_EL1 not on swapper_pg_dir, another granule or T1SZ): then the labels are left
    off with a note.  A corrupt VMCOREINFO is a note when registers are given, an error
    otherwise.

    >>> from pgwalk.memory import PhysicalMemory
    >>> rs = resolve_registers(PhysicalMemory(), {"TCR_EL1": 0x10}, {"TCR_EL1": 0x19})
    >>> hex(rs.registers["TCR_EL1"]), rs.notes
    ('0x19', [])

    :param memory: a :class:`~pgwalk.memory.PhysicalMemory` (or a live target's memory)
    :param given: registers from a file or the granule/VA size/root shortcut
    :param explicit: registers named one by one (``--reg NAME=VALUE``, keyword arguments)
    :param use_vmcoreinfo: False to ignore the dump's VMCOREINFO (the root shortcut describes
        some other tree)
    :returns: a :class:`RegisterSet`
    :raises RegisterError: no registers at all, or VMCOREINFO unusable with none given
    """
    from .errors import PgwalkError, RegisterError

    regs: dict[str, int] = dict(given or {})
    explicit = dict(explicit or {})
    notes: list[str] = []
    info = None
    linux_regs: dict[str, int] = {}
    text = _vmcoreinfo_text(memory) if use_vmcoreinfo else None
    if text:
        from .linux import kernel_layout, registers_from_vmcoreinfo
        from .vmcoreinfo import parse_vmcoreinfo

        # A crash dump's VMCOREINFO may be corrupt: with registers given that is a note, not a
        # failure; without, the error says where it came from.
        try:
            info = parse_vmcoreinfo(text)
            linux_regs = registers_from_vmcoreinfo(info)
            kernel_layout(info)                     # the layout labels need it too
        except PgwalkError as exc:
            info = None
            linux_regs = {}
            if not explicit and not given:
                raise RegisterError(f"cannot derive the registers from the dump's VMCOREINFO: {exc} "
                                    "(give them with --regs FILE or --reg NAME=VALUE)") from None
            notes.append(f"the dump's VMCOREINFO is not usable ({exc}); only the registers given are used")
        else:
            if not given:
                regs = {**linux_regs, **regs}
                notes.append("registers derived from the dump's VMCOREINFO (kernel stage 1 through swapper_pg_dir)")
    regs.update(explicit)
    if info is not None:
        conflict = _kernel_conflicts(regs, linux_regs)
        if conflict:
            info = None
            notes.append(f"the registers given do not describe the dump's kernel ({'; '.join(conflict)}): "
                         "its region labels are left off")
    if not regs:
        raise RegisterError("no registers given (use --regs FILE, --reg NAME=VALUE, or --granule/--va-bits/--root)")
    return RegisterSet(regs, notes, info)


def _kernel_conflicts(regs: Mapping[str, int], linux_regs: Mapping[str, int]) -> list[str]:
    """Where the TTBR1_EL1/TCR_EL1 given contradict the kernel's setup derived from VMCOREINFO:
    the TTBR1_EL1 table base (not swapper_pg_dir), the granule or the size of the upper VA range."""
    from .errors import PgwalkError
    from .params import Regime, granule_name, setup_from_registers

    if not any(name in regs and regs[name] != linux_regs.get(name) for name in ("TTBR1_EL1", "TCR_EL1")):
        return []
    try:
        mine = setup_from_registers(regs, Regime.EL10).ranges[1]
        kernel = setup_from_registers(linux_regs, Regime.EL10).ranges[1]
    except (PgwalkError, IndexError):       # not an EL1&0 setup: its own error or note says why
        return []
    out = []
    if mine.ttbr_known and mine.base != kernel.base:
        out.append(f"TTBR1_EL1 table base {mine.base:#x}, swapper_pg_dir at {kernel.base:#x}")
    if mine.granule_shift != kernel.granule_shift:
        out.append(f"TCR_EL1.TG1 {granule_name(mine.granule_shift)}, "
                   f"the kernel's pages {granule_name(kernel.granule_shift)}")
    if mine.txsz != kernel.txsz:
        out.append(f"TCR_EL1.T1SZ {mine.txsz}, the kernel's {kernel.txsz}")
    return out


def _named_registers(values: Mapping[str, Any]) -> dict[str, int]:
    from .regs import canonical_name, parse_int

    return {canonical_name(k): parse_int(v, k) for k, v in values.items()}


def access_el(regime: "Regime", el: int | None, option: str = "el") -> int:
    """The EL of an access in ``regime``: ``el``, or the regime's privileged EL (EL2 for the EL2
    regime, so that its permissions are labelled EL2).

    >>> from pgwalk.params import Regime
    >>> access_el(Regime.EL20, None), access_el(Regime.EL10, 0)
    (2, 0)

    :param regime: the :class:`~pgwalk.params.Regime`
    :param el: the EL asked for, or ``None``
    :param option: how error messages name ``el``
    :returns: the EL
    :raises InputError: ``el`` is not an EL whose accesses the regime translates
    """
    els = _REGIME_ELS[regime.name]
    if el is None:
        return els[0]
    if el not in els:
        raise InputError(f"{option} {el}: the {regime.value} regime translates accesses from "
                         f"{' and '.join(f'EL{n}' for n in els)} only")
    return el


def open(source: "str | Iterable[str] | Any" = None, *, regs: "str | Mapping[str, Any] | None" = None,
         gdb: str | None = None, cpu: int | None = None, granule: str | None = None, va_bits: int | None = None,
         root: int | None = None, **registers: Any) -> "Target":
    """Open a memory image, crash dump or live target with its registers.

    >>> t = pgwalk.open(["samples/s1_4k_48bit.img@0x40000000"], regs="samples/s1_4k_48bit.regs.json")
    >>> hex(t.translate(0xffff800000201234).pa)
    '0x40201234'
    >>> t.close()

    :param source: a path (``"vmcore"``, ``"mem.img@0x40000000"``: a raw file mapped at a
        hexadecimal base), a list of them, or a memory object (a
        :class:`~pgwalk.memory.PhysicalMemory`); ``None`` with ``gdb``
    :param regs: a register file (JSON or TOML), or a mapping laid out as one
        (:func:`pgwalk.regs.registers_from_mapping`)
    :param gdb: a stopped GDB stub, ``"HOST:PORT"`` or ``"unix:PATH"`` (QEMU ``-gdb``), read-only;
        its registers are read, ``regs`` fills the ones it lacks
    :param cpu: with ``gdb``: the CPU to read (the stub's ``cpu``-th thread from 0; QEMU's CPU
        number); default the stub's current thread
    :param granule: with ``va_bits`` and ``root``: the shortcut of a bare table root
        (``"4k"``, ``"16k"``, ``"64k"``), as ``--granule/--va-bits/--root``
    :param registers: registers by name, ``TCR_EL1=0x...`` (ints or hexadecimal strings); they
        win over every other source, key by key
    :returns: a :class:`Target` (a context manager: ``with pgwalk.open(...) as t:``)
    :raises ImageError: an image is unreadable, truncated or corrupt
    :raises RegisterError: a malformed or unknown register, or no registers at all
    :raises InputError: no memory given, or ``gdb`` together with images
    :raises GdbError: the live target cannot be reached or read
    """
    from .images import open_images
    from .regs import shortcut_registers

    explicit = _named_registers(registers)
    shortcut = [granule, va_bits, root]
    given: dict[str, int] = {}
    file_regs: dict[str, int] = {}
    if regs is not None:
        file_regs = _register_set(regs, "regs")
    if any(x is not None for x in shortcut):
        if not all(x is not None for x in shortcut):
            raise InputError("the shortcut needs all of granule, va_bits and root")
        shortcut_regs = shortcut_registers(granule, va_bits, root)       # type: ignore[arg-type]
    else:
        shortcut_regs = {}
    if cpu is not None and gdb is None:
        raise InputError("cpu chooses a CPU of a gdb target")
    if gdb is not None:
        if source is not None:
            raise InputError("gdb and images exclude each other (one target at a time)")
        return _open_live(gdb, file_regs, {**shortcut_regs, **explicit},
                          regs if isinstance(regs, (str, bytes)) or hasattr(regs, "__fspath__") else None, cpu)
    if source is None:
        raise InputError("no memory image given (a path, a list of paths, or gdb=HOST:PORT)")
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        memory = open_images([os.fsdecode(source)])
    elif isinstance(source, Iterable) and not hasattr(source, "read_u64"):
        memory = open_images([os.fsdecode(s) for s in source])
    else:
        memory = source                     # a memory object the caller opened (and closes)
    try:
        given.update(file_regs)
        given.update(shortcut_regs)
        rs = resolve_registers(memory, given, explicit, use_vmcoreinfo=not shortcut_regs)
    except BaseException:
        if memory is not source:
            memory.close()
        raise
    notes = list(getattr(memory, "warnings", ()) or ()) + rs.notes
    return Target(memory, rs.registers, notes, rs.vmcoreinfo, owns_memory=memory is not source)


def _register_set(regs: "str | Mapping[str, Any]", what: str) -> dict[str, int]:
    """Registers from a register file path or a mapping laid out as one."""
    from .regs import load_register_file, registers_from_mapping

    if isinstance(regs, Mapping):
        return registers_from_mapping(regs, what)
    return load_register_file(regs)


#: registers a walk of each regime may use, named when a stub lacks them
WALK_REGISTERS = ("TCR_EL1", "TTBR0_EL1", "TTBR1_EL1", "MAIR_EL1", "SCTLR_EL1", "HCR_EL2", "VTCR_EL2",
                  "VTTBR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "PSTATE")


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _from_stub(stub_regs: Mapping[str, int]) -> str:
    walk = [k for k in stub_regs if k in WALK_REGISTERS or k.endswith(("_EL2", "_EL3")) and k[:3] in ("TCR", "TTB", "SCT", "MAI")]
    others = len(stub_regs) - len(walk)
    return f"registers from the gdb stub: {_names(walk)}" + (f" (and {others} others)" if others else "")


def live_registers(mem: Any, file_regs: Mapping[str, int] | None = None, explicit: Mapping[str, int] | None = None,
                   *, file_name: str = "the register file", explicit_name: str = "the command line") -> RegisterSet:
    """The registers of a live target: the stub's, ``file_regs`` filling what it lacks, ``explicit`` winning.

    The notes say where each register came from.

    :param mem: an open :class:`~pgwalk.live.LiveMemory`
    :param file_regs: registers from a file (used only where the stub has none)
    :param explicit: registers named one by one (win over the stub's)
    :param file_name, explicit_name: how the notes name the two sources
    :returns: a :class:`RegisterSet`
    :raises GdbError: the stub exports no translation registers and none were given
    """
    from .gdbremote import GdbError
    from .live import read_target_registers

    file_regs, explicit = dict(file_regs or {}), dict(explicit or {})
    stub_regs, missing = read_target_registers(mem, WALK_REGISTERS)
    regs = dict(stub_regs)
    if not any(k.startswith(("TCR_", "TTBR", "SCTLR_", "VTCR")) for k in stub_regs) and not (file_regs or explicit):
        raise GdbError(f"gdb stub {mem.label}: it exports no translation system registers (TCR, TTBR, "
                       "SCTLR); give them with --regs FILE or --reg NAME=VALUE")
    notes = [f"live target: gdb stub {mem.label}, physical memory (read-only; the target is not resumed)",
             _from_stub(stub_regs)]
    if getattr(mem, "cpu", None) is not None:
        notes.insert(1, f"CPU {mem.cpu}: the stub's thread {mem.thread}, whose registers and memory are read")
    if file_regs:
        added = {k: v for k, v in file_regs.items() if k not in regs}
        differ = sorted(k for k, v in file_regs.items() if k in regs and regs[k] != v)
        regs.update(added)
        if added:
            notes.append(f"registers from {file_name} (the stub lacks them): {_names(added)}")
        if differ:
            notes.append(f"{file_name}: the target's values are used for {_names(differ)} "
                         "(use --reg NAME=VALUE to override)")
    if explicit:
        regs.update(explicit)
        notes.append(f"registers from {explicit_name}: {_names(explicit)}")
    lacking = sorted(set(missing) - set(regs))
    if lacking:
        notes.append(f"not exported by the stub nor given: {_names(lacking)}")
    return RegisterSet(regs, notes, None)


def _open_live(spec: str, file_regs: Mapping[str, int], explicit: Mapping[str, int], file_name: Any,
               cpu: int | None = None) -> "Target":
    """A live target (:func:`pgwalk.live.open_target`) with :func:`live_registers`."""
    from .live import open_target

    mem = open_target(spec, cpu=cpu)
    try:
        rs = live_registers(mem, file_regs, explicit, file_name=str(file_name or "regs"),
                            explicit_name="the arguments")
    except BaseException:
        mem.close()
        raise
    return Target(mem, rs.registers, rs.notes, None, owns_memory=True)


@record
class TreeSelection:
    """The trees a whole-tree walk covers (:func:`select_trees`).

    :ivar trees: the :class:`pgwalk.tree.TreeParams`, in address order
    :ivar stage: the stage shown: ``"2"`` (the VTTBR_EL2 tree), ``"1"``, ``"12"`` or ``None`` (stage 1,
        final PAs when stage 2 is on)
    :ivar notes: what was chosen for the caller, one sentence each
    """

    trees: "list[TreeParams]"
    stage: str | None
    notes: list[str] = field(default_factory=list)


def select_trees(setup: "TranslationSetup", ttbrs: Iterable[int] = (), stage: str | None = None, *,
                 unknown_hint: str = "") -> TreeSelection:
    """The trees ``dump-tree`` and :meth:`Target.tree` walk: the TTBRs asked for, else each of the
    regime's whose value is known (an absent TTBR is unknown, not 0); the stage 2 tree with
    ``stage="2"``, or when stage 1 is off and stage 2 on.

    >>> import pgwalk
    >>> with pgwalk.open("samples/s2_concat.img@0x40000000", regs="samples/s2_concat.regs.json") as t:
    ...     sel = select_trees(t.setup())
    >>> [tree.name for tree in sel.trees], sel.stage
    (['VTTBR_EL2'], '2')

    :param setup: the walk parameters
    :param ttbrs: 0 and/or 1 (``--ttbr0``/``--ttbr1``); empty: the regime's known ones
    :param stage: ``"1"``, ``"2"``, ``"12"`` or ``None``, as ``dump-tree --stage``
    :param unknown_hint: how to give an unknown TTBR (the error's hint; ``{name}`` is its name)
    :returns: a :class:`TreeSelection`
    :raises UnknownRegister: a TTBR asked for (or every one) is unknown
    :raises InputError: ``stage="12"`` without stage 2; a TTBR the regime lacks
    """
    from .errors import InputError, UnknownRegister
    from .tree import tree_params

    ttbrs = sorted(set(ttbrs))
    notes: list[str] = []
    if stage == "2" and ttbrs:
        raise InputError("--ttbr0/--ttbr1 select a stage 1 tree; --stage 2 walks the VTTBR_EL2 tree")
    if stage == "12" and setup.s2 is None:
        raise InputError("--stage 12: stage 2 is not enabled by the registers (HCR_EL2.VM/DC)")
    if stage is None and not ttbrs and not setup.s1_enabled and setup.s2 is not None:
        # stage 1 is off and stage 2 on: the stage 2 tree is what translates addresses
        notes.append("stage 1 is disabled (SCTLR_ELx.M = 0): showing the stage 2 tree "
                     "(--ttbr0/--ttbr1 show the stage 1 tables the registers describe)")
        stage = "2"
    if stage == "2":
        return TreeSelection([tree_params(setup, "s2")], stage, notes)
    names = [f"ttbr{n}" for n in ttbrs]
    explicit = bool(names)
    if not names:
        names = ["ttbr0", "ttbr1"] if len(setup.ranges) == 2 else ["ttbr0"]
    # an absent TTBR is unknown, not 0: asked for, that is an error; by default, that tree is left out
    unknown = [n for n in names if int(n[-1]) < len(setup.ranges) and not setup.ranges[int(n[-1])].ttbr_known]
    if unknown and (explicit or len(unknown) == len(names)):
        name = setup.ranges[int(unknown[0][-1])].ttbr_name
        raise UnknownRegister(name, hint=unknown_hint.format(name=name))
    if unknown:
        notes.append(f"{', '.join(setup.ranges[int(n[-1])].ttbr_name for n in unknown)} unknown: "
                     "that tree is not shown (give it with --reg NAME=VALUE)")
        names = [n for n in names if n not in unknown]
    return TreeSelection([tree_params(setup, n, final_pa=stage != "1") for n in names], stage, notes)


@record(frozen=True, compiled_init=True)
class TranslateResult:
    """One address translated (:meth:`Target.translate`): the walk and what it found.

    :ivar translation: the :class:`pgwalk.walk.Translation` (trace, leaves, fault)
    :ivar wxn: SCTLR_ELx.WXN of the setup, for :attr:`permissions`
    :ivar epan: SCTLR_ELx.EPAN of the setup
    :ivar contents_missing: why the memory lacks the bytes at :attr:`pa` (a page excluded from a
        dump, an image of the tables only), ``None`` when it holds them or nothing was translated
    :ivar layout: the kernel's VA layout (:func:`pgwalk.linux.kernel_layout`) on a dump with
        VMCOREINFO, for :attr:`label`; else ``None``
    """

    translation: "Translation"
    wxn: bool = False
    epan: bool = False
    contents_missing: str | None = None
    layout: "list[LayoutRange] | None" = field(default=None, repr=False, compare=False)

    @property
    def labelled(self) -> bool:
        """The target knows the kernel's layout (a dump with VMCOREINFO): :attr:`label` applies."""
        return self.layout is not None

    @property
    def label(self) -> str | None:
        """The kernel layout region of the address (``"linear map"``, ...; ``None`` outside every
        region, or without a layout), worked out when asked for."""
        if self.layout is None:
            return None
        from .linux import label_address

        return label_address(self.layout, self.translation.va)       # (TBI tags ignored there)

    @property
    def ok(self) -> bool:
        """No fault."""
        return self.translation.fault is None

    @property
    def va(self) -> int:
        return self.translation.va

    @property
    def pa(self) -> int | None:
        """The physical address (``None`` on a fault, or with ``stages="1"``)."""
        return self.translation.pa

    @property
    def ipa(self) -> int | None:
        """The intermediate physical address (stage 1's output)."""
        return self.translation.ipa

    @property
    def fault(self):
        """The :class:`pgwalk.faults.Fault` (type, level, stage, S1PTW, FSC), or ``None``."""
        return self.translation.fault

    @property
    def steps(self) -> tuple:
        """The descriptors read, in order (:class:`pgwalk.walk.TraceStep`)."""
        return self.translation.steps

    @property
    def attributes(self):
        """The final memory attributes (:class:`pgwalk.attrs.MemAttrs`; ``None`` on a fault or unknown MAIR)."""
        return self.translation.attrs

    @property
    def permissions(self) -> dict[str, str] | None:
        """What each EL may do, ``{"el1": "r-x", "el0": "---"}`` (PAN off), as ``translate --json`` says."""
        from .report import permissions

        return permissions(self.translation, wxn=self.wxn, epan=self.epan) if self.ok else None

    def to_dict(self, trace: bool = True, extra_notes: Iterable[str] = ()) -> dict[str, Any]:
        """The object ``pgwalk translate --json`` prints (``--trace`` with ``trace``).

        :param extra_notes: notes to add after the walk's own (the CLI adds the setup notes,
            :attr:`Target.notes`, to its first object)
        """
        from .report import drop_trace, translation_to_dict

        missing = self.contents_missing
        d = translation_to_dict(self.translation, wxn=self.wxn, epan=self.epan, extra_notes=tuple(extra_notes),
                                contents=missing is None)
        if missing is not None:
            d["notes"].append(f"page contents not in the image: physical address {self.pa:#x} {missing}")
        if self.labelled:
            d["label"] = self.label
        return d if trace else drop_trace(d)


def translate_result(setup: "TranslationSetup", memory: Any, t: "Translation",
                     layout: "list[LayoutRange] | None" = None) -> TranslateResult:
    """A walk's :class:`TranslateResult`: whether ``memory`` holds the bytes at its PA, and its
    kernel layout label when ``layout`` (:func:`pgwalk.linux.kernel_layout`) is given.

    :param setup: the setup the walk used (WXN, EPAN for the permissions)
    :param t: the :class:`pgwalk.walk.Translation`
    :returns: the :class:`TranslateResult`
    """
    missing = None
    if t.fault is None and t.pa is not None and hasattr(memory, "contents_missing"):
        missing = memory.contents_missing(t.pa, verify=True)
    return TranslateResult(t, setup.wxn, setup.epan, missing, layout)


class TreeWalk:
    """The ranges (or tree nodes) of :meth:`Target.tree`: iterate once; :attr:`summary` after.

    Each tree is walked whole when iteration reaches it and its ranges are then handed out, so
    memory grows with the ranges of one tree (merged runs: a few thousand for a Linux kernel's
    TTBR1; ``merge=False`` or ``nodes=True`` on a large tree, one per descriptor).  To stream
    without bound, give :func:`pgwalk.tree.walk_tree` a visitor.

    :ivar trees: the :class:`pgwalk.tree.TreeParams` walked
    :ivar notes: what was chosen (a tree left out because its TTBR is unknown, ...)
    :ivar summary: the :class:`pgwalk.tree.WalkSummary` (tables, entries read; why a limit stopped
        the walk), complete once iteration ends
    """

    def __init__(self, target: "Target", trees: list["TreeParams"], start: int | None, end: int | None,
                 nodes: bool, merge: bool, invalid: bool, limits: "Limits | None") -> None:
        from .tree import WalkSummary

        self.target, self.trees = target, trees
        self.start, self.end = start, end
        self.nodes, self.merge, self.invalid, self.limits = nodes, merge, invalid, limits
        self.summary: WalkSummary = WalkSummary()
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        from .tree import FOLD_MIN, RangeMerger, TreeLines, Visit, walk_tree

        # walk_tree calls its visitor; each tree's items are gathered, then handed out
        for tree in self.trees:
            if self.summary.stopped:
                break
            items: list[Any] = []
            if self.nodes:
                walk_tree(tree, self.target.memory, TreeLines(items.append, tree), start=self.start, end=self.end,
                          invalid=True, merge=self.merge, min_run=FOLD_MIN, limits=self.limits,
                          summary=self.summary)
            else:
                merger = RangeMerger(items.append, merge=self.merge)
                walk_tree(tree, self.target.memory, merger, start=self.start, end=self.end,
                          visits=Visit.LEAF | Visit.TABLE_NOT_WALKED, invalid=self.invalid, merge=self.merge,
                          limits=self.limits, summary=self.summary)
                merger.finish()
            yield from items


class Target:
    """Memory and registers, and every question pgwalk answers about them.

    Made by :func:`open`.  A context manager: leaving the ``with`` block closes the
    memory (unmaps images; a live target gets its memory mode back and is
    disconnected).

    >>> with pgwalk.open(["samples/s1_4k_48bit.img@0x40000000"], regs="samples/s1_4k_48bit.regs.json") as t:
    ...     r = t.translate(0xffff800000201234)
    ...     hex(r.pa), r.permissions
    ('0x40201234', {'el1': 'r-x', 'el0': '---'})

    :ivar memory: the physical memory (:class:`~pgwalk.memory.PhysicalMemory`, or
        :class:`~pgwalk.live.LiveMemory`)
    :ivar registers: architectural register name -> value
    :ivar notes: what was derived or assumed (image warnings, registers from VMCOREINFO or a stub)
    :ivar vmcoreinfo: the dump's :class:`~pgwalk.vmcoreinfo.VmcoreInfo`, or ``None``
    """

    def __init__(self, memory: Any, registers: Mapping[str, int], notes: Iterable[str] = (),
                 vmcoreinfo: "VmcoreInfo | None" = None, *, owns_memory: bool = True) -> None:
        self.memory = memory
        self.registers = dict(registers)
        self.notes: tuple[str, ...] = tuple(notes)
        self.vmcoreinfo = vmcoreinfo
        self._owns = owns_memory
        self._setups: dict[Any, "TranslationSetup"] = {}
        #: (regime, access, el, pan) of translate() -> its setup, Access, EL and PAN, decided once
        self._walk_args: dict[tuple, tuple] = {}
        self._symbols: dict[str, int] | None = None
        self._layout: list | None = None
        self._kernel = None
        self._nested: dict[tuple, Any] = {}

    # -- setup ---------------------------------------------------------------

    def setup(self, regime: "Regime | str | None" = None) -> "TranslationSetup":
        """The walk parameters of ``regime`` (default: the one the registers select), decided once.

        :param regime: a :class:`~pgwalk.params.Regime` or its name (``"EL10"``, ``"EL2"``, ``"EL20"``, ``"EL3"``)
        :raises InputError: an unknown regime name
        """
        if isinstance(regime, str):
            key = regime.upper().replace("&", "")
            try:
                regime = Regime[key]
            except KeyError:
                raise InputError(f"regime {regime!r}: expected EL10, EL20, EL2 or EL3") from None
        got = self._setups.get(regime)
        if got is None:
            got = self._setups[regime] = setup_from_registers(self.registers, regime)
        return got

    @property
    def layout(self) -> "list[LayoutRange] | None":
        """The kernel's VA layout (:func:`pgwalk.linux.kernel_layout`) for a dump with VMCOREINFO, else ``None``."""
        if self._layout is None and self.vmcoreinfo is not None:
            from .linux import kernel_layout

            self._layout = kernel_layout(self.vmcoreinfo, self.memory)
        return self._layout

    @property
    def symbols(self) -> dict[str, int]:
        """The dump's VMCOREINFO symbols, name -> address (``{}`` without them).

        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> t.symbols
        {}
        >>> t.close()
        """
        if self._symbols is None:
            from .symbols import symbols_from_memory

            self._symbols = symbols_from_memory(self.memory)
        return self._symbols

    def address(self, value: "int | str") -> int:
        """An address: an int, a hexadecimal string, or a VMCOREINFO symbol (``"swapper_pg_dir+0x10"``).

        :raises InputError: not a number nor a known symbol
        """
        if isinstance(value, int):
            return value
        from .symbols import parse_symbolic

        return parse_symbolic(value, self.symbols, "address")

    # -- translation -----------------------------------------------------------

    def _access(self, setup: "TranslationSetup", access: Any, el: int | None) -> tuple[Any, int]:
        acc = Access(access) if isinstance(access, str) else access
        return acc, access_el(setup.regime, el)

    def translate(self, va: "int | str", *, stages: str | None = None, access: Any = None, el: int | None = None,
                  pan: bool = False, regime: "Regime | str | None" = None) -> TranslateResult:
        """Translate one address, with the walk (``pgwalk translate``).

        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> r = t.translate(0xffff800000201234)
        >>> r.ok, hex(r.pa), r.attributes.describe(), len(r.steps)
        (True, '0x40201234', 'Normal Write-Back RWA', 4)
        >>> r = t.translate(0xffff800000201234, access="write")
        >>> r.fault.description
        'stage 1 level 3 permission fault'
        >>> t.close()

        :param va: the input address (an int, hexadecimal text, or a VMCOREINFO symbol); an IPA
            with ``stages="2"``
        :param stages: ``"1"`` (stop at the IPA), ``"2"``, ``"12"``; default: what the registers enable
        :param access: ``"read"``, ``"write"``, ``"exec"`` (a :class:`~pgwalk.perms.Access`) to judge
            permissions; ``None`` reports them without judging
        :param el: the EL of the access (default: the regime's privileged EL)
        :param pan: PSTATE.PAN = 1 for the access
        :param regime: the translation regime (default: the registers')
        :returns: a :class:`TranslateResult`; a fault is in ``.fault``, never raised
        :raises UnknownRegister: the walk needs a TTBR that was not given (a dump's TTBR0_EL1)
        :raises InputError: an address that is not a number nor a symbol; an EL the regime lacks
        """
        key = (regime, access, el, pan)
        try:
            got = self._walk_args.get(key)
        except TypeError:                               # (an unhashable argument: decided below, as always)
            key, got = None, None
        if got is None:
            setup = self.setup(regime)
            acc, el_ = self._access(setup, access, el)
            got = (setup, acc, el_, pan_applies(pan, acc, setup.regime))
            if key is not None:
                self._walk_args[key] = got
        setup, acc, el_, pan_ = got
        address = va if va.__class__ is int else self.address(va)
        t = walk_translate(setup, self.memory, address, stages=stages, access=acc, el=el_, pan=pan_)
        return translate_result(setup, self.memory, t, self.layout)

    def translate_many(self, vas: Any, *, stages: str | None = None, access: Any = None, el: int | None = None,
                       pan: bool = False, regime: "Regime | str | None" = None) -> "BulkTranslation":
        """Translate many addresses at once with the vectorised walker (``translate --batch --json``).

        >>> import numpy as np
        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> m = t.translate_many(np.array([0xffff800000201234, 0xffff800000210000], dtype=np.uint64))
        >>> m.ok.tolist(), hex(int(m.pa[0])), m.fault_level.tolist()[1]
        ([True, False], '0x40201234', 3)
        >>> t.close()

        :param vas: the addresses (a numpy uint64 array, or anything ``numpy.asarray`` takes)
        :param stages, access, el, pan, regime: as :meth:`translate`
        :returns: a :class:`pgwalk.bulk.BulkTranslation`: numpy arrays ``pa``, ``ipa``, ``ok``,
            ``fault_type``, ``fault_level``, ``fault_stage``, ``s1ptw``, leaf descriptors and levels,
            ``contents_missing``; ``to_dict(i)`` gives lane ``i`` as ``translate --json`` does
        :raises UnknownRegister: some address needs a TTBR that was not given
        """
        from .bulk import mark_contents, translate_many

        setup = self.setup(regime)
        acc, el_ = self._access(setup, access, el)
        self._check_bases(setup, vas, stages)
        res = translate_many(setup, self.memory, vas, stages=stages, access=acc, el=el_,
                             pan=pan_applies(pan, acc, setup.regime))
        return mark_contents(res, self.memory)

    def _nested_setup(self, guest_hyp: "str | Mapping[str, Any]", host: "str | Mapping[str, Any]") -> Any:
        """The three layers' walk parameters (:func:`pgwalk.nested.nested_setup`), decided once per
        pair of register sets."""
        from .nested import nested_setup

        l1, l0 = _register_set(guest_hyp, "guest hypervisor"), _register_set(host, "host")
        key = (tuple(sorted(l1.items())), tuple(sorted(l0.items())))
        got = self._nested.get(key)
        if got is None:
            got = self._nested[key] = nested_setup(self.registers, l1, l0)
        return got

    def translate_nested(self, va: "int | str", *, guest_hyp: "str | Mapping[str, Any]",
                         host: "str | Mapping[str, Any]", access: Any = None, el: int | None = None,
                         pan: bool = False) -> "NestedTranslation":
        """Translate an L2 guest address through a guest hypervisor's stage 2 and the host's
        (``translate --nested``): this target's registers are the L2 guest's EL1 registers, its
        memory is host-physical.

        >>> t = pgwalk.open("samples/nested.img@0x40000000", regs="samples/nested_l2.regs.json")
        >>> r = t.translate_nested(0x400010, guest_hyp="samples/nested_l1.regs.json", host="samples/nested_l0.regs.json")
        >>> hex(r.l2_ipa), hex(r.l1_ipa), hex(r.pa), sorted({s.layer for s in r.steps})
        ('0x20000010', '0x90000010', '0x60000010', ['L0 S2', 'L1 S2', 'L2 S1'])
        >>> r = t.translate_nested(0x800000, guest_hyp="samples/nested_l1.regs.json", host="samples/nested_l0.regs.json")
        >>> r.fault_layer, [d.party for d in r.deliveries], hex(r.deliveries[1].registers["HPFAR_EL2"])
        ('L1 S2', ['L0 (EL2)', 'L1 (virtual EL2)'], '0x300000')
        >>> t.close()

        :param guest_hyp: L1's virtual EL2 registers (HCR_EL2, VTCR_EL2, VTTBR_EL2, ...): a register
            file or a mapping laid out as one
        :param host: L0's registers (HCR_EL2, VTCR_EL2, VTTBR_EL2 and its ID registers), likewise
        :param access, el, pan: as :meth:`translate` (the access judged at every layer)
        :returns: a :class:`pgwalk.nested.NestedTranslation`: the composed trace labelled by layer,
            ``fault_layer`` and what each party receives (``deliveries``)
        :raises RegisterError: a register file is malformed
        :raises InputError: a layer's registers do not describe its stage
        """
        from .nested import translate_nested

        n = self._nested_setup(guest_hyp, host)
        acc, el_ = self._access(n.guest, access, el)
        if n.guest.regime is not Regime.EL10:
            raise InputError("the L2 guest's registers select the EL1&0 regime only")
        return translate_nested(n, self.memory, self.address(va), access=acc, el=el_,
                                pan=pan_applies(pan, acc, n.guest.regime))

    def at_nested(self, op: Any, va: "int | str", *, guest_hyp: "str | Mapping[str, Any]",
                  host: "str | Mapping[str, Any]", by: str = "L2", pan: bool | None = None) -> "NestedAT":
        """Emulate an AT in a nested guest (``at --nested``): executed by the L2 guest at EL1
        (``by="L2"``) or by the guest hypervisor at its virtual EL2 (``by="L1"``, trapped to and
        emulated by L0); this target's registers are the L2 guest's, its memory host-physical.

        >>> t = pgwalk.open("samples/nested.img@0x40000000", regs="samples/nested_l2.regs.json")
        >>> p = t.at_nested("S12E1R", 0x400000, guest_hyp="samples/nested_l1.regs.json",
        ...                 host="samples/nested_l0.regs.json", by="L1")
        >>> hex(p.par), pgwalk.par_decode(p.par)["summary"]
        ('0xff00000090000b80', 'PA 0x90000000, Normal, Outer Write-Back RA/WA, Inner Write-Back RA/WA, Inner Shareable')
        >>> t.close()

        :param guest_hyp, host: as :meth:`translate_nested`
        :param pan: PSTATE.PAN of the executing context (default: its PSTATE register if given)
        :returns: a :class:`pgwalk.nested.NestedAT`: ``par`` (``None`` when an exception is taken
            instead), ``outcome``, ``fault_layer``, ``deliveries``
        :raises InputError: an op the executing party cannot use
        """
        from .nested import at_nested

        n = self._nested_setup(guest_hyp, host)
        return at_nested(n, self.memory, op, self.address(va), by=by, pan=pan)

    def shadow_s2(self, *, guest_hyp: "str | Mapping[str, Any]", host: "str | Mapping[str, Any]",
                  start: "int | None" = None, end: "int | None" = None) -> "list[ShadowEntry]":
        """The composed L2 IPA -> PA mapping KVM's shadow stage 2 must hold (``dump-tree --shadow-s2``):
        the guest hypervisor's stage 2 through the host's; this target's memory is host-physical.

        >>> t = pgwalk.open("samples/nested.img@0x40000000", regs="samples/nested_l2.regs.json")
        >>> for e in t.shadow_s2(guest_hyp="samples/nested_l1.regs.json", host="samples/nested_l0.regs.json"):
        ...     print(hex(e.ipa), hex(e.size), e.pa and hex(e.pa), e.perms and e.perms.text(False), e.fault_layer)
        0x10000000 0x10000 0x40020000 rwx None
        0x20000000 0x200000 0x60000000 rwx None
        0x20400000 0x200000 None None L0 S2
        0x20800000 0x200000 0x60200000 r-x None
        >>> t.close()

        :param guest_hyp, host: as :meth:`translate_nested`
        :returns: :class:`pgwalk.nested.ShadowEntry` pieces in L2 IPA order
        :raises InputError: L1 does not enable stage 2, or a tree cannot be walked
        """
        from .nested import shadow_s2

        n = self._nested_setup(guest_hyp, host)
        return shadow_s2(n, self.memory, start=start, end=end)

    def compare_shadow(self, root: int, *, guest_hyp: "str | Mapping[str, Any]", host: "str | Mapping[str, Any]",
                       vtcr: "int | None" = None) -> "list[ShadowMismatch]":
        """Compare a shadow stage 2 tree at PA ``root`` with :meth:`shadow_s2` (``dump-tree --compare-shadow``).

        >>> t = pgwalk.open("samples/nested.img@0x40000000", regs="samples/nested_l2.regs.json")
        >>> [(m.kind, hex(m.ipa)) for m in t.compare_shadow(0x40030000, guest_hyp="samples/nested_l1.regs.json",
        ...                                                  host="samples/nested_l0.regs.json")]
        [('missing', '0x10000000'), ('more permissive', '0x20800000')]
        >>> t.close()

        :param vtcr: the shadow's VTCR_EL2 (default: the host's)
        :returns: :class:`pgwalk.nested.ShadowMismatch` entries (``kind``, ``ipa``, ``size``, ``text``)
        """
        from .nested import compare_shadow

        n = self._nested_setup(guest_hyp, host)
        return compare_shadow(n, self.memory, root, vtcr=vtcr)

    def _check_bases(self, setup: "TranslationSetup", vas: Any, stages: str | None) -> None:
        """The vectorised walker does not model an unknown TTBR: refuse plainly where one is needed."""
        if stages == "2" or not setup.s1_enabled or all(p.ttbr_known for p in setup.ranges):
            return
        import numpy as np

        from .errors import UnknownRegister

        va = np.asarray(vas, dtype=np.uint64)
        upper = (va >> np.uint64(55)) & np.uint64(1) if len(setup.ranges) == 2 else np.zeros(va.shape, np.uint64)
        for i, p in enumerate(setup.ranges):
            if not p.ttbr_known and (upper == i).any():
                raise UnknownRegister(p.ttbr_name, what="some addresses translate through it")

    def at(self, op: Any, va: "int | str", *, pan: bool | None = None, exec_el: int | None = None) -> "ATResult":
        """Emulate ``AT <op>, <va>``: the PAR_EL1 it leaves (``pgwalk at``).

        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> p = t.at("S1E1W", 0xffff800000201234)
        >>> hex(p.par), pgwalk.par_decode(p.par)["summary"]
        ('0x81f', 'fault: stage 1 level 3 permission fault')
        >>> t.close()

        :param op: the operation, ``"S1E1R"`` (any case, ``"AT "`` optional) or an :class:`~pgwalk.at.ATOp`
        :param va: the address (int, hexadecimal text or symbol)
        :param pan: PSTATE.PAN (default: from the PSTATE register if given, else 0)
        :param exec_el: the EL executing the AT (1: a stage 2 fault on the stage 1 walk raises an
            exception instead of writing PAR)
        :returns: a :class:`pgwalk.at.ATResult`: ``par`` (``None`` when the AT raises an exception,
            ``exception`` says why) and ``translation``; :func:`pgwalk.at.par_decode` decodes ``par``
        :raises InputError: an unknown operation
        """
        from .at import at, parse_at_op

        op = parse_at_op(op) if isinstance(op, str) else op
        setup = self.setup(op.regime(self.registers))
        return at(setup, self.memory, op, self.address(va), pan=pan, exec_el=exec_el)

    # -- trees -------------------------------------------------------------------

    def tree_params(self, *, ttbr: int | None = None, stage: str | None = None,
                    regime: "Regime | str | None" = None) -> "list[TreeParams]":
        """The trees :meth:`tree` walks (:func:`select_trees`, ``dump-tree``'s choice): ``ttbr`` 0 or 1,
        or ``stage="2"`` for VTTBR_EL2's; by default every TTBR of the regime whose value is known.

        >>> with pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json") as t:
        ...     [tree.name for tree in t.tree_params()]
        ['TTBR0_EL1', 'TTBR1_EL1']

        :param ttbr, stage, regime: as :meth:`tree`
        :returns: the :class:`pgwalk.tree.TreeParams`
        :raises UnknownRegister: the TTBR asked for was not given
        :raises InputError: ``stage="12"`` without stage 2, or a TTBR the regime lacks
        """
        return self._select(ttbr, stage, regime).trees

    def _select(self, ttbr: int | None, stage: str | None, regime: "Regime | str | None") -> TreeSelection:
        hint = ("the dump's VMCOREINFO gives only the kernel's tables (swapper_pg_dir); give the process's "
                "{name} by name" if self.vmcoreinfo is not None else "")
        return select_trees(self.setup(regime), () if ttbr is None else (ttbr,), stage, unknown_hint=hint)

    def tree(self, *, ttbr: int | None = None, stage: str | None = None, start: "int | str | None" = None,
             end: "int | str | None" = None, nodes: bool = False, merge: bool = True, invalid: bool = False,
             limits: "Limits | None" = None, regime: "Regime | str | None" = None) -> TreeWalk:
        """Everything a table tree maps, as ranges (``dump-tree --view ranges``) or tree nodes.

        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> for rng in t.tree(ttbr=1):
        ...     print(f"{rng.va_start:#x}-{rng.va_end:#x} {rng.kind} {rng.pa:#x}")
        0xffff000040000000-0xffff000080000000 block 0x40000000
        0xffff000080000000-0xffff000080800000 block 0x80000000
        0xffff800000200000-0xffff800000210000 page 0x40200000
        0xffff800000400000-0xffff800000600000 block 0x40400000
        0xffff800010000000-0xffff800010001000 page 0x9000000
        >>> t.close()

        :param ttbr: 0 or 1: one stage 1 tree (default: each TTBR of the regime that is known)
        :param stage: ``"2"``: the VTTBR_EL2 tree; ``"1"``: stage 1 outputs as IPAs; ``"12"``
            (default under stage 2): final PAs, attributes and permissions of both stages
        :param start, end: input addresses to walk, ``[start, end)`` (leaves overlapping are whole)
        :param nodes: yield the tree view's records (dicts, ``dump-tree --json`` ``"table"`` and
            ``"entries"``) instead of :class:`pgwalk.tree.Run` ranges
        :param merge: merge continuing leaves into one range (else one per descriptor)
        :param invalid: ranges: also yield runs of invalid descriptors
        :param limits: :class:`pgwalk.tree.Limits` on tables and descriptors read (hostile trees)
        :returns: a :class:`TreeWalk` of :class:`pgwalk.tree.Run` (``va_start``, ``va_end``, ``kind``,
            ``oa``, ``pa``, ``attrs``; :func:`pgwalk.tree.run_record` makes ``dump-tree --json``'s object)
        :raises UnknownRegister: the TTBR asked for was not given
        """
        sel = self._select(ttbr, stage, regime)
        lo = None if start is None else self.address(start)
        hi = None if end is None else self.address(end)
        walk = TreeWalk(self, sel.trees, lo, hi, nodes, merge, invalid, limits)
        walk.notes = sel.notes
        return walk

    # -- contents ----------------------------------------------------------------

    def read_pieces(self, address: "int | str", size: int, *, physical: bool = False,
                    stages: str | None = None) -> "Iterator[Piece]":
        """The runs of ``[address, address + size)`` as read (``pgwalk read``): bytes, or why not.

        :returns: :class:`pgwalk.contents.Piece` s in address order (``data`` ``None`` where a run
            could not be read; ``why`` says why)
        """
        from .contents import read_physical, read_virtual

        where = self.address(address)
        if physical:
            return read_physical(self.memory, where, size)
        return read_virtual(self.setup(), self.memory, where, size, stages=stages)

    def read(self, address: "int | str", size: int, *, physical: bool = False, stages: str | None = None) -> bytes:
        """``size`` bytes at a virtual address (through the walk, permissions not judged) or a physical one.

        >>> t = pgwalk.open("samples/s1_4k_48bit.img@0x40000000", regs="samples/s1_4k_48bit.regs.json")
        >>> hex(int.from_bytes(t.read(0xffff000040010800, 8), "little"))    # a descriptor, via the linear map
        '0x40011003'
        >>> t.read(0xffff800000210000, 8)
        Traceback (most recent call last):
          ...
        pgwalk.errors.ReadError: 0x8 bytes at 0xffff800000210000 not read: ...translation fault...
        >>> t.close()

        :param address: int, hexadecimal text or symbol
        :param physical: ``address`` is a PA: read it without a walk
        :param stages: as :meth:`translate`
        :returns: the ``size`` bytes
        :raises ReadError: some byte could not be read (a fault, a page not in the image or excluded
            from the dump): ``address``/``size`` say which run, ``reason`` why (:meth:`read_pieces`
            gives every run)
        """
        from .errors import ReadError

        parts = []
        for p in self.read_pieces(address, size, physical=physical, stages=stages):
            if not p.ok:
                raise ReadError(p.address, p.size, p.why or "not readable")
            parts.append(p.data)
        return b"".join(parts)

    # -- Linux dumps ---------------------------------------------------------------

    def _kernel_translator(self):
        if self._kernel is None:
            from .linux import KernelTranslator

            if self.vmcoreinfo is None:
                raise InputError("vtop/ptov need a crash dump with VMCOREINFO (the kernel's layout)")
            self._kernel = KernelTranslator(self.vmcoreinfo, self.memory, self.registers)
        return self._kernel

    def vtop(self, va: "int | str") -> "VtopResult":
        """A kernel VA's PA (``pgwalk vtop``): the linear-map or kernel-image formula where it holds,
        checked by walking swapper_pg_dir, and the walk elsewhere.

        :returns: a :class:`pgwalk.linux.VtopResult` (``pa``, ``how``, ``label``, ``reason``)
        :raises InputError: the target is not a dump with VMCOREINFO
        """
        return self._kernel_translator().vtop(self.address(va))

    def ptov(self, pa: int) -> "PtovResult":
        """A PA's linear-map and kernel-image VAs, each confirmed by the tables (``pgwalk ptov``).

        :returns: a :class:`pgwalk.linux.PtovResult` (``linear``, ``kimage``, ``in_dump``, ``reason``)
        :raises InputError: the target is not a dump with VMCOREINFO
        """
        return self._kernel_translator().ptov(pa)

    def label(self, va: int) -> str | None:
        """The kernel layout region of ``va`` (``"linear map"``, ``"vmalloc"``, ...), or ``None``."""
        if self.layout is None:
            return None
        from .linux import label_address, untag

        return label_address(self.layout, untag(va))

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Close the memory (a live target: restore its memory mode and disconnect).  Idempotent."""
        if self._owns and self.memory is not None:
            self.memory.close()

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pgwalk.Target {self.memory!r}, {len(self.registers)} registers>"


def par_decode(par: int) -> dict[str, Any]:
    """The decode of a PAR_EL1 value (:func:`pgwalk.at.par_decode`).

    >>> pgwalk.par_decode(0x81f)["summary"]
    'fault: stage 1 level 3 permission fault'
    """
    from .at import par_decode as decode

    return decode(par)

