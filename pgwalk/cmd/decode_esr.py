"""``pgwalk decode-esr`` and ``pgwalk decode``.

Declared as :class:`~pgwalk.cmd.spec.Command` objects (``DECODE_ESR``, ``DECODE``): a plain
command line runs without click; rich is imported when output goes to a terminal, the log parser only with
``--log``.  Never numpy: ``pgwalk decode-esr VALUE`` has to start and print fast.

All ``--json`` output is JSON Lines (one record per line) with a ``schema`` version;
addresses and register values (``value``, ``address``, ``esr``, ``pgdp`` members) are hex
strings, field values stay integers (``pgwalk schema esr``, ``esr-log``, ``register``,
``descriptor`` print the JSON Schemas).  Schema 1 (was unversioned): ``value``, ``address``,
``esr`` and ``pgdp`` were integers, and ``--log --json`` printed one indented JSON array.

JSON output (``--json``) of ``decode-esr VALUE`` is one line::

    {
      "schema": 1,
      "register": "ESR_EL1" | "ESR_ELx",   # ESR_ELx when --el is not given
      "value": "0x96000045", "hex": "0x96000045", "el": 1 | null,
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

``decode-esr --log FILE --json`` prints one line per report found, as soon as
the report is complete (see
:meth:`pgwalk.kernlog.KernelReport.to_json`: ``producer``, ``format``,
``esr``, ``registers`` {FAR, ELR, HPFAR, PAR, IPA}, ``claims`` (the log's own
words), ``logged`` (the numbers and names it printed), ``disagreements``,
``problems``; its ``decode`` member is the object above; ``descriptors``
lists the logged pgd..pte entries decoded, see
:meth:`pgwalk.descdecode.DescriptorReport.to_json`).  ``decode descriptor
VALUE --json`` prints one such descriptor object.  ``decode REGISTER VALUE --json``
prints the register's object (``fields``, ``details``, ``derived``).
"""

from __future__ import annotations

import sys

from ..errors import InputError
from .spec import Argument, Command, Option

__all__ = ["DECODE_ESR", "DECODE", "run_decode_esr", "run_decode"]

# What decode-esr / decode print is stated once, by the ``_render_*`` functions below, as
# lines of styled spans and tables of cells; how it looks is the output's business
# (:func:`.output.text_output`: rich on a terminal, plain lines without rich in a pipe).

def _output():
    """The presentation of this run's stdout (:func:`.output.text_output`)."""
    from .output import text_output
    return text_output()


def _notes(out, texts, about=None) -> None:
    """Notes on stderr (stdout holds only the decode), after what was printed so far."""
    from .output import notes
    out.file.flush()
    notes(texts, about=about)


def _echo(text: str) -> None:
    """One line of output on stdout."""
    sys.stdout.write(f"{text}\n")


def _note_after_output(text: str) -> None:
    """A note on stderr, after what stdout holds so far."""
    from .output import note
    sys.stdout.flush()
    note(text)


def _warnings(out, texts, about=None) -> None:
    from .output import warning
    out.file.flush()
    for w in texts:
        warning(f"{about}: {w}" if about else w)


def _shown(rows, full: bool = False):
    """The rows of the default view: the fields that apply (one ISS layout), none overlapping another.

    A row is left out when it does not apply here (``valid`` false: the ISV = 0
    fields when ISV = 1, ...), or when it contains another row shown (ISS
    around its own fields).  ``full`` keeps every row.
    """
    if full:
        return list(rows)
    valid = [d for d in rows if d.valid]

    out = []
    for d in valid:
        contains = any(o is not d and o.lsb >= d.lsb and o.msb <= d.msb and (o.msb, o.lsb) != (d.msb, d.lsb)
                       and _same_register(d, o) for o in valid)
        if not contains:
            out.append(d)
    return out


def _same_register(a, b) -> bool:
    esr = ("ESR", "ISS", "ISS2")
    return (a.group in esr and b.group in esr and (a.name in ("ISS", "ISS2") or a.group == b.group)) or \
        (a.group not in esr and a.group == b.group)


def _render_fields(out, rows, title=None) -> None:
    """One row per field: name, bits, value, meaning (a field that does not apply is dimmed)."""
    out.table([(d.name, d.bits, d.hex(), d.meaning + (f" ({d.note})" if d.note else "")) for d in rows],
              header=("field", "bits", "value", "meaning"), right=(1, 2), title=title,
              dim={i for i, d in enumerate(rows) if not d.valid})


def _render_esr(out, r, full: bool = False) -> None:
    hexv = f"{r.value:#018x}" if r.value >> 32 else f"{r.value:#010x}"
    out.line((f"{r.register} {hexv}", "bold"), f"  EC {r.ec:#04x} ", (r.ec_name, "bold"),
             " ", (f"({r.linux_ec_name})", "dim"))
    out.line((r.summary, "bold cyan"))
    _render_fields(out, _shown(r.details, full))
    _warnings(out, r.warnings)
    _notes(out, r.notes)
    if r.far is not None:
        _render_fields(out, r.far.details, title=f"FAR {r.far.value:#018x}")
        out.line((r.far.reason, None if r.far.valid else "yellow"))
        _notes(out, r.far.notes, about="FAR")
    if r.hpfar is not None:
        _render_fields(out, r.hpfar.details, title=f"HPFAR_EL2 {r.hpfar.value:#018x}")
        _notes(out, r.hpfar.notes, about="HPFAR_EL2")
    if r.par is not None:
        _render_register(out, r.par, full)


def _render_register(out, rep, full: bool = False) -> None:
    out.line((f"{rep.register} {rep.value:#018x}", "bold"))
    if rep.summary:
        out.line((rep.summary, "bold cyan"))
    _render_fields(out, _shown(rep.details, full))
    if rep.derived:
        rows = []
        for k, v in rep.derived.items():
            if isinstance(v, dict):
                rows.extend((f"{k}.{k2}", _fmt(v2)) for k2, v2 in v.items())
            else:
                rows.append((k, _fmt(v)))
        out.table(rows, title="derived")
    _warnings(out, rep.warnings, about=rep.register)
    _notes(out, rep.notes, about=rep.register)


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


def _dump(kind: str, obj) -> None:
    """One JSON Lines record of type ``kind`` (:data:`pgwalk.jsonrecords.RECORD_SCHEMAS`)."""
    from ..jsonrecords import hex_values, json_line, json_record
    sys.stdout.write(json_line(json_record(kind, hex_values(obj))))


def run_decode_esr(esr, far, hpfar, par, el, as_json, linux, kernel, log, image, short, full) -> int:
    """Decode an ESR_ELx value field by field (or every exception report in a log).

    Values are hexadecimal (0x optional, _ separators allowed).  With --log FILE
    ('-' for stdin) every AArch64 exception report in any text is found and
    decoded as it is read: Linux (3.x on), KVM, Xen, seL4, U-Boot, EDK2, TF-A,
    OP-TEE, Zephyr, FreeBSD, XNU, gdb and QEMU logs, register dumps; exit
    status 0 all agree, 1 a log's own decode disagrees or no report was found,
    2 bad input.
    """
    if short and (as_json or linux or full):
        raise InputError("--short prints one line per syndrome; it does not combine with --json, --linux or --full")
    if log is not None:
        if esr is not None or far or hpfar or par:
            raise InputError("--log takes no ESR, --far, --hpfar or --par (they come from the log)")
        return _run_log(log, as_json, linux, kernel, image, short, full)
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
            _echo(line)
        from ..formats.esr import ESR, ISS_DABT
        fsc = ISS_DABT["DFSC"].get(value)
        why = fsc_disagreement(fsc, linux_fault_name(fsc, style.version))
        if why and ESR["EC"].get(value) in (0x20, 0x21, 0x24, 0x25):
            _note_after_output(why)
        return 0
    report = _decode(esr, int(el) if el else None, far=far, hpfar=hpfar, par=par)
    if as_json:
        _dump("esr", report.to_json())
    elif short:
        _echo(short_line(report))
    else:
        _render_esr(_output(), report, full)
    return 0


def short_line(d, far: int | None = None) -> str:
    """One grep-able line for a decoded syndrome: ``ESR 0x96000045 EC=0x25 ... | summary``."""
    hexv = f"{d.value:#010x}" if not d.value >> 32 else f"{d.value:#018x}"
    parts = [f"{d.register}={hexv}", f"EC={d.ec:#04x}", f"IL={d.il}"]
    if d.fault is not None:
        parts.append(f"FSC={d.fault.fsc:#04x}")
    for name in ("ISV", "WnR", "S1PTW", "CM", "EA"):
        if name in d.fields and any(x.name == name and x.valid for x in d.details):
            parts.append(f"{name}={d.fields[name]}")
    if d.far is not None:
        parts.append(f"FAR={d.far.value:#x}")
    if d.hpfar is not None and d.hpfar.address is not None:
        parts.append(f"IPA={d.hpfar.address:#x}")
    return " ".join(parts) + f" | {d.ec_name} | {d.summary}"


def _walker_for(image: str):
    """A ``walk_fn`` for :func:`pgwalk.kernlog.compare_logged_walk`, or None with the reason."""
    try:
        from ..images import open_image
        from ..params import setup_from_registers
        from ..walk import translate
    except Exception:                                         # the walker is not there (yet)
        return None, "comparing logged walks with --image needs the walker (pgwalk.walk), which is not available"
    from ..kernlog import linux_walk_registers
    mem = open_image(image)
    for warning in mem.warnings:               # a decompressed image, overlaps: said once, on stderr
        _note_after_output(warning)

    def walk_fn(pgdp: int, address: int, *, page_kb: int, va_bits: int) -> dict:
        setup = setup_from_registers(linux_walk_registers(pgdp, page_kb, va_bits))
        t = translate(setup, mem, address, stages="1")
        return {s.level: s.raw for s in t.steps if s.stage == 1 and s.raw is not None}

    return walk_fn, None


class _EncodedText:
    """A text stream read as UTF-8 bytes (stdin replaced by a text-only object, as in tests)."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size).encode("utf-8", errors="replace")


def _open_log(path: str):
    """``(stream, bytes read from it already, close)``: the log, read decompressed when compressed."""
    if path == "-":
        try:
            stdin = sys.stdin.buffer
        except AttributeError:
            return _EncodedText(sys.stdin), b"", False
        from ..inputs import open_stdin

        inflated, _kind, head = open_stdin(stdin)
        if inflated is None:                   # plain text: read on from stdin (its descriptor, on a pipe)
            return stdin, head, False
        return inflated, b"", True
    from ..inputs import open_stream

    return open_stream(path)[0], b"", True     # one sentence if unreadable; a compressed log is read decompressed


def _run_log(path, as_json, linux, kernel, image, short=False, full=False):
    """Scan the log as a stream: each report is printed as soon as it is complete."""

    from ..kernlog import compare_logged_walk, scan_stream
    walk_fn, walk_note = (None, None)
    if image:
        walk_fn, walk_note = _walker_for(image)
    stream, head, close = _open_log(path)
    con = None if as_json or linux or short else _output()
    out = sys.stdout
    n_reports = n_dup = total_d = total_p = 0
    disagree = False
    try:
        for r in scan_stream(stream, idle=1.0, head=head):
            n_reports += 1
            if r.duplicate_of is not None:
                n_dup += 1
            cmp = None
            if walk_fn is not None and r.walk is not None and r.walk.entries and r.duplicate_of is None:
                cmp = compare_logged_walk(r, walk_fn)
            logged = _logged_descriptors(r) if not as_json or r.walk is not None else None
            if r.disagreements or (cmp is not None and not cmp.ok and cmp.error is None):
                disagree = True
            if r.duplicate_of is None:
                total_d += len(r.disagreements)
                total_p += len(r.problems)
            if as_json:
                o = r.to_json()
                if cmp is not None:
                    o["walk_comparison"] = cmp.to_json()
                if logged:
                    o["descriptors"] = [x.to_json() for x in logged]
                _dump("esr-log", o)
            elif linux:
                if r.esr is None or r.duplicate_of is not None:
                    continue
                from ..esr import linux_mem_abort_lines, linux_style
                _echo(f"# report {r.index}, line {r.first_line}: {r.headline}")
                style = linux_style(kernel) if kernel else None
                for line in (linux_mem_abort_lines(r.esr, style) if style else r.expected_block() or
                             linux_mem_abort_lines(r.esr)):
                    _echo(line)
            elif short:
                if r.duplicate_of is None:
                    _echo(_short_report(path, r))
            elif r.duplicate_of is None:
                _render_report(con, r, cmp, logged)
            out.flush()
    finally:
        if close:
            stream.close()
    if n_reports == 0:
        from .registry import say

        out.flush()
        say(f"pgwalk: no AArch64 exception report found in {'stdin' if path == '-' else path}\n")
        return 1
    if con is not None:
        con.line((f"{n_reports - n_dup} report(s)", "bold"),
                 (f" (+{n_dup} repeated, e.g. dmesg after the console)" if n_dup else "") +
                 f", {total_d} disagreement(s) with pgwalk's decode, {total_p} problem(s)")
    if walk_note:
        _note_after_output(walk_note)
    return 1 if disagree else 0


def _logged_descriptors(r):
    """The oops's logged pgd=/p4d=/pud=/pmd=/pte= values, decoded without an image (or None)."""
    if r.walk is None or not r.walk.entries or r.walk.page_kb is None or r.walk.va_bits is None:
        return None
    try:
        from ..descdecode import decode_logged_walk
    except ImportError:
        return None
    try:
        return decode_logged_walk(r.walk)
    except Exception:                                     # a garbled walk: shown raw, as logged
        return None


def _short_report(path: str, r) -> str:
    where = f"{'-' if path == '-' else path}:{r.first_line}"
    head = f"{where}: {r.producer}/{r.format or r.kind}"
    if r.decode is None:
        return f"{head} no ESR" + (f" | {r.problems[0]}" if r.problems else "")
    line = f"{head} {short_line(r.decode)}"
    if r.disagreements:
        line += " | DISAGREES: " + "; ".join(r.disagreements)
    return line


def _render_report(out, r, comparison=None, logged=None) -> None:
    from ..esr import fsc_text
    ts = f" [{r.timestamp:.6f}]" if r.timestamp is not None else ""
    lines = f"line {r.first_line}" + (f"-{r.last_line}" if r.last_line != r.first_line else "")
    what = r.kind.replace('_', ' ') if r.producer == "linux" else "exception"
    out.heading(f"report {r.index} ({what}, {r.producer} {r.format}, {lines}){ts}")
    out.line(r.headline)
    if r.registers:
        out.line("  " + "  ".join(f"{k} {v:#x}" for k, v in r.registers.items()))
    for c in r.claims:
        out.line(("the log says:", "dim"), f" {c}")
    if r.decode is not None:
        d = r.decode
        out.line(f"ESR {r.esr:#018x} ", (f"(from the {r.esr_source})", "dim"), f": EC {d.ec:#04x} ",
                 (d.ec_name, "bold"))
        out.line((d.summary, "bold cyan"))
        if d.fault is not None:
            out.line(f"FSC {d.fault.fsc:#04x}: {fsc_text(d.fault)}",
                     (f" (needs {d.fault.feature})" if d.fault.feature else "", "dim"))
        shown = [x for x in d.details if x.group in ("ISS", "ISS2") and x.valid and (x.value or x.name in
                                                                                     ("DFSC", "IFSC", "WnR", "ISV"))]
        if shown:
            out.line("  " + ", ".join(f"{x.name}={x.value:#x}" if x.width > 4 else f"{x.name}={x.value}"
                                      for x in shown))
    if r.address is not None and r.producer == "linux":
        out.line(f"address {r.address:#018x}")
    if r.walk is not None:
        w = r.walk
        geo = f"{w.pgtable} pgtable, {w.page_kb}k pages, {w.va_bits}-bit VAs" if w.pgtable else "page tables"
        base = f", pgdp {w.pgdp:#x}" if w.pgdp is not None else (f", pgd pointer {w.pgd_pointer}"
                                                               if w.pgd_pointer else "")
        out.line(f"logged walk: {geo}{base}")
        if w.entries:
            out.line("  " + ", ".join(f"{n}={v:016x}" for n, v in w.entries))
        for x in logged or ():
            out.line(f"  {x.name}: {x.summary}")
        if w.message:
            out.line(f"  {w.message}")
    if comparison is not None:
        if comparison.error:
            out.line(("walk not compared:", "yellow"), f" {comparison.error}")
        elif comparison.ok:
            out.line(("walk: the image gives the logged descriptors", "green"))
        for m in comparison.mismatches:
            out.line(("walk differs:", "red"), f" {m}")
    for x in r.disagreements:
        out.line(("disagrees:", "red"), f" {x}")
    for fm in r.format_mismatches:
        if fm["logged"] is None:
            out.line(("missing line:", "yellow"), f" expected {fm['expected']}")
        elif fm["expected"] is None:
            out.line((f"unexpected line {fm['line']}:", "yellow"), f" {fm['logged'].strip()}")
        else:
            out.line((f"line {fm['line']} differs:", "yellow"),
                     f" logged {fm['logged'].strip()!r}, expected {fm['expected'].strip()!r}")
    for p in r.problems:
        out.line(("problem:", "yellow"), f" {p}")
    _notes(out, r.notes, about=f"report {r.index}")


def run_decode(register, value, e2h, as_json, full, granule, level, stage, ds, pa_bits, d128, mair, one_el,
               id_reg) -> int:
    """Decode a register pgwalk reads, or one page-table entry.

    REGISTER is one of TCR_EL1/2/3, VTCR_EL2, SCTLR_EL1/2/3, HCR_EL2, MAIR_EL1/2/3,
    TTBR0/1_ELx, VTTBR_EL2, ID_AA64MMFR0/1/2_EL1, PAR_EL1, HPFAR_EL2, ESR_EL1/2/3, FAR_ELx,
    or "descriptor" (with --granule and --level): kind, address, attributes,
    permissions and RES0 problems of one entry, without a memory image.
    VALUE is hexadecimal (0x optional, _ separators allowed).
    """
    if register.lower() in ("descriptor", "desc", "pte"):
        return _decode_descriptor(value, as_json, granule, level, int(stage), ds, pa_bits, mair, one_el, d128)
    if granule or level is not None or ds or mair or one_el or d128 or pa_bits is not None:
        raise InputError("--granule, --level, --ds, --d128, --pa-bits, --mair and --one-el are for "
                         "'pgwalk decode descriptor'")
    from ..esr import EsrReport, decode_register
    rep = decode_register(register, value, e2h=e2h, id_registers=_id_registers(id_reg))
    if as_json:
        _dump("esr" if isinstance(rep, EsrReport) else "register", rep.to_json())
        return 0
    if isinstance(rep, EsrReport):
        _render_esr(_output(), rep, full)
    else:
        _render_register(_output(), rep, full)
    return 0


def _id_registers(items) -> dict[str, int]:
    """``--id-reg NAME=VALUE`` values: the ID registers a walk setup reads."""
    from ..esr import parse_u64
    out: dict[str, int] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().upper()
        if not name.endswith("_EL1") and name.startswith("ID_"):
            name += "_EL1"
        if not sep or name not in ("ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"):
            raise InputError(f"--id-reg {item!r}: give ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1 or "
                             "ID_AA64MMFR2_EL1 as NAME=VALUE")
        out[name] = parse_u64(text, name)
    return out


def _decode_descriptor(value, as_json, granule, level, stage, ds, pa_bits, mair, one_el, d128=False):
    from ..descdecode import decode_descriptor
    from ..esr import parse_u64
    from ..regs import parse_register_value
    if granule is None or level is None:
        raise InputError("decode descriptor needs --granule (4k, 16k, 64k) and --level (-1..3)")
    if d128 and ds:
        raise InputError("--ds and --d128 do not go together: a 128-bit descriptor has no DS format")
    if not d128 and level == -2:
        raise InputError("--level -2 exists only with 128-bit descriptors (--d128)")
    # a 128-bit descriptor is read as the 128-bit registers are (pgwalk.regs.parse_register_value)
    raw = parse_register_value("PAR_EL1", value, "descriptor") if d128 else parse_u64(value, "descriptor")
    rep = decode_descriptor(raw, granule=granule, level=level, stage=stage, ds=ds,
                            pa_bits=pa_bits if pa_bits is not None else 56 if d128 else 48,
                            mair=None if mair is None else parse_u64(mair, "--mair"), two_el=not one_el, d128=d128)
    if as_json:
        _dump("descriptor", rep.to_json())
        return 0
    out = _output()
    out.line((f"descriptor {rep.value:#0{34 if rep.d128 else 18}x}", "bold"))
    out.line((rep.summary, "bold cyan"))
    if rep.layout is not None:
        from ..esr import FieldReport
        _render_fields(out, [FieldReport(f.name, f.msb, f.lsb, f.get(rep.value), f.doc or "", group="descriptor")
                             for f in rep.layout])
    _notes(out, rep.notes)
    return 0


DECODE_ESR = Command("decode-esr", run_decode_esr, (
    Argument("esr", required=False),
    Option("--far", metavar="VA", help="FAR_ELx taken with the exception."),
    Option("--hpfar", metavar="VALUE", help="HPFAR_EL2 (stage 2 aborts): gives the faulting IPA."),
    Option("--par", metavar="VALUE", help="PAR_EL1 to decode alongside (either format)."),
    Option("--el", choices=("1", "2", "3"), help="Exception level whose ESR this is (ESR_EL1/2/3)."),
    Option("--json", "as_json", is_flag=True, help="Machine-readable output (schema in the module docs)."),
    Option("--linux", is_flag=True, help="Print the block Linux prints for this ESR ('Mem abort info:' ...)."),
    Option("--kernel", metavar="VERSION", help="Kernel version whose format --linux follows (e.g. 6.1; default: "
           "current)."),
    Option("--log", metavar="FILE", help="Find and check every arm64 fault report in a kernel log ('-' for stdin)."),
    Option("--image", metavar="FILE", help="With --log: memory image to walk the logged pgdp in."),
    Option("--short", is_flag=True, help="One grep-able line per syndrome."),
    Option("--full", is_flag=True, help="Every field of every ISS layout, also those that do not apply."),
))

DECODE = Command("decode", run_decode, (
    Argument("register"),
    Argument("value"),
    Option("--e2h", is_flag=True, help="TCR_EL2 with HCR_EL2.E2H = 1 (the TCR_EL1 layout)."),
    Option("--json", "as_json", is_flag=True, help="Machine-readable output."),
    Option("--full", is_flag=True, help="Also the fields that do not apply to this value."),
    Option("--granule", choices=("4k", "16k", "64k"), case_sensitive=False, help="descriptor: translation granule."),
    Option("--level", int_range=(-2, 3), help="descriptor: lookup level (-1..3; -2..3 with --d128)."),
    Option("--stage", choices=("1", "2"), default="1", show_default=True, help="descriptor: stage."),
    Option("--ds", is_flag=True, help="descriptor: TCR_ELx.DS = 1 (52-bit OA with 4KB/16KB granules)."),
    Option("--pa-bits", int_range=(32, 56),
           help="descriptor: output size (52 with 64KB: OA[51:48] in bits [15:12]; up to 56 with --d128) "
                "[default: 48, 56 with --d128]."),
    Option("--d128", is_flag=True, help="descriptor: a 128-bit VMSAv9-128 descriptor (FEAT_D128)."),
    Option("--mair", metavar="VALUE", help="descriptor: MAIR_ELx, to name the stage 1 memory type."),
    Option("--one-el", is_flag=True, help="descriptor: a regime without EL0 (EL2, EL3): no AP[1], UXN, nG."),
    Option("--id-reg", "id_reg", multiple=True, metavar="NAME=VALUE",
           help="TCR_ELx/VTCR_EL2: ID_AA64MMFR0/1/2_EL1 of the PE (else assumed, and the notes say how). "
                "Repeatable."),
))
