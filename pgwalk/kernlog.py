"""Find and check arm64 fault reports in Linux kernel logs.

:func:`parse_log` reads a console log, ``dmesg``, journal or syslog output,
or a log pasted into a mail (``> `` quote markers, quoted-printable ``=3D``,
lines wrapped by the mailer) and returns one :class:`KernelReport` per
arm64 fault report it finds:

* kernel faults: ``Unable to handle kernel ... at virtual address ...``,
  the ``Mem abort info:`` / ``Data abort info:`` block, the ``show_pte()``
  walk (``swapper pgtable: 4k pages, 48-bit VAs, pgdp=...`` and
  ``[addr] pgd=..., p4d=..., pud=..., pmd=..., pte=...``, older
  ``pgd = <va>`` / ``*pgd=``), and ``Internal error: Oops: ...``;
* user faults: ``comm[pid]: unhandled exception: DABT (lower EL), ESR 0x...,
  level 2 translation fault`` and the older ``unhandled level 2 translation
  fault (11) at 0x..., esr 0x...``;
* SErrors: ``SError Interrupt on CPU0, code 0x...`` and ``Bad mode in Error
  handler detected ...``;
* ``Internal error: <what>: <esr> [#n]`` lines with no block before them
  (``Oops - BUG``, ``Oops - BTI``, ...).

Each report is decoded with :func:`pgwalk.esr.decode_esr` and compared with
the log's own decode: every number the kernel printed must match the ESR,
its names must be ones Linux uses for those values, and its fault-status
name must agree with the Arm ARM (old kernels print ``unknown 43`` for a
level -1 translation fault; some print a level -1 address size fault for
0x25).  Lines that look like part of a report but cannot be read, and
reports that stop early, are recorded in ``problems``; the rest of the log
is still processed.

The logged walk (pgdp, address, descriptors) is kept on the report, and
:func:`compare_logged_walk` checks it against a walk done by a callable, so
the walker can be plugged in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from .formats import esr as F
from .esr import (EsrReport, LinuxStyle, decode_esr, fsc_disagreement, linux_ec_name, linux_name_claim,
                  linux_fault_name_variants, linux_mem_abort_lines, LINUX_UNRECOGNIZED_EC)

__all__ = ["LoggedWalk", "KernelReport", "parse_log", "parse_text", "compare_logged_walk",
           "linux_level_map", "linux_walk_registers", "WalkComparison", "strip_prefix"]


# --------------------------------------------------------------------------- line prefixes
_PREFIXES = [
    re.compile(r"^[ \t]*(?:>[ \t]?)+"),                                             # mail quoting
    re.compile(r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?|"               # syslog / journal
               r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
               r"\s+\S+\s+kernel:\s?"),
    re.compile(r"^kernel:\s?"),
    re.compile(r"^[a-z]+\s*:[a-z]+\s*: ?"),                                           # dmesg -x
    re.compile(r"^[ \t]*<\d>"),                                                       # printk level
    re.compile(r"^[ \t]*\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?(?: |$)"),                  # [ ts][ T1]
    re.compile(r"^[ \t]*\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}\](?: |$)"),  # dmesg -T
]
_TS = re.compile(r"\[\s*(\d+\.\d+)\]")


def strip_prefix(line: str) -> tuple[str, float | None, bool]:
    """Remove quote markers, syslog/journal prefixes, printk levels and timestamps.

    Returns ``(content, timestamp, had_prefix)``; the content keeps the
    kernel's own indentation (``"  ESR = ..."``).
    """
    ts = None
    had = False
    changed = True
    s = line.rstrip("\r\n")
    while changed:
        changed = False
        for rx in _PREFIXES:
            m = rx.match(s)
            if m and m.end() > 0:
                t = _TS.match(m.group(0).strip())
                if t:
                    ts = float(t.group(1))
                s = s[m.end():]
                had = changed = True
    return s.rstrip(), ts, had


def _decode_quoted_printable(text: str) -> str:
    if "=3D" not in text and "=20\n" not in text:
        return text
    text = re.sub(r"=\r?\n(?:[ \t]*(?:>[ \t]?)+)?", "", text)            # soft line breaks (and requoting)
    return re.sub(r"=([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


# --------------------------------------------------------------------------- report objects
@dataclass
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


@dataclass
class KernelReport:
    """One fault report found in a log."""

    index: int
    kind: str                           # kernel_fault, user_fault, serror, internal_error
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
        }


# --------------------------------------------------------------------------- patterns
_H = r"[0-9a-fA-F]"
RX = {
    "unable": re.compile(rf"Unable to handle kernel (?P<reason>.{{1,200}}?) at virtual address (?P<addr>{_H}+)\b"),
    "unable_partial": re.compile(r"Unable to handle kernel .{0,200}(?:\bat|\bvirtual|\baddress)\s*$"),
    "unhandled_at": re.compile(rf"^Unhandled fault at 0x(?P<addr>{_H}+)\s*$"),
    "unhandled_old": re.compile(rf"^Unhandled fault: (?P<name>.{{1,200}}?) \(0x(?P<esr>{_H}+)\) at 0x(?P<addr>{_H}+)"),
    "user": re.compile(rf"(?P<comm>\S{{1,64}})\[(?P<pid>\d+)\]: unhandled exception: (?:(?P<ec>[^,]{{1,100}}?), "
                       rf"ESR 0x(?P<esr>{_H}+), )?(?P<what>.{{1,300}}?)(?: in (?P<where>\S{{1,300}}))?\s*$"),
    "user_old": re.compile(rf"(?P<comm>\S{{1,64}})\[(?P<pid>\d+)\]: unhandled (?P<what>.{{1,200}}?) \((?P<sig>\d+)\) "
                           rf"at 0x(?P<addr>{_H}+), esr 0x(?P<esr>{_H}+)"),
    "serror": re.compile(rf"SError Interrupt on CPU(?P<cpu>\d+), code 0x(?P<esr>{_H}+) -- (?P<ec>.{{1,200}}?)\s*$"),
    "badmode": re.compile(rf"Bad mode in (?P<handler>.{{1,100}}?) handler detected(?: on CPU(?P<cpu>\d+))?, "
                          rf"code 0x(?P<esr>{_H}+) -- (?P<ec>.{{1,200}}?)\s*$"),
    "internal": re.compile(rf"Internal error: (?P<what>.{{1,200}}?): (?P<code>{_H}+) \[#(?P<n>\d+)\](?P<flags>.*)$"),
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
                      iss2=style.get("iss2", True))


# --------------------------------------------------------------------------- the parser
def _logical_lines(text: str) -> list[tuple[int, str, float | None]]:
    """Prefix-stripped lines, with mail/terminal wrapping of fault lines undone."""
    text = _decode_quoted_printable(text.replace("\r\n", "\n"))
    raw = text.split("\n")
    out: list[tuple[int, str, float | None]] = []
    for n, line in _bounded_lines(raw):
        content, ts, had = strip_prefix(line)
        if out and not (ts is not None) and content.strip() and len(out[-1][1]) + len(content) <= _MAX_LINE:
            pn, prev, pts = out[-1]           # (a wrapped line is short: joins never build a long one)
            cont = content.strip()
            joined = None
            if RX["unable_partial"].search(prev) and re.match(rf"^(?:virtual )?(?:address )?{_H}+\b", cont):
                joined = prev.rstrip() + " " + cont
            elif RX["walk"].match(prev) and re.match(r"^,?\s*\*?(?:p4d|pud|pmd|pte)=", cont):
                joined = prev.rstrip().rstrip(",") + ", " + cont.lstrip(", ")
            elif RX["walk"].match(prev) and re.search(rf"=({_H}{{1,15}})$", prev) and \
                    re.match(rf"^{_H}+(?:,|$)", cont):
                joined = prev + cont
            elif re.search(r"pgtable: .{0,200}pgdp?\s*=?$", prev) and re.match(rf"^=?\s*{_H}+$", cont):
                joined = prev.rstrip() + cont.lstrip("= ")
            elif re.search(r"user address but active_mm is swappe?$|address between user and kernel$", prev):
                joined = prev + ("" if prev.endswith("swappe") else " ") + cont
            elif prev.endswith("ESR") and RX["user"].search(prev) is None and \
                    re.search(r"unhandled exception: .{0,300}ESR$", prev):
                joined = prev + " " + cont
            if joined is not None:
                out[-1] = (pn, joined, pts)
                continue
        out.append((n, content, ts))
    return out


def _bounded_lines(raw: list[str]) -> Iterable[tuple[int, str]]:
    """(line number, line), lines longer than :data:`_MAX_LINE` cut into pieces of that size."""
    for n, line in enumerate(raw, 1):
        if len(line) <= _MAX_LINE:
            yield n, line
        else:
            for i in range(0, len(line), _MAX_LINE):
                yield n, line[i:i + _MAX_LINE]


def parse_text(text: str) -> list[KernelReport]:
    """Find every arm64 fault report in ``text``."""
    lines = _logical_lines(text)
    reports: list[KernelReport] = []
    cur: KernelReport | None = None
    gap = 0

    def finish() -> None:
        nonlocal cur
        if cur is not None:
            _finalize(cur)
            reports.append(cur)
            cur = None

    def start(kind: str, n: int, content: str, ts: float | None) -> KernelReport:
        nonlocal cur, gap
        finish()
        cur = KernelReport(len(reports), kind, n, n, content.strip(), ts)
        gap = 0
        return cur

    for n, content, ts in lines:
        s = content
        if not s.strip():
            if cur is not None:
                gap += 1
                if gap > _MAX_GAP:
                    finish()
            continue
        # ---- report starts
        m = RX["unable"].search(s)
        if m:
            r = start("kernel_fault", n, s[m.start():], ts)
            r.reason = m.group("reason")
            r.address = _hex64(r, m.group("addr"), "address", n)
            if linux_name_claim(r.reason) is not None:        # do_mem_abort(): the fault_info name
                r.logged["fault_name"] = r.reason
            continue
        if RX["unable_partial"].search(s):
            r = start("kernel_fault", n, s.strip(), ts)
            r.problems.append(f"line {n}: 'Unable to handle kernel' line without an address (truncated?)")
            continue
        m = RX["user"].search(s) if "]: unhandled exception:" in s else None     # (cheap test first)
        if m:
            r = start("user_fault", n, s[m.start():], ts)
            r.task = {"comm": m.group("comm"), "pid": int(m.group("pid")), "where": m.group("where")}
            r.reason = m.group("what")
            if m.group("ec"):
                r.logged["EC_name"] = m.group("ec")
            r.logged["fault_name"] = m.group("what")
            if m.group("esr"):
                _note_esr(r, "unhandled exception line", m.group("esr"))
            else:
                r.notes.append("the kernel prints no ESR for this exception")
            continue
        m = RX["user_old"].search(s) if "]: unhandled " in s else None
        if m:
            r = start("user_fault", n, s[m.start():], ts)
            r.task = {"comm": m.group("comm"), "pid": int(m.group("pid")), "signal": int(m.group("sig"))}
            r.reason = m.group("what")
            r.logged["fault_name"] = m.group("what")
            r.address = _hex64(r, m.group("addr"), "address", n)
            _note_esr(r, "unhandled fault line", m.group("esr"))
            continue
        m = RX["serror"].search(s) or RX["badmode"].search(s)
        if m:
            r = start("serror", n, s[m.start():], ts)
            r.logged["EC_name"] = m.group("ec")
            if m.group("cpu") is not None:
                r.task = {"cpu": int(m.group("cpu"))}
            _note_esr(r, "SError line" if "SError Interrupt" in s else "bad mode line", m.group("esr"))
            continue
        m = RX["unhandled_old"].search(s)
        if m:
            r = start("kernel_fault", n, s[m.start():], ts)
            r.reason = m.group("name")
            r.logged["fault_name"] = m.group("name")
            r.address = _hex64(r, m.group("addr"), "address", n)
            _note_esr(r, "unhandled fault line", m.group("esr"))
            continue
        m = RX["unhandled_at"].search(s)
        if m:
            r = start("kernel_fault", n, s[m.start():], ts)
            r.reason = "unhandled fault"
            r.address = _hex64(r, m.group("addr"), "address", n)
            continue
        if RX["mem_abort"].match(s) and (cur is None or cur.block):
            r = start("kernel_fault", n, s.strip(), ts)
            r.problems.append(f"line {n}: 'Mem abort info:' without an 'Unable to handle kernel' line before it")
        m = RX["internal"].search(s)
        if m:
            if cur is None or cur.oops is not None or cur.kind != "kernel_fault":
                start("internal_error", n, s[m.start():], ts)
            assert cur is not None
            cur.oops = {"what": m.group("what"), "code": _hex64(cur, m.group("code"), "Oops code", n) or 0,
                        "code_digits": len(m.group("code")), "count": int(m.group("n")),
                        "flags": m.group("flags").strip(), "line": n}
            cur.last_line = n
            gap = 0
            continue
        if cur is None:
            continue
        # ---- lines inside a report
        if RX["end"].search(s):
            cur.last_line = n
            finish()
            continue
        if _inside(cur, n, s):
            cur.last_line = n
            gap = 0
        else:
            gap += 1
            if gap > _MAX_GAP:
                finish()
    finish()
    _mark_duplicates(reports)
    return reports


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


def _inside(r: KernelReport, n: int, s: str) -> bool:
    """Handle one line inside report ``r``; True if it belonged to the report."""
    for kind in ("mem_abort",) + _BLOCK_KINDS:
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


_VERSIONS = [(4, 16), (5, 4), (5, 8), (5, 10), (5, 11), (5, 17), (5, 19), (6, 1), (6, 3), (6, 5), (6, 9),
             (6, 13), (99, 0)]


def _kernel_version(style: dict, logged: Mapping, esr: int | None) -> tuple[int, int]:
    """The newest kernel version whose format matches the block (for rendering only).

    The block's shape (ESR width, EC line, FSC line, ISS2 lines) narrows the
    range; the names it prints (``unknown 43`` or ``level -1 translation
    fault``, ``UNRECOGNIZED EC`` or ``MOPS``) pick within it.
    """
    from .esr import linux_fault_name, linux_style
    shape = [v for v in _VERSIONS
             if (lambda st: (st.esr_digits, st.ec_hex, st.fsc_line, st.iss2))(linux_style(v)) ==
             (style.get("esr_digits"), style.get("ec_hex"), style.get("fsc_line"), style.get("iss2"))]
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
    if values:
        src, esr, _ = values[0]
        for s2, v2, d2 in values[1:]:
            mask = (1 << 64) - 1 if d2 > 8 else 0xFFFFFFFF
            if v2 & mask != esr & mask:
                r.disagreements.append(f"{s2} gives ESR {v2:#x} but the {src} gives {esr:#x}")
        r.esr, r.esr_source = esr, src
    elif r.block or r.kind in ("kernel_fault", "serror"):
        r.problems.append("no ESR value in this report (truncated?)")
    if r.block:
        st = r.style
        st.setdefault("esr_digits", 16 if r.esr is not None and r.esr >> 32 else 8)
        st.setdefault("ec_hex", "EC" in r.logged)
        st.setdefault("fsc_line", False)
        st.setdefault("iss2", False)
        st["version"] = _kernel_version(st, r.logged, r.esr)
        kinds = {k for _, line in r.block for k in _BLOCK_KINDS if RX[k].match(line)}
        if "esr" not in kinds and not any("cannot read 'ESR" in p for p in r.problems):
            r.problems.append("the Mem abort info block has no ESR line (truncated or interleaved?)")
    if r.walk is not None and r.walk.pgtable and not r.walk.entries and r.walk.message is None:
        r.problems.append("page-table line without the walk line after it (truncated?)")
    if r.esr is None:
        return
    el = 2 if r.kind == "kvm" else 1
    r.decode = decode_esr(r.esr, el, far=r.address if r.address is not None and r.kind != "serror" else None)
    _compare(r)


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
              "access_size": 1 << I["SAS"].get(esr)}
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
    if "EC_name" in lg and r.kind != "serror" or (r.kind == "serror" and "EC_name" in lg):
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


def _mark_duplicates(reports: Sequence[KernelReport]) -> None:
    seen: dict[tuple, int] = {}
    for r in reports:
        if r.timestamp is None:
            continue
        key = (r.timestamp, r.kind, r.esr, r.address, r.headline)
        if key in seen:
            r.duplicate_of = seen[key]
        else:
            seen[key] = r.index


def parse_log(source) -> list[KernelReport]:
    """Parse a log file (path, file object or text)."""
    if hasattr(source, "read"):
        data = source.read()
    else:
        with open(source, "rb") as fh:
            data = fh.read()
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    return parse_text(data)


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


@dataclass
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
