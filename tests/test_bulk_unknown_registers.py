"""The vectorised walk and a register its verdicts need but nobody gave (S2PIR_EL2, PIR_EL1 with
PIE on): like the scalar walk it raises only when a walk reaches a leaf it would judge, and walks
that fault before that come out as the scalar walk's faults (found by the hostile-register
property: a VTCR_EL2 with S2PIE on, no S2PIR_EL2 and T0SZ = 0)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, two_stage
from pgwalk.bulk import translate_many
from pgwalk.errors import UnknownRegister
from pgwalk.params import setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

VTCR_S2PIE = 1 << 36


def _two_stage_regs():
    ts = two_stage()
    ts.map(0x1000, 0x1000_0000, 0x1000, S1Attrs(), pa=0x9000_0000, s2_attrs=S2Attrs(s2ap=0b11))
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_S2PIE           # S2PIR_EL2 not given: the stage 2 permissions are unknown
    return regs, ts.memory()


def _agree_or_both_raise(setup, mem, vas, **kw):
    try:
        want = [translate(setup, mem, va, **kw) for va in vas]
    except UnknownRegister as e:
        with pytest.raises(UnknownRegister, match=re.escape(str(e))):
            translate_many(setup, mem, np.array(vas, dtype=np.uint64), **kw)
        return None
    res = translate_many(setup, mem, np.array(vas, dtype=np.uint64), **kw)
    for i, t in enumerate(want):
        assert bool(res.ok[i]) == t.ok and (t.ok or int(res.fsc[i]) == t.fault.fsc)
    return want


def test_unknown_s2pir_with_a_stage2_setup_fault_gives_the_faults():
    regs, mem = _two_stage_regs()
    regs["VTCR_EL2"] &= ~0x3F                  # T0SZ = 0: below the minimum, a level 0 Translation fault
    setup = setup_from_registers(regs)
    want = _agree_or_both_raise(setup, mem, [0x1000, 0x2000])
    assert want is not None and all(t.fault.stage == 2 and t.fault.s1ptw for t in want)


def test_unknown_s2pir_raises_where_a_walk_reaches_a_stage2_leaf():
    regs, mem = _two_stage_regs()
    setup = setup_from_registers(regs)
    with pytest.raises(UnknownRegister, match="S2PIR_EL2"):
        translate(setup, mem, 0x1000)
    assert _agree_or_both_raise(setup, mem, [0x1000]) is None


def test_unknown_pir_judged_only_where_a_walk_reaches_a_leaf():
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000, S1Attrs())
    regs = {**b.registers(), "TCR2_EL1": 1 << 1}   # PIE on, PIR_EL1 not given
    setup = setup_from_registers(regs)
    mem = b.memory()
    # an address no leaf maps: the scalar and vectorised walks give the Translation fault
    want = _agree_or_both_raise(setup, mem, [0x40_0000_0000], access=Access.READ)
    assert want is not None and not want[0].ok
    with pytest.raises(UnknownRegister, match="PIR_EL1"):
        translate(setup, mem, 0x1000, access=Access.READ)
    assert _agree_or_both_raise(setup, mem, [0x1000, 0x40_0000_0000], access=Access.READ) is None
