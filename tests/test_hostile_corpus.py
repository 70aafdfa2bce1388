"""A corpus of corrupted dumps made from real ones, with the expected message for each (issue 8).

* The real Linux ELF dump (268 MB) as a *sparse copy*: its headers and notes plus the pages a
  walk of some kernel addresses reads, at their offsets, in a file of the real size (so each
  variant costs a few pages of disk): truncated at every structure boundary (ELF header,
  program headers, each note, the PT_LOAD, each translation table) and at a seeded random
  sample of offsets; header fields set to hostile values; program headers shuffled,
  duplicated and overlapping.
* The real flattened kdump (16 MB): truncated at every structure boundary (makedumpfile
  header, each header record, the bitmaps, the descriptors, the end marker) and at a sample
  of page-data record boundaries, and inside a record.
* A synthetic plain kdump (``write_kdump``): truncated at every structure boundary, each
  header field corrupted, page descriptors and compressed data corrupted.
* Real makedumpfile output (``makedumpfile-public``: a ``-d 31`` dump and its three split
  files): bitmaps claiming more pages than there are descriptors (one extra bit early, at
  the end, a run of them), overlapping page descriptors, split files with an extra or a
  missing bit in their range, an extra bit outside it, damaged or overlapping pfn ranges.
  Each is reported as damage, and no page is ever read shifted onto another's data.

For each variant: ``info --json`` and ``translate --json`` through the real CLI entry give
the expected exit status and message (what is present is used, what is missing is named).
The real dumps come from the oracle folder (skipped without it); the synthetic part always runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import struct
import sys
from pathlib import Path

import pytest

from pgwalk.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import seeds  # noqa: E402
from oracle_data import linux_translations, linux_vmcore_elf, linux_vmcore_kdump  # noqa: E402


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    e = err.getvalue()
    assert rc in (0, 1, 2) and "Traceback" not in e, (argv, rc, e)
    if rc == 2:
        assert len([x for x in e.splitlines() if x.startswith("pgwalk: error:")]) == 1, e
    return rc, out.getvalue(), e


def info(path) -> tuple[int, dict | None, str]:
    rc, out, err = cli("info", "--json", path)
    return rc, (json.loads(out) if rc == 0 else None), err


def translate(path, vas, *extra) -> tuple[int, list[dict], str]:
    rc, out, err = cli("translate", "-i", path, "--json", "--trace", *extra, *[hex(v) for v in vas])
    return rc, [json.loads(x) for x in out.splitlines() if x.strip()], err


def _copy_prefix(src: Path, dst: Path, n: int) -> Path:
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        left = n
        while left:
            sent = os.sendfile(fo.fileno(), fi.fileno(), n - left, left)
            if not sent:
                break
            left -= sent
    return dst


# --------------------------------------------------------------------------
# the real ELF dump, as a sparse copy
# --------------------------------------------------------------------------

ELF_HEAD = 0x1B54          # ELF header + 2 program headers + the PT_NOTE segment (readelf)
LOAD_PADDR = 0x4000_0000


@pytest.fixture(scope="module")
def real_elf(tmp_path_factory):
    src = linux_vmcore_elf()
    entries = linux_translations()
    if src is None or not entries:
        pytest.skip("oracle folder not available")
    from pgwalk.linux import registers_from_vmcoreinfo, vmcoreinfo_from_memory
    from pgwalk.images import open_image
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate as walk

    good = [int(e["va"], 16) for e in entries
            if e.get("agrees_with_kernel") and e["regimes"]["el1_nopan"]["pa"] and int(e["va"], 16) >> 63]
    vas = sorted(set(random.Random(8).sample(good, 6)))
    pages: set[int] = set()
    expected = {}
    with open_image(str(src)) as mem:
        setup = setup_from_registers(registers_from_vmcoreinfo(vmcoreinfo_from_memory(mem)))
        for va in vas:
            t = walk(setup, mem, va)
            assert t.ok
            expected[va] = t.pa
            pages |= {s.desc_pa & ~0xFFF for s in t.steps}
    d = tmp_path_factory.mktemp("real-elf")
    size = src.stat().st_size
    base = d / "sparse.elf"
    with open(src, "rb") as fi, open(base, "wb") as fo:
        fo.write(fi.read(ELF_HEAD))
        for pa in sorted(pages):
            off = ELF_HEAD + pa - LOAD_PADDR
            fi.seek(off)
            fo.seek(off)
            fo.write(fi.read(0x1000))
        fo.truncate(size)
    return {"src": src, "base": base, "vas": vas, "expected": expected, "pages": sorted(pages), "dir": d,
            "size": size}


def _variant(real, name: str, patch=None, cut: int | None = None) -> Path:
    """A copy of the sparse ELF (sparse too), patched and/or truncated."""
    p = real["dir"] / name
    with open(real["base"], "rb") as fi, open(p, "wb") as fo:
        fo.write(fi.read(ELF_HEAD))
        for pa in real["pages"]:
            off = ELF_HEAD + pa - LOAD_PADDR
            fi.seek(off)
            fo.seek(off)
            fo.write(fi.read(0x1000))
        fo.truncate(real["size"])
    if patch:
        with open(p, "r+b") as f:
            for off, blob in patch:
                f.seek(off)
                f.write(blob)
    if cut is not None:
        os.truncate(p, cut)
    return p


def test_sparse_copy_is_the_real_dump(real_elf):
    rc, results, _ = translate(real_elf["base"], real_elf["vas"])
    assert rc == 0
    assert [int(r["pa"], 16) for r in results] == [real_elf["expected"][v] for v in real_elf["vas"]]


def _note_boundaries(real) -> list[int]:
    with open(real["base"], "rb") as f:
        notes = f.read(ELF_HEAD)[0x130:ELF_HEAD]
    out, pos = [], 0
    while pos + 12 <= len(notes):
        namesz, descsz, _t = struct.unpack_from("<III", notes, pos)
        out.append(0x130 + pos + 12)                                      # inside the note's name
        pos += 12 + (namesz + 3 & ~3) + (descsz + 3 & ~3)
        out.append(0x130 + pos)                                           # after the note
    return out


def _elf_expectation(real, cut: int) -> tuple[int, str | None]:
    """(info exit status, a message info must give) for the ELF cut at ``cut`` bytes."""
    if cut == 0:
        return 2, "the file is empty"
    if cut < 4:
        return 0, None                                                    # no ELF magic: a raw image
    if cut < 64:
        return 2, "broken ELF header: the file is only"
    if cut < 0xC0 + 2 * 56:
        return 2, "runs past the end of the file"
    if cut < ELF_HEAD:
        return 0, "PT_NOTE 0 runs past the end of the file"
    if cut >= ELF_HEAD + 0x1000_0000:                                     # (11 bytes follow the PT_LOAD)
        return 0, None
    return 0, f"the file is truncated; [{LOAD_PADDR + cut - ELF_HEAD:#x}, 0x50000000)"


def test_elf_truncated_at_every_structure_boundary(real_elf):
    r = real_elf
    pages = [ELF_HEAD + pa - LOAD_PADDR for pa in r["pages"]]
    cuts = {0, 3, 4, 15, 16, 63, 64, 0xC0, 0xC0 + 56, 0xC0 + 100, 0x130, ELF_HEAD - 1, ELF_HEAD, ELF_HEAD + 8,
            r["size"] - 1, *_note_boundaries(r), *pages, *[p + 0x800 for p in pages], *[p + 0x1000 for p in pages]}
    rnd = random.Random(8)
    cuts |= {rnd.randrange(0, ELF_HEAD) for _ in range(6)} | {rnd.randrange(ELF_HEAD, max(pages) + 0x1000) for _ in range(6)}
    for cut in sorted(cuts):
        p = _variant(r, f"cut-{cut}", cut=cut)
        want_rc, want_msg = _elf_expectation(r, cut)
        rc, d, err = info(p)
        assert rc == want_rc, (cut, err)
        text = err if rc == 2 else "\n".join(d["warnings"])
        if want_msg:
            assert want_msg in text, (cut, text)
        if rc != 0 or cut < ELF_HEAD:
            continue
        rc, results, err = translate(p, r["vas"])
        present = LOAD_PADDR + cut - ELF_HEAD                 # PAs below are in the file
        for va, res in zip(r["vas"], results):
            if res["ok"]:
                assert int(res["pa"], 16) == r["expected"][va], (cut, res)   # never a wrong answer
            else:                                            # a table past the cut: named as missing
                f = res["fault"]
                assert f["type"] == "synchronous external abort on translation table walk" and f["not_in_image"]
                assert int(res["steps"][-1]["desc_pa"] or res["steps"][-1]["desc_addr"], 16) >= present, (cut, res)


HDR_FLIPS = [
    # (offset, bytes, info exit status, expected message)
    (4, b"\x01", 2, "not supported: 32-bit ELF"), (4, b"\x03", 2, "unknown class 3"),
    (5, b"\x02", 2, "not supported: big-endian ELF"), (5, b"\x00", 2, "unknown data encoding 0"),
    (18, struct.pack("<H", 62), 0, "ELF machine is x86-64 (e_machine 62), not AArch64"),
    (16, struct.pack("<H", 1), 0, "is not a core file (ET_CORE)"),
    (32, struct.pack("<Q", 1 << 62), 2, "the program header table"),
    (54, struct.pack("<H", 8), 2, "e_phentsize 8 is smaller than a program header"),
    (56, struct.pack("<H", 0), 0, "the ELF file has no program headers"),     # info describes it; translate: 2
    (56, struct.pack("<H", 0xFFFF), 0, None),                                   # PN_XNUM: count from section 0
    (0xC0 + 56, struct.pack("<I", 0), 0, "no PT_LOAD segment holds any memory"),          # PT_LOAD -> PT_NULL
    (0xC0 + 56 + 32, struct.pack("<Q", 1 << 40), 0, "p_filesz 0x10000000000 exceeds p_memsz"),
    (0xC0 + 56 + 40, struct.pack("<Q", 1 << 60), 0, "lies beyond p_filesz and reads as zeros"),   # p_memsz
    (0xC0 + 56 + 8, struct.pack("<Q", 1 << 40), 0, "is missing and not in the image"),    # p_offset past EOF
    (0xC0 + 32, struct.pack("<Q", 4 << 30), 0, "PT_NOTE 0 runs past the end of the file"),  # note segment 4 GiB
    (0xC0 + 56 + 24, struct.pack("<Q", 0), 0, None),                                      # p_paddr 0: moved
]


@pytest.mark.parametrize("off, blob, want_rc, want", HDR_FLIPS)
def test_elf_header_fields_set_to_hostile_values(real_elf, off, blob, want_rc, want):
    p = _variant(real_elf, f"hdr-{off}-{blob.hex()}", patch=[(off, blob)])
    rc, d, err = info(p)
    assert rc == want_rc, err
    if want:
        assert want in (err if rc == 2 else "\n".join(d["warnings"])), (err, d and d["warnings"])
    rc, results, err = translate(p, real_elf["vas"])
    if want in ("the ELF file has no program headers", "no PT_LOAD segment holds any memory"):
        assert rc == 2 and "the images given hold no memory" in err
    for va, res in zip(real_elf["vas"], results):
        if res["ok"] and off != 0xC0 + 56 + 24:
            assert int(res["pa"], 16) == real_elf["expected"][va]


def test_elf_random_header_bit_flips(real_elf):
    rnd = random.Random(88)
    for i in range(24):
        off = rnd.randrange(0, 0x130)
        with open(real_elf["base"], "rb") as f:
            f.seek(off)
            b = f.read(1)[0] ^ (1 << rnd.randrange(8))
        p = _variant(real_elf, f"flip-{i}", patch=[(off, bytes([b]))])
        info(p)
        translate(p, real_elf["vas"][:2])
        os.unlink(p)


def _phdrs(real) -> tuple[bytes, bytes]:
    with open(real["base"], "rb") as f:
        head = f.read(0x130)
    return head[0xC0:0xF8], head[0xF8:0x130]            # PT_NOTE, PT_LOAD


def test_elf_shuffled_duplicated_and_overlapping_segments(real_elf):
    r = real_elf
    note, load = _phdrs(r)
    # swapped order: the same answers
    p = _variant(r, "swapped", patch=[(0xC0, load + note)])
    rc, results, _ = translate(p, r["vas"])
    assert rc == 0 and [int(x["pa"], 16) for x in results] == [r["expected"][v] for v in r["vas"]]
    # a duplicated PT_LOAD (a table appended past the end, e_phoff pointing at it): same contents, silent
    table = note + load + load
    p = _variant(r, "dup", patch=[(r["size"], table), (32, struct.pack("<Q", r["size"])), (56, struct.pack("<H", 3))])
    rc, d, _ = info(p)
    assert rc == 0 and not any("the region given first is used there" in w for w in d["warnings"])
    assert any("PT_LOADs overlap at [0x40000000, 0x50000000)" in w for w in d["warnings"])     # named in info
    rc, results, _ = translate(p, r["vas"])
    assert [int(x["pa"], 16) for x in results] == [r["expected"][v] for v in r["vas"]]
    # an overlapping PT_LOAD with other contents (file offset moved by a page): named, the first wins
    moved = bytearray(load)
    struct.pack_into("<Q", moved, 8, struct.unpack_from("<Q", load, 8)[0] + 0x1000)
    p = _variant(r, "overlap", patch=[(r["size"], note + load + bytes(moved)), (32, struct.pack("<Q", r["size"])),
                                      (56, struct.pack("<H", 3))])
    rc, d, _ = info(p)
    assert rc == 0 and any("overlaps" in w and "the region given first is used there" in w for w in d["warnings"])
    rc, results, err = translate(p, r["vas"])
    assert [int(x["pa"], 16) for x in results] == [r["expected"][v] for v in r["vas"]]
    assert "overlaps" in err or "overlaps" in json.dumps(results[0].get("notes", []))
    # the overlapping one first: then it wins, and the answers change -- but the overlap is named
    p = _variant(r, "overlap-first", patch=[(r["size"], note + bytes(moved) + load),
                                            (32, struct.pack("<Q", r["size"])), (56, struct.pack("<H", 3))])
    rc, d, _ = info(p)
    assert any("overlaps" in w for w in d["warnings"])
    # a zero-sized segment and a non-AArch64 machine: warnings, the memory still used
    zero = bytearray(load)
    struct.pack_into("<QQ", zero, 32, 0, 0)
    p = _variant(r, "zero", patch=[(r["size"], note + bytes(zero) + load), (32, struct.pack("<Q", r["size"])),
                                   (56, struct.pack("<H", 3)), (18, struct.pack("<H", 243))])
    rc, d, _ = info(p)
    w = "\n".join(d["warnings"])
    assert "zero-sized segment skipped" in w and "RISC-V" in w
    rc, results, _ = translate(p, r["vas"])
    assert rc == 0


# --------------------------------------------------------------------------
# the real flattened kdump
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_flat(tmp_path_factory):
    src = linux_vmcore_kdump()
    entries = linux_translations()
    if src is None or not entries:
        pytest.skip("oracle folder not available")
    data = src.read_bytes()
    recs, pos = [], 4096
    while pos + 16 <= len(data):
        off, size = struct.unpack_from(">qq", data, pos)
        recs.append((pos, off, size))
        if off == -1:
            break
        pos += 16 + size
    good = [int(e["va"], 16) for e in entries
            if e.get("agrees_with_kernel") and e["regimes"]["el1_nopan"]["pa"] and int(e["va"], 16) >> 63]
    vas = sorted(set(random.Random(9).sample(good, 6)))
    rc, results, _ = translate(src, vas)
    assert rc == 0
    return {"src": src, "recs": recs, "vas": vas, "expected": {v: int(r["pa"], 16) for v, r in zip(vas, results)},
            "dir": tmp_path_factory.mktemp("real-flat"), "size": len(data)}


def _flat_expectation(recs, cut: int) -> tuple[int, str]:
    """The message for the real flattened dump cut at ``cut`` bytes (plain-file layout: header
    at 0, sub-header at 0x10000, notes and VMCOREINFO after it, bitmaps at 0x20000 and 0x30000,
    page descriptors at 0x40000 -- written near the end of the stream)."""
    if cut == 0:
        return 2, "the file is empty"
    if cut < 16:
        return 0, ""                                                      # no signature: a raw image
    if cut < 4096:
        return 2, "ends inside the 4096-byte makedumpfile header"
    have = [(off, size) for pos, off, size in recs if off >= 0 and pos + 16 + size <= cut]
    if not any(off == 0 for off, _ in have):
        return 2, "diskdump header"
    if not any(off == 0x10000 for off, _ in have):
        return 2, "the kdump sub-header"
    if not any(off == 0x20000 for off, _ in have):
        return 2, "the 1st bitmap"
    if not any(off == 0x30000 for off, _ in have):
        return 2, "the 2nd bitmap"
    if not any(off == 0x40000 for off, _ in have):
        return 0, "page descriptors"
    if any(off == -1 and pos + 16 <= cut for pos, off, _ in recs):
        return 0, ""                                                      # the end marker is there
    return 0, "the flattened stream has no end marker"


def test_flat_truncated_at_every_structure_boundary(real_flat):
    r = real_flat
    recs = r["recs"]
    heads = [pos for pos, off, _ in recs if off < 0x40000 or off == -1]      # header records, descs, end
    data = [pos for pos, off, _ in recs if off >= 0x50000]
    rnd = random.Random(8)
    cuts = {0, 100, 4095, 4096, 4096 + 8, *heads, *[h + 8 for h in heads[:6]], *[h + 40 for h in heads[:6]],
            *rnd.sample(data, 6), *[d + 1000 for d in rnd.sample(data, 3)], r["size"] - 16, r["size"] - 1}
    for cut in sorted(cuts):
        want_rc, want = _flat_expectation(recs, cut)
        p = _copy_prefix(r["src"], r["dir"] / f"cut-{cut}", cut)
        rc, d, err = info(p)
        assert rc == want_rc, (cut, err)
        assert want in (err if rc == 2 else "\n".join(d["warnings"])), (cut, err, d and d["warnings"])
        if not want and rc == 0:
            assert not d["warnings"] or d["format"] == "raw", d["warnings"]
        if rc == 0 and cut >= 16:
            rc, results, err = translate(p, r["vas"])
            for va, res in zip(r["vas"], results):
                if res["ok"]:
                    assert int(res["pa"], 16) == r["expected"][va], (cut, res)
                else:
                    f = res["fault"]
                    assert f["not_in_image"] and "truncated file" in f["reason"], (cut, f)
        os.unlink(p)


# --------------------------------------------------------------------------
# a synthetic plain kdump: every structure boundary, every header field
# --------------------------------------------------------------------------

BS = 4096


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from pgwalk.kdump import open_kdump, write_kdump

    d = tmp_path_factory.mktemp("synthetic")
    mem, _regs = seeds.mini_kernel()
    pages = {i: mem[i * BS:(i + 1) * BS] for i in range(9) if any(mem[i * BS:(i + 1) * BS])}
    p = d / "dump.kdump"
    write_kdump(p, pages, compression="zlib", zero_runs=[(0x10, 2)], excluded_runs=[(0x20, 4)],
                vmcoreinfo=seeds.MINI_VMCOREINFO, notes=[("CORE", 1, seeds.prstatus())])
    with open_kdump(p) as k:
        sub = k.sub_header
        layout = dict(bitmap=k.bitmap_offset, half=k.bitmap_half, desc=k.desc_offset, dumped=k.pages_dumped,
                      note=sub.offset_note, note_size=sub.size_note, vmci=sub.offset_vmcoreinfo,
                      vmci_size=sub.size_vmcoreinfo)
        descs = [k.page_desc(pfn) for pfn in sorted(pages)]
    vas = [v for v in seeds.PROBE_VAS if v >> 63]
    rc, results, _ = translate(p, vas)
    expected = {v: (int(x["pa"], 16) if x["ok"] else None) for v, x in zip(vas, results)}
    return {"path": p, "data": p.read_bytes(), "layout": layout, "descs": descs, "vas": vas, "expected": expected,
            "dir": d}


def _plain_expectation(s, cut: int) -> tuple[int, str]:
    L = s["layout"]
    if cut == 0:
        return 2, "the file is empty"
    if cut < 8:
        return 0, ""                                                   # no signature: raw
    if cut < 464:
        return 2, "the diskdump header"
    if cut < BS + 104:
        return 2, "the kdump sub-header"
    if cut < L["bitmap"] + (0x29 + 7) // 8:
        return 2, "the 1st bitmap"
    if cut < L["bitmap"] + L["half"] + (0x29 + 7) // 8:
        return 2, "the 2nd bitmap"
    if cut < L["desc"] + L["dumped"] * 24:
        return 0, "the page descriptors end at"
    return 0, ""


def test_plain_kdump_truncated_at_every_structure_boundary(synthetic):
    s = synthetic
    L = s["layout"]
    cuts = {0, 4, 8, 100, 463, 464, BS, BS + 104, L["note"], L["note"] + 12, L["vmci"], L["vmci"] + 10,
            L["bitmap"], L["bitmap"] + 3, L["bitmap"] + L["half"], L["bitmap"] + L["half"] + 3, L["desc"],
            *[L["desc"] + 24 * i + k for i in range(L["dumped"]) for k in (0, 12)],
            *[dd.offset for dd in s["descs"]], *[dd.offset + dd.size // 2 for dd in s["descs"]], len(s["data"]) - 1}
    for cut in sorted(cuts):
        want_rc, want = _plain_expectation(s, cut)
        p = s["dir"] / f"cut-{cut}"
        p.write_bytes(s["data"][:cut])
        rc, d, err = info(p)
        assert rc == want_rc, (cut, err)
        if want:
            assert want in (err if rc == 2 else "\n".join(d["warnings"])), (cut, err, d and d["warnings"])
        if rc == 0 and cut >= 8:
            rc, results, err = translate(p, s["vas"], "--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000")
            for va, res in zip(s["vas"], results):
                if res["ok"]:
                    assert int(res["pa"], 16) == s["expected"][va], (cut, res)
                elif res["fault"]["not_in_image"]:
                    assert "truncated file" in res["fault"]["reason"] or "excluded" in res["fault"]["reason"] \
                        or "not in the image" in res["fault"]["reason"], (cut, res["fault"])


def _patched(s, name, patches) -> Path:
    b = bytearray(s["data"])
    for off, fmt, value in patches:
        struct.pack_into(fmt, b, off, value)
    p = s["dir"] / name
    p.write_bytes(bytes(b))
    return p


KDUMP_FIELDS = [
    # (name, [(offset, fmt, value)], info exit status, expected message)
    ("signature", [(0, "8s", b"KDUMQ   ")], 0, ""),                                    # no signature: raw
    ("diskdump", [(0, "8s", b"DISKDUMP")], 2, "an old 'DISKDUMP' format dump"),
    ("version-be", [(8, ">i", 6)], 2, "big-endian kdump header"),
    ("version-huge", [(8, "<i", 0x7FFFFFFF)], 2, "header_version"),
    ("version-7", [(8, "<i", 7)], 0, "newer than the 6 pgwalk knows"),
    ("block-3000", [(0x1AC, "<i", 3000)], 2, "block_size 3000 is not a power of two"),
    ("block-be", [(0x1AC, ">i", 4096)], 2, "is not in the file"),      # read as 1 MiB blocks
    ("block-neg", [(0x1AC, "<i", -4096)], 2, "block_size"),
    ("sub-hdr-neg", [(0x1B0, "<i", -1)], 2, "sub_hdr_size -1"),
    ("sub-hdr-huge", [(0x1B0, "<i", 1 << 30)], 2, "sub_hdr_size"),
    ("bitmap-0", [(0x1B4, "<I", 0)], 2, "bitmap_blocks is 0"),
    ("bitmap-odd", [(0x1B4, "<I", 3)], 0, "bitmap_blocks 3 is odd"),
    ("bitmap-huge", [(0x1B4, "<I", 0xFFFFFFFF)], 2, "implausibly large"),
    ("bitmap-beyond-file", [(0x1B4, "<I", 1 << 16)], 2, "is not in the file"),
    ("mapnr-2^40", [(BS + 96, "<Q", 1 << 40)], 0, "is more than the bitmaps describe"),
    ("incomplete", [(0x1A8, "<I", 0x9)], 0, "the dump is marked incomplete"),
    ("split", [(BS + 12, "<i", 1)], 0, "one file of a split dump"),
    ("note-4gib", [(BS + 56, "<Q", 4 << 30)], 0, "the notes claim 4294967296 bytes"),
    ("note-beyond", [(BS + 48, "<q", 1 << 40)], 0, "are not in the file"),
    ("vmcoreinfo-beyond", [(BS + 32, "<q", 1 << 40)], 0, "the VMCOREINFO"),
]


@pytest.mark.parametrize("name, patches, want_rc, want", KDUMP_FIELDS, ids=[f[0] for f in KDUMP_FIELDS])
def test_kdump_header_fields(synthetic, name, patches, want_rc, want):
    p = _patched(synthetic, name, patches)
    rc, d, err = info(p)
    assert rc == want_rc, err
    if want:
        assert want in (err if rc == 2 else "\n".join(d["warnings"])), (err, d and d["warnings"])
    if rc == 0:
        rc, results, err = translate(p, synthetic["vas"], "--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000")
        for va, res in zip(synthetic["vas"], results):
            if res["ok"] and name != "signature":
                assert int(res["pa"], 16) == synthetic["expected"][va]


def test_kdump_corrupt_pages_are_named(synthetic):
    """Descriptors and page data corrupted: the page is reported not in the image, with the reason."""
    s = synthetic
    L = s["layout"]
    root = 0                                       # the root table page (pfn 2) is the first dumped page
    at = L["desc"] + 24 * root
    dd = s["descs"][root]
    cases = [
        ("data-garbage", [(dd.offset, "8s", b"\xde\xad\xbe\xef" * 2)], "has corrupt page data (zlib"),
        ("size-0", [(at + 8, "<I", 0)], "has a corrupt page descriptor"),
        ("size-huge", [(at + 8, "<I", 0xFFFFFFF)], "has a corrupt page descriptor (size"),
        ("offset-neg", [(at, "<q", -5)], "has a corrupt page descriptor"),
        ("offset-beyond", [(at, "<q", 1 << 40)], "its data is missing from the truncated file"),
        ("raw-short", [(at + 12, "<I", 0)], "an uncompressed page of"),
        ("wrong-size", [(at + 8, "<I", dd.size - 5)], "has corrupt page data (zlib"),
        ("other-method", [(at + 12, "<I", 0x20)], "has corrupt page data (zstd"),
    ]
    for name, patches, want in cases:
        if name == "other-method":
            from pgwalk.kdump import compression_available

            if not compression_available("zstd"):
                continue
        p = _patched(s, name, patches)
        rc, results, err = translate(p, s["vas"][:1], "--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000")
        assert rc == 1, (name, err)
        f = results[0]["fault"]
        assert f["not_in_image"] and f["level"] == 0 and want in f["reason"], (name, f)
    # a page whose data decompresses to the wrong size
    import zlib

    b = bytearray(s["data"])
    small = zlib.compress(bytes(100))
    b[dd.offset:dd.offset + len(small)] = small
    struct.pack_into("<I", b, at + 8, len(small))
    p = s["dir"] / "short-page"
    p.write_bytes(bytes(b))
    rc, results, err = translate(p, s["vas"][:1], "--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000")
    assert "zlib gave 100 bytes, not 4096" in results[0]["fault"]["reason"]


# --------------------------------------------------------------------------
# real makedumpfile dumps (makedumpfile-public): split files and bitmap damage
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mdf(tmp_path_factory):
    """The whole -d 31 dump and its three split files, their raw layouts, and the ELF."""
    from makedumpfile_data import public_dir, raw_layout
    from pgwalk.images import open_image

    d, elf, entries = public_dir(), linux_vmcore_elf(), linux_translations()
    if d is None or elf is None or not entries:
        pytest.skip("makedumpfile-public or the Linux oracle is not available")
    whole = d / "max-zstd-d31"
    parts = [d / f"max-zstd-d31.split-{i}of3" for i in (1, 2, 3)]
    lay = raw_layout(whole)
    dumped = lay.dumped_pfns()
    expected = {int(e["va"], 16): int(e["regimes"]["el1_nopan"]["pa"], 16) for e in entries
                if e["regimes"]["el1_nopan"]["pa"] and int(e["va"], 16) >> 63}
    vas = sorted(random.Random(11).sample(sorted(expected), 12))
    mem = open_image(str(elf))
    yield {"whole": whole, "parts": parts, "layout": lay, "part_layouts": [raw_layout(p) for p in parts],
           "dumped": dumped, "elf": mem, "vas": vas, "expected": expected, "dir": tmp_path_factory.mktemp("mdf")}
    mem.close()


def _mdf_variant(m, src: Path, name: str, *, set_bits=(), clear_bits=(), patches=()) -> Path:
    """A copy of ``src`` with bits set in both bitmaps / cleared in the 2nd and raw patches."""
    from makedumpfile_data import raw_layout

    lay = raw_layout(src)
    b = bytearray(src.read_bytes())
    for pfn in set_bits:
        b[lay.bitmap_offset + (pfn >> 3)] |= 1 << (pfn & 7)
        b[lay.bitmap_offset + lay.bitmap_half + (pfn >> 3)] |= 1 << (pfn & 7)
    for pfn in clear_bits:
        b[lay.bitmap_offset + lay.bitmap_half + (pfn >> 3)] &= ~(1 << (pfn & 7)) & 0xFF
    for off, fmt, value in patches:
        struct.pack_into(fmt, b, off, value)
    p = m["dir"] / name
    p.write_bytes(bytes(b))
    return p


def _reads_never_shifted(m, paths) -> tuple[int, int]:
    """Every page the original dump holds reads as the ELF has it, or is refused: (read, refused)."""
    from pgwalk.errors import NotInImage
    from pgwalk.images import open_images

    read = refused = 0
    with open_images([str(p) for p in paths]) as mem:
        for pfn in m["dumped"]:
            try:
                data = mem.read(pfn << 12, 4096)
            except NotInImage:
                refused += 1
                continue
            assert data == m["elf"].read(pfn << 12, 4096), (paths, hex(pfn))
            read += 1
    return read, refused


def _translate_never_wrong(m, paths) -> list[dict]:
    rc, out, err = cli("translate", *[a for p in paths for a in ("-i", p)], "--json", "--trace", "--scalar",
                       *[hex(v) for v in m["vas"]])
    results = [json.loads(x) for x in out.splitlines()]
    assert len(results) == len(m["vas"]), err
    for va, r in zip(m["vas"], results):
        if r["ok"]:
            assert int(r["pa"], 16) == m["expected"][va]
        else:
            assert r["fault"]["not_in_image"], r
    return results


def _excluded_pfn(m, after: int) -> int:
    lay = m["layout"]
    return next(p for p in range(after, lay.max_mapnr) if lay.present(p) and not lay.dumped(p))


@pytest.mark.parametrize("where", ["early", "last", "run"])
def test_mdf_bitmap_claiming_more_pages_than_descriptors_is_damage(mdf, where):
    m = mdf
    first = m["dumped"][0]
    if where == "early":
        bits = [_excluded_pfn(m, first)]                         # every later page would shift by one
    elif where == "last":
        lay = m["layout"]                                        # the last excluded page: the
        bits = [max(p for p in lay.present_pfns() if not lay.dumped(p))]   # extra slot is at the end
    else:
        start = _excluded_pfn(m, m["dumped"][len(m["dumped"]) // 2])
        bits = [p for p in range(start, start + 64) if not m["layout"].dumped(p)]
    p = _mdf_variant(m, m["whole"], f"extra-{where}", set_bits=bits)
    rc, d, err = info(p)
    assert rc == 0 and d["kdump"]["damage"] and "more pages than there are descriptors" in d["kdump"]["damage"]
    assert any("damaged dump" in w for w in d["warnings"]), d["warnings"]
    read, refused = _reads_never_shifted(m, [p])
    assert read == 0 and refused == len(m["dumped"])
    for r in _translate_never_wrong(m, [p]):
        assert not r["ok"] and "damaged" in r["fault"]["reason"]


def test_mdf_overlapping_page_descriptors_are_damage(mdf):
    m = mdf
    lay = m["layout"]
    data = m["whole"].read_bytes()
    k = 100
    prev_off, = struct.unpack_from("<q", data, lay.desc_offset + 24 * (k - 1))
    p = _mdf_variant(m, m["whole"], "overlap", patches=[(lay.desc_offset + 24 * k, "<q", prev_off + 16)])
    rc, d, err = info(p)
    assert rc == 0 and "page descriptors overlap" in d["kdump"]["damage"], d["warnings"]
    assert _reads_never_shifted(m, [p])[0] == 0
    _translate_never_wrong(m, [p])


def test_mdf_split_file_with_an_extra_bit_in_its_range_is_damage(mdf):
    m = mdf
    p1, p2, p3 = m["parts"]
    l2 = m["part_layouts"][1]
    bit = _excluded_pfn(m, l2.start_pfn)
    assert bit < l2.end_pfn
    bad = _mdf_variant(m, p2, "part2-extra-in-range", set_bits=[bit])
    rc, d, err = info(bad)
    assert "more pages than there are descriptors" in d["kdump"]["damage"]
    assert _reads_never_shifted(m, [bad]) == (0, len(m["dumped"]))
    # given with the good files (whose bitmaps now differ): never joined into a wrong memory
    read, refused = _reads_never_shifted(m, [p1, bad, p3])
    assert read < len(m["dumped"])
    _translate_never_wrong(m, [p1, bad, p3])


def test_mdf_split_file_with_an_extra_bit_outside_its_range_keeps_its_own_pages(mdf):
    m = mdf
    l2 = m["part_layouts"][1]
    bit = _excluded_pfn(m, m["layout"].present_pfns()[0])       # in file 1's range
    assert bit < l2.start_pfn
    bad = _mdf_variant(m, m["parts"][1], "part2-extra-outside", set_bits=[bit])
    rc, d, err = info(bad)
    assert d["kdump"]["damage"] is None
    assert any("this file's own pages are not affected" in w for w in d["warnings"]), d["warnings"]
    own = sum(1 for p in m["dumped"] if l2.start_pfn <= p < l2.end_pfn)
    assert _reads_never_shifted(m, [bad]) == (own, len(m["dumped"]) - own)


def test_mdf_split_file_with_a_bit_missing_in_its_range_is_damage(mdf):
    m = mdf
    l2 = m["part_layouts"][1]
    pfn = next(p for p in m["dumped"] if l2.start_pfn <= p < l2.end_pfn)
    bad = _mdf_variant(m, m["parts"][1], "part2-missing-bit", clear_bits=[pfn])
    rc, d, err = info(bad)
    assert "fewer pages than there are descriptors" in d["kdump"]["damage"]
    assert _reads_never_shifted(m, [bad])[0] == 0


@pytest.mark.parametrize("field, where", [("start", "into file 1"), ("start", "inside"), ("end", "into file 3"),
                                          ("end", "inside")])
def test_mdf_split_files_with_damaged_pfn_ranges_never_shift(mdf, field, where):
    m = mdf
    p1, p2, p3 = m["parts"]
    l1, l2, l3 = m["part_layouts"]
    own = [p for p in m["dumped"] if l2.start_pfn <= p < l2.end_pfn]
    value = {("start", "into file 1"): max(p for p in m["dumped"] if p < l1.end_pfn),
             ("start", "inside"): own[1],
             ("end", "into file 3"): min(p for p in m["dumped"] if p >= l3.start_pfn) + 1,
             ("end", "inside"): own[-1]}[field, where]
    off = 4096 + (80 if field == "start" else 88)               # start_pfn_64 / end_pfn_64
    bad = _mdf_variant(m, p2, f"part2-{field}-{value:x}", patches=[(off, "<Q", value)])
    rc, d, err = info(bad)
    assert rc == 0 and d["kdump"]["damage"], d["warnings"]
    assert _reads_never_shifted(m, [bad])[0] == 0
    rc, out, err = cli("translate", "-i", p1, "-i", bad, "-i", p3, "--json", "--trace", hex(m["vas"][0]))
    _translate_never_wrong(m, [p1, bad, p3])
    _reads_never_shifted(m, [p1, bad, p3])


def test_mdf_split_files_whose_ranges_overlap_are_not_joined(mdf):
    m = mdf
    p1, p2, p3 = m["parts"]
    l2 = m["part_layouts"][1]
    # a part 3 whose range starts inside part 2's, with nothing dumped in between (so the file
    # itself reads right): the files claim the same pfns, and are not joined
    start = next(p for p in range(l2.end_pfn - 1, l2.start_pfn, -1) if m["layout"].dumped(p)) + 1
    assert start < l2.end_pfn
    bad = _mdf_variant(m, p3, "part3-overlapping", patches=[(4096 + 80, "<Q", start)])
    rc, d, err = info(bad)
    assert rc == 0 and d["kdump"]["damage"] is None
    from pgwalk.images import open_images

    with open_images([str(p1), str(p2), str(bad)]) as mem:
        assert any("overlap" in w and "each is read on its own" in w for w in mem.warnings), mem.warnings
    _reads_never_shifted(m, [p1, p2, bad])
    _translate_never_wrong(m, [p1, p2, bad])
