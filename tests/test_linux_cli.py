"""``pgwalk vtop``/``ptov`` and VMCOREINFO-driven ``translate`` on the real dump."""

from __future__ import annotations

import json

import pytest

import oracle_data
from pgwalk.cli import main


def test_vtop_ptov_round_trip_on_the_kernel_image_and_linear_map(dump, capsys):
    info = oracle_data.linux_vmcoreinfo()
    swapper = int(next(line.split("=")[1] for line in info.splitlines()
                       if line.startswith("SYMBOL(swapper_pg_dir)")), 16)
    assert main(["vtop", dump, "--json", hex(swapper), "0xffff000001234567"]) == 0
    image, linear = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert image["how"] == "kernel image" and linear == {**linear, "pa": "0x41234567", "how": "linear map"}
    assert main(["ptov", dump, "--json", image["pa"]]) == 0
    back = json.loads(capsys.readouterr().out)
    assert back["kimage"] == hex(swapper) and back["linear"] == "0xffff000001858000"


def test_translate_kernel_address_without_registers_matches_vtop(dump, capsys):
    assert main(["translate", "-i", dump, "--json", "--trace", "0xffff000001234567"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["pa"] == "0x41234567"
    assert any("VMCOREINFO" in n for n in d["notes"])


def test_vtop_on_a_dump_without_vmcoreinfo_is_a_clear_error(tmp_path, capsys):
    raw = tmp_path / "raw.img"
    raw.write_bytes(bytes(4096))
    assert main(["vtop", str(raw), "0xffff000000000000"]) == 2
    assert "no VMCOREINFO" in capsys.readouterr().err


def test_dump_tree_ranges_carry_kernel_layout_labels(dump, capsys):
    assert main(["dump-tree", "-i", dump, "--ttbr1", "--view", "ranges", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ranges = [r for r in records if r["record"] == "range"]
    labels = {r["label"] for r in ranges}
    assert {"linear map", "kernel image", "vmalloc", "vmemmap", "fixmap"} <= labels
    first = ranges[0]
    assert first["va_start"] == "0xffff000000000000" and first["label"] == "linear map"


def test_translate_labels_kernel_regions(dump, capsys):
    assert main(["translate", "-i", dump, "--json", "--trace", "0xffff000001234567", "0xfffffbfffe800010"]) == 0
    linear, pci = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert linear["label"] == "linear map" and pci["label"] == "PCI I/O"
    assert pci["attributes"]["memtype"] == "Device"


# --------------------------------------------------------------------------
# vtop / ptov against QEMU (issue 11, item 1): both oracle kernels
# --------------------------------------------------------------------------

def _oracle(which):
    if which == "4k":
        path, entries = oracle_data.linux_vmcore_elf(), oracle_data.linux_translations()
    elif which == "4k-kdump":
        path, entries = oracle_data.linux_vmcore_kdump(), oracle_data.linux_translations()
    else:
        path, entries = oracle_data.linux16k_vmcore_elf(), oracle_data.linux16k_translations()
    if path is None or entries is None:
        pytest.skip(f"{which} Linux oracle not present")
    return str(path), entries


@pytest.mark.parametrize("which", ["4k", "4k-kdump", "16k"])
@pytest.mark.parametrize("with_ttbr0", [False, True])
def test_vtop_prints_only_qemus_pas_for_every_oracle_address(which, with_ttbr0, capsys):
    """Every PA vtop prints for an address of translations.json is QEMU's (el1_nopan);
    where QEMU says Unmapped, vtop prints no PA.  Every kernel address QEMU maps gets one;
    with regs.json's TTBR0_EL1 given, every user address too."""
    dump, entries = _oracle(which)
    regs = (oracle_data.linux16k_registers() if which == "16k" else oracle_data.linux_registers()) or {}
    if with_ttbr0 and "TTBR0_EL1" not in regs:
        pytest.skip("regs.json not present")
    extra = ["--reg", f"TTBR0_EL1={regs['TTBR0_EL1']:#x}"] if with_ttbr0 else []
    rc = main(["vtop", dump, "--json", *extra, *[e["va"] for e in entries]])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1 and len(out) == len(entries)
    printed = wrong = missed = 0
    for e, r in zip(entries, out):
        assert r["va"] == hex(int(e["va"], 16))
        if r["pa"] is not None:
            printed += 1
            wrong += e["result"] is None or int(r["pa"], 16) != int(e["result"], 16)
            assert r["how"] in ("linear map", "kernel image", "swapper_pg_dir walk", "TTBR0_EL1 walk")
        else:
            assert r["reason"]
            kernel = (int(e["va"], 16) >> 55) & 1
            missed += bool((kernel or with_ttbr0) and e["result"] is not None)
    assert wrong == 0 and missed == 0
    assert printed > (2000 if with_ttbr0 else 300)


def test_vtop_walks_vmalloc_instead_of_applying_the_image_formula(dump, capsys):
    # the example: QEMU says 0x4804b000; the kernel-image formula gave 0xffffc4c128835000
    assert main(["vtop", dump, "0xffff800008035000"]) == 0
    assert capsys.readouterr().out.strip() == "0xffff800008035000 -> PA 0x4804b000 (swapper_pg_dir walk, vmalloc)"


def test_vtop_gives_no_pa_for_a_linear_map_address_beyond_ram(dump, capsys):
    # 256 MiB of RAM at 0x40000000: 0xffff000010000000 would be PA 0x50000000 by the formula
    assert main(["vtop", dump, "--json", "0xffff000010000000"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["pa"] is None and r["label"] == "linear map" and "not mapped" in r["reason"]
    assert "0x50000000" in r["reason"]          # what the formula would have said, as such


def test_vtop_declines_user_addresses_saying_ttbr0_is_unknown(dump, capsys):
    assert main(["vtop", dump, "0x400000"]) == 1
    out = capsys.readouterr().out
    assert "no PA" in out and "TTBR0_EL1" in out and "--reg TTBR0_EL1" in out


def test_vtop_never_prints_a_pa_beyond_52_bits(dump, capsys):
    vas = ["0xffffffffffffffff", "0xfff0000000000000", "0xffff7fffffffffff", "0x8000000000000000",
           "0xffffc4c128835000", "0xffff800000000000"]
    main(["vtop", dump, "--json", *vas])
    for line in capsys.readouterr().out.splitlines():
        r = json.loads(line)
        assert r["pa"] is None or int(r["pa"], 16) < 1 << 52


def test_ptov_outside_ram_says_so(dump, capsys):
    assert main(["ptov", dump, "--json", "0x80000000", "0x3fff0000", "0xfffffffffffff000"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["linear"] is None and r["kimage"] is None and r["reason"] for r in rows)
    assert [r["in_dump"] for r in rows] == [False, False, False]
    assert "not in the dump" in rows[0]["reason"] and "physical address size" in rows[2]["reason"]


@pytest.mark.parametrize("which", ["4k", "16k"])
def test_ptov_answers_are_confirmed_by_qemu(which, capsys):
    """ptov of QEMU's PAs for the linear-map and image samples gives back VAs that QEMU maps there."""
    dump, entries = _oracle(which)
    sample = [e for e in entries if e["category"] in ("linear", "kimage_symbol") and e["result"]][:40]
    qemu = {int(e["va"], 16): int(e["result"], 16) for e in entries if e["result"]}
    assert main(["ptov", dump, "--json", *[e["result"] for e in sample]]) == 0
    for line in capsys.readouterr().out.splitlines():
        r = json.loads(line)
        assert r["in_dump"] and r["linear"]
        for va in (r["linear"], r["kimage"]):
            if va is not None and int(va, 16) in qemu:
                assert qemu[int(va, 16)] == int(r["pa"], 16)


def test_ptov_on_the_16k_kernel_uses_the_running_linear_map(capsys):
    dump, entries = _oracle("16k")
    # guest_layout kernel_xlate: kmalloc 0xffff9cca84587400 -> 0x44587400
    assert main(["ptov", dump, "--json", "0x44587400"]) == 0
    assert json.loads(capsys.readouterr().out)["linear"] == "0xffff9cca84587400"


# --------------------------------------------------------------------------
# an unknown TTBR0_EL1 said as unknown (issue 11, item 5)
# --------------------------------------------------------------------------

def test_translate_user_address_without_ttbr0_says_it_is_unknown(dump, capsys):
    assert main(["translate", "-i", dump, "--no-trace", "0x400000"]) == 1
    out = capsys.readouterr().out
    assert "NOT WALKED" in out and "TTBR0_EL1 is unknown" in out and "--reg TTBR0_EL1=" in out
    assert "external abort" not in out and "0x0 " not in out
    assert main(["translate", "-i", dump, "--json", "0x400000", "0xffff000001234567"]) == 1
    user, kernel = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert user["ok"] is False and user["fault"] is None and user["unknown_register"] == "TTBR0_EL1"
    assert user["pa"] is None and "VMCOREINFO" in user["reason"]
    assert kernel["ok"] and kernel["pa"] == "0x41234567"


def test_translate_bulk_batch_with_a_user_address_does_not_abort_at_zero(dump, tmp_path, capsys):
    batch = tmp_path / "vas.txt"
    batch.write_text("\n".join([f"{0xffff000001234000 + 8 * i:#x}" for i in range(100)] + ["0x400000"]) + "\n")
    assert main(["translate", "-i", dump, "--json", "--batch", str(batch)]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 101 and all(r["ok"] for r in rows[:100])
    assert rows[-1]["fault"] is None and rows[-1]["unknown_register"] == "TTBR0_EL1"


@pytest.mark.parametrize("fmt", [("--json",), ("--csv",), ("--csv", "--fields", "fault,va,pa,ok,fsc"), ("--no-trace",)])
def test_translate_bulk_batch_of_kernel_and_user_addresses_equals_the_scalar_path(fmt, dump, tmp_path, capsys,
                                                                                   monkeypatch):
    """A batch mixing kernel addresses with user ones (TTBR0_EL1 unknown): the kernel ones walked
    together, the user ones one at a time, each line as --scalar prints it, in input order -- user
    addresses not walked, non-canonical ones a level 0 fault (no table base needed), runs of
    either kind and lone ones, the batch ending with user addresses.  Text lines too, with the
    kernel layout's labels ("[user]" for the addresses not walked)."""
    import random

    import pgwalk.cmd.translate as cmd

    together = []
    blocks = cmd._bulk_blocks

    def spy(setup, mem, vas, *args):
        together.append(len(vas))
        return blocks(setup, mem, vas, *args)

    monkeypatch.setattr(cmd, "_bulk_blocks", spy)

    rng = random.Random(11)
    kernel = [0xFFFF000001234000 + 8 * i for i in range(40)] + [0xFFFF000000000000 + rng.randrange(1 << 30)
                                                              for _ in range(200)]
    user = [0x400000 + 0x1000 * i for i in range(30)] + [rng.randrange(1 << 47) for _ in range(100)]
    odd = [0x0001_0000_0000_0000, 0x00FF_0000_0000_1000, 0xFF00_0000_0000_0000]   # outside both ranges
    vas = kernel[:100] + user[:10] + [v for pair in zip(kernel[100:], user[10:]) for v in pair] + odd
    vas += [rng.choice(kernel + user + odd) for _ in range(300)] + user[:5]
    batch = tmp_path / "vas.txt"
    batch.write_text("".join(f"{v:#x}\n" for v in vas))
    args = ["translate", "-i", dump, *fmt, "--batch", str(batch)]
    assert main(args) == 1
    mixed = capsys.readouterr().out
    assert main(args + ["--scalar"]) == 1
    scalar = capsys.readouterr().out
    assert len(mixed.splitlines()) == len(vas) + (fmt[0] == "--csv")
    assert mixed == scalar
    assert "TTBR0_EL1" in mixed and ("0x41234000" in mixed)
    assert together and sum(together) == sum(1 for v in vas if v >> 55 & 1)     # (VA[55]: TTBR1)
    if fmt == ("--no-trace",):
        assert "[linear map] -> PA 0x41234000" in mixed and "0x400000 [user]  NOT WALKED" in mixed


@pytest.mark.parametrize("which", ["4k", "16k"])
def test_translate_bulk_text_lines_carry_the_scalar_paths_kernel_layout_labels(which, tmp_path, capsys):
    """--no-trace text of a batch big enough for the vectorised walker prints each address's
    kernel layout label ("[linear map]", "[vmalloc]" ...), byte for byte as --scalar prints it
    (before, a batch of 64 addresses or more lost every label): the oracle's kernel addresses,
    tagged copies of them (TBI: labelled untagged), the first and last address of every range of
    the layout and the ones just outside it."""
    from pgwalk.cmd.common import load_context
    from pgwalk.linux import kernel_layout

    dump, entries = _oracle(which)
    ctx = load_context((dump,), None, (), None, None, None)
    layout = kernel_layout(ctx.vmcoreinfo, ctx.memory)
    kernel = [int(e["va"], 16) for e in entries if (int(e["va"], 16) >> 55) & 1]
    edges = [v for r in layout for v in (r.start, r.end - 1, r.end, r.start - 1) if 1 << 55 <= v < 1 << 64]
    vas = kernel + [v ^ (0x5A << 56) for v in kernel[::3]] + edges
    batch = tmp_path / "vas.txt"
    batch.write_text("".join(f"{v:#x}\n" for v in vas))
    args = ["translate", "-i", dump, "--no-trace", "--batch", str(batch)]
    main(args)
    bulk = capsys.readouterr().out
    main(args + ["--scalar"])
    scalar = capsys.readouterr().out
    assert len(bulk.splitlines()) == len(vas) >= 64
    assert bulk == scalar
    labels = {line.split(" ")[1] for line in bulk.splitlines() if line.split(" ")[1].startswith("[")}
    assert {"[linear", "[vmalloc]", "[fixmap]", "[kernel"} <= labels, labels


def test_translate_with_ttbr0_given_walks_the_user_address(dump, capsys):
    regs = oracle_data.linux_registers()
    entries = oracle_data.linux_translations()
    if regs is None or entries is None:
        pytest.skip("regs.json not present")
    e = next(e for e in entries if e["category"] == "user_pagemap" and e["result"])
    assert main(["translate", "-i", dump, "--json", "--reg", f"TTBR0_EL1={regs['TTBR0_EL1']:#x}", e["va"]]) == 0
    assert json.loads(capsys.readouterr().out)["pa"] == e["result"]


def test_dump_tree_ttbr0_without_ttbr0_is_a_clear_error(dump, capsys):
    assert main(["dump-tree", "-i", dump, "--ttbr0"]) == 2
    err = capsys.readouterr().err
    assert "TTBR0_EL1 is unknown" in err and "--reg TTBR0_EL1=" in err and "Traceback" not in err
    # by default only the tree that is known is shown, and the output says why
    assert main(["dump-tree", "-i", dump, "--stats"]) == 0
    cap = capsys.readouterr()
    assert "TTBR0_EL1 unknown" in cap.out + cap.err and "TTBR1_EL1 tree" in cap.out


def test_library_walk_through_an_absent_ttbr_raises_unknown_register():
    from pgwalk.errors import UnknownRegister
    from pgwalk.memory import PhysicalMemory
    from pgwalk.params import setup_from_registers
    from pgwalk.walk import translate

    regs = {"TCR_EL1": 0x10 | (0x10 << 16) | (2 << 30), "TTBR1_EL1": 0x40000000, "SCTLR_EL1": 1}
    setup = setup_from_registers(regs)
    mem = PhysicalMemory.from_words({0x40000000: 0}, (0x40000000, 0x40001000))
    assert translate(setup, mem, 0xFFFF000000000000).fault.type.value == "translation"
    with pytest.raises(UnknownRegister) as exc:
        translate(setup, mem, 0x1000)
    assert exc.value.name == "TTBR0_EL1"
    # EPD0 = 1: no table base is needed, the architecture's level 0 fault stands
    setup = setup_from_registers({**regs, "TCR_EL1": regs["TCR_EL1"] | (1 << 7)})
    assert translate(setup, mem, 0x1000).fault.level == 0


def test_info_on_the_16k_kernel_running_47_bit_derives_the_running_layout(capsys):
    """Issue 11 item 5: built for 52-bit VAs (VA_BITS=52), running 47-bit (TCR_EL1_T1SZ=17)
    on a CPU without FEAT_LPA2: no LPA2 or 52-bit PA claim, the real linear-map start, a
    fixmap of about 2 MiB (not 992 MiB), inferred bounds marked as such."""
    dump, _entries = _oracle("16k")
    guest = json.loads((oracle_data.linux16k_oracle_dir() / "guest_layout.json").read_text())["pgw_oracle"]
    assert main(["info", "--json", dump]) == 0
    d = json.loads(capsys.readouterr().out)
    tr = d["translation"]
    assert tr["va_bits"] == 47 and tr["ds"] is False and tr["oa_bits"] <= 48
    notes = " ".join(tr["notes"])
    assert "lacks FEAT_LPA2" in notes and "assuming PARange 52 bits and FEAT_LPA2" not in notes
    assert "TTBR0_EL1 is unknown" in notes and "TTBR0_EL1" not in tr["registers"]
    lay = {r["name"]: r for r in d["layout"] if r["note"] != "KASLR module window"}
    assert lay["linear map"]["start"] == "0xffff800000000000" == hex((1 << 64) - (1 << guest["vabits_actual"]))
    fix = lay["fixmap"]
    assert fix["approx"] and (fix["start"], fix["end"]) == (guest["FIXADDR_START"], guest["FIXADDR_TOP"])
    assert lay["kernel image"]["approx"]
    # the vmemmap the running kernel uses lies above vmalloc (the configured VMEMMAP_START is inside it)
    assert int(lay["vmemmap"]["start"], 16) >= int(lay["vmalloc"]["end"], 16)
    assert main(["info", dump]) == 0
    out, err = capsys.readouterr()
    assert "pgwalk: note: " in err and "FEAT_LPA2" in err and "992" not in out


def test_vtop_with_the_tables_missing_from_the_dump_says_the_formula_is_unchecked(tmp_path, capsys):
    """swapper_pg_dir (PA 0x2000) not in the dump: a linear-map address over memory the dump
    holds gets the formula's PA, marked unchecked; anything else gets no PA, with the reason."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz import seeds

    core = tmp_path / "notables.elf"
    core.write_bytes(seeds.elf_core([dict(paddr=0x100000, data=bytes(0x4000))], seeds.mini_notes()))
    # PHYS_OFFSET 0, 48-bit: the linear map starts at 0xffff000000000000
    assert main(["vtop", str(core), "--json", "0xffff000000100010", "0xffff000000200000",
                 "0xffff800000100000"]) == 1
    ram, beyond, image = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert ram["pa"] == "0x100010" and ram["how"] == "linear map formula (tables not in the dump)"
    assert "unchecked" in ram["reason"]
    assert beyond["pa"] is None and "0x200000, which is not in the dump" in beyond["reason"]
    assert "does not map" not in beyond["reason"]          # unknown: the tables could not be read
    assert image["pa"] is None and "cannot be walked" in image["reason"]


def test_vectorised_walker_and_reverse_map_never_walk_an_unknown_ttbr0(dump, capsys):
    from pgwalk.bulk import translate_many
    from pgwalk.errors import UnknownRegister
    from pgwalk.linux import registers_from_vmcoreinfo, vmcoreinfo_from_memory
    from pgwalk.images import open_images
    from pgwalk.params import setup_from_registers

    mem = open_images([dump])
    setup = setup_from_registers(registers_from_vmcoreinfo(vmcoreinfo_from_memory(mem)))
    assert translate_many(setup, mem, [0xFFFF000001234567]).pa.tolist() == [0x41234567]
    with pytest.raises(UnknownRegister):
        translate_many(setup, mem, [0xFFFF000001234567, 0x400000])
    assert main(["translate", "-i", dump, "--reverse", "0x4052c350"]) == 0
    cap = capsys.readouterr()
    assert "mapped by 2 addresses" in cap.out and "TTBR0_EL1 unknown" in cap.out + cap.err


@pytest.mark.parametrize("with_ttbr0", [False, True])
def test_translate_on_the_16k_kernel_agrees_with_qemu_and_says_what_it_cannot_walk(with_ttbr0, tmp_path, capsys):
    """The 16K 6.12 kernel (52-bit configured, 47-bit running) with no register file: every
    kernel address translates as QEMU says; user addresses are 'not walked' (TTBR0_EL1
    unknown) until regs.json's TTBR0_EL1 is given, then they agree with QEMU too."""
    dump, entries = _oracle("16k")
    regs = oracle_data.linux16k_registers()
    batch = tmp_path / "vas.txt"
    batch.write_text("\n".join(e["va"] for e in entries) + "\n")
    extra = ["--reg", f"TTBR0_EL1={regs['TTBR0_EL1']:#x}"] if with_ttbr0 else []
    main(["translate", "-i", dump, "--json", "--trace", "--batch", str(batch), *extra])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(entries)
    agree = 0
    for e, r in zip(entries, rows):
        if not (int(e["va"], 16) >> 55) & 1 and not with_ttbr0:
            if "unknown_register" in r:
                assert r["unknown_register"] == "TTBR0_EL1" and r["pa"] is None and r["fault"] is None
            else:     # outside the TTBR0 range: the level 0 fault needs no table base
                assert r["fault"]["level"] == 0 and "outside" in r["fault"]["reason"] and e["result"] is None
            continue
        qemu = None if e["result"] is None else int(e["result"], 16)
        mine = int(r["pa"], 16) if r["ok"] else None
        assert mine == qemu, (e["va"], e["category"], r.get("fault"), e["result"])
        agree += 1
    kernel = sum((int(e["va"], 16) >> 55) & 1 for e in entries)
    assert agree == (len(entries) if with_ttbr0 else kernel) and kernel > 500


def test_dump_commands_take_the_dump_as_i_too(dump, capsys):
    """``vtop``, ``ptov`` and ``info`` take the dump as ``-i DUMP`` as translate and dump-tree do,
    with the same answers as the DUMP argument; neither: one usage line, exit 2."""
    for args in (["vtop", "--json", "swapper_pg_dir", "0xffff000001234567"], ["ptov", "--json", "0x41858000"],
                 ["info", "--json"]):
        assert main([args[0], dump, *args[1:]]) == 0
        want = capsys.readouterr().out
        assert main([args[0], "-i", dump, *args[1:]]) == 0
        assert capsys.readouterr().out == want and want
    assert main(["vtop", "-i", dump]) == 2
    assert "give at least one VA" in capsys.readouterr().err
    for cmd in ("vtop", "ptov", "info"):
        assert main([cmd]) == 2
        assert "give the dump: DUMP or -i DUMP" in capsys.readouterr().err
