"""FEAT_D128 (VMSAv9-128) in the whole-tree walk (:mod:`pgwalk.tree`): dump-tree against ``translate``.

Trees of 16-byte descriptors are made by :class:`pgwalk.builder.D128Builder` (its geometry is written
out from the Arm ARM apart from the walk): the three granules, stage 1, stage 2 and stage 1 tables
fetched through stage 2, start levels -2, -1 and 0 and below, the TTBR's SKL and table descriptors
that skip levels, blocks at every level that allows one, invalid descriptors with bits set, and
reserved ones (level + SKL beyond 3, SKL = 3 with 16KB and 64KB).  The properties, as
tests/test_tree.py and tests/test_hostile_walk.py check them for VMSAv8-64:

* every run the walk reports agrees with ``translate`` of addresses inside it (output, level,
  kind, the leaf's attributes and permissions, the permissions text of the JSON record, the
  128-bit raw descriptor); invalid and reserved runs fault at their level;
* the runs (and tables not walked) tile the input range, and ``translate`` of sampled addresses is
  covered by exactly the run the walk reports for them.
"""

from __future__ import annotations

import json
import random

import pytest

from pgwalk.builder import D128Builder, S1Attrs, TableBuilder, write_image
from pgwalk.faults import FaultType
from pgwalk.formats import descriptors as D
from pgwalk.params import setup_from_registers
from pgwalk.report import permissions
from pgwalk.tree import TableStatus, TreeVisitor, collect_runs, run_record, tree_params, walk_tree
from pgwalk.walk import translate

T = FaultType
#: PIR_EL1: a distinct permission per PIIndex (RW at 12, RWX at 15, R at 8, ...)
PIR = 0xF7C8_6543_21C0_BA98
#: S2PIR_EL2: RW (0b1100) at every PIIndex but 8 (read only, 0b1000)
S2PIR = int("c" * 16, 16) & ~(0xF << 32) | 0b1000 << 32
#: the levels a block or page may be at (Arm ARM D8.2.11, Table D8-49 with D128)
LEAF_LEVELS = {4096: (0, 1, 2, 3), 16384: (1, 2, 3), 65536: (1, 2, 3)}


class Recorder(TreeVisitor):
    def __init__(self) -> None:
        self.runs: list = []
        self.tables: list = []

    def table_pre(self, table):
        self.tables.append(table)

    def run(self, run):
        self.runs.append(run)


def _lsb(b: D128Builder, level: int) -> int:
    """log2 of the bytes an entry at ``level`` maps: a level resolves ``g - 4`` bits (D8.2.11)."""
    return b.g + b.stride * (3 - level)


def _path(rng: random.Random, b: D128Builder, leaf: int, max_skip: int) -> tuple[int, ...]:
    """Levels from the start level to ``leaf``, table descriptors skipping up to ``max_skip`` levels."""
    path = [b.start_level]
    while path[-1] < leaf:
        path.append(min(leaf, path[-1] + 1 + rng.randrange(max_skip + 1)))
    return tuple(path)


def random_d128_tree(rng: random.Random, b: D128Builder, *, max_skip: int = 1, groups: int = 5,
                     oa_bits: int = 56) -> D128Builder:
    """Groups of leaves, each group under its own root entry with its own path shape: runs of
    continuing pages or blocks, single leaves, invalid descriptors with bits set and reserved ones."""
    root_entries = 1 << (b.ia_bits - _lsb(b, b.start_level))
    roots = rng.sample(range(root_entries), min(groups, root_entries))
    levels = [lv for lv in LEAF_LEVELS[b.granule] if lv >= b.start_level]
    for root in roots:
        leaf = rng.choice(levels)
        path = _path(rng, b, leaf, max_skip)
        size = 1 << _lsb(b, leaf)
        span = 1 << _lsb(b, b.start_level)
        per_table = min(span // size, 64)
        base_ia = root * span
        first = rng.randrange(per_table)
        oa = rng.randrange(1, 1 << (oa_bits - _lsb(b, leaf))) << _lsb(b, leaf)
        pi = rng.choice([3, 8, 12, 15])
        for k in range(rng.randrange(1, 5)):                    # a run of continuing leaves
            ia = base_ia + ((first + k) % per_table) * size
            b.map(ia, (oa + k * size) % (1 << 56), path, pi=pi, af=int(rng.random() < 0.9),
                  contiguous=int(rng.random() < 0.3))
        for _ in range(rng.randrange(3)):                       # scattered leaves, other attributes
            ia = base_ia + rng.randrange(per_table) * size
            b.map(ia, rng.randrange(1 << (oa_bits - _lsb(b, leaf))) << _lsb(b, leaf), path, pi=rng.randrange(16),
                  attr_indx=rng.randrange(3), dirty=rng.randrange(2))
        ia = base_ia + rng.randrange(per_table) * size
        odd = rng.randrange(3)
        if odd == 0:                                            # invalid, with bits set
            b.put(ia, path, b.leaf_descriptor(0x1234 << _lsb(b, leaf), leaf) & ~1)
        elif odd == 1 and (leaf > 0 or b.granule != 4096):      # reserved: level + SKL > 3, or SKL = 3
            skl = 3 if b.granule != 4096 else 4 - leaf
            b.put(ia, path, D.D128_SKL.put(b.leaf_descriptor(0, leaf), skl))
    return b


def _sample_vas(rng: random.Random, run, n: int = 4) -> list[int]:
    last = run.va_end - 1
    return sorted({run.va_start, last & ~7, *(rng.randrange(run.va_start, run.va_end) & ~7 for _ in range(n))})


def check_runs_against_translate(setup, tree, mem, rng, *, stages: str) -> int:
    """Every run of the walk (merged) agrees with translate of addresses inside it; runs and tables
    not walked tile the input range.  Returns the leaf addresses checked."""
    rec = Recorder()
    walk_tree(tree, mem, rec, invalid=True)
    not_walked = [t for t in rec.tables if t.status is not TableStatus.OK]
    spans = sorted([(r.va_start, r.va_end) for r in rec.runs] + [(t.va_start, t.va_end) for t in not_walked])
    assert spans[0][0] == tree.va_lo and spans[-1][1] == tree.va_hi
    assert all(a[1] == c[0] for a, c in zip(spans, spans[1:]))
    checked = 0
    for run in rec.runs:
        d = run_record(run, tree)
        assert int(d["raw"], 16) == run.raw                     # the whole 128-bit descriptor
        for va in _sample_vas(rng, run):
            t = translate(setup, mem, va, stages=stages)
            if run.kind in ("invalid", "reserved"):
                assert t.fault is not None and (t.fault.type, t.fault.level, t.fault.stage) == \
                    (T.TRANSLATION, run.level, tree.stage), (hex(va), run, t.fault)
                if run.kind == "reserved":
                    assert t.steps[-1].kind == "reserved" and t.fault.reason in run.attrs.flags
                continue
            assert run.mapped
            if t.fault is not None:
                if t.fault.type is T.ACCESS_FLAG:
                    assert not run.attrs.af and any("Access flag" in f for f in run.attrs.flags)
                else:
                    assert t.fault.type is T.ADDRESS_SIZE and t.fault.level == run.level, t.fault
                    assert any("output address beyond" in f for f in run.attrs.flags)
                continue
            checked += 1
            mine = t.s2 if tree.stage == 2 else t.s1
            i = (va - run.va_start) // run.entry_size
            leaf = run.leaf(i)
            assert (mine.level, mine.kind, mine.oa_base, mine.size_shift) == \
                (leaf.level, leaf.kind, leaf.oa_base, leaf.size_shift), hex(va)
            assert (mine.attrs, mine.perms, mine.af, mine.ng, mine.contiguous, mine.dbm, mine.attr_index, mine.sh) \
                == (leaf.attrs, leaf.perms, leaf.af, leaf.ng, leaf.contiguous, leaf.dbm, leaf.attr_index, leaf.sh)
            if i == 0:
                assert mine.raw == run.raw
            assert t.output == run.oa + (va - run.va_start)
            assert d["permissions"] == permissions(t, wxn=setup.wxn, epan=setup.epan)
            assert d["level"] == mine.level and d["kind"] == mine.kind
    return checked


def check_sampled_vas(setup, tree, mem, rng, *, stages: str, n: int = 200) -> None:
    """translate of sampled addresses is covered by exactly the run (or the table not walked) the
    walk reports for them (tests/test_hostile_walk.py's property, on D128 trees)."""
    full = collect_runs(tree, mem)
    near = [r.va_start + rng.randrange(r.size) for r in full if r.mapped]
    vas = [rng.randrange(tree.va_lo, tree.va_hi) for _ in range(n)] + near
    for va in vas:
        va &= ~7
        t = translate(setup, mem, va, stages=stages)
        rec = Recorder()
        walk_tree(tree, mem, rec, start=va, end=va + 1, invalid=True)
        cover = [r for r in rec.runs if r.va_start <= va < r.va_end]
        tables = [x for x in rec.tables if x.status is not TableStatus.OK and x.va_start <= va < x.va_end]
        assert len(cover) + len(tables) == 1, (hex(va), cover, tables)
        if t.ok:
            (r,) = cover
            assert r.mapped and r.level == (t.s2 if tree.stage == 2 else t.s1).level
            assert r.oa + (va - r.va_start) == t.output
        elif t.fault.stage == tree.stage and t.fault.type is T.TRANSLATION:
            (r,) = cover
            assert r.kind in ("invalid", "reserved") and r.level == t.fault.level, (hex(va), r, t.fault)
        elif t.fault.s1ptw:                                     # a stage 1 table stage 2 refuses
            (x,) = tables
            assert x.status is TableStatus.S2_FAULT and x.level == t.steps[-1].level, (hex(va), x, t.fault)
        elif t.fault.not_in_image:                              # a descriptor outside the image
            (x,) = tables
            assert x.status is TableStatus.NOT_IN_IMAGE and x.level == t.fault.level, (hex(va), x, t.fault)
        else:                                                   # Access flag, Address size at the leaf
            (r,) = cover
            assert r.mapped and r.level == t.fault.level and r.attrs.flags


# --------------------------------------------------------------------------- stage 1

#: (granule, VA bits, TTBR SKL, mid-tree skips): start levels -2 (4KB, 55 bits), -1, 0 and 1
S1_CONFIGS = [
    (4096, 55, 0, 1), (4096, 48, 0, 1), (4096, 48, 1, 1), (4096, 40, 0, 1), (4096, 48, 2, 0),
    (16384, 55, 0, 0), (16384, 48, 0, 0), (16384, 48, 1, 0),
    (65536, 55, 0, 0), (65536, 52, 0, 0), (65536, 42, 0, 0),
]


@pytest.mark.parametrize("granule,ia_bits,skl,max_skip", S1_CONFIGS)
@pytest.mark.parametrize("seed", [1, 2])
def test_stage1_runs_agree_with_translate(granule, ia_bits, skl, max_skip, seed):
    rng = random.Random(seed * 1000 + granule + ia_bits + skl)
    b = random_d128_tree(rng, D128Builder(granule=granule, ia_bits=ia_bits, skl=skl), max_skip=max_skip)
    setup = setup_from_registers(b.registers(pir=PIR, pire0=PIR >> 4))
    tree = tree_params(setup, "ttbr0")
    assert tree.d128 and tree.start_level == b.start_level and not tree.disabled
    mem = b.memory()
    assert check_runs_against_translate(setup, tree, mem, rng, stages="1") > 0
    check_sampled_vas(setup, tree, mem, rng, stages="1")


def test_skips_at_the_root_and_mid_tree_and_blocks_at_every_level():
    """Paths that skip levels at each step (Table D8-45 table sizes), with blocks at levels 0, 1, 2."""
    b = D128Builder(granule=4096, ia_bits=55)                   # start level -2
    assert b.start_level == -2
    paths = [(-2, 0, 2, 3), (-2, -1, 1, 3), (-2, 0, 1), (-2, 0), (-2, -1, 0, 1, 2), (-2, 1, 3)]
    for k, path in enumerate(paths):
        size = 1 << _lsb(b, path[-1])
        ia = (k + 1) << 52 | size * 3
        b.map(ia, 0xab_0000_0000_0000 + k * (1 << 48), path, pi=12)
        b.map(ia + size, 0xab_0000_0000_0000 + k * (1 << 48) + size, path, pi=12)     # continues it
    setup = setup_from_registers(b.registers(pir=PIR))
    tree = tree_params(setup, "ttbr0")
    mem = b.memory()
    runs = [r for r in collect_runs(tree, mem, merge=True) if r.mapped]
    assert [(r.level, r.count) for r in runs] == [(p[-1], 2) for p in paths]
    assert [r.kind for r in runs] == ["page", "page", "block", "block", "block", "page"]
    rng = random.Random(7)
    check_runs_against_translate(setup, tree, mem, rng, stages="1")
    check_sampled_vas(setup, tree, mem, rng, stages="1", n=100)
    # the tables: each one's level and size follow the SKL of the descriptor pointing at it
    rec = Recorder()
    walk_tree(tree, mem, rec)
    stride = b.stride
    for t in rec.tables:
        if t.descriptor is not None:
            skl = D.D128_SKL.get(t.descriptor)
            assert t.entries == 1 << stride * (skl + 1)
            assert t.va_end - t.va_start == t.entries << _lsb(b, t.level)


def test_16k_table_descriptor_skipping_a_level_points_at_a_larger_table():
    b = D128Builder(granule=16384, ia_bits=48)                  # start 0; level 0 -> 2 (SKL 1): 2**20 entries
    va = 0x5555_5555_4000 & ((1 << 48) - 1)
    b.map(va, 0x9_0000_0000, (0, 2, 3), pi=12)
    b.map(va + 0x4000, 0x9_0000_4000, (0, 2, 3), pi=12)
    setup = setup_from_registers(b.registers(pir=PIR))
    tree = tree_params(setup, "ttbr0")
    rec = Recorder()
    walk_tree(tree, b.memory(), rec)
    # Table D8-45: a descriptor with SKL 1 points at a table of 2**(2 * 10) entries (16MB)
    assert [(t.level, t.entries) for t in rec.tables] == [(0, 1 << (48 - _lsb(b, 0))), (2, 1 << 20), (3, 1 << 10)]
    (run,) = rec.runs
    assert (run.va_start, run.count, run.oa, run.level) == (va, 2, 0x9_0000_0000, 3)
    check_runs_against_translate(setup, tree, b.memory(), random.Random(3), stages="1")


def test_big_endian_tables():
    rng = random.Random(11)
    b = random_d128_tree(rng, D128Builder(granule=4096, ia_bits=48, big_endian=True))
    setup = setup_from_registers(b.registers(pir=PIR))
    tree = tree_params(setup, "ttbr0")
    assert tree.big_endian
    assert check_runs_against_translate(setup, tree, b.memory(), rng, stages="1") > 0
    check_sampled_vas(setup, tree, b.memory(), rng, stages="1", n=50)


def test_outputs_beyond_the_output_size_are_flagged():
    rng = random.Random(5)
    b = random_d128_tree(rng, D128Builder(granule=4096, ia_bits=48, pa_bits=48), oa_bits=50)
    setup = setup_from_registers(b.registers(pir=PIR))
    tree = tree_params(setup, "ttbr0")
    runs = [r for r in collect_runs(tree, b.memory()) if r.mapped]
    assert any(any("output address beyond" in f for f in r.attrs.flags) for r in runs)
    check_runs_against_translate(setup, tree, b.memory(), rng, stages="1")


# --------------------------------------------------------------------------- stage 2, two stages

@pytest.mark.parametrize("granule,ia_bits", [(4096, 40), (4096, 48), (16384, 44), (65536, 42), (65536, 52)])
def test_stage2_runs_agree_with_translate(granule, ia_bits):
    rng = random.Random(granule + ia_bits)
    b = random_d128_tree(rng, D128Builder(stage=2, granule=granule, ia_bits=ia_bits, table_base=0x4000_0000),
                         max_skip=1 if granule == 4096 else 0)
    setup = setup_from_registers(b.registers(s2pir=S2PIR), stage1=False)
    tree = tree_params(setup, "s2")
    assert tree.stage == 2 and tree.d128 and tree.start_level == b.start_level
    assert "concatenated" not in tree.describe()
    mem = b.memory()
    assert check_runs_against_translate(setup, tree, mem, rng, stages="2") > 0
    check_sampled_vas(setup, tree, mem, rng, stages="2", n=100)


def _s2_identity(s1_chunks: dict[int, bytes], hole: int | None = None) -> D128Builder:
    """A D128 stage 2 mapping the stage 1 tables' pages to themselves (4KB pages), but for ``hole``."""
    s2 = D128Builder(stage=2, granule=4096, ia_bits=40, table_base=0x4000_0000)
    for base, data in s1_chunks.items():
        for page in range(base, base + len(data), 4096):
            if page != hole:
                s2.map(page, page, (0, 1, 2, 3), pi=12)
    return s2


@pytest.mark.parametrize("hole", [False, True])
def test_two_stage_d128_stage1_tables_fetched_through_d128_stage2(hole):
    rng = random.Random(21)
    s1 = random_d128_tree(rng, D128Builder(granule=4096, ia_bits=48, table_base=0x100_0000), groups=4)
    mem1 = s1.memory()
    setup1 = setup_from_registers(s1.registers(pir=PIR))
    leaf_tables = sorted({translate(setup1, mem1, r.va_start).steps[-1].table
                          for r in collect_runs(tree_params(setup1, "ttbr0"), mem1) if r.mapped})
    gap = leaf_tables[len(leaf_tables) // 2] & ~0xFFF if hole else None
    s2 = _s2_identity(s1.chunks(), gap)
    setup = setup_from_registers(s1.registers(pir=PIR, regs=s2.registers(s2pir=S2PIR)))
    tree = tree_params(setup, "ttbr0", final_pa=False)
    assert tree.through_s2 and tree.d128
    mem = s1.memory(s2.chunks())
    rec = Recorder()
    walk_tree(tree, mem, rec)
    refused = [t for t in rec.tables if t.status is TableStatus.S2_FAULT]
    assert bool(refused) == hole
    check_runs_against_translate(setup, tree, mem, rng, stages="1")
    check_sampled_vas(setup, tree, mem, rng, stages="1", n=100)


def test_vmsav8_stage1_under_a_d128_stage2():
    s1 = TableBuilder(stage=1, granule=4096, ia_bits=48, table_base=0x100_0000)
    for k in range(6):
        s1.map(0x40_0000 + k * 0x20_0000, 0x8000_0000 + k * 0x20_0000, 0x20_0000, S1Attrs(ap=k % 4))
    s1.map(0x5000, 0x10_0000_0000, 0x3000, S1Attrs(ap=0b00))
    s2 = _s2_identity(s1.chunks())
    setup = setup_from_registers(s1.registers(regs=s2.registers(s2pir=S2PIR)))
    assert setup.s2.d128 and not setup.ranges[0].d128
    tree = tree_params(setup, "ttbr0", final_pa=False)
    assert tree.through_s2 and not tree.d128
    mem = s2.memory(s1.chunks())
    rng = random.Random(4)
    assert check_runs_against_translate(setup, tree, mem, rng, stages="1") > 0
    check_sampled_vas(setup, tree, mem, rng, stages="1", n=50)


# --------------------------------------------------------------------------- the CLI

def _cli(tmp_path, b: D128Builder, **regs) -> list[str]:
    base, _ = write_image(tmp_path / "d128.img", b)
    out = ["-i", f"{tmp_path / 'd128.img'}@{base:#x}"]
    for name, value in b.registers(**regs).items():
        out += ["--reg", f"{name}={value:#x}"]
    return out


def test_cli_dump_tree_text_json_stats_and_html(tmp_path, capsys):
    from cli_helpers import run
    from test_json_schemas import check_lines

    b = D128Builder(granule=4096, ia_bits=48)
    for k in range(4):
        b.map(0x7000 + k * 0x1000, 0xab_cdef_0000_0000 + k * 0x1000, (-1, 0, 1, 2, 3), pi=12)
    b.map(0x1040_0000_0000, 0x80_0000_0000, (-1, 1), pi=8)        # a level 1 block under a skip
    opts = _cli(tmp_path, b, pir=PIR)
    rc, out, err = run(["dump-tree", *opts], capsys)
    assert rc == 0, err
    assert "0xabcdef00000000" in out and "L3 page" in out and "L1 block" in out
    assert "128-bit descriptors" in out + err
    for view in (["--view", "ranges"], ["--view", "tree"], ["--view", "tree", "--invalid"], ["--stats"]):
        rc, out, err = run(["dump-tree", *opts, "--json", *view], capsys)
        assert rc == 0, err
        recs = check_lines("dump-tree", out)
        assert recs[-1]["record"] == "summary" and recs[-1]["trees"][0]["start_level"] == -1
        leaves = [d for d in recs if d["record"] in ("range", "entries") and d["mapped"]]
        if view == ["--stats"]:
            assert recs[-1]["stats"]["leaves"] == [{"level": 1, "kind": "block", "count": 1},
                                                  {"level": 3, "kind": "page", "count": 4}]
            continue
        first = next(d for d in leaves if d["level"] == 3)
        raw = int(first["raw"], 16)
        assert raw == b.leaf_descriptor(0xab_cdef_0000_0000, 3, pi=12) and raw >> 64      # 128 bits
        assert first["pa_start"] == "0xabcdef00000000" and first["indirection"]["pi_index"] == 12
        if view[-1] == "ranges":
            assert first["count"] == 4
        tables = [d for d in recs if d["record"] == "table"]
        if tables:
            assert [(d["level"], d["entries"]) for d in tables] == \
                [(-1, 16), (0, 256), (1, 256), (2, 256), (3, 256), (1, 1 << 16)]   # SKL 1: a 2**16-entry table
            assert D.D128_SKL.get(int(tables[-1]["descriptor"], 16)) == 1      # the 128-bit table descriptor
    html = tmp_path / "tree.html"
    rc, out, err = run(["dump-tree", *opts, "--html", str(html)], capsys)
    assert rc == 0, err
    page = html.read_text()
    assert "table descriptor (128-bit)" in page and "page descriptor (128-bit)" in page


def test_cli_two_stage_d128_stage_12_stage_1_and_stage_2(tmp_path, capsys):
    from cli_helpers import run

    s1 = D128Builder(granule=4096, ia_bits=48, table_base=0x100_0000)
    s1.map(0x7000, 0x2_0000_0000, (-1, 0, 1, 2, 3), pi=12)
    s2 = _s2_identity(s1.chunks())
    s2.map(0x2_0000_0000, 0xab_0000_0000_0000, (0, 1, 2), pi=8)        # the output's IPA: a 2MB block
    base, _ = write_image(tmp_path / "two.img", s1, s2)
    opts = ["-i", f"{tmp_path / 'two.img'}@{base:#x}"]
    for name, value in s1.registers(pir=PIR, regs=s2.registers(s2pir=S2PIR)).items():
        opts += ["--reg", f"{name}={value:#x}"]
    rc, out, err = run(["dump-tree", *opts, "--json"], capsys)          # --stage 12, the default
    assert rc == 0, err
    (leaf,) = [json.loads(ln) for ln in out.splitlines() if json.loads(ln).get("mapped")]
    assert (leaf["ipa_start"], leaf["pa_start"], leaf["level"]) == ("0x200000000", "0xab000000000000", 3)
    assert leaf["stage2"]["level"] == 2 and int(leaf["stage2"]["raw"], 16) >> 64       # the 128-bit S2 leaf
    assert leaf["permissions"]["stage2_el1"] == "r--"                   # S2PIR[8]: read only
    rc, out, err = run(["dump-tree", *opts, "--stage", "1", "--json"], capsys)
    assert rc == 0, err
    (leaf,) = [json.loads(ln) for ln in out.splitlines() if json.loads(ln).get("mapped")]
    assert leaf["ipa_start"] == "0x200000000" and leaf["pa_start"] is None and leaf["level"] == 3
    rc, out, err = run(["dump-tree", *opts, "--stage", "2"], capsys)
    assert rc == 0, err
    assert "VTTBR_EL2" in out + err and "0xab000000000000" in out


@pytest.mark.parametrize("s2_granule", [4096, 16384])
def test_two_stage_final_pa_runs_agree_with_translate(s2_granule):
    """--stage 12 (final PAs): every run's bytes translate through both stages as the run says."""
    rng = random.Random(s2_granule)
    s1 = random_d128_tree(rng, D128Builder(granule=4096, ia_bits=48, table_base=0x100_0000), groups=4,
                          oa_bits=37)
    s2 = D128Builder(stage=2, granule=s2_granule, ia_bits=40, table_base=0x4000_0000)
    block = 1 << _lsb(s2, 2)
    for k in range(0, 1 << 33, block):                  # up to 8GB, most of it (the rest faults at stage 2)
        if rng.random() < 0.9 or k < 0x200_0000:
            s2.map(k, k ^ (0x40_0000_0000 if k >= 0x200_0000 else 0), (s2.start_level, 2)
                   if s2.start_level < 2 else (2,), pi=rng.choice([8, 12]))
    setup = setup_from_registers(s1.registers(pir=PIR, regs=s2.registers(s2pir=S2PIR)))
    tree = tree_params(setup, "ttbr0")
    assert tree.final_pa and tree.d128
    mem = s1.memory(s2.chunks())
    runs = collect_runs(tree, mem, merge=True)
    assert any(r.s2 is not None and r.s2.fault is not None for r in runs)
    assert any(r.pa is not None for r in runs)
    for r in runs:
        if not r.mapped:
            continue
        for va in _sample_vas(rng, r, 2):
            t = translate(setup, mem, va)
            if t.fault is not None and t.fault.stage == 1:               # stage 1 AF / Address size first
                assert r.attrs.flags and t.fault.level == r.level
                continue
            if r.s2.fault is not None:
                assert t.fault is not None and t.fault.stage == 2 and (t.fault.type, t.fault.level) == \
                    (r.s2.fault.type, r.s2.fault.level), (hex(va), t.fault, r.s2.fault)
                continue
            assert t.fault is None, (hex(va), t.fault)
            assert t.pa == r.pa + (va - r.va_start) and t.ipa == r.oa + (va - r.va_start)
            if r.oa >> t.s2.size_shift == t.ipa >> t.s2.size_shift:      # the run's first stage 2 leaf
                assert t.s2.raw == r.s2_raw and t.s2.level == r.s2_level
            assert run_record(r, tree)["permissions"] == permissions(t, wxn=setup.wxn, epan=setup.epan)


# --------------------------------------------------------------------------- hostile D128 tables

#: (granule, VA bits, TTBR SKL): start levels -1, -2, 0 (root SKL), 0 (16KB), 0 (64KB)
HOSTILE_CONFIGS = [(4096, 48, 0), (4096, 55, 0), (4096, 48, 1), (16384, 48, 0), (65536, 52, 0)]
_WINDOW = 0x20000
_TABLES = list(range(0x1000, _WINDOW, 0x1000))


def _hostile_descriptor(rng: random.Random) -> int:
    kind = rng.randrange(9)
    if kind < 3:                # a table descriptor into the window (or at its end, or far away), any SKL
        table = rng.choice(_TABLES + [0, _WINDOW, 1 << 40])
        return table | 1 | rng.choice([0, 0, 0, 0, 0, 1, 2, 3]) << D.D128_SKL.lsb | rng.randrange(2) << 10
    if kind < 6:                # a leaf (or, where level + SKL is not 3, a table or reserved), any SKL
        return (rng.randrange(1 << 44) << 12 | 1 | rng.randrange(4) << D.D128_SKL.lsb
                | rng.randrange(16) << D.D128_PIINDEX.lsb | rng.randrange(2) << 10)
    return [rng.randrange(1 << 128), 0, rng.randrange(1 << 64) & ~1][kind - 6]


def _hostile_memory(rng: random.Random, big_endian: bool):
    """A window of 4KB tables, each filled with one random descriptor, plus a few random entries."""
    from pgwalk.memory import PhysicalMemory

    buf = bytearray(_WINDOW)
    order = "big" if big_endian else "little"
    for t in [0] + _TABLES:
        fill = _hostile_descriptor(rng).to_bytes(16, order)
        buf[t:t + 0x1000] = fill * (0x1000 // 16)
        for _ in range(rng.randrange(5)):
            i = 16 * rng.choice([0, 1, 2, 15, 16, 128, 255])
            buf[t + i:t + i + 16] = _hostile_descriptor(rng).to_bytes(16, order)
    return PhysicalMemory.from_buffers({0: bytes(buf)})


def test_hostile_d128_tables_dump_tree_agrees_with_translate():
    """Random 128-bit descriptors (tables pointing back into the window with any SKL, at tables far
    larger than it, leaves with any SKL, random values; both byte orders): the walk stops within its
    limits, and every sampled address is covered as ``translate`` walks it (test_hostile_walk.py's
    property)."""
    from pgwalk.tree import Limits

    seen = {"leaf": 0, "invalid": 0, "reserved": 0}
    limits = Limits(max_tables=32, max_entries=1 << 21)
    for granule, ia_bits, skl, seed in [(*cfg, seed) for cfg in HOSTILE_CONFIGS for seed in range(24)]:
        rng = random.Random(seed * 7919 + granule + ia_bits + skl)
        big_endian = seed % 3 == 2
        setup = setup_from_registers(D128Builder(granule=granule, ia_bits=ia_bits, skl=skl, table_base=0,
                                                 big_endian=big_endian).registers(pir=PIR, pire0=PIR >> 4))
        mem = _hostile_memory(rng, big_endian)
        tree = tree_params(setup, "ttbr0")
        whole = walk_tree(tree, mem, Recorder(), invalid=True, limits=limits)     # bounded, never raises
        assert whole.tables <= limits.max_tables and (whole.stopped is None or "limit reached" in whole.stopped)
        for _ in range(10):
            va = rng.randrange(1 << ia_bits) & ~7
            t = translate(setup, mem, va, stages="1")
            rec = Recorder()
            if walk_tree(tree, mem, rec, start=va, end=va + 1, invalid=True, limits=limits).stopped:
                continue
            cover = [r for r in rec.runs if r.va_start <= va < r.va_end]
            leaves = [r for r in cover if r.mapped]
            assert len(leaves) <= 1, leaves
            if t.ok:
                assert leaves, (hex(va), t, rec.runs, rec.tables)
                r = leaves[0]
                assert (r.level, r.kind) == (t.s1.level, t.s1.kind)
                assert r.oa + (va - r.va_start) == t.output
                assert r.attrs.perms == t.s1.perms and r.attrs.memattrs == t.s1.attrs
                seen["leaf"] += 1
            elif t.fault.type is T.TRANSLATION and t.steps and t.steps[-1].kind in ("invalid", "reserved"):
                assert not leaves, (t.fault, leaves)
                assert any(r.kind == t.steps[-1].kind and r.level == t.fault.level for r in cover), \
                    (hex(va), t.steps[-1], cover)
                seen[t.steps[-1].kind] += 1
    assert min(seen.values()) >= 5, seen     # the property met leaves, invalid and reserved entries


def test_table_partly_outside_the_image_is_walked_where_it_can_be_read():
    """A 2**16-entry (1MB) table a descriptor with SKL 1 points at, the image ending inside it:
    dump-tree walks the 16-byte entries it can read, as translate reads the ones it needs."""
    from pgwalk.memory import PhysicalMemory

    b = D128Builder(granule=4096, ia_bits=48)                  # start -1; -1 -> 1 skips level 0
    b.map(0x1000_0000_0000, 0x8_0000_0000, (-1, 1), pi=12)    # entry 0 of the level 1 table
    b.map(0x1000_0000_0000 + 1000 * (1 << 28), 0x9_0000_0000, (-1, 1), pi=12)       # entry 1000
    far = 0x1000_0000_0000 + 60000 * (1 << 28)                   # entry 60000: beyond the image
    addr = b.map(far, 0xa_0000_0000, (-1, 1), pi=12)
    setup = setup_from_registers(b.registers(pir=PIR))
    tree = tree_params(setup, "ttbr0")
    (base, buf), = b.chunks().items()
    l1 = addr - 16 * 60000
    cut = l1 + 0x8000 - base                                    # the image holds entries 0..2047
    mem = PhysicalMemory.from_buffers({base: bytes(buf[:cut])})
    assert translate(setup, mem, far).fault.type is T.SYNC_EXTERNAL_ON_WALK
    rec = Recorder()
    walk_tree(tree, mem, rec, invalid=True)
    t1, unread = [t for t in rec.tables if t.level == 1]
    assert t1.status is TableStatus.OK and t1.entries == 1 << 16
    # the entries not read are said where they are (16-byte entries: from l1 + 16 * 2048)
    assert (unread.status, unread.address, unread.first_index, unread.last_index) == \
        (TableStatus.NOT_IN_IMAGE, l1 + 0x8000, 2048, 65535)
    assert unread.va_start <= far < unread.va_end
    assert t1.note == f"entries 2048-65535 not read: table PA {l1 + 0x8000:#x} is not in the image"
    assert [(r.va_start, r.oa) for r in rec.runs if r.mapped] == \
        [(0x1000_0000_0000, 0x8_0000_0000), (0x1000_0000_0000 + 1000 * (1 << 28), 0x9_0000_0000)]
    assert not [r for r in rec.runs if r.va_start <= far < r.va_end]
    check_sampled_vas(setup, tree, mem, random.Random(9), stages="1", n=50)
