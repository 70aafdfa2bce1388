"""Tests of kdump-compressed dumps: pgwalk.kdump, formats/kdump.py, pgwalk info.

Synthetic diskdump files (plain and flattened, each compression) are written
by :func:`pgwalk.kdump.write_kdump`; the real QEMU ``kdump-zlib`` dump of the
oracle folder is compared byte for byte with its ELF twin.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pgwalk import kdump as KD
from pgwalk.cli import cli
from pgwalk.errors import ImageError, NotInImage
from pgwalk.formats import kdump as K
from pgwalk.kdump import (EXCLUDED_REASON, KdumpFile, is_kdump, open_kdump, prstatus_cpus,
                          write_kdump)
from pgwalk.memory import open_elf_core
from pgwalk.images import open_image, open_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_data import linux_vmcore_elf, linux_vmcore_kdump, linux_vmcoreinfo  # noqa: E402

BS = 4096
VMCI = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nNUMBER(VA_BITS)=48\n"


def page(i: int) -> bytes:
    """A compressible but distinctive page."""
    return (struct.pack("<Q", i) * 8 + bytes(range(256)) * 2) * (BS // 576) + bytes(BS % 576)


def make_pages() -> dict[int, bytes]:
    return {0x100 + i: page(i) for i in range(8)} | {0x300: page(99)}


def available(name: str) -> bool:
    return name == "zlib" or KD.compression_available(name)


COMPRESSIONS = ["zlib", "zstd", "lzo", "snappy", None]


# --------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------

def test_layout_sizes():
    s = K.kdump_structs(True)
    assert s.header_size == 464            # up to nr_cpus, as makedumpfile writes it
    assert s.sub_header_size == 104
    assert s.PageDesc.sizeof() == K.PAGE_DESC_SIZE == 24
    assert K.ARM64_PRSTATUS_SIZE == K.Arm64Prstatus.sizeof() == 392
    assert K.Arm64Prstatus.construct.sizeof() == 392 and s.DiskDumpHeader.construct.sizeof() == 464
    assert K.MakedumpfileHeader.sizeof() == 32 and K.FlatDataHeader.sizeof() == 16


def _random_values(rows, rng):
    """Values for every field of ``rows`` (nested structures as dicts, arrays as lists)."""
    widths = {"h": (16, True), "i": (32, True), "I": (32, False), "q": (64, True), "Q": (64, False)}
    out = {}
    for name, code in rows:
        if isinstance(code, tuple):
            out[name] = _random_values(code, rng)
            continue
        count, kind = int(code[:-1] or 1), code[-1]
        if kind == "x":
            continue
        if kind == "s":
            out[name] = bytes(rng.getrandbits(8) for _ in range(count))
            continue
        bits, signed = widths[kind]
        low = -(1 << (bits - 1)) if signed else 0
        values = [rng.randrange(low, low + (1 << bits)) for _ in range(count)]
        out[name] = values[0] if len(code) == 1 else values
    return out


def _as_dicts(ns):
    return {k: _as_dicts(v) if hasattr(v, "__dict__") else v for k, v in vars(ns).items()}


#: every RowLayout of formats/kdump.py, in each byte order it is written in
_LAYOUTS = [(name, le) for name in ("DiskDumpHeader", "KdumpSubHeader", "PageDesc") for le in (True, False)] + \
    [(name, getattr(K, name).little_endian) for name in ("MakedumpfileHeader", "FlatDataHeader", "Arm64Prstatus")]


@pytest.mark.parametrize("layout,little_endian", _LAYOUTS)
def test_struct_reading_is_what_construct_builds(layout, little_endian):
    """Each layout's two readings of its rows: RowLayout.parse (the struct module, what pgwalk
    reads dumps with) against construct's Struct of the same rows, on random values of every
    field at its width and sign, in each byte order the layout is written in."""
    import random

    structs = K.kdump_structs(little_endian)
    lay = getattr(structs, layout) if hasattr(structs, layout) else getattr(K, layout)
    rng = random.Random(f"{layout}{little_endian}")
    for _ in range(30):
        values = _random_values(lay.rows, rng)
        data = lay.build(values)
        assert len(data) == lay.sizeof() == lay.construct.sizeof()
        assert _as_dicts(lay.parse(data + b"tail")) == values


# --------------------------------------------------------------------------
# synthetic round trips
# --------------------------------------------------------------------------

@pytest.mark.parametrize("flattened", [False, True], ids=["plain", "flat"])
@pytest.mark.parametrize("comp", COMPRESSIONS, ids=lambda c: c or "raw")
def test_roundtrip(tmp_path, comp, flattened):
    if comp and not available(comp):
        pytest.skip(f"no {comp} library (the kdump extra)")
    pages = make_pages()
    p = tmp_path / "d.kdump"
    write_kdump(p, pages, compression=comp, zero_runs=[(0x200, 32)], excluded_runs=[(0x108, 8)],
                vmcoreinfo=VMCI, flattened=flattened, flat_chunk=3000)
    assert is_kdump(p)
    with open_kdump(p) as d:
        assert d.flattened is flattened
        assert d.compression == ([comp] if comp else [])
        assert d.vmcoreinfo == VMCI
        assert [(r.base, r.size) for r in d.regions] == [
            (0x100000, 16 * BS), (0x200000, 32 * BS), (0x300000, BS)]
        assert (d.pages_present, d.pages_dumped, d.pages_excluded) == (49, 41, 8)
        mem = d.memory()
        for pfn, data in pages.items():
            assert mem.read(pfn * BS, BS) == data
        assert mem.read(0x104FF8, 16) == pages[0x104][-8:] + pages[0x105][:8]   # across pages
        assert mem.read_u64(0x100000 + 8 * 3) == 0
        assert mem.read_u64(0x101000) == 1
        assert mem.read(0x200000, 32 * BS) == bytes(32 * BS)                   # shared zero page
        with pytest.raises(NotInImage) as e:
            mem.read_u64(0x108010)
        assert e.value.reason == EXCLUDED_REASON and e.value.address == 0x108010
        with pytest.raises(NotInImage) as e:
            mem.read(0x107FF8, 16)                                             # into an excluded page
        assert e.value.reason == EXCLUDED_REASON
        with pytest.raises(NotInImage) as e:
            mem.read(0x150000, 8)                                              # a hole: no region
        assert "not in the image" in str(e.value)
        assert d.page_state(0x108) == "excluded" and d.page_state(0x150) == "absent"
        assert d.page_state(0x101) == "dumped"
        mem.close()


def test_page_cache_is_bounded(tmp_path):
    pages = {i: page(i) for i in range(64)}
    p = tmp_path / "c.kdump"
    write_kdump(p, pages)
    with open_kdump(p, cache_bytes=8 * BS) as d:
        mem = d.memory()
        for _ in range(2):
            for i in range(64):
                assert mem.read_u64(i * BS) == i
        assert len(d.pages._cache) <= d.pages.capacity == 8
        assert d.pages.cached_bytes <= 8 * BS
        assert d.pages.misses == 128                  # LRU: a 64-page sweep never hits
        for _ in range(3):
            mem.read_u64(5 * BS + 8)
        assert d.pages.hits >= 0


def test_zero_page_decompressed_once(tmp_path):
    p = tmp_path / "z.kdump"
    write_kdump(p, {}, zero_runs=[(0, 1000)])
    with open_kdump(p) as d:
        mem = d.memory()
        for i in range(1000):
            assert mem.read_u64(i * BS) == 0
        assert d.pages.misses == 1


def test_block_size_64k_and_16k(tmp_path):
    for bs in (16384, 65536):
        data = {3: os.urandom(bs), 4: bytes(bs - 1) + b"\x01"}
        p = tmp_path / f"b{bs}.kdump"
        write_kdump(p, data, block_size=bs, compression="zlib")
        with open_kdump(p) as d:
            assert d.block_size == bs
            mem = d.memory()
            assert mem.read(3 * bs, bs) == data[3]
            assert mem.read(5 * bs - 1, 1) == b"\x01"


def test_many_runs_and_rank_index(tmp_path):
    # every third page dumped, others excluded: exercises the rank index past one block
    pages = {i: page(i) for i in range(0, 3000, 3)}
    excluded = [(i, 2) for i in range(1, 3000, 3)]
    p = tmp_path / "r.kdump"
    write_kdump(p, pages, excluded_runs=excluded)
    with open_kdump(p) as d:
        assert len(d.regions) == 1
        mem = d.memory()
        for i in (0, 3, 510, 513, 2997, 1500, 999):
            assert mem.read_u64(i * BS) == i
        with pytest.raises(NotInImage, match="excluded"):
            mem.read_u64(4 * BS)


# --------------------------------------------------------------------------
# missing compression libraries
# --------------------------------------------------------------------------

@pytest.mark.parametrize("comp", ["lzo", "snappy", "zstd"])
def test_missing_library_names_the_extra(tmp_path, monkeypatch, comp):
    p = tmp_path / "m.kdump"
    # write zlib pages, then relabel their flags as `comp`
    write_kdump(p, {1: page(1)}, compression="zlib")
    monkeypatch.setitem(KD._decompressors, comp, None)
    with open_kdump(p) as d:
        desc = d.page_desc(1)
        flag = {v: k for k, v in K.COMPRESSION_NAMES.items()}[comp]
        with pytest.raises(ImageError) as e:
            d.page_data(1, KD._Desc(desc.offset, desc.size, flag))
    msg = str(e.value)
    assert f"compressed with {comp}" in msg and "pip install 'pgwalk[kdump]'" in msg


def test_lzo_snappy_roundtrip_or_skip(tmp_path):
    for comp in ("lzo", "snappy"):
        if not available(comp):
            continue
        p = tmp_path / f"{comp}.kdump"
        write_kdump(p, make_pages(), compression=comp)
        with open_kdump(p) as d:
            assert d.memory().read(0x103000, BS) == page(3)


# --------------------------------------------------------------------------
# damaged files
# --------------------------------------------------------------------------

def _plain(tmp_path, **kw) -> Path:
    p = tmp_path / "x.kdump"
    write_kdump(p, make_pages(), zero_runs=[(0x200, 4)], vmcoreinfo=VMCI, **kw)
    return p


def _patch(p: Path, at: int, data: bytes) -> None:
    with open(p, "r+b") as f:
        f.seek(at)
        f.write(data)


def test_truncated_in_the_data(tmp_path):
    p = _plain(tmp_path)
    size = p.stat().st_size
    with open(p, "r+b") as f:
        f.truncate(size - 1500)
    with open_kdump(p) as d:
        mem = d.memory()
        assert mem.read(0x100000, BS) == page(0)          # early pages still read
        with pytest.raises(NotInImage, match="truncated"):
            mem.read(0x300000, 8)                          # the last page's data is gone


def test_truncated_in_the_descriptors(tmp_path):
    p = _plain(tmp_path)
    S = K.kdump_structs(True)
    with open_kdump(p) as d:
        cut = d.desc_offset + 3 * K.PAGE_DESC_SIZE
    with open(p, "r+b") as f:
        f.truncate(cut)
    with open_kdump(p) as d:
        assert any("truncated" in w for w in d.warnings)
        with pytest.raises(NotInImage, match="descriptor is missing"):
            d.memory().read_u64(0x105000)
    assert S.header_size < cut


@pytest.mark.parametrize("cut", [10, 300, 4096 + 50, 3 * 4096])
def test_truncated_in_the_headers(tmp_path, cut):
    p = _plain(tmp_path)
    with open(p, "r+b") as f:
        f.truncate(cut)
    with pytest.raises(ImageError, match="truncated"):
        open_kdump(p)


@pytest.mark.parametrize("field,value,match", [
    ("block_size", 3, "block_size"),
    ("block_size", 1 << 30, "block_size"),
    ("bitmap_blocks", 0, "bitmap_blocks"),
    ("sub_hdr_size", -1, "sub_hdr_size"),
    ("header_version", 0x7FFFFFFF, "header_version"),
])
def test_corrupt_header(tmp_path, field, value, match):
    p = _plain(tmp_path)
    offsets = {"header_version": 8, "block_size": 0x1AC, "sub_hdr_size": 0x1B0, "bitmap_blocks": 0x1B4}
    _patch(p, offsets[field], struct.pack("<i", value))
    with pytest.raises(ImageError, match=match):
        open_kdump(p)


def test_bad_signature_is_not_kdump(tmp_path):
    p = _plain(tmp_path)
    _patch(p, 0, b"KDUMQ   ")
    assert not is_kdump(p)
    with pytest.raises(ImageError, match="not a kdump"):
        open_kdump(p)
    # open_images maps a file without a known signature as raw
    mem = open_images([str(p)])
    assert mem.regions[0].kind == "raw"
    mem.close()


def test_big_endian_header_refused(tmp_path):
    p = tmp_path / "be.kdump"
    write_kdump(p, make_pages(), big_endian=True)
    assert is_kdump(p)
    with pytest.raises(ImageError, match="big-endian"):
        open_kdump(p)


def test_corrupt_page_data_is_not_in_image(tmp_path):
    p = _plain(tmp_path)
    with open_kdump(p) as d:
        desc = d.page_desc(0x102)
    _patch(p, desc.offset, b"\xde\xad\xbe\xef" * 4)
    with open_kdump(p) as d:
        mem = d.memory()
        with pytest.raises(NotInImage, match="corrupt page data"):
            mem.read_u64(0x102000)
        assert mem.read(0x101000, BS) == page(1)
        # the bitmaps say the page is dumped; reading it (verify) says it is not there
        assert mem.contents_missing(0x102008) is None
        assert "corrupt page data" in mem.contents_missing(0x102008, verify=True)
        assert mem.contents_missing(0x101008, verify=True) is None


def test_corrupt_descriptor(tmp_path):
    p = _plain(tmp_path)
    with open_kdump(p) as d:
        at = d.desc_offset + d._rank_of(0x103) * K.PAGE_DESC_SIZE
    _patch(p, at, struct.pack("<qII", 0, 0, 0))
    with open_kdump(p) as d:
        with pytest.raises(NotInImage, match="corrupt page descriptor"):
            d.memory().read_u64(0x103000)


def test_incomplete_dump_flag(tmp_path):
    p = _plain(tmp_path, status=K.DUMP_DH_COMPRESSED_INCOMPLETE)
    with open_kdump(p) as d:
        assert "incomplete" in d.status_flags
        assert any("incomplete" in w for w in d.warnings)


# --------------------------------------------------------------------------
# the flattened format
# --------------------------------------------------------------------------

def _flat_from_plain(plain: bytes, records: list[tuple[int, bytes]], end: bool = True) -> bytes:
    out = bytearray(K.MakedumpfileHeader.build(dict(
        signature=K.MDF_SIGNATURE.ljust(16, b"\0"), type=1, version=1)).ljust(4096, b"\0"))
    for off, data in records:
        out += struct.pack(">qq", off, len(data)) + data
    if end:
        out += struct.pack(">qq", -1, -1)
    return bytes(out)


def test_flattened_out_of_order_and_overwritten(tmp_path):
    plain_p = _plain(tmp_path)
    plain = plain_p.read_bytes()
    chunks = [(i, plain[i:i + 1000]) for i in range(0, len(plain), 1000)]
    chunks.reverse()                                             # last record first
    garbage = [(i, os.urandom(min(700, len(plain) - i))) for i in range(0, len(plain), 2000)]
    p = tmp_path / "f.kdump"
    p.write_bytes(_flat_from_plain(plain, garbage + chunks))     # garbage first: overwritten
    with open_kdump(p) as d, open_kdump(plain_p) as ref:
        assert d.flattened and d.view.records == len(garbage) + len(chunks)
        m, r = d.memory(), ref.memory()
        for reg in ref.regions:
            assert m.read(reg.base, reg.size) == r.read(reg.base, reg.size)
        assert d.vmcoreinfo == VMCI


def test_flattened_truncated_and_corrupt_records(tmp_path):
    plain = _plain(tmp_path).read_bytes()
    recs = [(i, plain[i:i + 4096]) for i in range(0, len(plain), 4096)]
    full = _flat_from_plain(plain, recs)
    p = tmp_path / "t.kdump"
    p.write_bytes(full[:-16 - 2000])                           # no end marker, last record short
    with open_kdump(p) as d:
        assert any("truncated" in w for w in d.warnings)
        assert d.memory().read(0x100000, BS) == page(0)
    # a record with a negative size ends the stream with a warning
    bad = _flat_from_plain(plain, recs[:-1] + [(recs[-1][0], b"")], end=False)
    bad = bad[:-16] + struct.pack(">qq", 5, -7)
    p.write_bytes(bad)
    with open_kdump(p) as d:
        assert any("corrupt flattened record" in w for w in d.warnings)
    # little-endian records (a wrong-endianness writer): offsets are absurd
    le = bytearray(4096) + b"".join(struct.pack("<qq", off, len(data)) + data for off, data in recs[1:])
    le[:32] = full[:32]
    p.write_bytes(bytes(le))
    with pytest.raises(ImageError, match="corrupt flattened record.*big-endian"):
        open_kdump(p)


def test_flattened_header_type(tmp_path):
    plain = _plain(tmp_path).read_bytes()
    data = bytearray(_flat_from_plain(plain, [(0, plain)]))
    struct.pack_into(">q", data, 16, 2)
    p = tmp_path / "h.kdump"
    p.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="type 2"):
        open_kdump(p)


def test_flattened_elf_refused(tmp_path):
    p = tmp_path / "e.kdump"
    p.write_bytes(_flat_from_plain(b"", [(0, b"\x7fELF" + bytes(60))]))
    with pytest.raises(ImageError, match="flattened ELF"):
        open_kdump(p)


# --------------------------------------------------------------------------
# open_images dispatch and notes
# --------------------------------------------------------------------------

def test_open_images_dispatch(tmp_path):
    p = _plain(tmp_path, flattened=True)
    mem = open_images([str(p)])
    try:
        assert [r.kind for r in mem.regions] == ["kdump pages"] * 3
        assert isinstance(mem.elf_cores[0], KdumpFile)
        assert mem.elf_cores[0].vmcoreinfo == VMCI
        assert mem.read(0x100000, BS) == page(0)
    finally:
        mem.close()
    raw = open_image(f"{p}@0x1000")                    # @BASE forces raw
    assert raw.regions[0].kind == "raw" and raw.regions[0].base == 0x1000
    raw.close()


def test_notes_and_prstatus(tmp_path):
    regs = list(range(100, 134))
    desc = K.Arm64Prstatus.build(dict(
        si_signo=0, si_code=0, si_errno=0, pr_cursig=0, pr_sigpend=0, pr_sighold=0, pr_pid=42,
        pr_ppid=0, pr_pgrp=0, pr_sid=0, pr_utime=[0, 0], pr_stime=[0, 0], pr_cutime=[0, 0],
        pr_cstime=[0, 0], pr_reg=regs, pr_fpvalid=1))
    p = tmp_path / "n.kdump"
    write_kdump(p, make_pages(), vmcoreinfo=VMCI, notes=[("CORE", 1, desc), ("CORE", 1, desc)])
    with open_kdump(p) as d:
        names = [(n.name, n.type) for n in d.notes]
        assert names == [("CORE", 1), ("CORE", 1), ("VMCOREINFO", 0)]
        cpus = d.cpus
        assert cpus == prstatus_cpus(d.notes)
        assert len(cpus) == 2 and cpus[1].index == 1 and cpus[0].pid == 42
        assert cpus[0].registers["x0"] == 100 and cpus[0].registers["pc"] == 132
        assert cpus[0].registers["pstate"] == 133
    # (reading the notes' CPUs does not import construct: info on an ELF core)
    (tmp_path / "desc").write_bytes(desc)
    code = ("import sys; from pgwalk.kdump import prstatus_cpus; from pgwalk.memory import Note\n"
            "cpus = prstatus_cpus([Note('CORE', 1, open(sys.argv[1], 'rb').read())])\n"
            "assert cpus[0].pid == 42 and cpus[0].registers['pc'] == 132, cpus\n"
            "assert 'construct' not in sys.modules, 'construct was imported'")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "desc")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def test_header_version_2_has_no_vmcoreinfo(tmp_path):
    p = tmp_path / "v2.kdump"
    write_kdump(p, make_pages(), vmcoreinfo=VMCI, header_version=2)
    with open_kdump(p) as d:
        assert d.vmcoreinfo is None and d.notes == []
        assert d.memory().read(0x100000, BS) == page(0)


# --------------------------------------------------------------------------
# pgwalk info
# --------------------------------------------------------------------------

def test_info_json_synthetic(tmp_path):
    p = _plain(tmp_path, flattened=True, compression="zstd")
    r = CliRunner().invoke(cli, ["info", str(p), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["format"] == "kdump-flattened"
    assert d["memory"]["count"] == 3 and d["memory"]["total"] == 13 * BS
    assert len(d["memory"]["holes"]) == 2
    assert d["compression"] == ["zstd"]
    assert d["kdump"]["pages_dumped"] == 13
    assert d["vmcoreinfo"]["osrelease"] == "6.1.0-test"
    assert "error" in d["translation"]               # no swapper_pg_dir in this VMCOREINFO


def test_info_text_and_bad_input(tmp_path):
    p = _plain(tmp_path)
    r = CliRunner().invoke(cli, ["info", str(p)])
    assert r.exit_code == 0 and "kdump-compressed" in r.output and "13 dumped" in r.output
    _patch(p, 0x1AC, struct.pack("<i", 3))
    from pgwalk.cli import main
    assert main(["info", str(p)]) == 2
    assert main(["info", str(tmp_path / "missing")]) == 2


# --------------------------------------------------------------------------
# the real QEMU kdump-zlib dump
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oracle_kdump():
    p = linux_vmcore_kdump()
    if p is None:
        pytest.skip("oracle folder not available")
    with open_kdump(p) as d:
        yield d


def test_oracle_kdump_headers(oracle_kdump):
    d = oracle_kdump
    assert d.flattened and d.block_size == 65536 and d.header_version == 6
    assert d.compression == ["zlib"] and not d.warnings
    assert [(r.base, r.size) for r in d.regions] == [(0x40000000, 0x10000000)]
    assert d.pages_dumped == 4096 and d.pages_excluded == 0
    assert d.vmcoreinfo.strip() == linux_vmcoreinfo().strip()
    (cpu,) = d.cpus
    assert cpu.registers["pc"] == 0x400C70 and cpu.registers["sp"] == 0xFFFFD39A76B0
    assert cpu.registers["pstate"] == 0x60001000 and cpu.el == 0


def test_oracle_kdump_equals_elf(oracle_kdump):
    p = linux_vmcore_elf()
    if p is None:
        pytest.skip("oracle ELF dump not available")
    core = open_elf_core(p)
    with core:
        assert [(n.name, n.type, n.desc) for n in core.notes] == \
               [(n.name, n.type, n.desc) for n in oracle_kdump.notes]
        e, k = core.memory(), oracle_kdump.memory()
        for pa in range(0x40000000, 0x50000000, 0x40000):      # every 4th 64 KiB block
            assert k.read(pa, 0x10000) == e.read(pa, 0x10000), hex(pa)
        assert k.read(0x4FFFFFF8, 8) == e.read(0x4FFFFFF8, 8)


def test_oracle_info_both_formats():
    paths = [linux_vmcore_kdump(), linux_vmcore_elf()]
    if None in paths:
        pytest.skip("oracle folder not available")
    out = []
    for p in paths:
        r = CliRunner().invoke(cli, ["info", str(p), "--json"])
        assert r.exit_code == 0, r.output
        out.append(json.loads(r.output))
    kd, el = out
    assert kd["format"] == "kdump-flattened" and el["format"] == "elf"
    for d in out:
        assert d["memory"]["total"] == 0x10000000
        assert d["vmcoreinfo"]["swapper_pg_dir"] == "0xffffbb3f21058000"
        assert d["vmcoreinfo"]["kaslr_offset"] == "0x3b3f17a00000"
        assert d["translation"]["ttbr1_root"] == "0x41858000"
        assert d["translation"]["tbi1"] is True and d["translation"]["start_level"] == 0
        assert d["cpus"][0]["registers"]["pc"] == "0x400c70"
        assert {x["name"] for x in d["layout"]} >= {"linear map", "kernel image", "modules", "vmalloc",
                                                     "fixmap", "PCI I/O", "vmemmap"}
    assert kd["notes"] == el["notes"]


# --------------------------------------------------------------------------
# the 2nd bitmap against the descriptor table; pages not in the dump
# --------------------------------------------------------------------------

def _bitmap_desc_patched(tmp_path, name, *, set_bit=None, overlap=False):
    pages = make_pages()
    p = tmp_path / "ok.kdump"
    write_kdump(p, pages, excluded_runs=[(0x108, 8)])
    with open_kdump(p) as d:
        assert d.desc_damage is None and not d.warnings
        bm2, desc = d.bitmap_offset + d.bitmap_half, d.desc_offset
    b = bytearray(p.read_bytes())
    if set_bit is not None:
        b[bm2 + (set_bit >> 3)] |= 1 << (set_bit & 7)
    if overlap:
        off1, size1 = struct.unpack_from("<qI", b, desc + 24)
        struct.pack_into("<q", b, desc + 48, off1 + size1 // 2)
    q = tmp_path / name
    q.write_bytes(bytes(b))
    return q, pages


@pytest.mark.parametrize("bit", [0x108, 0x10F], ids=["early", "late"])
def test_an_extra_bitmap_bit_is_damage_and_no_page_is_read(tmp_path, bit):
    p, pages = _bitmap_desc_patched(tmp_path, "extra.kdump", set_bit=bit)
    with open_kdump(p) as d:
        assert d.desc_damage and "more pages than there are descriptors" in d.desc_damage
        assert any("damaged dump" in w for w in d.warnings)
        mem = d.memory()
        for pfn in pages:
            with pytest.raises(NotInImage, match="damaged"):
                mem.read(pfn * BS, 8)
            assert "damaged" in mem.contents_missing(pfn * BS)
        mem.close()


def test_overlapping_page_descriptors_are_damage(tmp_path):
    p, pages = _bitmap_desc_patched(tmp_path, "overlap.kdump", overlap=True)
    with open_kdump(p) as d:
        assert d.desc_damage and "page descriptors overlap" in d.desc_damage


def test_contents_missing_names_excluded_pages_and_holes(tmp_path):
    import numpy as np

    p, pages = _bitmap_desc_patched(tmp_path, "same.kdump")
    with open_kdump(p) as d:
        mem = d.memory()
        assert mem.contents_missing(0x100008) is None
        assert mem.contents_missing(0x108008) == EXCLUDED_REASON
        assert mem.contents_missing(0x150000) == "is not in the image"
        pas = np.array([0x100008, 0x108008, 0x150000, 0x300FFF, 0x301000], dtype=np.uint64)
        assert mem.contents_missing_mask(pas).tolist() == [False, True, True, False, True]
        mem.close()


def test_reading_a_kdump_file_does_not_import_construct(tmp_path):
    p = tmp_path / "d.kdump"
    write_kdump(p, make_pages(), vmcoreinfo=VMCI)
    code = ("import sys; from pgwalk.kdump import open_kdump\n"
            "with open_kdump(sys.argv[1]) as d:\n    assert d.memory().read(0x101000, 8) == bytes([1]) + bytes(7)\n"
            "assert 'construct' not in sys.modules, 'construct was imported'")
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_opening_a_raw_image_imports_neither_construct_nor_the_kdump_reader(tmp_path):
    """A raw image is told from a kdump file by its first bytes (formats.kdump.kdump_kind), without
    importing construct or the kdump reader (they cost a raw image's every command ~10 ms)."""
    path = tmp_path / "raw.img"
    path.write_bytes(bytes(range(256)) * 16)
    code = ("import sys; from pgwalk.images import open_images; m = open_images([sys.argv[1]]); "
            "assert m.read(0x10, 4) == bytes([16, 17, 18, 19]); "
            "loaded = [n for n in ('construct', 'pgwalk.kdump') if n in sys.modules]; assert not loaded, loaded")
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
