"""Rich renderables for ``pgwalk dump-tree``.

Renderers read the plain records of :mod:`pgwalk.tree` (the same objects
``--json`` writes) and compute nothing, so the terminal and JSON outputs
cannot disagree.  Lines are produced one at a time: the tree view draws its
own guide lines from each record's ``depth`` and ``last`` instead of
building a :class:`rich.tree.Tree`, so a tree of any size streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.text import Text

from .plaintext import plain_text
from .render import af_update_text, size_text

__all__ = ["range_line", "TreeLineRenderer", "stats_rows", "tree_header", "human_size", "ADDR_WIDTH", "PlainText",
           "rich_text", "af_updates_text"]


def rich_text() -> type:
    """rich's ``Text``: the line class of the renderers for a terminal (styled)."""
    from rich.text import Text

    return Text


class PlainText:
    """A line of the renderers without styles, for a pipe or a file: the part of rich's ``Text``
    they use (``Text(text, style=)``, ``append``, ``append_text``, ``plain``), the same ``plain``
    rich would give (:func:`pgwalk.plaintext.plain_text`), without importing rich."""

    __slots__ = ("plain",)

    def __init__(self, text: str = "", style: Any = None) -> None:
        self.plain = plain_text(text)

    def append(self, text: str, style: Any = None) -> PlainText:
        self.plain += plain_text(text)
        return self

    def append_text(self, other: PlainText) -> PlainText:
        self.plain += other.plain
        return self

#: width of one 64-bit address written as 0x + 16 digits
ADDR_WIDTH = 18
_BAD = "red"
_ODD_KINDS = ("illegal block", "reserved")
_STATUS_STYLE = {"reference": "yellow", "not expanded": "dim", "not in image": _BAD, "stage 2 fault": _BAD,
                 "beyond output size": _BAD}


def _span(d: dict[str, Any]) -> str:
    return f"{d['va_start']:>{ADDR_WIDTH}}-{d['va_end']:<{ADDR_WIDTH + 1}}"


def _perm_text(p: dict[str, str] | None) -> str:
    if not p:
        return ""
    return " ".join(f"{k.upper().replace('STAGE2_', 'S2 ')} {v}" for k, v in p.items())


def _bits_text(d: dict[str, Any]) -> str:
    words = [name for key, name in (("af", "AF"), ("ng", "nG"), ("dbm", "DBM"), ("contiguous", "CONT"),
                                     ("gp", "GP"), ("ns", "NS"), ("ns_table", "NSTable")) if d.get(key)]
    return " ".join(words)


def af_updates_text(updates: list[dict[str, Any]]) -> str:
    """The Access flag updates of a record (``af_updates``) in the words of ``translate``'s trace
    (:func:`pgwalk.render.af_update_text`), each followed by the descriptors it applies to, named by
    stage (a stage 2 walk fetching a stage 1 table as translate's stage column: ``S2 (S1 L1)``) and
    level: ``hardware sets AF (HAFT): S1 L0 L1, S2 (S1 L1) L2; hardware sets AF (HA): S1 L3``."""
    groups: dict[str, dict[str, list[int]]] = {}
    for u in updates:
        where = f"S{u['stage']}" + (f" (S1 L{u['s1_level']})" if u["s1_level"] is not None else "")
        groups.setdefault(af_update_text(u), {}).setdefault(where, []).append(u["level"])
    return "; ".join(f"{what}: " + ", ".join(f"{where} " + " ".join(f"L{lv}" for lv in levels)
                                             for where, levels in by.items())
                     for what, by in groups.items())


def _s1_memtype_text(a: dict[str, Any] | None, d: dict[str, Any]) -> str:
    if not a:
        return ""
    s = a["description"]
    if d.get("attr_index") is not None:
        s += f" [{d['attr_index']}]"
    if d.get("sh"):
        s += f" {d['sh']}"
    return s


def _memtype_text(d: dict[str, Any]) -> str:
    """Stage 1: the leaf's attributes; two stages: the final ones, then what each stage says."""
    if "s1_attributes" not in d:
        return _s1_memtype_text(d.get("attributes"), d)
    a = d.get("attributes")
    if not a:
        return ""
    s2 = d.get("stage2") or {}
    if s2.get("attributes"):
        s2_text = f", S2 {s2['attributes']['description']}"
    elif s2:
        s2_text = f", S2 MemAttr {s2['memattr']:#06b} with FWB"
    else:
        s2_text = ""
    return f"{a['description']} {a['shareability']}  (S1 {_s1_memtype_text(d['s1_attributes'], d)}{s2_text})"


def _unpredictable(d: dict[str, Any]) -> str:
    a = d.get("attributes") or {}
    return a.get("unpredictable", "")


def _output_text(d: dict[str, Any], Text: type) -> Text:  # noqa: N803 (the line class)
    t = Text()
    if d.get("ipa_start") is not None and d.get("pa_start") is None and not d.get("note"):
        t.append("-> IPA ")                     # a stage 1 tree under stage 2, stage 1 only
        t.append(d["ipa_start"], style="bold green")
    elif d.get("ipa_start") is not None:
        t.append("IPA ")
        t.append(d["ipa_start"], style="green")
        t.append(" -> ")
        t.append("PA ")
        t.append(d["pa_start"] or "?", style="bold green" if d["pa_start"] else _BAD)
    elif d.get("pa_start") is not None:
        t.append("-> ")
        t.append(d["pa_start"], style="bold green")
    return t


def _leaf_body(d: dict[str, Any], Text: type, af_updates: list[dict[str, Any]] | None = None) -> Text:  # noqa: N803
    """Everything after the VA span of a leaf or range record (``Text``: the line class; ``af_updates``:
    the Access flag updates to show, default the record's)."""
    t = Text()
    kind = d["kind"]
    if kind == "invalid":
        t.append(f"{d['count']} invalid", style="dim")
        if d["nonzero"]:
            t.append(f" ({d['nonzero']} non-zero)", style="yellow")
        return t
    if kind == "table":
        t.append(f"L{d['level']} table {d.get('table_address') or d.get('ipa_start') or ''}  ", style="bold")
        t.append(d["status"] or "", style=_STATUS_STYLE.get(d["status"] or "", ""))
        if d["note"]:
            t.append(f": {d['note']}", style=_STATUS_STYLE.get(d["status"] or "", ""))
        return t
    t.append_text(_output_text(d, Text))
    t.append(f"  {size_text(d['size']):>6}  ")
    t.append(f"L{d['level']} {kind}", style=_BAD if kind in _ODD_KINDS else "")
    eff = d.get("effective_permissions")
    if eff:
        # two stages: what both stages allow, then each stage's own
        p = d["permissions"]
        t.append(f"  {_perm_text(eff)}", style="cyan")
        t.append(f"  (S1 {'/'.join(v for k, v in p.items() if not k.startswith('stage2'))}, "
                 f"S2 {p['stage2_el1']}/{p['stage2_el0']})", style="dim")
    else:
        perms = _perm_text(d["permissions"])
        if perms and "s1_attributes" in d:
            perms = f"S1 {perms}"               # stage 2 faults: only stage 1 has permissions
        if perms:
            t.append(f"  {perms}", style="cyan")
    ind = d.get("indirection")
    if ind:
        t.append(f"  [{ind['text']}]", style="cyan")   # FEAT_S1PIE/S2PIE/POE: PIIndex, PIR entries, POIndex
    if d.get("partial"):
        t.append("  piece", style="yellow")
    mt = _memtype_text(d)
    if mt:
        t.append(f"  {mt}", style="magenta" if d["memtype"] == "Device" else "")
    cu = _unpredictable(d)
    if cu:
        t.append(f"  ! CONSTRAINED UNPREDICTABLE: {cu}", style=_BAD)
    bits = _bits_text(d)
    if bits:
        t.append(f"  {bits}", style="dim")
    ups = d.get("af_updates") if af_updates is None else af_updates
    if ups:
        t.append(f"  {af_updates_text(ups)}", style="yellow")
    if d["note"]:
        t.append(f"  {d['note']}", style="yellow")
    for flag in d["flags"]:
        t.append(f"  ! {flag}", style=_BAD)
    return t


def range_line(d: dict[str, Any], text: type | None = None) -> Text:
    """One line of the ranges view, from a ``"range"`` record; ``text``: the line class
    (:class:`PlainText` for a pipe or a file; default rich's ``Text``)."""
    Text = text or rich_text()  # noqa: N806
    t = Text(_span(d))
    if d["kind"] not in ("invalid", "table") and d["count"] > 1:
        t.append(f"{d['count']:>7} x ", style="dim")
    else:
        t.append(" " * 10)
    t.append_text(_leaf_body(d, Text))
    return t


class TreeLineRenderer:
    """Turns tree-view records (pre-order, with ``depth``/``last``) into lines with guides.

    A table line shows its table's Access flag updates (``af_updates``); a leaf line those of its
    record that no table line above it shows (its own, and its output's stage 2 walk's)."""

    def __init__(self, text: type | None = None) -> None:
        self._last: list[bool] = []
        self._af: list[list[dict[str, Any]]] = []       # the af_updates of the table lines above, by depth
        self._text = text or rich_text()    # the line class, as for range_line

    def _prefix(self, depth: int, last: bool) -> str:
        del self._last[depth:]
        while len(self._last) < depth:
            self._last.append(True)
        self._last.append(last)
        if depth == 0:
            return ""
        guides = "".join("    " if self._last[k] else "│   " for k in range(1, depth))
        return guides + ("└── " if last else "├── ")

    def line(self, d: dict[str, Any]) -> Text:
        Text = self._text  # noqa: N806
        t = Text(self._prefix(d["depth"], bool(d["last"])), style="dim")
        if d["record"] == "table":
            if d["index"] is not None:
                t.append(f"[{d['index']}] ", style="dim")
            t.append(f"L{d['level']} table ", style="bold")
            t.append(d["table"], style="bold blue")
            if d["pa"] is not None and d["pa"] != d["table"]:
                t.append(f" (PA {d['pa']})")
            t.append(f"  {d['va_start']}-{d['va_end']}")
            status = d["status"]
            if status == "ok":
                t.append(f"  {d['valid']}/{d['entries']} valid")
            else:
                t.append(f"  {status}", style=_STATUS_STYLE.get(status, ""))
            inh = d["inherited"]
            hier = [f"{k}={int(v)}" for k, v in inh.items() if v]
            if hier and d["descriptor"] is not None:
                t.append(f"  ({' '.join(hier)})", style="dim")
            del self._af[d["depth"]:]
            self._af.extend([] for _ in range(d["depth"] - len(self._af)))
            ups = d.get("af_updates") or []
            self._af.append(ups)
            if ups:
                t.append(f"  {af_updates_text(ups)}", style="yellow")
            if d["note"]:
                t.append(f"  {d['note']}", style=_STATUS_STYLE.get(status, "yellow"))
            for flag in d["flags"]:
                t.append(f"  ! {flag}", style=_BAD)
            return t
        first, count = d["index"], d["count"]
        own = d.get("af_updates")
        if own:
            shown = [u for above in self._af[:d["depth"]] for u in above]
            own = [u for u in own if u not in shown]
        t.append(f"[{first}] " if count == 1 else f"[{first}-{first + count - 1}] ", style="dim")
        if d["kind"] == "invalid":
            return t.append_text(_leaf_body(d, Text))
        if count > 1:
            t.append(f"{count} x ", style="bold")
        t.append(f"{d['va_start']}-{d['va_end']}  ")
        return t.append_text(_leaf_body(d, Text, own))


def tree_header(tree: dict[str, Any], text: type | None = None) -> Text:
    """The line naming one tree (from a summary ``trees`` item); ``text`` as for :func:`range_line`."""
    t = (text or rich_text())(tree["description"], style="bold")
    if tree["disabled"]:
        t.append(f": not walked: {tree['disabled']}", style=_BAD)
    return t


def human_size(n: int) -> str:
    """Bytes in binary units with two decimals (``1.50 GiB``); exact sizes as :func:`size_text` does."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.2f} {unit}"
    return f"{n} B"


def stats_rows(stats: dict[str, Any]) -> list[tuple[Any, str, str]]:
    """``--stats`` as the rows of one table (what, count, bytes; sections: tables, leaves, bytes by
    memory type and permissions), each cell a string or a ``(text, style)`` span."""
    rows: list[tuple[Any, str, str]] = []

    def section(title: str) -> None:
        rows.append(((title, "bold"), "", ""))

    section("tables per level")
    for level, n in stats["tables"].items():
        rows.append((f"  L{level}", str(n), ""))
    for status, n in stats["tables_not_walked"].items():
        rows.append(((f"  not walked: {status}", _STATUS_STYLE.get(status, "")), str(n), ""))
    section("descriptors per level and kind")
    for row in stats["leaves"]:
        rows.append(((f"  L{row['level']} {row['kind']}", _BAD if row["kind"] in _ODD_KINDS else ""),
                     str(row["count"]), ""))
    rows.append(("  invalid", str(stats["invalid"]), ""))
    if stats["flagged"]:
        rows.append((("  flagged (RES0, misaligned, ...)", _BAD), str(stats["flagged"]), ""))
    section("bytes mapped per memory type")
    for what, n in stats["bytes_by_memtype"].items():
        rows.append((f"  {what}", "", human_size(n)))
    section("bytes mapped per permissions")
    for what, n in stats["bytes_by_permissions"].items():
        rows.append((f"  {what or '-'}", "", human_size(n)))
    rows.append((("total mapped", "bold"), "", human_size(stats["bytes_mapped"])))
    return rows
