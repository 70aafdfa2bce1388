"""``pgwalk vtop``/``ptov`` and VMCOREINFO-driven ``translate`` on the real dump."""

from __future__ import annotations

import json

import pytest

import oracle_data
from pgwalk.cli import main


@pytest.fixture(scope="module")
def dump():
    path = oracle_data.linux_vmcore_elf()
    if path is None:
        pytest.skip("Linux oracle dump not present")
    return str(path)


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
    assert main(["translate", "-i", dump, "--json", "0xffff000001234567"]) == 0
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
    assert main(["translate", "-i", dump, "--json", "0xffff000001234567", "0xfffffbfffe800010"]) == 0
    linear, pci = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert linear["label"] == "linear map" and pci["label"] == "PCI I/O"
    assert pci["attributes"]["memtype"] == "Device"
