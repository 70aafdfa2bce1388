"""A real QEMU with a sample's tables loaded and its MMU on, for the live-target tests.

:func:`start_guest` starts ``qemu-system-aarch64 -M virt,virtualization=on -cpu max
-display none -S -gdb tcp:127.0.0.1:PORT`` with the sample image at its base
(``-device loader``), a tiny EL2 program that writes the sample's registers and
ERETs to EL1 at an executable address of the sample, and a page of ``b .`` there.
The guest is run through the HMP monitor until EL1 spins, then stopped; the test
then talks to the gdbstub.  The instruction words are assembled here (MOVZ/MOVK,
MSR, ISB, ERET, B) from the Arm ARM encodings; no cross compiler.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RAM_BASE = 0x40000000
RAM_SIZE = 2 << 30
CODE_PA = 0x40100000            # the EL2 program (MMU off at EL2: physical)
SPSR_EL1H_MASKED = 0x3C5        # EL1h, DAIF masked

ISB = 0xD5033FDF
ERET = 0xD69F03E0
B_SELF = 0x14000000


def qemu_binary() -> str | None:
    return os.environ.get("PGWALK_QEMU") or shutil.which("qemu-system-aarch64")


def movz_movk(rd: int, value: int) -> list[int]:
    """MOVZ then MOVKs loading a 64-bit immediate into Xrd."""
    words = [0xD2800000 | ((value & 0xFFFF) << 5) | rd]
    for hw in range(1, 4):
        imm = (value >> (16 * hw)) & 0xFFFF
        if imm:
            words.append(0xF2800000 | (hw << 21) | (imm << 5) | rd)
    return words


def msr(name: str, rt: int) -> int:
    """MSR <name>, Xrt (op0 3)."""
    from pgwalk.sysregs import sysreg_encoding

    op0, op1, crn, crm, op2 = sysreg_encoding(name)
    return 0xD5100000 | ((op0 - 2) << 19) | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt


def program(regs: dict[str, int], entry_va: int) -> bytes:
    order = ["MAIR_EL1", "TCR_EL1", "TTBR0_EL1", "TTBR1_EL1", "VTCR_EL2", "VTTBR_EL2", "HCR_EL2"]
    words: list[int] = []
    vals = dict(regs)
    vals["HCR_EL2"] = vals.get("HCR_EL2", 0) | (1 << 31)         # RW: EL1 is AArch64
    vals["VBAR_EL1"] = entry_va & ~0xFFF
    vals["SPSR_EL2"] = SPSR_EL1H_MASKED
    vals["ELR_EL2"] = entry_va
    for name in order + ["VBAR_EL1", "SPSR_EL2", "ELR_EL2"]:
        if name in vals:
            words += movz_movk(0, vals[name])
            words.append(msr(name, 0))
    words.append(ISB)
    words += movz_movk(0, vals.get("SCTLR_EL1", 0) | (1 << 23))     # SPAN: exceptions leave PAN alone
    words += [msr("SCTLR_EL1", 0), ISB, ERET, B_SELF]
    return b"".join(w.to_bytes(4, "little") for w in words)


def elf_image(segments: list[tuple[int, bytes]], entry: int) -> bytes:
    """A minimal ELF64 AArch64 executable with one PT_LOAD per (physical address, bytes).

    Given to ``-kernel``: QEMU loads a non-Linux ELF where its segments say and, since the
    segments start at the base of RAM, puts no device tree there (``-device loader`` would
    clash with the DTB QEMU places at the base of RAM when it boots no kernel).
    """
    import struct

    ehsize, phsize = 64, 56
    off = ehsize + phsize * len(segments)
    phdrs, blobs = b"", b""
    for pa, data in segments:
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, off + len(blobs), pa, pa, len(data), len(data), 0x1000)
        blobs += data + bytes(-len(data) % 16)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, entry, ehsize, 0, 0, ehsize, phsize,
                             len(segments), 0, 0, 0)
    return eh + phdrs + blobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_files(name: str) -> tuple[Path, int, dict[str, int]]:
    from pgwalk.regs import load_register_file

    regs_path = SAMPLES / f"{name}.regs.json"
    base = int(json.loads(regs_path.read_text())["_image"].rsplit("@", 1)[1], 16)
    return SAMPLES / f"{name}.img", base, load_register_file(regs_path)


def exec_address(name: str, candidates: list[int]) -> tuple[int, int] | None:
    """A page-aligned VA the sample maps executable at EL1, with its PA inside RAM and clear of
    the image and the program: (VA, PA)."""
    from pgwalk.images import open_image
    from pgwalk.params import setup_from_registers
    from pgwalk.perms import Access
    from pgwalk.walk import translate

    img, base, regs = sample_files(name)
    size = img.stat().st_size
    with open_image(f"{img}@{base:#x}") as mem:
        setup = setup_from_registers(regs)
        for va in candidates:
            va &= ~0xFFF
            t = translate(setup, mem, va, access=Access.EXEC, el=1)
            if not t.ok or t.pa is None:
                continue
            pa = t.pa
            if (RAM_BASE <= pa and pa + 0x1000 <= RAM_BASE + RAM_SIZE and not base <= pa < base + size
                    and not CODE_PA <= pa < CODE_PA + 0x1000):
                return va, pa
    return None


class Hmp:
    """QEMU's human monitor on a Unix socket."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._until_prompt()

    def _until_prompt(self) -> str:
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("monitor closed")
            buf += chunk
        return buf.decode(errors="replace")

    def cmd(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        text = self._until_prompt()
        # the monitor echoes the command (with terminal escapes); keep the lines after it
        lines = text.replace("\r", "").split("\n")
        return "\n".join(l for l in lines[1:] if not l.startswith("(qemu)")).strip()

    def gva2gpa(self, va: int) -> int | None:
        out = self.cmd(f"gva2gpa {va:#x}")
        if "gpa:" in out:
            return int(out.split("gpa:")[1].split()[0], 16)
        return None

    def close(self) -> None:
        self.sock.close()


@dataclass
class Guest:
    name: str
    proc: subprocess.Popen
    hmp: Hmp
    port: int
    tmp: tempfile.TemporaryDirectory
    entry_va: int

    @property
    def gdb(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self.hmp.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.tmp.cleanup()


def start_guest(name: str, candidates: list[int]) -> Guest:
    qemu = qemu_binary()
    assert qemu
    img, base, regs = sample_files(name)
    found = exec_address(name, candidates)
    # no executable page: EL1 takes prefetch aborts at an unmapped vector for ever (still EL1)
    entry_va, entry_pa = found if found else (0xDEAD0000, None)
    segments = [(base, img.read_bytes()), (CODE_PA, program(regs, entry_va))]
    if entry_pa is not None:
        segments.append((entry_pa & ~0xFFF, B_SELF.to_bytes(4, "little") * 1024))
    tmp = tempfile.TemporaryDirectory(prefix="pgwalk-qemu-")
    kernel = Path(tmp.name) / "guest.elf"
    kernel.write_bytes(elf_image(segments, CODE_PA))
    mon = os.path.join(tmp.name, "hmp.sock")
    port = free_port()
    cmd = [qemu, "-M", "virt,virtualization=on", "-cpu", "max", "-m", f"{RAM_SIZE >> 20}M",
           "-display", "none", "-S", "-gdb", f"tcp:127.0.0.1:{port}", "-nodefaults", "-serial", "none",
           "-monitor", f"unix:{mon},server,nowait",
           "-kernel", str(kernel)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        hmp = Hmp(mon)
        guest = Guest(name, proc, hmp, port, tmp, entry_va)
        hmp.cmd("cont")
        deadline = time.monotonic() + 20
        while True:
            time.sleep(0.05)
            hmp.cmd("stop")
            regs_text = hmp.cmd("info registers")
            pc = int(regs_text.split("PC=")[1].split()[0], 16) if "PC=" in regs_text else None
            if "EL1h" in regs_text and (pc == entry_va or entry_pa is None):
                return guest
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the guest did not reach its spin loop (PC {pc}): {regs_text[:400]}")
            hmp.cmd("cont")
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        tmp.cleanup()
        raise
