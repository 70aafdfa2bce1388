"""A tiny GDB remote stub on loopback, serving a memory image and registers, with misbehaviours.

It answers what pgwalk sends (``?``, ``qSupported``, ``qXfer:features:read``, ``p``, ``m``,
``qqemu.PhyMemMode``/``Qqemu.PhyMemMode``) the way QEMU 7.2 does, logs every packet, and
can be told to misbehave: ``mode`` is one of

* ``"ok"``: a well-behaved stopped target;
* ``"running"``: ``?`` gets ``OK`` (a non-stop target with nothing stopped);
* ``"silent"``: ``?`` gets no reply at all (an all-stop target that is running);
* ``"disconnect"``: the connection closes after ``cut`` memory reads (3: the first table block, then mid-walk);
* ``"no-sysregs"``: the target description has only the core registers;
* ``"no-phys"``: no ``qqemu.PhyMemMode`` (a non-QEMU stub);
* ``"garbage"``: memory reads get non-hex bytes;
* ``"noise"``: endless bytes that are not packets;
* ``"no-threads"``: no answer to ``qfThreadInfo`` (a stub without a thread list).

``cpus`` (optional) gives the registers of CPUs 1, 2, ... (CPU 0's are ``registers``, and
each has the same names): the stub lists one thread per CPU (``p01.01``, ``p01.02``, ...
as QEMU in multiprocess mode), ``Hg`` selects the CPU whose registers ``p`` reads, and
``qC`` names the selected one.
"""

from __future__ import annotations

import socket
import threading

_CORE = ('<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd">'
         '<feature name="org.gnu.gdb.aarch64.core">'
         + "".join(f'<reg name="x{i}" bitsize="64"/>' for i in range(31))
         + '<reg name="sp" bitsize="64"/><reg name="pc" bitsize="64"/><reg name="cpsr" bitsize="32"/></feature>')


def _sum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


class FakeStub:
    def __init__(self, memory: dict[int, bytes], registers: dict[str, int], mode: str = "ok", cut: int = 3,
                 unix_path: str | None = None, cpus: list[dict[str, int]] | None = None) -> None:
        self.memory = memory                      # base -> bytes
        self.cpu_registers = [registers, *(cpus or [])]
        self.registers = registers                # gdb name -> value, of the selected CPU
        self.selected = 0
        self.mode = mode
        self.cut = cut
        self.log: list[str] = []
        self.phy_mode = 0
        self.mem_reads = 0
        if unix_path:
            self.server = socket.socket(socket.AF_UNIX)
            self.server.bind(unix_path)
            self.address = f"unix:{unix_path}"
        else:
            self.server = socket.socket()
            self.server.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.server.listen(4)
        self.server.settimeout(10)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    # -- the target ----------------------------------------------------------

    def _sysreg_xml(self) -> str:
        regs = "".join(f'<reg name="{n}" bitsize="64" regnum="{100 + i}" group="cp_regs"/>'
                       for i, n in enumerate(self.registers) if n != "cpsr")
        return f'<?xml version="1.0"?><feature name="org.qemu.gdb.arm.sys.regs">{regs}</feature>'

    def _target_xml(self) -> str:
        inc = '<xi:include href="aarch64-core.xml"/>'
        if self.mode != "no-sysregs":
            inc += '<xi:include href="system-registers.xml"/>'
        return f'<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>aarch64</architecture>{inc}</target>'

    def _read(self, addr: int, n: int) -> bytes:
        for base, data in self.memory.items():
            if base <= addr and addr + n <= base + len(data):
                return data[addr - base:addr - base + n]
        if self.phy_mode:
            # QEMU reads what is not RAM as zeros in physical mode (the image's bytes where it overlaps)
            return bytes(self._byte(addr + i) for i in range(n))
        return b""

    def _byte(self, a: int) -> int:
        for base, data in self.memory.items():
            if base <= a < base + len(data):
                return data[a - base]
        return 0

    def answer(self, pkt: str) -> bytes | None:
        if pkt == "?":
            if self.mode == "running":
                return b"OK"
            if self.mode == "silent":
                return None
            return b"T05thread:p01.01;"
        if pkt.startswith("qSupported"):
            return b"PacketSize=1000;qXfer:features:read+"
        if pkt.startswith("qXfer:features:read:"):
            annex, span = pkt[len("qXfer:features:read:"):].rsplit(":", 1)
            off, length = (int(x, 16) for x in span.split(","))
            doc = {"target.xml": self._target_xml(), "aarch64-core.xml": _CORE,
                   "system-registers.xml": self._sysreg_xml()}.get(annex)
            if doc is None:
                return b"E00"
            part = doc.encode()[off:off + length]
            return (b"l" if off + length >= len(doc) else b"m") + part
        if pkt.startswith("p"):
            num = int(pkt[1:], 16)
            if num == 33:
                return (self.registers.get("cpsr", 0x3c5)).to_bytes(4, "little").hex().encode()
            names = [n for n in self.registers if n != "cpsr"]
            if 100 <= num < 100 + len(names):
                return self.registers[names[num - 100]].to_bytes(8, "little").hex().encode()
            if num < 33:
                return bytes(8).hex().encode()
            return b"E14"
        if pkt.startswith("m"):
            self.mem_reads += 1
            if self.mode == "garbage":
                return b"zz" * 8
            addr, n = (int(x, 16) for x in pkt[1:].split(","))
            data = self._read(addr, n)
            return data.hex().encode() if data else b"E14"
        if pkt in ("qfThreadInfo", "qsThreadInfo"):
            if self.mode == "no-threads":
                return b""
            if pkt == "qsThreadInfo":
                return b"l"
            return b"m" + ",".join(self._tid(i) for i in range(len(self.cpu_registers))).encode()
        if pkt == "qC":
            return b"QC" + self._tid(self.selected).encode()
        if pkt.startswith("Hg"):
            tids = [self._tid(i) for i in range(len(self.cpu_registers))]
            if pkt[2:] not in tids:
                return b"E22"
            self.selected = tids.index(pkt[2:])
            self.registers = self.cpu_registers[self.selected]
            return b"OK"
        if pkt == "qqemu.PhyMemMode":
            return b"" if self.mode == "no-phys" else str(self.phy_mode).encode()
        if pkt.startswith("Qqemu.PhyMemMode:"):
            if self.mode == "no-phys":
                return b""
            self.phy_mode = int(pkt.split(":")[1])
            return b"OK"
        return b""                                # unsupported, as the protocol says

    @staticmethod
    def _tid(i: int) -> str:
        return f"p01.{i + 1:02x}"

    # -- the wire --------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        if self.mode == "noise":
            try:
                while True:
                    conn.sendall(b"not a packet " * 100)
            except OSError:
                return
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while True:
                buf = buf.lstrip(b"+-")
                start = buf.find(b"$")
                end = buf.find(b"#", start)
                if start < 0 or end < 0 or len(buf) < end + 3:
                    break
                body = buf[start + 1:end]
                buf = buf[end + 3:]
                pkt = body.decode()
                self.log.append(pkt)
                conn.sendall(b"+")
                if self.mode == "disconnect" and pkt.startswith("m") and self.mem_reads >= self.cut:
                    return
                reply = self.answer(pkt)
                if reply is None:
                    continue
                conn.sendall(b"$" + reply + b"#" + _sum(reply))

    def close(self) -> None:
        self._stop = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)        # wakes the accept
        except OSError:
            pass
        self.server.close()
        self.thread.join(timeout=5)
