"""``pgwalk dump-tree``: everything a set of translation tables maps, as a tree or as ranges."""

from __future__ import annotations

from .common import IMAGE_OPTIONS, REGISTER_OPTIONS
from .registry import say
from .spec import Command, Option

__all__ = ["DUMP_TREE", "run_dump_tree", "parse_range", "DEFAULT_TREE_SPAN", "PROGRESS_DELAY", "REGIMES"]

#: --view default: the tree view when the walked input range is at most this many bytes
DEFAULT_TREE_SPAN = 1 << 30
#: the progress line (stderr, a terminal only) appears when a walk takes longer than this (seconds)
PROGRESS_DELAY = 0.5

REGIMES = {"el10": "EL10", "el1&0": "EL10", "el20": "EL20", "el2&0": "EL20", "el2": "EL2", "el3": "EL3"}


class _AnsiLines:
    """Styled lines to terminal text without rich's per-segment rendering (its cost dominates a
    long listing): each span's style is turned into escape codes once (rich's ``Style.render``).
    ``lines`` returns None where this does not apply (overlapping spans, a base style)."""

    def __init__(self, console) -> None:
        from rich.color import ColorSystem

        self.console = console
        name = console.color_system
        self.system = None if (name is None or console.no_color) else {
            "standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT, "truecolor": ColorSystem.TRUECOLOR,
            "windows": ColorSystem.WINDOWS}.get(name)
        self.cache: dict = {}

    def _style(self, style):
        if not style:
            return None
        key = str(style)
        st = self.cache.get(key)
        if st is None:
            st = self.cache[key] = self.console.get_style(style) if isinstance(style, str) else style
        return st

    def _render(self, piece: str, base, style) -> str:
        if not piece:
            return ""
        st = self._style(style)
        st = base + st if base is not None and st is not None else (st or base)
        return piece if st is None else st.render(piece, color_system=self.system)

    def lines(self, texts) -> str | None:
        out = []
        for text in texts:
            plain = text.plain
            if "\x1b" in plain:
                return None
            if self.system is None or not (text.spans or text.style):
                out.append(plain)
                continue
            base = self._style(text.style)
            pos = 0
            parts = []
            for span in sorted(text.spans, key=lambda sp: sp.start):
                if span.start < pos:
                    return None
                parts.append(self._render(plain[pos:span.start], base, None))
                parts.append(self._render(plain[span.start:span.end], base, span.style))
                pos = span.end
            parts.append(self._render(plain[pos:], base, None))
            out.append("".join(parts))
        return "\n".join(out) + "\n"


def parse_range(text: str, value=None) -> tuple[int, int]:
    """``START-END`` (END exclusive; an END ending in ``fff`` is taken as the last byte) or ``START+SIZE``.

    ``value(text, where)`` reads each part (default: a hexadecimal value; the command passes
    one that also takes the dump's VMCOREINFO symbols, so ``_stext-_etext`` works).

    :raises InputError: malformed, empty or beyond 64 bits
    """
    from ..errors import InputError
    from ..regs import parse_int

    if value is None:
        value = parse_int

    t = text.strip()
    if "+" in t:
        a, _, b = t.partition("+")
        start = value(a, "--range start")
        size = value(b, "--range size")
        end = start + size
    elif "-" in t:
        a, _, b = t.partition("-")
        start = value(a, "--range start")
        end = value(b, "--range end")
        if end & 0xFFF == 0xFFF:        # an inclusive end such as 0xffffffffffffffff
            end += 1
    else:
        raise InputError(f"--range {text!r}: expected START-END or START+SIZE")
    if end <= start:
        raise InputError(f"--range {text!r} is empty")
    if end > 1 << 64:
        raise InputError(f"--range {text!r} runs past the 64-bit address space")
    return start, end


class _TreeProgress:
    """Progress of a tree walk on stderr (a terminal only): tables and descriptors visited, their rate,
    the share of the trees walked (by subtables, not by address space) and the time left."""

    def __init__(self, summary, n_trees: int) -> None:
        from .progress import Progress

        self.line = Progress("walking", "descriptors", delay=PROGRESS_DELAY)
        self.summary, self.n_trees, self.tree = summary, max(n_trees, 1), -1

    def __call__(self, _reached: int) -> None:
        s = self.summary
        self.line.update((self.tree + s.fraction) / self.n_trees, s.entries + s.s2_lookups, f"{s.tables:,} tables")

    def rebase(self, _start: int, _done: int) -> None:
        """The next tree starts."""
        self.tree += 1
        self.summary.fraction = 0.0

    def close(self) -> None:
        self.line.clear()


def _write_html(path, images, trees, spans, ctx, layout, notes, merge, limits) -> int:
    """``--html FILE``: the page of :mod:`pgwalk.render_html`, written whole or not at all."""
    import os

    from ..render_html import write_html

    title = (f"pgwalk dump-tree: {', '.join(t.name for t in trees)} of "
             f"{', '.join(os.path.basename(i) for i in images) or 'no image'}")
    from ..errors import InputError

    try:
        import click                            # (its atomic replace of a file)

        with click.open_file(path, "w", encoding="utf-8", atomic=path != "-") as out:
            r = write_html(out, trees, spans, ctx.memory, layout=layout, merge=merge, limits=limits, title=title,
                           notes=notes)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if path != "-":
        say(f"{path}: {r.bytes:,} bytes, {r.ranges:,} ranges, {r.nodes:,} tree nodes\n")
    if r.summary.stopped:
        say(f"pgwalk: {r.summary.stopped}\n")
    return 1 if r.summary.stopped else 0


def run_dump_tree(images, regs_file, reg_values, granule, va_bits, root, range_text, ttbr0, ttbr1, stage, regime,
                  view, depth, no_merge, show_invalid, as_json, stats, max_tables, max_entries, html_file=None,
                  shadow_s2=False, compare_root=None, shadow_vtcr=None, guest_hyp=None, host_file=None):
    """Show everything a translation-table tree maps, as a tree or as address ranges.

    \b
    Tables are read whole and decoded with the walker translate uses; a table
    seen before at the same level is shown once (later ones: "reference"),
    tables outside the image or beyond the output size are shown and
    skipped, and RES0 bits, blocks at illegal levels, misaligned outputs
    are flagged.  Hierarchical APTable/XNTable/NSTable apply to the leaves.

    \b
    --stage 12 (two stages): every leaf output is looked up in stage 2 as
    translate does it; each range shows the final PA, the final attributes
    (stage 1 combined with stage 2, FWB and HCR_EL2.CD as the registers say)
    and the permissions both stages allow, and a stage 1 block that stage 2
    maps in differing pieces is split into those pieces ("piece").

    \b
    --json writes JSON Lines; every object has "record":
      "range"   (ranges view) va_start, va_end (exclusive), size, level, kind
                (block, page, illegal block, reserved, invalid, table), count,
                entry_size, mapped, pa_start [, ipa_start], raw, memtype,
                attributes, permissions {el1, el0 | stage2_el1, stage2_el0},
                attr_index, sh, af, ng, dbm, contiguous, gp, ns, ns_table,
                indirection, af_updates (translate's: the descriptors
                whose Access flag a translation sets, HAFT and HA),
                flags, nonzero, status, note; --stage 12 also partial,
                s1_attributes, stage2, fault, effective_permissions
                ("attributes" then are the final ones, as translate's)
      "table"   (tree view) depth, last, level, index, table, pa, va_start,
                va_end, entries, valid, status, descriptor, flags, inherited,
                af_updates
      "entries" (tree view) a range record plus depth, last, index, table
      "summary" (last line) schema, view, trees, tables, entries, ranges,
                stopped, notes, s2_lookups [, stats]
    Addresses are hex strings.  Full schema: pydoc pgwalk.tree.

    Exit status: 0 done, 1 a limit stopped the walk, 2 bad input.
    """
    import json

    from ..errors import InputError
    from ..params import Regime, setup_from_registers
    from ..tree import (
        FOLD_MIN, SCHEMA_VERSION, Limits, RangeMerger, TreeLines, TreeStats, Visit, WalkSummary, run_record,
        tree_record, walk_tree,
    )
    from .common import load_context

    rng = None
    if shadow_s2 or compare_root or guest_hyp or host_file or shadow_vtcr:
        if not (shadow_s2 and guest_hyp and host_file):
            raise InputError("--shadow-s2 needs --guest-hyp FILE and --host FILE (and they, --compare-shadow and "
                             "--shadow-vtcr need --shadow-s2)")
        if shadow_vtcr and not compare_root:
            raise InputError("--shadow-vtcr describes the tree --compare-shadow reads")
        from ..target import Target
        from ..values import parse_value
        from .nested import run_shadow

        ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
        target = Target(ctx.memory, ctx.registers, ctx.notes, owns_memory=False)
        return run_shadow(target, guest_hyp, host_file,
                          parse_value(compare_root, "--compare-shadow") if compare_root else None,
                          parse_value(shadow_vtcr, "--shadow-vtcr") if shadow_vtcr else None, as_json)
    if stage == "2" and (ttbr0 or ttbr1):
        raise InputError("--ttbr0/--ttbr1 select a stage 1 tree; --stage 2 walks the VTTBR_EL2 tree")
    if depth is not None and view == "ranges":
        raise InputError("--depth applies to the tree view")
    if html_file is not None and (as_json or stats or view or depth is not None or show_invalid):
        raise InputError("--html writes its own map, tree and ranges: no --json, --stats, --view, --depth, --invalid")
    if html_file is not None:
        from ..inputs import check_output_path

        check_output_path(html_file)
    ctx = load_context(images, regs_file, reg_values, granule, va_bits, root)
    rng = parse_range(range_text, ctx.address) if range_text else None
    layout = None
    if ctx.vmcoreinfo is not None:
        from ..linux import kernel_layout, label_address

        layout = kernel_layout(ctx.vmcoreinfo, ctx.memory)
    setup = setup_from_registers(ctx.registers, Regime[REGIMES[regime.lower()]] if regime else None,
                                 stage1=stage != "2")             # stage 2 alone: no TCR_EL1
    from ..target import select_trees

    explicit = ttbr0 or ttbr1
    sel = select_trees(setup, [n for n, on in ((0, ttbr0), (1, ttbr1)) if on], stage,
                       unknown_hint=("the dump's VMCOREINFO gives only the kernel's tables (swapper_pg_dir); "
                                     "give the process's {name} with --reg {name}=VALUE")
                       if ctx.vmcoreinfo is not None else "")
    trees, stage = sel.trees, sel.stage
    ctx.notes.extend(sel.notes)
    if rng is not None:
        def overlaps(t) -> bool:
            return t.va_lo < rng[1] and rng[0] < t.va_hi

        if stage != "2" and not explicit:
            trees = [t for t in trees if overlaps(t)]
            if not trees:
                raise InputError(f"--range {range_text} is outside the VA ranges of the {setup.regime.value} regime")
        outside = [t.name for t in trees if not overlaps(t)]
        if outside:
            raise InputError(f"--range {range_text} is outside the input range of {', '.join(outside)}")
    spans = []
    for t in trees:
        lo, hi = (t.va_lo, t.va_hi) if rng is None else (max(rng[0], t.va_lo), min(rng[1], t.va_hi))
        spans.append((lo, hi))
    if view is None:
        view = "tree" if sum(hi - lo for lo, hi in spans) <= DEFAULT_TREE_SPAN else "ranges"
    if stats:
        view = "stats"
    notes = list(dict.fromkeys([*ctx.notes, *setup.notes]))
    if html_file is not None:
        return _write_html(html_file, images, trees, spans, ctx, layout, notes, not no_merge,
                           Limits(max_tables=max_tables, max_entries=max_entries))

    import sys

    out = sys.stdout                     # the stream rich's Console writes to: one order for both
    from .output import plain_stdout, stdout_console

    console = None
    plain = False                        # text for a pipe or a file: no rich console unless one prints
    if not as_json:
        plain = plain_stdout()
        if not plain:
            console = stdout_console()
            plain = not console.is_terminal
    write = out.write

    def emit_json(d) -> None:
        d.setdefault("schema", SCHEMA_VERSION)
        write(json.dumps(d) + "\n")

    def flush() -> None:
        pass

    if plain:
        def show(text) -> None:            # a pipe or file: no styles, and rich's per-line cost avoided
            write(text.plain + "\n")
    elif console is not None:
        # a terminal: lines are printed in batches (rich's cost is per print, not per line), the
        # progress line on the same terminal erased first
        from rich.text import Text as _Text

        import time

        pending: list = []
        due = [time.monotonic() + 0.1]

        ansi = _AnsiLines(console)

        def flush() -> None:
            if pending:
                if progress is not None and progress.line.shown:
                    progress.line.clear()
                fast = ansi.lines(pending)
                if fast is not None:
                    console.file.write(fast)
                    console.file.flush()
                else:
                    console.print(_Text("\n").join(pending), soft_wrap=True)
                pending.clear()
            due[0] = time.monotonic() + 0.1

        def show(text) -> None:            # at most 512 lines or 0.1 s behind the walk
            pending.append(text)
            if len(pending) >= 512 or time.monotonic() >= due[0]:
                flush()

    limits = Limits(max_tables=max_tables, max_entries=max_entries)
    summary = WalkSummary()
    stats_v = TreeStats(trees[0] if trees else None) if view == "stats" else None
    n_ranges = 0
    progress = _TreeProgress(summary, len(trees))
    if not progress.line.enabled:       # stderr is not a terminal: no progress at all
        progress = None
    from ..render_tree import PlainText, TreeLineRenderer, range_line, rich_text, stats_rows, tree_header

    Line = PlainText if plain or as_json else rich_text()  # noqa: N806 (the class of the lines shown)
    from .output import notes as print_notes

    try:
        if not as_json:
            print_notes(notes)
        done = 0
        for t, (lo, hi) in zip(trees, spans):
            if summary.stopped:             # a limit ended the walk: the message says where
                break
            if progress is not None:
                progress.rebase(lo, done)
            done += hi - lo
            if not as_json and view != "stats":
                show(tree_header(tree_record(t), Line))
                flush()
                out.flush()
                print_notes(t.notes)
            if view == "stats":
                stats_v.tree = t
                walk_tree(t, ctx.memory, stats_v, start=lo, end=hi, visits=Visit.LEAF | Visit.TABLE_PRE,
                          invalid=True, limits=limits, summary=summary, progress=progress)
                continue
            if view == "ranges":
                current = [None]

                def labelled(rec):
                    # kernel layout labels (linear map, vmalloc, ...) when the dump has VMCOREINFO
                    if layout:
                        rec["label"] = label_address(layout, int(rec["va_start"], 16))
                    return rec

                if as_json:
                    def sink(run, t=t):
                        emit_json(labelled(run_record(run, t)))
                else:
                    def sink(run, t=t):
                        rec = labelled(run_record(run, t))
                        if rec.get("label") != current[0] and layout:
                            current[0] = rec.get("label")
                            show(Line(f"---[ {current[0] or 'outside the kernel layout'} ]---", style="bold"))
                        show(range_line(rec, Line))
                merger = RangeMerger(sink, merge=not no_merge)
                walk_tree(t, ctx.memory, merger, start=lo, end=hi, visits=Visit.LEAF | Visit.TABLE_NOT_WALKED,
                          invalid=show_invalid, merge=not no_merge, limits=limits, summary=summary,
                          progress=progress)
                merger.finish()
                n_ranges += merger.count
                continue
            if as_json:
                lines = TreeLines(emit_json, t)
            else:
                renderer = TreeLineRenderer(Line)
                lines = TreeLines(lambda d, r=renderer: show(r.line(d)), t)
            walk_tree(t, ctx.memory, lines, start=lo, end=hi, invalid=True, merge=not no_merge, min_run=FOLD_MIN,
                      max_depth=depth, limits=limits, summary=summary, progress=progress)
            if summary.stopped:
                break
        flush()
        if progress is not None:
            progress.close()
        stats_d = stats_v.to_dict() if stats_v is not None else None
        if as_json:
            rec = {"record": "summary", "schema": SCHEMA_VERSION, "view": view,
                   "trees": [tree_record(t) for t in trees], "tables": summary.tables, "entries": summary.entries,
                   "ranges": n_ranges if view == "ranges" else None, "references": summary.references,
                   "problems": summary.problems, "stopped": summary.stopped, "notes": notes,
                   "s2_lookups": summary.s2_lookups}
            if stats_d is not None:
                rec["stats"] = stats_d
            emit_json(rec)
            if summary.stopped:
                say(f"pgwalk: {summary.stopped}\n")
        else:
            if stats_d is not None:
                for t in trees:
                    show(tree_header(tree_record(t), Line))
                flush()
                from .output import PlainOut, RichOut

                stats_out = PlainOut() if plain else RichOut(console)   # (not plain: the console is made)
                stats_out.table(stats_rows(stats_d), right=(1, 2), borders=False)
            if summary.stopped:
                show(Line(summary.stopped, style="bold red"))
                flush()
    except BrokenPipeError:
        raise           # the reader went away (| head): pgwalk/cli.py exits quietly, status 141
    finally:
        if progress is not None:
            progress.close()
    return 1 if summary.stopped else 0


DUMP_TREE = Command("dump-tree", run_dump_tree, (
    *IMAGE_OPTIONS,
    *REGISTER_OPTIONS,
    Option("--range", "range_text", metavar="START-END|START+SIZE",
           help="Input addresses to walk (END exclusive; default: the whole tree). Leaves overlapping it are "
                "shown whole."),
    Option("--ttbr0", is_flag=True, help="Walk the TTBR0 tree (lower VA range)."),
    Option("--ttbr1", is_flag=True, help="Walk the TTBR1 tree (upper VA range)."),
    Option("--stage", choices=("1", "2", "12"),
           help="2: the VTTBR_EL2 tree. 1: the stage 1 tree with IPAs as outputs. 12 (default when stage 2 "
                "is on): the stage 1 tree, tables located through stage 2, leaves with their final PA."),
    Option("--regime", choices=tuple(sorted(REGIMES)), case_sensitive=False,
           help="Translation regime (default: from the registers)."),
    Option("--view", choices=("tree", "ranges"),
           help=f"tree: one node per table; ranges: one line per run of VA space (kernel ptdump style). "
                f"Default: tree for ranges up to {DEFAULT_TREE_SPAN >> 30} GiB, else ranges."),
    Option("--depth", int_range=(0, None), help="Tree view: expand tables at most N levels below the root."),
    Option("--no-merge", is_flag=True, help="One line per descriptor (ranges), no folding of leaf runs (tree)."),
    Option("--invalid", "show_invalid", is_flag=True, help="Ranges view: also list runs of invalid descriptors."),
    Option("--json", "as_json", is_flag=True, help="JSON Lines (schema above)."),
    Option("--stats", is_flag=True, help="Only statistics: tables, leaves per level and kind, bytes mapped per "
                                         "memory type and permissions."),
    Option("--max-tables", int_range=(1, None), default=100_000, show_default=True,
           help="Stop after reading this many tables."),
    Option("--max-entries", int_range=(1, None), default=50_000_000, show_default=True,
           help="Stop after reading this many descriptors (--stage 12: each stage 2 lookup of a leaf "
                "output counts as one)."),
    Option("--html", "html_file", path=True, allow_dash=True, metavar="FILE",
           help="Write one self-contained HTML page (map, tree, descriptor fields) to FILE ('-': stdout)."),
    Option("--shadow-s2", "shadow_s2", is_flag=True, help="Nested virtualisation: the composed L2 IPA -> PA mapping "
           "KVM's shadow stage 2 must hold (the guest hypervisor's stage 2, --guest-hyp, through the host's, "
           "--host), piece by piece: the largest block allowed, both stages' permissions, combined attributes."),
    Option("--compare-shadow", "compare_root", metavar="ROOT", help="With --shadow-s2: compare the shadow stage 2 "
           "tree at PA ROOT (the host's VTCR_EL2 geometry, or --shadow-vtcr) with the composition and list each "
           "mismatch (stale, more permissive, wrong attributes, wrong size, missing)."),
    Option("--shadow-vtcr", metavar="VALUE", help="With --compare-shadow: the shadow's VTCR_EL2."),
    Option("--guest-hyp", "guest_hyp", metavar="FILE", help="With --shadow-s2: the guest hypervisor's (L1) "
           "virtual EL2 registers (HCR_EL2, VTCR_EL2, VTTBR_EL2), a register file."),
    Option("--host", "host_file", metavar="FILE", help="With --shadow-s2: the host's (L0) registers, a register file."),
))
