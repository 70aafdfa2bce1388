"""``--gdb HOST:PORT|unix:PATH``: the command's context from a live target (see :mod:`pgwalk.live`)."""

from __future__ import annotations

import click

__all__ = ["load_live_context"]

#: registers a walk of each regime may use, named when the stub lacks them
_WALK_REGISTERS = ("TCR_EL1", "TTBR0_EL1", "TTBR1_EL1", "MAIR_EL1", "SCTLR_EL1", "HCR_EL2", "VTCR_EL2",
                   "VTTBR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "PSTATE")


def _names(names) -> str:
    return ", ".join(sorted(names))


def _from_stub(stub_regs) -> str:
    walk = [k for k in stub_regs if k in _WALK_REGISTERS or k.endswith(("_EL2", "_EL3")) and k[:3] in ("TCR", "TTB", "SCT", "MAI")]
    others = len(stub_regs) - len(walk)
    return (f"registers from the gdb stub: {_names(walk)}" + (f" (and {others} others)" if others else ""))


def load_live_context(spec: str, regs_file: str | None, reg_values: tuple[str, ...], granule: str | None,
                      va_bits: int | None, root: str | None):
    """Open the target, read its registers; ``--regs`` fills what the stub lacks, the shortcut and
    ``--reg`` win.  The notes say where each register came from.  The target is closed (QEMU's
    memory mode restored) when the command ends.  Returns ``(memory, registers, notes)``, which
    :func:`pgwalk.cmd.common.load_context` wraps in its ``Context`` (this module never imports it)."""
    from ..errors import InputError
    from ..gdbremote import GdbError
    from ..live import open_target, read_target_registers
    from ..regs import load_register_file, parse_reg_assignment, shortcut_registers
    from ..values import parse_value

    mem = open_target(spec)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(mem.close)
    try:
        stub_regs, missing = read_target_registers(mem, _WALK_REGISTERS)
        regs = dict(stub_regs)
        if not any(k.startswith(("TCR_", "TTBR", "SCTLR_", "VTCR")) for k in stub_regs) and not (
                regs_file or reg_values or root):
            raise GdbError(f"gdb stub {mem.label}: it exports no translation system registers (TCR, TTBR, "
                           "SCTLR); give them with --regs FILE or --reg NAME=VALUE")
        notes = [f"live target: gdb stub {mem.label}, physical memory (read-only; the target is not resumed)",
                 _from_stub(stub_regs)]
        if regs_file:
            filed = load_register_file(regs_file)
            added = {k: v for k, v in filed.items() if k not in regs}
            differ = sorted(k for k, v in filed.items() if k in regs and regs[k] != v)
            regs.update(added)
            if added:
                notes.append(f"registers from {regs_file} (the stub lacks them): {_names(added)}")
            if differ:
                notes.append(f"{regs_file}: the target's values are used for {_names(differ)} "
                             "(use --reg NAME=VALUE to override)")
        explicit: dict[str, int] = {}
        shortcut = [granule, va_bits, root]
        if any(x is not None for x in shortcut):
            if not all(x is not None for x in shortcut):
                raise InputError("the shortcut needs all of --granule, --va-bits and --root")
            explicit.update(shortcut_registers(granule, va_bits, parse_value(root, "address", "--root")))
        explicit.update(dict(parse_reg_assignment(r) for r in reg_values))
        if explicit:
            regs.update(explicit)
            notes.append(f"registers from the command line: {_names(explicit)}")
        lacking = sorted(set(missing) - set(regs))
        if lacking:
            notes.append(f"not exported by the stub nor given: {_names(lacking)}")
    except BaseException:
        if ctx is None:
            mem.close()
        raise
    return mem, regs, notes
