"""``--gdb HOST:PORT|unix:PATH``: the command's context from a live target (see :mod:`pgwalk.live`)."""

from __future__ import annotations

import click

__all__ = ["load_live_context"]


def load_live_context(spec: str, regs_file: str | None, reg_values: tuple[str, ...], granule: str | None,
                      va_bits: int | None, root: str | None, *, cpu: int | None = None):
    """Open the target, read its registers; ``--regs`` fills what the stub lacks, the shortcut and
    ``--reg`` win.  The notes say where each register came from.  The target is closed (QEMU's
    memory mode restored) when the command ends.  Returns ``(memory, registers, notes)``, which
    :func:`pgwalk.cmd.common.load_context` wraps in its ``Context`` (this module never imports it)."""
    from ..errors import InputError
    from ..live import open_target
    from ..regs import load_register_file, parse_reg_assignment, shortcut_registers
    from ..target import live_registers
    from ..values import parse_value

    mem = open_target(spec, cpu=cpu)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(mem.close)
    try:
        explicit: dict[str, int] = {}
        shortcut = [granule, va_bits, root]
        if any(x is not None for x in shortcut):
            if not all(x is not None for x in shortcut):
                raise InputError("the shortcut needs all of --granule, --va-bits and --root")
            explicit.update(shortcut_registers(granule, va_bits, parse_value(root, "address", "--root")))
        explicit.update(dict(parse_reg_assignment(r) for r in reg_values))
        file_regs = load_register_file(regs_file) if regs_file else {}
        rs = live_registers(mem, file_regs, explicit, file_name=regs_file or "", explicit_name="the command line")
    except BaseException:
        if ctx is None:
            mem.close()
        raise
    return mem, rs.registers, rs.notes
