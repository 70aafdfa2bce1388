"""Text as rich's ``Text`` shows it, without its styles: what the plain presentations write
to a pipe or a file without importing rich (:class:`pgwalk.render_tree.PlainText`,
:class:`pgwalk.cmd.output.PlainOut`).  A module of its own, importing nothing, so that a
command as small as ``decode-esr`` takes no more than it needs."""

from __future__ import annotations

__all__ = ["plain_text"]

#: the control characters rich's ``Text`` leaves out of its text (bell, backspace, vertical
#: tab, form feed, carriage return)
_DROPPED = dict.fromkeys((7, 8, 11, 12, 13))


def plain_text(text: str) -> str:
    """``text`` as rich's ``Text`` shows it, without its styles: the control characters it drops
    left out (so a dump's strings written to a pipe cannot move the cursor back, as on a terminal)."""
    return text.translate(_DROPPED)
