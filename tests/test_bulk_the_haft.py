"""Issue 17 on the vectorised walk: the stage 2 AssuredOnly check (FEAT_THE) and FEAT_HAFT's table
descriptor Access flag updates, judged by :func:`pgwalk.bulk.translate_many` through the rule
functions the scalar walk uses (``perms.s2_permission_fault`` with ``s1assured``,
``rules.s1_assured_step``, ``rules.table_af_update``), lane by lane equal to
:func:`pgwalk.walk.translate` on randomised two-stage trees built with :mod:`pgwalk.builder`."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pgwalk import bulk
from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.builder import S1Attrs, S2Attrs, two_stage
from pgwalk.formats import descriptors as D
from pgwalk.params import setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

PAGE = 0x1000
VTCR_HA, VTCR_ASSUREDONLY, VTCR_S2PIE, VTCR_HAFT = 1 << 21, 1 << 34, 1 << 36, 1 << 44
VTCR_TL1, VTCR_S2POE, VTCR_TL0 = 1 << 35, 1 << 37, 1 << 41
TCR_HA = 1 << 39
TCR2_PNCH, TCR2_HAFT = 1 << 0, 1 << 11
#: S2PIR_EL2 encodings drawn per PIIndex: no access, MRO, RO, RW, RWX, RO+pX
S2PI = (0b0000, 0b0010, 0b0010, 0b1000, 0b1100, 0b1111, 0b1010)
#: S2PIR_EL2 / S2POR_EL1 MostlyReadOnly encodings with the TopLevel0/1 attributes (FEAT_THE)
MRO, MRO_TL1, MRO_TL0, MRO_TL01 = 0b0010, 0b0011, 0b0110, 0b0111
AF = 1 << 10
#: the TTBR1 VA of a TTBR0 VA of the same table entries (48-bit VAs, both ranges walk one tree)
UPPER = 0xFFFF_0000_0000_0000


def _vas() -> list[int]:
    """32 pages: 2 GB regions x 4 2MB regions x 4 pages (12 stage 1 tables, distinct upper entries)."""
    return [(1 + g) << 30 | m << 21 | p << 12 for g in range(2) for m in range(4) for p in range(4)]


def _ipa(n: int) -> int:
    """The IPA of page ``n``: 8 stage 2 level 3 tables (2MB regions), so their table descriptors differ."""
    return 0x1000_0000 + (n % 8) * 0x20_0000 + (n // 8) * PAGE


def _pi_bits(rng: random.Random) -> int:
    """Random stage 2 PIIndex bits: S2AP[0] (6), DBM (51), XN[1:0] (54:53)."""
    return rng.randrange(2) << 6 | rng.randrange(2) << 51 | rng.randrange(4) << 53


def _random_tree(seed: int, *, the: bool = True, haft: bool = False, upper: bool = False, s2poe: bool = False,
                 leaf_af: bool = False):
    """A two-stage tree with random FEAT_THE bits (stage 1 Protected bit 52 on tables and leaves,
    stage 2 AssuredOnly bit 58 on the data pages and, less often, on the pages holding the stage 1
    tables, stage 2 PIIndex of both, mostly PIIndex 1, under a random S2PIR_EL2 whose entry 1 is
    MRO, mostly with TopLevel0/1, and random VTCR_EL2.TL0/TL1), random table AF bits (FEAT_HAFT),
    and a few invalid leaves at either stage; ``(regs, mem, vas)``.  ``upper``: TTBR1_EL1 holds the
    same tree as TTBR0_EL1, and the VAs are those of both ranges.  ``s2poe``: VTCR_EL2.S2POE with a
    random S2POR_EL1 (MRO encodings with and without TopLevel0/1, RO, RW) and random S2POIndex on
    the pages holding the stage 1 tables.  ``leaf_af``: VTCR_EL2.HA, and AF = 0 on about half the stage 2
    leaves of the pages holding the stage 1 tables (70 %) and of the data pages (50 %): their hardware
    AF updates."""
    rng = random.Random(seed)
    ts = two_stage()
    vas = _vas()
    for n, va in enumerate(vas):
        ts.map(va, _ipa(n), PAGE, S1Attrs(), pa=0x9000_0000 + n * PAGE, s2_attrs=S2Attrs(s2ap=0b01))
    regs = ts.registers(regs={"HCR_EL2": 1})
    if upper:
        regs = ts.registers(ttbr=0, regs=ts.registers(ttbr=1, regs={"HCR_EL2": 1}))
    mem = ts.memory()
    setup = setup_from_registers(regs)
    s1_descs: set[int] = set()
    s2_leaves: set[int] = set()
    s2_tables: set[int] = set()
    fetch_leaves: set[int] = set()
    s1_tables: set[int] = set()
    for va in vas:
        steps = translate(setup, mem, va).steps
        for step in steps:
            if step.stage == 1:
                s1_descs.add(step.desc_addr)
                if step.kind == "table":
                    s1_tables.add(step.desc_addr)
            elif step.kind == "table":
                s2_tables.add(step.desc_pa)
            elif step is steps[-1]:
                s2_leaves.add(step.desc_pa)
            else:
                fetch_leaves.add(step.desc_pa)
    for addr in sorted(s1_descs):
        raw = ts.s1.read(addr)
        if the and rng.random() < (0.96 if addr in s1_tables else 0.7):
            raw |= 1 << D.S1_PROTECTED.lsb
        if raw & 2 and rng.random() < 0.5:             # a table (levels 0-2) or a page: AF drawn
            raw = (raw & ~AF) | rng.randrange(2) * AF
        if rng.random() < 0.04:
            raw = 0                                    # invalid: a Translation fault at stage 1
        ts.s1.write(addr, raw)
    for addr in sorted(fetch_leaves - s2_leaves):       # the pages of the stage 1 tables: mostly MRO
        raw = ts.s2.read(addr)
        if rng.random() < 0.12:
            raw = (raw & ~(1 << 6 | 1 << 51 | 3 << 53)) | _pi_bits(rng)
        if the and rng.random() < 0.4:
            raw |= 1 << D.S2_ASSUREDONLY.lsb
        if s2poe:
            raw |= rng.randrange(4) << D.S2_POINDEX.lsb
        if leaf_af and rng.random() < 0.7:
            raw &= ~AF
        ts.s2.write(addr, raw)
    for addr in sorted(s2_leaves):
        raw = (ts.s2.read(addr) & ~(1 << 6 | 1 << 51 | 3 << 53)) | _pi_bits(rng)
        if the and rng.random() < 0.6:
            raw |= 1 << D.S2_ASSUREDONLY.lsb
        if rng.random() < 0.03:
            raw = 0
        if leaf_af and rng.random() < 0.5:
            raw &= ~AF
        ts.s2.write(addr, raw)
    for addr in sorted(s2_tables):
        if rng.random() < 0.5:
            ts.s2.write(addr, ts.s2.read(addr) | AF)
    s2pir = sum(rng.choice(S2PI) << 4 * i for i in range(16))
    mro = rng.choice((MRO_TL01,) * 5 + (MRO_TL0, MRO_TL0, MRO_TL1, MRO)) if the else MRO
    s2pir = (s2pir & ~(0xF << 4)) | mro << 4           # PIIndex 1 (S2AP = 0b01 or 0b11): MRO
    tl = (VTCR_TL0 if rng.random() < 0.7 else 0) | (VTCR_TL1 if rng.random() < 0.5 else 0) if the else 0
    regs["VTCR_EL2"] |= VTCR_S2PIE | (VTCR_ASSUREDONLY if the else 0) | (VTCR_HA | VTCR_HAFT if haft else 0) | tl \
        | (VTCR_HA if leaf_af else 0)
    regs["S2PIR_EL2"] = s2pir
    if s2poe:                                          # S2POR_EL1 entries 0-3: mostly MRO with TopLevel
        regs["VTCR_EL2"] |= VTCR_S2POE
        regs["S2POR_EL1"] = sum(rng.choice((MRO_TL01, MRO_TL01, MRO_TL0, MRO_TL1, MRO, 0b1000, 0b1100)) << 4 * i
                                for i in range(4)) | 0b1100 << 4 * 4  # entry 4 ... : RW (no overlay effect)
    if upper:
        vas = vas + [va | UPPER for va in vas]
    regs["TCR2_EL1"] = (TCR2_PNCH if the and rng.random() < 0.85 else 0) | (TCR2_HAFT if haft else 0)
    if haft:
        regs["TCR_EL1"] |= TCR_HA
    return regs, ts.memory(), vas


def _flags(f) -> tuple:
    return None if f is None else (f.type, f.level, f.stage, f.s1ptw, f.fsc, f.overlay, f.dirty_bit, f.assured_only,
                                   f.toplevel, f.ipa, f.not_in_image)


def _compare(setup, mem, vas, access, el, stages=None, **kw):
    """Bulk and scalar agree lane by lane; returns the scalar translations."""
    res = bulk.translate_many(setup, mem, np.array(vas, dtype=np.uint64), access=access, el=el, stages=stages, **kw)
    out = []
    for i, va in enumerate(vas):
        t = translate(setup, mem, va, access=access, el=el, stages=stages)
        b = res.translation(i)
        assert _flags(res.fault(i)) == _flags(t.fault), (hex(va), access, el, t.fault)
        assert (b.ipa, b.pa) == (t.ipa, t.pa), hex(va)
        assert b.af_updates == t.af_updates, (hex(va), b.af_updates, t.af_updates)
        out.append(t)
    return out


def test_bulk_judges_assured_only_as_the_scalar_walk():
    """ASL ``AArch64.S2CheckPermissions`` with ``s1assured`` from ``AArch64.S1InitialTTWState`` and
    ``S1NextWalkStateTable``/``Leaf``: every lane's fault (type, level, stage, S1PTW, AssuredOnly and
    the other flags) and output are the scalar walk's, for every access and EL, over random trees;
    both verdicts of the check occur (an AssuredOnly page denied, and permitted after an Assured
    stage 1 translation)."""
    seen = {"assured_only": 0, "permitted_on_assured_only_page": 0}
    for seed in range(8):
        regs, mem, vas = _random_tree(seed)
        setup = setup_from_registers(regs)
        assert setup.s2.perm.assuredonly
        for access in (None, Access.READ, Access.WRITE, Access.EXEC, Access.ANY):
            for el in (0, 1):
                for t in _compare(setup, mem, vas, access, el):
                    if t.fault is not None and t.fault.assured_only:
                        seen["assured_only"] += 1
                    if access is not None and t.ok and t.s2 is not None and t.s2.perms.assured_only:
                        assert setup.ranges[0].pnch
                        seen["permitted_on_assured_only_page"] += 1
    assert all(seen.values()), seen


@pytest.mark.parametrize("budget, chunk", [(0, 5), (600, 11), (None, bulk.CHUNK)])
def test_assured_only_through_trees_and_chunks(budget, chunk, monkeypatch):
    """The Assured property rides with every path of the vectorised walk: the per-descriptor upper
    levels (bulk._Tree, cut short by bulk.TREE_ENTRIES) and the lane-by-lane levels, in chunks."""
    if budget is not None:
        monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    for seed in (1, 4):
        regs, mem, vas = _random_tree(seed)
        setup = setup_from_registers(regs)
        _compare(setup, mem, vas * 2, Access.READ, 1, chunk=chunk)


def test_bulk_at_gives_the_scalar_par_with_assured_only_and_toplevel():
    """PAR_EL1.AssuredOnly [12] and PAR_EL1.TopLevel [13] (ASL ``AArch64.EncodePAR``) from the
    vectorised AT equal the scalar AT's, both flags occurring (TTBR0 and TTBR1 VAs)."""
    from pgwalk.formats.registers import PAR_EL1_FAULT
    seen = {"AssuredOnly": 0, "TopLevel": 0}
    for seed in range(4):
        regs, mem, vas = _random_tree(seed, upper=True)
        for op in ("S12E1R", "S12E1W", "S12E0R", "S1E1R"):
            got = [int(x) for x in bulk_at(regs, mem, op, vas).par]
            want = [at(regs, mem, op, va).par for va in vas]
            assert got == want, op
            for name in seen:
                seen[name] += sum(PAR_EL1_FAULT[name].get(par) for par in want)
    assert all(seen.values()), seen


def test_bulk_reports_haft_table_af_updates():
    """ASL ``AArch64.S1Walk`` / ``S2Walk`` (FEAT_HAFT, TCR2_EL1.HAFT and VTCR_EL2.HAFT with HA): the
    table descriptors with AF = 0 a walk uses get AF set, faulting walks included, at stage 1, in
    the stage 2 walks of the stage 1 fetches and in the translation's own stage 2 walk: the
    vectorised walk's ``BulkTranslation.table_af`` lists what the scalar walk's ``af_updates`` do,
    in the same order."""
    kinds = set()
    for seed in range(4):
        regs, mem, vas = _random_tree(seed, the=False, haft=True)
        setup = setup_from_registers(regs)
        assert setup.ranges[0].haft and setup.s2.haft
        for access in (None, Access.WRITE):
            for t in _compare(setup, mem, vas, access, 1):
                kinds |= {(u.stage, u.s1_level is not None) for u in t.af_updates if u.table}
                if t.fault is not None and any(u.table for u in t.af_updates):
                    kinds.add("fault")
    assert kinds == {(1, False), (2, True), (2, False), "fault"}, kinds
    # stage 1 alone (the fetches still go through stage 2) and stage 2 alone
    res = bulk.translate_many(setup, mem, np.array(vas, dtype=np.uint64), stages="1")
    assert [res.translation(i).af_updates for i in range(len(vas))] == \
        [translate(setup, mem, va, stages="1").af_updates for va in vas]
    ipas = [_ipa(n) for n in range(len(vas))]
    res = bulk.translate_many(setup, mem, np.array(ipas, dtype=np.uint64), stages="2")
    assert [res.translation(i).af_updates for i in range(len(ipas))] == \
        [translate(setup, mem, ipa, stages="2").af_updates for ipa in ipas]


@pytest.mark.parametrize("haft", [False, True])
@pytest.mark.parametrize("budget", [0, 700, None])
def test_bulk_reports_the_fetches_stage2_leaf_af_updates(haft, budget, monkeypatch):
    """ASL ``AArch64.S2Translate`` with ``AArch64.SetAccessFlag`` (VTCR_EL2.HA): the stage 2 leaf of
    each stage 1 table fetch whose AF is 0 gets AF set when the fetch passes its checks, faulting
    stage 1 walks included: the vectorised walk lists them (``BulkTranslation.walk_af_updates``,
    ``translation(i).af_updates``) as the scalar walk does, lane by lane and in the same order
    among the table updates (FEAT_HAFT or not), through the descriptor tree (every budget: the
    upper levels per descriptor, cut short, or lane by lane) and in small chunks."""
    if budget is not None:
        monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    seen = {"fetch leaf": 0, "fault after": 0, "levels": set()}
    for seed in range(6):
        regs, mem, vas = _random_tree(seed, the=seed % 3 == 0, haft=haft, upper=seed == 4, leaf_af=True)
        setup = setup_from_registers(regs)
        assert setup.s2.ha and setup.s2.haft == haft
        for access, stages in ((None, None), (Access.READ, None), (Access.WRITE, "1")):
            for t in _compare(setup, mem, vas, access, 1, stages=stages, chunk=11):
                ups = [u for u in t.af_updates if u.stage == 2 and u.s1_level is not None and not u.table]
                seen["fetch leaf"] += len(ups)
                seen["fault after"] += bool(ups) and t.fault is not None
                seen["levels"] |= {u.s1_level for u in ups}
    assert seen["fetch leaf"] and seen["fault after"] and seen["levels"] == {0, 1, 2, 3}, seen


def test_no_stage2_ha_no_fetch_leaf_updates():
    """Without VTCR_EL2.HA a stage 2 leaf with AF = 0 is an Access flag fault of the fetch, not an
    update: no lane lists one, and the result holds no per-lane update array."""
    regs, mem, vas = _random_tree(1, the=False, leaf_af=True)
    regs["VTCR_EL2"] &= ~VTCR_HA
    setup = setup_from_registers(regs)
    res = bulk.translate_many(setup, mem, np.array(vas, dtype=np.uint64))
    assert res.table_af.strides == (0,)
    faults = [translate(setup, mem, va).fault for va in vas]
    assert any(f is not None and f.s1ptw and f.type.name == "ACCESS_FLAG" for f in faults)
    assert [res.fault(i) is not None and res.fault(i).s1ptw for i in range(len(vas))] == \
        [f is not None and f.s1ptw for f in faults]
    assert not any(res.translation(i).af_updates for i in range(len(vas)))


@pytest.mark.parametrize("budget", [0, 700])
def test_haft_through_small_trees(budget, monkeypatch):
    """Table AF updates and the Assured property together, through trees cut short (faults of the
    stage 1 fetches included: their stage 2 walks' table updates count)."""
    monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    for seed in range(4):
        regs, mem, vas = _random_tree(seed, the=True, haft=True)
        _compare(setup_from_registers(regs), mem, vas, Access.READ, 1, chunk=9)


def test_no_haft_no_table_af_array():
    """Without HAFT the result holds no per-lane table AF array (a broadcast zero)."""
    regs, mem, vas = _random_tree(0, the=False)
    res = bulk.translate_many(setup_from_registers(regs), mem, np.array(vas, dtype=np.uint64))
    assert res.table_af.strides == (0,) and not res.table_af.any()
    assert all(not any(u.table for u in res.translation(i).af_updates) for i in range(len(vas)))


# --------------------------------------------------------------------------- tree.py (dump-tree)

def test_tree_stage2_lookups_collect_haft_updates():
    """The whole-tree walk's stage 2 lookups (``pgwalk.tree``: the fetches of the stage 1 tables and
    the stage 2 lookups of the leaves' outputs) report the FEAT_HAFT table updates the scalar walk
    reports for them: a table's ``TableInfo.table_af_updates`` are those of the fetch of its
    descriptors, a run's ``Stage2.table_af_updates`` those of its output's stage 2 walk."""
    from pgwalk.tree import TableStatus, TreeVisitor, tree_params, walk_tree

    tables, runs = [], []

    class Collect(TreeVisitor):
        def table_pre(self, table):
            tables.append(table)

        def run(self, run):
            runs.append(run)

    seen = {"tables": 0, "runs": 0}
    for seed in range(4):
        regs, mem, vas = _random_tree(seed, the=False, haft=True)
        setup = setup_from_registers(regs)
        tables.clear()
        runs.clear()
        walk_tree(tree_params(setup, "ttbr0"), mem, Collect(), merge=False)
        for va in vas:
            t = translate(setup, mem, va, stages="1")
            fetches = {}
            for u in t.af_updates:
                if u.table and u.stage == 2:
                    fetches.setdefault(u.s1_level, []).append(u)
            for info in tables:
                if info.status is TableStatus.OK and info.va_start <= va < info.va_end:
                    assert list(info.table_af_updates) == fetches.get(info.level, []), (hex(va), info.level)
                    seen["tables"] += bool(info.table_af_updates)
            mapped = [r for r in runs if r.mapped and r.va_start <= va < r.va_end]
            if t.ok:
                (r,) = mapped
                want = tuple(u for u in translate(setup, mem, t.ipa, stages="2").af_updates if u.table)
                assert r.s2.table_af_updates == want, hex(va)
                seen["runs"] += bool(want)
    assert all(seen.values()), seen
    # without HAFT nothing is collected
    regs, mem, vas = _random_tree(1, the=False)
    tables.clear()
    runs.clear()
    walk_tree(tree_params(setup_from_registers(regs), "ttbr0"), mem, Collect(), merge=False)
    assert not any(t.table_af_updates for t in tables) and not any(r.s2 and r.s2.table_af_updates for r in runs)


def test_bulk_judges_gcsh_as_the_scalar_walk():
    """VTCR_EL2.GCSH (FEAT_GCS): a GCS access from EL1 to a stage 2 page without AssuredOnly faults
    (ASL ``AArch64.S2CheckPermissions``, ``fault.assuredonly``); with VTCR_EL2.AssuredOnly too, pages
    with desc[58] pass.  The vectorised walk agrees lane by lane (it used to refuse GCS accesses)."""
    for the in (False, True):
        regs, mem, vas = _random_tree(5, the=the)
        regs["VTCR_EL2"] |= 1 << 40                      # GCSH
        setup = setup_from_registers(regs)
        assert setup.s2.perm.gcsh
        faults = 0
        for access in (Access.GCS_READ, Access.GCS_WRITE, Access.READ):
            for el in (0, 1):
                for t in _compare(setup, mem, [_ipa(n) for n in range(len(vas))], access, el, stages="2"):
                    faults += t.fault is not None and t.fault.assured_only
                    if not the:          # GCSH alone: only a GCS access from EL1 faults
                        assert not (t.fault is not None and t.fault.assured_only) or (access.is_gcs and el == 1)
        assert faults


@pytest.mark.parametrize("budget", [0, 700, None])
@pytest.mark.parametrize("s1_level", [0, 3])
def test_haft_updates_of_a_faulting_fetch(budget, s1_level, monkeypatch):
    """ASL ``AArch64.S2Walk``: a stage 2 walk sets AF in its table descriptors on the way down even
    when it then faults; here the stage 2 walk of the stage 1 fetch at ``s1_level`` finds an
    invalid stage 2 page (an S1PTW Translation fault).  Bulk reports the same updates as the scalar
    walk, the per-descriptor tree levels and the lane-by-lane ones alike."""
    if budget is not None:
        monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    ts = two_stage()
    vas = _vas()
    for n, va in enumerate(vas):
        ts.map(va, _ipa(n), PAGE, S1Attrs(), pa=0x9000_0000 + n * PAGE)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_HA | VTCR_HAFT
    mem = ts.memory()
    setup = setup_from_registers(regs)
    step = [s for s in translate(setup, mem, vas[-1]).steps if s.stage == 1 and s.level == s1_level][0]
    fetch_leaf = [s for s in translate(setup, mem, step.desc_addr, stages="2").steps][-1]
    ts.s2.write(fetch_leaf.desc_pa, 0)                  # the page holding that stage 1 table: unmapped
    mem = ts.memory()
    faulted = 0
    for t in _compare(setup, mem, vas, Access.READ, 1, chunk=7):
        if t.fault is not None and t.fault.s1ptw:
            faulted += 1
            assert [u for u in t.af_updates if u.s1_level == s1_level and u.table]
    assert faulted


# --------------------------------------------------------------------------- FEAT_THE checks of table fetches

def _fetch_fault(setup, t) -> tuple | None:
    """What a FEAT_THE Permission fault of a stage 1 table fetch is: (kind, VA range, VTCR_EL2.TL0,
    TL1, the stage 1 level of the fetch -- from the scalar trace, whose last step is that fetch)."""
    f = t.fault
    if f is None or not f.s1ptw or not (f.toplevel or f.assured_only):
        return None
    last = t.steps[-1]
    assert (last.stage, last.kind) == (1, "s2 fault")
    perm = setup.s2.perm
    return ("toplevel" if f.toplevel else "assured_only", t.va >> 63, perm.tl0, perm.tl1, last.level)


@pytest.mark.parametrize("budget, chunk", [(0, 7), (300, 13), (None, bulk.CHUNK)])
@pytest.mark.parametrize("s2poe", [False, True])
def test_bulk_judges_the_fetch_checks_as_the_scalar_walk(budget, chunk, s2poe, monkeypatch):
    """ASL ``AArch64.S1Walk`` / ``CreateAccDescS1TTW`` / ``AArch64.S2CheckPermissions`` (Arm ARM
    M.a.a): the stage 2 walk of each stage 1 table fetch meets the TopLevel check when it fetches the
    top-level table (VTCR_EL2.TL0/TL1 against the page's TopLevel0/1, per VA range, through S2PIR_EL2
    and, with S2POE, S2POR_EL1) and the AssuredOnly check with the walk's Assured property so far
    (started per ``AArch64.S1InitialTTWState``).  The vectorised walk gives every lane the scalar
    walk's fault and flags, through the per-descriptor tree levels (cut short by
    bulk.TREE_ENTRIES) and the lane-by-lane ones, in chunks, lanes of both VA ranges shuffled
    together; the faults reached: TopLevel for TTBR0 and TTBR1 walks under TL0 and TL1, AssuredOnly
    on fetches at three stage 1 levels at least."""
    if budget is not None:
        monkeypatch.setattr(bulk, "TREE_ENTRIES", budget)
    seen = set()
    lost = 0            # AssuredOnly below the top level of a walk that started Assured, PnCH off
    for seed in range(10):
        regs, mem, vas = _random_tree(seed, upper=True, s2poe=s2poe)
        if seed % 2:                # PnCH off: no descriptor is Protected, the walk is Assured at its start only
            regs["TCR2_EL1"] &= ~TCR2_PNCH
        setup = setup_from_registers(regs)
        lanes = vas * 2
        random.Random(seed).shuffle(lanes)
        for access in (None, Access.READ):
            for t in _compare(setup, mem, lanes, access, 1, chunk=chunk):
                what = _fetch_fault(setup, t)
                if what is not None:
                    seen.add(what)
                    kind, r, tl0, tl1, level = what
                    lost += kind == "assured_only" and level > 0 and (tl1 if r else tl0) and not setup.ranges[r].pnch
    assert lost
    top = {(r, tl0, tl1) for kind, r, tl0, tl1, _lv in seen if kind == "toplevel"}
    assert {r for r, _, _ in top} == {0, 1} and any(tl0 for _, tl0, _ in top) and any(tl1 for _, _, tl1 in top), top
    assert all(lv == 0 for kind, *_, lv in seen if kind == "toplevel")        # the top-level table only
    assert len({lv for kind, *_, lv in seen if kind == "assured_only"}) >= 3, seen
