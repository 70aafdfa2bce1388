"""PAR_EL1 packed once (pgwalk.par.pack_par): on arrays what it gives element by element on
ints, and the fields where the PAR_EL1 layouts put them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from pgwalk.par import pack_par

lanes = st.lists(st.tuples(st.booleans(), st.integers(0, 63), st.booleans(), st.booleans(), st.integers(0, 3),
                           st.booleans(), st.integers(0, 255), st.integers(0, (1 << 64) - 1)),
                 min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(lanes)
def test_pack_par_arrays_equal_ints(rows):
    cols = list(zip(*rows))
    failed, fst, ptw, s2, sh, ns, attr, pa = cols
    got = pack_par(np.array(failed), fst=np.array(fst, dtype=np.uint8), s1ptw=np.array(ptw),
                   stage2=np.array(s2), sh=np.array(sh, dtype=np.uint8), ns=np.array(ns),
                   attr=np.array(attr, dtype=np.uint8), pa=np.array(pa, dtype=np.uint64))
    assert got.dtype == np.uint64
    for i, (f, a, p, s, h, n, t, o) in enumerate(rows):
        one = pack_par(f, fst=a, s1ptw=p, stage2=s, sh=h, ns=n, attr=t, pa=o)
        assert int(got[i]) == one
        if f:
            assert one == PAR_EL1_FAULT.encode(F=1, FST=a, PTW=int(p), S=int(s), RES1_11=1)
        else:
            assert one == PAR_EL1_OK.encode(F=0, SH=h, NS=int(n), NSE=1, PA=(o >> 12) & PAR_EL1_OK["PA"].wmask,
                                            ATTR=t)
