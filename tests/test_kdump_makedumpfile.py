"""Real makedumpfile output: split dumps, filtered dump levels, pages not in the dump.

Ground truth: the shared Linux oracle's ELF vmcore (every page), its QEMU ``gva2gpa``
translations, and the dumps makedumpfile 1.7.9 made from it (the shared
``makedumpfile-public`` folder, and dumps made here with make-kdump).  Which pages a dump
holds is read from its bitmaps by ``makedumpfile_data.raw_layout`` (struct, not pgwalk).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil

import numpy as np
import pytest

from makedumpfile_data import make_kdump, public_dir, raw_layout
from oracle_data import linux_registers, linux_translations, linux_vmcore_elf
from pgwalk.cli import main
from pgwalk.errors import NotInImage
from pgwalk.images import open_image, open_images

PAGE = 4096
SPLIT = [f"max-zstd-d31.split-{i}of3" for i in (1, 2, 3)]


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    assert "Traceback" not in err.getvalue()
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def public():
    d = public_dir()
    elf = linux_vmcore_elf()
    if d is None or elf is None:
        pytest.skip("makedumpfile-public or the Linux oracle is not available")
    return {"dir": d, "whole": d / "max-zstd-d31", "parts": [d / n for n in SPLIT], "elf": elf}


@pytest.fixture(scope="module")
def elf_mem(public):
    with open_image(str(public["elf"])) as mem:
        yield mem


@pytest.fixture(scope="module")
def oracle():
    entries = linux_translations()
    regs = linux_registers()
    if not entries or not regs:
        pytest.skip("oracle translations not available")
    mapped = [(int(e["va"], 16), int(e["regimes"]["el1_nopan"]["pa"], 16)) for e in entries
              if e["regimes"]["el1_nopan"]["pa"]]
    return {"regs": regs, "mapped": mapped}


def _page(mem, pfn: int) -> bytes | str:
    try:
        return mem.read(pfn * PAGE, PAGE)
    except NotInImage as e:
        return e.reason


def _setup(regs):
    from pgwalk.params import regime_for_el, setup_from_registers

    return setup_from_registers(regs, regime_for_el(1, regs))


# --------------------------------------------------------------------------
# split files
# --------------------------------------------------------------------------

def test_split_files_given_together_read_every_page_as_the_whole_dump_and_the_elf(public, elf_mem):
    whole = raw_layout(public["whole"])
    parts = [raw_layout(p) for p in public["parts"]]
    # the split files cover the pfns one after the other, and hold exactly the whole dump's pages
    assert [p.start_pfn for p in parts[1:]] == [p.end_pfn for p in parts[:-1]]
    assert parts[0].start_pfn <= min(whole.present_pfns()) and parts[-1].end_pfn >= whole.max_mapnr
    dumped = whole.dumped_pfns()
    assert len(dumped) == 12677
    with open_images([str(p) for p in public["parts"]]) as joined, open_images([str(public["whole"])]) as mem:
        assert not any("split dump" in w for w in joined.warnings), joined.warnings
        for pfn in dumped:
            data = _page(joined, pfn)
            assert data == _page(mem, pfn) == elf_mem.read(pfn * PAGE, PAGE), hex(pfn)
        # the excluded pages are excluded in both, the holes holes
        for pfn in random.Random(4).sample(whole.present_pfns(), 400):
            a, b = _page(joined, pfn), _page(mem, pfn)
            assert (a == b) if isinstance(a, bytes) else (a == b == "excluded from the dump"), hex(pfn)
            assert (joined.contents_missing(pfn * PAGE) is None) == whole.dumped(pfn)
        # the vectorised check agrees with the bitmaps
        pas = np.arange(0x3FF00000, 0x50100000, PAGE, dtype=np.uint64)
        want = np.array([not (p >> 12 < whole.max_mapnr and whole.dumped(p >> 12)) for p in pas.tolist()])
        assert (joined.contents_missing_mask(pas) == want).all()
        assert (mem.contents_missing_mask(pas) == want).all()


def test_each_split_file_alone_reads_its_own_pages_and_names_the_others(public, elf_mem):
    whole = raw_layout(public["whole"])
    dumped = whole.dumped_pfns()
    held = 0
    for path in public["parts"]:
        lay = raw_layout(path)
        with open_images([str(path)]) as mem:
            for pfn in dumped:
                data = _page(mem, pfn)
                if lay.start_pfn <= pfn < lay.end_pfn:
                    assert data == elf_mem.read(pfn * PAGE, PAGE), (path.name, hex(pfn))
                    held += 1
                else:
                    assert isinstance(data, str) and "not in this file of the split dump" in data, (path.name, data)
                    assert f"{lay.start_pfn:#x}-{lay.end_pfn:#x}" in data
    assert held == len(dumped)


def test_split_files_missing_one_say_which_pages_are_in_the_file_not_given(public, elf_mem):
    whole = raw_layout(public["whole"])
    p1, p2, p3 = public["parts"]
    l2 = raw_layout(p2)
    with open_images([str(p3), str(p1)]) as mem:
        assert any("hold 7985 of its 12677 dumped pages" in w for w in mem.warnings), mem.warnings
        for pfn in whole.dumped_pfns():
            data = _page(mem, pfn)
            if l2.start_pfn <= pfn < l2.end_pfn:
                assert isinstance(data, str) and "in a file of the split dump that was not given" in data
            else:
                assert data == elf_mem.read(pfn * PAGE, PAGE)


def test_info_counts_each_split_files_pages(public):
    whole = raw_layout(public["whole"])
    counts = []
    for path in public["parts"]:
        lay = raw_layout(path)
        rc, out, _ = cli("info", "--json", path)
        k = json.loads(out)["kdump"]
        own = sum(1 for p in whole.dumped_pfns() if lay.start_pfn <= p < lay.end_pfn)
        assert (k["pages_dumped"], k["pages_dumped_all"], k["split"]["pages_in_other_files"]) == (own, 12677, 12677 - own)
        assert k["split"]["start_pfn"] == hex(lay.start_pfn) and k["damage"] is None
        counts.append(own)
        rc, text, _ = cli("info", path)
        assert f"{own} of them in this file" in text
    assert counts == [5616, 4692, 2369]
    rc, out, _ = cli("info", "--json", public["whole"])
    k = json.loads(out)["kdump"]
    assert (k["pages_dumped"], k["split"], k["damage"]) == (12677, None, None)


# --------------------------------------------------------------------------
# translate on a filtered dump: the PA is right, the contents may not be there
# --------------------------------------------------------------------------

def _check_translations(images, whole, oracle, elf_mem):
    """Every oracle translation through ``images`` (bulk walker): the oracle's PA, and
    contents_in_image exactly where the bitmaps hold the page, with the ELF's bytes."""
    from pgwalk.bulk import mark_contents, translate_many

    vas = np.array([va for va, _ in oracle["mapped"]], dtype=np.uint64)
    with open_images([str(p) for p in images]) as mem:
        res = mark_contents(translate_many(_setup(oracle["regs"]), mem, vas), mem)
        assert res.ok.all()
        excluded = 0
        for i, (va, pa) in enumerate(oracle["mapped"]):
            assert int(res.pa[i]) == pa, hex(va)
            pfn = pa >> 12
            held = pfn < whole.max_mapnr and whole.dumped(pfn)
            assert res.to_dict(i)["contents_in_image"] is held, hex(va)
            if held:
                assert mem.read(pa & ~7, 8) == elf_mem.read(pa & ~7, 8)
            else:
                excluded += 1
        return excluded


def test_filtered_dump_translations_give_the_oracle_pa_and_say_when_contents_are_missing(public, oracle, elf_mem):
    whole = raw_layout(public["whole"])
    n_whole = _check_translations([public["whole"]], whole, oracle, elf_mem)
    n_split = _check_translations(public["parts"], whole, oracle, elf_mem)
    assert n_whole == n_split > 1000            # most oracle addresses point at excluded pages


def test_translate_cli_says_contents_not_in_the_dump_in_text_json_and_csv(public, oracle, tmp_path):
    whole = raw_layout(public["whole"])
    excluded = next(va for va, pa in oracle["mapped"] if whole.present(pa >> 12) and not whole.dumped(pa >> 12))
    dumped = next(va for va, pa in oracle["mapped"] if whole.dumped(pa >> 12))
    pa_of = dict(oracle["mapped"])
    regs = tmp_path / "regs.json"
    regs.write_text(json.dumps({k: hex(v) for k, v in oracle["regs"].items()}))
    for images in ([public["whole"]], public["parts"]):
        img = [a for p in images for a in ("-i", p)]
        rc, out, _ = cli("translate", *img, "--regs", regs, "--json", "--trace", hex(excluded), hex(dumped))
        a, b = [json.loads(x) for x in out.splitlines()]
        assert rc == 0 and a["ok"] and int(a["pa"], 16) == pa_of[excluded] and a["contents_in_image"] is False
        assert any("excluded from the dump" in n for n in a["notes"])
        assert b["contents_in_image"] is True
        rc, out, _ = cli("translate", *img, "--regs", regs, "--csv", hex(excluded), hex(dumped))
        rows = out.splitlines()
        assert rows[0].split(",")[-1] == "contents_in_image"
        assert rows[1].endswith(",false") and rows[2].endswith(",true")
        rc, out, _ = cli("translate", *img, "--regs", regs, "--no-trace", hex(excluded), hex(dumped))
        lines = [x for x in out.splitlines() if x.startswith("0x")]
        assert f"PA {pa_of[excluded]:#x}" in lines[0] and "contents not in the image" in lines[0]
        assert "contents not in the image" not in lines[1]


def test_split_file_alone_walk_stops_at_the_table_in_another_file(public, oracle, tmp_path):
    regs = tmp_path / "regs.json"
    regs.write_text(json.dumps({k: hex(v) for k, v in oracle["regs"].items()}))
    pa_of = dict(oracle["mapped"])
    vas = [va for va, _ in oracle["mapped"][::20]]
    stopped = 0
    for path in public["parts"]:
        lay = raw_layout(path)
        rc, out, _ = cli("translate", "-i", path, "--regs", regs, "--json", "--trace", "--scalar", *map(hex, vas))
        for va, d in zip(vas, map(json.loads, out.splitlines())):
            # a walk whose tables are in another file stops there: never "unmapped", never a wrong PA
            f = d["fault"]
            if d["ok"]:
                assert int(d["pa"], 16) == pa_of[va]
                pfn = pa_of[va] >> 12
                assert d["contents_in_image"] is (lay.dumped(pfn) and lay.start_pfn <= pfn < lay.end_pfn)
            else:
                assert f["not_in_image"] and "not in this file of the split dump" in f["reason"], d
                stopped += 1
        kernel = next(va for va in vas if va >> 63)        # the kernel's tables are in files 2 and 3
        rc, out, _ = cli("translate", "-i", path, "--regs", regs, "--no-trace", hex(kernel))
        assert "not in the dump" in out and "not in this file of the split dump" in out
    assert stopped > len(vas)


def test_walk_through_an_excluded_table_page_says_not_in_the_dump(public, oracle, tmp_path):
    """makedumpfile never drops page tables; a copy of the real dump that drops one (its 2nd
    bitmap bit cleared and its descriptor taken out, as makedumpfile would have written it)."""
    whole = raw_layout(public["whole"])
    regs = oracle["regs"]
    from pgwalk.walk import translate

    va = next(va for va, pa in oracle["mapped"] if va >> 63)
    with open_images([str(public["whole"])]) as mem:
        t = translate(_setup(regs), mem, va)
    table_pfn = t.steps[2].desc_pa >> 12                  # the level 2 table
    assert whole.dumped(table_pfn)
    data = bytearray(public["whole"].read_bytes())
    rank = sum(1 for p in whole.dumped_pfns() if p < table_pfn)
    n = len(whole.dumped_pfns())
    at = whole.desc_offset + rank * 24
    end = whole.desc_offset + n * 24
    data[at:end] = data[at + 24:end] + bytes(24)
    bm2 = whole.bitmap_offset + whole.bitmap_half
    data[bm2 + (table_pfn >> 3)] &= ~(1 << (table_pfn & 7)) & 0xFF
    p = tmp_path / "table-excluded"
    p.write_bytes(bytes(data))
    assert not raw_layout(p).dumped(table_pfn) and raw_layout(p).present(table_pfn)
    rf = tmp_path / "regs.json"
    rf.write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
    rc, out, _ = cli("translate", "-i", p, "--regs", rf, "--json", "--trace", hex(va))
    d = json.loads(out)
    f = d["fault"]
    assert rc == 1 and f["not_in_image"] and f["level"] == 2 and "excluded from the dump" in f["reason"], d
    rc, out, _ = cli("translate", "-i", p, "--regs", rf, "--no-trace", hex(va))
    assert "not in the dump" in out and "excluded from the dump" in out
    rc, out, _ = cli("info", "--json", p)
    assert json.loads(out)["kdump"]["damage"] is None and not json.loads(out)["warnings"]
    # every other page still reads as the original dump
    with open_images([str(p)]) as mem, open_images([str(public["whole"])]) as orig:
        for pfn in random.Random(3).sample(whole.dumped_pfns(), 300):
            if pfn != table_pfn:
                assert _page(mem, pfn) == _page(orig, pfn)


# --------------------------------------------------------------------------
# dumps made here with make-kdump
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def made():
    try:
        d1 = make_kdump("linux-zlib-d1", "-c", "-d", "1")
        d31 = make_kdump("linux-lzo-d31-split2", "-l", "-d", "31", "--split", "--splitblock-size", "8192", parts=2)
    except Exception as e:                           # noqa: BLE001 - the tool's own failure
        pytest.fail(f"make-kdump failed: {e}")
    if d1 is None or d31 is None:
        pytest.skip("make-kdump (or qemu-user, or the oracle ELF) is not available")
    return {"d1": d1[0], "d31": d31}


def test_made_dump_level_1_reads_every_page_as_the_elf(made, elf_mem):
    """-d 1: makedumpfile keeps every page in the bitmaps and points the zero pages it finds
    at one shared zero page (it drops nothing here)."""
    lay = raw_layout(made["d1"])
    present = lay.present_pfns()
    assert len(present) == 65536 and all(lay.dumped(p) for p in present)
    zeros = 0
    with open_images([str(made["d1"])]) as mem:
        assert not mem.warnings
        for pfn in present[::3]:
            want = elf_mem.read(pfn * PAGE, PAGE)
            assert _page(mem, pfn) == want, hex(pfn)
            zeros += not any(want)
            assert mem.contents_missing(pfn * PAGE, verify=True) is None
    assert zeros > 10000


def test_made_split_dump_reads_as_the_elf_together_and_alone(made, oracle, elf_mem):
    a, b = made["d31"]
    la, lb = raw_layout(a), raw_layout(b)
    assert la.split and lb.split and la.end_pfn == lb.start_pfn and la.bitmap2 == lb.bitmap2
    dumped = la.dumped_pfns()
    with open_images([str(b), str(a)]) as joined, open_images([str(a)]) as alone:
        for pfn in dumped:
            want = elf_mem.read(pfn * PAGE, PAGE)
            assert _page(joined, pfn) == want, hex(pfn)
            got = _page(alone, pfn)
            assert got == want if pfn < la.end_pfn else "not in this file of the split dump" in got
    n = _check_translations([a, b], la, oracle, elf_mem)
    assert n > 1000


def test_made_filtered_elf_says_which_pages_are_not_in_it(oracle, elf_mem):
    """-E -d 31: makedumpfile writes an ELF core whose PT_LOADs end in p_memsz > p_filesz
    tails for the excluded pages.  They read as zeros (the ELF convention, as crash reads
    them) but are not in the dump: every page said to be in it reads as the original."""
    try:
        made = make_kdump("linux-elf-d31", "-E", "-d", "31")
    except Exception as e:                           # noqa: BLE001 - the tool's own failure
        pytest.fail(f"make-kdump failed: {e}")
    if made is None:
        pytest.skip("make-kdump (or qemu-user, or the oracle ELF) is not available")
    with open_images([str(made[0])]) as mem:
        held = 0
        for pfn in range(0x40000, 0x50000):
            missing = mem.contents_missing(pfn * PAGE)
            if missing is None:
                assert mem.read(pfn * PAGE, PAGE) == elf_mem.read(pfn * PAGE, PAGE), hex(pfn)
                held += 1
            else:
                assert "beyond p_filesz" in missing
        assert 10000 < held < 0x10000
    n = _check_translations_elf(made[0], oracle)
    assert n > 1000


def _check_translations_elf(path, oracle) -> int:
    from pgwalk.bulk import mark_contents, translate_many

    vas = np.array([va for va, _ in oracle["mapped"]], dtype=np.uint64)
    with open_images([str(path)]) as mem:
        res = mark_contents(translate_many(_setup(oracle["regs"]), mem, vas), mem)
        assert res.ok.all() and (res.pa == np.array([pa for _, pa in oracle["mapped"]], dtype=np.uint64)).all()
        missing = res.contents_missing
        for i, (_va, pa) in enumerate(oracle["mapped"]):
            region = mem.find_region(pa)                 # none: not RAM (device memory)
            assert missing[i] == (region is None or region.kind == "zero fill")
        return int(missing.sum())
