"""Rich renderables for walk results.

Renderers read the plain data of :mod:`pgwalk.report` and compute nothing:
the JSON output and the terminal output cannot disagree.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from rich.console import Group
    from rich.text import Text

# rich is imported where a function builds a renderable: a plain listing (dump-tree in a pipe,
# through size_text) never imports it

from .rules import DescType

__all__ = ["render_translation", "render_trace", "result_line", "result_pieces", "result_text", "size_text", "trace_text"]


def size_text(size: int | None) -> str:
    if size is None:
        return "?"
    for unit, shift in (("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return f"{size}B"


def _fields_text(fields: dict[str, int], kind: str) -> str:
    skip = {"VALID", "TYPE"}
    parts = []
    for name, value in fields.items():
        if name in skip or name.startswith("_"):
            continue
        if name in ("OA", "NLTA") or name.startswith(("OA_", "NLTA_")):
            continue
        if value == 0 and name not in ("AF", "AP", "S2AP", "AttrIndx", "MemAttr", "SH"):
            continue
        parts.append(f"{name}={value:#x}" if value > 9 else f"{name}={value}")
    return " ".join(parts)


#: the trace table's columns (name, justification); "fields" is the last, the only one that wraps
_TRACE_COLUMNS = (("stage", "right"), ("lvl", "right"), ("table", "right"), ("idx", "right"),
                  ("desc addr", "right"), ("descriptor", "right"), ("kind", "left"), ("fields", "left"))
#: the narrowest fields column the table form is used with (else the steps are stacked)
_MIN_FIELDS_WIDTH = 24
_RED_KINDS = tuple(t.text for t in DescType if t.faults) + ("not in image", "s2 fault")


def af_update_text(u: dict[str, Any]) -> str:
    """What the hardware does to one descriptor of ``af_updates`` (a translate object's)."""
    return "hardware sets AF (HAFT)" if u["table"] else "hardware sets AF (HA)"


def _trace_rows(d: dict[str, Any]) -> list[tuple[list[str], str, str, str]]:
    """The trace's rows: (the seven short cells, the fields text, kind style, fields style).  A
    descriptor of ``af_updates`` says so after its fields (:func:`af_update_text`)."""
    rows = []
    updates = {(u["stage"], u["level"], u["s1_level"], u["table"]): u for u in d.get("af_updates") or ()}
    for s in d["steps"]:
        stage = f"S{s['stage']}"
        if s["s1_level"] is not None:
            stage = f"S2 (S1 L{s['s1_level']})"
        addr = s["desc_addr"]
        if s["desc_pa"] not in (None, s["desc_addr"]):
            addr = f"{s['desc_addr']} (PA {s['desc_pa']})"
        kind = s["kind"]
        fields = _fields_text(s["fields"], kind)
        if s["next"] and kind == "table":
            fields = f"next={s['next']} " + fields
        elif s["next"]:
            fields = f"OA={s['next']} " + fields
        if s["note"]:
            fields = (fields + "  " if fields else "") + s["note"]
        u = updates.pop((s["stage"], s["level"], s["s1_level"], kind == "table"), None) \
            if kind in ("table", "block", "page") else None
        if u is not None:
            fields = (fields + "  " if fields else "") + af_update_text(u)
        rows.append(([stage, str(s["level"]), s["table"], str(s["index"]), addr, s["raw"] or "-", kind],
                     fields, "red" if kind in _RED_KINDS else "", ""))
    for u in updates.values():          # (every update has its step in a whole trace)
        stage = f"S{u['stage']}" + (f" (S1 L{u['s1_level']})" if u["s1_level"] is not None else "")
        rows.append(([stage, str(u["level"]), "", "", "", "", "table" if u["table"] else "leaf"],
                     af_update_text(u), "", ""))
    f = d["fault"]
    if f is not None:
        what = f"{f['description']}, FSC {f['fsc_hex']}" + (f" (IPA {f['ipa']})" if f["ipa"] else "")
        rows.append(([f"S{f['stage']}", "" if f["level"] is None else str(f["level"]), "", "", "", "", "fault"],
                     what + (f": {f['reason']}" if f["reason"] else ""), "bold red", "red"))
    return rows


def _table_width(rows: list[tuple[list[str], str, str, str]]) -> int:
    """The width of the trace table with every short cell whole and a fields column of
    :data:`_MIN_FIELDS_WIDTH` (or its longest word): two spaces between columns."""
    short = [max([len(name)] + [len(r[0][i]) for r in rows]) for i, (name, _j) in enumerate(_TRACE_COLUMNS[:-1])]
    longest_word = max([len(w) for r in rows for w in r[1].split()] + [_MIN_FIELDS_WIDTH])
    return sum(short) + 2 * len(short) + longest_word


def render_trace(d: dict[str, Any], width: int | None = None) -> Any:
    """The per-level trace of one translation: a table, or, when ``width`` (the console's)
    is too narrow for the table with every address and descriptor whole, one block per step
    (the step, then its fields on indented lines, wrapped between words: no value is cut)."""
    rows = _trace_rows(d)
    if width is not None and rows and _table_width(rows) > width:
        return _stacked_trace(rows)
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for col, justify in _TRACE_COLUMNS:
        if col == "fields":
            table.add_column(col, justify=justify, overflow="fold")
        else:
            table.add_column(col, justify=justify, no_wrap=True)
    for cells, fields, kind_style, fields_style in rows:
        table.add_row(*cells[:-1], Text(cells[-1], style=kind_style), Text(fields, style=fields_style))
    return table


def trace_text(d: dict[str, Any], width: int) -> str | None:
    """:func:`render_trace`'s table as a console without colour prints it (a pipe or a file), made
    without rich: the header line, then a line per step, each column as wide as its widest cell
    (header included), two spaces apart, justified as :data:`_TRACE_COLUMNS` says, no spaces at
    the end of a line.  ``None`` when the table is wider than ``width``: rich would fold the
    fields column (or :func:`render_trace` stack the steps), so it is left to them.  (Tens of
    times faster than rich's table layout, for ``translate --batch`` into a pipe.)"""
    steps = _trace_rows(d)
    rows = [cells + [fields] for cells, fields, _kind_style, _fields_style in steps]
    headers = [name for name, _justify in _TRACE_COLUMNS]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if sum(widths) + 2 * (len(widths) - 1) > width or _table_width(steps) > width:
        return None
    right = [justify == "right" for _name, justify in _TRACE_COLUMNS]
    return "\n".join("  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(line, widths, right)).rstrip(" ")
                     for line in [headers, *rows])


def _stacked_trace(rows: list[tuple[list[str], str, str, str]]) -> Group:
    """The trace for a narrow terminal: per step ``S1 L0  table 0x.. idx 256  desc 0x.. = 0x..  kind``
    (wrapped between fields), then the fields indented."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    parts: list[Any] = []
    for (stage, level, table, index, addr, raw, kind), fields, kind_style, fields_style in rows:
        head = Text()
        head.append(f"{stage} L{level}" if level else stage, style="bold")
        if table:
            head.append(f"  table {table} idx {index}")
        if addr:
            head.append(f"  desc {addr} = {raw}")
        head.append("  ")
        head.append(kind, style=kind_style)
        parts.append(head)
        if fields:
            parts.append(Padding(Text(fields, style=fields_style, overflow="fold"), (0, 0, 0, 4)))
    return Group(*parts)


def result_pieces(d: dict[str, Any]) -> list[tuple[str, str]]:
    """The pieces of the result line, ``(text, style)``: ``VA -> IPA -> PA`` with size,
    memory type and permissions, or the fault.  The one statement of the line's format:
    :func:`result_line` styles it, :func:`result_text` is its plain text."""
    out = [(d["va"], "bold")]
    if d.get("label"):
        out.append((f" [{d['label']}]", "cyan"))
    chain = []
    if d["stages"] == "12" and d["ipa"] is not None and d["ipa"] != d["va"]:
        chain.append(("IPA", d["ipa"]))
    if d["stages"] == "1":
        if d["ipa"] is not None:
            chain.append(("IPA" if d["pa"] is None else "PA", d["ipa"]))
    elif d["pa"] is not None:
        chain.append(("PA", d["pa"]))
    for label, value in chain:
        out.append((f" -> {label} ", ""))
        out.append((value, "bold green"))
    if not d["ok"]:
        f = d["fault"]
        out.append(("  FAULT ", "bold red"))
        out.append((f"{f['description']}, FSC {f['fsc_hex']}", "red"))
        if f.get("not_in_image"):
            out.append(("  (a table is not in the dump" + (f": {f['reason']})" if f.get("reason") else ")"),
                        "yellow"))
        return out
    extras = [size_text(d["size"])]
    a = d["attributes"]
    if a:
        extras.append(a["description"])
        extras.append({"NSH": "Non-shareable", "ISH": "Inner Shareable", "OSH": "Outer Shareable"}[a["shareability"]])
    elif d.get("attributes_unknown"):
        extras.append(f"attributes unknown ({d['attributes_unknown']})")
    p = d["permissions"] or {}
    if p:
        extras.append(" ".join(f"{k.upper().replace('STAGE2_', 'S2 ')} {v}" for k, v in p.items()))
    out.append(("  " + ", ".join(extras), "dim"))
    if d.get("contents_in_image") is False:
        out.append(("  contents not in the image", "bold yellow"))
    return out


def result_text(d: dict[str, Any]) -> str:
    """The result line as plain text (what a pipe or a file gets)."""
    return "".join(text for text, _style in result_pieces(d))


def result_line(d: dict[str, Any]) -> Text:
    """The result line (:func:`result_pieces`) as styled rich text."""
    from rich.text import Text

    t = Text()
    for text, style in result_pieces(d):
        t.append(text, style=style or None)
    return t


def render_translation(d: dict[str, Any], *, trace: bool = True, width: int | None = None) -> Group:
    """The result line and (``trace``) the trace table.  The notes are not part of it: they go
    to stderr (``pgwalk: note: ...``), so that stdout holds only records."""
    from rich.console import Group

    parts: list[Any] = [result_line(d)]
    if trace:
        parts.append(render_trace(d, width))
    return Group(*parts)
