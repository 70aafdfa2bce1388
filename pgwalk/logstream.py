"""Reading a log as a stream of lines, in bounded memory.

A log (a file, a pipe from ``dmesg -w``, a paste from a mail) is read in
chunks and cut into lines; nothing holds more than one chunk plus the
unfinished line.  Lines longer than :data:`MAX_LINE` are cut into pieces
of that length (a printk line is at most ~1 KiB; longer runs are junk and
scanning them in pieces keeps the scan linear).  Input that is not text
(a run of :data:`MAX_NUL_RUN` NUL bytes, as ``/dev/zero`` or a memory image
gives) ends the read with one :class:`LogStreamError`.

:func:`iter_lines` yields ``(line number, text)`` with the line decoded as
UTF-8 (bad bytes replaced) and the line end (LF, CRLF or a lone CR) gone; on
a pipe it yields ``None`` when no input arrived for ``idle`` seconds, so a
consumer can finish what it holds (``dmesg -w | pgwalk decode-esr --log -``).

:func:`skip_quiet` lets a consumer that is between reports jump over lines
with no trigger word in one regular-expression search per chunk instead of
one Python step per line; that is what makes 100 MB of ordinary log take a
few seconds.
"""

from __future__ import annotations

import os
import re
import select
from typing import BinaryIO, Callable, Iterator

from .errors import InputError

__all__ = ["LogStreamError", "MAX_LINE", "MAX_NUL_RUN", "CHUNK", "iter_lines", "LineSource"]

#: longest line matched as one line; longer lines are cut into pieces of this size
MAX_LINE = 4096
#: this many NUL bytes in a row and the input is not a text log
MAX_NUL_RUN = 1 << 20
#: bytes read at a time
CHUNK = 1 << 16


class LogStreamError(InputError):
    """The log cannot be read as text (NUL run, read error)."""


class LineSource:
    """Lines of a binary stream, read chunk by chunk.

    ``trigger`` (optional) is a tuple of byte strings: while the consumer says
    it is idle (``want_all()`` returns False), lines before the next
    occurrence of any of them are counted and dropped without being decoded
    (one ``bytes.find`` per word and chunk, not one Python step per line).
    The ``before`` lines in front of a trigger are handed over with it, so a
    register printed just before a syndrome (``far:`` then ``esr:``) is seen.
    """

    def __init__(self, stream: BinaryIO | int, *, idle: float | None = None,
                 trigger: tuple[bytes, ...] | None = None, want_all: Callable[[], bool] | None = None,
                 before: int = 10, head: bytes = b""):
        self._stream = stream
        self._head = head             # bytes already read from the stream by the caller: read first
        self._fd = stream if isinstance(stream, int) else _fileno(stream)
        self._idle = idle if self._fd is not None and _is_pipe(self._fd) else None
        self._trigger = trigger
        self._want_all = want_all or (lambda: True)
        self._before = before
        self.line_no = 0              # number of the last line yielded
        self.bytes_read = 0
        self._nul_run = 0

    # -- reading
    def _read(self) -> bytes | None:
        """Next chunk; ``b""`` at EOF; ``None`` when idle for ``self._idle`` seconds."""
        if self._head:
            data, self._head = self._head, b""
        elif self._fd is not None:
            if self._idle is not None:
                ready, _, _ = select.select([self._fd], [], [], self._idle)
                if not ready:
                    return None
            data = os.read(self._fd, CHUNK)
        else:
            reader = getattr(self._stream, "read1", None) or self._stream.read
            data = reader(CHUNK)
        if data:
            self._check_nul(data)
            self.bytes_read += len(data)
        return data

    def _check_nul(self, data: bytes) -> None:
        if data.count(0) == 0:
            self._nul_run = 0
            return
        stripped = data.lstrip(b"\0")
        if not stripped:
            self._nul_run += len(data)
        else:
            self._nul_run += len(data) - len(stripped)
            if self._nul_run < MAX_NUL_RUN:
                self._nul_run = len(data) - len(data.rstrip(b"\0"))
                inner = max((len(run) for run in _NUL_RUNS.findall(data)), default=0)
                if inner >= MAX_NUL_RUN:
                    self._nul_run = inner
        if self._nul_run >= MAX_NUL_RUN:
            raise LogStreamError(f"{MAX_NUL_RUN >> 20} MiB of NUL bytes before byte {self.bytes_read + len(data)}: "
                                 "this is not a text log (a memory image? /dev/zero?)")

    def __iter__(self) -> Iterator[tuple[int, str] | None]:
        buf = b""
        n = 0
        trigger = self._trigger
        while True:
            data = self._read()
            if data is None:
                yield None
                continue
            if not data:
                break
            buf += data
            end = buf.rfind(b"\n")
            if end < 0:
                while len(buf) > MAX_LINE:
                    piece, buf = buf[:MAX_LINE], buf[MAX_LINE:]
                    if trigger is None or self._want_all() or _Finder(piece, trigger).next(0) >= 0:
                        self.line_no = n + 1
                        yield n + 1, _text(piece)
                continue
            body, buf = buf[:end + 1], buf[end + 1:]
            pos = 0
            size = len(body)
            finder = _Finder(body, trigger) if trigger is not None else None
            while pos < size:
                if finder is not None and not self._want_all():
                    hit = finder.next(pos)
                    if hit < 0:
                        n += body.count(b"\n", pos)
                        break
                    start = body.rfind(b"\n", pos, hit) + 1
                    for _ in range(self._before):
                        if start <= pos:
                            break
                        start = body.rfind(b"\n", pos, start - 1) + 1
                    if start > pos:
                        n += body.count(b"\n", pos, start)
                        pos = start
                nl = body.find(b"\n", pos)
                n += 1
                line = body[pos:nl]
                pos = nl + 1
                self.line_no = n
                if len(line) <= MAX_LINE:
                    yield n, _text(line)
                else:
                    for i in range(0, len(line), MAX_LINE):
                        yield n, _text(line[i:i + MAX_LINE])
        if buf:
            n += 1
            self.line_no = n
            for i in range(0, len(buf), MAX_LINE):
                yield n, _text(buf[i:i + MAX_LINE])


_NUL_RUNS = re.compile(rb"\0{4096,}")


class _Finder:
    """The next occurrence of any of several words in a buffer, each word searched at C speed."""

    def __init__(self, buf: bytes, words: tuple[bytes, ...]):
        self._buf = buf
        self._live = [[w, -2] for w in words]        # [word, next position]; -2 not searched yet

    def next(self, pos: int) -> int:
        best = -1
        buf = self._buf
        dead = False
        for item in self._live:
            at = item[1]
            if at < pos:
                at = item[1] = buf.find(item[0], pos)
                if at < 0:
                    dead = True
                    continue
            if best < 0 or at < best:
                best = at
        if dead:
            self._live = [item for item in self._live if item[1] >= 0]
        return best


def _text(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    s = raw.decode("utf-8", errors="replace")
    if "\r" in s:                      # a lone CR (old Mac, or a progress line): keep what was printed last
        s = s.replace("\r", " ")
    return s


def _fileno(stream) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    # reads go to the file descriptor (so that select() sees what is pending); the caller
    # must not have read from the buffered stream before
    return fd


def _is_pipe(fd: int) -> bool:
    import stat
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def iter_lines(stream: BinaryIO | int, **kw) -> Iterator[tuple[int, str] | None]:
    """``(line number, text)`` for each line of ``stream`` (``None`` when idle on a pipe)."""
    return iter(LineSource(stream, **kw))
