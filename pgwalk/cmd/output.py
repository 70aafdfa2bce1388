"""Where and how the text commands write: data on stdout, notes on stderr.

stdout carries only the records a command prints (one line per address in a
batch), so ``pgwalk: note: ...`` lines go to stderr.  Layout follows the
stream: on a terminal, rich tables and traces at the terminal's width; in a
pipe or a file, plain lines, one record per line, never wrapped and never boxed.
Colour follows ``--color auto|always|never`` (the ``pgwalk`` group's option)
and ``NO_COLOR``.
"""

from __future__ import annotations

import os
import sys

from ..plaintext import plain_text
from .registry import say

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: decode-esr's start-up)
    from typing import Any, Iterable

__all__ = ["color_mode", "stdout_is_terminal", "plain_stdout", "stdout_console", "table_box", "fit_table", "echo",
           "note", "notes", "warning", "PIPE_WIDTH", "text_output", "PlainOut", "RichOut", "plain_line",
           "plain_translation"]

#: the width a rich console gets when stdout is a pipe or a file: no record is ever wrapped
PIPE_WIDTH = 1 << 14


def color_mode() -> str:
    """``auto``, ``always`` or ``never``: ``--color``, else ``never`` when ``NO_COLOR`` is set."""
    click = sys.modules.get("click")        # (no click loaded: no click context, no --color)
    ctx = click.get_current_context(silent=True) if click is not None else None
    mode = None
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("color"):
            mode = ctx.obj["color"]
            break
        ctx = ctx.parent
    if mode in (None, "auto") and os.environ.get("NO_COLOR"):
        return "never"
    return mode or "auto"


def stdout_is_terminal() -> bool:
    """Whether stdout is an interactive terminal (layout follows this, not ``--color``)."""
    stream = sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def plain_stdout() -> bool:
    """True when stdout certainly takes plain lines (a pipe or a file, no ``--color always``,
    none of the environment variables that make rich treat a stream as a terminal): a command
    may then write plain text without building a rich console.  False: ask the console
    (``stdout_console().is_terminal``)."""
    if color_mode() == "always" or stdout_is_terminal():
        return False
    return not any(os.environ.get(k) is not None for k in ("FORCE_COLOR", "TTY_COMPATIBLE"))


def stdout_console(*, stderr: bool = False) -> Any:
    """The rich console of a text command: the terminal's width on a terminal, else
    :data:`PIPE_WIDTH` (one record per line); colour as :func:`color_mode` says."""
    from rich.console import Console

    mode = color_mode()
    terminal = stdout_is_terminal() if not stderr else sys.stderr.isatty()
    kwargs: dict[str, Any] = {"highlight": False, "stderr": stderr}
    if mode == "never":
        kwargs["color_system"] = None
        kwargs["no_color"] = True
    elif mode == "always":
        kwargs["force_terminal"] = True
        kwargs["color_system"] = "standard"
        kwargs["force_interactive"] = False
    if not terminal:
        kwargs["width"] = PIPE_WIDTH
        kwargs["soft_wrap"] = True
        kwargs["file"] = _PlainLines("stderr" if stderr else "stdout")
    console = Console(**kwargs)
    if mode == "never":
        console.no_color = True
    return console


# --------------------------------------------------------------------------- one renderer, two presentations
#
# A command states what it prints once, as lines of styled spans (a span is a string, or a
# ``(text, style)`` pair) and tables of cells, and hands them to :func:`text_output`'s
# object: :class:`RichOut` on a terminal (colour, borders, the terminal's width, rows
# stacked when a table would be cut) or with colour forced; :class:`PlainOut` in a pipe or
# a file (the same lines and cells, no escapes, no borders, never wrapped), which prints
# without importing rich, so that ``pgwalk decode-esr VALUE | ...`` starts fast.

def text_output() -> "PlainOut | RichOut":
    """The presentation of this run's stdout: plain in a pipe (:func:`plain_stdout`), rich else."""
    return PlainOut() if plain_stdout() else RichOut(stdout_console())


def _span_text(s: Any) -> str:
    """A span's text as rich would show it (:func:`pgwalk.plaintext.plain_text`)."""
    return plain_text(s[0] if isinstance(s, tuple) else s)


def plain_line(*spans: Any) -> str:
    """A line of spans as :class:`PlainOut` writes it: their text, trailing spaces dropped."""
    return "".join(_span_text(s) for s in spans).rstrip(" ") + "\n"


def plain_translation(d: dict) -> str:
    """A translation's result line as :class:`PlainOut` writes it without the walk."""
    return _translation_lines(d, PIPE_WIDTH, False)


class PlainOut:
    """Plain lines on stdout: tables laid out without borders, two spaces between columns,
    no padding at the ends of a line (as a borderless rich table is laid out)."""

    @property
    def file(self) -> Any:
        return sys.stdout

    def line(self, *spans: Any) -> None:
        sys.stdout.write(plain_line(*spans))

    def heading(self, text: str) -> None:
        self.line(text)

    def table(self, rows: Any, *, header: Any = None, right: Any = (), title: str | None = None, dim: Any = (),
              borders: bool = True) -> None:
        body = ([list(header)] if header else []) + [[_span_text(c) for c in r] for r in rows]
        if title:
            self.line(title)
        if not body:
            return
        widths = [max(len(r[k]) for r in body) for k in range(len(body[0]))]
        for r in body:
            self.line("  ".join(c.rjust(w) if k in right else c.ljust(w)
                                for k, (c, w) in enumerate(zip(r, widths))))

    def translation(self, d: dict, *, trace: bool) -> None:
        """A translation (``translate --json``'s object): its result line, then its walk."""
        text = _translation_lines(d, PIPE_WIDTH, trace)
        if text is None:                            # (a walk wider than any line: rich lays it out)
            RichOut(stdout_console()).translation(d, trace=trace)
        else:
            sys.stdout.write(text)


class RichOut:
    """The same lines and tables through a rich console: styles, borders on a terminal,
    tables stacked row by row where the terminal is too narrow to show a value whole."""

    def __init__(self, con: Any) -> None:
        self.con = con

    @property
    def file(self) -> Any:
        return self.con.file

    def _text(self, spans: Any) -> Any:
        from rich.text import Text
        t = Text()
        for s in spans:
            if isinstance(s, tuple):
                t.append(s[0], style=s[1] or None)
            else:
                t.append(s)
        return t

    def line(self, *spans: Any) -> None:
        self.con.print(self._text(spans))

    def heading(self, text: str) -> None:
        from rich.text import Text
        if table_box() is None:             # a pipe or a file (forced colour): a plain line, no rule drawing
            self.con.print(Text(text, style="bold"))
        else:
            self.con.rule(Text(text), align="left")

    def table(self, rows: Any, *, header: Any = None, right: Any = (), title: str | None = None, dim: Any = (),
              borders: bool = True) -> None:
        """A table of ``rows`` (each cell a string, or a ``(text, style)`` span); ``right``: the
        columns aligned right; ``dim``: the rows shown dim; ``borders``: a box on a terminal
        (:func:`table_box`), else none anywhere."""
        from rich.table import Table
        from rich.text import Text
        n = len(header) if header else len(rows[0]) if rows else 0
        t = Table(title=Text(title, style="bold") if title else None, title_justify="left",
                  show_header=bool(header), show_lines=False, pad_edge=False, expand=False,
                  box=table_box() if borders else None, show_edge=borders)
        for k in range(n):
            last = k == n - 1
            t.add_column(header[k] if header else "", justify="right" if k in right else "left",
                         no_wrap=not last, overflow="fold" if last else "ellipsis")
        for i, r in enumerate(rows):
            style = "dim" if i in dim else None
            t.add_row(*(Text(c[0], style=c[1]) if isinstance(c, tuple) else Text(c, style=style) if style
                        else Text(c) for c in r))
        self.con.print(fit_table(self.con, t))

    def translation(self, d: dict, *, trace: bool) -> None:
        """A translation: rich's layout on a terminal; in a pipe (a console rich was asked for,
        e.g. with TTY_COMPATIBLE=0) the plain lines :class:`PlainOut` writes."""
        from ..render import render_translation

        con = self.con
        text = _translation_lines(d, con.width, trace) if con.soft_wrap and not con.is_terminal else None
        if text is not None:
            con.file.write(text)
        else:
            con.print(render_translation(d, trace=trace, width=con.width))


def _translation_lines(d: dict, width: int, trace: bool) -> str | None:
    """A translation's result line and (with ``trace``) its walk as plain lines, the text rich
    prints in a pipe, made without rich; ``None`` when the walk's table is wider than ``width``."""
    from ..render import result_text, trace_text

    steps = trace_text(d, width) if trace else ""
    if steps is None:
        return None
    return result_text(d).rstrip(" ") + "\n" + (steps + "\n" if steps else "")


def table_box(default: Any = None) -> Any:
    """A table's borders: ``default`` (rich's heavy-head box when None) on a terminal, none in
    a pipe or a file (a header line, then one row per line)."""
    if not stdout_is_terminal():
        return None
    if default is None:
        from rich import box

        default = box.HEAVY_HEAD
    return default


def fit_table(console: Any, table: Any) -> Any:
    """``table`` when it fits the console with every unwrappable cell whole (addresses,
    descriptors), else its rows stacked: one block per row, ``header value`` pairs
    wrapped between words, so that no value is cut on a narrow terminal."""
    from rich.console import Group
    from rich.text import Text

    if _min_table_width(table) <= console.width:
        return table
    parts: list[Any] = []
    if table.title:
        parts.append(Text.from_markup(table.title, style="bold") if isinstance(table.title, str) else table.title)
    columns = table.columns
    cells = [list(c.cells) for c in columns]
    for i in range(table.row_count):
        line = Text()
        for k, (col, column) in enumerate(zip(cells, columns)):
            cell = col[i] if i < len(col) else ""
            value = cell if isinstance(cell, Text) else Text.from_markup(str(cell)) if cell else Text()
            if not value.plain.strip():
                continue
            if k == 0:                          # the row's name leads
                line.append_text(value)
                line.stylize("bold")
                continue
            if line:
                line.append("  ")
            header = _plain(column.header)
            if header and table.show_header:
                line.append(f"{header} ", style="dim")
            line.append_text(value)
        parts.append(line)
    return Group(*parts)


def _plain(cell: Any) -> str:
    from rich.text import Text

    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def _min_table_width(table: Any) -> int:
    """The narrowest the table gets with its unwrappable columns whole and its other
    columns as wide as their longest word (rich's own measure ignores ``no_wrap``)."""
    widths = []
    for column in table.columns:
        texts = [_plain(c) for c in column.cells] + ([_plain(column.header)] if table.show_header else [])
        if column.no_wrap:
            widths.append(max((len(t) for t in texts), default=0))
        else:
            widths.append(max((len(w) for t in texts for w in t.split()), default=0))
    n = len(widths)
    left, right = table.padding[3], table.padding[1]
    pad = (left + right) * n - (0 if table.pad_edge else left + right)
    borders = n + 1 if table.box is not None else 0
    return sum(widths) + pad + borders


class _PlainLines:
    """A text stream without the spaces rich pads table rows with at the end of a line."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def _stream(self) -> Any:               # looked up at each write, as rich does (tests swap it)
        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        if " \n" in text:
            text = "\n".join(line.rstrip(" ") for line in text.split("\n"))
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


def echo(text: str = "", *, nl: bool = True) -> None:
    """``text`` (and a newline) on stdout, flushed: a record, in the order of the notes around it
    (as ``click.echo``, without click)."""
    out = sys.stdout
    out.write(text + "\n" if nl else text)
    out.flush()


def note(text: str) -> None:
    """One ``pgwalk: note: ...`` line on stderr."""
    say(f"pgwalk: note: {text}\n")


def notes(texts: Iterable[str], *, about: str | None = None) -> None:
    """Each note on stderr; ``about`` (an address) prefixes notes that concern one record."""
    for text in texts:
        note(f"{about}: {text}" if about else text)


def warning(text: str) -> None:
    """One ``pgwalk: warning: ...`` line on stderr."""
    say(f"pgwalk: warning: {text}\n")
