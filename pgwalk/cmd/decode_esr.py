"""``pgwalk decode-esr`` and ``pgwalk decode``.

Only click is imported at module level; rich is imported when output is
rendered, the log parser only with ``--log``.  Never numpy: ``pgwalk
decode-esr VALUE`` has to start and print in well under 150 ms.

JSON output (``--json``) of ``decode-esr VALUE`` is one object::

    {
      "register": "ESR_EL1" | "ESR_ELx",   # ESR_ELx when --el is not given
      "value": int, "hex": "0x96000045", "el": 1 | null,
      "ec": int, "ec_name": str,           # the Arm ARM's exception class name
      "ec_linux": str,                     # Linux's esr_class_str[] name
      "summary": str,                      # e.g. "level 1 translation fault on a write at EL1"
      "fields": {name: int},               # EC, IL, ISS, ISS2 and every ISS/ISS2 field of the
                                           # class under its Arm ARM name (DFSC/IFSC, WnR, CM, ...)
      "details": [{"name", "bits", "msb", "lsb", "value", "hex", "meaning",
                   "valid", "note", "group"}],   # one per field, valid=false when it does not apply
      "fault": {"fsc", "hex", "type", "level", "description", "feature", "allocated",
                "stage", "linux_name"} | null,
      "far":   {"register", "value", "hex", "valid", "reason", "address", "address_hex",
                "details", "notes"} | null,
      "hpfar": same shape as far (address = the faulting IPA) | null,
      "par":   {"register", "value", "hex", "summary", "fields", "details", "derived",
                "notes", "warnings"} | null,
      "notes": [str], "warnings": [str]
    }

``decode-esr --log FILE --json`` prints a JSON array with one object per
report found (see :meth:`pgwalk.kernlog.KernelReport.to_json`; its
``decode`` member is the object above).  ``decode REGISTER VALUE --json``
prints the register's object (``fields``, ``details``, ``derived``).
"""

from __future__ import annotations

import sys

import click

from ..errors import InputError

__all__ = ["decode_esr", "decode"]

_EL = click.Choice(["1", "2", "3"])


def _console():
    from rich.console import Console
    return Console(highlight=False, soft_wrap=False)


def _field_table(rows, title=None):
    from rich.table import Table
    t = Table(title=title, title_justify="left", show_lines=False, pad_edge=False, expand=False)
    t.add_column("field", no_wrap=True)
    t.add_column("bits", justify="right", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("meaning", overflow="fold")
    for d in rows:
        text = _esc(d.meaning) + (f" [dim]({_esc(d.note)})[/dim]" if d.note else "")
        if d.valid:
            t.add_row(d.name, d.bits, d.hex(), text)
        else:
            t.add_row(f"[dim]{d.name}[/dim]", f"[dim]{d.bits}[/dim]", f"[dim]{d.hex()}[/dim]", f"[dim]{text}[/dim]")
    return t


def _esc(text: str) -> str:
    from rich.markup import escape
    return escape(text)


def _print_esr(con, r) -> None:
    hexv = f"{r.value:#018x}" if r.value >> 32 else f"{r.value:#010x}"
    con.print(f"[bold]{r.register} {hexv}[/bold]  EC {r.ec:#04x} [bold]{_esc(r.ec_name)}[/bold]"
              f" [dim]({_esc(r.linux_ec_name)})[/dim]")
    con.print(f"[bold cyan]{_esc(r.summary)}[/bold cyan]")
    con.print(_field_table(r.details))
    for w in r.warnings:
        con.print(f"[yellow]warning:[/yellow] {_esc(w)}")
    for n in r.notes:
        con.print(f"[dim]note:[/dim] {_esc(n)}")
    if r.far is not None:
        con.print(_field_table(r.far.details, title=f"FAR {r.far.value:#018x}"))
        con.print(("" if r.far.valid else "[yellow]") + _esc(r.far.reason) + ("" if r.far.valid else "[/yellow]"))
        for n in r.far.notes:
            con.print(f"[dim]note:[/dim] {_esc(n)}")
    if r.hpfar is not None:
        con.print(_field_table(r.hpfar.details, title=f"HPFAR_EL2 {r.hpfar.value:#018x}"))
        for n in r.hpfar.notes:
            con.print(f"[dim]note:[/dim] {_esc(n)}")
    if r.par is not None:
        _print_register(con, r.par)


def _print_register(con, rep) -> None:
    con.print(f"[bold]{rep.register} {rep.value:#018x}[/bold]")
    if rep.summary:
        con.print(f"[bold cyan]{_esc(rep.summary)}[/bold cyan]")
    con.print(_field_table(rep.details))
    if rep.derived:
        from rich.table import Table
        t = Table(title="derived", title_justify="left", show_header=False, pad_edge=False)
        t.add_column("parameter", no_wrap=True)
        t.add_column("value", overflow="fold")
        for k, v in rep.derived.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    t.add_row(f"{k}.{k2}", _esc(_fmt(v2)))
            else:
                t.add_row(k, _esc(_fmt(v)))
        con.print(t)
    for w in rep.warnings:
        con.print(f"[yellow]warning:[/yellow] {_esc(w)}")
    for n in rep.notes:
        con.print(f"[dim]note:[/dim] {_esc(n)}")


def _fmt(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "; ".join(_fmt(x) for x in v)
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int) and v > 4096:
        return f"{v:#x}"
    return str(v)


def _dump(obj) -> None:
    import json
    click.echo(json.dumps(obj, indent=2))


@click.command("decode-esr")
@click.argument("esr", required=False)
@click.option("--far", metavar="VA", help="FAR_ELx taken with the exception.")
@click.option("--hpfar", metavar="VALUE", help="HPFAR_EL2 (stage 2 aborts): gives the faulting IPA.")
@click.option("--par", metavar="VALUE", help="PAR_EL1 to decode alongside (either format).")
@click.option("--el", type=_EL, help="Exception level whose ESR this is (ESR_EL1/2/3).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (schema in the module docs).")
@click.option("--linux", is_flag=True, help="Print the block Linux prints for this ESR ('Mem abort info:' ...).")
@click.option("--kernel", metavar="VERSION", default=None,
              help="Kernel version whose format --linux follows (e.g. 6.1; default: current).")
@click.option("--log", "log", metavar="FILE", help="Find and check every arm64 fault report in a kernel log "
              "('-' for stdin).")
@click.option("--image", metavar="FILE", help="With --log: memory image to walk the logged pgdp in.")
@click.pass_context
def decode_esr(ctx, esr, far, hpfar, par, el, as_json, linux, kernel, log, image):
    """Decode an ESR_ELx value field by field (or every fault report in a kernel log).

    Values are hexadecimal (0x optional, _ separators allowed).
    """
    if log is not None:
        if esr is not None or far or hpfar or par:
            raise InputError("--log takes no ESR, --far, --hpfar or --par (they come from the log)")
        code = _run_log(ctx, log, as_json, linux, kernel, image)
        if code:
            ctx.exit(code)
        return code
    if esr is None:
        raise InputError("give an ESR value (e.g. pgwalk decode-esr 0x96000045) or --log FILE")
    if image:
        raise InputError("--image needs --log (it walks the page tables a log reports)")
    from ..esr import decode_esr as _decode, linux_mem_abort_lines, linux_style, fsc_disagreement, linux_fault_name
    if linux:
        style = linux_style(kernel)
        from ..esr import parse_u64
        value = parse_u64(esr, "ESR")
        for line in linux_mem_abort_lines(value, style):
            click.echo(line)
        from ..formats.esr import ESR, ISS_DABT
        fsc = ISS_DABT["DFSC"].get(value)
        why = fsc_disagreement(fsc, linux_fault_name(fsc, style.version))
        if why and ESR["EC"].get(value) in (0x20, 0x21, 0x24, 0x25):
            click.echo(f"pgwalk: note: {why}", err=True)
        return 0
    report = _decode(esr, int(el) if el else None, far=far, hpfar=hpfar, par=par)
    if as_json:
        _dump(report.to_json())
    else:
        _print_esr(_console(), report)
    return 0


def _read_log(path: str) -> str:
    if path == "-":
        data = click.get_binary_stream("stdin").read()
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    return data.decode("utf-8", errors="replace")


def _walker_for(image: str):
    """A ``walk_fn`` for :func:`pgwalk.kernlog.compare_logged_walk`, or None with the reason."""
    try:
        from ..memory import open_image
        from ..params import setup_from_registers
        from ..walk import translate
    except Exception:                                         # the walker is not there (yet)
        return None, "comparing logged walks with --image needs the walker (pgwalk.walk), which is not available"
    from ..kernlog import linux_walk_registers
    mem = open_image(image)

    def walk_fn(pgdp: int, address: int, *, page_kb: int, va_bits: int) -> dict:
        setup = setup_from_registers(linux_walk_registers(pgdp, page_kb, va_bits))
        t = translate(setup, mem, address, stages="1")
        return {s.level: s.raw for s in t.steps if s.stage == 1 and s.raw is not None}

    return walk_fn, None


def _run_log(ctx, path, as_json, linux, kernel, image):
    from ..kernlog import compare_logged_walk, parse_text
    reports = parse_text(_read_log(path))
    walk_fn, walk_note = (None, None)
    comparisons = {}
    if image:
        walk_fn, walk_note = _walker_for(image)
        if walk_fn is not None:
            for r in reports:
                if r.walk is not None and r.walk.entries and r.duplicate_of is None:
                    comparisons[r.index] = compare_logged_walk(r, walk_fn)
    disagree = any(r.disagreements for r in reports) or any(not c.ok and c.error is None
                                                            for c in comparisons.values())
    if as_json:
        out = []
        for r in reports:
            o = r.to_json()
            if r.index in comparisons:
                o["walk_comparison"] = comparisons[r.index].to_json()
            out.append(o)
        _dump(out)
        if walk_note:
            click.echo(f"pgwalk: note: {walk_note}", err=True)
        return 1 if disagree else 0
    if linux:
        from ..esr import linux_mem_abort_lines, linux_style
        for r in reports:
            if r.esr is None or r.duplicate_of is not None:
                continue
            click.echo(f"# report {r.index}, line {r.first_line}: {r.headline}")
            style = linux_style(kernel) if kernel else None
            for line in (linux_mem_abort_lines(r.esr, style) if style else r.expected_block() or
                         linux_mem_abort_lines(r.esr)):
                click.echo(line)
        return 1 if disagree else 0
    con = _console()
    if not reports:
        con.print("no arm64 fault reports found")
    n_dup = 0
    for r in reports:
        if r.duplicate_of is not None:
            n_dup += 1
            continue
        _print_report(con, r, comparisons.get(r.index))
    total_d = sum(len(r.disagreements) for r in reports if r.duplicate_of is None)
    total_p = sum(len(r.problems) for r in reports if r.duplicate_of is None)
    con.print(f"[bold]{len(reports) - n_dup} report(s)[/bold]" + (f" (+{n_dup} repeated, e.g. dmesg after the "
                                                                   "console)" if n_dup else "") +
              f", {total_d} disagreement(s) with pgwalk's decode, {total_p} problem(s)")
    if walk_note:
        con.print(f"[yellow]note:[/yellow] {_esc(walk_note)}")
    return 1 if disagree else 0


def _print_report(con, r, comparison=None) -> None:
    from ..esr import fsc_text
    ts = f" [{r.timestamp:.6f}]" if r.timestamp is not None else ""
    lines = f"line {r.first_line}" + (f"-{r.last_line}" if r.last_line != r.first_line else "")
    con.rule(f"report {r.index} ({r.kind.replace('_', ' ')}, {lines}){ts}", align="left")
    con.print(_esc(r.headline))
    if r.decode is not None:
        d = r.decode
        con.print(f"ESR {r.esr:#018x} [dim](from the {r.esr_source})[/dim]: EC {d.ec:#04x} "
                  f"[bold]{_esc(d.ec_name)}[/bold]")
        con.print(f"[bold cyan]{_esc(d.summary)}[/bold cyan]")
        if d.fault is not None:
            con.print(f"FSC {d.fault.fsc:#04x}: {_esc(fsc_text(d.fault))}"
                      + (f" [dim](needs {d.fault.feature})[/dim]" if d.fault.feature else ""))
        shown = [x for x in d.details if x.group in ("ISS", "ISS2") and x.valid and (x.value or x.name in
                                                                                     ("DFSC", "IFSC", "WnR", "ISV"))]
        if shown:
            con.print("  " + ", ".join(f"{x.name}={x.value:#x}" if x.width > 4 else f"{x.name}={x.value}"
                                       for x in shown))
    if r.address is not None:
        con.print(f"address {r.address:#018x}")
    if r.walk is not None:
        w = r.walk
        geo = f"{w.pgtable} pgtable, {w.page_kb}k pages, {w.va_bits}-bit VAs" if w.pgtable else "page tables"
        base = f", pgdp {w.pgdp:#x}" if w.pgdp is not None else (f", pgd pointer {w.pgd_pointer}"
                                                               if w.pgd_pointer else "")
        con.print(f"logged walk: {geo}{base}")
        if w.entries:
            con.print("  " + ", ".join(f"{n}={v:016x}" for n, v in w.entries))
        if w.message:
            con.print(f"  {_esc(w.message)}")
    if comparison is not None:
        if comparison.error:
            con.print(f"[yellow]walk not compared:[/yellow] {_esc(comparison.error)}")
        elif comparison.ok:
            con.print("[green]walk: the image gives the logged descriptors[/green]")
        for m in comparison.mismatches:
            con.print(f"[red]walk differs:[/red] {_esc(m)}")
    for x in r.disagreements:
        con.print(f"[red]disagrees:[/red] {_esc(x)}")
    for fm in r.format_mismatches:
        if fm["logged"] is None:
            con.print(f"[yellow]missing line:[/yellow] expected {_esc(fm['expected'])!s}")
        elif fm["expected"] is None:
            con.print(f"[yellow]unexpected line {fm['line']}:[/yellow] {_esc(fm['logged'].strip())}")
        else:
            con.print(f"[yellow]line {fm['line']} differs:[/yellow] logged {_esc(fm['logged'].strip())!r}, "
                      f"expected {_esc(fm['expected'].strip())!r}")
    for p in r.problems:
        con.print(f"[yellow]problem:[/yellow] {_esc(p)}")
    for n in r.notes:
        con.print(f"[dim]note: {_esc(n)}[/dim]")


@click.command("decode")
@click.argument("register")
@click.argument("value")
@click.option("--e2h", is_flag=True, help="TCR_EL2 with HCR_EL2.E2H = 1 (the TCR_EL1 layout).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def decode(register, value, e2h, as_json):
    """Decode a register pgwalk reads: every field, its meaning, derived walk parameters.

    REGISTER is one of TCR_EL1/2/3, VTCR_EL2, SCTLR_EL1/2/3, HCR_EL2, MAIR_EL1/2/3,
    TTBR0/1_ELx, VTTBR_EL2, ID_AA64MMFR0/1/2_EL1, PAR_EL1, HPFAR_EL2, ESR_EL1/2/3, FAR_ELx.
    VALUE is hexadecimal (0x optional, _ separators allowed).
    """
    from ..esr import EsrReport, decode_register
    rep = decode_register(register, value, e2h=e2h)
    if as_json:
        _dump(rep.to_json())
        return 0
    con = _console()
    if isinstance(rep, EsrReport):
        _print_esr(con, rep)
    else:
        _print_register(con, rep)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(decode_esr())
