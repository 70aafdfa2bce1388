"""The GDB remote protocol framing of :mod:`pgwalk.gdbremote`, against canned bytes on a socket pair."""

from __future__ import annotations

import socket
import threading

import pytest

from pgwalk.gdbremote import MAX_REPLY, GdbError, GdbRemote, parse_target


def _frame(data: bytes) -> bytes:
    return b"$" + data + b"#" + b"%02x" % (sum(data) & 0xFF)


def _client(replies: list[bytes], no_ack: bool = False):
    """A GdbRemote on one end of a socket pair; the other end answers each packet with the next canned bytes."""
    a, b = socket.socketpair()
    got: list[bytes] = []

    def serve():
        buf = b""
        for reply in replies:
            while True:
                buf = buf.lstrip(b"+-")
                if b"#" in buf and len(buf) >= buf.index(b"#") + 3:
                    end = buf.index(b"#") + 3
                    got.append(buf[:end])
                    buf = buf[end:]
                    break
                chunk = b.recv(65536)
                if not chunk:
                    return
                buf += chunk
            b.sendall(reply)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return GdbRemote("pair", a, reply_timeout=2, no_ack=no_ack), got, b


def test_plain_escaped_and_run_length_replies():
    g, got, _ = _client([b"+" + _frame(b"OK"), b"+" + _frame(b"a}\x03b"), b"+" + _frame(b"0* ")])
    assert g.request("?") == b"OK"
    assert got[0] == b"$?#3f"
    assert g.request("p1") == b"a#b"                 # '}' escapes: 0x03 ^ 0x20 = '#'
    assert g.request("p2") == b"0000"                # '*' + ' ': three more repeats


def test_notifications_skipped_and_nak_retransmits():
    bad = b"$OK#00"
    g, got, _ = _client([b"-", b"+%Stop:T05#00" + bad + _frame(b"OK")])
    assert g.request("?") == b"OK"
    assert got == [b"$?#3f", b"$?#3f"]              # NAKed once, sent again


def test_garbage_and_oversized_replies_fail_in_one_line():
    g, _, _ = _client([b"+" + b"x" * 10000])
    with pytest.raises(GdbError, match="garbage instead of an answer"):
        g.request("?")
    g, _, _ = _client([b"+$" + b"0" * (MAX_REPLY + 100)])
    with pytest.raises(GdbError, match="longer than"):
        g.request("?")


def test_disconnect_and_timeout():
    g, _, peer = _client([])
    peer.close()
    with pytest.raises(GdbError, match="closed the connection|broke"):
        g.request("?")
    a, b = socket.socketpair()
    g = GdbRemote("pair", a, reply_timeout=0.2, no_ack=True)
    with pytest.raises(GdbError, match=r"no reply to '\?' within 0.2 s"):
        g.request("?")
    b.close()


def test_memory_reply_checks():
    g, _, _ = _client([b"+" + _frame(b"0011"), b"+" + _frame(b"E14"), b"+" + _frame(b"001122")])
    assert g.read_memory(0x1000, 2) == b"\x00\x11"
    with pytest.raises(GdbError, match=r"could not read memory at 0x1000 \(E14\)"):
        g.read_memory(0x1000, 2)
    with pytest.raises(GdbError, match="returned 3 bytes for 2"):
        g.read_memory(0x1000, 2)


def test_hostile_target_description():
    doc = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><target>&a;</target>'
    g, _, _ = _client([b"+" + _frame(b"l" + doc)])
    g.features["qXfer:features:read"] = "+"
    with pytest.raises(GdbError, match="unusable target description"):
        g.registers()


def test_parse_target():
    assert parse_target(":1234") == ("127.0.0.1:1234", ("127.0.0.1", 1234))
    assert parse_target("[::1]:1234")[1] == ("::1", 1234)
    assert parse_target("unix:/tmp/x") == ("unix:/tmp/x", "/tmp/x")


@pytest.mark.parametrize("packet", ["P1f=00", "pzz", "p1f=00", "m1000,8:00", "M1000,1:00", "mx", "Qqemu.PhyMemMode:1;c",
                                    "qRcmd,7175", "QNonStop:1", "vCont;c", "c", "\x03"])
def test_only_reads_leave_the_client(packet):
    a, b = socket.socketpair()
    g = GdbRemote("pair", a, reply_timeout=0.2, no_ack=True)
    with pytest.raises(GdbError, match="read-only"):
        g.request(packet)
    b.setblocking(False)
    with pytest.raises(BlockingIOError):
        b.recv(1)                                    # nothing was sent
    a.close()
    b.close()
