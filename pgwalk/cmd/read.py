"""``pgwalk read ADDRESS [LENGTH]``: memory contents through the walk (crash ``rd``, drgn ``prog.read``).

Exit status: 0 every byte was read, 1 some could not be (a fault, a page not in the
dump, a target read error: each run is named, never shown as zeros), 2 bad input.
"""

from __future__ import annotations

import sys

from .common import IMAGE_OPTIONS, REGISTER_OPTIONS, live_option
from .output import echo, note
from .registry import say
from .spec import Argument, Command, Option

__all__ = ["READ", "run_read", "show_symbols"]

_DEFAULT_LENGTH = {"hex": 64, "u64": 64, "u32": 64, "string": 256}


def run_read(address, length, images, regs_file, reg_values, granule, va_bits, root, physical, stages, raw, fmt):
    """Read memory at ADDRESS (a VA, or a PA with --pa) from an image, dump or --gdb target.

    ADDRESS is hexadecimal (0x optional) or a VMCOREINFO symbol (swapper_pg_dir,
    init_uts_ns+10); LENGTH is hexadecimal too, default 0x40 bytes (0x100 for
    --format string).
    Bytes that are not in the memory (a fault, a page excluded from a dump) are
    shown as such, never as zeros.
    """
    from ..contents import read_physical, read_virtual
    from ..errors import InputError
    from ..values import parse_value
    from ..symbols import parse_symbolic, symbols_from_memory
    from .common import load_context

    if raw and fmt != "hex":
        raise InputError("--raw writes bytes; it takes no --format")
    if physical and stages:
        raise InputError("--pa reads physical memory without a walk; drop --stages")
    if physical and not (regs_file or reg_values or root) and live_option("pgwalk.gdb") is None:
        from ..images import open_images
        from .common import Context

        if not images:
            raise InputError("no memory image given (use -i/--image PATH[@BASE] or --gdb HOST:PORT)")
        memory = open_images(list(images))
        ctx = Context(memory, {}, list(memory.warnings))
    else:
        ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
    symbols = symbols_from_memory(ctx.memory)
    where = parse_symbolic(address, symbols, "address", "ADDRESS")
    size = parse_value(length, "length", "LENGTH") if length is not None else _DEFAULT_LENGTH[fmt]
    if physical:
        pieces = read_physical(ctx.memory, where, size)
        big = False
    else:
        from ..params import setup_from_registers

        setup = setup_from_registers(ctx.registers)
        pieces = read_virtual(setup, ctx.memory, where, size, stages=stages)
        big = setup.s1_ee
    for text in ctx.notes:
        note(text)
    if raw:
        return _raw(pieces)
    out = sys.stdout
    if fmt == "string":
        return _string(pieces, out)
    return _dump(pieces, out, fmt, big, show_pa=not physical)


def _missing_line(p) -> str:
    at = f"PA {p.pa:#x} " if p.pa is not None else ""
    return f"{p.address:#018x}  <{p.size:#x} bytes not read: {at}{p.why}>\n"


def _raw(pieces) -> int:
    from ..errors import InputError

    stream = sys.stdout.buffer
    written = 0
    for p in pieces:
        if not p.ok:
            stream.flush()
            at = f"PA {p.pa:#x} " if p.pa is not None else ""
            say(f"pgwalk: error: {p.size:#x} bytes at {p.address:#x} not read: {at}{p.why} "
                f"({written} bytes written before them)\n")
            return 1
        stream.write(p.data)
        written += p.size
    stream.flush()
    if not written:
        raise InputError("nothing read")
    return 0


def _dump(pieces, out, fmt: str, big: bool, show_pa: bool) -> int:
    width = {"hex": 1, "u64": 8, "u32": 4}[fmt]
    order = "big" if big else "little"
    bad = False
    for p in pieces:
        if not p.ok:
            bad = True
            out.write(_missing_line(p))
            continue
        if show_pa:
            out.write(f"# {p.address:#x}-{p.address + p.size:#x} -> PA {p.pa:#x}\n")
        data = p.data
        for off in range(0, len(data), 16):
            row = data[off:off + 16]
            if fmt == "hex":
                cells = " ".join(f"{b:02x}" for b in row)
                text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
                out.write(f"{p.address + off:#018x}  {cells:<47}  |{text}|\n")
            else:
                whole = len(row) - len(row) % width
                cells = [f"{int.from_bytes(row[i:i + width], order):#0{2 + 2 * width}x}" for i in range(0, whole, width)]
                cells += [f"{b:02x}" for b in row[whole:]]
                out.write(f"{p.address + off:#018x}  {' '.join(cells)}\n")
    return 1 if bad else 0


def _string(pieces, out) -> int:
    chunks: list[bytes] = []
    first = None
    for p in pieces:
        if first is None:
            first = p.address
        if not p.ok:
            text = b"".join(chunks)
            out.write(f"{first:#018x}  {_quote(text)}\n" if text else "")
            out.write(_missing_line(p))
            return 1
        nul = p.data.find(b"\0")
        if nul >= 0:
            chunks.append(p.data[:nul])
            break
        chunks.append(p.data)
    out.write(f"{first:#018x}  {_quote(b''.join(chunks))}\n")
    return 0


def _quote(data: bytes) -> str:
    import json

    return json.dumps(data.decode("utf-8", "backslashreplace"), ensure_ascii=False)


def show_symbols(info: dict, as_json: bool) -> int:
    """``pgwalk info --symbols``: the VMCOREINFO symbols of a dump, by address."""
    import json

    from ..errors import InputError

    vi = info.get("vmcoreinfo") or {}
    symbols = vi.get("symbols") or {}
    if not symbols:
        raise InputError("no VMCOREINFO symbols in this file (symbols come from a crash dump's VMCOREINFO)")
    if as_json:
        echo(json.dumps({"symbols": symbols}, indent=2))
        return 0
    for name, value in sorted(symbols.items(), key=lambda kv: int(kv[1], 16)):
        echo(f"{int(value, 16):#018x}  {name}")
    return 0


READ = Command("read", run_read, (
    Argument("address", metavar="ADDRESS"),
    Argument("length", required=False, metavar="[LENGTH]"),
    *IMAGE_OPTIONS,
    *REGISTER_OPTIONS,
    Option("--pa", "physical", is_flag=True, help="ADDRESS is physical: read it without a walk."),
    Option("--stages", choices=("1", "2", "12"), help="Stages to walk (2: ADDRESS is an IPA)."),
    Option("--raw", is_flag=True, help="Write the bytes themselves to stdout (nothing for a range "
           "that cannot be read: the error names it)."),
    Option("--format", "fmt", choices=("hex", "u64", "u32", "string"), default="hex", show_default=True,
           help="hex: hexdump; u64/u32: words (in the regime's data endianness); "
           "string: text up to the first NUL."),
))
