"""``--gdb`` against a fake GDB stub on loopback: answers, read-only packets, packet counts, bad stubs."""

from __future__ import annotations

import json
import time

import pytest

from cli_helpers import SAMPLES, run, sample
from fake_stub import FakeStub
from pgwalk.gdbremote import READ_ONLY_PACKETS

IMG = (SAMPLES / "s1_4k_48bit.img").read_bytes()
REGS = {"TCR_EL1": 0x15b5103510, "TTBR0_EL1": 0x1000040000000, "TTBR1_EL1": 0x40010000,
        "MAIR_EL1": 0xf0bb040044ff, "SCTLR": 0x1, "ID_AA64MMFR0_EL1": 0x32310201126, "cpsr": 0x3c5}
PROBES = ["0xffff800000201234", "0xffff800000456789", "0xffff000052345678", "0xffff000080600010",
          "0xffff800010000018", "0xffff800000210000", "0x401abc", "0x601008", "0x602000", "0x603000",
          "0x9ffff8", "0x7ffffffff000", "0x200000", "0x40000000", "0x100000000000"]


@pytest.fixture
def stub(request):
    mode = getattr(request, "param", "ok")
    s = FakeStub({0x40000000: IMG}, dict(REGS), mode=mode)
    yield s
    s.close()


def _json(out):
    return [json.loads(line) for line in out.splitlines()]


def _strip(d):
    d = dict(d)
    d.pop("notes", None)
    d.pop("contents_in_image", None)
    return d


def test_translate_equals_offline_and_sends_only_reads(stub, capsys):
    rc1, live, err = run(["translate", "--gdb", stub.address, "--json", "--trace", *PROBES], capsys)
    rc2, offline, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--trace", *PROBES], capsys)
    assert rc1 == rc2 == 1, err
    assert [_strip(d) for d in _json(live)] == [_strip(d) for d in _json(offline)]
    notes = _json(live)[0]["notes"]
    assert any("registers from the gdb stub" in n and "TCR_EL1" in n and "SCTLR_EL1" in n for n in notes)
    assert stub.log and all(p.startswith(READ_ONLY_PACKETS) for p in stub.log)
    assert stub.log[-1] == "Qqemu.PhyMemMode:0" and stub.phy_mode == 0      # restored on exit


def test_register_sources_and_overrides(stub, capsys, tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"TCR_EL1": "0x1", "VBAR_EL2": "0x1234"}))
    rc, out, err = run(["translate", "--gdb", stub.address, "--json", "--trace", "--regs", str(f),
                        "--reg", "TTBR1_EL1=0x40010000", "0xffff800000201234"], capsys)
    notes = _json(out)[0]["notes"]
    assert rc == 0, err
    assert any("the target's values are used for TCR_EL1" in n for n in notes)
    assert any("(the stub lacks them): VBAR_EL2" in n for n in notes)
    assert any("from the command line: TTBR1_EL1" in n for n in notes)


def test_batch_reads_each_table_block_once(stub, capsys):
    """10,000 addresses through the vectorised walker: every table block is fetched once."""
    vas = [0xffff800000200000 + 8 * i for i in range(4000)] + [0xffff000040000000 + 0x1000 * i for i in range(3000)] \
        + [0x400000 + 0x1000 * i for i in range(3000)]
    text = "".join(f"{va:#x}\n" for va in vas)
    rc1, live, err = run(["translate", "--gdb", stub.address, "--batch", "-", "--csv"], capsys, stdin=text)
    rc2, offline, _ = run(["translate", *sample("s1_4k_48bit"), "--batch", "-", "--csv"], capsys, stdin=text)
    rows = lambda out: [line.rsplit(",", 1)[0] for line in out.splitlines()]   # noqa: E731
    assert rc1 == rc2 and rows(live) == rows(offline) and len(rows(live)) == 10001, err
    reads = [p for p in stub.log if p.startswith("m")]
    blocks = [int(p[1:].split(",")[0], 16) >> 12 for p in reads]
    # 4 KiB blocks, each fetched once: no address asked twice, the same packets per block
    assert len(set(reads)) == len(reads)
    per_block = {blocks.count(b) for b in set(blocks)}
    assert per_block == {3}             # PacketSize 0x1000: 2040 + 2040 + 16 bytes
    # the blocks are table pages of the image and nothing else
    assert {b << 12 for b in blocks} <= {0x40000000 + off for off in range(0, len(IMG), 4096)}
    assert 3 <= len(set(blocks)) <= 12


def test_read_live_equals_offline(stub, capsys):
    for args in (["0xffff000040010000", "64"], ["--pa", "0x40010ff0", "0x20"], ["0xffff000040010000", "16", "--format", "u64"]):
        rc1, live, err = run(["read", "--gdb", stub.address, *args], capsys)
        rc2, offline, _ = run(["read", *sample("s1_4k_48bit"), *args], capsys)
        assert (rc1, live) == (rc2, offline), err
        assert live.strip()


def test_dump_tree_live_equals_offline(stub, capsys):
    rc1, live, _ = run(["dump-tree", "--gdb", stub.address, "--ttbr1"], capsys)
    rc2, offline, _ = run(["dump-tree", *sample("s1_4k_48bit"), "--ttbr1"], capsys)
    body = lambda out: [l for l in out.splitlines() if not l.lstrip().startswith("note")]   # noqa: E731
    assert rc1 == rc2 and body(live) == body(offline) and len(body(live)) > 3


def test_at_live(stub, capsys):
    rc1, live, _ = run(["at", "S1E0W", "0x603000", "--gdb", stub.address], capsys)
    rc2, offline, _ = run(["at", "S1E0W", "0x603000", *sample("s1_4k_48bit")], capsys)
    assert rc1 == rc2 and "PAR_EL1 = 0x0000000000000817" in live and "PAR_EL1 = 0x0000000000000817" in offline


def test_unix_socket(tmp_path, capsys):
    s = FakeStub({0x40000000: IMG}, dict(REGS), unix_path=str(tmp_path / "gdb.sock"))
    try:
        rc, out, err = run(["translate", "--gdb", s.address, "0xffff800000201234", "--no-trace"], capsys)
    finally:
        s.close()
    assert rc == 0 and "PA 0x40201234" in out, err


def _bad(args, capsys, match):
    t0 = time.monotonic()
    rc, out, err = run(args, capsys)
    took = time.monotonic() - t0
    assert rc == 2, (out, err)
    # notes (what was connected, where registers came from) share stderr; the failure is one line
    lines = [line for line in err.strip().splitlines() if not line.startswith("pgwalk: note:")]
    assert len(lines) == 1 and lines[0].startswith("pgwalk: error:") and match in lines[0], err
    assert "Traceback" not in err
    assert took < 5
    return lines[0]


def test_nothing_listening(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _bad(["translate", "--gdb", f"127.0.0.1:{port}", "0x1000"], capsys, "nothing is listening")
    _bad(["translate", "--gdb", "unix:/nonexistent/gdb.sock", "0x1000"], capsys, "nothing is listening")


@pytest.mark.parametrize("spec", ["localhost", "host:port", "h:0", "unix:", "h:99999"])
def test_bad_spec(spec, capsys):
    _bad(["translate", "--gdb", spec, "0x1000"], capsys, "--gdb")


@pytest.mark.parametrize("stub,match", [
    ("running", "the target is running"),
    ("no-phys", "cannot read physical memory"),
    ("no-sysregs", "exports no translation system registers"),
    ("garbage", "garbage reply to a memory read"),
    ("noise", "garbage instead of an answer"),
    ("disconnect", "closed the connection"),
], indirect=["stub"])
def test_bad_stub(stub, match, capsys):
    _bad(["translate", "--gdb", stub.address, "0xffff800000201234"], capsys, match)


@pytest.mark.parametrize("stub", ["silent"], indirect=True)
def test_silent_stub_times_out(stub, capsys, monkeypatch):
    monkeypatch.setenv("PGWALK_GDB_TIMEOUT", "0.5")
    _bad(["translate", "--gdb", stub.address, "0x1000"], capsys, "no reply to '?' within 0.5 s")


@pytest.mark.parametrize("stub", ["no-sysregs"], indirect=True)
def test_registers_given_for_a_stub_without_them(stub, capsys):
    rc, out, err = run(["translate", "--gdb", stub.address, *sample("s1_4k_48bit")[2:],
                        "0xffff800000201234", "--no-trace"], capsys)
    assert rc == 0 and "PA 0x40201234" in out, err


def test_gdb_and_image_exclude(stub, capsys):
    _bad(["translate", "--gdb", stub.address, *sample("s1_4k_48bit"), "0x1000"], capsys, "exclude each other")


def test_client_refuses_writes():
    from pgwalk.gdbremote import GdbError, GdbRemote

    s = FakeStub({0x40000000: IMG}, dict(REGS))
    try:
        with GdbRemote.connect(s.address) as g:
            for pkt in ("c", "s", "vCont;c", "M40000000,1:00", "X40000000,1:0", "G00", "P1f=00", "Z0,1000,4",
                        "D", "\x03", "k", "R00", "qRcmd,7175"):
                with pytest.raises(GdbError, match="read-only"):
                    g.request(pkt)
    finally:
        s.close()
    assert all(p.startswith(READ_ONLY_PACKETS) for p in s.log)


@pytest.mark.parametrize("stub", ["disconnect"], indirect=True)
def test_disconnect_mid_batch(stub, capsys):
    """The vectorised walker stops with the one-line error too (never external aborts)."""
    text = "".join(f"{0xffff800000200000 + 0x1000 * i:#x}\n" for i in range(200))
    t0 = time.monotonic()
    rc, out, err = run(["translate", "--gdb", stub.address, "--batch", "-", "--csv"], capsys, stdin=text)
    assert rc == 2 and "closed the connection" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 5


# --------------------------------------------------------------------------- --cpu N

def _two_cpus():
    """CPU 0: the sample's registers; CPU 1: TTBR1_EL1 pointing at the TTBR0 tree (another translation)."""
    other = dict(REGS, TTBR1_EL1=REGS["TTBR0_EL1"] & ((1 << 48) - 1))
    return FakeStub({0x40000000: IMG}, dict(REGS), cpus=[other])


def test_cpu_selects_the_thread_whose_registers_are_read(capsys):
    s = _two_cpus()
    other = s.cpu_registers[1]["TTBR1_EL1"]
    try:
        argv = ["translate", "--gdb", s.address, "--json", "--trace", *PROBES[:6]]
        rc0, out0, _ = run(argv, capsys)
        assert not any(p.startswith(("Hg", "qfThreadInfo")) for p in s.log)    # no --cpu: nothing selected
        s.log.clear()
        rc_0, out_0, _ = run([*argv, "--cpu", "0"], capsys)
        rc_1, out_1, err1 = run([*argv, "--cpu", "1"], capsys)
        assert [_strip(d) for d in _json(out0)] == [_strip(d) for d in _json(out_0)]   # current = CPU 0
        # CPU 1 translates as the offline walk with CPU 1's TTBR1_EL1 does, and differs from CPU 0
        rc_off, off, _ = run(["translate", *sample("s1_4k_48bit"), "--reg", f"TTBR1_EL1={other:#x}", "--json",
                              "--trace", *PROBES[:6]], capsys)
        assert rc_1 == rc_off and [_strip(d) for d in _json(out_1)] == [_strip(d) for d in _json(off)], err1
        assert [_strip(d) for d in _json(out_1)] != [_strip(d) for d in _json(out0)]
        assert any("CPU 1: the stub's thread p01.02" in n for n in _json(out_1)[0]["notes"])
        assert "Hgp01.02" in s.log and s.log[-1] == "Hgp01.01" and s.selected == 0    # restored on exit
        assert all(p.startswith(READ_ONLY_PACKETS) for p in s.log)
    finally:
        s.close()


def test_cpu_out_of_range_and_without_threads_or_gdb(capsys):
    s = _two_cpus()
    try:
        _bad(["translate", "--gdb", s.address, "--cpu", "2", "0x1000"], capsys, "no CPU 2: the target has 2 (0..1)")
    finally:
        s.close()
    s = FakeStub({0x40000000: IMG}, dict(REGS), mode="no-threads")
    try:
        _bad(["translate", "--gdb", s.address, "--cpu", "0", "0x1000"], capsys, "does not list its CPUs")
        assert not any(p.startswith("Hg") for p in s.log)
    finally:
        s.close()
    _bad(["translate", *sample("s1_4k_48bit"), "--cpu", "1", "0x1000"], capsys, "--cpu chooses a CPU of a --gdb")


def test_library_open_with_cpu():
    import pgwalk

    s = _two_cpus()
    try:
        with pgwalk.open(gdb=s.address, cpu=1) as t:
            assert t.registers["TTBR1_EL1"] == REGS["TTBR0_EL1"] & ((1 << 48) - 1)
        with pgwalk.open(gdb=s.address) as t:
            assert t.registers["TTBR1_EL1"] == REGS["TTBR1_EL1"]
    finally:
        s.close()
