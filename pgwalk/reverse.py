"""Reverse mapping: every input address that translates to a given output ("who maps this page?").

:func:`reverse_map` collects every leaf of the tree(s) with a visitor over the whole-tree
walk (:func:`pgwalk.tree.walk_tree` with :class:`pgwalk.tree.LeafRuns`: the same
descriptor decoding, table checks and stage 2 table fetches as every other walk, and a
table shared by several entries counted at each of them), inverts the leaves per level
with sorted arrays, and confirms every candidate by translating it forward with
:func:`pgwalk.bulk.translate_many`: an address is reported only when it translates,
without a fault, to the address asked about.

>>> q, res = reverse_map(setup, mem, [0x4052C350])          # doctest: +SKIP
>>> [hex(v) for v in res.va]
['0xffff00000052c350', '0xffff80000852c350']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bulk import BulkTranslation, DescriptorReader, translate_many
from .errors import InputError
from .records import named_tuple
from .memory_protocol import Memory
from .params import TranslationSetup
from .rules import walk_stages
from .tree import LeafRuns, Limits, TreeParams, tree_params, walk_tree

__all__ = ["REVERSE_ENTRY_BUDGET", "TreeLeaves", "tree_leaves", "reverse_map"]

#: most descriptors :func:`reverse_map` reads from one tree, and most leaves it collects from it
#: (a shared table's at each use): hostile tables cannot exhaust memory
REVERSE_ENTRY_BUDGET = 1 << 24

_U64 = np.uint64


@named_tuple
class TreeLeaves:
    """Leaves of one tree, one lane each: input address, output address (the leaf's base) and level."""

    ia: np.ndarray
    oa: np.ndarray
    level: np.ndarray


def tree_leaves(tree: TreeParams, mem: Memory, *, budget: int | None = None) -> TreeLeaves:
    """Every block and page descriptor of ``tree`` (none when it is disabled), a lane each.

    :param budget: most descriptors read, and most leaves collected (default :data:`REVERSE_ENTRY_BUDGET`)
    :raises InputError: the tree holds more than ``budget`` descriptors (or loops)
    """
    if budget is None:
        budget = REVERSE_ENTRY_BUDGET
    runs = LeafRuns(max_leaves=budget)
    s = walk_tree(tree, mem, runs, limits=Limits(max_tables=budget, max_entries=budget))
    if s.stopped is not None:
        raise InputError(f"the translation tables hold more than {budget} descriptors "
                         "(or loop): --reverse stops here")
    count = np.frombuffer(runs.count, dtype=_U64).astype(np.int64)
    first = np.repeat(np.arange(len(count)), count)
    k = (np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)).astype(_U64)
    step = np.frombuffer(runs.entry_size, dtype=_U64)[first] * k      # the runs' outputs continue each other
    return TreeLeaves(np.frombuffer(runs.ia, dtype=_U64)[first] + step,
                      np.frombuffer(runs.oa, dtype=_U64)[first] + step,
                      np.frombuffer(runs.level, dtype=np.int64)[first].astype(np.int8))


def _inverse(leaves: TreeLeaves, tree: TreeParams, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(target index, input address) for every leaf of ``tree`` whose output covers a target address."""
    qs, ias = [], []
    for level in np.unique(leaves.level).tolist():
        leafsize = _U64(tree.lsb(level))                    # (rules.level_shift, 16-byte entries with D128)
        sel = leaves.level == level
        ia = leaves.ia[sel]
        order = np.argsort(leaves.oa[sel] >> leafsize, kind="stable")
        keys = (leaves.oa[sel] >> leafsize)[order]
        tk = targets >> leafsize
        lo = np.searchsorted(keys, tk, side="left")
        hi = np.searchsorted(keys, tk, side="right")
        counts = hi - lo
        if not counts.any():
            continue
        total = int(counts.sum())
        q = np.repeat(np.arange(len(targets)), counts)
        # lo[t] .. hi[t] for every target t, concatenated
        j = order[np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(total)]
        qs.append(q)
        ias.append(ia[j] | (targets[q] & ((_U64(1) << leafsize) - _U64(1))))
    if not qs:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=_U64)
    return np.concatenate(qs), np.concatenate(ias)


def reverse_map(setup: TranslationSetup, mem: Memory, pas: Any, *, stages: str | None = None,
                reader: DescriptorReader | None = None) -> tuple[np.ndarray, BulkTranslation]:
    """Every input address that translates to each of ``pas`` ("who maps this page?").

    >>> q, res = reverse_map(setup, mem, [0x4052C350])      # doctest: +SKIP

    Every leaf of the tree(s) is collected by the whole-tree walk (stage 2 first when it
    is on, then the stage 1 trees the registers enable); the candidate addresses are then
    translated forward with :func:`translate_many` and kept only when they translate,
    without a fault, to the address asked about.  Only canonical addresses are reported
    (no TBI tag aliases); a TTBR that was not given is not searched.

    :param stages: as :func:`pgwalk.walk.translate` (default: both when stage 2 is on)
    :param reader: a :class:`~pgwalk.bulk.DescriptorReader` for the forward translations
    :returns: ``(query, result)``: ``result`` holds one lane per mapping found, in
        address order within each query; ``query[i]`` is the index in ``pas`` lane
        ``i`` maps to.
    :raises InputError: when a tree holds more than :data:`REVERSE_ENTRY_BUDGET` descriptors
    :raises ValueError: for ``stages`` the registers do not allow
    """
    stages = walk_stages(stages, setup.s2 is not None)
    targets = np.ascontiguousarray(np.asarray(pas, dtype=_U64)).ravel()
    q = np.arange(len(targets))
    want = targets
    if stages in ("2", "12") and setup.s2 is not None:
        tree = tree_params(setup, "s2")
        sub, ipas = _inverse(tree_leaves(tree, mem), tree, want)
        q, want = q[sub], ipas
    if stages in ("1", "12") and setup.s1_enabled:          # (stage 1 off: the VA is the IPA)
        qs, vas = [], []
        for which in ("ttbr0", "ttbr1")[:len(setup.ranges)]:
            tree = tree_params(setup, which, final_pa=False)
            if tree.disabled:                               # (an unknown TTBR's tree cannot be searched)
                continue
            sub, found = _inverse(tree_leaves(tree, mem), tree, want)
            qs.append(q[sub])
            vas.append(found)
        q = np.concatenate(qs) if qs else q[:0]
        want = np.concatenate(vas) if vas else want[:0]
    order = np.lexsort((want, q))
    q, want = q[order], want[order]
    res = translate_many(setup, mem, want, stages=stages, reader=reader)
    good = res.ok & (res.output == targets[q])
    keep = np.nonzero(good)[0]
    return q[keep], res.select(keep)
