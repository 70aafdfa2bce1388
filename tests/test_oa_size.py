"""The output-address size check on a stage's *final* output address (ASL ``AArch64.S1Walk``:
``oa = StageOA(va, ...)``, then ``AArch64.S1OAOutOfRange(oa.address, walkparams)``).

``StageOA`` is the leaf base with the input-address bits below the block size, so a block
larger than the output address space (a 64KB level 1 block of 4TB with {I}PS 32, 36 or 40
bits; a 4KB level 0 block of 512GB with DS = 1 and 32 or 36 bits; a 16KB level 1 block of
64GB with DS = 1 and 32 bits) gives an Address size fault at the block's level for the
addresses of its upper part, even though its base is in range.  Every regime, the scalar
walker, the vectorised walker and AT must say so (issue 11 item 6).  Stage 2 cannot hold
such a block: an IPA wider than the output size is already a configuration fault.
"""

from __future__ import annotations

import numpy as np
import pytest

from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.bulk import translate_many
from pgwalk.faults import FaultType
from pgwalk.formats import descriptors as D
from pgwalk.formats import registers as R
from pgwalk.memory import PhysicalMemory
from pgwalk.params import Regime, setup_from_registers
from pgwalk.tree import collect_runs, tree_params
from pgwalk.walk import translate

RAM = (0x4000_0000, 0x8000_0000)
ROOT = 0x4100_0000
TG0 = {g: code for code, g in R.TG0_GRANULE.items()}
#: the granule, DS, T0SZ (start level = the block level) and the block level of each case
CASES = {
    "64KB L1 block": (16, False, 16, 1),
    "4KB L0 block (DS=1)": (12, True, 16, 0),
    "16KB L1 block (DS=1)": (14, True, 17, 1),
}
AT_OP = {Regime.EL10: "S1E1R", Regime.EL20: "S1E2R", Regime.EL2: "S1E2R", Regime.EL3: "S1E3R"}


def _registers(regime: Regime, g: int, ds: bool, t0sz: int, ps: int) -> dict[str, int]:
    if regime in (Regime.EL10, Regime.EL20):
        tcr = R.TCR_EL1.encode(T0SZ=t0sz, TG0=TG0[g], IPS=ps, DS=int(ds), EPD1=1, TG1=0b10)
        el = "EL1" if regime is Regime.EL10 else "EL2"
        hcr = R.HCR_EL2.encode(E2H=1, TGE=1) if regime is Regime.EL20 else 0
    else:
        layout = R.TCR_EL3 if regime is Regime.EL3 else R.TCR_EL2_E2H0
        tcr = layout.encode(T0SZ=t0sz, TG0=TG0[g], PS=ps, DS=int(ds), RES1_23=1, RES1_31=1)
        el = "EL3" if regime is Regime.EL3 else "EL2"
        hcr = 0
    return {f"TCR_{el}": tcr, f"TTBR0_{el}": ROOT, f"SCTLR_{el}": R.SCTLR.encode(M=1),
            f"MAIR_{el}": 0xFF, "HCR_EL2": hcr, "ID_AA64MMFR0_EL1": 0x2100032310201126}


@pytest.mark.parametrize("regime", list(Regime))
@pytest.mark.parametrize("case", sorted(CASES))
def test_block_larger_than_the_output_size(regime, case):
    g, ds, t0sz, level = CASES[case]
    leafsize = g + (g - 3) * (3 - level)
    for ps, oa_bits in ((0, 32), (1, 36), (2, 40)):
        if leafsize <= oa_bits:
            continue
        regs = _registers(regime, g, ds, t0sz, ps)
        setup = setup_from_registers(regs, regime)
        p = setup.ranges[0]
        assert (p.start_level, p.oa_bits, p.ds) == (level, oa_bits, ds), case
        block = D.VALID.put(0, 1) | D.S1_LEAF["AF"].put(0, 1)          # base 0, AF = 1
        index = 5
        mem = PhysicalMemory.from_words({ROOT + 8 * index: block}, RAM)
        va_base = index << leafsize
        inside = va_base | ((1 << oa_bits) - 0x1000)                 # OA just below 2^oa_bits
        beyond = va_base | (1 << oa_bits) | 0x123                     # OA just above it
        t = translate(setup, mem, inside)
        assert t.fault is None and t.pa == (1 << oa_bits) - 0x1000, (case, regime, t.fault)
        t = translate(setup, mem, beyond)
        f = t.fault
        assert f is not None and (f.type, f.level, f.stage) == (FaultType.ADDRESS_SIZE, level, 1), (case, regime, f)
        assert "larger than the output address space" in f.reason
        # the vectorised walker and AT (scalar and bulk) give the same answers
        b = translate_many(setup, mem, np.array([inside, beyond], dtype=np.uint64))
        assert [b.fault(i) and (b.fault(i).type, b.fault(i).level) for i in range(2)] == \
            [None, (FaultType.ADDRESS_SIZE, level)]
        assert int(b.pa[0]) == (1 << oa_bits) - 0x1000
        op = AT_OP[regime]
        pars = [at(regs, mem, op, va).par for va in (inside, beyond)]
        assert pars[1] == R.PAR_EL1_FAULT.encode(F=1, FST=0b000000 | level, RES1_11=1)
        assert not pars[0] & 1
        bulk = bulk_at(regs, mem, op, np.array([inside, beyond], dtype=np.uint64))
        assert bulk.par.tolist() == pars
        # dump-tree does not show the block as mapped without saying its upper part faults
        (run,) = collect_runs(tree_params(setup, "ttbr0"), mem)
        assert run.kind == "block"
        assert any(f"Address size fault from {1 << oa_bits:#x}" in f for f in run.attrs.flags), (case, regime)
