"""``pgwalk translate`` end to end: samples, JSON schema, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgwalk.builder import S1Attrs, TableBuilder
from cli_helpers import in_a_pipe, run, sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"




def test_sample_kernel_page_json(capsys):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--trace", "0xffff800000201234"], capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert d["ok"] and d["pa"] == "0x40201234" and d["size"] == 4096
    assert [s["level"] for s in d["steps"]] == [0, 1, 2, 3]
    assert d["steps"][0]["table"] == "0x40010000"
    assert d["steps"][-1]["fields"]["AF"] == 1
    assert d["fault"] is None and d["attributes"]["memtype"] == "Normal"
    assert d["permissions"]["el1"] == "r-x" and d["permissions"]["el0"] == "---"


def test_fault_exit_status_and_fault_object(capsys):
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "0x603000", "0xffff800000201234"], capsys)
    assert rc == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["fault"] == {**first["fault"], "type": "access flag", "level": 3, "stage": 1, "fsc": 0x0B,
                              "s1ptw": False}
    assert second["ok"]


def test_two_stage_sample_s1ptw_fault(capsys):
    rc, out, _ = run(["translate", *sample("two_stage"), "--json", "0x8000000000"], capsys)
    d = json.loads(out)
    assert rc == 1 and d["fault"]["stage"] == 2 and d["fault"]["s1ptw"] is True
    assert d["fault"]["ipa"] is not None


def test_lpa2_sample_five_levels(capsys):
    rc, out, _ = run(["translate", *sample("lpa2_52bit_4k"), "--json", "--trace", "0xfabcdef012345"], capsys)
    d = json.loads(out)
    assert rc == 0 and d["pa"] == "0xf123456789345"
    assert [s["level"] for s in d["steps"]] == [-1, 0, 1, 2, 3]


def test_rich_output_has_result_line_and_trace(capsys):
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "0xffff800000201234"], capsys)
    assert rc == 0
    assert "0xffff800000201234 -> PA 0x40201234" in out
    assert "0x40000040201783" in out  # the raw level 3 descriptor in the trace


def test_batch_from_stdin_and_file(capsys, tmp_path):
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", "-"], capsys,
                     stdin="# comment\n0xffff800000201234\n\n0xffff800000201238\n")
    assert rc == 0 and len(out.splitlines()) == 2
    f = tmp_path / "vas.txt"
    f.write_text("0x603000\n")
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
    assert rc == 1


def test_access_and_pan(capsys, tmp_path):
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs(ap=0b01))
    img = tmp_path / "t.img"
    base, _ = b.write_raw(img)
    regs = tmp_path / "r.json"
    regs.write_text(json.dumps({k: hex(v) for k, v in b.registers().items()}))
    common = ["translate", "-i", f"{img}@{base:#x}", "--regs", str(regs), "--json", "0x1000"]
    assert run(common + ["--access", "write", "--el", "0"], capsys)[0] == 0
    rc, out, _ = run(common + ["--access", "read", "--el", "1", "--pan"], capsys)
    assert rc == 1 and json.loads(out)["fault"]["type"] == "permission"


def test_shortcut_registers(capsys, tmp_path):
    b = TableBuilder(table_base=0x4000_0000)
    b.map(0xFFFF_0000_0000_0000, 0x4800_0000, 0x20_0000)
    img = tmp_path / "k.img"
    b.write_raw(img)
    rc, out, err = run(["translate", "-i", f"{img}@0x40000000", "--granule", "4k", "--va-bits", "48",
                        "--root", "0x40000000", "--json", "0xffff000000012345"], capsys)
    assert rc == 0, err
    assert json.loads(out)["pa"] == "0x48012345"


@pytest.mark.parametrize("args,message", [
    (["0xzz"], "is not a hexadecimal address"),
    (["0x1" + "0" * 17], "does not fit in 64 bits"),
    (["--reg", "TCR_EL11=0", "0x0"], "did you mean TCR_EL1"),
    (["--reg", "TCR_EL1=banana", "0x0"], "is not a hexadecimal value"),
    ([], "no address given"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), *args], capsys)
    assert rc == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_image_and_corrupt_elf(capsys, tmp_path):
    rc, _, err = run(["translate", "-i", str(tmp_path / "nope.img"), "--reg", "TCR_EL1=0x10", "0x0"], capsys)
    assert rc == 2 and "Traceback" not in err
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF" + b"\x02\x01\x01" + b"\0" * 20)
    rc, _, err = run(["translate", "-i", str(bad), "--reg", "TCR_EL1=0x10", "0x0"], capsys)
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_reserved_register_values_do_not_crash(capsys):
    # reserved TG0, absurd TTBR: a fault or a note, never a traceback
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--reg", "TCR_EL1=0xffffffffffffffff",
                        "--reg", "TTBR0_EL1=0xffffffffffffffff", "--json", "0x1000"], capsys)
    assert rc in (0, 1) and "Traceback" not in err


def test_console_script_runs(tmp_path):
    exe = Path(sys.executable).with_name("pgwalk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pgwalk.cli"]
    p = subprocess.run(cmd + ["translate", *sample("s1_4k_48bit"), "--json", "0xffff800000201234"],
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["pa"] == "0x40201234"


# ----------------------------------------------------------------------------- addresses (issue 11, item 3)

def test_bare_values_are_hex_in_arguments_and_batches(capsys, tmp_path):
    """``401000`` is 0x401000 everywhere: argument, short batch (line by line), long batch
    (vectorised parse), ``%016x`` and ``0x`` lines mixed."""
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "401000"], capsys)
    assert json.loads(out)["va"] == "0x401000"
    vas = [0x401000 + 0x1000 * i for i in range(100)]
    lines = [f"{va:016x}" if i % 2 else f"{va:#x}" for i, va in enumerate(vas)]
    for n in (3, 100):                                  # scalar and bulk paths
        f = tmp_path / f"b{n}.txt"
        f.write_text("\n".join(lines[:n]) + "\n")
        rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
        assert [int(json.loads(x)["va"], 16) for x in out.splitlines()] == vas[:n], err


@pytest.mark.parametrize("token", ["12g4", "\u0661\u0662\u0663", "0x1\uff10", "-1", "1.5", "0o17"])
def test_bad_batch_line_names_token_and_line(capsys, tmp_path, token):
    for n in (5, 200):                                  # scalar and bulk paths
        lines = ["0x1000"] * n
        lines[3] = token
        f = tmp_path / "b.txt"
        f.write_text("# header\n" + "\n".join(lines) + "\n", encoding="utf-8")
        rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
        assert rc == 2 and out == ""
        assert err == f"pgwalk: error: {f}:5: {token!r} is not a hexadecimal address\n"


def test_bad_argument_names_token(capsys):
    rc, _, err = run(["translate", *sample("s1_4k_48bit"), "0x1000", "\u0661\u0662"], capsys)
    assert rc == 2 and err == "pgwalk: error: '\u0661\u0662' is not a hexadecimal address\n"


@pytest.mark.parametrize("args", [
    ["--reg", "TTBR0_EL1=1000zz"], ["--granule", "4k", "--va-bits", "48", "--root", "4000_0000g"],
])
def test_bad_register_values_refused(capsys, args):
    rc, _, err = run(["translate", *sample("s1_4k_48bit"), *args, "0x1000"], capsys)
    assert rc == 2 and ("is not a hexadecimal value" in err or "is not a hexadecimal address" in err)


def test_reg_value_is_hex(capsys):
    """``--reg TTBR0_EL1=40000000`` is 0x40000000 (not 40 million)."""
    regs = json.loads((SAMPLES / "s1_4k_48bit.regs.json").read_text())
    ttbr0 = int(regs["TTBR0_EL1"], 16)
    a = run(["translate", *sample("s1_4k_48bit"), "--json", "0x401000"], capsys)[1]
    b = run(["translate", *sample("s1_4k_48bit"), "--reg", f"TTBR0_EL1={ttbr0:x}", "--json", "0x401000"], capsys)[1]
    assert json.loads(a)["pa"] == json.loads(b)["pa"] is not None


def test_help_says_values_are_hex(capsys):
    for cmd in (["translate"], ["at"], ["decode-esr"], ["decode"], ["dump-tree"]):
        rc, out, _ = run([*cmd, "--help"], capsys)
        assert rc == 0 and "hexadecimal" in " ".join(out.split()), cmd


def test_batch_with_a_byte_order_mark(capsys, tmp_path):
    """A UTF-8 BOM (Windows editors) is encoding, not an address; NUL or Latin-1 bytes are refused."""
    f = tmp_path / "bom.txt"
    f.write_bytes(b"\xef\xbb\xbf0x401000\n401000\n")
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
    assert [json.loads(x)["va"] for x in out.splitlines()] == ["0x401000", "0x401000"], err
    f.write_bytes(b"0x401000\n4010\xe900\n")
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f)], capsys)
    assert rc == 2 and err == f"pgwalk: error: {f}:2: '4010\ufffd00' is not a hexadecimal address\n"


def test_text_into_a_pipe_is_written_without_rich():
    # one record per line, made without rich (its import is a fifth of a one-address translate),
    # and the very text the rich console of a pipe prints (TTY_COMPATIBLE=0 asks for the console)
    from oracle_data import linux_vmcore_elf

    cases = [["-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", "--regs", str(SAMPLES / "s1_4k_48bit.regs.json"),
              "0xffff800000201234", "0xffff800000210000", "0x1000"],
             ["-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", "--regs", str(SAMPLES / "s1_4k_48bit.regs.json"),
              "--reverse", "0x40201234", "0x40202000", "0x7000000"]]
    dump = linux_vmcore_elf()
    if dump is not None:        # labels, and a user address that is not walked (TTBR0 unknown)
        cases.append(["-i", str(dump), "0xffff000000001000", "0x400000", "0xffff800000000000"])
        cases.append(["-i", str(dump), "--no-trace", "0x400000", "0xffff000000001000"])
    for args in cases:
        plain, imported = in_a_pipe(["translate", *args])
        assert imported == []
        assert "PA 0x" in plain and "\x1b[" not in plain
        assert "--reverse" not in args or ("mapped by 2 addresses" in plain and "mapped by 0 addresses" in plain)
        console, imported = in_a_pipe(["translate", *args], TTY_COMPATIBLE="0")
        assert imported                         # (the console took that path)
        assert plain == console
    if dump is not None:
        assert "NOT WALKED" in plain and "[linear map]" in plain
