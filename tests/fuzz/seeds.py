"""Valid, small inputs the fuzzers mutate (mutating real structures finds far more than random bytes).

Every seed is built here from pgwalk's own builders, so the corpus needs no
files: a tiny Linux-like kernel tree (4KB granule, 48-bit VA) whose
VMCOREINFO derives the registers, wrapped as an ELF core, a plain and a
flattened kdump file (zlib and uncompressed pages); register files in JSON
and TOML; kernel logs from ``tests/data/kernlogs``; VMCOREINFO text.  When
the oracle folder is present, real headers are added (the real ELF dump's
header, program headers and notes; the real flattened kdump's first
records).
"""

from __future__ import annotations

import functools
import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

#: where the mini kernel's tables live
TABLE_BASE = 0x2000
#: a fake kimage_voffset: VA of the image - PA
KIMAGE_VOFFSET = 0xFFFF_8000_0000_0000 - 0x0
SWAPPER_VA = KIMAGE_VOFFSET + TABLE_BASE
#: kernel addresses the mini tree maps, and some it does not
PROBE_VAS = (0xFFFF_8000_0000_2000, 0xFFFF_8000_0010_0123, 0xFFFF_8000_0020_0008,
             0xFFFF_0000_0000_1000, 0xFFFF_0000_4000_0000, 0xFFFF_8000_0030_0000, 0x1234, 0xFFFF_FFFF_FFFF_F000)

MINI_VMCOREINFO = (
    "OSRELEASE=6.1.0-fuzz\nPAGESIZE=4096\n"
    f"SYMBOL(swapper_pg_dir)={SWAPPER_VA:x}\nSYMBOL(_stext)={KIMAGE_VOFFSET + 0x10000:x}\n"
    "NUMBER(VA_BITS)=48\n"
    f"NUMBER(kimage_voffset)={KIMAGE_VOFFSET:#x}\nNUMBER(PHYS_OFFSET)=0x0\n"
    "NUMBER(TCR_EL1_T1SZ)=0x10\nKERNELOFFSET=0\nNUMBER(KERNELPACMASK)=0xffff000000000000\n"
)


@functools.lru_cache(maxsize=None)
def mini_kernel() -> tuple[bytes, dict[str, int]]:
    """``(memory from PA 0, registers)``: a kernel tree at :data:`TABLE_BASE` with pages,
    a 2MB block, a table pointing at itself, a descriptor pointing outside memory and
    RES0 bits, over 0x10000 bytes of memory."""
    from pgwalk.builder import S1Attrs, TableBuilder

    kern = TableBuilder(granule=4096, ia_bits=48, pa_bits=48, table_base=TABLE_BASE, table_limit=0x10000)
    kern.map(0xFFFF_8000_0000_0000, 0x0, 0x4000, S1Attrs(ap=0b10, uxn=1))             # image: tables
    kern.map(0xFFFF_8000_0010_0000, 0x8000, 0x2000, S1Attrs(ap=0b00, uxn=1, pxn=1))
    kern.map(0xFFFF_8000_0020_0000, 0x0020_0000, 0x20_0000, S1Attrs(ap=0b00, uxn=1, pxn=1))
    kern.map(0xFFFF_0000_0000_0000, 0x0, 0x1_0000, S1Attrs(ap=0b00, uxn=1, pxn=1))   # linear map
    regs = kern.registers(ttbr=1)
    (buf,) = kern.chunks().values()
    mem = bytearray(0x10000)
    mem[TABLE_BASE:TABLE_BASE + len(buf)] = buf
    # hostile corners: the last root entry points at the root itself (a cycle); the one before
    # at a table outside memory; one L3 entry has RES0 bits set
    root = TABLE_BASE
    struct.pack_into("<Q", mem, root + 511 * 8, root | 0b11)
    struct.pack_into("<Q", mem, root + 510 * 8, 0x7_0000_0000 | 0b11)
    for off in range(TABLE_BASE, TABLE_BASE + len(buf), 8):
        (v,) = struct.unpack_from("<Q", mem, off)
        if v & 0b11 == 0b11 and (v >> 12) & 0xFFFFFFFFF in range(0x8, 0xA):       # the 0x8000 page
            struct.pack_into("<Q", mem, off, v | (1 << 49))
            break
    return bytes(mem), regs


def _notes(entries: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for name, ntype, desc in entries:
        nm = name.encode() + b"\0"
        out += struct.pack("<III", len(nm), len(desc), ntype)
        out += nm.ljust((len(nm) + 3) & ~3, b"\0") + desc.ljust((len(desc) + 3) & ~3, b"\0")
    return bytes(out)


def prstatus(pc: int = 0xFFFF_8000_0000_1234) -> bytes:
    from pgwalk.formats import kdump as K

    regs = list(range(31)) + [0xFFFF_8000_0000_8000, pc, 0x3C5]
    return K.Arm64Prstatus.build(dict(si_signo=11, si_code=0, si_errno=0, pr_cursig=11, pr_sigpend=0,
                                      pr_sighold=0, pr_pid=1, pr_ppid=0, pr_pgrp=0, pr_sid=0,
                                      pr_utime=[0, 0], pr_stime=[0, 0], pr_cutime=[0, 0], pr_cstime=[0, 0],
                                      pr_reg=regs, pr_fpvalid=0))


def elf_core(segments: list[dict], notes: bytes = b"", *, machine: int = 183) -> bytes:
    """A 64-bit little-endian ELF core: a PT_NOTE (if ``notes``) then ``segments``
    (``paddr``, ``data``, optional ``memsz``/``filesz``/``offset``)."""
    from pgwalk.formats import elf

    s = elf.elf_structs(True, elf.ELFCLASS64)
    phdrs = ([dict(type=elf.PT_NOTE, data=notes)] if notes else []) + [dict(type=elf.PT_LOAD, **g) for g in segments]
    pos = s.ehdr_size + len(phdrs) * s.phdr_size
    out = bytearray()
    blobs = []
    table = bytearray()
    for ph in phdrs:
        data = ph.get("data", b"")
        table += s.Phdr.build(dict(
            p_type=ph["type"], p_flags=7 if ph["type"] == elf.PT_LOAD else 0, p_offset=ph.get("offset", pos),
            p_vaddr=ph.get("paddr", 0), p_paddr=ph.get("paddr", 0), p_filesz=ph.get("filesz", len(data)),
            p_memsz=ph.get("memsz", ph.get("filesz", len(data))), p_align=0))
        blobs.append(data)
        pos += len(data)
    ident = dict(EI_CLASS=2, EI_DATA=1, EI_VERSION=1, EI_OSABI=0, EI_ABIVERSION=0)
    out += s.Ehdr.build(dict(e_ident=ident, e_type=elf.ET_CORE, e_machine=machine, e_version=1, e_entry=0,
                             e_phoff=s.ehdr_size, e_shoff=0, e_flags=0, e_ehsize=s.ehdr_size,
                             e_phentsize=s.phdr_size, e_phnum=len(phdrs), e_shentsize=s.shdr_size,
                             e_shnum=0, e_shstrndx=0))
    out += table
    for b in blobs:
        out += b
    return bytes(out)


@functools.lru_cache(maxsize=None)
def mini_notes() -> bytes:
    return _notes([("CORE", 1, prstatus()), ("VMCOREINFO", 0, MINI_VMCOREINFO.encode())])


@functools.lru_cache(maxsize=None)
def elf_seeds() -> tuple[bytes, ...]:
    mem, _regs = mini_kernel()
    tables = mem[:0x9000]
    out = [
        elf_core([dict(paddr=0, data=tables)], mini_notes()),
        # two segments with a hole, a zero-fill tail and an overlap
        elf_core([dict(paddr=0, data=tables[:0x4000]), dict(paddr=0x6000, data=tables[0x6000:0x9000], memsz=0x5000),
                  dict(paddr=0x3000, data=tables[0x3000:0x5000])], mini_notes()),
        elf_core([dict(paddr=0, data=tables[:0x3000])], b""),
    ]
    real = real_elf_head()
    if real is not None:
        out.append(real)
    return tuple(out)


def _kdump_bytes(tmp: Path, **kw) -> bytes:
    from pgwalk.kdump import write_kdump

    p = tmp / "seed.kdump"
    write_kdump(p, **kw)
    return p.read_bytes()


@functools.lru_cache(maxsize=None)
def kdump_seeds() -> tuple[bytes, ...]:
    """Plain diskdump seeds (``KDUMP   ``)."""
    return _kdump_family(False)


@functools.lru_cache(maxsize=None)
def flat_seeds() -> tuple[bytes, ...]:
    """Flattened (``makedumpfile``) seeds."""
    out = list(_kdump_family(True))
    real = real_flat_head()
    if real is not None:
        out.append(real)
    return tuple(out)


def _kdump_family(flattened: bool) -> tuple[bytes, ...]:
    import tempfile

    from pgwalk.kdump import compression_available

    mem, _regs = mini_kernel()
    bs = 1024
    pages = {i: mem[i * bs:(i + 1) * bs] for i in range(0x9000 // bs) if any(mem[i * bs:(i + 1) * bs])}
    notes = [("CORE", 1, prstatus())]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        common = dict(block_size=bs, vmcoreinfo=MINI_VMCOREINFO, notes=notes, flattened=flattened,
                      flat_chunk=1024)
        return (
            _kdump_bytes(tmp, pages=pages, compression="zlib", zero_runs=[(0x20, 4)],
                         excluded_runs=[(0x30, 2)], **common),
            _kdump_bytes(tmp, pages=dict(list(pages.items())[:4]), compression=None, **common),
            _kdump_bytes(tmp, pages={1: mem[512:1024]}, compression="zlib", block_size=512, header_version=2,
                         flattened=flattened, flat_chunk=512),
        ) + tuple(_kdump_bytes(tmp, pages=dict(list(pages.items())[:6]), compression=comp, **common)
                  for comp in ("zstd", "snappy", "lzo") if compression_available(comp))


def real_elf_head(load_bytes: int = 0x2000) -> bytes | None:
    """The real Linux ELF dump's headers and notes with its PT_LOAD cut to ``load_bytes``."""
    from oracle_data import linux_vmcore_elf

    p = linux_vmcore_elf()
    if p is None:
        return None
    with open(p, "rb") as f:
        head = f.read(0x1B54 + load_bytes)
    return bytes(head)


def real_flat_head(limit: int = 1 << 16) -> bytes | None:
    """The first records of the real flattened kdump (headers, notes, VMCOREINFO, the start of
    the bitmaps), cut at a record boundary below ``limit`` bytes."""
    from oracle_data import linux_vmcore_kdump

    p = linux_vmcore_kdump()
    if p is None:
        return None
    with open(p, "rb") as f:
        data = f.read(limit + 4096)
    pos, keep = 4096, 4096
    while pos + 16 <= len(data):
        off, size = struct.unpack_from(">qq", data, pos)
        if off < 0 or size < 0 or pos + 16 + size > limit:
            break
        pos += 16 + size
        keep = pos
    return data[:keep]


@functools.lru_cache(maxsize=None)
def regs_seeds() -> tuple[bytes, ...]:
    _mem, regs = mini_kernel()
    j = {k: f"{v:#x}" for k, v in regs.items()}
    toml = "".join(f"{k} = {v:#x}\n" for k, v in regs.items())
    out = [
        json.dumps(j).encode(),
        json.dumps({"selected": {**j, "cpsr": "0x3c5", "SCTLR": None}, "_c": 1}).encode(),
        ("# toml\n" + toml + 'HCR_EL2 = "0x8000_0001"\n').encode(),
        b'{"TCR_EL1": 1, "TTBR1_EL1": "ffff", "MAIR": "0b1010", "VTCR_EL2": "0o17"}',
    ]
    for p in sorted((TESTS.parent / "samples").glob("*.regs.json")):
        out.append(p.read_bytes())
    return tuple(out)


@functools.lru_cache(maxsize=None)
def kernlog_seeds() -> tuple[bytes, ...]:
    out = []
    for p in sorted((TESTS / "data" / "kernlogs").glob("*.log")):
        data = p.read_bytes()
        out.append(data[:16384])
    return tuple(out)


@functools.lru_cache(maxsize=None)
def vmcoreinfo_seeds() -> tuple[bytes, ...]:
    from oracle_data import linux_vmcoreinfo

    out = [MINI_VMCOREINFO.encode()]
    real = linux_vmcoreinfo()
    if real:
        out.append(real.encode())
    return tuple(out)


def write_corpus(name: str, directory: Path) -> Path:
    """Write the seeds of target ``name`` into ``directory`` (for atheris/libFuzzer)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(SEEDS[name]()):
        (directory / f"seed-{i:02d}").write_bytes(s)
    return directory


SEEDS = {"elf": elf_seeds, "kdump": kdump_seeds, "flat": flat_seeds, "regs": regs_seeds,
         "kernlog": kernlog_seeds, "vmcoreinfo": vmcoreinfo_seeds}
