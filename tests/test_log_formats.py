"""decode-esr --log beyond Linux's own formats; --short; the default field view; decode descriptor.

The message forms here are the producers' real formats (their source prints
them so); the corpus test (test_log_corpus.py) runs the same recognisers over
real reports copied from public sources.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pgwalk.esr import decode_esr
from pgwalk.kernlog import claim_disagreement, parse_text
from tests.cli_helpers import SAMPLES, run, sample

ROOT = Path(__file__).resolve().parents[1]

# (text, producer, format, ESR, {register: value}, el)
FORMS = [
    ('"Synchronous Abort" handler, esr 0x96000007, far 0x0\nelr: 000000000008a1d0 lr : 000000000008a1c4 (reloc)\n',
     "u-boot", "uboot-exception-handler", 0x96000007, {"FAR": 0, "ELR": 0x8a1d0}, None),
    ('resetting ... "Synchronous Abort" handler, esr 0x96000010\n', "u-boot", "uboot-exception-handler", 0x96000010,
     {}, None),
    ("[  100.1] kvm [1234]: Unsupported FSC: EC=0x24 xFSC=0x21 ESR_EL2=0x92000061\n", "kvm", "kvm-unsupported-fsc",
     0x92000061, {}, 2),
    ("[   55.0] Kernel panic - not syncing: HYP panic:\nPS:600003c9 PC:0000a2d9a8b7c1b4 ESR:f2008228\n"
     "FAR:0000000000001000 HPFAR:0000000000012340 PAR:0000000000000000\nVCPU:0000000000000000\n",
     "kvm", "kvm-hyp-panic", 0xf2008228, {"ELR": 0xa2d9a8b7c1b4, "FAR": 0x1000, "HPFAR": 0x12340, "PAR": 0}, 2),
    ("NOTICE:  BL31: v2.9\nERROR:   exception reason=1 syndrome=0x92000210\n", "tf-a", "tfa-exception-reason",
     0x92000210, {}, 3),
    ("E/TC:0 0 Core data-abort at address 0x0 (translation fault)\n"
     "E/TC:0 0  esr 0x96000006  ttbr0 0x0e1c6000   ttbr1 0x00000000   cidr 0x0\n", "op-tee", "optee-abort-dump",
     0x96000006, {"FAR": 0}, None),
    ("E: ELR_ELn: 0x0000000000001234\nE: ESR_ELn: 0x0000000096000061\nE: FAR_ELn: 0x00000000deadbeef\n",
     "zephyr", "register-dump", 0x96000061, {"ELR": 0x1234, "FAR": 0xdeadbeef}, None),
    ('  "esr" : {"value" : 1442840704, "description" : "(Syscall)"},\n', "xnu", "xnu-ips-json", 0x56000080, {}, None),
    ("ESR_EL1        0x96000045          2516582469\n", "gdb", "gdb-info-registers", 0x96000045, {}, 1),
    ("Taking exception 4 [Data Abort] on CPU 0\n...from EL1 to EL1\n...with ESR 0x25/0x96000045\n...with FAR 0x10\n"
     "...with ELR 0xffff800008001000\n", "qemu", "qemu-d-int", 0x96000045, {"FAR": 0x10, "ELR": 0xffff800008001000},
     1),
    ("(XEN)    ESR_EL2: 96000045\n(XEN)  HPFAR_EL2: 0000000000012340\n(XEN)    FAR_EL2: 0000000012345678\n",
     "xen", "register-dump", 0x96000045, {"HPFAR": 0x12340, "FAR": 0x12345678}, 2),
    ("(XEN) traps.c:2025:d0v0 HSR=0x93830007 pc=0xffffff80080a5bfc\ngva=0xffffff800800d004 gpa=0x000000f1110004\n",
     "xen", "xen-trap", 0x93830007, {"FAR": 0xffffff800800d004, "ELR": 0xffffff80080a5bfc, "IPA": 0xf1110004}, 2),
    ("vm fault on data at address 0x0 with status 0x92000007\n", "sel4", "sel4-vm-fault", 0x92000007, {"FAR": 0},
     None),
    ("MON|ERROR: VMFault: ip=0x0000000000200114  fault_addr=0x0000000000000000  fsr=0x0000000093c08006  "
     "(data fault)\n", "microkit", "microkit-vm-fault", 0x93c08006, {"FAR": 0, "ELR": 0x200114}, None),
    ("    x29: 0\n     sp: ffff000040001000\n     lr: ffff000000123456\n    elr: ffff000000123450\n"
     "   spsr: 60000045\n    far: 0000000000000018\n    esr: 96000004\npanic: vm_fault failed\ncpuid = 0\n",
     None, "register-dump", 0x96000004, {"FAR": 0x18, "ELR": 0xffff000000123450}, None),
    ("EXCEPTION: (24) data abt (user) pfa=00001000, error=92000047 pstate=80000000\n"
     "R[ 0]: 0000000000000000 0000000000000001 0000000000000002 0000000000000003\n"
     "SP: 00000000b0000f00  PC: 0000000001100234\n", "fiasco", "fiasco-trap-state", 0x92000047,
     {"FAR": 0x1000, "ELR": 0x1100234}, None),
    ("[    5.1] Bad mode in Synchronous Abort handler detected on CPU0, code 0x5a000000 -- HVC (AArch64)\n",
     "linux", "bad-mode", 0x5a000000, {}, 1),
    ("[    6.0] Insufficient stack space to handle exception!\n[    6.0] ESR: 0x0000000096000047 -- DABT (current EL)\n"
     "[    6.0] FAR: 0xffff800012345678\n", "linux", "bad-stack", 0x96000047, {"FAR": 0xffff800012345678}, 1),
    ("[    7.0] SError detected, daif=3c0, esr=bf000002\n", "linux", "serror-vendor", 0xbf000002, {}, None),
    ("[    8.0] a.out[123]: unhandled level 2 translation fault (11) at 0x0000000000000000, esr\n[    8.0] 0x92000046\n",
     "linux", "user-unhandled-fault", 0x92000046, {"FAR": 0}, 1),
    ("[  212.4] Unhandled fault: alignment fault (0x92000021) at 0x0000ffff8a0b1001\n", "linux", "unhandled-fault",
     0x92000021, {"FAR": 0xffff8a0b1001}, 1),
    ("[    8.9] Synchronous External Abort: synchronous external abort (0x96000410) at 0xffff00000f800000\n",
     "linux", "synchronous-external-abort", 0x96000410, {"FAR": 0xffff00000f800000}, 1),
]


@pytest.mark.parametrize("text,producer,fmt,esr,regs,el", FORMS, ids=[f[2] + str(i) for i, f in enumerate(FORMS)])
def test_producer_forms(text, producer, fmt, esr, regs, el):
    found = [r for r in parse_text(text) if r.esr is not None]
    assert len(found) == 1, [(r.producer, r.format, r.esr) for r in found]
    r = found[0]
    if producer is not None:
        assert r.producer == producer
    assert r.format == fmt and r.esr == esr
    got = dict(r.registers)
    if r.address is not None:
        got.setdefault("FAR", r.address)
    assert {k: got.get(k) for k in regs} == regs
    if el is not None:
        assert r.el == el and r.decode.el == el
    assert not r.disagreements, r.disagreements


def test_every_form_in_one_log_in_order():
    text = "".join(f[0] for f in FORMS)
    found = [r for r in parse_text(text) if r.esr is not None]
    assert [r.esr for r in found] == [f[3] for f in FORMS]


def test_wrapping_quoting_and_bytes():
    base = "[ 1.0] sh[7]: unhandled exception: DABT (lower EL), ESR 0x0000000092000004, level 0 translation fault"
    for text in (base + "\n", "> " + base + "\r\n", ">> > " + base + "\n", "\t\t" + base + "\n",
                 "Mar 03 12:00:01 board kernel: " + base[7:] + "\n",
                 "<6>[ 1.0][ T77][  C1][sh] " + base[7:] + "\n", "\u00e9\u00e8 " + base + " \u2603\n"):
        (r,) = parse_text(text)
        assert r.esr == 0x92000004 and r.producer == "linux", text


def test_bad_mode_class_comes_from_the_code():
    (r,) = parse_text("Bad mode in Synchronous Abort handler detected on CPU0, code 0x5a000000 -- HVC (AArch64)\n")
    assert r.kind == "bad_mode" and r.decode.ec == 0x16 and not r.disagreements
    (r,) = parse_text("Bad mode in Error handler detected on CPU1, code 0xbf000000 -- SError\n")
    assert r.kind == "serror" and r.decode.ec == 0x2F
    (r,) = parse_text("Bad mode in Synchronous Abort handler detected on CPU0, code 0x5a000000 -- DABT (current EL)\n")
    assert any("HVC" in d for d in r.disagreements)


def test_linux_4_14_block_without_esr_line():
    text = ("[ 10.0] Unable to handle kernel NULL pointer dereference at virtual address 00000000\n"
            "[ 10.0] Mem abort info:\n[ 10.0]   Exception class = DABT (current EL), IL = 32 bits\n"
            "[ 10.0]   SET = 0, FnV = 0\n[ 10.0]   EA = 0, S1PTW = 0\n[ 10.0] Data abort info:\n"
            "[ 10.0]   ISV = 0, ISS = 0x00000005\n[ 10.0]   CM = 0, WnR = 0\n"
            "[ 10.0] Internal error: Oops: 96000005 [#1] PREEMPT SMP\n")
    (r,) = parse_text(text)
    assert r.esr == 0x96000005 and r.esr_source == "Internal error line"
    assert not r.problems and not r.format_mismatches and not r.disagreements
    assert r.style["esr_line"] is False and r.style["version"] < (4, 16)


def test_claims_checked_against_the_architecture():
    svc = decode_esr(0x56000080)
    assert "no fault status code" in claim_disagreement(svc, "Address size fault", "xnu")
    assert claim_disagreement(svc, "(Syscall)", "xnu") is None
    l3 = decode_esr(0x96000007)
    assert claim_disagreement(l3, "Data abort: Translation fault, third level", "edk2") is None
    assert "level 3 translation fault" in claim_disagreement(l3, "Translation fault, second level", "edk2")
    assert claim_disagreement(l3, "translation fault", "op-tee") is None
    assert "EC 0x25" in claim_disagreement(l3, "Core prefetch-abort", "op-tee")
    assert claim_disagreement(l3, "Data Abort", "qemu") is None
    assert claim_disagreement(decode_esr(0xd4000003), "Data Abort", "qemu") is None  # QEMU's watchpoints are one
    assert "EC 0x15" in claim_disagreement(decode_esr(0x56000000), "Data Abort", "qemu")
    assert claim_disagreement(decode_esr(0xf2000800), "BUG", "linux") is None
    assert "EC 0x1c" in claim_disagreement(decode_esr(0x72000000), "BUG", "linux")
    assert claim_disagreement(decode_esr(0x72000000), "FPAC", "linux") is None
    assert "EC 0x25" in claim_disagreement(l3, "EC 0x18 (trapped MSR)", "zephyr")
    # access words: a size only when ISV = 1, the direction from WnR
    assert "gives no access size" in claim_disagreement(decode_esr(0x92000006), "(Data Abort) byte read "
                                                        "Translation fault", "xnu")
    assert claim_disagreement(decode_esr(0x93830007), "(Data Abort) word read Translation fault", "xnu") is None
    assert "SAS = 2" in claim_disagreement(decode_esr(0x93830007), "(Data Abort) byte read", "xnu")
    assert "WnR = 1" in claim_disagreement(decode_esr(0x93830047), "(Data Abort) word read", "xnu")


def test_log_with_a_wrong_own_decode_exits_1():
    text = "Thread 0 crashed with ARM Thread State (64-bit):\n    far: 0x0000000000000000       esr: 0x56000080  " \
           "Address size fault\n"
    (r,) = parse_text(text)
    assert r.producer == "xnu" and r.claims == ["Address size fault"]
    assert r.disagreements and "EC 0x15" in r.disagreements[0]


def test_short_is_one_greppable_line_per_syndrome(capsys, tmp_path):
    rc, out, _ = run(["decode-esr", "0x96000045", "--short"], capsys)
    assert rc == 0 and out.count("\n") == 1
    assert "ESR_ELx=0x96000045" in out and "EC=0x25" in out and "FSC=0x05" in out and "WnR=1" in out
    log = tmp_path / "two.log"
    log.write_text("".join(f[0] for f in FORMS[:3]))
    rc, out, _ = run(["decode-esr", "--log", str(log), "--short"], capsys)
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 3
    assert lines[0].startswith(f"{log}:1: u-boot/uboot-exception-handler ESR_ELx=0x96000007")
    assert lines[2].startswith(f"{log}:4: kvm/kvm-unsupported-fsc ESR_EL2=0x92000061")


def _rows(out: str) -> list[str]:
    """The field names of the field table (plain lines in a pipe: ``NAME  BITS  0xVALUE  meaning``)."""
    import re
    return [m.group(1) for m in (re.match(r"(\S+) +\d+(?::\d+)? +0x[0-9a-f]+(?: |$)", line)
                                 for line in out.splitlines()) if m]


def test_default_view_shows_the_iss_layout_that_applies(capsys):
    rc, out, _ = run(["decode-esr", "0x93830007"], capsys)         # ISV = 1
    rows = _rows(out)
    assert {"SAS", "SSE", "SRT", "SF", "AR", "DFSC", "WnR"} <= set(rows)
    assert not {"TopLevel", "WU", "FnP", "PFV", "FnV", "ISS", "ISS2", "Xs", "TnD"} & set(rows), rows
    rc, out, _ = run(["decode-esr", "0x92000046"], capsys)         # ISV = 0
    rows = _rows(out)
    assert "SAS" not in rows and "SRT" not in rows and "DFSC" in rows and "ISS" not in rows
    rc, out, _ = run(["decode-esr", "0x93830007", "--full"], capsys)
    assert {"TopLevel", "WU", "ISS", "ISS2"} <= set(_rows(out))


def test_default_view_has_no_overlapping_fields():
    from pgwalk.cmd.decode_esr import _shown
    for value in (0x93830007, 0x92000046, 0x96000410, 0x8600000F, 0x5a000000, 0xbf000002, 0xf2000800, 0x0,
                  0x62380405, 0x1fe00000, 0x9200004f, 0x34000002, 0x72000000, 0xb6000000c, 0x200000000092000047):
        rows = [d for d in _shown(decode_esr(value & ((1 << 64) - 1)).details)]
        bits = {}
        for d in rows:
            group = "ESR" if d.group in ("ESR", "ISS", "ISS2") else d.group
            for b in range(d.lsb, d.msb + 1):
                assert (group, b) not in bits, (hex(value), d.name, bits.get((group, b)))
                bits[(group, b)] = d.name


# ------------------------------------------------------------------ decode descriptor
def test_descriptor_matches_the_walk_of_the_sample(capsys):
    """decode descriptor gives what the walker gives for the sample's own leaf."""
    regs = json.loads((SAMPLES / "s1_4k_48bit.regs.json").read_text())
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "0xffff800000201234", "--json", "--trace"], capsys)
    walked = json.loads(out)
    raw = walked["s1"]["raw"]
    rc, out, _ = run(["decode", "descriptor", raw, "--granule", "4k", "--level", "3", "--mair", regs["MAIR_EL1"],
                      "--json"], capsys)
    d = json.loads(out)
    assert rc == 0 and d["kind"] == "page" and d["address"] == walked["s1"]["oa_base"]
    assert d["permissions"] == f"EL1 {walked['permissions']['el1']} EL0 {walked['permissions']['el0']}"
    assert d["memory"].startswith(walked["attributes"]["description"]) and "Inner Shareable" in d["memory"]
    for step in walked["steps"][:-1]:
        rc, out, _ = run(["decode", "descriptor", step["raw"], "--granule", "4k", "--level", str(step["level"]),
                          "--json"], capsys)
        t = json.loads(out)
        assert t["kind"] == "table" and t["address"] == step["next"] and t["fields"] == step["fields"]


def test_descriptor_kinds_and_problems():
    from pgwalk.descdecode import decode_descriptor
    assert decode_descriptor(0, granule="4k", level=3).kind == "invalid"
    assert decode_descriptor(0x1, granule="4k", level=3).kind == "reserved"
    assert decode_descriptor(0x1, granule="4k", level=0).kind == "illegal block"
    assert decode_descriptor(0x1, granule="4k", level=0, ds=True).kind == "block"
    b = decode_descriptor(0x00e0000040401781, granule="4k", level=2)            # 2MB block, bit 12 set
    assert b.kind == "block" and b.address == 0x40400000 and any("below the 2MB" in p for p in b.problems)
    t = decode_descriptor(0x0000000040011003 | (1 << 50), granule="4k", level=1)
    assert t.kind == "table" and any("RES0" in p for p in t.problems)
    s2 = decode_descriptor(0x40000000004007fd, granule="4k", level=2, stage=2)
    assert s2.kind == "block" and s2.permissions == "EL1 rwx EL0 rwx" and s2.memory.startswith("Normal")
    lpa2 = decode_descriptor(0x0000000040000303 | (0b11 << 48), granule="4k", level=3, ds=True)
    assert lpa2.address == (0b11 << 48) | (0b11 << 50) | 0x40000000
    big = decode_descriptor(0x0000000040001003 | (0x3 << 12), granule="64k", level=3, pa_bits=52)
    assert big.address == (0x3 << 48) | 0x40000000


def test_descriptor_cli_errors(capsys):
    for argv in (["decode", "descriptor", "0x3"], ["decode", "descriptor", "0x3", "--granule", "4k", "--level", "-1"],
                 ["decode", "TCR_EL1", "0x0", "--level", "3"]):
        rc, _out, err = run(argv, capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (argv, err)


def test_log_decodes_logged_descriptors_without_image(capsys):
    log = ROOT / "tests" / "data" / "kernlogs" / "journal-mixed.log"
    rc, out, _ = run(["decode-esr", "--log", str(log), "--json"], capsys)
    lines = out.splitlines()
    assert lines and all(line.startswith('{"schema": 1, ') for line in lines)     # JSON Lines
    d = json.loads(lines[0])
    assert [x["level"] for x in d["descriptors"]] == [0, 1, 2, 3]          # p4d folded into pgd
    assert [x["kind"] for x in d["descriptors"]] == ["table", "table", "table", "page"]
    pte = d["descriptors"][-1]
    assert pte["address"] == "0x4804d000" and pte["permissions"] == "EL1 r-- EL0 ---"


def test_cli_subprocess_short_from_stdin():
    code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "decode-esr", "--log", "-", "--short"], cwd=ROOT,
                       input=FORMS[2][0].encode(), capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout.decode().startswith("-:1: kvm/kvm-unsupported-fsc ESR_EL2=0x92000061")


def test_ordinary_lines_are_not_reports():
    text = ("EDAC MC0: 1 CE memory read error on DIMM0 (syndrome 0x12345678 channel 0)\n"
            "hsr0: slave A (eth0) up\nthe ESR 2 field\nesr: 0\nsystemd[1]: Reached target ESR.\n"
            "[    1.0] Freeing unused kernel memory: 1088K\n")
    assert parse_text(text) == []
