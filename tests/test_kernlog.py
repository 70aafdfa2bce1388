"""Kernel log parsing: fault reports, the log's own decode against pgwalk's, walks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pgwalk.cli import cli
from pgwalk.esr import linux_mem_abort_lines
from pgwalk.kernlog import (compare_logged_walk, linux_level_map, parse_log, parse_text, strip_prefix)

DATA = Path(__file__).parent / "data" / "kernlogs"
ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracle" / "linux-arm64" / "serial.log"


def logs(name):
    return parse_log(DATA / name)


def raw_block(path: Path, report) -> list[str]:
    """The block lines exactly as in the file, with only the timestamp prefix removed."""
    text = path.read_text().splitlines()
    return [strip_prefix(text[n - 1])[0] for n, _ in report.block]


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


# ----------------------------------------------------------------------------- the Linux guest log
needs_oracle = pytest.mark.skipif(not ORACLE.exists(), reason="shared oracle log not present")


@needs_oracle
def test_oracle_log_reports():
    reports = parse_log(ORACLE)
    assert len(reports) == 38                               # console, then the same again via dmesg
    assert sum(r.duplicate_of is not None for r in reports) == 19
    first = [r for r in reports if r.duplicate_of is None]
    kinds = [r.kind for r in first]
    assert kinds.count("user_fault") == 11 and kinds.count("kernel_fault") == 8
    for r in first:
        assert not r.disagreements, (r.first_line, r.disagreements)
        assert not r.problems, (r.first_line, r.problems)
        assert not r.format_mismatches, (r.first_line, r.format_mismatches)


@needs_oracle
def test_oracle_linux_blocks_reproduced_exactly():
    """--linux must print, character for character, what the 6.1 kernel printed for every abort."""
    text = ORACLE.read_text().splitlines()
    n_blocks = 0
    for r in parse_log(ORACLE):
        if not r.block:
            continue
        logged = [strip_prefix(text[n - 1])[0] for n, _ in r.block]
        assert r.expected_block() == logged
        assert linux_mem_abort_lines(r.esr, "6.1") == logged
        n_blocks += 1
    assert n_blocks == 16


@needs_oracle
def test_oracle_cli_linux_matches_log():
    res = run("decode-esr", "--log", str(ORACLE), "--linux", "--kernel", "6.1")
    assert res.exit_code == 0
    text = ORACLE.read_text()
    blocks = res.stdout.split("# report ")[1:]
    kernel = [b for b in blocks if "Unable to handle kernel" in b.splitlines()[0]]
    assert len(kernel) == 8
    for b in kernel:
        for line in b.splitlines()[1:]:
            assert line in text


# MANIFEST section 4: the kernel oopses, their ESRs and walks
ORACLE_OOPSES = [
    (0x0, 0x96000006, "user", 0x48042000, ["pgd", "p4d", "pud", "pmd"], "level 2 translation fault"),
    (0x0001000000000000, 0x96000004, None, None, [], "level 0 translation fault"),
    (0xffff7fff00000000, 0x96000004, "swapper", 0x41858000, ["pgd", "p4d"], "level 0 translation fault"),
    (0xffffbb3f1fd2c350, 0x9600004E, "swapper", 0x41858000, ["pgd", "p4d", "pud", "pmd"],
     "level 2 permission fault on a write"),
    (0xffffbb3f1e5ac3c0, 0x9600004F, "swapper", 0x41858000, ["pgd", "p4d", "pud", "pmd", "pte"],
     "level 3 permission fault on a write"),
    (0xffff0000080ae500, 0x8600000F, "swapper", 0x41858000, ["pgd", "p4d", "pud", "pmd", "pte"],
     "level 3 permission fault on an instruction fetch"),
    (0x00000000209436d0, 0x9600000F, "user", 0x48045000, ["pgd", "p4d", "pud", "pmd", "pte"],
     "level 3 permission fault on a read"),
    (0xffff800008036000, 0x96000007, "swapper", 0x41858000, ["pgd", "p4d", "pud", "pmd", "pte"],
     "level 3 translation fault"),
]


@needs_oracle
def test_oracle_oopses_match_manifest():
    kf = [r for r in parse_log(ORACLE) if r.kind == "kernel_fault" and r.duplicate_of is None]
    assert len(kf) == len(ORACLE_OOPSES)
    for r, (addr, esr, who, pgdp, names, words) in zip(kf, ORACLE_OOPSES):
        assert r.address == addr and r.esr == esr
        assert words in r.decode.summary
        assert r.oops["code"] == esr and r.oops["what"] == "Oops"
        assert r.walk is not None
        assert r.walk.pgtable == who and r.pgdp == pgdp
        assert [n for n, _ in r.descriptors] == names
        if who:
            assert r.walk.address == addr
    assert kf[4].descriptors[-1] == ("pte", 0x00e000004804d783)
    assert kf[1].walk.message == "address between user and kernel address ranges"


@needs_oracle
def test_oracle_user_faults():
    uf = [r for r in parse_log(ORACLE) if r.kind == "user_fault" and r.duplicate_of is None]
    esrs = [r.esr for r in uf]
    assert esrs == [0x92000006, 0x9200004F, 0x8200000F, 0x92000004, 0x92000004, 0x92000006, None, None,
                    0x92000021, 0x8A000000, 0x92000007]
    assert uf[0].task["comm"] == "ufault" and uf[0].task["pid"] == 89
    assert "alignment fault" in uf[8].decode.summary
    assert uf[9].decode.summary == "PC alignment fault"


# ----------------------------------------------------------------------------- public logs
def test_public_logs_reproduced():
    """Blocks from public kernel reports (mailing lists, syzbot) round-trip through --linux."""
    for name in ("android-5.10-callerid.log", "rtd-5.9-next-interleaved.log", "syzbot-iss2.log",
                 "debian-6.1-qemu.log", "lkft-6.6-next-unknown43.log"):
        reps = [r for r in logs(name) if r.block]
        assert reps, name
        for r in reps:
            assert r.expected_block() == raw_block(DATA / name, r), name
    for name in ("nxp-6.14-quoted.log", "lkft-6.2-next-wrapped.log", "lkft-6.9-quoted-printable.log"):
        for r in logs(name):
            assert [x.strip() for x in r.expected_block()] == [x.strip() for _, x in r.block], name
            assert not r.format_mismatches and not r.disagreements and not r.problems, name


def test_interleaved_lines_ignored():
    (r,) = logs("rtd-5.9-next-interleaved.log")
    assert r.esr == 0x96000004 and r.address == 0xedafeaac9607952c
    assert {k: r.style[k] for k in ("esr_digits", "ec_hex", "fsc_line", "iss2")} == \
        {"esr_digits": 8, "ec_hex": True, "fsc_line": False, "iss2": False}
    assert (5, 4) <= r.style["version"] < (5, 10)
    assert r.walk.message == "address between user and kernel address ranges"
    assert r.oops["code"] == 0x96000004 and not r.disagreements


def test_caller_id_prefix_and_39bit():
    (r,) = logs("android-5.10-callerid.log")
    assert r.timestamp == pytest.approx(107.629453)
    assert r.walk.va_bits == 39 and r.walk.pgdp == 0x98a237000
    assert linux_level_map(4, 39) == {"pgd": 1, "p4d": 1, "pud": 1, "pmd": 2, "pte": 3}


def test_wrapped_and_quoted():
    (r,) = logs("lkft-6.2-next-wrapped.log")
    assert r.address == 0xfffffffffffffff8 and r.esr == 0x96000004
    assert r.walk.pgdp == 0x1496c000 and r.descriptors == [("pgd", 0), ("p4d", 0)]
    (q,) = logs("nxp-6.14-quoted.log")
    assert q.style["iss2"] and q.esr == 0x96000004 and q.walk.pgdp == 0x10af63000


def test_quoted_printable_mail():
    (r,) = logs("lkft-6.9-quoted-printable.log")
    assert r.esr == 0x9600006b and r.address == 8
    assert r.logged["FSC_name"] == "level -1 translation fault"
    assert r.decode.fault.level == -1
    assert r.walk.message == "user address but active_mm is swapper"
    assert not r.disagreements


def test_unknown_43_flagged():
    (r,) = logs("lkft-6.6-next-unknown43.log")
    assert r.esr == 0x9793002B and r.reason == "unknown 43" and r.address == 0x0001ffff9e2e7d78
    assert r.logged["access_size"] == 4 and r.logged["SRT"] == 19
    assert len(r.disagreements) == 1
    assert "level -1 translation fault" in r.disagreements[0] and "unknown 43" in r.disagreements[0]
    assert r.walk.va_bits == 52 and r.walk.pgdp == 0x10606a780
    assert linux_level_map(4, 52)["pgd"] == -1 and linux_level_map(4, 52)["p4d"] == 0


def test_wrong_decodes_flagged():
    a, b = logs("wrong-decodes.log")
    assert any("0x25" in d and "granule protection" in d for d in a.disagreements)
    assert b.disagreements == ["the log says WnR = 1, but ESR 0x96000007 has WnR = 0"]


def test_old_formats():
    a, b, c = logs("old-formats.log")
    assert a.kind == "kernel_fault" and a.esr == 0x96000005 and a.esr_source == "Internal error line"
    assert a.walk.pgd_pointer == "ffffc0790ad000".rjust(16, "f") and a.walk.pgdp is None
    assert a.descriptors == [("pgd", 0), ("pud", 0)]
    assert b.kind == "user_fault" and b.esr == 0x92000006 and b.task["signal"] == 11 and b.address == 0
    assert b.descriptors[0] == ("pgd", 0xb8b9d003)
    assert c.style["ec_hex"] is False and c.style["esr_digits"] == 8
    assert c.walk.pgd_pointer == "00000000a1f2e5c4"
    for r in (a, b, c):
        assert not r.disagreements and not r.format_mismatches, r.first_line


def test_journal_serror_bug_and_user():
    reps = logs("journal-mixed.log")
    assert [r.kind for r in reps] == ["kernel_fault", "serror", "internal_error", "user_fault"]
    assert reps[0].esr == 0x9600004F and reps[0].walk.entries[-1] == ("pte", 0x00e000004804d783)
    assert reps[1].esr == 0xbf000002 and "IMPLEMENTATION DEFINED" in reps[1].decode.summary
    assert reps[2].esr == 0xf2000800 and "BUG()" in reps[2].decode.summary
    assert reps[3].task["comm"] == "sh"
    assert all(not r.disagreements and not r.problems for r in reps)


def test_garbled_and_truncated_reports_do_not_stop_parsing():
    a, b, c = logs("garbled-truncated.log")
    assert any("cannot read 'ESR = 0x00000000960000zz'" in p for p in a.problems)
    assert any("garbled page-table walk" in p for p in a.problems)
    assert a.esr == 0x96000007 and a.esr_source == "Internal error line"
    assert ("pud", 0x1000) not in a.descriptors
    assert any("truncated" in p for p in b.problems) and b.esr == 0x96000045
    assert c.esr == 0x96000047
    assert c.disagreements == ["the log says WnR = 0, but ESR 0x96000047 has WnR = 1"]


def test_prefixes():
    assert strip_prefix("[   14.934862]   ESR = 0x0000000096000006") == ("  ESR = 0x0000000096000006", 14.934862,
                                                                         True)
    assert strip_prefix("> >> [ 1.0][ T1] Mem abort info:")[0] == "Mem abort info:"
    assert strip_prefix("<1>[  203.119838] Mem abort info:")[0] == "Mem abort info:"
    assert strip_prefix("Mar 03 12:00:01 board kernel: Mem abort info:")[0] == "Mem abort info:"
    assert strip_prefix("2024-05-06T07:08:09.1+00:00 host kernel:   ESR = 0x1")[0] == "  ESR = 0x1"
    assert strip_prefix("[Mon May  6 07:10:00 2024] Internal error")[0] == "Internal error"
    assert strip_prefix("kern  :alert : [   14.1] Mem abort info:")[0] == "Mem abort info:"
    assert strip_prefix("\t[ 1240.555441] Unable")[0] == "Unable"
    assert strip_prefix("plain text") == ("plain text", None, False)


def test_empty_and_binary_input():
    assert parse_text("") == []
    assert parse_text("no faults here\n\x00\xff garbage\n") == []


# ----------------------------------------------------------------------------- walk comparison
def test_level_maps():
    assert linux_level_map(4, 48) == {"pgd": 0, "p4d": 0, "pud": 1, "pmd": 2, "pte": 3}
    assert linux_level_map(64, 42) == {"pgd": 2, "p4d": 2, "pud": 2, "pmd": 2, "pte": 3}
    assert linux_level_map(64, 48) == {"pgd": 1, "p4d": 1, "pud": 1, "pmd": 2, "pte": 3}
    assert linux_level_map(16, 47) == {"pgd": 1, "p4d": 1, "pud": 1, "pmd": 2, "pte": 3}
    assert linux_level_map(16, 48) == {"pgd": 0, "p4d": 0, "pud": 1, "pmd": 2, "pte": 3}
    with pytest.raises(ValueError):
        linux_level_map(8, 48)


def test_compare_logged_walk_with_fake_walker():
    r = logs("journal-mixed.log")[0]
    logged = dict(r.descriptors)
    calls = []

    def good(pgdp, va, *, page_kb, va_bits):
        calls.append((pgdp, va, page_kb, va_bits))
        return {0: logged["pgd"], 1: logged["pud"], 2: logged["pmd"], 3: logged["pte"]}

    c = compare_logged_walk(r, good)
    assert c.ok and calls == [(0x41858000, 0xffff800008a1c000, 4, 48)]
    assert [e["level"] for e in c.entries] == [0, 0, 1, 2, 3]

    def bad(pgdp, va, **kw):
        return {0: logged["pgd"], 1: logged["pud"], 2: 0}

    c = compare_logged_walk(r, bad)
    assert not c.ok and len(c.mismatches) == 2
    assert "pmd (level 2)" in c.mismatches[0] and "did not reach" in c.mismatches[1]

    def broken(*a, **k):
        raise OSError("image truncated")

    assert "image truncated" in compare_logged_walk(r, broken).error
    old = logs("old-formats.log")[0]
    assert "no physical pgdp" in compare_logged_walk(old, good).error


# ----------------------------------------------------------------------------- CLI
def test_cli_log_json_one_object_per_report():
    res = run("decode-esr", "--log", str(DATA / "journal-mixed.log"), "--json")
    assert res.exit_code == 0
    data = [json.loads(line) for line in res.stdout.splitlines()]      # JSON Lines (issue 14)
    assert len(data) == 4 and all(d["schema"] == 1 for d in data)
    first = data[0]
    assert first["esr"] == "0x9600004f" and first["pgdp"] == "0x41858000"
    assert first["walk"]["entries"][-1]["level"] == "pte"
    assert first["decode"]["fields"]["DFSC"] == 0xF and first["decode"]["summary"]


def test_cli_log_stdin_and_disagreement_exit_status():
    text = (DATA / "wrong-decodes.log").read_text()
    res = run("decode-esr", "--log", "-", input=text)
    assert res.exit_code == 1
    assert "disagrees" in res.stdout and "granule protection" in res.stdout


def test_cli_log_garbled_keeps_going():
    res = run("decode-esr", "--log", str(DATA / "garbled-truncated.log"))
    assert res.exit_code == 1                                 # report 2 disagrees with its ESR
    assert res.stdout.count("report ") >= 3 and "problem" in res.stdout


def _sparse_image(path, base, size, words):
    with open(path, "wb") as fh:
        fh.truncate(size)
        for pa, value in words.items():
            fh.seek(pa - base)
            fh.write(value.to_bytes(8, "little"))


def _journal_walk_words(pte):
    va = 0xffff800008a1c000
    idx = [(va >> s) & 0x1FF for s in (39, 30, 21, 12)]
    return {0x41858000 + 8 * idx[0]: 0x100000004ffff003, 0x4ffff000 + 8 * idx[1]: 0x100000004fffe003,
            0x4fffe000 + 8 * idx[2]: 0x10000000480b0003, 0x480b0000 + 8 * idx[3]: pte}


def test_cli_log_image_walk_matches(tmp_path):
    img = tmp_path / "ram.img"
    _sparse_image(img, 0x40000000, 0x10000000, _journal_walk_words(0x00e000004804d783))
    res = run("decode-esr", "--log", str(DATA / "journal-mixed.log"), "--image", f"{img}@0x40000000", "--json")
    data = [json.loads(line) for line in res.stdout.splitlines()]
    cmp = data[0]["walk_comparison"]
    assert cmp["ok"] and [e["level"] for e in cmp["entries"]] == [0, 0, 1, 2, 3]
    assert res.exit_code == 0


def test_cli_log_image_walk_differs(tmp_path):
    img = tmp_path / "ram.img"
    _sparse_image(img, 0x40000000, 0x10000000, _journal_walk_words(0x00e0000048000783))
    res = run("decode-esr", "--log", str(DATA / "journal-mixed.log"), "--image", f"{img}@0x40000000")
    assert res.exit_code == 1
    assert "walk differs" in res.stdout and "pte (level 3)" in res.stdout


def test_cli_log_image_without_walker(tmp_path, monkeypatch):
    import sys
    img = tmp_path / "mem.img"
    img.write_bytes(b"\0" * 4096)
    monkeypatch.setitem(sys.modules, "pgwalk.walk", None)          # as before the walker existed
    res = run("decode-esr", "--log", str(DATA / "journal-mixed.log"), "--image", str(img))
    assert res.exit_code == 0
    assert "pgwalk: note:" in res.stderr and "needs the walker" in " ".join(res.stderr.split())


def test_linux_walk_registers():
    from pgwalk.kernlog import linux_walk_registers
    from pgwalk.params import setup_from_registers
    s = setup_from_registers(linux_walk_registers(0x41858000, 4, 48))
    assert [r.start_level for r in s.ranges] == [0, 0] and s.ranges[1].base == 0x41858000
    s = setup_from_registers(linux_walk_registers(0x10606a780, 4, 52))
    assert s.ranges[0].start_level == -1 and s.ranges[0].base == 0x10606a780
    s = setup_from_registers(linux_walk_registers(0x98a237000, 4, 39))
    assert s.ranges[0].start_level == 1
    s = setup_from_registers(linux_walk_registers(0x80000000, 64, 42))
    assert s.ranges[0].start_level == 2 and s.ranges[0].granule_shift == 16


def test_cli_log_errors():
    res = run("decode-esr", "--log", "/nonexistent/log")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    res = run("decode-esr", "0x96000045", "--log", str(DATA / "syzbot-iss2.log"))
    assert res.exit_code == 2


def test_cli_log_linux_blocks():
    res = run("decode-esr", "--log", str(DATA / "android-5.10-callerid.log"), "--linux")
    lines = [line for line in res.stdout.splitlines() if not line.startswith("#")]
    assert lines == linux_mem_abort_lines(0x96000006, "5.10")


def test_terminal_wrapped_walk_line():
    text = (
        "[   18.040500] Unable to handle kernel write to read-only memory at virtual address ffffbb3f1fd2c350\n"
        "[   18.041381] swapper pgtable: 4k pages, 48-bit VAs, pgdp=0000000041858000\n"
        "[   18.041516] [ffffbb3f1fd2c350] pgd=100000004ffff003, p4d=1000000\n"
        "04ffff003, pud=100000004fffe003,\n"
        " pmd=00c0000040400781\n"
        "[   18.041951] Internal error: Oops: 000000009600004e [#4] SMP\n")
    (r,) = parse_text(text)
    assert r.descriptors == [("pgd", 0x100000004ffff003), ("p4d", 0x100000004ffff003),
                             ("pud", 0x100000004fffe003), ("pmd", 0x00c0000040400781)]
    assert r.esr == 0x9600004E and not r.problems


def test_crlf_tabs_and_dmesg_levels():
    text = ("<1>[   14.934482] Unable to handle kernel NULL pointer dereference at virtual address "
            "0000000000000000\r\n<1>[   14.934789] Mem abort info:\r\n<1>[   14.934862]   ESR = 0x0000000096000006\r\n"
            "\t<0>[   14.936267] Internal error: Oops: 0000000096000006 [#1] SMP\r\n")
    (r,) = parse_text(text)
    assert r.esr == 0x96000006 and r.oops["count"] == 1
    assert any("truncated" in p for p in r.problems)          # the block stops after the ESR line


def test_internal_error_after_user_fault_is_its_own_report():
    text = ("[ 9.0] sh[77]: unhandled exception: DABT (lower EL), ESR 0x0000000092000004, level 0 translation fault\n"
            "[ 9.1] Internal error: Oops - BUG: 00000000f2000800 [#1] SMP\n")
    a, b = parse_text(text)
    assert a.kind == "user_fault" and b.kind == "internal_error" and not a.disagreements
