"""Options shared by the commands that read images and registers."""

from __future__ import annotations

import sys

from ..records import field, record
from .spec import Argument, Option, Usage

__all__ = ["IMAGE_OPTIONS", "REGISTER_OPTIONS", "dump_params", "pick_dump", "Context", "load_context",
           "live_option", "parse_address", "read_batch_bytes", "batch_lines", "batch_source", "MAX_LINE", "MAX_BATCH"]


def _remember(key: str):
    """A click callback keeping the option's value in the click context for :func:`load_context`
    (``--gdb``, ``--cpu``: the commands need no argument for them; their lines are click's)."""

    def callback(ctx, param, value) -> None:
        if value is not None:
            ctx.meta[key] = value

    return callback


#: ``-i/--image PATH[@BASE]`` (repeatable), and ``--gdb HOST:PORT|unix:PATH`` (a live target)
IMAGE_OPTIONS = (
    Option("-i", "--image", "images", multiple=True, metavar="PATH[@BASE]",
           help="Memory image: raw file mapped at BASE (hexadecimal, default 0), or an ELF core / crash "
                "dump mapped by its own headers. Repeatable."),
    Option("--gdb", "gdb_target", metavar="HOST:PORT|unix:PATH", expose_value=False, plain=False,
           callback=_remember("pgwalk.gdb"),
           help="Live target: a stopped GDB stub (QEMU -gdb) read through the GDB remote "
                "protocol, read-only; registers come from the stub (--regs/--reg fill in)."),
    Option("--cpu", "gdb_cpu", int_range=(0, 4095), metavar="N", expose_value=False, plain=False,
           callback=_remember("pgwalk.cpu"),
           help="With --gdb: read CPU N (the stub's N-th thread from 0; QEMU's CPU N) instead of "
                "the stub's current one."),
)

#: ``--regs``, ``--reg``, and the ``--granule/--va-bits/--root`` shortcut
REGISTER_OPTIONS = (
    Option("--regs", "regs_file", path=True, metavar="FILE",
           help="Register file (JSON or TOML): architectural names -> values."),
    Option("--reg", "reg_values", multiple=True, metavar="NAME=VALUE",
           help="One register value, hexadecimal (0x optional); wins over --regs. Repeatable."),
    Option("--granule", choices=("4k", "16k", "64k"), case_sensitive=False,
           help="Shortcut: granule of a table tree given by --root."),
    Option("--va-bits", integer=True, help="Shortcut: VA size in bits (e.g. 48)."),
    Option("--root", metavar="PA", help="Shortcut: physical address of the table root (pgdp), hexadecimal."),
)


def dump_params(rest: str | None = None) -> tuple:
    """The DUMP argument of the commands that read one crash dump (``info``, ``vtop``, ``ptov``),
    also taken as ``-i/--image DUMP`` as ``translate`` and ``dump-tree`` take it; ``rest``: the
    metavar of the addresses that follow (``VA...``).  :func:`pick_dump` reads them."""
    params = (Option("-i", "--image", "image", metavar="DUMP",
                     help="The dump, as the DUMP argument (the way translate and dump-tree take it)."),
              Argument("dump", required=False))
    return params + ((Argument("addresses", nargs=-1, metavar=rest),) if rest else ())


def pick_dump(rest: str | None = None):
    """The ``prepare`` of a :func:`dump_params` command: ``dump`` (the argument or ``-i``) and, with
    ``rest``, the ``addresses`` after it (at least one).

    :raises Usage: no dump; no address"""

    def prepare(values: dict) -> dict:
        values = dict(values)
        dump, image = values.pop("dump"), values.pop("image")
        words = ([dump] if dump is not None else []) + list(values.pop("addresses", ()) if rest else ())
        if image is not None:
            dump = image
        elif words:
            dump = words.pop(0)
        else:
            raise Usage("give the dump: DUMP or -i DUMP")
        if rest:
            if not words:
                raise Usage(f"give at least one {rest.rstrip('.')}")
            values["addresses"] = tuple(words)
        values["dump"] = dump
        return values

    return prepare


def live_option(key: str):
    """``--gdb`` (``"pgwalk.gdb"``) or ``--cpu`` (``"pgwalk.cpu"``) of the command running under
    click, or None (a plain line never has them)."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    return ctx.meta.get(key) if ctx is not None else None


@record
class Context:
    """What a command works on: memory, registers and where they came from."""

    memory: object
    registers: dict[str, int]
    notes: list[str] = field(default_factory=list)
    vmcoreinfo: object | None = None

    def address(self, text: str, where: str | None = None) -> int:
        """An address (:func:`parse_address`), or a VMCOREINFO symbol of the memory (``SYMBOL+10``)."""
        from ..symbols import parse_symbolic, symbols_from_memory

        if not hasattr(self, "_symbols"):
            self._symbols = symbols_from_memory(self.memory)
        return parse_symbolic(text, self._symbols, "address", where)


def parse_address(text: str, where: str | None = None) -> int:
    """A command-line address: hexadecimal, ``0x`` optional (:func:`pgwalk.values.parse_value`)."""
    from ..values import parse_value

    return parse_value(text, "address", where)


def load_context(images: tuple[str, ...], regs_file: str | None, reg_values: tuple[str, ...],
                 granule: str | None, va_bits: int | None, root: str | None,
                 need_image: bool = True) -> Context:
    """Open the images and build the register set (file, then shortcuts, then --reg).

    With no register source at all and a crash dump carrying VMCOREINFO, the
    Linux kernel's own stage 1 setup is used.
    """
    from ..errors import InputError
    from ..images import open_images
    from ..memory import PhysicalMemory
    from ..regs import load_register_file, parse_reg_assignment, shortcut_registers

    notes: list[str] = []
    gdb, cpu = live_option("pgwalk.gdb"), live_option("pgwalk.cpu")
    if cpu is not None and gdb is None:
        raise InputError("--cpu chooses a CPU of a --gdb target (a dump's registers come from --regs/--reg "
                         "or its VMCOREINFO)")
    if gdb is not None:
        from .gdb import load_live_context

        if images:
            raise InputError("--gdb and -i/--image exclude each other (one target at a time)")
        return Context(*load_live_context(gdb, regs_file, reg_values, granule, va_bits, root, cpu=cpu), None)
    if images:
        memory = open_images(list(images))
        notes.extend(memory.warnings)
    elif need_image:
        raise InputError("no memory image given (use -i/--image PATH[@BASE])")
    else:
        memory = PhysicalMemory()
    regs: dict[str, int] = {}
    if regs_file:
        regs.update(load_register_file(regs_file))
    shortcut = [granule, va_bits, root]
    if any(x is not None for x in shortcut):
        if not all(x is not None for x in shortcut):
            raise InputError("the shortcut needs all of --granule, --va-bits and --root")
        regs.update(shortcut_registers(granule, va_bits, parse_address(root, "--root")))
    explicit = dict(parse_reg_assignment(r) for r in reg_values)
    # a dump's VMCOREINFO gives the kernel's registers when no file or shortcut does (the library's rule)
    from ..target import resolve_registers

    resolved = resolve_registers(memory, regs, explicit, use_vmcoreinfo=root is None)
    regs, info = resolved.registers, resolved.vmcoreinfo
    notes.extend(resolved.notes)
    return Context(memory, regs, notes, info)


#: longest line of a batch file (an address is 18 bytes, an ``at --batch`` record with its registers
#: a few KiB): a file with no newline (``/dev/zero``, a dump given by mistake) stops here
MAX_LINE = 1 << 20
#: most bytes of a batch file (about 15 million ``%016x`` addresses): an endless stream stops here
MAX_BATCH = 256 << 20
#: bytes read at a time
_CHUNK = 1 << 20


def batch_source(path: str) -> str:
    """The name of a batch in messages: its path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


def read_batch_bytes(path: str, *, max_line: int = MAX_LINE, max_total: int = MAX_BATCH) -> bytes | bytearray:
    """A whole batch file (``-`` for stdin), read as a stream in bounded memory.

    :raises InputError: unreadable; a line longer than ``max_line`` bytes (``/dev/zero``); more
        than ``max_total`` bytes in all (an endless stream)
    """
    from ..errors import InputError

    where = batch_source(path)
    data = bytearray()
    total = 0
    run = 0                    # bytes since the last newline
    head = b""
    try:
        if path == "-":
            from ..inputs import open_stdin

            stdin = _stdin_bytes()
            inflated, _kind, head = open_stdin(stdin, where)   # compressed stdin is read decompressed
            stream, close = (stdin, None) if inflated is None else (inflated, inflated)
        else:
            from ..inputs import open_stream

            stream, _kind = open_stream(path)         # a compressed batch is read decompressed
            close = stream
        try:
            whole = None if head else _read_regular(stream, max_total)
            if whole is not None:                   # a regular file: one read, then its lines checked
                too_long = _long_line_at(whole, max_line)
                if too_long is not None:
                    line = whole.count(b"\n", 0, too_long) + 1
                    raise InputError(f"{where}:{line}: line longer than {max_line >> 10} KiB "
                                     "(not a batch of lines?)")
                return whole
            while True:
                chunk, head = (head, b"") if head else (stream.read(_CHUNK), b"")
                if not chunk:
                    break
                first = chunk.find(b"\n")
                last = chunk.rfind(b"\n")
                if first >= 0 and run + first > max_line:
                    run += first
                elif first < 0:
                    run += len(chunk)
                else:
                    run = len(chunk) - last - 1
                if run > max_line:         # (lines counted only here: counting costs a pass)
                    line = data.count(b"\n") + 1
                    raise InputError(f"{where}:{line}: line longer than {max_line >> 10} KiB "
                                     "(not a batch of lines?)")
                total += len(chunk)
                if total > max_total:
                    raise InputError(f"{where}: more than {max_total >> 20} MiB; split the batch")
                data += chunk
        finally:
            if close is not None:
                close.close()
    except OSError as exc:
        from ..inputs import os_error_text

        raise InputError(os_error_text(where, exc)) from None
    return data


def _read_regular(stream, max_total: int) -> bytes | None:
    """The whole contents of a regular file opened unbuffered (``open_stream``'s plain file),
    in one read sized by the file (no chunks to join); ``None`` for anything else, and for a
    file that grew while it was read: those are read in chunks."""
    import io
    import os
    import stat

    if not isinstance(stream, io.FileIO):
        return None
    st = os.fstat(stream.fileno())
    if not stat.S_ISREG(st.st_mode):
        return None
    size = min(st.st_size, max_total) + 1             # (+1: a file past the limit, or grown, is seen to)
    data = stream.read(size)
    if len(data) < size:
        return data
    stream.seek(0)
    return None


def _long_line_at(data: bytes, max_line: int) -> int | None:
    """Where the first line longer than ``max_line`` bytes starts, or ``None`` (a search back
    from each window's end: a step of up to ``max_line`` bytes at a time)."""
    pos = 0
    while len(data) - pos > max_line:
        nl = data.rfind(b"\n", pos, pos + max_line + 1)
        if nl < 0:
            return pos
        pos = nl + 1
    return None


class _TextAsBytes:
    """``read(n)`` in bytes from a text-only stream (a test's or an embedder's ``sys.stdin``)."""

    def __init__(self, text) -> None:
        self.text = text

    def read(self, n: int) -> bytes:
        return self.text.read(n).encode("utf-8", errors="surrogateescape")


def _stdin_bytes():
    try:
        stream = sys.stdin.buffer
    except AttributeError:                        # a text-only stdin (tests, embedding)
        return _TextAsBytes(sys.stdin)
    return stream


def batch_lines(data: bytes) -> list[tuple[int, str]]:
    """The lines of a batch (``\\n``-separated; ``\\r\\n`` too) as (line number, text), blank lines and
    ``#`` comments left out; bytes that are not UTF-8 become U+FFFD (and are then refused)."""
    out = []
    for n, line in enumerate(data.decode("utf-8-sig", errors="replace").split("\n"), 1):
        text = line.split("#", 1)[0].strip(" \t\r\f\v")
        if text:
            out.append((n, text))
    return out
