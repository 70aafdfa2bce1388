"""Fuzz targets: one function per input kind, ``target(data: bytes) -> None``.

Each target feeds the bytes to pgwalk the way a user's file would reach it
and checks the robustness contract of issue 8:

* only :class:`~pgwalk.errors.PgwalkError` may escape (the CLI turns it into
  one line and exit status 2); anything else is a crash;
* every message (error or warning) is one line;
* what is mapped is true: an ELF region reads exactly the file bytes at its
  offset, a zero-fill region reads zeros, a kdump page reads a whole page or
  is reported not in the image; regions are sorted and disjoint;
* walks never raise and their faults are well formed (:func:`check_translation`);
* the CLI (``--debug``, so that nothing is swallowed) returns 0, 1 or 2.

They are used by the atheris harnesses (``tests/fuzz/fuzz_*.py``, coverage
guided) and by the CI-bounded hypothesis tests (``tests/test_fuzz_targets.py``).
A failing input raises; the harness saves it, and ``tests/data/regressions/``
keeps the ones found (replayed by ``tests/test_fuzz_regressions.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from pgwalk.errors import NotInImage, PgwalkError  # noqa: E402
from fuzz import seeds  # noqa: E402

__all__ = ["TARGETS", "image_target", "regs_target", "kernlog_target", "vmcoreinfo_target",
           "check_translation", "check_message", "run_cli", "Workdir"]

#: the CLI is exercised on every CLI_EVERY-th input (it costs ~10x the library calls)
CLI_EVERY = int(os.environ.get("PGWALK_FUZZ_CLI_EVERY", "4"))
_calls = {"n": 0}


class Workdir:
    """One temporary directory per process for the input files."""

    _dir: Path | None = None

    @classmethod
    def path(cls, name: str) -> Path:
        if cls._dir is None:
            cls._dir = Path(tempfile.mkdtemp(prefix="pgwalk-fuzz-"))
            atexit.register(shutil.rmtree, cls._dir, ignore_errors=True)   # (in-process test runs)
        return cls._dir / name

    @classmethod
    def write(cls, name: str, data: bytes) -> str:
        p = cls.path(name)
        p.write_bytes(data)
        return str(p)


def check_message(text: str) -> None:
    """A message for the user: a non-empty single line."""
    assert isinstance(text, str) and text.strip(), f"empty message {text!r}"
    assert "\n" not in text.strip(), f"multi-line message: {text!r}"


def _tick() -> bool:
    _calls["n"] += 1
    return CLI_EVERY > 0 and _calls["n"] % CLI_EVERY == 0


def run_cli(argv: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
    """``pgwalk --debug ARGV`` in-process: (status, stdout, stderr).  A PgwalkError
    (what the CLI prints as one line without --debug) gives status 2; anything
    else propagates: that is a crash."""
    from pgwalk.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_in = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="replace")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(["--debug", *argv])
            except PgwalkError as e:
                check_message(str(e))
                rc = 2
    finally:
        sys.stdin = old_in
    assert rc in (0, 1, 2), f"exit status {rc!r} for {argv}"
    assert "Traceback" not in err.getvalue()
    return rc, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------
# walks
# --------------------------------------------------------------------------

def check_translation(t) -> None:
    """A :class:`pgwalk.walk.Translation` is well formed: a fault has a type, a level in
    -1..3 (or none for unlevelled kinds), an FSC that encodes exactly that type and level,
    and a stage; a success has an output and a leaf."""
    from pgwalk.faults import decode_fsc

    f = t.fault
    if f is None:
        assert t.pa is not None or t.ipa is not None, t
        return
    assert f.stage in (1, 2)
    if f.type.has_level:
        assert f.level is not None and -1 <= f.level <= 3, f
    else:
        assert f.level is None, f
    info = decode_fsc(f.fsc)
    assert info.type is f.type and info.level == f.level, (f, info)
    assert f.stage == 2 or not f.s1ptw
    assert t.pa is None
    if f.stage == 1:
        assert t.ipa is None
    check_message(str(f))


def _walk_everything(mem, regs: dict[str, int], vas=seeds.PROBE_VAS) -> None:
    """translate, AT, dump-tree and the bulk walker over ``mem`` with ``regs``; nothing may raise."""
    from pgwalk.at import at as run_at
    from pgwalk.params import setup_from_registers
    from pgwalk.tree import Limits, RangeMerger, tree_params, walk_tree
    from pgwalk.walk import translate

    try:
        setup = setup_from_registers(regs)
    except PgwalkError as e:
        check_message(str(e))
        return
    for va in vas:
        try:
            t = translate(setup, mem, va)
        except PgwalkError as e:          # only: pages compressed with a library not installed
            check_message(str(e))
            return
        check_translation(t)
    try:
        res = run_at(setup, mem, "S1E1R", vas[0])
        assert res.par is None or 0 <= res.par < 1 << 64
    except PgwalkError as e:
        check_message(str(e))
    names = ["ttbr0", "ttbr1"] if len(setup.ranges) == 2 else ["ttbr0"]
    limits = Limits(max_tables=64, max_entries=64 * 512)
    for n in names:
        try:
            s = walk_tree(tree_params(setup, n), mem, RangeMerger(lambda run: None), invalid=True, limits=limits)
        except PgwalkError as e:
            check_message(str(e))
            continue
        assert s.tables <= limits.max_tables + 1
        if s.stopped:
            check_message(s.stopped)


# --------------------------------------------------------------------------
# images: ELF cores, kdump files (plain, flattened), raw
# --------------------------------------------------------------------------

def _check_memory(mem, data: bytes) -> None:
    from pgwalk.memory import PA_LIMIT

    prev_end = -1
    for w in mem.warnings:
        check_message(w)
    for r in mem.regions:
        assert r.size > 0 and r.base >= 0 and r.end <= PA_LIMIT, r
        assert r.base >= prev_end, f"overlapping or unsorted regions at {r}"
        prev_end = r.end
    for r in mem.regions[:64]:
        n = min(64, r.size)
        for pa in {r.base, r.end - n}:
            try:
                got = mem.read(pa, n)
            except NotInImage as e:
                assert r.kind == "kdump pages", f"{r}: {e}"
                check_message(str(e))
                continue
            except PgwalkError as e:
                check_message(str(e))
                continue
            assert len(got) == n
            if r.kind in ("elf PT_LOAD", "raw"):
                off = r.offset + (pa - r.base)
                assert off + n <= len(data), f"{r} maps bytes beyond the end of the file"
                assert got == data[off:off + n], f"{r}: reads are not the file's bytes at {off:#x}"
            elif r.kind == "zero fill":
                assert got == bytes(n)
    for core in mem.elf_cores:
        try:
            notes = core.notes
            text = core.vmcoreinfo
        except PgwalkError as e:
            check_message(str(e))
            continue
        for note in notes:
            assert isinstance(note.desc, bytes)
        assert text is None or isinstance(text, str)
        for w in core.warnings:
            check_message(w)


def _registers_for(mem) -> dict[str, int]:
    """What ``load_context`` would use with no register options: VMCOREINFO's, else the mini kernel's."""
    from pgwalk.linux import registers_from_vmcoreinfo, vmcoreinfo_from_memory

    try:
        info = vmcoreinfo_from_memory(mem)
        if info is not None:
            return registers_from_vmcoreinfo(info)
    except PgwalkError as e:
        check_message(str(e))
    return dict(seeds.mini_kernel()[1])


def _info(path: str) -> None:
    from pgwalk.cmd.info import _render, gather

    try:
        d = gather(path)
    except PgwalkError as e:
        check_message(str(e))
        return
    json.dumps(d)
    for w in d["warnings"]:
        check_message(w)
    with contextlib.redirect_stdout(io.StringIO()):
        _render(d, all_regions=False)


def image_target(data: bytes, name: str = "image") -> None:
    """Open ``data`` as a memory image/crash dump and use it every way pgwalk can."""
    from pgwalk.images import open_images

    path = Workdir.write(name, data)
    try:
        mem = open_images([path])
    except PgwalkError as e:
        check_message(str(e))
        mem = None
    if mem is not None:
        with mem:
            _check_memory(mem, data)
            _walk_everything(mem, _registers_for(mem))
    _info(path)
    if _tick():
        vas = [hex(v) for v in seeds.PROBE_VAS]
        run_cli(["info", "--json", path])
        run_cli(["translate", "-i", path, "--json", *vas])
        run_cli(["dump-tree", "-i", path, "--json", "--max-tables", "40"])
        run_cli(["at", "S1E1R", vas[1], "-i", path, "--hw-par", "0x800"])
        run_cli(["vtop", path, vas[0]])
    with open(path, "rb") as f:                      # never written
        assert f.read() == data


# --------------------------------------------------------------------------
# register files
# --------------------------------------------------------------------------

def regs_target(data: bytes) -> None:
    """``data`` as a register file (TOML when it starts with ``#``, ``[`` after a newline or a
    letter; JSON otherwise, as load_register_file decides), then a walk with those registers."""
    from pgwalk.memory import PhysicalMemory
    from pgwalk.regs import load_register_file, parse_reg_assignment

    suffix = ".toml" if data[:1] == b"#" else ".json"
    path = Workdir.write("regs" + suffix, data)
    try:
        regs = load_register_file(path)
    except PgwalkError as e:
        check_message(str(e))
        regs = None
    text = data[:200].decode("utf-8", "replace")
    try:
        parse_reg_assignment(text.splitlines()[0] if text.splitlines() else text)
    except PgwalkError as e:
        check_message(str(e))
    if regs:
        mem_bytes, _ = seeds.mini_kernel()
        mem = PhysicalMemory.from_buffers({0: mem_bytes})
        _walk_everything(mem, regs, vas=seeds.PROBE_VAS[:4])
    if _tick():
        img = Workdir.write("regs-image", seeds.mini_kernel()[0])
        run_cli(["translate", "-i", img, "--regs", path, "--json", hex(seeds.PROBE_VAS[0])])
        run_cli(["dump-tree", "-i", img, "--regs", path, "--max-tables", "20", "--json"])


# --------------------------------------------------------------------------
# kernel logs
# --------------------------------------------------------------------------

def _mini_walk_fn():
    from pgwalk.kernlog import linux_walk_registers
    from pgwalk.memory import PhysicalMemory
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate

    mem = PhysicalMemory.from_buffers({0: seeds.mini_kernel()[0]})

    def walk_fn(pgdp: int, address: int, *, page_kb: int, va_bits: int) -> dict:
        setup = setup_from_registers(linux_walk_registers(pgdp, page_kb, va_bits))
        t = translate(setup, mem, address, stages="1")
        check_translation(t)
        return {s.level: s.raw for s in t.steps if s.stage == 1 and s.raw is not None}

    return walk_fn


def kernlog_target(data: bytes) -> None:
    """``data`` as a kernel log: every report found, decoded, compared, rendered."""
    from rich.console import Console

    from pgwalk.cmd.decode_esr import _render_report
    from pgwalk.cmd.output import RichOut
    from pgwalk.kernlog import compare_logged_walk, iter_problem_lines, parse_text

    text = data.decode("utf-8", errors="replace")
    reports = parse_text(text)
    walk_fn = _mini_walk_fn()
    con = Console(file=io.StringIO(), width=120)
    for r in reports:
        json.dumps(r.to_json())
        cmp = None
        if r.walk is not None and r.walk.entries:
            cmp = compare_logged_walk(r, walk_fn)
            json.dumps(cmp.to_json())
        _render_report(RichOut(con), r, cmp)
    for line in iter_problem_lines(reports):
        assert isinstance(line, str)
    if _tick():
        path = Workdir.write("kern.log", data)
        img = Workdir.write("kern-image", seeds.mini_kernel()[0])
        run_cli(["decode-esr", "--log", path])
        run_cli(["decode-esr", "--log", path, "--json", "--image", img])
        run_cli(["decode-esr", "--log", path, "--linux"])


# --------------------------------------------------------------------------
# VMCOREINFO (and through it, the Linux layout and conversions)
# --------------------------------------------------------------------------

def vmcoreinfo_target(data: bytes) -> None:
    from pgwalk.cmd.info import _linux_part
    from pgwalk.linux import (is_linear, kernel_layout, kimage_ptov, kimage_vtop, label_address,
                              ptov_linear, registers_from_vmcoreinfo, vtop_linear)
    from pgwalk.memory import PhysicalMemory
    from pgwalk.vmcoreinfo import parse_vmcoreinfo

    try:
        info = parse_vmcoreinfo(data)
    except PgwalkError as e:
        check_message(str(e))
        return
    json.dumps(info.to_json())
    out: dict = {}
    warnings: list[str] = []
    _linux_part(out, data.rstrip(b"\0").decode("ascii", "replace"), warnings)
    json.dumps(out)
    try:
        layout = kernel_layout(info)
    except PgwalkError as e:
        check_message(str(e))
        layout = []
    for va in seeds.PROBE_VAS:
        label_address(layout, va)
        for fn in (vtop_linear, kimage_vtop, ptov_linear, kimage_ptov, is_linear):
            try:
                v = fn(info, va)
                assert isinstance(v, (bool, int))
            except (PgwalkError, ValueError) as e:
                check_message(str(e))
    try:
        regs = registers_from_vmcoreinfo(info)
    except PgwalkError as e:
        check_message(str(e))
        return
    mem = PhysicalMemory.from_buffers({0: seeds.mini_kernel()[0]})
    _walk_everything(mem, regs, vas=seeds.PROBE_VAS[:4])
    from pgwalk.linux import KernelTranslator

    try:
        kt = KernelTranslator(info, mem)
    except PgwalkError as e:
        check_message(str(e))
    else:
        for va in (*seeds.PROBE_VAS[:4], 0, (1 << 64) - 1):
            r = kt.vtop(va)           # never raises for an address; a PA only with its source
            assert (r.pa is None) == (r.how is None) and (r.pa is None or 0 <= r.pa < 1 << 52), r
            assert r.pa is not None or r.reason
        for pa in (0, 0x2000, 1 << 52, (1 << 64) - 1):
            q = kt.ptov(pa)
            assert q.linear is None or q.in_dump
    if _tick():
        mem_bytes, _ = seeds.mini_kernel()
        core = seeds.elf_core([dict(paddr=0, data=mem_bytes[:0x9000])],
                              seeds._notes([("VMCOREINFO", 0, data)]))
        path = Workdir.write("vmci.elf", core)
        vas = [hex(v) for v in seeds.PROBE_VAS[:3]]
        run_cli(["translate", "-i", path, *vas])
        run_cli(["translate", "-i", path, "--reg", "TCR_EL1=0x15b5103510", "--reg", "TTBR1_EL1=0x2000", *vas])
        run_cli(["vtop", path, *vas])
        run_cli(["ptov", path, "0x1000", "0x40000000"])
        run_cli(["dump-tree", "-i", path, "--max-tables", "20"])


def kdump_target(data: bytes) -> None:
    image_target(data, "dump.kdump")


def flat_target(data: bytes) -> None:
    image_target(data, "dump.flat")


def elf_target(data: bytes) -> None:
    image_target(data, "core.elf")


TARGETS = {"elf": elf_target, "kdump": kdump_target, "flat": flat_target, "regs": regs_target,
           "kernlog": kernlog_target, "vmcoreinfo": vmcoreinfo_target}
