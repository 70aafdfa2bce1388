#!/usr/bin/env python3
"""Regenerate every sample in this folder from :mod:`pgwalk.builder`.

    python samples/make_samples.py            # writes samples/*.img, *.regs.json, README.md
    python samples/make_samples.py --check    # exit 1 if a generated file differs from disk

Each sample is a raw image holding only the translation tables (no data
pages), loaded at the base recorded in its register file (``"_image"``) and in
README.md, plus a register file mapping register names to hex strings.

The output is deterministic: the builder allocates tables in call order and
nothing here depends on time or randomness.  ``PROBES`` lists, per sample,
addresses with their expected results; tests/test_builder.py checks them with
an independent reference walker, and README.md shows them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pgwalk.builder import (
    S1Attrs, S2Attrs, TableAttrs, TableBuilder, merge_chunks, two_stage,
)

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Probe:
    """One interesting address and what a walk of it gives.

    ``access`` is ``"r"``, ``"w"`` or ``"x"`` at ``el`` 0 or 1.  A successful
    translation has ``fault=None`` and ``pa``; ``level`` is the stage 1 leaf
    level (the stage 2 leaf level for stage-2-only samples).  A fault has
    ``fault`` in {"translation", "access_flag", "permission"}, the fault
    ``level``, the ``stage`` (1 or 2) and ``s1ptw`` (a stage 2 fault on a
    stage 1 table walk).
    """

    addr: int
    note: str
    pa: int | None = None
    level: int | None = None
    fault: str | None = None
    stage: int = 1
    s1ptw: bool = False
    access: str = "r"
    el: int = 1

    def result(self) -> str:
        acc = {"r": "read", "w": "write", "x": "fetch"}[self.access] + f" EL{self.el}"
        if self.fault is None:
            return f"{acc}: PA {self.pa:#x} (L{self.level})"
        where = f"stage {self.stage} " if self.stage == 2 else ""
        ptw = " on the stage 1 walk (S1PTW)" if self.s1ptw else ""
        return f"{acc}: {where}{self.fault.replace('_', ' ')} fault L{self.level}{ptw}"


@dataclass
class Sample:
    name: str
    summary: str
    base: int
    image: bytes
    regs: dict[str, int]
    comment: str
    example: int
    probes: list[Probe] = field(default_factory=list)

    def regs_json(self) -> str:
        obj = {"_comment": self.comment, "_image": f"{self.name}.img@{self.base:#x}"}
        obj.update({k: f"{v:#x}" for k, v in self.regs.items()})
        return json.dumps(obj, indent=2) + "\n"

    def command(self, addr: int | None = None) -> str:
        a = self.example if addr is None else addr
        return (f"pgwalk translate -i samples/{self.name}.img@{self.base:#x} "
                f"--regs samples/{self.name}.regs.json {a:#x}")


def _sample(name, summary, comment, example, probes, regs, *sources) -> Sample:
    base, img = merge_chunks(*sources)
    return Sample(name, summary, base, bytes(img), regs, comment, example, probes)


USER_RW = S1Attrs(ap=0b01, ng=1, uxn=1, pxn=1)          # EL0+EL1 read/write, no execute
USER_RX = S1Attrs(ap=0b11, ng=1, pxn=1)                 # EL0+EL1 read-only, EL0 executable
KERN_RO_X = S1Attrs(ap=0b10, uxn=1)                     # EL1 read-only, EL1 executable
KERN_RW = S1Attrs(ap=0b00, uxn=1, pxn=1)                # EL1 read/write, no execute
DEV = S1Attrs.device()                                  # Device-nGnRE (MAIR Attr3), XN


# --------------------------------------------------------------------------- 1. 4K, 48-bit, both halves

def s1_4k_48bit() -> Sample:
    user = TableBuilder(granule=4096, ia_bits=48, pa_bits=48,
                        table_base=0x4000_0000, table_limit=0x4001_0000)
    user.map(0x40_0000, 0x8000_0000, 0x4000, USER_RX)                   # user text, 4 pages
    user.map(0x60_0000, 0x8010_0000, 0x2000, USER_RW)                   # user data, 2 pages
    # 0x602000: hole
    user.map(0x60_3000, 0x8010_3000, 0x1000, S1Attrs(ap=0b01, ng=1, uxn=1, pxn=1, af=0))
    user.map(0x80_0000, 0x8020_0000, 0x20_0000, USER_RW)                # 2MB block
    user.map(0x7FFF_FFFF_E000, 0x8040_0000, 0x2000, USER_RW)            # stack at the top

    kern = TableBuilder(granule=4096, ia_bits=48, pa_bits=48,
                        table_base=0x4001_0000, table_limit=0x4002_0000)
    kern.map(0xFFFF_8000_0020_0000, 0x4020_0000, 0x1_0000, KERN_RO_X)   # kernel text, 16 pages
    kern.map(0xFFFF_8000_0040_0000, 0x4040_0000, 0x20_0000, KERN_RW)    # kernel data, 2MB block
    kern.map(0xFFFF_8000_1000_0000, 0x0900_0000, 0x1000, DEV)           # UART
    kern.map(0xFFFF_0000_4000_0000, 0x4000_0000, 0x4000_0000, KERN_RW)  # linear map: a 1GB block
    kern.map(0xFFFF_0000_8000_0000, 0x8000_0000, 0x80_0000, KERN_RW)    # linear map: 4 x 2MB

    regs = user.registers(ttbr=0, asid=1)
    regs = kern.registers(ttbr=1, regs=regs)
    probes = [
        Probe(0xFFFF_8000_0020_1234, "kernel text page (EL1 RO, EL1 exec)", pa=0x4020_1234, level=3),
        Probe(0xFFFF_8000_0020_1234, "kernel text is read-only", fault="permission", level=3, access="w"),
        Probe(0xFFFF_8000_0020_1234, "no EL0 access to kernel pages", fault="permission", level=3, el=0),
        Probe(0xFFFF_8000_0045_6789, "kernel data, 2MB block", pa=0x4045_6789, level=2),
        Probe(0xFFFF_0000_5234_5678, "linear map, 1GB block", pa=0x5234_5678, level=1),
        Probe(0xFFFF_0000_8060_0010, "linear map, 2MB block", pa=0x8060_0010, level=2),
        Probe(0xFFFF_8000_1000_0018, "UART, Device-nGnRE (MAIR Attr3)", pa=0x0900_0018, level=3),
        Probe(0xFFFF_8000_0021_0000, "hole after kernel text", fault="translation", level=3),
        Probe(0x40_1ABC, "user text (EL0 RO, EL0 exec)", pa=0x8000_1ABC, level=3, el=0),
        Probe(0x40_1ABC, "user text is read-only", fault="permission", level=3, access="w", el=0),
        Probe(0x60_1008, "user data (EL0 RW)", pa=0x8010_1008, level=3, access="w", el=0),
        Probe(0x60_2000, "unmapped hole between user pages", fault="translation", level=3),
        Probe(0x60_3000, "AF=0 page", fault="access_flag", level=3),
        Probe(0x9F_FFF8, "user 2MB block", pa=0x803F_FFF8, level=2),
        Probe(0x7FFF_FFFF_F000, "top user page (stack)", pa=0x8040_1000, level=3),
        Probe(0x20_0000, "no level 3 table", fault="translation", level=2),
        Probe(0x4000_0000, "no level 2 table", fault="translation", level=1),
        Probe(0x1000_0000_0000, "no level 1 table", fault="translation", level=0),
    ]
    return _sample("s1_4k_48bit",
                   "4KB granule, 48-bit VA, TTBR0 (user, ASID 1) and TTBR1 (kernel) trees, IPS 48 bits",
                   "4KB, T0SZ=T1SZ=16 (start L0), TTBR0 user tree at 0x40000000, TTBR1 kernel tree at 0x40010000",
                   0xFFFF_8000_0020_1234, probes, regs, user, kern)


# --------------------------------------------------------------------------- 2. 16K, 48-bit

def s1_16k() -> Sample:
    b = TableBuilder(granule=16384, ia_bits=48, pa_bits=48, table_base=0x4000_0000)
    b.map(0x40_0000, 0x8000_0000, 0x1_0000, USER_RW)                    # 4 x 16KB user pages
    b.map(0x41_0000, 0x8001_0000, 0x4000, S1Attrs(ap=0b10, uxn=1, pxn=1))   # EL1 read-only
    b.map(0x41_4000, 0x8001_4000, 0x4000, USER_RX)                      # EL0 read-only, EL0 exec
    b.map(0x41_8000, 0x8001_8000, 0x4000, S1Attrs(ap=0b01, af=0, uxn=1, pxn=1))
    # 0x41c000: hole
    b.map(0x200_0000, 0x8200_0000, 0x200_0000, KERN_RW)                 # a 32MB block
    b.map(0x1000_0000, 0x0900_0000, 0x4000, DEV)                        # device page
    # upper half of the 2-entry level 0 table, under APTable=0b10 (no writes) and UXNTable
    b.map(0x8000_0000_0000, 0x8003_0000, 0x4000, USER_RW,
          table_attrs=TableAttrs(aptable=0b10, uxntable=1))
    regs = b.registers()
    probes = [
        Probe(0x40_5678, "EL0 RW page", pa=0x8000_5678, level=3, access="w", el=0),
        Probe(0x41_0010, "EL1 read-only page", pa=0x8001_0010, level=3),
        Probe(0x41_0010, "EL1 read-only page", fault="permission", level=3, access="w"),
        Probe(0x41_0010, "no EL0 access", fault="permission", level=3, el=0),
        Probe(0x41_4020, "EL0 read-only page", pa=0x8001_4020, level=3, el=0),
        Probe(0x41_8000, "AF=0 page", fault="access_flag", level=3),
        Probe(0x41_C000, "unmapped hole", fault="translation", level=3),
        Probe(0x2BC_DEF0, "32MB block", pa=0x82BC_DEF0, level=2),
        Probe(0x1000_0100, "device page", pa=0x0900_0100, level=3),
        Probe(0x8000_0000_1234, "page under APTable=10 (descriptor says EL0 RW)", pa=0x8003_1234, level=3),
        Probe(0x8000_0000_1234, "APTable=10 removes write", fault="permission", level=3, access="w"),
        Probe(0x1000_0000_0000, "no level 2 table", fault="translation", level=1),
        Probe(0x1_0000_0000, "no level 3 table", fault="translation", level=2),
    ]
    return _sample("s1_16k", "16KB granule, 48-bit VA (start level 0 with 2 entries), TTBR0, APTable",
                   "16KB, T0SZ=16: level 0 has 2 entries (VA[47]); TTBR1 walks disabled (EPD1=1)",
                   0x41_4020, probes, regs, b)


# --------------------------------------------------------------------------- 3. 64K, 48-bit

def s1_64k() -> Sample:
    b = TableBuilder(granule=65536, ia_bits=48, pa_bits=48, table_base=0x4000_0000)
    b.map(0x40_0000, 0x8000_0000, 0x4_0000, USER_RW)                    # 4 x 64KB user pages
    b.map(0x44_0000, 0x8004_0000, 0x1_0000, S1Attrs(ap=0b10, uxn=1))   # EL1 RO, EL1 exec
    b.map(0x45_0000, 0x8005_0000, 0x1_0000, USER_RX)
    b.map(0x46_0000, 0x8006_0000, 0x1_0000, S1Attrs(ap=0b01, af=0, uxn=1, pxn=1))
    # 0x470000: hole
    b.map(0x2000_0000, 0xA000_0000, 0x2000_0000, KERN_RW)               # a 512MB block
    b.map(0x1000_0000, 0x0900_0000, 0x1_0000, DEV)                      # same level 3 table
    regs = b.registers()
    probes = [
        Probe(0x42_3456, "EL0 RW page", pa=0x8002_3456, level=3, el=0),
        Probe(0x44_8000, "EL1 read-only page", pa=0x8004_8000, level=3),
        Probe(0x44_8000, "EL1 read-only page", fault="permission", level=3, access="w"),
        Probe(0x45_0000, "EL0 executable page", pa=0x8005_0000, level=3, access="x", el=0),
        Probe(0x46_0040, "AF=0 page", fault="access_flag", level=3),
        Probe(0x47_0000, "unmapped hole", fault="translation", level=3),
        Probe(0x3234_5678, "512MB block", pa=0xB234_5678, level=2),
        Probe(0x1000_0ABC, "device page", pa=0x0900_0ABC, level=3),
        Probe(0x40_0000_0000, "no level 3 table", fault="translation", level=2),
        Probe(0x4000_0000_0000, "no level 2 table", fault="translation", level=1),
    ]
    return _sample("s1_64k", "64KB granule, 48-bit VA (start level 1, 64 entries), TTBR0, 512MB block",
                   "64KB, T0SZ=16: level 1 has 64 entries (VA[47:42]); TTBR1 walks disabled (EPD1=1)",
                   0x3234_5678, probes, regs, b)


# --------------------------------------------------------------------------- 4. LPA2, 52-bit VA, 4K

def lpa2_52bit_4k() -> Sample:
    b = TableBuilder(granule=4096, ia_bits=52, ds=True, pa_bits=52, table_base=0x4000_0000)
    b.map(0xF_ABCD_EF01_2000, 0xF_1234_5678_9000, 0x1000, USER_RW)      # page above 2^48
    b.map(0x1_0000_0000_0000, 0x8_0000_0000_0000, 1 << 39, KERN_RW)     # a 512GB level 0 block
    b.map(0x4000_0000, 0x1_0000_4000_0000, 0x4000_0000, KERN_RW)        # 1GB block above 2^48
    b.map(0x20_0000, 0x8020_0000, 0x20_0000, KERN_RW)                   # 2MB block
    b.map(0x40_0000, 0x8000_0000, 0x2000, USER_RW)
    b.map(0x40_2000, 0x8000_2000, 0x1000, S1Attrs(ap=0b10, uxn=1, pxn=1))
    b.map(0x40_3000, 0x8000_3000, 0x1000, S1Attrs(af=0, uxn=1, pxn=1))
    # 0x404000: hole
    b.map(0x1000_0000, 0x0900_0000, 0x1000, DEV)
    regs = b.registers()
    probes = [
        Probe(0xF_ABCD_EF01_2345, "page with OA above 2^48 (OA[51:50] in bits 9:8)",
              pa=0xF_1234_5678_9345, level=3),
        Probe(0x1_0012_3456_789A, "512GB block at level 0 (DS=1)", pa=0x8_0012_3456_789A, level=0),
        Probe(0x7654_3210, "1GB block, OA above 2^48", pa=0x1_0000_7654_3210, level=1),
        Probe(0x2F_F000, "2MB block", pa=0x802F_F000, level=2),
        Probe(0x40_1008, "EL0 RW page", pa=0x8000_1008, level=3, access="w", el=0),
        Probe(0x40_2008, "read-only page", fault="permission", level=3, access="w"),
        Probe(0x40_3000, "AF=0 page", fault="access_flag", level=3),
        Probe(0x40_4000, "unmapped hole", fault="translation", level=3),
        Probe(0x1000_0040, "device page", pa=0x0900_0040, level=3),
        Probe(0x8_0000_0000_0000, "no level 0 table", fault="translation", level=-1),
        Probe(0xF_ABCD_0000_0000, "no level 2 table", fault="translation", level=1),
    ]
    return _sample("lpa2_52bit_4k", "4KB granule, FEAT_LPA2 (DS=1), 52-bit VA (5 levels from level -1), 52-bit OA",
                   "4KB, DS=1, T0SZ=12: start level -1 (16 entries, VA[51:48]); IPS 52; TTBR0 in the 52-bit BADDR format",
                   0xF_ABCD_EF01_2345, probes, regs, b)


# --------------------------------------------------------------------------- 5. stage 2, concatenated roots

def s2_concat() -> Sample:
    b = TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=1, pa_bits=40, table_base=0x4000_0000)
    assert b.concat == 2
    b.map(0xAB_CDE1_2000, 0x8000_2000, 0x1000)                          # in the 2nd root table
    b.map(0x4000_0000, 0xC000_0000, 0x4000_0000)                        # 1GB block
    b.map(0x80_0020_0000, 0x8040_0000, 0x20_0000, S2Attrs(xn=0b10))     # 2MB block, IPA >= 2^39
    b.map(0x1000_0000, 0x8100_0000, 0x4000)                             # 4 pages RW
    b.map(0x1000_4000, 0x8100_4000, 0x1000, S2Attrs(s2ap=0b01))         # read-only
    b.map(0x1000_5000, 0x8100_5000, 0x1000, S2Attrs(af=0))
    # 0x10006000: hole
    b.map(0x0900_0000, 0x0900_0000, 0x1000, S2Attrs.device())
    regs = b.registers()
    regs["SCTLR_EL1"] = 0          # stage 1 off: VA == IPA, then stage 2
    probes = [
        Probe(0xAB_CDE1_2345, "level 1 entry at 0x40001578, in the second concatenated table",
              pa=0x8000_2345, level=3, stage=2),
        Probe(0x5234_5678, "1GB block", pa=0xD234_5678, level=1, stage=2),
        Probe(0x80_0031_0000, "2MB block (XN[1:0]=10)", pa=0x8051_0000, level=2, stage=2),
        Probe(0x1000_2010, "RW page", pa=0x8100_2010, level=3, stage=2, access="w"),
        Probe(0x1000_4010, "S2AP=01 read-only page", pa=0x8100_4010, level=3, stage=2),
        Probe(0x1000_4010, "S2AP=01 read-only page", fault="permission", level=3, stage=2, access="w"),
        Probe(0x1000_5000, "AF=0 page", fault="access_flag", level=3, stage=2),
        Probe(0x1000_6000, "unmapped hole", fault="translation", level=3, stage=2),
        Probe(0x0900_0000, "device (MemAttr 0001)", pa=0x0900_0000, level=3, stage=2),
        Probe(0x1_0000_0000, "no level 2 table", fault="translation", level=1, stage=2),
    ]
    return _sample("s2_concat", "stage 2 only, 4KB, 40-bit IPA (VTCR_EL2.T0SZ=24), start level 1 with 2 concatenated tables",
                   "stage 2 only: SCTLR_EL1.M=0, so a VA is used as the IPA; VTCR_EL2.SL0=01 (L1), 2 root tables (8KB)",
                   0xAB_CDE1_2345, probes, regs, b)


# --------------------------------------------------------------------------- 6. two stages

def two_stage_sample() -> Sample:
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40, s2_table_pa=0x4000_0000, s1_table_ipa=0x8000_0000,
                   s1_table_pa=0x4001_0000, s1_table_size=0x1_0000, pa_bits=40, s2_start_level=1)
    ts.map(0x40_0000, 0x1000_0000, 0x2000, USER_RW, pa=0x6000_0000)
    ts.map(0x40_2000, 0x1000_2000, 0x1000, USER_RW, pa=0x6000_2000, s2_attrs=S2Attrs(s2ap=0b01))
    ts.map(0x40_3000, 0x2000_0000, 0x1000, USER_RW)                     # IPA not mapped at stage 2
    # 0x404000: stage 1 hole
    ts.map(0x60_0000, 0x1040_0000, 0x20_0000, KERN_RW, pa=0x6040_0000)   # 2MB blocks at both stages
    ts.map(0x1000_0000, 0x0900_0000, 0x1000, DEV, pa=0x0900_0000, s2_attrs=S2Attrs.device())
    # a stage 1 level 0 entry pointing at a level 1 table IPA that stage 2 does not map
    ts.s1.set_descriptor(0x80_0000_0000, 0, ts.s1.table_descriptor(0x9000_0000))
    regs = ts.registers()
    probes = [
        Probe(0x40_1234, "S1 page -> IPA 0x10001234 -> S2 page", pa=0x6000_1234, level=3, el=0, access="w"),
        Probe(0x40_2010, "S2 read-only page (S2AP=01)", pa=0x6000_2010, level=3),
        Probe(0x40_2010, "S2 read-only page (S2AP=01)", fault="permission", level=3, stage=2, access="w"),
        Probe(0x40_3000, "IPA 0x20000000 not mapped at stage 2", fault="translation", level=2, stage=2),
        Probe(0x40_4000, "stage 1 hole", fault="translation", level=3),
        Probe(0x6A_BCDE, "2MB block at both stages", pa=0x604A_BCDE, level=2),
        Probe(0x1000_0008, "device at both stages", pa=0x0900_0008, level=3),
        Probe(0x80_0000_0000, "S1 L0 entry -> L1 table at IPA 0x90000000, unmapped at stage 2",
              fault="translation", level=2, stage=2, s1ptw=True),
    ]
    return _sample("two_stage", "stage 1 (4KB, 48-bit VA) with tables in IPA space + stage 2 (40-bit IPA, L1, 2 tables); HCR_EL2.VM=1",
                   "S2 tables at PA 0x40000000; S1 tables at IPA 0x80000000, mapped by S2 to PA 0x40010000; TTBR0_EL1 holds an IPA",
                   0x40_1234, probes, regs, ts)


BUILDERS = [s1_4k_48bit, s1_16k, s1_64k, lpa2_52bit_4k, s2_concat, two_stage_sample]


def build_all() -> list[Sample]:
    return [fn() for fn in BUILDERS]


def _h(v: int) -> str:
    return f"`{v:#x}`"


def readme(samples: list[Sample]) -> str:
    out = [
        "# pgwalk samples",
        "",
        "Generated by `python samples/make_samples.py` (deterministic; do not edit by hand).",
        "Each `<name>.img` is a raw image of the translation tables only (no data pages), to be loaded at the",
        "base shown; `<name>.regs.json` holds the registers (`_image` records the base). MAIR_EL1 is",
        "Attr0=0xff (Normal WB), Attr1=0x44 (Normal NC), Attr2=0x00 (nGnRnE), Attr3=0x04 (nGnRE), Attr4=0xbb,",
        "Attr5=0xf0; ID_AA64MMFR0_EL1=0x32310201126 (PARange 52 bits, LPA2). Results below are for the access",
        "shown (EL1 read unless stated), hardware AF/dirty updates off, PAN off. `(Ln)` is the stage 1 leaf",
        "level (for `s2_concat`, where stage 1 is off, the stage 2 leaf level). Each table row is checked by",
        "tests/test_builder.py with an independent reference walker.",
        "",
        "| sample | shows | image | example |",
        "|---|---|---|---|",
    ]
    for s in samples:
        out.append(f"| `{s.name}` | {s.summary} | `{s.name}.img@{s.base:#x}` ({len(s.image)} bytes) | "
                   f"`{s.command()}` |")
    for s in samples:
        out += ["", f"## {s.name}", "", s.comment + ".", "", "```", s.command(), "```", "",
                "| address | result | what |", "|---|---|---|"]
        for p in s.probes:
            out.append(f"| {_h(p.addr)} | {p.result()} | {p.note} |")
    return "\n".join(out) + "\n"


def outputs(samples: list[Sample]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for s in samples:
        files[f"{s.name}.img"] = s.image
        files[f"{s.name}.regs.json"] = s.regs_json().encode()
    files["README.md"] = readme(samples).encode()
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = ap.parse_args(argv)
    files = outputs(build_all())
    stale = []
    for name, data in files.items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
        else:
            path.write_bytes(data)
            print(f"{path} ({len(data)} bytes)")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
