"""The Access flag updates the hardware makes (``Translation.af_updates``: leaves with HA = 1 and AF = 0,
table descriptors with FEAT_HAFT) shown by ``pgwalk translate`` (text trace, ``--json --trace``) and
``pgwalk at`` (text, ``--json``), on a two-stage tree built with :mod:`pgwalk.builder`."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run
from pgwalk.builder import S1Attrs, S2Attrs, two_stage
from pgwalk.params import setup_from_registers
from pgwalk.walk import translate

VA, IPA, PA = 0x40_0000, 0x1000_0000, 0x9000_0000
VTCR_HA, VTCR_HAFT, TCR_HA, TCR2_HAFT = 1 << 21, 1 << 44, 1 << 39, 1 << 11


def _tree(tmp_path, *, ha: bool = True, haft: bool = True):
    """VA -> IPA -> PA with the stage 1 page and the stage 2 page AF = 0 and every table AF = 0 (the
    builder's); HA at both stages, HAFT at both with ``haft``.  ``(cli args, regs, memory)``."""
    ts = two_stage()
    ts.map(VA, IPA, 0x1000, S1Attrs(af=0), pa=PA, s2_attrs=S2Attrs(af=0))
    regs = ts.registers(regs={"HCR_EL2": 1})
    if ha:
        regs["VTCR_EL2"] |= VTCR_HA | (VTCR_HAFT if haft else 0)
        regs["TCR_EL1"] |= TCR_HA
    if haft:
        regs["TCR2_EL1"] = TCR2_HAFT
    base, _ = ts.write_raw(tmp_path / "t.img")
    (tmp_path / "t.regs.json").write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
    args = ["-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "t.regs.json")]
    return args, regs, ts.memory()


def _expected(regs, mem):
    t = translate(setup_from_registers(regs), mem, VA)
    return [{"stage": u.stage, "level": u.level, "s1_level": u.s1_level, "table": u.table} for u in t.af_updates]


def test_translate_json_trace_lists_af_updates(tmp_path, capsys):
    args, regs, mem = _tree(tmp_path)
    rc, out, _ = run(["translate", hex(VA), *args, "--json", "--trace"], capsys)
    d = json.loads(out)
    assert rc == 0 and d["ok"]
    want = _expected(regs, mem)
    assert d["af_updates"] == want
    # every kind: the stage 1 tables and leaf, the stage 2 tables of the fetches and of the final walk, its leaf
    kinds = {(u["stage"], u["s1_level"] is not None, u["table"]) for u in want}
    assert kinds == {(1, False, True), (1, False, False), (2, True, True), (2, False, True), (2, False, False)}
    # without --trace (any number of addresses, the vectorised lines too) the key is not printed
    rc, out, _ = run(["translate", hex(VA), *args, "--json"], capsys)
    assert "af_updates" not in json.loads(out)


def test_translate_text_trace_marks_each_updated_descriptor(tmp_path, capsys):
    args, regs, mem = _tree(tmp_path)
    rc, out, _ = run(["translate", hex(VA), *args], capsys)
    assert rc == 0
    rows = [line for line in out.splitlines() if line.split()[:1] in (["S1"], ["S2"])]
    want = _expected(regs, mem)
    marked = [r for r in rows if "hardware sets AF" in r]
    assert len(marked) == len(want)
    assert sum("hardware sets AF (HAFT)" in r for r in rows) == sum(u["table"] for u in want)
    leaf_rows = [r for r in rows if "hardware sets AF (HA)" in r]
    assert len(leaf_rows) == 2 and all(" page " in r for r in leaf_rows)
    assert all(" table " in r for r in rows if "(HAFT)" in r)
    # the stage 2 pages mapping the stage 1 tables have AF = 1: not marked
    assert any(" page " in r and "hardware sets" not in r for r in rows)


@pytest.mark.parametrize("ha, haft, n_tables, n_leaves", [(True, False, 0, 2), (False, False, 0, 0)])
def test_no_haft_or_no_ha(tmp_path, capsys, ha, haft, n_tables, n_leaves):
    """HA alone: only the leaves (ASL ``AArch64.SetAccessFlag``); neither: nothing is marked."""
    args, regs, mem = _tree(tmp_path, ha=ha, haft=haft)
    rc, out, _ = run(["translate", hex(VA), *args, "--json", "--trace"], capsys)
    ups = json.loads(out)["af_updates"]
    assert sum(u["table"] for u in ups) == n_tables and sum(not u["table"] for u in ups) == n_leaves
    rc, out, _ = run(["translate", hex(VA), *args], capsys)
    assert out.count("hardware sets AF") == n_tables + n_leaves


def test_at_shows_af_updates(tmp_path, capsys):
    """``at`` shows the walk's updates in its trace and in the JSON translation (an AT updating the
    leaves' AF is IMPLEMENTATION DEFINED; pgwalk reports it as QEMU does)."""
    args, regs, mem = _tree(tmp_path)
    rc, out, _ = run(["at", "S12E1R", hex(VA), *args, "--json"], capsys)
    d = json.loads(out)
    assert d["translation"]["af_updates"] == _expected(regs, mem)
    rc, out, _ = run(["at", "S12E1R", hex(VA), *args], capsys)
    assert out.count("hardware sets AF (HAFT)") == sum(u["table"] for u in _expected(regs, mem))
    assert out.count("hardware sets AF (HA)") == 2
