"""dump-tree shows the Access flag updates the hardware would make (issue 17): FEAT_HAFT table descriptors
(TCR2_EL1.HAFT, VTCR_EL2.HAFT: a table descriptor with AF = 0 gets AF set by a walk through it) and HA
leaves (AF = 0), at both stages and for the stage 2 walks fetching the stage 1 tables.

Every run's ``af_updates`` (:attr:`pgwalk.tree.Run.af_updates`, the records' ``af_updates``) must be
what ``translate`` reports (``Translation.af_updates``) for each address of it, in the same order, and
the tables on the way must account for the walk's updates above the leaf (:attr:`TableInfo.af_updates`):
on random two-stage trees (the builder of ``tests/test_bulk_the_haft.py``) for ``--stage 12``, ``1``
and ``2``, on random stage 1 trees without stage 2, and on stage 1 blocks that stage 2 maps in pieces
whose AF differs.  Then the CLI: text views, ``--json`` against ``translate --json --trace``, schema."""

from __future__ import annotations

import json
import random

import pytest

from cli_helpers import run
from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder, TwoStage
from pgwalk.params import setup_from_registers
from pgwalk.tree import RangeMerger, Visit, run_record, table_record, tree_params, walk_tree
from pgwalk.walk import translate
from test_af_updates_cli import VA, _tree
from test_bulk_the_haft import AF, TCR2_HAFT, TCR_HA, VTCR_HA, _ipa, _random_tree
from test_tree import random_tree
from test_tree_two_stage import _Collect



def _clear_s2_leaf_af(setup, mem, vas, seed):
    """A copy of ``mem`` with AF = 0 in about half the stage 2 leaves the walks of ``vas`` use (those of
    the stage 1 fetches and of the outputs)."""
    from pgwalk.memory import PhysicalMemory

    rng = random.Random(seed)
    chunks = {r.base: bytearray(mem.read(r.base, r.size)) for r in mem.regions}
    for va in vas:
        for step in translate(setup, mem, va).steps:
            if step.stage == 2 and step.kind == "page" and rng.random() < 0.5:
                base = next(b for b, c in chunks.items() if b <= step.desc_pa < b + len(c))
                off = step.desc_pa - base
                raw = int.from_bytes(chunks[base][off:off + 8], "little") & ~AF
                chunks[base][off:off + 8] = raw.to_bytes(8, "little")
    return PhysicalMemory.from_buffers(chunks)


def _kinds(updates) -> set:
    return {(u.stage, u.s1_level is not None, u.table) for u in updates}


def _check(setup, mem, tree, addrs, stages) -> set:
    """Each address: its run's af_updates are translate's, and its path's tables give those above the leaf."""
    c = _Collect()
    walk_tree(tree, mem, c, merge=False)
    kinds = set()
    for va in addrs:
        t = translate(setup, mem, va, stages=stages)
        path = sorted((x for x in c.tables if x.va_start <= va < x.va_end), key=lambda x: x.level)
        above = sum((x.af_updates for x in path), ())
        runs = [r for r in c.runs if r.attrs is not None and r.va_start <= va < r.va_end]
        if runs:
            (r,) = runs
            assert r.af_updates == t.af_updates, (hex(va), r.af_updates, t.af_updates)
            # (a table stage 2 maps in pieces lists every piece's fetch updates; an entry has its piece's)
            assert r.attrs.path_af_updates == above or (any("stage 2 pieces" in x.note for x in path)
                                                        and set(r.attrs.path_af_updates) < set(above))
            rec = run_record(r, tree)
            assert rec["af_updates"] == [u._asdict() for u in t.af_updates]
        else:                           # a fault on the way (a fetch, an invalid descriptor): the path's updates
            assert t.fault is not None and above == t.af_updates, (hex(va), t.fault, above, t.af_updates)
        for x in path:
            assert table_record(x, tree)["af_updates"] == [u._asdict() for u in x.af_updates]
        kinds |= _kinds(t.af_updates)
    return kinds


@pytest.mark.parametrize("the", [False, True])
def test_two_stage_trees_report_translates_af_updates(the):
    """Stage 1 trees with final PAs (``--stage 12``) and IPAs (``--stage 1``), and the stage 2 tree:
    every kind of update occurs (stage 1 tables and leaf, the stage 2 tables and leaf of the stage 1
    fetches and of the output's walk)."""
    kinds = set()
    for seed in range(6):
        regs, mem, vas = _random_tree(seed, the=the, haft=True)
        setup = setup_from_registers(regs)
        mem = _clear_s2_leaf_af(setup, mem, vas, seed)
        for final_pa, stages in ((True, "12"), (False, "1")):
            kinds |= _check(setup, mem, tree_params(setup, "ttbr0", final_pa=final_pa), vas, stages)
        kinds |= _check(setup, mem, tree_params(setup, "s2"), [_ipa(n) for n in range(len(vas))], "2")
    assert kinds == {(1, False, True), (1, False, False), (2, True, True), (2, True, False), (2, False, True),
                     (2, False, False)}, kinds


def test_without_ha_nothing_is_reported():
    regs, mem, vas = _random_tree(1, the=False)
    setup = setup_from_registers(regs)
    c = _Collect()
    walk_tree(tree_params(setup, "ttbr0"), mem, c)
    assert not any(t.af_updates for t in c.tables) and not any(r.af_updates for r in c.runs)
    assert all(r.af_updates is None for r in c.runs if r.attrs is None)


@pytest.mark.parametrize("seed", range(4))
def test_stage1_trees_without_stage2(seed):
    """TCR2_EL1.HAFT with HA, table and leaf descriptors with AF drawn at random."""
    rng = random.Random(seed)
    b = random_tree(rng, ttbr=1)
    regs = b.registers(ttbr=1)
    regs["TCR_EL1"] |= TCR_HA
    regs["TCR2_EL1"] = TCR2_HAFT
    setup = setup_from_registers(regs)
    assert setup.s2 is None and setup.ranges[1].haft
    tree = tree_params(setup, "ttbr1")
    mem = b.memory()
    leaves = [r.va_start for r in _runs(tree, mem)]
    for va in leaves:
        for step in translate(setup, mem, va).steps:
            if rng.random() < 0.4:         # tables and leaves
                b.write(step.desc_addr, b.read(step.desc_addr) & ~AF)
    mem = b.memory()
    kinds = _check(setup, mem, tree, leaves + [va + 0x1234 for va in leaves], "1")
    assert kinds == {(1, False, True), (1, False, False)}, kinds


def test_no_leaf_update_beyond_the_output_size():
    """An output beyond the output size is an Address size fault before the Access flag is set: a leaf
    with AF = 0 and HA there reports no update (its twin inside the output size does)."""
    b = TableBuilder(granule=65536, ia_bits=48, pa_bits=48)
    b.map(0x10000, 0x8000_0000, 0x20000, S1Attrs(af=0))
    b.set_descriptor(0x10000, 3, b.leaf_descriptor(0x8000_0000, 3, S1Attrs(af=0)) | (1 << 12))
    regs = b.registers(ttbr=0)
    regs["TCR_EL1"] |= TCR_HA
    setup = setup_from_registers(regs)
    beyond, inside = _runs(tree_params(setup, "ttbr0"), b.memory())
    assert translate(setup, b.memory(), 0x10000).af_updates == beyond.af_updates == ()
    assert translate(setup, b.memory(), 0x20000).af_updates == inside.af_updates == ((1, 3, None, False),)


def _runs(tree, mem):
    c = _Collect()
    walk_tree(tree, mem, c, visits=Visit.LEAF, merge=False)
    return c.runs


def test_stage2_pieces_whose_af_differs_are_split():
    """A 1GB stage 1 block over stage 2 2MB blocks and 4KB pages with AF = 0 (VTCR_EL2.HA): the
    stage 2 leaf updated is at level 2 or 3, so the pieces differ though nothing else does; pages
    with AF = 1 between them update nothing.  Every merged range says what translate says for
    addresses at its start, end and inside."""
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000, table_limit=0x4800_0000)
    s1 = TableBuilder(stage=1, granule=4096, ia_bits=48, table_base=0x8000_0000, table_limit=0x8100_0000,
                      pa_bits=40)
    ts = TwoStage(s1, s2, 0x4800_0000, 0x100_0000)
    big = s1.block_size(1)
    ipa, pa = 0x40_0000_0000, 0x3_0000_0000
    s1.map(0x80_0000_0000, ipa, big, S1Attrs(), max_leaf_level=1)
    s2.map(ipa, pa, 4 * s2.block_size(2), S2Attrs(af=0), min_leaf_level=2, max_leaf_level=2)
    pages = ipa + 4 * s2.block_size(2)
    for k in range(64):
        s2.map(pages + k * 4096, pa + 0x80_0000 + k * 4096, 4096, S2Attrs(af=int(k % 8 >= 4)), min_leaf_level=3)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_HA
    setup = setup_from_registers(regs)
    mem = ts.memory()
    tree = tree_params(setup, "ttbr0")
    out = []
    m = RangeMerger(out.append)
    walk_tree(tree, mem, m, visits=Visit.LEAF | Visit.TABLE_PRE)
    m.finish()
    levels = set()
    for r in out:
        if r.va_start >= 0x80_0000_0000 + 4 * s2.block_size(2) + 64 * 4096:
            break
        for va in (r.va_start, r.va_end - 8, (r.va_start + r.va_end) // 2 & ~7):
            t = translate(setup, mem, va)
            assert r.af_updates == t.af_updates, (hex(va), r.af_updates, t.af_updates)
            levels |= {u.level for u in t.af_updates if u.stage == 2}
    assert levels == {2, 3}
    # the four blocks make one range, then 4 page pieces with the update, 4 without, ...
    assert [r.size for r in out[:3]] == [4 * s2.block_size(2), 4 * 4096, 4 * 4096]


# --------------------------------------------------------------------------- the CLI

def test_cli_json_records_carry_translates_af_updates(tmp_path, capsys):
    args, regs, mem = _tree(tmp_path)
    want = json.loads(run(["translate", hex(VA), *args, "--json", "--trace"], capsys)[1])["af_updates"]
    assert want
    rc, out, err = run(["dump-tree", *args, "--ttbr0", "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    (rec,) = [json.loads(x) for x in out.splitlines() if '"range"' in x]
    assert rec["af_updates"] == want
    rc, out, err = run(["dump-tree", *args, "--ttbr0", "--view", "tree", "--json"], capsys)
    recs = [json.loads(x) for x in out.splitlines()]
    tables = [r for r in recs if r["record"] == "table"]
    (leaf,) = [r for r in recs if r["record"] == "entries" and r["kind"] == "page"]
    assert leaf["af_updates"] == want
    assert sum((t["af_updates"] for t in tables), []) == want[:len(want) - 5]   # S2 L0-L2, S1 L3, S2 L3 below
    assert [t["af_updates"][0] for t in tables[1:]] == [
        {"stage": 1, "level": lv, "s1_level": None, "table": True} for lv in range(3)]


def test_cli_text_views_say_hardware_sets_af(tmp_path, capsys):
    """The ranges view names every update of the range; the tree view each on its table's line and the
    leaf's own (its HA, the output's stage 2 walk) on the leaf's line, in translate's words."""
    args, regs, mem = _tree(tmp_path)
    rc, out, _ = run(["dump-tree", *args, "--ttbr0", "--view", "ranges"], capsys)
    (line,) = [x for x in out.splitlines() if x.lstrip().startswith("0x400000")]
    assert ("hardware sets AF (HAFT): S2 (S1 L0) L0 L1 L2, S1 L0 L1 L2, S2 (S1 L1) L0 L1 L2, S2 (S1 L2) L0 L1 L2, "
            "S2 (S1 L3) L0 L1 L2, S2 L0 L1 L2; hardware sets AF (HA): S1 L3, S2 L3") in line
    rc, out, _ = run(["dump-tree", *args, "--ttbr0", "--view", "tree"], capsys)
    lines = out.splitlines()
    l0 = next(x for x in lines if x.startswith("L0 table"))
    assert l0.endswith("hardware sets AF (HAFT): S2 (S1 L0) L0 L1 L2")
    l3 = next(x for x in lines if "L3 table" in x)
    assert l3.endswith("hardware sets AF (HAFT): S1 L2, S2 (S1 L3) L0 L1 L2")
    page = next(x for x in lines if "L3 page" in x)
    assert page.endswith("hardware sets AF (HAFT): S2 L0 L1 L2; hardware sets AF (HA): S1 L3, S2 L3")
    # the stage 2 tree: its own tables and leaf
    rc, out, _ = run(["dump-tree", *args, "--stage", "2", "--view", "tree"], capsys)
    assert any(x.endswith("L3 page  S2 EL1 rwx S2 EL0 rwx  Normal Write-Back no-alloc ISH  "
                          "hardware sets AF (HA): S2 L3") for x in out.splitlines())
    # HA off: nothing said
    args, regs, mem = _tree(tmp_path, ha=False, haft=False)
    rc, out, _ = run(["dump-tree", *args, "--ttbr0", "--view", "tree"], capsys)
    assert "hardware sets" not in out


def test_tables_in_stage2_pieces_whose_fetches_differ():
    """64KB-granule stage 1 tables fetched through 4KB stage 2 pages, some with AF = 0 (VTCR_EL2.HA):
    the fetch of each descriptor goes through its own piece, so entries of one table (leaves, and the
    tables below) have different updates above them; each says what translate says, and the table's
    record lists every piece's."""
    s2 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000, table_limit=0x4800_0000)
    s1 = TableBuilder(stage=1, granule=65536, ia_bits=48, table_base=0x8000_0000, table_limit=0x8010_0000,
                      pa_bits=40)
    ts = TwoStage(s1, s2, 0x4800_0000, 0x10_0000)
    # level 2 entries 0 and 600 (offset 4800: piece 1), and level 3 entries 4096 and 4696 (pieces 8, 9)
    vas = (0x1000_0000, 0x1000_0000 + 600 * 0x10000, 600 << 29 | 0x1000_0000)
    for n, va in enumerate(vas):
        ts.map(va, 0x1_0000_0000 + n * 0x10000, 0x10000, S1Attrs(), pa=0x9000_0000 + n * 0x10000,
               s2_attrs=S2Attrs())
    for level in (2, 3):             # the pieces holding the first VA's descriptors: AF = 0
        page = s2.descriptor_address(s1.descriptor_address(vas[0], level), 3)
        s2.write(page, s2.read(page) & ~AF)
    regs = ts.registers(regs={"HCR_EL2": 1})
    regs["VTCR_EL2"] |= VTCR_HA
    setup = setup_from_registers(regs)
    mem = ts.memory()
    tree = tree_params(setup, "ttbr0")
    kinds = _check(setup, mem, tree, list(vas), "12")
    assert kinds == {(2, True, False)}
    ups = [translate(setup, mem, va).af_updates for va in vas]
    assert ups == [((2, 3, 2, False), (2, 3, 3, False)), ((2, 3, 2, False),), ()]
    c = _Collect()
    walk_tree(tree, mem, c)
    (l2,) = [t for t in c.tables if t.level == 2]
    assert l2.af_updates == ((2, 3, 2, False),) and "in 16 stage 2 pieces" in l2.note
