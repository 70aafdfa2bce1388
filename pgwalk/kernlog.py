"""Find and check AArch64 exception reports in any text: kernel logs, firmware consoles, mails.

:func:`scan_stream` reads a log as a stream (``dmesg -w``, a console
capture, a bug-tracker paste, a mail with ``>`` quoting and
quoted-printable, a crash report) and yields one :class:`KernelReport` per
exception report as soon as the report is complete; memory is bounded by
the longest report.  :func:`parse_log` and :func:`parse_text` collect them.

Lines are normalised first (:class:`_Normaliser`): printk timestamps and
caller ids, syslog/journal/logcat/vendor prefixes, quote markers, HTML and
Markdown line ends are removed (prefixes that name a producer, ``(XEN)``,
``E/TC:``, ``MON|``, are kept as a hint), quoted-printable is decoded, and
lines wrapped by a mailer or a terminal are joined again.

Linux's own reports (3.x to 7.x) are read by a state machine that keeps each
report's lines together:

* kernel faults: ``Unable to handle kernel ... at virtual address ...``,
  the ``Mem abort info:`` / ``Data abort info:`` block (with or without its
  ``ESR =`` line), the ``show_pte()`` walk, ``Internal error: ...: <esr>``,
  ``Unhandled fault: ... (0x...) at 0x...``, ``Synchronous External Abort:``,
  the stack-overflow ``ESR: 0x... -- <class>``;
* user faults: ``comm[pid]: unhandled exception: ...`` and the older
  ``unhandled level 2 translation fault (11) at 0x..., esr 0x...``;
* ``SError Interrupt on CPU0, code 0x...`` and ``Bad mode in <handler>
  handler detected on CPUn, code 0x... -- <class>`` (the class comes from
  the code).

Every other producer's form is one :class:`Recogniser` in a table (KVM,
Xen, seL4, Microkit, Fiasco, SO3, U-Boot, TF-A, OP-TEE, EDK2, FreeBSD, XNU,
gdb, QEMU, vendor SErrors, and any register dump with an ``ESR``/``esr``/
``syndrome`` value); FAR/ELR/HPFAR/PAR printed up to a few lines before or
after the syndrome, and the producer's own decode of it, are collected with
it.

Each report is decoded with :func:`pgwalk.esr.decode_esr` and compared with
the log's own decode: every number the log printed must match the ESR,
Linux's names must be ones Linux uses for those values, and any producer's
fault and class words must agree with the Arm ARM
(:func:`claim_disagreement`: an iOS crash report calling an SVC an "Address
size fault", old kernels printing ``unknown 43`` for a level -1 translation
fault).  Lines that look like part of a report but cannot be read, and
reports that stop early, are recorded in ``problems``; the rest of the log
is still processed.

The logged walk (pgdp, address, descriptors) is kept on the report, and
:func:`compare_logged_walk` checks it against a walk done by a callable, so
the walker can be plugged in.
"""

from __future__ import annotations

import collections
import re
from typing import Callable, Iterable, Iterator, Mapping

from .logstream import MAX_LINE

from .formats import esr as F
from .faults import FaultType
from .esr import (EsrReport, LinuxStyle, decode_esr, fsc_disagreement, fsc_text, linux_ec_name, linux_name_claim,
                  linux_fault_name_variants, linux_mem_abort_lines, LINUX_UNRECOGNIZED_EC)
from .records import field, record

__all__ = ["LoggedWalk", "KernelReport", "parse_log", "parse_text", "scan_stream", "LogScanner", "Recogniser",
           "claim_disagreement", "compare_logged_walk", "linux_level_map", "linux_walk_registers", "WalkComparison",
           "strip_prefix"]


# --------------------------------------------------------------------------- line prefixes
_PREFIXES = [
    re.compile(r"^[ \t]*(?:>[ \t]?)+"),                                             # mail quoting
    re.compile(r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?|"               # syslog / journal
               r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
               r"(?:\s+\S+)??\s+(?:kernel|[\w.@/-]{1,40}(?:\[\d+\])?):\s?"),
    re.compile(r"^[ \t]*kernel:\s?"),
    re.compile(r"^(?:[ \t]*\|)+[ \t]*(?=\S)"),                                         # table cells pasted
    re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?[ \t]*\|[ \t]*"),
    re.compile(r"^[ \t]*-?\(\d{1,4}\)\[\d+:[^\]\n]{1,40}\]"),                          # MediaTek (cpu)[pid:comm]
    re.compile(r"^[a-z]+\s*:[a-z]+\s*: ?"),                                           # dmesg -x
    re.compile(r"^[ \t]*<\d>"),                                                       # printk level
    re.compile(r"^[ \t]*\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?(?:\[[^\]\[]{1,32}\]){0,3}(?: |$)"),   # [ ts][ T1], Android
    re.compile(r"^[ \t]*\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}\](?: |$)"),  # dmesg -T
    re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[^:]{0,40}?\s*: ?"),      # logcat
]
_TS = re.compile(r"\[\s*(\d+\.\d+)\]")
_BR = re.compile(r"\s*<br\s*/?>$", re.I)
_ANY_PREFIX = re.compile("|".join(f"(?:{rx.pattern})" for rx in _PREFIXES))
#: prefixes that also name who printed the line
_HINT_PREFIXES = [
    (re.compile(r"^\(XEN\)(?: |$)"), "xen"),
    (re.compile(r"^[EWIDF]/(?:TC|TA|LD|TEE):[^ ]{0,12}(?: \d+)?(?: |$)"), "op-tee"),
    (re.compile(r"^MON\|(?:ERROR|INFO|WARN\w*|DEBUG): ?"), "microkit"),
    (re.compile(r"^(?:NOTICE|ERROR|WARNING|INFO|VERBOSE):\s+"), "tf-a"),
    (re.compile(r"^(?:\[\d\d:\d\d:\d\d\.\d{3},\d{3}\] )?<(?:err|inf|wrn|dbg)> \w+: "), "zephyr"),
    (re.compile(r"^E: (?=\s*(?:ELR_ELn|ESR_ELn|FAR_ELn|SPSR_ELn|TPIDRRO|x\d+:|>>> ZEPHYR|Faulting|Current thread))"),
     "zephyr"),
]


def strip_prefix(line: str) -> tuple[str, float | None, bool]:
    """Remove quote markers, syslog/journal prefixes, printk levels and timestamps.

    Returns ``(content, timestamp, had_prefix)``; the content keeps the
    kernel's own indentation (``"  ESR = ..."``).
    """
    content, ts, had, _hint = _strip(line)
    return content, ts, had


def _strip(line: str) -> tuple[str, float | None, bool, str | None]:
    ts = None
    had = False
    hint = None
    changed = True
    s = line.rstrip("\r\n")
    while changed:
        changed = False
        m = _ANY_PREFIX.match(s)
        while m and m.end() > 0:
            t = _TS.match(m.group(0).strip())
            if t:
                ts = float(t.group(1))
            s = s[m.end():]
            had = changed = True
            m = _ANY_PREFIX.match(s)
        if hint is None and s[:1] in "(EWIDFMNV[<":
            for rx, who in _HINT_PREFIXES:
                m = rx.match(s)
                if m:
                    s, hint = s[m.end():], who
                    had = changed = True
                    break
    s = s.rstrip()
    if s.endswith(" \\"):                        # a Markdown hard line break pasted with the log
        s = s[:-2].rstrip()
    elif s.endswith(">") and _BR.search(s):     # an HTML one
        s = _BR.sub("", s)
    return s, ts, had, hint


# --------------------------------------------------------------------------- report objects
@record(compiled_init=True)
class LoggedWalk:
    """What ``show_pte()`` printed."""

    line: int
    pgtable: str | None = None          # "swapper" or "user"
    page_kb: int | None = None
    va_bits: int | None = None
    pgdp: int | None = None             # physical address of the pgd (pgdp=%016lx, 5.x and later)
    pgd_pointer: str | None = None      # older "pgd = %p" / "pgdp = %p": a VA or a hashed pointer
    address: int | None = None
    entries: list[tuple[str, int]] = field(default_factory=list)   # ("pgd", value), ...
    message: str | None = None          # "address between user and kernel address ranges", ...

    def to_json(self) -> dict:
        return {"line": self.line, "pgtable": self.pgtable, "page_kb": self.page_kb, "va_bits": self.va_bits,
                "pgdp": self.pgdp, "pgdp_hex": None if self.pgdp is None else f"{self.pgdp:#x}",
                "pgd_pointer": self.pgd_pointer, "address": self.address,
                "address_hex": None if self.address is None else f"{self.address:#018x}",
                "entries": [{"level": n, "value": v, "hex": f"{v:#018x}"} for n, v in self.entries],
                "message": self.message}


@record(compiled_init=True)
class KernelReport:
    """One fault report found in a log."""

    index: int
    kind: str                           # kernel_fault, user_fault, serror, bad_mode, internal_error, exception
    first_line: int
    last_line: int
    headline: str
    timestamp: float | None = None
    reason: str | None = None           # "paging request", "NULL pointer dereference", ...
    address: int | None = None
    esr: int | None = None
    esr_source: str | None = None
    logged: dict = field(default_factory=dict)
    block: list[tuple[int, str]] = field(default_factory=list)     # (line number, content) of the abort block
    style: dict = field(default_factory=dict)
    walk: LoggedWalk | None = None
    oops: dict | None = None
    task: dict | None = None
    decode: EsrReport | None = None
    disagreements: list[str] = field(default_factory=list)
    format_mismatches: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duplicate_of: int | None = None
    producer: str = "linux"             # who printed it: linux, kvm, xen, u-boot, tf-a, op-tee, xnu, ...
    format: str = ""                    # the message form (see the recogniser tables)
    el: int | None = None               # the ESR's exception level, when the report says
    registers: dict = field(default_factory=dict)                  # FAR, ELR, HPFAR, PAR, IPA printed with it
    claims: list[str] = field(default_factory=list)                # the producer's own words for the exception
    esr_text: str | None = None
    _esr_values: list[tuple[str, int, int]] = field(default_factory=list, repr=False)   # (source, value, digits)

    @property
    def pgdp(self) -> int | None:
        return self.walk.pgdp if self.walk else None

    @property
    def descriptors(self) -> list[tuple[str, int]]:
        return list(self.walk.entries) if self.walk else []

    def expected_block(self) -> list[str]:
        if self.esr is None or not self.block:
            return []
        return linux_mem_abort_lines(self.esr, _style_from(self.style))

    def to_json(self) -> dict:
        return {
            "index": self.index, "kind": self.kind, "first_line": self.first_line, "last_line": self.last_line,
            "headline": self.headline, "timestamp": self.timestamp, "reason": self.reason,
            "address": self.address, "address_hex": None if self.address is None else f"{self.address:#018x}",
            "esr": self.esr, "esr_hex": None if self.esr is None else f"{self.esr:#018x}",
            "esr_source": self.esr_source, "logged": dict(self.logged), "style": dict(self.style),
            "walk": self.walk.to_json() if self.walk else None,
            "pgdp": self.pgdp, "oops": self.oops, "task": self.task,
            "decode": self.decode.to_json() if self.decode else None,
            "disagreements": list(self.disagreements), "format_mismatches": list(self.format_mismatches),
            "problems": list(self.problems), "notes": list(self.notes), "duplicate_of": self.duplicate_of,
            "block": [content for _, content in self.block],
            "producer": self.producer, "format": self.format, "el": self.el,
            "registers": {k: {"value": v, "hex": f"{v:#018x}"} for k, v in self.registers.items()},
            "claims": list(self.claims), "esr_text": self.esr_text,
        }


# --------------------------------------------------------------------------- patterns
_H = r"[0-9a-fA-F]"
RX = {
    "unable": re.compile(rf"U?nable to handle kernel (?P<reason>.{{1,200}}?) at virtual address (?P<addr>{_H}+)\b"),
    "unable_partial": re.compile(r"Unable to handle kernel .{0,200}(?:\bat|\bvirtual|\baddress)\s*$"),
    "unhandled_at": re.compile(rf"Unhandled fault at 0x(?P<addr>{_H}+)\s*$"),
    "unhandled_old": re.compile(rf"(?:Unhandled fault|Synchronous External Abort): (?P<name>.{{1,200}}?) "
                                rf"\(0x(?P<esr>{_H}+)\) at 0x(?P<addr>{_H}+)"),
    "bad_stack": re.compile(rf"^ESR: 0x(?P<esr>{_H}+) -- (?P<ec>.{{1,100}}?)\s*$"),
    "user": re.compile(rf"(?P<comm>\S{{1,64}})\[(?P<pid>\d+)\]: unhandled exception: (?:(?P<ec>[^,]{{1,100}}?), "
                       rf"ESR 0x(?P<esr>{_H}+), )?(?P<what>.{{1,300}}?)(?: in (?P<where>\S{{1,300}}))?\s*$"),
    "user_old": re.compile(rf"(?P<comm>\S{{1,64}})\[(?P<pid>\d+)\]: unhandled (?P<what>.{{1,200}}?) \((?P<sig>\d+)\) "
                           rf"at 0x(?P<addr>{_H}+), esr 0x(?P<esr>{_H}+)"),
    "serror": re.compile(rf"SError Interrupt on CPU(?P<cpu>\d+), code 0x(?P<esr>{_H}+) -- (?P<ec>.{{1,200}}?)\s*$"),
    "badmode": re.compile(rf"Bad mode in (?P<handler>.{{1,100}}?) handler detected(?: on CPU(?P<cpu>\d+))?, "
                          rf"code 0x(?P<esr>{_H}+) -- (?P<ec>.{{1,200}}?)\s*$"),
    "internal": re.compile(rf"Internal error: (?P<what>.{{0,200}}?): (?:(?P<code>{_H}+) \[#(?P<n>\d+)\](?P<flags>.*)|"
                           rf"(?P<code8>{_H}{{8,16}})(?:\s.*)?)$"),
    "mem_abort": re.compile(r"^\s*Mem abort info:\s*$"),
    "data_abort": re.compile(r"^\s*Data abort info:\s*$"),
    "esr": re.compile(rf"^\s*ESR = 0x(?P<esr>{_H}+)\s*$"),
    "ec": re.compile(rf"^\s*EC = 0x(?P<ec>{_H}+): (?P<name>.+), IL = (?P<il>\d+) bits\s*$"),
    "eclass": re.compile(r"^\s*Exception class = (?P<name>.+), IL = (?P<il>\d+) bits\s*$"),
    "set": re.compile(r"^\s*SET = (?P<SET>\d+), FnV = (?P<FnV>\d+)\s*$"),
    "ea": re.compile(r"^\s*EA = (?P<EA>\d+), S1PTW = (?P<S1PTW>\d+)\s*$"),
    "fsc": re.compile(rf"^\s*FSC = 0x(?P<fsc>{_H}+): (?P<name>.+?)\s*$"),
    "isv0": re.compile(rf"^\s*ISV = 0, ISS = 0x(?P<iss>{_H}+)(?:, ISS2 = 0x(?P<iss2>{_H}+))?\s*$"),
    "size": re.compile(r"^\s*Access size = (?P<size>\d+) byte\(s\)\s*$"),
    "sse": re.compile(r"^\s*SSE = (?P<SSE>\d+), SRT = (?P<SRT>\d+)\s*$"),
    "sf": re.compile(r"^\s*SF = (?P<SF>\d+), AR = (?P<AR>\d+)\s*$"),
    "cm": re.compile(r"^\s*CM = (?P<CM>\d+), WnR = (?P<WnR>\d+)(?:, TnD = (?P<TnD>\d+), "
                     r"TagAccess = (?P<TagAccess>\d+))?\s*$"),
    "gcs": re.compile(r"^\s*GCS = (?P<GCS>-?\d+), Overlay = (?P<Overlay>\d+), DirtyBit = (?P<DirtyBit>\d+), "
                      r"Xs = (?P<Xs>\d+)\s*$"),
    "pgtable": re.compile(rf"^\s*(?P<who>swapper|user) pgtable: (?P<kb>\d+)k pages, (?P<vab>\d+)-bit VAs, "
                          rf"(?:pgdp=(?P<pgdp>{_H}+)|pgdp? = (?P<ptr>\S+))\s*$"),
    "pgd_old": re.compile(r"^\s*pgd = (?P<ptr>\S+)\s*$"),
    "walk": re.compile(rf"^\s*\[(?P<addr>{_H}+)\] (?P<rest>\*?pgd=.*)$"),
    "walk_msg": re.compile(rf"^\s*\[(?P<addr>{_H}+)\] (?P<msg>address between user and kernel address ranges|"
                           r"user address but active_mm is swapper)\s*$"),
    "end": re.compile(r"---\[ end (?:trace|Kernel panic)"),
}
_ENTRY = re.compile(rf"\*?(?P<name>pgd|p4d|pud|pmd|pte)=(?P<val>{_H}+)")
#: bytes that can start or continue a report; lines without one are skipped while no report is open
_TRIGGER: tuple[bytes, ...] = (
    b"nable to handle", b"nhandled", b"Internal error", b"SError", b"Bad mode", b"ESR", b"esr", b"HSR", b"yndrome",
    b"bort", b"xception", b"fsr=", b"vm fault", b"pfa=",
)
#: a line starting like one of the block lines, but not parsed by its pattern: garbled
_BLOCK_KEYS = re.compile(r"^\s*(ESR =|EC =|Exception class =|SET =|EA =|FSC =|ISV =|Access size =|SSE =|SF =|"
                         r"CM =|GCS =|(?:swapper|user) pgtable:|\[[0-9a-fA-F]+\] \*?pgd)")
_BLOCK_KINDS = ("esr", "ec", "eclass", "set", "ea", "fsc", "data_abort", "isv0", "size", "sse", "sf", "cm", "gcs")
_MAX_GAP = 60        # lines of other output tolerated inside one report
#: longest line matched as one line (printk lines are at most ~1 KiB; longer ones are junk, cut into
#: pieces of this size, so that a damaged log with megabytes between newlines stays linear to scan)
_MAX_LINE = 4096


def _style_from(style: Mapping) -> LinuxStyle:
    return LinuxStyle(version=tuple(style.get("version", (99, 0))), esr_digits=style.get("esr_digits", 16),
                      ec_hex=style.get("ec_hex", True), fsc_line=style.get("fsc_line", True),
                      iss2=style.get("iss2", True), esr_line=style.get("esr_line", True))


# --------------------------------------------------------------------------- the parser
_QP_SOFT = re.compile(r"=$")
_QP_CODE = re.compile(r"=([0-9A-F]{2})")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_WRAP_TAIL = re.compile(r"(?i)(?:\besr|\bcode|\bsyndrome|\bat|\baddress|\bfar|\belr|\bhsr)(?:_el[123nx])?\s*[:=]?\s*"
                        r"(0x)?$")
_WRAP_HEAD = re.compile(rf"^(?:0x)?{_H}+\b")
_START_WORDS = re.compile(r"(?i)unhandled|unable to handle|abort|exception|serror|bad mode|panic|esr|syndrome|fault")


class _Normaliser:
    """Raw lines -> logical lines: prefixes removed, quoted-printable decoded, wrapping undone.

    One logical line is held back until the next line shows whether it
    continues it; :meth:`flush` hands it over (at the end, or when a pipe is
    idle).
    """

    def __init__(self) -> None:
        self.pending: tuple[int, str, float | None, str | None] | None = None
        self.qp = False                  # the text is quoted-printable (seen =3D / =20)
        self._qp_head: tuple[int, str] | None = None

    def feed(self, n: int, raw: str) -> list[tuple[int, str, float | None, str | None]]:
        if not self.qp and ("=3D" in raw or raw.endswith("=20") or
                            (70 <= len(raw) <= 78 and raw.endswith("=") and raw[-2:-1] not in ("=", " ", ""))):
            self.qp = True
        if self.qp:
            if self._qp_head is not None:                              # a soft line break before
                n0, head = self._qp_head
                self._qp_head = None
                raw = head + _QUOTE.sub("", raw, count=1) if len(head) + len(raw) <= 2 * MAX_LINE else raw
                n = n0
            if raw.endswith("=") and not raw.endswith("=="):
                self._qp_head = (n, raw[:-1])
                return []
            if "=" in raw:
                raw = _QP_CODE.sub(lambda m: chr(int(m.group(1), 16)), raw)
        content, ts, _had, hint = _strip(raw)
        out = []
        prev = self.pending
        if prev is not None and content.strip() and len(prev[1]) + len(content) <= MAX_LINE:
            if ts is None:
                joined = _join(prev[1], content.strip())
            else:                             # a printk continuation: only a lone number after "esr"
                joined = _join_number(prev[1], content.strip())
            if joined is not None:
                self.pending = (prev[0], joined, prev[2], prev[3])
                return out
        if prev is not None:
            out.append(prev)
        if _may_continue(content):
            self.pending = (n, content, ts, hint)
        else:
            self.pending = None
            out.append((n, content, ts, hint))
        return out

    def flush(self) -> list[tuple[int, str, float | None, str | None]]:
        out = []
        if self._qp_head is not None:
            n, head = self._qp_head
            self._qp_head = None
            out += self.feed(n, head)
        if self.pending is not None:
            out.append(self.pending)
            self.pending = None
        return out


_CONTINUED = re.compile(r"nable to handle|pgd=|pgtable:|active_mm is swappe?$|user and kernel$|ESR$|\]: unhandled |"
                        r"xception.{0,80}(?:--|\u2013)$|Unsupported FSC|"
                        rf"\(0x{_H}+\)$|handler detected|HSR=0x")


def _may_continue(line: str) -> bool:
    """Could the next line continue ``line`` (see :func:`_join`)?  If not, it is handed on at once."""
    return bool(_CONTINUED.search(line) or _WRAP_TAIL.search(line[-24:]))


def _join_number(prev: str, cont: str) -> str | None:
    m = _WRAP_TAIL.search(prev[-24:])
    if m and re.fullmatch(rf"(?:0x)?{_H}{{1,16}}", cont) and _START_WORDS.search(prev):
        return prev + (cont[2:] if cont.startswith("0x") else cont) if m.group(1) else prev.rstrip() + " " + cont
    return None


def _join(prev: str, cont: str) -> str | None:
    """``prev`` and its continuation ``cont`` as one line, if ``cont`` continues it."""
    if RX["unable_partial"].search(prev) and re.match(rf"^(?:virtual )?(?:address )?{_H}+\b", cont):
        return prev.rstrip() + " " + cont
    if "nable to handle kernel" in prev and " at virtual address " not in prev and len(prev) < 600 and \
            re.search(r"[a-z]$", prev) and re.match(r"^[a-z]", cont):
        return prev + cont                                            # cut mid-word by a terminal
    if RX["unhandled_old"].search(prev + " at 0x0") and re.search(rf"\(0x{_H}+\)$", prev) and \
            re.match(r"^at 0x", cont):
        return prev + " " + cont
    if re.search(r"xception.{0,80}(?:--|\u2013)$", prev) and len(cont) < 80:
        return prev + " " + cont                                      # "... -- " / "Unknown/Uncategorized"
    if "Unsupported FSC:" in prev and re.match(r"^(?:xFSC|ESR_EL2)=", cont):
        return prev + " " + cont
    if "HSR=0x" in prev and re.match(r"^(?:pc|gva|gpa)=0x", cont):
        return prev + " " + cont                                      # Xen's trap line, wrapped
    if re.search(r"Bad mode in .{1,60} handler detected(?: on CPU\d+)?,?$", prev) and cont.startswith("code 0x"):
        return prev.rstrip(",") + ", " + cont
    if RX["walk"].match(prev) and re.match(r"^,?\s*\*?(?:p4d|pud|pmd|pte)=", cont):
        return prev.rstrip().rstrip(",") + ", " + cont.lstrip(", ")
    if RX["walk"].match(prev) and re.search(rf"=({_H}{{1,15}})$", prev) and re.match(rf"^{_H}+(?:,|$)", cont):
        return prev + cont
    if re.search(r"pgtable: .{0,200}pgdp?\s*=?$", prev) and re.match(rf"^=?\s*{_H}+$", cont):
        return prev.rstrip() + cont.lstrip("= ")
    if re.search(r"user address but active_mm is swappe?$|address between user and kernel$", prev):
        return prev + ("" if prev.endswith("swappe") else " ") + cont
    if prev.endswith("ESR") and RX["user"].search(prev) is None and \
            re.search(r"unhandled exception: .{0,300}ESR$", prev):
        return prev + " " + cont
    if prev.rstrip().endswith(",") and "unhandled" in prev and re.match(r"^esr\b", cont):
        return prev.rstrip() + " " + cont                             # "... at 0x0," / "esr 0x92000046"
    if "]: unhandled " in prev and RX["user_old"].search(prev) is None and RX["user"].search(prev) is None and \
            len(prev) < 400 and re.match(r"^(?:esr|at|0x|\(\d)", cont):
        return prev.rstrip() + " " + cont                             # a mail-wrapped user fault line
    m = _WRAP_TAIL.search(prev[-24:])
    if m and _WRAP_HEAD.match(cont) and _START_WORDS.search(prev):
        if m.group(1):                                                # "esr 0x" / "92000046"
            return prev + (cont[2:] if cont.startswith("0x") else cont)
        return prev.rstrip() + " " + cont
    return None


class LogScanner:
    """Finds reports in a log fed line by line; finished reports come out as soon as they end.

    >>> s = LogScanner()
    >>> [r.esr for r in s.feed(1, '"Synchronous Abort" handler, esr 0x96000007, far 0x0')] + \\
    ...     [r.esr for r in s.close()]
    [2516582407]
    """

    def __init__(self) -> None:
        self._norm = _Normaliser()
        self._cur: KernelReport | None = None
        self._gap = 0
        self._count = 0
        self._seen: dict[tuple, int] = {}
        self._other = _OtherProducers(self)

    # -- the stream side
    @property
    def idle(self) -> bool:
        """Nothing is held: lines without a trigger word cannot change anything."""
        return self._cur is None and self._norm.pending is None and self._norm._qp_head is None and \
            self._other.idle

    def feed(self, n: int, raw: str) -> list[KernelReport]:
        """One physical line; returns the reports it completed."""
        out: list[KernelReport] = []
        for line in self._norm.feed(n, raw):
            self._line(*line, out)
        return out

    def flush(self) -> list[KernelReport]:
        """Finish what is held (the input paused or ended)."""
        out: list[KernelReport] = []
        for line in self._norm.flush():
            self._line(*line, out)
        self._finish(out)
        self._other.finish(out)
        return out

    close = flush

    # -- reports
    def _emit(self, r: KernelReport, out: list[KernelReport]) -> None:
        r.index = self._count
        self._count += 1
        if r.timestamp is not None:
            key = (r.timestamp, r.kind, r.esr, r.address, r.headline)
            if key in self._seen:
                r.duplicate_of = self._seen[key]
            elif len(self._seen) < 100_000:
                self._seen[key] = r.index
        out.append(r)

    def _finish(self, out: list[KernelReport]) -> None:
        if self._cur is not None:
            r, self._cur = self._cur, None
            _finalize(r)
            self._emit(r, out)

    def _start(self, kind: str, fmt: str, n: int, content: str, ts: float | None,
               out: list[KernelReport]) -> KernelReport:
        self._finish(out)
        self._other.finish(out)
        self._cur = KernelReport(-1, kind, n, n, content.strip()[:300], ts, format=fmt)
        self._gap = 0
        return self._cur

    def _line(self, n: int, s: str, ts: float | None, hint: str | None, out: list[KernelReport]) -> None:
        if not s.strip():
            if self._cur is not None:
                self._gap += 1
                if self._gap > _MAX_GAP:
                    self._finish(out)
            self._other.gap(out)
            return
        if hint is None and self._linux_line(n, s, ts, out):
            return
        self._other.line(n, s, ts, hint, out)

    def _linux_line(self, n: int, s: str, ts: float | None, out: list[KernelReport]) -> bool:
        """Linux's report lines; True when the line was Linux's."""
        cur = self._cur
        # ---- report starts
        if "nable to handle" in s:
            m = RX["unable"].search(s)
            if m and cur is not None and ts is not None and cur.timestamp is not None and ts < cur.timestamp and \
                    cur.address is None and cur.kind in ("internal_error", "kernel_fault") and cur.producer == "linux":
                r = cur                                        # the report's lines pasted in reverse order
                r.kind, r.format, r.headline = "kernel_fault", "unable-to-handle", s[m.start():].strip()[:300]
                r.notes.append("the report's lines are in reverse order (timestamps decrease)")
                r.last_line = n
                self._gap = 0
            elif m:
                r = self._start("kernel_fault", "unable-to-handle", n, s[m.start():], ts, out)
            if m:
                r.reason = m.group("reason")
                r.address = _hex64(r, m.group("addr"), "address", n)
                if linux_name_claim(r.reason) is not None:        # do_mem_abort(): the fault_info name
                    r.logged["fault_name"] = r.reason
                return True
            if RX["unable_partial"].search(s):
                r = self._start("kernel_fault", "unable-to-handle", n, s.strip(), ts, out)
                r.problems.append(f"line {n}: 'Unable to handle kernel' line without an address (truncated?)")
                return True
        if "]: unhandled " in s:
            m = RX["user"].search(s) if "]: unhandled exception:" in s else None
            if m:
                r = self._start("user_fault", "user-unhandled-exception", n, s[m.start():], ts, out)
                r.task = {"comm": m.group("comm"), "pid": int(m.group("pid")), "where": m.group("where")}
                r.reason = m.group("what")
                if m.group("ec"):
                    r.logged["EC_name"] = m.group("ec")
                r.logged["fault_name"] = m.group("what")
                if m.group("esr"):
                    _note_esr(r, "unhandled exception line", m.group("esr"))
                else:
                    r.notes.append("the kernel prints no ESR for this exception")
                return True
            m = RX["user_old"].search(s)
            if m:
                r = self._start("user_fault", "user-unhandled-fault", n, s[m.start():], ts, out)
                r.task = {"comm": m.group("comm"), "pid": int(m.group("pid")), "signal": int(m.group("sig"))}
                r.reason = m.group("what")
                r.logged["fault_name"] = m.group("what")
                r.address = _hex64(r, m.group("addr"), "address", n)
                _note_esr(r, "unhandled fault line", m.group("esr"))
                return True
        if "SError" in s or "Bad mode" in s:
            m = RX["serror"].search(s)
            if m:
                r = self._start("serror", "serror-interrupt", n, s[m.start():], ts, out)
                r.logged["EC_name"] = m.group("ec")
                r.task = {"cpu": int(m.group("cpu"))}
                _note_esr(r, "SError line", m.group("esr"))
                return True
            m = RX["badmode"].search(s)
            if m:
                serror = "Error" in m.group("handler")
                r = self._start("serror" if serror else "bad_mode", "bad-mode", n, s[m.start():], ts, out)
                r.logged["EC_name"] = m.group("ec")
                r.logged["handler"] = m.group("handler")
                if m.group("cpu") is not None:
                    r.task = {"cpu": int(m.group("cpu"))}
                _note_esr(r, "bad mode line", m.group("esr"))
                return True
        if "Unhandled fault" in s or "Synchronous External Abort" in s:
            m = RX["unhandled_old"].search(s)
            if m:
                r = self._start("kernel_fault", "unhandled-fault" if s[m.start()] == "U" else
                                "synchronous-external-abort", n, s[m.start():], ts, out)
                r.reason = m.group("name")
                r.logged["fault_name"] = m.group("name")
                r.address = _hex64(r, m.group("addr"), "address", n)
                _note_esr(r, "unhandled fault line", m.group("esr"))
                return True
            m = RX["unhandled_at"].search(s)
            if m:
                r = self._start("kernel_fault", "unhandled-fault", n, s[m.start():], ts, out)
                r.reason = "unhandled fault"
                r.address = _hex64(r, m.group("addr"), "address", n)
                return True
        if s.lstrip().startswith("ESR: 0x"):
            m = RX["bad_stack"].match(s.lstrip())
            if m:
                r = self._start("kernel_fault", "bad-stack", n, s, ts, out)
                r.reason = "kernel stack overflow"
                r.logged["EC_name"] = m.group("ec")
                _note_esr(r, "ESR line", m.group("esr"))
                return True
        backwards = cur is not None and ts is not None and cur.timestamp is not None and ts < cur.timestamp
        if "Mem abort info:" in s and RX["mem_abort"].match(s) and (cur is None or cur.block and not backwards):
            r = self._start("kernel_fault", "mem-abort-info", n, s.strip(), ts, out)
            r.problems.append(f"line {n}: 'Mem abort info:' without an 'Unable to handle kernel' line before it")
            cur = r
        if "Internal error:" in s:
            m = RX["internal"].search(s)
            if m:
                if cur is None or cur.oops is not None or cur.kind != "kernel_fault":
                    cur = self._start("internal_error", "internal-error", n, s[m.start():], ts, out)
                code = m.group("code") or m.group("code8")
                cur.oops = {"what": m.group("what"), "code": _hex64(cur, code, "Oops code", n) or 0,
                            "code_digits": len(code), "count": int(m.group("n")) if m.group("n") else None,
                            "flags": (m.group("flags") or "").strip(), "line": n}
                cur.last_line = n
                self._gap = 0
                return True
        if cur is None:
            return False
        # ---- lines inside a report
        if RX["end"].search(s):
            cur.last_line = n
            self._finish(out)
            return True
        if cur.kind == "kernel_fault" and cur.format == "bad-stack" and s.lstrip().startswith("FAR: 0x"):
            value = s.lstrip()[7:].split()[0] if s.lstrip()[7:].split() else ""
            cur.address = _hex64(cur, value, "FAR", n) if re.fullmatch(rf"{_H}{{1,16}}", value) else None
            cur.last_line = n
            self._gap = 0
            return True
        if _inside(cur, n, s):
            cur.last_line = n
            self._gap = 0
            if len(cur.block) > _MAX_BLOCK or len(cur.problems) > _MAX_BLOCK:
                cur.problems.append(f"line {n}: the report goes on for more than {_MAX_BLOCK} block lines; "
                                    "cut here (a damaged or repeated log?)")
                self._finish(out)
            return True
        self._gap += 1
        if self._gap > _MAX_GAP:
            self._finish(out)
        return False


_MAX_BLOCK = 200      # lines kept per report: a report is bounded whatever the log does


def scan_stream(stream, *, idle: float | None = None, head: bytes = b"") -> Iterator[KernelReport]:
    """Every report in a binary stream, each yielded as soon as it is complete.

    Memory is bounded by the longest report, not the log.  ``idle``: on a
    pipe, finish the report being read when no line arrived for that many
    seconds.  ``head``: bytes already read from the stream, read first.

    :raises LogStreamError: for input that is not text (a long run of NUL bytes).
    """
    from .logstream import LineSource
    scanner = LogScanner()
    src = LineSource(stream, idle=idle, trigger=_TRIGGER, want_all=lambda: not scanner.idle, head=head)
    for item in src:
        if item is None:
            yield from scanner.flush()
            continue
        yield from scanner.feed(*item)
    yield from scanner.flush()


def parse_text(text: str) -> list[KernelReport]:
    """Find every arm64 exception report in ``text``."""
    import io
    return list(scan_stream(io.BytesIO(text.encode("utf-8", errors="replace"))))


# --------------------------------------------------------------------------- other producers
_X = rf"(?:0x)?{_H}+"


@record(frozen=True, compiled_init=True)
class Recogniser:
    """One message form that carries a syndrome: who prints it, its name, its pattern.

    Named groups: ``esr`` (hex) or ``esr_dec`` (decimal); optional ``far``,
    ``elr``, ``hpfar``, ``par``, ``ipa`` (hex), ``claim`` (the producer's own
    words for it), ``ec``/``fsc``/``iss`` (numbers the producer decoded),
    ``el`` (the exception level in a register name).  ``needs`` is a substring
    tested before the pattern; ``producer`` None means "from the line's prefix
    or the text around it".
    """

    producer: str | None
    format: str
    rx: re.Pattern
    needs: tuple[str, ...] | None = None
    el: int | None = None


def _r(producer, fmt, pattern, needs=None, el=None, flags=0) -> Recogniser:
    if isinstance(needs, str):
        needs = (needs,)
    return Recogniser(producer, fmt, re.compile(pattern, flags), needs, el)


_RECOGNISERS: tuple[Recogniser, ...] = (
    # hypervisors
    _r("kvm", "kvm-unsupported-fsc", rf"Unsupported FSC: EC=0x(?P<ec>{_H}+) xFSC=0x(?P<fsc>{_H}+) "
       rf"ESR_EL2=0x(?P<esr>{_H}+)", "Unsupported FSC", 2),
    _r("kvm", "kvm-hyp-panic", rf"\bPS:{_H}+ PC:(?P<elr>{_H}+) ESR:(?P<esr>{_H}+)\b", "ESR:", 2),
    _r("kvm", "kvm-unknown-exception-class", rf"Unknown exception class: (?:esr|hsr): (?:0x|#)?(?P<esr>{_H}+)"
       r"(?:\s*(?:--|\u2013)\s*(?P<ec_name>.{1,80}?))?\s*$", "Unknown exception class", 2),
    _r("xen", "xen-trap", rf"\bHSR=0x(?P<esr>{_H}+)(?: pc=0x(?P<elr>{_H}+))?(?: gva=0x(?P<far>{_H}+))?"
       rf"(?: gpa=0x(?P<ipa>{_H}+))?", "HSR=", 2),
    _r("sel4", "sel4-vm-fault", rf"vm fault on (?P<claim>data|code|instruction) at address 0x(?P<far>{_H}+) "
       rf"with status 0x(?P<esr>{_H}+)", "vm fault on"),
    _r("fiasco", "fiasco-trap-state", rf"EXCEPTION: \((?P<ec>{_H}{{1,2}})\) (?P<claim>[^=]{{0,40}}?)\s*"
       rf"pfa=(?P<far>{_H}+), error=(?P<esr>{_H}+)", "pfa="),
    _r("so3", "so3-process-fault", rf"faulted at address 0x(?P<far>{_H}+) \(pc=0x(?P<elr>{_H}+), "
       rf"ESR=0x(?P<esr>{_H}+)\)", "faulted at"),
    _r("microkit", "microkit-vm-fault", rf"(?:\bip=(?:0x)?(?P<elr>{_H}+)\s+)?fault_addr=(?:0x)?(?P<far>{_H}+)\s+"
       rf"fsr=(?:0x)?(?P<esr>{_H}+)"
       r"(?:\s+\((?P<claim>[^)]{1,60})\))?", "fsr="),
    # firmware and trusted OSes
    _r("u-boot", "uboot-exception-handler", rf"\"(?P<claim>Synchronous Abort|Error|IRQ|FIQ)\" handler, "
       rf"esr 0x(?P<esr>{_H}+)(?:, far 0x(?P<far>{_H}+))?", "handler, esr"),
    _r("tf-a", "tfa-exception-reason", rf"exception reason=(?P<reason>\d+) syndrome=0x(?P<esr>{_H}+)", "syndrome=",
       3),
    _r("op-tee", "optee-abort-dump", rf"\besr 0x(?P<esr>{_H}+)\s+ttbr0 0x", "ttbr0"),
    _r("edk2", "edk2-register-dump", rf"\bESR 0x(?P<esr>{_H}+)\s+FAR 0x(?P<far>{_H}+)", "FAR 0x"),
    _r("freebsd", "freebsd-unknown-exception", rf"Unknown (?P<claim>kernel|userland) exception (?:0x)?"
       rf"(?P<ec>{_H}+) esr_el1 (?:0x)?(?P<esr>{_H}+)", "exception"),
    _r("xnu", "xnu-ips-json", r"\"esr\"\s*:\s*\{\s*\"value\"\s*:\s*(?P<esr_dec>\d{1,20})\s*"
       r"(?:,\s*\"description\"\s*:\s*\"(?P<claim>[^\"]{0,100})\")?", "\"esr\""),
    _r("gdb", "gdb-info-registers", rf"^\s*(?P<key>ESR_EL(?P<el>[123]))\s+0x(?P<esr>{_H}+)\s+(?:-?\d+|0x{_H}+)"
       r"(?:\s+(?:==|->|<-|#|//)\s*(?:[01]{6}\s+)?(?P<claim>.{3,80}?))?\s*$", "ESR_EL"),
    _r("qemu", "qemu-d-int", rf"^\.\.\.with ESR 0x(?P<ec>{_H}+)/0x(?P<esr>{_H}+)", "with ESR"),
    _r("linux", "serror-vendor", rf"SError.{{0,120}}?\besr\s*[=:]\s*(?:0x)?(?P<esr>{_H}+)\b", "SError"),
    # any register dump: ESR_EL1: ..., esr_el3 = 0x..., ESR_ELn: ..., esr: ..., syndrome 0x...
    _r(None, "register-dump", rf"(?<![A-Za-z0-9_])(?P<key>ESR|esr|Esr|HSR|hsr|[Ss]yndrome)(?:_(?:EL|el)(?P<el>[123nx]))?"
       rf"(?![A-Za-z0-9_])\s*(?:[:=]\s*|\s+)(?:0x(?P<esr>{_H}{{1,16}})|(?P<bare>{_H}{{1,16}}))(?![0-9a-zA-Z_])"
       rf"(?:\s*(?:--|->|=>|<-|==|:)?\s+(?!(?:FAR|ELR|PAR|HPFAR|SPSR|FPSR|ESR|SP|PC|LR|CPSR|X\d+)\b)"
       rf"(?P<claim>[A-Z(][A-Za-z0-9 ()/,;.-]{{2,80}}?)(?=\s{{2,}}|\s*$))?",
       ("ESR", "esr", "Esr", "HSR", "hsr", "yndrome")),
)

#: every word some recogniser needs (a line with none of them is no recogniser's)
_NEEDS_WORDS = tuple(dict.fromkeys(w for rec in _RECOGNISERS for w in rec.needs or ()))
assert all(rec.needs for rec in _RECOGNISERS)

# FAR/ELR/HPFAR/PAR printed next to a syndrome (before or after it)
_REGISTER = re.compile(rf"(?<![A-Za-z0-9_])(?P<name>FAR|far|Far|DFAR|IFAR|ELR|elr|Elr|HPFAR|hpfar|PAR|par|PC|pc)"
                       rf"(?:_(?:EL|el)(?P<el>[123nx]))?(?![A-Za-z0-9_])"
                       rf"(?:\s*[:=]\s*|\s+(?=0x))(?:0x)?(?P<val>{_H}{{1,16}})(?![0-9a-zA-Z_])")
_REGISTER_JSON = re.compile(r"\"(?P<name>far|elr|pc)\"\s*:\s*\{\s*\"value\"\s*:\s*(?P<dec>\d{1,20})")
# the producer's own decode printed next to the syndrome
_CLAIMS: tuple[tuple[str | None, re.Pattern], ...] = (                # printed after the syndrome
    ("edk2", re.compile(rf"ESR : EC 0x(?P<ec>{_H}+)\s+IL 0x(?P<il>{_H}+)\s+ISS 0x(?P<iss>{_H}+)")),
    ("edk2", re.compile(r"^\s*(?P<claim>(?:Data|Instruction) abort: .{3,80}?)\s*$")),
    ("microkit", re.compile(rf"\bec: 0x(?P<ec>{_H}+)\s+(?P<claim>[A-Z][A-Za-z ]{{3,80}}?)\s+il: (?P<il>\d)"
                            rf"(?:\s+iss: 0x(?P<iss>{_H}+))?")),
    (None, re.compile(rf"(?i)^\s*ec:\s*0x(?P<ec>{_H}+)(?:\s+\((?P<claim>[^)]{{3,80}})\))?\s*$")),
    (None, re.compile(rf"(?i)^\s*il:\s*(?:0x)?(?P<il>{_H}+)\s*$")),
    (None, re.compile(rf"(?i)^\s*iss:\s*0x(?P<iss>{_H}+)\s*$")),
    ("freebsd", re.compile(r"^panic: (?P<claim>Unhandled System Error|.{0,40}\babort\b.{0,40})$")),
)
_CLAIMS_BEFORE: tuple[tuple[str | None, re.Pattern], ...] = (         # printed before it: they open a report
    ("op-tee", re.compile(rf"(?P<claim>(?:Core|User mode|User TA) (?:data|prefetch)-abort) at address "
                          rf"0x(?P<far>{_H}+)(?: \((?P<claim2>[^)]{{1,60}})\))?")),
    ("qemu", re.compile(r"^Taking exception \d+ \[(?P<claim>[^\]]{1,40})\]")),
    ("qemu", re.compile(r"^\.\.\.from EL\d to EL(?P<to_el>\d)")),
    ("xnu", re.compile(r"panic\(cpu \d+ caller 0x[0-9a-f]+\): \"?(?P<claim>Kernel (?:data|instruction) abort)")),
    ("freebsd", re.compile(r"^\s*(?P<claim>Fatal (?:data|instruction) abort):?\s*$")),
)
# words around a report that name its producer (remembered for a while)
_MARKERS: tuple[tuple[str, re.Pattern], ...] = (
    ("edk2", re.compile(r"Synchronous Exception at 0x|ArmPkg|DxeCore|UEFI|Image Base")),
    ("tf-a", re.compile(r"Unhandled Exception (?:in|from) EL3|Unhandled Exception from lower EL|BL31|BL2:|TF-A|"
                        r"Trusted Firmware")),
    ("cheribsd", re.compile(r"CheriBSD|capability (?:fault|exception)|CHERI")),
    ("freebsd", re.compile(r"Fatal (?:data|instruction) abort|KDB: enter|^db> |cpuid = \d|FreeBSD")),
    ("xnu", re.compile(r"panic\(cpu \d+ caller|Exception Type:\s+EXC_|\"bug_type\"|Darwin Kernel|"
                       r"ARM Thread State|XNU|iBoot")),
    ("qemu", re.compile(r"Taking exception \d+ \[|^\.\.\.with ESR")),
    ("sel4", re.compile(r"seL4|<<seL4")),
    ("microkit", re.compile(r"MON\||microkit", re.I)),
    ("fiasco", re.compile(r"Fiasco|L4Re|\bjdb\b|KERNEL\d*:")),
    ("gunyah", re.compile(r"[Gg]unyah|GUNYAH")),
    ("zephyr", re.compile(r"Zephyr|ZEPHYR|Booting Zephyr|>>> ZEPHYR FATAL|<err> os:")),
    ("u-boot", re.compile(r"U-Boot \d|resetting \.\.\.|\(reloc\)")),
    ("xen", re.compile(r"\(XEN\)|Xen-\d")),
    ("op-tee", re.compile(r"OP-TEE|optee")),
    ("kvm", re.compile(r"\bkvm \[\d+\]:|HYP panic|hyp panic")),
    ("linux", re.compile(r"Linux version|Call trace:|Modules linked in:|Kernel panic - not syncing")),
)
#: producers whose "pc" in an exception dump is the ELR of the exception
_PC_IS_ELR = frozenset({"xnu", "tf-a", "freebsd", "cheribsd", "edk2", "fiasco"})
_SYNDROME_CONTEXT = re.compile(r"(?i)abort|exception|trap|\bEL[123]\b|\bHSR\b|\bESR\b")
_KEY_PRODUCER = {"ESR_ELn": "zephyr", "esr_el3": "tf-a", "ESR_EL3": "tf-a"}
_CONTEXT_LINES = 400          # how long a producer marker names the reports after it
_RING_LINES = 200             # lines (of those looked at) searched back for a producer marker
_RECENT_LINES = 60            # FAR/ELR/claims printed up to this many lines before a syndrome belong to it
_AFTER_LINES = 40             # ... and after it


class _OtherProducers:
    """Reports of producers other than Linux's oops code: one syndrome each, registers around it."""

    def __init__(self, owner: "LogScanner") -> None:
        self._owner = owner
        self.cur: KernelReport | None = None
        self._since = 0
        self._recent: dict[str, tuple[int, int, str | None]] = {}     # name -> (line, value, el)
        self._recent_claims: list[tuple[int, str, str]] = []           # (line, producer, text)
        self._recent_logged: dict[str, tuple[int, int]] = {}
        self._context: tuple[int, str] | None = None
        self._ring: collections.deque[tuple[int, str]] = collections.deque(maxlen=_RING_LINES)

    @property
    def idle(self) -> bool:
        return self.cur is None

    def gap(self, out: list[KernelReport]) -> None:
        if self.cur is not None:
            self._since += 1
            if self._since > _AFTER_LINES:
                self.finish(out)

    def finish(self, out: list[KernelReport]) -> None:
        if self.cur is not None:
            r, self.cur = self.cur, None
            _finalize(r)
            self._owner._emit(r, out)
        self._recent.clear()
        self._recent_claims.clear()
        self._recent_logged.clear()

    def line(self, n: int, s: str, ts: float | None, hint: str | None, out: list[KernelReport]) -> None:
        if hint is not None:
            self._context = (n, hint)
        self._ring.append((n, s))
        present = {w for w in _NEEDS_WORDS if w in s}
        for rec in _RECOGNISERS if present else ():
            if rec.needs is not None and present.isdisjoint(rec.needs):
                continue
            m = rec.rx.search(s)
            if m is None or not self._syndrome(rec, m, n, s, ts, hint, out):
                continue
            return
        if self._attach(n, s, out, hint):
            return
        self.gap(out)

    def _marker(self, n: int) -> str | None:
        """The producer named by the nearest marker line before line ``n`` (or on it)."""
        for ln, text in reversed(self._ring):
            if n - ln > _CONTEXT_LINES:
                break
            for producer, rx in _MARKERS:
                if rx.search(text):
                    return producer
        return None

    # -- a syndrome
    def _syndrome(self, rec: Recogniser, m: re.Match, n: int, s: str, ts: float | None, hint: str | None,
                  out: list[KernelReport]) -> bool:
        g = m.groupdict()
        text = g.get("esr") or g.get("bare") or g.get("esr_dec")
        if text is None:
            return False
        if g.get("bare") is not None and (not any(c.isdigit() for c in text) or
                                          (len(text) < 7 and not g.get("el"))):
            return False                                     # a word ("ESR : EC") or a small number, not an ESR
        key = g.get("key")
        if key in ("syndrome", "Syndrome") and rec.producer is None and not _SYNDROME_CONTEXT.search(s):
            return False                                     # an ECC syndrome (EDAC), not an exception's
        value = int(text, 10 if g.get("esr_dec") else 16)
        if value >> 64:
            return False
        producer = rec.producer
        if producer is None:
            producer = hint
            if producer is None and key and g.get("el"):
                producer = _KEY_PRODUCER.get(f"{key}_EL{g['el']}") or _KEY_PRODUCER.get(f"{key}_el{g['el']}")
            if producer is None:
                producer = self._marker(n)
            if producer is None and self._context is not None and n - self._context[0] <= _CONTEXT_LINES:
                producer = self._context[1]
            producer = producer or "unknown"
        el = rec.el
        if g.get("el") and g["el"] in "123":
            el = int(g["el"])
        elif key in ("HSR", "hsr"):
            el = 2
        prev = self.cur
        self._owner._finish(out)
        recent, claims, logged = dict(self._recent), list(self._recent_claims), dict(self._recent_logged)
        if prev is not None:
            self.finish(out)
            recent, claims, logged = {}, [], {}
        self._recent.clear()
        self._recent_claims.clear()
        self._recent_logged.clear()
        r = KernelReport(-1, "exception", n, n, s.strip()[:300], ts, producer=producer, format=rec.format, el=el)
        r.esr_text = m.group(0)[:120]
        r._esr_values.append((f"{rec.format} line", value, len(text) if not g.get("esr_dec") else 16))
        for name, (ln, val, rel) in recent.items():
            if name == "PC":
                if producer not in _PC_IS_ELR:
                    continue
                name = "ELR"
            if n - ln <= _RECENT_LINES and (rel is None or el is None or rel == str(el) or rel in "nx"):
                r.registers.setdefault(name, val)
        for ln, who, claim in claims:
            if n - ln <= _RECENT_LINES:
                r.claims.append(claim)
        for k, (ln, val) in logged.items():
            if n - ln <= _RECENT_LINES:
                if k == "to_el":
                    r.el = r.el or val
                else:
                    r.logged[k] = val
        for name in ("far", "elr", "hpfar", "par", "ipa"):
            if g.get(name):
                r.registers[name.upper()] = int(g[name], 16)
        for name in ("ec", "fsc", "iss"):
            if g.get(name):
                r.logged[name.upper()] = int(g[name], 16)
        if g.get("claim") and g["claim"].strip():
            r.claims.append(g["claim"].strip())
        if g.get("ec_name"):
            r.logged["EC_name"] = g["ec_name"].strip()
        if g.get("reason") is not None:
            r.logged["exception_reason"] = int(g["reason"])
        self.cur = r
        self._since = 0
        rest = s[:m.start()] + " " * (m.end() - m.start()) + s[m.end():]
        self._attach(n, rest)
        return True

    # -- registers and claims around a syndrome
    def _attach(self, n: int, s: str, out: list[KernelReport] | None = None, hint: str | None = None) -> bool:
        found = False
        if out is not None:
            for who, rx in _CLAIMS_BEFORE if self.cur is not None else ():
                if rx.search(s):                   # the start of the next report's text
                    self.finish(out)
                    break
        cur = self.cur
        if cur is not None and hint is not None and hint != cur.producer:
            if out is not None:
                self.finish(out)
            cur = None
        low = s.lower()
        if not ("far" in low or "elr" in low or "par" in low or "pc" in low or "abort" in low or "ec" in low or
                "exception" in low or "...from" in low or "panic" in low or "iss" in low or "il:" in low):
            return False
        for m in _REGISTER.finditer(s):
            name = m.group("name").upper()
            if name in ("DFAR", "IFAR"):                 # AArch32 names of FAR_EL1's halves (QEMU prints them)
                name = "FAR"
            el = m.group("el")
            val = int(m.group("val"), 16)
            if name == "PC" and cur is not None:
                if cur.producer not in _PC_IS_ELR:
                    continue
                name = "ELR"
            if cur is not None:
                if name not in cur.registers and (el is None or cur.el is None or el == str(cur.el) or el in "nx"):
                    cur.registers[name] = val
                    found = True
            else:
                self._recent[name] = (n, val, el)
                found = True
        if '"value"' in s:
            for m in _REGISTER_JSON.finditer(s):
                name = {"pc": "ELR"}.get(m.group("name"), m.group("name").upper())
                val = int(m.group("dec"))
                if val >> 64:
                    continue
                if cur is not None:
                    cur.registers.setdefault(name, val)
                else:
                    self._recent[name] = (n, val, None)
                found = True
        for who, rx in _CLAIMS + _CLAIMS_BEFORE:
            m = rx.search(s)
            if m is None:
                continue
            g = m.groupdict()
            texts = [t.strip() for t in (g.get("claim"), g.get("claim2")) if t and t.strip()]
            nums = {k.upper(): int(g[k], 16) for k in ("ec", "iss") if g.get(k)}
            if g.get("il"):
                nums["IL_bit"] = int(g["il"], 16)
            if g.get("to_el"):
                nums["to_el"] = int(g["to_el"])
            if g.get("far"):
                if cur is not None:
                    cur.registers.setdefault("FAR", int(g["far"], 16))
                else:
                    self._recent["FAR"] = (n, int(g["far"], 16), None)
            if cur is not None:
                cur.claims.extend(t for t in texts if t not in cur.claims)
                for k, v in nums.items():
                    if k == "to_el":
                        cur.el = cur.el or v
                    else:
                        cur.logged.setdefault(k, v)
            else:
                self._recent_claims.extend((n, who, t) for t in texts)
                del self._recent_claims[:-8]
                for k, v in nums.items():
                    self._recent_logged[k] = (n, v)
            found = True
        if found and cur is not None:
            cur.last_line = n
            self._since = 0
        return found and cur is not None



def _hex64(r: KernelReport, text: str, what: str, n: int) -> int | None:
    """A logged hex number, or ``None`` (and a problem) when it is wider than 64 bits (garbled)."""
    v = int(text, 16)
    if v >> 64:
        r.problems.append(f"line {n}: {what} 0x{text[:40]}{'...' if len(text) > 40 else ''} is wider than "
                          "64 bits (garbled?)")
        return None
    return v


def _note_esr(r: KernelReport, source: str, text: str) -> None:
    v = int(text, 16)
    if v >> 64:
        r.problems.append(f"{source}: ESR 0x{text} is wider than 64 bits")
        return
    r._esr_values.append((source, v, len(text)))


#: the first word of each block line -> the patterns that can read it
_BLOCK_BY_WORD = {"Mem": ("mem_abort",), "Data": ("data_abort",), "ESR": ("esr",), "EC": ("ec",),
                  "Exception": ("eclass",), "SET": ("set",), "EA": ("ea",), "FSC": ("fsc",), "ISV": ("isv0",),
                  "Access": ("size",), "SSE": ("sse",), "SF": ("sf",), "CM": ("cm",), "GCS": ("gcs",)}


def _inside(r: KernelReport, n: int, s: str) -> bool:
    """Handle one line inside report ``r``; True if it belonged to the report."""
    words = s.split(None, 1)
    for kind in _BLOCK_BY_WORD.get(words[0], ()) if words else ():
        m = RX[kind].match(s)
        if not m:
            continue
        r.block.append((n, s))
        g = m.groupdict()
        if kind == "esr":
            _note_esr(r, "ESR line", g["esr"])
            r.style["esr_digits"] = 16 if len(g["esr"]) > 8 else 8
        elif kind in ("ec", "eclass"):
            r.style["ec_hex"] = kind == "ec"
            if kind == "ec":
                r.logged["EC"] = int(g["ec"], 16)
            r.logged["EC_name"] = g["name"]
            r.logged["IL"] = int(g["il"])
        elif kind == "fsc":
            r.style["fsc_line"] = True
            r.logged["FSC"] = int(g["fsc"], 16)
            r.logged["FSC_name"] = g["name"]
        elif kind == "isv0":
            r.logged["ISV"] = 0
            r.logged["ISS"] = int(g["iss"], 16)
            if g["iss2"] is not None:
                r.logged["ISS2"] = int(g["iss2"], 16)
                r.style["iss2"] = True
        elif kind == "size":
            r.logged["ISV"] = 1
            r.logged["access_size"] = int(g["size"])
        elif kind == "cm" and g.get("TnD") is not None:
            r.style["iss2"] = True
        elif kind == "gcs":
            r.style["iss2"] = True
        if kind not in ("esr", "ec", "eclass", "fsc", "isv0", "size", "mem_abort", "data_abort"):
            for k, v in g.items():
                if v is not None:
                    r.logged[k] = int(v)
        return True
    m = RX["pgtable"].match(s)
    if m:
        w = r.walk or LoggedWalk(n)
        if r.walk is not None and (w.entries or w.pgtable):
            r.problems.append(f"line {n}: a second page-table line in one report")
        w.pgtable, w.page_kb, w.va_bits = m.group("who"), int(m.group("kb")), int(m.group("vab"))
        if m.group("pgdp"):
            w.pgdp = _hex64(r, m.group("pgdp"), "pgdp", n)
        else:
            w.pgd_pointer = m.group("ptr")
        r.walk = w
        return True
    m = RX["pgd_old"].match(s)
    if m:
        w = r.walk or LoggedWalk(n)
        w.pgd_pointer = m.group("ptr")
        r.walk = w
        return True
    m = RX["walk"].match(s)
    if m:
        w = r.walk or LoggedWalk(n)
        w.address = _hex64(r, m.group("addr"), "walk address", n)
        rest = m.group("rest")
        pos = 0
        for e in _ENTRY.finditer(rest):
            gap_text = rest[pos:e.start()]
            tail = rest[e.end():e.end() + 1]
            if gap_text.strip(" ,") or (tail and tail not in ", \t"):
                r.problems.append(f"line {n}: garbled page-table walk at {rest[pos:].strip(' ,')!r}")
                pos = -1
                break
            value = _hex64(r, e.group("val"), e.group("name"), n)
            if value is not None:
                w.entries.append((e.group("name"), value))
            pos = e.end()
        if pos >= 0 and rest[pos:].strip(" ,"):
            r.problems.append(f"line {n}: garbled page-table walk tail {rest[pos:]!r}")
        r.walk = w
        return True
    m = RX["walk_msg"].match(s)
    if m:
        w = r.walk or LoggedWalk(n)
        w.address = _hex64(r, m.group("addr"), "walk address", n)
        w.message = m.group("msg")
        r.walk = w
        return True
    if _BLOCK_KEYS.match(s):
        r.problems.append(f"line {n}: cannot read {s.strip()!r} (garbled?)")
        if not s.lstrip().startswith(("[", "swapper", "user")):
            r.block.append((n, s))
        return True
    return False


_VERSIONS = [(4, 14), (4, 16), (5, 4), (5, 8), (5, 10), (5, 11), (5, 17), (5, 19), (6, 1), (6, 3), (6, 5), (6, 9),
             (6, 13), (99, 0)]


def _kernel_version(style: dict, logged: Mapping, esr: int | None) -> tuple[int, int]:
    """The newest kernel version whose format matches the block (for rendering only).

    The block's shape (ESR width, EC line, FSC line, ISS2 lines) narrows the
    range; the names it prints (``unknown 43`` or ``level -1 translation
    fault``, ``UNRECOGNIZED EC`` or ``MOPS``) pick within it.
    """
    from .esr import linux_fault_name, linux_style
    shape = [v for v in _VERSIONS
             if (lambda st: (st.esr_digits, st.ec_hex, st.fsc_line, st.iss2, st.esr_line))(linux_style(v)) ==
             (style.get("esr_digits"), style.get("ec_hex"), style.get("fsc_line"), style.get("iss2"),
              style.get("esr_line", True))]
    if not shape:
        return (99, 0)
    best = shape[-1]
    if esr is not None:
        named = [v for v in shape
                 if ("FSC_name" not in logged or
                     linux_fault_name(logged.get("FSC", F.ISS_DABT["DFSC"].get(esr)), v) == logged["FSC_name"])
                 and ("EC_name" not in logged or linux_ec_name(F.ESR["EC"].get(esr), v) == logged["EC_name"])]
        if named:
            best = named[-1]
    return best


def _finalize(r: KernelReport) -> None:
    # ESR: prefer the ESR line, then the one-line forms, then the Oops code
    values = list(r._esr_values)
    if r.oops is not None and r.oops["code"] and r.kind != "serror":
        values.append(("Internal error line", r.oops["code"], r.oops["code_digits"]))
    elif r.oops is not None and not r.oops["code"]:
        r.notes.append("the Internal error line gives 0: this kernel prints die()'s error argument, not an ESR")
    if r.oops is not None and r.oops["what"].strip(" -") not in ("", "Oops") and r.oops["code"]:
        what = r.oops["what"]
        r.claims.append(what[len("Oops - "):] if what.startswith("Oops - ") else what)
    if values:
        src, esr, _ = values[0]
        for s2, v2, d2 in values[1:]:
            mask = (1 << 64) - 1 if d2 > 8 else 0xFFFFFFFF
            if v2 & mask != esr & mask:
                r.disagreements.append(f"{s2} gives ESR {v2:#x} but the {src} gives {esr:#x}")
        r.esr, r.esr_source = esr, src
    elif r.block or r.kind in ("kernel_fault", "serror", "bad_mode"):
        r.problems.append("no ESR value in this report (truncated?)")
    if r.block:
        st = r.style
        st.setdefault("esr_digits", 16 if r.esr is not None and r.esr >> 32 else 8)
        st.setdefault("ec_hex", "EC" in r.logged)
        st.setdefault("fsc_line", False)
        st.setdefault("iss2", False)
        st["version"] = _kernel_version(st, r.logged, r.esr)
        kinds = {k for _, line in r.block for k in _BLOCK_KINDS if RX[k].match(line)}
        if "esr" not in kinds and "eclass" in kinds and r.block and RX["mem_abort"].match(r.block[0][1]) and \
                RX["eclass"].match(r.block[1][1] if len(r.block) > 1 else ""):
            st["esr_line"] = False                 # 4.13-4.15: the block starts with the exception class
            st["version"] = _kernel_version(st, r.logged, r.esr)
            r.notes.append("kernels before 4.16 print no ESR line in the Mem abort info block")
        elif "esr" not in kinds and not any("cannot read 'ESR" in p for p in r.problems):
            r.problems.append("the Mem abort info block has no ESR line (truncated or interleaved?)")
    if r.walk is not None and r.walk.pgtable and not r.walk.entries and r.walk.message is None:
        r.problems.append("page-table line without the walk line after it (truncated?)")
    if r.esr is None:
        return
    if r.producer == "linux" and r.el is None:
        r.el = 1
    if r.address is None and "FAR" in r.registers:
        r.address = r.registers["FAR"]
    reg = r.registers
    r.decode = decode_esr(r.esr, r.el, far=r.address if r.address is not None and r.kind != "serror" else None,
                          hpfar=reg.get("HPFAR"), par=reg.get("PAR"))
    _compare(r)
    for claim in r.claims:
        why = claim_disagreement(r.decode, claim, r.producer)
        if why and why not in r.disagreements:
            r.disagreements.append(why)


def _compare(r: KernelReport) -> None:
    esr = r.esr
    assert esr is not None and r.decode is not None
    d = r.decode
    ec = d.ec
    lg = r.logged
    # numbers the kernel printed must be the ESR's
    D, I, I2, E = F.ISS_DABT, F.ISS_DABT_ISV, F.ISS2_DABT, F.ESR
    checks = {"EC": ec, "IL": 32 if d.il else 16, "SET": F.ISS_DABT_SET["SET"].get(esr), "FSC": D["DFSC"].get(esr),
              "ISS": E["ISS"].get(esr), "ISS2": E["ISS2"].get(esr),
              "access_size": 1 << I["SAS"].get(esr), "IL_bit": d.il}
    for name in ("FnV", "EA", "S1PTW", "CM", "WnR", "ISV"):
        checks[name] = D[name].get(esr)
    for name in ("SSE", "SRT", "SF", "AR"):
        checks[name] = I[name].get(esr)
    for name in ("Xs", "DirtyBit", "Overlay", "GCS", "TagAccess", "TnD"):
        checks[name] = I2[name].get(esr)
    for k, want in checks.items():
        if k in lg and lg[k] != want:
            shown = f"{lg[k]:#x}" if k in ("ISS", "ISS2", "EC", "FSC") else lg[k]
            exp = f"{want:#x}" if k in ("ISS", "ISS2", "EC", "FSC") else want
            r.disagreements.append(f"the log says {k} = {shown}, but ESR {esr:#x} has {k} = {exp}")
    # names
    if "EC_name" in lg:
        name = lg["EC_name"].strip()
        if name != linux_ec_name(ec):
            if name == LINUX_UNRECOGNIZED_EC and d.info.allocated:
                r.disagreements.append(f"the kernel calls EC {ec:#04x} {name!r}; architecturally it is "
                                       f"{d.info.name} (an older kernel without this class)")
            elif name != LINUX_UNRECOGNIZED_EC:
                r.disagreements.append(f"the log names EC {ec:#04x} {name!r}, Linux calls it "
                                       f"{linux_ec_name(ec)!r}")
    fsc = F.ISS_DABT["DFSC"].get(esr)
    if "FSC_name" in lg:
        why = fsc_disagreement(lg.get("FSC", fsc), lg["FSC_name"])
        if why:
            r.disagreements.append(why)
    if "fault_name" in lg and ec in (0x20, 0x21, 0x24, 0x25):
        name = lg["fault_name"]
        if name in linux_fault_name_variants(fsc) or name.startswith(("level", "unknown", "synchronous", "alignment",
                                                                     "ttbr", "TLB", "Unsupported", "implementation",
                                                                     "Granule", "section", "page")):
            why = fsc_disagreement(fsc, name)
            if why:
                r.disagreements.append(why)
    if r.kind == "user_fault" and r.address is None and ec in (0x24, 0x25) and fsc == 0x04:
        r.notes.append("if the address was a kernel address, Linux reported it to user space as a level 0 "
                       "translation fault (the ESR is sanitized for EL0)")
    # the block, line by line, in the format of the kernel that printed it
    if r.block:
        expected = linux_mem_abort_lines(esr, _style_from(r.style))
        logged = [(n, line) for n, line in r.block]
        exp_by_key = {_line_key(e): e for e in expected}
        seen = set()
        for n, line in logged:
            key = _line_key(line)
            seen.add(key)
            want = exp_by_key.get(key)
            if want is None:
                r.format_mismatches.append({"line": n, "logged": line, "expected": None})
                continue
            if line.rstrip() == want:
                continue
            if line.strip() == want.strip():
                continue                                          # indentation changed by quoting
            if _names_equivalent(line, want):
                continue
            r.format_mismatches.append({"line": n, "logged": line, "expected": want})
        present = [i for i, e in enumerate(expected) if _line_key(e) in seen]
        last = present[-1] if present else -1
        for i, e in enumerate(expected):
            if _line_key(e) in seen:
                continue
            if i > last:
                r.problems.append(f"the block stops before {e.strip()!r} (truncated?)")
                break
            r.format_mismatches.append({"line": None, "logged": None, "expected": e})
    if r.walk is not None and r.walk.address is not None and r.address is not None and r.walk.address != r.address:
        r.disagreements.append(f"show_pte address {r.walk.address:#x} differs from the fault address "
                               f"{r.address:#x}")
    r.disagreements[:] = list(dict.fromkeys(r.disagreements))


# words in a producer's decode -> what they assert
_FAULT_WORDS: tuple[tuple[re.Pattern, frozenset], ...] = (
    (re.compile(r"(?i)address[ -]size"), frozenset({FaultType.ADDRESS_SIZE})),
    (re.compile(r"(?i)translation(?! table walk)(?:[ -]fault|$|\b(?!.*(?:external|parity)))"),
     frozenset({FaultType.TRANSLATION})),
    (re.compile(r"(?i)access[ -]flag"), frozenset({FaultType.ACCESS_FLAG})),
    (re.compile(r"(?i)permission"), frozenset({FaultType.PERMISSION})),
    (re.compile(r"(?i)alignment fault"), frozenset({FaultType.ALIGNMENT})),
    (re.compile(r"(?i)tag[ -]check"), frozenset({FaultType.TAG_CHECK})),
    (re.compile(r"(?i)TLB conflict"), frozenset({FaultType.TLB_CONFLICT})),
    (re.compile(r"(?i)external abort"), frozenset({FaultType.SYNC_EXTERNAL, FaultType.SYNC_EXTERNAL_ON_WALK})),
    (re.compile(r"(?i)parity|ECC error"), frozenset({FaultType.SYNC_PARITY, FaultType.SYNC_PARITY_ON_WALK})),
)
_CLAIM_EC = re.compile(rf"\bEC\s*[:=]?\s*0x({_H}{{1,8}})\b")
_LEVEL_WORDS = {"zeroth": 0, "first": 1, "second": 2, "third": 3, "zero": 0, "one": 1, "two": 2, "three": 3}
_LEVEL = re.compile(r"(?i)level\s*(-?\d)|(zeroth|first|second|third) level|level (zero|one|two|three)")
# exception-class words -> the ECs they can name
_CLASS_WORDS: tuple[tuple[re.Pattern, frozenset], ...] = (
    (re.compile(r"(?i)data[ -]ab(?:ort|t)\b"), frozenset({0x24, 0x25})),
    (re.compile(r"(?i)instruction[ -]abort|prefetch[ -]ab(?:ort|t)\b|\binstruction fault|\bcode\b"),
     frozenset({0x20, 0x21})),
    (re.compile(r"(?i)\bdata fault|^data$"), frozenset({0x24, 0x25})),
    (re.compile(r"(?i)\bsvc\b|syscall|supervisor call"), frozenset({0x11, 0x15})),
    (re.compile(r"(?i)\bhvc\b|hypervisor call"), frozenset({0x12, 0x16})),
    (re.compile(r"(?i)\bsmc\b|secure monitor call"), frozenset({0x13, 0x17})),
    (re.compile(r"(?i)\bSError\b|system error"), frozenset({0x2F})),
    (re.compile(r"(?i)\bSP alignment"), frozenset({0x26})),
    (re.compile(r"(?i)\bPC alignment"), frozenset({0x22})),
    (re.compile(r"\bBRK\b|\bBUG\b|\bKASAN\b|\bUBSAN\b|\bk?CFI\b"), frozenset({0x3C})),
    (re.compile(r"\bFPAC\b"), frozenset({0x1C})),
    (re.compile(r"\bBTI\b"), frozenset({0x0D})),
    (re.compile(r"(?i)undefined instruction|Unknown/Uncategorized|unknown reason"), frozenset({0x00})),
    (re.compile(r"\bGCS\b|Guarded Control Stack"), frozenset({0x2D})),
    (re.compile(r"(?i)watchpoint"), frozenset({0x34, 0x35})),
    (re.compile(r"(?i)software step"), frozenset({0x32, 0x33})),
)
# QEMU's exception names (target/arm excnames[]) are its own events, not ECs
_QEMU_EXCEPTIONS = {"Data Abort": frozenset({0x24, 0x25, 0x34, 0x35}),
                    "Prefetch Abort": frozenset({0x20, 0x21, 0x22, 0x30, 0x31, 0x32, 0x33}),
                    "Breakpoint": frozenset({0x38, 0x3C}), "SVC": frozenset({0x11, 0x15}),
                    "Hypervisor Call": frozenset({0x12, 0x16}), "Secure Monitor Call": frozenset({0x13, 0x17})}


def claim_disagreement(decode: EsrReport, claim: str, producer: str = "") -> str | None:
    """Where a producer's own words for an exception contradict the ESR, one sentence; else None.

    The words are read for what they assert: a fault type and level
    (``Translation fault, third level``, ``(translation fault)``, ``Address
    size fault``) and an exception class (``data-abort``, ``Syscall``,
    ``SError``).  Words that assert nothing checkable are not judged.

    >>> from pgwalk.esr import decode_esr
    >>> claim_disagreement(decode_esr(0x56000080), "Address size fault")[:48]
    "the log says 'Address size fault', but ESR 0x560"
    """
    text = claim.strip()
    ec = decode.ec
    m = _CLAIM_EC.search(text)
    if m and int(m.group(1), 16) != ec:
        return f"the log says {text!r}, but ESR {decode.value:#x} has EC {ec:#04x} ({decode.ec_name})"
    if producer == "qemu" and text in _QEMU_EXCEPTIONS:
        if ec not in _QEMU_EXCEPTIONS[text]:
            return (f"the log says {text!r} (QEMU's exception), but ESR {decode.value:#x} has EC {ec:#04x} "
                    f"({decode.ec_name})")
        return None
    if producer == "qemu":
        return None
    types: set = set()
    for rx, ts in _FAULT_WORDS:
        if rx.search(text):
            types |= ts
    m = _LEVEL.search(text)
    level = None
    if m:
        level = int(m.group(1)) if m.group(1) else _LEVEL_WORDS[(m.group(2) or m.group(3)).lower()]
    if types:
        f = decode.fault if decode.is_abort else None
        if f is None or f.type is None:
            what = f"EC {ec:#04x} ({decode.ec_name})" + (", which carries no fault status code" if f is None else
                                                          f", FSC {f.fsc:#04x} {f.description}")
            return f"the log says {text!r}, but ESR {decode.value:#x} is {what}"
        if f.type not in types or (level is not None and f.level is not None and level != f.level):
            return f"the log says {text!r}, but FSC {f.fsc:#04x} is {fsc_text(f)}"
    for rx, ecs in _CLASS_WORDS:
        if rx.search(text) and ec not in ecs:
            if rx.pattern.endswith("alignment") and types:
                continue
            return f"the log says {text!r}, but ESR {decode.value:#x} has EC {ec:#04x} ({decode.ec_name})"
    if ec in (0x24, 0x25):
        return _access_disagreement(decode, text)
    return None


_ACCESS_SIZE = re.compile(r"(?i)\b(byte|halfword|word|doubleword)\b")
_ACCESS_DIR = re.compile(r"(?i)\b(read|write)\b")
_SIZES = {"byte": 0, "halfword": 1, "word": 2, "doubleword": 3}


def _access_disagreement(decode: EsrReport, text: str) -> str | None:
    """A data abort's access words (``byte read``) against WnR and, when ISV = 1, SAS."""
    f = decode.fields
    m = _ACCESS_SIZE.search(text)
    if m:
        if not f.get("ISV"):
            return (f"the log says {text!r}, but ESR {decode.value:#x} gives no access size (ISV = 0: "
                    f"SAS is not valid, so '{m.group(1)}' is read from bits that do not hold it)")
        if f.get("SAS") != _SIZES[m.group(1).lower()]:
            return f"the log says {text!r}, but ESR {decode.value:#x} has SAS = {f.get('SAS')}"
    m = _ACCESS_DIR.search(text)
    if m and not f.get("CM"):
        wnr = 1 if m.group(1).lower() == "write" else 0
        if f.get("WnR") is not None and f["WnR"] != wnr:
            return f"the log says {text!r}, but ESR {decode.value:#x} has WnR = {f['WnR']}"
    return None


def _line_key(line: str) -> str:
    s = line.strip()
    for prefix in ("Mem abort info:", "Data abort info:", "ESR =", "EC =", "Exception class =", "SET =", "EA =",
                   "FSC =", "ISV =", "Access size =", "SSE =", "SF =", "CM =", "GCS ="):
        if s.startswith(prefix):
            return "EC" if prefix == "Exception class =" else prefix
    return s


def _names_equivalent(logged: str, want: str) -> bool:
    """Same line apart from a name that some other kernel version prints for the same value."""
    m1, m2 = RX["fsc"].match(logged), RX["fsc"].match(want)
    if m1 and m2 and int(m1["fsc"], 16) == int(m2["fsc"], 16):
        return m1["name"] in linux_fault_name_variants(int(m1["fsc"], 16))
    for kind in ("ec", "eclass"):
        m1, m2 = RX[kind].match(logged), RX[kind].match(want)
        if m1 and m2 and m1["il"] == m2["il"] and (kind == "eclass" or int(m1["ec"], 16) == int(m2["ec"], 16)):
            return m1["name"] == LINUX_UNRECOGNIZED_EC
    return False


def parse_log(source) -> list[KernelReport]:
    """Parse a log: a path, a binary or text file object, or the text itself."""
    if isinstance(source, (bytes, bytearray)):
        import io
        return list(scan_stream(io.BytesIO(bytes(source))))
    if hasattr(source, "read"):
        if isinstance(getattr(source, "mode", "b"), str) and "b" not in getattr(source, "mode", "b") or \
                hasattr(source, "encoding"):
            return parse_text(source.read())
        return list(scan_stream(source))
    with open(source, "rb") as fh:
        return list(scan_stream(fh))


# --------------------------------------------------------------------------- walk comparison
def linux_level_map(page_kb: int, va_bits: int) -> dict[str, int]:
    """Linux page-table names -> architectural lookup levels for one configuration.

    Linux always prints pgd first; folded levels (p4d with 4 levels, pud
    with 3, ...) print the same entry again, so they map to the level of the
    first real table above them.
    """
    g = {4: 12, 16: 14, 64: 16}.get(page_kb)
    if g is None:
        raise ValueError(f"unsupported page size {page_kb}k")
    start = 3 - (va_bits - 1 - g) // (g - 3)
    levels = 4 - start                                # number of real levels
    names = ["pgd", "p4d", "pud", "pmd", "pte"]
    real = names[5 - levels:] if levels < 5 else names  # the bottom `levels` names are real tables
    out: dict[str, int] = {}
    lvl_of_real = {name: 3 - (len(real) - 1 - i) for i, name in enumerate(real)}
    top = lvl_of_real[real[0]]
    for name in names:
        out[name] = lvl_of_real.get(name, top)
    out["pgd"] = top
    return out


def linux_walk_registers(pgdp: int, page_kb: int, va_bits: int) -> dict[str, int]:
    """EL1 registers that make an architectural walk follow what ``show_pte()`` walked.

    Both TTBRs point at ``pgdp`` (the kernel prints the pgd of the address's
    own half); TxSZ, granule and DS come from the ``pgtable:`` line.
    """
    from .formats.registers import TCR_EL1, TTBR, TTBR_52
    tg0 = {4: 0b00, 64: 0b01, 16: 0b10}[page_kb]
    tg1 = {4: 0b10, 16: 0b01, 64: 0b11}[page_kb]
    txsz = 64 - va_bits
    wide = va_bits > 48 or pgdp >> 48 != 0
    ds = 1 if wide and page_kb in (4, 16) else 0
    tcr = TCR_EL1.encode(T0SZ=txsz, T1SZ=txsz, TG0=tg0, TG1=tg1, IPS=0b110 if wide else 0b101, DS=ds)
    if wide:
        ttbr = TTBR_52.encode(BADDR=(pgdp >> 6) & TTBR_52["BADDR"].wmask, BADDR_51_48=(pgdp >> 48) & 0xF)
    else:
        ttbr = TTBR.encode(BADDR=(pgdp >> 1) & TTBR["BADDR"].wmask)
    return {"TCR_EL1": tcr, "TTBR0_EL1": ttbr, "TTBR1_EL1": ttbr, "SCTLR_EL1": 1}


@record(compiled_init=True)
class WalkComparison:
    """Logged descriptors against a walk done by pgwalk."""

    entries: list[dict] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.mismatches

    def to_json(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "mismatches": self.mismatches, "error": self.error}


WalkFn = Callable[..., Mapping[int, int | None]]


def compare_logged_walk(report: KernelReport, walk_fn: WalkFn) -> WalkComparison:
    """Walk the logged pgdp for the logged address and compare with the logged descriptors.

    ``walk_fn(pgdp, address, *, page_kb, va_bits)`` must return a mapping
    from architectural lookup level (-1..3) to the 64-bit descriptor read at
    that level (``None`` where the walk did not reach it).  pgwalk's walker
    is plugged in by the CLI; tests pass a fake.
    """
    out = WalkComparison()
    w = report.walk
    if w is None or not w.entries:
        out.error = "the report has no logged walk"
        return out
    if w.pgdp is None:
        out.error = ("the log gives no physical pgdp (older kernels print the pgd's virtual address or a "
                     "hashed pointer)")
        return out
    if w.address is None or w.page_kb is None or w.va_bits is None:
        out.error = "the logged walk lacks its address or page-table geometry"
        return out
    try:
        levels = linux_level_map(w.page_kb, w.va_bits)
        walked = walk_fn(w.pgdp, w.address, page_kb=w.page_kb, va_bits=w.va_bits)
    except Exception as exc:                        # the walker reports bad input its own way
        out.error = f"walk failed: {type(exc).__name__}: {exc}"
        return out
    if not walked:
        out.error = f"the walk read no descriptor: is the table at pgdp {w.pgdp:#x} in the image?"
        return out
    for name, value in w.entries:
        lvl = levels[name]
        got = walked.get(lvl)
        entry = {"level_name": name, "level": lvl, "logged": value, "walked": got,
                 "match": got is not None and got == value}
        out.entries.append(entry)
        if got is None:
            out.mismatches.append(f"{name} (level {lvl}): logged {value:#018x}, the walk did not reach it")
        elif got != value:
            out.mismatches.append(f"{name} (level {lvl}): logged {value:#018x}, walked {got:#018x}")
    return out


def iter_problem_lines(reports: Iterable[KernelReport]) -> Iterable[str]:
    for r in reports:
        for p in r.problems:
            yield f"report {r.index} (line {r.first_line}): {p}"
