"""Kernel region labels (issue 14): with a dump carrying VMCOREINFO they apply whatever the register
source (VMCOREINFO alone, --reg, or --regs FILE) as long as the registers describe the dump's kernel;
a TTBR1_EL1 or TCR_EL1 that contradicts VMCOREINFO is said in a note and the labels are left off."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle_data  # noqa: E402
from test_hostile_cli import cli  # noqa: E402

VMALLOC = "0xffff800008000000"


@pytest.fixture(scope="module")
def dump():
    path = oracle_data.linux_vmcore_elf()
    regs = (oracle_data.linux_oracle_dir() or Path("/nonexistent")) / "regs.json"
    if path is None or not regs.exists():
        pytest.skip("Linux oracle dump or regs.json not present")
    return str(path), str(regs)


def _first(argv) -> tuple[str, str]:
    rc, out, err = cli(*argv)
    assert rc == 0, err
    return out.splitlines()[0], out + err


def test_regs_file_keeps_the_labels(dump):
    vmcore, regs = dump
    derived, _ = _first(["translate", "--no-trace", "-i", vmcore, VMALLOC])
    with_reg, _ = _first(["translate", "--no-trace", "-i", vmcore, "--reg", "TTBR0_EL1=0x48051001", VMALLOC])
    with_file, text = _first(["translate", "--no-trace", "-i", vmcore, "--regs", regs, VMALLOC])
    assert "[vmalloc]" in derived
    assert with_file == with_reg == derived
    assert "do not describe" not in text


def test_dump_tree_with_regs_file_has_the_region_headers(dump):
    vmcore, regs = dump
    rc, out, err = cli("dump-tree", "-i", vmcore, "--regs", regs, "--ttbr1", "--view", "ranges",
                       "--range", f"{VMALLOC}+0x10000")
    assert rc == 0, err
    assert "vmalloc" in out


@pytest.mark.parametrize("reg,why", [
    ("TTBR1_EL1=0x48051000", "TTBR1_EL1 table base 0x48051000, swapper_pg_dir at 0x41858000"),
    ("TCR_EL1=0x15001f5b5553510", "TCR_EL1.T1SZ 21, the kernel's 16"),
    ("TCR_EL1=0x15001f5f5503510", "TCR_EL1.TG1 64KB, the kernel's pages 4KB"),
])
def test_contradicting_registers_drop_the_labels_with_a_note(dump, reg, why):
    vmcore, regs = dump
    rc, out, err = cli("translate", "--no-trace", "-i", vmcore, "--regs", regs, "--reg", reg, VMALLOC)
    assert rc in (0, 1), err
    assert "[vmalloc]" not in out
    assert f"the registers given do not describe the dump's kernel ({why}): its region labels are left off" \
        in out + err
