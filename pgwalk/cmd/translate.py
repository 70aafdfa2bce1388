"""``pgwalk translate``: VA -> (IPA ->) PA with a per-level trace.

Large batches are walked by the vectorised walker (:mod:`pgwalk.bulk`), and
``--reverse`` answers "who maps this physical address?".  numpy is imported
only on those paths.
"""

from __future__ import annotations

import re
import sys

from .common import IMAGE_OPTIONS, REGISTER_OPTIONS
from .spec import Argument, Command, Option

__all__ = ["TRANSLATE", "run_translate", "BULK_THRESHOLD", "REGIMES"]

REGIMES = {"el10": "EL10", "el1&0": "EL10", "el20": "EL20", "el2&0": "EL20", "el2": "EL2", "el3": "EL3"}

#: from this many addresses on, --json/--csv/--no-trace use the vectorised walker
BULK_THRESHOLD = 64
#: addresses per block of the streaming bulk output: the formatter's fixed cost per block (a few
#: dozen numpy calls) is small against 64k lines, and a block's lines (about 7 MB of CSV, two
#: buffers reused from block to block) do not cost page faults.  Whole process, 2M kernel VAs,
#: --csv --fields va,pa, with the heap kept (bulk_process), alternating runs: 32k blocks 0.49 s,
#: 64k 0.40 s, 128k 0.51 s (before the heap was kept, CPU of walk + format + write: 8k 1.07 s,
#: 16k 0.72 s, 32k 0.59-0.69 s, 64k 0.65 s)
_BLOCK = 1 << 16


def run_translate(addresses, images, regs_file, reg_values, granule, va_bits, root, batch_file, stages, access,
                  el, pan, regime, as_json, as_csv, fields, no_trace, reverse, scalar, json_trace, nested, guest_hyp,
                  host_file):
    """Translate addresses through the tables in a memory image.

    Addresses (arguments and --batch lines) are hexadecimal, 0x optional, _
    separators allowed: 401000 is 0x401000.

    From 64 addresses on, with --json, --csv or --no-trace, the addresses are
    walked together by the vectorised walker: the same lines, streamed in
    blocks.  A --json line has the same keys for any number of addresses
    (schema: pgwalk schema translate); --json --trace adds each walk ("s1",
    "s2", "steps", "notes", "label", the fault's "reason") and walks one
    address at a time.  Setup notes go to stderr.  --csv --fields LIST prints the
    columns named (the header's names, --fields help lists them), in that order.

    With --reverse the arguments are output addresses (PAs; IPAs with --stages 1
    under stage 2): each gets the list of canonical VAs that translate to it.

    Exit status: 0 when every address translated (--reverse: every address is
    mapped), 1 when any faulted (is unmapped), 2 on bad input.
    """
    from ..errors import InputError
    from ..params import Regime, regime_for_el, setup_from_registers
    from ..perms import Access, pan_applies
    from .common import load_context

    if as_json and as_csv:
        raise InputError("--json and --csv exclude each other")
    if fields is not None and not as_csv:
        raise InputError("--fields selects the columns of --csv output: add --csv")
    if json_trace and not as_json:
        raise InputError("--trace adds the walk to --json lines (text output shows it unless --no-trace)")
    if json_trace and reverse:
        raise InputError("--reverse lists mappings, not walks: no --trace")
    batch_vas, batch_array = _read_batch(batch_file) if batch_file else ([], None)
    count = len(addresses) + (len(batch_array) if batch_array is not None else len(batch_vas))
    if not count:
        raise InputError("no address given (VA arguments or --batch FILE)")
    ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
    # numbers, or VMCOREINFO symbols of a dump (SYMBOL, SYMBOL+0x10)
    arg_vas = [ctx.address(text) for text in addresses]
    batch_vas = [va if isinstance(va, int) else ctx.address(*va) for va in batch_vas]
    if nested or guest_hyp or host_file:
        if not (nested and guest_hyp and host_file):
            raise InputError("--nested needs --guest-hyp FILE and --host FILE (and they need --nested)")
        if reverse or stages or regime:
            raise InputError("--nested walks all three layers: no --reverse, --stages or --regime")
        from ..target import Target
        from .nested import run_nested

        target = Target(ctx.memory, ctx.registers, ctx.notes, owns_memory=False)
        vas = arg_vas + (batch_array.tolist() if batch_array is not None else batch_vas)
        fmt = "json" if as_json else "csv" if as_csv else None
        return run_nested(target, vas, guest_hyp, host_file, access, el, pan, fmt, no_trace, json_trace)
    if regime:
        reg = Regime[REGIMES[regime.lower()]]
    elif el is not None:
        reg = regime_for_el(el, ctx.registers)
    else:
        reg = None
    setup = setup_from_registers(ctx.registers, reg, stage1=stages != "2")     # stage 2 alone: no TCR_EL1
    notes = tuple(ctx.notes) + tuple(setup.notes)
    acc = Access(access) if access else None
    el_ = _access_el(setup.regime, el)
    if pan and el_ != 1 and el_ != 2:
        raise InputError("--pan applies to EL1 (or EL2 with E2H) accesses")
    if stages == "2" and setup.s2 is None:
        raise InputError("--stages 2: stage 2 is not enabled (HCR_EL2.VM and DC are 0, or VTCR_EL2 missing)")
    pan_on = pan_applies(pan, acc, setup.regime)
    fmt = "json" if as_json else "csv" if as_csv else None

    if reverse:
        if acc is not None or pan:
            raise InputError("--reverse lists every mapping; it judges no access (drop --access/--pan)")
        if stages != "2" and setup.s1_enabled:
            notes += tuple(f"{p.ttbr_name} unknown: the mappings through it are not searched"
                           for p in setup.ranges if not p.ttbr_known and not p.epd)
        return _reverse(setup, ctx.memory, _as_array(arg_vas, batch_vas, batch_array), stages, fmt, notes, fields)
    hint = ("the dump's VMCOREINFO gives only the kernel's tables (swapper_pg_dir); give the "
            "process's TTBR0_EL1 with --reg TTBR0_EL1=VALUE") if ctx.vmcoreinfo is not None else ""
    if count >= BULK_THRESHOLD and not scalar and not json_trace and (fmt or no_trace):
        array = _as_array(arg_vas, batch_vas, batch_array)
        unknown = _unknown_base_lanes(setup, array, stages)
        layout = labels = None
        if fmt is None and ctx.vmcoreinfo is not None:         # (text: the scalar path's labels)
            from functools import partial

            from ..linux import kernel_layout, label_addresses

            layout = kernel_layout(ctx.vmcoreinfo, ctx.memory)
            labels = partial(label_addresses, layout)
        if unknown is None:
            return _bulk(setup, ctx.memory, array, stages, acc, el_, pan_on, fmt, notes, fields, labels)
        return _bulk_mixed(setup, ctx.memory, array, unknown, stages, acc, el_, pan_on, fmt, notes, fields, hint,
                           layout, labels)
    vas = arg_vas + (batch_array.tolist() if batch_array is not None else batch_vas)
    layout = None
    if ctx.vmcoreinfo is not None:
        from ..linux import kernel_layout

        layout = kernel_layout(ctx.vmcoreinfo, ctx.memory)
    if fmt == "json" and not json_trace:
        _note(notes)
        notes, layout = (), None
    return _scalar(setup, ctx.memory, vas, stages, acc, el_, pan_on, fmt, no_trace, notes, layout, hint,
                   json_trace=json_trace, fields=fields)


def _fields_option(ctx, param, value: str | None) -> tuple[str, ...] | None:
    """click's callback of ``--fields LIST`` (:func:`_field_names`); ``help`` lists them and exits."""
    import click

    if value is None or ctx.resilient_parsing:
        return None
    if value.strip() == "help":
        from ..report import CSV_COLUMNS

        click.echo("\n".join(CSV_COLUMNS))
        ctx.exit()
    try:
        return _field_names(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _field_names(value: str) -> tuple[str, ...]:
    """``--fields LIST``: the CSV columns named, in order.

    :raises ValueError: an unknown name, an empty one, a name given twice, ``help`` (a request
        only click's callback answers)"""
    from ..report import CSV_COLUMNS

    names = tuple(name.strip() for name in value.split(","))
    valid = f"valid fields: {','.join(CSV_COLUMNS)}"
    for name in names:
        if name not in CSV_COLUMNS:
            raise ValueError(f"unknown field {name!r}: {valid}" if name else f"an empty field name: {valid}")
        if names.count(name) > 1:
            raise ValueError(f"{name!r} given twice")
    return names


def _complete_fields(ctx, param, incomplete: str) -> list:
    """Shell completion of ``--fields``: the names not given yet, after those given."""
    from click.shell_completion import CompletionItem

    from ..report import CSV_COLUMNS

    done, _, last = incomplete.rpartition(",")
    given = set(done.split(",")) if done else set()
    head = done + "," if done else ""
    return [CompletionItem(head + name) for name in CSV_COLUMNS if name.startswith(last) and name not in given]


def _pick(cells: list[str], fields: tuple[str, ...] | None) -> list[str]:
    """The cells of the ``--fields`` columns (all without)."""
    from ..report import csv_indices, csv_pick

    return csv_pick(cells, csv_indices(fields))


def _unknown_base_lanes(setup, vas, stages):
    """The addresses that would walk a VA range whose TTBR was not given, as a bool mask, or
    ``None`` for none (the vectorised walker does not model an unknown register: those addresses
    take the scalar walker)."""
    if stages == "2" or not setup.s1_enabled or all(p.ttbr_known for p in setup.ranges):
        return None
    import numpy as np

    unknown = np.array([not p.ttbr_known for p in setup.ranges])
    if len(setup.ranges) == 1:
        return np.full(len(vas), bool(unknown[0]))
    from ..rules import va_range

    lanes = unknown[va_range(vas).astype(np.intp)]
    return lanes if lanes.any() else None


def _unknown_dict(va: int, stages: str, regime: str, exc, hint: str) -> dict:
    """The translate object of an address whose walk cannot start: a register is unknown
    (``"ok": false``, no fault: nothing architectural happened)."""
    reason = f"{exc.name} is unknown: the walk of {va:#x} cannot start" + (f" ({hint})" if hint else
                                                                            f" (give it with --reg {exc.name}=VALUE)")
    from ..jsonrecords import SCHEMA_VERSION

    return {"schema": SCHEMA_VERSION, "va": f"{va:#x}", "ok": False, "stages": stages, "regime": regime, "ipa": None,
            "pa": None, "size": None, "fault": None, "unknown_register": exc.name, "reason": reason,
            "attributes": None, "permissions": None, "s1": None, "s2": None, "steps": [], "af_updates": [],
            "notes": []}


def _access_el(regime, el: int | None) -> int:
    """The EL of the access: ``--el``, or the regime's privileged EL (:func:`pgwalk.target.access_el`)."""
    from ..target import access_el

    return access_el(regime, el, "--el")


def _read_batch(path: str) -> tuple[list, "object | None"]:
    """The addresses of a batch file: a numpy array when the fast parse applies, else a list
    (of ints, and ``(text, where)`` for lines that name a symbol, ``SYMBOL[+-OFFSET]``, which the
    caller resolves through the dump's VMCOREINFO).

    Lines are addresses (:func:`pgwalk.values.parse_value`: hexadecimal, ``0x`` optional);
    blank lines and ``#`` comments are skipped.  The vectorised parse takes files whose every
    line is an address and nothing else (the common machine-made case) and gives the same
    values as the line-by-line parse.
    """
    from ..errors import InputError
    from ..values import parse_value
    from .common import batch_lines, batch_source, read_batch_bytes

    data = read_batch_bytes(path)
    if _newlines_at_least(data, BULK_THRESHOLD - 1):
        bulk_process()
        from ..values import parse_address_text

        array = parse_address_text(data)
        if array is not None:
            return [], array
    where = batch_source(path)
    vas: list = []
    for n, text in batch_lines(data):
        try:
            vas.append(parse_value(text, "address", f"{where}:{n}"))
        except InputError:
            if not _SYMBOLIC_LINE.match(text):
                raise
            vas.append((text, f"{where}:{n}"))      # a symbol: resolved once the dump is open
    return vas, None


#: a line that may name a symbol (checked against the dump's symbols once it is open)
_SYMBOLIC_LINE = re.compile(r"^\s*[A-Za-z_.$][\w.$]*\s*(?:[+-]\s*\S+)?\s*$")


def _newlines_at_least(data: bytes, n: int) -> bool:
    """``data.count(b"\\n") >= n``, without counting a whole large file."""
    pos = -1
    for _ in range(n):
        pos = data.find(b"\n", pos + 1)
        if pos < 0:
            return False
    return True


def bulk_process() -> None:
    """The process settings of a bulk job (the command owns its process: the library never
    changes them).

    * numpy's OpenBLAS starts a thread pool at import that pgwalk never uses (no linear
      algebra): one thread, unless the user chose (it costs tens of ms on a busy machine).
    * glibc's malloc hands memory above its thresholds back to the kernel when it is freed
      (``M_TRIM_THRESHOLD``, ``M_MMAP_THRESHOLD``: 128 KiB, then adjusted as it goes).  A bulk job
      makes the same temporaries block after block, so each block's were fresh pages again,
      zero-filled and mapped in one page fault each: about 57,000 faults, a fifth of the walk
      and format time of 2M addresses.  Blocks below 32 MiB (glibc's largest adjusted mmap
      threshold) now come from the heap, and the heap keeps what is freed: about 4,500 faults.
      The peak is unchanged (the process keeps its high-water mark, which it reaches anyway).
      Elsewhere than glibc (no ``mallopt``) nothing changes.
    """
    import os
    import sys

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import ctypes                       # (numpy imports it too)

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)      # (setting it also stops glibc adjusting either one)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _as_array(arg_vas: list[int], batch_vas: list[int], batch_array):
    bulk_process()
    import numpy as np

    if batch_array is not None and not arg_vas and not batch_vas:
        return batch_array                            # (no copy of a large batch)
    head = np.array(arg_vas + batch_vas, dtype=np.uint64)
    return head if batch_array is None else np.concatenate([head, batch_array])


def _scalar(setup, mem, vas, stages, acc, el, pan, fmt, no_trace, notes, layout=None, hint="", *,
            json_trace: bool = True, fields: tuple[str, ...] | None = None) -> int:
    """One walk per address, with the full trace (and the kernel layout label with VMCOREINFO);
    JSON lines without ``json_trace`` have the vectorised walker's keys (:func:`pgwalk.report.drop_trace`)."""
    from ..report import CSV_COLUMNS, csv_line

    from .output import notes as print_notes
    from .output import text_output

    # text: rich on a terminal; in a pipe or a file plain lines, made without rich (whose import
    # alone is a fifth of a one-address translate)
    text = text_output() if fmt is None else None
    any_fault = False
    out = sys.stdout
    if fmt is None:                 # text: notes on stderr, stdout only records
        print_notes(notes)
        general, notes = set(notes), ()
    if fmt == "csv":
        out.write(csv_line(fields or CSV_COLUMNS))
    from .progress import Tracked

    vas = Tracked(vas, len(vas), "translating", "addresses", quiet_on_terminal=True)   # stderr, a tty only
    for i, va in enumerate(vas):
        d, bad = _walk_dict(setup, mem, va, stages, acc, el, pan, hint, layout, notes if i == 0 else ())
        any_fault |= bad
        if fmt is not None:
            out.write(_result_line(d, fmt, fields, json_trace))
            continue
        if d.get("unknown_register") is not None:
            text.line(*_not_walked_spans(d))
            if not no_trace and i + 1 < len(vas):
                text.line()
            continue
        text.translation(d, trace=not no_trace)
        out.flush()
        print_notes([n for n in d["notes"] if n not in general], about=d["va"] if len(vas) > 1 else None)
        if not no_trace and i + 1 < len(vas):
            text.line()
    return 1 if any_fault else 0


def _note(notes) -> None:
    from .output import notes as print_notes

    print_notes(notes)


def _walk_dict(setup, mem, va: int, stages, acc, el, pan, hint: str, layout=None, extra_notes=()) -> tuple[dict, bool]:
    """The translate object of one address walked by the scalar walker (:func:`_unknown_dict`'s
    when its walk cannot start; the kernel layout label with ``layout``, ``extra_notes`` among
    its notes), and whether it did not translate."""
    from ..errors import UnknownRegister
    from ..target import translate_result
    from ..walk import translate as walk_translate

    try:
        t = walk_translate(setup, mem, va, stages=stages, access=acc, el=el, pan=pan)
    except UnknownRegister as exc:
        d = _unknown_dict(va, stages or ("12" if setup.s2 is not None else "1"), setup.regime.value, exc, hint)
        d["notes"] = list(extra_notes)
        if layout is not None:
            from ..linux import label_address, untag

            d["label"] = label_address(layout, untag(va))
        return d, True
    return translate_result(setup, mem, t, layout).to_dict(extra_notes=extra_notes), not t.ok


def _not_walked_spans(d: dict) -> tuple:
    """The text line of :func:`_unknown_dict`'s object, as styled spans."""
    return ((d["va"], "bold"), (f" [{d['label']}]" if d.get("label") else "", "cyan"),
            ("  NOT WALKED ", "bold red"), (d["reason"], "red"))


def _result_line(d: dict, fmt: str | None, fields: tuple[str, ...] | None, json_trace: bool) -> str:
    """The ``--json`` line, ``--csv`` row or (``fmt`` None) plain ``--no-trace`` text line of one
    translate object of the scalar path (a walk's, or :func:`_unknown_dict`'s)."""
    if fmt is None:
        from .output import plain_line, plain_translation

        return plain_line(*_not_walked_spans(d)) if d.get("unknown_register") is not None else plain_translation(d)
    if fmt == "json":
        import json

        from ..report import drop_trace

        return json.dumps(d if json_trace else drop_trace(d)) + "\n"
    from ..report import CSV_COLUMNS, csv_line, csv_row

    if d.get("unknown_register") is not None:
        cells = [d["va"], "false"] + [""] * 3 + [f"unknown {d['unknown_register']}"] + [""] * (len(CSV_COLUMNS) - 6)
    else:
        cells = csv_row(d)
    return csv_line(_pick(cells, fields))


def _bulk_mixed(setup, mem, vas, unknown, stages, acc, el, pan, fmt, notes, fields, hint, layout=None,
                labels=None) -> int:
    """``--json`` / ``--csv`` / ``--no-trace`` text of a batch with addresses in a VA range whose
    TTBR is unknown (``unknown``: :func:`_unknown_base_lanes`; a dump's VMCOREINFO gives TTBR1_EL1
    only: user addresses): the others walked together (:func:`_bulk`'s lines), these one at a time
    by the scalar walker (:func:`_scalar`'s lines: their walks cannot start, or a setup check stops
    them before the table base is read), every line in input order.  Text lines carry the kernel
    layout's labels (``layout``, and ``labels`` for :func:`_formatter`)."""
    import numpy as np

    at = np.flatnonzero(~unknown)                  # the input position of each address walked together
    alone = np.flatnonzero(unknown)

    def lines_alone(lo: int, hi: int) -> list[bytes]:
        nonlocal any_fault
        lines = []
        for va in vas[alone[lo:hi]].tolist():
            d, bad = _walk_dict(setup, mem, va, stages, acc, el, pan, hint, layout)
            any_fault |= bad
            lines.append(_result_line(d, fmt, fields, False).encode())
        return lines

    formatter = _formatter(fmt, columns=fields, labels=labels)
    blocks = _bulk_blocks(setup, mem, vas[at], stages, acc, el, pan, notes, fields)
    sys.stdout.flush()
    try:
        binary = sys.stdout.buffer
    except AttributeError:                            # a text-only stdout (tests, embedding)
        binary = None

    def write(data: bytes) -> None:
        if binary is not None:
            binary.write(data)
        else:
            sys.stdout.write(data.decode())

    any_fault = False
    write(formatter.header())
    done = k = u = 0                                  # input lines written; walked and alone lanes used
    for res in blocks:
        any_fault |= not res.ok.all()
        together = formatter.format(res).splitlines(keepends=True)
        if len(together) != len(res):                 # (a line of the formatter is one line)
            raise RuntimeError(f"pgwalk bug: {len(res)} results formatted as {len(together)} lines")
        end = int(at[k + len(res) - 1]) + 1           # the input lines up to the block's last
        u_end = int(np.searchsorted(alone, end))
        others = iter(lines_alone(u, u_end))
        mine = iter(together)
        write(b"".join([next(others) if x else next(mine) for x in unknown[done:end].tolist()]))
        done, k, u = end, k + len(res), u_end
    for lo in range(u, len(alone), _BLOCK):           # the lines after the last one walked together
        write(b"".join(lines_alone(lo, min(len(alone), lo + _BLOCK))))
    (binary or sys.stdout).flush()
    return 1 if any_fault else 0


def _bulk_blocks(setup, mem, vas, stages, acc, el, pan, notes, fields):
    """The vectorised walk's results, a block at a time (the contents flag where the ``fields``
    show it; progress on stderr when it is a terminal), after the setup notes (and the per-address
    engine's, FEAT_D128) on stderr."""
    from ..bulk import DescriptorReader, iter_translate, mark_contents, per_address_note
    from .progress import Tracked

    engine = per_address_note(setup)               # (FEAT_D128: the per-address walk)
    if engine is not None:
        notes = tuple(notes) + (engine,)
    blocks = iter_translate(setup, mem, vas, stages=stages, access=acc, el=el, pan=pan, block=_BLOCK,
                            reader=DescriptorReader(mem))
    if fields is None or "contents_in_image" in fields:
        blocks = (mark_contents(res, mem) for res in blocks)
    blocks = Tracked(blocks, len(vas), "translating", "addresses", weight=len, quiet_on_terminal=True)   # stderr, a tty
    _note(notes)
    return blocks


def _bulk(setup, mem, vas, stages, acc, el, pan, fmt, notes, fields=None, labels=None) -> int:
    """The vectorised walker, streaming one block of lines at a time (``fields``: the CSV columns;
    ``labels``: the text lines' address labels, :class:`pgwalk.lines.LineFormatter`)."""
    any_fault = False
    blocks = _bulk_blocks(setup, mem, vas, stages, acc, el, pan, notes, fields)
    text = sys.stdout
    text.flush()
    try:
        binary = sys.stdout.buffer
    except AttributeError:                            # a text-only stdout (tests, embedding)
        binary = None
    fd = _fileno(binary)
    if fd is None:
        formatter = _formatter(fmt, columns=fields, labels=labels)
        if binary is not None:
            binary.write(formatter.header())
        else:
            text.write(formatter.header().decode())
        for res in blocks:
            any_fault |= not res.ok.all()
            if binary is not None:
                formatter.write(res, binary)
            else:
                text.write(formatter.format(res).decode())
        (binary or text).flush()
        return 1 if any_fault else 0
    # a file descriptor: each block is written on a thread while the next one is walked and
    # formatted (two output buffers take turns)
    from ..writer import BackgroundWriter, write_all

    formatter = _formatter(fmt, buffers=2, columns=fields, labels=labels)
    binary.flush()
    write_all(fd, [formatter.header()])
    writer = BackgroundWriter(fd)
    try:
        for res in blocks:
            any_fault |= not res.ok.all()
            writer.submit(formatter.chunks(res))
    except BaseException:
        writer.close(raise_error=False)
        raise
    writer.close()
    return 1 if any_fault else 0


def _formatter(fmt: str | None, buffers: int = 1, columns: tuple[str, ...] | None = None, labels=None):
    """The bulk line formatter: JSON lines, CSV rows (``columns`` of them), or the plain result
    lines of text output (:func:`pgwalk.render.result_text`, the same line the scalar path prints,
    the kernel layout ``labels`` included)."""
    from ..lines import LineFormatter

    if fmt is None:
        from ..render import result_text

        return LineFormatter("text", buffers=buffers, text_line=result_text, labels=labels)
    return LineFormatter(fmt, buffers=buffers, columns=columns)


def _fileno(stream) -> int | None:
    """The file descriptor behind a binary stream, when it has one (not in tests' captured streams)."""
    if stream is None:
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _reverse(setup, mem, pas, stages, fmt, notes, fields=None) -> int:
    """``--reverse``: every VA mapping each output address (``--csv``: the target, then the
    ``fields`` columns)."""
    import json

    import numpy as np

    from ..reverse import reverse_map
    from ..jsonrecords import SCHEMA_VERSION
    from ..report import CSV_COLUMNS, csv_line, csv_row, hx

    query, res = reverse_map(setup, mem, pas, stages=stages)
    counts = np.bincount(query, minlength=len(pas))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
    out = sys.stdout
    text = None
    if fmt is None:
        from .output import text_output

        text = text_output()
    _note(notes)
    if fmt == "csv":
        out.write(csv_line(("target",) + (fields or CSV_COLUMNS)))
    for k, target in enumerate(pas.tolist()):
        lanes = range(starts[k], starts[k] + int(counts[k]))
        dicts = [res.to_dict(i) for i in lanes]
        if fmt == "json":
            out.write(json.dumps({"schema": SCHEMA_VERSION, "target": hx(target), "count": len(dicts),
                                  "mappings": dicts}) + "\n")
        elif fmt == "csv":
            for d in dicts:
                out.write(csv_line([hx(target)] + _pick(csv_row(d), fields)))
        else:
            from ..render import result_pieces

            text.line((f"{target:#x}", "bold"), (f"  mapped by {len(dicts)} address{'es' if len(dicts) != 1 else ''}",
                                                 "dim" if dicts else "bold red"))
            for d in dicts:
                text.line("  ", *result_pieces(d))
    return 0 if counts.all() else 1


TRANSLATE = Command("translate", run_translate, (
    Argument("addresses", nargs=-1, metavar="ADDRESS..."),
    *IMAGE_OPTIONS,
    *REGISTER_OPTIONS,
    Option("--batch", "batch_file", metavar="FILE",
           help="Translate the addresses in FILE, one per line (- for stdin)."),
    Option("--stages", choices=("1", "2", "12"), help="Stages to run (default: what the registers enable). "
           "1 stops at the IPA; 2 takes the input as an IPA."),
    Option("--access", choices=("read", "write", "exec"), help="Judge permissions for this access."),
    Option("--el", int_range=(0, 3), help="Exception level of the access (default 1)."),
    Option("--pan", is_flag=True, help="PSTATE.PAN = 1 for the access."),
    Option("--regime", choices=tuple(sorted(REGIMES)), case_sensitive=False,
           help="Translation regime (default: from --el and the registers)."),
    Option("--json", "as_json", is_flag=True, help="One JSON object per address (JSON Lines)."),
    Option("--csv", "as_csv", is_flag=True, help="One CSV row per address, after a header row."),
    Option("--fields", metavar="LIST", callback=_fields_option, is_eager=True, plain_convert=_field_names,
           shell_complete=_complete_fields,
           help="With --csv: the columns to print, comma-separated, in this order; only those are worked "
           "out (va,pa: the address pairs, the quickest).  The names are the header's (--fields help)."),
    Option("--no-trace", is_flag=True, help="Only the result line per address."),
    Option("--reverse", is_flag=True, help="The addresses are physical (output) addresses: list every VA "
           "that maps each one, from one vectorised pass over the tables."),
    Option("--scalar", is_flag=True, help="Walk one address at a time even for large batches "
           "(the same lines, only slower)."),
    Option("--trace", "json_trace", is_flag=True, help="With --json: add each address's walk (s1, s2, steps, "
           "notes, label, the fault's reason); walks one address at a time."),
    Option("--nested", is_flag=True, help="Nested virtualisation: the addresses are L2 guest VAs, the registers "
           "(--regs/--reg) the L2 guest's EL1 registers, the image host-physical; walk L2's stage 1, the "
           "guest hypervisor's stage 2 (--guest-hyp) and the host's (--host), every fetch through the outer "
           "stages."),
    Option("--guest-hyp", "guest_hyp", metavar="FILE", help="With --nested: the guest hypervisor's (L1) virtual "
           "EL2 registers (HCR_EL2, VTCR_EL2, VTTBR_EL2, ID registers), a register file."),
    Option("--host", "host_file", metavar="FILE", help="With --nested: the host's (L0) registers (HCR_EL2, "
           "VTCR_EL2, VTTBR_EL2, ID registers), a register file."),
))
