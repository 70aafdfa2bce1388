"""Writing blocks of output to a file descriptor: ``writev`` with partial writes resumed
(:func:`write_all`), and a writer thread (:class:`BackgroundWriter`) so that the next block is
walked and formatted while the last one is written.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

__all__ = ["write_all", "BackgroundWriter", "stream_fd"]


def write_all(fd: int, parts: Sequence[Any]) -> None:
    """Write every buffer of ``parts`` to file descriptor ``fd`` (``writev``, partial writes resumed)."""
    parts = [memoryview(p).cast("B") for p in parts]
    for i in range(0, len(parts), _IOV_MAX):
        batch = parts[i:i + _IOV_MAX]
        while batch:
            done = os.writev(fd, batch)
            while batch and done >= len(batch[0]):       # drop what was written
                done -= len(batch[0])
                batch.pop(0)
            if batch and done:
                batch[0] = batch[0][done:]


class BackgroundWriter:
    """Writes blocks to a file descriptor on a thread of its own, one block at a time, so that
    the next block is walked and formatted while the last one is written.

    :meth:`submit` waits for the previous block's write to finish before starting this one:
    with a :class:`LineFormatter` of two ``buffers``, a buffer is formatted again only after
    the write of its previous contents is complete.  A write error (``BrokenPipeError``...)
    is raised by the next :meth:`submit` or by :meth:`close`.
    """

    def __init__(self, fd: int) -> None:
        import threading

        self.fd = fd
        self._parts: Sequence[Any] | None = None
        self._error: BaseException | None = None
        self._go = threading.Semaphore(0)
        self._idle = threading.Semaphore(1)
        self._thread = threading.Thread(target=self._run, name="pgwalk-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            parts = self._parts
            if parts is None:
                return
            try:
                if self._error is None:
                    write_all(self.fd, parts)
            except BaseException as exc:          # handed to the caller's thread
                self._error = exc
            self._parts = ()
            self._idle.release()

    def _raise(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def submit(self, parts: Sequence[Any]) -> None:
        """Write ``parts`` (after the previous block), without waiting for it."""
        self._idle.acquire()
        try:
            self._raise()
        except BaseException:
            self._idle.release()
            raise
        self._parts = parts
        self._go.release()

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the last write and stop the thread; raises a write error not yet raised.

        With ``raise_error`` false the caller is raising something else (Ctrl-C, a closed
        pipe, an error): a write still under way is not waited for (the reader of a pipe may
        have stopped reading; the thread is a daemon and ends with the process), an idle
        thread is stopped.
        """
        if self._thread.is_alive():
            if not self._idle.acquire(blocking=raise_error):
                return
            self._parts = None
            self._go.release()
            if raise_error:
                self._thread.join()
        if raise_error:
            self._raise()


_IOV_MAX = 1024


def stream_fd(stream: Any) -> int | None:
    """The file descriptor behind a binary stream, when ``os.writev`` can write to it."""
    if not hasattr(os, "writev"):
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
