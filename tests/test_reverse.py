"""The reverse map (pgwalk.reverse): a leaf visitor over the whole-tree walk, confirmed forward.

(The alias and two-stage cases on built trees, and the real Linux dump, are in test_bulk.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.errors import InputError
from pgwalk.params import setup_from_registers
from pgwalk.reverse import reverse_map, tree_leaves
from pgwalk.tree import tree_params
from pgwalk.walk import translate


def _shared_l3():
    """Two level 2 entries point at one level 3 table: its pages are mapped at two VAs each."""
    b = TableBuilder()
    b.map(0x1000, 0x8000_0000, 0x1000)
    b.map(0x3000, 0x8000_0000, 0x1000, S1Attrs(ap=0b11))
    b.map(0x4000_0000, 0x9000_0000, 0x1000)
    l3 = b.decode_table_address(b.read(b.descriptor_address(0x1000, 2)))
    b.write(b.descriptor_address(0x4040_0000, 2), b.table_descriptor(l3))
    return b, setup_from_registers(b.registers())


def test_shared_tables_map_their_leaves_at_every_va():
    b, setup = _shared_l3()
    q, res = reverse_map(setup, b.memory(), [0x8000_0010, 0x9000_0000])
    got = sorted((int(k), int(v)) for k, v in zip(q, res.va))
    assert got == [(0, 0x1010), (0, 0x3010), (0, 0x4040_1010), (0, 0x4040_3010), (1, 0x4000_0000)]
    for k, va in got:
        assert translate(setup, b.memory(), va).pa == [0x8000_0010, 0x9000_0000][k]


def test_tree_leaves_are_one_lane_per_descriptor():
    b = TableBuilder()
    b.map(0x20_0000, 0x9000_0000, 0x20_0000, min_leaf_level=3)         # 512 pages: one run
    b.map(0x4000_0000, 0x4000_0000, 0x4000_0000)                       # a 1GB block
    setup = setup_from_registers(b.registers())
    leaves = tree_leaves(tree_params(setup, "ttbr0"), b.memory())
    assert len(leaves.ia) == 513
    assert leaves.ia[:512].tolist() == list(range(0x20_0000, 0x40_0000, 0x1000))
    assert leaves.oa[:512].tolist() == list(range(0x9000_0000, 0x9020_0000, 0x1000))
    assert (leaves.level[:512] == 3).all() and leaves.level[512] == 1 and leaves.oa[512] == 0x4000_0000


def test_budget_is_an_input_error(monkeypatch):
    b, setup = _shared_l3()
    tree = tree_params(setup, "ttbr0")
    assert len(tree_leaves(tree, b.memory(), budget=8 * 512).ia) == 5          # 6 tables, 5 leaves
    # descriptors read ...
    with pytest.raises(InputError, match=f"more than {4 * 512} descriptors"):
        tree_leaves(tree, b.memory(), budget=4 * 512)
    # ... and leaves collected, a shared table's counted at each use
    b2 = TableBuilder()
    b2.map(0, 0x8000_0000, 0x20_0000, min_leaf_level=3)
    l3 = b2.decode_table_address(b2.read(b2.descriptor_address(0, 2)))
    for i in range(1, 512):
        b2.write(b2.descriptor_address(0, 2) + 8 * i, b2.table_descriptor(l3))
    setup2 = setup_from_registers(b2.registers())
    assert len(tree_leaves(tree_params(setup2, "ttbr0"), b2.memory()).ia) == 512 * 512
    import pgwalk.reverse as R

    monkeypatch.setattr(R, "REVERSE_ENTRY_BUDGET", 100_000)
    with pytest.raises(InputError, match="--reverse stops here"):
        R.reverse_map(setup2, b2.memory(), np.array([0x8000_0000], dtype=np.uint64))


def test_unknown_ttbr_is_not_searched():
    b, setup = _shared_l3()
    regs = {k: v for k, v in b.registers().items() if k != "TTBR0_EL1"}
    q, res = reverse_map(setup_from_registers(regs), b.memory(), [0x8000_0010])
    assert len(q) == 0
