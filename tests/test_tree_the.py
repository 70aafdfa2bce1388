"""dump-tree's stage 2 lookups of the stage 1 table fetches judge FEAT_THE's checks as the scalar walk:
the TopLevel check of the top-level table's fetch (VTCR_EL2.TL0/TL1 with S2PIR_EL2/S2POR_EL1 MRO-TL0,
MRO-TL1, MRO-TL01 entries) and the AssuredOnly check with the walk's Assured property so far
(VTCR_EL2.AssuredOnly, TCR2_EL1.PnCH, stage 2 MRO pages).  On random two-stage trees (the builder of
``tests/test_bulk_the_haft.py``), every VA of the trees is translated by :func:`pgwalk.walk.translate`
and the whole-tree walk must say the same: a fetch refused at stage 1 level L is a level L table with
status ``stage 2 fault`` whose note gives the scalar walk's fault and reason; otherwise the tables on
the VA's path are walked and the leaf gives the same PA or stage 2 fault."""

from __future__ import annotations

import pytest

from pgwalk.params import setup_from_registers
from pgwalk.tree import TableStatus, tree_params, walk_tree
from pgwalk.walk import translate
from test_bulk_the_haft import _random_tree
from test_tree_two_stage import _Collect



def _fetch_level(t) -> int:
    """The stage 1 level of the table fetch a stage 2 fault with S1PTW stopped (the trace's last stage 1 step)."""
    return [s for s in t.steps if s.stage == 1][-1].level


def _compare(setup, mem, vas, *, final_pa: bool, seen: dict) -> None:
    stages = "12" if final_pa else "1"
    for which in ("ttbr0", "ttbr1"):
        tree = tree_params(setup, which, final_pa=final_pa)
        c = _Collect()
        walk_tree(tree, mem, c, merge=False)
        for va in vas:
            if not tree.va_lo <= va < tree.va_hi:
                continue
            t = translate(setup, mem, va, stages=stages)
            path = sorted((x for x in c.tables if x.va_start <= va < x.va_end), key=lambda x: x.level)
            bad = [x for x in path if x.status is not TableStatus.OK]
            f = t.fault
            if f is not None and f.stage == 2 and f.s1ptw:
                assert [x.level for x in bad] == [_fetch_level(t)], (hex(va), f, [x.note for x in bad])
                (x,) = bad
                assert x.status is TableStatus.S2_FAULT
                assert f"stage 2 {f.type.value} fault level {f.level} ({f.reason})" in x.note, (hex(va), x.note)
                seen["toplevel"] += f.toplevel
                seen["assured_only"] += f.assured_only
                continue
            assert not bad, (hex(va), f, [x.note for x in bad])
            # fetches that pass: through an AssuredOnly stage 2 page, the walk being Assured so far
            seen["assured_fetch"] += any(s.stage == 2 and s.s1_level is not None and s.kind == "page"
                                         and s.raw >> 58 & 1 for s in t.steps)
            mapped = [r for r in c.runs if r.mapped and r.va_start <= va < r.va_end]
            if f is not None and f.stage == 1:
                assert not mapped or mapped[0].attrs.flags, hex(va)
                continue
            (r,) = mapped
            if not final_pa:
                assert r.oa + (va - r.va_start) == t.ipa, hex(va)
            elif f is None:
                assert r.s2.fault is None and r.pa + (va - r.va_start) == t.pa, hex(va)
            else:
                assert (r.s2.fault.type, r.s2.fault.level) == (f.type, f.level), hex(va)
            seen["ok"] += 1


@pytest.mark.parametrize("s2poe", [False, True])
@pytest.mark.parametrize("final_pa", [True, False])
def test_tree_fetches_judge_toplevel_and_assured_only_as_the_scalar_walk(s2poe, final_pa):
    """Random trees with TL0/TL1, S2PIE (and S2POE), AssuredOnly stage 2 pages holding stage 1
    tables, PnCH: both ranges (TTBR1 holds the same tree), stage 12 and stage 1 (IPAs)."""
    seen = dict.fromkeys(("toplevel", "assured_only", "assured_fetch", "ok"), 0)
    for seed in range(8):
        regs, mem, vas = _random_tree(seed, upper=True, s2poe=s2poe)
        _compare(setup_from_registers(regs), mem, vas, final_pa=final_pa, seen=seen)
    assert all(seen.values()), seen


def test_tree_fetches_without_the_checks_walk_every_table():
    """FEAT_THE's bits off (no TL0/TL1, no AssuredOnly): the same trees are walked wherever the scalar
    walk's fetches pass (the checks come only from the registers)."""
    seen = dict.fromkeys(("toplevel", "assured_only", "assured_fetch", "ok"), 0)
    for seed in range(4):
        regs, mem, vas = _random_tree(seed, the=False, upper=True)
        _compare(setup_from_registers(regs), mem, vas, final_pa=True, seen=seen)
    assert seen["ok"] and not seen["toplevel"] and not seen["assured_only"], seen


def test_the_notes_no_longer_say_dump_tree_does_not_judge():
    regs, _mem, _vas = _random_tree(2, upper=True)
    notes = " ".join(setup_from_registers(regs).notes)
    assert "TL0 = 1 (FEAT_THE)" in notes or "TL1 = 1 (FEAT_THE)" in notes
    assert "dump-tree" not in notes and "do not judge" not in notes and "does not judge" not in notes



def test_assured_follows_the_stage2_piece_of_each_descriptor():
    """A 64KB-granule stage 1 level 2 table fetched through sixteen 4KB stage 2 pages: the walk stays
    Assured after a descriptor of a MostlyReadOnly page and not after one of a read-write page
    (``rules.s1_assured_step`` with ``perms.s2_mro`` of the piece the descriptor was fetched from),
    so the level 3 table below the second, on an AssuredOnly page, is refused, as translate says."""
    from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, TwoStage
    from pgwalk.formats import descriptors as D
    from test_bulk_the_haft import MRO_TL01, TCR2_PNCH, VTCR_ASSUREDONLY, VTCR_S2PIE, VTCR_TL0

    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000, table_limit=0x4800_0000)
    s1 = TableBuilder(stage=1, granule=65536, ia_bits=48, table_base=0x8000_0000, table_limit=0x8010_0000,
                      pa_bits=40)
    ts = TwoStage(s1, s2, 0x4800_0000, 0x10_0000)
    vas = (0x1000_0000, 600 << 29 | 0x1000_0000)             # level 2 entries 0 and 600 (offset 4800)
    for n, va in enumerate(vas):
        ts.map(va, 0x1_0000_0000 + n * 0x10000, 0x10000, S1Attrs(), pa=0x9000_0000 + n * 0x10000,
               s2_attrs=S2Attrs())
    protected = 1 << D.S1_PROTECTED.lsb
    for va in vas:                                             # every stage 1 descriptor Protected
        for level in (1, 2, 3):
            addr = s1.descriptor_address(va, level)
            s1.write(addr, s1.read(addr) | protected)
    l2 = s1.descriptor_address(vas[0], 2) & ~0xFFFF
    rw_page = s2.descriptor_address(l2 + 0x1000, 3)            # the piece holding entry 600: PIIndex 0, RW
    s2.write(rw_page, s2.read(rw_page) & ~(1 << 6))
    for va in vas:                                             # the level 3 tables: AssuredOnly pages
        l3 = s1.descriptor_address(va, 3) & ~0xFFFF
        for k in range(16):
            addr = s2.descriptor_address(l3 + k * 0x1000, 3)
            s2.write(addr, s2.read(addr) | 1 << D.S2_ASSUREDONLY.lsb)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_S2PIE | VTCR_ASSUREDONLY | VTCR_TL0
    regs["S2PIR_EL2"] = MRO_TL01 << 4 | 0b1100 | 0b1100 << 8 | 0b1100 << 12
    regs["TCR2_EL1"] = TCR2_PNCH
    setup = setup_from_registers(regs)
    mem = ts.memory()
    first, second = (translate(setup, mem, va) for va in vas)
    assert first.ok and second.fault.assured_only and _fetch_level(second) == 3
    seen = dict.fromkeys(("toplevel", "assured_only", "assured_fetch", "ok"), 0)
    _compare(setup, mem, list(vas), final_pa=True, seen=seen)
    assert seen["assured_only"] == 1 and seen["assured_fetch"] == 1 and seen["ok"] == 1
    c = _Collect()
    walk_tree(tree_params(setup, "ttbr0"), mem, c)
    assert any(t.level == 2 and "in 16 stage 2 pieces" in t.note for t in c.tables)
