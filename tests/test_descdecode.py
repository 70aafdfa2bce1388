"""``decode descriptor`` (pgwalk.descdecode) and the walker agree on one entry.

A descriptor decoded on its own must say what a walk that reaches it says: its kind, its
output or next-table address, its size, and (with no hierarchical limits above it) its
permissions and stage 2 memory type.  The entry is put at a random level under a chain of
table descriptors in a small memory and walked with :func:`pgwalk.walk.translate`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk.descdecode import decode_descriptor
from pgwalk.memory import PhysicalMemory
from pgwalk.params import setup_from_registers
from pgwalk.walk import translate

RAM = (0x4000_0000, 0x4010_0000)
ROOT = 0x4000_0000
# upper attributes and lower attributes a leaf may carry (no output-address bits)
UPPER = 0x1FFF << 50
LOWER = 0xFFC
TABLE = 0b11


def _walk_to(desc: int, level: int, stage: int):
    """Walk VA/IPA 0 of a 4KB, 48-bit tree whose entry 0 at ``level`` is ``desc``."""
    words = {}
    for lv in range(level):
        words[ROOT + lv * 0x1000] = ROOT + (lv + 1) * 0x1000 | TABLE
    words[ROOT + level * 0x1000] = desc
    mem = PhysicalMemory.from_words(words, RAM)
    if stage == 1:
        regs = {"TCR_EL1": 16 | 2 << 30 | 16 << 16 | 5 << 32, "TTBR0_EL1": ROOT, "SCTLR_EL1": 1, "MAIR_EL1": 0xFF}
        return translate(setup_from_registers(regs), mem, 0)
    # VTCR_EL2: T0SZ 16, SL0 = 0b10 (start level 0), TG0 4KB, PS 48 bits
    regs = {"VTCR_EL2": 16 | 0b10 << 6 | 5 << 16, "VTTBR_EL2": ROOT, "HCR_EL2": 1,
            "ID_AA64MMFR0_EL1": 0x5}
    return translate(setup_from_registers(regs, stage1=False), mem, 0, stages="2")


@settings(max_examples=200, deadline=None)
@given(level=st.integers(min_value=1, max_value=3), stage=st.sampled_from([1, 2]),
       upper=st.integers(min_value=0, max_value=UPPER >> 50), lower=st.integers(min_value=0, max_value=LOWER >> 2),
       oa=st.integers(min_value=0, max_value=(1 << 36) - 1))
def test_leaf_decodes_as_the_walk_reads_it(level, stage, upper, lower, oa):
    size = {1: 30, 2: 21, 3: 12}[level]
    desc = (upper << 50) | (oa << 12 & ((1 << 48) - 1) & ~((1 << size) - 1)) | (lower << 2) | 1 << 10 \
        | (TABLE if level == 3 else 0b01)
    rep = decode_descriptor(desc, granule="4k", level=level, stage=stage)
    t = _walk_to(desc, level, stage)
    step = t.steps[-1]
    assert rep.kind == step.kind
    assert rep.address == step.next_addr
    leaf = t.s1 if stage == 1 else t.s2
    assert leaf is not None, t.fault
    assert rep.size_shift == leaf.size_shift
    assert rep.address == leaf.oa_base
    assert rep.permissions == f"EL1 {leaf.perms.text(False)} EL0 {leaf.perms.text(True)}"
    if stage == 2:
        assert rep.memory == leaf.attrs.describe()


@settings(max_examples=100, deadline=None)
@given(level=st.integers(min_value=0, max_value=3), low=st.integers(min_value=0, max_value=3),
       rest=st.integers(min_value=0, max_value=(1 << 62) - 1))
def test_kind_and_table_address_as_the_walk_reads_them(level, low, rest):
    desc = (rest << 2 | low) & ~(((1 << 48) - 1) & ~0xFFF) | 0x4000_5000    # in-range table/OA address
    rep = decode_descriptor(desc, granule="4k", level=level)
    t = _walk_to(desc, level, 1)
    step = t.steps[level]
    assert rep.kind == step.kind
    if rep.kind == "table":
        assert rep.address == step.next_addr
