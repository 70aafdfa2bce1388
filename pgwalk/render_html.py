"""``pgwalk dump-tree --html``: one self-contained HTML page over a tree walk.

The page is a view over the plain records of :mod:`pgwalk.tree` (the objects
``dump-tree --json`` writes): one walk feeds both :class:`~pgwalk.tree.TreeLines`
(the tree view's records) and :class:`~pgwalk.tree.RangeMerger` (the ranges
view's), and this module only packs those records into compact JSON that the
page's script draws.  Nothing is fetched: the CSS and script are inlined and
the data sits in a ``<script type="application/json">`` element.

The page shows

* a zoomable map of each tree's input address space, ranges coloured by
  permissions or memory type, W+X mappings and EL0-accessible mappings of a
  kernel (TTBR1) tree marked, and the kernel's regions (VMCOREINFO layout,
  :func:`pgwalk.linux.kernel_layout`) as labelled bands;
* the tree of tables and leaf runs as a collapsible table (rows are drawn
  lazily, so trees of any size stay usable);
* the record and the decoded descriptor fields of the node clicked, decoded
  in the page from the field tables of :mod:`pgwalk.formats.descriptors`
  shipped with the data (the same layouts the walker reads descriptors with).

Data (``schema`` 1; addresses below 2**53 are JSON numbers, others hex
strings; ``*_off`` are offsets from the tree's first input address; raw
descriptors are hex strings without ``0x``)::

    {"schema": 1, "generator": "pgwalk 0.1.0", "title": str, "notes": [str],
     "summary": {"tables", "entries", "references", "problems", "stopped"},
     "styles": [{"kind", "level", "entry_size", "mapped", "memtype", "attributes",
                 "attr_index", "sh", "af", "ng", "dbm", "contiguous", "gp", "ns",
                 "ns_table", "permissions", "indirection", "flags", "status", "note",
                 "af_text": str | null,     # the record's af_updates as the text views say them
                 "wx": [permission keys with w and x], "el0_kernel": bool,
                 "layout": layout index | null}],
     "layouts": [{"name", "fields": [[name, msb, lsb, doc, {value: meaning} | null]]}],
     "trees": [{tree_record keys, "va_lo", "va_hi", "kernel": bool, "table_layout",
                "regions": [{"name", "start_off", "end_off", "approx", "note"}],
                "labels": [str],
                "ranges": [[style, va_off, size, count, pa, raw, label, ipa]],
                "nodes": [[0, depth, index, level, va_off, size, table, pa, entries, valid,
                           status, descriptor, flags, note, first_va, inherited, label, af_text]
                          | [1, depth, index, style, va_off, size, count, pa, raw, label,
                             ipa, nonzero]]}]}

``label`` indexes the tree's ``labels`` (-1: none); ``inherited`` is
[APTable, UXNTable, PXNTable, NSTable].
"""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any, Sequence

from .records import record
from .render_tree import af_updates_text
from .tree import (
    FOLD_MIN, Limits, RangeMerger, TableInfo, TreeLines, TreeParams, TreeVisitor, Run, WalkSummary, run_record,
    tree_record, walk_tree,
)

if TYPE_CHECKING:  # pragma: no cover
    from .linux import LayoutRange
    from .walk import Memory

__all__ = ["HtmlTree", "HtmlResult", "collect_tree", "build_document", "render_html", "write_html", "SCHEMA_VERSION",
           "MAX_RECORDS"]

SCHEMA_VERSION = 1
#: records (tree nodes + ranges) one page holds at most; a walk that would need more stops there
#: (a hostile or random table can hold millions of distinct descriptors; a browser cannot show them)
MAX_RECORDS = 400_000
_EXACT = 1 << 53          # integers below this survive JSON.parse exactly
_STYLE_KEYS = ("kind", "level", "entry_size", "mapped", "memtype", "attributes", "attr_index", "sh", "af", "ng",
               "dbm", "contiguous", "gp", "ns", "ns_table", "permissions", "indirection", "flags", "status", "note")


def _num(v: int | None) -> int | str | None:
    """An address for the page: a number when JSON.parse keeps it exact, else a hex string."""
    if v is None:
        return None
    return v if v < _EXACT else f"{v:#x}"


def _addr(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


def _raw(text: str | None) -> str | None:
    return None if text is None else text[2:]


class _Tables:
    """The interned styles and descriptor layouts shared by every tree of a document."""

    def __init__(self) -> None:
        self.styles: list[dict[str, Any]] = []
        self.layouts: list[dict[str, Any]] = []
        self._style_ids: dict[tuple, int] = {}
        self._texts: dict[int, tuple[Any, str]] = {}
        self._layout_ids: dict[str, int] = {}

    def layout(self, layout: Any) -> int:
        """The index of a :class:`~pgwalk.formats.fields.Layout` (added on first use)."""
        key = f"{layout.name}|" + ",".join(f"{f.name}:{f.msb}:{f.lsb}" for f in layout)
        i = self._layout_ids.get(key)
        if i is None:
            i = self._layout_ids[key] = len(self.layouts)
            self.layouts.append({"name": layout.name, "fields": [
                [f.name, f.msb, f.lsb, f.doc, {str(k): v for k, v in f.values.items()} if f.values else None]
                for f in layout]})
        return i

    def _frozen(self, v: Any) -> Any:
        """A hashable stand-in for a record value (dicts: their JSON text, remembered per object)."""
        if isinstance(v, list):
            return tuple(v)
        if not isinstance(v, dict):
            return v
        # the records share these dicts between runs (tree.py caches them): encode each once,
        # keeping the object so its id stays its own
        hit = self._texts.get(id(v))
        if hit is None or hit[0] is not v:
            hit = self._texts[id(v)] = (v, json.dumps(v, sort_keys=True))
        return hit[1]

    def style(self, rec: dict[str, Any], tree: TreeParams) -> int:
        """The index of the style (everything but position and output) of a range or entries record
        of ``tree`` (the marks and the descriptor layout depend on the tree)."""
        ups = rec.get("af_updates")
        af_text = af_updates_text(ups) if ups else None
        key = (tree.name, *(self._frozen(rec.get(k)) for k in _STYLE_KEYS), af_text)
        i = self._style_ids.get(key)
        if i is None:
            s = {k: rec.get(k) for k in _STYLE_KEYS}
            s["af_text"] = af_text
            perms = s["permissions"] or {}
            s["wx"] = _write_and_execute(perms)
            s["el0_kernel"] = bool(tree.upper and tree.two_el and _allowed(perms, "el0"))
            s["layout"] = self.layout(_leaf_layout(tree, s["level"], s["kind"])) if s["mapped"] else None
            i = self._style_ids[key] = len(self.styles)
            self.styles.append(s)
        return i


def _allowed(perms: dict[str, str], el: str, wanted: str = "rwx") -> str:
    """The accesses of ``wanted`` that ``el`` may make: each one permitted by every stage the record
    gives (stage 1 ``el``, stage 2 ``stage2_el``), as a translation checks each stage in turn."""
    texts = [perms[k] for k in (el, f"stage2_{el}") if k in perms]
    return "".join(a for a in wanted if texts and all(a in t for t in texts))


def _write_and_execute(perms: dict[str, str]) -> list[str]:
    """The permission keys (``el1``, ``el0``, ...; ``stage2_el1`` for a stage 2 tree) whose EL may both
    write and execute the mapping."""
    s1 = [k for k in perms if k.startswith("el")]
    if s1:
        return [k for k in s1 if _allowed(perms, k, "wx") == "wx"]
    return [k for k in perms if "w" in perms[k] and "x" in perms[k]]


def _leaf_layout(tree: TreeParams, level: int, kind: str) -> Any:
    """The block or page descriptor layout the walker decodes this leaf with."""
    from .formats import descriptors as D

    if tree.d128:
        return D.d128_leaf_layout(tree.stage, tree.lsb(level), kind == "block",
                                  tree.stage == 1 and tree.s1 is not None and tree.s1.aie)
    make = D.s1_leaf_layout if tree.stage == 1 else D.s2_leaf_layout
    return make(tree.lsb(level), tree.ds, tree.lpa64, kind == "block")


def _table_layout(tree: TreeParams) -> Any:
    from .formats import descriptors as D

    if tree.d128:
        return D.d128_table_layout(tree.stage, tree.granule_shift)
    make = D.s1_table_layout if tree.stage == 1 else D.s2_table_layout
    return make(tree.granule_shift, tree.ds, tree.lpa64)


@record
class HtmlTree:
    """One tree's packed records (see the module docstring for the row layouts)."""

    tree: TreeParams
    ranges: list[list[Any]]
    nodes: list[list[Any]]
    labels: list[str]
    regions: list[dict[str, Any]]


class _PageFull(Exception):
    """Internal: the page's record budget is used up."""


class _Collector(TreeVisitor):
    """One walk, two views: tree records (:class:`TreeLines`) and merged ranges (:class:`RangeMerger`)."""

    def __init__(self, tree: TreeParams, tables: _Tables, layout: Sequence["LayoutRange"] | None,
                 merge: bool, budget: int) -> None:
        self.tree, self.tables, self.layout = tree, tables, layout
        self.budget = budget
        self.ranges: list[list[Any]] = []
        self.nodes: list[list[Any]] = []
        self.labels: list[str] = []
        self._label_ids: dict[str | None, int] = {None: -1}
        self.lines = TreeLines(self._node, tree)
        self.merger = RangeMerger(self._range, merge=merge)
        self.lo = tree.va_lo

    def _label(self, va: int) -> int:
        if not self.layout:
            return -1
        from .linux import label_address

        name = label_address(self.layout, va)
        i = self._label_ids.get(name)
        if i is None:
            i = self._label_ids[name] = len(self.labels)
            self.labels.append(name)
        return i

    # the visits
    def table_pre(self, table: TableInfo) -> None:
        self.lines.table_pre(table)
        self.merger.table_pre(table)

    def table_post(self, table: TableInfo) -> None:
        self.lines.table_post(table)

    def run(self, run: Run) -> None:
        self.lines.run(run)
        if run.kind != "invalid":
            self.merger.run(run)

    def finish(self) -> None:
        self.merger.finish()

    # the records
    def _spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _PageFull

    def _range(self, run: Run) -> None:
        self._spend()
        rec = run_record(run, self.tree)
        va = int(rec["va_start"], 16)
        self.ranges.append([self.tables.style(rec, self.tree), _num(va - self.lo), _num(rec["size"]), rec["count"],
                            _num(_addr(rec["pa_start"])), _raw(rec["raw"]), self._label(va),
                            _num(_addr(rec.get("ipa_start")))])

    def _node(self, rec: dict[str, Any]) -> None:
        self._spend()
        va = int(rec["va_start"], 16)
        if rec["record"] == "table":
            size = int(rec["va_end"], 16) - va
            inh = rec["inherited"]
            self.nodes.append([0, rec["depth"], rec["index"], rec["level"], _num(va - self.lo), _num(size),
                               _num(_addr(rec["table"])), _num(_addr(rec["pa"])), rec["entries"], rec["valid"],
                               rec["status"], _raw(rec["descriptor"]), rec["flags"], rec["note"], rec["first_va"],
                               [inh["APTable"], int(inh["UXNTable"]), int(inh["PXNTable"]), int(inh["NSTable"])],
                               self._label(va), af_updates_text(rec["af_updates"]) or None])
            return
        self.nodes.append([1, rec["depth"], rec["index"], self.tables.style(rec, self.tree), _num(va - self.lo),
                           _num(rec["size"]), rec["count"], _num(_addr(rec["pa_start"])), _raw(rec["raw"]),
                           self._label(va), _num(_addr(rec.get("ipa_start"))), rec["nonzero"]])


def _regions(tree: TreeParams, layout: Sequence["LayoutRange"] | None) -> list[dict[str, Any]]:
    """The kernel layout ranges that overlap the tree, clipped to it, as offsets."""
    out = []
    for r in layout or ():
        lo, hi = max(r.start, tree.va_lo), min(r.end, tree.va_hi)
        if lo < hi:
            out.append({"name": r.name, "start_off": _num(lo - tree.va_lo), "end_off": _num(hi - tree.va_lo),
                        "approx": r.approx, "note": r.note})
    return out


def collect_tree(tree: TreeParams, mem: "Memory", tables: "_Tables", *, start: int | None = None,
                 end: int | None = None, layout: Sequence["LayoutRange"] | None = None, merge: bool = True,
                 limits: Limits | None = None, summary: WalkSummary | None = None,
                 max_records: int = MAX_RECORDS) -> HtmlTree:
    """Walk one tree once and pack its tree-view and ranges-view records.

    :param max_records: stop the walk (``summary.stopped`` says so) at this many nodes and ranges
    """
    if summary is None:
        summary = WalkSummary()
    c = _Collector(tree, tables, layout, merge, max_records)
    try:
        walk_tree(tree, mem, c, start=start, end=end, invalid=True, merge=merge, min_run=FOLD_MIN, limits=limits,
                  summary=summary)
        c.finish()
    except _PageFull:
        summary.stopped = (f"stopped after {max_records:,} tree nodes and ranges: the page holds no more "
                           f"(--range shows a part)")
    return HtmlTree(tree, c.ranges, c.nodes, c.labels, _regions(tree, layout))


@record
class HtmlResult:
    """What :func:`write_html` wrote."""

    bytes: int
    ranges: int
    nodes: int
    summary: WalkSummary


def build_document(trees: Sequence[HtmlTree], tables: "_Tables", summary: WalkSummary, *, title: str = "",
                   notes: Sequence[str] = ()) -> dict[str, Any]:
    """The page's data (schema in the module docstring)."""
    from . import __version__

    out_trees = []
    for h in trees:
        t = h.tree
        d = tree_record(t)
        d.update(va_lo=f"{t.va_lo:#x}", va_hi=f"{t.va_hi:#x}", kernel=bool(t.upper and t.two_el),
                 table_layout=tables.layout(_table_layout(t)), regions=h.regions, labels=h.labels,
                 ranges=h.ranges, nodes=h.nodes)
        out_trees.append(d)
    return {
        "schema": SCHEMA_VERSION, "generator": f"pgwalk {__version__}", "title": title, "notes": list(notes),
        "summary": {"tables": summary.tables, "entries": summary.entries, "references": summary.references,
                    "problems": summary.problems, "stopped": summary.stopped},
        "styles": tables.styles, "layouts": tables.layouts, "trees": out_trees,
    }


def _asset(name: str) -> str:
    from importlib.resources import files

    return files("pgwalk").joinpath("assets", name).read_text(encoding="utf-8")


def _script(name: str) -> str:
    """An inline script asset; it must not contain anything that ends or comments out ``<script>``."""
    text = _asset(name)
    if "</script" in text.lower() or "<!--" in text:
        raise ValueError(f"{name} cannot be inlined in a <script> element")
    return text


def render_html(doc: dict[str, Any]) -> str:
    """The whole page: inline CSS, the data as JSON, inline script."""
    from html import escape

    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
    # "<" only occurs inside JSON strings, where "\u003c" means the same: nothing in the data can
    # end the <script> element or open a comment in it
    data = data.replace("<", "\\u003c")
    title = escape(doc.get("title") or "pgwalk dump-tree")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{title}</title>\n<style>\n{_asset('viewer.css')}\n</style>\n</head>\n<body>\n"
        f"{_asset('viewer.html')}\n"
        f"<script type=\"application/json\" id=\"pgwalk-data\">{data}</script>\n"
        f"<script>\n{_script('viewer.js')}\n</script>\n</body>\n</html>\n")


def write_html(out: IO[str], trees: Sequence[TreeParams], spans: Sequence[tuple[int, int]], mem: "Memory", *,
               layout: Sequence["LayoutRange"] | None = None, merge: bool = True, limits: Limits | None = None,
               title: str = "", notes: Sequence[str] = (), max_records: int | None = None) -> HtmlResult:
    """Walk ``trees`` over ``spans`` (one ``(start, end)`` each) and write the page to ``out``.

    >>> write_html(sys.stdout, [tree_params(setup, "ttbr1")], [(lo, hi)], mem)   # doctest: +SKIP

    :param layout: the kernel's VA layout (:func:`pgwalk.linux.kernel_layout`) for region labels
    :param merge: merge leaf runs (``False``: one range and one node per descriptor)
    :param max_records: the most tree nodes and ranges the page holds, all trees (default
        :data:`MAX_RECORDS`); the walk stops there
    :returns: sizes and the walk summary (``summary.stopped`` when a limit ended the walk)
    """
    if max_records is None:
        max_records = MAX_RECORDS
    summary = WalkSummary()
    tables = _Tables()
    packed: list[HtmlTree] = []
    for t, (lo, hi) in zip(trees, spans):
        if summary.stopped:
            break
        used = sum(len(h.ranges) + len(h.nodes) for h in packed)
        packed.append(collect_tree(t, mem, tables, start=lo, end=hi, layout=layout, merge=merge, limits=limits,
                                   summary=summary, max_records=max_records - used))
    page = render_html(build_document(packed, tables, summary, title=title, notes=notes))
    out.write(page)
    return HtmlResult(len(page.encode("utf-8")), sum(len(h.ranges) for h in packed),
                      sum(len(h.nodes) for h in packed), summary)
