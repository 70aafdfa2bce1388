"""Throughput benchmark: ``pgwalk decode-esr --log`` over a 100 MB synthetic log.

The log is ordinary kernel chatter (timestamps, USB, network, audit lines,
some with words like "far" or "panic" that make the scanner look closer) with
an exception report every ~256 KB, cycling through several producers' forms
(Linux Mem abort blocks and one-liners, KVM, U-Boot, Xen, TF-A, OP-TEE).
The issue's budget is 100 MB in under 10 s.  Run it directly::

    python tests/perf/bench_log_scan.py [--mb 100] [--budget 10]

It prints the size, the wall time of the CLI (as a subprocess, output to
/dev/null), the reports found and MB/s, and the peak resident set of the
process; it exits 1 when over the budget.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

CHATTER = [
    "[{t:12.6f}] usb 1-1: new high-speed USB device number {i} using xhci-hcd\n",
    "[{t:12.6f}] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\n",
    "[{t:12.6f}] audit: type=1400 audit({t:.3f}:{i}): apparmor=\"STATUS\" operation=\"profile_load\"\n",
    "[{t:12.6f}] EXT4-fs (mmcblk0p2): mounted filesystem with ordered data mode. Quota mode: none.\n",
    "[{t:12.6f}] systemd[1]: Started Journal Service. So far so good, {i} units\n",
    "[{t:12.6f}] random: crng init done; kernel panic_on_warn is 0\n",
    "[{t:12.6f}] brcmfmac: brcmf_c_preinit_dcmds: Firmware: BCM4345/6 wl0: Feb 27 2018 03:15:32\n",
]

REPORTS = [
    "[{t:12.6f}] Unable to handle kernel paging request at virtual address ffff800008a1c000\n"
    "[{t:12.6f}] Mem abort info:\n[{t:12.6f}]   ESR = 0x0000000096000047\n"
    "[{t:12.6f}]   EC = 0x25: DABT (current EL), IL = 32 bits\n[{t:12.6f}]   SET = 0, FnV = 0\n"
    "[{t:12.6f}]   EA = 0, S1PTW = 0\n[{t:12.6f}]   FSC = 0x07: level 3 translation fault\n"
    "[{t:12.6f}] Data abort info:\n[{t:12.6f}]   ISV = 0, ISS = 0x00000047, ISS2 = 0x00000000\n"
    "[{t:12.6f}]   CM = 0, WnR = 1, TnD = 0, TagAccess = 0\n"
    "[{t:12.6f}]   GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0\n"
    "[{t:12.6f}] swapper pgtable: 4k pages, 48-bit VAs, pgdp=0000000041858000\n"
    "[{t:12.6f}] [ffff800008a1c000] pgd=100000004ffff003, p4d=100000004ffff003, pud=100000004fffe003, "
    "pmd=10000000480b0003, pte=0000000000000000\n"
    "[{t:12.6f}] Internal error: Oops: 0000000096000047 [#1] SMP\n"
    "[{t:12.6f}] ---[ end trace 0000000000000000 ]---\n",
    "[{t:12.6f}] a.out[{i}]: unhandled level 2 translation fault (11) at 0x0000000000000000, esr 0x92000046\n",
    "[{t:12.6f}] kvm [{i}]: Unsupported FSC: EC=0x24 xFSC=0x21 ESR_EL2=0x92000061\n",
    "\"Synchronous Abort\" handler, esr 0x96000007, far 0x0\nelr: 000000000008a1d0 lr : 000000000008a1c4 "
    "(reloc)\n",
    "(XEN) traps.c:2025:d0v0 HSR=0x93830007 pc=0xffffff80080a5bfc gva=0xffffff800800d004 gpa=0x000000f1110004\n",
    "ERROR:   exception reason=1 syndrome=0x92000210\n",
    "E/TC:0 0 Core data-abort at address 0x0 (translation fault)\n"
    "E/TC:0 0  esr 0x96000006  ttbr0 0x0e1c6000   ttbr1 0x00000000   cidr 0x0\n",
]


def write_log(path: str, mb: int) -> int:
    """Write ``mb`` MB of log; returns the number of reports written."""
    target = mb << 20
    written = n_reports = i = 0
    t = 1.0
    with open(path, "w") as fh:
        while written < target:
            lines = []
            size = 0
            while size < 256 << 10:
                line = CHATTER[i % len(CHATTER)].format(t=t, i=i)
                lines.append(line)
                size += len(line)
                i += 1
                t += 0.000731
            lines.append(REPORTS[n_reports % len(REPORTS)].format(t=t, i=i))
            n_reports += 1
            block = "".join(lines)
            fh.write(block)
            written += len(block)
    return n_reports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds")
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.log")
        n_written = write_log(path, ns.mb)
        size = os.path.getsize(path)
        code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code, "decode-esr", "--log", path, "--short"],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = len(r.stdout.splitlines())
    print(f"decode-esr --log: {size / 1e6:.1f} MB in {dt:.2f} s = {size / 1e6 / dt:.1f} MB/s; "
          f"{found} of {n_written} reports found; peak RSS {peak / 1024:.0f} MiB; exit {r.returncode}")
    if found != n_written:
        print(f"MISSED {n_written - found} reports", file=sys.stderr)
        return 1
    return 0 if dt <= ns.budget else 1


if __name__ == "__main__":
    sys.exit(main())
