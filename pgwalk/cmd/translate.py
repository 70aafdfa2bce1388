"""``pgwalk translate``: VA -> (IPA ->) PA with a per-level trace."""

from __future__ import annotations

import click

from .common import image_options, register_options

REGIMES = {"el10": "EL10", "el1&0": "EL10", "el20": "EL20", "el2&0": "EL20", "el2": "EL2", "el3": "EL3"}


@click.command()
@click.argument("addresses", nargs=-1, metavar="VA...")
@image_options
@register_options
@click.option("--batch", "batch_file", metavar="FILE", help="Translate the addresses in FILE, one per line (- for stdin).")
@click.option("--stages", type=click.Choice(["1", "2", "12"]), help="Stages to run (default: what the registers enable). "
              "1 stops at the IPA; 2 takes the input as an IPA.")
@click.option("--access", type=click.Choice(["read", "write", "exec"]), help="Judge permissions for this access.")
@click.option("--el", type=click.IntRange(0, 3), default=None, help="Exception level of the access (default 1).")
@click.option("--pan", is_flag=True, help="PSTATE.PAN = 1 for the access.")
@click.option("--regime", type=click.Choice(sorted(REGIMES), case_sensitive=False),
              help="Translation regime (default: from --el and the registers).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per address (JSON Lines).")
@click.option("--no-trace", is_flag=True, help="Only the result line per address.")
def translate(addresses, images, regs_file, reg_values, granule, va_bits, root, batch_file, stages, access,
              el, pan, regime, as_json, no_trace):
    """Translate addresses through the tables in a memory image.

    Exit status: 0 when every address translated, 1 when any faulted, 2 on bad input.
    """
    import json

    from ..errors import InputError
    from ..params import Regime, regime_for_el, setup_from_registers
    from ..perms import Access
    from ..report import translation_to_dict
    from ..walk import translate as walk_translate
    from .common import load_context, parse_address, read_address_lines

    items: list[tuple[str, str]] = [(a, f"argument {a!r}") for a in addresses]
    if batch_file:
        items += [(text, f"{batch_file}:{n}") for n, text in read_address_lines(batch_file)]
    if not items:
        raise InputError("no address given (VA arguments or --batch FILE)")
    vas = [parse_address(text, where) for text, where in items]
    ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
    if regime:
        reg = Regime[REGIMES[regime.lower()]]
    elif el is not None:
        reg = regime_for_el(el, ctx.registers)
    else:
        reg = None
    setup = setup_from_registers(ctx.registers, reg)
    notes = tuple(ctx.notes) + tuple(setup.notes)
    acc = Access(access) if access else None
    el_ = 1 if el is None else el
    if pan and el_ != 1 and el_ != 2:
        raise InputError("--pan applies to EL1 (or EL2 with E2H) accesses")
    if stages == "2" and setup.s2 is None:
        raise InputError("--stages 2: stage 2 is not enabled (HCR_EL2.VM and DC are 0, or VTCR_EL2 missing)")
    pan_applies = pan and acc in (Access.READ, Access.WRITE) and setup.regime.has_unprivileged
    console = None
    any_fault = False
    out = click.get_text_stream("stdout")
    for i, va in enumerate(vas):
        t = walk_translate(setup, ctx.memory, va, stages=stages, access=acc, el=el_, pan=pan_applies)
        any_fault |= not t.ok
        d = translation_to_dict(t, wxn=setup.wxn, epan=setup.epan, extra_notes=notes if i == 0 else ())
        if as_json:
            out.write(json.dumps(d) + "\n")
            continue
        if console is None:
            from rich.console import Console

            console = Console(highlight=False)
            if not console.is_terminal:
                console = Console(highlight=False, width=max(console.width, 160))
        from ..render import render_translation

        console.print(render_translation(d, trace=not no_trace))
        if not no_trace and i + 1 < len(vas):
            console.print()
    return 1 if any_fault else 0
