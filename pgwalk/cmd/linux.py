"""``pgwalk vtop`` and ``pgwalk ptov``: the Linux kernel's conversions (as crash offers), checked.

A formula holds only in its region of the running kernel: the linear map
(``PA = VA - PAGE_OFFSET + PHYS_OFFSET``) over memory that exists, and the
kernel image (``PA = VA - kimage_voffset``), both from the dump's VMCOREINFO.
Every answer is confirmed by walking the kernel's own tables
(``swapper_pg_dir``), and the walk answers everywhere else (vmalloc, modules,
vmap stacks, fixmap); the output says which.  Unmapped addresses get no PA,
with the reason; user addresses need the process's TTBR0_EL1 (``--reg``), which
a dump does not record: without it they are declined.
``pgwalk translate`` shows the walk itself.

JSON (``--json``), one object per address::

    vtop: {"schema": 1, "va", "pa" (hex or null), "how" (null without a PA), "label", "reason"}
    ptov: {"schema": 1, "pa", "linear" (hex or null), "kimage" (hex or null), "in_dump", "reason"}

(schema 1 added the ``schema`` member; ``pgwalk schema vtop`` / ``ptov``)

Exit status: 0 every address converted, 1 some had no answer, 2 bad input.
"""

from __future__ import annotations

from .common import dump_params, pick_dump
from .output import echo, note
from .spec import Command, Option

__all__ = ["VTOP", "PTOV", "run_vtop", "run_ptov"]


def _info(dump: str):
    from ..errors import InputError
    from ..linux import vmcoreinfo_from_memory
    from ..images import open_images

    mem = open_images([dump])
    info = vmcoreinfo_from_memory(mem)
    if info is None:
        texts = [c.vmcoreinfo for c in mem.elf_cores if c.vmcoreinfo]
        if texts:
            from ..vmcoreinfo import parse_vmcoreinfo

            try:
                parse_vmcoreinfo(texts[0])
            except InputError as exc:
                raise InputError(f"{dump}: the dump's VMCOREINFO is unreadable ({exc}); vtop/ptov need "
                                 "the kernel's layout") from None
        raise InputError(f"{dump}: no VMCOREINFO in this dump (vtop/ptov need the kernel's layout)")
    return info, mem


def _translator(dump: str, reg_values: tuple[str, ...] = ()):
    from ..linux import KernelTranslator
    from ..regs import parse_reg_assignment

    explicit = dict(parse_reg_assignment(r) for r in reg_values)
    info, mem = _info(dump)
    return KernelTranslator(info, mem, explicit)


def run_vtop(dump, addresses, as_json, reg_values):
    """Kernel VA -> PA: the linear-map or kernel-image formula where it holds, checked against
    swapper_pg_dir, and the swapper_pg_dir walk elsewhere.  A VA may be a VMCOREINFO symbol,
    SYMBOL+OFFSET or SYMBOL-OFFSET (hexadecimal offset)."""
    import json

    from ..jsonrecords import RECORD_SCHEMAS
    from ..symbols import parse_symbolic

    kt = _translator(dump, reg_values)
    symbols = dict(kt.info.symbols)
    rc = 0
    for text in addresses:
        va = parse_symbolic(text, symbols)
        r = kt.vtop(va)
        if r.pa is None:
            rc = 1
        if as_json:
            echo(json.dumps({"schema": RECORD_SCHEMAS["vtop"], "va": f"{va:#x}", "pa": None if r.pa is None else f"{r.pa:#x}",
                                   "how": r.how, "label": r.label, "reason": r.reason or None}))
        elif r.pa is not None:
            where = r.how + (f", {r.label}" if r.label and r.label != r.how else "")
            echo(f"{va:#018x} -> PA {r.pa:#x} ({where})")
            if r.reason:                    # stdout holds the records; the note goes to stderr
                note(f"{va:#x}: {r.reason}")
        else:
            echo(f"{va:#018x} -> no PA" + (f" [{r.label}]" if r.label else "") + f": {r.reason}")
    return rc


def run_ptov(dump, addresses, as_json):
    """PA -> its linear-map VA (and kernel-image VA when the image covers it), each confirmed
    by walking swapper_pg_dir."""
    import json

    from ..jsonrecords import RECORD_SCHEMAS
    from .common import parse_address

    kt = _translator(dump)
    rc = 0
    for text in addresses:
        pa = parse_address(text)
        r = kt.ptov(pa)
        if r.linear is None and r.kimage is None:
            rc = 1
        if as_json:
            echo(json.dumps({"schema": RECORD_SCHEMAS["ptov"], "pa": f"{pa:#x}", "linear": None if r.linear is None else f"{r.linear:#x}",
                                   "kimage": None if r.kimage is None else f"{r.kimage:#x}",
                                   "in_dump": r.in_dump, "reason": r.reason or None}))
        else:
            parts = [f"linear map {r.linear:#x}"] if r.linear is not None else []
            if r.kimage is not None:
                parts.append(f"kernel image {r.kimage:#x}")
            line = f"{pa:#x} -> " + (", ".join(parts) if parts else "no kernel VA")
            echo(line + (f": {r.reason}" if r.reason else ""))
    return rc


VTOP = Command("vtop", run_vtop, (
    *dump_params("VA..."),
    Option("--json", "as_json", is_flag=True, help="One JSON object per address."),
    Option("--reg", "reg_values", multiple=True, metavar="NAME=VALUE",
           help="A register value (e.g. the process's TTBR0_EL1 for user addresses); repeatable."),
), prepare=pick_dump("VA..."))

PTOV = Command("ptov", run_ptov, (
    *dump_params("PA..."),
    Option("--json", "as_json", is_flag=True, help="One JSON object per address."),
), prepare=pick_dump("PA..."))
