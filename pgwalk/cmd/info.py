"""``pgwalk info DUMP``: what a crash dump or memory image holds.

Format, memory regions (count, total, holes), compression, notes, CPUs and
their registers, the whole VMCOREINFO decoded, and the translation setup
pgwalk derives from it (:func:`pgwalk.linux.registers_from_vmcoreinfo`),
with the kernel's address layout.  Only headers, bitmaps and notes are
read: ``info`` on a multi-GiB dump takes well under a second.

Nothing but the command's declaration is imported at module level.

JSON output (``--json``) is one line (schema 1: ``pgwalk schema info``; unversioned
and indented before)::

    {
      "schema": 1,
      "path": str, "format": "elf" | "kdump" | "kdump-flattened" | "raw",
      "format_description": str,
      "file_size": int,                  # bytes of the file on disk (compressed, when it is)
      "file_compression": "gzip" | "xz" | "zstd" | "bzip2" | null,   # the whole file's compression
      "dump_size": int,                  # bytes of the dump itself (decompressed; = file_size when
                                         # the file is not compressed)
      "memory": {"count": int, "total": int, "total_hex": str,
                 "regions": [{"start", "end", "size" (hex str), "kind"}],
                 "holes": [{"start", "end", "size"}]},          # gaps between regions
      "compression": [str],              # the kdump pages' compression; [] when none
      "kdump": {"header_version", "block_size", "max_mapnr", "pages_present",
                "pages_dumped",                  # pages whose data this file holds
                "pages_dumped_all",              # dumped pages of the whole dump (2nd bitmap)
                "pages_excluded",                # present, left out by the dump level
                "split": null | {"start_pfn", "end_pfn", "pages_in_other_files"},
                "damage": null | str,            # bitmap and descriptors disagree: no page read
                "status", "status_flags",
                "dump_level", "phys_base", "nr_cpus", "utsname": {...},
                "flattened_records", "compression_available": {name: bool}} | null,
      "elf": {"machine", "type", "phnum", "loads": [{"paddr", "vaddr", "filesz", "memsz", "offset"}]} | null,
      "notes": [{"name", "type", "type_name", "size"}],
      "cpus": [{"index", "pid", "el", "registers": {"x0".."x30", "sp", "pc", "pstate": hex}}],
      "vmcoreinfo": VmcoreInfo.to_json() | null,
      "translation": {"registers": {name: hex}, "ttbr1_root": hex, "granule": "4KB",
                      "va_bits": int, "start_level": int, "ds": bool, "tbi1": bool,
                      "oa_bits": int, "notes": [str]} | {"error": str} | null,
      "layout": [{"name", "start", "end", "approx", "note"}],
      "warnings": [str]
    }
"""

from __future__ import annotations

import json
import os

from .common import dump_params, pick_dump
from .output import echo, note
from .spec import Command, Option

__all__ = ["INFO", "run_info", "gather"]

_MAX_REGIONS_SHOWN = 32


def _hx(v: int | None) -> str | None:
    return None if v is None else f"{v:#x}"


def _size_text(n: int) -> str:
    for unit, shift in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.4g} {unit}"
    return f"{n} bytes"


def _open(spec: str):
    """(path, base, kind, object, file compression, dump size) of ``PATH[@BASE]``: an ElfCore, a
    KdumpFile or a raw FileBacking, the compression of the file as a whole (None when it is not
    compressed) and the size of the dump it holds (decompressed).  Opened as translate and
    dump-tree open it (:func:`pgwalk.images.open_file`): with a base the file is a raw image there,
    whatever it holds."""
    from pgwalk.images import open_file

    path, base, kind, obj, backing, notes = open_file(spec)
    for text in notes:
        note(text)
    return path, base, kind, obj, backing.compression, backing.size


def _duplicates(core) -> list[str]:
    """PT_LOADs mapping the same physical addresses with the same contents (silent elsewhere:
    an arm64 /proc/vmcore maps the kernel image twice), named here."""
    out = []
    loads = sorted((r for r in core.regions if r.kind == "elf PT_LOAD"), key=lambda r: (r.base, r.end))
    for a, b in zip(loads, loads[1:]):
        if b.base < a.end:
            out.append(f"{core.path}: PT_LOADs overlap at [{b.base:#x}, {min(a.end, b.end):#x})"
                       " (duplicate mappings; where their contents differ, a warning says so)")
    return out[:16]


def gather(spec: str) -> dict:
    """Everything ``info`` shows, as the JSON object documented above, of ``PATH[@BASE]``."""
    from pgwalk.kdump import compression_available, note_type_name, prstatus_cpus
    from pgwalk.memory import Region

    path, base, kind, obj, compression, dump_size = _open(spec)
    try:
        out: dict = {"path": path, "format": kind, "file_size": os.path.getsize(path),
                     "file_compression": compression, "dump_size": dump_size}
        notes: list = []
        vmcoreinfo_text = None
        out["kdump"] = out["elf"] = None
        out["compression"] = []
        if kind == "raw":
            regions = [Region(base or 0, obj.size, path, 0, "raw")]
            warnings: list[str] = []
            out["format_description"] = f"raw memory image (mapped at physical address {base or 0:#x})"
        elif kind == "elf":
            from pgwalk.formats.elf import EM_NAMES

            core = obj
            notes = core.notes
            vmcoreinfo_text = core.vmcoreinfo
            # the memory pgwalk uses: overlapping PT_LOADs resolved (first wins), clashes warned
            elf_mem = core.memory()
            regions = list(elf_mem.regions)
            out["format_description"] = "ELF core (QEMU dump-guest-memory or /proc/vmcore)"
            loads = []
            for r in core.regions:
                loads.append({"paddr": _hx(r.base), "size": _hx(r.size), "offset": _hx(r.offset),
                              "kind": r.kind})
            out["elf"] = {"machine": EM_NAMES.get(core.machine, str(core.machine)),
                          "type": core.e_type, "phnum": core.phnum, "loads": loads}
            warnings = list(elf_mem.warnings) + _duplicates(core)
        else:
            dump = obj
            regions = list(dump.regions)
            notes = dump.notes
            vmcoreinfo_text = dump.vmcoreinfo
            out["format_description"] = ("kdump-compressed, makedumpfile flattened format (read in place)"
                                         if dump.flattened else "kdump-compressed (makedumpfile diskdump)")
            out["compression"] = dump.compression
            h, sub = dump.header, dump.sub_header
            uts = {k: v.rstrip(b"\0").decode("ascii", "replace") for k, v in vars(h.utsname).items()}
            out["kdump"] = {
                "header_version": h.header_version, "block_size": dump.block_size,
                "max_mapnr": dump.max_mapnr, "pages_present": dump.pages_present,
                "pages_dumped": dump.pages_dumped, "pages_dumped_all": dump.pages_dumped_all,
                "pages_excluded": dump.pages_excluded,
                "split": {"start_pfn": _hx(dump.start_pfn), "end_pfn": _hx(dump.end_pfn),
                          "pages_in_other_files": dump.pages_elsewhere} if dump.split else None,
                "damage": dump.desc_damage,
                "status": h.status, "status_flags": dump.status_flags,
                "dump_level": sub.dump_level if h.header_version >= 1 else None,
                "phys_base": _hx(sub.phys_base), "nr_cpus": h.nr_cpus, "utsname": uts,
                "flattened_records": dump.view.records if dump.flattened else None,
                "compression_available": {n: compression_available(n) for n in dump.compression},
            }
            warnings = list(dump.warnings)
        total = sum(r.size for r in regions)
        holes = [{"start": _hx(a.end), "end": _hx(b.base), "size": _hx(b.base - a.end)}
                 for a, b in zip(regions, regions[1:]) if b.base > a.end]
        out["memory"] = {
            "count": len(regions), "total": total, "total_hex": _hx(total),
            "regions": [{"start": _hx(r.base), "end": _hx(r.end), "size": _hx(r.size), "kind": r.kind}
                        for r in regions],
            "holes": holes,
        }
        out["notes"] = [{"name": n.name, "type": n.type, "type_name": note_type_name(n.name, n.type),
                         "size": len(n.desc)} for n in notes]
        out["cpus"] = [{"index": c.index, "pid": c.pid, "el": c.el,
                        "registers": {k: _hx(v) for k, v in c.registers.items()}}
                       for c in prstatus_cpus(notes)]
        out["vmcoreinfo"] = None
        out["translation"] = None
        out["layout"] = []
        if vmcoreinfo_text:
            _linux_part(out, vmcoreinfo_text, warnings)
        out["warnings"] = warnings + [w for w in getattr(obj, "warnings", ()) if w not in warnings]
        return out
    finally:
        obj.close()


def _linux_part(out: dict, text: str, warnings: list[str]) -> None:
    from pgwalk.errors import PgwalkError
    from pgwalk.linux import kernel_layout, registers_from_vmcoreinfo, setup_notes, tbi1_enabled
    from pgwalk.params import granule_name, setup_from_registers
    from pgwalk.vmcoreinfo import parse_vmcoreinfo

    try:
        info = parse_vmcoreinfo(text)
    except PgwalkError as e:
        warnings.append(f"VMCOREINFO: {e}")
        return
    out["vmcoreinfo"] = info.to_json()
    if info.version is None:
        warnings.append("VMCOREINFO has no readable OSRELEASE: the 6.1 layout is assumed")
    try:
        regs = registers_from_vmcoreinfo(info)
        setup = setup_from_registers(regs)
        p = setup.ranges[1]
        out["translation"] = {
            "registers": {k: _hx(v) for k, v in regs.items()},
            "ttbr1_root": _hx(p.base), "granule": granule_name(p.granule_shift),
            "va_bits": p.iasize, "start_level": p.start_level, "ds": p.ds, "tbi1": p.tbi,
            "oa_bits": p.oa_bits,
            "notes": ["TTBR1_EL1 = physical address of swapper_pg_dir (swapper_pg_dir - kimage_voffset)"
                      + ("" if tbi1_enabled(info) else "; TBI1 off (kernel before 5.10)"),
                      *setup_notes(info), *setup.notes],
        }
    except PgwalkError as e:
        out["translation"] = {"error": str(e)}
    try:
        out["layout"] = [{"name": r.name, "start": _hx(r.start), "end": _hx(r.end), "approx": r.approx,
                          "note": r.note} for r in kernel_layout(info)]
    except PgwalkError as e:
        warnings.append(f"kernel layout: {e}")


# --------------------------------------------------------------------------
# Text rendering
# --------------------------------------------------------------------------

def _render(d: dict, all_regions: bool) -> None:
    """``info``'s text on :func:`.output.text_output`'s presentation (plain lines without rich in
    a pipe)."""
    from .output import notes, text_output, warning

    out = text_output()
    out.line((d["path"], "bold"), f": {d['format_description']}, {_sizes(d)}")
    m = d["memory"]
    out.line(("memory", "bold"), f": {m['count']} region{'s' if m['count'] != 1 else ''}, "
             f"{_size_text(m['total'])} ({m['total_hex']}), {len(m['holes'])} hole{'s' if len(m['holes']) != 1 else ''}")
    shown = m["regions"] if all_regions else m["regions"][:_MAX_REGIONS_SHOWN]
    out.table([(r["start"], r["end"], _size_text(int(r["size"], 16)), r["kind"]) for r in shown],
              header=("start", "end", "size", "kind"), right=(0, 1, 2), borders=False)
    if len(shown) < len(m["regions"]):
        out.line(("  ... " + f"{len(m['regions']) - len(shown)} more (--all-regions)", "dim"))
    if m["holes"]:
        hs = m["holes"] if all_regions else m["holes"][:8]
        out.line("holes: " + ", ".join(f"[{h['start']}, {h['end']})" for h in hs)
                 + (" ..." if len(hs) < len(m["holes"]) else ""))
    if d["kdump"]:
        k = d["kdump"]
        comp = ", ".join(f"{c}{'' if k['compression_available'].get(c) else ' (library missing: pip install pgwalk[kdump])'}"
                         for c in d["compression"]) or "none"
        out.line(("kdump", "bold"), f": header version {k['header_version']}, block size {k['block_size']}, "
                 f"compression {comp}, dump level {k['dump_level']}, {k['nr_cpus']} CPU(s)")
        sp = k.get("split")
        dumped = (f"{k['pages_dumped_all']} dumped, {k['pages_dumped']} of them in this file (pfns "
                  f"{sp['start_pfn']}-{sp['end_pfn']} of a split dump; {sp['pages_in_other_files']} in "
                  "the other files)" if sp else f"{k['pages_dumped']} dumped")
        out.line(f"  pages: {k['pages_present']} present, {dumped}, "
                 f"{k['pages_excluded']} excluded; status {', '.join(k['status_flags']) or '0'}"
                 + (f"; {k['flattened_records']} flattened records" if k["flattened_records"] is not None else ""))
        if k.get("damage"):
            out.line("  ", (f"damaged: {k['damage']}; no page of this file is read", "red"))
        uts = " ".join(v for v in (k["utsname"].get("sysname"), k["utsname"].get("release"),
                                   k["utsname"].get("machine")) if v)
        if uts:
            out.line(f"  utsname: {uts}")
    elif d["elf"]:
        e = d["elf"]
        out.line(("ELF", "bold"), f": machine {e['machine']}, {e['phnum']} program headers; compression none"
                 + (f" (the file as a whole is {d['file_compression']}-compressed)" if d["file_compression"] else ""))
    if d["notes"]:
        out.line(("notes", "bold"), ": " + ", ".join(f"{n['name']} {n['type_name']} ({n['size']} bytes)"
                                                    for n in d["notes"]))
    for c in d["cpus"]:
        regs = c["registers"]
        out.line((f"CPU {c['index']}", "bold"), f" (pid {c['pid']}, EL{c['el']}): pc {regs['pc']}  "
                 f"sp {regs['sp']}  pstate {regs['pstate']}")
        names = [f"x{i}" for i in range(31)]
        for i in range(0, 31, 3):
            out.line("  " + "  ".join(f"{n:>3} {int(regs[n], 16):016x}" for n in names[i:i + 3]))
    vi = d["vmcoreinfo"]
    if vi:
        _render_vmcoreinfo(out, vi)
    tr = d["translation"]
    if tr:
        if "error" in tr:
            out.line(("translation setup", "bold"), ": ", (tr["error"], "red"))
        else:
            out.line(("translation setup", "bold"), " (derived from VMCOREINFO; --regs overrides): "
                     f"TTBR1 root {tr['ttbr1_root']}, {tr['granule']} granule, {tr['va_bits']}-bit VA, "
                     f"start level {tr['start_level']}, at most {tr['oa_bits']}-bit OA, DS {int(tr['ds'])}, "
                     f"TBI1 {int(tr['tbi1'])}")
            out.line("  " + "  ".join(f"{k} {v}" for k, v in tr["registers"].items()))
            out.file.flush()
            notes(tr["notes"])
    if d["layout"]:
        rows = []
        for r in d["layout"]:
            size = int(r["end"], 16) - int(r["start"], 16)
            rows.append((r["name"] + (" ~" if r["approx"] else ""), r["start"], r["end"], _size_text(size),
                         (r["note"] or "", "dim")))
        out.table(rows, header=("range", "start", "end", "size", "note"), right=(1, 2, 3), title="kernel layout",
                  borders=False)
        out.line(("  ~ bounds inferred (kernel version, estimates), not given by VMCOREINFO", "dim"))
    out.file.flush()
    for w in d["warnings"]:
        warning(w)


def _sizes(d: dict) -> str:
    """The dump's size, and the file's when the file is compressed: both, each named."""
    def both(n: int) -> str:
        return _size_text(n) + (f" ({n} bytes)" if n >= 1024 else "")

    if not d["file_compression"]:
        return both(d["dump_size"])
    return (f"{both(d['dump_size'])} decompressed; the file is {d['file_compression']}-compressed, "
            f"{both(d['file_size'])} on disk")


def _render_vmcoreinfo(out, vi: dict) -> None:
    out.line(("VMCOREINFO", "bold"), f": kernel {vi['osrelease']}, page size {vi['page_size']}, "
             f"VA_BITS {vi['va_bits']} ({vi['va_bits_actual']} in use), "
             f"kimage_voffset {vi['kimage_voffset']}, PHYS_OFFSET {vi['phys_offset']}"
             + (f" ({vi['phys_offset_u64']} as u64)" if vi["phys_offset"] != vi["phys_offset_u64"] else "")
             + f", KASLR offset {vi['kaslr_offset']}, swapper_pg_dir {vi['swapper_pg_dir']}")
    if vi["build_id"]:
        out.line(f"  build id {vi['build_id']}")
    for title, items in (("SYMBOL", vi["symbols"]), ("NUMBER", vi["numbers"])):
        if items:
            out.line(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in items.items()))
    rows = [(f"SIZE({k})", v) for k, v in vi["sizes"].items()]
    rows += [(f"OFFSET({k})", v) for k, v in vi["offsets"].items()]
    rows += [(f"LENGTH({k})", v) for k, v in vi["lengths"].items()]
    rows += [(k, v) for k, v in vi["other"].items()]
    if rows:
        out.line("  " + ", ".join(f"{k}={v}" for k, v in rows))
    for b in vi["bad_lines"]:
        out.line("  ", ("unreadable line", "yellow"), f": {b}")


def run_info(dump: str, as_json: bool, all_regions: bool, symbols_only: bool = False) -> int:
    """Describe a crash dump: format, memory, notes, CPUs, VMCOREINFO, derived translation setup.

    DUMP is an ELF core (QEMU dump-guest-memory, /proc/vmcore), a
    kdump-compressed file (makedumpfile, QEMU kdump-*; plain or flattened)
    or a raw memory image.
    """
    d = gather(dump)
    if symbols_only:
        from .read import show_symbols

        return show_symbols(d, as_json)
    if as_json:
        from ..jsonrecords import json_line, json_record

        echo(json_line(json_record("info", d)), nl=False)
    else:
        _render(d, all_regions)
    return 0


INFO = Command("info", run_info, (
    *dump_params(),
    Option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    Option("--all-regions", is_flag=True, help="List every memory region and hole."),
    Option("--symbols", "symbols_only", is_flag=True, help="List only the VMCOREINFO symbols, which "
           "every command takes as addresses (SYMBOL, SYMBOL+0x10)."),
), prepare=pick_dump())
