#!/usr/bin/env python3
"""Regenerate the nested-virtualisation sample (``translate --nested``, ``at --nested``,
``dump-tree --shadow-s2``) from :mod:`pgwalk.builder`.

    python samples/make_nested.py            # writes samples/nested.img and nested_{l2,l1,l0}.regs.json
    python samples/make_nested.py --check    # exit 1 if a generated file differs from disk

One host-physical image at 0x40000000 holds three table areas: the host's (L0) stage 2
tables at PA 0x40000000, the guest hypervisor's (L1) stage 2 tables at L1 IPA 0x80000000
(PA 0x40010000) and the L2 guest's stage 1 tables at L2 IPA 0x10000000 (L1 IPA 0x80200000,
PA 0x40020000), plus a shadow stage 2 at PA 0x40030000 with one planted error.

==============  ==========================================================================
L2 VA           what
==============  ==========================================================================
``0x400000``    -> L2 IPA 0x20000000 -> L1 IPA 0x90000000 -> PA 0x60000000 (2MB)
``0x800000``    -> L2 IPA 0x30000000: L1's stage 2 does not map it (injected into L1)
``0xc00000``    -> L2 IPA 0x20400000 -> L1 IPA 0xa0000000: the host does not map it (L0's own)
``0x1000000``   not mapped by L2's stage 1 (the guest's own fault)
``0x1400000``   -> L2 IPA 0x20800000, read-only at L1's stage 2
==============  ==========================================================================

The shadow stage 2 at 0x40030000 maps L2 IPA 0x20800000 writable (``--compare-shadow``
reports it "more permissive").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, merge_chunks

HERE = Path(__file__).resolve().parent
BASE = 0x4000_0000
AREA = 0x1_0000
MB2 = 0x20_0000
L1_TABLES_IPA, L1_TABLES_PA = 0x8000_0000, 0x4001_0000
L2_TABLES_L2IPA, L2_TABLES_L1IPA, L2_TABLES_PA = 0x1000_0000, 0x8020_0000, 0x4002_0000
SHADOW_PA = 0x4003_0000


def build() -> dict[str, bytes]:
    host = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=BASE, table_limit=BASE + AREA, pa_bits=40)
    l1 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=L1_TABLES_IPA,
                      table_limit=L1_TABLES_IPA + AREA, pa_bits=40)
    l2 = TableBuilder(stage=1, granule=4096, ia_bits=39, table_base=L2_TABLES_L2IPA,
                      table_limit=L2_TABLES_L2IPA + AREA, pa_bits=40)
    shadow = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=SHADOW_PA, table_limit=SHADOW_PA + AREA,
                          pa_bits=40)
    for va, ipa in ((0x40_0000, 0x2000_0000), (0x80_0000, 0x3000_0000), (0xC0_0000, 0x2040_0000),
                    (0x140_0000, 0x2080_0000)):
        l2.map(va, ipa, MB2, S1Attrs(ap=0b01))
    l1.map(L2_TABLES_L2IPA, L2_TABLES_L1IPA, AREA)
    l1.map(0x2000_0000, 0x9000_0000, MB2)
    l1.map(0x2040_0000, 0xA000_0000, MB2)
    l1.map(0x2080_0000, 0x9020_0000, MB2, S2Attrs(s2ap=0b01))
    host.map(L1_TABLES_IPA, L1_TABLES_PA, AREA)
    host.map(L2_TABLES_L1IPA, L2_TABLES_PA, AREA)
    host.map(0x9000_0000, 0x6000_0000, 2 * MB2)
    shadow.map(0x2000_0000, 0x6000_0000, MB2)
    shadow.map(0x2080_0000, 0x6020_0000, MB2)          # planted: writable, where L1 says read-only
    (hb,), (b1,), (b2,), (bs,) = (t.chunks().values() for t in (host, l1, l2, shadow))
    base, img = merge_chunks({BASE: hb, L1_TABLES_PA: b1, L2_TABLES_PA: b2, SHADOW_PA: bs})
    assert base == BASE

    def regs(d: dict[str, int], note: str) -> bytes:
        out = {"_comment": note, **{k: f"{v:#x}" for k, v in sorted(d.items())}}
        return (json.dumps(out, indent=2) + "\n").encode()

    return {
        "nested.img": bytes(img),
        "nested_l2.regs.json": regs(l2.registers(), "the L2 guest's EL1 registers (--regs)"),
        "nested_l1.regs.json": regs(l1.registers(), "the guest hypervisor's virtual EL2 registers (--guest-hyp)"),
        "nested_l0.regs.json": regs(host.registers(), "the host's registers (--host)"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a generated file differs from disk")
    args = ap.parse_args(argv)
    bad = 0
    for name, data in build().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                print(f"{name}: differs from what make_nested.py generates", file=sys.stderr)
                bad = 1
        else:
            path.write_bytes(data)
    return bad


if __name__ == "__main__":
    sys.exit(main())
