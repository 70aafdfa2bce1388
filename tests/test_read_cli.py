"""``pgwalk read`` over images and dumps, and symbols as addresses."""

from __future__ import annotations

import json

import pytest

import oracle_data
from cli_helpers import SAMPLES, run, sample
from pgwalk.contents import read_physical, read_virtual
from pgwalk.images import open_image, open_images
from pgwalk.params import setup_from_registers
from pgwalk.regs import load_register_file
from pgwalk.symbols import parse_symbolic

S4K = sample("s1_4k_48bit")
IMG = (SAMPLES / "s1_4k_48bit.img").read_bytes()


def test_hexdump_is_the_image_bytes(capsys):
    # the linear map (1GB block at 0xffff000040000000) shows the table pages themselves
    rc, out, err = run(["read", *S4K, "0xffff000040010000", "0x30"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "# 0xffff000040010000-0xffff000040010030 -> PA 0x40010000"
    got = bytes.fromhex("".join(l.split("  ")[1].replace(" ", "") for l in lines[1:]))
    assert got == IMG[0x10000:0x10030]


def test_u64_and_u32(capsys):
    rc, out, _ = run(["read", *S4K, "0xffff000040010000", "0x10", "--format", "u64"], capsys)
    want = int.from_bytes(IMG[0x10000:0x10008], "little")
    assert rc == 0 and f"{want:#018x}" in out.splitlines()[1]
    rc, out, _ = run(["read", *S4K, "--pa", "0x40010000", "8", "--format", "u32"], capsys)
    assert out.split()[1:] == [f"{int.from_bytes(IMG[0x10000 + i:0x10004 + i], 'little'):#010x}" for i in (0, 4)]


def test_raw_bytes(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pgwalk.cli", "read", *S4K, "0xffff000040010ff0", "0x40", "--raw"],
                         capture_output=True)
    assert out.returncode == 0 and out.stdout == IMG[0x10ff0:0x11030]


def test_faults_and_holes_are_named_never_zero(capsys):
    # 0x602000 unmapped, 0x603000 AF = 0; a linear-map read running past the image
    rc, out, _ = run(["read", *S4K, "0x601ff8", "0x10"], capsys)
    assert rc == 1
    assert "<0x8 bytes not read: stage 1 level 3 translation fault, FSC 0x07" in out
    rc, out, _ = run(["read", *S4K, "0xffff000040016ff8", "0x10"], capsys)
    assert rc == 1 and "<0x8 bytes not read: PA 0x40017000 is not in the image>" in out
    assert out.count("00 00 00 00") == 2              # the 8 bytes in the image, nothing for the rest
    rc, out, err = run(["read", *S4K, "0x603000", "16", "--raw"], capsys)
    assert rc == 1 and out == "" and "access flag fault" in err


def test_library_pieces():
    regs = load_register_file(SAMPLES / "s1_4k_48bit.regs.json")
    with open_image(f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000") as mem:
        setup = setup_from_registers(regs)
        pieces = list(read_virtual(setup, mem, 0xffff000040016000, 0x3000))
        assert [(p.address, p.size, p.ok) for p in pieces] == [
            (0xffff000040016000, 0x1000, True), (0xffff000040017000, 0x2000, False)]
        assert pieces[0].data == IMG[0x16000:0x17000] and pieces[1].pa == 0x40017000
        assert b"".join(p.data for p in read_physical(mem, 0x40000ff0, 0x20)) == IMG[0xff0:0x1010]


def test_elf_zero_tail_is_not_shown_as_zeros(tmp_path, capsys):
    import struct

    data = b"\x11" * 0x1000
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 4, 183, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 4, 0x1000, 0x80000000, 0x80000000, 0x1000, 0x3000, 0x1000)
    f = tmp_path / "core.elf"
    f.write_bytes(eh + ph + bytes(0x1000 - len(eh) - len(ph)) + data)
    rc, out, _ = run(["read", "-i", str(f), "--pa", "0x80000ff0", "0x20"], capsys)
    assert rc == 1 and "11 11" in out and "bytes not read: PA 0x80001000 lies beyond p_filesz" in out


@pytest.mark.parametrize("args,msg", [
    (["0x1000", "0"], "at least 1 byte"),
    (["0x1000", "0x200000000"], "at most"),
    (["0x1000", "--raw", "--format", "u64"], "--raw"),
    (["0xfffffffffffffff0", "0x20"], "past the end"),
    (["nosuchsym"], "is not a hexadecimal address"),
    (["0x1000", "ten"], "is not a hexadecimal length"),
])
def test_bad_input(args, msg, capsys):
    rc, out, err = run(["read", *S4K, *args], capsys)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_pa_needs_no_registers(capsys):
    rc, out, err = run(["read", "-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", "--pa", "0x40000000", "0x10"], capsys)
    assert rc == 0 and out.startswith("0x0000000040000000  ") and not err


def test_parse_symbolic():
    syms = {"swapper_pg_dir": 0xffff800009a58000, "add": 0x10, "_stext": 0xffff800008000000}
    assert parse_symbolic("swapper_pg_dir", syms) == 0xffff800009a58000
    assert parse_symbolic("swapper_pg_dir+0x10", syms) == 0xffff800009a58010
    assert parse_symbolic("_stext-10", syms) == 0xffff800007fffff0
    assert parse_symbolic("add", syms) == 0x10              # a known name wins over bare hex
    assert parse_symbolic("0x1234", syms) == 0x1234
    with pytest.raises(Exception, match="did you mean swapper_pg_dir"):
        parse_symbolic("swapper_pgdir", syms)
    with pytest.raises(Exception, match="'nosuch' is not a hexadecimal address$"):
        parse_symbolic("nosuch", {})            # no symbols: the plain value error


def test_symbols_on_the_real_dump(dump, capsys):
    rc, out, _ = run(["read", "-i", str(dump), "init_uts_ns", "--format", "string"], capsys)
    assert rc == 0 and out.split("  ", 1)[1].strip() == '"Linux"'
    rc, out, _ = run(["read", "-i", str(dump), "init_uts_ns+0x82", "--format", "string"], capsys)
    assert rc == 0 and "6.1.0" in out
    rc, out, _ = run(["info", "--symbols", str(dump)], capsys)
    assert rc == 0 and any(l.endswith("  swapper_pg_dir") for l in out.splitlines())
    rc, t1, _ = run(["translate", "-i", str(dump), "swapper_pg_dir+0x18", "--json"], capsys)
    addr = [l for l in out.splitlines() if l.endswith("  swapper_pg_dir")][0].split()[0]
    rc, t2, _ = run(["translate", "-i", str(dump), hex(int(addr, 16) + 0x18), "--json"], capsys)
    assert json.loads(t1)["pa"] == json.loads(t2)["pa"] is not None


def test_symbols_wherever_an_address_is_taken(dump, capsys, tmp_path):
    """vtop, translate batches (line-by-line and mixed with hex) and dump-tree --range take
    VMCOREINFO symbols too, and give what the symbol's hexadecimal value gives."""
    rc, out, _ = run(["info", "--symbols", str(dump)], capsys)
    pgd = int([l for l in out.splitlines() if l.endswith("  swapper_pg_dir")][0].split()[0], 16)
    rc, by_name, _ = run(["vtop", str(dump), "swapper_pg_dir+0x10", "--json"], capsys)
    rc2, by_value, _ = run(["vtop", str(dump), hex(pgd + 0x10), "--json"], capsys)
    assert rc == rc2 == 0 and json.loads(by_name) == json.loads(by_value)
    batch = tmp_path / "b.txt"
    batch.write_text(f"swapper_pg_dir\n{pgd + 0x10:x}\nswapper_pg_dir+0x10\n")
    rc, out, _ = run(["translate", "-i", str(dump), "--batch", str(batch), "--json"], capsys)
    pas = [json.loads(l)["pa"] for l in out.splitlines()]
    assert rc == 0 and pas[1] == pas[2] and int(pas[0], 16) + 0x10 == int(pas[1], 16)
    batch.write_text("swapper_pg_dir\nno_such_symbol\n")
    rc, _, err = run(["translate", "-i", str(dump), "--batch", str(batch), "--json"], capsys)
    assert rc == 2 and f"{batch}:2: 'no_such_symbol'" in err
    rc, by_name, _ = run(["dump-tree", "-i", str(dump), "--range", "swapper_pg_dir+0x3000", "--json",
                          "--view", "ranges"], capsys)
    rc2, by_value, _ = run(["dump-tree", "-i", str(dump), "--range", f"{pgd:#x}+0x3000", "--json",
                            "--view", "ranges"], capsys)
    assert rc == rc2 == 0 and by_name == by_value
    (rng,) = [json.loads(l) for l in by_name.splitlines() if json.loads(l)["record"] == "range"]
    assert (int(rng["va_start"], 16), int(rng["va_end"], 16)) == (pgd, pgd + 0x3000)


def test_excluded_pages_of_a_kdump():
    path = oracle_data.ORACLE_DIR / "makedumpfile-public" / "max-zstd-d31"
    if not path.exists():
        pytest.skip("makedumpfile-public oracle dump not available")
    pytest.importorskip("zstandard")
    with open_images([str(path)]) as mem:
        pa = next(pa for pa in range(0x40000000, 0x48000000, 0x1000) if mem.contents_missing(pa))
        pieces = list(read_physical(mem, pa - 8 if mem.contents_missing(pa - 8) is None else pa, 16))
        assert any(not p.ok and "excluded from the dump" in p.why for p in pieces)
        assert all(p.data is None for p in pieces if not p.ok)
