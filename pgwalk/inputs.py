"""Opening the files a user names: one sentence per failure, compressed files recognised.

Every file pgwalk reads (images and dumps, register files, batches, logs) is opened
through here or says its failures the same way: ``FILE: <problem>`` (no such file, is
a directory, permission denied), never a Python exception name.

Compressed files are recognised by their magic bytes, whatever their name:

* zstd (``28 b5 2f fd``), needs the ``zstandard`` package (``pip install 'pgwalk[kdump]'``);
* xz (``fd 37 7a 58 5a 00``) and gzip (``1f 8b``), in the standard library.

An image or dump is memory-mapped, so it is decompressed whole into a temporary file
(:func:`decompress_to_temp`, removed when the process exits), and only if the result fits
in the free space of the temporary directory.  Streams (logs, batches) are decompressed
as they are read (:func:`open_stream`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import BinaryIO

from pgwalk.errors import ImageError, InputError

__all__ = ["os_error_text", "check_output_path", "compression_of", "COMPRESSION_NAMES", "open_stream", "decompress_to_temp",
           "DISK_RESERVE"]

#: magic bytes -> name of the compression
_MAGIC = ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"))
COMPRESSION_NAMES = tuple(name for _m, name in _MAGIC)
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
    """``"zstd"``, ``"xz"`` or ``"gzip"`` when ``head`` (a file's first bytes) starts like one."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


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
    return _zstandard(path, error).ZstdDecompressor().stream_reader(raw, read_across_frames=True)


def _decompression_errors() -> tuple[type[BaseException], ...]:
    import gzip
    import lzma
    import zlib

    errors: list[type[BaseException]] = [EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile]
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
        self._errors = _decompression_errors()

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
