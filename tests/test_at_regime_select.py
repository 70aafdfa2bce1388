"""Which regime an AT operation translates in (ASL ``AArch64.AT``), for the HCR_EL2.{E2H,TGE}
combinations the qemu-at-regimes oracle leaves out: AT S12E* always uses the EL1&0 regime, where
TGE = 1 disables stage 1 (``AArch64.S1Enabled``) and {E2H,TGE} = {1,1} makes HCR_EL2.VM and DC 0 in
effect (HCR_EL2 field descriptions); AT S1E0*/S1E1* use EL2&0 under {1,1}."""

from __future__ import annotations

import numpy as np
import pytest

from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.formats import descriptors as D
from pgwalk.formats import registers as R
from pgwalk.memory import PhysicalMemory
from pgwalk.params import Regime

ROOT = 0x4100_0000
BLOCK_PA = 0x8000_0000
VA = 0x1234


def _setup():
    # EL2&0 tree: 4KB granule, 39-bit VA (start level 1), a level 1 block 0..1GB -> BLOCK_PA
    block = D.VALID.put(0, 1) | D.S1_LEAF["AF"].put(0, 1) | D.S1_LEAF["AP"].put(0, 0b01) | BLOCK_PA   # EL0 rw
    mem = PhysicalMemory.from_words({ROOT: block}, (0x4000_0000, 0xC000_0000))
    regs = {"TCR_EL2": R.TCR_EL1.encode(T0SZ=25, TG0=0, IPS=5, EPD1=1, TG1=0b10), "TTBR0_EL2": ROOT,
            "SCTLR_EL2": R.SCTLR.encode(M=1), "MAIR_EL2": 0xFF, "SCTLR_EL1": R.SCTLR.encode(M=1),
            "TCR_EL1": 0, "MAIR_EL1": 0xFF, "VTCR_EL2": 0, "VTTBR_EL2": 0,
            "HCR_EL2": R.HCR_EL2.encode(E2H=1, TGE=1, VM=1, DC=1)}
    return regs, mem


@pytest.mark.parametrize("op, regime, pa, attr", [
    ("S1E1R", Regime.EL20, BLOCK_PA | VA, 0xFF),      # the EL2&0 tables
    ("S1E0R", Regime.EL20, BLOCK_PA | VA, 0xFF),
    ("S12E1R", Regime.EL10, VA, 0x00),                # EL1&0: stage 1 off, no stage 2, no DC: flat Device-nGnRnE
    ("S12E0W", Regime.EL10, VA, 0x00),
])
def test_at_regime_under_e2h_tge(op, regime, pa, attr):
    regs, mem = _setup()
    for exec_el in (2, 3):
        res = at(regs, mem, op, VA, exec_el=exec_el)
        assert res.regime is regime and not res.par & 1, (op, hex(res.par), res.translation.fault)
        assert R.PAR_EL1_OK["PA"].get(res.par) << 12 == pa & ~0xFFF
        assert R.PAR_EL1_OK["ATTR"].get(res.par) == attr
        b = bulk_at(regs, mem, op, np.array([VA], dtype=np.uint64), exec_el=exec_el)
        assert b.regime is regime and int(b.par[0]) == res.par
