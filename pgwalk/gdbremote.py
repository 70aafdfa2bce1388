"""A read-only client of the GDB remote serial protocol (RSP).

pgwalk talks to a stopped target's debug stub (QEMU's ``-gdb``/``-s`` gdbstub,
OpenOCD, a J-Link server, ...) over TCP or a Unix socket and only *reads*:
the stop reason (``?``), the target description (``qXfer:features:read``),
single registers (``p``), memory (``m``) and QEMU's physical-memory switch
(``qqemu.PhyMemMode`` / ``Qqemu.PhyMemMode``); with a CPU chosen, the thread list
(``qfThreadInfo``/``qsThreadInfo``), the current thread (``qC``) and ``Hg``, which
selects the thread later ``p`` and ``m`` packets read (QEMU: one thread per vCPU) and
changes nothing on the target.  Every packet sent is checked
against :data:`READ_ONLY_PACKETS` before it leaves, so no code path can write
memory or registers, resume, step, stop or detach the target (QEMU resumes a
guest on ``D``; pgwalk just closes the connection).

Everything is bounded: the connect and per-reply timeouts, the size of a reply
(:data:`MAX_REPLY`), the garbage skipped between packets, and the
retransmissions after a NAK (:data:`MAX_RETRIES`).  Any protocol failure
raises :class:`GdbError` with one sentence (the CLI prints it, exit 2).

Framing follows the GDB manual ("Overview", "Binary Data"): ``$data#xx``
with a modulo-256 checksum, ``}`` escapes (byte XOR 0x20), ``*`` run-length
encoding in replies, ``%...#xx`` notifications (ignored), and no-ack mode when
the stub offers ``QStartNoAckMode``.
"""

from __future__ import annotations

import os
import re
import socket
import time

from .errors import PgwalkError
from .records import field, record

__all__ = ["GdbError", "GdbRemote", "StubRegister", "parse_target", "READ_ONLY_PACKETS",
           "CONNECT_TIMEOUT", "REPLY_TIMEOUT", "default_timeout", "MemoryReadError", "MAX_REPLY", "MAX_RETRIES"]

#: seconds to connect
CONNECT_TIMEOUT = 3.0
#: seconds to wait for one reply
REPLY_TIMEOUT = 5.0
#: largest reply accepted (bytes of packet data, before decoding)
MAX_REPLY = 1 << 20
#: retransmissions of one packet after the stub NAKs it (ack mode)
MAX_RETRIES = 3
#: bytes outside any packet tolerated while waiting for one reply
_MAX_GARBAGE = 4096
#: largest target description document (all included files together)
_MAX_XML = 4 << 20
#: most target-description files followed through xi:include
_MAX_XML_FILES = 32

_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)

#: the packet prefixes pgwalk may send; everything else is refused before it is sent
READ_ONLY_PACKETS = ("?", "qSupported", "QStartNoAckMode", "qXfer:features:read:", "p", "m",
                     "qqemu.PhyMemMode", "Qqemu.PhyMemMode:", "qfThreadInfo", "qsThreadInfo", "qC", "Hg")

#: a thread id as pgwalk sends it back: ``TID`` or, in multiprocess mode, ``pPID.TID`` (hex)
_THREAD_ID = r"(?:p[0-9a-f]+\.)?[0-9a-f]+"
#: most threads listed (qfThreadInfo/qsThreadInfo rounds and ids) before the list is refused
_MAX_THREADS = 4096


#: the exact forms of :data:`READ_ONLY_PACKETS` pgwalk sends
_READ_ONLY_RE = re.compile(r"\?|qSupported(:[\w+\-=;]*)?|QStartNoAckMode|qXfer:features:read:[\w.\-]+:[0-9a-f]+,[0-9a-f]+"
                           r"|p[0-9a-f]+|m[0-9a-f]+,[0-9a-f]+|qqemu\.PhyMemMode|Qqemu\.PhyMemMode:[01]"
                           r"|qfThreadInfo|qsThreadInfo|qC|Hg" + _THREAD_ID)


def _read_only(packet: str) -> bool:
    """Whether ``packet`` is one of the reads pgwalk sends, in its exact form."""
    return _READ_ONLY_RE.fullmatch(packet) is not None


class GdbError(PgwalkError):
    """The stub is unreachable, went away, or answered something pgwalk cannot use."""


@record(frozen=True, slots=True, compiled_init=True)
class StubRegister:
    """One register of the target description."""

    name: str        #: name as the stub spells it
    regnum: int      #: number for the ``p`` packet
    bitsize: int


def parse_target(spec: str) -> tuple[str, object]:
    """``HOST:PORT``, ``:PORT`` (localhost) or ``unix:PATH`` -> (label, socket address).

    >>> parse_target("127.0.0.1:1234")
    ('127.0.0.1:1234', ('127.0.0.1', 1234))
    """
    from .errors import InputError

    text = spec.strip()
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise InputError(f"--gdb {spec!r}: expected unix:PATH")
        return text, path
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--gdb {spec!r}: expected HOST:PORT or unix:PATH")
    host = host.strip("[]") or "127.0.0.1"
    return f"{host}:{port}", (host, int(port))


def _checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def _escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def _decode(data: bytes) -> bytes:
    """Undo ``}`` escapes and ``*`` run-length encoding of a reply."""
    if b"}" not in data and b"*" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x7D and i + 1 < n:
            out.append(data[i + 1] ^ 0x20)
            i += 2
        elif b == 0x2A and out and i + 1 < n:          # '*': repeat the previous byte
            count = data[i + 1] - 29
            if count < 0 or len(out) + count > MAX_REPLY:
                raise GdbError("the stub sent a malformed run-length encoding")
            out += bytes((out[-1],)) * count
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


@record
class GdbRemote:
    """A connection to one stub.  Use :meth:`connect`; close with :meth:`close`.

    >>> stub = GdbRemote.connect("127.0.0.1:1234")          # doctest: +SKIP
    >>> stub.read_register("TTBR1_EL1")                      # doctest: +SKIP

    ``packets`` counts the packets sent (tests and benchmarks read it).
    """

    label: str
    sock: socket.socket
    reply_timeout: float = REPLY_TIMEOUT
    features: dict[str, str] = field(default_factory=dict)
    no_ack: bool = False
    packets: int = 0
    packet_log: list[str] | None = None
    _buf: bytearray = field(default_factory=bytearray)
    _registers: dict[str, StubRegister] | None = None
    _quickack: bool = False

    # -- connection --------------------------------------------------------

    @classmethod
    def connect(cls, spec: str, *, timeout: float = CONNECT_TIMEOUT,
                reply_timeout: float = REPLY_TIMEOUT) -> "GdbRemote":
        """Connect and handshake (``qSupported``, no-ack mode when offered).

        :raises GdbError: nothing listening, refused, timed out, or not a GDB stub
        """
        label, addr = parse_target(spec)
        try:
            if isinstance(addr, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            else:
                infos = socket.getaddrinfo(addr[0], addr[1], type=socket.SOCK_STREAM)
                sock = socket.socket(infos[0][0], socket.SOCK_STREAM)
                addr = infos[0][4]
        except (OSError, UnicodeError) as e:
            raise GdbError(f"gdb stub {label}: cannot resolve the address ({e})") from None
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
        except (socket.timeout, TimeoutError):
            sock.close()
            raise GdbError(f"gdb stub {label}: no answer to the connection within {timeout:g} s") from None
        except OSError as e:
            sock.close()
            why = "nothing is listening there" if isinstance(e, (ConnectionRefusedError, FileNotFoundError)) \
                else (e.strerror or str(e))
            raise GdbError(f"gdb stub {label}: cannot connect: {why}") from None
        stub = cls(label, sock, reply_timeout=reply_timeout)
        if not isinstance(addr, str):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stub._quickack = _TCP_QUICKACK is not None
        try:
            stub._handshake()
        except BaseException:
            stub.close()
            raise
        return stub

    def _handshake(self) -> None:
        reply = self.request("qSupported:multiprocess+;xmlRegisters=aarch64;qRelocInsn-")
        for item in reply.decode("ascii", "replace").split(";"):
            if "=" in item:
                k, v = item.split("=", 1)
                self.features[k] = v
            elif item.endswith(("+", "-", "?")):
                self.features[item[:-1]] = item[-1]
        if self.features.get("QStartNoAckMode") == "+":
            if self.request("QStartNoAckMode") == b"OK":
                self.no_ack = True

    @property
    def max_packet(self) -> int:
        """Largest packet the stub accepts/sends (``PacketSize``; 1024 if not said)."""
        try:
            return max(64, min(int(self.features.get("PacketSize", "400"), 16), MAX_REPLY))
        except ValueError:
            return 1024

    def close(self) -> None:
        """Close the socket (no ``D``: QEMU would resume the guest)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "GdbRemote":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- packets -----------------------------------------------------------

    def request(self, packet: str) -> bytes:
        """Send one packet and return the (decoded) reply data.

        :raises GdbError: refused as not read-only, timeout, disconnect, garbage
        """
        if not _read_only(packet):
            raise GdbError(f"internal: refusing to send {packet[:20]!r}: pgwalk sends read-only packets only")
        data = packet.encode("ascii")
        frame = b"$" + _escape(data) + b"#" + _checksum(_escape(data))
        what = packet if len(packet) <= 40 else packet[:40] + "..."
        self.packets += 1
        if self.packet_log is not None:
            self.packet_log.append(packet)
        for _attempt in range(MAX_RETRIES + 1):
            self._send(frame, what)
            if self.no_ack:
                return self._receive(what)
            ack = self._read_ack(what)
            if ack == b"+":
                return self._receive(what)
        raise GdbError(f"gdb stub {self.label}: it rejected {what!r} {MAX_RETRIES + 1} times (bad checksum?)")

    def _send(self, frame: bytes, what: str) -> None:
        try:
            self.sock.sendall(frame)
        except OSError as e:
            raise GdbError(f"gdb stub {self.label}: the connection broke while sending {what!r} "
                           f"({e.strerror or e})") from None

    def _fill(self, what: str, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise GdbError(f"gdb stub {self.label}: no reply to {what!r} within {self.reply_timeout:g} s "
                           "(is the target running?)")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise GdbError(f"gdb stub {self.label}: no reply to {what!r} within {self.reply_timeout:g} s "
                           "(is the target running?)") from None
        except OSError as e:
            raise GdbError(f"gdb stub {self.label}: the connection broke waiting for the reply to {what!r} "
                           f"({e.strerror or e})") from None
        if not chunk:
            raise GdbError(f"gdb stub {self.label}: the stub closed the connection before replying to {what!r}")
        if self._quickack:
            # Acknowledge at once: a stub that writes its "+" and its reply separately without
            # TCP_NODELAY (QEMU's chardev by default) holds the reply until our ACK (Nagle),
            # and a delayed ACK would add milliseconds to every packet.
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except OSError:
                self._quickack = False
        self._buf += chunk

    def _read_ack(self, what: str) -> bytes:
        deadline = time.monotonic() + self.reply_timeout
        skipped = 0
        while True:
            while self._buf:
                b = bytes(self._buf[:1])
                if b in (b"+", b"-"):
                    del self._buf[:1]
                    return b
                if b == b"$":                       # a reply without an ack: accept it
                    return b"+"
                del self._buf[:1]
                skipped += 1
                if skipped > _MAX_GARBAGE:
                    raise GdbError(f"gdb stub {self.label}: garbage instead of an answer to {what!r}")
            self._fill(what, deadline)

    def _receive(self, what: str) -> bytes:
        """The next ``$...#xx`` packet (notifications skipped), acked in ack mode."""
        deadline = time.monotonic() + self.reply_timeout
        for _attempt in range(MAX_RETRIES + 1):
            skipped = 0
            while True:
                start = self._buf.find(b"$")
                pct = self._buf.find(b"%")
                if 0 <= pct < (start if start >= 0 else len(self._buf)):
                    end = self._buf.find(b"#", pct)
                    if end >= 0 and len(self._buf) >= end + 3:      # a notification: drop it
                        del self._buf[:end + 3]
                        continue
                if start < 0:
                    junk = bytes(self._buf).strip(b"+")
                    skipped += len(junk)
                    self._buf.clear()
                    if skipped > _MAX_GARBAGE:
                        raise GdbError(f"gdb stub {self.label}: garbage instead of an answer to {what!r}")
                    self._fill(what, deadline)
                    continue
                if start:
                    skipped += len(bytes(self._buf[:start]).strip(b"+"))
                    del self._buf[:start]
                    if skipped > _MAX_GARBAGE:
                        raise GdbError(f"gdb stub {self.label}: garbage instead of an answer to {what!r}")
                end = self._buf.find(b"#")
                if end >= 0 and len(self._buf) >= end + 3:
                    break
                if len(self._buf) > MAX_REPLY + 4:
                    raise GdbError(f"gdb stub {self.label}: the reply to {what!r} is longer than "
                                   f"{MAX_REPLY} bytes")
                self._fill(what, deadline)
            body = bytes(self._buf[1:end])
            got = bytes(self._buf[end + 1:end + 3])
            del self._buf[:end + 3]
            if self.no_ack or got.lower() == _checksum(body):
                if not self.no_ack:
                    self._send(b"+", what)
                return _decode(body)
            self._send(b"-", what)
        raise GdbError(f"gdb stub {self.label}: replies to {what!r} kept arriving with bad checksums")

    # -- queries -----------------------------------------------------------

    def stop_reason(self) -> bytes:
        """The reply to ``?`` (``S``/``T`` when stopped)."""
        return self.request("?")

    def query_xfer(self, obj: str, annex: str) -> bytes:
        """A whole ``qXfer:<obj>:read:<annex>`` object (bounded by :data:`_MAX_XML`)."""
        out = bytearray()
        chunk = max(64, self.max_packet - 16)
        while True:
            reply = self.request(f"qXfer:{obj}:read:{annex}:{len(out):x},{chunk:x}")
            if not reply:
                raise GdbError(f"gdb stub {self.label}: it does not serve qXfer:{obj}:read")
            if reply[:1] == b"E":
                raise GdbError(f"gdb stub {self.label}: qXfer:{obj}:read:{annex} failed "
                               f"({reply[:8].decode('ascii', 'replace')})")
            kind, payload = reply[:1], reply[1:]
            if kind not in (b"m", b"l"):
                raise GdbError(f"gdb stub {self.label}: unexpected reply to qXfer:{obj}:read")
            out += payload
            if len(out) > _MAX_XML:
                raise GdbError(f"gdb stub {self.label}: the target description is larger than "
                               f"{_MAX_XML >> 20} MiB")
            if kind == b"l" or not payload:
                return bytes(out)

    def registers(self) -> dict[str, StubRegister]:
        """The target description's registers by upper-case name (read once)."""
        if self._registers is None:
            self._registers = self._target_registers()
        return self._registers

    def _target_registers(self) -> dict[str, StubRegister]:
        import xml.etree.ElementTree as ET

        if self.features.get("qXfer:features:read") != "+":
            return {}
        regs: dict[str, StubRegister] = {}
        todo, seen, total = ["target.xml"], set(), 0
        next_num = 0
        while todo:
            annex = todo.pop(0)
            if annex in seen:
                continue
            seen.add(annex)
            if len(seen) > _MAX_XML_FILES:
                raise GdbError(f"gdb stub {self.label}: the target description includes more than "
                               f"{_MAX_XML_FILES} files")
            text = self.query_xfer("features", annex)
            total += len(text)
            if total > _MAX_XML or b"<!ENTITY" in text:
                raise GdbError(f"gdb stub {self.label}: unusable target description {annex}")
            # gdb's documents use xi:include without declaring the prefix (QEMU's do)
            text = text.replace(b"<xi:include", b"<include")
            try:
                root = ET.fromstring(text)
            except ET.ParseError as e:
                raise GdbError(f"gdb stub {self.label}: the target description {annex} is not XML ({e})") from None
            for el in root.iter():
                tag = el.tag.rsplit("}", 1)[-1]
                if tag == "include":
                    href = el.get("href")
                    if href and "/" not in href and href not in seen:
                        todo.append(href)
                elif tag == "reg":
                    name = el.get("name")
                    try:
                        num = int(el.get("regnum", next_num))
                        bits = int(el.get("bitsize", "0"))
                    except ValueError:
                        raise GdbError(f"gdb stub {self.label}: a register of {annex} has a bad "
                                       "regnum or bitsize") from None
                    next_num = num + 1
                    if name and 0 < bits <= 128 and name.upper() not in regs:
                        regs[name.upper()] = StubRegister(name, num, bits)
        return regs

    def read_register(self, reg: StubRegister) -> int | None:
        """One register by ``p``; ``None`` when the stub cannot read it (``E..``, ``x`` digits)."""
        reply = self.request(f"p{reg.regnum:x}")
        if not reply or reply[:1] == b"E" or b"x" in reply:
            return None
        try:
            raw = bytes.fromhex(reply.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise GdbError(f"gdb stub {self.label}: garbage reply to reading register {reg.name}") from None
        if len(raw) != (reg.bitsize + 7) // 8:
            raise GdbError(f"gdb stub {self.label}: register {reg.name} came back with {len(raw)} bytes, "
                           f"expected {(reg.bitsize + 7) // 8}")
        return int.from_bytes(raw, "little")

    def read_memory(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address`` with ``m`` packets no larger than the stub allows.

        :raises GdbError: for a garbage reply; an error reply raises :class:`MemoryReadError`
        """
        out = bytearray()
        step = max(16, ((self.max_packet - 16) // 2) & ~7)        # the reply's hex fits a packet
        while len(out) < size:
            n = min(step, size - len(out))
            at = address + len(out)
            reply = self.request(f"m{at:x},{n:x}")
            if not reply or reply[:1] == b"E":
                raise MemoryReadError(at, reply[:8].decode("ascii", "replace") or "empty reply")
            try:
                data = bytes.fromhex(reply.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise GdbError(f"gdb stub {self.label}: garbage reply to a memory read at {at:#x}") from None
            if not data or len(data) > n:
                raise GdbError(f"gdb stub {self.label}: a memory read at {at:#x} returned "
                               f"{len(data)} bytes for {n}")
            out += data
        return bytes(out)

    def phy_mem_mode(self) -> int | None:
        """QEMU's memory-packet mode (1 physical, 0 virtual), ``None`` if the stub has no such switch."""
        reply = self.request("qqemu.PhyMemMode")
        if reply in (b"0", b"1"):
            return int(reply)
        return None

    def set_phy_mem_mode(self, mode: int) -> bool:
        return self.request(f"Qqemu.PhyMemMode:{int(bool(mode))}") == b"OK"

    # -- threads (QEMU: one per vCPU, in cpu_index order) --------------------

    def threads(self) -> list[str]:
        """The thread ids the stub lists (``qfThreadInfo``, then ``qsThreadInfo`` until ``l``), in its
        order; empty when it does not answer the query.

        :raises GdbError: an id pgwalk could not send back, or an endless list
        """
        out: list[str] = []
        reply = self.request("qfThreadInfo")
        while reply[:1] == b"m":
            for tid in reply[1:].decode("ascii", "replace").split(","):
                tid = tid.strip().lower()
                if not re.fullmatch(_THREAD_ID, tid):
                    raise GdbError(f"gdb stub {self.label}: unusable thread id {tid[:20]!r} in its thread list")
                out.append(tid)
            if len(out) > _MAX_THREADS:
                raise GdbError(f"gdb stub {self.label}: it lists more than {_MAX_THREADS} threads")
            reply = self.request("qsThreadInfo")
        if reply[:1] not in (b"l", b""):
            raise GdbError(f"gdb stub {self.label}: unexpected reply to qfThreadInfo/qsThreadInfo")
        return out

    def current_thread(self) -> str | None:
        """The thread ``qC`` names, or None when the stub does not say (QEMU names the thread that
        stopped, not the one an ``Hg`` selected)."""
        reply = self.request("qC").decode("ascii", "replace").strip().lower()
        if reply.startswith("qc") and re.fullmatch(_THREAD_ID, reply[2:]):
            return reply[2:]
        return None

    def select_thread(self, tid: str) -> bool:
        """``Hg``: the thread later ``p`` and ``m`` packets read; whether the stub accepted it."""
        return self.request(f"Hg{tid}") == b"OK"


class MemoryReadError(GdbError):
    """The stub answered a memory read with an error."""

    def __init__(self, address: int, code: str) -> None:
        super().__init__(f"the stub could not read memory at {address:#x} ({code})")
        self.address = address
        self.code = code


def default_timeout() -> float:
    try:
        return float(os.environ.get("PGWALK_GDB_TIMEOUT", REPLY_TIMEOUT))
    except ValueError:
        return REPLY_TIMEOUT
