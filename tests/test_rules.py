"""The rule kernel (pgwalk.rules) gives on a numpy array what it gives element by element on ints.

Every function of the kernel that takes descriptor or address values is called once on
a uint64 array and once per element on Python ints, over random values and every
geometry (granule, level, DS, 52-bit OA); the two must agree exactly.  The drivers (the
scalar, vectorised and tree walks) rely on this: they call the same functions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk import rules as R
from pgwalk.faults import FaultType
from pgwalk.perms import Access

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
values = st.lists(u64, min_size=1, max_size=40)
granules = st.sampled_from([12, 14, 16])
levels = st.integers(min_value=-1, max_value=3)


def _same(fn, arr_args, scalar_args_of):
    """fn on the arrays == [fn on each element]."""
    out = fn(*arr_args)
    n = len(arr_args[0])
    for i in range(n):
        one = fn(*scalar_args_of(i))
        got = out[i]
        if isinstance(got, np.generic):
            got = got.item()
        assert int(got) == int(one), (fn.__name__, i, got, one)


def _arr(xs):
    return np.array(xs, dtype=np.uint64)


@settings(max_examples=60, deadline=None)
@given(values, granules, levels, st.integers(min_value=25, max_value=52))
def test_table_index(xs, g, level, iasize):
    start = min(level, 3)
    a = _arr(xs)
    _same(lambda v: R.table_index(v, level, start, iasize, g), [a], lambda i: [xs[i]])
    if level < 3:
        _same(lambda v: R.table_index(v, level + 1, start, iasize, g), [a], lambda i: [xs[i]])


@settings(max_examples=60, deadline=None)
@given(values, values)
def test_descriptor_address(tables, idx):
    n = min(len(tables), len(idx))
    t = [x & ~0xFFF & ((1 << 52) - 1) for x in tables[:n]]
    j = [x & 0x1FF for x in idx[:n]]
    _same(R.descriptor_address, [_arr(t), _arr(j)], lambda i: [t[i], j[i]])


@settings(max_examples=80, deadline=None)
@given(values, st.integers(min_value=16, max_value=55), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_va_checks(xs, iasize, tbi, tbid, instr, upper):
    top = R.addr_top(tbi, tbid, instr)
    a = _arr(xs)
    _same(lambda v: R.va_is_out_of_range(v, iasize, top, upper), [a], lambda i: [xs[i]])
    _same(lambda v: R.s1_disabled_out_of_range(v, min(iasize, 52), top), [a], lambda i: [xs[i]])
    _same(R.s1_disabled_output, [a], lambda i: [xs[i]])
    _same(R.va_range, [a], lambda i: [xs[i]])


@settings(max_examples=80, deadline=None)
@given(values, granules, levels, st.booleans(), st.sampled_from([44, 48, 52]))
def test_descriptor_type(xs, g, level, ds, pa_max):
    a = _arr(xs)
    _same(lambda v: R.decode_descriptor_type(v, level, ds, g, pa_max), [a], lambda i: [xs[i]])


@settings(max_examples=80, deadline=None)
@given(values, granules, levels, st.booleans(), st.booleans())
def test_addresses(xs, g, level, ds, lpa64):
    a = _arr(xs)
    leafsize = R.level_shift(level, g)
    if leafsize > 47:
        leafsize = g
    _same(lambda v: R.next_table_base(v, g, ds, lpa64), [a], lambda i: [xs[i]])
    _same(lambda v: R.leaf_base(v, leafsize, ds, lpa64), [a], lambda i: [xs[i]])
    _same(lambda b, v: R.stage_oa(b, v, leafsize), [R.leaf_base(a, leafsize, ds, lpa64), a],
          lambda i: [R.leaf_base(xs[i], leafsize, ds, lpa64), xs[i]])
    for oa_bits in (32, 40, 48, 52):
        _same(lambda v: R.oa_out_of_range(v, np.uint64(oa_bits)), [a], lambda i: [xs[i] if False else xs[i]])


@settings(max_examples=80, deadline=None)
@given(values, values, granules, levels, st.booleans(), st.booleans())
def test_with_leaf_base_is_the_inverse_of_leaf_base(xs, oas, g, level, ds, lpa64):
    n = min(len(xs), len(oas))
    xs, oas = xs[:n], [o & ((1 << 52) - 1) for o in oas[:n]]
    lpa64, ds = lpa64 and g == 16, ds and g != 16          # (the formats that exist)
    leafsize = R.level_shift(level, g)
    if leafsize > 47:
        leafsize = g
    a, o = _arr(xs), _arr(oas)
    _same(lambda v, w: R.with_leaf_base(v, w, leafsize, ds, lpa64), [a, o], lambda i: [xs[i], oas[i]])
    wide = ds or lpa64
    for x, oa in zip(xs, oas):
        raw = R.with_leaf_base(x, oa, leafsize, ds, lpa64)
        # the descriptor now holds the output address (what its format can hold) ...
        held = oa & ~((1 << leafsize) - 1) & ((1 << (52 if wide else 48)) - 1)
        assert R.leaf_base(raw, leafsize, ds, lpa64) == held
        # ... and every other bit is as it was
        assert R.with_leaf_base(raw, R.leaf_base(x, leafsize, ds, lpa64), leafsize, ds, lpa64) == x


@settings(max_examples=40, deadline=None)
@given(values, st.lists(levels, min_size=1, max_size=40), granules)
def test_stage_oa_per_lane_leafsize(xs, lvls, g):
    n = min(len(xs), len(lvls))
    lv = np.array([min(max(x, 0), 3) for x in lvls[:n]], dtype=np.int8)
    sizes = R.level_shift(lv, g)
    a = _arr(xs[:n])
    base = R.leaf_base(a, g, False, False)
    out = R.stage_oa(base, a, sizes)
    for i in range(n):
        assert int(out[i]) == R.stage_oa(int(base[i]), xs[i], R.level_shift(int(lv[i]), g))
        assert int(sizes[i]) == R.level_shift(int(lv[i]), g)


@settings(max_examples=80, deadline=None)
@given(values, st.booleans(), st.booleans(), st.booleans())
def test_table_attrs_and_af(xs, hpd, two_el, ha):
    a = _arr(xs)
    _same(lambda v: R.table_attr_bits(v, hpd), [a], lambda i: [xs[i]])
    bits = R.table_attr_bits(a, False)
    for k in range(3):
        _same(lambda v: R.hierarchical_attrs(v, two_el)[k], [bits], lambda i: [int(bits[i])])
    _same(lambda v: R.af_fault(v, ha), [a], lambda i: [xs[i]])
    _same(lambda v: R.s2_walk_device(v & np.uint64(0xF), ha), [a], lambda i: [xs[i] & 0xF])


@settings(max_examples=40, deadline=None)
@given(values, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from(list(Access)))
def test_permission_tables_are_the_scalar_rules(xs, two_el, hd, el0, pan, wxn, access):
    """The vectorised permission judgement is a lookup in a table of the scalar rules."""
    from pgwalk.perms import s1_check, s1_direct_base_permissions, s2_check, s2_direct_base_permissions

    a = _arr(xs)
    tb = R.table_attr_bits(a[::-1].copy(), False)
    codes = R.s1_permission_code(a, tb)
    table = R.s1_permission_table(two_el, hd, access, el0, pan, True, wxn)
    for i, x in enumerate(xs):
        assert int(codes[i]) == R.s1_permission_code(x, int(tb[i]))
        ap_t, uxn_t, pxn_t = R.hierarchical_attrs(int(tb[i]), two_el)
        perms = s1_direct_base_permissions(two_el=two_el, ap=(x >> 6) & 3, uxn=bool(x >> 54 & 1),
                                           pxn=bool(x >> 53 & 1) and two_el, dbm=bool(x >> 51 & 1), hd=hd,
                                           ap_table=ap_t, uxn_table=uxn_t, pxn_table=pxn_t)
        assert table[codes[i]] == s1_check(perms, access, el0=el0, pan=pan, epan=True, wxn=wxn)
    c2 = R.s2_permission_code(a)
    t2 = R.s2_permission_table(hd, two_el, access, el0)
    for i, x in enumerate(xs):
        assert int(c2[i]) == R.s2_permission_code(x)
        perms = s2_direct_base_permissions(s2ap=(x >> 6) & 3, xn=(x >> 53) & 3, dbm=bool(x >> 51 & 1), hd=hd,
                                           xnx=two_el)
        assert t2[c2[i]] == s2_check(perms, access, el0=el0)


class _P:
    """A stand-in for walk parameters (only the fields the checks read)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


@settings(max_examples=60, deadline=None)
@given(values, st.integers(min_value=25, max_value=48), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), st.integers(min_value=0, max_value=1), st.sampled_from([None, *Access]))
def test_checks_as_data(xs, iasize, tbi, epd, e0pd, base_fault, el, access):
    p = _P(config_fault="", iasize=iasize, tbi=tbi, tbid=False, has_unprivileged=True, varange=1, e0pd=e0pd, epd=epd,
           ttbr_known=True, base_fault=base_fault, oa_bits=40, ha=False, ttbr_name="TTBR1_EL1", base=0)
    a = _arr(xs)
    for chk in R.S1_SETUP_CHECKS:
        out = np.broadcast_to(chk.test(p, a, access, el), a.shape)
        for i, x in enumerate(xs):
            assert bool(out[i]) == bool(chk.test(p, x, access, el)), chk.name
    for chk in R.TABLE_CHECKS:
        nxt = R.next_table_base(a, 12, False, False)
        out = chk.test(p, a, nxt)
        for i, x in enumerate(xs):
            assert bool(out[i]) == bool(chk.test(p, x, R.next_table_base(x, 12, False, False)))
    judge = lambda raw: R.af_fault(raw >> np.uint64(1) if hasattr(raw, "dtype") else raw >> 1, False)  # noqa: E731
    for chk in R.LEAF_CHECKS:
        out = chk.test(p, a, a, judge)
        for i, x in enumerate(xs):
            assert bool(out[i]) == bool(chk.test(p, x, x, judge)), chk.name


def test_check_order_is_the_architectures():
    """Fault priority, stated once: the order drivers iterate."""
    assert [c.name for c in R.S1_SETUP_CHECKS] == ["configuration", "VA range", "E0PD", "EPD", "table base known",
                                                   "table base size"]
    assert [c.fault for c in R.LEAF_CHECKS] == [FaultType.ADDRESS_SIZE, FaultType.ACCESS_FLAG, FaultType.PERMISSION]
    assert [c.name for c in R.S2_SETUP_CHECKS] == ["configuration", "IPA range", "table base size"]


@pytest.mark.parametrize("g", [12, 14, 16])
def test_geometry(g):
    """Level shifts and table sizes: 4KB 12/21/30/39, 16KB 14/25/36/47, 64KB 16/29/42."""
    assert [R.level_shift(lv, g) for lv in (3, 2, 1)] == [g, 2 * g - 3, 3 * g - 6]
    assert R.table_entries(2, 1, 48, g) == 1 << (g - 3)
    assert R.table_entries(0, 0, 48, 12) == 512 and R.table_entries(1, 1, 36, 12) == 64
    assert R.table_entries(0, 0, 40, 12) == 2    # a stage 2 start level narrower than a table


@settings(max_examples=60, deadline=None)
@given(values, st.integers(min_value=25, max_value=48), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), st.integers(min_value=0, max_value=1), st.sampled_from([None, *Access]), u64)
def test_checks_not_per_address_ignore_the_address(xs, iasize, tbi, epd, e0pd, base_fault, el, access, raw):
    """A check marked ``per_address=False`` (a driver evaluates it once per configuration or per
    descriptor) gives one answer whatever the address: the input address of a setup check, the
    output address of a leaf check."""
    p = _P(config_fault="" if base_fault else "bad", iasize=iasize, tbi=tbi, tbid=False, has_unprivileged=True,
           varange=1, e0pd=e0pd, epd=epd, ttbr_known=not epd, base_fault=base_fault, oa_bits=40, ha=tbi,
           ttbr_name="TTBR1_EL1", base=0, fwb=e0pd, ptw=True)
    judge = lambda r: R.af_fault(r, False)  # noqa: E731  (any function of the descriptor)
    fixed = [c for c in R.S1_SETUP_CHECKS + R.S2_SETUP_CHECKS if not c.per_address]
    assert {c.name for c in fixed} >= {"configuration", "EPD", "E0PD", "table base known", "table base size"}
    for chk in fixed:
        answers = {bool(chk.test(p, x, access, el)) for x in xs}
        answers.add(bool(chk.test(p, 0, access, el)))
        assert len(answers) == 1, chk.name
    for chk in R.LEAF_CHECKS + R.S2_WALK_LEAF_CHECKS:
        if not chk.per_address:
            answers = {bool(chk.test(p, raw, x, judge)) for x in xs}
            answers.add(bool(chk.test(p, raw, 0, judge)))
            assert len(answers) == 1, chk.name
    assert [c.name for c in R.LEAF_CHECKS if c.per_address] == ["output size"]


@settings(max_examples=80, deadline=None)
@given(values, st.integers(min_value=16, max_value=55), st.booleans(), st.booleans(), st.booleans(),
       st.integers(min_value=0, max_value=1), st.integers(min_value=0, max_value=1), st.sampled_from([None, *Access]),
       st.integers(min_value=32, max_value=56), u64)
def test_check_bits_are_the_test(xs, iasize, tbi, tbid, two_el, varange, el, access, oa_bits, raw):
    """Every per-address check states its test as a bit field too (``Check.bits``, what the scalar
    walk evaluates): ``address & mask != value`` holds exactly when ``test`` does, for any address,
    in every configuration (both VA ranges, TBI/TBID with and without an instruction fetch)."""
    p = _P(config_fault="", iasize=iasize, tbi=tbi, tbid=tbid, has_unprivileged=bool(two_el), varange=varange,
           e0pd=False, epd=False, ttbr_known=True, base_fault=False, oa_bits=oa_bits, ha=False,
           ttbr_name=f"TTBR{varange}_EL1", base=0)
    judge = lambda r: R.af_fault(r, False)  # noqa: E731
    top = R.addr_top(tbi, tbid, access is Access.EXEC)
    edges = [(1 << b) + d for b in (iasize, oa_bits, top, top + 1) for d in (-1, 0)]
    edges += [x | (((1 << 64) - 1) ^ ((1 << iasize) - 1)) for x in xs]      # the upper range's sign extension
    leaf_checks = R.LEAF_CHECKS + R.S2_WALK_LEAF_CHECKS
    per_address = [c for c in R.S1_SETUP_CHECKS + R.S2_SETUP_CHECKS + leaf_checks if c.per_address]
    assert {c.name for c in per_address} == {"VA range", "IPA range", "output size"}
    for chk in per_address:
        if chk in leaf_checks:       # test(p, raw, oa, judge)
            mask, value = chk.bits(p, raw, judge)
            test = lambda x: chk.test(p, raw, x, judge)  # noqa: E731
        else:                        # test(p, ia, access, el)
            mask, value = chk.bits(p, access, el)
            test = lambda x: chk.test(p, x, access, el)  # noqa: E731
        for x in xs + [e for e in edges if 0 <= e < 1 << 64]:
            assert (x & mask != value) == bool(test(x)), (chk.name, hex(x))
