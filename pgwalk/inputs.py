"""Opening the files a user names: one sentence per failure, compressed files recognised.

Every file pgwalk reads (images and dumps, register files, batches, logs) is opened
through here or says its failures the same way: ``FILE: <problem>`` (no such file, is
a directory, permission denied), never a Python exception name.

Compressed files are recognised by their magic bytes, whatever their name:

* zstd (``28 b5 2f fd``), needs the ``zstandard`` package (``pip install 'pgwalk[kdump]'``);
* xz (``fd 37 7a 58 5a 00``), gzip (``1f 8b``) and bzip2 (``BZh`` and a block or end
  marker), in the standard library.

An image or dump is memory-mapped, so it is decompressed whole into a temporary file
(:func:`decompress_to_temp`, removed when the process exits), and only if the result fits
in the free space of the temporary directory.  Streams (logs, batches) are decompressed
as they are read (:func:`open_stream`; :func:`open_stdin` for ``-``, whose first bytes are
looked at as they arrive).  Data that ends inside a compressed stream (a cut file, a pipe
closed early) is an error naming the input, never a shorter result.
"""

from __future__ import annotations

import atexit
import os

from pgwalk.errors import ImageError, InputError

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import BinaryIO

__all__ = ["os_error_text", "check_output_path", "compression_of", "COMPRESSION_NAMES", "HEAD_BYTES", "open_stream",
           "open_stdin", "read_head", "decompress_to_temp",
           "DISK_RESERVE"]

#: magic bytes -> name of the compression
_MAGIC = ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"))
#: bzip2: ``BZh``, the block size digit, then a block (pi) or end-of-stream (sqrt(pi)) marker
_BZIP2_MARKS = (b"1AY&", b"\x17rE8")
COMPRESSION_NAMES = tuple(name for _m, name in _MAGIC) + ("bzip2",)
#: bytes of a file's start that :func:`compression_of` needs to tell
HEAD_BYTES = 8
#: free space left on the temporary directory's file system after decompressing
DISK_RESERVE = 64 << 20
_CHUNK = 1 << 20


def os_error_text(path: str, exc: BaseException) -> str:
    """``PATH: <problem>`` for an :class:`OSError` (or a NUL in the name), in plain words."""
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory, not a file"
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied"
    if isinstance(exc, NotADirectoryError):
        return f"{path}: no such file (a part of the path is not a directory)"
    if isinstance(exc, ValueError):
        return f"{path!r}: not a file name ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{path}: cannot read: {exc.strerror[0].lower() + exc.strerror[1:]}"
    return f"{path}: cannot read: {exc}"


def check_output_path(path: str) -> None:
    """Refuse, before any work, an output file that cannot be written (``-`` is stdout).

    :raises InputError: ``PATH: is a directory`` / ``no such directory`` / ``permission denied``
    """
    if path == "-":
        return
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory; give the name of the file to write")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{path}: cannot write: no such directory {parent}")
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        raise InputError(f"{path}: cannot write: permission denied")


def compression_of(head: bytes) -> str | None:
    """``"zstd"``, ``"xz"``, ``"gzip"`` or ``"bzip2"`` when ``head`` (a file's first
    :data:`HEAD_BYTES` bytes) starts like one."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 8 and head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:8] in _BZIP2_MARKS:
        return "bzip2"
    return None


def _may_be_compressed(head: bytes) -> bool:
    """Whether more bytes could still make ``head`` the start of a compressed stream."""
    if len(head) >= HEAD_BYTES:
        return False
    if any(magic.startswith(head) for magic, _name in _MAGIC):
        return True
    if not b"BZh".startswith(head[:3]):
        return False
    if len(head) <= 3:
        return True
    return head[3:4] in b"123456789" and any(m.startswith(head[4:]) for m in _BZIP2_MARKS)


def _zstandard(path: str, error=ImageError):
    try:
        import zstandard
    except ImportError:
        raise error(f"{path}: zstd-compressed; reading it needs the zstandard package "
                    "(pip install 'pgwalk[kdump]'), or decompress it first (zstd -d)") from None
    return zstandard


def _decompressing(path: str, raw: BinaryIO, kind: str, error=ImageError):
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, "rb")
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    return _ZstdFrames(_zstandard(path, error), raw)


class _ZstdFrames:
    """The frames of a zstd stream, one after the other, as one stream of bytes.

    Decompressed a small piece of input at a time (a piece of a few bytes can stand for
    128 KiB of output, so each call's output stays bounded), and a stream that ends inside
    a frame is an :class:`EOFError`, as gzip, xz and bzip2 say it (zstandard's own reader
    returns what it has, silently).
    """

    _IN = 1 << 16          # bytes read from the compressed input at a time
    _PIECE = 1 << 10       # bytes handed to the decompressor at a time: at most ~32 MiB out

    def __init__(self, zstandard, raw) -> None:
        self._zstd, self._raw = zstandard, raw
        self._obj = None
        self._input = memoryview(b"")
        self._at = 0
        self._out: list[bytes] = []           # decompressed, not yet read
        self._have = 0
        self._done = False

    def _step(self) -> None:
        if self._at >= len(self._input):
            self._input, self._at = memoryview(self._raw.read(self._IN)), 0
            if not self._input:
                if self._obj is not None:
                    raise EOFError("the data ends inside a zstd frame")
                self._done = True
                return
        if self._obj is None:
            self._obj = self._zstd.ZstdDecompressor().decompressobj()
        piece = self._input[self._at:self._at + self._PIECE]
        self._at += len(piece)
        data = self._obj.decompress(piece)
        if data:
            self._out.append(data)
            self._have += len(data)
        if self._obj.eof:                         # the frame is complete: what follows is the next one
            self._at -= len(self._obj.unused_data)
            self._obj = None

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or self._have < size):
            self._step()
        data = b"".join(self._out)
        self._out.clear()
        if 0 <= size < len(data):
            data, rest = data[:size], data[size:]
            self._out.append(rest)
        self._have -= len(data)
        return data

    def close(self) -> None:
        self._out.clear()
        self._have = 0


def _decompression_errors(kind: str) -> tuple[type[BaseException], ...]:
    import gzip
    import lzma
    import zlib

    errors: list[type[BaseException]] = [EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile]
    if kind == "bzip2":
        errors.append(OSError)                  # bz2 says damaged data with OSError ("Invalid data stream")
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


class _Stream:
    """A binary stream that turns decompression failures into one sentence naming the file."""

    def __init__(self, path: str, raw: BinaryIO, inner, kind: str, error) -> None:
        self.path, self._raw, self._inner, self.kind, self._error = path, raw, inner, kind, error
        self._errors = _decompression_errors(kind)

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except self._errors as exc:
            raise self._error(f"{self.path}: {self.kind} data is damaged or truncated ({exc or 'unexpected end'})") \
                from None

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._raw.close()


def open_stream(path: str, error: type[Exception] = InputError):
    """``(stream, kind)``: ``path`` opened for reading bytes, decompressed on the fly when it is
    compressed (``kind`` is then its compression, else ``None``).

    :raises error: the file cannot be opened (one sentence naming it)
    """
    try:
        raw = open(path, "rb", buffering=0)     # unbuffered: the head read and rewind move the descriptor too
    except (OSError, ValueError) as exc:
        raise error(os_error_text(path, exc)) from None
    try:
        if not raw.seekable():          # a named pipe: read as it comes (no head to look at)
            return raw, None
        # the head is read and the file rewound, not peeked: readers may read the descriptor itself
        kind = compression_of(raw.read(8))
        raw.seek(0)
        if kind is None:
            return raw, None
        return _Stream(path, raw, _decompressing(path, raw, kind, error), kind, error), kind
    except OSError as exc:
        raw.close()
        raise error(os_error_text(path, exc)) from None
    except BaseException:
        raw.close()
        raise


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class _FdReader:
    """``read(n)`` straight from a file descriptor (at most one system call; ``b""`` at its end)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, size: int = -1) -> bytes:
        if size >= 0:
            return os.read(self.fd, size)
        parts = []
        while True:
            data = os.read(self.fd, _CHUNK)
            if not data:
                return b"".join(parts)
            parts.append(data)


class _HeadFirst:
    """A stream read from the start again: the bytes already read from it (``head``), then the rest."""

    def __init__(self, head: bytes, stream) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)

    def close(self) -> None:
        pass                                    # stdin stays open: it is not ours


def read_head(read, *, limit: int = HEAD_BYTES) -> bytes:
    """The first bytes of a stream, read with ``read(n)`` only as far as needed to tell whether it
    is compressed (a pipe's first line is not waited for once its first bytes rule it out)."""
    head = b""
    while _may_be_compressed(head) and len(head) < limit:
        data = read(limit - len(head))
        if not data:
            break
        head += data
    return head


def open_stdin(stdin, where: str = "<stdin>", error: type[Exception] = InputError):
    """``(stream, kind, head)``: stdin (a binary stream), decompressed as it is read when its first bytes
    say it is compressed (``kind`` its compression, else ``None``).

    When it is not compressed, ``stream`` is None and ``head`` holds the bytes already read from
    ``stdin`` (the caller reads on from ``stdin`` itself, after them: a log reader watches its file
    descriptor).  A compressed stream that ends early is one ``error`` naming ``where``.
    """
    fd = _fileno(stdin)
    if fd is not None:                          # read the descriptor itself: nothing left in a buffer
        stdin = _FdReader(fd)
    try:
        head = read_head(getattr(stdin, "read1", None) or stdin.read)
    except OSError as exc:
        raise error(os_error_text(where, exc)) from None
    kind = compression_of(head)
    if kind is None:
        return None, None, head
    source = _HeadFirst(head, stdin)
    return _Stream(where, source, _decompressing(where, source, kind, error), kind, error), kind, b""


def _remove_at_exit(path: str) -> None:
    def remove() -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    atexit.register(remove)


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def _zstd_content_size(path: str, head: bytes) -> int | None:
    try:
        import zstandard
    except ImportError:
        return None
    try:
        size = zstandard.frame_content_size(head)
    except zstandard.ZstdError:
        return None
    return size if size >= 0 else None


def decompress_to_temp(path: str, kind: str, *, tmpdir: str | None = None,
                       reserve: int = DISK_RESERVE) -> tuple[str, int, str]:
    """Decompress ``path`` (compressed as ``kind``) into a temporary file removed at exit.

    Returns ``(temporary path, decompressed size, note)``.  The temporary file is written
    only while the free space of its file system stays above ``reserve`` bytes; past that
    (or when the size a zstd frame declares would not fit) the partial file is removed and
    :class:`ImageError` says how much space is needed.

    :raises ImageError: not readable, damaged compressed data, or no room for the output
    """
    import shutil                       # (here: a plain input's start-up imports neither, 2.5 ms)
    import tempfile

    directory = tmpdir or tempfile.gettempdir()
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        raise ImageError(f"{path}: {kind}-compressed, and the temporary directory {directory} is unusable "
                         f"({exc.strerror or exc})") from None
    budget = free - reserve

    def no_room(needed: str) -> ImageError:
        return ImageError(f"{path}: {kind}-compressed; decompressing it needs {needed} but {directory} has "
                          f"{_size_text(max(free, 0))} free: decompress it yourself where there is room, or set "
                          "TMPDIR")

    stream, _kind = open_stream(path, ImageError)
    try:
        if kind == "zstd":
            with open(path, "rb") as fh:
                declared = _zstd_content_size(path, fh.read(18))
            if declared is not None and declared > budget:
                raise no_room(_size_text(declared))
        fd, tmp = tempfile.mkstemp(prefix="pgwalk-", suffix=".decompressed", dir=directory)
        _remove_at_exit(tmp)
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > budget:
                        raise no_room(f"more than {_size_text(written)}")
                    out.write(chunk)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise ImageError(f"{path}: cannot decompress to {directory}: {exc.strerror or exc}") from None
    finally:
        stream.close()
    if written == 0:
        raise ImageError(f"{path}: {kind}-compressed, and empty once decompressed")
    note = (f"{path}: {kind}-compressed; decompressed to a temporary file ({_size_text(written)}, "
            "removed at exit)")
    return tmp, written, note
