"""``pgwalk at``: what an AT instruction leaves in PAR_EL1, and a captured PAR compared with it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from .common import IMAGE_OPTIONS, REGISTER_OPTIONS
from .spec import Argument, Command, Option

__all__ = ["AT", "run_at_command"]

_EXPLAIN = ("full", "quick", "known", "none")


def run_at_command(op, va, images, regs_file, reg_values, granule, va_bits, root, pan, hw_par, batch_file, as_json,
                   no_trace, batch_trace, exec_el, explain, max_rows, scalar, nested, guest_hyp, host_file, by):
    """Emulate AT OP, VA and show the PAR_EL1 it leaves, its decode and the walk.

    OP is one of S1E0R S1E0W S1E1R S1E1W S1E1RP S1E1WP S1E1A S12E0R S12E0W S12E1R
    S12E1W S1E2R S1E2W S1E2A S1E3R S1E3W S1E3A (any case, "AT " prefix optional).
    VA, --hw-par and the string values of --batch lines are hexadecimal (0x optional;
    JSON numbers are numbers).

    With --hw-par, the captured value is compared field by field (F, PA, ATTR, SH, NS /
    FST, PTW, S; IMPLEMENTATION DEFINED bits and, from a Non-secure regime, NS ignored)
    and a mismatch is explained where pgwalk can check it.

    With --batch, lines that share their registers, op and PAN are walked together by
    the vectorised walker (mismatches are still explained one by one); --scalar runs one
    AT at a time.  The output is the same either way.

    Exit status: 0 when everything matches (or nothing was captured), 1 on any mismatch,
    2 on bad input.
    """
    from ..errors import InputError

    if nested or guest_hyp or host_file:
        if not (nested and guest_hyp and host_file):
            raise InputError("--nested needs --guest-hyp FILE and --host FILE (and they need --nested)")
        if batch_file or hw_par or exec_el:
            raise InputError("--nested runs one AT: no --batch, --hw-par or --exec-el (use --by)")
        if not op or not va:
            raise InputError("usage: pgwalk at --nested OP VA --guest-hyp FILE --host FILE [options]")
        from ..target import Target
        from .common import load_context
        from .nested import run_at_nested

        ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
        target = Target(ctx.memory, ctx.registers, ctx.notes, owns_memory=False)
        return run_at_nested(target, op, ctx.address(va), guest_hyp, host_file, by.upper(), pan, as_json)
    if batch_file:
        if op or va or hw_par:
            raise InputError("--batch takes its ATs from the file: no OP/VA/--hw-par arguments")
        return _run_batch(batch_file, images, regs_file, reg_values, granule, va_bits, root, pan, as_json,
                          batch_trace, exec_el, explain, max_rows, scalar)
    if not op or not va:
        raise InputError("usage: pgwalk at OP VA [options]  (or --batch FILE)")
    return _run_one(op, va, images, regs_file, reg_values, granule, va_bits, root, pan, hw_par, as_json,
                    no_trace, exec_el, explain)


def _run_one(op_text, va_text, images, regs_file, reg_values, granule, va_bits, root, pan, hw_par, as_json,
             no_trace, exec_el, explain) -> int:
    import json

    from ..at import at as run_at
    from ..at import compare_par, explain_mismatch, parse_at_op, parse_captured_par, result_to_dict
    from ..params import Regime, setup_from_registers
    from .common import load_context

    op = parse_at_op(op_text)
    captured = parse_captured_par(hw_par, "--hw-par") if hw_par is not None else None
    ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
    va = ctx.address(va_text)               # an address, or a VMCOREINFO symbol
    setup = setup_from_registers(ctx.registers, op.regime(ctx.registers))
    res = run_at(setup, ctx.memory, op, va, pan=pan, exec_el=exec_el)
    diff = reasons = None
    if captured is not None:
        diff = compare_par(res.par, captured, compare_ns=res.regime is Regime.EL3)
        if not diff.match and explain != "none":
            reasons = explain_mismatch(res, captured, setup, ctx.memory, level=explain)
    d = result_to_dict(res, captured=captured, diff=diff, reasons=reasons, trace=True, setup=setup)
    d["translation"]["notes"] = list(d["translation"]["notes"]) + list(ctx.notes) + list(setup.notes)
    if isinstance(captured, int):
        from ..at import par_decode

        d["captured_decode"] = par_decode(captured)
    if as_json:
        sys.stdout.write(json.dumps(d) + "\n")
    else:
        from .output import text_output

        _render_one(text_output(), d, res, captured, diff, trace=not no_trace)
    return 1 if diff is not None and not diff.match else 0


def _render_one(out, d, res, captured, diff, *, trace: bool) -> None:
    """One AT, on :func:`.output.text_output`'s presentation (plain lines without rich in a pipe)."""
    from .output import notes, warning

    op = res.op
    pan_txt = f", PSTATE.PAN = {int(res.pan)}" if op.pan else ""
    out.line((f"AT {op.name}, {d['va']}", "bold"),
             (f"  ({res.regime.value} regime, {'stages 1+2' if res.stages_used == '12' else 'stage 1'}, "
              f"EL{op.el} {op.access.value}{pan_txt})", "dim"))
    out.file.flush()
    notes(d.get("notes", []))
    if res.par is None:
        out.line((f"PAR_EL1 not written: {res.exception}", "bold red"))
    else:
        out.line("PAR_EL1 = ", (d["par"], "bold green" if not res.par & 1 else "bold red"),
                 f"  {d['decode']['summary']}")
        out.table(_fields_rows(res.par), header=("field", "bits", "value", "meaning"), borders=False)
    if trace:
        out.translation(d["translation"], trace=True)
    if captured is None:
        return
    out.line()
    _compare(out, res.par, captured, diff)
    out.line("verdict: ", ("MATCH" if diff.match else "MISMATCH", "bold green" if diff.match else "bold red"),
             (f"  (not compared: {', '.join(diff.ignored)})" if diff.ignored else "", "dim"))
    out.file.flush()
    for w in diff.warnings:
        warning(w)
    reasons = d.get("reasons")
    if reasons is not None:
        if not reasons:
            out.line(("  no explanation found", "dim"))
        else:
            out.line(("likely reasons:", "bold"))
        for r in reasons:
            mark = "✓ " if r["confirmed"] else "• "
            cat = f" [{r['category']}]" if r.get("category") else ""
            out.line((f"  {mark}{r['kind']}{cat}: {r['text']}", "green" if r["confirmed"] else ""))


def _fields_rows(par: int) -> list[tuple[str, str, str, str]]:
    """The fields of a PAR_EL1 value worth a row: field, bits, value, meaning."""
    from ..esr import decode_par

    rows = []
    for f in decode_par(par).details:
        if f.name.startswith("IMPDEF") or (f.value == 0 and f.name in ("AssuredOnly", "TopLevel", "Overlay", "DirtyBit")):
            continue
        bits = f"{f.msb}" if f.msb == f.lsb else f"{f.msb}:{f.lsb}"
        rows.append((f.name, bits, f"{f.value:#x}" if f.value > 9 else str(f.value), f.meaning))
    return rows


def _field_values(par):
    from ..formats.registers import PAR_EL1_FAULT, PAR_EL1_OK

    if par is None or isinstance(par, str):
        return {"F": "exception"}
    if par & 1:
        L = PAR_EL1_FAULT
        return {"F": 1, "FST": f"{L['FST'].get(par):#04x}", "PTW": L["PTW"].get(par), "S": L["S"].get(par)}
    L = PAR_EL1_OK
    return {"F": 0, "PA": f"{L['PA'].get(par) << 12:#x}", "ATTR": f"{L['ATTR'].get(par):#04x}",
            "SH": f"{L['SH'].get(par):#04b}", "NS": L["NS"].get(par)}


def _compare(out, sw, hw, diff) -> None:
    """The software PAR_EL1 against the captured one, field by field, then both decoded."""
    from ..at import par_decode

    rows = [("PAR_EL1", "-" if sw is None else f"{sw:#018x}", hw if isinstance(hw, str) else f"{hw:#018x}", "")]
    a, b = _field_values(sw), _field_values(hw)
    differing = {n for n, _s, _h in diff.fields}
    formats_differ = a.get("F") != b.get("F")
    for name in dict.fromkeys(list(a) + list(b)):
        if name in differing or (name == "F" and formats_differ):
            mark = ("differs", "bold red")
        elif formats_differ:
            mark = ("other format", "dim")
        elif name in diff.ignored:
            mark = ("not compared", "dim")
        else:
            mark = ("same", "green")
        rows.append((name, str(a.get(name, "-")), str(b.get(name, "-")), mark))
    # the values whole; the verdict column wraps
    out.table(rows, header=("field", "software", "captured", ""), title="software vs captured PAR_EL1", borders=False)
    # the decoded summaries under the table, wrapped between words (in the table they would
    # widen its last column until a narrow terminal squeezed out the others)
    for label, v in (("software", sw), ("captured", hw)):
        if isinstance(v, int):
            out.line((f"{label}: {par_decode(v)['summary']}", "dim"))


# --------------------------------------------------------------------------- batches

def _batch_context(images, regs_file, reg_values, granule, va_bits, root):
    """load_context, but a batch may carry all its registers in its lines."""
    from ..errors import RegisterError
    from ..images import open_images
    from .common import Context, load_context

    try:
        return load_context(images, regs_file, reg_values, granule, va_bits, root)
    except RegisterError as exc:
        if regs_file or reg_values or any(x is not None for x in (granule, va_bits, root)) or "no registers" not in str(exc):
            raise
    memory = open_images(list(images))
    return Context(memory, {}, list(memory.warnings))


def _read_lines(path: str) -> Iterator[str]:
    """The lines of a batch (``-`` for stdin), read in bounded memory (:func:`.common.read_batch_bytes`),
    one at a time (the text is held once; a list of its lines would hold it again, line by line)."""
    from .common import read_batch_bytes

    text = read_batch_bytes(path).decode("utf-8-sig", errors="replace")
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


#: the longest ``at --batch --json`` holds finished lines back
_STREAM_SECONDS = 0.25


def _run_batch(path, images, regs_file, reg_values, granule, va_bits, root, pan, as_json, trace, exec_el,
               explain, max_rows, scalar=False) -> int:
    import collections

    from ..at import BULK_MIN_LINES, ATBatch, parse_batch_lines
    from ..errors import InputError

    where = "<stdin>" if path == "-" else path
    lines = parse_batch_lines(_read_lines(path), where)
    if not lines:
        raise InputError(f"{where}: no AT lines")
    ctx = _batch_context(images, regs_file, reg_values, granule, va_bits, root)
    batch = ATBatch(ctx.memory, ctx.registers, pan=pan, exec_el=exec_el, explain=explain,
                    trace=trace and as_json, where=where)
    batch.validate(lines)
    out = sys.stdout
    counts: collections.Counter = collections.Counter()
    rows = []
    if scalar or len(lines) < BULK_MIN_LINES:
        outcomes = _scalar_outcomes(batch, lines, as_json)
    else:
        from .translate import bulk_process

        bulk_process()
        from ..bulk import per_address_note
        from .output import note

        for text in sorted({per_address_note(batch.setup(ln)) for ln in lines} - {None}):   # (FEAT_D128)
            note(text)
        outcomes = batch.run_many(lines, text=as_json)
    from .progress import Tracked

    outcomes = Tracked(outcomes, len(lines), "running AT", "lines", quiet_on_terminal=as_json)   # stderr, a tty
    pending: list[str] = []
    # JSON lines go out in blocks (4096 lines), and at least every _STREAM_SECONDS, so that a reader
    # sees slow lines (mismatches being explained) as they come, and a closed pipe is met early
    written = time.monotonic()
    try:
        for o in outcomes:
            verdict = o.verdict
            counts[verdict] += 1
            if o.par is None:
                counts["software: exception (no PAR)"] += 1
            elif o.par & 1:
                counts["software: fault"] += 1
            else:
                counts["software: translated"] += 1
            if as_json:
                pending.append(o.text)
                if len(pending) >= 4096 or time.monotonic() - written > _STREAM_SECONDS:
                    out.write("".join(pending))
                    out.flush()
                    pending.clear()
                    written = time.monotonic()
            if verdict == "mismatch":
                d = o.d
                rs = d.get("reasons") or []
                counts[("reason", _reason_label(rs[0]) if rs else "no explanation" if "reasons" in d else "not explained")] += 1
                if not as_json and len(rows) < max_rows:
                    rows.append(d)
    finally:
        if pending:
            out.write("".join(pending))
    if not as_json:
        from .output import stdout_console

        _render_batch(stdout_console(), counts, rows, len(lines), ctx.notes)
    return 1 if counts["mismatch"] else 0


def _scalar_outcomes(batch, lines, as_json):
    """One :meth:`ATBatch.run` per line, as :class:`~pgwalk.at.BatchOutcome` s."""
    import json

    from ..at import BatchOutcome

    dumps = json.dumps
    for ln in lines:
        d, res, _diff = batch.run(ln)
        yield BatchOutcome(ln, d["verdict"], res.par, d, dumps(d) + "\n" if as_json else None)


def _reason_label(r: dict) -> str:
    return (r.get("category") or r["kind"]) + (" (confirmed)" if r["confirmed"] else "")


def _render_batch(console, counts, rows, total, notes) -> None:
    from rich.table import Table
    from rich.text import Text

    from .output import fit_table, table_box
    from .output import notes as print_notes

    print_notes(notes)
    t = Table(title=f"AT batch: {total} lines", title_justify="left", header_style="bold", box=table_box())
    t.add_column("verdict")
    t.add_column("lines", justify="right")
    styles = {"match": "green", "mismatch": "bold red", "no capture": "dim"}
    for k in ("match", "mismatch", "no capture"):
        if counts[k]:
            t.add_row(Text(k, style=styles[k]), str(counts[k]))
    for k in ("software: translated", "software: fault", "software: exception (no PAR)"):
        if counts[k]:
            t.add_row(Text(k, style="dim"), str(counts[k]))
    console.print(fit_table(console, t))
    why = sorted(((k[1], n) for k, n in counts.items() if isinstance(k, tuple)), key=lambda x: -x[1])
    if why:
        r = Table(title="mismatches by likely reason (the first reason of each)", title_justify="left",
                  header_style="bold", box=table_box())
        r.add_column("reason")
        r.add_column("lines", justify="right")
        for label, n in why:
            r.add_row(Text(label), str(n))
        console.print(fit_table(console, r))
    if not rows:
        return
    m = Table(title=f"mismatches (first {len(rows)})", title_justify="left", header_style="bold", box=table_box())
    for col in ("line", "op", "va", "software PAR", "captured", "differs", "likely reason"):
        m.add_column(col, no_wrap=col not in ("likely reason",))
    for d in rows:
        diff = ", ".join(x["field"] for x in d["diff"])
        rs = d.get("reasons") or []
        why = ""
        if rs:
            r = rs[0]
            text = r["text"] if len(r["text"]) <= 90 else r["text"][:89] + "…"
            why = ("✓ " if r["confirmed"] else "") + (f"[{r['category']}] " if r.get("category") else "") + text
        label = str(d.get("id", d["line"]))
        m.add_row(*(Text(x) for x in (label, d["op"], d["va"], d["par"] or "exception", d["captured"], diff, why)))
    console.print(fit_table(console, m))


AT = Command("at", run_at_command, (
    Argument("op", required=False, metavar="OP"),
    Argument("va", required=False, metavar="VA"),
    *IMAGE_OPTIONS,
    *REGISTER_OPTIONS,
    Option("--pan/--no-pan",
           help="PSTATE.PAN for S1E1RP/S1E1WP (default: PSTATE/CPSR or PAN in the registers, else 0)."),
    Option("--hw-par", metavar="VALUE",
           help="A captured PAR_EL1 (hardware, emulator, trace, dump) to compare; 'exception' if the AT trapped."),
    Option("--batch", "batch_file", metavar="FILE",
           help='JSON Lines: {"op", "va", "par"?, "pan"?, "regs"?, "id"?} per line (- for stdin).'),
    Option("--json", "as_json", is_flag=True, help="JSON output (one object per AT; JSON Lines with --batch)."),
    Option("--no-trace", is_flag=True, help="Leave out the per-level trace."),
    Option("--trace", "batch_trace", is_flag=True, help="With --batch --json: include each line's walk trace."),
    Option("--exec-el", int_range=(1, 3),
           help="EL executing the AT. 1: a stage 2 fault on the stage 1 walk raises an exception instead of "
                "writing PAR (default: reported in PAR, as at EL2)."),
    Option("--explain", choices=_EXPLAIN, default="full", show_default=True,
           help="For a mismatch: full (re-walk under hypotheses: changed descriptor, MAIR, TCR, PAN, reverse "
                "lookup), quick (no TCR search or reverse lookup), known (departure patterns only), none."),
    Option("--max-rows", integer=True, default=20, show_default=True, help="Mismatch rows in the batch summary."),
    Option("--scalar", is_flag=True, help="With --batch: run one AT at a time even for large batches "
           "(the same output, slower)."),
    Option("--nested", is_flag=True, help="Nested virtualisation: VA is an L2 guest address, the registers the "
           "L2 guest's EL1 registers, the image host-physical; the walk goes through the guest hypervisor's "
           "stage 2 (--guest-hyp) and the host's (--host)."),
    Option("--guest-hyp", "guest_hyp", metavar="FILE", help="With --nested: the guest hypervisor's (L1) virtual "
           "EL2 registers, a register file."),
    Option("--host", "host_file", metavar="FILE", help="With --nested: the host's (L0) registers, a register file."),
    Option("--by", choices=("l2", "l1"), case_sensitive=False, default="l2", show_default=True,
           help="With --nested: who executes the AT: the L2 guest at EL1, or the guest hypervisor at its "
           "virtual EL2 (trapped to and emulated by L0)."),
))
