"""Tests of the memory-image layer: pgwalk.memory and pgwalk.formats.elf."""

from __future__ import annotations

import os
import struct
import sys
import timeit
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk.errors import ImageError, InputError, NotInImage
from pgwalk.formats import elf
from pgwalk.memory import NOTE_READ_LIMIT, Backing, ElfCore, PhysicalMemory, Region, open_elf_core, parse_image_spec
from pgwalk.images import open_image, open_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_data import linux_vmcore_elf  # noqa: E402


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` recognisable bytes: little-endian 64-bit words seed<<32 | index."""
    words = (n + 7) // 8
    return b"".join(((seed << 32) | i).to_bytes(8, "little") for i in range(words))[:n]


def raw(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def pack_notes(notes: list[tuple[str, int, bytes]]) -> bytes:
    """PT_NOTE contents, 4-byte aligned as in Linux and QEMU cores."""
    s = elf.elf_structs(True, elf.ELFCLASS64)
    out = b""
    for name, ntype, desc in notes:
        nm = name.encode() + b"\0"
        out += s.Nhdr.build(dict(n_namesz=len(nm), n_descsz=len(desc), n_type=ntype))
        out += nm.ljust(elf.align_up(len(nm), 4), b"\0") + desc.ljust(elf.align_up(len(desc), 4), b"\0")
    return out


def make_core(path: Path, segments: list[dict], *, machine: int = elf.EM_AARCH64,
              e_phoff: int | None = None, e_phnum: int | None = None, xnum: bool = False,
              truncate_to: int | None = None, little_endian: bool = True,
              elfclass: int = elf.ELFCLASS64) -> Path:
    """Write an ELF core built with pgwalk.formats.elf.

    Each segment: ``type`` (default PT_LOAD), ``paddr``, ``data`` (file bytes),
    optional ``memsz``/``filesz``/``offset`` overriding the computed values.
    """
    s = elf.elf_structs(little_endian, elfclass)
    n = len(segments)
    phoff = s.ehdr_size
    pos = phoff + n * s.phdr_size
    shoff = 0
    if xnum:
        shoff, pos = pos, pos + s.shdr_size
    phdrs, blobs = [], []
    for seg in segments:
        data = seg.get("data", b"")
        pos = elf.align_up(pos, 16)
        phdrs.append(dict(
            p_type=seg.get("type", elf.PT_LOAD), p_flags=7,
            p_offset=seg.get("offset", pos), p_vaddr=seg.get("vaddr", seg.get("paddr", 0)),
            p_paddr=seg.get("paddr", 0), p_filesz=seg.get("filesz", len(data)),
            p_memsz=seg.get("memsz", seg.get("filesz", len(data))), p_align=seg.get("align", 0)))
        blobs.append((pos, data))
        pos += len(data)
    ident = dict(EI_CLASS=elfclass, EI_DATA=elf.ELFDATA2LSB if little_endian else elf.ELFDATA2MSB,
                 EI_VERSION=1, EI_OSABI=0, EI_ABIVERSION=0)
    ehdr = s.Ehdr.build(dict(
        e_ident=ident, e_type=elf.ET_CORE, e_machine=machine, e_version=1, e_entry=0,
        e_phoff=phoff if e_phoff is None else e_phoff, e_shoff=shoff, e_flags=0,
        e_ehsize=s.ehdr_size, e_phentsize=s.phdr_size,
        e_phnum=(elf.PN_XNUM if xnum else n) if e_phnum is None else e_phnum,
        e_shentsize=s.shdr_size, e_shnum=1 if xnum else 0, e_shstrndx=0))
    buf = bytearray(pos)
    buf[0:len(ehdr)] = ehdr
    for i, ph in enumerate(phdrs):
        b = s.Phdr.build(ph)
        buf[phoff + i * s.phdr_size:phoff + (i + 1) * s.phdr_size] = b
    if xnum:
        sh0 = s.Shdr.build(dict(sh_name=0, sh_type=0, sh_flags=0, sh_addr=0, sh_offset=0, sh_size=0,
                                sh_link=0, sh_info=n, sh_addralign=0, sh_entsize=0))
        buf[shoff:shoff + len(sh0)] = sh0
    for at, data in blobs:
        buf[at:at + len(data)] = data
    if truncate_to is not None:
        del buf[truncate_to:]
    path.write_bytes(bytes(buf))
    return path


VMCOREINFO_TEXT = b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff800081234000\n"
NOTES = [("CORE", elf.NT_PRSTATUS, bytes(range(64)) * 6 + b"\x01\x02\x03"),
         ("CORE", elf.NT_PRFPREG, b"\xaa" * 528),
         ("LINUX", elf.NT_ARM_SVE, b"\x55" * 17),
         (elf.VMCOREINFO_NOTE_NAME, 0, VMCOREINFO_TEXT)]


@pytest.fixture
def two_load_core(tmp_path: Path) -> Path:
    """A core with a PT_NOTE and two PT_LOADs with a hole between them."""
    return make_core(tmp_path / "core.elf", [
        dict(type=elf.PT_NOTE, data=pack_notes(NOTES)),
        dict(paddr=0x40000000, data=pattern(0x3000, 1)),
        dict(paddr=0x40010000, data=pattern(0x2000, 2)),
    ])


# --------------------------------------------------------------------------
# formats.elf
# --------------------------------------------------------------------------

def test_elf_struct_sizes_and_constants() -> None:
    s64 = elf.elf_structs(True, elf.ELFCLASS64)
    s32 = elf.elf_structs(False, elf.ELFCLASS32)
    assert (s64.ehdr_size, s64.phdr_size, s64.shdr_size, s64.nhdr_size) == (64, 56, 64, 12)
    assert (s32.ehdr_size, s32.phdr_size, s32.shdr_size, s32.nhdr_size) == (52, 32, 40, 12)
    assert (elf.PT_LOAD, elf.PT_NOTE, elf.EM_AARCH64, elf.NT_PRSTATUS, elf.NT_PRFPREG,
            elf.NT_ARM_SVE) == (1, 4, 183, 1, 2, 0x405)
    assert elf.VMCOREINFO_NOTE_NAME == "VMCOREINFO"
    assert elf.elf_structs(True, elf.ELFCLASS64) is s64
    with pytest.raises(ValueError):
        elf.elf_structs(True, 3)


def test_elf_phdr_field_order_big_endian() -> None:
    s = elf.elf_structs(False, elf.ELFCLASS64)
    b = s.Phdr.build(dict(p_type=1, p_flags=5, p_offset=0x1000, p_vaddr=2, p_paddr=0x40000000,
                          p_filesz=3, p_memsz=4, p_align=0x10000))
    assert struct.unpack(">IIQQQQQQ", b) == (1, 5, 0x1000, 2, 0x40000000, 3, 4, 0x10000)


# --------------------------------------------------------------------------
# raw images
# --------------------------------------------------------------------------

def test_raw_image_default_base_zero(tmp_path: Path) -> None:
    p = raw(tmp_path, "ram.bin", pattern(0x2000, 7))
    with open_images([str(p)]) as mem:
        assert mem.regions == (Region(0, 0x2000, str(p), 0, "raw"),)
        assert mem.read_u64(0x18) == (7 << 32) | 3
        assert mem.read(0x10, 16) == pattern(0x2000, 7)[0x10:0x20]
        assert mem.warnings == ()


def test_raw_image_at_base(tmp_path: Path) -> None:
    p = raw(tmp_path, "ram.bin", pattern(0x2000, 7))
    with open_images([f"{p}@0x40000000"]) as mem:
        r, = mem.regions
        assert (r.base, r.end, r.kind) == (0x40000000, 0x40002000, "raw")
        assert mem.read_u64(0x40000008) == (7 << 32) | 1
        with pytest.raises(NotInImage) as e:
            mem.read_u64(0x8)
        assert e.value.address == 0x8
        assert mem.find_region(0x40001fff) == r
        assert mem.find_region(0x40002000) is None


def test_bare_base_is_hex(tmp_path: Path) -> None:
    p = raw(tmp_path, "ram.bin", pattern(0x100))
    with open_image(f"{p}@4096") as mem:             # like every pgwalk value (pgwalk.values)
        assert mem.regions[0].base == 0x4096


def test_multiple_images_sorted_with_hole(tmp_path: Path) -> None:
    a = raw(tmp_path, "a.bin", pattern(0x1000, 1))
    b = raw(tmp_path, "b.bin", pattern(0x1000, 2))
    with open_images([f"{b}@0x80000000", f"{a}@0x40000000"]) as mem:
        assert [r.base for r in mem.regions] == [0x40000000, 0x80000000]
        assert [r.source for r in mem.regions] == [str(a), str(b)]
        assert mem.read_u64(0x40000000) == 1 << 32
        assert mem.read_u64(0x80000ff8) == (2 << 32) | 0x1ff
        assert mem.size == 0x2000
        for pa in (0x40001000, 0x7ffffff8, 0x80001000, 0, 2**64 - 8, -8):
            assert not mem.contains(pa)
            with pytest.raises(NotInImage):
                mem.read_u64(pa)


def test_read_across_region_end_raises(tmp_path: Path) -> None:
    p = raw(tmp_path, "a.bin", pattern(0x1000, 3))
    with open_images([f"{p}@0x1000"]) as mem:
        assert mem.read_u64(0x1ff8) == (3 << 32) | 0x1ff
        assert mem.contains(0x1ff8, 8) and not mem.contains(0x1ffc, 8)
        with pytest.raises(NotInImage) as e:
            mem.read_u64(0x1ffc)
        assert (e.value.address, e.value.size) == (0x1ffc, 8)
        with pytest.raises(NotInImage):
            mem.read(0x1800, 0x1000)
        with pytest.raises(NotInImage):
            mem.read(0xff8, 16)                 # starts before the region


def test_read_straddling_adjacent_regions(tmp_path: Path) -> None:
    a = raw(tmp_path, "a.bin", b"\x11" * 0xffc + b"\x01\x02\x03\x04")
    b = raw(tmp_path, "b.bin", b"\x05\x06\x07\x08" + b"\x22" * 0xffc)
    with open_images([f"{a}@0x10000", f"{b}@0x11000"]) as mem:
        assert mem.read(0x10ffc, 8) == bytes(range(1, 9))
        assert mem.read_u64(0x10ffc) == 0x0807060504030201
        assert mem.read_u64(0x10ffc, big_endian=True) == 0x0102030405060708
        assert mem.contains(0x10000, 0x2000)
        assert not mem.contains(0x10000, 0x2001)
        assert len(mem.read(0x10000, 0x2000)) == 0x2000
        with pytest.raises(NotInImage, match="only partly"):
            mem.read(0x11ff8, 16)


def test_big_endian_read_u64(tmp_path: Path) -> None:
    p = raw(tmp_path, "be.bin", bytes.fromhex("0011223344556677 8899aabbccddeeff"))
    with open_images([str(p)]) as mem:
        assert mem.read_u64(0, big_endian=True) == 0x0011223344556677
        assert mem.read_u64(0) == 0x7766554433221100
        assert mem.read_u64(8, big_endian=True) == 0x8899AABBCCDDEEFF
        assert mem.read_u64(4, big_endian=True) == 0x445566778899AABB


def test_overlapping_images_first_given_wins(tmp_path: Path) -> None:
    a = raw(tmp_path, "a.bin", b"A" * 0x2000)
    b = raw(tmp_path, "b.bin", bytes(range(256)) * 0x20)       # 0x2000 bytes
    with open_images([f"{a}@0x1000", f"{b}@0x0"]) as mem:
        assert len(mem.warnings) == 1
        assert "overlaps" in mem.warnings[0] and str(b) in mem.warnings[0]
        assert mem.read(0x1000, 4) == b"AAAA"          # a wins where both are
        assert mem.read(0x0ff0, 0x20) == bytes(range(0xf0, 0x100)) + b"A" * 0x10
        assert mem.read(0x2ff8, 8) == b"A" * 8
        with pytest.raises(NotInImage):
            mem.read(0x3000, 1)
    # given the other way round, b wins and a keeps only [0x2000, 0x3000)
    with open_images([f"{b}@0x0", f"{a}@0x1000"]) as mem:
        assert mem.read(0x1000, 2) == b"\x00\x01"
        r = mem.find_region(0x2800)
        assert (r.source, r.base, r.offset) == (str(a), 0x2000, 0x1000)
        assert mem.read(0x2800, 2) == b"AA"


def test_files_are_not_modified_and_mapped_read_only(tmp_path: Path) -> None:
    data = pattern(0x3000, 9)
    p = raw(tmp_path, "ro.bin", data)
    core = make_core(tmp_path / "ro.elf", [dict(paddr=0x50000000, data=pattern(0x1000, 4))])
    before = [(q.stat().st_mtime_ns, q.read_bytes()) for q in (p, core)]
    mem = open_images([f"{p}@0x40000000", str(core)])
    try:
        if os.path.exists("/proc/self/maps"):
            maps = [ln.split() for ln in Path("/proc/self/maps").read_text().splitlines()]
            perms = {ln[5]: ln[1] for ln in maps if len(ln) >= 6 and ln[5] in (str(p), str(core))}
            assert set(perms) == {str(p), str(core)}
            assert all("w" not in v for v in perms.values()), perms
        view = mem.numpy_view(mem.regions[0])
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0] = 1
        del view
        assert mem.read(0x40000000, 0x3000) == data
    finally:
        mem.close()
    assert [(q.stat().st_mtime_ns, q.read_bytes()) for q in (p, core)] == before


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        open_images([str(tmp_path / "missing.bin")])
    empty = raw(tmp_path, "empty.bin", b"")
    with pytest.raises(ImageError, match="empty"):
        open_images([str(empty)])
    with pytest.raises(ImageError, match="directory"):
        open_images([str(tmp_path)])
    with pytest.raises(ImageError, match="no memory image"):
        open_images([])
    big = raw(tmp_path, "x.bin", b"x" * 0x100)
    with pytest.raises(ImageError, match="64-bit"):
        open_images([f"{big}@0xffffffffffffff80"])


def test_close_and_context_manager(tmp_path: Path) -> None:
    p = raw(tmp_path, "a.bin", pattern(0x100))
    with open_images([str(p)]) as mem:
        assert mem.read_u64(0) == 0
    with pytest.raises(ValueError):
        mem.read_u64(0)
    with pytest.raises(ValueError):
        mem.read(0, 8)
    mem.close()                                     # idempotent


# --------------------------------------------------------------------------
# ELF cores
# --------------------------------------------------------------------------

def test_elf_two_loads_hole_and_notes(two_load_core: Path) -> None:
    with open_images([str(two_load_core)]) as mem:
        assert mem.warnings == ()
        assert [(r.base, r.size, r.kind) for r in mem.regions] == [
            (0x40000000, 0x3000, "elf PT_LOAD"), (0x40010000, 0x2000, "elf PT_LOAD")]
        assert mem.read_u64(0x40000000) == 1 << 32
        assert mem.read_u64(0x40002ff8) == (1 << 32) | 0x5ff
        assert mem.read_u64(0x40011ff8) == (2 << 32) | 0x3ff
        for pa in (0x40003000, 0x4000fff8, 0x40012000, 0x3ffffff8):
            with pytest.raises(NotInImage):
                mem.read_u64(pa)
        core, = mem.elf_cores
        assert core.machine == elf.EM_AARCH64
        assert [tuple(n) for n in core.notes] == NOTES
        assert core.vmcoreinfo == VMCOREINFO_TEXT.decode()
        assert core.warnings == ()


def test_open_elf_core_directly(two_load_core: Path) -> None:
    with open_elf_core(two_load_core) as core:
        assert isinstance(core, ElfCore)
        assert [r.base for r in core.regions] == [0x40000000, 0x40010000]
        assert core.regions[0].offset % 16 == 0 and core.regions[0].offset > 64
        name, ntype, desc = core.notes[0]
        assert (name, ntype, len(desc)) == ("CORE", elf.NT_PRSTATUS, 387)
        mem = core.memory()
        assert mem.read(0x40010000, 8) == pattern(8, 2)


def test_elf_zero_filled_tail(tmp_path: Path) -> None:
    p = make_core(tmp_path / "bss.elf", [dict(paddr=0x1000, data=b"\xff" * 0x800, memsz=0x2000)])
    with open_images([str(p)]) as mem:
        assert [(r.base, r.size, r.kind) for r in mem.regions] == [
            (0x1000, 0x800, "elf PT_LOAD"), (0x1800, 0x1800, "zero fill")]
        assert any("p_memsz > p_filesz" in w for w in mem.warnings)
        assert mem.read(0x17fc, 8) == b"\xff" * 4 + b"\0" * 4
        assert mem.read_u64(0x2ff8) == 0
        assert mem.read_u64(0x1ff8, big_endian=True) == 0
        with pytest.raises(NotInImage):
            mem.read_u64(0x2ffc)
        view = mem.numpy_view(mem.regions[1], "<u8")
        assert view.shape == (0x300,) and not view.any()


def test_elf_truncated_file_maps_present_part_only(tmp_path: Path) -> None:
    path = tmp_path / "trunc.elf"
    make_core(path, [dict(paddr=0x40000000, data=pattern(0x4000, 5))])
    full = path.read_bytes()
    seg_off = len(full) - 0x4000
    path.write_bytes(full[:seg_off + 0x1804])               # cut mid-word
    with open_images([str(path)]) as mem:
        r, = mem.regions
        assert (r.base, r.size) == (0x40000000, 0x1804)
        assert any("truncated" in w and "0x40001804" in w for w in mem.warnings)
        assert mem.read_u64(0x400017f8) == (5 << 32) | 0x2ff
        with pytest.raises(NotInImage):                     # missing, not zeros
            mem.read_u64(0x40001800)
        with pytest.raises(NotInImage):
            mem.read_u64(0x40003ff8)


def test_elf_segment_entirely_beyond_eof(tmp_path: Path) -> None:
    p = make_core(tmp_path / "gone.elf", [dict(paddr=0x1000, data=b"\x01" * 0x100),
                                          dict(paddr=0x9000, offset=1 << 40, filesz=0x1000)])
    with open_images([str(p)]) as mem:
        assert [r.base for r in mem.regions] == [0x1000]
        assert any("PT_LOAD 1" in w and "truncated" in w for w in mem.warnings)


@pytest.mark.parametrize("field, value", [("e_phoff", 1 << 32), ("e_phnum", 5000)])
def test_elf_program_headers_past_eof(tmp_path: Path, field: str, value: int) -> None:
    p = make_core(tmp_path / "bad.elf", [dict(paddr=0, data=b"x" * 64)], **{field: value})
    with pytest.raises(ImageError, match="program header table"):
        open_images([str(p)])
    with pytest.raises(ImageError, match="program header table"):
        open_elf_core(p)


def test_elf_non_aarch64_machine_is_a_warning(tmp_path: Path) -> None:
    p = make_core(tmp_path / "x86.elf", [dict(paddr=0x100000, data=pattern(0x1000))], machine=62)
    with open_images([str(p)]) as mem:
        assert mem.read_u64(0x100008) == 1
        assert any("x86-64" in w and "not AArch64" in w for w in mem.warnings)


def test_elf_unsupported_classes_and_broken_headers(tmp_path: Path) -> None:
    be = make_core(tmp_path / "be.elf", [dict(paddr=0, data=b"x" * 8)], little_endian=False)
    with pytest.raises(ImageError, match="big-endian"):
        open_images([str(be)])
    e32 = make_core(tmp_path / "e32.elf", [dict(paddr=0, data=b"x" * 8)], elfclass=elf.ELFCLASS32)
    with pytest.raises(ImageError, match="32-bit"):
        open_images([str(e32)])
    short = raw(tmp_path, "short.elf", b"\x7fELF\x02\x01\x01" + b"\0" * 20)
    with pytest.raises(ImageError, match="broken ELF header"):
        open_images([str(short)])
    odd = raw(tmp_path, "odd.elf", b"\x7fELF\x07\x01\x01" + b"\0" * 100)
    with pytest.raises(ImageError, match="unknown class"):
        open_images([str(odd)])
    with pytest.raises(ImageError, match="not an ELF"):
        open_elf_core(raw(tmp_path, "plain.bin", b"\0" * 64))


def test_elf_zero_sized_load_skipped(tmp_path: Path) -> None:
    p = make_core(tmp_path / "z.elf", [dict(paddr=0x5000, data=b""),
                                       dict(paddr=0x6000, data=b"\x07" * 8)])
    with open_images([str(p)]) as mem:
        assert [r.base for r in mem.regions] == [0x6000]
        assert any("zero-sized" in w and "PT_LOAD 0" in w for w in mem.warnings)


def test_elf_without_memory_is_an_error(tmp_path: Path) -> None:
    p = make_core(tmp_path / "n.elf", [dict(type=elf.PT_NOTE, data=pack_notes(NOTES))])
    with pytest.raises(ImageError, match="hold no memory"):
        open_images([str(p)])


def test_elf_claiming_an_exbibyte_allocates_nothing(tmp_path: Path) -> None:
    eib = 1 << 60
    # the huge-filesz segment's data is last in the file, so only 0x1000 bytes are present
    p = make_core(tmp_path / "huge.elf", [dict(paddr=0x2_0000_0000_0000, data=b"\x02" * 8, memsz=eib),
                                          dict(paddr=0x1_0000_0000, data=b"\x01" * 0x1000, filesz=eib)])
    tracemalloc.start()
    try:
        with open_images([str(p)]) as mem:
            assert mem.read_u64(0x1_0000_0000) == 0x0101010101010101
            with pytest.raises(NotInImage):
                mem.read_u64(0x1_0000_1000)
            assert mem.read_u64(0x2_0000_0000_0000 + eib - 8) == 0     # zero fill
            assert mem.regions[-1].size == eib - 8
            assert any("truncated" in w for w in mem.warnings)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_elf_segment_past_address_space_is_clipped(tmp_path: Path) -> None:
    p = make_core(tmp_path / "wrap.elf", [dict(paddr=2**64 - 0x1000, data=b"\x03" * 0x1000,
                                               memsz=0x3000)])
    with open_images([str(p)]) as mem:
        assert mem.regions[-1].end == 2**64
        assert any("clipped" in w for w in mem.warnings)


def test_elf_notes_claiming_too_much(tmp_path: Path, monkeypatch) -> None:
    p = make_core(tmp_path / "notes.elf", [dict(type=elf.PT_NOTE, data=b"\0" * 12,
                                                filesz=NOTE_READ_LIMIT + 1),
                                           dict(paddr=0, data=b"x" * 8)])
    with open_elf_core(p) as core:                  # opening is fine, notes are lazy
        assert core.regions
        assert core.notes == []                     # what is there is read (12 zero bytes: no note)
        assert any("PT_NOTE 0 runs past the end of the file" in w for w in core.warnings)
    # a file that really holds more than the limit: only the limit is read
    import pgwalk.memory

    monkeypatch.setattr(pgwalk.memory, "NOTE_READ_LIMIT", 1200)
    big = pack_notes([("CORE", 1, b"a" * 100)]) * 20              # 120 bytes each
    p = make_core(tmp_path / "big.elf", [dict(type=elf.PT_NOTE, data=big), dict(paddr=0, data=b"x" * 8)])
    with open_elf_core(p) as core:
        assert len(core.notes) == 10
        assert any("claims 2400 bytes, more than the 0 MiB of notes" in w for w in core.warnings)


def test_elf_note_overrunning_its_segment(tmp_path: Path) -> None:
    good = pack_notes(NOTES[:1])
    bad = elf.elf_structs(True, elf.ELFCLASS64).Nhdr.build(dict(n_namesz=5, n_descsz=1 << 30, n_type=1))
    p = make_core(tmp_path / "n.elf", [dict(type=elf.PT_NOTE, data=good + bad + b"CORE\0\0\0\0"),
                                       dict(paddr=0, data=b"x" * 8)])
    with open_elf_core(p) as core:
        assert [tuple(n) for n in core.notes] == NOTES[:1]
        assert any("claims more bytes" in w for w in core.warnings)


def test_elf_pn_xnum(tmp_path: Path) -> None:
    p = make_core(tmp_path / "xnum.elf", [dict(paddr=0x1000, data=b"\x01" * 16),
                                          dict(paddr=0x3000, data=b"\x02" * 16)], xnum=True)
    with open_elf_core(p) as core:
        assert core.header.e_phnum == elf.PN_XNUM
        assert [r.base for r in core.regions] == [0x1000, 0x3000]


def test_elf_same_file_duplicate_segments(tmp_path: Path) -> None:
    """An arm64 /proc/vmcore maps kernel text twice; equal bytes are not warned."""
    ram = pattern(0x4000, 6)
    same = make_core(tmp_path / "same.elf", [dict(paddr=0x41000, data=ram[0x1000:0x2000]),
                                             dict(paddr=0x40000, data=ram)])
    with open_images([str(same)]) as mem:
        assert mem.warnings == ()
        assert mem.read(0x40000, 0x4000) == ram
    diff = make_core(tmp_path / "diff.elf", [dict(paddr=0x41000, data=b"\xee" * 0x1000),
                                             dict(paddr=0x40000, data=ram)])
    with open_images([str(diff)]) as mem:
        assert len(mem.warnings) == 1 and "overlaps" in mem.warnings[0]
        assert mem.read(0x41000, 2) == b"\xee\xee"
        assert mem.read(0x40ffe, 2) == ram[0xffe:0x1000]


def test_elf_with_explicit_base_maps_raw(two_load_core: Path) -> None:
    with open_images([f"{two_load_core}@0x10000"]) as mem:
        r, = mem.regions
        assert (r.base, r.kind, r.size) == (0x10000, "raw", two_load_core.stat().st_size)
        assert mem.read(0x10000, 4) == b"\x7fELF"
        assert any("ELF magic" in w for w in mem.warnings)
        assert mem.elf_cores == ()


# --------------------------------------------------------------------------
# in-memory regions
# --------------------------------------------------------------------------

def test_from_buffers_snapshot_and_reads() -> None:
    ba = bytearray(pattern(0x1000, 1))
    mem = PhysicalMemory.from_buffers({0x2000: ba, 0x3000: b"\x01" * 8, 0x9000: b""})
    ba[0:8] = b"\xff" * 8
    assert [(r.base, r.size, r.kind, r.source) for r in mem.regions] == [
        (0x2000, 0x1000, "memory", "<memory>"), (0x3000, 8, "memory", "<memory>")]
    assert mem.read_u64(0x2000) == 1 << 32
    assert mem.read(0x2ffc, 8) == pattern(0x1000, 1)[-4:] + b"\x01" * 4
    with pytest.raises(NotInImage):
        mem.read_u64(0x3004)


def test_from_words_two_gib_window_is_cheap() -> None:
    ram = (0x40000000, 0xC0000000)
    tracemalloc.start()
    try:
        words = {0x40000000 + i * 0x10008: (i * 0x9E3779B97F4A7C15) & (2**64 - 1)
                 for i in range(20000)}
        mem = PhysicalMemory.from_words(words, ram)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    r, = mem.regions
    assert (r.base, r.end) == ram
    for pa, v in list(words.items())[::997]:
        assert mem.read_u64(pa) == v
        assert mem.read_u64(pa, big_endian=True) == int.from_bytes(v.to_bytes(8, "little"), "big")
        assert mem.read(pa, 8) == v.to_bytes(8, "little")
    assert mem.read_u64(0x40000010) == 0                       # inside RAM, no word
    assert mem.read_u64(0xBFFFFFF8) == 0
    w1 = words[0x40010008]
    assert mem.read(0x40010004, 8) == b"\0" * 4 + w1.to_bytes(8, "little")[:4]
    assert mem.read_u64(0x4001000c) == w1 >> 32
    page = mem.read(0x40010000, 4096)
    assert len(page) == 4096 and page[8:16] == w1.to_bytes(8, "little") and page.count(0) >= 4088
    big = mem.read(0x40000000, 1 << 22)                         # sparse path
    assert big[0x10008:0x10010] == w1.to_bytes(8, "little")
    for pa in (0x3FFFFFF8, 0xC0000000, 0xBFFFFFFC):
        with pytest.raises(NotInImage):
            mem.read_u64(pa)
    with pytest.raises(ValueError):
        PhysicalMemory.from_words({0x40000004: 1}, ram)
    with pytest.raises(ValueError):
        PhysicalMemory.from_words({0xC0000000: 1}, ram)
    with pytest.raises(ValueError):
        PhysicalMemory.from_words({0x40000000: 1 << 64}, ram)


def test_custom_backing_protocol() -> None:
    """A lazily-decoding backing (as a kdump reader would be) plugs in."""

    class Pages:
        """Pages 0 and 2 present; page 1 excluded from the dump."""

        def __init__(self) -> None:
            self.closed = False

        def read(self, offset: int, size: int) -> bytes:
            if offset // 4096 <= 1 <= (offset + size - 1) // 4096:
                raise NotInImage(offset, size, "was excluded from the dump")
            return bytes((offset + i) & 0xFF for i in range(size))

        def close(self) -> None:
            self.closed = True

    pages = Pages()
    assert isinstance(pages, Backing)
    mem = PhysicalMemory([(Region(0x80000000, 3 * 4096, "kdump", 0, "kdump"), pages)])
    assert mem.read_u64(0x80000008) == int.from_bytes(bytes(range(8, 16)), "little")
    with pytest.raises(NotInImage, match="excluded") as e:
        mem.read_u64(0x80001008)
    assert e.value.address == 0x80001008
    mem.close()
    assert pages.closed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 64), st.binary(min_size=1, max_size=40)), max_size=6),
       st.integers(0, 110), st.integers(0, 24), st.booleans())
def test_reads_match_first_wins_model(chunks, pa, size, big_endian) -> None:
    """Any layout: a read returns the first-given bytes, or NotInImage if a byte is missing."""
    model: dict[int, int] = {}
    for base, data in chunks:
        for i, byte in enumerate(data):
            model.setdefault(base + i, byte)
    mem = PhysicalMemory([(Region(b, len(d), f"<{n}>", 0, "memory"), _bytes_backing(d))
                          for n, (b, d) in enumerate(chunks)])
    covered = all(a in model for a in range(pa, pa + size))
    assert mem.contains(pa, size) == covered
    if covered:
        assert mem.read(pa, size) == bytes(model[a] for a in range(pa, pa + size))
    else:
        with pytest.raises(NotInImage):
            mem.read(pa, size)
    if all(a in model for a in range(pa, pa + 8)):
        want = bytes(model[a] for a in range(pa, pa + 8))
        assert mem.read_u64(pa, big_endian) == int.from_bytes(want, "big" if big_endian else "little")
    else:
        with pytest.raises(NotInImage):
            mem.read_u64(pa, big_endian)
    bases = [r.base for r in mem.regions]
    assert bases == sorted(bases)
    assert all(a.end <= b.base for a, b in zip(mem.regions, mem.regions[1:]))


def _bytes_backing(data: bytes):
    from pgwalk.memory import BytesBacking
    return BytesBacking(data)


# --------------------------------------------------------------------------
# PATH[@BASE]
# --------------------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ("ram.bin", ("ram.bin", None)),
    ("ram.bin@0x40000000", ("ram.bin", 0x40000000)),
    ("ram.bin@0X4000_0000", ("ram.bin", 0x40000000)),
    ("ram.bin@4096", ("ram.bin", 0x4096)),          # bare values are hex (pgwalk.values)
    ("ram.bin@0", ("ram.bin", 0)),
    ("user@host/ram.bin", ("user@host/ram.bin", None)),
    ("dumps/a@b.bin@0x1000", ("dumps/a@b.bin", 0x1000)),
    ("ram@2024", ("ram", 0x2024)),
    ("ram.bin@", ("ram.bin@", None)),
    ("ram.bin@0x", ("ram.bin@0x", None)),
    ("ram.bin@12abc", ("ram.bin", 0x12ABC)),
    ("ram.bin@12abg", ("ram.bin@12abg", None)),
    ("ram.bin@0xffffffffffffffff", ("ram.bin", 2**64 - 1)),
])
def test_parse_image_spec(spec: str, expected: tuple) -> None:
    assert parse_image_spec(spec) == expected


@pytest.mark.parametrize("spec", ["@0x1000", "ram.bin@0x10000000000000000", "ram.bin@-1", "ram.bin@-0x10", ""])
def test_parse_image_spec_errors(spec: str) -> None:
    with pytest.raises(InputError):
        parse_image_spec(spec)


def test_path_with_at_sign_opens(tmp_path: Path) -> None:
    p = raw(tmp_path, "node@1.bin", pattern(0x100, 3))
    with open_images([str(p)]) as mem:
        assert mem.regions[0].base == 0 and mem.read_u64(0) == 3 << 32
    with open_images([f"{p}@0x2000"]) as mem:
        assert mem.regions[0].base == 0x2000


# --------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------

def test_read_u64_is_fast(tmp_path: Path) -> None:
    p = raw(tmp_path, "fast.bin", pattern(1 << 20))
    with open_images([f"{p}@0x40000000", f"{raw(tmp_path, 'b.bin', b'x' * 4096)}@0x90000000"]) as mem:
        read_u64 = mem.read_u64
        n = 100_000
        per = min(timeit.repeat(lambda: read_u64(0x40012348), number=n, repeat=3)) / n
    assert per < 5e-6, f"read_u64 took {per * 1e9:.0f} ns"


# --------------------------------------------------------------------------
# the real dump (QEMU arm64 Linux guest)
# --------------------------------------------------------------------------

def test_real_linux_vmcore() -> None:
    path = linux_vmcore_elf()
    if path is None:
        pytest.skip("oracle data (linux-arm64/vmcore.elf.zst) not present")
    with open_images([str(path)]) as mem:
        assert [(r.base, r.end, r.kind) for r in mem.regions] == [(0x40000000, 0x50000000, "elf PT_LOAD")]
        assert mem.warnings == ()
        page = mem.read(0x41858000, 4096)                       # swapper_pg_dir
        assert len(page) == 4096
        descriptors = [d for (d,) in struct.iter_unpack("<Q", page)]
        assert any(d & 1 for d in descriptors)
        assert mem.read_u64(0x41858000 + 8 * [i for i, d in enumerate(descriptors) if d & 1][0]) & 1
        with pytest.raises(NotInImage):
            mem.read_u64(0x50000000)
        core, = mem.elf_cores
        assert core.machine == elf.EM_AARCH64
        types = [(n.name, n.type) for n in core.notes]
        assert ("CORE", elf.NT_PRSTATUS) in types and ("LINUX", elf.NT_ARM_SVE) in types
        assert "SYMBOL(swapper_pg_dir)=" in core.vmcoreinfo
