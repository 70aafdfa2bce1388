"""Tests of the Linux layer: pgwalk.vmcoreinfo and pgwalk.linux.

The oracle: every translation QEMU made (translations.json, ``result`` =
the el1_nopan walk) must come out the same from the ELF dump and from the
kdump-zlib dump, kernel addresses with no register file (registers derived
from VMCOREINFO), user addresses with regs.json's TTBR0_EL1 merged in.

Synthetic kernels (4K/16K/64K pages, 39..52-bit VAs, LPA2, 52-bit kernels on
48-bit hardware, randomised linear maps, KASLR, old layouts) are built with
:class:`pgwalk.builder.TableBuilder`, written as kdump files and walked with
registers derived from their VMCOREINFO.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.errors import InputError, RegisterError
from pgwalk.formats import registers as R
from pgwalk.kdump import open_kdump, write_kdump
from pgwalk.linux import (
    kernel_layout, kimage_ptov, kimage_vtop, label_address, layout_constants, linux_mair,
    merge_registers, page_offset, ptov_linear, registers_from_vmcoreinfo, untag, vtop_linear,
)
from pgwalk.memory import open_elf_core
from pgwalk.images import open_images
from pgwalk.params import setup_from_registers
from pgwalk.vmcoreinfo import parse_vmcoreinfo
from pgwalk.walk import translate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_data  # noqa: E402
from oracle_data import (  # noqa: E402
    linux_registers, linux_translations, linux_vmcore_elf, linux_vmcore_kdump, linux_vmcoreinfo,
)

M64 = (1 << 64) - 1


# --------------------------------------------------------------------------
# VMCOREINFO parsing
# --------------------------------------------------------------------------

def test_parse_kinds():
    text = "\n".join([
        "OSRELEASE=5.15.0-91-generic", "BUILD-ID=abc123", "PAGESIZE=65536",
        "SYMBOL(swapper_pg_dir)=ffff800011a4a000", "SIZE(page)=64", "OFFSET(page.flags)=0",
        "LENGTH(zone.free_area)=14", "NUMBER(PG_lru)=4", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129",
        "NUMBER(VA_BITS)=52", "NUMBER(kimage_voffset)=0xffff7fffc7e00000",
        "NUMBER(PHYS_OFFSET)=0xfff1000080000000", "NUMBER(TCR_EL1_T1SZ)=0x10",
        "KERNELOFFSET=0", "CRASHTIME=1700000000", "garbage line", "NUMBER(bad)=zz", "",
    ])
    i = parse_vmcoreinfo(text)
    assert i.osrelease == "5.15.0-91-generic" and i.version == (5, 15, 0)
    assert i.build_id == "abc123" and i.page_size == 65536 and i.page_shift == 16
    assert i.swapper_pg_dir == 0xFFFF800011A4A000
    assert i.sizes == {"page": 64} and i.offsets == {"page.flags": 0}
    assert i.lengths == {"zone.free_area": 14}
    assert i.numbers["PAGE_BUDDY_MAPCOUNT_VALUE"] == -129
    assert i.va_bits == 52 and i.tcr_el1_t1sz == 16 and i.va_bits_actual == 48
    assert i.kimage_voffset == 0xFFFF7FFFC7E00000
    assert i.phys_offset == 0x80000000 - ((1 << 52) - (1 << 48))     # signed: wrapped below zero
    assert i.kaslr_offset == 0 and i.crashtime == 1700000000
    assert i.bad_lines == ["garbage line", "NUMBER(bad)=zz"]
    j = i.to_json()
    assert j["phys_offset"].startswith("-0x") and j["phys_offset_u64"] == "0xfff1000080000000"
    assert parse_vmcoreinfo(text.encode() + b"\0\0").osrelease == i.osrelease


def test_parse_empty_is_input_error():
    with pytest.raises(InputError):
        parse_vmcoreinfo("no equals sign here\n")


# --------------------------------------------------------------------------
# the oracle kernel
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oracle_info():
    text = linux_vmcoreinfo()
    if text is None:
        pytest.skip("oracle folder not available")
    return parse_vmcoreinfo(text)


def test_oracle_vmcoreinfo(oracle_info):
    i = oracle_info
    assert i.osrelease == "6.1.0-56-arm64" and i.page_size == 4096 and i.va_bits == 48
    assert i.kimage_voffset == 0xFFFFBB3EDF800000 and i.phys_offset == 0x40000000
    assert i.kaslr_offset == 0x3B3F17A00000 and i.swapper_pg_dir == 0xFFFFBB3F21058000
    assert i.tcr_el1_t1sz == 16 and i.kernel_pac_mask == 0xFFFF000000000000


def test_oracle_derived_registers_match_the_cpu(oracle_info):
    regs = registers_from_vmcoreinfo(oracle_info)
    real = linux_registers()
    assert regs["TTBR1_EL1"] == 0x41858000 == R.TTBR["BADDR"].get(real["TTBR1_EL1"]) << 1
    assert regs["MAIR_EL1"] == real["MAIR_EL1"] == linux_mair(oracle_info)
    derived, cpu = R.TCR_EL1.decode(regs["TCR_EL1"]), R.TCR_EL1.decode(real["TCR_EL1"])
    for f in ("T0SZ", "T1SZ", "TG0", "TG1", "IRGN0", "ORGN0", "SH0", "IRGN1", "ORGN1", "SH1",
              "IPS", "AS", "A1", "TBI0", "TBI1", "TBID1", "HA", "HD", "DS", "EPD0", "EPD1"):
        assert derived[f] == cpu[f], f
    assert R.SCTLR["M"].get(regs["SCTLR_EL1"]) == 1


def _oracle_setups(info):
    derived = registers_from_vmcoreinfo(info)
    kernel = setup_from_registers(derived)
    user = setup_from_registers(merge_registers(derived, linux_registers()))
    return kernel, user


def _check_oracle(mem, info, entries) -> dict[str, int]:
    kernel, user = _oracle_setups(info)
    counts = {"kernel": 0, "kernel_mapped": 0, "user": 0, "user_mapped": 0, "agree": 0}
    bad = []
    for e in entries:
        va = int(e["va"], 16)
        want = int(e["result"], 16) if e["result"] else None
        side = "kernel" if (va >> 55) & 1 else "user"
        t = translate(kernel if side == "kernel" else user, mem, va, stages="1")
        got = t.pa if t.ok else None
        counts[side] += 1
        counts[side + "_mapped"] += want is not None
        if got == want:
            counts["agree"] += 1
        else:
            bad.append((e["category"], e["va"], e["result"], None if got is None else hex(got), t.fault))
    assert not bad, bad[:10]
    return counts


@pytest.mark.parametrize("fmt", ["elf", "kdump-zlib"])
def test_oracle_translations(oracle_info, fmt, capsys):
    entries = linux_translations()
    path = linux_vmcore_elf() if fmt == "elf" else linux_vmcore_kdump()
    if path is None or entries is None:
        pytest.skip("oracle dump not available")
    dump = open_elf_core(path) if fmt == "elf" else open_kdump(path)
    with dump:
        # the registers come from the dump's own VMCOREINFO, not from vmcoreinfo.txt
        info = parse_vmcoreinfo(dump.vmcoreinfo)
        assert info.swapper_pg_dir == oracle_info.swapper_pg_dir
        counts = _check_oracle(dump.memory(), info, entries)
    assert counts["kernel"] == 1506 and counts["kernel_mapped"] == 828
    assert counts["user"] == 1435 and counts["agree"] == len(entries) == 2941
    with capsys.disabled():
        print(f"\n  oracle {fmt}: {counts['agree']}/{len(entries)} agree "
              f"(kernel {counts['kernel']}: {counts['kernel_mapped']} mapped, no register file; "
              f"user {counts['user']}: {counts['user_mapped']} mapped, regs.json TTBR0)")


def test_oracle_kernel_conversions(oracle_info):
    entries = linux_translations()
    if entries is None:
        pytest.skip("oracle folder not available")
    n = 0
    for e in entries:
        src = e.get("kernel_expect_src") or ""
        if not e["result"]:
            continue
        va, pa = int(e["va"], 16), int(e["result"], 16)
        if src.startswith("va-PAGE_OFFSET"):
            assert vtop_linear(oracle_info, va) == pa
            assert ptov_linear(oracle_info, pa) == va
            n += 1
        elif src.startswith("va-kimage_voffset"):
            assert kimage_vtop(oracle_info, va) == pa       # TBI1-tagged ones too
            assert kimage_ptov(oracle_info, pa) == untag(va)
            n += 1
    assert n == 49 + 94
    with pytest.raises(InputError):
        vtop_linear(oracle_info, 0xFFFF800008000000)         # vmalloc, not linear
    with pytest.raises(InputError):
        ptov_linear(oracle_info, 0x3FFFF000)                 # below PHYS_OFFSET


def test_oracle_layout(oracle_info):
    c = layout_constants(oracle_info)
    # pgw_oracle printed these from the running kernel
    assert c["PAGE_OFFSET"] == 0xFFFF000000000000 and c["PAGE_END"] == 0xFFFF800000000000
    assert c["MODULES_VADDR"] == 0xFFFF800000000000 and c["MODULES_END"] == 0xFFFF800008000000
    assert c["VMALLOC_END"] == 0xFFFFFBFFF0000000 and c["VMEMMAP_START"] == 0xFFFFFC0000000000
    assert c["PCI_IO_START"] == 0xFFFFFBFFFE800000 and c["PCI_IO_END"] == 0xFFFFFBFFFF800000
    assert c["FIXADDR_TOP"] == 0xFFFFFBFFFE000000 and c["KIMAGE_TEXT"] == 0xFFFFBB3F1FA00000
    # the computed layout (without VMCOREINFO's numbers) gives the same
    bare = parse_vmcoreinfo("\n".join(l for l in oracle_info.text.splitlines()
                                      if not l.startswith(("NUMBER(MODULES", "NUMBER(VMALLOC", "NUMBER(VMEMMAP"))))
    assert layout_constants(bare) == c
    entries = linux_translations()
    if entries is None:
        return
    elf = linux_vmcore_elf()
    mem = open_images([str(elf)]) if elf is not None else None
    lay = kernel_layout(oracle_info, mem)
    expect = {"linear": "linear map", "fixmap": "fixmap", "fixmap_top": "fixmap", "pci_io": "PCI I/O",
              "vmemmap": "vmemmap", "kimage_symbol": "kernel image", "kimage_segment": "kernel image",
              "kernel_xlate_ktext": "kernel image", "kernel_xlate_kdata": "kernel image",
              "kernel_xlate_kmalloc": "linear map", "kernel_xlate_vmalloc": "vmalloc",
              "kernel_xlate_modtext": "modules", "kernel_xlate_modrodata": "modules",
              "module_symbol": "modules", "modules_edge": "modules", "user_pagemap": "user",
              "vmalloc_start": None}
    for e in entries:
        want = expect.get(e["category"], "-")
        if mem is None and e["category"] == "kimage_segment":
            continue                 # the image's end comes from the tables
        if want != "-" and want is not None:
            assert label_address(lay, int(e["va"], 16)) == want, e
    assert label_address(lay, 0xF3FF800008035000) == "vmalloc"     # TBI-tagged
    assert label_address(lay, 0x0001000000000000) is None


def _guest_bounds(layout: dict, vabits: int) -> dict[str, list[tuple[int, int]]]:
    """The running kernel's own ranges as pgw_oracle printed them (guest_layout.json)."""
    h = {k: int(v, 16) for k, v in layout.items() if isinstance(v, str) and v.startswith("0x")}
    text = h["KIMAGE_VADDR"]
    return {
        "user": [(0, 1 << vabits)],
        "linear map": [(max(h["PAGE_OFFSET"], (1 << 64) - (1 << vabits)), h.get("PAGE_END", 1 << 64))],
        "modules": [(h["MODULES_VADDR"], h["MODULES_END"]), (text - (2 << 30), 1 << 64)],  # + KASLR window
        "vmalloc": [(h["VMALLOC_START"], h["VMALLOC_END"])],
        "fixmap": [(h["FIXADDR_START"], h["FIXADDR_TOP"])],
        "PCI I/O": [(h["PCI_IO_START"], h["PCI_IO_END"])],
        "vmemmap": [(h["VMEMMAP_START"], 1 << 64)],
        "kernel image": [(h["KIMAGE_VADDR"], 1 << 64)],
    }


@pytest.mark.parametrize("which", ["4k", "16k"])
def test_layout_never_labels_an_address_with_a_region_it_is_outside(which):
    """Issue 11 item 5: every oracle address (and every range edge) gets a label only
    inside the running kernel's own bounds for that region (pgw_oracle's numbers)."""
    import json

    if which == "4k":
        d, text, entries, elf = (oracle_data.linux_oracle_dir(), linux_vmcoreinfo(), linux_translations(),
                                 linux_vmcore_elf())
    else:
        d, text, entries, elf = (oracle_data.linux16k_oracle_dir(), oracle_data.linux16k_vmcoreinfo(),
                                 oracle_data.linux16k_translations(), oracle_data.linux16k_vmcore_elf())
    if d is None or text is None or entries is None or elf is None:
        pytest.skip(f"{which} Linux oracle not present")
    guest = json.loads((d / "guest_layout.json").read_text())["pgw_oracle"]
    info = parse_vmcoreinfo(text)
    mem = open_images([str(elf)])
    lay = kernel_layout(info, mem)
    bounds = _guest_bounds(guest, guest["vabits_actual"])
    vas = [int(e["va"], 16) for e in entries]
    vas += [x for r in lay for x in (r.start, r.end - 1)]
    labelled = 0
    for va in vas:
        name = label_address(lay, va)
        if name is None:
            continue
        labelled += 1
        v = untag(va)
        assert any(lo <= v < hi for lo, hi in bounds[name]), (hex(va), name)
    assert labelled > len(entries) // 2
    # the running layout, not the configured one
    by_name = {r.name: r for r in lay}
    assert by_name["linear map"].start == bounds["linear map"][0][0]
    assert by_name["fixmap"].start == bounds["fixmap"][0][0] and by_name["fixmap"].approx
    # the image ends where the tables stop mapping it: just past _end
    beyond = [int(e["va"], 16) for e in entries if e["category"].startswith("kimage_beyond")]
    assert all(label_address(lay, va) != "kernel image" for va in beyond)


# --------------------------------------------------------------------------
# synthetic kernels
# --------------------------------------------------------------------------

RAM = 0x8000_0000
IMAGE_PA = RAM + 0x20_0000          # the kernel image, 2 MiB in
TABLES_PA = RAM + 0x100_0000        # swapper's tables


def _vmcoreinfo(*, release: str, page_size: int, va_bits: int, t1sz: int | None, phys_offset: int,
                kimage_voffset: int | None, kaslr: int, swapper_pa: int, extra: str = "") -> str:
    lines = [f"OSRELEASE={release}", f"PAGESIZE={page_size}", f"NUMBER(VA_BITS)={va_bits}",
             f"NUMBER(PHYS_OFFSET)={phys_offset & M64:#x}", f"KERNELOFFSET={kaslr:x}"]
    if t1sz is not None:
        lines.append(f"NUMBER(TCR_EL1_T1SZ)={t1sz:#x}")
    if kimage_voffset is not None:
        lines.append(f"NUMBER(kimage_voffset)={kimage_voffset & M64:#x}")
        lines.append(f"SYMBOL(swapper_pg_dir)={(swapper_pa + kimage_voffset) & M64:x}")
    return "\n".join(lines) + "\n" + extra


CASES = {
    # name: (release, page size, VA_BITS, bits in use, phys_offset, kaslr, block_size)
    "4k-39": ("6.1.0", 4096, 39, 39, RAM, 0, 4096),
    "4k-48-kaslr": ("6.1.0", 4096, 48, 48, RAM, 0x1234_5600_0000, 65536),
    "4k-48-rand-linear": ("6.1.0", 4096, 48, 48, RAM - 5 * 0x4000_0000, 0x2000_0000, 4096),
    "16k-47": ("6.1.0", 16384, 47, 47, RAM, 0x100_0000_0000, 16384),
    "16k-36": ("5.15.0", 16384, 36, 36, RAM, 0, 16384),
    "64k-42": ("6.1.0", 65536, 42, 42, RAM, 0x20_0000_0000, 65536),
    "64k-48": ("5.10.0", 65536, 48, 48, RAM, 0, 65536),
    "64k-52-lva": ("6.1.0", 65536, 52, 52, RAM, 0x1000_0000_0000, 65536),
    "64k-52-on-48": ("6.1.0", 65536, 52, 48, RAM - ((1 << 52) - (1 << 48)), 0, 65536),
    "4k-52-lpa2": ("6.9.0", 4096, 52, 52, RAM, 0x3_0000_0000, 4096),
    "16k-52-lpa2": ("6.10.0", 16384, 52, 52, RAM, 0, 16384),
    "4k-48-old-4.19": ("4.19.0", 4096, 48, 48, RAM, 0x40_0000_0000, 4096),
    "4k-39-5.4": ("5.4.0", 4096, 39, 39, RAM, 0, 4096),
}


def _build(case: str, tmp_path: Path, flattened: bool = False):
    release, ps, vb, actual, po, kaslr, block = CASES[case]
    ds = actual == 52 and ps in (4096, 16384)
    lpa = ps == 65536 and vb == 52
    offset4852 = 0x1E00 if (ps == 65536 and vb == 52 and actual == 48) else 0
    pre = parse_vmcoreinfo(_vmcoreinfo(release=release, page_size=ps, va_bits=vb, t1sz=64 - actual,
                                       phys_offset=po, kimage_voffset=0, kaslr=kaslr, swapper_pa=0))
    text_va = layout_constants(pre)["KIMAGE_TEXT"]
    kimage_voffset = (text_va - IMAGE_PA) & M64
    b = TableBuilder(granule=ps, ia_bits=actual, ds=ds, lpa=lpa and actual == 52,
                     table_base=TABLES_PA + offset4852 + 0x10000, pa_bits=52 if (ds or lpa) else 48)
    swapper_pa = b.root - offset4852
    text = _vmcoreinfo(release=release, page_size=ps, va_bits=vb, t1sz=64 - actual, phys_offset=po,
                       kimage_voffset=kimage_voffset, kaslr=kaslr, swapper_pa=swapper_pa)
    info = parse_vmcoreinfo(text)
    lin = ptov_linear(info, RAM)
    b.map(lin, RAM, 0x40_0000, S1Attrs())                      # linear map of the first 4 MiB
    b.map(kimage_ptov(info, IMAGE_PA), IMAGE_PA, 2 * ps, S1Attrs(ap=0b10))
    pages: dict[int, bytes] = {}
    (base, buf), = b.chunks().items()
    buf = bytes(base % block) + bytes(buf)
    base -= base % block
    buf += bytes((-len(buf)) % block)
    for off in range(0, len(buf), block):
        pages[(base + off) // block] = buf[off:off + block]
    data_pa = RAM + 0x3000
    marker = (0x1122334455667788).to_bytes(8, "little")
    pfn = data_pa // block
    pages.setdefault(pfn, bytes(block))
    pages[pfn] = pages[pfn][:data_pa % block] + marker + pages[pfn][data_pa % block + 8:]
    p = tmp_path / f"{case}.kdump"
    write_kdump(p, pages, block_size=block, vmcoreinfo=text, flattened=flattened,
                excluded_runs=[(RAM // block + 0x300_0000 // block, 1)])
    return p, info, lin


@pytest.mark.parametrize("case", list(CASES))
def test_synthetic_kernel(case, tmp_path):
    p, info, lin = _build(case, tmp_path, flattened=case.endswith("lpa2"))
    release, ps, vb, actual, po, kaslr, block = CASES[case]
    with open_kdump(p) as d:
        info2 = parse_vmcoreinfo(d.vmcoreinfo)
        regs = registers_from_vmcoreinfo(info2)
        setup = setup_from_registers(regs)
        p1 = setup.ranges[1]
        assert p1.iasize == actual and p1.granule_shift == ps.bit_length() - 1
        assert p1.ds == (actual == 52 and ps != 65536)
        mem = d.memory()
        for off in (0, 0x3000, 0x12345, 0x3F_FFF8):
            t = translate(setup, mem, lin + off, stages="1")
            assert t.ok and t.pa == RAM + off, (hex(lin + off), t.fault)
            assert vtop_linear(info2, lin + off) == RAM + off
        assert mem.read_u64(translate(setup, mem, lin + 0x3000, stages="1").pa) == 0x1122334455667788
        img = kimage_ptov(info2, IMAGE_PA + 0x10)
        t = translate(setup, mem, img, stages="1")
        assert t.ok and t.pa == IMAGE_PA + 0x10
        assert kimage_vtop(info2, img) == IMAGE_PA + 0x10
        lay = kernel_layout(info2)
        assert label_address(lay, lin + 8) == "linear map"
        assert label_address(lay, img) == "kernel image"
        # TBI1: tagged kernel pointers translate from 5.10 on (MTE kernels set TBI1)
        tagged = (lin + 8) & ~(0xFF << 56) | (0xF2 << 56)
        t = translate(setup, mem, tagged, stages="1")
        assert t.ok == (info2.version >= (5, 10)), case
        # an unmapped kernel address faults (translation fault, not an exception)
        t = translate(setup, mem, lin + 0x80_0000, stages="1")
        assert not t.ok
        # the 52-bit-on-48 kernel's PHYS_OFFSET is below zero, as the kernel makes it
        if case == "64k-52-on-48":
            assert info2.phys_offset < 0 and lin == 0xFFFF000000000000
            assert page_offset(info2) == 0xFFF0000000000000
            assert regs["TTBR1_EL1"] == (info2.swapper_pg_dir - info2.kimage_voffset) + 0x1E00
        if case == "4k-48-rand-linear":
            assert info2.phys_offset < 0 and lin == 0xFFFF000000000000 + (RAM - po)


def test_walk_into_excluded_page_reports_not_in_image(tmp_path):
    p, info, lin = _build("4k-48-rand-linear", tmp_path)
    # drop the level 1 table's page from the dump (excluded)
    regs = registers_from_vmcoreinfo(info)
    setup = setup_from_registers(regs)
    with open_kdump(p) as d:
        t = translate(setup, d.memory(), lin, stages="1")
        table_pa = t.steps[1].table                            # the level 1 table
    from pgwalk.kdump import write_kdump as wk
    with open_kdump(p) as d:
        mem = d.memory()
        pages = {}
        for r in d.regions:
            for pa in range(r.base, r.end, d.block_size):
                try:
                    pages[pa // d.block_size] = mem.read(pa, d.block_size)
                except Exception:
                    pass
    blk = table_pa // 4096
    del pages[blk]
    q = tmp_path / "excl.kdump"
    wk(q, pages, block_size=4096, vmcoreinfo=info.text, excluded_runs=[(blk, 1)])
    with open_kdump(q) as d:
        t = translate(setup, d.memory(), lin, stages="1")
        assert not t.ok and t.fault.not_in_image and t.fault.level == 1
        assert t.steps[-1].kind == "not in image"


def test_registers_need_swapper_and_sizes():
    base = "OSRELEASE=6.1.0\nPAGESIZE=4096\nNUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0x1000\n"
    with pytest.raises(RegisterError, match="swapper_pg_dir"):
        registers_from_vmcoreinfo(parse_vmcoreinfo(base))
    with pytest.raises(RegisterError, match="PAGESIZE"):
        registers_from_vmcoreinfo(parse_vmcoreinfo(base.replace("4096", "8192")))
    with pytest.raises(RegisterError, match="VA_BITS"):
        registers_from_vmcoreinfo(parse_vmcoreinfo("OSRELEASE=6.1\nPAGESIZE=4096\n"
                                                   "SYMBOL(swapper_pg_dir)=ffff000000001000\n"))


def test_vmcoreinfo_from_memory(tmp_path):
    from pgwalk.linux import vmcoreinfo_from_memory
    from pgwalk.images import open_images

    p, info, lin = _build("4k-39", tmp_path)
    mem = open_images([str(p)])
    try:
        got = vmcoreinfo_from_memory(mem)
        assert got is not None and got.swapper_pg_dir == info.swapper_pg_dir
        setup = setup_from_registers(registers_from_vmcoreinfo(got))
        assert translate(setup, mem, lin + 0x10, stages="1").pa == RAM + 0x10
    finally:
        mem.close()
    assert vmcoreinfo_from_memory(object()) is None


def test_explicit_registers_win():
    info = parse_vmcoreinfo(_vmcoreinfo(release="6.1.0", page_size=4096, va_bits=48, t1sz=16,
                                        phys_offset=RAM, kimage_voffset=0xFFFF7FFF80000000, kaslr=0,
                                        swapper_pa=0x81000000))
    derived = registers_from_vmcoreinfo(info)
    assert derived["TTBR1_EL1"] == 0x81000000
    # a dump taken in EL0 with KPTI: TTBR1_EL1 on the trampoline table; explicit wins
    merged = merge_registers(derived, {"TTBR1_EL1": 0x8200_0000, "TTBR0_EL1": 0x8300_0000})
    assert merged["TTBR1_EL1"] == 0x8200_0000 and merged["TCR_EL1"] == derived["TCR_EL1"]


def test_old_and_new_layouts():
    def info(release, vb=48, ps=4096):
        return parse_vmcoreinfo(_vmcoreinfo(release=release, page_size=ps, va_bits=vb, t1sz=64 - vb,
                                            phys_offset=RAM, kimage_voffset=0, kaslr=0, swapper_pa=0))
    old = layout_constants(info("4.19.0"))
    assert old["PAGE_OFFSET"] == 0xFFFF800000000000 and old["MODULES_VADDR"] == 0xFFFF000000000000
    i = info("4.19.0")
    assert ptov_linear(i, RAM) == 0xFFFF800000000000 and vtop_linear(i, 0xFFFF800000001000) == RAM + 0x1000
    assert label_address(kernel_layout(i), 0xFFFF800000001000) == "linear map"
    c54 = layout_constants(info("5.4.0"))
    assert c54["PAGE_OFFSET"] == 0xFFFF000000000000 and "BPF_JIT_START" in c54
    new = layout_constants(info("6.9.0"))
    assert new["VMEMMAP_END"] == (-(1 << 30)) & M64 and new["FIXADDR_TOP"] == (-(8 << 20)) & M64
    assert new["PCI_IO_START"] == new["VMEMMAP_END"] + (8 << 20)
    assert new["MODULES_END"] - new["MODULES_VADDR"] == 2 << 30
    lay = kernel_layout(info("6.9.0"))
    assert label_address(lay, new["PCI_IO_START"] + 0x1000) == "PCI I/O"
    assert label_address(lay, new["VMEMMAP_START"]) == "vmemmap"
    assert linux_mair(info("5.4.0")) == 0x0000BBFF440C0400
    assert linux_mair(info("6.1.0")) == 0x40044FFFF


def test_label_addresses_is_label_address_for_every_address():
    """label_addresses (the vectorised text lines' labels) gives label_address's answer for every
    address: nested ranges (the kernel image and the module window inside vmalloc: the smallest
    wins), every range's first and last address and the ones just outside, TBI-tagged addresses
    of both halves, addresses between the halves, 0 and 2**64 - 1."""
    import random

    import numpy as np

    from pgwalk.linux import LayoutRange, label_addresses

    lay = [LayoutRange("user", 0, 1 << 48), LayoutRange("linear map", 0xFFFF000000000000, 0xFFFF800000000000),
           LayoutRange("vmalloc", 0xFFFF800008000000, 0xFFFFFBFFF0000000),
           LayoutRange("modules", 0xFFFFBB3E9FA00000, 0xFFFFBB3F1FA00000),
           LayoutRange("kernel image", 0xFFFFBB3F1FA00000, 0xFFFFBB3F21A10000),
           LayoutRange("vmemmap", 0xFFFFFC0000000000, 1 << 64)]
    rng = random.Random(7)
    vas = [0, (1 << 64) - 1, (1 << 55) - 1, 1 << 55, (0x1FF << 55) - 1, 0x1FF << 55]
    for r in lay:
        for v in (r.start, r.end - 1, r.end, r.start - 1):
            vas += [v % (1 << 64), (v % (1 << 64)) ^ (0x5A << 56), (v % (1 << 64)) ^ (0xA5 << 56)]
    vas += [rng.randrange(1 << 64) for _ in range(2000)]
    vas += [rng.randrange(r.start, r.end) ^ (rng.randrange(256) << 56) for r in lay for _ in range(200)]
    codes, names = label_addresses(lay, np.array(vas, dtype=np.uint64))
    got = [names[c] for c in codes.tolist()]
    assert got == [label_address(lay, v) for v in vas]
    assert {"vmalloc", "kernel image", "modules", "linear map", "vmemmap", "user", None} <= set(got)
