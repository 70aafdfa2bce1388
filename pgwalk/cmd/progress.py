"""A progress line for long work: on stderr, and only when stderr is a terminal.

It shows what was done (tables and descriptors for a tree walk, addresses for a batch), the
rate, the share done and an estimated time left, redrawn in place at most a few times a
second, and only once the work has taken longer than ``delay`` seconds.  Nothing is ever
written to stdout, and nothing at all when stderr is a file or a pipe, so output is the
same with and without it.  When stdout is the same terminal, the caller calls
:meth:`Progress.clear` before writing a line there (a cheap test while nothing is shown).
"""

from __future__ import annotations

import io
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Callable, TextIO

__all__ = ["Progress", "DELAY", "INTERVAL"]

#: the line appears when the work has taken longer than this (seconds)
DELAY = 0.5
#: and is redrawn at most this often (seconds)
INTERVAL = 0.2


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """One self-erasing status line on ``stream`` (stderr), shown only on a terminal.

    :param what: the verb shown first ("walking", "translating")
    :param unit: what the rate counts ("descriptors", "addresses")
    """

    def __init__(self, what: str, unit: str, *, stream: TextIO | None = None, delay: float = DELAY,
                 interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_terminal(self.stream)
        self.what, self.unit = what, unit
        self.delay, self.interval, self.clock = delay, interval, clock
        self.t0 = clock()
        self.next = self.t0 + delay
        self.shown = False
        self.width = 0

    def update(self, fraction: float | None, count: int, detail: str = "") -> None:
        """Now ``count`` units are done, ``fraction`` (0..1, or None if unknown) of the work;
        ``detail`` is put before the rate (e.g. the tables walked)."""
        if not self.enabled:
            return
        now = self.clock()
        if now < self.next:
            return
        self.next = now + self.interval
        elapsed = max(now - self.t0, 1e-9)
        parts = [self.what]
        if detail:
            parts.append(detail)
        parts.append(f"{count:,} {self.unit} ({count / elapsed:,.0f}/s)")
        if fraction is not None:
            fraction = min(max(fraction, 0.0), 1.0)
            eta = f", about {_duration(elapsed * (1 - fraction) / fraction)} left" if fraction > 0.001 else ""
            parts.append(f"{fraction * 100:.0f}%{eta}")
        parts.append(f"{_duration(elapsed)} so far")
        self._draw(", ".join(parts))

    def _draw(self, text: str) -> None:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            columns = 0
        if columns <= 0:                # not known (a new pseudo-terminal says 0): $COLUMNS, else 80
            import shutil

            columns = shutil.get_terminal_size((80, 24)).columns
        text = text[:max(columns - 1, 10)]           # one terminal line, so that \r erases it all
        try:
            self.stream.write("\r" + text + " " * max(0, self.width - len(text)) + "\r")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
            return
        self.width = len(text)
        self.shown = True

    def clear(self) -> None:
        """Erase the line (before writing to the same terminal, and at the end)."""
        if not self.shown:
            return
        self.shown = False
        try:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
        self.width = 0

    close = clear


def _stdout_is_terminal() -> bool:
    return _is_terminal(sys.stdout)


class Tracked:
    """``items`` (a sequence or an iterable of ``total`` units), iterated with a progress line.

    ``weight(item)`` is how many units one item stands for (a block of results: its length).
    With ``quiet_on_terminal``, nothing is shown when stdout is a terminal as well (the output
    itself scrolls there, and a status line would be written between its lines).
    """

    def __init__(self, items, total: int, what: str, unit: str, *, weight: Callable[[object], int] | None = None,
                 quiet_on_terminal: bool = False, **line) -> None:
        self.items, self.total, self.weight = items, max(total, 1), weight
        self.line = Progress(what, unit, **line)
        if quiet_on_terminal and _stdout_is_terminal():
            self.line.enabled = False

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        if not self.line.enabled:
            yield from self.items
            return
        done = 0
        weight, line, total = self.weight, self.line, self.total
        try:
            for item in self.items:
                yield item
                done += weight(item) if weight is not None else 1
                line.update(done / total, done)
        finally:
            line.clear()
